#!/usr/bin/env bash
# Correctness gate for autoresearch: the whole test suite must pass (exit 0), including the
# comparison of the engine's logits and generated tokens with the in-memory reference.
set -euo pipefail
cd "$(dirname "$0")"
# Only the plugin the suite needs (pytest-timeout, named in pytest.ini): plugins installed for
# other projects stay out of the gate and out of its start-up time.
PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 "${AUTORESEARCH_PYTHON:-python3}" -m pytest -q -x -p no:cacheprovider tests
