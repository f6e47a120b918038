"""An interrupt that arrives while the submit request is still on the wire."""
from __future__ import annotations

import _thread
import threading
from typing import Any

from gateway_history import FINAL, newest_job


def test_interrupt_during_submit_kills_the_job_it_created(linkis: Any, gateway: Any, capsys: Any) -> None:
    # The gateway holds the submit for a second before creating the job; the interrupt comes
    # in the middle, when the client cannot yet know the job's task id.
    gateway.faults.set(stall_rate=1.0, stall_seconds=1.0, paths=r"/entrance/execute", count=1)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        result = linkis.run_cell("%%linkis -e shell --progress none --log none\nsleep 30")
    finally:
        timer.join(5)
        gateway.faults.clear()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    task = newest_job(gateway, FINAL)
    assert task["status"] == "Cancelled"
    assert f"Linkis job {task['taskID']} cancelled" in capsys.readouterr().err
    assert linkis.run_cell("%%linkis -e shell --progress none --log none\necho ok").success
