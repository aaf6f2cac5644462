"""Space-time permutation scan statistic (Kulldorff et al. 2005), retrospective and prospective.

Model: Kulldorff M, Heffernan R, Hartman J, Assuncao R, Mostashari F (2005), "A space-time
permutation scan statistic for disease outbreak detection", PLoS Medicine 2(3): e59 -- the
SaTScan model that needs only case counts, no population at risk.

* **Data**: located events (found-at places by default; area centroids and unresolved texts
  left out; with ``own_place_rule`` also events at a child's own home or shared-setting
  placement, the found-at cluster scan's rule :func:`geo.places.located.at_own_place`: off by
  default, it did not lower the false alarm rate on the housemates null)
  aggregated to locations (a ``cell_m`` metre grid, or exact points with
  ``cell_m=None``) and to time units of ``unit_days`` days aligned to END at the end of the
  period, so the last unit is complete. One child counts once per location and time unit.
* **Cylinders**: the base is a circle around each location holding its nearest locations up to
  ``max_radius_m`` metres and at most ``max_share`` of all events (locations at equal distance
  enter together); the height is any run of 1 .. ``max_window_days`` time units (retrospective),
  or a run that ends at the last unit (prospective).
* **Expected**: ``mu_A = sum_{z in A} C_z * sum_{d in A} C_d / C`` -- the product of the spatial
  and temporal margins (no space-time interaction).
* **Statistic**: the Poisson generalised likelihood ratio ``LLR = c ln(c/mu) + (C-c)
  ln((C-c)/(C-mu))`` for ``c > mu`` and ``c >= min_cases``; the most likely cluster maximises it.
* **Null and inference**: whole child time-lines are permuted between children with equal
  event counts (as the Knox test does, :func:`geo.stats.spacetime.knox_test`; with one event per child
  it is the plain permutation of event times): both margins stay fixed and so does each child's
  own pattern in time (a child who goes missing three times in a month keeps that burst), and
  only the link between children's places and their time-lines is broken -- no space-time
  interaction between children. ``replications`` (999) seeded Monte Carlo replicates. Running the
  retrospective and the prospective analysis and reading each at its own 5 % would double the
  chance of a false alarm, so **the reported p-value is one test for the whole run**: the
  statistic is the largest LLR over every cylinder of the analyses run (the prospective windows
  are the retrospective windows that end at the last unit, so with both analyses it is the
  retrospective maximum), and every reported cluster of either analysis gets ``p = (1 +
  #{max_sim >= LLR}) / (1 + R)``. Under no space-time interaction the chance that any reported
  cluster has ``p < 0.05`` is then at most 5 % (secondary clusters are compared with the
  maximum, as SaTScan does: conservative). ``recurrence_days`` (prospective only) is SaTScan's
  recurrence interval for surveillance, ``unit_days / p_prospective`` with
  ``p_prospective`` from the prospective analysis' own null maximum: the expected days between
  chance signals this strong when the prospective analysis is repeated every time unit (it is
  not a second significance test). Replication stops early once the strongest reported cluster
  is clearly not significant (sequential Monte Carlo, Besag & Clifford 1991; ``early_stop``).
* **Secondary clusters**: the best cylinder of every circle, in descending LLR, kept when its
  circle does not overlap any cluster already kept (SaTScan's "no geographical overlap": centre
  distance greater than the sum of the radii), up to ``max_clusters``.

Speed: nested circles are precomputed once as neighbour orders (a KD-tree). A permutation only
relabels times, so each event's list of circles never changes: :class:`CircleCounts` keeps every
(event, circle) pair once and a replicate's circle x unit counts are one ``bincount`` (dense data:
a sparse matrix of the locations each circle adds to its centre's previous, smaller circle, times
the location x unit counts, summed along each centre's circles), cumulated over time so that
every cylinder's count is a difference of two numbers. Circles whose every window (all their
events in the emptiest one) stays at or below the smallest reported LLR are dropped before the
replicates (they cannot change any p-value). Each replicate (:class:`ReplicateMaxima`) scores
exactly the prospective windows, the windows at the first unit and the thin windows (a part or
nearly empty unit at either end), each cell only if its count reaches the smallest count that
could beat the smallest reported LLR at its ``mu`` (tabulated once per run); then bounds every
other window of a circle by ``LLR(c_l, S T_min(l) / C)`` and scores all windows only of the few
circles whose bound beats the running maximum and the smallest reported LLR. Exact for the
p-values; ``tests/geo/test_scan.py`` checks the most likely cluster against a brute force and the
pruned replicate maxima against a full scan.
"""
from __future__ import annotations

from contextlib import closing
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.places.located import at_own_place, establishment_points, own_places
from geo.stats.hotspots import DEFAULT_KINDS, filter_events
from geo.stats.permutation import bh_qvalues
from geo.stats.replicates import replicates
from geo.stats.spacetime import _timeline_shuffler

__all__ = ["ScanData", "prepare", "space_time_scan", "space_time_scans", "scan_clusters", "llr",
           "CLUSTER_COLUMNS"]

CLUSTER_COLUMNS = ["cluster_id", "start", "end", "observed", "expected", "relative_risk", "llr",
                   "p_value", "recurrence_days"]
