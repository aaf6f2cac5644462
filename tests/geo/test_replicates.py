"""Monte Carlo replicates over worker processes (geo.stats.replicates): the same scores, in the same
order, whatever the number of workers; an early stop ends the workers."""
import os

import numpy as np
import pytest

from geo.stats import replicates as rep


class _Sum:
    """A picklable scorer: a statistic of the drawn labelling that depends on every value."""

    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return float(np.dot(self.w, x)), int(x[0]), os.getpid()


def _draws(seed, n=500):
    rng = np.random.default_rng(seed)
    base = np.arange(n, dtype=np.int64) * 7
    return lambda: base[rng.permutation(n)]


@pytest.fixture
def pool_always(monkeypatch):
    monkeypatch.setattr(rep, "POOL_SECONDS", -1.0)     # start workers however small the job


@pytest.mark.parametrize("workers, send_as", [(1, None), (2, None), (3, None), (2, np.int16)])
def test_same_scores_in_order_for_any_number_of_workers(pool_always, workers, send_as):
    score = _Sum(np.random.default_rng(9).normal(size=500))
    first = score(_draws(4)())                                     # the first draw of the stream
    want = list(rep.replicates(_draws(4), score, 60, workers=1))
    got = list(rep.replicates(_draws(4), score, 60, workers=workers, send_as=send_as))
    assert [g[:2] for g in got] == [w[:2] for w in want] and got[0][:2] == first[:2]
    assert len({g[:2] for g in got}) == 60
    assert {w[2] for w in want} == {os.getpid()}
    # the first batch is scored here (to time it), the rest in the workers
    assert (len({g[2] for g in got} - {os.getpid()}) > 0) == (workers > 1)


class _SumMany(_Sum):
    """The same scorer with a batch form (as the near-repeat table has)."""

    def many(self, xs):
        return [self(x) for x in xs]


@pytest.mark.parametrize("workers, count", [(1, 60), (2, 60), (2, 61), (1, 5)])
def test_batch_scorer_gives_the_same_scores_in_order(pool_always, workers, count):
    """score_many scores the draws BATCH at a time: the same draws in the same order, the same
    scores, whatever the number of workers and however the count divides into batches."""
    score = _SumMany(np.random.default_rng(9).normal(size=500))
    want = list(rep.replicates(_draws(4), score, count, workers=1))
    got = list(rep.replicates(_draws(4), score, count, workers=workers, score_many=score.many))
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert (len({g[2] for g in got} - {os.getpid()}) > 0) == (workers > 1)


def test_closing_early_stops_the_workers(pool_always):
    score = _Sum(np.ones(500))
    drawn = []

    def draw(d=_draws(5)):
        drawn.append(1)
        return d()

    it = rep.replicates(draw, score, 10_000, workers=2)
    first = [next(it) for _ in range(30)]
    it.close()
    assert len(first) == 30 and len(drawn) < 200                  # a few batches in flight, not the run


def test_default_workers_is_at_least_one():
    assert rep.default_workers() >= 1


def test_workers_start_beside_other_threads(pool_always):
    """The pipeline runs an RSS sampler thread during every step: the workers still start."""
    import threading

    stop = threading.Event()
    th = threading.Thread(target=stop.wait, daemon=True)
    th.start()
    try:
        got = list(rep.replicates(_draws(6), _Sum(np.ones(500)), 40, workers=2))
    finally:
        stop.set()
        th.join()
    assert len(got) == 40 and {g[2] for g in got} - {os.getpid()}
