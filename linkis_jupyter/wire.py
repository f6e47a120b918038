"""Linkis' wire values as small dataclasses: what the client's methods return.

Each `from_wire` reads a reply leniently, as gateways of different versions send them: a taskID
as a number or a string, progress as a float or a string such as "1.0f", times in epoch ms.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Mapping

__all__ = ["REST_PREFIX", "JobState", "StageProgress", "SubmitResult", "Progress", "LogChunk", "TaskInfo", "ResultFile", "ResultPage",
           "TableInfo", "ColumnInfo"]

# Where every endpoint of the Linkis REST API lives, below the gateway's base URL.
REST_PREFIX = "/api/rest_j/v1"


class JobState(str, Enum):
    """A Linkis job state (SchedulerEventState / jobhistory TaskStatus). Unknown strings -> UNKNOWN,
    which counts as still running."""

    INITED = "Inited"
    WAIT_FOR_RETRY = "WaitForRetry"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEED = "Succeed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.SUCCEED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT)

    @property
    def is_success(self) -> bool:
        return self is JobState.SUCCEED

    @classmethod
    def from_wire(cls, value: Any) -> "JobState":
        text = str(value or "").strip()
        for state in cls:
            if state.value.lower() == text.lower():
                return state
        # linkis-cli and older docs spell success "Success"/"Succeeded".
        if text.lower() in ("success", "succeeded"):
            return cls.SUCCEED
        return cls.UNKNOWN

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StageProgress:
    """One entry of `progressInfo`: the tasks of one stage (a Spark job, say)."""

    id: str
    succeed: int
    failed: int
    running: int
    total: int

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> "StageProgress":
        return cls(
            id=str(item.get("id", "")),
            succeed=_as_int(item.get("succeedTasks")) or 0,
            failed=_as_int(item.get("failedTasks")) or 0,
            running=_as_int(item.get("runningTasks")) or 0,
            total=_as_int(item.get("totalTasks")) or 0,
        )


@dataclass(frozen=True)
class SubmitResult:
    exec_id: str
    task_id: int | None
    api: str  # "submit" or "execute": the endpoint that took the job


@dataclass(frozen=True)
class Progress:
    progress: float  # 0..1
    stages: tuple[StageProgress, ...] = ()
    yarn_metrics: Mapping[str, Any] | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "Progress":
        """A progress or progressWithResource reply."""
        info = data.get("progressInfo")
        stages = tuple(StageProgress.from_wire(item) for item in (info or []) if isinstance(item, dict))
        metrics = data.get("yarnMetrics")
        return cls(_as_progress(data.get("progress")), stages, metrics if isinstance(metrics, dict) else None)


@dataclass(frozen=True)
class LogChunk:
    """A log reply: Linkis' four strings [error, warn, info, all] and the `fromLine` to echo back."""

    error: str
    warn: str
    info: str
    all: str
    from_line: int | None = None

    @property
    def lines(self) -> list[str]:
        # The entrance drops the last newline, a whole log file (openLog) keeps it.
        text = self.all[:-1] if self.all.endswith("\n") else self.all
        return [line.rstrip("\r") for line in text.split("\n")] if text else []

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "LogChunk":
        log = data.get("log")
        if isinstance(log, list):
            parts = [("" if part is None else str(part)) for part in log] + ["", "", "", ""]
            error, warn, info, all_ = parts[:4]
            if len(log) < 4:
                # A short array has no "all": rebuild it from what is there.
                all_ = "\n".join(p for p in (error, warn, info) if p)
        else:
            error = warn = info = ""
            all_ = "" if log is None else str(log)
        return cls(error, warn, info, all_, _as_int(data.get("fromLine")))


