"""Submit, status, progress, log, kill and eviction, as Linkis' entrance answers them."""
from __future__ import annotations

import re
import time

import pytest
from gateway_wire import Api, err, ok

LABELS = {"engineType": "shell-1", "userCreator": "alice-IDE"}


def test_submit_answers_a_1x_exec_id_and_numeric_task_id(gateway, alice):
    r = alice.post("/entrance/submit", {"executionContent": {"code": "echo hello", "runType": "sh"},
                                        "labels": LABELS})
    body = r.json()
    assert body["method"] == "/api/entrance/submit" and body["message"] == "OK"
    exec_id, task_id = body["data"]["execID"], body["data"]["taskID"]
    assert isinstance(task_id, int) and task_id > 0
    instance = gateway.url.split("//")[1]
    m = re.fullmatch(r"exec_id(\d{3})(\d{3})linkis-cg-entrance(.+?)(IDE_alice_shell_\d+)", exec_id)
    assert m and int(m.group(1)) == len("linkis-cg-entrance") and int(m.group(2)) == len(instance)
    assert m.group(3) == instance and ":" in instance
    assert alice.wait(exec_id) == "Succeed"
    log = alice.full_log(exec_id).splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR) ", line) for line in log)
    assert log[-1].endswith("INFO Congratulations. Your job completed with status Success.")


@pytest.mark.parametrize("body, fragment", [
    ({"executionContent": {"code": "ls", "runType": "sh"}}, "labels is null"),
    ({"executionContent": {"code": "ls", "runType": "sh"}, "labels": {}}, "labels is null"),
    ({"executionContent": {"code": "   ", "runType": "sh"}, "labels": LABELS}, "executionCode cannot be empty"),
    ({"executionContent": {"runType": "sh"}, "labels": LABELS}, "executionCode cannot be empty"),
    ({"executionContent": {"code": "ls"}, "labels": {"engineType": "shell-1"}},
     "You need to specify runType in execution content, such as sql"),
    ({"executionContent": {"code": "ls", "runType": "sh"}, "labels": {"userCreator": "a-IDE"}},
     "You need to specify engineTypeLabel in labels,such as spark-3.2.1"),
])
def test_submit_validation(alice, body, fragment):
    message = err(alice.post("/entrance/submit", body))
    assert fragment in message and message.startswith("error code(错误码): ")
    assert ok(alice.get("/jobhistory/list"))["totalPage"] == 0


def test_code_type_label_stands_in_for_run_type_and_creator_comes_from_the_label(alice):
    exec_id, task_id = alice.submit("echo x", run_type="", labels={"engineType": "shell-1", "codeType": "sh",
                                                                   "userCreator": "alice-nbtest"})
    del exec_id
    task = alice.task(task_id)
    assert task["runType"] == "sh" and task["requestApplicationName"] == "nbtest"
    assert "userCreator:alice-nbtest" in task["labels"]


def test_execute_takes_the_0x_body_and_the_specs_wrapped_form(alice):
    body = {"executeApplicationName": "shell", "requestApplicationName": "IDE", "executionCode": "echo ${who}",
            "runType": "sh", "params": {"variable": {"who": "zero-x"}, "configuration": {}}}
    r = alice.post("/entrance/execute", body)
    assert r.json()["method"] == "/api/entrance/execute"
    data = ok(r)
    assert data["execID"].startswith("exec_id") and isinstance(data["taskID"], int)
    wrapped = alice.post("/entrance/execute", {"method": "/api/rest_j/v1/entrance/execute", "data": body})
    for d in (data, ok(wrapped)):
        assert alice.wait(d["execID"]) == "Succeed"
        task = alice.task(d["taskID"])
        assert task["engineType"] == "shell-1" and task["executionCode"] == "echo zero-x"
        assert alice.read(alice.results(d["taskID"])[0])["fileContent"] == [["zero-x"]]
    assert "cannot be empty" in err(alice.post("/entrance/execute", {"executeApplicationName": "shell"}))
    assert "executeApplicationName" in err(alice.post("/entrance/execute", {"executionCode": "ls"}))


def test_variables_are_substituted_at_submit(alice):
    exec_id, task_id = alice.submit("echo ${greeting} ${run_date}", params={"variable": {"greeting": "hi"}})
    assert alice.wait(exec_id) == "Succeed"
    yesterday = time.strftime("%Y%m%d", time.localtime(time.time() - 86400))
    code = alice.task(task_id)["executionCode"]
    assert code in (f"echo hi {yesterday}", f"echo hi {time.strftime('%Y%m%d', time.localtime(time.time() - 2 * 86400))}")
    assert alice.read(alice.results(task_id)[0])["fileContent"] == [[code[5:]]]


