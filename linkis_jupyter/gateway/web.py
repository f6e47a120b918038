"""The wire plumbing of the gateway: Linkis' envelope, errors, auth state and the route table.

Every JSON answer is `{method, status, message, data}` with the HTTP code Linkis derives from
`status` (-1 401, 0 200, 1 400, 2 412, 3 403, 4 206). Messages are Linkis' own, bilingual where
Linkis' are (apache/linkis: SecurityFilter, TokenAuthentication, UserRestful, server/package.scala),
except that a token is never echoed back.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import tornado.web

from .storage import valid_user_name

if TYPE_CHECKING:
    from .server import EmbeddedGateway

log = logging.getLogger("linkis_jupyter.gateway")

API = "/api/rest_j/v1"
# The 1.x session cookie; a 0.x profile uses its own (gateway/profile.py `ticket_cookie`).
TICKET_COOKIE = "linkis_user_session_ticket_id_v1"
HTTP_FOR_STATUS = {-1: 401, 0: 200, 1: 400, 2: 412, 3: 403, 4: 206}

MSG_NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"
MSG_EXPIRED = "Login has expired, please log in again!(登录已过期，请重新登录！)"


class ApiError(Exception):
    """Answer the request with this Linkis status and message."""

    def __init__(self, status: int, message: str, data: dict[str, Any] | None = None,
                 method: str | None = None, http: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.data, self.method = status, message, data or {}, method
        self.http = http


class SpringError(Exception):
    """A Linkis backend's Spring Boot error page (BasicErrorController), not a Linkis envelope:
    an unknown path (404) or a method the @RequestMapping does not allow (405)."""

    REASONS = {404: "Not Found", 405: "Method Not Allowed"}

    def __init__(self, status: int, allow: str | None = None) -> None:
        super().__init__(self.REASONS[status])
        self.status, self.allow = status, allow

    def body(self, path: str) -> dict[str, Any]:
        # Linkis' ObjectMapper writes dates as epoch milliseconds (DataWorkCloudApplication).
        return {"timestamp": int(time.time() * 1000), "status": self.status,
                "error": self.REASONS[self.status], "path": path}


def exception_text(code: int, desc: str, host: str, port: int, service_kind: str) -> str:
    """getMessage() of a Linkis exception (LinkisException, LinkisRuntimeException)."""
    return f"errCode: {code} ,desc: {desc} ,ip: {host} ,port: {port} ,serviceKind: {service_kind}"


def is_admin_token(token: str | None) -> bool:
    """Configuration.isAdminToken (1.6.0+): the token starts with ADMIN-, in any case."""
    return bool(token and token.strip()) and str(token).upper().startswith("ADMIN-")


def error_code_error(code: int, desc: str) -> ApiError:
    """How Linkis renders an ErrorException thrown in a handler."""
    return ApiError(
        1, f"error code(错误码): {code}, error message(错误信息): {desc}.",
        {"errorMsg": {"errCode": code, "desc": desc}},
    )


class RawJSON:
    """A value of an answer's `data` that is already JSON (UTF-8 bytes), sent as it is."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


# -- sessions and proxy users ------------------------------------------------------------------


@dataclass
class _Session:
    user: str
    last: float
    expired: bool = False


