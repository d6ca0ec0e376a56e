#!/usr/bin/env bash
# Run the five benchmarks with their defaults, about 5 minutes on a 2-core machine:
# verify_throughput ~2 min, server_choice ~2.5 min, token2_bench ~5-8 s, strongbox_bench ~20 s,
# phenixid_bench ~30 s (skipped without wrk). Extra arguments are ignored; run a script by
# hand for bigger runs (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python=".venv/bin/python"
"$python" -m bench.verify_throughput
echo
"$python" -m bench.server_choice
echo
"$python" -m bench.token2_bench
echo
"$python" -m bench.strongbox_bench
echo
if command -v wrk >/dev/null; then
    "$python" -m bench.phenixid_bench
else
    echo "phenixid_bench skipped: it needs wrk (apt-get install -y wrk)"
fi
