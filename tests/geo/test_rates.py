"""Rates: esda parity (EB, spatial EB, Assuncao-Reis, EB local Moran, global Moran's I and
General G), no rate without a population, planted and null rate maps, end to end."""
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.stats.global_autocorrelation import general_g, global_moran
from geo.stats.moran_local import local_moran
from geo.stats.rates import (NO_POPULATION, area_rates, assuncao_reis, child_population, crude_rate,
                       empirical_bayes, spatial_empirical_bayes)
from geo.stats.weights import queen_weights

warnings.simplefilter("ignore")


@pytest.fixture(scope="module")
def wards():
    g = gpd.read_file("data/reference/boundaries/birmingham_wards_2013.geojson").to_crs(27700)
    return gpd.GeoDataFrame({"area_code": g["WD13CD"], "area_name": g["WD13NM"], "level": "ward"},
                            geometry=g.geometry, crs=27700)


@pytest.fixture(scope="module")
def w(wards):
    return queen_weights(wards, ids=wards["area_code"].to_numpy())


def _lw(w):
    import libpysal
    return libpysal.weights.WSP(w.sparse).to_W(silence_warnings=True)


def _overdispersed(n, seed):
    rng = np.random.default_rng(seed)
    b = rng.integers(800, 12000, n).astype(float)
    risk = 0.004 * rng.gamma(4, 0.25, n)        # between-area variation: EB variance > 0
    return rng.poisson(b * risk).astype(float), b


def test_eb_rates_equal_esda(w):
    import esda
    e, b = _overdispersed(w.n, 1)
    assert np.allclose(empirical_bayes(e, b), esda.smoothing.Empirical_Bayes(e, b).r.ravel(), rtol=1e-12)
    assert np.allclose(spatial_empirical_bayes(e, b, w),
                       esda.smoothing.Spatial_Empirical_Bayes(e, b, _lw(w)).r.ravel(), rtol=1e-12)
    assert np.allclose(assuncao_reis(e, b), esda.smoothing.assuncao_rate(e, b).ravel(), rtol=1e-12)


def test_eb_local_moran_equals_esda_moran_local_rate(w):
    import esda
    e, b = _overdispersed(w.n, 2)
    mine = local_moran(assuncao_reis(e, b), w, 999, seed=0)
    ref = esda.Moran_Local_Rate(e, b, _lw(w), adjusted=True, permutations=999, seed=0, n_jobs=1)
    assert np.allclose(mine.Is, ref.Is, rtol=1e-12)
    assert (mine.q == ref.q).all()
    # independent permutations: two-sided pseudo p-values about twice esda's directed p_sim
    assert np.mean(np.abs(mine.p_sim - np.minimum(2 * ref.p_sim, 1))) < 0.05


def test_eb_variance_floor_is_marshalls():
    # Poisson noise only: the moment estimate of the between-area variance is negative; Marshall
    # sets it to 0 (every area shrunk to the overall rate) where esda gives negative weights
    rng = np.random.default_rng(3)
    b = rng.integers(2000, 9000, 60).astype(float)
    e = rng.poisson(b * 0.003).astype(float)
    r = empirical_bayes(e, b)
    assert np.allclose(r, e.sum() / b.sum())


def test_global_moran_and_general_g_equal_esda(w):
    import esda
    e, b = _overdispersed(w.n, 4)
    m, em = global_moran(e, w, 0), esda.Moran(e, _lw(w), permutations=0)
    assert m["value"] == pytest.approx(em.I, rel=1e-12) and m["z"] == pytest.approx(em.z_norm, rel=1e-10)
    assert m["p_norm"] == pytest.approx(em.p_norm, rel=1e-10) and m["expected"] == pytest.approx(em.EI)
    g, eg = general_g(e, w, 0), esda.G(e, _lw(w), permutations=0)
    assert g["value"] == pytest.approx(eg.G, rel=1e-12) and g["expected"] == pytest.approx(eg.EG)
    assert g["z"] == pytest.approx(eg.z_norm, rel=1e-10)
    assert g["p_norm"] == pytest.approx(2 * eg.p_norm, rel=1e-10)   # two-sided (esda: one tail)
    # permutation p within Monte Carlo error of esda's
    np.random.seed(0)
    em = esda.Moran(e, _lw(w), permutations=999)
    assert abs(global_moran(e, w, 999, seed=0)["p_sim"] - em.p_sim) < 0.05


