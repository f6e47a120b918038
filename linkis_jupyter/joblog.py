"""A job's log as Linkis serves it: lines with their levels, each once, in order.

The entrance serves a running job's log from `/entrance/{execID}/log?fromLine=&size=`, at most
10,000 lines a read (a negative size means that too), answering the `fromLine` to ask from next.
Behind it (CacheLogWriter and CacheLogReader, 1.6 and later) is a cache of 500 lines in front of
the log file, and the two do not count alike:

- the cache counts from 0, the file reader from 1, so a read that goes to the file repeats the
  last lines already read;
- at each flush of the cache (every 500 lines, or 5 minutes) the flushing line is written to the
  file twice, and the file's line numbers drift one further from the cache's;
- a read that starts in the file and ends in the cache skips as many lines as the drift.

So `JobLog` drops what a read repeats (the lines it begins with, up to the last one read before,
and a line written twice in a row), and `JobLog.merge` takes the persisted log (`openLog`, whole)
once the job has ended, to put back, in their places, the lines a read skipped. After the
entrance has let a job go, the persisted log is the only source, merged the same way.
"""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from .wire import JobState

__all__ = ["JobLog", "LogLine", "READ_SIZE", "is_end_line", "sql_limit"]

# The most lines one /log read gives (EntranceRestfulApi.log: a negative size means this too).
READ_SIZE = 10000
# Linkis' last log line of a job, whole (EntranceJob.afterStateChanged, the same since 0.11.0;
# LogUtils.generateInfo), so a job that prints the phrase does not end its own wait.
_END_LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? INFO (?:Congratulations\. Your job completed with "
    r"status (Success)\.|Sorry\. Your job completed with a status (\w+)\. You can view logs for the reason\.)\s*$")
# The lines with which the entrance logs a job's start (EntranceJob.afterStateChanged, the same
# words since 0.11.0; 1.x adds a Chinese gloss), so the state before the end needs no /status.
_STATE_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? INFO Your job is (Scheduled|Running now)\. ")
_STATE_WORDS = {"Scheduled": JobState.SCHEDULED, "Running now": JobState.RUNNING}
_LINE_LEVEL = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\s+(ERROR|WARN|WARNING|INFO|DEBUG|TRACE)\b")
# The WARN lines of Linkis' SQLLimitEntranceInterceptor (SQLExplain.dealSQLLimit), one for each
# SELECT it limited: a limit added, or one above the entrance's lowered. 0.x names the SELECT
# after "a sql" and says "program" for "DSS". Both say 5000 whatever the limit is.
_SQL_LIMIT = re.compile(r"You submitted a sql .*?(?:(without limit), (?:DSS|program) will add limit|"
                        r"with limit exceeding \d+, it is not allowed\. (?:DSS|Program) will change your limit)",
                        re.S)
# How far back the start of a read is compared with what was read before.
_OVERLAP = 50
# The entrance writes its cache to the file every 500 lines or 5 minutes
# (wds.linkis.entrance.log.cacheMax, ...log.push.interval.time): a shorter, quicker job's reads
# never mix the two, and its log needs no merge.
_FLUSH_LINES = 400
_FLUSH_SECONDS = 240.0


@dataclass(frozen=True)
class LogLine:
    """One log line; `level` is "ERROR", "WARN" or "INFO" (as Linkis' LogReader sorts them)."""

    level: str
    text: str


def _classify(lines: list[str], previous: str) -> list[LogLine]:
    """Levels as Linkis' LogReader gives them; a line without a timestamp (a stack trace, say)
    continues the level of the line before it."""
    out = []
    level = previous
    for text in lines:
        match = _LINE_LEVEL.match(text)
        if "SYSTEM-ERROR" in text:
            level = "ERROR"
        elif "SYSTEM-WARN" in text:
            level = "WARN"
        elif match:
            word = match.group(1)
            level = "ERROR" if word == "ERROR" else "WARN" if word.startswith("WARN") else "INFO"
        out.append(LogLine(level, text))
    return out


def sql_limit(lines: list[LogLine]) -> str | None:
    """What the entrance's first WARN line about a SELECT limit says it did: "added" (a limit to a
    SELECT without one) or "lowered" (a limit above its own); None when no line says so."""
    for line in lines:
        match = _SQL_LIMIT.search(line.text) if line.level == "WARN" else None
        if match:
            return "added" if match.group(1) else "lowered"
    return None


def is_end_line(line: str) -> bool:
    """Whether this is Linkis' end-of-job line."""
    return _END_LINE.match(line) is not None


def _once(lines: list[str], before: str | None) -> list[str]:
    """`lines` without a line equal to the one before it: the double write of a flush."""
    out = []
    for line in lines:
        if line and line == before:
            continue
        out.append(line)
        before = line
    return out


