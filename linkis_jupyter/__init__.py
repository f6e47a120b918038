"""linkis-jupyter: Apache Linkis from Jupyter.

`%load_ext linkis_jupyter` registers the `%%linkis` and `%linkis` magics; `LinkisClient` and `Job`
are the plain-Python API; `linkis-jupyter gateway` is an embedded Linkis-compatible gateway.
"""
from __future__ import annotations

__version__ = "0.1.0"
