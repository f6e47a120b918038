"""The entrance as strict as a stock Linkis 1.8: job history trailing the end line, the log's
numbering (cache from 0 with an empty slot, file from 1, flush duplicates), eviction by count and
the LINKISCLI heartbeat."""
from __future__ import annotations

import time

from gateway_wire import TERMINAL, Api, err, ok

END_SUCCESS = "INFO Congratulations. Your job completed with status Success."
CLI_LOST = "Job is killed because of client-server connection lost"


def login(gw) -> Api:
    api = Api(gw)
    api.login("alice", gw.password)
    return api


def submit(api: Api, code: str, creator: str = "IDE") -> tuple[str, int]:
    body = {"executionContent": {"code": code, "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": f"alice-{creator}"}}
    data = ok(api.post("/entrance/submit", body))
    return data["execID"], data["taskID"]


def log_of(api: Api, exec_id: str, from_line: int = 0, size: int = 100) -> tuple[list[str], int]:
    data = ok(api.get(f"/entrance/{exec_id}/log", fromLine=from_line, size=size))
    return data["log"][3].splitlines(), data["fromLine"]


# -- job history trails the entrance ---------------------------------------------------------

def test_history_turns_final_after_the_end_line(gateway_factory):
    api = login(gateway_factory(history_lag=1.5))
    exec_id, task_id = submit(api, "echo out; echo why >&2; exit 3")
    assert api.wait(exec_id) == "Failed"
    lines, _ = log_of(api, exec_id)
    assert lines[-1].endswith("INFO Sorry. Your job completed with a status Failed. You can view logs for the reason.")
    during = api.task(task_id)
    assert during["status"] == "Running" and during["progress"] != "1.0"
    assert during["errCode"] is None and during["errDesc"] is None
    assert during["resultLocation"] and during["logPath"]
    started = time.monotonic()
    after = api.final_task(task_id)
    assert time.monotonic() - started > 0.5
    assert after["status"] == "Failed" and after["progress"] == "1.0" and after["errDesc"]
    assert after["resultLocation"] == during["resultLocation"]


def test_history_that_never_turns_is_written_when_the_gateway_stops(gateway_factory, tmp_path):
    data_dir = tmp_path / "lagging"
    gw = gateway_factory(data_dir=data_dir, history_lag="never")
    api = login(gw)
    exec_id, task_id = submit(api, "echo kept")
    assert api.wait(exec_id) == "Succeed"
    time.sleep(1.0)
    assert api.task(task_id)["status"] == "Running"
    # The entrance answers from its own state; a taskID on an unknown path is not needed.
    assert api.status(exec_id) == "Succeed"
    gw.stop()
    api = login(gateway_factory(data_dir=data_dir))
    task = api.task(task_id)
    assert task["status"] == "Succeed" and task["progress"] == "1.0"
    log = ok(api.get("/filesystem/openLog", path=task["logPath"]))["log"][3]
    assert log.rstrip("\n").endswith(END_SUCCESS)


# -- the log's numbering ----------------------------------------------------------------------

def test_cache_reads_count_an_empty_first_slot(gateway_factory):
    api = login(gateway_factory(history_lag="never"))
    exec_id, _ = submit(api, "echo one >&2; echo three >&2")
    api.wait(exec_id)
    lines, from_line = log_of(api, exec_id)
    # Index 0 of the cache is empty: counted, not shown.
    assert from_line == len(lines) + 1
    assert log_of(api, exec_id, from_line) == ([], from_line)
    again, _ = log_of(api, exec_id, 1, 2)
    assert again == lines[:2]


def test_file_reads_count_from_one_and_repeat_the_echoed_line(gateway_factory):
    api = login(gateway_factory(history_lag=0))
    exec_id, task_id = submit(api, "echo one; echo two; echo three")
    api.wait(exec_id)
    api.final_task(task_id)   # the writer is closed: reads come from the file
    everything, total = log_of(api, exec_id, 0, 1000)
    assert total == len(everything)
    first, at = log_of(api, exec_id, 0, 3)
    assert first == everything[:3] and at == 3
    second, at = log_of(api, exec_id, at, 3)
    assert second[0] == first[-1] and second == everything[2:5] and at == 6


def test_negative_size_reads_10000_lines(gateway_factory):
    api = login(gateway_factory(history_lag=0))
    exec_id, task_id = submit(api, "seq 1 10400 >&2")
    assert api.wait(exec_id, timeout=60) == "Succeed"
    api.final_task(task_id)
    lines, from_line = log_of(api, exec_id, 0, -1)
    assert len(lines) == 10000 and from_line == 10000
    rest, end = log_of(api, exec_id, from_line, -1)
    assert rest[0] == lines[-1] and end == from_line + len(rest)


