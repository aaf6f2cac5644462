"""The web page and its vendored assets, and the data of the meeting packs the page downloads:
rendering only. The routes (``/``, ``/static/...``, ``/packs/{kind}``) are the service's
(api/service/routes/web.py), which passes in what they need as typed objects
(``maps.packs.View``: role, pseudonym secret, small-number threshold, 250 m grid).

The page (maps/static/index.html, app.js, app.css) signs in with ``POST /auth/token``, lists the
caller's layers from ``GET /collections``, draws ``/collections/{id}/items`` (GeoJSON; many points
on one canvas), filters by date (``datetime=`` interval), searches premises, shows
``/network/ego/{ref}`` with Cytoscape.js and downloads packs. Every script and stylesheet is
vendored (maps/static/vendor, from npm with pinned versions); a Content-Security-Policy of
``'self'`` makes the browser refuse anything else.

The page and its assets hold no data; a pack is person-level and the service audits it as a
disclosure.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any, Callable

from geo import results as R
from geo.storage.protocol import StoreLike
from maps import assets, layers

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


def static_path(path: str) -> Path:
    """The file behind ``/static/{path}``, or None for anything outside maps/static."""
    if path in EXTRA_STATIC:
        return EXTRA_STATIC[path]
    try:
        f = (assets.STATIC_DIR / path).resolve()
        ok = assets.STATIC_DIR in f.parents and f.is_file() and f.name not in ("index.html",)
    except (ValueError, OSError):          # a NUL byte, a name too long: no such file
        ok = False
    return f if ok else None


def media_type(f: Path) -> str:
    """The Content-Type of a static file."""
    return _TYPES.get(f.suffix) or mimetypes.guess_type(f.name)[0] or "application/octet-stream"


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


#: the service's per-store-state cache: ``cached(key, build)`` returns the value built once
Cached = Callable[[str, Callable[[], Any]], Any]


def pack_data(store: StoreLike, cached: Cached, view, stamp: str = ""):
    """The pack frames for a view, loaded once per store state (``load_pack_data`` reads the
    whole store: 20 s at city scale) and, for minimised views, the results tables through
    ``geo.disclosure.minimise_frame`` (no rates, populations, scores or explanations beside
    banded counts; no exact centroids)."""
    from maps import packs
    from geo import disclosure

    full = cached(f"packs_data:{stamp}", lambda: packs.load_pack_data(store))
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
    return cached(f"packs_data_minimised:{stamp}", minimised)
