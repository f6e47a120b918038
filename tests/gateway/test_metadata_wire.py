"""/datasource dbs, tables and columns: Linkis' metadata, read from the user's own DuckDB database
after real SQL jobs made its tables."""
from __future__ import annotations

from typing import Any

import pytest
import requests
from gateway_wire import Api, err, ok

from linkis_jupyter.gateway.routes_metadata import hive_type

SQL = "spark-3.2.1"

SCHEMA = """
create table orders (id bigint, customer varchar, amount decimal(10,2), paid boolean, day date,
                     placed timestamp, qty integer, rate double, tags varchar[],
                     attrs map(varchar, integer), address struct(city varchar, zip integer));
comment on column orders.customer is 'who ordered';
insert into orders values (1, 'ann', 12.50, true, date '2024-01-02', timestamp '2024-01-02 03:04:05',
                           2, 0.5, ['a'], map {'k': 1}, {'city': 'Oslo', 'zip': 150});
create view big_orders as select id, amount from orders where amount > 10;
create schema sales;
create table sales.items (sku varchar, price float);
"""


def run_sql(api: Api, code: str) -> None:
    exec_id, _ = api.submit(code, run_type="sql", engine=SQL)
    assert api.wait(exec_id) == "Succeed", api.full_log(exec_id)


def answer(r: requests.Response) -> dict[str, Any]:
    """The data of a DataSourceRestfulApi success: status 0, message ""."""
    body = r.json()
    assert body["message"] == "" and body["method"] == "/api" + r.request.path_url.split("/v1", 1)[1].split("?")[0]
    return ok(r)


@pytest.fixture
def alice_schema(alice: Api) -> Api:
    run_sql(alice, SCHEMA)
    return alice


def test_dbs_lists_the_schemas_with_main_as_default(alice_schema):
    assert answer(alice_schema.get("/datasource/dbs")) == {"dbs": [{"dbName": "default"}, {"dbName": "sales"}]}


def test_tables_by_name_with_views(alice_schema):
    data = answer(alice_schema.get("/datasource/tables", database="default"))
    assert data == {"tables": [
        {"tableName": "big_orders", "isView": True, "databaseName": "default", "createdBy": "alice",
         "createdAt": 0, "lastAccessAt": 0},
        {"tableName": "orders", "isView": False, "databaseName": "default", "createdBy": "alice",
         "createdAt": 0, "lastAccessAt": 0},
    ]}
    items = answer(alice_schema.get("/datasource/tables", database="sales"))["tables"]
    assert [(t["tableName"], t["databaseName"]) for t in items] == [("items", "sales")]
    # `main` is DuckDB's name only: on the wire the default database is `default`.
    assert answer(alice_schema.get("/datasource/tables", database="main")) == {"tables": []}
    assert answer(alice_schema.get("/datasource/tables", database="nowhere")) == {"tables": []}
    assert answer(alice_schema.get("/datasource/tables")) == {"tables": []}


def test_columns_in_order_with_hive_types(alice_schema):
    data = answer(alice_schema.get("/datasource/columns", database="default", table="orders"))
    assert data == {"columns": [
        {"columnName": "id", "columnType": "bigint", "columnComment": None, "partitioned": False},
        {"columnName": "customer", "columnType": "string", "columnComment": "who ordered", "partitioned": False},
        {"columnName": "amount", "columnType": "decimal(10,2)", "columnComment": None, "partitioned": False},
        {"columnName": "paid", "columnType": "boolean", "columnComment": None, "partitioned": False},
        {"columnName": "day", "columnType": "date", "columnComment": None, "partitioned": False},
        {"columnName": "placed", "columnType": "timestamp", "columnComment": None, "partitioned": False},
        {"columnName": "qty", "columnType": "int", "columnComment": None, "partitioned": False},
        {"columnName": "rate", "columnType": "double", "columnComment": None, "partitioned": False},
        {"columnName": "tags", "columnType": "array<string>", "columnComment": None, "partitioned": False},
        {"columnName": "attrs", "columnType": "map<string,int>", "columnComment": None, "partitioned": False},
        {"columnName": "address", "columnType": "struct<city:string,zip:int>", "columnComment": None,
         "partitioned": False},
    ]}
    view = answer(alice_schema.get("/datasource/columns", database="default", table="big_orders"))["columns"]
    assert [(c["columnName"], c["columnType"]) for c in view] == [("id", "bigint"), ("amount", "decimal(10,2)")]
    items = answer(alice_schema.get("/datasource/columns", database="sales", table="items"))["columns"]
    assert [(c["columnName"], c["columnType"]) for c in items] == [("sku", "string"), ("price", "float")]


def test_missing_table_or_database_answers_null_columns(alice_schema):
    for params in ({"database": "default", "table": "nope"}, {"database": "nowhere", "table": "orders"},
                   {"database": "main", "table": "orders"}, {"database": "sales", "table": "orders"}, {}):
        r = alice_schema.get("/datasource/columns", **params)
        assert r.status_code == 200 and r.json()["status"] == 0
        assert answer(r) == {"columns": None}, params


