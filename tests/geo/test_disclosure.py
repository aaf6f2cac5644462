"""The disclosure-control rules (geo.disclosure) shared by the API and the meeting packs."""
import hashlib
import hmac
import math

import numpy as np
import pandas as pd
import pytest

from geo import disclosure as dc
from geo.meetings.scorecards import PCT_BASE


def test_pseudonym_is_keyed_hmac_stable_and_kind_prefixed():
    expect = hmac.new(b"s3cret", b"P000001", hashlib.sha256).hexdigest()[:10].upper()
    assert dc.pseudonym("s3cret", "P000001") == "C-" + expect
    assert dc.pseudonym("s3cret", "P000001", "child") == "C-" + expect
    for kind in ("adult", "person", "node"):
        assert dc.pseudonym("s3cret", "P000001", kind) == "A-" + expect
    assert dc.pseudonym("s3cret", "P000001") != dc.pseudonym("other", "P000001")
    assert dc.pseudonym("s3cret", "P000001") != dc.pseudonym("s3cret", "P000002")
    assert dc.pseudonym("s3cret", None) is None and dc.pseudonym("s3cret", math.nan) is None
    # a fixed known answer: changing the scheme would rename every child in every saved pack
    assert dc.pseudonym("k", "P000001") == "C-818E3BABE5"


def test_pseudonyms_vectorised_match_scalar():
    ids = ["P1", "P2", "P1", None, "P3"]
    assert dc.pseudonyms("k", ids, "adult") == [dc.pseudonym("k", i, "adult") for i in ids]


def test_small_count_rule():
    assert [dc.small_count(n) for n in (0, 1, 4, 5, 12)] == [0, "<5", "<5", 5, 12]
    assert dc.small_count(None) is None and dc.small_count(math.nan) is None
    assert dc.small_count(np.int64(3)) == "<5" and dc.small_count(7.0) == 7
    assert dc.small_count(9, small=10) == "<10"
    assert dc.small_counts([2, 50]) == ["<5", 50]
    assert dc.is_small(1) and dc.is_small(4) and not dc.is_small(0) and not dc.is_small(5)
    assert not dc.is_small(None) and not dc.is_small(True) and not dc.is_small("3")


def test_snap_to_grid_cell_centres():
    e, n = dc.snap_to_grid([407123.0, 407000.0, 407249.9], [286999.0, 287000.0, 286750.0])
    assert list(e) == [407125.0, 407125.0, 407125.0]
    assert list(n) == [286875.0, 287125.0, 286875.0]
    e, n = dc.snap_to_grid(407123.0, 286999.0, grid_m=1000)
    assert (float(e), float(n)) == (407500.0, 286500.0)


def test_date_coarsening():
    s = pd.Series([pd.Timestamp("2017-03-04 22:15", tz="UTC"), pd.NaT, "2017-12-31T23:59:00+00:00"])
    m, d = dc.month_of(s), dc.day_of(s)
    assert (m[0], m[2]) == ("2017-03", "2017-12") and pd.isna(m[1])
    assert (d[0], d[2]) == ("2017-03-04", "2017-12-31") and pd.isna(d[1])
    assert dc.coarsen_dates(s, "month").equals(m) and dc.coarsen_dates(s, "day").equals(d)
    assert list(dc.month_of([pd.Timestamp("2017-05-06", tz="UTC")])) == ["2017-05"]  # any sequence
    with pytest.raises(ValueError):
        dc.coarsen_dates(s, "hour")


def test_suppress_pct_base_and_implied_count():
    assert dc.suppress_pct(95.0, 40) == 95.0                   # base 40, implies 38
    assert dc.suppress_pct(5.0, 40) == dc.SUPPRESSED_PCT        # implies 2 of 40
    assert dc.suppress_pct(33.33, 3) == dc.SUPPRESSED_PCT       # base of 3
    assert dc.suppress_pct(0.0, 3) == dc.SUPPRESSED_PCT         # a small base, whatever the share
    assert dc.suppress_pct(0.0, 40) == 0.0
    assert dc.suppress_pct(50.0, None) == dc.SUPPRESSED_PCT     # no known base
    assert dc.suppress_pct(None, 3) is None
    assert dc.suppress_pct(50.0, np.int64(40)) == 50.0          # NumPy bases are bases
    assert dc.SUPPRESSED_PCT == "n/a (<5)" and dc.suppressed_label(10) == "n/a (<10)"


