"""The whole pipeline in one resumable run: ingest, geocode, identity, analyses, graph, groups,
stored results (``wayfinder run``).

Each step reads its inputs from the store and stores its outputs there (tables and
``store.write_result``) before it is recorded as done, so a run that fails or is killed in a
step restarts from that step's stored input, not from zero.

The run record
--------------
The record of which steps completed is kept in the ``settings`` table (key/value, geo/storage/schema.py):

* ``pipeline_run:<fingerprint>`` -> JSON ``{"fingerprint", "params", "out", "steps": {step:
  {"status": "done"|"failed"|"running", "seconds", "peak_rss_mb", "summary", "error",
  "finished_at"}}}``
* ``pipeline_run:latest`` -> the fingerprint of the last run started.
* ``pipeline_timings`` -> the last duration of every step with the episode count it ran on; the
  progress bar uses it to estimate the ETA of steps that report no finer progress.
* ``pipeline_ingest:<drop fingerprint>`` -> a drop already ingested by ``--drop`` (names, sizes
  and modification times of its files).

The *fingerprint* is a SHA-1 over the parameters that change outputs (``from``, ``to``, seed,
permutations, window, distance) and a signature of the stored input: per drop table the row
count, the largest id and the largest ingest run id; the reference data (postcodes, areas);
identity overrides; analysts' geocode overrides. Ingesting new rows or an analyst's override
gives a new fingerprint and so a full run; the same input resumes.

On resume (the default) the first step that is not recorded as done for the fingerprint, or
whose output files are missing from ``--out``, runs, and so does every step after it;
``--restart`` forgets the record and runs every step.

Incremental runs
----------------
With ``--incremental`` the fingerprint's all-or-nothing rule gives way to one signature per
step (and per analysis) of what it reads (``STEP_INPUTS``, ``api.jobs.analyse.ANALYSES``,
``api.jobs.incremental``), kept under ``pipeline_inputs`` after every successful step of any
run: a step whose signature is unchanged and whose files are in ``--out`` is skipped, the others
run (geocoding and the co-episode pairs on the delta). Each step's record says its ``mode``:
``full``, ``delta`` (with ``delta``, its size), ``partial`` (``analyses``: which ran) or
``skipped``.

Two processes
-------------
After identity the analyses run in a second, forked process beside the graph and groups steps
(``api.jobs.beside``; ``WAYFINDER_PIPELINE_WORKERS=1`` keeps one process): neither lane reads a
result the other writes. The tiles step goes to whichever process is free first. This process
joins the other before the results step and writes its records (run record, timings,
incremental memory), so the record and outputs are those of a run in one process; a step that
ran there says ``"process": "beside"``, and each step's ``peak_rss_mb_all`` is the memory both
processes held at once while it ran: this one's RSS plus the other's private pages, so the pages
they share after the fork are counted once (``beside.proc_private_mb``). From
``pipeline_hold_episodes`` episodes the analyses' process waits for the graph's build, the run's
memory peak, before it starts (``beside.WAITS``; its record's ``held_seconds``).

Progress
--------
Every step shows a rich progress bar with elapsed time and ETA on stderr. Steps with natural
units (geocoding chunks, graph phases, partitions on Dask) advance per unit; steps that report
no finer progress (identity resolution, the analyses) advance against the duration the last
run took, scaled by the episode count ("est." in the label).

Partitioned execution
---------------------
With a Dask client (``--scheduler`` or ``--local-cluster``) the geocode and co-missing steps run
partitioned (``api.jobs.partition``); their outputs are identical to the single-process run.
"""
from __future__ import annotations

import contextlib

import hashlib
import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import sqlalchemy as sa

from api.settings import Settings
from api.jobs import beside
from api.jobs.incremental import REFERENCE_TABLES, Inputs, Memory, result_signature, signature
from api.jobs.pairs import canonical_pairs, co_episode_pairs_delta, co_episode_pairs_single  # noqa: F401 - part of the steps' API
from geo.storage import schema
from geo import results as R
from geo.storage.store import utcnow
from geo.storage.protocol import StoreLike

STEPS = ("ingest", "geocode", "identity", "analyses", "graph", "groups", "tiles", "results")

#: files each step writes into --out (a step whose files are missing runs again on resume).
STEP_FILES = {step: R.step_files(step) for step in R.STEPS}

#: seconds per 1,000 episodes, for the first ETA before any run has been timed (city scale,
#: this machine).
DEFAULT_RATE = {"ingest": 2.0, "geocode": 1.0, "identity": 2.0, "analyses": 6.0, "graph": 12.0,
                "groups": 0.3, "tiles": 0.05, "results": 0.05}

#: geocoding chunk size (texts); the gazetteer is built once and the chunks share it.
GEOCODE_CHUNK = 20_000

RUN_KEY = "pipeline_run:"
TIMINGS_KEY = "pipeline_timings"


class PipelineError(RuntimeError):
    """A step failed; the run record says which, and a resume starts there."""


# ---------------------------------------------------------------------------------------------
# settings (key/value) helpers
# ---------------------------------------------------------------------------------------------
def get_setting(store: StoreLike, key: str) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(schema.settings.c.value)
                            .where(schema.settings.c.key == key)).scalar()


def put_setting(store: StoreLike, key: str, value: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.settings.delete().where(schema.settings.c.key == key))
        conn.execute(schema.settings.insert(), {"key": key, "value": value})


def delete_settings(store: StoreLike, prefix: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.settings.delete().where(schema.settings.c.key.like(prefix + "%")))


# ---------------------------------------------------------------------------------------------
# fingerprints
# ---------------------------------------------------------------------------------------------
def input_signature(store: StoreLike) -> dict:
    """What the run reads, summarised cheaply: counts, largest ids and ingest runs per table."""
    sig = {}
    with store.engine.connect() as conn:
        for name, t in schema.DROP_TABLES.items():
            n, mx, run = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id),
                                                sa.func.max(t.c.run_id))).one()
            sig[name] = [int(n), mx, run]
        for t in (schema.postcodes, schema.areas):
            sig[t.name] = int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())
        o = schema.identity_overrides
        sig["identity_overrides"] = list(conn.execute(
            sa.select(sa.func.count(), sa.func.max(o.c.id))).one())
        g = schema.geocodes
        n, last = conn.execute(sa.select(sa.func.count(), sa.func.max(g.c.updated_at))
                               .where(g.c.override.is_(True))).one()
        sig["geocode_overrides"] = [int(n), str(last)]
    return sig


