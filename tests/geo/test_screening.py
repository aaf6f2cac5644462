"""Licensing screening (geo.meetings.screening) on hand-built frames with known answers."""
import pandas as pd

from geo.meetings import screening

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
POINT = {"text": "B1 1AA", "easting": 1000.0, "northing": 1000.0, "precision": "postcode"}
PREMISES = pd.DataFrame({"premises_id": ["BCC/PL/1", "BCC/PL/2", "FAR"], "name": ["The Anchor", "Quiet Cafe", "Far Inn"],
                         "premises_type": ["pub", "cafe", "pub"], "licence_type": "premises_licence",
                         "status": ["active", "active", "active"], "postcode": "B1 1AA",
                         "easting": [1010.0, 1200.0, 5000.0], "northing": [1000.0, 1000.0, 5000.0]})
EVENTS = pd.DataFrame({
    "episode_key": ["s/E1", "s/E2", "s/E3", "s/E4", "s/E5", "s/E6"],
    "person_id": ["A", "B", "C", "A", "D", "E"],
    "kind": ["found_at", "found_at", "last_seen", "rhi_place", "found_at", "found_at"],
    "at": [T("2017-01-05"), T("2017-02-05"), T("2017-02-20"), T("2017-03-01"), T("2016-01-01"), T("2017-01-01")],
    "easting": [1012.0, 1005.0, 1100.0, 1500.0, 1010.0, 1020.0],
    "northing": [1000.0, 1003.0, 1000.0, 1500.0, 1000.0, 1000.0],
    "precision": ["address", "premises", "postcode", "area", "address", "area"],
    "match_id": [None, "premises:BCC/PL/1", None, None, None, None]})
INTEL = pd.DataFrame({"intel_key": ["i/1", "i/2"], "recorded_at": [T("2017-01-10"), T("2017-01-11")],
                      "easting": [None, 9000.0], "northing": [None, 9000.0], "precision": ["none", "postcode"],
                      "premises_id": ["BCC/PL/1", None], "grading": ["2B P", "1A P"]})
CRIMES = pd.DataFrame({"crime_key": ["c/1", "c/2", "c/3"], "recorded_at": [T("2017-01-15")] * 3,
                       "kind": ["crime", "non_crime", "crime"], "cse_marker": ["yes", "yes", "no"],
                       "easting": [1011.0, 1300.0, 1010.0], "northing": [1000.0] * 3,
                       "precision": ["address", "postcode", "address"]})


def test_counts_radius_period_and_premises_links():
    r = screening.screen(POINT, PREMISES, EVENTS, INTEL, CRIMES, 250, T("2016-12-01"), T("2017-04-01"))
    # E1, E2 (fine, within 250 m), E3 (postcode, 100 m); not E4 (area), E5 (before the period),
    # E6 (area precision)
    assert (r["episodes"], r["children"]) == (3, 3)
    assert r["intelligence"] == 1 and r["gradings"] == {"2B P": 1}   # names The Anchor; i/2 is far
    assert (r["cse_crimes"], r["cse_non_crimes"]) == (1, 0)           # c/2 is 300 m away, c/3 unmarked
    assert [p["premises_id"] for p in r["premises"]] == ["BCC/PL/1", "BCC/PL/2"]
    anchor = r["premises"][0]
    assert (anchor["episodes"], anchor["children"], anchor["intelligence"], anchor["cse_incidents"]) == (2, 2, 1, 1)
    assert r["premises"][1]["episodes"] == 0
    assert [m["month"] for m in anchor["by_month"]] == ["2017-01", "2017-02"]
    m = screening.minimise(r)
    assert (m["episodes"], m["children"], m["intelligence"]) == ("<5", "<5", "<5")
    assert m["first"] == "2017-01" and m["premises"][0]["last"] == "2017-02"
    assert m["premises"][0]["by_month"][0]["children"] == "<5"
    text = screening.explain(m)
    assert "The Anchor" in text and "<5" in text and "not a finding" in text


def test_quiet_place_says_so():
    far = {**POINT, "easting": 20000.0, "northing": 20000.0}
    r = screening.minimise(screening.screen(far, PREMISES, EVENTS, INTEL, CRIMES, 250))
    assert (r["episodes"], r["children"], r["intelligence"], r["premises"]) == (0, 0, 0, [])
    assert screening.explain(r).startswith("Nothing recorded within 250 m of B1 1AA")


def test_linked_episodes_by_month():
    ev = screening.linked_events(PREMISES.iloc[0], EVENTS)
    assert sorted(ev["episode_key"]) == ["s/E1", "s/E2", "s/E5"]
    assert screening.episodes_by_month(ev) == [
        {"month": "2016-01", "episodes": 1, "children": 1}, {"month": "2017-01", "episodes": 1, "children": 1},
        {"month": "2017-02", "episodes": 1, "children": 1}]


def test_named_evidence_is_not_given_to_a_colocated_business():
    """A real business at the planted venue's address gets none of the rows that name the venue."""
    prem = pd.concat([PREMISES, PREMISES.iloc[[0]].assign(premises_id="REAL/1", name="Corner Cafe")],
                     ignore_index=True)
    intel = INTEL.assign(match_id=None)
    crimes = CRIMES.assign(match_id=["premises:BCC/PL/1", None, None])
    r = screening.screen(POINT, prem, EVENTS, intel, crimes, 250, T("2016-12-01"), T("2017-04-01"))
    real = next(p for p in r["premises"] if p["premises_id"] == "REAL/1")
    venue = next(p for p in r["premises"] if p["premises_id"] == "BCC/PL/1")
    assert (venue["episodes"], venue["intelligence"], venue["cse_incidents"]) == (2, 1, 1)
    # only E1 (an unmatched address 2 m away) is the cafe's too; E2, the item and the crime name the venue
    assert (real["episodes"], real["intelligence"], real["cse_incidents"]) == (1, 0, 0)
    assert list(screening.linked_events(prem.iloc[3], EVENTS)["episode_key"]) == ["s/E1", "s/E5"]
