"""Benchmark: co-missing group detection on a national-scale episodes frame.

    .venv/bin/python bench/bench_groups.py [--episodes 1000000] [--naive 50000] [--seed 1]

1. Generates a synthetic national episodes frame (vectorised; ``--episodes`` rows, ~0.3 children
   per episode, 50 cities, 10 % of children in residential homes of 4, planted groups of 2-4
   children missing together 2-5 times, found together and sometimes recorded found_with each
   other) and writes it to a parquet file.
2. In a fresh process (so the peak RSS is the detection's own, data included) loads it and runs
   ``network.groups.co_missing_groups``; reports wall time, peak RSS and recovery (ARI) of the
   planted groups.
3. On a ``--naive``-episode subset, the same pair conditions computed by a naive pandas
   self-merge (chunked cross join, then the time and place filters) next to
   ``co_episode_pairs`` on the same subset: times, ratio, and that both find the same pairs.

Targets (issue 6): 1M episodes in <= 30 s and <= 4 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T0 = pd.Timestamp("2016-04-01", tz="UTC")


def synthetic_national(n_episodes: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Episodes and children frames (docs/FRAMES.md columns) and truth {person_id: group}."""
    rng = np.random.default_rng(seed)
    n_children = max(10, int(n_episodes * 0.3))
    n_groups = max(1, n_episodes // 500)
    # planted groups first: members, events
    sizes = rng.integers(2, 5, n_groups)
    events = rng.integers(2, 6, n_groups)
    members = np.arange(sizes.sum())
    gid = np.repeat(np.arange(n_groups), sizes)
    n_planted = int((sizes * events).sum())
    n_bg = n_episodes - n_planted
    # children: homes (10 % residential in homes of 4), group members share a home half the time
    pc_pool = rng.integers(0, 600_000, n_children)
    home_kids = rng.random(n_children) < 0.10
    pc_pool[home_kids] = 1_000_000 + rng.integers(0, max(1, home_kids.sum() // 4), home_kids.sum())
    same_home = rng.random(n_groups) < 0.5
    gh = 2_000_000 + np.arange(n_groups)
    pc_pool[members] = np.where(same_home[gid], gh[gid], pc_pool[members])
    child_ids = np.char.add("C", np.arange(n_children).astype(str))
    children = pd.DataFrame({"child_key": np.char.add("police/", child_ids), "source": "police",
                             "child_id": child_ids,
                             "placement_postcode": np.char.add("PC", pc_pool.astype(str)),
                             "person_id": np.char.add("P", np.arange(n_children).astype(str))})
    # cities
    cities = np.c_[rng.uniform(150_000, 600_000, 50), rng.uniform(50_000, 900_000, 50)]
    w_city = rng.pareto(1.2, 50) + 1
    w_city /= w_city.sum()

    # background episodes, skewed towards some children (persistent missing)
    bg_child = np.minimum((n_children * rng.random(n_bg) ** 2.5).astype(np.int64), n_children - 1)
    bg_child = np.where(np.isin(bg_child, members), bg_child + len(members), bg_child) % n_children
    hours = rng.uniform(0, 365 * 24, n_bg)
    city = rng.choice(50, n_bg, p=w_city)
    fe = cities[city, 0] + rng.normal(0, 6000, n_bg)
    fn = cities[city, 1] + rng.normal(0, 6000, n_bg)
    dur = rng.gamma(1.5, 10, n_bg)
    found_prob = rng.random(n_bg) < 0.8
    # planted: per group event, members reported within 2 h, found within 100 m and 1 h
    ev_group = np.repeat(np.arange(n_groups), events)
    ev_start = rng.uniform(0, 364 * 24, len(ev_group))
    ev_city = rng.choice(50, len(ev_group), p=w_city)
    ev_e = cities[ev_city, 0] + rng.normal(0, 6000, len(ev_group))
    ev_n = cities[ev_city, 1] + rng.normal(0, 6000, len(ev_group))
    ev_back = ev_start + rng.uniform(5, 22, len(ev_group))
    first_member = np.r_[0, np.cumsum(sizes)[:-1]]
    rep_ev = np.repeat(np.arange(len(ev_group)), sizes[ev_group])
    g_of = ev_group[rep_ev]
    offset = np.arange(len(rep_ev)) - np.repeat(np.r_[0, np.cumsum(sizes[ev_group])[:-1]], sizes[ev_group])
    p_child = first_member[g_of] + offset
    p_hours = ev_start[rep_ev] + rng.uniform(0, 2, len(rep_ev))
    p_back = ev_back[rep_ev] + rng.uniform(0, 0.75, len(rep_ev))
    p_e = ev_e[rep_ev] + rng.normal(0, 30, len(rep_ev))
    p_n = ev_n[rep_ev] + rng.normal(0, 30, len(rep_ev))
    named = rng.random(len(rep_ev)) < 0.5
    fw_target = first_member[g_of] + (offset == 0)  # name another member of the group

    child = np.r_[bg_child, p_child]
    rep_h = np.r_[hours, p_hours]
    ret_h = np.r_[hours + dur, p_back]
    n = len(child)
    found_e = np.r_[np.where(found_prob, fe, np.nan), p_e]
    found_n = np.r_[np.where(found_prob, fn, np.nan), p_n]
    empty: list = []
    fw = np.empty(n, dtype=object)
    fw[:] = [empty] * n
    idx = np.flatnonzero(named) + n_bg
    fw[idx] = [[f"child:C{t}"] for t in fw_target[named]]
    episodes = pd.DataFrame({
        "episode_key": np.char.add("police/E", np.arange(n).astype(str)), "source": "police",
        "child_key": children["child_key"].to_numpy()[child],
        "person_id": children["person_id"].to_numpy()[child],
        "reported_at": T0 + pd.to_timedelta(rep_h, unit="h"),
        "returned_at": T0 + pd.to_timedelta(ret_h, unit="h"),
        "found_e": found_e, "found_n": found_n, "found_precision": "postcode",
        "found_text": None, "found_with": fw})
    truth = {f"P{m}": int(g) for m, g in zip(members, gid)}
    return episodes, children, truth


def naive_pairs(episodes: pd.DataFrame, children: pd.DataFrame, window="6h", distance=250.0,
                chunk=100, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The same co-episode conditions by brute force: cross join episodes (``rows``, default
    all) with every episode (in chunks to bound memory), then filter. O(n^2)."""
    w = pd.Timedelta(window)
    home = children.set_index("person_id")["placement_postcode"]
    ep = episodes[["episode_key", "person_id", "reported_at", "returned_at", "found_e", "found_n",
                   "found_with"]].copy()
    ep["home"] = ep["person_id"].map(home)
    ep["named"] = ep["found_with"].map(lambda x: "P" + x[0][7:] if len(x) else None)
    ep = ep.drop(columns="found_with")
    out = []
    rows = np.arange(len(ep)) if rows is None else rows
    for s in range(0, len(rows), chunk):
        a = ep.iloc[rows[s:s + chunk]]
        m = a.merge(ep, how="cross", suffixes=("_a", "_b"))
        m = m[m["person_id_a"] != m["person_id_b"]]
        ra, rb = m["reported_at_a"], m["reported_at_b"]
        first_end = m["returned_at_a"].where(ra <= rb, m["returned_at_b"])
        first_start = ra.where(ra <= rb, rb)
        span = (first_end - first_start).fillna(pd.Timedelta("7D")).clip(
            lower=pd.Timedelta(0), upper=pd.Timedelta("7D")).clip(lower=w)
        overlap = (ra - rb).abs() <= span
        start_close = (ra - rb).abs() <= w
        home_ok = (m["home_a"] == m["home_b"]) & start_close
        d2 = (m["found_e_a"] - m["found_e_b"]) ** 2 + (m["found_n_a"] - m["found_n_b"]) ** 2
        found_ok = (d2 <= distance ** 2) & ((m["returned_at_a"] - m["returned_at_b"]).abs() <= w) & overlap
        named_ok = ((m["named_a"] == m["person_id_b"]) | (m["named_b"] == m["person_id_a"])) & overlap
        keep = home_ok | found_ok | named_ok
        m = m.loc[keep, ["episode_key_a", "episode_key_b"]]
        lo = m.min(axis=1)
        hi = m.max(axis=1)
        out.append(pd.DataFrame({"episode_key_a": lo, "episode_key_b": hi}))
    return pd.concat(out, ignore_index=True).drop_duplicates()


def _child(path: str, truth_path: str, children_path: str) -> None:
    """Runs in a fresh process: load, detect, report JSON on stdout."""
    from sklearn.metrics import adjusted_rand_score

    from network.groups import co_missing_groups
    t0 = time.perf_counter()
    episodes = pd.read_parquet(path)
    children = pd.read_parquet(children_path)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = time.process_time()
    groups = co_missing_groups(episodes, children, seed=0)
    t_detect = time.perf_counter() - t0
    c_detect = time.process_time() - c0
    truth = json.loads(Path(truth_path).read_text())
    pred = {m: g for g, ms in zip(groups["group_id"], groups["members"]) for m in ms}
    universe = sorted(set(truth) | set(pred))
    ari = adjusted_rand_score([truth.get(p, "s" + p) for p in universe],
                              [pred.get(p, "s" + p) for p in universe])
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss = ru.ru_maxrss / 1024 / 1024  # GiB (Linux: KiB)
    print(json.dumps({"episodes": len(episodes), "load_s": round(t_load, 2),
                      "detect_s": round(t_detect, 2), "detect_cpu_s": round(c_detect, 2),
                      "peak_rss_gib": round(rss, 2),
                      "groups": len(groups), "planted": len(set(truth.values())),
                      "ari_planted": round(ari, 4)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--naive", type=int, default=50_000)
    ap.add_argument("--naive-rows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    from network.groups import co_episode_pairs
    t0 = time.perf_counter()
    episodes, children, truth = synthetic_national(args.episodes, args.seed)
    print(f"generated {len(episodes):,} episodes, {len(children):,} children, "
          f"{len(set(truth.values())):,} planted groups in {time.perf_counter() - t0:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ep_path, ch_path, tr_path = (os.path.join(tmp, x) for x in ("ep.parquet", "ch.parquet", "truth.json"))
        episodes.to_parquet(ep_path)
        children.to_parquet(ch_path)
        Path(tr_path).write_text(json.dumps(truth))
        res = subprocess.run([sys.executable, __file__, "--child", ep_path, tr_path, ch_path],
                             capture_output=True, text=True, check=True)
        full = json.loads(res.stdout.strip().splitlines()[-1])
    print("full:", json.dumps(full), flush=True)

    # side by side on a subset: naive self-merge vs sort-and-sweep, same conditions
    rng = np.random.default_rng(args.seed)
    frac = args.naive / len(episodes)
    groups_kept = {g for g in set(truth.values()) if rng.random() < frac}
    members = {p for p, g in truth.items() if g in groups_kept}
    others = children["person_id"][~children["person_id"].isin(truth.keys())
                                   & (rng.random(len(children)) < frac)]
    sub = episodes[episodes["person_id"].isin(members | set(others))]
    sub = sub.reset_index(drop=True)  # about --naive episodes: whole children, whole groups
    sub_children = children[children["person_id"].isin(set(sub["person_id"]))]
    t0 = time.perf_counter()
    fast = co_episode_pairs(sub, sub_children, reasons=("home", "found", "found_with"))
    t_fast = time.perf_counter() - t0
    # the naive cross join is O(n^2): run it for --naive-rows rows (every row of the subset
    # against all others) and scale linearly to the whole subset (each row costs the same)
    rows = min(args.naive_rows, len(sub))
    probe = np.sort(rng.choice(len(sub), rows, replace=False))
    t0 = time.perf_counter()
    slow = naive_pairs(sub, sub_children, rows=probe)
    t_slow = (time.perf_counter() - t0) * len(sub) / rows
    probe_keys = set(sub["episode_key"].iloc[probe])
    fast_set = {(a, b) for a, b in zip(fast["episode_a"], fast["episode_b"])
                if a in probe_keys or b in probe_keys}
    slow_set = set(zip(slow["episode_key_a"], slow["episode_key_b"]))
    print(json.dumps({"subset_episodes": len(sub), "sweep_s": round(t_fast, 3),
                      "naive_rows_run": rows, "naive_self_merge_s_extrapolated": round(t_slow, 1),
                      "ratio": round(t_slow / t_fast, 1), "pairs_sweep_all": len(fast),
                      "pairs_checked": len(slow_set), "same_pairs_on_probe": fast_set == slow_set}))


if __name__ == "__main__":
    main()
