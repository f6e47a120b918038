"""The SQL spellings of `%linkis plot` and `%linkis profile`, one table per engine.

    d = dialect_for("spark-2.4.3")
    d.quantiles("`x`", (0.25, 0.5, 0.75))   # percentile_approx(CAST(`x` AS DOUBLE), array(0.25, 0.5, 0.75), 10000)

The queries of explore.py and profile.py are written once, with these spellings filled in. The
floor is what Linkis builds against by default, Spark 2.4.3 and Hive 2.3.3 (apache/linkis pom.xml),
so none of them uses what those lack: `width_bucket` (Spark 3.1), `histogram_numeric` (Spark
3.3), `WITHIN GROUP` (Spark 3.3), `approx_count_distinct` on Hive (no Hive 2.x or 3.x registers
it). Bins are `CASE WHEN x >= max THEN n-1 ELSE CAST(FLOOR((x - min) / w) AS INT) END`, repeated
in GROUP BY (every engine accepts the repeated expression; not all group by a select alias).
Quantiles come back as one array and are split here: an index into the array is 0-based on
Spark and Hive and 1-based on Trino, and sqlglot's Spark-to-DuckDB translation of `[0]` fails.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

__all__ = ["Dialect", "DIALECTS", "GRAINS", "dialect_for"]

GRAINS = ("hour", "day", "month")


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells what the explore queries need."""

    name: str
    sqlglot: str  # the sqlglot reader the tests parse this dialect's queries with
    run_type: str  # the Linkis run type (codeType) the queries are sent as
    quote: str  # identifier quote
    string_type: str  # CAST(x AS <string_type>)
    exact_distinct: bool  # True: no approximate distinct count, COUNT(DISTINCT x) instead
    distinct_template: str
    quantiles_template: str
    array_open: str
    array_close: str
    grain_templates: Mapping[str, str] = field(default_factory=dict)
    backslash_escapes: bool = True  # string literals escape with \ (Spark, Hive), not '' (Trino)

    def ident(self, name: str) -> str:
        q = self.quote
        return q + name.replace(q, q + q) + q

    def table(self, name: str) -> str:
        """`db`.`t` of "db.t" (each part quoted), `t` of "t"."""
        return ".".join(self.ident(part) for part in name.split("."))

    def string(self, text: str) -> str:
        """A string literal. Spark and Hive read `\\` as an escape and `''` as two literals
        side by side, so a quote is written `\\'` there."""
        if self.backslash_escapes:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    @staticmethod
    def number(value: float) -> str:
        """A numeric literal every engine reads: integers as they are, others as repr (1.5,
        1e-07), negatives in parentheses so `x - (-3)` never becomes a `--` comment."""
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        text = str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
        return f"({text})" if text.startswith("-") else text

    def as_string(self, expr: str) -> str:
        return f"CAST({expr} AS {self.string_type})"

    @staticmethod
    def as_double(expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def distinct(self, expr: str) -> str:
        return self.distinct_template.format(x=expr)

    def quantiles(self, expr: str, probabilities: Sequence[float]) -> str:
        """One array of the quantiles of `expr` at `probabilities`, in that order."""
        listed = ", ".join(self.number(p) for p in probabilities)
        return self.quantiles_template.format(x=self.as_double(expr), ps=f"{self.array_open}{listed}{self.array_close}")

    def period(self, expr: str, grain: str) -> str:
        """`expr` (a timestamp, a date, or a string in their form) cut to the start of its hour,
        day or month, as text that sorts in time order ("2024-06-01 13:00")."""
        return self.grain_templates[grain].format(x=expr)


# Spark: percentile_approx since 2.1.0 (ApproximatePercentile.scala), approx_count_distinct
# since 1.6.0 with a relative standard deviation (HyperLogLogPlusPlus.scala; 0.01 rather than
# the default 0.05). date_format takes a timestamp, a date or a string (cast implicitly).
SPARK = Dialect(
    name="spark", sqlglot="spark2", run_type="sql", quote="`", string_type="STRING", exact_distinct=False,
    distinct_template="approx_count_distinct({x}, 0.01)",
    quantiles_template="percentile_approx({x}, {ps}, 10000)", array_open="array(", array_close=")",
    grain_templates={
        "hour": "date_format({x}, 'yyyy-MM-dd HH:00')",
        "day": "date_format({x}, 'yyyy-MM-dd')",
        "month": "date_format({x}, 'yyyy-MM')",
    },
)
# Hive 2.3: percentile_approx (exact below 10000 distinct values: HIVE-1387), date_format since
# 1.2.0; no approximate distinct count in its FunctionRegistry, so an exact one.
HIVE = Dialect(
    name="hive", sqlglot="hive", run_type="hql", quote="`", string_type="STRING", exact_distinct=True,
    distinct_template="COUNT(DISTINCT {x})",
    quantiles_template="percentile_approx({x}, {ps}, 10000)", array_open="array(", array_close=")",
    grain_templates=SPARK.grain_templates,
)
# Trino and Presto: approx_distinct (standard error 2.3%), approx_percentile over an ARRAY,
# date_format with MySQL's patterns, '' inside string literals.
TRINO = Dialect(
    name="trino", sqlglot="trino", run_type="tsql", quote='"', string_type="VARCHAR", exact_distinct=False,
    distinct_template="approx_distinct({x})",
    quantiles_template="approx_percentile({x}, {ps})", array_open="ARRAY[", array_close="]",
    grain_templates={
        "hour": "date_format(CAST({x} AS TIMESTAMP), '%Y-%m-%d %H:00')",
        "day": "date_format(CAST({x} AS TIMESTAMP), '%Y-%m-%d')",
        "month": "date_format(CAST({x} AS TIMESTAMP), '%Y-%m')",
    },
    backslash_escapes=False,
)
PRESTO = replace(TRINO, name="presto", sqlglot="presto", run_type="psql")
DIALECTS: dict[str, Dialect] = {d.name: d for d in (SPARK, HIVE, TRINO, PRESTO)}


def dialect_for(engine: str) -> Dialect | None:
    """The dialect of a Linkis engine ("spark", "hive-2.3.3", "trino" ...); None for an engine
    that runs no SQL this module writes (python, shell, jdbc ...)."""
    return DIALECTS.get(engine.strip().split("-", 1)[0].lower())
