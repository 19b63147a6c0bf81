"""Downstream impact of breaking changes and the model-versioning policy, from column lineage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from semverlint.classify import Change, Impact
from semverlint.interface import Interface, Model


def consumers(
    project: str, model_key: str, column: str | None, heads: tuple[Interface, ...]
) -> Iterator[Impact]:
    """Models (and their columns) in any project of the repository that read the given one."""
    for interface in heads:
        same = interface.project.name == project
        if same:
            for exposure in interface.exposures:
                if model_key in exposure.refs:
                    yield Impact(interface.project.name, f"exposure:{exposure.name}")
        source = model_key if same else f"{project.lower()}:{model_key}"
        for model in interface.models:
            if not model.enabled or (same and model.key == model_key):
                continue
            if column is None:
                if (same and model_key in model.refs) or (
                    not same and (project, model_key) in {(p, m) for p, m in model.foreign_refs}
                ):
                    yield Impact(interface.project.name, model.label)
                continue
            for col in model.columns:
                if (source, column.lower()) in col.lineage:
                    yield Impact(interface.project.name, model.label, col.name)


def with_impact(
    changes: tuple[Change, ...],
    project: str,
    head: Interface | None,
    heads: tuple[Interface, ...],
    bases: tuple[Interface, ...] = (),
) -> tuple[Change, ...]:
    """Every counted major change lists who consumes what it broke.

    A consumer is found through the head's lineage, or the base's for models that still
    exist: a consumer of a removed column no longer resolves it, which is the breakage.
    """
    if not heads:
        return changes
    alive = {(i.project.name, m.label) for i in heads for m in i.models if m.enabled}
    out = []
    for change in changes:
        if change.bump == "major" and change.counts:
            key = change.model.lower()
            found = set(consumers(project, key, change.column, heads))
            found |= {
                i
                for i in consumers(project, key, change.column, bases)
                if (i.project, i.model) in alive
            }
            impact = tuple(sorted(found, key=_impact_order))
            change = replace(change, impact=impact)
        out.append(change)
    return _suggest_versioning(tuple(out), head)


def _impact_order(impact: Impact) -> tuple[str, str, str]:
    return (impact.project, impact.model, impact.column or "")


def _models(head: Interface | None) -> dict[str, Model]:
    """The head's models by label, looked up once per change rather than searched."""
    return {m.label.lower(): m for m in head.models} if head is not None else {}


def _suggest_versioning(changes: tuple[Change, ...], head: Interface | None) -> tuple[Change, ...]:
    out = []
    models = _models(head)
    advised: set[str] = set()  # once per model is advice; once per change is noise
    for change in changes:
        model = models.get(change.model.lower())
        if (
            change.bump == "major"
            and change.counts
            and change.note is None
            and change.model.lower() not in advised
            and model is not None
            and model.version is None
            and model.contract_enforced
            and model.access == "public"
        ):
            advised.add(change.model.lower())
            change = replace(
                change,
                note=f"{model.name} is a contracted public model: consider versioning it "
                f"(`versions: [{{v: 1}}, {{v: 2}}]`) so consumers can migrate at their own pace",
            )
        out.append(change)
    return tuple(out)


def versioning_violations(changes: tuple[Change, ...], head: Interface | None) -> tuple[str, ...]:
    """A breaking edit to an existing version of a versioned, contracted public model must be
    a new version."""
    reasons: dict[str, list[str]] = {}
    next_version: dict[str, str] = {}
    models = _models(head)
    for change in changes:
        model = models.get(change.model.lower())
        if change.bump != "major" or not change.counts or model is None or model.version is None:
            continue
        if not (model.contract_enforced and model.access == "public"):
            continue
        reasons.setdefault(model.label, []).append(
            f"{change.rule}{' ' + change.column if change.column else ''}"
        )
        next_version[model.label] = _next(model)
    return tuple(
        f"{label} is a released version of a contracted public model; its breaking changes "
        f"({', '.join(sorted(set(found)))}) must ship as a new version: "
        f"add `- v: {next_version[label]}` under "
        f"`versions:` and leave {label} as it was"
        for label, found in sorted(reasons.items())
    )


def _next(model: Model) -> str:
    numbers = [float(v.v) for v in model.versions if _is_number(v.v)]
    top = max(
        numbers,
        default=float(model.version) if model.version and _is_number(model.version) else 0.0,
    )
    return str(int(top) + 1)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
