import json
import re
from pathlib import Path

import pytest

from maps import assets

MAPS = Path(assets.__file__).resolve().parent


def test_vendored_files_match_pinned_npm_versions():
    pkg = json.loads((MAPS / "package.json").read_text())["dependencies"]
    lock = json.loads((MAPS / "package-lock.json").read_text())["packages"]
    manifest = json.loads((assets.VENDOR_DIR / "MANIFEST.json").read_text())
    for dst, info in manifest.items():
        assert (assets.VENDOR_DIR / dst).stat().st_size > 0
        assert pkg[info["package"]] == info["version"]  # pinned exactly
        assert lock[f"node_modules/{info['package']}"]["version"] == info["version"]


def test_cdn_references_are_inlined_or_dropped():
    html = ('<head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
            '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js"></script>'
            '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>'
            '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css"/>'
            "</head>")
    out = assets.offline_html(html)
    for host in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "unpkg"):
        assert host not in out
    assert not re.search(r"src=\"https?://|<link[^>]*href=\"https?://", out)
    assert "/* vendor/leaflet.js */" in out and "/* vendor/leaflet.css */" in out
    assert "/* jq-shim.js */" in out  # folium's $(`<html>`)[0] popups, without jQuery
    assert "data:image/png;base64," in out  # leaflet.css images inlined
    linked = assets.offline_html(html, mode="link")
    assert '<script src="/static/vendor/leaflet.js"></script>' in linked


def test_unknown_external_reference_is_refused():
    with pytest.raises(assets.OfflineError):
        assets.offline_html('<script src="https://example.org/tracker.js"></script>')
    with pytest.raises(assets.OfflineError):
        assets.check_offline('<img src="https://tile.openstreetmap.org/1/1/1.png">')
    # a configured tile server may stay
    assets.check_offline('<img src="http://localhost:8080/1/1/1.png">', allow=("http://localhost:8080/",))


def test_static_paths_cannot_escape():
    with pytest.raises(assets.OfflineError):
        assets.read_static("../web.py")
