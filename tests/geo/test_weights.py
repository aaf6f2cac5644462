"""geo.stats.weights: contiguity and distance-band weights against libpysal."""
import warnings

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from geo.stats.weights import distance_band_weights, queen_weights, rook_weights

REF = "data/reference/boundaries/"


@pytest.fixture(scope="module")
def wards():
    return gpd.read_file(REF + "birmingham_wards_2013.geojson").to_crs(27700)


def test_grid_queen_rook_cardinalities():
    cells = gpd.GeoSeries([box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)], crs=27700)
    q, r = queen_weights(cells), rook_weights(cells)
    assert q.cardinalities.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    assert r.cardinalities.tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]
    assert (q.sparse != q.sparse.T).nnz == 0
    assert np.allclose(q.transformed("r").sparse.sum(axis=1), 1)


def test_wards_match_libpysal_exactly(wards):
    from libpysal.weights import Queen, Rook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mine, theirs in ((queen_weights, Queen), (rook_weights, Rook)):
            w = mine(wards, method="vertex")
            lw = theirs.from_dataframe(wards, use_index=False)
            assert (w.sparse != lw.sparse).nnz == 0
            assert (mine(wards).sparse != lw.sparse).nnz == 0


def test_lsoas_touch_without_shared_vertices():
    g = gpd.read_file(REF + "birmingham_lsoa_2011.geojson").to_crs(27700)
    assert len(queen_weights(g, method="vertex").islands) == len(g)  # generalised boundaries
    w = queen_weights(g)
    assert len(w.islands) == 0 and 5 < w.cardinalities.mean() < 6.5


def test_islands_nearest_and_distance_band():
    cells = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1), box(10, 0, 11, 1)], crs=27700)
    assert queen_weights(cells).islands.tolist() == [2]
    w = queen_weights(cells, islands="nearest")
    assert len(w.islands) == 0 and w.neighbours(2).tolist() == [1]
    pts = np.array([[0, 0], [3, 4], [100, 0]], float)
    d = distance_band_weights(pts, 5.0)
    assert d.cardinalities.tolist() == [1, 1, 0]
    from libpysal.weights import DistanceBand
    lw = DistanceBand(pts, threshold=5.0, silence_warnings=True)
    assert (d.sparse != lw.sparse).nnz == 0
