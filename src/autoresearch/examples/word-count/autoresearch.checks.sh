#!/usr/bin/env bash
# Correctness gate for autoresearch: the unit tests and the output on a known text (exit 0 = pass).
set -euo pipefail
cd "$(dirname "$0")"
make -s test
