"""Render dbt model SQL (Jinja) in a sandbox with dbt's functions stubbed, so the SQL can be parsed.

Nothing in the repository under review runs: templates execute only in jinja2's
``SandboxedEnvironment`` (no loader, no real environment variables, no database),
hardened further here with budgets on work and memory. Whatever goes
wrong in a template becomes a diagnostic; :func:`render_model` never raises for
template content.

Conventions the SQL layer relies on (every identifier is a plain, unquoted SQL name):

- ``ref('m')`` renders ``m``; ``ref('pkg', 'm')`` renders ``pkg__m`` (``ref('<this
  project>', 'm')`` is the same as ``ref('m')``); a version ``ref('m', v=2)`` appends
  ``_v2`` (``m_v2``, ``pkg__m_v2``). A name that is not a safe SQL identifier or is
  a reserved word gets the prefix ``__ref__`` (``ref('order')`` renders
  ``__ref__order``; other characters become ``_``).
- ``source('s', 't')`` renders ``s__t`` (prefix ``__source__`` when unsafe).
- ``RenderedModel.relations`` maps each such identifier back to the
  :class:`Relation` it names. A warehouse folds unquoted names, so match them
  without regard to case.
- ``this`` renders ``__this__``: the model itself (not listed in ``relations``).
- ``dbt_utils.star(from=x, relation_alias=a, except=[c1, c2])`` renders ``*``,
  ``a.*`` or ``* EXCEPT (c1, c2)`` / ``a.* EXCEPT (c1, c2)``. sqlglot 30.30 parses
  both ``EXCEPT`` and ``EXCLUDE`` spellings in every dialect we tried (postgres,
  duckdb, snowflake, bigquery, redshift, databricks, spark, trino, athena, tsql,
  mysql, clickhouse, sqlite, oracle) into ``exp.Star(except_=[...])``.
- ``dbt_utils.union_relations`` renders ``select cast('<rel>' as <string>) as
  _dbt_source_relation, * from <rel> union all ...`` and records that its columns
  are open.
- What cannot be known renders as an identifier that parses as a column, with a
  diagnostic: ``__macro__dbt_date__get_base_dates__`` (unknown macro),
  ``__undefined__name__`` (undefined name), ``__var__x__`` (var without value or
  default), ``__env_var__X__`` (``env_var`` without default: the environment is
  never read), ``__config__x__`` (``config.require`` of a key never set).

``is_incremental()`` is rendered both ways: ``RenderedModel.sql`` holds the
``False`` rendering, then the ``True`` one when it differs. If the ``False``
rendering fails the model has no SQL (``sql == ()``); ``config`` and
``relations`` then hold what was captured before the failure.

Mutation: dbt macros build lists with ``{% do cols.append(c) %}`` and dicts with
``{% do d.update(...) %}``, so a template may change plain ``list``, ``dict`` and
``set`` objects in place (and nothing else: every other object stays immutable, as in
jinja2's ``ImmutableSandboxedEnvironment``). Each change is a budgeted call: it may not
take a container past ``_MAX_ITEMS`` items or ``Limits.max_value_chars`` characters,
and ``list.sort(key=...)`` is refused (the key would run outside the budget). What a
template can change is its own: ``var()`` hands each render a fresh copy of a project
var, and ``graph`` is rebuilt for every render, so one model cannot change what the next
one sees. Because a value may grow after it was put in another container, the size of a
value is checked again wherever it is flattened (output, ``~``, ``%``, calls, filters).

Work and memory are bounded by :class:`Limits` (operations, characters built, output
size, a time backstop). Output is deterministic: sets iterate in a stable order and no
object prints its memory address.

A :class:`Renderer` builds its sandbox once and compiles each project macro on
its first call; use one per project and revision (it is not thread-safe). A model made
only of text, ``{{ }}`` expressions and ``{% if %}`` runs without jinja's code generation
(see ``_Straight``), making the same sandboxed calls in the same order.
:func:`render_model` is the one-shot form.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import time
import types
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from functools import wraps
from typing import Any, ClassVar, Literal, NoReturn

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.runtime import Context, Undefined, new_context
from jinja2.runtime import Macro as JinjaMacro
from jinja2.sandbox import SandboxedEnvironment, modifies_known_mutable
from jinja2.utils import Namespace, missing
from jinja2.visitor import NodeTransformer

__all__ = [
    "Limits",
    "Macro",
    "Relation",
    "RenderContext",
    "RenderedModel",
    "Renderer",
    "render_model",
]


@dataclass(frozen=True)
class Relation:
    """What a ref()/source() call named."""

    kind: Literal["ref", "source"]
    name: str  # ref: model name; source: table name
    package: str | None = None  # ref('pkg', 'm'): the package; source: the source name
    version: str | None = None  # ref('m', v=2) / version=2


@dataclass(frozen=True)
class Macro:
    """A project macro file's text, from macros/."""

    path: str
    text: str


@dataclass(frozen=True)
class RenderContext:
    """What rendering a project's models needs: its name, adapter, vars and macros."""

    project_name: str
    target_type: str = "postgres"  # adapter name (dbt target.type)
    vars: tuple[tuple[str, object], ...] = ()  # project vars, already flattened for this project
    macros: tuple[Macro, ...] = ()


@dataclass(frozen=True)
class RenderedModel:
    """A model rendered: the queries, config and relations Jinja produced."""

    # One per distinct is_incremental() branch, False first; () if rendering failed.
    sql: tuple[str, ...]
    # Merged config(...) kwargs, sorted by key; values JSON-like.
    config: tuple[tuple[str, object], ...]
    # Identifier the SQL contains for each ref/source -> what it named, sorted.
    relations: tuple[tuple[str, Relation], ...]
    # Human messages, sorted, deduplicated.
    diagnostics: tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    """Bounds on one render; past any of them the model becomes a diagnostic."""

    max_output_chars: int = 5_000_000
    max_value_chars: int = 5_000_000  # any one string or container built while rendering
    max_allocated_chars: int = 50_000_000  # all strings built while rendering, together
    max_operations: int = 1_000_000  # calls, filters, operators, loop steps, outputs
    max_seconds: float = 10.0  # a backstop: the budgets above are what keep output stable


def render_model(text: str, ctx: RenderContext) -> RenderedModel:
    """Render one model; also reports problems in ``ctx.macros``. Never raises for bad content."""
    renderer = Renderer(ctx)
    rendered = renderer.render(text)
    if not renderer.diagnostics:
        return rendered
    merged = tuple(sorted(set(rendered.diagnostics) | set(renderer.diagnostics)))
    return RenderedModel(rendered.sql, rendered.config, rendered.relations, merged)


class Renderer:
    """A sandbox with the project's macros loaded, to render many models of one project.

    ``diagnostics`` holds the problems found in the project macros (reported once
    here, not in every model). Not thread-safe: use one per thread.
    """

    def __init__(
        self, ctx: RenderContext, limits: Limits | None = None, *, fast: bool = True
    ) -> None:
        # fast=False compiles every template with jinja, even those the fast path runs
        # (see _Straight): the reference the fast path is tested against.
        self._rt = _Runtime(ctx, limits or Limits(), fast=fast)
        self._diagnostics = tuple(sorted(self._rt.load_macros()))

    @property
    def diagnostics(self) -> tuple[str, ...]:
        return self._diagnostics

    def render(self, text: str) -> RenderedModel:
        """Render a model's text; never raises for bad template content."""
        rt = self._rt
        template, problem = rt.compile_model(text)
        if template is None:
            return RenderedModel((), (), (), (problem,))
        first, first_sql = rt.run(template, incremental=False)
        sessions = [first]
        sql: list[str] = []
        if first_sql is not None:
            sql.append(first_sql)
            if first.asked_incremental:
                second, second_sql = rt.run(template, incremental=True)
                sessions.append(second)
                if second_sql is None:
                    second.note("the is_incremental() branch could not be rendered")
                elif second_sql != first_sql:
                    sql.append(second_sql)
        config = dict(first.config)
        relations: dict[str, Relation] = {}
        notes: set[str] = set()
        for session in sessions:
            for key, value in session.config.items():
                config.setdefault(key, value)
            for ident, relation in session.relations.items():
                _add_relation(relations, ident, relation, notes)
            notes |= session.notes
        return RenderedModel(
            sql=tuple(sql),
            config=tuple(sorted(config.items(), key=lambda item: item[0])),
            relations=tuple(sorted(relations.items(), key=lambda item: item[0])),
            diagnostics=tuple(sorted(notes)),
        )


# --- limits and per-render state ---------------------------------------------------------------


class _LimitExceeded(Exception):
    """A render went past one of its Limits."""


class _MacroReturn(Exception):
    """dbt's return(): unwinds a macro call with a value."""

    def __init__(self, value: object) -> None:
        super().__init__("return() outside a macro")
        self.value = value


_MAX_ITEMS = 100_000  # items in one list or dict (jinja's range() stops there too)
_MAX_INT_BITS = 65_536  # integers past this are not SQL, only a way to burn CPU
_MAX_MESSAGE = 200  # characters of template text quoted in one diagnostic
_NO_DEFAULT: Any = object()


class _Session:
    """What one render collects, and the budget it spends."""

    def __init__(self, limits: Limits, *, incremental: bool) -> None:
        self.limits = limits
        self.incremental = incremental
        self.asked_incremental = False
        self.notes: set[str] = set()
        self.relations: dict[str, Relation] = {}
        self.config: dict[str, object] = {}
        self.operations = 0
        self.allocated = 0
        self.deadline = time.monotonic() + limits.max_seconds
        # Containers changed in place: id -> (the container, kept alive so the id stays
        # its own; its size so far), so a loop of appends costs one walk, not one each.
        self.sizes: dict[int, tuple[object, int]] = {}
        self.vars: dict[str, object] = {}  # this render's copies of the project vars

    def note(self, message: str) -> None:
        self.notes.add(message)

    def tick(self) -> None:
        self.operations += 1
        if self.operations > self.limits.max_operations:
            raise _LimitExceeded(f"more than {self.limits.max_operations} operations")
        if self.operations % 1024 == 0 and time.monotonic() > self.deadline:
            raise _LimitExceeded(f"more than {self.limits.max_seconds:g} seconds")

    def fits(self, value: object) -> int:
        """Refuse a value too large to print; its size otherwise."""
        size = _measure(value, self.limits.max_value_chars)
        if size > self.limits.max_value_chars:
            raise _LimitExceeded(
                f"a value larger than {self.limits.max_value_chars} characters "
                f"or {_MAX_ITEMS} items"
            )
        return size

    def check(self, value: object) -> None:
        """Refuse a value too large to print; count every new string against the budget."""
        size = self.fits(value)
        if isinstance(value, str):
            self.allocated += size
            if self.allocated > self.limits.max_allocated_chars:
                raise _LimitExceeded(
                    f"more than {self.limits.max_allocated_chars} characters built"
                )


