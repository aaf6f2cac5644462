"""Premises of concern: evidence, grading weights, explanation, planted and null fixtures."""
import numpy as np
import pandas as pd

from geo.venues import VENUE_COLUMNS, grading_weight, premises_of_concern


def _premises(n=300, seed=0):
    rng = np.random.default_rng(seed)
    types = np.array(["pub", "takeaway", "hotel", "restaurant"])
    return pd.DataFrame({"premises_id": [f"L{i:04d}" for i in range(n)], "name": [f"Venue {i}" for i in range(n)],
                         "premises_type": types[np.arange(n) % 4],
                         "easting": 400000 + rng.uniform(0, 10000, n), "northing": 280000 + rng.uniform(0, 10000, n)})


def _events(pr, seed, planted=(), n=3000):
    rng = np.random.default_rng(seed)
    # background: found-at points uniform over the area, 1,000 children
    e = 400000 + rng.uniform(0, 10000, n)
    nn = 280000 + rng.uniform(0, 10000, n)
    person = rng.integers(0, 1000, n).astype(str)
    rows = [pd.DataFrame({"person_id": np.char.add("P", person), "easting": e, "northing": nn})]
    for k, pid in enumerate(planted):  # 6 different children found within 20 m of each planted venue
        p = pr.set_index("premises_id").loc[pid]
        rows.append(pd.DataFrame({"person_id": [f"V{k}_{j}" for j in range(6)],
                                  "easting": p.easting + rng.normal(0, 10, 6), "northing": p.northing + rng.normal(0, 10, 6)}))
    ev = pd.concat(rows, ignore_index=True)
    ev["event_key"] = [f"e{i}" for i in range(len(ev))]
    ev["episode_key"] = [f"E{i}" for i in range(len(ev))]
    ev["kind"] = "found_at"
    ev["at"] = pd.Timestamp("2017-06-01", tz="UTC") - pd.to_timedelta(rng.integers(0, 365, len(ev)), unit="D")
    return ev


def test_grading_weights():
    w = grading_weight(["1", "2", "3", None, "1"], ["A", "B", "E", None, "c"])
    assert np.allclose(w, [1.0, 0.48, 0.0, 0.3, 0.5])


def test_planted_venues_ranked_and_explained():
    pr = _premises()
    planted = ["L0007", "L0050", "L0123", "L0201", "L0290"]
    ev = _events(pr, 1, planted)
    intel = pd.DataFrame({"intel_key": ["police/I1"], "source_eval": ["2"], "intel_eval": ["B"], "premises_id": ["L0050"],
                          "subjects": [["person:A1", "premises:L0050"]], "recorded_at": [pd.Timestamp("2017-05-01", tz="UTC")]})
    links = pd.DataFrame({"from_ref": ["child:C9"], "to_ref": ["premises:L0007"], "relation": ["frequents"], "link_key": ["x/1"]})
    geoc = pd.DataFrame({"text": ["the kebab shop"], "match_id": ["premises:L0123"]})
    ev = pd.concat([ev, pd.DataFrame({"event_key": ["r1"], "person_id": ["C9"], "episode_key": ["E9"], "kind": ["rhi_place"],
                                      "at": [pd.Timestamp("2017-05-20", tz="UTC")], "text": ["the kebab shop"],
                                      "easting": [np.nan], "northing": [np.nan]})], ignore_index=True)
    v = premises_of_concern(pr, ev, geocodes=geoc, links=links, intelligence=intel, radius_m=50)
    assert list(v.columns[: len(VENUE_COLUMNS)]) == VENUE_COLUMNS and len(v) == len(pr)
    assert v["rank"].tolist() == list(range(1, len(pr) + 1))
    top20, top5 = set(v.head(20).premises_id), set(v.head(5).premises_id)
    assert len(top20 & set(planted)) / 5 >= 0.9 and len(top5 & set(planted)) / 5 >= 0.8
    row = v.set_index("premises_id").loc["L0050"]
    assert row.intel == 1 and "1 intelligence log graded 2B" in row.explanation
    assert "different children found within 50 m" in row.explanation and row.q_value < 0.05
    assert "linked in 1 reported relationship" in v.set_index("premises_id").loc["L0007", "explanation"]
    assert "named in 1 return interview" in v.set_index("premises_id").loc["L0123", "explanation"]


def test_null_at_most_5_percent_significant():
    pr = _premises(seed=2)
    rates = [premises_of_concern(pr, _events(pr, s))["significant"].mean() for s in range(3)]
    assert max(rates) <= 0.05
