"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import GitRepo


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty git repository (branch main, no commits) in a temporary folder."""
    return GitRepo.init(tmp_path / "repo")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="Rewrite fixtures/rules/*/*/expected.json from the tool's output (review the diff).",
    )


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites snapshots instead of comparing with them."""
    return bool(request.config.getoption("--update-snapshots"))
