"""Geocoding throughput: postcode-only texts and mixed messy texts, against the full postcode
area B gazetteer (41,276 Code-Point units, 40 wards, 639 LSOAs) plus 1,500 premises, one process;
side by side with a naive baseline (rapidfuzz ``process.extractOne`` per text over every
gazetteer name) in the same run.

Run: ``.venv/bin/python bench/bench_geocode.py [--mixed 50000] [--postcodes 200000]``
Targets (issue 3): postcode-only >= 100k texts/s; mixed >= 5k texts/s.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geo.places.gazetteer import Gazetteer, normalise_text
from geo.places.geocode import geocode
from geo.places.postcodes import read_codepoint
from geo.scenario.locations import Catalogue
from geo.scenario.reference import load_reference

REF = Path(__file__).resolve().parents[1] / "data" / "reference"


def build(n_premises: int = 1500):
    pcs = read_codepoint(REF / "gazetteer" / "codepoint_open_2014_b.csv")
    w = gpd.read_file(REF / "boundaries" / "birmingham_wards_2013.geojson").to_crs(27700)
    ls = gpd.read_file(REF / "boundaries" / "birmingham_lsoa_2011.geojson").to_crs(27700)
    areas = pd.concat([
        gpd.GeoDataFrame({"area_code": w.WD13CD, "area_name": w.WD13NM, "level": "ward"}, geometry=w.geometry),
        gpd.GeoDataFrame({"area_code": ls.LSOA11CD, "area_name": ls.LSOA11NM, "level": "lsoa"}, geometry=ls.geometry),
    ], ignore_index=True)
    ref = load_reference()
    prem = ref.premises.copy()
    rng = np.random.default_rng(0)
    if len(prem) < n_premises:  # pad with branches of real names at other real postcodes
        extra = prem.sample(n_premises - len(prem), replace=True, random_state=0).copy()
        extra["premises_id"] = [f"BENCH/{i:05d}" for i in range(len(extra))]
        extra["postcode"] = ref.postcodes["postcode"].sample(len(extra), replace=True, random_state=1).to_numpy()
        extra[["easting", "northing", "latitude", "longitude"]] = np.nan
        extra["name"] = extra["name"] + " " + pd.Series(rng.choice(["Express", "Two", "Central", "North"], len(extra)), index=extra.index)
        prem = pd.concat([prem, extra], ignore_index=True)
    t = time.perf_counter()
    gaz = Gazetteer.build(pcs, areas, prem.iloc[:n_premises], None, curated=True)
    return gaz, pcs, ref, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postcodes", type=int, default=200_000)
    ap.add_argument("--mixed", type=int, default=50_000)
    ap.add_argument("--naive", type=int, default=2_000)
    a = ap.parse_args()
    gaz, pcs, ref, t_build = build()
    rng = np.random.default_rng(1)

    pc = pcs["postcode"].sample(a.postcodes, replace=True, random_state=2).reset_index(drop=True)
    style = rng.integers(0, 3, len(pc))
    texts = np.where(style == 0, pc.str.lower(), np.where(style == 1, pc.str.replace(" ", ""), pc.str.replace(" ", "  ")))
    t = time.perf_counter()
    out = geocode(pd.Series(texts), gaz)
    t_pc = time.perf_counter() - t
    assert (out["precision"] == "postcode").all()

    cat = Catalogue(ref, np.random.default_rng(3)).table
    mixed = cat["text"].sample(a.mixed, replace=False, random_state=4).reset_index(drop=True)
    t = time.perf_counter()
    out = geocode(mixed, gaz)
    t_mixed = time.perf_counter() - t
    resolved = (out["precision"] != "none").mean()

    names = gaz.names.names
    choices = normalise_text(names["name"]).tolist()
    sub = normalise_text(mixed.iloc[: a.naive]).tolist()
    t = time.perf_counter()
    for s in sub:
        process.extractOne(s, choices, scorer=fuzz.WRatio)
    t_naive = time.perf_counter() - t

    rate_pc, rate_mixed, rate_naive = a.postcodes / t_pc, a.mixed / t_mixed, a.naive / t_naive
    print(f"gazetteer build: {t_build:.2f} s ({len(gaz.postcodes)} postcodes, {names['entity_id'].nunique()} named entities, "
          f"{len(names)} names incl. aliases)")
    print(f"postcode-only: {a.postcodes} texts in {t_pc:.2f} s = {rate_pc:,.0f} texts/s (target 100,000)")
    print(f"mixed messy:   {a.mixed} texts in {t_mixed:.2f} s = {rate_mixed:,.0f} texts/s (target 5,000); "
          f"{resolved:.1%} resolved")
    print(f"naive extractOne baseline: {a.naive} texts in {t_naive:.2f} s = {rate_naive:,.0f} texts/s")
    print(f"ratio mixed / naive: {rate_mixed / rate_naive:.1f}x")


if __name__ == "__main__":
    main()