def _measure(value: object, limit: int) -> int:
    """About how many characters printing ``value`` takes; stops counting past ``limit``.

    A container of more than _MAX_ITEMS items counts as past any limit, which keeps
    this walk (run on every value a template builds) short. A container shared by
    several others counts once for each, as it prints; one inside itself counts as
    the ``[...]`` it prints as."""
    total = 0
    inside: set[int] = set()  # the containers being walked: the path from the top
    stack: list[tuple[object, bool]] = [(value, False)]
    while stack:
        item, leaving = stack.pop()
        if leaving:
            inside.discard(id(item))
            continue
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(
            item, (list, tuple, set, frozenset, Mapping, KeysView, ValuesView, ItemsView)
        ):
            if id(item) in inside:
                total += 5
                continue
            if len(item) > _MAX_ITEMS:
                return limit + 1
            inside.add(id(item))
            stack.append((item, True))
            elements: Iterable[Any] = (
                [*item.keys(), *item.values()] if isinstance(item, Mapping) else item
            )
            total += 2
            for element in elements:
                total += 2
                if isinstance(element, str):
                    total += len(element)
                elif element is None or isinstance(element, (bool, float)):
                    total += 8
                elif isinstance(element, int):
                    total += element.bit_length() // 3 + 1
                else:
                    stack.append((element, False))
                if total > limit:
                    return total
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Namespace):
            # A namespace prints its attributes, and `set ns.x = ...` can grow them later.
            total += 12
            stack.append((object.__getattribute__(item, "_Namespace__attrs"), False))
        else:
            total += 8
        if total > limit:
            return total
    return total


def _short(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _add_relation(
    relations: dict[str, Relation], ident: str, relation: Relation, notes: set[str]
) -> None:
    known = relations.get(ident)
    if known is None:
        relations[ident] = relation
    elif known != relation:
        notes.add(
            f"{_describe(known)} and {_describe(relation)} both render as {ident}: "
            f"{ident} is mapped to {_describe(known)}"
        )


def _describe(relation: Relation) -> str:
    if relation.kind == "source":
        return f"source('{relation.package}', '{relation.name}')"
    args = f"'{relation.package}', '{relation.name}'" if relation.package else f"'{relation.name}'"
    version = f", v={relation.version}" if relation.version is not None else ""
    return f"ref({args}{version})"


# --- SQL names ----------------------------------------------------------------------------------

# Words that sqlglot cannot read as a bare table name in at least one dialect, and the
# reserved words of standard SQL: a relation with such a name gets a prefix instead.
_RESERVED = frozenset(
    """
    all alter and any array as asc begin between binary both by case cast check collate
    column constraint create cross current_date current_time current_timestamp current_user
    default delete desc describe distinct do drop else end except exists explain false fetch
    filter for foreign from full glob grant group having ilike in inner insert intersect
    interval into is join key lateral leading left like limit localtime localtimestamp map
    merge minus natural not notnull null offset on only or order outer over partition pivot
    primary qualify references regexp returning revoke right rlike rollback rows sample
    select session_user set some table tablesample then to top trailing true uncache union
    unique unpivot update user using values when where window with xor
    """.split()  # noqa: SIM905  (a word list reads better as text)
)
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_]")
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _sql_name(text: str, prefix: str) -> str:
    """``text`` as an unquoted SQL identifier; ``prefix`` marks one that had to change."""
    clean = _UNSAFE_CHARS.sub("_", text[:_MAX_MESSAGE])
    if clean != text or not clean or clean[0].isdigit() or clean.lower() in _RESERVED:
        return prefix + clean
    return clean


def _placeholder(kind: str, path: str) -> str:
    """An identifier standing in for something unknown, e.g. ``__macro__dbt_utils__foo__``."""
    parts = [_UNSAFE_CHARS.sub("_", part) for part in path[:_MAX_MESSAGE].split(".")]
    return "__" + kind + "__" + "__".join(part for part in parts if part) + "__"


def _is_safe_name(value: object) -> bool:
    return isinstance(value, str) and _SAFE_NAME.match(value) is not None


# --- objects a template can see ----------------------------------------------------------------


class _Stub:
    """Base of every object a template can see: the sandbox lets it read only ``_public``."""

    _public: ClassVar[frozenset[str]] = frozenset()
    _label: ClassVar[str] = "object"

    def _sandbox_allows(self, attr: str) -> bool:
        return attr in self._public

    def _path(self) -> str:
        return self._label

    def __repr__(self) -> str:
        # object's repr holds a memory address: printing it would make output vary by run.
        return f"<{self._path()}>"


class _RelationRef(_Stub):
    """What ref()/source()/this return: prints as its SQL identifier."""

    _public = frozenset(
        {"identifier", "name", "table", "schema", "database", "type", "is_table", "is_view"}
        | {"is_cte", "render", "include", "quote", "incorporate"}
    )
    _label = "relation"

    def __init__(self, sql: str, name: str, schema: str) -> None:
        self._sql = sql
        self.identifier = name
        self.name = name
        self.table = name
        self.schema = schema
        self.database = "analytics"
        self.type = "table"
        self.is_table = True
        self.is_view = False
        self.is_cte = False

    def __str__(self) -> str:
        return self._sql

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _RelationRef):
            return self._sql == other._sql
        return isinstance(other, str) and other == self._sql

    def __hash__(self) -> int:
        return hash(self._sql)

    def render(self) -> str:
        return self._sql

    def include(self, *args: Any, **kwargs: Any) -> _RelationRef:
        return self

    def quote(self, *args: Any, **kwargs: Any) -> _RelationRef:
        return self

    def incorporate(self, *args: Any, **kwargs: Any) -> _RelationRef:
        return self


class _Target(_Stub):
    _public = frozenset(
        {"type", "name", "target_name", "schema", "database", "threads", "profile_name", "user"}
    )
    _label = "target"

    def __init__(self, target_type: str) -> None:
        self.type = target_type
        self.name = "dev"
        self.target_name = "dev"
        self.schema = "analytics"
        self.database = "analytics"
        self.threads = 4
        self.profile_name = "default"
        self.user = "semverlint"


class _Flags(_Stub):
    _public = frozenset({"FULL_REFRESH", "STORE_FAILURES", "WHICH", "EMPTY", "WARN_ERROR"})
    _label = "flags"
    FULL_REFRESH = False
    STORE_FAILURES = False
    WHICH = "compile"
    EMPTY = False
    WARN_ERROR = False


class _FixedDatetime(_dt.datetime):
    """A datetime whose clock is stopped at 2000-01-01 UTC, so renders are deterministic."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _FixedDatetime:
        if tz is None:
            return cls(2000, 1, 1)
        moment = cls(2000, 1, 1, tzinfo=_dt.timezone.utc).astimezone(tz)
        return cls.combine(moment.date(), moment.timetz())

    @classmethod
    def utcnow(cls) -> _FixedDatetime:
        return cls(2000, 1, 1)

    @classmethod
    def today(cls) -> _FixedDatetime:
        return cls(2000, 1, 1)


class _FixedDate(_dt.date):
    @classmethod
    def today(cls) -> _FixedDate:
        return cls(2000, 1, 1)


class _DatetimeModule(_Stub):
    _public = frozenset({"datetime", "date", "time", "timedelta", "timezone"})
    _label = "modules.datetime"
    datetime = _FixedDatetime
    date = _FixedDate
    time = _dt.time
    timedelta = _dt.timedelta
    timezone = _dt.timezone


class _Modules(_Stub):
    _public = frozenset({"datetime"})
    _label = "modules"
    datetime = _DatetimeModule()


class _StableSet(set[Any]):
    """dbt's set(): a set whose iteration order (and printing) does not depend on hashing.

    Set operations on it return plain sets; the sandbox turns those back into this."""

    def __iter__(self) -> Iterator[Any]:
        return iter(sorted(super().__iter__(), key=repr))

    def __repr__(self) -> str:
        return "{" + ", ".join(sorted(map(repr, super().__iter__()))) + "}" if self else "set()"


def _stable(value: Any) -> Any:
    """A set or frozenset as a _StableSet, so its order cannot vary from run to run."""
    if type(value) in (set, frozenset):
        return _StableSet(value)
    return value


class _Placeholder(_Stub):
    """An unknown macro: calling or printing it renders a placeholder and notes it."""

    def __init__(self, rt: _Runtime, path: str) -> None:
        self._rt = rt
        self._name = path

    def _path(self) -> str:
        return self._name

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return str(self)

    def __str__(self) -> str:
        self._rt.note(f"unknown macro {self._name}: rendered as a placeholder")
        return _placeholder("macro", self._name)


class _BoundMacro(_Stub):
    """One of the dbt / dbt_utils macros implemented here."""

    def __init__(self, rt: _Runtime, path: str, impl: Callable[..., object]) -> None:
        self._rt = rt
        self._name = path
        self._impl = impl

    def _path(self) -> str:
        return self._name

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        return self._impl(self._rt, *args, **kwargs)


class _ProjectMacro(_Stub):
    """A macro from the project's macros/, compiled on its first call (most never are).

    return() inside it gives the call's value."""

    _public = frozenset({"name"})

    def __init__(self, rt: _Runtime, name: str, node: nodes.Macro, path: str) -> None:
        self.name = name
        self._rt = rt
        self._node: nodes.Macro | None = node
        self._file = path
        self._macro: JinjaMacro | None = None
        self._problem: str | None = None

    def _path(self) -> str:
        return self.name

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        macro = self._macro or self._compile()
        try:
            return macro(*args, **kwargs)
        except _MacroReturn as returned:
            return returned.value

    def _compile(self) -> JinjaMacro:
        if self._node is not None:
            node, self._node = self._node, None
            try:
                self._macro = self._rt.define(node)
            except Exception as error:
                self._problem = f"macro {self.name} in {self._file} could not be loaded: " + (
                    _failure(error)
                )
        if self._macro is None:
            raise TemplateError(self._problem)
        return self._macro


class _MacroNamespace(_Stub):
    """``dbt.x``, ``dbt_utils.x``, ``<project>.x``: known macros, else placeholders."""

    def __init__(self, rt: _Runtime, name: str, table: Mapping[str, Callable[..., object]]) -> None:
        self._rt = rt
        self._name = name
        self._table = table

    def _path(self) -> str:
        return self._name

    def _sandbox_allows(self, attr: str) -> bool:
        return not attr.startswith("_")

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("_") or attr in _JINJA_PROBES:
            raise AttributeError(attr)
        if self._name == self._rt.ctx.project_name and attr in self._rt.macros:
            return self._rt.macros[attr]
        impl = self._table.get(attr)
        if impl is not None:
            return _BoundMacro(self._rt, f"{self._name}.{attr}", impl)
        return _Placeholder(self._rt, f"{self._name}.{attr}")


# Attributes jinja and Python look up on any callable; an object answering them with a
# value instead of AttributeError would change how jinja calls it.
_JINJA_PROBES = frozenset(
    {"jinja_pass_arg", "jinja_async_variant", "unsafe_callable", "alters_data"}
)


