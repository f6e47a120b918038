"""Shell run types: bash per job in the user's area; stdout a TEXT result, stderr the log."""
from __future__ import annotations

import os

import pytest
from engine_helpers import Jobs, alive, wait_until

from linkis_jupyter.gateway.engines import KILLED, SHELL_CODE_IS_WRONG


def test_stdout_is_a_text_result_and_stderr_goes_to_the_log(jobs: Jobs) -> None:
    run = jobs.run("""
echo hello
printf 'tab\\there\\nünï\\n'
echo "a warning" >&2
pwd
echo 'second warning' >&2
""", "shell").ok()
    assert run.rows() == [["hello"], ["tab\there"], ["ünï"], [str(run.ctx.workspace)]]
    assert run.results()[0].type == "1"
    warnings = [text for level, text in run.logs if level == "WARN"]
    assert warnings == ["a warning", "second warning"]


def test_long_stderr_lines_are_cut_in_the_log_not_in_the_result(jobs: Jobs) -> None:
    code = "printf 'y%.0s' $(seq 5000) >&2; echo >&2; printf 'z%.0s' $(seq 5000)"
    run = jobs.run(code, "sh").ok()
    assert ("WARN", "y" * 2000 + "...") in run.logs
    assert run.rows() == [["z" * 5000]]


def test_no_output_means_no_result_set(jobs: Jobs) -> None:
    run = jobs.run("true", "sh").ok()
    assert run.files() == []
    assert not run.ctx.result_dir.exists()


def test_exit_code_fails_the_job(jobs: Jobs) -> None:
    run = jobs.run("echo partial\necho 'cannot open thing' >&2\nexit 3", "sh")
    assert run.error is not None and run.error.code == SHELL_CODE_IS_WRONG
    assert str(run.error) == "shell code is wrong(shell代码错误): exit code 3: cannot open thing"
    assert "The shell job ended with exit code 3." in run.log("ERROR")


def test_kill_ends_the_whole_process_group(jobs: Jobs) -> None:
    pids = jobs.root / "users" / "alice" / "pids"
    run = jobs.start(f"sleep 60 &\necho $$ $! > {pids}\nsleep 60\n", "sh")
    wait_until(lambda: pids.exists() and pids.read_text().endswith("\n"), what="pid file")
    shell_pid, child_pid = map(int, pids.read_text().split())
    assert alive(shell_pid) and alive(child_pid)
    jobs.kill(run)
    run.wait()
    assert run.error is not None and run.error.code == KILLED
    assert not alive(shell_pid) and not alive(child_pid)


def test_background_processes_end_with_the_job(jobs: Jobs) -> None:
    run = jobs.run("sleep 60 >/dev/null 2>&1 &\necho $!", "sh").ok()
    child = int(run.text())
    wait_until(lambda: not alive(child), what=f"background process {child} to end")


def test_jobs_do_not_see_the_gateways_secrets(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKIS_GATEWAY_TOKEN", "do-not-show")
    monkeypatch.setenv("SOME_PASSWORD", "do-not-show")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    shell = jobs.run("env", "sh").ok().text()
    python = jobs.run("import os\nprint(sorted(os.environ))", "python").ok().text()
    for output in (shell, python):
        assert "do-not-show" not in output and "SOME_PASSWORD" not in output
        assert "HARMLESS_SETTING" in output
    assert os.environ["SOME_PASSWORD"] == "do-not-show"
