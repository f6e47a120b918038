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
from .faults import REFUSE_MESSAGE, Fault
from .files import FilesystemRoutes
from .entrance_log import CacheIndexError
from .jobs import EntranceJob, JobState, join_log, parse_exec_id, split_log, task_index
from .storage import valid_user_name
from .installed import parse_engine_label
from .profile import TooManyServices, route_0x_entrance
from .web import ROUTES, ApiError, ProxyRules, SpringError, error_code_error, route

if TYPE_CHECKING:
    from .server import EmbeddedGateway

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

# SSOUtils' NonLoginException / LoginExpireException texts (errCode 11002), as /user/* reports them.
NO_LOGIN = ("NonLoginException", "You are not logged in, please login first(您尚未登录，请先登录!)")
UNKNOWN_TICKET = ("LoginExpireException", "You are not logged in, please login first!(您尚未登录，请先登录!)")
EXPIRED_TICKET = ("LoginExpireException", "Login has expired, please log in again!(登录已过期，请重新登录！)")
# LabelCheckInterceptor (50079, 50080); EntranceConfiguration DEFAULT_REQUEST_APPLICATION_NAME.
MSG_NO_ENGINE_LABEL = "engineTypeLabel must be need"
MSG_NO_USER_CREATOR = "UserCreatorLabel must be need"
MSG_USER_MISMATCH = ("SubmitUser : {submit} must be the same as ExecuteUser : {execute} , "
                     "and user : {label} in userCreatorLabel.")
DEFAULT_CREATOR = "IDE"


