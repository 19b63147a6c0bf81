"""The terminal report: grouped by project and model, coloured by bump, closing with the verdict."""

from __future__ import annotations

import io
from collections.abc import Iterator

from rich.console import Console
from rich.text import Text

from semverlint.bump import rank
from semverlint.classify import Change
from semverlint.report import ProjectReport, Report

STYLES = {"major": "bold red", "minor": "yellow", "patch": "cyan", "none": "dim"}


def render(report: Report, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=120,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )
    for text in lines(report):
        console.print(text)
    return buffer.getvalue()


def _revision(rev: str, commit: str | None) -> str:
    return f"{rev} ({commit[:10]})" if commit and commit != rev else rev


def lines(report: Report) -> Iterator[Text]:
    yield Text.assemble(
        ("semverlint ", "bold"),
        f"{_revision(report.base.rev, report.base.commit)} -> {_revision(report.head.rev, report.head.commit)}",
    )
    if not report.projects:
        yield Text("No projects found: add a dbt_project.yml or a semverlint.yml.", style="yellow")
        return
    for project in report.projects:
        yield Text("")
        yield from _project(project)
    yield Text("")
    yield _overall(report)


def _bump(bump: str) -> Text:
    return Text(f"{bump.upper():<5}", style=STYLES[bump])


def _project(project: ProjectReport) -> Iterator[Text]:
    declared = f"{project.declared_base or '-'} -> {project.declared_head or '-'}"
    yield Text.assemble(
        (project.name, "bold"),
        f" ({project.kind}, {project.path})  version {declared}",
    )
    if not project.changes:
        yield Text("  no interface changes", style="dim")
    by_model: dict[str, list[Change]] = {}
    for change in project.changes:
        by_model.setdefault(change.model, []).append(change)
    for model, changes in by_model.items():
        worst = max(changes, key=lambda c: rank(c.bump) if c.counts else -1)
        where = worst.path or ""
        yield Text.assemble("  ", (model, "bold"), f"  [{changes[0].access}]  ", (where, "dim"))
        for change in sorted(changes, key=lambda c: (-rank(c.bump), c.column or "", c.rule)):
            yield _change(change)
    for diagnostic in project.diagnostics:
        location = (
            f"{diagnostic.path}:{diagnostic.line}" if diagnostic.line else (diagnostic.path or "")
        )
        style = "red" if diagnostic.level == "error" else "yellow"
        yield Text.assemble(
            "  ", (f"{diagnostic.level}: ", style), f"{location}: {diagnostic.message}"
        )
    yield _verdict(project)


def _change(change: Change) -> Text:
    line = Text("    ")
    line.append_text(_bump(change.bump))
    line.append(f" {change.rule:<28} ", style="bold" if change.counts else "dim")
    line.append(change.message)
    if change.line:
        line.append(f"  ({change.path}:{change.line})", style="dim")
    if change.via:
        line.append(f"\n          via {' -> '.join(change.via)}", style="dim")
    if change.impact:
        users = ", ".join(f"{i.model}.{i.column}" if i.column else i.model for i in change.impact)
        line.append(f"\n          breaks {users}", style="dim")
    if change.note:
        line.append(f"\n          {change.note}", style="dim")
    if change.ignored is not None:
        line.append(f"\n          ignored: {change.ignored.reason}", style="dim")
    return line


def _verdict(project: ProjectReport) -> Text:
    need = project.effective_bump
    suggestion = f", release {project.suggested_version}" if project.suggested_version else ""
    if project.ok:
        return Text.assemble(("  ok ", "bold green"), f"required bump: {need}{suggestion}")
    text = Text.assemble(("  FAIL ", "bold red"), f"required bump: {need}{suggestion}")
    for reason in project.reasons:
        text.append(f"\n    - {reason}")
    return text


def _overall(report: Report) -> Text:
    failed = [p.name for p in report.projects if not p.ok]
    bump = report.required_bump
    if failed:
        return Text.assemble(
            ("FAIL ", "bold red"),
            f"{', '.join(failed)}: the declared version is too small or the policy is not met",
        )
    suggestions = ", ".join(
        f"{p.name} {p.suggested_version}" for p in report.projects if p.suggested_version
    )
    return Text.assemble(
        ("OK ", "bold green"),
        f"required bump: {bump}" + (f"; suggested: {suggestions}" if suggestions else ""),
    )
