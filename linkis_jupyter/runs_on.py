"""Where a Linkis job runs, as its log and job history say: the engine (EngineConn) instance, the
YARN application, and a URL to follow it (a YARN tracking URL or a Spark UI).

The lines it reads are Linkis' and the engines' own:

- `Succeed to create new ec : ServiceInstance(linkis-cg-engineconn, host:port, ...)` and
  `Succeed to reuse ec : ...` (CodeLogicalUnitExecTask), `EngineConn local log path:
  ServiceInstance(...)` (ComputationExecutor); job history's `engineInstance`;
- a YARN application id `application_<cluster start>_<n>` anywhere in a line, or in the
  `yarnMetrics.yarnResource` list of a `progressWithResource` reply (Linkis 1.1.2 and later);
- `The url to track the job: http://.../proxy/application_.../` (Hive, MapReduce), which Linkis
  1.x rewrites as `Yarn application url:<linkis.job.task.yarn.url><id>` (SendAppender), Spark's
  `tracking URL: http://...` and `Bound SparkUI to ..., and started at http://...`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

__all__ = ["RunsOn"]

_ENGINE = re.compile(r"ServiceInstance\(\s*linkis-cg-engineconn\s*,\s*([^,)\s]+)")
_YARN_APP = re.compile(r"\b(application_\d{10,}_\d{4,})\b")
_TRACKING = re.compile(
    r"(?:The url to track the job:|Yarn application url:|tracking URL:|Bound SparkUI to [^,]*, and started at)"
    r"\s*(https?://\S+)"
)


@dataclass(frozen=True)
class RunsOn:
    engine_instance: str | None = None  # host:port of the EngineConn
    yarn_application: str | None = None
    tracking_url: str | None = None

    def read(self, lines: Iterable[str]) -> "RunsOn":
        """This, with what `lines` name (the latest of each wins: a job's engine can change on retry)."""
        found = {}
        for line in lines:
            if "ServiceInstance" in line:
                engine = _ENGINE.search(line)
                if engine:
                    found["engine_instance"] = engine.group(1)
            if "application_" in line:
                app = _YARN_APP.search(line)
                if app:
                    found["yarn_application"] = app.group(1)
            if "http" in line:
                url = _TRACKING.search(line)
                if url:
                    found["tracking_url"] = url.group(1)
        return replace(self, **found) if found else self

    def read_metrics(self, metrics: Mapping[str, Any]) -> "RunsOn":
        """This, with the YARN application a `progressWithResource` reply's `yarnMetrics` names
        (its `yarnResource` list, one entry per application the job has used)."""
        apps = metrics.get("yarnResource")
        found = [item.get("applicationId") for item in apps if isinstance(item, Mapping)] if isinstance(apps, list) else []
        found = [app for app in found if isinstance(app, str) and app]
        return replace(self, yarn_application=found[-1]) if found else self

    def __bool__(self) -> bool:
        return bool(self.engine_instance or self.yarn_application or self.tracking_url)

    def links(self, yarn_web_url: str = "") -> list[tuple[str, str | None]]:
        """(text, URL or None) for each thing known: the YARN application links to the tracking
        URL the log gave, else to `yarn_web_url`'s application page when that is set."""
        out: list[tuple[str, str | None]] = []
        if self.yarn_application:
            url = self.tracking_url
            if url is None and yarn_web_url:
                url = f"{yarn_web_url.rstrip('/')}/cluster/app/{self.yarn_application}"
            out.append((f"YARN {self.yarn_application}", url))
        elif self.tracking_url:
            out.append(("job UI", self.tracking_url))
        if self.engine_instance:
            out.append((f"engine {self.engine_instance}", None))
        return out

    def describe(self, yarn_web_url: str = "") -> str:
        """One line of plain text: "YARN application_… (URL) · engine host:port"."""
        return " · ".join(f"{text} ({url})" if url else text for text, url in self.links(yarn_web_url))
