"""Offline geocoding (geo.places.gazetteer, geo.places.geocode): accuracy on generated truth, real premises,
honest precision, overrides, and a second city built from the same formats."""
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.places.gazetteer import Gazetteer, to_bng
from geo.places.geocode import GEOCODE_COLUMNS, PRECISIONS, geocode
from geo.places.postcodes import read_codepoint

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "data" / "reference"
RANK = {p: i for i, p in enumerate(PRECISIONS)}


def _areas() -> gpd.GeoDataFrame:
    w = gpd.read_file(REF / "boundaries" / "birmingham_wards_2013.geojson").to_crs(27700)
    ls = gpd.read_file(REF / "boundaries" / "birmingham_lsoa_2011.geojson").to_crs(27700)
    return pd.concat([
        gpd.GeoDataFrame({"area_code": w.WD13CD, "area_name": w.WD13NM, "level": "ward"}, geometry=w.geometry),
        gpd.GeoDataFrame({"area_code": ls.LSOA11CD, "area_name": ls.LSOA11NM, "level": "lsoa"}, geometry=ls.geometry),
    ], ignore_index=True)


@pytest.fixture(scope="module")
def codepoint():
    return read_codepoint(REF / "gazetteer" / "codepoint_open_2014_b.csv")


@pytest.fixture(scope="module")
def areas():
    return _areas()


@pytest.fixture(scope="module")
def fhrs():
    f = pd.read_csv(REF / "premises" / "fhrs_birmingham_new_2025-11_to_2026-08.csv", dtype=str)
    addr = f[["AddressLine1", "AddressLine2", "AddressLine3"]].fillna("").agg(", ".join, axis=1)
    return pd.DataFrame({
        "premises_id": f["FHRSID"], "name": f["BusinessName"].str.strip(), "premises_type": "restaurant",
        "address": addr.str.replace(r"(, )+", ", ", regex=True).str.strip(", "), "postcode": f["PostCode"],
        "latitude": pd.to_numeric(f["Latitude"]), "longitude": pd.to_numeric(f["Longitude"]),
    })


@pytest.fixture(scope="module")
def bham(codepoint, areas, fhrs):
    return Gazetteer.build(codepoint, areas, fhrs, None, curated=True)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from geo.scenario.generator import generate
    out = tmp_path_factory.mktemp("drop")
    truth = generate(out, seed=7, scale="sample")
    return out, truth


def test_generated_texts_meet_the_done_when_checks(scenario, codepoint, areas):
    drop, truth = scenario
    premises = pd.read_csv(drop / "premises.csv", dtype=str)
    places = pd.read_csv(drop / "places.csv", dtype=str)
    gaz = Gazetteer.build(codepoint, areas, premises, places, curated=True)
    loc = pd.DataFrame(truth["locations"])
    assert len(loc) > 100 and loc["resolvable"].sum() > 50 and (~loc["resolvable"]).sum() > 5
    out = geocode(loc["text"], gaz)
    res = loc["resolvable"].to_numpy(bool)
    d = np.hypot(out["easting"] - loc["easting"], out["northing"] - loc["northing"]).to_numpy()
    ok = np.where(loc["precision"] == "area", out["ward_code"].to_numpy() == loc["ward_code"].to_numpy(), d <= 100)
    assert ok[res].mean() >= 0.97, out[res & ~ok]
    better = out["precision"].map(RANK).to_numpy() < loc["precision"].map(RANK).to_numpy()
    assert not better.any(), out[better]
    assert (out.loc[~res, "precision"] == "none").mean() >= 0.95


def test_fhrs_premises_resolve_by_name_and_postcode_within_50m(bham, fhrs):
    p = fhrs.dropna(subset=["latitude", "postcode"])
    # A name shared by premises at one postcode cannot tell them apart: compare the nearest.
    texts = p["name"] + ", " + p["postcode"]
    out = geocode(texts, bham)
    e, n = to_bng(p["latitude"].to_numpy(), p["longitude"].to_numpy())
    d = np.hypot(out["easting"].to_numpy() - e, out["northing"].to_numpy() - n)
    assert (out["precision"] == "premises").mean() >= 0.97
    assert (d <= 50).mean() >= 0.97, out[d > 50]


@pytest.mark.parametrize("text, precision", [
    ("ibis Birmingham New Street", "premises"),
    ("outside the ibis new st", "premises"),
    ("Cannon Hill Park", "premises"),
    ("canon hill pk", "premises"),
    ("the bullring", "premises"),
    ("New St station", "premises"),
    ("12 Victoria Road, Aston, B6 6HE", "postcode"),
    ("12 Victoria Road, Aston, B6 9ZZ", "area"),  # unknown postcode: its sector at best
    ("b74ps", "postcode"),
    ("B1 IBA", "postcode"),  # letter I for the sector digit, corrected only because B1 1BA exists
    ("Broad St", "street"),
    ("a friend's house in Aston", "area"),
    ("somewhere in Moseley", "area"),
    ("park in Sutton Four Oaks", "area"),
    ("B7", "area"),
    ("not known", "none"),
    ("with friends", "none"),
    ("", "none"),
    (None, "none"),
])
def test_precision_is_never_better_than_the_evidence(bham, text, precision):
    got = geocode([text], bham).iloc[0]
    assert got["precision"] == precision, got.to_dict()
    if precision == "none":
        assert np.isnan(got["easting"]) and np.isnan(got["latitude"]) and got["confidence"] == 0
    else:
        assert 0 < got["confidence"] <= 1 and got["ward_code"] is not None
        assert 52.3 < got["latitude"] < 52.7 and -2.1 < got["longitude"] < -1.6


