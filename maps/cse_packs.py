"""The CSE side of the meeting packs and the licensing officers' pack.

- :func:`cse_section`: the COG pack's CSE scorecard (the contract's ``scorecard cse`` measures,
  geo.meetings.cse, the same function as ``wayfinder scorecard cse`` and ``GET /scorecards/cse``), the
  cohort by level over the period, the victims-at-risk list (role-minimised: pseudonyms, counts
  1-4 as "<5"), CSE crimes and non-crimes by outcome code, the cohort's profile and the CSE x
  missing overlap. Every figure names the scorecard key it comes from.
- :func:`licensing_pack`: premises of concern for licensing officers, with month-level dates,
  suppressed small numbers, the reasons in plain English, the licence and its status, and the
  latest review (geo.meetings.reviews); the review records; no person reference at all.
- :func:`review_state`: the latest review of each premises, for the COG's licensing candidates.

Data come from :func:`add_cse_data` (called by ``maps.packs.load_pack_data``).
"""
from __future__ import annotations

import pandas as pd

from geo.meetings import cse as gcse
from geo import disclosure
from maps.layers import esc

LICENSING_ROLES = frozenset({"analyst", "licensing_officer", "cog_member"})
LABELS = {
    "cse_cohort": "Children in the CSE cohort (open case, level low/medium/high at the end)",
    "cse_cohort_low": "  of whom low", "cse_cohort_medium": "  of whom medium",
    "cse_cohort_high": "  of whom high",
    "cse_new_referrals": "New referrals (first assessment in the period)",
    "cse_average_days_open": "Average days open (cohort, from first assessment)",
    "cse_risk_reduced": "Children whose risk reduced", "cse_risk_increased": "Children whose risk increased",
    "cse_crimes": "CSE-marked crimes", "cse_non_crimes": "CSE-marked non-crime incidents",
    "cse_repeat_victims": "Repeat victims (2+ CSE incidents)",
    "cse_repeat_suspects": "Repeat suspects (2+ CSE incidents)",
    "cse_missing_overlap_pct": "Cohort also missing in the period (%)",
}


def add_cse_data(store, data: dict) -> dict:
    """Add the CSE frames, the resolved victims and suspects and the premises reviews to pack
    data (each left out when the store cannot give it)."""
    for name in ("cse_assessments", "crimes", "populations"):
        try:
            data[name] = store.frame(name)
        except Exception:  # noqa: BLE001 - an older store: the pack says what is missing
            data.pop(name, None)
    try:
        from network.crime_parties import crime_parties
        if data.get("crimes") is not None:
            data["cse_parties"] = crime_parties(data["crimes"], data.get("children"), data.get("persons"))
    except Exception:  # noqa: BLE001
        data.pop("cse_parties", None)
    try:
        from geo.meetings.reviews import reviews_frame
        data["premises_reviews"] = reviews_frame(store)
    except Exception:  # noqa: BLE001
        data.pop("premises_reviews", None)
    return data


def _contract_period(period):
    from geo.periods import Period
    return Period.parse(str(period.start.date()), str(period.end.date()))


def _table(rows: list[tuple], head: tuple, num=()) -> str:
    if not rows:
        return "<p class='note'>None in the period.</p>"
    h = "".join(f"<th>{esc(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{esc(v)}</td>" if i in num else f"<td>{esc(v)}</td>" for i, v in enumerate(r))
        + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _shown(v, view) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v if view.full else disclosure.small_count(v, view.small)) if isinstance(v, int) else str(v)


def cse_card(data: dict, period) -> dict | None:
    """The CSE scorecard of the pack's period (None when the store holds no CSE data)."""
    a, cr, par = data.get("cse_assessments"), data.get("crimes"), data.get("cse_parties")
    ep = data.get("episodes")
    if a is None or cr is None or par is None or ep is None or (len(a) == 0 and len(cr) == 0):
        return None
    p = _contract_period(period)
    card = gcse.cse_scorecard(a, cr, par, ep, p)
    card.update(gcse.cse_extras(a, cr, ep, data.get("children"), p, data.get("populations")))
    return card


