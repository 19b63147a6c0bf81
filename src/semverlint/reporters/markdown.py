"""The markdown report: a pull-request comment or job summary, verdict first, then the changes."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator

from semverlint import __version__
from semverlint.bump import rank
from semverlint.classify import Change
from semverlint.interface import Diagnostic
from semverlint.report import ProjectReport, Report
from semverlint.rules import REFERENCE_BASE

# GitHub refuses comments over 65,536 characters; a row is a few hundred, so stop well before.
MAX_ROWS = 150
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")
OK_MARK = "✅"
FAIL_MARK = "❌"


def render(report: Report, color: bool = False) -> str:
    return "\n".join(lines(report)) + "\n"


# -- shared with the other reporters -------------------------------------------------------


def change_order(change: Change) -> tuple[int, int, str, str, str, str]:
    """Most severe first; ignored changes after every counted one; then by model, column, rule."""
    return (
        0 if change.counts else 1,
        -rank(change.bump),
        change.model,
        change.column or "",
        change.rule,
        change.message,
    )


def diagnostic_order(diagnostic: Diagnostic) -> tuple[int, str, int, str]:
    return (
        0 if diagnostic.level == "error" else 1,
        diagnostic.path or "",
        diagnostic.line or 0,
        diagnostic.message,
    )


def rule_reference(rule: str) -> str:
    """The documentation of a rule; the catalogue builds it the same way (Rule.reference)."""
    return f"{REFERENCE_BASE}#{rule}"


def revision(rev: str, commit: str | None) -> str:
    return f"{rev} ({commit[:10]})" if commit and commit != rev else rev


def declared(project: ProjectReport) -> str:
    return f"{project.declared_base or '-'} → {project.declared_head or '-'}"


def bump_text(project: ProjectReport) -> str:
    """The bump the release needs; below 1.0.0 it is smaller than the changes' own bump."""
    if project.effective_bump != project.required_bump:
        return f"{project.effective_bump} ({project.required_bump} change, 0.x)"
    return project.effective_bump


# -- escaping ------------------------------------------------------------------------------


def text(value: str) -> str:
    """Plain text inside a table cell or list item: markdown and HTML characters shown as typed."""
    escaped = _SPECIAL.sub(r"\\\1", value.replace("&", "&amp;"))
    return "<br>".join(escaped.splitlines())


def code(value: str) -> str:
    """A code span that survives any backticks or pipes in the value (GFM tables split on `|`)."""
    flat = " ".join(value.splitlines()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def location(path: str | None, line: int | None) -> str:
    if not path:
        return ""
    return code(f"{path}:{line}" if line else path)


# -- the report ----------------------------------------------------------------------------


def lines(report: Report) -> Iterator[str]:
    verdict = f"{OK_MARK} OK" if report.ok else f"{FAIL_MARK} FAIL"
    yield f"## semverlint: {verdict}"
    yield ""
    yield (
        f"Compared {code(revision(report.base.rev, report.base.commit))} with "
        f"{code(revision(report.head.rev, report.head.commit))}: "
        f"required bump **{report.required_bump}**."
    )
    yield ""
    if not report.projects:
        yield "No projects found: add a `dbt_project.yml` or a `semverlint.yml`."
        return
    yield from verdict_table(report.projects)
    budget = MAX_ROWS
    for project in report.projects:
        yield ""
        shown = yield from _project(project, budget)
        budget -= shown
    yield ""
    yield f"<sub>semverlint {__version__} · `semverlint explain RULE` explains a rule</sub>"


def verdict_table(projects: Iterable[ProjectReport]) -> Iterator[str]:
    yield "| project | required bump | declared (base → head) | suggested | ok |"
    yield "|---|---|---|---|---|"
    failing: list[ProjectReport] = []
    for project in projects:
        mark = OK_MARK if project.ok else FAIL_MARK
        yield (
            f"| {code(project.name)} ({code(project.path)}) | **{text(bump_text(project))}** "
            f"| {text(declared(project))} | {text(project.suggested_version or '-')} | {mark} |"
        )
        if not project.ok:
            failing.append(project)
    for project in failing:
        yield ""
        for reason in project.reasons:
            yield f"- **{text(project.name)}**: {text(reason)}"


def _project(project: ProjectReport, budget: int) -> Generator[str, None, int]:
    """The changes and diagnostics of one project; returns the number of rows shown."""
    counted = sum(1 for c in project.changes if c.counts)
    ignored = len(project.changes) - counted
    summary = f"{counted} change(s)" + (f", {ignored} ignored" if ignored else "")
    yield f"### {text(project.name)}: {summary}"
    yield ""
    shown = 0
    if not project.changes:
        yield "No interface changes."
    else:
        yield "| bump | rule | model | column | change | file |"
        yield "|---|---|---|---|---|---|"
        ordered = sorted(project.changes, key=change_order)
        for change in ordered[: max(budget, 0)]:
            yield _row(change)
            shown += 1
        if shown < len(ordered):
            yield ""
            yield (
                f"*{len(ordered) - shown} more change(s) not shown: run `semverlint diff` "
                "or read the JSON report (`--format json`).*"
            )
    if project.diagnostics:
        yield ""
        yield f"**Diagnostics** ({len(project.diagnostics)}):"
        yield ""
        for diagnostic in sorted(project.diagnostics, key=diagnostic_order):
            where = location(diagnostic.path, diagnostic.line)
            yield f"- {diagnostic.level}{' ' + where if where else ''}: {text(diagnostic.message)}"
    return shown


def _row(change: Change) -> str:
    bump = f"**{change.bump}**" if change.counts else f"~~{change.bump}~~ ignored"
    rule = f"[{code(change.rule)}]({rule_reference(change.rule)})"
    details = [text(change.message)]
    if change.via:
        details.append(f"via {text(' → '.join(change.via))}")
    if change.impact:
        users = ", ".join(
            f"{i.project}:{i.model}.{i.column}" if i.column else f"{i.project}:{i.model}"
            for i in change.impact
        )
        details.append(f"breaks {text(users)}")
    if change.note:
        details.append(f"*{text(change.note)}*")
    if change.ignored is not None:
        details.append(f"**Ignored:** {text(change.ignored.reason)}")
    column = code(change.column) if change.column else ""
    return (
        f"| {bump} | {rule} | {code(change.model)} | {column} | {'<br>'.join(details)} "
        f"| {location(change.path, change.line)} |"
    )
