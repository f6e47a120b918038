"""Linkis result sets as Python values, read page by page: TABLE sets become typed DataFrames.

`read_result_sets` reads every result set of a finished job through openFile, a page at a
time, asking for the next page while this one is converted (frames.py types the columns); the
page size adapts to the gateway (PageSizes). What a ResultSet holds: a DataFrame for TABLE, text
otherwise.
"""
from __future__ import annotations

import base64
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from .client import LinkisClient
from .errors import APIError, TransportError
from .frames import (
    KEEP_NULLS, NULL_MARKERS, NULL_TEXT, Column, Reconvert, TableBuilder, columns_from_metadata, pandas_dtype_for,
    table_to_dataframe,
)
from .wire import ResultPage

if TYPE_CHECKING:
    import pandas

__all__ = [
    "ResultType", "ResultSet", "Reading", "PageSizes", "read_result_sets", "count_rows",
    # The conversion, re-exported from frames.py, where it lives:
    "Column", "NULL_MARKERS", "NULL_TEXT", "KEEP_NULLS", "Reconvert", "TableBuilder", "columns_from_metadata",
    "pandas_dtype_for", "table_to_dataframe",
]


class ResultType(Enum):
    """The `type` of a Linkis result set (ResultSetFactory)."""

    TEXT = "1"
    TABLE = "2"
    IO = "3"
    PICTURE = "4"
    HTML = "5"

    @classmethod
    def from_wire(cls, value: Any) -> "ResultType":
        try:
            return cls(str(value).strip())
        except ValueError:
            return cls.TEXT