def fingerprint(signature: dict, params: dict) -> str:
    doc = json.dumps({"input": signature, "params": params}, sort_keys=True, default=str)
    return hashlib.sha1(doc.encode("utf-8")).hexdigest()


def drop_fingerprint(drop: Path) -> str:
    parts = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in Path(drop).iterdir()
                   if p.is_file())
    return hashlib.sha1(json.dumps([str(Path(drop).resolve()), parts]).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Resident set size of this process now (MB)."""
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # Linux fallback
        return beside.proc_rss_mb("self")


def peak_rss_mb() -> float:
    """Peak RSS of this process over its life (MB, ru_maxrss)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Sampler:
    """Samples RSS every `interval` s on a thread while a step runs (peak per step) and calls
    `tick` so time-estimated progress bars move."""

    def __init__(self, interval: float = 0.2, tick: Callable[[], None] | None = None,
                 others: Callable[[], tuple[float, float]] | None = None):
        self.interval, self.tick, self.others = interval, tick, others
        self.peak = rss_mb()
        #: peak of this process's RSS plus what ``others`` measures (the private memory of a
        #: step running beside this one, api.jobs.beside), summed at each sample
        self.peak_all = self.peak
        #: the same with the others' RSS (pages shared with this process counted twice)
        self.peak_rss_sum = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            now = rss_mb()
            self.peak = max(self.peak, now)
            private, rss = self.others() if self.others else (0.0, 0.0)
            self.peak_all = max(self.peak_all, now + private)
            self.peak_rss_sum = max(self.peak_rss_sum, now + rss)
            if self.tick:
                with contextlib.suppress(Exception):   # a display problem never fails a step
                    self.tick()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        self.peak_all = max(self.peak_all, self.peak)
        self.peak_rss_sum = max(self.peak_rss_sum, self.peak)


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class Progress:
    """Progress of the run: one rich bar per step, with elapsed time and ETA.

    ``events`` keeps what was reported (step, kind, completed, total) so tests and the bench
    can check that every step reported progress.
    """

    def __init__(self, console=None, enabled: bool = True):
        self.events: list[tuple] = []
        self._bar = None
        self._task = None
        self._step = None
        self._estimate = None
        self._t0 = 0.0
        self._lock = threading.Lock()
        self._side: dict = {}          # step -> bar task of a step in a second process
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TaskProgressColumn, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self._bar = RichProgress(
                TextColumn("[bold]{task.description:<28}"), BarColumn(), TaskProgressColumn(),
                MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                TextColumn("eta"), TimeRemainingColumn(),
                console=console or Console(stderr=True), transient=False,
                refresh_per_second=4)

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()

    def start(self, step: str, total: float | None = None, estimate: float | None = None,
              label: str | None = None) -> None:
        """A step starts: with `total` units, or (no units) against an `estimate` in seconds."""
        with self._lock:
            self._step, self._t0 = step, time.perf_counter()
            self._estimate = None if total else max(float(estimate or 1.0), 0.5)
            tot = total if total else 1000
            desc = label or (step if total else f"{step} (est.)")
            self.events.append((step, "start", 0, tot))
            if self._bar is not None:
                self._task = self._bar.add_task(desc, total=tot)

    def advance(self, units: float = 1) -> None:
        """`units` of the current step are done."""
        with self._lock:
            if self._estimate is not None:
                return
            self.events.append((self._step, "advance", units, None))
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task, units)

    def tick(self) -> None:
        """Move a time-estimated bar (called by the sampler thread)."""
        with self._lock:
            if self._estimate is None or self._bar is None or self._task is None:
                return
            frac = min((time.perf_counter() - self._t0) / self._estimate, 0.99)
            self._bar.update(self._task, completed=1000 * frac)

    def side_start(self, step: str) -> None:
        """A step starts in a second process (api.jobs.beside): its own bar, which completes
        when :meth:`side_finish` is called at the join."""
        with self._lock:
            self.events.append((step, "start", 0, 1))
            if self._bar is not None:
                self._side[step] = self._bar.add_task(f"{step} (second process)", total=1)

    def side_finish(self, step: str, status: str = "done") -> None:
        with self._lock:
            self.events.append((step, "advance", 1, None))
            self.events.append((step, status, None, None))
            task = self._side.pop(step, None)
            if self._bar is not None and task is not None:
                if status == "done":
                    self._bar.update(task, completed=1)
                self._bar.stop_task(task)

    def finish(self, status: str = "done") -> None:
        with self._lock:
            self.events.append((self._step, status, None, None))
            if self._bar is not None and self._task is not None:
                task = self._bar.tasks[-1]
                if status == "done":
                    self._bar.update(self._task, completed=task.total)
                self._bar.stop_task(self._task)
            self._task, self._estimate = None, None


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
@dataclass
class RunOptions:
    out: Path
    drop: Path | None = None
    mapping: list[Path] | None = None      # column-mapping files for a drop of real exports
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    seed: int = 0
    permutations: int = 999
    window: str = "6h"
    distance: float = 250.0
    resume: bool = True
    client: object | None = None           # dask.distributed.Client for partitioned steps
    #: seed of the identity resolution when it is not `seed`: `wayfinder network` resolves with
    #: the default 0 (its --seed is the seed of Louvain and sampled betweenness)
    identity_seed: int | None = None
    #: the install's settings (read once where the command starts); None: from the environment
    settings: Settings | None = None
    #: skip each step (and analysis) whose inputs are unchanged since its last successful run,
    #: do delta work where a step has it (api.jobs.incremental)
    incremental: bool = False

    def params(self) -> dict:
        return {"from": self.start, "to": self.end, "seed": self.seed,
                "permutations": self.permutations, "window": self.window,
                "distance": self.distance}

    def input_params(self) -> dict:
        """The parameters the steps' input signatures name (api.jobs.incremental)."""
        return {**self.params(), "identity_seed": self.seed if self.identity_seed is None
                else self.identity_seed, "out": str(Path(self.out).resolve())}


