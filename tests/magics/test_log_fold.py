"""--log fold, the default: a job's log as one bounded output, and an interrupted cell that ends
without the magic's frames. The reporter fed with JobSnapshots, then whole cells in a real IPython
shell, a notebook run by nbclient and a kernel process, all against the embedded gateway."""
from __future__ import annotations

import queue
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from fixtures.gateway import point_at_gateway
from fixtures.history import newest_job
from fixtures.kernels import execute, shell_reply, text_of
from fixtures.shell import RecordingPublisher, interrupt_cell, magics_of, task_ids
from nbclient import NotebookClient
from traitlets import TraitError

from linkis_jupyter.arguments import LINE_PARSER, CellOptions, parse
from linkis_jupyter.display import make_reporter
from linkis_jupyter.logview import FOLD_LINE_CHARS, FoldedLog, LogView, TerminalFoldedLog
from linkis_jupyter.errors import JobFailedError
from linkis_jupyter.job import JobSnapshot, JobState, LogLine

LIMIT = "--timeout 60"
# What FoldedLog's docstring promises for the worst log of plain-ASCII lines, with log_lines 200.
WORST_BYTES = 250_000
# ... and for a job that writes 2,000 short lines.
SHORT_BYTES = 32_000
TWO_THOUSAND = 'for i in $(seq 1 2000); do echo "line $i" >&2; done'


def snap(state: JobState, log: list[LogLine] | tuple[LogLine, ...] = ()) -> JobSnapshot:
    return JobSnapshot(task_id=42, exec_id="exec_id018011linkis-cg-entrance127.0.0.1:9104IDE_alice_shell_0",
                       state=state, progress=0.5, stages=(), new_log=tuple(log), elapsed=1.0)


def info(n: int) -> LogLine:
    return LogLine("INFO", f"2024-05-01 10:00:00.000 INFO step {n}")


def log_of(count: int, **special: LogLine) -> list[LogLine]:
    """`count` INFO lines "step N" (N from 1), with the lines named `at_N` replaced."""
    lines = [info(n) for n in range(1, count + 1)]
    for key, line in special.items():
        lines[int(key.removeprefix("at_")) - 1] = line
    return lines


def log_spans(html: str) -> list[str]:
    """The log lines an HTML output holds (not the "… N lines …" markers)."""
    return re.findall(r'<span class="linkis-log-(?:info|warn|error)"[^>]*>([^<]*)</span>', html)


def fold_outputs(recorder: RecordingPublisher) -> list[dict[str, Any]]:
    return [o for o in recorder.outputs if "linkis-log-fold" in o["data"].get("text/html", "")]


def final_fold(recorder: RecordingPublisher) -> dict[str, str]:
    """What a saved notebook keeps of the fold display: its last update."""
    outputs = fold_outputs(recorder)
    assert outputs, [o["data"].get("text/plain", "")[:80] for o in recorder.outputs]
    assert len({o["transient"].get("display_id") for o in outputs}) == 1
    assert outputs[0]["update"] is False and all(o["update"] for o in outputs[1:])
    return outputs[-1]["data"]


def size(bundle: dict[str, str]) -> int:
    return len(bundle["text/html"].encode()) + len(bundle["text/plain"].encode())


# -- the choice ------------------------------------------------------------------------------

def test_fold_is_the_default_of_cells_and_attach(ip: Any, recorder: RecordingPublisher) -> None:
    magics = magics_of(ip)
    assert magics.log == "fold" and magics.log_lines == 200
    assert CellOptions.from_line("-e shell", magics).log == "fold"
    assert CellOptions.from_args(parse(LINE_PARSER, "attach 5"), magics).log == "fold"
    assert isinstance(make_reporter("none", shell=ip).log, FoldedLog)
    assert isinstance(make_reporter("none", "all", ip).log, LogView)


def test_a_terminal_ipython_gets_the_terminal_fold(ip: Any) -> None:
    # The shell's own publisher, as in a terminal IPython.
    assert isinstance(make_reporter("none", "fold", ip).log, TerminalFoldedLog)


def test_log_lines_must_be_positive(ip: Any) -> None:
    with pytest.raises(TraitError):
        magics_of(ip).log_lines = 0
    with pytest.raises(ValueError, match="log_lines must be at least 1"):
        FoldedLog(0)


def test_whole_log_subcommand_takes_no_fold(ip: Any) -> None:
    with pytest.raises(UsageError, match="invalid choice: 'fold'"):
        parse(LINE_PARSER, "log 5 --log fold")


