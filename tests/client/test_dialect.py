"""The SQL of `%linkis plot` and `%linkis profile` in each dialect: every query the commands send
parses with sqlglot's reader of that dialect (spark2 and hive for the Spark and Hive spellings,
trino for Trino's), also with the entrance's " limit 5000" appended, and gives the right figures.

The queries run on DuckDB through sqlglot's translation (`SqlglotRunner`, the way the embedded
gateway runs Spark SQL and HiveQL): a real engine doing real work, so the figures are checked
against pandas on the same rows. The magics' own jobs against the gateway are in
tests/magics/test_plot.py and test_profile.py.
"""
from __future__ import annotations

import re
from typing import Any

import duckdb  # the gateway extra's engine, which the test extra installs
import pandas as pd
import pytest
import sqlglot

from linkis_jupyter.charts import PlotRequest, build
from linkis_jupyter.dialect import DIALECTS, Dialect, dialect_for
from linkis_jupyter.explore import Runner, Source
from linkis_jupyter.gateway.engine_sql import linkis_type
from linkis_jupyter.profile import profile
from linkis_jupyter.results import ResultSet, ResultType

N = 3000
ROWS_SQL = (
    f"SELECT range AS id, CAST(range % 7 AS INTEGER) AS small, CAST(range AS DOUBLE) / 4 - 100 AS x, "
    f"(range * 7919) % 1009 AS y, CASE WHEN range % 10 = 0 THEN NULL ELSE 'k' || CAST(range % 5 AS VARCHAR) END AS "
    f"label, TIMESTAMP '2024-01-01' + to_minutes(CAST(range * 13 AS BIGINT)) AS ts FROM range({N})"
)


class SqlglotRunner(Runner):
    """A Runner whose queries run on a local DuckDB, read by sqlglot in the runner's dialect."""

    def __init__(self, magics: Any, source: Source, prog: str, con: Any) -> None:
        super().__init__(magics, source, prog)
        self.con = con

    def result_set(self, sql: str) -> ResultSet:
        d = self.dialect
        self.sql.append(sql)
        # The entrance appends " limit 5000" to a SELECT that does not end with its own LIMIT.
        own_limit = re.search(r"\bLIMIT\s+\d+\s*$", sql, re.IGNORECASE) is not None
        for text in (sql,) if own_limit else (sql, sql + " limit 5000"):
            sqlglot.parse_one(text, read=d.sqlglot)  # raises on what the reader cannot parse
        if d.name in ("spark", "hive"):
            other = "hive" if d.name == "spark" else "spark2"
            sqlglot.parse_one(sql, read=other)
        duck = sqlglot.transpile(sql, read=d.sqlglot, write="duckdb")[0]
        cursor = self.con.execute(duck)
        metadata = [{"columnName": c[0], "dataType": linkis_type(str(c[1])), "comment": None}
                    for c in cursor.description]
        rows = [[None if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in row]
                for row in cursor.fetchall()]
        return ResultSet.from_rows(0, "", ResultType.TABLE, metadata, rows)


@pytest.fixture
def con() -> Any:
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE rows AS {ROWS_SQL}")
    yield connection
    connection.close()


@pytest.fixture
def rows(con: Any) -> pd.DataFrame:
    return con.execute("SELECT * FROM rows").df()


def runner_for(ip: Any, con: Any, engine: str) -> SqlglotRunner:
    magics = ip.magics_manager.registry["LinkisMagics"]
    magics.engine = engine
    return SqlglotRunner(magics, Source.of(magics, query="select * from rows"), "%linkis", con)


def test_the_engines_have_their_dialects() -> None:
    assert dialect_for("spark").name == "spark" and dialect_for("spark-2.4.3").name == "spark"
    assert dialect_for("hive-2.3.3").run_type == "hql"
    assert dialect_for("trino").run_type == "tsql" and dialect_for("presto").run_type == "psql"
    assert dialect_for("python") is None and dialect_for("shell") is None


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_literals_read_back_as_written(name: str) -> None:
    d: Dialect = DIALECTS[name]
    reader = d.sqlglot
    for text in ("plain", "it's", "back\\slash", "both \\' here"):
        parsed = sqlglot.parse_one(f"SELECT {d.string(text)} AS v", read=reader)
        assert parsed.selects[0].this.this == text
    for value in (0, 3, -2, 1.5, -1e-07, 12345678.125):
        expr = sqlglot.parse_one(f"SELECT 1 - {d.number(value)} AS v", read=reader)
        assert float(duckdb.sql(expr.sql("duckdb")).fetchall()[0][0]) == pytest.approx(1 - value)
    assert sqlglot.parse_one(f"SELECT {d.ident('we`ird')} FROM {d.table('db.t')}", read=reader)


