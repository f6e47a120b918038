"""/entrance/{id}/...: status, progress, log, kill, killJobs and pause of a submitted job.

The id is an execID while the entrance holds the job; Linkis 1.5-1.8 gateways also take a numeric
taskID in its place (`taskid_in_path`). Once a job has left the entrance (gateway/jobs.py
eviction), these answer as Linkis does for a job it no longer holds. Submitting is in
gateway/routes_submit.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entrance_log import CacheIndexError
from .entrance_log import join_log, split_log
from .execid import parse_exec_id, task_index
from .jobs import EntranceJob, JobState
from .routes_history import visible_row
from .web import ApiError, SpringError

if TYPE_CHECKING:
    from .web import GatewayHandler

# EntranceRestfulApi's messages (apache/linkis, linkis-entrance), typos included.
MSG_STATUS_EMPTY = ("ID The corresponding job is empty and cannot obtain the corresponding task "
                    "status.(ID 对应的job为空，不能获取相应的任务状态)")
MSG_STATUS_GONE = ("Get job by ID error and cannot obtain the corresponding task status."
                   "(获取job时发生异常，不能获取相应的任务状态)")
MSG_NO_PROGRESS = ("Can not get the corresponding progress information, it may be that the "
                   "corresponding progress information has not been generated"
                   "(不能获取相应的进度信息,可能是相应的进度信息还未生成)")
MSG_PROGRESS_EMPTY = ("The job corresponding to the ID is empty, and the corresponding task progress "
                      "cannot be obtained.(ID 对应的job为空，不能获取相应的任务进度)")
MSG_LOG_GONE = ("The job you just executed has ended. This interface no longer provides a query. It is "
                "recommended that you download the log file for viewing.(您刚刚执行的job已经结束，"
                "本接口不再提供查询，建议您下载日志文件进行查看)")
MSG_LOG_EMPTY = ("Can't find execID(不能找到execID): {id}Corresponding job, can not get the "
                 "corresponding log(对应的job，不能获得对应的日志)")
MSG_KILLED = "Successfully killed the job(成功kill了job)"
MSG_FORCE_KILL = "Forced Kill task (强制杀死任务)"
MSG_KILL_GONE = "Get job by ID error, kill failed.(获取job时发生异常，kill失败)"
MSG_KILL_DENIED = "You have no permission to kill this job, excecute by user:{user}"
MSG_KILL_DONE = "The job already completed. Do not support kill.(任务已经结束，不支持kill)"
MSG_PAUSED = "success to pause job (成功pause了job)"
MSG_PAUSE_EMPTY = ("can not find the job of exexID :{id} can not pause (不能找到execID: {id}对应的job，"
                   "不能进行pause)")


def exec_id_overrun_0x(digits: str) -> int | None:
    """The end index at which 0.11.0 ZuulEntranceUtils.parseExecID overruns an all-digit id (its
    first six digits read as three 2-digit lengths), None when every substring fits."""
    if len(digits) < 6:
        return 6
    lengths = (int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
    end = 6
    for length in lengths:
        end += length
        if end > len(digits):
            return end
    return None


def _task_id_path(req: GatewayHandler, raw_id: str) -> bool:
    """Whether `raw_id` is a job-history taskID in the execID slot (1.5.0-1.8.0 gateways)."""
    if not raw_id.isdigit():
        return False
    if req.gw.profile.taskid_in_path:
        return True
    # A 0.11.0 gateway parses every id as an execID (ZuulEntranceUtils.parseExecID) and a
    # short number overruns it; GatewayAuthorizationFilter answers the exception, HTTP 200.
    end = exec_id_overrun_0x(raw_id)
    if end is not None:
        raise ApiError(1, f"StringIndexOutOfBoundsException: String index out of range: {end}",
                       method=req.request.path, http=200)
    return False


def _by_task_id(req: GatewayHandler, raw_id: str) -> tuple[str, str | None]:
    """Linkis 1.5-1.8 gateways take a numeric taskID in the execID slot: (status, execID of
    the job while the entrance holds it)."""
    row = req.gw.storage.get_task(int(raw_id), with_code=False)
    if row is None or not visible_row(req, row):
        raise ApiError(1, f"taskId {raw_id} is not exists.")
    live = req.gw.jobs.get_by_task(row["task_id"])
    if live is not None:
        return req.gw.jobs.snapshot(live)[0].value, live.exec_id
    return row["status"], None


def _running_exec_id(req: GatewayHandler, raw_id: str, finished: str, method: str) -> str:
    """The execID in the path, or for a taskID there the execID of the job while it runs; a
    taskID of a finished job, or of one the entrance no longer holds, is answered `finished`."""
    if not _task_id_path(req, raw_id):
        return raw_id
    status, live = _by_task_id(req, raw_id)
    if JobState(status).is_terminal or live is None:
        raise ApiError(1, finished, method=method)
    return live


def _lookup(req: GatewayHandler, exec_id: str) -> tuple[EntranceJob | None, dict[str, Any] | None]:
    """(job in the entrance, or None; else its history row when the entrance once held it)."""
    job = req.gw.jobs.get(exec_id)
    if job is not None:
        return (job, None) if job.visible_to(req.user) else (None, None)
    parsed = parse_exec_id(exec_id)
    if parsed is None:
        raise ApiError(1, f"error code(错误码): 20001, error message(错误信息): The execID {exec_id} "
                          f"is not a valid execID.")
    index = task_index(parsed[2])
    row = req.gw.storage.get_task(index, with_code=False) if index is not None else None
    if row is not None and row["exec_id"] == exec_id and visible_row(req, row):
        return None, row
    return None, None


def _task_row(req: GatewayHandler, raw: str | None) -> dict[str, Any] | None:
    if raw is None or not raw.strip():
        return None
    try:
        task_id = int(raw)
    except ValueError:
        raise ApiError(1, f"Failed to convert value of type 'java.lang.String' to required type "
                          f"'java.lang.Long'; taskID: {raw!r} is not a number") from None
    return req.gw.storage.get_task(task_id, with_code=False)


def status(req: GatewayHandler, exec_id: str) -> None:
    method = f"/api/entrance/{exec_id}/status"
    if _task_id_path(req, exec_id):
        status, _live = _by_task_id(req, exec_id)
        req.ok({"status": status, "execID": "", "taskID": exec_id}, method=method)
        return
    job, row = _lookup(req, exec_id)
    if job is not None:
        # Only a successful status call keeps a LINKISCLI/BdpClient job's client alive.
        req.gw.jobs.touch(job)
        req.ok({"status": job.state.value, "execID": exec_id}, method=method)
        return
    if row is None:
        raise ApiError(1, MSG_STATUS_EMPTY, method=None)
    task = _task_row(req, req.get_query_argument("taskID", None))
    if task is None:
        raise ApiError(1, MSG_STATUS_GONE)
    status = task["status"] if visible_row(req, task) else None
    req.ok({"status": status, "execID": exec_id}, method=method)


def _progress_data(req: GatewayHandler, exec_id: str, method: str) -> dict[str, Any]:
    job, _row = _lookup(req, exec_id)
    if job is None:
        raise ApiError(1, MSG_PROGRESS_EMPTY)
    state, progress, info = req.gw.jobs.snapshot(job)
    if info is None and not state.is_terminal:
        raise ApiError(1, MSG_NO_PROGRESS, method=method)
    entries = [
        {"id": str(i.get("id", "")), "succeedTasks": int(i.get("succeedTasks", 0)),
         "failedTasks": int(i.get("failedTasks", 0)), "runningTasks": int(i.get("runningTasks", 0)),
         "totalTasks": int(i.get("totalTasks", 0))}
        for i in info or [] if int(i.get("totalTasks", 0)) > 0
    ]
    return {"progress": abs(progress), "execID": exec_id, "progressInfo": entries}


def progress(req: GatewayHandler, exec_id: str) -> None:
    method = f"/api/entrance/{exec_id}/progress"
    req.ok(_progress_or_task(req, exec_id, method), method=method)


def progress_with_resource(req: GatewayHandler, exec_id: str) -> None:
    if not req.gw.profile.progress_with_resource:
        raise SpringError(404)
    method = f"/api/entrance/{exec_id}/progressWithResource"
    data = _progress_or_task(req, exec_id, method)
    data["yarnResource"] = None
    req.ok(data, method=method)


def _progress_or_task(req: GatewayHandler, exec_id: str, method: str) -> dict[str, Any]:
    if not _task_id_path(req, exec_id):
        return _progress_data(req, exec_id, method)
    status, live = _by_task_id(req, exec_id)
    if JobState(status).is_terminal:
        # As Linkis' taskID path: a string, and no stages.
        return {"progress": "1.0", "execID": "", "taskID": exec_id, "progressInfo": []}
    if live is None:
        return {"progress": 0, "execID": "", "taskID": exec_id, "progressInfo": []}
    return _progress_data(req, live, method)


def job_log(req: GatewayHandler, exec_id: str) -> None:
    method = f"/api/entrance/{exec_id}/log"
    exec_id = _running_exec_id(req, exec_id, MSG_LOG_GONE, method)
    from_line = max(req.int_arg("fromLine", 0) or 0, 0)
    size = req.int_arg("size", 100)
    distinct = req.get_query_argument("distinctLevel", "true") != "false"
    job, row = _lookup(req, exec_id)
    if job is None:
        if row is not None:
            raise ApiError(1, MSG_LOG_GONE, method=method)
        raise ApiError(1, MSG_LOG_EMPTY.format(id=exec_id), method=method)
    # EntranceRestfulApi.log: a negative size reads 10000 lines; the answer's fromLine is the
    # request's plus the positions the reader covered (gateway/entrance_log.py).
    size = 100 if size is None else size if size >= 0 else 10000
    try:
        lines, covered = req.gw.jobs.read_log(job, from_line, size)
    except CacheIndexError:
        req.ok({"log": "", "execID": exec_id, "fromLine": from_line}, method=method)
        return
    payload: Any = split_log(lines) if distinct else join_log(lines)
    req.ok({"log": payload, "execID": exec_id, "fromLine": from_line + covered}, method=method)


async def kill(req: GatewayHandler, exec_id: str) -> None:
    method = f"/api/entrance/{exec_id}/kill"
    exec_id = _running_exec_id(req, exec_id, MSG_KILL_DONE, method)
    raw_task = req.get_query_argument("taskID", None)
    job = req.gw.jobs.get(exec_id)
    if job is not None:
        if not job.visible_to(req.user):
            raise ApiError(1, MSG_KILL_DENIED.format(user=job.execute_user))
        await req.blocking(req.gw.jobs.kill, job)
        req.ok({"execID": exec_id}, MSG_KILLED, method)
        return
    _job, row = _lookup(req, exec_id)
    task = _task_row(req, raw_task)
    if row is not None and (task is None or task["task_id"] <= 0):
        raise ApiError(1, MSG_KILL_GONE)
    if task is not None:
        if not visible_row(req, task):
            raise ApiError(1, MSG_KILL_DENIED.format(user=task["execute_user"]))
        await req.blocking(req.gw.jobs.force_kill, task["task_id"])
    req.ok({}, MSG_FORCE_KILL, method)


async def kill_jobs(req: GatewayHandler, _id: str) -> None:
    if not req.gw.profile.kill_jobs:
        raise SpringError(404)
    body = req.body_json()
    ids, task_ids = body.get("idList"), body.get("taskIDList")
    if not isinstance(ids, list) or not isinstance(task_ids, list):
        raise ApiError(1, "Request parameter error, please use array(请求参数错误，请使用数组)")
    if len(ids) != len(task_ids):
        raise ApiError(1, "The length of the ID list does not match the length of the TASKID list"
                          "(id列表的长度与taskId列表的长度不一致)")
    messages = []
    for exec_id, raw_task in zip(ids, task_ids):
        exec_id = str(exec_id)
        job = req.gw.jobs.get(exec_id)
        if job is not None:
            if not job.visible_to(req.user):
                raise ApiError(1, MSG_KILL_DENIED.format(user=job.execute_user))
            await req.blocking(req.gw.jobs.kill, job)
            messages.append({"method": f"/api/entrance/{exec_id}/kill", "status": 0,
                             "message": MSG_KILLED, "data": {"execID": exec_id}})
            continue
        task = _task_row(req, str(raw_task))
        if task is not None:
            if not visible_row(req, task):
                raise ApiError(1, MSG_KILL_DENIED.format(user=task["execute_user"]))
            await req.blocking(req.gw.jobs.force_kill, task["task_id"])
        messages.append({"method": f"/api/entrance/{exec_id}/killJobs", "status": 0,
                         "message": MSG_FORCE_KILL, "data": {}})
    req.ok({"messages": messages}, "success")


def pause(req: GatewayHandler, exec_id: str) -> None:
    method = f"/api/entrance/{exec_id}/pause"
    job, _row = _lookup(req, exec_id)
    if job is None:
        raise ApiError(1, MSG_PAUSE_EMPTY.format(id=exec_id), method=method)
    req.ok({"execID": exec_id}, MSG_PAUSED, method)