EXCLUDE_PRECISION = ("area", "none")
METHOD = ("Kulldorff et al. (2005) space-time permutation scan statistic: cylinders over {loc}, "
          "radius <= {r:g} m and <= {share:.0%} of events, {u:g}-day time units, windows of "
          "1-{w} units ({kind}); {own}expected counts from the spatial x temporal margins; Poisson "
          "generalised likelihood ratio; Monte Carlo p from {R} seeded permutations of whole "
          "child time-lines between children with equal event counts (seed {seed}), one test over every cylinder of the {tested} analyses (largest "
          "LLR over all of them); secondary clusters without geographical overlap")

#: the own-place rule as stated, when it is on, in ``space_time.json`` (``scan.*.own_place_rule``) and the method text
OWN_PLACE_RULE = ("events at a child's own home or shared-setting placement are left out (the found-at cluster "
                  "scan's own-place rule: the child's placements, places last seen and places found at in two or "
                  "more episodes, and any children's home or other shared setting, within 50 m): a child found "
                  "back at home is no sighting, and a home occupied only for a while is a shift in the population "
                  "at risk that the permutation model would read as a cluster")
OWN_PLACE_TEXT = "events at a child's own home or shared-setting placement left out; "


def llr(c, mu, C):
    """Poisson GLR of the space-time permutation model; 0 where ``c <= mu``."""
    c = np.asarray(c, float)
    mu = np.asarray(mu, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = c * np.log(c / mu)
        rest = C - c
        b = np.where(rest > 0, rest * np.log(rest / (C - mu)), 0.0)
        out = a + b
    return np.where((c > mu) & (mu > 0), out, 0.0)


class ScanData:
    """Events as (location, time unit) indices plus the fixed cylinder geometry."""

    def __init__(self, loc_xy, loc, unit, n_units, unit_days, end, max_radius_m, max_share,
                 cell_m, person=None):
        self.loc_xy = np.asarray(loc_xy, float)
        self.loc = np.asarray(loc, np.int64)
        self.unit = np.asarray(unit, np.int64)
        self.U = int(n_units)
        self.unit_days = float(unit_days)
        self.end = end
        self.cell_m = cell_m
        self.max_radius_m = float(max_radius_m)
        self.max_share = float(max_share)
        self.person = person
        self.own_place_rule = False          # set by prepare
        self.own_place_events_left_out = 0
        self.C = len(self.loc)
        L = len(self.loc_xy)
        self.L = L
        self.Cz = np.bincount(self.loc, minlength=L).astype(float)
        self.Ct = np.bincount(self.unit, minlength=self.U).astype(float)
        self.Tcum = np.r_[0.0, np.cumsum(self.Ct)]
        # nested circles: neighbour order per centre, padded with the sentinel location L
        tree = cKDTree(self.loc_xy)
        kmax = int(max(1, min(L, max((len(x) for x in tree.query_ball_point(self.loc_xy, max_radius_m)), default=0))))
        d, nb = tree.query(self.loc_xy, k=kmax, distance_upper_bound=max_radius_m * (1 + 1e-9))
        d = np.asarray(d, float).reshape(L, kmax)
        nb = np.asarray(nb, np.int64).reshape(L, kmax)
        nb[~np.isfinite(d)] = L
        d[~np.isfinite(d)] = np.inf
        self.nb = nb
        self.dist = d
        Cz_pad = np.r_[self.Cz, 0.0]
        self.S = np.cumsum(Cz_pad[nb], axis=1)           # events in each nested circle
        # a circle is a candidate when it ends a tie group, is inside the radius and holds
        # at most max_share of the events
        dn = np.c_[d[:, 1:], np.full(L, np.inf)]
        self.valid = np.isfinite(d) & (dn > d + 1e-6) & (self.S <= max_share * self.C)
        self.valid_idx = np.nonzero(self.valid)
        self.radius = np.where(np.isfinite(d), d, 0.0)


class CircleCounts:
    """Counts of events per (circle, time unit) for a fixed set of circles under any labelling
    of the event times: the locations never move (the permutation only relabels times), so the
    circle memberships are built once and each labelling costs one pass.

    Two exact ways, the cheaper chosen from the sizes: ``pairs`` lists every (event, circle
    holding its location) pair once, and a labelling is one ``bincount`` of ``unit * n +
    circle``; ``matrix`` (dense data: many events per location) uses that the circles of one
    centre are nested (each a prefix of the centre's neighbour order): a sparse matrix holds
    only the locations each circle adds to the centre's previous circle, times the location x
    unit counts cumulated over time, and the centre's circles are then summed in order of size
    -- each location is added once per centre instead of once per circle holding it."""

    def __init__(self, data: ScanData, circles: np.ndarray):
        from scipy import sparse

        self.U = data.U
        vi, vk = data.valid_idx[0][circles], data.valid_idx[1][circles]
        self.n = n = len(circles)
        smax = float(data.S[vi, vk].max(initial=0.0))                   # no circle count exceeds it
        self.dtype = np.int16 if smax < np.iinfo(np.int16).max else np.int32     # memory bandwidth
        self.loc = data.loc
        self.L = data.L
        K = data.nb.shape[1]
        sizes = vk + 1
        members = data.nb[vi][np.arange(K)[None, :] < sizes[:, None]]    # row-major: circle by circle
        deg = np.bincount(members, minlength=data.L)
        pairs = int(deg[data.loc].sum())
        # circles by centre and size; each adds the locations after its centre's previous circle
        order = np.lexsort((vk, vi))
        si, sk = vi[order], vk[order]
        first = np.r_[True, si[1:] != si[:-1]] if n else np.zeros(0, bool)
        prev = np.where(first, -1, np.r_[-1, sk[:-1]])
        added = sk - prev
        rows = np.repeat(np.arange(n, dtype=np.int64), added)
        within = np.arange(len(rows), dtype=np.int64) - np.repeat(np.cumsum(added) - added, added)
        cols = data.nb[np.repeat(si, added), np.repeat(prev + 1, added) + within]
        depth = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.zeros(0, int)
        # matrix rows depth-major: the centres by number of circles (most first), all first
        # circles, then all second circles, ...; the centres with a circle of depth d are then a
        # prefix of those with one of depth d - 1, so each centre's circles are summed in order
        # of size by one slice addition per depth (no fancy indexing)
        centre = np.cumsum(first) - 1 if n else np.zeros(0, np.int64)
        count = np.bincount(centre, minlength=int(first.sum()))
        rank = np.empty(len(count), np.int64)
        rank[np.argsort(-count, kind="stable")] = np.arange(len(count))
        per_depth = np.bincount(depth, minlength=int(depth.max(initial=-1)) + 1)
        self.offsets = np.r_[0, np.cumsum(per_depth)]
        pos = self.offsets[depth] + rank[centre]                                # sorted row -> matrix row
        self.M = sparse.csr_matrix((np.ones(len(rows), self.dtype), (pos[rows], cols)), shape=(n, data.L))
        back = np.empty_like(pos)                                                # circle -> matrix row
        back[order] = pos
        self.back = None if np.array_equal(back, np.arange(n)) else back
        self.mode = "pairs" if 2 * pairs <= (data.U + 1) * (len(rows) + n) and pairs <= 50_000_000 else "matrix"
        if self.mode == "pairs":
            rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
            order = np.argsort(members, kind="stable")
            by_loc = rows[order]                                              # circles of each location
            ptr = np.r_[0, np.cumsum(deg)]
            per_event = deg[data.loc]
            self.pair_event = np.repeat(np.arange(data.C, dtype=np.int64), per_event)
            first = np.r_[0, np.cumsum(per_event)[:-1]]
            within = np.arange(pairs, dtype=np.int64) - np.repeat(first, per_event)
            self.pair_circle = by_loc[ptr[data.loc][self.pair_event] + within]

    def cum(self, unit: np.ndarray) -> np.ndarray:
        """Cumulative counts over time per circle: shape (n, U+1) (a view of a time-major array),
        int16 or int32."""
        n, U = self.n, self.U
        if self.mode == "pairs":
            out = np.zeros((U + 1, n), self.dtype)           # time-major: the sums run over whole rows
            out[1:] = np.bincount(unit[self.pair_event] * n + self.pair_circle, minlength=n * U).reshape(U, n)
            np.cumsum(out, axis=0, out=out)
            return out.T
        # a location in any of the circles holds at most the largest circle's count, so it fits
        # the dtype (one in none may wrap: its column of M is empty)
        loc_cum = np.zeros((self.L, U + 1), self.dtype)
        loc_cum[:, 1:] = np.bincount(self.loc * U + unit, minlength=self.L * U).reshape(self.L, U)
        np.cumsum(loc_cum, axis=1, out=loc_cum)
        Y = self.M @ loc_cum                                 # what each circle adds to the previous one
        off = self.offsets
        for d in range(1, len(off) - 1):                     # circles of each centre, smallest first
            k = off[d + 1] - off[d]
            Y[off[d]:off[d + 1]] += Y[off[d - 1]:off[d - 1] + k]
        out = np.empty((U + 1, n), Y.dtype)                  # time-major, transposed in cache-sized blocks
        for a in range(0, n, 512):
            out[:, a:a + 512] = (Y[a:a + 512] if self.back is None else Y[self.back[a:a + 512]]).T
        return out.T


def prepare(place_events: pd.DataFrame, *, kinds=("found_at",), start=None, end=None,
            unit_days: float = 7.0, cell_m: float | None = 250.0, max_radius_m: float = 1000.0,
            max_share: float = 0.5, exclude_precision=EXCLUDE_PRECISION, children: pd.DataFrame | None = None,
            own_place_rule: bool = False, home_m: float = 50.0) -> ScanData:
    """Aggregate located events to locations and time units (see the module docstring).

    With ``own_place_rule`` (off by default: on the housemates null it did not lower the false
    alarm rate, bench/RESULTS_spacetime.md) events at a child's own places are left out, as the found-at
    cluster scan does (:func:`geo.places.located.own_places` from ``place_events`` and the
    ``children`` frame: homes, places last seen, places found at in two or more episodes; and
    shared-setting placements, :func:`geo.places.located.establishment_points`): a child found
    back at home is no sighting, and a home occupied only for a while (a placement) is a shift in
    the population at risk that the permutation model would read as space-time interaction
    (Kulldorff et al. 2005)."""
    if unit_days <= 0 or max_radius_m < 0 or not 0 < max_share <= 1:
        raise ValueError("scan: unit_days must be > 0, max_radius_m >= 0 and 0 < max_share <= 1")
    ev = filter_events(place_events, kinds, start, end).dropna(subset=["easting", "northing", "at"])
    if exclude_precision and "precision" in ev:
        ev = ev[~ev["precision"].astype("string").isin(list(exclude_precision)).fillna(False).to_numpy(bool)]
    own_left_out = 0
    if own_place_rule and len(ev):
        own = at_own_place(ev, own_places(children, place_events, DEFAULT_KINDS), establishment_points(children), home_m)
        own_left_out = int(own.sum())
        ev = ev[~own]
    at = pd.to_datetime(ev["at"], utc=True)
    if end is None:
        t_end = (at.max().floor("D") + pd.Timedelta(days=1)) if len(ev) else pd.Timestamp("1970-01-02", tz="UTC")
    else:
        t_end = pd.Timestamp(end)
        t_end = t_end.tz_localize("UTC") if t_end.tzinfo is None else t_end.tz_convert("UTC")
    unit_s = unit_days * 86400.0
    back = np.floor((t_end - at).dt.total_seconds().to_numpy() / unit_s).astype(np.int64) if len(ev) else np.zeros(0, np.int64)
    if start is not None:
        t0 = pd.Timestamp(start)
        t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
        U = int(np.ceil((t_end - t0).total_seconds() / unit_s))
    else:
        U = int(back.max()) + 1 if len(back) else 1
    unit = U - 1 - back
    xy = ev[["easting", "northing"]].to_numpy(float)
    if cell_m:
        xy = (np.floor(xy / cell_m) + 0.5) * cell_m
    keys = pd.DataFrame({"e": np.round(xy[:, 0], 1), "n": np.round(xy[:, 1], 1), "u": unit})
    if "person_id" in ev:
        keys["p"] = ev["person_id"].astype("string").fillna("").to_numpy()
        has = keys["p"] != ""
        keys.loc[~has.to_numpy(), "p"] = "event:" + pd.Series(np.arange(len(keys)))[~has.to_numpy()].astype(str).to_numpy()
        keys = keys.drop_duplicates(["p", "e", "n", "u"])     # one child once per place and unit
    codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([keys["e"], keys["n"]]))
    loc_xy = np.array([list(t) for t in uniq], float).reshape(-1, 2)
    data = ScanData(loc_xy, codes, keys["u"].to_numpy(), U, unit_days, t_end, max_radius_m, max_share,
                    cell_m, keys["p"].to_numpy() if "p" in keys else None)
    data.own_place_rule = bool(own_place_rule)
    data.own_place_events_left_out = own_left_out
    return data


