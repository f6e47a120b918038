"""The SQL engine's log and progress over HTTP, as a Linkis Spark engine's look: the entrance's
lines about the engine, a Spark job of one stage and one task per statement, and numbers that
are DuckDB's (rows, milliseconds, errors)."""
from __future__ import annotations

import re
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import duckdb
import pytest
from engine_helpers import Jobs

from linkis_jupyter.client import JobState, LinkisClient
from linkis_jupyter.errors import JobFailedError
from linkis_jupyter.job import Job, JobSpec

pytestmark = pytest.mark.timeout(120)

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (INFO|WARN|ERROR) (.*)$")
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def client_of(gw: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gw.url, user=gw.user, password=gw.password)


def instance_of(gw: Any) -> str:
    return gw.url.removeprefix("http://")


def run(client: LinkisClient, code: str, engine: str = "spark") -> Job:
    job = Job.submit(client, JobSpec(code=code, engine=engine))
    job.wait(timeout=60)
    return job


def parsed(job: Job) -> list[tuple[datetime, str, str]]:
    """(time, level, text) of every log line; every line has Linkis' prefix."""
    out = []
    for line in job.log().split("\n"):
        m = LINE.match(line)
        assert m, f"not a Linkis log line: {line!r}"
        out.append((datetime.strptime(m.group(1), STAMP), m.group(2), m.group(3)))
    return out


def texts(job: Job) -> list[str]:
    return [text for _, _, text in parsed(job)]


def index_of(lines: list[str], pattern: str) -> int:
    """The index of the only line matching the regex `pattern`."""
    found = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
    assert len(found) == 1, f"{len(found)} lines match {pattern!r}:\n" + "\n".join(lines)
    return found[0]


def test_select_1_reads_as_a_spark_job_on_the_gateways_engine(gateway: Any) -> None:
    client = client_of(gateway)
    inst, host = instance_of(gateway), instance_of(gateway).rpartition(":")[0]
    before = int(time.time() * 1000)
    job = run(client, "select 1")
    after = int(time.time() * 1000)
    lines = texts(job)
    assert 15 <= len(lines) <= 40, "\n".join(lines)
    e = re.escape
    ask = index_of(lines, rf"Request LinkisManager:EngineAskAsyncResponse\({e(inst)}_0,"
                          rf"ServiceInstance\(linkis-cg-linkismanager, {e(inst)}, \d+\)\)")
    created = index_of(lines, rf"Succeed to create new ec : ServiceInstance\(linkis-cg-engineconn, "
                              rf"{e(inst)}, (\d+)\)")
    ec = re.search(r"ServiceInstance\(linkis-cg-engineconn, [^)]*\)", lines[created]).group(0)
    # The engine is the user's database, opened for this job: its registry time is real.
    assert before <= int(ec.rsplit(", ", 1)[1].rstrip(")")) <= after
    submitted = index_of(lines, rf"Task submit to ec\(任务已经提交给引擎执行\): {e(ec)} "
                                rf"get engineConnExecId is: {job.task_id}")
    # The entrance limited the IDE job's SELECT before scheduling it (gateway/sql_limit.py), so
    # the engine runs, and names, the limited statement.
    limited = index_of(lines, r"You submitted a sql without limit, DSS will add limit 5000 to your sql")
    code = index_of(lines, rf"{e(inst)} >> select 1 limit 5000")
    got = index_of(lines, r"DAGScheduler: Got job 0 \(select 1 limit 5000\) with 1 output partitions")
    index_of(lines, r"DAGScheduler: Submitting 1 missing tasks from ResultStage 0 \(select 1 limit 5000\) "
                    r"\(first 15 tasks are for partitions Vector\(0\)\)")
    start = index_of(lines, rf"TaskSetManager: Starting task 0\.0 in stage 0\.0 \(TID 0\) "
                            rf"\({e(host)}, executor driver, partition 0\)")
    finish = index_of(lines, rf"TaskSetManager: Finished task 0\.0 in stage 0\.0 \(TID 0\) in \d+ ms "
                             rf"on {e(host)} \(executor driver\) \(1/1\)")
    stage_done = index_of(lines, r"DAGScheduler: ResultStage 0 \(select 1 limit 5000\) finished in \d+\.\d{3} s")
    job_done = index_of(lines, r"DAGScheduler: Job 0 finished: select 1 limit 5000, took \d+\.\d{6} s")
    taken = index_of(lines, r"SQLSession: Time taken: \d+ ms, Fetched 1 row\(s\)")
    stdout = index_of(lines, rf"{e(inst)} >> Time taken: \d+ ms, Fetched 1 col\(s\) : 1 row\(s\)")
    end = index_of(lines, r"Congratulations\. Your job completed with status Success\.")
    assert limited < ask < created < submitted < code < got < start < finish < stage_done < job_done < taken \
        < stdout < end
    # Nothing a cluster would have: the embedded engine has no YARN application.
    log = "\n".join(lines)
    assert "application_" not in log and "yarn" not in log.lower()


