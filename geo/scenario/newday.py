"""A day's new data from a generated drop: hold back its newest records (``hold_back_newest``),
so a store can take the rest first and the held-back part as the next delivery
(``wayfinder run --incremental``, issue #19 item 3; tests and bench/bench_incremental.py)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def _when(values: pd.Series) -> pd.Series:
    """The drop's date-times (ISO or UK day-first, as the contract allows), UTC."""
    return pd.to_datetime(values, format="mixed", dayfirst=True, utc=True, errors="coerce")


def hold_back_newest(drop: str | Path, base: str | Path, new: str | Path,
                     share: float) -> dict:
    """Copy the CSV drop `drop` into `base`, less its newest days: the newest `share` of
    episodes (by reported_at) with their return interviews, the newest `share` of return
    interviews (by held_at, else offered_at, else notified_at: interviews of older episodes)
    and the newest `share` of intelligence (by recorded_at), which are written to `new` (same
    headers). Every other file
    goes whole into `base`. Returns the counts held back per file."""
    drop, base, new = Path(drop), Path(base), Path(new)
    base.mkdir(parents=True, exist_ok=True)
    new.mkdir(parents=True, exist_ok=True)
    read = lambda name: pd.read_csv(drop / name, dtype=str, keep_default_na=False)
    ep = read("episodes.csv")
    t = _when(ep["reported_at"])
    late = (t > t.quantile(1 - share)).to_numpy()
    rhi = read("return_interviews.csv")
    tr = _when(rhi["held_at"]).fillna(_when(rhi["offered_at"])).fillna(_when(rhi["notified_at"]))
    rhi_late = (rhi["episode_id"].isin(ep.loc[late, "episode_id"])
                | (tr > tr.quantile(1 - share))).to_numpy()
    intel = read("intelligence.csv")
    ti = _when(intel["recorded_at"])
    intel_late = (ti > ti.quantile(1 - share)).to_numpy()
    held = {}
    for name, frame, mask in (("episodes", ep, late), ("return_interviews", rhi, rhi_late),
                              ("intelligence", intel, intel_late)):
        frame[~mask].to_csv(base / f"{name}.csv", index=False)
        frame[mask].to_csv(new / f"{name}.csv", index=False)
        held[name] = int(mask.sum())
    for p in drop.iterdir():
        if p.suffix in (".csv", ".xlsx") and not (base / p.name).exists():
            (base / p.name).write_bytes(p.read_bytes())
    return held
