"""Cells under injected faults: a share of requests answered 502, dropped, or stalled past the
client's read timeout. Every cell still ends with the right result, the gateway's job history
holds exactly one job per cell, and none is left running."""
from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest
from fixtures.kernels import execute, text_of

from reliability_helpers import assert_one_job_per_cell

pytestmark = pytest.mark.timeout(120)

READ_TIMEOUT = 1.0
STALL = 1.6  # past the read timeout, and within the time the client gives a lost submit to show up

# (options, code, check of the cell's value and printed output)
CELLS: list[tuple[str, str, Any]] = [
    ("-e spark", "select i, i * i as sq from range(5) t(i)",
     lambda value, out: value["sq"].tolist() == [0, 1, 4, 9, 16]),
    ("-e python", "print('py', sum(range(10)))",
     lambda value, out: "py 45" in out),
    ("-e shell", "echo shell ok; echo second line",
     lambda value, out: "shell ok\nsecond line" in out),
    ("-e spark", "select 'a' as k union all select 'b' as k order by k;\nselect 42 as answer",
     lambda value, out: isinstance(value, pd.DataFrame) and value["answer"].tolist() == [42]
     and "a" in out and "b" in out),
]

FAULTS = {
    "502-10pct": {"error_rate": 0.1},
    "502-30pct": {"error_rate": 0.3},
    "drop-10pct": {"drop_rate": 0.1},
    "drop-30pct": {"drop_rate": 0.3},
    "stall-10pct": {"stall_rate": 0.1, "stall_seconds": STALL},
    "mixed-30pct": {"error_rate": 0.1, "drop_rate": 0.1, "stall_rate": 0.1, "stall_seconds": STALL},
}


def assert_stalls_timed_out(request_log: Any) -> None:
    """Each stalled request the gateway answered was given up by the client at its read timeout:
    it sent another request while the gateway still held the stalled one (it waits on one request
    at a time)."""
    time.sleep(STALL)  # a stall the client gave up on may still be held: the gateway logs it once done
    held = request_log.overtaken(longer_than=STALL - 0.1)
    assert held, "no stalled request in the access log"
    assert all(overtaken for _path, overtaken in held), f"a stall outlasted the client's wait: {held}"


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_cells_finish_once_each_under_faults(linkis: Any, gateway: Any, request_log: Any, output: Any,
                                             fault: str) -> None:
    # `%config` after `%linkis connect`: the connected client waits READ_TIMEOUT from now on.
    linkis.run_line_magic("config", f"LinkisClient.read_timeout = {READ_TIMEOUT}")
    gateway.faults.set(**FAULTS[fault], seed=sum(map(ord, fault)))
    try:
        for options, code, check in CELLS:
            value = linkis.run_cell_magic("linkis", f"{options} --progress none --log none --timeout 90", code)
            out, _err = output.read()
            assert check(value, out), (fault, code, value, out)
    finally:
        injected = dict(gateway.faults.injected)
        gateway.faults.clear()
    assert sum(injected.values()) > 0, "no fault was injected"
    if "stall_rate" in FAULTS[fault]:
        assert injected["stall"] > 0, injected
        assert_stalls_timed_out(request_log)
    assert_one_job_per_cell(gateway, [code for _o, code, _c in CELLS])


def test_kernel_cells_finish_once_each_under_faults(gateway: Any, start_kernel: Any, request_log: Any,
                                                    output: Any) -> None:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, outputs = execute(kc, f"%config LinkisClient.read_timeout = {READ_TIMEOUT}")
    assert reply["status"] == "ok", text_of(outputs)
    cells = [
        "select 7 as seven",
        "%%linkis -e python\nprint('from python', 6 * 7)",
        "select string_agg(c, '') as word from (select unnest(['f', 'a', 'u', 'l', 't']) as c)",
        "%%linkis -e shell\necho from shell",
    ]
    expected = ["seven", "from python 42", "fault", "from shell"]
    gateway.faults.set(error_rate=0.15, drop_rate=0.1, stall_rate=0.05, stall_seconds=STALL, seed=11)
    try:
        for cell, want in zip(cells, expected):
            reply, outputs = execute(kc, cell, timeout=90)
            assert reply["status"] == "ok", text_of(outputs)
            assert want in text_of(outputs), text_of(outputs)
    finally:
        injected = dict(gateway.faults.injected)
        gateway.faults.clear()
    assert injected["error"] > 0 and injected["drop"] > 0, injected
    if injected["stall"]:
        assert_stalls_timed_out(request_log)
    assert_one_job_per_cell(gateway, [c.split("\n", 1)[1] if c.startswith("%%") else c for c in cells])
