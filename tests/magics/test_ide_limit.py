"""Every row a cell asks for: Linkis' entrance limits the SELECTs of creator IDE to 5,000 rows;
a cell asking for more sends the opt-out line, and one whose result stopped at the limit says so.
Against the embedded gateway, which limits SELECTs as the entrance does."""
from __future__ import annotations

import re
from typing import Any

import pytest

from linkis_jupyter.joblog import LogLine, sql_limit
from linkis_jupyter.spec import NO_LIMIT_LINES, JobSpec, submit_body

CELL = "%%linkis --progress none --log none"
TABLE = "select range as id, 'name ' || range as name from range(12345)"
CUT = ("Linkis cut this SELECT at 5,000 rows (the entrance's limit for creator IDE); "
       "-n N or -n -1 asks for more")


def task_of(err: str) -> int:
    return int(re.search(r"%linkis (?:result|download) (\d+)", err).group(1))


def test_minus_one_and_more_than_the_limit_get_every_row_asked_for(linkis: Any, capsys: Any) -> None:
    every = linkis.run_cell(f"{CELL} -n -1\n{TABLE}").result
    assert every["id"].tolist() == list(range(12345))
    err = capsys.readouterr().err
    assert "Linkis cut" not in err and "shows only" not in err

    asked = linkis.run_cell(f"{CELL} -n 12000\n{TABLE}").result
    assert len(asked) == 12000
    err = capsys.readouterr().err
    assert "Linkis cut" not in err
    assert "shows only its first 12,000 rows of 12,345" in err
    # The entrance was told not to limit, and did not.
    log = linkis.run_line_magic("linkis", f"log {task_of(err)}") or ""
    assert "DSS will add limit" not in log + capsys.readouterr().out


def test_the_default_says_when_linkis_cut_the_select(linkis: Any, recorder: Any, capsys: Any) -> None:
    value = linkis.run_cell(f"{CELL}\n{TABLE}").result
    assert len(value) == 5000
    err = capsys.readouterr().err
    assert err.count(CUT) == 1 and "shows only" not in err
    data, _ = linkis.display_formatter.format(value)
    assert "All 5,000 rows of the result set" in data["text/html"]


def test_a_limit_above_the_entrance_s_is_lowered_and_said(linkis: Any, capsys: Any) -> None:
    value = linkis.run_cell(f"{CELL}\n{TABLE} limit 8000").result
    assert len(value) == 5000
    assert CUT in capsys.readouterr().err
    value = linkis.run_cell(f"{CELL} -n 8000\n{TABLE} limit 8000").result
    assert len(value) == 8000
    assert "Linkis cut" not in capsys.readouterr().err


def test_another_creator_is_not_limited_and_gets_no_note(linkis: Any, capsys: Any) -> None:
    value = linkis.run_cell(f"{CELL} -c Notebook\n{TABLE}").result
    assert len(value) == 5000
    err = capsys.readouterr().err
    assert "Linkis cut" not in err
    assert "shows only its first 5,000 rows of 12,345" in err


@pytest.mark.parametrize("cell", [f"{CELL} -n 3000\n{TABLE}", f"{CELL}\nselect * from range(100)"])
def test_no_note_when_the_limit_did_not_decide_the_rows(linkis: Any, capsys: Any, cell: str) -> None:
    # Linkis limited both SELECTs; the first cell asked for fewer rows, the second has fewer.
    linkis.run_cell(cell)
    assert "Linkis cut" not in capsys.readouterr().err


def test_only_a_sql_job_asking_for_it_is_sent_the_opt_out() -> None:
    opted = JobSpec(code="select 1", engine="spark", no_limit=True)
    assert opted.sent_code == "\n".join((*NO_LIMIT_LINES, "select 1"))
    assert submit_body(opted, version="3.2.1", execute_user="alice")["executionContent"]["code"] == opted.sent_code
    assert NO_LIMIT_LINES[0] == "--set ide.engine.no.limit.allow=true"
    for run_type in ("hql", "jdbc", "psql", "tsql", "ngql"):
        engine = {"hql": "hive", "jdbc": "jdbc", "psql": "presto", "tsql": "trino", "ngql": "nebula"}[run_type]
        assert JobSpec(code="select 1", engine=engine, run_type=run_type, no_limit=True).sent_code != "select 1"
    assert JobSpec(code="select 1", engine="spark").sent_code == "select 1"
    assert JobSpec(code="print(1)", engine="python", no_limit=True).sent_code == "print(1)"
    assert JobSpec(code="val x = 1", engine="spark", run_type="scala", no_limit=True).sent_code == "val x = 1"


def test_the_log_s_limit_lines_are_read() -> None:
    at = "2026-01-01 00:00:00.000"
    added = LogLine("WARN", f"{at} WARN You submitted a sql without limit, DSS will add limit 5000 to your sql")
    lowered = LogLine("WARN", f"{at} WARN You submitted a sql with limit exceeding 5000, it is not allowed. "
                              "DSS will change your limit to 5000")
    old = LogLine("WARN", f"{at} WARN You submitted a sql select * from t without limit, program will add "
                          "limit 5000 to your sql")
    assert sql_limit([LogLine("INFO", f"{at} INFO Your job is Running now."), added]) == "added"
    assert sql_limit([lowered, added]) == "lowered"
    assert sql_limit([old]) == "added"
    assert sql_limit([LogLine("INFO", f"{at} INFO select 'You submitted a sql without limit, DSS will add'")]) is None
