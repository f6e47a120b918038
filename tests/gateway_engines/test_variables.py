"""${variable} substitution, checked against the examples of Linkis' built-in variable docs."""
from __future__ import annotations

from datetime import datetime

import pytest

from linkis_jupyter.gateway.variables import VariableError, java_format, substitute

NOW = datetime(2024, 3, 1, 11, 30, 5)


def test_documented_builtins_for_a_leap_day() -> None:
    # The example of Linkis' "built-in time variable" page, run_date 20240229, run at 11 o'clock.
    names = ["run_date", "run_date_std", "run_today", "run_today_std", "run_mon", "run_mon_std",
             "run_month_begin", "run_month_begin_std", "run_month_now_begin",
             "run_month_now_begin_std", "run_month_end", "run_month_end_std",
             "run_month_now_end", "run_month_now_end_std", "run_quarter_begin", "run_quarter_end",
             "run_half_year_begin", "run_half_year_end", "run_year_begin", "run_year_end",
             "run_quarter_begin_std", "run_quarter_end_std", "run_half_year_begin_std",
             "run_half_year_end_std", "run_year_begin_std", "run_year_end_std", "run_today_h",
             "run_today_h_std"]
    code = "--@set run_date=20240229\n" + "\n".join(f"${{{n}}}" for n in names)
    out = substitute(code, {}, NOW, "sql").splitlines()
    assert out[0] == "--@set run_date=20240229"
    assert dict(zip(names, out[1:])) == {
        "run_date": "20240229", "run_date_std": "2024-02-29", "run_today": "20240301",
        "run_today_std": "2024-03-01", "run_mon": "202402", "run_mon_std": "2024-02",
        "run_month_begin": "20240201", "run_month_begin_std": "2024-02-01",
        "run_month_now_begin": "20240201", "run_month_now_begin_std": "2024-02-01",
        "run_month_end": "20240229", "run_month_end_std": "2024-02-29",
        "run_month_now_end": "20240229", "run_month_now_end_std": "2024-02-29",
        "run_quarter_begin": "20240101", "run_quarter_end": "20240331",
        "run_half_year_begin": "20240101", "run_half_year_end": "20240630",
        "run_year_begin": "20240101", "run_year_end": "20241231",
        "run_quarter_begin_std": "2024-01-01", "run_quarter_end_std": "2024-03-31",
        "run_half_year_begin_std": "2024-01-01", "run_half_year_end_std": "2024-06-30",
        "run_year_begin_std": "2024-01-01", "run_year_end_std": "2024-12-31",
        "run_today_h": "2024030111", "run_today_h_std": "2024-03-01 11",
    }


def test_run_date_defaults_to_yesterday() -> None:
    assert substitute("select '${run_date}', '${run_date_std}', '${run_today}'", {},
                      datetime(2024, 1, 1, 8)) == "select '20231231', '2023-12-31', '20240101'"


def test_run_date_from_params_and_date_arithmetic() -> None:
    code = ("${run_date-1} ${run_date+1} ${run_date_std-7} ${ run_date - 31 } "
            "${run_month_begin-1} ${run_month_end-1} ${run_month_end+1} "
            "${run_quarter_begin-1} ${run_year_end+1} ${run_today_h-12} ${run_mon-2}")
    assert substitute(code, {"run_date": "20240331"}, NOW).split() == [
        "20240330", "20240401", "2024-03-24", "20240229",
        "20240201", "20240229", "20240430",
        "20231001", "20251231", "2024033123", "202401",
    ]


def test_custom_variables_numbers_and_strings() -> None:
    variables = {"f": "20.1", "n": "10", "name": "abc", "zip": "007", "tbl": "sales"}
    code = "${f*2} ${f-1} ${n/4} ${n+f} ${name+_x} ${zip} select * from ${tbl}"
    assert substitute(code, variables, NOW) == "40.2 19.1 2.5 30.1 abc_x 007 select * from sales"


