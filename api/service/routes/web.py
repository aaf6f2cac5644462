"""The web page at ``/``, its vendored assets at ``/static/...`` and the meeting packs at
``/packs/{kind}`` (rendering in ``maps.web`` and ``maps.packs``).

Route names (for the role matrix, api/roles.py): ``web_page``, ``web_static``,
``web_base_labels`` and ``web_favicon`` are public (no data in them); ``pack`` is person-level
(``purpose``) and audited as a disclosure: this module fills the request's audit context.
"""
from __future__ import annotations

import threading

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.jobs.pack import disclosure_what, pack_view
from api.service.dependencies import Context, service
from maps import assets
from maps.web import SECURITY_HEADERS, iso_day, media_type, pack_data, page_html, static_path

router = APIRouter()


@router.get("/", name="web_page", response_class=HTMLResponse, include_in_schema=False)
def web_page() -> HTMLResponse:
    """The Wayfinder web page (sign in, map, premises search, network view, packs)."""
    return HTMLResponse(page_html(), headers=SECURITY_HEADERS)


@router.get("/static/base/labels.geojson", name="web_base_labels", include_in_schema=False)
def web_base_labels() -> Response:
    """The offline base layer's ward and place names (:mod:`maps.base`; public open data)."""
    from maps import base
    return Response(base.labels_geojson(), media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=3600",
                             "X-Content-Type-Options": "nosniff"})


@router.get("/favicon.ico", name="web_favicon", include_in_schema=False)
def web_favicon() -> FileResponse:
    """The page's icon (browsers ask for /favicon.ico whatever the page links)."""
    return FileResponse(assets.STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{path:path}", name="web_static", include_in_schema=False)
def web_static(path: str) -> FileResponse:
    """Vendored JavaScript/CSS and the page's own scripts (no CDN, ever)."""
    f = static_path(path)
    if f is None:
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    return FileResponse(f, media_type=media_type(f), headers={"Cache-Control": "private, max-age=3600",
                                                      "X-Content-Type-Options": "nosniff"})


@router.get("/packs/{kind}", name="pack", response_class=HTMLResponse, tags=["packs"],
            summary="A meeting pack (MOG, COG, MASE) for the caller's role, standalone HTML")
def pack(request: Request, kind: str,
         start: str = Query(..., alias="from", description="first day, YYYY-MM-DD"),
         end: str = Query(..., alias="to", description="last day, YYYY-MM-DD"),
         child: str | None = Query(None, max_length=200, description="MASE: the child (its pseudonym; "
                                   "analysts may give a person id or record key)"),
         area: str | None = Query(None, max_length=80, description="MASE: one area's list of children at CSE risk"),
         purpose: str | None = Query(None, max_length=300, description="why (recorded in the audit trail)"),
         recipients: str | None = Query(None, max_length=300, description="who the pack is for "
                                        "(recorded in the audit trail)")
         ) -> Response:
    """Which role may have which pack kind is the API's matrix (``api.roles.PACK_ROLES``, checked
    before this runs: a kind not in the matrix is refused to everyone). Here: only analysts may
    name a child by raw id; the audit entry names the resolved child; minimised views get the
    results tables through the one disclosure policy (``geo.disclosure.minimise_frame``)."""
    from maps import packs

    # the request context the API's authorize dependency sets; none: not signed in
    ctx: Context | None = getattr(request.state, "ctx", None)
    if ctx is None or not ctx.role:
        raise HTTPException(status_code=401, detail="sign in first")
    role, rule, wf = ctx.role, ctx.rule, service(request)
    if rule is None or not rule.allows(role, kind):     # deny by default (the matrix decides
        raise HTTPException(status_code=403, detail=f"role {role} may not receive a {kind!r} pack")
    kinds = sorted(set(packs.PACK_KINDS) | set(packs.PACK_ROLES))
    if kind not in kinds:
        raise HTTPException(status_code=404, detail=f"no pack {kind!r}: one of {', '.join(kinds)}")
    try:
        period = packs.Period.parse(iso_day(start, "from"), iso_day(end, "to"))
    except (packs.PackError, ValueError, TypeError, OverflowError) as exc:
        raise HTTPException(status_code=400, detail=f"bad period: {exc}") from None
    view = pack_view(role, wf.minimiser.secret, wf.settings)
    stamp = _pack_inputs(wf)
    data = pack_data(wf.store, wf.layers.cached, view, stamp)
    pid = resolve_pack_child(data, child, view) if child else None
    if kind == "mase" and pid and role == "mase_member" and purpose:
        # the member asked for this child with a purpose: the pack names that child (only)
        from dataclasses import replace
        view = replace(view, subject=pid)
    key = (kind, str(period.start), str(period.end), pid, area, role, view.subject, stamp)
    cache = _pack_cache(wf)
    html = cache.get(key)
    if html is None:
        # a pack not built yet costs seconds to a minute at city scale: one build at a time per
        # process, others told to come back (the request rate limit counts requests, not cost)
        if not _PACK_BUILDS.acquire(timeout=PACK_BUILD_WAIT):
            raise HTTPException(status_code=429, detail="another pack is being built: try again "
                                "shortly", headers={"Retry-After": "30"})
        try:
            html = cache.get(key)
            if html is None:
                html = packs.build_pack(kind, data, str(period.start.date()), str(period.end.date()),
                                        child=pid, view=view, area=area)
                cache[key] = html
                while len(cache) > PACK_CACHE_SIZE:
                    cache.popitem(last=False)
        except (packs.PackError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        finally:
            _PACK_BUILDS.release()
    # the audit entry is a disclosure
    ctx.action = "disclosure"
    ctx.what = (disclosure_what(kind, period, pid, area, view)
                + (f" to {' '.join(recipients.split())[:200]}" if recipients else ""))
    ctx.result_count = 1
    name = f"wayfinder-{kind}-{period.start.date()}-{period.end.date()}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                       "Cache-Control": "no-store"})


#: packs kept per process (by kind, period, child and role) until the store changes
PACK_CACHE_SIZE = 32
#: packs built at once per process, and how long a request waits for its turn (seconds)
_PACK_BUILDS = threading.BoundedSemaphore(1)
PACK_BUILD_WAIT = 5.0


def _pack_cache(wf):
    """An LRU of built packs, dropped with the layer cache when the store changes."""
    from collections import OrderedDict
    return wf.layers.cached("packs_html", OrderedDict)


def _pack_inputs(wf) -> str:
    """A cheap stamp of pack inputs the layer fingerprint does not cover (MASE areas)."""
    try:
        with wf.store.engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT count(*) FROM mase_areas").scalar())
    except sa.exc.SQLAlchemyError:  # no such table yet
        return "0"


def resolve_pack_child(data: dict, child: str, view) -> str:
    """The person id of the pack's child. Minimised views name a child by its pseudonym only: a
    person id or care-system record key is refused without being looked up (no mapping from care
    ids to pseudonyms, no oracle of which ids exist)."""
    from maps import packs

    child = str(child).strip()
    if child.startswith("C-"):
        ch = data.get("children")
        if ch is not None and len(ch):
            for p in ch["person_id"].astype(str).unique():
                if view.pseudonym(p) == child:
                    return p
        if not view.full:
            raise HTTPException(status_code=404, detail=f"no child {child!r}")
    if not view.full:
        raise HTTPException(status_code=400, detail="child: give the child's pseudonym (C-...); "
                                                    "only analysts may use record ids")
    try:
        return packs.resolve_child(data, child)
    except packs.PackError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
