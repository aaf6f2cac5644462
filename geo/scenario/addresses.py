"""A synthetic address register for the generator's house addresses
(`wayfinder synth --addresses FILE`).

The generator writes one fictional house address per real postcode ("12 Albert Road, Aston,
B6 4PS", geo.scenario.locations.addresses) whose true point is the postcode's. The register lists
that door at exactly that point, and its neighbours on the same side of the street (house numbers
2, 4 and 6 either side) every ``SPACING`` metres along a street direction drawn per postcode, so a
geocoder that reads the wrong house number lands 13 m or more away and one that ignores the
number cannot tell the doors apart. Flats get their own UPRN at the building's door. UPRNs are
fictional (12 digits from 9000...).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.places.addresses import parse_addresses

SPACING = 13.0                 # metres between doors two numbers apart
NEIGHBOURS = (-6, -4, -2, 2, 4, 6)


def address_register(seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(register, truth): the register (uprn, address, postcode, easting, northing) and the
    generator's address texts for this seed with their true point and UPRN."""
    from geo.scenario.locations import Catalogue
    from geo.scenario.reference import load_reference
    ref = load_reference()
    cat = Catalogue(ref, np.random.default_rng([seed, 1]))     # as geo.scenario.generator.generate builds it
    pcs = ref.postcodes.reset_index(drop=True)
    texts = cat.postcode_address.reset_index(drop=True)
    parsed = parse_addresses(texts)
    rng = np.random.default_rng([seed, 11])
    angle = rng.uniform(0, np.pi, len(pcs))
    ux, uy = np.cos(angle), np.sin(angle)
    number = parsed["number"].str.extract(r"^(\d+)")[0].astype(int).to_numpy()
    # "Flat 3, 12 Albert Road, Aston, B6 4PS" -> building "12 Albert Road, Aston, B6 4PS"
    building = texts.str.replace(r"^\s*flat\s*\d+[a-z]?\s*,\s*", "", regex=True, case=False)
    rest = building.str.replace(r"^\d+[a-z]?\s+", "", regex=True)
    base = 900000000000 + np.arange(len(pcs), dtype=np.int64) * 16
    rows = [pd.DataFrame({"uprn": base, "address": building, "postcode": pcs["postcode"],
                          "easting": pcs["easting"].to_numpy(float),
                          "northing": pcs["northing"].to_numpy(float)})]
    for k, step in enumerate(NEIGHBOURS, start=1):
        h = number + step
        ok = h > 0
        d = step / 2 * SPACING
        rows.append(pd.DataFrame({
            "uprn": base[ok] + k, "address": (pd.Series(h).astype(str) + " " + rest)[ok],
            "postcode": pcs["postcode"][ok],
            "easting": (pcs["easting"].to_numpy(float) + d * ux)[ok],
            "northing": (pcs["northing"].to_numpy(float) + d * uy)[ok]}))
    flat = parsed["flat"].notna().to_numpy()
    rows.append(pd.DataFrame({"uprn": base[flat] + 15, "address": texts[flat],
                              "postcode": pcs["postcode"][flat],
                              "easting": pcs["easting"].to_numpy(float)[flat],
                              "northing": pcs["northing"].to_numpy(float)[flat]}))
    register = pd.concat(rows, ignore_index=True)
    register["uprn"] = register["uprn"].astype(str)
    register = register.sort_values("uprn").reset_index(drop=True)
    truth = pd.DataFrame({"text": texts, "easting": pcs["easting"].to_numpy(float),
                          "northing": pcs["northing"].to_numpy(float),
                          "uprn": np.where(flat, base + 15, base).astype(str)})
    return register, truth


def write_address_register(path: str | Path, seed: int = 1) -> int:
    register, _ = address_register(seed)
    register.to_csv(path, index=False, lineterminator="\n")
    return len(register)
