"""Data quality of the agencies' records, per source: what makes counts differ between police,
social care and the return-interview provider (DOMAIN.md: "counts differed between systems;
missing markers not cleared when a child returns").

Findings, each a frame with the ``source`` it is charged to:

- ``stale_open_episodes``: an episode with no return recorded although the same child has a
  later episode reported by T (``geo.meetings.scorecards.episode_states``): the marker was not cleared.
  These are kept out of missing-now and the most worrying cases and listed here with their age.
- ``long_open_episodes``: missing episodes still open at T and open for more than
  :data:`LONG_OPEN_DAYS` days with no later episode: the child may still be missing, or the
  marker was never cleared; either way someone must check.
- ``unknown_children``: episodes whose child_id matched no child record of the drop (ingest made
  a minimal record from the episode).
- ``rhi_after_next_episode``: return interviews held after the child's next episode was
  reported: the interview cannot be about the return it follows.
- ``disagreements``: a person whose linked records disagree on care status, placement, date of
  birth and the other fields of ``geo.meetings.person_view.CHECKED`` (charged to every source involved).

Pure functions: frames in, frames and dicts out.
"""
from __future__ import annotations

import pandas as pd

from geo.meetings.person_view import conflicts, person_view
from geo.meetings.scorecards import _as_of, episode_states, next_episode_at

LONG_OPEN_DAYS = 28
FINDINGS = ("stale_open_episodes", "long_open_episodes", "unknown_children",
            "rhi_after_next_episode", "disagreements")


def _source(keys: pd.Series) -> pd.Series:
    return keys.astype(str).str.split("/", n=1).str[0]


def _hours(a: pd.Series, b) -> pd.Series:
    return ((b - a).dt.total_seconds() / 3600).round(1)


def stale_open_episodes(episodes: pd.DataFrame, as_of) -> pd.DataFrame:
    """Episodes open (no returned_at) though the child has a later episode reported by T."""
    t = _as_of(as_of, None)
    st = episode_states(episodes, t)
    e = episodes[st["stale"]]
    out = pd.DataFrame({
        "source": e["source"], "episode_key": e["episode_key"], "person_id": e["person_id"],
        "category": e["category"], "reported_at": e["reported_at"],
        "next_reported_at": st.loc[e.index, "next_reported_at"],
        "age_hours": _hours(e["reported_at"], t),
    })
    out["later_episodes"] = 0
    if len(out):
        known = episodes[episodes["reported_at"] <= t]
        later = known.merge(out[["person_id", "reported_at"]].rename(columns={"reported_at": "r0"}),
                            on="person_id")
        n = later[later["reported_at"] > later["r0"]].groupby(["person_id", "r0"]).size()
        out["later_episodes"] = [int(n.get((p, r), 0)) for p, r in zip(out["person_id"], out["reported_at"])]
    return out.sort_values("age_hours", ascending=False).reset_index(drop=True)


def long_open_episodes(episodes: pd.DataFrame, as_of, days: int = LONG_OPEN_DAYS) -> pd.DataFrame:
    """Missing episodes still open at T (missing now) for more than ``days`` days."""
    t = _as_of(as_of, None)
    st = episode_states(episodes, t)
    e = episodes[st["missing_now"] & (episodes["reported_at"] < t - pd.Timedelta(days=days))]
    return pd.DataFrame({"source": e["source"], "episode_key": e["episode_key"],
                         "person_id": e["person_id"], "reported_at": e["reported_at"],
                         "age_hours": _hours(e["reported_at"], t)}) \
        .sort_values("age_hours", ascending=False).reset_index(drop=True)


def unknown_children(episodes: pd.DataFrame, children: pd.DataFrame, as_of) -> pd.DataFrame:
    """Episodes reported by T whose child record was created from the episode (no child record)."""
    t = _as_of(as_of, None)
    made = set(children.loc[children.get("from_episode", pd.Series(False, index=children.index))
                            .fillna(False).astype(bool), "child_key"]) if len(children) else set()
    e = episodes[episodes["child_key"].isin(made) & (episodes["reported_at"] <= t)]
    return pd.DataFrame({"source": e["source"], "episode_key": e["episode_key"],
                         "child_key": e["child_key"], "reported_at": e["reported_at"]}) \
        .sort_values("reported_at").reset_index(drop=True)


def rhi_after_next_episode(episodes: pd.DataFrame, return_interviews: pd.DataFrame, as_of) -> pd.DataFrame:
    """Return interviews held (by T) after the child's next episode was reported."""
    t = _as_of(as_of, None)
    cols = ["source", "rhi_key", "episode_key", "person_id", "held_at", "next_reported_at", "hours_after"]
    if return_interviews is None or return_interviews.empty:
        return pd.DataFrame(columns=cols)
    nxt = pd.Series(next_episode_at(episodes, None).to_numpy(), index=episodes["episode_key"].to_numpy())
    nxt = nxt[~nxt.index.duplicated()]
    r = return_interviews[return_interviews["held_at"].notna() & (return_interviews["held_at"] <= t)].copy()
    r["next_reported_at"] = r["episode_key"].map(nxt)
    r = r[r["next_reported_at"].notna() & (r["held_at"] > r["next_reported_at"])]
    r["hours_after"] = _hours(r["next_reported_at"], r["held_at"])
    return r.assign(source=r["source"])[cols].sort_values("hours_after", ascending=False) \
        .reset_index(drop=True)


def disagreements(children: pd.DataFrame, view: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fields on which one person's records from different sources disagree
    (``geo.meetings.person_view.conflicts``), with the sources involved."""
    view = person_view(children) if view is None else view
    c = conflicts(view)
    c["sources"] = c["values"].map(
        lambda v: ";".join(sorted({p.split("/", 1)[0] for p in (x.split(": ", 1)[0] for x in v.split("; ")) if p})))
    return c


def quality_report(episodes: pd.DataFrame, children: pd.DataFrame,
                   return_interviews: pd.DataFrame, as_of=None,
                   view: pd.DataFrame | None = None) -> dict:
    """Every finding as of T, and per source the count of each (a disagreement is counted
    for every source involved). Returns ``{"as_of", "summary": {source: {finding: n}},
    "totals": {finding: n}, finding: frame, ...}``."""
    t = _as_of(as_of, None)
    out = {
        "stale_open_episodes": stale_open_episodes(episodes, t),
        "long_open_episodes": long_open_episodes(episodes, t),
        "unknown_children": unknown_children(episodes, children, t),
        "rhi_after_next_episode": rhi_after_next_episode(episodes, return_interviews, t),
        "disagreements": disagreements(children, view),
    }
    summary: dict = {}
    for name, f in out.items():
        srcs = f["sources"].str.split(";").explode() if name == "disagreements" else f["source"]
        for s, n in srcs.dropna().value_counts().items():
            summary.setdefault(str(s), {k: 0 for k in FINDINGS})[name] = int(n)
    totals = {k: int(len(out[k])) for k in FINDINGS}
    if len(out["disagreements"]):
        totals["persons_with_disagreements"] = int(out["disagreements"]["person_id"].nunique())
        totals["disagreements_by_field"] = {str(k): int(v) for k, v in
                                            out["disagreements"]["field"].value_counts().items()}
    return {"as_of": t.isoformat(), "summary": dict(sorted(summary.items())), "totals": totals, **out}
