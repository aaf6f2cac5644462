"""CLI commands of the network analyses: ``wayfinder network`` and ``wayfinder ego``.

``register(app)`` adds them to the Typer app of ``api/cli.py``.

``wayfinder network --db URL --out DIR [--seed N]`` resolves identities (``network.identity``),
stores them (table ``identity_links``), builds the person-place graph, finds co-missing groups,
ranks bridging persons, computes measures, writes the contract files into DIR and saves the
results in the store (``co_missing_groups``, ``bridging_persons``, ``network_measures``,
``places_linking_children``, ``network_components``, ``network_adult_links``) for the API.
Betweenness is exact up to 2,000 nodes, else estimated from seeded pivots, capped by graph size
(``network.measures.centrality``); the choice is stored in ``network_measures.measures_method``
and printed in the summary line (``betweenness=exact`` / ``betweenness=sampled:k=N``).

``wayfinder ego REF --depth 2 [--from DATE] [--to DATE] --db URL [--out FILE]`` writes the ego
network of a child or person (person_id or record key ``SOURCE/ID``) as Cytoscape.js JSON
(stdout or FILE; ``.graphml`` / ``.gexf`` by extension, ``.csv`` = i2 links).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from geo import results as R

from api.commands import fail as _fail

FRAMES = ("children", "persons", "episodes", "return_interviews", "place_events", "premises",
          "intelligence", "links")


def load_frames(store, resolve: bool = True) -> tuple[dict, pd.DataFrame | None]:
    """The frames the network analyses need, with ``person_id`` set from a fresh identity
    resolution when ``resolve`` (returned as the second value), else as the store holds it."""
    # a frame the store cannot build (empty table, no geocodes) is None, but for the two the
    # network cannot do without
    frames = store.frames(FRAMES, missing_ok=[n for n in FRAMES if n not in ("children", "episodes")])
    identities = None
    if resolve:
        from network.identity import person_id_map, records_from_frames, resolve_identities
        records = records_from_frames(frames["children"], frames["persons"])
        try:
            overrides = store.table("identity_overrides")
        except Exception:
            overrides = None
        identities = resolve_identities(records, overrides)
        apply_identities(frames, person_id_map(identities))
    return frames, identities


def apply_identities(frames: dict, pmap: dict) -> None:
    """Set ``person_id`` on every frame from a ``{record: person_id}`` map (in place)."""
    ch, pe, ep = frames.get("children"), frames.get("persons"), frames.get("episodes")
    if ch is not None and len(ch):
        ch["person_id"] = ch["child_key"].map(pmap).fillna(ch["person_id"])
    if pe is not None and len(pe):
        pe["person_id"] = pe["person_key"].map(pmap).fillna(pe["person_id"])
    if ep is not None and len(ep):
        ep["person_id"] = ep["child_key"].map(pmap).fillna(ep["person_id"])
        by_ep = pd.Series(ep["person_id"].to_numpy(), index=ep["episode_key"].to_numpy())
        by_ep = by_ep[~by_ep.index.duplicated()]
        for name in ("return_interviews", "place_events"):
            f = frames.get(name)
            if f is not None and len(f):
                f["person_id"] = f["episode_key"].map(by_ep).fillna(f["person_id"])


def save_identities(store, identities: pd.DataFrame) -> None:
    """Replace the ``identity_links`` table with this resolution."""
    from geo import schema
    rows = [{"record": r.record, "kind": r.kind, "person_id": r.person_id,
             "match_weight": None if pd.isna(r.match_weight) else float(r.match_weight),
             "evidence": getattr(r, "evidence", None)}
            for r in identities.itertuples(index=False)]
    with store.engine.begin() as conn:
        conn.execute(schema.identity_links.delete())
        if rows:
            conn.execute(schema.identity_links.insert(), rows)


def run_network(store, out_dir: Path, seed: int = 0, window: str = "6h",
                distance: float = 250.0) -> dict:
    """The whole ``wayfinder network`` pipeline; returns counts for the summary line."""
    from network.exports import write_all
    from network.graph import person_place_graph
    from network.groups import co_missing_groups, groups_to_records
    from network.measures import bridging_persons, centrality, components, places_linking_children

    frames, identities = load_frames(store, resolve=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    ident = identities[list(R.IDENTITY.columns)]
    ident.to_csv(out_dir / R.IDENTITY.file, index=False)
    save_identities(store, identities)

    G = person_place_graph(frames["children"], frames["persons"], frames["episodes"],
                           frames["return_interviews"], frames["place_events"],
                           frames["premises"], frames["intelligence"], frames["links"])
    # adults linked to each child in the graph, for the groups' shared adults
    kind = {n: d.get("kind") for n, d in G.nodes(data=True)}
    unresolved = {n for n, d in G.nodes(data=True) if d.get("unresolved")}
    al = [(c, a) for u, v in G.edges() for c, a in ((u, v), (v, u))
          if kind.get(c) == "child" and kind.get(a) == "person" and a not in unresolved]
    adult_links = pd.DataFrame(al, columns=["person_id", "adult_id"]).drop_duplicates()

    groups = co_missing_groups(frames["episodes"], frames["children"], frames["return_interviews"],
                               frames["persons"], window=window, distance=distance, seed=seed,
                               adult_links=adult_links)
    records = groups_to_records(groups)
    (out_dir / R.CO_MISSING_GROUPS.file).write_text(json.dumps(records, indent=1), encoding="utf-8")

    bridging = bridging_persons(G)
    bridging[list(R.BRIDGING_PERSONS.columns)].to_csv(out_dir / R.BRIDGING_PERSONS.file,
                                                      index=False)
    bridging.to_csv(out_dir / R.BRIDGING_EVIDENCE.file, index=False)
    measures = centrality(G, seed=seed)
    places = places_linking_children(G)
    comps = components(G)
    write_all(G, out_dir)

    params = {"seed": seed, "window": window, "distance_m": distance}
    store.write_result(R.CO_MISSING_GROUPS.name, groups, params)
    store.write_result(R.BRIDGING_PERSONS.name, bridging, params)
    store.write_result(R.NETWORK_MEASURES.name, measures, params)
    store.write_result(R.PLACES_LINKING_CHILDREN.name, places, params)
    store.write_result(R.NETWORK_COMPONENTS.name, comps, params)
    store.write_result(R.NETWORK_ADULT_LINKS.name, adult_links, params)
    return {"records": len(ident), "persons": ident["person_id"].nunique(),
            "nodes": G.number_of_nodes(), "edges": G.number_of_edges(), "groups": len(groups),
            "bridging": len(bridging), "betweenness": betweenness_method(measures)}


def betweenness_method(measures: pd.DataFrame) -> str:
    """``exact``, ``sampled:k=N`` or ``sampled:k=N(capped)`` from the ``measures_method`` of
    ``network.measures.centrality`` (the full wording is stored with ``network_measures``)."""
    if len(measures) == 0 or "measures_method" not in measures.columns:
        return "none"
    text = str(measures["measures_method"].iloc[0])
    if text.startswith("betweenness exact"):
        return "exact"
    import re
    k = re.search(r"k=(\d+)", text)
    return f"sampled:k={k.group(1) if k else '?'}" + ("(capped)" if "capped" in text else "")


def register(app: typer.Typer) -> None:
    """Add ``network`` and ``ego`` to the ``wayfinder`` Typer app."""

    @app.command("network")
    def network_cmd(
        db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        seed: int = typer.Option(0, "--seed", help="seed for Louvain and sampled betweenness"),
        window: str = typer.Option("6h", "--window", help="co-missing time window"),
        distance: float = typer.Option(250.0, "--distance", help="co-missing found distance, metres"),
    ) -> None:
        """Identity, person-place graph, co-missing groups, bridging persons, exports."""
        from api.commands import require_episodes, store_for
        store = store_for(db)
        require_episodes(store)
        try:
            summary = run_network(store, Path(out), seed=seed, window=window, distance=distance)
        except typer.Exit:
            raise
        except Exception as exc:
            _fail(f"network failed: {type(exc).__name__}: {exc}")
        from api.commands import audit_command
        from api.exports import record_export_dir
        record_export_dir(store.engine, out)        # erasure finds these files again
        audit_command(store, "combination", f"network -> {out} (graph, groups, bridging, exports)")
        typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()))

    @app.command("ego")
    def ego_cmd(
        ref: str = typer.Argument(..., help="person_id, record key SOURCE/ID, or node id"),
        depth: int = typer.Option(2, "--depth", min=1, max=2),
        date_from: Optional[str] = typer.Option(None, "--from", help="first date (inclusive)"),
        date_to: Optional[str] = typer.Option(None, "--to", help="last date (inclusive)"),
        db: Optional[str] = typer.Option(None, "--db"),
        out: Optional[Path] = typer.Option(None, "--out", help="FILE: .json (Cytoscape), .graphml, .gexf, .csv (i2 links)"),
    ) -> None:
        """The ego network of a child or person to depth 1-2, with a date filter."""
        from geo.store import open_store
        from network.exports import cytoscape_json, i2_frames, write_gexf, write_graphml
        from network.graph import person_place_graph
        from network.measures import ego_network
        try:
            store = open_store(db)
            has_ids = len(store.table("identity_links")) > 0
            frames, _ = load_frames(store, resolve=not has_ids)
            G = person_place_graph(**{k: frames[k] for k in FRAMES})
            sub = ego_network(G, ref, depth, start=date_from, end=date_to)
        except KeyError as exc:
            _fail(str(exc).strip("'\""))
        except typer.Exit:
            raise
        except Exception as exc:
            _fail(f"ego failed: {type(exc).__name__}: {exc}")
        from api.audit import subject
        from api.commands import audit_command
        audit_command(store, "combination", f"ego network {subject(store.engine, sub.graph.get('ego', ref))} "
                      f"depth {depth} {date_from or '..'}/{date_to or '..'} -> {out.name if out else 'stdout'}")
        if out is None:
            typer.echo(json.dumps(cytoscape_json(sub), ensure_ascii=False))
            return
        suffix = out.suffix.lower()
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".graphml":
            write_graphml(sub, out)
        elif suffix == ".gexf":
            write_gexf(sub, out)
        elif suffix == ".csv":
            i2_frames(sub)[1].to_csv(out, index=False, encoding="utf-8-sig")   # BOM: i2 reads UTF-8
        else:
            out.write_text(json.dumps(cytoscape_json(sub), ensure_ascii=False, indent=1), encoding="utf-8")
        typer.echo(f"ego={sub.graph['ego']} nodes={sub.number_of_nodes()} edges={sub.number_of_edges()}")
