"""What `%linkis plot` and `%linkis profile` share: the source, its column types, and the jobs.

    source = Source.of(magics, "sales.orders")          # or Source.of(magics, query="select ...")
    runner = Runner(magics, source, "%linkis plot")      # the dialect from the engine
    types = runner.column_types()                        # {"id": "bigint", ...}
    frame = runner.query("SELECT COUNT(*) AS n FROM " + source.sql)

A source is a table (`db.t`, or `t`) or a query, which goes in as `(<sql>) t`; `_` is the SQL of
the last `%%linkis` cell. Every query runs as a cell's job does: a `JobSpec` of the magic's
defaults, submitted, followed with `LinkisMagics.follow` (progress, log, an interrupt kills it),
read with `Job.results`. Each prints one line, "task 42: SELECT ...". The queries aggregate in the
engine and return at most `MAX_ROWS` rows however big the source: Linkis' entrance cuts a SELECT
of creator IDE at 5000 rows (wds.linkis.sql.default.limit), and appends " limit 5000" to one
without a trailing LIMIT, so each query is also valid SQL with that appended.
"""
from __future__ import annotations

import re
import sys
from argparse import Namespace
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

from IPython.core.error import UsageError

from .arguments import CellOptions
from .dialect import Dialect, dialect_for
from .errors import ConfigError, MetadataUnavailableError
from .job import Job
from .results import ResultSet
from .spec import JobSpec

if TYPE_CHECKING:
    import pandas

    from .magics import LinkisMagics

__all__ = ["MAX_ROWS", "Runner", "Source", "column_kind", "group_filter", "where"]

# The most rows any query returns (its LIMIT, or bins x groups): under the entrance's 5000.
MAX_ROWS = 4000
# Rows read of a result set: more than any query returns, so a cut shows as an error.
_READ_ROWS = 5000
# The SQL line printed per job is cut here; the whole SQL is in the frame's attrs["sql"].
_SHOWN_SQL = 300

_NUMBER = {"tinyint", "smallint", "short", "int", "integer", "bigint", "long", "float", "double", "real",
           "decimal", "numeric", "number", "bigdecimal"}
_TIME = {"date", "timestamp", "datetime", "timestamp_ntz", "timestamp_ltz", "timestamptz"}
_COMPLEX = {"array", "map", "struct", "uniontype", "binary", "varbinary", "row", "json"}
_SQL_RUN_TYPES = {"sql", "hql", "tsql", "psql", "jdbc"}


def column_kind(type_name: str) -> str:
    """"number", "time", "bool", "complex" or "text" of a Hive or Linkis type name
    ("decimal(10,2)", "array<int>", "long", "timestamp with time zone" ...)."""
    base = re.split(r"[(<\s]", type_name.strip().lower(), maxsplit=1)[0] or "string"
    if base in _NUMBER:
        return "number"
    if base in _TIME:
        return "time"
    if base in ("boolean", "bool"):
        return "bool"
    if base in _COMPLEX:
        return "complex"
    return "text"


def where(*conditions: str | None) -> str:
    """" WHERE (a) AND (b)" of the conditions given, "" of none."""
    given = [c for c in conditions if c]
    return " WHERE " + " AND ".join(f"({c})" for c in given) if given else ""


def group_filter(d: Dialect, expr: str, values: Sequence[str | None]) -> str:
    """`expr` (a group, as text) is one of `values`; None stands for NULL."""
    parts = []
    texts = [v for v in values if v is not None]
    if texts:
        parts.append(f"{expr} IN ({', '.join(d.string(v) for v in texts)})")
    if len(texts) < len(values):
        parts.append(f"{expr} IS NULL")
    return " OR ".join(parts) or "1 = 0"


def one_line(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= _SHOWN_SQL else text[: _SHOWN_SQL - 1] + "…"


@dataclass(frozen=True)
class Source:
    """Where the rows come from: `sql` goes after FROM (a table's is quoted by the Runner, in
    its dialect); `table` is "db.t" for a table."""

    sql: str
    label: str
    table: str | None = None
    engine: str | None = None  # the engine of the `_` cell, which its SQL was written for
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, magics: LinkisMagics, name: str | None = None, query: str | None = None, *,
           prog: str = "%linkis") -> Source:
        if query is not None and name is not None:
            raise UsageError(f"{prog}: give a table or --query, not both")
        if query is not None:
            return cls._query(query, "query", prog)
        if not name:
            raise UsageError(f"{prog}: name a table (db.table), `_` for the last %%linkis cell, or --query \"SQL\"")
        if name == "_":
            cell: JobSpec | None = getattr(magics, "last_cell", None)
            if cell is None:
                raise UsageError(f"{prog}: `_` is the SQL of the last %%linkis cell, and none has run yet")
            if cell.run_type not in _SQL_RUN_TYPES:
                raise UsageError(f"{prog}: the last %%linkis cell ran {cell.run_type}, not SQL; `_` needs a SQL cell")
            source = cls._query(cell.code, "the last %%linkis cell", prog)
            return cls(source.sql, source.label, None, cell.engine, dict(cell.variables))
        parts = [part.strip().strip("`").strip('"') for part in name.split(".")]
        if len(parts) > 2 or not all(parts) or not all(re.fullmatch(r"\w+", p) for p in parts):
            raise UsageError(f"{prog}: {name!r} is not a table name; write db.table, or table for one in default")
        table = ".".join(parts)
        return cls(table, table, table)

    @classmethod
    def _query(cls, sql: str, label: str, prog: str) -> Source:
        # A statement's own trailing semicolon cannot stay inside parentheses.
        text = sql.strip()
        while text.endswith(";"):
            text = text[:-1].rstrip()
        if not text:
            raise UsageError(f"{prog}: the query is empty")
        # The parentheses on lines of their own: a -- comment on the last line must not hide one.
        return cls(f"(\n{text}\n) t", label)


