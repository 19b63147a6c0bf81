"""The rule catalogue: one TOML file per rule, read and checked once per run."""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from semverlint.bump import BUMPS, Bump

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CATEGORIES = ("model", "column", "guarantee", "access", "version", "logic", "docs")
_ID = re.compile(r"^[a-z]+(-[a-z]+)*$")
REFERENCE_BASE = "https://github.com/semverlint/semverlint/blob/main/docs/rules.md"


class CatalogueError(Exception):
    """The shipped catalogue is inconsistent: a packaging bug, caught by the tests."""


@dataclass(frozen=True)
class Example:
    """A runnable example: `file` before and after ("" = absent), beside unchanged `context`
    files."""

    file: str
    before: str
    after: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue."""

    id: str
    summary: str
    bump: Bump
    category: str
    message: str
    help: str
    rationale: str
    example: Example

    @property
    def reference(self) -> str:
        return f"{REFERENCE_BASE}#{self.id}"


@dataclass(frozen=True)
class Catalogue:
    """Every rule, by id."""

    rules: tuple[Rule, ...]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def __getitem__(self, rule_id: str) -> Rule:
        rule = self.get(rule_id)
        if rule is None:
            raise KeyError(rule_id)
        return rule

    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def suggest(self, text: str) -> list[str]:
        return difflib.get_close_matches(text, self.ids(), n=3, cutoff=0.5)


def parse_rule(rule_id: str, data: dict[str, Any]) -> Rule:
    """One catalogue entry; the file name is the id, so the two can never disagree."""
    try:
        example = data["example"]
        rule = Rule(
            id=rule_id,
            summary=str(data["summary"]).strip(),
            bump=cast(Bump, data["bump"]),
            category=str(data["category"]),
            message=str(data["message"]).strip(),
            help=str(data["help"]).strip(),
            rationale=str(data["rationale"]).strip(),
            example=Example(
                str(example["file"]),
                str(example["before"]),
                str(example["after"]),
                tuple(sorted((str(k), str(v)) for k, v in example.get("context", {}).items())),
            ),
        )
    except KeyError as exc:
        raise CatalogueError(f"rule {rule_id}: missing field {exc}") from exc
    if not _ID.match(rule_id):
        raise CatalogueError(f"rule id {rule_id!r} is not kebab-case")
    if rule.bump not in BUMPS:
        raise CatalogueError(f"rule {rule_id}: bump {rule.bump!r} is not one of {BUMPS}")
    if rule.category not in CATEGORIES:
        raise CatalogueError(f"rule {rule_id}: category {rule.category!r} is unknown")
    return rule


def load_catalogue() -> Catalogue:
    files = resources.files("semverlint.rules").joinpath("catalogue")
    rules = [
        parse_rule(entry.name.removesuffix(".toml"), tomllib.loads(entry.read_text("utf-8")))
        for entry in files.iterdir()
        if entry.name.endswith(".toml")
    ]
    return Catalogue(tuple(sorted(rules, key=lambda r: r.id)))


def check_coverage(catalogue: Catalogue, delta_kinds: frozenset[str]) -> None:
    """Every delta the differ can emit has exactly one rule, and every rule a delta."""
    ids = frozenset(catalogue.ids())
    if missing := sorted(delta_kinds - ids):
        raise CatalogueError(f"deltas without a rule: {', '.join(missing)}")
    if orphans := sorted(ids - delta_kinds):
        raise CatalogueError(f"rules no delta can trigger: {', '.join(orphans)}")
