"""What the reliability tests share: the known secrets, the captured output of the test process,
one job per cell in job history, and the log lines a cell showed."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from fixtures.history import FINAL, settled_jobs

# The gateway fixture's passwords and token (tests/fixtures/gateway.py), and ones the tests here add.
SECRETS = ("alice-Secret-1", "bob-Secret-2", "test-Token-Secret", "wrong-Token-Secret", "wrong-Password-Secret")


def find_secrets(data: str | bytes) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [s for s in SECRETS if s in text or quote(s, safe="") in text]


class Output:
    """capfd, remembering everything read so that it can be searched afterwards."""

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        self.capfd = capfd
        self.seen: list[str] = []

    def read(self) -> tuple[str, str]:
        out, err = self.capfd.readouterr()
        self.seen.append(out + err)
        return out, err


def without_sql_limit(code: str) -> str:
    """A job's code in job history without the " limit 5000" that Linkis' SQL limit adds to the
    SELECTs of creator IDE (gateway/sql_limit.py): job history keeps the code the entrance ran."""
    return code.replace(" limit 5000", "")


def assert_one_job_per_cell(gateway: Any, cells: list[str]) -> list[dict[str, Any]]:
    """Exactly one job per cell, in order, with the cell's code, and none still running."""
    assert not gateway.faults.active, "clear the faults before reading job history"
    jobs = settled_jobs(gateway)
    codes = [j["executionCode"] for j in jobs]
    assert len(jobs) == len(cells), f"{len(cells)} cells made {len(jobs)} jobs: {codes}"
    for job, cell in zip(jobs, cells):
        ran = job["executionCode"]
        if " limit 5000" in ran and " limit 5000" not in cell:
            # The SQL limit also took the statement's comments out, as Linkis' does.
            ran, cell = without_sql_limit(ran), re.sub(r"--[^\n]*", "", cell)
        assert ran.strip() == cell.strip(), (job["taskID"], job["executionCode"][:200], cell[:200])
    running = [(j["taskID"], j["status"]) for j in jobs if j["status"] not in FINAL]
    assert not running, f"left running: {running}"
    return jobs


def log_lines_shown(recorder: Any) -> list[str]:
    """The job's log lines as the cell displayed them, in order."""
    lines: list[str] = []
    for o in recorder.outputs:
        if o["data"].get("text/html", "").startswith('<pre class="linkis-log"'):
            for line in o["data"]["text/plain"].split("\n"):
                for prefix in ("[ERROR] ", "[WARN] "):
                    line = line.removeprefix(prefix)
                lines.append(line)
    return lines
