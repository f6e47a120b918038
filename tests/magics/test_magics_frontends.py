"""The magics where users meet them: a notebook run by nbclient (as papermill does) in a real
ipykernel, and a terminal IPython on a pseudo-terminal."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from fixtures.gateway import gateway_env, point_at_gateway
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_a_notebook_shows_widget_log_and_table_and_stops_at_a_failed_job(gateway: Any, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_gateway(monkeypatch, gateway, tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext linkis_jupyter"),
        nbformat.v4.new_code_cell("%%linkis -e spark\nselect 6 * 7 as answer"),
        nbformat.v4.new_code_cell("%%linkis -e spark\nselect * from no_such_table"),
        nbformat.v4.new_code_cell("print('not reached')"),
    ]
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "JobFailedError"

    ok = nb.cells[1].outputs
    widget = [o for o in ok if o.output_type in ("display_data", "update_display_data") and WIDGET in o.data]
    assert widget, [o.output_type for o in ok]
    # The widget's display was refreshed at the end: what a reader without widget state sees.
    assert widget[-1].data["text/plain"].startswith("Linkis task ")
    assert " · Succeed · " in widget[-1].data["text/plain"]
    logs = [o for o in ok if o.output_type == "display_data" and "linkis-log" in o.data.get("text/html", "")]
    # --log fold, the default: one output, updated in place, folded away once the job succeeded;
    # its text/plain counts the lines it does not hold and says where the whole log is.
    (log,) = logs
    assert "<details class=\"linkis-log-fold\" style=" in log.data["text/html"]
    assert "Congratulations" in log.data["text/html"]
    assert "other lines not shown here; `%linkis log 1` shows the whole log" in log.data["text/plain"]
    (result,) = [o for o in ok if o.output_type == "execute_result"]
    assert "answer" in result.data["text/plain"] and "42" in result.data["text/plain"]

    (error,) = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert error.ename == "JobFailedError"
    traceback = "\n".join(error.traceback)
    assert "ended Failed" in traceback and "no_such_table" in traceback
    assert "magics.py" not in traceback and "job.py" not in traceback
    assert nb.cells[3].outputs == []


def test_a_terminal_ipython_rewrites_the_progress_line_and_colours_warnings(gateway: Any, tmp_path: Path) -> None:
    script = tmp_path / "terminal.py"
    script.write_text(textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        ip.run_line_magic("load_ext", "linkis_jupyter")
        ip.run_cell("%%linkis -e shell --timeout 60\\necho 'bad thing' >&2\\nsleep 0.6\\necho the-result")
        print("END")
    """))
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower, env=gateway_env(gateway, tmp_path), close_fds=True)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    try:
        while b"END" not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
    finally:
        proc.wait(30)
        os.close(leader)
    text = output.decode()
    assert "END" in text, text
    # One line, rewritten in place: "\r" before each state, one newline after the last.
    assert "\rLinkis task 1 · Submitted" in text
    assert "\rLinkis task 1 · Succeed" in text
    final = text[text.index("\rLinkis task 1 · Succeed"):]
    assert "\n" in final and "Linkis task" not in final[final.index("\n"):]
    # The job's stderr line is a WARN line of its log: coloured, and marked for copy-paste.
    warn = next(line for line in text.splitlines() if "bad thing" in line)
    assert warn.startswith("\x1b[33m[WARN] ") and warn.endswith("\x1b[0m")
    assert "the-result" in text


@pytest.mark.parametrize("widgets", ["missing", "installed"])
def test_text_progress_takes_over_when_ipywidgets_cannot_be_imported(gateway: Any, tmp_path: Path, widgets: str) -> None:
    # A separate IPython where `import ipywidgets` fails (None in sys.modules, as for a package
    # that is not installed) before the magics choose their reporter; the control has ipywidgets.
    script = tmp_path / "no_widgets.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        if {widgets == "missing"!r}:
            sys.modules["ipywidgets"] = None
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)

        class Kinds(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, **kwargs):
                print("DISPLAY", sorted(data), data.get("text/plain", ""))

        ip.display_pub = Kinds(shell=ip)
        ip.run_line_magic("load_ext", "linkis_jupyter")
        result = ip.run_cell("%%linkis -e shell --progress widget --log none --timeout 60\\necho the-result")
        print("ERROR", type(result.error_in_exec).__name__)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90,
                          env=gateway_env(gateway, tmp_path), start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR NoneType" in proc.stdout and "the-result" in proc.stdout
    displays = [line for line in proc.stdout.splitlines() if line.startswith("DISPLAY ")]
    widget = [line for line in displays if "application/vnd.jupyter.widget-view+json" in line]
    assert bool(widget) == (widgets == "installed"), displays
    # Either way the progress ends Succeed; without ipywidgets on a text line.
    assert "Linkis task 1 · Succeed" in displays[-1], displays
    assert displays[-1].startswith("DISPLAY ['text/plain']") == (widgets == "missing"), displays
