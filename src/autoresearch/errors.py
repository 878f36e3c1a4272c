"""Errors the user can act on, each with the exit code the CLI gives it."""


class AutoresearchError(Exception):
    """A failure explained in words the user can act on."""

    exit_code = 1


class UsageError(AutoresearchError):
    """Wrong invocation or a repository state that forbids the command (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """`autoresearch.toml` is missing or invalid."""


class LockedError(UsageError):
    """Another autoresearch command holds the session lock."""
