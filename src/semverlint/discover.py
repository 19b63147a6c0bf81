"""Finds the projects in a snapshot: dbt projects and semverlint.yml projects, by marker file."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Literal

DBT_MARKER = "dbt_project.yml"
CONFIG_MARKER = "semverlint.yml"
# Installed packages and build output are other people's projects or copies of ours.
SKIPPED_DIRS = frozenset(
    {
        "dbt_packages",
        "dbt_modules",
        "target",
        "logs",
        "node_modules",
        ".venv",
        "venv",
        "site-packages",
        ".git",
    }
)


@dataclass(frozen=True)
class ProjectRef:
    """A project found in a listing: its folder and kind."""

    path: str  # POSIX folder relative to the repository root, "." for the root
    kind: Literal["dbt", "sql"]


def parent(path: str) -> str:
    return posixpath.dirname(path) or "."


def is_skipped(path: str) -> bool:
    return _skipped_folder(path.rpartition("/")[0])


def _skipped_folder(folder: str) -> bool:
    """True when some part of the folder is a skipped one ("" is the root, never skipped)."""
    return not SKIPPED_DIRS.isdisjoint(folder.split("/"))


def discover(paths: tuple[str, ...]) -> tuple[ProjectRef, ...]:
    """Every project in the tree, sorted by path; a dbt project wins over a bare config."""
    # endswith() in C passes over thousands of paths; only the few it keeps are looked at.
    candidates = [p for p in paths if p.endswith((DBT_MARKER, CONFIG_MARKER))]
    dbt_dirs = {
        parent(p) for p in candidates if posixpath.basename(p) == DBT_MARKER and not is_skipped(p)
    }
    config_dirs = {
        parent(p)
        for p in candidates
        if posixpath.basename(p) == CONFIG_MARKER and not is_skipped(p)
    }
    refs = [ProjectRef(d, "dbt") for d in dbt_dirs]
    refs += [ProjectRef(d, "sql") for d in config_dirs - dbt_dirs]
    return tuple(sorted(refs, key=lambda r: r.path))


def files_of(project: str, paths: tuple[str, ...], nested: frozenset[str]) -> tuple[str, ...]:
    """The files below a project folder, minus those of projects nested inside it."""
    prefix = "" if project == "." else project + "/"
    inner = tuple(
        n + "/" for n in nested if n != project and (project == "." or n.startswith(prefix))
    )
    below = [p for p in paths if p.startswith(prefix) and not p.startswith(inner)]
    # Thousands of files share a few hundred folders: each folder is judged once.
    skipped = {f for f in {p.rpartition("/")[0] for p in below} if _skipped_folder(f)}
    if not skipped:
        return tuple(below)
    return tuple(p for p in below if p.rpartition("/")[0] not in skipped)


def relative(project: str, path: str) -> str:
    return path if project == "." else path[len(project) + 1 :]
