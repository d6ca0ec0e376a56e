"""Benchmarks: scripts that print figures as ratios against a baseline of the same run.

Run them from the repository root as modules, e.g. `.venv/bin/python -m bench.verify_throughput`.
See bench/README.md.
"""
