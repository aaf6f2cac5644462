"""The geocoding commands end to end: `geocode` (contract columns), `review` corrections that are
remembered and reused, and `regeocode` keeping them."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from geo.storage.ingest import ingest_drop
from geo.places.reference import load_bundled
from geo.storage.store import open_store

CONTRACT = ["easting", "northing", "latitude", "longitude", "precision", "confidence", "method",
            "match_id", "ward_code", "lsoa_code"]


def wf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('geocli') / 'w.sqlite'}"
    store = open_store(url)
    load_bundled(store)
    store.engine.dispose()
    return url


def test_geocode_csv_writes_the_contract_columns(db, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "Where": ["b74ps", "not known", "B1  1AY"]}).to_csv(src,
                                                                                    index=False)
    out = tmp_path / "out.csv"
    r = wf("geocode", str(src), "--column", "where", "--db", db, "--out", str(out))
    assert r.returncode == 0, r.stderr
    got = pd.read_csv(out)
    assert list(got.columns) == ["id", "Where", *CONTRACT]
    assert got["precision"].tolist() == ["postcode", "none", "postcode"]
    assert got.loc[0, "ward_code"].startswith("E05") and got.loc[2, "lsoa_code"].startswith("E01")
    assert abs(got.loc[2, "easting"] - 406523) < 1 and abs(got.loc[2, "northing"] - 286448) < 1


def test_geocode_csv_fails_with_a_reason(db, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n")
    r = wf("geocode", str(src), "--column", "nosuch", "--db", db, "--out", str(tmp_path / "o.csv"))
    assert r.returncode != 0 and "nosuch" in r.stderr and len(r.stderr.splitlines()) == 1


def test_review_correction_is_remembered_and_survives_regeocode(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    store = open_store(url)
    load_bundled(store)
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "episodes.csv").write_text(
        "episode_id,child_id,reported_at,category,found_at\n"
        "E1,C1,2017-01-01 10:00,missing,the big tree behind the chippy\n")
    ingest_drop(store, drop)
    assert store.frame("episodes")["found_precision"].iloc[0] == "none"
    r = wf("review", "--db", url)
    assert r.returncode == 0 and "the big tree behind the chippy" in r.stdout
    r = wf("review", "--db", url, "--text", "the big tree behind the chippy",
           "--postcode", "B7 4PS", "--by", "analyst_a")
    assert r.returncode == 0, r.stderr
    r = wf("regeocode", "--db", url)
    assert r.returncode == 0, r.stderr
    ep = store.frame("episodes").iloc[0]
    assert ep["found_precision"] == "postcode" and ep["found_ward"].startswith("E05")
    row = store.table("geocodes").set_index("text").loc["the big tree behind the chippy"]
    assert bool(row["override"]) and row["reviewed_by"] == "analyst_a"
    store.engine.dispose()


def test_ungeocoded_texts_are_the_stored_texts_less_the_geocoded(reference_store, sample_drop):
    """The geocode step's delta: the texts filtered in the database (and the split list
    cells here) are exactly the stored texts not in ``geocodes``, sorted, before any geocoding
    and after part of them (texts of every location column) were geocoded."""
    from geo.places.geocoding import stored_texts, ungeocoded_texts
    from geo.storage import schema
    store = reference_store
    ingest_drop(store, sample_drop, geocode=False)

    def old_way():
        texts = stored_texts(store)
        done = store.table("geocodes")["text"]
        return texts[~texts.isin(done)].sort_values(kind="stable").reset_index(drop=True).tolist()

    everything = old_way()
    assert len(everything) > 50 and ungeocoded_texts(store).tolist() == everything
    some = everything[::3]
    with store.engine.begin() as conn:
        store.insert_frame(conn, schema.geocodes, pd.DataFrame(
            {"text": some, "precision": "none", "override": False}))
    left = ungeocoded_texts(store).tolist()
    assert left == old_way() and left == [t for t in everything if t not in set(some)]
