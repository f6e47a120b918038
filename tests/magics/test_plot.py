"""`%linkis plot` in a real IPython shell and in a Linkis kernel, against the embedded gateway: a
table made by a `%%linkis` cell, each plot kind's jobs (counted in the gateway's request log),
the SQL and task ids it prints, the PNG it shows, the aggregated frame -o keeps; and bad input,
which is one line and submits nothing."""
from __future__ import annotations

import base64
import re
import sys
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError

from fixtures.kernels import execute, text_of

pytestmark = pytest.mark.timeout(120)

N = 4000
# DuckDB SQL that Spark SQL reads the same (the gateway runs either).
SALES = (
    "create table sales as select range as id, cast(range % 7 as int) as g, cast(range as double) / 4 as amount, "
    "case when range % 10 = 0 then null else concat('k', cast(range % 5 as string)) end as label, "
    "timestamp '2024-01-01 00:00:00' + interval 1 minute * (range * 13) as ts "
    f"from range({N})"
)
SUBMIT = r"^/entrance/(submit|execute)$"


def frame_of_sales() -> pd.DataFrame:
    ids = pd.Series(range(N))
    return pd.DataFrame({
        "id": ids, "g": ids % 7, "amount": ids / 4,
        "label": [None if i % 10 == 0 else f"k{i % 5}" for i in ids],
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(ids * 13, unit="min"),
    })


@pytest.fixture
def sales(linkis: Any) -> pd.DataFrame:
    linkis.run_cell_magic("linkis", "-q", SALES)
    return frame_of_sales()


def pngs(recorder: Any) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) if isinstance(o["data"]["image/png"], str)
            else o["data"]["image/png"] for o in recorder.outputs if "image/png" in o["data"]]


def task_lines(text: str) -> list[str]:
    return re.findall(r"^task \d+: .*$", text, re.MULTILINE)


def test_hist_is_two_jobs_and_its_bins_add_up(sales: pd.DataFrame, linkis: Any, recorder: Any,
                                              request_log: Any, capsys: Any) -> None:
    linkis.run_line_magic("linkis", "plot hist sales amount --bins 25 -o h")
    h = linkis.user_ns["h"]
    assert h["count"].sum() == N and len(h) == 25
    assert h["left"].iloc[0] == 0 and h["right"].iloc[-1] == pytest.approx(sales["amount"].max())
    assert h["count"].tolist() == pd.cut(sales["amount"], 25, labels=False).value_counts().sort_index().tolist()
    # The table's types come from the metadata service: two jobs, the range and the bins.
    assert request_log.count(SUBMIT) == 2
    lines = task_lines(capsys.readouterr().out)
    assert len(lines) == 2 and all(line.split(": ", 1)[1] in (" ".join(sql.split()) for sql in h.attrs["sql"])
                                   or line.endswith("…") for line in lines)
    assert all("FROM `sales`" in sql for sql in h.attrs["sql"])
    assert [int(t) for t in re.findall(r"^task (\d+)", "\n".join(lines), re.M)] == h.attrs["tasks"]
    png = pngs(recorder)
    assert len(png) == 1 and png[0].startswith(b"\x89PNG")


def test_bar_has_the_top_values_and_other_in_one_job(sales: pd.DataFrame, linkis: Any, recorder: Any,
                                                     request_log: Any) -> None:
    linkis.run_line_magic("linkis", "plot bar sales label --top 2 -o b")
    b = linkis.user_ns["b"]
    counts = sales["label"].fillna("NULL").value_counts()
    assert b["count"].tolist() == [800, 800, N - 1600] and b["value"].iloc[-1] == "other"
    assert set(b["value"].iloc[:2]) <= set(counts.index[counts == 800])
    assert request_log.count(SUBMIT) == 1 and len(pngs(recorder)) == 1


def test_box_line_and_heatmap(sales: pd.DataFrame, linkis: Any, recorder: Any, request_log: Any) -> None:
    linkis.run_line_magic("linkis", "plot box sales amount --by g --top 3 -o box")
    box = linkis.user_ns["box"]
    assert box["group"].tolist() == ["0", "1", "2"] and box["count"].tolist() == [572, 572, 572]
    for _, row in box.iterrows():
        data = sales.loc[sales["g"] == int(row["group"]), "amount"]
        assert (row["min"], row["max"], row["count"]) == (data.min(), data.max(), len(data))
        assert row["mean"] == pytest.approx(data.mean())
        assert row["median"] == pytest.approx(data.median(), abs=0.01 * (data.max() - data.min()))
    assert request_log.count(SUBMIT) == 1  # no point beyond the fences: no whisker job

    linkis.run_line_magic("linkis", "plot line sales ts --grain hour -o per_hour")
    per_hour = linkis.user_ns["per_hour"]
    assert per_hour["count"].sum() == N
    expected = sales["ts"].dt.floor("h").value_counts().sort_index()
    assert per_hour["period"].tolist() == expected.index.tolist() and per_hour["count"].tolist() == expected.tolist()

    linkis.run_line_magic("linkis", "plot heatmap sales amount g --bins 10 -o heat")
    heat = linkis.user_ns["heat"]
    assert heat["count"].sum() == N and len(heat) == 100
    assert request_log.count(SUBMIT) == 1 + 1 + 2 and len(pngs(recorder)) == 3