@dataclass
class Context:
    store: StoreLike
    opts: RunOptions
    progress: Progress
    episodes: int = 0
    cache: dict = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.opts.out


@dataclass
class RunReport:
    fingerprint: str
    steps: dict            # step -> record (status, seconds, peak_rss_mb, summary, skipped)
    seconds: float
    peak_rss_mb: float

    def to_json(self) -> dict:
        return {"fingerprint": self.fingerprint, "seconds": round(self.seconds, 2),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "steps": self.steps}

    def __str__(self) -> str:
        lines = []
        for s, r in self.steps.items():
            how = (r.get("mode") or "skipped (done before)") if r.get("skipped") else \
                (r.get("mode") or r.get("status"))
            if how == "skipped":
                how = "skipped (unchanged)"
            elif how == "delta" and r.get("delta"):
                how = f"delta ({r['delta'].get('episodes', r['delta'].get('texts', '?'))})"
            lines.append(f"{s:<9} {how:<22.22} {r.get('seconds', 0):>8.1f} s "
                         f"{r.get('peak_rss_mb', 0):>8.0f} MB  {json.dumps(r.get('summary', {}), default=str)}")
        lines.append(f"total {self.seconds:.1f} s, peak RSS {self.peak_rss_mb:.0f} MB, "
                     f"fingerprint {self.fingerprint[:12]}")
        return "\n".join(lines)


def _count_episodes(store: StoreLike) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.episodes)).scalar())


def _estimate(store: StoreLike, step: str, episodes: int) -> float:
    raw = get_setting(store, TIMINGS_KEY)
    hist = json.loads(raw) if raw else {}
    h = hist.get(step)
    if h and h.get("episodes"):
        return h["seconds"] * max(episodes, 1) / h["episodes"]
    return DEFAULT_RATE.get(step, 1.0) * max(episodes, 1) / 1000


def _save_timing(store: StoreLike, step: str, seconds: float, episodes: int) -> None:
    raw = get_setting(store, TIMINGS_KEY)
    hist = json.loads(raw) if raw else {}
    hist[step] = {"seconds": seconds, "episodes": episodes}
    put_setting(store, TIMINGS_KEY, json.dumps(hist))


def load_record(store: StoreLike, fp: str) -> dict | None:
    raw = get_setting(store, RUN_KEY + fp)
    return json.loads(raw) if raw else None


def latest_record(store: StoreLike) -> dict | None:
    fp = get_setting(store, RUN_KEY + "latest")
    return load_record(store, fp) if fp else None


def _files_present(out: Path, step: str) -> bool:
    return all((out / f).exists() for f in STEP_FILES.get(step, ()))


#: what each step reads (api.jobs.incremental); analyses: per analysis (api.jobs.analyse), tiles:
#: the tilesets' own store stamp, results: never skipped (it writes this run's report)
STEP_INPUTS: dict[str, Inputs] = {
    "geocode": Inputs(tables=(*schema.DROP_TABLES, "geocodes", *REFERENCE_TABLES)),
    "identity": Inputs(tables=("children", "persons", "identity_overrides"),
                       params=("identity_seed", "out")),
    "graph": Inputs(frames=("children", "persons", "episodes", "return_interviews",
                            "place_events", "premises", "intelligence", "links"),
                    params=("seed", "window", "distance", "out")),
    "groups": Inputs(frames=("episodes", "children", "return_interviews", "persons"),
                     results=(R.NETWORK_ADULT_LINKS.name,),
                     params=("seed", "window", "distance", "out")),
}
#: steps that write what they read (geocoding fills geocodes): their signature is taken after
WRITES_OWN_INPUT = ("geocode",)


def analysis_signatures(store: StoreLike, opts: RunOptions) -> dict[str, str]:
    """The input signature of every analysis of the analyses step."""
    from api.jobs.analyse import ANALYSES
    memo: dict = {}
    return {a.name: signature(store, a.inputs, opts.input_params(), memo) for a in ANALYSES}


def step_signature(ctx: Context, step: str) -> str | None:
    """The signature of what `step` reads as the store holds it now (None: never skipped)."""
    store, opts = ctx.store, ctx.opts
    if step in STEP_INPUTS:
        return signature(store, STEP_INPUTS[step], opts.input_params())
    if step == "analyses":
        sigs = analysis_signatures(store, opts)
        ctx.cache["analysis_signatures"] = sigs
        return hashlib.sha1(json.dumps(sigs, sort_keys=True).encode()).hexdigest()
    if step == "tiles":
        from api.jobs.layers import LayerCache
        from api.jobs.tilesets import points_stamp
        st = opts.settings or Settings()
        return points_stamp({**LayerCache(store, st, None).fingerprint(),
                             "grid_m": st.grid_m, "small": st.small_count})
    return None


