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
before the next one is a fifth of the time the job has run so far (at least
`poll_interval_min`, at most `poll_interval_max`, 1 s). So short jobs are seen to end at once,
and a long one is polled once a second, as linkis-cli and the Linkis SDKs poll.

Each poll is one request: the log's new lines, echoing `fromLine`, as many reads as it takes to
catch up (Linkis serves at most 10,000 lines a read). The log says when the job is scheduled and
when it runs (EntranceJob.afterStateChanged writes both), and it ends with Linkis' end-of-job
line: only then is the entrance's `/status` asked. While the entrance holds a job its state is the
authority (job history is written after the end line, by RPC, and may lag or never flip; Linkis'
own web UI trusts the entrance for this reason).

Between two polls, every `progress_interval` (3 s), one more request: the progress of a running
job, or the entrance state of one whose log has not said it runs. Linkis sets a job's progress to
1 when it ends, after the end line, so a progress of 1 brings the next poll forward. Jobs of the
creators LINKISCLI and BdpClient also get a `/status` at least every `status_interval` (20 s):
Linkis kills them after 30 s without one.

A failed `/log` or `/status` is tried again at the next poll; only Linkis' answers for a job it
no longer holds send the job to job history and `openLog`, and the log carries on from the last
line read, none lost or doubled (the 1.6+ file reader counts `fromLine` from 1 where the cache
counts from 0, so a read at that boundary repeats the last line shown: it is dropped).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable

from .client import LinkisClient
from .joblog import READ_SIZE, JobLog, LogLine, is_end_line, sql_limit
from .results import ResultSet, read_result_sets
from .runs_on import RunsOn
from .spec import JobSpec
from .transport import Outage
from .wire import JobState, Progress, StageProgress, TaskInfo
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

__all__ = ["Job", "JobSpec", "JobState", "JobSnapshot", "StageProgress", "LogLine"]

