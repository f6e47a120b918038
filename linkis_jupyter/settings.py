"""LinkisClient's settings: traitlets with their environment, linkis-cli and connection-file layers.

Each setting takes the first of: a constructor argument or traitlets config (`c.LinkisClient.*`,
`%config`), its environment variable (named in its help), a linkis-cli.properties file, the
embedded gateway's connection file, its default. `describe_config()` says which one it came from;
nothing here ever shows a password, token or validation code.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from traitlets import All, Bool, CaselessStrEnum, Dict, Float, Int, TraitError, Unicode, default, observe, validate
from traitlets.config import Configurable

from .errors import ConfigError
from .wire import REST_PREFIX

# How a job runs as `proxy_user` (see the proxy_mode trait).
PROXY_MODES = ("auto", "execute_user", "login", "headers")
MASK = "********"


def _as_bool(text: str) -> bool:
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _runtime_connection_file() -> str:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return ""
    return os.path.join(jupyter_runtime_dir(), "linkis-gateway.json")


@dataclass(frozen=True)
class _Layered:
    """A setting that its environment variable (and maybe linkis-cli.properties) can give."""

    env: str
    convert: Callable[[str], Any] = str
    # What gives it in linkis-cli.properties (for its help; read by ClientSettings._cli_values).
    cli: str = ""
    # The default when it is not the trait's own (which the trait then leaves empty).
    fallback: Callable[[], Any] | None = None


# Every setting with layers below the constructor and traitlets config: one @default each
# (made in ClientSettings' body), and the "Env: ..." end of its help (_help). Their defaults
# are the traits' own.
_LAYERED = {
    "gateway_url": _Layered("LINKIS_GATEWAY_URL", cli="wds.linkis.client.common.gatewayUrl"),
    "user": _Layered("LINKIS_USER", cli="submitUser (or tokenKey with authStrategy=static)"),
    "password": _Layered("LINKIS_PASSWORD", cli="tokenValue with authStrategy=static, or submitPassword"),
    "token": _Layered("LINKIS_TOKEN", cli="tokenValue with authStrategy=token"),
    "proxy_user": _Layered("LINKIS_PROXY_USER", cli="proxyUser"),
    "validation_code": _Layered("LINKIS_VALIDATION_CODE"),
    "auth": _Layered("LINKIS_AUTH", str.lower, cli="authStrategy (token|static)"),
    "proxy_mode": _Layered("LINKIS_PROXY_MODE", str.lower),
    "api": _Layered("LINKIS_API", str.lower),
    "connect_timeout": _Layered("LINKIS_CONNECT_TIMEOUT", float),
    "read_timeout": _Layered("LINKIS_READ_TIMEOUT", float),
    "retries": _Layered("LINKIS_RETRIES", int),
    "verify": _Layered("LINKIS_VERIFY", _as_bool),
    "ca_bundle": _Layered("LINKIS_CA_BUNDLE"),
    "yarn_web_url": _Layered("LINKIS_YARN_WEB_URL"),
    "poll_interval_max": _Layered("LINKIS_POLL_INTERVAL_MAX", float),
    "unreachable_timeout": _Layered("LINKIS_UNREACHABLE_TIMEOUT", float),
    "cli_config": _Layered("LINKIS_CLI_CONF"),
    "connection_file": _Layered("LINKIS_CONNECTION_FILE", fallback=_runtime_connection_file),
}
_ENV = {name: layered.env for name, layered in _LAYERED.items()}
_SECRETS = ("password", "token", "validation_code")
# Reset the HTTP session (cookies, login) when one of these changes.
_CONNECTION_NAMES = ("gateway_url", "user", "password", "token", "proxy_user", "validation_code", "auth", "proxy_mode")
_SECRET_HEADER = re.compile(r"token|code|auth|cookie|secret|password|key", re.I)
_CLI_PREFIX = "wds.linkis.client.common."
_RANK = {"explicit": 0, "env": 1, "file": 2, "connection": 3, "default": 4}
# What each numeric setting takes, and how that is said.
_NUMBER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "connect_timeout": (lambda v: v > 0, "a positive number of seconds"),
    "read_timeout": (lambda v: v > 0, "a positive number of seconds"),
    "retries": (lambda v: v >= 0, "0 or more"),
    "page_size": (lambda v: 1 <= v <= 100000, "between 1 and 100000 (Linkis' openFile limit)"),
    "unreachable_timeout": (lambda v: v >= 0, "0 or more seconds"),
    "poll_interval_min": (lambda v: v > 0, "positive"),
    "poll_interval_max": (lambda v: v > 0, "positive"),
    "status_interval": (lambda v: v > 0, "positive"),
    "progress_interval": (lambda v: v > 0, "positive"),
}
_URL_OK = re.compile(r"^https?://[^/\s]+")


def _help(name: str, text: str) -> str:
    """A setting's help, ending with where else it can come from."""
    layered = _LAYERED[name]
    cli = f"; linkis-cli.properties: {layered.cli}" if layered.cli else ""
    return f"{text} Env: {layered.env}{cli}."


