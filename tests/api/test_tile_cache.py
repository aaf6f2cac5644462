"""The tile cache is a least-recently-used cache bounded by count and by bytes (dense
national-scale tiles are megabytes each)."""
from api.jobs.layers import LayerCache


def _cache(size=10, nbytes=1000):
    return LayerCache(store=None, settings=None, minimiser=None, tile_cache_size=size,
                      tile_cache_bytes=nbytes)


def test_bounded_by_bytes_least_recently_used_first():
    c = _cache()
    for k in "abc":
        c.tile_put(k, b"x" * 400)
    assert c.tile_get("a") is None                       # 1,200 bytes: the oldest went
    assert c.tile_get("c") is not None and c.tile_get("b") == b"x" * 400
    c.tile_put("d", b"y" * 400)                          # b was used after c: c goes
    assert c.tile_get("c") is None and c.tile_get("b") is not None
    assert c._tile_total == 800 == sum(len(v) for v in c._tiles.values())


def test_replaced_and_oversized_tiles_keep_the_count_right():
    c = _cache()
    c.tile_put("a", b"x" * 600)
    c.tile_put("a", b"x" * 100)                          # replaced, not counted twice
    assert c._tile_total == 100
    c.tile_put("big", b"z" * 1001)                       # larger than the whole cache
    assert c.tile_get("big") is None and c.tile_get("a") is not None


def test_bounded_by_count_too():
    c = _cache(size=2, nbytes=10**6)
    for k in "abc":
        c.tile_put(k, b"t")
    assert list(c._tiles) == ["b", "c"] and c._tile_total == 2
