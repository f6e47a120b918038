"""The one request handler: faults, authentication, the route table, Linkis' envelope.

Every request goes through `GatewayHandler`: an injected fault first (gateway/faults.py), then
the path (`/api/rest_<x>/v1/...`), then who asks (token headers, else the session; /user/* is
answered before that, as Linkis' gateway hands it to UserRestful), then the route table
(gateway/app.py), whose functions get the handler as their request context. Unknown paths and
wrong methods are answered here too, as the gateway or the backend behind it answers them.

Every JSON answer is `{method, status, message, data}` with the HTTP code Linkis derives from
`status` (-1 401, 0 200, 1 400, 2 412, 3 403, 4 206). Messages are Linkis' own, bilingual where
Linkis' are (apache/linkis: SecurityFilter, TokenAuthentication, GatewayParser, server/package.scala),
except that a token is never echoed back.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple
from urllib.parse import unquote

import tornado.web

from .auth import (
    PROXY_GUESS, TOKEN_GUESS, ProxyRules, Who, client_identity, is_admin_token, throttled_text,
    token_allows,
)
from .faults import REFUSE_MESSAGE, Fault
from .storage import valid_user_name

if TYPE_CHECKING:
    from .server import EmbeddedGateway

log = logging.getLogger("linkis_jupyter.gateway")

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
    an unknown path (404), a method the @RequestMapping does not allow (405), or a body its
    @RequestBody's JSON converter cannot read (415)."""

    REASONS = {404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type"}

    def __init__(self, status: int, allow: str | None = None) -> None:
        super().__init__(self.REASONS[status])
        self.status, self.allow = status, allow

    def body(self, path: str) -> dict[str, Any]:
        # Linkis' ObjectMapper writes dates as epoch milliseconds (DataWorkCloudApplication).
        return {"timestamp": int(time.time() * 1000), "status": self.status,
                "error": self.REASONS[self.status], "path": path}


def exception_text(code: int, desc: str, host: str, port: int | str, service_kind: str) -> str:
    """getMessage() of a Linkis exception (LinkisException, LinkisRuntimeException)."""
    return f"errCode: {code} ,desc: {desc} ,ip: {host} ,port: {port} ,serviceKind: {service_kind}"


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


class Route(NamedTuple):
    """One row of the route table: the methods, the path under `/api/rest_j/v1` (groups become
    arguments), and the function answering it, called as `answer(handler, *groups)`."""

    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    answer: Callable[..., Any]


def route(methods: str, pattern: str, answer: Callable[..., Any]) -> Route:
    return Route(tuple(methods.split(",")), re.compile(pattern), answer)


# Services behind the gateway: linkis-cg-entrance and linkis-ps-publicservice.
BACKEND_SERVICES = ("entrance", "jobhistory", "filesystem")
# The fault-injection endpoints themselves are never disturbed by the faults they set.
FAULT_FREE_PATHS = ("/gateway/faults", "/gateway/expireSessions")


class GatewayHandler(tornado.web.RequestHandler):
    """Every request: faults, auth, then the route table; the envelope and request helpers the
    route functions use."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")

    def initialize(self, gateway: EmbeddedGateway, proxy_rules: ProxyRules, routes: list[Route]) -> None:
        self.gw = gateway
        self.proxy_rules = proxy_rules
        self.routes = routes
        self.who: Who | None = None
        self.api_path = ""
        self._json: Any = None

    # -- dispatch --------------------------------------------------------------------------------

    async def get(self, *_: str) -> None:
        await self.dispatch()

    post = put = delete = patch = options = head = get

    async def dispatch(self) -> None:
        path = self.request.path
        if not path.rstrip("/").endswith(FAULT_FREE_PATHS) and self.gw.faults.active:
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
        for methods, pattern, answer in self.routes:
            m = pattern.fullmatch(api_path)
            if m is None:
                continue
            # UserRestful.doUserRequest goes by the path alone, whatever the method.
            if method not in methods and not user_restful:
                allowed.extend(methods)
                continue
            result = answer(self, *[unquote(g) for g in m.groups()])
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
                raise SpringError(405, allow=", ".join(dict.fromkeys(allowed)))
            raise SpringError(404)
        raise ApiError(1, f"Cannot find a service to deal {self.request.path}, ignore it.")

    # -- the envelope ----------------------------------------------------------------------------

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

    @property
    def finished(self) -> bool:
        """Whether the answer has been sent (or the connection dropped)."""
        return self._finished

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

    def ticket(self) -> str | None:
        return self.get_cookie(self.ticket_cookie)

    def session_user(self) -> tuple[str | None, bool]:
        ticket = self.ticket()
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
            self.check_guesses(TOKEN_GUESS, token_user)
            legal = None
            for name, users in self.gw.tokens.items():
                if secrets.compare_digest(name.encode(), token.encode()):
                    legal = users
            if legal is None or not valid_user_name(token_user) or not token_allows(legal, token_user):
                self.gw.login_throttle.failed((TOKEN_GUESS, self.client_identity()))
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
            self.check_guesses(PROXY_GUESS, proxy_user)
            if not valid_user_name(proxy_user) or not self.proxy_rules.allows(h.get("Validation-Code"), proxy_user):
                self.gw.login_throttle.failed((PROXY_GUESS, self.client_identity()))
                raise ApiError(-1, "Validation failed")
            return Who(proxy_user, login or proxy_user, "proxy-header")
        assert login is not None
        # EntranceRestfulApi reads the token from the header only (ModuleUserUtils.getToken).
        admin = via == "token" and is_admin_token(h.get("Token-Code"))
        return Who(login, login, via, admin)

    def client_identity(self) -> str:
        """Whose failures a throttle counts (gateway/auth.py client_identity)."""
        stream = getattr(self.request.connection, "stream", None)
        return client_identity(self.request.remote_ip or "", getattr(stream, "socket", None))

    def check_guesses(self, kind: str, name: str) -> None:
        """Refuses a token or proxy code from a client with too many wrong ones lately, as the
        login throttle refuses a login."""
        throttle = self.gw.login_throttle
        if throttle.quiet:
            return
        wait = throttle.retry_after((kind, self.client_identity()))
        if wait > 0:
            raise ApiError(1, throttled_text(name, wait))

    @property
    def user(self) -> str:
        assert self.who is not None
        return self.who.user

    def set_ticket(self, user: str) -> None:
        ticket = self.gw.sessions.create(user)
        # SameSite=Lax: another site's form cannot post with the session (Linkis sets no SameSite).
        self.set_cookie(self.ticket_cookie, ticket, path="/", httponly=True, samesite="Lax")

    # -- request helpers ---------------------------------------------------------------------------

    def body_json(self) -> dict[str, Any]:
        if self._json is None:
            self._check_json_media_type()
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

    def _check_json_media_type(self) -> None:
        """A backend's @RequestBody is read by Spring's Jackson converter only: a body of another
        media type is Spring's 415, as is a body without a Content-Type (read as
        application/octet-stream); no Content-Type and no body passes (AbstractMessageConverter-
        MethodArgumentResolver.readWithMessageConverters)."""
        if self.api_path.strip("/").split("/", 1)[0] not in BACKEND_SERVICES:
            return
        content_type = self.request.headers.get("Content-Type")
        if content_type is None:
            if self.request.body:
                raise SpringError(415)
            return
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise SpringError(415)

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
