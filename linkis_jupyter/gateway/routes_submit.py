"""/entrance/submit and /entrance/execute: a job from its request body to the job manager.

The body is read as Linkis reads it (CommonEntranceParser: `parseToTask` for the 1.x form with
`executionContent` and labels, `parseToOldTask` for the 0.x form with `executeApplicationName`),
then checked as LabelCheckInterceptor checks labels. A refused job stays in job history as
Failed, as EntranceServer stores it before its interceptors run. Messages are Linkis' own
(apache/linkis: EntranceRestfulApi, CommonEntranceParser, LabelCheckInterceptor,
EntranceExecutionGatewayParser).
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from . import sql_limit, variables
from .installed import parse_engine_label
from .jobs import JobState
from .profile import TooManyServices, route_0x_entrance
from .storage import valid_user_name
from .web import ApiError, error_code_error

if TYPE_CHECKING:
    from .web import GatewayHandler

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


async def submit(req: GatewayHandler) -> None:
    if not req.gw.profile.unified_entrance:
        # 0.x: no `entrance` service; the gateway finds one entrance per engine instead.
        _route_0x(req, "entrance")
    body = req.body_json()
    execute_user = _execute_user(req, body)
    if "executionContent" in body:
        await _submit_new(req, body, execute_user, "/api/entrance/submit")
    else:
        await _submit_old(req, body, execute_user, "/api/entrance/submit")


async def execute(req: GatewayHandler) -> None:
    body = req.body_json()
    # The 0.x spec wraps the request as {"method": ..., "data": {...}}.
    if "executionCode" not in body and isinstance(body.get("data"), dict):
        body = body["data"]
    # EntranceRestfulApi.execute: the operation user runs it, whatever the body says.
    if "executionContent" in body and req.gw.profile.unified_entrance:
        await _submit_new(req, body, req.user, "/api/entrance/execute")
    else:
        await _submit_old(req, body, req.user, "/api/entrance/execute")


def _execute_user(req: GatewayHandler, body: dict[str, Any]) -> str:
    """EntranceRestfulApi.submit: the body's executeUser counts only with an admin token."""
    requested = body.get("executeUser")
    assert req.who is not None
    if not req.who.admin_token or requested is None or not str(requested).strip():
        return req.user
    user = str(requested)
    if not valid_user_name(user):
        raise error_code_error(20009, f"Label params invalid executeUser {user!r} is not a valid user name")
    return user


def _route_0x(req: GatewayHandler, service_id: str) -> str:
    """The 0.11.0 gateway's choice of entrance for `service_id` (gateway/profile.py); its
    routing errors are status 1 with HTTP 200 (DefaultGatewayRouter writes no status)."""
    entrances = [f"{name}Entrance" for name in req.gw.installed_engines.engine_names()]
    kind = req.gw.profile.gateway_service_kind
    # Linkis also puts the request body in data.data; it can hold an engine's password in its
    # startup configuration, so it is left out here.
    try:
        entrance = route_0x_entrance(service_id, entrances)
    except TooManyServices as e:
        text = req.exception_text(11010, str(e), kind)
        raise ApiError(1, f"TooManyServiceException: {text}", method=req.request.path, http=200) from None
    if entrance is None:
        # No instance: the gateway waits for service discovery, then reports the root cause of
        # its NoApplicationExistsException, the wait's TimeoutException.
        raise ApiError(1, "TimeoutException: ", method=req.request.path, http=200)
    return entrance[: -len("Entrance")]


async def _submit_new(req: GatewayHandler, body: dict[str, Any], execute_user: str,
                      method: str) -> None:
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
        spark = req.gw.installed_engines.default_version("spark")
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
    await _start_job(req, code=code, run_type=run_type, labels=labels, params=body.get("params"),
                          source=body.get("source"), execute_user=execute_user, method=method)


async def _submit_old(req: GatewayHandler, body: dict[str, Any], execute_user: str,
                      method: str) -> None:
    """CommonEntranceParser.parseToOldTask: the server picks the engine version."""
    app = body.get("executeApplicationName")
    if not req.gw.profile.unified_entrance:
        if not isinstance(app, str) or not app.strip():
            # EntranceExecutionGatewayParser, before any entrance sees the request.
            raise ApiError(1, f"requestUri {req.request.path} need request parameter executeApplicationName",
                           method=req.request.path, http=200)
        app = _route_0x(req, app)
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
    version = dict(req.gw.profile.default_versions).get(app) or req.gw.installed_engines.default_version(app)
    extra = body.get("labels") if isinstance(body.get("labels"), dict) else {}
    labels = dict(extra, engineType=f"{app}-{version}", userCreator=f"{execute_user}-{creator}",
                  codeType=run_type)
    await _start_job(req, code=code, run_type=run_type, labels=labels, params=body.get("params"),
                          source=source, execute_user=execute_user, method=method)


