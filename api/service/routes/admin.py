"""Administration: the audit trail (admin only), users list, erasure (admin only), layer refresh."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.jobs.audit import verify
from api.service.dependencies import ctx_of, service
from api.service.errors import BadRequest, NotFound
from api.service.model import ERRORS, AuditRow, AuditVerify
from api.tables import audit_log

router = APIRouter(tags=["admin"])
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}


@router.get("/audit", name="audit_list", response_model=list[AuditRow],
            summary="Audit trail entries, newest first (admin only)", responses=_ERR)
def audit_list(request: Request,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
               action: Annotated[str | None, Query(max_length=20, examples=["denied"])] = None,
               user: Annotated[str | None, Query(max_length=120)] = None) -> list[AuditRow]:
    wf, ctx = service(request), ctx_of(request)
    wf.audit.flush()
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if action:
        q = q.where(audit_log.c.action == action)
    if user:
        q = q.where(audit_log.c.user_name == user)
    with wf.store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    ctx.result_count = len(rows)
    return [AuditRow(id=r["id"], at=r["at"].isoformat() + "Z", user_name=r["user_name"],
                     role=r["role"], action=r["action"], route=r["route"], what=r["what"],
                     purpose=r["purpose"], result_count=r["result_count"], status=r["status"],
                     hash=r["hash"]) for r in rows]


@router.get("/audit/verify", name="audit_verify", response_model=AuditVerify,
            summary="Check the audit chain (admin only)", responses=_ERR)
def audit_verify(request: Request) -> AuditVerify:
    wf = service(request)
    wf.audit.flush()
    r = verify(wf.store.engine)
    return AuditVerify(ok=r.ok, entries=r.entries, message=r.message, first_bad_id=r.first_bad_id)


@router.get("/users", name="users_list", summary="Users and roles (admin only)", responses=_ERR)
def users_list(request: Request) -> list[dict]:
    from api.service.auth import list_users
    wf, ctx = service(request), ctx_of(request)
    users = list_users(wf.store.engine)
    ctx.result_count = len(users)
    return users


@router.post("/layers/refresh", name="refresh_layers",
             summary="Rebuild the layers from the store now (analyst, admin)", responses=_ERR)
def refresh_layers(request: Request) -> dict:
    wf, ctx = service(request), ctx_of(request)
    wf.layers.build_all()
    ctx.what = "layers rebuilt"
    return {"status": "rebuilt", "layers": sorted({k[0] for k in wf.layers._data})}


class ErasureRequest(BaseModel):
    kind: Literal["child", "person"] = Field(examples=["child"])
    ref: str = Field(min_length=1, max_length=200, examples=["C-3F2A9B10C4"],
                     description="pseudonym, person_id or record key (SOURCE/ID)")
    reason: str = Field(min_length=5, max_length=300,
                        examples=["Subject access and erasure request SAR-2017-041 upheld"],
                        description="why the records are erased (recorded in the audit trail)")


ERASURE_EXAMPLE = {"kind": "child", "subject": "C-3F2A9B10C4",
                   "counts": {"return_interviews": 3, "episodes": 5, "children": 1, "persons": 0,
                              "links": 2, "episode_mentions": 0, "interview_mentions": 0,
                              "intelligence": 0, "intelligence_redacted": 1,
                              "identity_links": 1, "identity_overrides": 0, "held_rows": 0},
                   "results_removed": ["co_missing_groups"], "audit_id": 1207}


@router.post("/erasures", name="erase_subject",
             summary="Erase a child's or person's records across the store (admin only)",
             description="One transaction erases the subject's records, the episodes, return "
                         "interviews, links and identity links of them and their mentions in "
                         "other records, removes analysis results naming them, and appends an "
                         "`erasure` audit entry (pseudonymous subject, counts, reason).",
             responses={**_ERR, 404: {"description": "No such child or person"},
                        200: {"content": {"application/json": {"example": ERASURE_EXAMPLE}}}})
def erase(request: Request, body: Annotated[ErasureRequest, Body()]) -> dict:
    from api.jobs.erase import ErasureError, SubjectNotFound, erase_subject
    wf, ctx = service(request), ctx_of(request)
    ctx.purpose = body.reason
    try:
        report = erase_subject(wf.store, body.kind, body.ref, body.reason, ctx.user, ctx.role,
                               wf.minimiser, route="/erasures")
    except SubjectNotFound as exc:
        raise NotFound(str(exc)) from None
    except ErasureError as exc:
        raise BadRequest(str(exc)) from None
    ctx.what = f"erasure request for {report.subject}: done, see audit entry {report.audit_id}"
    ctx.result_count = report.total
    wf.layers.build_all()   # nothing erased may still be served from memory
    return report.to_json()
