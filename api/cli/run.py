"""`wayfinder run`: the whole pipeline in one resumable command (api.jobs.pipeline).

``register(app)`` adds it to the Typer app of ``api/cli/__init__.py``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from api.cli.common import DB_HELP
from api.settings import Settings


RUN_HELP = """Run the whole pipeline on the store: geocode, identity, analyses, graph, co-missing
groups, stored results; with --drop, ingest the drop first.

Writes the contract files of `wayfinder analyse` and `wayfinder network` into --out (plus
pipeline_run.json: steps, seconds, peak RSS) and stores every result for the API. Each step
stores its output before it is recorded as done (settings table, per input fingerprint), so a
run that fails or is killed resumes at the failed step (--resume, the default); --restart runs
every step again. A progress bar with elapsed time and ETA is shown on stderr for every step.

With --scheduler tcp://HOST:PORT (a running dask-scheduler) or --local-cluster N, geocoding and
the co-missing pair search run partitioned on Dask (by responsible authority, grid blocks and a
cross-boundary pass); the outputs are identical to the single-process run.

With --incremental (after a full run into the same --out; with or without --drop) each step, and
each analysis of the analyses step, runs only when the store tables, stored results and
parameters it reads changed since its last successful run; the others are skipped and keep
their results and files. Geocoding and the co-episode pairs of the groups step work on the new
and changed records only; identity, the graph and every global permutation test whose inputs
changed rerun in full. The outputs are those of a full run on the same store; pipeline_run.json
says per step whether it ran in full, on the delta (with its size) or was skipped."""


def register(app: typer.Typer) -> None:
    """Add ``run`` to the ``wayfinder`` Typer app."""

    @app.command("run", help=RUN_HELP)
    def run_cmd(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        out: Path = typer.Option(..., "--out", help="output folder for the contract files"),
        drop: Optional[Path] = typer.Option(None, "--drop", help="ingest this drop folder first "
                                            "(skipped on resume when its files are unchanged)"),
        mapping: Optional[List[Path]] = typer.Option(None, "--mapping", help="column-mapping "
                                                     "file for a --drop of real exports; "
                                                     "repeatable"),
        date_from: Optional[str] = typer.Option(None, "--from", help="first date of the analyses "
                                                "(inclusive), e.g. 2016-04-01"),
        date_to: Optional[str] = typer.Option(None, "--to", help="last date of the analyses "
                                              "(exclusive)"),
        seed: int = typer.Option(0, "--seed", help="seed of permutation tests, Louvain, sampled "
                                 "betweenness and identity u-sampling"),
        permutations: int = typer.Option(999, "--permutations", help="conditional permutations "
                                         "of the hot spot statistics"),
        window: str = typer.Option("6h", "--window", help="co-missing time window"),
        distance: float = typer.Option(250.0, "--distance", help="co-missing found distance, "
                                       "metres"),
        resume: bool = typer.Option(True, "--resume/--restart", help="resume from the first step "
                                    "not done for this input (default), or run every step"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler "
                                                "address tcp://HOST:PORT for partitioned steps"),
        local_cluster: Optional[int] = typer.Option(None, "--local-cluster", min=1,
                                                    help="start a local Dask cluster of N "
                                                    "workers for partitioned steps"),
        threads: bool = typer.Option(False, "--threads/--processes", help="local cluster "
                                     "workers as threads in this process, or processes "
                                     "(default)"),
        incremental: bool = typer.Option(False, "--incremental", help="skip every step and "
                                         "analysis whose inputs are unchanged since its last "
                                         "successful run (keeping its results and files), "
                                         "rerun the others, on the delta where a step can "
                                         "(geocoding, co-episode pairs); the outputs are those "
                                         "of a full run"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
        as_json: bool = typer.Option(False, "--json", help="print the run report as JSON"),
    ) -> None:
        import pandas as pd

        from api.jobs.pipeline import PipelineError, Progress, RunOptions, run_pipeline
        from api.cli.common import db_url
        from geo.storage.store import StoreError, open_store

        def fail(msg: str) -> None:
            typer.echo(f"wayfinder run: {' '.join(str(msg).split())}", err=True)
            raise typer.Exit(1)

        if scheduler and local_cluster:
            fail("give either --scheduler or --local-cluster, not both")
        if drop is not None and not drop.is_dir():
            fail(f"{drop}: no such drop folder")
        if mapping and drop is None:
            fail("--mapping goes with --drop")
        if incremental and not resume:
            fail("give either --incremental or --restart, not both")
        try:
            start = pd.Timestamp(date_from) if date_from else None
            end = pd.Timestamp(date_to) if date_to else None
        except ValueError as exc:
            fail(f"bad date: {exc}")
        try:
            store = open_store(db_url(db))
        except StoreError as exc:
            fail(str(exc))
        client = cluster = None
        if scheduler or local_cluster:
            try:
                from api.jobs.partition import make_client
                client, cluster = make_client(scheduler, local_cluster, processes=not threads)
            except Exception as exc:
                fail(f"cannot start Dask: {type(exc).__name__}: {exc}")
        opts = RunOptions(out=Path(out), drop=drop, mapping=mapping or None, start=start,
                          end=end, seed=seed,
                          permutations=permutations, window=window, distance=distance,
                          resume=resume, client=client, settings=Settings(),
                          incremental=incremental)
        try:
            with Progress(enabled=not quiet) as progress:
                report = run_pipeline(store, opts, progress)
        except PipelineError as exc:
            fail(str(exc))
        except Exception as exc:
            fail(f"{type(exc).__name__}: {exc}")
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        from api.cli.common import audit_command
        from api.jobs.exports import record_export_dir
        record_export_dir(store.engine, opts.out)      # erasure finds these files again
        audit_command(store, "combination", f"run -> {opts.out}"
                      + (f" (collection: ingest of {opts.drop})" if opts.drop is not None else ""))
        if as_json:
            typer.echo(json.dumps(report.to_json(), default=str))
        else:
            typer.echo(str(report))
