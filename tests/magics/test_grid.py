"""A cell's table as an itables grid: every row read in it, a caption with the rows and the next
command, the library shown once per kernel, the values plain DataFrames; in a real IPython shell,
a real kernel, and a notebook executed by nbclient and converted by nbconvert."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from fixtures.gateway import point_at_gateway
from fixtures.kernels import execute
from fixtures.shell import magics_of
from nbclient import NotebookClient
from nbconvert import HTMLExporter, LatexExporter

# What itables' offline library output holds (init_notebook_mode(connected=False)).
LIBRARY = "injectModule("
CELL = "%%linkis --progress none --log none"


def rows_sql(rows: int) -> str:
    return f"select range as id, 'name ' || range as name, range * 0.5 as amount from range({rows})"


def grid_of(shell: Any, value: Any) -> str:
    """The text/html the shell's display formatter gives `value` (what Out[n] shows)."""
    data, _metadata = shell.display_formatter.format(value)
    return data.get("text/html", "")


def grid_rows(grid: str) -> list[list[Any]]:
    """The rows a grid embeds (its data_json)."""
    match = re.search(r'"data_json": ("(?:[^"\\]|\\.)*")', grid)
    assert match, grid[:500]
    return json.loads(json.loads(match.group(1)))


def caption(grid: str) -> str:
    match = re.search(r'"caption": ("(?:[^"\\]|\\.)*")', grid)
    assert match, grid[:500]
    return json.loads(match.group(1))


def library_outputs(outputs: list[dict[str, Any]]) -> int:
    return sum(LIBRARY in o["data"].get("text/html", "") for o in outputs)


def test_a_10000_row_result_is_one_grid_with_every_row_and_its_caption(linkis: Any, recorder: Any) -> None:
    value = linkis.run_cell(f"{CELL} -n 10000\n{rows_sql(10000)}").result
    assert type(value) is pd.DataFrame and len(value) == 10000
    grid = grid_of(linkis, value)
    rows = grid_rows(grid)
    assert len(rows) == 10000 and rows[0][:2] == [0, "name 0"] and rows[-1][:2] == [9999, "name 9999"]
    assert caption(grid) == "All 10,000 rows of the result set"
    # The grid is offline: no CDN; itables' plain preview comes first, for where scripts do not run.
    assert "unpkg" not in grid and "hidden=\"hidden\"" in grid and "name 0" in grid.split("<script")[0]
    # text/plain stays pandas' own.
    assert linkis.display_formatter.format(value)[0]["text/plain"] == repr(value)
    assert library_outputs(recorder.outputs) == 1
    (library,) = [o for o in recorder.outputs if LIBRARY in o["data"].get("text/html", "")]
    assert library["data"]["text/plain"] == ""


def test_a_cut_result_says_which_rows_and_the_next_reads_the_stored_result_set(linkis: Any, recorder: Any,
                                                                             request_log: Any, capsys: Any) -> None:
    first = linkis.run_cell(f"{CELL} -c Notebook\n{rows_sql(12345)}").result
    task = int(re.search(r"%linkis result (\d+)", capsys.readouterr().err).group(1))
    assert len(first) == 5000
    assert caption(grid_of(linkis, first)) == (
        f"Rows 1-5,000 of 12,345; the next: <code>%linkis result {task} --skip 5000</code>")
    submits = request_log.count(r"^/entrance/(submit|execute)")

    second = linkis.run_cell(f"%linkis result {task} --skip 5000").result
    assert second["id"].tolist() == list(range(5000, 10000))
    assert caption(grid_of(linkis, second)) == (
        f"Rows 5,001-10,000 of 12,345; the next: <code>%linkis result {task} --skip 10000</code>")
    last = linkis.run_cell(f"%linkis result {task} --skip 10000").result
    assert last["id"].tolist() == list(range(10000, 12345))
    assert caption(grid_of(linkis, last)) == "Rows 10,001-12,345 of 12,345"
    assert "shows rows 5,001-10,000 of 12,345" in capsys.readouterr().err
    # Read from the stored result set: nothing ran again.
    assert request_log.count(r"^/entrance/(submit|execute)") == submits
    # The library was shown once, before the first grid.
    assert library_outputs(recorder.outputs) == 1


def test_a_grid_holds_the_rows_that_fit_in_grid_max_bytes_and_says_so(linkis: Any, recorder: Any) -> None:
    linkis.run_line_magic("config", "LinkisMagics.grid_max_bytes = 100000")
    value = linkis.run_cell(f"{CELL}\n{rows_sql(3000)}").result
    grid = grid_of(linkis, value)
    held = len(grid_rows(grid))
    assert 500 < held < 3000 and len(grid) <= 100000 and len(value) == 3000
    assert caption(grid) == (f"All 3,000 rows of the result set; the grid holds rows 1-{held:,} "
                             f"(LinkisMagics.grid_max_bytes); the DataFrame (_, -o) has all 3,000")


