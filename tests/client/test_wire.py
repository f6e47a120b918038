"""The client against a behavioural fake Linkis: wire forms the embedded gateway does not produce,
retries, re-login, and a count of what was sent."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from fake_linkis import FakeLinkis
from fixtures.ci import missing

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import (
    APIError,
    AuthError,
    ConfigError,
    JobCancelledError,
    JobFailedError,
    LinkisTimeoutError,
    TransportError,
    ValidationError,
)
from linkis_jupyter.job import Job, JobSpec

PASSWORD = "alice-pw-Secret"
TOKEN = "fake-Token-Secret"
HTML_502 = (502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>")


def client_for(fake: FakeLinkis, **kwargs: Any) -> LinkisClient:
    kwargs.setdefault("user", "alice")
    if "token" not in kwargs:
        kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("retry_backoff", 0.01)
    kwargs.setdefault("retry_backoff_max", 0.05)
    # A site with this version installed: jobs go to /entrance/submit.
    kwargs.setdefault("engine_versions", {"spark": "3.2.1"})
    return LinkisClient(gateway_url=fake.url, **kwargs)


def run(client: LinkisClient, code: str, engine: str = "spark", **kwargs: Any) -> Job:
    job = Job.submit(client, JobSpec(code=code, engine=engine))
    job.wait(timeout=20, **kwargs)
    return job


def test_old_gateway_fallback_to_execute_once_and_0x_ids(fake_factory: Callable[..., FakeLinkis]) -> None:
    fake = fake_factory(old=True, task_id_as_string=True)
    client = client_for(fake)
    first = run(client, "rows 3")
    # 0.x execID: three 2-digit lengths, no exec_id prefix; taskID came as the string "100".
    assert first.exec_id.startswith("030511IDEspark") and first.task_id == 100
    assert first.results()[0].dataframe["id"].tolist() == [0, 1, 2]
    run(client, "rows 1")
    assert fake.count(r"/entrance/submit$") == 1  # asked once, answer remembered
    assert fake.count(r"/entrance/execute$") == 2


def test_fallback_also_on_an_html_404(fake_factory: Callable[..., FakeLinkis]) -> None:
    fake = fake_factory(old=True, unknown_path="html404")
    job = run(client_for(fake), "text hi")
    assert job.results()[0].data == "hi"


def test_api_submit_does_not_fall_back(fake_factory: Callable[..., FakeLinkis]) -> None:
    fake = fake_factory(old=True, unknown_path="html404")
    with pytest.raises(TransportError) as info:
        Job.submit(client_for(fake, api="submit"), JobSpec(code="x", engine="spark"))
    assert info.value.http_status == 404 and "/entrance/submit" in str(info.value) and "404 Not Found" in str(info.value)
    assert fake.count(r"/entrance/execute$") == 0


def test_history_wire_forms(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = run(client, "sleep 0.1")
    info = client.job_info(job.task_id)
    assert info.progress == 1.0  # "1.0f"
    assert info.state is JobState.SUCCEED and info.result_location is None
    assert info.created is not None and info.log_path
    assert job.results() == []  # no result directory
    assert client.result_files("hdfs:///tmp/linkis/result/999") == []  # dirFileTrees: null
    assert [t.task_id for t in client.list_jobs(limit=5)] == [job.task_id]


def test_result_sets_in_numeric_order_with_text_and_html(fake: FakeLinkis) -> None:
    code = "\n".join(f"text set {i}" for i in range(11)) + "\nhtml <b>x</b>\ntypes"
    job = run(client_for(fake), code)
    results = job.results()
    assert [r.index for r in results] == list(range(13))
    assert [r.data for r in results[:11]] == [f"set {i}" for i in range(11)]
    assert results[11].type.name == "HTML" and results[11].data == "<b>x</b>"
    assert results[0].metadata is None  # metadata "NULL"
    frame = results[12].dataframe
    assert str(frame.dtypes["c_bigint"]) == "Int64" and frame["c_bigint"][0] == 9007199254740993
    assert frame.iloc[1].isna().all()


def test_paging_to_a_short_page_and_the_row_cap(fake: FakeLinkis) -> None:
    client = client_for(fake, page_size=5000)
    job = run(client, "rows 12000")
    before = fake.count("/openFile")
    frame = job.results()[0].dataframe
    assert len(frame) == 12000 and frame["id"].tolist() == list(range(12000))
    assert fake.count("/openFile") - before == 3  # 5000 + 5000 + a short page of 2000
    assert frame["score"].isna().sum() == len(range(0, 12000, 7))
    capped = job.results(max_rows=100)[0]
    assert capped.truncated and len(capped.data) == 100
    before = fake.count("/openFile")
    exact = job.results(max_rows=12000)[0]
    assert not exact.truncated and len(exact.data) == 12000
    assert fake.count("/openFile") - before == 3  # the last page holds the rest: nothing asked after it


def test_page_size_falls_back_when_the_gateway_limit_is_lower(fake_factory: Callable[..., FakeLinkis]) -> None:
    fake = fake_factory(row_limit=5000)
    client = client_for(fake, page_size=100000)
    job = run(client, "rows 12000")
    assert len(job.results()[0].data) == 12000
    sizes = [int(q["pageSize"]) for _m, p, q, _h in fake.requests if p.endswith("/openFile")]
    # Refused once (80034), then Linkis' own 5000, which no later page of the read goes above.
    assert sizes[0] == 100000 and sizes[1:] == [5000, 5000, 5000]


def test_null_value_parameter(fake: FakeLinkis) -> None:
    client = client_for(fake, null_value="LINKIS_NULL")
    job = run(client, "rows 8")
    frame = job.results()[0].dataframe
    assert pd.isna(frame["score"][0]) and pd.isna(frame["score"][7])
    assert all(q.get("nullValue") == "LINKIS_NULL" for _m, p, q, _h in fake.requests if p.endswith("/openFile"))


def test_session_expiry_means_one_transparent_relogin(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = Job.submit(client, JobSpec(code="sleep 0.3\nrows 2", engine="spark"))
    fake.expire_sessions()
    job.wait(timeout=20)
    assert len(job.results()[0].data) == 2
    assert fake.count("/user/login") == 2


def test_wrong_password_is_an_auth_error_without_the_password(fake: FakeLinkis) -> None:
    client = client_for(fake, password="wrong-Pw-Secret")
    with pytest.raises(AuthError) as info:
        client.list_jobs()
    assert "wrong user name or password" in str(info.value) and "wrong-Pw-Secret" not in str(info.value)
    assert fake.count("/user/login") == 1


def test_token_auth_sends_headers_and_never_logs_in(fake: FakeLinkis) -> None:
    client = client_for(fake, token=TOKEN)
    run(client, "rows 1")
    assert fake.count("/user/login") == 0
    headers = fake.requests[-1][3]
    assert headers["Token-Code"] == TOKEN and headers["Token-User"] == "alice"


def test_refused_token_is_masked_in_the_error(fake: FakeLinkis) -> None:
    client = client_for(fake, token="bad-Token-Secret")
    with pytest.raises(AuthError) as info:
        client.list_jobs()
    # The gateway's message quotes the token; the error does not.
    assert "未授权的token" in str(info.value) and "bad-Token-Secret" not in str(info.value)


def test_proxy_user_by_headers(fake: FakeLinkis) -> None:
    client = client_for(fake, proxy_user="carol", validation_code=TOKEN, proxy_mode="headers")
    job = run(client, "rows 1")
    assert fake.jobs[job.task_id].user == "carol"
    headers = fake.requests[-1][3]
    assert headers["Proxy-User"] == "carol" and headers["Validation-Code"] == TOKEN


def test_proxy_user_by_login(fake: FakeLinkis) -> None:
    # The default with a password.
    client = client_for(fake, proxy_user="carol", validation_code=TOKEN)
    job = run(client, "rows 1")
    assert fake.jobs[job.task_id].user == "carol"
    assert fake.count("/user/proxy") == 1 and "Proxy-User" not in fake.requests[-1][3]
    bad = client_for(fake, proxy_user="carol", validation_code="nope-Secret", proxy_mode="login")
    with pytest.raises(AuthError, match="proxy login") as info:
        bad.list_jobs()
    assert "nope-Secret" not in str(info.value)


def test_gets_retry_on_502_drops_and_stalls(fake: FakeLinkis) -> None:
    client = client_for(fake, read_timeout=0.5)
    fake.inject("/jobhistory/list", HTML_502, "drop", ("stall", 1.0))
    assert client.list_jobs() == []
    assert fake.count("/jobhistory/list") == 4


def test_html_error_page_after_retries_is_a_transport_error(fake: FakeLinkis) -> None:
    client = client_for(fake, retries=1)
    fake.inject("/jobhistory/list", HTML_502, HTML_502)
    with pytest.raises(TransportError) as info:
        client.list_jobs()
    err = info.value
    assert err.http_status == 502 and "/jobhistory/list" in str(err) and "502 Bad Gateway" in str(err)
    assert "<html>" not in str(err)
    fake.inject("/user/userInfo", (200, "text/plain", ""))
    with pytest.raises(TransportError, match="empty body"):
        client.user_info()


def test_a_lost_submit_answer_is_looked_up_in_history_before_sending_again(fake: FakeLinkis) -> None:
    client = client_for(fake, read_timeout=0.5)
    client.login()
    fake.inject("/entrance/submit", (503, "text/html", "<title>busy</title>"))
    first = Job.submit(client, JobSpec(code="rows 1", engine="spark"))
    # Refused by the proxy, no job in history: sent once more.
    assert fake.count("/entrance/submit") == 2 and list(fake.jobs) == [first.task_id]
    fake.inject("/entrance/submit", ("stall", 0.8))
    second = Job.submit(client, JobSpec(code="rows 1", engine="spark"))
    # No answer within the read timeout, but the job was made, late: it is followed, not sent again
    # (this gateway keeps no source, so it is known by its code; the first job is not taken for it).
    assert fake.count("/entrance/submit") == 3 and len(fake.jobs) == 2
    assert second.task_id != first.task_id and second.task_id in fake.jobs
    fake.inject("/entrance/submit", *[(503, "text/html", "<title>busy</title>")] * 4)
    with pytest.raises(TransportError, match="none was started") as info:
        Job.submit(client, JobSpec(code="rows 2", engine="spark"))
    assert info.value.http_status == 503 and len(fake.jobs) == 2


def test_submit_retries_when_no_connection_could_be_made(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = FakeLinkis(port=port)
    client = LinkisClient(gateway_url=f"http://127.0.0.1:{port}", token=TOKEN, user="alice",
                          retries=8, retry_backoff=0.2, retry_backoff_max=0.5, engine_versions={"spark": "3.2.1"})
    starter = threading.Timer(0.4, fake.start)
    starter.start()
    try:
        job = Job.submit(client, JobSpec(code="rows 1", engine="spark"))
        assert job.task_id == 100 and fake.count("/entrance/submit") == 1
    finally:
        starter.join()
        fake.stop()
    closed = LinkisClient(gateway_url=f"http://127.0.0.1:{port}", token=TOKEN, user="alice", retries=1, retry_backoff=0.01)
    with pytest.raises(TransportError, match="cannot connect"):
        closed.list_jobs()


def test_submit_refused_for_its_content_is_a_validation_error(fake: FakeLinkis) -> None:
    client = client_for(fake)
    body_spec = JobSpec(code="x", engine="spark")
    body_spec.code = "   "  # a spec changed after it was checked reaches the server as it is
    with pytest.raises(ValidationError, match="executionCode cannot be empty") as info:
        Job.submit(client, body_spec)
    assert info.value.path == "/entrance/submit" and info.value.http_status == 400


def running(job: Job, timeout: float = 10) -> Job:
    """The job, once a poll has seen it Running (the fake's jobs hold where the test says)."""
    deadline = time.monotonic() + timeout
    while job.poll().state is not JobState.RUNNING:
        assert time.monotonic() < deadline, f"job {job.task_id} never ran"
        time.sleep(0.01)
    return job


def test_progress_not_generated_yet_is_zero_and_string_progress_parses(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = Job.submit(client, JobSpec(code="hold queued\nhold running\nsleep 1", engine="spark"))
    assert client.status(job.exec_id) is JobState.SCHEDULED
    assert client.progress(job.exec_id).progress == 0.0  # still Scheduled: status 1 from the gateway
    fake.release("queued")
    running(job)
    # Held 0.03 s into its 1.03 s: the fake sends "0.029..." as a string, and 10 tasks in a stage.
    progress = client.progress(job.exec_id)
    assert 0 < progress.progress < 0.1 and progress.stages[0].total == 10
    job.kill()


def test_log_switches_to_job_history_without_losing_or_doubling_lines(fake_factory: Callable[..., FakeLinkis]) -> None:
    fake = fake_factory(evict_after=0.3)
    client = client_for(fake)
    job = Job.submit(client, JobSpec(code="sleep 0.6\nlog WARN half way\nsleep 0.3", engine="spark"))
    seen = []
    while len(seen) < 3:
        seen.extend(job.poll().new_log)
        time.sleep(0.1)
    time.sleep(1.5)  # the job ends and leaves the entrance
    rest = job.wait(timeout=10)
    seen.extend(rest.new_log)
    # The job read the persisted log itself once the entrance had let it go.
    assert fake.count("/openLog") >= 1
    full = client.open_log(f"file:///logs/{job.task_id}.log").lines
    assert [line.text for line in seen] == full
    assert job.log().split("\n") == full
    assert [line.level for line in seen if "half way" in line.text] == ["WARN"]
    assert client.status(job.exec_id, job.task_id) is JobState.SUCCEED  # from history, with taskID
    with pytest.raises(APIError, match="Get job by ID error"):
        client.status(job.exec_id)


def test_attach_rebuilds_a_job_from_history(fake: FakeLinkis) -> None:
    client = client_for(fake)
    running = Job.submit(client, JobSpec(code="hold attached\nsleep 0.2\nrows 3", engine="spark"))
    other = client_for(fake)
    attached = Job.attach(other, running.task_id)
    assert attached.exec_id == running.exec_id and attached.state is JobState.SCHEDULED
    fake.release("attached")
    attached.wait(timeout=10)
    assert attached.log() == running.log()
    assert attached.results()[0].data["id"].tolist() == [0, 1, 2]


def test_failed_job_raises_with_code_desc_and_error_tail(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = Job.submit(client, JobSpec(code="log ERROR Table not found: t\nfail 21304 No such table t", engine="spark"))
    with pytest.raises(JobFailedError) as info:
        job.wait(timeout=10)
    err = info.value
    assert (err.task_id, err.state, err.err_code, err.err_desc) == (job.task_id, "Failed", 21304, "No such table t")
    assert "21304" in str(err) and "No such table t" in str(err)
    assert any("Table not found" in line for line in err.log_tail)
    assert any(line.startswith("\tat some.Engine") for line in err.log_tail)  # a stack line keeps ERROR
    assert "Last error lines" in "\n".join(err._render_traceback_())
    with pytest.raises(JobFailedError):
        job.results()


def test_kill_confirms_cancelled_and_is_not_sent_for_finished_jobs(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = running(Job.submit(client, JobSpec(code="sleep 0.1\nhold never", engine="spark")))
    assert job.kill() is True and job.state is JobState.CANCELLED
    with pytest.raises(JobCancelledError):
        job.wait(timeout=5)
    assert fake.count("/kill$") == 1
    done = run(client, "rows 1")
    assert done.kill() is False
    assert fake.count("/kill$") == 1


def test_context_manager_kills_on_error_and_wait_timeout(fake: FakeLinkis) -> None:
    client = client_for(fake)
    with pytest.raises(LinkisTimeoutError, match="still Running"):
        with Job.submit(client, JobSpec(code="sleep 0.1\nhold never", engine="spark")) as job:
            running(job).wait(timeout=0.4)
    assert job.state is JobState.CANCELLED
    assert fake.count("/kill$") == 1


def test_several_jobs_in_threads_on_one_client(fake: FakeLinkis) -> None:
    client = client_for(fake)
    outcome: dict[int, Any] = {}

    def one(n: int) -> None:
        try:
            job = run(client, f"sleep 0.{n}\nrows {n + 1}")
            outcome[n] = len(job.results()[0].data)
        except Exception as exc:  # reported below
            outcome[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcome == {n: n + 1 for n in range(1, 6)}
    assert fake.count("/user/login") == 1


def test_download_result_streams_csv(fake: FakeLinkis, tmp_path: Path) -> None:
    client = client_for(fake)
    job = run(client, "rows 3")
    path = client.result_files(client.job_info(job.task_id).result_location or "")[0].path
    target = client.download_result(path, tmp_path)
    assert target.read_text().splitlines() == ["id,name,score,day,flag", "0,n0,NULL,2024-01-01,false",
                                               "1,n1,0.5,2024-01-02,true", "2,n2,1.0,2024-01-03,false"]
    with pytest.raises(APIError, match="file not found"):
        client.download_result(path + "x", tmp_path / "y.csv")
    assert not (tmp_path / "y.csv").exists()


def test_snapshot_and_update_callback(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = Job.submit(client, JobSpec(code="sleep 0.4\nrows 1", engine="spark"))
    snaps = []
    final = job.wait(on_update=snaps.append, timeout=10)
    assert snaps[-1] is final and final.state is JobState.SUCCEED and final.progress == 1.0
    assert all(s.task_id == job.task_id and s.exec_id == job.exec_id for s in snaps)
    assert [s.elapsed for s in snaps] == sorted(s.elapsed for s in snaps)
    assert sum(len(s.new_log) for s in snaps) == len(job.log().split("\n"))
    assert job.poll().new_log == ()


def test_kill_without_exec_id_uses_the_task_id(fake: FakeLinkis) -> None:
    client = client_for(fake)
    job = running(Job.submit(client, JobSpec(code="sleep 0.1\nhold never", engine="spark")))
    client.kill(None, job.task_id)
    method, path, query, _headers = fake.requests[-1]
    assert (method, path, query) == ("GET", f"/api/rest_j/v1/entrance/{job.task_id}/kill", {"taskID": str(job.task_id)})
    assert client.job_info(job.task_id).state is JobState.CANCELLED
    with pytest.raises(ConfigError, match="an execID or a taskID"):
        client.kill(None, None)


def test_tls_is_verified_by_default_and_a_ca_bundle_is_used(fake_factory: Callable[..., FakeLinkis], tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        missing("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    fake = fake_factory(tls=(str(cert), str(key)))
    assert fake.url.startswith("https://")
    with pytest.raises(TransportError, match="TLS"):
        client_for(fake, retries=0).list_jobs()
    assert client_for(fake, ca_bundle=str(cert)).list_jobs() == []
    with pytest.warns(Warning, match="Unverified HTTPS"):
        assert client_for(fake, verify=False).list_jobs() == []
