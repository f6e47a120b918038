"""%linkis SUBCOMMAND against the embedded gateway."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from fixtures.history import settled_job
from fixtures.history import gateway_task
from fixtures.shell import RecordingPublisher, magics_of, task_ids

from linkis_jupyter.errors import AuthError, JobFailedError
from linkis_jupyter.job import Job, JobSpec, JobState

LIMIT = "--timeout 60"


def run_job(ip: Any, options: str, code: str) -> int:
    """Run a cell quietly and return its task id (read off its text progress line)."""
    saved = ip.display_pub
    recorder = RecordingPublisher(ip)
    ip.display_pub = recorder
    try:
        ip.run_cell_magic("linkis", f"-q --progress text --log none {LIMIT} {options}", code)
    except JobFailedError:
        pass
    finally:
        ip.display_pub = saved
    (task,) = task_ids(recorder.texts())
    return task


def running_job(ip: Any, code: str = "sleep 30") -> Job:
    """A shell job submitted with the magics' own client, seen Running."""
    job = Job.submit(magics_of(ip).client, JobSpec(code=code, engine="shell"))
    deadline = time.monotonic() + 20
    while job.poll().state is not JobState.RUNNING:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    return job


def test_config_shows_settings_with_sources_and_masks_secrets(linkis: Any, gateway: Any) -> None:
    linkis.run_line_magic("config", "LinkisMagics.max_rows = 500")
    table = linkis.run_line_magic("linkis", "config")
    assert isinstance(table, pd.DataFrame)
    rows = {row.setting: (row.value, row.source) for row in table.itertuples()}
    assert rows["LinkisMagics.max_rows"] == ("500", "config")
    assert rows["LinkisMagics.engine"] == ("spark", "default")
    assert rows["LinkisClient.gateway_url"][0] == gateway.url
    assert rows["LinkisClient.user"][0] == "alice"
    assert rows["LinkisClient.token"][0] == "********"
    assert gateway.token not in table.to_string()


def test_connect_with_a_bad_token_changes_nothing(linkis: Any, gateway: Any) -> None:
    before = magics_of(linkis).client
    with pytest.raises(AuthError):
        linkis.run_line_magic("linkis", f"connect {gateway.url} --user alice --token wrong-token")
    assert magics_of(linkis).client is before
    assert run_job(linkis, "-e shell", "echo still connected")


def test_connect_checks_a_token_where_linkis_honours_tokens(ip: Any, gateway: Any, request_log: Any,
                                                          capsys: Any) -> None:
    # Linkis' /user/* endpoints refuse token headers: the token is checked on job history.
    ip.run_line_magic("linkis", f"connect {gateway.url} --user alice --token {gateway.token}")
    assert f"Connected to {gateway.url} as alice (token)" in capsys.readouterr().out
    assert request_log.paths() == ["/jobhistory/list"]


def test_connect_takes_the_token_from_a_python_variable(ip: Any, gateway: Any, capsys: Any) -> None:
    ip.user_ns["tok"] = gateway.token
    ip.run_line_magic("linkis", f"connect {gateway.url} --user bob --token $tok")
    assert f"Connected to {gateway.url} as bob (token)" in capsys.readouterr().out
    assert gateway.token not in repr(magics_of(ip).client)


def test_connect_without_credentials_asks_for_login(ip: Any, gateway: Any, capsys: Any) -> None:
    ip.run_line_magic("linkis", f"connect {gateway.url}")
    assert "run `%linkis login --user NAME` to log in" in capsys.readouterr().out


