"""What to run: `JobSpec`, the one table of Linkis engines and run types, and the submit bodies.

    JobSpec(code="select 1", engine="spark")            # run type sql, the server's spark version
    JobSpec(code="select 1", engine="spark-3.2.1")      # that version, through /entrance/submit
    JobSpec(code="print(1)", engine="python", run_type="sql")   # ConfigError: python takes python, py, py3

An engine written without a version is never given one here: the installed version is a site's
choice (Linkis 1.4 to 1.8 default to spark 3.2.1 and hive 3.1.3, 1.3 and master to 2.4.3 and
2.3.3; `linkis-dist/bin/install.sh` sets each site's), so such a job goes to `/entrance/execute`,
where the server fills in its own default (CommonEntranceParser.parseToOldTask). A version,
written or from `LinkisClient.engine_versions`, goes in the `engineType` label of
`/entrance/submit`, which requires one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ConfigError

__all__ = [
    "JobSpec", "Engine", "ENGINES", "RUN_TYPE_LANGUAGE", "SQL_RUN_TYPES", "NO_LIMIT_LINES",
    "endpoint_for", "submit_body", "execute_body",
]


@dataclass(frozen=True)
class Engine:
    """A Linkis engine and the run types (codeType) it takes; the first is its default."""

    name: str
    run_types: tuple[str, ...]

    @property
    def default_run_type(self) -> str:
        return self.run_types[0]


# Linkis' RunType.scala and each engine plugin's code types; the SQL engines also take "sql".
# An engine not listed here is sent as it is, with the run type the user gives.
ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine("spark", ("sql", "scala", "py", "python", "pyspark", "r", "jar", "data_calc")),
    Engine("hive", ("hql", "sql")),
    Engine("python", ("python", "py", "py3")),
    Engine("shell", ("shell", "sh")),
    Engine("jdbc", ("jdbc", "sql")),
    Engine("trino", ("tsql", "sql")),
    Engine("presto", ("psql", "sql")),
    Engine("openlookeng", ("sql",)),
    Engine("flink", ("sql", "scala")),
    Engine("elasticsearch", ("essql", "esjson")),
    Engine("pipeline", ("pipeline",)),
    Engine("nebula", ("ngql",)),
    Engine("impala", ("isql", "sql")),
    Engine("doris", ("doris", "sql")),
    Engine("repl", ("repl",)),
    Engine("io_file", ("io_file",)),
    Engine("io_hdfs", ("io_hdfs",)),
)}

# The language a kernel announces for a run type (syntax highlighting in JupyterLab).
RUN_TYPE_LANGUAGE = {
    "sql": "sql", "hql": "sql", "jdbc": "sql", "psql": "sql", "tsql": "sql", "isql": "sql",
    "py": "python", "python": "python", "py3": "python", "pyspark": "python",
    "scala": "scala",
    "sh": "shell", "shell": "shell",
}


# The run types Linkis' entrance treats as SQL (CodeAndRunTypeUtils' "sql" language; master adds
# aisql and starrocks): for creator IDE (wds.linkis.sql.limit.creator) its
# SQLLimitEntranceInterceptor adds ` limit 5000` to each SELECT without a limit and lowers a bigger
# one to 5000 (wds.linkis.sql.default.limit), unless the code holds the first of NO_LIMIT_LINES;
# CommentInterceptor then removes the line, a SQL comment. 0.x limited every creator's SQL and
# took the second line (SQLExplain, 0.11.0).
SQL_RUN_TYPES = frozenset({"sql", "hql", "jdbc", "hive", "psql", "fql", "tsql", "nebula", "ngql", "aisql",
                           "starrocks"})
NO_LIMIT_LINES = ("--set ide.engine.no.limit.allow=true", "--set wds.linkis.engine.no.limit.allow=true")


def _check_unicode(what: str, text: str) -> None:
    # A lone surrogate (a broken paste, a file name decoded with surrogateescape) cannot travel as
    # UTF-8: say where it is instead of letting the gateway fail on it.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        line = text.count("\n", 0, e.start) + 1
        raise ConfigError(f"{what} holds a character that is not valid Unicode text "
                          f"({text[e.start]!r}, line {line}); retype or remove it") from None


@dataclass
class JobSpec:
    """What to run. `engine` may carry a version ("spark-3.2.1"); `run_type` defaults from the
    engine and must be one the engine takes. Every mistake is a ConfigError, before anything is sent."""

    code: str
    engine: str = "spark"
    run_type: str | None = None
    creator: str = "IDE"
    variables: Mapping[str, str] = field(default_factory=dict)
    startup: Mapping[str, Any] = field(default_factory=dict)
    runtime: Mapping[str, Any] = field(default_factory=dict)
    special: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)
    script_path: str | None = None
    # Ask Linkis' entrance not to limit the job's SELECTs (NO_LIMIT_LINES go before the code);
    # only a job the entrance may limit (`limited`) is sent them.
    no_limit: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise ConfigError("the job has no code to run")
        engine = (self.engine or "").strip()
        if not engine:
            raise ConfigError("the job needs an engine, e.g. 'spark' or 'spark-3.2.1'")
        self.engine = engine
        # Linkis' userCreator label is "<user>-<creator>": the creator can hold no '-'.
        if not self.creator or not re.fullmatch(r"[A-Za-z0-9_.]+", self.creator):
            raise ConfigError(f"creator must be letters, digits, '_' or '.', not {self.creator!r}")
        known = ENGINES.get(self.engine_name)
        if self.run_type is None or not str(self.run_type).strip():
            if known is None:
                raise ConfigError(f"no default run type for engine {self.engine_name!r}: give run_type")
            self.run_type = known.default_run_type
        else:
            self.run_type = str(self.run_type).strip().lower()
        if known is not None and self.run_type not in known.run_types:
            raise ConfigError(f"engine {known.name} does not take run type {self.run_type!r} "
                              f"(it takes {', '.join(sorted(known.run_types))})")
        self.variables = {str(k): str(v) for k, v in dict(self.variables).items()}
        _check_unicode("the code", self.code)
        for kind, settings in (("variable", self.variables), ("startup parameter", self.startup),
                               ("runtime parameter", self.runtime), ("label", self.labels)):
            for key, value in settings.items():
                _check_unicode(f"{kind} {key!r}", f"{key}={value}")

    @property
    def engine_name(self) -> str:
        """"spark" of "spark-3.2.1"."""
        return self.engine.split("-", 1)[0].lower()

    @property
    def engine_version(self) -> str | None:
        """"3.2.1" of "spark-3.2.1"; None when no version was written."""
        _, sep, version = self.engine.partition("-")
        return version if sep and version else None

    @property
    def limited(self) -> bool:
        """Whether Linkis' entrance may limit this job's SELECTs: a SQL run type (1.x limits
        creator IDE's, 0.x every creator's)."""
        return self.run_type in SQL_RUN_TYPES

    @property
    def sent_code(self) -> str:
        """The code as it is sent: NO_LIMIT_LINES first when `no_limit` is asked of a job the
        entrance may limit."""
        if not (self.no_limit and self.limited):
            return self.code
        return "\n".join((*NO_LIMIT_LINES, self.code))

    def _configuration(self) -> dict[str, Any]:
        return {"startup": dict(self.startup), "runtime": dict(self.runtime), "special": dict(self.special)}


def endpoint_for(spec: JobSpec, version: str | None, *, api: str, proxy_method: str, execute_before: bool) -> str:
    """Where a job goes, "submit" or "execute", as LinkisClient.api (`api`) says: auto sends a job
    with a `version` to /entrance/submit, unless this gateway took such a job through
    /entrance/execute before (`execute_before`: a 0.x gateway), and one without to execute."""
    chosen = api
    if chosen == "auto":
        chosen = "submit" if version and not execute_before else "execute"
    if chosen == "submit" and not version:
        raise ConfigError(f"engine {spec.engine_name!r} has no version, and /entrance/submit needs one: write "
                          f"it ('{spec.engine_name}-<version>') or set LinkisClient.engine_versions")
    if chosen == "execute" and spec.engine_version and api == "execute":
        raise ConfigError(f"/entrance/execute runs the server's own {spec.engine_name} version: drop "
                          f"'-{spec.engine_version}' from the engine, or set LinkisClient.api to auto")
    if chosen == "execute" and proxy_method == "execute_user":
        raise ConfigError("a proxy user through executeUser needs /entrance/submit: give the engine a version "
                          "(or LinkisClient.engine_versions) so the job goes there")
    return chosen


def submit_body(spec: JobSpec, *, version: str, execute_user: str, body_execute_user: bool = False) -> dict[str, Any]:
    """The 1.x `/entrance/submit` body. The `userCreator` label names `execute_user`, the user
    the job will really run as: Linkis' LabelCheckInterceptor refuses any other (50080).
    `body_execute_user` adds `executeUser`, which Linkis 1.6+ honours with an admin token (the
    way linkis-cli's -proxyUser runs a job as another user: JobSubmitAction.addExecuteUser)."""
    labels: dict[str, Any] = {
        "engineType": f"{spec.engine_name}-{version}",
        "userCreator": f"{execute_user}-{spec.creator}",
        "codeType": spec.run_type,
    }
    labels.update(spec.labels)
    body: dict[str, Any] = {
        "executionContent": {"code": spec.sent_code, "runType": spec.run_type},
        "params": {"variable": dict(spec.variables), "configuration": spec._configuration()},
        "labels": labels,
    }
    if body_execute_user:
        body["executeUser"] = execute_user
    if spec.script_path:
        body["source"] = {"scriptPath": spec.script_path}
    return body


def execute_body(spec: JobSpec) -> dict[str, Any]:
    """The `/entrance/execute` body (the 0.x form, still served by 1.x): the server takes its own
    engine version and builds the `userCreator` label from the user it runs the job as."""
    return {
        "executeApplicationName": spec.engine_name,
        "requestApplicationName": spec.creator,
        "executionCode": spec.sent_code,
        "runType": spec.run_type,
        "params": {"variable": dict(spec.variables), "configuration": spec._configuration()},
        "source": {"scriptPath": spec.script_path} if spec.script_path else {},
        "labels": dict(spec.labels),
    }