# -- the reporter, fed with snapshots ----------------------------------------------------------

def test_while_running_one_output_holds_the_newest_lines(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip, log_lines=200)
    reporter.start(42)
    lines = log_of(450, at_10=LogLine("WARN", "W1"), at_20=LogLine("ERROR", "E1"), at_300=LogLine("WARN", "W2"))
    reporter(snap(JobState.RUNNING, lines[:150]))
    reporter(snap(JobState.RUNNING))  # nothing new: nothing published
    assert len(recorder.outputs) == 1
    reporter(snap(JobState.RUNNING, lines[150:]))

    outputs = fold_outputs(recorder)
    assert len(outputs) == 2 == len(recorder.outputs)
    assert outputs[1]["update"] is True
    assert outputs[0]["transient"]["display_id"] == outputs[1]["transient"]["display_id"]
    html = outputs[1]["data"]["text/html"]
    assert html.startswith('<details class="linkis-log-fold" open')
    pre = re.search(r'<pre class="linkis-log" style="([^"]*)"', html)
    assert pre and "max-height:" in pre.group(1) and "overflow:auto" in pre.group(1)
    # The newest 200: steps 251..450, the earlier ones counted in a marker.
    spans = log_spans(html)
    assert len(spans) == 200
    assert spans[0].endswith("step 251") and spans[-1].endswith("step 450")
    assert "… 250 lines …" in html
    assert "450 lines so far · 1 error · 2 warnings · the newest 200 below" in html
    text = outputs[1]["data"]["text/plain"]
    assert text.splitlines() == [
        "Log of task 42 · 450 lines so far · 1 error · 2 warnings",
        "[WARN] W1", "[ERROR] E1", "[WARN] W2",
        "447 other lines not shown here; `%linkis log 42` shows the whole log",
    ]


def test_success_folds_the_log_away(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip, log_lines=200)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, log_of(1999, at_5=LogLine("WARN", "careful"))))
    reporter(snap(JobState.SUCCEED, [info(2000)]))
    final = final_fold(recorder)
    html = final["text/html"]
    # Closed: the summary alone shows until a click opens it.
    assert html.startswith('<details class="linkis-log-fold" style=')
    summary = re.search(r"<summary[^>]*>(.*)</summary>", html)
    assert summary is not None
    assert summary.group(1) == ("Log of task 42 · 2,000 lines · 1 warning · folded: a click shows the last 200; "
                                "<code>%linkis log 42</code> shows the whole log")
    spans = log_spans(html)
    assert len(spans) == 200 and spans[-1].endswith("step 2000")
    assert final["text/plain"].splitlines() == [
        "Log of task 42 · 2,000 lines · 1 warning · Succeed",
        "[WARN] careful",
        "1,999 other lines not shown here; `%linkis log 42` shows the whole log",
    ]


def test_a_short_successful_log_folds_whole(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip)
    reporter.start(7)
    reporter(snap(JobState.SUCCEED, log_of(3)))
    html = final_fold(recorder)["text/html"]
    assert "a click shows all of them; <code>%linkis log 7</code> shows the whole log" in html
    assert len(log_spans(html)) == 3 and "linkis-log-gap" not in html


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT])
def test_failure_keeps_the_error_lines_open_with_the_lines_around_them(
        ip: Any, recorder: RecordingPublisher, state: JobState) -> None:
    reporter = make_reporter("none", "fold", ip, log_lines=200)
    reporter.start(42)
    lines = log_of(2000, at_1000=LogLine("ERROR", "E <bad> & worse"), at_1001=LogLine("ERROR", "  at Foo.bar"),
                   at_1500=LogLine("ERROR", "E again"))
    reporter(snap(JobState.RUNNING, lines[:1200]))
    reporter(snap(state, lines[1200:]))
    html = final_fold(recorder)["text/html"]
    assert html.startswith('<details class="linkis-log-fold" open')
    assert f"{state.value}: the ERROR lines and the lines around them below; <code>%linkis log 42</code>" in html
    # Three lines before and after each ERROR line, the rest counted in markers.
    assert [s.rsplit(" ", 1)[-1] for s in log_spans(html)] == [
        "997", "998", "999", "worse", "Foo.bar", "1002", "1003", "1004",
        "1497", "1498", "1499", "again", "1501", "1502", "1503"]
    assert re.findall(r"… ([\d,]+) lines …", html) == ["996", "492", "497"]
    assert '<span class="linkis-log-error" style="color:#c62828;font-weight:bold">E &lt;bad&gt; &amp; worse</span>' \
        in html
    text = final_fold(recorder)["text/plain"]
    assert text.splitlines()[1:4] == ["[ERROR] E <bad> & worse", "[ERROR]   at Foo.bar", "[ERROR] E again"]