def run_pipeline(store: StoreLike, opts: RunOptions, progress: Progress | None = None,
                 steps: dict[str, Callable[[Context], dict]] | None = None) -> RunReport:
    """Run (or resume) the pipeline on `store`, writing the contract files into `opts.out`.

    `steps` replaces step functions by name (the bench uses it to time sub-steps; tests to
    make a step fail). Raises PipelineError naming the failed step; the record keeps every
    step done before it.
    """
    progress = progress or Progress(enabled=False)
    impl = {**STEP_FUNCTIONS, **(steps or {})}
    opts.out.mkdir(parents=True, exist_ok=True)
    t_run = time.perf_counter()
    reports: dict[str, dict] = {}
    ctx = Context(store, opts, progress)

    # 0. ingest (only with --drop): its own record, keyed by the drop's files
    if opts.drop is not None:
        dfp = drop_fingerprint(opts.drop)
        if opts.mapping:                    # another mapping reads the same files differently
            dfp = hashlib.sha1((dfp + "".join(Path(m).read_text(encoding="utf-8")
                                              for m in opts.mapping)).encode()).hexdigest()
        key = "pipeline_ingest:" + dfp
        if opts.resume and get_setting(store, key):
            reports["ingest"] = {"status": "done", "skipped": True, "seconds": 0.0}
        else:
            ctx.episodes = _drop_rows(opts.drop)
            rec = _run_step(ctx, "ingest", impl["ingest"], None)
            if opts.incremental and rec["status"] == "done":
                new = {f: r.get("new", 0) for f, r in rec["summary"].get("files", {}).items()}
                rec.update(mode="delta", delta={"new_rows": new})
            reports["ingest"] = rec
            if rec["status"] != "done":
                raise PipelineError(f"step ingest failed: {rec['error']}")
            put_setting(store, key, json.dumps({"drop": str(opts.drop), "at": str(utcnow())}))

    ctx.episodes = _count_episodes(store)
    fp = fingerprint(input_signature(store), opts.params())
    if not opts.resume:
        delete_settings(store, RUN_KEY)
    record = load_record(store, fp) if opts.resume else None
    if record is None:
        record = {"fingerprint": fp, "params": json.loads(json.dumps(opts.params(), default=str)),
                  "created_at": str(utcnow()), "steps": {}}
    record["out"] = str(opts.out.resolve())
    put_setting(store, RUN_KEY + "latest", fp)

    memory = Memory(store)
    ctx.cache["memory"] = memory
    rerun = False
    side: beside.SideStep | None = None      # a step running in a second process
    try:
        for step in STEPS[1:]:
            if side is not None and step not in beside.BESIDE[side.step]:
                _join(ctx, side, record, reports)
                side = None
            rerun = _run_or_skip(ctx, step, impl, record, reports, rerun, fp)
            if isinstance(rerun, beside.SideStep):
                side, rerun = rerun, True
            elif side is not None and step == beside.WAITS.get(side.step):
                side.release()      # run or skipped: its memory peak is behind it
    except BaseException as exc:
        if side is not None:
            if not isinstance(exc, PipelineError):      # interrupted: the side step too
                side.process.terminate()
            _join(ctx, side, record, reports, raise_failed=False)
        raise
    reports = {s: reports[s] for s in STEPS if s in reports}     # pipeline order
    return RunReport(fp, reports, time.perf_counter() - t_run,
                     max([peak_rss_mb()] + [r.get("peak_rss_mb_all", 0) for r in reports.values()]))


def _goes_beside(ctx: Context, step: str) -> bool:
    """Whether `step` runs in a second process (api.jobs.beside): it may, the install allows
    two pipeline processes, the machine has a second core, fork exists and no Dask client."""
    from geo.stats.replicates import default_workers
    workers = (ctx.opts.settings or Settings()).pipeline_workers
    return (step in beside.BESIDE and workers > 1 and ctx.opts.client is None
            and beside.can_fork() and default_workers() > 1)


def _held(ctx: Context, step: str) -> bool:
    """Whether `step`, started in a second process, waits for the main line's step of
    ``beside.WAITS`` to pass its memory peak (from ``pipeline_hold_episodes`` episodes)."""
    hold = (ctx.opts.settings or Settings()).pipeline_hold_episodes
    return step in beside.WAITS and ctx.episodes >= hold


def memory_peak_passed(ctx: Context) -> None:
    """A step of ``beside.WAITS`` has passed its memory peak: a step held for it starts."""
    side = ctx.cache.get("beside")
    if side is not None:
        side.release()


def _run_or_skip(ctx: Context, step: str, impl: dict, record: dict, reports: dict, rerun: bool,
                 fp: str):
    """One step of the run: skipped (incremental, or done before on resume), run here, or
    started in a second process (returns its :class:`beside.SideStep`); else the new
    ``rerun`` flag. Raises PipelineError when the step fails here."""
    store, opts, memory = ctx.store, ctx.opts, ctx.cache["memory"]
    ctx.cache["record"] = record
    ctx.cache["reports"] = reports
    sig = step_signature(ctx, step)
    if opts.incremental:
        if sig is not None and memory.unchanged("steps", step, sig) \
                and _files_present(opts.out, step):
            reports[step] = record["steps"][step] = {
                "status": "done", "mode": "skipped", "skipped": True,
                "reason": "inputs unchanged since its last run", "seconds": 0.0,
                "summary": memory.get("steps", step).get("summary", {})}
            put_setting(store, RUN_KEY + fp, json.dumps(record, default=str))
            return rerun
    else:
        done = record["steps"].get(step, {}).get("status") == "done"
        if opts.resume and done and not rerun and _files_present(opts.out, step):
            reports[step] = {**record["steps"][step], "skipped": True}
            return rerun
    side = ctx.cache.get("beside")
    if side is not None and step in side.claims and not side.take(step):
        return True             # the second process has taken it: recorded at the join
    if _goes_beside(ctx, step):
        record["steps"][step] = {"status": "running", "started_at": str(utcnow()),
                                 "process": "beside"}
        put_setting(store, RUN_KEY + fp, json.dumps(record, default=str))
        ctx.progress.side_start(step)
        side = beside.start(ctx, step, impl[step], _execute, Progress(enabled=False),
                            _either(ctx, step, impl), held=_held(ctx, step))
        side.signature = sig
        ctx.cache["beside"] = side
        return side
    rec = _run_step(ctx, step, impl[step], record)
    reports[step] = rec
    if rec["status"] != "done":
        raise _failed(step, rec)
    _remember(ctx, step, sig, rec, **ctx.cache.pop("remember", {}))
    return True  # everything after a step that runs runs too


def _failed(step: str, rec: dict) -> "PipelineError":
    return PipelineError(f"step {step} failed: {rec['error']} "
                         f"(resume with `wayfinder run` to restart from {step})")


def _remember(ctx: Context, step: str, sig: str | None, rec: dict, **extra) -> None:
    """Keep the input signature of a step that ran (incremental memory), taken again after a
    step that writes its own input (its inputs as it left them)."""
    if sig is None:
        return
    if step in WRITES_OWN_INPUT:
        sig = step_signature(ctx, step)
    ctx.cache["memory"].put("steps", step, sig, rec.get("summary"), **extra)


