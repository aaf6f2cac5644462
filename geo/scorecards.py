"""Scorecards for the MOG and the COG, children missing now and the most worrying cases.

Pure functions over the frames of docs/FRAMES.md (``episodes``, ``children``,
``return_interviews``): frames in, plain dicts and frames out; no database, no HTTP. Used by the
API and the meeting packs. Thresholds are those of the Birmingham papers (DOMAIN.md): repeat = more
than one episode in the period, persistent = more than 3, return interview held within 72 hours,
looked-after child missing over 48 hours (notify the director), over 72 hours (strategy meeting).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PERSISTENT = 3          # more than 3 episodes
RHI_HOURS = 72
LAC_NOTIFY_HOURS = 48
STRATEGY_HOURS = 72
CSE_EPISODE_RISKS = ("significant", "serious")  # medium and high


#: The count each percentage of the scorecards is a share of (its base), by key. A base key is
#: looked up in the same dict as the percentage, then in the enclosing ones. Used to suppress
#: percentages over small bases for non-analyst views (api/routes/scorecards.py).
PCT_BASE = {
    "repeat_rate_pct": "children",
    "rhi_offered_pct": "returned_episodes",
    "rhi_held_within_72h_pct": "returned_episodes",
    "by_risk_pct": "cohort",
    "female_pct": "cohort",
    "rate_pct": "subjects",
}


def _utc(ts) -> pd.Timestamp | None:
    if ts is None:
        return None
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _pct(num: float, den: float) -> float | None:
    return None if not den else round(100.0 * num / den, 2)


def in_period(episodes: pd.DataFrame, start=None, end=None) -> pd.DataFrame:
    """Episodes reported in [start, end)."""
    m = pd.Series(True, index=episodes.index)
    if start is not None:
        m &= episodes["reported_at"] >= _utc(start)
    if end is not None:
        m &= episodes["reported_at"] < _utc(end)
    return episodes[m]


def repeat_rate(counts: pd.Series | np.ndarray) -> dict:
    """Share of subjects counted more than once. ``counts``: occurrences per subject.

    >>> repeat_rate(np.r_[np.full(180, 2), np.ones(326)])
    {'subjects': 506, 'repeat': 180, 'rate_pct': 35.57}
    """
    c = np.asarray(counts)
    c = c[c > 0]
    rep = int((c > 1).sum())
    return {"subjects": int(len(c)), "repeat": rep, "rate_pct": _pct(rep, len(c))}


def mog_scorecard(episodes: pd.DataFrame, children: pd.DataFrame,
                  return_interviews: pd.DataFrame, start=None, end=None,
                  host_authority: str | None = "Birmingham") -> dict:
    """The MOG's monthly figures for episodes reported in [start, end).

    Returns a dict: ``episodes``, ``children`` (distinct person_id), ``repeat_children`` (more than
    one episode in the period) with rate, ``persistent_children`` (more than 3), ``first_time``
    (children whose first recorded episode falls in the period), RHI offered / held / held within
    72 h of return (counts and % of returned episodes), ``out_of_area`` (children in the period
    whose responsible authority is not ``host_authority``), and breakdowns by category and
    placement type.
    """
    ep = in_period(episodes, start, end)
    per_child = ep.groupby("person_id").size()
    first = episodes.groupby("person_id")["reported_at"].min()
    lo = _utc(start) if start is not None else None
    hi = _utc(end) if end is not None else None
    firsts = first[first.index.isin(per_child.index)]
    if lo is not None:
        firsts = firsts[firsts >= lo]
    if hi is not None:
        firsts = firsts[firsts < hi]
    returned = ep[ep["returned_at"].notna()]
    rhi = return_interviews[return_interviews["episode_key"].isin(returned["episode_key"])]
    rhi = rhi.merge(returned[["episode_key", "returned_at"]], on="episode_key", how="left")
    offered_eps = rhi.loc[rhi["offered_at"].notna() | rhi["outcome"].ne("not_offered"), "episode_key"].nunique()
    held = rhi[rhi["held_at"].notna()]
    within = held[(held["held_at"] - held["returned_at"]) <= pd.Timedelta(hours=RHI_HOURS)]
    ch = children.drop_duplicates("person_id").set_index("person_id")
    cohort = ch.reindex(per_child.index)
    out_of_area = 0
    if host_authority and "responsible_authority" in cohort:
        ra = cohort["responsible_authority"].dropna().astype(str).str.strip().str.lower()
        out_of_area = int((ra != host_authority.lower()).sum())
    ep_pt = ep.join(ch["placement_type"], on="person_id") if "placement_type" in ch else ep.assign(placement_type=None)
    return {
        "period": {"from": None if lo is None else lo.isoformat(), "to": None if hi is None else hi.isoformat()},
        "episodes": int(len(ep)),
        "children": int(len(per_child)),
        "repeat_children": int((per_child > 1).sum()),
        "repeat_rate_pct": _pct((per_child > 1).sum(), len(per_child)),
        "persistent_children": int((per_child > PERSISTENT).sum()),
        "first_time_children": int(len(firsts)),
        "returned_episodes": int(len(returned)),
        "still_missing": int(ep["returned_at"].isna().sum()),
        "rhi_offered": int(offered_eps),
        "rhi_offered_pct": _pct(offered_eps, len(returned)),
        "rhi_held": int(held["episode_key"].nunique()),
        "rhi_held_within_72h": int(within["episode_key"].nunique()),
        "rhi_held_within_72h_pct": _pct(within["episode_key"].nunique(), len(returned)),
        "rhi_outcomes": {k: int(v) for k, v in rhi["outcome"].value_counts().items()},
        "out_of_area_children": out_of_area,
        "by_category": {str(k): int(v) for k, v in ep["category"].value_counts().items()},
        "by_placement_type": {str(k): int(v) for k, v in
                              ep_pt["placement_type"].fillna("unknown").value_counts().items()},
    }


def cse_scorecard(episodes: pd.DataFrame, children: pd.DataFrame, start=None, end=None,
                  incidents: pd.DataFrame | None = None) -> dict:
    """The COG's CSE figures: the cohort at risk by level, sex, care status; the repeat missing
    rate of children at risk; CSE episodes (episodes of children at significant or serious risk,
    i.e. medium/high); with ``incidents`` (columns ``person_id`` per CSE incident, crime or
    non-crime), the repeat victim rate (DOMAIN.md: 180 of 506 = 35.57%)."""
    ch = children.drop_duplicates("person_id")
    cohort = ch[ch["cse_risk"].isin(["at_risk", "significant", "serious"])]
    ep = in_period(episodes, start, end)
    ep_c = ep[ep["person_id"].isin(cohort["person_id"])]
    cse_eps = ep[ep["person_id"].isin(cohort.loc[cohort["cse_risk"].isin(CSE_EPISODE_RISKS), "person_id"])]
    per = ep_c.groupby("person_id").size().reindex(cohort["person_id"], fill_value=0)
    out = {
        "cohort": int(len(cohort)),
        "by_risk": {str(k): int(v) for k, v in cohort["cse_risk"].value_counts().items()},
        "by_risk_pct": {str(k): _pct(v, len(cohort)) for k, v in cohort["cse_risk"].value_counts().items()},
        "female_pct": _pct((cohort["sex"] == "female").sum(), len(cohort)) if "sex" in cohort else None,
        "in_care": int((cohort.get("care_status") == "cic").sum()) if "care_status" in cohort else None,
        "cse_episodes": int(len(cse_eps)),
        "missing_episodes_of_cohort": int(len(ep_c)),
        "repeat_missing": repeat_rate(per.to_numpy()),
    }
    if incidents is not None and len(incidents):
        out["repeat_victims"] = repeat_rate(incidents.groupby("person_id").size().to_numpy())
    return out


def missing_now(episodes: pd.DataFrame, children: pd.DataFrame, now=None) -> pd.DataFrame:
    """Open episodes (no return time) with hours missing and the actions the clocks call for."""
    now = _utc(now) or pd.Timestamp.now(tz="UTC")
    open_ = episodes[episodes["returned_at"].isna() & (episodes["reported_at"] <= now)].copy()
    ch = children.drop_duplicates("person_id").set_index("person_id")
    open_ = open_.join(ch[[c for c in ("care_status", "placement_type", "cse_risk") if c in ch]],
                       on="person_id")
    open_["hours_missing"] = ((now - open_["reported_at"]).dt.total_seconds() / 3600).round(1)
    actions = []
    for r in open_.itertuples():
        a = []
        if getattr(r, "care_status", None) == "cic" and r.hours_missing > LAC_NOTIFY_HOURS:
            a.append("looked-after child missing over 48 h: notify the director of children's services")
        if r.hours_missing > STRATEGY_HOURS:
            a.append("missing over 72 h: strategy meeting within 5 working days")
        if getattr(r, "police_risk", None) == "high":
            a.append("high police risk")
        actions.append(a)
    open_["actions"] = actions
    cols = ["person_id", "episode_key", "category", "reported_at", "hours_missing", "police_risk",
            "care_status", "placement_type", "cse_risk", "actions"]
    return open_[[c for c in cols if c in open_]].sort_values("hours_missing", ascending=False) \
        .reset_index(drop=True)


def worrying_cases(episodes: pd.DataFrame, children: pd.DataFrame,
                   return_interviews: pd.DataFrame, now=None, n: int = 6,
                   window_days: int = 90) -> list[dict]:
    """The ``n`` most worrying children with the reasons for each (MOG's "six most worrying").

    Points per reason: missing now (4, +2 past 72 h), episodes in the last ``window_days``
    (1 each, up to 6), persistent (more than 3 episodes ever: 2), frequency increasing (more in
    the last window than the one before: 2), CSE risk serious (3) / significant (2), high police
    risk in the window (2), in residential care (1), early-warning profile (female aged 14-17: 1),
    no return interview held within 72 h after a return in the window (1), missing from more than
    one setting (1). Ties broken by the most recent episode.
    """
    now = _utc(now) or pd.Timestamp.now(tz="UTC")
    win = pd.Timedelta(days=window_days)
    ch = children.drop_duplicates("person_id").set_index("person_id")
    held = return_interviews.dropna(subset=["held_at"])[["episode_key", "held_at"]]
    out = []
    for pid, g in episodes.groupby("person_id"):
        g = g[g["reported_at"] <= now]
        if g.empty:
            continue
        reasons, score = [], 0
        recent = g[g["reported_at"] > now - win]
        before = g[(g["reported_at"] <= now - win) & (g["reported_at"] > now - 2 * win)]
        open_ = g[g["returned_at"].isna()]
        if len(open_):
            hours = (now - open_["reported_at"].min()).total_seconds() / 3600
            score += 4 + (2 if hours > STRATEGY_HOURS else 0)
            reasons.append(f"missing now ({hours:.0f} h)")
        if len(recent):
            score += min(len(recent), 6)
            reasons.append(f"{len(recent)} episodes in the last {window_days} days")
        if len(g) > PERSISTENT:
            score += 2
            reasons.append(f"persistent: {len(g)} episodes in all")
        if len(recent) > len(before) and len(recent) >= 2:
            score += 2
            reasons.append(f"increasing: {len(before)} -> {len(recent)} episodes")
        c = ch.loc[pid] if pid in ch.index else None
        if c is not None:
            risk = c.get("cse_risk")
            if risk == "serious":
                score += 3
                reasons.append("CSE risk serious")
            elif risk == "significant":
                score += 2
                reasons.append("CSE risk significant")
            if c.get("placement_type") == "residential":
                score += 1
                reasons.append("lives in residential care")
            dob = c.get("dob")
            if c.get("sex") == "female" and dob is not None and not pd.isna(dob):
                age = (now.tz_localize(None) - pd.Timestamp(dob)).days / 365.25
                if 14 <= age < 18:
                    score += 1
                    reasons.append("early-warning profile: female aged 14-17")
        if "police_risk" in recent and (recent["police_risk"] == "high").any():
            score += 2
            reasons.append("high police risk")
        ret = recent[recent["returned_at"].notna()]
        if len(ret):
            h = ret[["episode_key", "returned_at"]].merge(held, on="episode_key", how="left")
            ok = (h["held_at"] - h["returned_at"]) <= pd.Timedelta(hours=RHI_HOURS)
            missed = int(ret["episode_key"].nunique() - h.loc[ok, "episode_key"].nunique())
            if missed:
                score += 1
                reasons.append(f"{missed} returns without an interview within 72 h")
        if "missing_from" in g and g["missing_from"].dropna().nunique() > 1:
            score += 1
            reasons.append("missing from more than one setting")
        if score:
            out.append({"person_id": pid, "score": int(score), "reasons": reasons,
                        "episodes": int(len(g)), "last_reported": g["reported_at"].max()})
    out.sort(key=lambda r: (-r["score"], -r["last_reported"].value))
    for r in out:
        r["last_reported"] = r["last_reported"].isoformat()
    return out[:n]