def test_area_text_lands_in_its_ward(bham, areas):
    out = geocode(["a friend's house in Aston", "kings heath", "somewhere in Ladywood"], bham)
    names = areas[areas["level"] == "ward"].set_index("area_code")["area_name"]
    assert names[out["ward_code"]].tolist() == ["Aston", "Moseley and Kings Heath", "Ladywood"]
    assert out["lsoa_code"].str.startswith("E01").all()


def test_postcode_disambiguates_same_named_premises(codepoint, areas):
    premises = pd.DataFrame({
        "premises_id": ["A", "B"], "name": ["Dixy Chicken", "Dixy Chicken"], "premises_type": "takeaway",
        "address": ["1 Soho Road", "2 Coventry Road"], "postcode": ["B21 9DP", "B10 0RX"]})
    gaz = Gazetteer.build(codepoint, areas, premises, None, curated=False)
    out = geocode(["Dixy Chicken B10 0RX", "dixy chicken soho road", "dixy chicken"], gaz)
    assert out["match_id"].tolist()[:2] == ["premises:B", "premises:A"]
    assert out["precision"].tolist() == ["premises", "premises", "none"]  # no way to tell which


def test_output_keeps_input_order_and_index_and_deduplicates(bham):
    s = pd.Series(["B7 4PS", "not known", "b74ps", "B7 4PS"], index=[10, 11, 12, 13])
    out = geocode(s, bham)
    assert list(out.columns) == GEOCODE_COLUMNS
    assert out.index.tolist() == [10, 11, 12, 13] and out["text"].tolist() == s.tolist()
    assert out.loc[10, "easting"] == out.loc[12, "easting"] == out.loc[13, "easting"]


def test_analyst_override_is_reused_for_the_same_text(bham):
    ov = pd.DataFrame({"text": ["Nans house"], "easting": [407000.0], "northing": [287000.0],
                       "precision": ["address"], "match_id": [None]})
    out = geocode(["nans  HOUSE", "nan's house in Aston"], bham, overrides=ov)
    assert out.iloc[0][["easting", "precision", "method"]].tolist() == [407000.0, "address", "override"]
    assert out.iloc[1]["method"] != "override"


def test_works_unchanged_for_another_city(tmp_path):
    """A made-up city in Code-Point format (no header) and ward boundaries as GeoJSON."""
    rng = np.random.default_rng(0)
    rows = []
    for i, (x0, ward) in enumerate([(300_000, "X05000001"), (302_000, "X05000002")]):
        for j in range(40):
            pc = f"QZ{i + 1} {j % 9 + 1}{'ABDEFGHJ'[j % 8]}{'LNPQRSTU'[j // 8]}"
            rows.append(f'"{pc[:4]:<4}{pc[-3:]}",10,{x0 + rng.integers(0, 2000)},{500_000 + rng.integers(0, 2000)},'
                        f'"S92000003","","","","X08000001","{ward}"')
    cp_file = tmp_path / "qz.csv"
    cp_file.write_text("\n".join(rows) + "\n")
    pcs = read_codepoint(cp_file)
    wards = gpd.GeoDataFrame({"area_code": ["X05000001", "X05000002"], "area_name": ["Northvale", "Eastbrook and Kirkby"],
                              "level": "ward"},
                             geometry=[box(300_000, 500_000, 302_000, 502_000), box(302_000, 500_000, 304_000, 502_000)],
                             crs=27700).to_crs(4326)
    wfile = tmp_path / "wards.geojson"
    wards.to_file(wfile, driver="GeoJSON")
    from geo.places.areas import read_boundaries
    areas = read_boundaries(wfile, "ward", "area_code", "area_name")
    premises = pd.DataFrame({"premises_id": ["P1"], "name": ["The Kelpie Tavern"], "premises_type": ["pub"],
                             "address": ["3 Loch Street"], "postcode": [pcs["postcode"].iloc[5]]})
    places = pd.DataFrame({"name": ["Northvale Country Park"], "aliases": ["the country park"], "kind": ["park"],
                           "postcode": [pcs["postcode"].iloc[7]]})
    gaz = Gazetteer.build(pcs, areas, premises, places, curated=True)
    pc0 = pcs.iloc[0]
    texts = [pc0["postcode"].lower().replace(" ", ""), "kelpie tavern", "outside Northvale Country Park",
             "a friends house in Kirkby", "somewhere in Northvale", "not known", "Bullring"]
    out = geocode(texts, gaz)
    assert out["precision"].tolist() == ["postcode", "premises", "premises", "area", "area", "none", "none"]
    assert (out.loc[0, "easting"], out.loc[0, "northing"]) == (pc0["easting"], pc0["northing"])
    assert out.loc[1, "match_id"] == "premises:P1"
    assert out["ward_code"].tolist()[3:5] == ["X05000002", "X05000001"]
    assert out.loc[0, "ward_code"] == pc0["ward_code"]
