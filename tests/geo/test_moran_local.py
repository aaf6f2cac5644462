"""Local Moran parity with esda.Moran_Local."""
import warnings

import geopandas as gpd
import numpy as np

from geo.stats.moran_local import local_moran
from geo.stats.permutation import pseudo_p_values
from geo.stats.weights import queen_weights

warnings.simplefilter("ignore")


def test_local_moran_matches_esda():
    import esda
    import libpysal
    g = gpd.read_file("data/reference/boundaries/birmingham_lsoa_2011.geojson").to_crs(27700)
    w = queen_weights(g)
    rng = np.random.default_rng(1)
    x = rng.poisson(3, w.n).astype(float)
    x[w.neighbours(5)] += 8
    x[5] += 8
    m = local_moran(x, w, 999, seed=3, keep=True)
    em = esda.Moran_Local(x, libpysal.weights.WSP(w.sparse).to_W(silence_warnings=True),
                          transformation="r", permutations=999, seed=3)
    assert np.max(np.abs(m.Is - em.Is)) < 1e-9
    assert (m.q == em.q).all()
    d = np.abs(pseudo_p_values(m.Is, m.sims, "directed") - em.p_sim)
    assert d.mean() < 0.02
    assert m.labels(0.05, use_q=False)[5] == "HH"
    assert set(m.labels()) <= {"HH", "LH", "LL", "HL", "ns"}


def test_constant_values_are_not_significant():
    g = gpd.read_file("data/reference/boundaries/birmingham_wards_2013.geojson").to_crs(27700)
    m = local_moran(np.ones(len(g)), queen_weights(g), 99, seed=0)
    assert (m.p_sim == 1).all() and (m.labels() == "ns").all()
