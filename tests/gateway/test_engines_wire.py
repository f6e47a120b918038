"""Real DuckDB and Python jobs through the gateway, read back the way Linkis clients read them."""
from __future__ import annotations

from gateway_wire import Api, ok

SQL = "spark-3.2.1"
PY = "python-python3"


def _rows(api: Api, path: str, page_size: int) -> list[list[str]]:
    rows, page = [], 1
    while True:
        data = api.read(path, page=page, pageSize=page_size)
        if not data["fileContent"]:
            return rows
        assert data["totalLine"] == len(data["fileContent"]) and data["totalPage"] == 0
        rows += data["fileContent"]
        page += 1


def test_multi_statement_sql_makes_one_result_set_per_query(alice):
    code = ("create table fruit as select * from (values ('apple', 3), ('pear', 5)) t(name, n);\n"
            "select name, n from fruit order by n;\n"
            "insert into fruit values ('fig', 1);\n"
            "select count(*) as total from fruit;")
    exec_id, task_id = alice.submit(code, run_type="sql", engine=SQL)
    assert alice.wait(exec_id) == "Succeed", alice.full_log(exec_id)
    paths = alice.results(task_id)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["_0.dolphin", "_1.dolphin"]
    first, second = alice.read(paths[0]), alice.read(paths[1])
    assert first["fileContent"] == [["apple", "3"], ["pear", "5"]]
    assert [c["columnName"] for c in first["metadata"]] == ["name", "n"]
    assert all(set(c) == {"columnName", "comment", "dataType"} for c in first["metadata"])
    assert second["fileContent"] == [["3"]]
    # The table is still there for the next job of the same user.
    again, again_task = alice.submit("select sum(n) as s from fruit", run_type="hql", engine="hive-3.1.3")
    assert alice.wait(again) == "Succeed"
    assert alice.read(alice.results(again_task)[0])["fileContent"] == [["9"]]
    assert ok(alice.get(f"/entrance/{again}/progress"))["progress"] == 1.0


def test_sql_20000_rows_read_page_by_page(alice):
    # Every row: the opt-out line lifts the entrance's 5000-row limit of creator IDE.
    exec_id, task_id = alice.submit("--set ide.engine.no.limit.allow=true\n"
                                    "select range as n, 'r' || range as s from range(20000)",
                                    run_type="sql", engine=SQL)
    assert alice.wait(exec_id) == "Succeed", alice.full_log(exec_id)
    (path,) = alice.results(task_id)
    assert len(alice.read(path)["fileContent"]) == 5000  # the default page, as Linkis'
    rows = _rows(alice, path, 7000)
    assert len(rows) == 20000 and rows[0] == ["0", "r0"] and rows[-1] == ["19999", "r19999"]


def test_sql_error_fails_the_job_with_linkis_error_code(alice):
    exec_id, task_id = alice.submit("select * from no_such_table", run_type="sql", engine=SQL)
    assert alice.wait(exec_id) == "Failed"
    task = alice.final_task(task_id)
    assert task["errCode"] and "no_such_table" in task["errDesc"]
    assert "no_such_table" in ok(alice.get(f"/entrance/{exec_id}/log", size=-1))["log"][0]


def test_python_state_survives_and_kill_interrupts(alice):
    first, first_task = alice.submit("counter = 41\nprint('ready')", run_type="python", engine=PY)
    assert alice.wait(first) == "Succeed", alice.full_log(first)
    slow, _ = alice.submit("import time\ntime.sleep(60)", run_type="py", engine=PY)
    alice.wait_for(slow, "Running")
    ok(alice.get(f"/entrance/{slow}/kill"))
    assert alice.status(slow) == "Cancelled"
    after, after_task = alice.submit("print(counter + 1)", run_type="python", engine=PY)
    assert alice.wait(after) == "Succeed", alice.full_log(after)
    assert alice.read(alice.results(after_task)[0])["fileContent"] == [["42"]]
    failing, failing_task = alice.submit("1 / 0", run_type="python", engine=PY)
    assert alice.wait(failing) == "Failed"
    assert "ZeroDivisionError" in alice.final_task(failing_task)["errDesc"]
    del first_task


def test_kill_interrupts_a_running_duckdb_query(alice):
    exec_id, task_id = alice.submit("select count(*) from range(100000000000) a where a.range % 7 = 3",
                                    run_type="sql", engine=SQL)
    alice.wait_for(exec_id, "Running")
    ok(alice.get(f"/entrance/{exec_id}/kill", taskID=task_id))
    assert alice.status(exec_id) == "Cancelled"
    # The user's database is free again for the next job.
    again, again_task = alice.submit("select 7 as seven", run_type="sql", engine=SQL)
    assert alice.wait(again) == "Succeed"
    assert alice.read(alice.results(again_task)[0])["fileContent"] == [["7"]]


def test_the_engine_type_not_the_run_type_picks_the_executor(alice, tmp_path):
    # SparkEngineConnFactory has executors for sql and py only (and scala, function.mdq, data_calc);
    # any other code type gets its default executor, Spark SQL, even with shell-1 and
    # python-python3 installed. The code then fails as SQL would, and never runs as shell or Python.
    marker = tmp_path / "ran"
    for run_type, code in (("sh", f"touch {marker}"), ("python", f"open({str(marker)!r}, 'w')")):
        exec_id, task_id = alice.submit(code, run_type=run_type, engine=SQL)
        assert alice.wait(exec_id) == "Failed", alice.full_log(exec_id)
        task = alice.final_task(task_id)
        assert task["runType"] == run_type and "syntax error" in task["errDesc"].lower(), task["errDesc"]
        assert "ERROR" in alice.full_log(exec_id)
        assert not marker.exists()
    # spark with py is PySpark: Python.
    exec_id, task_id = alice.submit("print(6 * 7)", run_type="py", engine=SQL)
    assert alice.wait(exec_id) == "Succeed", alice.full_log(exec_id)
    assert alice.read(alice.results(task_id)[0])["fileContent"] == [["42"]]
    # The one-executor engines run every code type in their own language.
    exec_id, task_id = alice.submit("echo from-shell", run_type="python", engine="shell-1")
    assert alice.wait(exec_id) == "Succeed", alice.full_log(exec_id)
    assert alice.read(alice.results(task_id)[0])["fileContent"] == [["from-shell"]]
    exec_id, task_id = alice.submit("select 1 as x", run_type="python", engine=PY)
    assert alice.wait(exec_id) == "Failed"
    assert "SyntaxError" in alice.final_task(task_id)["errDesc"]
