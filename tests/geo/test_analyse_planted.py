"""Planted truth through the real path: synth -> ingest into SQLite -> store frames -> analyses.

Two city-scale drops are generated once per module (planted, seed 1; null, seed 1) in a temp
folder, each ingested into its own SQLite store with the bundled Birmingham reference data. The
two preparations run in parallel processes (generation and ingest dominate the run time).
The analyses run in the same workers exactly as ``wayfinder analyse`` runs them
(``run_analyse``, 499 permutations), so the contract files are checked too.
"""
from __future__ import annotations

import json
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

warnings.simplefilter("ignore")

SEED = 1


def _prepare(folder: str, null: bool) -> dict:
    """Generate a city drop, load the reference data, ingest; return the truth."""
    from geo.storage.ingest import ingest_drop
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    from geo.scenario.generator import generate

    folder = Path(folder)
    truth = generate(folder / "drop", seed=SEED, scale="city", null=null)
    store = open_store(f"sqlite:///{folder / 'wf.sqlite'}")
    load_bundled(store)
    ingest_drop(store, folder / "drop")
    from api.jobs.analyse import run_analyse
    run_analyse(store, folder / "out", seed=SEED, permutations=499)
    store.engine.dispose()
    return {k: truth.get(k, []) for k in ("venue_hotspots", "ward_hotspots", "ward_hotspot_cores", "null", "counts",
                                          "space_time_clusters")}


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    with ProcessPoolExecutor(max_workers=2) as pool:
        futs = {name: pool.submit(_prepare, str(root / name), name == "null") for name in ("planted", "null")}
        truths = {name: f.result() for name, f in futs.items()}
    from geo.storage.store import open_store
    return {name: {"truth": truth, "out": root / name / "out",
                   "store": open_store(f"sqlite:///{root / name / 'wf.sqlite'}")}
            for name, truth in truths.items()}


def _poc(d) -> pd.DataFrame:
    return pd.read_csv(d["out"] / "premises_of_concern.csv", dtype={"premises_id": str})


def _wards(d) -> gpd.GeoDataFrame:
    return gpd.read_file(d["out"] / "area_hotspots_ward.geojson")


def test_contract_files_and_columns(drops):
    d = drops["planted"]
    cols = ["area_code", "area_name", "episodes", "children", "gi_z", "gi_p", "gi_q", "gi_bin",
            "lisa_i", "lisa_p", "lisa_q", "lisa_type"]
    for level, n in (("ward", 40), ("lsoa", 639)):
        doc = json.loads((d["out"] / f"area_hotspots_{level}.geojson").read_text())
        assert doc["type"] == "FeatureCollection" and len(doc["features"]) == n
        assert "CRS84" in doc["crs"]["properties"]["name"]
        assert set(cols) <= set(doc["features"][0]["properties"])
        lon, lat = np.asarray(doc["features"][0]["geometry"]["coordinates"][0][0][0])[:2] \
            if doc["features"][0]["geometry"]["type"] == "MultiPolygon" else doc["features"][0]["geometry"]["coordinates"][0][0][:2]
        assert -2.2 < lon < -1.6 and 52.3 < lat < 52.7  # WGS84 Birmingham
    cl = json.loads((d["out"] / "found_at_clusters.geojson").read_text())
    assert cl["features"] and {"cluster_id", "episodes", "children", "first_seen", "last_seen",
                                "nearest_premises_id"} <= set(cl["features"][0]["properties"])
    assert min(f["properties"]["children"] for f in cl["features"]) >= 5
    poc = _poc(d)
    assert list(poc.columns[:12]) == ["rank", "premises_id", "name", "premises_type", "score", "children",
                                      "episodes", "mentions", "intel", "p_value", "q_value", "explanation"]
    assert poc["rank"].tolist() == list(range(1, len(poc) + 1))
    assert len(poc) == len(d["store"].frame("premises"))
    tr = pd.read_csv(d["out"] / "area_trends.csv")
    assert list(tr.columns) == ["area_code", "month", "episodes", "mk_tau", "mk_p", "category"]
    assert tr["area_code"].nunique() == 40 and tr["month"].nunique() >= 12
    knox = json.loads((d["out"] / "knox.json").read_text())
    assert knox["n_events"] > 1000 and 0 < knox["p_value"] <= 1
    assert set(d["store"].result_names()) >= {"area_hotspots_ward", "premises_of_concern", "found_at_clusters"}


def test_planted_venues_top20_recall_and_top5_precision(drops):
    d = drops["planted"]
    planted = set(d["truth"]["venue_hotspots"])
    assert len(planted) >= 4
    poc = _poc(d)
    top20, top5 = set(poc.head(20)["premises_id"]), list(poc.head(5)["premises_id"])
    recall = len(top20 & planted) / len(planted)
    precision5 = sum(p in planted for p in top5) / 5
    assert recall >= 0.9, poc.head(25)[["rank", "premises_id", "children", "q_value"]]
    assert precision5 >= 0.8
    # every planted venue is significant after FDR and explained in words
    row = poc.set_index("premises_id").loc[sorted(planted)]
    assert (row["q_value"] < 0.05).all()
    assert row["explanation"].str.contains("More than the background explains").all()
    assert row["explanation"].str.contains("recorded at the premises by name").all()


