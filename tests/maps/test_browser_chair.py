"""The page as a chair first sees it (a MOG member, Chromium via Playwright, real app over a real
store): only the flagged premises and the ward hot spots are drawn, significant-only clusters are
not offered as on when the clusters carry no test, an offline base layer with ward and place
names is drawn, every drawn layer has a legend entry, the scale bar is clear of the attribution,
popups read as words (no raw field names, rounded numbers, UK dates), the favicon is served.
Screenshots are kept in $WAYFINDER_SHOTS (default /tmp/wayfinder-shots)."""
import re

import pytest
import requests

from _server import Server, add_user, make_app
from test_browser import SHOTS, Guard, browser, sign_in, wait_js  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
RAW = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


@pytest.fixture(scope="module")
def chair_server(real_store):
    url, _ = real_store
    app = make_app(url)
    add_user(app, "chair1", "mog_member", "chair password 1")
    add_user(app, "analyst2", "analyst", "analyst password 2")
    with Server(app) as s:
        yield s


def _token(base, user, pw):
    r = requests.post(base + "/auth/token", data={"username": user, "password": pw})
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_default_view_a_chair_can_read(browser, chair_server):  # noqa: F811
    base = chair_server.url
    h = _token(base, "chair1", "chair password 1")
    poc = requests.get(base + "/collections/premises_of_concern/items?limit=10000", headers=h).json()
    flagged = [f for f in poc["features"] if f["properties"].get("q_value") is not None
               and float(f["properties"]["q_value"]) < 0.05]
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    guard = Guard(page)
    sign_in(page, base, "chair1", "chair password 1")
    wait_js(page, "document.body.dataset.loaded_hotspots_ward !== undefined", 45)
    wait_js(page, "document.body.dataset.loaded_premises_of_concern !== undefined", 45)
    # defaults: ward hot spots and the flagged premises only
    assert int(page.get_attribute("body", "data-loaded_premises_of_concern")) == len(flagged)
    assert int(page.get_attribute("body", "data-total_premises_of_concern")) == len(poc["features"])
    on = page.evaluate("Object.keys(WFApp.layers).sort()")
    assert on == ["hotspots_ward", "premises_of_concern"], on
    for off in ("found_at", "co_missing_lines", "premises", "heat_grid"):
        if page.query_selector(f"#layer-{off}"):
            assert not page.is_checked(f"#layer-{off}"), off
    # an empty layer is not offered as if it held something
    for c in requests.get(base + "/collections", headers=h).json()["collections"]:
        if c["numberOfFeatures"] == 0:
            assert page.is_disabled(f"#layer-{c['id']}"), c["id"]
    # the offline base layer: ward names drawn at city zoom, places when zoomed in
    wait_js(page, "+document.body.dataset.baseLabels > 0", 20)
    wards = page.evaluate("document.querySelectorAll('.wf-label.ward').length")
    assert wards >= 10
    # a legend for every drawn layer; the scale bar visible and clear of the attribution
    legend = page.inner_text("#wf-legend")
    assert "Premises of concern" in legend and "Gi*" in legend and "ward boundary" in legend
    boxes = page.evaluate("""() => ['.leaflet-control-scale', '.leaflet-control-attribution', '#map']
        .map(s => { const r = document.querySelector(s).getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom]; })""")
    scale, attribution, mapbox = boxes
    assert scale[2] - scale[0] > 20 and mapbox[0] <= scale[0] and scale[3] <= mapbox[3]
    assert scale[2] <= attribution[0] or scale[3] <= attribution[1], (scale, attribution)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web_chair_default.png"))
    # popups in words: a ward and (when any is flagged) a premises
    texts = []
    for layer in ("hotspots_ward", "premises_of_concern"):
        page.evaluate("WFApp.map.closePopup()")
        opened = page.evaluate(f"""() => {{ let done = false;
            WFApp.layers['{layer}'].eachLayer(l => {{ if (!done && l.openPopup) {{ l.openPopup(); done = true; }} }});
            return done; }}""")
        if not opened:
            continue
        popup = page.wait_for_selector(f".wf-popup[data-collection='{layer}']", timeout=10000)
        texts.append(popup.inner_text())
        page.wait_for_timeout(400)                      # the popup's fade-in
        page.screenshot(path=str(SHOTS / f"web_chair_popup_{layer}.png"))
    assert texts
    for t in texts:
        assert not RAW.findall(t), RAW.findall(t)
        assert not re.search(r"\d+\.\d{4,}", t), t             # rounded numbers
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", t), t      # UK dates, not ISO stamps
    if flagged:
        assert "q-value (FDR)" in texts[-1]
        # issue 15: the explanation spells out counts, so beside a banded count ("<5") it is
        # withheld from minimised views with the other fields that would give the count back
        assert ("Why it is listed" in texts[-1]) == ("<5" not in texts[-1]), texts[-1]
    # zoomed in, the major places are named too
    page.evaluate("WFApp.map.setView([52.4778, -1.8990], 14, {animate: false})")
    wait_js(page, "document.querySelectorAll('.wf-label.place').length > 0", 10)
    page.screenshot(path=str(SHOTS / "web_chair_centre.png"))
    assert requests.get(base + "/favicon.ico").status_code == 200
    assert guard.outside == [], guard.outside
    assert errors == [], errors
    page.close()


