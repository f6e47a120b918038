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

The job's log is shown as it arrives, in one of two ways (`--log`, `LinkisMagics.log`):

- `fold` (the default, `FoldedLog`): one output, updated in place through a display id, that stays
  bounded however long the log: while the job runs a summary (lines so far, ERROR and WARN
  counts) over the newest `LinkisMagics.log_lines` (200) lines in a scrolling area; on success
  folded away (a closed `<details class="linkis-log-fold">`, one click opens it); on failure,
  cancel or timeout left open on the ERROR lines and the three lines around each. Its text/plain
  (nbconvert, papermill) keeps the WARN and ERROR lines and counts the rest; both name `%linkis log
  TASK` for the whole log. In a terminal IPython (`TerminalFoldedLog`) the WARN and ERROR lines are
  printed as they come and one line at the end counts the others.
- `all`, `info`, `warn`, `error` (`LogView`): every line at or above the level, each batch an
  output of its own that stays in the notebook (a widget's content would be lost with its state);
  `all` is how a notebook keeps the whole log. `none` shows no log.

WARN and ERROR lines are set apart: by colour and CSS class in HTML (`linkis-log-warn`,
`linkis-log-error`), by a `[WARN]`/`[ERROR]` prefix in plain text, and also by colour in a terminal.

The same words describe a job-history record for `%linkis status` and `%linkis history`
(`format_task` and its parts), and `frontend(shell)` is the one place that tells a kernel from a
terminal IPython.
"""
from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from IPython.core.displaypub import DisplayPublisher
from IPython.display import display

from .job import JobSnapshot, JobState, LogLine, StageProgress

if TYPE_CHECKING:
    from .wire import TaskInfo

__all__ = [
    "FOLD_LINE_CHARS",
    "LOG_FILTERS",
    "LOG_LEVELS",
    "PROGRESS_KINDS",
    "FoldedLog",
    "JobReporter",
    "LogView",
    "TerminalFoldedLog",
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
    "lines_at_level",
    "make_reporter",
    "render_log_html",
    "render_log_text",
]

PROGRESS_KINDS = ("auto", "widget", "text", "none")
# The levels a log can be filtered by (`%linkis log --log`), and the choices of a running job's
# log display: those, and `fold` (the default), one bounded display.
LOG_FILTERS = ("all", "info", "warn", "error", "none")
LOG_LEVELS = ("fold",) + LOG_FILTERS

# The lowest level each --log choice shows; "all" also shows lines whose level is not one of the
# three Linkis' LogReader sorts lines into (there are none today, but the filter must not drop them).
_LEVEL_RANK = {"ERROR": 3, "WARN": 2, "INFO": 1}
_THRESHOLD = {"all": 0, "info": 1, "warn": 2, "error": 3, "none": 99}

_PLAIN_PREFIX = {"ERROR": "[ERROR] ", "WARN": "[WARN] "}
_ANSI = {"ERROR": "\x1b[1;31m", "WARN": "\x1b[33m"}
_ANSI_RESET = "\x1b[0m"
_HTML_STYLE = {
    "ERROR": "color:#c62828;font-weight:bold",
    "WARN": "color:#a15c00",
    "INFO": "",
}
_LOG_PRE_STYLE = "margin:0;padding:0 0.25em;white-space:pre-wrap;word-break:break-all;font-size:12px;line-height:1.35"

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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n:,} {word}s"


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

    def line(self) -> str:
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
            counts.append(_plural(self.errors, "error"))
        if self.warnings:
            counts.append(_plural(self.warnings, "warning"))
        if counts:
            parts.append(", ".join(counts))
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


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
        self.label = widgets.Label(value="")
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
        self.label.value = status.line()
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


# -- log lines --------------------------------------------------------------------------------

def lines_at_level(lines: Iterable[LogLine], level: str) -> list[LogLine]:
    threshold = _THRESHOLD[level]
    return [line for line in lines if _LEVEL_RANK.get(line.level, 0) >= threshold]


def render_log_text(lines: Iterable[LogLine], color: bool = False) -> str:
    out = []
    for line in lines:
        text = _PLAIN_PREFIX.get(line.level, "") + line.text
        if color and line.level in _ANSI:
            text = _ANSI[line.level] + text + _ANSI_RESET
        out.append(text)
    return "\n".join(out)


def _html_line(level: str, text: str) -> str:
    level = level if level in _HTML_STYLE else "INFO"
    style = _HTML_STYLE[level]
    style_attr = f' style="{style}"' if style else ""
    return f'<span class="linkis-log-{level.lower()}"{style_attr}>{html.escape(text)}</span>'


def render_log_html(lines: Iterable[LogLine]) -> str:
    spans = [_html_line(line.level, line.text) for line in lines]
    return f'<pre class="linkis-log" style="{_LOG_PRE_STYLE}">' + "\n".join(spans) + "</pre>"


class LogView:
    """Shows log lines at or above a level, each batch as one display output."""

    def __init__(self, level: str = "all", shell: Any = None) -> None:
        if level not in _THRESHOLD:
            raise ValueError(f"log level must be one of {', '.join(LOG_FILTERS)}, not {level!r}")
        self.level = level
        self._color = frontend(shell).tty

    def start(self, task_id: int) -> None:
        pass

    def show(self, lines: Iterable[LogLine]) -> None:
        shown = lines_at_level(lines, self.level)
        if not shown:
            return
        display(
            {"text/plain": render_log_text(shown, color=self._color), "text/html": render_log_html(shown)},
            raw=True,
        )

    def finish(self, state: JobState) -> None:
        pass


# -- --log fold: one bounded display ---------------------------------------------------------

# A line longer than this is cut in the folded display (a minified JSON or a query plan on one
# line); `%linkis log TASK` shows it whole.
FOLD_LINE_CHARS = 500
# The lines kept before and after each ERROR line of a failed job (fewer when they would not fit).
_FOLD_CONTEXT = 3
_FOLD_STYLE = "margin:0.2em 0"
_FOLD_SUMMARY_STYLE = "cursor:pointer;font-size:12px;color:#555"
# A flex column in reverse starts scrolled to its end: the newest lines are in view as they come,
# without script (a notebook's HTML output runs none once saved).
_FOLD_SCROLL_STYLE = _LOG_PRE_STYLE + ";max-height:22em;overflow:auto;display:flex;flex-direction:column-reverse"
_FOLD_GAP_STYLE = "color:#888;font-style:italic"


def _cut(text: str) -> str:
    if len(text) <= FOLD_LINE_CHARS:
        return text
    return text[:FOLD_LINE_CHARS] + f" … ({len(text) - FOLD_LINE_CHARS:,} more characters)"


def _head_and_tail(indices: list[int], limit: int) -> list[int]:
    """At most `limit` of `indices`: the first half and the last (where a failure starts, and
    where it ends)."""
    if len(indices) <= limit:
        return indices
    head = limit // 2
    return indices[:head] + indices[len(indices) - (limit - head):]


def _around_errors(lines: Sequence[LogLine], context: int) -> list[int]:
    """The indices of the ERROR lines and of the `context` lines on either side of each."""
    chosen: list[int] = []
    for i, line in enumerate(lines):
        if line.level != "ERROR":
            continue
        start = max(i - context, chosen[-1] + 1 if chosen else 0)
        chosen.extend(range(start, min(i + context + 1, len(lines))))
    return chosen


def _counts(total: int, errors: int, warnings: int, so_far: bool) -> str:
    parts = [_plural(total, "line") + (" so far" if so_far else "")]
    if errors:
        parts.append(_plural(errors, "error"))
    if warnings:
        parts.append(_plural(warnings, "warning"))
    return " · ".join(parts)


class FoldedLog:
    """`--log fold` in a notebook: the job's log as ONE display output, updated in place.

    While the job runs, a summary (lines so far, ERROR and WARN counts) over the newest lines in a
    scrolling area; once it succeeds, folded away (`<details>` closed, a click opens the newest
    lines); once it fails, is cancelled or times out, open on its ERROR lines with the
    `_FOLD_CONTEXT` lines around each. The text/plain of the same output (nbconvert, papermill, a
    notebook without its HTML) holds the WARN and ERROR lines and a count of the others. Both
    name `%linkis log TASK`, which shows the whole log.

    The bound: whatever the job writes, the output holds at most `max_lines` log lines in its
    HTML and at most `max_lines` WARN/ERROR lines in its text/plain, each cut at `FOLD_LINE_CHARS`
    (500) characters, plus a summary line and "… N lines …" markers. With the default 200
    (`LinkisMagics.log_lines`) that is about 30 KB for a job that writes 2,000 short lines (20 KB
    of HTML, 9 KB of text), 30 to 55 KB for a typical Spark log of 110-character lines, and at
    most about 230 KB whatever the log, for lines of plain text (a character HTML escapes,
    & < > ", takes up to six bytes). tests/magics/test_log_fold.py holds these to 32 KB and 250 KB.
    `--log all` keeps every line instead, each batch an output of its own.
    """

    def __init__(self, max_lines: int = 200) -> None:
        if max_lines < 1:
            raise ValueError(f"log_lines must be at least 1, not {max_lines}")
        self.max_lines = max_lines
        self.task_id: int | None = None
        # Every line, for the ERROR lines and their context at the end. The LogLine objects are
        # the Job's own (it keeps the whole log), so this costs a reference a line.
        self._lines: list[LogLine] = []
        self._marked: list[int] = []  # the indices of the WARN and ERROR lines
        self._errors = 0
        self._warnings = 0
        self._handle: Any = None

    def start(self, task_id: int) -> None:
        self.task_id = task_id

    def show(self, lines: Iterable[LogLine]) -> None:
        new = list(lines)
        if not new:
            return
        for i, line in enumerate(new, start=len(self._lines)):
            if line.level in _PLAIN_PREFIX:
                self._marked.append(i)
                if line.level == "ERROR":
                    self._errors += 1
                else:
                    self._warnings += 1
        self._lines.extend(new)
        self._publish(self.bundle(None))

    def finish(self, state: JobState) -> None:
        if self._lines:
            self._publish(self.bundle(state))

    def _publish(self, bundle: dict[str, str]) -> None:
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    @property
    def _hint(self) -> str:
        return f"`%linkis log {self.task_id}` shows the whole log" if self.task_id is not None else ""

    def bundle(self, state: JobState | None) -> dict[str, str]:
        """The output as of now: `state` None while the job runs, else how it ended (or a state
        that is not an end: we stopped following it)."""
        return {"text/plain": self._text(state), "text/html": self._html(state)}

    def _html(self, state: JobState | None) -> str:
        total = len(self._lines)
        ended = state is not None and state.is_terminal
        newest = list(range(max(0, total - self.max_lines), total))
        summary = f"Log of task {self.task_id} · " + _counts(total, self._errors, self._warnings, not ended)
        is_open = True
        if state is None:
            chosen = newest
            if len(newest) < total:
                summary += f" · the newest {len(newest):,} below"
        elif state.is_success:
            chosen, is_open = newest, False
            shown = "all of them" if len(newest) == total else f"the last {len(newest):,}"
            summary += f" · folded: a click shows {shown}; {self._hint}"
        else:
            around = self._around_errors() if ended else []
            if around:
                chosen = around
                summary += f" · {state.value}: the ERROR lines and the lines around them below; {self._hint}"
            else:
                chosen = newest
                what = state.value if ended else "stopped following the job"
                summary += f" · {what}: the last {len(newest):,} lines below; {self._hint}"
        rows = []
        previous = -1
        for i in chosen:
            if i > previous + 1:
                rows.append(self._gap(i - previous - 1))
            line = self._lines[i]
            rows.append(_html_line(line.level, _cut(line.text)))
            previous = i
        if previous < total - 1:
            rows.append(self._gap(total - 1 - previous))
        return (
            f'<details class="linkis-log-fold"{" open" if is_open else ""} style="{_FOLD_STYLE}">'
            f'<summary style="{_FOLD_SUMMARY_STYLE}">{html.escape(summary)}</summary>'
            f'<pre class="linkis-log" style="{_FOLD_SCROLL_STYLE}"><span style="display:block">'
            + "\n".join(rows)
            + "</span></pre></details>"
        )

    def _around_errors(self) -> list[int]:
        """The ERROR lines with as many lines around each (3, 2, 1, none) as fit in `max_lines`;
        when the ERROR lines alone do not, the first and the last of them."""
        for context in range(_FOLD_CONTEXT, -1, -1):
            chosen = _around_errors(self._lines, context)
            if len(chosen) <= self.max_lines:
                return chosen
        return _head_and_tail(chosen, self.max_lines)

    @staticmethod
    def _gap(count: int) -> str:
        return f'<span class="linkis-log-gap" style="{_FOLD_GAP_STYLE}">… {_plural(count, "line")} …</span>'

    def _text(self, state: JobState | None) -> str:
        total = len(self._lines)
        ended = state is not None and state.is_terminal
        head = f"Log of task {self.task_id} · " + _counts(total, self._errors, self._warnings, not ended)
        if state is not None:
            head += f" · {state.value if ended else 'stopped following the job'}"
        # The ERROR lines first (their first and last when too many), then as many WARN lines as fit.
        errors = [i for i in self._marked if self._lines[i].level == "ERROR"]
        kept = set(_head_and_tail(errors, self.max_lines))
        warnings = [i for i in self._marked if self._lines[i].level != "ERROR"]
        kept.update(_head_and_tail(warnings, self.max_lines - len(kept)) if len(kept) < self.max_lines else [])
        out = [head]
        out.extend(_PLAIN_PREFIX[self._lines[i].level] + _cut(self._lines[i].text) for i in sorted(kept))
        left_out = []
        if len(kept) < len(self._marked):
            left_out.append(f"{len(self._marked) - len(kept):,} more WARN and ERROR lines")
        others = total - len(self._marked)
        if others:
            left_out.append(f"{others:,} other {'line' if others == 1 else 'lines'}")
        tail = " and ".join(left_out) + " not shown here" if left_out else ""
        out.append("; ".join(part for part in (tail, self._hint) if part))
        return "\n".join(out)


class TerminalFoldedLog:
    """`--log fold` in a terminal IPython: the WARN and ERROR lines as they arrive (in colour on
    a tty), and once the job ends one line counting the others, which `%linkis log TASK` shows."""

    def __init__(self, shell: Any = None) -> None:
        self._view = LogView("warn", shell)
        self.task_id: int | None = None
        self._others = 0
        self._ended = False

    def start(self, task_id: int) -> None:
        self.task_id = task_id

    def show(self, lines: Iterable[LogLine]) -> None:
        new = list(lines)
        self._others += sum(1 for line in new if line.level not in _PLAIN_PREFIX)
        self._view.show(new)

    def finish(self, state: JobState) -> None:
        if self._ended or not self._others:
            return
        self._ended = True
        lines = "line" if self._others == 1 else "lines"
        print(f"({self._others:,} other log {lines} not shown; `%linkis log {self.task_id}` shows the whole log)",
              flush=True)


# -- the reporter ---------------------------------------------------------------------------

@dataclass
class JobReporter:
    """The `on_update` callback of `Job.wait`: feeds the progress display and the log view."""

    progress: NoProgress | TextProgress | WidgetProgress
    log: LogView | FoldedLog | TerminalFoldedLog
    status: Status | None = None
    _started: bool = field(default=False, repr=False)

    def start(self, task_id: int) -> None:
        """Called once the job is submitted (or attached), before the first poll."""
        self.status = Status(task_id=task_id)
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


def make_reporter(progress: str = "auto", log: str = "fold", shell: Any = None, log_lines: int = 200) -> JobReporter:
    """The reporter of one job: `progress` one of PROGRESS_KINDS, `log` one of LOG_LEVELS;
    `log_lines` bounds the `fold` display."""
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
        log_view = LogView(log, shell)
    elif frontend(shell).terminal:
        log_view = TerminalFoldedLog(shell)
    else:
        log_view = FoldedLog(log_lines)
    return JobReporter(progress=view, log=log_view)

