"""Loads a dbt project's interface from its dbt_project.yml, property YAML, seeds and SQL."""

from __future__ import annotations

import csv
import hashlib
import io
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import attrgetter
from typing import Any, Literal

from semverlint.cache import Cache
from semverlint.discover import relative
from semverlint.interface import (
    Column,
    Diagnostic,
    Interface,
    Model,
    ModelVersion,
    Project,
    fold,
    model_key,
)
from semverlint.suppress import Comment, comments, for_sql, for_yaml_entry, unexplained
from semverlint.yamlio import LineDict, YamlResult, decode, line_of, load_yaml
from semverlint.yamltrim import keep_tables

PROPERTY_EXTENSIONS = (".yml", ".yaml")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
LFS_MESSAGE = (
    "Git LFS pointer: not fetched (run `git lfs pull`, or `lfs: true` in actions/checkout)"
)
MODEL_EXTENSIONS = (".sql", ".py")
MAX_FILE_BYTES = 2 * 1024 * 1024
# Config keys that take a mapping as their value, so they are never mistaken for folders.
DICT_CONFIGS = frozenset(
    {"contract", "meta", "docs", "persist_docs", "grants", "labels", "freshness"}
)
KNOWN_CONFIGS = frozenset(
    {
        "materialized",
        "enabled",
        "access",
        "group",
        "schema",
        "alias",
        "database",
        "tags",
        "unique_key",
        "contract",
        "on_schema_change",
        "incremental_strategy",
        "full_refresh",
        "persist_docs",
        "meta",
        "docs",
        "grants",
        "post-hook",
        "pre-hook",
        "sql_header",
        "cluster_by",
        "partition_by",
        "sort",
        "dist",
        "transient",
        "copy_grants",
        "labels",
        "column_types",
        "quote_columns",
        "delimiter",
        "strategy",
        "updated_at",
        "check_cols",
        "target_schema",
        "target_database",
        "snapshot_meta_column_names",
        "event_time",
    }
)
_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)""")


@dataclass(frozen=True)
class DbtProjectFile:
    """What dbt_project.yml says that matters here."""

    name: str
    version: str | None
    version_line: int | None
    model_paths: tuple[str, ...] = ("models",)
    seed_paths: tuple[str, ...] = ("seeds",)
    snapshot_paths: tuple[str, ...] = ("snapshots",)
    macro_paths: tuple[str, ...] = ("macros",)
    vars: Mapping[str, Any] = field(default_factory=dict)
    models_tree: Mapping[str, Any] = field(default_factory=dict)
    seeds_tree: Mapping[str, Any] = field(default_factory=dict)
    profile: str | None = None


@dataclass(frozen=True)
class PropertyEntry:
    """One model's entry in a property file, with where it was found."""

    data: Mapping[str, Any]
    path: str
    line: int | None
    comments: tuple[Comment, ...] = ()


@dataclass(frozen=True)
class ModelFile:
    """A model's file: its name, where it lies and its text."""

    name: str
    path: str  # repository-relative
    folder: tuple[str, ...]  # folders below the model path, for dbt_project.yml config
    text: str
    language: str  # sql | python
    resource: str = "model"  # model | snapshot
    # The name folded: files are looked up by it a dozen times a comparison, on each side.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", fold(self.name))

    @cached_property
    def digest(self) -> str:
        # Asked only of the models a change reaches: comparing two states, a file read once
        # for both sides is the same object on both, and needs no digest to be the same.
        return sql_digest(self.text)


# How much of a property file a comparison needs: all of it, its sources alone, or nothing.
Need = Literal["all", "sources", "none"]
SourceKey = tuple[str, str]
# A `name:` and its value, up to a quote, space or comment. Not anchored to the line, so the
# scan runs at C speed on the literal; a key that merely ends in `name:` is found too, which
# can make a file a candidate for more than it holds, never less. (A bytes \w would stop at a
# letter that is not ASCII.)
NAME_SCAN = re.compile(rb"name:[ \t]*['\"]?([^\s'\"#]+)")  # (source name, table name), folded
YamlParser = Callable[[bytes], YamlResult]
FileSources = Mapping[SourceKey, PropertyEntry]
# Tables a deferred file is parsed cut to before the next one asked of it has it parsed
# whole: a small change asks a file for a table or two, a project-wide one for all of them,
# and each cut costs a scan of the file (a twentieth of parsing it) besides its parse.
_CUT_KEYS = 2


