#!/usr/bin/env bash
# Benchmark for autoresearch: count the words of the generated corpus (the build step makes
# ./wordfreq and data/corpus.txt). The harness counts the instructions itself (measure =
# "instructions"), so this prints no METRIC line of its own. The directory comes from the shell
# itself, not from `dirname`: under valgrind every program started costs a start-up.
set -euo pipefail
case $0 in */*) cd "${0%/*}" ;; esac
./wordfreq data/corpus.txt > /dev/null
