"""The SQL engines' dialects on DuckDB: each statement read with sqlglot and run as DuckDB SQL.

A Linkis SQL job is written for the engine its run type names, so the statement is read in that
engine's dialect (READERS) and translated to DuckDB's, which runs it:

    run type   engine          sqlglot reader
    sql        Spark           spark  (Spark 3 SQL and Spark 2.4's: sqlglot's spark extends spark2)
    hql        Hive            hive
    tsql       Trino           trino
    psql       Presto          presto
    jdbc       JDBC            none: a JDBC engine passes SQL to its database as it is written

The rule, per statement (engine_sql.py runs it):

1. sqlglot reads the statement in the run type's dialect and writes it as DuckDB SQL. When that
   is the statement itself but for letter case, spacing and comments (`select * from t`), or
   sqlglot keeps the statement as an opaque command (`SHOW TABLES`), it runs as written.
2. Otherwise the translation runs first, so Spark code keeps Spark's meaning where both engines
   know a name: `"x"` is a string, `nvl`, `date_format`, `size`, `datediff`, `concat` with NULL,
   casts that give NULL rather than fail. Only if DuckDB rejects the translation before running it
   (a parser, binder or catalog error: sqlglot wrote something DuckDB lacks) does the statement run
   as written, which is how DuckDB code that sqlglot misreads still runs.
3. A statement sqlglot cannot read at all (`$tag$...$tag$`, `E'...'`, `{'k': v}` are DuckDB's)
   runs as written.
4. A statement that fails both ways fails the job with DuckDB's error; the other attempt's reason
   (DuckDB's error of the statement as written, or sqlglot's parse error) follows it unless it
   says the same thing.

Scripts are split at the semicolons of sqlglot's tokens in the run type's dialect (backslash
escapes and backquotes, as Spark and Hive read them) when sqlglot reads every statement, else at
the semicolons of DuckDB's own tokenizer when DuckDB parses the whole script (dollar-quoted and
E'' strings). Each statement keeps its text as written, comments included: the log shows it.
Statements longer than MAX_READ characters (a data load as INSERT ... VALUES) skip sqlglot, which
would take seconds over them, and run as written.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.tokens import TokenType

READERS = {"sql": "spark", "hql": "hive", "tsql": "trino", "psql": "presto"}
MAX_READ = 256 * 1024

# sqlglot warns through `logging` (a statement kept as a command, an argument DuckDB lacks). With
# no handler configured, Python's last-resort handler would print that on the gateway's stderr, a
# notebook's too when the gateway runs in the kernel; the gateway reports what matters in the log.
logging.getLogger("sqlglot").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Reading:
    """How one statement runs on DuckDB."""

    written: str
    # DuckDB SQL to run first: sqlglot's translation, when it means something else than `written`.
    translation: str | None = None
    # Why sqlglot could not read the statement: its first error.
    unreadable: str | None = None
    # What the translation leaves out (sqlglot's "unsupported" messages).
    warnings: tuple[str, ...] = ()


# The types of Spark's and Hive's values, where sqlglot's DuckDB SQL would give others. Spark's
# TIMESTAMP is an instant shown as the session's wall-clock time, without a zone; sqlglot writes
# it as DuckDB's TIMESTAMPTZ, which DuckDB shows with an offset ("13:14:15+00") and the result set
# then types as a zoned time. DuckDB's TIMESTAMP shows what Spark shows.
WALL_CLOCK = ("spark", "hive")
_ZONED = (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ)


def _wall_clock(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.DataType) and node.this in _ZONED:
        return exp.DataType.build("TIMESTAMP")
    # date_add, date_sub and add_months give a DATE in Spark and Hive; sqlglot writes them as
    # `date + INTERVAL`, a TIMESTAMP in DuckDB.
    if isinstance(node, (exp.TsOrDsAdd, exp.AddMonths)) and not (
            isinstance(node.parent, exp.Cast) and node.parent.to.is_type("date")):
        return exp.cast(node, exp.DataType.build("DATE"))
    return node


def _asked_accuracy(node: exp.Expr) -> exp.Expr:
    """approx_count_distinct(x, relativeSD): DuckDB's sketch takes no accuracy and misses by a few
    percent (7% seen on 1,000 values), more than a Spark job that asks for 0.01 gets; so a distinct
    count given an accuracy is counted exactly, which is within any accuracy asked for."""
    if isinstance(node, exp.ApproxDistinct) and node.args.get("accuracy") is not None:
        return exp.Count(this=exp.Distinct(expressions=[node.this.copy()]))
    return node


def reader(run_type: str) -> str | None:
    """The sqlglot dialect a run type's statements are read in; None: DuckDB SQL as written."""
    return READERS.get(run_type.lower())


