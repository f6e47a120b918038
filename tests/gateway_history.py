"""The embedded gateway's job history over plain HTTP, as tests read it (token auth, test user)."""
from __future__ import annotations

import time
from typing import Any

import requests

API = "/api/rest_j/v1"
FINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}


def gateway_jobs(gateway: Any, page_size: int = 100) -> list[dict]:
    """The test user's jobs, newest first."""
    reply = requests.get(
        gateway.url + API + "/jobhistory/list",
        params={"pageSize": page_size},
        headers={"Token-Code": gateway.token, "Token-User": gateway.user},
        timeout=10,
    ).json()
    assert reply["status"] == 0, reply
    return sorted(reply["data"]["tasks"], key=lambda task: task["taskID"], reverse=True)


def newest_job(gateway: Any, states: set[str], timeout: float = 30) -> dict:
    """Wait until the newest job is in one of `states`, and return it."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = gateway_jobs(gateway)
        if jobs and jobs[0]["status"] in states:
            return jobs[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"the newest job on the gateway is not in {sorted(states)}: {jobs[:1]}")
        time.sleep(0.1)


def settled_job(gateway: Any, task_id: int, timeout: float = 30) -> dict:
    """A job's history record once it holds a final state. Like Linkis' job history, the
    gateway's is written after the job's log has its end line (history_lag)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(
            f"{gateway.url}{API}/jobhistory/{task_id}/get",
            headers={"Token-Code": gateway.token, "Token-User": gateway.user},
            timeout=10,
        ).json()
        assert reply["status"] == 0, reply
        task = reply["data"]["task"]
        if task["status"] in FINAL:
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"job {task_id} has no final state in job history: {task['status']}")
        time.sleep(0.1)


def settled_jobs(gateway: Any, user: str | None = None, timeout: float = 15) -> list[dict]:
    """The user's jobs, oldest first, once none of them is left in a running state in job
    history (which trails each job's end by the gateway's history_lag), or when `timeout` has
    passed: a job really left running then shows as such."""
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(
            gateway.url + API + "/jobhistory/list",
            params={"pageSize": 1000},
            headers={"Token-Code": gateway.token, "Token-User": user or gateway.user},
            timeout=10,
        ).json()
        assert reply["status"] == 0, reply
        jobs = sorted(reply["data"]["tasks"], key=lambda task: task["taskID"])
        if all(job["status"] in FINAL for job in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.1)
