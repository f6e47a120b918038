"""The benchmark command runs end to end in its smoke size and prints its table (no timing is
checked here: speed is what the full run reports). Every row with a target says whether it was
met, and the targets that do not depend on the machine or the size are met."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("linkis_python_sdk") is None:
    # In CI, where the bench extra is installed, a missing SDK fails instead of hiding the benchmark.
    if os.environ.get("CI"):
        pytest.fail("CI is set but the bench extra (linkis-python-sdk) is not installed", pytrace=False)
    pytest.skip("the bench extra (linkis-python-sdk) is not installed", allow_module_level=True)

# Targets that hold at any size on any machine: what they bound is counted, not timed.
SIZE_FREE = ("openFile <= 100 KB",)


@pytest.mark.timeout(180)
def test_benchmark_command_prints_its_table() -> None:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks", "--size", "smoke", "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    for measure in ("cell overhead, select 1", "cell overhead, ~2 s Python job", "requests, submit to DataFrame",
                    "log line to cell", "longest time without a progress read",
                    "20,000 x 8 openFile to DataFrame", "5,000 rows only", "client JSON parse", "kernel start to first table",
                    "kernel memory, cells 3 -> 10, widget", "text progress",
                    "%linkis profile / -n -1 then describe()", "plot hist", "plot box", "plot bar", "plot line",
                    "plot heatmap"):
        assert measure in table, table
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) >= 20 and all(line.count("|") == 8 for line in rows)
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in rows[1:]]
    targeted = [row for row in cells if row[5]]
    assert len(targeted) >= 8
    for row in targeted:
        assert row[6] in ("yes", "NO"), row
        if row[5] in SIZE_FREE:
            assert row[6] == "yes", row
    # The explore rows count what each command cost: one or two jobs, a few aggregated rows.
    costs = [row for row in cells if row[0].startswith(("plot ", "profile: time"))]
    assert len(costs) == 6
    for row in costs:
        _time, jobs, fetched, _size = (part.strip() for part in row[1].split("/"))
        assert jobs in ("1", "2") and int(fetched.replace(",", "")) <= 4000, row