def _windows(U: int, W: int, prospective: bool):
    """(start, stop) unit pairs of every window length 1..W, grouped by length."""
    for ln in range(1, min(W, U) + 1):
        if prospective:
            yield ln, np.array([U - ln])
        else:
            yield ln, np.arange(0, U - ln + 1)


def _score(data: ScanData, X, S, W, prospective, min_cases, keep_best=False):
    """Max LLR over all windows for circles with time-cumulative counts ``X`` (n, U+1) and
    totals ``S`` (n,); with ``keep_best`` also each circle's best (llr, start, length, count)."""
    C = float(data.C)
    n = len(S)
    best = np.zeros(n)
    bstart = np.zeros(n, np.int64)
    blen = np.zeros(n, np.int64)
    bc = np.zeros(n, np.int64)
    rows = np.arange(n)
    for ln, starts in _windows(data.U, W, prospective):
        c = X[:, starts + ln] - X[:, starts]                # (n, s)
        mu = S[:, None] * ((data.Tcum[starts + ln] - data.Tcum[starts]) / C)[None, :]
        ok = (c >= min_cases) & (c > mu)
        if not ok.any():
            continue
        v = np.zeros(c.shape)
        v[ok] = llr(c[ok], mu[ok], C)
        j = np.argmax(v, axis=1)
        top = v[rows, j]
        up = top > best
        best[up] = top[up]
        if keep_best:
            bstart[up] = starts[j[up]]
            blen[up] = ln
            bc[up] = c[rows, j][up]
    return best, bstart, blen, bc


