"""Point layers of Mapbox Vector Tiles (spec 2.1) written directly as protobuf bytes.

The tiles of a pre-generalised tileset (``api.jobs.tilesets``) are one layer of point features
with one property each. ``mapbox_vector_tile.encode`` makes them through shapely and the protobuf
runtime, feature by feature; :func:`encode_point_tiles` makes the very same bytes for many tiles
at once with numpy: the same quantisation (``quantize_bounds``, ``extents``, y up), the same
feature order, the same key and value tables (each in order of first use in its tile, one value
table shared by all keys) and the same value types (``str`` -> string_value, ``int`` ->
int_value, ``float`` -> double_value, ``bool`` -> bool_value), fields in field-number order as
the protobuf runtime writes them. A tile without features is ``b""``.
"""
from __future__ import annotations

import struct
from numbers import Integral, Real

import numpy as np


def quantise(x, y, minx, miny, maxx, maxy, extent) -> tuple[np.ndarray, np.ndarray]:
    """Tile coordinates (y down) of Web Mercator points, as ``mapbox_vector_tile.encode`` makes
    them with ``quantize_bounds=(minx, miny, maxx, maxy)``, ``extents=extent`` and
    ``y_coord_down=False``: the same float operations in the same order, rounded half to even
    (Python's ``round``), then y flipped. The bounds may be scalars or per-point arrays."""
    xfac = extent / (np.asarray(maxx, dtype=float) - minx)
    yfac = extent / (np.asarray(maxy, dtype=float) - miny)
    qx = np.rint(xfac * (np.asarray(x, dtype=float) - minx)).astype(np.int64)
    qy = np.rint(yfac * (np.asarray(y, dtype=float) - miny)).astype(np.int64)
    return qx, extent - qy


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1                    # negative int64: ten bytes of two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return bytes([tag]) + _varint(len(payload)) + payload


def _value(v) -> bytes:
    """The ``values`` entry of a layer (``tile.value`` message, as a field of the layer)."""
    if isinstance(v, (bool, np.bool_)):
        msg = b"\x38" + _varint(int(v))
    elif isinstance(v, str):
        msg = _field(0x0A, v.encode())
    elif isinstance(v, Integral):
        msg = b"\x20" + _varint(int(v))
    elif isinstance(v, Real):
        msg = b"\x19" + struct.pack("<d", float(v))
    else:
        raise TypeError(f"no MVT value type for {v!r}")
    return _field(0x22, msg)


def _varint_len(v: np.ndarray) -> np.ndarray:
    n = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        n += v >= (np.uint64(1) << np.uint64(7 * k))
    return n


def _put(buf, pos, v, on=None):
    """Write the varint ``v`` (uint64 array) at column ``pos`` of each row of ``buf`` (rows where
    ``on``); the next free column."""
    n = _varint_len(v)
    if on is not None:
        n = np.where(on, n, 0)
    rows = np.arange(len(v))
    for j in range(int(n.max(initial=0))):
        m = j < n
        byte = ((v >> np.uint64(7 * j)) & np.uint64(0x7F)) | np.where(j < n - 1, 0x80, 0).astype(np.uint64)
        buf[rows[m], pos[m] + j] = byte[m]
    return pos + n


