"""JupyterLab in headless Chromium: a Linkis Spark SQL notebook against the embedded gateway.

What a user sees: the kernel picked from the notebook's metadata with no dialog, a running
query's progress bar and label (task id, state), its log lines, then the result grid; the
toolbar's stop button cancelling a long job on the gateway; a 10,000-row grid searched and sorted,
a profile, and a histogram computed on the engine; a saved notebook's grid interactive when
trusted and a plain preview when not. Screenshots go to
test-artifacts/browser/.
"""
from __future__ import annotations

import os
import re
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.sign import NotebookNotary

from fixtures.gateway import point_at_gateway
from fixtures.history import gateway_jobs, newest_job
from lab_server import CHROMIUM, Lab, artifact



def _missing(reason: str) -> None:
    """Skip on a developer's machine; in CI (the CI variable set), where both are installed,
    a missing one fails the run instead of leaving it green without its only browser tests."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if not CHROMIUM.exists():
    _missing(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
try:
    from playwright import sync_api
except ImportError:
    _missing("the playwright package is not installed (pip install -e '.[test]')")
expect = sync_api.expect

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# A few seconds of DuckDB work on a 2-core machine; seven rows that can be checked exactly.
ROWS = 250_000_000
QUERY = f"select i % 7 as remainder, count(*) as n\nfrom range({ROWS}) t(i)\ngroup by i % 7\norder by remainder"
# About 100 billion rows: minutes of work, so only the stop button ends it during the test.
LONG_QUERY = "select count(*) as n from range(100000000000) t(i) where i % 7 = 3"

WAIT = 60_000
DIALOG = ".jp-Dialog"
TOOLBAR = ".jp-NotebookPanel-toolbar"
BAR = ".jupyter-widgets.widget-hprogress .progress-bar"
LABEL = ".jupyter-widgets.widget-html"

# Records every distinct state of a cell's output as the browser renders it, so that states
# shorter than a Playwright poll can still be checked afterwards.
RECORD_CELL = """([index, labelSelector, barSelector]) => {
  const cell = document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')[index];
  const seen = window.linkisCellStates = [];
  const record = () => {
    const label = cell.querySelector(labelSelector);
    const bar = cell.querySelector(barSelector);
    const logs = [...cell.querySelectorAll('pre.linkis-log')].map((pre) => pre.textContent).join('\\n');
    const state = {
      label: label ? label.textContent : null,
      bar: bar ? bar.className + ' ' + bar.style.width : null,
      statementLogged: logs.includes('DAGScheduler: Got job 0'),
      table: cell.querySelector('table.dataTable') !== null,
    };
    const last = seen[seen.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(state)) seen.push(state);
  };
  new MutationObserver(record).observe(cell, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def write_notebook(lab: Lab, name: str, *cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "linkis-spark-sql", "display_name": "Linkis Spark SQL", "language": "sql"}
    nb.metadata["language_info"] = {"name": "sql"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(lab.root / name))
    return name


def no_dialog(page: Any, where: str) -> None:
    """A kernel picker or an error dialog means the flow broke: fail with its text and a screenshot."""
    dialog = page.locator(DIALOG)
    if dialog.count():
        path = artifact("dialog-" + re.sub(r"\W+", "-", where) + ".png")
        page.screenshot(path=str(path))
        pytest.fail(f"JupyterLab showed a dialog {where} (screenshot {path}): {dialog.first.inner_text()!r}")


def wait_visible(page: Any, locator: Any, where: str) -> None:
    """Wait for `locator`, failing at once if a dialog shows up instead."""
    locator.or_(page.locator(DIALOG)).first.wait_for(state="visible", timeout=WAIT)
    no_dialog(page, where)


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    page.goto(lab.open_url(name))
    wait_visible(page, page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first, "opening the notebook")
    wait_visible(page, page.locator(f"{TOOLBAR} .jp-KernelName", has_text="Linkis Spark SQL"), "picking the kernel")
    wait_visible(page, page.locator(f"{TOOLBAR} .jp-Notebook-ExecutionIndicator[data-status='idle']"), "starting the kernel")
    # The file browser takes a third of the window; the notebook is what the screenshots are of.
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    expect(page.locator("#jp-left-stack")).to_be_hidden(timeout=WAIT)


def grid_rows(grid: Any) -> list[list[str]]:
    """The cells of the rows a result grid shows on its page."""
    return [[c.strip() for c in row.split("\t")] for row in grid.locator("tbody tr").all_inner_texts()]


def run_cell(page: Any, index: int) -> Any:
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    return cell


def test_query_shows_progress_logs_and_table(gateway, lab: Lab, page: Any) -> None:
    open_notebook(page, lab, write_notebook(lab, "spark-sql.ipynb", QUERY))
    page.evaluate(RECORD_CELL, [0, LABEL, BAR])
    cell = run_cell(page, 0)

    # The widget with its label naming the task, then the first log lines (the statement starting).
    bar = cell.locator(BAR)
    label = cell.locator(LABEL)
    wait_visible(page, bar, "while the query runs")
    expect(label).to_contain_text("Linkis task", timeout=WAIT)
    task_id = int(re.search(r"Linkis task (\d+)", label.inner_text()).group(1))
    assert gateway_jobs(gateway)[-1]["taskID"] == task_id
    expect(cell.locator(".jp-OutputArea")).to_contain_text("DAGScheduler: Got job 0", timeout=WAIT)
    page.screenshot(path=str(artifact("query-running.png")))

    # Then the table, a grid under the bar (now full and green) and the log.
    table = cell.locator("table.dataTable")
    wait_visible(page, table, "waiting for the result table")
    counts = {r: ROWS // 7 + (1 if r < ROWS % 7 else 0) for r in range(7)}
    assert grid_rows(table) == [[str(r), str(n)] for r, n in counts.items()]
    expect(table.locator("thead")).to_contain_text("remainder")
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-success\b"), timeout=WAIT)
    expect(label).to_contain_text(f"Linkis task {task_id} · Succeed", timeout=WAIT)
    # The log, folded away once the job succeeded: its summary names the whole log's command,
    # and one click opens it on the newest lines.
    fold = cell.locator("details.linkis-log-fold")
    expect(fold).to_contain_text("DAGScheduler: Job 0 finished", timeout=WAIT)
    expect(fold.locator("summary")).to_contain_text(f"%linkis log {task_id}", timeout=WAIT)
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT)  # no longer [*]
    assert fold.evaluate("element => element.open") is False
    expect(fold.locator("pre.linkis-log")).to_be_hidden()
    no_dialog(page, "after the query")
    page.screenshot(path=str(artifact("query-done.png")))
    fold.locator("summary").click()
    expect(fold.locator("pre.linkis-log")).to_be_visible(timeout=WAIT)
    expect(fold.locator("pre.linkis-log")).to_contain_text("SQLSession: Time taken")
    page.screenshot(path=str(artifact("query-log-opened.png")))
    assert newest_job(gateway, {"Succeed"}, timeout=10)["taskID"] == task_id

    # What the cell showed on the way, however fast the job was on this machine: the label said
    # Running, and the statement's log line was on screen, before the table arrived.
    seen = page.evaluate("window.linkisCellStates")
    running = [s for s in seen if not s["table"] and re.search(rf"Linkis task {task_id} · Running", s["label"] or "")]
    assert running, seen
    assert any(s["statementLogged"] for s in running), seen


def test_stop_button_cancels_the_job(gateway, lab: Lab, page: Any) -> None:
    open_notebook(page, lab, write_notebook(lab, "long-job.ipynb", LONG_QUERY))
    cell = run_cell(page, 0)

    bar = cell.locator(BAR)
    wait_visible(page, bar, "while the long job runs")
    label = cell.locator(LABEL)
    expect(label).to_have_text(re.compile(r"Linkis task \d+ · Running"), timeout=WAIT)
    expect(cell.locator(".jp-OutputArea")).to_contain_text("DAGScheduler: Got job 0", timeout=WAIT)
    job = newest_job(gateway, {"Running"})
    page.screenshot(path=str(artifact("long-job-running.png")))

    page.locator(f"{TOOLBAR} [data-command='notebook:interrupt-kernel']").click()
    output = cell.locator(".jp-OutputArea")
    expect(output).to_contain_text(f"Linkis job {job['taskID']} cancelled", timeout=WAIT)
    expect(output).to_contain_text("KeyboardInterrupt", timeout=WAIT)
    expect(output).not_to_contain_text("linkis_jupyter")  # no frames of the magic's own code
    expect(bar).to_have_class(re.compile(r"\bprogress-bar-danger\b"), timeout=WAIT)
    expect(label).to_have_text(re.compile(rf"Linkis task {job['taskID']} · Cancelled"), timeout=WAIT)
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT)  # no longer [*]
    no_dialog(page, "after the stop button")
    page.screenshot(path=str(artifact("long-job-cancelled.png")))
    cancelled = newest_job(gateway, {"Cancelled", "Failed", "Succeed", "Timeout"})
    assert cancelled["taskID"] == job["taskID"]
    assert cancelled["status"] == "Cancelled"


# -- exploring a result ---------------------------------------------------------------------------

GRID_ROWS = 10_000
GRID_QUERY = ("%%linkis -n 10000\n"
              "select id, concat('name_', cast(id as string)) as name, (id * 37) % 1000 as score\n"
              f"from range({GRID_ROWS}) as t(id)")
SCORES = ("create or replace table scores as\nselect id, case id % 3 when 0 then 'a' when 1 then 'b' else 'c' end as grp,\n"
          "((id * 37) % 1000 + (id * 101) % 1000 + (id * 7) % 1000) / 3.0 as score from range(10000) as t(id)")



def test_grid_search_sort_profile_and_plot(gateway, lab: Lab, page: Any) -> None:
    open_notebook(page, lab, write_notebook(
        lab, "explore.ipynb", GRID_QUERY, SCORES, "%linkis profile scores", "%linkis plot hist scores score --bins 20"))

    # A 10,000-row result is a grid holding every row: the caption and DataTables' own count say so.
    cell = run_cell(page, 0)
    grid = cell.locator("table.dataTable")
    wait_visible(page, grid, "waiting for the result grid")
    output = cell.locator(".jp-OutputArea")
    expect(output).to_contain_text(f"All {GRID_ROWS:,} rows of the result set", timeout=WAIT)
    expect(output).to_contain_text(re.compile(rf"of {GRID_ROWS:,} entries"), timeout=WAIT)
    assert grid_rows(grid)[0] == ["0", "name_0", "0"]
    page.screenshot(path=str(artifact("grid.png")))

    # Typing in its search box filters the rows in the page.
    search = cell.locator(".dt-search input")
    search.fill("name_9999")
    expect(output).to_contain_text(re.compile(rf"filtered from {GRID_ROWS:,} total entries"), timeout=WAIT)
    assert grid_rows(grid) == [["9999", "name_9999", str(9999 * 37 % 1000)]]
    search.fill("")

    # A click on a header sorts by that column, a second click the other way.
    header = grid.locator("thead th", has_text="score")
    score = lambda row: grid.locator("tbody tr").nth(row).locator("td").nth(2)  # noqa: E731
    header.click()
    expect(score(1)).to_have_text("0", timeout=WAIT)
    assert {row[2] for row in grid_rows(grid)} == {"0"}  # ten ids have score 0: the whole first page
    header.click()
    expect(score(0)).to_have_text("999", timeout=WAIT)
    assert {row[2] for row in grid_rows(grid)} == {"999"}
    cell.screenshot(path=str(artifact("grid-sorted.png")))

    # The profile is one HTML table; the histogram, computed on the engine, is an image.
    run_cell(page, 1)
    expect(page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1).locator(".jp-InputPrompt")).to_have_text(
        re.compile(r"\[\d+\]"), timeout=WAIT)
    profile = run_cell(page, 2)
    expect(profile.locator(".jp-OutputArea")).to_contain_text("distinct", timeout=WAIT)
    expect(profile.locator(".jp-OutputArea")).to_contain_text("score", timeout=WAIT)
    profile.locator(".jp-OutputArea-executeResult").screenshot(path=str(artifact("profile.png")))
    plot = run_cell(page, 3)
    image = plot.locator(".jp-RenderedImage img")
    wait_visible(page, image, "waiting for the histogram")
    assert image.evaluate("img => img.naturalWidth") > 100
    expect(plot.locator(".jp-OutputArea")).to_contain_text("task ", timeout=WAIT)
    plot.screenshot(path=str(artifact("plot.png")))
    no_dialog(page, "after the plot")
    plot.scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("explore.png")))


