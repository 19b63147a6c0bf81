"""No command changes the repository: its objects, refs, index, config or working tree.

Every file under the repository (``.git`` included) is hashed with its mode, size and
modification time before and after each command; the only command allowed to write is
``bump --write``, and it changes only the version line. The repository is configured
so that any hook, fsmonitor, filter, pager or helper git might run would leave a canary.

Then git's edge cases through the CLI (empty and unborn repositories, detached HEAD,
bare, linked worktrees, shallow clones, trees and blobs, odd names, paths with spaces),
each also checked to leave the repository as it was.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from clirun import Result, semverlint
from gitrepo import GitRepo

PROJECT = """\
name: shop
# consumers pin this
version: {version}
config-version: 2
models:
  shop:
    +access: public
"""
ORDERS_SQL = "select 1 as id, 'open' as status, 2.5 as amount\n"
ORDERS_YML = """\
version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests: [not_null, unique]
      - name: status
      - name: amount
"""
FORMATS = ("text", "json", "markdown", "github", "sarif")

Fingerprint = dict[str, tuple[object, ...]]


def fingerprint(*roots: Path) -> Fingerprint:
    """Every entry under the roots: links by target, files by mode, size, mtime and content."""
    found: Fingerprint = {}
    for root in roots:
        for directory, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                path = Path(directory, name)
                info = os.lstat(path)
                key = f"{root.name}/{path.relative_to(root).as_posix()}"
                if stat.S_ISLNK(info.st_mode):
                    found[key] = ("link", os.readlink(path))
                elif stat.S_ISDIR(info.st_mode):
                    found[key] = ("dir", stat.S_IMODE(info.st_mode))
                else:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    found[key] = ("file", info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return found


def changed(before: Fingerprint, after: Fingerprint) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


EVIL = """\
#!/bin/sh
touch "{canary}/$(basename "$0")-$$"
exit 1
"""


def arm(repo: GitRepo, canary: Path) -> None:
    """Configure every program git could be talked into running, each leaving a canary."""
    tools = repo.path.parent / "tools"
    hooks = tools / "hooks"
    hooks.mkdir(parents=True)
    names = (
        "pre-commit", "post-commit", "post-checkout", "post-merge", "pre-push",
        "post-index-change", "reference-transaction", "pre-auto-gc", "post-rewrite",
        "fsmonitor-watchman", "push-to-checkout", "sendemail-validate",
    )  # fmt: skip
    for name in (*names, "evil"):
        script = hooks / name
        script.write_text(EVIL.format(canary=canary))
        script.chmod(0o755)
        (repo.path / ".git" / "hooks" / name).write_text(EVIL.format(canary=canary))
        (repo.path / ".git" / "hooks" / name).chmod(0o755)
    evil = str(hooks / "evil")
    for key, value in {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": evil,
        "core.pager": evil,
        "core.editor": evil,
        "core.askPass": evil,
        "core.sshCommand": evil,
        "core.alternateRefsCommand": evil,
        "diff.external": evil,
        "filter.evil.clean": evil,
        "filter.evil.smudge": evil,
        "filter.evil.process": evil,
        "filter.evil.required": "true",
        "credential.helper": f"!{evil}",
        "gpg.program": evil,
        "sequence.editor": evil,
        "gc.auto": "1",
        "maintenance.auto": "true",
    }.items():
        repo.run("config", key, value)
    (repo.path / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")


def busy_repository(root: Path) -> tuple[GitRepo, Path]:
    """History with a tag and a branch, then staged, unstaged, untracked and ignored changes."""
    canary = root / "canary"
    canary.mkdir()
    repo = GitRepo.init(root / "repo")
    repo.write(".gitignore", "target/\n")
    repo.write("dbt_project.yml", PROJECT.format(version="1.0.0"))
    repo.write("models/orders.sql", ORDERS_SQL)
    repo.write("models/orders.yml", ORDERS_YML)
    repo.commit("shop 1.0.0")
    repo.tag("v1.0.0")
    repo.branch("feature")
    repo.write("models/orders.sql", "select 1 as id, 'open' as status\n")
    repo.write("models/orders.yml", ORDERS_YML.replace("      - name: amount\n", ""))
    repo.commit("drop amount")
    repo.checkout("feature")
    repo.write("models/customers.sql", "select 1 as customer_id\n")
    repo.commit("customers")
    repo.checkout("main")
    repo.write("models/staged.sql", "select 1 as s\n")
    repo.run("add", "models/staged.sql")
    repo.write("models/orders.sql", "select 1 as id\n")  # unstaged
    repo.write("models/untracked.sql", "select 1 as u\n")
    repo.write("target/compiled.sql", "select 1\n")  # ignored
    arm(repo, canary)
    return repo, canary


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, Path]:
    return busy_repository(tmp_path_factory.mktemp("busy"))


RANGES: tuple[tuple[str, ...], ...] = (
    (),
    ("HEAD~1..HEAD",),
    ("--staged",),
    ("main...feature",),
    ("v1.0.0",),
)
COMMANDS: list[tuple[str, ...]] = [
    *(("diff", *rng, "--format", fmt) for rng in RANGES[:2] for fmt in FORMATS),
    *(("diff", *rng, "--format", "json") for rng in RANGES[2:]),
    *(("check", *rng) for rng in RANGES),
    ("check", "--strict", "--fail-on", "minor", "--format", "json", "HEAD~1..HEAD"),
    ("check", "--pre-push"),
    ("check", "--no-cache", "HEAD~1..HEAD"),
    ("rules",),
    ("rules", "--format", "json"),
    ("explain", "column-removed"),
    ("explain", "no-such-rule"),
    ("schema",),
    ("schema", "config"),
    ("changelog", "v1.0.0..HEAD"),
    ("bump",),
    ("bump", "HEAD~1..HEAD"),
    ("bump", "--staged"),
    ("--version",),
    ("diff", "nonsense..HEAD"),
    ("diff", "HEAD^{tree}..HEAD"),
    ("diff", "HEAD:dbt_project.yml"),
]


def run_in(repo: GitRepo, tmp_path: Path, args: tuple[str, ...]) -> Result:
    env = {
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "PRE_COMMIT_FROM_REF": repo.sha("HEAD~1"),
        "PRE_COMMIT_TO_REF": repo.sha("HEAD"),
        "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main",
    }
    takes_repo = args[0] in ("diff", "check", "bump", "changelog")
    result = semverlint(
        *args, *(("--repo", repo.path) if takes_repo else ()), cwd=repo.path, env=env
    )
    assert result.code in (0, 1, 2), result.stderr
    return result


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_command_leaves_the_repository_as_it_was(
    busy: tuple[GitRepo, Path], tmp_path: Path, args: tuple[str, ...]
) -> None:
    repo, canary = busy
    before = fingerprint(repo.path)
    run_in(repo, tmp_path, args)
    assert changed(before, fingerprint(repo.path)) == []
    assert sorted(p.name for p in canary.iterdir()) == []


def test_no_cache_writes_no_cache(busy: tuple[GitRepo, Path], tmp_path: Path) -> None:
    repo, _ = busy
    cache = tmp_path / "cache"
    env = {"SEMVERLINT_CACHE_DIR": str(cache)}
    result = semverlint("diff", "HEAD~1..HEAD", "--no-cache", "--repo", repo.path, env=env)
    assert result.code == 0, result.stderr
    assert not cache.exists()


def test_bump_write_changes_only_the_version_line(tmp_path: Path) -> None:
    repo, canary = busy_repository(tmp_path)
    before = fingerprint(repo.path)
    text_before = (repo.path / "dbt_project.yml").read_text()
    result = semverlint("bump", "HEAD~1..HEAD", "--write", "--repo", repo.path)
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "2.0.0"
    assert changed(before, fingerprint(repo.path)) == ["repo/dbt_project.yml"]
    old, new = (
        text_before.splitlines(True),
        (repo.path / "dbt_project.yml").read_text().splitlines(True),
    )
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        ("version: 1.0.0\n", "version: 2.0.0\n")
    ]
    assert list(canary.iterdir()) == []


# --- git edge cases through the CLI ------------------------------------------------------------


def shop(repo: GitRepo, version: str = "1.0.0") -> None:
    repo.write("dbt_project.yml", PROJECT.format(version=version))
    repo.write("models/orders.sql", ORDERS_SQL)
    repo.write("models/orders.yml", ORDERS_YML)


def history(repo: GitRepo) -> GitRepo:
    shop(repo)
    repo.commit("shop")
    repo.write("models/orders.sql", "select 1 as id, 'open' as status\n")
    repo.commit("drop amount")
    return repo


def cli(
    repo_path: Path, *args: str, cwd: Path | None = None, roots: tuple[Path, ...] = ()
) -> Result:
    """Run a command with --repo, asserting it changed nothing under the repository (and roots)."""
    watched = (repo_path, *roots)
    before = fingerprint(*watched)
    result = semverlint(*args, "--repo", repo_path, cwd=cwd)
    assert result.code in (0, 1, 2), result.stderr
    assert changed(before, fingerprint(*watched)) == []
    return result


def rules_of(result: Result) -> list[tuple[str, str]]:
    return sorted((c["rule"], c["model"]) for p in result.json["projects"] for c in p["changes"])


def test_empty_repository(git_repo: GitRepo) -> None:
    assert cli(git_repo.path, "diff", "--format", "json").json["projects"] == []
    assert cli(git_repo.path, "check").code == 0
    assert cli(git_repo.path, "diff", "--staged", "--format", "json").json["projects"] == []
    failed = cli(git_repo.path, "diff", "HEAD~1..HEAD")
    assert failed.code == 2
    assert "unknown revision 'HEAD~1'" in failed.stderr
    assert "no projects found" in cli(git_repo.path, "bump").stderr


def test_unborn_head_reviews_everything_as_new(git_repo: GitRepo) -> None:
    shop(git_repo)
    worktree = cli(git_repo.path, "diff", "--format", "json")
    assert worktree.json["base"]["rev"] == "HEAD (no commits yet)"
    assert rules_of(worktree) == [("model-added", "orders")]
    git_repo.run("add", "models/orders.sql")
    staged = cli(git_repo.path, "diff", "--staged", "--format", "json")
    assert staged.json["head"]["rev"] == "index"
    assert cli(git_repo.path, "check", "HEAD..HEAD").code == 2


def test_detached_head(git_repo: GitRepo) -> None:
    history(git_repo)
    git_repo.run("checkout", "-q", "--detach", "HEAD~1")
    # the working tree is the old state: HEAD (old) to it is no change
    assert rules_of(cli(git_repo.path, "diff", "--format", "json")) == []
    forward = cli(git_repo.path, "diff", "HEAD..main", "--format", "json")
    assert rules_of(forward) == [("column-removed", "orders")]
    assert cli(git_repo.path, "check", "main...HEAD").code == 0


def test_bare_repository(git_repo: GitRepo, tmp_path: Path) -> None:
    history(git_repo)
    bare = git_repo.clone(tmp_path / "bare.git", "--bare")
    assert rules_of(cli(bare.path, "diff", "HEAD~1..HEAD", "--format", "json")) == [
        ("column-removed", "orders")
    ]
    refused = cli(bare.path, "diff")
    assert refused.code == 2
    assert "bare repository has no working tree" in refused.stderr


def test_linked_worktree(git_repo: GitRepo, tmp_path: Path) -> None:
    history(git_repo)
    git_repo.branch("feature", "HEAD~1")
    linked = tmp_path / "linked tree"
    git_repo.run("worktree", "add", "-q", str(linked), "feature")
    (linked / "models" / "orders.sql").write_text(
        ORDERS_SQL.replace(" as amount", " as amount, 2 as n")
    )
    result = cli(linked, "diff", "--format", "json", roots=(git_repo.path,))
    assert rules_of(result) == [("column-added", "orders")]
    ranged = cli(linked, "diff", "feature..main", "--format", "json", roots=(git_repo.path,))
    assert rules_of(ranged) == [("column-removed", "orders")]


def test_shallow_clone_never_fetches(git_repo: GitRepo, tmp_path: Path) -> None:
    history(git_repo)
    shallow = git_repo.clone(tmp_path / "shallow", "--depth", "1")
    result = cli(shallow.path, "diff", "HEAD~1..HEAD")
    assert result.code == 2
    assert "git fetch --deepen=1" in result.stderr
    assert "fetch-depth: 0" in result.stderr


@pytest.mark.parametrize(
    ("rng", "needle"),
    [
        ("HEAD^{tree}..HEAD", "names a tree, not a commit"),
        ("HEAD..v-blob", "names a blob, not a commit"),
        ("HEAD:models/orders.sql..HEAD", "names a file, not a commit"),
    ],
)
def test_a_revision_naming_a_tree_or_blob(git_repo: GitRepo, rng: str, needle: str) -> None:
    history(git_repo)
    git_repo.run("tag", "v-blob", git_repo.run("rev-parse", "HEAD:dbt_project.yml"))
    result = cli(git_repo.path, "diff", rng)
    assert result.code == 2
    assert needle in result.stderr


def test_unusual_revision_names(git_repo: GitRepo) -> None:
    history(git_repo)
    git_repo.branch("feat/ü-ñ.1_x", "HEAD~1")
    git_repo.tag("v1.0.0+build.5", "HEAD~1")
    git_repo.branch("@home", "HEAD")
    for rng in ("feat/ü-ñ.1_x..@home", "v1.0.0+build.5..main", "main@{1}..main", "@~1..@"):
        assert rules_of(cli(git_repo.path, "diff", rng, "--format", "json")) in (
            [("column-removed", "orders")],
            [],
        ), rng


@pytest.mark.parametrize(
    "rng",
    ["--output=/tmp/semverlint-pwned..HEAD", "HEAD~1..--upload-pack=touch", "-x", "HEAD@{", "a b"],
)
def test_option_like_revisions_never_reach_git(git_repo: GitRepo, tmp_path: Path, rng: str) -> None:
    history(git_repo)
    before = fingerprint(git_repo.path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    result = semverlint("diff", "--repo", git_repo.path, "--", rng, cwd=elsewhere)
    assert result.code == 2
    assert "bad revision" in result.stderr
    assert not Path("/tmp/semverlint-pwned").exists()
    assert list(elsewhere.iterdir()) == []
    assert changed(before, fingerprint(git_repo.path)) == []


def test_repository_path_with_spaces_and_unicode(tmp_path: Path) -> None:
    repo = history(GitRepo.init(tmp_path / "my repos ü" / "shop é 1"))
    result = cli(repo.path, "diff", "HEAD~1..HEAD", "--format", "json")
    assert rules_of(result) == [("column-removed", "orders")]
    from_inside = cli(Path("models"), "diff", "HEAD~1..HEAD", "--format", "json", cwd=repo.path)
    assert rules_of(from_inside) == [("column-removed", "orders")]


def test_a_subdirectory_of_the_repository(git_repo: GitRepo) -> None:
    history(git_repo)
    result = cli(git_repo.path / "models", "diff", "HEAD~1..HEAD", "--format", "json")
    assert rules_of(result) == [("column-removed", "orders")]


def test_a_partial_clone_is_not_fetched_into(git_repo: GitRepo, tmp_path: Path) -> None:
    history(git_repo)
    git_repo.run("config", "uploadpack.allowFilter", "true")
    partial = git_repo.clone(
        tmp_path / "partial", "--no-checkout", "--filter=blob:none", "--depth", "5"
    )
    # A cache of its own: with this very comparison remembered, no blob would be needed.
    env = {"SEMVERLINT_CACHE_DIR": str(tmp_path / "cache")}
    before = fingerprint(partial.path)
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", partial.path, env=env)
    assert changed(before, fingerprint(partial.path)) == []
    assert result.code == 2
    assert "partial clone" in result.stderr