def _label_check(req: GatewayHandler, engine: str, user_creator: tuple[str, str] | None,
                 execute_user: str) -> ApiError | None:
    """LabelCheckInterceptor: an engine type, and a userCreator label naming the execute user."""
    assert req.who is not None
    if not engine.strip():
        return error_code_error(50079, MSG_NO_ENGINE_LABEL)
    if user_creator is None or not user_creator[0].strip():
        return error_code_error(50079, MSG_NO_USER_CREATOR)
    if user_creator[0].lower() != execute_user.lower():
        return error_code_error(50080, MSG_USER_MISMATCH.format(
            submit=req.who.login_user, execute=execute_user, label=user_creator[0]))
    return None


async def _start_job(req: GatewayHandler, *, code: str, run_type: str, labels: dict[str, Any],
                     params: Any, source: Any, execute_user: str, method: str) -> None:
    assert req.who is not None
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
    source["requestIP"] = req.request.remote_ip
    raw_engine = str(labels.get("engineType") or "").strip()
    engine, version = parse_engine_label(raw_engine) if raw_engine else ("", "")
    engine_type = f"{engine}-{version}" if engine else raw_engine
    user_creator = split_user_creator(labels.get("userCreator"))
    creator = user_creator[1] if user_creator else None
    job = dict(
        submit_user=req.who.login_user, execute_user=execute_user, creator=creator,
        engine_type=engine_type, run_type=run_type.strip().lower(), params=params, source=source,
        labels=labels, execute_application_name=engine, request_application_name=creator,
    )
    # EntranceServer.execute stores the job before its interceptors run; one that refuses it
    # leaves it Failed in job history with that error (dealInitedJobRequest).
    refused = _label_check(req, engine, user_creator, execute_user)
    if refused is not None:
        await _store_refused(req, job, code, refused)
        raise refused
    assert creator is not None
    if not valid_user_name(creator):
        raise error_code_error(20009, f"Label params invalid the creator {creator!r} is not a valid name")
    # Linkis' entrance adds who submits and who runs the job (VariableUtils' user variables).
    values.setdefault("user", execute_user)
    values.setdefault("execute_user", execute_user)
    values.setdefault("submit_user", req.who.login_user)
    try:
        code = variables.substitute(code, values, run_type=run_type.strip().lower())
    except Exception as e:  # a bad variable is the user's mistake, answered in one line
        refused = ApiError(1, f"error code(错误码): 20050, error message(错误信息): Failed to substitute "
                              f"variables: {e}.")
        await _store_refused(req, job, code, refused, err_code=20050, err_desc=f"Failed to substitute variables: {e}")
        raise refused from None
    # SQLLimitEntranceInterceptor comes after VarSubstitutionInterceptor (release-1.8.0
    # EntranceSpringConfiguration.entranceInterceptors), so it limits the substituted code; job
    # history then holds the limited code, as the entrance's update of the record writes it.
    try:
        limited = sql_limit.intercept(code, creator=creator, run_type=job["run_type"],
                                      creators=req.gw.sql_limit_creators, limit=req.gw.sql_limit,
                                      release=req.gw.profile.sql_limit_release)
    except sql_limit.SqlLimitError as e:
        refused = error_code_error(e.code, e.desc)
        await _store_refused(req, job, code, refused)
        raise refused from None
    submitted = await req.blocking(lambda: req.gw.jobs.submit(code=limited.code, intercepted=limited.lines, **job))
    req.reply(0, "OK", {"execID": submitted.exec_id, "taskID": submitted.task_id}, method)


async def _store_refused(req: GatewayHandler, job: dict[str, Any], code: str, error: ApiError,
                         err_code: int | None = None, err_desc: str | None = None) -> None:
    detail = error.data.get("errorMsg", {})
    now = int(time.time() * 1000)
    row = dict(
        submit_user=job["submit_user"], execute_user=job["execute_user"], creator=job["creator"],
        engine_type=job["engine_type"], run_type=job["run_type"], execution_code=code,
        execute_application_name=job["execute_application_name"],
        request_application_name=job["request_application_name"],
        status=JobState.FAILED.value, progress="1.0", instance=req.gw.jobs.instance,
        params_json=json.dumps(job["params"]), source_json=json.dumps(job["source"]),
        labels_json=json.dumps(job["labels"]), created_time=now, updated_time=now, end_time=now,
        err_code=err_code or detail.get("errCode"), err_desc=err_desc or detail.get("desc"),
    )
    await req.blocking(lambda: req.gw.storage.insert_task(**row))