class _Config(_Stub):
    """dbt's config: calls capture their keyword arguments; get/require read them back."""

    _public = frozenset(
        {"get", "require", "set", "meta_get", "meta_require"}
        | {"persist_relation_docs", "persist_column_docs"}
    )
    _label = "config"

    def __init__(self, rt: _Runtime) -> None:
        self._rt = rt

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        session = self._rt.current
        values: dict[str, object] = {}
        for arg in args:
            if isinstance(arg, Mapping):
                values.update({str(key): value for key, value in arg.items()})
            else:
                session.note("config() got a positional argument that is not a dict: ignored")
        values.update(kwargs)
        for key, value in values.items():
            _merge_config(session.config, key, _jsonable(value))
        return ""

    def get(self, name: Any, default: Any = None, validator: Any = None) -> object:
        return self._rt.current.config.get(str(name), default)

    def require(self, name: Any, validator: Any = None) -> object:
        key = str(name)
        config = self._rt.current.config
        if key in config:
            return config[key]
        self._rt.note(f"config.require('{_short(key)}'): not set, rendered as a placeholder")
        return _placeholder("config", key)

    def set(self, name: Any, value: Any) -> str:
        _merge_config(self._rt.current.config, str(name), _jsonable(value))
        return ""

    def meta_get(self, name: Any, default: Any = None) -> object:
        meta = self._rt.current.config.get("meta")
        return meta.get(str(name), default) if isinstance(meta, dict) else default

    def meta_require(self, name: Any) -> object:
        meta = self._rt.current.config.get("meta")
        if isinstance(meta, dict) and str(name) in meta:
            return meta[str(name)]
        self._rt.note(f"config.meta_require('{_short(name)}'): not set, rendered as a placeholder")
        return _placeholder("config", f"meta.{name}")

    def persist_relation_docs(self) -> bool:
        return False

    def persist_column_docs(self) -> bool:
        return False


def _merge_config(config: dict[str, object], key: str, value: object) -> None:
    """Later config() calls win, except that tags add up and dicts merge (as in dbt)."""
    old = config.get(key)
    if key == "tags":
        tags = list(old) if isinstance(old, list) else ([old] if old is not None else [])
        for tag in value if isinstance(value, list) else [value]:
            if tag not in tags:
                tags.append(tag)
        config[key] = tags
    elif isinstance(old, dict) and isinstance(value, dict):
        config[key] = {**old, **value}
    else:
        config[key] = value


def _jsonable(value: object, depth: int = 0) -> object:
    """A config value as JSON-like data: str, int, float, bool, None, list, dict."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (str, Undefined, _Stub)):
        return str(value)
    if depth > 32:
        raise _LimitExceeded("a config value nested more than 32 deep")
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return [_jsonable(item, depth + 1) for item in sorted(value, key=repr)]
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, depth + 1) for item in value]
    return str(value)


class _Var(_Stub):
    _public = frozenset({"has_var"})
    _label = "var"

    def __init__(self, rt: _Runtime) -> None:
        self._rt = rt

    def __call__(self, name: Any, default: Any = _NO_DEFAULT) -> object:
        key = str(name)
        if key in self._rt.vars:
            # A copy per render: a macro that appends to a var must not change what the
            # next model (or the other is_incremental() branch) sees.
            copies = self._rt.current.vars
            if key not in copies:
                copies[key] = _thaw(self._rt.vars[key])
            return copies[key]
        if default is not _NO_DEFAULT:
            return default
        self._rt.note(f"var {_short(key)} has no value and no default: rendered as a placeholder")
        return _placeholder("var", key)

    def has_var(self, name: Any) -> bool:
        return str(name) in self._rt.vars


def _thaw(value: object) -> object:
    """A copy of YAML data made of plain dicts, lists and _StableSets; shared parts stay shared.

    Iterative, so a deeply nested or self-referencing value (YAML aliases can make one)
    cannot exhaust the stack."""
    copies: dict[int, object] = {}

    def shell(item: object) -> tuple[object, bool]:
        if id(item) in copies:
            return copies[id(item)], False
        copy: object
        if isinstance(item, Mapping):
            copy = {}
        elif isinstance(item, list):
            copy = []
        elif isinstance(item, (set, frozenset)):
            copy = _StableSet()
        else:
            return item, False
        copies[id(item)] = copy
        return copy, True

    root, fresh = shell(value)
    pending = [(value, root)] if fresh else []
    while pending:
        original, copy = pending.pop()
        if isinstance(original, Mapping):
            assert isinstance(copy, dict)
            for key, item in original.items():
                copy[key], fresh = shell(item)
                if fresh:
                    pending.append((item, copy[key]))
        else:
            assert isinstance(original, (list, set, frozenset))
            for item in original:
                child, fresh = shell(item)
                if isinstance(copy, list):
                    copy.append(child)
                else:
                    assert isinstance(copy, set)
                    copy.add(child)
                if fresh:
                    pending.append((item, child))
    return root


# Adapters whose macros fall back to another adapter's before default__ (as in dbt).
_ADAPTER_PARENTS: Mapping[str, tuple[str, ...]] = {
    "redshift": ("postgres",),
    "databricks": ("spark",),
    "materialize": ("postgres",),
}


class _Adapter(_Stub):
    _public = frozenset(
        {"dispatch", "quote", "type", "get_columns_in_relation", "get_relation"}
        | {"get_missing_columns", "already_exists", "check_schema_exists", "list_schemas"}
        | {"list_relations_without_caching", "quote_as_configured"}
    )
    _label = "adapter"

    def __init__(self, rt: _Runtime) -> None:
        self._rt = rt

    def dispatch(
        self, macro_name: Any, macro_namespace: Any = None, packages: Any = None
    ) -> object:
        name = str(macro_name)
        target = self._rt.ctx.target_type.lower()
        for adapter in (target, *_ADAPTER_PARENTS.get(target, ()), "default"):
            found = self._rt.macros.get(f"{adapter}__{name}")
            if found is not None:
                return found
        namespace = macro_namespace if isinstance(macro_namespace, str) else None
        impl = _PACKAGE_MACROS.get(namespace or "dbt", {}).get(name) or _CROSS_DB.get(name)
        path = f"{namespace}.{name}" if namespace else name
        if impl is not None:
            return _BoundMacro(self._rt, path, impl)
        return _Placeholder(self._rt, path)

    def quote(self, identifier: Any) -> str:
        quote = "`" if self._rt.ctx.target_type.lower() in _BACKTICK_ADAPTERS else '"'
        return f"{quote}{identifier}{quote}"

    def quote_as_configured(self, identifier: Any, quote_key: Any = None) -> str:
        return str(identifier)

    def type(self) -> str:
        return self._rt.ctx.target_type

    def get_columns_in_relation(self, relation: Any) -> list[object]:
        self._rt.note("adapter.get_columns_in_relation needs the database: returned no columns")
        return []

    def get_missing_columns(self, *args: Any) -> list[object]:
        return []

    def get_relation(self, *args: Any, **kwargs: Any) -> None:
        self._rt.note("adapter.get_relation needs the database: returned none")

    def already_exists(self, *args: Any) -> bool:
        return False

    def check_schema_exists(self, *args: Any) -> bool:
        return False

    def list_schemas(self, *args: Any) -> list[object]:
        return []

    def list_relations_without_caching(self, *args: Any) -> list[object]:
        return []


_BACKTICK_ADAPTERS = frozenset({"bigquery", "databricks", "spark", "mysql", "clickhouse"})


class _Exceptions(_Stub):
    """dbt's exceptions: each records a diagnostic and renders nothing (never aborts)."""

    _public = frozenset(
        {"raise_compiler_error", "warn", "raise_not_implemented", "raise_fail_fast_error"}
        | {"raise_database_error", "raise_dependency_error", "raise_contract_error"}
    )
    _label = "exceptions"

    def __init__(self, rt: _Runtime) -> None:
        self._rt = rt

    def _record(self, kind: str, message: object) -> str:
        self._rt.note(f"exceptions.{kind}: {_short(message)}")
        return ""

    def raise_compiler_error(self, msg: Any = "", node: Any = None) -> str:
        return self._record("raise_compiler_error", msg)

    def warn(self, msg: Any = "", node: Any = None) -> str:
        return self._record("warn", msg)

    def raise_not_implemented(self, msg: Any = "") -> str:
        return self._record("raise_not_implemented", msg)

    def raise_fail_fast_error(self, msg: Any = "", node: Any = None) -> str:
        return self._record("raise_fail_fast_error", msg)

    def raise_database_error(self, msg: Any = "") -> str:
        return self._record("raise_database_error", msg)

    def raise_dependency_error(self, msg: Any = "") -> str:
        return self._record("raise_dependency_error", msg)

    def raise_contract_error(self, *args: Any) -> str:
        return self._record("raise_contract_error", " ".join(map(str, args)))


class _Builtins(_Stub):
    """dbt's builtins: the original ref/source/config, for projects that override them."""

    _public = frozenset({"ref", "source", "config"})
    _label = "builtins"

    def __init__(self, rt: _Runtime) -> None:
        self.ref = rt.ref
        self.source = rt.source
        self.config = rt.config


# --- the runtime: dbt's functions, bound to the current render ---------------------------------

# Names a project macro may not replace: semverlint's stubs are what make rendering safe
# and both is_incremental() branches visible.
_PROTECTED = frozenset(
    {"config", "var", "env_var", "is_incremental", "return", "adapter", "target", "this"}
    | {"execute", "exceptions", "modules", "builtins", "flags"}
)


