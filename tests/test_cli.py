"""The CLI end to end, against real git repositories built in temporary folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clirun import changes, semverlint
from gitrepo import GitRepo

PROJECT = """\
name: shop
version: {version}
config-version: 2
models:
  shop:
    marts:
      +access: public
"""

ORDERS_SQL = "select 1 as order_id, 'open' as status, 10.5 as amount\n"

ORDERS_YML = """\
version: 2
models:
  - name: orders
    description: One row per order.
    columns:
      - name: order_id
        data_type: int
        data_tests: [not_null, unique]
      - name: status
        data_type: varchar(10)
      - name: amount
        data_type: numeric(10, 2)
"""


def shop(
    repo: GitRepo,
    *,
    version: str = "1.4.0",
    sql: str = ORDERS_SQL,
    yml: str = ORDERS_YML,
    prefix: str = "",
) -> None:
    repo.write(f"{prefix}dbt_project.yml", PROJECT.format(version=version))
    repo.write(f"{prefix}models/marts/orders.sql", sql)
    repo.write(f"{prefix}models/marts/orders.yml", yml)


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    shop(git_repo)
    git_repo.commit("shop 1.4.0")
    return git_repo


def test_diff_reports_a_removed_column_as_major(repo: GitRepo) -> None:
    repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status\n")
    head = repo.commit("drop amount")
    result = semverlint("diff", "HEAD~1..HEAD", "--format", "json", "--repo", repo.path)
    assert result.code == 0, result.stderr
    report = result.json
    assert report["head"]["commit"] == head
    assert report["required_bump"] == "major"
    assert ("column-removed", "orders", "amount") in changes(report)
    project = report["projects"][0]
    assert project["suggested_version"] == "2.0.0"
    assert project["ok"] is False
    removed = next(c for c in project["changes"] if c["rule"] == "column-removed")
    assert removed["access"] == "public"
    assert removed["path"] == "models/marts/orders.yml"


def test_check_fails_until_the_version_is_bumped(repo: GitRepo) -> None:
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("[not_null, unique]", "[unique]"))
    repo.commit("drop not_null")
    failed = semverlint("check", "HEAD~1..HEAD", "--repo", repo.path)
    assert failed.code == 1
    assert "not-null-removed" in failed.stdout
    assert "2.0.0" in failed.stdout
    repo.write("dbt_project.yml", PROJECT.format(version="2.0.0"))
    repo.commit("release 2.0.0")
    passed = semverlint("check", "HEAD~2..HEAD", "--repo", repo.path, "--format", "json")
    assert passed.code == 0, passed.stdout
    assert passed.json["ok"] is True


def test_zero_major_versions_need_only_a_minor_bump_for_breaking_changes(git_repo: GitRepo) -> None:
    shop(git_repo, version="0.3.1")
    git_repo.commit("0.3.1")
    shop(git_repo, version="0.4.0", sql="select 1 as order_id, 'open' as status\n")
    git_repo.commit("0.4.0 drops amount")
    report = semverlint("check", "HEAD~1..HEAD", "--repo", git_repo.path, "--format", "json")
    assert report.code == 0
    project = report.json["projects"][0]
    assert (project["required_bump"], project["effective_bump"]) == ("major", "minor")
    assert project["suggested_version"] == "0.4.0"


def test_equivalent_types_and_case_are_not_changes(repo: GitRepo) -> None:
    renamed = ORDERS_YML.replace("data_type: int\n", "data_type: INTEGER\n").replace(
        "name: status", "name: STATUS"
    )
    repo.write("models/marts/orders.yml", renamed)
    repo.commit("cosmetic")
    report = semverlint("check", "HEAD~1..HEAD", "--repo", repo.path, "--format", "json")
    assert report.code == 0
    assert [c for c in changes(report.json) if c[0] != "description-changed"] == []


def test_narrowed_varchar_is_breaking_and_widened_is_minor(repo: GitRepo) -> None:
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("varchar(10)", "varchar(2)"))
    repo.commit("narrow")
    assert ("column-type-changed", "orders", "status") in changes(
        semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, "--format", "json").json
    )
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("varchar(10)", "varchar(50)"))
    repo.commit("widen")
    assert ("column-type-widened", "orders", "status") in changes(
        semverlint("diff", "HEAD~2..HEAD", "--repo", repo.path, "--format", "json").json
    )


def test_yaml_moved_to_another_file_is_no_change(repo: GitRepo) -> None:
    (repo.path / "models/marts/orders.yml").unlink()
    repo.write("models/schema.yml", ORDERS_YML)
    repo.commit("move yaml")
    report = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, "--format", "json").json
    assert changes(report) == []


def test_working_tree_index_and_single_revision_ranges(repo: GitRepo) -> None:
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("[not_null, unique]", "[not_null]"))
    worktree = semverlint("diff", "--repo", repo.path, "--format", "json").json
    assert worktree["head"] == {"rev": "working tree", "commit": None}
    assert ("unique-removed", "orders", "order_id") in changes(worktree)
    assert (
        changes(semverlint("diff", "--staged", "--repo", repo.path, "--format", "json").json) == []
    )
    repo.run("add", "-A")
    staged = semverlint("diff", "--staged", "--repo", repo.path, "--format", "json").json
    assert staged["head"]["rev"] == "index"
    assert ("unique-removed", "orders", "order_id") in changes(staged)
    single = semverlint("diff", "HEAD", "--repo", repo.path, "--format", "json").json
    assert changes(single) == changes(worktree)


def test_three_dot_range_starts_from_the_merge_base(repo: GitRepo) -> None:
    repo.branch("feature")
    repo.write(
        "models/marts/orders.sql",
        "select 1 as order_id, 'open' as status, 10.5 as amount, 1 as qty\n",
    )
    repo.commit("main adds qty")
    repo.checkout("feature")
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("[not_null, unique]", "[not_null]"))
    repo.commit("feature drops unique")
    three = changes(
        semverlint("diff", "main...feature", "--repo", repo.path, "--format", "json").json
    )
    two = changes(semverlint("diff", "main..feature", "--repo", repo.path, "--format", "json").json)
    assert three == [("unique-removed", "orders", "order_id")]
    assert ("column-removed", "orders", "qty") in two


def test_bare_repository_and_remote_tracking_names(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("models/marts/orders.sql", "select 1 as order_id\n")
    repo.commit("drop columns")
    bare = tmp_path / "bare.git"
    repo.run("clone", "--bare", "-q", str(repo.path), str(bare))
    report = semverlint("diff", "main~1..main", "--repo", bare, "--format", "json")
    assert report.code == 0, report.stderr
    assert ("column-removed", "orders", "amount") in changes(report.json)
    clone = repo.clone(tmp_path / "clone")
    remote = semverlint(
        "diff", "origin/main~1..origin/main", "--repo", clone.path, "--format", "json"
    )
    assert changes(remote.json) == changes(report.json)
    worktree = semverlint("diff", "--repo", bare)
    assert worktree.code == 2
    assert "bare" in worktree.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("diff", "--output=x"), "No such option"),
        (("diff", "-- -x"), "-x"),
        (("diff", "--upload-pack=evil..HEAD"), "No such option"),
        (("diff", "nosuchbranch..HEAD"), "nosuchbranch"),
        (("diff", "HEAD:models..HEAD"), "HEAD:models"),
        (("check", "--fail-on", "huge"), "huge"),
        (("diff", "--format", "yaml"), "yaml"),
        (("explain", "colum-removed"), "did you mean column-removed"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    repo: GitRepo, args: tuple[str, ...], needle: str
) -> None:
    result = semverlint(*args, "--repo", repo.path) if args[0] != "explain" else semverlint(*args)
    assert result.code == 2
    assert needle in result.stderr
    assert result.stdout == ""


def test_a_path_that_is_not_a_repository_exits_2(tmp_path: Path) -> None:
    result = semverlint("diff", "--repo", tmp_path)
    assert result.code == 2
    assert "not inside a git repository" in result.stderr


def test_shallow_clone_missing_the_base_says_what_to_fetch(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("models/marts/orders.sql", "select 1 as order_id\n")
    repo.commit("second")
    shallow = tmp_path / "shallow"
    repo.run("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow))
    result = semverlint("check", "HEAD~1..HEAD", "--repo", shallow)
    assert result.code == 2
    assert "shallow" in result.stderr
    assert "fetch" in result.stderr


def test_monorepo_projects_are_versioned_separately(git_repo: GitRepo) -> None:
    shop(git_repo, prefix="shop/")
    git_repo.write(
        "finance/dbt_project.yml", PROJECT.replace("shop", "finance").format(version="2.1.0")
    )
    git_repo.write("finance/models/marts/revenue.sql", "select 1 as day, 2 as revenue\n")
    git_repo.commit("two projects")
    git_repo.write("finance/models/marts/revenue.sql", "select 1 as day, 2 as revenue, 3 as cost\n")
    git_repo.write(
        "finance/dbt_project.yml", PROJECT.replace("shop", "finance").format(version="2.2.0")
    )
    git_repo.write("shop/models/marts/orders.sql", "select 1 as order_id\n")
    git_repo.commit("change both")
    result = semverlint("check", "HEAD~1..HEAD", "--repo", git_repo.path, "--format", "json")
    assert result.code == 1
    projects = {p["name"]: p for p in result.json["projects"]}
    assert projects["finance"]["path"] == "finance"
    assert (projects["finance"]["required_bump"], projects["finance"]["ok"]) == ("minor", True)
    assert (projects["shop"]["required_bump"], projects["shop"]["ok"]) == ("major", False)
    only = semverlint(
        "check", "HEAD~1..HEAD", "--repo", git_repo.path, "--project", "finance", "--format", "json"
    )
    assert only.code == 0
    assert [p["name"] for p in only.json["projects"]] == ["finance"]


def test_text_report_is_plain_when_not_a_terminal(repo: GitRepo) -> None:
    repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status\n")
    repo.commit("drop amount")
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path)
    assert result.code == 0
    assert "\x1b[" not in result.stdout
    assert "column-removed" in result.stdout
    assert "release 2.0.0" in result.stdout
    colored = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in colored.stdout
    no_color = semverlint(
        "diff", "HEAD~1..HEAD", "--repo", repo.path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}
    )
    assert "\x1b[" not in no_color.stdout


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_reader_that_goes_away_gets_no_traceback(repo: GitRepo, form: str) -> None:
    # `semverlint diff | head -1`: the pipe closes before the report is written out.
    for index in range(600):
        repo.write(f"models/marts/many_{index}.sql", f"select {index} as n\n")
    repo.commit("many models")
    command = [sys.executable, "-m", "semverlint", "diff", "HEAD~1..HEAD", "--format", form]
    proc = subprocess.Popen(
        [*command, "--repo", str(repo.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in errors, errors


def test_output_is_deterministic(repo: GitRepo) -> None:
    repo.write("models/marts/orders.sql", "select 2 as order_id, 'x' as state\n")
    repo.write("models/marts/orders.yml", ORDERS_YML.replace("[not_null, unique]", "[]"))
    repo.commit("many changes")
    for fmt in ("text", "json"):
        first = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, "--format", fmt)
        second = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, "--format", fmt)
        assert first.stdout == second.stdout


def test_config_overrides_and_ignores(repo: GitRepo) -> None:
    repo.write(
        "semverlint.yml",
        "rules:\n  column-added: patch\nignore:\n  - rule: column-removed\n    model: ord*\n"
        "    column: amount\n    reason: consumers moved (TICKET-1)\n",
    )
    repo.commit("config")
    repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status, 1 as qty\n")
    repo.commit("drop amount, add qty")
    report = semverlint("check", "HEAD~1..HEAD", "--repo", repo.path, "--format", "json")
    project = report.json["projects"][0]
    by_rule = {c["rule"]: c for c in project["changes"]}
    assert by_rule["column-removed"]["ignored"]["reason"] == "consumers moved (TICKET-1)"
    assert by_rule["column-added"]["bump"] == "patch"
    assert project["required_bump"] == "patch"


def test_bad_config_names_the_key_and_line(repo: GitRepo) -> None:
    repo.write("semverlint.yml", "dialect: duckdb\nrules:\n  column-removd: minor\n")
    repo.commit("bad config")
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path)
    assert result.code == 2
    assert "column-removd" in result.stderr
    assert "line 3" in result.stderr
    assert "did you mean column-removed" in result.stderr
    repo.write("semverlint.yml", "ignore:\n  - rule: column-removed\n")
    repo.commit("ignore without reason")
    missing = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path)
    assert missing.code == 2
    assert "reason" in missing.stderr
    assert "line 2" in missing.stderr


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('dialect: ""\n', "dialect"),
        ("fail-on: never\n", "fail-on"),
        ("strict: 1\n", "strict"),
        ("dialects: duckdb\n", "dialects"),  # a key the schema does not know
    ],
)
def test_a_bad_plain_config_is_still_refused_by_name(repo: GitRepo, text: str, key: str) -> None:
    # Scalar keys like these are proved valid without jsonschema; one that fails the
    # schema must still stop the run with jsonschema's message.
    repo.write("semverlint.yml", text)
    repo.commit("bad plain config")
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path)
    assert result.code == 2, result.stdout
    assert "semverlint.yml" in result.stderr
    assert key in result.stderr
    assert "semverlint schema config" in result.stderr  # the hint


def test_git_missing_from_path_exits_2_with_how_to_fix(repo: GitRepo, tmp_path: Path) -> None:
    result = semverlint("diff", "--repo", repo.path, env={"PATH": str(tmp_path)})
    assert result.code == 2
    assert "git cannot be run" in result.stderr
    assert "install git and put it on PATH" in result.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_config_of_a_sql_change_stops_the_run_however_it_is_validated(
    repo: GitRepo, jobs: str
) -> None:
    # With one job or two, the error stops the run with its message (the first worker
    # validates a large project's configuration: see test_cache).
    repo.write("semverlint.yml", "dialect: duckdb\nrules:\n  column-removd: minor\n")
    repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status\n")
    repo.commit("bad config, dropped column")
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", repo.path, env={"SEMVERLINT_JOBS": jobs})
    assert result.code == 2, result.stdout
    assert "semverlint.yml (line 3): unknown rule 'column-removd'" in result.stderr
    assert "did you mean column-removed" in result.stderr
    assert "Traceback" not in result.stderr


def test_rules_explain_and_schema_commands() -> None:
    listed = semverlint("rules", "--format", "json")
    assert listed.code == 0
    ids = {r["id"] for r in __import__("json").loads(listed.stdout)}
    assert {"column-removed", "column-type-widened", "access-narrowed"} <= ids
    table = semverlint("rules")
    assert "column-removed" in table.stdout
    explained = semverlint("explain", "column-removed")
    assert explained.code == 0
    assert "major" in explained.stdout
    assert "rules:\n      column-removed:" in explained.stdout
    schema = semverlint("schema")
    assert '"schema_version"' in schema.stdout
    assert '"ignore"' in semverlint("schema", "config").stdout


def test_version_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from semverlint.cli import app; "
        "print(sorted(m for m in ('sqlglot', 'jsonschema', 'git', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_inline_suppressions_in_yaml_and_sql(repo: GitRepo) -> None:
    yml = ORDERS_YML.replace(
        "      - name: order_id\n",
        "      # semverlint: allow unique-removed -- ids are unique by construction (TICKET-7)\n"
        "      - name: order_id\n",
    ).replace("[not_null, unique]", "[not_null]")
    repo.write("models/marts/orders.yml", yml)
    repo.write(
        "models/marts/orders.sql",
        "-- semverlint: allow column-removed -- amount moved to payments (TICKET-8)\n"
        "-- semverlint: allow column-added\n"
        "select 1 as order_id, 'open' as status, 1 as qty\n",
    )
    report = semverlint("check", "--repo", repo.path, "--format", "json").json
    project = report["projects"][0]
    by_rule = {c["rule"]: c for c in project["changes"]}
    assert by_rule["unique-removed"]["ignored"] == {
        "reason": "ids are unique by construction (TICKET-7)",
        "source": "models/marts/orders.yml:6",
    }
    assert by_rule["column-removed"]["ignored"]["reason"] == "amount moved to payments (TICKET-8)"
    assert by_rule["column-added"]["ignored"] is None
    assert project["required_bump"] == "minor"
    assert any("has no reason" in d["message"] for d in project["diagnostics"])


def test_a_reasonless_suppression_in_an_unchanged_file_is_still_reported(
    repo: GitRepo,
) -> None:
    repo.write("models/marts/other.sql", "-- semverlint: allow column-added\nselect 1 as x\n")
    repo.commit("a suppression without a reason")
    repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status\n")
    repo.run("add", "-A")  # staged: both states' unchanged files are the same blobs
    report = semverlint("check", "--staged", "--repo", repo.path, "--format", "json").json
    paths = {d["path"] for d in report["projects"][0]["diagnostics"] if "no reason" in d["message"]}
    assert paths == {"models/marts/other.sql"}


def test_column_order_is_breaking_when_configured(repo: GitRepo) -> None:
    repo.write(
        "models/marts/orders.sql", "select 'open' as status, 1 as order_id, 10.5 as amount\n"
    )
    default = semverlint("diff", "--repo", repo.path, "--format", "json").json["projects"][0]
    assert [(c["rule"], c["bump"]) for c in default["changes"]] == [
        ("column-order-changed", "none")
    ]
    repo.write("semverlint.yml", "column-order: breaking\n")
    strict = semverlint("diff", "--repo", repo.path, "--format", "json").json["projects"][0]
    assert [(c["rule"], c["bump"]) for c in strict["changes"]] == [
        ("column-order-changed", "major")
    ]


def test_a_project_path_that_names_no_project_exits_2(repo: GitRepo) -> None:
    result = semverlint("check", "--repo", repo.path, "--project", "finanse")
    assert result.code == 2
    assert "--project finanse" in result.stderr
    assert "projects here: ." in result.stderr
