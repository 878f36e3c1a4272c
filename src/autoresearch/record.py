"""Carry out a verdict in git and the ledger, in an order `kill -9` cannot corrupt; recover."""

from __future__ import annotations

import json

from autoresearch.infra.interrupts import deferred
from autoresearch.infra.runner import group_alive, kill_group, process_identity, same_group
from autoresearch.infra.state import read_json, write_json
from autoresearch.infra.workspace import (
    Snapshot,
    advance_branch,
    restore,
    unjudged_ref,
    workspace_tree,
)
from autoresearch.model import RunRecord
from autoresearch.session import Session


def carry_out(session: Session, record: RunRecord, snapshot: Snapshot) -> tuple[RunRecord, list[str]]:
    """Commit or restore, then append to the ledger, in an order a `kill -9` cannot corrupt.

    The decision is written to disk first; `recover` finishes it if the process dies after.
    Returns the record as kept in the ledger and anything a person should be told.
    """
    with deferred():
        return _record_now(session, record, snapshot)


def _record_now(session: Session, record: RunRecord, snapshot: Snapshot) -> tuple[RunRecord, list[str]]:
    git, paths = session.git, session.paths
    keep_commit = None
    if record.is_keep:
        keep_commit = git.commit_tree(snapshot.tree, snapshot.incumbent, commit_message(record))
        record = record.model_copy(update={"commit": keep_commit})
    scope = list(snapshot.untracked_scope)
    write_json(paths.decision(record.run),
               {"record": json.loads(record.model_dump_json()), "tree": snapshot.tree,
                "incumbent": snapshot.incumbent, "keep_commit": keep_commit,
                "untracked_scope": scope})
    notes = _apply(session, record, snapshot.tree, snapshot.incumbent, keep_commit, scope)
    return record, notes


def _apply(session: Session, record: RunRecord, tree: str, incumbent: str,
           keep_commit: str | None, scope: list[str]) -> list[str]:
    """Carry out a recorded decision; safe to repeat after an interruption.

    The branch ends at the verdict's commit: the kept one, or the incumbent. A branch that
    moved elsewhere (commits no experiment made, before this one or by the candidate's code
    during it) is never left there; its commit stays reachable under a ref.
    """
    git, paths = session.git, session.paths
    notes = []
    target = keep_commit or incumbent
    head = git.rev("HEAD")
    current = workspace_tree(git, paths, scope)
    # A candidate given as a commit was never in the working tree, which holds the incumbent.
    follow = keep_commit is not None and current != tree and current == git.tree_of(incumbent)
    if head != target:
        if head != incumbent:
            ref = unjudged_ref(session.config.session.name, record.run)
            git.run("update-ref", ref, head)
            notes.append(f"the branch was at {head[:10]}, which no experiment made; it now ends at "
                         f"{target[:10]} ({'kept' if keep_commit else 'the incumbent'}), and {ref} "
                         f"keeps {head[:10]}")
        advance_branch(git, session.config.session.branch, target, head)
    if follow:
        git.run("apply", "--whitespace=nowarn", input=git.diff(incumbent, target))
    elif keep_commit is None and current == tree:
        restore(git, paths, scope)
    elif keep_commit is None and current != git.tree_of(target):
        notes.append("the working tree changed during the experiment; it was left as it is")
    if record.run not in {r.run for r in session.ledger().runs}:
        session.append(record)
    clear_pending(session)
    return notes


def commit_message(record: RunRecord) -> str:
    """Description, optional hypothesis, and pi-autoresearch's `Result:` trailer."""
    result = {"status": "keep", "metric": record.metric, "run": record.run,
              "ratio": _round(record.ratio), "ci": [_round(x) for x in record.ci or ()],
              "rounds": record.rounds, "incumbent_metric": record.incumbent_metric}
    body = record.description.strip() or f"autoresearch run {record.run}"
    if record.hypothesis:
        body += f"\n\nHypothesis: {record.hypothesis.strip()}"
    return f"{body}\n\nResult: {json.dumps(result, ensure_ascii=False)}\n"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 5)


def note_group(session: Session, pgid: int) -> None:
    """Remember a running process group (and who leads it) so `recover` can stop it after a crash.

    Beside the pending run, not in it, and not fsynced: written for every benchmark run, an
    fsync would cost more than the rest of the harness, and a process group means nothing
    after a restart (its identity names the boot).
    """
    run = (read_json(session.paths.pending) or {}).get("run")
    write_json(session.paths.group, {"run": run, "pgid": pgid, "pgid_identity": process_identity(pgid)},
               durable=False)


def clear_pending(session: Session) -> None:
    session.paths.pending.unlink(missing_ok=True)
    session.paths.group.unlink(missing_ok=True)


def recover(session: Session) -> list[str]:
    """Finish or clean up after a run that was killed; say what state the workspace is in."""
    pending = read_json(session.paths.pending)
    if not pending:
        return []
    notes = []
    run = int(pending["run"])
    group = read_json(session.paths.group) or {}
    group = group if group.get("run") == run else pending  # older versions kept it in the pending file
    pgid, identity = group.get("pgid"), group.get("pgid_identity")
    if pgid and same_group(int(pgid), identity):
        kill_group(int(pgid))
        notes.append(f"stopped processes left running by interrupted run {run}")
    elif pgid and group_alive(int(pgid)):
        notes.append(f"process group {pgid} of interrupted run {run} was left alone: its number "
                     "now belongs to another process (or its start was not recorded)")
    decided = read_json(session.paths.decision(run))
    if decided is None:
        clear_pending(session)
        scope = pending.get("untracked_scope", session.config.scope.include)
        if workspace_tree(session.git, session.paths, scope) == pending.get("tree"):
            notes.append(f"run {run} was interrupted before its verdict; the candidate is still "
                         "in the working tree, unmeasured (`autoresearch run` measures it)")
        else:
            notes.append(f"run {run} was interrupted before its verdict; nothing was recorded")
        return notes
    record = RunRecord.model_validate(decided["record"])
    notes += _apply(session, record, decided["tree"], decided["incumbent"], decided["keep_commit"],
                    decided.get("untracked_scope", session.config.scope.include))
    state = "committed" if record.is_keep else "working tree restored"
    notes.append(f"run {run} was interrupted after its verdict ({record.verdict}); finished: {state}")
    return notes


def forget_undecided(session: Session) -> None:
    """After an error before the verdict, the working tree is untouched: nothing to recover."""
    pending = read_json(session.paths.pending)
    if pending and not session.paths.decision(int(pending["run"])).exists():
        clear_pending(session)
