"""Linkis' HTTP API on tornado: the route table, and the gateway's own /gateway endpoints.

Every request goes to the one handler (gateway/web.py `GatewayHandler`: faults, auth, the
envelope), which looks its path up here. The functions answering the routes live in one module
per area:

    routes_user.py       /user/*              login, tokens, sessions, proxy users
    routes_submit.py     /entrance/submit     a job from its body, labels and variables
                         /entrance/execute
    routes_entrance.py   /entrance/{id}/...   status, progress, log, kill, killJobs, pause
    routes_history.py    /jobhistory/...      the task records
    routes_files.py      /filesystem/...      result sets, logs, downloads (export.py writes them)
    routes_metadata.py   /datasource/...      dbs, tables, columns of the user's DuckDB database
    (here)               /gateway/...         heartbeat, and fault injection for tests
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import tornado.web

from . import (
    routes_entrance, routes_files, routes_history, routes_metadata, routes_submit, routes_user,
)
from .auth import ProxyRules
from .web import ApiError, GatewayHandler, Route, route

if TYPE_CHECKING:
    from .server import EmbeddedGateway


# == /gateway: the gateway's own =================================================================

def gateway_heartbeat(req: GatewayHandler) -> None:
    req.reply(0, "Gateway heartbeat ok!", {"gatewayList": [req.gw.jobs.instance], "isHealthy": True},
              req.request.path)


def _require_fault_endpoints(req: GatewayHandler) -> None:
    if not req.gw.fault_endpoints:
        raise ApiError(3, "The fault-injection endpoints are off on this gateway "
                          "(start it with --fault-endpoints, on loopback, for tests).")


def set_faults(req: GatewayHandler) -> None:
    _require_fault_endpoints(req)
    try:
        req.gw.faults.set_from_json(req.body_json())
    except (TypeError, ValueError) as e:
        raise ApiError(1, str(e)) from None
    req.ok({"active": req.gw.faults.active})


def expire_sessions(req: GatewayHandler) -> None:
    _require_fault_endpoints(req)
    req.gw.expire_sessions()
    req.ok()


# == the route table =============================================================================

# Paths under /api/rest_<x>/v1; a pattern's groups are passed to the function after the handler.
ROUTES: list[Route] = [
    route("POST,GET", r"/user/login", routes_user.login),
    route("POST", r"/user/token-login", routes_user.token_login),
    route("GET,POST", r"/user/logout", routes_user.logout),
    route("GET", r"/user/userInfo", routes_user.user_info),
    route("GET,POST", r"/user/heartbeat", routes_user.heartbeat),
    route("GET", r"/user/publicKey", routes_user.public_key),
    route("GET", r"/user/baseinfo", routes_user.baseinfo),
    route("GET,POST", r"/user/proxy", routes_user.proxy),

    route("GET", r"/gateway/heartbeat", gateway_heartbeat),
    route("POST", r"/gateway/faults", set_faults),
    route("POST", r"/gateway/expireSessions", expire_sessions),

    route("POST", r"/entrance/submit", routes_submit.submit),
    route("POST", r"/entrance/execute", routes_submit.execute),

    route("GET", r"/entrance/([^/]+)/status", routes_entrance.status),
    route("GET", r"/entrance/([^/]+)/progress", routes_entrance.progress),
    route("GET", r"/entrance/([^/]+)/progressWithResource", routes_entrance.progress_with_resource),
    route("GET", r"/entrance/([^/]+)/log", routes_entrance.job_log),
    # GET only, in every version: a POST gets the backend's Spring 405.
    route("GET", r"/entrance/([^/]+)/kill", routes_entrance.kill),
    route("POST", r"/entrance/([^/]+)/killJobs", routes_entrance.kill_jobs),
    route("GET", r"/entrance/([^/]+)/pause", routes_entrance.pause),

    route("GET", r"/jobhistory/([^/]+)/get", routes_history.history_get),
    route("GET", r"/jobhistory/list", routes_history.history_list),

    route("GET", r"/filesystem/getDirFileTrees", routes_files.dir_file_trees),
    route("GET", r"/filesystem/openFile", routes_files.open_file),
    route("GET", r"/filesystem/openLog", routes_files.open_log),
    route("GET,POST", r"/filesystem/resultsetToExcel", routes_files.resultset_to_excel),

    route("GET", r"/datasource/dbs", routes_metadata.dbs),
    route("GET", r"/datasource/tables", routes_metadata.tables),
    route("GET", r"/datasource/columns", routes_metadata.columns),
    # Behind the gateway, the metadata service's Spring answers the rest (404, 405).
    route("GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS", r"/datasource(?:/.*)?", routes_metadata.unknown),
]


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # The path only: a query string may carry a validation code.
    status = handler.get_status()
    took = 1000.0 * handler.request.request_time()
    logging.getLogger("tornado.access").info(
        "%d %s %s %.1fms", status, handler.request.method, handler.request.path, took)


def make_app(gateway: EmbeddedGateway) -> tornado.web.Application:
    args = {"gateway": gateway, "proxy_rules": ProxyRules(gateway.proxy_config), "routes": ROUTES}
    return tornado.web.Application(
        [(r"/.*", GatewayHandler, args)],
        log_function=_log_request,
        compress_response=False,
    )
