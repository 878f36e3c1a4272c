"""The first failure named in the checks' output, for each ecosystem's test runner.

Each case feeds `first_failure` a runner's output. The toolchains installed here (pytest,
unittest, node:test, cargo test, ctest with a C assert) are also run for real on a small failing
test; the others (go test, minitest, RSpec, Jest, Vitest) use samples written in the format each
runner documents and prints, since their toolchains are not installed on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Repo

from autoresearch.measure.failures import Failure, first_failure


def _run(cmd: list[str], cwd: Path, **env: str) -> str:
    import os

    proc = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


# --- runners installed here: real runs ------------------------------------------------------

PY_TESTS = """\
import unittest
def test_ok(): pass
def test_bad(): assert 1 + 1 == 3, "math"
def test_bad2(): raise ValueError("boom")
class T(unittest.TestCase):
    def test_eq(self): self.assertEqual(1, 2)
    def test_ok(self): pass
"""


def test_pytest(tmp_path: Path):
    (tmp_path / "test_a.py").write_text(PY_TESTS)
    out = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_a.py"], tmp_path)
    assert first_failure(out) == Failure("test_a.py::test_bad", "AssertionError: math", more=2)


def test_pytest_hang_under_pytest_timeout_with_x(tmp_path: Path):
    pytest.importorskip("pytest_timeout")
    (tmp_path / "test_h.py").write_text("import time\ndef test_hangs():\n    time.sleep(30)\n")
    out = _run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--timeout=1",
                "test_h.py"], tmp_path)
    failure = first_failure(out)
    assert failure is not None and (failure.name, failure.timed_out) == ("test_h.py::test_hangs", True)
    assert failure.summary().endswith("(timed out)")


def test_unittest(tmp_path: Path):
    (tmp_path / "test_a.py").write_text(PY_TESTS)
    out = _run([sys.executable, "-m", "unittest", "test_a"], tmp_path)
    assert first_failure(out) == Failure("test_a.T.test_eq", "AssertionError: 1 != 2")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("reporter", ["tap", "spec"])
def test_node_test(tmp_path: Path, reporter: str):
    (tmp_path / "a.test.mjs").write_text(textwrap.dedent("""\
        import test from 'node:test';
        import assert from 'node:assert';
        test('adds', () => { assert.strictEqual(1 + 1, 2); });
        test('renders the header', () => { assert.strictEqual(1 + 1, 3); });
        test('second failure', () => { throw new Error('boom'); });
        """))
    out = _run(["node", "--test", f"--test-reporter={reporter}", "a.test.mjs"], tmp_path)
    failure = first_failure(out)
    assert failure is not None and failure.name == "renders the header" and failure.more == 1
    assert "Expected values to be strictly equal: 2 !== 3" in failure.detail


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_cargo_test(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "t"\nversion = "0.1.0"\nedition = "2021"\n')
    (tmp_path / "src" / "lib.rs").write_text(textwrap.dedent("""\
        pub fn add(a: u64, b: u64) -> u64 { a + b }
        #[cfg(test)]
        mod tests {
            use super::*;
            #[test] fn it_works() { assert_eq!(add(2, 2), 4); }
            #[test] fn it_fails() { assert_eq!(add(2, 2), 5); }
            #[test] fn it_panics() { panic!("boom"); }
        }
        """))
    # one test thread: libtest reports failures in the order they finish
    out = _run(["cargo", "test", "--offline", "-q", "--", "--test-threads=1"], tmp_path, RUST_BACKTRACE="0",
               CARGO_TARGET_DIR=str(tmp_path / "target"))
    assert first_failure(out) == Failure(
        "tests::it_fails", "assertion `left == right` failed (src/lib.rs:6:29)", more=1)


@pytest.mark.skipif(shutil.which("ctest") is None or shutil.which("cmake") is None
                    or shutil.which("cc") is None, reason="cmake/ctest or a C compiler is missing")
@pytest.mark.parametrize("verbose", [False, True])
def test_ctest_with_a_c_assert(tmp_path: Path, verbose: bool):
    (tmp_path / "CMakeLists.txt").write_text(textwrap.dedent("""\
        cmake_minimum_required(VERSION 3.10)
        project(t C)
        enable_testing()
        add_executable(test_parse test_parse.c)
        add_executable(test_render test_render.c)
        add_test(NAME parse COMMAND test_parse)
        add_test(NAME render COMMAND test_render)
        """))
    (tmp_path / "test_parse.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "test_render.c").write_text(
        "#include <assert.h>\nint main(void) { assert(1 + 1 == 3); return 0; }\n")
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", ".", "-B", "build"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["cmake", "--build", "build"], cwd=tmp_path, check=True, capture_output=True)
    out = _run(["ctest"] + (["--output-on-failure"] if verbose else []), build)
    failure = first_failure(out)
    assert failure is not None and failure.name == "render"
    assert failure.detail.endswith("(Subprocess aborted)" if verbose else "Subprocess aborted")
    if verbose:
        assert "test_render.c:2: main: Assertion `1 + 1 == 3' failed." in failure.detail


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_a_plain_c_test_program_and_a_compile_error(tmp_path: Path):
    (tmp_path / "t.c").write_text("#include <assert.h>\nint main(void) { assert(2 < 1); }\n")
    subprocess.run(["cc", "-o", "t", "t.c"], cwd=tmp_path, check=True)
    out = _run(["sh", "-c", "./t"], tmp_path)
    assert first_failure(out) == Failure("t.c:2: main: Assertion `2 < 1' failed.")
    (tmp_path / "bad.c").write_text("int main(void) { return 0 }\n")
    out = _run(["cc", "-c", "bad.c"], tmp_path)
    failure = first_failure(out)
    assert failure is not None and failure.name.startswith("bad.c:1:26: error: expected")


# --- runners not installed here: their documented output formats ---------------------------

GO_TEST = """\
=== RUN   TestAdd
    add_test.go:9: Add(2, 2) = 5; want 4
