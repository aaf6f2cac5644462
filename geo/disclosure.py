"""Disclosure control: the rules that decide what a minimised (non-analyst) view may show.

One module, used by both edges that disclose personal data: the API (``api/minimise.py``,
``api/service/routes/scorecards.py``) and the meeting packs (``maps/packs.py``). Which rules apply to which
role stays with each edge (``api.minimise.VIEW_OF_ROLE``, ``maps.packs.View``); the rules
themselves live here, so a pack and the API name the same child alike and suppress the same
figures. Pure functions: no HTTP, no store, no role names.

Rules (DOMAIN.md, "Data protection as the papers raise it"; issue 7, "Minimisation at the edge"):

- **Pseudonyms** (:func:`pseudonym`): a child or adult is named by a keyed HMAC of the person id,
  never by name, date of birth or record id.
- **Small counts** (:func:`small_count`): counts from 1 to ``small - 1`` (default 1-4) read
  ``"<5"``; rates computed from such a count are withheld (:func:`suppress_small_rates`).
- **Points** (:func:`snap_to_grid`): exact locations of children are generalised to the centre
  of a British National Grid cell (default 250 m: street level, not an address).
- **Dates** (:func:`coarsen_dates`, :func:`month_of`, :func:`day_of`): roles that get no
  person-level detail (licensing officers) see the month only.
- **Percentages** (:func:`suppress_pct`, :func:`suppress_scorecard`): a share over a small base,
  or one that implies a small count, reads ``"n/a (<5)"``.
- **Personal keys** (:data:`PERSONAL_KEYS`, :func:`drop_personal`): fields never sent to a
  non-analyst whatever the output.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import numbers
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from geo.meetings.scorecards import PCT_BASE

#: counts from 1 to SMALL - 1 are shown as "<SMALL"
SMALL = 5
#: side of the British National Grid cell (metres) that minimised points are snapped to
GRID_M = 250.0
#: what a withheld percentage reads (API and packs alike) with the default ``SMALL``
SUPPRESSED_PCT = "n/a (<5)"

#: keys never sent to a non-analyst, whatever the endpoint or pack: names, dates of birth,
#: record and source ids, addresses, placement (children's home) locations, free-text locations
PERSONAL_KEYS = frozenset({
    "given_name", "family_name", "name_given", "dob", "date_of_birth", "child_id", "child_key",
    "person_id_src", "person_key", "police_id", "carefirst_id", "upn", "address", "address_e",
    "address_n", "placement_postcode", "placement_e", "placement_n", "placement_ward", "school",
    "ethnicity", "text", "found_text", "last_seen_text", "location_text", "episode_key",
    "episode_id", "rhi_key", "rhi_id", "event_key", "name_full",
})


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _is_count(v) -> bool:
    """An integer count (Python or NumPy), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


# ---------------------------------------------------------------- identities

def pseudonym(secret: str, person_id, kind: str = "child") -> str | None:
    """The stable pseudonym of a person: ``"C-"`` (children) or ``"A-"`` (any other ``kind``:
    adults, persons, nodes) followed by the first 10 hex digits, upper case, of
    HMAC-SHA256(secret, str(person_id)).

    Why: the same child has the same pseudonym in every layer, endpoint and pack of one install
    (a chair can follow a child across views) while the id cannot be recovered or guessed
    without the per-install secret (a plain hash of an id could be reversed by hashing every id).
    ``None`` or NaN ids give ``None``.

    >>> pseudonym("k", "P000001")
    'C-818E3BABE5'
    >>> pseudonym("k", "P000001", "adult")
    'A-818E3BABE5'
    """
    if _missing(person_id):
        return None
    digest = hmac.new(secret.encode(), str(person_id).encode(), hashlib.sha256).hexdigest()
    return ("C-" if kind == "child" else "A-") + digest[:10].upper()


def pseudonyms(secret: str, ids: Iterable, kind: str = "child") -> list[str | None]:
    """:func:`pseudonym` of each id (computed once per distinct string id)."""
    ids = list(ids)
    memo = {i: pseudonym(secret, i, kind) for i in set(ids) if isinstance(i, str)}
    return [memo[i] if isinstance(i, str) else pseudonym(secret, i, kind) for i in ids]


# ---------------------------------------------------------------- counts

def is_small(n, small: int = SMALL) -> bool:
    """True when ``n`` is a number from 1 to ``small - 1``: a count that could single out a
    person (zero identifies no one and is kept)."""
    return n is not None and _is_number(n) and not _missing(n) and 0 < n < small