def test_users_see_only_their_own_database(gateway, alice_schema, bob):
    # bob has no database yet: Hive's empty default, and no file is made for him.
    assert answer(bob.get("/datasource/dbs")) == {"dbs": [{"dbName": "default"}]}
    assert not (gateway.storage.users_dir / "bob" / "linkis.duckdb").exists()
    assert answer(bob.get("/datasource/tables", database="default")) == {"tables": []}
    assert answer(bob.get("/datasource/tables", database="sales")) == {"tables": []}
    assert answer(bob.get("/datasource/columns", database="default", table="orders")) == {"columns": None}
    run_sql(bob, "create table orders (note varchar)")
    assert answer(bob.get("/datasource/dbs")) == {"dbs": [{"dbName": "default"}]}
    tables = answer(bob.get("/datasource/tables", database="default"))["tables"]
    assert [(t["tableName"], t["createdBy"]) for t in tables] == [("orders", "bob")]
    columns = answer(bob.get("/datasource/columns", database="default", table="orders"))["columns"]
    assert [c["columnName"] for c in columns] == ["note"]
    # alice's are untouched by bob's.
    columns = answer(alice_schema.get("/datasource/columns", database="default", table="orders"))["columns"]
    assert columns[0]["columnName"] == "id"


def test_token_auth_and_login_required(gateway, alice_schema):
    token = Api(gateway, headers={"Token-Code": gateway.token, "Token-User": "alice"})
    assert answer(token.get("/datasource/dbs"))["dbs"][1] == {"dbName": "sales"}
    # The token user is who asks: bob's token sees bob's (empty) database.
    other = Api(gateway, headers={"Token-Code": gateway.token, "Token-User": "bob"})
    assert answer(other.get("/datasource/tables", database="sales")) == {"tables": []}
    assert "not logged in" in err(Api(gateway).get("/datasource/dbs"), -1)


def test_tables_made_while_browsing_and_jobs_undisturbed(alice_schema):
    exec_id, _ = alice_schema.submit("create table big as select range as n from range(3000000)",
                                     run_type="sql", engine=SQL)
    for _ in range(5):
        answer(alice_schema.get("/datasource/tables", database="default"))
    assert alice_schema.wait(exec_id) == "Succeed", alice_schema.full_log(exec_id)
    names = [t["tableName"] for t in answer(alice_schema.get("/datasource/tables", database="default"))["tables"]]
    assert names == ["big", "big_orders", "orders"]
    run_sql(alice_schema, "drop view big_orders; insert into big values (-1)")
    names = [t["tableName"] for t in answer(alice_schema.get("/datasource/tables", database="default"))["tables"]]
    assert names == ["big", "orders"]


def test_an_unreadable_database_fails_with_linkis_messages(gateway):
    area = gateway.storage.users_dir / "carol"
    area.mkdir(parents=True)
    (area / "linkis.duckdb").write_bytes(b"not a duckdb database" * 100)
    carol = Api(gateway, headers={"Token-Code": gateway.token, "Token-User": "carol"})
    for endpoint, params, message in (
        ("/datasource/dbs", {}, "Failed to get database(获取数据库失败)"),
        ("/datasource/tables", {"database": "default"}, "Failed to queryTables"),
        ("/datasource/columns", {"database": "default", "table": "t"},
         "Failed to get data table structure(获取数据表结构失败)"),
    ):
        r = carol.get(endpoint, **params)
        assert err(r, 1) == message
        assert r.json()["method"] == "/api" + endpoint
        assert "users/carol/linkis.duckdb" in r.json()["data"]["stack"]
        assert str(gateway.data_dir) not in r.text


def test_other_datasource_paths_are_the_backends_spring_errors(alice):
    r = alice.get("/datasource/partitionsOfNothing")
    assert r.status_code == 404 and r.json()["status"] == 404 and r.json()["error"] == "Not Found"
    r = alice.post("/datasource/dbs")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"


@pytest.mark.parametrize("duck, hive", [
    ("BIGINT", "bigint"), ("INTEGER", "int"), ("SMALLINT", "smallint"), ("TINYINT", "tinyint"),
    ("VARCHAR", "string"), ("DOUBLE", "double"), ("FLOAT", "float"), ("DECIMAL(18,3)", "decimal(18,3)"),
    ("BOOLEAN", "boolean"), ("DATE", "date"), ("TIMESTAMP", "timestamp"),
    ("TIMESTAMP WITH TIME ZONE", "timestamp"), ("BLOB", "binary"), ("HUGEINT", "decimal(38,0)"),
    ("UUID", "string"), ("TIME", "string"), ("INTEGER[3]", "array<int>"),
    ("STRUCT(a INTEGER[], b MAP(VARCHAR, DOUBLE))", "struct<a:array<int>,b:map<string,double>>"),
    ("UNION(n INTEGER, s VARCHAR)", "uniontype<int,string>"),
])
def test_hive_type_names(duck, hive):
    assert hive_type(duck) == hive
