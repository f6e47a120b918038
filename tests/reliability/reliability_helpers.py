"""What the reliability tests share: the known secrets, the gateway's job history over plain HTTP,
a count of the requests the gateway served, and the captured output of the test process."""
from __future__ import annotations

import logging
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
import requests
from gateway_history import settled_jobs

API = "/api/rest_j/v1"
TERMINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}

# The gateway fixture's passwords and token (tests/conftest.py), and ones the tests here add.
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


def jobs_of(gateway: Any, user: str = "alice") -> list[dict[str, Any]]:
    """The user's job history, oldest first, asked over plain HTTP with the token (never through
    the client under test, and never while faults are injected)."""
    assert not gateway.faults.active, "clear the faults before reading job history"
    reply = requests.get(
        gateway.url + API + "/jobhistory/list",
        params={"pageSize": 1000},
        headers={"Token-Code": gateway.token, "Token-User": user},
        timeout=10,
    ).json()
    assert reply["status"] == 0, reply
    return sorted(reply["data"]["tasks"], key=lambda t: t["taskID"])


def wait_for_states(gateway: Any, states: set[str], count: int = 1, timeout: float = 20,
                    user: str = "alice") -> list[dict[str, Any]]:
    """Wait until the user's newest `count` jobs are all in `states`; return them."""
    deadline = time.monotonic() + timeout
    while True:
        newest = jobs_of(gateway, user)[-count:]
        if len(newest) == count and all(j["status"] in states for j in newest):
            return newest
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs not in {states}: {[(j['taskID'], j['status']) for j in newest]}")
        time.sleep(0.05)


def assert_one_job_per_cell(gateway: Any, cells: list[str]) -> list[dict[str, Any]]:
    """Exactly one job per cell, in order, with the cell's code, and none still running."""
    assert not gateway.faults.active, "clear the faults before reading job history"
    jobs = settled_jobs(gateway)
    codes = [j["executionCode"] for j in jobs]
    assert len(jobs) == len(cells), f"{len(cells)} cells made {len(jobs)} jobs: {codes}"
    for job, cell in zip(jobs, cells):
        assert job["executionCode"].strip() == cell.strip(), (job["taskID"], job["executionCode"], cell)
    running = [(j["taskID"], j["status"]) for j in jobs if j["status"] not in TERMINAL]
    assert not running, f"left running: {running}"
    return jobs


class RequestCount(logging.Handler):
    """Counts the requests a gateway in this process served, by method and path (its access log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        parts = record.getMessage().split(" ")
        if len(parts) >= 3:
            path = re.sub(r"/entrance/[^/]+/", "/entrance/ID/", parts[2])
            path = re.sub(r"/jobhistory/\d+/", "/jobhistory/ID/", path)
            self.counts[f"{parts[1]} {path}"] += 1

    def __enter__(self) -> RequestCount:
        logger = logging.getLogger("tornado.access")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        logger = logging.getLogger("tornado.access")
        logger.removeHandler(self)
        logger.setLevel(self._level)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def of(self, fragment: str) -> int:
        return sum(n for key, n in self.counts.items() if fragment in key)


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


def persisted_log(gateway: Any, task: dict[str, Any]) -> list[str]:
    reply = requests.get(gateway.url + API + "/filesystem/openLog", params={"path": task["logPath"]},
                         headers={"Token-Code": gateway.token, "Token-User": gateway.user}, timeout=10).json()
    assert reply["status"] == 0, reply
    return reply["data"]["log"][3].rstrip("\n").split("\n")
