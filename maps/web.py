"""The web page at ``/`` and its vendored assets at ``/static/...``, plus meeting packs at
``/packs/{kind}``: a FastAPI ``APIRouter`` named :data:`router` that the API includes.

The page (maps/static/index.html, app.js, app.css) signs in with ``POST /auth/token``, lists the
caller's layers from ``GET /collections``, draws ``/collections/{id}/items`` (GeoJSON; many points
on one canvas), filters by date (``datetime=`` interval), searches premises, shows
``/network/ego/{ref}`` with Cytoscape.js and downloads packs. Every script and stylesheet is
vendored (maps/static/vendor, from npm with pinned versions); a Content-Security-Policy of
``'self'`` makes the browser refuse anything else.

Route names (for the API's role matrix, api/roles.py): ``web_page`` and ``web_static`` are public
(no data in them); ``pack`` is person-level (``purpose``) and audited as a disclosure. The pack
route reads the caller's role from ``request.state.ctx`` and the store and pseudonym secret from
``request.app.state.wf`` set by the API (duck-typed: maps never imports api).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from maps import assets, layers

router = APIRouter()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}

#: extra files under /static that live outside maps/static (public reference data)
EXTRA_STATIC = {
    "boundaries/wards.geojson": layers.REFERENCE_DIR / "birmingham_wards_2013.geojson",
    "boundaries/lsoa.geojson": layers.REFERENCE_DIR / "birmingham_lsoa_2011.geojson",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".json": "application/json",
          ".geojson": "application/geo+json", ".png": "image/png", ".svg": "image/svg+xml"}


def page_html() -> str:
    """The web page (maps/static/index.html); assets are linked under /static, all local."""
    html = (assets.STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assets.check_offline(html)
    return html


@router.get("/", name="web_page", response_class=HTMLResponse, include_in_schema=False)
def web_page() -> HTMLResponse:
    """The Wayfinder web page (sign in, map, premises search, network view, packs)."""
    return HTMLResponse(page_html(), headers=SECURITY_HEADERS)


def static_path(path: str) -> Path:
    """The file behind ``/static/{path}``; raises 404 for anything outside maps/static."""
    if path in EXTRA_STATIC:
        return EXTRA_STATIC[path]
    f = (assets.STATIC_DIR / path).resolve()
    if assets.STATIC_DIR not in f.parents or not f.is_file() or f.name in ("index.html",):
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    return f


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
    media = _TYPES.get(f.suffix) or mimetypes.guess_type(f.name)[0] or "application/octet-stream"
    return FileResponse(f, media_type=media, headers={"Cache-Control": "private, max-age=3600",
                                                      "X-Content-Type-Options": "nosniff"})


@router.get("/packs/{kind}", name="pack", response_class=HTMLResponse, tags=["packs"],
            summary="A meeting pack (MOG, COG, MASE) for the caller's role, standalone HTML")
def pack(request: Request, kind: str,
         start: str = Query(..., alias="from", description="first day, YYYY-MM-DD"),
         end: str = Query(..., alias="to", description="last day, YYYY-MM-DD"),
         child: str | None = Query(None, max_length=200, description="MASE: the child"),
         area: str | None = Query(None, max_length=80, description="MASE: one area's list of children at CSE risk"),
         purpose: str | None = Query(None, max_length=300, description="why (recorded in the audit trail)")
         ) -> Response:
    from maps import packs

    ctx = getattr(request.state, "ctx", None)
    role = getattr(ctx, "role", None)
    wf = getattr(request.app.state, "wf", None)
    if not role or wf is None:
        raise HTTPException(status_code=401, detail="sign in first")
    if role == "admin":
        raise HTTPException(status_code=403, detail="role admin sees no case data")
    if kind not in packs.PACK_ROLES:
        raise HTTPException(status_code=404, detail=f"no pack {kind!r}: one of mog, cog, mase, licensing")
    if role not in packs.PACK_ROLES[kind]:
        if ctx is not None:
            ctx.action = "denied"
        raise HTTPException(status_code=403, detail=f"role {role} may not receive the {kind} pack")
    mini = getattr(wf, "minimiser", None)
    settings = getattr(wf, "settings", None)
    view = packs.View(role=role, secret=getattr(mini, "secret", None),
                      small=int(getattr(settings, "small_count", 5) or 5),
                      grid_m=float(getattr(settings, "grid_m", 250) or 250))
    data = packs.load_pack_data(wf.store)
    if child and not view.full and str(child).startswith("C-"):
        # a pseudonym from the page: find the child it stands for
        ch = data.get("children")
        if ch is not None and len(ch):
            hits = [p for p in ch["person_id"].astype(str).unique() if view.pseudonym(p) == child]
            child = hits[0] if hits else child
    if kind == "mase" and child and role == "mase_member" and purpose:
        # the member asked for this child with a purpose: the pack names that child (only)
        from dataclasses import replace
        try:
            view = replace(view, subject=packs.resolve_child(data, child))
        except packs.PackError:
            pass
    try:
        html = packs.build_pack(kind, data, start, end, child=child, view=view, area=area)
    except (packs.PackError, ValueError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if ctx is not None:       # the API's request context: the audit entry is a disclosure
        ctx.action = "disclosure"
        ctx.what = f"pack {kind} {start}..{end}" + (f" child {view.pseudonym(child)}" if child else "") + (
            f" area {area}" if area and not child else "") + (
            " (named to the member, purpose given)" if view.subject else "")
        ctx.result_count = 1
    name = f"wayfinder-{kind}-{start}-{end}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                       "Cache-Control": "no-store"})