class Sessions:
    """Login tickets; a session slides: every use refreshes it, idle ones expire."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    def create(self, user: str) -> str:
        ticket = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            # Forget long-dead tickets; recently expired ones still get "Login has expired".
            for old in [t for t, s in self._sessions.items() if now - s.last > 2 * self.timeout + 600]:
                del self._sessions[old]
            self._sessions[ticket] = _Session(user, now)
        return ticket

    def lookup(self, ticket: str) -> tuple[str | None, bool]:
        """(user, expired): the user of a live ticket, or None and whether it had expired."""
        now = time.monotonic()
        with self._lock:
            s = self._sessions.get(ticket)
            if s is None:
                return None, False
            if s.expired or now - s.last > self.timeout:
                s.expired = True
                return None, True
            s.last = now
            return s.user, False

    def remove(self, ticket: str) -> None:
        with self._lock:
            self._sessions.pop(ticket, None)

    def expire_all(self) -> None:
        with self._lock:
            for s in self._sessions.values():
                s.expired = True


class LoginThrottle:
    """Failed logins per (user, address): after `attempts` failures within `window` seconds, that
    user's logins from that address are refused, right password or not, until the oldest failure
    is `window` seconds old. A successful login clears the count. Nothing is locked for good."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, key: tuple[str, str]) -> float:
        """Seconds until this user may try again from this address; 0 when they may now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.attempts:
                return 0.0
            return self.window - (now - times[-self.attempts])

    def failed(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10000:
                # Many names tried: forget the ones whose failures are all old.
                for old in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[old]
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


class ProxyRules:
    """proxy.properties: lines `token=user1,user2` or `token=*`; re-read when the file changes.

    Names are matched as ProxyUserUtils.validate does: exactly, case and spaces included, against
    the comma-separated list.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._rules: dict[str, str] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            st = self.path.stat()
        except OSError:
            return {}
        with self._lock:
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                rules: dict[str, str] = {}
                for raw in self.path.read_text(encoding="utf-8").splitlines():
                    line = raw.strip()
                    if not line or line.startswith(("#", "!")) or "=" not in line:
                        continue
                    key, value = line.split("=", 1)
                    # java.util.Properties: blanks around the key and before the value go.
                    rules[key.strip()] = value.lstrip()
                self._rules, self._stamp = rules, stamp
            return self._rules

    @property
    def enabled(self) -> bool:
        """wds.linkis.gateway.conf.enable.proxy.user: on exactly when a proxy.properties is given."""
        return self.path is not None

    def allows(self, code: str | None, proxy_user: str | None) -> bool:
        if not self.enabled or not code or not proxy_user:
            return False
        allowed = None
        for token, users in self._load().items():
            if secrets.compare_digest(token.encode(), code.encode()):
                allowed = users
        if allowed is None or not allowed.strip():
            return False
        return allowed == "*" or proxy_user in allowed.split(",")


def token_allows(legal: str, user: str) -> bool:
    names = {u.strip() for u in legal.split(",") if u.strip()}
    return "*" in names or user in names


# -- request plumbing -----------------------------------------------------------------------------


@dataclass
class Who:
    user: str              # the operating user: jobs run as them, their area is served
    login_user: str        # the authenticated user (submitUser)
    via: str               # "session", "token" or "proxy-header"
    admin_token: bool = False   # a Token-Code header that is an admin token (body executeUser)


Route = tuple[str, "re.Pattern[str]", str]
ROUTES: list[Route] = []


