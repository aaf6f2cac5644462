"""Synthetic frames (docs/FRAMES.md columns) on the real Birmingham wards, for maps tests.

Synthetic people only: ids like ``synth/C0001``, invented names. Seeded, deterministic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd

from maps.layers import load_boundaries

GIVEN = ["Amira", "Bella", "Casey", "Dana", "Ellie", "Farah", "Gemma", "Hana", "Isla", "Jade", "Kira", "Lola"]
FAMILY = ["Ashdown", "Brook", "Carver", "Dale", "Elmore", "Fenwick", "Garrow", "Hollins"]
PTYPES = ["pub", "hotel", "takeaway", "taxi_rank", "shopping_centre", "park", "bnb", "nightclub"]


def wards_bng() -> gpd.GeoDataFrame:
    return load_boundaries("ward").to_crs(27700)


def random_points(n: int, rng: np.random.Generator, wards: gpd.GeoDataFrame, hot: int = 3):
    """n points in Birmingham: half around ``hot`` centres, half spread over ward centroids."""
    cent = wards.geometry.centroid
    ce, cn = cent.x.to_numpy(), cent.y.to_numpy()
    w = rng.integers(0, len(wards), n)
    e = ce[w] + rng.normal(0, 500, n)
    nn = cn[w] + rng.normal(0, 500, n)
    hot_idx = rng.choice(len(wards), hot, replace=False)
    k = n // 2
    h = rng.integers(0, hot, k)
    e[:k] = ce[hot_idx][h] + rng.normal(0, 150, k)
    nn[:k] = cn[hot_idx][h] + rng.normal(0, 150, k)
    wi = w.copy()
    wi[:k] = hot_idx[h]
    return e, nn, wards["area_code"].to_numpy()[wi]


def make_frames(n_children: int = 40, n_episodes: int = 200, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    wards = wards_bng()
    ids = [f"synth/C{i:04d}" for i in range(n_children)]
    pids = [f"P{i:06d}" for i in range(n_children)]
    children = pd.DataFrame({
        "child_key": ids, "source": "synth", "child_id": [i.split("/")[1] for i in ids],
        "given_name": rng.choice(GIVEN, n_children), "family_name": rng.choice(FAMILY, n_children),
        "dob": pd.to_datetime("2002-01-01") + pd.to_timedelta(rng.integers(0, 1800, n_children), unit="D"),
        "sex": rng.choice(["female", "male"], n_children, p=[0.8, 0.2]),
        "care_status": rng.choice(["cic", "cp", "cin", "none"], n_children),
        "placement_type": rng.choice(["residential", "foster", "parent"], n_children),
        "placement_postcode": "B7 4PS", "placement_e": 408500.0, "placement_n": 288000.0,
        "placement_ward": "E05001179",
        "responsible_authority": rng.choice(["Birmingham", "Sandwell", "Walsall"], n_children, p=[.7, .2, .1]),
        "cse_risk": rng.choice(["none", "at_risk", "significant", "serious"], n_children),
        "school": "", "from_episode": False, "person_id": pids,
    })
    ci = rng.integers(0, n_children, n_episodes)
    ci[: n_children] = np.arange(n_children)
    reported = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 24, n_episodes), unit="h")
    returned = reported + pd.to_timedelta(rng.integers(2, 120, n_episodes), unit="h")
    returned = returned.where(rng.random(n_episodes) > 0.03, pd.NaT)
    fe, fn, fw = random_points(n_episodes, rng, wards)
    le, ln, lw = random_points(n_episodes, rng, wards)
    ep_keys = [f"synth/E{i:05d}" for i in range(n_episodes)]
    episodes = pd.DataFrame({
        "episode_key": ep_keys, "source": "synth", "episode_id": [k.split("/")[1] for k in ep_keys],
        "child_key": np.array(ids)[ci], "person_id": np.array(pids)[ci],
        "reported_at": reported, "returned_at": returned,
        "category": rng.choice(["missing", "absent", "away_without_authorisation"], n_episodes, p=[.7, .2, .1]),
        "police_risk": rng.choice(["high", "medium", "low"], n_episodes),
        "missing_from": rng.choice(["home", "care", "education"], n_episodes),
        "reported_by": "carer", "rag": rng.choice(["red", "amber", "green"], n_episodes),
        "last_seen_text": "Bull Street", "last_seen_e": le, "last_seen_n": ln, "last_seen_precision": "street",
        "last_seen_ward": lw, "last_seen_lsoa": None,
        "found_text": rng.choice(["Cannon Hill Park", "B7 4PS", "a friend's house in Aston", "New Street"], n_episodes),
        "found_e": fe, "found_n": fn, "found_precision": "postcode", "found_confidence": 0.9,
        "found_ward": fw, "found_lsoa": None,
        "found_with": [[] for _ in range(n_episodes)],
    })
    events = pd.concat([
        pd.DataFrame({"event_key": [k + "/found" for k in ep_keys], "person_id": episodes["person_id"],
                      "episode_key": ep_keys, "kind": "found_at", "at": episodes["returned_at"].fillna(episodes["reported_at"]),
                      "text": episodes["found_text"], "easting": fe, "northing": fn, "precision": "postcode",
                      "confidence": 0.9, "ward_code": fw, "lsoa_code": None}),
        pd.DataFrame({"event_key": [k + "/last" for k in ep_keys], "person_id": episodes["person_id"],
                      "episode_key": ep_keys, "kind": "last_seen", "at": episodes["reported_at"],
                      "text": "Bull Street", "easting": le, "northing": ln, "precision": "street",
                      "confidence": 0.7, "ward_code": lw, "lsoa_code": None}),
    ], ignore_index=True)
    held = returned + pd.to_timedelta(rng.integers(1, 160, n_episodes), unit="h")
    rhi = pd.DataFrame({
        "rhi_key": [f"rhi_provider/R{i:05d}" for i in range(n_episodes)], "source": "rhi_provider",
        "rhi_id": [f"R{i:05d}" for i in range(n_episodes)], "episode_key": ep_keys,
        "person_id": episodes["person_id"], "notified_at": reported + pd.Timedelta(hours=1),
        "offered_at": returned + pd.Timedelta(hours=2),
        "held_at": held.where(rng.random(n_episodes) > 0.4, pd.NaT),
        "outcome": rng.choice(["engaged", "declined", "no_engagement"], n_episodes, p=[.3, .3, .4]),
        "triage": rng.choice(["red", "amber", "green"], n_episodes), "priority": "none",
        "push_factors": [["family conflict"]] * n_episodes, "pull_factors": [["older friends"]] * n_episodes,
        "issues": [["cse"] if x else ["mental_health"] for x in rng.random(n_episodes) < 0.3],
        "places": [["Cannon Hill Park"]] * n_episodes, "associates": [["person:A1"]] * n_episodes,
        "seraf_score": rng.integers(0, 30, n_episodes),
    })
    persons = pd.DataFrame({
        "person_key": [f"police/A{i}" for i in range(6)], "source": "police",
        "person_id_src": [f"A{i}" for i in range(6)], "given_name": rng.choice(GIVEN, 6),
        "family_name": rng.choice(FAMILY, 6), "dob": pd.NaT, "sex": "male",
        "role": ["adult_of_concern"] * 4 + ["peer", "family"], "address": "Aston",
        "address_e": 407800.0, "address_n": 289500.0, "address_ward": "E05001179", "police_id": None,
        "person_id": [f"P9{i:05d}" for i in range(6)],
    })
    pe, pn, pw = random_points(12, rng, wards)
    premises = pd.DataFrame({
        "premises_key": [f"licensing/L{i:03d}" for i in range(12)], "source": "licensing",
        "premises_id": [f"L{i:03d}" for i in range(12)],
        "name": [f"Synthetic Venue {i}" for i in range(12)], "premises_type": rng.choice(PTYPES, 12),
        "address": "", "postcode": "", "easting": pe, "northing": pn, "ward_code": pw,
        "licence_type": "premises_licence", "status": "active"})
    poc = premises.head(8).copy()
    poc["rank"] = range(1, 9)
    poc["score"] = np.linspace(9, 2, 8)
    poc["children"] = rng.integers(1, 12, 8)
    poc["episodes"] = poc["children"] * 2
    poc["mentions"] = rng.integers(0, 5, 8)
    poc["intel"] = rng.integers(0, 4, 8)
    poc["p_value"] = np.linspace(0.001, 0.2, 8)
    poc["q_value"] = np.linspace(0.01, 0.4, 8)
    poc["explanation"] = [f"{c} children found within 150 m on {e} occasions" for c, e in zip(poc["children"], poc["episodes"])]
    poc = poc[["rank", "premises_id", "name", "premises_type", "score", "children", "episodes", "mentions",
               "intel", "p_value", "q_value", "explanation", "easting", "northing"]]
    hs = wards.copy()
    counts = episodes.groupby("found_ward").size()
    kids = episodes.groupby("found_ward")["person_id"].nunique()
    hs["episodes"] = hs["area_code"].map(counts).fillna(0).astype(int)
    hs["children"] = hs["area_code"].map(kids).fillna(0).astype(int)
    z = (hs["episodes"] - hs["episodes"].mean()) / (hs["episodes"].std() or 1)
    hs["gi_z"] = z
    hs["gi_p"] = 0.05
    hs["gi_q"] = 0.05
    hs["gi_bin"] = np.sign(z) * np.clip(np.floor(np.abs(z)), 0, 3)
    hs["lisa_i"], hs["lisa_p"], hs["lisa_q"] = z, 0.05, 0.1
    hs["lisa_type"] = np.where(z > 1, "HH", "ns")
    groups = [{"group_id": "G1", "members": pids[:3], "co_episodes": 4, "first": "2017-02-01", "last": "2017-06-01",
               "shared_places": ["Cannon Hill Park", "New Street"]},
              {"group_id": "G2", "members": pids[3:5], "co_episodes": 2, "first": "2017-03-01", "last": "2017-04-01",
               "shared_places": []}]
    links = pd.DataFrame({"link_key": ["l1", "l2", "l3"], "source": "police",
                          "from_ref": ["person:A0", "person:A0", "child:C0001"],
                          "to_ref": ["child:C0000", "child:C0001", "premises:L000"],
                          "relation": ["associate", "transported_by", "frequents"],
                          "observed_at": pd.Timestamp("2017-03-01", tz="UTC"), "source_ref": "intel:I1",
                          "grading": "2B P"})
    intel = pd.DataFrame({"intel_key": ["police/I1"], "source": "police", "intel_id": ["I1"],
                          "recorded_at": [pd.Timestamp("2017-03-01", tz="UTC")], "source_eval": [2], "intel_eval": ["B"],
                          "handling": ["P"], "grading": ["2B P"], "subjects": [["person:A0", "child:C0000"]],
                          "location_text": ["Synthetic Venue 0"], "easting": [pe[0]], "northing": [pn[0]],
                          "precision": ["premises"], "premises_id": ["L000"], "vehicle": [None],
                          "tags": [["cse"]], "text": ["seen with girls at the venue"]})
    return {"children": children, "episodes": episodes, "place_events": events, "return_interviews": rhi,
            "persons": persons, "premises": premises, "premises_of_concern": poc, "area_hotspots_ward": hs,
            "co_missing_groups": groups, "links": links, "intelligence": intel, "wards": wards}
