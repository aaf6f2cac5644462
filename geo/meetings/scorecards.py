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
#: percentages over small bases for non-analyst views (api/service/routes/scorecards.py).
PCT_BASE = {
    "repeat_rate_pct": "children",
    "repeat_missing_pct": "missing_children",
    "rhi_offered_pct": "returned_missing_episodes",
    "rhi_held_within_72h_pct": "returned_missing_episodes",
    "rhi_engaged_pct": "rhi_offered_episodes",
    # geo.meetings.mog_extras
    "first_time_rhi_engaged_pct": "first_time_rhi_offered",
    "first_time_missing_again_pct": "first_time_children",
    "first_time_not_missing_again_pct": "first_time_children",
    "placed_out_pct": "looked_after_children_known_placement",
    "cme_children_also_missing_pct": "cme_children_in_period",
    "push_factors_pct": "interviews_held", "pull_factors_pct": "interviews_held",
    "issues_pct": "interviews_held",
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


MISSING, ABSENT, AWAY = "missing", "absent", "away_without_authorisation"
LOOKED_AFTER = "cic"

#: the contract's MOG keys (shared/DATA_CONTRACT.md, "Scorecard measures"), in its order, with
#: the definition each is computed by (the readable table and the pack print these)
MOG_MEASURES = {
    "missing_episodes": "episodes of category missing reported in the period",
    "absent_episodes": "episodes of category absent reported in the period (intelligence only: "
                       "no search, no MASH referral; never inside a missing figure)",
    "away_episodes": "episodes of category away without authorisation reported in the period",
    "missing_children": "children with at least 1 missing episode reported in the period",
    "repeat_missing_children": "children with at least 2 missing episodes in the period",
    "persistent_missing_children": "children with more than 3 missing episodes in the period",
    "first_time_missing_children": "children whose earliest missing episode on record is in the period",
    "missing_episodes_looked_after": "missing episodes in the period of children in care (cic)",
    "returned_missing_episodes": "missing episodes in the period returned by the as-of time",
    "rhi_offered_pct": "% of returned missing episodes with a return interview offered "
                       "(outcome not 'not offered')",
    "rhi_held_within_72h_pct": "% of returned missing episodes with a return interview held "
                               "0-72 hours after the return",
    "rhi_engaged_pct": "% of offered return interviews (per returned missing episode) where "
                       "the child engaged",
    "missing_over_48h_looked_after": "missing episodes in the period of children in care lasting "
                                     "more than 48 hours (to the return, or to the as-of time)",
    "missing_now": "missing episodes not returned by the as-of time, with no later episode of "
                   "the child",
    "stale_open_episodes": "episodes (any category) with no return recorded although the child "
                           "has a later episode: a marker not cleared (data quality)",
}

#: the count each contract percentage is a share of
MOG_BASES = {"rhi_offered_pct": "returned_missing_episodes",
             "rhi_held_within_72h_pct": "returned_missing_episodes",
             "rhi_engaged_pct": "rhi_offered_episodes",
             "repeat_missing_pct": "missing_children"}


def _as_of(as_of, end) -> pd.Timestamp:
    return _utc(as_of) or _utc(end) or pd.Timestamp.now(tz="UTC")


def next_episode_at(episodes: pd.DataFrame, as_of=None) -> pd.Series:
    """For each episode reported at or before ``as_of`` (all when None), the reported_at of the
    same child's next episode (any category) reported after it and at or before ``as_of``; NaT
    when there is none (or the episode is after ``as_of``). Indexed like ``episodes``."""
    out = pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns, UTC]")
    t = _utc(as_of)
    e = episodes if t is None else episodes[episodes["reported_at"] <= t]
    if e.empty:
        return out
    e = e[["person_id", "reported_at"]].sort_values(["person_id", "reported_at"], kind="stable")
    g = e.groupby("person_id", sort=False)["reported_at"]
    nxt = g.shift(-1)
    nxt = nxt.where(nxt > e["reported_at"])          # a tie is not "later"
    nxt = nxt.groupby(e["person_id"], sort=False).bfill()
    out.loc[nxt.index] = nxt
    return out


