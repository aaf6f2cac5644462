"""Co-missing groups: children who go missing together.

Two episodes of different children are a *co-episode* when they overlap in time and share a
place:

* ``home``        the same home/placement postcode (children.placement_postcode) and reports
                  starting within ``window`` of each other (long overlapping episodes of children
                  who merely live together are not joint episodes);
* ``found``       found within ``distance`` metres **and** within ``window`` of each other
                  (return times), at a found point of premises, address, postcode or street
                  precision (ward/area centroids are not a shared place), the episodes
                  overlapping in time;
* ``found_with``  one is recorded as found with the other, and
* ``associate``   one names the other as an associate in the return interview, the episodes
                  overlapping in time: reports starting within ``window`` or intervals that
                  overlap (an open or long interval counted for at most ``max_span``).

Candidates are generated without forming all pairs: the home and found conditions are a
*sort-and-sweep* over ``(key, time)`` where the key is the home postcode or the
``distance``-sized grid cell of the found point (the 3 x 3 neighbouring cells are searched with
``numpy.searchsorted``); the named conditions are a join on the named child. Co-episodes that
share an episode are one *event* (connected components). Every rule passes a chance filter
(:func:`_chance_filter`, :mod:`network.coincidence`): for each pair of children and rule, the
number of joint events is tested against a null that shifts one child's whole timeline against
the other's by whole weeks (each child keeps its own time-of-day and day-of-week pattern, its
places and durations), Benjamini-Hochberg over all pairs and rules tested. Housemates who each
go missing a hundred times a year, or who are each found back at their home, start or come
back within six hours of each other now and then; that alone is not a group.
Children are joined by a graph weighted by the events they share; groups are its Louvain
communities (Blondel et al. 2008, ``networkx.community.louvain_communities``, seeded) with at
least ``min_co_episodes`` events, every member having been missing with the rest of its group
at least ``min_co_episodes`` times.

References
----------
Blondel, V. D., Guillaume, J.-L., Lambiotte, R., Lefebvre, E. (2008). Fast unfolding of
communities in large networks. J. Stat. Mech. P10008.
Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).
Lotwick, H. W., Silverman, B. W. (1982). Methods for analysing spatial processes of several
types of points. JRSS B 44(3) (the circular shift null).
Preparata, F. P., Shamos, M. I. (1985). Computational Geometry (plane sweep).
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from network.graph import _col, _iso, build_ref_index, resolve_refs


def _isin(values, allowed) -> np.ndarray:
    """Vectorised membership on object values (pandas' Arrow-string ``isin`` builds a Python
    scalar per allowed value, which is slow for large sets)."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(pd.Index(list(allowed), dtype=object))

__all__ = ["co_episode_pairs", "co_missing_groups", "groups_to_records"]

FOUND_PRECISIONS = ("premises", "address", "postcode", "street")
PAIR_COLUMNS = ["episode_a", "episode_b", "person_a", "person_b", "reason", "place"]
#: longest interval an episode is counted for in overlaps (open episodes count this long)
MAX_SPAN = "7D"


def _secs(s: pd.Series) -> np.ndarray:
    """Date-times to int64 seconds since epoch (NaT -> INT64 min)."""
    t = pd.to_datetime(s, utc=True, errors="coerce")
    v = t.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view("i8")
    nat = v == np.iinfo(np.int64).min
    out = v // 10**9
    out[nat] = np.iinfo(np.int64).min
    return out


def _spans(start: np.ndarray, end: np.ndarray, window: int, max_span: int) -> np.ndarray:
    """Forward reach of each episode in seconds: max(window, min(duration, max_span))."""
    missing = end == np.iinfo(np.int64).min
    dur = np.where(missing, max_span, np.clip(end - start, 0, max_span))
    return np.maximum(dur, window).astype(np.int64)


