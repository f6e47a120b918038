"""/user: login, token login, logout, userInfo, heartbeat, publicKey, baseinfo, proxy.

Answered by the gateway itself, before any authentication (Linkis' SecurityFilter hands /user/ to
UserRestful first), and by the path alone, whatever the method. Messages are Linkis' own
(apache/linkis: UserRestful, SSOUtils, GatewaySSOUtils, TokenAuthentication).
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from .auth import PROXY_GUESS, throttled_text
from .storage import valid_user_name
from .web import ApiError

if TYPE_CHECKING:
    from .web import GatewayHandler

# SSOUtils' NonLoginException / LoginExpireException texts (errCode 11002), as /user/* reports them.
NO_LOGIN = ("NonLoginException", "You are not logged in, please login first(您尚未登录，请先登录!)")
UNKNOWN_TICKET = ("LoginExpireException", "You are not logged in, please login first!(您尚未登录，请先登录!)")
EXPIRED_TICKET = ("LoginExpireException", "Login has expired, please log in again!(登录已过期，请重新登录！)")


def login(req: GatewayHandler) -> None:
    current, _ = req.session_user()
    if current is not None:
        req.reply(0, f"{current} already logged in, please log out before signing in"
                     f"(已经登录，请先退出再进行登录)！", {"userName": current})
        return
    user = req.get_query_argument("userName", None)
    password = req.get_query_argument("password", None)
    if user is None or password is None:
        body = req.body_json() if req.request.method == "POST" else {}
        user = body.get("userName", user)
        password = body.get("password", body.get("passwdEncrypt", password))
    if user is None or not str(user).strip():
        raise ApiError(1, "Username can not be empty(用户名不能为空)！")
    if password is None or not str(password).strip():
        raise ApiError(1, "Password can not be blank(密码不能为空)！")
    name = str(user).strip().lower()
    attempt = (name, req.client_identity())
    wait = req.gw.login_throttle.retry_after(attempt)
    if wait > 0:
        raise ApiError(1, throttled_text(name, wait))
    known = {u.lower(): p for u, p in req.gw.users.items()}
    expected = known.get(name)
    if expected is None or not secrets.compare_digest(str(password).encode(), expected.encode()):
        req.gw.login_throttle.failed(attempt)
        raise ApiError(1, "wrong user name or password(用户名或密码错误)！")
    req.gw.login_throttle.succeeded(attempt)
    req.set_ticket(name)
    req.reply(0, "login successful(登录成功)！", {
        "userName": name, "isAdmin": False,
        "sessionTimeOut": int(req.gw.session_timeout * 1000), "enableWatermark": False,
    })


def token_login(req: GatewayHandler) -> None:
    # The one /user/ endpoint that reads the token headers (UserRestful: TokenAuthentication
    # .tokenAuth(gatewayContext, login = true)).
    if req.request.method != "POST":
        raise ApiError(1, "Only support method POST")
    who = req.authenticate()
    if who.via != "token":
        raise ApiError(-1, "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！")
    req.set_ticket(who.user)
    req.reply(0, "login successful(登录成功)！", {"userName": who.user, "isAdmin": False})


def logout(req: GatewayHandler) -> None:
    ticket = req.ticket()
    if ticket:
        req.gw.sessions.remove(ticket)
    req.clear_cookie(req.ticket_cookie, path="/")
    req.reply(0, "Logout successful(退出登录成功)！")


def _cookie_user(req: GatewayHandler) -> tuple[str | None, tuple[str, str]]:
    """(user, why not): /user/* knows the session cookie only, never token headers
    (SecurityFilter hands /user/ to UserRestful first; GatewaySSOUtils.getLoginUsername)."""
    ticket = req.ticket()
    if not ticket:
        return None, NO_LOGIN
    user, expired = req.gw.sessions.lookup(ticket)
    return user, EXPIRED_TICKET if expired else UNKNOWN_TICKET


def _no_login_text(req: GatewayHandler, why: tuple[str, str]) -> str:
    return req.exception_text(11002, why[1], req.gw.profile.gateway_service_kind)


def user_info(req: GatewayHandler) -> None:
    user, why = _cookie_user(req)
    if user is None:
        # The exception escapes UserRestful; SecurityFilter answers Message.error with it.
        text = _no_login_text(req, why)
        if req.gw.profile.user_error_prefix:
            text = f"login failed! reason: {why[0]}: {text}"
        raise ApiError(1, text, method=req.request.path)
    req.reply(0, "get user information succeed!", {"userName": user})


def heartbeat(req: GatewayHandler) -> None:
    user, why = _cookie_user(req)
    if user is None:
        raise ApiError(-1, _no_login_text(req, why))
    req.reply(0, "Maintain heartbeat success(维系心跳成功)")


def public_key(req: GatewayHandler) -> None:
    req.reply(0, "OK", {"enableLoginEncrypt": False, "enableSSL": False})


def baseinfo(req: GatewayHandler) -> None:
    req.reply(0, "OK", {"resultSetExportEnable": True, "linkisClusterName": "linkis-jupyter",
                        "engineLogOnlyAdminEnable": False})


def proxy(req: GatewayHandler) -> None:
    proxy_user = (req.get_query_argument("proxyUser", "") or "").strip()
    code = req.get_query_argument("validationCode", None)
    req.check_guesses(PROXY_GUESS, proxy_user)
    if not proxy_user or not valid_user_name(proxy_user.lower()) or not req.proxy_rules.allows(code, proxy_user):
        req.gw.login_throttle.failed((PROXY_GUESS, req.client_identity()))
        raise ApiError(1, "Validation failed")
    req.set_ticket(proxy_user.lower())
    req.reply(0, "代理成功", {"proxyUser": proxy_user})
