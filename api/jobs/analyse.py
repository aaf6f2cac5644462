"""The analyses step (`wayfinder analyse`, step ``analyses`` of `wayfinder run`): area hot spots, found-at clusters, premises of concern, trends, Knox,
the near-repeat table and the space-time permutation scan.

Loads frames from the store, calls the pure analyses in geo/, writes the contract files
(GeoJSON in WGS84 with the CRS stated, CSV tables) and stores every result with
``store.write_result`` for the API.
"""
from __future__ import annotations

import json
from pathlib import Path

from geo.storage.protocol import StoreLike

from geo import results as R

#: least permutations of the area maps (Gi*, local Moran, EB local Moran, global statistics)
AREA_PERMUTATIONS = 9999

WGS84_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def _write_geojson(gdf, path: Path, members: dict | None = None) -> None:
    """GeoJSON FeatureCollection in WGS84 with the CRS member stated (and foreign
    ``members``)."""
    g = gdf.to_crs(4326)
    for c in g.columns:
        if str(g[c].dtype).startswith("datetime"):
            g[c] = g[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = json.loads(g.to_json(na="null", drop_id=True))
    doc["crs"] = WGS84_CRS
    doc.update(members or {})
    path.write_text(json.dumps(doc, default=str))


def run_area_hotspots(store: StoreLike, ev, areas, out: Path, start, end, seed: int, permutations: int) -> dict:
    """Ward and LSOA hot spots with rates where a child population is loaded (populations.csv,
    ``geo.stats.rates``; no population, no rate) and the global Moran's I and General G of each map:
    ``area_hotspots_{level}.geojson`` (the globals as its foreign member ``autocorrelation``),
    ``area_autocorrelation.json`` and the stored results of the same names."""
    import pandas as pd
    from geo.stats.hotspots import area_hotspots
    from geo.stats.rates import child_population

    populations = store.frames(["populations"], missing_ok=["populations"])["populations"]
    # None: a store from before populations.csv, no population
    summary, glob = {}, []
    # the two-sided pseudo p of R permutations is at least 3 / (R + 1): with 999 and BH over the
    # 40 wards no ward could reach q < 0.05 on its own (3/1000 x 40 = 0.12); area maps are small
    perms = max(permutations, AREA_PERMUTATIONS)
    for level in ("ward", "lsoa"):
        a = areas[areas["level"] == level]
        if a.empty:
            continue
        pop, basis = child_population(populations, a["area_code"].to_numpy())
        hs = area_hotspots(ev, a, population=pop if basis else None, permutations=perms,
                           seed=seed, start=start, end=end)
        auto = [dict(level=level, population=basis or None, **g) for g in hs.attrs.get("autocorrelation", [])]
        glob += auto
        res = R.area_hotspots(level)
        _write_geojson(hs, out / res.file, {"autocorrelation": auto})
        store.write_result(res.name, hs, {"seed": seed, "from": start, "to": end,
                                          "permutations": perms, "population": basis or None})
        summary[res.name] = len(hs)
    (out / R.AREA_AUTOCORRELATION.file).write_text(json.dumps(glob, indent=1, default=str))
    store.write_result(R.AREA_AUTOCORRELATION.name, pd.DataFrame(glob), {"seed": seed, "from": start, "to": end})
    return summary


def ward_exposure(populations, postcodes, ward_codes):
    """``(population per ward, what it counts)`` for emerging hot spots: the child population
    (``geo.stats.rates.child_population``) when it covers every ward, otherwise residential postcodes
    per ward (the exposure proxy; stated in the output's ``basis``)."""
    from geo.stats.rates import child_population
    pop, basis = child_population(populations, ward_codes)
    if basis and pop.notna().all() and (pop > 0).all():
        return pop, "children"
    if postcodes is not None and "ward_code" in postcodes and postcodes["ward_code"].notna().any():
        return postcodes.groupby("ward_code").size(), "residential postcodes"
    return None, "children"


def write_space_time(ev, out: Path, store: StoreLike, kx: dict, *, start=None, end=None, seed: int = 0,
                     permutations: int = 999, children=None, workers: int | None = None) -> dict:
    """Space-time outputs: ``space_time.json`` (Knox, near-repeat table, scan settings) and
    ``space_time_clusters.geojson`` (Kulldorff's space-time permutation scan; ``children``: the
    frame of that name, read by the scan's own-place rule when it is switched on), both stored.
    ``workers``: processes for the near-repeat and scan replicates (``None``: the cores available)."""
    import pandas as pd
    from geo.stats.scan import scan_clusters
    from geo.stats.spacetime import near_repeat

    nr = near_repeat(ev, permutations=permutations, seed=seed, start=start, end=end, workers=workers)
    clusters, scans = scan_clusters(ev, seed=seed, replications=permutations, start=start, end=end,
                                    children=children, workers=workers)
    doc = {"knox": {"observed": kx["statistic"], "expected": kx["expected"], "p_value": kx["p_value"],
                    "space_m": kx["space_m"], "days": kx["time_days"],
                    **{k: v for k, v in kx.items() if k not in ("statistic", "space_m", "time_days", "expected", "p_value")}},
           "near_repeat": nr.to_dict("records"),
           "near_repeat_method": ("Ratcliffe near-repeat calculator: pairs of events of different children per "
                                  "distance x time band; expected and Monte Carlo p from seeded permutations "
                                  "of whole child time-lines; BH q over the table"),
           "scan": scans}
    (out / R.SPACE_TIME.file).write_text(json.dumps(doc, indent=1, default=str))
    _write_geojson(clusters, out / R.SPACE_TIME_CLUSTERS.file)
    store.write_result(R.SPACE_TIME_CLUSTERS.name, clusters, {"seed": seed, "from": start, "to": end})
    store.write_result(R.NEAR_REPEAT.name, nr, {"seed": seed, "from": start, "to": end})
    sig = clusters[clusters["p_value"] < 0.05] if len(clusters) else clusters
    return {"space_time_clusters": int(len(clusters)), "space_time_clusters_p05": int(len(sig))}


def run_analyse(store: StoreLike, out: Path, start=None, end=None, seed: int = 0, permutations: int = 999,
                workers: int | None = None) -> dict:
    """Run every spatial analysis on the store's frames; write files; store results. ``workers``:
    processes for the Monte Carlo replicates of the near-repeat table and the space-time scan
    (``None``: the cores available; the results are the same for any number)."""
    import pandas as pd
    from geo.stats.clusters import found_at_clusters
    from geo.stats.hotspots import filter_events
    from geo.stats.spacetime import area_trends, complete_months, emerging_hotspots, knox_test, monthly_series
    from geo.stats.venues import premises_of_concern
    from geo.stats.weights import queen_weights

    out.mkdir(parents=True, exist_ok=True)
    ev = store.frame("place_events")
    areas = store.frame("areas")
    premises = store.frame("premises")
    summary = {}
    postcodes = store.frame("postcodes")
    summary.update(run_area_hotspots(store, ev, areas, out, start, end, seed, permutations))

    def frame(name):
        try:
            return store.frame(name)
        except Exception:  # a frame the store cannot build is simply absent evidence
            return None

    from geo.places.located import study_postcodes
    background = study_postcodes(postcodes, areas)
    cl = found_at_clusters(ev, premises, start=start, end=end, children=frame("children"), postcodes=background,
                           replications=permutations, seed=seed)
    _write_geojson(cl, out / R.FOUND_AT_CLUSTERS.file)
    store.write_result(R.FOUND_AT_CLUSTERS.name, cl, {"from": start, "to": end, "seed": seed})
    summary[R.FOUND_AT_CLUSTERS.name] = len(cl)
    summary["found_at_clusters_significant"] = int((cl["q_value"] < 0.05).sum()) if len(cl) else 0

    poc = premises_of_concern(premises, ev, geocodes=frame("geocodes"), links=frame("links"), postcodes=background,
                              intelligence=frame("intelligence"), children=frame("children"),
                              start=start, end=end)
    poc.to_csv(out / R.PREMISES_OF_CONCERN.file, index=False)
    store.write_result(R.PREMISES_OF_CONCERN.name, poc, {"from": start, "to": end})
    summary[R.PREMISES_OF_CONCERN.name] = int(poc["significant"].sum()) if len(poc) else 0
    wards = areas[areas["level"] == "ward"].reset_index(drop=True)
    series = monthly_series(ev, wards, start=start, end=end, level="ward")
    series = complete_months(series, start, end, last_at=filter_events(ev, start=start, end=end)["at"].max())
    trends = area_trends(series) if len(series) else series.assign(mk_tau=[], mk_p=[])
    eh = pd.DataFrame(columns=["area_code", "category"])
    if len(series) and len(wards):
        w = queen_weights(wards, ids=wards["area_code"].to_numpy(), islands="nearest")
        pop, per = ward_exposure(frame("populations"), frame("postcodes"), wards["area_code"].to_numpy())
        eh = emerging_hotspots(series, w, population=pop, per=per)
    trends = trends.merge(eh[["area_code", "category"]], on="area_code", how="left")
    trends = trends[list(R.AREA_TRENDS.columns)]
    trends.to_csv(out / R.AREA_TRENDS.file, index=False)
    eh.to_csv(out / R.EMERGING_HOTSPOTS.file, index=False)
    store.write_result(R.AREA_TRENDS.name, trends)
    store.write_result(R.EMERGING_HOTSPOTS.name, eh)
    kx = knox_test(ev, seed=seed, start=start, end=end)
    (out / R.KNOX.file).write_text(json.dumps(kx, indent=2, default=str))
    store.write_result(R.KNOX.name, pd.DataFrame([kx]))
    summary["knox_p"] = kx["p_value"]
    summary.update(write_space_time(ev, out, store, kx, start=start, end=end, seed=seed,
                                    permutations=permutations, children=frame("children"), workers=workers))
    return summary
