"""A small synthetic store for the API tests (synthetic people only), on SQLite or PostGIS.

Rows go straight into the store's tables (the schema's contract); analysis results are simple
summaries computed here from those rows and saved with ``Store.write_result``, so the API tests
do not depend on the analysis modules.
"""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.storage import schema
from geo.storage.store import open_store

ROOT = Path(__file__).resolve().parents[2]
WARDS = ROOT / "data" / "reference" / "boundaries" / "birmingham_wards_2013.geojson"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROLES = ("analyst", "mog_member", "cog_member", "mase_member", "licensing_officer", "admin")


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def fresh_pg_database(name: str) -> str:
    import psycopg
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    import psycopg
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _h(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["row_hash"] = [secrets.token_hex(8) for _ in range(len(df))]
    return df


def populate(store, seed: int = 7, n_children: int = 30, n_episodes: int = 140,
             n_places: int = 50, n_found_places: int = 12, spread_m: float = 200.0) -> dict:
    rng = np.random.default_rng(seed)
    wards = gpd.read_file(WARDS).to_crs(27700)
    wards = wards.rename(columns={"WD13CD": "area_code", "WD13NM": "area_name"})
    areas = pd.DataFrame({"level": "ward", "area_code": wards["area_code"],
                          "area_name": wards["area_name"],
                          "geometry_wkb": shapely.to_wkb(shapely.force_2d(wards.geometry.to_numpy())),
                          "centroid_e": wards.centroid.x, "centroid_n": wards.centroid.y})
    # places: points inside wards (representative points jittered within 200 m)
    rep = wards.representative_point()
    w = rng.integers(0, len(wards), n_places)
    pe = rep.x.to_numpy()[w] + rng.uniform(-spread_m, spread_m, n_places)
    pn = rep.y.to_numpy()[w] + rng.uniform(-spread_m, spread_m, n_places)
    texts = [f"Test place {i:02d}" for i in range(n_places)]  # ids, not addresses
    geocodes = pd.DataFrame({"text": texts, "easting": pe, "northing": pn, "precision": "postcode",
                             "confidence": 0.9, "method": "test", "ward_code": wards["area_code"].to_numpy()[w],
                             "lsoa_code": None})
    # placements: restricted postcodes geocoded as well
    place_pc = [f"ZZ{i} 1AA" for i in range(6)]
    ppos = rng.integers(0, len(wards), 6)
    geocodes = pd.concat([geocodes, pd.DataFrame({
        "text": place_pc, "easting": rep.x.to_numpy()[ppos] + 37.0, "northing": rep.y.to_numpy()[ppos] + 41.0,
        "precision": "postcode", "confidence": 1.0, "method": "test",
        "ward_code": wards["area_code"].to_numpy()[ppos], "lsoa_code": None})], ignore_index=True)
    child_ids = [f"C{i:04d}" for i in range(n_children)]
    children = pd.DataFrame({
        "source": "police", "child_id": child_ids,
        "given_name": [f"Testgiven{i}" for i in range(n_children)],
        "family_name": [f"Testfamily{i}" for i in range(n_children)],
        "dob": [dt.date(2002, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 1500, n_children)],
        "sex": rng.choice(["female", "male"], n_children, p=[0.8, 0.2]),
        "care_status": rng.choice(["cic", "cp", "cin", "none"], n_children),
        "placement_type": rng.choice(["residential", "foster", "parent", "kinship"], n_children),
        "placement_postcode": [place_pc[i % 6] for i in range(n_children)],
        "responsible_authority": rng.choice(["Birmingham", "Sandwell", "Walsall"], n_children, p=[0.6, 0.2, 0.2]),
        "cse_risk": rng.choice(["none", "at_risk", "significant", "serious"], n_children),
        "from_episode": False})
    # episodes: a few children go missing often (persistent)
    weights = np.r_[np.full(5, 8.0), np.ones(n_children - 5)]
    who = rng.choice(n_children, n_episodes, p=weights / weights.sum())
    start = pd.Timestamp("2017-01-01")
    rep_at = start + pd.to_timedelta(rng.integers(0, 180 * 24, n_episodes), unit="h")
    dur = pd.to_timedelta(rng.integers(2, 72, n_episodes), unit="h")
    ret = pd.Series(rep_at + dur)
    ret[rng.random(n_episodes) < 0.05] = pd.NaT  # still missing
    episodes = pd.DataFrame({
        "source": "police", "episode_id": [f"E{i:05d}" for i in range(n_episodes)],
        "child_id": [child_ids[i] for i in who], "child_key": [f"police/{child_ids[i]}" for i in who],
        "reported_at": rep_at, "returned_at": ret.to_numpy(),
        "category": rng.choice(["missing", "absent", "away_without_authorisation"], n_episodes, p=[0.7, 0.2, 0.1]),
        "police_risk": rng.choice(["high", "medium", "low"], n_episodes),
        "missing_from": rng.choice(["home", "care"], n_episodes),
        "last_seen": [texts[i] for i in rng.integers(0, n_places, n_episodes)],
        "found_at": [texts[i] for i in rng.integers(0, n_found_places, n_episodes)],  # concentrated
        "found_with": "", "rag": rng.choice(["red", "amber", "green"], n_episodes)})
    # one child last seen at a children's home: that place is not restricted as a whole, but the
    # residence edges to it are (issue 15: restricted edges must go even when the place stays)
    episodes.loc[0, "last_seen"] = place_pc[0]
    ep_ret = episodes[episodes["returned_at"].notna()]
    rhi = ep_ret.sample(frac=0.7, random_state=seed)
    offered = rhi["returned_at"] + pd.Timedelta(hours=6)
    held = pd.Series(rhi["returned_at"] + pd.to_timedelta(rng.integers(10, 140, len(rhi)), unit="h"))
    outcome = rng.choice(["engaged", "declined", "no_engagement"], len(rhi))
    held[outcome != "engaged"] = pd.NaT
    rhis = pd.DataFrame({"source": "rhi_provider", "rhi_id": [f"R{i:05d}" for i in range(len(rhi))],
                         "episode_id": rhi["episode_id"].to_numpy(),
                         "episode_key": ("police/" + rhi["episode_id"]).to_numpy(),
                         "notified_at": rhi["returned_at"].to_numpy(), "offered_at": offered.to_numpy(),
                         "held_at": held.to_numpy(), "outcome": outcome,
                         "priority": rng.choice(["first_time", "none"], len(rhi)),
                         "issues": rng.choice(["cse;mental_health", "substance_misuse", ""], len(rhi)),
                         "places": "", "associates": ""})
    pidx = rng.integers(0, n_places, 15)
    premises = pd.DataFrame({"source": "licensing", "premises_id": [f"PR{i:03d}" for i in range(15)],
                             "name": [f"Test premises {i}" for i in range(15)],
                             "premises_type": rng.choice(["pub", "takeaway", "hotel"], 15),
                             "address": [f"{i} Test Street" for i in range(15)],
                             "easting": pe[pidx] + 30, "northing": pn[pidx] + 30,
                             "licence_type": "premises_licence", "status": "active"})
    persons = pd.DataFrame({"source": "police", "person_id": [f"A{i:03d}" for i in range(5)],
                            "given_name": [f"Adultgiven{i}" for i in range(5)],
                            "family_name": [f"Adultfamily{i}" for i in range(5)],
                            "role": "adult_of_concern", "address": texts[:5]})
    links = pd.DataFrame({"source": "police", "link_id": [f"L{i}" for i in range(8)],
                          "from_ref": [f"person:A{i % 5:03d}" for i in range(8)],
                          "to_ref": [f"child:{child_ids[i]}" for i in range(8)],
                          "relation": "associate", "grading": "2B P"})
    with store.engine.begin() as conn:
        store.insert_frame(conn, schema.areas, areas)
        store.insert_frame(conn, schema.geocodes, geocodes)
        store.insert_frame(conn, schema.children, _h(children))
        store.insert_frame(conn, schema.episodes, _h(episodes))
        store.insert_frame(conn, schema.return_interviews, _h(rhis))
        store.insert_frame(conn, schema.premises, _h(premises))
        store.insert_frame(conn, schema.persons, _h(persons))
        store.insert_frame(conn, schema.links, _h(links))
    _results(store, wards)
    return {"children": children, "episodes": episodes}


def _results(store, wards: gpd.GeoDataFrame) -> None:
    ev = store.frame("place_events")
    found = ev[ev["kind"] == "found_at"]
    by_ward = found.groupby("ward_code").agg(episodes=("episode_key", "nunique"),
                                             children=("person_id", "nunique"))
    hot = wards[["area_code", "area_name", "geometry"]].join(by_ward, on="area_code")
    hot[["episodes", "children"]] = hot[["episodes", "children"]].fillna(0).astype(int)
    z = (hot["episodes"] - hot["episodes"].mean()) / (hot["episodes"].std() or 1)
    hot["gi_z"], hot["gi_p"], hot["gi_q"] = z, 0.5, 0.5
    hot["gi_bin"] = np.sign(z).astype(int)
    # one quiet ward with a small count, as real wards have (banded as "<5" for non-analysts)
    # (at bench scale every ward has children: then the ward with fewest is made quiet)
    quiet = (hot.index[hot["children"] == 0].tolist() or [hot["children"].idxmin()])[0]
    hot.loc[quiet, ["episodes", "children"]] = [3, 2]
    # child populations and rates (rate x population gives the count back: issue 15)
    hot["population"] = 2000.0 + 10 * np.arange(len(hot))
    hot["rate"] = hot["children"] / hot["population"] * 1000.0
    store.write_result("area_hotspots_ward", gpd.GeoDataFrame(hot, geometry="geometry", crs=27700))
    from geo.stats.global_autocorrelation import general_g, global_moran
    from geo.stats.weights import queen_weights
    w = queen_weights(wards, ids=wards["area_code"].to_numpy(), islands="nearest")
    x = hot["episodes"].to_numpy(float)
    store.write_result("area_autocorrelation", pd.DataFrame(
        [dict(level="ward", map="ward:value", basis="episodes (counts)", **f(x, w, 99, 0))
         for f in (global_moran, general_g)]))
    grp = found.groupby("text")
    cl = grp.agg(episodes=("episode_key", "nunique"), children=("person_id", "nunique"),
                 first_seen=("at", "min"), last_seen=("at", "max"),
                 e=("easting", "mean"), n=("northing", "mean")).reset_index(drop=True)
    cl.insert(0, "cluster_id", range(1, len(cl) + 1))
    cl["nearest_premises_id"] = "PR000"
    cl["centroid_e"], cl["centroid_n"] = cl["e"], cl["n"]       # exact, as geo.stats.clusters gives them
    cl["nearest_premises_m"] = 42.0
    store.write_result("found_at_clusters", gpd.GeoDataFrame(
        cl.drop(columns=["e", "n"]), geometry=shapely.points(cl["e"], cl["n"]), crs=27700))
    poc = pd.DataFrame({"rank": [1, 2, 3], "premises_id": ["PR000", "PR001", "PR002"],
                        "name": ["Test premises 0", "Test premises 1", "Test premises 2"],
                        "premises_type": ["pub", "takeaway", "hotel"], "score": [9.1, 4.2, 1.3],
                        "children": [7, 3, 1], "episodes": [12, 4, 1], "mentions": [6, 1, 0],
                        "intel": [5, 0, 1], "p_value": [0.001, 0.04, 0.3], "q_value": [0.01, 0.2, 0.6],
                        "near_children": [7, 3, 0], "named_children": [5, 0, 0], "recent_children": [6, 1, 1],
                        "near_sightings": [7, 3, 0], "named_sightings": [5, 0, 0], "evidence": ["named", "near", "none"],
                        "rhi_mentions": [5, 1, 0], "link_mentions": [0, 0, 0], "event_mentions": [0, 1, 0],
                        "intel_grades": ["2B, 3C", "", "1A"], "expected_near": [0.8, 0.4, 0.1],
                        "expected_named": [0.05, 0.02, 0.01], "tested": [True, True, False],
                        "radius_m": 50.0, "compared_with": 97})
    from geo.stats.venues import explain
    poc["explanation"] = explain(poc)
    store.write_result("premises_of_concern", poc)
    pids = sorted(found["person_id"].unique())
    groups = pd.DataFrame({"group_id": ["G1", "G2"], "members": [pids[:3], pids[3:5]],
                           "co_episodes": [4, 2], "first": pd.to_datetime(["2017-01-05", "2017-02-01"], utc=True),
                           "last": pd.to_datetime(["2017-05-05", "2017-03-01"], utc=True),
                           "shared_places": [["Test place 01"], []]})
    store.write_result("co_missing_groups", groups)
    store.write_result("bridging_persons", pd.DataFrame({"rank": [1], "person_id": ["police/A000"],
                                                         "children": [4], "score": [0.8]}))
    trends = pd.DataFrame({"area_code": [wards["area_code"].iloc[0]] * 3, "month": ["2017-01", "2017-02", "2017-03"],
                           "episodes": [3, 5, 8], "mk_tau": [0.8] * 3, "mk_p": [0.04] * 3,
                           "category": ["increasing"] * 3})
    store.write_result("area_trends", trends)
    from geo.stats.scan import scan_clusters
    store.write_result("space_time_clusters", scan_clusters(ev, replications=19, seed=0, unit_days=14,
                                                            max_window_days=56)[0])


def open_populated(url: str):
    store = open_store(url)
    populate(store)
    return store
