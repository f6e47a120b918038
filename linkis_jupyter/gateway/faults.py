"""Fault injection for tests: make the embedded gateway misbehave on purpose. Off by default.

From Python, on a started gateway::

    gw.faults.set(error_rate=0.3)              # 30% of requests answered HTTP 502 (an HTML body,
                                                # as a reverse proxy in front of Linkis would send)
    gw.faults.set(drop_rate=0.1)               # 10% of connections closed with no answer at all
    gw.faults.set(stall_rate=0.1, stall_seconds=30.0)
                                                # 10% of requests answered only after 30 s
    gw.faults.set(refuse_rate=1.0, paths=r"/log", count=1)
                                                # the next log read refused with Linkis status 1
                                                # and the entrance's passing read error
    gw.faults.set(error_rate=0.1, drop_rate=0.1, paths=r"/entrance/")
                                                # only requests whose path matches the regex
    gw.faults.set(error_rate=1.0, count=2)     # only the next 2 matching requests, then off
    gw.faults.set(error_rate=0.5, seed=7)      # reproducible choice of victims
    gw.faults.clear()                          # back to normal
    gw.faults.injected                         # {"error": n, "drop": n, "stall": n} so far
    gw.expire_sessions()                       # every login session ends now: the next request
                                                # with its cookie gets 401 / status -1

`set` replaces the whole configuration. Rates are fractions 0..1 and are tried in the order
error, drop, stall, refuse with one random draw, so their sum must be at most 1. A faulted request never
reaches a handler: a submit that answered 502 or was dropped created no job; a stalled request
is handled after its stall, as a slow proxy would forward it late.

The same over HTTP, for tests that drive a gateway in another process, only on a gateway started
with `fault_endpoints=True` (`--fault-endpoints`; loopback only: any logged-in user could
otherwise disturb everyone's requests). Authenticated like any other request; the body has the
form of `set`'s arguments::

    POST /api/rest_j/v1/gateway/faults   {"error_rate": 0.3, "paths": "/entrance/"}
    POST /api/rest_j/v1/gateway/faults   {}                      # clear
    POST /api/rest_j/v1/gateway/expireSessions
Requests to these two paths are never faulted themselves.
"""
from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Fault(str, Enum):
    ERROR = "error"
    DROP = "drop"
    STALL = "stall"
    REFUSE = "refuse"


# What Linkis' entrance answers when a read fails for a moment (EntranceRestfulApi.log).
REFUSE_MESSAGE = "Failed to get log information(获取日志信息失败)"


@dataclass
class _Config:
    error_rate: float = 0.0
    drop_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    refuse_rate: float = 0.0
    paths: re.Pattern[str] | None = None
    count: int | None = None


class Faults:
    """The fault plan of one gateway; safe to change from any thread while it serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = _Config()
        self._random = random.Random()
        self.injected: dict[str, int] = {f.value: 0 for f in Fault}

    def set(
        self,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        stall_rate: float = 0.0,
        stall_seconds: float = 30.0,
        paths: str | None = None,
        count: int | None = None,
        seed: int | None = None,
        refuse_rate: float = 0.0,
    ) -> None:
        rates = (error_rate, drop_rate, stall_rate, refuse_rate)
        if any(not 0.0 <= float(r) <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must be within 0..1 and add up to at most 1")
        if float(stall_seconds) < 0:
            raise ValueError("stall_seconds must not be negative")
        if count is not None and int(count) < 0:
            raise ValueError("count must not be negative")
        config = _Config(
            float(error_rate), float(drop_rate), float(stall_rate), float(stall_seconds), float(refuse_rate),
            re.compile(paths) if paths else None, None if count is None else int(count),
        )
        with self._lock:
            self._config = config
            if seed is not None:
                self._random.seed(seed)

    def set_from_json(self, body: dict[str, Any]) -> None:
        allowed = {"error_rate", "drop_rate", "stall_rate", "stall_seconds", "refuse_rate", "paths", "count", "seed"}
        unknown = set(body) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        self.set(**body)

    def clear(self) -> None:
        with self._lock:
            self._config = _Config()

    @property
    def active(self) -> bool:
        c = self._config
        return (c.error_rate or c.drop_rate or c.stall_rate or c.refuse_rate) > 0 and c.count != 0

    def decide(self, path: str) -> tuple[Fault | None, float]:
        """The fault for one request (or None) and, for a stall, how long."""
        with self._lock:
            c = self._config
            if not (c.error_rate or c.drop_rate or c.stall_rate or c.refuse_rate) or c.count == 0:
                return None, 0.0
            if c.paths is not None and not c.paths.search(path):
                return None, 0.0
            draw = self._random.random()
            fault: Fault | None = None
            if draw < c.error_rate:
                fault = Fault.ERROR
            elif draw < c.error_rate + c.drop_rate:
                fault = Fault.DROP
            elif draw < c.error_rate + c.drop_rate + c.stall_rate:
                fault = Fault.STALL
            elif draw < c.error_rate + c.drop_rate + c.stall_rate + c.refuse_rate:
                fault = Fault.REFUSE
            if fault is None:
                return None, 0.0
            if c.count is not None:
                c.count -= 1
            self.injected[fault.value] += 1
            return fault, c.stall_seconds
