"""How many polls the client's schedule (job.py: the first `poll_interval_min` after submit, then a
fifth of the time run so far, between `poll_interval_min` and `poll_interval_max`) makes in a given
time: tests bound request counts by the time a job really took, not by a guess of it, so that a
slow machine does not turn a longer job into a failure."""
from __future__ import annotations


def scheduled_polls(seconds: float, first: float = 0.05, cap: float = 1.0, share: float = 0.2) -> int:
    """Polls due within `seconds` of the submit."""
    at, polls = first, 0
    while at <= seconds:
        polls += 1
        at += min(cap, max(first, share * at))
    return polls
