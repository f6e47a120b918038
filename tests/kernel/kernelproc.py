"""Helpers to drive a kernel process in tests: run a cell, read what it showed."""
from __future__ import annotations

import queue
import time
from typing import Any, Callable

def execute(kc: Any, code: str, timeout: float = 60, on_output: Callable[[dict], bool] | None = None) -> tuple[dict, list[dict]]:
    """Run one cell; return (execute_reply content, iopub messages of that cell).

    `on_output(msg)` is called for each output message; returning True stops collecting early
    (the cell keeps running) and the reply is then {}."""
    msg_id = kc.execute(code)
    outputs: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no idle after {timeout} s for {code!r}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status":
            if msg["content"]["execution_state"] == "idle":
                break
            continue
        outputs.append(msg)
        if on_output is not None and on_output(msg):
            return {}, outputs
    reply = kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
    return reply["content"], outputs


def text_of(outputs: list[dict]) -> str:
    """Everything a person would read in the cell's output, as plain text."""
    parts = []
    for msg in outputs:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            parts.append(content["text"])
        elif "data" in content:
            parts.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            parts.append("\n".join(content["traceback"]))
    return "\n".join(parts)

