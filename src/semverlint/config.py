"""Reads and validates semverlint configuration: semverlint.yml or [tool.semverlint]."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

from semverlint.errors import ConfigError
from semverlint.plainschema import plainly_valid
from semverlint.rules import Catalogue
from semverlint.yamlio import LineDict, load_yaml

if TYPE_CHECKING:
    import jsonschema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class IgnoreEntry:
    """One accepted change of the configuration's `ignore` list."""

    rule: str
    reason: str
    model: str | None = None
    column: str | None = None
    until: dt.date | None = None
    source: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Config:
    """A project's configuration, validated."""

    version: str | None = None
    name: str | None = None
    kind: str | None = None
    dialect: str | None = None
    fail_on: str | None = None
    strict: bool = False
    column_order: str = "ignore"
    rules: tuple[tuple[str, str], ...] = ()
    ignore: tuple[IgnoreEntry, ...] = ()
    source: str | None = None
    version_line: int | None = None
    present: bool = field(default=False)

    def rule_override(self, rule_id: str) -> str | None:
        return dict(self.rules).get(rule_id)


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("semverlint.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def parse_yaml_config(raw: bytes, source: str, catalogue: Catalogue) -> Config:
    result = load_yaml(raw)
    if result.error is not None:
        raise ConfigError(f"{source}: {result.error}", hint="fix the YAML syntax")
    return parse_config(result.data if result.data is not None else {}, source, catalogue)


def parse_pyproject(raw: bytes, source: str, catalogue: Catalogue) -> Config | None:
    """[tool.semverlint] of a pyproject.toml, or None when the table is absent."""
    try:
        data = tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}", hint="fix the TOML syntax") from exc
    table = data.get("tool", {}).get("semverlint")
    if table is None:
        return None
    return parse_config(table, f"{source} [tool.semverlint]", catalogue)


def parse_config(data: Any, source: str, catalogue: Catalogue) -> Config:
    """Validate against the shipped schema, then against the catalogue; raise ConfigError."""
    schema = load_schema("config")
    errors = [] if plainly_valid(data, schema) else _schema_errors(data, schema)
    if errors:
        error = errors[0]
        raise ConfigError(
            f"{source}{_where(data, list(error.absolute_path))}: "
            f"{_key_name(error.absolute_path)}{error.message}",
            hint=f"see `semverlint schema config` for the accepted keys ({len(errors)} problem(s))",
        )
    rules = tuple(sorted((str(k), str(v)) for k, v in (data.get("rules") or {}).items()))
    for rule_id, _ in rules:
        _require_rule(catalogue, rule_id, source, data.get("rules"))
    ignore = tuple(_ignore_entry(item, source, catalogue) for item in data.get("ignore") or ())
    return Config(
        version=None if data.get("version") is None else str(data["version"]),
        name=data.get("name"),
        kind=data.get("kind"),
        dialect=data.get("dialect"),
        fail_on=data.get("fail-on"),
        strict=bool(data.get("strict", False)),
        column_order=data.get("column-order", "ignore"),
        rules=rules,
        ignore=ignore,
        source=source,
        version_line=data.line_of_key("version")
        if isinstance(data, LineDict) and "version" in data
        else None,
        present=True,
    )


def _schema_errors(data: Any, schema: dict[str, Any]) -> list[jsonschema.ValidationError]:
    import jsonschema  # only a configuration that is not plainly valid pays for it

    validator = jsonschema.Draft202012Validator(schema)
    return sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])


def _ignore_entry(item: dict[str, Any], source: str, catalogue: Catalogue) -> IgnoreEntry:
    _require_rule(catalogue, item["rule"], source, item)
    until = None
    if "until" in item:
        try:
            until = dt.date.fromisoformat(item["until"])
        except ValueError as exc:
            raise ConfigError(
                f"{source}{_where(item, ['until'])}: ignore.until {item['until']!r} is not a date",
                hint="write it as YYYY-MM-DD",
            ) from exc
    return IgnoreEntry(
        rule=item["rule"],
        reason=item["reason"],
        model=item.get("model"),
        column=item.get("column"),
        until=until,
        source=source,
        line=item.line if isinstance(item, LineDict) else None,
    )


def _require_rule(catalogue: Catalogue, rule_id: str, source: str, container: Any) -> None:
    if catalogue.get(rule_id) is not None:
        return
    close = catalogue.suggest(rule_id)
    hint = f"did you mean {', '.join(close)}?" if close else "`semverlint rules` lists the rule ids"
    line = container.line_of_key(rule_id) if isinstance(container, LineDict) else None
    where = f" (line {line})" if line else ""
    raise ConfigError(f"{source}{where}: unknown rule {rule_id!r}", hint=hint)


def _where(data: Any, path: list[Any]) -> str:
    """The line of the deepest mapping on the path to the bad key, where YAML told us."""
    line = None
    node = data
    for part in path:
        if isinstance(node, LineDict):
            line = node.line_of_key(str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(node, LineDict):
        line = node.line
    return f" (line {line})" if line else ""


def _key_name(path: Any) -> str:
    parts = [str(p) for p in path]
    return f"{'.'.join(parts)}: " if parts else ""


def merge(base: Config, override: Config | None) -> Config:
    """--config FILE on top of the project's own file: the named file wins key by key."""
    if override is None or not override.present:
        return base
    return replace(
        base,
        dialect=override.dialect or base.dialect,
        fail_on=override.fail_on or base.fail_on,
        strict=override.strict or base.strict,
        column_order=override.column_order
        if override.column_order != "ignore"
        else base.column_order,
        rules=tuple(sorted({**dict(base.rules), **dict(override.rules)}.items())),
        ignore=base.ignore + override.ignore,
        present=True,
    )