class Sources(Mapping[SourceKey, PropertyEntry]):
    """Source tables by (source, table): those of the parsed property files, and those of
    files kept unparsed until a model asks for one of their tables.

    Comparing two states, an unchanged file that only declares sources is the same on both
    sides, and the staging folders' `sources:` are much of a large project's YAML: parsing
    them is worth it only for the few tables the analysed models read. Such a file is
    parsed cut to the tables asked of it (`keep_tables`); asked for another, it is parsed
    again cut to them all, and after `_CUT_KEYS` tables whole, as it is for iterating. The
    answer is the one parsing everything would give: the last file by path that declares a
    table wins. (But for a file with a YAML error in a part cut away: whole, it gives no
    table; cut, it gives the ones asked for. dbt refuses such a file.) Problems in a file
    parsed this late are not reported: it did not change.
    """

    def __init__(
        self,
        parsed: Mapping[SourceKey, PropertyEntry],
        deferred: Mapping[str, bytes] | None = None,
        parse: YamlParser = load_yaml,
    ) -> None:
        self._parsed = dict(parsed)
        self._deferred = dict(sorted((deferred or {}).items()))
        self._parse = parse
        self._found: dict[SourceKey, PropertyEntry | None] = {}
        # Per deferred file: the keys its parse answers for (None: every key), and its tables.
        self._files: dict[str, tuple[frozenset[SourceKey] | None, FileSources]] = {}
        self._index: dict[str, set[str]] | None = None  # folded name -> deferred files

    def __getitem__(self, key: SourceKey) -> PropertyEntry:
        if key not in self._found:
            self._found[key] = self._lookup(key)
        entry = self._found[key]
        if entry is None:
            raise KeyError(key)
        return entry

    def __iter__(self) -> Iterator[SourceKey]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def fingerprint(self) -> str:
        """Equal for two states whose sources are equal, without parsing the deferred files."""
        import json

        parsed = {f"{s}.{t}": e.data for (s, t), e in sorted(self._parsed.items())}
        deferred = [
            (path, hashlib.sha1(raw, usedforsecurity=False).hexdigest())
            for path, raw in self._deferred.items()
        ]
        return json.dumps([parsed, deferred], sort_keys=True, default=str)

    def _lookup(self, key: SourceKey) -> PropertyEntry | None:
        found = [self._parsed[key]] if key in self._parsed else []
        # Only a file with a `name:` for the source and one for the table can declare it.
        for path in sorted(set.intersection(*(self._files_naming(name) for name in key))):
            if (entry := self._file(path, key).get(key)) is not None:
                found.append(entry)
        return max(found, key=lambda e: e.path, default=None)

    def _files_naming(self, name: str) -> set[str]:
        """The deferred files with a `name:` of this (folded) name: every one for a name the
        scan cannot read whole (a space, a quote or a # in it)."""
        if self._index is None:
            self._index = {}
            for path, raw in self._deferred.items():
                for found in set(NAME_SCAN.findall(raw)):
                    self._index.setdefault(fold(found.decode("utf-8", "replace")), set()).add(path)
        if NAME_SCAN.fullmatch(b"name:" + name.encode("utf-8")) is None:
            return set(self._deferred)
        return self._index.get(name, set())

    def _file(self, path: str, key: SourceKey | None = None) -> FileSources:
        """The source tables of a deferred file, right for `key` (for every key when None)
        and for every key asked before; maybe others besides, which are not to be read."""
        covered, found = self._files.get(path, (frozenset(), {}))
        if covered is None or key in covered:
            return found
        raw = self._deferred[path]
        keys = None if key is None or len(covered) >= _CUT_KEYS else covered | {key}
        cut = raw if keys is None else keep_tables(raw, keys)
        found = _file_sources(path, self._parse(cut))
        self._files[path] = (None if cut is raw else keys, found)  # raw itself: nothing was cut
        return found

    def _everything(self) -> dict[SourceKey, PropertyEntry]:
        merged = dict(self._parsed)
        for path in self._deferred:
            for key, entry in self._file(path).items():
                if key not in merged or merged[key].path <= entry.path:
                    merged[key] = entry
        return merged


def _file_sources(path: str, result: YamlResult) -> dict[SourceKey, PropertyEntry]:
    """The source tables one property file declares; any problem in it leaves it out."""
    data = result.data if result.error is None else None
    if not isinstance(data, dict):
        return {}
    found: dict[SourceKey, PropertyEntry] = {}
    ignored: list[Diagnostic] = []
    _add_sources(data, path, found, ignored)
    return found


def _add_sources(
    data: Mapping[str, Any],
    path: str,
    into: dict[SourceKey, PropertyEntry],
    diagnostics: list[Diagnostic],
) -> None:
    for source in _named_entries(data.get("sources"), path, "sources", diagnostics):
        for table in _named_entries(source.data.get("tables"), path, "tables", diagnostics):
            into[(fold(source.data["name"]), fold(table.data["name"]))] = table


@dataclass(frozen=True)
class Properties:
    """The property files of a project, collected by what they describe."""

    models: Mapping[str, PropertyEntry]
    seeds: Mapping[str, PropertyEntry]
    sources: Sources
    diagnostics: tuple[Diagnostic, ...]
    # The semantic layer and exposures: what dashboards and metric queries are built on.
    semantic: tuple[tuple[str, PropertyEntry], ...] = ()


def _paths(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value.strip("/"),)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip("/") for v in value) or default
    return default


