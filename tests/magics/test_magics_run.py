"""%%linkis cells in a real IPython shell, run as jobs on the embedded gateway over HTTP."""
from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.history import gateway_task, settled_job, wait_for_states
from fixtures.shell import RecordingPublisher, interrupt_cell, task_ids

from linkis_jupyter.errors import JobFailedError

# Every job a test waits for gives up after this long rather than hang the run.
LIMIT = "--timeout 60"


def test_load_ext_registers_both_magics(shell: Any) -> None:
    shell.run_line_magic("load_ext", "linkis_jupyter")
    assert "linkis" in shell.magics_manager.magics["cell"]
    assert "linkis" in shell.magics_manager.magics["line"]
    doc = shell.find_cell_magic("linkis").__doc__
    for option in ("--engine", "--run-type", "--creator", "--var", "--startup", "--runtime", "--label", "--output",
                   "--max-rows", "--quiet", "--progress", "--log", "--timeout"):
        assert option in doc
    for command in ("config", "connect", "login", "status", "log", "kill", "attach", "history", "result", "download"):
        assert f"%linkis {command}" in doc


def test_sql_cell_gives_a_typed_dataframe(linkis: Any, recorder: RecordingPublisher) -> None:
    df = linkis.run_cell_magic(
        "linkis", f"-e spark -t sql {LIMIT}",
        "select 1::integer as i, 'x' as s, 2.5::double as f, date '2024-01-02' as d, true as b, "
        "null::bigint as n",
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["i", "s", "f", "d", "b", "n"]
    assert str(df.dtypes["i"]) == "Int64"
    assert str(df.dtypes["s"]) == "string"
    assert str(df.dtypes["f"]) == "float64"
    assert str(df.dtypes["d"]).startswith("datetime64")
    assert str(df.dtypes["b"]) == "boolean"
    assert str(df.dtypes["n"]) == "Int64"
    assert df.iloc[0]["i"] == 1 and df.iloc[0]["s"] == "x" and df.iloc[0]["f"] == 2.5
    assert df.iloc[0]["d"] == pd.Timestamp("2024-01-02") and bool(df.iloc[0]["b"]) is True
    assert pd.isna(df.iloc[0]["n"])
    # The progress line ended Succeed (auto chose text: this shell has no kernel); the log
    # displays (text/html) are not progress lines.
    progress = [o["data"]["text/plain"] for o in recorder.outputs if "text/html" not in o["data"]]
    assert progress[-1].startswith("Linkis task ") and " · Succeed · " in progress[-1]


def test_several_result_sets_are_all_shown_and_stored_as_a_list(linkis: Any, recorder: RecordingPublisher) -> None:
    value = linkis.run_cell_magic(
        "linkis", f"-o res --progress none --log none {LIMIT}",
        "create or replace table fruit as select * from (values ('apple', 3), ('pear', 5)) t(name, n);\n"
        "select name from fruit order by name;\n"
        "select sum(n) as total from fruit;",
    )
    res = linkis.user_ns["res"]
    assert isinstance(res, list) and len(res) == 2
    assert res[0]["name"].tolist() == ["apple", "pear"]
    assert res[1]["total"].tolist() == [8]
    # The first table was displayed (after the result grid's library); the last one is the
    # cell's value.
    html = [h for h in recorder.html() if "injectModule(" not in h]
    assert len(html) == 1 and "apple" in html[0] and "pear" in html[0]
    assert value is not None and value["total"].tolist() == [8]


def test_output_of_one_result_set_and_quiet(linkis: Any, recorder: RecordingPublisher) -> None:
    value = linkis.run_cell_magic("linkis", f"-q -o df --progress none --log none {LIMIT}",
                                  "select 42 as answer")
    assert value is None
    assert recorder.outputs == []
    assert linkis.user_ns["df"]["answer"].tolist() == [42]


def test_variables_take_python_values(linkis: Any) -> None:
    linkis.user_ns["city"] = "Lisbon"
    linkis.user_ns["limit"] = 7
    df = linkis.run_cell_magic(
        "linkis", f"--var city=$city --var n=$limit --var cost=$$5 --progress none --log none {LIMIT}",
        "select '${city}' as city, ${n} as n, '${cost}' as cost",
    )
    assert df.iloc[0].tolist() == ["Lisbon", 7, "$5"]


def test_python_cell_prints_text(linkis: Any, capsys: Any) -> None:
    value = linkis.run_cell_magic("linkis", f"-e python --progress none --log none {LIMIT}",
                                  "total = sum(range(5))\nprint('total is', total)")
    assert value is None
    assert "total is 10" in capsys.readouterr().out


def test_python_cell_table_from_show(linkis: Any) -> None:
    df = linkis.run_cell_magic("linkis", f"-e python -o out --progress none --log none {LIMIT}",
                               "import pandas as pd\nshow(pd.DataFrame({'k': [1, 2], 'v': ['a', 'b']}))")
    assert df["k"].tolist() == [1, 2] and df["v"].tolist() == ["a", "b"]
    pd.testing.assert_frame_equal(linkis.user_ns["out"], df)


def test_shell_cell(linkis: Any, capsys: Any) -> None:
    linkis.run_cell_magic("linkis", f"-e shell --progress none --log none {LIMIT}", "echo hello from bash")
    assert "hello from bash" in capsys.readouterr().out


def test_failing_job_raises_a_short_error(linkis: Any, capsys: Any) -> None:
    with pytest.raises(JobFailedError) as info:
        linkis.run_cell_magic("linkis", f"--progress none --log none {LIMIT}", "select * from no_such_table")
    error = info.value
    assert error.state == "Failed" and error.task_id
    rendered = "\n".join(error._render_traceback_())
    assert "no_such_table" in rendered and "Traceback" not in rendered

    # Through run_cell, as a notebook runs it: the error is the cell's, shown without our frames.
    capsys.readouterr()
    result = linkis.run_cell(f"%%linkis --progress none --log none {LIMIT}\nselect * from no_such_table")
    assert isinstance(result.error_in_exec, JobFailedError)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "JobFailedError: Linkis job" in text and "Failed" in text
    assert "magics.py" not in text and "job.py" not in text and "Traceback" not in text


def test_log_lines_arrive_while_the_job_runs(linkis: Any, tmp_path: Path) -> None:
    # The job waits until a file exists; the test creates it only when the job's first log line
    # has been displayed. If lines came only at the end, the job would give up and fail.
    go = tmp_path / "go"
    seen: list[str] = []

    def hook(record: dict[str, Any]) -> None:
        html = record["data"].get("text/html", "")
        if "first line" in html and not go.exists():
            seen.append(html)
            go.touch()

    linkis.display_pub = RecordingPublisher(linkis, hook)
    code = (
        "echo 'first line' >&2\n"
        f"for i in $(seq 400); do [ -e '{go}' ] && break; sleep 0.05; done\n"
        f"[ -e '{go}' ] || exit 3\n"
        "echo 'second line' >&2\n"
        "echo done"
    )
    # --log all: each batch of lines an output of its own (the default, fold, updates one output).
    linkis.run_cell_magic("linkis", f"-e shell --progress text --log all {LIMIT}", code)
    assert seen, "the first log line was never displayed"
    shown = "\n".join(linkis.display_pub.html())
    assert shown.count("first line") == 1 and shown.count("second line") == 1


def test_progress_widget_moves_during_the_job_and_ends_at_1(linkis: Any, gateway: Any) -> None:
    import ipywidgets

    # The job's second statement reads a named pipe, so it waits (at progress 1/2) until the test
    # writes to the pipe, which it does once the widget has shown a value between 0 and 1 (or,
    # so that the job always ends, after 20 s; the test then fails).
    # In the user's area: SQL reads no file outside it.
    area = Path(gateway.data_dir) / "users" / gateway.user
    area.mkdir(parents=True, exist_ok=True)
    fifo = area / "rows.csv"
    os.mkfifo(fifo)
    moved = threading.Event()
    values: list[float] = []
    bars: list[Any] = []

    def on_value(change: dict[str, Any]) -> None:
        values.append(change["new"])
        if 0 < change["new"] < 1:
            moved.set()

    def constructed(widget: Any) -> None:
        if isinstance(widget, ipywidgets.FloatProgress):
            bars.append(widget)
            widget.observe(on_value, names="value")

    def feed() -> None:
        moved.wait(20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: the job does not read the pipe yet
                    raise
                time.sleep(0.05)
                continue
            os.write(fd, b"a\n1\n2\n")
            os.close(fd)
            return

    linkis.run_line_magic("config", "LinkisClient.poll_interval_max = 0.1")
    feeder = threading.Thread(target=feed)
    feeder.start()
    ipywidgets.Widget.on_widget_constructed(constructed)
    try:
        total = linkis.run_cell_magic(
            "linkis", f"-e spark --progress widget --log none {LIMIT}",
            "select 1 as warm_up;\n"
            f"select sum(a) as total from read_csv('{fifo}', auto_detect = false, header = true, "
            "columns = {'a': 'INTEGER'})",
        )
    finally:
        ipywidgets.Widget.on_widget_constructed(None)
        moved.set()
        feeder.join(30)
    assert total["total"].tolist() == [3]
    assert len(bars) == 1
    assert any(0 < v < 1 for v in values), values
    assert values[-1] == 1.0 and bars[0].bar_style == "success"
    bars[0].close()


def test_text_fallback_updates_one_line(linkis: Any, recorder: RecordingPublisher) -> None:
    linkis.run_cell_magic("linkis", f"-e shell --progress text --log none {LIMIT}", "sleep 0.5; echo x")
    progress = [o for o in recorder.outputs if "text/html" not in o["data"]]
    assert len({o["transient"]["display_id"] for o in progress}) == 1
    assert progress[0]["update"] is False and all(o["update"] for o in progress[1:])
    assert " · Succeed · " in progress[-1]["data"]["text/plain"]


def test_interrupt_kills_the_job_and_the_shell_stays_usable(linkis: Any, gateway: Any, capsys: Any) -> None:
    result, recorder, interrupted = interrupt_cell(
        linkis, f"%%linkis -e shell --progress text --log none {LIMIT}\nsleep 30\necho never",
        when=lambda data: " · Running" in data.get("text/plain", ""))
    assert interrupted, "the job was never seen running"
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    (task,) = task_ids(recorder.texts())
    assert settled_job(gateway, task)["status"] == "Cancelled"
    shown = capsys.readouterr()
    assert f"Linkis job {task} cancelled" in shown.err
    assert recorder.texts()[-1].startswith(f"Linkis task {task} · Cancelled")
    # What IPython printed for the cell: the kill, then the interrupt in one line, no frames.
    printed = shown.out + shown.err
    assert "KeyboardInterrupt" in printed
    assert "linkis_jupyter" not in printed and "magics.py" not in printed and "Traceback" not in printed

    again = linkis.run_cell(f"%%linkis -e shell --progress none --log none {LIMIT}\necho still here")
    assert again.success
    assert "still here" in capsys.readouterr().out


def test_a_cut_result_says_so(linkis: Any, capsys: Any) -> None:
    df = linkis.run_cell_magic("linkis", f"-n 3 --progress none --log none {LIMIT}", "select * from range(10) t(x)")
    assert len(df) == 3
    err = capsys.readouterr().err
    assert "shows only its first 3 rows" in err and "-n -1" in err and "%linkis download" in err
    everything = linkis.run_cell_magic("linkis", f"-n -1 --progress none --log none {LIMIT}",
                                       "select * from range(10) t(x)")
    assert len(everything) == 10


def test_defaults_come_from_config(linkis: Any, capsys: Any) -> None:
    linkis.run_line_magic("config", "LinkisMagics.engine = 'shell'")
    linkis.run_line_magic("config", "LinkisMagics.progress = 'none'")
    linkis.run_line_magic("config", "LinkisMagics.log = 'none'")
    linkis.run_line_magic("config", "LinkisMagics.variables = {'who': 'config', 'n': 3}")
    linkis.run_cell_magic("linkis", LIMIT, "echo hello ${who} ${n}")
    assert "hello config 3" in capsys.readouterr().out


def test_a_wait_timeout_stops_waiting_but_not_the_job(linkis: Any, gateway: Any, recorder: RecordingPublisher,
                                                       capsys: Any) -> None:
    from linkis_jupyter.errors import LinkisTimeoutError

    # The job may not have started within 0.5 s (Scheduled, Running): the cell says which.
    with pytest.raises(LinkisTimeoutError, match=r"still (Inited|Scheduled|Running) after 0.5 s"):
        linkis.run_cell_magic("linkis", "-e shell --progress text --log none --timeout 0.5", "sleep 30")
    (task,) = task_ids(recorder.texts())
    assert recorder.texts()[-1].endswith(f"stopped waiting; `%linkis attach {task}` follows it again")
    # The job goes on: the gateway runs it, and the magics say so.
    wait_for_states(gateway, {"Running"})
    capsys.readouterr()
    linkis.run_line_magic("linkis", f"status {task}")
    assert capsys.readouterr().out.startswith(f"Linkis task {task}: Running")
    assert gateway_task(gateway, task)["status"] == "Running"
    linkis.run_line_magic("linkis", f"kill {task}")
    assert settled_job(gateway, task)["status"] == "Cancelled"


def test_a_second_interrupt_stops_waiting_for_the_kill_confirmation(linkis: Any, gateway: Any, capsys: Any,
                                                                   request_log: Any) -> None:
    # Once the first interrupt has sent the kill, the gateway holds status requests for 5 s, so
    # the confirmation takes long; a second interrupt (a real SIGINT, as the stop button sends)
    # ends the wait for it. Each interrupt comes when the gateway has seen what it waits for.
    import signal

    main = threading.main_thread().ident
    assert main is not None
    running = threading.Event()
    inside = threading.Event()
    fired: list[str] = []

    def gated(ready: Any, what: str) -> bool:
        deadline = time.monotonic() + 30
        while not ready():
            if time.monotonic() > deadline or not inside.is_set():
                fired.append(f"never: {what}")
                return False
            time.sleep(0.02)
        return True

    def interrupts() -> None:
        if not gated(running.is_set, "the job running"):
            return
        gateway.faults.set(stall_rate=1.0, stall_seconds=5.0, paths=r"/status|/jobhistory/\d+/get")
        signal.pthread_kill(main, signal.SIGINT)
        fired.append("first")
        # Once the gateway has answered the kill, the cell can only be waiting for its confirmation.
        if gated(lambda: request_log.paths(r"^/entrance/[^/]+/kill$"), "the kill answered"):
            signal.pthread_kill(main, signal.SIGINT)
            fired.append("second")

    def hook(record: dict[str, Any]) -> None:
        if " · Running" in record["data"].get("text/plain", ""):
            running.set()

    recorder = RecordingPublisher(linkis, hook)
    linkis.display_pub = recorder
    sender = threading.Thread(target=interrupts)
    inside.set()
    sender.start()
    try:
        result = linkis.run_cell(f"%%linkis -e shell --progress text --log none {LIMIT}\nsleep 30")
    finally:
        inside.clear()
        sender.join(30)
        gateway.faults.clear()
    assert fired == ["first", "second"]
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    (task,) = task_ids(recorder.texts())
    err = capsys.readouterr().err
    assert f"Linkis job {task} may still be running (stopped waiting for the kill to be confirmed)" in err
    assert f"%linkis status {task}" in err
    assert recorder.texts()[-1].endswith("kill not confirmed")
    # The kill itself had been sent: the job did end Cancelled.
    assert settled_job(gateway, task)["status"] == "Cancelled"
    assert linkis.run_cell(f"%%linkis -e shell --progress none --log none {LIMIT}\necho fine").success
