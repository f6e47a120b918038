"""Tab in a `%%linkis` cell of a real IPython shell: the SQL below the magic's line completes from
the embedded gateway's metadata, as in the Linkis SQL kernels; other cells are IPython's."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from fixtures.shell import magics_of
from IPython.core.completer import provisionalcompleter

from linkis_jupyter.completion import cell_matcher

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def tab(linkis: Any) -> Iterator[Any]:
    """complete(cell text with | at the cursor) -> the texts IPython offers."""
    matcher = cell_matcher(magics_of(linkis))
    linkis.Completer.custom_matchers.append(matcher)
    linkis.run_cell_magic("linkis", "-q", "create table sales (region varchar, units integer)")

    def complete(marked: str) -> list[str]:
        cursor = marked.index("|")
        text = marked.replace("|", "", 1)
        with provisionalcompleter():
            return [c.text for c in linkis.Completer.completions(text, cursor)]

    try:
        yield complete
    finally:
        linkis.Completer.custom_matchers.remove(matcher)


def test_a_sql_cell_completes_from_the_gateway(tab: Any) -> None:
    assert tab("%%linkis\nselect reg| from sales") == ["region"]
    assert tab("%%linkis -o df\nselect s.u| from sales s") == ["s.units"]
    assert "sales" in tab("%%linkis -e spark -t sql\nselect * from sa|")


def test_other_cells_are_left_to_ipython(tab: Any, linkis: Any) -> None:
    linkis.user_ns["region_count"] = 3
    # A Python job's cell, and Python outside any cell magic, get IPython's own completions.
    assert "region_count" in tab("%%linkis -e python\nregion_c|")
    assert "region_count" in tab("region_c|")
    # So does the magic's own line.
    assert "region" not in tab("%%linkis --reg|\nselect 1")
