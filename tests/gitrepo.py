"""Build real git repositories in temporary folders for tests, deterministically."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Fixed identities and dates, and no user or system config (a signing key, a hook path or
# init.defaultBranch on the developer's machine must not change what the tests see).
_BASE_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}
_EPOCH = 1_700_000_000


class GitRepo:
    """A git repository on disk, driven through the `git` command line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._commits = 0

    @classmethod
    def init(cls, path: Path, *, bare: bool = False) -> GitRepo:
        """`git init -b main` a new repository at `path` (created if missing)."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.run("init", "-q", "-b", "main", *(["--bare"] if bare else []), ".")
        return repo

    def run(self, *args: str) -> str:
        """Run `git ARGS` in the repository and return stdout without the last newline."""
        return git(self.path, *args, env=self._env())

    def clone(self, dest: Path, *options: str) -> GitRepo:
        """Clone this repository to `dest` (options such as "--bare" or "--depth", "1")."""
        source = f"file://{self.path}" if "--depth" in options else str(self.path)
        git(dest.parent, "clone", "-q", *options, source, str(dest), env=self._env())
        return GitRepo(dest)

    def write(self, path: str, text: str) -> Path:
        """Write `text` to `path` (relative to the root), creating folders."""
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str, *, add_all: bool = True) -> str:
        """Commit (everything, unless add_all=False) and return the new commit's id."""
        if add_all:
            self.run("add", "-A")
        self.run("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        return self.sha()

    def sha(self, revision: str = "HEAD") -> str:
        return self.run("rev-parse", "--verify", f"{revision}^{{commit}}")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.run("branch", name, start)

    def checkout(self, name: str) -> None:
        self.run("checkout", "-q", name)

    def tag(self, name: str, target: str = "HEAD", *, message: str | None = None) -> None:
        """A lightweight tag, or an annotated one when `message` is given."""
        self.run("tag", *(["-a", "-m", message] if message else []), name, target)

    def _env(self) -> dict[str, str]:
        # Each commit gets the next second: deterministic, yet two commits of the same tree
        # on different branches still get different ids.
        self._commits += 1
        date = f"@{_EPOCH + self._commits} +0000"
        return {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `cwd` with the test environment; fail loudly with git's stderr."""
    full_env = {**os.environ, **_BASE_ENV, **(env or {})}
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.removesuffix("\n")