@pytest.mark.parametrize("engine", ["spark", "hive", "trino"])
def test_every_plot_query_parses_and_counts_right(ip: Any, con: Any, rows: pd.DataFrame, engine: str) -> None:
    runner = runner_for(ip, con, engine)
    types = runner.column_types()
    assert runner.sql == ["SELECT * FROM (\nselect * from rows\n) t LIMIT 0"]

    hist = build(runner, PlotRequest("hist", ["x"], bins=40), types).frame
    assert hist["count"].sum() == rows["x"].notna().sum() and len(hist) == 40
    hist_by = build(runner, PlotRequest("hist", ["y"], by="label", top=3), types).frame
    biggest = rows["label"].value_counts(dropna=False).index[:3]
    assert hist_by["count"].sum() == rows["label"].isin(biggest).sum()
    small = build(runner, PlotRequest("hist", ["small"]), types).frame  # one bin per integer
    assert small["count"].tolist() == rows["small"].value_counts().sort_index().tolist()

    box = build(runner, PlotRequest("box", ["x"]), types).frame.iloc[0]
    assert box["min"] == rows["x"].min() and box["max"] == rows["x"].max() and box["count"] == N
    assert box["median"] == pytest.approx(rows["x"].median(), abs=0.01 * (box["max"] - box["min"]))
    outlying = pd.concat([rows["x"], pd.Series([1e6] * 5)])
    con.execute("INSERT INTO rows (id, small, x) SELECT range + 100000, 0, 1e6 FROM range(5)")
    box = build(runner, PlotRequest("box", ["x"], by="small", where="small = 0 OR x > 1000"), types).frame
    assert box["outliers"].sum() == 5 and box["whishi"].max() < 1e6 and outlying.max() == box["max"].max()

    bar = build(runner, PlotRequest("bar", ["label"], top=2), types).frame
    assert bar["count"].sum() == len(rows) + 5 and bar["value"].iloc[-1] == "other"
    assert bar["count"].tolist() == [600, 600, len(rows) + 5 - 1200]
    assert build(runner, PlotRequest("bar", ["label"], where="label IS NULL"), types).frame.values.tolist() == [
        ["NULL", 305]]

    line = build(runner, PlotRequest("line", ["ts"], grain="day"), types).frame
    assert line["count"].sum() == rows["ts"].notna().sum()
    assert line["period"].tolist() == sorted(rows["ts"].dt.floor("D").unique().tolist())
    build(runner, PlotRequest("line", ["ts"], grain="hour", by="small", top=2), types)
    build(runner, PlotRequest("line", ["ts"], grain="month"), types)

    heat = build(runner, PlotRequest("heatmap", ["x", "y"], bins=12), types).frame
    assert heat["count"].sum() == (rows["x"].notna() & rows["y"].notna()).sum() and len(heat) == 144
    assert len(runner.sql) >= 14


@pytest.mark.parametrize("engine", ["spark", "hive", "trino"])
def test_the_profile_is_two_queries_and_matches_pandas(ip: Any, con: Any, rows: pd.DataFrame, engine: str) -> None:
    runner = runner_for(ip, con, engine)
    types = runner.column_types()
    frame = profile(runner, types, [], None, 10)
    assert len(runner.sql) == 3  # the LIMIT 0 for the types, the scan, the top values
    for name in ("id", "small", "x", "y"):
        row, data = frame.loc[name], rows[name]
        assert row["non-null"] == data.notna().sum() and row["rows"] == N
        assert (row["min"], row["max"]) == (data.min(), data.max())
        assert row["mean"] == pytest.approx(data.mean()) and row["std"] == pytest.approx(data.std())
        for q, key in ((0.25, "25%"), (0.5, "50%"), (0.75, "75%")):
            assert row[key] == pytest.approx(data.quantile(q), abs=0.01 * (data.max() - data.min()))
        # DuckDB's approx_count_distinct (what the approximate spellings become) is a HyperLogLog
        # of a few per cent; Hive's COUNT(DISTINCT) is exact.
        if engine == "hive":
            assert row["distinct"] == data.nunique()
        else:
            assert row["distinct"] == pytest.approx(data.nunique(), rel=0.08)
    assert frame.loc["label", "top"] == rows["label"].fillna("NULL").value_counts().to_dict()
    assert frame.loc["small", "top"] == {str(k): v for k, v in rows["small"].value_counts().items()}
    assert frame.loc["x", "top"] is None  # 3000 distinct values: no top values asked for
    assert "≈" in frame._repr_html_() and "<svg" in frame._repr_html_()
