#!/usr/bin/env bash
# Benchmark for autoresearch: prints METRIC lines (see bench.py).
set -euo pipefail
cd "$(dirname "$0")"
"${AUTORESEARCH_PYTHON:-python3}" bench.py
