"""The embedded gateway's engines: where jobs really run, chosen by run type as Linkis groups them.

- sql, hql, jdbc, psql, tsql: DuckDB, one database file per user (`<workspace>/linkis.duckdb`),
  so a table created by one job is there for the next. Each statement that returns rows makes
  one TABLE result set; progress comes from DuckDB's query progress; kill interrupts the query.
- python, py: one long-lived Python process per (user, creator) (gateway/pyworker.py), so
  variables survive between jobs. Printed output becomes TEXT result sets, `show(df)` TABLE
  ones; kill sends SIGINT (the namespace survives) and kills the process if that is not enough.
- shell, sh: bash, one process group per job; stdout is a TEXT result set, stderr goes to the log.
  Kill, and the end of the job, end the whole process group.

Error codes (errCode) follow Linkis' tables: SQL errors use the entrance's EntranceErrorConstants
(40001 database, 40002 table, 40003 column not found, 50003 unknown function, 50006 table exists,
50011 type mismatch, 50007 any other SQL error); 60002 a Python traceback (PYTHON_EXECUTE_ERROR),
60003 a Python process that died; 50037 a shell exit code other than 0 (SHELL_CODE_IS_WRONG);
50032 a job stopped by kill; 31002 a run type no engine here serves.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
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
# After SIGINT a Python job gets this long to stop before its process is killed.
INTERRUPT_GRACE = 0.5
PYTHON_START_TIMEOUT = 60.0
# A line of process output longer than this is stored in pieces.
MAX_LINE = 8 << 20
FETCH_BATCH = 10000
_SECRET_ENV = re.compile(r"TOKEN|PASSW|SECRET|CREDENTIAL|API_?KEY|PRIVATE", re.I)


class EngineError(Exception):
    """The job fails. str(e) becomes errDesc; `.code` (int) errCode (Linkis-like, e.g. 50007)."""

    def __init__(self, message: str, code: int = SQL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _killed() -> EngineError:
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


class _Control:
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


def _stage(stage_id: str, total: int, done: int, running: int, failed: int = 0) -> dict[str, Any]:
    return {"id": stage_id, "succeedTasks": done, "failedTasks": failed,
            "runningTasks": running, "totalTasks": total}


def _job_env(workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    # Jobs of every gateway user run as the gateway's OS user: they must not read its secrets.
    env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
    env["PWD"] = str(workspace)
    env.update(extra or {})
    return env


# -- results -------------------------------------------------------------------------------------

class _Results:
    """Names a job's result sets `_0.dolphin`, `_1.dolphin`, ... in the order they are made."""

    def __init__(self, result_dir: Path) -> None:
        self.dir = Path(result_dir).absolute()
        self.count = 0

    def next_path(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"_{self.count}{dolphin.SUFFIX}"
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


class _TextSpool:
    """Process output, as bytes, to one TEXT result set, written line by line as it arrives."""

    def __init__(self, results: _Results, name: str) -> None:
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
            self.writer = dolphin.ResultSetWriter(self.results.scratch(self.name), dolphin.TEXT, None)
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


class _LineLog:
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
        text = line.decode("utf-8", "replace").rstrip("\r")
        if text.strip():
            self.last = text
        self.log(self.classify(text), text)

    def flush(self) -> None:
        if self.partial:
            self._emit(self.partial)
            self.partial = bytearray()


_ERROR_LINE = re.compile(r"^(Traceback \(most recent call last\)|\w*(Error|Exception)\b|ERROR\b|FATAL\b)")


def _stderr_level(line: str) -> str:
    return "ERROR" if _ERROR_LINE.match(line) else "WARN"


# -- SQL on DuckDB -------------------------------------------------------------------------------

def split_statements(code: str) -> list[str]:
    """The statements of a SQL script, split at `;` outside quotes, identifiers and comments.

    Understands '...' (with '' and E'\\'' escapes), "...", `...`, $tag$...$tag$, -- comments and
    nested /* */ comments. Statements holding only whitespace and comments are dropped.
    """
    statements: list[str] = []
    start = 0
    i = 0
    n = len(code)
    meaningful = False
    while i < n:
        ch = code[i]
        if ch == "-" and code.startswith("--", i):
            end = code.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and code.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if code.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif code.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if ch == ";":
            if meaningful:
                statements.append(code[start:i].strip())
            start, i, meaningful = i + 1, i + 1, False
            continue
        if not ch.isspace():
            meaningful = True
        if ch in "'\"`":
            backslash = ch == "'" and i > 0 and code[i - 1] in "eE" and (
                i < 2 or not (code[i - 2].isalnum() or code[i - 2] == "_"))
            i += 1
            while i < n:
                if backslash and code[i] == "\\":
                    i += 2
                    continue
                if code[i] == ch:
                    if code.startswith(ch * 2, i):
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            continue
        if ch == "$" and not (i > 0 and (code[i - 1].isalnum() or code[i - 1] == "_")):
            match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", code[i:])
            if match:
                tag = match.group(0)
                end = code.find(tag, i + len(tag))
                i = n if end < 0 else end + len(tag)
                continue
        i += 1
    if meaningful:
        statements.append(code[start:].strip())
    return statements


# DuckDB type -> Linkis DataType name (linkis-storage domain/DataType.scala). Spark's names for
# `sql`; `hql` and Presto/Trino (`psql`, `tsql`) name some types as Hive and Presto do.
_DUCK_TYPES = {
    "BOOLEAN": "boolean", "TINYINT": "short", "SMALLINT": "short", "UTINYINT": "short",
    "INTEGER": "int", "USMALLINT": "int", "BIGINT": "long", "UINTEGER": "long",
    "HUGEINT": "decimal", "UBIGINT": "decimal", "UHUGEINT": "decimal", "VARINT": "decimal",
    "BIGNUM": "decimal", "FLOAT": "float", "DOUBLE": "double", "DECIMAL": "decimal",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMPTZ": "timestamp", "TIMESTAMP_S": "timestamp", "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp", "BLOB": "binary",
}
_DIALECTS = {
    "hql": {"long": "bigint", "short": "int"},
    "psql": {"long": "bigint", "short": "int", "string": "varchar"},
    "tsql": {"long": "bigint", "short": "int", "string": "varchar"},
}


def linkis_type(duck_type: str, run_type: str = "sql") -> str:
    """The Linkis type name of a DuckDB column type, as the engine for `run_type` names it."""
    text = str(duck_type).strip().upper()
    if text.endswith("]"):
        name = "array"
    else:
        base = text.split("(", 1)[0].strip()
        name = {"MAP": "map", "STRUCT": "struct", "UNION": "struct"}.get(base) or \
            _DUCK_TYPES.get(base, "string")
    return _DIALECTS.get(run_type, {}).get(name, name)


def _nested(duck_type: str) -> bool:
    text = str(duck_type).strip().upper()
    return text.endswith("]") or text.startswith(("MAP", "STRUCT", "UNION"))


def _text(value: Any) -> str | None:
    """A DuckDB value (as Python) as the string a Linkis engine writes."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


_SQL_CODES = (
    (re.compile(r"Table with name .* does not exist|Table .* does not exist"), TABLE_NOT_FOUND),
    (re.compile(r"(Schema|Catalog) with name .* does not exist"), DATABASE_NOT_FOUND),
    (re.compile(r"Referenced column .* not found|column .* not found", re.I), FIELD_NOT_FOUND),
    (re.compile(r"Function with name .* does not exist"), FUNCTION_NOT_FOUND),
    (re.compile(r"already exists"), TABLE_EXISTS),
    (re.compile(r"^(Conversion Error|Mismatch Type Error)|No function matches"), TYPE_MISMATCH),
)


def sql_error_code(message: str) -> int:
    for pattern, code in _SQL_CODES:
        if pattern.search(message):
            return code
    return SQL_ERROR


def _preview(statement: str, limit: int = 300) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


class _Databases:
    """One DuckDB database per user; each job works on its own cursor of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, Any] = {}

    def cursor(self, workspace: Path) -> Any:
        import duckdb

        path = str(Path(workspace) / "linkis.duckdb")
        with self._lock:
            root = self._connections.get(path)
            if root is None:
                Path(workspace).mkdir(parents=True, exist_ok=True)
                try:
                    root = duckdb.connect(path)
                except duckdb.Error as e:
                    raise EngineError(f"The user's DuckDB database cannot be opened: {e}",
                                      SQL_ERROR) from None
                self._connections[path] = root
            return root.cursor()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass


