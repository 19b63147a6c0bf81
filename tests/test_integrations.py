"""pre-commit and GitHub Actions, run for real: the `pre-commit` package drives the hooks in a
temporary repository, and the action's script runs in bash against a shallow clone with a
simulated event (GITHUB_EVENT_PATH, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from clirun import semverlint
from dbtshop import PROJECT, drop_amount, write_shop
from gitrepo import _BASE_ENV, GitRepo
from semverlint.errors import UsageError
from semverlint.hooks import default_branches, pre_push_range

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ZEROS = "0" * 40


def run(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """A command with the tests' git identity; its failure is for the test to judge."""
    full_env = {**os.environ, **_BASE_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    full_env.update(env or {})
    return subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )


# -- the hook manifest ---------------------------------------------------------------------


def manifest() -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return hooks


def test_hook_manifest_is_valid_for_pre_commit_and_says_what_we_mean() -> None:
    from pre_commit.clientlib import load_manifest

    loaded = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    by_id = {hook["id"]: hook for hook in loaded}
    assert set(by_id) == {"semverlint", "semverlint-pre-push"}
    staged = by_id["semverlint"]
    assert staged["entry"] == "semverlint check --staged"
    assert staged["language"] == "python"
    assert staged["pass_filenames"] is False
    assert staged["stages"] == ["pre-commit"]
    push = by_id["semverlint-pre-push"]
    assert push["entry"] == "semverlint check --pre-push"
    assert push["stages"] == ["pre-push"]
    assert push["pass_filenames"] is False
    files = re.compile(staged["files"])
    for path in (
        "models/orders.sql",
        "models/a.yml",
        "dbt_project.yaml",
        "seeds/x.csv",
        "pyproject.toml",
        "sub/pyproject.toml",
    ):
        assert files.search(path), path
    for path in ("README.md", "macros/x.py", "notes.yml.txt"):
        assert not files.search(path), path


def local_config() -> str:
    """The manifest's hooks as a `repo: local` config running the semverlint installed here.

    Not `pre-commit try-repo`: it would pip-install a clone of this repository's HEAD, not the
    code under test.
    """
    hooks = []
    for hook in manifest():
        local = dict(hook)
        local["language"] = "system"
        local["entry"] = str(BIN / "semverlint") + hook["entry"].removeprefix("semverlint")
        hooks.append(local)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


def pre_commit_env(tmp_path: Path) -> dict[str, str]:
    return {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}


