"""Small-base suppression in scorecards: for non-analysts, counts 1-4 are "<5" and percentages
over a base of 1-4 (or implying a count of 1-4) are withheld; analysts see every figure."""
import re

import pytest

from api.minimise import Minimiser
from api.service.routes.scorecards import SUPPRESSED_PCT, suppress_dict

CASE_ROLES = ["mog_member", "cog_member", "mase_member"]


def test_suppress_dict_bases_and_implied_counts():
    m = Minimiser("k" * 32)
    s = {"period": {"from": None, "to": None}, "episodes": 9, "children": 3,
         "repeat_children": 1, "repeat_rate_pct": 33.33, "returned_missing_episodes": 40,
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
            if 0 < s["missing_children"] < 5 and s["repeat_missing_pct"] is not None:
                return q, s
    pytest.fail("no one-day window with 1-4 children in the test store")


@pytest.mark.parametrize("role", CASE_ROLES)
def test_mog_small_base_suppressed_for_non_analysts(as_role, role):
    q, full = _small_window(as_role)
    assert isinstance(full["repeat_missing_pct"], float)       # the analyst sees it
    r = as_role(role, "GET", f"/scorecards/mog?{q}")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["missing_children"] == "<5"
    assert s["repeat_missing_pct"] == SUPPRESSED_PCT
    for k in ("rhi_offered_pct", "rhi_held_within_72h_pct"):
        base = full["returned_missing_episodes"]
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


def _scorecard_section(html: str) -> str:
    import html as _html
    i = html.index("<section id='scorecard'>")
    return _html.unescape(html[i:html.index("</section>", i)])


def _pack_day(q: str) -> str:
    """The API window ``from=D&to=D+1`` (end exclusive) as the pack's period (whole days, inclusive)."""
    day = q.split("&")[0].split("=")[1]
    return f"from={day}&to={day}&purpose=scorecard+suppression+test"


@pytest.mark.parametrize("role", ["mog_member"])
def test_mog_pack_small_base_suppressed_for_non_analysts(as_role, role):
    """The MOG pack applies the API's scorecard rule (geo.disclosure): a repeat rate over 1-4
    children reads "n/a (<5)" for a meeting member and the same figure the API serves for an
    analyst."""
    q, full = _small_window(as_role)
    r = as_role(role, "GET", f"/packs/mog?{_pack_day(q)}")
    assert r.status_code == 200, r.text
    sec = _scorecard_section(r.text)
    assert f"repeat rate {SUPPRESSED_PCT}" in sec
    for k, label in (("rhi_offered_pct", "RHIs offered"), ("rhi_held_within_72h_pct", "RHIs held within 72")):
        if full[k] is not None and 0 < full["returned_missing_episodes"] < 5:
            row = sec[sec.index(label):]
            assert row[:row.index("</tr>")].count(SUPPRESSED_PCT) == 1, k
    if full["returned_missing_episodes"] < 5:  # then every base in the table is small
        assert not re.search(r"\d+%", sec), "a percentage over a small base reached a member"
    a = as_role("analyst", "GET", f"/packs/mog?{_pack_day(q)}")
    assert a.status_code == 200, a.text
    asec = _scorecard_section(a.text)
    assert f"repeat rate {full['repeat_missing_pct']:.0f}%" in asec and SUPPRESSED_PCT not in asec


def test_pack_view_scorecard_is_the_api_rule():
    from maps import packs

    s = {"period": {"from": None, "to": None}, "children": 3, "repeat_children": 1,
         "repeat_rate_pct": 33.33, "returned_episodes": 40, "rhi_offered_pct": 95.0,
         "rhi_held_within_72h": 2, "rhi_held_within_72h_pct": 5.0}
    m = Minimiser("k" * 32)
    assert packs.View("mog_member").scorecard(s) == suppress_dict(s, m)
    assert packs.View("analyst").scorecard(s) == s
    assert packs.View("mog_member").pct(2, 3) == SUPPRESSED_PCT == packs.View("mog_member").pct(2, 40)
    assert packs.View("analyst").pct(2, 3) == "67%"
