"""Name the first failure in a test runner's output, whatever the language's test runner."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

DETAIL_CHARS = 160


@dataclass(frozen=True)
class Failure:
    """The first failure the output names: a test (with its message, if any) or a line."""

    name: str
    detail: str = ""
    more: int = 0  # further failing tests the runner named
    timed_out: bool = False

    def summary(self) -> str:
        """The words that follow "checks failed (exit code N)" in a verdict's reason.

        >>> Failure("tests/t.py::test_a", "AssertionError: 1 != 2", more=2).summary()
        ': tests/t.py::test_a — AssertionError: 1 != 2 (and 2 more)'
        """
        text = f": {self.name}"
        if self.detail and self.detail != self.name:
            text += f" — {self.detail}"
        if self.timed_out:
            text += " (timed out)"
        if self.more:
            text += f" (and {self.more} more)"
        return text


def first_failure(output: str) -> Failure | None:
    """The first failing test the output names, else its last meaningful line.

    Each runner's own report is tried in turn: pytest, unittest, minitest, RSpec, go test,
    cargo test, Jest, Vitest, node:test (TAP and spec), ctest, then C `assert` messages,
    compiler errors and plain `FAIL:`/`Error:` lines. `output` is a tail of the log: a runner's summary at the
    end is what survives a long run, so the summaries are read first.
    """
    lines = [_plain(line) for line in output.splitlines()]
    for finder in _FINDERS:
        found = finder(lines)
        if found is not None:
            return found
    last = _last_meaningful(lines)
    return Failure(_short(last)) if last else None


# --- one finder per runner: lines in, the first failure (or None) out -----------------------


def _pytest(lines: list[str]) -> Failure | None:
    r"""`FAILED path::test - message` / `ERROR path::test` in the short test summary.

    >>> _pytest(["FAILED tests/t.py::test_a - Failed: Timeout (>10.0s)"])
    Failure(name='tests/t.py::test_a', detail='Failed: Timeout (>10.0s)', more=0, timed_out=True)
    >>> _pytest(["E       Failed: Timeout (>10.0s) from pytest-timeout.", "FAILED t.py::test_b[{]"])
    Failure(name='t.py::test_b[{]', detail='Failed: Timeout (>10.0s) from pytest-timeout.', more=0, timed_out=True)
    """
    found = [m for m in (re.match(r"^(?:FAILED|ERROR) (\S+::\S+|\S+\.py)(?: - (.*))?$", x) for x in lines) if m]
    if not found:
        return None
    first = found[0]
    # with -x or a narrow terminal the summary has no message: the first `E` line has it
    detail = first[2] or next((m[1] for _, m in _matches(lines, r"^E\s+(\S.*)$")), "")
    timed_out = any(re.search(r"Failed: Timeout|\+{3,} Timeout \+{3,}", line) for line in lines)
    return Failure(first[1], _short(detail), len(found) - 1, timed_out)


def _unittest(lines: list[str]) -> Failure | None:
    """`FAIL: test_x (module.Class.test_x)` then, after the traceback, the exception line.

    >>> _unittest(["FAIL: test_eq (test_a.T.test_eq)", "Traceback (most recent call last):",
    ...            '  File "t.py", line 6', "AssertionError: 1 != 2", ""])
    Failure(name='test_a.T.test_eq', detail='AssertionError: 1 != 2', more=0, timed_out=False)
    """
    heads = [(i, m) for i, m in _matches(lines, r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)")]
    if not heads:
        return None
    i, m = heads[0]
    name = m[2] if m[2].endswith(m[1]) else f"{m[2]}.{m[1]}"
    detail = ""
    for line in lines[i + 1:]:
        if line.startswith(("=====", "-----")) and detail:
            break
        if re.match(r"^\w[\w.]*(Error|Exception|Failure|Interrupt|Exit)\b", line):
            detail = line
    return Failure(name, _short(detail), len(heads) - 1)


def _minitest(lines: list[str]) -> Failure | None:
    """`  1) Failure:` (or `Error:`) then `Class#test_name [file:line]:` and the message.

    >>> _minitest(["  1) Failure:", "TestLiquid#test_render [test/render_test.rb:12]:",
    ...            'Expected: "a"', '  Actual: "b"'])
    Failure(name='TestLiquid#test_render', detail='Expected: "a" Actual: "b"', more=0, timed_out=False)
    """
    heads = [i for i, _ in _matches(lines, r"^\s*\d+\) (?:Failure|Error):\s*$")]
    if not heads:
        return None
    i = heads[0]
    m = re.match(r"^(\S+#\S+?)(?: \[(.+)\])?:\s*$", lines[i + 1].strip()) if i + 1 < len(lines) else None
    if not m:
        return None
    return Failure(m[1], _short(_joined(lines[i + 2:], 2)), len(heads) - 1)


def _rspec(lines: list[str]) -> Failure | None:
    """`rspec ./spec/x_spec.rb:4 # Description` under "Failed examples", with its Failure/Error.

    >>> _rspec(["  1) Calculator adds", "     Failure/Error: expect(add(2, 2)).to eq(5)", "",
    ...         "rspec ./spec/calc_spec.rb:4 # Calculator adds"])
    Failure(name='Calculator adds (./spec/calc_spec.rb:4)', detail='expect(add(2, 2)).to eq(5)', more=0, timed_out=False)
    """
    examples = [m for _, m in _matches(lines, r"^rspec (\S+:\d+) # (.+)$")]
    if not examples:
        return None
    detail = next((m[1] for _, m in _matches(lines, r"^\s*Failure/Error: (.+)$")), "")
    return Failure(f"{examples[0][2]} ({examples[0][1]})", _short(detail), len(examples) - 1)


def _go_test(lines: list[str]) -> Failure | None:
    """`--- FAIL: TestName (0.00s)` and the test's indented message (after it; with -v, before it).

    >>> _go_test(["--- FAIL: TestAdd (0.00s)", "    add_test.go:9: Add(2, 2) = 5; want 4", "FAIL"])
    Failure(name='TestAdd', detail='add_test.go:9: Add(2, 2) = 5; want 4', more=0, timed_out=False)
    """
    heads = [(i, m) for i, m in _matches(lines, r"^\s*--- FAIL: (\S+)")]
    if not heads:
        return None
    i, m = heads[0]
    after = lines[i + 1] if i + 1 < len(lines) else ""
    before = [line for line in _run_of(lines, i, m[1]) if line[:1].isspace() and line.strip()]
    if after[:1].isspace() and after.strip():
        detail = after.strip()
    elif before:
        detail = before[0].strip()
    else:  # a panic ends the test binary right after its `--- FAIL` line
        detail = re.sub(r" \[recovered\]$", "", after.strip()) if after.startswith("panic:") else ""
    return Failure(m[1], _short(detail), len(heads) - 1)


def _run_of(lines: list[str], fail_at: int, test: str) -> list[str]:
    """The lines `go test -v` printed for `test` between its `=== RUN` and its `--- FAIL`."""
    for start in range(fail_at - 1, -1, -1):
        if lines[start].strip() == f"=== RUN   {test}":
            return lines[start + 1:fail_at]
    return []


def _cargo_test(lines: list[str]) -> Failure | None:
    """`test path::name ... FAILED`, or the `failures:` list at the end, with the panic message.

    >>> _cargo_test(["test tests::it_fails ... FAILED", "---- tests::it_fails stdout ----",
    ...   "thread 'tests::it_fails' (1) panicked at src/lib.rs:6:29:", "assertion `left == right` failed"])
    Failure(name='tests::it_fails', detail='assertion `left == right` failed (src/lib.rs:6:29)', more=0, timed_out=False)
    """
    names = [m[1] for _, m in _matches(lines, r"^test (\S+) \.\.\. FAILED$")]
    if not names:
        names = [m[1] for _, m in _matches(lines, r"^---- (\S+) stdout ----$")]
    if not names:
        return None
    detail = ""
    for i, m in _matches(lines, rf"^thread '{re.escape(names[0])}'(?: \(\d+\))? panicked at (\S+?):?$"):
        detail = f"{lines[i + 1].strip()} ({m[1]})" if i + 1 < len(lines) else m[1]
        break
    return Failure(names[0], _short(detail), len(names) - 1)


def _jest(lines: list[str]) -> Failure | None:
    """Jest's `● suite › test` headings, with the first line of the message under it.

    >>> _jest(["FAIL src/sum.test.js", "  ● sum › adds 1 + 2 to equal 4", "",
    ...        "    expect(received).toBe(expected) // Object.is equality"])
    Failure(name='sum › adds 1 + 2 to equal 4', detail='expect(received).toBe(expected) // Object.is equality', more=0, timed_out=False)
    """
    heads = [(i, m) for i, m in _matches(lines, r"^\s*● (.+)$") if m[1].strip() != "Test suite failed to run"]
    if not heads:
        suite = next((m for i, m in _matches(lines, r"^\s*● Test suite failed to run")), None)
        if suite is None:
            return None
        file = next((m[1] for _, m in _matches(lines, r"^FAIL (\S+)$")), "a test file")
        return Failure(file, "test suite failed to run")
    i, m = heads[0]
    return Failure(m[1].strip(), _short(_message(lines[i + 1:i + 8])), len(heads) - 1)


def _vitest(lines: list[str]) -> Failure | None:
    """Vitest's ` FAIL  file > suite > test` under "Failed Tests", then the error line.

    >>> _vitest([" FAIL  src/sum.test.ts > sum > adds 1 + 2", "AssertionError: expected 3 to be 4"])
    Failure(name='src/sum.test.ts > sum > adds 1 + 2', detail='AssertionError: expected 3 to be 4', more=0, timed_out=False)
    """
    heads = [(i, m) for i, m in _matches(lines, r"^\s*FAIL\s+(\S+ > .+)$")]
    if not heads:
        return None
    i, m = heads[0]
    unique = list(dict.fromkeys(h[1] for _, h in heads))
    return Failure(m[1].strip(), _short(_message(lines[i + 1:i + 8])), len(unique) - 1)


def _node_test(lines: list[str]) -> Failure | None:
    """node:test: TAP's `not ok 2 - name` (+ its `error:`), or the spec reporter's `✖ name (1ms)`.

    >>> _node_test(["not ok 2 - renders the header", "  ---", "  error: |-",
    ...             "    Expected values to be strictly equal:"])
    Failure(name='renders the header', detail='Expected values to be strictly equal:', more=0, timed_out=False)
    """
    tap = [(i, m) for i, m in _matches(lines, r"^\s*not ok \d+ - (.+?)(?: # .*)?$")]
    if tap:
        i, m = tap[0]
        detail = ""
        for j in range(i + 1, min(i + 40, len(lines))):
            e = re.match(r"^\s*error: (.*)$", lines[j])
            if e:
                value = e[1].strip("'\" ")
                if value in ("|-", "|", ">-", ""):
                    value = _message(lines[j + 1:j + 6])
                detail = value
                break
            if re.match(r"^\s*(not )?ok \d+", lines[j]):
                break
        return Failure(m[1], _short(detail), len(tap) - 1)
    spec = [(i, m) for i, m in _matches(lines, r"^\s*✖ (.+?) \([\d.]+m?s\)$")]
    if spec:
        i, m = spec[0]
        unique = list(dict.fromkeys(s[1] for _, s in spec))
        return Failure(m[1], _short(_message(lines[i + 1:i + 8])), len(unique) - 1)
    return None


def _ctest(lines: list[str]) -> Failure | None:
    """ctest's list under "The following tests FAILED:" (`  2 - render (Failed)`).

    >>> _ctest(["The following tests FAILED:", "\\t  2 - render (Subprocess aborted)"])
    Failure(name='render', detail='Subprocess aborted', more=0, timed_out=False)
    """
    try:
        start = lines.index("The following tests FAILED:")
    except ValueError:
        return None
    failed = [m for m in (re.match(r"^\s*\d+ - (.+?) \((.+)\)$", x) for x in lines[start + 1:]) if m]
    if not failed:
        return None
    first = failed[0]
    detail = first[2]
    # with --output-on-failure the test's own message is above: an assert or an error line
    own = _c_assert(lines) or _plain_marker(lines)
    if own:
        detail = f"{own.name} ({detail})"
    return Failure(first[1], _short(detail), len(failed) - 1, first[2] == "Timeout")


def _c_assert(lines: list[str]) -> Failure | None:
    """A failed C `assert` (glibc's message).

    >>> _c_assert(["t: t.c:3: main: Assertion `1 + 1 == 3' failed."])
    Failure(name="t.c:3: main: Assertion `1 + 1 == 3' failed.", detail='', more=0, timed_out=False)
    """
    found = [m for _, m in _matches(lines, r"^(?:\S+: )?(\S+:\d+: .*Assertion .+ failed\.)$")]
    return Failure(_short(found[0][1]), more=len(found) - 1) if found else None


def _compiler(lines: list[str]) -> Failure | None:
    """A compiler's first error (gcc, clang, rustc's `-->` form aside): `file:line:col: error: ...`.

    >>> _compiler(["src/a.c: In function 'f':", "src/a.c:3:5: error: expected ';' before '}'"]).name
    "src/a.c:3:5: error: expected ';' before '}'"
    """
    found = [m for _, m in _matches(lines, r"^(\S+:\d+(?::\d+)?: (?:fatal )?error: .+)$")]
    return Failure(_short(found[0][1]), more=len(found) - 1) if found else None


def _plain_marker(lines: list[str]) -> Failure | None:
    """A line that says FAIL/FAILED/Error at its start: test scripts, make check, shell tests.

    >>> _plain_marker(["ok 1", "FAIL: test_render", "Error: expected 3"]).name
    'FAIL: test_render'
    """
    found = [x.strip() for x in lines
             if re.match(r"^\s*(?:FAIL(?:ED)?|ERROR|Error|error)\b\s*[:!-]?\s*\S", x)
             and not _NOISE.search(x)]
    return Failure(_short(found[0]), more=len(found) - 1) if found else None


_FINDERS: tuple[Callable[[list[str]], Failure | None], ...] = (
    _pytest, _unittest, _minitest, _rspec, _go_test, _cargo_test, _jest, _vitest, _node_test,
    _ctest, _c_assert, _compiler, _plain_marker,
)

# Lines that close a failed run without saying what failed: never the name of a failure.
_NOISE = re.compile(
    r"^(?:make(?:\[\d+\])?: \*\*\*|npm ERR!|error Command failed|Errors while running CTest"
    r"|error: test failed, to rerun|FAIL$|FAILED \(|exit status \d+|Aborted|Segmentation fault"
    r"|Traceback \(most recent call last\)|ERROR: Test failed\. See above for more details\.)"
    r"|^\s*(?:at |File \")"
)


def _last_meaningful(lines: list[str]) -> str:
    """The last line with words in it that is not a runner's generic closing remark.

    >>> _last_meaningful(["AssertionError: wrong answer", "make: *** [Makefile:2: test] Error 1", ""])
    'AssertionError: wrong answer'
    """
    for line in reversed(lines):
        text = line.strip()
        if re.search(r"\w", text) and not _NOISE.search(text):
            return text
    return ""


# --- helpers --------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _plain(line: str) -> str:
    return _ANSI.sub("", line).rstrip()


def _matches(lines: list[str], pattern: str) -> Iterator[tuple[int, re.Match[str]]]:
    regex = re.compile(pattern)
    for i, line in enumerate(lines):
        m = regex.match(line)
        if m:
            yield i, m


def _message(lines: list[str]) -> str:
    """The first non-blank line; with the next one too when it ends in a colon (a lead-in).

    >>> _message(["", "Expected values to be strictly equal:", "", "2 !== 3"])
    'Expected values to be strictly equal: 2 !== 3'
    """
    text = [line.strip() for line in lines if line.strip()]
    if not text:
        return ""
    return " ".join(text[:2]) if text[0].endswith(":") and len(text) > 1 else text[0]


def _joined(lines: list[str], count: int) -> str:
    """The first `count` non-blank lines, joined: a message that spans a few lines."""
    return " ".join([line.strip() for line in lines if line.strip()][:count])


def _short(text: str) -> str:
    text = " ".join(text.split()) if "\n" in text else text.strip()
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"
