"""Co-episode pairs in one canonical order, found in one process or per partition
(api.jobs.partition): the groups step reads the same frame either way."""
from __future__ import annotations

import numpy as np
import pandas as pd

PAIR_ORDER = ["episode_a", "episode_b", "reason"]


def canonical_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Co-episode pairs in one canonical order (episode_a, episode_b, reason), duplicates of a
    pair and reason dropped: the single-process and partitioned runs pass the same frame to
    the groups."""
    from network.groups import PAIR_COLUMNS
    if len(pairs) == 0:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    out = pairs.drop_duplicates(PAIR_ORDER).sort_values(PAIR_ORDER, kind="stable")
    return out.reset_index(drop=True)[PAIR_COLUMNS]


def co_episode_pairs_single(frames: dict, window: str, distance: float) -> pd.DataFrame:
    from network.graph import build_ref_index
    from network.groups import co_episode_pairs
    idx = build_ref_index(frames["children"], frames["persons"], None)
    pairs = co_episode_pairs(frames["episodes"], frames["children"], frames["return_interviews"],
                             frames["persons"], window=window, distance=distance, _index=idx)
    return canonical_pairs(pairs)


def co_episode_pairs_delta(frames: dict, window: str, distance: float, previous: pd.DataFrame,
                           dirty) -> tuple[pd.DataFrame, dict]:
    """The co-episode pairs of ``frames`` from the ``previous`` pairs and the episodes that
    are new or changed since (``dirty``, episode keys): identical to
    ``co_episode_pairs_single`` on the whole frames when everything else the pairs read (the
    children, persons and their resolved person ids) is unchanged.

    A pair is a function of its two episodes (with the children, persons and return
    interviews that resolve their names): pairs of two unchanged episodes are kept; pairs
    touching a dirty episode are found again among the dirty episodes and the episodes that
    can pair with them. Every pair reason needs the two reports within
    ``max(window, MAX_SPAN)`` of each other (``network.groups._spans``), so only episodes
    reported that close to a dirty one are searched. Returns the pairs and the delta's sizes.
    """
    from network.graph import build_ref_index
    from network.groups import MAX_SPAN, _secs, co_episode_pairs
    ep = frames["episodes"].reset_index(drop=True)
    dirty = pd.Index(pd.unique(pd.Series(list(dirty), dtype=object)))
    is_dirty = ep["episode_key"].isin(dirty).to_numpy()
    t = _secs(ep["reported_at"])
    ok = t != np.iinfo(np.int64).min
    reach = int(max(pd.Timedelta(window), pd.Timedelta(MAX_SPAN)).total_seconds())
    td = np.sort(t[is_dirty & ok])
    near = np.zeros(len(ep), bool)
    if len(td):
        lo = np.searchsorted(td, t - reach, side="left")
        near = ok & (lo < len(td)) & (td[np.minimum(lo, len(td) - 1)] <= t + reach)
    searched = ep[is_dirty | near].reset_index(drop=True)
    idx = build_ref_index(frames["children"], frames["persons"], None)
    fresh = co_episode_pairs(searched, frames["children"], frames["return_interviews"],
                             frames["persons"], window=window, distance=distance, _index=idx)
    fresh = fresh[fresh["episode_a"].isin(dirty) | fresh["episode_b"].isin(dirty)]
    kept = previous[~previous["episode_a"].isin(dirty) & ~previous["episode_b"].isin(dirty)]
    pairs = canonical_pairs(pd.concat([kept, fresh], ignore_index=True))
    return pairs, {"episodes": int(is_dirty.sum()), "episodes_searched": int(len(searched)),
                   "pairs_found": int(len(fresh)), "pairs_kept": int(len(kept))}