def _places(read: list[str], persisted: list[str]) -> list[tuple[int, str]] | None:
    """Where the lines of `persisted` that `read` lacks go among `read`: (index in `read` to put
    it before, line), in order; None when the two logs do not fit together."""
    # Mostly the lines read are the file's with some left out: one pass finds those.
    places: list[tuple[int, str]] = []
    j = 0
    for line in persisted:
        if j < len(read) and line == read[j]:
            j += 1
        else:
            places.append((j, line))
    if j == len(read):
        return places
    # Otherwise (a line read twice, or out of order) a diff decides, slower.
    wanted = Counter(persisted)
    wanted.subtract(read)
    matcher = SequenceMatcher(None, read, persisted, autojunk=False)
    blocks = [block for block in matcher.get_matching_blocks() if block.size]
    # The file may end before the lines read do; up to where it ends, nearly all must be in it.
    if read and (not blocks or sum(b.size for b in blocks) < 0.9 * (blocks[-1].a + blocks[-1].size)):
        return None
    places = []
    for tag, _i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            for line in persisted[j1:j2]:
                if wanted[line] > 0:
                    wanted[line] -= 1
                    places.append((i2, line))
    return places


class JobLog:
    """Every line of one job's log read so far, and where the entrance read goes on from."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.levels: list[LogLine] = []
        self.from_line = 0  # the entrance's count, echoed as fromLine
        self.end_state: JobState | None = None  # the state the log's end line names
        self.start_state: JobState | None = None  # the latest of Scheduled and Running the log names
        self.ended_at = 0.0  # time.monotonic() when that line was read

    def add_read(self, lines: list[str], next_from: int | None) -> list[LogLine]:
        """One entrance read: its lines, and the `fromLine` it answered (None: count the lines).
        Returns the lines not read before."""
        self.from_line = self.from_line + len(lines) if next_from is None else next_from
        # Blank lines are counted, never sent; a flush writes its line twice.
        lines = _once([line for line in lines if line], self.lines[-1] if self.lines else None)
        # A read that repeats begins with lines read before, up to the last one, and may hold
        # among them one an earlier read skipped: that one goes in its place.
        last = self.lines[-1] if self.lines else None
        repeat = 0
        for i, line in enumerate(lines[:_OVERLAP]):
            if line == last:
                repeat = i + 1
        new: list[LogLine] = []
        known = set(self.lines[-2 * _OVERLAP:])
        skipped: list[str] = []
        for line in lines[:repeat]:
            if line not in known:
                skipped.append(line)
            elif skipped:
                new.extend(self._insert_before(line, skipped))
                skipped = []
        return new + self._append(lines[repeat:])

    def _insert_before(self, anchor: str, lines: list[str]) -> list[LogLine]:
        """Put `lines` before the last line read equal to `anchor`, among the latest lines read."""
        at = len(self.lines)
        for k in range(len(self.lines) - 1, max(-1, len(self.lines) - 2 * _OVERLAP - 1), -1):
            if self.lines[k] == anchor:
                at = k
                break
        levels = _classify(lines, self.levels[at - 1].level if at else "INFO")
        self.lines[at:at] = lines
        self.levels[at:at] = levels
        return levels

    def needs_merge(self, ran_for: float) -> bool:
        """Whether the entrance may have flushed its cache while the job ran, so that a read may
        have skipped lines (see the module doc)."""
        return self.from_line >= _FLUSH_LINES or ran_for >= _FLUSH_SECONDS

    def merge(self, persisted: list[str]) -> list[LogLine]:
        """Put the persisted log's lines that were not read into their places; returns them.

        The lines read are in the persisted log in the same order, with others between and after
        them (the file may lack the last lines read: the entrance writes it in batches). A line is
        taken only as often as the file has it more than the lines read do; when the two do not
        fit (another log, a damaged file), nothing is taken."""
        persisted = _once([line for line in persisted if line], None)
        read = self.lines
        wanted = Counter(persisted)
        wanted.subtract(read)
        if not +wanted:
            return []
        places = _places(read, persisted)
        if places is None:
            return []
        if all(at == len(read) for at, _ in places):
            return self._append([line for _, line in places])
        merged: list[str] = []
        k = 0
        for at, line in places:
            merged.extend(read[k:at])
            merged.append(line)
            k = at
        merged.extend(read[k:])
        self.lines = []
        self.levels = []
        self._append(merged)
        return _classify([line for _, line in places], "INFO")

    def _append(self, lines: list[str]) -> list[LogLine]:
        previous = self.levels[-1].level if self.levels else "INFO"
        classified = _classify(lines, previous)
        self.lines.extend(lines)
        self.levels.extend(classified)
        if self.end_state is None:
            for line in lines:
                start = _STATE_LINE.match(line)
                if start:
                    self.start_state = _STATE_WORDS[start.group(1)]
                end = _END_LINE.match(line)
                if end:
                    self.end_state = JobState.SUCCEED if end.group(1) else JobState.from_wire(end.group(2))
                    self.ended_at = time.monotonic()
        return classified

    def errors(self, count: int) -> tuple[str, ...]:
        """The last `count` ERROR lines."""
        return tuple(line.text for line in self.levels if line.level == "ERROR")[-count:]
