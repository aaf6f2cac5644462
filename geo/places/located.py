"""Located points: which place events place a child at an anonymous point, by evidence precision.

Shared by the premises of concern (``geo.stats.venues``, its "near" evidence and background rate) and
the found-at clusters (``geo.stats.clusters``), so both read the same points as evidence:

* **coarse** points (precision ``area`` or ``none``: a ward or district centroid) place nobody;
* **named** points (the geocoder matched the text to a gazetteer entity, ``match_id``
  ``premises:...`` or ``place:...``) are evidence about that entity, assessed as that entity
  (premises of concern; places linking children), not about whatever lies near its reference point;
* **home** points (within ``home_m`` of one of the child's own placement points, or of a place
  the child was last seen, i.e. went missing from) record a child found back at home: not a
  place the child was found *at* while missing; nor is a point at a children's home, whoever's
  record it is (many residents' records carry no placement postcode). The premises test reads
  any child's placement that way (:func:`placement_points`); the cluster scan only the shared
  settings (:func:`establishment_points`), so a family placement does not hide a found-at place
  from every other child (issue 13: it hid the planted place of a planted drop);
* **habitual** points (:func:`habitual_points`, used by the found-at cluster scan): where the child
  itself was found in at least two different episodes. A place a child keeps coming back to is
  part of that child's own baseline, like its home (in practice usually its home when the records
  carry no placement postcode), not evidence that different children gather there; the child's
  repeated returns are read in the person view, not as a location of concern;
* the rest (postcode, address, street precision) are the **located** points.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COARSE_PRECISION", "entity_matched", "home_points", "habitual_points", "at_home", "placement_points", "establishment_points",
           "at_a_placement", "own_places", "at_own_place",
           "located_mask", "study_postcodes"]

#: geocode precisions too coarse to place a child (area centroids, nothing)
COARSE_PRECISION = ("area", "none")


def entity_matched(match: pd.Series) -> np.ndarray:
    """True where the geocoder matched the text to a named premises or place."""
    return match.astype("string").str.extract(r"^\s*(premises|place):", expand=False).notna().to_numpy()


def home_points(children: pd.DataFrame | None, place_events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each child's home points (person_id, e, n): the placement points of its records and, from
    ``place_events``, the located points where it was *last seen* (the place it went missing from,
    usually its home: a child found there has returned, not been found somewhere). Records
    without a placement postcode are common (half the police records), so the last-seen points
    find homes the placement column misses."""
    parts = []
    if children is not None and len(children) and {"placement_e", "placement_n", "person_id"} <= set(children):
        h = children.dropna(subset=["placement_e", "placement_n"])
        parts.append(pd.DataFrame({"person_id": h["person_id"].astype(str).to_numpy(),
                                   "e": h["placement_e"].to_numpy(float), "n": h["placement_n"].to_numpy(float)}))
    if place_events is not None and len(place_events) and "kind" in place_events and "person_id" in place_events:
        ls = place_events[place_events["kind"] == "last_seen"]
        ls = ls[ls[["easting", "northing"]].notna().all(axis=1).to_numpy()]
        if "precision" in ls:
            ls = ls[~ls["precision"].astype("string").isin(list(COARSE_PRECISION)).fillna(False).to_numpy(bool)]
        if "match_id" in ls:
            ls = ls[~entity_matched(ls["match_id"])]
        parts.append(pd.DataFrame({"person_id": ls["person_id"].astype(str).to_numpy(),
                                   "e": ls["easting"].to_numpy(float), "n": ls["northing"].to_numpy(float)}))
    if not parts:
        return pd.DataFrame({"person_id": pd.Series(dtype=object), "e": pd.Series(dtype=float),
                             "n": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def habitual_points(place_events: pd.DataFrame | None, kinds=("found_at", "rhi_place"),
                    min_episodes: int = 2) -> pd.DataFrame:
    """Each child's habitual points (person_id, e, n): located points (coordinates, not coarse,
    not matched to a named entity) where the child was found (events of ``kinds``) in at least
    ``min_episodes`` distinct episodes. Same columns as :func:`home_points`, so the two can be
    concatenated and read by :func:`at_home`."""
    cols = {"person_id": pd.Series(dtype=object), "e": pd.Series(dtype=float), "n": pd.Series(dtype=float)}
    need = {"person_id", "easting", "northing", "episode_key", "kind"}
    if place_events is None or not len(place_events) or not need <= set(place_events):
        return pd.DataFrame(cols)
    ev = place_events[place_events["kind"].isin(list(kinds))]
    ev = ev[ev[["easting", "northing"]].notna().all(axis=1).to_numpy() & ev["episode_key"].notna().to_numpy()]
    if "precision" in ev:
        ev = ev[~ev["precision"].astype("string").isin(list(COARSE_PRECISION)).fillna(False).to_numpy(bool)]
    if "match_id" in ev:
        ev = ev[~entity_matched(ev["match_id"])]
    if ev.empty:
        return pd.DataFrame(cols)
    pts = pd.DataFrame({"person_id": ev["person_id"].astype(str).to_numpy(), "e": ev["easting"].to_numpy(float),
                        "n": ev["northing"].to_numpy(float), "episode": ev["episode_key"].astype(str).to_numpy()})
    n_ep = pts.groupby(["person_id", "e", "n"], sort=False)["episode"].nunique()
    return n_ep[n_ep >= min_episodes].reset_index()[["person_id", "e", "n"]]


def placement_points(children: pd.DataFrame | None) -> np.ndarray:
    """Every child's placement point (children's homes and family homes), metres."""
    if children is None or not len(children) or not {"placement_e", "placement_n"} <= set(children):
        return np.empty((0, 2))
    return np.unique(children[["placement_e", "placement_n"]].dropna().to_numpy(float), axis=0)


#: placement types that are shared settings (a children's home and the like): many residents
#: come back to one address, and a resident's record often carries no placement postcode
SHARED_PLACEMENTS = ("residential", "secure", "semi_independent", "supported_lodgings")


def establishment_points(children: pd.DataFrame | None) -> np.ndarray:
    """Placement points of shared settings (metres): records whose ``placement_type`` is one of
    :data:`SHARED_PLACEMENTS` or that name an ``establishment``. A family, foster or kinship
    placement is that child's home only (:func:`home_points`), not a place to discount for
    every child: a residential postcode centroid covers a dozen or more households."""
    if children is None or not len(children) or not {"placement_e", "placement_n"} <= set(children):
        return np.empty((0, 2))
    shared = np.zeros(len(children), bool)
    if "placement_type" in children:
        shared |= children["placement_type"].astype("string").isin(list(SHARED_PLACEMENTS)).fillna(False).to_numpy(bool)
    if "establishment" in children:
        est = children["establishment"].astype("string").str.strip()
        shared |= (est.notna() & (est != "")).fillna(False).to_numpy(bool)
    pts = children.loc[shared, ["placement_e", "placement_n"]].dropna().to_numpy(float)
    return np.unique(pts, axis=0) if len(pts) else np.empty((0, 2))


def at_a_placement(events: pd.DataFrame, placements: np.ndarray, home_m: float = 50.0) -> np.ndarray:
    """Events within ``home_m`` of any child's placement point: a children's home is where its
    residents come back to, and many residents' records carry no placement postcode, so a point
    at a home is not treated as a sighting whoever's record it is."""
    if events.empty or placements is None or not len(placements):
        return np.zeros(len(events), bool)
    from scipy.spatial import cKDTree
    xy = events[["easting", "northing"]].to_numpy(float)
    ok = ~np.isnan(xy).any(axis=1)
    out = np.zeros(len(events), bool)
    if ok.any():
        d, _ = cKDTree(placements).query(xy[ok], distance_upper_bound=home_m)
        out[ok] = np.isfinite(d)
    return out


def at_home(events: pd.DataFrame, homes: pd.DataFrame | None, home_m: float = 50.0) -> np.ndarray:
    """Events within ``home_m`` of one of the child's own home points (:func:`home_points`;
    every record of the child counts, so a child moved between placements is at home at either).
    A ``children`` frame is accepted for ``homes`` too (its placement points)."""
    out = np.zeros(len(events), bool)
    if homes is not None and "placement_e" in homes:
        homes = home_points(homes)
    if homes is None or homes.empty or events.empty or "person_id" not in events:
        return out
    m = pd.DataFrame({"i": np.arange(len(events)), "person_id": events["person_id"].astype(str).to_numpy(),
                      "ee": events["easting"].to_numpy(float), "en": events["northing"].to_numpy(float)}
                     ).merge(homes, on="person_id")
    close = np.hypot(m["ee"] - m["e"], m["en"] - m["n"]) <= home_m
    out[m.loc[close.to_numpy(), "i"].to_numpy(int)] = True
    return out


def own_places(children: pd.DataFrame | None, place_events: pd.DataFrame | None,
               kinds=("found_at", "rhi_place"), habitual_episodes: int | None = 2) -> pd.DataFrame:
    """Each child's own places (person_id, e, n): its homes (:func:`home_points`: placements and
    places last seen) and, with ``habitual_episodes``, the points it was found at (events of
    ``kinds``) in that many distinct episodes (:func:`habitual_points`). Read with
    :func:`at_own_place`; the found-at cluster scan and the space-time scan both use it."""
    homes = home_points(children, place_events)
    if not habitual_episodes:
        return homes
    own = habitual_points(place_events, kinds, int(habitual_episodes))
    return pd.concat([homes, own], ignore_index=True).drop_duplicates() if len(own) else homes


def at_own_place(events: pd.DataFrame, homes: pd.DataFrame | None, placements: np.ndarray | None,
                 home_m: float = 50.0) -> np.ndarray:
    """The own-place rule: events within ``home_m`` of one of the child's own places (``homes``:
    :func:`own_places`) or of a shared setting's placement, whoever's record it is
    (``placements``: :func:`establishment_points`). A child found there is back at home, not found
    somewhere: not evidence of a location of concern, in space (found-at clusters) or in space and
    time (the space-time scan)."""
    if events.empty:
        return np.zeros(0, bool)
    ev = events.reset_index(drop=True)
    return at_home(ev, homes, home_m) | at_a_placement(ev, placements, home_m)


def located_mask(events: pd.DataFrame, match: pd.Series | None = None, homes: pd.DataFrame | None = None,
                 home_m: float = 50.0, placements: np.ndarray | None = None) -> np.ndarray:
    """Located points: coordinates present, not coarse, not matched to a named entity (``match``,
    default the events' ``match_id``), not at one of the child's home points (``homes``:
    :func:`home_points`, or a ``children`` frame for its placements only)."""
    if events.empty:
        return np.zeros(0, bool)
    ok = events[["easting", "northing"]].notna().all(axis=1).to_numpy().copy() if {"easting", "northing"} <= set(events) \
        else np.zeros(len(events), bool)
    if "precision" in events:
        ok &= ~events["precision"].astype("string").isin(list(COARSE_PRECISION)).fillna(False).to_numpy(bool)
    if match is None:
        match = events["match_id"] if "match_id" in events else pd.Series(None, index=events.index, dtype=object)
    ok &= ~entity_matched(match)
    return ok & ~at_home(events, homes, home_m) & ~at_a_placement(events, placements, home_m)


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
