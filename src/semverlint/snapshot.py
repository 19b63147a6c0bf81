"""Read-only views of one state of a repository (commit, index, working tree) or of a folder."""

from __future__ import annotations

import mmap
import os
import re
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from semverlint.errors import RepositoryError, RevisionError, ShallowCloneError, UsageError
from semverlint.revisions import RevisionInfo, RevisionRange

WORKTREE_LABEL = "working tree"
INDEX_LABEL = "index"
UNBORN_LABEL = "HEAD (no commits yet)"

# Blob modes of files we read. 120000 (symlink) and 160000 (submodule) are left out on purpose:
# a symlink's blob is its target path, and following it could leave the repository.
_FILE_MODES = frozenset({"100644", "100755", "100664"})
# Below this many blobs asked for, a read started ahead with many more is not waited on: they
# are read again (the configuration, read while a project's files are coming).
_WAIT_MIN_BLOBS = 16
_SPLIT_MIN_BLOBS = 1000  # from here on, two `cat-file` processes read half each
_SKIP_WORKTREE_TAG = "S"
_ANCESTRY = re.compile(r"[~^]([0-9]*)")


class Snapshot(Protocol):
    """The files of one state, by POSIX path relative to the repository root."""

    @property
    def info(self) -> RevisionInfo: ...

    def paths(self) -> tuple[str, ...]:
        """Sorted paths of the regular files in this state."""
        ...

    def oid(self, path: str) -> str | None:
        """The git blob id of `path` when known without hashing, else None; KeyError if absent."""
        ...

    def read(self, path: str) -> bytes:
        """The content of `path`; KeyError if absent."""
        ...

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        """The content of each of `paths` (the fast path); KeyError if any is absent."""
        ...

    def prefetch(self, paths: Iterable[str]) -> None:
        """Start reading `paths`, which read_many will soon be asked for, in the background."""
        ...


@dataclass(frozen=True)
class IndexEntry:
    """One line of `git ls-files --stage -t`."""

    tag: str
    mode: str
    oid: str
    stage: int
    path: str


# --- parsing git's -z output: pure functions -------------------------------------------------


def split_z(output: bytes) -> list[str]:
    """Split NUL-terminated records into paths, keeping undecodable bytes as surrogates."""
    return [os.fsdecode(record) for record in output.split(b"\0") if record]


_LINK_MODE = "120000"
_LINK_PREFIX = _LINK_MODE.encode() + b" "


def parse_ls_tree_links(output: bytes) -> tuple[str, ...]:
    """The symlinks in `git ls-tree -r -z` output: listed so a report can name them, never read."""
    # A record starts the output or follows a NUL, and paths hold no NUL: when no record starts
    # with the symlink mode there is none, and the walk over every record can be skipped.
    if not output.startswith(_LINK_PREFIX) and b"\0" + _LINK_PREFIX not in output:
        return ()
    links: list[str] = []
    for record in output.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        if meta.startswith(_LINK_PREFIX):
            links.append(os.fsdecode(path))
    return tuple(sorted(links))


def parse_ls_tree(output: bytes) -> dict[str, str]:
    """Map path -> blob id for the regular files in `git ls-tree -r -z` output."""
    files: dict[str, str] = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.decode("ascii").split(" ")
        if kind == "blob" and mode in _FILE_MODES:
            files[os.fsdecode(path)] = oid
    return files


def parse_ls_files_stage(output: bytes) -> list[IndexEntry]:
    """Parse `git ls-files --stage -t -z` output."""
    entries: list[IndexEntry] = []
    for record in output.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        tag, mode, oid, stage = meta.decode("ascii").split(" ")
        entries.append(IndexEntry(tag, mode, oid, int(stage), os.fsdecode(path)))
    return entries