--- FAIL: TestAdd (0.00s)
=== RUN   TestSub
--- PASS: TestSub (0.00s)
=== RUN   TestMul
    mul_test.go:14: Mul(2, 3) = 5; want 6
--- FAIL: TestMul (0.00s)
FAIL
exit status 1
FAIL	example.com/calc	0.002s
"""

GO_PANIC = """\
=== RUN   TestParse
--- FAIL: TestParse (0.00s)
panic: runtime error: index out of range [3] with length 3 [recovered]
	panic: runtime error: index out of range [3] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x5164a0, 0xc000018228})
example.com/calc.TestParse(0xc000007520)
	/src/calc/parse_test.go:8 +0x1d
FAIL	example.com/calc	0.003s
"""

MINITEST = """\
Run options: --seed 41734

# Running:

..F.E

Finished in 0.012345s, 405.0 runs/s, 324.0 assertions/s.

  1) Failure:
TestLiquid#test_render_filters [test/render_test.rb:12]:
Expected: "HELLO"
  Actual: "hello"

  2) Error:
TestLiquid#test_parse:
NameError: undefined local variable or method `tokn' for #<TestLiquid:0x000055d5>
    test/parse_test.rb:7:in `test_parse'

5 runs, 4 assertions, 1 failures, 1 errors, 0 skips
"""

RSPEC = """\
..F

Failures:

  1) Calculator adds two numbers
     Failure/Error: expect(add(2, 2)).to eq(5)

       expected: 5
            got: 4

       (compared using ==)
     # ./spec/calc_spec.rb:5:in `block (2 levels) in <top (required)>'

Finished in 0.01 seconds (files took 0.08 seconds to load)
3 examples, 1 failure

Failed examples:

