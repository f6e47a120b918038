"""The client against the embedded gateway behaving as a stock Linkis 1.8 (its default): engine
versions, token checks, the three ways of proxy users, the end of a job, logs and the entrance's
refusals, each as Linkis' own source has them (shared/linkis-api.md)."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from fixtures.history import settled_job
from poll_schedule import scheduled_polls

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import AuthError, ConfigError, JobFailedError, ValidationError
from linkis_jupyter.job import Job
from linkis_jupyter.spec import JobSpec

pytestmark = pytest.mark.timeout(90)

ADMIN_TOKEN = "ADMIN-test-Token-Secret"


def token_client(gw: Any, **kwargs: Any) -> LinkisClient:
    kwargs.setdefault("token", gw.token)
    return LinkisClient(gateway_url=gw.url, user=kwargs.pop("user", gw.user), **kwargs)


def password_client(gw: Any, **kwargs: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gw.url, user=gw.user, password=gw.password, **kwargs)


def run(client: LinkisClient, code: str, engine: str = "spark", timeout: float = 45, **spec: Any) -> Job:
    job = Job.submit(client, JobSpec(code=code, engine=engine, **spec))
    job.wait(timeout=timeout)
    return job


# -- 1. engine versions -----------------------------------------------------------------------------

def test_an_engine_without_a_version_runs_on_the_servers_own(gateway: Any, request_log: Any) -> None:
    client = token_client(gateway)
    job = run(client, "select 1 as one", engine="spark")
    assert request_log.paths("^/entrance/(submit|execute)$") == ["/entrance/execute"]
    assert client.job_info(job.task_id).engine_type == "spark-3.2.1"
    versioned = run(client, "select 2 as two", engine="spark-3.2.1")
    configured = run(token_client(gateway, engine_versions={"hive": "3.1.3"}), "select 3 as three", engine="hive")
    assert request_log.paths("^/entrance/(submit|execute)$")[1:] == ["/entrance/submit", "/entrance/submit"]
    assert client.job_info(configured.task_id).engine_type == "hive-3.1.3"
    assert versioned.results()[0].dataframe["two"].tolist() == [2]


def test_a_version_the_site_does_not_have_fails_as_linkis_fails_it(gateway: Any) -> None:
    with pytest.raises(JobFailedError) as failed:
        run(token_client(gateway), "select 1", engine="spark-2.4.3")
    assert failed.value.err_code == 31002 and "EngineTypeLabel" in str(failed.value)


# -- 2. token connections ---------------------------------------------------------------------------

def test_a_token_is_checked_where_linkis_honours_tokens(gateway: Any, request_log: Any) -> None:
    assert token_client(gateway).check() == gateway.user
    assert "/user/userInfo" not in request_log.paths()
    with pytest.raises(AuthError):
        token_client(gateway, token="not-the-Token").check()
    # /user/* reads only the session cookie, as Linkis' SecurityFilter does.
    with pytest.raises(Exception, match="not logged in"):
        token_client(gateway).user_info()


# -- 3. proxy users ---------------------------------------------------------------------------------

@pytest.fixture
def proxy_conf(tmp_path: Path) -> Path:
    conf = tmp_path / "proxy.properties"
    conf.write_text("proxy-Code-Secret=bob,carol\n")
    return conf


def test_proxy_user_by_execute_user_with_an_admin_token(gateway_factory: Callable[..., Any]) -> None:
    gw = gateway_factory(tokens={ADMIN_TOKEN: "*", "plain-Token-Secret": "*"})
    admin = token_client(gw, token=ADMIN_TOKEN, proxy_user="carol", engine_versions={"spark": "3.2.1"})
    assert admin.proxy_method == "execute_user"
    job = run(admin, "select 1 as one")
    info = admin.job_info(job.task_id)
    assert (info.execute_user, info.um_user) == ("carol", gw.user)
    plain = token_client(gw, token="plain-Token-Secret", proxy_user="carol", engine_versions={"spark": "3.2.1"})
    with pytest.raises(ValidationError) as refused:
        Job.submit(plain, JobSpec(code="select 1", engine="spark"))
    message = str(refused.value)
    assert "50080" in message and "admin token" in message and "\n" not in message
    assert "plain-Token-Secret" not in message


def test_proxy_user_by_login_after_a_password(gateway_factory: Callable[..., Any], proxy_conf: Path) -> None:
    gw = gateway_factory(proxy_config=proxy_conf)
    client = password_client(gw, proxy_user="bob", validation_code="proxy-Code-Secret")
    assert client.proxy_method == "login"
    info = client.job_info(run(client, "select 1 as one").task_id)
    assert info.execute_user == "bob"
    # The same on a gateway without proxy users: refused at login, nothing runs.
    plain = gateway_factory()
    with pytest.raises(AuthError, match="proxy login"):
        password_client(plain, proxy_user="bob", validation_code="proxy-Code-Secret").list_jobs()


def test_proxy_headers_only_where_the_gateway_reads_them(gateway_factory: Callable[..., Any], proxy_conf: Path) -> None:
    gw = gateway_factory(proxy_config=proxy_conf, proxy_headers=True)
    client = password_client(gw, proxy_user="bob", validation_code="proxy-Code-Secret", proxy_mode="headers")
    assert client.job_info(run(client, "select 1 as one", engine="spark-3.2.1").task_id).execute_user == "bob"
    # A stock gateway ignores the headers and refuses the label (50080): the message names the setting.
    stock = gateway_factory(proxy_config=proxy_conf)
    client = password_client(stock, proxy_user="bob", validation_code="proxy-Code-Secret", proxy_mode="headers")
    with pytest.raises(ValidationError, match="proxy_mode") as refused:
        Job.submit(client, JobSpec(code="select 1", engine="spark-3.2.1"))
    assert "proxy-Code-Secret" not in str(refused.value)


def test_impossible_proxy_combinations_are_refused_before_sending(gateway: Any, request_log: Any) -> None:
    with pytest.raises(ConfigError, match="needs password auth"):
        token_client(gateway, proxy_user="bob", proxy_mode="login").list_jobs()
    with pytest.raises(ConfigError, match="needs token auth"):
        password_client(gateway, proxy_user="bob", proxy_mode="execute_user").list_jobs()
    assert request_log.seen == []


# -- 5. the end of a job ------------------------------------------------------------------------------

def test_a_history_that_never_flips_does_not_hang_the_wait(gateway_factory: Callable[..., Any],
                                                          request_log: Any) -> None:
    gw = gateway_factory(history_lag=-1)
    client = token_client(gw)
    job = run(client, "select 7 as seven", timeout=20)
    assert job.state is JobState.SUCCEED and client.job_info(job.task_id).state is JobState.RUNNING
    assert job.results()[0].dataframe["seven"].tolist() == [7]
    # After the log's end line the entrance is asked, once; job history is not polled for the state.
    assert len(request_log.paths(r"^/jobhistory/\d+/get$")) <= 2


def test_a_job_printing_the_end_phrase_is_followed_to_its_real_end(gateway: Any, request_log: Any) -> None:
    client = token_client(gateway)
    code = "echo 'note: Your job completed with status Success.' >&2; sleep 2; echo done"
    began = time.monotonic()
    job = run(client, code, engine="shell")
    waited = time.monotonic() - began
    assert "done" in str(job.results()[0].data)
    # Nothing polled faster than the schedule while the job slept on: the schedule's log reads
    # over the time it took, the read of the last lines, one status and one job history read.
    asked = request_log.paths(r"^/entrance/[^/]+/(status|log)$|^/jobhistory/")
    assert len(asked) <= scheduled_polls(waited) + 4, asked


def test_heartbeat_creators_are_asked_for_status_in_time(gateway_factory: Callable[..., Any]) -> None:
    gw = gateway_factory(cli_heartbeat=3.0)
    client = token_client(gw, status_interval=1.0)
    job = run(client, "sleep 4; echo alive", engine="shell", creator="LINKISCLI")
    assert "alive" in str(job.results()[0].data)
    assert LinkisClient().status_interval < 30  # Linkis' own threshold


# -- 7. and 8. logs and the entrance's refusals -----------------------------------------------------

def test_a_long_log_arrives_whole_and_once(gateway: Any) -> None:
    client = token_client(gateway)
    code = "for i in $(seq 1 12500); do echo \"line $i\" >&2; done; echo ok"
    job = Job.submit(client, JobSpec(code=code, engine="shell"))
    seen: list[str] = []
    job.wait(on_update=lambda snap: seen.extend(line.text for line in snap.new_log), timeout=60)
    # The entrance's reads repeat lines and skip some where its cache meets its file (1.6+): each
    # line reaches the cell once, the skipped ones once the job has ended, from the persisted log.
    def numbers(texts: list[str]) -> list[int]:
        return [int(m.group(1)) for text in texts for m in [re.search(r"\bline (\d+)$", text)] if m]

    assert sorted(numbers(seen)) == list(range(1, 12501))
    assert len(seen) == len(set(seen)), "a log line was shown twice"
    assert numbers([line.text for line in job.log_lines()]) == list(range(1, 12501))


def test_a_passing_refusal_of_the_log_keeps_the_job_in_the_entrance(gateway: Any, request_log: Any) -> None:
    client = token_client(gateway)
    job = Job.submit(client, JobSpec(code="sleep 1; echo ok", engine="shell"))
    gateway.faults.set(refuse_rate=1.0, paths=r"/entrance/[^/]+/log", count=1)
    try:
        job.wait(timeout=30)
    finally:
        gateway.faults.clear()
    assert gateway.faults.injected["refuse"] == 1
    assert "Your job completed with status Success" in job.log()
    assert not request_log.paths("^/filesystem/openLog$")


def test_a_log_too_big_to_open_leaves_a_successful_job_successful(gateway_factory: Callable[..., Any]) -> None:
    gw = gateway_factory(log_size_limit=2000, evict_after=0.1)
    client = token_client(gw)
    job = Job.submit(client, JobSpec(code="for i in $(seq 1 100); do echo \"noise $i\" >&2; done", engine="shell"))
    settled_job(gw, job.task_id)  # history is final a second after the end: the entrance has let it go
    snap = job.wait(timeout=30)
    assert snap.state is JobState.SUCCEED and "80033" in snap.note
    assert job.log() is not None


# -- 10. the smaller ones ---------------------------------------------------------------------------

def test_a_user_name_with_a_dash_is_refused_before_submit(gateway: Any, request_log: Any) -> None:
    client = token_client(gateway, user="data-eng")
    with pytest.raises(ConfigError, match="'-'"):
        Job.submit(client, JobSpec(code="select 1", engine="spark"))
    assert not request_log.paths("^/entrance/")


def test_auto_falls_back_to_execute_on_a_0x_gateway_with_several_entrances(gateway_factory: Callable[..., Any]) -> None:
    gw = gateway_factory(profile="0.x")
    client = password_client(gw, engine_versions={"spark": "2.4.3"})
    job = run(client, "select 5 as five")
    assert job.results()[0].dataframe["five"].tolist() == [5]
    assert client._api_answer == "execute"