def small_count(n, small: int = SMALL):
    """The count as shown to a minimised view: 1..``small - 1`` become ``"<small"``, 0 and
    counts of ``small`` or more are kept (as ``int``); ``None``/NaN give ``None``.

    Why: one to four children in a cell, ward or table row can be recognised by people who know
    the area; a band keeps the signal (some, not none) without naming anyone.

    >>> small_count(3), small_count(0), small_count(12)
    ('<5', 0, 12)
    """
    if _missing(n):
        return None
    n = int(n)
    return f"<{small}" if 0 < n < small else n


def small_counts(values: Iterable, small: int = SMALL) -> list:
    return [small_count(v, small) for v in values]


#: per-area figures computed from a count of children: a rate times the (public) population
#: gives the count back, so they are withheld wherever that count is small
RATE_KEYS = ("value", "rate", "eb_rate", "seb_rate")


def suppress_small_rates(frame: pd.DataFrame, count: str = "children", keys: Iterable[str] = RATE_KEYS,
                         small: int = SMALL) -> pd.DataFrame:
    """A copy of ``frame`` whose rate columns are empty (None) in rows where ``count`` is 1 to
    ``small - 1``: the rule of :func:`small_count` carried to the figures that reveal it.

    >>> suppress_small_rates(pd.DataFrame({"children": [3, 12], "rate": [0.5, 2.0]}))["rate"].tolist()
    [None, 2.0]
    """
    if count not in frame:
        return frame
    out = frame.copy()
    hide = np.asarray([is_small(v, small) for v in out[count]], dtype=bool)
    for k in keys:
        if k in out and hide.any():
            out[k] = out[k].astype(object).where(~hide, None)
    return out


# ---------------------------------------------------------------- locations

def snap_to_grid(e, n, grid_m: float = GRID_M):
    """The centre of the ``grid_m`` British National Grid cell (EPSG:27700, metres) holding each
    point (easting ``e``, northing ``n``; scalars or arrays). Returns two float arrays.

    Why: a child's exact found-at or reported location can be a home, school or placement; the
    centre of a 250 m cell keeps street-level patterns (hot spots, clusters) and hides the
    address. Cells are aligned to the grid origin, so the same point always lands in the same
    cell and cells from different outputs line up (no averaging attack over jittered copies).

    >>> e, n = snap_to_grid([407123.0], [286999.0])
    >>> float(e[0]), float(n[0])
    (407125.0, 286875.0)
    """
    g = float(grid_m)
    e = np.asarray(e, dtype=float)
    n = np.asarray(n, dtype=float)
    return np.floor(e / g) * g + g / 2, np.floor(n / g) * g + g / 2


# ---------------------------------------------------------------- dates

def month_of(series) -> pd.Series:
    """Dates (any parseable, taken as UTC) as ``"YYYY-MM"``; missing stay ``None``.

    Why: views that receive no person-level detail (licensing officers) need when things
    happened to the month, not the day and hour that would match an episode to a child."""
    s = pd.to_datetime(pd.Series(series) if not isinstance(series, pd.Series) else series,
                       utc=True, errors="coerce")
    return s.dt.strftime("%Y-%m").where(s.notna(), None)


def day_of(series) -> pd.Series:
    """Dates as ``"YYYY-MM-DD"`` (UTC; no time of day); missing stay ``None``. The resolution of
    case views (meeting members)."""
    s = pd.to_datetime(pd.Series(series) if not isinstance(series, pd.Series) else series,
                       utc=True, errors="coerce")
    return s.dt.strftime("%Y-%m-%d").where(s.notna(), None)


DATE_RESOLUTIONS = {"day": day_of, "month": month_of}


def coarsen_dates(series, resolution: str = "month") -> pd.Series:
    """Dates reduced to ``resolution`` (``"day"`` or ``"month"``) as strings."""
    try:
        return DATE_RESOLUTIONS[resolution](series)
    except KeyError:
        raise ValueError(f"unknown date resolution {resolution!r}: one of day, month") from None


# ---------------------------------------------------------------- percentages and scorecards

def suppressed_label(small: int = SMALL) -> str:
    """What a withheld percentage reads: ``"n/a (<5)"`` for the default ``small``."""
    return SUPPRESSED_PCT if small == SMALL else f"n/a (<{small})"


