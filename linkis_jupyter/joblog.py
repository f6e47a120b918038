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

The drift grows with the log (200 lines at 100,000), so `JobLog` places each read by its content,
however far back it starts: the lines it repeats are dropped, lines missing between known ones go
in their places, the rest are added. After a read that began in the file and ended short (so in
the cache), its last 499 lines are held back and the next read starts 499 positions back, where
the cache, or after the next flush the file, has the skipped lines; so lines are shown in order.
`JobLog.merge` takes the persisted log (`openLog`, whole) once the job has ended, to put back
whatever is still missing. After the entrance has let a job go, the persisted log is the only
source, merged the same way.
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
# The entrance's cache (wds.linkis.entrance.log.cacheMax): a read that went on from the file into
# the cache skipped lines among its last this many.
_CACHE_MAX = 500
# How many earlier places of a read's first known line are tried before it is taken as new.
_TRIES = 8
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
        self._count: Counter[str] = Counter()  # how often each line is among `lines`
        self._shown = 0  # how many of `lines` add_read and merge have returned
        self._held = 0  # how many of the last lines wait for a read that has the ones skipped
        self._asked_again = 0  # how many positions the last read went back
        self._full = False  # whether the last read covered all it was asked (so ended in the file)

    def add_read(self, lines: list[str], next_from: int | None, size: int | None = None) -> list[LogLine]:
        """One entrance read: its lines, the `fromLine` it answered (None: count the lines) and
        the `size` asked (None: unknown, nothing held back). Returns the lines to show now, in
        order: the lines not shown before, up to any that a read may have skipped lines before."""
        asked = self.from_line
        self.from_line = self.from_line + len(lines) if next_from is None else next_from
        covered = self.from_line - asked
        raw = [line for line in lines if line]  # blank lines are counted, never sent
        doubled = sum(1 for a, b in zip(raw, raw[1:]) if a == b)
        read = _once(raw, None)
        late, known = self._align(read)
        if size is not None and read:
            # A read that began in the file (it repeats more than was asked again, holds a flush
            # line twice, or goes on from a full read, which ends in the file) and ended short of
            # `size` went on in the cache past the file's end: lines between were skipped.
            in_file = self._full or doubled > 0 or known > self._asked_again + 1
            self._full = covered >= size
            if in_file and not self._full:
                # The skipped lines are among the last cache-full of the read; those wait, and
                # the next read starts a cache-full back, where the cache (or the file, after
                # the next flush) has them all.
                self._held = _CACHE_MAX - 1
                self._asked_again = min(_CACHE_MAX - 1, self.from_line)
                self.from_line -= self._asked_again
            else:
                self._held = 0
                self._asked_again = 0
        elif size is None:
            self._held = 0
        if self.end_state is not None:
            self._held = 0
        return late + self._release()

    def _release(self) -> list[LogLine]:
        """The lines not shown yet, but the ones held back."""
        upto = max(self._shown, len(self.lines) - self._held)
        out = self.levels[self._shown:upto]
        self._shown = upto
        return out

    def _align(self, read: list[str]) -> tuple[list[LogLine], int]:
        """Put `read` (lines in the file's order) among the lines read before: the ones it repeats
        are dropped, the ones missing between them go in their places, the rest are added.
        Returns (lines put before lines already shown, how many lines of `read` were known)."""
        first = next((i for i, line in enumerate(read) if self._count[line]), None)
        if first is None:
            self._append(read)
            return [], 0
        target = read[first]
        tried = 0
        for p in range(len(self.lines) - 1, -1, -1):
            if self.lines[p] != target:
                continue
            plan = self._fit(read, first, p)
            if plan is not None:
                return self._apply(read, first, p, *plan)
            tried += 1
            if tried >= _TRIES:
                break
        # No place fits (a log whose lines repeat): what follows the last line read is new.
        last = self.lines[-1]
        after = max((i + 1 for i, line in enumerate(read) if line == last), default=0)
        self._append(read[after:])
        return [], after

    def _fit(self, read: list[str], first: int, p: int) -> tuple[list[tuple[int, str]], int] | None:
        """Whether the lines read before, from `p` on, are `read` from `first` on with lines
        missing: ([(index to put a missing line before, line)], where in `read` the new lines begin)."""
        lines = self.lines
        holes: list[tuple[int, str]] = [(p, line) for line in read[:first]]
        j, w = p, first
        while j < len(lines) and w < len(read):
            if lines[j] == read[w]:
                j += 1
            elif self._count[read[w]]:
                return None
            else:
                holes.append((j, read[w]))
            w += 1
        return holes, w

    def _apply(self, read: list[str], first: int, p: int, holes: list[tuple[int, str]],
               rest: int) -> tuple[list[LogLine], int]:
        late: list[LogLine] = []
        for at, line in reversed(holes):
            level = _classify([line], self.levels[at - 1].level if at else "INFO")[0]
            self.lines.insert(at, line)
            self.levels.insert(at, level)
            self._count[line] += 1
            if at < self._shown:
                late.append(level)
                self._shown += 1
        late.reverse()
        known = rest - len(holes)
        self._append(read[rest:])
        return late, known

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
        self._held = 0
        if not +wanted:
            return self._release()
        places = _places(read, persisted)
        if places is None:
            return self._release()
        if all(at == len(read) for at, _ in places):
            self._append([line for _, line in places])
            return self._release()
        late = [line for at, line in places if at < self._shown]
        merged: list[str] = []
        k = 0
        for at, line in places:
            merged.extend(read[k:at])
            merged.append(line)
            k = at
        merged.extend(read[k:])
        shown = self._shown + len(late)
        self.lines = []
        self.levels = []
        self._count = Counter()
        self._append(merged)
        self._shown = shown
        return _classify(late, "INFO") + self._release()

    def _append(self, lines: list[str]) -> list[LogLine]:
        previous = self.levels[-1].level if self.levels else "INFO"
        classified = _classify(lines, previous)
        self.lines.extend(lines)
        self.levels.extend(classified)
        self._count.update(lines)
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