# geo/scenario/generator.py plants each ward hotspot as a core ward and its queen neighbours (3.6x / 2.6x the
# background): an isolated hot ward would be averaged away by Gi*'s neighbourhood.
def test_planted_wards_hot_at_95(drops):
    d = drops["planted"]
    hot = d["truth"]["ward_hotspots"]
    assert hot
    w = _wards(d).set_index("area_code")
    # gi_bin is the exported permutation q binned (issue 13), no longer the normal p of gi_z:
    # the conditional permutation test holds a ward's own value fixed and tests its
    # neighbourhood, so each cluster's core (every neighbour hot) is hot, while a planted
    # neighbour with cold neighbours of its own is hot by its z only. The core's two-sided
    # permutation p is about 0.0012 (99,999 permutations); with 9,999 its BH q over the 40
    # wards straddles 0.05 (q < 0.05 for 39-46 % of seeds, q < 0.10 for 97-98 %, p <= 0.0028
    # for all of 100 seeds, with the engine before and after issue 19), so the core is checked
    # on its p and on q < 0.10
    cores = d["truth"]["ward_hotspot_cores"]
    assert (w.loc[cores, "gi_p"] <= 0.005).all(), w.loc[hot, ["gi_z", "gi_p", "gi_q", "gi_bin"]]
    assert (w.loc[cores, "gi_bin"] >= 1).all(), w.loc[hot, ["gi_z", "gi_p", "gi_q", "gi_bin"]]
    assert (w.loc[hot, "gi_z"] > 1.9).all(), w.loc[hot, ["gi_z", "gi_q", "gi_bin"]]
    assert (w.drop(index=hot)["gi_bin"] < 2).all()


def test_null_drop_at_most_5_percent_significant(drops):
    d = drops["null"]
    assert d["truth"]["null"] and not d["truth"]["venue_hotspots"]
    w = _wards(d)
    assert (w["gi_bin"].abs() >= 2).mean() <= 0.05       # Gi* bins are FDR-corrected (ArcGIS)
    assert (w["gi_q"] < 0.05).mean() <= 0.05             # permutation q-values
    assert (w["lisa_q"] < 0.05).mean() <= 0.05
    lsoa = gpd.read_file(d["out"] / "area_hotspots_lsoa.geojson")
    assert (lsoa["gi_q"] < 0.05).mean() <= 0.05
    poc = _poc(d)
    assert (poc["q_value"] < 0.05).sum() == 0            # exposure-adjusted, BH over the register
    cl = gpd.read_file(d["out"] / "found_at_clusters.geojson")
    assert len(cl) and (cl["q_value"] >= 0.05).all()     # no location of concern in a null drop
    assert (cl["status"] == "descriptive cluster (not significant)").all()
    # same volumes as the planted drop (a fair null)
    assert abs(d["truth"]["counts"]["episodes.csv"] - drops["planted"]["truth"]["counts"]["episodes.csv"]) \
        < 0.1 * drops["planted"]["truth"]["counts"]["episodes.csv"]


def test_space_time_outputs_and_planted_scan_cluster(drops):
    """The planted emerging cluster (10 children at one postcode in 3 weeks) is the scan's most
    likely cluster with p < 0.05 in both analyses; the null drop has none; contract keys."""
    d = drops["planted"]
    st = json.loads((d["out"] / "space_time.json").read_text())
    assert {"observed", "expected", "p_value", "space_m", "days"} <= set(st["knox"])
    assert st["near_repeat"] and {"p_value", "q_value", "ratio"} <= set(st["near_repeat"][0])
    (plant,) = d["truth"]["space_time_clusters"]
    cl = gpd.read_file(d["out"] / "space_time_clusters.geojson").to_crs(27700)
    assert {"cluster_id", "start", "end", "observed", "expected", "relative_risk", "llr", "p_value",
            "recurrence_days"} <= set(cl.columns)
    import shapely
    where = shapely.Point(plant["easting"], plant["northing"])
    for kind in ("retrospective", "prospective"):
        top = cl[cl["analysis"] == kind].iloc[0]
        assert top["p_value"] < 0.05 and top.geometry.buffer(150).contains(where), top
    n = drops["null"]
    assert not n["truth"]["space_time_clusters"]
    ncl = gpd.read_file(n["out"] / "space_time_clusters.geojson")
    assert not len(ncl) or ncl["q_value"].min() >= 0.05


def test_planted_found_at_place_is_a_location_of_concern(drops):
    """The planted place (10 children found at one postcode) is inside a found-at cluster that is
    significant after FDR (issue 13: the circle of the scan around the postcode, Gumbel p)."""
    import shapely

    d = drops["planted"]
    (plant,) = d["truth"]["space_time_clusters"]
    cl = gpd.read_file(d["out"] / "found_at_clusters.geojson").to_crs(27700)
    near = cl[cl.geometry.distance(shapely.Point(plant["easting"], plant["northing"])) <= 50]
    assert len(near) and (near["q_value"] < 0.05).any() and (near["status"] == "location of concern").any(), near
