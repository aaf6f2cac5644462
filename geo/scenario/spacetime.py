"""A planted emerging space-time cluster for the scenario generator (``geo.scenario.generator``).

Several different children are found at one place within a few weeks near the end of the
reporting year: the pattern Kulldorff's space-time permutation scan (:mod:`geo.stats.scan`) should
find, and a pattern nothing else in the generator makes (every other found-at time is drawn
independently of place). The place is a real residential postcode with no premises within
``CLEAR_M`` metres and outside the planted hot wards, so the cluster never implicates a real
business and does not move the ward hot spots. The episodes keep their children, times and
everything else; only their found-at text changes, to a spelling of that postcode or an
address in it. Drawn from its own random stream, so the rest of the scenario is unchanged;
absent in null scenarios. Recorded in ``truth["space_time_clusters"]``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

#: children found at the place, days the cluster lasts, days between its end and the year's end
CHILDREN, SPAN_DAYS, END_GAP_DAYS = 10, 21, 7
#: no premises (of any kind) within this many metres of the place
CLEAR_M = 250.0
#: planted only in scenarios of at least this many children (city and larger): in the
#: 40-child sample ten children would be a quarter of everyone, and the committed sample stays
#: as it was
MIN_CHILDREN = 1000


def plant_emerging_cluster(ctx, e: pd.DataFrame, idx: np.ndarray, base: int, start: pd.Timestamp,
                           days: int) -> np.ndarray:
    """Re-point the found-at texts (catalogue indices ``idx``) of ``CHILDREN`` episodes of
    different children returned in the window to one postcode; return ``idx``."""
    if ctx.null or base != 0 or e["ci"].nunique() < MIN_CHILDREN:
        return idx
    rng = np.random.default_rng([ctx.seed, 13])
    pcs, prem = ctx.ref.postcodes, ctx.ref.premises
    pxy = prem[["true_e", "true_n"]].dropna().to_numpy(float)
    d, _ = cKDTree(pxy).query(pcs[["easting", "northing"]].to_numpy(float))
    hot = set(ctx.ref.wards.ward_code.to_numpy()[ctx.hot_wards])
    ok = np.flatnonzero((d > CLEAR_M) & ~pcs.ward_code.isin(hot).to_numpy())
    pc = int(rng.choice(ok))
    w_end = start + pd.Timedelta(days=days - END_GAP_DAYS)
    w_start = w_end - pd.Timedelta(days=SPAN_DAYS)
    back = pd.to_datetime(e["returned_at"])
    free = (e["group"].to_numpy() < 0) & ~e["venue_involved"].to_numpy(bool) & back.notna().to_numpy()
    free &= ((back >= w_start) & (back < w_end)).to_numpy()
    rows = pd.Series(np.flatnonzero(free))
    rows = rows.groupby(e["ci"].to_numpy()[rows.to_numpy()]).first().to_numpy()   # one per child
    rows = rng.permutation(rows)[:CHILDREN]
    idx = idx.copy()
    idx[rows] = ctx.cat.render_point(rng, np.full(len(rows), pc), p_premises=0, p_area=0, p_none=0, p_empty=0)
    ctx.truth.setdefault("space_time_clusters", []).append({
        "postcode": str(pcs.postcode.iloc[pc]), "easting": float(pcs.easting.iloc[pc]),
        "northing": float(pcs.northing.iloc[pc]), "ward_code": str(pcs.ward_code.iloc[pc]),
        "start": w_start.isoformat(), "end": w_end.isoformat(), "children": int(len(rows)),
        "episodes": sorted(e["key"].to_numpy()[rows].tolist()) if "key" in e else []})
    return idx
