"""The CSE side of the service: CSE cases from the assessing tool's risk histories, CSE-marked
crimes and non-crimes, and the COG's scorecard (shared/DATA_CONTRACT.md, "Scorecard measures",
``scorecard cse``).

Pure functions over the frames of docs/FRAMES.md: ``cse_assessments`` (one row per assessment,
``person_id`` resolved through identity), ``crimes`` and ``episodes``, plus ``parties``: the
victims and suspects of each crime resolved to persons (``network.crime_parties``; geo never
resolves references itself). No database, no HTTP.

Definitions (the contract's, read literally):

- Levels are the assessing tool's own scale, ordered none < low < medium < high; they are not
  children.csv ``cse_risk`` (at_risk/significant/serious), whose split differs (DOMAIN.md).
- A child's level at a time is that of their latest assessment at or before it (ties on the same
  instant broken by the assessment key); the case is open at T when that latest assessment has no
  ``closed_at`` at or before T. A closed case is reopened by a later assessment.
- The cohort at T: level low, medium or high and the case open at T.
- Days open: from the child's earliest assessment (ever) to T.
- Risk reduced / increased: a child with an assessment in P whose level is lower / higher than
  that of the child's previous assessment (any source); a child can be both.
- Repeat victims: children (resolved ``child`` nodes) who are victims in at least 2 CSE-marked rows
  recorded in P; repeat suspects: resolved persons or children who are suspects in at least 2.
  The DOMAIN.md figures: 180 of 506 victims repeat (35.57%), 11 of 93 offenders (11.83%).
"""
from __future__ import annotations

import pandas as pd

LEVELS = ("none", "low", "medium", "high")
RANK = {lvl: i for i, lvl in enumerate(LEVELS)}
COHORT_LEVELS = ("low", "medium", "high")

#: The count each CSE percentage is a share of (geo.disclosure suppression of small bases).
CSE_PCT_BASE = {
    "cse_missing_overlap_pct": "cse_cohort",
    "repeat_victim_rate_pct": "victims",
    "repeat_suspect_rate_pct": "suspects",
}

CONTRACT_KEYS = ("cse_cohort", "cse_cohort_low", "cse_cohort_medium", "cse_cohort_high",
                 "cse_new_referrals", "cse_average_days_open", "cse_risk_reduced",
                 "cse_risk_increased", "cse_crimes", "cse_non_crimes", "cse_repeat_victims",
                 "cse_repeat_suspects", "cse_missing_overlap_pct")


def _pct(num: float, den: float) -> float | None:
    return None if not den else round(100.0 * num / den, 2)


def _in(times: pd.Series, start, end) -> pd.Series:
    return (times >= start) & (times < end)


def history(assessments: pd.DataFrame) -> pd.DataFrame:
    """Assessments in each child's order (assessed_at, then assessment key) with the level's
    ``rank`` and the ``prev_rank`` of the child's previous assessment (NaN for the first)."""
    a = assessments[assessments["assessed_at"].notna()].copy()
    a["rank"] = a["risk_level"].map(RANK)
    a = a.sort_values(["person_id", "assessed_at", "assessment_key"], kind="mergesort")
    a["prev_rank"] = a.groupby("person_id", sort=False)["rank"].shift(1)
    return a.reset_index(drop=True)


