"""The autonomous loop: a proposer makes candidates, the harness judges each, until a stop rule."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autoresearch.brief import build_brief
from autoresearch.errors import UsageError
from autoresearch.experiment import ExperimentResult, run_experiment
from autoresearch.infra.interrupts import StopRequest
from autoresearch.infra.state import read_json, session_lock
from autoresearch.infra.workspace import remember_untracked, restore, workspace_tree
from autoresearch.model import NO_CHANGE, StopReason
from autoresearch.progress import ProgressEvent
from autoresearch.proposers.base import PROPOSAL_PLACEHOLDER, Proposal, Proposer
from autoresearch.record import recover
from autoresearch.session import Session, open_session


@dataclass(frozen=True)
class Budget:
    """When to stop. None means no limit."""

    max_experiments: int | None = None
    max_hours: float | None = None
    max_usd: float | None = None
    patience: int | None = None  # experiments in a row without a keep
    max_failures: int = 5  # crashes or proposer failures in a row


@dataclass
class LoopState:
    """Counters the stop rules and the live view read."""

    started: float = field(default_factory=time.monotonic)
    experiments: int = 0
    keeps: int = 0
    since_keep: int = 0
    failures_in_a_row: int = 0
    spent_usd: float = 0.0
    tokens: int = 0
    results: list[ExperimentResult] = field(default_factory=list)
    stop: StopReason | None = None
    stop_reason: str | None = None  # the same, in words

    @property
    def hours(self) -> float:
        return (time.monotonic() - self.started) / 3600


class View(Protocol):
    """What the loop tells the person watching (see `autoresearch.faces.view`)."""

    def phase(self, event: ProgressEvent) -> None: ...
    def experiment(self, result: ExperimentResult, state: LoopState) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


def stop_reason(budget: Budget, state: LoopState) -> tuple[StopReason, str] | None:
    """The first budget or stop rule that says stop, and the same in words."""
    if budget.max_experiments is not None and state.experiments >= budget.max_experiments:
        return StopReason.MAX_EXPERIMENTS, f"reached --max-experiments {budget.max_experiments}"
    if budget.max_hours is not None and state.hours >= budget.max_hours:
        return StopReason.MAX_HOURS, f"reached --max-hours {budget.max_hours:g}"
    if budget.max_usd is not None and state.spent_usd >= budget.max_usd:
        return StopReason.MAX_USD, f"spent ${state.spent_usd:.2f} of --max-usd {budget.max_usd:g}"
    if budget.patience is not None and state.since_keep >= budget.patience:
        return (StopReason.PATIENCE,
                f"{state.since_keep} experiments without a keep (--patience {budget.patience})")
    if state.failures_in_a_row >= budget.max_failures:
        return StopReason.FAILURES, f"{state.failures_in_a_row} crashes or proposer failures in a row"
    return None


def ending(budget: Budget, state: LoopState, interrupted: bool) -> tuple[StopReason, str] | None:
    """Why the loop ends now: a budget or stop rule, else a Ctrl-C; None to go on."""
    if interrupted:
        return stop_reason(budget, state) or (StopReason.INTERRUPTED, "stopped by Ctrl-C")
    return stop_reason(budget, state)


def _stop(state: LoopState, reason: StopReason, words: str) -> LoopState:
    state.stop, state.stop_reason = reason, words
    return state


def run_loop(start: Path, proposer: Proposer, budget: Budget, view: View,
             executor: str | None = None) -> LoopState:
    """Propose, judge, record, repeat; resumes an interrupted experiment first.

    The session lock is held for the loop's whole life: a `run` by hand (or by the proposer)
    meanwhile is refused instead of measuring half of a proposal. `executor` is where each
    measurement runs (see `run_experiment`); `autoresearch.parallel.run_parallel_loop` is the
    same with several proposers at once.
    """
    session = open_session(start)
    with session_lock(session.paths, "loop"):
        return _loop(session, proposer, budget, view, executor)


def _loop(session: Session, proposer: Proposer, budget: Budget, view: View,
          executor: str | None) -> LoopState:
    state = LoopState()
    _resume(session, view, state, executor)
    with StopRequest(lambda: view.message(
            "stopping after the current experiment (Ctrl-C again to stop now)")) as stop:
        while True:
            end = ending(budget, state, stop.requested)
            if end:
                return _stop(state, *end)
            view.phase(ProgressEvent("proposing"))
            proposal = _propose(session, proposer)
            if proposal is None:
                return _stop(state, StopReason.NO_PROPOSALS, "no more proposals")
            state.spent_usd += proposal.cost_usd
            state.tokens += sum(proposal.tokens.values())
            if proposal.failed:
                state.failures_in_a_row += 1
                view.message(f"proposer failed: {proposal.failed}")
                restore(session.git, session.paths)  # undo whatever it half-did
                continue
            result = _judge(session, proposer, proposal, view, executor)
            _count(state, result)
            view.experiment(result, state)


def _resume(session: Session, view: View, state: LoopState, executor: str | None) -> None:
    """Measure a candidate an interrupted loop left behind; refuse other uncommitted work."""
    pending = read_json(session.paths.pending)
    for note in recover(session):
        view.message(note)
    scope = session.config.scope.include
    dirty = workspace_tree(session.git, session.paths, scope) != session.git.tree_of("HEAD")
    if pending is None and not session.git.dirty_tracked():
        # Untracked files present now (a patch folder, notes) are the user's, not a proposal's.
        remember_untracked(session.git, session.paths)
        return
    if not dirty:
        return
    if pending is None:
        raise UsageError("the working tree has uncommitted changes that no experiment made; "
                         "measure them with `autoresearch run -m ...`, or commit or stash them, "
                         "then start the loop")
    view.message(f"measuring the candidate of interrupted run {pending['run']} first")
    result = run_experiment(session.root, pending.get("description") or "resumed candidate",
                            progress=view.phase, owns_new_files=True, executor=executor)
    _count(state, result)
    view.experiment(result, state)


def _propose(session: Session, proposer: Proposer) -> Proposal | None:
    """Ask for one proposal; commits or branch switches the proposer made are undone."""
    git = session.git
    head = git.rev("HEAD")
    brief = build_brief(session, proposal_file=PROPOSAL_PLACEHOLDER)
    proposal = proposer.propose(session.root, brief)
    if git.branch() != session.config.session.branch:
        raise UsageError(f"the proposer switched branches; switch back with "
                         f"`git switch {session.config.session.branch}`")
    if git.rev("HEAD") != head:
        # An agent that commits on its own would make its change the incumbent unjudged.
        git.run("reset", "--quiet", "--soft", head)
    return proposal


def _judge(session: Session, proposer: Proposer, proposal: Proposal, view: View,
           executor: str | None) -> ExperimentResult:
    description = proposal.description or _describe_diff(session)
    # Every change since the proposal started is the proposer's, new files outside the scope
    # too; a proposal that changed nothing is recorded as such.
    return run_experiment(session.root, description, proposal.hypothesis, proposer=proposer.name,
                          progress=view.phase, reject=proposal.skip_measure, unchanged=NO_CHANGE,
                          extra=proposal_fields(proposal), owns_new_files=True, executor=executor)


def proposal_fields(proposal: Proposal) -> dict[str, Any]:
    """What the ledger keeps of a proposal besides its description: tokens, cost, transcript."""
    extra = {"tokens": proposal.tokens or None, "cost_usd": proposal.cost_usd or None,
             "transcript": str(proposal.transcript) if proposal.transcript else None}
    return {k: v for k, v in extra.items() if v is not None}


def _describe_diff(session: Session) -> str:
    git = session.git
    changed = [line[3:] for line in git.run("status", "--porcelain=v1").splitlines()]
    if not changed:
        return "no change"
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"edit {shown}"


def _count(state: LoopState, result: ExperimentResult) -> None:
    record = result.record
    state.experiments += 1
    state.results.append(result)
    if record.is_keep:
        state.keeps += 1
        state.since_keep = 0
    else:
        state.since_keep += 1
    if record.verdict.failed or record.reason == NO_CHANGE:
        state.failures_in_a_row += 1
    else:
        state.failures_in_a_row = 0
