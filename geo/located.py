"""Located points: which place events place a child at an anonymous point, by evidence precision.

Shared by the premises of concern (``geo.venues``, its "near" evidence and background rate) and
the found-at clusters (``geo.clusters``), so both read the same points as evidence:

* **coarse** points (precision ``area`` or ``none``: a ward or district centroid) place nobody;
* **named** points (the geocoder matched the text to a gazetteer entity, ``match_id``
  ``premises:...`` or ``place:...``) are evidence about that entity, assessed as that entity
  (premises of concern; places linking children), not about whatever lies near its reference point;
* **home** points (within ``home_m`` of one of the child's own placement points) record a child
  found back at home: not a place the child was found *at* while missing;
* the rest (postcode, address, street precision) are the **located** points.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COARSE_PRECISION", "entity_matched", "at_home", "located_mask"]

#: geocode precisions too coarse to place a child (area centroids, nothing)
COARSE_PRECISION = ("area", "none")


def entity_matched(match: pd.Series) -> np.ndarray:
    """True where the geocoder matched the text to a named premises or place."""
    return match.astype("string").str.extract(r"^\s*(premises|place):", expand=False).notna().to_numpy()


def at_home(events: pd.DataFrame, children: pd.DataFrame | None, home_m: float = 50.0) -> np.ndarray:
    """Events within ``home_m`` of one of the child's own placement points (``children`` frame:
    person_id, placement_e, placement_n; every record of the child counts, so a child moved
    between placements is at home at either)."""
    out = np.zeros(len(events), bool)
    if children is None or not len(children) or not {"placement_e", "placement_n", "person_id"} <= set(children):
        return out
    home = children.dropna(subset=["placement_e", "placement_n"])
    if home.empty or events.empty or "person_id" not in events:
        return out
    home = pd.DataFrame({"person_id": home["person_id"].astype(str).to_numpy(),
                         "he": home["placement_e"].to_numpy(float), "hn": home["placement_n"].to_numpy(float)}
                        ).drop_duplicates()
    m = pd.DataFrame({"i": np.arange(len(events)), "person_id": events["person_id"].astype(str).to_numpy(),
                      "e": events["easting"].to_numpy(float), "n": events["northing"].to_numpy(float)}
                     ).merge(home, on="person_id")
    close = np.hypot(m["e"] - m["he"], m["n"] - m["hn"]) <= home_m
    out[m.loc[close.to_numpy(), "i"].to_numpy(int)] = True
    return out


def located_mask(events: pd.DataFrame, match: pd.Series | None = None, children: pd.DataFrame | None = None,
                 home_m: float = 50.0) -> np.ndarray:
    """Located points: coordinates present, not coarse, not matched to a named entity (``match``,
    default the events' ``match_id``), not at the child's own placement."""
    if events.empty:
        return np.zeros(0, bool)
    ok = events[["easting", "northing"]].notna().all(axis=1).to_numpy().copy() if {"easting", "northing"} <= set(events) \
        else np.zeros(len(events), bool)
    if "precision" in events:
        ok &= ~events["precision"].astype("string").isin(list(COARSE_PRECISION)).fillna(False).to_numpy(bool)
    if match is None:
        match = events["match_id"] if "match_id" in events else pd.Series(None, index=events.index, dtype=object)
    ok &= ~entity_matched(match)
    return ok & ~at_home(events, children, home_m)


def study_postcodes(postcodes: pd.DataFrame | None, areas: pd.DataFrame | None) -> pd.DataFrame | None:
    """The residential postcodes of the study area: those in one of the loaded wards (``areas``
    of level ``ward``), the background population of the premises and cluster tests. A postcode
    table usually covers whole postcode areas (B: Birmingham with Solihull, Sutton Coldfield and
    more): postcodes where no event could be recorded would dilute every expected count."""
    if postcodes is None or areas is None or not len(postcodes) or "ward_code" not in postcodes:
        return postcodes
    wards = areas.loc[areas["level"] == "ward", "area_code"] if "level" in areas else pd.Series(dtype=object)
    if not len(wards):
        return postcodes
    inside = postcodes[postcodes["ward_code"].isin(set(wards))]
    return inside if len(inside) else postcodes