# Linkis' answers for a job its entrance no longer holds (EntranceRestfulApi); any other refusal
# of /log or /status ("Failed to get log information", a gateway hiccup) is tried again.
_GONE = ("has ended", "job is empty", "can't find execid", "get job by id error", "is not exists")
_ERROR_TAIL = 5
# The pause before the next poll, as a share of the time the job has run (see the module doc).
_PAUSE_SHARE = 0.2
# The creators whose jobs Linkis kills when no /status comes for 30 s (CliHeartbeatMonitor).
_HEARTBEAT_CREATORS = ("LINKISCLI", "BdpClient")
# Once the entrance has let a job go, job history decides; if it still says running this long
# after the log's end line, the end line's state is taken (job history may never flip).
_HISTORY_GRACE = 10.0
# How often the persisted log is read for the end line while job history says running.
_HISTORY_LOG_EVERY = 30.0
_NOT_STARTED = (JobState.INITED, JobState.WAIT_FOR_RETRY, JobState.SCHEDULED, JobState.UNKNOWN)


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
    runs_on: RunsOn = RunsOn()  # the engine instance and YARN application the log has named so far


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
        self._log = JobLog()
        self._log_complete = False
        self._last_status = time.monotonic()
        self._side_at = self._started + client.progress_interval  # the next progress or state read
        self._history_log_at = 0.0
        self._note = ""  # e.g. that the log was too big to fetch
        self._info: TaskInfo | None = None
        self._runs_on = RunsOn()
        self._with_resource = True  # read the progress from progressWithResource while it is there
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
        if job._in_entrance:
            # Job history learns a job's end after the entrance does: the entrance decides.
            job._entrance_status()
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

    @property
    def info(self) -> TaskInfo:
        """The job's job-history record, as last read (read now if it never was)."""
        with self._lock:
            return self._info or self._job_info()

    def __repr__(self) -> str:
        return f"<Job {self.task_id} {self._state.value} {self._progress:.0%} exec_id={self.exec_id!r}>"

    @property
    def runs_on(self) -> RunsOn:
        """Where the job runs, as the log read so far, the progress and job history say (`log()`
        reads the rest of the log)."""
        with self._lock:
            engine = self._info.engine_instance if self._info else None
            if engine and not self._runs_on.engine_instance:
                return dataclasses.replace(self._runs_on, engine_instance=engine)
            return self._runs_on

    @property
    def sql_limit(self) -> str | None:
        """Whether Linkis' entrance limited the job's SELECTs (for creator IDE, see
        spec.SQL_RUN_TYPES), as its WARN lines in the log read so far say: "added" (a limit to a
        SELECT without one), "lowered" (a bigger limit to its own), or None. Waiting for the job
        reads those lines; `log()` reads the rest."""
        with self._lock:
            return sql_limit(self._log.levels)

    def _snapshot(self, new: list[LogLine], note: str = "") -> JobSnapshot:
        return JobSnapshot(
            task_id=self.task_id or 0,
            exec_id=self.exec_id,
            state=self._state,
            progress=self._progress,
            stages=self._stages,
            new_log=tuple(new),
            elapsed=self.elapsed,
            note=note or self._note,
            runs_on=self._runs_on,
        )

    def _set_state(self, state: JobState) -> None:
        # A job known to be finished stays finished: a late answer cannot move it back.
        if self._state.is_terminal and not state.is_terminal:
            return
        self._state = state
        if state.is_success:
            self._progress = 1.0

    # ------------------------------------------------------------------ polling

    def poll(self) -> JobSnapshot:
        """Ask the gateway once and return what is known now: the new log lines, the state once
        the log has ended, and the progress when `progress_interval` has passed since the last."""
        with self._lock:
            snap = self._poll()
            if self._side_due(time.monotonic()):
                self._side_read()
                snap = self._snapshot(list(snap.new_log))
            return snap

    def _poll(self) -> JobSnapshot:
        if self._state.is_terminal and self._log_complete:
            return self._snapshot([])
        new: list[LogLine] = []
        if self._in_entrance:
            self._poll_entrance(new)
        if not self._in_entrance:
            self._poll_history(new)
        return self._snapshot(new)

    def _poll_entrance(self, new: list[LogLine]) -> None:
        # After Linkis' end line there is no more log to read, only the state to learn.
        if self._log.end_state is None:
            if not self._entrance_log(new):
                return
            if self._log.start_state is not None and self._state in _NOT_STARTED:
                self._set_state(self._log.start_state)
        if self._log.end_state is not None or self._heartbeat_due():
            if not self._entrance_status():
                return
        if self._state.is_terminal:
            # The state changes just before the end line is written: read the last lines.
            if self._log.end_state is None and not self._entrance_log(new):
                return
            if self._log.needs_merge(self.elapsed):
                new.extend(self._history_log())
            self._log_complete = True
            return

    def _heartbeat_due(self) -> bool:
        creator = self.spec.creator if self.spec is not None else None
        return ((creator is None or creator in _HEARTBEAT_CREATORS)
                and time.monotonic() - self._last_status >= self.client.status_interval)

    def _side_due(self, at: float) -> bool:
        """Whether the progress (or the state of a job not yet running) is to be read by `at`."""
        return self._in_entrance and not self._state.is_terminal and self._side_at <= at

    def _side_read(self) -> bool:
        """One request between two polls: the progress of a running job, else the entrance state.
        True when it shows the job has ended (a progress of 1, or a final state)."""
        self._side_at = time.monotonic() + self.client.progress_interval
        if self._state is JobState.RUNNING:
            self._apply_progress(self._read_progress())
            return self._progress >= 1.0
        self._entrance_status()
        return self._state.is_terminal

    def _read_progress(self) -> Progress:
        """`progressWithResource` (Linkis 1.1.2+: the progress and the job's YARN applications),
        else `progress` for good once the gateway answers it with a 404."""
        if self._with_resource:
            try:
                return self.client.progress_with_resource(self.exec_id)
            except (APIError, TransportError) as exc:
                if exc.http_status != 404:
                    raise
                self._with_resource = False
        return self.client.progress(self.exec_id)

    def _apply_progress(self, progress: Progress) -> None:
        if self._state.is_success:
            self._progress = 1.0
        else:
            # Progress never goes back, whatever a late answer says.
            self._progress = max(self._progress, min(progress.progress, 1.0))
        if progress.stages:
            self._stages = progress.stages
        if progress.yarn_metrics:
            self._runs_on = self._runs_on.read_metrics(progress.yarn_metrics)

    def _left_entrance(self, exc: APIError) -> bool:
        """Whether this refusal says the entrance no longer holds the job (then job history
        takes over for good); other refusals are tried again at the next poll."""
        if any(phrase in exc.message.lower() for phrase in _GONE):
            self._in_entrance = False
        return not self._in_entrance

    def _entrance_status(self) -> bool:
        """State from the entrance; False when the entrance no longer has the job."""
        try:
            state = self.client.status(self.exec_id, self.task_id)
        except APIError as exc:
            return not self._left_entrance(exc)
        self._last_status = time.monotonic()
        self._set_state(state)
        return True

    def _entrance_log(self, new: list[LogLine]) -> bool:
        """The lines the entrance has beyond the last read, in as many reads as it takes; False
        when the entrance no longer has the job."""
        for _ in range(100):
            asked = self._log.from_line
            try:
                chunk = self.client.log(self.exec_id, asked, READ_SIZE)
            except APIError as exc:
                return not self._left_entrance(exc)
            new.extend(self._read_where(self._log.add_read(chunk.lines, chunk.from_line)))
            if self._log.from_line - asked < READ_SIZE or self._log.end_state is not None:
                break
        return True

    def _poll_history(self, new: list[LogLine]) -> None:
        info = self._job_info()
        state = info.state
        now = time.monotonic()
        end_state = self._log.end_state
        if not state.is_terminal and end_state is None and now - self._history_log_at >= _HISTORY_LOG_EVERY:
            # The entrance let the job go before its end line was read: the persisted log has it.
            self._history_log_at = now
            new.extend(self._history_log())
        if not state.is_terminal and end_state is not None and now - self._log.ended_at >= _HISTORY_GRACE:
            state = end_state
        self._set_state(state)
        if not self._state.is_success:
            self._progress = max(self._progress, info.progress)
        if self._state.is_terminal:
            new.extend(self._history_log())
            self._log_complete = True

    def _job_info(self) -> TaskInfo:
        if self.task_id is None:
            raise ConfigError("this job has no taskID, so job history cannot be asked about it")
        info = self.client.job_info(self.task_id)
        self._info = info
        return info

    def _history_log(self) -> list[LogLine]:
        """The lines of the persisted log not read yet, each put in its place."""
        info = self._info or self._job_info()
        if not info.log_path:
            return []
        pause = 0.25
        for attempt in range(4):
            try:
                all_lines = self.client.open_log(info.log_path).lines
            except APIError as exc:
                # E.g. 80033: Linkis opens no log over 30 MB. The job's outcome does not depend on it.
                self._note = f"the job's log could not be read from {info.log_path}: {exc.message}"
                return []
            # The entrance writes its last cached lines to the file when it closes the job's log,
            # a moment after the end line; a file without it is read again, for about 2 s at most.
            ended = self._log.end_state is not None or self._state.is_terminal
            if not ended or attempt == 3 or any(map(is_end_line, reversed(all_lines[-5:]))):
                break
            time.sleep(pause)
            pause *= 2
        return self._read_where(self._log.merge(all_lines))

    def _read_where(self, lines: list[LogLine]) -> list[LogLine]:
        """`lines`, new in the log, after noting where they say the job runs."""
        if lines:
            self._runs_on = self._runs_on.read(line.text for line in lines)
        return lines

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
        outage = Outage(self.client.transport)
        last_poll = self._started
        next_poll = self._started + self.client.poll_interval_min
        while True:
            while self._side_due(next_poll):
                # Halfway between the last request and the next poll (or sooner, when it is due),
                # so that any request may be the one to see the end.
                self._sleep_until(min(self._side_at, (last_poll + next_poll) / 2), deadline, timeout)
                try:
                    with self._lock:
                        ended = self._side_read()
                except LinkisError:
                    ended = False  # the next poll meets the outage or the refusal, and says so
                last_poll = time.monotonic()
                if on_update is not None:
                    on_update(self._snapshot([]))
                if ended:
                    next_poll = last_poll
            self._sleep_until(next_poll, deadline, timeout)
            started = time.monotonic()
            try:
                with self._lock:
                    snap = self._poll()
            except TransportError as exc:
                down = outage.failed(exc, started)
                if down is None:
                    raise
                if on_update is not None:
                    on_update(self._snapshot([], note=f"gateway unreachable, retrying ({down:.0f} s)"))
                next_poll = time.monotonic() + max(self.client.poll_interval_max, self.client.poll_interval_min)
                continue
            outage.ended()
            if on_update is not None:
                on_update(snap)
            if snap.state.is_terminal:
                self.raise_for_state()
                return snap
            last_poll, next_poll = started, started + self._pause(started)

    def _sleep_until(self, at: float, deadline: float | None, timeout: float | None) -> None:
        """Sleep until `at` (monotonic); raise LinkisTimeoutError when `deadline` comes first."""
        now = time.monotonic()
        if at > now:
            time.sleep(at - now if deadline is None else min(at - now, max(0.0, deadline - now)))
        if deadline is not None and time.monotonic() >= deadline and not self._state.is_terminal:
            raise LinkisTimeoutError(
                f"Linkis job {self.task_id} still {self._state.value} after {timeout:g} s; "
                "it keeps running (job.kill() stops it)"
            )

    def _pause(self, at: float) -> float:
        """Seconds from a poll at `at` (monotonic) to the next: a share of the time the job had run."""
        unit = self.client.poll_interval_min
        cap = max(self.client.poll_interval_max, unit)
        return min(cap, max(unit, _PAUSE_SHARE * (at - self._started)))

    def raise_for_state(self) -> None:
        """Raise JobFailedError / JobCancelledError when the job ended so; errCode and errDesc come
        from job history, the tail from the log's ERROR lines."""
        state = self._state
        if not state.is_terminal or state.is_success:
            return
        info = self._info
        pause = 0.25
        # Job history learns the outcome after the entrance does (see the module doc): its
        # errCode and errDesc may take a moment, not longer than about two seconds here.
        for attempt in range(4):
            if info is not None and info.state.is_terminal:
                break
            if attempt:
                time.sleep(pause)
                pause *= 2
            try:
                info = self._job_info()
            except LinkisError:
                break
        errors = self._log.errors(_ERROR_TAIL)
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

    def refresh(self) -> JobState:
        """The job's state now: the entrance's while it holds the job, else job history's."""
        self._refresh_state()
        return self._state

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
            if not (self._log_complete and self._log.end_state is not None):
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
            return "\n".join(self._log.lines)

    def log_lines(self) -> list[LogLine]:
        """The log read so far, with levels (call log() first for the newest)."""
        with self._lock:
            return list(self._log.levels)

    def results(
        self,
        max_rows: int | None = None,
        *,
        page_size: int | None = None,
        decimal: str = "float",
        skip: int = 0,
        count: bool = False,
    ) -> list[ResultSet]:
        """Every result set, in order, paged to the end; `max_rows` caps the rows of each set and
        marks the set `truncated` when it cut. `skip` passes over each set's first rows: they
        are not read (the stored result set is paged from there; nothing runs again). `count`: a
        set that `max_rows` cut gets its `total_rows` (results.count_rows: a few more openFile
        requests). Raises the job's error if it did not succeed.
        `page_size`: the first page's rows (default: the client's `page_size`); later pages grow
        while they come back quickly, and shrink when one fails (see results.PageSizes).
        Read again from the start while the gateway cannot be reached, up to the client's
        `unreachable_timeout`."""
        if max_rows is not None and max_rows < 0:
            raise ConfigError("max_rows must be 0 or more")
        if skip < 0:
            raise ConfigError("skip must be 0 or more")

        def read() -> list[ResultSet]:
            return read_result_sets(self.client, self._result_location(), max_rows=max_rows, page_size=page_size,
                                    decimal=decimal, skip=skip, count=count)

        return Outage(self.client.transport).retry(read)

    def _result_location(self) -> str:
        """Where a finished job's result sets are ("" for none); raises the job's error if it did
        not succeed."""
        with self._lock:
            if not self._state.is_terminal:
                self._refresh_state()
            if not self._state.is_terminal:
                raise ConfigError(f"job {self.task_id} is still {self._state.value}: wait() for it first")
            self.raise_for_state()
            info = self._info if self._info is not None and self._info.state.is_terminal else self._job_info()
        return info.result_location or ""

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

