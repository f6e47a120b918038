"""What a cell shows while its Linkis job runs: a progress reporter and the job's log lines.

The reporter is chosen once per cell (`make_reporter`) and handed to `Job.wait` as its
`on_update` callback; nothing else in the package builds widgets or prints progress.

- `widget`: an ipywidgets progress bar and a label (state, percent, elapsed time, task id, the
  per-stage task counts of Linkis' `progressInfo`, the number of ERROR/WARN lines so far). It ends
  green on success and red on failure or cancel. Its display also carries a text/plain line,
  updated once the job ends, so a saved notebook without widget state still says how it went.
- `text`: the same information as one line, updated in place through a display id (nbconvert,
  papermill, VS Code, any frontend without the widget manager); in a terminal IPython the line is
  rewritten with a carriage return.
- `none`: no progress display.

The job's log is shown by one of logview.py's displays, as `--log` (`LinkisMagics.log`) says.

The same words describe a job-history record for `%linkis status` and `%linkis history`
(`format_task` and its parts), and `frontend(shell)` is the one place that tells a kernel from a
terminal IPython.
"""
from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from IPython.core.displaypub import DisplayPublisher
from IPython.display import display

from .job import JobSnapshot, JobState, StageProgress
from .logview import LOG_LEVELS, FoldedLog, LogView, TerminalFoldedLog, plural
from .runs_on import RunsOn

if TYPE_CHECKING:
    from .wire import TaskInfo

__all__ = [
    "PROGRESS_KINDS",
    "JobReporter",
    "Frontend",
    "NoProgress",
    "Status",
    "TextProgress",
    "WidgetProgress",
    "choose_progress",
    "format_duration",
    "format_elapsed",
    "format_error",
    "format_stages",
    "format_state",
    "format_task",
    "format_time",
    "frontend",
    "make_reporter",
]

PROGRESS_KINDS = ("auto", "widget", "text", "none")
# The stage list gets long on big Spark jobs; the label shows the first few and a count of the rest.
_MAX_STAGES_SHOWN = 4


def format_elapsed(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_stages(stages: Sequence[StageProgress]) -> str:
    parts = []
    for stage in stages[:_MAX_STAGES_SHOWN]:
        text = f"{stage.id} {stage.succeed}/{stage.total}"
        extra = []
        if stage.running:
            extra.append(f"{stage.running} running")
        if stage.failed:
            extra.append(f"{stage.failed} failed")
        if extra:
            text += f" ({', '.join(extra)})"
        parts.append(text)
    if len(stages) > _MAX_STAGES_SHOWN:
        parts.append(f"+{len(stages) - _MAX_STAGES_SHOWN} more stages")
    return ", ".join(parts)


@dataclass
class Status:
    """Everything a progress display shows, as of the last snapshot."""

    task_id: int
    state: JobState | None = None
    progress: float = 0.0
    elapsed: float | None = None
    stages: tuple[StageProgress, ...] = ()
    errors: int = 0
    warnings: int = 0
    note: str = ""
    runs_on: RunsOn = RunsOn()
    yarn_web_url: str = ""  # LinkisClient.yarn_web_url: a YARN application's page there

    def line(self, where: bool = True) -> str:
        """The status as one line; `where`: with where the job runs, URLs in brackets."""
        parts = [f"Linkis task {self.task_id}", self.state.value if self.state else "Submitted"]
        if self.state is not None and not self.state.is_terminal:
            parts.append(f"{self.progress:.0%}")
        if self.elapsed is not None:
            parts.append(format_elapsed(self.elapsed))
        if self.stages and not (self.state is not None and self.state.is_terminal):
            # Once the job has ended, the last counts polled are stale ("1 running").
            parts.append(format_stages(self.stages))
        counts = []
        if self.errors:
            counts.append(plural(self.errors, "error"))
        if self.warnings:
            counts.append(plural(self.warnings, "warning"))
        if counts:
            parts.append(", ".join(counts))
        if where and self.runs_on:
            parts.append(self.runs_on.describe(self.yarn_web_url))
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)

    def where_html(self) -> str:
        """"· " and where the job runs, as HTML, each thing with a URL a link that opens a new tab."""
        links = [f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{html.escape(text)}</a>' if url
                 else html.escape(text) for text, url in self.runs_on.links(self.yarn_web_url)]
        return "· " + " · ".join(links) if links else ""


# -- a job-history record as text (%linkis status, %linkis history) ---------------------------

