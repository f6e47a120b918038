"""What the engines share: the job context, errors and codes, result naming, process output.

Error codes (errCode) follow Linkis' tables: SQL errors use the entrance's EntranceErrorConstants
(40001 database, 40002 table, 40003 column not found, 50003 unknown function, 50006 table exists,
50011 type mismatch, 50007 any other SQL error); 60002 a Python traceback (PYTHON_EXECUTE_ERROR),
60003 a Python process that died; 50037 a shell exit code other than 0 (SHELL_CODE_IS_WRONG);
50032 a job stopped by kill; 31002 a run type no engine here serves.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dolphin

SQL_RUN_TYPES = ("sql", "hql", "jdbc", "psql", "tsql")
PYTHON_RUN_TYPES = ("python", "py")
SHELL_RUN_TYPES = ("shell", "sh")

DATABASE_NOT_FOUND = 40001
TABLE_NOT_FOUND = 40002
FIELD_NOT_FOUND = 40003
FUNCTION_NOT_FOUND = 50003
TABLE_EXISTS = 50006
SQL_ERROR = 50007
TYPE_MISMATCH = 50011
KILLED = 50032
SHELL_CODE_IS_WRONG = 50037
PYTHON_EXECUTE_ERROR = 60002
PYTHON_STOPPED = 60003
ENGINE_NOT_AVAILABLE = 31002

KILLED_TEXT = "Job is killed by user(任务被用户kill)"
# A line of process output longer than this is stored in pieces.
MAX_LINE = 8 << 20
# Longer log lines from a job are cut, as a Linkis engine cuts what it sends to the entrance
# (linkis.ec.send.log.entrance.limit.length).
LOG_LINE_LIMIT = 2000
_SECRET_ENV = re.compile(r"TOKEN|PASSW|SECRET|CREDENTIAL|API_?KEY|PRIVATE", re.I)


class EngineError(Exception):
    """The job fails. str(e) becomes errDesc; `.code` (int) errCode (Linkis-like, e.g. 50007)."""

    def __init__(self, message: str, code: int = SQL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def killed_error() -> EngineError:
    return EngineError(KILLED_TEXT, KILLED)


def _no_log(level: str, text: str) -> None:
    pass


def _no_progress(value: float, info: list[dict[str, Any]]) -> None:
    pass


@dataclass
class JobContext:
    """What an engine needs to run one job; built by jobs.py."""

    task_id: int
    user: str
    creator: str
    run_type: str
    code: str
    workspace: Path
    result_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str, str], None] = _no_log
    set_progress: Callable[[float, list[dict[str, Any]]], None] = _no_progress
    engine_type: str = ""  # the job's EngineTypeLabel, `<engine>-<version>`


class Control:
    """A running job as kill() sees it."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.killed = threading.Event()
        self.on_stop: Callable[[], None] | None = None

    def stop_requested(self) -> bool:
        return self.killed.is_set() or self.ctx.cancelled.is_set()

    def stop(self) -> None:
        self.killed.set()
        callback = self.on_stop
        if callback is not None:
            try:
                callback()
            except Exception:
                pass


def stage(stage_id: str, total: int, done: int, running: int, failed: int = 0) -> dict[str, Any]:
    return {"id": stage_id, "succeedTasks": done, "failedTasks": failed,
            "runningTasks": running, "totalTasks": total}


def job_env(workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    # Jobs of every gateway user run as the gateway's OS user: they must not read its secrets.
    env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
    env["PWD"] = str(workspace)
    env.update(extra or {})
    return env


# -- results -------------------------------------------------------------------------------------

class Results:
    """Names a job's result sets `_0.dolphin`, `_1.dolphin`, ... in the order they are made, or
    `<alias>_<n>.dolphin`: one counter for both (ExecutorExecutionContext.scala, `aliasNum`)."""

    def __init__(self, result_dir: Path) -> None:
        self.dir = Path(result_dir).absolute()
        self.count = 0

    def next_path(self, alias: str | None = None) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{alias or ''}_{self.count}{dolphin.SUFFIX}"
        self.count += 1
        return path

    def scratch(self, name: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir / f".{name}{dolphin.SUFFIX}"

    def tidy(self, prefix: str) -> None:
        """Removes leftovers of an interrupted job; and the directory if it holds nothing."""
        if not self.dir.is_dir():
            return
        for path in self.dir.glob(f".{prefix}*"):
            try:
                path.unlink()
            except OSError:
                pass
        try:
            self.dir.rmdir()
        except OSError:
            pass


class TextSpool:
    """Process output, as bytes, to one TEXT result set, written line by line as it arrives."""

    def __init__(self, results: Results, name: str) -> None:
        self.results = results
        self.name = name
        self.writer: dolphin.ResultSetWriter | None = None
        self.partial = bytearray()
        self.blank = True

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self.blank and not data.isspace():
            self.blank = False
        self.partial += data
        if b"\n" in data:
            *lines, rest = self.partial.split(b"\n")
            self.partial = bytearray(rest)
            self._write(lines)
        if len(self.partial) > MAX_LINE:
            self._write([bytes(self.partial)])
            self.partial.clear()

    def _write(self, lines: list[bytes] | list[bytearray]) -> None:
        if self.writer is None:
            self.writer = dolphin.ResultSetWriter(self.results.scratch(self.name), dolphin.TEXT,
                                                  None)
        self.writer.write_rows([
            [line.decode("utf-8", "replace").removesuffix("\r")] for line in lines
        ])

    def finish(self) -> dolphin.ResultSetWriter | None:
        """The finished writer (still under its scratch name), or None when the output is blank:
        like Linkis, a job that printed only whitespace has no TEXT result set."""
        if self.partial:
            self._write([bytes(self.partial)])
            self.partial.clear()
        writer, self.writer = self.writer, None
        if writer is None:
            return None
        if self.blank:
            writer.abort()
            return None
        writer.close()
        return writer

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


class LineLog:
    """Bytes of a stream to log lines, each logged when its newline arrives."""

    def __init__(self, log: Callable[[str, str], None], classify: Callable[[str], str]) -> None:
        self.log = log
        self.classify = classify
        self.partial = bytearray()
        self.last = ""

    def feed(self, data: bytes) -> None:
        self.partial += data
        if b"\n" in data or len(self.partial) > MAX_LINE:
            *lines, rest = self.partial.split(b"\n")
            self.partial = bytearray(rest)
            for line in lines:
                self._emit(line)

    def _emit(self, line: bytes | bytearray) -> None:
        text = clip(line[:LOG_LINE_LIMIT * 4].decode("utf-8", "replace").rstrip("\r"))
        if text.strip():
            self.last = text
        self.log(self.classify(text), text)

    def flush(self) -> None:
        if self.partial:
            self._emit(self.partial)
            self.partial = bytearray()


def clip(text: str) -> str:
    return text if len(text) <= LOG_LINE_LIMIT else text[:LOG_LINE_LIMIT] + "..."


_ERROR_LINE = re.compile(
    r"^(Traceback \(most recent call last\)|\w*(Error|Exception)\b|ERROR\b|FATAL\b)")


def stderr_level(line: str) -> str:
    return "ERROR" if _ERROR_LINE.match(line) else "WARN"


# -- processes ----------------------------------------------------------------------------------

def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it: its process group id stays ours."""
    if proc.returncode is not None:
        return True
    if not hasattr(os, "waitid"):  # macOS: reaping is the only way to know
        return proc.poll() is not None
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def read_chunk(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