class _Runtime:
    """The sandbox and the dbt context; the session is set for the duration of one render."""

    def __init__(self, ctx: RenderContext, limits: Limits, *, fast: bool = True) -> None:
        self.ctx = ctx
        self.limits = limits
        self.fast = fast
        self.session: _Session | None = None
        self.vars: dict[str, object] = dict(ctx.vars)
        self.macros: dict[str, _ProjectMacro] = {}
        self.config = _Config(self)
        self.env = _Sandbox(self, _undefined_class(self))
        self.namespace = self._namespace()

    def __repr__(self) -> str:
        return "<dbt>"  # bound methods (ref, source, ...) print their owner

    @property
    def current(self) -> _Session:
        # Outside a render (jinja folding constants at compile time) a throwaway session.
        return self.session or _Session(self.limits, incremental=False)

    def note(self, message: str) -> None:
        self.current.note(message)

    def _namespace(self) -> dict[str, object]:
        env = self.env
        ns: dict[str, object] = {
            name: value for name, value in env.globals.items() if name != "lipsum"
        }
        ns.update({name: _BoundMacro(self, name, impl) for name, impl in _CROSS_DB.items()})
        ns.update({name: _BoundMacro(self, name, impl) for name, impl in _DBT_GLOBALS.items()})
        ns.update(
            {
                "ref": self.ref,
                "source": self.source,
                "config": self.config,
                "var": _Var(self),
                "env_var": self.env_var,
                "is_incremental": self.is_incremental,
                "return": self.return_,
                "this": _RelationRef("__this__", "__this__", "analytics"),
                "target": _Target(self.ctx.target_type),
                "adapter": _Adapter(self),
                "exceptions": _Exceptions(self),
                "modules": _Modules(),
                "flags": _Flags(),
                "builtins": _Builtins(self),
                "execute": False,
                **_fresh_globals(),
                "invocation_id": "00000000-0000-0000-0000-000000000000",
                "run_started_at": _FixedDatetime(2000, 1, 1, tzinfo=_dt.timezone.utc),
                "dbt_version": "1.8.0",
                "project_name": self.ctx.project_name,
                "database": "analytics",
                "schema": "analytics",
                "set": _StableSet,
                "set_strict": _StableSet,
                "zip": _zip,
                "zip_strict": _zip,
                "tojson": _tojson,
                "fromjson": _fromjson,
                "local_md5": _local_md5,
            }
        )
        for package, table in _PACKAGE_MACROS.items():
            ns[package] = _MacroNamespace(self, package, table)
        ns[self.ctx.project_name] = _MacroNamespace(self, self.ctx.project_name, _CROSS_DB)
        return ns

    # -- compiling and running templates

    def compile_model(self, text: str) -> tuple[Template | _Straight | None, str]:
        """The model's compiled template, or None and why not."""
        self.session = _Session(self.limits, incremental=False)
        try:
            if self.fast:
                scanned = _scan(text)
                tree = scanned if scanned is not None else self.env.parse(text)
                # Before harden(), which rewrites the tree in place.
                straight = _Straight.assemble(self.env, tree)
                if straight is not None:
                    return straight, ""
                if scanned is not None:
                    tree = self.env.parse(text)  # the same tree, bound to the environment
            else:
                tree = self.env.parse(text)
            return self.env.from_string(self.harden(tree)), ""
        except TemplateSyntaxError as error:
            return None, f"template could not be parsed: line {error.lineno}: {_short(error)}"
        except Exception as error:  # a template must never crash the tool
            return None, f"template could not be parsed: {type(error).__name__}: {_short(error)}"
        finally:
            self.session = None

    def harden(self, tree: nodes.Template) -> nodes.Template:
        hardened = _Harden(_Guards.identifier).visit(tree)
        assert isinstance(hardened, nodes.Template)
        hardened.set_environment(self.env)
        return hardened

    def run(
        self, template: Template | _Straight, *, incremental: bool
    ) -> tuple[_Session, str | None]:
        """Render once; the SQL, or None and a diagnostic in the session."""
        session = _Session(self.limits, incremental=incremental)
        self.session = session
        # A template may change these in place: each render starts from new ones.
        self.namespace.update(_fresh_globals())
        try:
            context = template.new_context(self.namespace, shared=True)
            chunks: list[str] = []
            size = 0
            for chunk in template.root_render_func(context):
                size += len(chunk)
                if size > self.limits.max_output_chars:
                    raise _LimitExceeded(
                        f"output larger than {self.limits.max_output_chars} characters"
                    )
                chunks.append(chunk)
            return session, "".join(chunks)
        except Exception as error:  # a template must never crash the tool
            session.note(_failure(error))
            return session, None
        finally:
            self.session = None

    def load_macros(self) -> list[str]:
        """Define the project's macros; the problems found, as diagnostics."""
        problems: list[str] = []
        defined_in: dict[str, str] = {}
        self.session = _Session(self.limits, incremental=False)
        try:
            for macro in sorted(self.ctx.macros, key=lambda m: m.path):
                for name, defined in self._load_file(macro, problems):
                    if name in _PROTECTED:
                        problems.append(
                            f"{macro.path}: macro {name} is ignored: "
                            f"semverlint keeps its own {name}"
                        )
                        continue
                    if name in defined_in:
                        problems.append(
                            f"macro {name} is defined in {defined_in[name]} and {macro.path}: "
                            f"using {macro.path}"
                        )
                    defined_in[name] = macro.path
                    self.macros[name] = defined
                    self.namespace[name] = defined
        finally:
            self.session = None
        return problems

    def _load_file(self, macro: Macro, problems: list[str]) -> list[tuple[str, _ProjectMacro]]:
        # Like dbt, each top-level {% macro %} block is compiled on its own (on first use),
        # so that every call between macros goes through the shared namespace and
        # return() works; other top-level text is ignored, never run.
        try:
            tree = self.env.parse(macro.text)
        except TemplateSyntaxError as error:
            problems.append(
                f"{macro.path}: macro file could not be parsed: line {error.lineno}: "
                f"{_short(error)}"
            )
            return []
        except Exception as error:
            problems.append(
                f"{macro.path}: macro file could not be parsed: {type(error).__name__}: "
                f"{_short(error)}"
            )
            return []
        return [
            (node.name, _ProjectMacro(self, node.name, node, macro.path))
            for node in tree.body
            if isinstance(node, nodes.Macro)
        ]

    def define(self, node: nodes.Macro) -> JinjaMacro:
        """Compile one {% macro %} block on its own and return the macro it defines."""
        template = self.env.from_string(self.harden(nodes.Template([node], lineno=node.lineno)))
        context = template.new_context(self.namespace, shared=True)
        for _ in template.root_render_func(context):
            pass
        defined = context.vars.get(node.name)
        if not isinstance(defined, JinjaMacro):
            raise TypeError("the block did not define a macro")
        return defined

    # -- dbt's functions

    def ref(self, *args: Any, **kwargs: Any) -> object:
        version = kwargs.pop("v", kwargs.pop("version", None))
        if kwargs or len(args) not in (1, 2):
            self.note(
                "ref() takes a model name, an optional package and v=: rendered as a placeholder"
            )
            return _placeholder("ref", ".".join(map(str, args)))
        name = str(args[-1])
        package = str(args[0]) if len(args) == 2 else None
        if package == self.ctx.project_name:
            package = None
        relation = Relation("ref", name, package, None if version is None else str(version))
        base = name if relation.version is None else f"{name}_v{relation.version}"
        ident = _sql_name(base if package is None else f"{package}__{base}", "__ref__")
        _add_relation(self.current.relations, ident, relation, self.current.notes)
        return _RelationRef(ident, name, "analytics")

    def source(self, *args: Any, **kwargs: Any) -> object:
        if kwargs or len(args) != 2:
            self.note("source() takes a source name and a table name: rendered as a placeholder")
            return _placeholder("source", ".".join(map(str, args)))
        source_name, table = str(args[0]), str(args[1])
        relation = Relation("source", table, source_name)
        ident = _sql_name(f"{source_name}__{table}", "__source__")
        _add_relation(self.current.relations, ident, relation, self.current.notes)
        return _RelationRef(ident, table, source_name)

    def env_var(self, name: Any, default: Any = None) -> object:
        # The real environment is never read: it may hold secrets, and it is not the repo's.
        if default is not None:
            return default
        self.note(
            f"env_var {_short(name)} has no default: rendered as a placeholder "
            "(the environment is never read)"
        )
        return _placeholder("env_var", str(name))

    def is_incremental(self) -> bool:
        session = self.current
        session.asked_incremental = True
        return session.incremental

    def return_(self, value: Any = "") -> NoReturn:
        raise _MacroReturn(value)


def _fresh_globals() -> dict[str, object]:
    """The mutable objects in dbt's context, new for every render."""
    graph = ("nodes", "sources", "exposures", "metrics", "groups", "semantic_models")
    return {
        "graph": {key: {} for key in (*graph, "saved_queries")},
        "selected_resources": [],
    }


def _failure(error: Exception) -> str:
    """The diagnostic for a render that stopped."""
    if isinstance(error, _MacroReturn):
        return "return() used outside a macro"
    if isinstance(error, SecurityError):
        return f"template could not be rendered safely: {_short(error)}"
    if isinstance(error, _LimitExceeded):
        return f"rendering stopped: {error}"
    if isinstance(error, RecursionError):
        return "rendering stopped: recursion too deep (a macro or loop calls itself without end)"
    if isinstance(error, MemoryError):
        return "rendering stopped: out of memory"
    if isinstance(error, TemplateError):
        return f"template could not be rendered: {_short(error)}"
    return f"template could not be rendered: {type(error).__name__}: {_short(error)}"


