"""The proposer protocol: given a workspace and a brief, edit files and describe the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Stands in a brief for the path of the file a proposer may write its description to; each
# proposer replaces it with a path it can write (or drops the line).
PROPOSAL_PLACEHOLDER = "{proposal_file}"

@dataclass(frozen=True)
class Brief:
    """What a proposer is told before each proposal.

    `text` is the whole brief rendered for a model (bounded in size); the other fields are the
    same facts in structured form for proposers that need them.
    """

    text: str
    metric: str
    direction: str
    scope: list[str]
    protected: list[str]
    run: int  # the number the next experiment will get


@dataclass
class Proposal:
    """What a proposer reports after editing the workspace."""

    description: str
    hypothesis: str | None = None
    tokens: dict[str, int] = field(default_factory=dict)  # e.g. {"input": 1200, "output": 300}
    cost_usd: float = 0.0
    failed: str | None = None  # why no candidate could be made (the proposer itself failed)
    skip_measure: str | None = None  # a discard reason known without measuring (e.g. patch conflict)
    transcript: Path | None = None


class Proposer(Protocol):
    """Anything that can edit a workspace toward the objective."""

    name: str

    def propose(self, workspace: Path, brief: Brief) -> Proposal | None:
        """Edit `workspace` and describe the change; None when there is nothing left to propose."""
        ...