def status_at(assessments: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Per child assessed at or before ``t``: ``level`` (latest assessment), ``open`` (that
    assessment not closed at or before ``t``), ``first_assessed`` (earliest assessment),
    ``last_assessed``; indexed by person_id."""
    h = history(assessments)
    h = h[h["assessed_at"] <= t]
    cols = ["level", "open", "first_assessed", "last_assessed"]
    if h.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="person_id"))
    last = h.groupby("person_id", sort=False).tail(1).set_index("person_id")
    first = h.groupby("person_id", sort=False)["assessed_at"].min()
    closed = last["closed_at"]
    out = pd.DataFrame({
        "level": last["risk_level"],
        "open": closed.isna() | (closed > t),
        "first_assessed": first.reindex(last.index),
        "last_assessed": last["assessed_at"],
    })
    out.index.name = "person_id"
    return out


def cohort_at(assessments: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """The CSE cohort at ``t`` (level low/medium/high, case open) with ``days_open`` (days from the
    child's earliest assessment to ``t``), most at risk and longest open first."""
    s = status_at(assessments, t)
    c = s[s["level"].isin(COHORT_LEVELS) & s["open"].astype(bool)].copy()
    c["days_open"] = [(t - f).total_seconds() / 86400.0 for f in c["first_assessed"]]
    c["days_open"] = c["days_open"].astype(float)
    c["rank"] = c["level"].map(RANK)
    return c.sort_values(["rank", "days_open"], ascending=False).drop(columns="rank")


def cse_rows(crimes: pd.DataFrame, start, end) -> pd.DataFrame:
    """Crimes and non-crimes with the CSE marker yes recorded in [start, end)."""
    m = crimes["cse_marker"].astype(object).eq("yes") & _in(crimes["recorded_at"], start, end)
    return crimes[m]


def party_counts(parties: pd.DataFrame, crime_keys, role: str, kinds=None) -> pd.Series:
    """Rows (distinct crime keys among ``crime_keys``) per resolved party of ``role``."""
    p = parties[(parties["role"] == role) & parties["crime_key"].isin(set(crime_keys))]
    if kinds is not None:
        p = p[p["node_kind"].isin(kinds)]
    return p.drop_duplicates(["crime_key", "node"]).groupby("node").size()


def cse_scorecard(assessments: pd.DataFrame, crimes: pd.DataFrame, parties: pd.DataFrame,
                  episodes: pd.DataFrame, period) -> dict:
    """The contract's ``scorecard cse`` measures for ``period`` (geo.periods.Period: [start, end)
    and the as-of time T), plus the bases and rates behind them."""
    start, end, t = period.start, period.end, period.as_of
    cohort = cohort_at(assessments, t)
    by_level = cohort["level"].value_counts()
    h = history(assessments)
    first = h.groupby("person_id")["assessed_at"].min()
    in_p = h[_in(h["assessed_at"], start, end) & h["prev_rank"].notna()]
    reduced = in_p.loc[in_p["rank"] < in_p["prev_rank"], "person_id"].nunique()
    increased = in_p.loc[in_p["rank"] > in_p["prev_rank"], "person_id"].nunique()
    rows = cse_rows(crimes, start, end)
    victims = party_counts(parties, rows["crime_key"], "victim", kinds=("child",))
    suspects = party_counts(parties, rows["crime_key"], "suspect")
    missing = episodes[(episodes["category"] == "missing") & _in(episodes["reported_at"], start, end)]
    overlap = int(cohort.index.isin(set(missing["person_id"])).sum())
    n = int(len(cohort))
    return {
        "period": period.to_json(),
        "cse_cohort": n,
        "cse_cohort_low": int(by_level.get("low", 0)),
        "cse_cohort_medium": int(by_level.get("medium", 0)),
        "cse_cohort_high": int(by_level.get("high", 0)),
        "cse_new_referrals": int(_in(first, start, end).sum()),
        "cse_average_days_open": round(float(cohort["days_open"].mean()), 1) if n else None,
        "cse_risk_reduced": int(reduced),
        "cse_risk_increased": int(increased),
        "cse_crimes": int((rows["kind"] == "crime").sum()),
        "cse_non_crimes": int((rows["kind"] == "non_crime").sum()),
        "cse_repeat_victims": int((victims >= 2).sum()),
        "cse_repeat_suspects": int((suspects >= 2).sum()),
        "cse_missing_overlap": overlap,
        "cse_missing_overlap_pct": _pct(overlap, n),
        "victims": int(len(victims)),
        "repeat_victim_rate_pct": _pct((victims >= 2).sum(), len(victims)),
        "suspects": int(len(suspects)),
        "repeat_suspect_rate_pct": _pct((suspects >= 2).sum(), len(suspects)),
        "cse_outcome_known": int(rows["outcome_code"].notna().sum()),
    }


# ---------------------------------------------------------------- the COG's views of the cohort

def cohort_by_month(assessments: pd.DataFrame, period) -> list[dict]:
    """The cohort by level at the end of each month of the period (London months; the last
    month ends at T when T falls inside it)."""
    local = period.start.tz_convert("Europe/London")
    month = pd.Timestamp(year=local.year, month=local.month, day=1, tz="Europe/London")
    out = []
    while month.tz_convert("UTC") < period.end:
        nxt = month + pd.DateOffset(months=1)
        t = min(nxt.tz_convert("UTC"), period.end, period.as_of) if month.tz_convert("UTC") < period.as_of \
            else None
        if t is None:
            break
        c = cohort_at(assessments, t)["level"].value_counts()
        out.append({"month": month.strftime("%Y-%m"), **{lvl: int(c.get(lvl, 0)) for lvl in COHORT_LEVELS},
                    "total": int(c.sum())})
        month = nxt
    return out


def outcomes(crimes: pd.DataFrame, start, end) -> dict:
    """CSE-marked crimes and non-crimes recorded in [start, end) by Home Office outcome code
    ("not known" where none was recorded)."""
    rows = cse_rows(crimes, start, end)
    code = rows["outcome_code"].astype(object).where(rows["outcome_code"].notna(), "not known")
    code = code.astype(str).str.strip().str.upper().replace({"NOT KNOWN": "not known", "": "not known"})
    out = {}
    for kind in ("crime", "non_crime"):
        vc = code[rows["kind"] == kind].value_counts()
        out[kind] = {str(k): int(v) for k, v in vc.sort_index().items()}
    return out


def best_view(children: pd.DataFrame) -> pd.DataFrame:
    """One row per resolved child: each field's first recorded value over the child's records
    (full records before minimal ones created from other files)."""
    ch = children.sort_values("from_episode", kind="mergesort") if "from_episode" in children else children
    return ch.groupby("person_id", sort=False).first()


AGE_BANDS = ((0, 11, "under 11"), (11, 14, "11-13"), (14, 16, "14-15"), (16, 18, "16-17"),
             (18, 200, "18 and over"))


def _age_band(dob: pd.Series, t: pd.Timestamp) -> pd.Series:
    age = (t.tz_convert("UTC").tz_localize(None) - pd.to_datetime(dob)).dt.days / 365.25
    out = pd.Series("not known", index=dob.index, dtype=object)
    for lo, hi, label in AGE_BANDS:
        out[(age >= lo) & (age < hi)] = label
    return out


def profile(cohort: pd.DataFrame, children: pd.DataFrame, t: pd.Timestamp,
            populations: pd.DataFrame | None = None) -> dict:
    """The cohort at T ``by_age`` band, ``by_sex``, ``by_ethnicity``, ``by_ward`` (of the home or
    placement), ``by_care_status`` and ``by_school`` (counts, "not known" where no record says);
    with ``populations`` (populations.csv), ``by_ward_per_10000`` and ``by_sex_per_10000``."""
    ids = cohort.index
    bv = best_view(children).reindex(ids)

    def counts(s: pd.Series) -> dict:
        s = s.astype(object).where(s.notna() & (s.astype(str).str.strip() != ""), "not known")
        return {str(k): int(v) for k, v in s.value_counts().items()}

    out = {"by_age": counts(_age_band(bv["dob"], t)) if "dob" in bv else {},
           **{k: counts(bv[c]) for k, c in (("by_sex", "sex"), ("by_ethnicity", "ethnicity"),
                                             ("by_ward", "placement_ward"), ("by_care_status", "care_status"),
                                             ("by_school", "school")) if c in bv}}
    if populations is not None and len(populations):
        pop = populations.copy()
        if pop["year"].notna().any():
            pop = pop[pop["year"] == pop["year"].max()]
        sex = pop["sex"].fillna("all")
        allp = pop[sex == "all"].groupby("area_code")["count"].sum()
        bysex = pop[sex != "all"].groupby(["area_code", sex[sex != "all"]])["count"].sum()
        ward_total = allp if len(allp) else bysex.groupby(level=0).sum()
        rates = {}
        for w, n in out.get("by_ward", {}).items():
            p = ward_total.get(w)
            if p:
                rates[w] = round(10000.0 * n / float(p), 1)
        out["by_ward_per_10000"] = rates
        sx = bysex.groupby(level=1).sum() if len(bysex) else pd.Series(dtype=float)
        out["by_sex_per_10000"] = {s: round(10000.0 * out["by_sex"].get(s, 0) / float(p), 1)
                                for s, p in sx.items() if p}
    return out


def victims_at_risk(cohort: pd.DataFrame, crimes: pd.DataFrame, parties: pd.DataFrame,
                    episodes: pd.DataFrame, start, end) -> pd.DataFrame:
    """The cohort at T with what puts them at risk in the period: level, days open, CSE-marked
    crimes and non-crimes in which they are a victim, missing episodes, and the date of their
    latest assessment; highest level first, then most incidents."""
    rows = cse_rows(crimes, start, end)
    vic = party_counts(parties, rows["crime_key"], "victim", kinds=("child",))
    miss = episodes[(episodes["category"] == "missing") & _in(episodes["reported_at"], start, end)]
    per = miss.groupby("person_id").size()
    out = cohort[["level", "days_open", "last_assessed"]].copy()
    out["cse_incidents"] = vic.reindex(out.index).fillna(0).astype(int)
    out["missing_episodes"] = per.reindex(out.index).fillna(0).astype(int)
    out["rank"] = out["level"].map(RANK)
    out = out.sort_values(["rank", "cse_incidents", "missing_episodes", "days_open"],
                          ascending=False).drop(columns="rank")
    out.index.name = "person_id"
    return out.reset_index()


def cse_extras(assessments: pd.DataFrame, crimes: pd.DataFrame, episodes: pd.DataFrame,
               children: pd.DataFrame, period, populations: pd.DataFrame | None = None) -> dict:
    """The scorecard's extras: cohort by level over time, outcomes, profile."""
    cohort = cohort_at(assessments, period.as_of)
    return {"cse_cohort_by_month": cohort_by_month(assessments, period),
            "cse_outcomes": outcomes(crimes, period.start, period.end),
            "cse_profile": profile(cohort, children, period.as_of, populations)}