def _first_line(error: Exception) -> str:
    """sqlglot's message without its highlighted excerpt of the statement."""
    errors = getattr(error, "errors", None)
    if errors:
        first = errors[0]
        return f"{first.get('description')}. Line {first.get('line')}, Col: {first.get('col')}."
    return next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)


def read_statement(statement: str, run_type: str) -> Reading:
    """How `statement`, written for the engine of `run_type`, runs on DuckDB (the module's rule)."""
    dialect = reader(run_type)
    if dialect is None or len(statement) > MAX_READ:
        return Reading(statement)
    try:
        tree = sqlglot.parse_one(statement, read=dialect)
    except SqlglotError as e:
        return Reading(statement, unreadable=f"sqlglot ({dialect}) cannot read it: {_first_line(e)}")
    if isinstance(tree, exp.Command):
        return Reading(statement)
    if dialect in WALL_CLOCK:
        tree = tree.transform(_wall_clock)
    tree = tree.transform(_asked_accuracy)
    generator = Dialect.get_or_raise("duckdb").generator(unsupported_level=ErrorLevel.IGNORE)
    try:
        translation = generator.generate(tree)
    except SqlglotError as e:
        return Reading(statement, unreadable=f"sqlglot cannot write it as DuckDB SQL: "
                                             f"{_first_line(e)}")
    if _words(translation) == _words(statement):
        return Reading(statement)
    return Reading(statement, translation,
                   warnings=tuple(dict.fromkeys(generator.unsupported_messages)))


def _words(sql: str) -> list[str]:
    """DuckDB's tokens of `sql`, comments left out, all but string constants in lower case: two
    texts with the same words differ in letter case, spacing and comments only."""
    import duckdb

    positions = duckdb.tokenize(sql)
    words = []
    for (start, kind), end in zip(positions, [p for p, _ in positions[1:]] + [len(sql)]):
        if kind == duckdb.token_type.comment:
            continue
        word = sql[start:end].strip()
        words.append(word if kind == duckdb.token_type.string_const else word.lower())
    return words


def _pieces(code: str, semicolons: list[int], meaningful: list[int]) -> list[str]:
    """The text between semicolons, stripped; pieces holding no token but comments dropped."""
    pieces: list[str] = []
    start = 0
    tokens = iter(sorted(meaningful))
    token = next(tokens, None)
    for end in [*semicolons, len(code)]:
        has_token = False
        while token is not None and token < end:
            has_token = has_token or token >= start
            token = next(tokens, None)
        if has_token:
            pieces.append(code[start:end].strip())
        start = end + 1
    return pieces


def _duckdb_split(code: str) -> list[str]:
    import duckdb

    semicolons: list[int] = []
    meaningful: list[int] = []
    for position, kind in duckdb.tokenize(code):
        if kind == duckdb.token_type.comment:
            continue
        if kind == duckdb.token_type.operator and code[position] == ";":
            semicolons.append(position)
        else:
            meaningful.append(position)
    return _pieces(code, semicolons, meaningful)


def _duckdb_parses(code: str) -> bool:
    import duckdb

    connection: Any = duckdb.connect()
    try:
        connection.extract_statements(code)
        return True
    except duckdb.Error:
        return False
    finally:
        connection.close()


def split_statements(code: str, run_type: str = "sql") -> list[str]:
    """The statements of a script, as written, in the run type's dialect (the module docstring)."""
    dialect = reader(run_type)
    if dialect is None or len(code) > MAX_READ:
        return _duckdb_split(code)
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(code)
    except SqlglotError:
        return _duckdb_split(code)
    semicolons = [t.start for t in tokens if t.token_type == TokenType.SEMICOLON]
    pieces = _pieces(code, semicolons,
                     [t.start for t in tokens if t.token_type != TokenType.SEMICOLON])
    for piece in pieces:
        try:
            sqlglot.parse_one(piece, read=dialect)
        except SqlglotError:
            return _duckdb_split(code) if _duckdb_parses(code) else pieces
    return pieces
