"""EmbeddedGateway: the gateway's configuration, its state, and the thread serving it.

    with EmbeddedGateway(data_dir, users={"alice": "pw"}) as gw:
        requests.post(gw.url + "/api/rest_j/v1/user/login", json={...})

It serves from a tornado IOLoop in a background thread (the routes: gateway/app.py); jobs run in
worker threads (gateway/jobs.py). Layout of `data_dir` is described in gateway/storage.py, fault
injection in gateway/faults.py, the command line in gateway/cli.py.
"""
from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import json
import os
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .faults import Faults
from .installed import InstalledEngines, PluginGate
from .profile import Profile, get_profile

__all__ = ["EmbeddedGateway", "GatewayConfigError", "is_loopback"]


# What only the embedded gateway needs: the `gateway` extra in pyproject.toml. A user with a real
# Linkis installs linkis-jupyter without it, so nothing outside gateway/ may import these.
GATEWAY_PACKAGES = ("tornado", "duckdb", "openpyxl", "sqlglot")
INSTALL_HINT = 'pip install "linkis-jupyter[gateway]"'

# Linkis' gateway buffers a request body up to wds.linkis.gateway.max.buffer.size, 128 MiB
# (GatewayAuthorizationFilter); its entrance has no cap on a code's length. Tornado's own default
# (100 MiB) would refuse bodies a stock Linkis reads.
MAX_BODY_BYTES = 128 * 1024 * 1024
# Seconds a connection may wait for its next request's headers (Linkis has no such rule).
IDLE_TIMEOUT = 60.0


class GatewayConfigError(ValueError):
    """The gateway cannot start with these options or packages (one line, safe to show)."""


def missing_packages() -> list[str]:
    """The packages of the `gateway` extra that are not installed."""
    return [name for name in GATEWAY_PACKAGES if importlib.util.find_spec(name) is None]