class _SweepIndex:
    """Episodes sorted once by the composite ``key * BIG + t`` (int64) for sort-and-sweep.

    Each episode's candidates under a query key are one contiguous run of the sorted array,
    found by two binary searches: O(n log n) to build, O(n log n + pairs) per query.
    """

    def __init__(self, key: np.ndarray, t: np.ndarray, max_span: int):
        self.n = n = len(t)
        if n == 0:
            return
        self.t0 = t.min()
        self.tt = (t - self.t0).astype(np.int64)
        self.big = np.int64(self.tt.max() + max_span + 2)
        self.kmin, self.kmax = key.min(), key.max()
        comp = (key - self.kmin).astype(np.int64) * self.big + self.tt
        self.order = np.argsort(comp, kind="stable")
        self.sorted = comp[self.order]

    def pairs(self, span: np.ndarray, qkey: np.ndarray | None = None):
        """Pairs (i, j) with key[j] == qkey[i] and t[i] <= t[j] <= t[i] + span[i]; with
        ``qkey`` None the own key, each unordered pair once (j after i in sort order)."""
        if self.n == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # queries are made in sorted order: they are then (nearly) sorted themselves, and the
        # binary searches walk memory in order
        so = span[self.order]
        if qkey is None:
            lo = np.arange(1, self.n + 1)
            hi = np.searchsorted(self.sorted, self.sorted + so, side="right")
        else:
            qk = qkey[self.order]
            valid = (qk >= self.kmin) & (qk <= self.kmax)
            q = (qk - self.kmin).astype(np.int64) * self.big + self.tt[self.order]
            lo = np.searchsorted(self.sorted, q, side="left")
            hi = np.searchsorted(self.sorted, q + so, side="right")
            hi = np.where(valid, hi, lo)
        cnt = np.maximum(hi - lo, 0)
        total = int(cnt.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        src = np.flatnonzero(cnt)
        c = cnt[src]
        start = np.cumsum(c) - c
        jj = np.repeat(lo[src], c) + (np.arange(total) - np.repeat(start, c))
        return self.order[np.repeat(src, c)], self.order[jj]


def _sweep(key: np.ndarray, t: np.ndarray, span: np.ndarray,
           qkey: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) with key[j] == qkey[i] and t[i] <= t[j] <= t[i] + span[i] (see
    :class:`_SweepIndex`)."""
    if len(t) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return _SweepIndex(key, t, int(span.max())).pairs(span, qkey)


def _norm_postcode(pc: pd.Series) -> pd.Series:
    s = pc.astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    return s.where(s.str.len() >= 5)


def co_episode_pairs(episodes: pd.DataFrame, children: pd.DataFrame | None = None,
                     return_interviews: pd.DataFrame | None = None,
                     persons: pd.DataFrame | None = None, *,
                     window: str | pd.Timedelta = "6h", distance: float = 250.0,
                     max_span: str | pd.Timedelta = MAX_SPAN,
                     reasons: tuple[str, ...] = ("home", "found", "found_with", "associate"),
                     _index=None) -> pd.DataFrame:
    """All co-episode pairs (see module docstring), one row per pair and reason.

    Parameters
    ----------
    episodes : frame ``episodes`` (episode_key, person_id, reported_at, returned_at, found_e,
        found_n, found_text, found_with, source).
    children : frame ``children`` (person_id, placement_postcode), for the ``home`` reason and
        to resolve ``found_with`` references.
    return_interviews : frame ``return_interviews`` (episode_key, associates), for ``associate``.
    window : two reports starting within this time overlap.
    distance : metres (BNG) within which two found points are the same place.
    max_span : longest interval counted for overlap (open episodes count this long).

    Returns
    -------
    DataFrame ``episode_a, episode_b, person_a, person_b, reason, place`` with
    ``episode_a < episode_b`` and ``person_a != person_b``.
    """
    win = int(pd.Timedelta(window).total_seconds())
    cap = int(pd.Timedelta(max_span).total_seconds())
    ep = episodes.reset_index(drop=True)
    n = len(ep)
    if n == 0:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    # integer codes for people; strings only for the rows of the pairs found
    pcode, puniq = pd.factorize(ep["person_id"].astype(object))
    puniq = pd.Index(np.asarray(puniq, dtype=object).astype(str))
    t = _secs(ep["reported_at"])
    okt = (t != np.iinfo(np.int64).min) & (pcode >= 0)
    end = _secs(_col(ep, "returned_at"))
    span = _spans(t, end, win, cap)
    parts: list[pd.DataFrame] = []

    def emit(i, j, reason, place):
        keep = pcode[i] != pcode[j]
        i, j = i[keep], j[keep]
        if isinstance(place, np.ndarray):
            place = place[keep]
        if len(i):
            parts.append(pd.DataFrame({"i": i, "j": j, "reason": reason, "place": place}))

    # ---- same home/placement postcode: sweep within each postcode
    if "home" in reasons and children is not None and len(children) and "placement_postcode" in children.columns:
        hcode, huniq = pd.factorize(_homes(children).reindex(puniq).to_numpy(dtype=object))
        hc = np.where(pcode >= 0, hcode[np.maximum(pcode, 0)], -1)
        sel = np.flatnonzero((hc >= 0) & okt)
        if len(sel):
            codes, uniq = hc[sel], huniq
            # housemates: reports starting within the window (long overlapping episodes of
            # children who live together are not joint episodes)
            a, b = _sweep(codes.astype(np.int64), t[sel], np.full(len(sel), win, np.int64))
            labels = ("home:" + pd.Series(np.asarray(uniq, dtype=object))).to_numpy(object)
            emit(sel[a], sel[b], "home", labels[codes[a]])

    # ---- found within `distance` metres: sweep over grid cells, 3x3 neighbourhood
    if "found" in reasons and "found_e" in ep.columns:
        fe = pd.to_numeric(ep["found_e"], errors="coerce").to_numpy(float)
        fn = pd.to_numeric(ep["found_n"], errors="coerce").to_numpy(float)
        okf = end != np.iinfo(np.int64).min
        fine = np.ones(n, bool)
        if "found_precision" in ep.columns:
            fine = ep["found_precision"].isin(FOUND_PRECISIONS).to_numpy()
        sel = np.flatnonzero(np.isfinite(fe) & np.isfinite(fn) & okt & okf & fine)
        if len(sel):
            cx = np.floor(fe[sel] / distance).astype(np.int64)
            cy = np.floor(fn[sel] / distance).astype(np.int64)
            cx -= cx.min() - 1
            cy -= cy.min() - 1
            width = np.int64(cy.max() + 2)
            cell = cx * width + cy
            # found near each other in space AND time: sweep on the found (return) time
            ts, sps = end[sel], np.full(len(sel), win, np.int64)
            ai, bj = [], []
            index = _SweepIndex(cell, ts, win)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if dx == 0 and dy == 0:
                        a, b = index.pairs(sps)
                    else:
                        a, b = index.pairs(sps, qkey=(cx + dx) * width + (cy + dy))
                    ai.append(a)
                    bj.append(b)
            a, b = np.concatenate(ai), np.concatenate(bj)
            d2 = (fe[sel][a] - fe[sel][b]) ** 2 + (fn[sel][a] - fn[sel][b]) ** 2
            keep = d2 <= distance * distance
            a, b = sel[a[keep]], sel[b[keep]]
            # and the episodes themselves overlap in time
            first = np.where(t[a] <= t[b], a, b)
            second = np.where(t[a] <= t[b], b, a)
            keep = (t[second] - t[first]) <= span[first]
            a, b = a[keep], b[keep]
            text = _col(ep, "found_text").astype("string").iloc[a].reset_index(drop=True)
            where = (pd.Series(fe[a]).round().astype("int64").astype(str) + ","
                     + pd.Series(fn[a]).round().astype("int64").astype(str))
            place = ("found:" + text.where(text.notna() & (text != ""), where)).to_numpy(object)
            emit(a, b, "found", place)

    # ---- named: found_with and RHI associates resolving to another child's episode
    nm = _named_children(ep, children, persons, return_interviews, reasons, puniq, _index)
    if len(nm):
        # episodes of each named child: a CSR-style lookup by person code
        by_p = np.argsort(pcode, kind="stable")
        starts = np.searchsorted(pcode[by_p], nm["code"].to_numpy(), side="left")
        stops = np.searchsorted(pcode[by_p], nm["code"].to_numpy(), side="right")
        cnt = stops - starts
        jn = pd.DataFrame({"i": np.repeat(nm["i"].to_numpy(np.int64), cnt),
                           "reason": np.repeat(nm["reason"].to_numpy(object), cnt)})
        off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        jn["j"] = by_p[np.repeat(starts, cnt) + off]
        if len(jn):
            i = jn["i"].to_numpy(np.int64)
            j = jn["j"].to_numpy(np.int64)
            first, second = np.where(t[i] <= t[j], i, j), np.where(t[i] <= t[j], j, i)
            ok = okt[i] & okt[j] & ((t[second] - t[first]) <= span[first])
            emit(first[ok], second[ok], jn["reason"].to_numpy()[ok], jn["reason"].to_numpy()[ok])

    if not parts:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    pr = pd.concat(parts, ignore_index=True)
    i, j = pr["i"].to_numpy(), pr["j"].to_numpy()
    ki = ep["episode_key"].take(i).astype(str).to_numpy(dtype=object)
    kj = ep["episode_key"].take(j).astype(str).to_numpy(dtype=object)
    swap = ki > kj
    a = np.where(swap, j, i)
    b = np.where(swap, i, j)
    out = pd.DataFrame({"episode_a": np.where(swap, kj, ki).astype(object),
                        "episode_b": np.where(swap, ki, kj).astype(object),
                        "person_a": puniq.to_numpy()[pcode[a]], "person_b": puniq.to_numpy()[pcode[b]], "reason": pr["reason"].to_numpy(),
                        "place": pr["place"].to_numpy()})
    return out.drop_duplicates(["episode_a", "episode_b", "reason"]).reset_index(drop=True)


def _named_children(ep: pd.DataFrame, children, persons, return_interviews, reasons, puniq: pd.Index,
                    _index=None, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Children named by each episode: ``i`` (row of ``ep``), ``code`` (index in ``puniq``)
    and ``reason`` (``found_with`` in the episode, ``associate`` in its return interview).
    ``rows`` limits the episodes looked at."""
    n = len(ep)
    named = []
    need = ("found_with" in reasons and "found_with" in ep.columns) or \
        ("associate" in reasons and return_interviews is not None and len(return_interviews))
    if not need:
        return pd.DataFrame(columns=["i", "code", "reason"])
    idx = _index if _index is not None else build_ref_index(children, persons, None)
    look = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    src = _col(ep, "source", "").fillna("").astype(str).to_numpy()
    if "found_with" in reasons and "found_with" in ep.columns and len(look):
        fw = _explode_refs(ep["found_with"].iloc[look], pd.DataFrame({"i": look, "source": src[look]}))
        if len(fw):
            fw = resolve_refs(fw, idx, expect="child")
            named.append(fw.assign(reason="found_with"))
    if "associate" in reasons and return_interviews is not None and len(return_interviews) \
            and "associates" in return_interviews.columns:
        ri = return_interviews[["episode_key", "associates"]].copy()
        ri["i"] = pd.Index(ep["episode_key"].astype(object)).get_indexer(ri["episode_key"].astype(object))
        ri = ri[ri["i"] >= 0]
        if rows is not None:
            ri = ri[np.isin(ri["i"].to_numpy(), look)]
        ri["source"] = src[ri["i"].to_numpy()]
        ri = _explode_refs(ri["associates"], ri[["i", "source"]])
        if len(ri):
            ri = resolve_refs(ri[["i", "source", "ref"]], idx, expect="child")
            named.append(ri.assign(reason="associate"))
    if not named:
        return pd.DataFrame(columns=["i", "code", "reason"])
    nm = pd.concat(named, ignore_index=True)
    nm = nm[nm["node_kind"] == "child"][["i", "node", "reason"]]
    nm = nm.assign(code=puniq.get_indexer(nm["node"].astype(str)))
    return nm[nm["code"] >= 0][["i", "code", "reason"]].reset_index(drop=True)


def co_missing_groups(episodes: pd.DataFrame, children: pd.DataFrame | None = None,
                      return_interviews: pd.DataFrame | None = None,
                      persons: pd.DataFrame | None = None, *,
                      window: str | pd.Timedelta = "6h", distance: float = 250.0,
                      max_span: str | pd.Timedelta = MAX_SPAN, min_co_episodes: int = 2,
                      seed: int = 0, resolution: float = 1.0,
                      adult_links: pd.DataFrame | None = None,
                      pairs: pd.DataFrame | None = None,
                      alpha: float = 0.01, _index=None) -> pd.DataFrame:
    """Co-missing groups as Louvain communities of the child-child co-episode graph.

    Parameters
    ----------
    episodes, children, return_interviews, persons, window, distance, max_span
        As :func:`co_episode_pairs`.
    min_co_episodes : a group needs at least this many joint missing events.
    seed, resolution : passed to ``networkx.community.louvain_communities``.
    adult_links : optional frame ``person_id, adult_id`` (child -> adult links from the
        person-place graph) used to list each group's ``shared_adults`` (adults linked to at
        least two members). Without it adults named in ``found_with`` are used.
    pairs : precomputed :func:`co_episode_pairs` output.
    alpha : false discovery rate of the chance filter over every pair of children and rule
        tested (see :func:`_chance_filter`); 1 keeps every co-episode.

    Returns
    -------
    DataFrame, one row per group, best first: ``group_id, members`` (sorted person_id list),
    ``co_episodes`` (joint missing events: connected sets of co-episodes), ``first, last``
    (ISO 8601 UTC of the earliest report and latest report/return of those events),
    ``shared_places`` (list, most frequent first), ``shared_adults`` (list), ``episodes``
    (list of lists of episode keys, one list per event), ``chance_q`` (the largest
    chance-filter q-value of the member pairs: how well the weakest link beat chance; NaN
    when ``alpha`` is 1).
    """
    cols = ["group_id", "members", "co_episodes", "first", "last", "shared_places",
            "shared_adults", "episodes", "chance_q"]
    if _index is None and (children is not None or persons is not None):
        _index = build_ref_index(children, persons, None)
    if pairs is None:
        pairs = co_episode_pairs(episodes, children, return_interviews, persons, window=window,
                                 distance=distance, max_span=max_span, _index=_index)
    if len(pairs) == 0:
        return pd.DataFrame(columns=cols)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # events: connected components of the episode-pair graph
    # episodes numbered in sorted key order (as np.unique would, without its sort of
    # fixed-width strings)
    inv, ek = pd.factorize(np.concatenate([pairs[c].astype(str).to_numpy(object)
                                           for c in ("episode_a", "episode_b")]), sort=True)
    m = len(pairs)
    ia, ib = inv[:m], inv[m:]
    _, ev = connected_components(coo_matrix((np.ones(m), (ia, ib)), shape=(len(ek), len(ek))),
                                 directed=False)
    pr = pairs.assign(event=ev[ia])
    pairs_episodes = episodes
    # child-child weights: number of distinct events the two share
    pa, pb = pr["person_a"].to_numpy(object), pr["person_b"].to_numpy(object)
    sw = pa > pb
    cc = pd.DataFrame({"a": np.where(sw, pb, pa), "b": np.where(sw, pa, pb),
                       "event": pr["event"].to_numpy(), "reason": pr["reason"].to_numpy()})
    cc = cc.drop_duplicates(["a", "b", "event", "reason"]).reset_index(drop=True)
    cc = _chance_filter(cc, pairs_episodes, children, return_interviews, persons, window=window,
                        distance=distance, max_span=max_span, alpha=alpha, _index=_index)
    pr = pr.merge(cc[["event"]].drop_duplicates(), on="event")
    if len(cc) == 0:
        return pd.DataFrame(columns=cols)
    w = cc.groupby(["a", "b"]).size().rename("weight").reset_index()
    C = nx.Graph()
    C.add_weighted_edges_from(w.sort_values(["a", "b"]).itertuples(index=False, name=None))
    communities: list[set] = []
    for comp in sorted(nx.connected_components(C), key=lambda c: sorted(c)[0]):
        if len(comp) <= 2:
            communities.append(set(comp))
            continue
        # a graph of its own, nodes and edges added in sorted order: a subgraph view iterates
        # its node set, whose order changes with PYTHONHASHSEED, and Louvain's result depends
        # on the node order (same seed, different process, different groups)
        sub = nx.Graph()
        sub.add_nodes_from(sorted(comp))
        sub.add_weighted_edges_from(sorted((min(u, v), max(u, v), d["weight"])
                                           for u, v, d in C.edges(comp, data=True)))
        communities.extend(nx.community.louvain_communities(sub, weight="weight", seed=seed,
                                                            resolution=resolution))
    # a member must have gone missing with the rest of its group at least min_co_episodes
    # times: Louvain attaches a child joined by one chance co-episode to a real group
    comm_of = pd.Series({p: k for k, comm in enumerate(communities) for p in comm}, dtype=np.int64)
    ca, cb = cc["a"].map(comm_of).to_numpy(), cc["b"].map(comm_of).to_numpy()
    within = cc[ca == cb].assign(c=ca[ca == cb])
    alive = pd.Series(True, index=comm_of.index)
    while len(within):
        ends = pd.concat([within[["c", "a", "event"]].rename(columns={"a": "p"}),
                          within[["c", "b", "event"]].rename(columns={"b": "p"})])
        n_ev = ends.groupby("p")["event"].nunique()
        weak = n_ev.index[n_ev < min_co_episodes]
        lonely = alive.index[alive & ~_isin(alive.index, n_ev.index)]
        if len(weak) == 0 and len(lonely) == 0:
            break
        alive[weak] = False
        alive[lonely] = False
        within = within[alive.reindex(within["a"]).to_numpy() & alive.reindex(within["b"]).to_numpy()]
    keep = alive[alive].index
    pruned: dict[int, set] = {}
    for p, k in zip(keep, comm_of[keep].to_numpy()):
        pruned.setdefault(int(k), set()).add(p)
    communities = [pruned[k] for k in sorted(pruned) if len(pruned[k]) >= 2]
    member_of = {p: k for k, comm in enumerate(communities) for p in comm}
    pr["ga"] = pr["person_a"].map(member_of)
    pr["gb"] = pr["person_b"].map(member_of)
    inside = pr[pr["ga"].notna() & (pr["ga"] == pr["gb"])].copy()
    if len(inside) == 0:
        return pd.DataFrame(columns=cols)
    inside["g"] = inside["ga"].astype(np.int64)
    n_events = inside.groupby("g")["event"].nunique()
    ok = n_events[n_events >= min_co_episodes].index
    inside = inside[inside["g"].isin(ok)]
    if len(inside) == 0:
        return pd.DataFrame(columns=cols)

    # episodes of each event, and first / last times (vectorised over all groups)
    ge = pd.concat([inside[["g", "event", "episode_a"]].rename(columns={"episode_a": "episode"}),
                    inside[["g", "event", "episode_b"]].rename(columns={"episode_b": "episode"})],
                   ignore_index=True).drop_duplicates()
    ep = episodes.drop_duplicates("episode_key")
    keys = ep["episode_key"].astype(str).to_numpy(dtype=object)
    rep = pd.to_datetime(ep["reported_at"], utc=True, errors="coerce").set_axis(keys)
    ret = pd.to_datetime(_col(ep, "returned_at"), utc=True, errors="coerce").set_axis(keys)
    ge["rep"] = ge["episode"].map(rep)
    ge["latest"] = ge["episode"].map(ret.where(ret.notna(), rep))
    ge = ge.sort_values(["g", "event", "episode"])
    ev_lists = ge.groupby(["g", "event"], sort=False)["episode"].agg(list).reset_index()
    ev_lists = ev_lists.assign(_k=ev_lists["episode"].map(lambda x: x[0])).sort_values(["g", "_k"])
    stats = pd.DataFrame({"co_episodes": n_events.loc[ok],
                          "first": ge.groupby("g")["rep"].min(),
                          "last": ge.groupby("g")["latest"].max(),
                          "episodes": ev_lists.groupby("g")["episode"].agg(list)})
    pl = inside.assign(place=inside["place"].astype(str)).groupby(["g", "place"]).size().rename("k").reset_index()
    pl = pl.sort_values(["g", "k", "place"], ascending=[True, False, True]).groupby("g").head(20)
    stats["shared_places"] = pl.groupby("g")["place"].agg(list)
    stats["members"] = [sorted(communities[g]) for g in stats.index]
    # the weakest chance-filter evidence inside each group: the largest q of its member pairs
    pq = cc.groupby(["a", "b"])["q"].min().reset_index()
    ga, gb = pq["a"].map(member_of), pq["b"].map(member_of)
    same = (ga.notna() & (ga == gb)).to_numpy()
    stats["chance_q"] = pq[same].groupby(ga[same].astype(np.int64).to_numpy())["q"].max() \
        .reindex(stats.index).to_numpy()

    # shared adults: adults linked to at least two members
    if adult_links is None:
        adult_links = _adults_found_with(episodes, children, persons, _index)
    stats["shared_adults"] = [[] for _ in range(len(stats))]
    if adult_links is not None and len(adult_links):
        al = adult_links[["person_id", "adult_id"]].astype(object).drop_duplicates()
        al = al.assign(g=al["person_id"].map(member_of)).dropna(subset=["g"])
        al = al[~_isin(al["adult_id"], member_of.keys())]
        al = al.astype({"g": np.int64})
        sa = al.groupby(["g", "adult_id"])["person_id"].nunique().rename("k").reset_index()
        sa = sa[sa["k"] >= 2].sort_values(["g", "k", "adult_id"], ascending=[True, False, True])
        got = sa.groupby("g")["adult_id"].agg(list)
        stats["shared_adults"] = [got.get(g, []) for g in stats.index]
    stats["first"] = stats["first"].map(_iso)
    stats["last"] = stats["last"].map(_iso)
    out = stats.reset_index(drop=True)
    out["shared_places"] = [x if isinstance(x, list) else [] for x in out["shared_places"]]
    out = out.assign(_k=out["members"].map(lambda m: m[0])).sort_values(
        ["co_episodes", "first", "_k"], ascending=[False, True, True]).drop(columns="_k")
    out.insert(0, "group_id", [f"G{k:04d}" for k in range(1, len(out) + 1)])
    return out.reset_index(drop=True)[cols]


def _homes(children: pd.DataFrame | None) -> pd.Series:
    """person_id -> normalised home/placement postcode (the most often recorded)."""
    if children is None or len(children) == 0 or "placement_postcode" not in children.columns:
        return pd.Series(dtype=object)
    pc = pd.DataFrame({"person_id": children["person_id"].astype(str).to_numpy(dtype=object),
                       "pc": _norm_postcode(children["placement_postcode"]).to_numpy(dtype=object)})
    pc = pc[pd.notna(pc["pc"])]
    pc = (pc.groupby(["person_id", "pc"]).size().rename("k").reset_index()
          .sort_values(["person_id", "k", "pc"], ascending=[True, False, True])
          .drop_duplicates("person_id"))
    return pd.Series(pc["pc"].to_numpy(dtype=object), index=pc["person_id"].to_numpy(dtype=object))


def _chance_filter(cc: pd.DataFrame, episodes: pd.DataFrame, children: pd.DataFrame | None,
                   return_interviews: pd.DataFrame | None, persons: pd.DataFrame | None, *,
                   window, distance: float, max_span, alpha: float, _index=None) -> pd.DataFrame:
    """Keep the joint events of a pair of children only under a rule they share more often
    than their own timing gives by chance.

    ``cc`` has one row per pair of children ``a < b``, joint event and rule (``home``,
    ``found``, ``found_with``, ``associate``). For every pair and rule with a joint event, the
    number ``k`` of its joint events is tested against the week-shift null of
    :mod:`network.coincidence` (each child keeps its time of day, day of week, places and
    durations; only the alignment of the two timelines is random), with the p-value conditional
    on ``k >= 1``; Benjamini-Hochberg at ``alpha`` over all pairs and rules tested. An event is
    kept when one of its rules passed for the pair. Returns the kept rows ``a, b, event``
    (unique) with ``q``, the smallest q-value of the rules that kept it.

    The episode pairs that can coincide under some shift are found without forming every pair
    of two children's episodes: for the window rules (home, found) only pairs whose times of
    week are within the window can, found by a sort-and-sweep on ``(pair, time of week)``; for
    the named rules only the episodes that name the other child.
    """
    out_cols = ["a", "b", "event"]
    if len(cc) == 0 or alpha >= 1:
        return cc[out_cols].drop_duplicates().reset_index(drop=True).assign(q=np.nan)
    from network.coincidence import WEEK_S, conditional_p, shift_null, shift_weeks, week_matches
    from geo.stats.permutation import bh_qvalues

    win = int(pd.Timedelta(window).total_seconds())
    cap = int(pd.Timedelta(max_span).total_seconds())
    ep = episodes.drop_duplicates("episode_key").reset_index(drop=True)
    pcode, puniq = pd.factorize(ep["person_id"].astype(str).to_numpy(dtype=object))
    puniq = pd.Index(np.asarray(puniq, dtype=object))
    t = _secs(ep["reported_at"])
    nat = np.iinfo(np.int64).min
    okt = (t != nat) & (pcode >= 0)
    end = _secs(_col(ep, "returned_at"))
    span = _spans(t, end, win, cap)
    weeks = shift_weeks(int(t[okt].min()), int(t[okt].max())) if okt.any() else 2

    # hypotheses: pair of children x rule, with the observed number of joint events
    hy = cc.groupby(["a", "b", "reason"], sort=True)["event"].nunique().rename("k").reset_index()
    hy["ca"] = puniq.get_indexer(hy["a"].astype(str))
    hy["cb"] = puniq.get_indexer(hy["b"].astype(str))
    hy = hy[(hy["ca"] >= 0) & (hy["cb"] >= 0)].reset_index(drop=True)
    if len(hy) == 0:
        return cc[out_cols].iloc[:0].assign(q=np.nan)
    rules = ["home", "found", "found_with", "associate"]
    pairs = hy[["ca", "cb"]].drop_duplicates().reset_index(drop=True)
    npers = np.int64(len(puniq))
    pkey = pairs["ca"].to_numpy(np.int64) * npers + pairs["cb"].to_numpy(np.int64)
    hy["pair"] = pd.Index(pkey).get_indexer(hy["ca"].to_numpy(np.int64) * npers + hy["cb"].to_numpy(np.int64))
    hyp_of = np.full((len(pairs), len(rules)), -1, dtype=np.int64)
    hyp_of[hy["pair"].to_numpy(), hy["reason"].map(rules.index).to_numpy()] = np.arange(len(hy))
    # episodes by person (only usable report times)
    usable = np.flatnonzero(okt)
    by_p = usable[np.argsort(pcode[usable], kind="stable")]
    sp = pcode[by_p]

    def entries(pair_ids, codes, mask=None):
        """(pair id, episode) for every episode of ``codes[k]`` under ``pair_ids[k]``."""
        lo = np.searchsorted(sp, codes, "left")
        cnt = np.searchsorted(sp, codes, "right") - lo
        rep = np.repeat(np.arange(len(codes)), cnt)
        e = by_p[np.repeat(lo, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
        pid = np.asarray(pair_ids)[rep]
        if mask is not None:
            keep = mask[e]
            pid, e = pid[keep], e[keep]
        return pid, e

    parts = []

    def add(rule, pid, i, j, lo, hi):
        h = hyp_of[pid, rules.index(rule)]
        m = h >= 0
        parts.append((h[m], lo[m], hi[m]))

    for rule in ("home", "found"):
        sel = np.flatnonzero(hyp_of[:, rules.index(rule)] >= 0)
        if not len(sel):
            continue
        mask = None
        if rule == "found":
            fe = pd.to_numeric(_col(ep, "found_e"), errors="coerce").to_numpy(float)
            fn = pd.to_numeric(_col(ep, "found_n"), errors="coerce").to_numpy(float)
            fine = ep["found_precision"].isin(FOUND_PRECISIONS).to_numpy() \
                if "found_precision" in ep.columns else np.ones(len(ep), bool)
            mask = fine & np.isfinite(fe) & np.isfinite(fn) & (end != nat)
        pa, ia = entries(sel, pairs["ca"].to_numpy()[sel], mask)
        pb, jb = entries(sel, pairs["cb"].to_numpy()[sel], mask)
        tt = t if rule == "home" else end           # reports, or returns, within the window
        pid, i, j = week_matches(pa, ia, tt[ia], pb, jb, tt[jb], win)
        d_t = (t[j] - t[i]).astype(float)
        if rule == "home":
            add("home", pid, i, j, -win - d_t, win - d_t)
        else:
            near = (fe[i] - fe[j]) ** 2 + (fn[i] - fn[j]) ** 2 <= distance ** 2
            d_r = (end[j] - end[i]).astype(float)
            lo = np.maximum(-win - d_r, -span[j] - d_t)       # returns within the window and
            hi = np.minimum(win - d_r, span[i] - d_t)          # the episodes overlapping
            add("found", pid[near], i[near], j[near], lo[near], hi[near])
    named_rules = [r for r in ("found_with", "associate") if (hyp_of[:, rules.index(r)] >= 0).any()]
    nm_all = _named_children(ep, children, persons, return_interviews, ("found_with", "associate"),
                             puniq, _index, rows=usable)
    nm_all = nm_all[nm_all["code"].to_numpy() != pcode[nm_all["i"].to_numpy(np.int64)]] \
        if len(nm_all) else nm_all
    named_family = {}
    for r in ("found_with", "associate"):
        sub = nm_all[nm_all["reason"] == r]
        own = pcode[sub["i"].to_numpy(np.int64)].astype(np.int64)
        code = sub["code"].to_numpy(np.int64)
        named_family[r] = len(np.unique(np.minimum(own, code) * npers + np.maximum(own, code)))
    if named_rules:
        nm = nm_all
        for r in named_rules:
            sub = nm[nm["reason"] == r]
            i0 = sub["i"].to_numpy(np.int64)
            named_code = sub["code"].to_numpy(np.int64)
            own = pcode[i0].astype(np.int64)
            # the naming episode's child is a (names b) or b (names a)
            fwd = pd.Index(pkey).get_indexer(own * npers + named_code)
            rev = pd.Index(pkey).get_indexer(named_code * npers + own)
            rows = []
            for pid_, ok_, side in ((fwd, fwd >= 0, "cb"), (rev, rev >= 0, "ca")):
                pid_ = pid_[ok_]
                live = hyp_of[pid_, rules.index(r)] >= 0
                pid_, i_ = pid_[live], i0[ok_][live]
                pj, j_ = entries(pid_, pairs[side].to_numpy()[pid_])
                # entries() repeats in the order of its inputs: recover which naming episode
                cnt = np.searchsorted(sp, pairs[side].to_numpy()[pid_], "right") - \
                    np.searchsorted(sp, pairs[side].to_numpy()[pid_], "left")
                inam = np.repeat(i_, cnt)
                if side == "cb":
                    rows.append((pj, inam, j_))
                else:
                    rows.append((pj, j_, inam))
            pid = np.concatenate([x[0] for x in rows])
            i = np.concatenate([x[1] for x in rows])
            j = np.concatenate([x[2] for x in rows])
            if len(pid):
                u = np.unique(np.c_[pid, i, j], axis=0)
                pid, i, j = u[:, 0], u[:, 1], u[:, 2]
            d_t = (t[j] - t[i]).astype(float)
            add(r, pid, i, j, -span[j] - d_t, span[i] - d_t)
    h = np.concatenate([x[0] for x in parts]) if parts else np.empty(0, np.int64)
    lo = np.concatenate([x[1] for x in parts]) if parts else np.empty(0)
    hi = np.concatenate([x[2] for x in parts]) if parts else np.empty(0)
    # the uniform pseudo-shift of the home rule in closed form: every pair of the two
    # children's episodes is within the window for 2w of the S weeks
    uniform = None
    home = np.flatnonzero(hy["reason"].to_numpy() == "home")
    if len(home):
        n_eps = np.bincount(pcode[okt], minlength=len(puniq)).astype(float)
        uniform = np.full(len(hy), np.nan)
        uniform[home] = n_eps[hy["ca"].to_numpy()[home]] * n_eps[hy["cb"].to_numpy()[home]] * 2 * win \
            / (weeks * WEEK_S)
    mean, var = shift_null(h, lo, hi, len(hy), weeks, uniform)
    hy["expected"] = mean
    # the tests: every housemate pair and every pair of children of whom one names the other
    # (p unconditional), and the found pairs with a joint event (p conditional on k >= 1)
    found = hy["reason"].to_numpy() == "found"
    hy["p"] = conditional_p(hy["k"].to_numpy(), mean, var, conditional=found)
    untested = max(_family_size(ep, pcode, okt, children, named_family) - int((~found).sum()), 0)
    hy["q"] = bh_qvalues(np.r_[hy["p"].to_numpy(), np.ones(untested)])[: len(hy)]
    passed = hy[hy["q"] <= alpha][["a", "b", "reason", "q"]]
    kept = cc.merge(passed, on=["a", "b", "reason"])
    return kept.groupby(out_cols, sort=False)["q"].min().reset_index()


def _family_size(ep: pd.DataFrame, pcode: np.ndarray, okt: np.ndarray, children,
                 named_family: dict) -> int:
    """Tests of the chance filter made whether or not they show a joint event: every pair of
    children with episodes who share a home, and every pair of whom one names the other."""
    homes = _homes(children)
    with_eps = pd.unique(np.asarray(ep["person_id"].astype(str).to_numpy(dtype=object))[okt])
    homes = homes[_isin(homes.index, with_eps)]
    per_home = homes.value_counts().to_numpy(np.int64)
    return int((per_home * (per_home - 1) // 2).sum()) + int(sum(named_family.values()))


def _explode_refs(refs: pd.Series, keys: pd.DataFrame) -> pd.DataFrame:
    """Long frame ``keys + ref`` from a column of reference lists (or ``;`` strings),
    vectorised: one row per non-empty reference."""
    r = pd.Series(refs.to_numpy(dtype=object), index=np.arange(len(refs)))
    r = r[r.str.len().fillna(0).to_numpy() > 0]  # most episodes name nobody
    r = r.explode()
    r = r[r.notna()]
    if len(r) and r.map(type).eq(str).all() and r.str.contains(";", regex=False).any():
        r = r.str.split(";").explode()
    r = r.astype(str).str.strip()
    r = r[r != ""]
    out = keys.iloc[r.index.to_numpy()].reset_index(drop=True)
    out["ref"] = r.to_numpy()
    return out


def _adults_found_with(episodes, children, persons, idx=None) -> pd.DataFrame:
    if episodes is None or "found_with" not in episodes.columns:
        return pd.DataFrame(columns=["person_id", "adult_id"])
    idx = idx if idx is not None else build_ref_index(children, persons, None)
    fw = _explode_refs(episodes["found_with"], pd.DataFrame({
        "person_id": episodes["person_id"].astype(str).to_numpy(dtype=object),
        "source": _col(episodes, "source", "").fillna("").astype(str).to_numpy()}))
    if len(fw) == 0:
        return pd.DataFrame(columns=["person_id", "adult_id"])
    fw = resolve_refs(fw, idx, expect="child")
    fw = fw[fw["node_kind"] == "person"]
    return fw.rename(columns={"node": "adult_id"})[["person_id", "adult_id"]].drop_duplicates()


def groups_to_records(groups: pd.DataFrame) -> list[dict]:
    """The contract form of ``co_missing_groups.json``: a list of
    ``{"group_id", "members", "co_episodes", "first", "last", "shared_places", ...}``."""
    out = []
    for r in groups.itertuples(index=False):
        out.append({"group_id": r.group_id, "members": list(r.members),
                    "co_episodes": int(r.co_episodes), "first": r.first, "last": r.last,
                    "shared_places": list(r.shared_places),
                    "shared_adults": list(r.shared_adults),
                    "episodes": [list(x) for x in r.episodes],
                    "chance_q": None if pd.isna(getattr(r, "chance_q", np.nan)) else float(r.chance_q)})
    return out
