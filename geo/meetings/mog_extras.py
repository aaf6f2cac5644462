"""The MOG's questions beyond the contract's scorecard keys (issue 14, DOMAIN.md): episodes per
children's home, children placed across authority borders both ways, what return interviews
raise over time, how first-time missing children fare, children missing from more than one
setting, and children missing education.

``mog_extras`` returns one dict whose parts sit beside ``geo.meetings.scorecards.mog_scorecard`` in the
CLI's JSON, the API and the MOG pack. Episodes are those reported in the period [start, end);
T (``as_of``) is when the figures are as of. Children are person_ids; their placement, home and
authorities are the best view of each person (``geo.meetings.person_view``). Person-level lists carry
``person_id`` (the edges pseudonymise them for non-analysts) and ``by_establishment`` names
children's homes (restricted: the edges give it only to roles that may see homes).
"""
from __future__ import annotations

import pandas as pd

from geo.meetings.scorecards import (ABSENT, AWAY, MISSING, _as_of, _pct, _utc, _view, in_period)

SETTINGS = ("home", "care", "education", "other")
CME_STATUSES = ("cme", "cnes", "removed_unlocated", "elective_home_education", "other")


def _norm(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.lower()


def _by_category(ep: pd.DataFrame, key: str) -> pd.DataFrame:
    g = ep.groupby(key)
    out = pd.DataFrame({
        "missing_episodes": g["category"].agg(lambda c: int((c == MISSING).sum())),
        "absent_episodes": g["category"].agg(lambda c: int((c == ABSENT).sum())),
        "away_episodes": g["category"].agg(lambda c: int((c == AWAY).sum())),
        "children": g["person_id"].nunique(),
    })
    return out.sort_values(["missing_episodes", "children"], ascending=False)


def by_establishment(ep: pd.DataFrame, view: pd.DataFrame) -> list[dict]:
    """Episodes in the period per children's home (establishment of the child's best view)."""
    if "establishment" not in view or ep.empty:
        return []
    e = ep.assign(establishment=ep["person_id"].map(view["establishment"])).dropna(subset=["establishment"])
    e = e[e["establishment"].astype(str).str.strip() != ""]
    if e.empty:
        return []
    t = _by_category(e, "establishment").reset_index()
    return [{k: (int(v) if k != "establishment" else str(v)) for k, v in r.items()} for r in t.to_dict("records")]


def placements(ep: pd.DataFrame, view: pd.DataFrame, host: str) -> dict:
    """Out of area both ways. ``placed_in``: children placed in ``host`` by other authorities
    (responsible authority not ``host``) with an episode in the period: by responsible authority,
    and per child the pattern of episodes. ``placed_out``: the host's own children in care placed
    with another authority (placement_authority), all of them and those with an episode in the
    period, by host authority; with the share of the host's own looked-after children placed out
    (DOMAIN.md: 41 %)."""
    h = host.strip().lower()
    col = lambda c: view[c] if c in view else pd.Series(None, index=view.index, dtype=object)  # noqa: E731
    ra_raw, pa_raw = col("responsible_authority"), col("placement_authority")
    ra, pa, care = _norm(ra_raw), _norm(pa_raw), col("care_status")
    ins = ra.index[(ra.notna() & (ra != "") & (ra != h)).fillna(False).to_numpy()]
    e_in = ep[ep["person_id"].isin(ins)]
    per = _placed_in_list(e_in, ra_raw)
    per.sort(key=lambda r: (-r["missing_episodes"], -r["absent_episodes"] - r["away_episodes"], r["person_id"]))
    by_ra = {}
    if len(e_in):
        t = _by_category(e_in.assign(ra=e_in["person_id"].map(ra_raw)), "ra")
        by_ra = {str(k): {c: int(v) for c, v in r.items()} for k, r in t.iterrows()}
    own_lac = view.index[((ra == h) & (care == "cic")).fillna(False).to_numpy()]
    known = pa.reindex(own_lac)
    known = known[known.notna() & (known != "")]
    out_ids = known.index[(known != h).to_numpy()]
    e_out = ep[ep["person_id"].isin(out_ids)]
    hosts = pa.reindex(out_ids)
    by_host = {}
    for auth, ids in pd.Series(out_ids, index=out_ids).groupby(pa_raw.reindex(out_ids)):
        e_h = e_out[e_out["person_id"].isin(ids)]
        by_host[str(auth)] = {"children": int(len(ids)),
                              "children_missing": int(e_h.loc[e_h["category"] == MISSING, "person_id"].nunique()),
                              "missing_episodes": int((e_h["category"] == MISSING).sum())}
    by_host = dict(sorted(by_host.items(), key=lambda kv: -kv[1]["children"]))
    return {
        "placed_in_children": int(e_in["person_id"].nunique()),
        "placed_in_children_missing": int(e_in.loc[e_in["category"] == MISSING, "person_id"].nunique()),
        "placed_in_by_authority": by_ra, "placed_in_list": per,
        "looked_after_children_known_placement": int(len(known)),
        "placed_out_children": int(len(hosts)),
        "placed_out_pct": _pct(len(hosts), len(known)),
        "placed_out_children_missing": int(e_out.loc[e_out["category"] == MISSING, "person_id"].nunique()),
        "placed_out_by_host": by_host,
    }


def _placed_in_list(e_in: pd.DataFrame, ra_raw: pd.Series) -> list[dict]:
    """Per child placed in: responsible authority, episodes by category, first and last
    reported and the settings missing from (sorted, ``;``-joined)."""
    if e_in.empty:
        return []
    cat = e_in["category"]
    g = pd.DataFrame({"person_id": e_in["person_id"], "m": cat == MISSING, "a": cat == ABSENT,
                      "w": cat == AWAY, "at": e_in["reported_at"]}).groupby("person_id")
    t = g.agg(m=("m", "sum"), a=("a", "sum"), w=("w", "sum"), first=("at", "min"),
              last=("at", "max"))
    settings = pd.Series("", index=t.index, dtype=object)
    if "missing_from" in e_in:
        mf = e_in[["person_id", "missing_from"]].dropna().drop_duplicates()
        mf = mf.sort_values(["person_id", "missing_from"])
        settings.update(mf.groupby("person_id")["missing_from"].agg(";".join))
    ra = ra_raw.reindex(t.index)
    return [{"person_id": pid, "responsible_authority": str(r), "missing_episodes": int(m),
             "absent_episodes": int(a), "away_episodes": int(w), "first_reported": f.isoformat(),
             "last_reported": last.isoformat(), "settings": st}
            for pid, r, m, a, w, f, last, st in zip(t.index, ra, t["m"], t["a"], t["w"],
                                                     t["first"], t["last"], settings)]


def rhi_themes(mis: pd.DataFrame, rhi: pd.DataFrame, t, top: int = 10) -> dict:
    """Push and pull factors and issues raised in the return interviews of the period's missing
    episodes held by T: counts over the interviews held, and issues per month of the episode."""
    r = rhi[rhi["episode_key"].isin(mis["episode_key"]) & rhi["held_at"].notna() & (rhi["held_at"] <= t)]
    r = r.merge(mis[["episode_key", "reported_at"]], on="episode_key")
    out = {"interviews_held": int(len(r))}
    for col in ("push_factors", "pull_factors", "issues"):
        if col not in r:
            continue
        x = r[["reported_at", col]].explode(col).dropna(subset=[col])
        x[col] = x[col].astype(str).str.strip().str.lower()
        x = x[x[col] != ""]
        counts = x[col].value_counts().head(top)
        out[col] = {str(k): int(v) for k, v in counts.items()}
        out[f"{col}_pct"] = {str(k): _pct(v, len(r)) for k, v in counts.items()}
        if col == "issues" and len(x):
            month = x["reported_at"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m")
            pm = x.assign(month=month).groupby(["month", col]).size()
            out["issues_by_month"] = {m: {str(k): int(v) for k, v in g.droplevel(0).items()}
                                      for m, g in pm.groupby(level=0)}
    return out


def first_time(episodes: pd.DataFrame, rhi: pd.DataFrame, lo, hi, t) -> dict:
    """Children whose first missing episode on record is in the period: their first episodes'
    return interviews (offered, engaged) and whether they went missing again by T (DOMAIN.md:
    341 first-time episodes, 34 % engaged, 84 % not missing again)."""
    mis = episodes[episodes["category"] == MISSING].sort_values(["person_id", "reported_at"], kind="stable")
    first = in_period(mis.drop_duplicates("person_id"), lo, hi)
    r = rhi[rhi["episode_key"].isin(first["episode_key"])]
    offered = set(r.loc[r["outcome"].notna() & (r["outcome"] != "not_offered"), "episode_key"])
    engaged = set(r.loc[r["outcome"] == "engaged", "episode_key"]) & offered
    known = mis[mis["reported_at"] <= t]
    later = known.merge(first[["person_id", "reported_at"]].rename(columns={"reported_at": "first_at"}),
                        on="person_id")
    again = int(later.loc[later["reported_at"] > later["first_at"], "person_id"].nunique())
    n = int(len(first))
    return {"first_time_children": n, "first_time_rhi_offered": len(offered),
            "first_time_rhi_engaged": len(engaged), "first_time_rhi_engaged_pct": _pct(len(engaged), len(offered)),
            "first_time_missing_again": again, "first_time_missing_again_pct": _pct(again, n),
            "first_time_not_missing_again_pct": _pct(n - again, n)}


def multi_setting(ep: pd.DataFrame) -> list[dict]:
    """Children with episodes (any category) in the period from more than one setting (home,
    care, education, other): the list nobody joins up (DOMAIN.md)."""
    if "missing_from" not in ep or ep.empty:
        return []
    e = ep.assign(setting=_norm(ep["missing_from"])).dropna(subset=["setting"])
    e = e[e["setting"].isin(SETTINGS)]
    # only the children with two settings or more are looked at one by one
    several = e.groupby("person_id")["setting"].nunique()
    e = e[e["person_id"].isin(several.index[several > 1])]
    out = []
    for pid, g in e.groupby("person_id"):
        s = sorted(set(g["setting"]))
        if len(s) > 1:
            out.append({"person_id": pid, "settings": ";".join(s), "episodes": int(len(g)),
                        "missing_episodes": int((g["category"] == MISSING).sum()),
                        "sources": ";".join(sorted(set(g["source"].dropna().astype(str)))) if "source" in g else "",
                        "last_reported": g["reported_at"].max().isoformat()})
    out.sort(key=lambda r: (-len(r["settings"].split(";")), -r["episodes"], r["person_id"]))
    return out


def cme(education: pd.DataFrame | None, mis: pd.DataFrame, lo, hi, t) -> dict:
    """Children missing education (education.csv): records open at T by status, records started
    and ended in the period, and children on a CME record open in the period who also had a
    missing episode in it. Dates are days (London)."""
    if education is None or len(education) == 0:
        return {"records": 0}
    ed = education.copy()
    local = lambda ts: None if ts is None else ts.tz_convert("Europe/London").tz_localize(None)  # noqa: E731
    lo_d, hi_d, t_d = local(lo), local(hi), local(t)
    start, end = ed["start_date"], ed["end_date"]
    open_t = (start <= t_d) & (end.isna() | (end > t_d))
    started = (start >= lo_d) & (start < hi_d) if lo_d is not None else start < hi_d
    ended = end.notna() & (end >= lo_d) & (end < hi_d) if lo_d is not None else end.notna() & (end < hi_d)
    open_p = (start < hi_d) & (end.isna() | (end >= lo_d)) if lo_d is not None else start < hi_d
    cme_p = ed[open_p & (ed["status"] == "cme")]
    both = set(cme_p["person_id"]) & set(mis["person_id"])
    return {
        "records": int(len(ed)),
        "open_at_as_of": {s: int((open_t & (ed["status"] == s)).sum()) for s in CME_STATUSES},
        "cme_children_open_at_as_of": int(ed.loc[open_t & (ed["status"] == "cme"), "person_id"].nunique()),
        "started_in_period": int(started.sum()), "ended_in_period": int(ended.sum()),
        "cme_children_in_period": int(cme_p["person_id"].nunique()),
        "cme_children_also_missing": len(both),
        "cme_children_also_missing_pct": _pct(len(both), cme_p["person_id"].nunique()),
    }


def mog_extras(episodes: pd.DataFrame, children: pd.DataFrame, return_interviews: pd.DataFrame,
               start=None, end=None, as_of=None, host: str = "Birmingham",
               education: pd.DataFrame | None = None, view: pd.DataFrame | None = None) -> dict:
    """All of the above for [start, end) as of T (default ``end``)."""
    lo, hi = _utc(start), _utc(end)
    t = _as_of(as_of, end)
    view = _view(children, view)
    ep = in_period(episodes, lo, hi)
    mis = ep[ep["category"] == MISSING]
    return {
        "by_establishment": by_establishment(ep, view),
        "out_of_area": placements(ep, view, host),
        "rhi_themes": rhi_themes(mis, return_interviews, t),
        "first_time": first_time(episodes, return_interviews, lo, hi, t),
        "multi_setting": multi_setting(ep),
        "cme": cme(education, mis, lo, hi, t),
    }


def minimised(extras: dict, pseudonym, small: int = 5, homes: bool = False) -> dict:
    """``extras`` as a role without the full view may see them: children named by ``pseudonym``
    (a function of the person id), dates to the day, counts and percentages under
    ``geo.disclosure.suppress_scorecard``; ``by_establishment`` (children's homes, restricted)
    only when ``homes``."""
    from geo.disclosure import day_of, suppress_scorecard

    def row(r: dict) -> dict:
        r = dict(r)
        if "person_id" in r:
            r = {"child": pseudonym(r.pop("person_id")), **r}
        for k in ("first_reported", "last_reported"):
            if k in r:
                r[k] = day_of([r[k]]).iloc[0]
        return suppress_scorecard(r, small, exempt=("child", "settings", "sources"))

    def walk(v):
        if isinstance(v, list):
            return [row(x) if isinstance(x, dict) else x for x in v]
        if isinstance(v, dict):
            lists = {k: walk(x) for k, x in v.items() if isinstance(x, list)}
            rest = suppress_scorecard({k: x for k, x in v.items() if not isinstance(x, list)}, small,
                                      exempt=())
            return {k: lists.get(k, rest.get(k)) for k in v}
        return v

    out = {k: walk(v) for k, v in extras.items() if k != "by_establishment" or homes}
    if not homes and "by_establishment" in extras:
        out["by_establishment"] = "withheld: children's homes are restricted to roles that may see them"
    return out
