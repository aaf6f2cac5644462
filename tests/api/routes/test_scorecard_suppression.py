"""Small-base suppression in scorecards: for non-analysts, counts 1-4 are "<5" and percentages
over a base of 1-4 (or implying a count of 1-4) are withheld; analysts see every figure."""
import pytest

from api.minimise import Minimiser
from api.routes.scorecards import SUPPRESSED_PCT, suppress_dict

CASE_ROLES = ["mog_member", "cog_member", "mase_member"]


def test_suppress_dict_bases_and_implied_counts():
    m = Minimiser("k" * 32)
    s = {"period": {"from": None, "to": None}, "episodes": 9, "children": 3,
         "repeat_children": 1, "repeat_rate_pct": 33.33, "returned_episodes": 40,
         "rhi_offered": 38, "rhi_offered_pct": 95.0,
         "rhi_held_within_72h": 2, "rhi_held_within_72h_pct": 5.0}
    out = suppress_dict(s, m)
    assert out["children"] == "<5" and out["repeat_children"] == "<5"
    assert out["repeat_rate_pct"] == SUPPRESSED_PCT          # base of 3 children
    assert out["rhi_offered_pct"] == 95.0                    # base 40, 38 offered
    assert out["rhi_held_within_72h_pct"] == SUPPRESSED_PCT  # 5% of 40 = 2: a small count
    cse = {"cohort": 4, "by_risk": {"serious": 3, "at_risk": 1},
           "by_risk_pct": {"serious": 75.0, "at_risk": 25.0}, "female_pct": 100.0,
           "repeat_missing": {"subjects": 20, "repeat": 10, "rate_pct": 50.0},
           "repeat_victims": {"subjects": 2, "repeat": 1, "rate_pct": 50.0}}
    out = suppress_dict(cse, m)
    assert out["cohort"] == "<5" and out["by_risk"] == {"serious": "<5", "at_risk": "<5"}
    assert out["by_risk_pct"] == {"serious": SUPPRESSED_PCT, "at_risk": SUPPRESSED_PCT}
    assert out["female_pct"] == SUPPRESSED_PCT
    assert out["repeat_missing"] == {"subjects": 20, "repeat": 10, "rate_pct": 50.0}
    assert out["repeat_victims"] == {"subjects": "<5", "repeat": "<5", "rate_pct": SUPPRESSED_PCT}
    # zero bases stay as they are (no one to identify; the percentage is already None)
    assert suppress_dict({"children": 0, "repeat_rate_pct": None}, m) == \
        {"children": 0, "repeat_rate_pct": None}


def _small_window(as_role):
    """A one-day period with 1-4 children (found from the analyst's view)."""
    for day in range(1, 28):
        for month in ("01", "02", "03", "04", "05"):
            q = f"from=2017-{month}-{day:02d}&to=2017-{month}-{day + 1:02d}"
            s = as_role("analyst", "GET", f"/scorecards/mog?{q}").json()
            if 0 < s["children"] < 5 and s["repeat_rate_pct"] is not None:
                return q, s
    pytest.fail("no one-day window with 1-4 children in the test store")


@pytest.mark.parametrize("role", CASE_ROLES)
def test_mog_small_base_suppressed_for_non_analysts(as_role, role):
    q, full = _small_window(as_role)
    assert isinstance(full["repeat_rate_pct"], float)       # the analyst sees it
    r = as_role(role, "GET", f"/scorecards/mog?{q}")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["children"] == "<5"
    assert s["repeat_rate_pct"] == SUPPRESSED_PCT
    for k in ("rhi_offered_pct", "rhi_held_within_72h_pct"):
        base = full["returned_episodes"]
        if full[k] is not None and 0 < base < 5:
            assert s[k] == SUPPRESSED_PCT


@pytest.mark.parametrize("role", CASE_ROLES)
def test_cse_percentages_follow_the_rule(as_role, role):
    full = as_role("analyst", "GET", "/scorecards/cse").json()
    s = as_role(role, "GET", "/scorecards/cse").json()
    for k, v in full["by_risk_pct"].items():
        n = full["by_risk"][k]
        assert s["by_risk_pct"][k] == (SUPPRESSED_PCT if 0 < n < 5 or 0 < full["cohort"] < 5 else v)
    rm = full["repeat_missing"]
    small = 0 < rm["subjects"] < 5 or 0 < rm["repeat"] < 5
    assert s["repeat_missing"]["rate_pct"] == (SUPPRESSED_PCT if small else rm["rate_pct"])
