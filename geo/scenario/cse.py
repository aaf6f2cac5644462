"""The CSE side of the synthetic drop: ``cse_assessments.csv`` (risk histories of the assessing
tool) and ``crimes.csv`` (CSE-marked crimes and non-crimes with victims, suspects and Home Office
outcome codes, and unmarked background crimes), with their truth.

Written after the rest of the drop (``geo.scenario.generator.generate`` calls :func:`write`), from the children,
persons and identities already generated, with a random stream of its own, so the other files of a
drop are the same with or without it.

Calibration (shared/DOMAIN.md, "Figures from the papers"), per 1,500 true children (the city
scale; other scales in proportion):

- the CSE cohort: the children flagged at risk (about 270 at city scale: "273 young people at
  risk"), 85 % female, aged 11-17; their level at the end of the year in the assessing tool's own
  scale is low / medium / high in the screening split 47 / 29 / 24 (at risk / significant /
  serious), reached through histories that go up and down (one to five assessments 3-10 weeks
  apart); about a fifth of children not in the cohort were assessed and their case closed (level
  none or low, closed weeks later), and a tenth of the cohort had an earlier case closed and then
  reopened;
- one year of CSE-marked incidents: 924 (136 crimes, 788 non-crimes) about 506 victims, 180 of them
  victims more than once (35.57 %); offenders known for 108 of the 136 crimes: 93 offenders, 11 of
  them repeat (11.83 %), the repeat ones the planted adults of concern first; outcomes known for
  703 of 924 (76 %), Home Office codes OC1A/1B/1D, OC14/15/16, OC18, OC20, OC21 and NC1;
- a victim is written as ``child:ID`` of one of the child's records: the police record mostly,
  the children's services record for about a fifth (one child across sources, identity links them);
- planted (not with ``null``): a share of the CSE incidents of the children linked to a planted venue
  happen at that venue (its trading name as the location), so screening the venue finds them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.model import CONTRACT

ASSESSMENT_COLUMNS = CONTRACT.header("cse_assessments")
CRIME_COLUMNS = CONTRACT.header("crimes")
CITY_CHILDREN = 1500
PAPER = {"incidents": 924, "crimes": 136, "non_crimes": 788, "victims": 506, "repeat_victims": 180,
         "crimes_with_offender": 108, "offenders": 93, "repeat_offenders": 11, "outcomes_known": 703}
TOOL_LEVEL = {"at_risk": "low", "low": "low", "significant": "medium", "medium": "medium",
              "serious": "high", "high": "high"}
LEVELS = np.array(["none", "low", "medium", "high"])
SERAF = {"none": (0, 5), "low": (5, 11), "medium": (11, 17), "high": (17, 26)}
CSE_OFFENCES = np.array(["sexual activity with a child", "meeting a child following sexual grooming",
                         "causing a child to watch a sexual act", "rape of a child under 16",
                         "sexual exploitation of a child", "indecent images of a child"])
NON_CRIME = np.array(["concern for safety", "child found in company of adult of concern",
                      "CSE intelligence report", "missing person CSE concern", "inappropriate contact online"])
OTHER_OFFENCES = np.array(["theft", "criminal damage", "assault", "shoplifting", "possession of cannabis"])
CRIME_OUTCOMES = (np.array(["OC1A", "OC1B", "OC1D", "OC14", "OC15", "OC16", "OC18", "OC20", "OC21"]),
                  np.array([.08, .04, .03, .25, .22, .14, .1, .08, .06]))
NON_CRIME_OUTCOMES = (np.array(["NC1", "OC20", "OC21", "OC18"]), np.array([.55, .25, .1, .1]))


def _fmt_police(ts: pd.Series) -> np.ndarray:
    return np.where(ts.isna(), "", ts.dt.strftime("%d/%m/%Y %H:%M").fillna(""))


def _scaled(n_children: int) -> dict:
    f = n_children / CITY_CHILDREN
    return {k: max(1, int(round(v * f))) for k, v in PAPER.items()}


def _children(out: Path, identities: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True children (tid, level, female, police and carefirst record ids) from the written drop."""
    rec = pd.read_csv(out / "children.csv", dtype=str, keep_default_na=False)
    rec["key"] = rec["source"] + "/" + rec["child_id"]
    rec["tid"] = rec["key"].map(identities)
    rec = rec[rec["tid"].notna()]
    pol = rec[rec["source"] == "police"].drop_duplicates("tid").set_index("tid")
    cf = rec[rec["source"] == "carefirst"].drop_duplicates("tid").set_index("tid")["child_id"]
    k = pd.DataFrame({"police_id": pol["child_id"], "cse": pol["cse_risk"].str.lower(),
                      "female": pol["sex"].str.lower().str.startswith("f")})
    k["carefirst_id"] = cf.reindex(k.index)
    k = k.sort_index()
    k.index.name = "tid"
    return k.reset_index(), rec


