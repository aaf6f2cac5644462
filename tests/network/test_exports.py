"""Exports: GraphML and GEXF round-trip, Cytoscape.js JSON, i2 import CSVs."""
from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from network.exports import (I2_ENTITY_COLUMNS, I2_LINK_COLUMNS, MUTUAL, cytoscape_json,
                             i2_frames, read_graph, write_all)

T = "2017-03-04T21:15:00Z"


@pytest.fixture()
def G():
    G = nx.MultiDiGraph()
    G.add_node("P1", kind="child", label="Amy Khan", records=["police/C1", "carefirst/K9"],
               cse_risk="serious")
    G.add_node("PA1", kind="person", label="Tariq Ross", role="adult_of_concern")
    G.add_node("premises:L1", kind="premises", label="Ibis", easting=406905.4, northing=286595.0)
    G.add_node("place:1:2:fine", kind="place", label="his flat", restricted=False,
               texts=["his flat", "12 High St"])
    G.add_node("vehicle:AB12CDE", kind="vehicle", label="AB12CDE")
    G.add_edge("P1", "PA1", key="associate", relation="associate", sources=["rhi/R1"], dates=[T],
               first=T, last=T, gradings=[], intelligence=False, restricted=False, count=1, texts=[])
    G.add_edge("P1", "PA1", key="mentioned_with/intel", relation="mentioned_with",
               sources=["police/I1", "police/I2"], dates=[T, "2017-04-01T00:00:00Z"], first=T,
               last="2017-04-01T00:00:00Z", gradings=["3C C", "2B P"], intelligence=True,
               restricted=False, count=2, texts=[])
    G.add_edge("PA1", "vehicle:AB12CDE", key="drives_for/intel", relation="drives_for",
               sources=["intel:I9"], dates=[], first=None, last=None, gradings=["3D C"],
               intelligence=True, restricted=False, count=1, texts=[])
    G.add_edge("P1", "premises:L1", key="found_at", relation="found_at", sources=["police/E1"],
               dates=[T], first=T, last=T, gradings=[], intelligence=False, restricted=False,
               count=1, texts=["Ibis New Street"])
    G.add_edge("P1", "place:1:2:fine", key="went_to", relation="went_to", sources=["rhi/R1#0"],
               dates=[T], first=T, last=T, gradings=[], intelligence=False, restricted=False,
               count=1, texts=[])
    return G


def test_graphml_and_gexf_round_trip(G, tmp_path):
    paths = write_all(G, tmp_path)
    for name in ("graph.graphml", "graph.gexf", "cytoscape.json", "i2_entities.csv", "i2_links.csv"):
        assert (tmp_path / name).stat().st_size > 0
    # networkx refuses mixed graphs: read_graph reads each mutual edge as a pair
    mutual = sum(d["relation"] in MUTUAL for *_, d in G.edges(data=True))
    H = read_graph(paths["graphml"])
    assert set(H.nodes) == set(G.nodes)
    assert H.number_of_edges() == G.number_of_edges() + mutual
    assert H.nodes["P1"]["kind"] == "child"
    assert H.nodes["P1"]["records"] == "police/C1; carefirst/K9"
    intel = [d for _, _, d in H.edges(data=True) if d["relation"] == "mentioned_with"][0]
    assert intel["intelligence"] is True and intel["strength"] == "unconfirmed"
    assert intel["gradings"] == "3C C; 2B P" and intel["sources"] == "police/I1; police/I2"
    fact = [d for _, _, d in H.edges(data=True) if d["relation"] == "associate"][0]
    assert fact["intelligence"] is False and fact["strength"] == "fact"
    X = read_graph(paths["gexf"])
    assert set(X.nodes) == set(G.nodes)
    assert X.number_of_edges() == G.number_of_edges() + mutual  # multi-edges kept (unique ids)
    assert X.nodes["PA1"]["label"] == "Tariq Ross"


