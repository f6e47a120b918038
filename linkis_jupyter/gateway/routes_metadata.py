"""/datasource: Linkis' metadata for schema browsing and completion (`dbs`, `tables`, `columns`),
read from the catalog of the asking user's own DuckDB database.

Linkis answers these from the Hive metastore (apache/linkis: DataSourceRestfulApi,
DataSourceServiceImpl, HiveMetaWithPermissionServiceImpl); here the SQL engine's database file
of the user (`<workspace>/linkis.duckdb`, gateway/engine_sql.py) stands in for it: its schemas
are the databases, its tables and views the tables. A user sees their own database only, never
another user's. The catalog is read on a cursor of the connection the jobs use
(`Databases.existing_cursor`), so it sees what jobs committed and never locks a job out; a user
with no database yet is shown Hive's empty `default` database, and no file is created for them.

Answers are DataSourceRestfulApi's: message `""`; a table the user cannot see (missing, or in a
database they do not have) answers `"columns": null` with status 0, as a denied table does on a
Linkis with the metastore permission check (its default); failures are status 1 with its
messages and `data.stack`.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine_sql import linkis_type
from .storage import valid_user_name
from .web import ApiError, SpringError

if TYPE_CHECKING:
    from .web import GatewayHandler

MSG_DBS_FAILED = "Failed to get database(获取数据库失败)"
MSG_TABLES_FAILED = "Failed to queryTables"
MSG_COLUMNS_FAILED = "Failed to get data table structure(获取数据表结构失败)"

# DuckDB's default schema `main` is presented as Linkis presents the default database: Hive's
# `default`. The mapping holds both ways: `main` is listed as `default`, `database=default` reads
# `main`, and `main` itself is not a database name on the wire (as `default` is no DuckDB schema
# a job can reach unquoted, a DuckDB schema literally named `default` is not listed either).
DEFAULT_DB = "default"
DUCKDB_DEFAULT_SCHEMA = "main"

# The metadata paths this gateway serves (all GET, as in Linkis).
PATHS = ("/datasource/dbs", "/datasource/tables", "/datasource/columns")


def database_name(schema: str) -> str | None:
    """The Linkis database name of a DuckDB schema; None for one that has none."""
    if schema.lower() == DUCKDB_DEFAULT_SCHEMA:
        return DEFAULT_DB
    if schema.lower() == DEFAULT_DB:
        return None
    return schema


def schema_name(database: str | None) -> str | None:
    """The DuckDB schema of a Linkis database name; None for a name no schema has."""
    if not database or not database.strip():
        return None
    database = database.strip()
    if database.lower() == DEFAULT_DB:
        return DUCKDB_DEFAULT_SCHEMA
    if database.lower() == DUCKDB_DEFAULT_SCHEMA:
        return None
    return database


# -- types -------------------------------------------------------------------------------------

# DuckDB type id -> the Hive type name a metastore holds (lower case, as Linkis shows it). The
# SQL engine's linkis_type() names result-set columns (Linkis' DataType names, without precision);
# the metastore names types with their parameters and children, so the ids with a Hive name of
# their own are listed here and any other scalar takes the engine's `hql` name.
_HIVE_SCALARS = {
    "boolean": "boolean", "tinyint": "tinyint", "smallint": "smallint", "integer": "int",
    "bigint": "bigint", "utinyint": "smallint", "usmallint": "int", "uinteger": "bigint",
    "ubigint": "decimal(20,0)", "hugeint": "decimal(38,0)", "uhugeint": "decimal(38,0)",
    "varint": "decimal(38,0)", "bignum": "decimal(38,0)", "float": "float", "double": "double",
    "varchar": "string", "blob": "binary", "date": "date", "timestamp": "timestamp",
    "timestamp_s": "timestamp", "timestamp_ms": "timestamp", "timestamp_ns": "timestamp",
    "timestamp with time zone": "timestamp", "time": "string", "time with time zone": "string",
    "interval": "string", "uuid": "string", "enum": "string", "bit": "string",
}


def _parse_type(duck_type: str) -> Any | None:
    import duckdb

    parse = getattr(duckdb, "sqltype", None) or getattr(duckdb, "type", None)
    if parse is None:
        return None
    try:
        return parse(duck_type)
    except Exception:
        return None


def hive_type(duck_type: Any) -> str:
    """The Hive type name of a DuckDB column type (its text, or a parsed DuckDBPyType):
    BIGINT -> bigint, INTEGER -> int, VARCHAR -> string, DECIMAL(10,2) -> decimal(10,2),
    INTEGER[] -> array<int>, MAP(VARCHAR, INTEGER) -> map<string,int>,
    STRUCT(a INTEGER) -> struct<a:int>."""
    parsed = _parse_type(duck_type) if isinstance(duck_type, str) else duck_type
    if parsed is None:
        return linkis_type(str(duck_type), "hql")
    kind = str(parsed.id).lower()
    if kind == "decimal":
        params = dict(parsed.children)
        return f"decimal({params['precision']},{params['scale']})"
    if kind in ("list", "array"):
        return f"array<{hive_type(dict(parsed.children)['child'])}>"
    if kind == "map":
        params = dict(parsed.children)
        return f"map<{hive_type(params['key'])},{hive_type(params['value'])}>"
    if kind == "struct":
        return "struct<" + ",".join(f"{name}:{hive_type(t)}" for name, t in parsed.children) + ">"
    if kind == "union":
        # The first child is the union's tag.
        return "uniontype<" + ",".join(hive_type(t) for _, t in parsed.children[1:]) + ">"
    return _HIVE_SCALARS.get(kind) or linkis_type(str(parsed), "hql")


# -- the catalog -------------------------------------------------------------------------------

def _workspace(req: GatewayHandler) -> Path:
    user = req.user
    if not valid_user_name(user):
        raise ValueError(f"invalid user name: {user!r}")
    return Path(req.gw.storage.users_dir) / user


def _catalog(req: GatewayHandler) -> Any | None:
    """A cursor of the asking user's database, or None when they have none yet."""
    # The engine manager's Databases: the one connection per user file the SQL jobs share.
    databases = req.gw.engines.databases
    return databases.existing_cursor(_workspace(req))


