"""Where a job runs (runs_on.py): the engine instance, the YARN application and its URL, read from
the log lines Linkis and the engines write, as a job's snapshots and `%linkis status` show them."""
from __future__ import annotations

import json
from typing import Any

import pytest

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.job import Job, JobSnapshot
from linkis_jupyter.runs_on import RunsOn
from linkis_jupyter.spec import JobSpec

pytestmark = pytest.mark.timeout(90)

APP = "application_1700000000000_0042"
# Lines as Linkis 1.8 (CodeLogicalUnitExecTask, SendAppender) and Spark on YARN write them.
EC_LINE = ("2026-12-01 10:00:00.123 INFO Succeed to create new ec : "
           "ServiceInstance(linkis-cg-engineconn, 10.0.0.5:40591, 1764583200000)")
SPARK_LINES = (
    f"2026-12-01 10:00:03.000 INFO Client: Submitting application {APP} to ResourceManager",
    f"\t tracking URL: http://rm.example:8088/proxy/{APP}/",
)


def test_the_lines_linkis_and_the_engines_write() -> None:
    found = RunsOn().read([EC_LINE, *SPARK_LINES])
    assert found == RunsOn("10.0.0.5:40591", APP, f"http://rm.example:8088/proxy/{APP}/")
    assert found.describe() == f"YARN {APP} (http://rm.example:8088/proxy/{APP}/) · engine 10.0.0.5:40591"
    # Hive through Linkis 1.x: the tracking line rewritten with linkis.job.task.yarn.url.
    hive = RunsOn().read([f"INFO Yarn application url:http://yarn.example/cluster/app/{APP}"])
    assert hive.tracking_url == f"http://yarn.example/cluster/app/{APP}" and hive.yarn_application == APP
    # Without a URL in the log, the ResourceManager's page when yarn_web_url is set.
    bare = RunsOn().read([f"INFO Submitted application {APP}"])
    assert bare.describe() == f"YARN {APP}"
    assert bare.describe("http://rm:8088/") == f"YARN {APP} (http://rm:8088/cluster/app/{APP})"
    assert not RunsOn().read(["INFO nothing here", "application_1 is not an id"])


def test_a_jobs_snapshots_and_status_say_where_it_runs(linkis: Any, gateway: Any, capsys: Any) -> None:
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    code = "".join(f"echo '{line}' >&2\n" for line in SPARK_LINES) + "sleep 1; echo done"
    job = Job.submit(client, JobSpec(code=code, engine="shell"))
    snaps: list[JobSnapshot] = []
    job.wait(on_update=snaps.append, timeout=60)
    assert snaps[-1].runs_on.yarn_application == APP
    assert snaps[-1].runs_on.tracking_url == f"http://rm.example:8088/proxy/{APP}/"
    # Known from the snapshot whose new lines named it, not before.
    first = next(i for i, snap in enumerate(snaps) if snap.runs_on.yarn_application)
    assert any(APP in line.text for line in snaps[first].new_log)

    capsys.readouterr()
    linkis.run_line_magic("linkis", f"status {job.task_id}")
    out = capsys.readouterr().out
    assert f"runs on YARN {APP} (http://rm.example:8088/proxy/{APP}/)" in out


def test_progress_with_resource_names_the_yarn_application(proxy: Any, gateway: Any) -> None:
    # Linkis 1.8's answer for a job whose engine runs on YARN (EntranceRestfulApi.buildYarnResource).
    reply = json.dumps({"method": "/api/entrance/x/progressWithResource", "status": 0, "message": "OK", "data": {
        "progress": 0.5, "execID": "x", "progressInfo": [],
        "yarnMetrics": {"yarnResource": [{"applicationId": APP, "queueCores": 2, "queueMemory": 4294967296,
                                          "queueInstances": 2, "jobStatus": "RUNNING", "queue": "default"}],
                        "corePercent": 0.02, "memoryPercent": 0.01, "coreRGB": "green", "memoryRGB": "green"}}})
    proxy.answer(r"/progressWithResource", 200, "application/json", reply, count=20)
    client = LinkisClient(gateway_url=proxy.url, user=gateway.user, token=gateway.token, progress_interval=0.5)
    job = Job.submit(client, JobSpec(code="sleep 2", engine="shell"))
    snaps: list[JobSnapshot] = []
    job.wait(on_update=snaps.append, timeout=60)
    assert snaps[-1].runs_on.yarn_application == APP
    assert snaps[-1].runs_on.describe("http://rm:8088") == f"YARN {APP} (http://rm:8088/cluster/app/{APP})"