def test_global_tests_calibrated_on_null(w):
    rej_m = rej_g = 0
    for s in range(60):
        x = np.random.default_rng(100 + s).poisson(20, w.n).astype(float)
        rej_m += global_moran(x, w, 199, seed=s)["p_sim"] <= 0.05
        rej_g += general_g(x, w, 199, seed=s)["p_sim"] <= 0.05
    assert rej_m <= 8 and rej_g <= 8      # ~3 expected (one-tailed folded p, 5 %)


def test_no_rate_without_a_population():
    r = crude_rate([3, 0, 5, 2], [1000, 0, np.nan, 500])
    assert r[0] == pytest.approx(3.0) and np.isnan(r[1]) and np.isnan(r[2]) and r[3] == pytest.approx(4.0)
    out = area_rates(np.array([3.0, 0, 5, 2]), np.array([1000.0, 0, np.nan, 500]), lambda m: None)
    assert out["rate_note"].tolist()[1:3] == ["child population 0: no rate", NO_POPULATION]
    assert out["eb_rate"].isna().all()          # fewer than 3 areas with a population


def test_child_population_picks_one_band_year_and_sums_sexes():
    p = pd.DataFrame({"area_code": ["A", "A", "A", "B", "B", "B", "A"],
                      "age_band": ["0-17", "0-17", "0-17", "0-17", "0-17", "10-17", "0-17"],
                      "year": [2016, 2016, 2015, 2016, 2016, 2016, 2016],
                      "sex": ["male", "female", "all", "all", "male", "all", None],
                      "count": [10, 12, 99, 40, 21, 7, 0]})
    pop, basis = child_population(p[p["sex"].notna()], ["A", "B", "C"])
    assert pop.tolist()[:2] == [22.0, 40.0] and np.isnan(pop["C"])
    assert basis == {"age_band": "0-17", "year": 2016, "areas": 2}
    pop, basis = child_population(None, ["A"])
    assert basis == {} and pop.isna().all()


@pytest.fixture(scope="module")
def lsoa_w():
    g = gpd.read_file("data/reference/boundaries/birmingham_lsoa_2011.geojson").to_crs(27700)
    return queen_weights(g)


def _planted_rates(w, seed, hot=()):
    """Child populations 300-900 per LSOA, 20 per 1,000 children, 2.5x in ``hot``."""
    rng = np.random.default_rng(seed)
    b = rng.integers(300, 900, w.n).astype(float)
    risk = np.full(w.n, 0.02)
    risk[list(hot)] *= 2.5
    return rng.poisson(b * risk).astype(float), b


def test_planted_rate_cluster_found_null_not(lsoa_w):
    w = lsoa_w
    first = set(w.neighbours(100)) | {100}
    hot = sorted(first | {j for i in first for j in w.neighbours(i)})   # 15 LSOAs

    def weights_for(mask):
        from geo.stats.weights import SpatialWeights
        k = np.flatnonzero(mask)
        return SpatialWeights(w.sparse[k][:, k].tocsr(), w.ids[k], w.kind, w.transform)

    # 9,999 permutations: the two-sided pseudo p cannot go below 3 / (R + 1), and BH over 639
    # LSOAs needs p below 0.05 x 15 / 639 = 0.0012 for a cluster of 15
    e, b = _planted_rates(w, 1, hot)
    r = area_rates(e, b, weights_for, permutations=9999, seed=0)
    assert (r.loc[hot, "eb_moran_type"] == "HH").mean() >= 0.6
    assert (r.drop(index=hot)["eb_moran_type"] != "ns").sum() <= 2
    assert global_moran(assuncao_reis(e, b), w, 999, seed=1)["p_sim"] <= 0.01
    for s in range(2):
        e, b = _planted_rates(w, 50 + s)
        r = area_rates(e, b, weights_for, permutations=9999, seed=s)
        assert (r["eb_moran_q"] < 0.05).mean() <= 0.05


