"""Nothing flagged by chance (issue 13): null city drops through the real path (generate, ingest
into SQLite, the premises test and the cluster scan as ``wayfinder analyse`` runs them).

Two nulls: the generator's ``--null`` (no planted structure) and ``--null-model housemates``
(children go missing on their own timelines and are found back at their own homes, so housemates
share a found-at place by chance; geo.scenario.nulls). The
rule: no premises flagged at q < 0.05 and no found-at cluster significant (a location of
concern). The planted recall on a planted drop is in test_analyse_planted.py. bench/null_inference.py
runs the same on 20 + 20 drops (bench/RESULTS_inference.md).
"""
from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from null_inference import one_drop  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("nulls"))
    # housemates 203: main's scan called a cluster at an unrecorded home a location of concern
    # (one child found there in 3 episodes, a housemate once, four chance points nearby, 0.6
    # expected; issue 13): the child's habitual place is now its own, not evidence of a gathering
    jobs = [("null", 7), ("housemates", 8), ("housemates", 9), ("housemates", 203)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        return [f.result() for f in [pool.submit(one_drop, work, k, s, 199, False) for k, s in jobs]]


def test_null_drops_flag_no_premises(drops):
    assert all(d["premises"] > 1000 for d in drops)
    assert [d["premises_flagged"] for d in drops] == [0, 0, 0, 0], drops


def test_null_drops_have_no_location_of_concern(drops):
    assert drops[0]["clusters"] > 20  # the plain null has descriptive clusters: none may be significant
    assert [d["clusters_significant"] for d in drops] == [0, 0, 0, 0], drops


def test_housemates_drops_have_no_more_scan_clusters_than_chance(tmp_path):
    """The space-time scan on housemates null drops through the real path (generate, ingest,
    identity resolution, the scan as ``wayfinder analyse`` runs it; bench/bench_null_spacetime.py,
    drops 0-3, 199 replications): a reported cluster with p < 0.05 in at most 1 of the 4. The
    scan is a 5 % test on these drops (drop 0 flags by chance: its p is as small with the true
    child ids and with the exact event permutation); bench/RESULTS_spacetime.md reports 120
    drops with the exact binomial interval."""
    from bench_null_spacetime import one_drop as scan_drop
    rows = [scan_drop(i, tmp_path, 199, null="housemates", scan_only=True) for i in range(4)]
    assert all(r["scan_events"] > 3000 for r in rows), rows
    assert sum(r["scan_min_p"] < 0.05 for r in rows) <= 1, [r["scan_min_p"] for r in rows]
