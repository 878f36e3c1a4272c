"""Proposers make candidates: they edit the working tree and say what they did and why."""

from autoresearch.proposers.base import Brief, Proposal, Proposer

__all__ = ["Brief", "Proposal", "Proposer"]
