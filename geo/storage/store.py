"""The store: one schema on an SQLite file (embedded default) or PostGIS (the service).

`open_store(url)` migrates the database to the current schema and returns a `Store` whose
`frame(name)` loads the analysis frames of docs/FRAMES.md. Analyses never read the database
themselves; the CLI and the API load frames here, call pure functions, and save what they return
with `write_result`.
"""
from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
import sqlalchemy as sa
from pandas.api.extensions import take

from geo.collector import gc_paused
from geo.storage import schema
from geo.model import grading_code

DEFAULT_URL = "sqlite:///wayfinder.sqlite"
MIGRATIONS = Path(__file__).with_name("migrations")
INSERT_CHUNK = 100_000
#: the columns of the geocodes table the frames take (place_events, in this order)
GEOCODE_COLUMNS = ("text", "easting", "northing", "precision", "confidence", "method",
                   "match_id", "ward_code", "lsoa_code")


class StoreError(RuntimeError):
    """The store cannot be opened or does not hold what was asked for."""


def resolve_url(url: str | None = None) -> str:
    """The store URL given (`--db`, or WAYFINDER_DB read by the caller's settings), else an
    SQLite file in the current folder."""
    return url or DEFAULT_URL


def utcnow() -> datetime:
    """Now, as the naive UTC the schema stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


STORE_URL_FORMS = "sqlite:///PATH/wayfinder.sqlite or postgresql://USER@HOST/DATABASE"


def open_store(url: str | None = None, migrate: bool = True) -> "Store":
    """Open (and by default migrate) the store at an SQLAlchemy URL."""
    return Store(resolve_url(url), migrate=migrate)


def _split_list(values: pd.Series) -> pd.Series:
    """`;`-separated cells to lists (ingest stored them stripped, without empty parts)."""
    cells = values.fillna("").astype(str).tolist()
    return pd.Series([c.split(";") if c else [] for c in cells], index=values.index, dtype=object)


def _rows_frame(rows: list, keys: list[str]) -> pd.DataFrame:
    """The frame ``pd.read_sql`` makes of these rows (its own builder: the same dtypes). That
    builder is pandas' internal: should a pandas release move it, the public
    ``DataFrame.from_records`` builds the frame (tests/geo/test_store_frames.py checks the
    frames equal ``pd.read_sql``'s either way)."""
    try:
        from pandas.io.sql import _convert_arrays_to_dataframe
    except ImportError:
        return pd.DataFrame.from_records(rows, columns=keys, coerce_float=True)
    return _convert_arrays_to_dataframe(rows, keys, coerce_float=True)


def _rows_of(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """The row of each value among unique string ``keys`` (-1: absent, or missing), as
    ``pd.Index(keys).get_indexer(values)`` gives it, by Arrow's hash lookup (no Python string
    per value)."""
    if not len(keys):
        return np.full(len(values), -1, dtype=np.intp)
    keys = pa.array(keys, type=pa.large_string(), from_pandas=True)
    found = pc.index_in(pa.array(values, type=keys.type, from_pandas=True), value_set=keys)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", format="ISO8601").dt.tz_localize("UTC")


#: geocoded columns a frame makes from one of its table's texts
_LAST_SEEN = frozenset(f"last_seen_{c}" for c in ("e", "n", "precision", "ward", "lsoa"))
_FOUND = frozenset(f"found_{c}" for c in ("e", "n", "precision", "confidence", "ward", "lsoa"))
_PLACEMENT = frozenset(f"placement_{c}" for c in ("e", "n", "ward"))
_ADDRESS = frozenset(f"address_{c}" for c in ("e", "n", "precision", "ward"))
#: the frames that read only the table columns a caller's ``columns`` need (Store.frame)
_NARROWS = ("episodes", "children", "persons", "return_interviews")


def _read_for(table: str, want: frozenset | None, keys: tuple, made_from: dict | None = None
              ) -> list | None:
    """The columns of ``table`` a frame restricted to the columns ``want`` reads (None: all):
    ``keys`` (what its own keys and person ids are made from), the wanted columns the table
    holds, and each column of ``made_from`` (``{table column: frame columns made from it}``)
    that a wanted column is made from."""
    if want is None:
        return None
    have = [c.name for c in schema.metadata.tables[table].c]
    need = set(keys) | (want & set(have))
    need |= {c for c, made in (made_from or {}).items() if want & made}
    return [c for c in have if c in need]


class Store:
    """A migrated database and the frames analyses read from it."""

    def __init__(self, url: str, migrate: bool = True):
        self.url = url
        kwargs = {}
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:" and not Path(path).parent.exists():
                raise StoreError(f"cannot open {url}: folder {Path(path).parent} does not exist")
        scheme = url.partition(":")[0].lower()
        if scheme in ("http", "https"):
            raise StoreError(f"{url} is a web address, not a database: --db takes "
                             f"{STORE_URL_FORMS} (the service's web address is for QGIS, GDAL "
                             "and browsers)")
        try:
            self.engine = sa.create_engine(url, future=True, **kwargs)
        except Exception as exc:  # bad URL, missing driver
            raise StoreError(f"cannot open {url}: not a database URL Wayfinder can open "
                             f"({' '.join(str(exc).split())}); use {STORE_URL_FORMS}") from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            self.migrate()

    # ---- schema ------------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgis(self) -> bool:
        return self.dialect == "postgresql"

    def migrate(self) -> None:
        """Bring the database to the latest migration (Alembic, geo/storage/migrations)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open {self.url}: {exc.orig}") from exc

    # ---- bulk writes --------------------------------------------------------------------------
    def insert_frame(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        """Insert every row of `frame` (columns named as the table's) in one round of the
        fastest path the backend has: COPY on PostgreSQL, executemany on SQLite."""
        if frame.empty:
            return 0
        cols = [c for c in frame.columns if c in table.c]
        for start in range(0, len(frame), INSERT_CHUNK):   # bounded memory for big files
            part = frame[cols].iloc[start:start + INSERT_CHUNK]
            if self.is_postgis:
                rows = _rows(part)
                raw = conn.connection.driver_connection
                with raw.cursor() as cur:
                    with cur.copy(f'COPY {table.name} ({", ".join(cols)}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                rows = _sqlite_rows(part)
                marks = ", ".join("?" for _ in cols)
                conn.exec_driver_sql(
                    f'INSERT INTO {table.name} ({", ".join(cols)}) VALUES ({marks})', rows)
        return len(frame)

    def update_frame(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame,
                     key: Iterable[str]) -> int:
        """Update rows matched on `key` columns with the other columns of `frame`."""
        if frame.empty:
            return 0
        key = list(key)
        cols = [c for c in frame.columns if c in table.c and c not in key]
        stmt = (table.update()
                .where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in key])
                .values({c: sa.bindparam(f"v_{c}") for c in cols}))
        params = [{**{f"k_{k}": r[k] for k in key}, **{f"v_{c}": r[c] for c in cols}}
                  for r in _records(frame[key + cols])]
        conn.execute(stmt, params)
        return len(frame)

    # ---- reading ----------------------------------------------------------------------------
    def has_reference(self) -> bool:
        """Whether postcodes and boundaries are loaded (``wayfinder reference``)."""
        with self.engine.connect() as conn:
            return all(conn.execute(sa.select(t.c[c]).limit(1)).first() is not None
                       for t, c in ((schema.postcodes, "postcode"), (schema.areas, "area_code")))

    def read_sql(self, query, params: dict | None = None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn, params=params)

    def _read_columns(self, columns: list[sa.Column]) -> pd.DataFrame:
        """``pd.read_sql(sa.select(*columns))`` without SQLAlchemy's per-row work: the driver's
        rows go to the function read_sql builds its frame with, and only the columns whose type
        converts what the driver returns (DATETIME, DATE and BOOLEAN on SQLite, stored as text
        and integers) go through that type's own conversion first, one column at a time."""
        dialect = self.engine.dialect
        with self.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                cur.execute(str(sa.select(*columns).compile(dialect=dialect)))
                rows = cur.fetchall()
                types = [d[1] for d in cur.description]
            finally:
                cur.close()
        keys = [c.name for c in columns]
        df = _rows_frame(rows, keys)
        for i, (col, coltype) in enumerate(zip(columns, types)):
            convert = col.type.dialect_impl(dialect).result_processor(dialect, coltype)
            if convert is not None and rows:
                df.isetitem(i, _rows_frame([(convert(r[i]),) for r in rows], keys[i:i + 1])
                            .iloc[:, 0])
        return df

    def table(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """A whole table, or only ``columns`` of it; read once per `frame()` call however many
        builders need it (a builder wanting some columns takes them from the whole table when
        another builder read it already)."""
        memo = getattr(self, "_memo", None)
        t = schema.metadata.tables[name]
        columns = tuple(columns) if columns is not None else None
        key = ("table", name, columns)
        if memo is not None:
            if key in memo:
                return memo[key].copy(deep=False)   # copy on write: changes stay the builder's
            for k, df in memo.items():     # a read of more columns of the table
                if k[0] == "table" and k[1] == name and (
                        k[2] is None or columns is not None and set(columns) <= set(k[2])):
                    return df.copy(deep=False) if columns is None else df[list(columns)]
        df = self._read_columns([t.c[c] for c in columns] if columns is not None else list(t.c))
        if memo is not None:
            memo[key] = df
            return df.copy(deep=False)
        return df

    def _records(self, name: str, columns=None, skip=("id", "row_hash", "run_id")
                 ) -> pd.DataFrame:
        """A drop table (or ``columns`` of it) without the bookkeeping columns no frame keeps."""
        if columns is None:
            columns = [c.name for c in schema.metadata.tables[name].c if c.name not in skip]
        return self.table(name, columns)

    def frame(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """One of the frames of docs/FRAMES.md. ``columns``: the frame's columns the caller
        reads; the frame holds at least those (the episodes, children, persons and return
        interviews read only the table columns they are made from, the others are whole)."""
        builder = getattr(self, f"_frame_{name}", None)
        if builder is None:
            raise StoreError(f"no frame called {name!r}")
        narrow = columns is not None and name in _NARROWS
        outer = getattr(self, "_memo", None) is None
        if outer:
            self._memo = {}
        try:
            # a frame another frame is made from (the place events read the episodes and
            # return interviews) is built once per call of `frames()`
            key = ("frame", name, tuple(sorted(columns))) if narrow else ("frame", name)
            if key not in self._memo:
                with gc_paused():
                    self._memo[key] = builder(frozenset(columns)) if narrow else builder()
            return self._memo[key]
        finally:
            if outer:
                self._memo = None

    def frames(self, names, missing_ok=(), columns: dict | None = None) -> dict:
        """Several frames, each table read once for all of them (the frames of the network
        step share the episodes, geocodes and identity tables: read per frame they were half
        the load time at national scale). A frame in ``missing_ok`` that the store cannot
        build is None (a warning on stderr) instead of an error. ``columns``: ``{frame: the
        columns read}`` (:meth:`frame`)."""
        self._memo = {}
        out = {}
        try:
            for name in names:
                try:
                    out[name] = self.frame(name, (columns or {}).get(name))
                except Exception as exc:
                    if name not in missing_ok:
                        raise
                    out[name] = None
                    print(f"warning: frame {name} unavailable ({exc})", file=sys.stderr)
        finally:
            self._memo = None
        return out

    def _built(self, name: str, columns: tuple) -> pd.DataFrame | None:
        """A frame this call of `frames()` built already, whole or with ``columns`` at least."""
        for key, df in (getattr(self, "_memo", None) or {}).items():
            if key[:2] == ("frame", name) and (len(key) == 2 or set(columns) <= set(df.columns)):
                return df
        return None

    def _person_ids(self, record_keys: pd.Series) -> pd.Series:
        """The resolved person_id of each record key (the key itself until identity has run)."""
        ids = self.table("identity_links", ("record", "person_id"))
        if ids.empty:
            return record_keys.astype(object).copy()
        rows = _rows_of(record_keys, ids["record"])      # record_keys.map(person_id by record)
        found = pd.Series(take(ids["person_id"].array, rows, allow_fill=True),
                          index=record_keys.index, copy=False).astype(object)
        return found.where(found.notna(), record_keys)

    def _geocode_rows(self, texts: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
        """The geocodes table and, per text, its row there (-1: not geocoded)."""
        geo = self.table("geocodes", GEOCODE_COLUMNS)
        return geo, _rows_of(texts, geo["text"])

    def _geocoded(self, texts: pd.Series, prefix: str, cols=("e", "n", "precision", "ward")
                  ) -> pd.DataFrame:
        """Geocode columns for a series of location texts, from the geocodes table (each column
        as ``texts.map(geocodes[column])`` would give it, from one lookup of the texts)."""
        geo, rows = self._geocode_rows(texts)
        names = {"e": "easting", "n": "northing", "precision": "precision",
                 "confidence": "confidence", "ward": "ward_code", "lsoa": "lsoa_code"}
        out = pd.DataFrame(index=texts.index)
        for c in cols:
            out[f"{prefix}_{c}"] = pd.Series(
                take(geo[names[c]].array, rows, allow_fill=True), index=texts.index,
                copy=False) if len(geo) else None
        for c in ("e", "n", "confidence"):
            if f"{prefix}_{c}" in out:
                out[f"{prefix}_{c}"] = out[f"{prefix}_{c}"].astype(float)
        if f"{prefix}_precision" in out:
            p = out[f"{prefix}_precision"].astype(object)
            out[f"{prefix}_precision"] = p.where(p.notna(), "none")
        return out

    def _frame_children(self, want: frozenset | None = None) -> pd.DataFrame:
        df = self._records("children", _read_for("children", want, ("source", "child_id"),
                                                 {"placement_postcode": _PLACEMENT}))
        df["child_key"] = df["source"] + "/" + df["child_id"]
        if want is None or want & _PLACEMENT:
            df = df.join(self._geocoded(df["placement_postcode"], "placement"))
            df = df.drop(columns=["placement_precision"])
        df["person_id"] = self._person_ids(df["child_key"])
        if "dob" in df:
            df["dob"] = pd.to_datetime(df["dob"], errors="coerce")
        if "from_episode" in df:
            df["from_episode"] = df["from_episode"].astype(bool)
        return df

    def _frame_persons(self, want: frozenset | None = None) -> pd.DataFrame:
        df = self._records("persons", _read_for("persons", want, ("source", "person_id"),
                                                {"address": _ADDRESS}))
        df = df.rename(columns={"person_id": "person_id_src"})
        df["person_key"] = df["source"] + "/" + df["person_id_src"]
        if want is None or want & _ADDRESS:
            df = df.join(self._geocoded(df["address"], "address"))
        df["person_id"] = self._person_ids(df["person_key"])
        if "dob" in df:
            df["dob"] = pd.to_datetime(df["dob"], errors="coerce")
        return df

    def _episodes(self, columns=None) -> pd.DataFrame:
        """The episodes table (or ``columns`` of it) with episode_key, person_id, the times in
        UTC and the texts renamed: what the episodes and place_events frames share."""
        df = self._records("episodes", columns)
        df["episode_key"] = df["source"] + "/" + df["episode_id"]
        df["person_id"] = self._person_ids(df["child_key"])
        for c in ("reported_at", "returned_at"):
            if c in df:
                df[c] = _utc(df[c])
        return df.rename(columns={"last_seen": "last_seen_text", "found_at": "found_text"})

    def _frame_episodes(self, want: frozenset | None = None) -> pd.DataFrame:
        df = self._episodes(_read_for("episodes", want, ("source", "episode_id", "child_key"),
                                      {"last_seen": _LAST_SEEN | {"last_seen_text"},
                                       "found_at": _FOUND | {"found_text"}}))
        if want is None or want & _LAST_SEEN:
            df = df.join(self._geocoded(df["last_seen_text"], "last_seen",
                                        ("e", "n", "precision", "ward", "lsoa")))
        if want is None or want & _FOUND:
            df = df.join(self._geocoded(df["found_text"], "found",
                                        ("e", "n", "precision", "confidence", "ward", "lsoa")))
        if "found_with" in df:
            df["found_with"] = _split_list(df["found_with"])
        return df

    def _return_interviews(self, columns=None, lists=("push_factors", "pull_factors", "issues",
                                                      "places", "associates")) -> pd.DataFrame:
        """The return interviews table (or ``columns`` of it) with rhi_key, person_id (the
        child of the episode), the times in UTC and ``lists`` split."""
        df = self._records("return_interviews", columns)
        df["rhi_key"] = df["source"] + "/" + df["rhi_id"]
        ep = self.table("episodes", ("source", "episode_id", "child_key"))
        child_of = pd.Series(ep["child_key"].values,
                             index=(ep["source"] + "/" + ep["episode_id"]).values)
        child = df["episode_key"].map(child_of)
        df["person_id"] = self._person_ids(child)
        for c in ("notified_at", "offered_at", "held_at"):
            if c in df:
                df[c] = _utc(df[c])
        for c in lists:
            if c in df:
                df[c] = _split_list(df[c])
        return df

    def _frame_return_interviews(self, want: frozenset | None = None) -> pd.DataFrame:
        df = self._return_interviews(_read_for("return_interviews", want,
                                               ("source", "rhi_id", "episode_key")))
        if "seraf_score" in df:
            df["seraf_score"] = df["seraf_score"].astype("Int64")
        return df

    def _frame_place_events(self) -> pd.DataFrame:
        # the episodes and return interviews frames when this call of `frames()` built them,
        # else only the columns read here
        ep = self._built("episodes", ("episode_key", "person_id", "reported_at", "returned_at",
                                      "found_text", "last_seen_text"))
        if ep is None:
            ep = self._episodes(("source", "episode_id", "child_key", "reported_at",
                                 "returned_at", "last_seen", "found_at"))
        parts = []
        for kind, prefix, text in (("found_at", "found", "found_text"),
                                   ("last_seen", "last_seen", "last_seen_text")):
            at = ep["returned_at"].fillna(ep["reported_at"]) if kind == "found_at" \
                else ep["reported_at"]
            parts.append(pd.DataFrame({
                "event_key": ep["episode_key"] + "#" + kind, "person_id": ep["person_id"],
                "episode_key": ep["episode_key"], "kind": kind, "at": at, "text": ep[text]}))
        rhi = self._built("return_interviews", ("rhi_key", "episode_key", "person_id", "places"))
        if rhi is None:
            rhi = self._return_interviews(("source", "rhi_id", "episode_key", "places"),
                                          lists=("places",))
        rhi = rhi[["rhi_key", "episode_key", "person_id", "places"]]
        rhi = rhi.explode("places").dropna(subset=["places"])
        if len(rhi):
            when = rhi["episode_key"].map(ep.set_index("episode_key")["reported_at"])
            parts.append(pd.DataFrame({
                "event_key": rhi["rhi_key"] + "#" + rhi.groupby(level=0).cumcount().astype(str),
                "person_id": rhi["person_id"], "episode_key": rhi["episode_key"],
                "kind": "rhi_place", "at": when, "text": rhi["places"]}))
        ev = pd.concat(parts, ignore_index=True).dropna(subset=["text"])
        # inner join on the text with the geocodes that have a point: one filter of the events
        geo, rows = self._geocode_rows(ev["text"])
        located = ((geo["precision"] != "none") & geo["easting"].notna()
                   & geo["northing"].notna()).to_numpy()
        keep = rows >= 0
        keep[keep] = located[rows[keep]]
        ev = ev[keep]
        for c in GEOCODE_COLUMNS[1:]:
            ev[c] = geo[c].array.take(rows[keep])
        return ev.sort_values("event_key").reset_index(drop=True)

    def _frame_premises(self) -> pd.DataFrame:
        df = self._records("premises")
        df["premises_key"] = df["source"] + "/" + df["premises_id"]
        df = df.join(self.locate(df["easting"], df["northing"]))
        return df

    def _frame_places(self) -> pd.DataFrame:
        df = self._records("places")
        df["aliases"] = _split_list(df["aliases"])
        return df

    def _frame_intelligence(self) -> pd.DataFrame:
        df = self._records("intelligence")
        df["intel_key"] = df["source"] + "/" + df["intel_id"]
        df["recorded_at"] = _utc(df["recorded_at"])
        df["grading"] = [grading_code(a, b, c) for a, b, c in
                         zip(df["source_eval"], df["intel_eval"], df["handling"])]
        df["source_eval"] = pd.to_numeric(df["source_eval"], errors="coerce").astype("Int64")
        df = df.rename(columns={"location": "location_text"})
        geo = self._geocoded(df["location_text"], "loc", ("e", "n", "precision"))
        df["easting"], df["northing"], df["precision"] = (
            geo["loc_e"], geo["loc_n"], geo["loc_precision"])
        for c in ("subjects", "tags"):
            df[c] = _split_list(df[c])
        return df

    def _frame_links(self) -> pd.DataFrame:
        df = self._records("links")
        df["link_key"] = df["source"] + "/" + df["link_id"]
        df["observed_at"] = _utc(df["observed_at"])
        return df

    def _frame_cse_assessments(self) -> pd.DataFrame:
        df = self._records("cse_assessments")
        df["assessment_key"] = df["source"] + "/" + df["assessment_id"]
        df["person_id"] = self._person_ids(df["child_key"])
        for c in ("assessed_at", "closed_at"):
            df[c] = _utc(df[c])
        df["score"] = df["score"].astype("Int64")
        return df

    def _frame_crimes(self) -> pd.DataFrame:
        """Crimes and non-crime incidents; ``victims`` and ``suspects`` stay as the references
        written (lists), resolved to persons by ``network.graph.resolve_ref`` where needed."""
        df = self._records("crimes")
        df["crime_key"] = df["source"] + "/" + df["crime_id"]
        df["recorded_at"] = _utc(df["recorded_at"])
        for c in ("victims", "suspects"):
            df[c] = _split_list(df[c])
        df = df.rename(columns={"location": "location_text"})
        geo = self._geocoded(df["location_text"], "loc", ("e", "n", "precision", "ward"))
        df["easting"], df["northing"], df["precision"], df["ward_code"] = (
            geo["loc_e"], geo["loc_n"], geo["loc_precision"], geo["loc_ward"])
        return df

    def _frame_education(self) -> pd.DataFrame:
        df = self._records("education")
        df["record_key"] = df["source"] + "/" + df["record_id"]
        df["person_id"] = self._person_ids(df["child_key"])
        for c in ("start_date", "end_date"):
            df[c] = pd.to_datetime(df[c], errors="coerce")
        return df

    def _frame_populations(self) -> pd.DataFrame:
        df = self._records("populations", skip=("id", "row_hash", "run_id", "extra",
                                                "population_id"))
        df["year"] = df["year"].astype("Int64")
        return df

    def _frame_areas(self) -> gpd.GeoDataFrame:
        df = self.table("areas")
        geom = shapely.from_wkb(df.pop("geometry_wkb").to_numpy()) if len(df) else []
        return gpd.GeoDataFrame(df, geometry=geom, crs=schema.SRID)

    def _frame_postcodes(self) -> pd.DataFrame:
        return self.table("postcodes")

    def _frame_geocodes(self) -> pd.DataFrame:
        return self.table("geocodes")

    def _frame_held_rows(self) -> pd.DataFrame:
        return self.table("held_rows")

    def locate(self, easting: pd.Series, northing: pd.Series) -> pd.DataFrame:
        """Ward and LSOA codes of points (EPSG:27700) by point in polygon."""
        from geo.places.areas import locate_points
        return locate_points(easting, northing, self.frame("areas"))

    # ---- analysis results ---------------------------------------------------------------------
    def write_result(self, name: str, frame: pd.DataFrame, params: dict | None = None) -> None:
        """Save an analysis output (a frame or GeoDataFrame) under `name`, replacing the last."""
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        row = {"name": name, "created_at": utcnow(), "rows": len(frame),
               "params": json.dumps(params or {}, default=str), "payload": buf.getvalue()}
        with self.engine.begin() as conn:
            conn.execute(schema.results.delete().where(schema.results.c.name == name))
            conn.execute(schema.results.insert(), row)

    def read_result(self, name: str) -> pd.DataFrame:
        """An analysis output saved by `write_result` (GeoDataFrame when it was one)."""
        with self.engine.connect() as conn:
            payload = conn.execute(sa.select(schema.results.c.payload)
                                   .where(schema.results.c.name == name)).scalar()
        if payload is None:
            raise StoreError(f"no result {name!r}: run the analysis first")
        buf = io.BytesIO(payload)
        try:
            return gpd.read_parquet(buf)
        except (ValueError, KeyError):
            buf.seek(0)
            return pd.read_parquet(buf)

    def result_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(schema.results.c.name)).scalars())


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # a second pipeline process (api.jobs.beside) may be writing: wait for its write to end
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _column(values: pd.Series) -> list:
    """A frame column as plain Python values the DBAPI accepts (None for missing)."""
    mask = values.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        out = list(values.dt.to_pydatetime())
    else:
        out = values.astype(object).to_numpy(dtype=object, copy=True)
        out[mask] = None            # in one step: a sparse column has tens of thousands
        return out.tolist()
    for i in np.flatnonzero(mask):
        out[i] = None
    return out


def _sqlite_datetimes(values: pd.Series) -> list | None:
    """A date-time column as the text sqlite3's default adapter stores for each value
    (``datetime.isoformat(" ")``: seconds, and microseconds only when not zero; None for
    missing), formatted by NumPy in one pass instead of a Python datetime and an adapter call
    per value. None when a value carries nanoseconds (``_column`` then drops them, as
    ``to_pydatetime`` does)."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    if not len(values):
        return []
    arr = values.to_numpy()            # in its own unit: no cast to nanoseconds that could wrap
    if arr.dtype == np.dtype("datetime64[ns]") and (arr.view(np.int64)[~np.isnat(arr)] % 1000).any():
        return None
    us = arr.astype("datetime64[us]")  # exact for any unit of a second or coarser, and for ns here
    mask = np.isnat(us)
    ticks = us.view(np.int64)
    text = np.datetime_as_string(us, unit="s")
    micro = ~mask & (ticks % 1_000_000 != 0)
    if micro.any():
        text = text.astype(object)
        text[micro] = np.datetime_as_string(us[micro], unit="us")
    out = np.strings.replace(text.astype(str), "T", " ", 1).astype(object)
    out[mask] = None
    return out.tolist()


def _sqlite_rows(frame: pd.DataFrame) -> list[tuple]:
    """``_rows`` for SQLite's executemany: the same stored values, with date-time columns
    handed over as the text the sqlite3 adapter would have made of them."""
    cols = []
    for c in frame.columns:
        values = frame[c]
        text = _sqlite_datetimes(values) if pd.api.types.is_datetime64_any_dtype(values) \
            else None
        cols.append(text if text is not None else _column(values))
    return list(zip(*cols))


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return list(zip(*(_column(frame[c]) for c in frame.columns)))


def _records(frame: pd.DataFrame) -> list[dict]:
    return [dict(zip(frame.columns, r)) for r in _rows(frame)]
