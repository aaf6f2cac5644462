"""Partitioned execution of the pipeline on Dask (dask.distributed).

Two steps of ``wayfinder run`` split into independent tasks whose union is exactly the
single-process result; the other steps run once on the client (their statistics are global:
Fellegi-Sunter training over all records, Gi*/Moran permutations over all areas, FDR over all
premises, Louvain over the whole co-episode graph).

Geocoding
    The distinct location texts not yet geocoded, in sorted order, in chunks of
    ``pipeline.GEOCODE_CHUNK``; the gazetteer is scattered to every worker once
    (``Client.scatter(broadcast=True)``); each chunk is geocoded on a worker
    (``geo.places.geocode.geocode``, which resolves each text on its own) and the chunks are
    concatenated in their order.

Co-episode pairs (the input of the co-missing groups)
    ``network.groups.co_episode_pairs`` finds pairs of episodes of different children by four
    reasons. Each reason is partitioned where its condition is local, with a cross-boundary pass
    where it is not:

    * ``home`` (same placement postcode, reports within the window): one partition per
      **responsible authority** (the local authority looking after the child; for a national
      drop this is the authority or force area). A cross-boundary pair is two children of
      different authorities in one home, i.e. a child **placed out of area** sharing a home
      with a child of the host authority or of a third authority; the cross-boundary pass runs
      over exactly the episodes of children living in homes that hold children of more than one
      authority.
    * ``found`` (found within ``distance`` metres and within the window): one partition per
      **grid block** of found points (British National Grid, square blocks), each with a halo
      of ``distance`` metres, so every pair lies whole inside the halo of the block of either
      of its points; pairs seen by two blocks are deduplicated.
    * ``found_with`` and ``associate`` (one child names the other): a join on the named child,
      which may belong to any authority; it runs as one task over all episodes.

    The union, deduplicated on (episode_a, episode_b, reason) and sorted
    (``api.jobs.pairs.canonical_pairs``), is the frame the single-process run computes in one call;
    the groups (Louvain, seeded, over the whole child-child graph, so groups that span
    partitions are found as one) are then computed once from it.

Why this is exact: every condition of a pair involves only the two episodes (and the read-only
children/persons/RHI frames each task receives whole), so a pair found in a subset is a pair of
the whole, and each reason's partitions with their cross-boundary pass or halo contain both
episodes of every pair of the whole. ``tests/api/test_pipeline.py`` checks identity of the
outputs on a LocalCluster with 2 workers.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from api.jobs.pairs import canonical_pairs

#: side of a grid block for the ``found`` partitions (metres, BNG)
BLOCK_M = 4000.0


def make_client(scheduler: str | None = None, local_cluster: int | None = None,
                processes: bool = True, memory_limit: str | None = "auto"):
    """A Dask client: connected to ``scheduler`` (``tcp://HOST:PORT``), or on a new
    LocalCluster of ``local_cluster`` workers (one thread each). Returns (client, cluster);
    cluster is None for a remote scheduler. Close both when done."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler, timeout="20s"), None
    cluster = LocalCluster(n_workers=int(local_cluster or 2), threads_per_worker=1,
                           processes=processes, dashboard_address=None,
                           memory_limit=memory_limit if processes else 0)
    return Client(cluster), cluster


def _gather_in_order(client, futures: list, advance: Callable | None) -> list:
    from dask.distributed import as_completed
    pos = {f.key: i for i, f in enumerate(futures)}
    out = [None] * len(futures)
    for fut, res in as_completed(futures, with_results=True):
        out[pos[fut.key]] = res
        if advance:
            advance(1)
    return out


# ---------------------------------------------------------------------------------------------
# geocoding
# ---------------------------------------------------------------------------------------------
def _geocode_chunk(texts: pd.Series, gazetteer, overrides):
    from geo.places.geocode import geocode
    return geocode(texts.reset_index(drop=True), gazetteer, overrides=overrides)


def geocode_partitioned(client, chunks: list[pd.Series], gazetteer, overrides=None,
                        advance: Callable | None = None) -> pd.DataFrame:
    """Geocode text chunks on the workers against one scattered gazetteer; the chunks'
    results concatenated in chunk order."""
    gz = client.scatter(gazetteer, broadcast=True)
    ov = client.scatter(overrides, broadcast=True) if overrides is not None else None
    futures = [client.submit(_geocode_chunk, c, gz, ov, pure=False) for c in chunks]
    parts = _gather_in_order(client, futures, advance)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# co-episode pairs
# ---------------------------------------------------------------------------------------------
def _pc_key(values: pd.Series) -> pd.Series:
    """Postcode comparison key (upper case, no spaces): at least as coarse as any postcode
    normalisation, so homes equal under the groups' own normaliser are equal here."""
    return values.astype("string").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)


def authority_of_persons(children: pd.DataFrame) -> pd.Series:
    """Responsible authority per person_id (the most often recorded; ``unknown`` when none)."""
    c = children[["person_id", "responsible_authority"]].copy()
    c["responsible_authority"] = c["responsible_authority"].fillna("unknown").astype(str)
    c = (c.groupby(["person_id", "responsible_authority"]).size().rename("k").reset_index()
         .sort_values(["person_id", "k", "responsible_authority"], ascending=[True, False, True])
         .drop_duplicates("person_id"))
    return pd.Series(c["responsible_authority"].to_numpy(), index=c["person_id"].astype(str))