class PageSizes:
    """The openFile page size while a job's result sets are read.

    It starts at `start` (LinkisClient.page_size, 5000 by default: what Linkis' UI and linkis-cli
    ask, CliConstants.RESULTSET_PAGE_SIZE), because Linkis builds a whole page in memory
    (FileSplit.collect, then Jackson) and a big page is what makes its public service slow or a
    proxy in front give up. A full page back within FAST seconds doubles it, up to LIMIT rows
    (Linkis 1.7+ refuses more with error 80034). A page that timed out or met a 502/503/504 is
    asked for again at half its size, down to FLOOR, and no page that size or bigger is asked for
    again; an 80034 lowers the limit to the one the gateway names.

    Linkis finds page p of size s at row (p-1)*s (FileSplit.page), so a size is only usable where
    it divides the rows read so far: `at` picks the largest one that does (for the last page of a
    capped read, the smallest that holds the rest)."""

    FAST = 1.0
    LIMIT = 100000
    FLOOR = 500
    LINKIS_PAGE = 5000

    def __init__(self, start: int) -> None:
        self.limit = self.LIMIT
        self.size = max(1, min(start, self.limit))

    def at(self, offset: int, wanted: int | None = None) -> int:
        """The size of the page that starts at row `offset`; `wanted`: the rows still needed."""
        size = self.size
        if wanted is not None:
            # A capped read (wanted counts the one row more that tells whether the cap cut
            # anything): the smallest page that holds the rest, if one starts here and is no
            # bigger than the next doubling (and that row), so that no page is asked for after it.
            for fits in range(max(1, wanted), min(2 * size + 1, self.limit) + 1):
                if offset % fits == 0:
                    return fits
            size = max(1, min(size, wanted))
        while offset % size:
            size -= 1
        return size

    def took(self, size: int, seconds: float) -> None:
        """A page of `size` rows came back whole in `seconds`."""
        if seconds < self.FAST and size >= self.size:
            self.size = min(self.limit, 2 * size)

    def failed(self, size: int, exc: Exception) -> bool:
        """A page of `size` rows failed with `exc`: whether a smaller one is worth asking for."""
        if isinstance(exc, TransportError) and exc.transient and exc.sent:
            limit = max(self.FLOOR, size // 2)
        elif isinstance(exc, APIError) and "80034" in str(exc):
            # "The result set exceeds 100,000 rows and page viewing is currently not supported"
            # (WorkspaceExceptionManager; MessageFormat groups the digits). Without the number:
            # 5000, openFile's own default page size.
            named = re.search(r"exceeds ([\d,.' ]+) rows", str(exc))
            digits = re.sub(r"\D", "", named.group(1)) if named else ""
            limit = int(digits) if digits else min(size // 2, self.LINKIS_PAGE)
        else:
            return False
        if limit >= size or limit < 1:
            return False
        self.limit = min(self.limit, limit)
        self.size = min(self.size, self.limit)
        return True


@dataclass
class Reading:
    """What reading one job's result sets learns about the gateway on the way: the page size,
    and whether it keeps SQL NULLs apart from the text NULL."""

    sizes: PageSizes
    nulls_kept: bool = False


@dataclass
class ResultSet:
    """One result set of a job (`_<index>.dolphin`), fully read or cut at `max_rows`.

    `data` is a DataFrame for TABLE, the text (lines joined by newlines) for TEXT, HTML and IO,
    and for PICTURE the base64 text the engine wrote (`image_bytes()` decodes it). `data` holds
    the set's rows from `first_row` (0 unless the read skipped some); `total_rows` is how many the
    set has (None when a cut read could not tell: Linkis' openFile answers no total).
    """

    index: int
    path: str
    type: ResultType
    data: "pandas.DataFrame | str"
    truncated: bool = False
    columns: tuple[Column, ...] = ()
    metadata: Any = None
    rows_read: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    first_row: int = 0
    total_rows: int | None = None

    @property
    def is_table(self) -> bool:
        return self.type is ResultType.TABLE

    @property
    def dataframe(self) -> "pandas.DataFrame":
        if not self.is_table:
            raise TypeError(f"result set {self.index} is {self.type.name}, not a table")
        return self.data  # type: ignore[return-value]

    @property
    def text(self) -> str:
        if self.is_table:
            return self.data.to_string(index=False)  # type: ignore[union-attr]
        return str(self.data)

    def image_bytes(self) -> bytes:
        if self.type is not ResultType.PICTURE:
            raise TypeError(f"result set {self.index} is {self.type.name}, not a picture")
        text = str(self.data).strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        return base64.b64decode(text)

    def __repr__(self) -> str:
        if self.is_table:
            shape = f"{len(self.data)} rows x {len(self.columns)} columns"  # type: ignore[arg-type]
        else:
            shape = f"{len(str(self.data))} characters"
        cut = ", truncated" if self.truncated else ""
        return f"<ResultSet {self.index} {self.type.name}: {shape}{cut}>"

    @classmethod
    def from_rows(
        cls,
        index: int,
        path: str,
        type_: ResultType,
        metadata: Any,
        rows: Sequence[Sequence[Any]],
        *,
        truncated: bool = False,
        null_markers: Iterable[str] = NULL_MARKERS,
        decimal: str = "float",
    ) -> "ResultSet":
        if type_ is ResultType.TABLE:
            columns = columns_from_metadata(metadata)
            frame = table_to_dataframe(columns, rows, null_markers=null_markers, decimal=decimal)
            if not columns:
                columns = tuple(Column(str(name), "string") for name in frame.columns)
            return cls(index, path, type_, frame, truncated, columns, metadata, len(rows))
        # Non-table sets: one line per row; metadata is a string, where "NULL" means none.
        text = "\n".join("" if not row or row[0] is None else str(row[0]) for row in rows)
        meta = None if metadata in (None, "", "NULL") else metadata
        return cls(index, path, type_, text, truncated, (), meta, len(rows))


def read_result_sets(
    client: LinkisClient,
    location: str,
    *,
    max_rows: int | None = None,
    page_size: int | None = None,
    decimal: str = "float",
    skip: int = 0,
    count: bool = False,
) -> list[ResultSet]:
    """Every result set in a job's result directory, in order, paged to the end; `max_rows` caps
    the rows of each set and marks the set `truncated` when it cut. `skip`: rows of each set to
    pass over first (openFile starts at them; nothing before is read). `page_size`: the first
    page's rows (default: the client's `page_size`); later pages grow while they come back
    quickly, and shrink when one fails (see PageSizes). `count`: a set cut by `max_rows` gets its
    `total_rows` from count_rows (a few more openFile requests; otherwise it stays None)."""
    if not location:
        return []
    reader = _Reader(client, max_rows, decimal, Reading(PageSizes(page_size or client.page_size)), skip, count)
    return [reader.result_set(file.index, file.path, file.size) for file in client.result_files(location)]


# The rows a cut read keeps for count_rows' guess, and the most bytes a page of its probes holds.
_SAMPLE = 200
_PROBE_BYTES = 128 * 1024


def _record_bytes(fields: Sequence[Any]) -> int:
    """The bytes of one dolphin TABLE record holding `fields` (Linkis' TableResultSerializer: the
    record's length and its lengths' length, 10 digits each, each field's length in decimal and a
    comma, the fields)."""
    sizes = [len(("NULL" if value is None else str(value)).encode("utf-8")) for value in fields]
    return 20 + sum(len(str(size)) + 1 + size for size in sizes)


def count_rows(client: LinkisClient, path: str, file_size: int | None, metadata: Any,
               sample: Sequence[Sequence[Any]], known: int, probes: int = 16) -> int | None:
    """How many rows the result set at `path` has, `known` of them known to be there; None when
    `probes` openFile requests could not tell.

    openFile answers no total (its totalLine is the page's rows, totalPage 0), so the file's
    size (getDirFileTrees) over the dolphin bytes of the `sample` rows gives a guess, and a page
    around the guess tells: one with fewer rows than its size ends the set. A miss moves the
    page away from the guess in doubling steps until the end is between two pages asked for,
    then halves the range between them. A page holds a fiftieth of the guess, at most about 128
    KiB of rows and at least 50."""
    if not file_size or not sample:
        return None
    per_row = sum(_record_bytes(row) for row in sample) / len(sample)
    if isinstance(metadata, list):
        header = 17 + _record_bytes([str(c.get(k, "")) for c in metadata if isinstance(c, dict)
                                     for k in ("columnName", "dataType", "comment")])
    else:
        header = 17 + _record_bytes([metadata])
    guess = max(known, round((file_size - header) / per_row))
    # A page of about 128 KiB at most, and at least 50 rows.
    window = max(50, min(guess // 50, int(_PROBE_BYTES / per_row)))
    # low <= total <= high; low starts as what is known, and is probed once a page was full.
    low, high, low_probed, step = known, None, False, max(window, guess // 16)
    for _ in range(probes):
        page = guess // window + 1
        start = (page - 1) * window
        count = len(client.open_file(path, page, window).rows)
        if 0 < count < window or (count == 0 and start <= low):
            return start + count if count else low
        if count == window:
            low, low_probed = start + window, True
        else:
            high = start
        if high is not None and high <= low:
            return low
        # From the guess outwards in doubling steps until both sides are probed, then halves.
        if high is None:
            guess = low + step
        elif not low_probed:
            guess = max(low, high - 1 - step)
        else:
            guess = (low + high) // 2
        step *= 2
    return None


class _Reader:
    """The result sets of one job, read with what reading the first ones learnt (`reading`)."""

    def __init__(self, client: LinkisClient, max_rows: int | None, decimal: str, reading: Reading,
                 skip: int = 0, count: bool = False) -> None:
        self.client, self.max_rows, self.decimal, self.reading = client, max_rows, decimal, reading
        self.skip = max(0, skip)
        self.count = count
        self.markers = NULL_MARKERS + ((client.null_value,) if client.null_value else ())

    def result_set(self, index: int, path: str, file_size: int | None = None) -> ResultSet:
        as_text: frozenset[int] = frozenset()
        whole: frozenset[int] = frozenset()
        while True:
            try:
                result = self._read(index, path, as_text, whole)
                break
            except Reconvert as again:
                # Rare (a column that parsed on the first pages fails on a later one, or a SQL
                # NULL shows up after text NULLs): read again.
                as_text, whole = as_text | again.as_text, whole | again.whole
                self.reading.nulls_kept = self.reading.nulls_kept or again.nulls_kept
        result.first_row = self.skip
        if not result.truncated:
            result.total_rows = self.skip + result.rows_read if result.rows_read or not self.skip else None
        elif self.count:
            sample = result.extra.pop("sample", [])
            # The one row more asked for tells there is at least one more.
            result.total_rows = count_rows(self.client, path, file_size, result.metadata, sample,
                                           self.skip + result.rows_read + 1)
        return result

    def _read(self, index: int, path: str, as_text: frozenset[int], whole: frozenset[int]) -> ResultSet:
        markers, reading = self.markers, self.reading
        pages = self._pages(path)
        try:
            first, rows, truncated = next(pages)
            type_ = ResultType.from_wire(first.type)
            columns = columns_from_metadata(first.metadata)
            if type_ is not ResultType.TABLE or not columns:
                every = list(rows)
                for _page, rows, truncated in pages:
                    every.extend(rows)
                result = ResultSet.from_rows(index, path, type_, first.metadata, every, truncated=truncated,
                                             null_markers=markers, decimal=self.decimal)
                if truncated:
                    result.extra["sample"] = every[-_SAMPLE:]
                return result
            builder = TableBuilder(columns, null_markers=markers, decimal=self.decimal, as_text=as_text, whole=whole,
                                   nulls_kept=reading.nulls_kept)
            metadata = first.metadata
            builder.add(rows, first.absent)
            # The last rows read: what count_rows guesses the set's size from, if a cap cut it.
            sample = rows[-_SAMPLE:]
            del first, rows
            for page, rows, truncated in pages:
                builder.add(rows, page.absent)
                sample = rows[-_SAMPLE:] or sample
                page = rows = None  # type: ignore[assignment]  # not held while the next arrives
            # A gateway that sent one SQL NULL as a JSON null does so for the job's next sets too.
            reading.nulls_kept = builder.nulls_kept
            extra = {"sample": sample} if truncated else {}
            return ResultSet(index, path, type_, builder.frame(), truncated, columns, metadata, builder.rows, extra)
        finally:
            pages.close()

    def _pages(self, path: str) -> Iterator[tuple[ResultPage, list[Any], bool]]:
        """(page, its rows within max_rows, whether max_rows cut) for each page, asking for the
        next page while the caller converts this one: at most two pages are held. Each page's
        size is settled before it is asked for (`reading.sizes`, see PageSizes): it grows while
        pages come back quickly, and a page that fails for its size is asked for again smaller."""
        client, sizes, max_rows, skip = self.client, self.reading.sizes, self.max_rows, self.skip
        markers = (None, *self.markers)
        # LINKIS_NULL: Linkis 1.5+ sends a SQL NULL as a JSON null and the text NULL as text;
        # older gateways ignore it. A user's own null_value replaces it (see LinkisClient.null_value).
        null_value = client.null_value or KEEP_NULLS

        def ask(offset: int) -> tuple[int, Any, float]:
            """Ask for the page at row `offset`: (its size, the response or the error, seconds)."""
            # One row more than max_rows tells whether the cap cut anything.
            size = sizes.at(offset, None if max_rows is None else skip + max_rows + 1 - offset)
            began = time.monotonic()
            try:
                response: Any = client.open_file_request(path, offset // size + 1, size, null_value=null_value)
            except TransportError as exc:
                response = exc
            return size, response, time.monotonic() - began

        def fetch(offset: int, asked: tuple[int, Any, float]) -> tuple[ResultPage, int]:
            """The page at `offset` from the request `asked` sent, and its size."""
            while True:
                size, response, waited = asked
                began = time.monotonic()
                try:
                    if isinstance(response, Exception):
                        raise response
                    page = client.open_file_answer(response, path, offset // size + 1, size,
                                                   null_value=null_value, null_markers=markers)
                except (TransportError, APIError) as exc:
                    if not sizes.failed(size, exc):
                        raise
                    asked = ask(offset)
                    continue
                sizes.took(size, waited + time.monotonic() - began)
                return page, size

        read = skip
        current, size = fetch(skip, ask(skip))
        following = None
        # The next page is asked for in a thread, which waits for the gateway while the caller
        # converts this page; its body is read and parsed here, after the conversion: parsing in
        # the thread would fight the conversion for the GIL and gain nothing.
        with ThreadPoolExecutor(1, thread_name_prefix="linkis-page") as pool:
            try:
                while True:
                    rows = current.rows
                    if max_rows is not None and read - skip + len(rows) > max_rows:
                        yield current, rows[: skip + max_rows - read], True
                        return
                    read += len(rows)
                    if len(rows) >= size:
                        following = pool.submit(ask, read)
                    yield current, rows, False
                    if following is None:
                        return
                    del rows
                    pending, following = following, None
                    current, size = fetch(read, pending.result())
            finally:
                if following is not None:
                    following.add_done_callback(_close_response)


def _close_response(future: Any) -> None:
    """A page asked for and then not needed: give its connection back."""
    if not future.cancelled() and future.exception() is None:
        _size, response, _seconds = future.result()
        if not isinstance(response, Exception):
            response.close()
