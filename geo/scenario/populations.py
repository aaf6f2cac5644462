"""A synthetic ``populations.csv`` for the generator's wards (labelled synthetic, not ONS).

Child populations per ward for the contract's optional denominators file: ``area_code,
age_band, year, sex, count, source``. Birmingham's ONS mid-year estimates are the intended real
source (about 280,000 residents aged 0-17 over its 40 wards in 2016); here the city total is
shared over the wards in proportion to their residential postcodes, times a log-normal factor
(sd 0.15) so density and population differ a little, split by sex (51.2 % male) and given for
the bands ``0-17`` and ``10-17`` (42 % of 0-17). Every row carries ``source = "synthetic"``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.model import CONTRACT

__all__ = ["CHILDREN_0_17", "synthetic_populations", "write_populations"]

#: residents aged 0-17 in the city (order of magnitude of Birmingham's ONS 2016 estimate).
CHILDREN_0_17 = 280_000
SHARE_10_17 = 0.42
SHARE_MALE = 0.512
YEAR = 2016


def synthetic_populations(wards: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Rows of ``populations.csv`` for ``wards`` (``ward_code``, ``n_postcodes``)."""
    w = np.asarray(wards["n_postcodes"], dtype=float) * np.exp(rng.normal(0, 0.15, len(wards)))
    total = np.round(CHILDREN_0_17 * w / w.sum()).astype(np.int64)
    rows = []
    for band, n in (("0-17", total), ("10-17", np.round(total * SHARE_10_17).astype(np.int64))):
        male = np.round(n * SHARE_MALE).astype(np.int64)
        for sex, c in (("all", n), ("male", male), ("female", n - male)):
            rows.append(pd.DataFrame({"area_code": wards["ward_code"].to_numpy(), "age_band": band,
                                      "year": YEAR, "sex": sex, "count": c, "source": "synthetic"}))
    return pd.concat(rows, ignore_index=True)


def write_populations(out: Path, wards: pd.DataFrame, seed: int) -> int:
    """Write ``out/populations.csv``; returns its number of data rows."""
    df = synthetic_populations(wards, np.random.default_rng([seed, 41]))
    df[CONTRACT.header("populations")].to_csv(Path(out) / "populations.csv", index=False)
    return len(df)
