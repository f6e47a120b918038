"""`%linkis login` asks for the password the way each front end hides it: on a terminal with its
echo off, and in Jupyter through the frontend's password box (an `input_request` with
`password: true`). The password never shows in what the terminal or the notebook received."""
from __future__ import annotations

import io
import os
import queue
import sys
import textwrap
from pathlib import Path
from typing import Any

import pexpect  # IPython requires it on POSIX (its terminal `%sx` and `!` use it)
import pytest

from fixtures.kernels import execute, shell_reply, text_of

pytestmark = pytest.mark.timeout(120)

PROMPT = "Linkis password for alice at"


def test_login_on_a_terminal_reads_the_password_with_the_echo_off(gateway: Any, tmp_path: Path) -> None:
    script = tmp_path / "login.py"
    script.write_text(textwrap.dedent(f"""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        ip.run_line_magic("load_ext", "linkis_jupyter")
        ip.run_line_magic("linkis", "connect {gateway.url} --user alice")
        ip.run_line_magic("linkis", "login")
        ip.run_cell_magic("linkis", "-e shell --progress none --log none -o out", "echo logged-in-job")
        print("OUT", ip.user_ns["out"].strip())
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKIS_")}
    env.update(IPYTHONDIR=str(tmp_path / "ipython"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), TERM="dumb")
    transcript = io.StringIO()
    # A pseudo-terminal that is the process's controlling terminal: getpass opens /dev/tty, as
    # it does when a user runs IPython in a terminal.
    child = pexpect.spawn(sys.executable, [str(script)], env=env, encoding="utf-8", timeout=60)
    child.logfile_read = transcript
    try:
        child.expect_exact(PROMPT)
        # The terminal stops echoing before the password is typed.
        assert child.waitnoecho(timeout=10), "the terminal still echoes at the password prompt"
        child.sendline(gateway.password)
        child.expect_exact("OUT logged-in-job")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, transcript.getvalue()
    text = transcript.getvalue()
    assert f"Logged in to {gateway.url} as alice" in text
    assert gateway.password not in text, text


def test_login_in_a_kernel_asks_the_frontend_for_a_password(gateway: Any, start_kernel: Any) -> None:
    _km, kc = start_kernel("linkis-shell")
    msg_id = kc.execute("%linkis login", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=60)
    assert request["msg_type"] == "input_request" and request["parent_header"]["msg_id"] == msg_id
    assert request["content"]["prompt"].startswith(PROMPT)
    # The frontend shows a password box (JupyterLab: a masked input), not a text field.
    assert request["content"]["password"] is True
    kc.input(gateway.password)
    outputs: list[dict] = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=60)
        except queue.Empty:
            raise AssertionError(f"no idle after the password: {text_of(outputs)}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        outputs.append(msg)
    reply = shell_reply(kc, msg_id, timeout=30)
    assert reply["content"]["status"] == "ok", text_of(outputs)
    assert f"Logged in to {gateway.url} as alice" in text_of(outputs)
    assert gateway.password not in str(outputs)
    # The kernel's jobs now run on the login session.
    reply, outputs = execute(kc, "%%local\nprint(get_ipython().find_magic('linkis').__self__.client.auth_method)")
    assert reply["status"] == "ok" and "password" in text_of(outputs), text_of(outputs)
    reply, outputs = execute(kc, "echo after-login")
    assert reply["status"] == "ok" and "after-login" in text_of(outputs), text_of(outputs)
