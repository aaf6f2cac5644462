"""Geocoding shared by the commands and the service (the pipeline's geocode step is
``api.jobs.pipeline.step_geocode``)."""
from __future__ import annotations

from geo.store_protocol import StoreLike


def analyst_overrides(store: StoreLike):
    """The analysts' geocode overrides (reused for the same text on every later geocode), or
    None when there are none."""
    done = store.frame("geocodes")
    if done.empty or "override" not in done:
        return None
    ov = done[done["override"].astype(bool)]
    return ov if len(ov) else None
