"""--strict: a changed model that cannot be analysed fails the check; without it, it is
classified from its YAML and the check passes when the version says so."""

from __future__ import annotations

import pytest

from clirun import semverlint
from gitrepo import GitRepo

PROJECT = (
    "name: shop\nversion: {version}\nconfig-version: 2\nmodels:\n  shop:\n    +access: public\n"
)
YML = "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n"


@pytest.fixture(params=["unparsable_sql", "failed_render", "unknown_sql_dialect_syntax"])
def unanalysable(request: pytest.FixtureRequest, git_repo: GitRepo) -> GitRepo:
    git_repo.write("dbt_project.yml", PROJECT.format(version="1.0.0"))
    git_repo.write("models/orders.sql", "select 1 as id\n")
    git_repo.write("models/orders.yml", YML)
    git_repo.write("models/other.sql", "select 1 as x\n")  # analysable, unchanged
    git_repo.commit("base")
    sql = {
        "unparsable_sql": "select 1 as id from where group\n",
        "failed_render": "select {{ ''.__class__.__mro__ }} as id\n",
        "unknown_sql_dialect_syntax": "select 1 as id )))\n",
    }[request.param]
    git_repo.write("models/orders.sql", sql)
    # sql-changed-unparsed needs a patch release: declare it, so only --strict can fail.
    git_repo.write("dbt_project.yml", PROJECT.format(version="1.0.1"))
    git_repo.commit("a model the tool cannot read")
    return git_repo


def test_check_passes_without_strict(unanalysable: GitRepo) -> None:
    result = semverlint("check", "HEAD~1..HEAD", "--format", "json", "--repo", unanalysable.path)
    assert result.code == 0, result.stdout
    project = result.json["projects"][0]
    assert project["ok"] is True
    assert [c["rule"] for c in project["changes"]] == ["sql-changed-unparsed"]
    assert any(
        d["level"] == "error" and d["path"] == "models/orders.sql" for d in project["diagnostics"]
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_strict_fails_the_check(unanalysable: GitRepo, fmt: str) -> None:
    result = semverlint(
        "check", "HEAD~1..HEAD", "--strict", "--format", fmt, "--repo", unanalysable.path
    )
    assert result.code == 1, result.stdout
    reason = "--strict: 1 model(s) could not be analysed: orders"
    if fmt == "json":
        assert result.json["projects"][0]["reasons"] == [reason]
    else:
        assert reason in result.stdout


def test_strict_from_the_configuration(unanalysable: GitRepo) -> None:
    unanalysable.write("semverlint.yml", "strict: true\n")
    result = semverlint("check", "HEAD~1", "--repo", unanalysable.path)
    assert result.code == 1, result.stdout
    assert "--strict: 1 model(s) could not be analysed: orders" in result.stdout


def test_diff_stays_advisory_with_strict(unanalysable: GitRepo) -> None:
    result = semverlint("diff", "HEAD~1..HEAD", "--strict", "--repo", unanalysable.path)
    assert result.code == 0
    assert "--strict: 1 model(s) could not be analysed: orders" in result.stdout


def test_strict_passes_when_every_model_is_analysed(git_repo: GitRepo) -> None:
    git_repo.write("dbt_project.yml", PROJECT.format(version="1.0.0"))
    git_repo.write("models/orders.sql", "select 1 as id\n")
    git_repo.write("models/orders.yml", YML)
    git_repo.commit("base")
    git_repo.write("models/orders.sql", "select 1 as id, 2 as extra\n")
    git_repo.write("dbt_project.yml", PROJECT.format(version="1.1.0"))
    git_repo.commit("a column added, minor release")
    result = semverlint("check", "HEAD~1..HEAD", "--strict", "--repo", git_repo.path)
    assert result.code == 0, result.stdout
