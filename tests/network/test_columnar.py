"""The columnar person-place graph (``PersonPlaceGraph``): the measures and exports read from
its node and edge tables equal those read from the networkx graph, and the exports made a chunk
of edges at a time from columns are byte-identical to the per-edge writers."""
from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from network import exports
from network.graph import PersonPlaceGraph, person_place_graph, person_place_tables
from network.measures import (bridging_persons, centrality, child_adult_links, components,
                              places_linking_children)

T0 = pd.Timestamp("2017-01-01", tz="UTC")


def _measures_scenario():
    spec = importlib.util.spec_from_file_location(
        "measures_scenario", Path(__file__).with_name("test_measures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.scenario()


def awkward_frames():
    """A small drop whose texts need escaping in XML and JSON (ampersands, quotes, angle
    brackets, newlines, tabs, control characters, backslashes, non-ASCII names), with
    intelligence links (graded and not), RHI associates, unresolved names and undated edges."""
    rng = np.random.default_rng(7)
    kids = [f"C{i}" for i in range(12)]
    names = ["Zoë", "Łukasz", 'Amy "AJ"', "O'Neil & Co", "Tab\tBy", "Back\\slash"]
    children = pd.DataFrame({"child_key": [f"police/{k}" for k in kids], "source": "police",
                             "child_id": kids,
                             "given_name": [names[i % len(names)] for i in range(len(kids))],
                             "family_name": "Kid", "person_id": [f"P{k}" for k in kids]})
    adults = ["A1", "A2", "A3"]
    persons = pd.DataFrame({"person_key": [f"police/{a}" for a in adults], "source": "police",
                            "person_id_src": adults, "given_name": ["<b>Bold</b>", "Ann", "Bo"],
                            "family_name": "Adult", "role": ["adult_of_concern", "unknown", "family"],
                            "address_e": [410000.0, 411000.0, 412000.0],
                            "address_n": [290000.0, 291000.0, 292000.0],
                            "address_precision": "address", "person_id": [f"P{a}" for a in adults]})
    texts = ["flat above \"Joe's\" chippy", "car park <rear>", "line\nbreak & more", "bell\x07 house",
             "Café Zoë", "plain street"]
    ep, ev = [], []
    for i, k in enumerate(kids * 2):
        t = T0 + pd.Timedelta(hours=float(rng.uniform(0, 4000)))
        ep.append({"episode_key": f"police/E{i}", "source": "police", "person_id": f"P{k}",
                   "reported_at": t, "returned_at": t + pd.Timedelta(hours=5),
                   "found_with": [kids[(i + 1) % len(kids)]] if i % 4 == 0 else []})
        ev.append({"event_key": f"police/E{i}#found_at", "episode_key": f"police/E{i}",
                   "person_id": f"P{k}", "kind": "found_at", "at": t if i % 5 else None,
                   "text": texts[i % len(texts)], "easting": 410000.0 + 10 * (i % 3),
                   "northing": 290000.0 + 10 * (i % 3), "precision": "address"})
    rhis = pd.DataFrame({"rhi_key": [f"rhi/R{i}" for i in range(6)], "source": "police",
                         "episode_key": [f"police/E{i}" for i in range(6)],
                         "person_id": [f"P{kids[i]}" for i in range(6)],
                         "held_at": [T0 + pd.Timedelta(days=i) for i in range(6)],
                         "associates": ["A1", "A1; Nobody Known", "A2", "", "A3", "Mr \"X\""]})
    links = pd.DataFrame({
        "link_key": [f"links/L{i}" for i in range(5)], "source": "police",
        "from_ref": ["person:A1", "person:A2", "child:C1", "person:A1", "vehicle:ab12 cde"],
        "to_ref": ["child:C2", "child:C3", "premises:X1", "vehicle:AB12CDE", "child:C4"],
        "relation": ["associate", "seen_with", "frequents", "drives_for", "transported_by"],
        "source_ref": ["intel/I1", "", "", "intel/I2", ""],
        "grading": ["2B P", None, None, "3D C", None],
        "observed_at": [T0, None, T0 + pd.Timedelta(days=3), None, T0]})
    return dict(children=children, persons=persons, episodes=pd.DataFrame(ep),
                return_interviews=rhis, place_events=pd.DataFrame(ev), links=links)


@pytest.fixture(scope="module", params=["awkward", "measures"])
def frames(request):
    return awkward_frames() if request.param == "awkward" else _measures_scenario()


def test_tables_and_networkx_are_the_same_graph(frames):
    T = person_place_tables(**frames)
    G = person_place_graph(**frames)
    assert isinstance(T, PersonPlaceGraph)
    assert list(T.nodes.items()) == list(G.nodes(data=True))
    assert T.number_of_edges() == G.number_of_edges() > 0
    t = T.edges
    for eid, (u, v, k, d) in enumerate(G.edges(keys=True, data=True)):
        assert (u, v, k) == (t["u"][eid], t["v"][eid], t["key"][eid])
        assert d["eid"] == eid and d["count"] == t["count"][eid]
        assert d["restricted"] == t["restricted"][eid]


def test_measures_equal_on_tables_and_networkx(frames):
    T = person_place_tables(**frames)
    G = T.to_networkx()
    pd.testing.assert_frame_equal(centrality(T, seed=3), centrality(G, seed=3))
    pd.testing.assert_frame_equal(components(T), components(G))
    pd.testing.assert_frame_equal(bridging_persons(T, min_children=1),
                                  bridging_persons(G, min_children=1))
    pd.testing.assert_frame_equal(places_linking_children(T, min_children=1),
                                  places_linking_children(G, min_children=1))
    # the child-adult links as the pipeline listed them from the networkx edges
    kind = {n: d.get("kind") for n, d in G.nodes(data=True)}
    unresolved = {n for n, d in G.nodes(data=True) if d.get("unresolved")}
    al = [(c, a) for u, v in G.edges() for c, a in ((u, v), (v, u))
          if kind.get(c) == "child" and kind.get(a) == "person" and a not in unresolved]
    want = pd.DataFrame(al, columns=["person_id", "adult_id"]).drop_duplicates().reset_index(drop=True)
    assert len(want) > 0
    for graph in (T, G):
        got = child_adult_links(graph)
        assert got.astype(object).values.tolist() == want.astype(object).values.tolist()


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 5
    for name in names:
        assert filecmp.cmp(a / name, b / name, shallow=False), name


def test_columnar_exports_are_byte_identical_to_per_edge_exports(frames, tmp_path, monkeypatch):
    T = person_place_tables(**frames)
    exports.write_all(T, tmp_path / "tables")
    exports.write_all(T.to_networkx(), tmp_path / "networkx")
    monkeypatch.setattr(exports, "_edge_columns", lambda G, chunk=0: None)
    exports.write_all(T.to_networkx(), tmp_path / "per_edge")
    _same_files(tmp_path / "tables", tmp_path / "networkx")
    _same_files(tmp_path / "tables", tmp_path / "per_edge")


def test_small_chunks_give_the_same_exports(tmp_path, monkeypatch):
    T = person_place_tables(**awkward_frames())
    exports.write_all(T, tmp_path / "one")
    real = exports._EdgeColumns
    monkeypatch.setattr(exports, "_EdgeColumns", lambda G, chunk=0: real(G, 7))
    exports.write_all(T, tmp_path / "chunked")
    _same_files(tmp_path / "one", tmp_path / "chunked")
    # the awkward edge texts were escaped (XML entities, JSON escapes, XML-forbidden removed)
    gexf = (tmp_path / "one" / "graph.gexf").read_text(encoding="utf-8")
    cyto = (tmp_path / "one" / "cytoscape.json").read_text(encoding="utf-8")
    assert "line&#10;break &amp; more" in gexf and "bell house" in gexf and "\x07" not in gexf
    assert '"line\\nbreak & more' in cyto and "bell\\u0007 house" in cyto
    assert '\\"Joe\'s\\" chippy' in cyto and "Café Zoë" in cyto


def test_empty_tables_export_and_measure(tmp_path):
    T = person_place_tables(children=pd.DataFrame({
        "child_key": ["police/C1"], "source": "police", "child_id": ["C1"], "given_name": ["A"],
        "family_name": ["B"], "person_id": ["PC1"]}))
    assert T.number_of_edges() == 0 and T.number_of_nodes() == 1
    paths = exports.write_all(T, tmp_path)
    links = pd.read_csv(paths["i2_links"], encoding="utf-8-sig")
    assert list(links.columns) == exports.I2_LINK_COLUMNS and len(links) == 0
    assert len(components(T)) == 1 and len(child_adult_links(T)) == 0


def test_iso_text_written_in_numpy_equals_strftime():
    """The edges' ISO dates (``_iso_arrow`` of ``_utc_seconds``) are what ``strftime`` writes:
    UTC, floored to the second (also before 1970), None where missing."""
    from network.graph import _iso_arrow, _utc_seconds
    rng = np.random.default_rng(0)
    t = pd.Series(pd.to_datetime(rng.integers(-2 * 10**15, 4 * 10**15, 5000), unit="us", utc=True))
    t[rng.random(5000) < 0.1] = pd.NaT
    mixed = pd.Series(["2020-01-01T10:00:00.7+01:00", None, "1960-05-05 00:00:00.5",
                       pd.Timestamp("1999-12-31 23:59:59.999", tz="UTC")], dtype=object)
    for values in (t, mixed):
        parsed = (pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
                  if values.dtype == object else values)
        want = [None if pd.isna(x) else x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in parsed]
        assert _iso_arrow(_utc_seconds(values)).to_pylist() == want


def test_i2_csv_fields_quoted_as_to_csv(tmp_path):
    """``_csv_col`` quotes a field exactly where ``DataFrame.to_csv`` does."""
    import pyarrow as pa
    values = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "", " lead", "é; x", None]
    path = tmp_path / "x.csv"
    pd.DataFrame({"a": values, "b": 1}).to_csv(path, index=False, header=False)
    lines = exports._join(exports._csv_col(pa.array(values, pa.string())), ",1")
    assert bytes(exports._lines_bytes(lines)) == path.read_bytes()


def _as_lists(G):
    return (list(G.nodes(data=True)), list(G.edges(keys=True, data=True)), dict(G.graph))


def test_ego_networks_from_the_nodes_within_reach_equal_those_of_the_whole_graph(frames):
    """The packs' ego networks (maps.packs.ego_graphs) are computed on the networkx graph of
    only the nodes within two steps of the centres (PersonPlaceGraph.within): the same nodes,
    attributes, edges (keys, eids, provenance) and order as on the whole graph."""
    import networkx as nx

    from maps.packs import ego_graphs
    from network.measures import ego_network
    T = person_place_tables(**frames)
    whole = T.to_networkx()
    people = [n for n, d in T.nodes.items() if d.get("kind") in ("child", "person")]
    picks = [people[:1], people[:3], people[-2:]]
    for centres in picks:
        want = nx.compose_all([ego_network(whole, c, depth=2) for c in centres])
        got = ego_graphs({"_graph": T}, centres)
        assert _as_lists(got) == _as_lists(want)
        assert len(T.within(centres, 2)) < len(T.nodes) or len(T.nodes) < 30
    one = people[0]
    assert T.within([one], 0) == {one}
    assert T.within([one], 1) == {one} | set(nx.Graph(whole.to_undirected()).neighbors(one))


def test_intelligence_weights_of_the_gradings_column_equal_evidence_weight():
    """The edge frame's weights, read for every intelligence edge at once from the gradings
    list column, equal :func:`evidence_weight` edge by edge: the best valid grading, case and
    spaces ignored, 0.5 for an edge with no valid grading (none, junk, a one-letter code)."""
    import pyarrow as pa

    from network.measures import _intelligence_weights, evidence_weight
    lists = [["2B P"], [" 1a ", "3C"], [], ["E", "zz", ""], ["3E"], ["2D", "1B P", "x9"], None,
             ["4A"], ["1E", "2E"]]
    col = pa.array(lists, pa.list_(pa.string()))
    rows = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    want = [evidence_weight(True, g) for g in lists]
    assert _intelligence_weights(col, rows).tolist() == want
    assert _intelligence_weights(col, np.array([5, 0])).tolist() == [want[5], want[0]]
    assert _intelligence_weights(col, np.array([2, 6], np.int64)).tolist() == [0.5, 0.5]
