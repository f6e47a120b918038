"""The embedded gateway's engines: where jobs really run, chosen by run type as Linkis groups them.

- sql, hql, jdbc, psql, tsql: DuckDB, one database file per user (`<workspace>/linkis.duckdb`),
  so a table created by one job is there for the next. Each statement that returns rows makes
  one TABLE result set; progress comes from DuckDB's query progress; kill interrupts the query.
  The log reads as a Linkis Spark engine's: each statement a Spark job of one stage and task.
- python, py: one long-lived Python process per (user, creator) (gateway/pyworker.py), so
  variables survive between jobs. Printed output becomes TEXT result sets, `show(df)` TABLE
  ones; kill sends SIGINT (the namespace survives) and kills the process if that is not enough.
- shell, sh: bash, one process group per job; stdout is a TEXT result set, stderr goes to the log.
  Kill, and the end of the job, end the whole process group.

The engine type comes first, as in Linkis: an engine conn runs only its own executors, so spark
runs `sh` as SQL and shell runs `python` as shell (`executor_run_type`).

The engines live in engine_sql.py (its log's Spark shape in spark_log.py), engine_python.py (with
pyworker.py) and engine_shell.py; what they share, and the error codes they give, in engine_base.py.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
import socket
import threading
import time
import weakref
from pathlib import Path

from .engine_base import (
    DATABASE_NOT_FOUND, ENGINE_NOT_AVAILABLE, FIELD_NOT_FOUND, FUNCTION_NOT_FOUND, KILLED,
    PYTHON_EXECUTE_ERROR, PYTHON_RUN_TYPES, PYTHON_STOPPED, SHELL_CODE_IS_WRONG, SHELL_RUN_TYPES,
    SQL_ERROR, SQL_RUN_TYPES, TABLE_EXISTS, TABLE_NOT_FOUND, TYPE_MISMATCH, Control, EngineError,
    JobContext, has_exited, killed_error, stage,
)
from .engine_python import PythonProcess
from .engine_shell import run_shell
from .engine_sql import Databases, SqlJob, linkis_type, split_statements, sql_error_code
from .spark_log import LinkisManager

__all__ = [
    "DATABASE_NOT_FOUND", "ENGINE_NOT_AVAILABLE", "FIELD_NOT_FOUND", "FUNCTION_NOT_FOUND", "KILLED",
    "PYTHON_EXECUTE_ERROR", "PYTHON_RUN_TYPES", "PYTHON_STOPPED", "SHELL_CODE_IS_WRONG",
    "SHELL_RUN_TYPES", "SQL_ERROR", "SQL_RUN_TYPES", "TABLE_EXISTS", "TABLE_NOT_FOUND",
    "TYPE_MISMATCH", "EngineError", "EngineManager", "JobContext", "executor_run_type", "linkis_type",
    "split_statements", "sql_error_code",
]

# -- the executor an engine conn picks for a run type ----------------------------------------------

# An engine conn picks its executor by the job's code type, never another engine's: spark has one
# executor factory per run type (SparkEngineConnFactory.getExecutorFactories: sql, py, scala and
# function.mdq, data_calc), the others one executor (ComputationSingleExecutorEngineConnFactory).
# A code type no factory takes gets the default executor (LabelExecutorManagerImpl.tryCreateExecutor:
# "No LabelExecutorFactory matched, use DefaultExecutorFactory"): Spark SQL for spark, the engine's
# own language for the rest. So spark with `sh` or `python` runs the code as Spark SQL, and
# python with `sql` runs it as Python, whatever other engines are installed (release-1.8.0).
_SPARK_EXECUTORS = {"sql": "sql", "py": "py", "scala": None, "function.mdq": None, "data_calc": None}
_SINGLE_EXECUTOR = {  # engine: its run type (the plugin's getRunType) and the run types of that language
    "hive": ("hql", SQL_RUN_TYPES), "jdbc": ("jdbc", SQL_RUN_TYPES), "presto": ("psql", SQL_RUN_TYPES),
    "trino": ("tsql", SQL_RUN_TYPES), "python": ("python", PYTHON_RUN_TYPES),
    "shell": ("shell", SHELL_RUN_TYPES),
}


def executor_run_type(engine_type: str, run_type: str) -> str | None:
    """The run type the engine of `engine_type` runs code of `run_type` as; None for a spark
    executor this gateway does not have (scala, function.mdq, data_calc). An engine not listed
    above runs the code by its run type."""
    engine = (engine_type or "").split("-")[0].lower()
    run_type = (run_type or "").lower()
    if engine == "spark":
        return _SPARK_EXECUTORS.get(run_type, "sql")
    if engine in _SINGLE_EXECUTOR:
        own, same_language = _SINGLE_EXECUTOR[engine]
        return run_type if run_type in same_language else own
    return run_type


# -- the manager ---------------------------------------------------------------------------------

# Engine processes must not outlive the gateway: a process that exits without stopping its
# gateway (its jobs run in daemon threads) still stops every engine on the way out.
_MANAGERS: weakref.WeakSet[EngineManager] = weakref.WeakSet()


@atexit.register
def _close_managers() -> None:
    for manager in list(_MANAGERS):
        manager.close()


class EngineManager:
    """Runs jobs on the engine their run type selects; see the module docstring.

    `instance` is the gateway's host:port, which the SQL engine's log names as the engine's (and
    LinkisManager's) instance; without it, the machine's name. `ask_log`: the SQL log opens with
    the 1.x entrance's lines about asking LinkisManager for the engine (only with `instance`).
    """

    def __init__(self, data_dir: str | os.PathLike[str], instance: str | None = None,
                 ask_log: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.instance = instance or socket.gethostname()
        self._manager = LinkisManager(instance) if instance and ask_log else None
        self._lock = threading.Lock()
        self._databases = Databases()
        self._pythons: dict[tuple[str, str], PythonProcess] = {}
        self._python_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lost: dict[tuple[str, str], str] = {}
        self._running: dict[int, Control] = {}
        self._closed = False
        _MANAGERS.add(self)

    @property
    def databases(self) -> Databases:
        """The users' DuckDB databases, which the SQL jobs use (and the metadata endpoints read)."""
        return self._databases

    @staticmethod
    def supports(run_type: str) -> bool:
        return (run_type or "").lower() in SQL_RUN_TYPES + PYTHON_RUN_TYPES + SHELL_RUN_TYPES

    def execute(self, ctx: JobContext) -> None:
        """Runs the job; returns once its result sets are written, raises EngineError when it
        fails. Once ctx.cancelled is set the work stops at once."""
        run_type = executor_run_type(ctx.engine_type, ctx.run_type) or ""
        if run_type and run_type != (ctx.run_type or "").lower():
            ctx = dataclasses.replace(ctx, run_type=run_type)
        if not self.supports(run_type):
            raise EngineError(
                f"Run type '{ctx.run_type}' is not available in the embedded gateway: it runs "
                f"SQL ({', '.join(SQL_RUN_TYPES)}) on DuckDB, Python "
                f"({', '.join(PYTHON_RUN_TYPES)}) and shell ({', '.join(SHELL_RUN_TYPES)}) only.",
                ENGINE_NOT_AVAILABLE)
        control = Control(ctx)
        with self._lock:
            if self._closed:
                raise EngineError("The gateway is shutting down.", KILLED)
            self._running[ctx.task_id] = control
        try:
            if ctx.cancelled.is_set():
                raise killed_error()
            if run_type in SQL_RUN_TYPES:
                SqlJob(ctx, control, name=self.instance, manager=self._manager).run(self._databases)
            elif run_type in PYTHON_RUN_TYPES:
                self._run_python(ctx, control)
            else:
                run_shell(ctx, control)
        finally:
            with self._lock:
                self._running.pop(ctx.task_id, None)

    def kill(self, task_id: int) -> None:
        """Stops the job's work now (from any thread); execute() then returns quickly."""
        with self._lock:
            control = self._running.get(task_id)
        if control is not None:
            control.stop()

    def close(self) -> None:
        """Stops every job and engine process (gateway shutdown)."""
        with self._lock:
            self._closed = True
            controls = list(self._running.values())
        for control in controls:
            control.stop()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    break
            time.sleep(0.02)
        with self._lock:
            pythons, self._pythons = list(self._pythons.values()), {}
        for process in pythons:
            if process.lock.locked():
                process.kill()  # its job did not stop in time
            else:
                process.stop()
        self._databases.close()

    # -- python --------------------------------------------------------------------------------

    def _run_python(self, ctx: JobContext, control: Control) -> None:
        ctx.set_progress(0.0, [stage("python", 1, 0, 1)])
        key = (ctx.user, ctx.creator)
        with self._lock:
            key_lock = self._python_locks.setdefault(key, threading.Lock())
        # One job at a time per process; a second job of the same user and creator waits.
        if not key_lock.acquire(blocking=False):
            ctx.log("INFO", f"Waiting for the Python engine of {ctx.user}/{ctx.creator}: it runs "
                    "one job at a time.")
            while not key_lock.acquire(timeout=0.1):
                if control.stop_requested():
                    raise killed_error()
        try:
            process = self._python(ctx, key)
            ctx.log("INFO", f"Python job running in the Python {process.version} engine of "
                    f"{ctx.user}/{ctx.creator} (pid {process.pid}).")
            with process.lock:
                try:
                    process.run(ctx, control)
                finally:
                    if process.dead:
                        with self._lock:
                            if self._pythons.get(key) is process:
                                del self._pythons[key]
                            self._lost[key] = (
                                f"job {ctx.task_id} was killed" if control.stop_requested()
                                else f"it exited during job {ctx.task_id}")
        finally:
            key_lock.release()

    def _python(self, ctx: JobContext, key: tuple[str, str]) -> PythonProcess:
        with self._lock:
            process = self._pythons.get(key)
            if process is not None and (process.dead or has_exited(process.proc)):
                self._pythons.pop(key, None)
                if not process.dead:
                    self._lost[key] = f"it exited with code {process.proc.poll()} while idle"
                    process.stop()
                process = None
            lost = self._lost.pop(key, None)
        if process is not None:
            return process
        if lost:
            ctx.log("WARN", f"The Python engine of {ctx.user}/{ctx.creator} was stopped ({lost}); "
                    "this job starts a new one: variables of earlier jobs are gone.")
        started = time.monotonic()
        process = PythonProcess(ctx.user, ctx.creator, ctx.workspace)
        ctx.log("INFO", f"Started a Python {process.version} engine for {ctx.user}/{ctx.creator} "
                f"(pid {process.pid}) in {time.monotonic() - started:.2f} s.")
        with self._lock:
            if self._closed:
                process.stop()
                raise EngineError("The gateway is shutting down.", KILLED)
            self._pythons[key] = process
        return process
