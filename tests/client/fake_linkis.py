"""A small behavioural Linkis gateway for the client tests: the wire forms the embedded gateway
does not produce (0.x execIDs and no /entrance/submit, taskID as a string, progress "1.0f",
metadata "NULL", dirFileTrees null, HTML error pages from a proxy, 401 after a session expires,
stalls) and a record of every request, so tests can count what the client sent.

Jobs follow a tiny script, one instruction per line of the submitted code:

    sleep 0.5          the job runs this long (log lines appear as it goes)
    log WARN text      a log line of that level
    rows 12000         a TABLE result set (id int, name string, score double, day date, flag boolean)
    types              a TABLE with one column per Linkis type, NULLs included
    text hello         a TEXT result set (metadata "NULL")
    html <b>x</b>      an HTML result set
    fail 21304 desc    the job ends Failed with this errCode / errDesc
    hold NAME          the job's script stops here until the test calls `release(NAME)`; as the
                       first line, the job stays Scheduled until then (timing windows become gates)

A job without result instructions has no result directory (dirFileTrees: null).
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"
EXPIRED = "Login has expired, please log in again!(登录已过期，请重新登录！)"


@dataclass
class FakeJob:
    task_id: int
    exec_id: str
    user: str
    code: str
    engine: str
    run_type: str
    created: float
    wall: float = field(default_factory=time.time)
    duration: float = 0.0
    fail: tuple[int, str] | None = None
    results: list[tuple[str, Any, list[list[Any]]]] = field(default_factory=list)
    log_plan: list[tuple[float, str, str]] = field(default_factory=list)  # (offset, level, text)
    holds: list[tuple[float, "Gate"]] = field(default_factory=list)  # (offset, gate)
    killed_at: float | None = None

    def elapsed(self, now: float) -> float:
        return now - self.created

    def clock(self, now: float) -> float:
        """How far the job's script has got by `now`: wall time since submit, stopped at each
        hold until its gate is released."""
        t = now - self.created
        for offset, gate in self.holds:
            if t <= offset:
                break
            released = gate.released_at
            t = offset if released is None else min(t, offset + max(0.0, now - released))
        return t

    def state(self, now: float) -> str:
        if self.killed_at is not None:
            return "Cancelled"
        t = self.clock(now)
        if t < 0.03:
            return "Scheduled"
        if t < 0.03 + self.duration:
            return "Running"
        return "Failed" if self.fail else "Succeed"

    def finished_at(self, now: float) -> float:
        if self.killed_at is not None:
            return self.killed_at
        return now - (self.clock(now) - 0.03 - self.duration)

    def log_lines(self, now: float) -> list[str]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.wall))
        t = self.clock(now)
        lines = [f"{stamp}.000 {level} {text}" for offset, level, text in self.log_plan if offset <= t]
        state = self.state(now)
        if state == "Succeed":
            lines.append(f"{stamp}.000 INFO Congratulations. Your job completed with status Success.")
        elif state in ("Failed", "Cancelled"):
            if self.fail and state == "Failed":
                lines.append(f"{stamp}.000 ERROR {self.fail[1]}")
                lines.append("\tat some.Engine.run(Engine.java:42)")
            lines.append(
                f"{stamp}.000 ERROR Sorry. Your job completed with a status {state}. You can view logs for the reason."
            )
        return lines

    def progress(self, now: float) -> float:
        state = self.state(now)
        if state in ("Succeed", "Failed", "Cancelled"):
            return 1.0
        if state != "Running" or self.duration <= 0:
            return 0.0
        return min(0.99, self.clock(now) / (self.duration + 0.03))


class Gate:
    """A point a job's script waits at (`hold NAME`) until the test releases it."""

    def __init__(self) -> None:
        self.released_at: float | None = None


