"""SARIF 2.1.0 for code scanning: one run, the catalogue as rule metadata, stable fingerprints."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from semverlint import __version__
from semverlint.classify import Change
from semverlint.interface import Diagnostic
from semverlint.report import ProjectReport, Report
from semverlint.reporters.markdown import change_order, diagnostic_order
from semverlint.rules import Catalogue, Rule, load_catalogue

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/semverlint/semverlint"
LEVEL = {"major": "error", "minor": "warning", "patch": "note", "none": "none"}
FINGERPRINT = "semverlint/v1"
SRCROOT = "%SRCROOT%"


def render(report: Report, color: bool = False) -> str:
    return json.dumps(to_sarif(report, load_catalogue()), indent=2, ensure_ascii=False) + "\n"


def to_sarif(report: Report, catalogue: Catalogue) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(catalogue.rules)}
    results = [
        _result(project, change, index)
        for project in report.projects
        for change in sorted(project.changes, key=change_order)
    ]
    notifications = [
        *(_failure(project) for project in report.projects if not project.ok),
        *(
            _notification(diagnostic)
            for project in report.projects
            for diagnostic in sorted(project.diagnostics, key=diagnostic_order)
        ),
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "semverlint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rule) for rule in catalogue.rules],
            }
        },
        # executionSuccessful: the run itself was done; a failed check is a verdict, not a crash.
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "base": {"rev": report.base.rev, "commit": report.base.commit},
            "head": {"rev": report.head.rev, "commit": report.head.commit},
            "required_bump": report.required_bump,
            "ok": report.ok,
            "projects": [_verdict(p) for p in report.projects],
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.help},
        "helpUri": rule.reference,
        "defaultConfiguration": {"level": LEVEL[rule.bump]},
        "properties": {
            "bump": rule.bump,
            "category": rule.category,
            "tags": [rule.category, rule.bump],
        },
    }


def fingerprint(project: str, rule: str, model: str, column: str | None) -> str:
    """Stable across runs and line shifts: what changed, not where it sits in the file."""
    key = "\0".join((project, rule, model.lower(), (column or "").lower()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _location(path: str, line: int | None) -> dict[str, Any]:
    # A URI reference relative to the repository root: spaces and the like percent-encoded.
    uri = quote(path, safe="/")
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}}
    if line:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _result(project: ProjectReport, change: Change, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": change.rule}
    if change.rule in index:
        result["ruleIndex"] = index[change.rule]
    result["level"] = LEVEL[change.bump]
    result["message"] = {"text": change.message}
    # Code scanning needs a location: a change with no file of its own sits on the project file.
    path, line = (
        (change.path, change.line) if change.path else (project.version_file, project.version_line)
    )
    if path:
        result["locations"] = [_location(path, line)]
    result["partialFingerprints"] = {
        FINGERPRINT: fingerprint(project.path, change.rule, change.model, change.column)
    }
    if change.ignored is not None:
        result["suppressions"] = [{"kind": "external", "justification": change.ignored.reason}]
    properties: dict[str, Any] = {
        "bump": change.bump,
        "rule_bump": change.rule_bump,
        "project": project.name,
        "project_path": project.path,
        "model": change.model,
        "column": change.column,
        "access": change.access,
    }
    if change.via:
        properties["via"] = list(change.via)
    if change.impact:
        properties["impact"] = [
            {"project": i.project, "model": i.model, "column": i.column} for i in change.impact
        ]
    if change.note:
        properties["note"] = change.note
    result["properties"] = properties
    return result


def _failure(project: ProjectReport) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "error",
        "message": {
            "text": f"{project.name}: " + "; ".join(project.reasons or ("the check failed",))
        },
    }
    if project.version_file:
        notification["locations"] = [_location(project.version_file, project.version_line)]
    return notification


def _notification(diagnostic: Diagnostic) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "error" if diagnostic.level == "error" else "warning",
        "message": {"text": diagnostic.message},
    }
    if diagnostic.path:
        notification["locations"] = [_location(diagnostic.path, diagnostic.line)]
    return notification


def _verdict(project: ProjectReport) -> dict[str, Any]:
    return {
        "name": project.name,
        "path": project.path,
        "required_bump": project.effective_bump,
        "declared": {"base": project.declared_base, "head": project.declared_head},
        "suggested_version": project.suggested_version,
        "ok": project.ok,
        "reasons": list(project.reasons),
    }
