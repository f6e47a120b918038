"""An interrupt that arrives while the submit request is still on the wire."""
from __future__ import annotations

import _thread
import threading
import time
from typing import Any

from fixtures.history import FINAL, newest_job


def test_interrupt_during_submit_kills_the_job_it_created(linkis: Any, gateway: Any, capsys: Any,
                                                         request_log: Any) -> None:
    # The gateway holds the submit for two seconds before creating the job; the interrupt comes
    # as soon as the gateway has the request, when the client cannot yet know the task id.
    gateway.faults.set(stall_rate=1.0, stall_seconds=2.0, paths=r"/entrance/execute", count=1)
    answered_at_interrupt: list[bool] = []

    def interrupt() -> None:
        deadline = time.monotonic() + 30
        while gateway.faults.injected["stall"] == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        _thread.interrupt_main()
        answered_at_interrupt.append(bool(request_log.paths("^/entrance/execute$")))

    sender = threading.Thread(target=interrupt)
    sender.start()
    try:
        result = linkis.run_cell("%%linkis -e shell --progress none --log none\nsleep 30")
    finally:
        sender.join(35)
        gateway.faults.clear()
    assert answered_at_interrupt == [False], "the interrupt did not come while the submit was held"
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    task = newest_job(gateway, FINAL)
    assert task["status"] == "Cancelled"
    assert f"Linkis job {task['taskID']} cancelled" in capsys.readouterr().err
    assert linkis.run_cell("%%linkis -e shell --progress none --log none\necho ok").success