def _undefined_class(rt: _Runtime) -> type[Undefined]:
    """An Undefined that renders a placeholder, records a diagnostic, and chains."""

    class _Lenient(Undefined):
        __slots__ = ()

        def _path(self) -> str:
            owner = self._undefined_obj
            name = str(self._undefined_name)
            if isinstance(owner, (_Lenient, _Stub)):
                return f"{owner._path()}.{name}"
            if owner is missing or owner is None:
                return name
            try:
                return f"{type(owner).__name__}.{name}"
            except Exception:
                return name

        def __str__(self) -> str:
            path = self._path()
            rt.note(f"undefined name {_short(path)}: rendered as a placeholder")
            return _placeholder("undefined", path)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_") or name in _JINJA_PROBES:
                raise AttributeError(name)
            return _Lenient(obj=self, name=name)

        def __getitem__(self, key: Any) -> Any:
            if isinstance(key, str) and key.startswith("_"):
                raise SecurityError(f"access to {key!r} of an undefined value is unsafe")
            return _Lenient(obj=self, name=str(key))

        def __call__(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
            path = self._path()
            rt.note(f"unknown macro {_short(path)}: rendered as a placeholder")
            return _placeholder("macro", path)

        def __iter__(self) -> Iterator[Any]:
            return iter(())

    return _Lenient


def _zip(*args: Any) -> list[tuple[Any, ...]]:
    return list(zip(*args, strict=False))


def _tojson(value: Any, default: Any = None, sort_keys: bool = False) -> object:
    try:
        return json.dumps(value, sort_keys=bool(sort_keys), default=str)
    except (TypeError, ValueError):
        return default


def _fromjson(text: Any, default: Any = None) -> object:
    try:
        return json.loads(str(text))
    except ValueError:
        return default


def _local_md5(text: Any) -> str:
    return hashlib.md5(str(text).encode(), usedforsecurity=False).hexdigest()


# --- the sandbox --------------------------------------------------------------------------------


# What a template may change in place; every other object stays immutable.
_MUTABLE: tuple[type, ...] = (list, dict, set, _StableSet)
# The methods of those that add items (the others can only shrink or reorder).
_GROWING = frozenset(
    {"append", "insert", "extend", "add", "update", "setdefault", "symmetric_difference_update"}
)


class _Sandbox(SandboxedEnvironment):
    """jinja2's sandbox, with budgets on work and on the size of what is built.

    Only plain lists, dicts and sets may be changed in place, and each change is
    budgeted like any other call (see :func:`_check_mutation`)."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "%"})

    def __init__(self, rt: _Runtime, undefined: type[Undefined]) -> None:
        super().__init__(
            autoescape=False,
            undefined=undefined,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols", _Guards],
            keep_trailing_newline=True,
            cache_size=0,
            optimized=False,  # no constant folding: nothing runs while compiling
        )
        self._rt = rt
        self.globals.pop("lipsum", None)
        self.filters.pop("random", None)  # not deterministic
        self.filters = {name: _guard_filter(name, f, rt) for name, f in self.filters.items()}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, _Stub):
            return not attr.startswith("_") and obj._sandbox_allows(attr)
        if not super().is_safe_attribute(obj, attr, value):
            return False
        # As in ImmutableSandboxedEnvironment, except for the plain containers.
        return type(obj) in _MUTABLE or not modifies_known_mutable(obj, attr)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute.startswith("_"):
            return self._private(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument.startswith("_"):
            return self._private(obj, argument)
        return super().getitem(obj, argument)

    def _private(self, obj: Any, name: str) -> Any:
        # A key of a dict may start with "_"; an attribute never may, even a missing one.
        try:
            return obj[name]
        except (TypeError, LookupError):
            self.unsafe_undefined(obj, name)

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        # jinja would return an Undefined that raises only when used; raise at once.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        session = self._rt.current
        session.tick()
        for value in (*args, *kwargs.values()):
            session.fits(value)  # it may have grown since it was built
        if isinstance(obj, types.BuiltinMethodType) and type(obj.__self__) in _MUTABLE:
            args, kwargs = _check_mutation(obj.__self__, obj.__name__, args, kwargs, session)
        else:
            args = _check_call(obj, args, kwargs, self._rt.limits)
        result = _stable(super().call(context, obj, *args, **kwargs))
        session.check(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        session = self._rt.current
        session.tick()
        if operator == "%":
            session.fits(right)
        _check_binop(operator, left, right, self._rt.limits)
        result = _stable(self.binop_table[operator](left, right))
        session.check(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        _check_format(str(value.__self__), self._rt.limits)
        rt = self._rt

        def checked(*args: Any, **kwargs: Any) -> str:
            result = formatter(*args, **kwargs)
            rt.current.check(result)
            return result

        return checked


class _Guards(Extension):
    """Skips dbt-only blocks (materialization, test, docs) and hosts the guards the
    hardened template calls: ``out`` for every output, ``each`` for every loop,
    ``flat`` for every operand of ``~``, ``sized`` for every literal list, dict and
    concatenation."""

    tags = {"materialization", "test", "data_test", "docs", "snapshot"}  # noqa: RUF012

    def parse(self, parser: Parser) -> list[nodes.Node]:
        tag = next(parser.stream)
        while parser.stream.current.type != "block_end":
            next(parser.stream)
        body = parser.parse_statements((f"name:end{tag.value}",), drop_needle=True)
        # A snapshot's body is its SQL; the other blocks are not part of a model.
        return list(body) if tag.value == "snapshot" else []

    @property
    def _rt(self) -> _Runtime:
        environment = self.environment
        assert isinstance(environment, _Sandbox)
        return environment._rt

    def out(self, value: Any) -> str:
        session = self._rt.current
        session.tick()
        text = value if isinstance(value, str) else self.flat(value)
        session.check(text)
        return text

    def flat(self, value: Any) -> str:
        """``value`` as text, measured first: it may have grown since it was built."""
        if isinstance(value, str):
            return value
        self._rt.current.fits(value)
        return _scrub(str(value))

    def each(self, iterable: Any) -> Any:
        return _Steps(iterable, self._rt.current)

    def sized(self, value: Any) -> Any:
        session = self._rt.current
        session.tick()
        session.check(value)
        return value


class _Steps:
    """A loop's iterable that spends one operation per step."""

    def __init__(self, iterable: Iterable[Any], session: _Session) -> None:
        self._iterable = iterable
        self._session = session

    def __iter__(self) -> Iterator[Any]:
        for item in self._iterable:
            self._session.tick()
            yield item

    def __len__(self) -> int:
        return len(self._iterable)  # type: ignore[arg-type]  # TypeError: jinja counts instead


class _Harden(NodeTransformer):
    """Routes outputs, loops and literal containers of a parsed template through _Guards.

    The guards are reached through ``environment.extensions``, which a template cannot
    name, so a template cannot shadow or skip them."""

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier

    def _guard(self, name: str, node: Any) -> nodes.Expr:
        return nodes.Call(
            nodes.ExtensionAttribute(self.identifier, name, lineno=node.lineno),
            [node],
            [],
            None,
            None,
            lineno=node.lineno,
        )

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._guard("out", child) for child in node.nodes]
        return node

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._guard("each", node.iter)
        return node

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        # loop(children) in a recursive for: each level's steps count too
        if isinstance(node.node, nodes.Name) and node.node.name == "loop" and node.args:
            node.args[0] = self._guard("each", node.args[0])
        return node

    def _sized(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return self._guard("sized", node)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._guard("flat", child) for child in node.nodes]
        return self._guard("sized", node)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._sized(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._sized(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":  # an assignment target, not a value
            self.generic_visit(node)
            return node
        return self._sized(node)


# --- the fast path: simple templates run without generating Python code ------------------------
#
# Most models are SQL text with a few ``{{ ref('x') }}``, ``{{ config(...) }}`` and
# ``{% if is_incremental() %}``. For those, jinja's code generation and Python's compile()
# cost far more than the render itself. A _Straight runs jinja's own parse tree of such a
# template on a small stack machine that makes exactly the calls jinja's generated code
# makes (``environment.call`` / ``getattr`` / ``getitem`` and the _Guards, in the same
# order, from the same Context): same output, same budgets, same diagnostics, and the
# sandbox checks every call as before. Anything else is compiled as always.

_TEXT, _CONST, _NAME, _CALL, _ATTR, _ITEM, _LIST, _TUPLE, _DICT, _NOT = range(10)
_OUT, _JUMP, _UNLESS, _AND, _OR = range(10, 15)

# Deeper trees are compiled instead: below this depth neither jinja's code generator nor
# Python's compiler can fail (nesting, indentation and recursion limits), so a template
# runs here only if the generated code would have compiled.
_MAX_DEPTH = 16
# repr() of a larger int raises (Python's int-to-text limit) while generating code.
_MAX_CONST_BITS = 4096
# Names jinja's code generator treats specially (``self``, the variables of macros and
# loops), and ``loop(...)``, which _Harden rewrites.
_SPECIAL_NAMES = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs"})

_Instruction = tuple[int, Any]


class _Unsupported(Exception):
    """A node the fast path does not run: the template is compiled instead."""


class _Straight:
    """A template of text, ``{{ expression }}``, ``{% if %}`` and comments, run directly.

    Expressions are names, literals, lists, tuples, dicts, calls, attributes, items,
    ``not``, ``and`` and ``or``."""

    def __init__(self, env: _Sandbox, code: tuple[_Instruction, ...]) -> None:
        self._env = env
        self._code = code
        self._globals = env.make_globals(None)  # what Template.from_string gives a template

    @classmethod
    def assemble(cls, env: _Sandbox, tree: nodes.Template) -> _Straight | None:
        """The template as a program; None if it needs jinja's generated code."""
        code: list[_Instruction] = []
        try:
            _statements(tree.body, code, 0)
        except _Unsupported:
            return None
        return cls(env, tuple(code))

    def new_context(self, vars: dict[str, Any], shared: bool = False) -> Context:
        return new_context(self._env, None, {}, vars, shared, self._globals)

    def root_render_func(self, context: Context) -> Iterator[str]:
        # One generator frame, like jinja's root(): a macro called from here recurses
        # exactly as deep as it would from the generated code before hitting the limit.
        env = self._env
        call = env.call
        guards = env.extensions[_Guards.identifier]
        assert isinstance(guards, _Guards)
        out, sized = guards.out, guards.sized
        resolve = context.resolve_or_missing
        code = self._code
        stack: list[Any] = []
        pc = 0
        while pc < len(code):
            op, arg = code[pc]
            pc += 1
            if op == _TEXT:
                yield str(call(context, out, arg))
            elif op == _OUT:
                yield str(call(context, out, stack.pop()))
            elif op == _CONST:
                stack.append(arg)
            elif op == _NAME:
                # The generated code resolves every name up front; resolving here gives
                # the same value: nothing a render runs can change the context's names.
                value = resolve(arg)
                stack.append(env.undefined(name=arg) if value is missing else value)
            elif op == _CALL:
                count, keys = arg
                start = len(stack) - count - len(keys)
                values = stack[start:]
                del stack[start:]
                func = stack.pop()
                kwargs = dict(zip(keys, values[count:], strict=True))
                stack.append(call(context, func, *values[:count], **kwargs))
            elif op == _ATTR:
                stack[-1] = env.getattr(stack[-1], arg)
            elif op == _ITEM:
                key = stack.pop()
                stack[-1] = env.getitem(stack[-1], key)
            elif op in (_LIST, _TUPLE, _DICT):
                start = len(stack) - arg
                items = stack[start:]
                del stack[start:]
                value = (
                    items
                    if op == _LIST
                    else tuple(items)
                    if op == _TUPLE
                    else {items[i]: items[i + 1] for i in range(0, arg, 2)}
                )
                stack.append(call(context, sized, value))
            elif op == _NOT:
                stack[-1] = not stack[-1]
            elif op == _UNLESS:
                if not stack.pop():
                    pc = arg
            elif op == _AND:  # Python's `a and b`: a if a is false, else b
                if stack[-1]:
                    stack.pop()
                else:
                    pc = arg
            elif op == _OR:
                if stack[-1]:
                    pc = arg
                else:
                    stack.pop()
            else:  # _JUMP
                pc = arg


def _statements(body: list[nodes.Node], code: list[_Instruction], depth: int) -> None:
    for node in body:
        if type(node) is nodes.Output:
            for child in node.nodes:
                if type(child) is nodes.TemplateData:
                    code.append((_TEXT, child.data))
                else:
                    _expression(child, code, depth + 1)
                    code.append((_OUT, None))
        elif type(node) is nodes.If and depth < _MAX_DEPTH:
            _if(node, code, depth)
        else:
            raise _Unsupported


def _if(node: nodes.If, code: list[_Instruction], depth: int) -> None:
    """As jinja writes it: ``if test: ... elif test: ... else: ...``."""
    ends: list[int] = []
    for branch in (node, *node.elif_):
        if branch is not node and (branch.elif_ or branch.else_):
            # jinja's parser never builds these, and its code generator ignores them
            raise _Unsupported
        _expression(branch.test, code, depth + 1)
        skip = len(code)
        code.append((_UNLESS, None))
        _statements(branch.body, code, depth + 1)
        ends.append(len(code))
        code.append((_JUMP, None))
        code[skip] = (_UNLESS, len(code))
    _statements(node.else_, code, depth + 1)
    for end in ends:
        code[end] = (_JUMP, len(code))


# The expression nodes the fast path runs (exactly these types: no subclass).
_EXPRESSIONS = frozenset(
    {nodes.Const, nodes.Name, nodes.Call, nodes.Getattr, nodes.Getitem, nodes.List}
    | {nodes.Tuple, nodes.Dict, nodes.Not, nodes.And, nodes.Or}
)


def _expression(node: nodes.Node, code: list[_Instruction], depth: int) -> None:
    """Code that pushes the node's value, evaluating its parts in the generated code's order."""
    if depth > _MAX_DEPTH or type(node) not in _EXPRESSIONS:
        raise _Unsupported
    if isinstance(node, nodes.Const):
        code.append((_CONST, _constant(node.value)))
    elif isinstance(node, nodes.Name):
        if node.ctx != "load" or not _plain_name(node.name) or node.name in _SPECIAL_NAMES:
            raise _Unsupported
        code.append((_NAME, node.name))
    elif isinstance(node, nodes.Call):
        _call(node, code, depth)
    elif isinstance(node, nodes.Getattr):
        _expression(node.node, code, depth + 1)
        code.append((_ATTR, node.attr))
    elif isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Slice):
            raise _Unsupported  # jinja slices without environment.getitem
        _expression(node.node, code, depth + 1)
        _expression(node.arg, code, depth + 1)
        code.append((_ITEM, None))
    elif isinstance(node, (nodes.List, nodes.Tuple)):
        if isinstance(node, nodes.Tuple) and node.ctx != "load":
            raise _Unsupported
        for child in node.items:
            _expression(child, code, depth + 1)
        code.append((_LIST if isinstance(node, nodes.List) else _TUPLE, len(node.items)))
    elif isinstance(node, nodes.Dict):
        for pair in node.items:
            if type(pair) is not nodes.Pair:
                raise _Unsupported
            _expression(pair.key, code, depth + 1)
            _expression(pair.value, code, depth + 1)
        code.append((_DICT, 2 * len(node.items)))
    elif isinstance(node, nodes.Not):
        _expression(node.node, code, depth + 1)
        code.append((_NOT, None))
    else:
        assert isinstance(node, (nodes.And, nodes.Or))
        _expression(node.left, code, depth + 1)
        jump = len(code)
        code.append((_AND, None))
        _expression(node.right, code, depth + 1)
        code[jump] = (_AND if isinstance(node, nodes.And) else _OR, len(code))


def _constant(value: object) -> object:
    """A literal, if the generated code would hold the same value."""
    if (
        value is None
        or type(value) in (str, bool)
        or (type(value) is int and value.bit_length() <= _MAX_CONST_BITS)
        or (type(value) is float and math.isfinite(value))
    ):
        return value
    raise _Unsupported  # `inf` is no Python literal; repr() of a huge int raises


def _call(node: nodes.Call, code: list[_Instruction], depth: int) -> None:
    keys = tuple(keyword.key for keyword in node.kwargs)
    if (
        node.dyn_args is not None
        or node.dyn_kwargs is not None
        or len(set(keys)) != len(keys)  # a SyntaxError in the generated code
        or not all(_plain_name(key) for key in keys)
    ):
        raise _Unsupported
    _expression(node.node, code, depth + 1)
    for child in node.args:
        _expression(child, code, depth + 1)
    for keyword in node.kwargs:
        _expression(keyword.value, code, depth + 1)
    code.append((_CALL, (len(node.args), keys)))


def _plain_name(name: str) -> bool:
    # ASCII only: Python folds other identifiers (NFKC), so two names jinja keeps apart
    # could become one variable in the generated code.
    return name.isascii() and name.isidentifier()


# Most models use nothing but text, ``{{ ref('x') }}``-like expressions and ``{% if
# is_incremental() %}``, and for them even jinja's lexer and parser cost more than the
# render. _scan reads that form itself and builds the tree jinja's parser builds (tested
# against it), so everything after the parse is unchanged. Its token rules accept only
# text that jinja's lexer splits the same way (the same whitespace; ASCII names; strings
# without escapes; integers that jinja cannot read as floats; no whitespace control);
# it gives up (None) on anything else, and jinja parses.

_SCAN_TAG = re.compile(r"\{[{%]")
_SCAN_TOKEN = re.compile(
    r"""\s*(?:
        ([A-Za-z_][A-Za-z0-9_]*)    # 1: a name
        |('[^'\\]*'|"[^"\\]*")      # 2: a string without escapes
        |(0|[1-9][0-9]*)(?![\w.])   # 3: an integer that is not the start of a float
        |(\}\}|%\}|[()\[\],=.])      # 4: the end of the tag, or an operator
    )""",
    re.VERBOSE,
)
_NAME_TOKEN, _STRING_TOKEN, _INT_TOKEN, _OP_TOKEN = 1, 2, 3, 4
_ENDS = {"{{": (_OP_TOKEN, "}}"), "{%": (_OP_TOKEN, "%}")}
_IF_PARTS = frozenset({"elif", "else", "endif"})
# Names jinja's parser reads as operators, or as constants.
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else"})
_CONSTANTS: Mapping[str, object] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
}

