"""`%linkis databases`, `%linkis tables`, `%linkis columns` in a real IPython shell: against the
embedded gateway's metadata routes (tables made by `%%linkis` SQL cells), and against Linkis' own
answers (linkis-api.md section 11) served by the loopback proxy, as are a gateway without the
metadata service and a table the user may not read."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
import requests
from IPython.core.error import UsageError

pytestmark = pytest.mark.timeout(90)


def linkis_reply(endpoint: str, data: Any, status: int = 0, message: str = "") -> str:
    return json.dumps({"method": f"/api/datasource/{endpoint}", "status": status, "message": message, "data": data})


@pytest.fixture
def via_proxy(ip: Any, gateway: Any, proxy: Any) -> Any:
    """The shell connected to the gateway through the loopback proxy, as alice by token."""
    ip.run_line_magic("linkis", f"connect {proxy.url} --user {gateway.user} --token {gateway.token}")
    return ip


ORDERS_COLUMNS = {"columns": [
    {"columnName": "id", "columnType": "bigint", "columnComment": None, "partitioned": False},
    {"columnName": "amount", "columnType": "decimal(10,2)", "columnComment": "in EUR", "partitioned": False},
    {"columnName": "dt", "columnType": "string", "columnComment": "day", "partitioned": True},
]}
SALES_TABLES = {"tables": [
    {"tableName": name, "isView": view, "databaseName": "sales", "createdBy": "alice", "createdAt": 1700000000,
     "lastAccessAt": 0}
    for name, view in (("Orders", False), ("orders_2023", False), ("order_view", True), ("items", False))
]}


def test_the_three_tables_as_linkis_answers(via_proxy: Any, proxy: Any) -> None:
    proxy.answer(r"/datasource/dbs", 200, "application/json",
                 linkis_reply("dbs", {"dbs": [{"dbName": "default"}, {"dbName": "sales"}]}))
    frame = via_proxy.run_line_magic("linkis", "databases -o dbs")
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["database"]
    assert frame["database"].tolist() == ["default", "sales"]
    assert via_proxy.user_ns["dbs"] is frame

    proxy.answer(r"/datasource/tables\?database=sales", 200, "application/json", linkis_reply("tables", SALES_TABLES))
    frame = via_proxy.run_line_magic("linkis", "tables sales")
    assert list(frame.columns) == ["table", "view", "created by", "created"]
    assert frame["table"].tolist() == ["Orders", "orders_2023", "order_view", "items"]
    assert frame["view"].tolist() == [False, False, True, False]
    assert set(frame["created by"]) == {"alice"} and all(frame["created"].str.startswith("2023-11-1"))

    proxy.answer(r"/datasource/columns\?database=default&table=orders", 200, "application/json",
                 linkis_reply("columns", ORDERS_COLUMNS))
    frame = via_proxy.run_line_magic("linkis", "columns orders -o cols")
    assert list(frame.columns) == ["column", "type", "comment", "partition"]
    assert frame.values.tolist() == [
        ["id", "bigint", "", False], ["amount", "decimal(10,2)", "in EUR", False], ["dt", "string", "day", True]]
    assert via_proxy.user_ns["cols"] is frame


@pytest.mark.parametrize("pattern, expected", [
    ("ORDER*", ["Orders", "orders_2023", "order_view"]),
    ("order?", ["Orders"]),
    ("*_*", ["orders_2023", "order_view"]),
    ("items", ["items"]),
    ("x*", []),
])
def test_like_is_a_case_insensitive_glob(via_proxy: Any, proxy: Any, pattern: str, expected: list[str]) -> None:
    proxy.answer(r"/datasource/tables\?database=sales", 200, "application/json", linkis_reply("tables", SALES_TABLES))
    frame = via_proxy.run_line_magic("linkis", f"tables sales --like '{pattern}'")
    assert frame["table"].tolist() == expected


def test_tables_default_to_the_database_default(via_proxy: Any, proxy: Any) -> None:
    proxy.answer(r"/datasource/tables\?database=default", 200, "application/json", linkis_reply("tables", {
        "tables": [{"tableName": "t", "isView": False, "databaseName": "default", "createdBy": "alice",
                    "createdAt": 0, "lastAccessAt": 0}]}))
    frame = via_proxy.run_line_magic("linkis", "tables -o t")
    assert frame.values.tolist() == [["t", False, "alice", ""]] and via_proxy.user_ns["t"] is frame


def test_a_table_that_cannot_be_read_is_named(via_proxy: Any, proxy: Any) -> None:
    proxy.answer(r"/datasource/columns\?database=sales&table=secret", 200, "application/json",
                 linkis_reply("columns", {"columns": None}))
    with pytest.raises(UsageError, match=r"^%linkis columns: there is no table sales\.secret \(or you may not read it\)$"):
        via_proxy.run_line_magic("linkis", "columns sales.secret")
    proxy.answer(r"/datasource/columns", 200, "application/json", linkis_reply("columns", {"columns": []}))
    with pytest.raises(UsageError, match=r"^%linkis columns: there is no table default\.nope$"):
        via_proxy.run_line_magic("linkis", "columns nope")


def test_a_database_that_does_not_exist_is_named(via_proxy: Any, proxy: Any) -> None:
    proxy.answer(r"/datasource/tables", 200, "application/json", linkis_reply("tables", {"tables": []}))
    proxy.answer(r"/datasource/dbs", 200, "application/json", linkis_reply("dbs", {"dbs": [{"dbName": "default"}]}))
    with pytest.raises(UsageError, match="there is no database 'nowhere'"):
        via_proxy.run_line_magic("linkis", "tables nowhere")


@pytest.mark.parametrize("line", ["databases", "tables", "tables sales --like 'a*'", "columns sales.orders"])
def test_a_gateway_without_the_metadata_service_is_one_line(via_proxy: Any, proxy: Any, capsys: Any, line: str) -> None:
    proxy.answer(r"/datasource/", 404, "application/json", json.dumps({
        "timestamp": "2024-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found", "path": "/x"}), count=2)
    capsys.readouterr()
    result = via_proxy.run_cell(f"%linkis {line}")
    assert isinstance(result.error_in_exec, UsageError)
    shown = capsys.readouterr()
    text = (shown.out + shown.err).strip()
    command = line.split()[0]
    assert text.startswith(f"UsageError: %linkis {command}: the Linkis gateway at {proxy.url} has no metadata service")
    assert len(text.splitlines()) == 1 and "Traceback" not in text


def test_the_gateway_s_answer_for_a_path_it_does_not_serve(via_proxy: Any, gateway: Any, proxy: Any) -> None:
    # The embedded gateway's own answer for a /datasource path it routes nowhere (Spring's 404),
    # passed on by the proxy for /datasource/dbs, as a gateway without the metadata service answers.
    own = requests.get(gateway.url + "/api/rest_j/v1/datasource/no-such-dbs", timeout=10,
                       headers={"Token-Code": gateway.token, "Token-User": gateway.user})
    assert own.status_code == 404
    proxy.answer(r"/datasource/dbs", own.status_code, own.headers["Content-Type"], own.content)
    with pytest.raises(UsageError, match=r"^%linkis databases: .* has no metadata service"):
        via_proxy.run_line_magic("linkis", "databases")


def test_a_user_without_rights_is_one_line(via_proxy: Any, proxy: Any) -> None:
    proxy.answer(r"/datasource/dbs", 403, "application/json", linkis_reply("dbs", {}, 3, "no permission"))
    with pytest.raises(UsageError, match="^%linkis databases: .* does not let alice read the metadata"):
        via_proxy.run_line_magic("linkis", "databases")


def test_bad_arguments(via_proxy: Any) -> None:
    for line, message in (("columns sales.", "is not a table name"), ("columns .t", "is not a table name"),
                          ("databases -o 1x", "needs a Python variable name")):
        with pytest.raises(UsageError, match=message):
            via_proxy.run_line_magic("linkis", line)


# -- the embedded gateway --------------------------------------------------------------------

def test_tables_made_by_sql_cells(linkis: Any, gateway: Any) -> None:
    cell = "-q --progress none --log none --timeout 60"
    linkis.run_cell_magic("linkis", cell, "create table orders(id bigint, amount double, note varchar)")
    linkis.run_cell_magic("linkis", cell, "create view big_orders as select * from orders where amount > 100")
    linkis.run_cell_magic("linkis", cell, "create schema sales; create table sales.items(sku varchar, price double)")

    frame = linkis.run_line_magic("linkis", "databases -o dbs")
    assert {"default", "sales"} <= set(frame["database"]) and linkis.user_ns["dbs"] is frame

    frame = linkis.run_line_magic("linkis", "tables")
    rows = {row.table: row for row in frame.itertuples()}
    assert {"orders", "big_orders"} <= set(rows)
    assert not rows["orders"].view and rows["big_orders"].view
    assert linkis.run_line_magic("linkis", "tables default --like 'BIG_*'")["table"].tolist() == ["big_orders"]
    assert linkis.run_line_magic("linkis", "tables sales -o t")["table"].tolist() == ["items"]

    frame = linkis.run_line_magic("linkis", "columns orders")
    assert frame["column"].tolist() == ["id", "amount", "note"]
    assert not frame["partition"].any()
    assert linkis.run_line_magic("linkis", "columns sales.items -o c")["column"].tolist() == ["sku", "price"]
    with pytest.raises(UsageError, match=r"there is no table default\.missing_table"):
        linkis.run_line_magic("linkis", "columns missing_table")