def _plan(job: FakeJob, gates: dict[str, Gate]) -> None:
    offset = 0.03
    job.log_plan.append((0.0, "INFO", f"Job with taskId : {job.task_id} and execID : {job.exec_id} submitted"))
    for line in job.code.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "sleep":
            seconds = float(rest)
            steps = max(1, int(seconds / 0.1))
            for i in range(steps):
                job.log_plan.append((offset + seconds * i / steps, "INFO", f"working {i + 1}/{steps}"))
            offset += seconds
        elif word == "log":
            level, _, text = rest.partition(" ")
            job.log_plan.append((offset, level, text))
        elif word == "rows":
            n = int(rest)
            meta = [
                {"columnName": "id", "comment": "NULL", "dataType": "int"},
                {"columnName": "name", "comment": "NULL", "dataType": "string"},
                {"columnName": "score", "comment": "NULL", "dataType": "double"},
                {"columnName": "day", "comment": "NULL", "dataType": "date"},
                {"columnName": "flag", "comment": "NULL", "dataType": "boolean"},
            ]
            rows = [
                [str(i), f"n{i}", "NULL" if i % 7 == 0 else f"{i / 2}", f"2024-01-{i % 28 + 1:02d}", "true" if i % 2 else "false"]
                for i in range(n)
            ]
            job.results.append(("2", meta, rows))
        elif word == "types":
            names = ["tinyint", "smallint", "int", "bigint", "long", "float", "double", "decimal(10,2)",
                     "boolean", "date", "timestamp", "string", "varchar(10)", "char(2)"]
            meta = [{"columnName": f"c_{n.split('(')[0]}", "comment": "NULL", "dataType": n} for n in names]
            rows = [
                ["1", "2", "3", "9007199254740993", "-5", "1.5", "2.25", "12.34", "true", "2024-02-29",
                 "2024-02-29 13:14:15.5", "hello", "NULL text", "ab"],
                ["NULL"] * len(names),
                ["-1", "-2", "-3", "-9007199254740993", "5", "Infinity", "NaN", "0.01", "false", "1970-01-01",
                 "1970-01-01 00:00:00.0", "", "x", "cd"],
            ]
            job.results.append(("2", meta, rows))
        elif word == "text":
            job.results.append(("1", "NULL", [[part] for part in rest.split("|")]))
        elif word == "html":
            job.results.append(("5", "NULL", [[rest]]))
        elif word == "fail":
            code, _, desc = rest.partition(" ")
            job.fail = (int(code), desc)
        elif word == "hold":
            # Before anything has run, the hold is at 0: the job is still Scheduled there.
            at = 0.0 if not job.holds and offset == 0.03 and len(job.log_plan) == 1 else offset
            job.holds.append((at, gates.setdefault(rest.strip(), Gate())))
            offset += 0.001  # a hold at the end keeps the job Running
    job.duration = offset - 0.03


