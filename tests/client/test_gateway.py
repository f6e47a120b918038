"""LinkisClient and Job against the embedded gateway over real HTTP: every engine, every auth,
results, kill, eviction, restart and injected faults."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import APIError, AuthError, JobCancelledError, JobFailedError, TransportError
from linkis_jupyter.job import Job, JobSpec
from linkis_jupyter.results import ResultType
from fixtures.history import settled_job

pytestmark = pytest.mark.timeout(60)


def password_client(gw: Any, **kwargs: Any) -> LinkisClient:
    kwargs.setdefault("retry_backoff", 0.02)
    kwargs.setdefault("retry_backoff_max", 0.1)
    return LinkisClient(gateway_url=gw.url, user=gw.user, password=gw.password, **kwargs)


def token_client(gw: Any, **kwargs: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gw.url, user=kwargs.pop("user", gw.user), token=gw.token, **kwargs)


def run(client: LinkisClient, code: str, engine: str = "spark", **spec: Any) -> Job:
    job = Job.submit(client, JobSpec(code=code, engine=engine, **spec))
    job.wait(timeout=45)
    return job


def test_sql_multiple_result_sets_typed(gateway: Any) -> None:
    client = password_client(gateway)
    job = run(
        client,
        "select 1::int as i, 2::bigint as b, 1.5::double as d, 12.34::decimal(10,2) as m, true as t, "
        "date '2024-02-29' as day, timestamp '2024-02-29 13:14:15' as ts, 'x' as s, null::int as n;\n"
        "select 'second' as what",
    )
    sets = job.results()
    assert [rs.index for rs in sets] == [0, 1] and all(rs.type is ResultType.TABLE for rs in sets)
    frame = sets[0].dataframe
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    assert dtypes["i"] == dtypes["b"] == dtypes["n"] == "Int64"
    assert dtypes["d"] == dtypes["m"] == "float64" and dtypes["t"] == "boolean" and dtypes["s"] == "string"
    assert dtypes["day"].startswith("datetime64") and dtypes["ts"].startswith("datetime64")
    assert frame["ts"][0] == pd.Timestamp("2024-02-29 13:14:15") and pd.isna(frame["n"][0])
    assert sets[1].dataframe["what"].tolist() == ["second"]
    assert "Your job completed with status Success" in job.log()


def test_large_result_paged_to_the_end(gateway: Any) -> None:
    client = password_client(gateway, page_size=10000)
    # The opt-out line: as on Linkis, creator IDE's SELECTs are otherwise limited to 5000 rows.
    job = run(client, "--set ide.engine.no.limit.allow=true\n"
                      "select i, i * 1.5 as f, 'n' || i as s from range(25000) t(i) order by i")
    frame = job.results()[0].dataframe
    assert len(frame) == 25000 and frame["i"].tolist() == list(range(25000))
    assert frame["f"][24999] == 24999 * 1.5 and frame["s"][7] == "n7"
    capped = job.results(max_rows=10)[0]
    assert capped.truncated and len(capped.data) == 10


def test_python_and_shell_with_token_auth(gateway: Any) -> None:
    client = token_client(gateway)
    py = run(client, "x = 6 * 7\nprint('answer', x)", engine="python")
    assert "answer 42" in "\n".join(str(rs.data) for rs in py.results())
    sh = run(client, "echo hello from $((40 + 2))", engine="shell")
    assert "hello from 42" in "\n".join(str(rs.data) for rs in sh.results())


def test_every_sql_engine_name(gateway_factory: Callable[..., Any]) -> None:
    gateway = gateway_factory(engines="spark-3.2.1,hive-3.1.3,jdbc-4,trino-371,presto-0.234")
    client = token_client(gateway)
    for engine in ("hive", "jdbc", "trino", "presto", "spark-3.2.1"):
        job = run(client, "select 40 + 2 as answer", engine=engine)
        assert job.results()[0].dataframe["answer"].tolist() == [42], engine
        assert client.job_info(job.task_id).run_type == JobSpec(code="x", engine=engine).run_type


def test_variables_and_execute_api(gateway: Any) -> None:
    client = password_client(gateway, api="execute")
    job = run(client, "select '${greeting}' as g", variables={"greeting": "hi"})
    assert job.results()[0].dataframe["g"].tolist() == ["hi"]


def test_failed_job_carries_error_code_and_log(gateway: Any) -> None:
    client = password_client(gateway)
    job = Job.submit(client, JobSpec(code="select * from no_such_table_here", engine="spark"))
    with pytest.raises(JobFailedError) as info:
        job.wait(timeout=45)
    err = info.value
    assert err.state == "Failed" and err.task_id == job.task_id
    assert err.err_desc and "no_such_table_here" in err.err_desc
    assert err.log_tail and any("no_such_table_here" in line for line in err.log_tail)


def test_kill_a_running_job(gateway: Any) -> None:
    client = password_client(gateway)
    job = Job.submit(client, JobSpec(code="import time\nprint('start', flush=True)\ntime.sleep(30)", engine="python"))
    deadline = time.monotonic() + 30
    while job.poll().state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.kill(confirm_timeout=10) is True
    assert settled_job(gateway, job.task_id)["status"] == "Cancelled"
    with pytest.raises(JobCancelledError):
        job.wait(timeout=5)


def test_a_kill_answered_already_completed_reads_the_outcome(gateway: Any, request_log: Any) -> None:
    client = token_client(gateway)
    done = run(client, "echo done", engine="shell")
    settled_job(gateway, done.task_id)
    # Known by its task id only (no execID): the kill goes to /entrance/{taskID}/kill, which
    # Linkis answers "already completed" for a finished job; the job then reads its outcome.
    by_task = Job(client, done.task_id, None)
    assert by_task.kill() is False
    assert [(path, status) for _m, path, status in request_log.seen if path.endswith("/kill")] == [
        (f"/entrance/{done.task_id}/kill", 400)]
    assert by_task.state is JobState.SUCCEED
    assert settled_job(gateway, done.task_id)["status"] == "Succeed"


def test_eviction_then_log_and_state_from_history(gateway_factory: Callable[..., Any], request_log: Any,
                                                  tmp_path: Path) -> None:
    gw = gateway_factory(evict_after=0.2)
    client = password_client(gw)
    # The first line is read from the entrance while the job waits for the gate file; the rest
    # only after the job has ended and left the entrance.
    gate = tmp_path / "gate"
    code = ("import pathlib, sys, time\nprint('line', 0, file=sys.stderr, flush=True)\n"
            f"while not pathlib.Path({str(gate)!r}).exists():\n    time.sleep(0.01)\n"
            "for i in range(1, 5):\n    print('line', i, file=sys.stderr)")
    job = Job.submit(client, JobSpec(code=code, engine="python"))
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while not any(text.endswith("line 0") for text in seen):
        assert time.monotonic() < deadline, "the first line never came"
        seen.extend(line.text for line in job.poll().new_log)
        time.sleep(0.05)
    gate.touch()
    settled_job(gw, job.task_id)  # history is written history_lag (1 s) after the end: past evict_after
    before = len(request_log.seen)
    job.wait(timeout=30)
    log = job.log()
    assert "Your job completed with status Success" in log
    # The rest came from job history's log file: the entrance no longer gave any.
    later = [(path, status) for _method, path, status in request_log.seen[before:]]
    assert all(status != 200 for path, status in later if re.search(r"^/entrance/[^/]+/(log|status)$", path)), later
    assert ("/filesystem/openLog", 200) in later, later
    # Read partly from the entrance, the rest from the persisted log: the whole, once.
    persisted = client.open_log(client.job_info(job.task_id).log_path or "").lines
    assert log.split("\n") == persisted
    assert [text[-6:] for text in persisted if "line " in text[-7:]] == [f"line {i}" for i in range(5)]
    attached = Job.attach(password_client(gw), job.task_id)
    assert attached.state is JobState.SUCCEED and attached.log() == log
    assert client.status(job.exec_id, job.task_id) is JobState.SUCCEED


def test_attach_after_gateway_restart(gateway_factory: Callable[..., Any], tmp_path: Path) -> None:
    data_dir = tmp_path / "kept"
    first = gateway_factory(data_dir=data_dir)
    job = run(password_client(first), "select 42 as answer")
    log = job.log()
    first.stop()
    second = gateway_factory(data_dir=data_dir)
    again = Job.attach(password_client(second), job.task_id)
    assert again.state is JobState.SUCCEED
    assert again.log() == log
    assert again.results()[0].dataframe["answer"].tolist() == [42]


def test_proxy_user_headers_and_login(gateway_factory: Callable[..., Any], tmp_path: Path) -> None:
    conf = tmp_path / "proxy.properties"
    conf.write_text("proxy-Code-Secret=bob\n")
    gw = gateway_factory(proxy_config=conf, proxy_headers=True)
    for mode in ("headers", "login"):
        client = password_client(gw, proxy_user="bob", validation_code="proxy-Code-Secret", proxy_mode=mode)
        job = run(client, "select 1 as one")
        info = client.job_info(job.task_id)
        assert info.execute_user == "bob", mode
    refused = password_client(gw, proxy_user="carol", validation_code="proxy-Code-Secret", proxy_mode="login")
    with pytest.raises(AuthError) as err:
        refused.list_jobs()
    assert "proxy-Code-Secret" not in str(err.value)


def test_session_expiry_and_wrong_password(gateway: Any, request_log: Any) -> None:
    client = password_client(gateway)
    assert client.user_info()["userName"] == gateway.user
    before = len(request_log.seen)
    gateway.expire_sessions()
    assert client.user_info()["userName"] == gateway.user
    # The expired session was refused, the client logged in again and asked once more.
    assert request_log.seen[before:] == [("GET", "/user/userInfo", 400), ("POST", "/user/login", 200),
                                         ("GET", "/user/userInfo", 200)]
    bad = LinkisClient(gateway_url=gateway.url, user=gateway.user, password="not-the-Password")
    with pytest.raises(AuthError) as info:
        bad.list_jobs()
    assert "not-the-Password" not in str(info.value)


def test_faults_on_reads_are_retried(gateway: Any) -> None:
    client = password_client(gateway, retries=6, read_timeout=2.0)
    client.login()
    gateway.faults.set(error_rate=0.25, drop_rate=0.1, paths=r"/(entrance/[^/]+/|jobhistory|filesystem)", seed=3)
    try:
        job = run(client, "select i from range(3) t(i)")
        assert job.results()[0].dataframe["i"].tolist() == [0, 1, 2]
    finally:
        injected = dict(gateway.faults.injected)
        gateway.faults.clear()
    assert injected["error"] > 0, injected  # seed 3: the first read is answered 502


def test_a_submit_answered_502_is_sent_again_only_when_history_has_no_job(gateway: Any) -> None:
    client = password_client(gateway, retries=1)
    client.login()
    gateway.faults.set(error_rate=1.0, paths=r"/entrance/execute", count=1)
    try:
        job = Job.submit(client, JobSpec(code="select 1", engine="spark"))
    finally:
        gateway.faults.clear()
    assert [t.task_id for t in client.list_jobs()] == [job.task_id]
    gateway.faults.set(error_rate=1.0, paths=r"/entrance/execute")
    try:
        with pytest.raises(TransportError) as info:
            Job.submit(client, JobSpec(code="select 2", engine="spark"))
    finally:
        gateway.faults.clear()
    assert info.value.http_status == 502 and "none was started" in str(info.value)
    assert [t.task_id for t in client.list_jobs()] == [job.task_id]


def test_several_jobs_from_threads(gateway: Any) -> None:
    client = password_client(gateway)
    outcome: dict[int, Any] = {}

    def one(n: int) -> None:
        try:
            job = run(client, f"select {n} as n")
            outcome[n] = job.results()[0].dataframe["n"].tolist()
        except Exception as exc:  # reported by the assert below
            outcome[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    assert outcome == {n: [n] for n in range(4)}


def test_job_timeout_ends_failed(gateway_factory: Callable[..., Any]) -> None:
    gw = gateway_factory(job_timeout=0.5)
    job = Job.submit(password_client(gw), JobSpec(code="sleep 20", engine="shell"))
    with pytest.raises(JobFailedError) as info:
        job.wait(timeout=30)
    assert info.value.state == "Timeout"


def test_download_and_history_list(gateway: Any, tmp_path: Path) -> None:
    client = password_client(gateway)
    job = run(client, "select 1 as a, 'x' as b")
    location = client.job_info(job.task_id).result_location
    assert location
    path = client.result_files(location)[0].path
    target = client.download_result(path, tmp_path / "out.csv")
    assert target.read_text().splitlines()[:2] == ["a,b", "1,x"]
    assert [t.task_id for t in client.list_jobs(limit=5)] == [job.task_id]


def test_other_endpoints(gateway: Any) -> None:
    client = password_client(gateway)
    assert client.heartbeat() is True
    assert client.base_info()["linkisClusterName"] == "linkis-jupyter"
    jobs = [Job.submit(client, JobSpec(code="sleep 20", engine="shell")) for _ in range(2)]
    deadline = time.monotonic() + 30
    while jobs[0].poll().state is not JobState.RUNNING:
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(0.05)
    # The shell engine reports one stage of one task while it runs.
    progress = client.progress_with_resource(jobs[0].exec_id)
    assert [(stage.id, stage.total, stage.running) for stage in progress.stages] == [("shell", 1, 1)]
    client.pause(jobs[0].exec_id)
    unknown = jobs[0].exec_id.rsplit("_", 1)[0] + "_987654"
    with pytest.raises(APIError, match="can not pause"):
        client.pause(unknown)
    messages = client.kill_jobs([j.exec_id for j in jobs], [j.task_id or 0 for j in jobs])
    assert [(m["status"], m["data"]["execID"]) for m in messages] == [(0, j.exec_id) for j in jobs]
    for job in jobs:
        with pytest.raises(JobCancelledError):
            job.wait(timeout=20)
    client.logout()
    assert client.user_info()["userName"] == gateway.user  # logs in again by itself
