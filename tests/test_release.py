"""Release commands: `bump` (and --write, which edits only the version scalar) and `changelog`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clirun import semverlint
from dbtshop import PROJECT, change, drop_amount, sample_project, sample_report, write_shop
from gitrepo import GitRepo
from semverlint.changelog import render_changelog
from semverlint.classify import Ignored
from semverlint.versionfile import (
    VersionFileError,
    current_version,
    plan,
    replace_version,
    write_atomic,
)

# -- replacing the version scalar ----------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("version: 1.4.0\n", "version: 2.0.0\n"),
        ("version: '1.4.0'\n", "version: '2.0.0'\n"),
        ('version: "1.4.0"\n', 'version: "2.0.0"\n'),
        ("version:   1.4.0   # the release\n", "version:   2.0.0   # the release\n"),
        ("version: \"1.4.0\" # keep 'this'\n", "version: \"2.0.0\" # keep 'this'\n"),
        ("version: 1.0\n", "version: 2.0.0\n"),
        ("version: v1.4.0\n", "version: v2.0.0\n"),
        ("version : 1.4.0", "version : 2.0.0"),  # no final newline stays so
    ],
)
def test_replace_version_keeps_quotes_spacing_and_comments(before: str, after: str) -> None:
    assert replace_version(before.encode(), "2.0.0") == after.encode()


def test_replace_version_touches_only_the_top_level_version_line() -> None:
    text = (
        "name: shop\n"
        "# version: 0.0.1 is what we started with\n"
        "version: '1.4.0'  # bump me\n"
        "models:\n"
        "  shop:\n"
        "    version: 3\n"
        "vars:\n"
        "  version: '1.4.0'\n"
    )
    result = replace_version(text.encode(), "2.0.0", line=3).decode()
    assert result == text.replace("version: '1.4.0'  # bump me", "version: '2.0.0'  # bump me")


def test_replace_version_keeps_crlf_bom_and_other_bytes() -> None:
    raw = b"\xef\xbb\xbfname: shop\r\nversion: '1.4.0'\r\nnote: caf\xe9\r\n"
    assert replace_version(raw, "1.5.0", line=2) == (
        b"\xef\xbb\xbfname: shop\r\nversion: '1.5.0'\r\nnote: caf\xe9\r\n"
    )
    # A BOM before the key on line 1 is still the key.
    assert replace_version(b"\xef\xbb\xbfversion: 1.4.0\n", "1.4.1", line=1) == (
        b"\xef\xbb\xbfversion: 1.4.1\n"
    )
    assert replace_version(b"name: x\rversion: 1.0.0\r", "1.0.1") == b"name: x\rversion: 1.0.1\r"


def test_replace_version_finds_the_line_when_the_reported_one_is_stale() -> None:
    text = b"name: shop\n\n\nversion: 1.4.0\n"
    assert replace_version(text, "2.0.0", line=2) == b"name: shop\n\n\nversion: 2.0.0\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: shop\n", "no top-level `version:`"),
        ("version: 1.0.0\nversion: 1.1.0\n", "2 top-level `version:` lines"),
        ("version:\n  1.4.0\n", "not a version semverlint can edit"),
        ("version: &v 1.4.0\n", "not a version semverlint can edit"),
        ("{name: shop, version: 1.4.0}\n", "no top-level `version:`"),
    ],
)
def test_replace_version_refuses_what_it_cannot_edit_in_place(text: str, problem: str) -> None:
    with pytest.raises(VersionFileError, match=problem):
        replace_version(text.encode(), "2.0.0")


def test_current_version_reads_the_scalar() -> None:
    assert current_version(b"name: x\nversion: '1.2.3' # c\n") == "1.2.3"
    assert current_version(b"name: x\n") is None


def test_write_atomic_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "dbt_project.yml"
    target.write_bytes(b"version: 1.0.0\n")
    target.chmod(0o640)
    write_atomic(target, b"version: 2.0.0\n")
    assert target.read_bytes() == b"version: 2.0.0\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["dbt_project.yml"]


# -- the plan ------------------------------------------------------------------------------


def test_plan_writes_only_when_the_head_declares_less_than_suggested() -> None:
    needs = plan(sample_project())
    assert (needs.release, needs.write) == ("2.0.0", True)
    done = plan(sample_project(declared_head="2.0.0"))
    assert (done.release, done.write) == ("2.0.0", False)
    assert "already declares 2.0.0" in done.note
    ahead = plan(sample_project(declared_head="3.1.0"))
    assert (ahead.release, ahead.write) == ("3.1.0", False)
    candidate = plan(sample_project(declared_head="2.0.0-rc.1"))
    assert (candidate.release, candidate.write) == ("2.0.0", True)
    unversioned = plan(
        sample_project(declared_base=None, declared_head=None, suggested_version=None)
    )
    assert (unversioned.release, unversioned.write) == (None, False)


# -- changelog -----------------------------------------------------------------------------


def test_changelog_groups_by_bump_and_lists_accepted_changes() -> None:
    text = render_changelog(sample_report())
    assert text.startswith("# Changelog\n")
    assert "## shop 2.0.0" in text
    breaking = text.index("### Breaking changes")
    features = text.index("### Features")
    fixes = text.index("### Fixes")
    accepted = text.index("### Accepted")
    assert breaking < features < fixes < accepted
    assert "- `orders.amount`: Column orders.amount was removed" in text[breaking:features]
    assert "- `orders.is_large`: Column orders.is\\_large was added." in text[features:fixes]
    assert "`orders.total`" in text[fixes:accepted]
    assert "description" not in text  # a none bump is not news
    assert "`orders.legacy_flag`" in text[accepted:]
    assert "consumers moved to v2 (TICKET-123)" in text[accepted:]
    assert text.count("legacy_flag") == 1


def test_changelog_leaves_out_projects_without_news() -> None:
    quiet = sample_project(
        name="quiet",
        path="quiet",
        changes=(change("description-changed", "none", None, "The description changed."),),
    )
    accepted_only = sample_project(
        name="accepted",
        path="accepted",
        changes=(
            change("column-removed", "major", "x", "Removed.", ignored=Ignored("agreed", None)),
        ),
    )
    text = render_changelog(sample_report(quiet, accepted_only))
    assert "## quiet" not in text
    assert "## accepted" in text
    assert "### Breaking changes" not in text
    nothing = render_changelog(sample_report(quiet))
    assert "No changes to the published interface." in nothing


# -- through the CLI -----------------------------------------------------------------------


@pytest.fixture
def broken(git_repo: GitRepo) -> GitRepo:
    write_shop(git_repo)
    git_repo.commit("shop 1.4.0")
    git_repo.tag("v1.4.0")
    drop_amount(git_repo)
    git_repo.commit("drop orders.amount")
    return git_repo


def test_bump_prints_the_suggested_version(broken: GitRepo) -> None:
    result = semverlint("bump", "v1.4.0..HEAD", "--repo", broken.path)
    assert result.code == 0, result.stderr
    assert result.stdout == "2.0.0\n"
    assert "required bump major" in result.stderr
    unchanged = semverlint("bump", "HEAD..HEAD", "--repo", broken.path)
    assert unchanged.stdout == "1.4.0\n"
    assert "already declares 1.4.0" in unchanged.stderr


def test_bump_write_changes_only_the_version_scalar(broken: GitRepo) -> None:
    project = broken.path / "dbt_project.yml"
    text = PROJECT.format(version="'1.4.0'  # consumers pin this").replace("\n", "\r\n")
    project.write_bytes(text.encode())
    broken.commit("quote the version, CRLF")
    project.chmod(0o600)
    result = semverlint("bump", "v1.4.0..HEAD", "--write", "--repo", broken.path)
    assert result.code == 0, result.stderr
    assert result.stdout == "2.0.0\n"
    assert "wrote version 2.0.0 to dbt_project.yml" in result.stderr
    assert project.read_bytes() == text.replace("'1.4.0'", "'2.0.0'").encode()
    assert stat.S_IMODE(project.stat().st_mode) == 0o600
    assert broken.run("status", "--porcelain") == " M dbt_project.yml"
    # Run again: the working tree already carries the version, so nothing is written.
    again = semverlint("bump", "v1.4.0..HEAD", "--write", "--repo", broken.path)
    assert again.code == 0, again.stderr
    assert "already says 2.0.0" in again.stderr
    assert project.read_bytes() == text.replace("'1.4.0'", "'2.0.0'").encode()


def test_bump_write_against_the_working_tree_then_check_passes(broken: GitRepo) -> None:
    result = semverlint("bump", "v1.4.0", "--write", "--repo", broken.path)
    assert result.code == 0, result.stderr
    assert "version: 2.0.0\n" in (broken.path / "dbt_project.yml").read_text()
    assert "# the version consumers pin\n" in (broken.path / "dbt_project.yml").read_text()
    broken.commit("release 2.0.0")
    assert semverlint("check", "v1.4.0..HEAD", "--repo", broken.path).code == 0


def test_bump_does_not_write_when_the_head_already_declares_enough(broken: GitRepo) -> None:
    broken.write("dbt_project.yml", PROJECT.format(version="3.0.0"))
    broken.commit("release 3.0.0")
    before = (broken.path / "dbt_project.yml").read_bytes()
    result = semverlint("bump", "v1.4.0..HEAD", "--write", "--repo", broken.path)
    assert result.code == 0, result.stderr
    assert result.stdout == "3.0.0\n"
    assert "already declares 3.0.0" in result.stderr
    assert (broken.path / "dbt_project.yml").read_bytes() == before


def test_bump_write_in_a_bare_repository_explains_and_exits_2(
    broken: GitRepo, tmp_path: Path
) -> None:
    bare = broken.clone(tmp_path / "bare.git", "--bare")
    assert semverlint("bump", "v1.4.0..HEAD", "--repo", bare.path).stdout == "2.0.0\n"
    result = semverlint("bump", "v1.4.0..HEAD", "--write", "--repo", bare.path)
    assert result.code == 2
    assert "bare repository" in result.stderr
    assert result.stdout == ""


def test_bump_in_a_monorepo_prints_one_line_per_project(git_repo: GitRepo) -> None:
    write_shop(git_repo, prefix="finance/")
    write_shop(git_repo, prefix="sales/", version="0.3.0")
    git_repo.commit("two projects")
    drop_amount(git_repo, prefix="finance/")
    drop_amount(git_repo, prefix="sales/")
    git_repo.commit("drop amount in both")
    result = semverlint("bump", "HEAD~1..HEAD", "--repo", git_repo.path)
    assert result.code == 0, result.stderr
    # Below 1.0.0 a breaking change needs a minor bump.
    assert result.stdout == "finance 2.0.0\nsales 0.4.0\n"
    written = semverlint("bump", "HEAD~1..HEAD", "--write", "--repo", git_repo.path)
    assert written.code == 0, written.stderr
    assert "version: 0.4.0\n" in (git_repo.path / "sales/dbt_project.yml").read_text()
    assert "version: 2.0.0\n" in (git_repo.path / "finance/dbt_project.yml").read_text()


def test_bump_write_updates_a_plain_sql_projects_semverlint_yml(git_repo: GitRepo) -> None:
    git_repo.write("semverlint.yml", 'name: warehouse\nversion: "0.2.0"  # SQL project\n')
    git_repo.write("orders.sql", "create table orders (id int not null, amount numeric);\n")
    git_repo.commit("warehouse 0.2.0")
    git_repo.write("orders.sql", "create table orders (id int not null);\n")
    git_repo.commit("drop amount")
    result = semverlint("bump", "HEAD~1..HEAD", "--write", "--repo", git_repo.path)
    assert result.code == 0, result.stderr
    assert result.stdout == "0.3.0\n"
    config = (git_repo.path / "semverlint.yml").read_text()
    assert config == 'name: warehouse\nversion: "0.3.0"  # SQL project\n'


def test_changelog_command(broken: GitRepo) -> None:
    broken.write(
        "semverlint.yml",
        "ignore:\n"
        "  - rule: column-removed\n"
        "    model: orders\n"
        "    column: amount\n"
        "    reason: consumers moved to v2 (TICKET-123)\n",
    )
    broken.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status, 2 as qty\n")
    broken.commit("accept the removal, add qty")
    result = semverlint("changelog", "v1.4.0..HEAD", "--repo", broken.path)
    assert result.code == 0, result.stderr
    text = result.stdout
    assert text.startswith("# Changelog\n\nChanges from `v1.4.0 (")
    assert "## shop 1.5.0" in text
    assert "### Features\n\n- `orders.qty`: Column orders.qty was added. (`column-added`)" in text
    assert "### Breaking changes" not in text
    assert "### Accepted" in text
    assert "consumers moved to v2 (TICKET-123)" in text


def test_changelog_needs_a_range(broken: GitRepo) -> None:
    result = semverlint("changelog", "--repo", broken.path)
    assert result.code == 2
    assert "RANGE" in result.stderr