def suppress_pct(pct, base, small: int = SMALL):
    """A percentage as shown to a minimised view: kept only when neither its ``base`` (the count
    it is a share of) nor the count it implies (``round(pct * base / 100)``) is from 1 to
    ``small - 1``; otherwise ``"n/a (<5)"``. A percentage with no known numeric base is withheld
    too (do not risk it). Non-numbers (``None``, text) pass through.

    Why: "100% of 2 children" identifies people as a count of 2 does, and a percentage of a
    shown base would give back a count that is itself banded as ``"<5"``.

    >>> suppress_pct(95.0, 40), suppress_pct(5.0, 40), suppress_pct(33.3, 3)
    (95.0, 'n/a (<5)', 'n/a (<5)')
    """
    if pct is None or not _is_number(pct):
        return pct
    if not _is_number(base):
        return suppressed_label(small)
    if is_small(base, small) or is_small(round(float(pct) * float(base) / 100.0), small):
        return suppressed_label(small)
    return pct


def format_pct(num, den, small: int = SMALL, minimise: bool = True, digits: int = 0) -> str:
    """``num / den`` as a percentage string for a table (``"42%"``), ``"n/a"`` when ``den`` is
    0 or missing, and, when ``minimise``, ``"n/a (<5)"`` under the rule of :func:`suppress_pct`."""
    if _missing(den) or not den or _missing(num):
        return "n/a"
    pct = 100.0 * float(num) / float(den)
    if minimise:
        shown = suppress_pct(pct, float(den), small)
        if isinstance(shown, str):
            return shown
    return f"{pct:.{digits}f}%"


def suppress_scorecard(d: Mapping, small: int = SMALL, exempt: Iterable[str] = ("period",),
                       bases: Mapping | None = None, pct_base: Mapping[str, str] = PCT_BASE) -> dict:
    """A scorecard dict (``geo.meetings.scorecards.mog_scorecard``, ``cse_scorecard``) as shown to a
    minimised view:

    - counts (ints) go through :func:`small_count` (1-4 become ``"<5"``);
    - each percentage key declared in ``pct_base`` (``geo.meetings.scorecards.PCT_BASE``) goes through
      :func:`suppress_pct` with its base, looked up in the same dict and then the enclosing ones
      (a dict of percentages, e.g. ``by_risk_pct``, shares one base);
    - any other float ending ``_pct`` or ``_rate`` has no declared base and is withheld;
    - nested dicts are treated alike; keys in ``exempt`` (top level only) are kept as they are.

    Why: a scorecard is read alongside its counts; suppressing the counts alone would leave
    the percentages to give them back.
    """
    exempt = set(exempt)
    scope = {**(bases or {}), **{k: v for k, v in d.items() if _is_count(v)}}
    out = {}
    for k, v in d.items():
        if k in exempt:
            out[k] = v
        elif k in pct_base:
            base = scope.get(pct_base[k])
            if isinstance(v, dict):
                out[k] = {kk: suppress_pct(vv, base, small) for kk, vv in v.items()}
            else:
                out[k] = suppress_pct(v, base, small)
        elif isinstance(v, dict):
            out[k] = suppress_scorecard(v, small, (), scope, pct_base)
        elif _is_count(v):
            out[k] = small_count(v, small)
        elif isinstance(v, float) and (k.endswith("_pct") or k.endswith("_rate")):
            out[k] = suppressed_label(small)    # a percentage without a declared base
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------- network nodes

#: kinds of network node whose label is public: licensed premises (name and licence number are on
#: the public licensing register). Every other node that is not a child or adult (a place, which
#: may be a home; a vehicle, whose registration names its keeper) is labelled by its kind only.
PUBLIC_NODE_KINDS = frozenset({"premises"})


def node_label(kind, label) -> str:
    """How a minimised view labels a network node that is not a child or an adult: a premises
    by its public label; anything else (a place, a vehicle) by its kind, never by its value.

    Why: a vehicle registration identifies the adult who keeps it (DVLA) and a place's text can be
    a child's home, so the API and the packs show neither to a pseudonymised view.

    >>> node_label("vehicle", "AB51 CDE"), node_label("premises", "The Swan"), node_label(None, "B7 4PS")
    ('vehicle', 'The Swan', 'place')
    """
    if kind in PUBLIC_NODE_KINDS and label is not None and not _missing(label):
        return str(label)
    return str(kind or "place")