class Runner:
    """Runs the queries of one command as a cell's jobs, and remembers their SQL and task ids."""

    def __init__(self, magics: LinkisMagics, source: Source, prog: str) -> None:
        self.magics, self.source, self.prog = magics, source, prog
        engine = source.engine or magics.engine
        dialect = dialect_for(engine)
        if dialect is None:
            raise UsageError(f"{prog} writes SQL for spark, hive, trino or presto, not the engine {engine!r}: "
                             f"%config LinkisMagics.engine = 'spark'")
        self.dialect: Dialect = dialect
        if source.table is not None:
            self.source = replace(source, sql=dialect.table(source.table))
        self.engine = engine
        self.options = CellOptions.from_args(Namespace(output=None, max_rows=None, quiet=True), magics)
        self.sql: list[str] = []
        self.tasks: list[int] = []

    # -- the column types -----------------------------------------------------------------

    def column_types(self) -> dict[str, str]:
        """Every column's type, by name: from the metadata service for a table it answers for,
        else from the metadata of an empty result set (one job)."""
        table = self.source.table
        if table is not None:
            database, _, name = table.rpartition(".")
            try:
                found = self.magics.client.columns(database or "default", name)
            except MetadataUnavailableError:
                found = []  # no metadata service here: ask the engine
                answered = False
            else:
                answered = True
            if answered and found is None:
                raise UsageError(f"{self.prog}: there is no table {table} (or you may not read it)")
            if answered and not found:
                raise UsageError(f"{self.prog}: there is no table {table}")
            if found:
                return {c.name: c.type.lower() for c in found}
        result = self.result_set(f"SELECT * FROM {self.source.sql} LIMIT 0")
        return {c.name: c.data_type.lower() for c in result.columns}

    def pick(self, types: dict[str, str], names: Sequence[str], kinds: Sequence[str] = (), what: str = "") -> list[str]:
        """`names` as the source spells them; a column that is not there, or not of one of
        `kinds`, is a UsageError."""
        by_lower = {name.lower(): name for name in types}
        picked = []
        for name in names:
            real = name if name in types else by_lower.get(name.strip("`").lower())
            if not real:
                listed = ", ".join(list(types)[:20]) + (" ..." if len(types) > 20 else "")
                raise UsageError(f"{self.prog}: {self.source.label} has no column {name!r} (it has: {listed})")
            if kinds and column_kind(types[real]) not in kinds:
                raise UsageError(f"{self.prog}: {what} needs a {' or '.join(kinds)} column; {real} is {types[real]}")
            picked.append(real)
        return picked

    # -- the jobs -------------------------------------------------------------------------

    def query(self, sql: str) -> pandas.DataFrame:
        """The table the query returns."""
        return self.result_set(sql).dataframe

    def result_set(self, sql: str) -> ResultSet:
        options, magics = self.options, self.magics
        try:
            spec = JobSpec(code=sql, engine=self.engine, run_type=self.dialect.run_type, creator=options.creator,
                           variables={**options.variables, **self.source.variables}, startup=options.startup,
                           runtime=options.runtime, labels=options.labels)
        except (ConfigError, ValueError) as e:
            raise UsageError(f"{self.prog}: {e}") from None
        job = Job.submit(magics.client, spec)
        self.sql.append(sql)
        self.tasks.append(job.task_id)
        print(f"task {job.task_id}: {one_line(sql)}")
        sys.stdout.flush()
        magics.follow(job, options)
        results = [r for r in job.results(max_rows=_READ_ROWS) if r.is_table]
        if not results:
            raise UsageError(f"{self.prog}: Linkis job {job.task_id} returned no table")
        if results[0].truncated:
            # Never by construction; a source whose rows change between two jobs could.
            raise UsageError(f"{self.prog}: Linkis job {job.task_id} returned more than {_READ_ROWS} rows")
        return results[0]

    def keep(self, frame: pandas.DataFrame) -> pandas.DataFrame:
        """The frame with the SQL and task ids that made it (attrs), as -o keeps it."""
        frame.attrs["sql"] = list(self.sql)
        frame.attrs["tasks"] = list(self.tasks)
        frame.attrs["engine"] = self.engine
        return frame


def as_float(value: Any) -> float | None:
    """A number read back from the engine, None for NULL (or NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def as_text(value: Any) -> str | None:
    """A value read back as text, None for NULL."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


_NUMBER_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN")


def numbers_of(value: Any) -> list[float]:
    """An array read back, whatever its text form: "[1.0, 2.5]" (Hive, the embedded gateway),
    "WrappedArray(1.0, 2.5)" (Spark 2.4's toString), a list (a JSON array)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    text = str(value)
    return [float(m) for m in _NUMBER_TEXT.findall(text.split("(", 1)[-1] if "(" in text else text)]
