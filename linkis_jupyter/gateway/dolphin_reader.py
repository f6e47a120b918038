"""Reading Linkis' result-set files (dolphin.py has the format and the writer): `ResultSetFile`
pages a file as openFile serves it, by an index of row offsets kept per file, and builds a TABLE
page's `fileContent` JSON straight from the file's bytes (`page_json`, the fast path of openFile).
"""
from __future__ import annotations

import json
import mmap
import os
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from .dolphin import (
    HEADER_LEN, INT_LEN, LINKIS_NULL, MAGIC, NULL, TABLE, DolphinError, Nulls, _LINKIS_NULL_BYTES,
    _NULL_BYTES, INDEX_STEP,
)

__all__ = ["ResultSetFile"]


def _java_double(text: str) -> str:
    """A double as `openFile` shows it: Linkis reads it back as a Java double and formats it with
    a grouping-free NumberFormat (StorageUtils.doubleToString): no exponent, no trailing `.0`."""
    if text.endswith(".0") and "e" not in text and "E" not in text:
        return text[:-2]
    lowered = text.lower()
    if lowered in ("nan", "-nan"):
        return "NaN"
    if lowered in ("inf", "infinity", "+inf"):
        return "\u221e"
    if lowered in ("-inf", "-infinity"):
        return "-\u221e"
    if "e" in lowered:
        try:
            plain = format(Decimal(text), "f")
        except InvalidOperation:
            return text
        if "." in plain:
            plain = plain.rstrip("0").rstrip(".")
        return plain
    return text