class _SqlJob:
    def __init__(self, ctx: JobContext, control: _Control, cursor: Any) -> None:
        self.ctx = ctx
        self.control = control
        self.cursor = cursor
        self.run_type = ctx.run_type.lower()
        self.statements = split_statements(ctx.code)
        self.current = 0
        self.results = _Results(ctx.result_dir)
        self._done = threading.Event()
        self._last: tuple[float, int] | None = None

    def progress(self, fraction: float, failed: int = 0) -> None:
        total = len(self.statements)
        value = min((self.current - 1 + max(0.0, min(fraction, 1.0))) / total, 0.99)
        key = (round(value, 3), failed)
        if key == self._last:
            return
        self._last = key
        running = 0 if failed else 1
        self.ctx.set_progress(value, [_stage(f"stmt-{self.current}", total, self.current - 1,
                                             running, failed)])

    def watch(self) -> None:
        """Polls DuckDB's progress of the running statement; interrupts it once stopped."""
        while not self._done.wait(0.2):
            if self.control.stop_requested():
                try:
                    self.cursor.interrupt()
                except Exception:
                    pass
                continue
            try:
                percent = self.cursor.query_progress()
            except Exception:
                continue
            if percent is not None and percent >= 0:
                self.progress(percent / 100.0)

    def run(self) -> None:
        import duckdb

        ctx = self.ctx
        total = len(self.statements)
        if not total:
            ctx.log("INFO", "The job holds no SQL statement to run.")
            return
        for setting in ("SET enable_progress_bar = true", "SET enable_progress_bar_print = false",
                        "SET progress_bar_time = 0"):
            self.cursor.execute(setting)
        self.control.on_stop = self.cursor.interrupt
        watcher = threading.Thread(target=self.watch, name=f"linkis-sql-progress-{ctx.task_id}",
                                   daemon=True)
        watcher.start()
        try:
            for index, statement in enumerate(self.statements, 1):
                if self.control.stop_requested():
                    raise _killed()
                self.current = index
                self.progress(0.0)
                ctx.log("INFO", f"SQL statement {index}/{total}: {_preview(statement)}")
                started = time.monotonic()
                try:
                    summary = self.statement(statement, duckdb)
                except duckdb.Error as e:
                    if self.control.stop_requested() or isinstance(e, duckdb.InterruptException):
                        raise _killed() from None
                    message = str(e).strip()
                    for line in message.splitlines():
                        ctx.log("ERROR", line)
                    self.progress(0.0, failed=1)
                    raise EngineError(message, sql_error_code(message)) from None
                taken = time.monotonic() - started
                ctx.log("INFO", f"Statement {index}/{total} done in {taken:.3f} s: {summary}")
                if self.control.stop_requested():
                    raise _killed()
        finally:
            self._done.set()
            self.control.on_stop = None
            watcher.join()

    def statement(self, statement: str, duckdb: Any) -> str:
        cursor = self.cursor
        try:
            parsed = cursor.extract_statements(statement)
        except duckdb.Error:
            parsed = []
        kind = parsed[0].type if len(parsed) == 1 else None
        if kind == duckdb.StatementType.SELECT:
            try:
                return self.select(statement)
            except duckdb.Error as e:
                # Run as written below: the error then quotes the user's statement, not ours.
                if self.control.stop_requested() or isinstance(e, duckdb.InterruptException):
                    raise
        cursor.execute(statement)
        description = cursor.description
        if not description:
            return "OK"
        names = [d[0] for d in description]
        if names == ["Count"] and kind != duckdb.StatementType.SELECT:
            row = cursor.fetchone()
            return f"{row[0] if row else 0} row(s) affected"
        if names == ["Success"] and kind != duckdb.StatementType.SELECT:
            return "OK"
        columns = [(d[0], str(d[1])) for d in description]
        return self.write_table(columns, lambda n: [[_text(v) for v in row]
                                                    for row in cursor.fetchmany(n)])

    def select(self, statement: str) -> str:
        """A query whose rows DuckDB itself turns into text: much faster than Python would."""
        cursor = self.cursor
        columns = [(row[0], row[1]) for row in cursor.execute(f"DESCRIBE {statement}\n").fetchall()]
        if not columns:
            cursor.execute(statement)
            return "OK"
        casts = ", ".join(
            f"CAST(to_json(#{i}) AS VARCHAR)" if _nested(t) else f"CAST(#{i} AS VARCHAR)"
            for i, (_, t) in enumerate(columns, 1)
        )
        cursor.execute(f"SELECT {casts} FROM (\n{statement}\n) AS linkis_result")
        return self.write_table(columns, cursor.fetchmany)

    def write_table(self, columns: list[tuple[str, str]],
                    fetch: Callable[[int], list[Any]]) -> str:
        metadata = [{"columnName": name, "comment": None,
                     "dataType": linkis_type(duck_type, self.run_type)}
                    for name, duck_type in columns]
        path = self.results.next_path()
        try:
            with dolphin.ResultSetWriter(path, dolphin.TABLE, metadata) as writer:
                while True:
                    rows = fetch(FETCH_BATCH)
                    if not rows:
                        break
                    writer.write_rows(rows)
                    if self.control.stop_requested():
                        raise _killed()
        except BaseException:
            self.results.count -= 1  # the number goes to the next result set instead
            raise
        return f"Fetched {len(columns)} col(s) : {writer.rows} row(s) into result set {path.name}"