def _histories(rng, k: pd.DataFrame, start: pd.Timestamp, days: int, null: bool) -> tuple[pd.DataFrame, dict]:
    """Assessments of the cohort (ending at the child's level) and of closed non-cohort cases."""
    n = len(k)
    end = start + pd.Timedelta(days=days)
    level_end = k["cse"].map(TOOL_LEVEL).fillna("none").to_numpy()
    cohort = level_end != "none"
    closed_case = ~cohort & (rng.random(n) < .2)
    reopened = cohort & (rng.random(n) < .1)
    rows = []
    tids = k["tid"].to_numpy(dtype=object)
    cfs = k["carefirst_id"].to_numpy(dtype=object)
    pols = k["police_id"].to_numpy(dtype=object)
    for i in np.flatnonzero(cohort | closed_case):
        m = int(rng.integers(1, 6))
        gaps = rng.integers(21, 71, m - 1).cumsum() if m > 1 else np.array([], int)
        span = int(gaps[-1]) if m > 1 else 0
        latest = days - 7 - span
        first = start + pd.Timedelta(days=int(rng.integers(-200, max(latest, -199))))
        times = [first] + [first + pd.Timedelta(days=int(g)) for g in gaps]
        times = [t + pd.Timedelta(hours=int(rng.integers(9, 18)), minutes=int(rng.integers(0, 60)))
                 for t in times]
        if cohort[i]:
            ranks = [int(np.flatnonzero(LEVELS == level_end[i])[0])]
            for _ in range(m - 1):      # backwards from the level at the end: up and down by one
                ranks.insert(0, int(np.clip(ranks[0] + rng.choice([-1, 0, 1], p=[.35, .3, .35]), 1, 3)))
            closed = [None] * m
        else:
            ranks = [int(rng.choice([1, 2], p=[.7, .3]))] + [int(rng.choice([0, 1])) for _ in range(m - 1)]
            close_at = times[-1] + pd.Timedelta(days=int(rng.integers(7, 60)))
            closed = [None] * (m - 1) + [close_at if close_at < end else None]
        if reopened[i]:                 # an earlier case, closed, before this one
            t0 = times[0] - pd.Timedelta(days=int(rng.integers(120, 300)))
            times.insert(0, t0)
            ranks.insert(0, int(rng.choice([1, 2])))
            closed.insert(0, t0 + pd.Timedelta(days=int(rng.integers(14, 60))))
        use_cf = isinstance(cfs[i], str) and cfs[i] != ""
        for t, r, c in zip(times, ranks, closed):
            cf = use_cf and rng.random() < .5
            lvl = LEVELS[r]
            tool = "seraf" if cf else ("screening" if rng.random() < .7 else "seraf")
            lo, hi = SERAF[lvl]
            rows.append({"tid": tids[i], "assessed_at": t, "risk_level": lvl,
                         "closed_at": c, "source": "carefirst" if cf else "police",
                         "child_id": cfs[i] if cf else pols[i],
                         "tool": tool, "score": int(rng.integers(lo, hi)) if tool == "seraf" else None})
    a = pd.DataFrame(rows)
    a = a[a["assessed_at"] < end].sort_values(["assessed_at", "tid"]).reset_index(drop=True)
    a["assessment_id"] = [f"{'CA' if s == 'police' else 'SF'}{i + 1:06d}" for i, s in enumerate(a["source"])]
    # the cohort at the end of the year by the scorecard's rule (geo.meetings.cse), on the true children
    from geo.meetings.cse import cohort_at
    tz = lambda v: pd.to_datetime(v).dt.tz_localize("Europe/London", ambiguous="NaT",
                                                      nonexistent="shift_forward").dt.tz_convert("UTC")
    c = cohort_at(pd.DataFrame({"person_id": a["tid"], "assessment_key": a["source"] + "/" + a["assessment_id"],
                                "assessed_at": tz(a["assessed_at"]), "closed_at": tz(a["closed_at"]),
                                "risk_level": a["risk_level"]}),
                  end.tz_localize("Europe/London").tz_convert("UTC"))
    levels = c["level"].to_dict()
    truth = {"cohort_at_end": {lvl: int((c["level"] == lvl).sum()) for lvl in ("low", "medium", "high")},
             "cohort_children": sorted(levels),
             "flagged_children": int(cohort.sum()),
             "closed_case_children": int(closed_case.sum()), "reopened_children": int(reopened.sum()),
             "assessments": int(len(a)), "levels_at_end": levels}
    return a, truth


