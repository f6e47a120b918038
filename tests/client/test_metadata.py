"""LinkisClient's metadata calls (`/datasource/dbs`, `tables`, `columns`): against the embedded
gateway's metadata routes (tables made by real SQL jobs), and against Linkis' own answers as
linkis-api.md section 11 gives them, served by a loopback proxy in front of the gateway
(tests/fixtures/loopback_proxy.py), as are the answers of a gateway without the service."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from linkis_jupyter.client import ColumnInfo, LinkisClient, TableInfo
from linkis_jupyter.errors import APIError, MetadataUnavailableError
from linkis_jupyter.job import Job, JobSpec

pytestmark = pytest.mark.timeout(60)


def client_of(url: str, gateway: Any) -> LinkisClient:
    return LinkisClient(gateway_url=url, user=gateway.user, token=gateway.token, retries=0)


def linkis_reply(endpoint: str, data: Any, status: int = 0, message: str = "") -> str:
    return json.dumps({"method": f"/api/datasource/{endpoint}", "status": status, "message": message, "data": data})


# -- Linkis' own answers -----------------------------------------------------------------------

def test_databases_tables_and_columns_read_as_linkis_sends_them(proxy: Any, gateway: Any) -> None:
    client = client_of(proxy.url, gateway)
    proxy.answer(r"GET \S*/datasource/dbs", 200, "application/json",
                 linkis_reply("dbs", {"dbs": [{"dbName": "default"}, {"dbName": "sales"}]}))
    assert client.databases() == ["default", "sales"]

    proxy.answer(r"GET \S*/datasource/tables\?database=sales", 200, "application/json", linkis_reply("tables", {
        "tables": [
            {"tableName": "orders", "isView": False, "databaseName": "sales", "createdBy": "alice",
             "createdAt": 1700000000, "lastAccessAt": 0},
            {"tableName": "recent", "isView": True, "databaseName": "sales", "createdBy": "bob",
             "createdAt": "1700000100", "lastAccessAt": 1700000200},
        ]}))
    orders, recent = client.tables("sales")
    # Metastore times are epoch seconds; a lastAccessAt of 0 is never.
    assert orders == TableInfo("sales", "orders", False, "alice",
                               datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc), None)
    assert recent.is_view and recent.created_by == "bob"
    assert recent.last_access == datetime.fromtimestamp(1700000200, tz=timezone.utc)

    proxy.answer(r"GET \S*/datasource/columns\?database=default&table=orders", 200, "application/json",
                 linkis_reply("columns", {"columns": [
                     {"columnName": "id", "columnType": "bigint", "columnComment": None, "partitioned": False},
                     {"columnName": "dt", "columnType": "string", "columnComment": "day", "partitioned": True},
                 ]}))
    assert client.columns("default", "orders") == [
        ColumnInfo("id", "bigint", None, False), ColumnInfo("dt", "string", "day", True)]
    asked = [line for line in proxy.requests if "/datasource/" in line]
    assert [line.split()[1].split("/datasource/")[1] for line in asked] == [
        "dbs", "tables?database=sales", "columns?database=default&table=orders"]


def test_columns_null_is_none_and_empty_lists_are_empty(proxy: Any, gateway: Any) -> None:
    client = client_of(proxy.url, gateway)
    # A table the user may not read (or, with permissions checked, a missing one): null, status 0.
    proxy.answer(r"/datasource/columns", 200, "application/json", linkis_reply("columns", {"columns": None}))
    assert client.columns("default", "secret") is None
    # A missing table where Linkis checks no permissions.
    proxy.answer(r"/datasource/columns", 200, "application/json", linkis_reply("columns", {"columns": []}))
    assert client.columns("default", "nope") == []
    proxy.answer(r"/datasource/tables", 200, "application/json", linkis_reply("tables", {"tables": None}))
    assert client.tables("empty") == []
    proxy.answer(r"/datasource/dbs", 200, "application/json", linkis_reply("dbs", {"dbs": [{"dbName": None}, "raw"]}))
    assert client.databases() == ["raw"]


NO_SERVICE = {
    "linkis gateway": (400, "application/json", linkis_reply(
        "dbs", {}, 1, "Cannot find a service to deal /api/rest_j/v1/datasource/dbs, ignore it.")),
    "no handler": (400, "application/json", linkis_reply(
        "dbs", {}, 1, "No handler found for GET /api/rest_j/v1/datasource/dbs")),
    "spring 404 json": (404, "application/json", json.dumps({
        "timestamp": "2024-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found",
        "message": "No message available", "path": "/api/rest_j/v1/datasource/dbs"})),
    "html 404": (404, "text/html", "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"),
}


@pytest.mark.parametrize("answer", NO_SERVICE.values(), ids=list(NO_SERVICE))
def test_a_gateway_without_the_metadata_service_says_so_in_one_line(proxy: Any, gateway: Any, answer: Any) -> None:
    client = client_of(proxy.url, gateway)
    proxy.answer(r"/datasource/dbs", *answer)
    with pytest.raises(MetadataUnavailableError) as info:
        client.databases()
    error = info.value
    assert error.reason == "missing" and error.path == "/datasource/dbs"
    assert str(error).startswith(f"the Linkis gateway at {proxy.url} has no metadata service")
    assert "\n" not in str(error) and gateway.token not in str(error)


def test_the_gateway_s_own_answer_for_a_path_it_does_not_serve(gateway: Any) -> None:
    client = client_of(gateway.url, gateway)
    # A path no gateway serves stands for the metadata service being absent.
    with pytest.raises(MetadataUnavailableError, match="has no metadata service") as info:
        client._metadata("no-such-endpoint")
    assert info.value.reason == "missing"


def test_a_user_without_rights_is_told_so(proxy: Any, gateway: Any) -> None:
    client = client_of(proxy.url, gateway)
    proxy.answer(r"/datasource/tables", 403, "application/json",
                 linkis_reply("tables", {}, 3, "You have no permission to access the metadata"))
    with pytest.raises(MetadataUnavailableError, match="does not let alice read the metadata") as info:
        client.tables("default")
    assert info.value.reason == "denied" and "\n" not in str(info.value)


def test_a_metadata_failure_stays_an_api_error(proxy: Any, gateway: Any) -> None:
    client = client_of(proxy.url, gateway)
    proxy.answer(r"/datasource/dbs", 400, "application/json",
                 linkis_reply("dbs", {"stack": "..."}, 1, "Failed to get database(获取数据库失败)"))
    with pytest.raises(APIError, match="Failed to get database") as info:
        client.databases()
    assert not isinstance(info.value, MetadataUnavailableError)


# -- the embedded gateway --------------------------------------------------------------------

def test_tables_made_by_sql_jobs_are_listed(gateway: Any) -> None:
    client = client_of(gateway.url, gateway)
    job = Job.submit(client, JobSpec(
        code="create table orders(id bigint, note varchar);\n"
             "create view big_orders as select * from orders where id > 10;\n"
             "create schema sales;\n"
             "create table sales.items(sku varchar, price double)",
        engine="spark", run_type="sql"))
    job.wait(timeout=45)
    assert job.state.is_success

    assert {"default", "sales"} <= set(client.databases())
    tables = {info.name: info for info in client.tables("default")}
    assert {"orders", "big_orders"} <= set(tables)
    assert not tables["orders"].is_view and tables["big_orders"].is_view
    assert all(info.database == "default" for info in tables.values())
    assert [info.name for info in client.tables("sales")] == ["items"]

    columns = client.columns("default", "orders")
    assert [c.name for c in columns] == ["id", "note"]
    assert "int" in columns[0].type.lower() and not any(c.partitioned for c in columns)
    assert [c.name for c in client.columns("sales", "items")] == ["sku", "price"]
    assert not client.columns("default", "no_such_table")