def episode_states(episodes: pd.DataFrame, as_of) -> pd.DataFrame:
    """The state of each episode as of T: ``known`` (reported at or before T), ``returned``
    (returned_at at or before T), ``has_later`` (a later episode of the child reported by T),
    ``stale`` (no return recorded at all, and a later episode: a marker not cleared) and
    ``missing_now`` (a missing episode, known, not returned by T, no later episode)."""
    t = _utc(as_of)
    known = episodes["reported_at"] <= t
    returned = episodes["returned_at"].notna() & (episodes["returned_at"] <= t)
    nxt = next_episode_at(episodes, t)
    has_later = nxt.notna()
    return pd.DataFrame({
        "known": known, "returned": returned, "next_reported_at": nxt, "has_later": has_later,
        "stale": known & episodes["returned_at"].isna() & has_later,
        "missing_now": known & ~returned & ~has_later & (episodes["category"] == MISSING),
    }, index=episodes.index)


def _view(children: pd.DataFrame, view: pd.DataFrame | None) -> pd.DataFrame:
    if view is not None:
        return view
    from geo.meetings.person_view import person_view
    return person_view(children)


def _of_person(view: pd.DataFrame, field: str, pids: pd.Series) -> pd.Series:
    if field not in view:
        return pd.Series(None, index=pids.index, dtype=object)
    return pids.map(view[field])


def mog_scorecard(episodes: pd.DataFrame, children: pd.DataFrame,
                  return_interviews: pd.DataFrame, start=None, end=None,
                  host_authority: str | None = "Birmingham", as_of=None,
                  view: pd.DataFrame | None = None) -> dict:
    """The MOG scorecard for episodes reported in [start, end), as of T (``as_of``, default
    ``end``): the keys of shared/DATA_CONTRACT.md ("Scorecard measures", :data:`MOG_MEASURES`)
    and beside them the counts behind each percentage (:data:`MOG_BASES`, also under
    ``bases``), ``absent_children``, ``away_children``, ``repeat_missing_pct``, the 72-hour
    strategy-meeting clock (``missing_over_72h``), MASH red ratings, and missing episodes by
    placement type. Measures the papers define on missing use missing episodes only; absent and
    away are counted beside them. A child is a ``person_id``; a child's care status and
    placement are the best view of the person (``geo.meetings.person_view``; pass ``view`` to reuse
    one). A percentage with a zero base is None."""
    lo, hi = _utc(start), _utc(end)
    t = _as_of(as_of, end)
    view = _view(children, view)
    ep = in_period(episodes, lo, hi)
    cat = ep["category"]
    mis = ep[cat == MISSING]
    per_child = mis.groupby("person_id").size()
    all_mis = episodes[episodes["category"] == MISSING]
    first = all_mis.groupby("person_id")["reported_at"].min()
    first_in = first[in_period(first.to_frame("reported_at"), lo, hi).index]
    care = _of_person(view, "care_status", mis["person_id"])
    lac = mis[(care == LOOKED_AFTER).to_numpy()]
    ret_ok = mis["returned_at"].notna() & (mis["returned_at"] <= t)
    returned = mis[ret_ok]
    rhi = return_interviews[return_interviews["episode_key"].isin(returned["episode_key"])]
    rhi = rhi.merge(returned[["episode_key", "returned_at"]], on="episode_key", how="left")
    offered = set(rhi.loc[rhi["outcome"].notna() & (rhi["outcome"] != "not_offered"), "episode_key"])
    gap = rhi["held_at"] - rhi["returned_at"]
    within = set(rhi.loc[rhi["held_at"].notna() & (gap >= pd.Timedelta(0))
                         & (gap <= pd.Timedelta(hours=RHI_HOURS)), "episode_key"])
    engaged = set(rhi.loc[rhi["outcome"] == "engaged", "episode_key"]) & offered

    def lasting(e: pd.DataFrame, hours: float) -> int:
        stop = e["returned_at"].where(e["returned_at"].notna() & (e["returned_at"] <= t), t)
        return int(((stop - e["reported_at"]) > pd.Timedelta(hours=hours)).sum())

    st = episode_states(episodes, t)
    pt = _of_person(view, "placement_type", mis["person_id"]).fillna("unknown")
    rag = mis["rag"] if "rag" in mis else pd.Series(None, index=mis.index, dtype=object)
    n_ret = int(len(returned))
    out = {
        "period": {"from": None if lo is None else lo.isoformat(),
                   "to": None if hi is None else hi.isoformat(), "as_of": t.isoformat()},
        "missing_episodes": int(len(mis)),
        "absent_episodes": int((cat == ABSENT).sum()),
        "away_episodes": int((cat == AWAY).sum()),
        "missing_children": int(len(per_child)),
        "repeat_missing_children": int((per_child >= 2).sum()),
        "persistent_missing_children": int((per_child > PERSISTENT).sum()),
        "first_time_missing_children": int(len(first_in)),
        "missing_episodes_looked_after": int(len(lac)),
        "returned_missing_episodes": n_ret,
        "rhi_offered_pct": _pct(len(offered), n_ret),
        "rhi_held_within_72h_pct": _pct(len(within), n_ret),
        "rhi_engaged_pct": _pct(len(engaged), len(offered)),
        "missing_over_48h_looked_after": lasting(lac, LAC_NOTIFY_HOURS),
        "missing_now": int(st["missing_now"].sum()),
        "stale_open_episodes": int(st["stale"].sum()),
        # beside the contract keys: the counts behind the percentages, and what the papers
        # report next to the missing figures
        "rhi_offered_episodes": len(offered),
        "rhi_held_within_72h_episodes": len(within),
        "rhi_engaged_episodes": len(engaged),
        "repeat_missing_pct": _pct((per_child >= 2).sum(), len(per_child)),
        "absent_children": int(ep.loc[cat == ABSENT, "person_id"].nunique()),
        "away_children": int(ep.loc[cat == AWAY, "person_id"].nunique()),
        "missing_over_72h": lasting(mis, STRATEGY_HOURS),
        "missing_episodes_rag_red": int((rag.astype("string").str.lower() == "red").sum()),
        "missing_now_looked_after": int((st["missing_now"]
                                         & (_of_person(view, "care_status", episodes["person_id"])
                                            == LOOKED_AFTER)).sum()),
        "missing_episodes_by_placement_type": {str(k): int(v) for k, v in pt.value_counts().items()},
        "bases": dict(MOG_BASES),
    }
    return out


