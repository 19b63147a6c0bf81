"""GitHub Actions: workflow-command annotations on the head's files, most severe first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from semverlint.bump import rank
from semverlint.classify import Change
from semverlint.errors import UsageError
from semverlint.interface import Diagnostic
from semverlint.report import ProjectReport, Report
from semverlint.reporters import markdown
from semverlint.rules import Catalogue, load_catalogue

LEVELS = ("error", "warning", "notice")
BUMP_LEVEL = {"major": "error", "minor": "warning", "patch": "notice", "none": "notice"}


def escape_data(value: str) -> str:
    """The message of a workflow command (GitHub's escapeData)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A property such as file= or title= (GitHub's escapeProperty)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    """One workflow command annotation."""

    level: str
    message: str
    title: str
    path: str | None = None
    line: int | None = None

    def command(self) -> str:
        props = []
        if self.path:
            props.append(f"file={escape_property(self.path)}")
            if self.line:
                props.append(f"line={self.line}")
        props.append(f"title={escape_property(self.title)}")
        return f"::{self.level} {','.join(props)}::{escape_data(self.message)}"


def render(report: Report, color: bool = False) -> str:
    catalogue = load_catalogue()
    commands = [a.command() for a in collect(report, catalogue)]
    return "\n".join([*commands, summary_line(report)]) + "\n"


SortKey = tuple[int, int, int, str, int, str, str, str, str, str]


def collect(report: Report, catalogue: Catalogue) -> list[Annotation]:
    """Every annotation, in the order GitHub should show them: it keeps only a few per step."""
    keyed: list[tuple[SortKey, Annotation]] = []
    for project in report.projects:
        for annotation in _verdict(project):
            keyed.append(((0, 0, 0, "", 0, project.path, "", "", "", ""), annotation))
        for change in project.changes:
            annotation = _change(project, change, catalogue)
            key: SortKey = (
                LEVELS.index(annotation.level),
                1,
                -rank(change.bump),
                change.path or "",
                change.line or 0,
                project.path,
                change.model,
                change.column or "",
                change.rule,
                change.message,
            )
            keyed.append((key, annotation))
        for diagnostic in project.diagnostics:
            annotation = _diagnostic(project, diagnostic)
            key = (
                LEVELS.index(annotation.level),
                2,
                0,
                diagnostic.path or "",
                diagnostic.line or 0,
                project.path,
                diagnostic.model or "",
                "",
                "",
                diagnostic.message,
            )
            keyed.append((key, annotation))
    return [annotation for _, annotation in sorted(keyed, key=lambda item: item[0])]


def _verdict(project: ProjectReport) -> Iterator[Annotation]:
    if project.ok:
        return
    release = f"; release {project.suggested_version}" if project.suggested_version else ""
    yield Annotation(
        "error",
        "\n".join(project.reasons) or f"the check failed{release}",
        f"semverlint: {project.name} fails the check "
        f"(required bump {project.effective_bump}{release})",
        project.version_file,
        project.version_line,
    )


def _change(project: ProjectReport, change: Change, catalogue: Catalogue) -> Annotation:
    lines = [change.message]
    if change.via:
        lines.append(f"via {' -> '.join(change.via)}")
    if change.impact:
        users = ", ".join(
            f"{i.project}:{i.model}.{i.column}" if i.column else f"{i.project}:{i.model}"
            for i in change.impact
        )
        lines.append(f"breaks {users}")
    if change.note:
        lines.append(change.note)
    rule = catalogue.get(change.rule)
    if change.ignored is not None:
        lines.append(f"ignored: {change.ignored.reason}")
        title = f"{change.rule} ({change.bump}, ignored)"
        return Annotation("notice", "\n".join(lines), title, change.path, change.line)
    if rule is not None and change.bump in ("major", "minor"):
        lines.append(f"How to ship it: {rule.help}")
    lines.append(f"`semverlint explain {change.rule}` tells more.")
    title = f"{change.rule} ({change.bump}) in {project.name}"
    return Annotation(BUMP_LEVEL[change.bump], "\n".join(lines), title, change.path, change.line)


def _diagnostic(project: ProjectReport, diagnostic: Diagnostic) -> Annotation:
    level = "error" if diagnostic.level == "error" else "warning"
    subject = f" ({diagnostic.model})" if diagnostic.model else ""
    return Annotation(
        level,
        diagnostic.message,
        f"semverlint {diagnostic.level} in {project.name}{subject}",
        diagnostic.path,
        diagnostic.line,
    )


def summary_line(report: Report) -> str:
    verdict = "OK" if report.ok else "FAIL"
    if not report.projects:
        return "semverlint: OK: no projects found (add a dbt_project.yml or a semverlint.yml)"
    parts = []
    for project in report.projects:
        counted = [c for c in project.changes if c.counts]
        by_bump = [
            f"{sum(1 for c in counted if c.bump == bump)} {bump}"
            for bump in ("major", "minor", "patch", "none")
            if any(c.bump == bump for c in counted)
        ]
        ignored = len(project.changes) - len(counted)
        changes = f"{len(counted)} change(s)" + (f" ({', '.join(by_bump)})" if by_bump else "")
        if ignored:
            changes += f", {ignored} ignored"
        release = f", release {project.suggested_version}" if project.suggested_version else ""
        status = "ok" if project.ok else "FAIL"
        parts.append(
            f"{project.name} {status}: {changes}; needs {markdown.bump_text(project)}{release} "
            f"(declared {project.declared_base or '-'} -> {project.declared_head or '-'})"
        )
    return f"semverlint: {verdict}: required bump {report.required_bump}; " + "; ".join(parts)


def publish(report: Report, environ: Mapping[str, str]) -> None:
    """Append the markdown report to the job summary, as GitHub expects, when running in Actions."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown.render(report))
    except OSError as exc:
        raise UsageError(
            f"cannot append to GITHUB_STEP_SUMMARY ({path}): {exc.strerror}",
            hint="unset GITHUB_STEP_SUMMARY outside GitHub Actions",
        ) from exc
