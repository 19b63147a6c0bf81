"""Tests for semverlint.snapshot against real git repositories built in temporary folders."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitrepo import GitRepo
from semverlint.errors import RepositoryError, RevisionError, ShallowCloneError, UsageError
from semverlint.revisions import RevisionInfo, RevisionRange, parse_range
from semverlint.snapshot import (
    INDEX_LABEL,
    UNBORN_LABEL,
    WORKTREE_LABEL,
    DirectorySnapshot,
    RepoLayout,
    Repository,
    Snapshot,
    _Git,
    ancestry_depth,
    fetch_command,
    parse_cat_file_batch,
    parse_layout,
)


def contents(snapshot: Snapshot) -> dict[str, bytes]:
    return snapshot.read_many(snapshot.paths())


def snapshots(path: Path, text: str | None, *, staged: bool = False) -> tuple[Snapshot, Snapshot]:
    with Repository.open(path) as repository:
        base, head = repository.snapshots(parse_range(text, staged=staged))
        # Read inside the `with`: the snapshots share the repository's git processes.
        contents(base), contents(head)
        return base, head


@pytest.fixture
def history(git_repo: GitRepo) -> GitRepo:
    """main: c1 (a, b) -> c2 (a changed, c added); feature from c1: d added, b changed."""
    git_repo.write("models/a.sql", "select 1 as id\n")
    git_repo.write("models/b.yml", "version: 2\n")
    git_repo.commit("c1")
    git_repo.tag("c1")
    git_repo.branch("feature")
    git_repo.write("models/a.sql", "select 2 as id\n")
    git_repo.write("models/c.sql", "select 3 as id\n")
    git_repo.commit("c2")
    git_repo.checkout("feature")
    git_repo.write("models/d.sql", "select 4 as id\n")
    git_repo.write("models/b.yml", "version: 2\nmodels: []\n")
    git_repo.commit("d1")
    git_repo.checkout("main")
    return git_repo


# --- range forms -------------------------------------------------------------------------------


def test_two_dot_range_compares_two_commits(history: GitRepo) -> None:
    base, head = snapshots(history.path, "c1..main")
    assert base.info == RevisionInfo("c1", history.sha("c1"))
    assert head.info == RevisionInfo("main", history.sha("main"))
    assert base.paths() == ("models/a.sql", "models/b.yml")
    assert head.paths() == ("models/a.sql", "models/b.yml", "models/c.sql")
    assert base.read("models/a.sql") == b"select 1 as id\n"
    assert head.read("models/a.sql") == b"select 2 as id\n"
    assert head.oid("models/a.sql") == history.run("rev-parse", "main:models/a.sql")


def test_three_dot_range_starts_at_the_merge_base(history: GitRepo) -> None:
    base, head = snapshots(history.path, "main...feature")
    assert base.info == RevisionInfo("merge base of main and feature", history.sha("c1"))
    assert head.info.commit == history.sha("feature")
    assert contents(base) == {"models/a.sql": b"select 1 as id\n", "models/b.yml": b"version: 2\n"}
    assert "models/c.sql" not in head.paths()  # main's later commit is not part of the review


def test_empty_side_means_head(history: GitRepo) -> None:
    base, head = snapshots(history.path, "c1..")
    assert (base.info.rev, head.info.rev) == ("c1", "HEAD")
    assert head.info.commit == history.sha("main")
    base, head = snapshots(history.path, "..c1")
    assert (base.info.rev, base.info.commit) == ("HEAD", history.sha("main"))
    assert head.info.commit == history.sha("c1")


def test_one_revision_compares_with_the_working_tree(history: GitRepo) -> None:
    history.write("models/a.sql", "select 99 as id\n")
    base, head = snapshots(history.path, "c1")
    assert base.info.rev == "c1"
    assert head.info == RevisionInfo(WORKTREE_LABEL, None)
    assert head.read("models/a.sql") == b"select 99 as id\n"
    assert head.oid("models/a.sql") is None


def test_no_range_compares_head_with_the_working_tree(history: GitRepo) -> None:
    base, head = snapshots(history.path, None)
    assert base.info == RevisionInfo("HEAD", history.sha("main"))
    assert head.info.rev == WORKTREE_LABEL
    assert contents(base) == contents(head)


def test_ancestry_and_tags_resolve(history: GitRepo) -> None:
    history.tag("v1.0.0", "c1", message="first release")  # annotated: peeled to its commit
    base, _ = snapshots(history.path, "v1.0.0..main~0")
    assert base.info.commit == history.sha("c1")
    base, _ = snapshots(history.path, "HEAD~1..HEAD")
    assert base.info.commit == history.sha("c1")


def test_remote_tracking_branch_resolves(history: GitRepo, tmp_path: Path) -> None:
    clone = history.clone(tmp_path / "clone")
    base, head = snapshots(clone.path, "origin/feature..origin/main")
    assert base.info == RevisionInfo("origin/feature", history.sha("feature"))
    assert head.info.commit == history.sha("main")
    base, _ = snapshots(clone.path, "origin/feature...HEAD")
    assert base.info.commit == history.sha("c1")


# --- revisions that do not name a commit -------------------------------------------------------


def test_unknown_revision_names_it_and_hints_at_fetch(history: GitRepo) -> None:
    with pytest.raises(RevisionError) as caught:
        snapshots(history.path, "main..nope")
    assert type(caught.value) is RevisionError
    assert "'nope'" in caught.value.message
    assert caught.value.hint is not None
    assert "git fetch origin nope" in caught.value.hint
    assert "git branch -a" in caught.value.hint


def test_unknown_remote_branch_hint_fetches_the_branch(history: GitRepo) -> None:
    with pytest.raises(RevisionError) as caught:
        snapshots(history.path, "origin/release..main")
    assert caught.value.hint is not None
    assert "git fetch origin release" in caught.value.hint


def test_option_like_revision_is_stopped_before_git(history: GitRepo) -> None:
    with pytest.raises(UsageError):
        snapshots(history.path, "--output=evil..main")


def test_option_like_revision_is_still_not_an_option_inside_git(
    history: GitRepo, tmp_path: Path
) -> None:
    # Defence in depth: even an unvalidated range cannot pass git an option.
    evil = tmp_path / "evil"
    rng = RevisionRange(f"--output={evil}", "main", "commit", False, "")
    with Repository.open(history.path) as repository, pytest.raises(RevisionError):
        repository.snapshots(rng)
    assert not evil.exists()


@pytest.mark.parametrize(
    ("revision", "kind"), [("main^{tree}", "tree"), ("TREE", "tree"), ("BLOB", "blob")]
)
def test_tree_or_blob_is_not_a_commit(history: GitRepo, revision: str, kind: str) -> None:
    tree = history.run("rev-parse", "main^{tree}")
    blob = history.run("rev-parse", "main:models/a.sql")
    revision = revision.replace("TREE", tree).replace("BLOB", blob)
    with pytest.raises(RevisionError, match=f"names a {kind}, not a commit"):
        snapshots(history.path, f"{revision}..main")


def test_tag_of_a_blob_is_not_a_commit(history: GitRepo) -> None:
    history.tag("blobtag", history.run("rev-parse", "main:models/a.sql"), message="a blob")
    with pytest.raises(RevisionError, match="'blobtag' names a blob"):
        snapshots(history.path, "blobtag")


def test_unrelated_histories_have_no_merge_base(history: GitRepo) -> None:
    history.run("checkout", "-q", "--orphan", "island")
    history.commit("island")
    with pytest.raises(RevisionError, match="no merge base") as caught:
        snapshots(history.path, "main...island")
    assert type(caught.value) is RevisionError
    assert caught.value.hint is not None
    assert "main..island" in caught.value.hint


# --- repositories of unusual shapes ------------------------------------------------------------


def test_bare_repository_reads_ranges_and_refuses_the_working_tree(
    history: GitRepo, tmp_path: Path
) -> None:
    bare = history.clone(tmp_path / "bare.git", "--bare")
    base, head = snapshots(bare.path, "main...feature")
    assert base.info.commit == history.sha("c1")
    assert "models/d.sql" in head.paths()
    for text, staged in ((None, False), ("main", False), (None, True)):
        with pytest.raises(UsageError, match="bare repository"):
            snapshots(bare.path, text, staged=staged)


@pytest.fixture
def deep(git_repo: GitRepo) -> GitRepo:
    """main: fork -> m1 -> m2; feature: fork -> f1 -> f2 (the fork is two commits back)."""
    git_repo.write("a.sql", "select 0\n")
    git_repo.commit("fork")
    git_repo.branch("feature")
    for name in ("m1", "m2"):
        git_repo.write("a.sql", f"select '{name}'\n")
        git_repo.commit(name)
    git_repo.checkout("feature")
    for name in ("f1", "f2"):
        git_repo.write("b.sql", f"select '{name}'\n")
        git_repo.commit(name)
    git_repo.checkout("main")
    return git_repo


def test_shallow_clone_missing_parent_gets_the_deepen_fix(deep: GitRepo, tmp_path: Path) -> None:
    shallow = deep.clone(tmp_path / "shallow", "--depth", "1")
    with pytest.raises(ShallowCloneError) as caught:
        snapshots(shallow.path, "HEAD~2..HEAD")
    error = caught.value
    assert "'HEAD~2'" in error.message
    assert "shallow" in error.message
    assert error.hint is not None
    assert "git fetch --deepen=2" in error.hint
    assert "git fetch --unshallow" in error.hint
    assert "fetch-depth: 0" in error.hint


def test_shallow_clone_missing_branch_gets_the_fetch_fix(deep: GitRepo, tmp_path: Path) -> None:
    shallow = deep.clone(tmp_path / "shallow", "--depth", "1")  # implies --single-branch
    with pytest.raises(ShallowCloneError) as caught:
        snapshots(shallow.path, "origin/feature...HEAD")
    assert caught.value.hint is not None
    assert "git fetch origin feature" in caught.value.hint
    assert "fetch-depth: 0" in caught.value.hint


def test_shallow_clone_missing_merge_base(deep: GitRepo, tmp_path: Path) -> None:
    shallow = deep.clone(tmp_path / "shallow", "--depth", "1", "--no-single-branch")
    with pytest.raises(ShallowCloneError, match="no merge base") as caught:
        snapshots(shallow.path, "origin/feature...origin/main")
    assert caught.value.hint is not None
    assert "--deepen" in caught.value.hint
    assert "fetch-depth: 0" in caught.value.hint
    base, _ = snapshots(shallow.path, "origin/feature..origin/main")  # two dots need no history
    assert base.paths() == ("a.sql", "b.sql")


def test_unborn_head_is_an_empty_base(git_repo: GitRepo) -> None:
    git_repo.write("models/a.sql", "select 1\n")
    base, head = snapshots(git_repo.path, None)
    assert base.info == RevisionInfo(UNBORN_LABEL, None)
    assert base.paths() == ()
    assert head.paths() == ("models/a.sql",)
    git_repo.run("add", "models/a.sql")
    base, head = snapshots(git_repo.path, None, staged=True)
    assert base.paths() == ()
    assert contents(head) == {"models/a.sql": b"select 1\n"}


@pytest.mark.parametrize("text", ["main", "main..HEAD", "HEAD..HEAD", "HEAD...HEAD"])
def test_unborn_head_still_rejects_other_revisions(git_repo: GitRepo, text: str) -> None:
    with pytest.raises(RevisionError):
        snapshots(git_repo.path, text)


def test_linked_worktree_and_subdirectory(history: GitRepo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    history.run("worktree", "add", "-q", str(linked), "feature")
    (linked / "models" / "new.sql").write_text("select 5\n")
    base, head = snapshots(linked / "models", None)
    assert base.info == RevisionInfo("HEAD", history.sha("feature"))
    assert "models/new.sql" in head.paths()
    assert "models/d.sql" in head.paths()
    with Repository.open(linked / "models") as repository:
        assert repository.root == linked


def test_opened_from_inside_its_git_directory_a_repository_reads_its_working_tree(
    history: GitRepo,
) -> None:
    with Repository.open(history.path / ".git" / "refs") as repository:
        assert repository.root == history.path.resolve()
        assert not repository.bare
        _, head = repository.snapshots(parse_range(None))
        assert head.info.rev == WORKTREE_LABEL
        assert "models/a.sql" in head.paths()


def test_a_folder_reached_through_a_symlink(history: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "via").symlink_to(history.path / "models")
    with Repository.open(tmp_path / "via") as repository:
        assert repository.root == history.path.resolve()


def test_git_missing_from_path_is_said_plainly(
    history: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RepositoryError, match="git cannot be run") as caught:
        Repository.open(history.path)
    assert caught.value.hint == "install git and put it on PATH"


_HEAD = "a" * 40


@pytest.mark.parametrize(
    ("status", "output", "layout"),
    [
        (0, f"false\ntrue\nfalse\n/r/.git\n\n{_HEAD}\n", RepoLayout("/w", False, False, _HEAD)),
        (0, f"false\ntrue\ntrue\n/r/.git\n../\n{_HEAD}\n", RepoLayout("/", False, True, _HEAD)),
        (1, "false\ntrue\nfalse\n/r/.git\n\n", RepoLayout("/w", False, False, None)),
        (0, f"true\nfalse\nfalse\n/b.git\n{_HEAD}\n", RepoLayout("/b.git", True, False, _HEAD)),
        (1, "true\nfalse\nfalse\n/b.git\n", RepoLayout("/b.git", True, False, None)),
        # Inside a working tree's .git: the working tree above it.
        (0, f"false\nfalse\nfalse\n/r/.git\n{_HEAD}\n", RepoLayout("/r", False, False, _HEAD)),
        # A git directory elsewhere, without a working tree: read as a bare one.
        (0, f"false\nfalse\nfalse\n/g/x\n{_HEAD}\n", RepoLayout("/g/x", True, False, _HEAD)),
        # A newline in the git directory's name is kept.
        (
            0,
            f"true\nfalse\nfalse\n/a\nb.git\n{_HEAD}\n",
            RepoLayout("/a\nb.git", True, False, _HEAD),
        ),
        (128, "", None),
        (0, "fatal\n", None),
        (0, "false\ntrue\nfalse\n", None),
        (0, "yes\ntrue\nfalse\n/r/.git\n\n", None),
    ],
)
def test_parse_layout(status: int, output: str, layout: RepoLayout | None) -> None:
    assert parse_layout("/w", status, output.encode()) == layout


def test_path_with_spaces(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "my repo with spaces")
    repo.write("dir with space/model name.sql", "select 1\n")
    repo.write("tab\tand ünïcode.sql", "select 2\n")
    repo.commit("c1")
    repo.write("dir with space/model name.sql", "select 3\n")
    base, head = snapshots(repo.path, None)
    assert base.paths() == ("dir with space/model name.sql", "tab\tand ünïcode.sql")
    assert base.read("tab\tand ünïcode.sql") == b"select 2\n"
    assert head.read("dir with space/model name.sql") == b"select 3\n"


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError) as caught:
        Repository.open(tmp_path)
    assert str(tmp_path) in caught.value.message
    assert caught.value.hint is not None
    assert "--repo PATH" in caught.value.hint
    assert "git init" in caught.value.hint
    with pytest.raises(RepositoryError, match="not a directory"):
        Repository.open(tmp_path / "missing")


# --- what each snapshot contains ---------------------------------------------------------------


def test_index_snapshot_shows_what_is_staged(history: GitRepo) -> None:
    history.write("models/a.sql", "select 'staged'\n")
    history.write("models/new.sql", "select 'new'\n")
    history.run("add", "models/a.sql", "models/new.sql")
    history.write("models/a.sql", "select 'unstaged'\n")
    history.run("rm", "-q", "--cached", "models/b.yml")
    base, head = snapshots(history.path, None, staged=True)
    assert base.info.rev == "HEAD"
    assert head.info == RevisionInfo(INDEX_LABEL, None)
    assert head.paths() == ("models/a.sql", "models/c.sql", "models/new.sql")
    assert head.read("models/a.sql") == b"select 'staged'\n"
    assert head.oid("models/new.sql") == history.run("rev-parse", ":models/new.sql")


def test_index_snapshot_honours_git_index_file(
    history: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pre-commit hook runs with GIT_INDEX_FILE naming the index being committed.
    other = history.path / ".git" / "other-index"
    history.run("read-tree", f"--index-output={other}", "c1")
    monkeypatch.setenv("GIT_INDEX_FILE", str(other))
    _, head = snapshots(history.path, None, staged=True)
    assert contents(head)["models/a.sql"] == b"select 1 as id\n"


def test_worktree_sees_untracked_files_but_not_ignored_or_deleted(history: GitRepo) -> None:
    history.write(".gitignore", "target/\n*.log\n")
    history.write("models/untracked.sql", "select 'u'\n")
    history.write("target/compiled.sql", "select 'ignored'\n")
    history.write("debug.log", "ignored\n")
    (history.path / "models" / "c.sql").unlink()
    _, head = snapshots(history.path, None)
    assert head.paths() == (".gitignore", "models/a.sql", "models/b.yml", "models/untracked.sql")
    with pytest.raises(KeyError):
        head.read("models/c.sql")
    with pytest.raises(KeyError):
        head.oid("target/compiled.sql")


def test_symlinks_are_never_followed(history: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.sql").write_text("select 'secret'\n")
    models = history.path / "models"
    os.symlink(outside / "secret.sql", models / "secret.sql")
    os.symlink(outside, models / "linked_dir")
    os.symlink("a.sql", models / "alias.sql")  # inside the repository, tracked as a symlink
    history.commit("links")
    base, head = snapshots(history.path, None)
    for snapshot in (base, head):
        assert not any("secret" in p or "linked_dir" in p or "alias" in p for p in snapshot.paths())
        with pytest.raises(KeyError):
            snapshot.read("models/secret.sql")
    assert contents(base) == contents(head)  # same rule on both sides: no phantom changes


def test_tracked_file_under_a_directory_swapped_for_a_symlink(
    history: GitRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.sql").write_text("select 'outside'\n")
    (outside / "b.yml").write_text("outside\n")
    for name in ("a.sql", "b.yml", "c.sql"):
        (history.path / "models" / name).unlink()
    (history.path / "models").rmdir()
    os.symlink(outside, history.path / "models")
    _, head = snapshots(history.path, None)
    assert head.paths() == ()


def test_submodules_are_skipped(history: GitRepo) -> None:
    gitlink = history.sha("c1")
    history.run("update-index", "--add", "--cacheinfo", f"160000,{gitlink},vendor/pkg")
    history.commit("add a submodule", add_all=False)
    base, head = snapshots(history.path, None)
    assert "vendor/pkg" not in base.paths()
    assert "vendor/pkg" not in head.paths()


def test_sparse_checkout_files_come_from_the_index(history: GitRepo) -> None:
    history.write("other/x.sql", "select 'x'\n")
    history.commit("other")
    history.run("sparse-checkout", "set", "models")
    assert not (history.path / "other").exists()
    base, head = snapshots(history.path, None)
    assert head.paths() == base.paths()
    assert head.read("other/x.sql") == b"select 'x'\n"
    assert head.oid("other/x.sql") == base.oid("other/x.sql")


@pytest.mark.parametrize("split_at", [1000, 2], ids=["one-process", "two-processes"])
def test_read_many_matches_read_and_rejects_unknown_paths(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, split_at: int
) -> None:
    monkeypatch.setattr("semverlint.snapshot._SPLIT_MIN_BLOBS", split_at)
    for i in range(40):  # past the one-shot batch threshold
        git_repo.write(f"m/{i:02}.sql", f"select {i}\n" * (i + 1))
    git_repo.write("m/same.sql", "select 0\n")  # the same blob as m/00.sql
    git_repo.write("m/empty.sql", "")
    git_repo.write("m/binary.bin", "\x00\n\n\x00 end")
    git_repo.commit("many")
    git_repo.write("new.sql", "select 'new'\n")
    base, head = snapshots(git_repo.path, None)
    many = base.read_many(base.paths())
    assert many == {path: base.read(path) for path in base.paths()}
    assert many["m/same.sql"] == many["m/00.sql"] == b"select 0\n"
    assert many["m/empty.sql"] == b""
    assert many["m/binary.bin"] == b"\x00\n\n\x00 end"
    assert head.read_many(["new.sql", "m/05.sql"]) == {
        "new.sql": b"select 'new'\n",
        "m/05.sql": b"select 5\n" * 6,
    }
    with pytest.raises(KeyError):
        base.read_many(["m/00.sql", "new.sql"])
    with pytest.raises(KeyError):
        base.oid("new.sql")


def _many_files(git_repo: GitRepo) -> dict[str, bytes]:
    files = {f"m/{i:02}.sql": f"select {i}\n".encode() * (i + 1) for i in range(40)}
    for path, raw in files.items():
        git_repo.write(path, raw.decode())
    git_repo.commit("many")
    return files


@pytest.mark.parametrize("split_at", [1000, 2], ids=["one-process", "two-processes"])
def test_prefetched_files_read_as_the_ordinary_path_reads_them(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, split_at: int
) -> None:
    monkeypatch.setattr("semverlint.snapshot._SPLIT_MIN_BLOBS", split_at)
    files = _many_files(git_repo)
    git_repo.write("m/00.sql", "select 'staged'\n")
    git_repo.run("add", "-A")
    with Repository.open(git_repo.path) as repository:
        base, head = repository.snapshots(parse_range(None, staged=True))
        head.prefetch(head.paths())
        base.prefetch(base.paths())  # all but one are on their way already
        # A few files asked for meanwhile (the configuration) are read without waiting.
        assert head.read_many(["m/07.sql"]) == {"m/07.sql": files["m/07.sql"]}
        assert base.read_many(base.paths()) == files
        assert head.read_many(head.paths()) == {**files, "m/00.sql": b"select 'staged'\n"}


def test_the_few_files_a_side_adds_are_read_ahead_too(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Staging one file leaves the base one blob of its own: read ahead with the rest, it
    # costs no git process of its own on the way (a tenth of a one-model check).
    files = _many_files(git_repo)
    git_repo.write("m/00.sql", "select 'staged'\n")
    git_repo.run("add", "-A")
    started: list[tuple[str, ...]] = []
    start = _Git.start

    def counted(self: _Git, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        if args[0] == "cat-file":
            started.append(args)
        return start(self, *args, **kwargs)

    monkeypatch.setattr(_Git, "start", counted)
    with Repository.open(git_repo.path) as repository:
        base, head = repository.snapshots(parse_range(None, staged=True))
        head.prefetch(head.paths())
        base.prefetch(base.paths())
        assert len(started) == 2
        assert head.read_many(head.paths())["m/00.sql"] == b"select 'staged'\n"
        assert base.read_many(base.paths()) == files
    assert len(started) == 2


def test_a_prefetch_that_fails_leaves_the_error_to_the_ordinary_path(git_repo: GitRepo) -> None:
    files = _many_files(git_repo)
    oid = git_repo.run("rev-parse", "HEAD:m/05.sql").strip()
    (git_repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()  # a damaged repository
    with Repository.open(git_repo.path) as repository:
        base, _ = repository.snapshots(parse_range("HEAD..HEAD"))
        base.prefetch(base.paths())
        assert base.read_many(["m/06.sql"]) == {"m/06.sql": files["m/06.sql"]}
        with pytest.raises(RepositoryError, match=f"git object {oid} is missing"):
            base.read_many(base.paths())


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists children through /proc")
def test_a_prefetch_nobody_reads_is_stopped_on_close(git_repo: GitRepo) -> None:
    import threading

    def children() -> set[str]:
        listing = Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children")
        return set(listing.read_text().split())

    _many_files(git_repo)
    before = children()
    with Repository.open(git_repo.path) as repository:
        base, _ = repository.snapshots(parse_range("HEAD..HEAD"))
        base.prefetch(base.paths())
        assert children() - before  # git is reading
    assert children() == before


# --- reading never writes ----------------------------------------------------------------------


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_reading_never_modifies_the_repository(history: GitRepo) -> None:
    history.write("models/staged.sql", "select 1\n")
    history.run("add", "models/staged.sql")
    history.write("models/untracked.sql", "select 2\n")
    # A stale stat cache: `git status` would rewrite the index now; nothing of ours may.
    os.utime(history.path / "models" / "a.sql", (1, 1))
    git_dir = history.path / ".git"
    before = _hash_tree(git_dir)
    assert "index" in before
    for text, staged in [(None, False), (None, True), ("c1", False), ("main...feature", False)]:
        snapshots(history.path, text, staged=staged)
    assert _hash_tree(git_dir) == before


def test_configured_fsmonitor_program_is_never_run(history: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    hook.chmod(0o755)
    history.run("config", "core.fsmonitor", str(hook))
    snapshots(history.path, None)
    snapshots(history.path, None, staged=True)
    assert not marker.exists()


# --- folders and pure helpers ------------------------------------------------------------------


def test_directory_snapshot(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    os.symlink("/etc/passwd", tmp_path / "models" / "passwd.sql")
    snapshot = DirectorySnapshot(tmp_path, label="before")
    assert snapshot.info == RevisionInfo("before", None)
    assert snapshot.paths() == ("models/a.sql",)
    assert snapshot.read_many(["models/a.sql"]) == {"models/a.sql": b"select 1\n"}
    assert snapshot.oid("models/a.sql") is None
    with pytest.raises(KeyError):
        snapshot.read("models/passwd.sql")
    with pytest.raises(UsageError):
        DirectorySnapshot(tmp_path / "missing")


@pytest.mark.parametrize(
    ("revision", "depth"), [("HEAD", 0), ("HEAD~3", 3), ("main^", 1), ("HEAD~2^2", 4), ("x~", 1)]
)
def test_ancestry_depth(revision: str, depth: int) -> None:
    assert ancestry_depth(revision) == depth


@pytest.mark.parametrize(
    ("revision", "command"),
    [
        ("origin/main", "git fetch origin main"),
        ("origin/feature/x~2", "git fetch origin feature/x"),
        ("release", "git fetch origin release"),
        ("v1.0@{1}", "git fetch origin v1.0"),
        ("HEAD~3", "git fetch --deepen=<n>"),
    ],
)
def test_fetch_command(revision: str, command: str) -> None:
    assert fetch_command(revision) == command


def test_cat_file_batch_reports_missing_objects() -> None:
    oid = "0" * 40
    with pytest.raises(RepositoryError, match="missing"):
        parse_cat_file_batch(f"{oid} missing\n".encode(), [oid])


def test_cat_file_batch_parses_a_memory_map_as_it_parses_bytes(tmp_path: Path) -> None:
    import mmap

    one, two = "1" * 40, "2" * 40
    output = f"{one} blob 3\nabc\n{two} blob 0\n\n".encode()
    (tmp_path / "out").write_bytes(output)
    with (
        (tmp_path / "out").open("rb") as file,
        mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
    ):
        assert parse_cat_file_batch(mapped, [one, two]) == {one: b"abc", two: b""}
    assert parse_cat_file_batch(output, [one, two]) == {one: b"abc", two: b""}


@pytest.mark.parametrize(("cut", "where"), [(10, "before"), (92, "before"), (102, "inside")])
def test_cat_file_batch_that_stops_short_is_an_error(cut: int, where: str) -> None:
    one, two = "1" * 40, "2" * 40
    output = f"{one} blob 3\nabc\n{two} blob 4\nabcd\n".encode()  # the second at byte 52
    with pytest.raises(RepositoryError, match=f"stopped {where}"):
        parse_cat_file_batch(output[:cut], [one, two])
