"""LinkisClient: the Linkis HTTP API (0.x and 1.x) from plain Python. Raw JSON stops here.

One method per endpoint; every reply is Linkis' envelope `{method, status, message, data}` and is
decided on its `status`, never on the HTTP code alone (Linkis answers HTTP 400 with a JSON body for
ordinary errors). Wire values become the small dataclasses below; errors come from
`linkis_jupyter.errors`.

    from linkis_jupyter.client import LinkisClient
    client = LinkisClient(gateway_url="http://127.0.0.1:9001", user="alice", password="...")
    client.describe_config()          # [(name, value with secrets masked, where it came from)]
    client.list_jobs(limit=5)

Configuration (settings.py), highest first: constructor arguments or traitlets config
(`c.LinkisClient.user`, `%config LinkisClient.user = ...`), environment variables, a
linkis-cli.properties file, the embedded gateway's connection file, then defaults. HTTP, retries,
login and the one re-login are transport.py's.

Engines: a job whose engine has a version (written, or in `engine_versions`) goes to
`/entrance/submit` with that version in its `engineType` label; one without goes to
`/entrance/execute`, where the server uses its installed default (spec.py). A job runs as
`proxy_user` by one of three ways (`proxy_mode`): `executeUser` in the submit body next to an
admin token (Linkis 1.6+, linkis-cli's -proxyUser; the default with token auth), `GET /user/proxy`
after a password login (the default with password auth), or the `Proxy-User` + `Validation-Code`
headers of the Linkis HTTP document (only a gateway that implements them). `/user/*` endpoints
read only the session cookie, so a token is checked on `/jobhistory/list` (`check`).

A submit is sent again at once only when the connection could not be made at all; when its
answer is lost, job history is asked first (see `submit`), so a job is never started twice.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import quote

import requests

from .errors import (
    APIError, AuthError, ConfigError, LinkisError, MetadataUnavailableError, TransportError, ValidationError,
)
from .lostsubmit import LostSubmit
from .settings import ClientSettings
from .spec import JobSpec, endpoint_for, execute_body, submit_body
from .transport import Outage, Transport, read_timed_out
from .wire import (
    REST_PREFIX, ColumnInfo, JobState, LogChunk, Progress, ResultFile, ResultPage, StageProgress, SubmitResult,
    TableInfo, TaskInfo, _as_int, database_name,
)

__all__ = [
    "LinkisClient",
    "JobState",
    "StageProgress",
    "SubmitResult",
    "Progress",
    "LogChunk",
    "TaskInfo",
    "ResultFile",
    "ResultPage",
    "TableInfo",
    "ColumnInfo",
    "REST_PREFIX",
]


class LinkisClient(ClientSettings):
    """A connection to one Linkis gateway; safe to share between threads."""

    def __init__(self, **kwargs: Any) -> None:
        # The HTTP state comes first: loading the settings may already reset the session.
        self._transport = Transport(self)
        self._lock = threading.RLock()
        # The endpoint a versioned submit took last time (None: not tried since the connection changed).
        self._api_answer: str | None = None
        # Task ids this client submitted: a lost submit answer is never matched to one of them.
        self._submitted: deque[int] = deque(maxlen=1000)
        super().__init__(**kwargs)

    def _connection_changed(self) -> None:
        self._transport.reset()
        self._api_answer = None

    @property
    def transport(self) -> Transport:
        """The HTTP side: session, headers, retries, envelope, login."""
        return self._transport

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A request whose answer is a Linkis envelope: returns `data`."""
        return self._transport.call(method, path, **kwargs)[0]

    # ------------------------------------------------------------------ users

    def login(self) -> dict[str, Any]:
        """Log in now (password auth; also the proxy login in proxy_mode "login")."""
        self._transport.login()
        return {"userName": self.execute_user}

    def logout(self) -> None:
        """End the session on the gateway and forget the cookies."""
        self._transport.logout()
        self._api_answer = None

    def check(self) -> str:
        """Make sure the gateway takes these credentials now; returns who jobs will run as.

        A password is checked by logging in (and the proxy login, in proxy_mode login). A token
        is checked on `/jobhistory/list?pageSize=1`: Linkis' `/user/*` endpoints read only the
        session cookie and refuse token headers (SecurityFilter), so `user_info` cannot."""
        if self.auth_method == "password":
            self.login()
        else:
            self.list_jobs(limit=1)
        return self.execute_user

    def user_info(self) -> dict[str, Any]:
        """`/user/userInfo`; it needs a session (password auth): Linkis refuses token headers on `/user/*`."""
        return self._call("GET", "/user/userInfo")

    def heartbeat(self) -> bool:
        """True while the session is valid (password auth: `/user/*` ignores token headers)."""
        try:
            self._call("GET", "/user/heartbeat")
            return True
        except AuthError:
            return False

    def base_info(self) -> dict[str, Any]:
        return self._call("GET", "/user/baseinfo")

    # ------------------------------------------------------------------ entrance

    @staticmethod
    def _id_path(exec_id: str) -> str:
        # execIDs contain ':' (host:port); it is legal in a path segment, and the Java client sends
        # the id raw. Only characters outside RFC 3986 pchar are encoded, so it stays one segment.
        segment = quote(str(exec_id), safe="!$&'()*+,;=:@-._~")
        # "." and ".." would be resolved away by URL normalisation, sending the request elsewhere.
        return segment.replace(".", "%2E") if segment in (".", "..") else segment

    def engine_version(self, spec: JobSpec) -> str | None:
        """The version a job asks for: written in the spec, else `engine_versions`; None lets the
        server choose (see spec.py)."""
        return spec.engine_version or self.engine_versions.get(spec.engine_name) or None

    def submit(self, spec: JobSpec) -> SubmitResult:
        """Start a job, once: `/entrance/submit` when it has an engine version, else
        `/entrance/execute` (see spec.py); `api` can pin either.

        A failed connection is retried. When the answer to a submit is lost (the connection
        dropped, no answer in time, HTTP 502/503/504 from a proxy), the job may or may not exist:
        job history is asked for the job just sent (marked with a key in its `source`, else the
        same code, just created) and that job is followed; only when there is none is the submit
        sent once more."""
        user = self.execute_user
        if not user and self.auth_method != "none":
            raise ConfigError("no Linkis user configured: set LinkisClient.user or LINKIS_USER")
        if "-" in user:
            # UserCreatorLabel splits "<user>-<creator>" on '-' into exactly two parts.
            raise ConfigError(f"Linkis cannot run jobs as {user!r}: a user name with '-' breaks the "
                              f"userCreator label ('{user}-{spec.creator}') that every job carries")
        method = self.proxy_method
        version = self.engine_version(spec)
        api = endpoint_for(spec, version, api=self.api, proxy_method=method, execute_before=self._api_answer == "execute")
        lost = LostSubmit(spec.code, spec.creator, uuid.uuid4().hex, time.time())
        if api == "submit":
            body = submit_body(spec, version=str(version), execute_user=user,
                               body_execute_user=method == "execute_user")
            try:
                data = self._submit_call("/entrance/submit", lost.mark(body), lost)
            except (APIError, TransportError) as exc:
                if self.api != "auto" or not _unknown_endpoint(exc):
                    raise
                # A 0.x gateway: it has no /entrance/submit, and refused before running anything.
                # It has one version of each engine, which /entrance/execute runs.
                api = "execute"
            else:
                self._api_answer = "submit"
        if api == "execute":
            data = self._submit_call("/entrance/execute", lost.mark(execute_body(spec)), lost)
            if self.api == "auto" and version:
                self._api_answer = "execute"
        exec_id = data.get("execID") or data.get("execId")
        if not exec_id:
            raise APIError("the gateway accepted the job but sent no execID", status=0, path=f"/entrance/{api}", data=data)
        result = SubmitResult(str(exec_id), _as_int(data.get("taskID", data.get("taskId"))), api)
        if result.task_id is not None:
            with self._lock:
                self._submitted.append(result.task_id)
        return result

    def _submit_call(self, path: str, body: dict[str, Any], lost: LostSubmit) -> dict[str, Any]:
        attempts = 1 + self.retries
        for attempt in range(attempts):
            try:
                return self._call("POST", path, json_body=body, idempotent=False)
            except ValidationError:
                raise
            except APIError as exc:
                if _unknown_endpoint(exc):
                    raise
                # A refused submit created no running job; the refusal is about what was sent.
                message = ValidationError.label_check_message(exc.message, self.proxy_method) or exc.message
                raise ValidationError(message, status=exc.status, path=exc.path, http_status=exc.http_status,
                                      data=exc.data) from None
            except TransportError as exc:
                if not (exc.transient and exc.sent) or _unknown_endpoint(exc):
                    raise
                found = self._find_lost_submit(lost, exc)
                if found is not None:
                    return found
                if attempt + 1 == attempts:
                    raise TransportError(
                        f"{exc}; job history shows no job from it, so none was started",
                        url=exc.url, http_status=exc.http_status, transient=True, sent=False,
                    ) from None
                time.sleep(self._transport.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_lost_submit(self, lost: LostSubmit, exc: TransportError) -> dict[str, Any] | None:
        """The job a submit whose answer was lost started, from job history (lostsubmit.py)."""
        def known() -> set[int]:
            with self._lock:
                return set(self._submitted)

        return lost.find(exc, self.list_jobs, known, self.read_timeout, lambda since: Outage(self._transport, since=since))

    def status(self, exec_id: str, task_id: int | None = None) -> JobState:
        """Entrance status. With `task_id` a gateway answers from job history for a job that has
        left the entrance."""
        params = {"taskID": task_id} if task_id else None
        data = self._call("GET", f"/entrance/{self._id_path(exec_id)}/status", params=params)
        return JobState.from_wire(data.get("status"))

    def progress(self, exec_id: str) -> Progress:
        """Progress 0..1 and per-stage info; "not generated yet" (status 1) reads as 0."""
        return self._progress(exec_id, "progress")

    def progress_with_resource(self, exec_id: str) -> Progress:
        """The same, plus the YARN resources Linkis reports (`Progress.yarn_metrics`)."""
        return self._progress(exec_id, "progressWithResource")

    def _progress(self, exec_id: str, endpoint: str) -> Progress:
        try:
            data = self._call("GET", f"/entrance/{self._id_path(exec_id)}/{endpoint}")
        except ValidationError:
            raise
        except APIError as exc:
            if exc.http_status == 404:
                raise  # no such endpoint (progressWithResource before Linkis 1.1.2)
            # Linkis answers status 1 until an engine reports progress (the Java client returns 0).
            return Progress(0.0, ())
        return Progress.from_wire(data)

    def log(self, exec_id: str, from_line: int = 0, size: int = -1) -> LogChunk:
        """Entrance log from `from_line`; echo the returned `from_line` on the next call.
        size -1 means every line."""
        data = self._call(
            "GET", f"/entrance/{self._id_path(exec_id)}/log", params={"fromLine": from_line, "size": size}
        )
        return LogChunk.from_wire(data)

    def kill(self, exec_id: str | None, task_id: int | None = None) -> str:
        """GET kill (it is GET in every Linkis version). Returns the gateway's message."""
        ident = exec_id or (str(task_id) if task_id else "")
        if not ident:
            raise ConfigError("kill needs an execID or a taskID")
        params = {"taskID": task_id} if task_id else None
        _data, message = self._transport.call("GET", f"/entrance/{self._id_path(ident)}/kill", params=params)
        return message

    def kill_jobs(self, exec_ids: list[str], task_ids: list[int]) -> list[dict[str, Any]]:
        """POST /entrance/{id}/killJobs: several jobs at once; one message per job."""
        if not exec_ids or len(exec_ids) != len(task_ids):
            raise ConfigError("kill_jobs needs as many taskIDs as execIDs, and at least one")
        data = self._call(
            "POST",
            f"/entrance/{self._id_path(exec_ids[0])}/killJobs",
            json_body={"idList": list(exec_ids), "taskIDList": list(task_ids)},
            idempotent=True,
        )
        messages = data.get("messages")
        return list(messages) if isinstance(messages, list) else []

    def pause(self, exec_id: str) -> None:
        self._call("GET", f"/entrance/{self._id_path(exec_id)}/pause")

    # ------------------------------------------------------------------ job history

    def job_info(self, task_id: int) -> TaskInfo:
        data = self._call("GET", f"/jobhistory/{int(task_id)}/get")
        task = data.get("task")
        if not isinstance(task, dict):
            raise APIError(f"no task in the reply for job {task_id}", status=0, path=f"/jobhistory/{task_id}/get", data=data)
        return TaskInfo.from_wire(task)

    def list_jobs(
        self,
        limit: int = 20,
        page: int = 1,
        *,
        status: str | None = None,
        creator: str | None = None,
        engine: str | None = None,
        run_type: str | None = None,
        task_id: int | None = None,
        proxy_user: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[TaskInfo]:
        """The user's recent jobs (jobhistory/list), newest first as the gateway orders them."""
        params: dict[str, Any] = {"pageNow": page, "pageSize": limit}
        for key, value in (
            ("status", status),
            ("creator", creator),
            ("executeApplicationName", engine),
            ("runType", run_type),
            ("taskID", task_id),
            ("proxyUser", proxy_user),
            ("startDate", int(start.timestamp() * 1000) if start else None),
            ("endDate", int(end.timestamp() * 1000) if end else None),
        ):
            if value is not None:
                params[key] = value
        data = self._call("GET", "/jobhistory/list", params=params)
        tasks = data.get("tasks") or []
        return [TaskInfo.from_wire(t) for t in tasks if isinstance(t, dict)]

    # ------------------------------------------------------------------ filesystem

    def result_files(self, result_location: str) -> list[ResultFile]:
        """The result sets in a job's result directory, in numeric order (_2 before _10), each
        numbered by the digits before `.dolphin` (`t2_12.dolphin` is 12; numbers may have gaps)."""
        data = self._call("GET", "/filesystem/getDirFileTrees", params={"path": result_location})
        return ResultFile.from_tree(data.get("dirFileTrees"))

    def open_file(
        self,
        path: str,
        page: int = 1,
        page_size: int = 5000,
        *,
        null_value: str | None = None,
        null_markers: tuple[str | None, ...] = (),
    ) -> ResultPage:
        """One page (counting from 1) of a result set. `null_markers`: texts (None for a JSON null)
        to find out about; those that no row holds come back in the page's `absent`."""
        def read(response: requests.Response) -> ResultPage:
            data, _message = self._transport.envelope(response, "GET", "/filesystem/openFile")
            return self._result_page(data, response, page, page_size, null_markers)

        params = self._open_file_params(path, page, page_size, null_value)
        return self._transport.request("GET", "/filesystem/openFile", read, params=params)

    @staticmethod
    def _open_file_params(path: str, page: int, page_size: int, null_value: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"path": path, "page": page, "pageSize": page_size, "charset": "utf-8"}
        if null_value:
            params["nullValue"] = null_value
        return params

    def open_file_request(self, path: str, page: int, page_size: int, *, null_value: str | None = None) -> requests.Response:
        """The first half of open_file: sends the request and returns once the answer's headers
        are in, its body unread. A thread can wait here on the gateway while another converts the
        page before; open_file_answer then reads the body where it is needed.

        Sent once (only a connection never made is tried again): a page that times out or meets
        a 502/503/504 is asked for again smaller by the pager (Job results, PageSizes), since the
        page's size is the likely cause and the same size would fail again."""
        self._transport.ensure_login()
        params = self._open_file_params(path, page, page_size, null_value)
        return self._transport.send("GET", "/filesystem/openFile", params=params, stream=True, idempotent=False)

    def open_file_answer(
        self,
        response: requests.Response,
        path: str,
        page: int,
        page_size: int,
        *,
        null_value: str | None = None,
        null_markers: tuple[str | None, ...] = (),
    ) -> ResultPage:
        """The second half of open_file: the page from the response open_file_request gave."""
        again = {"null_value": null_value, "null_markers": null_markers}
        try:
            response.content  # noqa: B018 - the body is read here, where a cut can be retried
        except requests.exceptions.RequestException as exc:
            response.close()
            if read_timed_out(exc):
                # The body came too slowly: a page this big is the likely cause, so the pager
                # asks for a smaller one rather than this one again.
                raise self._transport.error(requests.exceptions.ReadTimeout(), "GET", response.url, 1) from None
            # The connection broke mid-body: the whole exchange again, with the retry policy.
            return self.open_file(path, page, page_size, **again)
        try:
            data, _message = self._transport.envelope(response, "GET", "/filesystem/openFile")
        except AuthError:
            response.close()
            if not self._transport.can_relogin():
                raise
            # The session expired meanwhile: the whole exchange again, which logs in once more.
            return self.open_file(path, page, page_size, **again)
        return self._result_page(data, response, page, page_size, null_markers)

    def _result_page(self, data: dict[str, Any], response: requests.Response, page: int, page_size: int,
                     null_markers: tuple[str | None, ...]) -> ResultPage:
        if data.get("display_prohibited") in (True, "true"):
            message = self.redact(str(data.get("en_msg") or data.get("zh_msg") or "display prohibited"))
            raise APIError(f"the gateway will not show this result set: {message}", status=0, path="/filesystem/openFile", data=data)
        rows = data.get("fileContent")
        if not isinstance(rows, list):
            rows = []
        extra = {k: v for k, v in data.items() if k not in ("metadata", "fileContent", "type")}
        absent = _absent_markers(response.content, data, null_markers) if null_markers and rows else frozenset()
        return ResultPage(str(data.get("type") or "1"), data.get("metadata"), rows, page, page_size, extra, absent)

    def open_log(self, path: str) -> LogChunk:
        """The persisted log of a job (task.logPath), whole: [error, warn, info, all]."""
        data = self._call("GET", "/filesystem/openLog", params={"path": path})
        return LogChunk.from_wire(data)

    def download_result(
        self,
        path: str,
        dest: str | os.PathLike[str],
        *,
        output_type: str = "csv",
        separator: str = ",",
        charset: str = "utf-8",
        null_value: str = "NULL",
        limit: int | None = None,
        file_name: str | None = None,
        chunk_size: int = 1 << 16,
    ) -> Path:
        """Stream one result set through /filesystem/resultsetToExcel into `dest` (a file, or a
        directory to put `<file_name>.<type>` in): every row, or the first `limit` rows. The file
        appears only once the whole export has arrived; an export error raises APIError."""
        if limit is not None and limit < 1:
            raise ConfigError("limit must be 1 or more (None exports every row)")
        params: dict[str, Any] = {
            "path": path,
            "outputFileType": output_type,
            # Linkis reads csvSeparator from 1.3.2 on, and only the misspelt csvSeperator before.
            "csvSeparator": separator,
            "csvSeperator": separator,
            "charset": charset,
            "nullValue": null_value,
            # Without a positive limit Linkis exports only the first 5000 rows
            # (wds.linkis.workspace.resultset.download.maxsize.csv/.excel). With one, it exports
            # fileSource.page(1, limit), which streams rows to the writer until `limit` or the end
            # of the file and allocates nothing of limit's size (xlsx goes through POI's streaming
            # SXSSF workbook), and no setting caps `limit` (the 100000-row cap is openFile's). So
            # Java's Integer.MAX_VALUE asks for every row at no cost and needs no row count first
            # (FsRestfulApi.resultsetToExcel and FileSplit.page, release-1.1.1 to release-1.8.0).
            "limit": _EXPORT_ALL_ROWS if limit is None else min(limit, _EXPORT_ALL_ROWS),
            "outputFileName": file_name or "downloadResultset",
        }
        target = Path(dest)
        if target.is_dir():
            target = target / f"{file_name or Path(path).stem or 'result'}.{output_type}"
        response = self._transport.stream("GET", "/filesystem/resultsetToExcel", params=params)
        partial = target.with_name(target.name + ".part")
        try:
            with response:
                chunks = response.iter_content(chunk_size)
                head = b""
                for chunk in chunks:
                    head += chunk
                    if len(head) >= len(_EXPORT_ERROR):
                        break
                # Any failure inside the export (no permission, a bad path or type, ...) is
                # HTTP 200 text/plain "error(错误):<message>" (FsRestfulApi.resultsetToExcel's
                # catch); a header set before the failure can survive, so the body decides.
                if head.startswith(_EXPORT_ERROR):
                    raise self._export_error(head, chunks, response)
                with open(partial, "wb") as out:
                    out.write(head)
                    for chunk in chunks:
                        out.write(chunk)
            os.replace(partial, target)
        except requests.exceptions.RequestException as exc:
            partial.unlink(missing_ok=True)
            raise self._transport.error(exc, "GET", response.url, 1) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    def _export_error(self, head: bytes, chunks: Iterator[bytes], response: requests.Response) -> APIError:
        body = head
        for chunk in chunks:
            body += chunk
            if len(body) > 4096:
                break
        text = body.decode("utf-8", errors="replace")[len(_EXPORT_ERROR.decode()):]
        message = self.redact(" ".join(text.split()))[:500] or "the export failed"
        return APIError(message, status=1, path="/filesystem/resultsetToExcel", http_status=response.status_code)

    # ------------------------------------------------------------------ metadata (schemas)

    def databases(self) -> list[str]:
        """The databases the user may see (`/datasource/dbs`: Linkis reads the Hive metastore)."""
        data = self._metadata("dbs")
        names = (database_name(item) for item in data.get("dbs") or [])
        return [name for name in names if name]

    def tables(self, database: str) -> list[TableInfo]:
        """The tables of `database` the user may see (`/datasource/tables`), by name."""
        data = self._metadata("tables", {"database": database})
        return [TableInfo.from_wire(item, database) for item in data.get("tables") or []
                if isinstance(item, (dict, str))]

    def columns(self, database: str, table: str) -> list[ColumnInfo] | None:
        """The columns of a table, then its partition keys (`/datasource/columns`). None when
        Linkis answers `"columns": null`: the table is missing or the user may not read it (the
        two are the same answer); `[]` when it is missing and Linkis checks no permissions."""
        data = self._metadata("columns", {"database": database, "table": table})
        items = data.get("columns")
        if not isinstance(items, list):
            return None
        return [ColumnInfo.from_wire(item) for item in items if isinstance(item, dict)]

    def _metadata(self, endpoint: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A `/datasource/*` call; a gateway without the metadata service, or one that refuses
        the user, raises MetadataUnavailableError with a one-line message."""
        path = f"/datasource/{endpoint}"
        try:
            return self._call("GET", path, params=params)
        except (APIError, TransportError) as exc:
            http_status = getattr(exc, "http_status", None)
            status = getattr(exc, "status", 1)
            detail = self.redact(str(getattr(exc, "message", "") or exc)).strip().split("\n", 1)[0][:200]
            if _no_service(exc):
                reason, what = "missing", (f"the Linkis gateway at {self.redact(self.gateway_url)} has no metadata "
                                           f"service (it serves no {path})")
            elif status == 3 or http_status == 403:
                reason, what = "denied", (f"the Linkis gateway at {self.redact(self.gateway_url)} does not let "
                                          f"{self.execute_user or 'this user'} read the metadata ({path})")
            else:
                raise
            raise MetadataUnavailableError(f"{what}: {detail}" if detail else what, reason=reason,
                                           status=status if isinstance(status, int) else 1, path=path,
                                           http_status=http_status, data=getattr(exc, "data", None)) from None

    # ------------------------------------------------------------------ context manager

    def close(self) -> None:
        self._transport.reset()

    def __enter__(self) -> "LinkisClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# resultsetToExcel's answer when the export failed, and its `limit` for every row (Java's
# Integer.MAX_VALUE, the largest that its Integer parameter takes).
_EXPORT_ERROR = "error(错误):".encode()
_EXPORT_ALL_ROWS = 2**31 - 1


def _absent_markers(body: bytes, data: Mapping[str, Any], markers: tuple[str | None, ...]) -> frozenset[str | None]:
    """The markers that no `fileContent` cell of this openFile answer equals.

    A cell equal to a marker is the marker's JSON text (`"NULL"`, `null`) in the body, once; so
    a marker appears in the rows when the body holds it more often than the rest of `data` does.
    Counting bytes is far cheaper than comparing every cell. A body with \\u escapes could spell a
    marker differently, so then nothing is known absent."""
    if b"\\u" in body:
        return frozenset()
    rest = json.dumps({k: v for k, v in data.items() if k != "fileContent"}, ensure_ascii=False).encode()
    absent = set()
    for marker in markers:
        token = b"null" if marker is None else json.dumps(marker, ensure_ascii=False).encode()
        if body.count(token) == rest.count(token):
            absent.add(marker)
    return frozenset(absent)


def _no_service(exc: LinkisError) -> bool:
    """Did the gateway say no service serves this path (no metadata service deployed)? Spring's
    404 JSON carries `"status": 404`; Linkis' gateway says "Cannot find a service to deal ..."."""
    if isinstance(exc, TransportError) and exc.transient:
        return False
    if _unknown_endpoint(exc) or getattr(exc, "status", None) == 404:
        return True
    return "cannot find a service" in str(getattr(exc, "message", "") or exc).lower()


def _unknown_endpoint(exc: LinkisError) -> bool:
    """Did the gateway say it has no such endpoint (a 0.x gateway asked for /entrance/submit)?"""
    if getattr(exc, "http_status", None) in (404, 405):
        return True
    text = str(getattr(exc, "message", "") or exc).lower()
    # A 0.x gateway routes /entrance/submit to every service named like "entrance": with one
    # entrance per engine it cannot choose (0.11.0 GatewayRouter: "Cannot find a correct
    # serviceId"), with none it says so.
    return any(phrase in text for phrase in (
        "unknown request uri", "no handler found", "cannot find a correct serviceid", "is not exists any instances"))
