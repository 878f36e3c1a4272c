#!/usr/bin/env bash
# Benchmark for autoresearch: count the words of the generated corpus (the build step makes
# ./wordfreq and data/corpus.txt). The harness counts the instructions itself (measure =
# "instructions"), so this prints no METRIC line of its own.
set -euo pipefail
cd "$(dirname "$0")"
./wordfreq data/corpus.txt > /dev/null
