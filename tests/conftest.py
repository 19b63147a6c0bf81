"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import GitRepo


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty git repository (branch main, no commits) in a temporary folder."""
    return GitRepo.init(tmp_path / "repo")
