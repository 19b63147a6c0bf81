#!/usr/bin/env python3
"""Generate a deterministic dbt project of N models in a git repository, with recorded changes.

Usage::

    python benchmarks/generate.py --size 1000 [--seed 7] [--out DIR]

Writes ``DIR/repo`` (a git repository), ``DIR/changes.json`` (what the ``change50``
commit did, model by model) and two clones whose index holds a staged change
(``DIR/staged-one``, ``DIR/staged-readme``) for ``check --staged`` runs.

Revisions in ``DIR/repo`` (each a tag, and a branch ``scenario/<name>``; every scenario
is a child of ``base``):

- ``base``      the generated project
- ``change50``  50 models edited with a recorded mix (also branch ``main``)
- ``one``       one model's filter changed
- ``readme``    only README.md changed
- ``reformat``  every model reformatted (keyword case and indentation), same SQL

Only the standard library is used, and the repository is written with one
``git fast-import`` stream: a 5,000-model project takes a few seconds. Commit ids
are stable too (fixed author, committer and dates), so two runs with the same
seed give the same repository byte for byte.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "acme_analytics"
DEFAULT_SEED = 7
CHANGE_COUNT = 50

SOURCES = [
    "erp",
    "crm",
    "web",
    "billing",
    "payments",
    "inventory",
    "support",
    "marketing",
    "hr",
    "logistics",
    "ads",
    "product",
    "finance",
    "warehouse",
    "mobile",
    "partners",
]
DOMAINS = [
    "finance",
    "sales",
    "marketing",
    "product",
    "operations",
    "customer",
    "supply_chain",
    "people",
    "risk",
    "growth",
    "support",
    "logistics",
    "pricing",
    "fraud",
    "partners",
    "retail",
    "procurement",
    "compliance",
    "billing",
    "engagement",
]
ENTITIES = [
    "order",
    "customer",
    "invoice",
    "payment",
    "product",
    "shipment",
    "ticket",
    "campaign",
    "employee",
    "session",
    "account",
    "subscription",
    "refund",
    "lead",
    "opportunity",
    "supplier",
    "visit",
    "contract",
    "store",
    "device",
]

# Attributes a source table may carry: raw name, raw type, staging expression, output
# name ({e} = entity), output type, kind, accepted values.
ATTRIBUTES: list[tuple[str, str, str, str, str, str, tuple[str, ...] | None]] = [
    (
        "status",
        "varchar",
        "lower(status)",
        "status",
        "varchar",
        "cat",
        ("active", "pending", "closed", "cancelled"),
    ),
    (
        "amount_cents",
        "bigint",
        "cast({{ cents_to_dollars('amount_cents') }} as decimal(12, 2))",
        "amount",
        "decimal(12,2)",
        "num",
        None,
    ),
    ("quantity", "integer", "cast(quantity as integer)", "quantity", "integer", "int", None),
    (
        "unit_price",
        "double",
        "cast(unit_price as decimal(12, 2))",
        "unit_price",
        "decimal(12,2)",
        "num",
        None,
    ),
    ("country", "varchar", "upper(trim(country))", "country_code", "varchar", "text", None),
    (
        "channel",
        "varchar",
        "lower(channel)",
        "channel",
        "varchar",
        "cat",
        ("web", "store", "partner", "phone"),
    ),
    ("email", "varchar", "lower(trim(email))", "email", "varchar", "text", None),
    ("name", "varchar", "trim(name)", "{e}_name", "varchar", "text", None),
    ("score", "double", "cast(score as double)", "score", "double", "num", None),
    ("is_active", "boolean", "coalesce(is_active, false)", "is_active", "boolean", "bool", None),
    ("event_date", "date", "cast(event_date as date)", "event_date", "date", "date", None),
    (
        "currency",
        "varchar",
        "coalesce(currency, 'USD')",
        "currency",
        "varchar",
        "cat",
        ("USD", "EUR", "GBP"),
    ),
    (
        "discount",
        "double",
        "cast(discount as decimal(5, 2))",
        "discount_pct",
        "decimal(5,2)",
        "num",
        None,
    ),
    ("region", "varchar", "lower(region)", "region", "varchar", "cat", ("emea", "amer", "apac")),
    (
        "weight_grams",
        "integer",
        "cast(weight_grams as bigint)",
        "weight_grams",
        "bigint",
        "int",
        None,
    ),
    ("priority", "integer", "cast(priority as integer)", "priority", "integer", "int", None),
]

# Type edits on contracted models: before -> after.
TYPE_CHANGED = {
    "decimal(12,2)": "integer",
    "bigint": "integer",
    "timestamp": "date",
    "double": "integer",
    "decimal(18,2)": "integer",
}
TYPE_WIDENED = {
    "integer": "bigint",
    "decimal(12,2)": "decimal(18,2)",
    "decimal(5,2)": "decimal(12,4)",
}

MACROS = {
    "macros/cents_to_dollars.sql": (
        "{% macro cents_to_dollars(column_name, scale=2) -%}\n"
        "    round(cast({{ column_name }} as decimal(18, 4)) / 100, {{ scale }})\n"
        "{%- endmacro %}\n"
    ),
    "macros/safe_divide.sql": (
        "{% macro safe_divide(numerator, denominator) -%}\n"
        "    case when {{ denominator }} is null or {{ denominator }} = 0 then null"
        " else {{ numerator }} / {{ denominator }} end\n"
        "{%- endmacro %}\n"
    ),
    "macros/generate_schema_name.sql": (
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n"
        "    {%- if custom_schema_name is none -%}{{ target.schema }}"
        "{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n"
        "{%- endmacro %}\n"
    ),
    "macros/recent_rows.sql": (
        "{% macro recent_rows(column_name, since='2020-01-01') -%}\n"
        "    {{ column_name }} >= cast('{{ since }}' as timestamp)\n"
        "{%- endmacro %}\n"
    ),
}

KEYWORDS = [
    "select",
    "from",
    "where",
    "group",
    "by",
    "order",
    "partition",
    "over",
    "as",
    "and",
    "or",
    "not",
    "case",
    "when",
    "then",
    "else",
    "end",
    "left",
    "inner",
    "join",
    "on",
    "with",
    "cast",
    "coalesce",
    "sum",
    "count",
    "min",
    "max",
    "avg",
    "row_number",
    "lag",
    "distinct",
    "is",
    "null",
    "true",
    "false",
    "in",
    "rows",
    "between",
    "unbounded",
    "preceding",
    "current",
    "row",
    "desc",
    "asc",
    "round",
    "upper",
    "lower",
    "trim",
    "date_trunc",
]
_KEYWORD_RE = re.compile(r"\b(" + "|".join(KEYWORDS) + r")\b")
_PROTECTED_RE = re.compile(r"('[^']*'|\{\{.*?\}\}|\{%.*?%\})", re.S)


# ---------------------------------------------------------------- project model


@dataclass
class Col:
    name: str
    dtype: str
    kind: str  # id, fk, cat, text, num, int, bool, date, ts
    values: tuple[str, ...] | None = None
    origin: tuple[str, str] | None = None  # passed through `select *` from (model, column)
    tests: list[Any] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)


@dataclass
class Item:
    expr: str
    alias: str
    cast: str | None = None


@dataclass
class Sel:
    items: list[Item]
    frm: str
    joins: list[str] = field(default_factory=list)
    where: str | None = None
    group_by: list[str] = field(default_factory=list)
    star: bool = False
    incremental: str | None = None


@dataclass
class Model:
    name: str
    layer: str  # staging, intermediate, marts
    folder: str
    pattern: str
    pk: str
    entity: str
    cols: list[Col]
    fks: list[str]
    refs: list[str]
    ctes: list[tuple[str, Sel]]
    final: Sel
    out: str | None  # the CTE whose select list makes the output (None: the final select)
    config: list[tuple[str, str]] = field(default_factory=list)
    style: str = "plain"
    versioned: bool = False
    access: str | None = None  # set in the model's YAML (an edit narrows it)
    source: tuple[str, str] | None = None
    description: str = ""

    @property
    def path(self) -> str:
        return f"models/{self.layer}/{self.folder}/{self.name}.sql"

    def out_sel(self) -> Sel:
        if self.out is None:
            return self.final
        return next(s for n, s in self.ctes if n == self.out)

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)


# ---------------------------------------------------------------- rendering


def _kw_upper(text: str) -> str:
    """Keywords upper-cased outside string literals and Jinja."""
    parts = _PROTECTED_RE.split(text)
    return "".join(
        p if i % 2 else _KEYWORD_RE.sub(lambda m: m.group(1).upper(), p)
        for i, p in enumerate(parts)
    )


def _item(item: Item) -> str:
    expr = f"cast({item.expr} as {_sql_type(item.cast)})" if item.cast else item.expr
    if expr == item.alias or expr.endswith("." + item.alias):
        return expr
    return f"{expr} as {item.alias}"


def _sql_type(dtype: str) -> str:
    return dtype.replace(",", ", ")


def render_select(sel: Sel, ind: str, compact: bool) -> list[str]:
    if sel.star:
        lines = [f"select * from {sel.frm}"]
    else:
        lines = ["select"]
        for k, item in enumerate(sel.items):
            lines.append(ind + _item(item) + ("," if k < len(sel.items) - 1 else ""))
        lines.append(f"from {sel.frm}")
    lines.extend(sel.joins)
    if sel.where:
        lines.append(f"where {sel.where}")
    if sel.incremental:
        lines.append("{% if is_incremental() %}")
        lines.append(ind + ("and " if sel.where else "where ") + sel.incremental)
        lines.append("{% endif %}")
    if sel.group_by:
        lines.append("group by " + ", ".join(sel.group_by))
    return lines


def render_sql(m: Model, style: str | None = None) -> str:
    """The model's SQL; style "plain" (lower case, 4 spaces) or "shout" (upper case, 2 spaces)."""
    style = style or m.style
    compact = style == "shout"
    ind = "  " if compact else "    "
    out: list[str] = []
    if m.config:
        args = ", ".join(f"{k}={v}" for k, v in m.config)
        out += [f"{{{{ config({args}) }}}}", ""]
    for k, (name, sel) in enumerate(m.ctes):
        out.append(("with " if k == 0 else "") + f"{name} as (")
        if not compact:
            out.append("")
        out += [ind + line for line in render_select(sel, ind, compact)]
        if not compact:
            out.append("")
        out.append("),")
        if not compact and k < len(m.ctes) - 1:
            out.append("")
    if m.ctes:
        out[-1] = ")"
        out.append("")
    out += render_select(m.final, ind, compact)
    text = "\n".join(out) + "\n"
    return _kw_upper(text) if compact else text