def test_saved_grids_trusted_and_untrusted(gateway, lab: Lab, page: Any, tmp_path: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook executed elsewhere (nbclient) and reopened: trusted, its grid is interactive with
    no kernel work; untrusted, JupyterLab runs none of its scripts and the grid's plain preview and
    caption show instead."""
    (tmp_path / "nbclient").mkdir()
    point_at_gateway(monkeypatch, gateway, tmp_path / "nbclient")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext linkis_jupyter"),
                nbformat.v4.new_code_cell(GRID_QUERY.replace("%%linkis", "%%linkis --progress none --log none"))]
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    # Signed with the server's own secret (its JUPYTER_DATA_DIR), as Lab signs what it ran itself;
    # trust is kept by content, so the untrusted copy differs by its metadata.
    NotebookNotary(data_dir=str(lab.root.parent / "data")).sign(nb)
    nbformat.write(nb, str(lab.root / "trusted.ipynb"))
    nb.metadata["title"] = "received from someone else"
    nbformat.write(nb, str(lab.root / "untrusted.ipynb"))

    for name, interactive in (("untrusted.ipynb", False), ("trusted.ipynb", True)):
        page.goto(lab.open_url(name))
        output = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1).locator(".jp-OutputArea")
        wait_visible(page, output.locator("table >> visible=true").first, f"opening {name}")
        expect(output).to_contain_text(f"All {GRID_ROWS:,} rows of the result set", timeout=WAIT)
        expect(output).to_contain_text("name_0", timeout=WAIT)
        search = output.locator(".dt-search input")
        if interactive:
            expect(search).to_be_visible(timeout=WAIT)
            expect(output).to_contain_text(re.compile(rf"of {GRID_ROWS:,} entries"), timeout=WAIT)
            search.fill("name_9999")
            expect(output).to_contain_text("filtered from", timeout=WAIT)
        else:
            # Nothing of the grid's script ran: no search box, no pages; the preview's rows show.
            page.wait_for_timeout(1000)
            assert search.count() == 0
            assert output.locator("tbody tr >> visible=true").count() == 10
            expect(output).to_contain_text("9,990 more rows not shown")
        page.screenshot(path=str(artifact(f"saved-{name}.png")))