_Token = tuple[int, str]
# Text, or the tokens of a ``{{ }}`` (True) or ``{% %}`` (False) up to and with their end.
_Piece = str | tuple[bool, list[_Token]]


def _scan(text: str) -> nodes.Template | None:
    """jinja's tree of a template made of text, ``{{ expression }}`` and ``{% if expression
    %}`` / ``{% elif expression %}`` / ``{% else %}`` / ``{% endif %}``; None for any other.

    An expression is a string, an integer, true/false/none, a list of expressions, or
    ``name(.name)*`` with an optional call of expressions and ``key=expression``s."""
    if "\r" in text or "{#" in text:
        return None  # newlines jinja rewrites; comments
    try:
        pieces = _scan_pieces(text)
        body, index = _scan_body(pieces, 0, 0)
    except _Unsupported:
        return None
    if index != len(pieces):
        return None  # an elif, else or endif without its if
    return nodes.Template(body)


def _scan_pieces(text: str) -> list[_Piece]:
    """The template split as jinja's lexer splits it, for the tokens read here."""
    pieces: list[_Piece] = []
    pos = 0
    while (tag := _SCAN_TAG.search(text, pos)) is not None:
        if tag.start() > pos:
            pieces.append(text[pos : tag.start()])
        tokens, pos = _scan_tokens(text, tag.end(), _ENDS[tag.group()])
        pieces.append((tag.group() == "{{", tokens))
    if pos < len(text):
        pieces.append(text[pos:])
    return pieces


def _scan_tokens(text: str, pos: int, end: _Token) -> tuple[list[_Token], int]:
    """The tokens of one tag, up to and with its end; the position after it."""
    tokens: list[_Token] = []
    while True:
        match = _SCAN_TOKEN.match(text, pos)
        if match is None:
            raise _Unsupported  # `{{-`, an operator or a character read here as none
        pos = match.end()
        kind = match.lastindex or 0
        token = (kind, match.group(kind))
        tokens.append(token)
        if token in _ENDS.values():
            if token != end:
                raise _Unsupported  # `{{ ... %}`: left to jinja's error
            return tokens, pos


def _scan_body(pieces: list[_Piece], index: int, depth: int) -> tuple[list[nodes.Node], int]:
    """The statements from ``pieces[index]`` up to an elif, else or endif (or the end),
    and the index of that piece. Text and expressions in a row make one Output, as in
    jinja's subparse."""
    body: list[nodes.Node] = []
    output: list[nodes.Expr] = []
    while index < len(pieces):
        piece = pieces[index]
        if isinstance(piece, str):
            output.append(nodes.TemplateData(piece))
            index += 1
            continue
        is_expression, tokens = piece
        if is_expression:
            output.append(_scan_whole(tokens, 0))
            index += 1
            continue
        word = tokens[0]
        if word[0] != _NAME_TOKEN or (word[1] != "if" and word[1] not in _IF_PARTS):
            raise _Unsupported  # any other statement
        if word[1] in _IF_PARTS:
            break
        if output:
            body.append(nodes.Output(output))
            output = []
        node, index = _scan_if(pieces, index, depth + 1)
        body.append(node)
    if output:
        body.append(nodes.Output(output))
    return body, index


def _scan_if(pieces: list[_Piece], index: int, depth: int) -> tuple[nodes.If, int]:
    """The if statement at ``pieces[index]``, as jinja's parse_if builds it, and the index
    of the piece after its endif."""
    if depth > _MAX_DEPTH:
        raise _Unsupported
    result = node = nodes.If(_scan_whole(_tokens(pieces[index]), 1), [], [], [])
    while True:
        node.body, index = _scan_body(pieces, index + 1, depth)
        if index == len(pieces):
            raise _Unsupported  # no endif: left to jinja's error
        tokens = _tokens(pieces[index])
        if tokens[0][1] == "elif":
            node = nodes.If(_scan_whole(tokens, 1), [], [], [])
            result.elif_.append(node)
            continue
        if tokens[0][1] == "else":
            if len(tokens) != 2:
                raise _Unsupported
            result.else_, index = _scan_body(pieces, index + 1, depth)
            if index == len(pieces):
                raise _Unsupported
            tokens = _tokens(pieces[index])
        if tokens[0][1] != "endif" or len(tokens) != 2:
            raise _Unsupported
        return result, index + 1


def _tokens(piece: _Piece) -> list[_Token]:
    assert not isinstance(piece, str)
    return piece[1]


def _scan_whole(tokens: list[_Token], index: int) -> nodes.Expr:
    """The expression from ``tokens[index]`` that fills the rest of the tag."""
    node, end = _scan_expression(tokens, index, 0)
    if end != len(tokens) - 1:
        raise _Unsupported
    return node


def _scan_expression(tokens: list[_Token], index: int, depth: int) -> tuple[nodes.Expr, int]:
    """The expression starting at ``tokens[index]``, and the index of the token after it.

    Only the token after it tells jinja where it ends (another `.`, `(` or operator would
    continue it): the caller accepts only `}}`, `,`, `)` or `]` there."""
    if depth > _MAX_DEPTH:
        raise _Unsupported  # and deeper trees are compiled anyway
    kind, value = tokens[index]
    if kind == _STRING_TOKEN:
        return nodes.Const(_string_value(value[1:-1])), index + 1
    if kind == _INT_TOKEN:
        return nodes.Const(int(value)), index + 1
    if (kind, value) == (_OP_TOKEN, "["):
        items: list[nodes.Expr] = []
        index += 1
        while tokens[index] != (_OP_TOKEN, "]"):
            if items:
                index = _scan_comma(tokens, index)
            item, index = _scan_expression(tokens, index, depth + 1)
            items.append(item)
        return nodes.List(items), index + 1
    if kind != _NAME_TOKEN or value in _KEYWORDS:
        raise _Unsupported
    if value in _CONSTANTS:
        return nodes.Const(_CONSTANTS[value]), index + 1
    node: nodes.Expr = nodes.Name(value, "load")
    index += 1
    while tokens[index] == (_OP_TOKEN, "."):
        if tokens[index + 1][0] != _NAME_TOKEN:
            raise _Unsupported  # `.0` is an item
        node = nodes.Getattr(node, tokens[index + 1][1], "load")
        index += 2
    if tokens[index] == (_OP_TOKEN, "("):
        return _scan_call(node, tokens, index + 1, depth)
    return node, index


def _scan_call(
    func: nodes.Expr, tokens: list[_Token], index: int, depth: int
) -> tuple[nodes.Expr, int]:
    """The call of ``func`` whose arguments start at ``tokens[index]``, as jinja's
    parse_call_args reads them: ``name=`` starts a keyword argument."""
    args: list[nodes.Expr] = []
    kwargs: list[nodes.Keyword] = []
    while tokens[index] != (_OP_TOKEN, ")"):
        if args or kwargs:
            index = _scan_comma(tokens, index)
        if tokens[index][0] == _NAME_TOKEN and tokens[index + 1] == (_OP_TOKEN, "="):
            key = tokens[index][1]
            value, index = _scan_expression(tokens, index + 2, depth + 1)
            kwargs.append(nodes.Keyword(key, value))
        elif kwargs:
            raise _Unsupported  # a positional argument after a keyword: a syntax error
        else:
            value, index = _scan_expression(tokens, index, depth + 1)
            args.append(value)
    return nodes.Call(func, args, kwargs, None, None), index + 1


def _scan_comma(tokens: list[_Token], index: int) -> int:
    # jinja also allows a trailing comma; left to it
    if tokens[index] != (_OP_TOKEN, ",") or tokens[index + 1] in (
        (_OP_TOKEN, ")"),
        (_OP_TOKEN, "]"),
    ):
        raise _Unsupported
    return index + 1


def _string_value(text: str) -> str:
    """A string token's value, as jinja's lexer computes it (for text without backslashes,
    the text itself)."""
    if text.isascii():
        return text
    return text.encode("ascii", "backslashreplace").decode("unicode-escape")