def split_user_creator(value: Any) -> tuple[str, str] | None:
    """(user, creator) of a `<user>-<creator>` label value, or None when UserCreatorLabel gets no
    value: it must split on `-` into exactly two parts (SerializableLabel.setStringValue; Java's
    split drops trailing empty parts), so a user name with `-` cannot submit."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = value.split("-")
    while parts and not parts[-1]:
        parts.pop()
    return (parts[0], parts[1]) if len(parts) == 2 else None


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


MAX_HISTORY_PAGE = 100000

# Services behind the gateway: linkis-cg-entrance and linkis-ps-publicservice.
BACKEND_SERVICES = ("entrance", "jobhistory", "filesystem")


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
            if fault is Fault.REFUSE:
                self.reply(1, REFUSE_MESSAGE, {}, "/api" + path.split("/v1", 1)[-1])
                return
        try:
            await self._dispatch(path)
        except ApiError as e:
            if not self._finished:
                self.reply(e.status, e.message, e.data, e.method or path, e.http)
        except SpringError as e:
            if not self._finished:
                self.set_status(e.status)
                if e.allow:
                    self.set_header("Allow", e.allow)
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(e.body(path)))

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
            # UserRestful.doUserRequest goes by the path alone, whatever the method.
            if method not in methods.split(",") and not user_restful:
                allowed.append(methods)
                continue
            result = getattr(self, name)(*[unquote(g) for g in m.groups()])
            if asyncio.iscoroutine(result):
                await result
            return
        if user_restful:
            raise ApiError(1, "unknown request URI " + api_path[len("/user/"):])
        service = api_path.strip("/").split("/", 1)[0]
        if service == "gateway":
            # The gateway's own paths: answered by the gateway, never by a Spring backend.
            if allowed:
                raise ApiError(1, f"Request method '{method}' not supported")
            raise ApiError(1, f"Cannot find a service to deal {self.request.path}, ignore it.")
        if service in BACKEND_SERVICES:
            # The gateway forwards these; the backend's Spring answers what it has no mapping for.
            if allowed:
                raise SpringError(405, allow=", ".join(dict.fromkeys(",".join(allowed).split(","))))
            raise SpringError(404)
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
        # The one /user/ endpoint that reads the token headers (UserRestful: TokenAuthentication
        # .tokenAuth(gatewayContext, login = true)).
        if self.request.method != "POST":
            raise ApiError(1, "Only support method POST")
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
        self.clear_cookie(self.ticket_cookie, path="/")
        self.reply(0, "Logout successful(退出登录成功)！")

    def _cookie_user(self) -> tuple[str | None, tuple[str, str]]:
        """(user, why not): /user/* knows the session cookie only, never token headers
        (SecurityFilter hands /user/ to UserRestful first; GatewaySSOUtils.getLoginUsername)."""
        ticket = self._ticket()
        if not ticket:
            return None, NO_LOGIN
        user, expired = self.gw.sessions.lookup(ticket)
        return user, EXPIRED_TICKET if expired else UNKNOWN_TICKET

    def _no_login_text(self, why: tuple[str, str]) -> str:
        return self.exception_text(11002, why[1], self.gw.profile.gateway_service_kind)

    @route("GET", r"/user/userInfo")
    def user_info(self) -> None:
        user, why = self._cookie_user()
        if user is None:
            # The exception escapes UserRestful; SecurityFilter answers Message.error with it.
            text = self._no_login_text(why)
            if self.gw.profile.user_error_prefix:
                text = f"login failed! reason: {why[0]}: {text}"
            raise ApiError(1, text, method=self.request.path)
        self.reply(0, "get user information succeed!", {"userName": user})

    @route("GET,POST", r"/user/heartbeat")
    def heartbeat(self) -> None:
        user, why = self._cookie_user()
        if user is None:
            raise ApiError(-1, self._no_login_text(why))
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
        if not self.gw.profile.unified_entrance:
            # 0.x: no `entrance` service; the gateway finds one entrance per engine instead.
            self._route_0x("entrance")
        body = self.body_json()
        execute_user = self._execute_user(body)
        if "executionContent" in body:
            await self._submit_new(body, execute_user, "/api/entrance/submit")
        else:
            await self._submit_old(body, execute_user, "/api/entrance/submit")

    @route("POST", r"/entrance/execute")
    async def execute(self) -> None:
        body = self.body_json()
        # The 0.x spec wraps the request as {"method": ..., "data": {...}}.
        if "executionCode" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        # EntranceRestfulApi.execute: the operation user runs it, whatever the body says.
        if "executionContent" in body and self.gw.profile.unified_entrance:
            await self._submit_new(body, self.user, "/api/entrance/execute")
        else:
            await self._submit_old(body, self.user, "/api/entrance/execute")

    def _execute_user(self, body: dict[str, Any]) -> str:
        """EntranceRestfulApi.submit: the body's executeUser counts only with an admin token."""
        requested = body.get("executeUser")
        assert self.who is not None
        if not self.who.admin_token or requested is None or not str(requested).strip():
            return self.user
        user = str(requested)
        if not valid_user_name(user):
            raise error_code_error(20009, f"Label params invalid executeUser {user!r} is not a valid user name")
        return user

    def _route_0x(self, service_id: str) -> str:
        """The 0.11.0 gateway's choice of entrance for `service_id` (gateway/profile.py); its
        routing errors are status 1 with HTTP 200 (DefaultGatewayRouter writes no status)."""
        entrances = [f"{name}Entrance" for name in self.gw.installed_engines.engine_names()]
        kind = self.gw.profile.gateway_service_kind
        # Linkis also puts the request body in data.data; it can hold an engine's password in its
        # startup configuration, so it is left out here.
        try:
            entrance = route_0x_entrance(service_id, entrances)
        except TooManyServices as e:
            text = self.exception_text(11010, str(e), kind)
            raise ApiError(1, f"TooManyServiceException: {text}", method=self.request.path, http=200) from None
        if entrance is None:
            # No instance: the gateway waits for service discovery, then reports the root cause of
            # its NoApplicationExistsException, the wait's TimeoutException.
            raise ApiError(1, "TimeoutException: ", method=self.request.path, http=200)
        return entrance[: -len("Entrance")]

    async def _submit_new(self, body: dict[str, Any], execute_user: str, method: str) -> None:
        """CommonEntranceParser.parseToTask."""
        labels = body.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise error_code_error(20008, "params cannot be empty ,  labels is null")
        content = body.get("executionContent")
        if not isinstance(content, dict) or "code" not in content:
            raise error_code_error(20010, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        code = content.get("code")
        if not isinstance(code, str) or not code.strip():
            raise error_code_error(20007, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        if labels.get("engineType") is None:
            # Built from the configured spark version (LabelCommonConfig.SPARK_ENGINE_VERSION).
            spark = self.gw.installed_engines.default_version("spark")
            raise error_code_error(20009, "Label params invalid You need to specify engineTypeLabel in "
                                          f"labels,such as spark-{spark}")
        run_type = content.get("runType") or labels.get("codeType")
        if not isinstance(run_type, str) or not run_type.strip():
            raise error_code_error(20009, "Label params invalid You need to specify runType in execution "
                                          "content, such as sql")
        user_creator = labels.get("userCreator")
        if user_creator is None:
            user_creator = f"{execute_user}-{DEFAULT_CREATOR}"
        labels = dict(labels, codeType=run_type, userCreator=user_creator)
        await self._start_job(code=code, run_type=run_type, labels=labels, params=body.get("params"),
                              source=body.get("source"), execute_user=execute_user, method=method)

    async def _submit_old(self, body: dict[str, Any], execute_user: str, method: str) -> None:
        """CommonEntranceParser.parseToOldTask: the server picks the engine version."""
        app = body.get("executeApplicationName")
        if not self.gw.profile.unified_entrance:
            if not isinstance(app, str) or not app.strip():
                # EntranceExecutionGatewayParser, before any entrance sees the request.
                raise ApiError(1, f"requestUri {self.request.path} need request parameter executeApplicationName",
                               method=self.request.path, http=200)
            app = self._route_0x(app)
        creator = body.get("requestApplicationName") or DEFAULT_CREATOR
        if not isinstance(creator, str):
            creator = DEFAULT_CREATOR
        code = body.get("executionCode")
        source = body.get("source") if isinstance(body.get("source"), dict) else {}
        if not isinstance(code, str) or not code.strip():
            if creator == DEFAULT_CREATOR and not source.get("scriptPath"):
                raise error_code_error(20007, "The param executionCode and scriptPath cannot be empty at "
                                              "the same time(参数 executionCode 和 scriptPath 不能同时为空)")
            raise error_code_error(20007, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
        if not isinstance(app, str) or not app.strip():
            raise error_code_error(20009, "Label params invalid You need to specify executeApplicationName, "
                                          "such as spark")
        app = app.strip().lower()
        run_type = body.get("runType") or "sql"
        if not isinstance(run_type, str):
            raise error_code_error(20009, "Label params invalid runType must be a string, such as sql")
        version = dict(self.gw.profile.default_versions).get(app) or self.gw.installed_engines.default_version(app)
        extra = body.get("labels") if isinstance(body.get("labels"), dict) else {}
        labels = dict(extra, engineType=f"{app}-{version}", userCreator=f"{execute_user}-{creator}",
                      codeType=run_type)
        await self._start_job(code=code, run_type=run_type, labels=labels, params=body.get("params"),
                              source=source, execute_user=execute_user, method=method)

    def _label_check(self, engine: str, user_creator: tuple[str, str] | None,
                     execute_user: str) -> ApiError | None:
        """LabelCheckInterceptor: an engine type, and a userCreator label naming the execute user."""
        assert self.who is not None
        if not engine.strip():
            return error_code_error(50079, MSG_NO_ENGINE_LABEL)
        if user_creator is None or not user_creator[0].strip():
            return error_code_error(50079, MSG_NO_USER_CREATOR)
        if user_creator[0].lower() != execute_user.lower():
            return error_code_error(50080, MSG_USER_MISMATCH.format(
                submit=self.who.login_user, execute=execute_user, label=user_creator[0]))
        return None

    async def _start_job(self, *, code: str, run_type: str, labels: dict[str, Any], params: Any,
                         source: Any, execute_user: str, method: str) -> None:
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
        source = dict(source) if isinstance(source, dict) else {}
        source["requestIP"] = self.request.remote_ip
        raw_engine = str(labels.get("engineType") or "").strip()
        engine, version = parse_engine_label(raw_engine) if raw_engine else ("", "")
        engine_type = f"{engine}-{version}" if engine else raw_engine
        user_creator = split_user_creator(labels.get("userCreator"))
        creator = user_creator[1] if user_creator else None
        job = dict(
            submit_user=self.who.login_user, execute_user=execute_user, creator=creator,
            engine_type=engine_type, run_type=run_type.strip().lower(), params=params, source=source,
            labels=labels, execute_application_name=engine, request_application_name=creator,
        )
        # EntranceServer.execute stores the job before its interceptors run; one that refuses it
        # leaves it Failed in job history with that error (dealInitedJobRequest).
        refused = self._label_check(engine, user_creator, execute_user)
        if refused is not None:
            await self._store_refused(job, code, refused)
            raise refused
        assert creator is not None
        if not valid_user_name(creator):
            raise error_code_error(20009, f"Label params invalid the creator {creator!r} is not a valid name")
        # Linkis' entrance adds who submits and who runs the job (VariableUtils' user variables).
        values.setdefault("user", execute_user)
        values.setdefault("execute_user", execute_user)
        values.setdefault("submit_user", self.who.login_user)
        try:
            code = variables.substitute(code, values, run_type=run_type.strip().lower())
        except Exception as e:  # a bad variable is the user's mistake, answered in one line
            refused = ApiError(1, f"error code(错误码): 20050, error message(错误信息): Failed to substitute "
                                  f"variables: {e}.")
            await self._store_refused(job, code, refused, err_code=20050, err_desc=f"Failed to substitute variables: {e}")
            raise refused from None
        submitted = await self.blocking(lambda: self.gw.jobs.submit(code=code, **job))
        self.reply(0, "OK", {"execID": submitted.exec_id, "taskID": submitted.task_id}, method)

    async def _store_refused(self, job: dict[str, Any], code: str, error: ApiError,
                             err_code: int | None = None, err_desc: str | None = None) -> None:
        detail = error.data.get("errorMsg", {})
        now = int(time.time() * 1000)
        row = dict(
            submit_user=job["submit_user"], execute_user=job["execute_user"], creator=job["creator"],
            engine_type=job["engine_type"], run_type=job["run_type"], execution_code=code,
            execute_application_name=job["execute_application_name"],
            request_application_name=job["request_application_name"],
            status=JobState.FAILED.value, progress="1.0", instance=self.gw.jobs.instance,
            params_json=json.dumps(job["params"]), source_json=json.dumps(job["source"]),
            labels_json=json.dumps(job["labels"]), created_time=now, updated_time=now, end_time=now,
            err_code=err_code or detail.get("errCode"), err_desc=err_desc or detail.get("desc"),
        )
        await self.blocking(lambda: self.gw.storage.insert_task(**row))

    # == /entrance/{id}/... ==========================================================================

    def _task_id_path(self, raw_id: str) -> bool:
        """Whether `raw_id` is a job-history taskID in the execID slot (1.5.0-1.8.0 gateways)."""
        if not raw_id.isdigit():
            return False
        if self.gw.profile.taskid_in_path:
            return True
        # A 0.11.0 gateway parses every id as an execID (ZuulEntranceUtils.parseExecID) and a
        # short number overruns it; GatewayAuthorizationFilter answers the exception, HTTP 200.
        end = exec_id_overrun_0x(raw_id)
        if end is not None:
            raise ApiError(1, f"StringIndexOutOfBoundsException: String index out of range: {end}",
                           method=self.request.path, http=200)
        return False

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
        if self._task_id_path(exec_id):
            status, _live = self._by_task_id(exec_id)
            self.ok({"status": status, "execID": "", "taskID": exec_id}, method=method)
            return
        job, row = self._lookup(exec_id)
        if job is not None:
            # Only a successful status call keeps a LINKISCLI/BdpClient job's client alive.
            self.gw.jobs.touch(job)
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
        if not self._task_id_path(exec_id):
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
        if self._task_id_path(exec_id):
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
        # EntranceRestfulApi.log: a negative size reads 10000 lines; the answer's fromLine is the
        # request's plus the positions the reader covered (gateway/entrance_log.py).
        size = 100 if size is None else size if size >= 0 else 10000
        try:
            lines, covered = self.gw.jobs.read_log(job, from_line, size)
        except CacheIndexError:
            self.ok({"log": "", "execID": exec_id, "fromLine": from_line}, method=method)
            return
        payload: Any = split_log(lines) if distinct else join_log(lines)
        self.ok({"log": payload, "execID": exec_id, "fromLine": from_line + covered}, method=method)

    # GET only, in every version: a POST gets the backend's Spring 405.
    @route("GET", r"/entrance/([^/]+)/kill")
    async def kill(self, exec_id: str) -> None:
        method = f"/api/entrance/{exec_id}/kill"
        if self._task_id_path(exec_id):
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
        if not self.gw.profile.kill_jobs:
            raise SpringError(404)
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
        # The stored row only: job history lags the entrance (gateway/jobs.py).
        status, progress = row["status"], row["progress"]
        if not self.gw.profile.history_progress_as_string:
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
            "execId": self._short_id(row) or None,
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
        # QueryRestfulApi.list has no cap; this bound only keeps one request from exhausting memory.
        page_size = min(max(self.int_arg("pageSize", 20) or 20, 1), MAX_HISTORY_PAGE)
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