def route(methods: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append((methods, re.compile(pattern), fn.__name__))
        return fn
    return register


class BaseHandler(tornado.web.RequestHandler):
    """Envelope, auth and request helpers shared by every group of endpoints."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")

    def initialize(self, gateway: EmbeddedGateway, proxy_rules: ProxyRules) -> None:
        self.gw = gateway
        self.proxy_rules = proxy_rules
        self.who: Who | None = None
        self._json: Any = None

    # tornado logs the request (with its headers: tokens, cookies) on an uncaught error.
    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("error handling %s %s", self.request.method, self.request.path, exc_info=(typ, value, tb))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else self._reason
        self.set_status(200)
        self.reply(1, f"operation failed(操作失败)！the reason(原因)：{reason}", method=self.request.path)

    def reply(self, status: int, message: str, data: dict[str, Any] | None = None,
              method: str | None = None, http: int | None = None) -> None:
        self.set_status(http or HTTP_FOR_STATUS.get(status, 400))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        data = data or {}
        raw = {key: value for key, value in data.items() if isinstance(value, RawJSON)}
        if not raw:
            body = {"method": method, "status": status, "message": message, "data": data}
            self.finish(json.dumps(body, ensure_ascii=False))
            return
        # Encoded values go in where a placeholder was encoded, so a big page is never decoded.
        mark = secrets.token_hex(8)
        holders = {key: f"\x00{mark}{key}\x00" for key in raw}
        body = {"method": method, "status": status, "message": message, "data": {**data, **holders}}
        text = json.dumps(body, ensure_ascii=False).encode()
        for key, value in raw.items():
            head, _, tail = text.partition(json.dumps(holders[key]).encode())
            text = b"".join((head, value.data, tail))
        self.finish(text)

    def ok(self, data: dict[str, Any] | None = None, message: str = "OK", method: str | None = None) -> None:
        self.reply(0, message, data, method or self.backend_method())

    def backend_method(self) -> str:
        return "/api" + self.api_path

    def check_xsrf_cookie(self) -> None:
        return None

    def compute_etag(self) -> None:
        return None

    # -- authentication --------------------------------------------------------------------------

    @property
    def ticket_cookie(self) -> str:
        return self.gw.profile.ticket_cookie

    def _ticket(self) -> str | None:
        return self.get_cookie(self.ticket_cookie)

    def session_user(self) -> tuple[str | None, bool]:
        ticket = self._ticket()
        if not ticket:
            return None, False
        return self.gw.sessions.lookup(ticket)

    def exception_text(self, code: int, desc: str, service_kind: str) -> str:
        host, port = self.gw.ip, self.gw.port
        return exception_text(code, desc, host, port, service_kind)

    def authenticate(self) -> Who:
        """Who is asking: token headers (SecurityFilter tries them before the session cookie, so
        they win), else the session; with the `proxy_headers` opt-in, the seed's Proxy-User and
        Validation-Code headers on top (no Linkis release reads them)."""
        h = self.request.headers
        token = h.get("Token-Code") or self.get_cookie("Token-Code")
        token_user = h.get("Token-User") or self.get_cookie("Token-User")
        is_token = ("Token-Code" in h and "Token-User" in h) or (
            self.get_cookie("Token-Code") is not None and self.get_cookie("Token-User") is not None)
        login: str | None = None
        via = "session"
        if is_token:
            if not self.gw.tokens:
                raise ApiError(-1, "Gateway未启用token认证，请采用其他认证方式!")
            if not token or not token_user:
                raise ApiError(-1, "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！")
            legal = None
            for name, users in self.gw.tokens.items():
                if secrets.compare_digest(name.encode(), token.encode()):
                    legal = users
            if legal is None or not valid_user_name(token_user) or not token_allows(legal, token_user):
                # Linkis echoes the token here; a token must never be sent back or logged.
                raise ApiError(-1, f"未授权的token，无法将请求绑定给tokenUser{token_user}!")
            login, via = token_user, "token"
        else:
            login, expired = self.session_user()
            if login is None and not (self.gw.proxy_headers and h.get("Proxy-User")):
                raise ApiError(-1, MSG_EXPIRED if expired else MSG_NOT_LOGGED_IN)
        proxy_user = h.get("Proxy-User") if self.gw.proxy_headers else None
        if proxy_user:
            proxy_user = proxy_user.strip().lower()
            if not valid_user_name(proxy_user) or not self.proxy_rules.allows(h.get("Validation-Code"), proxy_user):
                raise ApiError(-1, "Validation failed")
            return Who(proxy_user, login or proxy_user, "proxy-header")
        assert login is not None
        # EntranceRestfulApi reads the token from the header only (ModuleUserUtils.getToken).
        admin = via == "token" and is_admin_token(h.get("Token-Code"))
        return Who(login, login, via, admin)

    @property
    def user(self) -> str:
        assert self.who is not None
        return self.who.user

    def set_ticket(self, user: str) -> None:
        ticket = self.gw.sessions.create(user)
        self.set_cookie(self.ticket_cookie, ticket, path="/", httponly=True)

    # -- request helpers ---------------------------------------------------------------------------

    def body_json(self) -> dict[str, Any]:
        if self._json is None:
            raw = self.request.body
            if not raw or not raw.strip():
                self._json = {}
            else:
                try:
                    self._json = json.loads(raw)
                except ValueError:
                    raise ApiError(1, "The request body is not valid JSON(请求体不是合法的JSON)") from None
            if not isinstance(self._json, dict):
                raise ApiError(1, "The request body must be a JSON object(请求体必须是JSON对象)")
        return self._json

    def int_arg(self, name: str, default: int | None) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw.strip() == "":
            return default
        try:
            return int(raw.strip())
        except ValueError:
            raise ApiError(1, f"Failed to convert value of type 'java.lang.String' to required type "
                              f"'java.lang.Integer'; parameter {name}: {raw!r} is not a number") from None

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