# --- size checks before an operation builds something huge -------------------------------------

_ADDRESS = re.compile(r"(<[^<>]*) at 0x[0-9A-Fa-f]+>")


def _scrub(text: str) -> str:
    """Text without the memory addresses of Python's default reprs (``<... at 0x7f...>``):
    they vary by run."""
    return _ADDRESS.sub(r"\1>", text) if "0x" in text else text


def _check_mutation(
    owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], session: _Session
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Budget one in-place change of a plain list, dict or set; the args to call it with.

    Iterables are read into lists first (at most as many items as the container may
    still take), so a generator cannot grow a container past the limits unseen."""
    if name == "sort" and kwargs.get("key") is not None:
        # The key would be called from Python, once per item, outside every budget.
        raise SecurityError("list.sort(key=...) is not allowed in a template; use |sort")
    if name not in _GROWING:
        session.sizes.pop(id(owner), None)  # it may shrink: measure it afresh next time
        return args, kwargs
    room = _MAX_ITEMS - len(owner)
    added: list[Any]
    count: int
    if name in ("append", "add"):
        added = list(args[:1])
        count = 1
    elif name == "insert":
        added = list(args[1:2])
        count = 1
    elif name == "setdefault":
        added = [*args[:2]]
        count = 1
    elif name == "update" and isinstance(owner, dict):
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        pairs: list[Any] = []
        if args:
            source = args[0]
            if isinstance(source, Mapping):
                if len(source) > room:
                    raise _too_many()
                source = list(source.items())
            pairs = _take(source, room)
        added = [*pairs, *kwargs.items()]
        count = len(added)
        args, kwargs = ((pairs,) if args else ()), kwargs
    else:  # extend, set.update, symmetric_difference_update: each argument an iterable
        args = tuple(_take(arg, room) for arg in args)
        added = [item for items in args for item in items]
        count = len(added)
    if count > room:
        raise _too_many()
    known = session.sizes.get(id(owner))
    size = known[1] if known is not None and known[0] is owner else session.fits(owner)
    size += _measure(added, session.limits.max_value_chars)
    if size > session.limits.max_value_chars:
        raise _LimitExceeded(
            f"a value larger than {session.limits.max_value_chars} characters or {_MAX_ITEMS} items"
        )
    session.sizes[id(owner)] = (owner, size)
    return args, kwargs


def _too_many() -> _LimitExceeded:
    return _LimitExceeded(f"a value larger than {_MAX_ITEMS} items")


def _take(iterable: Iterable[Any], room: int) -> list[Any]:
    """The items of ``iterable``, refusing more than ``room`` of them."""
    items: list[Any] = []
    for item in iterable:
        items.append(item)
        if len(items) > room:
            raise _too_many()
    return items


_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")


def _too_large(limits: Limits, what: str) -> NoReturn:
    raise _LimitExceeded(f"{what} would be larger than {limits.max_value_chars} characters")


def _check_printf(text: str, limits: Limits) -> None:
    for match in _PRINTF_FIELD.finditer(text):
        for width in match.groups():
            if width == "*" or (width and int(width) > limits.max_value_chars):
                _too_large(limits, "a %-format result")


def _check_format(text: str, limits: Limits) -> None:
    fields = text.replace("{{", "").replace("}}", "")
    if re.search(r"\{[^{}]*\{", fields):  # a width taken from an argument
        raise SecurityError("str.format with nested replacement fields is not allowed")
    for field in _FORMAT_FIELD.findall(fields):
        spec = field.partition(":")[2]
        for number in re.findall(r"\d+", spec):
            if int(number) > limits.max_value_chars:
                _too_large(limits, "a str.format result")


def _check_int_op(size_bits: int, limits: Limits) -> None:
    if size_bits > _MAX_INT_BITS:
        raise _LimitExceeded(f"an integer larger than {_MAX_INT_BITS} bits")


def _check_binop(operator: str, left: Any, right: Any, limits: Limits) -> None:
    cap = limits.max_value_chars
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        if ints:
            _check_int_op(abs(left).bit_length() + abs(right).bit_length(), limits)
        for seq, times in ((left, right), (right, left)):
            sequence = isinstance(seq, (str, list, tuple))
            if sequence and isinstance(times, int) and _measure(seq, cap) * times > cap:
                _too_large(limits, "a repetition")
    elif operator == "**":
        if ints and right > 0 and abs(left) > 1:
            _check_int_op(abs(left).bit_length() * right, limits)
    elif operator == "+":
        sequences = isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple))
        if sequences and _measure(left, cap) + _measure(right, cap) > cap:
            _too_large(limits, "a concatenation")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, limits)


def _check_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], limits: Limits
) -> tuple[Any, ...]:
    """Refuse str methods whose result size is set by an argument; the args to call with."""
    if not isinstance(obj, types.BuiltinMethodType):
        return args
    owner = obj.__self__
    if not isinstance(owner, (str, bytes)):
        return args
    cap = limits.max_value_chars
    name = obj.__name__
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > cap:
            _too_large(limits, f"str.{name}")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        if isinstance(size, int) and len(owner) + tabs * size > cap:
            _too_large(limits, "str.expandtabs")
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, type(owner)) and isinstance(new, type(owner)):
            text: Any = owner
            count = text.count(old) if old else len(owner) + 1
            if len(owner) + count * max(0, len(new) - len(old)) > cap:
                _too_large(limits, "str.replace")
    elif name == "join" and args:
        items = list(args[0])
        if len(owner) * len(items) + _measure(items, cap) > cap:
            _too_large(limits, "str.join")
        return (items, *args[1:])
    return args


def _guard_filter(name: str, func: Callable[..., Any], rt: _Runtime) -> Callable[..., Any]:
    """``func`` with a step of budget, a size check before and after."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        session = rt.current
        session.tick()
        for value in (*args[skip:], *kwargs.values()):
            session.fits(value)  # it may have grown since it was built
        args = _check_filter(name, args, skip, kwargs, rt.limits)
        result = func(*args, **kwargs)
        if isinstance(result, str) and len(args) > skip and not isinstance(args[skip], str):
            result = _scrub(result)  # an object printed by |string, |join, |pprint ...
        session.check(result)
        return result

    return guarded


