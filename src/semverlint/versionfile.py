"""The release version of a project, written into dbt_project.yml / semverlint.yml in place."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from semverlint.bump import Version, parse_version
from semverlint.errors import SemverlintError, UsageError
from semverlint.report import ProjectReport, Report

BOM = b"\xef\xbb\xbf"
# A top-level `version:` key and its scalar on the same line: plain, 'single' or "double" quoted,
# then optional spaces and a comment. Top-level keys start in column 0, so no nested `version:`
# (a model version, a package pin) can match.
_VERSION_LINE = re.compile(
    r"""^(?P<key>version[ \t]*:[ \t]+)
        (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"#&*!|>{}\[\]][^\s#]*)
        (?P<tail>(?:[ \t]+\#.*)?[ \t]*)$""",
    re.VERBOSE,
)
_TOP_LEVEL_KEY = re.compile(r"^version[ \t]*:")
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


class VersionFileError(SemverlintError):
    """The version cannot be written: no such file, no version line semverlint can edit safely."""


@dataclass(frozen=True)
class BumpPlan:
    """What `bump` decides for a project: the version the release carries, whether to write it."""

    project: str
    path: str
    version_file: str | None
    version_line: int | None
    declared: str | None
    suggested: str | None
    release: str | None
    write: bool
    note: str
    bump: str = "none"


def covers(declared: Version, suggested: Version) -> bool:
    """A declared version at least as large as the suggestion (a pre-release of it is smaller)."""
    if declared.release != suggested.release:
        return declared.release > suggested.release
    return declared.pre is None or suggested.pre is not None


def plan(project: ProjectReport) -> BumpPlan:
    suggested = parse_version(project.suggested_version)
    declared = parse_version(project.declared_head)
    bump = project.effective_bump

    def result(release: str | None, write: bool, note: str) -> BumpPlan:
        return BumpPlan(
            project.name,
            project.path,
            project.version_file,
            project.version_line,
            project.declared_head,
            project.suggested_version,
            release,
            write,
            note,
            bump,
        )

    if suggested is None:
        return result(
            str(declared) if declared else None,
            False,
            f"{project.name}: no version to suggest (no readable version at the base or head)",
        )
    if declared is not None and covers(declared, suggested):
        return result(
            project.declared_head,
            False,
            f"{project.name}: the head already declares {project.declared_head} "
            f"(required bump {bump}, suggested {suggested}); nothing to write",
        )
    return result(
        str(suggested),
        True,
        f"{project.name}: required bump {bump}: {project.declared_base or '-'} -> {suggested}",
    )


# -- editing the file ----------------------------------------------------------------------


def replace_version(raw: bytes, new: str, line: int | None = None) -> bytes:
    """The file with only the version scalar replaced; quotes, comments, line endings, BOM kept."""
    bom = raw.startswith(BOM)
    # surrogateescape: bytes that are not UTF-8 come back out exactly as they went in.
    text = (
        raw[len(BOM) :].decode("utf-8", "surrogateescape")
        if bom
        else raw.decode("utf-8", "surrogateescape")
    )
    parts = _LINE_BREAK.split(text)
    lines, breaks = parts[0::2], parts[1::2]
    index = _version_index(lines, line)
    match = _VERSION_LINE.match(lines[index])
    if match is None:
        raise VersionFileError(
            f"line {index + 1} has `version:` but not a version semverlint can edit in place",
            hint="write the version as a plain or quoted scalar on its line: version: '1.4.0'",
        )
    value = match["value"]
    quote = value[0] if value[0] in "'\"" else ""
    old = value[1:-1] if quote else value
    # `v1.4.0` stays `v2.0.0`: the author's spelling is part of the layout.
    keep = old[0] if old[:1] in ("v", "V") and old[1:2].isdigit() else ""
    lines[index] = f"{match['key']}{quote}{keep}{new}{quote}{match['tail']}"
    rebuilt = "".join(line + brk for line, brk in zip(lines, [*breaks, ""], strict=True))
    return (BOM if bom else b"") + rebuilt.encode("utf-8", "surrogateescape")


def current_version(raw: bytes) -> str | None:
    """The version written in the file now (the working tree may differ from the head commit)."""
    text = raw.removeprefix(BOM).decode("utf-8", "surrogateescape")
    for line in _LINE_BREAK.split(text)[0::2]:
        match = _VERSION_LINE.match(line)
        if match:
            value = match["value"]
            return value[1:-1] if value[0] in "'\"" else value
    return None


def _version_index(lines: list[str], line: int | None) -> int:
    """The 0-based index of the version line: the one YAML reported if it fits, else the only."""
    if line is not None and 0 < line <= len(lines) and _TOP_LEVEL_KEY.match(lines[line - 1]):
        return line - 1
    found = [i for i, text in enumerate(lines) if _TOP_LEVEL_KEY.match(text)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise VersionFileError(
            "no top-level `version:` line to update",
            hint="add `version: '0.1.0'` to the file, then run `semverlint bump --write` again",
        )
    raise VersionFileError(
        f"{len(found)} top-level `version:` lines (lines {', '.join(str(i + 1) for i in found)})",
        hint="keep one `version:` key in the file",
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Replace the file in one step: a reader sees the old or the new file, never half of one."""
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".semverlint.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@dataclass(frozen=True)
class Edit:
    """New bytes for one file, ready to be written."""

    target: Path
    data: bytes
    message: str


def prepare(bump_plan: BumpPlan, root: Path) -> Edit | str:
    """The edit putting the planned version into `<root>/<version_file>`, or why none is needed."""
    if not bump_plan.write or bump_plan.release is None:
        return bump_plan.note
    if not bump_plan.version_file:
        raise VersionFileError(
            f"{bump_plan.project}: no project file to write the version into",
            hint="declare `version:` in dbt_project.yml or semverlint.yml",
        )
    target = root / bump_plan.version_file
    if target.is_symlink() or not target.resolve().is_relative_to(root.resolve()):
        raise VersionFileError(
            f"{bump_plan.version_file} is a symbolic link or lies outside the working tree; "
            "not writing through it",
            hint=f"set `version: {bump_plan.release}` by hand",
        )
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise VersionFileError(
            f"cannot read {bump_plan.version_file} in the working tree: {exc.strerror}",
            hint="check out the branch you are releasing, then run `semverlint bump --write` again",
        ) from exc
    written = current_version(raw)
    now = parse_version(written)
    if written is not None and now is None:
        raise VersionFileError(
            f"{bump_plan.version_file}: the version {written!r} is not a literal version; "
            "not replacing it",
            hint=f"set `version: {bump_plan.release}` by hand",
        )
    wanted = parse_version(bump_plan.release)
    assert wanted is not None
    if now is not None and covers(now, wanted):
        return (
            f"{bump_plan.project}: {bump_plan.version_file} already says {written} "
            f"(suggested {bump_plan.release}); nothing to write"
        )
    try:
        updated = replace_version(raw, bump_plan.release, bump_plan.version_line)
    except VersionFileError as exc:
        raise VersionFileError(f"{bump_plan.version_file}: {exc.message}", hint=exc.hint) from exc
    return Edit(
        target,
        updated,
        f"{bump_plan.project}: wrote version {bump_plan.release} to {bump_plan.version_file} "
        f"(was {written or '-'}; required bump {bump_plan.bump})",
    )


def release(report: Report, write_in: str | None, notify: Callable[[str], None]) -> str:
    """`semverlint bump`: the release version(s) for stdout; with `write_in` (a repo), written.

    Every file is read and checked before the first is written, so a problem in one project
    leaves all of them as they were.
    """
    plans = [plan(project) for project in report.projects]
    if not plans:
        raise UsageError(
            "no projects found: nothing to version",
            hint="add a dbt_project.yml or a semverlint.yml, or point --repo / --project at one",
        )
    if write_in is not None:
        root = worktree_root(write_in)
        outcomes = [prepare(p, root) for p in plans]
        for outcome in outcomes:
            if isinstance(outcome, Edit):
                write_atomic(outcome.target, outcome.data)
                notify(outcome.message)
            else:
                notify(outcome)
    else:
        for p in plans:
            notify(p.note)
    released = [p for p in plans if p.release is not None]
    if not released:
        raise UsageError(
            "no project declares a version to bump",
            hint="add `version: '0.1.0'` to dbt_project.yml or semverlint.yml",
        )
    if len(plans) == 1:
        return f"{released[0].release}\n"
    return "".join(f"{p.path} {p.release}\n" for p in released)


def worktree_root(repo: str) -> Path:
    """The working tree `bump --write` writes into; a bare repository has none."""
    from semverlint.snapshot import Repository

    with Repository.open(repo) as repository:
        if repository.bare:
            raise UsageError(
                f"{repository.root} is a bare repository: there is no working tree to write "
                "the version into",
                hint="run `semverlint bump RANGE` without --write and set the version in a clone, "
                "or run it in a clone with a working tree",
            )
        return repository.root
