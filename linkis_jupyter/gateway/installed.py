"""The engine plugins this gateway has, and how a job asking for another one fails.

Linkis names an engine by its EngineTypeLabel `<engine>-<version>` and keeps one plugin per label
(lib/linkis-engineconn-plugins/<engine>/plugin/<version>). A label is accepted at submit; the job
fails later, when LinkisManager asks the plugin loader for it (DefaultEngineConnPluginLoader:
"No plugin found <label>, please check your configuration", errCode 70063). Here the versions only
decide whether a job may run: spark and hive run SQL on DuckDB whatever their version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from .engine_base import EngineError, JobContext

if TYPE_CHECKING:
    from .profile import Profile
    from .storage import Storage

__all__ = ["DEFAULT_ENGINES", "InstalledEngines", "PluginGate", "parse_engine_label"]

DEFAULT_ENGINES = ("spark-3.2.1", "hive-3.1.3", "python-python3", "shell-1")

# LabelCommonConfig at release-1.8.0: the version /entrance/execute asks for when no plugin of
# that engine is installed (EngineTypeLabelCreator; "*" for engines it does not know).
LINKIS_DEFAULT_VERSIONS = {
    "spark": "3.2.1", "hive": "3.1.3", "python": "python2", "shell": "1", "jdbc": "4",
    "presto": "0.234", "trino": "371", "openlookeng": "1.5.0", "elasticsearch": "7.6.2",
    "flink": "1.16.2", "pipeline": "1", "nebula": "3.0.0", "repl": "1", "doris": "1.2.6",
    "io_file": "1.0", "io_hdfs": "1.0", "appconn": "1", "hbase": "2.5.3", "sqoop": "1.4.6",
    "datax": "3.0.0", "seatunnel": "2.1.2",
}

# What the job history of such a job says: the entrance maps the failure to the linkis_ps_error_code
# row whose regex is EngineConnPluginNotFoundException (linkis_dml.sql; FlexibleErrorCodeManager
# in QueryPersistenceManager.onJobCompleted).
NO_PLUGIN_ERR_CODE = 31002
NO_PLUGIN_ERR_DESC = "您提交的EngineTypeLabel没有对应的引擎版本"


def parse_engine_label(value: str) -> tuple[str, str]:
    """(engine, version) as EngineTypeLabel.setStringValue reads `value`: the engine is the text
    before the first `-`, the version what follows `<engine>-`, else the whole value (so a bare
    "spark" is engine spark, version "spark")."""
    engine = value.split("-")[0]
    version = value[len(engine) + 1:] if value.startswith(engine + "-") else value
    return engine, version


@dataclass(frozen=True)
class InstalledEngines:
    """The `<engine>-<version>` labels this gateway has plugins for, in the order given: the first
    version of an engine is its default (what /entrance/execute uses)."""

    labels: tuple[str, ...] = DEFAULT_ENGINES

    @classmethod
    def parse(cls, value: str | Iterable[str] | None) -> InstalledEngines:
        if value is None:
            return cls()
        items = value.split(",") if isinstance(value, str) else list(value)
        labels: list[str] = []
        for item in items:
            label = str(item).strip().lower()
            if not label:
                continue
            engine, version = parse_engine_label(label)
            if not engine or not version or label != f"{engine}-{version}":
                raise ValueError(f"engine {label!r} is not <engine>-<version>, e.g. spark-3.2.1")
            if label not in labels:
                labels.append(label)
        if not labels:
            raise ValueError("at least one engine must be installed, e.g. shell-1")
        return cls(tuple(labels))

    def __str__(self) -> str:
        return ",".join(self.labels)

    def has(self, label: str) -> bool:
        return label.lower() in self.labels

    def engine_names(self) -> list[str]:
        names: list[str] = []
        for label in self.labels:
            engine = parse_engine_label(label)[0]
            if engine not in names:
                names.append(engine)
        return names

    def default_version(self, engine: str) -> str:
        for label in self.labels:
            name, version = parse_engine_label(label)
            if name == engine:
                return version
        return LINKIS_DEFAULT_VERSIONS.get(engine, "*")


class PluginGate:
    """The engine manager as LinkisManager reaches it: a job whose engine label has no plugin fails
    before any engine starts, with the entrance's log line and job-history error for that case."""

    def __init__(self, engines: Any, storage: Storage, installed: InstalledEngines, profile: Profile,
                 instance: str) -> None:
        self._engines = engines
        self._storage = storage
        self._installed = installed
        self._profile = profile
        self._instance = instance

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engines, name)

    def execute(self, ctx: JobContext) -> None:
        row = self._storage.get_task(ctx.task_id)
        label = (row or {}).get("engine_type") or ""
        if not self._allows(label):
            ctx.log("ERROR", self._failure_line(ctx.task_id, label))
            raise EngineError(NO_PLUGIN_ERR_DESC, NO_PLUGIN_ERR_CODE)
        self._engines.execute(ctx)

    def _allows(self, label: str) -> bool:
        if self._profile.unified_entrance:
            return self._installed.has(label)
        # 0.x has no engine versions: the gateway routed the job to that engine's entrance.
        return parse_engine_label(label)[0] in self._installed.engine_names()

    def _failure_line(self, task_id: int, label: str) -> str:
        # EntranceExecutor.notifyStatus logs the orchestrator's failure (StatusInfoExecTask,
        # code 21304), which wraps ComputationEngineConnManager's 12003 around the root cause
        # LinkisManager sent back (DefaultEngineAskEngineService: getRootCauseMessage).
        host, _, port = self._instance.rpartition(":")
        where = f"ip: {host} ,port: {port}"
        plugin = (f"EngineConnPluginNotFoundException: errCode: 70063 ,desc: No plugin found {label}, "
                  f"please check your configuration ,{where} ,serviceKind: linkis-cg-linkismanager")
        return (f"jobRequest({task_id})  execute failed,21304, Task is Failed,errorMsg: errCode: 12003 ,desc: "
                f"{self._instance}_{task_id} Failed  to async get EngineNode {plugin} ,{where} "
                f",serviceKind: linkis-cg-entrance")