def _nonzero2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask (the same indices, in the same row-major order) from the
    flat positions: numpy's 2-D nonzero walks a multi-index over every cell, some 50 times
    slower than the flat scan on the sparse masks of the replicate loop."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _max_llr(data: ScanData, X, S, W, min_cases, first: int = 0, limits: "MuLimits | None" = None,
             B: float = 0.0) -> float:
    """The largest retrospective LLR of circles with time-cumulative counts ``X`` and totals
    ``S`` over the windows starting at unit ``first`` or later; only cells with
    ``c >= min_cases`` are scored, and with ``limits`` only cells whose ``mu`` is below the limit
    of their count at ``max(B, best so far)`` (exact whenever the result is above ``B``)."""
    best = 0.0
    C = float(data.C)
    for ln in range(1, min(W, data.U) + 1):
        c = X[:, first + ln:] - X[:, first:-ln]
        T = (data.Tcum[first + ln:] - data.Tcum[first:-ln]) / C
        if limits is None:
            r, w = _nonzero2d(c >= min_cases)
        else:
            r, w = _nonzero2d(S[:, None] * T[None, :] < limits.at(max(B, best))[limits.index(c)])
        if not len(r):
            continue
        cc = c[r, w]
        mu = S[r] * T[w]
        ok = (cc > mu) & (cc >= min_cases)
        if ok.any():
            best = max(best, float(llr(cc[ok], mu[ok], C).max()))
    return best


