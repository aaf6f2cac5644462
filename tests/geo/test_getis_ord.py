"""Gi* parity with esda.G_Local(star=True) on Birmingham LSOAs and a 10k-cell grid."""
import warnings

import geopandas as gpd
import numpy as np
import pytest

from geo.stats.getis_ord import gi_bin, gi_star
from geo.stats.hotspots import make_grid
from geo.stats.permutation import bh_qvalues, pseudo_p_values
from geo.stats.weights import queen_weights

warnings.simplefilter("ignore")


def _esda(x, w, seed, perms=999):
    import esda
    import libpysal
    lw = libpysal.weights.WSP(w.sparse).to_W(silence_warnings=True)
    return esda.G_Local(x, lw, transform="B", star=True, permutations=perms, seed=seed, n_jobs=1)


@pytest.fixture(scope="module")
def lsoa_w():
    g = gpd.read_file("data/reference/boundaries/birmingham_lsoa_2011.geojson").to_crs(27700)
    return queen_weights(g)


def _planted(w, seed):
    rng = np.random.default_rng(seed)
    x = rng.poisson(3, w.n).astype(float)
    x[w.neighbours(5)] += 6
    x[5] += 6
    return x


def test_z_equal_to_esda_on_lsoas(lsoa_w):
    x = _planted(lsoa_w, 1)
    r = gi_star(x, lsoa_w, permutations=999, seed=3, keep=True)
    e = _esda(x, lsoa_w, 3)
    assert np.max(np.abs(r.z - e.Zs)) < 1e-9
    assert np.max(np.abs(r.gs - e.Gs)) < 1e-12
    # same reference distribution -> identical esda two-sided p-values
    from esda.significance import calculate_significance
    assert np.allclose(pseudo_p_values(e.Gs, e.rGs, "two-sided"), calculate_significance(e.Gs, e.rGs, "two-sided"))
    # independent permutations: within Monte Carlo error
    mine = pseudo_p_values(r.gs, r.sims, "directed")
    sd = np.sqrt(np.maximum(e.p_sim * (1 - e.p_sim), 1e-3) / 999) * np.sqrt(2)
    assert np.mean(np.abs(mine - e.p_sim)) < 0.02
    assert np.mean(np.abs(mine - e.p_sim) > 5 * sd) < 0.01
    assert r.gs[5] > np.median(r.gs) and r.p_sim[5] <= 0.01


def test_z_equal_to_esda_on_10k_grid():
    grid = make_grid((400000, 280000, 410000, 290000), 100.0)
    assert len(grid) == 10_000
    w = queen_weights(grid)
    x = np.random.default_rng(0).poisson(2, len(grid)).astype(float)
    r = gi_star(x, w, permutations=99, seed=1)
    e = _esda(x, w, 1, perms=0)
    assert np.max(np.abs(r.z - e.Zs)) < 1e-9


def test_pvalues_calibrated_under_null(lsoa_w):
    x = np.random.default_rng(7).poisson(4, lsoa_w.n).astype(float)
    r = gi_star(x, lsoa_w, permutations=499, seed=2)
    assert 0.02 < np.mean(r.p_sim < 0.05) < 0.09
    assert np.mean(bh_qvalues(r.p_sim) < 0.05) <= 0.05


def test_gi_bin_and_bh():
    assert gi_bin([3, -3, 1, 2, 1], [0.005, 0.02, 0.07, 0.2, np.nan]).tolist() == [3, -2, 1, 0, 0]
    p = np.array([0.01, 0.04, 0.03, 0.5])
    q = bh_qvalues(p)
    assert np.allclose(q, [0.04, 0.05333333, 0.05333333, 0.5])


def test_seeded_and_deterministic(lsoa_w):
    x = _planted(lsoa_w, 2)
    a, b = gi_star(x, lsoa_w, 199, seed=9), gi_star(x, lsoa_w, 199, seed=9)
    assert np.array_equal(a.p_sim, b.p_sim)