def test_cytoscape_json(G):
    cy = json.loads(json.dumps(cytoscape_json(G)))
    nodes, edges = cy["elements"]["nodes"], cy["elements"]["edges"]
    assert {n["data"]["id"] for n in nodes} == set(G.nodes)
    assert all({"id", "source", "target", "relation"} <= set(e["data"]) for e in edges)
    assert len({e["data"]["id"] for e in edges}) == len(edges)
    intel = [e for e in edges if e["data"]["intelligence"]]
    assert len(intel) == 2 and all("intelligence" in e["classes"].split() for e in intel)
    assert any(s["selector"] == "edge.intelligence" and s["style"]["line-style"] == "dashed"
               for s in cy["style"])


def test_i2_frames(G):
    ents, links = i2_frames(G)
    assert list(ents.columns) == I2_ENTITY_COLUMNS and list(links.columns) == I2_LINK_COLUMNS
    e = ents.set_index("Identity")
    assert e.loc["P1", "Entity Type"] == "Child" and e.loc["PA1", "Entity Type"] == "Person"
    assert e.loc["premises:L1", "Entity Type"] == "Premises" and e.loc["premises:L1", "Easting"] == 406905
    assert e.loc["vehicle:AB12CDE", "Entity Type"] == "Vehicle"
    assert e.loc["place:1:2:fine", "Entity Type"] == "Location"
    # every link end is an entity
    assert set(links["From Identity"]) | set(links["To Identity"]) <= set(ents["Identity"])
    l = links.set_index(["Link Type", "Intelligence"])
    m = l.loc[("mentioned_with", "Yes")]
    # best grading 2B P split into the three i2 grades; unconfirmed, never confirmed
    assert (m["Grade 1"], m["Grade 2"], m["Grade 3"]) == ("2", "B", "P")
    assert m["Strength"] == "Unconfirmed" and m["Source Type"] == "Intelligence"
    assert m["Date"] == "2017-03-04" and m["Time"] == "21:15:00" and m["Date Last"] == "2017-04-01"
    assert l.loc[("drives_for", "Yes"), "Strength"] == "Tentative"
    assert l.loc[("associate", "No"), "Strength"] == "Confirmed"
    assert (links.loc[links["Intelligence"] == "Yes", "Strength"] != "Confirmed").all()


def test_empty_graph(tmp_path):
    paths = write_all(nx.MultiDiGraph(), tmp_path)
    assert pd.read_csv(paths["i2_entities"]).empty
    assert json.loads(paths["cytoscape"].read_text())["elements"]["nodes"] == []


