"""A content-addressed cache of rendered and analysed models: in memory for one run, on disk
across runs.

Keys hash everything a result depends on (tool and sqlglot versions, dialect, the
model's text, the project's macros and vars, upstream columns), so a stale entry
can never be found. Values are JSON, never pickle: a cache directory restored in
CI from another branch must not be able to run code. Writes are atomic; an entry
that does not read back is deleted and treated as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

from semverlint import __version__

CACHE_ENV = "SEMVERLINT_CACHE_DIR"


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...
    def put(self, key: str, value: Any) -> None: ...
    def close(self) -> None: ...


@cache
def _engine_version() -> str:
    """Results depend on sqlglot's behaviour: a new sqlglot must not read old entries."""
    return _installed_version("sqlglot") or _metadata_version("sqlglot")


def _installed_version(package: str) -> str | None:
    """The version in the name installers give a package's metadata folder beside it
    (`sqlglot-30.1.0.dist-info`), when there is exactly one: asking importlib.metadata
    costs 20-35 ms of imports, a twentieth of a one-model run."""
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.dirname(next(iter(spec.submodule_search_locations)))
    prefix, suffix = f"{package}-", ".dist-info"
    try:
        found = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(suffix)]
    except OSError:
        return None
    return found[0][len(prefix) : -len(suffix)] if len(found) == 1 else None


def _metadata_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


# The shape and meaning of the values: bumped when either changes within one release (a
# field added, a message worded anew), so that a cache filled by an earlier build of the
# same version is never read as the new one.
FORMAT = 5


def make_key(*parts: Any) -> str:
    payload = json.dumps(
        [__version__, FORMAT, _engine_version(), *parts], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


T = TypeVar("T")


def read(cache: Cache, key: str, decode: Callable[[Any], T]) -> T | None:
    """The entry under `key` decoded, or None: a miss, and so is an entry that is valid
    JSON of another shape (written by hand, or damaged in a way JSON still reads). The
    caller computes the value again and its put replaces the entry: the cache heals."""
    value = cache.get(key)
    if value is None:
        return None
    try:
        return decode(value)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


@dataclass
class MemoryCache:
    """One run's results: base and head share every model they have in common."""

    entries: dict[str, Any] = field(default_factory=dict)
    inner: Cache | None = None

    def get(self, key: str) -> Any | None:
        if key in self.entries:
            return self.entries[key]
        value = self.inner.get(key) if self.inner is not None else None
        if value is not None:
            self.entries[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = value
        if self.inner is not None:
            self.inner.put(key, value)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


@dataclass
class DirectoryCache:
    """Entries as files; writes go to a background thread, since the run never reads them back."""

    root: Path
    _writer: ThreadPoolExecutor | None = None
    # The entry folders, listed on the first look: a cold cache answers a miss without a
    # failed open (thousands of them in a large change). An entry another run writes
    # meanwhile into a folder new to it is missed and computed again, which is only slower.
    _present: frozenset[str] | None = None
    # Touched by the writer thread only.
    _folders: set[str] = field(default_factory=set)
    _writes: Iterator[int] = field(default_factory=itertools.count)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> Any | None:
        if self._present is None:
            try:
                self._present = frozenset(os.listdir(self.root))
            except OSError:  # no cache yet, or not a folder: nothing to read
                self._present = frozenset()
        if key[:2] not in self._present:
            return None
        path = self._path(key)
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()  # self-healing: a corrupt entry is a miss, rebuilt on the next put
            return None

    def put(self, key: str, value: Any) -> None:
        if self._writer is None:
            # Imported on the first write: it brings in logging and threading machinery that
            # a run which reads no model never needs.
            from concurrent.futures import ThreadPoolExecutor

            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semverlint-cache")
        # Encoded in the writer too: values are never changed once put, and this thread
        # is waiting on workers much of the time a large change takes.
        self._writer.submit(self._write, key, value)

    def _write(self, key: str, value: Any) -> None:
        # A large change writes ten thousand entries: mkstemp's random names and a mkdir per
        # entry were a third of the cost. The name is unique to this process and write, and
        # O_EXCL refuses a file left by a dead process of the same id (the entry is skipped).
        folder = os.path.join(self.root, key[:2])
        temp = os.path.join(folder, f".tmp-{os.getpid()}-{next(self._writes)}.json")
        try:
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, json.dumps(value, separators=(",", ":")).encode("utf-8"))
            finally:
                os.close(fd)
            # Atomic: concurrent runs see the old entry or the new, never half of one.
            os.replace(temp, os.path.join(folder, f"{key[2:]}.json"))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def default_directory() -> Path:
    """$SEMVERLINT_CACHE_DIR, else the platform's user cache directory."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ.get("LOCALAPPDATA", ""), "semverlint", "Cache")
        if os.name == "nt"
        else os.path.join(os.path.expanduser("~"), ".cache")
    )
    return Path(base) / "semverlint"


def open_cache(enabled: bool, directory: Path | None = None) -> MemoryCache:
    return MemoryCache(inner=DirectoryCache(directory or default_directory()) if enabled else None)
