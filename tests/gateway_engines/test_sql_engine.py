"""SQL run types on DuckDB: statements, result sets, types, state between jobs, errors, kill."""
from __future__ import annotations

import pytest
from engine_helpers import Jobs, wait_until

from linkis_jupyter.gateway.engines import (
    KILLED, SQL_ERROR, TABLE_NOT_FOUND, EngineManager, linkis_type, split_statements,
)


def test_split_statements_respects_quotes_and_comments() -> None:
    code = """
    -- leading comment; with a semicolon
    select 'a;b' as "x;y", $$dollar;quoted$$ as d, E'it\\'s;' as e;;
    /* block; /* nested; */ still comment; */ select 2 -- trailing; comment
    ;
    select `back;tick` from t; -- only a comment here;
    /* and here; */
    """
    assert split_statements(code) == [
        "-- leading comment; with a semicolon\n    select 'a;b' as \"x;y\", $$dollar;quoted$$ as d,"
        " E'it\\'s;' as e",
        "/* block; /* nested; */ still comment; */ select 2 -- trailing; comment",
        "select `back;tick` from t",
    ]
    assert split_statements("select 'it''s; fine'") == ["select 'it''s; fine'"]
    assert split_statements("  ;  -- nothing\n ; ") == []


def test_types_nulls_unicode_and_control_characters(jobs: Jobs) -> None:
    run = jobs.run("""
        select 1::integer as i, 9000000000::bigint as big, 2::smallint as small,
               1.5::double as d, 2.0::double as whole, 0.25::float as f,
               12.50::decimal(10,2) as dec,
               true as flag, date '2024-02-29' as day, timestamp '2024-02-29 13:14:15' as ts,
               'tab\there, new' || chr(10) || 'line' as s, '中文 ✓' as u, null::varchar as n,
               [1, 2] as l, {'k': 'v'} as st
    """).ok()
    [result] = run.results()
    assert result.type == "2"
    assert [(c["columnName"], c["dataType"]) for c in result.metadata] == [
        ("i", "int"), ("big", "long"), ("small", "short"), ("d", "double"), ("whole", "double"),
        ("f", "float"), ("dec", "decimal"), ("flag", "boolean"), ("day", "date"),
        ("ts", "timestamp"), ("s", "string"), ("u", "string"), ("n", "string"), ("l", "array"),
        ("st", "struct"),
    ]
    assert {c["comment"] for c in result.metadata} == {"NULL"}
    assert result.page(1, 10) == [[
        "1", "9000000000", "2", "1.5", "2", "0.25", "12.50", "true", "2024-02-29",
        "2024-02-29 13:14:15", "tab\there, new\nline", "中文 ✓", "NULL", "[1,2]", '{"k":"v"}',
    ]]


def test_dialect_type_names(jobs: Jobs) -> None:
    sql = "select 1::bigint as b, 'x' as s"
    names = {rt: [c["dataType"] for c in jobs.run(sql, rt).ok().results()[0].metadata]
             for rt in ("sql", "hql", "jdbc", "psql", "tsql")}
    assert names == {"sql": ["long", "string"], "hql": ["bigint", "string"],
                     "jdbc": ["long", "string"], "psql": ["bigint", "varchar"],
                     "tsql": ["bigint", "varchar"]}
    assert linkis_type("DECIMAL(18,3)") == "decimal"
    assert linkis_type("MAP(VARCHAR, INTEGER)") == "map"
    assert linkis_type("UUID") == "string"


def test_several_statements_make_several_result_sets(jobs: Jobs) -> None:
    run = jobs.run("""
        create table sales(region varchar, amount integer);
        insert into sales values ('north', 10), ('south', 20), ('north', 5);
        select region, sum(amount) as total from sales group by region order by region;
        update sales set amount = amount + 1 where region = 'north';
        select count(*) as n from sales where amount > 5;
        select * from sales where false;
    """).ok()
    assert [p.name for p in run.files()] == ["_0.dolphin", "_1.dolphin", "_2.dolphin"]
    assert run.rows(0) == [["north", "15"], ["south", "20"]]
    assert run.rows(1) == [["3"]]
    empty = run.results()[2]
    assert [c["columnName"] for c in empty.metadata] == ["region", "amount"]
    assert empty.page(1, 10) == []
    log = run.log("INFO")
    assert ">> insert into sales values ('north', 10)" in log
    assert "3 row(s) affected" in log and "2 row(s) affected" in log
    assert "Fetched 2 col(s) : 2 row(s)" in log
    # Progress: one Spark job per statement run, with its one task, as the log numbers them.
    values = [value for value, _ in run.progress]
    assert values == sorted(values) and 0 <= values[0] and values[-1] < 1
    assert run.progress[-1][1] == [{"id": f"jobId-{n}(linkis-spark-mix-code-1)", "succeedTasks": 1,
                                    "failedTasks": 0, "runningTasks": 0, "totalTasks": 1}
                                   for n in range(6)]


