"""Python run types: one long-lived process per (user, creator), output, show(df), errors, kill."""
from __future__ import annotations

import os
import re
import signal

from engine_helpers import Jobs, alive, wait_until

from linkis_jupyter.gateway.engines import KILLED, PYTHON_EXECUTE_ERROR, PYTHON_STOPPED


def pid_of(run_log: str) -> int:
    return int(re.findall(r"\(pid (\d+)\)", run_log)[-1])


def test_state_survives_between_jobs_and_output_is_a_text_result(jobs: Jobs) -> None:
    first = jobs.run("counter = 41\nimport os\nprint('cwd', os.getcwd())", "python").ok()
    assert first.text() == f"cwd {first.ctx.workspace}"
    second = jobs.run("counter += 1\nprint(counter)\nprint('ünï\\tcode')", "py").ok()
    assert second.rows() == [["42"], ["ünï\tcode"]]
    assert second.results()[0].type == "1"
    assert pid_of(first.log()) == pid_of(second.log())
    assert "Started a Python" in first.log() and "Started a Python" not in second.log()


def test_each_user_and_creator_has_a_process_of_its_own(jobs: Jobs) -> None:
    jobs.run("secret = 'alice-ide'", "python").ok()
    others = [jobs.run("print(secret)", "python", user="bob"),
              jobs.run("print(secret)", "python", creator="nbclient")]
    for run in others:
        assert run.error is not None and "NameError" in str(run.error)
    assert jobs.run("print(secret)", "python").ok().text() == "alice-ide"


def test_show_makes_typed_table_results_in_order(jobs: Jobs) -> None:
    run = jobs.run("""
import pandas as pd
print("before")
df = pd.DataFrame({
    "i": [1, 2, 3],
    "big": pd.array([1, None, 2**40], dtype="Int64"),
    "f": [1.5, float("nan"), 2.0],
    "b": [True, False, True],
    "s": ["tab\\there", None, "中文,; ✓"],
    "ts": pd.to_datetime(["2024-02-29 13:14:15", None, "2024-03-01 00:00:00"]),
})
show(df)
print("between")
show(df["s"])
""", "python").ok()
    assert [r.type for r in run.results()] == ["1", "2", "1", "2"]
    assert run.text(0) == "before" and run.text(2) == "between"
    table = run.results()[1]
    assert [(c["columnName"], c["dataType"]) for c in table.metadata] == [
        ("i", "long"), ("big", "long"), ("f", "double"), ("b", "boolean"), ("s", "string"),
        ("ts", "timestamp"),
    ]
    assert table.page(1, 10) == [
        ["1", "1", "1.5", "true", "tab\there", "2024-02-29 13:14:15"],
        ["2", "NULL", "NULL", "false", "NULL", "NULL"],
        ["3", str(2**40), "2", "true", "中文,; ✓", "2024-03-01 00:00:00"],
    ]
    assert run.rows(3) == [["tab\there"], ["NULL"], ["中文,; ✓"]]
    # Nothing but the result sets is left in the result directory.
    assert [p.name for p in run.files()] == [f"_{i}.dolphin" for i in range(4)]


def test_show_refuses_what_is_not_a_dataframe(jobs: Jobs) -> None:
    run = jobs.run("show([1, 2])", "python")
    assert run.error is not None
    assert str(run.error) == "TypeError: show() takes a pandas DataFrame or Series, not list"


def test_traceback_fails_the_job(jobs: Jobs) -> None:
    run = jobs.run("print('partial')\ndef f():\n    return 1 / 0\nf()", "python")
    assert run.error is not None and run.error.code == PYTHON_EXECUTE_ERROR
    assert str(run.error) == "ZeroDivisionError: division by zero"
    errors = run.log("ERROR").splitlines()
    assert errors[0] == "Traceback (most recent call last):"
    assert '  File "<linkis-job-1>", line 4, in <module>' in errors
    assert "    return 1 / 0" in errors
    assert errors[-1] == "ZeroDivisionError: division by zero"
    assert "pyworker" not in run.log()  # the engine's own frames are not shown
    assert run.text() == "partial"
    syntax = jobs.run("x = (", "python")
    assert syntax.error is not None and str(syntax.error).startswith("SyntaxError")
    # The process survived both errors.
    assert pid_of(syntax.log()) == pid_of(run.log())


def test_stderr_and_logging_reach_the_log_as_they_happen(jobs: Jobs) -> None:
    gate = jobs.root / "users" / "alice" / "gate"
    run = jobs.start(f"""
import logging, sys, time, pathlib, warnings
logging.getLogger("etl").info("step one done")
print("plain stderr line", file=sys.stderr)
warnings.warn("careful")
gate = pathlib.Path({str(gate)!r})
while not gate.exists():
    time.sleep(0.01)
logging.getLogger("etl").error("step two failed softly")
""", "python")
    # Streamed while the job still runs: it waits for the gate file.
    run.wait_for_log("etl - step one done")
    run.wait_for_log("plain stderr line")
    assert run.thread is not None and run.thread.is_alive()
    gate.write_text("go")
    run.wait().ok()
    assert ("INFO", "etl - step one done") in run.logs
    assert ("WARN", "plain stderr line") in run.logs
    assert ("ERROR", "etl - step two failed softly") in run.logs
    assert "UserWarning: careful" in run.log("WARN")
    assert run.files() == []