# ---------------------------------------------------------------- YAML (a small emitter: the
# generator must not depend on PyYAML, and its output must be byte-stable)

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ().,'/-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED and not s.endswith(" ") and ": " not in s:
        return s
    return json.dumps(s)


def yaml_dump(obj: Any, indent: int = 0) -> Iterator[str]:
    pad = " " * indent
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                yield f"{pad}{k}:"
                yield from yaml_dump(v, indent + 2)
            elif isinstance(v, list):
                yield f"{pad}{k}: []"
            else:
                yield f"{pad}{k}: {_scalar(v)}"
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict):
                lines = list(yaml_dump(v, indent + 2))
                yield f"{pad}- " + lines[0].lstrip()
                yield from lines[1:]
            elif isinstance(v, list):
                yield f"{pad}- [" + ", ".join(_scalar(x) for x in v) + "]"
            else:
                yield f"{pad}- {_scalar(v)}"


def yaml_text(obj: Any, header: str = "") -> str:
    return header + "\n".join(yaml_dump(obj)) + "\n"


# ---------------------------------------------------------------- generation


def _plural(entity: str) -> str:
    return entity[:-1] + "ies" if entity.endswith("y") else entity + "s"


def _names(base: list[str], count: int) -> list[str]:
    return [
        base[i % len(base)] + ("" if i < len(base) else f"_{i // len(base) + 1}")
        for i in range(count)
    ]


