"""The embedded gateway's job history over plain HTTP, as tests read it (token auth, test user)."""
from __future__ import annotations

import time
from typing import Any

import requests

API = "/api/rest_j/v1"


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