@dataclass(frozen=True)
class TaskInfo:
    """A job-history record (`jobhistory/{id}/get` -> data.task), leniently parsed."""

    task_id: int
    state: JobState
    status: str
    progress: float
    log_path: str | None
    result_location: str | None
    err_code: int | None
    err_desc: str | None
    execution_code: str | None
    engine_type: str | None
    run_type: str | None
    created: datetime | None
    updated: datetime | None
    cost_time: int | None
    exec_id: str | None
    stronger_exec_id: str | None
    um_user: str | None
    submit_user: str | None
    execute_user: str | None
    instance: str | None
    labels: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    engine_instance: str | None = None  # host:port of the EngineConn that ran the job

    @classmethod
    def from_wire(cls, task: Mapping[str, Any]) -> "TaskInfo":
        labels = task.get("labels")
        if isinstance(labels, str):
            labels = [labels]
        return cls(
            task_id=_as_int(task.get("taskID", task.get("taskId", task.get("id")))) or 0,
            state=JobState.from_wire(task.get("status")),
            status=str(task.get("status") or ""),
            progress=_as_progress(task.get("progress")),
            log_path=_as_str(task.get("logPath")),
            result_location=_as_str(task.get("resultLocation")),
            err_code=_as_int(task.get("errCode", task.get("errorCode"))),
            err_desc=_as_str(task.get("errDesc")),
            execution_code=_as_str(task.get("executionCode")),
            engine_type=_as_str(task.get("engineType", task.get("executeApplicationName"))),
            run_type=_as_str(task.get("runType")),
            created=_as_time(task.get("createdTime")),
            updated=_as_time(task.get("updatedTime")),
            cost_time=_as_int(task.get("costTime")),
            exec_id=_as_str(task.get("execId")),
            stronger_exec_id=_as_str(task.get("strongerExecId")),
            um_user=_as_str(task.get("umUser")),
            # Linkis' QueryTaskVO names the submit user umUser; some gateways also say submitUser.
            submit_user=_as_str(task.get("submitUser", task.get("umUser"))),
            execute_user=_as_str(task.get("executeUser")),
            instance=_as_str(task.get("instance")),
            labels=tuple(str(x) for x in (labels or ()) if x is not None),
            raw=dict(task),
            engine_instance=_as_str(task.get("engineInstance")),
        )


@dataclass(frozen=True)
class ResultFile:
    """One result-set file of a job directory (`_<n>.dolphin`)."""

    index: int
    name: str
    path: str
    size: int | None = None

    @classmethod
    def from_tree(cls, tree: Any) -> "list[ResultFile]":
        """The result sets of a getDirFileTrees reply, in numeric order (_2 before _10), each
        numbered by the digits before `.dolphin` (`t2_12.dolphin` is 12; numbers may have gaps)."""
        files: list[ResultFile] = []
        stack = [tree] if isinstance(tree, dict) else []
        while stack:
            node = stack.pop()
            for child in node.get("children") or []:
                if not isinstance(child, dict):
                    continue
                if child.get("isLeaf") is False and child.get("children"):
                    stack.append(child)
                    continue
                name = str(child.get("name") or os.path.basename(str(child.get("path", ""))))
                if not name or child.get("isLeaf") is False:
                    continue
                size = _as_int((child.get("properties") or {}).get("size"))
                index = _result_index(name)
                files.append(cls(-1 if index is None else index, name, str(child.get("path") or name), size))
        files.sort(key=lambda f: (f.index < 0, f.index, f.name))
        # A name without a number is numbered after the others, in name order.
        numbered = [f for f in files if f.index >= 0]
        top = max((f.index for f in numbered), default=-1)
        unnumbered = [f for f in files if f.index < 0]
        return numbered + [cls(top + 1 + i, f.name, f.path, f.size) for i, f in enumerate(unnumbered)]


@dataclass(frozen=True)
class ResultPage:
    """One `openFile` page: `type` "1".."5", metadata (TABLE: list of column dicts; else a string
    or None) and rows of strings."""

    type: str
    metadata: Any
    rows: list[list[Any]]
    page: int
    page_size: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Of the null markers open_file was asked about, those no row of this page holds as a whole
    # value (None stands for a JSON null): conversion can skip looking for them.
    absent: frozenset[str | None] = frozenset()


