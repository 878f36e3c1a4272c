"""A benchmark that crashes only under valgrind (a JIT, say) is explained, not a page of memory map."""

from __future__ import annotations

import shutil

import pytest
from conftest import Repo

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None,
                                reason="needs valgrind and a C compiler")

# Stands for an interpreter whose JIT segfaults under valgrind: with jit.txt saying 1, it kills
# itself with SIGSEGV when valgrind's preload library is in LD_PRELOAD; it runs fine otherwise.
BENCH_C = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    FILE *f = fopen("jit.txt", "r");
    int jit = f && fgetc(f) == '1';
    if (f) fclose(f);
    const char *preload = getenv("LD_PRELOAD");
    if (jit && preload && strstr(preload, "vgpreload")) {
        for (int i = 0; i < 200; i++)
            printf("7f0000%04x-7f0001%04x r-xp 00000000 08:01 123 /lib/x.so\n", i, i);
        fflush(stdout);
        raise(SIGSEGV);
    }
    volatile long s = 0;
    for (long i = 0; i < 100000; i++) s += i;
    return 0;
}
"""


def _project(repo: Repo, jit: str) -> None:
    repo.write("bench.c", BENCH_C)
    repo.write("jit.txt", jit + "\n")
    repo.write("autoresearch.sh", "#!/bin/sh\nexec ./bench\n", executable=True)
    repo.write(".gitignore", "bench\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "C benchmark")


def _init(repo: Repo, check: int | bool = True):
    return repo.cli("init", "--name", "jit", "--measure", "instructions", "--build", "cc -o bench bench.c",
                    "--scope", "jit.txt", "--scope", "bench.c", check=check)


def test_a_baseline_that_crashes_only_under_valgrind_is_a_usage_error(repo: Repo):
    _project(repo, jit="1")
    proc = _init(repo, check=2)
    assert "fails under valgrind (killed by SIGSEGV) but runs without it" in proc.stderr
    assert "turn the JIT off" in proc.stderr and "--measure cpu" in proc.stderr
    assert "7f0000" not in proc.stderr  # no memory map


def test_a_candidate_that_crashes_only_under_valgrind_is_a_crash_that_says_why(repo: Repo):
    _project(repo, jit="0")
    _init(repo)
    repo.write("jit.txt", "1\n")
    result = repo.cli_json("run", "-m", "turn the JIT on")
    assert result["verdict"] == "crash"
    assert result["reason"].startswith("the benchmark fails under valgrind (killed by SIGSEGV)")
    assert repo.read("jit.txt") == "0\n"


def test_a_benchmark_that_crashes_everywhere_is_an_ordinary_crash(repo: Repo):
    _project(repo, jit="0")
    _init(repo)
    repo.write("bench.c", BENCH_C.replace("volatile long s = 0;", "volatile long s = 0; raise(SIGSEGV);"))
    result = repo.cli_json("run", "-m", "segfaults")
    assert result["verdict"] == "crash" and result["reason"] == "benchmark exited with code 139"
