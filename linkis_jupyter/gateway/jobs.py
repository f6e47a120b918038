"""The entrance: jobs from submit to a final state, as Linkis' scheduler moves them.

States go Inited -> Scheduled -> Running -> Succeed | Failed | Cancelled | Timeout. Each user runs
at most `max_running_per_user` jobs at once; the others wait as Scheduled. A job runs in its own
worker thread calling `EngineManager.execute`; kill and timeout set its `cancelled` event and ask
the engine to stop, and the job is final within a second even if the engine is slow to return.

The end of a job is seen in this order, as in Linkis (EntranceJob.afterStateChanged, then
QueryPersistenceManager.onJobCompleted updating job history by RPC): the entrance state turns
terminal and the end line is logged; `history_lag` seconds later (None: never) the job-history
row turns terminal too and the log writer is closed, so the log is read from its file from then
on. A gateway that stops writes every pending row.

A finished job stays in the entrance until its group (`<creator>_<user>_<engine>`, as
EntranceGroupFactory names it) holds more than `entrance_capacity - 1` jobs (LoopArrayQueue keeps
one slot free), or, when `evict_after` is set, that many seconds. Then the entrance endpoints answer
as Linkis does for a job it no longer holds, and only job history knows it.

Jobs of the creators LINKISCLI and BdpClient die when no `/status` call has come for
`cli_heartbeat` seconds (CliHeartbeatMonitor, KillHandler).
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .engines import EngineError, EngineManager, JobContext
from .entrance_log import EntranceLog
from .execid import ENTRANCE_APP, make_exec_id
from .storage import END_FAILED, END_SUCCESS, RESTART_ERR_CODE, RESTART_ERR_DESC, Storage, log_line, now_ms

# How long kill and timeout wait for the engine to return before the job is made final anyway.
STOP_GRACE = 0.8
UNEXPECTED_ERR_CODE = 21304
TIMEOUT_ERR_CODE = 21304

class JobState(str, Enum):
    INITED = "Inited"
    WAIT_FOR_RETRY = "WaitForRetry"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEED = "Succeed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.SUCCEED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT)


CLI_CREATORS = ("LINKISCLI", "BdpClient")   # wds.linkis.entrance.client.monitor.creator
CLI_LOST = "Job is killed because of client-server connection lost"   # cli/heartbeat/KillHandler.scala
# CliHeartbeatMonitor scans every 5 s; a shorter threshold (for tests) is scanned more often.
CLI_SCAN_INTERVAL = 5.0


@dataclass
class EntranceJob:
    task_id: int
    exec_id: str
    short_id: str
    submit_user: str
    execute_user: str
    creator: str
    engine_type: str
    run_type: str
    code: str
    params: dict[str, Any]
    log_path: Path
    result_dir: Path
    log: EntranceLog
    state: JobState = JobState.INITED
    progress: float = 0.0
    progress_info: list[dict[str, Any]] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    timed_out: bool = False
    lost_client: bool = False
    holds_slot: bool = False
    finished_at: float | None = None
    thread: threading.Thread | None = None
    timer: threading.Timer | None = None
    # When a client last asked `/status` (EntranceJob.newestAccessByClientTimestamp; set at submit).
    status_seen: float = field(default_factory=time.monotonic)
    # The final job-history fields not written yet (history lags the entrance).
    unpersisted: dict[str, Any] | None = None
    history_timer: threading.Timer | None = None

    @property
    def group(self) -> str:
        """The scheduler group holding the job: `<creator>_<user>_<engine>`."""
        return self.short_id.rsplit("_", 1)[0]

    def visible_to(self, user: str) -> bool:
        return user in (self.submit_user, self.execute_user)


class JobManager:
    """Every job the entrance holds; all state changes happen under one lock."""

    def __init__(
        self,
        storage: Storage,
        engines: EngineManager,
        instance: str,
        evict_after: float | None = None,
        job_timeout: float | None = None,
        max_running_per_user: int = 4,
        history_lag: float | None = 1.0,
        entrance_capacity: int = 1000,
        cli_heartbeat: float | None = 30.0,
        log_file_one_based: bool = True,
    ) -> None:
        self.storage = storage
        self.engines = engines
        self.instance = instance
        self.evict_after = evict_after
        self.job_timeout = job_timeout
        self.max_running_per_user = max_running_per_user
        self.history_lag = history_lag
        self.entrance_capacity = entrance_capacity
        self.cli_heartbeat = cli_heartbeat
        self.log_file_one_based = log_file_one_based
        self._lock = threading.RLock()
        self._jobs: dict[str, EntranceJob] = {}
        self._by_task: dict[int, EntranceJob] = {}
        self._groups: dict[str, deque[EntranceJob]] = {}
        self._queued: dict[str, deque[EntranceJob]] = {}
        self._running: dict[str, int] = {}
        self._lagging: dict[int, EntranceJob] = {}   # final, job history not written yet
        self._closed = False
        self._stop = threading.Event()
        if cli_heartbeat:
            threading.Thread(target=self._watch_cli_jobs, name="linkis-cli-heartbeat", daemon=True).start()

    # -- submit and schedule -------------------------------------------------------------------

    def submit(
        self,
        *,
        submit_user: str,
        execute_user: str,
        creator: str,
        engine_type: str,
        run_type: str,
        code: str,
        params: dict[str, Any],
        source: dict[str, Any],
        labels: dict[str, Any],
        execute_application_name: str,
        request_application_name: str,
        intercepted: list[tuple[str, str]] | None = None,
    ) -> EntranceJob:
        """Stores and schedules a job. `intercepted` are the (level, text) lines the entrance's
        interceptors logged (gateway/sql_limit.py); they open the job's log."""
        if self._closed:
            raise RuntimeError("the gateway is stopping")
        created = now_ms()
        task_id = self.storage.insert_task(
            submit_user=submit_user, execute_user=execute_user, creator=creator,
            engine_type=engine_type, run_type=run_type, execution_code=code,
            execute_application_name=execute_application_name,
            request_application_name=request_application_name,
            status=JobState.INITED.value, progress="0.0", instance=self.instance,
            params_json=json.dumps(params), source_json=json.dumps(source),
            labels_json=json.dumps(labels), created_time=created, updated_time=created,
        )
        engine = engine_type.split("-", 1)[0]
        short_id = f"{creator}_{execute_user}_{engine}_{task_id}"
        exec_id = make_exec_id(self.instance, short_id)
        log_path, result_dir = self.storage.job_paths(execute_user, creator, task_id, created)
        self.storage.update_task(
            task_id, exec_id=exec_id, log_path=log_path.as_uri(), result_location=result_dir.as_uri()
        )
        job = EntranceJob(
            task_id=task_id, exec_id=exec_id, short_id=short_id, submit_user=submit_user,
            execute_user=execute_user, creator=creator, engine_type=engine_type,
            run_type=run_type, code=code, params=params, log_path=log_path, result_dir=result_dir,
            log=EntranceLog(log_path, file_one_based=self.log_file_one_based),
        )
        with self._lock:
            self._sweep()
            self._jobs[exec_id] = job
            self._by_task[task_id] = job
            self._hold(job)
            if intercepted:
                # EntranceServer.execute writes the interceptors' lines as one log entry
                # (`onLogUpdate(job, logAppender.toString.trim)`) before the job is scheduled: one
                # position for /log's fromLine, however many lines it holds. Its time stamps are
                # storage.log_line's, as on every line here (LogUtils' own pattern,
                # "HH:mm:ss.mmm", puts the minutes where the milliseconds go).
                now = time.time()
                job.log.write("\n".join(log_line(level, text, now) for level, text in intercepted))
            self._log(job, "INFO", f"Your job is accepted,  jobID is {exec_id} and taskID is {task_id} in "
                      f"ServiceInstance({ENTRANCE_APP}, {self.instance}). Please wait it to be scheduled")
            self._set_state(job, JobState.SCHEDULED)
            self._log(job, "INFO", "Your job is Scheduled. Please wait it to run.")
            self._log(job, "INFO", f"Job with jobId : {task_id} and execID : {exec_id} submitted ")
            self._queued.setdefault(execute_user, deque()).append(job)
            self._dispatch(execute_user)
        return job

    def _hold(self, job: EntranceJob) -> None:
        """Puts the job in its group's queue; the oldest finished jobs past the capacity leave the
        entrance (LoopArrayQueue overwrites its oldest slot and keeps one free)."""
        group = self._groups.setdefault(job.group, deque())
        group.append(job)
        excess = len(group) - max(self.entrance_capacity - 1, 1)
        for old in [j for j in group if j.finished_at is not None][:max(excess, 0)]:
            self._evict(old)

    def _dispatch(self, user: str) -> None:
        queue = self._queued.get(user)
        while queue and self._running.get(user, 0) < self.max_running_per_user and not self._closed:
            job = queue.popleft()
            job.holds_slot = True
            self._running[user] = self._running.get(user, 0) + 1
            job.thread = threading.Thread(
                target=self._run, args=(job,), name=f"linkis-job-{job.task_id}", daemon=True
            )
            job.thread.start()

    def _run(self, job: EntranceJob) -> None:
        with self._lock:
            if job.state.is_terminal:
                return
            self._set_state(job, JobState.RUNNING, engine_start_time=now_ms())
            self._log(job, "INFO", f"Task {job.task_id} is running on the embedded {job.engine_type} "
                      f"engine ({job.run_type}) as user {job.execute_user}.")
            self._log(job, "INFO", "Your job is Running now. Please wait it to complete.")
            if self.job_timeout:
                job.timer = threading.Timer(self.job_timeout, self._on_timeout, args=(job,))
                job.timer.daemon = True
                job.timer.start()
        ctx = JobContext(
            task_id=job.task_id,
            user=job.execute_user,
            creator=job.creator,
            run_type=job.run_type,
            engine_type=job.engine_type,
            code=job.code,
            workspace=self.storage.user_area(job.execute_user),
            result_dir=job.result_dir,
            params=_configuration(job.params),
            cancelled=job.cancelled,
            log=lambda level, text: self.log(job, level, text),
            set_progress=lambda value, info: self._set_progress(job, value, info),
        )
        state, code, desc = JobState.SUCCEED, None, None
        try:
            self.engines.execute(ctx)
        except EngineError as e:
            state, code, desc = JobState.FAILED, getattr(e, "code", None) or UNEXPECTED_ERR_CODE, str(e)
        except Exception as e:  # an engine bug must still end the job, with the reason in its log
            state, code, desc = JobState.FAILED, UNEXPECTED_ERR_CODE, f"{type(e).__name__}: {e}"
        if job.cancelled.is_set():
            if job.timed_out:
                state, code, desc = JobState.TIMEOUT, TIMEOUT_ERR_CODE, self._timeout_text()
            elif job.lost_client:
                state, code, desc = JobState.CANCELLED, None, CLI_LOST
            elif self._closed:
                state, code, desc = JobState.FAILED, RESTART_ERR_CODE, RESTART_ERR_DESC
            else:
                state, code, desc = JobState.CANCELLED, None, None
        self._finish(job, state, code, desc)

    # -- stop work -----------------------------------------------------------------------------

    def kill(self, job: EntranceJob) -> None:
        """Stop a job now; it is Cancelled when this returns (a final job is left as it is)."""
        with self._lock:
            if job.state.is_terminal:
                return
            job.cancelled.set()
            if job.state != JobState.RUNNING:
                self._dequeue(job)
                self._finish(job, JobState.CANCELLED, None, None)
                return
        self._stop_engine(job)
        self._finish(job, JobState.CANCELLED, None, None)

    def force_kill(self, task_id: int) -> None:
        """Kill by taskID for a job the entrance no longer holds: only job history can change
        (and not once the job is complete: its final row is on its way)."""
        with self._lock:
            job = self._by_task.get(task_id) or self._lagging.get(task_id)
        if job is not None:
            self.kill(job)
            return
        row = self.storage.get_task(task_id)
        if row is not None and row["status"] in (s.value for s in JobState if not s.is_terminal):
            self.storage.update_task(task_id, status=JobState.CANCELLED.value, progress="1.0", end_time=now_ms())

    def _on_timeout(self, job: EntranceJob) -> None:
        with self._lock:
            if job.state.is_terminal:
                return
            job.timed_out = True
            job.cancelled.set()
        self._stop_engine(job)
        self._finish(job, JobState.TIMEOUT, TIMEOUT_ERR_CODE, self._timeout_text())

    def _timeout_text(self) -> str:
        return f"Job timeout: it ran longer than the gateway's job timeout of {self.job_timeout:g} s"

    def _stop_engine(self, job: EntranceJob) -> None:
        try:
            self.engines.kill(job.task_id)
        except Exception as e:  # the job still ends; say why the engine may linger
            self.log(job, "WARN", f"Stopping the engine failed: {type(e).__name__}: {e}")
        if job.thread is not None and job.thread is not threading.current_thread():
            job.thread.join(STOP_GRACE)

    def _dequeue(self, job: EntranceJob) -> None:
        queue = self._queued.get(job.execute_user)
        if queue and job in queue:
            queue.remove(job)

    # -- the client heartbeat ------------------------------------------------------------------

    def touch(self, job: EntranceJob) -> None:
        """A successful `/status` call: the client of a LINKISCLI/BdpClient job is alive."""
        job.status_seen = time.monotonic()

    def _watch_cli_jobs(self) -> None:
        """CliHeartbeatMonitor: kill jobs of monitored creators whose client stopped asking."""
        assert self.cli_heartbeat
        interval = min(CLI_SCAN_INTERVAL, max(self.cli_heartbeat / 4, 0.05))
        monitored = {c.lower() for c in CLI_CREATORS}
        while not self._stop.wait(interval):
            now = time.monotonic()
            with self._lock:
                lost = [j for j in self._by_task.values()
                        if not j.state.is_terminal and j.creator.lower() in monitored
                        and now - j.status_seen > self.cli_heartbeat]
            for job in lost:
                threading.Thread(target=self._lose_client, args=(job,), daemon=True,
                                 name=f"linkis-cli-lost-{job.task_id}").start()

    def _lose_client(self, job: EntranceJob) -> None:
        """KillHandler: Job.onFailure with no throwable on an interrupted job, so it ends Cancelled."""
        with self._lock:
            if job.state.is_terminal or job.lost_client:
                return
            job.lost_client = True
            self._log(job, "ERROR", f"Sorry, your job executed failed with reason: {CLI_LOST}")
            self._log(job, "ERROR", CLI_LOST)
            job.cancelled.set()
            if job.state != JobState.RUNNING:
                self._dequeue(job)
                self._finish(job, JobState.CANCELLED, None, CLI_LOST)
                return
        self._stop_engine(job)
        self._finish(job, JobState.CANCELLED, None, CLI_LOST)

    # -- state, log, progress ------------------------------------------------------------------

    def _set_state(self, job: EntranceJob, state: JobState, **fields: Any) -> None:
        job.state = state
        self.storage.update_task(job.task_id, status=state.value, **fields)

    def _finish(self, job: EntranceJob, state: JobState, code: int | None, desc: str | None) -> None:
        with self._lock:
            if job.state.is_terminal:
                return
            if job.timer is not None:
                job.timer.cancel()
            if (state == JobState.FAILED or state == JobState.TIMEOUT) and not job.lost_client:
                for line in (desc or "").splitlines() or [""]:
                    self._log(job, "ERROR", f"Sorry, your job executed failed with reason: {line}")
            elif state == JobState.CANCELLED and not job.lost_client:
                self._log(job, "INFO", f"Job {job.task_id} was kill by user successfully(任务{job.task_id}已成功取消)")
            job.progress = 1.0
            if state == JobState.SUCCEED:
                self._log(job, "INFO", END_SUCCESS)
            else:
                self._log(job, "INFO", END_FAILED.format(state=state.value))
            job.finished_at = time.monotonic()
            # A job without result sets has no result directory: getDirFileTrees answers null.
            try:
                job.result_dir.rmdir()
            except OSError:
                pass
            # The entrance knows the end now; job history only after the persistence step.
            job.state = state
            job.unpersisted = {"status": state.value, "progress": "1.0", "err_code": code,
                               "err_desc": desc, "end_time": now_ms()}
            self._lagging[job.task_id] = job
            # Linkis closes the log writer after that step (Job.transitionCompleted): until then
            # the cache serves the log. A lag of None: the step does not end while the gateway runs.
            if self._closed or self.history_lag == 0:
                self._persist(job)
            elif self.history_lag is not None:
                job.history_timer = threading.Timer(self.history_lag, self._persist_later, args=(job,))
                job.history_timer.daemon = True
                job.history_timer.start()
            if job.holds_slot:
                job.holds_slot = False
                self._running[job.execute_user] -= 1
                self._dispatch(job.execute_user)

    def _persist_later(self, job: EntranceJob) -> None:
        with self._lock:
            self._persist(job)

    def _persist(self, job: EntranceJob) -> None:
        """The job-history update of a finished job, and the log writer's close (lock held)."""
        job.log.close()
        fields, job.unpersisted = job.unpersisted, None
        self._lagging.pop(job.task_id, None)
        if fields is not None:
            self.storage.update_task(job.task_id, **fields)

    def log(self, job: EntranceJob, level: str, text: str) -> None:
        """A log line from an engine (any thread); dropped once the job is final."""
        level = level.upper() if level.upper() in ("ERROR", "WARN", "INFO") else "INFO"
        with self._lock:
            if not job.state.is_terminal:
                self._log(job, level, text)

    def _log(self, job: EntranceJob, level: str, text: str) -> None:
        now = time.time()
        for part in str(text).splitlines() or [""]:
            job.log.write(log_line(level, part, now))

    def _set_progress(self, job: EntranceJob, value: float, info: list[dict[str, Any]]) -> None:
        with self._lock:
            if job.state.is_terminal:
                return
            # Linkis shows at most "fake progress" below 1 until the job is complete.
            previous = job.progress
            job.progress = min(max(float(value), 0.0), 0.99)
            job.progress_info = [dict(i) for i in (info or [])]
            # QueryPersistenceManager.onProgressUpdate: job history gets a higher progress only.
            if job.progress > previous:
                self.storage.update_task(job.task_id, progress=str(round(job.progress, 4)))

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, exec_id: str) -> EntranceJob | None:
        """The job the entrance still holds under this execID (None once evicted)."""
        with self._lock:
            job = self._jobs.get(exec_id)
            if job is not None and self._evictable(job):
                self._evict(job)
                return None
            return job

    def get_by_task(self, task_id: int) -> EntranceJob | None:
        with self._lock:
            job = self._by_task.get(task_id)
            if job is not None and self._evictable(job):
                self._evict(job)
                return None
            return job

    def _evictable(self, job: EntranceJob) -> bool:
        return (self.evict_after is not None and job.finished_at is not None
                and time.monotonic() - job.finished_at >= self.evict_after)

    def _evict(self, job: EntranceJob) -> None:
        self._jobs.pop(job.exec_id, None)
        self._by_task.pop(job.task_id, None)
        group = self._groups.get(job.group)
        if group is not None and job in group:
            group.remove(job)

    def _sweep(self) -> None:
        for job in [j for j in self._jobs.values() if self._evictable(j)]:
            self._evict(job)

    def snapshot(self, job: EntranceJob) -> tuple[JobState, float, list[dict[str, Any]] | None]:
        with self._lock:
            return job.state, job.progress, None if job.progress_info is None else list(job.progress_info)

    def read_log(self, job: EntranceJob, from_line: int, size: int) -> tuple[list[str | None], int]:
        """(lines, positions covered) as the entrance's CacheLogReader reads them; raises
        CacheIndexError where Linkis' cache throws (the endpoint then answers an empty log)."""
        with self._lock:
            return job.log.read(from_line, size)

    # -- shutdown --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every job; the ones not final yet end Failed, as after a restart. Every final
        job-history row still lagging is written."""
        with self._lock:
            self._closed = True
            self._stop.set()
            live = [j for j in self._by_task.values() if not j.state.is_terminal]
            for job in live:
                job.cancelled.set()
        for job in live:
            try:
                self.engines.kill(job.task_id)
            except Exception:
                pass
        deadline = time.monotonic() + 2.0
        for job in live:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
            with self._lock:
                if not job.state.is_terminal:
                    self._finish(job, JobState.FAILED, RESTART_ERR_CODE, RESTART_ERR_DESC)
        with self._lock:
            for job in [*self._by_task.values(), *self._lagging.values()]:
                if job.history_timer is not None:
                    job.history_timer.cancel()
                if job.state.is_terminal:
                    self._persist(job)


def _configuration(params: dict[str, Any]) -> dict[str, Any]:
    conf = params.get("configuration") if isinstance(params, dict) else None
    conf = conf if isinstance(conf, dict) else {}
    return {k: dict(conf.get(k) or {}) for k in ("startup", "runtime", "special")}
