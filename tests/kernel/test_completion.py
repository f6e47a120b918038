"""Tab and Shift+Tab in a real Linkis Spark SQL kernel (complete_request, inspect_request), from
the embedded gateway's metadata endpoints; and a gateway that cannot answer never holds Tab up
(each completion waits its one-second budget), with SQL keywords still offered."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from jupyter_client.manager import KernelManager

from fixtures.gateway import gateway_env
from fixtures.kernels import execute

pytestmark = pytest.mark.timeout(120)

TABLES = """create schema sales;
create table sales.orders (id bigint, amount decimal(10,2), region varchar);
create table customers (id integer, name varchar);
select 1 as made"""


def complete(kc: Any, code: str, cursor: int | None = None) -> dict[str, Any]:
    reply = kc.complete(code, len(code) if cursor is None else cursor, reply=True, timeout=30)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def matches(kc: Any, code: str, cursor: int | None = None) -> list[str]:
    return complete(kc, code, cursor)["matches"]


@pytest.fixture
def sql_kernel(start_kernel: Callable[[str], Any]) -> Any:
    _km, kc = start_kernel("linkis-spark-sql")
    reply, _ = execute(kc, TABLES)
    assert reply["status"] == "ok", reply
    return kc


def test_tab_offers_databases_tables_and_columns(sql_kernel: Any) -> None:
    kc = sql_kernel
    assert "sales" in matches(kc, "select * from sa")
    assert "customers" in matches(kc, "select * from cu")  # the database default's own
    assert matches(kc, "select * from sales.or") == ["sales.orders"]
    # Columns of the tables the statement names, after select, where, on, group by ...
    code = "select am from sales.orders"
    reply = complete(kc, code, cursor=len("select am"))
    assert reply["matches"][0] == "amount" and (reply["cursor_start"], reply["cursor_end"]) == (7, 9)
    assert "region" in matches(kc, "select id from sales.orders where reg")
    assert "name" in matches(kc, "select c.id from sales.orders o join customers c on o.id = c.id group by na")
    # ... and after an alias and a dot.
    code = "select o. from sales.orders o"
    assert matches(kc, code, cursor=len("select o.")) == ["o.id", "o.amount", "o.region"]
    # SQL keywords, in the case they are typed.
    assert "select" in matches(kc, "sel") and "GROUP BY" in matches(kc, "select id from customers GRO")


def test_shift_tab_shows_a_tables_columns(sql_kernel: Any) -> None:
    code = "select * from sales.orders o"
    reply = sql_kernel.inspect(code, len("select * from sales.ord"), reply=True, timeout=30)["content"]
    assert reply["status"] == "ok" and reply["found"], reply
    text = reply["data"]["text/plain"]
    assert text.splitlines()[0] == "sales.orders"
    assert "amount" in text and "decimal(10,2)" in text and "region" in text
    # An alias is its table.
    alias = sql_kernel.inspect(code, len(code), reply=True, timeout=30)["content"]
    assert alias["found"] and alias["data"]["text/plain"] == text
    missing = sql_kernel.inspect("select nothing_here", 10, reply=True, timeout=30)["content"]
    assert missing["status"] == "ok" and not missing["found"]


def test_what_tab_knows_is_kept_until_refresh(sql_kernel: Any) -> None:
    kc = sql_kernel
    assert "customers" in matches(kc, "select * from c")
    reply, _ = execute(kc, "create table cities (name varchar)")
    assert reply["status"] == "ok"
    assert "cities" not in matches(kc, "select * from c"), "the tables were asked for again"
    reply, outputs = execute(kc, "%linkis refresh")
    assert reply["status"] == "ok"
    assert "cities" in matches(kc, "select * from c")


def test_magics_and_local_cells_complete_as_python(sql_kernel: Any) -> None:
    assert "%linkis" in matches(sql_kernel, "%lin")
    assert "import" in matches(sql_kernel, "%%local\nimpo")


@pytest.fixture
def silent_gateway() -> Iterator[str]:
    """A gateway address that takes connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def refused_gateway() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", ["silent", "refused"])
def test_a_gateway_that_cannot_answer_never_holds_up_tab(
    gateway: Any, tmp_path: Path, silent_gateway: str, kind: str
) -> None:
    url = silent_gateway if kind == "silent" else refused_gateway()
    km = KernelManager(kernel_name="linkis-spark-sql")
    # The silent gateway's lookup would wait the whole read timeout (120 s); each completion is
    # given a quarter of it (`complete`: 30 s), so an answer shows the lookup was left behind.
    km.start_kernel(env=gateway_env(gateway, tmp_path, LINKIS_GATEWAY_URL=url, LINKIS_RETRIES="0",
                                    LINKIS_READ_TIMEOUT="120"))
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        for _ in range(2):
            assert matches(kc, "select * from sales.or") == []
        assert "select" in matches(kc, "sel")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_statement_under_the_cursor_decides(gateway: Any) -> None:
    from linkis_jupyter.client import LinkisClient
    from linkis_jupyter.completion import MetadataCache, SqlCompleter
    from linkis_jupyter.job import Job, JobSpec

    client = LinkisClient(gateway_url=gateway.url, user=gateway.user, token=gateway.token)
    Job.submit(client, JobSpec(code=TABLES, engine="spark")).wait(timeout=60)
    completer = SqlCompleter(MetadataCache(lambda: client))
    # Two statements: the second one's tables give the columns.
    code = "select id from sales.orders;\nselect na from customers"
    assert completer.complete(code, len(code) - len(" from customers"))[0] == ["name"]
    # Backquoted names, and a word completed from its middle (the rest of it is replaced).
    code = "select `o`.reg from `sales`.`orders` `o`"
    names, start, end = completer.complete(code, code.index("reg") + 2)
    assert names == ["`o`.region"] and code[start:end] == "`o`.reg"
    assert completer.inspect("describe sales.orders", len("describe sales.ord")).startswith("sales.orders\n")
    # A column through its alias, or its table's name: that table.
    code = "select o.amount from sales.orders o join customers on customers.id = o.id"
    assert completer.inspect(code, code.index("amount")).startswith("sales.orders\n")
    assert completer.inspect(code, code.index("customers.id") + 11).startswith("default.customers\n")
