"""Safe YAML loading that remembers the line of every mapping; PyYAML enters here only.

What is accepted follows dbt, which loads with a subclass of libyaml's ``CSafeLoader``
when PyYAML has it (as here): tabs may separate tokens and trail a line but never
indent one; a key written twice in one mapping keeps its last value (dbt warns, and
so do we, in :attr:`YamlResult.warnings`). Beyond dbt, a file is refused, with the
reason in :attr:`YamlResult.error`, when it is larger than :data:`MAX_YAML_BYTES`,
binary, nested deeper than :data:`MAX_YAML_DEPTH` (libyaml's composer recurses in C: a
few hundred thousand brackets crash the process) or when its aliases would expand to
more than :data:`MAX_ALIAS_EXPANSION` characters (a "billion laughs" file). Both are
measured in one streaming pass over libyaml's events before anything is built, so the
refusal costs about one twentieth of a load. Tags outside YAML's safe set
(``!!python/object`` ...) are an error, never a constructor.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml is eight times faster on large property files and, like dbt, accepts tabs.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_YAML_BYTES = 8 * 1024 * 1024
# Real property files nest about ten deep; libyaml slows quadratically with depth.
MAX_YAML_DEPTH = 100
# What aliases may add to a file, in characters of the scalars they repeat (plus one per
# node): a few hundred reused column blocks stay far below it, a billion laughs far above.
MAX_ALIAS_EXPANSION = 4_000_000


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the 1-based line it starts on."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}
        # What readers work out from this mapping, by name: a parsed mapping is never changed,
        # and base and head share the mappings of every file they have in common.
        self.derived: dict[str, Any] = {}

    def line_of_key(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class YamlResult:
    """A YAML file parsed: its data (with lines), or why it could not be."""

    data: Any
    error: str | None = None
    # Read anyway, but worth telling: duplicate keys, a file that is not UTF-8. Sorted.
    warnings: tuple[str, ...] = ()


class _LineLoader(_BaseLoader):
    """The base loader, collecting warnings while it builds LineDicts."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.warnings: list[str] = []


_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Any:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    # Keys written in this mapping (not brought in by a `<<` merge, which may be overridden);
    # None when it merges nothing, as nearly every mapping: then all of them are.
    explicit = None
    tags = [key.tag for key, _ in node.value]
    if _MERGE_TAG in tags or _VALUE_TAG in tags:
        explicit = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        loader.flatten_mapping(node)
    written: set[str] = set()
    for key_node, value_node in node.value:
        name = _plain_text(key_node)
        if name is None:
            key = loader.construct_object(key_node, deep=True)
            # dbt keys are strings; a YAML 1.1 boolean or number key is read by its text.
            name = key if isinstance(key, str) else str(key)
        if explicit is None or id(key_node) in explicit:
            if name in written:
                loader.warnings.append(
                    f"line {key_node.start_mark.line + 1}: key {name!r} appears twice in "
                    "one mapping; the last value is used (as in dbt)"
                )
            written.add(name)
        data.key_lines[name] = key_node.start_mark.line + 1
        text = _plain_text(value_node)
        data[name] = text if text is not None else loader.construct_object(value_node, deep=True)


def _plain_text(node: yaml.Node) -> str | None:
    """A string scalar's value, as the safe constructor would build it, without going
    through it: most keys and values of a property file are strings."""
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        value: str = node.value
        return value
    return None


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> str:
    # Dates stay text so versions and deprecation dates compare as the user wrote them.
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode(raw: bytes) -> str:
    """Text of a file: UTF-8 (with or without BOM), UTF-16 with a BOM, else Latin-1."""
    return _decode(raw)[0]


