"""The reporters of display.py, fed with JobSnapshots as Job.wait hands them over."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fixtures.shell import RecordingPublisher

from linkis_jupyter.display import JobReporter, TextProgress, WidgetProgress, format_elapsed, make_reporter
from linkis_jupyter.logview import LogView, lines_at_level, render_log_html, render_log_text
from linkis_jupyter.runs_on import RunsOn
from linkis_jupyter.job import JobSnapshot, JobState, LogLine, StageProgress

INFO = LogLine("INFO", "2024-05-01 10:00:00.000 INFO job is running")
WARN = LogLine("WARN", "2024-05-01 10:00:01.000 WARN queue <default> is busy")
ERROR = LogLine("ERROR", "2024-05-01 10:00:02.000 ERROR table t not found & gone")


def snap(state: JobState, progress: float = 0.0, elapsed: float = 1.0, log: tuple[LogLine, ...] = (),
         stages: tuple[StageProgress, ...] = ()) -> JobSnapshot:
    return JobSnapshot(task_id=42, exec_id="exec_id018011linkis-cg-entrance127.0.0.1:9104IDE_alice_spark_0",
                       state=state, progress=progress, stages=stages, new_log=log, elapsed=elapsed)


def test_text_reporter_updates_one_display_in_place(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("text", "none", ip)
    assert isinstance(reporter.progress, TextProgress)
    reporter.start(42)
    stage = StageProgress(id="stage-1", succeed=3, failed=1, running=2, total=10)
    reporter(snap(JobState.SCHEDULED, 0.0, 0.4))
    reporter(snap(JobState.RUNNING, 0.3, 1.5, stages=(stage,)))
    reporter(snap(JobState.RUNNING, 0.6, 2.5, stages=(stage,)))
    reporter(snap(JobState.SUCCEED, 1.0, 3.25))

    outputs = recorder.outputs
    display_ids = {o["transient"].get("display_id") for o in outputs}
    assert len(display_ids) == 1 and None not in display_ids
    assert [o["update"] for o in outputs] == [False] + [True] * (len(outputs) - 1)
    texts = recorder.texts()
    assert texts[0] == "Linkis task 42 · Submitted"
    assert "Scheduled · 0% · 0.4 s" in texts[1]
    assert "Running · 30% · 1.5 s · stage-1 3/10 (2 running, 1 failed)" in texts[2]
    assert texts[-1].startswith("Linkis task 42 · Succeed · 3.2 s")


def test_text_reporter_in_a_terminal_without_tty_prints_state_changes(ip: Any, capsys: Any) -> None:
    # The shell's own publisher: the one a terminal IPython uses; pytest's stdout is no tty.
    reporter = make_reporter("text", "none", ip)
    reporter.start(42)
    for p in (0.1, 0.2, 0.3):
        reporter(snap(JobState.RUNNING, p, p * 10))
    reporter(snap(JobState.FAILED, 0.3, 4.0))
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Linkis task 42 · Submitted", "Linkis task 42 · Running · 10% · 1.0 s",
                     "Linkis task 42 · Failed · 4.0 s"]


def test_widget_reporter_follows_progress_and_ends_green(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("widget", "none", ip)
    view = reporter.progress
    assert isinstance(view, WidgetProgress)
    values: list[float] = []
    view.bar.observe(lambda change: values.append(change["new"]), names="value")
    reporter.start(42)
    reporter(snap(JobState.RUNNING, 0.25, 1.0, log=(WARN,)))
    assert view.bar.bar_style == "info"
    assert "Running · 25% · 1.0 s" in view.label.value and "1 warning" in view.label.value
    reporter(snap(JobState.RUNNING, 0.5, 2.0, log=(ERROR, ERROR)))
    assert "2 errors, 1 warning" in view.label.value
    reporter(snap(JobState.SUCCEED, 1.0, 3.0))

    assert values == [0.25, 0.5, 1.0]
    assert view.bar.bar_style == "success"
    assert view.label.value.startswith("Linkis task 42 · Succeed · 3.0 s")
    widget_outputs = [o for o in recorder.outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert widget_outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == view.box.model_id
    # The final refresh of the same display: its text/plain tells the outcome without widget state.
    assert widget_outputs[-1]["update"] is True
    assert widget_outputs[-1]["data"]["text/plain"].startswith("Linkis task 42 · Succeed")
    view.box.close()


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT])
def test_widget_reporter_ends_red_on_failure_and_cancel(ip: Any, recorder: RecordingPublisher, state: JobState) -> None:
    reporter = make_reporter("widget", "none", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, 0.4, 1.0))
    reporter(snap(state, 0.4, 2.0))
    view = reporter.progress
    assert isinstance(view, WidgetProgress)
    assert view.bar.bar_style == "danger"
    assert view.bar.value == 0.4
    assert state.value in view.label.value
    view.box.close()


def test_widget_reporter_that_stops_following_a_running_job_turns_orange(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("widget", "none", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, 0.4, 1.0))
    reporter.finish(JobState.RUNNING, note="stopped waiting; the job still runs")
    view = reporter.progress
    assert isinstance(view, WidgetProgress)
    assert view.bar.bar_style == "warning"
    assert view.label.value.endswith("stopped waiting; the job still runs")
    view.box.close()


def test_log_view_shows_only_new_lines_with_warn_and_error_set_apart(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("none", "all", ip)
    reporter.start(42)
    reporter(snap(JobState.RUNNING, 0.1, log=(INFO, WARN)))
    reporter(snap(JobState.RUNNING, 0.2))  # nothing new: nothing shown
    reporter(snap(JobState.FAILED, 0.2, log=(ERROR,)))

    assert len(recorder.outputs) == 2
    assert all(o["update"] is False and not o["transient"] for o in recorder.outputs)
    first, second = recorder.html()
    assert '<span class="linkis-log-info">2024-05-01 10:00:00.000 INFO job is running</span>' in first
    assert 'class="linkis-log-warn" style="color:' in first and "queue &lt;default&gt; is busy" in first
    assert 'class="linkis-log-error" style="color:' in second and "not found &amp; gone" in second
    assert "job is running" not in second
    assert recorder.texts() == [f"{INFO.text}\n[WARN] {WARN.text}", f"[ERROR] {ERROR.text}"]


@pytest.mark.parametrize(
    "level, shown",
    [("all", [INFO, WARN, ERROR]), ("info", [INFO, WARN, ERROR]), ("warn", [WARN, ERROR]), ("error", [ERROR]),
     ("none", [])],
)
def test_log_levels(level: str, shown: list[LogLine]) -> None:
    assert lines_at_level([INFO, WARN, ERROR], level) == shown


def test_log_view_filters_by_level(ip: Any, recorder: RecordingPublisher) -> None:
    LogView("warn").show([INFO, WARN, INFO])
    LogView("error").show([INFO, WARN])
    assert recorder.texts() == [f"[WARN] {WARN.text}"]


def test_plain_log_text_colours_only_when_asked() -> None:
    assert render_log_text([INFO, ERROR]) == f"{INFO.text}\n[ERROR] {ERROR.text}"
    coloured = render_log_text([ERROR], color=True)
    assert coloured.startswith("\x1b[") and coloured.endswith("\x1b[0m") and "[ERROR]" in coloured
    assert render_log_html([]).startswith('<pre class="linkis-log"')


def test_bad_choices_are_refused(ip: Any) -> None:
    with pytest.raises(ValueError, match="progress must be one of"):
        make_reporter("bar", "all", ip)
    with pytest.raises(ValueError, match="log level must be one of"):
        make_reporter("text", "debug", ip)


def test_finish_before_start_shows_nothing(ip: Any, recorder: RecordingPublisher) -> None:
    reporter = make_reporter("text", "all", ip)
    assert isinstance(reporter, JobReporter)
    reporter.finish(JobState.CANCELLED)
    assert recorder.outputs == []


@pytest.mark.parametrize("seconds, text", [(0.04, "0.0 s"), (59.94, "59.9 s"), (61, "1 min 01 s"),
                                           (3725, "1 h 02 min"), (None, "")])
def test_format_elapsed(seconds: float | None, text: str) -> None:
    assert format_elapsed(seconds) == text


def test_where_the_job_runs_is_shown_with_its_links(ip: Any, recorder: RecordingPublisher) -> None:
    app = "application_1700000000000_0042"
    runs_on = RunsOn("10.0.0.5:40591", app)
    widget = make_reporter("widget", "none", ip, yarn_web_url="http://rm:8088/")
    widget.start(42)
    widget(dataclasses.replace(snap(JobState.RUNNING, 0.5, 2.0), runs_on=RunsOn()))
    assert widget.progress.label.value == "Linkis task 42 · Running · 50% · 2.0 s"
    widget(dataclasses.replace(snap(JobState.RUNNING, 0.5, 2.0), runs_on=runs_on))
    page = f"http://rm:8088/cluster/app/{app}"
    assert widget.progress.label.value == ("Linkis task 42 · Running · 50% · 2.0 s "
                                           f'· <a href="{page}" target="_blank" rel="noopener">YARN {app}</a>'
                                           " · engine 10.0.0.5:40591")
    # The text line says it with the URL; without yarn_web_url, with none.
    text = make_reporter("text", "none", ip, yarn_web_url="http://rm:8088/")
    text(dataclasses.replace(snap(JobState.RUNNING, 0.5, 2.0), runs_on=runs_on))
    assert recorder.texts()[-1].endswith(f"YARN {app} ({page}) · engine 10.0.0.5:40591")
    bare = make_reporter("text", "none", ip)
    bare(dataclasses.replace(snap(JobState.RUNNING, 0.5, 2.0), runs_on=runs_on))
    assert recorder.texts()[-1].endswith(f"YARN {app} · engine 10.0.0.5:40591")
