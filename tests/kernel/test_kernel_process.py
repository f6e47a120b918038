"""The Linkis kernels as real processes through jupyter_client, against the embedded gateway."""
from __future__ import annotations

from fixtures.history import newest_job
from fixtures.kernels import execute, shell_reply, text_of

# About 100 billion rows: minutes of DuckDB work, so only a kill ends it during a test.
LONG_SQL = "select count(*) from range(100000000000) t(i) where i % 7 = 3"


def test_sql_cell_gives_a_table(start_kernel) -> None:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, outputs = execute(kc, "select 42 as answer, 'linkis' as name")
    assert reply["status"] == "ok", text_of(outputs)
    result = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert len(result) == 1
    assert "<table" in result[0]["content"]["data"]["text/html"]
    assert "answer" in result[0]["content"]["data"]["text/plain"]
    # The result is `_`, and the raw history keeps the user's text, not the routed magic call.
    reply, outputs = execute(
        kc, "%%local\nprint(type(_).__name__, _['answer'][0], get_ipython().history_manager.input_hist_raw[1])"
    )
    assert reply["status"] == "ok"
    assert "DataFrame 42 select 42 as answer, 'linkis' as name" in text_of(outputs)


def test_kernel_info_names_the_language(start_kernel) -> None:
    for name, language in (("linkis-spark-sql", "sql"), ("linkis-shell", "bash"), ("linkis-pyspark", "python")):
        _km, kc = start_kernel(name)
        kc.kernel_info()
        info = kc.get_shell_msg(timeout=10)["content"]
        assert info["language_info"]["name"] == language


def test_python_kernel_keeps_state_between_cells(start_kernel) -> None:
    _km, kc = start_kernel("linkis-python")
    execute(kc, "counter = 41")
    reply, outputs = execute(kc, "counter += 1\nprint('counter is', counter)")
    assert reply["status"] == "ok"
    assert "counter is 42" in text_of(outputs)


def test_failed_job_is_an_error_reply(start_kernel) -> None:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, outputs = execute(kc, "select * from no_such_table")
    assert reply["status"] == "error"
    assert "no_such_table" in text_of(outputs)
    # Short: the gateway's reason, not our internals.
    assert "linkis_jupyter/" not in text_of(outputs)


def test_interrupt_cancels_the_job(gateway, start_kernel) -> None:
    km, kc = start_kernel("linkis-spark-sql")
    msg_id = kc.execute(LONG_SQL)
    newest_job(gateway, {"Running"})
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=30)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    # The interrupt's traceback stops at the magic, not deep in an HTTP read.
    assert not any("requests" in frame or "http/client" in frame for frame in reply["content"]["traceback"])
    assert newest_job(gateway, {"Cancelled", "Failed", "Succeed", "Timeout"})["status"] == "Cancelled"
    # The kernel is still usable.
    reply, outputs = execute(kc, "select 1 as one")
    assert reply["status"] == "ok", text_of(outputs)


def test_restart_kills_a_running_job(gateway, start_kernel) -> None:
    km, kc = start_kernel("linkis-spark-sql")
    kc.execute(LONG_SQL)
    newest_job(gateway, {"Running"})
    km.restart_kernel(now=False)
    job = newest_job(gateway, {"Cancelled", "Failed", "Succeed", "Timeout"}, timeout=20)
    assert job["status"] == "Cancelled"


def test_shutdown_kills_a_running_job(gateway, start_kernel) -> None:
    km, kc = start_kernel("linkis-shell")
    kc.execute("sleep 120")
    newest_job(gateway, {"Running"})
    km.shutdown_kernel(now=False)
    job = newest_job(gateway, {"Cancelled", "Failed", "Succeed", "Timeout"}, timeout=20)
    assert job["status"] == "Cancelled"
