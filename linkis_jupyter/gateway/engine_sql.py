"""SQL run types (sql, hql, jdbc, psql, tsql) on DuckDB.

One database file per user (`<workspace>/linkis.duckdb`), so a table created by one job is there
for the next; each job works on a cursor of its own. Every statement that returns rows makes one
TABLE result set, its column types named as Linkis names them. Progress is DuckDB's query
progress of the running statement; kill interrupts the query.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import dolphin
from .engine_base import (
    DATABASE_NOT_FOUND, FIELD_NOT_FOUND, FUNCTION_NOT_FOUND, SQL_ERROR, TABLE_EXISTS,
    TABLE_NOT_FOUND, TYPE_MISMATCH, Control, EngineError, JobContext, Results, killed_error, stage,
)

FETCH_BATCH = 10000


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


class Databases:
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

    def existing_cursor(self, workspace: Path) -> Any | None:
        """A cursor of the user's database to read its catalog (gateway/routes_metadata.py), or
        None when the user has none yet: unlike cursor(), it never creates the file. It shares
        the jobs' connection, so it reads what they committed and never locks them out."""
        path = Path(workspace) / "linkis.duckdb"
        with self._lock:
            if str(path) not in self._connections and not path.exists():
                return None
        return self.cursor(workspace)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass


class SqlJob:
    def __init__(self, ctx: JobContext, control: Control) -> None:
        self.ctx = ctx
        self.control = control
        self.cursor: Any = None
        self.run_type = ctx.run_type.lower()
        self.statements = split_statements(ctx.code)
        self.current = 1
        self.results = Results(ctx.result_dir)
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
        self.ctx.set_progress(value, [stage(f"stmt-{self.current}", total, self.current - 1,
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

    def run(self, databases: Databases) -> None:
        import duckdb

        ctx = self.ctx
        total = len(self.statements)
        if not total:
            ctx.log("INFO", "The job holds no SQL statement to run.")
            return
        self.progress(0.0)
        self.cursor = databases.cursor(ctx.workspace)
        try:
            self.run_statements(duckdb)
        finally:
            self.cursor.close()

    def run_statements(self, duckdb: Any) -> None:
        ctx = self.ctx
        total = len(self.statements)
        for setting in ("SET enable_progress_bar = true", "SET enable_progress_bar_print = false",
                        "SET progress_bar_time = 0"):
            self.cursor.execute(setting)
        # Relative paths read (read_csv('sales.csv')) are in the user's own area,
        # where shell and Python jobs write their files too.
        self.cursor.execute("SET file_search_path = ?", [str(ctx.workspace)])
        self.control.on_stop = self.cursor.interrupt
        watcher = threading.Thread(target=self.watch, name=f"linkis-sql-progress-{ctx.task_id}",
                                   daemon=True)
        watcher.start()
        try:
            for index, statement in enumerate(self.statements, 1):
                if self.control.stop_requested():
                    raise killed_error()
                self.current = index
                self.progress(0.0)
                ctx.log("INFO", f"SQL statement {index}/{total}: {_preview(statement)}")
                started = time.monotonic()
                try:
                    summary = self.statement(statement, duckdb)
                except duckdb.Error as e:
                    if self.control.stop_requested() or isinstance(e, duckdb.InterruptException):
                        raise killed_error() from None
                    message = str(e).strip()
                    for line in message.splitlines():
                        ctx.log("ERROR", line)
                    self.progress(0.0, failed=1)
                    raise EngineError(message, sql_error_code(message)) from None
                taken = time.monotonic() - started
                ctx.log("INFO", f"Statement {index}/{total} done in {taken:.3f} s: {summary}")
                if self.control.stop_requested():
                    raise killed_error()
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
                        raise killed_error()
        except BaseException:
            self.results.count -= 1  # the number goes to the next result set instead
            raise
        return f"Fetched {len(columns)} col(s) : {writer.rows} row(s) into result set {path.name}"
