#!/usr/bin/env bash
# Correctness gate for autoresearch: the whole test suite must pass (exit 0), including the
# comparison of the engine's logits and generated tokens with the in-memory reference.
set -euo pipefail
cd "$(dirname "$0")"
"${AUTORESEARCH_PYTHON:-python3}" -m pytest -q -x -p no:cacheprovider tests
