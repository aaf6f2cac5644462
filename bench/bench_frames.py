#!/usr/bin/env python
"""The store's frames, old code against new, on an existing store: equal, and how much CPU.

    .venv/bin/python bench/bench_frames.py --db sqlite:///STORE [--old COMMIT] [--reps 3]
                                           [--check-only | --bench-only] [FRAME ...]

The old ``geo/storage/store.py`` is taken from COMMIT (``git show``, default ``main``) and
imported beside the current one in the same process, both over the same schema. Checks that every
frame (each ``_frame_*`` builder, or the FRAMEs named) built by the new code equals the old one
(``pandas.testing.assert_frame_equal`` exact, plus the type of every object cell: None is not NaN,
lists stay lists), alone and inside ``frames()`` calls as the pipeline makes them; then times each
frame and the graph step's ``frames(network.FRAMES)`` (best of --reps, ``time.process_time`` and
wall), old and new alternating.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from revision import module_at  # noqa: E402


def old_module(commit: str):
    return module_at(commit, "geo/storage/store.py", "old_store")


def same(a: pd.DataFrame, b: pd.DataFrame, label: str) -> None:
    assert type(a) is type(b), (label, type(a), type(b))
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True,
                                  check_column_type=True, check_frame_type=True)
    for c in a.columns:
        if a[c].dtype == object:
            assert [type(v) for v in a[c].tolist()] == [type(v) for v in b[c].tolist()], (label, c)


def check(old, new, names, groups) -> None:
    for name in names:
        try:
            a = old.frame(name)
        except Exception as exc:          # the same error from both
            try:
                new.frame(name)
            except Exception as exc2:
                assert type(exc) is type(exc2) and str(exc) == str(exc2), (name, exc, exc2)
                print(f"{name:24s} both raise {type(exc).__name__}")
                continue
            raise AssertionError(f"{name}: old raised {exc!r}, new did not")
        same(a, new.frame(name), name)
        print(f"{name:24s} equal ({len(a)} rows, {a.shape[1]} columns)")
    for group in groups:
        fa, fb = old.frames(group, missing_ok=group), new.frames(group, missing_ok=group)
        for n in group:
            assert (fa[n] is None) == (fb[n] is None), n
            if fa[n] is not None:
                same(fa[n], fb[n], f"frames():{n}")
        print(f"frames({', '.join(group)}) equal")


def bench(old, new, jobs, reps: int) -> None:
    def timed(fn):
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        fn()
        return time.process_time() - c, time.perf_counter() - w
    print(f"load {os.getloadavg()}")
    print("| frame | old CPU s | new CPU s | old wall s | new wall s | CPU x |")
    print("|---|---|---|---|---|---|")
    for label, fn in jobs:
        o, n = [], []
        for _ in range(reps):
            o.append(timed(lambda: fn(old)))
            n.append(timed(lambda: fn(new)))
        oc, nc = min(x[0] for x in o), min(x[0] for x in n)
        ow, nw = min(x[1] for x in o), min(x[1] for x in n)
        print(f"| {label} | {oc:.3f} | {nc:.3f} | {ow:.3f} | {nw:.3f} | {oc / max(nc, 1e-9):.1f} |",
              flush=True)
    print(f"load {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--old", default="main")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--bench-only", action="store_true")
    ap.add_argument("frames", nargs="*")
    args = ap.parse_args()
    from api.jobs.network import FRAMES
    from api.jobs.pipeline import GROUP_FRAMES
    from geo.storage import store as new_mod
    old_mod = old_module(args.old)
    old, new = old_mod.Store(args.db, migrate=False), new_mod.Store(args.db, migrate=False)
    names = args.frames or sorted(n[len("_frame_"):] for n in dir(new_mod.Store)
                                  if n.startswith("_frame_"))
    if not args.bench_only:
        groups = [] if args.frames else [FRAMES, GROUP_FRAMES, tuple(names), ("place_events",),
                                         ("episodes", "place_events")]
        check(old, new, names, groups)
    if not args.check_only:
        jobs = [(n, lambda s, n=n: s.frame(n)) for n in names]
        if not args.frames:
            jobs.append(("frames(network.FRAMES)", lambda s: s.frames(FRAMES, missing_ok=FRAMES)))
        bench(old, new, jobs, args.reps)


if __name__ == "__main__":
    main()
