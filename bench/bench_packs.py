"""Time the MOG pack's most worrying cases and a first pack build on a store, and check that
``geo.meetings.scorecards.worrying_cases`` gives exactly the frame of a reference implementation.

    python bench/bench_packs.py --db sqlite:///CITY [--ref REV] [--periods 3] [--pack]

``--ref REV``: the reference is ``geo/meetings/scorecards.py`` at git revision REV (default ``main``: the
per-child loop before vectorising), loaded as a separate module. For each period (the last
``--periods`` quarters of the data) both are run on the pack's frames (``maps.packs.load_pack_data``)
with the pack's arguments, timed, and compared with ``DataFrame.equals`` (exact: same rows, order,
scores, reasons, episodes and times). ``--pack``: also time a first ``build_pack("mog")`` for a
mog_member. Prints a Markdown table; machine load (``uptime``) is printed with it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from revision import module_at  # noqa: E402


def reference_module(rev: str):
    return module_at(rev, "geo/meetings/scorecards.py", "scorecards_ref")


def run(mod, data, period, n=6):
    from maps import packs
    ep, ch, rh = data["episodes"], data["children"], data["return_interviews"]
    days = max(1, int((period.stop - period.start).days))
    t0 = time.perf_counter()
    rows = mod.worrying_cases(ep, ch, rh, now=packs.contract_period(period).as_of, n=n,
                              window_days=days, view=packs.person_view(data))
    return time.perf_counter() - t0, pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--ref", default="main")
    ap.add_argument("--periods", type=int, default=3)
    ap.add_argument("--n", type=int, default=6, help="cases asked for (the pack: 6)")
    ap.add_argument("--pack", action="store_true")
    a = ap.parse_args()
    from geo.meetings import scorecards as new
    from geo.storage.store import open_store
    from maps import packs

    store = open_store(a.db)
    t0 = time.perf_counter()
    data = packs.load_pack_data(store)
    load_s = time.perf_counter() - t0
    ref = reference_module(a.ref)
    end = pd.to_datetime(data["episodes"]["reported_at"], utc=True).max().normalize()
    print(f"machine: {os.uname().nodename}, {os.cpu_count()} cores; load: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"store {a.db}: {len(data['episodes'])} episodes, {len(data['children'])} child records; "
          f"load_pack_data {load_s:.1f} s\n")
    print(f"| period | n | reference ({a.ref}) s | vectorised s | ratio | rows | equal |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for k in range(a.periods):
        stop = end - pd.DateOffset(months=3 * k)
        period = packs.Period.parse((stop - pd.DateOffset(months=3)).date(), stop.date())
        for n in sorted({a.n, 10**6}):
            t_ref, f_ref = run(ref, data, period, n)
            t_new, f_new = run(new, data, period, n)
            same = f_ref.equals(f_new)
            ok &= same
            print(f"| {period.label()} | {n if n < 10**6 else 'all'} | {t_ref:.2f} | {t_new:.3f} | "
                  f"{t_ref / max(t_new, 1e-9):.0f}x | {len(f_new)} | {same} |")
    if a.pack:
        view = packs.View(role="mog_member", secret="bench-secret-" + "x" * 32)
        built = {}
        for name, mod in ((f"reference ({a.ref})", ref), ("vectorised", new)):
            real = new.worrying_cases
            new.worrying_cases = mod.worrying_cases       # maps.packs calls geo.meetings.scorecards.worrying_cases
            try:
                for k in ("_graph", "_person_view"):
                    data.pop(k, None)
                t0 = time.perf_counter()
                built[name] = packs.build_pack("mog", data, str(period.start.date()), str(period.end.date()),
                                               view=view)
                print(f"\nfirst build_pack('mog') for a mog_member ({period.label()}), worrying_cases "
                      f"{name}: {time.perf_counter() - t0:.1f} s (frames already loaded)")
            finally:
                new.worrying_cases = real
        import re
        # the worrying-cases section of each (the rest of a pack holds its build time and
        # folium's random element ids)
        sect = {k: re.search(r"<section id='worrying'>.*?</section>", v, re.S) for k, v in built.items()}
        same = all(sect.values()) and len({m.group(0) for m in sect.values()}) == 1
        ok &= same
        print(f"worrying-cases sections of the two packs identical: {same}")
    print("\nall equal" if ok else "\nDIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