def _either(ctx: Context, step: str, impl: dict) -> dict:
    """The steps of ``beside.EITHER`` the second process may take after ``step``: those this
    run will run (all of them, but in an incremental run those whose inputs are unchanged), with
    their input signatures, which the steps between do not change (they write only results)."""
    out = {}
    for name in beside.EITHER:
        if name not in beside.BESIDE[step]:
            continue
        sig = step_signature(ctx, name)
        memory = ctx.cache["memory"]
        if ctx.opts.incremental and sig is not None and memory.unchanged("steps", name, sig) \
                and _files_present(ctx.opts.out, name):
            continue
        out[name] = (impl[name], sig)
    return out


def _join(ctx: Context, side: "beside.SideStep", record: dict, reports: dict,
          raise_failed: bool = True) -> None:
    """Wait for the step running in a second process and record it as if it had run here:
    the run record, the timings, the incremental memory (its own entries, then the step's)."""
    rec = side.join()
    ctx.cache.pop("beside", None)
    rec["process"] = "beside"
    reports[side.step] = rec
    ctx.progress.side_finish(side.step, rec["status"])
    _keep(ctx.store, record, side.step, rec, ctx.episodes)
    if rec["status"] == "done":
        memory = ctx.cache["memory"]
        for kind, name, sig, summary, extra in side.memory_puts:
            memory.put(kind, name, sig, summary, **extra)
        _remember(ctx, side.step, side.signature, rec)
    failed = None if rec["status"] == "done" else (side.step, rec)
    for name, rec2, sig2 in side.also:        # the steps it took after its own
        rec2["process"] = "beside"
        reports[name] = rec2
        _keep(ctx.store, record, name, rec2, ctx.episodes)
        if rec2["status"] == "done":
            _remember(ctx, name, sig2, rec2)
        else:
            failed = failed or (name, rec2)
    if failed and raise_failed:
        raise _failed(*failed)


def run_steps(store: StoreLike, opts: RunOptions, names: tuple[str, ...],
              progress: Progress | None = None) -> dict[str, dict]:
    """Run the named steps once, in pipeline order, with no run record (no resume, no timings):
    ``wayfinder analyse`` and ``wayfinder network`` are such runs. A failing step raises."""
    unknown = set(names) - set(STEPS)
    if unknown:
        raise ValueError(f"no such step: {', '.join(sorted(unknown))}")
    opts.out.mkdir(parents=True, exist_ok=True)
    ctx = Context(store, opts, progress or Progress(enabled=False))
    ctx.episodes = _count_episodes(store)
    summaries = {}
    for step in STEPS:
        if step in names:
            ctx.cache["estimate"] = _estimate(store, step, ctx.episodes)
            summaries[step] = STEP_FUNCTIONS[step](ctx) or {}
    return summaries


NETWORK_STEPS = ("identity", "graph", "groups")


def run_network(store: StoreLike, out: Path, seed: int = 0, window: str = "6h",
                distance: float = 250.0) -> dict:
    """``wayfinder network``: the identity, graph and groups steps; counts for the summary."""
    from api.jobs.network import betweenness_method
    s = run_steps(store, RunOptions(out=Path(out), seed=seed, window=window, distance=distance,
                                    identity_seed=0), NETWORK_STEPS)
    return {"records": s["identity"]["records"], "persons": s["identity"]["persons"],
            "nodes": s["graph"]["nodes"], "edges": s["graph"]["edges"],
            "groups": s["groups"]["groups"], "bridging": s["graph"]["bridging"],
            "betweenness": betweenness_method(store.read_result(R.NETWORK_MEASURES.name))}


def run_analyses(store: StoreLike, out: Path, start=None, end=None, seed: int = 0,
                 permutations: int = 999, settings: Settings | None = None) -> dict:
    """``wayfinder analyse``: the analyses step; its summary."""
    return run_steps(store, RunOptions(out=Path(out), start=start, end=end, seed=seed,
                                       permutations=permutations, settings=settings), ("analyses",))["analyses"]


def _run_step(ctx: Context, step: str, fn: Callable[[Context], dict], record: dict | None) -> dict:
    store = ctx.store
    if record is not None:
        record["steps"][step] = {"status": "running", "started_at": str(utcnow())}
        put_setting(store, RUN_KEY + record["fingerprint"], json.dumps(record, default=str))
    rec = _execute(ctx, step, fn)
    _keep(store, record, step, rec, ctx.episodes)
    return rec


def _execute(ctx: Context, step: str, fn: Callable[[Context], dict]) -> dict:
    """Run one step function: its record (status, summary or error, seconds, CPU seconds,
    peak RSS, finished_at), written nowhere (here or in a second process, api.jobs.beside)."""
    progress = ctx.progress
    ctx.cache["estimate"] = _estimate(ctx.store, step, ctx.episodes)
    t0 = time.perf_counter()
    c0 = time.process_time()
    rec: dict = {}
    side = ctx.cache.get("beside")
    others = (lambda: (beside.proc_private_mb(side.pid), beside.proc_rss_mb(side.pid))) \
        if side is not None else None
    with _Sampler(tick=progress.tick, others=others) as sampler:
        try:
            ctx.cache.pop("mode", None)
            summary = fn(ctx) or {}
            rec = {"status": "done", "mode": "full", "summary": summary,
                   **ctx.cache.pop("mode", {})}
        except (Exception, KeyboardInterrupt) as exc:
            rec = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=6)}
            progress.finish("failed")
            if isinstance(exc, KeyboardInterrupt):
                _timed(rec, t0, sampler, c0)
                _keep(ctx.store, ctx.cache.get("record"), step, rec, None)
                raise
    if rec["status"] == "done":
        progress.finish("done")
    return _timed(rec, t0, sampler, c0)


def _timed(rec: dict, t0: float, sampler: "_Sampler", c0: float) -> dict:
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    # CPU seconds of this process (all its threads): less sensitive than wall time to other
    # work on a shared machine; Dask worker processes are not included
    rec["cpu_seconds"] = round(time.process_time() - c0, 3)
    rec["peak_rss_mb"] = round(sampler.peak, 1)
    if sampler.others is not None:   # with the step that ran beside it (its private pages), per sample
        rec["peak_rss_mb_all"] = round(sampler.peak_all, 1)
        rec["peak_rss_mb_sum"] = round(sampler.peak_rss_sum, 1)   # shared pages twice: a bound
    rec["finished_at"] = str(utcnow())
    return rec


