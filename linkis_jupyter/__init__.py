"""linkis-jupyter: Apache Linkis from Jupyter.

`%load_ext linkis_jupyter` registers the `%%linkis` and `%linkis` magics; `LinkisClient` and `Job`
are the plain-Python API; `linkis-jupyter gateway` is an embedded Linkis-compatible gateway.
"""
from __future__ import annotations

__version__ = "0.1.0"

# The client side loads on first use, so that importing the package (for the magics, or the
# gateway command) does not pull in requests, traitlets config and pandas.
_LAZY = {
    "LinkisClient": "linkis_jupyter.client",
    "Job": "linkis_jupyter.job",
    "JobSpec": "linkis_jupyter.spec",
    "JobState": "linkis_jupyter.job",
    "LinkisError": "linkis_jupyter.errors",
}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("errors", "client", "job", "results"):
        return importlib.import_module(f"linkis_jupyter.{name}")
    raise AttributeError(f"module 'linkis_jupyter' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext linkis_jupyter`: register `%%linkis` and `%linkis` (linkis_jupyter.magics)."""
    from .completion import cell_matcher
    from .magics import LinkisMagics

    magics = LinkisMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)  # type: ignore[attr-defined]
    ipython.Completer.custom_matchers.append(cell_matcher(magics))  # type: ignore[attr-defined]
