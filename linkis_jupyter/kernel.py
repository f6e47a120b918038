"""Linkis kernels: IPython kernels in which every cell runs as a Linkis job.

One class serves every variant; its kernel.json (kernelspec/) sets the engine and run type:

    python -m linkis_jupyter.kernel -f {connection_file} \
        --LinkisKernel.engine=spark --LinkisKernel.run_type=sql

Cells are routed by an IPython input transformer (`route_cell`), not by rewriting the code string
in `do_execute`, so history and `In[]` keep what the user typed. `linkis-jupyter install`
(install.py) installs the kernelspecs. In the SQL kernels, Tab and Shift+Tab answer from Linkis'
metadata endpoints (completion.py); in a cell that is a magic or `%%local`, IPython answers.
"""
from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Unicode

from . import __version__
from .completion import SqlCompleter, cell_matcher
from .install import install_kernelspecs, kernelspec_dirs  # their home before install.py
from .spec import RUN_TYPE_LANGUAGE

__all__ = ["LANGUAGES", "LinkisKernel", "route_cell", "install_kernelspecs", "kernelspec_dirs"]

# What JupyterLab needs to highlight each run type (codemirror_mode) and to name saved files.
LANGUAGES = {
    "sql": {"name": "sql", "mimetype": "text/x-sql", "file_extension": ".sql", "codemirror_mode": "sql"},
    "python": {
        "name": "python",
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
    },
    "scala": {"name": "scala", "mimetype": "text/x-scala", "file_extension": ".scala", "codemirror_mode": "text/x-scala"},
    "shell": {"name": "bash", "mimetype": "text/x-sh", "file_extension": ".sh", "codemirror_mode": "shell"},
}


def route_cell(lines: list[str]) -> list[str]:
    """The input transformer: decide whether a cell is a Linkis job, a magic, or local Python.

    - blank cells and cells that start with a `%` or `%%` magic run as IPython;
    - `%%local` runs the rest of the cell as local Python (sparkmagic's convention);
    - anything else becomes the body of a `%%linkis` cell with the kernel's defaults.
    """
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return lines
    head = lines[first].strip()
    if head == "%%local" or head.startswith("%%local "):
        return lines[first + 1:]
    if head.startswith("%"):
        return lines
    return ["%%linkis\n", *lines]


# IPython also runs cleanup transformers for is_complete requests; this flag skips it there
# (TransformerManager.check_complete), so a cell is judged as Python text rather than as a
# %%linkis cell magic that waits for a blank line: most SQL cells are "invalid" (run at once),
# one with an open bracket is "incomplete".
route_cell.has_side_effects = True  # type: ignore[attr-defined]


class LinkisKernel(IPythonKernel):
    """An IPython kernel whose cells are Linkis jobs of one engine and run type."""

    implementation = "linkis_jupyter"
    implementation_version = __version__
    banner = "Linkis kernel: every cell runs as an Apache Linkis job (%%local for local Python)"

    engine = Unicode("spark", help="Engine of every cell's job, with an optional version: spark-3.2.1.").tag(config=True)
    run_type = Unicode("sql", help="Run type of every cell's job: sql, py, scala, hql, python, shell ...").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from .magics import LinkisMagics

        self.magics = LinkisMagics(shell=self.shell, parent=self.shell)
        self.magics.engine = self.engine
        self.magics.run_type = self.run_type
        self.shell.register_magics(self.magics)
        self.shell.Completer.custom_matchers.append(cell_matcher(self.magics))
        self.shell.input_transformers_cleanup.append(route_cell)
        language = RUN_TYPE_LANGUAGE.get(self.run_type, "python")
        self.language_info = dict(LANGUAGES[language])
        self.completer = SqlCompleter(self.magics.metadata) if language == "sql" else None

    def _completes(self, code: str) -> bool:
        """Whether this cell is SQL for the completer (not a magic, not `%%local` Python)."""
        first = next((line.strip() for line in code.splitlines() if line.strip()), "")
        return self.completer is not None and not first.startswith("%")

    def do_complete(self, code: str, cursor_pos: int) -> Any:
        if not self._completes(code):
            return super().do_complete(code, cursor_pos)
        matches, start, end = self.completer.complete(code, cursor_pos)  # type: ignore[union-attr]
        return {"status": "ok", "matches": matches, "cursor_start": start, "cursor_end": end, "metadata": {}}

    def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()) -> Any:
        if not self._completes(code):
            return super().do_inspect(code, cursor_pos, detail_level, omit_sections)
        text = self.completer.inspect(code, cursor_pos)  # type: ignore[union-attr]
        return {"status": "ok", "found": text is not None, "data": {"text/plain": text} if text else {},
                "metadata": {}}

    def do_shutdown(self, restart: bool) -> Any:
        # Shutdown and restart requests arrive on the control thread while a cell may still be
        # waiting on its job in the shell thread: kill the job here so it does not outlive us.
        self.magics.kill_running_jobs()
        return super().do_shutdown(restart)


if __name__ == "__main__":
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=LinkisKernel)
