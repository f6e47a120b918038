"""Who may ask: login sessions, failed-login throttling, proxy.properties, tokens.

The state behind the handler's authentication (gateway/web.py `GatewayHandler.authenticate`) and
the /user endpoints (gateway/routes_user.py), as apache/linkis' SecurityFilter,
TokenAuthentication, UserRestful and ProxyUserUtils keep it.
"""
from __future__ import annotations

import ipaddress
import math
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Who:
    """Who is asking, as the handler's authentication found out."""

    user: str              # the operating user: jobs run as them, their area is served
    login_user: str        # the authenticated user (submitUser)
    via: str               # "session", "token" or "proxy-header"
    admin_token: bool = False   # a Token-Code header that is an admin token (body executeUser)


def is_admin_token(token: str | None) -> bool:
    """Configuration.isAdminToken (1.6.0+): the token starts with ADMIN-, in any case."""
    return bool(token and token.strip()) and str(token).upper().startswith("ADMIN-")


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
    """Failed logins per (user, client): after `attempts` failures within `window` seconds, that
    user's logins from that client are refused, right password or not, until the oldest failure
    is `window` seconds old. A successful login clears the count. Nothing is locked for good.

    The client is its address, or for a loopback client the OS account of the process that
    connected (`client_identity`): on a shared host every client is 127.0.0.1, and one local
    account's wrong passwords must not lock out another's. Wrong Token-Codes and proxy
    validation codes count here too, keyed on the client alone (`TOKEN_GUESS`, `PROXY_GUESS`),
    so a guesser is slowed however many user names it tries."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    @property
    def quiet(self) -> bool:
        """No failure is remembered: nothing to check (the fast path of every token request)."""
        return not self._failures

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


# Keys of code guesses; not user names (those are lower case), so they never meet a login's key.
TOKEN_GUESS = "Token-Code"
PROXY_GUESS = "Validation-Code"


def throttled_text(name: str, wait: float) -> str:
    """The refusal of a throttled login, token or proxy code (status 1)."""
    seconds = math.ceil(wait)
    return (f"Too many failed logins for {name}, try again in {seconds} s"
            f"(登录失败次数过多，请{seconds}秒后重试)！")


def _proc_net_address(host: str, port: int, family: int) -> str:
    """An address as /proc/net/tcp{,6} writes it: each 32-bit word in host (little-endian) order."""
    if family == socket.AF_INET:
        raw = socket.inet_pton(socket.AF_INET, host)
    else:
        raw = socket.inet_pton(socket.AF_INET6, host.split("%")[0])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return f"{words.hex().upper()}:{port:04X}"


def loopback_peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a loopback TCP connection: its own end of the
    connection is a line of /proc/net/tcp (tcp6) with that uid. None where that is unknown."""
    try:
        family = sock.family
        peer, local = sock.getpeername(), sock.getsockname()
        if not ipaddress.ip_address(peer[0].split("%")[0]).is_loopback and not peer[0].startswith("::ffff:127."):
            return None
        theirs = _proc_net_address(peer[0], peer[1], family)
        ours = _proc_net_address(local[0], local[1], family)
        table = "/proc/net/tcp" if family == socket.AF_INET else "/proc/net/tcp6"
        with open(table, encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) > 7 and fields[1] == theirs and fields[2] == ours:
                    return int(fields[7])
    except (OSError, ValueError, StopIteration):
        return None
    return None


def client_identity(remote_ip: str, sock: socket.socket | None) -> str:
    """Who a throttle counts failures of: the client's address, or `uid <n>` for a loopback
    client whose OS account the kernel names."""
    try:
        loopback = ipaddress.ip_address((remote_ip or "").split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    uid = loopback_peer_uid(sock) if loopback and sock is not None else None
    return f"uid {uid}" if uid is not None else (remote_ip or "")


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
