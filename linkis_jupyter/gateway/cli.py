"""`linkis-jupyter gateway`: run the embedded Linkis-compatible gateway in the foreground.

The first line printed is the URL. A connection file (`linkis-gateway.json` in the Jupyter runtime
dir, mode 0600: url, user, token, pid) lets a client with no configuration find it. With neither
--password nor --token, a random token is made and written only to that file, never printed.

The password is best given in a file (--password-file) or LINKIS_GATEWAY_PASSWORD: any local
account reads a command line in `ps`. The gateway runs in an empty working directory, so a
relative path in SQL names the user's own files only (engine_sql.confine).
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .installed import DEFAULT_ENGINES

DEFAULT_PORT = 9001

PASSWORD_IN_PS = ("linkis-jupyter gateway: warning: --password is visible to every local account "
                  "(ps, /proc/<pid>/cmdline); use --password-file or LINKIS_GATEWAY_PASSWORD")
SHARED_RIGHTS = ("linkis-jupyter gateway: listening on {ip}: every user's jobs run with this "
                 "gateway's OS rights (uid {uid}); a team shares a real Linkis")


def default_data_dir() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "linkis-gateway"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "gateway",
        help="run the embedded Linkis-compatible gateway (DuckDB SQL, Python, shell)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --password or --token)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}, Linkis' gateway port; 0 picks a free one)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="job history, logs, results and per-user data (default: <jupyter data dir>/linkis-gateway)")
    p.add_argument("--user", default=None,
                   help="the user to log in as (default: the login name of this account)")
    p.add_argument("--password", default=None,
                   help="password of --user for /user/login (default: LINKIS_GATEWAY_PASSWORD, else none); "
                   "visible in ps: prefer --password-file")
    p.add_argument("--password-file", type=Path, default=None,
                   help="a file whose first line is the password of --user")
    p.add_argument("--token", default=None,
                   help="a Token-Code accepted for any user (default: LINKIS_GATEWAY_TOKEN, else a random one)")
    p.add_argument("--proxy-config", type=Path, default=None,
                   help="proxy.properties with lines token=user1,user2 or token=* (enables /user/proxy, as "
                   "wds.linkis.gateway.conf.enable.proxy.user=true)")
    p.add_argument("--proxy-headers", action="store_true",
                   help="also honour the Proxy-User and Validation-Code request headers of the 0.x seed document "
                   "(no Linkis release reads them; needs --proxy-config)")
    p.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                   help="installed engine plugins, <engine>-<version> comma-separated; the first version of an "
                   "engine is its default (default: %(default)s); other versions fail as on Linkis")
    p.add_argument("--profile", choices=("1.x", "0.x"), default="1.x",
                   help="behave as Linkis release-1.8.0 (1.x, default) or 0.11.0 with one entrance per engine (0.x)")
    p.add_argument("--session-timeout", type=float, default=3600.0, help="login session timeout, seconds")
    p.add_argument("--job-timeout", type=float, default=None, help="end jobs running longer as Timeout, seconds")
    p.add_argument("--evict-after", type=float, default=None,
                   help="also evict finished jobs from the entrance after this many seconds "
                   "(default: never; Linkis evicts by count only, see --entrance-capacity)")
    p.add_argument("--entrance-capacity", type=int, default=1000,
                   help="jobs one <creator>_<user>_<engine> group holds, as Linkis' "
                   "wds.linkis.entrance.max.capacity (default 1000); the oldest finished leave first")
    p.add_argument("--history-lag", default="1.0",
                   help="seconds job history trails the entrance's end of a job (default 1.0; "
                   "'never' or a negative number: it never turns final while the gateway runs)")
    p.add_argument("--cli-heartbeat", type=float, default=30.0,
                   help="kill LINKISCLI/BdpClient jobs after this many seconds without a /status call "
                   "(default 30, Linkis' linkis.entrance.cli.heartbeat.threshold.sec; 0: never)")
    p.add_argument("--download-max-rows", type=int, default=5000,
                   help="rows resultsetToExcel exports without limit>0 (default 5000, as Linkis)")
    p.add_argument("--sql-limit-creators", default="IDE",
                   help="creators whose SELECTs the entrance limits, as Linkis' wds.linkis.sql.limit.creator "
                   "(default IDE; Linkis tests creator-in-text, so IDE also catches ID and E; '' limits none)")
    p.add_argument("--sql-limit", type=int, default=5000,
                   help="rows those SELECTs are limited to, as Linkis' wds.linkis.sql.default.limit (default 5000)")
    p.add_argument("--max-running", type=int, default=4, help="jobs one user runs at once; more wait as Scheduled")
    p.add_argument("--fault-endpoints", action="store_true",
                   help="for tests: enable POST /gateway/faults and /gateway/expireSessions (loopback only; "
                   "see linkis_jupyter/gateway/faults.py)")
    p.set_defaults(run=run)
    return p


def _default_user() -> str:
    import getpass

    try:
        name = getpass.getuser()
    except Exception:
        name = ""
    from .storage import valid_user_name

    name = name.lower()
    return name if valid_user_name(name) else "linkis"


default_user = _default_user  # the public name (demo.py uses it)


def run(args: argparse.Namespace) -> int:
    from .server import EmbeddedGateway, GatewayConfigError

    user = (args.user or _default_user()).strip().lower()
    if args.password is not None:
        print(PASSWORD_IN_PS, file=sys.stderr, flush=True)
    try:
        password = _password(args)
    except (OSError, ValueError) as e:
        print(f"linkis-jupyter gateway: error: --password-file: {e}", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("LINKIS_GATEWAY_TOKEN") or None
    from .server import is_loopback
    from .storage import valid_user_name

    if not valid_user_name(user):
        print(f"linkis-jupyter gateway: error: invalid user name {user!r}", file=sys.stderr)
        return 2
    if not is_loopback(args.ip) and not (password or token):
        print(f"linkis-jupyter gateway: error: refusing to listen on {args.ip} without --password or "
              "--token: anyone who can reach it could run code as any user", file=sys.stderr)
        return 2
    if not password and not token:
        token = secrets.token_urlsafe(24)
    data_dir = (args.data_dir or default_data_dir()).absolute()
    proxy_config = args.proxy_config.absolute() if args.proxy_config else None
    empty = _empty_working_directory()
    try:
        gw = EmbeddedGateway(
            data_dir,
            ip=args.ip, port=args.port,
            users={user: password} if password else {},
            tokens={token: "*"} if token else {},
            proxy_config=proxy_config,
            proxy_headers=args.proxy_headers,
            engines=args.engines,
            profile=args.profile,
            session_timeout=args.session_timeout,
            evict_after=args.evict_after,
            entrance_capacity=args.entrance_capacity,
            history_lag=args.history_lag,
            cli_heartbeat=args.cli_heartbeat,
            download_max_rows=args.download_max_rows,
            sql_limit_creators=args.sql_limit_creators,
            sql_limit=args.sql_limit,
            job_timeout=args.job_timeout,
            max_running_per_user=args.max_running,
            fault_endpoints=args.fault_endpoints,
            write_connection_file=True,
        )
        gw.user = user
        gw.start()
    except (GatewayConfigError, OSError) as e:
        print(f"linkis-jupyter gateway: error: {e}", file=sys.stderr)
        _remove(empty)
        return 1
    print(gw.url, flush=True)
    print(f"user: {user}; data dir: {gw.data_dir}; connection file: {gw.connection_file}", flush=True)
    if not is_loopback(args.ip):
        # Its users emulate Linkis' auth, not its isolation: Linkis runs each engine as the job's
        # OS user, this gateway runs every job as itself.
        print(SHARED_RIGHTS.format(ip=args.ip, uid=os.getuid()), flush=True)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(3600):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        gw.stop()
        _remove(empty)
    return 0


def _password(args: argparse.Namespace) -> str | None:
    """--password, else the first line of --password-file, else LINKIS_GATEWAY_PASSWORD."""
    if args.password:
        return args.password
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0]:
            raise ValueError(f"{args.password_file} holds no password on its first line")
        return lines[0]
    return os.environ.get("LINKIS_GATEWAY_PASSWORD") or None


def _empty_working_directory() -> Path:
    """Makes an empty directory, mode 0500, the process's working directory: DuckDB looks a
    relative path up there before the user's area (engine_sql.confine). Jobs and the gateway's
    own files all have absolute paths. (DuckDB needs a working directory that exists.)"""
    empty = Path(tempfile.mkdtemp(prefix="linkis-gateway-cwd-"))
    empty.chmod(0o500)
    os.chdir(empty)
    return empty


def _remove(empty: Path) -> None:
    try:
        os.chdir("/")
        empty.rmdir()
    except OSError:
        pass