def test_a_failure_without_error_lines_shows_its_last_lines(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip, log_lines=50)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, log_of(120)))
    reporter.finish(JobState.CANCELLED)
    html = final_fold(recorder)["text/html"]
    assert html.startswith('<details class="linkis-log-fold" open')
    assert "Cancelled: the last 50 lines below" in html
    spans = log_spans(html)
    assert len(spans) == 50 and spans[-1].endswith("step 120")


def test_stopped_following_says_so(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, log_of(5)))
    reporter.finish(JobState.RUNNING, note="stopped waiting")
    final = final_fold(recorder)
    assert "5 lines so far · stopped following the job: the last 5 lines below" in final["text/html"]
    assert final["text/plain"].startswith("Log of task 42 · 5 lines so far · stopped following the job")


def test_many_error_lines_keep_the_first_and_the_last_within_the_bound(ip: Any,
                                                                       recorder: RecordingPublisher) -> None:
    # A long stack trace: every line ERROR. Context shrinks to none, then the first and last half.
    reporter = make_reporter("none", "fold", ip, log_lines=200)
    reporter.start(42)
    lines = [LogLine("ERROR", f"frame {n}") for n in range(1, 2001)]
    reporter(snap(JobState.FAILED, lines))
    final = final_fold(recorder)
    spans = log_spans(final["text/html"])
    assert len(spans) == 200
    assert spans[:2] == ["frame 1", "frame 2"] and spans[99] == "frame 100"
    assert spans[100] == "frame 1901" and spans[-1] == "frame 2000"
    assert "… 1,800 lines …" in final["text/html"]
    text = final["text/plain"].splitlines()
    assert text[0] == "Log of task 42 · 2,000 lines · 2,000 errors · Failed"
    assert text[1:101] == [f"[ERROR] frame {n}" for n in range(1, 101)]
    assert text[101:201] == [f"[ERROR] frame {n}" for n in range(1901, 2001)]
    assert text[-1] == "1,800 more WARN and ERROR lines not shown here; `%linkis log 42` shows the whole log"
    assert len(text) == 202


def test_the_text_keeps_error_lines_before_warn_lines(ip: Any, recorder: RecordingPublisher) -> None:
    # 1,000 WARN lines with one ERROR line amid them, 10 lines kept: the ERROR line is one.
    reporter = make_reporter("none", "fold", ip, log_lines=10)
    reporter.start(42)
    lines = [LogLine("WARN", f"w{n}") for n in range(1, 1001)]
    lines[500] = LogLine("ERROR", "the cause")
    reporter(snap(JobState.FAILED, lines + [info(1)]))
    text = final_fold(recorder)["text/plain"].splitlines()
    assert text[1:] == ["[WARN] w1", "[WARN] w2", "[WARN] w3", "[WARN] w4", "[ERROR] the cause",
                        "[WARN] w996", "[WARN] w997", "[WARN] w998", "[WARN] w999", "[WARN] w1000",
                        "990 more WARN and ERROR lines and 1 other line not shown here; "
                        "`%linkis log 42` shows the whole log"]


def test_the_worst_log_stays_under_the_stated_bound(ip: Any, recorder: RecordingPublisher) -> None:
    # 2,000 ERROR lines of 2,000 characters: every line is kept as far as the bounds allow.
    reporter = make_reporter("none", "fold", ip, log_lines=200)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, [LogLine("ERROR", f"{n} " + "x" * 2000) for n in range(2000)]))
    running = fold_outputs(recorder)[-1]["data"]
    reporter.finish(JobState.FAILED)
    failed = final_fold(recorder)
    for bundle in (running, failed):
        assert len(log_spans(bundle["text/html"])) == 200
        assert all(len(s) < FOLD_LINE_CHARS + 40 for s in log_spans(bundle["text/html"]))
        assert "(1,50" in bundle["text/html"] and "more characters)" in bundle["text/html"]
        assert len(bundle["text/plain"].splitlines()) == 200 + 2
        assert size(bundle) < WORST_BYTES, size(bundle)


def test_no_log_lines_no_output(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "fold", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING))
    reporter(snap(JobState.SUCCEED))
    assert recorder.outputs == []


