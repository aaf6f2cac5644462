"""Administration: the audit trail (admin only), users list, layer refresh."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from api.audit import verify
from api.dependencies import ctx_of, service
from api.model import ERRORS, AuditRow, AuditVerify
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
    from api.auth import list_users
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