# --------------------------------------------------------------------------- CLI contract
@pytest.fixture(scope="module")
def loaded_store(tmp_path_factory):
    """A store holding the reference data and a synth sample drop, through the real CLI."""
    from pathlib import Path

    from typer.testing import CliRunner

    from api.cli import app
    from geo.scenario import generator as synth
    root = Path(__file__).resolve().parents[2] / "data" / "reference"
    tmp = tmp_path_factory.mktemp("cli")
    truth = synth.generate(tmp / "drop", seed=3, scale="sample")
    db = f"sqlite:///{tmp / 'w.sqlite'}"
    runner = CliRunner()
    r = runner.invoke(app, ["reference", "--db", db,
                            "--codepoint", str(root / "gazetteer" / "codepoint_open_2014_b.csv"),
                            "--wards", str(root / "boundaries" / "birmingham_wards_2013.geojson")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", str(tmp / "drop"), "--db", db])
    assert r.exit_code == 0, r.output
    return runner, app, db, tmp, truth


def test_network_command_contract_outputs(loaded_store):
    runner, app, db, tmp, truth = loaded_store
    out = tmp / "out"
    r = runner.invoke(app, ["network", "--db", db, "--out", str(out)])
    assert r.exit_code == 0, r.output
    ident = pd.read_csv(out / "identity.csv")
    assert list(ident.columns) == ["record", "kind", "person_id", "match_weight"]
    assert set(ident["kind"]) <= {"child", "person"}
    assert ident["record"].str.contains("/").all()
    groups = json.loads((out / "co_missing_groups.json").read_text())
    assert isinstance(groups, list)
    for g in groups:
        assert {"group_id", "members", "co_episodes", "first", "last", "shared_places"} <= set(g)
        assert set(g["members"]) <= set(ident["person_id"]) and g["co_episodes"] >= 2
    b = pd.read_csv(out / "bridging_persons.csv")
    assert list(b.columns) == ["rank", "person_id", "children", "score"]
    assert b["rank"].tolist() == list(range(1, len(b) + 1)) and b["score"].is_monotonic_decreasing
    assert set(b["person_id"]) <= set(ident["person_id"])
    # planted adults of concern (true ids) are at the top
    p2t = ident.assign(t=ident["record"].map(truth["identities"])).dropna(subset=["t"]) \
        .groupby("person_id")["t"].first()
    top = set(b["person_id"].head(10).map(p2t))
    assert set(truth["adults_of_concern"]) <= top
    H = read_graph(out / "graph.graphml")
    assert H.number_of_nodes() > 0
    assert set(ident["person_id"]) & set(H.nodes)
    assert read_graph(out / "graph.gexf").number_of_edges() == H.number_of_edges()
    cy = json.loads((out / "cytoscape.json").read_text())
    assert len(cy["elements"]["nodes"]) == H.number_of_nodes()
    ents, links = pd.read_csv(out / "i2_entities.csv"), pd.read_csv(out / "i2_links.csv")
    assert set(links["From Identity"]) | set(links["To Identity"]) <= set(ents["Identity"])
    assert (links.loc[links["Intelligence"] == "Yes", "Strength"] != "Confirmed").all()
    # results stored for the API
    from geo.storage.store import open_store
    store = open_store(db)
    assert len(store.read_result("bridging_persons")) == len(b)
    assert len(store.read_result("co_missing_groups")) == len(groups)
    assert len(store.read_result("network_measures")) == H.number_of_nodes()
    assert len(store.table("identity_links")) == len(ident)


def test_ego_command(loaded_store):
    runner, app, db, tmp, truth = loaded_store
    r = runner.invoke(app, ["network", "--db", db, "--out", str(tmp / "ego_out")])
    assert r.exit_code == 0, r.output
    b = pd.read_csv(tmp / "ego_out" / "bridging_persons.csv")
    assert not b.empty, "the sample drop plants adults of concern"
    ref = b["person_id"].iloc[0]
    r = runner.invoke(app, ["ego", ref, "--depth", "1", "--db", db])
    assert r.exit_code == 0, r.output
    cy = json.loads(r.stdout.strip().splitlines()[0])
    ids = {n["data"]["id"] for n in cy["elements"]["nodes"]}
    assert ref in ids and len(ids) > b["children"].iloc[0]
    f = tmp / "ego.graphml"
    r = runner.invoke(app, ["ego", ref, "--depth", "2", "--from", "2000-01-01", "--to", "2000-12-31",
                            "--db", db, "--out", str(f)])
    assert r.exit_code == 0, r.output
    E = read_graph(f)
    assert ref in E and all(not d.get("first") for _, _, d in E.edges(data=True))  # undated only
    r = runner.invoke(app, ["ego", "nobody-at-all", "--db", db])
    assert r.exit_code != 0


def _check_graphml_structure(path):
    """The rules of the GraphML 1.0 schema the file relies on: root ``graphml`` in the GraphML
    namespace, every ``key`` before the ``graph``, key ids unique, every ``data`` naming a key
    declared for its element kind, node ids unique, edge ends declared nodes, edge ids unique,
    typed values parse as their declared type."""
    import xml.etree.ElementTree as ET
    ns = "{http://graphml.graphdrawing.org/xmlns}"
    root = ET.parse(path).getroot()
    assert root.tag == ns + "graphml"
    tags = [c.tag for c in root]
    assert tags.count(ns + "graph") == 1 and tags[-1] == ns + "graph"
    keys = {k.get("id"): k for k in root.findall(ns + "key")}
    assert len(keys) == len(root.findall(ns + "key"))
    assert all(k.get("for") in ("node", "edge", "graph", "all") for k in keys.values())
    assert all(k.get("attr.type") in ("boolean", "int", "long", "float", "double", "string")
               for k in keys.values())
    graph = root.find(ns + "graph")
    assert graph.get("edgedefault") in ("directed", "undirected")
    ids = [n.get("id") for n in graph.findall(ns + "node")]
    assert len(ids) == len(set(ids))
    eids = [e.get("id") for e in graph.findall(ns + "edge")]
    assert len(eids) == len(set(eids))
    cast = {"boolean": lambda s: {"true": 1, "false": 0}[s], "long": int, "int": int,
            "double": float, "float": float, "string": str}
    for el in graph:
        scope = el.tag[len(ns):]
        if scope == "edge":
            assert el.get("source") in set(ids) and el.get("target") in set(ids)
        for d in el.findall(ns + "data"):
            k = keys[d.get("key")]
            assert k.get("for") == scope
            cast[k.get("attr.type")](d.text or "")


def test_graphml_schema_rules_and_awkward_text(G, tmp_path):
    G.add_node("name:o'neil & <co> \"x\"", kind="person", label="O'Neil & <Co>\n\"x\"\x01",
               unresolved=True, easting=1)
    G.add_edge("P1", "name:o'neil & <co> \"x\"", key="associate", relation="associate",
               sources=["rhi/R2"], dates=[], first=None, last=None, gradings=[],
               intelligence=False, restricted=True, count=3, texts=["a & b"])
    paths = write_all(G, tmp_path)
    _check_graphml_structure(paths["graphml"])
    H = read_graph(paths["graphml"])
    odd = "name:o'neil & <co> \"x\""
    assert H.nodes[odd]["label"] == "O'Neil & <Co>\n\"x\""   # control character dropped
    assert H.nodes["premises:L1"]["easting"] == 406905.4 and H.nodes[odd]["easting"] == 1.0
    e = [d for u, v, d in H.edges(data=True) if v == odd][0]
    assert e["restricted"] is True and e["count"] == 3 and e["texts"] == "a & b"
    X = read_graph(paths["gexf"])
    assert X.nodes[odd]["label"] == "O'Neil & <Co>\n\"x\""
    mutual = sum(d["relation"] in MUTUAL for *_, d in G.edges(data=True))
    assert X.number_of_edges() == G.number_of_edges() + mutual
    assert {d["id"] for _, _, d in X.edges(data=True)} == {f"e{i}" for i in range(1, 7)}
    # the file written and the in-memory JSON are the same document
    assert json.loads(paths["cytoscape"].read_text()) == json.loads(json.dumps(cytoscape_json(G)))


# --------------------------------------------------------------------------- loading cleanly
GEXF_XSD = Path(__file__).resolve().parents[2] / "data" / "gexf" / "gexf.xsd"


def test_gexf_is_valid_against_the_gexf_12draft_schema(G, tmp_path):
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(GEXF_XSD)))
    G.add_node("name:o'neil & <co>", kind="person", label="O'Neil & <Co>\n", unresolved=True)
    G.add_edge("P1", "name:o'neil & <co>", key="seen_with", relation="seen_with",
               sources=["rhi/R2"], dates=[], first=None, last=None, gradings=[],
               intelligence=False, restricted=False, count=1, texts=[])
    paths = write_all(G, tmp_path)
    doc = etree.parse(str(paths["gexf"]))
    assert schema.validate(doc), schema.error_log.filter_from_errors()
    # and a file the schema refuses is refused (the test can fail)
    bad = etree.parse(str(paths["gexf"]))
    bad.getroot().find("{http://www.gexf.net/1.2draft}graph").set("name", "")
    assert not schema.validate(bad)
    empty = write_all(nx.MultiDiGraph(), tmp_path / "empty")
    assert schema.validate(etree.parse(str(empty["gexf"]))), schema.error_log


