"""The embedded Linkis-compatible gateway: Linkis' HTTP API over real DuckDB, Python and bash work.

    with EmbeddedGateway(data_dir, users={"alice": "pw"}) as gw:
        requests.post(gw.url + "/api/rest_j/v1/user/login", json={...})

The class is in server.py; the routes in app.py and files.py, over web.py's envelope and auth;
jobs.py and engines.py do the work, storage.py keeps job history and the users' areas, dolphin.py
is Linkis' result-set format.
"""
from __future__ import annotations

from .server import EmbeddedGateway, GatewayConfigError, is_loopback, parse_history_lag

__all__ = ["EmbeddedGateway", "GatewayConfigError", "is_loopback", "parse_history_lag"]