def cse_scorecard(episodes: pd.DataFrame, children: pd.DataFrame, start=None, end=None,
                  incidents: pd.DataFrame | None = None) -> dict:
    """The COG's CSE figures: the cohort at risk by level, sex, care status; the repeat missing
    rate of children at risk; CSE episodes (episodes of children at significant or serious risk,
    i.e. medium/high); with ``incidents`` (columns ``person_id`` per CSE incident, crime or
    non-crime), the repeat victim rate (DOMAIN.md: 180 of 506 = 35.57%)."""
    from geo.meetings.person_view import person_view
    ch = person_view(children).reset_index()
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


def missing_now(episodes: pd.DataFrame, children: pd.DataFrame, now=None,
                view: pd.DataFrame | None = None) -> pd.DataFrame:
    """Children missing as of ``now`` (default: the present): missing episodes reported by then,
    not returned by then, with no later episode of the child (an open record followed by a later
    episode is stale: :func:`episode_states`, listed by ``geo.meetings.data_quality``), with hours missing
    as of ``now`` and the actions the clocks call for (48 h for children in care: notify the
    director; 72 h: strategy meeting; MASH red: strategy meeting within 4 hours). Care status and
    placement are the best view of the person (``geo.meetings.person_view``)."""
    now = _as_of(now, None)
    view = _view(children, view)
    st = episode_states(episodes, now)
    open_ = episodes[st["missing_now"]].copy()
    for f in ("care_status", "placement_type", "cse_risk"):
        open_[f] = _of_person(view, f, open_["person_id"])
    open_["hours_missing"] = ((now - open_["reported_at"]).dt.total_seconds() / 3600).round(1)
    actions = []
    for r in open_.itertuples():
        a = []
        if getattr(r, "care_status", None) == LOOKED_AFTER and r.hours_missing > LAC_NOTIFY_HOURS:
            a.append("looked-after child missing over 48 h: notify the director of children's services")
        if r.hours_missing > STRATEGY_HOURS:
            a.append("missing over 72 h: strategy meeting within 5 working days")
        if str(getattr(r, "rag", "") or "").lower() == "red":
            a.append("MASH red: strategy meeting within 4 hours of the notification")
        if getattr(r, "police_risk", None) == "high":
            a.append("high police risk")
        actions.append(a)
    open_["actions"] = actions
    open_["as_of"] = now
    cols = ["person_id", "episode_key", "category", "reported_at", "hours_missing", "police_risk",
            "care_status", "placement_type", "cse_risk", "actions", "as_of"]
    return open_[[c for c in cols if c in open_]].sort_values("hours_missing", ascending=False) \
        .reset_index(drop=True)