def _layered_default(name: str) -> Any:
    """The @default of a setting of _LAYERED."""

    @default(name)
    def _default(self: "ClientSettings") -> Any:
        return self._layered(name)

    return _default


def _masked_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if _SECRET_HEADER.search(k) else v) for k, v in headers.items()}


def _read_properties(path: Path) -> dict[str, str]:
    """A Java .properties file: key=value or key: value, # and ! comments, \\ continuations."""
    values: dict[str, str] = {}
    pending = ""
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2).strip()
        else:
            values[line] = ""
    return values


def _normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    # Accept a base URL that already carries the REST prefix (the python SDK's form).
    for suffix in (REST_PREFIX, "/api/rest_j"):
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    return url


class ClientSettings(Configurable):
    """The settings of a LinkisClient and where each comes from."""

    gateway_url = Unicode(
        "http://127.0.0.1:9001",
        help=_help("gateway_url", "Linkis gateway base URL, e.g. http://127.0.0.1:9001 (no /api/rest_j/v1)."),
    ).tag(config=True)
    user = Unicode(help=_help("user", "The Linkis user (login name, or Token-User).")).tag(config=True)
    password = Unicode(help=_help("password", "Password for POST /user/login; never shown.")).tag(config=True)
    token = Unicode(
        help=_help("token", "Token sent as Token-Code with Token-User on every request; never shown.")
    ).tag(config=True)
    proxy_user = Unicode(help=_help("proxy_user", "Run jobs as this user (see proxy_mode for how).")).tag(config=True)
    validation_code = Unicode(
        help=_help("validation_code", "The proxy token of the gateway's proxy.properties, for proxy_mode login or "
                   "headers; defaults to `token`. Never shown.")
    ).tag(config=True)
    auth = CaselessStrEnum(
        ["auto", "password", "token", "none"],
        default_value="auto",
        help=_help("auth", "How to authenticate: password (/user/login + cookie), token (Token-Code/Token-User "
                   "headers), none, or auto (the one of token/password configured at the higher level; token on "
                   "a tie)."),
    ).tag(config=True)
    proxy_mode = CaselessStrEnum(
        list(PROXY_MODES),
        default_value="auto",
        help=_help("proxy_mode", "How jobs run as proxy_user: execute_user (`executeUser` in the submit body; "
                   "Linkis 1.6+ honours it with an admin token, Token-Code ADMIN-..., as linkis-cli -proxyUser "
                   "does), login (GET /user/proxy after a password login; a gateway with "
                   "wds.linkis.gateway.conf.enable.proxy.user=true and proxy.properties), headers (Proxy-User + "
                   "Validation-Code on every request, the Linkis HTTP document's form, for a gateway that "
                   "implements it), or auto (execute_user with token auth, login with password auth)."),
    ).tag(config=True)
    api = CaselessStrEnum(
        ["auto", "execute", "submit"],
        default_value="auto",
        help=_help("api", "Submit endpoint: submit (/entrance/submit, Linkis 1.x), execute (/entrance/execute, "
                   "0.x), or auto (submit, falling back once to execute on a gateway that does not know it)."),
    ).tag(config=True)
    connect_timeout = Float(10.0, help=_help("connect_timeout", "Seconds to wait for a connection.")).tag(config=True)
    read_timeout = Float(60.0, help=_help("read_timeout", "Seconds to wait for an answer.")).tag(config=True)
    retries = Int(
        3, help=_help("retries", "Retries of an idempotent request (GET) on connection errors, timeouts, "
                      "HTTP 502/503/504.")
    ).tag(config=True)
    retry_backoff = Float(0.2, help="First retry delay in seconds; doubles each retry.").tag(config=True)
    retry_backoff_max = Float(2.0, help="Largest retry delay in seconds.").tag(config=True)
    verify = Bool(True, help=_help("verify", "Verify the gateway's TLS certificate (0 or false turns it off).")).tag(
        config=True
    )
    ca_bundle = Unicode(help=_help("ca_bundle", "CA bundle file to verify TLS with.")).tag(config=True)
    yarn_web_url = Unicode(help=_help("yarn_web_url", "The YARN ResourceManager's web UI, e.g. http://rm:8088: "
                                      "a job's YARN application then links to its page there.")).tag(config=True)
    headers = Dict(
        value_trait=Unicode(), help="Extra HTTP headers sent with every request (values of secret-looking names are masked)."
    ).tag(config=True)
    poll_interval_min = Float(0.05, help="Seconds from submit to a job's first poll.").tag(config=True)
    poll_interval_max = Float(
        1.0, help=_help("poll_interval_max", "Longest pause between two polls of a running job.")
    ).tag(config=True)
    progress_interval = Float(
        3.0, help="Seconds between two progress reads of a running job (between two polls; the state "
        "is read instead while the job's log has not said it runs)."
    ).tag(config=True)
    status_interval = Float(
        20.0, help="Longest time in seconds between two /status calls for a running job. Linkis kills jobs "
        "of the creators LINKISCLI and BdpClient after 30 s without one (CliHeartbeatMonitor)."
    ).tag(config=True)
    unreachable_timeout = Float(
        600.0, help=_help("unreachable_timeout", "Seconds a job being waited for, its results, or the lost answer "
                          "to a submit are retried while the gateway cannot be reached (refused connections, "
                          "timeouts, HTTP 502/503/504), before giving up; 0 gives up after the request's own "
                          "retries.")
    ).tag(config=True)
    page_size = Int(
        5000, help="Rows of the first openFile page of a result set, as Linkis' own UI and linkis-cli "
        "ask (Linkis builds a whole page in memory). Pages then double while they come back within "
        "a second, up to 100000 rows (Linkis' limit), and a page that times out or meets a "
        "502/503/504 is asked for again at half the size, down to 500 rows."
    ).tag(config=True)
    null_value = Unicode(
        help="Sent to openFile as nullValue when set, instead of LINKIS_NULL (with which Linkis 1.5+ "
        "sends a SQL NULL as a JSON null, apart from the text 'NULL'). Linkis then writes this text "
        "for a NULL, for the text 'NULL' and for an empty string alike, and each reads as a missing value."
    ).tag(config=True)
    engine_versions = Dict(
        value_trait=Unicode(),
        help="Installed engine versions, e.g. {'spark': '3.2.1', 'hive': '3.1.3'}: a job for one of these "
        "engines goes to /entrance/submit with that version in its engineType label. An engine given "
        "without a version and not listed here goes to /entrance/execute, where the server uses its own "
        "default version.",
    ).tag(config=True)
    cli_config = Unicode(
        "~/.linkis/linkis-cli.properties", help=_help("cli_config", "linkis-cli.properties to read settings from.")
    ).tag(config=True)
    connection_file = Unicode(
        help=_help("connection_file", "The embedded gateway's connection file (default <jupyter runtime "
                   "dir>/linkis-gateway.json).")
    ).tag(config=True)

    # The @default of each setting of _LAYERED: from its layers, else its trait's default.
    for _name in _LAYERED:
        vars()[f"_default_{_name}"] = _layered_default(_name)
    del _name

    def __init__(self, **kwargs: Any) -> None:
        # None means "not given", so that callers can pass through optional arguments.
        kwargs = {name: value for name, value in kwargs.items() if value is not None}
        self._explicit: set[str] = set()
        self._cli_cache: tuple[str, dict[str, str]] | None = None
        self._conn_cache: tuple[str, dict[str, Any]] | None = None
        super().__init__(**kwargs)
        self._explicit |= set(kwargs) & set(_CONFIG_NAMES)
        self._explicit |= set(self._find_my_config(self.config)) & set(_CONFIG_NAMES)

    # ------------------------------------------------------------------ configuration layers

    @observe(All)
    def _on_setting_changed(self, change: Any) -> None:
        if change["name"] not in _CONFIG_NAMES:
            return
        self._explicit.add(change["name"])
        if change["name"] in _CONNECTION_NAMES:
            self._connection_changed()

    def _connection_changed(self) -> None:
        """A setting of the connection itself changed (LinkisClient drops its session)."""

    def _cli_values(self) -> tuple[str, dict[str, str]]:
        """Settings from linkis-cli.properties, by trait name (read once per path)."""
        path = os.path.expanduser(self.cli_config)
        if self._cli_cache is not None and self._cli_cache[0] == path:
            return self._cli_cache
        values: dict[str, str] = {}
        try:
            props = _read_properties(Path(path)) if path and os.path.isfile(path) else {}
        except OSError:
            props = {}

        def prop(key: str) -> str:
            return props.get(_CLI_PREFIX + key, "").strip()

        if prop("gatewayUrl"):
            values["gateway_url"] = prop("gatewayUrl")
        strategy = prop("authStrategy").lower()
        if prop("submitUser"):
            values["user"] = prop("submitUser")
        if prop("submitPassword"):
            values["password"] = prop("submitPassword")
        if prop("proxyUser"):
            values["proxy_user"] = prop("proxyUser")
        if strategy == "token":
            values["auth"] = "token"
            if prop("tokenValue"):
                values["token"] = prop("tokenValue")
        elif strategy == "static":
            # The Java client's static strategy logs in with tokenKey/tokenValue as user/password.
            values["auth"] = "password"
            if prop("tokenKey") and "user" not in values:
                values["user"] = prop("tokenKey")
            if prop("tokenValue"):
                values["password"] = prop("tokenValue")
        self._cli_cache = (path, values)
        return self._cli_cache

    def _connection_values(self) -> tuple[str, dict[str, Any]]:
        """url/user/token from the embedded gateway's connection file, if its process is alive."""
        path = os.path.expanduser(self.connection_file)
        if self._conn_cache is not None and self._conn_cache[0] == path:
            return self._conn_cache
        values: dict[str, Any] = {}
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
            pid = int(info.get("pid") or 0)
            alive = True
            if pid > 0:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    pass
            if alive and info.get("url"):
                values = {k: str(info[k]) for k in ("url", "user", "token") if info.get(k)}
        except (OSError, ValueError, TypeError, AttributeError):
            values = {}
        self._conn_cache = (path, values)
        return self._conn_cache

    def _layer(self, name: str) -> tuple[Any, str, str] | None:
        """(value, rank, description) from env, cli properties or the connection file."""
        var = _ENV.get(name)
        if var and os.environ.get(var, "") != "":
            return os.environ[var], "env", f"env {var}"
        if name not in ("cli_config", "connection_file"):
            path, cli = self._cli_values()
            if name in cli:
                return cli[name], "file", f"file {path}"
            if name in ("gateway_url", "user", "token"):
                conn_path, conn = self._connection_values()
                if name == "gateway_url" and "url" in conn:
                    return conn["url"], "connection", f"connection file {conn_path}"
                # The file's user and token belong to its gateway only: never send them elsewhere.
                if name in conn and "url" in conn and _normalize_url(conn["url"]) == self.gateway_url:
                    return conn[name], "connection", f"connection file {conn_path}"
        return None

    def _layered(self, name: str) -> Any:
        """A setting of _LAYERED from its layers, else its default."""
        layered = _LAYERED[name]
        found = self._layer(name)
        if found is None:
            return layered.fallback() if layered.fallback else self.traits()[name].default_value
        value, _rank, where = found
        try:
            if isinstance(value, str) and layered.convert is not str:
                value = layered.convert(value)
            # traitlets does not validate dynamic defaults: values from env and files are checked here.
            return self.traits()[name]._validate(self, value)
        except (ValueError, TraitError) as exc:
            detail = str(exc).splitlines()[0] if isinstance(exc, TraitError) else f"{value!r} is not valid"
            raise ConfigError(f"{where}: {self.redact(detail)} (LinkisClient.{name})") from None

    def _rank(self, name: str) -> int:
        if name in self._explicit:
            return _RANK["explicit"]
        found = self._layer(name)
        return _RANK[found[1]] if found else _RANK["default"]

    @validate("gateway_url")
    def _check_gateway_url(self, proposal: Any) -> str:
        url = _normalize_url(proposal["value"])
        if not _URL_OK.match(url):
            raise TraitError(f"gateway_url must start with http:// or https://, not {self.redact(url)!r}")
        try:
            parts = urlsplit(url)
            parts.port
        except ValueError as e:
            raise TraitError(f"gateway_url {self.redact(url)!r} is not a valid URL: {e}") from None
        if not parts.hostname or any(c.isspace() for c in parts.netloc):
            raise TraitError(f"gateway_url {self.redact(url)!r} is not a valid URL: no valid host name") from None
        return url

    @validate(*_NUMBER_RULES)
    def _check_number(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        holds, rule = _NUMBER_RULES[name]
        if not holds(value):
            raise TraitError(f"{name} must be {rule}")
        return value

    @property
    def auth_method(self) -> str:
        """The authentication in effect: "password", "token" or "none"."""
        if self.auth != "auto":
            return self.auth
        if self.token and self.password:
            return "token" if self._rank("token") <= self._rank("password") else "password"
        if self.token:
            return "token"
        if self.password:
            return "password"
        return "none"

    @property
    def execute_user(self) -> str:
        """Who jobs run as: the proxy user if one is set, else the user."""
        return self.proxy_user or self.user

    @property
    def proxy_method(self) -> str:
        """How the proxy user is announced: "execute_user", "login", "headers", or "" without one.

        A combination no Linkis can honour is refused here, before anything is sent: token
        headers win over the session a /user/proxy login makes (SecurityFilter tries the token
        first), and `executeUser` is read only next to an admin token."""
        if not self.proxy_user:
            return ""
        mode = self.proxy_mode
        if mode == "auto":
            mode = "execute_user" if self.auth_method == "token" else "login"
        if mode == "execute_user" and self.auth_method != "token":
            raise ConfigError("proxy_mode execute_user needs token auth with an admin token (Token-Code ADMIN-...): "
                              "set LinkisClient.token, or use proxy_mode login with a password")
        if mode == "login" and self.auth_method != "password":
            raise ConfigError("proxy_mode login needs password auth (a token would override the proxy session): "
                              "set LinkisClient.password, or use proxy_mode execute_user with an admin token")
        return mode

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: str | None = None) -> str:
        """The help of one setting, as `%config LinkisClient` prints it: secrets are masked in
        its "Current:" line."""
        if inst is None or (trait.name not in _SECRETS and trait.name != "headers"):
            return super().class_get_trait_help(trait, inst, helptext)
        text = super().class_get_trait_help(trait, None, helptext)
        value = getattr(inst, trait.name)
        if trait.name == "headers":
            shown: Any = _masked_headers(value)
        else:
            shown = MASK if value else ""
        return re.sub(r"\n    Default: .*$", "", text) + f"\n    Current: {shown!r}"

    def url_from_dead_gateway(self) -> str:
        """For a "cannot connect" error: when the gateway URL came from the embedded gateway's
        connection file, the note naming that file (its gateway has stopped, the file stayed);
        else ""."""
        if "gateway_url" in self._explicit:
            return ""
        found = self._layer("gateway_url")
        if found is None or found[1] != "connection":
            return ""
        path = os.path.expanduser(self.connection_file)
        return (f" (from the connection file {path} of a gateway that is no longer running; "
                "start one with `linkis-jupyter gateway`)")

    def describe_config(self) -> list[tuple[str, str, str]]:
        """(setting, value with secrets masked, where it came from), for every setting."""
        rows = []
        for name in _CONFIG_NAMES:
            value = getattr(self, name)
            if name in _SECRETS:
                shown = MASK if value else ""
            elif name == "headers":
                shown = json.dumps(_masked_headers(value))
            elif isinstance(value, dict):
                shown = json.dumps(value)
            else:
                shown = self.redact(str(value))
            if name in self._explicit:
                source = "argument or config"
            else:
                found = self._layer(name)
                source = found[2] if found else "default"
            rows.append((name, shown, source))
        rows.append(("auth (in effect)", self.auth_method, "derived"))
        return rows

    def __repr__(self) -> str:
        who = self.user or "-"
        if self.proxy_user:
            who += f" as {self.proxy_user}"
        return f"<{type(self).__name__} {self.redact(self.gateway_url)} user={who} auth={self.auth_method} api={self.api}>"

    def redact(self, text: str) -> str:
        """`text` with every configured secret (and its URL-encoded form) replaced by a mask."""
        if not text:
            return text
        for name in _SECRETS:
            secret = getattr(self, name, "")
            if secret and len(secret) >= 2:
                for form in {secret, quote(secret, safe=""), quote(secret)}:
                    text = text.replace(form, MASK)
        for header, value in self.headers.items():
            if value and len(value) >= 4 and _SECRET_HEADER.search(header):
                text = text.replace(value, MASK)
        # user:password@ in a URL
        return re.sub(r"(https?://[^/\s:@]+:)[^/\s@]+@", r"\1" + MASK + "@", text)


# The settings, in the order declared above (describe_config's order).
_CONFIG_NAMES = tuple(name for name in vars(ClientSettings) if name in ClientSettings.class_trait_names(config=True))
