"""Monte Carlo replicates over worker processes, with results that do not depend on how many.

A Monte Carlo test (a permutation scan, a near-repeat table) draws ``R`` labellings of the data
from one seeded stream and scores each. :func:`replicates` draws them here, in replicate order,
from the caller's stream, and yields each score in that order; with ``workers > 1`` worker
processes do the scoring. The draws are the same whatever the number of workers, so the
scores, every p-value and a sequential Monte Carlo stop (Besag & Clifford 1991, decided by the
caller over the scores in replicate order) are the same too.

Workers are forked (they inherit the scorer; only the draws are sent, in batches), and only when
the first replicates, scored here, show that the rest would take longer than
:data:`POOL_SECONDS`. ``fork`` rather than ``spawn``: ``spawn`` re-runs a calling script that
lacks an ``if __name__ == "__main__"`` guard (and the executor then hangs), and would send the
scorer by pickle. The parent may run other threads (the pipeline's RSS sampler and progress bar,
a Dask client); a forked child could deadlock only on a lock one of them held at the fork, and
the workers touch nothing of theirs: they run the scorer and the executor's own queues. Where
``fork`` does not exist everything runs here. Should a worker fail, its batch is scored here and
the rest run here.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

__all__ = ["replicates", "default_workers", "POOL_SECONDS"]

#: start worker processes only when the replicates left would take longer than this here
POOL_SECONDS = 3.0
#: replicates per batch sent to a worker
BATCH = 8

_SCORE: Callable | None = None
_SCORE_MANY: Callable | None = None


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                      # not Linux
        return os.cpu_count() or 1


def _init(score: Callable, score_many: Callable | None = None) -> None:
    global _SCORE, _SCORE_MANY
    _SCORE, _SCORE_MANY = score, score_many


def _forkable() -> bool:
    """Worker processes can be forked (POSIX)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _scored(batch: np.ndarray, score: Callable, score_many: Callable | None) -> list:
    """The scores of a stack of draws: ``score_many`` of the stack, else ``score`` of each."""
    if score_many is not None:
        return list(score_many(batch))
    return [score(x) for x in batch]


def _run(batch: np.ndarray, dtype) -> list:
    return _scored(batch.astype(dtype), _SCORE, _SCORE_MANY)


def replicates(draw: Callable[[], np.ndarray], score: Callable[[np.ndarray], object], count: int,
               workers: int | None = None, send_as=None, score_many: Callable | None = None) -> Iterator:
    """``score(draw())`` for replicates ``0 .. count-1``, yielded in replicate order.

    ``draw`` is called here, in order (the one seeded stream); ``score`` is inherited by the
    forked workers. ``workers``: processes to score in (``None``: :func:`default_workers`; 1:
    all here). ``send_as``: a smaller dtype that holds every draw exactly (the caller knows its
    range, e.g. int16 time units), to send less; the worker restores the draw's own dtype.
    ``score_many``: the scores of a stack of draws ``(k, ...)``, equal to ``score`` of each row,
    for a scorer cheaper per draw in batches; the draws are then scored :data:`BATCH` at a time
    (here and in the workers), drawn in the same order from the same stream.
    Closing the iterator early (a sequential stop) stops the workers."""
    workers = default_workers() if workers is None else max(1, int(workers))
    done, t0 = 0, time.perf_counter()
    step = BATCH if score_many is not None else 1         # draws scored together here

    def here(k: int):                                     # the next k draws, in order, scored
        return _scored(np.stack([draw() for _ in range(k)]), score, score_many)

    while done < min(count, BATCH):                       # the first batch here: how long do they take?
        k = min(step, count - done)
        yield from here(k)
        done += k
    left = (time.perf_counter() - t0) / max(done, 1) * (count - done)
    if workers > 1 and left > POOL_SECONDS and _forkable():
        ex = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_init, initargs=(score, score_many))
        pending: deque = deque()
        try:
            while done < count or pending:
                while done < count and len(pending) < 2 * workers:
                    first = draw()
                    batch = np.empty((min(BATCH, count - done),) + first.shape, send_as or first.dtype)
                    batch[0] = first
                    for k in range(1, len(batch)):
                        batch[k] = draw()
                    pending.append((ex.submit(_run, batch, first.dtype), (batch, first.dtype)))
                    done += len(batch)
                fut, sent = pending.popleft()
                try:
                    out = fut.result()
                except Exception:                         # a failed worker: this batch and the rest here
                    ex.shutdown(wait=False, cancel_futures=True)
                    for b, dtype in [sent] + [b for _, b in pending]:
                        yield from _scored(b.astype(dtype), score, score_many)
                    pending.clear()
                    break
                yield from out
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
    while done < count:
        k = min(step, count - done)
        yield from here(k)
        done += k