def worrying_cases(episodes: pd.DataFrame, children: pd.DataFrame,
                   return_interviews: pd.DataFrame, now=None, n: int = 6,
                   window_days: int = 90, view: pd.DataFrame | None = None) -> list[dict]:
    """The ``n`` most worrying children as of ``now`` with the reasons for each (MOG's "six most
    worrying"). Only what is known by ``now`` counts.

    Points per reason: missing now (4, +2 past 72 h; a missing episode not returned by ``now``
    and not followed by a later episode: stale open records are data-quality findings, not
    missing children), missing episodes in the last ``window_days`` (1 each, up to 6), absent or
    away episodes in the window (1: intelligence, reported beside), persistent (more than 3
    missing episodes on record: 2), frequency increasing (more missing episodes in the last
    window than the one before: 2), CSE risk serious (3) / significant (2), high police risk in
    the window (2), in residential care (1), early-warning profile (female aged 14-17: 1), no
    return interview held within 72 h after a return in the window (1), missing from more than
    one setting (1). Ties broken by the most recent episode. Care status, placement and CSE
    risk are the best view of the person (``geo.meetings.person_view``).
    """
    now = _as_of(now, None)
    win = pd.Timedelta(days=window_days)
    view = _view(children, view)
    held = return_interviews.dropna(subset=["held_at"])[["episode_key", "held_at"]]
    known = episodes[episodes["reported_at"] <= now]
    st = episode_states(known, now)
    keep = known["person_id"].notna().to_numpy()        # as groupby: no child, no case
    known, st = known[keep], st[keep]
    if known.empty:
        return []
    t = known["reported_at"]
    is_m = (known["category"] == MISSING).to_numpy()
    in_win = (t > now - win).to_numpy()
    recent = is_m & in_win
    before = is_m & ((t <= now - win) & (t > now - 2 * win)).to_numpy()
    other = in_win & ~is_m
    opened = is_m & st["missing_now"].to_numpy(dtype=bool)
    high = in_win & (known["police_risk"] == "high").to_numpy() if "police_risk" in known else \
        np.zeros(len(known), dtype=bool)
    pid = known["person_id"]
    per = pd.DataFrame({"missing": is_m, "recent": recent, "before": before, "other": other,
                        "high": high, "open_at": t.where(opened), "last": t},
                       index=known.index).groupby(pid, sort=True).agg(
        missing=("missing", "sum"), recent=("recent", "sum"), before=("before", "sum"),
        other=("other", "sum"), high=("high", "any"), open_at=("open_at", "min"), last=("last", "max"))
    ids = per.index
    is_open = per["open_at"].notna()
    over_72h = (now - per["open_at"]) > pd.Timedelta(hours=STRATEGY_HOURS)   # NaT: False
    # returns in the window without an interview held within RHI_HOURS
    ret = known.loc[recent & (known["returned_at"].notna() & (known["returned_at"] <= now)).to_numpy(),
                    ["person_id", "episode_key", "returned_at"]]
    missed = pd.Series(0, index=ids)
    if len(ret):
        h = ret.merge(held, on="episode_key", how="left")
        ok = ((h["held_at"] - h["returned_at"]) <= pd.Timedelta(hours=RHI_HOURS)).to_numpy(dtype=bool)
        n_ret = ret.groupby("person_id")["episode_key"].nunique()
        n_ok = h[ok].groupby("person_id")["episode_key"].nunique()
        missed = n_ret.sub(n_ok, fill_value=0).reindex(ids, fill_value=0).astype(int)
    settings = (known["missing_from"].groupby(pid).nunique().reindex(ids, fill_value=0)
                if "missing_from" in known else pd.Series(0, index=ids))

    def of_view(field):
        if field not in view:
            return pd.Series(None, index=ids, dtype=object)
        return view[field].reindex(ids)
    risk = of_view("cse_risk")
    dob = pd.to_datetime(of_view("dob"), errors="coerce")
    age = (now.tz_localize(None) - dob).dt.days / 365.25
    flags = pd.DataFrame({
        "open": is_open, "recent": per["recent"] > 0, "other": per["other"] > 0,
        "persistent": per["missing"] > PERSISTENT,
        "increasing": (per["recent"] > per["before"]) & (per["recent"] >= 2),
        "serious": risk == "serious", "significant": risk == "significant",
        "residential": of_view("placement_type") == "residential",
        "early": (of_view("sex") == "female") & dob.notna() & (age >= 14) & (age < 18),
        "high": per["high"].astype(bool), "missed": missed > 0, "settings": settings > 1,
    }, index=ids).fillna(False).astype(bool)
    score = (flags["open"] * (4 + 2 * over_72h.to_numpy(dtype=bool)) + per["recent"].clip(upper=6)
             + flags["other"] * 1 + flags["persistent"] * 2 + flags["increasing"] * 2
             + flags["serious"] * 3 + flags["significant"] * 2 + flags["residential"] * 1
             + flags["early"] * 1 + flags["high"] * 2 + flags["missed"] * 1 + flags["settings"] * 1
             ).astype(int)
    scored = np.flatnonzero(score.to_numpy() > 0)
    last_ns = np.asarray(per["last"].array.asi8)[scored]
    order = scored[np.lexsort((-last_ns, -score.to_numpy()[scored]))][:n]     # stable, as sorted()
    return [_worrying_row(ids[i], per.iloc[i], flags.iloc[i], int(score.iloc[i]), now,
                          int(missed.iloc[i]), window_days) for i in order]