@dataclass(frozen=True)
class TableInfo:
    """One table of a `/datasource/tables` reply. Linkis reads the Hive metastore, whose times are
    epoch *seconds* (`lastAccessAt` is often 0, read as None)."""

    database: str
    name: str
    is_view: bool
    created_by: str | None
    created: datetime | None
    last_access: datetime | None

    @classmethod
    def from_wire(cls, item: Any, database: str = "") -> "TableInfo":
        if not isinstance(item, Mapping):
            # A gateway that lists names only.
            return cls(database, str(item), False, None, None, None)
        return cls(
            database=_as_str(item.get("databaseName", item.get("database"))) or database,
            name=str(item.get("tableName", item.get("name")) or ""),
            is_view=_as_bool(item.get("isView", item.get("view"))),
            created_by=_as_str(item.get("createdBy", item.get("owner"))),
            created=_as_epoch_seconds(item.get("createdAt")),
            last_access=_as_epoch_seconds(item.get("lastAccessAt")),
        )


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a `/datasource/columns` reply: the columns in order, then the partition keys
    (`partitioned`)."""

    name: str
    type: str
    comment: str | None
    partitioned: bool

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> "ColumnInfo":
        return cls(
            name=str(item.get("columnName", item.get("name")) or ""),
            type=str(item.get("columnType", item.get("type")) or ""),
            comment=_as_str(item.get("columnComment", item.get("comment"))),
            partitioned=_as_bool(item.get("partitioned", item.get("partitionField"))),
        )


def database_name(item: Any) -> str | None:
    """One entry of a `/datasource/dbs` reply (`{"dbName": ...}`; a bare name from some gateways)."""
    if isinstance(item, Mapping):
        return _as_str(item.get("dbName", item.get("databaseName", item.get("name"))))
    return _as_str(item)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


def _as_epoch_seconds(value: Any) -> datetime | None:
    """A metastore time: epoch seconds; 0 or less means never. A number too big to be seconds
    (after the year 5000) is taken as milliseconds, as other gateways send times."""
    number = _as_int(value)
    if number is None:
        return _as_time(value) if isinstance(value, str) and value.strip() else None
    if number <= 0:
        return None
    if number > 100_000_000_000:
        number //= 1000
    return datetime.fromtimestamp(number, tz=timezone.utc)


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() and text.strip().lower() not in ("null", "none") else None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return int(float(str(value).strip()))
        except ValueError:
            return None


def _as_progress(value: Any) -> float:
    """0..1 from a float, "0.5", "1.0f" (Linkis' kill path writes that), "10%" or junk (-> 0)."""
    if value is None or isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().rstrip("fFdD")
        percent = text.endswith("%")
        try:
            number = float(text.rstrip("%").strip())
        except ValueError:
            return 0.0
        if percent:
            number /= 100.0
    if number != number:  # NaN
        return 0.0
    return min(1.0, max(0.0, abs(number)))


def _as_time(value: Any) -> datetime | None:
    """Linkis backends send dates as epoch milliseconds; some gateways send ISO text."""
    if value is None or value == "":
        return None
    number = _as_int(value)
    if number is not None:
        return datetime.fromtimestamp(number / 1000.0, tz=timezone.utc)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _result_index(name: str) -> int | None:
    # An engine names a result set "_<n>" or "<alias>_<n>" (ExecutorExecutionContext.scala, e.g.
    # Spark's showAlias(df, "t2") -> t2_0.dolphin), so the number is the one right before
    # ".dolphin". The Java client's first digit run (JobInfoResult) would make t2_0 number 2.
    match = re.search(r"_(\d+)\.dolphin$", name)
    return int(match.group(1)) if match else None
