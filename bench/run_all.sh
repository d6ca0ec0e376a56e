#!/usr/bin/env bash
# Run both benchmarks with their defaults (about 2 + 2.5 minutes on a 2-core machine).
# Extra arguments are ignored; run a script by hand for bigger runs (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python=".venv/bin/python"
"$python" -m bench.verify_throughput
echo
"$python" -m bench.server_choice