def _check_filter(
    name: str, args: tuple[Any, ...], skip: int, kwargs: dict[str, Any], limits: Limits
) -> tuple[Any, ...]:
    if len(args) <= skip:
        return args
    cap = limits.max_value_chars
    value, rest = args[skip], args[skip + 1 :]

    def option(index: int, key: str, default: Any) -> Any:
        return rest[index] if len(rest) > index else kwargs.get(key, default)

    if name == "center":
        width = option(0, "width", 80)
        if isinstance(width, int) and width > cap:
            _too_large(limits, "the center filter")
    elif name == "indent":
        width = option(0, "width", 4)
        unit = width if isinstance(width, int) else len(str(width))
        text = str(value)
        if len(text) + unit * (text.count("\n") + 1) > cap:
            _too_large(limits, "the indent filter")
    elif name == "wordwrap":
        width = option(0, "width", 79)
        wrap = option(2, "wrapstring", None) or "\n"
        text = str(value)
        if (
            isinstance(width, int)
            and len(text) + (len(text) // max(width, 1) + 1) * len(str(wrap)) > cap
        ):
            _too_large(limits, "the wordwrap filter")
    elif name == "format":
        _check_printf(str(value), limits)
    elif name == "replace":
        old, new = str(option(0, "old", "")), str(option(1, "new", ""))
        text = str(value)
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * max(0, len(new) - len(old)) > cap:
            _too_large(limits, "the replace filter")
    elif name == "join":
        items = list(value)
        separator = str(option(0, "d", ""))
        if len(separator) * len(items) + _measure(items, cap) > cap:
            _too_large(limits, "the join filter")
        return (*args[:skip], items, *rest)
    elif name in ("int", "float") and isinstance(value, str) and len(value) > 4000:
        # int() of a long string takes quadratic time
        raise _LimitExceeded(f"the {name} filter on a string longer than 4000 characters")
    elif name in ("batch", "slice"):
        count = option(0, "linecount" if name == "batch" else "slices", 1)
        if isinstance(count, int) and count > 100_000:
            _too_large(limits, f"the {name} filter")
    return args


# --- dbt and dbt_utils macros implemented here -------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _adapter(rt: _Runtime) -> str:
    return rt.ctx.target_type.lower()


def _type_name(kind: str) -> Callable[..., object]:
    names = {
        "string": {
            "bigquery": "string",
            "databricks": "string",
            "spark": "string",
            "postgres": "text",
        },
        "timestamp": {"snowflake": "timestamp_ntz"},
        "int": {"bigquery": "int64"},
        "bigint": {"bigquery": "int64"},
        "float": {"bigquery": "float64"},
        "numeric": {"bigquery": "numeric"},
        "boolean": {},
    }[kind]
    default = {
        "string": "varchar",
        "timestamp": "timestamp",
        "int": "integer",
        "bigint": "bigint",
        "float": "float",
        "numeric": "numeric(28,6)",
        "boolean": "boolean",
    }[kind]

    def render(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
        return names.get(_adapter(rt), default)

    return render


_type_string = _type_name("string")


def _current_timestamp(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return "current_timestamp()" if _adapter(rt) == "bigquery" else "current_timestamp"


def _dateadd(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    datepart = _arg(args, kwargs, 0, "datepart", "day")
    interval = _arg(args, kwargs, 1, "interval", 0)
    base = _arg(args, kwargs, 2, "from_date_or_timestamp", "NULL")
    adapter = _adapter(rt)
    if adapter in ("postgres", "materialize"):
        return f"{base} + ((interval '1 {datepart}') * ({interval}))"
    if adapter == "bigquery":
        return f"datetime_add(cast({base} as datetime), interval {interval} {datepart})"
    if adapter == "duckdb":
        return f"date_add({base}, interval ({interval}) {datepart})"
    return f"dateadd({datepart}, {interval}, {base})"


def _datediff(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    first = _arg(args, kwargs, 0, "first_date", "NULL")
    second = _arg(args, kwargs, 1, "second_date", "NULL")
    datepart = _arg(args, kwargs, 2, "datepart", "day")
    if _adapter(rt) == "bigquery":
        return f"datetime_diff(cast({second} as datetime), cast({first} as datetime), {datepart})"
    return f"datediff({datepart}, {first}, {second})"


def _date_trunc(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    datepart = _arg(args, kwargs, 0, "datepart", "day")
    date = _arg(args, kwargs, 1, "date", "NULL")
    if _adapter(rt) == "bigquery":
        return f"timestamp_trunc(cast({date} as timestamp), {datepart})"
    return f"date_trunc('{datepart}', {date})"


def _fields(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [str(value)]


def _concat(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    fields = _fields(_arg(args, kwargs, 0, "fields", []))
    if _adapter(rt) in ("postgres", "redshift", "materialize"):
        return " || ".join(fields)
    return f"concat({', '.join(fields)})"


def _hash(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    field = _arg(args, kwargs, 0, "field", "NULL")
    text = f"cast({field} as {_type_string(rt)})"
    return f"to_hex(md5({text}))" if _adapter(rt) == "bigquery" else f"md5({text})"


def _safe_cast(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    field = _arg(args, kwargs, 0, "field", "NULL")
    type_ = _arg(args, kwargs, 1, "type", _type_string(rt))
    function = {"snowflake": "try_cast", "bigquery": "safe_cast"}.get(_adapter(rt), "cast")
    return f"{function}({field} as {type_})"


def _cast(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    field = _arg(args, kwargs, 0, "field", "NULL")
    type_ = _arg(args, kwargs, 1, "type", _type_string(rt))
    return f"cast({field} as {type_})"


def _cast_bool_to_text(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return f"cast({_arg(args, kwargs, 0, 'field', 'NULL')} as {_type_string(rt)})"


def _any_value(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    expression = _arg(args, kwargs, 0, "expression", "NULL")
    return f"min({expression})" if _adapter(rt) == "postgres" else f"any_value({expression})"


def _bool_or(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    expression = _arg(args, kwargs, 0, "expression", "NULL")
    function = {"snowflake": "boolor_agg", "bigquery": "logical_or"}.get(_adapter(rt), "bool_or")
    return f"{function}({expression})"


def _listagg(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    measure = _arg(args, kwargs, 0, "measure", "NULL")
    delimiter = _arg(args, kwargs, 1, "delimiter_text", "','")
    order_by = _arg(args, kwargs, 2, "order_by_clause", None)
    if _adapter(rt) in ("postgres", "bigquery"):
        return f"string_agg({measure}, {delimiter}{' ' + str(order_by) if order_by else ''})"
    within = f" within group ({order_by})" if order_by else ""
    return f"listagg({measure}, {delimiter}){within}"


def _split_part(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    text = _arg(args, kwargs, 0, "string_text", "NULL")
    delimiter = _arg(args, kwargs, 1, "delimiter_text", "','")
    part = _arg(args, kwargs, 2, "part_number", 1)
    if _adapter(rt) == "bigquery":
        return f"split({text}, {delimiter})[safe_offset({part} - 1)]"
    return f"split_part({text}, {delimiter}, {part})"


def _last_day(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    date = _arg(args, kwargs, 0, "date", "NULL")
    datepart = _arg(args, kwargs, 1, "datepart", "month")
    start = _date_trunc(rt, datepart, date)
    return f"cast({_dateadd(rt, 'day', '-1', _dateadd(rt, datepart, '1', start))} as date)"


def _position(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    substring = _arg(args, kwargs, 0, "substring_text", "NULL")
    text = _arg(args, kwargs, 1, "string_text", "NULL")
    if _adapter(rt) == "bigquery":
        return f"strpos({text}, {substring})"
    return f"position({substring} in {text})"


def _function(name: str, *params: str) -> Callable[..., object]:
    def render(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
        values = [str(_arg(args, kwargs, i, param, "NULL")) for i, param in enumerate(params)]
        return f"{name}({', '.join(values)})"

    return render


def _escape_single_quotes(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return str(_arg(args, kwargs, 0, "expression", "")).replace("'", "''")


def _string_literal(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return "'" + str(_arg(args, kwargs, 0, "value", "")).replace("'", "''") + "'"


def _nothing(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return ""


def _log(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    return ""


def _run_query(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    rt.note("run_query needs the database: returned none")
    return None


def _statement(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    rt.note("statement blocks need the database: rendered nothing")
    return ""


def _load_result(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    rt.note("load_result needs the database: returned none")
    return None


# Cross-database macros from dbt's global project: bare (``type_string()``), as
# ``dbt.type_string()``, and (older versions) as ``dbt_utils.type_string()``.
_CROSS_DB: Mapping[str, Callable[..., object]] = {
    "current_timestamp": _current_timestamp,
    "current_timestamp_backcompat": _current_timestamp,
    "current_timestamp_in_utc_backcompat": _current_timestamp,
    "type_string": _type_string,
    "type_timestamp": _type_name("timestamp"),
    "type_int": _type_name("int"),
    "type_bigint": _type_name("bigint"),
    "type_float": _type_name("float"),
    "type_numeric": _type_name("numeric"),
    "type_boolean": _type_name("boolean"),
    "dateadd": _dateadd,
    "datediff": _datediff,
    "date_trunc": _date_trunc,
    "concat": _concat,
    "hash": _hash,
    "safe_cast": _safe_cast,
    "cast": _cast,
    "cast_bool_to_text": _cast_bool_to_text,
    "any_value": _any_value,
    "bool_or": _bool_or,
    "listagg": _listagg,
    "split_part": _split_part,
    "last_day": _last_day,
    "position": _position,
    "length": _function("length", "expression"),
    "right": _function("right", "string_text", "length_expression"),
    "replace": _function("replace", "field", "old_chars", "new_chars"),
    "escape_single_quotes": _escape_single_quotes,
    "string_literal": _string_literal,
}

# dbt's own functions that are not cross-database SQL.
_DBT_GLOBALS: Mapping[str, Callable[..., object]] = {
    "log": _log,
    "print": _log,
    "run_query": _run_query,
    "statement": _statement,
    "load_result": _load_result,
    "store_result": _nothing,
    "store_raw_result": _nothing,
    "set_sql_header": _nothing,
}


def _surrogate_key(null_value: str) -> Callable[..., object]:
    def render(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
        fields = _fields(args[0]) if len(args) == 1 else [str(arg) for arg in args]
        fields = fields or _fields(kwargs.get("field_list", []))
        default = null_value
        if rt.vars.get("surrogate_key_treat_nulls_as_empty_strings"):
            default = ""
        parts: list[str] = []
        for i, field in enumerate(fields):
            if i:
                parts.append("'-'")
            parts.append(f"coalesce(cast({field} as {_type_string(rt)}), '{default}')")
        if not parts:
            return _Placeholder(rt, "dbt_utils.generate_surrogate_key")()
        inner = _concat(rt, parts) if len(parts) > 1 else parts[0]
        return _hash(rt, inner)

    return render


def _except_list(rt: _Runtime, macro: str, names: Any) -> list[str]:
    columns: list[str] = []
    for name in names if isinstance(names, (list, tuple)) else [names] if names else []:
        if _is_safe_name(name):
            columns.append(str(name))
        else:
            rt.note(f"{macro}: column {_short(name)} is not a plain identifier: not excluded")
    return columns


def _star(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    relation_alias = _arg(args, kwargs, 1, "relation_alias", False)
    excluded = _except_list(rt, "dbt_utils.star", _arg(args, kwargs, 2, "except", []))
    if any(_arg(args, kwargs, i, key, "") for i, key in ((3, "prefix"), (4, "suffix"))) or (
        kwargs.get("aliases")
    ):
        rt.note("dbt_utils.star: prefix, suffix and aliases rename columns the SQL cannot show")
    star = "*"
    if relation_alias:
        if _is_safe_name(relation_alias):
            star = f"{relation_alias}.*"
        else:
            rt.note(f"dbt_utils.star: relation_alias {_short(relation_alias)} is not an identifier")
    return f"{star} EXCEPT ({', '.join(excluded)})" if excluded else star


def _union_relations(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    relations = _arg(args, kwargs, 0, "relations", [])
    include = _except_list(rt, "dbt_utils.union_relations", _arg(args, kwargs, 2, "include", []))
    exclude = _except_list(rt, "dbt_utils.union_relations", _arg(args, kwargs, 3, "exclude", []))
    source_column = _arg(args, kwargs, 4, "source_column_name", "_dbt_source_relation")
    where = _arg(args, kwargs, 5, "where", None)
    if not isinstance(relations, (list, tuple)) or not relations:
        return _Placeholder(rt, "dbt_utils.union_relations")()
    rt.note(
        "dbt_utils.union_relations: the columns of the result depend on the relations "
        "unioned (open)"
    )
    columns = ", ".join(include) if include else "*"
    if exclude and not include:
        columns += f" EXCEPT ({', '.join(exclude)})"
    selects: list[str] = []
    for relation in relations:
        label = str(relation).replace("'", "''")
        source = ""
        if source_column and _is_safe_name(source_column):
            source = f"cast('{label}' as {_type_string(rt)}) as {source_column}, "
        filter_ = f" where {where}" if where else ""
        selects.append(f"select {source}{columns} from {relation}{filter_}")
    return "\n\nunion all\n\n".join(selects)


def _date_spine(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    datepart = _arg(args, kwargs, 0, "datepart", "day")
    start = _arg(args, kwargs, 1, "start_date", "NULL")
    if not _is_safe_name(datepart):
        return _Placeholder(rt, "dbt_utils.date_spine")()
    return f"select cast({start} as date) as date_{datepart}"


def _safe_arithmetic(operator: str) -> Callable[..., object]:
    def render(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
        fields = _fields(args[0]) if len(args) == 1 else [str(arg) for arg in args]
        fields = fields or _fields(kwargs.get("field_list", []))
        return f" {operator} ".join(f"coalesce({field}, 0)" for field in fields) or "0"

    return render


def _safe_divide(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    numerator = _arg(args, kwargs, 0, "numerator", "NULL")
    denominator = _arg(args, kwargs, 1, "denominator", "NULL")
    return f"( {numerator} ) / nullif( ( {denominator} ), 0)"


def _group_by(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
    count = _arg(args, kwargs, 0, "n", 0)
    if not isinstance(count, int) or not 0 < count <= 1000:
        return _Placeholder(rt, "dbt_utils.group_by")()
    return "group by " + ", ".join(str(i) for i in range(1, count + 1))


def _needs_database(
    macro: str, result: Callable[[Any, dict[str, Any]], object]
) -> Callable[..., object]:
    def render(rt: _Runtime, *args: Any, **kwargs: Any) -> object:
        rt.note(f"dbt_utils.{macro} needs the database: used its default")
        return result(args, kwargs)

    return render


def _column_values_default(args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    default = _arg(args, kwargs, 4, "default", None)
    return [] if default is None else default


_DBT_UTILS: Mapping[str, Callable[..., object]] = {
    **_CROSS_DB,
    "generate_surrogate_key": _surrogate_key("_dbt_utils_surrogate_key_null_"),
    "surrogate_key": _surrogate_key(""),
    "star": _star,
    "union_relations": _union_relations,
    "date_spine": _date_spine,
    "safe_add": _safe_arithmetic("+"),
    "safe_subtract": _safe_arithmetic("-"),
    "safe_divide": _safe_divide,
    "group_by": _group_by,
    "get_column_values": _needs_database("get_column_values", _column_values_default),
    "get_filtered_columns_in_relation": _needs_database(
        "get_filtered_columns_in_relation", lambda args, kwargs: []
    ),
    "get_relations_by_pattern": _needs_database("get_relations_by_pattern", lambda a, k: []),
    "get_relations_by_prefix": _needs_database("get_relations_by_prefix", lambda a, k: []),
    "get_single_value": _needs_database(
        "get_single_value", lambda args, kwargs: _arg(args, kwargs, 1, "default", None)
    ),
    "get_query_results_as_dict": _needs_database("get_query_results_as_dict", lambda a, k: {}),
}

# Namespaced macros: ``dbt.x`` and ``dbt_utils.x``; any other package is unknown.
_PACKAGE_MACROS: Mapping[str, Mapping[str, Callable[..., object]]] = {
    "dbt": {**_CROSS_DB, **_DBT_GLOBALS},
    "dbt_utils": _DBT_UTILS,
}
