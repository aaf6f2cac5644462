"""The web page's offline base layer: names a chair can find their way by, from open data bundled
with the project (no tile server, no network).

* ward names, at a point inside each ward (ONS ward boundaries 2013, OGL v3);
* the curated major places of ``data/places/birmingham_places.csv`` (stations, shopping
  centres, parks, areas ...) at the Code-Point Open 2014 centroid of their postcode (OGL v3).

Served as one GeoJSON FeatureCollection (``kind`` = ``ward`` or the place's kind, ``name``) by
:mod:`maps.web` at ``/static/base/labels.geojson``.
"""
from __future__ import annotations

import json
from functools import lru_cache

import geopandas as gpd
import pandas as pd
import shapely

from maps.layers import REFERENCE_DIR

WARDS = REFERENCE_DIR / "birmingham_wards_2013.geojson"
CODEPOINT = REFERENCE_DIR.parent / "gazetteer" / "codepoint_open_2014_b.csv"


def ward_labels() -> gpd.GeoDataFrame:
    """``name, kind="ward", geometry`` (WGS84): each ward's name at a point inside it."""
    wards = gpd.read_file(WARDS)
    name = next(c for c in ("WD13NM", "name", "area_name") if c in wards.columns)
    bng = wards.to_crs(27700)
    pts = gpd.GeoSeries(shapely.point_on_surface(bng.geometry.to_numpy()), crs=27700).to_crs(4326)
    return gpd.GeoDataFrame({"name": wards[name].astype(str), "kind": "ward"}, geometry=pts.values,
                            crs=4326)


def place_labels() -> gpd.GeoDataFrame:
    """``name, kind, geometry`` (WGS84) of the curated places whose postcode is in Code-Point."""
    from geo.places.gazetteer import CURATED_PLACES
    from geo.places.postcodes import normalise_postcodes, read_codepoint

    places = pd.read_csv(CURATED_PLACES, dtype=str, keep_default_na=False)
    pc = read_codepoint(CODEPOINT).dropna(subset=["easting", "northing"])
    xy = pc.drop_duplicates("postcode").set_index("postcode")[["easting", "northing"]]
    places["postcode"] = normalise_postcodes(places["postcode"])
    places = places.join(xy, on="postcode").dropna(subset=["easting", "northing"])
    pts = gpd.GeoSeries(shapely.points(places["easting"].astype(float), places["northing"].astype(float)),
                        crs=27700).to_crs(4326)
    return gpd.GeoDataFrame({"name": places["name"].to_numpy(), "kind": places["kind"].to_numpy()},
                            geometry=pts.values, crs=4326)


@lru_cache(maxsize=1)
def labels_geojson() -> str:
    """Ward and place labels as one GeoJSON text (built once per process)."""
    frames = [ward_labels(), place_labels()]
    both = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)
    both["geometry"] = shapely.set_precision(both.geometry.to_numpy(), 1e-5)
    return json.dumps(json.loads(both.to_json(drop_id=True)), separators=(",", ":"))
