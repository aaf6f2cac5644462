"""Licensing screening: the evidence the service holds near an address, postcode, premises or
licence application (shared/DATA_CONTRACT.md, ``wayfinder screen``).

Licensing officers screen applications and raise reviews of premises of concern (Licensing Act
2003, Gambling Act 2005; DOMAIN.md). Given a geocoded point, :func:`screen` gathers, within a
radius and a period:

- **episodes** and **children**: missing-episode place events (found at, last seen, places named in
  return interviews) placed at premises, address or postcode precision within the radius, or
  matched by the geocoder to a premises within it (coarser places, streets and areas, are too vague
  to put a child near a door);
- **intelligence**: items whose location is within the radius or that name a premises within it,
  with their 3x5x2 gradings (graded allegations, never facts);
- **CSE crimes and non-crimes** (CSE-marked rows of crimes.csv) placed within the radius;
- **premises** within the radius, nearest first: licence, status, the evidence linked to each (the
  geocoder's premises match, or a fine point within ``PREMISES_M`` metres) and its history by month,
  their place in the premises-of-concern ranking when the analysis has run, and their review state;

and writes a plain-English explanation. :func:`minimise` turns the result into what a licensing
officer may see (geo.disclosure): no person references, counts 1-4 as "<5", months not days.
Pure functions: frames in, dicts out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geo import disclosure

RADIUS_M = 250.0
PREMISES_M = 30.0
FINE = ("premises", "address", "postcode")
KIND_WORDS = {"found_at": "found", "last_seen": "last seen", "rhi_place": "named in a return interview"}


def _dist(frame: pd.DataFrame, e: float, n: float) -> np.ndarray:
    fe = pd.to_numeric(frame["easting"], errors="coerce").to_numpy(float)
    fn = pd.to_numeric(frame["northing"], errors="coerce").to_numpy(float)
    return np.hypot(fe - e, fn - n)


def _period_mask(times: pd.Series, start, end) -> pd.Series:
    m = times.notna()
    if start is not None:
        m &= times >= start
    if end is not None:
        m &= times < end
    return m


def _month(t) -> str | None:
    """The month (Europe/London) of a time, as YYYY-MM."""
    if t is None or pd.isna(t):
        return None
    t = pd.Timestamp(t)
    return (t.tz_convert("Europe/London") if t.tzinfo else t).strftime("%Y-%m")


def _month_name(m: str | None) -> str:
    return pd.Timestamp(m + "-01").strftime("%B %Y") if m else "?"


def screen(point: dict, premises: pd.DataFrame, place_events: pd.DataFrame,
           intelligence: pd.DataFrame, crimes: pd.DataFrame, radius: float = RADIUS_M,
           start=None, end=None, concern: pd.DataFrame | None = None,
           reviews: pd.DataFrame | None = None) -> dict:
    """The evidence within ``radius`` metres of ``point`` (a geocode row: easting, northing,
    precision ...) in [start, end). Full detail (analyst view); see :func:`minimise`."""
    e, n = float(point["easting"]), float(point["northing"])
    # premises within the radius
    prem = premises.copy()
    prem["distance_m"] = _dist(prem, e, n)
    near = prem[prem["distance_m"] <= radius].sort_values("distance_m")
    near_ids = set(near["premises_id"].astype(str))
    # place events of episodes
    ev = place_events.copy()
    ev["distance_m"] = _dist(ev, e, n)
    ev["premises_match"] = _premises_of(ev["match_id"])
    placed = (ev["precision"].isin(FINE) & (ev["distance_m"] <= radius)) | ev["premises_match"].isin(near_ids)
    ev = ev[placed & _period_mask(ev["at"], start, end)]
    # intelligence
    it = intelligence.copy()
    it["distance_m"] = _dist(it, e, n)
    pid = it["premises_id"].astype(object).where(it["premises_id"].notna(), "").astype(str)
    pid = pid.where(pid != "", None)
    if "match_id" in it:          # the premises the item's location text names
        pid = pid.where(pid.notna(), _premises_of(it["match_id"]))
    it_placed = ((it["precision"].isin(FINE) & (it["distance_m"] <= radius)) | pid.isin(near_ids))
    it = it[it_placed & _period_mask(it["recorded_at"], start, end)].assign(premises_ref=pid)
    # CSE-marked crimes and non-crimes
    cr = crimes.copy()
    cr["distance_m"] = _dist(cr, e, n)
    cr["premises_match"] = _premises_of(cr["match_id"]) if "match_id" in cr else None
    cr = cr[cr["cse_marker"].astype(object).eq("yes") & cr["precision"].isin(FINE)
            & (cr["distance_m"] <= radius) & _period_mask(cr["recorded_at"], start, end)]
    # evidence per premises
    rank = {}
    if concern is not None and len(concern):
        c = concern.drop_duplicates("premises_id").set_index("premises_id")
        rank = {str(k): r for k, r in c.iterrows()}
    review = {}
    if reviews is not None and len(reviews):
        last = reviews.sort_values("decided_at").drop_duplicates("premises_id", keep="last")
        review = {str(r["premises_id"]): r for _, r in last.iterrows()}
    rows = []
    for p in near.itertuples(index=False):
        pe, pn = float(p.easting), float(p.northing)
        pev = ev[_at_premises(ev, "premises_match", p.premises_id, pe, pn)]
        pit = it[_at_premises(it, "premises_ref", p.premises_id, pe, pn)]
        pcr = cr[_at_premises(cr, "premises_match", p.premises_id, pe, pn)]
        conc = rank.get(str(p.premises_id))
        rev = review.get(str(p.premises_id))
        rows.append({
            "premises_id": p.premises_id, "name": p.name, "premises_type": p.premises_type,
            "licence_type": getattr(p, "licence_type", None), "status": getattr(p, "status", None),
            "postcode": getattr(p, "postcode", None), "distance_m": round(float(p.distance_m)),
            "episodes": int(pev["episode_key"].nunique()), "children": int(pev["person_id"].nunique()),
            "intelligence": int(pit["intel_key"].nunique()), "cse_incidents": int(len(pcr)),
            "gradings": {str(k): int(v) for k, v in pit["grading"].dropna().value_counts().items()},
            "first": _first(pev["at"], pit["recorded_at"], pcr["recorded_at"]),
            "last": _last(pev["at"], pit["recorded_at"], pcr["recorded_at"]),
            "by_month": episodes_by_month(pev),
            "concern_rank": None if conc is None else int(conc["rank"]),
            "concern_q": None if conc is None or pd.isna(conc.get("q_value")) else float(conc["q_value"]),
            "review": None if rev is None else {
                "decision": rev["decision"], "decided_at": pd.Timestamp(rev["decided_at"]).isoformat(),
                "officer": rev.get("officer"), "reason": rev.get("reason")},
        })
    out = {
        "location": {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in point.items()},
        "radius_m": float(radius),
        "period": {"from": None if start is None else pd.Timestamp(start).isoformat(),
                   "to": None if end is None else pd.Timestamp(end).isoformat()},
        "premises": rows,
        "episodes": int(ev["episode_key"].nunique()),
        "children": int(ev["person_id"].nunique()),
        "intelligence": int(it["intel_key"].nunique()),
        "cse_crimes": int((cr["kind"] == "crime").sum()),
        "cse_non_crimes": int((cr["kind"] == "non_crime").sum()),
        "events_by_kind": {KIND_WORDS.get(k, k): int(v) for k, v in ev.drop_duplicates(
            ["episode_key", "kind"])["kind"].value_counts().items()},
        "gradings": {str(k): int(v) for k, v in it["grading"].dropna().value_counts().items()},
        "first": _first(ev["at"], it["recorded_at"], cr["recorded_at"]),
        "last": _last(ev["at"], it["recorded_at"], cr["recorded_at"]),
    }
    return out


def _premises_of(match_id: pd.Series) -> pd.Series:
    """The premises a geocoder match names (``premises:ID``), else None."""
    mid = match_id.astype(object).where(match_id.notna(), "").astype(str)
    return mid.str.removeprefix("premises:").where(mid.str.startswith("premises:"), None)


def _at_premises(frame: pd.DataFrame, match_col: str, premises_id, e, n) -> pd.Series:
    """Rows linked to one premises: those that name it (the geocoder's match, or the record's own
    premises_id), and those naming no premises whose premises- or address-precision point is within
    ``PREMISES_M`` metres. A row that names one premises is never given to a neighbour at the
    same address or postcode (a planted venue's evidence is not a co-located business's)."""
    named = frame[match_col]
    m = named == premises_id
    if pd.notna(e) and pd.notna(n):
        m |= named.isna() & frame["precision"].isin(("premises", "address")) & \
            (_dist(frame, float(e), float(n)) <= PREMISES_M)
    return m


def _first(*series) -> str | None:
    s = pd.concat([x.dropna() for x in series]) if series else pd.Series(dtype=object)
    return None if s.empty else pd.Timestamp(s.min()).isoformat()


def _last(*series) -> str | None:
    s = pd.concat([x.dropna() for x in series]) if series else pd.Series(dtype=object)
    return None if s.empty else pd.Timestamp(s.max()).isoformat()


COUNT_KEYS = ("episodes", "children", "intelligence", "cse_crimes", "cse_non_crimes")
PREMISES_COUNT_KEYS = ("episodes", "children", "intelligence", "cse_incidents")


def minimise(result: dict, small: int = disclosure.SMALL) -> dict:
    """What a licensing officer may see: counts 1..small-1 as "<small", months not days, no
    person references (the result holds none), gradings kept as counts, the officer's name on a
    review kept (a colleague's decision, not a child's data)."""
    def counts(d: dict) -> dict:
        return {k: disclosure.small_count(v, small) for k, v in d.items()}

    out = dict(result)
    for k in COUNT_KEYS:
        out[k] = disclosure.small_count(result[k], small)
    out["events_by_kind"] = counts(result["events_by_kind"])
    out["gradings"] = counts(result["gradings"])
    out["first"], out["last"] = _month(result["first"]), _month(result["last"])
    prem = []
    for p in result["premises"]:
        q = dict(p)
        for k in PREMISES_COUNT_KEYS:
            if k in q:
                q[k] = disclosure.small_count(q[k], small)
        q["gradings"] = counts(p["gradings"])
        q["by_month"] = [{**m, "episodes": disclosure.small_count(m["episodes"], small),
                          "children": disclosure.small_count(m["children"], small)} for m in p["by_month"]]
        q["first"], q["last"] = _month(p["first"]), _month(p["last"])
        if q.get("review"):
            q["review"] = {**q["review"], "decided_at": _month(q["review"]["decided_at"])}
        prem.append(q)
    out["premises"] = prem
    out["minimised"] = True
    return out


def _plural(v, one: str, many: str) -> str:
    return f"{v} {one if v == 1 else many}"


def explain(r: dict) -> str:
    """Plain English of a (full or minimised) screening result."""
    loc = r["location"]
    where = f"{loc.get('text')!s} (placed at {loc.get('precision')} precision)"
    when = "at any time on record"
    if r["period"]["from"] or r["period"]["to"]:
        a = _month_name(_month(r["period"]["from"])) if r["period"]["from"] else "the start of the records"
        b = r["period"]["to"]
        b = _month_name(_month(pd.Timestamp(b) - pd.Timedelta(seconds=1))) if b else "now"
        when = f"between {a} and {b}"
    radius = f"{r['radius_m']:.0f} m"
    parts = []
    coarse = ""
    if loc.get("precision") in ("street", "area"):
        coarse = (f" The text was only placed to a {loc.get('precision')}, so the search centre is "
                  f"approximate; a postcode or full address gives a sharper answer.")
    nothing = all(r[k] in (0, None) for k in COUNT_KEYS)
    nprem = len(r["premises"])
    if nothing:
        text = (f"Nothing recorded within {radius} of {where} {when}: no missing-episode places, "
                f"no intelligence items and no CSE crimes or non-crimes.")
        if nprem:
            text += f" {_plural(nprem, 'licensed premises is', 'licensed premises are')} within that radius, with no evidence linked to any of them."
        return text + coarse + " This is a quiet location on the service's records; it says nothing about evidence held elsewhere."
    if r["episodes"] not in (0, None):
        how = ", ".join(f"{k} {v} time{'s' if v != 1 else ''}" if isinstance(v, int)
                        else f"{k} {v} times" for k, v in r["events_by_kind"].items())
        parts.append(f"{r['episodes']} missing episodes of {r['children']} different children place a child "
                     f"within {radius} ({how})")
    if r["intelligence"] not in (0, None):
        g = ", ".join(f"{k} x{v}" for k, v in r["gradings"].items())
        parts.append(f"{r['intelligence']} intelligence items relate to the location"
                     + (f" (gradings {g}: graded reports, not established facts)" if g else ""))
    if r["cse_crimes"] not in (0, None) or r["cse_non_crimes"] not in (0, None):
        parts.append(f"{r['cse_crimes']} CSE-marked crimes and {r['cse_non_crimes']} CSE-marked non-crime "
                     f"incidents were recorded there")
    text = f"Within {radius} of {where} {when}: " + "; ".join(parts) + "."
    if r.get("first") and r.get("last"):
        text += f" The evidence runs from {_month_name(_month(r['first']))} to {_month_name(_month(r['last']))}."
    linked = [p for p in r["premises"] if any(p[k] not in (0, None) for k in ("episodes", "intelligence", "cse_incidents"))]
    for p in linked[:3]:
        bits = []
        if p["episodes"] not in (0, None):
            bits.append(f"{p['episodes']} episodes of {p['children']} children")
        if p["intelligence"] not in (0, None):
            bits.append(f"{p['intelligence']} intelligence items")
        if p["cse_incidents"] not in (0, None):
            bits.append(f"{p['cse_incidents']} CSE-marked crimes or non-crimes")
        lic = ", ".join(x for x in (str(p.get("licence_type") or "").replace("_", " "),
                                    str(p.get("status") or "")) if x)
        s = f" {p['name']} ({str(p['premises_type']).replace('_', ' ')}{', ' + lic if lic else ''}, {p['distance_m']} m away) is linked to {', '.join(bits)}"
        if p.get("concern_rank"):
            s += f"; it ranks {p['concern_rank']} among premises of concern"
        if p.get("review"):
            s += f"; last review: {p['review']['decision'].replace('_', ' ')} ({p['review']['decided_at'][:7]})"
        parts.append(s)
        text += s + "."
    if not linked and nprem:
        text += f" None of the {_plural(nprem, 'premises', 'premises')} within {radius} is itself linked to the evidence."
    return text + coarse + (" Small numbers are shown as '<5'." if r.get("minimised") else "") + \
        " This is evidence for a licensing officer to weigh with their own, not a finding about any business."


def linked_events(premises_row, place_events: pd.DataFrame) -> pd.DataFrame:
    """The place events of episodes linked to one premises (:func:`_at_premises`: the geocoder
    matched the text to it, or an unmatched premises/address-precision point within
    ``PREMISES_M`` metres)."""
    ev = place_events.assign(premises_match=_premises_of(place_events["match_id"]))
    e = pd.to_numeric(premises_row.get("easting"), errors="coerce")
    n = pd.to_numeric(premises_row.get("northing"), errors="coerce")
    return place_events[_at_premises(ev, "premises_match", premises_row["premises_id"], e, n).to_numpy()]


def episodes_by_month(events: pd.DataFrame) -> list[dict]:
    """Linked episodes and distinct children per month (Europe/London), oldest first."""
    if events.empty:
        return []
    ev = events.drop_duplicates(["episode_key"])
    month = ev["at"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m")
    g = ev.assign(month=month).groupby("month")
    return [{"month": m, "episodes": int(x["episode_key"].nunique()),
             "children": int(x["person_id"].nunique())} for m, x in g]