def test_mutual_relations_are_undirected_in_every_format(G, tmp_path):
    from lxml import etree
    paths = write_all(G, tmp_path)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns", "x": "http://www.gexf.net/1.2draft"}
    seen = {}
    for e in etree.parse(str(paths["graphml"])).iterfind(".//g:edge", ns):
        relation = e.find("g:data[@key='relation']", ns).text
        seen[relation] = e.get("directed")
    assert seen == {"associate": "false", "mentioned_with": "false", "drives_for": None,
                    "found_at": None, "went_to": None}
    types = {e.get("label"): e.get("type") for e in etree.parse(str(paths["gexf"])).iterfind(".//x:edge", ns)}
    assert types == {"associate": "undirected", "mentioned_with": "undirected",
                     "drives_for": "directed", "found_at": "directed", "went_to": "directed"}
    # a Gephi-style reader (networkx, through read_graph) sees them undirected: both ways,
    # flagged, and in- and out-degree no longer depend on which end was written first
    for path in (paths["graphml"], paths["gexf"]):
        H = read_graph(path)
        for u, v, d in H.edges(data=True):
            assert d["mutual"] == (d["relation"] in MUTUAL)
            if d["mutual"]:
                assert any(dd["relation"] == d["relation"] for dd in H.get_edge_data(v, u).values())
            else:
                assert not H.has_edge(v, u) or all(
                    dd["relation"] != d["relation"] for dd in H.get_edge_data(v, u).values())
        mutual_only = nx.MultiDiGraph([(u, v) for u, v, d in H.edges(data=True) if d["mutual"]])
        assert dict(mutual_only.in_degree()) == dict(mutual_only.out_degree())
        assert H.to_undirected().number_of_edges() <= H.number_of_edges()
    cy = cytoscape_json(G)
    for e in cy["elements"]["edges"]:
        assert ("mutual" in e["classes"].split()) == (e["data"]["relation"] in MUTUAL)
    assert {"selector": "edge.mutual", "style": {"target-arrow-shape": "none"}} in cy["style"]
    _, links = i2_frames(G)
    assert set(links.loc[links["Direction"] == "Without Arrows", "Link Type"]) == {"associate", "mentioned_with"}