def parse_cat_file_batch(output: bytes | mmap.mmap, oids: list[str]) -> dict[str, bytes]:
    """Split `git cat-file --batch` output for `oids` (asked in that order) into contents.

    The output may be a file's memory map: its slices are the only copies made."""
    contents: dict[str, bytes] = {}
    position = 0
    for oid in oids:
        line_end = output.find(b"\n", position)
        if line_end == -1:
            raise RepositoryError(f"`git cat-file` stopped before git object {oid}")
        header = output[position:line_end].split(b" ")
        if len(header) != 3:
            raise _missing(oid)
        if header[1] != b"blob":
            kind = header[1].decode("ascii", "replace")
            raise RepositoryError(f"git object {oid} is a {kind}, not a file")
        start = line_end + 1
        position = start + int(header[2])
        if position > len(output):
            raise RepositoryError(f"`git cat-file` stopped inside git object {oid}")
        contents[oid] = output[start:position]
        position += 1  # content is followed by one LF
    return contents


def _missing(oid: str) -> RepositoryError:
    """A blob git cannot give: in a partial clone it was never fetched, and we never fetch."""
    return RepositoryError(
        f"git object {oid} is missing from this repository",
        hint="a partial clone (--filter=blob:none) leaves file contents on the server and "
        "semverlint never fetches: fetch them first (`git fetch --refetch origin`, or in GitHub "
        "Actions actions/checkout without `filter:`); otherwise the repository is damaged: "
        "run `git fsck`",
    )


def parse_index(output: bytes) -> tuple[dict[str, str], tuple[str, ...]]:
    """The merged (stage 0) regular files (path -> blob id) and symlinks of the index, from
    `git ls-files --stage -t -z` output: `index_files` and the links without an IndexEntry per
    record, whose making took half the time of listing a 5,000-file index."""
    files: dict[str, str] = {}
    links: list[str] = []
    for record in output.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        if not meta:
            continue
        _tag, mode, oid, stage = meta.decode("ascii").split(" ")
        if stage != "0":
            continue
        if mode in _FILE_MODES:
            files[os.fsdecode(path)] = oid
        elif mode == _LINK_MODE:
            links.append(os.fsdecode(path))
    return files, tuple(sorted(links))


def index_files(entries: Iterable[IndexEntry]) -> dict[str, str]:
    """Map path -> blob id for the merged (stage 0) regular files of the index."""
    return {e.path: e.oid for e in entries if e.stage == 0 and e.mode in _FILE_MODES}


def ancestry_depth(revision: str) -> int:
    """How many commits back `revision` reaches through ~N and ^ suffixes (a deepen hint)."""
    return sum(int(count) if count else 1 for count in _ANCESTRY.findall(revision))


def revision_name(revision: str) -> str:
    """The branch, tag or commit part of a revision, without ~, ^ or @{...} suffixes."""
    return re.split(r"[~^]|@\{", revision, maxsplit=1)[0]


def fetch_command(revision: str) -> str:
    """The `git fetch` that would bring `revision` in: `origin/x` is branch x on origin."""
    name = revision_name(revision)
    if not name or name in {"HEAD", "@"}:
        return "git fetch --deepen=<n>"
    remote, slash, branch = name.partition("/")
    if slash and remote == "origin":
        return f"git fetch origin {branch}"
    return f"git fetch origin {name}"


def shallow_hint(revision: str) -> str:
    """The exact fixes for a revision that a shallow clone lacks."""
    depth = ancestry_depth(revision)
    deepen = f"git fetch --deepen={depth}" if depth else "git fetch --deepen=<n>"
    return (
        f"fetch it with `{fetch_command(revision)}` or `{deepen}`, or fetch all history with "
        "`git fetch --unshallow`; in GitHub Actions give actions/checkout `fetch-depth: 0`"
    )


# --- reading files -----------------------------------------------------------------------------


