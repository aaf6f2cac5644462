"""Python's cyclic garbage collector paused while many containers are made at once.

Building a frame from millions of rows, or the export text of hundreds of thousands of nodes,
makes lists, tuples and dicts none of which are in reference cycles; each collection the
allocations set off on the way scans the whole heap again (a sixth of the network step's frame
loading, and most of the per-node export work, at national scale). Reference counting frees
everything as usual while the collector is paused.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside the block (restored as it was on the way out)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
