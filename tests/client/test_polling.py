"""How a job is followed: one request a poll, the state before the end from the log's own lines,
the progress between polls, and an end seen by whichever request comes first."""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from poll_schedule import scheduled_polls

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import JobFailedError
from linkis_jupyter.job import Job, JobSnapshot
from linkis_jupyter.spec import JobSpec

pytestmark = pytest.mark.timeout(90)


def client_for(gw: Any, **settings: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gw.url, user=gw.user, token=gw.token, **settings)


def follow(client: LinkisClient, code: str, engine: str = "shell") -> tuple[Job, list[JobSnapshot]]:
    job = Job.submit(client, JobSpec(code=code, engine=engine))
    snaps: list[JobSnapshot] = []
    try:
        job.wait(on_update=snaps.append, timeout=60)
    except JobFailedError:
        pass
    return job, snaps


def test_a_running_job_costs_one_request_a_poll(gateway: Any, request_log: Any) -> None:
    client = client_for(gateway, progress_interval=1.0)
    began = time.monotonic()
    job, snaps = follow(client, "sleep 3; echo done")
    waited = time.monotonic() - began  # about 3 s; longer on a busy machine, and the bounds with it
    exec_path = f"/entrance/{job.exec_id}"
    # The log said the job runs: no /status until the log's end line, then one.
    assert JobState.RUNNING in [snap.state for snap in snaps]
    assert request_log.paths(f"^{exec_path}/status$") == [f"{exec_path}/status"]
    # The progress is read between polls, about every progress_interval, with the job's resources.
    progress = request_log.count(f"^{exec_path}/progressWithResource$")
    assert 2 <= progress <= waited / 1.0 + 1
    # Every other request is a log read, one a poll: the schedule's (18 in 3 s), and the read of
    # the last lines once the end is known.
    asked = request_log.paths(f"^{exec_path}/")
    polls = request_log.count(f"^{exec_path}/log$")
    assert len(asked) == polls + progress + 1
    assert polls <= scheduled_polls(waited) + 1


def test_the_log_says_when_a_queued_job_starts(gateway_factory: Callable[..., Any], request_log: Any) -> None:
    gw = gateway_factory(max_running_per_user=1)
    client = client_for(gw, progress_interval=0.5)
    first = Job.submit(client, JobSpec(code="sleep 2", engine="shell"))
    second, snaps = follow(client, "sleep 1; echo second")
    first.wait(timeout=30)
    states = [snap.state for snap in snaps]
    assert states.index(JobState.SCHEDULED) < states.index(JobState.RUNNING) < states.index(JobState.SUCCEED)
    # While its log had not said it runs, the state was read between polls, not the progress.
    assert request_log.count(f"^/entrance/{second.exec_id}/status$") >= 2


@pytest.mark.parametrize("code, state", [("sleep 1; echo done", JobState.SUCCEED), ("sleep 1; exit 3", JobState.FAILED)])
def test_a_read_between_polls_brings_the_end_forward(gateway: Any, request_log: Any, code: str,
                                                     state: JobState) -> None:
    # Polls 30 s apart; a progress or state read every 0.5 s between them.
    client = client_for(gateway, poll_interval_min=30.0, poll_interval_max=30.0, progress_interval=0.5)
    job = Job.submit(client, JobSpec(code=code, engine="shell"))
    # The first poll is due 30 s after the submit; a job that ends in about 1 s is over long before.
    snaps: list[JobSnapshot] = []
    try:
        job.wait(on_update=snaps.append, timeout=25)
    except JobFailedError:
        pass
    assert job.state is state and snaps[-1].state is state
    # The end came from a read between polls: the log was read for the first time once it had.
    reads = [path.rsplit("/", 1)[1] for path in request_log.paths(f"^/entrance/{job.exec_id}/")]
    assert "log" in reads and set(reads[:reads.index("log")]) <= {"status", "progressWithResource"}, reads
    # The last lines of the log arrived all the same.
    assert any("completed with" in line.text for snap in snaps for line in snap.new_log)


def test_only_the_heartbeat_creators_get_a_status_every_status_interval(gateway: Any, request_log: Any) -> None:
    client = client_for(gateway, status_interval=0.5, progress_interval=10.0)
    ide, _ = follow(client, "sleep 2")
    assert request_log.count(f"^/entrance/{ide.exec_id}/status$") == 1
    cli = Job.submit(client, JobSpec(code="sleep 2", engine="shell", creator="LINKISCLI"))
    cli.wait(timeout=30)
    assert request_log.count(f"^/entrance/{cli.exec_id}/status$") >= 3


def test_a_gateway_without_progress_with_resource_gets_progress(proxy: Any, gateway: Any, request_log: Any) -> None:
    # Linkis before 1.1.2 has no progressWithResource: Spring answers 404, once is enough.
    spring_404 = '{"timestamp":"2026-12-01T10:00:00.000+00:00","status":404,"error":"Not Found","path":"/api/x"}'
    proxy.answer(r"/progressWithResource", 404, "application/json", spring_404)
    client = LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token, progress_interval=0.5)
    job, snaps = follow(client, "sleep 2; echo done")
    assert job.state is JobState.SUCCEED
    assert request_log.count(f"^/entrance/{job.exec_id}/progressWithResource$") == 0
    assert request_log.count(f"^/entrance/{job.exec_id}/progress$") >= 2


def test_a_0x_gateway_gets_progress(gateway_factory: Callable[..., Any], request_log: Any) -> None:
    gw = gateway_factory(profile="0.x")
    client = LinkisClient(gateway_url=gw.url, user=gw.user, password=gw.password, progress_interval=0.5)
    job, _ = follow(client, "sleep 2; echo done")
    assert job.state is JobState.SUCCEED
    assert request_log.count(f"^/entrance/{job.exec_id}/progressWithResource$") == 1
    assert request_log.count(f"^/entrance/{job.exec_id}/progress$") >= 2
