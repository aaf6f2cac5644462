"""The store's frames are built from plain reads (both backends): `table()` gives what
`pd.read_sql` gives, a geocode lookup what one `map` per column gives, and a frame built beside
others in `frames()` (sharing their tables and frames) equals the frame built alone."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from geo.storage import schema
from geo.storage.ingest import ingest_drop


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True,
                                  check_column_type=True)
    for c in a.columns:    # object cells of the same kinds (None is not NaN, lists stay lists)
        if a[c].dtype == object:
            assert [type(v) for v in a[c].tolist()] == [type(v) for v in b[c].tolist()], c


def test_frames_equal_their_plain_reads(reference_store, sample_drop):
    """One ingest per backend (the sample drop, geocoded, identities resolved) for the three
    checks below."""
    from api.jobs.identity import resolve_and_save
    ingest_drop(reference_store, sample_drop)
    resolve_and_save(reference_store, threshold=0.9, seed=1)
    _tables_read_as_read_sql_reads_them(reference_store)
    _geocode_lookup_is_one_map_per_column(reference_store)
    _frames_built_together_equal_frames_built_alone(reference_store)
    _narrow_frames_equal_the_whole_frames_on_their_columns(reference_store)


def _tables_read_as_read_sql_reads_them(loaded):
    for name, table in schema.metadata.tables.items():
        _same(loaded.table(name), loaded.read_sql(sa.select(table)))
    cols = ("source", "episode_id", "returned_at")
    _same(loaded.table("episodes", cols), loaded.read_sql(
        sa.select(*(schema.episodes.c[c] for c in cols))))


def _geocode_lookup_is_one_map_per_column(loaded):
    texts = pd.concat([loaded.table("episodes")["found_at"], pd.Series([None, "nowhere"])],
                      ignore_index=True)
    got = loaded._geocoded(texts, "x", ("e", "n", "precision", "confidence", "ward", "lsoa"))
    geo = loaded.table("geocodes").set_index("text")
    assert got["x_precision"].eq("none").any() and got["x_e"].notna().any()
    for c, col in (("e", "easting"), ("n", "northing"), ("confidence", "confidence"),
                   ("ward", "ward_code"), ("lsoa", "lsoa_code")):
        want = texts.map(geo[col])
        pd.testing.assert_series_equal(got[f"x_{c}"], want.astype(float) if c in "e n confidence"
                                       else want, check_names=False)


def _frames_built_together_equal_frames_built_alone(loaded):
    names = sorted(n[len("_frame_"):] for n in dir(type(loaded)) if n.startswith("_frame_"))
    alone = {n: loaded.frame(n) for n in names}
    assert len(alone["place_events"]) and len(alone["return_interviews"])
    for group in (names, ["place_events"], ["return_interviews", "place_events", "episodes"]):
        together = loaded.frames(group)
        for n in group:
            _same(together[n], alone[n])
    # a caller changing one frame changes no other, nor the next call's
    together = loaded.frames(["episodes", "place_events"])
    together["episodes"].loc[together["episodes"].index[0], "person_id"] = "changed"
    _same(loaded.frames(["episodes"])["episodes"], alone["episodes"])


def _narrow_frames_equal_the_whole_frames_on_their_columns(loaded):
    """A frame asked for with ``columns`` reads fewer table columns and equals the whole
    frame on every column it was asked for (and the keys): the groups' columns, each geocoded
    group of columns alone, and a frame asked for both ways in one call of ``frames``."""
    from api.jobs.network import GRAPH_COLUMNS
    from api.jobs.pipeline import GROUP_COLUMNS
    names = list(GROUP_COLUMNS)
    whole = loaded.frames(names)
    asks = [GROUP_COLUMNS, GRAPH_COLUMNS,
            {"episodes": ("last_seen_ward",), "children": ("placement_e",),
             "persons": ("address_precision", "dob"),
             "return_interviews": ("held_at", "places", "seraf_score")}]
    for ask in asks:
        narrow = loaded.frames(names, columns=ask)
        for n in ask:
            cols = [c for c in whole[n].columns if c in set(ask[n]) | {"person_id"}]
            assert set(ask[n]) <= set(narrow[n].columns), n
            assert len(narrow[n].columns) < len(whole[n].columns), n
            _same(narrow[n][cols], whole[n][cols])
    both = loaded.frames(["episodes", "place_events"], columns={"episodes": ("found_e",)})
    _same(both["place_events"], loaded.frame("place_events"))
    # the place events made from the graph's narrow episodes and return interviews
    graph = loaded.frames(["episodes", "return_interviews", "place_events"], columns=GRAPH_COLUMNS)
    _same(graph["place_events"], loaded.frame("place_events"))
    assert "category" not in both["episodes"].columns
