"""What the magics tests share besides fixtures."""
from __future__ import annotations

from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from linkis_jupyter.magics import LinkisMagics


def magics_of(ip: InteractiveShell) -> LinkisMagics:
    return ip.magics_manager.registry["LinkisMagics"]


class RecordingPublisher(DisplayPublisher):
    """The shell's display publisher, keeping every display as it happens and calling `hook` on
    each (from the thread that displays, while the magic runs)."""

    def __init__(self, shell: InteractiveShell, hook: Any = None) -> None:
        super().__init__(shell=shell)
        self.outputs: list[dict[str, Any]] = []
        self.hook = hook

    def publish(self, data: dict[str, Any], metadata: Any = None, source: Any = None, *,
                transient: Any = None, update: bool = False, **kwargs: Any) -> None:
        record = {"data": data, "transient": transient or {}, "update": update}
        self.outputs.append(record)
        if self.hook is not None:
            self.hook(record)

    def texts(self) -> list[str]:
        return [o["data"].get("text/plain", "") for o in self.outputs]

    def html(self) -> list[str]:
        return [o["data"]["text/html"] for o in self.outputs if "text/html" in o["data"]]




def task_ids(texts: list[str]) -> set[int]:
    """Task ids named by progress lines ("Linkis task 12 · Running ...")."""
    import re

    return {int(m.group(1)) for t in texts for m in re.finditer(r"Linkis task (\d+)", t)}


def gateway_task(gateway: Any, task_id: int) -> dict[str, Any]:
    """The job-history record of a task, asked over plain HTTP (not through the client)."""
    import requests

    response = requests.get(
        f"{gateway.url}/api/rest_j/v1/jobhistory/{task_id}/get",
        headers={"Token-Code": gateway.token, "Token-User": gateway.user},
        timeout=10,
    )
    body = response.json()
    assert body["status"] == 0, body
    return body["data"]["task"]


def gateway_task_count(gateway: Any) -> int:
    """How many jobs alice has on the gateway (job history over plain HTTP)."""
    import requests

    response = requests.get(
        f"{gateway.url}/api/rest_j/v1/jobhistory/list",
        params={"pageSize": 1000},
        headers={"Token-Code": gateway.token, "Token-User": gateway.user},
        timeout=10,
    )
    body = response.json()
    assert body["status"] == 0, body
    return len(body["data"]["tasks"])
