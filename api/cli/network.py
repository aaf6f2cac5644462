"""`wayfinder network` (identity, graph and groups steps of the pipeline) and `wayfinder ego`
(api.jobs.network)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from api.cli.common import fail as _fail
from api.jobs.network import FRAMES, load_frames
from api.jobs.pipeline import run_network

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
        from api.cli.common import require_episodes, store_for
        store = store_for(db)
        require_episodes(store)
        try:
            summary = run_network(store, Path(out), seed=seed, window=window, distance=distance)
        except typer.Exit:
            raise
        except Exception as exc:
            _fail(f"network failed: {type(exc).__name__}: {exc}")
        from api.cli.common import audit_command
        from api.jobs.exports import record_export_dir
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
        from api.cli.common import db_url
        from geo.storage.store import open_store
        from network.exports import cytoscape_json, i2_frames, write_gexf, write_graphml
        from network.graph import person_place_graph
        from network.measures import ego_network
        try:
            store = open_store(db_url(db))
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
        from api.jobs.audit import subject
        from api.cli.common import audit_command
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
