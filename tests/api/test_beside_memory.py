"""The memory two pipeline processes hold at once (api.jobs.beside): the forked process's
private pages, so that pages it still shares with its parent are not counted twice."""
import multiprocessing
import os
import sys

import numpy as np
import pytest

from api.jobs import beside

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


def _child(conn, write: bool, block: np.ndarray):
    if write:
        block += 1.0                     # every page copied on write: now the child's own
    conn.send("ready")
    conn.recv()                          # stay alive while the parent measures
    os._exit(0)


@pytest.mark.parametrize("write", [False, True])
def test_private_memory_of_a_forked_process(write):
    block = np.ones(200 * 2**20 // 8)     # 200 MB resident in the parent before the fork
    mp = multiprocessing.get_context("fork")
    a, b = mp.Pipe()
    p = mp.Process(target=_child, args=(b, write, block))
    p.start()
    try:
        assert a.recv() == "ready"
        rss, private = beside.proc_rss_mb(p.pid), beside.proc_private_mb(p.pid)
        assert rss > 200                                      # RSS counts the shared block
        if write:
            assert private > 190                              # the copied block is its own
        else:
            assert private < 100                              # shared: counted once, in the parent
    finally:
        a.send("done")
        p.join()
    assert beside.proc_private_mb(p.pid) == 0.0               # gone