def test_values_stay_plain_dataframes_and_a_local_one_keeps_pandas_display(linkis: Any, recorder: Any) -> None:
    linkis.run_cell(f"{CELL} -o sales\n{rows_sql(20)}")
    shown = linkis.run_cell(f"{CELL}\n{rows_sql(20)}").result
    assert type(linkis.user_ns["sales"]) is pd.DataFrame and type(shown) is pd.DataFrame
    assert linkis.user_ns["_"] is shown
    assert "dt_args" in grid_of(linkis, shown)
    local = linkis.run_cell("pd_local = __import__('pandas').DataFrame({'a': [1, 2]}); pd_local").result
    assert grid_of(linkis, local) == local._repr_html_() and "dt_args" not in grid_of(linkis, local)
    # A copy made in pandas is a DataFrame of the user's: pandas' display.
    assert "dt_args" not in grid_of(linkis, shown.head(5))


def test_display_pandas_brings_back_pandas_table(linkis: Any, recorder: Any) -> None:
    linkis.run_line_magic("config", 'LinkisMagics.display = "pandas"')
    value = linkis.run_cell(f"{CELL}\n{rows_sql(20)}").result
    assert grid_of(linkis, value) == value._repr_html_()
    assert library_outputs(recorder.outputs) == 0


def test_several_result_sets_each_name_theirs(linkis: Any, recorder: Any) -> None:
    value = linkis.run_cell(f"{CELL}\nselect 1 as a;\nselect 2 as b").result
    first = [o for o in recorder.outputs if "dt_args" in o["data"].get("text/html", "")]
    assert len(first) == 1 and "Result set 0: the one row" in caption(first[0]["data"]["text/html"])
    assert caption(grid_of(linkis, value)) == "Result set 1: the one row of the result set"


def test_a_terminal_ipython_shows_no_grid(linkis: Any) -> None:
    # The shell's own display publisher: a terminal, which shows text only.
    value = linkis.run_cell(f"{CELL}\n{rows_sql(3)}").result
    assert grid_of(linkis, value) == value._repr_html_()
    assert magics_of(linkis)._grids._frames == {}


def test_a_kernel_shows_the_grid_as_execute_result_and_the_library_once(start_kernel: Any) -> None:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, outputs = execute(kc, rows_sql(10000))
    assert reply["status"] == "ok", reply
    assert sum(LIBRARY in m["content"].get("data", {}).get("text/html", "") for m in outputs) == 1
    (result,) = [m["content"] for m in outputs if m["msg_type"] == "execute_result"]
    assert len(grid_rows(result["data"]["text/html"])) == 5000
    assert "[5000 rows x 3 columns]" in result["data"]["text/plain"]

    reply, outputs = execute(kc, "select 1 as one")
    assert not any(LIBRARY in m["content"].get("data", {}).get("text/html", "") for m in outputs)
    (result,) = [m["content"] for m in outputs if m["msg_type"] == "execute_result"]
    assert caption(result["data"]["text/html"]) == "The one row of the result set"

    reply, outputs = execute(kc, "%%local\nimport pandas as pd\nx = pd.DataFrame({'a': [1]})\nprint(type(_))\nx")
    (result,) = [m["content"] for m in outputs if m["msg_type"] == "execute_result"]
    assert "dt_args" not in result["data"]["text/html"] and "dataframe" in result["data"]["text/html"]
    assert "<class 'pandas.DataFrame'>" in "".join(m["content"].get("text", "") for m in outputs)


@pytest.fixture
def saved_notebook(gateway: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A notebook with two result grids, executed by nbclient in a python3 kernel."""
    point_at_gateway(monkeypatch, gateway, tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext linkis_jupyter"),
        nbformat.v4.new_code_cell(f"{CELL} -n 10000\n{rows_sql(10000)}"),
        nbformat.v4.new_code_cell(f"{CELL}\nselect 'kept' as word"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def test_a_saved_notebook_keeps_the_grid_in_html_and_the_plain_table_in_text(saved_notebook: Any,
                                                                             tmp_path: Path) -> None:
    nb = saved_notebook
    grids = [o for o in nb.cells[1].outputs if o.output_type == "execute_result"]
    (grid,) = grids
    assert len(grid_rows(grid.data["text/html"])) == 10000
    libraries = [o for c in nb.cells for o in c.outputs if LIBRARY in o.get("data", {}).get("text/html", "")]
    assert len(libraries) == 1
    # The notebook as saved, reopened without a kernel: the library and the grid's data are in it.
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    reopened = nbformat.read(path, as_version=4)
    nbformat.validate(reopened)

    html, _ = HTMLExporter().from_notebook_node(reopened)
    assert LIBRARY in html and "name 9999" in html and "dt_args" in html
    # A text export (LaTeX prefers text/plain to HTML) shows pandas' table, and nothing of the grid.
    text, _ = LatexExporter().from_notebook_node(reopened)
    assert "name 9999" in text and "[10000 rows x 3 columns]" in text and "kept" in text
    assert "dt_args" not in text and LIBRARY not in text and "IPython.core.display" not in text
