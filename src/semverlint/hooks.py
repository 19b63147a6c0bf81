"""The range a pre-push hook checks, from the refs pre-commit hands over in its environment."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping

from semverlint.errors import UsageError
from semverlint.revisions import revision_problem

# pre-commit sets these for the pre-push stage: the remote's commit (absent or all zeros
# for a new branch) and the local commit being pushed.
FROM_REF = "PRE_COMMIT_FROM_REF"
TO_REF = "PRE_COMMIT_TO_REF"
REMOTE_NAME = "PRE_COMMIT_REMOTE_NAME"
# Set even when pushing a history with its root commit, where pre-commit leaves out the refs.
LOCAL_BRANCH = "PRE_COMMIT_LOCAL_BRANCH"
_ZERO = re.compile(r"^0+$")


def _given(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value or _ZERO.match(value):
        return None
    if (problem := revision_problem(value)) is not None:
        raise UsageError(
            f"{name}={value!r} is not a revision: {problem}", hint="run the hook through pre-commit"
        )
    return value


def default_branches(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Where a new branch forks from, best guess first: the remote's HEAD, main, master."""
    remote = environ.get(REMOTE_NAME, "").strip() or "origin"
    names = [f"{remote}/HEAD", "origin/HEAD", "main", "master"]
    if revision_problem(names[0]) is not None:
        names.pop(0)
    return tuple(dict.fromkeys(names))


def pre_push_range(environ: Mapping[str, str], exists: Callable[[str], bool]) -> str | None:
    """The RANGE to check, or None when nothing is pushed (a branch deletion)."""
    if environ.get(TO_REF, "").strip() and _given(environ, TO_REF) is None:
        return None  # all zeros: the push deletes the remote branch
    to_ref = _given(environ, TO_REF) or _given(environ, LOCAL_BRANCH) or "HEAD"
    from_ref = _given(environ, FROM_REF)
    if from_ref is not None and exists(from_ref):
        return f"{from_ref}..{to_ref}"
    # A new branch: what it adds since it left the default branch.
    for branch in default_branches(environ):
        if exists(branch):
            return f"{branch}...{to_ref}"
    raise UsageError(
        "this push has no base to compare with: the remote branch is new and there is no "
        "origin/HEAD, main or master",
        hint="`git remote set-head origin --auto` records the remote's default branch; "
        "or run `semverlint check BASE...HEAD` by hand",
    )


def git_exists(repo: str) -> Callable[[str], bool]:
    """Whether a revision names a commit in `repo`; the check never writes (no optional locks)."""

    def exists(revision: str) -> bool:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
        result = subprocess.run(
            [
                "git",
                "-C",
                repo,
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                f"{revision}^{{commit}}",
            ],
            capture_output=True,
            env=env,
            check=False,
        )
        return result.returncode == 0

    return exists


def range_for_push(
    repo: str, environ: Mapping[str, str], given: str | None, staged: bool
) -> str | None:
    """`check --pre-push`: the pushed range; a RANGE or --staged beside it is a contradiction."""
    if given or staged:
        raise UsageError(
            "--pre-push takes the range from pre-commit's environment; drop the RANGE / --staged",
            hint="run `semverlint check --pre-push` alone (as the semverlint-pre-push hook does)",
        )
    return pre_push_range(environ, git_exists(repo))
