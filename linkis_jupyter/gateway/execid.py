"""Linkis' execIDs, made and read (ZuulEntranceUtils): the 1.x form `exec_id` + two 3-digit
lengths + application + instance + short id, and the 0.x form of three 2-digit lengths."""
from __future__ import annotations

import re

__all__ = ["ENTRANCE_APP", "make_exec_id", "parse_exec_id", "task_index"]

ENTRANCE_APP = "linkis-cg-entrance"
_EXEC_ID_1X = re.compile(r"exec_id(\d{3})(\d{3})(.*)", re.S)
_EXEC_ID_0X = re.compile(r"(\d{2})(\d{2})(\d{2})(.*)", re.S)


def make_exec_id(instance: str, short_id: str) -> str:
    """Linkis 1.x execID: `exec_id` + two 3-digit lengths + application + instance + short id."""
    return f"exec_id{len(ENTRANCE_APP):03d}{len(instance):03d}{ENTRANCE_APP}{instance}{short_id}"


def parse_exec_id(exec_id: str) -> tuple[str, str, str] | None:
    """(application, instance, short id) of a 1.x or 0.x execID, or None when malformed."""
    m = _EXEC_ID_1X.fullmatch(exec_id)
    if m:
        a, b, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        if a and b and len(rest) > a + b:
            return rest[:a], rest[a:a + b], rest[a + b:]
        return None
    m = _EXEC_ID_0X.fullmatch(exec_id)
    if m:
        a, b, c, rest = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        if a and b and c and len(rest) > a + b + c:
            return rest[a:a + b], rest[a + b:a + b + c], rest[a + b + c:]
    return None


def task_index(short_id: str) -> int | None:
    """The trailing number of a short id like `IDE_alice_spark_7` (here the taskID)."""
    tail = short_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None
