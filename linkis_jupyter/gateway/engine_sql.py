"""SQL run types (sql, hql, jdbc, psql, tsql) on DuckDB.

One database file per user (`<workspace>/linkis.duckdb`), so a table created by one job is there
for the next; each job works on a cursor of its own. Every statement that returns rows makes one
TABLE result set, its column types named as Linkis names them. Progress is DuckDB's query
progress of the running statement; kill interrupts the query.

Each statement is read in its run type's dialect (Spark SQL for `sql`, HiveQL for `hql`, Trino's
and Presto's for `tsql` and `psql`) and runs as sqlglot's DuckDB translation of it, or as written
when it already is DuckDB SQL, or when sqlglot cannot read it (spark_sql.py has the rule); `jdbc`
runs as written. The log shows each statement as written, and the translation when one runs.

The user's open database is the user's engine. Its log is a Linkis Spark engine's, with what DuckDB
did in it: the entrance's lines about the engine the job got, and every statement as one Spark job
of one stage and one task (spark_log.py), which is also its entry in the progress's progressInfo.

A user's database reads and writes files in the user's own area only (confine()): not other users'
areas, not /proc, not the gateway's connection file; its configuration is then locked, so no `SET`
undoes that.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import dolphin
from .engine_base import (
    DATABASE_NOT_FOUND, FIELD_NOT_FOUND, FUNCTION_NOT_FOUND, SQL_ERROR, TABLE_EXISTS,
    TABLE_NOT_FOUND, TYPE_MISMATCH, Control, EngineError, JobContext, Results, clip, killed_error,
)
from .spark_log import (
    JOB_GROUP, RUNNING, LinkisManager, StatementJob, ms_duration, now_ms,
)
from .spark_sql import Reading, read_statement, split_statements

__all__ = ["Databases", "SqlJob", "linkis_type", "split_statements", "sql_error_code"]

# The log's line of what ran on DuckDB in place of the statement: a Spark engine has no such line,
# so it is named as the gateway's own.
TRANSLATED = "EmbeddedGateway: as DuckDB SQL: {sql}"
AS_WRITTEN = "EmbeddedGateway: DuckDB rejected the translation ({reason}); running the statement " \
             "as written"

FETCH_BATCH = 10000

# What a job's cursor still sets once the configuration is locked: its progress reporting.
PROGRESS_SETTINGS = ("enable_progress_bar", "enable_progress_bar_print", "progress_bar_time")


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


class StatementFailed(Exception):
    """A statement failed both ways spark_sql.py tries it; the message gives both reasons."""


def _first(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), "")


def _reasons(error: Exception, other: str) -> str:
    return f"{str(error).strip()}\n{other}"


def _rejections(duckdb: Any) -> tuple[type[Exception], ...]:
    """DuckDB's errors raised before a statement runs: it did not accept the SQL it was given."""
    return (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException,
            duckdb.NotImplementedException)


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


@dataclass
class Database:
    """A user's DuckDB database, open in the gateway: the user's SQL engine (spark_log.py)."""

    connection: Any
    opened: int  # ms: the engine's registry timestamp
    # Spark numbers jobs, stages and tasks per SparkContext; here one of each per statement.
    statements: itertools.count = field(default_factory=itertools.count)


def confine(connection: Any, workspace: Path) -> None:
    """Limits the database's file access to the user's area (DuckDB's allowed_directories, with
    external access off: no other path, no extension install) and locks the configuration.

    A relative path (`read_csv('sales.csv')`) is looked up in the gateway's working directory
    first and then in file_search_path, the user's area; DuckDB refuses `..` in it. The `gateway`
    command runs in an empty directory (cli.py), so a relative path names the user's files only."""
    areas = {str(workspace).rstrip("/") + "/", str(workspace.resolve()).rstrip("/") + "/"}
    connection.execute("SET GLOBAL allowed_directories = ?", [sorted(areas) + ["./"]])
    connection.execute("SET GLOBAL file_search_path = ?", [str(workspace)])
    connection.execute("SET GLOBAL allowed_configs = ?", [list(PROGRESS_SETTINGS)])
    connection.execute("SET GLOBAL enable_external_access = false")
    connection.execute("SET GLOBAL lock_configuration = true")


