"""Scorecards (MOG, CSE), children missing now and the most worrying cases."""
from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request

from api.service.dependencies import PURPOSE, ctx_of, parse_date, service
from api.service.errors import BadRequest, Unavailable
from api.service.model import (CSE_EXAMPLE, ERRORS, MISSING_NOW_EXAMPLE, MOG_EXAMPLE, WORRYING_EXAMPLE,
                       example)
from geo import disclosure
from geo.meetings import scorecards as sc

router = APIRouter()
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}
FROM = Query(alias="from", description="period start (date, inclusive)", examples=["2017-01-01"], max_length=10)
TO = Query(description="period end (date, exclusive)", examples=["2017-04-01"], max_length=10)
AS_OF = Query(description="the time the figures are as of (ISO 8601; no offset = London time); "
                          "default: the end of the period for scorecards, now for children missing now",
              examples=["2017-04-01T09:00"], max_length=40)


def _instant(value: str | None):
    """An as-of time, or None; a bad one is a 400 with the reason."""
    if not value:
        return None
    from geo.periods import PeriodError, parse_instant
    try:
        return parse_instant(value)
    except PeriodError as exc:
        from api.service.errors import BadRequest
        raise BadRequest(str(exc)) from None


def _frames(wf):
    ep, ch, rhi = (wf.layers.frame(n) for n in ("episodes", "children", "return_interviews"))
    if ep is None or ch is None or rhi is None:
        raise Unavailable("the store holds no episodes yet: run wayfinder ingest")
    return ep, ch, rhi


#: what a suppressed percentage reads (as in the meeting packs): ``geo.disclosure.SUPPRESSED_PCT``
SUPPRESSED_PCT = disclosure.SUPPRESSED_PCT


def suppress_dict(d, m, keys_exempt=("period",), bases=None):
    """Non-analyst scorecard: ``geo.disclosure.suppress_scorecard`` (counts 1-4 become "<5",
    percentages over a base of 1-4 or implying a count of 1-4 become "n/a (<5)", bases from
    ``geo.meetings.scorecards.PCT_BASE``) with the install's small-count threshold."""
    return disclosure.suppress_scorecard(d, m.small, keys_exempt, bases)


@router.get("/scorecards/mog", name="scorecard_mog", tags=["scorecards"], responses={**_ERR, **example(MOG_EXAMPLE)},
            summary="MOG scorecard (shared/DATA_CONTRACT.md, Scorecard measures): missing episodes and "
                    "children, absent and away beside them, RHI offered / within 72 h / engaged, clocks, "
                    "missing now and stale open records as of a time")
def scorecard_mog(request: Request, from_: Annotated[str | None, FROM] = None,
                  to: Annotated[str | None, TO] = None,
                  as_of: Annotated[str | None, AS_OF] = None,
                  host: Annotated[str, Query(max_length=80, description="host authority")] = "Birmingham") -> dict:
    from api.roles import collection_allowed
    from geo.meetings.mog_extras import minimised, mog_extras
    wf, ctx = service(request), ctx_of(request)
    ep, ch, rhi = _frames(wf)
    view = _person_view(wf, ch)
    lo, hi, t = parse_date(from_, "from"), parse_date(to, "to"), _instant(as_of)
    s = sc.mog_scorecard(ep, ch, rhi, lo, hi, host, as_of=t, view=view)
    x = mog_extras(ep, ch, rhi, lo, hi, t, host, education=wf.layers.frame("education"), view=view)
    ctx.result_count = s["missing_episodes"]
    if ctx.analyst:
        return {**s, **x}
    m = wf.minimiser
    return {**suppress_dict(s, m), **minimised(x, m.pseudonym, m.small,
                                                homes=collection_allowed("placements", ctx.role))}


def _person_view(wf, ch):
    """The best view of each person (geo.meetings.person_view), cached with the store's frames."""
    from geo.meetings.person_view import person_view
    return wf.layers.cached("person_view", lambda: person_view(ch))


@router.get("/scorecards/cse", name="scorecard_cse", tags=["scorecards"], responses={**_ERR, **example(CSE_EXAMPLE)},
            summary="CSE scorecard: the contract's cse_* measures (assessing tool's cohort by level, "
                    "days open, risk reduced/increased, CSE crimes and non-crimes, repeat victims "
                    "and suspects, CSE x missing) and the children.csv cse_risk cohort")
def scorecard_cse(request: Request, from_: Annotated[str | None, FROM] = None,
                  to: Annotated[str | None, TO] = None,
                  as_of: Annotated[str | None, Query(max_length=40, description="as-of time "
                                                     "(default: the end of the period)")] = None) -> dict:
    from api.jobs.scorecard import cse_scorecard_of
    from geo.meetings.cse import CSE_PCT_BASE
    from geo.periods import Period, PeriodError
    from network.crime_parties import CSE_FRAMES
    wf, ctx = service(request), ctx_of(request)
    ep, ch, _ = _frames(wf)
    lo, hi = parse_date(from_, "from"), parse_date(to, "to")
    frames = {n: wf.layers.frame(n) for n in CSE_FRAMES + ("populations",)}
    first = (lo or ep["reported_at"].min()).date() if len(ep) or lo is not None else "2000-01-01"
    last = ((hi - pd.Timedelta(days=1)) if hi is not None else ep["reported_at"].max()).date() \
        if len(ep) or hi is not None else first
    from network.crime_parties import with_identities
    try:
        period = Period.parse(str(first), str(last), as_of)
        frames, how = wf.layers.cached("cse_identities", lambda: with_identities(
            frames, wf.store.table("identity_links"), wf.store.table("identity_overrides")))
        card = {**cse_scorecard_of(frames, period), "identity": how}
    except (PeriodError, LookupError) as exc:
        raise BadRequest(str(exc)) from None
    s = {**sc.cse_scorecard(ep, ch, lo, hi), **card}
    ctx.result_count = s["cse_cohort"]
    if ctx.analyst:
        return s
    out = disclosure.suppress_scorecard(s, wf.minimiser.small, pct_base={**sc.PCT_BASE, **CSE_PCT_BASE})
    out["cse_cohort_by_month"] = [disclosure.suppress_scorecard(m, wf.minimiser.small)
                                  for m in s["cse_cohort_by_month"]]
    return out


