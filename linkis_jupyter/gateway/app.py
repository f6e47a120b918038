"""Linkis' HTTP API on tornado: auth endpoints, the entrance and job history.

One handler takes every request and routes it through a table (gateway/web.py), so unknown
paths, wrong methods and injected faults are answered in one place; the filesystem endpoints are
in gateway/files.py. Messages are Linkis' own (apache/linkis: EntranceRestfulApi,
QueryRestfulApi, UserRestful, GatewayParser).
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import tornado.web

from . import variables
from .faults import Fault
from .files import FilesystemRoutes
from .jobs import EntranceJob, JobState, parse_exec_id, split_log, task_index
from .storage import valid_user_name
from .web import ROUTES, TICKET_COOKIE, ApiError, ProxyRules, error_code_error, route

if TYPE_CHECKING:
    from . import EmbeddedGateway

log = logging.getLogger("linkis_jupyter.gateway")

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
MSG_HISTORY_EMPTY = ("The corresponding job was not found, or there may be no permission to view "
                     "the job(没有找到对应的job，也可能是没有查看该job的权限)")

# Default engine versions of Linkis (LabelCommonConfig), for the 0.x execute body.
DEFAULT_VERSIONS = {
    "spark": "2.4.3", "hive": "2.3.3", "python": "python2", "shell": "1", "jdbc": "4",
    "presto": "0.234", "trino": "371", "openlookeng": "1.5.0", "elasticsearch": "7.6.2",
    "flink": "1.16.2", "pipeline": "1", "nebula": "3.0.0", "repl": "1", "doris": "1.2.6",
    "io_file": "1.0", "io_hdfs": "1.0",
}


class GatewayHandler(FilesystemRoutes):
    """Every request: faults, auth, then the route table."""

    # -- dispatch --------------------------------------------------------------------------------

    async def get(self, *_: str) -> None:
        await self.dispatch()

    post = put = delete = patch = options = head = get

    async def dispatch(self) -> None:
        path = self.request.path
        if not self._admin_path(path) and self.gw.faults.active:
            fault, seconds = self.gw.faults.decide(path)
            if fault is Fault.ERROR:
                self.set_status(502)
                self.set_header("Content-Type", "text/html")
                self.finish("<html><head><title>502 Bad Gateway</title></head><body>"
                            "<center><h1>502 Bad Gateway</h1></center></body></html>")
                return
            if fault is Fault.DROP:
                self.request.connection.detach().close()
                self._finished = True
                return
            if fault is Fault.STALL:
                await asyncio.sleep(seconds)
        try:
            await self._dispatch(path)
        except ApiError as e:
            if not self._finished:
                self.reply(e.status, e.message, e.data, e.method or path, e.http)

    def _admin_path(self, path: str) -> bool:
        return path.rstrip("/").endswith(("/gateway/faults", "/gateway/expireSessions"))

    async def _dispatch(self, path: str) -> None:
        m = re.fullmatch(r"/api/rest_[a-zA-Z]+(?:/(v\d+))?(/.*)", path)
        api_path = m.group(2) if m else path
        self.api_path = api_path
        if m and api_path.startswith("/user/"):
            await self._route(api_path, user_restful=True)
            return
        self.who = self.authenticate()
        if m is None:
            raise ApiError(1, f"Cannot find a service to deal {path}, ignore it.")
        version = m.group(1)
        if version is not None and version != "v1":
            raise ApiError(1, f"The gatewayv1 not support version {version}.")
        await self._route(api_path, user_restful=False)

    async def _route(self, api_path: str, user_restful: bool) -> None:
        method = self.request.method or "GET"
        allowed: list[str] = []
        for methods, pattern, name in ROUTES:
            m = pattern.fullmatch(api_path)
            if m is None:
                continue
            if method not in methods.split(","):
                allowed.append(methods)
                continue
            result = getattr(self, name)(*[unquote(g) for g in m.groups()])
            if asyncio.iscoroutine(result):
                await result
            return
        if allowed:
            raise ApiError(1, f"Request method '{method}' not supported")
        if user_restful:
            raise ApiError(1, "unknown request URI " + api_path[len("/user/"):])
        service = api_path.strip("/").split("/", 1)[0]
        if service in ("entrance", "jobhistory", "filesystem", "gateway", "user"):
            raise ApiError(1, f"No handler found for {method} {self.request.path}", http=404)
        raise ApiError(1, f"Cannot find a service to deal {self.request.path}, ignore it.")

    # == /user ======================================================================================

    @route("POST,GET", r"/user/login")
    def login(self) -> None:
        current, _ = self.session_user()
        if current is not None:
            self.reply(0, f"{current} already logged in, please log out before signing in"
                          f"(已经登录，请先退出再进行登录)！", {"userName": current})
            return
        user = self.get_query_argument("userName", None)
        password = self.get_query_argument("password", None)
        if user is None or password is None:
            body = self.body_json() if self.request.method == "POST" else {}
            user = body.get("userName", user)
            password = body.get("password", body.get("passwdEncrypt", password))
        if user is None or not str(user).strip():
            raise ApiError(1, "Username can not be empty(用户名不能为空)！")
        if password is None or not str(password).strip():
            raise ApiError(1, "Password can not be blank(密码不能为空)！")
        name = str(user).strip().lower()
        attempt = (name, self.request.remote_ip or "")
        wait = self.gw.login_throttle.retry_after(attempt)
        if wait > 0:
            seconds = math.ceil(wait)
            raise ApiError(1, f"Too many failed logins for {name}, try again in {seconds} s"
                              f"(登录失败次数过多，请{seconds}秒后重试)！")
        known = {u.lower(): p for u, p in self.gw.users.items()}
        expected = known.get(name)
        if expected is None or not secrets.compare_digest(str(password).encode(), expected.encode()):
            self.gw.login_throttle.failed(attempt)
            raise ApiError(1, "wrong user name or password(用户名或密码错误)！")
        self.gw.login_throttle.succeeded(attempt)
        self.set_ticket(name)
        self.reply(0, "login successful(登录成功)！", {
            "userName": name, "isAdmin": False,
            "sessionTimeOut": int(self.gw.session_timeout * 1000), "enableWatermark": False,
        })

    @route("POST", r"/user/token-login")
    def token_login(self) -> None:
        who = self.authenticate()
        if who.via != "token":
            raise ApiError(-1, "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！")
        self.set_ticket(who.user)
        self.reply(0, "login successful(登录成功)！", {"userName": who.user, "isAdmin": False})

    @route("GET,POST", r"/user/logout")
    def logout(self) -> None:
        ticket = self._ticket()
        if ticket:
            self.gw.sessions.remove(ticket)
        self.clear_cookie(TICKET_COOKIE, path="/")
        self.reply(0, "Logout successful(退出登录成功)！")

    @route("GET", r"/user/userInfo")
    def user_info(self) -> None:
        who = self.authenticate()
        self.reply(0, "get user information succeed!", {"userName": who.user})

    @route("GET,POST", r"/user/heartbeat")
    def heartbeat(self) -> None:
        self.authenticate()
        self.reply(0, "Maintain heartbeat success(维系心跳成功)")

    @route("GET", r"/user/publicKey")
    def public_key(self) -> None:
        self.reply(0, "OK", {"enableLoginEncrypt": False, "enableSSL": False})

    @route("GET", r"/user/baseinfo")
    def baseinfo(self) -> None:
        self.reply(0, "OK", {"resultSetExportEnable": True, "linkisClusterName": "linkis-jupyter",
                             "engineLogOnlyAdminEnable": False})

    @route("GET,POST", r"/user/proxy")
    def proxy(self) -> None:
        proxy_user = (self.get_query_argument("proxyUser", "") or "").strip()
        code = self.get_query_argument("validationCode", None)
        if not proxy_user or not valid_user_name(proxy_user.lower()) or not self.proxy_rules.allows(code, proxy_user):
            raise ApiError(1, "Validation failed")
        self.set_ticket(proxy_user.lower())
        self.reply(0, "代理成功", {"proxyUser": proxy_user})

    # == /gateway ===================================================================================

    @route("GET", r"/gateway/heartbeat")
    def gateway_heartbeat(self) -> None:
        self.reply(0, "Gateway heartbeat ok!", {"gatewayList": [self.gw.jobs.instance], "isHealthy": True},
                   self.request.path)

    def _require_fault_endpoints(self) -> None:
        if not self.gw.fault_endpoints:
            raise ApiError(3, "The fault-injection endpoints are off on this gateway "
                              "(start it with --fault-endpoints, on loopback, for tests).")

    @route("POST", r"/gateway/faults")
    def set_faults(self) -> None:
        self._require_fault_endpoints()
        try:
            self.gw.faults.set_from_json(self.body_json())
        except (TypeError, ValueError) as e:
            raise ApiError(1, str(e)) from None
        self.ok({"active": self.gw.faults.active})

    @route("POST", r"/gateway/expireSessions")
    def expire_sessions(self) -> None:
        self._require_fault_endpoints()
        self.gw.expire_sessions()
        self.ok()

    # == /entrance: submit ============================================================================

    @route("POST", r"/entrance/submit")
    async def submit(self) -> None:
        body = self.body_json()
        if "executionContent" not in body:
            await self._submit_old(body, "/api/entrance/submit")
            return
        labels = body.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise error_code_error(20008, "params cannot be empty ,  labels is null")
        content = body.get("executionContent")
        if not isinstance(content, dict) or "code" not in content:
            raise error_code_error(20010, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        code = content.get("code")
        if not isinstance(code, str) or not code.strip():
            raise error_code_error(20007, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        engine_type = labels.get("engineType")
        if not isinstance(engine_type, str) or not engine_type.strip():
            raise error_code_error(20009, "Label params invalid You need to specify engineTypeLabel in "
                                          "labels,such as spark-2.4.3")
        run_type = content.get("runType") or labels.get("codeType")
        if not isinstance(run_type, str) or not run_type.strip():
            raise error_code_error(20009, "Label params invalid You need to specify runType in execution "
                                          "content, such as sql")
        user_creator = labels.get("userCreator")
        creator = "IDE"
        if isinstance(user_creator, str) and "-" in user_creator:
            creator = user_creator.rsplit("-", 1)[1] or "IDE"
        labels = dict(labels, codeType=run_type, userCreator=f"{self.user}-{creator}")
        engine = engine_type.strip().split("-", 1)[0]
        await self._start_job(
            code=code, run_type=run_type, engine_type=engine_type.strip(), creator=creator,
            params=body.get("params"), source=body.get("source"), labels=labels,
            execute_application_name=engine, request_application_name=creator,
            method="/api/entrance/submit",
        )

    @route("POST", r"/entrance/execute")
    async def execute(self) -> None:
        body = self.body_json()
        # The 0.x spec wraps the request as {"method": ..., "data": {...}}.
        if "executionCode" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        if "executionContent" in body:
            raise error_code_error(20010, "Only code with runtype supported (仅支持运行类型的代码)")
        await self._submit_old(body, "/api/entrance/execute")

    async def _submit_old(self, body: dict[str, Any], method: str) -> None:
        creator = body.get("requestApplicationName") or "IDE"
        if not isinstance(creator, str):
            creator = "IDE"
        code = body.get("executionCode")
        source = body.get("source") if isinstance(body.get("source"), dict) else {}
        if not isinstance(code, str) or not code.strip():
            if creator == "IDE" and not source.get("scriptPath"):
                raise error_code_error(20007, "The param executionCode and scriptPath cannot be empty at "
                                              "the same time(参数 executionCode 和 scriptPath 不能同时为空)")
            raise error_code_error(20007, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        app = body.get("executeApplicationName")
        if not isinstance(app, str) or not app.strip():
            raise error_code_error(20009, "Label params invalid You need to specify executeApplicationName, "
                                          "such as spark")
        app = app.strip().lower()
        run_type = body.get("runType") or "sql"
        if not isinstance(run_type, str):
            raise error_code_error(20009, "Label params invalid runType must be a string, such as sql")
        engine_type = f"{app}-{DEFAULT_VERSIONS.get(app, '1')}"
        extra = body.get("labels") if isinstance(body.get("labels"), dict) else {}
        labels = dict(extra, engineType=engine_type, userCreator=f"{self.user}-{creator}", codeType=run_type)
        await self._start_job(
            code=code, run_type=run_type, engine_type=engine_type, creator=creator,
            params=body.get("params"), source=source, labels=labels,
            execute_application_name=app, request_application_name=creator, method=method,
        )

    async def _start_job(self, *, code: str, run_type: str, engine_type: str, creator: str,
                         params: Any, source: Any, labels: dict[str, Any],
                         execute_application_name: str, request_application_name: str,
                         method: str) -> None:
        assert self.who is not None
        params = params if isinstance(params, dict) else {}
        variable = params.get("variable") if isinstance(params.get("variable"), dict) else {}
        values = {str(k): "" if v is None else str(v) for k, v in variable.items()}
        for what, text in (("executionCode", code), *((f"variable {k}", f"{k}={v}") for k, v in values.items())):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as e:
                # A JSON \ud800 escape decodes to a lone surrogate, which no file or database takes.
                raise error_code_error(20007, f"The param {what} is not valid Unicode text: a lone surrogate "
                                              f"at position {e.start}") from None
        # Linkis' entrance adds who submits and who runs the job (VariableUtils' user variables).
        values.setdefault("user", self.who.user)
        values.setdefault("execute_user", self.who.user)
        values.setdefault("submit_user", self.who.login_user)
        try:
            code = variables.substitute(code, values, run_type=run_type.strip().lower())
        except Exception as e:  # a bad variable is the user's mistake, answered in one line
            raise ApiError(1, f"error code(错误码): 20050, error message(错误信息): Failed to substitute "
                              f"variables: {e}.") from None
        source = dict(source) if isinstance(source, dict) else {}
        source["requestIP"] = self.request.remote_ip
        if not valid_user_name(creator):
            raise error_code_error(20009, f"Label params invalid the creator {creator!r} is not a valid name")
        job = await self.blocking(lambda: self.gw.jobs.submit(
            submit_user=self.who.login_user, execute_user=self.who.user, creator=creator,
            engine_type=engine_type, run_type=run_type.strip().lower(), code=code, params=params,
            source=source, labels=labels, execute_application_name=execute_application_name,
            request_application_name=request_application_name,
        ))
        self.reply(0, "OK", {"execID": job.exec_id, "taskID": job.task_id}, method)

    # == /entrance/{id}/... ==========================================================================

    def _by_task_id(self, raw_id: str) -> tuple[str, str | None]:
        """Linkis 1.5-1.8 gateways take a numeric taskID in the execID slot: (status, execID of
        the job while the entrance holds it)."""
        row = self.gw.storage.get_task(int(raw_id))
        if row is None or not self._visible_row(row):
            raise ApiError(1, f"taskId {raw_id} is not exists.")
        live = self.gw.jobs.get_by_task(row["task_id"])
        if live is not None:
            return self.gw.jobs.snapshot(live)[0].value, live.exec_id
        return row["status"], None

    def _lookup(self, exec_id: str) -> tuple[EntranceJob | None, dict[str, Any] | None]:
        """(job in the entrance, or None; else its history row when the entrance once held it)."""
        job = self.gw.jobs.get(exec_id)
        if job is not None:
            return (job, None) if job.visible_to(self.user) else (None, None)
        parsed = parse_exec_id(exec_id)
        if parsed is None:
            raise ApiError(1, f"error code(错误码): 20001, error message(错误信息): The execID {exec_id} "
                              f"is not a valid execID.")
        index = task_index(parsed[2])
        row = self.gw.storage.get_task(index) if index is not None else None
        if row is not None and row["exec_id"] == exec_id and self._visible_row(row):
            return None, row
        return None, None

    def _visible_row(self, row: dict[str, Any]) -> bool:
        return self.user in (row["submit_user"], row["execute_user"])

    def _task_row(self, raw: str | None) -> dict[str, Any] | None:
        if raw is None or not raw.strip():
            return None
        try:
            task_id = int(raw)
        except ValueError:
            raise ApiError(1, f"Failed to convert value of type 'java.lang.String' to required type "
                              f"'java.lang.Long'; taskID: {raw!r} is not a number") from None
        return self.gw.storage.get_task(task_id)

    @route("GET", r"/entrance/([^/]+)/status")
    def status(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/status"
        if exec_id.isdigit():
            status, _live = self._by_task_id(exec_id)
            self.ok({"status": status, "execID": "", "taskID": exec_id}, method=method)
            return
        job, row = self._lookup(exec_id)
        if job is not None:
            self.ok({"status": job.state.value, "execID": exec_id}, method=method)
            return
        if row is None:
            raise ApiError(1, MSG_STATUS_EMPTY, method=None)
        task = self._task_row(self.get_query_argument("taskID", None))
        if task is None:
            raise ApiError(1, MSG_STATUS_GONE)
        status = task["status"] if self._visible_row(task) else None
        self.ok({"status": status, "execID": exec_id}, method=method)

    def _progress_data(self, exec_id: str, method: str) -> dict[str, Any]:
        job, _row = self._lookup(exec_id)
        if job is None:
            raise ApiError(1, MSG_PROGRESS_EMPTY)
        state, progress, info = self.gw.jobs.snapshot(job)
        if info is None and not state.is_terminal:
            raise ApiError(1, MSG_NO_PROGRESS, method=method)
        entries = [
            {"id": str(i.get("id", "")), "succeedTasks": int(i.get("succeedTasks", 0)),
             "failedTasks": int(i.get("failedTasks", 0)), "runningTasks": int(i.get("runningTasks", 0)),
             "totalTasks": int(i.get("totalTasks", 0))}
            for i in info or [] if int(i.get("totalTasks", 0)) > 0
        ]
        return {"progress": abs(progress), "execID": exec_id, "progressInfo": entries}

    @route("GET", r"/entrance/([^/]+)/progress")
    def progress(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/progress"
        self.ok(self._progress_or_task(exec_id, method), method=method)

    @route("GET", r"/entrance/([^/]+)/progressWithResource")
    def progress_with_resource(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/progressWithResource"
        data = self._progress_or_task(exec_id, method)
        data["yarnResource"] = None
        self.ok(data, method=method)

    def _progress_or_task(self, exec_id: str, method: str) -> dict[str, Any]:
        if not exec_id.isdigit():
            return self._progress_data(exec_id, method)
        status, live = self._by_task_id(exec_id)
        if JobState(status).is_terminal:
            # As Linkis' taskID path: a string, and no stages.
            return {"progress": "1.0", "execID": "", "taskID": exec_id, "progressInfo": []}
        if live is None:
            return {"progress": 0, "execID": "", "taskID": exec_id, "progressInfo": []}
        return self._progress_data(live, method)

    @route("GET", r"/entrance/([^/]+)/log")
    def job_log(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/log"
        if exec_id.isdigit():
            status, live = self._by_task_id(exec_id)
            if JobState(status).is_terminal or live is None:
                raise ApiError(1, MSG_LOG_GONE, method=method)
            exec_id = live
        from_line = max(self.int_arg("fromLine", 0) or 0, 0)
        size = self.int_arg("size", 100)
        distinct = self.get_query_argument("distinctLevel", "true") != "false"
        job, row = self._lookup(exec_id)
        if job is None:
            if row is not None:
                raise ApiError(1, MSG_LOG_GONE, method=method)
            raise ApiError(1, MSG_LOG_EMPTY.format(id=exec_id), method=method)
        # Linkis caps a negative size at 10000 lines; here it means every line.
        lines = self.gw.jobs.log_lines(job, from_line, None if size is None or size < 0 else size)
        payload: Any = split_log(lines) if distinct else "\n".join(lines)
        self.ok({"log": payload, "execID": exec_id, "fromLine": from_line + len(lines)}, method=method)

    @route("GET,POST", r"/entrance/([^/]+)/kill")
    async def kill(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/kill"
        if exec_id.isdigit():
            status, live = self._by_task_id(exec_id)
            if JobState(status).is_terminal or live is None:
                raise ApiError(1, "The job already completed. Do not support kill.(任务已经结束，不支持kill)",
                               method=method)
            exec_id = live
        raw_task = self.get_query_argument("taskID", None)
        job = self.gw.jobs.get(exec_id)
        if job is not None:
            if not job.visible_to(self.user):
                raise ApiError(1, MSG_KILL_DENIED.format(user=job.execute_user))
            await self.blocking(self.gw.jobs.kill, job)
            self.ok({"execID": exec_id}, MSG_KILLED, method)
            return
        _job, row = self._lookup(exec_id)
        task = self._task_row(raw_task)
        if row is not None and (task is None or task["task_id"] <= 0):
            raise ApiError(1, MSG_KILL_GONE)
        if task is not None:
            if not self._visible_row(task):
                raise ApiError(1, MSG_KILL_DENIED.format(user=task["execute_user"]))
            await self.blocking(self.gw.jobs.force_kill, task["task_id"])
        self.ok({}, MSG_FORCE_KILL, method)

    @route("POST", r"/entrance/([^/]+)/killJobs")
    async def kill_jobs(self, _id: str) -> None:
        body = self.body_json()
        ids, task_ids = body.get("idList"), body.get("taskIDList")
        if not isinstance(ids, list) or not isinstance(task_ids, list):
            raise ApiError(1, "Request parameter error, please use array(请求参数错误，请使用数组)")
        if len(ids) != len(task_ids):
            raise ApiError(1, "The length of the ID list does not match the length of the TASKID list"
                              "(id列表的长度与taskId列表的长度不一致)")
        messages = []
        for exec_id, raw_task in zip(ids, task_ids):
            exec_id = str(exec_id)
            job = self.gw.jobs.get(exec_id)
            if job is not None:
                if not job.visible_to(self.user):
                    raise ApiError(1, MSG_KILL_DENIED.format(user=job.execute_user))
                await self.blocking(self.gw.jobs.kill, job)
                messages.append({"method": f"/api/entrance/{exec_id}/kill", "status": 0,
                                 "message": MSG_KILLED, "data": {"execID": exec_id}})
                continue
            task = self._task_row(str(raw_task))
            if task is not None:
                if not self._visible_row(task):
                    raise ApiError(1, MSG_KILL_DENIED.format(user=task["execute_user"]))
                await self.blocking(self.gw.jobs.force_kill, task["task_id"])
            messages.append({"method": f"/api/entrance/{exec_id}/killJobs", "status": 0,
                             "message": MSG_FORCE_KILL, "data": {}})
        self.ok({"messages": messages}, "success")

    @route("GET", r"/entrance/([^/]+)/pause")
    def pause(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/pause"
        job, _row = self._lookup(exec_id)
        if job is None:
            raise ApiError(1, f"can not find the job of exexID :{exec_id} can not pause (不能找到execID: "
                              f"{exec_id}对应的job，不能进行pause)", method=method)
        self.ok({"execID": exec_id}, "success to pause job (成功pause了job)", method)

    # == /jobhistory ==================================================================================

    def task_vo(self, row: dict[str, Any], brief: bool = False) -> dict[str, Any]:
        status, progress = row["status"], row["progress"]
        live = self.gw.jobs.get_by_task(row["task_id"])
        if live is not None:
            state, value, _info = self.gw.jobs.snapshot(live)
            status, progress = state.value, "1.0" if state.is_terminal else str(round(value, 4))
        err_code, err_desc = row["err_code"], row["err_desc"]
        if status == JobState.RUNNING.value:
            err_code = err_desc = None
        end = row["end_time"]
        created = row["created_time"]
        labels = json.loads(row["labels_json"] or "{}")
        vo: dict[str, Any] = {
            "taskID": row["task_id"],
            "instance": row["instance"],
            "execId": self._short_id(row) or None,
            "umUser": row["submit_user"],
            "submitUser": row["submit_user"],
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
            "sourceTailor": (row["execution_code"] or "")[:100],
            "engineStartTime": row["engine_start_time"],
            "labels": [f"{k}:{v}" for k, v in labels.items()],
            "canRetry": False,
            "observeInfo": None,
            "isReuse": None,
            "requestStartTime": created,
            "requestEndTime": end,
            "requestSpendTime": (end - created) if end else None,
            "metrics": "{}",
            "engineLogPath": None,
            "ecmInstance": None,
            "ticketId": None,
            "subJobs": None,
        }
        return vo

    @staticmethod
    def _short_id(row: dict[str, Any]) -> str:
        parsed = parse_exec_id(row["exec_id"] or "")
        return parsed[2] if parsed else ""

    @route("GET", r"/jobhistory/([^/]+)/get")
    def history_get(self, raw_id: str) -> None:
        try:
            task_id = int(raw_id)
        except ValueError:
            raise ApiError(1, f"Failed to convert value of type 'java.lang.String' to required type "
                              f"'java.lang.Long'; For input string: \"{raw_id}\"") from None
        row = self.gw.storage.get_task(task_id)
        if row is None or not self._visible_row(row):
            raise ApiError(1, MSG_HISTORY_EMPTY, method=None)
        brief = self.get_query_argument("brief", "false").lower() == "true"
        self.ok({"task": self.task_vo(row, brief)})

    @route("GET", r"/jobhistory/list")
    def history_list(self) -> None:
        page_now = max(self.int_arg("pageNow", 1) or 1, 1)
        page_size = min(max(self.int_arg("pageSize", 20) or 20, 1), 1000)
        status = self.get_query_argument("status", None)
        task_id = self.get_query_argument("taskID", None)
        try:
            task = int(task_id) if task_id else None
            start = int(self.get_query_argument("startDate", "") or 0) or None
            end = int(self.get_query_argument("endDate", "") or 0) or None
        except ValueError:
            raise ApiError(1, "taskID, startDate and endDate must be numbers") from None
        rows, total = self.gw.storage.list_tasks(
            self.user,
            status=[s.strip() for s in status.split(",") if s.strip()] if status else None,
            task_id=task, start_ms=start, end_ms=end,
            creator=self.get_query_argument("creator", None) or None,
            engine=self.get_query_argument("executeApplicationName", None) or None,
            run_type=self.get_query_argument("runType", None) or None,
            execute_user=self.get_query_argument("proxyUser", None) or None,
            offset=(page_now - 1) * page_size, limit=page_size,
        )
        self.ok({"tasks": [self.task_vo(r) for r in rows], "totalPage": total})

def _log_request(handler: tornado.web.RequestHandler) -> None:
    # The path only: a query string may carry a validation code.
    status = handler.get_status()
    took = 1000.0 * handler.request.request_time()
    logging.getLogger("tornado.access").info(
        "%d %s %s %.1fms", status, handler.request.method, handler.request.path, took)


def make_app(gateway: EmbeddedGateway) -> tornado.web.Application:
    args = {"gateway": gateway, "proxy_rules": ProxyRules(gateway.proxy_config)}
    return tornado.web.Application(
        [(r"/.*", GatewayHandler, args)],
        log_function=_log_request,
        compress_response=False,
    )
