"""Cell routing in the Linkis kernels: which cells become Linkis jobs."""
from __future__ import annotations

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from linkis_jupyter.kernel import route_cell


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("select 1\n", "%%linkis\nselect 1\n"),
        ("\n  select 1\n", "%%linkis\n\n  select 1\n"),
        ("%%local\nx = 1\n", "x = 1\n"),
        ("%%local  \nx = 1\n", "x = 1\n"),
        ("%%linkis -o df\nselect 1\n", "%%linkis -o df\nselect 1\n"),
        ("%linkis history\n", "%linkis history\n"),
        ("%%time\nselect 1\n", "%%time\nselect 1\n"),
        ("", ""),
        ("\n\n", "\n\n"),
    ],
)
def test_route_cell(cell: str, expected: str) -> None:
    assert "".join(route_cell(cell.splitlines(keepends=True))) == expected


def test_routing_runs_inside_ipython_transforms() -> None:
    manager = TransformerManager()
    manager.cleanup_transforms.append(route_cell)
    code = manager.transform_cell("select count(*) from t")
    assert code.startswith("get_ipython().run_cell_magic('linkis', '', ")
    assert "select count(*) from t" in code


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("select 1", "invalid"),
        ("select a,\n  b\nfrom t", "invalid"),
        ("select 'it''s' as s;\n", "invalid"),
        # Python's tokenizer still judges the brackets and a trailing colon: these wait for more.
        ("select * from t where x in (1,", "incomplete"),
        ("select map('a', 1", "incomplete"),
    ],
)
def test_is_complete_judges_sql_as_python_text(cell: str, status: str) -> None:
    # is_complete requests skip transformers with side effects, so a SQL cell is judged as Python
    # text: "invalid" (the console runs it at once) unless a bracket is left open, rather than
    # "incomplete" until a blank line, as a %%linkis cell magic would be.
    manager = TransformerManager()
    manager.cleanup_transforms.append(route_cell)
    assert manager.check_complete(cell)[0] == status
