"""The ``tiles`` step of ``wayfinder run``: the pre-generalised tiles of every dense point layer
and minimisation view (``api.jobs.tilesets``), built from the map layers (``api.jobs.layers``) as
the service prepares them, so the service never makes such a tile from the points."""
from __future__ import annotations

from api.jobs.layers import LAYERS, LayerCache
from api.jobs.tilesets import GENERALISED, Points, ensure, points_stamp, stamp_of, stored_stamp
from api.keys import keys_for
from api.minimise import VIEWS, Minimiser
from api.settings import Settings
from geo.storage.protocol import StoreLike


def build_from_store(store: StoreLike, settings: Settings, minimiser: Minimiser) -> dict:
    """The tilesets of every generalised layer and view from the store as it is now (the
    ``tiles`` step of ``wayfinder run``): the same points and views the service prepares."""
    stamp = points_stamp(LayerCache(store, settings, minimiser).fingerprint())
    summary = {}
    for layer_id in GENERALISED:
        if all(stored_stamp(store.engine, layer_id, view) == stamp_of(stamp, minimiser)
               for view in VIEWS):          # already of this store state: nothing to build
            summary[layer_id] = {view: {"current": True} for view in VIEWS}
            continue
        layer = LAYERS[layer_id]
        full = layer.build(store, settings)
        prepared = {(layer_id, view): Points.of(layer.minimise(full, view, minimiser))
                    for view in VIEWS}
        written = ensure(store.engine, prepared, stamp, minimiser, settings)
        summary[layer_id] = {view: {"points": len(p), "cells": written.get((layer_id, view)),
                                    "current": (layer_id, view) not in written}
                             for (_, view), p in prepared.items()}
    return summary


def build_for_install(store: StoreLike, settings: Settings | None = None) -> dict:
    """``build_from_store`` with the install's settings (given, else read from the environment) and minimiser, as the
    service makes them (``api.service.app.build_service``)."""
    settings = settings or Settings()
    minimiser = Minimiser(keys_for(store.engine, settings.secret).pseudonym,
                          float(settings.grid_m), settings.small_count)
    return build_from_store(store, settings, minimiser)
