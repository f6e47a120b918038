"""The network between the notebook and the gateway fails: a loopback proxy in front of a gateway
that keeps running is stopped for 10 s, cuts a submit's answer, or is down when a job is killed.

The embedded gateway cannot keep a job alive across its own restart (it marks the jobs that were
running Failed when it starts again, as Linkis' entrance does), so "the gateway is unreachable"
is played by the proxy: for the client it is the same thing."""
from __future__ import annotations

import _thread
import re
import threading
import time
from typing import Any

import pytest
from fixtures.history import settled_job, settled_jobs
from fixtures.loopback_proxy import LoopbackProxy
from fixtures.shell import RecordingPublisher, task_ids

from linkis_jupyter.errors import TransportError

from fixtures.history import gateway_jobs, persisted_log, wait_for_states
from reliability_helpers import assert_one_job_per_cell, log_lines_shown

pytestmark = pytest.mark.timeout(90)

OUTAGE = 10.0


def connect_through(ip: Any, proxy: Any, gateway: Any) -> None:
    ip.run_line_magic("linkis", f"connect {proxy.url} --user {gateway.user} --token {gateway.token}")


def test_ten_seconds_unreachable_mid_job_the_cell_waits_then_finishes(ip: Any, gateway_factory: Any,
                                                                       request_log: Any, output: Any) -> None:
    # The entrance lets a finished job go 2 s after its end (as a busy Linkis does once its
    # capacity is reached). The gateway stays unreachable for 10 s, and until the job has ended
    # and left the entrance: the rest of its log and its state come from job history afterwards.
    gateway = gateway_factory(evict_after=2.0)
    proxy = LoopbackProxy(gateway.url)
    outages: list[threading.Thread] = []

    def reopen(task_id: int) -> None:
        time.sleep(OUTAGE)
        settled_job(gateway, task_id)
        deadline = time.monotonic() + 30
        while gateway.jobs.get_by_task(task_id) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        proxy.start()

    def hook(record: dict[str, Any]) -> None:
        text = record["data"].get("text/plain", "")
        if not outages and " · Running" in text:
            proxy.stop()
            (task_id,) = task_ids([text])
            outages.append(threading.Thread(target=reopen, args=(task_id,), daemon=True))
            outages[0].start()

    try:
        connect_through(ip, proxy, gateway)
        recorder = RecordingPublisher(ip, hook)
        ip.display_pub = recorder
        code = ("for i in $(seq 1 30); do echo \"log line $i\" >&2; sleep 0.1; done\n"
                "echo 'result after the outage'")
        ip.run_cell_magic("linkis", "-e shell --progress text --log all --timeout 80", code)
    finally:
        for thread in outages:
            thread.join(60)
        proxy.close()
    assert outages, "the job was never seen running"
    out, _err = output.read()
    assert out.count("result after the outage") == 1
    texts = recorder.texts()
    notes = [t for t in texts if "gateway unreachable, retrying" in t]
    assert notes, texts
    (task_id,) = task_ids(texts)
    assert texts[-1].startswith(f"Linkis task {task_id} · Succeed")
    (task,) = assert_one_job_per_cell(gateway, [code])
    assert task["status"] == "Succeed"
    # After the outage the entrance refused the job it had let go (Linkis answers a log read for
    # it with HTTP 400), and the cell went to job history for its state and the rest of its log.
    asked = [(path, status) for _m, path, status in request_log.seen]
    refused = [i for i, (path, status) in enumerate(asked)
               if re.fullmatch(r"/entrance/[^/]+/(log|status)", path) and status == 400]
    assert refused, asked
    assert (f"/jobhistory/{task_id}/get", 200) in asked[refused[0]:], asked
    assert ("/filesystem/openLog", 200) in asked[refused[0]:], asked
    # Every log line shown once, in order, none lost across the outage.
    assert log_lines_shown(recorder) == persisted_log(gateway, task)
    assert sum("log line" in line for line in log_lines_shown(recorder)) == 30