def cse_section(data: dict, period, view) -> str:
    """The COG pack's CSE scorecard section."""
    card = cse_card(data, period)
    if card is None:
        return ("<p class='note warn'>No CSE assessments or crimes in the store: ingest "
                "cse_assessments.csv and crimes.csv.</p>")
    shown = card if view.full else disclosure.suppress_scorecard(
        card, view.small, pct_base={**gcse.CSE_PCT_BASE})
    rows = [(LABELS[k], _shown(shown[k], view), k) for k in gcse.CONTRACT_KEYS]
    html = _table(rows, ("Measure", "Value", "Scorecard key"), num=(1,))
    as_of = pd.Timestamp(card["period"]["as_of"]).tz_convert("Europe/London").strftime("%d %b %Y %H:%M")
    html += ("<p class='note'>Levels are the assessing tool's (none &lt; low &lt; medium &lt; high); a "
             "child is one resolved person whatever the source of each record; the cohort is as of "
             f"{esc(as_of)}.</p>")
    # cohort over time
    from maps.packs import svg_bars
    months = card["cse_cohort_by_month"]
    if months:
        html += "<h3>Cohort by level at each month end (cse_cohort_by_month)</h3>"
        small = any(0 < m[lvl] < view.small for m in months for lvl in ("high", "medium", "low"))
        if view.full or not small:
            html += svg_bars([m["month"] for m in months],
                             {lvl: [m[lvl] for m in months] for lvl in ("high", "medium", "low")},
                             "CSE cohort by level")
        else:       # a chart would show the small counts a minimised view bands
            html += _table([(m["month"], *(_shown(m[lvl], view) for lvl in ("high", "medium", "low", "total")))
                            for m in months], ("Month", "High", "Medium", "Low", "Cohort"), num=(1, 2, 3, 4))
    # victims at risk
    a, cr, par, ep = data["cse_assessments"], data["crimes"], data["cse_parties"], data["episodes"]
    p = _contract_period(period)
    v = gcse.victims_at_risk(gcse.cohort_at(a, p.as_of), cr, par, ep, p.start, p.end)
    v = v[(v["level"] != "low") | (v["cse_incidents"] > 0)].head(40)
    vrows = [(view.who(r.person_id), r.level, f"{r.days_open:.0f}", _shown(int(r.cse_incidents), view),
              _shown(int(r.missing_episodes), view),
              pd.Timestamp(r.last_assessed).tz_convert("Europe/London").strftime("%Y-%m-%d" if view.full else "%Y-%m"))
             for r in v.itertuples()]
    html += "<h3>Victims at risk</h3>" + _table(
        vrows, ("Child", "Level", "Days open", "CSE incidents as victim", "Missing episodes", "Last assessed"),
        num=(2, 3, 4)) + ("<p class='note'>Cohort children at medium or high risk, or a victim in the "
                          "period; highest level first. Non-analysts see pseudonyms only.</p>")
    # outcomes
    orow = [(kind.replace("_", " "), code, _shown(n, view))
            for kind, codes in card["cse_outcomes"].items() for code, n in codes.items()]
    html += "<h3>CSE crimes and non-crimes by outcome (cse_outcomes)</h3>" + _table(
        orow, ("Kind", "Home Office outcome", "Incidents"), num=(2,))
    # profile
    prof = dict(card["cse_profile"])
    areas = data.get("areas")
    if areas is not None and len(areas) and "area_name" in areas:
        names = dict(zip(areas["area_code"], areas["area_name"]))
        prof["by_ward"] = {names.get(k, k): n for k, n in prof.get("by_ward", {}).items()}
        prof["by_ward_per_10000"] = {names.get(k, k): n for k, n in prof.get("by_ward_per_10000", {}).items()}
    for key, title in (("age", "Age"), ("sex", "Sex"), ("ethnicity", "Ethnicity"), ("care_status", "Care status"),
                       ("ward", "Ward of home or placement"), ("school", "School")):
        items = sorted(prof.get(f"by_{key}", {}).items(), key=lambda kv: -kv[1])
        if key in ("ward", "school"):
            items = items[:12]
        rate = prof.get(f"by_{key}_per_10000", {})
        html += f"<h3>Cohort by {esc(title.lower())} (cse_profile.by_{key})</h3>" + _table(
            [(k, _shown(n, view)) + ((rate.get(k, ""),) if rate else ()) for k, n in items],
            (title, "Children") + (("per 10,000",) if rate else ()), num=(1, 2))
    html += (f"<p class='note'>CSE x missing: {esc(_shown(shown['cse_missing_overlap'], view))} of the cohort "
             f"had a missing episode in the period ({esc(_shown(shown['cse_missing_overlap_pct'], view))}%, "
             "cse_missing_overlap_pct).</p>")
    return html


# ---------------------------------------------------------------- licensing

def review_state(premises_ids: pd.Series, data: dict, month_only: bool) -> pd.Series:
    """The latest review of each premises in plain words, e.g. "referred (2017-02, J Officer)"."""
    from geo.meetings.reviews import DECISION_WORDS, latest_reviews
    last = latest_reviews(data.get("premises_reviews"))

    def word(pid):
        if pid not in last.index:
            return "not reviewed"
        r = last.loc[pid]
        when = pd.Timestamp(r["decided_at"]).tz_convert("Europe/London")
        return (f"{DECISION_WORDS.get(r['decision'], r['decision'])} "
                f"({when:%Y-%m}{'' if month_only else when.strftime('-%d')}, {r['officer']})")
    return premises_ids.map(word)


