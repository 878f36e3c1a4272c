"""Errors the user can act on, each with the exit code the CLI gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal


class AutoresearchError(Exception):
    """A failure explained in words the user can act on."""

    exit_code = 1


class UsageError(AutoresearchError):
    """Wrong invocation or a repository state that forbids the command (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """`autoresearch.toml` is missing or invalid."""


class BaselineError(UsageError):
    """The unchanged tree fails its build, checks or benchmark: the user's project or scripts
    need fixing before anything can be measured against it."""


class LockedError(UsageError):
    """Another autoresearch command holds the session lock."""


class MetricError(AutoresearchError):
    """The benchmark's output does not yield a usable primary metric."""


class ArmFailure(AutoresearchError):
    """A benchmark run in one arm that produced no usable number: why, and where to look."""

    def __init__(self, arm: Literal["incumbent", "candidate"], kind: Literal["timeout", "failed"],
                 message: str, tail: str, log: Path):
        super().__init__(message)
        self.arm, self.kind, self.message, self.tail, self.log = arm, kind, message, tail, log


class MeasurementStopped(AutoresearchError):
    """The harness gave up waiting for a measurement on a worker (Ctrl-C): stop between runs."""


class EditError(AutoresearchError):
    """A model's answer that cannot be applied as it stands; the message is shown to the model."""
