"""Near-misses combined: discarded candidates that each gained a little, judged together as one."""

from __future__ import annotations

from pathlib import Path

from autoresearch.errors import UsageError
from autoresearch.experiment import ExperimentResult, run_experiment
from autoresearch.finish import apply_patches, patch_of
from autoresearch.infra.workspace import workspace_tree
from autoresearch.model import RunRecord, Verdict
from autoresearch.progress import Progress
from autoresearch.session import open_session


def combine_runs(start: Path, runs: list[int], description: str | None = None,
                 progress: Progress = lambda _: None) -> ExperimentResult:
    """Stack the candidates of `runs` on the incumbent and judge them as one experiment.

    Each must be a measured discard whose estimate was a gain; together they must apply
    without conflict. The combined candidate goes through the whole experiment (guard, checks,
    measurement, decision) and its record names its parts, so `split` can attribute it later.
    """
    if len(runs) < 2:
        raise UsageError("combine needs at least two runs")
    session = open_session(start)
    git, paths = session.git, session.paths
    book = session.ledger()
    by_run = {r.run: r for r in book.runs}
    parts = []
    for number in runs:
        r = by_run.get(number)
        if r is None:
            raise UsageError(f"no run {number} in the ledger")
        if r.verdict is not Verdict.DISCARD or not r.commit or not r.incumbent_commit:
            raise UsageError(f"run {number} is a {r.verdict}, not a measured discard: only candidates "
                             "that were measured and fell short can be combined")
        if r.improvement is None or r.improvement <= 0:
            raise UsageError(f"run {number} measured no gain ({r.reason}): combining it adds nothing")
        parts.append(r)
    earlier = [r for r in parts if r.segment != book.segment]
    if earlier:
        # a gain measured under another segment's metric or measure says nothing about this one
        segments = sorted({r.segment for r in earlier})
        where = _numbered("segment", [str(n) for n in segments])
        raise UsageError(f"{_runs(earlier)} {'was' if len(earlier) == 1 else 'were'} measured in "
                         f"{where}, before the session moved to segment {book.segment}: combine "
                         "takes near-misses of the current segment only, whose gains were measured "
                         "as the session measures now. Submit such a change again with "
                         "`autoresearch run`")
    if workspace_tree(git, paths, session.config.scope.include) != git.tree_of("HEAD"):
        raise UsageError("the working tree holds an unmeasured change: run or discard it first")
    patches = [patch_of(git, r.incumbent_commit or "", r.commit or "") for r in parts]
    for i in range(1, len(patches) + 1):
        if apply_patches(git, "HEAD", patches[:i], paths.state / "combine.index") is None:
            if i == 1:
                raise UsageError(f"run {parts[0].run} no longer applies to the incumbent: a keep "
                                 "since changed the same lines")
            raise UsageError(f"run {parts[i - 1].run} does not apply together with "
                             f"{_runs(parts[:i - 1])}: they change the same lines")
    for patch in patches:
        if patch.strip():
            git.run("apply", "--whitespace=nowarn", input=patch)
    text = description or "combined: " + "; ".join(r.description for r in parts)
    return run_experiment(start, text, proposer="combine", progress=progress,
                          extra={"parts": [r.run for r in parts]})


def _runs(records: list[RunRecord]) -> str:
    return _numbered("run", [str(r.run) for r in records])


def _numbered(word: str, numbers: list[str]) -> str:
    """`run 2`, `runs 2 and 3`, `segments 0, 1 and 2`.

    >>> _numbered("run", ["2"]), _numbered("run", ["2", "3", "4"])
    ('run 2', 'runs 2, 3 and 4')
    """
    if len(numbers) == 1:
        return f"{word} {numbers[0]}"
    return f"{word}s {', '.join(numbers[:-1])} and {numbers[-1]}"