# -- processes -----------------------------------------------------------------------------------

def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it: its process group id stays ours."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


def _run_shell(ctx: JobContext, control: _Control) -> None:
    bash = shutil.which("bash")
    if bash is None:
        raise EngineError("The shell engine needs bash, and this machine has none on its PATH.",
                          ENGINE_NOT_AVAILABLE)
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    fd, script = tempfile.mkstemp(prefix=f"linkis-{ctx.task_id}-", suffix=".sh")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(ctx.code)
        if not ctx.code.endswith("\n"):
            f.write("\n")
    results = _Results(ctx.result_dir)
    spool = _TextSpool(results, f"shell-{ctx.task_id}")
    errors = _LineLog(ctx.log, lambda line: "WARN")
    ctx.set_progress(0.0, [_stage("shell", 1, 0, 1)])
    try:
        proc = subprocess.Popen([bash, script], cwd=ctx.workspace, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=_job_env(ctx.workspace))
    except OSError as e:
        os.unlink(script)
        raise EngineError(f"bash could not be started: {e}", SHELL_CODE_IS_WRONG) from None
    ctx.log("INFO", f"Shell job running in bash (pid {proc.pid}) in {ctx.workspace}")
    control.on_stop = lambda: _kill_group(proc.pid, signal.SIGTERM)
    assert proc.stdout is not None and proc.stderr is not None
    streams = {proc.stdout.fileno(): spool.feed, proc.stderr.fileno(): errors.feed}
    selector = selectors.DefaultSelector()
    for stream_fd in streams:
        selector.register(stream_fd, selectors.EVENT_READ)
    stopping_since: float | None = None
    drain_until: float | None = None
    try:
        while True:
            for key, _ in selector.select(0.1):
                data = _read(key.fd)
                if data:
                    streams[key.fd](data)
                else:
                    selector.unregister(key.fd)
                    del streams[key.fd]
            now = time.monotonic()
            if control.stop_requested():
                if stopping_since is None:
                    stopping_since = now
                    _kill_group(proc.pid, signal.SIGTERM)
                elif now - stopping_since > 0.3:
                    _kill_group(proc.pid)
            if drain_until is None and _exited(proc):
                # The job is over when bash is: what it left running in its group goes with it.
                _kill_group(proc.pid)
                drain_until = now + 1.0
            if drain_until is not None and (not streams or now > drain_until):
                break
    finally:
        control.on_stop = None
        selector.close()
        if not _exited(proc):
            _kill_group(proc.pid)
        returncode = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        os.unlink(script)
        errors.flush()
    try:
        if control.stop_requested():
            raise _killed()
        if returncode != 0:
            reason = f"exit code {returncode}" if returncode > 0 else \
                f"killed by signal {-returncode}"
            ctx.log("ERROR", f"The shell job ended with {reason}.")
            last = f": {errors.last}" if errors.last else ""
            raise EngineError(f"shell code is wrong(shell代码错误): {reason}{last}",
                              SHELL_CODE_IS_WRONG)
        writer = spool.finish()
        if writer is not None:
            writer.close(results.next_path())
    finally:
        spool.abort()
        results.tidy(f"shell-{ctx.task_id}")