def _keep(store: StoreLike, record: dict | None, step: str, rec: dict,
          episodes: int | None) -> None:
    """Put a step's record into the run record, and its duration into the timings the
    progress estimates read (done steps, when ``episodes`` is given)."""
    if record is not None:
        record["steps"][step] = rec
        put_setting(store, RUN_KEY + record["fingerprint"], json.dumps(record, default=str))
    if rec["status"] == "done" and episodes is not None:
        _save_timing(store, step, rec["seconds"], episodes)


# ---------------------------------------------------------------------------------------------
# the steps: each reads its input from the store and stores its output
# ---------------------------------------------------------------------------------------------
def step_ingest(ctx: Context) -> dict:
    """Read and store the drop (geocoding is the next step)."""
    from geo.storage.ingest import ingest_drop
    ctx.progress.start("ingest", estimate=_estimate(ctx.store, "ingest", _drop_rows(ctx.opts.drop)))
    report = ingest_drop(ctx.store, ctx.opts.drop, geocode=False, mapping=ctx.opts.mapping or None)
    return report.to_json()


def _drop_rows(drop: Path) -> int:
    """Approximate episode count of a drop (lines of episodes.csv) for the first ETA."""
    p = Path(drop) / "episodes.csv"
    if not p.exists():
        return 1000
    with open(p, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def pending_texts(store: StoreLike) -> pd.Series:
    """Stored location texts not yet geocoded, sorted (``geo.places.geocoding.ungeocoded_texts``)."""
    from geo.places.geocoding import ungeocoded_texts
    return ungeocoded_texts(store)


def step_geocode(ctx: Context) -> dict:
    """Geocode every stored location text not yet geocoded (``geo.places.geocoding``): premises without
    coordinates first, then the texts in chunks against one gazetteer; results into
    ``geocodes``. On Dask the chunks run on the workers (``api.jobs.partition``)."""
    from geo.places.geocoding import _place_premises
    store = ctx.store
    _place_premises(store)
    texts = pending_texts(store)
    if texts.empty:
        ctx.progress.start("geocode", total=1)
        ctx.progress.advance(1)
        ctx.cache["mode"] = {"mode": "delta", "delta": {"texts": 0}}   # all geocoded before
        return {"texts": 0}
    from geo.places.gazetteer import gazetteer_from_store
    from geo.places.geocode import geocode
    chunks = [texts.iloc[i:i + GEOCODE_CHUNK] for i in range(0, len(texts), GEOCODE_CHUNK)]
    ctx.progress.start("geocode", total=len(chunks) + 1, label="geocode (gazetteer+chunks)")
    gaz = gazetteer_from_store(store)
    g = schema.geocodes
    with store.engine.connect() as conn:     # the analysts' overrides, read when there are any
        geocoded_before, n_overrides = conn.execute(sa.select(
            sa.func.count(), sa.func.count().filter(g.c.override.is_(True)))).one()
    overrides = None
    if n_overrides:
        done = store.table("geocodes")
        overrides = done[done["override"].astype(bool)]
    ctx.progress.advance(1)
    if ctx.opts.client is not None:
        from api.jobs.partition import geocode_partitioned
        result = geocode_partitioned(ctx.opts.client, chunks, gaz, overrides, ctx.progress.advance)
    else:
        parts = []
        for c in chunks:
            parts.append(geocode(c.reset_index(drop=True), gaz, overrides=overrides))
            ctx.progress.advance(1)
        result = pd.concat(parts, ignore_index=True)
    result = result.assign(override=False, updated_at=utcnow())
    with store.engine.begin() as conn:
        store.insert_frame(conn, schema.geocodes, result)
    if geocoded_before:     # texts geocoded before are kept: this run geocoded the delta
        ctx.cache["mode"] = {"mode": "delta", "delta": {"texts": int(len(result))}}
    return {"texts": int(len(result)),
            "resolved": int((result["precision"] != "none").sum())}


def step_identity(ctx: Context) -> dict:
    """Link child and person records into persons (``network.identity``); store them in
    ``identity_links``; write identity.csv."""
    from api.jobs.identity import identity_records, save_identities
    from network.identity import resolve_identities
    store = ctx.store
    ctx.progress.start("identity", estimate=ctx.cache["estimate"])
    records = identity_records(store)
    seed = ctx.opts.seed if ctx.opts.identity_seed is None else ctx.opts.identity_seed
    identities = resolve_identities(records, store.table("identity_overrides"), seed=seed)
    save_identities(store, identities)
    ident = identities[list(R.IDENTITY.columns)]
    ident.to_csv(ctx.out / R.IDENTITY.file, index=False)
    return {"records": int(len(ident)), "persons": int(ident["person_id"].nunique())}


def step_analyses(ctx: Context) -> dict:
    """Hot spots, found-at clusters, premises of concern, trends, Knox (``wayfinder analyse``):
    contract files into --out, results into the store. Incremental: only the analyses whose
    inputs changed (``api.jobs.analyse.ANALYSES``) run; the others keep their results."""
    from api.jobs.analyse import ANALYSES, analysis_files, run_analyses
    o, store = ctx.opts, ctx.store
    memory: Memory | None = ctx.cache.get("memory")
    sigs = ctx.cache.pop("analysis_signatures", None) or analysis_signatures(store, o)
    names = [a.name for a in ANALYSES
             if not (o.incremental and memory is not None
                     and memory.unchanged("analyses", a.name, sigs[a.name])
                     and all((ctx.out / f).exists() for f in analysis_files(a)))]
    ctx.progress.start("analyses", estimate=ctx.cache["estimate"] * len(names) / len(ANALYSES))
    workers = (o.settings or Settings()).scan_workers or None   # 0 -> None: the cores available
    ran = run_analyses(store, ctx.out, o.start, o.end, o.seed, o.permutations, names=set(names),
                       workers=workers)
    summary = {}
    for a in ANALYSES:
        if a.name in ran:
            part = json.loads(json.dumps(ran[a.name], default=str))
            if memory is not None:
                memory.put("analyses", a.name, sigs[a.name], part)
        else:
            part = memory.get("analyses", a.name)["summary"]
        summary.update(part)
    if len(names) < len(ANALYSES):
        ctx.cache["mode"] = {"mode": "partial", "analyses": {
            a.name: "full" if a.name in ran else "skipped" for a in ANALYSES}}
    return summary


def network_frames(store: StoreLike) -> dict:
    """The frames of the network steps, with the stored (resolved) person_id."""
    from api.jobs.network import load_frames
    frames, _ = load_frames(store, resolve=False)
    return frames


def adult_links_of(G) -> pd.DataFrame:
    """Child -> adult links of the person-place graph (``person_id, adult_id``), as
    ``wayfinder network`` passes them to the co-missing groups."""
    from network.measures import child_adult_links
    return child_adult_links(G)


GRAPH_PHASES = ("frames", "graph", "bridging", "centrality", "places", "components", "exports",
                "store")


def step_graph(ctx: Context) -> dict:
    """The person-place graph, bridging persons, centrality, places linking children, components
    and the exports (GraphML, GEXF, Cytoscape, i2); results into the store (and the child-adult
    links the groups step reads)."""
    from network.exports import write_all
    from network.graph import person_place_tables_of
    from network.measures import bridging_persons, centrality, components, places_linking_children
    p, store, o = ctx.progress, ctx.store, ctx.opts
    p.start("graph", total=len(GRAPH_PHASES), label="graph (phases)")
    phase_s: dict[str, float] = {}
    t = [time.perf_counter()]

    def phase_done(name):
        now = time.perf_counter()
        phase_s[name] = round(now - t[0], 2)
        t[0] = now
        p.advance()

    frames = network_frames(store)
    beside.trim_heap()          # what reading the frames freed goes back before the build
    phase_done("frames")
    # each frame is given back as soon as the build has read it (the measures and exports
    # read the graph only): the frames' gigabytes are not all held while the edges aggregate
    G = person_place_tables_of(frames)
    del frames
    phase_done("graph")
    memory_peak_passed(ctx)     # the analyses, when held for the build (api.jobs.beside), start
    bridging = bridging_persons(G)
    bridging[list(R.BRIDGING_PERSONS.columns)].to_csv(ctx.out / R.BRIDGING_PERSONS.file,
                                                      index=False)
    bridging.to_csv(ctx.out / R.BRIDGING_EVIDENCE.file, index=False)
    phase_done("bridging")
    measures = centrality(G, seed=o.seed)
    phase_done("centrality")
    places = places_linking_children(G)
    phase_done("places")
    comps = components(G)
    phase_done("components")
    write_all(G, ctx.out)
    phase_done("exports")
    params = {"seed": o.seed, "window": o.window, "distance_m": o.distance}
    store.write_result(R.BRIDGING_PERSONS.name, bridging, params)
    store.write_result(R.NETWORK_MEASURES.name, measures, params)
    store.write_result(R.PLACES_LINKING_CHILDREN.name, places, params)
    store.write_result(R.NETWORK_COMPONENTS.name, comps, params)
    store.write_result(R.NETWORK_ADULT_LINKS.name, adult_links_of(G), params)
    phase_done("store")
    return {"nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
            "bridging": int(len(bridging)), "phase_seconds": phase_s}


#: the frames the co-missing groups read (not the place events, intelligence or links)
GROUP_FRAMES = ("episodes", "children", "return_interviews", "persons")
#: the columns of those frames the pairs and groups read (network.groups, api.jobs.pairs,
#: api.jobs.partition): their tables' other columns are not read (national: 25 s -> 12 s)
GROUP_COLUMNS = {
    "episodes": ("episode_key", "person_id", "source", "reported_at", "returned_at", "found_e",
                 "found_n", "found_precision", "found_text", "found_with"),
    "children": ("person_id", "source", "child_id", "given_name", "family_name",
                 "placement_postcode", "responsible_authority"),
    "return_interviews": ("episode_key", "associates"),
    "persons": ("person_id", "source", "person_id_src", "given_name", "family_name"),
}


def pairs_state(store: StoreLike, opts: RunOptions) -> dict:
    """What the co-episode pairs were found from, kept with the groups step's record: where
    the episodes, return interviews and geocodes stood (largest id, largest run id), the
    signature of everything else the pairs read, and the pair parameters."""
    from api.jobs.incremental import erasures, table_signature
    g = schema.geocodes
    st = {"window": opts.window, "distance": opts.distance}
    with store.engine.connect() as conn:
        for name in ("episodes", "return_interviews"):
            t = schema.DROP_TABLES[name]
            st[name] = list(conn.execute(sa.select(sa.func.max(t.c.id),
                                                   sa.func.max(t.c.run_id))).one())
        gid = conn.execute(sa.select(sa.func.max(g.c.id))).scalar()
        st["geocodes"] = [gid, str(conn.execute(sa.select(sa.func.max(g.c.updated_at))).scalar())]
        st["fixed"] = {n: table_signature(conn, n)
                       for n in ("children", "persons", "identity_links")}
        st["erasures"] = erasures(conn)
    return st


def pairs_delta(store: StoreLike, memory: "Memory | None", now: dict):
    """``(dirty episode keys, previous pairs)`` when the stored pairs can be brought up to date
    on a delta (api.jobs.pairs.co_episode_pairs_delta), else ``(None, None)``: the pairs were
    stored after the last groups run, with the same window and distance, and since then no
    child, person, identity link or earlier geocode changed and nothing was erased."""
    entry = memory.get("steps", "groups") if memory is not None else None
    then = (entry or {}).get("pairs_state")
    if not then or any(then.get(k) != now[k] for k in ("window", "distance", "fixed",
                                                         "erasures")):
        return None, None
    g = schema.geocodes
    gid, gup = then["geocodes"]
    with store.engine.connect() as conn:
        if result_signature(conn, R.CO_EPISODE_PAIRS.name) != then.get("payload"):
            return None, None       # the stored pairs are not those of that run
        old_up = conn.execute(sa.select(sa.func.max(g.c.updated_at))
                              .where(g.c.id <= (gid or 0))).scalar()
        if str(old_up) != gup and gid is not None:    # an earlier geocode changed
            return None, None
        keys = set()
        for name, key in (("episodes", None), ("return_interviews", "episode_key")):
            t = schema.DROP_TABLES[name]
            mx, run = then[name]
            cond = sa.or_(t.c.id > (mx or 0), t.c.run_id > (run or 0))
            cols = (t.c.source, t.c.episode_id) if key is None else (t.c[key],)
            rows = conn.execute(sa.select(*cols).where(cond)).all()
            keys |= {f"{r[0]}/{r[1]}" if key is None else r[0] for r in rows}
        texts = [r[0] for r in conn.execute(sa.select(g.c.text).where(g.c.id > (gid or 0)))]
        if texts:
            e = schema.episodes
            for i in range(0, len(texts), 500):
                part = texts[i:i + 500]
                rows = conn.execute(sa.select(e.c.source, e.c.episode_id).where(
                    sa.or_(e.c.found_at.in_(part), e.c.last_seen.in_(part)))).all()
                keys |= {f"{r[0]}/{r[1]}" for r in rows}
    return keys, store.read_result(R.CO_EPISODE_PAIRS.name)


def step_groups(ctx: Context) -> dict:
    """Co-missing groups (``network.groups``) from the stored frames and the stored child-adult
    links; co_missing_groups.json and the stored result. On Dask the co-episode pairs are found
    per partition (``api.jobs.partition``)."""
    from network.groups import co_missing_groups, groups_to_records
    store, o, p = ctx.store, ctx.opts, ctx.progress
    frames = store.frames(GROUP_FRAMES, missing_ok=("return_interviews", "persons"),
                          columns=GROUP_COLUMNS)
    adult_links = store.read_result(R.NETWORK_ADULT_LINKS.name)
    state = pairs_state(store, o)
    delta = previous = None
    if o.incremental and o.client is None:
        delta, previous = pairs_delta(store, ctx.cache.get("memory"), state)
    if delta is not None:
        p.start("groups", total=2, label="groups (pairs on delta, louvain)")
        pairs, sizes = co_episode_pairs_delta(frames, o.window, o.distance, previous, delta)
        ctx.cache["mode"] = {"mode": "delta", "delta": sizes,
                             "note": "co-episode pairs of new or changed episodes; groups "
                                     "(Louvain, chance filter) over all pairs"}
        p.advance()
    elif o.client is not None:
        from api.jobs.partition import co_episode_pairs_partitioned
        pairs = co_episode_pairs_partitioned(o.client, frames, window=o.window,
                                             distance=o.distance, progress=p)
    else:
        p.start("groups", total=2, label="groups (pairs, louvain)")
        pairs = co_episode_pairs_single(frames, window=o.window, distance=o.distance)
        p.advance()
    groups = co_missing_groups(frames["episodes"], frames["children"], frames["return_interviews"],
                               frames["persons"], window=o.window, distance=o.distance,
                               seed=o.seed, adult_links=adult_links, pairs=pairs)
    p.advance()
    records = groups_to_records(groups)
    (ctx.out / R.CO_MISSING_GROUPS.file).write_text(json.dumps(records, indent=1),
                                                    encoding="utf-8")
    store.write_result(R.CO_MISSING_GROUPS.name, groups,
                       {"seed": o.seed, "window": o.window, "distance_m": o.distance})
    store.write_result(R.CO_EPISODE_PAIRS.name, pairs,
                       {"window": o.window, "distance_m": o.distance})
    with store.engine.connect() as conn:     # the pairs a later delta may start from
        ctx.cache["remember"] = {"pairs_state": {
            **state, "payload": result_signature(conn, R.CO_EPISODE_PAIRS.name)}}
    return {"pairs": int(len(pairs)), "groups": int(len(groups))}


def step_tiles(ctx: Context) -> dict:
    """The pre-generalised tiles of the dense point layers, for every minimisation view
    (``api.jobs.tiles.build_from_store``), so the service never makes such a tile from the points."""
    from api.jobs.tiles import build_for_install
    ctx.progress.start("tiles", estimate=ctx.cache["estimate"])
    return build_for_install(ctx.store, ctx.opts.settings)


def step_results(ctx: Context) -> dict:
    """Check every contract file is in --out and every result is stored; write
    pipeline_run.json (the run record: steps, seconds, peak RSS) beside them."""
    store = ctx.store
    ctx.progress.start("results", total=1)
    missing = [f for s in ("identity", "analyses", "graph", "groups") for f in STEP_FILES[s]
               if not (ctx.out / f).exists()]
    if missing:
        raise PipelineError(f"missing outputs in {ctx.out}: {', '.join(missing)}")
    names = set(store.result_names())
    want = {r.name for r in R.REQUIRED}
    if want - names:
        raise PipelineError(f"results not stored: {', '.join(sorted(want - names))}")
    record = ctx.cache.get("record", {})
    reports = ctx.cache.get("reports", {})
    doc = {"fingerprint": record.get("fingerprint"), "params": record.get("params"),
           # in pipeline order (a step of the second process is reported when it is joined)
           "steps": {s: {k: v for k, v in reports[s].items() if k != "traceback"}
                     for s in STEPS if s in reports},
           # the outputs beside it (not itself: a first run and a rerun list the same files)
           "files": sorted(p.name for p in ctx.out.iterdir()
                           if p.is_file() and p.name != R.PIPELINE_RUN.file),
           "results": sorted(names)}
    (ctx.out / R.PIPELINE_RUN.file).write_text(json.dumps(doc, indent=1, default=str))
    ctx.progress.advance()
    return {"files": len(doc["files"]), "results": len(names)}


STEP_FUNCTIONS: dict[str, Callable[[Context], dict]] = {
    "ingest": step_ingest, "geocode": step_geocode, "identity": step_identity,
    "analyses": step_analyses, "graph": step_graph, "groups": step_groups,
    "tiles": step_tiles, "results": step_results,
}
