"""The benchmark command runs end to end in its smoke size and prints its table (no timing is
checked here: speed is what the full run reports)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("linkis_python_sdk", reason="the bench extra (linkis-python-sdk) is not installed")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_benchmark_command_prints_its_table() -> None:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks", "--size", "smoke", "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    for measure in ("cell overhead, select 1", "cell overhead, ~2 s Python job", "requests, submit to DataFrame",
                    "log line to cell", "longest time without a progress read",
                    "20,000 x 8 openFile to DataFrame", "5,000 rows only", "client JSON parse", "kernel start to first table",
                    "kernel memory, cells 3 -> 10, widget", "text progress"):
        assert measure in table, table
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) >= 14 and all(line.count("|") == 8 for line in rows)
