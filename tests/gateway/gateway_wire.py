"""Plain-`requests` access to the embedded gateway, as any Linkis client would talk to it."""
from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}
HTTP_TIMEOUT = 15


class Api:
    """One client session against a gateway: the `/api/rest_j/v1` prefix, JSON in and out."""

    def __init__(self, gateway: Any, headers: dict[str, str] | None = None) -> None:
        self.gw = gateway
        self.base = gateway.url + "/api/rest_j/v1"
        self.s = requests.Session()
        self.s.headers.update(headers or {})

    def get(self, endpoint: str, /, **params: Any) -> requests.Response:
        return self.s.get(self.base + endpoint, params=params, timeout=HTTP_TIMEOUT)

    def post(self, endpoint: str, body: Any = None, /, **params: Any) -> requests.Response:
        return self.s.post(self.base + endpoint, json=body, params=params, timeout=HTTP_TIMEOUT)

    def login(self, user: str, password: str) -> requests.Response:
        r = self.post("/user/login", {"userName": user, "password": password})
        assert r.json()["status"] == 0, r.text
        return r

    def submit(self, code: str, run_type: str = "sh", engine: str = "shell-1", **body: Any) -> tuple[str, int]:
        # No userCreator label: the entrance adds <execute user>-IDE, which always passes its check.
        payload = {"executionContent": {"code": code, "runType": run_type}, "labels": {"engineType": engine}}
        payload.update(body)
        r = self.post("/entrance/submit", payload)
        data = ok(r)
        return data["execID"], data["taskID"]

    def status(self, exec_id: str) -> str:
        return ok(self.get(f"/entrance/{exec_id}/status"))["status"]

    def wait(self, exec_id: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = self.status(exec_id)
            if state in TERMINAL:
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"job {exec_id} still {state} after {timeout} s")
            time.sleep(0.05)

    def wait_for(self, exec_id: str, wanted: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (state := self.status(exec_id)) != wanted:
            assert state not in TERMINAL or wanted in TERMINAL, f"job ended {state} before {wanted}"
            if time.monotonic() > deadline:
                raise AssertionError(f"job {exec_id} still {state}, not {wanted}, after {timeout} s")
            time.sleep(0.05)

    def task(self, task_id: int) -> dict[str, Any]:
        return ok(self.get(f"/jobhistory/{task_id}/get"))["task"]

    def final_task(self, task_id: int, timeout: float = 15.0) -> dict[str, Any]:
        """The job-history record once it is terminal: it trails the entrance's end of the job."""
        deadline = time.monotonic() + timeout
        while (task := self.task(task_id))["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise AssertionError(f"job history of task {task_id} still {task['status']} after {timeout} s")
            time.sleep(0.05)
        return task

    def results(self, task_id: int) -> list[str]:
        """Result-set paths of a job, in numeric order."""
        tree = ok(self.get("/filesystem/getDirFileTrees", path=self.task(task_id)["resultLocation"]))["dirFileTrees"]
        if tree is None:
            return []
        paths = [c["path"] for c in tree["children"]]
        return sorted(paths, key=lambda p: int(p.rsplit("/_", 1)[1].split(".")[0]))

    def read(self, path: str, /, **params: Any) -> dict[str, Any]:
        return ok(self.get("/filesystem/openFile", path=path, **params))

    def full_log(self, exec_id: str) -> str:
        return ok(self.get(f"/entrance/{exec_id}/log", fromLine=0, size=-1))["log"][3]


def ok(r: requests.Response) -> dict[str, Any]:
    body = r.json()
    assert body["status"] == 0 and r.status_code == 200, f"{r.status_code} {body}"
    return body["data"]


def err(r: requests.Response, status: int = 1, http: int | None = None) -> str:
    """The message of an error answer, after checking its envelope and HTTP code."""
    body = r.json()
    assert set(body) == {"method", "status", "message", "data"}, body
    assert body["status"] == status, body
    expected = http or {-1: 401, 1: 400, 2: 412, 3: 403}[status]
    assert r.status_code == expected, (r.status_code, body)
    return body["message"]