def test_terminal_fold_prints_warn_and_error_lines_then_counts_the_rest(ip: Any, capsys: Any) -> None:
    reporter = make_reporter("none", "fold", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, log_of(100, at_3=LogLine("WARN", "careful"))))
    assert capsys.readouterr().out == "[WARN] careful\n"
    reporter(snap(JobState.FAILED, log_of(10, at_10=LogLine("ERROR", "broken"))))
    reporter.finish(JobState.FAILED)  # once only
    assert capsys.readouterr().out.splitlines() == [
        "[ERROR] broken", "(108 other log lines not shown; `%linkis log 42` shows the whole log)"]


# -- whole cells against the embedded gateway ---------------------------------------------------

def test_a_job_writing_2000_lines_leaves_one_bounded_output(linkis: Any, recorder: RecordingPublisher) -> None:
    linkis.run_cell_magic("linkis", f"-e shell --progress text {LIMIT}", TWO_THOUSAND + "\necho done")
    (task,) = task_ids(recorder.texts())
    final = final_fold(recorder)
    html, text = final["text/html"], final["text/plain"]
    assert html.startswith('<details class="linkis-log-fold" style=')  # folded: the job succeeded
    # The newest 200 lines as they arrived (the gateway's last lines may come a poll late).
    numbers = [int(m) for s in log_spans(html) for m in re.findall(r"WARN line (\d+)$", s)]
    assert len(log_spans(html)) == 200 and 2000 in numbers and min(numbers) > 1700
    assert f"<code>%linkis log {task}</code> shows the whole log" in html
    # The gateway logs a shell job's stderr as WARN lines: the text keeps 200 of the 2,000.
    lines = text.splitlines()
    assert len(lines) == 200 + 2
    assert lines[1].endswith("WARN line 1") and any(line.endswith("WARN line 2000") for line in lines)
    assert re.fullmatch(rf"1,800 more WARN and ERROR lines and \d+ other lines not shown here; "
                        rf"`%linkis log {task}` shows the whole log", lines[-1]), lines[-1]
    assert size(final) < SHORT_BYTES, size(final)
    # The hint holds: the whole log is there for the asking.
    recorder.outputs.clear()
    linkis.run_line_magic("linkis", f"log {task}")
    (whole,) = recorder.html()
    assert sorted(int(m) for s in log_spans(whole) for m in re.findall(r"WARN line (\d+)$", s)) == \
        list(range(1, 2001))


def test_log_all_still_keeps_every_line(linkis: Any, recorder: RecordingPublisher) -> None:
    linkis.run_cell_magic("linkis", f"-e shell --progress none --log all {LIMIT}", TWO_THOUSAND)
    assert fold_outputs(recorder) == []
    assert all(o["update"] is False and not o["transient"] for o in recorder.outputs)
    shown = [int(m) for h in recorder.html() for s in log_spans(h) for m in re.findall(r"WARN line (\d+)$", s)]
    assert sorted(shown) == list(range(1, 2001))


def test_a_failing_job_keeps_its_error_lines_open(linkis: Any, recorder: RecordingPublisher) -> None:
    # The Python engine logs stderr lines that start like an exception as ERROR lines. The ERROR
    # line is far from the entrance's cache flushes (every 500 lines): a line a read skips there
    # comes late, from the persisted log, after the job's last line.
    code = ("import sys\n"
            "for i in range(1, 301): print(f'line {i}', file=sys.stderr)\n"
            "print('RuntimeError: the input is broken', file=sys.stderr)\n"
            "for i in range(301, 1001): print(f'line {i}', file=sys.stderr)\n"
            "sys.stderr.flush()\n"
            "raise SystemExit(3)")
    with pytest.raises(JobFailedError):
        linkis.run_cell_magic("linkis", f"-e python --progress text {LIMIT}", code)
    (task,) = task_ids(recorder.texts())
    final = final_fold(recorder)
    html = final["text/html"]
    assert html.startswith('<details class="linkis-log-fold" open')
    assert f"Failed: the ERROR lines and the lines around them below; <code>%linkis log {task}</code>" in html
    spans = log_spans(html)
    at = next(i for i, s in enumerate(spans) if "ERROR RuntimeError: the input is broken" in s)
    assert [s.rsplit(" ", 1)[-1] for s in spans[at - 3:at]] == ["298", "299", "300"]
    assert [s.rsplit(" ", 1)[-1] for s in spans[at + 1:at + 4]] == ["301", "302", "303"]
    assert len(spans) <= 200
    # The text keeps every ERROR line, the one amid 1,000 WARN lines too, within its bound.
    text = final["text/plain"].splitlines()
    assert any(line.startswith("[ERROR] ") and line.endswith("RuntimeError: the input is broken") for line in text)
    assert any(line.endswith("ERROR SystemExit: 3") for line in text)
    assert len(text) == 200 + 2


