"""A running job's log in a cell: the `--log` displays of `%%linkis` (display.py picks one).

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
"""
from __future__ import annotations

import html
import re
from typing import Any, Iterable, Sequence

from IPython.display import display

from .job import JobState, LogLine

__all__ = [
    "FOLD_LINE_CHARS",
    "LOG_FILTERS",
    "LOG_LEVELS",
    "FoldedLog",
    "LogView",
    "TerminalFoldedLog",
    "lines_at_level",
    "plural",
    "render_log_html",
    "render_log_text",
]

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


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n:,} {word}s"


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

    def __init__(self, level: str = "all", color: bool = False) -> None:
        if level not in _THRESHOLD:
            raise ValueError(f"log level must be one of {', '.join(LOG_FILTERS)}, not {level!r}")
        self.level = level
        self._color = color  # ANSI colours, for a terminal

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
# `%linkis log N` in the summary: code, in HTML.
_BACKQUOTED = re.compile(r"`([^`]+)`")
_FOLD_GAP_STYLE = "color:#888;font-style:italic"


def _code(text: str) -> str:
    """`text` as HTML, its backquoted parts (`%linkis log N`) as code."""
    return _BACKQUOTED.sub(r"<code>\1</code>", html.escape(text))


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
    parts = [plural(total, "line") + (" so far" if so_far else "")]
    if errors:
        parts.append(plural(errors, "error"))
    if warnings:
        parts.append(plural(warnings, "warning"))
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
            f'<summary style="{_FOLD_SUMMARY_STYLE}">{_code(summary)}</summary>'
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
        return f'<span class="linkis-log-gap" style="{_FOLD_GAP_STYLE}">… {plural(count, "line")} …</span>'

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

    def __init__(self, color: bool = False) -> None:
        self._view = LogView("warn", color)
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
