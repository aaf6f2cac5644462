"""Measures: bridging persons (planted adults of concern in the top 10), places, centrality,
components, ego networks."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from network.graph import person_place_graph
from network.measures import (bridging_persons, centrality, components, ego_network,
                              evidence_weight, places_linking_children)

T0 = pd.Timestamp("2017-01-01", tz="UTC")


def scenario(seed=5, n_children=80, n_family=60):
    """80 children with 1-3 episodes found across a 20 km city; planted adults of concern:
    AOC1 named as associate in 5 RHIs; AOC2 lives at a flat 4 children went to; AOC3 in graded
    intelligence with 3 children and driving a vehicle 2 children were transported in; AOC4 found
    with 2 children and frequenting a takeaway 3 children were found at. Noise: family adults
    linked to one child each, a social worker linked to 30 children (professional), 10 adults
    whose addresses geocode to one busy city-centre postcode where 15 children were found."""
    rng = np.random.default_rng(seed)
    kids = [f"C{i:03d}" for i in range(n_children)]
    children = pd.DataFrame({"child_key": [f"police/{k}" for k in kids], "source": "police",
                             "child_id": kids, "given_name": kids, "family_name": "Kid",
                             "person_id": [f"P{k}" for k in kids]})
    adults = ["AOC1", "AOC2", "AOC3", "AOC4", "SW1"] + [f"F{i}" for i in range(n_family)] + \
        [f"B{i}" for i in range(10)]
    role = {a: "adult_of_concern" if a.startswith("AOC") else "professional" if a == "SW1"
            else "family" if a.startswith("F") else "unknown" for a in adults}
    addr = {a: (rng.uniform(400000, 420000), rng.uniform(280000, 295000)) for a in adults}
    addr["AOC2"] = (410000.0, 290000.0)
    for i in range(10):
        addr[f"B{i}"] = (407300.0, 286700.0)  # one city-centre postcode centroid
    persons = pd.DataFrame({"person_key": [f"police/{a}" for a in adults], "source": "police",
                            "person_id_src": adults, "given_name": adults, "family_name": "Adult",
                            "role": [role[a] for a in adults],
                            "address_e": [addr[a][0] for a in adults],
                            "address_n": [addr[a][1] for a in adults],
                            "address_precision": ["postcode" if a.startswith("B") else "address"
                                                  for a in adults],
                            "person_id": [f"P{a}" for a in adults]})
    ev, ep, ri, links = [], [], [], []
    n = 0
    for k in kids:
        for _ in range(rng.integers(1, 4)):
            n += 1
            t = T0 + pd.Timedelta(hours=float(rng.uniform(0, 8000)))
            ep.append({"episode_key": f"police/E{n}", "source": "police", "person_id": f"P{k}",
                       "reported_at": t, "returned_at": t + pd.Timedelta(hours=10), "found_with": []})
            ev.append({"event_key": f"police/E{n}#found_at", "episode_key": f"police/E{n}",
                       "person_id": f"P{k}", "kind": "found_at", "at": t, "text": "somewhere",
                       "easting": rng.uniform(400000, 420000), "northing": rng.uniform(280000, 295000),
                       "precision": "address"})

    def episode_of(k, i=0):
        return [e for e in ep if e["person_id"] == f"P{k}"][i]

    for k in kids[:5]:  # AOC1 named in RHIs
        e = episode_of(k)
        ri.append({"rhi_key": f"rhi/R{len(ri)}", "source": "rhi", "episode_key": e["episode_key"],
                   "person_id": e["person_id"], "held_at": e["reported_at"] + pd.Timedelta(days=2),
                   "associates": ["person:AOC1"]})
    for k in kids[5:9]:  # went to AOC2's flat
        e = episode_of(k)
        ev.append({"event_key": f"{e['episode_key']}#rhi", "episode_key": e["episode_key"],
                   "person_id": e["person_id"], "kind": "rhi_place", "at": e["reported_at"],
                   "text": "his flat", "easting": 410000 + rng.uniform(-10, 10),
                   "northing": 290000 + rng.uniform(-10, 10), "precision": "address"})
    intel = pd.DataFrame({"intel_key": [f"police/I{i}" for i in range(3)], "source": "police",
                          "recorded_at": [T0 + pd.Timedelta(days=30 * i) for i in range(3)],
                          "grading": ["2B P", "1A P", "3C C"],
                          "subjects": [["person:AOC3", f"child:{k}"] for k in kids[9:12]],
                          "premises_id": None, "vehicle": None})
    links += [{"link_key": "police/L1", "source": "police", "from_ref": "person:AOC3",
               "to_ref": "vehicle:XY11ZZZ", "relation": "drives_for", "observed_at": T0,
               "source_ref": None, "grading": None}]
    for k in kids[12:14]:
        links.append({"link_key": f"police/L{len(links) + 1}", "source": "police",
                      "from_ref": f"child:{k}", "to_ref": "vehicle:XY11ZZZ",
                      "relation": "transported_by", "observed_at": T0, "source_ref": "rhi:R9",
                      "grading": None})
    for k in kids[14:16]:  # found with AOC4
        episode_of(k)["found_with"] = ["person:AOC4"]
    links.append({"link_key": "police/L90", "source": "police", "from_ref": "person:AOC4",
                  "to_ref": "premises:T1", "relation": "frequents", "observed_at": T0,
                  "source_ref": None, "grading": None})
    for k in kids[16:19]:
        e = episode_of(k)
        ev.append({"event_key": f"{e['episode_key']}#t", "episode_key": e["episode_key"],
                   "person_id": e["person_id"], "kind": "found_at", "at": e["reported_at"],
                   "text": "Chicken Hut", "easting": 405000.0, "northing": 283000.0,
                   "precision": "premises"})
    for i in range(n_family):  # family: one child each
        links.append({"link_key": f"police/F{i}", "source": "police", "from_ref": f"person:F{i}",
                      "to_ref": f"child:{kids[i % n_children]}", "relation": "associate",
                      "observed_at": T0, "source_ref": None, "grading": None})
    for k in kids[20:50]:  # the social worker
        links.append({"link_key": f"police/SW{k}", "source": "police", "from_ref": "person:SW1",
                      "to_ref": f"child:{k}", "relation": "associate", "observed_at": T0,
                      "source_ref": None, "grading": None})
    for k in kids[50:65]:  # busy city-centre postcode
        e = episode_of(k)
        ev.append({"event_key": f"{e['episode_key']}#cc", "episode_key": e["episode_key"],
                   "person_id": e["person_id"], "kind": "found_at", "at": e["reported_at"],
                   "text": "B5 4AA", "easting": 407300.0, "northing": 286700.0,
                   "precision": "postcode"})
    premises = pd.DataFrame({"premises_key": ["lic/T1"], "source": "lic", "premises_id": ["T1"],
                             "name": ["Chicken Hut"], "premises_type": ["takeaway"],
                             "easting": [405000.0], "northing": [283000.0]})
    return dict(children=children, persons=persons, episodes=pd.DataFrame(ep),
                return_interviews=pd.DataFrame(ri), place_events=pd.DataFrame(ev),
                premises=premises, intelligence=intel, links=pd.DataFrame(links))


@pytest.fixture(scope="module")
def G():
    return person_place_graph(**scenario())


def test_planted_adults_in_top_10(G):
    b = bridging_persons(G)
    top = list(b["person_id"].head(10))
    for a in ("PAOC1", "PAOC2", "PAOC3", "PAOC4"):
        assert a in top, (a, b.head(12).to_string())
    assert "PSW1" not in set(b["person_id"])           # professionals excluded
    assert b["rank"].tolist() == list(range(1, len(b) + 1))
    assert b["score"].is_monotonic_decreasing
    r = b.set_index("person_id")
    assert r.loc["PAOC1", "children"] == 5 and r.loc["PAOC1", "direct_children"] == 5
    assert r.loc["PAOC2", "place_children"] == 4
    assert bool(r.loc["PAOC3", "intelligence_only"]) is False  # the vehicle links are records
    assert "[intelligence]" in r.loc["PAOC3", "evidence"]
    assert r.loc["PAOC4", "children"] == 5  # 2 found with + 3 via the takeaway
    assert "premises:T1" in r.loc["PAOC4", "evidence"]
    # family members linked to one child are not bridging persons
    assert not any(p.startswith("PF") for p in b["person_id"])


def test_bridging_does_not_depend_on_the_adult_blocks(G):
    # bridging runs a block of adults at a time to bound memory; one adult per block and one
    # block for all give the same table
    whole = bridging_persons(G, max_paths=10**9)
    assert len(whole) > 5
    pd.testing.assert_frame_equal(bridging_persons(G, max_paths=1), whole)


def test_evidence_weight_grading():
    assert evidence_weight(False) == 1.0
    assert evidence_weight(True, ["1A P"]) == pytest.approx(0.9)
    assert evidence_weight(True, ["3C C", "2B P"]) == pytest.approx(0.6 * 0.85)
    assert evidence_weight(True, ["1E P"]) == 0.0
    assert evidence_weight(True, []) == 0.5


def test_places_linking_children(G):
    p = places_linking_children(G)
    assert p.iloc[0]["children"] == 15           # the busy postcode
    t1 = p.set_index("node").loc["premises:T1"]
    assert t1["children"] == 3 and t1["adults"] == 1 and t1["kind"] == "premises"
    assert (p["children"] >= 2).all()


def test_centrality_exact_and_sampled(G):
    c = centrality(G, seed=1)
    assert set(c.columns) >= {"node", "kind", "degree", "betweenness", "pagerank", "component"}
    assert c["betweenness_exact"].all()
    assert c["pagerank"].sum() == pytest.approx(1.0)
    assert c.set_index("node").loc["PSW1", "degree"] == 30 + 1  # 30 children + home
    s1 = centrality(G, exact_max_nodes=10, k=50, seed=3)
    s2 = centrality(G, exact_max_nodes=10, k=50, seed=3)
    assert not s1["betweenness_exact"].any()
    pd.testing.assert_frame_equal(s1, s2)  # seeded
    # sampled betweenness ranks the social worker (hub of 30 children) highly
    assert s1.sort_values("betweenness", ascending=False)["node"].head(5).str.contains("PSW1").any()


def test_components():
    H = nx.MultiDiGraph()
    H.add_edge("a", "b", key="x")
    H.add_edge("c", "d", key="x")
    H.add_edge("d", "e", key="x")
    H.add_node("z", kind="child")
    comp = components(H).set_index("node")
    assert comp.loc["c", "component"] == 0 and comp.loc["c", "size"] == 3
    assert comp.loc["a", "size"] == 2 and comp.loc["z", "size"] == 1


def test_ego_network_depth_and_dates(G):
    e1 = ego_network(G, "PAOC1", depth=1)
    assert {n for n in e1 if e1.nodes[n]["kind"] == "child"} == {f"PC00{i}" for i in range(5)}
    assert e1.graph["ego"] == "PAOC1" and e1.nodes["PAOC1"]["hops"] == 0
    e2 = ego_network(G, "police/AOC1", depth=2)  # by record key
    assert e2.number_of_nodes() > e1.number_of_nodes()
    assert max(d["hops"] for _, d in e2.nodes(data=True)) == 2
    # date filter: only RHIs held in the window
    held = sorted(d["first"] for _, _, d in G.in_edges("PAOC1", data=True))
    cut = held[2][:10]
    ed = ego_network(G, "PAOC1", depth=1, start="2000-01-01", end=cut)
    kids = {n for n in ed if ed.nodes[n]["kind"] == "child"}
    assert 0 < len(kids) < 5
    with pytest.raises(KeyError):
        ego_network(G, "nobody")


def test_centrality_matches_networkx(G):
    """The scipy/numpy measures give networkx's numbers on the simple undirected projection:
    exact and seeded-sampled betweenness, weighted PageRank, degree and records."""
    H = nx.Graph()
    H.add_nodes_from(G.nodes())
    for u, v, d in G.edges(data=True):
        w = int(d.get("count", 1))
        if H.has_edge(u, v):
            H[u][v]["weight"] += w
        else:
            H.add_edge(u, v, weight=w)
    c = centrality(G, seed=1).set_index("node")
    bc = nx.betweenness_centrality(H, normalized=True)
    pr = nx.pagerank(H, alpha=0.85, weight="weight")
    for n in H:
        assert c.loc[n, "betweenness"] == pytest.approx(bc[n], abs=1e-12)
        assert c.loc[n, "pagerank"] == pytest.approx(pr[n], abs=1e-12)
        assert c.loc[n, "degree"] == H.degree(n)
        assert c.loc[n, "records"] == H.degree(n, weight="weight")
    s = centrality(G, exact_max_nodes=10, k=40, seed=7).set_index("node")
    sb = nx.betweenness_centrality(H, k=40, normalized=True, seed=7)
    for n in H:
        assert s.loc[n, "betweenness"] == pytest.approx(sb[n], abs=1e-12)
    assert c["measures_method"].str.startswith("betweenness exact").all()
    assert s["measures_method"].iloc[0].startswith("betweenness sampled: k=40 of 40")


def test_centrality_caps_pivots_by_size(G):
    """At scale the pivots are capped by a work budget and the output says so."""
    c = centrality(G, exact_max_nodes=10, k=256, work_budget=1.0, k_min=16, seed=2)
    assert not c["betweenness_exact"].any()
    method = c["measures_method"].iloc[0]
    assert "k=16 of 256" in method and "capped by size" in method
    assert c["measures_method"].nunique() == 1
    assert c["pagerank"].sum() == pytest.approx(1.0)