def test_flushes_write_the_boundary_line_twice(gateway_factory):
    api = login(gateway_factory(history_lag=0))
    exec_id, task_id = submit(api, "seq 1 700 >&2")
    assert api.wait(exec_id) == "Succeed"
    task = api.final_task(task_id)
    persisted = ok(api.get("/filesystem/openLog", path=task["logPath"]))["log"][3].splitlines()
    # The 500-line cache is written out when the 501st line comes, and that line is cached too.
    assert persisted[500] == persisted[501]
    assert [i for i in range(1, len(persisted)) if persisted[i] == persisted[i - 1]] == [501]


def test_reads_before_a_flush_come_from_the_file(gateway_factory):
    api = login(gateway_factory(history_lag="never"))
    exec_id, _ = submit(api, "seq 1 700 >&2")
    assert api.wait(exec_id) == "Succeed"
    # The cache was written out at line 501, which stayed cached, and 499 positions count as
    # cleared: a read from before them comes from the file (lines from 1), then from the cache
    # (line n at index n), so reading across meets line 501 twice.
    everything, _ = log_of(api, exec_id, 0, 10000)
    assert everything[500] == everything[501]
    from_file, at = log_of(api, exec_id, 10, 5)
    assert from_file == everything[9:14] and at == 15
    from_cache, at = log_of(api, exec_id, 600, 3)
    assert from_cache == everything[600:603] and at == 603


# -- eviction by count ------------------------------------------------------------------------

def test_a_group_keeps_capacity_minus_one_jobs(gateway_factory):
    api = login(gateway_factory(entrance_capacity=3, evict_after=None, history_lag=0))
    first, first_task = submit(api, "echo 1")
    api.wait(first)
    second, _ = submit(api, "echo 2")
    api.wait(second)
    other, _ = submit(api, "echo other", creator="nb")   # another group
    api.wait(other)
    time.sleep(0.5)
    assert api.status(first) == "Succeed"
    third, _ = submit(api, "echo 3")
    assert err(api.get(f"/entrance/{first}/status")).startswith("Get job by ID error")
    assert ok(api.get(f"/entrance/{first}/status", taskID=first_task))["status"] == "Succeed"
    assert err(api.get(f"/entrance/{first}/log")).startswith("The job you just executed has ended")
    assert api.status(second) == "Succeed" and api.status(other) == "Succeed"
    assert api.wait(third) == "Succeed"


def test_no_time_eviction_by_default():
    from linkis_jupyter.gateway import EmbeddedGateway

    gw = EmbeddedGateway("/nonexistent-not-started")
    assert gw.evict_after is None and gw.entrance_capacity == 1000
    assert gw.history_lag == 1.0 and gw.cli_heartbeat == 30.0 and gw.download_max_rows == 5000


# -- the LINKISCLI heartbeat ------------------------------------------------------------------

def test_cli_jobs_without_status_calls_are_killed(gateway_factory):
    # Finished jobs stay in the entrance (no time eviction): their logs are read after the wait.
    api = login(gateway_factory(cli_heartbeat=1.0, history_lag=0, evict_after=None))
    lost, lost_task = submit(api, "sleep 30", creator="LINKISCLI")
    lower, lower_task = submit(api, "sleep 30", creator="bdpclient")
    ide, _ = submit(api, "sleep 3")
    watched, _ = submit(api, "sleep 3", creator="LINKISCLI")
    deadline = time.monotonic() + 20
    while True:
        # Log, progress and job history do not count as the client's heartbeat; status does.
        log_of(api, lost)
        api.get(f"/entrance/{lost}/progress")
        watched_state = api.status(watched)
        if (api.task(lost_task)["status"] in TERMINAL and api.task(lower_task)["status"] in TERMINAL
                and watched_state in TERMINAL):
            break
        assert time.monotonic() < deadline, "the heartbeat monitor did not kill the jobs"
        time.sleep(0.2)
    assert watched_state == "Succeed"
    task = api.final_task(lost_task)
    assert task["status"] == "Cancelled" and task["errDesc"] == CLI_LOST
    assert api.final_task(lower_task)["status"] == "Cancelled"
    lines, _ = log_of(api, lost, 0, 1000)
    assert any(line.endswith(f"ERROR Sorry, your job executed failed with reason: {CLI_LOST}") for line in lines)
    assert any(line.endswith(f"ERROR {CLI_LOST}") for line in lines)
    assert lines[-1].endswith("Sorry. Your job completed with a status Cancelled. You can view logs for the reason.")
    assert api.wait(ide) == "Succeed"
