"""A markdown changelog: per project, breaking changes / features / fixes, by model and column."""

from __future__ import annotations

from collections.abc import Iterator

from semverlint.classify import Change
from semverlint.report import ProjectReport, Report
from semverlint.reporters.markdown import code, revision, text
from semverlint.versionfile import plan

SECTIONS = (("major", "Breaking changes"), ("minor", "Features"), ("patch", "Fixes"))


def render_changelog(report: Report) -> str:
    return "\n".join(lines(report)) + "\n"


def lines(report: Report) -> Iterator[str]:
    yield "# Changelog"
    yield ""
    yield (
        f"Changes from {code(revision(report.base.rev, report.base.commit))} "
        f"to {code(revision(report.head.rev, report.head.commit))}."
    )
    sections = [list(_project(p)) for p in report.projects]
    sections = [s for s in sections if s]
    if not sections:
        yield ""
        yield "No changes to the published interface."
    for section in sections:
        yield ""
        yield from section


def _subject(change: Change) -> str:
    return code(f"{change.model}.{change.column}" if change.column else change.model)


def _order(change: Change) -> tuple[str, str, str, str]:
    return (change.model, change.column or "", change.rule, change.message)


def _project(project: ProjectReport) -> Iterator[str]:
    """One project's section, or nothing when it has nothing a consumer would read about."""
    counted = [c for c in project.changes if c.counts]
    accepted = sorted((c for c in project.changes if not c.counts), key=_order)
    if not any(c.bump != "none" for c in counted) and not accepted:
        return
    release = plan(project).release
    yield f"## {text(project.name)} {text(release)}" if release else f"## {text(project.name)}"
    for bump, title in SECTIONS:
        entries = sorted((c for c in counted if c.bump == bump), key=_order)
        if not entries:
            continue
        yield ""
        yield f"### {title}"
        yield ""
        for change in entries:
            yield f"- {_subject(change)}: {text(change.message)} ({code(change.rule)})"
    if accepted:
        yield ""
        yield "### Accepted"
        yield ""
        for change in accepted:
            reason = change.ignored.reason if change.ignored else ""
            rule = f"{code(change.rule)}, {change.bump}"
            yield f"- {_subject(change)}: {text(change.message)} ({rule}): {text(reason)}"
