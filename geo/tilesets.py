"""Pre-generalised point tilesets: what a vector tile of a dense point layer shows at each zoom.

A tile of a million found-at points cannot be made on request from the points themselves in
time (``ST_AsMVT`` over tens of thousands of rows per tile: issue 19). Instead each zoom up to
``Scheme.cluster_max_zoom`` gets its own table of *cells*, built once per pipeline run:

- **grid zooms** (``z <= grid_max_zoom``, the city and regional views): points counted per cell
  of a ``grid_cells`` x ``grid_cells`` grid over each Web Mercator tile, one feature per
  non-empty cell at its centre, with the count;
- **cluster zooms** (up to ``cluster_max_zoom``, neighbourhoods): the same over a finer grid
  (``cluster_cells`` per tile side, a few pixels on screen), so points that would be drawn on
  top of each other become one feature with their count;
- **street zooms** (above ``cluster_max_zoom``): the points themselves (not made here).

Cells nest inside tiles (a cell belongs to exactly one tile at its zoom), so the counts of the
cells of a tile add up to the points inside it, and a tile reads at most ``cells ** 2`` rows,
whatever the number of points. Only counts are kept: no property of any person or record.

For a minimised view the points are that view's points (snapped to its grid by
``geo.disclosure`` before they reach here) and the counts are then banded by the same rule as
every other count (:func:`shown_counts`: ``geo.disclosure.small_count``).

Pure functions over Web Mercator (EPSG:3857) coordinates; no store, no HTTP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo import disclosure

#: half the side of the Web Mercator square (metres)
HALF = 20037508.342789244
#: columns of a cells table
COLUMNS = ["z", "tx", "ty", "x", "y", "points"]


@dataclass(frozen=True)
class Scheme:
    """Which zooms are aggregated how (see the module docstring)."""

    grid_max_zoom: int = 11
    cluster_max_zoom: int = 15
    grid_cells: int = 64
    cluster_cells: int = 128

    def cells_per_side(self, z: int) -> int:
        if z <= self.grid_max_zoom:
            return self.grid_cells
        if z <= self.cluster_max_zoom:
            return self.cluster_cells
        raise ValueError(f"zoom {z} is a street zoom: its tiles are made from the points")

    def generalised(self, z: int) -> bool:
        """True when tiles at zoom ``z`` come from the cells, not from the points."""
        return 0 <= z <= self.cluster_max_zoom

    @property
    def zooms(self) -> range:
        return range(0, self.cluster_max_zoom + 1)

    def key(self) -> str:
        """A short text that changes when the scheme does (part of a tileset's stamp)."""
        return (f"g{self.grid_max_zoom}x{self.grid_cells}-"
                f"c{self.cluster_max_zoom}x{self.cluster_cells}")


SCHEME = Scheme()


def cells_at(x: np.ndarray, y: np.ndarray, z: int, per_side: int) -> pd.DataFrame:
    """Points (Web Mercator ``x``, ``y``) counted per cell of a ``per_side`` x ``per_side``
    grid over each tile of zoom ``z``: one row per non-empty cell with its tile (``tx``,
    ``ty``, XYZ scheme), its centre (``x``, ``y``) and ``points``, sorted by tile then cell."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    side = (1 << z) * per_side                      # cells along one side of the world
    size = 2 * HALF / side
    cx = np.clip(np.floor((x + HALF) / size), 0, side - 1).astype(np.int64)
    cy = np.clip(np.floor((HALF - y) / size), 0, side - 1).astype(np.int64)
    tx, ty = cx // per_side, cy // per_side
    # sort by tile first, so the rows of one tile are contiguous
    tiles_per_side = 1 << z
    key = ((tx * tiles_per_side + ty) * per_side + cx % per_side) * per_side + cy % per_side
    uniq, counts = np.unique(key, return_counts=True)
    ccy = uniq % per_side
    rest = uniq // per_side
    ccx = rest % per_side
    tile = rest // per_side
    utx, uty = tile // tiles_per_side, tile % tiles_per_side
    gx, gy = utx * per_side + ccx, uty * per_side + ccy
    return pd.DataFrame({"z": np.full(len(uniq), z, dtype=np.int64), "tx": utx, "ty": uty,
                         "x": -HALF + (gx + 0.5) * size, "y": HALF - (gy + 0.5) * size,
                         "points": counts.astype(np.int64)}, columns=COLUMNS)


def generalise(x: np.ndarray, y: np.ndarray, scheme: Scheme = SCHEME) -> pd.DataFrame:
    """The cells of every generalised zoom of ``scheme`` (rows of :func:`cells_at`)."""
    parts = [cells_at(x, y, z, scheme.cells_per_side(z)) for z in scheme.zooms]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def shown_counts(points, small: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The cells' counts as a view may see them: ``(points, band)``, where ``band`` is
    ``geo.disclosure.small_count``'s label (``"<5"``) for a small count, whose ``points`` is then
    withheld (None); ``small=None`` (the analysts' view) keeps every count."""
    pts = np.asarray(points, dtype=np.int64)
    if small is None:
        return pts.astype(object), np.full(len(pts), None, dtype=object)
    shown = np.array(disclosure.small_counts(pts.tolist(), small), dtype=object)
    banded = np.array([isinstance(v, str) for v in shown], dtype=bool)
    out = pts.astype(object)
    out[banded] = None
    band = np.full(len(pts), None, dtype=object)
    band[banded] = shown[banded]
    return out, band


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS84 point at zoom ``z``."""
    n = 1 << z
    lat = max(min(lat, 85.0511), -85.0511)
    r = math.radians(lat)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_over(bounds, z: int) -> list[tuple[int, int, int]]:
    """Every tile of zoom ``z`` over WGS84 ``bounds`` (min lon, min lat, max lon, max lat)."""
    x0, y0 = tile_of(bounds[0], bounds[3], z)
    x1, y1 = tile_of(bounds[2], bounds[1], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def opening_zoom(bounds, tiles: int = 4) -> int:
    """The largest zoom at which ``bounds`` fits in at most ``tiles`` tiles: the zoom a map opens
    at to show the whole area (0 when nothing is known)."""
    if bounds is None:
        return 0
    for z in range(22, -1, -1):
        x0, y0 = tile_of(bounds[0], bounds[3], z)
        x1, y1 = tile_of(bounds[2], bounds[1], z)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= tiles:
            return z
    return 0
