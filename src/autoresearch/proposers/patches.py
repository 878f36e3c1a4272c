"""A folder of patch files as proposals: each `*.patch`/`*.diff` is one candidate, in name order."""

from __future__ import annotations

import re
from pathlib import Path

from autoresearch.infra.git import Git
from autoresearch.proposers.base import Brief, Proposal

SUFFIXES = (".patch", ".diff")


class PatchFolder:
    """Applies the next untried patch with a three-way merge onto the current incumbent.

    >>> proposer = PatchFolder(Path("candidates"), tried=set())  # doctest: +SKIP
    >>> proposer.propose(Path("."), brief).description  # doctest: +SKIP
    'Compile the tokenizer regex once'
    """

    def __init__(self, folder: Path, tried: set[str]):
        if not folder.is_dir():
            from autoresearch.errors import UsageError

            raise UsageError(f"{folder} is not a folder of patches")
        self.folder = folder
        self.queue = [p for p in sorted(folder.iterdir())
                      if p.suffix in SUFFIXES and self.label(p) not in tried]
        self.name = "patches"

    @staticmethod
    def label(path: Path) -> str:
        """The proposer name recorded in the ledger, so a resumed loop skips tried patches."""
        return f"patch:{path.name}"

    def remaining(self) -> int:
        return len(self.queue)

    def propose(self, workspace: Path, brief: Brief) -> Proposal | None:
        if not self.queue:
            return None
        patch = self.queue.pop(0)
        self.name = self.label(patch)
        description, hypothesis = describe(patch)
        proc = Git(workspace).call("apply", "--3way", "--whitespace=nowarn", str(patch.resolve()))
        proposal = Proposal(description=description, hypothesis=hypothesis)
        if proc.returncode != 0:
            detail = next((line for line in proc.stderr.splitlines()
                           if line.startswith(("error:", "U ")) or "conflict" in line.lower()),
                          proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "")
            proposal.skip_measure = f"patch does not apply: {detail}".strip()
        return proposal


def describe(patch: Path) -> tuple[str, str | None]:
    """Description and hypothesis from a `git format-patch` header, else from the file name."""
    text = patch.read_text(encoding="utf-8", errors="replace")
    head = text.split("\ndiff --git", 1)[0]
    subject = re.search(r"^Subject: (?:\[PATCH[^\]]*\] )?(.+(?:\n [^\n]+)*)", head, re.MULTILINE)
    if subject:
        description = " ".join(subject[1].split())
        body = head[subject.end():].split("\n---\n", 1)[0].strip()
        hypothesis = None
        match = re.search(r"^Hypothesis: (.+)$", body, re.MULTILINE)
        if match:
            hypothesis = match[1].strip()
        elif body:
            hypothesis = " ".join(body.split())[:300]
        return description, hypothesis
    stem = re.sub(r"^\d+[-_ ]*", "", patch.stem).replace("-", " ").replace("_", " ")
    return stem or patch.stem, None
