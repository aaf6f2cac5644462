#!/usr/bin/env python
"""What a MOG member waits for on a store: `wayfinder scorecard mog` and `wayfinder pack mog`,
timed for each code tree given, on the same store, one after the other (#19, "faster where
users wait").

    .venv/bin/python bench/bench_meetings.py --db sqlite:///STORE --from 2017-03-01 --to 2017-03-31
        [--pack-from 2017-03-18] --code before=/work/wt/old --code after=. [--repeat 2]

Each command runs in its own process (``PYTHONPATH`` = the tree) on a copy of the store and its
keys file (a pack writes an audit entry; the keys make the pseudonyms); wall seconds and peak RSS from ``os.wait4``. The outputs of every tree
are compared with the first's: the scorecard JSON byte for byte, the pack HTML after removing
folium's random element ids and the produced-at time. Prints a Markdown table with the load.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IDS = re.compile(rb"_[0-9a-f]{32}")
PRODUCED = re.compile(rb"Produced by Wayfinder [0-9-]+ [0-9:]+ UTC")


def timed(cmd: list[str], code: Path, db: str, out: Path | None = None) -> tuple[float, int, bytes]:
    env = {**os.environ, "PYTHONPATH": str(code), "WAYFINDER_DB": db}
    t0 = time.perf_counter()
    with open(os.devnull, "w") as null:
        p = subprocess.Popen([sys.executable, "-m", "api.cli", *cmd], cwd=code, env=env,
                             stdout=subprocess.PIPE, stderr=null)
        stdout = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {cmd} in {code}")
    return time.perf_counter() - t0, ru.ru_maxrss // 1024, out.read_bytes() if out else stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="sqlite:///PATH of a store after `wayfinder run`")
    ap.add_argument("--from", dest="start", required=True)
    ap.add_argument("--to", dest="end", required=True)
    ap.add_argument("--pack-from", help="the pack's first day (default --from)")
    ap.add_argument("--code", action="append", required=True, help="NAME=PATH of a code tree")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    src = Path(a.db.removeprefix("sqlite:///"))
    work = Path(tempfile.mkdtemp(prefix="wf_meetings_"))
    trees = [(n, Path(p).resolve()) for n, p in (c.split("=", 1) for c in a.code)]
    load = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
    rows, first = [], {}
    for r in range(a.repeat):
        for name, code in trees:
            db = work / f"{name}.sqlite"
            shutil.copy(src, db)
            keys = src.with_name(src.name + ".keys")       # the install's pseudonym keys
            if keys.is_dir():
                shutil.rmtree(db.with_name(db.name + ".keys"), ignore_errors=True)
                shutil.copytree(keys, db.with_name(db.name + ".keys"))
            url = f"sqlite:///{db}"
            sc = timed(["scorecard", "mog", "--from", a.start, "--to", a.end, "--json"], code, url)
            html = work / f"{name}.html"
            pk = timed(["pack", "mog", "--from", a.pack_from or a.start, "--to", a.end,
                        "--out", str(html)], code, url, html)
            outs = {"scorecard": sc[2], "pack": PRODUCED.sub(b"", IDS.sub(b"", pk[2]))}
            same = {k: (first.setdefault(k, v) == v) for k, v in outs.items()}
            rows.append(f"| {r + 1} | {name} | {sc[0]:.1f} | {sc[1]:,} | {pk[0]:.1f} | {pk[1]:,} | "
                        f"{'yes' if all(same.values()) else 'NO: ' + str(same)} |")
            db.unlink()
    load.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"Store: {src}; scorecard {a.start} to {a.end}; pack {a.pack_from or a.start} to {a.end}")
    print(f"Load: {load[0]} / {load[1]}\n")
    print("| run | code | scorecard mog s | peak RSS MB | pack mog s | peak RSS MB | outputs equal to the first |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