# ---------------------------------------------------------------- records

def drop_personal(record: Mapping, keys: frozenset = PERSONAL_KEYS) -> dict:
    """The record without :data:`PERSONAL_KEYS` (names, dates of birth, ids, addresses,
    placement locations, free-text locations)."""
    return {k: v for k, v in record.items() if k not in keys}


# ---------------------------------------------------------------- tables of results (one policy)

#: counts of children, episodes or records under any name: banded like ``children``
COUNT_FIELDS = frozenset({
    "episodes", "children", "events", "mentions", "intel", "co_episodes", "near_children",
    "recent_children", "named_children", "rhi_mentions", "link_mentions", "event_mentions",
    "cse_children", "missing_children",
})
#: fields computed from counts, which give a banded count back (``rate x population``, a score
#: that adds counts, an explanation that spells them out): withheld in every row where a count
#: is banded, and whenever the text itself states a count of 1 to ``small - 1``
DERIVED_FIELDS = frozenset({
    "rate", "population", "value", "explanation", "score", "expected", "intel_weight",
    "intel_grades", "reasons", "evidence",
})
#: exact positions and distances that would undo the grid (a cluster's centroid, its distance
#: to a premises whose location is public): never sent to a minimised view
LOCATING_FIELDS = frozenset({
    "centroid_e", "centroid_n", "easting", "northing", "nearest_premises_m", "lat", "lon",
    "x", "y", "found_e", "found_n",
})
#: dates in result tables: to the day for case views, to the month for licensing officers
DATE_FIELDS = frozenset({"first_seen", "last_seen", "first", "last", "at", "reported_at",
                         "returned_at", "last_reported"})

_SMALL_NUMBER = None


def states_small_count(text, small: int = SMALL) -> bool:
    """True when a free text states a whole number from 1 to ``small - 1`` (``"3 different
    children"``, ``"1 intelligence log"``); grades such as ``1C`` and decimals are not counts."""
    import re
    global _SMALL_NUMBER
    if not isinstance(text, str):
        return False
    if _SMALL_NUMBER is None:
        _SMALL_NUMBER = re.compile(r"(?<![\w.=])(\d+)(?![\w.])")
    return any(0 < int(m) < small for m in _SMALL_NUMBER.findall(text))


def minimise_frame(df: pd.DataFrame, small: int = SMALL, dates: str | None = "day",
                   counts: frozenset = COUNT_FIELDS, derived: frozenset = DERIVED_FIELDS,
                   drop: frozenset = LOCATING_FIELDS | PERSONAL_KEYS,
                   band: bool = True) -> pd.DataFrame:
    """A table of results (hot spots, clusters, premises of concern, any layer's properties) as a
    minimised view may receive it; the one rule used by the API's layers and endpoints and the
    meeting packs:

    - ``drop`` (exact positions and distances, personal keys) removed;
    - every column in ``counts`` banded (1 to ``small - 1`` read ``"<small"``);
    - every column in ``derived`` set to None in each row where a count was banded, and a text
      that itself states a small count withheld wherever it is;
    - every column in :data:`DATE_FIELDS` reduced to ``dates`` (``"day"`` or ``"month"``;
      None keeps them).

    ``band=False`` leaves the counts as numbers (a caller that bands them itself, as the packs'
    tables do) but still withholds the derived fields of rows whose counts are small.

    Why: banding ``children`` is worthless if ``rate`` and ``population`` beside it give it back
    (rate x population / 1000), or if the explanation says "3 different children found within
    50 m"; an exact centroid undoes the 250 m grid of the point it labels.
    """
    if df is None:
        return df
    out = df.drop(columns=[c for c in df.columns if c in drop])
    n = len(out)
    banded = np.zeros(n, dtype=bool)
    cols = [c for c in out.columns if c in counts]
    for c in cols:
        v = pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float)
        banded |= (v > 0) & (v < small)
    for c in [c for c in out.columns if c in derived]:
        s = out[c].astype(object)
        hide = banded | s.map(lambda t: states_small_count(t, small)).to_numpy(dtype=bool)
        out[c] = s.where(~hide, None)
    for c in cols if band else ():
        out[c] = pd.Series(small_counts(out[c].tolist(), small), index=out.index, dtype=object)
    if dates:
        for c in [c for c in out.columns if c in DATE_FIELDS]:
            out[c] = coarsen_dates(out[c], dates).to_numpy()
    return out