def test_duplicate_column_names_are_kept(jobs: Jobs) -> None:
    result = jobs.run("select 1 as a, 2 as a").ok().results()[0]
    assert [c["columnName"] for c in result.metadata] == ["a", "a"]
    assert result.page(1, 1) == [["1", "2"]]


def test_tables_survive_between_jobs_and_restarts(jobs: Jobs) -> None:
    jobs.run("create table kept as select range as n from range(3)").ok()
    assert jobs.run("select sum(n) as s from kept").ok().rows() == [["3"]]
    # Each user has a database of their own.
    other = jobs.run("select * from kept", user="bob")
    assert other.error is not None and other.error.code == TABLE_NOT_FOUND
    # The database is a file: a new manager (a restarted gateway) still has the table.
    jobs.manager.close()
    jobs.manager = EngineManager(jobs.root)
    assert jobs.run("select count(*) as c from kept").ok().rows() == [["3"]]


def test_sql_error_fails_the_job_with_duckdb_message(jobs: Jobs) -> None:
    run = jobs.run("select 1 as fine; select * from no_such_table; select 3")
    assert run.error is not None
    assert run.error.code == TABLE_NOT_FOUND
    assert "no_such_table does not exist" in str(run.error)
    assert "Catalog Error" in run.log("ERROR")
    assert ">> select 3" not in run.log()  # statements after the error do not run
    assert [s["failedTasks"] for s in run.progress[-1][1]] == [0, 1]
    syntax = jobs.run("selec 1")
    assert syntax.error is not None and syntax.error.code == SQL_ERROR
    assert "syntax error" in str(syntax.error)


def test_non_select_statements_with_rows(jobs: Jobs) -> None:
    run = jobs.run("""
        create table t(a int);
        insert into t values (1), (2) returning a * 10 as tenfold;
        pragma table_info('t');
    """).ok()
    assert run.rows(0) == [["10"], ["20"]]
    info = run.results()[1]
    assert info.metadata[1]["columnName"] == "name" and info.page(1, 5)[0][1] == "a"


def test_kill_interrupts_a_running_query(jobs: Jobs) -> None:
    run = jobs.start("create table before_kill as select 1 as x;"
                     "select sum(i * i) from range(100000000000) t(i)")
    # The query reports real progress while it runs...
    wait_until(lambda: any(0 < value < 1 and info[-1]["id"] == "jobId-1(linkis-spark-mix-code-1)"
                           and info[-1]["runningTasks"] == 1
                           for value, info in list(run.progress)), what="query progress")
    jobs.kill(run)
    run.wait()
    assert run.error is not None and run.error.code == KILLED
    assert run.files() == []
    # ...and the database is usable at once, with what ran before the kill.
    assert jobs.run("select x from before_kill").ok().rows() == [["1"]]


def test_a_job_cancelled_before_it_starts_does_nothing(jobs: Jobs) -> None:
    run = jobs.start("create table should_not_exist(a int)", cancelled=True).wait()
    assert run.error is not None and run.error.code == KILLED
    missing = jobs.run("select * from should_not_exist")
    assert missing.error is not None and missing.error.code == TABLE_NOT_FOUND


@pytest.mark.parametrize("run_type", ["scala", "spark", "r"])
def test_other_run_types_are_not_available(jobs: Jobs, run_type: str) -> None:
    assert not jobs.manager.supports(run_type)
    run = jobs.run("1 + 1", run_type)
    assert run.error is not None
    message = str(run.error)
    assert f"'{run_type}' is not available in the embedded gateway" in message
    assert "sql" in message and "python" in message and "shell" in message
