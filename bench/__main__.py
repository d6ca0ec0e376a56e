"""`python -m bench`: the benchmark suite of issue #12 (bench/suite.py, docs/performance.md)."""

from bench.suite import main

raise SystemExit(main())
