"""JobLog on the reads a Linkis 1.6+ entrance gives where its cache meets its file: repeated lines,
lines written twice at a flush, lines a read skips, and the persisted log that puts them back."""
from __future__ import annotations

from linkis_jupyter.joblog import JobLog, is_end_line
from linkis_jupyter.wire import JobState


def lines(first: int, last: int) -> list[str]:
    return [f"2024-05-01 10:00:00.000 INFO line {i}" for i in range(first, last + 1)]


END = "2024-05-01 10:00:01.000 INFO Congratulations. Your job completed with status Success."


def texts(log_lines: list) -> list[str]:
    return [line.text for line in log_lines]


def test_a_read_that_repeats_the_last_lines_shows_only_the_new_ones() -> None:
    log = JobLog()
    assert texts(log.add_read(lines(1, 500), 501)) == lines(1, 500)
    # The file reader counts from 1: a read from 501 begins at line 500 again.
    assert texts(log.add_read(lines(499, 520), 523)) == lines(501, 520)
    assert log.lines == lines(1, 520) and log.from_line == 523


def test_a_line_written_twice_at_a_flush_shows_once() -> None:
    log = JobLog()
    doubled = lines(1, 10) + lines(10, 10) + lines(11, 12)
    assert texts(log.add_read(doubled, 13)) == lines(1, 12)


def test_a_line_an_earlier_read_skipped_goes_in_its_place() -> None:
    log = JobLog()
    log.add_read(lines(1, 9) + lines(11, 20), 21)
    assert texts(log.add_read(lines(9, 25), 30)) == lines(10, 10) + lines(21, 25)
    assert log.lines == lines(1, 25)


def test_lines_skipped_at_the_end_of_a_read_come_before_the_last_line_read() -> None:
    log = JobLog()
    log.add_read(lines(1, 96) + lines(110, 110), 200)
    # The next read begins with the lines the last one skipped, then that one's last line.
    assert texts(log.add_read(lines(97, 120), 300)) == lines(97, 109) + lines(111, 120)
    assert log.lines == lines(1, 120)


def test_the_persisted_log_puts_back_what_the_reads_skipped() -> None:
    log = JobLog()
    log.add_read(lines(1, 40) + lines(44, 90) + [END], 95)
    assert log.end_state is JobState.SUCCEED and is_end_line(END)
    # The file has every line, the flush lines twice.
    persisted = lines(1, 50) + lines(50, 90) + [END]
    assert texts(log.merge(persisted)) == lines(41, 43)
    assert log.lines == lines(1, 90) + [END]
    assert log.merge(persisted) == []


def test_a_persisted_log_that_is_not_this_one_adds_nothing() -> None:
    log = JobLog()
    log.add_read(lines(1, 30), 31)
    assert log.merge([f"other {i}" for i in range(100)]) == []
    assert log.lines == lines(1, 30)


def test_a_persisted_log_without_the_last_lines_read_still_fills_the_gaps() -> None:
    log = JobLog()
    log.add_read(lines(1, 20) + lines(25, 60), 61)
    assert texts(log.merge(lines(1, 50))) == lines(21, 24)
    assert log.lines == lines(1, 60)


def test_the_end_phrase_inside_a_job_line_is_not_the_end() -> None:
    log = JobLog()
    log.add_read(["2024-05-01 10:00:00.000 WARN note: Your job completed with status Success."], 1)
    assert log.end_state is None