class Databases:
    """One DuckDB database per user; each job works on its own cursor of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Database] = {}

    def open(self, workspace: Path) -> tuple[Database, bool]:
        """The user's database, and whether this call opened it."""
        import duckdb

        path = str(Path(workspace) / "linkis.duckdb")
        with self._lock:
            database = self._open.get(path)
            if database is not None:
                return database, False
            Path(workspace).mkdir(parents=True, exist_ok=True)
            try:
                connection = duckdb.connect(path)
            except duckdb.Error as e:
                raise EngineError(f"The user's DuckDB database cannot be opened: {e}",
                                  SQL_ERROR) from None
            try:
                confine(connection, Path(workspace))
            except duckdb.Error as e:
                connection.close()
                raise EngineError(f"The user's DuckDB database cannot be opened: {e}",
                                  SQL_ERROR) from None
            database = self._open[path] = Database(connection, now_ms())
            return database, True

    def cursor(self, workspace: Path) -> Any:
        return self.open(workspace)[0].connection.cursor()

    def existing_cursor(self, workspace: Path) -> Any | None:
        """A cursor of the user's database to read its catalog (gateway/routes_metadata.py), or
        None when the user has none yet: unlike cursor(), it never creates the file. It shares
        the jobs' connection, so it reads what they committed and never locks them out."""
        path = Path(workspace) / "linkis.duckdb"
        with self._lock:
            if str(path) not in self._open and not path.exists():
                return None
        return self.cursor(workspace)

    def close(self) -> None:
        with self._lock:
            databases, self._open = list(self._open.values()), {}
        for database in databases:
            try:
                database.connection.close()
            except Exception:
                pass