def test_code_definitions_win_over_params() -> None:
    code = "--@set who=code\nselect '${who}', '${other}'"
    assert substitute(code, {"who": "params", "other": "p"}, NOW, "sql") == \
        "--@set who=code\nselect 'code', 'p'"
    py = "#@set who=code\nprint('${who}')"
    assert substitute(py, {"who": "params"}, NOW, "python").endswith("print('code')")
    # SQL's --@set means nothing in Python code.
    assert substitute("--@set who=code\n${who}", {"who": "params"}, NOW, "py").endswith("params")


def test_unknown_variables_stay_and_code_is_stripped() -> None:
    assert substitute("  echo ${HOME} ${undefined-1} $notavar {run_date}\n", {}, NOW, "sh") == \
        "echo ${HOME} ${undefined-1} $notavar {run_date}"


def test_run_types_without_a_language_are_left_alone() -> None:
    assert substitute(" ${run_date} ", {}, NOW, "r") == " ${run_date} "
    assert substitute("${run_date}", {}, NOW, "scala") == "20240229"


def test_date_patterns() -> None:
    code = ("&{yyyy-MM-dd} &{yyyy-MM-dd%-1d} &{yyyyMM01%-1M} &{yyyy-01-01%-2y} &{HH%-1H} "
            "&{yyyy-MM-dd'T'HH:mm:ss} &{yyyyMMdd%-1d%+1M} &{not a pattern}")
    assert substitute(code, {"run_date": "20240229"}, NOW).split() == [
        "2024-02-29", "2024-02-28", "20240101", "2022-01-01", "10",
        "2024-02-29T11:30:05", "20240328", "&{not", "a", "pattern}",
    ]


def test_java_pattern_letters() -> None:
    moment = datetime(2023, 12, 31, 15, 4, 5, 123000)
    assert java_format(moment, "yy/M/d D E EEEE MMM MMMM h:mm a k S SSS 'o''clock' ''") == \
        "23/12/31 365 Sun Sunday Dec December 3:04 PM 15 1 123 o'clock '"
    # Week-based year (US weeks): the week of 2023-12-31 holds 2024-01-01.
    assert java_format(moment, "YYYY yyyy") == "2024 2023"
    with pytest.raises(ValueError):
        java_format(moment, "ww")


@pytest.mark.parametrize("code, code_number, text", [
    ("${run_date*2}", 20046, "DateType is not supported to use:*"),
    ("${name-1}", 20049, "String class is not supported to use:-"),
    ("${f+}", 20042, "expression is not right"),
    ("${run_date-x}", 20050, 'For input string: "x"'),
])
def test_malformed_expressions_fail(code: str, code_number: int, text: str) -> None:
    with pytest.raises(VariableError) as raised:
        substitute(code, {"f": "1", "name": "s"}, NOW)
    assert raised.value.code == code_number
    assert str(raised.value).startswith("Variable replacement failed!")
    assert text in str(raised.value)


def test_bad_run_date_is_one_clear_error() -> None:
    with pytest.raises(VariableError, match="run_date must be a date as yyyyMMdd"):
        substitute("${run_date}", {"run_date": "yesterday"}, NOW)
    assert substitute("${run_date}", {"run_date": "2024-02-29"}, NOW) == "20240229"


def test_set_definitions_as_linkis_reads_them() -> None:
    code = "select 1; --@set day = 20240101;\n  --@set  n=5\nselect ${day}, ${n+1}"
    assert substitute(code, {}, NOW, "sql").endswith("select 20240101, 6")
    with pytest.raises(VariableError) as raised:
        substitute("--@set broken\nselect 1", {}, NOW, "sql")
    assert raised.value.code == 20045
    with pytest.raises(VariableError) as raised:
        substitute("--@set a=b=c\nselect 1", {}, NOW, "sql")
    assert raised.value.code == 20044
