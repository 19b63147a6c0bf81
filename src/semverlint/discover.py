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
    path: str  # POSIX folder relative to the repository root, "." for the root
    kind: Literal["dbt", "sql"]


def parent(path: str) -> str:
    return posixpath.dirname(path) or "."


def is_skipped(path: str) -> bool:
    return any(part in SKIPPED_DIRS for part in path.split("/")[:-1])


def discover(paths: tuple[str, ...]) -> tuple[ProjectRef, ...]:
    """Every project in the tree, sorted by path; a dbt project wins over a bare config."""
    dbt_dirs = {
        parent(p) for p in paths if posixpath.basename(p) == DBT_MARKER and not is_skipped(p)
    }
    config_dirs = {
        parent(p) for p in paths if posixpath.basename(p) == CONFIG_MARKER and not is_skipped(p)
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
    return tuple(
        p for p in paths if p.startswith(prefix) and not p.startswith(inner) and not is_skipped(p)
    )


def relative(project: str, path: str) -> str:
    return path if project == "." else path[len(project) + 1 :]