def _read_file(root: Path, path: str) -> bytes:
    """Read a file under `root` without following a symlink swapped in since listing."""
    try:
        fd = os.open(root / path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RepositoryError(f"cannot read {path}: {exc.strerror}") from exc


class _SafeFiles:
    """Decides which paths under a root are regular files that stay inside it."""

    def __init__(self, root: Path) -> None:
        # Plain strings, not Path: pathlib's joins were half the cost of listing 5,000 files.
        self._root = os.fspath(root)
        self._real_root = os.path.realpath(root)
        self._dirs: dict[str, bool] = {}

    def is_regular(self, path: str) -> bool:
        """True for a regular file (not a symlink, directory or special file) inside the root."""
        try:
            mode = os.lstat(os.path.join(self._root, path)).st_mode
        except OSError:
            return False  # deleted on disk, or unreadable: not part of this state
        return stat.S_ISREG(mode) and self._parent_inside(path)

    def _parent_inside(self, path: str) -> bool:
        # Git may list `a/b.sql` after `a` was replaced on disk by a symlink to elsewhere.
        parent = path.rpartition("/")[0]
        if parent not in self._dirs:
            actual = os.path.realpath(os.path.join(self._root, parent))
            self._dirs[parent] = actual == os.path.join(self._real_root, parent).rstrip(os.sep)
        return self._dirs[parent]


class _Blobs:
    """Reads blobs from the object database of one opened repository.

    Base and head share this reader, and most of their files are the same blobs: each is
    read once, and both sides get the same bytes object, so comparing them is free.
    """

    def __init__(self, git: _Git) -> None:
        self._git = git
        self._read: dict[str, bytes] = {}
        self._coming: list[_Coming] = []

    def read(self, oid: str) -> bytes:
        return self.read_many([oid])[oid]

    def prefetch(self, oids: Iterable[str]) -> None:
        """Start reading blobs that read_many will be asked for: git inflates them into
        unnamed temporary files, on the other cores, while this process goes on with work
        that needs no file (loading modules, validating the configuration). A file rather
        than a pipe: draining a pipe would need this process's attention, 64 KB at a time."""
        wanted = sorted(set(oids) - self._read.keys() - {o for b in self._coming for o in b.oids})
        if not wanted:
            return
        for part in [wanted] if len(wanted) < _SPLIT_MIN_BLOBS else _halves(wanted):
            started = _Coming.start(self._git, part)
            if started is not None:
                self._coming.append(started)

    def _collect(self, asked: set[str]) -> None:
        """Take in what the prefetches of `asked` read: a few blobs are read again rather
        than waited for in a read of many (the configuration, read while the rest is
        coming). What a prefetch failed to read is read again, and any error reported, as
        usual."""
        missing = asked - self._read.keys()
        for batch in [
            b
            for b in self._coming
            if not missing.isdisjoint(b.oids)
            and (len(missing) >= _WAIT_MIN_BLOBS or len(b.oids) < _WAIT_MIN_BLOBS)
        ]:
            self._coming.remove(batch)
            self._read.update(batch.finish())

    def close(self) -> None:
        """Stop the prefetches nobody asked for (a remembered comparison needs no file)."""
        coming, self._coming = self._coming, []
        for batch in coming:
            batch.abandon()

    def read_many(self, oids: Iterable[str]) -> dict[str, bytes]:
        """Blobs by id: those not read yet through one `git cat-file --batch` fed all their
        ids at once (measured 1.6x faster than one at a time), split over two processes
        for thousands: inflating them is git's work, and it takes two cores (0.12 s ->
        0.07 s for 5,000 blobs, 12 MB)."""
        asked = set(oids)
        if self._coming:
            self._collect(asked)
        wanted = sorted(asked - self._read.keys())
        parts = _halves(wanted) if len(wanted) >= _SPLIT_MIN_BLOBS else [wanted] if wanted else []
        if len(parts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(parts)) as pool:
                outputs = list(pool.map(self._batch, parts))
        else:
            outputs = [self._batch(part) for part in parts]
        for part, output in zip(parts, outputs, strict=True):
            self._read.update(parse_cat_file_batch(output, part))
        return {oid: self._read[oid] for oid in asked}

    def _batch(self, oids: list[str]) -> bytes:
        """The `git cat-file --batch` output for `oids`."""
        request = "".join(f"{oid}\n" for oid in oids).encode("ascii")
        proc = self._git.start("cat-file", "--batch", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        # A thread feeds the ids and drains stderr while this one reads the answer in one
        # call: no pipe can fill and stall git, and a single read is cheaper than the
        # small chunks communicate() reads.
        errors: list[bytes] = []
        feeder = threading.Thread(target=_feed, args=(proc, request, errors))
        feeder.start()
        try:
            output: bytes = proc.stdout.read()
        finally:
            feeder.join()
            status = proc.wait()
        if status != 0:
            message = b"".join(errors).decode("utf-8", "replace").strip()
            if "promisor" in message:  # a partial clone that would fetch the blob
                raise _missing(next((o for o in oids if o in message), oids[0]))
            raise RepositoryError(f"`git cat-file` failed: {message}")
        return output


class _Coming:
    """One `git cat-file --batch` started ahead, reading a request file into an output file."""

    def __init__(self, oids: list[str], process: subprocess.Popen[bytes], output: IO[bytes]):
        self._asked = oids
        self.oids = frozenset(oids)
        self._process = process
        self._output = output

    @classmethod
    def start(cls, git: _Git, oids: list[str]) -> _Coming | None:
        """The read, started; None when it cannot be (the ordinary path will say why)."""
        request = "".join(f"{oid}\n" for oid in oids).encode("ascii")
        output = tempfile.TemporaryFile()  # closed by finish() or abandon()  # noqa: SIM115
        try:
            with tempfile.TemporaryFile() as requests:
                requests.write(request)
                requests.seek(0)
                process = git.start(
                    "cat-file", "--batch", stdin=requests, stdout=output, quiet=True
                )
        except (OSError, RepositoryError):
            output.close()
            return None
        return cls(oids, process, output)

    def finish(self) -> dict[str, bytes]:
        """The blobs read, by id; none when git failed."""
        try:
            if self._process.wait() != 0:
                return {}
            # Mapped, not read: reading would copy 12 MB once more (7 ms of a one-model
            # check at 5,000 models, most of it the first touch of new memory).
            with mmap.mmap(self._output.fileno(), 0, access=mmap.ACCESS_READ) as output:
                return parse_cat_file_batch(output, self._asked)
        except (OSError, ValueError, RepositoryError):
            return {}
        finally:
            self._output.close()

    def abandon(self) -> None:
        self._process.kill()
        self._process.wait()
        self._output.close()


def _feed(proc: subprocess.Popen[bytes], request: bytes, errors: list[bytes]) -> None:
    assert proc.stdin is not None
    assert proc.stderr is not None
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except OSError:  # git ended early: what it said is on stderr
        pass
    errors.append(proc.stderr.read())


def _halves(items: list[str]) -> list[list[str]]:
    middle = len(items) // 2
    return [items[:middle], items[middle:]]


# --- snapshots ---------------------------------------------------------------------------------


class BlobSnapshot:
    """A state stored in git objects: a commit, the index, or nothing (an unborn HEAD)."""

    def __init__(
        self,
        info: RevisionInfo,
        files: Mapping[str, str],
        blobs: _Blobs | None,
        links: tuple[str, ...] = (),
    ) -> None:
        self._info = info
        self._files = dict(files)
        self._blobs = blobs
        self._paths = tuple(sorted(self._files))
        self._links = links

    def links(self) -> tuple[str, ...]:
        """Symlinks in this state: never followed, named so a report can say so."""
        return self._links

    @property
    def info(self) -> RevisionInfo:
        return self._info

    def paths(self) -> tuple[str, ...]:
        return self._paths

    def oid(self, path: str) -> str | None:
        return self._files[path]

    def read(self, path: str) -> bytes:
        oid = self._files[path]
        assert self._blobs is not None  # only the empty snapshot has no reader
        return self._blobs.read(oid)

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        oids = {path: self._files[path] for path in paths}
        if not oids:
            return {}
        assert self._blobs is not None
        contents = self._blobs.read_many(oids.values())
        return {path: contents[oid] for path, oid in oids.items()}

    def prefetch(self, paths: Iterable[str]) -> None:
        if self._blobs is not None:
            self._blobs.prefetch(self._files[path] for path in paths)


class WorktreeSnapshot:
    """The working tree: files git would track, read from disk (sparse-checkout ones from git)."""

    def __init__(
        self,
        root: Path,
        on_disk: Iterable[str],
        in_index: Mapping[str, str],
        blobs: _Blobs,
        links: tuple[str, ...] = (),
    ) -> None:
        self._links = links
        self._root = root
        self._on_disk = frozenset(on_disk)
        # Files outside a sparse checkout are not on disk but are still part of this state.
        self._in_index = {p: oid for p, oid in in_index.items() if p not in self._on_disk}
        self._blobs = blobs
        self._paths = tuple(sorted(self._on_disk | self._in_index.keys()))

    @property
    def info(self) -> RevisionInfo:
        return RevisionInfo(WORKTREE_LABEL, None)

    def links(self) -> tuple[str, ...]:
        """Tracked symlinks: never followed, named so a report can say so."""
        return self._links

    def paths(self) -> tuple[str, ...]:
        return self._paths

    def oid(self, path: str) -> str | None:
        if path in self._on_disk:
            return None  # hashing the file would cost as much as reading it
        return self._in_index[path]

    def read(self, path: str) -> bytes:
        if path in self._on_disk:
            return _read_file(self._root, path)
        return self._blobs.read(self._in_index[path])

    def prefetch(self, paths: Iterable[str]) -> None:
        # Files on disk are read when asked: the OS has them in memory already, most likely.
        self._blobs.prefetch(self._in_index[p] for p in paths if p not in self._on_disk)

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        wanted = list(paths)
        from_git = [p for p in wanted if p not in self._on_disk]
        contents = self._blobs.read_many(self._in_index[p] for p in from_git) if from_git else {}
        return {
            p: _read_file(self._root, p) if p in self._on_disk else contents[self._in_index[p]]
            for p in wanted
        }


class DirectorySnapshot:
    """A plain folder on disk (fixtures, non-git use): its regular files, `.git` left out."""

    def __init__(self, root: Path, label: str = "directory") -> None:
        if not root.is_dir():
            raise UsageError(f"{root} is not a directory")
        self._root = root
        self._info = RevisionInfo(label, None)
        self._paths = tuple(sorted(_walk_files(root)))
        self._known = frozenset(self._paths)

    @property
    def info(self) -> RevisionInfo:
        return self._info

    def paths(self) -> tuple[str, ...]:
        return self._paths

    def oid(self, path: str) -> str | None:
        if path not in self._known:
            raise KeyError(path)
        return None

    def read(self, path: str) -> bytes:
        if path not in self._known:
            raise KeyError(path)
        return _read_file(self._root, path)

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        return {path: self.read(path) for path in paths}

    def prefetch(self, paths: Iterable[str]) -> None:
        """Nothing to start: a folder's files are read when asked."""


def _walk_files(root: Path) -> list[str]:
    """POSIX paths of the regular files under `root`; symlinks are neither listed nor followed."""
    files: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        relative = Path(directory).relative_to(root)
        for name in filenames:
            path = (relative / name).as_posix()
            if stat.S_ISREG(os.lstat(root / path).st_mode):
                files.append(path)
    return files


# --- the repository ----------------------------------------------------------------------------


def _git_environment() -> dict[str, str]:
    """Environment for every git process we start, so that reading never writes or runs code."""
    # GIT_OPTIONAL_LOCKS=0: no index.lock, no rewrite of the index stat cache.
    # GIT_TERMINAL_PROMPT=0: a partial clone's lazy fetch must never block on a password prompt.
    # core.fsmonitor=false: the configured fsmonitor is a program; reading must not start it.
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
    # GIT_NO_LAZY_FETCH=1: a partial clone reports a missing blob instead of fetching it
    # (git 2.44 and later; older git ignores it, see SECURITY.md).
    return {
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "core.fsmonitor",
        f"GIT_CONFIG_VALUE_{count}": "false",
    }


@dataclass(frozen=True)
class _Git:
    """How every git process of one repository starts: in its root, with the environment of
    _git_environment() over ours.

    git runs directly, not through GitPython: importing GitPython and going through its
    Repo took 85 ms of a 0.45 s pre-commit run, where the same three git processes started
    here take 25 ms (measured at 5,000 models)."""

    cwd: str
    env: Mapping[str, str]

    @classmethod
    def at(cls, cwd: str) -> _Git:
        # LC_ALL=C: git's messages in English, whatever the user's language, as a reason
        # (not a repository, a blob a partial clone lacks) is told apart by git's words.
        return cls(cwd, {**os.environ, **_git_environment(), "LC_ALL": "C"})

    def start(
        self, *args: str, stdin: int | IO[bytes], stdout: int | IO[bytes], quiet: bool = False
    ) -> subprocess.Popen[bytes]:
        """A git process, stderr piped unless `quiet`; RepositoryError when git cannot run."""
        try:
            return subprocess.Popen(
                ["git", *args],
                cwd=self.cwd,
                env=self.env,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.DEVNULL if quiet else subprocess.PIPE,
            )
        except OSError as exc:
            raise _cannot_run(exc) from exc

    def run(self, *args: str) -> tuple[int, bytes, str]:
        """Run git to its end: (exit status, stdout bytes, stderr text); never raises git's
        errors."""
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
        except OSError as exc:
            raise _cannot_run(exc) from exc
        return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")


def _cannot_run(exc: OSError) -> RepositoryError:
    return RepositoryError(
        f"git cannot be run: {exc.strerror or exc}", hint="install git and put it on PATH"
    )


@dataclass(frozen=True)
class RepoLayout:
    """Where a repository is, as `git rev-parse` tells it from a folder in or under it."""

    root: str  # the working tree's top, or the git directory of a repository without one
    bare: bool
    shallow: bool
    head: str | None  # the commit HEAD names; None on an unborn branch


# One process answers everything opening a repository needs; HEAD is resolved too, as nearly
# every range names it (with --quiet, a HEAD that names no commit only makes it exit 1).
LAYOUT_QUERY = (
    "rev-parse",
    "--is-bare-repository",
    "--is-inside-work-tree",
    "--is-shallow-repository",
    "--absolute-git-dir",
    "--show-cdup",
    "--verify",
    "--quiet",
    "--end-of-options",
    "HEAD^{commit}",
)


def parse_layout(where: str, status: int, output: bytes) -> RepoLayout | None:
    """The layout from LAYOUT_QUERY's output, run in `where`; None when it is not one.

    The answers come a line each, in order: bare, inside a working tree, shallow, the git
    directory, then (inside a working tree only) the way up to its top, and HEAD's commit
    when it has one. The git directory may hold a newline; the lines around it cannot.
    """
    if status not in (0, 1):
        return None
    lines = os.fsdecode(output).split("\n")
    if lines[-1] == "":
        lines.pop()
    flags, rest = lines[:3], lines[3:]
    if len(flags) != 3 or any(f not in ("true", "false") for f in flags):
        return None
    bare, inside, shallow = (f == "true" for f in flags)
    head = rest.pop() if status == 0 and rest else None
    cdup = rest.pop() if inside and rest else None
    git_dir = "\n".join(rest)
    if not git_dir:
        return None
    if cdup is not None:
        # git counts the way up from where it runs: the physical folder, symlinks resolved.
        root = os.path.normpath(os.path.join(os.path.realpath(where), cdup))
    elif not bare and os.path.basename(git_dir) == ".git":
        root = os.path.dirname(git_dir)  # asked from inside .git: its working tree is above
    else:
        root, bare = git_dir, True  # a git directory without a working tree to read
    return RepoLayout(root, bare, shallow, head)


# `git ls-files` rather than parsing .git/index: 3 ms for 5,000 entries, and it honours
# GIT_INDEX_FILE (set in pre-commit hooks) and every index format.
_LS_INDEX = ("ls-files", "--stage", "-t", "-z")
_LS_OTHERS = ("ls-files", "-z", "--others", "--exclude-standard")


@dataclass(frozen=True)
class _Running:
    """A git process started, its output taken when needed."""

    args: tuple[str, ...]
    process: subprocess.Popen[bytes]

    def output(self) -> bytes:
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            message = err.decode("utf-8", "replace").strip()
            raise RepositoryError(f"`git {' '.join(self.args)}` failed: {message}")
        return out

    def stop(self) -> None:
        self.process.kill()
        self.process.communicate()


class Repository:
    """A git repository opened read-only; makes the base and head snapshots of a range."""

    def __init__(self, layout: RepoLayout) -> None:
        self._layout = layout
        self._git = _Git.at(layout.root)
        self._blobs = _Blobs(self._git)
        # Revision -> the commit it names (None: none), as far as already asked of git.
        self._resolved: dict[str, str | None] = {"HEAD": layout.head}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Repository:
        """Open the repository at or above `path` (bare ones included)."""
        where = os.path.abspath(os.fspath(path))
        if not os.path.isdir(where):
            raise RepositoryError(
                f"{os.fspath(path)} is not a directory", hint="point `--repo PATH` at a repository"
            )
        status, out, err = _Git.at(where).run(*LAYOUT_QUERY)
        layout = parse_layout(where, status, out)
        if layout is not None:
            return cls(layout)
        if "safe.directory" in err:
            raise RepositoryError(
                f"git refuses to read {os.fspath(path)}: it is owned by another user",
                hint=f"if you trust it: git config --global --add safe.directory {where}",
            )
        if "not a git repository" in err:
            raise RepositoryError(
                f"{os.fspath(path)} is not inside a git repository",
                hint="point `--repo PATH` at a repository, or run `git init` to make one",
            )
        raise RepositoryError(f"git cannot read the repository at {os.fspath(path)}: {err.strip()}")

    @property
    def root(self) -> Path:
        """The working tree's root, or the git directory of a bare repository."""
        return Path(self._layout.root)

    @property
    def bare(self) -> bool:
        return self._layout.bare

    @property
    def shallow(self) -> bool:
        return self._layout.shallow

    def snapshots(self, rng: RevisionRange) -> tuple[Snapshot, Snapshot]:
        """The (base, head) snapshots of `rng`."""
        if rng.head_kind != "commit" and self.bare:
            raise UsageError(
                "a bare repository has no working tree or index: give a range A..B",
                hint="e.g. main..feature, or origin/main...HEAD",
            )
        # The index is listed while the base is: two git processes at once, not one after
        # the other (each spends a few milliseconds starting and reading the repository).
        index = self._begin(*_LS_INDEX) if rng.head_kind != "commit" else None
        others = self._begin(*_LS_OTHERS) if rng.head_kind == "worktree" else None
        try:
            if rng.merge_base:
                assert rng.head is not None  # parse_range sets head for every A...B
                base = self._merge_base_snapshot(rng.base, rng.head)
            else:
                base = self._base_snapshot(rng.base)
        except BaseException:
            for running in (index, others):
                if running is not None:
                    running.stop()
            raise
        head: Snapshot
        if rng.head_kind == "worktree":
            assert index is not None
            assert others is not None
            entries = parse_ls_files_stage(index.output())
            head = self._worktree_snapshot(entries, split_z(others.output()))
        elif rng.head_kind == "index":
            assert index is not None
            files, links = parse_index(index.output())
            head = BlobSnapshot(RevisionInfo(INDEX_LABEL, None), files, self._blobs, links)
        else:
            assert rng.head is not None
            head = self._commit_snapshot(RevisionInfo(rng.head, self._commit(rng.head)))
        return base, head

    def close(self) -> None:
        """Stop the git processes still reading objects ahead."""
        self._blobs.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- resolving --------------------------------------------------------------------------

    def _base_snapshot(self, revision: str) -> Snapshot:
        # Resolve first (HEAD already was, when the repository was opened) and ask whether
        # HEAD is unborn only when that fails: no git process here in the common case.
        commit = self._resolve(revision)
        if commit is None and revision in {"HEAD", "@"} and self._unborn():
            # A first commit is reviewed against nothing: every file is new.
            return BlobSnapshot(RevisionInfo(UNBORN_LABEL, None), {}, None)
        if commit is None:
            raise self._unresolved(revision)
        return self._commit_snapshot(RevisionInfo(revision, commit))

    def _merge_base_snapshot(self, base: str, head: str) -> Snapshot:
        base_sha, head_sha = self._commit(base), self._commit(head)
        status, out, err = self._git.run("merge-base", "--end-of-options", base_sha, head_sha)
        if status == 1 and not err.strip():
            message = f"'{base}' and '{head}' have no merge base"
            if self._layout.shallow:
                raise ShallowCloneError(f"{message} in this shallow clone", hint=shallow_hint(base))
            raise RevisionError(
                f"{message}: their histories never meet",
                hint=f"compare them directly with a two-dot range: {base}..{head}",
            )
        if status != 0:
            raise RepositoryError(f"`git merge-base {base} {head}` failed: {err.strip()}")
        label = f"merge base of {base} and {head}"
        return self._commit_snapshot(RevisionInfo(label, out.decode("ascii").strip()))

    def _commit(self, revision: str) -> str:
        """The full id of the commit `revision` names, or a RevisionError saying why not."""
        commit = self._resolve(revision)
        if commit is None:
            raise self._unresolved(revision)
        return commit

    def _resolve(self, revision: str) -> str | None:
        """The full id of the commit `revision` names, or None."""
        if revision not in self._resolved:
            # --end-of-options: even a validated revision is never parsed as an option.
            status, out, _ = self._git.run(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
            )
            self._resolved[revision] = out.decode("ascii").strip() if status == 0 else None
        return self._resolved[revision]

    def _unresolved(self, revision: str) -> RevisionError:
        """Why `revision` names no commit: another kind of object, or one this clone lacks."""
        status, out, _ = self._git.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{}}"
        )
        if status == 0:
            kind = self._object_type(out.decode("ascii").strip())
            return RevisionError(
                f"'{revision}' names a {kind}, not a commit",
                hint="give a branch, tag or commit, e.g. main, v1.2.0 or HEAD~1",
            )
        if self._layout.shallow:
            return ShallowCloneError(
                f"revision '{revision}' is not in this shallow clone",
                hint=shallow_hint(revision),
            )
        return RevisionError(
            f"unknown revision '{revision}'",
            hint=f"if it is on the remote, `{fetch_command(revision)}`; "
            "`git branch -a` lists the branches you have",
        )

    def _object_type(self, oid: str) -> str:
        status, out, _ = self._git.run("cat-file", "-t", "--end-of-options", oid)
        return out.decode("ascii").strip() if status == 0 else "object"

    def _unborn(self) -> bool:
        """True when HEAD names a branch that has no commit yet (a new repository)."""
        status, _, _ = self._git.run("rev-parse", "--verify", "--quiet", "HEAD")
        if status == 0:
            return False
        status, _, _ = self._git.run("symbolic-ref", "--quiet", "HEAD")
        return status == 0

    # -- listing ----------------------------------------------------------------------------

    def _commit_snapshot(self, info: RevisionInfo) -> Snapshot:
        assert info.commit is not None
        # One ls-tree process lists 5,000 files in ~7 ms; GitPython's tree walk takes ~37 ms.
        output = self._checked("ls-tree", "-r", "-z", "--full-tree", info.commit)
        return BlobSnapshot(info, parse_ls_tree(output), self._blobs, parse_ls_tree_links(output))

    def _worktree_snapshot(self, entries: list[IndexEntry], untracked: list[str]) -> Snapshot:
        """The working tree, from the index's entries (_LS_INDEX) and the files git does not
        track but would (_LS_OTHERS)."""
        root = self.root
        sparse = {
            e.path: e.oid
            for e in entries
            if e.tag == _SKIP_WORKTREE_TAG and e.stage == 0 and e.mode in _FILE_MODES
        }
        # Index symlinks and submodules stay out, as in commit snapshots; untracked entries
        # ending in '/' are nested repositories.
        tracked = (e.path for e in entries if e.mode in _FILE_MODES and e.path not in sparse)
        safe = _SafeFiles(root)
        on_disk = {
            path
            for path in (*tracked, *untracked)
            if not path.endswith("/") and safe.is_regular(path)
        }
        links = tuple(sorted(e.path for e in entries if e.stage == 0 and e.mode == _LINK_MODE))
        return WorktreeSnapshot(root, on_disk, sparse, self._blobs, links)

    # -- running git ------------------------------------------------------------------------

    def _begin(self, *args: str) -> _Running:
        return _Running(
            args, self._git.start(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        )

    def _checked(self, *args: str) -> bytes:
        status, out, err = self._git.run(*args)
        if status != 0:
            raise RepositoryError(f"`git {' '.join(args)}` failed: {err.strip()}")
        return out
