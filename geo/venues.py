"""Premises of concern: evidence, score, significance and a plain-English explanation.

Frames in (docs/FRAMES.md): ``premises``, ``place_events`` (found-at and RHI places),
``geocodes`` (text -> ``match_id`` such as ``premises:ID``), ``return_interviews``, ``links``,
``intelligence`` and optionally ``children`` (child record id -> person_id). Coordinates
EPSG:27700 metres; ``radius_m`` in metres; times UTC.

Evidence per premises
---------------------
* **near**: place events (found_at, rhi_place) within ``radius_m`` of the premises:
  distinct children (``person_id``), distinct episodes, children in the last
  ``recent_days``. Only located points count (precision postcode, address, street): not area
  centroids (``precision`` area / none), and not points the geocoder matched to a named
  gazetteer entity (``match_id`` ``place:...`` or ``premises:...``): a child found at a
  shopping park or a station is evidence about that place, not about every takeaway within
  ``radius_m`` of its reference point (and a match to this premises is counted as *named*).
* **named**: explicit mentions of the premises: place events and RHI places the geocoder
  matched to ``premises:ID`` (the event's ``match_id``, else the ``geocodes`` table by text); ``links`` with a ``premises:ID`` end (the other end is
  counted as a child when it is a ``child:`` / ``person:`` reference); intelligence with
  ``premises_id`` or a ``premises:ID`` subject.
* **intel**: intelligence logs about the premises, each weighted by its 3x5x2 grading:
  source evaluation 1/2/3 -> 1.0/0.6/0.3, intelligence assessment A/B/C/D/E ->
  1.0/0.8/0.5/0.3/0.0 (E, "suspected to be false", carries no weight); missing grades count
  as untested (0.6) and C (0.5).

Score (for ranking)::

    score = (children + 0.25 * episodes + 0.5 * recent_children + 0.5 * mentions
             + 3 * intel_weight) * (1 + 0.5 * [linked in links] + 0.5 * [named in intelligence])

where ``children`` is the number of distinct children near or named, ``mentions`` counts
distinct mentioning records (RHIs, links, events naming it) and ``intel_weight`` the sum of
grading weights; the last factor rewards corroboration by independent sources (a place
children merely pass through is rarely also named in reported relationships and graded
intelligence). Premises are ranked by significance class first (``q_value < alpha``), then
by score.

Significance test (the model and its assumptions)
-------------------------------------------------
Null hypothesis: the distinct children linked to a premises (near or named) arise from the
local background alone, so the count ``C_p`` is exchangeable with the counts of premises of
the same type in places of the same local density. Premises are stratified by
``premises_type`` x local density, where density is the number of distinct children with
place events within ``density_radius_m`` (default 1,000 m) of the premises, cut into
``density_strata`` quantile bands; strata with fewer than ``min_stratum`` premises are pooled
across types within their density band. Within each stratum ``C`` is modelled as
negative binomial (Poisson when not over-dispersed) with mean and variance estimated by the
method of moments from the stratum after trimming its top ``trim`` fraction (so that the
premises being tested do not set their own expectation). The one-sided p-value is
``P(X >= C_p)``; Benjamini-Hochberg q-values are taken over all premises with ``C_p > 0``
(premises with no evidence get p = q = 1). Assumptions: counts within a stratum are
independent draws from one distribution (neighbouring premises share events, so the test is
about a premises' surroundings, and explicit mentions are what separate next-door
premises); the moment fit is adequate for strata of a few dozen premises or more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from geo.hotspots import DEFAULT_KINDS, filter_events
from geo.permutation import bh_qvalues

__all__ = ["premises_of_concern", "grading_weight", "VENUE_COLUMNS"]

VENUE_COLUMNS = [
    "rank", "premises_id", "name", "premises_type", "score", "children", "episodes",
    "mentions", "intel", "p_value", "q_value", "explanation",
]

SOURCE_WEIGHT = {"1": 1.0, "2": 0.6, "3": 0.3}
#: geocode precisions too coarse to place a child near a premises (area centroids, nothing)
COARSE_PRECISION = ("area", "none")
INTEL_WEIGHT = {"A": 1.0, "B": 0.8, "C": 0.5, "D": 0.3, "E": 0.0}


def grading_weight(source_eval, intel_eval) -> np.ndarray:
    """3x5x2 reliability weight: source (1/2/3 -> 1/.6/.3) x assessment (A..E -> 1/.8/.5/.3/0)."""
    s = pd.Series(source_eval).astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    i = pd.Series(intel_eval).astype("string").str.strip().str.upper()
    return (s.map(SOURCE_WEIGHT).fillna(0.6).to_numpy(float)
            * i.map(INTEL_WEIGHT).fillna(0.5).to_numpy(float))


def _premises_refs(values: pd.Series) -> pd.Series:
    """``premises:ID`` -> ``ID`` (others -> NaN)."""
    s = values.astype("string")
    return s.str.extract(r"^\s*premises:(.+?)\s*$", expand=False)


def _empty_frame(cols):
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


def _plural(n: pd.Series, one: str, many: str) -> pd.Series:
    n = n.astype(int)
    return n.astype(str) + " " + np.where(n == 1, one, many)


def premises_of_concern(
    premises: pd.DataFrame,
    place_events: pd.DataFrame,
    *,
    geocodes: pd.DataFrame | None = None,
    return_interviews: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    intelligence: pd.DataFrame | None = None,
    children: pd.DataFrame | None = None,
    radius_m: float = 50.0,
    recent_days: int = 182,
    now=None,
    start=None,
    end=None,
    kinds=DEFAULT_KINDS,
    density_radius_m: float = 1000.0,
    density_strata: int = 4,
    min_stratum: int = 30,
    trim: float = 0.05,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Rank premises by evidence of concern with a stratified significance test.

    See the module docstring for evidence, score and the statistical model. ``now`` is the
    reference time for recency (default: the latest event time, else today UTC).

    Returns a DataFrame with :data:`VENUE_COLUMNS` plus ``recent_children``, ``near_children``,
    ``named_children``, ``intel_weight``, ``intel_grades``, ``expected``, ``stratum``, one
    row per premises, best first (``rank`` 1).
    """
    pr = premises.reset_index(drop=True).copy()
    pr["premises_id"] = pr["premises_id"].astype(str)
    n_p = len(pr)
    if n_p == 0:
        return _empty_frame(VENUE_COLUMNS)
    pid_set = set(pr["premises_id"])
    key_to_id = {}
    if "premises_key" in pr:
        key_to_id = dict(zip(pr["premises_key"].astype(str), pr["premises_id"]))

    def resolve(ids: pd.Series) -> pd.Series:
        """premises_id or premises_key -> premises_id (object dtype; NaN when unknown).

        Plain object dtype on purpose: store frames carry pandas' Arrow-backed strings, whose
        ``isin`` fails on an all-missing column."""
        ids = pd.Series(ids, copy=False).astype(object)
        ids = ids.where(ids.notna(), None)
        mapped = ids
        if key_to_id:
            mapped = ids.map(key_to_id)
            mapped = mapped.where(mapped.notna(), ids)
        return mapped.where(mapped.isin(pid_set).to_numpy(), np.nan).astype(object)

    ev = filter_events(place_events, kinds, start, end).reset_index(drop=True)
    ev = ev.assign(person_id=ev["person_id"].astype(str) if "person_id" in ev else ev.index.astype(str))
    if "episode_key" not in ev:
        ev["episode_key"] = ev.get("event_key", pd.Series(ev.index.astype(str)))
    at = pd.to_datetime(ev["at"], utc=True, errors="coerce") if "at" in ev else pd.Series(pd.NaT, index=ev.index)
    if now is None:
        now = at.max() if at.notna().any() else pd.Timestamp.now(tz="UTC")
    now = pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    recent_from = now - pd.Timedelta(days=recent_days)

    # ---- evidence rows: (premises_id, person, episode, at, via, record) -------------------
    rows = []
    has_xy = pr[["easting", "northing"]].notna().all(axis=1).to_numpy() if {"easting", "northing"} <= set(pr) else np.zeros(n_p, bool)
    exy = ev[["easting", "northing"]].to_numpy(float) if len(ev) else np.empty((0, 2))
    ok_e = ~np.isnan(exy).any(axis=1) if len(exy) else np.zeros(0, bool)
    # what the geocoder matched each event to: the event's own match_id, else the geocodes table
    match = pd.Series(None, index=ev.index, dtype=object)
    if "match_id" in ev:
        match = ev["match_id"].astype(object).where(ev["match_id"].notna(), None)
    if geocodes is not None and len(geocodes) and "text" in ev and "match_id" in geocodes:
        gmap = geocodes.dropna(subset=["match_id"]).drop_duplicates("text").set_index("text")["match_id"].astype(object)
        match = match.where(match.notna(), ev["text"].astype(object).map(gmap))
    entity = match.astype("string").str.extract(r"^\s*(premises|place):", expand=False).notna().to_numpy()
    coarse = np.zeros(len(ev), bool)
    if "precision" in ev:
        coarse = ev["precision"].astype("string").isin(list(COARSE_PRECISION)).fillna(False).to_numpy(bool)
    # "near" evidence: located points (postcode, address, street) that no named gazetteer entity
    # explains; area centroids are not places, and a point matched to a park, a station or another
    # premises is evidence about that entity, not about whatever lies within radius_m of it
    near_ok = ok_e & ~coarse & ~entity
    if has_xy.any() and near_ok.any():
        pxy = pr.loc[has_xy, ["easting", "northing"]].to_numpy(float)
        p_pos = np.flatnonzero(has_xy)
        e_pos = np.flatnonzero(near_ok)
        pairs = cKDTree(pxy).sparse_distance_matrix(cKDTree(exy[near_ok]), radius_m, output_type="ndarray")
        pi = p_pos[pairs["i"]]
        ej = e_pos[pairs["j"]]
        # take the matched rows first, then convert (store frames hold Arrow strings: converting
        # a whole million-row column to objects costs seconds)
        near = pd.DataFrame({
            "premises_id": pr["premises_id"].to_numpy()[pi], "person": ev["person_id"].iloc[ej].to_numpy(),
            "episode": ev["episode_key"].iloc[ej].astype(str).to_numpy(), "at": at.iloc[ej].to_numpy(),
            "via": "near", "record": "event:" + ev.get("event_key", ev.index.to_series()).iloc[ej].astype(str).to_numpy(),
        }).drop_duplicates(["premises_id", "record"])
        rows.append(near)
    if match.notna().any():
        gid = resolve(_premises_refs(match))
        m = gid.notna().to_numpy()
        if m.any():
            rows.append(pd.DataFrame({
                "premises_id": gid[m].to_numpy(), "person": ev.loc[m, "person_id"].to_numpy(),
                "episode": ev.loc[m, "episode_key"].astype(str).to_numpy(), "at": at[m].to_numpy(),
                "via": np.where(ev.loc[m, "kind"].to_numpy() == "rhi_place", "rhi", "named_event"),
                "record": ("rhi:" + ev.loc[m, "episode_key"].astype(str)).where(
                    ev.loc[m, "kind"] == "rhi_place",
                    "event:" + ev.get("event_key", ev.index.to_series()).astype(str)[m]).to_numpy(),
            }))
    child_person = {}
    if children is not None and len(children):
        cid = children["child_id"].astype(str) if "child_id" in children else children["child_key"].astype(str)
        child_person = dict(zip(cid, children["person_id"].astype(str)))
        if "child_key" in children:
            child_person.update(zip(children["child_key"].astype(str), children["person_id"].astype(str)))
    if links is not None and len(links):
        lk = links.reset_index(drop=True)
        obs = pd.to_datetime(lk.get("observed_at"), utc=True, errors="coerce") if "observed_at" in lk else pd.Series(pd.NaT, index=lk.index)
        for end_, other in (("to_ref", "from_ref"), ("from_ref", "to_ref")):
            gid = resolve(_premises_refs(lk[end_]))
            m = gid.notna().to_numpy()
            if not m.any():
                continue
            o = lk.loc[m, other].astype("string")
            kind_ = o.str.extract(r"^\s*(child|person):", expand=False)
            oid = o.str.replace(r"^\s*(child|person):", "", regex=True).str.strip()
            person = oid.map(lambda v: child_person.get(v, v)).where(kind_.notna())
            rows.append(pd.DataFrame({
                "premises_id": gid[m].to_numpy(), "person": person.to_numpy(dtype=object),
                "episode": None, "at": obs[m].to_numpy(), "via": "link",
                "record": ("link:" + lk.get("link_key", lk.index.to_series()).astype(str)[m]).to_numpy(),
            }))
    intel_rows = _empty_frame(["premises_id", "intel_key", "weight", "grade", "at"])
    if intelligence is not None and len(intelligence):
        it = intelligence.reset_index(drop=True)
        key = it.get("intel_key", it.index.to_series()).astype(str)
        parts = []
        if "premises_id" in it:
            parts.append(pd.DataFrame({"i": it.index, "premises_id": resolve(it["premises_id"])}))
        if "subjects" in it:
            sub = it["subjects"].explode()
            parts.append(pd.DataFrame({"i": sub.index, "premises_id": resolve(_premises_refs(sub)).to_numpy()}))
        ip = pd.concat(parts).dropna().drop_duplicates()
        if len(ip):
            w = grading_weight(it.get("source_eval"), it.get("intel_eval"))
            grade = (it.get("source_eval", pd.Series(index=it.index)).astype("string").str.replace(r"\.0$", "", regex=True).fillna("?")
                     + it.get("intel_eval", pd.Series(index=it.index)).astype("string").fillna("?"))
            ii = ip["i"].to_numpy(int)
            intel_rows = pd.DataFrame({
                "premises_id": ip["premises_id"].to_numpy(), "intel_key": key.to_numpy()[ii],
                "weight": w[ii], "grade": grade.to_numpy()[ii],
                "at": pd.to_datetime(it.get("recorded_at"), utc=True, errors="coerce").to_numpy()[ii] if "recorded_at" in it else pd.NaT,
            })
    ev_rows = pd.concat(rows, ignore_index=True) if rows else _empty_frame(["premises_id", "person", "episode", "at", "via", "record"])

    # ---- aggregate -----------------------------------------------------------------------
    out = pr[["premises_id"]].copy()
    for c in ("name", "premises_type"):
        out[c] = pr[c] if c in pr else None
    g = ev_rows.dropna(subset=["person"]).groupby("premises_id")
    out["children"] = out["premises_id"].map(g["person"].nunique()).fillna(0).astype(int)
    near = ev_rows[ev_rows["via"] == "near"]
    named = ev_rows[ev_rows["via"] != "near"]
    out["near_children"] = out["premises_id"].map(near.groupby("premises_id")["person"].nunique()).fillna(0).astype(int)
    out["named_children"] = out["premises_id"].map(named.dropna(subset=["person"]).groupby("premises_id")["person"].nunique()).fillna(0).astype(int)
    out["episodes"] = out["premises_id"].map(ev_rows.dropna(subset=["episode"]).groupby("premises_id")["episode"].nunique()).fillna(0).astype(int)
    rec_at = pd.to_datetime(ev_rows["at"], utc=True, errors="coerce")
    recent = ev_rows[(rec_at >= recent_from).to_numpy()].dropna(subset=["person"])
    out["recent_children"] = out["premises_id"].map(recent.groupby("premises_id")["person"].nunique()).fillna(0).astype(int)
    out["rhi_mentions"] = out["premises_id"].map(named[named["via"] == "rhi"].groupby("premises_id")["record"].nunique()).fillna(0).astype(int)
    out["link_mentions"] = out["premises_id"].map(named[named["via"] == "link"].groupby("premises_id")["record"].nunique()).fillna(0).astype(int)
    out["event_mentions"] = out["premises_id"].map(named[named["via"] == "named_event"].groupby("premises_id")["record"].nunique()).fillna(0).astype(int)
    out["mentions"] = out["rhi_mentions"] + out["link_mentions"] + out["event_mentions"]
    ig = intel_rows.drop_duplicates(["premises_id", "intel_key"]).groupby("premises_id")
    out["intel"] = out["premises_id"].map(ig.size()).fillna(0).astype(int)
    out["intel_weight"] = out["premises_id"].map(ig["weight"].sum()).fillna(0.0).astype(float)
    grades = out["premises_id"].map(ig["grade"].agg(lambda s: ", ".join(sorted(s)))).astype(object)
    out["intel_grades"] = grades.where(grades.notna(), "")
    corroboration = 1.0 + 0.5 * (out["link_mentions"] > 0) + 0.5 * (out["intel"] > 0)
    out["score"] = ((out["children"] + 0.25 * out["episodes"] + 0.5 * out["recent_children"]
                     + 0.5 * out["mentions"] + 3.0 * out["intel_weight"]) * corroboration).round(3)

    # ---- significance: stratified negative binomial ---------------------------------------
    density = np.zeros(n_p)
    dens_ok = ok_e & ~coarse
    if has_xy.any() and dens_ok.any():
        first = ev.loc[dens_ok].drop_duplicates(["person_id", "easting", "northing"])
        cnt = cKDTree(first[["easting", "northing"]].to_numpy(float)).query_ball_point(
            pr.loc[has_xy, ["easting", "northing"]].to_numpy(float), density_radius_m, return_length=True)
        density[has_xy] = cnt
    band = pd.qcut(pd.Series(density).rank(method="first"), q=max(1, density_strata), labels=False) if n_p >= density_strata else pd.Series(0, index=out.index)
    ptype = out["premises_type"].fillna("other").astype(str)
    stratum = ptype + "|" + band.astype(str)
    small = stratum.map(stratum.value_counts()) < min_stratum
    stratum = stratum.where(~small, "pooled|" + band.astype(str))
    out["stratum"] = stratum.to_numpy()
    c = out["children"].to_numpy(float)
    expected = np.zeros(n_p)
    pval = np.ones(n_p)
    for s, idx in out.groupby("stratum").indices.items():
        cs = np.sort(c[idx])
        k = max(1, int(np.floor(len(cs) * (1 - trim))))
        fit = cs[:k]
        mu = max(fit.mean(), 0.5 / max(len(cs), 1))
        var = fit.var(ddof=1) if len(fit) > 1 else mu
        expected[idx] = mu
        ci = c[idx]
        if var > mu * 1.0001:
            r = mu * mu / (var - mu)
            pval[idx] = stats.nbinom.sf(ci - 1, r, r / (r + mu))
        else:
            pval[idx] = stats.poisson.sf(ci - 1, mu)
    pval = np.where(c > 0, pval, 1.0)
    out["expected"] = expected.round(3)
    out["p_value"] = np.clip(pval, 0, 1)
    tested = c > 0
    q = np.ones(n_p)
    q[tested] = bh_qvalues(pval[tested])
    out["q_value"] = q
    out["significant"] = out["q_value"] < alpha

    # ---- explanation ---------------------------------------------------------------------
    parts = []
    nc = out["near_children"]
    rc = out["recent_children"]
    near_txt = np.where(nc > 0, _plural(nc, "child", "different children") + f" found within {radius_m:g} m", "")
    near_txt = np.where((nc > 0) & (rc > 0), pd.Series(near_txt) + " (" + rc.astype(str) + f" in the last {round(recent_days / 30.4)} months)", near_txt)
    parts.append(pd.Series(near_txt))
    parts.append(pd.Series(np.where(out["rhi_mentions"] > 0, "named in " + _plural(out["rhi_mentions"], "return interview", "return interviews"), "")))
    parts.append(pd.Series(np.where(out["link_mentions"] > 0, "linked in " + _plural(out["link_mentions"], "reported relationship", "reported relationships"), "")))
    parts.append(pd.Series(np.where(out["event_mentions"] > 0, "given as the found-at place in " + _plural(out["event_mentions"], "episode", "episodes"), "")))
    parts.append(pd.Series(np.where(out["intel"] > 0, _plural(out["intel"], "intelligence log", "intelligence logs") + " graded " + out["intel_grades"], "")))
    sig = np.where(out["significant"], "more than expected for a " + ptype.str.replace("_", " ") + " in a similar area (q = " + out["q_value"].map("{:.3f}".format) + ")", "")
    parts.append(pd.Series(sig))
    text = np.full(n_p, "", dtype=object)
    for part in parts:
        part = part.to_numpy(dtype=object)
        text = np.where(text == "", part, np.where(part == "", text, text + "; " + part))
    text = pd.Series(text, index=out.index)
    out["explanation"] = text.where(text != "", "no evidence in the period").to_numpy()
    out = out.sort_values(["significant", "score", "children", "premises_id"], ascending=[False, False, False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, n_p + 1))
    extra = ["recent_children", "near_children", "named_children", "rhi_mentions", "link_mentions",
             "event_mentions", "intel_weight", "intel_grades", "expected", "stratum", "significant"]
    return out[VENUE_COLUMNS + extra]