def test_the_next_job_reuses_the_engine_and_counts_on(gateway: Any) -> None:
    client = client_of(gateway)
    first, second = run(client, "select 1"), run(client, "select 2; select 3")
    ec = re.search(r"Succeed to create new ec : (ServiceInstance\(.*\))$", "\n".join(texts(first)), re.M)
    assert ec is not None
    lines = texts(second)
    assert f"Succeed to reuse ec : {ec.group(1)}" in lines
    assert not any("create new ec" in line for line in lines)
    assert any(line.startswith(f"Request LinkisManager:EngineAskAsyncResponse({instance_of(gateway)}_1,")
               for line in lines)
    assert f"Task submit to ec(任务已经提交给引擎执行): {ec.group(1)} get engineConnExecId is: " \
           f"{second.task_id}" in lines
    # Jobs, stages and tasks are numbered per engine, as a SparkContext numbers them.
    assert [m.group(1) for line in lines if (m := re.match(r"DAGScheduler: Job (\d+) finished: ", line))] \
        == ["1", "2"]
    assert any(line.startswith("TaskSetManager: Finished task 0.0 in stage 2.0 (TID 2) in ")
               for line in lines)


def test_rows_and_milliseconds_are_duckdbs(gateway: Any) -> None:
    client = client_of(gateway)
    job = run(client, "create table numbers as select range as n from range(10000000);\n"
                      "insert into numbers select range from range(7);\n"
                      "select n, n * 2 as twice from numbers where n % 1000000 = 3 order by n")
    frame = job.results()[0].dataframe
    lines = parsed(job)
    text = [t for _, _, t in lines]
    # Rows: those of the result set, and those DuckDB counted as changed.
    [fetched] = [m for t in text
                 if (m := re.search(r" >> Time taken: (.+), Fetched (\d+) col\(s\) : (\d+) row\(s\)$", t))]
    assert (int(fetched.group(3)), int(fetched.group(2))) == frame.shape == (11, 2)
    assert f"SQLSession: Time taken: {fetched.group(1)}, Fetched 11 row(s)" in text
    affected = [int(m.group(1)) for t in text if (m := re.search(r", (\d+) row\(s\) affected$", t))]
    assert affected == [10000000, 7]
    # A task's milliseconds are the time between its Starting and Finished lines, and its job's.
    for n in range(3):
        started = next(when for when, _, t in lines
                       if t.startswith(f"TaskSetManager: Starting task 0.0 in stage {n}.0 (TID {n}) "))
        [(finished, ms)] = [(when, int(m.group(1))) for when, _, t in lines
                            if (m := re.match(rf"TaskSetManager: Finished task 0\.0 in stage {n}\.0 "
                                              rf"\(TID {n}\) in (\d+) ms ", t))]
        between = (finished - started).total_seconds() * 1000
        assert abs(between - ms) <= 100, (n, between, ms)
        [took] = [float(m.group(1)) for t in text
                  if (m := re.match(rf"DAGScheduler: Job {n} finished: .*, took (\d+\.\d{{6}}) s$", t))]
        assert ms <= took * 1000 <= ms + 1
        if n == 0:
            assert ms >= 1  # ten million rows take DuckDB more than a millisecond to write
        if n == 2 and ms < 1000:
            assert fetched.group(1) == f"{ms} ms"


def test_a_failing_statement_logs_duckdbs_error(gateway_factory: Callable[..., Any],
                                                tmp_path: Path) -> None:
    gateway = gateway_factory(evict_after=None)
    client = client_of(gateway)
    # What DuckDB says, in a database like the user's (its name is in DuckDB's suggestions), to
    # the statement the engine runs: the entrance appends IDE's limit (gateway/sql_limit.py).
    with duckdb.connect(str(tmp_path / "linkis.duckdb")) as database:
        with pytest.raises(duckdb.Error) as raised:
            database.execute("select * from no_such_table limit 5000")
    message = str(raised.value).strip()
    job = Job.submit(client, JobSpec(code="select 1 as fine;\nselect * from no_such_table;\nselect 3",
                                     engine="spark"))
    with pytest.raises(JobFailedError):
        job.wait(timeout=60)
    lines = parsed(job)
    errors = [text for _, level, text in lines if level == "ERROR"]
    duck = [line for line in message.splitlines() if line.strip()]
    first = duck[0]
    assert first.startswith("Catalog Error: Table with name no_such_table does not exist")
    # Executor's exception is DuckDB's message, as DuckDB words it.
    assert errors[:len(duck) + 2] == ["Executor: Exception in task 0.0 in stage 1.0 (TID 1)", *duck,
                                      "TaskSetManager: Task 0 in stage 1.0 failed 1 times; aborting job"]
    warns = [text for _, level, text in lines if level == "WARN"]
    host = instance_of(gateway).rpartition(":")[0]
    assert warns == ["You submitted a sql without limit, DSS will add limit 5000 to your sql",
                     f"TaskSetManager: Lost task 0.0 in stage 1.0 (TID 1) ({host} executor driver): {first}"]
    infos = [text for _, level, text in lines if level == "INFO"]
    assert any(t.startswith("DAGScheduler: Job 1 failed: select * from no_such_table limit 5000, took ")
               for t in infos)
    assert not any(t.startswith("DAGScheduler: Job 1 finished") or ">> select 3" in t for t in infos)
    # The entrance's progress: the job that ran, and the one whose task failed.
    stages = client.progress(job.exec_id).stages
    assert [(s.id, s.succeed, s.failed, s.running, s.total) for s in stages] == [
        (f"jobId-0(linkis-spark-mix-code-{job.task_id})", 1, 0, 0, 1),
        (f"jobId-1(linkis-spark-mix-code-{job.task_id})", 0, 1, 0, 1),
    ]


