"""A realistic dbt project end to end through the CLI: macros, incremental models, stars, unions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clirun import semverlint
from gitrepo import GitRepo

JAFFLE = Path(__file__).parent.parent / "fixtures" / "projects" / "jaffle"


def _load(repo: GitRepo, side: str) -> None:
    for child in repo.path.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    # shutil.copy, not copy2: kept mtimes and equal sizes (2.3.0 -> 3.0.0) would let git's
    # stat cache take the changed dbt_project.yml for unchanged.
    shutil.copytree(JAFFLE / side, repo.path, dirs_exist_ok=True, copy_function=shutil.copy)


@pytest.fixture
def jaffle(git_repo: GitRepo) -> GitRepo:
    _load(git_repo, "before")
    git_repo.commit("jaffle 2.3.0")
    _load(git_repo, "after")
    git_repo.commit("jaffle 3.0.0")
    return git_repo


def test_every_change_is_found_and_classified(jaffle: GitRepo) -> None:
    result = semverlint("check", "HEAD~1..HEAD", "--repo", jaffle.path, "--format", "json")
    assert result.code == 0, result.stdout
    project = result.json["projects"][0]
    found = {(c["rule"], c["model"], c["column"], c["bump"]) for c in project["changes"]}
    assert found == {
        ("grain-changed", "order_payments", None, "major"),
        ("column-removed", "order_payments", "customer_id", "major"),
        ("column-removed", "orders", "status", "major"),
        ("model-logic-changed", "orders", None, "patch"),
        ("column-removed", "stg_orders", "status", "patch"),
        ("sql-reformatted", "stg_payments", None, "none"),
    }
    propagated = next(
        c for c in project["changes"] if c["model"] == "orders" and c["column"] == "status"
    )
    assert propagated["via"] == ["stg_orders"]
    logic = next(c for c in project["changes"] if c["rule"] == "model-logic-changed")
    assert "incremental where" in logic["message"]
    verdict = (project["required_bump"], project["suggested_version"], project["ok"])
    assert verdict == ("major", "3.0.0", True)
    # The project's own macros rendered (one of them appends to a list) and nothing failed.
    assert not [d for d in project["diagnostics"] if d["level"] == "error"]


@pytest.mark.parametrize("rng", ["HEAD~1..HEAD~1", "HEAD..HEAD"])
def test_identity_reports_nothing(jaffle: GitRepo, rng: str) -> None:
    report = semverlint("diff", rng, "--repo", jaffle.path, "--format", "json").json
    assert report["projects"][0]["changes"] == []


def test_the_dialect_comes_from_the_committed_profile(jaffle: GitRepo) -> None:
    # duckdb parses `amount_cents >= 0`; the same project also reads under an explicit dialect.
    jaffle.write("semverlint.yml", "dialect: postgres\n")
    report = semverlint("diff", "HEAD~1", "--repo", jaffle.path, "--format", "json").json
    rules = {(c["rule"], c["model"]) for c in report["projects"][0]["changes"]}
    assert ("grain-changed", "order_payments") in rules