def _worrying_row(pid, per: pd.Series, f: pd.Series, score: int, now: pd.Timestamp, missed: int,
                  window_days: int) -> dict:
    """One row of :func:`worrying_cases` with its reasons in words (for the rows returned only)."""
    recent, before, other, missing = (int(per[k]) for k in ("recent", "before", "other", "missing"))
    reasons = []
    if f["open"]:
        hours = (now - per["open_at"]).total_seconds() / 3600
        reasons.append(f"missing now ({hours:.0f} h)")
    if f["recent"]:
        reasons.append(f"{recent} missing episodes in the last {window_days} days")
    if f["other"]:
        reasons.append(f"{other} absent or away episodes in the last {window_days} days")
    if f["persistent"]:
        reasons.append(f"persistent: {missing} missing episodes in all")
    if f["increasing"]:
        reasons.append(f"increasing: {before} -> {recent} missing episodes")
    if f["serious"]:
        reasons.append("CSE risk serious")
    elif f["significant"]:
        reasons.append("CSE risk significant")
    if f["residential"]:
        reasons.append("lives in residential care")
    if f["early"]:
        reasons.append("early-warning profile: female aged 14-17")
    if f["high"]:
        reasons.append("high police risk")
    if f["missed"]:
        reasons.append(f"{missed} returns without an interview within 72 h")
    if f["settings"]:
        reasons.append("missing from more than one setting")
    return {"person_id": pid, "score": score, "reasons": reasons, "episodes": missing,
            "last_reported": per["last"].isoformat()}
