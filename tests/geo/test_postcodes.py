"""Postcode normalisation, extraction and the reference file readers (geo.places.postcodes)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.places.gazetteer import Gazetteer
from geo.places.geocode import geocode
from geo.places.postcodes import (
    district_of,
    extract_postcodes,
    normalise_postcode,
    normalise_postcodes,
    read_codepoint,
    read_onspd,
    read_postcode_file,
    sector_of,
)

ROOT = Path(__file__).resolve().parents[2]
CODEPOINT = ROOT / "data" / "reference" / "gazetteer" / "codepoint_open_2014_b.csv"


@pytest.fixture(scope="module")
def codepoint() -> pd.DataFrame:
    return read_codepoint(CODEPOINT)


@pytest.mark.parametrize("raw, canonical", [
    ("b74ps", "B7 4PS"), ("B7  4PS", "B7 4PS"), (" b7 4ps ", "B7 4PS"), ("B74PS", "B7 4PS"),
    ("m1 1aa", "M1 1AA"),          # A9 9AA
    ("B15 2TT", "B15 2TT"),        # A99 9AA
    ("ws1 1aa", "WS1 1AA"),        # AA9 9AA
    ("DY10 1AA", "DY10 1AA"),      # AA99 9AA
    ("w1a0ax", "W1A 0AX"),         # A9A 9AA
    ("ec1a 1bb", "EC1A 1BB"),      # AA9A 9AA
    ("gir 0aa", "GIR 0AA"),
])
def test_every_uk_format_any_case_and_spacing(raw, canonical):
    assert normalise_postcode(raw) == canonical


@pytest.mark.parametrize("raw", ["not known", "B7", "B7 4", "12 Albert Road", "", "B7 4PSX", "7B 4PS"])
def test_non_postcodes_are_not_normalised(raw):
    assert normalise_postcode(raw) is None


def test_normalise_is_vectorised_and_keeps_missing():
    out = normalise_postcodes(pd.Series(["b74ps", None, "nope"]))
    assert out.iloc[0] == "B7 4PS" and out.iloc[1:].isna().all()


def test_extract_finds_units_sectors_and_districts_anywhere():
    ex = extract_postcodes(pd.Series([
        "found at 12 Ladywell Walk b54st late", "ibis, B5  4ST", "somewhere in B7", "B7 4 area",
        "not known",
    ]))
    assert ex["postcode"].tolist()[:2] == ["B5 4ST", "B5 4ST"]
    assert ex["postcode"].iloc[2:].isna().all()
    assert ex["district"].iloc[2] == "B7"
    assert ex["sector"].iloc[3] == "B7 4"
    assert pd.isna(ex["district"].iloc[4])
    a, b = ex["postcode_span"].iloc[0]
    assert "found at 12 Ladywell Walk b54st late"[a:b].upper().replace(" ", "") == "B54ST"


def test_sector_and_district_of():
    pcs = pd.Series(["B7 4PS", "EC1A 1BB"])
    assert district_of(pcs).tolist() == ["B7", "EC1A"]
    assert sector_of(pcs).tolist() == ["B7 4", "EC1A 1"]


def test_read_codepoint_bundled(codepoint):
    assert list(codepoint.columns) == ["postcode", "easting", "northing", "quality", "district_code", "ward_code"]
    assert len(codepoint) == 41276
    assert codepoint["postcode"].str.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}").all()
    row = codepoint.set_index("postcode").loc["B1 1AY"]
    assert (row["easting"], row["northing"]) == (406523.0, 286448.0)
    assert row["ward_code"] == "E05001193" and row["district_code"] == "E08000025"
    assert (codepoint["district_code"] == "E08000025").sum() == 21594


def test_read_onspd_old_and_new_column_names(tmp_path):
    old = tmp_path / "onspd_old.csv"
    old.write_text("pcd,pcds,doterm,oseast1m,osnrth1m,osgrdind,oslaua,osward\n"
                   '"B1  1AY","B1 1AY","",406523,286448,1,E08000025,E05001193\n'
                   '"B99 9ZZ","B99 9ZZ","",,,9,E08000025,\n')
    new = tmp_path / "onspd_new.csv"
    new.write_text("PCD7,PCDS,EAST1M,NORTH1M,GRIDIND,LAD25CD,WD25CD\n"
                   "B7  4PS,B7 4PS,407900,287800,1,E08000025,E05011149\n")
    a, b = read_onspd(old), read_onspd(new)
    assert a.set_index("postcode").loc["B1 1AY", "easting"] == 406523
    assert np.isnan(a.set_index("postcode").loc["B99 9ZZ", "easting"])
    assert b.iloc[0].to_dict() | {"quality": 1} == {
        "postcode": "B7 4PS", "easting": 407900.0, "northing": 287800.0, "quality": 1,
        "district_code": "E08000025", "ward_code": "E05011149"}
    # Format detection: a header row naming a postcode column means ONSPD.
    assert read_postcode_file(new)["postcode"].tolist() == ["B7 4PS"]
    assert len(read_postcode_file(CODEPOINT)) == 41276


def test_every_birmingham_postcode_resolves_in_every_spelling(codepoint):
    bham = codepoint[(codepoint["district_code"] == "E08000025") & codepoint["easting"].notna()]
    gaz = Gazetteer.build(codepoint, curated=False)
    pcs = bham["postcode"]
    compact = pcs.str.replace(" ", "", regex=False)
    spellings = [pcs.str.lower(), compact, pcs.str.replace(" ", "  ", regex=False), compact.str.lower()]
    texts = pd.concat(spellings, ignore_index=True)
    out = geocode(texts, gaz)
    truth = pd.concat([bham] * len(spellings), ignore_index=True)
    assert (out["precision"] == "postcode").all()
    assert (out["easting"].to_numpy() == truth["easting"].to_numpy()).all()
    assert (out["northing"].to_numpy() == truth["northing"].to_numpy()).all()
    assert (out["match_id"].to_numpy() == ("postcode:" + truth["postcode"]).to_numpy()).all()
