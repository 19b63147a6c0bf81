"""The start-up path stays lean: what a run that changes no model loads, and the fast paths that
replaced slower ones give exactly the answers of the code they replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clirun import imports_of
from dbtshop import change, drop_amount, sample_project, sample_report, write_shop
from gitrepo import GitRepo
from semverlint.classify import Ignored, Impact
from semverlint.discover import SKIPPED_DIRS, discover, files_of, is_skipped
from semverlint.interface import Diagnostic
from semverlint.report import Report
from semverlint.reporters import text
from semverlint.revisions import RevisionInfo
from semverlint.snapshot import (
    index_files,
    parse_index,
    parse_ls_files_stage,
    parse_ls_tree,
    parse_ls_tree_links,
)

# -- what a README-only run imports ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_readme_only_run_to_a_pipe_imports_no_rich(git_repo: GitRepo, fmt: str) -> None:
    write_shop(git_repo)
    git_repo.commit("base")
    git_repo.write("README.md", "docs only\n")
    git_repo.run("add", "README.md")
    run = imports_of(
        ["check", "--staged", "--repo", str(git_repo.path), "-f", fmt],
        ("rich", "sqlglot", "jsonschema"),
    )
    assert run.imported == []
    assert "shop" in run.stdout


# -- the plain text report is what rich would print ------------------------------------------


def _rich(report: Report, color: bool) -> str:
    return text._render_rich(tuple(text.lines(report)), color)


def test_plain_text_is_what_rich_prints_without_colour() -> None:
    reports = [
        sample_report(),
        sample_report(sample_project(ok=True, reasons=())),
        sample_report(sample_project(changes=(), diagnostics=())),
        Report(RevisionInfo("HEAD", None), RevisionInfo("index", None), ()),
    ]
    for report in reports:
        assert text.render(report, False) == _rich(report, False)
        assert "\x1b[" in text.render(report, True)


# Repository text of every kind: tabs and control characters make rich differ from the plain
# join (they are then left to rich), wide and invisible characters must not.
_TEXT = st.text(max_size=8) | st.sampled_from(
    ["", " ", "a\tb", "x\r", "\x1b[31m", "\x07", "\x0b", "漢字", "a\nb", "\u2028", "\udcff", " t  "]
)


@settings(max_examples=200, deadline=None)
@given(
    name=_TEXT,
    path=_TEXT,
    model=_TEXT,
    access=_TEXT,
    message=_TEXT,
    reason=_TEXT,
    via=st.lists(_TEXT, max_size=2),
    rule=_TEXT,
    ok=st.booleans(),
    line=st.none() | st.integers(0, 3),
    ignored=st.none() | _TEXT,
)
def test_text_report_is_the_same_with_or_without_rich(
    name: str,
    path: str,
    model: str,
    access: str,
    message: str,
    reason: str,
    via: list[str],
    rule: str,
    ok: bool,
    line: int | None,
    ignored: str | None,
) -> None:
    one = change(
        rule,
        "major",
        None,
        message,
        model=model,
        access=access,
        via=tuple(via),
        note=reason or None,
        path=path,
        line=line,
        impact=(Impact("p", model, None), Impact("p", model, name)),
        ignored=None if ignored is None else Ignored(ignored, "semverlint.yml"),
    )
    project = sample_project(
        name=name,
        path=path,
        ok=ok,
        reasons=(reason, reason),
        changes=(one, one),
        diagnostics=(Diagnostic("error", message, path, line), Diagnostic("warning", reason)),
    )
    report = Report(RevisionInfo(name, path), RevisionInfo("HEAD", None), (project, project))
    assert text.render(report, False) == _rich(report, False)


# -- listing the index and trees -------------------------------------------------------------


def _odd_index(repo: GitRepo) -> None:
    """An index with every kind of entry: plain, executable, symlink, submodule, conflicted."""
    repo.write("a.sql", "select 1\n")
    repo.write("run.sh", "#!/bin/sh\n")
    repo.run("update-index", "--add", "--chmod=+x", "run.sh")
    (repo.path / "link.sql").symlink_to("a.sql")
    repo.write("120000 blob x.sql", "select 2\n")  # a name that looks like a symlink record
    repo.commit("base")
    sub = repo.run("rev-parse", "HEAD")
    repo.run("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    repo.branch("other")
    repo.write("c.sql", "select 'main'\n")
    repo.commit("main side")
    repo.checkout("other")
    repo.write("c.sql", "select 'other'\n")
    repo.commit("other side")
    repo.checkout("main")
    subprocess.run(
        ["git", "merge", "-q", "other"], cwd=repo.path, capture_output=True, check=False
    )  # conflicts on c.sql: stages 2 and 3, no stage 0


def test_parse_index_is_index_files_and_links(git_repo: GitRepo) -> None:
    _odd_index(git_repo)
    output = subprocess.run(
        ["git", "ls-files", "--stage", "-t", "-z"], cwd=git_repo.path, capture_output=True
    ).stdout
    entries = parse_ls_files_stage(output)
    assert {e.stage for e in entries} >= {0, 2, 3}
    files, links = parse_index(output)
    assert files == index_files(entries)
    assert "c.sql" not in files  # conflicted: no merged entry
    assert "run.sh" in files
    assert "120000 blob x.sql" in files
    assert links == ("link.sql",)
    assert parse_index(b"") == ({}, ())


def test_tree_links_are_found_only_where_there_are_some(git_repo: GitRepo) -> None:
    _odd_index(git_repo)
    output = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--full-tree", "HEAD~1"],
        cwd=git_repo.path,
        capture_output=True,
    ).stdout
    assert parse_ls_tree_links(output) == ("link.sql",)
    without = b"\0".join(r for r in output.split(b"\0") if not r.startswith(b"120000 "))
    assert parse_ls_tree_links(without) == ()
    assert parse_ls_tree(without) == parse_ls_tree(output)
    assert parse_ls_tree_links(b"") == ()


# -- finding projects ------------------------------------------------------------------------


def _skipped_by_part(path: str) -> bool:
    """The definition: some folder on the path (not the file name) is a skipped one."""
    return any(part in SKIPPED_DIRS for part in path.split("/")[:-1])


_PARTS = st.sampled_from(
    (
        *("a", "b", "target", "targets", "logs", ".venv", "x.venv", "dbt_packages", "m.sql"),
        *("dbt_project.yml", "xdbt_project.yml", "semverlint.yml"),
    )
)
_PATHS = st.lists(st.lists(_PARTS, min_size=1, max_size=4).map("/".join), max_size=12).map(
    lambda paths: tuple(sorted(set(paths)))
)


@given(paths=_PATHS)
def test_discover_and_files_of_follow_their_definitions(paths: tuple[str, ...]) -> None:
    for path in paths:
        assert is_skipped(path) == _skipped_by_part(path)
    refs = discover(paths)
    markers = {"dbt": "dbt_project.yml", "sql": "semverlint.yml"}
    for ref in refs:
        marker = markers[ref.kind] if ref.path == "." else f"{ref.path}/{markers[ref.kind]}"
        assert marker in paths
        assert not _skipped_by_part(marker)
    nested = frozenset(r.path for r in refs)
    for project in (*nested, ".", "a"):
        prefix = "" if project == "." else project + "/"
        inner = [n + "/" for n in nested if n != project and n.startswith(prefix)]
        expected = tuple(
            p
            for p in paths
            if p.startswith(prefix)
            and not any(p.startswith(i) for i in inner)
            and not _skipped_by_part(p)
        )
        assert files_of(project, paths, nested) == expected


def test_files_in_skipped_folders_are_left_out() -> None:
    paths = (
        "dbt_project.yml",
        "dbt_packages/x/dbt_project.yml",
        "dbt_packages/x/models/a.sql",
        "models/target/a.sql",
        "models/target.sql",
        "models/venvs/b.sql",
    )
    assert [r.path for r in discover(paths)] == ["."]
    assert files_of(".", paths, frozenset({"."})) == (
        "dbt_project.yml",
        "models/target.sql",
        "models/venvs/b.sql",
    )


# -- the sqlglot version in every cache key, without importlib.metadata ------------------------


@pytest.mark.parametrize("package", ["sqlglot", "jsonschema", "typer", "yaml"])
def test_an_installed_version_is_what_importlib_metadata_says(package: str) -> None:
    from importlib.metadata import packages_distributions, version

    from semverlint.cache import _installed_version

    distribution = packages_distributions()[package][0]
    found = _installed_version(package)
    # PyYAML's folder is not named after its package: then the slow path answers.
    assert found == version(distribution) if distribution == package else found is None


def test_an_ambiguous_or_missing_metadata_folder_gives_no_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semverlint.cache import _installed_version

    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _installed_version("fakepkg") is None
    (tmp_path / "fakepkg-1.2.3.dist-info").mkdir()
    assert _installed_version("fakepkg") == "1.2.3"
    (tmp_path / "fakepkg-2.0.dist-info").mkdir()
    assert _installed_version("fakepkg") is None
    assert _installed_version("no_such_package_here") is None


def test_a_one_model_change_imports_no_package_metadata(git_repo: GitRepo) -> None:
    write_shop(git_repo)
    git_repo.commit("base")
    drop_amount(git_repo)
    git_repo.run("add", "-A")
    run = imports_of(
        ["diff", "--staged", "--repo", str(git_repo.path), "-f", "json"],
        ("importlib.metadata",),
        {"SEMVERLINT_JOBS": "2"},
    )
    assert run.imported == []
    assert "column-removed" in run.stdout


# -- the workers end with the run ------------------------------------------------------------


def _processes_with(marker: str) -> list[int]:
    """The processes whose environment holds `marker` (the run's workers inherit it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="lists processes in /proc")
def test_no_worker_outlives_the_run(git_repo: GitRepo, tmp_path: Path) -> None:
    # The pool is shut down without waiting, so that the workers exit while the report is
    # written; the run must still not end before they have.
    write_shop(git_repo)
    git_repo.commit("base")
    drop_amount(git_repo)
    run_id = uuid.uuid4().hex
    marker = f"SEMVERLINT_TEST_RUN={run_id}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SEMVERLINT_")},
        "SEMVERLINT_CACHE_DIR": str(tmp_path / "cache"),
        "SEMVERLINT_JOBS": "2",
        "SEMVERLINT_PARALLEL_MIN": "1",
        "SEMVERLINT_TEST_RUN": run_id,
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "semverlint", "diff", "--repo", str(git_repo.path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert run.wait(timeout=120) == 0
    assert _processes_with(marker) == []
