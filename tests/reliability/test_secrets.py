"""Passwords and tokens are never written: not in cell outputs, executed notebooks, log files, the
gateway's log, reprs or error messages. Every test of this folder is also watched for them (see
conftest.py: `no_secret_written`), the fault and outage cases included.

The gateway's other doors have wire tests of their own:
- connection file 0600: tests/gateway/test_faults_and_cli.py::test_cli_prints_the_url_and_writes_a_private_connection_file
- no non-loopback bind without auth: test_cli_refuses_a_public_address_without_credentials and
  test_embedded_gateway_refuses_a_public_address_without_credentials (same file)
- `..`, absolute paths and symlinks out of the user's area:
  tests/gateway/test_history_and_files.py::test_paths_outside_the_users_area_are_refused
- another user's jobs: tests/gateway/test_entrance.py::test_another_users_job_is_invisible_and_cannot_be_killed
  and test_task_id_in_place_of_exec_id_like_linkis_1_5; through the magics: test_bad_input.py
- login attempts rate-limited: test_credentials.py::test_login_attempts_are_rate_limited_per_user_and_address
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import nbformat
import pytest
from fixtures.gateway import point_at_gateway
from fixtures.history import settled_jobs
from nbclient import NotebookClient

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.demo import NOTEBOOKS, notebooks_dir
from linkis_jupyter.errors import AuthError, LinkisError, TransportError
from linkis_jupyter.gateway import EmbeddedGateway
from linkis_jupyter.job import Job, JobSpec
from fixtures.history import FINAL
from reliability_helpers import find_secrets

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_under_password_auth_writes_no_secret(name: str, gateway: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, output: Any,
                                                             request_log: Any) -> None:
    # Both secrets are configured; the password is the one used (LINKIS_AUTH), the token is
    # there too (connect-to-linkis sets it with %config), so neither may show up anywhere.
    point_at_gateway(monkeypatch, gateway, tmp_path, LINKIS_PASSWORD=gateway.password, LINKIS_AUTH="password",
                     MPLBACKEND="Agg")
    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    # The executed notebook is kept under tmp_path, where the watch reads every file.
    nbformat.write(nb, tmp_path / f"{name}.executed.ipynb")
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert bool(errors) == ("raises-exception" in cell.metadata.get("tags", [])), (cell.source, errors)
    assert request_log.count("^/user/login$", "POST") >= 1  # the password was used
    assert not find_secrets(json.dumps(nb))
    jobs = settled_jobs(gateway)
    assert jobs and all(job["status"] in FINAL for job in jobs)


def test_jobs_do_not_see_the_secrets_of_the_process_that_runs_the_gateway(linkis: Any, gateway: Any,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          output: Any) -> None:
    # A notebook that starts the embedded gateway itself has its own LINKIS_* secrets in its
    # environment; the jobs it runs must not inherit them.
    monkeypatch.setenv("LINKIS_PASSWORD", gateway.password)
    monkeypatch.setenv("LINKIS_TOKEN", gateway.token)
    monkeypatch.setenv("LINKIS_GATEWAY_PASSWORD", "bob-Secret-2")
    monkeypatch.setenv("SOME_VISIBLE_SETTING", "visible-value")
    quiet = "--progress none --log none --timeout 60"
    linkis.run_cell_magic("linkis", f"-e shell {quiet}", "env | sort")
    linkis.run_cell_magic("linkis", f"-e python {quiet}", "import os\nprint(sorted(os.environ.items()))")
    out, _err = output.read()
    assert out.count("visible-value") == 2
    assert not find_secrets(out)


def test_config_display_masks_secrets(ip: Any, output: Any) -> None:
    ip.run_line_magic("config", "LinkisClient.password = 'alice-Secret-1'")
    ip.run_line_magic("config", "LinkisClient.token = 'test-Token-Secret'")
    ip.run_line_magic("config", "LinkisClient.headers = {'Authorization': 'Bearer bob-Secret-2', 'X-Team': 'blue'}")
    table = ip.run_line_magic("linkis", "config")
    ip.run_line_magic("config", "LinkisClient")  # IPython prints every setting with its current value
    out, _err = output.read()
    assert "LinkisClient.password=<Unicode>" in out and "Current: '********'" in out and "'X-Team': 'blue'" in out
    assert not find_secrets(out) and not find_secrets(table.to_string())


def test_reprs_and_error_messages_carry_no_secret(gateway: Any, tmp_path: Path, output: Any) -> None:
    texts: list[str] = []
    client = LinkisClient(gateway_url=gateway.url, user="alice", password=gateway.password, token=gateway.token,
                          validation_code="bob-Secret-2", headers={"X-Auth-Token": "wrong-Token-Secret"}, auth="password")
    job = Job.submit(client, JobSpec(code="select 1 as one", engine="spark"))
    snapshot = job.wait(timeout=60)
    texts += [repr(client), str(client.describe_config()), repr(job), repr(snapshot),
              repr(client.job_info(job.task_id)), repr(job.results()), repr(gateway)]
    failures: list[LinkisError] = []
    for kwargs in ({"token": "wrong-Token-Secret", "auth": "token"},
                   {"password": "wrong-Password-Secret", "auth": "password"}):
        try:
            LinkisClient(gateway_url=gateway.url, user="alice", **kwargs).list_jobs()
        except AuthError as e:
            failures.append(e)
    try:  # a URL with a password in it, to a port nothing listens on
        LinkisClient(gateway_url="http://alice:wrong-Password-Secret@127.0.0.1:9", user="alice",
                     password="wrong-Password-Secret", retries=0).list_jobs()
    except TransportError as e:
        failures.append(e)
    assert len(failures) == 3
    texts += [f"{e!r} {e} {e._render_traceback_()} {vars(e)}" for e in failures]
    leaks = [t for t in texts if find_secrets(t)]
    assert not leaks, leaks


def test_the_connection_file_is_private_even_over_an_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             output: Any) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    stale = runtime / "linkis-gateway.json"
    stale.write_text("{}")
    os.chmod(stale, 0o644)
    old = os.umask(0)  # the loosest umask there is, for the gateway to overcome
    try:
        gw = EmbeddedGateway(tmp_path / "data", tokens={"connection-file-token-0123456789": "*"},
                             write_connection_file=True)
        gw.start()
        try:
            assert stat.S_IMODE(stale.stat().st_mode) == 0o600
            assert json.loads(stale.read_text())["url"] == gw.url
        finally:
            gw.stop()
    finally:
        os.umask(old)
    assert not stale.exists()
