"""Geocoding shared by the commands and the service (the pipeline's geocode step is
``api.jobs.pipeline.step_geocode``)."""
from __future__ import annotations

import hashlib

from geo.storage.protocol import StoreLike


def analyst_overrides(store: StoreLike):
    """The analysts' geocode overrides (reused for the same text on every later geocode), or
    None when there are none."""
    done = store.frame("geocodes")
    if done.empty or "override" not in done:
        return None
    ov = done[done["override"].astype(bool)]
    return ov if len(ov) else None


class GeocodeOverrideError(ValueError):
    """An analyst's correction that cannot be recorded (one-line reason)."""


def gazetteer_of(store: StoreLike):
    """The store's gazetteer; GeocodeOverrideError when no postcodes are loaded."""
    from geo.places.gazetteer import gazetteer_from_store
    gaz = gazetteer_from_store(store)
    if gaz.postcodes.empty:
        raise GeocodeOverrideError("no postcodes loaded in the store: run `wayfinder reference` first")
    return gaz


def record_override(store: StoreLike, text, postcode, easting, northing, premises, none,
                    by) -> tuple[str, float, float]:
    """Record an analyst's correction of a location text (reused for the same text on every
    later geocode) and audit it; returns (precision, easting, northing). GeocodeOverrideError
    says why it cannot be recorded."""
    import numpy as np
    import pandas as pd

    from geo.storage import schema
    from geo.places.gazetteer import to_wgs84
    from geo.storage.store import utcnow

    gaz = gazetteer_of(store)
    if postcode is not None:
        pt = gaz.postcode_points(pd.Series([postcode]))
        if pt["easting"].isna().all():
            raise GeocodeOverrideError(f"postcode {postcode!r} is not in the loaded gazetteer")
        e, n = float(pt["easting"].iloc[0]), float(pt["northing"].iloc[0])
        precision, match_id = "postcode", f"postcode:{pt['postcode'].iloc[0]}"
    elif premises is not None:
        prem = store.frame("premises")
        hit = prem[(prem["premises_id"].astype(str) == premises) & prem["easting"].notna()]
        if hit.empty:
            raise GeocodeOverrideError(f"no premises {premises!r} with coordinates in the store")
        e, n = float(hit["easting"].iloc[0]), float(hit["northing"].iloc[0])
        precision, match_id = "premises", f"premises:{premises}"
    elif none:
        e = n = float("nan")
        precision, match_id = "none", None
    else:
        e, n = float(easting), float(northing)
        if not (0 <= e <= 700_000 and 0 <= n <= 1_300_000):
            raise GeocodeOverrideError("easting/northing are outside British National Grid (EPSG:27700 metres)")
        precision, match_id = "address", None
    where = gaz.locate(np.array([e]), np.array([n]))
    lat, lon = to_wgs84(np.array([e]), np.array([n]))
    nan = lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else v  # noqa: E731
    row = {"text": text, "easting": nan(e), "northing": nan(n), "latitude": nan(float(lat[0])),
           "longitude": nan(float(lon[0])), "precision": precision,
           "confidence": 1.0 if precision != "none" else 0.0, "method": "override",
           "match_id": match_id, "ward_code": where["ward_code"].iloc[0],
           "lsoa_code": where["lsoa_code"].iloc[0], "override": True, "reviewed_by": by,
           "updated_at": utcnow()}
    t = schema.geocodes
    with store.engine.begin() as conn:
        conn.execute(t.delete().where(t.c.text == text))
        store.insert_frame(conn, t, pd.DataFrame([row]))
    _log(store, by, text, precision)
    return precision, e, n


def _log(store: StoreLike, by: str, text: str, precision: str) -> None:
    """Audit the alteration without the text itself (it may be a child's address)."""
    from api.jobs.audit import AuditEntry, append_entries

    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    append_entries(store.engine, [AuditEntry(
        action="alteration", user_name=by, role="analyst", route="cli:review",
        what=f"geocode override text#{digest} precision={precision}",
        purpose="geocoding review", result_count=1)])
