"""/jobhistory: one job (`{taskID}/get`) and the user's jobs (`list`), as QueryTaskVO records.

Job history is the stored row only: it trails the entrance's end of a job by `history_lag`
(gateway/jobs.py). A user sees the jobs they submitted or run. Messages are Linkis' own
(apache/linkis: QueryRestfulApi, TaskConversions). The listing carries each job's whole
`executionCode`, as release-1.8.0's `list` does (QueryUtils.exchangeExecutionCode on every row,
no cut); reads run off the IOLoop, so one user's page of large codes does not stall the others.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from .execid import parse_exec_id
from .jobs import JobState
from .web import ApiError

if TYPE_CHECKING:
    from .web import GatewayHandler

MSG_HISTORY_EMPTY = ("The corresponding job was not found, or there may be no permission to view "
                     "the job(没有找到对应的job，也可能是没有查看该job的权限)")
MAX_HISTORY_PAGE = 100000


def visible_row(req: GatewayHandler, row: dict[str, Any]) -> bool:
    """Whether the asking user submitted or runs this job."""
    return req.user in (row["submit_user"], row["execute_user"])


def source_tailor(source_json: str | None) -> str | None:
    """QueryTaskVO.sourceTailor: the source's values joined with `-` (TaskConversions)."""
    if not source_json:
        return None
    try:
        source = json.loads(source_json)
    except ValueError:
        return None
    if not isinstance(source, dict):
        return None
    return "-".join(v if isinstance(v, str) else json.dumps(v) for v in source.values())


def task_vo(req: GatewayHandler, row: dict[str, Any], brief: bool = False) -> dict[str, Any]:
    # The stored row only: job history lags the entrance (gateway/jobs.py).
    status, progress = row["status"], row["progress"]
    if not req.gw.profile.history_progress_as_string:
        progress = float(progress or 0)
    err_code, err_desc = row["err_code"], row["err_desc"]
    if status == JobState.RUNNING.value:
        err_code = err_desc = None
    end = row["end_time"]
    created = row["created_time"]
    labels = json.loads(row["labels_json"] or "{}")
    vo: dict[str, Any] = {
        "taskID": row["task_id"],
        "instance": row["instance"],
        "execId": _short_id(row) or None,
        # QueryTaskVO has no submitUser: umUser is the submit user.
        "umUser": row["submit_user"],
        "executeUser": row["execute_user"],
        "engineInstance": None,
        "executionCode": None if brief else row["execution_code"],
        "progress": progress,
        "logPath": row["log_path"],
        "resultLocation": row["result_location"],
        "status": status,
        "createdTime": created,
        "updatedTime": row["updated_time"],
        "engineType": row["engine_type"],
        "errCode": err_code,
        "errDesc": err_desc,
        "executeApplicationName": row["execute_application_name"],
        "requestApplicationName": row["request_application_name"],
        "runType": row["run_type"],
        "paramsJson": row["params_json"],
        "costTime": (end if end else int(time.time() * 1000)) - created,
        "strongerExecId": row["exec_id"],
        "sourceJson": row["source_json"],
        "sourceTailor": source_tailor(row["source_json"]),
        "engineStartTime": row["engine_start_time"],
        "labels": [f"{k}:{v}" for k, v in labels.items()],
        "canRetry": False,
        "observeInfo": None,
        "isReuse": None,
        "requestStartTime": created,
        "requestEndTime": end,
        "requestSpendTime": (end - created) if end else None,
        "metrics": "{}",
        "subJobs": None,
    }
    return vo


def _short_id(row: dict[str, Any]) -> str:
    parsed = parse_exec_id(row["exec_id"] or "")
    return parsed[2] if parsed else ""


async def history_get(req: GatewayHandler, raw_id: str) -> None:
    try:
        task_id = int(raw_id)
    except ValueError:
        raise ApiError(1, f"Failed to convert value of type 'java.lang.String' to required type "
                          f"'java.lang.Long'; For input string: \"{raw_id}\"") from None
    brief = req.get_query_argument("brief", "false").lower() == "true"
    row = await req.blocking(lambda: req.gw.storage.get_task(task_id, with_code=not brief))
    if row is None or not visible_row(req, row):
        raise ApiError(1, MSG_HISTORY_EMPTY, method=None)
    req.ok({"task": task_vo(req, row, brief)})


async def history_list(req: GatewayHandler) -> None:
    page_now = max(req.int_arg("pageNow", 1) or 1, 1)
    # QueryRestfulApi.list has no cap; this bound only keeps one request from exhausting memory.
    page_size = min(max(req.int_arg("pageSize", 20) or 20, 1), MAX_HISTORY_PAGE)
    status = req.get_query_argument("status", None)
    task_id = req.get_query_argument("taskID", None)
    try:
        task = int(task_id) if task_id else None
        start = int(req.get_query_argument("startDate", "") or 0) or None
        end = int(req.get_query_argument("endDate", "") or 0) or None
    except ValueError:
        raise ApiError(1, "taskID, startDate and endDate must be numbers") from None
    rows, total = await req.blocking(lambda: req.gw.storage.list_tasks(
        req.user,
        status=[s.strip() for s in status.split(",") if s.strip()] if status else None,
        task_id=task, start_ms=start, end_ms=end,
        creator=req.get_query_argument("creator", None) or None,
        engine=req.get_query_argument("executeApplicationName", None) or None,
        run_type=req.get_query_argument("runType", None) or None,
        execute_user=req.get_query_argument("proxyUser", None) or None,
        offset=(page_now - 1) * page_size, limit=page_size,
    ))
    req.ok({"tasks": [task_vo(req, r) for r in rows], "totalPage": total})