_SCHEMAS = "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"

_TABLES = """
SELECT table_name, false FROM duckdb_tables()
 WHERE database_name = current_database() AND NOT temporary AND lower(schema_name) = lower(?)
UNION ALL
SELECT view_name, true FROM duckdb_views()
 WHERE database_name = current_database() AND NOT temporary AND NOT internal
   AND lower(schema_name) = lower(?)
"""

_COLUMNS = """
SELECT column_name, data_type, comment FROM duckdb_columns()
 WHERE database_name = current_database() AND lower(schema_name) = lower(?)
   AND lower(table_name) = lower(?)
 ORDER BY column_index
"""


def _by_name(name: str) -> tuple[str, str]:
    return name.lower(), name


def read_dbs(req: GatewayHandler) -> list[dict[str, Any]]:
    names = {DEFAULT_DB}  # Hive always has it; so does every DuckDB database (`main`)
    cursor = _catalog(req)
    if cursor is not None:
        with contextlib.closing(cursor):
            for (schema,) in cursor.execute(_SCHEMAS).fetchall():
                name = database_name(schema)
                if name is not None:
                    names.add(name)
    return [{"dbName": name} for name in sorted(names, key=_by_name)]


def read_tables(req: GatewayHandler, database: str | None) -> list[dict[str, Any]]:
    schema = schema_name(database)
    cursor = _catalog(req) if schema is not None else None
    if cursor is None:
        return []
    with contextlib.closing(cursor):
        rows = cursor.execute(_TABLES, [schema, schema]).fetchall()
    # DuckDB keeps no creation or access time: 0, as the metastore says for an unknown one.
    return [{"tableName": name, "isView": bool(is_view), "databaseName": database_name(schema),
             "createdBy": req.user, "createdAt": 0, "lastAccessAt": 0}
            for name, is_view in sorted(rows, key=lambda row: _by_name(row[0]))]


def read_columns(req: GatewayHandler, database: str | None, table: str | None) -> list[dict[str, Any]] | None:
    schema = schema_name(database)
    if schema is None or not table or not table.strip():
        return None
    cursor = _catalog(req)
    if cursor is None:
        return None
    with contextlib.closing(cursor):
        rows = cursor.execute(_COLUMNS, [schema, table.strip()]).fetchall()
    if not rows:
        return None
    # DuckDB tables have no partition keys: every column is a plain one.
    return [{"columnName": name, "columnType": hive_type(duck_type), "columnComment": comment or None,
             "partitioned": False}
            for name, duck_type, comment in rows]


# -- the routes --------------------------------------------------------------------------------

async def _answer(req: GatewayHandler, key: str, failed: str, read: Any, *args: Any) -> None:
    try:
        value = await req.blocking(read, req, *args)
    except Exception as e:
        # Message.error(msg, e): the reason goes to data.stack (without the gateway's own paths).
        stack = f"{type(e).__name__}: {e}".replace(str(req.gw.storage.users_dir), "users")
        raise ApiError(1, failed, {"stack": stack}, method=req.backend_method()) from None
    req.ok({key: value}, message="")


async def dbs(req: GatewayHandler) -> None:
    await _answer(req, "dbs", MSG_DBS_FAILED, read_dbs)


async def tables(req: GatewayHandler) -> None:
    await _answer(req, "tables", MSG_TABLES_FAILED, read_tables, req.get_query_argument("database", None))


async def columns(req: GatewayHandler) -> None:
    await _answer(req, "columns", MSG_COLUMNS_FAILED, read_columns,
                  req.get_query_argument("database", None), req.get_query_argument("table", None))


def unknown(req: GatewayHandler) -> None:
    """Any other /datasource path: the metadata service's Spring answers it (404; 405 for a
    served path asked with another method)."""
    if req.api_path in PATHS:
        raise SpringError(405, allow="GET")
    raise SpringError(404)
