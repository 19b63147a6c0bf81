"""Messy repositories through the real CLI: whatever real projects contain gets a sensible
classification, or a diagnostic that names the file and the reason.

Every case starts from the same small shop project, makes one messy edit in a commit,
and checks `semverlint diff HEAD~1..HEAD --format json`. Counts: see ``MESSY_CASES``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from clirun import semverlint
from gitrepo import GitRepo

PROJECT = """\
name: shop
version: 1.0.0
config-version: 2
models:
  shop:
    +access: public
"""
SQL = "select 1 as id, 'open' as status\n"
YML = """\
version: 2
models:
  - name: orders
    description: Orders.
    columns:
      - name: id
        data_tests: [not_null]
      - name: status
"""
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def shop(repo: GitRepo) -> None:
    repo.write("dbt_project.yml", PROJECT)
    repo.write("models/orders.sql", SQL)
    repo.write("models/orders.yml", YML)
    repo.commit("shop")


def write_bytes(repo: GitRepo, path: str, data: bytes) -> None:
    target = repo.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def symlink(repo: GitRepo, path: str, target: str) -> None:
    (repo.path / path).unlink(missing_ok=True)
    os.symlink(target, repo.path / path)


def report_of(repo: GitRepo, *args: str) -> dict[str, Any]:
    result = semverlint(
        "diff", *(args or ("HEAD~1..HEAD",)), "--format", "json", "--repo", repo.path
    )
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.json


def rules_of(report: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(c["rule"], c["column"]) for p in report["projects"] for c in p["changes"]}


def diagnostics_of(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (d["level"], d["path"] or "", d["message"])
        for p in report["projects"]
        for d in p["diagnostics"]
    ]


@dataclass(frozen=True)
class Case:
    edit: Callable[[GitRepo], None]
    # The (rule, column) pairs reported: exactly these.
    changes: set[tuple[str, str | None]]
    # (path, text) pairs: a diagnostic on that file must contain the text.
    diagnostics: list[tuple[str, str]] = field(default_factory=list)
    # When set, no diagnostic at all is expected.
    clean: bool = False


def tabs_and_trailing_whitespace(repo: GitRepo) -> None:
    repo.write(
        "models/orders.yml",
        YML.replace("description: Orders.", "description:\tOrders. \t")
        .replace("- name: status", "- name: status\t  ")
        .replace("[not_null]", "[not_null]   \t"),
    )


def duplicate_key(repo: GitRepo) -> None:
    # dbt (checked_load) keeps the last value: the not_null test is gone.
    repo.write(
        "models/orders.yml",
        YML.replace("data_tests: [not_null]\n", "data_tests: [not_null]\n        data_tests: []\n"),
    )


def defined_twice(repo: GitRepo) -> None:
    repo.write("models/staging/orders.sql", "select 2 as id\n")


def moved(repo: GitRepo) -> None:
    (repo.path / "models/marts").mkdir()
    repo.run("mv", "models/orders.sql", "models/marts/orders.sql")
    repo.run("mv", "models/orders.yml", "models/marts/orders.yml")


def case_only_rename(repo: GitRepo) -> None:
    repo.run("mv", "models/orders.sql", "models/Orders.sql")


def submodule(repo: GitRepo) -> None:
    vendor = GitRepo.init(repo.path.parent / "vendor")
    vendor.write("dbt_project.yml", "name: vendor\nversion: 3.0.0\nconfig-version: 2\n")
    vendor.write("models/v.sql", "select 1 as v\n")
    vendor.commit("vendor")
    repo.run(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(vendor.path),
        "models/vendor",
    )


CASES: dict[str, Case] = {
    "tabs_and_trailing_whitespace": Case(tabs_and_trailing_whitespace, set(), clean=True),
    "tab_indentation": Case(
        lambda r: r.write("models/orders.yml", YML.replace("    columns:", "\tcolumns:")),
        # the property file cannot be read: its guarantees are gone (conservatively major)
        {("description-changed", None), ("not-null-removed", "id")},
        [("models/orders.yml", "skipped property file: invalid YAML at line 5, column 1: a tab")],
    ),
    "duplicate_key": Case(duplicate_key, {("not-null-removed", "id")}),
    "bom": Case(
        lambda r: (
            write_bytes(r, "models/orders.yml", b"\xef\xbb\xbf" + YML.encode()),
            write_bytes(r, "models/orders.sql", b"\xef\xbb\xbf" + SQL.encode()),
        ),
        set(),  # the BOM is not part of the text
        clean=True,
    ),
    "crlf": Case(
        lambda r: (
            write_bytes(r, "models/orders.yml", YML.replace("\n", "\r\n").encode()),
            write_bytes(r, "models/orders.sql", SQL.replace("\n", "\r\n").encode()),
        ),
        {("sql-reformatted", None)},
        clean=True,
    ),
    "utf16_yaml": Case(
        lambda r: write_bytes(r, "models/orders.yml", YML.encode("utf-16")), set(), clean=True
    ),
    "latin1_bytes": Case(
        lambda r: (
            write_bytes(
                r,
                "models/orders.yml",
                YML.replace("Orders.", "Commandes du café.").encode("latin-1"),
            ),
            write_bytes(
                r, "models/orders.sql", "select 1 as id, 'café' as status\n".encode("latin-1")
            ),
        ),
        {("description-changed", None), ("column-logic-changed", "status")},
    ),
    "empty_sql": Case(
        lambda r: r.write("models/orders.sql", ""),
        {("sql-changed-unparsed", None)},
        [("models/orders.sql", "no SELECT statement found")],
    ),
    "empty_yaml": Case(lambda r: r.write("models/more.yml", ""), set(), clean=True),
    "comment_only_yaml": Case(
        lambda r: r.write("models/more.yml", "# nothing yet\n"), set(), clean=True
    ),
    "yaml_not_a_mapping": Case(
        lambda r: r.write("models/more.yml", "- just\n- a list\n"),
        set(),
        [("models/more.yml", "skipped property file: not a mapping")],
    ),
    "models_not_a_list": Case(
        lambda r: r.write("models/more.yml", "version: 2\nmodels: {name: x}\n"),
        set(),
        [("models/more.yml", "`models:` is not a list; skipped")],
    ),
    "entry_without_name": Case(
        lambda r: r.write("models/more.yml", "version: 2\nmodels:\n  - description: who?\n"),
        set(),
        [("models/more.yml", "an entry of `models:` has no name; skipped")],
    ),
    "binary_sql": Case(
        lambda r: write_bytes(r, "models/orders.sql", b"\x00\x01\x02select 1"),
        {("model-removed", None)},
        [
            ("models/orders.sql", "skipped model file: binary content"),
            ("models/orders.yml", "properties describe model 'orders' but it has no SQL file"),
        ],
    ),
    "symlink_out_of_the_repository": Case(
        lambda r: symlink(r, "models/orders.sql", "/etc/passwd"),
        {("model-removed", None)},  # the link is never followed: orders has no SQL now
        [("models/orders.yml", "properties describe model 'orders' but it has no SQL file")],
    ),
    "symlinked_folder_out_of_the_repository": Case(
        lambda r: symlink(r, "models/etc", "/etc"), set(), clean=True
    ),
    "submodule": Case(submodule, set(), clean=True),
    "case_only_rename": Case(
        # the same model (not removed + added); its relation's name changed case
        case_only_rename,
        {("model-relocated", None)},
    ),
    "moved_between_folders": Case(moved, set(), clean=True),
    "defined_twice": Case(
        defined_twice,
        set(),
        [("models/staging/orders.sql", "model 'orders' is defined twice (also models/orders.sql)")],
    ),
    "yaml_without_sql": Case(
        lambda r: r.write("models/ghost.yml", "version: 2\nmodels:\n  - name: ghost\n"),
        set(),
        [("models/ghost.yml", "properties describe model 'ghost' but it has no SQL file")],
    ),
    "sql_without_yaml": Case(
        lambda r: r.write("models/bare.sql", "select 1 as a\n"), {("model-added", None)}, clean=True
    ),
    "disabled_in_yaml": Case(
        lambda r: r.write(
            "models/orders.yml",
            YML.replace(
                "    description: Orders.\n",
                "    description: Orders.\n    config:\n      enabled: false\n",
            ),
        ),
        {("model-disabled", None)},
    ),
    "disabled_in_sql": Case(
        lambda r: r.write("models/orders.sql", "{{ config(enabled=false) }}\n" + SQL),
        {("model-disabled", None)},
    ),
    "unicode_and_spaces_in_names": Case(
        lambda r: r.write("models/my models/çà va.sql", "select 1 as a\n"),
        {("model-added", None)},
        clean=True,
    ),
}
MESSY_CASES = len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_messy_content(git_repo: GitRepo, name: str) -> None:
    case = CASES[name]
    shop(git_repo)
    case.edit(git_repo)
    git_repo.commit(name)
    report = report_of(git_repo)
    assert rules_of(report) == case.changes
    diagnostics = diagnostics_of(report)
    for path, text in case.diagnostics:
        assert any(p == path and text in m for _, p, m in diagnostics), diagnostics
    if case.clean:
        assert diagnostics == []
    assert "root:" not in str(report)  # /etc/passwd is never read


def test_sql_without_yaml_is_classified_from_its_sql(git_repo: GitRepo) -> None:
    shop(git_repo)
    git_repo.write("models/bare.sql", "select 1 as a, 2 as b\n")
    git_repo.commit("bare")
    git_repo.write("models/bare.sql", "select 1 as a\n")
    git_repo.commit("drop b")
    assert rules_of(report_of(git_repo)) == {("column-removed", "b")}


def test_a_symlink_in_the_working_tree_is_not_followed(git_repo: GitRepo) -> None:
    shop(git_repo)
    symlink(git_repo, "models/orders.sql", "/etc/passwd")
    symlink(git_repo, "models/passwd.sql", "/etc/passwd")
    report = report_of(git_repo, "HEAD")
    assert "root:" not in str(report)
    assert rules_of(report) == {("model-removed", None)}


MESSY_CASES += 2

# --- found by this suite and since fixed by their owners ---------------------------------------


def test_git_lfs_pointers_are_a_diagnostic(git_repo: GitRepo) -> None:
    shop(git_repo)
    git_repo.write("models/orders.sql", LFS_POINTER)
    git_repo.write("seeds/countries.csv", LFS_POINTER)
    git_repo.commit("lfs")
    diagnostics = diagnostics_of(report_of(git_repo))
    for path in ("models/orders.sql", "seeds/countries.csv"):
        assert any(p == path and "Git LFS pointer: not fetched" in m for _, p, m in diagnostics)


def test_yaml_warnings_reach_the_report(git_repo: GitRepo) -> None:
    shop(git_repo)
    duplicate_key(git_repo)
    write_bytes(git_repo, "models/more.yml", "version: 2\n# café\n".encode("latin-1"))
    git_repo.commit("messy yaml")
    diagnostics = diagnostics_of(report_of(git_repo))
    assert any(p == "models/orders.yml" and "appears twice" in m for _, p, m in diagnostics)
    assert any(p == "models/more.yml" and "not UTF-8" in m for _, p, m in diagnostics)


def test_a_symlink_inside_the_repository_is_named(git_repo: GitRepo) -> None:
    shop(git_repo)
    git_repo.write("shared/orders.sql", SQL)
    symlink(git_repo, "models/orders.sql", "../shared/orders.sql")
    git_repo.commit("link")
    diagnostics = diagnostics_of(report_of(git_repo))
    assert any(p == "models/orders.sql" and "symlink" in m for _, p, m in diagnostics)


MESSY_CASES += 3


def test_the_case_count() -> None:
    assert MESSY_CASES >= 30


def test_an_edit_inside_an_unknown_macro_call_is_never_layout_only(git_repo: GitRepo) -> None:
    # The macro is rendered as a placeholder, so both queries read alike: what changed
    # inside the call cannot be seen, and must not be reported as a reformat.
    git_repo.write("dbt_project.yml", "name: shop\nversion: 1.0.0\n")
    git_repo.write("models/base.sql", "select 1 as id\n")
    model = "select id, {{{{ mystery('{}') }}}} as x from {{{{ ref('base') }}}}\n"
    git_repo.write("models/m.sql", model.format("a"))
    git_repo.commit("base")
    git_repo.write("models/m.sql", model.format("b"))
    report = semverlint("diff", "--repo", git_repo.path, "--format", "json").json
    rules = [(c["rule"], c["model"]) for c in report["projects"][0]["changes"]]
    assert rules == [("sql-changed-unparsed", "m")]
