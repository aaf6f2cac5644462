"""The person-place graph: node kinds, edge kinds, provenance, intelligence never as fact."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from network.graph import build_ref_index, edge_list, merge_places, person_place_graph, resolve_ref

T = pd.Timestamp("2017-03-04 21:15", tz="UTC")


def frames():
    children = pd.DataFrame({
        "child_key": ["police/C1", "carefirst/K9", "police/C2"], "source": ["police", "carefirst", "police"],
        "child_id": ["C1", "K9", "C2"], "given_name": ["Amy", "Amy", "Beth"],
        "family_name": ["Khan", "Khan", "Lee"], "placement_postcode": ["B7 4PS", "B7 4PS", "B15 2TT"],
        "placement_e": [408000.0, 408000.0, 405000.0], "placement_n": [288000.0, 288000.0, 285000.0],
        "care_status": ["cic", "cic", "cp"], "cse_risk": ["serious", None, "at_risk"],
        "person_id": ["P1", "P1", "P2"]})  # two records, one child
    persons = pd.DataFrame({
        "person_key": ["police/A1", "police/A2"], "source": "police", "person_id_src": ["A1", "A2"],
        "given_name": ["Tariq", "Pat"], "family_name": ["Ross", "Doe"],
        "role": ["adult_of_concern", "professional"], "address": ["12 High St B6 5AA", None],
        "address_e": [407000.0, None], "address_n": [289000.0, None],
        "address_precision": ["address", None], "person_id": ["PA1", "PA2"]})
    episodes = pd.DataFrame({
        "episode_key": ["police/E1", "police/E2"], "source": "police", "episode_id": ["E1", "E2"],
        "child_key": ["police/C1", "police/C2"], "person_id": ["P1", "P2"],
        "reported_at": [T, T + pd.Timedelta(hours=1)], "returned_at": [T + pd.Timedelta(hours=20), pd.NaT],
        "found_text": ["12 High St", "Ibis New Street"], "found_e": [407010.0, 406900.0],
        "found_n": [289005.0, 286600.0], "found_precision": ["address", "premises"],
        "last_seen_text": [None, "Bull Ring"], "last_seen_e": [None, 407400.0],
        "last_seen_n": [None, 286600.0], "last_seen_precision": [None, "area"],
        "found_with": [["child:C2", "Tariq Ross"], ["not known"]]})
    rhi = pd.DataFrame({
        "rhi_key": ["rhi_provider/R1"], "source": "rhi_provider", "rhi_id": ["R1"],
        "episode_key": ["police/E1"], "person_id": ["P1"], "held_at": [T + pd.Timedelta(days=2)],
        "notified_at": [T], "places": [["his flat"]], "associates": [["person:A1", "a man called Dev"]]})
    premises = pd.DataFrame({
        "premises_key": ["lic/L1"], "source": "lic", "premises_id": ["L1"], "name": ["Ibis New Street"],
        "premises_type": ["hotel"], "postcode": ["B5 4BA"], "easting": [406905.0], "northing": [286595.0],
        "status": ["active"]})
    intel = pd.DataFrame({
        "intel_key": ["police/I1"], "source": "police", "intel_id": ["I1"], "recorded_at": [T],
        "source_eval": [2], "intel_eval": ["B"], "handling": ["P"], "grading": ["2B P"],
        "subjects": [["person:A1", "child:C2"]], "location_text": ["Ibis"],
        "easting": [406900.0], "northing": [286600.0], "precision": ["premises"],
        "premises_id": ["L1"], "vehicle": ["ab12 cde"], "tags": [["cse"]], "text": ["..."]})
    links = pd.DataFrame({
        "link_key": ["police/LK1", "police/LK2"], "source": "police",
        "from_ref": ["person:A1", "person:A1"], "to_ref": ["vehicle:AB12CDE", "child:C1"],
        "relation": ["drives_for", "transported_by"], "observed_at": [T, T],
        "source_ref": ["episode:E1", "intel:I1"], "grading": [None, "3C C"]})
    return dict(children=children, persons=persons, episodes=episodes, return_interviews=rhi,
                premises=premises, intelligence=intel, links=links)


@pytest.fixture(scope="module")
def G():
    return person_place_graph(**frames())


def test_node_kinds(G):
    kinds = nx.get_node_attributes(G, "kind")
    assert kinds["P1"] == "child" and kinds["P2"] == "child"
    assert kinds["PA1"] == "person"
    assert kinds["premises:L1"] == "premises"
    assert kinds["vehicle:AB12CDE"] == "vehicle"
    assert G.nodes["P1"]["records"] == ["carefirst/K9", "police/C1"]  # resolved identity
    assert G.nodes["premises:L1"]["label"] == "Ibis New Street"
    assert {k for k in kinds.values()} >= {"child", "person", "place", "premises", "vehicle"}


def test_edges_and_provenance(G):
    # found at the address where the adult lives: one merged place (10 m apart)
    found = [(v, d) for _, v, d in G.out_edges("P1", data=True) if d["relation"] == "found_at"]
    assert len(found) == 1
    place = found[0][0]
    assert G.nodes[place]["kind"] == "place"
    assert G.has_edge("PA1", place, key="resides_at")
    assert edge_list(G, found[0][1], "sources") == ["police/E1"]
    assert edge_list(G, found[0][1], "dates") == ["2017-03-05T17:15:00Z"]
    assert found[0][1]["first"] == "2017-03-05T17:15:00Z"
    # found at premises-precision point next to the premises -> the premises node
    assert G.has_edge("P2", "premises:L1", key="found_at")
    # area-precision last seen is its own place
    ls = [v for _, v, d in G.out_edges("P2", data=True) if d["relation"] == "last_seen_at"]
    assert ls and G.nodes[ls[0]]["precision"] == "area"
    # found_with: a child by typed id and an adult by full name; junk dropped
    assert G.has_edge("P1", "P2", key="found_with")
    assert G.has_edge("P1", "PA1", key="found_with")
    assert not any(str(n).startswith("name:not") for n in G)
    # RHI associates: typed id resolved, a description kept as an unresolved name
    assert G.has_edge("P1", "PA1", key="associate")
    assert G.nodes["name:a man called dev"]["unresolved"] is True
    assert edge_list(G, G["P1"]["PA1"]["associate"], "sources") == ["rhi_provider/R1"]
    # child home is restricted
    homes = [d for _, _, d in G.out_edges("P1", data=True) if d["relation"] == "resides_at"]
    assert homes and all(d["restricted"] and d["first"] is None for d in homes)


def test_intelligence_is_never_fact(G):
    e = G.get_edge_data("P2", "PA1") or G.get_edge_data("PA1", "P2")
    assert set(e) == {"mentioned_with/intel"}
    d = e["mentioned_with/intel"]
    assert d["intelligence"] is True and edge_list(G, d, "gradings") == ["2B P"]
    assert G.has_edge("PA1", "vehicle:AB12CDE", key="mentioned_with/intel")
    assert G.has_edge("PA1", "premises:L1", key="mentioned_with/intel")
    # a link reported by intelligence stays intelligence, a link from an episode is a fact
    assert G["PA1"]["P1"]["transported_by/intel"]["intelligence"] is True
    assert edge_list(G, G["PA1"]["P1"]["transported_by/intel"], "gradings") == ["3C C"]
    assert G["PA1"]["vehicle:AB12CDE"]["drives_for"]["intelligence"] is False
    for _, _, k, d in G.edges(keys=True, data=True):
        assert d["intelligence"] == k.endswith("/intel")


def test_edge_columns_match_the_graph(G):
    # the edge table and the provenance lists are the graph's edges as columns, row = eid, in
    # G.edges order; measures read them instead of iterating the graph
    from network.graph import LIST_ATTRS, edge_table, joined_edge_lists
    from network.measures import edge_frame
    t = edge_table(G)
    edges = list(G.edges(keys=True, data=True))
    assert len(t) == len(edges) and [d["eid"] for *_, d in edges] == list(range(len(edges)))
    assert list(zip(t["u"], t["v"], t["key"])) == [(u, v, k) for u, v, k, _ in edges]
    assert t["count"].tolist() == [d["count"] for *_, d in edges]
    data = [d for *_, d in edges]
    for name in LIST_ATTRS:
        assert joined_edge_lists(G, data, name) == ["; ".join(edge_list(G, d, name)) for d in data]
    # a graph without the columns (here a copy that dropped them) gives the same edge frame
    H = G.copy()
    H.graph.pop("edge_table")
    pd.testing.assert_frame_equal(edge_frame(H), edge_frame(G))
    # an edge added after the build makes the table stale: it is no longer used
    H = G.copy()
    H.add_edge("P1", "P2", key="other", relation="other", count=1)
    assert edge_table(H) is None and len(edge_frame(H)) == len(edges) + 1


def test_ref_resolution_rules():
    f = frames()
    idx = build_ref_index(f["children"], f["persons"], f["premises"])
    assert resolve_ref("child:C1", "police", idx) == ("P1", "child")
    assert resolve_ref("K9", "carefirst", idx, expect="child") == ("P1", "child")
    assert resolve_ref("A1", "police", idx) == ("PA1", "person")      # bare id
    assert resolve_ref(" tariq  ROSS ", "rhi", idx) == ("PA1", "person")  # full name
    assert resolve_ref("vehicle:ab12 cde", "x", idx) == ("vehicle:AB12CDE", "vehicle")
    assert resolve_ref("Unknown", "x", idx) is None
    assert resolve_ref("premises:L1", "x", idx) == ("premises:L1", "premises")


def test_merge_places_by_precision_class():
    pts = pd.DataFrame({"easting": [0, 20, 45, 0, 500, 5000, 5000.5, None],
                        "northing": [0, 0, 0, 0, 0, 0, 0, 1],
                        "precision": ["address", "premises", "address", "area", "street", "area",
                                      "area", "postcode"]})
    ids = merge_places(pts)
    assert ids[0] == ids[1] == ids[2]          # single linkage within 30 m, fine class
    assert ids[3] != ids[0]                     # an area point is never merged into fine ones
    assert ids[5] == ids[6]                     # same area centroid
    assert ids[7] is None


def test_deterministic_and_empty():
    f = frames()
    a = person_place_graph(**f)
    b = person_place_graph(**{k: v.sample(frac=1, random_state=1) for k, v in f.items()})
    assert list(a.nodes) == list(b.nodes)
    assert sorted(a.edges(keys=True)) == sorted(b.edges(keys=True))
    assert person_place_graph().number_of_nodes() == 0


def test_merge_places_follows_the_geocoders_match():
    """A ``premises:ID`` match_id is that premises at any distance; a point matched to a named
    place (a park, a station) is never re-read as the premises next door; a point without a
    match keeps the 30 m / trading-name rules."""
    premises = pd.DataFrame({"premises_id": ["L1", "L2"], "name": ["Ibis New Street", "Corner Wines"],
                             "easting": [406905.0, 410000.0], "northing": [286595.0, 290000.0]})
    pts = pd.DataFrame({
        "easting": [406000.0, 409990.0, 409995.0, 406900.0, 500.0],
        "northing": [286000.0, 290000.0, 290000.0, 286600.0, 500.0],
        "precision": ["premises", "premises", "address", "premises", "premises"],
        "text": ["ibis", "Handsworth Park", "12 High St", "somewhere", "Corner Wines"],
        "match_id": ["premises:L1", "place:HANDSWORTH PARK", None, None, None]})
    ids = merge_places(pts, premises)
    assert ids[0] == "premises:L1"                    # 700 m from the register point
    assert ids[1].startswith("place:")                # named place 10 m from a premises
    assert ids[2] == "premises:L2"                    # unmatched point within 30 m
    assert ids[3] == "premises:L1"
    assert ids[4] == "premises:L2"                    # trading name, no match_id


def test_found_at_links_go_to_the_matched_premises():
    f = frames()
    f["place_events"] = pd.DataFrame({
        "event_key": ["police/E1#found_at"], "person_id": ["P1"], "episode_key": ["police/E1"],
        "kind": ["found_at"], "at": [T], "text": ["the hotel by the station"],
        "easting": [406500.0], "northing": [286000.0], "precision": ["premises"],
        "match_id": ["premises:L1"]})
    G = person_place_graph(**f)
    assert G.has_edge("P1", "premises:L1", key="found_at")
    assert G.nodes["premises:L1"]["label"] == "Ibis New Street"


def test_unique_rows_equal_numpy_unique_of_rows():
    """Places merge over the distinct rounded points: the integer-key way gives numpy's
    distinct rows, order and inverse (the centroids and so the place ids depend on them)."""
    from network.graph import _unique_rows
    rng = np.random.default_rng(5)
    xy = np.c_[rng.integers(400000, 400050, 3000) + rng.integers(0, 3, 3000) / 10,
               rng.integers(280000, 280040, 3000) + rng.integers(0, 3, 3000) / 10]
    xy = np.round(np.r_[xy, xy[:500], [[0.0, 0.0], [699999.9, 1299999.9]]], 1)
    want_u, want_inv = np.unique(xy, axis=0, return_inverse=True)
    got_u, got_inv = _unique_rows(xy)
    assert np.array_equal(got_u, want_u) and np.array_equal(got_inv, want_inv.ravel())
