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
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from geo import results as R
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
    try:
        f = (assets.STATIC_DIR / path).resolve()
        ok = assets.STATIC_DIR in f.parents and f.is_file() and f.name not in ("index.html",)
    except (ValueError, OSError):          # a NUL byte, a name too long: no such file
        ok = False
    if not ok:
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

    ctx = getattr(request.state, "ctx", None)
    role = getattr(ctx, "role", None)
    wf = getattr(request.app.state, "wf", None)
    if not role or wf is None:
        raise HTTPException(status_code=401, detail="sign in first")
    rule = getattr(ctx, "rule", None)
    if rule is None or not rule.allows(role, kind):     # deny by default (the matrix decides
        raise HTTPException(status_code=403, detail=f"role {role} may not receive a {kind!r} pack")
    kinds = sorted(set(packs.PACK_KINDS) | set(getattr(packs, "PACK_ROLES", {})))
    if kind not in kinds:
        raise HTTPException(status_code=404, detail=f"no pack {kind!r}: one of {', '.join(kinds)}")
    try:
        period = packs.Period.parse(iso_day(start, "from"), iso_day(end, "to"))
    except (packs.PackError, ValueError, TypeError, OverflowError) as exc:
        raise HTTPException(status_code=400, detail=f"bad period: {exc}") from None
    mini = getattr(wf, "minimiser", None)
    settings = getattr(wf, "settings", None)
    view = packs.View(role=role, secret=getattr(mini, "secret", None),
                      small=int(getattr(settings, "small_count", 5) or 5),
                      grid_m=float(getattr(settings, "grid_m", 250) or 250))
    stamp = _pack_inputs(wf)
    data = pack_data(wf, view, stamp)
    pid = resolve_pack_child(data, child, view) if child else None
    if kind == "mase" and pid and role == "mase_member" and purpose:
        # the member asked for this child with a purpose: the pack names that child (only)
        from dataclasses import replace
        view = replace(view, subject=pid)
    key = (kind, str(period.start), str(period.end), pid, area, role, getattr(view, "subject", None),
           stamp)
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
    if ctx is not None:       # the API's request context: the audit entry is a disclosure
        ctx.action = "disclosure"
        ctx.what = (f"pack {kind} {period.start.date()}..{period.end.date()}"
                    + (f" child {view.pseudonym(pid)}" if pid else "")
                    + (f" area {area}" if area and not pid else "")
                    + (" (named to the member, purpose given)" if getattr(view, "subject", None) else "")
                    + (f" to {' '.join(recipients.split())[:200]}" if recipients else ""))
        ctx.result_count = 1
    name = f"wayfinder-{kind}-{period.start.date()}-{period.end.date()}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                       "Cache-Control": "no-store"})


def iso_day(text: str, name: str) -> str:
    """``text`` when it is a calendar date YYYY-MM-DD (years 1900-2199), else ValueError: "nan",
    "inf" or "-0" must be a 400, not a crash inside the period arithmetic."""
    import datetime as _dt
    try:
        d = _dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, not {str(text)[:40]!r}") from None
    if not 1900 <= d.year <= 2199:
        raise ValueError(f"{name} {d} is out of range")
    return d.isoformat()


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
    except Exception:  # noqa: BLE001 - no such table yet
        return "0"


def pack_data(wf, view, stamp: str = ""):
    """The pack frames for a view, loaded once per store state (``load_pack_data`` reads the
    whole store: 20 s at city scale) and, for minimised views, the results tables through
    ``geo.disclosure.minimise_frame`` (no rates, populations, scores or explanations beside
    banded counts; no exact centroids)."""
    from maps import packs
    from geo import disclosure

    full = wf.layers.cached(f"packs_data:{stamp}", lambda: packs.load_pack_data(wf.store))
    if view.full:
        return full

    def minimised():
        out = dict(full)
        for name in packs.RESULTS:
            df = out.get(name)
            if df is not None and len(df):
                out[name] = disclosure.minimise_frame(df, view.small, dates=None, band=False,
                                                      drop=disclosure.LOCATING_FIELDS)
        cl = out.get(R.FOUND_AT_CLUSTERS.name)
        if cl is not None and len(cl) and hasattr(cl, "geometry"):
            # a cluster's hull has found-at points for corners: a grid cell centre instead
            import geopandas as gpd
            import shapely
            pts = cl.geometry.representative_point()
            e, n = view.snap(pts.x.to_numpy(), pts.y.to_numpy())
            cl = cl.copy()
            cl.geometry = gpd.GeoSeries(shapely.points(e, n), index=cl.index, crs=cl.crs)
            out[R.FOUND_AT_CLUSTERS.name] = cl
        out.pop("_graph", None)
        return out
    return wf.layers.cached(f"packs_data_minimised:{stamp}", minimised)


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
