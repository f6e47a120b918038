"""Many cells and many jobs: every result right, one job each, and the requests, threads and
memory they cost bounded; a log read partly after the entrance dropped the job arrives whole."""
from __future__ import annotations

import gc
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from fixtures.history import gateway_jobs, settled_job, settled_jobs
from fixtures.shell import RecordingPublisher, magics_of

from linkis_jupyter.client import LinkisClient, TaskInfo
from linkis_jupyter.job import Job, JobSnapshot, JobSpec, LogLine
from linkis_jupyter.results import ResultSet
from fixtures.history import FINAL, persisted_log
from reliability_helpers import assert_one_job_per_cell, log_lines_shown, without_sql_limit

pytestmark = pytest.mark.timeout(120)

# Requests one short job may cost from submit to its result on the embedded gateway (submit,
# a few polls of log and state, history, result tree, one page); far more means a poll loop gone wrong.
REQUESTS_PER_JOB = 15


def live_objects() -> Counter[str]:
    """How many jobs, snapshots, log lines, result sets, DataFrames and HTTP responses are alive."""
    gc.collect()
    kinds = (Job, JobSnapshot, LogLine, ResultSet, TaskInfo, pd.DataFrame, requests.Response)
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds))


def client_threads() -> set[str]:
    """The threads of this process that are not the gateway's (its server, executor and jobs)."""
    gateway = ("linkis-gateway", "asyncio_", "linkis-job", "linkis-sql")
    return {t.name for t in threading.enumerate() if not t.name.startswith(gateway)}


def cell(n: int) -> tuple[str, str, Any]:
    kind = n % 3
    if kind == 0:
        # 3000 rows (some 200 KB as a DataFrame): a result kept per cell would show in the memory check.
        return ("-e spark", f"select {n} as n, i, repeat('x', 40) as s from range(3000) t(i)",
                lambda v, out: len(v) == 3000 and set(v["n"]) == {n})
    if kind == 1:
        return "-e python", f"print('cell', {n} * 2)", lambda v, out: f"cell {n * 2}" in v
    return "-e shell", f"echo shell {n}", lambda v, out: f"shell {n}" in v


def test_twenty_cells_in_a_row(linkis: Any, gateway: Any, output: Any, request_log: Any) -> None:
    threads = client_threads()
    cells = [cell(n) for n in range(20)]
    before = len(request_log.seen)
    for n, (options, code, check) in enumerate(cells):
        value = linkis.run_cell_magic("linkis", f"{options} -q -o out --progress text --log all "
                                      "--timeout 60", code)
        assert value is None
        out, _err = output.read()
        assert check(linkis.user_ns["out"], out), (code, out)
        if n == 5:
            after_six = live_objects()
    after_twenty = live_objects()
    seen = request_log.seen[before:]
    assert_one_job_per_cell(gateway, [code for _o, code, _c in cells])
    assert sum(path == "/entrance/execute" for _m, path, _s in seen) == 20
    assert len(seen) <= 20 * REQUESTS_PER_JOB, Counter(path for _m, path, _s in seen)
    # Fourteen more cells (the last one's result is kept in `out`, as after the sixth) leave
    # nothing more behind.
    assert after_twenty == after_six, (after_six, after_twenty)
    assert not magics_of(linkis)._running
    assert client_threads() <= threads


def test_eight_jobs_at_once_from_one_process(gateway: Any, output: Any, request_log: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, password=gateway.password)
    threads = client_threads()
    specs = [JobSpec(code=f"select {n} as n, {n} * {n} as sq", engine="spark") if n % 2 == 0
             else JobSpec(code=f"sleep 0.3; echo job {n}", engine="shell") for n in range(8)]
    results: dict[int, Any] = {}

    def run(n: int) -> None:
        try:
            job = Job.submit(client, specs[n])
            job.wait(timeout=60)
            results[n] = job.results()[0].data
        except Exception as exc:  # reported by the assert below
            results[n] = exc

    before = len(request_log.seen)
    workers = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(90)
    seen = request_log.seen[before:]
    for n in range(8):
        if n % 2 == 0:
            assert results[n]["sq"].tolist() == [n * n], results[n]
        else:
            assert results[n].strip() == f"job {n}", results[n]
    assert_one_job_per_cell_any_order(gateway, specs)
    assert sum(path == "/entrance/execute" for _m, path, _s in seen) == 8
    assert sum(path == "/user/login" for _m, path, _s in seen) == 1  # one session shared by the eight threads
    assert len(seen) <= 8 * REQUESTS_PER_JOB, Counter(path for _m, path, _s in seen)
    client.close()
    assert client_threads() <= threads


def assert_one_job_per_cell_any_order(gateway: Any, specs: list[JobSpec]) -> list[dict[str, Any]]:
    """One job per spec (submitted from threads, so in any order), and none left running."""
    jobs = settled_jobs(gateway)
    assert sorted(without_sql_limit(j["executionCode"]) for j in jobs) == sorted(s.code for s in specs)
    assert all(j["status"] in FINAL for j in jobs)
    return jobs


def test_a_job_dropped_by_the_entrance_before_its_log_was_read(ip: Any, gateway_factory: Any, output: Any,
                                                               request_log: Any, tmp_path: Path) -> None:
    gw = gateway_factory(evict_after=0.1)
    ip.run_line_magic("linkis", f"connect {gw.url} --user {gw.user} --token {gw.token}")
    # The job writes half its log and waits for a file. When the cell has shown line 100 (read
    # from the entrance), the test creates the file and, inside that display, waits until the
    # job has ended and the entrance has dropped it: the cell finds the rest in job history.
    go = tmp_path / "go"
    dropped: list[int] = []

    def hook(record: dict[str, Any]) -> None:
        if go.exists() or " line 100 of the log" not in record["data"].get("text/plain", ""):
            return
        go.touch()
        (task,) = gateway_jobs(gw)
        settled_job(gw, task["taskID"])  # history lags the end by 1 s: past evict_after
        dropped.append(gw.jobs.get_by_task(task["taskID"]) is None)

    recorder = RecordingPublisher(ip, hook)
    ip.display_pub = recorder
    code = ("for i in $(seq 1 200); do echo \"line $i of the log\" >&2\n"
            f"  if [ $i = 100 ]; then for t in $(seq 600); do [ -e '{go}' ] && break; sleep 0.05; done; fi\n"
            "done\necho end")
    before = len(request_log.seen)
    ip.run_cell_magic("linkis", "-e shell --progress text --log all --timeout 60", code)
    assert dropped == [True], "the entrance still held the job"
    # Read first from the entrance, then, once it had dropped the job, from job history.
    asked = [(path, status) for _m, path, status in request_log.seen[before:]]
    assert any(re.fullmatch(r"/entrance/[^/]+/log", path) and status == 200 for path, status in asked), asked
    assert ("/filesystem/openLog", 200) in asked, asked
    (task,) = assert_one_job_per_cell(gw, [code])
    shown = log_lines_shown(recorder)
    assert shown == persisted_log(gw, task)
    lines = [line for line in shown if "of the log" in line]
    assert len(lines) == 200
    assert all(line.endswith(f" line {i} of the log") for i, line in enumerate(lines, 1))