class Generator:
    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.models: dict[str, Model] = {}
        self.order: list[str] = []
        self.by_pk: dict[str, list[str]] = {}
        self.used: set[tuple[str, str]] = set()
        self.sources: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}

    # --- helpers

    def add(self, m: Model) -> None:
        self.models[m.name] = m
        self.order.append(m.name)
        self.by_pk.setdefault(m.pk, []).append(m.name)

    def use(self, model: str, column: str) -> None:
        """Mark a column read by name downstream (no column edit touches it), through `select *`."""
        self.used.add((model, column))
        m = self.models[model]
        c = next((c for c in m.cols if c.name == column), None)
        if c is not None and c.origin is not None:
            self.use(*c.origin)

    def pick_where(self, m_cols: list[Col], q: str) -> str:
        rng = self.rng
        kinds = {c.kind: c for c in m_cols}
        choice = rng.choice([k for k in ("cat", "num", "bool", "ts") if k in kinds] or ["ts"])
        c = kinds.get(choice) or next(c for c in m_cols if c.name == "updated_at")
        p = f"{q}." if q else ""
        if choice == "cat" and c.values:
            return f"{p}{c.name} != '{c.values[-1]}'"
        if choice == "num":
            return f"{p}{c.name} >= 0"
        if choice == "bool":
            return f"{p}{c.name}"
        return "{{ recent_rows('" + p + "updated_at') }}"

    # --- staging

    def staging(self, count: int) -> None:
        rng = self.rng
        n_sources = max(2, -(-count // 40))
        sources = _names(SOURCES, n_sources)
        for k in range(count):
            source = sources[k % n_sources]
            entity = ENTITIES[rng.randrange(len(ENTITIES))]
            tables = self.sources.setdefault(source, [])
            taken = {t for t, _ in tables}
            table = _plural(entity)
            n = 2
            while table in taken:
                table, n = f"{_plural(entity)}_{n}", n + 1
            pk = f"{entity}_id"
            fks = sorted(rng.sample([e for e in ENTITIES if e != entity], rng.randint(1, 3)))
            attrs = sorted(rng.sample(range(len(ATTRIBUTES)), rng.randint(3, 8)))
            raw: list[tuple[str, str]] = [("id", "integer")] + [(f"{e}_id", "integer") for e in fks]
            items = [Item("id", pk)] + [Item(f"{e}_id", f"{e}_id") for e in fks]
            cols = [Col(pk, "integer", "id")] + [Col(f"{e}_id", "integer", "fk") for e in fks]
            for a in attrs:
                rname, rtype, expr, oname, otype, kind, values = ATTRIBUTES[a]
                raw.append((rname, rtype))
                oname = oname.format(e=entity)
                items.append(Item(expr, oname))
                cols.append(Col(oname, otype, kind, values))
            raw += [
                ("created_at", "timestamp"),
                ("updated_at", "timestamp"),
                ("_loaded_at", "timestamp"),
                ("_is_deleted", "boolean"),
            ]
            items += [
                Item("cast(created_at as timestamp)", "created_at"),
                Item("cast(updated_at as timestamp)", "updated_at"),
            ]
            cols += [Col("created_at", "timestamp", "ts"), Col("updated_at", "timestamp", "ts")]
            tables.append((table, raw))
            name = f"stg_{source}__{table}"
            ctes = [
                ("source", Sel([], "{{ source('" + source + "', '" + table + "') }}", star=True)),
                ("renamed", Sel(items, "source", where="not coalesce(_is_deleted, false)")),
            ]
            m = Model(
                name,
                "staging",
                source,
                "staging",
                pk,
                entity,
                cols,
                [f"{e}_id" for e in fks],
                [],
                ctes,
                Sel([], "renamed", star=True),
                "renamed",
                source=(source, table),
                description=f"One row per {entity} from {source}.{table}, renamed and typed.",
            )
            self.add(m)

    # --- intermediate and marts

    def upstream(self, layers: tuple[str, ...], before: int) -> str:
        pool = [
            n
            for n in self.order[:before]
            if self.models[n].layer in layers and not self.models[n].versioned
        ]
        # Recent models are read more often: projects grow downstream.
        return pool[min(len(pool) - 1, int(len(pool) * (1 - self.rng.random() ** 2)))]

    def partner(self, a: Model, layers: tuple[str, ...]) -> Model | None:
        for fk in self.rng.sample(a.fks, len(a.fks)):
            cands = [
                n
                for n in self.by_pk.get(fk, [])
                if self.models[n].layer in layers and n != a.name and not self.models[n].versioned
            ]
            if cands:
                return self.models[self.rng.choice(cands)]
        return None

    def derived(self, layer: str, folder: str, index: int, layers: tuple[str, ...]) -> Model:
        rng = self.rng
        prefix = {"intermediate": "int", "marts": rng.choice(["fct", "dim"])}[layer]
        before = len(self.order)
        a = self.models[self.upstream(layers, before)]
        roll = rng.random()
        if layer == "intermediate":
            pattern = (
                "join"
                if roll < 0.45
                else "aggregate"
                if roll < 0.7
                else "star"
                if roll < 0.82
                else "incremental"
            )
        else:
            pattern = "aggregate" if roll < 0.2 else "join"
        if pattern == "aggregate" and not a.fks:
            pattern = "join"
        if pattern == "star" and any(c.origin for c in a.cols):
            pattern = "incremental"
        b = self.partner(a, layers) if pattern == "join" else None
        qa = _plural(a.entity)
        ref_a = "{{ ref('" + a.name + "') }}"
        ctes: list[tuple[str, Sel]] = [(qa, Sel([], ref_a, star=True))]
        cols: list[Col] = []
        items: list[Item] = []
        config: list[tuple[str, str]] = []
        fks = list(a.fks)
        pk, entity, out, final = a.pk, a.entity, None, None
        contract = layer == "marts"

        def take(c: Col, expr: str, alias: str | None = None) -> None:
            nc = Col(
                alias or c.name,
                c.dtype,
                c.kind if alias is None else ("text" if c.kind == "id" else c.kind),
                c.values,
            )
            cols.append(nc)
            items.append(Item(expr, nc.name, nc.dtype if contract else None))

        if pattern == "aggregate":
            fk = rng.choice(a.fks)
            self.use(a.name, fk)
            pk, entity, fks = fk, fk[: -len("_id")], []
            take(Col(fk, "integer", "id"), f"{qa}.{fk}")
            cols.append(Col(f"{a.entity}_count", "bigint", "int"))
            items.append(Item("count(*)", f"{a.entity}_count", "bigint" if contract else None))
            for c in [c for c in a.cols if c.kind == "num"][:2]:
                self.use(a.name, c.name)
                cols.append(Col(f"total_{c.name}", "decimal(18,2)", "num"))
                items.append(
                    Item(
                        f"cast(sum({qa}.{c.name}) as decimal(18, 2))",
                        f"total_{c.name}",
                        "decimal(18,2)" if contract else None,
                    )
                )
            for fn, col, alias in (
                ("min", "created_at", f"first_{a.entity}_at"),
                ("max", "updated_at", "updated_at"),
            ):
                self.use(a.name, col)
                cols.append(Col(alias, "timestamp", "ts"))
                items.append(Item(f"{fn}({qa}.{col})", alias, "timestamp" if contract else None))
            where = self.pick_where(a.cols, qa)
            out = "aggregated"
            ctes.append((out, Sel(items, qa, where=where, group_by=[f"{qa}.{fk}"])))
            final = Sel([], out, star=True)
            name = f"{prefix}_{folder}__{entity}_{_plural(a.entity)}_{index:04d}"
        elif pattern == "star":
            ctes = []
            for c in a.cols:
                cols.append(Col(c.name, c.dtype, c.kind, c.values, origin=(a.name, c.name)))
            final = Sel([], ref_a, star=True, where=self.pick_where(a.cols, ""))
            name = f"{prefix}_{folder}__{_plural(entity)}_filtered_{index:04d}"
        else:
            keep = [
                c
                for c in a.cols
                if c.kind in ("id", "fk")
                or c.name == "updated_at"
                or c.name == "created_at"
                or rng.random() < 0.7
            ]
            for c in keep:
                self.use(a.name, c.name)
                take(c, f"{qa}.{c.name}")
            nums = [c for c in keep if c.kind == "num"]
            if b is not None:
                qb = _plural(b.entity) if b.entity != a.entity else f"{_plural(b.entity)}_lookup"
                ctes.append((qb, Sel([], "{{ ref('" + b.name + "') }}", star=True)))
                self.use(b.name, b.pk)
                join = f"left join {qb} on {qa}.{b.pk} = {qb}.{b.pk}"
                names = {c.name for c in cols}
                for c in rng.sample(b.cols, len(b.cols)):
                    if (
                        c.kind in ("id", "fk", "ts")
                        or len([x for x in items if x.expr.startswith(qb + ".")]) >= 3
                    ):
                        continue
                    alias = c.name if c.name.startswith(b.entity + "_") else f"{b.entity}_{c.name}"
                    if alias in names:
                        continue
                    self.use(b.name, c.name)
                    names.add(alias)
                    take(c, f"{qb}.{c.name}", alias)

            def derive(col: Col, expr: str) -> None:
                # A derived column joins the output unless an upstream one already has its name.
                if all(c.name != col.name for c in cols):
                    cols.append(col)
                    items.append(Item(expr, col.name, col.dtype if contract else None))

            if fks:
                part = rng.choice(fks)
                derive(
                    Col(f"{entity}_recency_rank", "bigint", "int"),
                    f"row_number() over (partition by {qa}.{part} order by {qa}.updated_at desc)",
                )
            if nums:
                n = nums[0]
                derive(
                    Col(f"{n.name}_band", "varchar", "cat", ("high", "medium", "low")),
                    f"case when {qa}.{n.name} >= 1000 then 'high' "
                    f"when {qa}.{n.name} >= 100 then 'medium' else 'low' end",
                )
                if layer == "marts" and fks:
                    derive(
                        Col(f"running_{n.name}", "decimal(18,2)", "num"),
                        f"sum({qa}.{n.name}) over (partition by {qa}.{fks[0]} "
                        f"order by {qa}.created_at "
                        "rows between unbounded preceding and current row)",
                    )
                if len(nums) > 1:
                    derive(
                        Col(f"{nums[0].name}_per_{nums[1].name}", "double", "num"),
                        "{{ safe_divide('"
                        + f"{qa}.{nums[0].name}', '{qa}.{nums[1].name}"
                        + "') }}",
                    )
            where = self.pick_where(a.cols, qa)
            if pattern == "incremental":
                config = [
                    ("materialized", "'incremental'"),
                    ("unique_key", f"'{pk}'"),
                    ("on_schema_change", "'append_new_columns'"),
                ]
                final = Sel(
                    items,
                    qa,
                    where=where,
                    incremental=f"{qa}.updated_at > (select max(updated_at) from {{{{ this }}}})",
                )
                name = f"{prefix}_{folder}__{_plural(entity)}_incremental_{index:04d}"
            else:
                out = "final" if layer == "marts" else "joined"
                ctes.append(
                    (out, Sel(items, qa, joins=[join] if b is not None else [], where=where))
                )
                final = Sel([], out, star=True)
                word = "enriched" if b is not None else "prepared"
                name = f"{prefix}_{folder}__{_plural(entity)}_{word}_{index:04d}"
        refs = [a.name] + ([b.name] if b is not None and pattern == "join" else [])
        if layer == "intermediate" and pattern != "incremental" and rng.random() < 0.05:
            config = [("materialized", "'ephemeral'")]
        if rng.random() < 0.1:
            config.append(("tags", f"['{folder}', 'nightly']"))
        desc = {
            "aggregate": f"One row per {entity}: {_plural(a.entity)} aggregated.",
            "star": f"{_plural(entity).capitalize()} from {a.name}, filtered.",
        }.get(pattern, f"One row per {entity}, prepared from {a.name}.")
        assert final is not None
        m = Model(
            name,
            layer,
            folder,
            pattern,
            pk,
            entity,
            cols,
            fks,
            refs,
            ctes,
            final,
            out,
            config,
            description=desc,
        )
        self.add(m)
        return m

    def derived_layer(self, layer: str, count: int, layers: tuple[str, ...]) -> None:
        n_domains = max(2, -(-count // 60))
        domains = _names(DOMAINS, n_domains)
        for k in range(count):
            m = self.derived(layer, domains[k % n_domains], len(self.order), layers)
            if layer == "marts" and m.pattern == "join" and self.rng.random() < 0.04:
                m.versioned = True

    # --- properties (tests, constraints) decided once, so an edit can remove one precisely

    def decide_properties(self) -> None:
        rng = self.rng
        position = {name: k for k, name in enumerate(self.order)}
        for name in self.order:
            m = self.models[name]
            for c in m.cols:
                if c.name == m.pk:
                    c.tests = ["unique", "not_null"] if m.layer != "marts" else ["unique"]
                    c.constraints = ["not_null", "primary_key"] if m.layer == "marts" else []
                    continue
                if c.kind in ("fk", "ts") and rng.random() < 0.5:
                    if m.layer == "marts" and rng.random() < 0.5:
                        c.constraints = ["not_null"]
                    else:
                        c.tests.append("not_null")
                if c.kind == "cat" and c.values and rng.random() < 0.4:
                    c.tests.append({"accepted_values": {"arguments": {"values": list(c.values)}}})
                if c.kind == "fk" and rng.random() < 0.15:
                    targets = [
                        t for t in self.by_pk.get(c.name, []) if position[t] < position[name]
                    ]
                    targets = [
                        t
                        for t in targets
                        if self.models[t].layer == m.layer
                        or (m.layer == "intermediate" and self.models[t].layer == "staging")
                    ]
                    if targets:
                        target = rng.choice(targets)
                        c.tests.append(
                            {
                                "relationships": {
                                    "arguments": {"to": f"ref('{target}')", "field": c.name}
                                }
                            }
                        )


# ---------------------------------------------------------------- files


def column_yaml(m: Model, c: Col) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": c.name, "description": f"The {c.name.replace('_', ' ')}."}
    if m.layer != "staging" or c.kind in ("id", "fk"):
        entry["data_type"] = c.dtype
    if c.constraints:
        entry["constraints"] = [{"type": t} for t in c.constraints]
    if c.tests:
        entry["data_tests"] = list(c.tests)
    return entry


def model_yaml(m: Model) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": m.name, "description": m.description}
    config: dict[str, Any] = {}
    if m.layer == "marts":
        config["contract"] = {"enforced": True}
    if m.access:
        config["access"] = m.access
    if config:
        entry["config"] = config
    entry["columns"] = [column_yaml(m, c) for c in m.cols]
    if m.versioned:
        extra = m.cols[-1].name
        entry["latest_version"] = 2
        entry["versions"] = [
            {
                "v": 1,
                "deprecation_date": "2027-06-30",
                "columns": [{"include": "all", "exclude": [extra]}],
            },
            {"v": 2},
        ]
    return entry


def version_one(m: Model) -> Model:
    """v1 of a versioned model: the same query without its last column."""
    v1 = copy.deepcopy(m)
    v1.cols = v1.cols[:-1]
    sel = v1.out_sel()
    sel.items = sel.items[:-1]
    return v1


def project_files(g: Generator) -> dict[str, str]:
    files: dict[str, str] = {}
    folders: dict[tuple[str, str], list[Model]] = {}
    for name in g.order:
        m = g.models[name]
        folders.setdefault((m.layer, m.folder), []).append(m)
        if m.versioned:
            files[f"models/{m.layer}/{m.folder}/{m.name}_v1.sql"] = render_sql(version_one(m))
            files[f"models/{m.layer}/{m.folder}/{m.name}_v2.sql"] = render_sql(m)
        else:
            files[m.path] = render_sql(m)
    for (layer, folder), models in folders.items():
        files[yaml_path(layer, folder)] = yaml_text(
            {"version": 2, "models": [model_yaml(m) for m in models]}
        )
    for source, tables in g.sources.items():
        files[f"models/staging/{source}/_{source}__sources.yml"] = yaml_text(
            {
                "version": 2,
                "sources": [
                    {
                        "name": source,
                        "schema": f"raw_{source}",
                        "description": f"Raw tables replicated from {source}.",
                        "tables": [
                            {"name": t, "columns": [{"name": c, "data_type": d} for c, d in cols]}
                            for t, cols in tables
                        ],
                    }
                ],
            }
        )
    marts_domains = sorted({m.folder for m in g.models.values() if m.layer == "marts"})
    files["models/_groups.yml"] = yaml_text(
        {
            "version": 2,
            "groups": [
                {
                    "name": "data_platform",
                    "owner": {"name": "Data Platform", "email": "data-platform@example.com"},
                }
            ]
            + [
                {
                    "name": f"{d}_analytics",
                    "owner": {"name": f"{d} analytics", "email": f"{d}@example.com"},
                }
                for d in marts_domains
            ],
        }
    )
    files["dbt_project.yml"] = project_yaml(marts_domains)
    files["semverlint.yml"] = (
        "# The warehouse is DuckDB: read the SQL in its dialect.\ndialect: duckdb\n"
    )
    files["README.md"] = readme(g)
    files[".gitignore"] = "target/\ndbt_packages/\nlogs/\n"
    files.update(MACROS)
    return files


def yaml_path(layer: str, folder: str) -> str:
    prefix = {
        "staging": f"_{folder}__models",
        "intermediate": f"_int_{folder}__models",
        "marts": f"_{folder}__models",
    }[layer]
    return f"models/{layer}/{folder}/{prefix}.yml"


def project_yaml(marts_domains: list[str]) -> str:
    marts: dict[str, Any] = {
        "+access": "public",
        "+materialized": "table",
        "+contract": {"enforced": True},
    }
    for d in marts_domains:
        marts[d] = {"+group": f"{d}_analytics", "+schema": f"marts_{d}"}
    tree = {
        "name": PROJECT,
        "version": "1.0.0",
        "config-version": 2,
        "profile": PROJECT,
        "model-paths": ["models"],
        "macro-paths": ["macros"],
        "clean-targets": ["target", "dbt_packages"],
        "models": {
            PROJECT: {
                "+materialized": "view",
                # Private models need a group: staging and intermediate share the platform team's.
                "staging": {"+access": "private", "+group": "data_platform", "+schema": "staging"},
                "intermediate": {
                    "+access": "protected",
                    "+group": "data_platform",
                    "+schema": "intermediate",
                },
                "marts": marts,
            }
        },
    }
    return yaml_text(
        tree, "# Generated by semverlint's benchmarks/generate.py: a synthetic analytics project.\n"
    )


def readme(g: Generator, extra: str = "") -> str:
    counts = {
        layer: sum(1 for m in g.models.values() if m.layer == layer)
        for layer in ("staging", "intermediate", "marts")
    }
    return (
        f"# {PROJECT}\n\nA synthetic dbt project ({len(g.models)} models: "
        f"{counts['staging']} staging, "
        f"{counts['intermediate']} intermediate, {counts['marts']} marts) for benchmarks.\n{extra}"
    )


# ---------------------------------------------------------------- change scenarios


def _editable(g: Generator, m: Model) -> bool:
    return (
        not m.versioned
        and m.pattern != "star"
        and not any(k == "materialized" and "ephemeral" in v for k, v in m.config)
    )


def _removable(g: Generator, m: Model) -> list[Col]:
    return [
        c
        for c in m.cols
        if c.kind not in ("id",)
        and c.name not in ("updated_at", "created_at")
        and (m.name, c.name) not in g.used
        and c.origin is None
    ]


def _drop_column(m: Model, column: str) -> None:
    m.cols = [c for c in m.cols if c.name != column]
    sel = m.out_sel()
    sel.items = [i for i in sel.items if i.alias != column]


def _change_filter(m: Model) -> tuple[str, str]:
    sel = m.out_sel() if m.out_sel().where else m.final
    before = sel.where or ""
    if "_is_deleted" in before:
        after = before + " and _loaded_at is not null"
    elif " != '" in before:
        col, value = before.split(" != ")
        after = f"{col} not in ({value}, 'void')"
    elif before.endswith(" >= 0"):
        after = before[: -len(" >= 0")] + " > 0"
    elif "recent_rows" in before:
        after = before.replace("') }}", "', since='2022-01-01') }}")
    else:
        after = f"coalesce({before}, true)"
    sel.where = after
    return before, after


def _rename_cte(m: Model) -> tuple[str, str]:
    before = m.out
    assert before is not None
    after = {
        "renamed": "cleaned",
        "joined": "enriched",
        "aggregated": "rolled_up",
        "final": "shaped",
    }[before]
    m.ctes = [(after if n == before else n, s) for n, s in m.ctes]
    m.out = after
    m.final.frm = after
    return before, after


PLAN: list[tuple[str, str, int]] = [
    # kind, layer, count
    ("column_removed", "marts", 3),
    ("column_removed", "intermediate", 3),
    ("column_removed", "staging", 2),
    ("type_changed", "marts", 6),
    ("not_null_removed", "marts", 3),
    ("not_null_removed", "intermediate", 3),
    ("access_narrowed", "marts", 3),
    ("column_added", "marts", 2),
    ("column_added", "intermediate", 2),
    ("column_added", "staging", 2),
    ("type_widened", "marts", 5),
    ("filter_changed", "intermediate", 3),
    ("filter_changed", "marts", 2),
    ("filter_changed", "staging", 1),
    ("reformat", "staging", 2),
    ("reformat", "intermediate", 2),
    ("reformat", "marts", 2),
    ("cte_renamed", "staging", 2),
    ("cte_renamed", "intermediate", 1),
    ("cte_renamed", "marts", 1),
]
assert sum(n for _, _, n in PLAN) == CHANGE_COUNT

EXPECTED = {  # kind -> (rule semverlint should report, catalogue bump)
    "column_removed": ("column-removed", "major"),
    "type_changed": ("column-type-changed", "major"),
    "not_null_removed": ("not-null-removed", "major"),
    "access_narrowed": ("access-narrowed", "major"),
    "column_added": ("column-added", "minor"),
    "type_widened": ("column-type-widened", "minor"),
    "filter_changed": ("model-logic-changed", "patch"),
    "reformat": ("sql-reformatted", "none"),
    "cte_renamed": ("sql-reformatted", "none"),
}


def plan_changes(
    g: Generator, count: int = CHANGE_COUNT
) -> tuple[dict[str, Model], list[dict[str, Any]]]:
    """Apply the recorded mix to copies of the chosen models; small projects scale the plan down."""
    rng = random.Random(f"changes-{g.size}")
    scale = min(1.0, count / CHANGE_COUNT)
    edited: dict[str, Model] = {}
    records: list[dict[str, Any]] = []
    for kind, layer, n in PLAN:
        n = max(1, round(n * scale))
        pool = [
            name
            for name in g.order
            if g.models[name].layer == layer and name not in edited and _editable(g, g.models[name])
        ]
        rng.shuffle(pool)
        done = 0
        for name in pool:
            if done == n:
                break
            m = copy.deepcopy(g.models[name])
            detail = apply_edit(g, m, kind, rng)
            if detail is None:
                continue
            edited[name] = m
            rule, rule_bump = EXPECTED[kind]
            before_access = {"staging": "private", "intermediate": "protected", "marts": "public"}[
                layer
            ]
            capped = before_access == "private" and rule_bump in ("major", "minor")
            records.append(
                {
                    "model": name,
                    "layer": layer,
                    "access": before_access,
                    "contract": layer == "marts",
                    "kind": kind,
                    **detail,
                    "paths": sorted({m.path, yaml_path(m.layer, m.folder)})
                    if kind not in ("reformat", "cte_renamed", "filter_changed")
                    else [m.path],
                    "expected_rule": rule,
                    "rule_bump": rule_bump,
                    # A private model cannot break another team: semverlint caps it at patch.
                    "expected_bump": "patch" if capped else rule_bump,
                    # Breaking for a consumer: recall of `diff base..change50` counts these.
                    "breaking": rule_bump == "major" and not capped,
                }
            )
            done += 1
    records.sort(key=lambda r: r["model"])
    return edited, records


def apply_edit(g: Generator, m: Model, kind: str, rng: random.Random) -> dict[str, Any] | None:
    if kind == "column_removed":
        cands = _removable(g, m)
        if not cands:
            return None
        c = rng.choice(cands)
        _drop_column(m, c.name)
        return {"column": c.name, "before": c.dtype, "after": None}
    if kind in ("type_changed", "type_widened"):
        table = TYPE_CHANGED if kind == "type_changed" else TYPE_WIDENED
        cands = [
            c
            for c in m.cols
            if c.dtype in table and c.name != m.pk and (m.name, c.name) not in g.used
        ]
        if not cands:
            return None
        c = rng.choice(cands)
        before, c.dtype = c.dtype, table[c.dtype]
        item = next(i for i in m.out_sel().items if i.alias == c.name)
        item.cast = c.dtype
        return {"column": c.name, "before": before, "after": c.dtype}
    if kind == "not_null_removed":
        cands = [
            c
            for c in m.cols
            if c.name != m.pk and ("not_null" in c.tests or "not_null" in c.constraints)
        ]
        if not cands:
            return None
        c = rng.choice(cands)
        how = "constraint" if "not_null" in c.constraints else "test"
        c.tests = [t for t in c.tests if t != "not_null"]
        c.constraints = [t for t in c.constraints if t != "not_null"]
        return {"column": c.name, "before": f"not_null {how}", "after": None}
    if kind == "access_narrowed":
        m.access = "protected"
        return {"column": None, "before": "public", "after": "protected"}
    if kind == "column_added":
        sel = m.out_sel()
        if sel.group_by:
            return None
        q = sel.frm if m.layer != "staging" else ""
        if m.layer == "staging":
            name, expr, dtype = "loaded_at", "cast(_loaded_at as timestamp)", "timestamp"
        else:
            name, expr, dtype = "last_updated_on", f"cast({q}.updated_at as date)", "date"
        if any(c.name == name for c in m.cols):
            return None
        m.cols.append(Col(name, dtype, "date"))
        sel.items.append(Item(expr, name, dtype if m.layer == "marts" else None))
        return {"column": name, "before": None, "after": dtype}
    if kind == "filter_changed":
        before, after = _change_filter(m)
        return {"column": None, "before": before, "after": after}
    if kind == "reformat":
        m.style = "shout"
        return {
            "column": None,
            "before": "lower case, 4-space indent",
            "after": "upper case, 2-space indent",
        }
    if kind == "cte_renamed":
        if m.out is None:
            return None
        before, after = _rename_cte(m)
        return {"column": None, "before": before, "after": after}
    raise ValueError(kind)


def edited_files(g: Generator, edited: dict[str, Model]) -> dict[str, str]:
    """The files of the base project that the edited models rewrite."""
    files: dict[str, str] = {}
    touched_yaml: set[tuple[str, str]] = set()
    for m in edited.values():
        files[m.path] = render_sql(m)
        touched_yaml.add((m.layer, m.folder))
    for layer, folder in touched_yaml:
        models = [
            edited.get(n, g.models[n])
            for n in g.order
            if g.models[n].layer == layer and g.models[n].folder == folder
        ]
        files[yaml_path(layer, folder)] = yaml_text(
            {"version": 2, "models": [model_yaml(m) for m in models]}
        )
    return files


def one_change(g: Generator) -> tuple[dict[str, str], dict[str, Any]]:
    """One model's SQL: a filter edit in a mid-lineage intermediate model with consumers."""
    consumers = {r for m in g.models.values() for r in m.refs}
    cands = [
        n
        for n in g.order
        if g.models[n].layer == "intermediate" and n in consumers and _editable(g, g.models[n])
    ]
    name = cands[len(cands) // 2]
    m = copy.deepcopy(g.models[name])
    before, after = _change_filter(m)
    return {m.path: render_sql(m)}, {
        "model": name,
        "path": m.path,
        "kind": "filter_changed",
        "before": before,
        "after": after,
    }


def reformat_files(g: Generator) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in g.order:
        m = g.models[name]
        if m.versioned:
            files[f"models/{m.layer}/{m.folder}/{m.name}_v1.sql"] = render_sql(
                version_one(m), "shout"
            )
            files[f"models/{m.layer}/{m.folder}/{m.name}_v2.sql"] = render_sql(m, "shout")
        else:
            files[m.path] = render_sql(m, "shout")
    return files


# ---------------------------------------------------------------- git


def _git(repo: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, env=env, **kw
    )


def fast_import(
    repo: Path, base: dict[str, str], scenarios: list[tuple[str, str, dict[str, str]]]
) -> None:
    """One stream: the base commit, then each scenario as its child (a branch and a tag each)."""
    blobs: dict[bytes, int] = {}
    chunks: list[bytes] = []

    def blob(text: str) -> int:
        data = text.encode()
        if data not in blobs:
            blobs[data] = len(blobs) + 1
            chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (blobs[data], len(data), data))
        return blobs[data]

    def commit(
        ref: str, mark: int, message: str, files: dict[str, str], parent: int | None, when: int
    ) -> None:
        marks = [(path, blob(text)) for path, text in sorted(files.items())]
        who = b"semverlint bench <bench@example.com> %d +0000" % when
        msg = message.encode()
        out = [
            b"commit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n"
            % (ref.encode(), mark, who, who, len(msg), msg)
        ]
        if parent is not None:
            out.append(b"from :%d\n" % parent)
        out += [b"M 100644 :%d %s\n" % (m, p.encode()) for p, m in marks]
        chunks.append(b"".join(out) + b"\n")

    start = 1_700_000_000
    base_mark = 1_000_000
    commit("refs/heads/main", base_mark, "Base project", base, None, start)
    chunks.append(b"reset refs/tags/base\nfrom :%d\n\n" % base_mark)
    for k, (name, message, files) in enumerate(scenarios, 1):
        # Branches live under scenario/ so that the tags alone answer to the plain names.
        ref = "refs/heads/main" if name == "change50" else f"refs/heads/scenario/{name}"
        commit(ref, base_mark + k, message, files, base_mark, start + 60 * k)
        chunks.append(b"reset refs/tags/%s\nfrom :%d\n\n" % (name.encode(), base_mark + k))
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"],
        input=b"".join(chunks),
        check=True,
        env=env,
    )


def staged_clone(repo: Path, dest: Path, tag: str, paths: list[str]) -> None:
    """A clone at `base` whose index (and working tree) holds the change of `tag` to `paths`."""
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(
        ["git", "clone", "--quiet", "--shared", "--no-checkout", str(repo), str(dest)], check=True
    )
    _git(dest, "checkout", "--quiet", "-B", "bench", "base")
    _git(dest, "checkout", tag, "--", *paths)


# ---------------------------------------------------------------- main


def generate(
    size: int, seed: int, out: Path, *, staged: bool = True, quiet: bool = False
) -> dict[str, Any]:
    t0 = time.perf_counter()
    g = Generator(size, seed)
    n_stg = round(size * 0.4)
    n_int = round(size * 0.3)
    n_mart = size - n_stg - n_int
    g.staging(n_stg)
    g.derived_layer("intermediate", n_int, ("staging", "intermediate"))
    g.derived_layer("marts", n_mart, ("intermediate", "marts"))
    g.decide_properties()
    base = project_files(g)
    edited, records = plan_changes(g, CHANGE_COUNT if size >= 100 else size // 2)
    change50 = edited_files(g, edited)
    one_files, one = one_change(g)
    readme_files = {
        "README.md": readme(g, "\nSee docs/ for the data dictionary and the on-call rota.\n")
    }
    reformat = reformat_files(g)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    repo = out / "repo"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], check=True)
    _git(repo, "config", "user.name", "semverlint bench")
    _git(repo, "config", "user.email", "bench@example.com")
    fast_import(
        repo,
        base,
        [
            ("change50", f"Change {len(records)} models (recorded in changes.json)", change50),
            ("one", f"Change the filter of {one['model']}", one_files),
            ("readme", "Update README", readme_files),
            ("reformat", "Reformat every model: upper-case keywords, 2-space indent", reformat),
        ],
    )
    _git(repo, "checkout", "--quiet", "-f", "main")
    if staged:
        staged_clone(repo, out / "staged-one", "one", [one["path"]])
        staged_clone(repo, out / "staged-readme", "readme", ["README.md"])
    files_bytes = sum(len(t.encode()) for t in base.values())
    yaml_bytes = sum(len(t.encode()) for p, t in base.items() if p.endswith(".yml"))
    manifest = {
        "size": size,
        "seed": seed,
        "project": PROJECT,
        "models": {
            layer: sum(1 for m in g.models.values() if m.layer == layer)
            for layer in ("staging", "intermediate", "marts")
        },
        "model_files": sum(1 for p in base if p.startswith("models/") and p.endswith(".sql")),
        "versioned_models": sorted(m.name for m in g.models.values() if m.versioned),
        "base_files": len(base),
        "base_bytes": files_bytes,
        "yaml_bytes": yaml_bytes,
        "repo": "repo",
        "staged": {"one": "staged-one", "readme": "staged-readme"} if staged else {},
        "scenarios": {
            "change50": {"files": len(change50), "models": len(records)},
            "one": one,
            "readme": {"files": ["README.md"]},
            "reformat": {"files": len(reformat)},
        },
        "changes": records,
    }
    (out / "changes.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if not quiet:
        print(
            f"generated {size} models in {out} "
            f"({files_bytes / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
    return manifest


def default_out(size: int) -> Path:
    return Path(tempfile.gettempdir()) / "semverlint-bench" / str(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="number of models (default 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--out", type=Path, help="output folder (default: $TMPDIR/semverlint-bench/SIZE)"
    )
    parser.add_argument(
        "--no-staged", action="store_true", help="skip the clones with a staged change"
    )
    args = parser.parse_args(argv)
    generate(args.size, args.seed, args.out or default_out(args.size), staged=not args.no_staged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
