"""Transport: one LinkisClient's HTTP, below its endpoints.

It holds the `requests.Session` (and so the login cookie), builds the headers of every request,
applies the retry policy, reads Linkis' envelope `{method, status, message, data}` and logs in:
on first use with password auth, and once more, transparently, when a request answers status -1
(the session expired). Every request that can meet an expired session goes through `_request`,
the one place that logs in again.

Retries: every idempotent request (GET) is retried with capped exponential backoff on connection
errors, timeouts and HTTP 502/503/504; any other request only when its connection could not be
made at all, so it cannot have reached a server.
"""
from __future__ import annotations

import random
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

import requests

from .errors import APIError, AuthError, ConfigError, LinkisTimeoutError, TransportError, ValidationError
from .wire import REST_PREFIX, _as_int

if TYPE_CHECKING:
    from .settings import ClientSettings

__all__ = ["Transport", "Outage", "RETRY_HTTP", "connect_failure", "read_timed_out"]

T = TypeVar("T")
# HTTP codes of a proxy or gateway in trouble, after which an idempotent request is sent again.
RETRY_HTTP = (502, 503, 504)
_SESSION_REFUSED = re.compile(r"NonLoginException|LoginExpireException|not logged in|Login has expired", re.I)


def connect_failure(exc: BaseException) -> bool:
    """True when the TCP/TLS connection was never made, so the request cannot have reached a server."""
    import urllib3.exceptions

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError) or not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    # NewConnectionError (refused, unreachable, DNS) is a ConnectTimeoutError in urllib3 2.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def read_timed_out(exc: BaseException) -> bool:
    """Did reading a streamed body stop on the read timeout (requests wraps it in ConnectionError)?"""
    import urllib3.exceptions

    reason = exc.args[0] if exc.args else None
    return isinstance(exc, requests.Timeout) or isinstance(reason, urllib3.exceptions.ReadTimeoutError)


