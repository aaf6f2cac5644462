"""The analyses step (`wayfinder analyse`, step ``analyses`` of `wayfinder run`): area hot spots, found-at clusters, premises of concern, trends, Knox,
the near-repeat table and the space-time permutation scan.

Loads frames from the store, calls the pure analyses in geo/, writes the contract files
(GeoJSON in WGS84 with the CRS stated, CSV tables) and stores every result with
``store.write_result`` for the API.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from api.jobs.incremental import Inputs

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


class _Frames:
    """The store's frames, each built once for the analyses that read it. ``get(name)`` raises
    when the store cannot build the frame; ``optional(name)`` gives None instead (absent
    evidence)."""

    def __init__(self, store: StoreLike):
        self.store, self._got = store, {}

    def get(self, name: str):
        if name not in self._got:
            self._got[name] = self.store.frame(name)
        return self._got[name]

    def optional(self, name: str):
        try:
            return self.get(name)
        except Exception:  # a frame the store cannot build is simply absent evidence
            return None


def _area_hotspots(store, f: _Frames, out: Path, start, end, seed, permutations, workers=None) -> dict:
    return run_area_hotspots(store, f.get("place_events"), f.get("areas"), out, start, end, seed,
                             permutations)


def _found_at_clusters(store, f: _Frames, out: Path, start, end, seed, permutations, workers=None) -> dict:
    from geo.places.located import study_postcodes
    from geo.stats.clusters import found_at_clusters
    background = study_postcodes(f.get("postcodes"), f.get("areas"))
    cl = found_at_clusters(f.get("place_events"), f.get("premises"), start=start, end=end,
                           children=f.optional("children"), postcodes=background,
                           replications=permutations, seed=seed)
    _write_geojson(cl, out / R.FOUND_AT_CLUSTERS.file)
    store.write_result(R.FOUND_AT_CLUSTERS.name, cl, {"from": start, "to": end, "seed": seed})
    return {R.FOUND_AT_CLUSTERS.name: len(cl),
            "found_at_clusters_significant": int((cl["q_value"] < 0.05).sum()) if len(cl) else 0}


def _premises_of_concern(store, f: _Frames, out: Path, start, end, seed, permutations, workers=None) -> dict:
    from geo.places.located import study_postcodes
    from geo.stats.venues import premises_of_concern
    background = study_postcodes(f.get("postcodes"), f.get("areas"))
    poc = premises_of_concern(f.get("premises"), f.get("place_events"),
                              geocodes=f.optional("geocodes"), links=f.optional("links"),
                              postcodes=background, intelligence=f.optional("intelligence"),
                              children=f.optional("children"), start=start, end=end)
    poc.to_csv(out / R.PREMISES_OF_CONCERN.file, index=False)
    store.write_result(R.PREMISES_OF_CONCERN.name, poc, {"from": start, "to": end})
    return {R.PREMISES_OF_CONCERN.name: int(poc["significant"].sum()) if len(poc) else 0}


def _area_trends(store, f: _Frames, out: Path, start, end, seed, permutations, workers=None) -> dict:
    import pandas as pd
    from geo.stats.hotspots import filter_events
    from geo.stats.spacetime import area_trends, complete_months, emerging_hotspots, monthly_series
    from geo.stats.weights import queen_weights
    ev, areas = f.get("place_events"), f.get("areas")
    wards = areas[areas["level"] == "ward"].reset_index(drop=True)
    series = monthly_series(ev, wards, start=start, end=end, level="ward")
    series = complete_months(series, start, end, last_at=filter_events(ev, start=start, end=end)["at"].max())
    trends = area_trends(series) if len(series) else series.assign(mk_tau=[], mk_p=[])
    eh = pd.DataFrame(columns=["area_code", "category"])
    if len(series) and len(wards):
        w = queen_weights(wards, ids=wards["area_code"].to_numpy(), islands="nearest")
        pop, per = ward_exposure(f.optional("populations"), f.optional("postcodes"),
                                 wards["area_code"].to_numpy())
        eh = emerging_hotspots(series, w, population=pop, per=per)
    trends = trends.merge(eh[["area_code", "category"]], on="area_code", how="left")
    trends = trends[list(R.AREA_TRENDS.columns)]
    trends.to_csv(out / R.AREA_TRENDS.file, index=False)
    eh.to_csv(out / R.EMERGING_HOTSPOTS.file, index=False)
    store.write_result(R.AREA_TRENDS.name, trends)
    store.write_result(R.EMERGING_HOTSPOTS.name, eh)
    return {}


def _space_time(store, f: _Frames, out: Path, start, end, seed, permutations, workers=None) -> dict:
    import pandas as pd
    from geo.stats.spacetime import knox_test
    ev = f.get("place_events")
    kx = knox_test(ev, seed=seed, start=start, end=end)
    (out / R.KNOX.file).write_text(json.dumps(kx, indent=2, default=str))
    store.write_result(R.KNOX.name, pd.DataFrame([kx]))
    summary = {"knox_p": kx["p_value"]}
    summary.update(write_space_time(ev, out, store, kx, start=start, end=end, seed=seed,
                                    permutations=permutations, children=f.optional("children"),
                                    workers=workers))
    return summary


@dataclass(frozen=True)
class Analysis:
    """One analysis of the step: what it reads (``api.jobs.incremental.Inputs``), the results
    it writes and the function that runs it."""
    name: str
    inputs: Inputs
    results: tuple
    run: Callable


_PERIOD = ("from", "to")
#: the analyses in the order they run; an incremental run reruns only those whose inputs changed
ANALYSES: tuple[Analysis, ...] = (
    Analysis("area_hotspots", Inputs(frames=("place_events", "areas", "populations"),
                                     params=(*_PERIOD, "seed", "permutations")),
             (R.AREA_HOTSPOTS_WARD, R.AREA_HOTSPOTS_LSOA, R.AREA_AUTOCORRELATION), _area_hotspots),
    Analysis("found_at_clusters", Inputs(frames=("place_events", "premises", "children",
                                                 "postcodes", "areas"),
                                         params=(*_PERIOD, "seed", "permutations")),
             (R.FOUND_AT_CLUSTERS,), _found_at_clusters),
    Analysis("premises_of_concern", Inputs(frames=("premises", "place_events", "geocodes", "links",
                                                   "postcodes", "areas", "intelligence",
                                                   "children"), params=_PERIOD),
             (R.PREMISES_OF_CONCERN,), _premises_of_concern),
    Analysis("area_trends", Inputs(frames=("place_events", "areas", "populations", "postcodes"),
                                   params=_PERIOD),
             (R.AREA_TRENDS, R.EMERGING_HOTSPOTS), _area_trends),
    Analysis("space_time", Inputs(frames=("place_events", "children"),
                                  params=(*_PERIOD, "seed", "permutations")),
             (R.KNOX, R.SPACE_TIME, R.NEAR_REPEAT, R.SPACE_TIME_CLUSTERS), _space_time),
)


def analysis_files(a: Analysis) -> tuple[str, ...]:
    """The files an analysis must leave in the output DIR (optional ones, e.g. the LSOA map
    of a store without LSOAs, excepted)."""
    return tuple(r.file for r in a.results if r.file and not r.optional)


def run_analyses(store: StoreLike, out: Path, start=None, end=None, seed: int = 0,
                 permutations: int = 999, names=None, workers: int | None = None) -> dict[str, dict]:
    """Run the analyses named (default: all) in their order; ``{name: summary}``. ``workers``:
    processes for the Monte Carlo replicates of the near-repeat table and the space-time scan
    (``None``: the cores available; the results are the same for any number)."""
    out.mkdir(parents=True, exist_ok=True)
    frames = _Frames(store)
    return {a.name: a.run(store, frames, out, start, end, seed, permutations, workers) or {}
            for a in ANALYSES if names is None or a.name in names}


def run_analyse(store: StoreLike, out: Path, start=None, end=None, seed: int = 0, permutations: int = 999,
                workers: int | None = None) -> dict:
    """Run every spatial analysis on the store's frames; write files; store results."""
    summary = {}
    for part in run_analyses(store, out, start, end, seed, permutations, workers=workers).values():
        summary.update(part)
    return summary