def test_progress_info_names_the_jobs_the_log_names(gateway_factory: Callable[..., Any]) -> None:
    gateway = gateway_factory(evict_after=None)
    client = client_of(gateway)
    group = "linkis-spark-mix-code-{}"
    job = Job.submit(client, JobSpec(code="select 1;\nselect sum(i * i) from range(100000000000) t(i)",
                                     engine="spark"))
    running = None
    deadline = time.monotonic() + 60
    while running is None:
        assert time.monotonic() < deadline, "the second statement was never seen running"
        progress = client.progress(job.exec_id)
        if len(progress.stages) == 2 and progress.stages[1].running == 1:
            running = progress
        time.sleep(0.05)
    assert [(s.id, s.succeed, s.failed, s.running, s.total) for s in running.stages] == [
        (f"jobId-0({group.format(job.task_id)})", 1, 0, 0, 1),
        (f"jobId-1({group.format(job.task_id)})", 0, 0, 1, 1),
    ]
    assert 0.5 <= running.progress < 1
    # While the task runs, the log has its Starting line and no Finished line yet.
    lines = texts(job)
    assert any(t.startswith("TaskSetManager: Starting task 0.0 in stage 1.0 (TID 1) ") for t in lines)
    assert not any(t.startswith("TaskSetManager: Finished task 0.0 in stage 1.0 ") for t in lines)
    assert job.kill(confirm_timeout=10) is True
    assert job.refresh() is JobState.CANCELLED
    lines = texts(job)
    assert f"DAGScheduler: Asked to cancel job group {group.format(job.task_id)}" in lines
    assert any(t.endswith("executor driver): TaskKilled (Stage cancelled)") for t in lines)

    done = run(client, "create table p(a int);\ninsert into p values (1), (2);\nselect * from p")
    named = [m.group(1) for t in texts(done) if (m := re.match(r"DAGScheduler: Got job (\d+) ", t))]
    assert named == ["2", "3", "4"]
    stages = client.progress(done.exec_id).stages
    assert [(s.id, s.succeed, s.failed, s.running, s.total) for s in stages] == [
        (f"jobId-{n}({group.format(done.task_id)})", 1, 0, 0, 1) for n in named]


def test_the_0x_profile_has_no_engine_ask_lines(gateway_factory: Callable[..., Any]) -> None:
    gateway = gateway_factory(profile="0.x")
    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, password=gateway.password,
                          api="execute")
    lines = texts(run(client, "select 1"))
    assert not any("LinkisManager" in t or " ec : " in t or "Task submit to ec" in t for t in lines)
    # 0.11.0's entrance limited every creator's SELECT, and said so naming the statement.
    assert lines[0] == "You submitted a sql select 1 without limit, program will add limit 5000 to your sql"
    assert f"{instance_of(gateway)} >> select 1 limit 5000" in lines
    assert "DAGScheduler: Job 0 finished: select 1 limit 5000, took " in "\n".join(lines)


def test_a_stage_is_named_by_the_statements_first_words(jobs: Jobs) -> None:
    statement = "select 1234567 as a, 2345678 as b, 3456789 as c,\n 4567890 as d, 5678901 as e"
    log = jobs.run(statement).ok().log()
    # The whole statement after the engine's name; the stage's name cut between words.
    assert f"{socket.gethostname()} >> select 1234567 as a, 2345678 as b, 3456789 as c,\n 4567890 as d" in log
    assert "DAGScheduler: Got job 0 (select 1234567 as a, 2345678 as b, 3456789 as c, 4567890 as ...) " \
           "with 1 output partitions" in log
    # An engine used without a gateway has no LinkisManager to ask.
    assert "LinkisManager" not in log and "Task submit to ec" not in log