def test_failed_job_keeps_the_reason(alice):
    exec_id, task_id = alice.submit("echo to-stderr >&2; exit 3")
    assert alice.wait(exec_id) == "Failed"
    error, warn, info, everything = ok(alice.get(f"/entrance/{exec_id}/log", fromLine=0, size=-1))["log"]
    assert "Sorry, your job executed failed with reason" in error
    assert everything.splitlines()[-1].endswith(
        "INFO Sorry. Your job completed with a status Failed. You can view logs for the reason.")
    task = alice.final_task(task_id)
    assert task["status"] == "Failed" and task["errDesc"] and isinstance(task["errCode"], int)


def test_unknown_run_type_fails_clearly(alice):
    exec_id, task_id = alice.submit("println(1)", run_type="scala", engine="spark-3.2.1")
    assert alice.wait(exec_id) == "Failed"
    assert "not available in the embedded gateway" in alice.final_task(task_id)["errDesc"]


def test_log_paging_echoes_from_line(gateway_factory):
    # While the entrance's cache holds the log (the writer closes when job history is written),
    # echoing fromLine reads every line once; the cache's empty slot 0 counts but is not shown.
    gw = gateway_factory(history_lag="never")
    alice = Api(gw)
    alice.login("alice", gw.password)
    exec_id, _ = alice.submit("for i in 1 2 3 4 5; do echo line$i >&2; done")
    alice.wait(exec_id)
    everything = alice.full_log(exec_id).splitlines()
    collected, from_line = [], 0
    while True:
        data = ok(alice.get(f"/entrance/{exec_id}/log", fromLine=from_line, size=2))
        assert len(data["log"]) == 4
        chunk = data["log"][3].splitlines()
        if not chunk:
            assert data["fromLine"] == from_line
            break
        assert from_line + len(chunk) <= data["fromLine"] <= from_line + 2
        collected += chunk
        from_line = data["fromLine"]
    assert collected == everything
    default = ok(alice.get(f"/entrance/{exec_id}/log"))
    assert default["fromLine"] == len(everything) + 1
    # One string: the empty slot as Java appends a null String.
    flat = ok(alice.get(f"/entrance/{exec_id}/log", distinctLevel="false"))["log"]
    assert flat == "\n".join(["null", *everything])
    assert "fromLine" in err(alice.get(f"/entrance/{exec_id}/log", fromLine="x"))


def test_progress_before_and_after(gateway_factory):
    gw = gateway_factory(max_running_per_user=1)
    api = Api(gw)
    api.login("alice", gw.password)
    running, _ = api.submit("sleep 60")
    queued, _ = api.submit("echo later")
    api.wait_for(running, "Running")
    assert api.status(queued) == "Scheduled"
    r = api.get(f"/entrance/{queued}/progress")
    assert err(r).startswith("Can not get the corresponding progress information")
    assert r.json()["method"] == f"/api/entrance/{queued}/progress"
    data = ok(api.get(f"/entrance/{running}/progress"))
    assert 0 <= data["progress"] < 1 and data["execID"] == running
    assert all(s["totalTasks"] > 0 and set(s) == {"id", "succeedTasks", "failedTasks", "runningTasks", "totalTasks"}
               for s in data["progressInfo"])
    ok(api.get(f"/entrance/{running}/kill"))
    assert api.wait(queued) == "Succeed"
    data = ok(api.get(f"/entrance/{queued}/progress"))
    assert data["progress"] == 1.0 and data["execID"] == queued
    with_resource = ok(api.get(f"/entrance/{queued}/progressWithResource"))
    assert with_resource["progress"] == 1.0 and with_resource["yarnResource"] is None


def test_kill_stops_the_process_and_cancels_at_once(gateway, alice, tmp_path):
    pid_file = tmp_path / "pid"
    exec_id, task_id = alice.submit(f"sleep 60 & echo $! > {pid_file}; wait")
    alice.wait_for(exec_id, "Running")
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    r = alice.get(f"/entrance/{exec_id}/kill", taskID=task_id)
    assert r.json()["message"] == "Successfully killed the job(成功kill了job)"
    assert ok(r) == {"execID": exec_id}
    assert alice.status(exec_id) == "Cancelled"
    assert alice.final_task(task_id)["status"] == "Cancelled"
    assert _process_gone(pid)
    assert "Your job completed with a status Cancelled" in alice.full_log(exec_id)
    # Killing a finished job still held by the entrance answers as Linkis does, and changes nothing.
    ok(alice.get(f"/entrance/{exec_id}/kill"))
    assert alice.status(exec_id) == "Cancelled"


def _process_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