class MuLimits:
    """``at(B)[c]``: every ``mu`` with ``LLR(c, mu) > B`` is below it (0 for ``c < min_cases``,
    ``inf`` above the table's counts) -- the pruning tests compare ``mu`` with it instead of
    computing logarithms. The LLR falls as ``mu`` rises towards ``c``, so a bisection on log mu
    brackets each root and the upper end of the bracket is kept; tabulated once per run on a
    grid of ``B`` from ``floor`` up, and ``at(B)`` uses the grid value at or below ``B``, so every
    test stays conservative (exact pruning)."""

    def __init__(self, floor: float, C: float, min_cases: int, cmax: int = 512, step: float = 0.25,
                 levels: int = 160):
        self.B = floor + step * np.arange(levels)
        c = np.arange(cmax + 1, dtype=float)
        use = c >= max(min_cases, 1)
        self.table = np.zeros((levels, cmax + 2))
        self.table[:, -1] = np.inf
        cc = np.broadcast_to(c[use][None, :], (levels, use.sum()))
        lo, hi = np.log(cc) - 60.0, np.log(cc) + 0.0    # LLR(c, c e^-60) exceeds any B met here
        for _ in range(48):
            mid = (lo + hi) / 2
            above = llr(cc, np.exp(mid), C) > self.B[:, None]
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        self.table[:, :-1][:, use] = np.exp(hi) * (1 + 1e-9)
        self.cmax = cmax

    def at(self, B: float):
        """The limits of the largest grid value at or below ``B`` (none below the grid: inf)."""
        g = int(np.searchsorted(self.B, B, side="right")) - 1
        return self.table[g] if g >= 0 else np.full(self.table.shape[1], np.inf)

    def index(self, c):
        """Column of each count ``c`` in a row of limits (counts above the table: inf)."""
        return np.minimum(c, self.cmax + 1)


#: a window whose temporal total is below this share of the median of the windows of its length
#: (a part unit at either end, a thin unit) is scored exactly instead of loosening every bound
THIN = 0.9


def _window_split(data: ScanData, W: int):
    """``(starts, lens, Tm)``: the windows of 1..W units scored exactly in every replicate (those
    starting at the first unit, and the thin ones: temporal total below ``THIN`` x the median of
    their length), and per length ``l`` the smallest temporal total ``Tm[l-1]`` of the other
    windows (those start at unit 1 or later; ``inf`` if there are none). Cached on ``data``."""
    cache = data.__dict__.setdefault("_window_split", {})
    if W not in cache:
        starts, lens, Tm = [], [], []
        for ln in range(1, min(W, data.U) + 1):
            T = data.Tcum[ln:] - data.Tcum[:-ln]                       # start 0 .. U-ln
            thin = T < THIN * np.median(T)
            thin[0] = True
            s = np.flatnonzero(thin)
            starts.append(s)
            lens.append(np.full(len(s), ln))
            rest = T[~thin]
            Tm.append(rest.min() if len(rest) else np.inf)
        cache[W] = (np.concatenate(starts).astype(np.int64), np.concatenate(lens).astype(np.int64),
                    np.asarray(Tm, float))
    return cache[W]


def _count_thresholds(limits: MuLimits, B: float, mu: np.ndarray) -> np.ndarray:
    """The smallest count that could beat ``B`` at each ``mu`` (``LLR(c, mu) > B`` needs ``c >=``
    it); int16 (the table stops at ``limits.cmax`` <= 20000). The limits rise with the count
    (kept so with a running maximum, which only raises them: conservative)."""
    lim = np.maximum.accumulate(limits.at(B))
    return np.searchsorted(lim, mu, side="right").astype(np.int16)


