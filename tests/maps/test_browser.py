"""The web page in a real browser: Playwright for Python driving Debian's /usr/bin/chromium (no
browser download), against the real app (api.service.app.create_app) over a real store with real users.

Signs in, toggles a layer, opens a popup, opens the network view, takes a screenshot, and checks
that no request left localhost (every request is routed through a guard that records and blocks
anything not on 127.0.0.1).
"""
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from _server import Server, add_user, make_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("WAYFINDER_SHOTS", "/tmp/wayfinder-shots"))


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(real_store):
    url, _ = real_store
    app = make_app(url)
    add_user(app, "analyst1", "analyst", "analyst password 1")
    add_user(app, "licensing1", "licensing_officer", "licensing password 1")
    with Server(app) as s:
        yield s


class Guard:
    """Routes every request: localhost passes, anything else is recorded and aborted."""

    def __init__(self, page):
        self.outside: list[str] = []
        self.seen: list[str] = []
        page.route("**/*", self.handle)

    def handle(self, route):
        url = route.request.url
        self.seen.append(url)
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def wait_js(page, expr: str, timeout: float = 20.0):
    """Poll a JS expression with page.evaluate (the page's CSP forbids eval, which
    page.wait_for_function would need)."""
    import time

    end = time.monotonic() + timeout
    while True:
        v = page.evaluate(expr)
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expr}")
        page.wait_for_timeout(100)


def sign_in(page, base, user, password):
    page.goto(base + "/")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#signin-button")
    page.wait_for_selector("#app:not([hidden])", timeout=15000)


