"""`wayfinder analyse`: area hot spots, found-at clusters, premises of concern, trends, Knox.

Loads frames from the store, calls the pure analyses in geo/, writes the contract files
(GeoJSON in WGS84 with the CRS stated, CSV tables) and stores every result with
``store.write_result`` for the API.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

WGS84_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def _write_geojson(gdf, path: Path) -> None:
    """GeoJSON FeatureCollection in WGS84 with the CRS member stated."""
    g = gdf.to_crs(4326)
    for c in g.columns:
        if str(g[c].dtype).startswith("datetime"):
            g[c] = g[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = json.loads(g.to_json(na="null", drop_id=True))
    doc["crs"] = WGS84_CRS
    path.write_text(json.dumps(doc))


def run_analyse(store, out: Path, start=None, end=None, seed: int = 0, permutations: int = 999) -> dict:
    """Run every spatial analysis on the store's frames; write files; store results."""
    import pandas as pd
    from geo.clusters import found_at_clusters
    from geo.hotspots import area_hotspots
    from geo.spacetime import area_trends, emerging_hotspots, knox_test, monthly_series
    from geo.venues import premises_of_concern
    from geo.weights import queen_weights

    out.mkdir(parents=True, exist_ok=True)
    ev = store.frame("place_events")
    areas = store.frame("areas")
    premises = store.frame("premises")
    summary = {}
    postcodes = store.frame("postcodes")
    for level in ("ward", "lsoa"):
        a = areas[areas["level"] == level]
        if a.empty:
            continue
        pop = None
        col = {"ward": "ward_code", "lsoa": "lsoa_code"}[level]
        if col in postcodes and postcodes[col].notna().any():
            # exposure: residential postcodes per area (a population proxy where no child
            # population is loaded)
            pop = postcodes.groupby(col).size()
        hs = area_hotspots(ev, a, population=pop, permutations=permutations, seed=seed, start=start, end=end)
        _write_geojson(hs, out / f"area_hotspots_{level}.geojson")
        store.write_result(f"area_hotspots_{level}", hs, {"seed": seed, "from": start, "to": end})
        summary[f"area_hotspots_{level}"] = len(hs)
    cl = found_at_clusters(ev, premises, start=start, end=end)
    _write_geojson(cl, out / "found_at_clusters.geojson")
    store.write_result("found_at_clusters", cl, {"from": start, "to": end})
    summary["found_at_clusters"] = len(cl)

    def frame(name):
        try:
            return store.frame(name)
        except Exception:  # a frame the store cannot build is simply absent evidence
            return None

    poc = premises_of_concern(premises, ev, geocodes=frame("geocodes"), links=frame("links"),
                              intelligence=frame("intelligence"), children=frame("children"),
                              start=start, end=end)
    poc.to_csv(out / "premises_of_concern.csv", index=False)
    store.write_result("premises_of_concern", poc, {"from": start, "to": end})
    summary["premises_of_concern"] = int(poc["significant"].sum()) if len(poc) else 0
    wards = areas[areas["level"] == "ward"].reset_index(drop=True)
    series = monthly_series(ev, wards, start=start, end=end, level="ward")
    trends = area_trends(series) if len(series) else series.assign(mk_tau=[], mk_p=[])
    eh = pd.DataFrame(columns=["area_code", "category"])
    if len(series) and len(wards):
        w = queen_weights(wards, ids=wards["area_code"].to_numpy(), islands="nearest")
        eh = emerging_hotspots(series, w)
    trends = trends.merge(eh[["area_code", "category"]], on="area_code", how="left")
    trends = trends[["area_code", "month", "episodes", "mk_tau", "mk_p", "category"]]
    trends.to_csv(out / "area_trends.csv", index=False)
    eh.to_csv(out / "emerging_hotspots.csv", index=False)
    store.write_result("area_trends", trends)
    store.write_result("emerging_hotspots", eh)
    kx = knox_test(ev, seed=seed, start=start, end=end)
    (out / "knox.json").write_text(json.dumps(kx, indent=2, default=str))
    store.write_result("knox", pd.DataFrame([kx]))
    summary["knox_p"] = kx["p_value"]
    return summary


def register(app: typer.Typer) -> None:
    """Add ``analyse`` to the ``wayfinder`` Typer app."""

    @app.command("analyse", help="Spatial analyses: ward/LSOA hot spots (Gi*, local Moran, FDR), "
                 "found-at clusters, premises of concern, monthly trends, emerging hot spots and "
                 "the Knox test; writes the contract files into --out and stores the results.")
    def analyse_cmd(
        db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        date_from: Optional[str] = typer.Option(None, "--from", help="first date (inclusive), e.g. 2016-04-01"),
        date_to: Optional[str] = typer.Option(None, "--to", help="last date (exclusive)"),
        seed: int = typer.Option(0, "--seed", help="seed of every permutation test"),
        permutations: int = typer.Option(999, "--permutations", help="conditional permutations"),
    ) -> None:
        from geo.store import open_store
        try:
            import pandas as pd
            start = pd.Timestamp(date_from) if date_from else None
            end = pd.Timestamp(date_to) if date_to else None
            store = open_store(db)
            summary = run_analyse(store, Path(out), start, end, seed, permutations)
        except Exception as exc:  # one-line reason, non-zero exit
            typer.echo(f"wayfinder analyse: {type(exc).__name__}: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(1)
        from api.commands import audit_command
        from api.exports import record_export_dir
        record_export_dir(store.engine, out)        # erasure finds these files again
        audit_command(store, "combination", f"analyse {date_from or '..'}/{date_to or '..'} -> {out}")
        typer.echo(json.dumps(summary, default=str))