def _crimes(rng, k: pd.DataFrame, persons: pd.DataFrame, venues: pd.DataFrame,
            venue_children: dict, postcodes: np.ndarray, start: pd.Timestamp, days: int,
            null: bool, n_children: int) -> tuple[pd.DataFrame, dict]:
    s = _scaled(n_children)
    n = len(k)
    # victims: the cohort first (weighted), then other children, 85 % female
    w = np.where(k["cse"].map(TOOL_LEVEL).fillna("none").to_numpy() != "none", 6.0, 1.0)
    w *= np.where(k["female"].to_numpy(dtype=bool), 5.7, 1.0)
    n_vict = min(s["victims"], n)
    victims = rng.choice(n, n_vict, replace=False, p=w / w.sum())
    n_rep = min(s["repeat_victims"], n_vict)
    counts = np.ones(n_vict, int)
    extra = s["incidents"] - n_vict - n_rep
    counts[:n_rep] = 2
    if extra > 0 and n_rep:
        counts[:n_rep] += rng.multinomial(extra, np.full(n_rep, 1 / n_rep))
    vic = np.repeat(victims, counts)
    m = len(vic)
    is_crime = np.zeros(m, bool)
    is_crime[rng.choice(m, min(s["crimes"], m), replace=False)] = True
    when = start + pd.to_timedelta(rng.uniform(0, days, m), unit="D")
    when = when.floor("min")
    # victim references: the police record, or the children's services one where there is one
    cf = k["carefirst_id"].to_numpy(dtype=object)[vic]
    use_cf = pd.notna(cf) & (cf != "") & (rng.random(m) < .2)
    ref = np.where(use_cf, "child:" + pd.Series(cf).fillna("").astype(str).to_numpy(),
                   "child:" + k["police_id"].to_numpy(dtype=object)[vic])
    # offenders: 93 for 108 crimes, 11 repeat (the planted adults of concern first)
    pol = persons[persons["source"] == "police"]
    aoc = pol[pol["role"].str.lower().str.startswith("adult")]["person_id"].tolist()
    others = pol[~pol["person_id"].isin(aoc)]["person_id"].tolist()
    planted = [p for p in persons.attrs.get("planted", []) if p in aoc]
    pool = planted + [p for p in aoc if p not in planted] + others
    if null:
        pool = list(rng.permutation(pool))
    n_off = min(s["offenders"], len(pool))
    n_rep_off = min(s["repeat_offenders"], n_off)
    off_counts = np.ones(n_off, int)
    off_counts[:n_rep_off] = 2
    left = s["crimes_with_offender"] - off_counts.sum()
    if left > 0 and n_rep_off:
        off_counts[:n_rep_off] += rng.multinomial(left, np.full(n_rep_off, 1 / n_rep_off))
    offenders = np.repeat(np.array(pool[:n_off], dtype=object), off_counts)
    crime_rows = np.flatnonzero(is_crime)
    with_off = rng.permutation(crime_rows)[:len(offenders)]
    suspects = np.full(m, "", dtype=object)
    suspects[with_off] = ["person:" + o for o in rng.permutation(offenders)]
    # outcomes known for 76 %
    out = np.where(is_crime, rng.choice(CRIME_OUTCOMES[0], m, p=CRIME_OUTCOMES[1]),
                   rng.choice(NON_CRIME_OUTCOMES[0], m, p=NON_CRIME_OUTCOMES[1]))
    known = np.zeros(m, bool)
    known[rng.choice(m, min(s["outcomes_known"], m), replace=False)] = True
    out = np.where(known, out, "")
    # locations: a random postcode; planted: the venue of a venue child, for half their incidents
    loc = postcodes[rng.integers(0, len(postcodes), m)].astype(object)
    at_venue = []
    if not null and len(venues):
        tids = k["tid"].to_numpy()[vic]
        for pid, kids in venue_children.items():
            name = venues.loc[venues["premises_id"] == pid, "name"]
            if name.empty:
                continue
            rows = np.flatnonzero(np.isin(tids, list(kids)))
            rows = rows[rng.random(len(rows)) < .5]
            loc[rows] = name.iloc[0]
            at_venue += [{"premises_id": pid, "crimes": int(len(rows))}]
    df = pd.DataFrame({
        "recorded_at": when, "kind": np.where(is_crime, "crime", "non_crime"),
        "offence": np.where(is_crime, rng.choice(CSE_OFFENCES, m), rng.choice(NON_CRIME, m)),
        "cse_marker": "yes", "victims": ref, "suspects": suspects, "outcome_code": out,
        "location": loc, "source": "police", "_tid": k["tid"].to_numpy()[vic]})
    # unmarked background crimes: a third as many again, any child
    nb = m // 3
    bg = pd.DataFrame({
        "recorded_at": (start + pd.to_timedelta(rng.uniform(0, days, nb), unit="D")).floor("min"),
        "kind": "crime", "offence": rng.choice(OTHER_OFFENCES, nb), "cse_marker": "no",
        "victims": "child:" + k["police_id"].to_numpy(dtype=object)[rng.integers(0, n, nb)],
        "suspects": "", "outcome_code": rng.choice(CRIME_OUTCOMES[0], nb, p=CRIME_OUTCOMES[1]),
        "location": postcodes[rng.integers(0, len(postcodes), nb)], "source": "police", "_tid": None})
    df = pd.concat([df, bg], ignore_index=True).sort_values("recorded_at", kind="mergesort")
    df = df.reset_index(drop=True)
    df["crime_id"] = [f"CR{i + 1:07d}" for i in range(len(df))]
    vc = pd.Series(k["tid"].to_numpy()[vic]).value_counts()
    oc = pd.Series(offenders).value_counts()
    truth = {"cse_incidents": int(m), "cse_crimes": int(is_crime.sum()),
             "cse_non_crimes": int(m - is_crime.sum()), "victims": int(len(vc)),
             "repeat_victims": sorted(vc[vc >= 2].index.tolist()),
             "repeat_victim_rate_pct": round(100 * (vc >= 2).sum() / max(len(vc), 1), 2),
             "offenders": int(len(oc)), "repeat_offenders": sorted(oc[oc >= 2].index.tolist()),
             "repeat_offender_rate_pct": round(100 * (oc >= 2).sum() / max(len(oc), 1), 2),
             "outcomes_known": int(known.sum()), "background_crimes": int(nb),
             "victims_by_record": "child:ID of the police record, or of the carefirst record for ~20%",
             "at_venues": at_venue}
    return df, truth