def test_log_lines_setting_bounds_the_output(linkis: Any, recorder: RecordingPublisher) -> None:
    linkis.run_line_magic("config", "LinkisMagics.log_lines = 30")
    linkis.run_cell_magic("linkis", f"-e shell --progress none {LIMIT}", TWO_THOUSAND)
    final = final_fold(recorder)
    assert len(log_spans(final["text/html"])) == 30
    assert len(final["text/plain"].splitlines()) == 30 + 2


def test_the_fold_shows_lines_while_the_job_runs(linkis: Any, tmp_path: Path) -> None:
    # The job waits for a file that the test creates only once the fold display has shown the
    # job's first line, open: if lines came only at the end, the job would give up and fail.
    go = tmp_path / "go"

    def hook(record: dict[str, Any]) -> None:
        html = record["data"].get("text/html", "")
        if "first line" in html and '<details class="linkis-log-fold" open' in html:
            go.touch()

    linkis.display_pub = RecordingPublisher(linkis, hook)
    code = ("echo 'first line' >&2\n"
            f"for i in $(seq 400); do [ -e '{go}' ] && break; sleep 0.05; done\n"
            f"[ -e '{go}' ] || exit 3\n"
            "echo 'second line' >&2")
    linkis.run_cell_magic("linkis", f"-e shell --progress none {LIMIT}", code)
    assert go.exists()
    final = final_fold(linkis.display_pub)
    assert "first line" in final["text/html"] and "second line" in final["text/html"]


def test_a_saved_notebook_keeps_one_bounded_log_output(gateway: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # nbclient applies each update_display_data to the output it names, as papermill does; the
    # notebook written to disk is what the user keeps.
    point_at_gateway(monkeypatch, gateway, tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext linkis_jupyter"),
                nbformat.v4.new_code_cell(f"%%linkis -e shell --progress text {LIMIT}\n{TWO_THOUSAND}")]
    NotebookClient(nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, str(path))
    saved = nbformat.read(str(path), as_version=4)
    logs = [o for o in saved.cells[1].outputs if "linkis-log-fold" in o.get("data", {}).get("text/html", "")]
    assert len(logs) == 1
    assert len(log_spans(logs[0].data["text/html"])) == 200
    assert len(logs[0].data["text/plain"].splitlines()) == 202
    assert size(logs[0].data) < SHORT_BYTES
    # The whole cell, progress line included, stays small.
    assert len(nbformat.writes(saved.cells[1]).encode()) < SHORT_BYTES + 5_000


# -- an interrupted cell ---------------------------------------------------------------------

def test_an_interrupted_cell_leaves_its_log_open(linkis: Any) -> None:
    # tests/magics/test_magics_run.py checks the kill and the one-line interrupt.
    _result, recorder, interrupted = interrupt_cell(
        linkis, f"%%linkis -e shell --progress text {LIMIT}\necho 'first line' >&2\nsleep 30",
        when=lambda data: "first line" in data.get("text/html", ""))
    assert interrupted, "the job's log was never shown"
    final = final_fold(recorder)
    assert final["text/html"].startswith('<details class="linkis-log-fold" open')
    assert final["text/plain"].splitlines()[0].endswith(" · Cancelled")


def test_a_kernel_interrupt_reply_has_no_linkis_jupyter_frames(gateway: Any, start_kernel: Any) -> None:
    km, kc = start_kernel("python3")
    reply, outputs = execute(kc, "%load_ext linkis_jupyter")
    assert reply["status"] == "ok", text_of(outputs)
    msg_id = kc.execute(f"%%linkis -e shell {LIMIT}\nsleep 30")
    newest_job(gateway, {"Running"})
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt"
    assert content["traceback"] == ["KeyboardInterrupt"]
    job = newest_job(gateway, {"Cancelled", "Failed", "Succeed", "Timeout"})
    assert job["status"] == "Cancelled"
    # The error output the notebook shows is the same one line, after "Linkis job N cancelled".
    messages = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=5)
        except queue.Empty:
            break
        if msg["parent_header"].get("msg_id") == msg_id:
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    (error,) = [m for m in messages if m["msg_type"] == "error"]
    assert error["content"]["traceback"] == ["KeyboardInterrupt"]
    assert f"Linkis job {job['taskID']} cancelled" in text_of(messages)
