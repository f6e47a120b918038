"""`%linkis profile` in a real IPython shell against the embedded gateway: its figures against
pandas on the same rows (exact counts, min, max and mean; quartiles within 1% of the range,
distinct counts within 1%), one scan plus at most one top-values
job (counted in the gateway's request log), the HTML table, -o; and bad input."""
from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError

from test_plot import N, SALES, SUBMIT, frame_of_sales, task_lines

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def sales(linkis: Any) -> pd.DataFrame:
    linkis.run_cell_magic("linkis", "-q", SALES)
    return frame_of_sales()


def check_numbers(row: Any, data: pd.Series) -> None:
    assert row["non-null"] == data.notna().sum()
    assert (row["min"], row["max"]) == (data.min(), data.max())
    assert row["mean"] == pytest.approx(data.mean(), rel=1e-12)
    assert row["std"] == pytest.approx(data.std(), rel=1e-9)
    for q, key in ((0.25, "25%"), (0.5, "50%"), (0.75, "75%")):
        assert row[key] == pytest.approx(data.quantile(q), abs=0.01 * (data.max() - data.min()))


def test_profile_is_one_scan_and_one_top_values_job(sales: pd.DataFrame, linkis: Any, request_log: Any,
                                                    capsys: Any) -> None:
    p = linkis.run_line_magic("linkis", "profile sales --top 7 -o p")
    assert linkis.user_ns["p"] is p and list(p.index) == ["id", "g", "amount", "label", "ts"]
    # The table's types from the metadata service; the scan; the top values of g and label.
    assert request_log.count(SUBMIT) == 2
    assert p.attrs["tasks"] and len(task_lines(capsys.readouterr().out)) == 2
    assert "UNION ALL" in p.attrs["sql"][1] and p.attrs["sql"][0].count("FROM `sales`") == 1
    assert (p["rows"] == N).all()
    for name in ("id", "g", "amount"):
        check_numbers(p.loc[name], sales[name])
    assert p.loc["label", "non-null"] == sales["label"].notna().sum()
    assert (p.loc["label", "min"], p.loc["label", "max"]) == ("k0", "k4")
    # Spark's TIMESTAMP literal is a timestamp with time zone once translated to DuckDB: compared as wall time.
    for figure, expected in (("min", sales["ts"].min()), ("max", sales["ts"].max())):
        assert pd.Timestamp(p.loc["ts", figure]).tz_localize(None) == expected
    # Within 1%, as Spark's approx_count_distinct(x, 0.01) promises (the gateway counts one that
    # names its accuracy exactly: DuckDB's own sketch misses by more).
    for name in ("id", "amount", "ts"):
        assert p.loc[name, "distinct"] == pytest.approx(N, rel=0.01)
    assert p.loc["g", "distinct"] == 7 and p.loc["label", "distinct"] == 5
    assert p.loc["g", "top"] == {str(k): v for k, v in sales["g"].value_counts().items()}
    assert p.loc["label", "top"] == sales["label"].fillna("NULL").value_counts().to_dict()
    assert p.loc["id", "top"] is None
    html = p._repr_html_()
    assert html.count("<tr>") == 1 + 5 and "≈" in html and "<svg" in html and "4,000 rows" in html
    assert "nan" not in html.lower()  # a string column has no mean: its cell is empty


def test_profile_on_hive_counts_distinct_values_exactly(sales: pd.DataFrame, linkis: Any, request_log: Any) -> None:
    linkis.run_line_magic("config", "LinkisMagics.engine = 'hive'")
    p = linkis.run_line_magic("linkis", "profile sales --columns id,amount,label --where \"g <> 3\" --top 2")
    mine = sales[sales["g"] != 3]
    assert list(p.index) == ["id", "amount", "label"] and (p["rows"] == len(mine)).all()
    for name in ("id", "amount"):
        check_numbers(p.loc[name], mine[name])
        assert p.loc[name, "distinct"] == mine[name].nunique()
    assert p.loc["label", "top"] == mine["label"].fillna("NULL").value_counts().head(2).to_dict()
    assert "distinct (exact)" in p._repr_html_()
    assert request_log.count(SUBMIT) == 2


def test_profile_of_the_last_cell(sales: pd.DataFrame, linkis: Any, request_log: Any, capsys: Any) -> None:
    linkis.run_cell_magic("linkis", "-q", "select amount * 2 as doubled, id from sales where id < 1000")
    before = request_log.count(SUBMIT)
    p = linkis.run_line_magic("linkis", "profile _")
    check_numbers(p.loc["doubled"], sales["amount"][:1000] * 2)
    # The column types from an empty result set, then the scan; no column has few values.
    assert request_log.count(SUBMIT) - before == 2 and p["top"].isna().all()
    lines = task_lines(capsys.readouterr().out)
    assert re.search(r"LIMIT 0$", lines[0])


@pytest.mark.parametrize("line, message", [
    ("profile sales --columns id,nothing", "has no column 'nothing'"),
    ("profile sales --columns ,", "--columns names no column"),
    ("profile sales --top 0", "--top must be at least 1"),
    ("profile nowhere.table", "there is no table nowhere.table"),
    ("profile", "name a table"),
    ("profile sales -o 1x", "needs a Python variable name"),
])
def test_bad_input_is_one_line_and_submits_nothing(sales: pd.DataFrame, linkis: Any, request_log: Any,
                                                   line: str, message: str) -> None:
    before = request_log.count(SUBMIT)
    with pytest.raises(UsageError) as info:
        linkis.run_line_magic("linkis", line)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert request_log.count(SUBMIT) == before
