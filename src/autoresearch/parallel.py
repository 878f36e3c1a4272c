"""`loop --parallel N`: N proposers at once in their own worktrees, one queue of candidates.

Each proposer slot works in a worktree of its own under `.autoresearch/worktrees/`, started at
the incumbent of the moment; its change becomes a candidate commit on that incumbent and goes
into one queue. On this machine the main thread takes candidates in order and runs each
experiment alone, so measurements never overlap while proposals do. With a Dask executor, as
many candidates as there are measuring workers are measured at once, each on a worker of its
own against the current incumbent, and judged in the order their measurements finish; a keep
makes the others' incumbent history, so they are measured again against the new one (a verdict
is always on rounds against the incumbent it commits onto). A candidate made on an older
incumbent is replayed onto the current one by a 3-way merge of trees (no checkout is touched);
one that does not merge is recorded as a `conflict`, and its proposer reads why in its next
brief. Each slot waits for its candidate's verdict before it proposes again.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autoresearch.brief import build_brief
from autoresearch.calibrate import calibrated_noise
from autoresearch.config import IDEAS_FILE, LEDGER_FILE, STATE_DIR
from autoresearch.errors import UsageError
from autoresearch.experiment import ChecksRun, ExperimentResult, run_experiment, slowest_incumbent
from autoresearch.ideas import add_idea, list_ideas
from autoresearch.infra.git import Git, GitError, as_message, printable
from autoresearch.infra.interrupts import StopRequest
from autoresearch.infra.runner import stop_group, watching
from autoresearch.infra.state import claim_run, next_run_number, now_ms, read_json, session_lock, write_json
from autoresearch.infra.workspace import candidate_ref, link_untracked
from autoresearch.loop import Budget, LoopState, View, _count, _resume, _stop, ending, proposal_fields
from autoresearch.measure.arms import build, checkout, run_checks
from autoresearch.measure.bench import Arm
from autoresearch.measure.executor import DaskExecutor, Executor, Flight, executor_for
from autoresearch.model import NO_CHANGE, RunRecord, StopReason, Verdict
from autoresearch.progress import ProgressEvent
from autoresearch.proposers.base import PROPOSAL_PLACEHOLDER, Proposal, Proposer
from autoresearch.session import Session, open_session

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.json"  # under the private state: candidates proposed and not yet judged
JOIN_S = 30.0  # how long closing waits for a proposer that cannot be killed (an HTTP call)
WORKERS_EVERY_S = 2.0  # how often the number of measuring workers is asked again


@dataclass
class Candidate:
    """A finished proposal: a commit on the incumbent its slot started from."""

    slot: int
    base: str
    commit: str | None  # None when the proposal failed
    description: str = ""
    hypothesis: str | None = None
    proposer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    reject: str | None = None  # a discard reason known without measuring
    failed: str | None = None  # the proposer itself failed: nothing to judge
    checked: ChecksRun | None = None  # its checks, run in its slot while another was measured
    judged: bool = False

    def saved(self) -> dict[str, Any]:
        return {"slot": self.slot, "base": self.base, "commit": self.commit,
                "description": self.description, "hypothesis": self.hypothesis,
                "proposer": self.proposer, "extra": self.extra, "reject": self.reject}


@dataclass(frozen=True)
class Conflict:
    """A candidate whose change does not merge onto the incumbent."""

    paths: tuple[str, ...]


def rebase(git: Git, commit: str, onto: str) -> str | Conflict:
    """`commit`'s change replayed onto `onto`: a 3-way merge of trees, from their merge base.

    `git merge-tree --write-tree` merges without a working tree or an index, so neither the
    session branch nor any checkout is touched. Returns the new commit on `onto`, or the paths
    that conflict.
    """
    proc = git.call("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", onto, commit)
    fields = [f for f in proc.stdout.split("\0") if f]
    if proc.returncode == 1:
        return Conflict(tuple(dict.fromkeys(fields[1:])))
    if proc.returncode != 0 or not fields:
        raise GitError(f"git merge-tree {onto[:10]} {commit[:10]} failed: {proc.stderr.strip()}")
    return git.commit_tree(fields[0], onto, git.run("log", "-1", "--format=%B", commit))


def run_parallel_loop(start: Path, proposer: Proposer, budget: Budget, view: View, slots: int,
                      executor: str | None = None, checks_ahead: bool = True) -> LoopState:
    """`loop.run_loop` with `slots` proposers at once; it holds the session lock throughout."""
    if slots < 1:
        raise UsageError(f"--parallel must be at least 1, not {slots}")
    session = open_session(start)
    with session_lock(session.paths, "loop"):
        return parallel_loop(session, proposer, budget, view, slots, executor, checks_ahead)


def parallel_loop(session: Session, proposer: Proposer, budget: Budget, view: View, slots: int,
                  executor: str | None = None, checks_ahead: bool = True) -> LoopState:
    """The loop with `slots` proposers at once (hold the session lock); `executor` measures.

    With `checks_ahead`, each slot runs its candidate's checks before queueing it, so only the
    measurement waits its turn.
    """
    state = LoopState()
    _resume(session, view, state, executor)
    pool = Pool(session, proposer, budget, state, slots,
                checks_ahead and bool(session.config.commands.checks))
    for entry in pool.resumed:
        view.message(f"judging the queued candidate of proposer {entry.slot} first: {entry.description}")

    def first_ctrl_c() -> None:
        pool.stop()
        view.message("stopping after the current experiment; proposers stopped "
                     "(Ctrl-C again to stop now)")

    measurer = executor_for(session, executor)
    with StopRequest(first_ctrl_c) as stop:
        try:
            pool.start()
            if isinstance(measurer, DaskExecutor):
                with measurer.opened():
                    return _measure_at_once(session, pool, budget, state, view, measurer, stop)
            waiting = False
            while True:
                end = ending(budget, state, stop.requested)
                if end:
                    return _stop(state, *end)
                candidate = pool.next()
                if candidate is None:
                    if pool.exhausted():
                        return _stop(state, StopReason.NO_PROPOSALS, "no more proposals")
                    if not waiting:
                        view.phase(ProgressEvent("proposing"))
                    waiting = True
                    continue
                waiting = False
                if candidate.failed is not None:
                    view.message(f"proposer {candidate.slot} failed: {candidate.failed}")
                    pool.done(candidate, None)
                    continue
                placed = _place(session, pool, candidate, session.git.rev("HEAD"))
                result = placed if isinstance(placed, ExperimentResult) else \
                    _run(session, candidate, placed, view, measurer)
                pool.done(candidate, result)
                view.experiment(result, state)
        finally:
            pool.close()


@dataclass
class Ahead:
    """A candidate being measured on a worker before its turn to be judged."""

    candidate: Candidate
    head: str  # the incumbent it is measured against
    commit: str  # the candidate, rebased onto `head` where it was made on another
    flight: Flight


def _measure_at_once(session: Session, pool: Pool, budget: Budget, state: LoopState, view: View,
                     dask: DaskExecutor, stop: StopRequest) -> LoopState:
    """The loop's main thread with a Dask cluster: up to one measurement per measuring worker.

    Each candidate is measured against the incumbent of the moment it starts; whichever
    finishes first is judged first, by the same experiment (under the session lock) the plain
    loop runs, which takes the finished rounds instead of measuring. A keep moves the incumbent
    under the measurements still under way: they are stopped, and their candidates rebased onto
    the new incumbent and measured again (or recorded as a conflict), their records naming the
    keeps that made them start over. So every verdict is on rounds against the incumbent it
    commits onto, as with one measurement at a time.
    """
    git = session.git
    waiting: collections.deque[Candidate] = collections.deque()
    ahead: list[Ahead] = []
    capacity, asked = 1, -WORKERS_EVERY_S
    proposing = False
    while True:
        end = ending(budget, state, stop.requested)
        if end and not ahead:  # measurements under way finish first, as the experiment in flight does
            return _stop(state, *end)
        if time.monotonic() - asked >= WORKERS_EVERY_S:  # workers come and go
            workers, asked = dask.capacity(), time.monotonic()
            capacity = capacity if workers is None else max(1, workers)
        candidate = pool.next(timeout=0.05 if ahead or waiting else 0.2)
        if candidate is not None:
            waiting.append(candidate)
        while waiting and not end:
            candidate = waiting[0]
            if candidate.failed is None and len(ahead) >= capacity and _needs_rounds(session, candidate):
                break
            waiting.popleft()
            if candidate.failed is not None:
                view.message(f"proposer {candidate.slot} failed: {candidate.failed}")
                pool.done(candidate, None)
                continue
            head = git.rev("HEAD")
            placed = _place(session, pool, candidate, head)
            if isinstance(placed, str) and _needs_rounds(session, candidate, placed):
                label = f"proposer {candidate.slot}: {candidate.description}"
                flight = dask.start((head, placed), session.config,
                                    session.config.policy(calibrated_noise(session)),
                                    slowest_incumbent(session.ledger()), label)
                ahead.append(Ahead(candidate, head, placed, flight))
                continue
            result = placed if isinstance(placed, ExperimentResult) else \
                _run(session, candidate, placed, view, dask)
            pool.done(candidate, result)
            view.experiment(result, state)
        for entry in ahead:
            entry.flight.relay(view.phase)
        finished = next((entry for entry in ahead if entry.flight.done()), None)
        if finished is None:
            if not ahead and not waiting and pool.exhausted():
                return _stop(state, StopReason.NO_PROPOSALS, "no more proposals")
            if not ahead and not waiting and not proposing:
                view.phase(ProgressEvent("proposing"))
            proposing = not ahead and not waiting
            continue
        proposing = False
        ahead.remove(finished)
        try:
            result = _run(session, finished.candidate, finished.commit, view, dask)
        finally:
            dask.drop(finished.flight)  # rounds no experiment took (its build or checks failed)
        pool.done(finished.candidate, result)
        view.experiment(result, state)
        if git.rev("HEAD") != finished.head:  # a keep: the other measurements' incumbent is history
            for entry in ahead:
                dask.drop(entry.flight)
                entry.candidate.extra.setdefault("remeasured", []).append(result.record.run)
                view.message(f"run {result.record.run} was kept while proposer {entry.candidate.slot}'s "
                             "candidate was measured: measuring it again against the new incumbent")
            waiting.extendleft(reversed([entry.candidate for entry in ahead]))
            ahead.clear()


def _needs_rounds(session: Session, candidate: Candidate, commit: str | None = None) -> bool:
    """Whether judging the candidate measures it: not one rejected, unchanged, or whose checks
    failed on exactly this tree (`commit`: the candidate as placed on the incumbent)."""
    if candidate.reject is not None:
        return False
    if commit is None:
        return True
    git = session.git
    tree = git.tree_of(commit)
    if tree == git.tree_of("HEAD"):
        return False
    checked = candidate.checked
    return not (checked is not None and checked.tree == tree and checked.failure is not None)


def _place(session: Session, pool: Pool, candidate: Candidate, head: str) -> str | ExperimentResult:
    """The candidate's commit on the incumbent `head` (rebased if it was made on another), or
    the recorded conflict when it does not merge."""
    assert candidate.commit is not None
    if candidate.base == head:
        return candidate.commit
    merged = rebase(session.git, candidate.commit, head)
    if isinstance(merged, Conflict):
        pool.tell(candidate.slot, _conflict_note(candidate, merged))
        return _record_conflict(session, candidate, head, merged)
    return merged


def _run(session: Session, candidate: Candidate, commit: str, view: View,
         executor: str | Executor | None) -> ExperimentResult:
    """The candidate's experiment, `commit` being it placed on the incumbent."""
    git = session.git
    reject = candidate.reject
    if reject is None and git.tree_of(commit) == git.tree_of("HEAD"):
        reject = NO_CHANGE  # nothing, or only what the incumbent has gained meanwhile
    return run_experiment(session.root, candidate.description, candidate.hypothesis,
                          proposer=candidate.proposer, progress=view.phase, reject=reject,
                          extra={**candidate.extra, "slot": candidate.slot,
                                 "proposal": candidate.commit},
                          candidate_commit=commit, executor=executor, checked=candidate.checked)


