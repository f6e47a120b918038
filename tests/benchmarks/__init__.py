"""Benchmarks: `python -m tests.benchmarks` (see run.py)."""