class ReplicateMaxima:
    """The largest retrospective and prospective LLR of each replicate's labelling over a fixed
    set of circles, exact whenever it is >= ``floor`` (below it: a lower bound, which cannot
    change a p-value). Everything that does not depend on the labelling is computed once.

    * The windows that start at the first unit (often a part unit with few events), the thin
      windows (a part or nearly empty unit at either end, which would loosen any bound; see
      :func:`_window_split`) and the prospective windows (ending at the last unit) are scored
      exactly; a cell is scored only when its count reaches the smallest count that could beat
      ``floor`` at its ``mu`` (thresholds tabulated once per run from :class:`MuLimits`).
    * Every other window of l units holds at most ``c_l`` events (the circle's largest l-unit
      count after the first unit: one pass over the counts per length, in cache-sized blocks of
      circles) and expects at least ``S * T_min(l) / C`` (``T_min(l)``: the smallest temporal
      total of those windows), so ``LLR(c_l, S T_min(l) / C)`` bounds them; a circle whose
      ``c_l`` reaches no count threshold at that ``mu`` cannot beat the floor. The few others are
      scored in full in descending bound, in blocks, until no bound beats the running maximum
      (nor the floor); cells whose ``mu`` is above the limit of their count are not scored."""

    BLOCK = 4096                                            # circles per pass (cache-sized)

    def __init__(self, data: ScanData, S: np.ndarray, W: int, min_cases: int, floor: float, limits: MuLimits,
                 counts: CircleCounts | None = None):
        U, C = data.U, float(data.C)
        # the time margins only (what the scoring reads; light to send to a worker process)
        self.data = SimpleNamespace(U=U, C=data.C, Tcum=data.Tcum)
        self.S, self.W, self.min_cases, self.floor, self.limits, self.counts = S, W, min_cases, floor, limits, counts
        xs, xl, Tm = _window_split(data, W)
        pro_l = np.arange(1, min(W, U) + 1)
        win = np.unique(np.c_[np.r_[xs, U - pro_l], np.r_[xl, pro_l]], axis=0)
        self.starts, self.stops = win[:, 0], win[:, 0] + win[:, 1]
        self.pro = self.stops == U
        self.T = (data.Tcum[self.stops] - data.Tcum[self.starts]) / C
        self.thr = _count_thresholds(limits, floor, self.T[:, None] * S[None, :])           # (windows, n)
        self.ln = ln = min(W, U - 1)
        self.mu = Tm[:ln, None] * S[None, :] / C                                              # (ln, n)
        self.k = _count_thresholds(limits, floor, self.mu)

    def _fixed(self, XT):
        """(retrospective, prospective) maxima over the windows scored exactly."""
        c = XT[self.stops] - XT[self.starts]
        w, r = _nonzero2d(c >= self.thr)
        if not len(w):
            return 0.0, 0.0
        cc, mu = c[w, r], self.S[r] * self.T[w]
        ok = (cc > mu) & (cc >= self.min_cases)
        v = llr(cc[ok], mu[ok], self.data.C)
        return float(v.max(initial=0.0)), float(v[self.pro[w[ok]]].max(initial=0.0))

    def _longest(self, XT):
        """``c_l`` (ln, n): each circle's largest count in l units after the first unit."""
        U, ln, n = self.data.U, self.ln, XT.shape[1]
        cl = np.empty((ln, n), XT.dtype)
        buf = np.empty((U, min(self.BLOCK, n)), XT.dtype)
        for a in range(0, n, self.BLOCK):
            Xb = XT[:, a:a + self.BLOCK]
            for l in range(1, ln + 1):
                b = np.subtract(Xb[1 + l:], Xb[1:-l], out=buf[:U - l, :Xb.shape[1]])
                b.max(axis=0, out=cl[l - 1, a:a + Xb.shape[1]])
        return cl

    def __call__(self, unit: np.ndarray) -> tuple[float, float]:
        """The maxima of one labelling of the event times (``counts`` given)."""
        return self.maxima(self.counts.cum(unit))

    def maxima(self, X) -> tuple[float, float]:
        """``(retrospective, prospective)`` maxima of one labelling's time-cumulative counts
        ``X`` (n, U+1) (a view of a time-major array, as :meth:`CircleCounts.cum` returns)."""
        XT = X.T
        best, pro = self._fixed(XT)
        if self.ln < 1 or not XT.shape[1]:
            return best, pro
        cl = self._longest(XT)
        l_, cand = _nonzero2d(cl >= self.k)
        if not len(cand):
            return best, pro
        cc, mu = cl[l_, cand], self.mu[l_, cand]
        ok = (cc > mu) & (cc >= self.min_cases)
        ub = np.zeros(len(self.S))
        np.maximum.at(ub, cand[ok], llr(cc[ok], mu[ok], self.data.C))
        order = np.flatnonzero(ub > max(best, self.floor))
        order = order[np.argsort(-ub[order], kind="stable")]
        b, size = 0, 32
        while b < len(order):
            blk = order[b:b + size]
            blk = blk[ub[blk] > max(best, self.floor)]
            if not len(blk):
                break
            best = max(best, _max_llr(self.data, X[blk], self.S[blk], self.W, self.min_cases, first=1,
                                      limits=self.limits, B=max(best, self.floor)))
            b, size = b + size, min(4 * size, 256)
        return best, pro


def _child_codes(data: ScanData) -> np.ndarray:
    """One code per child (events without a child: one code each)."""
    if data.person is None:
        return np.arange(data.C)
    return pd.factorize(pd.Series(data.person, dtype="string").fillna(""))[0]


def space_time_scan(place_events: pd.DataFrame | ScanData, *, prospective: bool = False,
                    **kw) -> tuple[pd.DataFrame, dict]:
    """Kulldorff's space-time permutation scan; returns ``(clusters, info)``.

    ``clusters``: one row per reported cluster (most likely first, then secondary clusters with
    no geographical overlap), columns :data:`CLUSTER_COLUMNS` plus ``rank, analysis,
    centre_e, centre_n, radius_m, locations, children, start_unit, units``; ``start`` inclusive
    and ``end`` exclusive (UTC). ``info``: the settings, counts, method and the Monte Carlo
    replicate maxima summary. Keywords as :func:`space_time_scans`.
    """
    return space_time_scans(place_events, analyses=(bool(prospective),), **kw)[0]


