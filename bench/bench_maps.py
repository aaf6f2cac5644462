"""Benchmark: time to an interactive map in headless Chromium.

Wayfinder's found-at layer (one canvas for all points, grid hit-testing; maps.layers.PointsCanvas)
with 100,000 points, side by side with folium's default of one ``folium.Marker`` per point on
10,000 points (folium issues #416, #1399). Both pages are standalone files with the same vendored
Leaflet inlined (folium's CDN links replaced by maps.assets.offline_html), opened from disk with
the network off, so only rendering differs.

"Interactive" = from the start of navigation until a click on a point has opened its popup: the
page is loaded, the map drawn, and it answers the user. Each page is opened ``--repeat`` times in
a fresh browser page; the median is reported.

    .venv/bin/python bench/bench_maps.py [--points 100000] [--markers 10000] [--repeat 3] [--out bench/RESULTS_maps.md]

Needs Playwright for Python and /usr/bin/chromium (apt-get install -y chromium).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import folium
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maps import assets, layers  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def synthetic_found_at(n: int, seed: int = 1) -> pd.DataFrame:
    """n synthetic found-at events in Birmingham (EPSG:27700): around ward centroids and 5 hot spots."""
    rng = np.random.default_rng(seed)
    wards = layers.load_boundaries("ward").to_crs(27700)
    c = wards.geometry.centroid
    w = rng.integers(0, len(wards), n)
    e = c.x.to_numpy()[w] + rng.normal(0, 600, n)
    nn = c.y.to_numpy()[w] + rng.normal(0, 600, n)
    hot = rng.choice(len(wards), 5, replace=False)
    k = n // 3
    h = hot[rng.integers(0, 5, k)]
    e[:k] = c.x.to_numpy()[h] + rng.normal(0, 150, k)
    nn[:k] = c.y.to_numpy()[h] + rng.normal(0, 150, k)
    at = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")
    return pd.DataFrame({"person_id": [f"P{i:06d}" for i in rng.integers(0, n // 5 + 1, n)],
                         "kind": "found_at", "at": at, "text": "synthetic place", "easting": e, "northing": nn,
                         "precision": "postcode"})


def wayfinder_page(ev: pd.DataFrame) -> str:
    m = layers.base_map()
    layers.found_at_layer(ev).add_to(m)
    layers.finish(m)
    return layers.map_html(m)


def folium_markers_page(ev: pd.DataFrame) -> str:
    """folium's default: one Marker (with a popup) per point, as in folium's docs."""
    ev = layers.with_latlon(ev)
    m = folium.Map(location=layers.BIRMINGHAM, zoom_start=11, tiles=None)
    for lat, lon, t in zip(ev["lat"], ev["lon"], ev["text"]):
        folium.Marker([lat, lon], popup=t).add_to(m)
    return assets.offline_html(m.get_root().render())


CLICK_JS = """() => {
  // a container point where a point is drawn: the first point inside the view
  const m = Object.values(window).find(v => v instanceof L.Map);
  let ll = null;
  m.eachLayer(l => { if (!ll && l instanceof L.Marker) ll = l.getLatLng(); });
  if (!ll) {
    m.eachLayer(l => { if (!ll && l._lat && l._lat.length) {
      for (let i = 0; i < l._lat.length; i++) {
        const q = L.latLng(l._lat[i], l._lng[i]);
        if (m.getBounds().contains(q)) { ll = q; break; }
      } } });
  }
  const p = m.latLngToContainerPoint(ll);
  const r = m.getContainer().getBoundingClientRect();
  return {x: r.left + p.x, y: r.top + p.y};
}"""


def time_to_interactive(browser, path: Path, timeout_s: float = 120.0, pan: bool = True) -> dict:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    outside = []
    page.route("**/*", lambda r: (r.continue_() if r.request.url.startswith(("file:", "data:", "blob:", "about:"))
                                  else (outside.append(r.request.url), r.abort())))
    t0 = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=timeout_s * 1000)
    t_load = time.perf_counter() - t0
    pt = page.evaluate(CLICK_JS)
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_selector(".leaflet-popup-content", timeout=timeout_s * 1000)
    t_int = time.perf_counter() - t0
    # a pan afterwards: how long the map takes to answer a drag of 200 px (first run only: with
    # 10k DOM markers it takes a minute)
    if not pan:
        page.close()
        assert not outside, outside
        return {"load": t_load, "interactive": t_int, "pan": float("nan")}
    t1 = time.perf_counter()
    page.mouse.move(600, 400)
    page.mouse.down()
    page.mouse.move(400, 300, steps=5)
    page.mouse.up()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    t_pan = time.perf_counter() - t1
    page.close()
    assert not outside, outside
    return {"load": t_load, "interactive": t_int, "pan": t_pan}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--markers", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write the results table (markdown) here")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-maps-"))
    cases = []
    for label, n, build in (("Wayfinder canvas layer", a.points, wayfinder_page),
                            ("Wayfinder canvas layer", a.markers, wayfinder_page),
                            ("folium default, one Marker per point", a.markers, folium_markers_page)):
        ev = synthetic_found_at(n)
        t = time.perf_counter()
        html = build(ev)
        t_build = time.perf_counter() - t
        f = tmp / f"{label.split()[0].lower()}_{n}.html"
        f.write_text(html, encoding="utf-8")
        cases.append((label, n, f, t_build, len(html.encode())))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for label, n, f, t_build, size in cases:
            runs = [time_to_interactive(browser, f, pan=(i == 0)) for i in range(a.repeat)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("load", "interactive")}
            med["pan"] = runs[0]["pan"]
            rows.append((label, n, t_build, size, med, [r["interactive"] for r in runs]))
            print(f"{label:40s} {n:>7,d} pts  build {t_build:5.2f}s  {size / 1e6:6.2f} MB  load {med['load']:.2f}s"
                  f"  interactive {med['interactive']:.2f}s  pan {med['pan']:.3f}s", flush=True)
        browser.close()
    wf100 = rows[0][4]["interactive"]
    wf10 = rows[1][4]["interactive"]
    fol10 = rows[2][4]["interactive"]
    lines = [
        "# Maps benchmark: time to an interactive map in headless Chromium",
        "",
        f"Command: `.venv/bin/python bench/bench_maps.py --points {a.points} --markers {a.markers} --repeat {a.repeat}`",
        f"Machine: {os.cpu_count()} cores, {_mem_gb()} GB RAM, {platform.platform()}, shared with 8 engineers "
        "(noisy); Chromium headless (Debian package), Playwright for Python; pages opened from disk, network blocked.",
        f"Run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; median of {a.repeat}.",
        "",
        "| page | points | build HTML (s) | HTML size (MB) | load event (s) | interactive: click opens popup (s) | pan 200 px, first run (s) | runs (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, n, t_build, size, med, runs in rows:
        lines.append(f"| {label} | {n:,} | {t_build:.2f} | {size / 1e6:.2f} | {med['load']:.2f} | "
                     f"{med['interactive']:.2f} | {med['pan']:.3f} | {', '.join(f'{r:.2f}' for r in runs)} |")
    lines += [
        "",
        f"- Target: 100k found-at points interactive within 3 s: **{wf100:.2f} s** "
        f"({'met' if wf100 <= 3 else 'NOT met'}).",
        f"- folium default (10k Markers) / Wayfinder (100k points): **{fol10 / wf100:.1f}x** slower with a tenth "
        f"of the points; like for like on 10k points: **{fol10 / wf10:.1f}x**.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text, encoding="utf-8")
    return 0


def _mem_gb() -> str:
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        return f"{kb / 1024 / 1024:.0f}"
    except OSError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