def format_time(moment: datetime | None) -> str:
    """A server time in the local time zone, to the second."""
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_state(info: TaskInfo) -> str:
    """The state's name, or Linkis' own word for a status this package does not know."""
    return info.state.value if info.state is not JobState.UNKNOWN else info.status


def format_duration(info: TaskInfo) -> str:
    """How long the job ran: Linkis' costTime, else created to updated once it has ended."""
    if info.cost_time:
        return format_elapsed(info.cost_time / 1000)
    if info.created is not None and info.updated is not None and info.state.is_terminal:
        return format_elapsed((info.updated - info.created).total_seconds())
    return ""


def format_error(info: TaskInfo) -> str:
    """"errCode: errDesc", or "" when the job has neither."""
    if info.err_code is None and not info.err_desc:
        return ""
    code = f"{info.err_code}: " if info.err_code is not None else ""
    return code + (info.err_desc or "").strip()


def format_task(info: TaskInfo) -> str:
    """`%linkis status`: "Linkis task N: state · progress · engine run type · created … · took …",
    and the error on a line of its own."""
    parts = [f"Linkis task {info.task_id}: {format_state(info)}"]
    if not info.state.is_terminal:
        parts.append(f"{info.progress:.0%}")
    if info.engine_type or info.run_type:
        parts.append(" ".join(p for p in (info.engine_type, info.run_type) if p))
    if info.created is not None:
        parts.append(f"created {format_time(info.created)}")
    duration = format_duration(info)
    if duration:
        parts.append(f"took {duration}")
    text = " · ".join(parts)
    error = format_error(info)
    if error:
        text += f"\nerror {error}"
    return text


# -- where the output goes -------------------------------------------------------------------

@dataclass(frozen=True)
class Frontend:
    """What the reporters need to know of the shell a cell runs in."""

    kernel: bool  # a kernel: its frontend may render widgets
    terminal: bool  # a terminal IPython: every display update prints as a new line
    tty: bool  # a terminal on a tty: "\r" rewrites a line, and ANSI colours show


def frontend(shell: Any) -> Frontend:
    terminal = shell is not None and type(getattr(shell, "display_pub", None)) is DisplayPublisher
    return Frontend(
        kernel=getattr(shell, "kernel", None) is not None,
        terminal=terminal,
        tty=terminal and _isatty(sys.stdout),
    )


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# -- progress ---------------------------------------------------------------------------------

class NoProgress:
    """`--progress none`."""

    def show(self, status: Status) -> None:
        pass

    def finish(self, status: Status) -> None:
        pass

    def make_room(self) -> None:
        pass


class TextProgress:
    """One line for the whole job, updated in place."""

    def __init__(self, shell: Any = None) -> None:
        self._handle: Any = None
        self._last = ""
        # A terminal IPython prints every display update as a new line; there the line is
        # rewritten with "\r" instead. Piped output (not a tty) only gets state changes.
        where = frontend(shell)
        self._plain, self._tty = where.terminal, where.tty
        self._last_state: JobState | None | str = "unset"

    def show(self, status: Status) -> None:
        line = status.line()
        if line == self._last:
            return
        self._last = line
        if self._plain:
            if self._tty:
                _rewrite(line)
            elif status.state != self._last_state:
                print(line, flush=True)
            self._last_state = status.state
            return
        bundle = {"text/plain": line}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def finish(self, status: Status) -> None:
        line = status.line()
        if self._plain:
            if self._tty:
                _rewrite(line, end="\n")
            elif line != self._last:
                print(line, flush=True)
            self._last = line
            return
        self._last = ""
        self.show(status)

    def make_room(self) -> None:
        """Log lines are about to be printed: on a tty, erase the line being rewritten (else the
        first log line would go on after it); the next `show` writes it again, below them."""
        if self._tty and self._last:
            # Erase the whole line, then back to its start, where the log's first line goes.
            sys.stdout.write("\x1b[2K\r")
            sys.stdout.flush()
            self._last = ""


def _rewrite(line: str, end: str = "") -> None:
    """Write `line` over the terminal's current line."""
    sys.stdout.write("\r" + line + "\x1b[K" + end)
    sys.stdout.flush()


