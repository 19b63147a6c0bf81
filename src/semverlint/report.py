"""The report: one value holding everything a reporter prints, and its JSON form
(schema_version 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from semverlint.bump import Bump, max_bump
from semverlint.classify import Change
from semverlint.interface import Diagnostic
from semverlint.revisions import RevisionInfo

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ProjectReport:
    """One project's result: its changes, diagnostics and the version they need."""

    name: str
    path: str
    kind: str
    declared_base: str | None
    declared_head: str | None
    required_bump: Bump
    effective_bump: Bump
    suggested_version: str | None
    ok: bool
    reasons: tuple[str, ...]
    changes: tuple[Change, ...]
    diagnostics: tuple[Diagnostic, ...]
    version_file: str | None = None
    version_line: int | None = None


@dataclass(frozen=True)
class Report:
    """The whole result of a run, as every format reports it."""

    base: RevisionInfo
    head: RevisionInfo
    projects: tuple[ProjectReport, ...]

    @property
    def required_bump(self) -> Bump:
        return max_bump([p.required_bump for p in self.projects])

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.projects)


def change_to_dict(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": change.rule,
        "bump": change.bump,
        "rule_bump": change.rule_bump,
        "model": change.model,
        "column": change.column,
        "message": change.message,
        "path": change.path,
        "line": change.line,
        "before": change.before,
        "after": change.after,
        "access": change.access,
        "via": list(change.via),
        "impact": [
            {"project": i.project, "model": i.model, "column": i.column} for i in change.impact
        ],
        "note": change.note,
        "ignored": None
        if change.ignored is None
        else {"reason": change.ignored.reason, "source": change.ignored.source},
    }
    return data


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "level": diagnostic.level,
        "message": diagnostic.message,
        "path": diagnostic.path,
        "line": diagnostic.line,
        "model": diagnostic.model,
    }


def project_to_dict(project: ProjectReport) -> dict[str, Any]:
    return {
        "name": project.name,
        "path": project.path,
        "kind": project.kind,
        "declared": {"base": project.declared_base, "head": project.declared_head},
        "required_bump": project.required_bump,
        "effective_bump": project.effective_bump,
        "suggested_version": project.suggested_version,
        "ok": project.ok,
        "reasons": list(project.reasons),
        "changes": [change_to_dict(c) for c in project.changes],
        "diagnostics": [diagnostic_to_dict(d) for d in project.diagnostics],
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "base": {"rev": report.base.rev, "commit": report.base.commit},
        "head": {"rev": report.head.rev, "commit": report.head.commit},
        "required_bump": report.required_bump,
        "ok": report.ok,
        "projects": [project_to_dict(p) for p in report.projects],
    }
