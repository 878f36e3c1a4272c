#!/usr/bin/env bash
# Benchmark for autoresearch: prints METRIC lines (see bench.py).
set -euo pipefail
cd "$(dirname "$0")"
# A fixed hash seed keeps the allocation count identical from run to run.
export PYTHONHASHSEED=0
"${AUTORESEARCH_PYTHON:-python3}" bench.py