def space_time_scans(place_events: pd.DataFrame | ScanData, *, analyses=(False, True),
                     replications: int = 999, seed: int = 0, max_window_days: float = 56.0,
                     min_cases: int = 2, max_clusters: int = 10, kinds=("found_at",), start=None,
                     end=None, unit_days: float = 7.0, cell_m: float | None = 250.0,
                     max_radius_m: float = 1000.0, max_share: float = 0.5,
                     early_stop: int | None = 50, children: pd.DataFrame | None = None,
                     own_place_rule: bool = False, workers: int | None = None) -> list[tuple[pd.DataFrame, dict]]:
    """One ``(clusters, info)`` per analysis in ``analyses`` (False = retrospective, True =
    prospective); the analyses share each replicate's permutation of the event times.

    ``early_stop`` (h): sequential Monte Carlo p-values (Besag & Clifford 1991, "Sequential Monte
    Carlo p-values", Biometrika 78(2); SaTScan's early termination): replication stops as soon as
    the most likely cluster of every analysis has been equalled or beaten by ``h`` replicates,
    and each cluster's p-value is then ``k / r`` (``k`` replicates as large of ``r`` run); a
    cluster with ``p < h / replications`` always gets the full run and ``(1 + k) / (1 + R)``.
    ``None`` runs every replication. ``children`` and ``own_place_rule``: see :func:`prepare`.
    ``workers``: processes scoring the replicates (``None``: the cores available; the results
    are the same for any number, :func:`geo.stats.replicates.replicates`)."""
    if replications < 0 or min_cases < 1 or max_window_days <= 0:
        raise ValueError("scan: replications >= 0, min_cases >= 1 and max_window_days > 0 are required")
    data = place_events if isinstance(place_events, ScanData) else prepare(
        place_events, kinds=kinds, start=start, end=end, unit_days=unit_days, cell_m=cell_m,
        max_radius_m=max_radius_m, max_share=max_share, children=children, own_place_rule=own_place_rule)
    W = max(1, int(np.floor(max_window_days / data.unit_days + 1e-9)))
    empty = pd.DataFrame(columns=CLUSTER_COLUMNS + ["rank", "analysis", "centre_e", "centre_n", "radius_m",
                                                    "locations", "children", "start_unit", "units"])
    infos = []
    for prospective in analyses:
        kind = "prospective" if prospective else "retrospective"
        infos.append({"analysis": kind, "events": int(data.C), "locations": int(data.L), "units": int(data.U),
                      "unit_days": data.unit_days, "max_window_units": W, "max_radius_m": data.max_radius_m,
                      "max_share": data.max_share, "cell_m": data.cell_m, "min_cases": int(min_cases),
                      "replications": int(replications), "seed": int(seed),
                      "own_place_rule": OWN_PLACE_RULE if data.own_place_rule else None,
                      "own_place_events_left_out": int(data.own_place_events_left_out),
                      "end": data.end.isoformat() if data.end is not None else None,
                      "method": METHOD.format(loc=f"{data.cell_m:g} m grid cells" if data.cell_m else "event points",
                                              r=data.max_radius_m, share=data.max_share, u=data.unit_days, w=W,
                                              kind=kind, R=replications, seed=seed,
                                              own=OWN_PLACE_TEXT if data.own_place_rule else "",
                                              tested=" and ".join("prospective" if x else "retrospective"
                                                                  for x in analyses))})
    if data.C < 2 or data.U < 1:
        return [(empty, info) for info in infos]
    vi, vk = data.valid_idx
    Sv = data.S[vi, vk]
    # the smallest temporal total of an l-unit window holding any event (static pruning)
    lens = np.arange(1, min(W, data.U) + 1)
    data.Tmin = np.array([np.min(np.where(w > 0, w, np.inf)) for w in
                          (data.Tcum[l:] - data.Tcum[:-l] for l in lens)])
    X = CircleCounts(data, np.arange(len(vi))).cum(data.unit)
    found = []
    for prospective in analyses:
        best, bstart, blen, bc = _score(data, X, Sv, W, prospective, min_cases, keep_best=True)
        chosen = []
        for o in np.argsort(-best, kind="stable"):
            if best[o] <= 0 or len(chosen) >= max_clusters:
                break
            i, k = vi[o], vk[o]
            ce, r = data.loc_xy[i], data.radius[i, k]
            if all(np.hypot(*(ce - data.loc_xy[vi[p]])) > r + data.radius[vi[p], vk[p]] for p in chosen):
                chosen.append(o)
        found.append((best, bstart, blen, bc, chosen))
    del X
    reported = np.concatenate([best[chosen] for best, *_, chosen in found])
    floor = float(reported.min()) if len(reported) else np.inf
    top = float(reported.max()) if len(reported) else np.inf
    # a circle whose every window is at most the floor (all its events in the emptiest window)
    # can never change a p-value: the replicates count only maxima >= the reported LLRs
    mu_all = Sv[:, None] * data.Tmin[None, :] / data.C
    ok = (Sv[:, None] >= min_cases) & (Sv[:, None] > mu_all)
    static = np.zeros(mu_all.shape)
    static[ok] = llr(np.broadcast_to(Sv[:, None], mu_all.shape)[ok], mu_all[ok], data.C)
    live = np.flatnonzero(static.max(axis=1, initial=0.0) >= floor - 1e-9) if np.isfinite(floor) else np.zeros(0, int)
    counts = CircleCounts(data, live) if len(live) else None
    S_live = Sv[live]
    limits = None
    if counts is not None:   # a table up to the largest count a live circle can hold (capped)
        cmax = int(min(S_live.max(), 20000))
        limits = MuLimits(floor, data.C, min_cases, cmax=cmax, step=0.25 if cmax <= 2000 else 1.0,
                          levels=160 if cmax <= 2000 else 40)
    rng = np.random.default_rng(seed)
    shuffle = _timeline_shuffler(_child_codes(data), data.unit, rng)
    sims = np.zeros((len(analyses), replications))
    done = 0
    runs = replications if np.isfinite(floor) else 0
    if counts is not None:     # each replicate's permutation drawn here in order; scored in `workers` processes
        maxima = replicates(shuffle, ReplicateMaxima(data, S_live, W, min_cases, floor, limits, counts), runs, workers,
                            send_as=np.int16 if data.U <= np.iinfo(np.int16).max else np.int32)
    else:
        maxima = ((0.0, 0.0) for _ in range(runs))          # no circle can reach the floor
    with closing(maxima):
        for r, (retro, pro) in enumerate(maxima):
            for a, prospective in enumerate(analyses):
                sims[a, r] = pro if prospective else retro
            done = r + 1
            # sequential Monte Carlo (Besag & Clifford 1991): stop once the strongest reported
            # cluster has been matched by early_stop replicates -- every p-value is then clearly large
            if early_stop and (sims[:, :done].max(axis=0) >= top - 1e-9).sum() >= early_stop:
                break
    sims = sims[:, :done]
    union = sims.max(axis=0) if len(analyses) else np.zeros(done)

    def mc_p(null, obs):
        k = (null[None, :] >= np.asarray(obs)[:, None] - 1e-9).sum(axis=1)
        # all replications: (1 + k) / (1 + R); stopped early after r: k / r (Besag & Clifford)
        return (1 + k) / (1 + replications) if done == replications else np.minimum(1.0, k / max(done, 1))

    out = []
    unit_td = pd.Timedelta(days=data.unit_days)
    t0 = data.end - data.U * unit_td
    tested = " and ".join("prospective" if x else "retrospective" for x in analyses)
    for a, (prospective, info, (best, bstart, blen, bc, chosen)) in enumerate(zip(analyses, infos, found)):
        info["replications_run"] = int(done)
        info["p_value_test"] = (f"one Monte Carlo test over every cylinder of the {tested} analyses: p is the share "
                                "of permutations whose largest LLR over all those cylinders reaches the cluster's "
                                "LLR, so the chance of any reported cluster with p < 0.05 under no space-time "
                                "interaction is at most 5 % for the whole run"
                                + (" (prospective windows are retrospective windows that end at the last unit, so "
                                   "the largest LLR is the retrospective one)" if len(set(analyses)) == 2 else ""))
        if not chosen:
            out.append((empty, info))
            continue
        obs = best[chosen]
        p = mc_p(union, obs)
        # recurrence interval (SaTScan): the prospective analysis repeated every unit, against
        # the prospective analysis' own null maximum
        own = mc_p(sims[a], obs) if prospective else None
        rows = []
        for rank, (o, pv) in enumerate(zip(chosen, p), start=1):
            i, k = vi[o], vk[o]
            members = data.nb[i, : k + 1]
            s_, ln, c = int(bstart[o]), int(blen[o]), int(bc[o])
            mu = data.S[i, k] * (data.Tcum[s_ + ln] - data.Tcum[s_]) / data.C
            inside = np.isin(data.loc, members) & (data.unit >= s_) & (data.unit < s_ + ln)
            kids = len(set(data.person[inside])) if data.person is not None else c
            rr = (c / mu) / ((data.C - c) / (data.C - mu)) if data.C > mu and data.C > c else float("inf")
            rows.append({"cluster_id": f"ST{'P' if prospective else 'R'}{rank:03d}",
                         "start": t0 + s_ * unit_td, "end": t0 + (s_ + ln) * unit_td,
                         "observed": c, "expected": float(mu), "relative_risk": float(rr),
                         "llr": float(best[o]), "p_value": float(pv),
                         "recurrence_days": float(data.unit_days / own[rank - 1]) if prospective else None,
                         "rank": rank, "analysis": info["analysis"], "centre_e": float(data.loc_xy[i, 0]),
                         "centre_n": float(data.loc_xy[i, 1]), "radius_m": float(data.radius[i, k]),
                         "locations": int(k + 1), "children": int(kids), "start_unit": s_, "units": ln})
        info["sim_max_llr"] = {"mean": float(union.mean()) if done else None,
                               "q95": float(np.quantile(union, 0.95)) if done else None,
                               "note": "largest LLR over all tested cylinders per replicate; values below the "
                                       "smallest reported LLR are lower bounds"}
        out.append((pd.DataFrame(rows), info))
    return out


