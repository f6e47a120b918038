"""What a %%linkis line says reaches the job the gateway records: engine and version, run type,
creator, variables, startup and runtime settings, labels (job history over plain HTTP)."""
from __future__ import annotations

import json
from typing import Any

from fixtures.history import gateway_jobs, settled_job

QUIET = "--progress none --log none --timeout 60"


def test_every_option_of_the_cell_reaches_the_job(linkis: Any, gateway: Any, request_log: Any, capsys: Any) -> None:
    linkis.run_cell_magic(
        "linkis",
        "-e spark -t py -c nb --var who=world --startup spark.executor.memory=2g "
        f"--runtime wds.linkis.rm.yarnqueue=q1 --label tenant=t1 {QUIET}",
        "print('hello', '${who}')",
    )
    (job,) = gateway_jobs(gateway)
    task = settled_job(gateway, job["taskID"])
    assert task["status"] == "Succeed" and "hello world" in capsys.readouterr().out
    assert task["runType"] == "py" and task["executeApplicationName"] == "spark"
    assert task["requestApplicationName"] == "nb"
    assert {"userCreator:alice-nb", "codeType:py", "tenant:t1"} <= set(task["labels"])
    params = json.loads(task["paramsJson"])
    assert params["variable"] == {"who": "world"}
    assert params["configuration"]["startup"] == {"spark.executor.memory": "2g"}
    assert params["configuration"]["runtime"] == {"wds.linkis.rm.yarnqueue": "q1"}
    # Without a version the gateway chooses one: the job goes to /entrance/execute.
    assert request_log.paths("^/entrance/(submit|execute)$") == ["/entrance/execute"]


def test_an_engine_version_reaches_the_engine_type_label(linkis: Any, gateway: Any, request_log: Any) -> None:
    df = linkis.run_cell_magic("linkis", f"-e spark-3.2.1 {QUIET}", "select 5 as five")
    assert df["five"].tolist() == [5]
    (job,) = gateway_jobs(gateway)
    task = settled_job(gateway, job["taskID"])
    assert "engineType:spark-3.2.1" in task["labels"] and task["runType"] == "sql"
    assert request_log.paths("^/entrance/(submit|execute)$") == ["/entrance/submit"]


def test_the_defaults_are_sql_on_spark_from_the_ide(linkis: Any, gateway: Any) -> None:
    linkis.run_cell_magic("linkis", QUIET, "select 1 as one")
    (job,) = gateway_jobs(gateway)
    task = settled_job(gateway, job["taskID"])
    assert (task["executeApplicationName"], task["runType"], task["requestApplicationName"]) == ("spark", "sql", "IDE")
    assert "userCreator:alice-IDE" in task["labels"]
