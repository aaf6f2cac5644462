"""Vendored JavaScript/CSS and how they get into a page.

Nothing Wayfinder shows may fetch anything at run time (DESIGN.md: no CDN, no tiles required).
folium renders ``<script src>``/``<link href>`` tags pointing at CDNs; :func:`offline_html` replaces
every one of them with the vendored copy under ``maps/static/vendor`` (built from npm with pinned
versions: ``cd maps && npm ci && npm run vendor``; see ``maps/package.json``), either inlined
(standalone files: packs, exported maps) or as a local ``/static/...`` link (the web page). Assets
Wayfinder does not use (jQuery, Bootstrap, Font Awesome, awesome-markers) are dropped; any other
external reference raises :class:`OfflineError` rather than ship a page that phones out.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"

#: Attribution lines that must stay in map credits (data/reference/SOURCES.md).
ATTRIBUTION = (
    "Boundaries: Contains Ordnance Survey and ONS data &copy; Crown copyright and database right 2016 "
    "(OGL v3; GeoJSON via martinjc/UK-GeoJSON, CC-BY 4.0). "
    "Postcodes: Contains Ordnance Survey data &copy; Crown copyright and database right 2014; "
    "Contains Royal Mail data &copy; Royal Mail copyright and database right 2014; "
    "Contains National Statistics data &copy; Crown copyright and database right 2014. "
    "Synthetic people only."
)

#: Pseudo-URL scheme for Wayfinder's own scripts in folium elements; resolved by offline_html.
LOCAL_SCHEME = "wayfinder://"

# file name (as it appears at the end of a CDN URL) -> vendored file (relative to STATIC_DIR)
_KNOWN = {
    "leaflet.js": "vendor/leaflet.js",
    "leaflet-src.js": "vendor/leaflet.js",
    "leaflet.css": "vendor/leaflet.css",
    "leaflet.markercluster.js": "vendor/leaflet.markercluster.js",
    "leaflet.markercluster-src.js": "vendor/leaflet.markercluster.js",
    "markercluster.css": "vendor/MarkerCluster.css",
    "markercluster.default.css": "vendor/MarkerCluster.Default.css",
    "leaflet_heat.min.js": "vendor/leaflet-heat.js",
    "leaflet-heat.js": "vendor/leaflet-heat.js",
    "cytoscape.min.js": "vendor/cytoscape.min.js",
    "cytoscape.js": "vendor/cytoscape.min.js",
}
# Things folium adds by default that Wayfinder never uses: dropped.
_DROP = (
    "bootstrap", "glyphicons", "fontawesome", "font-awesome", "awesome-markers",
    "awesome_markers", "leaflet.awesome.rotate",
)

_SCRIPT_RE = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>', re.I)
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>', re.I)
_EXTERNAL_RE = re.compile(
    r'''(?:\bsrc\s*=\s*["']|<link\b[^>]*\bhref\s*=\s*["']|url\(\s*["']?|@import\s+["'])(?:https?:)?//''',
    re.I)


class OfflineError(ValueError):
    """A page would load something from outside (a URL with no vendored copy)."""


@functools.lru_cache(maxsize=None)
def read_static(rel: str) -> str:
    """Text of a file under maps/static (e.g. ``vendor/leaflet.js``)."""
    path = (STATIC_DIR / rel).resolve()
    if STATIC_DIR not in path.parents:
        raise OfflineError(f"not a static asset: {rel}")
    text = path.read_text(encoding="utf-8")
    if rel.endswith(".css"):
        text = _inline_css_urls(text, path.parent)
    return text


def _inline_css_urls(css: str, base: Path) -> str:
    def repl(m: re.Match) -> str:
        url = m.group(1).strip("'\"")
        if url.startswith(("data:", "#")):
            return m.group(0)
        f = base / url
        if not f.exists():
            return m.group(0)
        b64 = base64.b64encode(f.read_bytes()).decode()
        return f"url(data:image/png;base64,{b64})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def resolve(url: str) -> str | None:
    """Vendored file for a URL (``vendor/leaflet.js``), ``""`` for dropped assets, None if unknown."""
    if url.startswith(LOCAL_SCHEME):
        return url[len(LOCAL_SCHEME):]
    if url.startswith("/static/"):
        return url[len("/static/"):]
    name = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1].lower()
    low = url.lower()
    if name.startswith("jquery"):
        return "jq-shim.js"  # folium only uses $(`<html>`)[0]; see static/jq-shim.js
    if any(d in low for d in _DROP):
        return ""
    return _KNOWN.get(name)


def script_tag(rel: str, mode: str = "inline", prefix: str = "/static/") -> str:
    if mode == "inline":
        body = read_static(rel).replace("</script", "<\\/script")
        return f"<script>/* {rel} */\n{body}\n</script>"
    return f'<script src="{prefix}{rel}"></script>'


def style_tag(rel: str, mode: str = "inline", prefix: str = "/static/") -> str:
    if mode == "inline":
        return f"<style>/* {rel} */\n{read_static(rel)}\n</style>"
    return f'<link rel="stylesheet" href="{prefix}{rel}"/>'


def offline_html(html: str, mode: str = "inline", prefix: str = "/static/",
                 allow: tuple[str, ...] = ()) -> str:
    """Replace every external script/stylesheet reference with the vendored copy.

    ``mode="inline"`` embeds the files (a standalone page that opens with no network);
    ``mode="link"`` points at ``{prefix}vendor/...`` served by :mod:`maps.web`. ``allow`` lists URL
    prefixes that may stay external (a configured tile server). Raises :class:`OfflineError` if an
    external reference is left that has no vendored copy.
    """
    seen: set[str] = set()

    def sub(kind: str):
        def repl(m: re.Match) -> str:
            url = m.group(1)
            if allow and url.startswith(allow):
                return m.group(0)
            rel = resolve(url)
            if rel is None:
                if url.startswith(("http:", "https:", "//")):
                    raise OfflineError(f"no vendored copy of {url}")
                return m.group(0)
            if rel == "" or rel in seen:
                return ""
            seen.add(rel)
            return script_tag(rel, mode, prefix) if kind == "js" else style_tag(rel, mode, prefix)
        return repl

    html = _SCRIPT_RE.sub(sub("js"), html)
    html = _LINK_RE.sub(sub("css"), html)
    check_offline(html, allow=allow)
    return html


def check_offline(html: str, allow: tuple[str, ...] = ()) -> None:
    """Raise :class:`OfflineError` if ``html`` still references an external script, style or image."""
    for m in _EXTERNAL_RE.finditer(html):
        tail = html[m.end(): m.end() + 200]
        url = "//" + tail.split('"')[0].split("'")[0]
        if any(url.split("//", 1)[-1].startswith(a.split("//", 1)[-1]) for a in allow):
            continue
        raise OfflineError(f"external reference left in page: {url[:120]}")