# -- Python --------------------------------------------------------------------------------------

_FRAME = struct.Struct(">Q")
_WORKER = Path(__file__).with_name("pyworker.py")


class _MarkedStream:
    """Splits a worker's output stream at the markers of the current job (see pyworker.py)."""

    def __init__(self, token: str, on_data: Callable[[bytes], None],
                 on_marker: Callable[[bytes], None]) -> None:
        self.prefix = b"\x1e" + token.encode("ascii")
        self.on_data = on_data
        self.on_marker = on_marker
        self.buffer = bytearray()
        self.ended = False

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        self.buffer += data
        prefix = self.prefix
        while True:
            at = self.buffer.find(prefix)
            if at < 0:
                keep = len(prefix) - 1
                if len(self.buffer) > keep:
                    self.on_data(bytes(self.buffer[:-keep]))
                    del self.buffer[:-keep]
                return
            if at:
                self.on_data(bytes(self.buffer[:at]))
                del self.buffer[:at]
            end = self.buffer.find(b"\x1e", len(prefix))
            if end < 0:
                return
            kind = bytes(self.buffer[len(prefix):end])
            del self.buffer[:end + 1]
            self.on_marker(kind)
            if kind == b"e":
                self.ended = True
                return

    def flush(self) -> None:
        if self.buffer and not self.ended:
            self.on_data(bytes(self.buffer))
        self.buffer.clear()


