import numpy as np
import pandas as pd

from geo.meetings.scorecards import (cse_scorecard, missing_now, mog_scorecard, repeat_rate,
                            worrying_cases)


def test_repeat_rate_domain_figure():
    # DOMAIN.md: 506 victims, 180 of them victims more than once: 35.57%
    counts = np.r_[np.full(180, 2), np.full(100, 1), np.full(226, 1)]
    assert repeat_rate(counts) == {"subjects": 506, "repeat": 180, "rate_pct": 35.57}
    # offenders: 93 offenders, 11 repeat: 11.83%
    assert repeat_rate(np.r_[np.full(11, 3), np.ones(82)])["rate_pct"] == 11.83


def _t(s):
    return pd.Timestamp(s, tz="UTC")


def _frames():
    children = pd.DataFrame({"person_id": ["A", "B", "C"], "cse_risk": ["serious", "none", "at_risk"],
                             "sex": ["female", "male", "female"], "care_status": ["cic", "none", "cp"],
                             "placement_type": ["residential", "parent", "foster"],
                             "responsible_authority": ["Sandwell", "Birmingham", "Birmingham"],
                             "dob": [pd.Timestamp("2002-01-01")] * 3})
    rows = []
    for i in range(5):  # A: 5 episodes, persistent
        rows.append(("A", f"e/A{i}", _t(f"2017-03-0{i + 1} 10:00"), _t(f"2017-03-0{i + 1} 20:00"), "missing", "care"))
    rows.append(("B", "e/B0", _t("2017-03-10 10:00"), _t("2017-03-11 10:00"), "absent", "home"))
    rows.append(("C", "e/C0", _t("2017-02-01"), _t("2017-02-02"), "missing", "home"))
    rows.append(("C", "e/C1", _t("2017-03-20"), pd.NaT, "missing", "education"))
    ep = pd.DataFrame(rows, columns=["person_id", "episode_key", "reported_at", "returned_at",
                                     "category", "missing_from"])
    ep["police_risk"] = "medium"
    rhi = pd.DataFrame({"episode_key": ["e/A0", "e/A1", "e/B0"], "outcome": ["engaged", "declined", "engaged"],
                        "offered_at": [_t("2017-03-01 21:00")] * 3,
                        "held_at": [_t("2017-03-02 10:00"), pd.NaT, _t("2017-03-20")]})
    return ep, children, rhi


def test_mog_scorecard():
    # the contract's definitions (issue 14): missing measures count missing episodes only; B's
    # absent episode and its interview are reported beside, never inside
    ep, ch, rhi = _frames()
    s = mog_scorecard(ep, ch, rhi, start="2017-03-01", end="2017-04-01")
    assert s["missing_episodes"] == 6 and s["absent_episodes"] == 1 and s["missing_children"] == 2
    assert s["repeat_missing_children"] == 1 and s["persistent_missing_children"] == 1
    assert s["first_time_missing_children"] == 1  # A first went missing in March; C in February
    assert s["returned_missing_episodes"] == 5 and s["missing_now"] == 1
    assert s["rhi_offered_pct"] == 40.0 and s["rhi_held_within_72h_pct"] == 20.0
    assert s["rhi_engaged_pct"] == 50.0 and s["missing_episodes_looked_after"] == 5
    assert s["absent_children"] == 1 and s["stale_open_episodes"] == 0


def test_cse_scorecard_and_missing_now_and_worrying():
    ep, ch, rhi = _frames()
    s = cse_scorecard(ep, ch, incidents=pd.DataFrame({"person_id": ["A", "A", "C"]}))
    assert s["cohort"] == 2 and s["cse_episodes"] == 5
    assert s["repeat_victims"] == {"subjects": 2, "repeat": 1, "rate_pct": 50.0}
    now = _t("2017-03-25")
    m = missing_now(ep, ch, now=now)
    assert list(m["person_id"]) == ["C"] and m["hours_missing"].iloc[0] == 120.0
    assert any("72 h" in a for a in m["actions"].iloc[0])
    w = worrying_cases(ep, ch, rhi, now=now, n=6)
    assert [r["person_id"] for r in w][:2] == ["A", "C"] or w[0]["person_id"] in ("A", "C")
    top = {r["person_id"]: r for r in w}
    assert "persistent: 5 missing episodes in all" in top["A"]["reasons"]
    assert any(r.startswith("missing now") for r in top["C"]["reasons"])
    assert "missing from more than one setting" in top["C"]["reasons"]


def test_every_percentage_declares_its_base():
    """Small-base suppression at the edge needs the base of every percentage (PCT_BASE)."""
    from geo.meetings.scorecards import PCT_BASE
    ep, ch, rhi = _frames()
    inc = pd.DataFrame({"person_id": ["A", "A", "C"]})

    def pct_keys(d, parents=()):
        for k, v in d.items():
            if k.endswith("_pct"):
                yield k, parents + (d,)
            elif isinstance(v, dict):
                yield from pct_keys(v, parents + (d,))
    for s in (mog_scorecard(ep, ch, rhi, start="2017-03-01", end="2017-04-01"),
              cse_scorecard(ep, ch, incidents=inc)):
        keys = list(pct_keys(s))
        assert keys
        for k, scopes in keys:
            assert k in PCT_BASE, k
            assert any(PCT_BASE[k] in d for d in scopes), (k, PCT_BASE[k])
