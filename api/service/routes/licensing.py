"""Licensing officers: screening of an address, postcode, premises or application
(``GET /licensing/screen``), and the review records of premises (``GET/POST /licensing/reviews``).

The screening is the function of ``wayfinder screen`` (api/jobs/screen.py, geo/meetings/screening.py):
a licensing officer gets it minimised (no person references, counts 1-4 as "<5", months), an
analyst in full. A review records the signed-in officer's decision and is an alteration in the
audit trail; the latest review of each premises shows in later screenings and packs.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.service.dependencies import ctx_of, service
from api.service.errors import BadRequest
from api.service.model import ERRORS

router = APIRouter(tags=["licensing"])
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}


def _overrides(wf):
    g = wf.layers.frame("geocodes")
    if g is None or g.empty or "override" not in g:
        return None
    ov = g[g["override"].astype(bool)]
    return ov if len(ov) else None


@router.get("/licensing/screen", name="licensing_screen", responses=_ERR,
            summary="Screen an address, postcode, premises name or application: premises, "
                    "episodes, children, intelligence gradings and CSE crimes within a radius")
def licensing_screen(request: Request,
                     text: Annotated[str, Query(min_length=2, max_length=300, examples=["B7 4PS"])],
                     radius: Annotated[float, Query(gt=0, le=5000)] = 250.0,
                     from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                     to: Annotated[str | None, Query(max_length=10)] = None) -> dict:
    from api.jobs.screen import ScreenError, gazetteer_of, period_bounds, run_screen
    from geo.meetings.reviews import reviews_frame
    from geo.storage.store import StoreError
    wf, ctx = service(request), ctx_of(request)

    def result(name):
        try:
            return wf.layers.result(name)
        except StoreError:
            return None
    try:
        lo, hi = period_bounds(from_, to)
        out = run_screen(text, wf.layers.frame, result,
                         lambda: wf.layers.cached("gazetteer", lambda: gazetteer_of(wf.store)),
                         _overrides(wf), radius, lo, hi, ctx.analyst, wf.minimiser.small,
                         reviews=reviews_frame(wf.store))
    except ScreenError as exc:
        raise BadRequest(str(exc)) from None
    ctx.what = f"screen {text!r} radius {radius:g} m"
    ctx.result_count = len(out["premises"])
    return out


class ReviewIn(BaseModel):
    premises_id: str = Field(..., max_length=128, examples=["BCC/PL/018118"])
    decision: Literal["reviewed", "no_action", "referred", "conditions", "suspended"]
    decided_at: str | None = Field(None, max_length=40, description="date or date-time (default now)")
    reason: str | None = Field(None, max_length=2000)


@router.post("/licensing/reviews", name="licensing_review_record", responses=_ERR, status_code=201,
             summary="Record a licensing review decision about a premises (the signed-in officer)")
def licensing_review_record(request: Request, body: ReviewIn) -> dict:
    from api.jobs.licensing import review_json
    from geo.meetings.reviews import ReviewError, record_review
    wf, ctx = service(request), ctx_of(request)
    try:
        row = record_review(wf.store, body.premises_id, body.decision, body.decided_at, ctx.user,
                            body.reason)
    except ReviewError as exc:
        raise BadRequest(str(exc)) from None
    ctx.what = f"premises {row['premises_id']} review {row['id']}: {row['decision']}"
    ctx.result_count = 1
    return review_json(row)


@router.get("/licensing/reviews", name="licensing_reviews", responses=_ERR,
            summary="Review records of premises, oldest first (one premises with premises_id)")
def licensing_reviews(request: Request,
                      premises_id: Annotated[str | None, Query(max_length=128)] = None) -> list[dict]:
    from api.jobs.licensing import review_json
    from geo.disclosure import month_of
    from geo.meetings.reviews import reviews_frame
    wf, ctx = service(request), ctx_of(request)
    rows = [review_json(r) for r in reviews_frame(wf.store, premises_id).to_dict("records")]
    if ctx.view == "licensing":
        for r in rows:
            r["decided_at"] = month_of([r["decided_at"]]).iloc[0]
    ctx.result_count = len(rows)
    return rows
