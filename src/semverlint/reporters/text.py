"""The terminal report: grouped by project and model, coloured by bump, closing with the verdict."""

from __future__ import annotations

import io
from collections.abc import Iterator

from semverlint.bump import rank
from semverlint.classify import Change
from semverlint.report import ProjectReport, Report

STYLES = {"major": "bold red", "minor": "yellow", "patch": "cyan", "none": "dim"}
# Control characters from the repository (a newline in a column name, ESC, CR) would let
# content start lines of its own: a forged '::error' workflow command, or terminal escapes.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})

# One printed line (a "\n" inside starts another): pieces of text, each with a rich style, ""
# for none. Colour is drawn by rich; without colour the pieces are printed as they are, so a
# report piped to a file or a CI log never imports rich (~20 ms of a run).
Piece = tuple[str, str]
Line = tuple[Piece, ...]


def _s(value: object) -> str:
    """Repository text made safe to print: control characters shown escaped."""
    return str(value).translate(_CONTROL)


def render(report: Report, color: bool = False) -> str:
    report_lines = tuple(lines(report))
    if color or not all(_plain(line) for line in report_lines):
        return _render_rich(report_lines, color)
    return "".join(_text(line) + "\n" for line in report_lines)


def _text(line: Line) -> str:
    return "".join(text for text, _ in line)


def _plain(line: Line) -> bool:
    """True when rich without colour prints the line's text unchanged: no tab for it to expand,
    no control character for it to drop; anything else still goes through rich."""
    return _text(line).replace("\n", "").isprintable()


def _render_rich(report_lines: tuple[Line, ...], color: bool) -> str:
    from rich.console import Console
    from rich.text import Text

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
    for line in report_lines:
        console.print(Text.assemble(*line))
    return buffer.getvalue()


def _revision(rev: str, commit: str | None) -> str:
    return f"{rev} ({commit[:10]})" if commit and commit != rev else rev


def lines(report: Report) -> Iterator[Line]:
    yield (
        ("semverlint ", "bold"),
        (
            f"{_revision(report.base.rev, report.base.commit)} -> "
            f"{_revision(report.head.rev, report.head.commit)}",
            "",
        ),
    )
    if not report.projects:
        yield (("No projects found: add a dbt_project.yml or a semverlint.yml.", "yellow"),)
        return
    for project in report.projects:
        yield ()
        yield from _project(project)
    yield ()
    yield _overall(report)


def _bump(bump: str) -> Piece:
    return (f"{bump.upper():<5}", STYLES[bump])


def _project(project: ProjectReport) -> Iterator[Line]:
    declared = f"{project.declared_base or '-'} -> {project.declared_head or '-'}"
    yield (
        (_s(project.name), "bold"),
        (f" ({project.kind}, {_s(project.path)})  version {_s(declared)}", ""),
    )
    if not project.changes:
        yield (("  no interface changes", "dim"),)
    by_model: dict[str, list[Change]] = {}
    for change in project.changes:
        by_model.setdefault(change.model, []).append(change)
    for model, changes in by_model.items():
        worst = max(changes, key=lambda c: rank(c.bump) if c.counts else -1)
        where = worst.path or ""
        yield (
            ("  ", ""),
            (_s(model), "bold"),
            (f"  [{changes[0].access}]  ", ""),
            (_s(where), "dim"),
        )
        for change in sorted(changes, key=lambda c: (-rank(c.bump), c.column or "", c.rule)):
            yield from _change(change)
    for diagnostic in project.diagnostics:
        location = (
            f"{diagnostic.path}:{diagnostic.line}" if diagnostic.line else (diagnostic.path or "")
        )
        style = "red" if diagnostic.level == "error" else "yellow"
        yield (
            ("  ", ""),
            (f"{diagnostic.level}: ", style),
            (f"{_s(location)}: {_s(diagnostic.message)}", ""),
        )
    yield _verdict(project)


def _change(change: Change) -> Iterator[Line]:
    line: Line = (
        ("    ", ""),
        _bump(change.bump),
        (f" {change.rule:<28} ", "bold" if change.counts else "dim"),
        (_s(change.message), ""),
    )
    if change.line:
        line += ((f"  ({_s(change.path)}:{change.line})", "dim"),)
    yield line
    details = []
    if change.via:
        details.append(f"via {' -> '.join(change.via)}")
    if change.impact:
        details.append(
            "breaks "
            + ", ".join(f"{i.model}.{i.column}" if i.column else i.model for i in change.impact)
        )
    if change.note:
        details.append(change.note)
    if change.ignored is not None:
        details.append(f"ignored: {change.ignored.reason}")
    for detail in details:
        yield ((f"          {_s(detail)}", "dim"),)


def _verdict(project: ProjectReport) -> Line:
    need = project.effective_bump
    suggestion = f", release {project.suggested_version}" if project.suggested_version else ""
    if project.ok:
        return (("  ok ", "bold green"), (f"required bump: {need}{suggestion}", ""))
    return (
        ("  FAIL ", "bold red"),
        (f"required bump: {need}{_s(suggestion)}", ""),
        *(("\n    - " + _s(reason), "") for reason in project.reasons),
    )


def _overall(report: Report) -> Line:
    failed = [p.name for p in report.projects if not p.ok]
    bump = report.required_bump
    if failed:
        return (
            ("FAIL ", "bold red"),
            (
                f"{_s(', '.join(failed))}: the declared version is too small or the policy is "
                "not met",
                "",
            ),
        )
    suggestions = ", ".join(
        f"{p.name} {p.suggested_version}" for p in report.projects if p.suggested_version
    )
    return (
        ("OK ", "bold green"),
        (f"required bump: {bump}" + (f"; suggested: {_s(suggestions)}" if suggestions else ""), ""),
    )