def test_kill_is_get_only_and_post_gets_springs_405(alice):
    # The website documents POST; EntranceRestfulApi maps kill to GET only.
    exec_id, _ = alice.submit("sleep 60")
    alice.wait_for(exec_id, "Running")
    r = alice.post(f"/entrance/{exec_id}/kill")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    body = r.json()
    assert set(body) == {"timestamp", "status", "error", "path"} and isinstance(body["timestamp"], int)
    assert body["status"] == 405 and body["error"] == "Method Not Allowed"
    assert body["path"] == f"/api/rest_j/v1/entrance/{exec_id}/kill"
    assert alice.status(exec_id) == "Running"
    ok(alice.get(f"/entrance/{exec_id}/kill"))
    assert alice.status(exec_id) == "Cancelled"


def test_kill_jobs_and_pause(alice):
    jobs = [alice.submit("sleep 60") for _ in range(2)]
    r = alice.post(f"/entrance/{jobs[0][0]}/killJobs",
                   {"idList": [e for e, _ in jobs], "taskIDList": [t for _, t in jobs]})
    data = ok(r)
    assert r.json()["message"] == "success"
    assert [m["status"] for m in data["messages"]] == [0, 0]
    assert all(alice.status(e) == "Cancelled" for e, _ in jobs)
    assert "does not match" in err(alice.post(f"/entrance/{jobs[0][0]}/killJobs", {"idList": ["a"], "taskIDList": []}))
    assert "please use array" in err(alice.post(f"/entrance/{jobs[0][0]}/killJobs", {"idList": "a"}))
    r = alice.get(f"/entrance/{jobs[0][0]}/pause")
    assert r.json()["message"] == "success to pause job (成功pause了job)" and ok(r) == {"execID": jobs[0][0]}
    assert "can not pause" in err(alice.get(f"/entrance/{jobs[0][0][:-1]}99999/pause"))


def test_unknown_and_garbage_exec_ids(alice):
    exec_id, _ = alice.submit("true")
    alice.wait(exec_id)
    unknown = exec_id.rsplit("_", 1)[0] + "_987654"
    assert err(alice.get(f"/entrance/{unknown}/status")).startswith("ID The corresponding job is empty")
    assert err(alice.get(f"/entrance/{unknown}/log")).startswith("Can't find execID")
    assert "progress cannot be obtained" in err(alice.get(f"/entrance/{unknown}/progress"))
    for garbage in ("nonsense", "exec_id999999x", "12"):
        err(alice.get(f"/entrance/{garbage}/status"))
        err(alice.get(f"/entrance/{garbage}/log"))
        err(alice.get(f"/entrance/{garbage}/kill"))


def test_eviction_answers_like_linkis(gateway_factory):
    gw = gateway_factory(evict_after=0.3, history_lag=0)
    api = Api(gw)
    api.login("alice", gw.password)
    exec_id, task_id = api.submit("echo done")
    assert api.wait(exec_id) == "Succeed"
    time.sleep(0.4)
    assert err(api.get(f"/entrance/{exec_id}/status")).startswith("Get job by ID error")
    assert ok(api.get(f"/entrance/{exec_id}/status", taskID=task_id))["status"] == "Succeed"
    assert err(api.get(f"/entrance/{exec_id}/log")).startswith("The job you just executed has ended")
    assert err(api.get(f"/entrance/{exec_id}/kill")).startswith("Get job by ID error, kill failed")
    r = api.get(f"/entrance/{exec_id}/kill", taskID=task_id)
    assert r.json()["message"] == "Forced Kill task (强制杀死任务)" and r.json()["status"] == 0
    # Job history and the persisted log still have everything.
    task = api.task(task_id)
    assert task["status"] == "Succeed"
    log = ok(api.get("/filesystem/openLog", path=task["logPath"]))["log"]
    assert log[3].rstrip("\n").endswith("Congratulations. Your job completed with status Success.")


def test_another_users_job_is_invisible_and_cannot_be_killed(alice, bob):
    exec_id, task_id = alice.submit("sleep 60")
    alice.wait_for(exec_id, "Running")
    assert err(bob.get(f"/entrance/{exec_id}/status")).startswith("ID The corresponding job is empty")
    assert err(bob.get(f"/entrance/{exec_id}/log")).startswith("Can't find execID")
    err(bob.get(f"/entrance/{exec_id}/progress"))
    assert "no permission to kill" in err(bob.get(f"/entrance/{exec_id}/kill", taskID=task_id))
    assert "no permission to kill" in err(bob.post(f"/entrance/{exec_id}/killJobs",
                                                  {"idList": [exec_id], "taskIDList": [task_id]}))
    assert err(bob.get(f"/jobhistory/{task_id}/get")).startswith("The corresponding job was not found")
    assert ok(bob.get("/jobhistory/list"))["totalPage"] == 0
    assert alice.status(exec_id) == "Running"
    ok(alice.get(f"/entrance/{exec_id}/kill"))


