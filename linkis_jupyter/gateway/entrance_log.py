"""A job's log in the entrance: a cache of recent lines in front of the log file, as Linkis keeps it.

Ported from Linkis' entrance (linkis-computation-governance/linkis-entrance/.../entrance/log/:
LoopArray.scala, CacheLogWriter.scala, CacheLogReader.scala, LogReader.scala; the same from 1.6.0
to release-1.8.0), because a client of `/entrance/{id}/log` sees its numbering:

- Lines go to a ring of `cache_max` slots (`wds.linkis.entrance.log.cacheMax`, 500). Cache index
  `i` holds line `i` counting from 1; index 0 is an empty slot that a read from 0 still counts.
- When the ring is full (or 5 minutes after the last flush) the cached lines and the new line
  are appended to the file, the ring is blanked, and the new line is cached as well: the file then
  holds that line twice. Closing the writer (when the job is done) appends what is cached, minus
  empty lines, and empties the ring.
- A read from before the last flush, or any read once the ring is empty, comes from the file,
  whose lines count from 1 (`fromLine < 1` reads from 1); on 0.x/1.4 profiles from 0.
- Whatever the source, a read answers the lines and how many positions it covered; blank lines
  and the empty slots count but are not shown. The entrance answers `fromLine + covered`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

CACHE_MAX = 500            # wds.linkis.entrance.log.cacheMax
PUSH_INTERVAL = 300.0      # wds.linkis.entrance.log.push.interval.time (5 min)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# A line's level, as LogReader's unanchored regexes find it.
LOG_LEVEL = re.compile(r"[0-9\-/]{10} [0-9:]{8}.?\d{0,3} (SYSTEM-)?(ERROR|WARN) ")


def log_level_index(line: str) -> int:
    """0 ERROR, 1 WARN, 2 INFO, as Linkis' LogReader sorts lines."""
    m = LOG_LEVEL.search(line)
    if m is None:
        return 2
    return 0 if m.group(2) == "ERROR" else 1


def split_log(lines: list[str | None]) -> list[str]:
    """[error, warn, info, all] joined with newlines, as LogReader.readArray returns them: blank
    lines (and the cache's empty slots) are left out."""
    buckets: list[list[str]] = [[], [], []]
    shown = [line for line in lines if line is not None and line.strip()]
    for line in shown:
        buckets[log_level_index(line)].append(line)
    return ["\n".join(b) for b in buckets] + ["\n".join(shown)]


def join_log(lines: list[str | None]) -> str:
    """The one-string log of `distinctLevel=false` (LogReader.read): every line, an empty slot
    as Java appends a null String."""
    return "\n".join("null" if line is None else line for line in lines)


class CacheIndexError(IndexError):
    """A read reached a slot the ring no longer has (Linkis: IllegalArgumentException)."""


class LoopArray:
    """The ring of LoopArray.scala (1.6+), line for line: `get(i)` maps to slot
    `front + i - realSize - 1`, so index 0 is the slot before the first line."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.slots: list[str | None] = [None] * capacity
        self.real_size = 0
        self.front = 0
        self.tail = 0
        self.cleared = 0  # fakeClearEleNums

    def add(self, line: str) -> None:
        following = (self.tail + 1) % self.capacity
        if following == self.front:
            self.front = (self.front + 1) % self.capacity
            self.real_size += 1
        self.slots[self.tail] = line
        self.tail = following

    def get(self, index: int) -> str | None:
        top = self.max
        if index < self.real_size:
            raise CacheIndexError(f"The index {index} has already been deleted, now index must be "
                                  f"bigger than {self.real_size}")
        if index > top:
            raise CacheIndexError(f"The index {index} must be less than {top}")
        return self.slots[(self.front + index - self.real_size + self.capacity - 1) % self.capacity]

    @property
    def size(self) -> int:
        if self.tail == self.front == 0:
            return 0
        if self.tail > self.front:
            return self.tail - self.front
        return self.tail + self.capacity - self.front

    @property
    def min(self) -> int:
        return self.real_size

    @property
    def max(self) -> int:
        return self.real_size + (self.size or 1)

    def next_one_empty(self) -> bool:
        return self.slots[self.tail] is None

    def to_list(self) -> list[str | None]:
        if self.size == 0:
            return []
        return [self.get(i) for i in range(self.min, self.max + 1)]

    def fake_clear(self) -> None:
        self.cleared += self.size
        self.slots = [None] * self.capacity

    def clear(self) -> None:
        self.front = self.tail = self.real_size = 0
        self.slots = [None] * self.capacity


class EntranceLog:
    """One job's CacheLogWriter and CacheLogReader over one ring and one file."""

    def __init__(self, path: Path, *, file_one_based: bool = True, cache_max: int = CACHE_MAX,
                 push_interval: float = PUSH_INTERVAL) -> None:
        self.path = path
        self.file_one_based = file_one_based
        self.push_interval = push_interval
        self.cache = LoopArray(cache_max)
        self.push_at = time.monotonic() + push_interval
        self._first_write = True
        self._closed = False
        # Created with the writer, as AbstractLogWriter does; written only at flushes (and
        # opened only then, so lagging jobs hold no file handles).
        path.touch()

    # -- the writer ----------------------------------------------------------------------------

    def write(self, line: str) -> None:
        """One line (CacheLogWriter.cache)."""
        if self._closed:
            return
        now = time.monotonic()
        if not self.cache.next_one_empty() or now > self.push_at:
            lines = [x for x in self.cache.to_list() if x is not None]
            self.cache.fake_clear()
            self._append("".join(x + "\n" for x in lines) + line)
            self.push_at = now + self.push_interval
        self.cache.add(line)

    def close(self) -> None:
        """The job is done: what is cached goes to the file, empty lines left out (CacheLogWriter.flush)."""
        if self._closed:
            return
        lines = [x for x in self.cache.to_list() if x]
        self.cache.clear()
        self._append("".join(x + "\n" for x in lines))
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _append(self, text: str) -> None:
        # LogWriter.write: every write but the first starts with a line break; a failed write
        # is only warned about there, and the job goes on.
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text if self._first_write else "\n" + text)
        except OSError:
            pass
        self._first_write = False

    # -- the reader ----------------------------------------------------------------------------

    def read(self, from_line: int, size: int) -> tuple[list[str | None], int]:
        """(lines, positions covered) from `from_line`, `size` at most (CacheLogReader.readLog);
        None stands for an empty slot. Raises CacheIndexError where Linkis' ring throws."""
        cache = self.cache
        if cache.size == 0:
            return self._read_file(from_line, size)
        low, top = cache.min, cache.max
        if from_line > top:
            return [], 0
        start = from_line
        end = from_line + size if size >= 0 and top >= from_line + size else top + 1
        out: list[str | None] = []
        from_file = 0
        if from_line < cache.cleared:
            out, from_file = self._read_file(from_line, size)
            if from_line + size < low:
                return out, from_file
            start += from_file
        out.extend(cache.get(i) for i in range(start, end))
        return out, end - start + from_file

    def _read_file(self, from_line: int, size: int) -> tuple[list[str | None], int]:
        """LogReader.readLog: lines count from 1 (1.6+), or from 0."""
        first = 1 if self.file_one_based else 0
        start = max(from_line, first)
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], 0
        lines = _LINE_BREAK.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        chosen = lines[start - first:] if size < 0 else lines[start - first:start - first + size]
        return list(chosen), len(chosen)
