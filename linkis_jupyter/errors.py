"""The one exception tree of linkis_jupyter. Catch `LinkisError` to catch them all::

    LinkisError
     +-- TransportError            the gateway could not be reached or did not answer in Linkis' form
     |    |                        (connection refused, an HTML error page, an empty body):
     |    |                        .url .http_status
     |    +-- LinkisTimeoutError   a request or a wait ran out of time; also a builtin TimeoutError
     +-- ConfigError               a mistake in the settings or arguments, found before anything was
     |                             sent (also a ValueError)
     +-- AuthError                 status -1 (not logged in, session expired, token refused),
     |                             or the login itself was refused
     +-- APIError                  any other non-zero Linkis status: .status .message .path .http_status
     |    +-- ValidationError      status 2, or a submit the server refused for its content
     |    +-- MetadataUnavailableError  the gateway has no metadata service (/datasource/*), or
     |                             the user may not read it: .reason "missing" or "denied"
     +-- JobError                  a job ended without success:
          |                        .task_id .exec_id .state .err_code .err_desc .log_tail
          +-- JobFailedError       Failed or Timeout
          +-- JobCancelledError    Cancelled (killed)

Messages never carry a password, token or validation code: the client masks them before an error
is built (see `LinkisClient.redact`).
"""
from __future__ import annotations

import re
from typing import Any

__all__ = [
    "LinkisError",
    "TransportError",
    "LinkisTimeoutError",
    "ConfigError",
    "AuthError",
    "APIError",
    "ValidationError",
    "MetadataUnavailableError",
    "JobError",
    "JobFailedError",
    "JobCancelledError",
]


class LinkisError(Exception):
    """Base of every error raised by linkis_jupyter's client side."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a long traceback: the failure is remote, not in the
        # user's code, so the one-line message is what helps.
        return [f"{type(self).__name__}: {self}"]


class TransportError(LinkisError):
    """No usable answer: connection failure, timeout, or a body that is not a Linkis reply.

    `transient`: the gateway could not be reached, did not answer in time, or a proxy in front
    of it said it is unavailable (HTTP 502/503/504), so the same request may work a little later.
    `sent`: the request may have reached the gateway (False only when no connection was made)."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        http_status: int | None = None,
        transient: bool = False,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.http_status = http_status
        self.transient = transient
        self.sent = sent


class LinkisTimeoutError(TransportError, TimeoutError):
    """A request, or waiting for a job, ran out of time."""


class ConfigError(LinkisError, ValueError):
    """A setting or argument is wrong or missing; nothing was sent to the gateway."""


class AuthError(LinkisError):
    """Not logged in, the session expired, the token was refused, or the login failed."""

    def __init__(self, message: str, *, path: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.http_status = http_status


class APIError(LinkisError):
    """The gateway answered with a non-zero status: its message and the request path are kept."""

    TEMPLATE = "{path}: {message} (Linkis status {status}, HTTP {http_status})"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        path: str,
        http_status: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(self.TEMPLATE.format(path=path, message=message, status=status, http_status=http_status))
        self.status = status
        self.message = message
        self.path = path
        self.http_status = http_status
        self.data = data or {}


class ValidationError(APIError):
    """Status 2, or the server refused a submit because of what it contained."""

    # Linkis' LabelCheckInterceptor: the userCreator label's user is not the user the gateway
    # runs the job as (errCode 50080).
    LABEL_CHECK = re.compile(
        r"50080.*?ExecuteUser\s*:\s*(?P<execute>\S+)\s*,\s*and user\s*:\s*(?P<label>\S+)\s+in userCreatorLabel", re.S)
    LABEL_FIXES = {
        "headers": "it ignores the Proxy-User header (no open-source Linkis reads it): set LinkisClient.proxy_mode "
                   "to execute_user (with an admin token) or login (with a password)",
        "execute_user": "it honours executeUser only with an admin token (Token-Code ADMIN-..., Linkis 1.6+): set "
                        "LinkisClient.token to one, or use proxy_mode login with a password",
        "login": "its /user/proxy login did not take: check LinkisClient.validation_code and proxy.properties",
        "": "it maps your login to that user: set LinkisClient.proxy_user = {ran_as!r}",
    }

    @classmethod
    def label_check_message(cls, message: str, proxy_method: str) -> str | None:
        """A 50080 refusal said as which setting to change (`proxy_method`: how the proxy user
        was announced, "" for none); None for other refusals."""
        found = cls.LABEL_CHECK.search(message)
        if found is None:
            return None
        ran_as, wanted = found.group("execute"), found.group("label")
        fix = cls.LABEL_FIXES.get(proxy_method, cls.LABEL_FIXES[""]).format(ran_as=ran_as)
        return f"Linkis refused to run the job as {wanted!r}: the gateway runs it as {ran_as!r} (errCode 50080); {fix}"


class MetadataUnavailableError(APIError):
    """The schema cannot be read here: the gateway routes `/datasource/*` to no service (HTTP
    404, "Cannot find a service", "No handler found"), `reason` "missing"; or it refused the user
    (Linkis status 3, HTTP 403), `reason` "denied". The message is one line saying which."""

    TEMPLATE = "{message}"

    def __init__(self, message: str, *, reason: str, status: int, path: str, http_status: int | None = None,
                 data: dict[str, Any] | None = None) -> None:
        super().__init__(message, status=status, path=path, http_status=http_status, data=data)
        self.reason = reason


class JobError(LinkisError):
    """A job ended without success."""

    TEMPLATE = "Linkis job {task_id} ended {state}{detail}"

    def __init__(
        self,
        message: str,
        *,
        task_id: int | None = None,
        exec_id: str | None = None,
        state: str | None = None,
        err_code: int | None = None,
        err_desc: str | None = None,
        log_tail: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.exec_id = exec_id
        self.state = state
        self.err_code = err_code
        self.err_desc = err_desc
        self.log_tail = tuple(log_tail)

    @classmethod
    def from_job(
        cls,
        *,
        task_id: int | None,
        exec_id: str | None,
        state: str,
        err_code: int | None = None,
        err_desc: str | None = None,
        log_tail: tuple[str, ...] = (),
    ) -> "JobError":
        detail = ""
        if err_code is not None or err_desc:
            code = f"errCode {err_code}" if err_code is not None else ""
            # The first line only (an engine's errDesc can run on with hints or a stack trace);
            # the whole of it stays in `err_desc`, and the log's error lines follow the message.
            desc = (err_desc or "").strip().split("\n", 1)[0].strip()
            detail = ": " + ", ".join(part for part in (code, desc) if part)
        elif log_tail:
            detail = ": " + log_tail[-1].strip()
        message = cls.TEMPLATE.format(task_id=task_id, state=state, detail=detail)
        return cls(
            message,
            task_id=task_id,
            exec_id=exec_id,
            state=state,
            err_code=err_code,
            err_desc=err_desc,
            log_tail=log_tail,
        )

    def _render_traceback_(self) -> list[str]:
        lines = [f"{type(self).__name__}: {self}"]
        if self.log_tail:
            lines.append("Last error lines of the job's log:")
            lines.extend("  " + line for line in self.log_tail)
        return lines


class JobFailedError(JobError):
    """The job ended Failed or Timeout."""


class JobCancelledError(JobError):
    """The job ended Cancelled."""