def _first_use(group: np.ndarray, code: np.ndarray):
    """Renumber ``code`` (>= 0; -1 none) within each ``group`` (non-decreasing) in order of
    first use: (the local numbers, and the codes of each group's table with its group, in
    table order)."""
    local = np.full(len(code), -1, dtype=np.int64)
    idx = np.flatnonzero(code >= 0)
    if not len(idx):
        return local, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    g, c = group[idx], code[idx]
    order = np.lexsort((idx, c, g))                    # by group, code, then position
    gs, cs = g[order], c[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (gs[1:] != gs[:-1]) | (cs[1:] != cs[:-1])
    pair = np.cumsum(new) - 1                          # (group, code) pair of each sorted row
    pg, pc, pfirst = gs[new], cs[new], idx[order][new]
    by_use = np.lexsort((pfirst, pg))                  # pairs by group, then first use
    starts = np.flatnonzero(np.r_[True, pg[by_use][1:] != pg[by_use][:-1]])
    rank = np.empty(len(by_use), dtype=np.int64)
    rank[by_use] = np.arange(len(by_use)) - np.repeat(starts, np.diff(np.r_[starts, len(by_use)]))
    local[idx[order]] = rank[pair]
    return local, pg[by_use], pc[by_use]


def encode_point_tiles(name: str, n_tiles: int, tile: np.ndarray, x: np.ndarray, y: np.ndarray,
                       key: np.ndarray, keys, value: np.ndarray, values, extent: int) -> list[bytes]:
    """The MVT of each of ``n_tiles`` tiles: one layer ``name`` of point features, those of tile
    ``i`` the rows with ``tile == i`` (``tile`` non-decreasing) in row order, each at tile
    coordinates (``x``, ``y``: :func:`quantise`) with the property ``keys[key]`` =
    ``values[value]`` (none where either code is -1). Equal to ``mapbox_vector_tile.encode([{
    "name": name, "features": [...]}], default_options={"extents": extent, ...})`` of the same
    features; a tile without features is ``b""``."""
    tile = np.asarray(tile, dtype=np.int64)
    key, value = np.asarray(key, dtype=np.int64), np.asarray(value, dtype=np.int64)
    tagged = (key >= 0) & (value >= 0)
    key, value = np.where(tagged, key, -1), np.where(tagged, value, -1)
    k_local, k_tile, k_code = _first_use(tile, key)
    v_local, v_tile, v_code = _first_use(tile, value)

    # each feature as a layer field: 12 len [12 len key value] 18 01 22 len 09 zz(x) zz(y); all
    # lengths fit one byte (at most 2 + 10 + 2 + 13)
    n = len(tile)
    zx = ((x << 1) ^ (x >> 31)).astype(np.uint64)     # zig-zag of a uint32 geometry delta
    zy = ((y << 1) ^ (y >> 31)).astype(np.uint64)
    ku, vu = np.maximum(k_local, 0).astype(np.uint64), np.maximum(v_local, 0).astype(np.uint64)
    buf = np.zeros((n, 30), dtype=np.uint8)
    pos = np.zeros(n, dtype=np.int64)
    buf[:, 0] = 0x12
    pos += 2                                           # the feature's length at column 1
    buf[tagged, 2] = 0x12
    pos += 2 * tagged                                  # the tags' length at column 3
    pos = _put(buf, pos, ku, tagged)
    pos = _put(buf, pos, vu, tagged)
    buf[tagged, 3] = (pos - 4)[tagged]
    rows = np.arange(n)
    for b in (0x18, 0x01, 0x22):
        buf[rows, pos] = b
        pos += 1
    g0 = pos.copy()                                    # the geometry's length at column g0
    buf[rows, g0 + 1] = 0x09                           # MoveTo, count 1
    pos = _put(buf, pos + 2, zx)
    pos = _put(buf, pos, zy)
    buf[rows, g0] = pos - g0 - 1
    buf[:, 1] = pos - 2
    flat = buf[np.arange(buf.shape[1]) < pos[:, None]].tobytes()
    ends = np.cumsum(pos)

    key_bytes = [_field(0x1A, str(k).encode()) for k in keys]
    value_bytes = [_value(v) for v in values]
    head = _field(0x0A, name.encode())
    tail = b"\x28" + _varint(extent) + b"\x78\x02"     # extent, version 2
    f_at = np.searchsorted(tile, np.arange(n_tiles + 1))
    k_at = np.searchsorted(k_tile, np.arange(n_tiles + 1))
    v_at = np.searchsorted(v_tile, np.arange(n_tiles + 1))
    out = []
    for t in range(n_tiles):
        a, b = f_at[t], f_at[t + 1]
        if a == b:
            out.append(b"")
            continue
        layer = b"".join([head, flat[ends[a] - pos[a]:ends[b - 1]],
                          *[key_bytes[i] for i in k_code[k_at[t]:k_at[t + 1]]],
                          *[value_bytes[i] for i in v_code[v_at[t]:v_at[t + 1]]], tail])
        out.append(_field(0x1A, layer))
    return out


def factorise(values) -> tuple[np.ndarray, list]:
    """Codes (-1 for None: no property) and the distinct values in order of first appearance, as
    ``mapbox_vector_tile`` tells values apart (by equality, booleans apart from numbers)."""
    seen: dict = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if v is None:
            codes[i] = -1
            continue
        k = (type(v) is bool, v)
        c = seen.get(k)
        if c is None:
            c = seen[k] = len(seen)
        codes[i] = c
    return codes, [v for _, v in seen]