def _record_conflict(session: Session, candidate: Candidate, head: str,
                     conflict: Conflict) -> ExperimentResult:
    """A ledger line for a candidate that does not merge: a run number, nothing measured."""
    assert candidate.commit is not None
    book = session.ledger()
    run = claim_run(session.paths, next_run_number(session.paths, book.next_run()))
    ref = candidate_ref(session.config.session.name, run)
    session.git.run("update-ref", ref, candidate.commit)  # the proposal stays recoverable
    record = RunRecord(
        run=run, segment=book.segment, commit=candidate.commit, description=candidate.description,
        hypothesis=candidate.hypothesis, proposer=candidate.proposer, incumbent_commit=head,
        status=Verdict.CONFLICT.status, verdict=Verdict.CONFLICT, candidate_ref=ref,
        reason=f"conflict with the incumbent in {_listed(conflict.paths)}", timestamp=now_ms(),
        slot=candidate.slot, proposal=candidate.commit, **candidate.extra,
    )
    session.append(record)
    return ExperimentResult(record)


def _conflict_note(candidate: Candidate, conflict: Conflict) -> str:
    return (f"Your previous candidate ({candidate.description!r}) was made on an older version of "
            f"the code and conflicts with changes kept meanwhile in {_listed(conflict.paths)}; it "
            "was not measured. The files in front of you hold the current version: start from them.")


