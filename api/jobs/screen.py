"""``wayfinder screen "TEXT"``: licensing screening of an address, postcode, premises name or
licence application (shared/DATA_CONTRACT.md; the evidence rules are geo/meetings/screening.py).

``wayfinder screen "B7 4PS" --db URL [--radius M] [--from D] [--to D] [--json] [--role ROLE]``

The text is geocoded against the loaded gazetteer, premises and places (as ``wayfinder geocode``);
a text that cannot be placed stops with a one-line reason. Made for a licensing officer by default
(geo.disclosure: no person references, counts 1-4 as "<5", months not days); ``--role analyst``
gives exact counts and dates. Every screening is written to the audit trail as a consultation.
"""
from __future__ import annotations

import json
from typing import Callable

from geo import results as R
from geo.storage.protocol import StoreLike

ROLES = ("licensing_officer", "analyst")
FRAMES = ("premises", "place_events", "intelligence", "crimes")


class ScreenError(ValueError):
    """The text cannot be placed or the period cannot be read."""


def period_bounds(start: str | None, end: str | None):
    """[start of --from, end of --to) in UTC, either end open (geo.periods rules)."""
    from geo.periods import Period, PeriodError
    try:
        lo = Period.parse(start, start).start if start else None
        hi = Period.parse(end, end).end if end else None
    except PeriodError as exc:
        raise ScreenError(str(exc)) from None
    if lo is not None and hi is not None and hi <= lo:
        raise ScreenError(f"the period {start} to {end} is empty: --to is before --from")
    return lo, hi


def run_screen(text: str, frame: Callable, result: Callable, gazetteer: Callable, overrides,
               radius: float, start, end, analyst: bool, small: int, reviews=None) -> dict:
    """Geocode ``text`` and screen the evidence around it (frames and results come from the
    store or the API's layer cache through ``frame(name)`` / ``result(name)``)."""
    import pandas as pd

    from geo.meetings import screening
    from geo.places.geocode import geocode
    text = " ".join(str(text).split())
    if not text:
        raise ScreenError("nothing to screen: give an address, postcode, premises name or application")
    if not 0 < radius <= 5000:
        raise ScreenError(f"--radius {radius:g}: give metres between 1 and 5000")
    gaz = gazetteer()
    if gaz.postcodes.empty:
        raise ScreenError("no postcodes loaded in the store: run `wayfinder reference` first")
    loc = geocode(pd.Series([text]), gaz, overrides=overrides).iloc[0].to_dict()
    if loc["precision"] == "none" or pd.isna(loc["easting"]):
        raise ScreenError(f"{text!r} could not be placed (no postcode, address, premises or place "
                          f"matched): try a postcode or a fuller address")
    frames = {n: frame(n) for n in FRAMES}
    missing = [n for n, f in frames.items() if f is None]
    if missing:
        raise ScreenError(f"the store cannot give {', '.join(missing)}: run wayfinder ingest")
    geo = frame("geocodes")
    if geo is not None and len(geo):     # which premises a crime's or an item's location names
        match = geo.drop_duplicates("text").set_index("text")["match_id"]
        for name in ("crimes", "intelligence"):
            f = frames[name]
            frames[name] = f.assign(match_id=f["location_text"].map(match)) if len(f) else f
    out = screening.screen(loc, frames["premises"], frames["place_events"], frames["intelligence"],
                           frames["crimes"], radius, start, end, concern=result(R.PREMISES_OF_CONCERN.name),
                           reviews=reviews)
    if not analyst:
        out = screening.minimise(out, small)
    out["explanation"] = screening.explain(out)
    return out


def gazetteer_of(store: StoreLike):
    """The store's gazetteer, or the reason there is none."""
    from geo.places.gazetteer import gazetteer_from_store
    if not store.has_reference():
        raise ScreenError("no postcodes loaded in the store: run `wayfinder reference` first")
    return gazetteer_from_store(store)


def _result(store: StoreLike, name):
    from geo.storage.store import StoreError
    try:
        return store.read_result(name)
    except StoreError:
        return None


def record_screening(store: StoreLike, user: str, role: str, text: str, out: dict) -> None:
    """A consultation entry: who screened which place (the text as given, not the evidence)."""
    from api.jobs.audit import AuditEntry, append_entries
    from api.tables import create_tables
    create_tables(store.engine)
    append_entries(store.engine, [AuditEntry(
        action="consultation", user_name=user, role=role, route="screen",
        what=f"screen {text!r} radius {out['radius_m']:g} m",
        result_count=len(out["premises"]), status=0)])