def _decode(raw: bytes) -> tuple[str, str | None]:
    """The text, and a warning when the bytes were not UTF-8."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    elif raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16"), None
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        # Latin-1 maps every byte, so a stray byte costs one odd character, not the file.
        return raw.decode("latin-1"), f"not UTF-8 (byte {exc.start + 1}): read as Latin-1"


def load_yaml(raw: bytes) -> YamlResult:
    """Parse one YAML document safely; problems come back as an error string, never raised."""
    if len(raw) > MAX_YAML_BYTES:
        return YamlResult(None, f"file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB")
    if raw.startswith(_UTF16_BOMS):
        text, warning = _decode(raw)
    elif b"\x00" in raw:
        return YamlResult(None, "file is binary, not YAML")
    else:
        text, warning = _decode(raw)
    try:
        problem = None if _surely_shallow(raw) else _shape_problem(text)
        if problem is not None:
            return YamlResult(None, problem)
        loader = _LineLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return YamlResult(None, _describe(exc, text))
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        return YamlResult(None, f"unreadable YAML: {type(exc).__name__}: {exc}")
    warnings = [*loader.warnings, *([warning] if warning else [])]
    return YamlResult(data, None, tuple(sorted(set(warnings))))


# Beyond these, a file may nest deep and is measured (a bound on depth, see below).
_MAX_PLAIN_INDENT = 30
_MAX_FLOW_OPENERS = 30


def _surely_shallow(raw: bytes) -> bool:
    """True when plain searches prove the file has no aliases and nests well under
    MAX_YAML_DEPTH, so the measuring pass (a third of a load) can be skipped.

    Block nesting needs a deeper indent for each level, but for a sequence written under
    its key at the key's indent, and "- " or "? " written on one line: depth is at most
    twice the indent, plus such compact indicators, plus the flow collections' brackets,
    which these limits keep under 100."""
    return (
        b"*" not in raw
        and b"&" not in raw
        and b"\n" + b" " * _MAX_PLAIN_INDENT not in raw
        and b"- - " not in raw
        and b"? " not in raw
        and b"\t" not in raw
        and raw.count(b"[") + raw.count(b"{") < _MAX_FLOW_OPENERS
    )


def _shape_problem(text: str) -> str | None:
    """Why a document is too deep or its aliases too large to build, if it is.

    One pass over the parser's events, which come from libyaml's loop (no recursion):
    each anchored node's expanded size is remembered when it ends, so an alias costs a
    lookup and a file of nested aliases is measured in linear time."""
    sizes: dict[str, int] = {}  # anchor -> expanded size of the node it names
    open_nodes: list[list[Any]] = []  # [anchor, size so far] of each open collection
    added = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        size = 0
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append([event.anchor, 1])
            if len(open_nodes) > MAX_YAML_DEPTH:
                return f"YAML nested more than {MAX_YAML_DEPTH} deep (line {_line(event)})"
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = len(event.value) + 1
            if event.anchor is not None:
                sizes[event.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                return (
                    f"YAML alias *{event.anchor} refers to a node that contains it "
                    f"(line {_line(event)})"
                )
            size = sizes.get(event.anchor or "", 0)  # an unknown anchor: the loader says so
            added += size
            if added > MAX_ALIAS_EXPANSION:
                return (
                    f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION} characters "
                    "(refusing alias expansion)"
                )
        else:
            continue
        if open_nodes:
            open_nodes[-1][1] += size
    return None


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _describe(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    if "maximum nesting depth" in problem:
        # libyaml 0.2.6 (PyYAML 6.0.4) stops at 1000 levels, and its scanner reads a flow
        # collection's brackets ahead of the events that would have been counted: the
        # same problem, past the same limit, said the same way whichever is first.
        return f"YAML nested more than {MAX_YAML_DEPTH} deep (line {mark.line + 1})"
    where = f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}"
    lines = text.splitlines()
    if mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == "\t":
        return f"{where}: a tab indents the line (YAML indents with spaces; dbt refuses it too)"
    return f"{where}: {problem}"


def line_of(value: object) -> int | None:
    return value.line if isinstance(value, LineDict) and value.line else None