def test_binary_junk_and_long_lines(jobs: Jobs) -> None:
    run = jobs.run(r"""
import os, sys
sys.stdout.buffer.write(b"\xff\xfe\x00junk\x1e\n")
sys.stdout.flush()
print("x" * 300000)
os.write(1, b"written by the fd\n")
print("no newline at the end", end="")
""", "python").ok()
    rows = run.rows()
    assert rows[0] == ["\ufffd\ufffd\x00junk\x1e"]
    assert rows[1] == ["x" * 300000]
    assert rows[2:] == [["written by the fd"], ["no newline at the end"]]


def test_kill_interrupts_and_the_namespace_survives(jobs: Jobs) -> None:
    jobs.run("kept = 'still here'", "python").ok()
    run = jobs.start("import sys, time\nprint('looping', file=sys.stderr)\n"
                     "while True:\n    time.sleep(0.01)", "python")
    run.wait_for_log("looping")
    jobs.kill(run)
    run.wait()
    assert run.error is not None and run.error.code == KILLED
    after = jobs.run("print(kept)", "python").ok()
    assert after.text() == "still here"
    assert pid_of(after.log()) == pid_of(run.log())


def test_a_job_that_ignores_sigint_loses_its_process(jobs: Jobs) -> None:
    jobs.run("kept = 1", "python").ok()
    run = jobs.start("""
import time
import sys
print("stubborn", file=sys.stderr)
while True:
    try:
        time.sleep(0.01)
    except KeyboardInterrupt:
        pass
""", "python")
    run.wait_for_log("stubborn")
    pid = pid_of(run.log())
    jobs.kill(run)
    run.wait()
    assert run.error is not None and run.error.code == KILLED
    assert "did not stop on SIGINT" in run.log("WARN")
    wait_until(lambda: not alive(pid), what=f"process {pid} to end")
    fresh = jobs.run("print('kept' in globals())", "python").ok()
    assert fresh.text() == "False"
    assert "variables of earlier jobs are gone" in fresh.log("WARN")
    assert pid_of(fresh.log()) != pid


def test_a_process_that_exits_fails_its_job_and_is_replaced(jobs: Jobs) -> None:
    run = jobs.run("import os\nprint('bye', flush=True)\nos._exit(7)", "python")
    assert run.error is not None and run.error.code == PYTHON_STOPPED
    assert "exit code 7" in str(run.error)
    assert run.text() == "bye"
    again = jobs.run("print(6 * 7)", "python").ok()
    assert again.text() == "42"
    assert "this job starts a new one" in again.log("WARN")


def test_close_stops_every_python_process(jobs: Jobs) -> None:
    runs = [jobs.run("import subprocess\np = subprocess.Popen(['sleep', '60'])\nprint(p.pid)",
                     "python", user=user).ok() for user in ("alice", "bob")]
    pids = [pid_of(r.log()) for r in runs] + [int(r.text()) for r in runs]
    assert all(alive(pid) for pid in pids)
    jobs.manager.close()
    wait_until(lambda: not any(alive(pid) for pid in pids), what=f"processes {pids} to end")


def test_output_markers_are_found_across_any_pipe_cut() -> None:
    from linkis_jupyter.gateway.engine_python import MarkedStream

    token = "ab" * 16
    stream = (b"one\n\x1e\x1eab" + b"\x1e" + token.encode() + b"s000001\x1e" + b"two"
              + b"\x1e" + token.encode() + b"e\x1e" + b"next job")
    for size in (1, 2, 7, 33, len(stream)):
        data: list[bytes] = []
        markers: list[bytes] = []
        marked = MarkedStream(token, data.append, markers.append)
        for i in range(0, len(stream), size):
            marked.feed(stream[i:i + size])
        marked.flush()
        assert b"".join(data) == b"one\n\x1e\x1eab" + b"two"
        assert markers == [b"s000001", b"e"]
        assert bytes(marked.buffer) == b"" or marked.ended


def test_a_process_that_died_while_idle_is_replaced(jobs: Jobs) -> None:
    first = jobs.run("value = 1", "python").ok()
    pid = pid_of(first.log())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), what=f"process {pid} to end")
    second = jobs.run("print('value' in globals())", "python").ok()
    assert second.text() == "False"
    assert "while idle" in second.log("WARN")
    assert pid_of(second.log()) != pid


def test_jobs_of_one_engine_run_one_at_a_time(jobs: Jobs) -> None:
    gate = jobs.root / "users" / "alice" / "gate"
    first = jobs.start(f"import pathlib, sys, time\nprint('first in', file=sys.stderr)\n"
                       f"while not pathlib.Path({str(gate)!r}).exists():\n    time.sleep(0.01)\n"
                       "shared = 'from the first'", "python")
    first.wait_for_log("first in")
    second = jobs.start("print(shared)", "python")
    second.wait_for_log("runs one job at a time")
    gate.write_text("go")
    first.wait().ok()
    assert second.wait().ok().text() == "from the first"