class WidgetProgress:
    """An ipywidgets progress bar with a label; the bar's value is the job's progress (0..1)."""

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.bar = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, bar_style="info", layout=widgets.Layout(width="30%", min_width="12em")
        )
        # The status line, then where the job runs with links (its YARN application's page): HTML,
        # so that one widget (and its two models) holds both.
        self.label = widgets.HTML(value="")
        self.box = widgets.HBox([self.bar, self.label])
        self._handle: Any = None
        self._status: Status | None = None

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.box._repr_mimebundle_(**kwargs) or {})
        if self._status is not None:
            bundle["text/plain"] = self._status.line()
        return bundle

    def show(self, status: Status) -> None:
        self._status = status
        self.bar.value = min(max(status.progress, 0.0), 1.0)
        self.label.value = " ".join(filter(None, (html.escape(status.line(where=False)), status.where_html())))
        if self._handle is None:
            self._handle = display(self, display_id=True)

    def finish(self, status: Status) -> None:
        state = status.state
        if state is not None and state.is_success:
            self.bar.value = 1.0
            self.bar.bar_style = "success"
        elif state is not None and state.is_terminal:
            self.bar.bar_style = "danger"
        else:
            # We stopped following a job that may still run (a wait timeout, an unconfirmed kill).
            self.bar.bar_style = "warning"
        self.show(status)
        # Refresh the display once so its text/plain (what nbconvert or a notebook reopened
        # without widget state shows) tells the final state too.
        self._handle.update(self)

    def make_room(self) -> None:
        pass


# -- the reporter ---------------------------------------------------------------------------

@dataclass
class JobReporter:
    """The `on_update` callback of `Job.wait`: feeds the progress display and the log view."""

    progress: NoProgress | TextProgress | WidgetProgress
    log: LogView | FoldedLog | TerminalFoldedLog
    status: Status | None = None
    yarn_web_url: str = ""
    _started: bool = field(default=False, repr=False)

    def start(self, task_id: int) -> None:
        """Called once the job is submitted (or attached), before the first poll."""
        self.status = Status(task_id=task_id, yarn_web_url=self.yarn_web_url)
        self._started = True
        self.progress.show(self.status)
        self.log.start(task_id)

    def __call__(self, snapshot: JobSnapshot) -> None:
        if self.status is None:
            self.start(snapshot.task_id)
        status = self.status
        assert status is not None
        for line in snapshot.new_log:
            if line.level == "ERROR":
                status.errors += 1
            elif line.level == "WARN":
                status.warnings += 1
        status.state = snapshot.state
        status.progress = snapshot.progress
        status.elapsed = snapshot.elapsed
        status.note = snapshot.note
        status.runs_on = snapshot.runs_on
        if snapshot.stages:
            status.stages = tuple(snapshot.stages)
        if snapshot.new_log:
            self.progress.make_room()
        self.log.show(snapshot.new_log)
        if snapshot.state.is_terminal:
            self.finish(snapshot.state)
        else:
            self.progress.show(status)

    def finish(self, state: JobState, note: str = "") -> None:
        """The job ended (or we stopped following it): show the final state; idempotent."""
        if self.status is None or not self._started:
            return
        self._started = False
        self.status.state = state
        self.status.note = note
        if state.is_success:
            self.status.progress = 1.0
        self.progress.finish(self.status)
        # After the progress line: in a terminal the log's last line comes below it.
        self.log.finish(state)


def choose_progress(kind: str, shell: Any = None) -> str:
    """Resolve `auto`: a widget in a kernel (a frontend may render it), text elsewhere."""
    if kind not in PROGRESS_KINDS:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_KINDS)}, not {kind!r}")
    if kind != "auto":
        return kind
    return "widget" if frontend(shell).kernel else "text"


def make_reporter(progress: str = "auto", log: str = "fold", shell: Any = None, log_lines: int = 200,
                  yarn_web_url: str = "") -> JobReporter:
    """The reporter of one job: `progress` one of PROGRESS_KINDS, `log` one of LOG_LEVELS;
    `log_lines` bounds the `fold` display; with `yarn_web_url` a job's YARN application links to its page."""
    if log not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {log!r}")
    kind = choose_progress(progress, shell)
    view: NoProgress | TextProgress | WidgetProgress
    if kind == "widget":
        try:
            view = WidgetProgress()
        except ImportError:
            view = TextProgress(shell)
    elif kind == "text":
        view = TextProgress(shell)
    else:
        view = NoProgress()
    log_view: LogView | FoldedLog | TerminalFoldedLog
    if log != "fold":
        log_view = LogView(log, frontend(shell).tty)
    elif frontend(shell).terminal:
        log_view = TerminalFoldedLog(frontend(shell).tty)
    else:
        log_view = FoldedLog(log_lines)
    return JobReporter(progress=view, log=log_view, yarn_web_url=yarn_web_url)

