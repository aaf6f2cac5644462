"""A pipeline step run in a second process, beside the steps that do not depend on it.

After identity, the analyses read nothing the graph and groups steps write, and those read
nothing the analyses write (``STEP_INPUTS``, ``api.jobs.analyse.ANALYSES``). On a machine with
two cores the pipeline therefore runs the analyses in a forked process while this one builds the
graph and the groups, and waits for it before the first step that may read the analyses'
results (the tiles step's store stamp counts every result).

What the forked process may do is kept narrow, so the outputs and the run record are those of a
run in one process:

* it runs the step function and writes what the step writes (the contract files, its stored
  results); it does not write the run record, the step timings or the incremental memory:
  it sends its record (status, seconds, CPU seconds, peak RSS, summary, mode) and the memory
  entries it would have written back through a pipe, and this process writes them when it joins;
* it gets its own database connections (the parent's pool is left to the parent) and no
  progress display; the parent shows one bar for it that completes when it is joined;
* SQLite allows one writer at a time: both processes wait for each other's short write
  transactions (``busy_timeout``), which the WAL journal makes rare (readers never wait).

A step of :data:`WAITS` may be started held (``start(..., held=True)``): the process is forked
at once but runs nothing until this one calls :meth:`SideStep.release`, after the step named
there has passed its memory peak (the graph's build). At national scale the analyses' frames and
the graph's build held together passed the run's memory budget; held, the analyses' lane still
ends before the graph and groups lane (bench/RESULTS_pipeline.md). :meth:`SideStep.join`
releases a held step first, so a step is never waited for while it waits.

Where ``fork`` does not exist, or with a Dask client, the step runs in this process as before.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

#: steps that may run beside the main line, and the steps the main line may run meanwhile
#: (identity reads the postcode texts, not their geocodes)
BESIDE = {"geocode": ("identity",), "analyses": ("graph", "groups", "tiles")}
#: steps that whichever process is free first takes (the second process after its own step):
#: they read no result the steps around them write (the tiles' store stamp leaves the results
#: out, api.jobs.tilesets.points_stamp). On a region store the analyses are the longer lane
#: and the tiles run here; at national scale the graph is, and the second process takes them.
EITHER = ("tiles",)
#: steps that may be held until the main line's step named here has passed its memory peak
WAITS = {"analyses": "graph"}
#: who took a step of :data:`EITHER`
_FREE, _PARENT, _CHILD = 0, 1, 2


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def proc_rss_mb(pid: int | str) -> float:
    """Resident set size of a process (MB; ``"self"``: this one); 0 when it has gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def proc_private_mb(pid: int | str) -> float:
    """The memory only this process holds (MB: its private pages, ``Private_Clean`` +
    ``Private_Dirty`` of ``/proc/PID/smaps_rollup``); 0 when it has gone. A forked process
    shares its parent's pages until either writes them, so the parent's RSS plus this is what the
    two hold together, each page counted once (their RSS summed counts the shared pages twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            kb = sum(int(line.split()[1]) for line in f
                     if line.startswith(("Private_Clean:", "Private_Dirty:")))
        return kb / 1024
    except (OSError, ValueError, IndexError):
        return proc_rss_mb(pid)         # no smaps_rollup (kernel < 4.14): RSS, an upper bound


def trim_heap() -> None:
    """Give memory freed by earlier steps back to the system before forking (a full collection,
    then glibc's ``malloc_trim``): pages the allocator keeps but no longer uses would otherwise
    be resident in both processes."""
    import ctypes
    import gc
    gc.collect()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class SideStep:
    """A step running in a forked process; :meth:`join` gives its record."""
    step: str
    process: multiprocessing.Process
    conn: object
    t0: float
    memory_puts: list = field(default_factory=list)
    #: the step's input signature when it started (api.jobs.incremental), kept at the join
    signature: str | None = None
    #: per step of :data:`EITHER` that may run in either process: who took it
    claims: dict = field(default_factory=dict)
    #: what the process ran after its own step: ``(step, record, signature)``
    also: list = field(default_factory=list)
    #: set when a held process may start its step (None: it was not held)
    gate: object = None

    def release(self) -> None:
        """Let a held process start its step (nothing when it was not held or runs already)."""
        if self.gate is not None:
            self.gate.set()

    def take(self, step: str) -> bool:
        """This process takes ``step`` (of :data:`EITHER`) unless the other one already has."""
        return _claim(self.claims, step, _PARENT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def join(self) -> dict:
        """Wait for the step; its record (``status`` done or failed, as ``_run_step`` makes it).
        A process that died without a word (killed, out of memory) is a failed step."""
        self.release()
        try:
            rec, puts, self.also = self.conn.recv()
        except (EOFError, OSError):
            rec, puts = None, []
        self.process.join()
        self.conn.close()
        if rec is None:
            rec = {"status": "failed", "seconds": round(time.perf_counter() - self.t0, 3),
                   "error": f"the {self.step} process ended with exit code "
                            f"{self.process.exitcode} before reporting"}
        self.memory_puts = puts
        return rec


def _claim(claims: dict, step: str, who: int) -> bool:
    value = claims.get(step)
    if value is None:
        return False
    with value.get_lock():
        if value.value == _FREE:
            value.value = who
        return value.value == who


def start(ctx, step: str, fn: Callable, execute: Callable, quiet, either: dict | None = None,
          held: bool = False) -> SideStep:
    """Fork a process that runs ``execute(ctx, step, fn)`` (the pipeline's step runner, which
    gives the step's record) with the progress display ``quiet`` (one that shows nothing), then
    each step of ``either`` (``{step: (fn, signature)}``, steps of :data:`EITHER` that this run
    will run) that this process has not taken yet, and sends the records back. ``held``: the
    process waits for :meth:`SideStep.release` before it starts (its record's
    ``held_seconds``)."""
    mp = multiprocessing.get_context("fork")
    trim_heap()
    parent_conn, child_conn = mp.Pipe(duplex=False)
    claims = {name: mp.Value("i", _FREE) for name in (either or {})}
    gate = mp.Event() if held else None
    t0 = time.perf_counter()
    proc = mp.Process(target=_child, args=(child_conn, ctx, step, fn, execute, quiet, claims,
                                           either or {}, gate),
                      name=f"wayfinder-{step}", daemon=False)
    proc.start()
    child_conn.close()
    return SideStep(step, proc, parent_conn, t0, claims=claims, gate=gate)


def _child(conn, ctx, step: str, fn: Callable, execute: Callable, quiet, claims: dict,
           either: dict, gate=None) -> None:
    puts: list = []
    also: list = []
    try:
        _die_with_parent()
        held = 0.0
        if gate is not None:
            t = time.perf_counter()
            gate.wait()
            held = round(time.perf_counter() - t, 3)
        ctx.store.engine.dispose(close=False)      # the parent's connections stay the parent's
        ctx.progress = quiet
        ctx.cache["record"] = None                 # the run record is the parent's to write
        memory = ctx.cache.get("memory")
        if memory is not None:
            memory.defer(puts)
        rec = execute(ctx, step, fn)
        if gate is not None:
            rec["held_seconds"] = held
        for name, (fn2, sig) in either.items():
            if rec["status"] != "done" or not _claim(claims, name, _CHILD):
                continue
            also.append((name, execute(ctx, name, fn2), sig))
            if also[-1][1]["status"] != "done":
                break
    except BaseException as exc:                   # noqa: BLE001 - reported to the parent
        rec = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=6)}
    try:
        conn.send((rec, puts, also))
    finally:
        conn.close()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)      # no atexit handlers of the parent's, no second flush of its buffers


def _die_with_parent() -> None:
    """Linux: this process is killed when the pipeline's process dies (killed, out of memory),
    so a resumed run never races a step left running by the run before."""
    import ctypes
    import signal
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    if os.getppid() == 1:           # the parent died before the line above
        os._exit(1)