rspec ./spec/calc_spec.rb:4 # Calculator adds two numbers
"""

JEST = """\
FAIL src/sum.test.js
  sum
    ✓ adds 1 + 1 (2 ms)
    ✕ adds 1 + 2 to equal 4 (3 ms)

  ● sum › adds 1 + 2 to equal 4

    expect(received).toBe(expected) // Object.is equality

    Expected: 4
    Received: 3

      3 | test('adds 1 + 2 to equal 4', () => {
    > 4 |   expect(sum(1, 2)).toBe(4);
        |                     ^

      at Object.toBe (src/sum.test.js:4:21)

Test Suites: 1 failed, 1 total
Tests:       1 failed, 1 passed, 2 total
Snapshots:   0 total
Time:        0.512 s
"""

VITEST = """\
 ❯ src/sum.test.ts (2 tests | 1 failed) 4ms
   × sum > adds 1 + 2 3ms
     → expected 3 to be 4 // Object.is equality

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  src/sum.test.ts > sum > adds 1 + 2
AssertionError: expected 3 to be 4 // Object.is equality

- Expected
+ Received

- 4
+ 3

 ❯ src/sum.test.ts:5:22

 Test Files  1 failed (1)
      Tests  1 failed | 1 passed (2)
"""


@pytest.mark.parametrize(("output", "expected"), [
    (GO_TEST, Failure("TestAdd", "add_test.go:9: Add(2, 2) = 5; want 4", more=1)),
    (GO_PANIC, Failure("TestParse", "panic: runtime error: index out of range [3] with length 3")),
    (MINITEST, Failure("TestLiquid#test_render_filters", 'Expected: "HELLO" Actual: "hello"', more=1)),
    (RSPEC, Failure("Calculator adds two numbers (./spec/calc_spec.rb:4)", "expect(add(2, 2)).to eq(5)")),
    (JEST, Failure("sum › adds 1 + 2 to equal 4", "expect(received).toBe(expected) // Object.is equality")),
    (VITEST, Failure("src/sum.test.ts > sum > adds 1 + 2",
                     "AssertionError: expected 3 to be 4 // Object.is equality")),
], ids=["go test", "go test panic", "minitest", "rspec", "jest", "vitest"])
def test_documented_formats(output: str, expected: Failure):
    assert first_failure(output) == expected


def test_go_test_without_v_prints_the_message_after_the_fail_line():
    out = "--- FAIL: TestAdd (0.00s)\n    add_test.go:9: Add(2, 2) = 5; want 4\nFAIL\nFAIL\tcalc\t0.002s\n"
    assert first_failure(out) == Failure("TestAdd", "add_test.go:9: Add(2, 2) = 5; want 4")


@pytest.mark.parametrize(("output", "name"), [
    ("ok 1 - parse\nFAIL: render_basic\nFAIL: render_loop\n# TOTAL: 3\n", "FAIL: render_basic"),
    ("building...\nError: template 'x' not found\nmake: *** [Makefile:4: test] Error 1\n",
     "Error: template 'x' not found"),
    ("\x1b[31mFAIL\x1b[0m: colored test\n", "FAIL: colored test"),
], ids=["FAIL lines", "Error line under make's trailer", "ANSI colours"])
def test_plain_failure_lines(output: str, name: str):
    failure = first_failure(output)
    assert failure is not None and failure.name == name


def test_falls_back_to_the_last_meaningful_line():
    out = "running 3 checks\nchecking output...\noutput differs at byte 1043\n\nmake: *** [check] Error 1\n"
    assert first_failure(out) == Failure("output differs at byte 1043")
    assert first_failure("") is None and first_failure("\n----\n") is None
    assert len(first_failure("x" * 500).name) <= 160  # type: ignore[union-attr]


def test_summary_reads_as_the_end_of_a_reason():
    assert Failure("t.py::test_a", "Failed: Timeout (>10.0s)", timed_out=True).summary() == \
        ": t.py::test_a — Failed: Timeout (>10.0s) (timed out)"
    assert Failure("output differs").summary() == ": output differs"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_a_failing_c_test_is_named_in_the_verdict(repo: Repo):
    repo.write("answer.h", "#define ANSWER 42\n")
    repo.write("check.c", "#include <assert.h>\n#include \"answer.h\"\n"
               "int main(void) { assert(ANSWER == 42); return 0; }\n")
    # checks see their checkout read-only (sealed runs): the test binary goes to the private /tmp
    repo.write("autoresearch.checks.sh", "#!/usr/bin/env bash\nset -e\ncd \"$(dirname \"$0\")\"\n"
               "cc -o /tmp/check check.c\n/tmp/check\n", executable=True)
    repo.write(".gitignore", "check\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "a C check")
    repo.cli("init", "--name", "c", "--metric", "cost", "--scope", "answer.h", "--timeout", "10")
    repo.write("answer.h", "#define ANSWER 41\n")
    result = repo.cli_json("run", "-m", "off by one")
    assert result["verdict"] == "checks_failed"
    assert result["reason"].startswith("checks failed (exit code ")
    assert result["reason"].endswith(": check.c:3: main: Assertion `ANSWER == 42' failed.")
