"""Job history, result sets, logs and downloads; path escapes; history across a restart."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time

import requests
from gateway_wire import Api, err, ok

from linkis_jupyter.gateway import dolphin

TASK_FIELDS = {"taskID", "status", "progress", "logPath", "resultLocation", "errCode", "errDesc",
               "executionCode", "engineType", "runType", "createdTime", "updatedTime", "costTime",
               "execId", "strongerExecId", "umUser", "executeUser", "labels"}


def test_jobhistory_get_while_running_and_after(alice):
    exec_id, task_id = alice.submit("sleep 60")
    alice.wait_for(exec_id, "Running")
    task = alice.task(task_id)
    assert TASK_FIELDS <= set(task)
    assert task["status"] == "Running" and task["errCode"] is None and task["errDesc"] is None
    assert isinstance(task["progress"], str) and float(task["progress"]) < 1
    assert isinstance(task["createdTime"], int) and task["createdTime"] > 1_600_000_000_000
    assert task["strongerExecId"] == exec_id and exec_id.endswith(task["execId"])
    assert task["umUser"] == task["executeUser"] == "alice"
    ok(alice.get(f"/entrance/{exec_id}/kill"))
    task = alice.final_task(task_id)
    assert task["status"] == "Cancelled" and task["progress"] == "1.0"
    assert task["updatedTime"] >= task["createdTime"]
    assert alice.task(task_id) == ok(alice.get(f"/jobhistory/{task_id}/get"))["task"]


def test_jobhistory_errors(alice):
    assert err(alice.get("/jobhistory/424242/get")).startswith("The corresponding job was not found")
    err(alice.get("/jobhistory/abc/get"))


def test_jobhistory_list_pages_and_filters(alice, bob):
    jobs = [alice.submit(f"echo {i}") for i in range(3)] + [alice.submit("exit 1")]
    for _exec_id, task_id in jobs:
        alice.final_task(task_id)
    bob.final_task(bob.submit("echo bob")[1])
    data = ok(alice.get("/jobhistory/list", pageNow=1, pageSize=2))
    assert data["totalPage"] == 4 and len(data["tasks"]) == 2
    assert data["tasks"][0]["taskID"] > data["tasks"][1]["taskID"]
    rest = ok(alice.get("/jobhistory/list", pageNow=2, pageSize=2))["tasks"]
    # The two pages are alice's four jobs, newest first, each once.
    assert [t["taskID"] for t in data["tasks"] + rest] == sorted((task for _e, task in jobs), reverse=True)
    assert all(t["executeUser"] == "alice" for t in data["tasks"] + rest)
    failed = ok(alice.get("/jobhistory/list", status="Failed"))
    assert failed["totalPage"] == 1 and failed["tasks"][0]["status"] == "Failed"
    assert ok(alice.get("/jobhistory/list", executeApplicationName="shell"))["totalPage"] == 4
    assert ok(alice.get("/jobhistory/list", creator="LINKISCLI"))["totalPage"] == 0


def test_no_results_gives_null_tree(alice):
    exec_id, task_id = alice.submit("true")
    assert alice.wait(exec_id) == "Succeed"
    r = alice.get("/filesystem/getDirFileTrees", path=alice.task(task_id)["resultLocation"])
    assert ok(r) == {"dirFileTrees": None}
    assert "80004" in err(alice.get("/filesystem/getDirFileTrees", path=""))
    assert "80004" in err(alice.get("/filesystem/openFile"))


def test_tree_children_are_in_filesystem_order(gateway, alice):
    exec_id, task_id = alice.submit("echo x")
    alice.wait(exec_id)
    location = alice.task(task_id)["resultLocation"]
    directory = location[len("file://"):]
    for n in (1, 2, 10, 3):
        dolphin.write_result_set(os.path.join(directory, f"_{n}.dolphin"), dolphin.TEXT, None, [[str(n)]])
    tree = ok(alice.get("/filesystem/getDirFileTrees", path=location))["dirFileTrees"]
    names = [c["name"] for c in tree["children"]]
    assert names == [e.name for e in os.scandir(directory)]
    assert sorted(names) == ["_0.dolphin", "_1.dolphin", "_10.dolphin", "_2.dolphin", "_3.dolphin"]
    child = tree["children"][0]
    assert child["isLeaf"] and child["path"].startswith("file:///") and child["parentPath"] == location
    assert int(child["properties"]["size"]) > 0 and int(child["properties"]["modifytime"]) > 0
    assert [alice.read(p)["fileContent"] for p in alice.results(task_id)] == [
        [["x"]], [["1"]], [["2"]], [["3"]], [["10"]]]


def test_open_file_pages_a_20000_row_table(gateway, alice):
    exec_id, task_id = alice.submit("seq 20000")
    assert alice.wait(exec_id) == "Succeed"
    table = os.path.join(alice.task(task_id)["resultLocation"][len("file://"):], "_1.dolphin")
    columns = [{"columnName": "n", "comment": "NULL", "dataType": "int"},
               {"columnName": "s", "comment": "NULL", "dataType": "string"}]
    dolphin.write_result_set(table, dolphin.TABLE, columns,
                             ([str(i), None if i % 1000 == 0 else f"row {i}"] for i in range(20000)))
    text_path, table_path = alice.results(task_id)
    first = alice.read(text_path)
    assert first["type"] == "1" and first["totalLine"] == 5000 and first["totalPage"] == 0
    assert first["page"] == 1 and first["fileContent"][0] == ["1"] and isinstance(first["metadata"], str)
    rows, page = [], 1
    while True:
        data = alice.read(table_path, page=page, pageSize=6000)
        assert data["totalLine"] == len(data["fileContent"]) and data["totalPage"] == 0
        if not data["fileContent"]:
            break
        assert data["type"] == "2" and data["metadata"] == columns and data["totalColumn"] == 2
        rows += data["fileContent"]
        page += 1
    assert page == 5 and len(rows) == 20000
    assert rows[0] == ["0", "NULL"] and rows[19999] == ["19999", "row 19999"]
    assert alice.read(table_path, page=2, pageSize=3, nullValue="LINKIS_NULL")["fileContent"][0] == ["3", "row 3"]
    assert "80034" in err(alice.get("/filesystem/openFile", path=table_path, pageSize=100001))
    assert len(alice.read(table_path, pageSize=100000)["fileContent"]) == 20000
    # Downloaded as CSV: a header, then the first 5000 rows, as Linkis caps a download without
    # limit; limit > 0 replaces the cap.
    r = alice.s.get(alice.base + "/filesystem/resultsetToExcel",
                    params={"path": table_path, "outputFileName": "numbers"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Disposition"] == "attachment;filename=numbers.csv"
    parsed = list(csv.reader(io.StringIO(r.content.decode())))
    assert parsed[0] == ["n", "s"] and len(parsed) == 5001 and parsed[1001] == ["1000", "NULL"]
    r = alice.s.get(alice.base + "/filesystem/resultsetToExcel",
                    params={"path": table_path, "limit": 20000}, timeout=30)
    parsed = list(csv.reader(io.StringIO(r.content.decode())))
    assert len(parsed) == 20001 and parsed[20000] == ["19999", "row 19999"]
    limited = alice.s.get(alice.base + "/filesystem/resultsetToExcel",
                          params={"path": table_path, "limit": 10, "csvSeparator": ";"}, timeout=30)
    assert limited.text.splitlines()[:2] == ["n;s", "0;NULL"] and len(limited.text.splitlines()) == 11


def test_paths_outside_the_users_area_are_refused(gateway, alice, bob, tmp_path):
    exec_id, task_id = alice.submit("echo secret")
    alice.wait(exec_id)
    task = alice.task(task_id)
    own = alice.results(task_id)[0]
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    area = str(gateway.data_dir / "users" / "alice")
    link = os.path.join(area, "escape")
    os.symlink(tmp_path, link)
    attempts = [
        "/etc/passwd", "file:///etc/passwd", str(outside), own.replace("/alice/", "/alice/../alice/"),
        area + "/../bob", "file://" + link + "/outside.txt", "hdfs:///tmp/linkis/alice", "relative/path",
    ]
    def refused(r):
        # resultsetToExcel answers every error as HTTP 200 text, as Linkis does.
        if r.request.path_url.split("?")[0].endswith("/resultsetToExcel"):
            assert r.status_code == 200 and r.text.startswith("error(错误):errCode: 80010 ,desc: ")
            return r.text
        return err(r)

    for path in attempts:
        for endpoint in ("openFile", "openLog", "getDirFileTrees", "resultsetToExcel"):
            r = alice.get(f"/filesystem/{endpoint}", path=path)
            assert "80010" in refused(r), (endpoint, path)
            assert "not yours" not in r.text and "root:" not in r.text
    for endpoint in ("openFile", "openLog", "resultsetToExcel"):
        assert "80010" in refused(bob.get(f"/filesystem/{endpoint}", path=own))
    assert "80010" in err(bob.get("/filesystem/openLog", path=task["logPath"]))
    assert "80010" in err(bob.get("/filesystem/getDirFileTrees", path=task["resultLocation"]))


def test_open_log_splits_levels(alice):
    exec_id, task_id = alice.submit("echo warned >&2; exit 2")
    alice.wait(exec_id)
    # The entrance writes the whole log file by the time job history has the end.
    error, warn, info, everything = ok(alice.get("/filesystem/openLog", path=alice.final_task(task_id)["logPath"]))["log"]
    assert "WARN warned" in warn and "WARN" not in info and "ERROR Sorry" in error
    assert everything.endswith("You can view logs for the reason.\n")
    assert everything.count("\n") == sum(part.count("\n") for part in (error, warn, info))
    only_warn = ok(alice.get("/filesystem/openLog", path=alice.task(task_id)["logPath"], logLevel="warn"))["log"]
    assert only_warn[1] == warn and only_warn[0] == only_warn[2] == only_warn[3] == ""


def test_restart_keeps_history_logs_and_results(gateway_factory, tmp_path):
    data_dir = tmp_path / "kept"
    gw = gateway_factory(data_dir=data_dir)
    api = Api(gw)
    api.login("alice", gw.password)
    exec_id, task_id = api.submit("echo persisted")
    assert api.wait(exec_id) == "Succeed"
    before = api.final_task(task_id)
    gw.stop()
    gw = gateway_factory(data_dir=data_dir)
    api = Api(gw)
    api.login("alice", gw.password)
    after = api.task(task_id)
    for key in ("status", "logPath", "resultLocation", "executionCode", "createdTime", "strongerExecId"):
        assert after[key] == before[key]
    assert api.read(api.results(task_id)[0])["fileContent"] == [["persisted"]]
    assert "Congratulations" in ok(api.get("/filesystem/openLog", path=after["logPath"]))["log"][3]
    # The old execID belongs to an entrance that is gone.
    assert err(api.get(f"/entrance/{exec_id}/status")).startswith("Get job by ID error")
    assert ok(api.get(f"/entrance/{exec_id}/status", taskID=task_id))["status"] == "Succeed"
    new_exec, new_task = api.submit("echo next")
    assert new_task > task_id and api.wait(new_exec) == "Succeed"


def test_jobs_running_at_a_crash_are_failed_on_restart(gateway_factory, tmp_path):
    data_dir = tmp_path / "crashed"
    pid_file = tmp_path / "job.pid"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--port", "0", "--data-dir", str(data_dir),
         "--user", "alice", "--token", "crash-token"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        headers = {"Token-Code": "crash-token", "Token-User": "alice"}
        body = {"executionContent": {"code": f"echo $$ > {pid_file}; sleep 60", "runType": "sh"},
                "labels": {"engineType": "shell-1"}}
        data = ok(requests.post(url + "/api/rest_j/v1/entrance/submit", json=body, headers=headers, timeout=10))
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        assert ok(requests.get(f"{url}/api/rest_j/v1/entrance/{data['execID']}/status",
                               headers=headers, timeout=10))["status"] == "Running"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
        # The job's bash had its own process group: the crash left it behind.
        if pid_file.exists() and pid_file.read_text().strip():
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    gw = gateway_factory(data_dir=data_dir, users={"alice": "pw"})
    api = Api(gw)
    api.login("alice", "pw")
    task = api.task(data["taskID"])
    assert task["status"] == "Failed" and "stopped while the job was running" in task["errDesc"]
    log = ok(api.get("/filesystem/openLog", path=task["logPath"]))["log"][3]
    assert log.rstrip("\n").endswith("Sorry. Your job completed with a status Failed. You can view logs for the reason.")


def test_a_damaged_result_file_is_an_error_not_a_crash(gateway, alice):
    bad = gateway.data_dir / "users" / "alice" / "_9.dolphin"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a result set")
    assert "Failed to read the result set" in err(alice.get("/filesystem/openFile", path=str(bad)))
    missing = gateway.data_dir / "users" / "alice" / "_404.dolphin"
    assert "80013" in err(alice.get("/filesystem/openFile", path=str(missing)))
    assert "80013" in err(alice.get("/filesystem/openLog", path=str(missing)))
