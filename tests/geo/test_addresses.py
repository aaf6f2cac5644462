"""The address register: house addresses to the door (precision `address`) when a register is
loaded, exactly as before when none is."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.places.addresses import AddressError, load_addresses, parse_addresses, read_addresses
from geo.places.gazetteer import gazetteer_from_store
from geo.places.geocode import geocode
from geo.storage.store import open_store
from geo.scenario.addresses import address_register


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from geo.places.reference import load_bundled
    tmp = tmp_path_factory.mktemp("addr")
    store = open_store(f"sqlite:///{tmp / 'a.sqlite'}")
    load_bundled(store)
    plain = gazetteer_from_store(store)
    register, truth = address_register(seed=1)
    path = tmp / "addresses.csv"
    register.to_csv(path, index=False)
    n = load_addresses(store, path)
    assert n == len(register)
    yield store, plain, gazetteer_from_store(store), truth, path
    store.engine.dispose()


def test_generator_addresses_resolve_to_the_door_within_25m(world):
    _, _, gaz, truth, _ = world
    sample = truth.sample(3000, random_state=0).reset_index(drop=True)
    res = geocode(sample["text"], gaz)
    at = res["precision"] == "address"
    assert at.mean() >= 0.99, res.loc[~at, ["text", "precision"]].head()
    d = np.hypot(res["easting"] - sample["easting"], res["northing"] - sample["northing"])
    assert (d[at] <= 25).all() and d[at].max() < 1e-6      # the very door
    assert (res.loc[at, "match_id"] == "uprn:" + sample.loc[at, "uprn"]).all()


def test_written_differently_still_the_door_and_unknown_numbers_fall_back(world):
    _, _, gaz, truth, _ = world
    row = truth[~truth["text"].str.startswith("Flat")].iloc[100]
    number, rest = row["text"].split(" ", 1)
    street, ward, pc = [p.strip() for p in rest.split(",")]
    variants = [f"{number} {street.lower().replace('road', 'rd')}, {pc.replace(' ', '').lower()}",
                f"{number} {street} {pc}"]
    res = geocode(pd.Series(variants), gaz)
    assert (res["precision"] == "address").all(), res[["text", "precision"]]
    # a number the register does not hold at that postcode is the postcode, as before
    other = geocode(pd.Series([f"{int(number) + 1} {street}, {ward}, {pc}",
                               f"{number} Nowhere Lane, {pc}"]), gaz)
    assert (other["precision"] == "postcode").all()


def test_without_a_register_nothing_changes(world):
    _, plain, gaz, truth, _ = world
    texts = pd.concat([truth["text"].head(300),
                       pd.Series(["B7 4PS", "Cannon Hill Park", "a friend's house in Aston",
                                  "not known", ""])], ignore_index=True)
    before = geocode(texts, plain)
    assert plain.addresses is None and (before["precision"] != "address").all()
    after = geocode(texts, gaz)
    other = ~texts.isin(truth["text"])
    pd.testing.assert_frame_equal(before[other], after[other])


def test_parse_and_read():
    p = parse_addresses(pd.Series(["Flat 3, 12a Albert Rd, Aston, B6 4PS", "Cannon Hill Park"]))
    assert p.iloc[0].tolist() == ["3", "12a", "albert road", "B64PS"]
    assert p.iloc[1].isna().all()


def test_reference_cli_loads_a_register_and_rejects_a_bad_one(tmp_path, world):
    from api.cli import app
    _, _, _, _, path = world
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    small = tmp_path / "small.csv"
    pd.read_csv(path, dtype=str).head(50).rename(columns={"easting": "Easting"}) \
        .to_csv(small, index=False)
    res = CliRunner().invoke(app, ["reference", "--addresses", str(small), "--db", db])
    assert res.exit_code == 0, res.output
    assert "loaded 50 addresses" in res.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,x\n")
    res = CliRunner().invoke(app, ["reference", "--addresses", str(bad), "--db", db])
    assert res.exit_code != 0 and "no uprn or address column" in res.stderr
    with pytest.raises(AddressError):
        read_addresses(tmp_path / "missing.csv")