def test_format_pct_for_tables():
    assert dc.format_pct(10, 40) == "25%" and dc.format_pct(38, 40) == "95%"
    assert dc.format_pct(0, 40) == "0%"
    assert dc.format_pct(1, 0) == "n/a" and dc.format_pct(1, None) == "n/a"
    assert dc.format_pct(2, 3) == dc.SUPPRESSED_PCT
    assert dc.format_pct(2, 40) == dc.SUPPRESSED_PCT            # gives back a count of 2
    assert dc.format_pct(2, 3, minimise=False) == "67%"


def test_suppress_scorecard_follows_declared_bases():
    s = {"period": {"from": None, "to": None}, "episodes": 9, "children": 3,
         "repeat_children": 1, "repeat_rate_pct": 33.33, "returned_missing_episodes": 40,
         "rhi_offered": 38, "rhi_offered_pct": 95.0,
         "rhi_held_within_72h": 2, "rhi_held_within_72h_pct": 5.0,
         "by_category": {"missing": 7, "absent": 2}, "odd_rate": 0.5, "host": "Birmingham"}
    out = dc.suppress_scorecard(s)
    assert out["period"] == s["period"]
    assert out["episodes"] == 9 and out["children"] == "<5" and out["repeat_children"] == "<5"
    assert out["repeat_rate_pct"] == dc.SUPPRESSED_PCT
    assert out["rhi_offered_pct"] == 95.0
    assert out["rhi_held_within_72h_pct"] == dc.SUPPRESSED_PCT
    assert out["by_category"] == {"missing": 7, "absent": "<5"}
    assert out["odd_rate"] == dc.SUPPRESSED_PCT                   # no declared base: withheld
    assert out["host"] == "Birmingham"
    # nested percentages find their base in the enclosing dict; dicts of shares share one base
    cse = {"cohort": 4, "by_risk_pct": {"serious": 75.0, "at_risk": 25.0},
           "repeat_victims": {"subjects": 20, "repeat": 10, "rate_pct": 50.0}}
    out = dc.suppress_scorecard(cse)
    assert out["by_risk_pct"] == {"serious": dc.SUPPRESSED_PCT, "at_risk": dc.SUPPRESSED_PCT}
    assert out["repeat_victims"] == {"subjects": 20, "repeat": 10, "rate_pct": 50.0}
    # every declared base is a count key the scorecards produce
    # (issue 14: the MOG's bases are missing episodes and children, and the extras' counts)
    assert set(PCT_BASE.values()) <= {
        "children", "missing_children", "returned_missing_episodes", "rhi_offered_episodes", "cohort",
        "subjects", "first_time_rhi_offered", "first_time_children", "looked_after_children_known_placement",
        "cme_children_in_period", "interviews_held"}


def test_suppress_scorecard_on_real_scorecard_small_and_large():
    from geo.meetings import scorecards as sc

    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    n = 12
    ep = pd.DataFrame({"episode_key": [f"s/E{i}" for i in range(n)],
                       "person_id": [f"P{i % 6}" for i in range(n)],
                       "reported_at": [t("2017-01-02") + pd.Timedelta(days=i) for i in range(n)],
                       "returned_at": [t("2017-01-03") + pd.Timedelta(days=i) for i in range(n)],
                       "category": ["missing"] * n})
    ch = pd.DataFrame({"person_id": [f"P{i}" for i in range(6)], "placement_type": ["parent"] * 6})
    rhi = pd.DataFrame({"episode_key": [f"s/E{i}" for i in range(n)], "offered_at": ep["returned_at"],
                        "held_at": ep["returned_at"] + pd.Timedelta(hours=24), "outcome": ["engaged"] * n})
    d = sc.mog_scorecard(ep, ch, rhi)
    out = dc.suppress_scorecard(d)
    assert d["missing_children"] == 6 and out["missing_children"] == 6
    assert out["repeat_missing_pct"] == d["repeat_missing_pct"] == 100.0   # 6 of 6: base and count >= 5
    small = sc.mog_scorecard(ep, ch, rhi, t("2017-01-02"), t("2017-01-05"))
    out = dc.suppress_scorecard(small)
    assert 0 < small["missing_children"] < 5 and out["missing_children"] == "<5"
    assert out["repeat_missing_pct"] == dc.SUPPRESSED_PCT
    assert out["rhi_held_within_72h_pct"] == dc.SUPPRESSED_PCT


def test_drop_personal():
    rec = {"given_name": "Testgiven", "dob": "2003-01-01", "placement_postcode": "ZZ1 1AA",
           "ward": "E05001", "episodes": 7}
    assert dc.drop_personal(rec) == {"ward": "E05001", "episodes": 7}
