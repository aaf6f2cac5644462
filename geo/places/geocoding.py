"""Geocoding what the store holds: every location text of every record, once per distinct text.

The resolution itself is `geo.places.geocode` (pure); this module collects the texts the store has not
yet geocoded, resolves them against a gazetteer built from the store, and saves the results in
the `geocodes` table (one row per distinct text as written). Premises without coordinates are
placed first at their postcode's centroid, so that later texts naming them can match them.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from geo.storage import schema
from geo.model import FILES
from geo.storage.store import Store, utcnow

#: (table, column, is a `;` list) of every location text in the drop tables, from the contract's
#: declaration of each file's location columns (geo.model).
LOCATION_FIELDS = tuple((spec.table, loc, spec.column(loc).kind == "list")
                        for spec in FILES for loc in spec.locations)


def stored_texts(store: Store) -> pd.Series:
    """Every distinct location text in the drop tables."""
    with store.engine.connect() as conn:
        return _location_texts(conn, ungeocoded=False)


def ungeocoded_texts(store: Store) -> pd.Series:
    """The distinct location texts of the drop tables not yet in ``geocodes``, sorted: what
    ``stored_texts`` less the geocoded texts gives, with a text column filtered in the
    database (``NOT IN`` the geocodes' unique text index), so that on a geocoded store only
    the new texts are read."""
    with store.engine.connect() as conn:
        texts = _location_texts(conn, ungeocoded=True)
    return texts.sort_values(kind="stable").reset_index(drop=True)


def _location_texts(conn, ungeocoded: bool) -> pd.Series:
    """The distinct location texts of :data:`LOCATION_FIELDS` (the cells of a ``;`` list
    column split), in field order; ``ungeocoded``: only those not in ``geocodes`` (a list
    column's parts are checked against the geocoded texts here, a text column in the query)."""
    g = schema.geocodes.c.text
    parts, done = [], None
    for table, column, is_list in LOCATION_FIELDS:
        col = schema.metadata.tables[table].c[column]
        q = sa.select(col).distinct().where(col.is_not(None))
        if ungeocoded and not is_list:
            q = q.where(col.not_in(sa.select(g).scalar_subquery()))
        values = pd.Series(conn.execute(q).scalars().all(), dtype=object)
        if is_list:
            values = values.str.split(";").explode().str.strip()
            if ungeocoded:
                done = set(conn.execute(sa.select(g)).scalars()) if done is None else done
                values = values[~values.isin(done)]
        parts.append(values)
    texts = pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype=object)
    return pd.Series(texts[texts.astype(bool)].unique(), dtype=object)


def geocode_stored_texts(store: Store, refresh: bool = False) -> int:
    """Geocode every stored location text not yet geocoded (all of them with `refresh`, keeping
    analysts' overrides). Returns the number of texts written."""
    from geo.places.gazetteer import gazetteer_from_store
    from geo.places.geocode import geocode

    _place_premises(store)
    texts = stored_texts(store)
    done = store.table("geocodes")
    if not refresh:
        texts = texts[~texts.isin(done["text"])]
    else:
        texts = texts[~texts.isin(done.loc[done["override"].astype(bool), "text"])]
    if texts.empty:
        return 0
    gaz = gazetteer_from_store(store)
    overrides = done[done["override"].astype(bool)]
    result = geocode(texts, gaz, overrides=overrides if len(overrides) else None)
    result = result.assign(override=False, updated_at=utcnow())
    with store.engine.begin() as conn:
        if refresh:
            for i in range(0, len(texts), 5000):
                conn.execute(schema.geocodes.delete().where(
                    schema.geocodes.c.text.in_(texts.iloc[i:i + 5000].tolist())))
        store.insert_frame(conn, schema.geocodes, result)
    return len(result)


def _place_premises(store: Store) -> int:
    """Give premises registered without coordinates the centroid of their postcode (Code-Point
    Open); the premises keep `coordinates_from = 'geocoded'` so the precision is known."""
    from geo.places.postcodes import normalise_postcodes

    t = schema.premises
    todo = store.read_sql(sa.select(t.c.id, t.c.postcode).where(t.c.coordinates_from == "none"))
    if todo.empty:
        return 0
    pcs = store.table("postcodes").set_index("postcode")
    key = normalise_postcodes(todo["postcode"].fillna(""))
    rows = pd.DataFrame({"id": todo["id"], "easting": key.map(pcs["easting"]).to_numpy(),
                         "northing": key.map(pcs["northing"]).to_numpy(),
                         "coordinates_from": "geocoded"}).dropna(subset=["easting"])
    with store.engine.begin() as conn:
        store.update_frame(conn, t, rows, ["id"])
    return len(rows)