def test_login_with_a_piped_password_never_keeps_it_in_the_shell(gateway: Any, tmp_path: Path) -> None:
    # A separate IPython with no terminal: getpass falls back to reading stdin, which the test
    # feeds through a pipe. A pipe never echoes, so the echo is checked on a terminal and in a
    # kernel's password box in test_login_prompt.py.
    script = tmp_path / "login.py"
    script.write_text(textwrap.dedent(f"""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        ip.run_line_magic("load_ext", "linkis_jupyter")
        ip.run_line_magic("linkis", "connect {gateway.url} --user alice")
        wrong = ip.run_cell("%linkis login")
        print("WRONG", type(wrong.error_in_exec).__name__)
        ip.run_line_magic("linkis", "login")
        ip.run_cell_magic("linkis", "-e shell --progress none --log none -o out", "echo logged-in-job")
        print("OUT", ip.user_ns["out"].strip())
        ip.run_line_magic("linkis", "logout")
        result = ip.run_cell("%%linkis -e shell --progress none --log none\\necho after-logout")
        print("AFTER", type(result.error_in_exec).__name__)
        print("HISTORY", [cell for _, _, cell in ip.history_manager.get_range()])
        print("NAMESPACE", [v for v in ip.user_ns.values() if isinstance(v, str)])
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKIS_")}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    proc = subprocess.run(
        [sys.executable, str(script)], input="not-the-password\n" + gateway.password + "\n", capture_output=True, text=True,
        timeout=90, env=env, start_new_session=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Linkis password for alice at" in proc.stderr
    assert "WRONG AuthError" in proc.stdout
    assert f"Logged in to {gateway.url} as alice" in proc.stdout
    assert "OUT logged-in-job" in proc.stdout
    assert f"Logged out of {gateway.url}" in proc.stdout
    assert "AFTER AuthError" in proc.stdout
    for secret in (gateway.password, "not-the-password"):
        assert secret not in proc.stdout and secret not in proc.stderr


def test_status_of_finished_and_failed_jobs(linkis: Any, capsys: Any) -> None:
    ok = run_job(linkis, "", "select 1 as x")
    bad = run_job(linkis, "", "select * from missing_table")
    capsys.readouterr()
    linkis.run_line_magic("linkis", f"status {ok}")
    out = capsys.readouterr().out
    assert out.startswith(f"Linkis task {ok}: Succeed · ") and "spark" in out and "error" not in out
    linkis.run_line_magic("linkis", f"status {bad}")
    out = capsys.readouterr().out
    assert out.startswith(f"Linkis task {bad}: Failed") and "\nerror " in out and "missing_table" in out


def test_status_of_an_unknown_task_is_a_short_error(linkis: Any) -> None:
    from linkis_jupyter.errors import APIError

    with pytest.raises(APIError) as info:
        linkis.run_line_magic("linkis", "status 987654")
    assert "not found" in str(info.value)


def test_log_of_a_finished_job_comes_from_job_history(ip: Any, gateway_factory: Any, recorder: RecordingPublisher,
                                                      request_log: Any) -> None:
    gw = gateway_factory(evict_after=0.1)
    ip.run_line_magic("linkis", f"connect {gw.url} --user alice --token {gw.token}")
    task = run_job(ip, "-e shell", "echo 'a warning' >&2\necho out")
    settled_job(gw, task)  # a while after the end: gone from the entrance, in job history
    recorder.outputs.clear()
    before = len(request_log.seen)
    ip.run_line_magic("linkis", f"log {task}")
    asked = request_log.paths()[before:]
    assert "/filesystem/openLog" in asked and not [p for p in asked if p.startswith("/entrance/")], asked
    (text,) = recorder.texts()
    assert "a warning" in text and "Your job completed with" in text
    ip.run_line_magic("linkis", f"log {task} --log error")
    assert len(recorder.outputs) == 1  # no ERROR lines: nothing more shown


def test_kill_a_running_job_and_refuse_to_kill_a_finished_one(linkis: Any, gateway: Any, capsys: Any,
                                                              request_log: Any) -> None:
    job = running_job(linkis)
    linkis.run_line_magic("linkis", f"kill {job.task_id}")
    assert f"Linkis job {job.task_id} cancelled" in capsys.readouterr().out
    assert settled_job(gateway, job.task_id)["status"] == "Cancelled"
    # By its task id, the command found the job's execID in job history and killed that.
    (kill,) = request_log.paths(r"/kill$")
    assert kill == f"/entrance/{job.exec_id}/kill"

    done = run_job(linkis, "-e shell", "echo done")
    settled_job(gateway, done)
    capsys.readouterr()
    linkis.run_line_magic("linkis", f"kill {done}")
    assert f"Linkis job {done} already ended Succeed; nothing to kill" in capsys.readouterr().out
    assert request_log.paths(r"/kill$") == [kill]  # nothing sent for the finished job
    assert settled_job(gateway, done)["status"] == "Succeed"


def test_attach_follows_a_running_job_to_its_result(linkis: Any, recorder: RecordingPublisher, capsys: Any) -> None:
    job = running_job(linkis, "echo 'working' >&2; sleep 1; echo attached-result")
    linkis.run_line_magic("linkis", f"attach {job.task_id} --progress text")
    assert "attached-result" in capsys.readouterr().out
    assert any("working" in h for h in recorder.html())
    # The progress line (the log's output, --log fold by default, is the one with HTML).
    progress = [o["data"]["text/plain"] for o in recorder.outputs if "text/html" not in o["data"]]
    assert progress[-1].startswith(f"Linkis task {job.task_id} · Succeed")


def test_attach_to_finished_jobs(linkis: Any) -> None:
    ok = run_job(linkis, "", "select 7 as seven")
    df = linkis.run_line_magic("linkis", f"attach {ok} --progress none --log none -o got")
    assert df["seven"].tolist() == [7] and linkis.user_ns["got"]["seven"].tolist() == [7]
    bad = run_job(linkis, "", "select * from missing_table")
    with pytest.raises(JobFailedError) as info:
        linkis.run_line_magic("linkis", f"attach {bad} --progress none --log none")
    assert info.value.task_id == bad


def test_history_lists_recent_jobs(linkis: Any) -> None:
    ok = run_job(linkis, "", "select 1")
    bad = run_job(linkis, "-e shell", "echo failing >&2; exit 4")
    table = linkis.run_line_magic("linkis", "history -n 5")
    assert list(table.columns) == ["task", "state", "engine", "run type", "created", "duration", "error"]
    rows = {row.task: row for row in table.itertuples()}
    assert rows[ok].state == "Succeed" and rows[ok].engine.startswith("spark") and rows[ok].error == ""
    assert rows[bad].state == "Failed" and rows[bad].engine.startswith("shell") and rows[bad].error
    assert rows[ok].created and rows[ok].duration
    assert len(linkis.run_line_magic("linkis", "history -n 1")) == 1


def test_result_of_a_finished_job(linkis: Any, gateway: Any) -> None:
    task = run_job(linkis, "", "select 1 as a; select 'two' as b")
    value = linkis.run_line_magic("linkis", f"result {task} -q -o both")
    assert value is None
    first, second = linkis.user_ns["both"]
    assert first["a"].tolist() == [1] and second["b"].tolist() == ["two"]
    running = running_job(linkis)
    with pytest.raises(UsageError, match="is still Running"):
        linkis.run_line_magic("linkis", f"result {running.task_id}")
    running.kill()


def test_download_streams_the_csv_export(linkis: Any, tmp_path: Path, capsys: Any) -> None:
    task = run_job(linkis, "", "select x, x * 2 as y from range(3) t(x); select 'only' as z")
    target = tmp_path / "rows.csv"
    linkis.run_line_magic("linkis", f"download {task} {target}")
    assert target.read_text().splitlines() == ["x,y", "0,0", "1,2", "2,4"]
    assert f"written to {target}" in capsys.readouterr().out
    linkis.run_line_magic("linkis", f"download {task} {tmp_path} --index 1 --sep ';'")
    assert (tmp_path / f"linkis-{task}-1.csv").read_text().splitlines() == ["z", "only"]
    with pytest.raises(UsageError, match=r"has 2 result set\(s\), --index must be 0..1"):
        linkis.run_line_magic("linkis", f"download {task} {target} --index 2")
    with pytest.raises(UsageError, match="does not exist"):
        linkis.run_line_magic("linkis", f"download {task} {tmp_path / 'no' / 'such' / 'dir.csv'}")
    bad = run_job(linkis, "", "select * from missing_table")
    with pytest.raises(UsageError, match="is Failed, it has no results"):
        linkis.run_line_magic("linkis", f"download {bad} {target}")


def test_result_shows_html_pictures_and_text(linkis: Any, gateway: Any, recorder: RecordingPublisher,
                                             capsys: Any) -> None:
    # The embedded engines write TABLE and TEXT result sets only; HTML and PICTURE ones (Spark's
    # and Python's display helpers make them on a real Linkis) are put beside a finished job's
    # table in Linkis' own file format, and served by the gateway like any other.
    import base64
    from urllib.parse import urlparse

    from linkis_jupyter.gateway import dolphin

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    task = run_job(linkis, "", "select 1 as a")
    folder = Path(urlparse(gateway_task(gateway, task)["resultLocation"]).path)
    dolphin.write_result_set(folder / "_1.dolphin", dolphin.HTML, None, [["<b>bold</b> words"]])
    dolphin.write_result_set(folder / "_2.dolphin", dolphin.PICTURE, None, [[base64.b64encode(png).decode()]])
    dolphin.write_result_set(folder / "_3.dolphin", dolphin.TEXT, None, [["plain"], ["lines"]])
    value = linkis.run_line_magic("linkis", f"result {task}")
    assert value is None  # the last result set is text, not a table
    # The first output is the result grid's library (once per kernel), then the result sets.
    library, *bundles = [o["data"] for o in recorder.outputs]
    assert "injectModule(" in library["text/html"]
    assert "text/html" in bundles[0] and ">a<" in bundles[0]["text/html"].replace(" ", "")
    assert bundles[1]["text/html"] == "<b>bold</b> words"
    assert base64.b64decode(bundles[2]["image/png"]) == png
    assert "plain\nlines" in capsys.readouterr().out