class _Index:
    """Where the rows of one file start: the offset of every INDEX_STEP-th row, filled in as far
    as reads have gone (page 1 of a million-row file does not scan the other 999,000 rows)."""

    __slots__ = ("data_start", "offsets", "frontier_row", "frontier_pos", "rows", "lock")

    def __init__(self, data_start: int) -> None:
        self.data_start = data_start
        self.offsets = array("q")           # offsets[i]: where row i * INDEX_STEP starts
        self.frontier_row = 0               # the rows before it are known complete records
        self.frontier_pos = data_start      # where frontier_row starts
        self.rows: int | None = None        # the row count, once the end has been reached
        self.lock = threading.Lock()

    def _checkpoint(self, row: int, pos: int) -> None:
        if row % INDEX_STEP == 0 and row // INDEX_STEP == len(self.offsets):
            self.offsets.append(pos)

    def advance(self, mm: mmap.mmap | bytes, target: int, name: str) -> None:
        """Scans on from the frontier to row `target` or the end of the file (lock held)."""
        pos, row, end = self.frontier_pos, self.frontier_row, len(mm)
        try:
            while row < target:
                if pos + INT_LEN > end:
                    break
                following = pos + INT_LEN + int(mm[pos:pos + INT_LEN])
                if following > end:
                    break  # a record cut short (a file still being written) is not a row yet
                self._checkpoint(row, pos)
                pos = following
                row += 1
            else:
                self.frontier_row, self.frontier_pos = row, pos
                return
        except ValueError:
            raise DolphinError(f"{name} has a malformed record at byte {pos}") from None
        self.frontier_row, self.frontier_pos, self.rows = row, pos, row

    def record(self, first_row: int, starts: array, end_pos: int, at_end: bool) -> None:
        """Takes note of rows a page read scanned (lock held)."""
        if first_row > self.frontier_row:
            return
        last = first_row + len(starts)
        if last > self.frontier_row or (at_end and last == self.frontier_row):
            step = INDEX_STEP
            for row in range(-(-self.frontier_row // step) * step, last, step):
                self._checkpoint(row, starts[row - first_row])
            self.frontier_row, self.frontier_pos = last, end_pos
            if at_end:
                self.rows = last


_SCAN_BLOCK = 1 << 22

# The filesystem endpoint opens a ResultSetFile per request; the row index outlives the object so
# that paging through a big file scans it once. Keyed by path and (size, mtime): a rewritten file
# gets a new index. Bounded, so the gateway does not grow with the number of files read.
_INDEX_CACHE: OrderedDict[tuple[str, int, int], _Index] = OrderedDict()
_INDEX_CACHE_SIZE = 64
_INDEX_LOCK = threading.Lock()


class ResultSetFile:
    """Read side of one result set, for `/filesystem/openFile` and downloads."""

    type: str
    metadata: list[dict[str, str]] | str | None

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            stat = os.fstat(f.fileno())
            self._key = (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
            header = f.read(HEADER_LEN)
            if len(header) < HEADER_LEN or header[: len(MAGIC)] != MAGIC:
                raise DolphinError(f"{self.path.name} is not a result-set file (no dolphin header)")
            digits = header[len(MAGIC):]
            if not digits.isdigit():
                raise DolphinError(f"{self.path.name} has a malformed result-set type")
            self.type = str(int(digits))
            head = f.read(INT_LEN)
            if len(head) < INT_LEN:
                # Linkis writes nothing after the header for a result set with no metadata.
                self.metadata = None
                self._meta_end = HEADER_LEN
                self._double_columns: tuple[int, ...] = ()
                return
            if not head.isdigit():
                raise DolphinError(f"{self.path.name} has a malformed metadata record")
            body = f.read(int(head))
        self._meta_end = HEADER_LEN + INT_LEN + len(body)
        if self.type == TABLE:
            values = [NULL if v == LINKIS_NULL else v for v in _decode_table(body)]
            if len(values) % 3:
                raise DolphinError(f"{self.path.name} has malformed table metadata")
            self.metadata = [
                {"columnName": values[i], "comment": values[i + 2], "dataType": values[i + 1]}
                for i in range(0, len(values), 3)
            ]
            self._double_columns = tuple(
                i for i, column in enumerate(self.metadata) if column["dataType"] == "double"
            )
        else:
            self.metadata = body.decode("utf-8", "replace")
            self._double_columns = ()

    @property
    def columns(self) -> int:
        return len(self.metadata) if isinstance(self.metadata, list) else 1

    def _index(self) -> _Index:
        with _INDEX_LOCK:
            index = _INDEX_CACHE.get(self._key)
            if index is not None:
                _INDEX_CACHE.move_to_end(self._key)
                return index
            index = _INDEX_CACHE[self._key] = _Index(self._meta_end)
            while len(_INDEX_CACHE) > _INDEX_CACHE_SIZE:
                _INDEX_CACHE.popitem(last=False)
            return index

    def _locate(self, mm: mmap.mmap | bytes, index: _Index, row: int) -> int | None:
        """Where row `row` starts; None past the last row."""
        with index.lock:
            if row >= index.frontier_row:
                if index.rows is not None:
                    return None
                index.advance(mm, row, self.path.name)
                return index.frontier_pos if index.frontier_row == row and index.rows != row else None
            pos = index.offsets[row // INDEX_STEP]
        try:
            for _ in range(row % INDEX_STEP):
                pos += INT_LEN + int(mm[pos:pos + INT_LEN])
        except ValueError:
            raise DolphinError(f"{self.path.name} has a malformed record at byte {pos}") from None
        return pos

    def _scan(self, mm: mmap.mmap | bytes, index: _Index, first_row: int, pos: int,
              count: int) -> tuple[array, int]:
        """Where each of up to `count` records from `pos` (row `first_row`) starts, and where the
        last one ends."""
        starts = array("q")
        add = starts.append
        end = len(mm)
        left = count
        try:
            # Through a bytes copy a block at a time: slicing bytes is cheaper than slicing mmap.
            while left:
                block = mm[pos:pos + _SCAN_BLOCK]
                size = len(block) - INT_LEN
                at = 0
                for _ in range(left):
                    if at > size:
                        break
                    following = at + INT_LEN + int(block[at:at + INT_LEN])
                    if following > size + INT_LEN:
                        break
                    add(pos + at)
                    at = following
                if at == 0:
                    # A record longer than a block, or the end of the file.
                    if pos + INT_LEN > end:
                        break
                    at = INT_LEN + int(mm[pos:pos + INT_LEN])
                    if pos + at > end:
                        break
                    add(pos)
                left = count - len(starts)
                pos += at
        except ValueError:
            raise DolphinError(f"{self.path.name} has a malformed record at byte {pos}") from None
        with index.lock:
            index.record(first_row, starts, pos, pos + INT_LEN > end or left > 0)
        return starts, pos

    def _page_span(self, mm: mmap.mmap | bytes, page: int, page_size: int) -> tuple[int, array, int]:
        """Where page `page` starts, where each of its records starts, and where the last one
        ends; no records past the last row."""
        start = (page - 1) * page_size
        index = self._index()
        pos = self._locate(mm, index, start)
        if pos is None:
            return 0, array("q"), 0
        starts, end = self._scan(mm, index, start, pos, page_size)
        return pos, starts, end

    def count(self) -> int:
        """Rows (lines) in the file."""
        index = self._index()
        with _Mapped(self.path) as mm:
            with index.lock:
                index.advance(mm, sys.maxsize, self.path.name)
                assert index.rows is not None
                return index.rows

    def page(self, page: int, page_size: int, null_value: str | None | Nulls = NULL) -> list[list[str]]:
        """Rows `(page-1)*page_size` .. `page*page_size-1` as lists of strings (pages count from
        1); past the end an empty list. NULLs become `null_value` ("NULL" as openFile shows them;
        None keeps them None), or as a `Nulls` says."""
        _check_page(page, page_size)
        with _Mapped(self.path) as mm:
            pos, starts, _end = self._page_span(mm, page, page_size)
            return self._read(mm, pos, len(starts), null_value) if starts else []

    def page_json(self, page: int, page_size: int, null_value: str | None | Nulls = NULL) -> tuple[int, bytes]:
        """The same rows as `page()`, as the UTF-8 JSON array `openFile` sends (`[["1","a"],...]`),
        made from the file's bytes in bulk rather than one value at a time; with the row count."""
        _check_page(page, page_size)
        with _Mapped(self.path) as mm:
            pos, starts, page_end = self._page_span(mm, page, page_size)
            if not starts:
                return 0, b"[]"
            if self.type == TABLE and self.columns:
                fast = _table_json(mm, starts, page_end, self.columns, self._double_columns,
                                   Nulls.of(null_value))
                if fast is not None:
                    return len(starts), fast
            rows = self._read(mm, pos, len(starts), null_value)
        return len(rows), json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()

    def iter_rows(self, null_value: str | None | Nulls = NULL, chunk: int = 10000) -> Iterator[list[str]]:
        """Every row, in order (for downloads)."""
        page = 1
        while True:
            rows = self.page(page, chunk, null_value)
            yield from rows
            if len(rows) < chunk:
                return
            page += 1

    def _read(self, mm: mmap.mmap | bytes, pos: int, count: int,
              null_value: str | None | Nulls) -> list[list[str]]:
        out: list[list[Any]] = []
        append = out.append
        if self.type != TABLE:
            for _ in range(count):
                n = int(mm[pos:pos + INT_LEN])
                pos += INT_LEN
                append([mm[pos:pos + n].decode("utf-8", "replace")])
                pos += n
            return out
        rules = Nulls.of(null_value)
        shown = {LINKIS_NULL: rules.sql, NULL: rules.text, "": rules.empty}
        doubles = self._double_columns
        for _ in range(count):
            n = int(mm[pos:pos + INT_LEN])
            row = _decode_table(mm[pos + INT_LEN:pos + INT_LEN + n])
            pos += INT_LEN + n
            for i in doubles:
                value = row[i]
                if value not in shown:
                    row[i] = _java_double(value)
            if LINKIS_NULL in row or NULL in row or "" in row:
                row = [shown[value] if value in shown else value for value in row]
            append(row)
        return out


# JSON between and around the values of a page: `[["` a `","` b `"],["` c `","` d `"]]`.
_OPEN, _NEXT_ROW, _NEXT_VALUE, _CLOSE = b'[["', b'"],["', b'","', b'"]]'


def _table_json(mm: mmap.mmap | bytes, starts: array, page_end: int, columns: int,
                doubles: tuple[int, ...], nulls: Nulls) -> bytes | None:
    """A page of TABLE records as openFile's JSON, with numpy over the page's bytes at once: the
    records' value lengths are parsed together, then every value is copied into its place between
    the JSON punctuation by one gather. None when the page holds something that needs escaping
    (a quote, backslash or control character), a value that is not whole UTF-8, or a record that
    does not parse: the caller then goes the value-at-a-time way."""
    import numpy as np

    first = starts[0]
    raw = mm[first:page_end]
    if b'"' in raw or b"\\" in raw:
        return None
    region = np.frombuffer(raw, dtype=np.uint8)
    if region.size and region.min() < 0x20:
        return None
    n, k = len(starts), columns
    rec = np.frombuffer(starts, dtype=np.int64) - first
    rec_len = np.diff(rec, append=page_end - first) - INT_LEN
    body = rec + INT_LEN
    # COLLEN: 10 digits at the start of each record's body.
    digits = region[body[:, None] + np.arange(INT_LEN)]
    if (rec_len < 2 * INT_LEN).any() or ((digits < 48) | (digits > 57)).any():
        return None
    col_len = (digits.astype(np.int64) - 48) @ (10 ** np.arange(INT_LEN - 1, -1, -1, dtype=np.int64))
    lengths_at = body + INT_LEN
    if (col_len < 2).any() or (lengths_at + col_len > rec + INT_LEN + rec_len).any():
        return None
    # The lengths lists ("3,11,0,") of every record, back to back.
    out_at = np.cumsum(col_len) - col_len
    total = int(col_len.sum())
    text = region[np.repeat(lengths_at - out_at, col_len) + np.arange(total)]
    commas = text == 44
    comma_at = np.flatnonzero(commas)
    if comma_at.size != n * k or not np.array_equal(comma_at[k - 1::k], out_at + col_len - 1):
        return None
    if not (commas | ((text >= 48) & (text <= 57))).all():
        return None
    digit_count = np.diff(comma_at, prepend=-1) - 1
    if (digit_count < 1).any() or (digit_count > INT_LEN).any():
        return None
    # Digits and commas only, each number 1-10 digits: numpy's text parser reads them all.
    value_len = np.fromstring(text[:-1].tobytes(), dtype=np.int64, sep=",")
    if value_len.size != n * k:
        return None
    value_len = value_len.reshape(n, k)
    data_at = lengths_at + col_len
    if not np.array_equal(value_len.sum(axis=1), rec + INT_LEN + rec_len - data_at):
        return None
    value_at = data_at[:, None] + (np.cumsum(value_len, axis=1) - value_len)
    value_at, value_len = value_at.ravel(), value_len.ravel()
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # The file is whole UTF-8; no value may start inside a character either.
        firsts = region[value_at[value_len > 0]]
        if ((firsts & 0xC0) == 0x80).any():
            return None

    extra = bytearray(_OPEN + _NEXT_ROW + _NEXT_VALUE + _CLOSE)
    base = region.size
    src_at = value_at.copy()
    src_len = value_len.copy()
    # Cells shown as something else than their bytes: a null, "NULL" or "" (Nulls); `json_null`
    # the ones shown as a bare JSON null, without the quotes around them.
    null = np.zeros(n * k, dtype=bool)
    json_null = np.zeros(n * k, dtype=bool)
    special: list[tuple[np.ndarray, str | None]] = []
    if _NULL_BYTES in raw:
        for marker, shown in ((_LINKIS_NULL_BYTES, nulls.sql), (_NULL_BYTES, nulls.text)):
            maybe = np.flatnonzero(value_len == len(marker))
            if maybe.size:
                got = region[value_at[maybe][:, None] + np.arange(len(marker))]
                special.append((maybe[(got == np.frombuffer(marker, dtype=np.uint8)).all(axis=1)], shown))
    if nulls.empty != "":
        special.append((np.flatnonzero(value_len == 0), nulls.empty))
    for cells, shown in special:
        null[cells] = True
        if shown is None:
            json_null[cells] = True
            text = b"null"
        else:
            text = json.dumps(shown, ensure_ascii=False)[1:-1].encode()
        src_at[cells] = base + len(extra)
        src_len[cells] = len(text)
        extra += text
    for column in doubles:
        cells = np.arange(column, n * k, k)
        cells = cells[~null[cells] & (value_len[cells] > 0)]
        if not cells.size:
            continue
        at, size = value_at[cells], value_len[cells]
        where = np.cumsum(size) - size
        chars = region[np.repeat(at - where, size) + np.arange(int(size.sum()))]
        plain = ((chars >= 48) & (chars <= 57)) | (chars == 46) | (chars == 45)
        odd = np.zeros(cells.size, dtype=bool)
        odd[np.repeat(np.arange(cells.size), size)[~plain]] = True
        # Java's formatting drops a trailing ".0" (StorageUtils.doubleToString).
        tail = size >= 2
        ends = np.zeros(cells.size, dtype=bool)
        ends[tail] = (region[at[tail] + size[tail] - 2] == 46) & (region[at[tail] + size[tail] - 1] == 48)
        strip = ends & ~odd
        src_len[cells[strip]] -= 2
        for cell in cells[odd].tolist():
            start = int(value_at[cell])
            shown = _java_double(raw[start:start + int(value_len[cell])].decode()).encode()
            src_at[cell] = base + len(extra)
            src_len[cell] = len(shown)
            extra += shown

    # Runs: the punctuation before each value, the value, and the closing brackets.
    runs = 2 * n * k + 1
    run_at = np.empty(runs, dtype=np.int64)
    run_len = np.empty(runs, dtype=np.int64)
    punct_at = np.full(n * k, base + len(_OPEN) + len(_NEXT_ROW), dtype=np.int64)
    punct_len = np.full(n * k, len(_NEXT_VALUE), dtype=np.int64)
    punct_at[::k] = base + len(_OPEN)
    punct_len[::k] = len(_NEXT_ROW)
    punct_at[0], punct_len[0] = base, len(_OPEN)
    run_at[0:-1:2], run_len[0:-1:2] = punct_at, punct_len
    run_at[1::2], run_len[1::2] = src_at, src_len
    run_at[-1] = base + len(_OPEN) + len(_NEXT_ROW) + len(_NEXT_VALUE)
    run_len[-1] = len(_CLOSE)
    if json_null.any():
        # Every punctuation ends with the quote opening the next value and starts with the one
        # closing the previous value: a bare null drops both.
        at = np.flatnonzero(json_null)
        run_len[2 * at] -= 1
        run_at[2 * at + 2] += 1
        run_len[2 * at + 2] -= 1
    size = int(run_len.sum())
    source = np.concatenate((region, np.frombuffer(bytes(extra), dtype=np.uint8)))
    kind = np.int32 if source.size < 2**31 else np.int64
    # Output byte i comes from source byte steps[i]: each run's source start, shifted to where
    # the run begins in the output, plus the position in the output.
    shift = (run_at - (np.cumsum(run_len) - run_len)).astype(kind)
    steps = np.repeat(shift, run_len)
    steps += np.arange(size, dtype=kind)
    return source[steps].tobytes()


def _decode_table(body: bytes) -> list[Any]:
    col_len = int(body[:INT_LEN])
    lengths = body[INT_LEN:INT_LEN + col_len].split(b",")
    if lengths and not lengths[-1]:
        lengths.pop()
    bounds = accumulate(map(int, lengths), initial=INT_LEN + col_len)
    if body.isascii():
        text = body.decode("ascii")
        return [text[a:b] for a, b in pairwise(bounds)]
    return [body[a:b].decode("utf-8", "replace") for a, b in pairwise(bounds)]


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size count from 1")


class _Mapped:
    """The file's bytes through mmap (an empty file cannot be mapped: then plain bytes)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")
        try:
            self._mm: mmap.mmap | bytes = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            self._mm = b""

    def __enter__(self) -> mmap.mmap | bytes:
        return self._mm

    def __exit__(self, *exc: Any) -> None:
        if isinstance(self._mm, mmap.mmap):
            self._mm.close()
        self._file.close()