def install_hooks(repo: GitRepo, tmp_path: Path, *types: str) -> None:
    args = [sys.executable, "-m", "pre_commit", "install"]
    for hook_type in types:
        args += ["--hook-type", hook_type]
    result = run(args, repo.path, pre_commit_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hook_blocks_a_commit_until_the_version_is_bumped(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    write_shop(git_repo)
    git_repo.write(".pre-commit-config.yaml", local_config())
    git_repo.commit("shop 1.4.0 with hooks")
    install_hooks(git_repo, tmp_path, "pre-commit")
    env = pre_commit_env(tmp_path)

    drop_amount(git_repo)
    git_repo.run("add", "-A")
    blocked = run(["git", "commit", "-m", "drop amount"], git_repo.path, env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "Failed" in output
    assert "column-removed" in output
    assert git_repo.run("log", "--format=%s") == "shop 1.4.0 with hooks"

    git_repo.write("dbt_project.yml", PROJECT.format(version="2.0.0"))
    git_repo.run("add", "-A")
    passed = run(["git", "commit", "-m", "drop amount, release 2.0.0"], git_repo.path, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout + passed.stderr

    git_repo.write("README.md", "# shop\n")
    git_repo.run("add", "-A")
    skipped = run(["git", "commit", "-m", "readme"], git_repo.path, env)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "Skipped" in skipped.stdout + skipped.stderr


def test_pre_push_hook_checks_the_pushed_range_and_new_branches(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    origin = GitRepo.init(tmp_path / "origin.git", bare=True)
    write_shop(git_repo)
    git_repo.write(".pre-commit-config.yaml", local_config())
    git_repo.commit("shop 1.4.0 with hooks")
    git_repo.run("remote", "add", "origin", str(origin.path))
    install_hooks(git_repo, tmp_path, "pre-push")
    env = pre_commit_env(tmp_path)

    # The first push holds the root commit: pre-commit gives no refs, the hook finds its base.
    first = run(["git", "push", "-q", "origin", "main"], git_repo.path, env)
    assert first.returncode == 0, first.stdout + first.stderr

    git_repo.run("checkout", "-q", "-b", "feature")
    drop_amount(git_repo)
    git_repo.commit("drop amount")  # --no-verify: only the push is checked here
    blocked = run(["git", "push", "-q", "origin", "feature"], git_repo.path, env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "column-removed" in output
    assert "refs/heads/feature" not in origin.run("for-each-ref")

    git_repo.write("dbt_project.yml", PROJECT.format(version="2.0.0"))
    git_repo.commit("release 2.0.0")
    pushed = run(["git", "push", "-q", "origin", "feature"], git_repo.path, env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert origin.sha("feature") == git_repo.sha()

    # An existing remote branch: from the remote's commit to the pushed one.
    git_repo.write("models/marts/orders.sql", "select 1 as order_id, 'open' as status, 3 as qty\n")
    git_repo.commit("add qty")
    again = run(["git", "push", "-q", "origin", "feature"], git_repo.path, env)
    assert again.returncode != 0
    assert "column-added" in again.stdout + again.stderr


def test_check_pre_push_reads_pre_commits_environment(git_repo: GitRepo) -> None:
    write_shop(git_repo)
    git_repo.commit("shop 1.4.0")
    git_repo.branch("feature")
    git_repo.checkout("feature")
    drop_amount(git_repo)
    tip = git_repo.commit("drop amount")
    # A new branch: an all-zero from-ref falls back to the merge base with main.
    env = {"PRE_COMMIT_FROM_REF": ZEROS, "PRE_COMMIT_TO_REF": tip}
    result = semverlint("check", "--pre-push", "--format", "json", "--repo", git_repo.path, env=env)
    assert result.code == 1, result.stderr
    assert result.json["base"]["rev"] == f"merge base of main and {tip}"
    # A deletion pushes nothing.
    deleted = semverlint(
        "check", "--pre-push", "--repo", git_repo.path, env={"PRE_COMMIT_TO_REF": ZEROS}
    )
    assert deleted.code == 0
    assert "nothing to check" in deleted.stderr
    both = semverlint("check", "--pre-push", "main..HEAD", "--repo", git_repo.path)
    assert both.code == 2
    assert "--pre-push" in both.stderr


def test_pre_push_range_rules() -> None:
    have = {"origin/HEAD", "main", "master", "abc123"}.__contains__
    assert pre_push_range(
        {"PRE_COMMIT_FROM_REF": "abc123", "PRE_COMMIT_TO_REF": "def456"}, have
    ) == ("abc123..def456")
    assert pre_push_range({"PRE_COMMIT_FROM_REF": ZEROS, "PRE_COMMIT_TO_REF": "def456"}, have) == (
        "origin/HEAD...def456"
    )
    assert pre_push_range({}, {"master"}.__contains__) == "master...HEAD"
    assert pre_push_range({"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x"}, {"main"}.__contains__) == (
        "main...refs/heads/x"
    )
    # A from-ref this clone does not have: treated like a new branch.
    assert pre_push_range({"PRE_COMMIT_FROM_REF": "fff999"}, {"main"}.__contains__) == "main...HEAD"
    assert pre_push_range({"PRE_COMMIT_TO_REF": ZEROS}, have) is None
    assert default_branches({"PRE_COMMIT_REMOTE_NAME": "upstream"}) == (
        "upstream/HEAD",
        "origin/HEAD",
        "main",
        "master",
    )
    with pytest.raises(UsageError, match="no base"):
        pre_push_range({}, set[str]().__contains__)
    with pytest.raises(UsageError, match="not a revision"):
        pre_push_range({"PRE_COMMIT_TO_REF": "--output=x"}, have)


# -- the GitHub Action ---------------------------------------------------------------------


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return data


def test_action_passes_every_input_through_env() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    steps = data["runs"]["steps"]
    script = (ROOT / "scripts/action.sh").read_text()
    seen: set[str] = set()
    for step in steps:
        assert "${{" not in step["run"], step["run"]
        assert step["shell"] == "bash"
        for name, value in step.get("env", {}).items():
            found = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
            assert found, value
            assert name == "INPUT_" + found[1].upper().replace("-", "_")
            assert f"${{{name}" in script or f"${name}" in script, name
            seen.add(found[1])
    assert seen == set(data["inputs"]) >= {"range", "config", "fail-on", "format", "version"}
    check = next(s for s in steps if s.get("id") == "check")
    for output in ("required-bump", "suggested-version", "ok"):
        assert data["outputs"][output]["value"] == f"${{{{ steps.check.outputs.{output} }}}}"
        assert output in script
    assert check["run"] == 'bash "$GITHUB_ACTION_PATH/scripts/action.sh" check'


@pytest.fixture
def upstream(tmp_path: Path) -> dict[str, Any]:
    """An "origin" with main moving on after `feature` forked, and `release` (feature + 2.0.0)."""
    repo = GitRepo.init(tmp_path / "upstream")
    for i in range(8):  # history a shallow clone should never need to fetch
        repo.write("NOTES.md", f"early {i}\n")
        repo.commit(f"early {i}")
    write_shop(repo)
    fork = repo.commit("shop 1.4.0")
    for i in range(3):
        repo.write("NOTES.md", f"main {i}\n")
        repo.commit(f"main {i}")
    repo.branch("feature", fork)
    repo.checkout("feature")
    drop_amount(repo)
    repo.commit("drop amount")
    repo.write("docs.md", "feature docs\n")
    feature = repo.commit("docs")
    repo.branch("release")
    repo.checkout("release")
    repo.write("dbt_project.yml", PROJECT.format(version="2.0.0"))
    release = repo.commit("release 2.0.0")
    repo.checkout("main")
    return {
        "repo": repo,
        "fork": fork,
        "main": repo.sha("main"),
        "feature": feature,
        "release": release,
    }


def shallow_clone(upstream: dict[str, Any], tmp_path: Path, branch: str) -> GitRepo:
    origin: GitRepo = upstream["repo"]
    return origin.clone(tmp_path / f"ws-{branch}", "--depth", "1", "--branch", branch, "--no-tags")


def run_action(
    workspace: GitRepo, tmp_path: Path, event_name: str, event: dict[str, Any], **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    github = tmp_path / f"github-{workspace.path.name}"
    github.mkdir(exist_ok=True)
    (github / "event.json").write_text(json.dumps(event), encoding="utf-8")
    (github / "output").write_text("", encoding="utf-8")
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(github / "event.json"),
        "GITHUB_STEP_SUMMARY": str(github / "summary.md"),
        "GITHUB_OUTPUT": str(github / "output"),
        "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(github),
        # One commit at a time, so that the deepening loop runs more than once.
        "SEMVERLINT_FETCH_DEPTH": "1",
        "INPUT_FORMAT": "github",
    }
    env.update({"INPUT_" + key.upper(): value for key, value in inputs.items()})
    result = run(["bash", str(ROOT / "scripts/action.sh"), "check"], workspace.path, env)
    outputs = dict(
        line.split("=", 1) for line in (github / "output").read_text().splitlines() if line
    )
    summary = github / "summary.md"
    return result, outputs, summary.read_text(encoding="utf-8") if summary.exists() else ""


def test_action_on_a_pull_request_fetches_the_base_into_a_shallow_clone(
    upstream: dict[str, Any], tmp_path: Path
) -> None:
    workspace = shallow_clone(upstream, tmp_path, "feature")
    assert workspace.run("rev-parse", "--is-shallow-repository") == "true"
    event = {
        "pull_request": {"base": {"sha": upstream["main"]}, "head": {"sha": upstream["feature"]}},
        "repository": {"default_branch": "main"},
    }
    result, outputs, summary = run_action(workspace, tmp_path, "pull_request", event)
    assert result.returncode == 1, result.stderr
    assert f"checking {upstream['main']}...HEAD" in result.stderr
    assert "deepening" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error file=dbt_project.yml,line=3,")
    assert any(line.startswith("::error file=models/marts/orders.yml,") for line in lines)
    assert lines[-1].startswith("semverlint: FAIL")
    assert outputs["required-bump"] == "major"
    assert outputs["suggested-version"] == "2.0.0"
    assert outputs["ok"] == "false"
    report = json.loads(Path(outputs["report"]).read_text())
    assert report["base"]["commit"] == upstream["fork"]
    assert summary.startswith("## semverlint: ❌ FAIL")
    assert "[`column-removed`](" in summary
    assert workspace.run("rev-parse", "--is-shallow-repository") == "true"


def test_action_on_a_push_checks_from_the_previous_commit(
    upstream: dict[str, Any], tmp_path: Path
) -> None:
    workspace = shallow_clone(upstream, tmp_path, "release")
    event = {"before": upstream["fork"], "repository": {"default_branch": "main"}}
    result, outputs, summary = run_action(workspace, tmp_path, "push", event)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"checking {upstream['fork']}..HEAD" in result.stderr
    assert outputs == {
        "required-bump": "major",
        "suggested-version": "2.0.0",
        "ok": "true",
        "report": outputs["report"],
    }
    assert result.stdout.splitlines()[-1].startswith("semverlint: OK")
    assert summary.startswith("## semverlint: ✅ OK")


def test_action_on_a_new_branch_push_falls_back_to_the_default_branch(
    upstream: dict[str, Any], tmp_path: Path
) -> None:
    workspace = shallow_clone(upstream, tmp_path, "feature")
    event = {"before": ZEROS, "created": True, "repository": {"default_branch": "main"}}
    result, outputs, _ = run_action(workspace, tmp_path, "push", event, format="sarif")
    assert result.returncode == 1, result.stderr
    assert "checking origin/main...HEAD" in result.stderr
    sarif = json.loads(result.stdout)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"column-removed"}
    assert outputs["required-bump"] == "major"
    assert outputs["ok"] == "false"


def test_action_inputs_are_data_never_code(upstream: dict[str, Any], tmp_path: Path) -> None:
    workspace = shallow_clone(upstream, tmp_path, "feature")
    marker = tmp_path / "pwned"
    event = {"repository": {"default_branch": "main"}}
    result, outputs, _ = run_action(
        workspace, tmp_path, "workflow_dispatch", event, range=f"$(touch {marker})..HEAD"
    )
    assert result.returncode == 2
    assert "bad revision" in result.stderr
    assert not marker.exists()
    assert outputs == {}
    bad_fail_on, _, _ = run_action(
        workspace, tmp_path, "workflow_dispatch", event, range="HEAD~0..HEAD", fail_on="; true"
    )
    assert bad_fail_on.returncode == 2


def test_action_install_rejects_a_version_that_is_not_one(tmp_path: Path) -> None:
    result = run(
        ["bash", str(ROOT / "scripts/action.sh"), "install"],
        tmp_path,
        {"INPUT_VERSION": "1.0 --index-url=https://example.invalid", "RUNNER_TEMP": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "is not a version" in result.stderr
    assert not (tmp_path / "semverlint-venv").exists()


def test_action_install_from_the_action_path(tmp_path: Path) -> None:
    """The default install: pip installs the action's own copy into a venv on GITHUB_PATH."""
    source = tmp_path / "action"
    # A copy, so that building the package leaves this working tree as it was.
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in files:
        if (
            name
            and not name.startswith((".venv", "tests/", "src/semverlint.egg-info"))
            and (ROOT / name).is_file()
        ):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    path_file = tmp_path / "github_path"
    result = run(
        ["bash", str(source / "scripts/action.sh"), "install"],
        tmp_path,
        {
            "GITHUB_ACTION_PATH": str(source),
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_PATH": str(path_file),
        },
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bin_dir = Path(path_file.read_text().strip())
    assert bin_dir == tmp_path / "semverlint-venv" / "bin"
    version = subprocess.run(
        [str(bin_dir / "semverlint"), "--version"], capture_output=True, text=True
    )
    assert version.stdout.startswith("semverlint ")
