"""Turns deltas into changes: the catalogue's bump, config overrides, access caps and ignores."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from semverlint.bump import Bump, min_bump
from semverlint.config import Config, IgnoreEntry
from semverlint.differ import Delta
from semverlint.interface import Diagnostic, Suppression
from semverlint.rules import Catalogue


@dataclass(frozen=True)
class Impact:
    """A public model a change reaches through lineage."""

    project: str
    model: str
    column: str | None = None


@dataclass(frozen=True)
class Ignored:
    """Why a change is accepted: the configured reason, and where it was given."""

    reason: str
    source: str | None = None


@dataclass(frozen=True)
class Change:
    """One classified change, as the report gives it."""

    rule: str
    bump: Bump
    model: str
    column: str | None
    message: str
    path: str | None
    line: int | None
    before: Any
    after: Any
    access: str
    rule_bump: Bump
    note: str | None = None
    via: tuple[str, ...] = ()
    impact: tuple[Impact, ...] = ()
    ignored: Ignored | None = None

    @property
    def counts(self) -> bool:
        """Whether the change takes part in the required bump."""
        return self.ignored is None


def render_value(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {render_value(v)}" for k, v in value.items())
    return str(value)


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_message(template: str, delta: Delta) -> str:
    fields = _Fields(
        model=delta.model,
        column=delta.column or "",
        target=f"{delta.model}.{delta.column}" if delta.column else delta.model,
        detail=delta.detail or "",
        resource=delta.resource,
        Resource=delta.resource[:1].upper() + delta.resource[1:],
        before=render_value(delta.before),
        after=render_value(delta.after),
    )
    return template.format_map(fields)


def classify(
    deltas: Iterable[Delta],
    catalogue: Catalogue,
    config: Config,
    today: dt.date,
    suppressions: Mapping[str, tuple[Suppression, ...]] | None = None,
) -> tuple[tuple[Change, ...], tuple[Diagnostic, ...]]:
    """Changes from deltas; `suppressions` are the head's inline ones by model label (lower
    case)."""
    changes: list[Change] = []
    for delta in deltas:
        rule = catalogue[delta.kind]
        override = config.rule_override(rule.id)
        if (
            override is None
            and rule.id == "column-order-changed"
            and config.column_order == "breaking"
        ):
            override = "major"  # consumers that insert or read by position break on a reorder
        if override == "off":
            continue
        rule_bump = cast(Bump, override or rule.bump)
        bump, note = _cap(rule_bump, delta)
        changes.append(
            Change(
                rule=rule.id,
                bump=bump,
                model=delta.model,
                column=delta.column,
                message=render_message(rule.message, delta),
                path=delta.path,
                line=delta.line,
                before=delta.before,
                after=delta.after,
                access=delta.access,
                rule_bump=rule_bump,
                note=note,
                ignored=_ignored(config.ignore, rule.id, delta, today)
                or _suppressed((suppressions or {}).get(delta.model.lower(), ()), rule.id, delta),
                via=delta.via,
            )
        )
    return tuple(changes), tuple(expired_ignores(config.ignore, today))


def _cap(bump: Bump, delta: Delta) -> tuple[Bump, str | None]:
    """Private and ephemeral models are internal: by themselves they cannot break another team.

    What a model newly offers (made public, made queryable) is judged on its own merits.
    """
    if (
        delta.access == "private"
        and delta.kind != "access-widened"
        and min_bump(bump, "patch") != bump
    ):
        return "patch", f"private model: {bump} capped at patch"
    exempt = ("model-made-ephemeral", "model-added", "access-widened")
    if not delta.queryable and delta.kind not in exempt and min_bump(bump, "patch") != bump:
        return "patch", f"ephemeral model: {bump} capped at patch"
    return bump, None


def _matches(entry: IgnoreEntry, rule: str, delta: Delta) -> bool:
    if entry.rule != rule:
        return False
    if entry.model is not None and not fnmatch.fnmatchcase(
        delta.model.lower(), entry.model.lower()
    ):
        return False
    return entry.column is None or (
        delta.column is not None and fnmatch.fnmatchcase(delta.column.lower(), entry.column.lower())
    )


def _ignored(
    entries: tuple[IgnoreEntry, ...], rule: str, delta: Delta, today: dt.date
) -> Ignored | None:
    for entry in entries:
        if (entry.until is None or today <= entry.until) and _matches(entry, rule, delta):
            return Ignored(entry.reason, entry.source)
    return None


def _suppressed(found: tuple[Suppression, ...], rule: str, delta: Delta) -> Ignored | None:
    for suppression in found:
        if suppression.rule != rule:
            continue
        if suppression.column is None or (delta.column or "").lower() == suppression.column.lower():
            return Ignored(suppression.reason, f"{suppression.path}:{suppression.line}")
    return None


def expired_ignores(entries: tuple[IgnoreEntry, ...], today: dt.date) -> Iterable[Diagnostic]:
    for entry in entries:
        if entry.until is not None and today > entry.until:
            yield Diagnostic(
                "warning",
                f"ignore of {entry.rule} ({entry.reason}) expired on {entry.until.isoformat()} "
                "and no longer applies",
                entry.source,
                entry.line,
            )