def test_a_query_and_the_last_cell_as_sources(sales: pd.DataFrame, linkis: Any, request_log: Any,
                                              capsys: Any) -> None:
    linkis.run_cell_magic("linkis", "-q", "select id, amount, label from sales where g = 3")
    capsys.readouterr()
    before = request_log.count(SUBMIT)
    linkis.run_line_magic("linkis", "plot hist _ amount --bins 10 --where \"label IS NOT NULL\" -o h")
    h = linkis.user_ns["h"]
    mine = sales[(sales["g"] == 3) & sales["label"].notna()]
    assert h["count"].sum() == len(mine)
    # A query's column types cost one LIMIT 0 job.
    assert request_log.count(SUBMIT) - before == 3
    lines = task_lines(capsys.readouterr().out)
    assert lines[0].endswith("LIMIT 0") and "where g = 3" in lines[0]

    linkis.user_ns["q"] = "select g, amount from sales"
    linkis.run_line_magic("linkis", "plot bar g --query $q --top 7 -o b")
    assert linkis.user_ns["b"]["count"].sum() == N and len(linkis.user_ns["b"]) == 7


@pytest.mark.parametrize("line, message", [
    ("plot pie sales amount", "unknown plot kind 'pie'"),
    ("plot hist sales nothing", "has no column 'nothing'"),
    ("plot hist sales label", "needs a number column; label is"),
    ("plot heatmap sales amount label", "needs a number column"),
    ("plot hist sales amount --bins 0", "--bins must be 1 to 500"),
    ("plot hist sales amount --bins 100000", "--bins must be 1 to 500"),
    ("plot heatmap sales amount g --bins 100", "--bins must be 1 to 60"),
    ("plot bar sales label --top 0", "--top must be at least 1"),
    ("plot hist sales amount --by label --bins 500 --top 20", "--bins x --top must be at most 4000"),
    ("plot bar sales label --by g", "bar has no --by"),
    ("plot hist secret_table amount", "there is no table secret_table (or you may not read it)"),
    ("plot hist sales", "hist takes 1 column, not 0"),
    ("plot hist", "name a table"),
    ("plot hist _ amount", "none has run yet"),
    ("plot hist sales amount --where ''", "--where is empty"),
    ("plot line sales amount", "needs a time or text column"),
])
def test_bad_input_is_one_line_and_submits_nothing(sales: pd.DataFrame, linkis: Any, request_log: Any,
                                                   line: str, message: str) -> None:
    linkis.magics_manager.registry["LinkisMagics"].last_cell = None
    before = request_log.count(SUBMIT)
    with pytest.raises(UsageError) as info:
        linkis.run_line_magic("linkis", line)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert request_log.count(SUBMIT) == before


def test_an_engine_without_sql_and_no_matplotlib_are_one_line(linkis: Any, request_log: Any,
                                                              monkeypatch: Any) -> None:
    linkis.run_line_magic("config", "LinkisMagics.engine = 'python'")
    with pytest.raises(UsageError, match="writes SQL for spark, hive, trino or presto, not the engine 'python'"):
        linkis.run_line_magic("linkis", "plot hist sales amount")
    # A module set to None in sys.modules cannot be imported: as if matplotlib were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r'pip install "linkis-jupyter\[plot\]"'):
        linkis.run_line_magic("linkis", "plot hist sales amount")
    assert request_log.count(SUBMIT) == 0


def test_plot_in_a_linkis_kernel(start_kernel: Any) -> None:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, outputs = execute(kc, SALES)
    assert reply["status"] == "ok", text_of(outputs)
    # A SQL cell of the kernel is a %%linkis cell: `_` is its SQL.
    reply, outputs = execute(kc, "select label, amount from sales where g < 2")
    assert reply["status"] == "ok", text_of(outputs)
    reply, outputs = execute(kc, "%linkis plot bar _ label --top 3 -o b")
    assert reply["status"] == "ok", text_of(outputs)
    images = [m for m in outputs if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
    assert len(images) == 1
    assert re.search(r"^task \d+: SELECT v, n, total FROM", text_of(outputs), re.M)
    reply, outputs = execute(kc, "%%local\nprint(int(b['count'].sum()))")
    assert text_of(outputs).strip() == str(sum(1 for i in range(N) if i % 7 < 2))
