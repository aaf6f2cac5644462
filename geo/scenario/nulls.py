"""Null scenarios of the generator beyond ``null=True`` (no planted structure).

``housemates``: the realistic null of co-missing groups. Every child keeps the plain null's
volumes and timing (episodes drawn independently per child, the same time-of-day profile), and
children who live together (residential homes, siblings) are, like most children, found back
at their own home: each returned episode of a child with a known address is found at that
address with probability ``P_HOME``. Housemates therefore share a found-at place and now and
then come back within hours of each other, by chance only: no group is planted, so any
co-missing group found on such a drop is a false positive.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NULL_MODELS", "P_HOME", "found_back_home"]

#: null models ``wayfinder synth --null-model`` accepts.
NULL_MODELS = ("plain", "housemates")
#: share of returned episodes found back at the child's own home address.
P_HOME = 0.9


def found_back_home(ctx, k: pd.DataFrame, e: pd.DataFrame, base: int) -> None:
    """Under the ``housemates`` null, put a share of the found-at texts of ``e`` at the child's
    home address (in place); any other scenario is left unchanged.

    ``k`` is the chunk's true children (``address``, ``home_e``, ``home_n``, ``ward_code``),
    ``e`` its episodes (``ci``, ``returned_at``, ``found_at``); ``base`` seeds this chunk's
    own random stream, so the other files of the drop are those of the plain null."""
    if ctx.truth.get("null_model") != "housemates":
        return
    rng = np.random.default_rng([ctx.seed, 31, base])
    ci = e["ci"].to_numpy()
    addr = k["address"].to_numpy(dtype=object)[ci]
    home = (e["returned_at"].notna().to_numpy() & pd.notna(addr) & (addr != "")
            & (rng.random(len(e)) < P_HOME))
    e.loc[home, "found_at"] = addr[home]
    kids = np.unique(ci[home])
    ctx.extra_locations.append(pd.DataFrame({
        "text": k["address"].to_numpy()[kids], "easting": k["home_e"].to_numpy()[kids],
        "northing": k["home_n"].to_numpy()[kids], "precision": "postcode",
        "ward_code": k["ward_code"].to_numpy()[kids], "resolvable": True, "kind": "address"}))
