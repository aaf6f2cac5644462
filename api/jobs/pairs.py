"""Co-episode pairs in one canonical order, found in one process or per partition
(api.jobs.partition): the groups step reads the same frame either way."""
from __future__ import annotations

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