class FakeLinkis:
    """Start with `start()`, stop with `stop()`; `url` is the base URL (no /api prefix)."""

    def __init__(
        self,
        *,
        old: bool = False,
        users: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        evict_after: float = 60.0,
        task_id_as_string: bool = False,
        unknown_path: str = "json",
        row_limit: int = 100000,
        port: int = 0,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.tls = tls
        self.row_limit = row_limit
        self.port = port
        self.old = old
        self.users = users if users is not None else {"alice": "alice-pw-Secret"}
        self.tokens = tokens if tokens is not None else {"fake-Token-Secret": "*"}
        self.evict_after = evict_after
        self.task_id_as_string = task_id_as_string
        self.unknown_path = unknown_path
        self.cookie = "bdp-user-ticket-id" if old else "linkis_user_session_ticket_id_v1"
        self.sessions: dict[str, str] = {}  # ticket -> user
        self.proxied: dict[str, str] = {}  # ticket -> proxy user
        self.expired: set[str] = set()
        self.jobs: dict[int, FakeJob] = {}
        self.gates: dict[str, Gate] = {}
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.faults: list[tuple[re.Pattern[str], Any]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    def start(self) -> "FakeLinkis":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one segment: no Nagle / delayed-ACK pauses between them.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeLinkis":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -------------------------------------------------------------- test controls

    def inject(self, path_regex: str, *answers: Any) -> None:
        """Answer the next requests whose path matches with these, in order, instead of normally:
        (http_code, content_type, body) tuples, "drop" (close with no answer) or ("stall", seconds)
        (answer normally after a pause)."""
        with self.lock:
            for answer in answers:
                self.faults.append((re.compile(path_regex), answer))

    def expire_sessions(self) -> None:
        with self.lock:
            self.expired |= set(self.sessions)
            self.sessions.clear()

    def release(self, name: str) -> None:
        """Let every job holding at `hold NAME` go on (a job that reaches it later does not stop)."""
        with self.lock:
            gate = self.gates.setdefault(name, Gate())
            if gate.released_at is None:
                gate.released_at = time.monotonic()

    def count(self, path_regex: str, method: str | None = None) -> int:
        pattern = re.compile(path_regex)
        return sum(1 for m, p, _q, _h in self.requests if pattern.search(p) and (method is None or m == method))

    # -------------------------------------------------------------- HTTP

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, path, query, dict(req.headers)))
            fault = None
            for i, (pattern, answer) in enumerate(self.faults):
                if pattern.search(path):
                    fault = self.faults.pop(i)[1]
                    break
        if fault == "drop":
            req.close_connection = True
            req.connection.close()
            return
        if isinstance(fault, tuple) and fault[0] == "stall":
            time.sleep(fault[1])
            fault = None
        if fault is not None:
            code, ctype, body = fault
            self._send(req, code, body.encode() if isinstance(body, str) else body, ctype)
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        m = re.fullmatch(r"/api/rest_j/v1(/.*)", path)
        if not m:
            return self._unknown(req, path)
        try:
            status, message, data, code = self._route(req, method, m.group(1), query, body)
        except _Unknown:
            return self._unknown(req, path)
        except _Raw as raw_answer:
            self._send(req, 200, raw_answer.body, raw_answer.ctype)
            return
        reply = {"method": "/api" + m.group(1), "status": status, "message": message, "data": data}
        http = {0: 200, -1: 401, 1: 400, 2: 412, 3: 403, 4: 206}.get(status, 400) if code is None else code
        self._send(req, http, json.dumps(reply).encode(), "application/json;charset=UTF-8", cookies=getattr(req, "_cookies", None))

    def _send(self, req: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str, cookies: list[str] | None = None) -> None:
        req.send_response(code)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        for cookie in cookies or []:
            req.send_header("Set-Cookie", cookie)
        req.end_headers()
        req.wfile.write(body)

    def _unknown(self, req: BaseHTTPRequestHandler, path: str) -> None:
        if self.unknown_path == "html404":
            body = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
            self._send(req, 404, body, "text/html")
        else:
            reply = {"method": path, "status": 1, "message": f"unknown request URI {path}", "data": {}}
            self._send(req, 404, json.dumps(reply).encode(), "application/json")

    # -------------------------------------------------------------- routes

    def _who(self, req: BaseHTTPRequestHandler) -> tuple[str | None, str | None]:
        """(user, error message) from token headers or the session cookie."""
        code, token_user = req.headers.get("Token-Code"), req.headers.get("Token-User")
        if code or token_user:
            legal = self.tokens.get(code or "")
            if not code or not token_user:
                return None, "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！"
            if legal is None or (legal != "*" and token_user not in legal.split(",")):
                return None, f"未授权的token{code}，无法将请求绑定给tokenUser{token_user}!"
            user = token_user
        else:
            ticket = self._ticket(req)
            with self.lock:
                if ticket in self.expired:
                    return None, EXPIRED
                user = self.sessions.get(ticket or "")
                if user is not None and ticket in self.proxied:
                    user = self.proxied[ticket]
            if user is None:
                return None, NOT_LOGGED_IN
        proxy, validation = req.headers.get("Proxy-User"), req.headers.get("Validation-Code")
        if proxy:
            legal = self.tokens.get(validation or "")
            if legal is None or (legal != "*" and proxy not in legal.split(",")):
                return None, "Validation failed"
            user = proxy
        return user, None

    def _ticket(self, req: BaseHTTPRequestHandler) -> str | None:
        for part in (req.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie:
                return value
        return None

    def _route(
        self, req: BaseHTTPRequestHandler, method: str, path: str, q: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, str, dict[str, Any], int | None]:
        if path == "/user/login" and method == "POST":
            name, password = body.get("userName"), body.get("password")
            if not name or self.users.get(name) != password:
                return 1, "wrong user name or password(用户名或密码错误)", {}, None
            ticket = f"t{random.getrandbits(64):x}"
            with self.lock:
                self.sessions[ticket] = name
            req._cookies = [f"{self.cookie}={ticket}; Path=/"]  # type: ignore[attr-defined]
            return 0, "login successful(登录成功)！", {"userName": name, "sessionTimeOut": 3600000}, None
        if path == "/user/proxy":
            ticket = self._ticket(req)
            code = q.get("validationCode", "")
            legal = self.tokens.get(code)
            proxy = q.get("proxyUser", "")
            if legal is None or (legal != "*" and proxy not in legal.split(",")):
                return 1, "Validation failed", {}, None
            with self.lock:
                if ticket not in self.sessions:
                    ticket = f"t{random.getrandbits(64):x}"
                    self.sessions[ticket] = proxy
                    req._cookies = [f"{self.cookie}={ticket}; Path=/"]  # type: ignore[attr-defined]
                self.proxied[ticket] = proxy
            return 0, "代理成功", {"proxyUser": proxy}, None
        user, error = self._who(req)
        if user is None:
            return -1, error or NOT_LOGGED_IN, {}, None
        if path == "/user/logout":
            with self.lock:
                self.sessions.pop(self._ticket(req) or "", None)
            return 0, "Logout successful(退出登录成功)！", {}, None
        if path == "/user/userInfo":
            return 0, "OK", {"userName": user}, None
        if path in ("/entrance/submit", "/entrance/execute") and method == "POST":
            if path == "/entrance/submit" and self.old:
                raise _Unknown()
            return self._submit(user, path, body)
        m = re.fullmatch(r"/entrance/([^/]+)/(status|progress|log|kill)", path)
        if m:
            return self._entrance(user, unquote(m.group(1)), m.group(2), q)
        m = re.fullmatch(r"/jobhistory/([^/]+)/get", path)
        if m:
            job = self.jobs.get(int(m.group(1))) if m.group(1).isdigit() else None
            if job is None or job.user != user:
                return 1, "The corresponding job was not found, or there may be no permission to view the job", {}, None
            return 0, "OK", {"task": self._task(job)}, None
        if path == "/jobhistory/list":
            tasks = [self._task(j) for j in sorted(self.jobs.values(), key=lambda j: -j.task_id) if j.user == user]
            size = int(q.get("pageSize", 20))
            return 0, "OK", {"tasks": tasks[:size], "totalPage": len(tasks)}, None
        if path == "/filesystem/getDirFileTrees":
            return self._tree(q.get("path", ""))
        if path == "/filesystem/openFile":
            return self._open_file(q)
        if path == "/filesystem/openLog":
            m = re.fullmatch(r"file:///logs/(\d+)\.log", q.get("path", ""))
            job = self.jobs.get(int(m.group(1))) if m else None
            if job is None:
                return 1, "file not found", {}, None
            lines = job.log_lines(time.monotonic())
            return 0, "OK", {"log": self._split(lines)}, None
        if path == "/filesystem/resultsetToExcel":
            job, index = self._result(q.get("path", ""))
            if job is None:
                return 1, "file not found", {}, None
            _type, meta, rows = job.results[index]
            sep = q.get("csvSeparator", ",")
            head = sep.join(c["columnName"] for c in meta) if isinstance(meta, list) else None
            text = "\n".join(([head] if head else []) + [sep.join(map(str, r)) for r in rows]) + "\n"
            raise _Raw(text.encode(), "application/octet-stream")
        raise _Unknown()

    def _submit(self, user: str, path: str, body: dict[str, Any]) -> tuple[int, str, dict[str, Any], int | None]:
        if path == "/entrance/submit":
            content = body.get("executionContent") or {}
            labels = body.get("labels") or {}
            if not labels:
                return 1, "params cannot be empty ,  labels is null", {}, None
            code, run_type = content.get("code"), content.get("runType") or labels.get("codeType")
            engine = str(labels.get("engineType", "")).split("-")[0]
            creator = str(labels.get("userCreator", "-IDE")).rsplit("-", 1)[-1]
        else:
            code, run_type = body.get("executionCode"), body.get("runType") or "sql"
            engine, creator = body.get("executeApplicationName"), body.get("requestApplicationName") or "IDE"
        if not code or not str(code).strip():
            return 1, "The param executionCode cannot be empty (参数 executionCode 不能为空)", {}, None
        if not engine:
            return 1, "You need to specify engineTypeLabel in labels", {}, None
        with self.lock:
            task_id = 100 + len(self.jobs)
            index = len(self.jobs) + 1
            short = f"{creator}_{user}_{index}" if self.old else f"{creator}_{user}_{engine}_{index}"
            if self.old:
                # 0.x: three 2-digit lengths (creator, application, instance), then the three, then the id.
                instance = "host01:9104"
                exec_id = f"{len(creator):02d}{len(engine):02d}{len(instance):02d}{creator}{engine}{instance}{short}"
            else:
                app, instance = "linkis-cg-entrance", "127.0.0.1:9104"
                exec_id = f"exec_id{len(app):03d}{len(instance):03d}{app}{instance}{short}"
            job = FakeJob(task_id, exec_id, user, str(code), str(engine), str(run_type), time.monotonic())
            _plan(job, self.gates)
            self.jobs[task_id] = job
        tid: Any = str(task_id) if self.task_id_as_string else task_id
        return 0, "请求执行成功", {"execID": exec_id, "taskID": tid}, None

    def _find(self, exec_id: str) -> FakeJob | None:
        for job in self.jobs.values():
            if job.exec_id == exec_id:
                return job
        return None

    def _evicted(self, job: FakeJob, now: float) -> bool:
        return job.state(now) in ("Succeed", "Failed", "Cancelled") and now - job.finished_at(now) > self.evict_after

    def _entrance(self, user: str, exec_id: str, what: str, q: dict[str, str]) -> tuple[int, str, dict[str, Any], int | None]:
        now = time.monotonic()
        job = self._find(exec_id)
        task_id = int(q["taskID"]) if q.get("taskID", "").isdigit() else None
        gone = job is None or self._evicted(job, now)
        if what == "status":
            if gone:
                if task_id and task_id in self.jobs:
                    return 0, "获取状态成功", {"status": self.jobs[task_id].state(now), "execID": exec_id}, None
                if job is None:
                    return 1, "ID The corresponding job is empty and cannot obtain the corresponding task status.", {}, None
                return 1, "Get job by ID error and cannot obtain the corresponding task status.", {}, None
            assert job is not None
            return 0, "获取状态成功", {"status": job.state(now), "execID": exec_id}, None
        if gone:
            if what == "kill" and task_id and task_id in self.jobs:
                held = self.jobs[task_id]
                if held.user != user:
                    return 1, "You have no permission to kill this job", {}, None
                if held.killed_at is None and held.state(now) not in ("Succeed", "Failed", "Cancelled"):
                    held.killed_at = now
                return 0, "Forced Kill task (强制杀死任务)", {}, None
            if what == "log":
                return 1, ("The job you just executed has ended. This interface no longer provides a query. "
                           "It is recommended that you download the log file for viewing."), {}, None
            return 1, f"Can't find execID(不能找到execID): {exec_id}", {}, None
        assert job is not None
        if what == "progress":
            if job.state(now) != "Running" and job.progress(now) == 0:
                return 1, ("Can not get the corresponding progress information, it may be that the corresponding "
                           "progress information has not been generated"), {}, None
            info = [{"id": "stage-1", "succeedTasks": int(job.progress(now) * 10), "failedTasks": 0,
                     "runningTasks": 1, "totalTasks": 10}]
            # The progress as a string, as the taskID path of 1.5+ gateways sends it.
            return 0, "OK", {"execID": exec_id, "progress": f"{job.progress(now)}", "progressInfo": info}, None
        if what == "log":
            lines = job.log_lines(now)
            start = int(q.get("fromLine", 0) or 0)
            size = int(q.get("size", 100) or 100)
            chunk = lines[start:] if size < 0 else lines[start : start + size]
            return 0, "返回日志信息", {"execID": exec_id, "log": self._split(chunk), "fromLine": start + len(chunk)}, None
        if what == "kill":
            if job.killed_at is None and job.state(now) not in ("Succeed", "Failed", "Cancelled"):
                job.killed_at = now
            return 0, "Successfully killed the job(成功kill了job)", {"execID": exec_id}, None
        raise _Unknown()

    @staticmethod
    def _split(lines: list[str]) -> list[str]:
        def pick(level: str) -> str:
            return "\n".join(line for line in lines if f" {level} " in line)

        return [pick("ERROR"), pick("WARN"), pick("INFO"), "\n".join(lines)]

    def _task(self, job: FakeJob) -> dict[str, Any]:
        now = time.monotonic()
        state = job.state(now)
        done = state in ("Succeed", "Failed", "Cancelled")
        return {
            "taskID": str(job.task_id) if self.task_id_as_string else job.task_id,
            "status": state,
            # The kill path of Linkis writes "1.0f" into job history.
            "progress": "1.0f" if done else f"{job.progress(now):.1f}",
            "logPath": f"file:///logs/{job.task_id}.log",
            "resultLocation": f"hdfs:///tmp/linkis/result/{job.task_id}" if job.results else None,
            "errCode": job.fail[0] if job.fail and state == "Failed" else None,
            "errDesc": job.fail[1] if job.fail and state == "Failed" else None,
            "executionCode": job.code,
            "engineType": job.engine,
            "runType": job.run_type,
            "createdTime": int((time.time() - job.elapsed(now)) * 1000),
            "updatedTime": int(time.time() * 1000),
            "costTime": int(job.elapsed(now) * 1000),
            "execId": job.exec_id.split("9104", 1)[-1],
            "strongerExecId": job.exec_id,
            "umUser": job.user,
            "executeUser": job.user,
            "labels": [f"engineType:{job.engine}", "userCreator:" + job.user + "-IDE"],
        }

    def _result(self, path: str) -> tuple[FakeJob | None, int]:
        m = re.fullmatch(r"hdfs:///tmp/linkis/result/(\d+)/_(\d+)\.dolphin", path)
        if not m:
            return None, 0
        job = self.jobs.get(int(m.group(1)))
        index = int(m.group(2))
        if job is None or index >= len(job.results):
            return None, 0
        return job, index

    def _tree(self, path: str) -> tuple[int, str, dict[str, Any], int | None]:
        m = re.fullmatch(r"hdfs:///tmp/linkis/result/(\d+)", path)
        job = self.jobs.get(int(m.group(1))) if m else None
        if job is None or not job.results:
            return 0, "OK", {"dirFileTrees": None}, None
        children = [
            {"name": f"_{i}.dolphin", "path": f"{path}/_{i}.dolphin", "properties": {"size": "10", "modifytime": "0"},
             "children": None, "isLeaf": True, "parentPath": path}
            for i in range(len(job.results))
        ]
        # Listing order, not numeric: "_10" before "_2".
        children.sort(key=lambda c: c["name"], reverse=True)
        return 0, "OK", {"dirFileTrees": {"name": str(job.task_id), "path": path, "children": children,
                                          "isLeaf": False, "properties": None, "parentPath": None}}, None

    def _open_file(self, q: dict[str, str]) -> tuple[int, str, dict[str, Any], int | None]:
        job, index = self._result(q.get("path", ""))
        if job is None:
            return 1, "file not found", {}, None
        page, size = int(q.get("page", 1)), int(q.get("pageSize", 5000))
        if size > self.row_limit:
            return 1, "error code(错误码): 80034, error message(错误信息): pageSize too large.", {}, None
        type_, meta, rows = job.results[index]
        null = q.get("nullValue")
        chunk = rows[(page - 1) * size : page * size]
        if null:
            chunk = [[null if v == "NULL" else v for v in row] for row in chunk]
        data = {"metadata": meta, "fileContent": chunk, "type": type_, "totalLine": len(chunk), "page": page, "totalPage": 0}
        if type_ == "2":
            data["totalColumn"] = len(meta)
        return 0, "OK", data, None


class _Unknown(Exception):
    pass


class _Raw(Exception):
    def __init__(self, body: bytes, ctype: str) -> None:
        self.body, self.ctype = body, ctype