def test_area_hotspots_rates_and_globals(wards):
    from geo.stats.hotspots import area_hotspots
    rng = np.random.default_rng(5)
    n = 3000
    xs = rng.uniform(*wards.total_bounds[[0, 2]], n)
    ys = rng.uniform(*wards.total_bounds[[1, 3]], n)
    ev = pd.DataFrame({"event_key": [f"e{i}" for i in range(n)], "person_id": [f"P{i}" for i in range(n)],
                       "episode_key": [f"E{i}" for i in range(n)], "kind": "found_at",
                       "at": pd.Timestamp("2017-01-01", tz="UTC"), "easting": xs, "northing": ys,
                       "ward_code": None, "lsoa_code": None})
    pop = pd.Series(rng.integers(3000, 9000, len(wards)).astype(float), index=wards["area_code"].to_numpy())
    full = area_hotspots(ev, wards, population=pop, permutations=99, seed=0)
    assert full["value_basis"].iloc[0] == "children per 1,000 child population"
    assert np.allclose(full["value"], 1000 * full["children"] / full["population"])
    assert {g["statistic"] for g in full.attrs["autocorrelation"]} == {"moran_i", "general_g"}
    assert {g["map"] for g in full.attrs["autocorrelation"]} == {"ward:value", "ward:eb_rate"}
    part = area_hotspots(ev, wards, population=pop.iloc[1:], permutations=99, seed=0)
    first = part.iloc[0]
    assert np.isnan(first["rate"]) and first["rate_note"] == NO_POPULATION
    assert part["value_basis"].iloc[0].startswith("children (counts")
    assert part["value"].tolist() == part["children"].astype(float).tolist()
    none = area_hotspots(ev, wards, permutations=99, seed=0)
    assert none["rate"].isna().all() and (none["rate_note"] == NO_POPULATION).all()


def test_analyse_with_synthetic_populations_end_to_end(tmp_path):
    """synth --populations -> ingest -> wayfinder analyse: rates on the ward map, none on
    the LSOAs (no LSOA population), global statistics in the outputs."""
    from api.jobs.analyse import run_analyse
    from geo.storage.ingest import ingest_drop
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    from geo.scenario.generator import generate

    truth = generate(tmp_path / "drop", seed=3, scale="sample", populations=True)
    assert truth["counts"]["populations.csv"] == 240
    pops = pd.read_csv(tmp_path / "drop" / "populations.csv")
    assert (pops["source"] == "synthetic").all()
    store = open_store(f"sqlite:///{tmp_path / 'wf.sqlite'}")
    load_bundled(store)
    ingest_drop(store, tmp_path / "drop")
    run_analyse(store, tmp_path / "out", seed=1, permutations=99)
    ward = json.loads((tmp_path / "out" / "area_hotspots_ward.geojson").read_text())
    props = pd.DataFrame([f["properties"] for f in ward["features"]])
    assert props["population"].notna().all() and (props["rate"] >= 0).all()
    assert props["value_basis"].iloc[0] == "children per 1,000 child population"
    assert {"eb_rate", "seb_rate", "eb_moran_i", "eb_moran_q", "eb_moran_type"} <= set(props)
    assert {g["statistic"] for g in ward["autocorrelation"]} == {"moran_i", "general_g"}
    auto = json.loads((tmp_path / "out" / "area_autocorrelation.json").read_text())
    assert {a["level"] for a in auto} == {"ward", "lsoa"}
    assert all(a["population"]["age_band"] == "0-17" for a in auto if a["level"] == "ward")
    lsoa = gpd.read_file(tmp_path / "out" / "area_hotspots_lsoa.geojson")
    assert lsoa["rate"].isna().all() and (lsoa["rate_note"] == NO_POPULATION).all()
    stored = store.read_result("area_autocorrelation")
    assert len(stored) == len(auto)