def test_per_user_limit_queues_as_scheduled(gateway_factory):
    gw = gateway_factory(max_running_per_user=1)
    alice, bob = Api(gw), Api(gw)
    alice.login("alice", gw.password)
    bob.login("bob", "bob-Secret-2")
    first, _ = alice.submit("sleep 60")
    second, _ = alice.submit("echo second")
    other, _ = bob.submit("echo bob")
    alice.wait_for(first, "Running")
    assert bob.wait(other) == "Succeed"  # another user's limit is separate
    assert alice.status(second) == "Scheduled"
    ok(alice.get(f"/entrance/{first}/kill"))
    assert alice.wait(second) == "Succeed"
    # A queued job is cancelled without ever running.
    third, _ = alice.submit("sleep 60")
    fourth, fourth_task = alice.submit("echo never")
    alice.wait_for(third, "Running")
    ok(alice.get(f"/entrance/{fourth}/kill"))
    assert alice.status(fourth) == "Cancelled" and alice.task(fourth_task)["engineStartTime"] is None
    ok(alice.get(f"/entrance/{third}/kill"))


def test_job_timeout(gateway_factory, tmp_path):
    gw = gateway_factory(job_timeout=1.0)
    api = Api(gw)
    api.login("alice", gw.password)
    pid_file = tmp_path / "pid"
    exec_id, task_id = api.submit(f"echo $$ > {pid_file}; sleep 60")
    assert api.wait(exec_id) == "Timeout"
    task = api.final_task(task_id)
    assert task["status"] == "Timeout" and "timeout" in task["errDesc"].lower()
    assert "Your job completed with a status Timeout" in api.full_log(exec_id)
    assert _process_gone(int(pid_file.read_text()))


def test_stop_ends_running_jobs(gateway_factory, tmp_path):
    data_dir = tmp_path / "shared"
    gw = gateway_factory(data_dir=data_dir)
    api = Api(gw)
    api.login("alice", gw.password)
    exec_id, task_id = api.submit("sleep 60")
    api.wait_for(exec_id, "Running")
    gw.stop()
    again = gateway_factory(data_dir=data_dir)
    api = Api(again)
    api.login("alice", again.password)
    task = api.task(task_id)
    assert task["status"] == "Failed" and "stopped" in task["errDesc"]


def test_python_and_sql_engines_give_results(alice):
    py, py_task = alice.submit("x = 40 + 2\nprint(x)", run_type="python", engine="python-python3")
    assert alice.wait(py) == "Succeed", alice.full_log(py)
    assert alice.read(alice.results(py_task)[0])["fileContent"] == [["42"]]
    sql, sql_task = alice.submit("select 1 as a, 'x' as b", run_type="sql", engine="spark-3.2.1")
    assert alice.wait(sql) == "Succeed", alice.full_log(sql)
    page = alice.read(alice.results(sql_task)[0])
    assert page["type"] == "2" and page["fileContent"] == [["1", "x"]]
    assert [c["columnName"] for c in page["metadata"]] == ["a", "b"]


def test_task_id_in_place_of_exec_id_like_linkis_1_5(alice, bob):
    exec_id, task_id = alice.submit("sleep 60")
    alice.wait_for(exec_id, "Running")
    assert ok(alice.get(f"/entrance/{task_id}/status")) == {"status": "Running", "execID": "", "taskID": str(task_id)}
    by_task = ok(alice.get(f"/entrance/{task_id}/log", size=-1))["log"][3]
    assert by_task and alice.full_log(exec_id).startswith(by_task)
    assert ok(alice.get(f"/entrance/{task_id}/progress"))["execID"] == exec_id
    assert err(bob.get(f"/entrance/{task_id}/status")) == f"taskId {task_id} is not exists."
    ok(alice.get(f"/entrance/{task_id}/kill"))
    assert alice.status(exec_id) == "Cancelled"
    assert ok(alice.get(f"/entrance/{task_id}/progress")) == {
        "progress": "1.0", "execID": "", "taskID": str(task_id), "progressInfo": []}
    assert err(alice.get(f"/entrance/{task_id}/log")).startswith("The job you just executed has ended")
    assert "already completed" in err(alice.get(f"/entrance/{task_id}/kill"))
    assert err(alice.get("/entrance/99999/status")) == "taskId 99999 is not exists."


def test_default_user_creator_is_the_user_and_ide(alice):
    data = ok(alice.post("/entrance/submit", {"executionContent": {"code": "true", "runType": "sh"},
                                             "labels": {"engineType": "shell-1"}}))
    task = alice.task(data["taskID"])
    assert "userCreator:alice-IDE" in task["labels"] and task["requestApplicationName"] == "IDE"
    assert data["execID"].endswith(f"IDE_alice_shell_{data['taskID']}")
