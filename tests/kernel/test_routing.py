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


def test_sql_is_never_incomplete() -> None:
    # is_complete requests skip transformers with side effects: a SQL cell without a trailing
    # colon or bracket must not keep the console waiting for more lines.
    manager = TransformerManager()
    manager.cleanup_transforms.append(route_cell)
    assert manager.check_complete("select 1")[0] in ("complete", "invalid")
