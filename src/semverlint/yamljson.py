"""Parsed YAML (LineDict trees with their line numbers) to JSON and back, so it can be cached.

PyYAML builds Python objects slowly (libyaml only speeds the parser); reading the same
property file back from JSON is an order of magnitude faster.
"""

from __future__ import annotations

from typing import Any

from semverlint.yamlio import LineDict, YamlResult

_MAP = "\x00map"  # a key no YAML mapping from a property file can hold


def encode(value: Any) -> Any:
    if isinstance(value, LineDict):
        return {_MAP: [value.line, value.key_lines, {k: encode(v) for k, v in value.items()}]}
    if isinstance(value, dict):
        return {_MAP: [0, {}, {str(k): encode(v) for k, v in value.items()}]}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        line, key_lines, items = value[_MAP]
        data = LineDict()
        data.line = int(line)
        data.key_lines = {str(k): int(v) for k, v in key_lines.items()}
        for key, item in items.items():
            data[key] = decode(item)
        return data
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def result_to_json(result: YamlResult) -> dict[str, Any]:
    return {"data": encode(result.data), "error": result.error, "warnings": list(result.warnings)}


def result_from_json(data: dict[str, Any]) -> YamlResult:
    return YamlResult(decode(data["data"]), data["error"], tuple(data["warnings"]))