def write(out: str | Path, ref, truth: dict, seed: int, null: bool, start: pd.Timestamp,
          days: int) -> dict:
    """Write ``cse_assessments.csv`` and ``crimes.csv`` into the drop ``out``; return
    ``{"cse": truth}`` to merge into truth.json."""
    out = Path(out)
    rng = np.random.default_rng([seed, 20, int(null)])
    k, _ = _children(out, truth["identities"])
    a, t_a = _histories(rng, k, start, days, null)
    a["assessed_at"] = _fmt_police(a["assessed_at"])
    a["closed_at"] = _fmt_police(pd.to_datetime(a["closed_at"]))
    a["score"] = a["score"].astype("Int64")
    a[ASSESSMENT_COLUMNS].to_csv(out / "cse_assessments.csv", index=False, lineterminator="\n")
    persons = pd.read_csv(out / "persons.csv", dtype=str, keep_default_na=False)
    persons["tid"] = (persons["source"] + "/" + persons["person_id"]).map(truth["identities"])
    aoc = set(truth.get("adults_of_concern", []))
    persons.attrs["planted"] = persons.loc[persons["tid"].isin(aoc) & (persons["source"] == "police"),
                                           "person_id"].tolist()
    venues = pd.read_csv(out / "premises.csv", dtype=str, keep_default_na=False)
    venues = venues[venues["premises_id"].isin(truth.get("venue_hotspots", []))]
    c, t_c = _crimes(rng, k, persons, venues, truth.get("venue_children", {}),
                     ref.postcodes.postcode.to_numpy(), start, days, null, len(k))
    c["recorded_at"] = _fmt_police(c["recorded_at"])
    c[CRIME_COLUMNS].to_csv(out / "crimes.csv", index=False, lineterminator="\n")
    pid_tid = dict(zip(persons["person_id"], persons["tid"]))
    t_c["repeat_offenders"] = sorted({str(pid_tid[p]) if isinstance(pid_tid.get(p), str) else str(p)
                                      for p in t_c["repeat_offenders"]})
    return {"cse": {**t_a, **t_c, "note": "levels are the assessing tool's scale (none < low < "
                    "medium < high), not children.csv cse_risk; people are fictional"}}
