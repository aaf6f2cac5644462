"""Pre-generalised tilesets (geo.tilesets): the cells of a tile count exactly the points inside
it, at every zoom, a tile never holds more than cells_per_side ** 2 rows, and small counts are
banded by the one disclosure rule."""
from __future__ import annotations

import numpy as np
import pytest

from geo import disclosure
from geo.tilesets import HALF, SCHEME, Scheme, cells_at, generalise, opening_zoom, shown_counts, \
    tile_of, tiles_over


def _points(n=20_000, seed=3):
    """Points over Birmingham in Web Mercator, clumped (many on the same spot) as found-at
    places are, plus a few on tile edges."""
    rng = np.random.default_rng(seed)
    cx, cy = -210_000.0, 6_900_000.0
    centres = np.column_stack([cx + rng.normal(0, 8000, 300), cy + rng.normal(0, 8000, 300)])
    pick = rng.integers(0, len(centres), n)
    xy = centres[pick] + rng.normal(0, 40, (n, 2)) * (rng.random((n, 1)) < 0.5)
    size = 2 * HALF / (1 << 12)
    edge = np.array([[-HALF + 2029 * size, HALF - 1363 * size]] * 7)   # a z12 tile corner
    xy = np.vstack([xy, edge])
    return xy[:, 0], xy[:, 1]


def _raw_in_tile(x, y, z, tx, ty):
    size = 2 * HALF / (1 << z)
    ix = np.clip(np.floor((x + HALF) / size), 0, (1 << z) - 1)
    iy = np.clip(np.floor((HALF - y) / size), 0, (1 << z) - 1)
    return int(((ix == tx) & (iy == ty)).sum())


@pytest.mark.parametrize("z", [0, 5, 9, 11, 12, 14, 15])
def test_cells_of_a_tile_add_up_to_its_points(z):
    x, y = _points()
    cells = cells_at(x, y, z, SCHEME.cells_per_side(z))
    assert cells["points"].sum() == len(x)
    per_tile = cells.groupby(["tx", "ty"])["points"].sum()
    for (tx, ty), total in per_tile.items():
        assert total == _raw_in_tile(x, y, z, tx, ty), (z, tx, ty)
    # every cell centre lies inside its own tile (so a tile's cells are exactly its own)
    size = 2 * HALF / (1 << z)
    assert ((cells["x"] > -HALF + cells["tx"] * size) & (cells["x"] < -HALF + (cells["tx"] + 1) * size)).all()
    assert ((cells["y"] < HALF - cells["ty"] * size) & (cells["y"] > HALF - (cells["ty"] + 1) * size)).all()
    # bounded: at most cells_per_side ** 2 rows per tile, whatever the points
    assert cells.groupby(["tx", "ty"]).size().max() <= SCHEME.cells_per_side(z) ** 2
    assert not cells.duplicated(["z", "x", "y"]).any()


def test_generalise_covers_every_generalised_zoom_and_nothing_else():
    x, y = _points(2000)
    cells = generalise(x, y)
    assert sorted(cells["z"].unique()) == list(SCHEME.zooms)
    assert (cells.groupby("z")["points"].sum() == len(x)).all()
    # fewer rows than points where points coincide (clusters), never more
    assert (cells.groupby("z").size() <= len(x)).all()
    assert SCHEME.generalised(SCHEME.cluster_max_zoom) and not SCHEME.generalised(SCHEME.cluster_max_zoom + 1)
    with pytest.raises(ValueError):
        SCHEME.cells_per_side(SCHEME.cluster_max_zoom + 1)
    assert Scheme(cluster_max_zoom=14).key() != SCHEME.key()


def test_bounded_rows_with_a_million_distinct_points():
    rng = np.random.default_rng(1)
    x = -210_000 + rng.uniform(-20_000, 20_000, 1_000_000)
    y = 6_900_000 + rng.uniform(-20_000, 20_000, 1_000_000)
    for z in (10, 12, 15):
        cells = cells_at(x, y, z, SCHEME.cells_per_side(z))
        assert cells["points"].sum() == 1_000_000
        assert cells.groupby(["tx", "ty"]).size().max() <= SCHEME.cells_per_side(z) ** 2


def test_small_counts_banded_by_the_disclosure_rule():
    pts = np.array([1, 4, 5, 17, 2])
    shown, band = shown_counts(pts, 5)
    assert list(shown) == [None, None, 5, 17, None]
    assert list(band) == ["<5", "<5", None, None, "<5"]
    assert [b if b is not None else s for s, b in zip(shown, band)] == disclosure.small_counts(pts, 5)
    shown, band = shown_counts(pts, 3)
    assert list(band) == ["<3", None, None, None, "<3"]
    shown, band = shown_counts(pts, None)              # the analysts' view: exact counts
    assert list(shown) == [1, 4, 5, 17, 2] and all(b is None for b in band)


def test_opening_zoom_and_tiles():
    birmingham = (-2.03, 52.38, -1.72, 52.61)
    z = opening_zoom(birmingham)
    assert len(tiles_over(birmingham, z)) <= 4 < len(tiles_over(birmingham, z + 1))
    assert 8 <= z <= 11
    assert tile_of(-1.9, 52.48, 10) == (506, 336)
    assert opening_zoom(None) == 0
