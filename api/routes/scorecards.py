"""Scorecards (MOG, CSE), children missing now and the most worrying cases."""
from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request

from api.dependencies import PURPOSE, ctx_of, parse_date, service
from api.errors import Unavailable
from api.model import (CSE_EXAMPLE, ERRORS, MISSING_NOW_EXAMPLE, MOG_EXAMPLE, WORRYING_EXAMPLE,
                       example)
from geo import scorecards as sc

router = APIRouter()
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}
FROM = Query(alias="from", description="period start (date, inclusive)", examples=["2017-01-01"], max_length=10)
TO = Query(description="period end (date, exclusive)", examples=["2017-04-01"], max_length=10)


def _frames(wf):
    ep, ch, rhi = (wf.layers.frame(n) for n in ("episodes", "children", "return_interviews"))
    if ep is None or ch is None or rhi is None:
        raise Unavailable("the store holds no episodes yet: run wayfinder ingest")
    return ep, ch, rhi


#: what a suppressed percentage reads (as in the meeting packs)
SUPPRESSED_PCT = "n/a (<5)"


def _small(n, m) -> bool:
    return n is not None and not isinstance(n, bool) and 0 < n < m.small


def _suppress_pct(pct, base, m):
    """A percentage shown to non-analysts only when neither its base nor the count it implies
    (``pct * base / 100``) is from 1 to ``small - 1``: a small base identifies people as a
    small count does, and a percentage of a shown base would give back a suppressed count."""
    if pct is None or isinstance(pct, bool) or not isinstance(pct, (int, float)):
        return pct
    if not isinstance(base, (int, float)) or isinstance(base, bool):
        return SUPPRESSED_PCT      # no known base: do not risk it
    if _small(base, m) or _small(round(pct * base / 100.0), m):
        return SUPPRESSED_PCT
    return pct


def suppress_dict(d, m, keys_exempt=("period",), bases=None):
    """Non-analyst scorecard: counts 1-4 become "<5" and percentages over a base of 1-4 (or
    implying a count of 1-4) become "n/a (<5)" (bases from ``geo.scorecards.PCT_BASE``)."""
    scope = {**(bases or {}), **{k: v for k, v in d.items()
                                 if isinstance(v, int) and not isinstance(v, bool)}}
    out = {}
    for k, v in d.items():
        if k in keys_exempt:
            out[k] = v
        elif k in sc.PCT_BASE:
            base = scope.get(sc.PCT_BASE[k])
            if isinstance(v, dict):
                out[k] = {kk: _suppress_pct(vv, base, m) for kk, vv in v.items()}
            else:
                out[k] = _suppress_pct(v, base, m)
        elif isinstance(v, dict):
            out[k] = suppress_dict(v, m, (), scope)
        elif isinstance(v, int) and not isinstance(v, bool):
            out[k] = m.count(v)
        elif isinstance(v, float) and (k.endswith("_pct") or k.endswith("_rate")):
            out[k] = SUPPRESSED_PCT    # a percentage without a declared base
        else:
            out[k] = v
    return out


@router.get("/scorecards/mog", name="scorecard_mog", tags=["scorecards"], responses={**_ERR, **example(MOG_EXAMPLE)},
            summary="MOG scorecard: episodes, children, repeat, persistent, first-time, RHI within 72 h, out of area")
def scorecard_mog(request: Request, from_: Annotated[str | None, FROM] = None,
                  to: Annotated[str | None, TO] = None,
                  host: Annotated[str, Query(max_length=80, description="host authority")] = "Birmingham") -> dict:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, rhi = _frames(wf)
    s = sc.mog_scorecard(ep, ch, rhi, parse_date(from_, "from"),
                         parse_date(to, "to"), host)
    ctx.result_count = s["episodes"]
    return s if ctx.analyst else suppress_dict(s, wf.minimiser)


@router.get("/scorecards/cse", name="scorecard_cse", tags=["scorecards"], responses={**_ERR, **example(CSE_EXAMPLE)},
            summary="CSE scorecard: cohort by risk, CSE episodes, repeat missing and repeat victim rates")
def scorecard_cse(request: Request, from_: Annotated[str | None, FROM] = None,
                  to: Annotated[str | None, TO] = None) -> dict:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, _ = _frames(wf)
    s = sc.cse_scorecard(ep, ch, parse_date(from_, "from"), parse_date(to, "to"))
    ctx.result_count = s["cohort"]
    return s if ctx.analyst else suppress_dict(s, wf.minimiser)


def _person_out(wf, ctx, pid, extra: dict) -> dict:
    if ctx.analyst:
        return {"person_id": pid, **extra}
    return {"child": wf.minimiser.pseudonym(pid), **extra}


@router.get("/children/missing-now", name="missing_now", tags=["children"], responses={**_ERR, **example(MISSING_NOW_EXAMPLE)},
            summary="Children missing now, longest first, with the actions the clocks call for")
def missing_now(request: Request, purpose: Annotated[str, PURPOSE]) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, _ = _frames(wf)
    df = sc.missing_now(ep, ch)
    out = []
    for r in df.to_dict("records"):
        extra = {"category": r.get("category"), "reported_at": r["reported_at"].isoformat(),
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
             n: Annotated[int, Query(ge=1, le=50)] = 6) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    ep, ch, rhi = _frames(wf)
    rows = sc.worrying_cases(ep, ch, rhi, n=n)
    ctx.result_count = len(rows)
    return [_person_out(wf, ctx, r.pop("person_id"), r) for r in rows]