def licensing_table(data: dict, period, view, top: int = 40) -> str:
    """Premises of concern as a licensing officer may see them."""
    from geo.meetings.screening import linked_events
    from maps.packs import concerning_premises
    poc = concerning_premises(data, top=top, count=view.count)  # explanations re-rendered for the view
    if poc.empty:
        return ("<p class='note warn'>No premises of concern: run <code>wayfinder analyse</code> "
                "(premises_of_concern).</p>")
    prem = data.get("premises")
    info = prem.drop_duplicates("premises_id").set_index("premises_id") if prem is not None else pd.DataFrame()
    ev = data.get("place_events")
    if ev is not None and len(ev):
        ev = ev[period.contains(ev["at"])]
    month_only = view.role != "analyst"
    review = review_state(poc["premises_id"], data, month_only)
    rows = []
    for (_, r), rev in zip(poc.iterrows(), review):
        pid = r["premises_id"]
        i = info.loc[pid] if pid in info.index else {}
        first = last = ""
        n_ep = n_ch = 0
        if ev is not None and len(ev) and len(i):
            linked = linked_events({"premises_id": pid, "easting": i.get("easting"),
                                    "northing": i.get("northing")}, ev)
            if len(linked):
                at = linked["at"].dt.tz_convert("Europe/London")
                first, last = at.min().strftime("%Y-%m"), at.max().strftime("%Y-%m")
                n_ep, n_ch = linked["episode_key"].nunique(), linked["person_id"].nunique()
        q = pd.to_numeric(r.get("q_value"), errors="coerce")
        rows.append((
            int(r["rank"]) if pd.notna(r.get("rank")) else "", r.get("name"), pid,
            str(r.get("premises_type") or "").replace("_", " "),
            str(i.get("licence_type") or "").replace("_", " ") if len(i) else "",
            str(i.get("status") or "") if len(i) else "", _shown(int(n_ep), view), _shown(int(n_ch), view),
            (first if first == last else f"{first} to {last}") if first else "none in the period",
            "yes" if pd.notna(q) and q <= 0.05 else "no", _reason(r, view), rev))
    return _table(rows, ("#", "Premises", "Licence", "Type", "Licence type", "Status",
                         "Linked episodes", "Children", "Months", "Review candidate (q <= 0.05)",
                         "Why", "Latest review"), num=(0, 6, 7))


def _reason(r, view) -> str:
    """The analysis' explanation, already rendered for the view by ``concerning_premises(count=...)``
    (``geo.stats.venues.explain``: counts of 1-4 read "fewer than 5" for non-analysts)."""
    return str(r.get("explanation") or "")


def reviews_table(data: dict, view) -> str:
    rv = data.get("premises_reviews")
    if rv is None or rv.empty:
        return "<p class='note'>No review has been recorded (<code>wayfinder premises review</code>).</p>"
    prem = data.get("premises")
    names = dict(zip(prem["premises_id"], prem["name"])) if prem is not None and len(prem) else {}
    fmt = "%Y-%m-%d" if view.full else "%Y-%m"
    rows = [(pd.Timestamp(r.decided_at).tz_convert("Europe/London").strftime(fmt), names.get(r.premises_id, ""),
             r.premises_id, r.decision.replace("_", " "), r.officer, r.reason or "")
            for r in rv.sort_values("decided_at", ascending=False).itertuples()]
    return _table(rows, ("Decided", "Premises", "Licence", "Decision", "Officer", "Reason"))


def licensing_pack(data: dict, period, view=None) -> str:
    """The licensing officers' pack: premises of concern and review records, minimised (no person
    references, counts 1-4 as "<5", months) for every role but analysts."""
    from maps.packs import View, _section, page
    view = view or View("licensing_officer")
    parts = [_section("Premises of concern", licensing_table(data, period, view) + (
        "<p class='note'>Ranked by the premises-of-concern analysis (children found at or near the "
        "premises, named in interviews and intelligence, against a permutation null; q values after "
        "Benjamini-Hochberg FDR). Linked episodes: found, last seen or named at the premises in the "
        "period. A review needs the licensing officer's own evidence; intelligence is graded, not "
        "fact.</p>"), "premises"),
        _section("Review records", reviews_table(data, view), "reviews")]
    return page("Licensing pack: premises of concern", period.label(), "".join(parts), view)
