"""The SQL engine's job log in the shape of a Linkis 1.x Spark engine's, holding what DuckDB did.

A Spark SQL job's log on Linkis (release-1.8.0), and where its lines come from:

- The entrance, getting an engine (linkis-orchestrator/linkis-computation-orchestrator/src/main/
  scala/org/apache/linkis/orchestrator/: ecm/ComputationEngineConnManager.scala,
  computation/physical/CodeLogicalUnitExecTask.scala): `Request LinkisManager:EngineAskAsyncResponse
  (<manager instance>_<n>,ServiceInstance(linkis-cg-linkismanager, ...))` (every job: askEngine
  always answers asynchronously, DefaultEngineAskEngineService.scala), `Succeed to create new ec : `
  or `Succeed to reuse ec : ServiceInstance(linkis-cg-engineconn, ...)`, and `Task submit to ec(...):
  ... get engineConnExecId is: <n>`, the engine's task id, which is the job's taskID
  (TaskExecutionServiceImpl.scala).
- The engine (linkis-engineconn-plugins/spark/src/main/scala/org/apache/linkis/engineplugin/spark/
  executor/SparkSqlExecutor.scala, SQLSession.scala): `<engine host:port> >> <statement>`, Spark's
  driver lines of the jobs the statement runs (they reach the entrance when the engine's log4j2.xml
  lets INFO through its Send appender), `SQLSession: Time taken: 12 ms, Fetched 1 row(s)` and
  `<host:port> >> Time taken: 12 ms, Fetched 1 col(s) : 1 row(s)`, durations as
  ByteTimeUtils.msDurationToString writes them.
- The progress (SparkEngineConnExecutor.getProgressInfo, utils/JobProgressUtil.scala): one
  JobProgressInfo per Spark job of the Linkis job's job group, id `jobId-<n>(linkis-spark-mix-code-
  <taskID>)`, counting the tasks of its stages.

Here the engine is the user's DuckDB database, open in the gateway's process: ServiceInstance(
linkis-cg-engineconn, <gateway host:port>, <when the database was opened, ms>); the gateway is
LinkisManager too. Each statement is one Spark job of one ResultStage holding one task: DuckDB
running the statement (binding, executing, writing the rows to the result set). Its milliseconds,
rows and error are DuckDB's; the task runs "on <gateway host> (executor driver)", as Spark's local
mode says of work done in the driver's process. Jobs, stages and tasks are numbered per engine, as
a SparkContext numbers them; one of each per statement, so the three numbers are equal. Nothing
names a YARN application, a queue or executors: the embedded engine has none. The lines carry the
entrance's `yyyy-MM-dd HH:mm:ss.SSS LEVEL` prefix, like every line of the gateway's logs.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from .engine_base import clip, stage

ENGINECONN_APP = "linkis-cg-engineconn"   # GovernanceCommonConf.ENGINE_CONN_SPRING_NAME
MANAGER_APP = "linkis-cg-linkismanager"   # GovernanceCommonConf.MANAGER_SERVICE_NAME
JOB_GROUP = "linkis-spark-mix-code-{task_id}"   # SparkEngineConnExecutor.executeLine
NAME_LIMIT = 60  # a stage's name: the statement, cut (Spark shows a short call site)

Log = Callable[[str, str], None]


def service_instance(application: str, instance: str, registered: int) -> str:
    """ServiceInstance.toString; 1.5.0 added the registry timestamp (1.4.0 and older print two
    fields)."""
    return f"ServiceInstance({application}, {instance}, {registered})"


def ms_duration(ms: float) -> str:
    """ByteTimeUtils.msDurationToString."""
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} m"
    return f"{ms / 3_600_000:.2f} h"


def now_ms() -> int:
    return int(time.time() * 1000)


class LinkisManager:
    """The gateway as LinkisManager of its SQL engines: the entrance's lines about the engine a
    job gets. Ask ids are `<instance>_<n>` from 0, as EngineAskEngineService.getAsyncId makes them."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.registered = now_ms()
        self._asks = itertools.count()

    def engine(self, registered: int) -> str:
        return service_instance(ENGINECONN_APP, self.instance, registered)

    def ask_lines(self, engine_registered: int, created: bool, task_id: int) -> list[str]:
        ec = self.engine(engine_registered)
        manager = service_instance(MANAGER_APP, self.instance, self.registered)
        return [
            f"Request LinkisManager:EngineAskAsyncResponse({self.instance}_{next(self._asks)},"
            f"{manager})",
            f"Succeed to {'create new' if created else 'reuse'} ec : {ec}",
            f"Task submit to ec(任务已经提交给引擎执行): {ec} get engineConnExecId is: {task_id}",
        ]