def episode_authorities(episodes: pd.DataFrame, children: pd.DataFrame) -> pd.Series:
    """The partition of each episode: its child's responsible authority."""
    auth = authority_of_persons(children)
    return episodes["person_id"].astype(str).map(auth).fillna("unknown")


def mixed_home_persons(children: pd.DataFrame) -> set:
    """Persons living at a home (any recorded placement postcode) that also holds a child of
    another responsible authority: the children placed out of area and their housemates."""
    auth = authority_of_persons(children)
    c = pd.DataFrame({"person_id": children["person_id"].astype(str),
                      "pc": _pc_key(children["placement_postcode"])}).dropna()
    c = c[c["pc"] != ""].drop_duplicates()
    c["auth"] = c["person_id"].map(auth)
    mixed = c.groupby("pc")["auth"].nunique()
    mixed = set(mixed[mixed > 1].index)
    return set(c.loc[c["pc"].isin(mixed), "person_id"])


def found_blocks(episodes: pd.DataFrame, distance: float, block: float = BLOCK_M
                 ) -> list[np.ndarray]:
    """Episode positions per grid block of their found point, each block with its halo of
    ``distance`` metres (positions in the order of ``episodes``)."""
    fe = pd.to_numeric(episodes.get("found_e"), errors="coerce").to_numpy(float)
    fn = pd.to_numeric(episodes.get("found_n"), errors="coerce").to_numpy(float)
    ok = np.flatnonzero(np.isfinite(fe) & np.isfinite(fn))
    if len(ok) == 0:
        return []
    bx = np.floor(fe[ok] / block).astype(np.int64)
    by = np.floor(fn[ok] / block).astype(np.int64)
    out = []
    for x, y in sorted(set(zip(bx.tolist(), by.tolist()))):
        x0, y0 = x * block - distance, y * block - distance
        x1, y1 = (x + 1) * block + distance, (y + 1) * block + distance
        inside = (fe[ok] >= x0) & (fe[ok] <= x1) & (fn[ok] >= y0) & (fn[ok] <= y1)
        out.append(ok[inside])
    return out


def _pairs_task(episodes: pd.DataFrame, children, return_interviews, persons, reasons,
                window, distance):
    from network.graph import build_ref_index
    from network.groups import co_episode_pairs
    idx = None
    if any(r in reasons for r in ("found_with", "associate")):
        idx = build_ref_index(children, persons, None)
    return co_episode_pairs(episodes.reset_index(drop=True), children, return_interviews,
                            persons, window=window, distance=distance, reasons=tuple(reasons),
                            _index=idx)


def pair_partitions(frames: dict, distance: float, block: float = BLOCK_M) -> list[dict]:
    """The partition plan: one dict per task with ``name``, ``reasons`` and ``rows`` (positions
    into the episodes frame, in frame order)."""
    ep, ch = frames["episodes"], frames["children"]
    plan = []
    if ch is not None and len(ch):
        part = episode_authorities(ep, ch).to_numpy()
        for a in sorted(set(part)):
            plan.append({"name": f"home:{a}", "reasons": ("home",),
                         "rows": np.flatnonzero(part == a)})
        mixed = mixed_home_persons(ch)
        rows = np.flatnonzero(ep["person_id"].astype(str).isin(mixed).to_numpy())
        plan.append({"name": "home:cross-boundary", "reasons": ("home",), "rows": rows})
    for i, rows in enumerate(found_blocks(ep, distance, block)):
        plan.append({"name": f"found:block{i}", "reasons": ("found",), "rows": rows})
    plan.append({"name": "named", "reasons": ("found_with", "associate"),
                 "rows": np.arange(len(ep))})
    return [p for p in plan if len(p["rows"]) > 1 or p["name"] == "named"]


def co_episode_pairs_partitioned(client, frames: dict, window: str = "6h", distance: float = 250.0,
                                 progress=None, block: float = BLOCK_M) -> pd.DataFrame:
    """``co_episode_pairs`` over the partitions of :func:`pair_partitions` on the workers,
    unioned into the canonical frame of ``api.jobs.pairs.canonical_pairs``."""
    ep = frames["episodes"].reset_index(drop=True)
    plan = pair_partitions({**frames, "episodes": ep}, distance, block)
    if progress is not None:
        progress.start("groups", total=len(plan) + 1, label=f"groups ({len(plan)} partitions)")
    shared = [client.scatter(frames.get(k), broadcast=True) if frames.get(k) is not None else None
              for k in ("children", "return_interviews", "persons")]
    futures = [client.submit(_pairs_task, ep.iloc[p["rows"]], *shared, p["reasons"], window,
                             distance, pure=False) for p in plan]
    parts = _gather_in_order(client, futures, progress.advance if progress else None)
    parts = [p for p in parts if len(p)]
    if not parts:
        return canonical_pairs(pd.DataFrame())
    return canonical_pairs(pd.concat(parts, ignore_index=True))