class _PythonProcess:
    """One worker process: started, handed jobs one at a time, stopped."""

    def __init__(self, user: str, creator: str, workspace: Path) -> None:
        self.user = user
        self.creator = creator
        self.lock = threading.Lock()
        self.dead = False
        self.version = ""
        workspace.mkdir(parents=True, exist_ok=True)
        cmd_read, self.cmd_write = os.pipe()
        self.event_read, event_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, str(_WORKER), str(cmd_read), str(event_write)],
                cwd=workspace, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(cmd_read, event_write), start_new_session=True,
                env=_job_env(workspace, {"PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg"}),
            )
        except OSError as e:
            for fd in (cmd_read, event_write, self.cmd_write, self.event_read):
                os.close(fd)
            raise EngineError(f"The Python engine could not be started: {e}",
                              PYTHON_STOPPED) from None
        os.close(cmd_read)
        os.close(event_write)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout = self.proc.stdout.fileno()
        self.stderr = self.proc.stderr.fileno()
        self.events = bytearray()
        self.carry = {self.stdout: b"", self.stderr: b""}
        self._await_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _frames(self) -> list[dict[str, Any]]:
        out = []
        while len(self.events) >= _FRAME.size:
            size = _FRAME.unpack_from(self.events)[0]
            if len(self.events) < _FRAME.size + size:
                break
            body = bytes(self.events[_FRAME.size:_FRAME.size + size])
            del self.events[:_FRAME.size + size]
            try:
                out.append(json.loads(body))
            except ValueError:
                continue
        return out

    def _await_ready(self) -> None:
        deadline = time.monotonic() + PYTHON_START_TIMEOUT
        errors = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(self.event_read, selectors.EVENT_READ)
            selector.register(self.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    data = _read(key.fd)
                    if key.fd == self.stderr:
                        errors += data[: 1 << 16]
                        if not data:
                            selector.unregister(key.fd)
                        continue
                    if not data:
                        self.stop()
                        detail = errors.decode("utf-8", "replace").strip().splitlines()
                        raise EngineError("The Python engine exited while starting"
                                          + (f": {detail[-1]}" if detail else ""), PYTHON_STOPPED)
                    self.events += data
                    for frame in self._frames():
                        if frame.get("event") == "ready":
                            self.version = str(frame.get("python", ""))
                            return
        self.stop()
        raise EngineError("The Python engine did not start in time.", PYTHON_STOPPED)

    def run(self, ctx: JobContext, control: _Control) -> None:
        token = secrets.token_hex(16)
        results = _Results(ctx.result_dir)
        items: list[tuple[str, Any]] = []
        state = {"spool": _TextSpool(results, f"{token}-t0"), "texts": 0}

        def on_out_marker(kind: bytes) -> None:
            if kind.startswith(b"s") and kind[1:].isdigit():
                writer = state["spool"].finish()
                if writer is not None:
                    items.append(("text", writer))
                items.append(("table", int(kind[1:])))
                state["texts"] += 1
                state["spool"] = _TextSpool(results, f"{token}-t{state['texts']}")

        out = _MarkedStream(token, lambda data: state["spool"].feed(data), on_out_marker)
        errors = _LineLog(ctx.log, _stderr_level)
        err = _MarkedStream(token, errors.feed, lambda kind: None)
        tables: set[int] = set()
        done: dict[str, Any] | None = None
        done_at = 0.0
        interrupted_at: float | None = None
        last_sigint = 0.0
        exited = False
        request = {"task_id": ctx.task_id, "token": token, "code": ctx.code,
                   "result_dir": str(results.dir)}
        body = json.dumps(request, ensure_ascii=True).encode("ascii")
        ctx.set_progress(0.0, [_stage("python", 1, 0, 1)])
        try:
            try:
                _write_all(self.cmd_write, _FRAME.pack(len(body)) + body)
            except OSError:
                exited = True
            for stream, carry in ((out, self.carry[self.stdout]), (err, self.carry[self.stderr])):
                if carry:
                    stream.feed(carry)
            selector = selectors.DefaultSelector()
            selector.register(self.stdout, selectors.EVENT_READ, out)
            selector.register(self.stderr, selectors.EVENT_READ, err)
            selector.register(self.event_read, selectors.EVENT_READ, None)
            try:
                while not exited:
                    for key, _ in selector.select(0.05):
                        data = _read(key.fd)
                        if not data:
                            selector.unregister(key.fd)
                            if key.fd == self.event_read:
                                exited = True
                            continue
                        if key.data is not None:
                            key.data.feed(data)
                            continue
                        self.events += data
                        for frame in self._frames():
                            event = frame.get("event")
                            if event == "log":
                                for line in str(frame.get("text", "")).splitlines() or [""]:
                                    ctx.log(str(frame.get("level", "INFO")), line)
                            elif event == "table":
                                tables.add(int(frame.get("seq", 0)))
                            elif event == "done" and done is None:
                                done, done_at = frame, time.monotonic()
                    now = time.monotonic()
                    if done is not None:
                        # Done; wait for the end markers so no output of this job is left unread.
                        if (out.ended and err.ended) or now - done_at > 2.0:
                            break
                        continue
                    if control.stop_requested():
                        if interrupted_at is None:
                            interrupted_at = now
                            ctx.log("INFO", "Interrupting the Python job (SIGINT).")
                        if now - last_sigint > 0.15:
                            last_sigint = now
                            try:
                                os.kill(self.pid, signal.SIGINT)
                            except ProcessLookupError:
                                pass
                        if now - interrupted_at > INTERRUPT_GRACE:
                            ctx.log("WARN", f"The Python job did not stop on SIGINT; its process "
                                    f"(pid {self.pid}) is killed.")
                            self.kill()
                            break
                    elif _exited(self.proc):
                        exited = True
                if exited or self.dead:
                    self._drain(selector)
            finally:
                selector.close()
            if not self.dead:
                self.carry[self.stdout] = bytes(out.buffer) if out.ended else b""
                self.carry[self.stderr] = bytes(err.buffer) if err.ended else b""
            if not out.ended:
                out.flush()
            if not err.ended:
                err.flush()
            errors.flush()
            writer = state["spool"].finish()
            if writer is not None:
                items.append(("text", writer))
            self._publish(items, tables, results, token)
        finally:
            state["spool"].abort()
            results.tidy(token)

        if done is not None and done.get("status") == "ok":
            return
        if done is not None and done.get("status") == "error":
            lines = [str(line) for line in done.get("traceback", [])]
            for line in lines:
                ctx.log("ERROR", line)
            last = next((line for line in reversed(lines) if line.strip()), "Python error")
            raise EngineError(last.strip(), PYTHON_EXECUTE_ERROR)
        if control.stop_requested():
            raise _killed()
        self.stop()
        code = self.proc.returncode
        raise EngineError("python process has stopped, query failed!(Python 进程已停止，查询失败！)"
                          + (f" exit code {code}" if code is not None else ""), PYTHON_STOPPED)

    @staticmethod
    def _publish(items: list[tuple[str, Any]], tables: set[int], results: _Results,
                 token: str) -> None:
        """Gives the job's result sets their final names, in the order the job made them."""
        for kind, item in items:
            if kind == "text":
                item.close(results.next_path())
                continue
            scratch = results.dir / f".{token}-{item}{dolphin.SUFFIX}"
            if item in tables and scratch.is_file():
                os.replace(scratch, results.next_path())

    def stop(self) -> None:
        """Ends the process (and anything it started in its process group)."""
        if self.dead:
            return
        self.dead = True
        try:
            os.close(self.cmd_write)  # an idle worker leaves its loop on end of input
        except OSError:
            pass
        deadline = time.monotonic() + 0.5
        while not _exited(self.proc) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.proc.returncode is None:
            _kill_group(self.pid)
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        try:
            os.close(self.event_read)
        except OSError:
            pass

    @staticmethod
    def _drain(selector: selectors.BaseSelector) -> None:
        """What a stopped process wrote last, for its log and results."""
        deadline = time.monotonic() + 0.5
        while selector.get_map() and time.monotonic() < deadline:
            ready = selector.select(0.05)
            if not ready:
                break
            for key, _ in ready:
                data = _read(key.fd)
                if not data:
                    selector.unregister(key.fd)
                elif key.data is not None:
                    key.data.feed(data)

    def kill(self) -> None:
        """Ends the process at once."""
        if not self.dead:
            _kill_group(self.pid)
        self.stop()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- the manager ---------------------------------------------------------------------------------

class EngineManager:
    """Runs jobs on the engine their run type selects; see the module docstring."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._databases = _Databases()
        self._pythons: dict[tuple[str, str], _PythonProcess] = {}
        self._python_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lost: dict[tuple[str, str], str] = {}
        self._running: dict[int, _Control] = {}
        self._closed = False

    @staticmethod
    def supports(run_type: str) -> bool:
        return (run_type or "").lower() in SQL_RUN_TYPES + PYTHON_RUN_TYPES + SHELL_RUN_TYPES

    def execute(self, ctx: JobContext) -> None:
        """Runs the job; returns once its result sets are written, raises EngineError when it
        fails. Once ctx.cancelled is set the work stops at once."""
        run_type = (ctx.run_type or "").lower()
        if not self.supports(run_type):
            raise EngineError(
                f"Run type '{ctx.run_type}' is not available in the embedded gateway: it runs "
                f"SQL ({', '.join(SQL_RUN_TYPES)}) on DuckDB, Python ({', '.join(PYTHON_RUN_TYPES)})"
                f" and shell ({', '.join(SHELL_RUN_TYPES)}) only.", ENGINE_NOT_AVAILABLE)
        control = _Control(ctx)
        with self._lock:
            if self._closed:
                raise EngineError("The gateway is shutting down.", KILLED)
            self._running[ctx.task_id] = control
        try:
            if ctx.cancelled.is_set():
                raise _killed()
            if run_type in SQL_RUN_TYPES:
                cursor = self._databases.cursor(ctx.workspace)
                try:
                    _SqlJob(ctx, control, cursor).run()
                finally:
                    cursor.close()
            elif run_type in PYTHON_RUN_TYPES:
                self._run_python(ctx, control)
            else:
                _run_shell(ctx, control)
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
            pythons, self._pythons = list(self._pythons.values()), {}
        for control in controls:
            control.stop()
        for process in pythons:
            process.kill() if process.lock.locked() else process.stop()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    break
            time.sleep(0.02)
        self._databases.close()

    # -- python --------------------------------------------------------------------------------

    def _run_python(self, ctx: JobContext, control: _Control) -> None:
        key = (ctx.user, ctx.creator)
        with self._lock:
            key_lock = self._python_locks.setdefault(key, threading.Lock())
        # One job at a time per process; a second job of the same user and creator waits.
        while not key_lock.acquire(timeout=0.1):
            if control.stop_requested():
                raise _killed()
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

    def _python(self, ctx: JobContext, key: tuple[str, str]) -> _PythonProcess:
        with self._lock:
            process = self._pythons.get(key)
            if process is not None and process.dead:
                self._pythons.pop(key, None)
                process = None
            lost = self._lost.pop(key, None)
        if process is not None:
            return process
        if lost:
            ctx.log("WARN", f"The Python engine of {ctx.user}/{ctx.creator} was stopped ({lost}); "
                    "this job starts a new one: variables of earlier jobs are gone.")
        started = time.monotonic()
        process = _PythonProcess(ctx.user, ctx.creator, ctx.workspace)
        ctx.log("INFO", f"Started a Python {process.version} engine for {ctx.user}/{ctx.creator} "
                f"(pid {process.pid}) in {time.monotonic() - started:.2f} s.")
        with self._lock:
            if self._closed:
                process.stop()
                raise EngineError("The gateway is shutting down.", KILLED)
            self._pythons[key] = process
        return process
