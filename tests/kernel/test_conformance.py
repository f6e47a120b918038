"""jupyter_kernel_test's conformance suite against the Linkis kernels, on the embedded gateway."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import jupyter_kernel_test
from jupyter_kernel_test import msgspec_v5

from linkis_jupyter.gateway import EmbeddedGateway

# jupyter_kernel_test 0.7.0 validates every iopub message but has no schema for comm messages,
# which every ipywidgets progress bar sends; register permissive ones.
_COMM = {"comm_id": {"type": "string"}, "data": {"type": "object"}}
msgspec_v5.schema_fragments.setdefault("comm_open", {
    "properties": dict(_COMM, target_name={"type": "string"}),
    "required": ["comm_id", "target_name", "data"], "additionalProperties": True})
msgspec_v5.schema_fragments.setdefault("comm_msg", {
    "properties": dict(_COMM), "required": ["comm_id", "data"], "additionalProperties": True})
msgspec_v5.schema_fragments.setdefault("comm_close", {
    "properties": dict(_COMM), "required": ["comm_id"], "additionalProperties": True})


class GatewayKernelTests(jupyter_kernel_test.KernelTests):
    """Starts an embedded gateway for the class and points the kernel at it by environment."""

    __test__ = False

    _saved_env: dict[str, str | None]

    @classmethod
    def setUpClass(cls) -> None:
        cls._tmp = tempfile.TemporaryDirectory()
        tmp = Path(cls._tmp.name)
        cls.gateway = EmbeddedGateway(tmp / "gateway", users={"alice": "alice-Secret-1"}, tokens={"conf-Token": "*"})
        cls.gateway.start()
        env = {
            "LINKIS_GATEWAY_URL": cls.gateway.url,
            "LINKIS_USER": "alice",
            "LINKIS_TOKEN": "conf-Token",
            "LINKIS_CLI_CONF": str(tmp / "none.properties"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        }
        cls._saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            for name, value in cls._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            cls.gateway.stop()
            cls._tmp.cleanup()


class TestLinkisPythonKernel(GatewayKernelTests):
    __test__ = True
    kernel_name = "linkis-python"
    language_name = "python"
    file_extension = ".py"

    # Runs on the gateway: the job's printed output is the first thing on stdout (log lines are
    # display outputs, never stdout).
    code_hello_world = "print('hello, world')"
    code_stderr = "%%local\nimport sys; print('oops', file=sys.stderr)"
    code_generate_error = "%%local\nraise ValueError('boom')"
    code_execute_result = [
        {"code": "import pandas as pd\nshow(pd.DataFrame({'x': [42]}))", "result": repr(pd.DataFrame({"x": [42]}))},
        {"code": "%%local\n6*7", "result": "42"},
    ]
    code_display_data = [
        {"code": "%%local\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>test</b>'))", "mime": "text/html"},
    ]
    code_history_pattern = "*show(pd.DataFrame*"
    # "range" fails on the stock python3 kernel too (IPython reports session 0 for the current one).
    supported_history_operations = ("tail", "search")
    code_page_something = "%%local\nprint?"
    code_inspect_sample = "print"
    code_clear_output = "%%local\nfrom IPython.display import clear_output; clear_output()"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]


class TestLinkisSparkSqlKernel(GatewayKernelTests):
    __test__ = True
    kernel_name = "linkis-spark-sql"
    language_name = "sql"
    file_extension = ".sql"

    code_execute_result = [
        {"code": "select 6*7 as x", "result": repr(pd.DataFrame({"x": [42]}))},
    ]
    code_history_pattern = "select 6[*]7*"
    supported_history_operations = ("tail", "search")
    code_generate_error = "%%local\nraise ValueError('boom')"
    # SQL keywords, whatever the gateway's metadata holds (tests/kernel/test_completion.py has the rest).
    completion_samples = [{"text": "sel", "matches": {"select"}},
                          {"text": "select x from t GRO", "matches": {"GROUP BY"}}]
    # %%local cells are IPython's, in a SQL kernel too.
    code_hello_world = "%%local\nprint('hello, world')"
    code_stderr = "%%local\nimport sys; print('oops', file=sys.stderr)"
    code_display_data = [
        {"code": "%%local\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>test</b>'))", "mime": "text/html"},
    ]
    code_page_something = "%%local\nprint?"
    code_inspect_sample = "%%local\nprint"
    code_clear_output = "%%local\nfrom IPython.display import clear_output; clear_output()"