def test_flagged_only_can_be_turned_off(browser, chair_server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    Guard(page)
    sign_in(page, chair_server.url, "analyst2", "analyst password 2")
    wait_js(page, "document.body.dataset.loaded_premises_of_concern !== undefined", 45)
    shown = int(page.get_attribute("body", "data-loaded_premises_of_concern"))
    total = int(page.get_attribute("body", "data-total_premises_of_concern"))
    page.evaluate("delete document.body.dataset.loaded_premises_of_concern")
    page.uncheck("#flagged-only")
    wait_js(page, "document.body.dataset.loaded_premises_of_concern !== undefined", 45)
    assert int(page.get_attribute("body", "data-loaded_premises_of_concern")) == total >= shown
    page.close()


def _synthetic_network(n_nodes=200, seed=3):
    """A 200-node link chart as /network/ego returns it (kinds, relations, intelligence)."""
    import random
    rnd = random.Random(seed)
    kinds = ["child"] * 60 + ["person"] * 60 + ["place"] * 50 + ["premises"] * 20 + ["vehicle"] * 10
    nodes = [{"data": {"id": "n0", "label": "Ego child", "kind": "child"}}]
    nodes += [{"data": {"id": f"n{i}", "label": f"{kinds[i % len(kinds)].title()} {i} with a long name",
                        "kind": kinds[i % len(kinds)]}} for i in range(1, n_nodes)]
    edges = []
    for i in range(1, n_nodes):
        j = 0 if i < 25 else rnd.randrange(0, i)
        edges.append({"data": {"id": f"e{i}", "source": f"n{j}", "target": f"n{i}",
                               "relation": rnd.choice(["associate", "found_at", "went_to"]),
                               "intelligence": i % 7 == 0}})
    for k in range(60):
        a, b = rnd.randrange(n_nodes), rnd.randrange(n_nodes)
        if a != b:
            edges.append({"data": {"id": f"x{k}", "source": f"n{a}", "target": f"n{b}",
                                   "relation": "seen_with", "intelligence": False}})
    return {"elements": {"nodes": nodes, "edges": edges}}


def test_network_view_of_200_nodes_is_legible(browser, chair_server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    Guard(page)
    sign_in(page, chair_server.url, "analyst2", "analyst password 2")
    wait_js(page, "document.body.dataset.loaded_hotspots_ward !== undefined", 45)
    assert page.evaluate("typeof cytoscapeFcose !== 'undefined'")        # the vendored layout
    data = _synthetic_network()
    page.evaluate("d => WFApp.drawNetwork(d, 'n0')", data)
    wait_js(page, "window.wfCy && window.wfCy.nodes().length > 0", 30)
    shown = page.evaluate("wfCy.nodes().length")
    cap = page.evaluate("wfCy.nodes('[kind = \"more\"]').map(n => n.data('label'))")
    assert shown <= 120 and cap == [f"{200 - (shown - 1)} more"], (shown, cap)
    assert page.evaluate("wfCy.getElementById('n0').length") == 1           # the ego is kept
    # labels in the default state: a few key nodes, none overlapping
    boxes = page.evaluate("""() => wfCy.nodes('.key, [kind = "more"]').map(n => {
        const b = n.boundingBox({includeNodes: false, includeEdges: false, includeLabels: true});
        return [b.x1, b.y1, b.x2, b.y2]; })""")
    assert 3 <= len(boxes) <= 13
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (a, b)
    labelled = page.evaluate("wfCy.nodes().filter(n => n.style('label') !== '').length")
    assert labelled == len(boxes)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web_network_200.png"))
    # filter by kind: places off
    page.uncheck("#network-filters input[data-kind='place']")
    hidden = page.evaluate("wfCy.nodes('[kind = \"place\"]').filter(n => n.style('display') === 'none').length")
    assert hidden == page.evaluate("wfCy.nodes('[kind = \"place\"]').length") > 0
    # hover shows a name
    page.evaluate("wfCy.nodes('[kind = \"premises\"]')[0].emit('mouseover')")
    assert page.evaluate("wfCy.nodes('.hover').length") == 1
    assert errors == [], errors
    page.close()
