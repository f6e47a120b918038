"""Every example notebook runs through nbclient against the embedded gateway, and the demo command."""
from __future__ import annotations

import json
import re
from collections import Counter
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures.gateway import point_at_gateway, start_gateway, stop_gateway
from fixtures.history import gateway_jobs, settled_jobs
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from linkis_jupyter.demo import NOTEBOOKS, notebooks_dir
from linkis_jupyter.gateway.cli import default_user
from linkis_jupyter.gateway.dolphin_reader import ResultSetFile

ROOT = Path(__file__).resolve().parents[2]


def test_every_notebook_is_shipped() -> None:
    assert sorted(p.stem for p in notebooks_dir().glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name: str, gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_gateway(monkeypatch, gateway, tmp_path, MPLBACKEND="Agg")
    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=180, resources={"metadata": {"path": str(tmp_path)}}).execute()

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert errors, f"{name}: this cell should fail:\n{cell.source}"
            # The error is the gateway's reason in a few lines, not a traceback of our code.
            assert not any("linkis_jupyter/" in line for e in errors for line in e.traceback)
        else:
            assert not errors, f"{name}: {cell.source}\n{errors}"
    if name == "quickstart":
        # The warehouse's tables, and what Tab offers in a %%linkis cell, from the gateway.
        shown = json.dumps([cell.outputs for cell in nb.cells if cell.cell_type == "code"])
        assert "['region']" in shown and "sold_on" in shown
        # nbconvert's HTML keeps the grids (itables' library inside the page, no script from a
        # CDN), the profile and the plots computed on the engine.
        page, _ = HTMLExporter().from_notebook_node(nb)
        assert "All 5,000 rows of the result set" in page  # the entrance's cut, said in the cell too
        assert "Linkis cut this SELECT at 5,000 rows" in page
        assert page.count("itables_2_9_1") >= 1
        assert not re.search(r"""https?://[^"' ]*(datatables|itables)[^"' ]*\.js""", page, re.I)
        assert "distinct" in page and "≈" in page
        assert page.count("data:image/png") >= 3  # the histogram, the bar chart, the local pandas plot
    saved = json.dumps(nb)
    for secret in (gateway.token, gateway.password):
        assert secret not in saved
    # Jobs really ran on the gateway, and every one of them has ended.
    jobs = settled_jobs(gateway)
    assert jobs
    assert {job["status"] for job in jobs} <= {"Succeed", "Failed"}


def test_demo_command(tmp_path: Path) -> None:
    data_dir = tmp_path / "gateway"
    result = subprocess.run(
        [sys.executable, "-m", "linkis_jupyter", "demo", "--output", str(tmp_path / "out"), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env=dict(os.environ, MPLBACKEND="Agg", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The kernel is reached over Unix sockets in a folder of its own: no TCP warning, and no
    # socket files left in the folder the demo ran in.
    assert "without encryption" not in result.stderr
    assert not [p.name for p in tmp_path.iterdir() if "ipc" in p.name]
    out = result.stdout
    executed = tmp_path / "out" / "quickstart.ipynb"
    assert executed.is_file() and executed.with_suffix(".html").is_file()
    nb = nbformat.read(executed, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells)

    # The summary's three counts, against the notebook and the job history the demo left behind,
    # read by a gateway started again on its data dir and by reading the result files themselves.
    summary = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert summary["cells run"] == f"{len(code_cells)} (all cells ran)"
    user = default_user()
    gw = start_gateway(data_dir, users={user: "demo-Secret-1"})
    try:
        jobs = gateway_jobs(gw, user)
    finally:
        stop_gateway(gw)
    states = Counter(job["status"] for job in jobs)
    assert states["Failed"] == 1  # the quickstart's deliberate failure
    listed = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    assert summary["Linkis jobs"] == f"{len(jobs)} ({listed})"
    rows = 0
    for job in jobs:
        if job["status"] == "Succeed":
            for path in Path(job["resultLocation"].removeprefix("file://")).glob("*.dolphin"):
                result_set = ResultSetFile(path)
                rows += result_set.count() if result_set.type == "2" else 0
    assert rows > 0
    assert summary["table rows returned"] == str(rows)
