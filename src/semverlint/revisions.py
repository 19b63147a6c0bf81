"""Parse and validate the RANGE argument and --staged into a RevisionRange, before git sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from semverlint.errors import UsageError


@dataclass(frozen=True)
class RevisionInfo:
    """Which state a snapshot shows: the label the user knows it by, and its commit if any."""

    rev: str
    commit: str | None


HeadKind = Literal["commit", "worktree", "index"]

ACCEPTED_FORMS = (
    "accepted: A..B (A to B), A...B (merge base of A and B to B), A (A to the working tree), "
    "nothing (HEAD to the working tree), or --staged alone (HEAD to the index); "
    "A and B are branches, tags or commits, optionally with ~N, ^N or @{...}, "
    "e.g. main..HEAD, origin/main...HEAD, v1.2.0, HEAD~2"
)

# One revision: a ref name or object id, an optional reflog/upstream selector
# (`main@{1}`, `@{u}`), then ancestry and peel suffixes (`~2`, `^`, `^2`, `^{commit}`).
# Deliberately narrower than git's own grammar: no `:path` blobs, no `:/text` or `^{/text}`
# searches, no `^!`/`^@` multi-revision forms, so a validated revision names at most one
# object and can never be mistaken for an option or a pathspec.
_NAME_CHAR = r"[^\s~^:?*\[\\{}@\x00-\x1f\x7f]"
_REVISION = re.compile(
    rf"""
    (?P<name>(?:{_NAME_CHAR}|@(?!\{{))*)
    (?P<selector>@\{{[\w.,+/-]+\}})?
    (?P<suffixes>(?:~[0-9]*|\^[0-9]*|\^\{{(?:commit|tag|tree|blob|object|)\}})*)
    """,
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True)
class RevisionRange:
    """The two states to compare, as revision text that has been validated but not resolved."""

    base: str
    head: str | None
    head_kind: HeadKind
    merge_base: bool
    text: str


def parse_range(text: str | None, *, staged: bool = False) -> RevisionRange:
    """Turn what the user typed (RANGE and --staged) into a RevisionRange, or raise UsageError."""
    typed = text or ""
    if staged:
        if typed:
            raise UsageError(
                f"--staged compares HEAD with the index and cannot be combined with a range "
                f"('{typed}')",
                hint="drop the range to review staged changes, or drop --staged to review a range",
            )
        return RevisionRange("HEAD", None, "index", merge_base=False, text="")
    if not typed:
        return RevisionRange("HEAD", None, "worktree", merge_base=False, text="")
    separator = "..." if "..." in typed else ".." if ".." in typed else None
    if separator is None:
        return RevisionRange(validate_revision(typed), None, "worktree", False, typed)
    base_text, _, head_text = typed.partition(separator)
    if not base_text and not head_text:
        raise UsageError(f"range '{typed}' names no revision", hint=ACCEPTED_FORMS)
    # git's rule: an empty side of a range means HEAD (`main..` is `main..HEAD`).
    base = validate_revision(base_text, typed) if base_text else "HEAD"
    head = validate_revision(head_text, typed) if head_text else "HEAD"
    return RevisionRange(base, head, "commit", merge_base=separator == "...", text=typed)


def validate_revision(revision: str, typed: str | None = None) -> str:
    """Return `revision` unchanged if it is safe to pass to git as one revision, else raise."""
    problem = revision_problem(revision)
    if problem is None:
        return revision
    where = f" in '{typed}'" if typed is not None and typed != revision else ""
    raise UsageError(f"bad revision '{revision}'{where}: {problem}", hint=ACCEPTED_FORMS)


def revision_problem(revision: str) -> str | None:
    """Say what is wrong with one revision's text, or None if it is acceptable."""
    if not revision:
        return "it is empty"
    if revision.startswith("-"):
        # A leading dash would make git read the revision as an option.
        return "a revision cannot start with '-'"
    if any(char.isspace() or not char.isprintable() for char in revision):
        return "it contains whitespace or control characters"
    if ".." in revision:
        return "a range has only one '..' or '...'"
    if ":" in revision:
        return "'REV:path' names a file, not a commit; give the commit alone"
    match = _REVISION.fullmatch(revision)
    if match is None:
        return "it is not a branch, tag or commit (with optional ~N, ^N or @{...})"
    name = match["name"]
    if not name and not match["selector"]:
        return "it names no branch, tag or commit"
    return _ref_name_problem(name) if name else None


def _ref_name_problem(name: str) -> str | None:
    """Apply the git-check-ref-format rules the regular expression cannot express."""
    if name == "@":
        return None  # git's shorthand for HEAD
    components = name.split("/")
    if any(not component for component in components):
        return "a ref name has no empty '/'-separated parts"
    if any(component.startswith(".") for component in components):
        return "no part of a ref name starts with '.'"
    if any(component.endswith(".lock") for component in components):
        return "no part of a ref name ends with '.lock'"
    if name.endswith("."):
        return "a ref name cannot end with '.'"
    return None