class SqlJob:
    """One job's statements, run in turn on a cursor of the user's database; each is logged as a
    Spark job is (spark_log.py) and reported as one JobProgressInfo."""

    def __init__(self, ctx: JobContext, control: Control, *, name: str,
                 manager: LinkisManager | None = None) -> None:
        self.ctx = ctx
        self.control = control
        self.name = name  # the engine's host:port (EngineUtils.getName)
        self.host = name.rpartition(":")[0] or name
        self.manager = manager
        self.cursor: Any = None
        self.run_type = ctx.run_type.lower()
        self.statements = split_statements(ctx.code, self.run_type)
        self.current = 1
        self.jobs: list[StatementJob] = []
        self.group = JOB_GROUP.format(task_id=ctx.task_id)
        self.results = Results(ctx.result_dir)
        self._done = threading.Event()
        self._progress_lock = threading.Lock()
        self._value = 0.0
        self._last: tuple[Any, ...] | None = None

    def progress(self, fraction: float) -> None:
        """The running statement's share done; progressInfo holds the statements run so far.
        From this thread and the watcher's: the value never goes back, as in
        SparkEngineConnExecutor.progress."""
        with self._progress_lock:
            total = len(self.statements)
            value = min((self.current - 1 + max(0.0, min(fraction, 1.0))) / total, 0.99)
            value = max(value, self._value)
            jobs = list(self.jobs)
            key = (round(value, 3), len(jobs), jobs[-1].state if jobs else None)
            if key == self._last:
                return
            self._last, self._value = key, value
            self.ctx.set_progress(value, [job.progress_info for job in jobs])

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
            if percent is not None and percent >= 0 and self.jobs and \
                    self.jobs[-1].state == RUNNING:
                self.progress(percent / 100.0)

    def run(self, databases: Databases) -> None:
        import duckdb

        ctx = self.ctx
        if not self.statements:
            ctx.log("INFO", "The job holds no SQL statement to run.")
            return
        database, created = databases.open(ctx.workspace)
        if self.manager is not None:
            for line in self.manager.ask_lines(database.opened, created, ctx.task_id):
                ctx.log("INFO", line)
        # As the entrance on "Task submit to ec": progress 0, no Spark job yet.
        self.progress(0.0)
        self.cursor = database.connection.cursor()
        try:
            self.run_statements(duckdb, database)
        finally:
            self.cursor.close()

    def run_statements(self, duckdb: Any, database: Database) -> None:
        ctx = self.ctx
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
                    raise killed_error()
                self.current = index
                ctx.log("INFO", clip(f"{self.name} >> {statement}"))
                reading = read_statement(statement, self.run_type)
                if reading.translation is not None:
                    ctx.log("INFO", clip(TRANSLATED.format(sql=reading.translation)))
                for warning in reading.warnings:
                    ctx.log("WARN", clip(f"EmbeddedGateway: {warning}"))
                job = StatementJob(ctx.log, next(database.statements), self.host, self.group,
                                   statement)
                self.jobs.append(job)
                job.submit()
                self.progress(0.0)
                outcome = self.run_job(job, reading, duckdb)
                ms = job.succeed()
                self.progress(1.0)
                self.log_outcome(outcome, ms)
                if self.control.stop_requested():
                    raise killed_error()
        finally:
            self._done.set()
            self.control.on_stop = None
            watcher.join()

    def run_job(self, job: StatementJob, reading: Reading, duckdb: Any) -> tuple[int, ...]:
        """Runs the statement as the job's one task; a failure or kill ends the job in the log."""
        try:
            return self.run_reading(reading, duckdb)
        except (duckdb.Error, StatementFailed) as e:
            if self.control.stop_requested() or isinstance(e, duckdb.InterruptException):
                job.kill()
                self.progress(0.0)
                raise killed_error() from None
            message = str(e).strip()
            job.fail(message)
            self.progress(0.0)
            raise EngineError(message, sql_error_code(message)) from None
        except EngineError:  # stopped while the rows were written
            job.kill()
            self.progress(0.0)
            raise
        except Exception as e:
            job.fail(f"{type(e).__name__}: {e}")
            self.progress(0.0)
            raise

    def run_reading(self, reading: Reading, duckdb: Any) -> tuple[int, ...]:
        """The statement by spark_sql.py's rule: its translation, else as written."""
        if reading.translation is None:
            try:
                return self.statement(reading.written, duckdb)
            except duckdb.Error as e:
                if reading.unreadable is None or self.stopped(e, duckdb):
                    raise
                raise StatementFailed(_reasons(e, reading.unreadable)) from None
        try:
            return self.statement(reading.translation, duckdb)
        except _rejections(duckdb) as e:
            if self.stopped(e, duckdb):
                raise
            rejected = e
        # DuckDB code that sqlglot read as something else: the statement means what DuckDB reads.
        self.ctx.log("INFO", clip(AS_WRITTEN.format(reason=_first(str(rejected)))))
        try:
            return self.statement(reading.written, duckdb)
        except duckdb.Error as e:
            if self.stopped(e, duckdb):
                raise
            if _first(str(e)) == _first(str(rejected)):
                raise  # the same reason, quoting the statement as the user wrote it
            raise StatementFailed(_reasons(rejected, f"As written: {_first(str(e))}")) from None

    def stopped(self, error: Exception, duckdb: Any) -> bool:
        return self.control.stop_requested() or isinstance(error, duckdb.InterruptException)

    def log_outcome(self, outcome: tuple[int, ...], ms: float) -> None:
        """SQLSession.showDF's lines for rows; for a row count or nothing, the time alone."""
        taken = ms_duration(ms)
        if len(outcome) == 2:
            columns, rows = outcome
            self.ctx.log("INFO", f"SQLSession: Time taken: {taken}, Fetched {rows} row(s)")
            self.ctx.log("INFO", f"{self.name} >> Time taken: {taken}, Fetched {columns} col(s) : "
                         f"{rows} row(s)")
        elif len(outcome) == 1:
            self.ctx.log("INFO", f"SQLSession: Time taken: {taken}, {outcome[0]} row(s) affected")
        else:
            self.ctx.log("INFO", f"SQLSession: Time taken: {taken}")

    def statement(self, statement: str, duckdb: Any) -> tuple[int, ...]:
        """(columns, rows) of a statement giving rows, (count,) of one counting the rows it
        changed, () of any other."""
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
            return ()
        names = [d[0] for d in description]
        if names == ["Count"] and kind != duckdb.StatementType.SELECT:
            row = cursor.fetchone()
            return (int(row[0]) if row else 0,)
        if names == ["Success"] and kind != duckdb.StatementType.SELECT:
            return ()
        columns = [(d[0], str(d[1])) for d in description]
        return self.write_table(columns, lambda n: [[_text(v) for v in row]
                                                    for row in cursor.fetchmany(n)])

    def select(self, statement: str) -> tuple[int, ...]:
        """A query whose rows DuckDB itself turns into text: much faster than Python would."""
        cursor = self.cursor
        columns = [(row[0], row[1]) for row in cursor.execute(f"DESCRIBE {statement}\n").fetchall()]
        if not columns:
            cursor.execute(statement)
            return ()
        casts = ", ".join(
            f"CAST(to_json(#{i}) AS VARCHAR)" if _nested(t) else f"CAST(#{i} AS VARCHAR)"
            for i, (_, t) in enumerate(columns, 1)
        )
        cursor.execute(f"SELECT {casts} FROM (\n{statement}\n) AS linkis_result")
        return self.write_table(columns, cursor.fetchmany)

    def write_table(self, columns: list[tuple[str, str]],
                    fetch: Callable[[int], list[Any]]) -> tuple[int, int]:
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
        return len(columns), writer.rows