class Transport:
    """The HTTP side of one LinkisClient (its settings); safe to share between threads."""

    def __init__(self, settings: "ClientSettings") -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._session: requests.Session | None = None
        self._logged_in = False
        self._login_generation = 0

    def reset(self) -> None:
        """Forget the session (cookies, login): the connection's settings changed, or it closes."""
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session = None
            self._logged_in = False

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry `attempt` (from 0): doubling, capped, jittered."""
        s = self.settings
        delay = min(s.retry_backoff_max, s.retry_backoff * (2**attempt))
        return delay * (0.5 + random.random() / 2)

    # ------------------------------------------------------------------ requests

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A request whose answer is a Linkis envelope: (`data`, `message`) on status 0, a typed
        error otherwise. `idempotent` (retried on transient failures) defaults to GET."""
        return self.request(method, path, lambda response: self.envelope(response, method, path), params=params,
                            json_body=json_body, idempotent=idempotent)

    def stream(self, method: str, path: str, *, params: Mapping[str, Any] | None = None) -> requests.Response:
        """A request whose answer is not a Linkis envelope (a file): the response, its body unread.
        A JSON answer or an HTTP error is the gateway's refusal, raised as such."""

        def refused(response: requests.Response) -> requests.Response:
            if "json" in response.headers.get("Content-Type", "") or response.status_code >= 400:
                response.content  # noqa: B018 - the (small) error body
                self.envelope(response, method, path)
                if response.status_code >= 400:
                    url = self.settings.redact(response.url)
                    raise TransportError(f"{method} {url}: HTTP {response.status_code}", url=url,
                                         http_status=response.status_code)
            return response

        return self.request(method, path, refused, params=params, stream=True)

    def request(
        self,
        method: str,
        path: str,
        read: Callable[[requests.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        stream: bool = False,
    ) -> T:
        """`read(response)` of a request sent after logging in, once more after logging in again
        when `read` finds the session refused (Linkis status -1)."""
        if idempotent is None:
            idempotent = method == "GET"
        self.ensure_login()
        generation = self._login_generation
        response = self.send(method, path, params=params, json_body=json_body, idempotent=idempotent, stream=stream)
        try:
            return read(response)
        except AuthError as exc:
            if not self.can_relogin():
                if self.settings.auth_method == "none":
                    raise AuthError(
                        f"{exc} - no password or token is configured (LINKIS_PASSWORD / LINKIS_TOKEN)",
                        path=path,
                        http_status=exc.http_status,
                    ) from None
                raise
        # A request answered -1 was refused before it ran, so sending it again is safe.
        self._relogin(generation)
        response = self.send(method, path, params=params, json_body=json_body, idempotent=idempotent, stream=stream)
        return read(response)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        stream: bool = False,
    ) -> requests.Response:
        """One HTTP exchange with the retry policy; returns the response whatever its HTTP code."""
        s = self.settings
        url = s.gateway_url + REST_PREFIX + path
        headers = self._headers()
        verify: bool | str = s.ca_bundle or s.verify
        attempts = 1 + s.retries
        session = self._http()
        for attempt in range(attempts):
            try:
                response = session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=(s.connect_timeout, s.read_timeout),
                    verify=verify,
                    stream=stream,
                )
            except requests.exceptions.RequestException as exc:
                retryable = connect_failure(exc) or (
                    idempotent
                    and isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))
                    and not isinstance(exc, requests.exceptions.SSLError)
                )
                if retryable and attempt + 1 < attempts:
                    time.sleep(self.backoff(attempt))
                    continue
                raise self.error(exc, method, url, attempt + 1) from None
            if idempotent and response.status_code in RETRY_HTTP and attempt + 1 < attempts:
                response.close()
                time.sleep(self.backoff(attempt))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _http(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = requests.Session()
                # Enough pooled connections for several jobs polled from threads at once.
                adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session

    def _headers(self) -> dict[str, str]:
        s = self.settings
        headers = {"Accept": "application/json"}
        headers.update(s.headers)
        if s.auth_method == "token":
            if not s.user:
                raise ConfigError("token authentication needs a user: set LinkisClient.user or LINKIS_USER")
            headers["Token-Code"] = s.token
            headers["Token-User"] = s.user
        if s.proxy_method == "headers":
            headers["Proxy-User"] = s.proxy_user
            headers["Validation-Code"] = self._validation_code()
        return headers

    def _validation_code(self) -> str:
        code = self.settings.validation_code or self.settings.token
        if not code:
            raise ConfigError(
                "a proxy user needs a validation code: set LinkisClient.validation_code or LINKIS_VALIDATION_CODE"
            )
        return code

    # ------------------------------------------------------------------ answers

    def error(self, exc: BaseException, method: str, url: str, tries: int) -> TransportError:
        """The TransportError for a failed exchange (`tries` made)."""
        s = self.settings
        url = s.redact(url)
        where = f"{method} {url}"
        after = f" (after {tries} tries)" if tries > 1 else ""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return LinkisTimeoutError(f"{where}: no connection within {s.connect_timeout:g} s{after}", url=url,
                                      transient=True, sent=False)
        if isinstance(exc, requests.Timeout):
            return LinkisTimeoutError(f"{where}: no answer within {s.read_timeout:g} s{after}", url=url, transient=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportError(f"{where}: TLS failed: {s.redact(str(exc))}", url=url, sent=False)
        if connect_failure(exc):
            stale = s.url_from_dead_gateway()
            text = (f"cannot connect to the Linkis gateway at {s.redact(s.gateway_url)}{stale}{after}" if stale
                    else f"cannot connect to the Linkis gateway{after}; is it running at {s.redact(s.gateway_url)}?")
            return TransportError(f"{where}: {text}", url=url, transient=True, sent=False)
        return TransportError(f"{where}: connection failed{after}: {s.redact(str(exc))}", url=url, transient=True)

    def envelope(self, response: requests.Response, method: str, path: str) -> tuple[dict[str, Any], str]:
        """Linkis' reply -> (`data`, `message`) on status 0; a typed error otherwise."""
        s = self.settings
        url = s.redact(response.url)
        code = response.status_code
        try:
            body = response.json()
        except ValueError:
            raise TransportError(
                self._non_json_message(response, method, url), url=url, http_status=code, transient=code in RETRY_HTTP,
            ) from None
        if not isinstance(body, dict) or "status" not in body:
            raise TransportError(
                f"{method} {url}: HTTP {code} with JSON that is not a Linkis reply (no 'status')",
                url=url,
                http_status=code,
            )
        status = _as_int(body.get("status"))
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        message = s.redact(str(body.get("message") or body.get("error") or "").strip())
        if status == 0:
            return data, message
        if status == 1 and path.startswith("/user/") and _SESSION_REFUSED.search(message):
            # UserRestful answers a missing or expired session with status 1, not -1 (its
            # NonLoginException passes through SecurityFilter's catch as a plain error).
            status = -1
        if status == -1:
            method_name = s.auth_method
            refused = (f"the token of user {s.user!r}" if method_name == "token"
                       else f"the session of user {s.user!r}" if method_name == "password" else "the request")
            raise AuthError(
                f"the Linkis gateway at {s.redact(s.gateway_url)} refused {refused}: "
                f"{message or 'not logged in'} ({path}, Linkis status -1, HTTP {code})",
                path=path,
                http_status=code,
            )
        cls = ValidationError if status == 2 else APIError
        raise cls(message or f"HTTP {code}", status=status if status is not None else 1, path=path, http_status=code, data=data)

    def _non_json_message(self, response: requests.Response, method: str, url: str) -> str:
        code = response.status_code
        ctype = response.headers.get("Content-Type", "no content type").split(";")[0]
        text = response.text or ""
        if not text.strip():
            return f"{method} {url}: HTTP {code} with an empty body instead of a Linkis JSON reply"
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        snippet = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        snippet = self.settings.redact(" ".join(snippet.split()))[:160]
        return f"{method} {url}: HTTP {code} answered {ctype}, not a Linkis JSON reply: {snippet}"

    # ------------------------------------------------------------------ login

    def can_relogin(self) -> bool:
        """Whether a refused session can be made again (password auth with a user and password)."""
        s = self.settings
        return s.auth_method == "password" and bool(s.user and s.password)

    def ensure_login(self) -> None:
        """Log in unless already logged in (password auth, or a proxy login)."""
        if self._logged_in:
            return
        if self.settings.auth_method == "password" or self.settings.proxy_method == "login":
            with self._lock:
                if not self._logged_in:
                    self._login()

    def login(self) -> None:
        """Log in now, whether logged in or not."""
        with self._lock:
            self._logged_in = False
            self._login()

    def logout(self) -> None:
        """End the session on the gateway (password auth) and forget the cookies."""
        if self._logged_in and self.settings.auth_method == "password":
            try:
                self.envelope(self.send("GET", "/user/logout"), "GET", "/user/logout")
            except AuthError:
                pass
        self.reset()

    def _relogin(self, generation: int) -> None:
        with self._lock:
            # Another thread already logged in again since this request was sent.
            if self._login_generation != generation and self._logged_in:
                return
            self._logged_in = False
            self._login()

    def _login(self) -> None:
        s = self.settings
        if s.auth_method == "password":
            if not s.user:
                raise ConfigError("password authentication needs a user: set LinkisClient.user or LINKIS_USER")
            response = self.send("POST", "/user/login", json_body={"userName": s.user, "password": s.password})
            try:
                self.envelope(response, "POST", "/user/login")
            except (AuthError, APIError) as exc:
                text = str(getattr(exc, "message", "") or exc)
                # The Java client's rule (DWSResult): "already logged in" is a success.
                if "already logged in" not in text.lower():
                    raise AuthError(
                        f"login refused for user {s.user!r} at {s.gateway_url}: {text}",
                        path="/user/login",
                        http_status=response.status_code,
                    ) from None
        if s.proxy_method == "login":
            params = {"proxyUser": s.proxy_user, "validationCode": self._validation_code()}
            response = self.send("GET", "/user/proxy", params=params)
            try:
                self.envelope(response, "GET", "/user/proxy")
            except (AuthError, APIError) as exc:
                text = str(getattr(exc, "message", "") or exc)
                raise AuthError(
                    f"proxy login as {s.proxy_user!r} refused: {text}", path="/user/proxy", http_status=response.status_code
                ) from None
        self._logged_in = True
        self._login_generation += 1


class Outage:
    """Keeps something going while the gateway cannot be reached, up to the settings'
    `unreachable_timeout`: Job.wait, Job.results and the search for a lost submit each hold one.

    `failed` takes a failure and says how long the gateway has been unreachable, or None to give
    up (the failure is not a passing one, or the outage has lasted too long); `ended` says it was
    reached again; `pause` waits before the next try, longer each time."""

    def __init__(self, transport: Transport, since: float | None = None) -> None:
        self._transport = transport
        self.limit = transport.settings.unreachable_timeout
        # When the outage began (time.monotonic()); None while the gateway is reachable.
        self.since = since
        self._tries = 0

    def failed(self, exc: TransportError, began: float) -> float | None:
        """A try that began at `began` failed with `exc`: seconds unreachable, or None to give up."""
        if not exc.transient:
            return None
        self.since = began if self.since is None else self.since
        down = time.monotonic() - self.since
        return None if down > self.limit else down

    def ended(self) -> None:
        self.since = None

    def pause(self) -> None:
        time.sleep(self._transport.backoff(self._tries))
        self._tries += 1

    def retry(self, attempt: Callable[[], T]) -> T:
        """`attempt()`, tried again after a pause while the gateway cannot be reached."""
        while True:
            began = time.monotonic()
            try:
                return attempt()
            except TransportError as exc:
                if self.failed(exc, began) is None:
                    raise
                self.pause()