def test_i2_csvs_have_a_utf8_bom(G, tmp_path):
    G.add_node("name:zoë", kind="person", label="Zoë Łukasz", unresolved=True)
    G.add_edge("P1", "name:zoë", key="associate", relation="associate", sources=["rhi/R3"],
               dates=[], first=None, last=None, gradings=[], intelligence=False,
               restricted=False, count=1, texts=[])
    paths = write_all(G, tmp_path)
    for name in ("i2_entities", "i2_links"):
        raw = paths[name].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1
    ents = pd.read_csv(paths["i2_entities"], encoding="utf-8-sig")
    assert list(ents.columns) == I2_ENTITY_COLUMNS and "Zoë Łukasz" in set(ents["Label"])
    assert list(pd.read_csv(paths["i2_links"], encoding="utf-8-sig").columns) == I2_LINK_COLUMNS


def test_write_behind_keeps_the_order_and_raises_the_writers_error(tmp_path):
    """The exports' files are written by a thread of their own: the bytes land in the order
    given, and an error of the writing thread reaches the caller (not a silently short file)."""
    from network.exports import _WriteBehind
    chunks = [bytes([65 + i % 26]) * (1000 + i) for i in range(200)]
    with _WriteBehind(tmp_path / "a.bin") as f:
        for c in chunks:
            f.write(memoryview(c))
    assert (tmp_path / "a.bin").read_bytes() == b"".join(chunks)

    class Full(OSError):
        pass

    w = _WriteBehind(tmp_path / "b.bin")

    def refuse(data):
        raise Full("No space left on device")
    w._f.write = refuse
    with pytest.raises(Full):
        try:
            for c in chunks:
                w.write(c)
        finally:
            w.close()
    assert not w._thread.is_alive()
