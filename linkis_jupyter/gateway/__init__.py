"""The embedded Linkis-compatible gateway: Linkis' HTTP API over real DuckDB, Python and bash work.

    with EmbeddedGateway(data_dir, users={"alice": "pw"}) as gw:
        requests.post(gw.url + "/api/rest_j/v1/user/login", json={...})

A reading order: server.py (EmbeddedGateway: options, start, stop); app.py (the route table:
every endpoint and the function answering it); web.py (the one request handler: faults, auth,
Linkis' envelope) with auth.py (sessions, tokens, proxy rules); the routes_*.py modules, one per
area, routes_submit.py with the entrance's interceptors (variables.py, sql_limit.py); jobs.py (the
entrance: queue, states, logs, history lag) over engines.py and its engine_*.py (engine_sql.py
reads each engine's SQL dialect through spark_sql.py); storage.py (job history, the users'
areas); dolphin.py (Linkis' result-set format).
"""
from __future__ import annotations

from .server import EmbeddedGateway, GatewayConfigError, is_loopback, parse_history_lag

__all__ = ["EmbeddedGateway", "GatewayConfigError", "is_loopback", "parse_history_lag"]
