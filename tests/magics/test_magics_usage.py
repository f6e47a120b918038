"""A user's mistake is one line (UsageError) and submits nothing."""
from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from fixtures.history import gateway_jobs

CELL_MISTAKES = [
    ("--bogus", "select 1", "unrecognized arguments: --bogus"),
    ("--eng spark", "select 1", "unrecognized arguments: --eng"),
    ("-e", "select 1", "argument -e/--engine: expected one argument"),
    ("--var day", "select 1", "--var expects KEY=VALUE, not 'day'"),
    ("--var =1", "select 1", "--var expects KEY=VALUE, not '=1'"),
    ("--startup spark.executor.memory", "select 1", "--startup expects KEY=VALUE"),
    ("--runtime 'a b=1'", "select 1", "--runtime expects KEY=VALUE, not 'a b=1'"),
    ("--label nolabel", "select 1", "--label expects KEY=VALUE"),
    ("--var d=$no_such_variable", "select '${d}'", "there is no Python variable named 'no_such_variable'"),
    ("", "", "the cell body is empty"),  # IPython says so itself
    ("", "   \n\t\n", "the cell is empty"),
    ("-e python -t sql", "print(1)", "engine python does not take run type 'sql'"),
    ("-e shell -t hql", "echo 1", "engine shell does not take run type 'hql'"),
    ("-e spark -t cobol", "x", "engine spark does not take run type 'cobol'"),
    ("-e nosuchengine", "x", "no default run type for engine 'nosuchengine'"),
    ("-n 0", "select 1", "-n/--max-rows must be a positive number of rows or -1"),
    ("-n -5", "select 1", "-n/--max-rows must be a positive number of rows or -1"),
    ("-n many", "select 1", "argument -n/--max-rows: invalid int value: 'many'"),
    ("-o 1df", "select 1", "-o/--output needs a Python variable name, not '1df'"),
    ("-o class", "select 1", "-o/--output needs a Python variable name, not 'class'"),
    ("--progress bar", "select 1", "argument --progress: invalid choice: 'bar'"),
    ("--log debug", "select 1", "argument --log: invalid choice: 'debug'"),
    ("--timeout -1", "select 1", "--timeout must be 0 or more seconds"),
    ("-c 'my creator'", "select 1", "creator must be letters, digits"),
    ("--var 'unclosed=x", "select 1", "No closing quotation"),
]


@pytest.mark.parametrize("line, cell, message", CELL_MISTAKES, ids=[m[0] or repr(m[1]) for m in CELL_MISTAKES])
def test_cell_mistakes_are_one_line_and_submit_nothing(linkis: Any, gateway: Any, line: str, cell: str,
                                                       message: str) -> None:
    before = len(gateway_jobs(gateway))
    with pytest.raises(UsageError) as info:
        linkis.run_cell_magic("linkis", line, cell)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert len(gateway_jobs(gateway)) == before


def test_a_usage_error_shows_as_one_line_in_the_cell(linkis: Any, capsys: Any) -> None:
    result = linkis.run_cell("%%linkis --bogus\nselect 1")
    assert isinstance(result.error_in_exec, UsageError)
    shown = capsys.readouterr()
    lines = [line for line in (shown.out + shown.err).splitlines() if line.strip()]
    assert lines == ["UsageError: unrecognized arguments: --bogus"]


LINE_MISTAKES = [
    ("", "%linkis needs a subcommand: config, connect, login"),
    ("frobnicate", "argument SUBCOMMAND: invalid choice: 'frobnicate'"),
    ("status", "the following arguments are required: TASK"),
    ("status abc", "argument TASK: invalid task id value: 'abc'"),
    ("kill -3", "argument TASK: invalid task id value: '-3'"),
    ("log 1 --log loud", "argument --log: invalid choice: 'loud'"),
    ("history -n 0", "%linkis history: -n must be at least 1"),
    ("result 1 -o 'not a name'", "-o/--output needs a Python variable name"),
    ("download 1", "the following arguments are required: PATH"),
    ("download 1 out.csv --format pdf", "argument --format: invalid choice: 'pdf'"),
    ("connect", "the following arguments are required: URL"),
    ("connect ftp://example.org", "%linkis connect: gateway_url must start with http:// or https://"),
    ("connect http://127.0.0.1:1 --token $no_such_variable --user alice",
     "there is no Python variable named 'no_such_variable'"),
    ("status 1 --verbose", "unrecognized arguments: --verbose"),
]


@pytest.mark.parametrize("line, message", LINE_MISTAKES, ids=[m[0] or "empty" for m in LINE_MISTAKES])
def test_line_mistakes_are_one_line(linkis: Any, gateway: Any, line: str, message: str) -> None:
    before = len(gateway_jobs(gateway))
    url_before = linkis.magics_manager.registry["LinkisMagics"].client.gateway_url
    with pytest.raises(UsageError) as info:
        linkis.run_line_magic("linkis", line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert len(gateway_jobs(gateway)) == before
    assert linkis.magics_manager.registry["LinkisMagics"].client.gateway_url == url_before


def test_bad_config_values_are_refused(ip: Any, capsys: Any) -> None:
    from traitlets import TraitError

    magics = ip.magics_manager.registry["LinkisMagics"]
    for name, value in (("max_rows", 0), ("max_rows", -2), ("timeout", -1.0), ("progress", "bar"), ("log", "x"),
                        ("history_limit", 0)):
        with pytest.raises(TraitError):
            setattr(magics, name, value)
