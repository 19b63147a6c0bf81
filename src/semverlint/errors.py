"""Typed exceptions for a run that cannot be done; the CLI alone turns them into exit code 2."""

from __future__ import annotations


class SemverlintError(Exception):
    """A run that cannot be done. The message says what is wrong and how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SemverlintError):
    """Bad input to the run: a flag, a range or an argument."""


class RevisionError(SemverlintError):
    """A revision that does not exist, or one git cannot be asked about safely."""


class ShallowCloneError(RevisionError):
    """The base revision is missing because the clone is shallow."""


class RepositoryError(SemverlintError):
    """The path is not a git repository or git cannot read it."""


class ConfigError(SemverlintError):
    """A configuration file that cannot be read or does not match its schema."""