def test_kill_while_unreachable_names_the_task_and_works_once_back(ip: Any, gateway: Any, proxy: Any,
                                                                   output: Any) -> None:
    connect_through(ip, proxy, gateway)
    timers: list[threading.Timer] = []

    def hook(record: dict[str, Any]) -> None:
        if not timers and " · Running" in record["data"].get("text/plain", ""):
            proxy.stop()
            timer = threading.Timer(0.5, _thread.interrupt_main)
            timers.append(timer)
            timer.start()

    recorder = RecordingPublisher(ip, hook)
    ip.display_pub = recorder
    result = ip.run_cell("%%linkis -e shell --progress text --log none --timeout 60\nsleep 60")
    for timer in timers:
        timer.join(5)
    assert timers, "the job was never seen running"
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    (task_id,) = task_ids(recorder.texts())
    _out, err = output.read()
    assert f"Linkis job {task_id} may still be running" in err
    assert "could not be reached" in err and f"`%linkis kill {task_id}`" in err
    assert [j["status"] for j in gateway_jobs(gateway)] == ["Running"]

    proxy.start()
    ip.run_line_magic("linkis", f"kill {task_id}")
    out, _err = output.read()
    assert f"Linkis job {task_id} cancelled" in out
    assert [j["status"] for j in settled_jobs(gateway)] == ["Cancelled"]


def test_a_lost_submit_answer_is_followed_not_sent_again(ip: Any, gateway: Any, proxy: Any, output: Any) -> None:
    connect_through(ip, proxy, gateway)
    # The gateway makes the job, then the connection is cut before its answer gets back.
    proxy.drop_answer(r"^POST \S*/entrance/execute")
    first = ip.run_cell_magic("linkis", "--progress none --log none --timeout 60", "select 5 as five")
    assert first["five"].tolist() == [5]
    assert sum(r.startswith("POST") and "/entrance/execute" in r for r in proxy.requests) == 1
    # The connection is cut before the gateway sees the submit: no job, so it is sent once more.
    gateway.faults.set(drop_rate=1.0, paths=r"/entrance/execute", count=1)
    second = ip.run_cell_magic("linkis", "--progress none --log none --timeout 60", "select 6 as six")
    assert second["six"].tolist() == [6]
    assert gateway.faults.injected["drop"] == 1
    gateway.faults.clear()
    assert sum(r.startswith("POST") and "/entrance/execute" in r for r in proxy.requests) == 3
    assert_one_job_per_cell(gateway, ["select 5 as five", "select 6 as six"])


def test_a_submit_answered_after_the_read_timeout_is_followed(ip: Any, gateway: Any, request_log: Any,
                                                             output: Any) -> None:
    # `%config` on a connected client changes how long it waits: the submit's answer comes 0.5 s
    # after the 2 s read timeout, not within the 60 s default.
    ip.run_line_magic("linkis", f"connect {gateway.url} --user {gateway.user} --token {gateway.token}")
    ip.run_line_magic("config", "LinkisClient.read_timeout = 2.0")
    before = len(request_log.seen)
    gateway.faults.set(stall_rate=1.0, stall_seconds=2.5, paths=r"/entrance/execute", count=1)
    ip.run_cell_magic("linkis", "-e shell --progress none --log none --timeout 60", "echo seven")
    assert gateway.faults.injected["stall"] == 1
    gateway.faults.clear()
    out, _err = output.read()
    assert out.count("seven") == 1
    # The client stopped waiting for the answer and looked for its job in job history, where the
    # submit had put it, instead of sending it again.
    asked = [path for _m, path, _s in request_log.seen[before:]]
    assert asked.count("/entrance/execute") == 1, asked
    assert "/jobhistory/list" in asked, asked
    wait_for_states(gateway, {"Succeed"})
    assert_one_job_per_cell(gateway, ["echo seven"])


def test_unreachable_longer_than_the_client_waits_then_attach(ip: Any, gateway: Any, proxy: Any, output: Any) -> None:
    connect_through(ip, proxy, gateway)
    ip.run_line_magic("config", "LinkisClient.unreachable_timeout = 1.0")
    stopped: list[bool] = []

    def hook(record: dict[str, Any]) -> None:
        if not stopped and " · Running" in record["data"].get("text/plain", ""):
            stopped.append(True)
            proxy.stop()

    recorder = RecordingPublisher(ip, hook)
    ip.display_pub = recorder
    with pytest.raises(TransportError) as info:
        ip.run_cell_magic("linkis", "-e shell --progress text --log none --timeout 60",
                          "sleep 2; echo 'finished while nobody waited'")
    assert "cannot connect to the Linkis gateway" in str(info.value) and proxy.url in str(info.value)
    (task_id,) = task_ids(recorder.texts())
    assert recorder.texts()[-1].endswith(f"stopped waiting; `%linkis attach {task_id}` follows it again")
    proxy.start()
    ip.run_line_magic("linkis", f"attach {task_id} --progress none --log none")
    out, _err = output.read()
    assert "finished while nobody waited" in out
    assert_one_job_per_cell(gateway, ["sleep 2; echo 'finished while nobody waited'"])