RUNNING, SUCCEED, FAILED, KILLED = "running", "succeed", "failed", "killed"


class StatementJob:
    """One statement as a Spark job: one ResultStage, one task, DuckDB running the statement.
    Logs Spark's DAGScheduler / TaskSchedulerImpl / TaskSetManager lines for it as it goes."""

    def __init__(self, log: Log, number: int, host: str, group: str, statement: str) -> None:
        self.log = log
        self.number = number
        self.host = host
        self.group = group
        flat = " ".join(statement.split())
        # Cut between words: a number cut short would read as another number.
        head = flat[:NAME_LIMIT + 1]
        self.name = flat if len(flat) <= NAME_LIMIT else \
            (head.rsplit(" ", 1)[0] if " " in head else flat[:NAME_LIMIT]) + " ..."
        self.state = RUNNING
        self.started = time.monotonic()

    @property
    def progress_info(self) -> dict[str, Any]:
        """Its JobProgressInfo (JobProgressUtil.getJobProgressInfoByStages)."""
        return stage(f"jobId-{self.number}({self.group})", 1, int(self.state == SUCCEED),
                     int(self.state == RUNNING), int(self.state == FAILED))

    def _dag(self, text: str) -> None:
        self.log("INFO", f"DAGScheduler: {text}")

    def submit(self) -> None:
        n, result_stage = self.number, f"ResultStage {self.number} ({self.name})"
        self._dag(f"Got job {n} ({self.name}) with 1 output partitions")
        self._dag(f"Final stage: {result_stage}")
        self._dag("Parents of final stage: List()")
        self._dag("Missing parents: List()")
        self._dag(f"Submitting {result_stage}, which has no missing parents")
        self._dag(f"Submitting 1 missing tasks from {result_stage} "
                  f"(first 15 tasks are for partitions Vector(0))")
        self.log("INFO", f"TaskSchedulerImpl: Adding task set {n}.0 with 1 tasks")
        self.log("INFO", f"TaskSetManager: Starting task 0.0 in stage {n}.0 (TID {n}) "
                 f"({self.host}, executor driver, partition 0)")
        self.started = time.monotonic()

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def succeed(self) -> float:
        """The task is done; returns its milliseconds."""
        ms = self.elapsed_ms()
        n = self.number
        self.state = SUCCEED
        self.log("INFO", f"TaskSetManager: Finished task 0.0 in stage {n}.0 (TID {n}) in {int(ms)} ms "
                 f"on {self.host} (executor driver) (1/1)")
        self.log("INFO", f"TaskSchedulerImpl: Removed TaskSet {n}.0, whose tasks have all "
                 "completed, from pool")
        self._dag(f"ResultStage {n} ({self.name}) finished in {ms / 1000:.3f} s")
        self._dag(f"Job {n} finished: {self.name}, took {ms / 1000:.6f} s")
        return ms

    def fail(self, message: str) -> None:
        """DuckDB raised: Executor's exception (DuckDB's message), the lost task, the aborted job."""
        ms = self.elapsed_ms()
        n = self.number
        self.state = FAILED
        first = clip(next((line for line in message.splitlines() if line.strip()), ""))
        lost = f"Lost task 0.0 in stage {n}.0 (TID {n}) ({self.host} executor driver): {first}"
        self.log("ERROR", f"Executor: Exception in task 0.0 in stage {n}.0 (TID {n})")
        for line in message.splitlines():
            if line.strip():
                self.log("ERROR", clip(line))
        self.log("WARN", f"TaskSetManager: {lost}")
        self.log("ERROR", f"TaskSetManager: Task 0 in stage {n}.0 failed 1 times; aborting job")
        self._dag(f"ResultStage {n} ({self.name}) failed in {ms / 1000:.3f} s due to Job aborted "
                  f"due to stage failure: Task 0 in stage {n}.0 failed 1 times, most recent "
                  f"failure: {lost}")
        self._dag(f"Job {n} failed: {self.name}, took {ms / 1000:.6f} s")

    def kill(self) -> None:
        """The job was killed while DuckDB ran the statement (SparkContext.cancelJobGroup)."""
        ms = self.elapsed_ms()
        n = self.number
        self.state = KILLED
        self._dag(f"Asked to cancel job group {self.group}")
        self.log("WARN", f"TaskSetManager: Lost task 0.0 in stage {n}.0 (TID {n}) ({self.host} "
                 "executor driver): TaskKilled (Stage cancelled)")
        self._dag(f"ResultStage {n} ({self.name}) failed in {ms / 1000:.3f} s due to Job {n} "
                  f"cancelled part of cancelled job group {self.group}")
        self._dag(f"Job {n} failed: {self.name}, took {ms / 1000:.6f} s")