def test_sign_in_toggle_popup_network_screenshot(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    guard = Guard(page)
    sign_in(page, server.url, "analyst1", "analyst password 1")
    assert "analyst1" in page.inner_text("#who")
    # the default layer (ward hotspots) loads; then toggle the found-at layer on
    wait_js(page, "document.body.dataset.loaded_hotspots_ward !== undefined", 45)
    # found-at points are person-level (issue 15): the page sends the stated purpose with them
    page.evaluate("document.getElementById('network-purpose').value = 'MOG monthly review'")
    page.check("#layer-found_at")
    wait_js(page, "document.body.dataset.loaded_found_at !== undefined", 45)
    n_all = int(page.get_attribute("body", "data-loaded_found_at"))
    assert n_all > 0
    # the date filter reloads the active layers for the chosen period
    days = page.evaluate("WFApp.data.found_at.map(f => f.properties.at).filter(Boolean).sort()")
    page.fill("#date-from", days[len(days) // 2][:10])
    page.fill("#date-to", days[-1][:10])
    page.evaluate("delete document.body.dataset.loaded_found_at")
    page.click("#date-apply")
    wait_js(page, "document.body.dataset.loaded_found_at !== undefined", 45)
    n_part = int(page.get_attribute("body", "data-loaded_found_at"))
    assert 0 < n_part < n_all, (n_part, n_all)
    # toggle the ward layer off (its polygons would take the click), then open a popup by clicking
    # on a found-at point (canvas layer: hit-tested, not a DOM marker)
    page.uncheck("#layer-hotspots_ward")
    assert page.evaluate("WFApp.layers.hotspots_ward === undefined")
    # and every other layer drawn over the points (cluster circles, space-time cylinders: their
    # popups name children but carry no person to open), so the click can only hit a found-at point
    for box in page.query_selector_all("input[id^='layer-']:checked"):
        if box.get_attribute("id") != "layer-found_at":
            box.uncheck()
    assert page.evaluate("Object.keys(WFApp.layers).filter(k => WFApp.layers[k]).join()") == "found_at"
    pt = page.evaluate("""() => {
        const f = WFApp.data.found_at.find(f => f.geometry);
        const m = WFApp.map; m.setView([f.geometry.coordinates[1], f.geometry.coordinates[0]], 15, {animate: false});
        const p = m.latLngToContainerPoint([f.geometry.coordinates[1], f.geometry.coordinates[0]]);
        const r = document.getElementById('map').getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y};
    }""")
    page.wait_for_timeout(300)
    page.mouse.click(pt["x"], pt["y"])
    popup = page.wait_for_selector(".leaflet-popup-content .wf-popup", timeout=30000)
    assert "person id" in popup.inner_text() or "child" in popup.inner_text(), popup.inner_text()
    # open the network view from the popup (purpose first: person-level, audited)
    page.click(".leaflet-popup-content .wf-net")  # opens the network box, asks for the purpose
    assert page.input_value("#network-ref")
    page.fill("#network-purpose", "MASE South case review")
    page.click("#network-go")
    page.wait_for_selector("#network:not([hidden])", timeout=45000)
    wait_js(page, "window.wfCy && window.wfCy.nodes().length > 0", 45)
    n = page.evaluate("window.wfCy.nodes().length")
    assert n >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web_analyst.png"))
    assert (SHOTS / "web_analyst.png").stat().st_size > 10000
    assert guard.outside == [], guard.outside
    assert any("/collections/found_at/items" in u for u in guard.seen)
    assert errors == [], errors
    page.close()


def test_licensing_officer_premises_search(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    guard = Guard(page)
    sign_in(page, server.url, "licensing1", "licensing password 1")
    page.wait_for_selector("#layer-premises")
    assert page.is_visible("#network-panel") is False  # no network view for licensing officers
    page.fill("#premises-q", "")
    page.click("#premises-go")
    first = page.wait_for_selector("#premises-results li", timeout=45000)
    first.click()
    page.wait_for_selector(".leaflet-popup-content .wf-popup", timeout=30000)
    page.screenshot(path=str(SHOTS / "web_licensing.png"))
    assert guard.outside == [], guard.outside
    page.close()


def test_bad_password_is_refused(browser, server):
    page = browser.new_page()
    Guard(page)
    page.goto(server.url + "/")
    page.fill("#username", "analyst1")
    page.fill("#password", "wrong")
    page.click("#signin-button")
    wait_js(page, "document.getElementById('signin-error').textContent.length > 0", 10)
    assert page.is_hidden("#app")
    page.close()


def test_cli_packs_open_offline_in_the_browser(browser, real_store, tmp_path):
    """`wayfinder pack` on the real store; the files open from disk with every request blocked
    except the file itself, draw their maps and network, and raise no script error."""
    from typer.testing import CliRunner

    from api.cli import app

    url, _ = real_store
    from geo.storage.store import open_store

    ep = open_store(url).frame("episodes")
    start, end = ep["reported_at"].min().date(), ep["reported_at"].max().date()
    child = ep["child_key"].value_counts().index[0]
    runner = CliRunner()
    for kind, extra in (("cog", []), ("mase", ["--child", child])):
        out = tmp_path / f"{kind}.html"
        r = runner.invoke(app, ["pack", kind, "--db", url, "--from", str(start), "--to", str(end),
                                "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors, outside = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", lambda rt: rt.continue_() if rt.request.url.startswith(("file:", "data:", "blob:", "about:"))
                   else (outside.append(rt.request.url), rt.abort()))
        page.goto(out.as_uri(), wait_until="load")
        frame = page.frames[1]  # the map (iframe srcdoc)
        frame.wait_for_selector(".leaflet-container", timeout=30000)
        page.wait_for_selector(".net canvas", timeout=30000)  # Cytoscape drew the network
        page.screenshot(path=str(SHOTS / f"pack_{kind}.png"), full_page=True)
        assert errors == [] and outside == [], (errors, outside)
        html = out.read_text()
        assert "minimised for role" in html
        page.close()


def test_pack_pdf_through_headless_chromium(real_store, tmp_path):
    """`--pdf` prints the pack with `chromium --headless --print-to-pdf` (no network)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: apt-get install -y chromium")
    from typer.testing import CliRunner

    from api.cli import app

    url, _ = real_store
    out = tmp_path / "mog.html"
    r = CliRunner().invoke(app, ["pack", "mog", "--db", url, "--from", "2016-01-01", "--to", "2017-12-31",
                                 "--out", str(out), "--pdf"])
    assert r.exit_code == 0, r.output
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20000