def parse_history_lag(value: float | str | None) -> float | None:
    """Seconds, or None for "never" (a negative number or the word)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "never"):
        return None
    try:
        lag = float(value)
    except ValueError:
        raise GatewayConfigError(f"history_lag must be seconds or 'never', not {value!r}") from None
    return None if lag < 0 else lag


def is_loopback(ip: str) -> bool:
    if ip in ("localhost", ""):
        return ip == "localhost"
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class EmbeddedGateway:
    """One gateway: configuration, state, and the thread serving it."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        ip: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        proxy_config: str | os.PathLike[str] | None = None,
        session_timeout: float = 3600.0,
        evict_after: float | None = None,
        history_lag: float | str | None = 1.0,
        entrance_capacity: int = 1000,
        cli_heartbeat: float | None = 30.0,
        download_max_rows: int = 5000,
        sql_limit_creators: str | None = "IDE",
        sql_limit: int = 5000,
        log_size_limit: int = 30 * 1024 * 1024,
        job_timeout: float | None = None,
        max_running_per_user: int = 4,
        write_connection_file: bool = False,
        login_attempts: int = 5,
        login_window: float = 60.0,
        fault_endpoints: bool = False,
        engines: str | list[str] | tuple[str, ...] | None = None,
        profile: str | Profile = "1.x",
        proxy_headers: bool = False,
        body_timeout: float = 120.0,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.ip = ip
        self.port = int(port)
        self.users = dict(users or {})
        self.tokens = dict(tokens or {})
        self.proxy_config = Path(proxy_config) if proxy_config else None
        self.session_timeout = float(session_timeout)
        # Linkis' entrance keeps finished jobs until their group's queue wraps (`entrance_capacity`,
        # wds.linkis.entrance.max.capacity); `evict_after` adds a time limit Linkis does not have.
        self.evict_after = float(evict_after) if evict_after is not None else None
        self.entrance_capacity = int(entrance_capacity)
        # Seconds job history trails the entrance's end of a job; None (or "never", or < 0): never.
        self.history_lag = parse_history_lag(history_lag)
        # LINKISCLI/BdpClient jobs without a /status call for this long are killed (0/None: never).
        self.cli_heartbeat = float(cli_heartbeat) if cli_heartbeat else None
        # resultsetToExcel without limit>0 exports this many rows (download.maxsize.csv/excel).
        self.download_max_rows = int(download_max_rows)
        # The entrance's SQL limit (gateway/sql_limit.py): the text of wds.linkis.sql.limit.creator,
        # which Linkis tests with String.contains (so "" or None limits no creator; the others are
        # told "will not be limited"), and wds.linkis.sql.default.limit.
        self.sql_limit_creators = str(sql_limit_creators or "")
        self.sql_limit = int(sql_limit)
        # openLog refuses bigger files with 80033 (linkis.filesystem.file.size.limit, 30M).
        self.log_size_limit = int(log_size_limit)
        self.job_timeout = float(job_timeout) if job_timeout else None
        # Seconds a request's whole body may take to arrive, so a client sending it slowly does
        # not hold its connection forever (Linkis has no such rule; 128 MiB at about 1 MB/s).
        self.body_timeout = float(body_timeout)
        if self.body_timeout <= 0:
            raise GatewayConfigError("body_timeout must be positive")
        self.max_running_per_user = int(max_running_per_user)
        self.write_connection_file = write_connection_file
        self.login_attempts = int(login_attempts)
        self.login_window = float(login_window)
        # The HTTP fault-injection endpoints let any logged-in user disturb everyone's requests:
        # only for test setups that ask for them, and never beyond loopback.
        self.fault_endpoints = bool(fault_endpoints)
        if self.fault_endpoints and not is_loopback(ip):
            raise GatewayConfigError("the fault-injection endpoints are for loopback test gateways only")
        if self.login_attempts < 1 or self.login_window <= 0:
            raise GatewayConfigError("login_attempts must be at least 1 and login_window positive")
        if self.entrance_capacity < 2 or self.download_max_rows < 1 or self.log_size_limit < 0:
            raise GatewayConfigError("entrance_capacity must be at least 2, download_max_rows at least 1, "
                                     "log_size_limit not negative")
        if self.sql_limit < 0:
            raise GatewayConfigError(f"sql_limit must be 0 or more rows, not {self.sql_limit}")
        if self.max_running_per_user < 1:
            raise GatewayConfigError("max_running_per_user must be at least 1")
        if self.session_timeout <= 0:
            raise GatewayConfigError("session_timeout must be positive")
        if self.proxy_config is not None and not self.proxy_config.is_file():
            raise GatewayConfigError(f"proxy config file not found: {self.proxy_config}")
        try:
            # Which Linkis to behave as (gateway/profile.py); handlers read `gw.profile.<flag>`.
            self.profile: Profile = get_profile(profile)
            # The engine-version pairs this gateway has plugins for (gateway/installed.py);
            # `self.engines` is the engine manager, so the list has its own name.
            self.installed_engines = InstalledEngines.parse(engines)
        except ValueError as e:
            raise GatewayConfigError(str(e)) from None
        # The seed's Proxy-User/Validation-Code headers are no Linkis feature: only on request,
        # and only with a proxy.properties saying who may be proxied.
        self.proxy_headers = bool(proxy_headers)
        if self.proxy_headers and self.proxy_config is None:
            raise GatewayConfigError("proxy_headers needs a proxy_config (proxy.properties) naming who may be proxied")
        if not is_loopback(ip) and not (self.users or self.tokens):
            raise GatewayConfigError(
                f"refusing to listen on {ip} without a password or token: "
                "anyone who can reach it could run code as any user"
            )
        # The first configured credentials: what the CLI's connection file and tests log in with.
        self.user: str | None = next(iter(self.users), None)
        self.password: str | None = self.users.get(self.user) if self.user else None
        self.token: str | None = next(iter(self.tokens), None)
        self.faults = Faults()
        self.url = ""
        self.connection_file: Path | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.sessions: Any = None
        self.login_throttle: Any = None
        self.storage: Any = None
        self.engines: Any = None
        self.jobs: Any = None

    def __repr__(self) -> str:
        return f"EmbeddedGateway(url={self.url or None!r}, data_dir={str(self.data_dir)!r})"

    def __enter__(self) -> EmbeddedGateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmbeddedGateway:
        """Open the data dir, bind, and serve from a background thread; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("this gateway is already started")
        missing = missing_packages()
        if missing:
            raise GatewayConfigError(f"the embedded gateway needs {', '.join(missing)}: {INSTALL_HINT}")
        from tornado.netutil import bind_sockets

        from .auth import LoginThrottle, Sessions
        from .engines import EngineManager
        from .jobs import JobManager
        from .storage import Storage

        self.data_dir.mkdir(parents=True, exist_ok=True)
        sockets = bind_sockets(self.port, self.ip)
        try:
            self.storage = Storage(self.data_dir)
            host, port = sockets[0].getsockname()[:2]
            self.engines = EngineManager(self.data_dir, instance=f"{host}:{port}",
                                         ask_log=self.profile.engine_ask_log)
            self.port = port
            display_host = f"[{host}]" if ":" in host else host
            self.url = f"http://{display_host}:{port}"
            self.sessions = Sessions(self.session_timeout)
            self.login_throttle = LoginThrottle(self.login_attempts, self.login_window)
            self.jobs = JobManager(
                self.storage,
                # Jobs reach the engines through the plugin check, as on LinkisManager.
                PluginGate(self.engines, self.storage, self.installed_engines, self.profile, f"{host}:{port}"),
                instance=f"{host}:{port}",
                evict_after=self.evict_after, job_timeout=self.job_timeout,
                max_running_per_user=self.max_running_per_user,
                history_lag=self.history_lag, entrance_capacity=self.entrance_capacity,
                cli_heartbeat=self.cli_heartbeat, log_file_one_based=self.profile.log_file_one_based,
            )
        except BaseException:
            for s in sockets:
                s.close()
            self._close_backends()
            raise
        self._thread = threading.Thread(
            target=self._serve, args=(sockets,), name=f"linkis-gateway-{port}", daemon=True
        )
        self._thread.start()
        if not self._started.wait(30) or self._start_error is not None:
            self.stop()
            raise RuntimeError(f"the gateway did not start: {self._start_error}")
        if self.write_connection_file:
            self._write_connection_file()
        return self

    def _serve(self, sockets: list[socket.socket]) -> None:
        from tornado.httpserver import HTTPServer

        from .app import make_app

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            # A body over MAX_BODY_BYTES, or one slower than body_timeout, closes the connection
            # (tornado answers an oversized Content-Length with a bare 400).
            self._server = HTTPServer(make_app(self), xheaders=False, idle_connection_timeout=IDLE_TIMEOUT,
                                      body_timeout=self.body_timeout, max_body_size=MAX_BODY_BYTES)
            self._server.add_sockets(sockets)
        except BaseException as e:
            self._start_error = e
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop serving, kill running jobs, stop engine processes; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            async def shutdown() -> None:
                if self._server is not None:
                    self._server.stop()
                    try:
                        await asyncio.wait_for(self._server.close_all_connections(), 2)
                    except asyncio.TimeoutError:
                        pass
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()
                loop.stop()

            loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
            thread.join(10)
        self._thread = None
        self._loop = None
        self._server = None
        self._close_backends()
        self._remove_connection_file()

    def _close_backends(self) -> None:
        if self.jobs is not None:
            self.jobs.close()
            self.jobs = None
        if self.engines is not None:
            self.engines.close()
            self.engines = None
        if self.storage is not None:
            self.storage.close()
            self.storage = None

    def expire_sessions(self) -> None:
        """End every login session now (fault injection; see gateway/faults.py)."""
        if self.sessions is not None:
            self.sessions.expire_all()

    # -- connection file ---------------------------------------------------------------------

    def _write_connection_file(self) -> None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        path = runtime / "linkis-gateway.json"
        content = {"url": self.url, "user": self.user, "token": self.token, "pid": os.getpid()}
        # Created 0600 from the start: it may hold a token.
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(content, f)
        os.chmod(path.with_suffix(".tmp"), 0o600)
        os.replace(path.with_suffix(".tmp"), path)
        self.connection_file = path

    def _remove_connection_file(self) -> None:
        path, self.connection_file = self.connection_file, None
        if path is None:
            return
        try:
            ours = json.loads(path.read_text()).get("url") == self.url
        except (OSError, ValueError):
            return
        if ours:
            path.unlink(missing_ok=True)