def parse_project_file(
    raw: bytes, path: str
) -> tuple[DbtProjectFile | None, tuple[Diagnostic, ...]]:
    result = load_yaml(raw)
    if result.error is not None or not isinstance(result.data, dict):
        reason = result.error or "dbt_project.yml is not a mapping"
        return None, (Diagnostic("error", f"cannot read dbt_project.yml: {reason}", path),)
    data = result.data
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return None, (Diagnostic("error", "dbt_project.yml has no `name`", path),)
    version = data.get("version")
    line = data.line_of_key("version") if isinstance(data, LineDict) and "version" in data else None
    vars_ = _mapping(data.get("vars"))
    models = _mapping(data.get("models"))
    seeds = _mapping(data.get("seeds"))
    return (
        DbtProjectFile(
            name=name,
            version=None if version is None else str(version),
            version_line=line,
            model_paths=_paths(data.get("model-paths", data.get("source-paths")), ("models",)),
            seed_paths=_paths(data.get("seed-paths", data.get("data-paths")), ("seeds",)),
            snapshot_paths=_paths(data.get("snapshot-paths"), ("snapshots",)),
            macro_paths=_paths(data.get("macro-paths"), ("macros",)),
            vars=vars_,
            models_tree=models,
            seeds_tree=seeds,
            profile=data.get("profile") if isinstance(data.get("profile"), str) else None,
        ),
        (),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def under(rel: str, roots: tuple[str, ...]) -> str | None:
    """The root folder a project-relative path lies under, if any."""
    for root in roots:
        if root in ("", "."):
            return root
        if rel.startswith(root + "/"):
            return root
    return None


def paths_under(
    project_dir: str,
    paths: Iterable[str],
    roots: tuple[str, ...],
    extensions: str | tuple[str, ...],
) -> list[str]:
    """The paths of a project's files with one of `extensions` under one of `roots`, sorted.

    What `under` says of each path, asked in two C calls a path: a project's thousands of
    files are sorted this way five times a side."""
    base = "" if project_dir == "." else f"{project_dir}/"
    everywhere = any(root in ("", ".") for root in roots)
    prefixes = (base,) if everywhere else tuple(f"{base}{root}/" for root in roots)
    return sorted(p for p in paths if p.endswith(extensions) and p.startswith(prefixes))


# ---------------------------------------------------------------- dbt_project.yml config


def folder_config(
    tree: Mapping[str, Any], project: str, folder: tuple[str, ...], name: str
) -> dict[str, Any]:
    """The `models:` tree of dbt_project.yml applied to one model, deeper keys winning."""
    merged: dict[str, Any] = {}
    _take_configs(tree, merged)
    node: Any = tree.get(project)
    for part in (*folder, name):
        if not isinstance(node, dict):
            break
        _take_configs(node, merged)
        node = node.get(part)
    if isinstance(node, dict):
        _take_configs(node, merged)
    return merged


def _take_configs(node: Mapping[str, Any], into: dict[str, Any]) -> None:
    for key, value in node.items():
        if key.startswith("+"):
            into[key[1:]] = value
        elif key in KNOWN_CONFIGS and (not isinstance(value, dict) or key in DICT_CONFIGS):
            into[key] = value


# ---------------------------------------------------------------- property files


def yaml_key(raw: bytes) -> str:
    """What a property file's parse is cached under: its bytes."""
    from semverlint.cache import make_key

    return make_key("yaml", hashlib.sha1(raw, usedforsecurity=False).hexdigest())


# A file's parse as its cache entry (yamljson), when it was made elsewhere (in a worker).
ParsedElsewhere = Callable[[bytes], "dict[str, Any] | None"]


def cached_parser(cache: Cache | None, elsewhere: ParsedElsewhere | None = None) -> YamlParser:
    """load_yaml, remembered by content: base and head share unchanged files, runs share all.
    `elsewhere` gives the parses of files sent to workers ahead of time."""
    if cache is None:
        return load_yaml
    # This parser's own results, as built: base and head share it, and decoding the cached
    # JSON again for the second side cost as much as parsing.
    seen: dict[bytes, YamlResult] = {}

    def parse(raw: bytes) -> YamlResult:
        from semverlint.cache import read
        from semverlint.yamljson import result_from_json, result_to_json

        if raw in seen:
            return seen[raw]
        key = yaml_key(raw)
        cached = read(cache, key, result_from_json)
        if cached is None and elsewhere is not None and (entry := elsewhere(raw)) is not None:
            cache.put(key, entry)
            cached = result_from_json(entry)
        if cached is not None:
            result = cached
        else:
            result = load_yaml(raw)
            cache.put(key, result_to_json(result))
        seen[raw] = result
        return result

    return parse


def collect_properties(
    files: Mapping[str, bytes],
    parse: YamlParser = load_yaml,
    sources_only: Mapping[str, bytes] | None = None,
) -> Properties:
    """Model, seed and source entries of every property file; the first definition wins.

    `sources_only` are files read for their sources alone, and only when a model asks.
    """
    models: dict[str, PropertyEntry] = {}
    seeds: dict[str, PropertyEntry] = {}
    sources: dict[SourceKey, PropertyEntry] = {}
    semantic: list[tuple[str, PropertyEntry]] = []
    diagnostics: list[Diagnostic] = []
    for path in sorted(files):
        result = parse(files[path])
        diagnostics.extend(Diagnostic("warning", warning, path) for warning in result.warnings)
        if result.error is not None:
            diagnostics.append(
                Diagnostic("warning", f"skipped property file: {result.error}", path)
            )
            continue
        data = result.data
        if data is None:
            continue
        if not isinstance(data, dict):
            diagnostics.append(Diagnostic("warning", "skipped property file: not a mapping", path))
            continue
        found = comments(decode(files[path])) if b"semverlint:" in files[path] else ()
        # Snapshots are described like models and share their namespace of relation names.
        for section, target in (("models", models), ("snapshots", models), ("seeds", seeds)):
            for entry in _named_entries(data.get(section), path, section, diagnostics):
                entry = replace(entry, comments=found)
                key = fold(entry.data["name"])
                if key in target:
                    diagnostics.append(
                        Diagnostic(
                            "warning",
                            f"{section[:-1]} {entry.data['name']!r} is described twice "
                            f"(also in {target[key].path}); using the first",
                            path,
                            entry.line,
                        )
                    )
                    continue
                target[key] = entry
        _add_sources(data, path, sources, diagnostics)
        for section in ("semantic_models", "metrics", "exposures"):
            semantic.extend(
                (section, e) for e in _named_entries(data.get(section), path, section, diagnostics)
            )
    return Properties(
        models, seeds, Sources(sources, sources_only, parse), tuple(diagnostics), tuple(semantic)
    )


def _named_entries(
    value: Any, path: str, section: str, diagnostics: list[Diagnostic]
) -> Iterator[PropertyEntry]:
    if value is None:
        return
    if not isinstance(value, list):
        diagnostics.append(Diagnostic("warning", f"`{section}:` is not a list; skipped", path))
        return
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            yield PropertyEntry(item, path, line_of(item))
        else:
            diagnostics.append(
                Diagnostic(
                    "warning", f"an entry of `{section}:` has no name; skipped", path, line_of(item)
                )
            )


# ---------------------------------------------------------------- columns and guarantees


def _test_name(test: Any) -> tuple[str, Any]:
    """(name, arguments) of one data test entry in any of dbt's spellings."""
    if isinstance(test, str):
        return test, {}
    if isinstance(test, dict) and len(test) == 1:
        name, args = next(iter(test.items()))
        return str(name), args if isinstance(args, dict) else {}
    if isinstance(test, dict) and "test_name" in test:
        return str(test["test_name"]), test
    return "", {}


def _arguments(args: Mapping[str, Any]) -> Mapping[str, Any]:
    """dbt 1.10 moved test arguments under `arguments:`; read both spellings."""
    nested = args.get("arguments")
    return {**args, **nested} if isinstance(nested, dict) else args


def _test_enabled(args: Mapping[str, Any]) -> bool:
    """A test that is off, or checks only the rows a `where` selects, guarantees nothing of the
    column."""
    config = args.get("config")
    if isinstance(config, dict) and (config.get("enabled") is False or config.get("where")):
        return False
    return args.get("enabled") is not False and not args.get("where")


def _ref_target(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = _REF.search(value)
    if match:
        return match.group(2) or match.group(1)
    source = re.search(r"""source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)""", value)
    if source:
        return f"{source.group(1)}.{source.group(2)}"
    return value.strip() or None


def column_from_yaml(data: Mapping[str, Any]) -> Column:
    not_null = unique = primary_key = False
    accepted: tuple[str, ...] | None = None
    relationships: set[str] = set()
    checks: set[str] = set()
    tests = [*(_as_list(data.get("data_tests"))), *(_as_list(data.get("tests")))]
    for test in tests:
        name, args = _test_name(test)
        if not _test_enabled(args):
            continue
        args = _arguments(args)
        short = name.split(".")[-1]
        if short == "not_null":
            not_null = True
        elif short == "unique":
            unique = True
        elif short == "accepted_values" and isinstance(args.get("values"), list):
            values = tuple(sorted({_value_text(v) for v in args["values"]}))
            accepted = values if accepted is None else tuple(sorted(set(accepted) & set(values)))
        elif short == "relationships":
            target = _ref_target(args.get("to"))
            if target:
                relationships.add(f"{fold(target)}.{fold(str(args.get('field', '')))}")
    declared: set[str] = set()
    for constraint in _as_list(data.get("constraints")):
        if not isinstance(constraint, dict):
            continue
        kind = constraint.get("type")
        if isinstance(kind, str):
            declared.add(kind)
        if kind == "not_null":
            not_null = True
        elif kind == "unique":
            unique = True
        elif kind == "primary_key":
            primary_key = True
        elif kind == "check" and constraint.get("expression"):
            checks.add(check_text(constraint["expression"]))
        elif kind == "foreign_key":
            target = _ref_target(constraint.get("to")) or _ref_target(constraint.get("expression"))
            fields = constraint.get("to_columns") or []
            if target:
                relationships.add(f"{fold(target)}.{','.join(fold(str(f)) for f in fields)}")
    data_type = data.get("data_type")
    return Column(
        name=str(data["name"]),
        data_type=str(data_type).strip() if data_type not in (None, "") else None,
        not_null=not_null,
        unique=unique,
        primary_key=primary_key,
        accepted_values=accepted,
        relationships=tuple(sorted(relationships)),
        checks=tuple(sorted(checks)),
        constraints=tuple(sorted(declared)),
        description=_text(data.get("description")),
        quoted=data.get("quote") is True,
        declared=True,
        line=line_of(data),
    )


def check_text(expression: Any) -> str:
    """Check expressions compare by meaning: `amount >= 0` and `Amount>=0` are one check."""
    from semverlint.sql import canonical_expression

    return canonical_expression(str(expression), None)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def yaml_columns(entry: Mapping[str, Any]) -> tuple[Column, ...]:
    """The columns an entry declares; worked out once for both sides of a comparison."""
    derived = entry.derived if isinstance(entry, LineDict) else {}
    if "columns" not in derived:
        columns: dict[str, Column] = {}
        for item in _as_list(entry.get("columns")):
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                column = column_from_yaml(item)
                columns.setdefault(column.key, column)
        derived["columns"] = tuple(columns.values())
    result: tuple[Column, ...] = derived["columns"]
    return result


def apply_model_constraints(
    entry: Mapping[str, Any], columns: tuple[Column, ...]
) -> tuple[Column, ...]:
    """Model-level not_null, check and foreign_key constraints name their columns: apply them
    there."""
    by_key = {c.key: c for c in columns}
    for constraint in _as_list(entry.get("constraints")):
        if not isinstance(constraint, dict) or constraint.get("type") not in (
            "not_null",
            "check",
            "foreign_key",
        ):
            continue
        kind = constraint["type"]
        for name in (str(c) for c in _as_list(constraint.get("columns"))):
            column = by_key.get(fold(name))
            if column is None:
                continue
            marked = replace(column, constraints=tuple(sorted({*column.constraints, kind})))
            if kind == "not_null":
                marked = replace(marked, not_null=True)
            elif kind == "check" and constraint.get("expression"):
                marked = replace(
                    marked,
                    checks=tuple(sorted({*marked.checks, check_text(constraint["expression"])})),
                )
            elif kind == "foreign_key":
                target = _ref_target(constraint.get("to")) or _ref_target(
                    constraint.get("expression")
                )
                fields = ",".join(fold(str(f)) for f in _as_list(constraint.get("to_columns")))
                if target:
                    marked = replace(
                        marked,
                        relationships=tuple(
                            sorted({*marked.relationships, f"{fold(target)}.{fields}"})
                        ),
                    )
            by_key[column.key] = marked
    return tuple(by_key[c.key] for c in columns)


def model_constraints(
    entry: Mapping[str, Any], columns: tuple[Column, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(primary key, unique keys) from model-level constraints, tests and column constraints."""
    primary: tuple[str, ...] = tuple(c.name for c in columns if c.primary_key)
    unique: list[tuple[str, ...]] = []
    for constraint in _as_list(entry.get("constraints")):
        if not isinstance(constraint, dict):
            continue
        names = tuple(str(c) for c in _as_list(constraint.get("columns")))
        if constraint.get("type") == "primary_key" and names:
            primary = names
        elif constraint.get("type") == "unique" and names:
            unique.append(names)
    for test in [*_as_list(entry.get("data_tests")), *_as_list(entry.get("tests"))]:
        name, args = _test_name(test)
        args = _arguments(args)
        if name.split(".")[-1] == "unique_combination_of_columns" and _test_enabled(args):
            names = tuple(str(c) for c in _as_list(args.get("combination_of_columns")))
            if names:
                unique.append(names)
    return primary, tuple(sorted(set(unique)))


# ---------------------------------------------------------------- models


def _config(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    if entry is None:
        return {}
    config = entry.get("config")
    merged = dict(config) if isinstance(config, dict) else {}
    if "access" in entry:  # top-level `access:` is the older spelling of config.access
        merged.setdefault("access", entry["access"])
    return merged


def _access(value: Any) -> str:
    text = str(value).lower() if value is not None else "protected"
    return text if text in ("public", "protected", "private") else "protected"


def _bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return default


def _unique_key(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) and value.strip():
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, list) and value:
        return tuple(str(v) for v in value)
    return None


def _versions(
    entry: Mapping[str, Any], columns: tuple[Column, ...]
) -> tuple[tuple[ModelVersion, ...], str | None]:
    versions: list[ModelVersion] = []
    for item in _as_list(entry.get("versions")):
        if not isinstance(item, dict) or item.get("v") is None:
            continue
        versions.append(
            ModelVersion(
                v=str(item["v"]),
                columns=_version_columns(item, columns),
                deprecation_date=None
                if item.get("deprecation_date") is None
                else str(item["deprecation_date"]),
                defined_in=None if item.get("defined_in") is None else str(item["defined_in"]),
            )
        )
    if not versions:
        return (), None
    latest = entry.get("latest_version")
    if latest is None:
        latest = max((v.v for v in versions), key=_version_sort_key)
    return tuple(sorted(versions, key=lambda v: _version_sort_key(v.v))), str(latest)


def _version_sort_key(v: str) -> tuple[int, float | str]:
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)


def _version_columns(item: Mapping[str, Any], columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """A version's columns: include/exclude over the model's, then its own definitions."""
    spec = _as_list(item.get("columns"))
    if not spec:
        return columns
    include: Any = "all"
    exclude: set[str] = set()
    own: dict[str, Column] = {}
    for col in spec:
        if not isinstance(col, dict):
            continue
        if "include" in col or "exclude" in col:
            include = col.get("include", "all")
            exclude = {fold(str(e)) for e in _as_list(col.get("exclude"))}
        elif isinstance(col.get("name"), str):
            column = column_from_yaml(col)
            own[column.key] = column
    if include in ("all", "*"):
        kept = [c for c in columns if c.key not in exclude]
    else:
        wanted = {fold(str(i)) for i in _as_list(include)}
        kept = [c for c in columns if c.key in wanted and c.key not in exclude]
    merged = {c.key: c for c in kept}
    merged.update(own)
    return tuple(merged.values())


def sql_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


# Model files read already, by path, with the content they were read from, for one project
# layout: comparing two states, the unchanged files (nearly all) are the very same bytes on
# both sides and are read once. Keyed by path, not content: hashing megabytes of content
# costs more than comparing the one candidate.
TextMemo = dict[str, tuple[bytes, "ModelFile"]]


def model_files(
    project: str,
    files: Mapping[str, bytes],
    model_paths: tuple[str, ...],
    memo: TextMemo | None = None,
) -> tuple[tuple[ModelFile, ...], tuple[Diagnostic, ...]]:
    """The .sql and .py files under the model paths; names are file names without extension."""
    found: dict[str, ModelFile] = {}
    diagnostics: list[Diagnostic] = []
    for path in sorted(p for p in files if p.endswith(MODEL_EXTENSIONS)):
        raw = files[path]
        seen = memo.get(path) if memo is not None else None
        file = seen[1] if seen is not None and (seen[0] is raw or seen[0] == raw) else None
        if file is None:
            read = _model_file(project, path, raw, model_paths)
            if isinstance(read, Diagnostic):
                diagnostics.append(read)
                continue
            if read is None:
                continue
            file = read
            if memo is not None:
                memo[path] = (raw, file)
        key = file.key
        if key in found:
            diagnostics.append(
                Diagnostic(
                    "error",
                    f"model {file.name!r} is defined twice (also {found[key].path}); "
                    "using the first",
                    path,
                )
            )
            continue
        found[key] = file
    return tuple(found.values()), tuple(diagnostics)


def _model_file(
    project: str, path: str, raw: bytes, model_paths: tuple[str, ...]
) -> ModelFile | Diagnostic | None:
    """The model file at `path`; a warning when it cannot be read, None when it is not
    under the model paths."""
    rel = relative(project, path)
    root = under(rel, model_paths)
    if root is None:
        return None
    if raw.startswith(LFS_POINTER):
        return Diagnostic("warning", LFS_MESSAGE, path)
    if _binary(raw):
        return Diagnostic("warning", "skipped model file: binary content", path)
    if len(raw) > MAX_FILE_BYTES:
        return Diagnostic("warning", "skipped model file: larger than 2 MiB", path)
    stem, ext = split_name(rel)
    inner = rel[len(root) + 1 :] if root not in ("", ".") else rel
    folder = tuple(inner.split("/")[:-1])
    return ModelFile(stem, path, folder, decode(raw), "python" if ext == ".py" else "sql")


def _binary(raw: bytes) -> bool:
    return raw.find(b"\x00", 0, 8192) != -1


def split_name(path: str) -> tuple[str, str]:
    """A file's name without its extension, and the extension (posixpath.splitext of its
    basename, without the generality a name that starts with a dot needs)."""
    name = path.rpartition("/")[2]
    if name.startswith("."):
        return posixpath.splitext(name)
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if dot else (name, "")


def build_model(
    file: ModelFile,
    entry: PropertyEntry | None,
    project_config: Mapping[str, Any],
    sql_config: Mapping[str, Any],
    version: str | None = None,
) -> Model:
    """One model (or one version of a versioned model) from its file, properties and config."""
    data = entry.data if entry else {}
    version_config = _version_item(data, version).get("config") if version else None
    config = {
        **project_config,
        **_config(entry.data if entry else None),
        **(version_config if isinstance(version_config, dict) else {}),
        **sql_config,
    }
    columns = yaml_columns(data)
    versions, latest = _versions(data, columns)
    this_version = next((v for v in versions if v.v == version), None)
    if this_version is not None:
        columns = this_version.columns
    columns = apply_model_constraints(data, columns)
    primary, unique = model_constraints(data, columns)
    suppressions = for_sql(file.text, file.path)[0] if "semverlint:" in file.text else ()
    if entry is not None and entry.comments:
        suppressions += for_yaml_entry(entry.comments, entry.path, entry.line, columns)[0]
    unique_key = _unique_key(config.get("unique_key")) or ()
    contract = config.get("contract")
    enforced = _bool(contract.get("enforced"), False) if isinstance(contract, dict) else False
    deprecation = data.get("deprecation_date")
    if this_version is not None and this_version.deprecation_date is not None:
        deprecation = this_version.deprecation_date
    default_materialized = "snapshot" if file.resource == "snapshot" else "view"
    return Model(
        name=str(data.get("name") or file.name) if version else file.name,
        resource=file.resource,
        version=version,
        yaml_path=entry.path if entry else None,
        line=entry.line if entry else None,
        sql_path=file.path,
        access=_access(config.get("access")),  # type: ignore[arg-type]
        materialized=str(config.get("materialized") or default_materialized).lower(),
        enabled=_bool(config.get("enabled"), True),
        contract_enforced=enforced,
        group=None if config.get("group") is None else str(config["group"]),
        database=_opt(config.get("database")),
        schema=_opt(config.get("schema")),
        alias=_opt(config.get("alias")),
        description=_text(data.get("description")),
        columns=columns,
        # An enforced contract makes the YAML the full column list: dbt fails the build otherwise.
        columns_closed=enforced,
        primary_key=primary,
        unique_keys=unique,
        unique_key=unique_key,
        sql_digest=file.digest,
        versions=versions,
        latest_version=latest,
        deprecation_date=None if deprecation is None else str(deprecation),
        suppressions=suppressions,
    )


def _version_item(data: Mapping[str, Any], version: str | None) -> Mapping[str, Any]:
    for item in _as_list(data.get("versions")):
        if isinstance(item, dict) and str(item.get("v")) == version:
            return item
    return {}


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


# ---------------------------------------------------------------- seeds


def seed_models(
    project: DbtProjectFile, project_dir: str, files: Mapping[str, bytes], properties: Properties
) -> Iterator[Model]:
    for path in paths_under(project_dir, files, project.seed_paths, ".csv"):
        rel = relative(project_dir, path)
        if files[path].startswith(LFS_POINTER):
            continue  # reported by lfs_diagnostics
        name = posixpath.splitext(posixpath.basename(rel))[0]
        entry = properties.seeds.get(fold(name))
        header = _csv_header(files[path])
        declared = {c.key: c for c in yaml_columns(entry.data)} if entry else {}
        config = {
            **folder_config(project.seeds_tree, project.name, (), name),
            **_config(entry.data if entry else None),
        }
        column_types = _mapping(config.get("column_types"))
        columns = tuple(
            replace(
                declared.get(fold(h), Column(name=h)),
                data_type=_opt(column_types.get(h))
                or declared.get(fold(h), Column(name=h)).data_type,
                declared=True,
            )
            for h in header
        )
        yield Model(
            name=name,
            resource="seed",
            yaml_path=entry.path if entry else None,
            line=entry.line if entry else None,
            sql_path=path,
            access=_access(config.get("access")),  # type: ignore[arg-type]
            materialized="seed",
            enabled=_bool(config.get("enabled"), True),
            schema=_opt(config.get("schema")),
            alias=_opt(config.get("alias")),
            description=_text(entry.data.get("description")) if entry else None,
            columns=columns,
            columns_closed=bool(header),
        )


def lfs_diagnostics(
    paths: Iterator[str] | list[str], files: Mapping[str, bytes]
) -> tuple[Diagnostic, ...]:
    return tuple(
        Diagnostic("warning", LFS_MESSAGE, p)
        for p in sorted(paths)
        if files[p].startswith(LFS_POINTER)
    )


def _csv_header(raw: bytes) -> tuple[str, ...]:
    text = decode(raw[:65536])
    first = text.splitlines()[0] if text.strip() else ""
    try:
        row = next(csv.reader(io.StringIO(first)), [])
    except csv.Error:
        return ()
    return tuple(h.strip() for h in row if h.strip())


# ---------------------------------------------------------------- the semantic layer

_RESOURCE = {"semantic_models": "semantic model", "metrics": "metric", "exposures": "exposure"}


def semantic_entities(properties: Properties) -> Iterator[Model]:
    """Semantic models (entities, dimensions and measures as columns), metrics and exposures.

    Consumers query metrics and dimensions by name, so removing one breaks them like a
    column; an exposure is a consumer, listed as impact of what breaks the models it uses.
    """
    for section, entry in properties.semantic:
        data = entry.data
        names: list[Column] = []
        for group in ("entities", "dimensions", "measures"):
            for item in _as_list(data.get(group)):
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    names.append(
                        Column(
                            name=item["name"],
                            data_type=_opt(item.get("type"))
                            if group != "measures"
                            else _opt(item.get("agg")),
                            description=_text(item.get("description")),
                            declared=True,
                            line=line_of(item),
                        )
                    )
        depends = (
            [data.get("model")]
            if section == "semantic_models"
            else _as_list(data.get("depends_on"))
        )
        refs = tuple(sorted({fold(t) for d in depends if (t := _ref_target(d)) and "." not in t}))
        config = _config(data)
        yield Model(
            name=str(data["name"]),
            resource=_RESOURCE[section],
            yaml_path=entry.path,
            line=entry.line,
            access=_access(config.get("access", "public" if section == "exposures" else None)),  # type: ignore[arg-type]
            materialized=section,
            enabled=_bool(config.get("enabled"), True),
            description=_text(data.get("description") or data.get("label")),
            columns=tuple(names),
            columns_closed=True,
            refs=refs,
        )


# ---------------------------------------------------------------- the project


@dataclass(frozen=True)
class ModelSpec:
    """What a model is built from: its file, its properties and its dbt_project.yml config."""

    file: ModelFile
    entry: PropertyEntry | None
    project: DbtProjectFile
    version: str | None = None
    config_name: str | None = None  # the file's own name, when a version is named otherwise
    # Asked of every model several times a run (sorting, lookups by key): made with the spec.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.version is None:  # the file's name, folded already
            object.__setattr__(self, "key", self.file.key)
            return
        name = self.file.name
        if self.entry is not None and self.version:
            name = str(self.entry.data["name"])
        object.__setattr__(self, "key", model_key(name, self.version))

    @cached_property
    def project_config(self) -> Mapping[str, Any]:
        """The models: tree applied to this model: worked out for the models a change reaches,
        not for every model of the project."""
        name = self.config_name or self.file.name
        return folder_config(self.project.models_tree, self.project.name, self.file.folder, name)

    def build(self, sql_config: Mapping[str, Any] | None = None) -> Model:
        return build_model(
            self.file, self.entry, self.project_config, sql_config or {}, self.version
        )


@dataclass(frozen=True)
class DbtProject:
    """Everything read from a dbt project before its SQL is analysed."""

    project: DbtProjectFile
    specs: tuple[ModelSpec, ...]
    seeds: tuple[Model, ...]
    properties: Properties
    macros: tuple[tuple[str, str], ...]
    adapter: str | None
    diagnostics: tuple[Diagnostic, ...]


_SNAPSHOT = re.compile(
    r"\{%-?\s*snapshot\s+(\w+)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}", re.DOTALL | re.IGNORECASE
)


def snapshot_files(
    project_dir: str, files: Mapping[str, bytes], roots: tuple[str, ...]
) -> tuple[tuple[ModelFile, ...], tuple[Diagnostic, ...]]:
    """Each `{% snapshot name %} ... {% endsnapshot %}` block is a relation of its own."""
    found: list[ModelFile] = []
    diagnostics: list[Diagnostic] = []
    for path in paths_under(project_dir, files, roots, ".sql"):
        raw = files[path]
        if raw.startswith(LFS_POINTER) or _binary(raw) or len(raw) > MAX_FILE_BYTES:
            diagnostics.append(
                Diagnostic("warning", "skipped snapshot file: not readable SQL", path)
            )
            continue
        for match in _SNAPSHOT.finditer(decode(raw)):
            body = match.group(2)
            found.append(ModelFile(match.group(1), path, (), body, "sql", "snapshot"))
    return tuple(found), tuple(diagnostics)


def all_model_files(
    project_dir: str,
    files: Mapping[str, bytes],
    project: DbtProjectFile,
    memo: TextMemo | None = None,
) -> tuple[tuple[ModelFile, ...], tuple[Diagnostic, ...]]:
    """Models and snapshots; a snapshot named like a model is reported and left out."""
    models, diagnostics = model_files(project_dir, files, project.model_paths, memo)
    snapshots, more = snapshot_files(project_dir, files, project.snapshot_paths)
    names = {m.key for m in models}
    clashes = tuple(
        Diagnostic("error", f"snapshot {s.name!r} has the name of a model; skipped", s.path)
        for s in snapshots
        if s.key in names
    )
    kept = tuple(s for s in snapshots if s.key not in names)
    return (*models, *kept), (*diagnostics, *more, *clashes)


def property_files(
    project_dir: str, files: Mapping[str, bytes], project: DbtProjectFile
) -> dict[str, bytes]:
    """The YAML files under the model, seed and snapshot paths, by path."""
    roots = (*project.model_paths, *project.seed_paths, *project.snapshot_paths)
    return {p: files[p] for p in paths_under(project_dir, files, roots, PROPERTY_EXTENSIONS)}


# What marks a suppression comment: files without it are not read for them.
SUPPRESSION_MARK = b"semverlint:"
# A state's model files, the problems reading them, and the paths of those that hold a
# suppression comment: worked out with the other state's, sharing what they have in common.
FoundModels = tuple[tuple[ModelFile, ...], tuple[Diagnostic, ...], frozenset[str]]


def marked_models(
    files: Mapping[str, bytes],
    other: Mapping[str, bytes] | None = None,
    other_marked: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The model files holding a suppression comment; a file that is the very same bytes in
    `other` is not searched again (nearly all of them, comparing two states)."""
    found = set()
    for path, raw in files.items():
        if path.endswith(MODEL_EXTENSIONS):
            if other is not None and other.get(path) is raw:
                if path in other_marked:
                    found.add(path)
            elif SUPPRESSION_MARK in raw:
                found.add(path)
    return frozenset(found)


def read_dbt_project(
    project_dir: str,
    files: Mapping[str, bytes],
    marker: str,
    parse: YamlParser = load_yaml,
    wanted: Callable[[str, bytes], tuple[Need, bytes]] | None = None,
    found: FoundModels | None = None,
) -> DbtProject | Diagnostic:
    """Parse the YAML side of a dbt project: project file, properties, model files, seeds.

    `wanted` says how much of each property file is worth parsing, and gives the text to
    parse (all of every file by default): comparing two states, a file that describes no
    model the change can reach is the same on both sides, its sources matter only to a
    model that reads them, and of a file that does, only the entries of those models.
    """
    project, diagnostics = parse_project_file(files[marker], marker)
    if project is None:
        return diagnostics[0]
    needs = {
        p: wanted(p, raw) if wanted else ("all", raw)
        for p, raw in property_files(project_dir, files, project).items()
    }
    property_files_ = {p: raw for p, (need, raw) in needs.items() if need == "all"}
    sources_only = {p: raw for p, (need, raw) in needs.items() if need == "sources"}
    properties = collect_properties(property_files_, parse, sources_only)
    model_list, file_diagnostics = (
        found[:2] if found is not None else all_model_files(project_dir, files, project)
    )
    specs, claimed, version_diagnostics = _versioned_specs(project, properties, model_list)
    specs.extend(
        ModelSpec(file, properties.models.get(file.key), project)
        for file in model_list
        if file.key not in claimed
    )
    known = {s.file.key for s in specs} | {
        fold(str(s.entry.data["name"])) for s in specs if s.entry
    }
    orphans = tuple(
        Diagnostic(
            "warning",
            f"properties describe model {entry.data['name']!r} but it has no SQL file",
            entry.path,
            entry.line,
        )
        for key, entry in sorted(properties.models.items())
        if key not in known
    )
    macros = project_macros(project_dir, files, project)
    marked = [p for p in property_files_ if SUPPRESSION_MARK in files[p]]
    marked.extend(marked_models(files) if found is None else found[2])
    suppression_diagnostics = unexplained({p: decode(files[p]) for p in marked})
    return DbtProject(
        project=project,
        specs=tuple(sorted(specs, key=attrgetter("key"))),
        seeds=tuple(seed_models(project, project_dir, files, properties)),
        properties=properties,
        macros=macros,
        adapter=project_adapter(project_dir, files, project),
        diagnostics=(
            *properties.diagnostics,
            *file_diagnostics,
            *version_diagnostics,
            *orphans,
            *lfs_diagnostics(paths_under(project_dir, files, project.seed_paths, ".csv"), files),
            *suppression_diagnostics,
        ),
    )


def project_macros(
    project_dir: str, files: Mapping[str, bytes], project: DbtProjectFile
) -> tuple[tuple[str, str], ...]:
    """The macro files' paths and text."""
    paths = paths_under(project_dir, files, project.macro_paths, ".sql")
    return tuple((p, decode(files[p])) for p in paths)


def project_adapter(
    project_dir: str, files: Mapping[str, bytes], project: DbtProjectFile
) -> str | None:
    """The adapter of the project's profile, when a profiles.yml is committed beside it."""
    profiles = f"{project_dir}/profiles.yml" if project_dir != "." else "profiles.yml"
    return adapter_from_profiles(files.get(profiles), project.profile)


def adapter_from_profiles(raw: bytes | None, profile: str | None) -> str | None:
    """The adapter type of the profile's default target, when a profiles.yml is committed."""
    if raw is None:
        return None
    data = load_yaml(raw).data
    if not isinstance(data, dict):
        return None
    entry = data.get(profile) if profile else next(iter(data.values()), None)
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
        return None
    outputs = entry["outputs"]
    target = outputs.get(entry.get("target")) or next(iter(outputs.values()), None)
    kind = target.get("type") if isinstance(target, dict) else None
    return kind if isinstance(kind, str) else None


def project_interface(
    dbt: DbtProject,
    project_dir: str,
    marker: str,
    models: tuple[Model, ...],
    dialect: str | None,
    diagnostics: tuple[Diagnostic, ...] = (),
) -> Interface:
    entities = tuple(semantic_entities(dbt.properties))
    semantic = tuple(e for e in entities if e.resource != "exposure")
    exposures = tuple(e for e in entities if e.resource == "exposure")
    return Interface(
        project=Project(
            name=dbt.project.name,
            path=project_dir,
            kind="dbt",
            version=dbt.project.version,
            dialect=dialect,
            version_file=marker,
            version_line=dbt.project.version_line,
        ),
        models=tuple(sorted((*models, *dbt.seeds, *semantic), key=lambda m: m.key)),
        exposures=exposures,
        diagnostics=(*dbt.diagnostics, *diagnostics),
    )


def _versioned_specs(
    project: DbtProjectFile, properties: Properties, files: tuple[ModelFile, ...]
) -> tuple[list[ModelSpec], set[str], tuple[Diagnostic, ...]]:
    """One spec per version of each versioned model, and the files those versions claim.

    dbt reads version N from `<name>_v<N>.sql` unless `defined_in` names another file;
    the unsuffixed `<name>.sql` serves the latest version when no suffixed file exists.
    """
    by_name = {f.key: f for f in files}
    specs: list[ModelSpec] = []
    claimed: set[str] = set()
    diagnostics: list[Diagnostic] = []
    for key, entry in sorted(properties.models.items()):
        _, latest = _versions(entry.data, ())
        if latest is None:
            continue
        name = str(entry.data["name"])
        for item in _as_list(entry.data.get("versions")):
            if not isinstance(item, dict) or item.get("v") is None:
                continue
            v = str(item["v"])
            stem = fold(str(item.get("defined_in") or f"{name}_v{v}"))
            file = by_name.get(stem) or (by_name.get(key) if v == latest else None)
            if file is None:
                diagnostics.append(
                    Diagnostic(
                        "warning",
                        f"version {v} of model {name!r} has no file {stem}.sql",
                        entry.path,
                        line_of(item),
                    )
                )
                continue
            claimed.add(file.key)
            specs.append(ModelSpec(replace(file, name=name), entry, project, v, file.name))
        if key in by_name and key not in claimed:
            claimed.add(key)
            diagnostics.append(
                Diagnostic(
                    "warning",
                    f"{by_name[key].path} is not a version of versioned model {name!r}; skipped",
                    entry.path,
                    entry.line,
                )
            )
    return specs, claimed, tuple(diagnostics)


# ---------------------------------------------------------------- the SQL stage


def _render_vars(project: DbtProjectFile) -> tuple[tuple[str, object], ...]:
    """Project vars as a model of this project sees them: global ones, then its own scope."""
    scoped = project.vars.get(project.name)
    merged = {
        k: v for k, v in project.vars.items() if not (k == project.name and isinstance(v, dict))
    }
    if isinstance(scoped, dict):
        merged.update(scoped)
    return tuple(sorted(merged.items()))
