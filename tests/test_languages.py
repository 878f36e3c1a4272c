"""Sessions outside Python, set up as the README's recipes say: a Ruby project from init to a keep."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import Repo

WORDS_RB = """\
module Words
  # Occurrences of each word, lower-cased.
  def self.count(text)
    words = text.downcase.scan(/[a-z']+/)
    counts = {}
    words.each { |w| counts[w] = words.count(w) }
    counts
  end
end
"""

BENCH_RB = """\
require "words"
vocabulary = (1..400).map { |i| "w" + i.to_s(26).tr("0-9a-p", "a-z") }
text = (0...3000).map { |i| vocabulary[(i * 7919) % vocabulary.size] }.join(" ")
t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
counts = Words.count(text)
ms = (Process.clock_gettime(Process::CLOCK_MONOTONIC) - t) * 1000
raise "wrong count" unless counts.values.sum == 3000
puts "METRIC count_ms=#{ms.round(3)}"
"""

WORDS_TEST_RB = """\
require "minitest/autorun"
require "words"

class WordsTest < Minitest::Test
  def test_counts_each_word
    assert_equal({"a" => 2, "b" => 1, "don't" => 1}, Words.count("A b a Don't"))
  end
end
"""


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is not installed (.ci/run installs it)")
def test_ruby_project_goes_from_init_to_a_keep(tmp_path):
    probe = subprocess.run(["ruby", "-e", "require 'minitest'"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip("this ruby has no minitest: " + probe.stderr.strip()[-200:])
    r = Repo(tmp_path / "words")
    r.path.mkdir()
    r.git("init", "-q", "-b", "main")
    r.write("lib/words.rb", WORDS_RB)
    r.write("bench.rb", BENCH_RB)
    r.write("test/words_test.rb", WORDS_TEST_RB)
    # the README's recipe, as a user would write the two scripts
    r.write("autoresearch.sh", '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")"\n'
            "ruby -Ilib bench.rb\n", executable=True)
    r.write("autoresearch.checks.sh", '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")"\n'
            "ruby -Ilib -Itest -e 'Dir[\"test/**/*_test.rb\"].each { require File.expand_path(_1) }'\n",
            executable=True)
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "words")
    r.cli("init", "--name", "words", "--metric", "count_ms", "--unit", "ms", "--measure", "cpu",
          "--scope", "lib/**", "--checks", "./autoresearch.checks.sh")
    # O(n²) → O(n): several times faster in CPU time, far beyond any noise of this machine
    r.write("lib/words.rb", WORDS_RB.replace("words.each { |w| counts[w] = words.count(w) }",
                                             "words.each { |w| counts[w] = (counts[w] || 0) + 1 }"))
    result = r.cli_json("run", "-m", "count in one pass")
    assert result["verdict"] == "keep", result["reason"]
    # a wrong change is named by its failing minitest test
    r.write("lib/words.rb", WORDS_RB.replace("text.downcase", "text"))
    result = r.cli_json("run", "-m", "skip downcasing")
    assert result["verdict"] == "checks_failed"
    assert "test_counts_each_word" in result["reason"]
