"""What one user's SQL cannot reach: another user's files, /proc, the gateway's connection file.
Each attempt is a failed job whose log holds DuckDB's refusal; the user's own files still load,
by relative path as by absolute path. Also the `gateway` command's own doors: the line it prints
on a non-loopback address, and a password that never shows in `ps`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.errors import JobFailedError
from linkis_jupyter.job import Job, JobSpec

pytestmark = pytest.mark.timeout(120)

REFUSED = "Permission Error: Cannot access file"


def run_sql(client: LinkisClient, code: str) -> Job:
    job = Job.submit(client, JobSpec(code=code, engine="spark"))
    job.wait(timeout=60)
    return job


def refused(client: LinkisClient, code: str, marker: str = REFUSED) -> str:
    """The log of a job that must fail, checked for `marker` in its error and its log."""
    job = Job.submit(client, JobSpec(code=code, engine="spark"))
    with pytest.raises(JobFailedError) as info:
        job.wait(timeout=60)
    assert marker in info.value.err_desc, info.value.err_desc
    log = job.log()
    assert marker in log, log
    return log


def frame(job: Job) -> Any:
    return job.results()[0].dataframe


@pytest.fixture
def alice(gateway: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gateway.url, user="alice", password=gateway.password)


@pytest.fixture
def bob(gateway: Any) -> LinkisClient:
    return LinkisClient(gateway_url=gateway.url, user="bob", password="bob-Secret-2")


def test_sql_reads_neither_proc_nor_another_users_files(gateway: Any, alice: LinkisClient,
                                                        bob: LinkisClient) -> None:
    import duckdb

    bob_area = Path(gateway.data_dir) / "users" / "bob"
    bob_area.mkdir(parents=True, exist_ok=True)
    bob_db = bob_area / "linkis.duckdb"
    with duckdb.connect(str(bob_db)) as made:  # as a gateway that ran bob's jobs earlier left it
        made.execute("create table private as select 'bob only' as note")
    (bob_area / "notes.csv").write_text("note\nbob only\n")

    refused(alice, "select content from read_text('/proc/self/environ')")
    refused(alice, "select * from read_blob('/proc/self/cmdline')")
    refused(alice, f"attach '{bob_db}' as theirs")
    # Once bob's database is open in the gateway, DuckDB refuses a second attach of it before it
    # looks at the path.
    assert frame(run_sql(bob, "select note from private")).values.tolist() == [["bob only"]]
    refused(alice, f"attach '{bob_db}' as theirs", "Cannot attach")
    refused(alice, f"select content from read_blob('{bob_db}')")
    refused(alice, f"select * from read_csv('{bob_area / 'notes.csv'}')")
    refused(alice, f"select * from read_csv('{Path(gateway.data_dir) / 'users' / 'alice'}/../bob/notes.csv')")
    refused(alice, "select * from glob('/proc/*')")
    refused(alice, f"copy (select 1 as x) to '{bob_area / 'dropped.csv'}'")
    assert not (bob_area / "dropped.csv").exists()
    # The configuration is locked once set: no SET undoes the limits.
    for setting in ("set enable_external_access = true", "set lock_configuration = false",
                    "reset allowed_directories", "set allowed_directories = ['/']"):
        refused(alice, setting, "the configuration has been locked")
    refused(alice, "select content from read_text('/proc/self/environ')")
    # Bob's own table and file are still his.
    assert frame(run_sql(bob, "select note from private")).values.tolist() == [["bob only"]]
    assert frame(run_sql(bob, "select note from read_csv('notes.csv')")).values.tolist() == [["bob only"]]


def test_the_users_own_files_still_load(gateway: Any, alice: LinkisClient) -> None:
    area = Path(gateway.data_dir) / "users" / "alice"
    area.mkdir(parents=True, exist_ok=True)
    (area / "sales.csv").write_text("region,amount\nnorth,10\nsouth,32\n")
    (area / "data").mkdir(exist_ok=True)
    (area / "data" / "more.csv").write_text("region,amount\neast,5\n")
    job = run_sql(alice, f"""
        select sum(amount) as total from read_csv('sales.csv');
        select sum(amount) as total from read_csv('{area / 'sales.csv'}');
        select count(*) as n from read_csv('data/*.csv');
        copy (select 7 as seven) to '{area / 'out.csv'}';
        select seven from read_csv('{area / 'out.csv'}')""")
    totals = [f.values.tolist() for f in (r.dataframe for r in job.results())]
    assert totals == [[[42]], [[42]], [[1]], [[7]]]


# -- the gateway command ------------------------------------------------------------------------

def _start_cli(tmp_path: Path, *args: str, cwd: str | None = None, **env: str) -> subprocess.Popen[str]:
    environ = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), LINKIS_GATEWAY_TOKEN="",
                   LINKIS_GATEWAY_PASSWORD="", **env)
    return subprocess.Popen(
        [sys.executable, "-m", "linkis_jupyter", "gateway", "--port", "0", "--data-dir", str(tmp_path / "data"),
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ, start_new_session=True, cwd=cwd,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate(timeout=5)


def test_sql_cannot_read_the_connection_file_of_the_gateway_command(tmp_path: Path) -> None:
    # Started from /, where a relative path proc/self/environ would name /proc/self/environ.
    proc = _start_cli(tmp_path, "--user", "carol", cwd="/")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        conn = tmp_path / "runtime" / "linkis-gateway.json"
        token = json.loads(conn.read_text())["token"]
        carol = LinkisClient(gateway_url=url, user="carol", token=token)
        log = refused(carol, f"select content from read_text('{conn}')")
        assert token not in log
        # A relative path is looked up in the gateway's working directory, an empty one, then in
        # the user's area: never in the directory the command was started from.
        own = tmp_path / "data" / "users" / "carol"
        own.mkdir(parents=True, exist_ok=True)
        (own / "sales.csv").write_text("amount\n5\n")
        assert frame(run_sql(carol, "select sum(amount) as s from read_csv('sales.csv')")).values.tolist() == [[5]]
        # read_text reads a pattern: one naming no file reads no row.
        cwd = Path(os.readlink(f"/proc/{proc.pid}/cwd"))
        assert list(cwd.iterdir()) == [] and cwd != Path("/")
        assert frame(run_sql(carol, "select content from read_text('proc/self/environ')")).empty
    finally:
        out, errs = _stop(proc)
    assert proc.returncode == 0, errs
    assert token not in out + errs


def test_a_public_address_prints_that_every_users_jobs_run_with_the_gateways_rights(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("erin-Pw-7\n")
    proc = _start_cli(tmp_path, "--ip", "0.0.0.0", "--user", "erin", "--password-file", str(tmp_path / "pw"))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read()
        lines = [proc.stdout.readline().strip() for _ in range(2)]
    finally:
        out, errs = _stop(proc)
    assert lines[0].startswith("user: erin;")
    assert lines[1] == ("linkis-jupyter gateway: listening on 0.0.0.0: every user's jobs run with this "
                        f"gateway's OS rights (uid {os.getuid()}); a team shares a real Linkis")
    assert "erin-Pw-7" not in out + errs and "warning" not in errs


def test_a_loopback_gateway_prints_no_such_line(tmp_path: Path) -> None:
    proc = _start_cli(tmp_path, "--user", "fay")
    try:
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
    finally:
        out, _errs = _stop(proc)
    assert "OS rights" not in out


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_ps_shows_no_password_given_in_a_file_and_warns_of_one_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("gus-Pw-3\n")
    proc = _start_cli(tmp_path, "--user", "gus", "--password-file", str(tmp_path / "pw"))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read()
        assert LinkisClient(gateway_url=url, user="gus", password="gus-Pw-3").login()["userName"] == "gus"
        assert "--password-file" in _cmdline(proc.pid) and "gus-Pw-3" not in _cmdline(proc.pid)
        ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(proc.pid)], capture_output=True, text=True)
        assert "linkis_jupyter" in ps.stdout and "gus-Pw-3" not in ps.stdout
    finally:
        out, errs = _stop(proc)
    assert proc.returncode == 0 and "warning" not in errs

    # The environment holds it out of ps too; --password works, with one line of warning.
    proc = _start_cli(tmp_path, "--user", "gus", "--password", "gus-Pw-3")
    try:
        assert proc.stdout.readline().startswith("http://")
        time.sleep(0.1)
    finally:
        out, errs = _stop(proc)
    warnings = [line for line in errs.splitlines() if "warning" in line]
    assert warnings == ["linkis-jupyter gateway: warning: --password is visible to every local account "
                        "(ps, /proc/<pid>/cmdline); use --password-file or LINKIS_GATEWAY_PASSWORD"]


def test_an_empty_password_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("")
    proc = _start_cli(tmp_path, "--password-file", str(tmp_path / "pw"))
    out, errs = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""
    assert errs.strip().count("\n") == 0 and "--password-file" in errs
