"""JobSpec defaults and the two submit bodies built from it."""
from __future__ import annotations

import pytest

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import ConfigError
from linkis_jupyter.spec import JobSpec, execute_body, submit_body


@pytest.mark.parametrize(
    ("engine", "run_type"),
    [("spark", "sql"), ("hive", "hql"), ("python", "python"), ("shell", "shell"), ("jdbc", "jdbc"),
     ("trino", "tsql"), ("presto", "psql"), ("spark-3.2.1", "sql")],
)
def test_run_type_defaults_from_engine(engine: str, run_type: str) -> None:
    assert JobSpec(code="x", engine=engine).run_type == run_type


def test_engine_version_and_explicit_run_type() -> None:
    spec = JobSpec(code="print(1)", engine="spark-3.2.1", run_type="PY")
    assert (spec.engine_name, spec.engine_version, spec.run_type) == ("spark", "3.2.1", "py")
    assert JobSpec(code="x", engine="hive").engine_version is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"code": "  "}, "no code"), ({"code": "x", "engine": ""}, "engine"),
     ({"code": "x", "engine": "mystery"}, "run_type"), ({"code": "x", "creator": "my creator"}, "creator")],
)
def test_spec_mistakes(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JobSpec(**kwargs)


def test_run_type_the_engine_does_not_take_is_refused() -> None:
    with pytest.raises(ConfigError, match="engine python does not take run type 'sql'"):
        JobSpec(code="x", engine="python", run_type="sql")
    # An engine outside the table is sent as written, with the run type given.
    assert JobSpec(code="x", engine="kylin-4", run_type="sql").engine_name == "kylin"


def test_submit_body_labels_and_params() -> None:
    spec = JobSpec(
        code="select ${d}", engine="hive", variables={"d": 1}, startup={"spark.executor.memory": "1g"},
        runtime={"wds.linkis.rm.yarnqueue": "q"}, labels={"route": "x"}, script_path="file:///tmp/a.hql",
    )
    body = submit_body(spec, version="3.1.3", execute_user="alice")
    assert body["executionContent"] == {"code": "select ${d}", "runType": "hql"}
    assert body["labels"] == {"engineType": "hive-3.1.3", "userCreator": "alice-IDE", "codeType": "hql", "route": "x"}
    assert body["params"]["variable"] == {"d": "1"}
    assert body["params"]["configuration"]["startup"] == {"spark.executor.memory": "1g"}
    assert body["source"] == {"scriptPath": "file:///tmp/a.hql"}
    assert "executeUser" not in body
    # A proxy user through executeUser: the label names the user the job runs as.
    proxied = submit_body(JobSpec(code="x", engine="spark"), version="3.2.1", execute_user="carol",
                          body_execute_user=True)
    assert proxied["executeUser"] == "carol" and proxied["labels"]["userCreator"] == "carol-IDE"


def test_execute_body_is_the_spec_form() -> None:
    body = execute_body(JobSpec(code="show tables", engine="spark", creator="nb"))
    assert body["executeApplicationName"] == "spark" and body["requestApplicationName"] == "nb"
    assert body["executionCode"] == "show tables" and body["runType"] == "sql"
    assert set(body["params"]["configuration"]) == {"startup", "runtime", "special"}
    assert "engineType" not in body["labels"]


def test_a_version_is_never_invented() -> None:
    client = LinkisClient(user="a", engine_versions={"hive": "3.1.3"})
    assert client.engine_version(JobSpec(code="x", engine="spark")) is None
    assert client.engine_version(JobSpec(code="x", engine="hive")) == "3.1.3"
    assert client.engine_version(JobSpec(code="x", engine="hive-2.3.3")) == "2.3.3"
    with pytest.raises(ConfigError, match="has no version, and /entrance/submit needs one"):
        LinkisClient(user="a", api="submit").submit(JobSpec(code="x", engine="spark"))
    with pytest.raises(ConfigError, match="drop '-3.2.1'"):
        LinkisClient(user="a", api="execute").submit(JobSpec(code="x", engine="spark-3.2.1"))


def test_job_states() -> None:
    assert JobState.from_wire("Succeed").is_success and JobState.from_wire("Timeout").is_terminal
    assert JobState.from_wire("Shuttingdown") is JobState.UNKNOWN and not JobState.UNKNOWN.is_terminal
    assert JobState.from_wire("running") is JobState.RUNNING
