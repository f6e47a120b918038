"""Job: one Linkis job from submit to results, from plain Python (no IPython here).

A script that submits, follows, kills and reads jobs::

    from linkis_jupyter import LinkisClient, Job, JobSpec
    from linkis_jupyter.errors import JobFailedError, LinkisTimeoutError

    client = LinkisClient(gateway_url="http://127.0.0.1:9001", user="alice", password="...")

    # Submit and follow: on_update gets a JobSnapshot after every poll.
    job = Job.submit(client, JobSpec(code="select 1 as x", engine="spark"))
    def show(snap):
        for line in snap.new_log:
            print(line.text)
        print(f"{snap.state.value} {snap.progress:.0%}")
    try:
        job.wait(on_update=show, timeout=600)
    except JobFailedError as err:
        print(err.err_code, err.err_desc, *err.log_tail, sep="\\n")
        raise

    # Every result set, paged to the end: DataFrames for tables, text otherwise.
    for rs in job.results():
        print(rs.index, rs.type.name, rs.data)

    # Kill: the with-block kills the job if the block raises (Ctrl-C included).
    try:
        with Job.submit(client, JobSpec(code="import time; time.sleep(600)", engine="python")) as slow:
            slow.wait(timeout=5)
    except LinkisTimeoutError:
        print("gave up on job", slow.task_id, "- now", slow.state.value)     # Cancelled
    # ... or explicitly:
    other = Job.submit(client, JobSpec(code="sleep 600", engine="shell"))
    other.kill()                    # True once the gateway says Cancelled

    # Later, from the task id alone (another process, after a restart):
    old = Job.attach(client, job.task_id)
    print(old.poll().state, old.log())

Polling: the first poll comes `poll_interval_min` (50 ms) after submit; after that the pause
before the next one is 30% of the time the job has run so far (at least `poll_interval_min`, at
most `poll_interval_max`, 2 s). So a job is seen to end at most about a third of its run time
late, short jobs at once, and the count stays small: from submit to a one-table result a ~0 s
job takes 5 requests, a 0.5 s job about 14, a 30 s job about 38 (30 polls). While the entrance
has the job, every poll asks for the new log lines (echoing `fromLine`, `size=-1`); when they
show Linkis' end-of-job line ("Your job completed with ...") the state comes from job history,
which also says where the results are. The entrance state is asked every fourth poll until the
job runs, then every 32nd in case a gateway never writes that line; the progress every eighth.
Once the entrance has let the job go (it keeps finished jobs only a while), job history and
`openLog` take over; the log carries on from the last line read, none lost or doubled.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from .client import LinkisClient
from .wire import JobState, Progress, ResultPage, StageProgress, TaskInfo
from .errors import (
    APIError,
    ConfigError,
    JobCancelledError,
    JobError,
    JobFailedError,
    LinkisError,
    LinkisTimeoutError,
    TransportError,
)

if TYPE_CHECKING:
    from .results import ResultSet

__all__ = ["Job", "JobSpec", "JobState", "JobSnapshot", "StageProgress", "LogLine", "DEFAULT_RUN_TYPES"]

# The run type an engine takes when none is given (shared/linkis-api.md, section 8).
DEFAULT_RUN_TYPES = {
    "spark": "sql",
    "hive": "hql",
    "python": "python",
    "shell": "shell",
    "jdbc": "jdbc",
    "trino": "tsql",
    "presto": "psql",
    "openlookeng": "sql",
    "flink": "sql",
    "elasticsearch": "essql",
    "pipeline": "pipeline",
    "nebula": "ngql",
    "impala": "isql",
    "repl": "repl",
    "doris": "doris",
    "io_file": "io_file",
    "io_hdfs": "io_hdfs",
}

# Linkis' last log line of a job (EntranceJob.scala); linkis-cli keys on the same phrase.
_END_MARKER = "Your job completed with"
_LINE_LEVEL = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\s+(ERROR|WARN|WARNING|INFO|DEBUG|TRACE)\b")
_ERROR_TAIL = 5
# The pause before the next poll, as a share of the time the job has run (see the module doc).
_PAUSE_SHARE = 0.3
# Every poll asks for the log; the progress every _PROGRESS_EVERY-th poll, the entrance state
# every fourth until the job runs, then every _STATUS_EVERY-th (the log's end line is what
# normally tells that a job has ended).
_PROGRESS_EVERY = 8
_STATUS_EVERY = 32
_NOT_STARTED = (JobState.INITED, JobState.WAIT_FOR_RETRY, JobState.SCHEDULED, JobState.UNKNOWN)


def _check_unicode(what: str, text: str) -> None:
    # A lone surrogate (a broken paste, a file name decoded with surrogateescape) cannot travel as
    # UTF-8: say where it is instead of letting the gateway fail on it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        line = text.count("\n", 0, e.start) + 1
        raise ConfigError(f"{what} holds a character that is not valid Unicode text "
                          f"({text[e.start]!r}, line {line}); retype or remove it") from None


@dataclass
class JobSpec:
    """What to run. `engine` may carry a version ("spark-3.2.1"); `run_type` defaults from the engine."""

    code: str
    engine: str = "spark"
    run_type: str | None = None
    creator: str = "IDE"
    variables: Mapping[str, str] = field(default_factory=dict)
    startup: Mapping[str, Any] = field(default_factory=dict)
    runtime: Mapping[str, Any] = field(default_factory=dict)
    special: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)
    script_path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise ConfigError("the job has no code to run")
        engine = (self.engine or "").strip()
        if not engine:
            raise ConfigError("the job needs an engine, e.g. 'spark' or 'spark-3.2.1'")
        self.engine = engine
        if not self.creator or not re.fullmatch(r"[A-Za-z0-9_.]+", self.creator):
            raise ConfigError(f"creator must be letters, digits, '_' or '.', not {self.creator!r}")
        if self.run_type is None or not str(self.run_type).strip():
            run_type = DEFAULT_RUN_TYPES.get(self.engine_name)
            if run_type is None:
                raise ConfigError(f"no default run type for engine {self.engine_name!r}: give run_type")
            self.run_type = run_type
        else:
            self.run_type = str(self.run_type).strip().lower()
        self.variables = {str(k): str(v) for k, v in dict(self.variables).items()}
        _check_unicode("the code", self.code)
        for kind, settings in (("variable", self.variables), ("startup parameter", self.startup),
                               ("runtime parameter", self.runtime), ("label", self.labels)):
            for key, value in settings.items():
                _check_unicode(f"{kind} {key!r}", f"{key}={value}")

    @property
    def engine_name(self) -> str:
        """"spark" of "spark-3.2.1"."""
        return self.engine.split("-", 1)[0].lower()

    @property
    def engine_version(self) -> str | None:
        """"3.2.1" of "spark-3.2.1"; None when no version was written."""
        _, sep, version = self.engine.partition("-")
        return version if sep and version else None


@dataclass(frozen=True)
class LogLine:
    """One log line; `level` is "ERROR", "WARN" or "INFO" (as Linkis' LogReader sorts them)."""

    level: str
    text: str


@dataclass(frozen=True)
class JobSnapshot:
    task_id: int
    exec_id: str
    state: JobState
    progress: float  # 0..1
    stages: tuple[StageProgress, ...]
    new_log: tuple[LogLine, ...]  # only the lines new since the previous poll
    elapsed: float  # seconds since submit
    note: str = ""  # e.g. "gateway unreachable, retrying (12 s)" while the gateway cannot be reached


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


def _align(all_lines: list[str], seen: list[str]) -> int:
    """Where the persisted log continues after the `seen` lines read from the entrance.

    Linkis' entrance readers do not agree on where `fromLine` counts from, so the count alone can
    be one off; the last lines read decide."""
    n = len(seen)
    if n == 0:
        return 0
    tail = seen[-3:]
    for k in sorted(range(max(len(tail), n - 3), min(len(all_lines), n + 3) + 1), key=lambda k: abs(k - n)):
        if all_lines[k - len(tail) : k] == tail:
            return k
    return min(n, len(all_lines))


class Job:
    """A submitted Linkis job. Thread-safe: one Job may be polled from one thread and killed from
    another; several Jobs may share one client."""

    def __init__(
        self,
        client: LinkisClient,
        task_id: int | None,
        exec_id: str | None,
        spec: JobSpec | None = None,
        *,
        state: JobState = JobState.INITED,
        started: float | None = None,
        in_entrance: bool = True,
    ) -> None:
        self.client = client
        self.task_id = task_id
        self.exec_id = exec_id or ""
        self.spec = spec
        self._state = state
        self._progress = 0.0
        self._stages: tuple[StageProgress, ...] = ()
        self._started = started if started is not None else time.monotonic()
        self._in_entrance = in_entrance and bool(exec_id)
        self._from_line = 0
        self._lines: list[str] = []  # every log line read so far
        self._levels: list[LogLine] = []
        self._log_complete = False
        self._polls = 0
        self._end_seen = False
        self._info: TaskInfo | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ construction

    @classmethod
    def submit(cls, client: LinkisClient, spec: JobSpec) -> "Job":
        started = time.monotonic()
        result = client.submit(spec)
        return cls(client, result.task_id, result.exec_id, spec, started=started)

    @classmethod
    def attach(cls, client: LinkisClient, task_id: int) -> "Job":
        """A job rebuilt from job history alone (another process, a restarted kernel)."""
        info = client.job_info(task_id)
        exec_id = info.stronger_exec_id or info.exec_id
        started = time.monotonic()
        if info.created is not None:
            started -= max(0.0, time.time() - info.created.timestamp())
        job = cls(client, info.task_id or task_id, exec_id, None, state=info.state, started=started,
                  in_entrance=not info.state.is_terminal)
        job._info = info
        job._progress = 1.0 if info.state.is_success else info.progress
        return job

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def progress(self) -> float:
        return self._progress

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __repr__(self) -> str:
        return f"<Job {self.task_id} {self._state.value} {self._progress:.0%} exec_id={self.exec_id!r}>"

    def _snapshot(self, new: list[LogLine], note: str = "") -> JobSnapshot:
        return JobSnapshot(
            task_id=self.task_id or 0,
            exec_id=self.exec_id,
            state=self._state,
            progress=self._progress,
            stages=self._stages,
            new_log=tuple(new),
            elapsed=self.elapsed,
            note=note,
        )

    def _set_state(self, state: JobState) -> None:
        # A job known to be finished stays finished: a late answer cannot move it back.
        if self._state.is_terminal and not state.is_terminal:
            return
        self._state = state
        if state.is_success:
            self._progress = 1.0

    def _add_lines(self, lines: list[str]) -> list[LogLine]:
        previous = self._levels[-1].level if self._levels else "INFO"
        classified = _classify(lines, previous)
        self._lines.extend(lines)
        self._levels.extend(classified)
        if any(_END_MARKER in line for line in lines):
            self._end_seen = True
        return classified

    # ------------------------------------------------------------------ polling

    def poll(self) -> JobSnapshot:
        """Ask the gateway once (one to three requests) and return what is known now."""
        with self._lock:
            if self._state.is_terminal and self._log_complete:
                return self._snapshot([])
            new: list[LogLine] = []
            if self._in_entrance:
                self._poll_entrance(new)
            if not self._in_entrance:
                self._poll_history(new)
            self._polls += 1
            return self._snapshot(new)

    def _poll_entrance(self, new: list[LogLine]) -> None:
        k = self._polls
        # After Linkis' end line there is no more log to read, only the state to learn.
        if not self._end_seen and not self._entrance_log(new):
            return
        waiting = self._state in _NOT_STARTED
        if self._end_seen and self.task_id is not None:
            # The state and the result location in one answer; results() reuses it.
            self._set_state(self._job_info().state)
        elif self._end_seen or (waiting and k % 4 == 0) or k % _STATUS_EVERY == _STATUS_EVERY - 1:
            if not self._entrance_status():
                return
        if self._state.is_terminal:
            self._log_complete = True
            return
        if k % _PROGRESS_EVERY == _PROGRESS_EVERY - 1:
            self._apply_progress(self.client.progress(self.exec_id))

    def _apply_progress(self, progress: Progress) -> None:
        if self._state.is_success:
            self._progress = 1.0
        else:
            # Progress never goes back, whatever a late answer says.
            self._progress = max(self._progress, min(progress.progress, 1.0))
        if progress.stages:
            self._stages = progress.stages

    def _entrance_status(self) -> bool:
        """State from the entrance; False when the entrance no longer has the job."""
        try:
            state = self.client.status(self.exec_id, self.task_id)
        except APIError:
            self._in_entrance = False
            return False
        self._set_state(state)
        return True

    def _entrance_log(self, new: list[LogLine]) -> bool:
        try:
            chunk = self.client.log(self.exec_id, self._from_line, -1)
        except APIError:
            # "The job you just executed has ended ...": the log is now in job history.
            self._in_entrance = False
            return False
        lines = chunk.lines
        if chunk.from_line is not None:
            returned = chunk.from_line - self._from_line
            if not lines and returned > 0:
                lines = [""] * returned
            self._from_line = chunk.from_line
        else:
            self._from_line += len(lines)
        new.extend(self._add_lines(lines))
        return True

    def _poll_history(self, new: list[LogLine]) -> None:
        info = self._job_info()
        self._set_state(info.state)
        if not self._state.is_success:
            self._progress = max(self._progress, info.progress)
        if self._state.is_terminal or self._polls % 3 == 0:
            new.extend(self._history_log())
            if self._state.is_terminal:
                self._log_complete = True

    def _job_info(self) -> TaskInfo:
        if self.task_id is None:
            raise ConfigError("this job has no taskID, so job history cannot be asked about it")
        info = self.client.job_info(self.task_id)
        self._info = info
        return info

    def _history_log(self) -> list[LogLine]:
        """New lines of the persisted log, after the ones already read (from either source)."""
        info = self._info or self._job_info()
        if not info.log_path:
            return []
        all_lines = self.client.open_log(info.log_path).lines
        start = _align(all_lines, self._lines)
        return self._add_lines(all_lines[start:])

    def wait(
        self,
        on_update: Callable[[JobSnapshot], Any] | None = None,
        timeout: float | None = None,
    ) -> JobSnapshot:
        """Poll until the job ends; `on_update(snapshot)` after each poll. Returns the final
        snapshot on Succeed; raises JobFailedError (Failed, Timeout), JobCancelledError, or
        LinkisTimeoutError after `timeout` seconds (the job goes on running).

        While the gateway cannot be reached the polls go on, each failed one reported as a
        snapshot whose `note` says so, until the client's `unreachable_timeout` has passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        down_since: float | None = None
        next_poll = self._started + self.client.poll_interval_min
        while True:
            now = time.monotonic()
            if next_poll > now:
                pause = next_poll - now if deadline is None else min(next_poll - now, max(0.0, deadline - now))
                time.sleep(pause)
            if deadline is not None and time.monotonic() >= deadline and not self._state.is_terminal:
                raise LinkisTimeoutError(
                    f"Linkis job {self.task_id} still {self._state.value} after {timeout:g} s; "
                    "it keeps running (job.kill() stops it)"
                )
            started = time.monotonic()
            try:
                snap = self.poll()
            except TransportError as exc:
                down_since = started if down_since is None else down_since
                down = time.monotonic() - down_since
                if not exc.transient or down > self.client.unreachable_timeout:
                    raise
                if on_update is not None:
                    on_update(self._snapshot([], note=f"gateway unreachable, retrying ({down:.0f} s)"))
                next_poll = time.monotonic() + max(self.client.poll_interval_max, self.client.poll_interval_min)
                continue
            down_since = None
            if on_update is not None:
                on_update(snap)
            if snap.state.is_terminal:
                self.raise_for_state()
                return snap
            next_poll = started + self._pause(started)

    def _pause(self, at: float) -> float:
        """Seconds from a poll at `at` (monotonic) to the next: a share of the time the job had run."""
        unit = self.client.poll_interval_min
        if self._end_seen:
            # The log has ended but the state did not say so yet: it will at once.
            return unit
        cap = max(self.client.poll_interval_max, unit)
        return min(cap, max(unit, _PAUSE_SHARE * (at - self._started)))

    def raise_for_state(self) -> None:
        """Raise JobFailedError / JobCancelledError when the job ended so; errCode and errDesc come
        from job history, the tail from the log's ERROR lines."""
        state = self._state
        if not state.is_terminal or state.is_success:
            return
        info = self._info
        if info is None or not info.state.is_terminal:
            try:
                info = self._job_info()
            except LinkisError:
                info = None
        errors = tuple(line.text for line in self._levels if line.level == "ERROR")[-_ERROR_TAIL:]
        cls = JobCancelledError if state is JobState.CANCELLED else JobFailedError
        raise cls.from_job(
            task_id=self.task_id,
            exec_id=self.exec_id,
            state=state.value,
            err_code=info.err_code if info else None,
            err_desc=info.err_desc if info else None,
            log_tail=errors,
        )

    # ------------------------------------------------------------------ kill

    def kill(self, confirm_timeout: float = 5.0) -> bool:
        """Kill the job; True once the gateway reports Cancelled. Nothing is sent for a job
        already known to be finished (Linkis would turn a finished job's record to Cancelled)."""
        with self._lock:
            if self._state.is_terminal:
                return self._state is JobState.CANCELLED
        try:
            self.client.kill(self.exec_id or None, self.task_id)
        except APIError:
            # E.g. "The job already completed": find out what it became.
            self._refresh_state()
            if self._state.is_terminal:
                return self._state is JobState.CANCELLED
            raise
        deadline = time.monotonic() + confirm_timeout
        pause = 0.05
        while True:
            self._refresh_state()
            if self._state.is_terminal:
                return self._state is JobState.CANCELLED
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(0.5, pause * 2)

    def _refresh_state(self) -> None:
        with self._lock:
            if self._in_entrance and self._entrance_status():
                return
            self._set_state(self._job_info().state)

    # ------------------------------------------------------------------ log and results

    def log(self) -> str:
        """The whole log so far: from the entrance while it has the job, then job history."""
        with self._lock:
            # A finished job whose end line has not been read yet may still have lines to come.
            if not (self._log_complete and self._end_seen):
                new: list[LogLine] = []
                if self._in_entrance:
                    self._entrance_log(new)
                if not self._in_entrance:
                    if self._info is None or not self._info.state.is_terminal:
                        self._job_info()
                    self._history_log()
                    if self._info is not None and self._info.state.is_terminal:
                        self._set_state(self._info.state)
                        self._log_complete = True
            return "\n".join(self._lines)

    def log_lines(self) -> list[LogLine]:
        """The log read so far, with levels (call log() first for the newest)."""
        with self._lock:
            return list(self._levels)

    def results(
        self,
        max_rows: int | None = None,
        *,
        page_size: int | None = None,
        decimal: str = "float",
    ) -> list["ResultSet"]:
        """Every result set, in order, paged to the end; `max_rows` caps the rows of each set and
        marks the set `truncated` when it cut. Raises the job's error if it did not succeed.
        Read again from the start while the gateway cannot be reached, up to the client's
        `unreachable_timeout`."""
        down_since: float | None = None
        attempt = 0
        while True:
            began = time.monotonic()
            try:
                return self._results_now(max_rows, page_size=page_size, decimal=decimal)
            except TransportError as exc:
                down_since = began if down_since is None else down_since
                if not exc.transient or time.monotonic() - down_since > self.client.unreachable_timeout:
                    raise
                time.sleep(self.client._backoff(attempt))
                attempt += 1

    def _results_now(
        self,
        max_rows: int | None = None,
        *,
        page_size: int | None = None,
        decimal: str = "float",
    ) -> list["ResultSet"]:
        """Every result set, in order, paged to the end; `max_rows` caps the rows of each set and
        marks the set `truncated` when it cut. Raises the job's error if it did not succeed."""
        from .results import NULL_MARKERS

        if max_rows is not None and max_rows < 0:
            raise ConfigError("max_rows must be 0 or more")
        with self._lock:
            if not self._state.is_terminal:
                self._refresh_state()
            if not self._state.is_terminal:
                raise ConfigError(f"job {self.task_id} is still {self._state.value}: wait() for it first")
            self.raise_for_state()
            info = self._info if self._info is not None and self._info.state.is_terminal else self._job_info()
        if not info.result_location:
            return []
        client = self.client
        size = min(page_size or client.page_size, client._page_size_limit or 100000)
        markers = NULL_MARKERS + ((client.null_value,) if client.null_value else ())
        return [self._read_result(file.index, file.path, size, max_rows, markers, decimal)
                for file in client.result_files(info.result_location)]

    def _read_result(self, index: int, path: str, page_size: int, max_rows: int | None,
                     markers: tuple[str, ...], decimal: str) -> "ResultSet":
        from .results import Reconvert

        as_text: frozenset[int] = frozenset()
        whole: frozenset[int] = frozenset()
        while True:
            try:
                return self._read_result_once(index, path, page_size, max_rows, markers, decimal, as_text, whole)
            except Reconvert as again:
                # Rare (a column that parsed on the first pages fails on a later one): read again.
                as_text, whole = as_text | again.as_text, whole | again.whole

    def _read_result_once(self, index: int, path: str, page_size: int, max_rows: int | None,
                          markers: tuple[str, ...], decimal: str, as_text: frozenset[int],
                          whole: frozenset[int]) -> "ResultSet":
        from .results import ResultSet, ResultType, TableBuilder, columns_from_metadata

        pages = self._pages(path, page_size, max_rows, (None, *markers))
        try:
            first, rows, truncated = next(pages)
            type_ = ResultType.from_wire(first.type)
            columns = columns_from_metadata(first.metadata)
            if type_ is not ResultType.TABLE or not columns:
                every = list(rows)
                for _page, rows, truncated in pages:
                    every.extend(rows)
                return ResultSet.from_rows(index, path, type_, first.metadata, every, truncated=truncated,
                                           null_markers=markers, decimal=decimal)
            builder = TableBuilder(columns, null_markers=markers, decimal=decimal, as_text=as_text, whole=whole)
            metadata = first.metadata
            builder.add(rows, first.absent)
            del first, rows
            for page, rows, truncated in pages:
                builder.add(rows, page.absent)
                page = rows = None  # type: ignore[assignment]  # not held while the next arrives
            return ResultSet(index, path, type_, builder.frame(), truncated, columns, metadata, builder.rows)
        finally:
            pages.close()

    def _pages(self, path: str, page_size: int, max_rows: int | None,
               markers: tuple[str | None, ...]) -> Iterator[tuple[ResultPage, list[Any], bool]]:
        """(page, its rows within max_rows, whether max_rows cut) for each page, asking for the
        next page while the caller converts this one: at most two pages are held."""
        client = self.client
        if client._page_size_limit:
            page_size = min(page_size, client._page_size_limit)
        if max_rows is not None and max_rows < page_size:
            # One page one row longer than the cap tells whether the cap cut anything.
            page_size = max_rows + 1

        null_value = client.null_value or None

        def answer(response: Any, number: int, size: int) -> ResultPage:
            return client.open_file_answer(response, path, number, size, null_value=null_value, null_markers=markers)

        try:
            current = answer(client.open_file_request(path, 1, page_size, null_value=null_value), 1, page_size)
        except APIError:
            if page_size <= 5000:
                raise
            # The gateway's row limit is below ours (error 80034): Linkis' own page size works.
            client._page_size_limit = 5000
            page_size = 5000
            current = answer(client.open_file_request(path, 1, page_size, null_value=null_value), 1, page_size)
        read, number = 0, 1
        following = None
        # The next page is asked for in a thread, which waits for the gateway while the caller
        # converts this page; its body is read and parsed here, after the conversion: parsing in
        # the thread would fight the conversion for the GIL and gain nothing.
        with ThreadPoolExecutor(1, thread_name_prefix="linkis-page") as pool:
            try:
                while True:
                    rows = current.rows
                    if max_rows is not None and read + len(rows) > max_rows:
                        yield current, rows[: max_rows - read], True
                        return
                    if len(rows) >= page_size:
                        following = pool.submit(client.open_file_request, path, number + 1, page_size,
                                                null_value=null_value)
                    read += len(rows)
                    yield current, rows, False
                    if following is None:
                        return
                    del rows
                    pending, following = following, None
                    number += 1
                    current = answer(pending.result(), number, page_size)
            finally:
                if following is not None:
                    following.add_done_callback(_close_response)

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> "Job":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or self._state.is_terminal:
            return
        if isinstance(exc, JobError):
            return
        try:
            self.kill()
        except LinkisError:
            pass


def _close_response(future: Any) -> None:
    """A page asked for and then not needed: give its connection back."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()
