"""Running cases on one engine in worker processes, with a hard per-schema time limit.

Owns process isolation: each worker (spawned, so nothing is inherited from the driver)
loads the tokenizer, builds one engine and warms it up, then runs the cases it is sent with
`testsuite.run_case` (whose soft limits interrupt Python code). The driver gives each case a
hard deadline (the case limit plus a grace period): a worker past it is killed and the case
recorded as `timeout`; a worker that dies (a segfault, an abort, the kernel's OOM killer, or
the address-space limit `memory_gb`) has its case recorded as `crash` with the exit status.
Either way a fresh worker takes its place, so one engine's failure never ends the run.
"""
from __future__ import annotations

import multiprocessing
import resource
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterable

from .data import SchemaCase
from .testsuite import CRASH, TIMEOUT, CaseResult

GRACE = 30.0  # seconds past the case limit before a worker is killed
START_LIMIT = 900.0  # seconds for a worker to load the tokenizer and warm its engine up


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs: the engine, the tokenizer spec, the limits, whether to time masks."""

    engine: str
    tokenizer: str
    case_timeout: float
    compile_timeout: float | None = None
    time_masks: bool = False
    memory_gb: float | None = None


class EngineStartError(RuntimeError):
    """A worker could not build or warm up its engine (the message has the traceback)."""


def _serve(conn: Connection, config: WorkerConfig) -> None:
    """A worker's main loop: build the engine, say "ready", then run cases until None."""
    if config.memory_gb:
        limit = int(config.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        from .engine import load_tokenizer, warm_up
        from .peers import make_engine
        from .testsuite import run_case

        engine = make_engine(config.engine, load_tokenizer(config.tokenizer))
        warm_up(engine)
        conn.send(("ready", engine.version()))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        case = conn.recv()
        if case is None:
            return
        result = run_case(case, engine, config.case_timeout, config.compile_timeout, config.time_masks)
        conn.send(("result", result))


class _Worker:
    def __init__(self, config: WorkerConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, config), daemon=True)
        self.process.start()
        child.close()
        self.case: SchemaCase | None = None
        self.deadline = time.monotonic() + START_LIMIT
        self.ready = False

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def run_cases(cases: Iterable[SchemaCase], config: WorkerConfig, workers: int = 1,
              on_result: Callable[[CaseResult], None] = lambda r: None,
              on_version: Callable[[str], None] = lambda v: None) -> None:
    """Run every case on `config.engine` in `workers` processes; `on_result` gets each
    result as it arrives (not in input order). Raises `EngineStartError` when the engine
    cannot start at all."""
    queue = deque(cases)
    hard_limit = config.case_timeout + GRACE
    pool = [_Worker(config) for _ in range(max(1, min(workers, len(queue))))] if queue else []

    def replace(worker: _Worker, outcome: str, message: str) -> None:
        case = worker.case
        worker.stop()
        pool[pool.index(worker)] = _Worker(config)
        on_result(CaseResult(case.case_id, case.category, case.description, outcome, message,
                             seconds=hard_limit if outcome == TIMEOUT else 0.0, engine=config.engine))

    try:
        while pool:
            for worker in pool:
                if worker.ready and worker.case is None and queue:
                    worker.case = queue.popleft()
                    worker.deadline = time.monotonic() + hard_limit
                    worker.conn.send(worker.case)
                elif worker.ready and worker.case is None:
                    worker.conn.send(None)
                    worker.stop()
            pool = [w for w in pool if not (w.ready and w.case is None and not queue)]
            if not pool:
                break
            waiting = {w.conn: w for w in pool}
            waiting.update({w.process.sentinel: w for w in pool})
            timeout = max(0.0, min(w.deadline for w in pool) - time.monotonic())
            for handle in wait(list(waiting), timeout):
                worker = waiting[handle]
                if worker not in pool:
                    continue
                if handle is worker.conn or worker.conn.poll():
                    try:
                        kind, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        kind, payload = "died", None
                else:
                    kind, payload = "died", None
                if kind == "ready":
                    worker.ready = True
                    on_version(payload)
                elif kind == "error":
                    raise EngineStartError(f"{config.engine} could not start:\n{payload}")
                elif kind == "result":
                    worker.case = None
                    on_result(payload)
                elif worker.case is None:
                    raise EngineStartError(f"{config.engine} worker died while starting "
                                           f"({_death(worker.process.exitcode)})")
                else:
                    worker.process.join(5)
                    replace(worker, CRASH, f"the worker process died ({_death(worker.process.exitcode)})")
            now = time.monotonic()
            for worker in list(pool):
                if worker.deadline < now:
                    if worker.case is None:
                        raise EngineStartError(f"{config.engine} did not start within {START_LIMIT:g} s")
                    replace(worker, TIMEOUT, f"killed after the {hard_limit:g} s hard limit (case limit "
                                             f"{config.case_timeout:g} s plus {GRACE:g} s grace)")
    finally:
        for worker in pool:
            worker.stop()