def _listed(paths: tuple[str, ...]) -> str:
    shown = ", ".join(printable(p) for p in paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


class Pool:
    """The proposer slots: their threads and worktrees, and the queue of candidates they fill.

    One re-entrant lock guards the counts the slots and the main thread share (the first
    Ctrl-C's handler takes it on the main thread, perhaps inside a section holding it).
    """

    def __init__(self, session: Session, proposer: Proposer, budget: Budget, state: LoopState,
                 slots: int, checks_ahead: bool = False):
        self.session, self.proposer, self.budget, self.state = session, proposer, budget, state
        self.checks_ahead = checks_ahead
        self.slots = range(1, slots + 1)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = False
        self.queue: queue.Queue[Candidate | int] = queue.Queue()  # an int: that slot has no more
        self.in_flight = 0  # proposals started (or queued) and not yet judged
        self.active = slots  # slots that may still propose
        self.groups: dict[int, int] = {}  # slot → the process group of its running agent
        self.notes: dict[int, list[str]] = {k: [] for k in self.slots}
        self.working: dict[int, str] = {}  # slot → its candidate waiting for a verdict
        self.threads: list[threading.Thread] = []
        self.failure: BaseException | None = None
        # Proposers that keep state per proposal (a patch folder's queue) take turns.
        self.turns = None if getattr(proposer, "parallel_safe", False) else threading.Lock()
        self.saved_path = session.paths.private / QUEUE_FILE
        self.resumed = self._load_saved()

    # --- the main thread's side ------------------------------------------------------

    def start(self) -> None:
        head = self.session.git.rev("HEAD")
        for k in self.slots:  # made one after another: `git worktree add` is not for concurrency
            self._reset(k, head)
            if self.checks_ahead:
                self.session.git.worktree_at(self._checkout(k), head)
        for k in self.slots:
            thread = threading.Thread(target=self._slot, args=(k,), name=f"proposer-{k}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def next(self, timeout: float = 0.2) -> Candidate | None:
        """The next candidate to judge, or None after `timeout` without one."""
        if self.failure is not None:
            raise self.failure
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, int):
            with self.lock:
                self.active -= 1
            return None
        return item

    def exhausted(self) -> bool:
        """No slot will propose again and nothing waits to be judged."""
        with self.lock:
            return self.active == 0 and self.queue.empty()

    def done(self, candidate: Candidate, result: ExperimentResult | None) -> None:
        """Count a verdict (or a failed proposal) and let its slot propose again."""
        with self.changed:
            if result is None:
                self.state.failures_in_a_row += 1
            else:
                _count(self.state, result)
            self.in_flight -= 1
            candidate.judged = True
            self.working.pop(candidate.slot, None)
            if candidate.commit is not None:
                self._forget(candidate)
            self.changed.notify_all()

    def tell(self, slot: int, note: str) -> None:
        with self.lock:
            self.notes.setdefault(slot, []).append(note)

    def stop(self) -> None:
        """No new proposals; the agents at work are stopped (their launchers kill them)."""
        with self.changed:
            self.stopping = True
            for launcher in self.groups.values():
                stop_group(launcher)
            self.changed.notify_all()

    def close(self) -> None:
        """Stop every slot, wait for its thread and remove its worktree."""
        self.stop()
        for thread in self.threads:
            thread.join(JOIN_S)
        git = self.session.git
        for thread, k in zip(self.threads, self.slots, strict=False):
            for path in (self._worktree(k), self._checkout(k)):
                if not thread.is_alive() and path.exists():
                    git.run("worktree", "remove", "--force", str(path), check=False)
            self._checkout(k).with_suffix(".built").unlink(missing_ok=True)  # its build's marker
        git.run("worktree", "prune", check=False)

    # --- the slots' side ---------------------------------------------------------------

    def _slot(self, k: int) -> None:
        try:
            while True:
                with self.changed:
                    while not self.stopping and not self._may_start():
                        self.changed.wait()
                    if self.stopping:
                        return
                    self.in_flight += 1
                candidate = self._propose(k)
                if candidate is None:
                    with self.lock:
                        self.in_flight -= 1
                    self.queue.put(k)
                    return
                with self.changed:
                    if self.stopping:
                        return
                    if candidate.commit is not None:
                        self._save(candidate)
                        self.working[k] = candidate.description
                    self.queue.put(candidate)
                    while not self.stopping and not candidate.judged:
                        self.changed.wait()
        except BaseException as exc:  # an error the main thread must raise, not a silent slot
            log.exception("proposer %d failed", k)
            self.failure = exc

    def _may_start(self) -> bool:
        limit = self.budget.max_experiments
        return limit is None or self.state.experiments + self.in_flight < limit

    def _propose(self, k: int) -> Candidate | None:
        """One proposal in slot `k`'s worktree, at the current incumbent, as a candidate commit."""
        session, wt = self.session, self._worktree(k)
        base = session.git.rev("HEAD")
        self._reset(k, base)
        brief = build_brief(session, proposal_file=PROPOSAL_PLACEHOLDER)
        brief = replace(brief, text=brief.text + self._slot_brief(k))

        def started(launcher: int) -> None:
            with self.lock:
                self.groups[k] = launcher
                if self.stopping:
                    stop_group(launcher)

        with watching(started):
            with self.turns or contextlib.nullcontext():
                proposal = self.proposer.propose(wt, brief)
                name = self.proposer.name
            with self.lock:
                self.groups.pop(k, None)
            self._gather_ideas(wt)
            if proposal is not None:
                self._keep_transcripts(k, wt, proposal)
            if proposal is None:
                return None
            if proposal.failed:
                return Candidate(k, base, None, proposer=name, failed=proposal.failed)
            work = Git(wt)
            exclude = {LEDGER_FILE, IDEAS_FILE, *(p.rstrip("/") for p in session.config.scope.link)}
            tree = work.snapshot_tree(session.paths.private / f"snapshot-proposer-{k}.index", exclude)
            description = as_message(proposal.description or _describe(work, base, tree))
            commit = work.commit_tree(tree, base, f"autoresearch proposal (proposer {k}): {description}")
            checked = (self._check(k, commit, tree)
                       if self.checks_ahead and tree != work.tree_of(base) else None)
        with self.lock:
            self.groups.pop(k, None)
        return Candidate(k, base, commit, description,
                         as_message(proposal.hypothesis) if proposal.hypothesis else None, name,
                         proposal_fields(proposal), reject=proposal.skip_measure, checked=checked)

    def _keep_transcripts(self, k: int, wt: Path, proposal: Proposal) -> None:
        """The proposal's files (prompt, transcript, report) move out of the worktree, which
        goes when the loop ends, to `.autoresearch/proposals/proposer-K/`."""
        source = wt / STATE_DIR / "proposals"
        target = self.session.paths.state / "proposals" / f"proposer-{k}"
        target.mkdir(parents=True, exist_ok=True)
        for path in source.glob("*"):
            os.replace(path, target / path.name)
        if proposal.transcript is not None and proposal.transcript.parent == source:
            proposal.transcript = target / proposal.transcript.name

    def _gather_ideas(self, wt: Path) -> None:
        """Ideas the proposer added to its worktree's backlog join the session's."""
        known = set(list_ideas(self.session.root))
        for idea in list_ideas(wt):
            if idea not in known:
                add_idea(self.session.root, idea)
                known.add(idea)

    def _check(self, k: int, commit: str, tree: str) -> ChecksRun | None:
        """The candidate's checks in slot `k`'s clean checkout (built first where the session
        builds); None when the build fails there: the experiment then builds and records it."""
        # A candidate's checkout like the experiment's, in a place of its own (and its own build)
        arm = Arm("candidate", self._checkout(k), tuple(self.session.config.scope.link))
        logs = self.session.paths.state / "proposers" / f"proposer-{k}"
        started = time.monotonic()
        checkout(self.session, arm, commit)
        if build(self.session, arm, logs) is not None:
            return None
        failure = run_checks(self.session, arm, logs / "checks")
        return ChecksRun(tree, failure, time.monotonic() - started)

    def _slot_brief(self, k: int) -> str:
        """What only this slot is told: its conflicts, and what the others have queued."""
        with self.lock:
            notes, self.notes[k] = self.notes.get(k, []), []
            others = [d for slot, d in self.working.items() if slot != k]
        text = ""
        if notes:
            text += "\n\n## Your previous candidate\n" + "\n".join(f"- {n}" for n in notes)
        if others:
            text += ("\n\n## Other proposers' candidates, not judged yet (try something else)\n"
                     + "\n".join(f"- {d}" for d in others))
        return text

    def _reset(self, k: int, commit: str) -> None:
        """Slot `k`'s worktree holding exactly `commit`, with the linked data and nothing else
        untracked (what the last proposal created is gone; git-ignored files such as the
        agent's transcripts under `.autoresearch/` stay)."""
        links = list(self.session.config.scope.link)
        wt = self._worktree(k)
        self.session.git.worktree_at(wt, commit, keep=links)
        Git(wt).run("clean", "-fdq", *[arg for p in links for arg in ("-e", p)])
        link_untracked(wt, self.session.root, links)
        backlog = self.session.root / IDEAS_FILE
        if backlog.is_file():  # the agent reads (and may add to) the session's backlog
            shutil.copyfile(backlog, wt / IDEAS_FILE)

    def _worktree(self, k: int) -> Path:
        return self.session.paths.state / "worktrees" / f"proposer-{k}"

    def _checkout(self, k: int) -> Path:
        """Where slot `k`'s candidates are checked: their exact tree and nothing else."""
        return self.session.paths.state / "worktrees" / f"checks-{k}"

    # --- candidates that outlive the loop: judged first by the next one ----------------

    def _load_saved(self) -> list[Candidate]:
        """Candidates an interrupted loop left in the queue, minus those the ledger has."""
        entries = (read_json(self.saved_path) or {}).get("candidates", [])
        recorded = {r.proposal for r in self.session.ledger().runs if r.proposal}
        resumed = []
        for entry in entries:
            if entry["commit"] in recorded or not self.session.git.ok("cat-file", "-e", entry["commit"]):
                continue
            candidate = Candidate(**entry)
            resumed.append(candidate)
            self.queue.put(candidate)
        self.in_flight = len(resumed)
        write_json(self.saved_path, {"candidates": [c.saved() for c in resumed]})
        return resumed

    def _save(self, candidate: Candidate) -> None:
        assert candidate.commit is not None
        self.session.git.run("update-ref", self._ref(candidate.commit), candidate.commit)
        entries = (read_json(self.saved_path) or {}).get("candidates", [])
        write_json(self.saved_path, {"candidates": [*entries, candidate.saved()]})

    def _forget(self, candidate: Candidate) -> None:
        assert candidate.commit is not None
        entries = (read_json(self.saved_path) or {}).get("candidates", [])
        write_json(self.saved_path,
                   {"candidates": [e for e in entries if e["commit"] != candidate.commit]})
        self.session.git.run("update-ref", "-d", self._ref(candidate.commit), check=False)

    def _ref(self, commit: str) -> str:
        return f"refs/autoresearch/{self.session.config.session.name}/queued/{commit}"


def _describe(work: Git, base: str, tree: str) -> str:
    changed = work.changed_paths(base, tree)
    if not changed:
        return NO_CHANGE
    shown = ", ".join(printable(p) for p in changed[:3])
    return f"edit {shown}" + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
