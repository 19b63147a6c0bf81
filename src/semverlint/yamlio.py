"""Safe YAML loading that remembers the line of every mapping; PyYAML enters here only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml is eight times faster on large property files and, like dbt, accepts tabs.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_YAML_BYTES = 8 * 1024 * 1024
# Aliases are how a "billion laughs" file multiplies itself; real property files use a handful.
MAX_ALIASES = 500


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the 1-based line it starts on."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}

    def line_of_key(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class YamlResult:
    data: Any
    error: str | None = None


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    pass


def _construct_map(loader: Any, node: yaml.MappingNode) -> Any:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        # dbt keys are strings; a YAML 1.1 boolean or number key is read by its text.
        name = key if isinstance(key, str) else str(key)
        data.key_lines[name] = key_node.start_mark.line + 1
        data[name] = loader.construct_object(value_node, deep=True)


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> str:
    # Dates stay text so versions and deprecation dates compare as the user wrote them.
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def decode(raw: bytes) -> str:
    """Text of a file: UTF-8 (with or without BOM), falling back to Latin-1 so nothing fails."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_yaml(raw: bytes) -> YamlResult:
    """Parse one YAML document safely; problems come back as an error string, never raised."""
    if len(raw) > MAX_YAML_BYTES:
        return YamlResult(None, f"file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB")
    if b"\x00" in raw:
        return YamlResult(None, "file is binary, not YAML")
    text = decode(raw)
    if text.count("*") > MAX_ALIASES and _alias_count(text) > MAX_ALIASES:
        return YamlResult(None, f"more than {MAX_ALIASES} YAML aliases (refusing alias expansion)")
    try:
        return YamlResult(yaml.load(text, Loader=_LineLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        return YamlResult(None, _describe(exc))
    except (ValueError, TypeError, RecursionError) as exc:
        return YamlResult(None, f"unreadable YAML: {exc}")


def _alias_count(text: str) -> int:
    try:
        return sum(
            1 for event in yaml.parse(text, Loader=_BaseLoader) if isinstance(event, yaml.AliasEvent)
        )
    except yaml.YAMLError:
        return 0


def _describe(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"


def line_of(value: object) -> int | None:
    return value.line if isinstance(value, LineDict) and value.line else None