def scan_clusters(place_events: pd.DataFrame, *, seed: int = 0, replications: int = 999,
                  start=None, end=None, **kw):
    """Retrospective and prospective scans of one data set as one GeoDataFrame (EPSG:27700, the
    cluster circles) with ``q_value`` (Benjamini-Hochberg over every reported cluster of both
    analyses), plus the two info dicts."""
    import geopandas as gpd
    import shapely

    prep_kw = {k: kw.pop(k) for k in ("unit_days", "cell_m", "max_radius_m", "max_share", "kinds", "children",
                                      "own_place_rule") if k in kw}
    data = prepare(place_events, start=start, end=end, **prep_kw)
    res = space_time_scans(data, analyses=(False, True), seed=seed, replications=replications, **kw)
    frames = [cl for cl, _ in res]
    infos = {info["analysis"]: info for _, info in res}
    cl = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    cl["q_value"] = bh_qvalues(cl["p_value"].to_numpy(float)) if len(cl) else []
    half = (data.cell_m or 0) / 2
    geom = shapely.buffer(shapely.points(cl["centre_e"].to_numpy(float), cl["centre_n"].to_numpy(float)),
                          np.maximum(cl["radius_m"].to_numpy(float) + half, 50.0)) if len(cl) else []
    return gpd.GeoDataFrame(cl, geometry=list(geom), crs=27700), infos