def _person_out(wf, ctx, pid, extra: dict) -> dict:
    if ctx.analyst:
        return {"person_id": pid, **extra}
    return {"child": wf.minimiser.pseudonym(pid), **extra}


@router.get("/children/missing-now", name="missing_now", tags=["children"], responses={**_ERR, **example(MISSING_NOW_EXAMPLE)},
            summary="Children missing now, longest first, with the actions the clocks call for")
def missing_now(request: Request, purpose: Annotated[str, PURPOSE],
                as_of: Annotated[str | None, AS_OF] = None) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, _ = _frames(wf)
    df = sc.missing_now(ep, ch, now=_instant(as_of), view=_person_view(wf, ch))
    out = []
    for r in df.to_dict("records"):
        extra = {"category": r.get("category"), "reported_at": r["reported_at"].isoformat(),
                 "as_of": r["as_of"].isoformat(),
                 "hours_missing": r["hours_missing"], "police_risk": r.get("police_risk"),
                 "care_status": r.get("care_status"), "placement_type": r.get("placement_type"),
                 "cse_risk": r.get("cse_risk"), "actions": r["actions"]}
        if ctx.analyst:
            extra["episode_key"] = r["episode_key"]
        out.append(_person_out(wf, ctx, r["person_id"], {k: (None if pd.isna(v) else v) if not isinstance(v, list) else v for k, v in extra.items()}))
    ctx.result_count = len(out)
    return out


@router.get("/children/worrying", name="worrying_cases", tags=["children"], responses={**_ERR, **example(WORRYING_EXAMPLE)},
            summary="The most worrying cases (MOG's six) with the reasons for each")
def worrying(request: Request, purpose: Annotated[str, PURPOSE],
             n: Annotated[int, Query(ge=1, le=50)] = 6,
             as_of: Annotated[str | None, AS_OF] = None) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, rhi = _frames(wf)
    rows = sc.worrying_cases(ep, ch, rhi, now=_instant(as_of), n=n, view=_person_view(wf, ch))
    ctx.result_count = len(rows)
    return [_person_out(wf, ctx, r.pop("person_id"), r) for r in rows]


@router.get("/cse/victims-at-risk", name="cse_victims_at_risk", tags=["children"], responses=_ERR,
            summary="The CSE cohort at risk with CSE incidents as victim and missing episodes in the "
                    "period (COG's victims-at-risk list; pseudonyms for non-analysts)")
def cse_victims_at_risk(request: Request, purpose: Annotated[str, PURPOSE],
                        from_: Annotated[str | None, FROM] = None, to: Annotated[str | None, TO] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    from geo.meetings import cse
    from network.crime_parties import CSE_FRAMES, cse_inputs, with_identities
    wf, ctx = service(request), ctx_of(request)
    ep, _, _ = _frames(wf)
    lo, hi = parse_date(from_, "from"), parse_date(to, "to")
    lo = lo if lo is not None else ep["reported_at"].min()
    hi = hi if hi is not None else ep["reported_at"].max() + pd.Timedelta(seconds=1)
    frames = {n: wf.layers.frame(n) for n in CSE_FRAMES}
    try:
        frames, _ = wf.layers.cached("cse_identities", lambda: with_identities(
            frames, wf.store.table("identity_links"), wf.store.table("identity_overrides")))
        x = cse_inputs(frames)
    except LookupError as exc:
        raise Unavailable(str(exc)) from None
    v = cse.victims_at_risk(cse.cohort_at(x["cse_assessments"], hi), x["crimes"], x["parties"],
                            x["episodes"], lo, hi).head(limit)
    out = []
    for r in v.to_dict("records"):
        extra = {"level": r["level"], "days_open": round(float(r["days_open"]), 1),
                 "cse_incidents": int(r["cse_incidents"]), "missing_episodes": int(r["missing_episodes"]),
                 "last_assessed": pd.Timestamp(r["last_assessed"]).date().isoformat()}
        if not ctx.analyst:
            extra["cse_incidents"] = wf.minimiser.count(extra["cse_incidents"])
            extra["missing_episodes"] = wf.minimiser.count(extra["missing_episodes"])
        out.append(_person_out(wf, ctx, r["person_id"], extra))
    ctx.result_count = len(out)
    return out


@router.get("/quality", name="data_quality", tags=["scorecards"], responses=_ERR,
            summary="Data quality per source (analysts): stale open records with source and age, "
                    "unknown children, interviews after the next episode, records that disagree")
def data_quality(request: Request, as_of: Annotated[str | None, AS_OF] = None) -> dict:
    from api.jobs.quality import report_json
    from geo.meetings.data_quality import quality_report
    wf, ctx = service(request), ctx_of(request)
    ep, ch, rhi = _frames(wf)
    rep = report_json(quality_report(ep, ch, rhi, _instant(as_of), view=_person_view(wf, ch)))
    ctx.result_count = sum(v for v in rep["totals"].values() if isinstance(v, int))
    return rep
