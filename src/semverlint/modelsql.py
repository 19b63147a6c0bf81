"""The SQL stage: render each model, analyse it in lineage order, and reconcile it with its YAML."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from semverlint.facts import QueryFacts, Rel, Rendered, query_from, query_from_json, query_to_json
from semverlint.interface import Column, Diagnostic, Model, fold, model_key

THIS = "__this__"  # how render.py writes `{{ this }}`


@dataclass(frozen=True)
class Analysed:
    """A model's SQL as the analyser saw it: the full-refresh query, and the incremental one."""

    full: QueryFacts
    incremental: QueryFacts | None = None


def lineage_order(names: Sequence[str], refs: Mapping[str, Iterable[str]]) -> list[str]:
    """Models with their upstream models first, a level at a time: those that read no other
    model, then those that read only them, and so on (a model's analyses with its upstream
    models' columns can then go to the workers a level at once). A cycle falls back to name
    order."""
    order: list[str] = []
    level: dict[str, int] = {}
    visiting: set[str] = set()
    known = set(names)

    def visit(name: str, depth: int) -> None:
        if name in level or name in visiting or depth > 10_000:
            return
        visiting.add(name)
        parents = [p for p in sorted(refs.get(name, ())) if p in known]
        for parent in parents:
            visit(parent, depth + 1)
        visiting.discard(name)
        # A parent still being visited closes a cycle: it does not order this model.
        level[name] = 1 + max((level[p] for p in parents if p in level), default=-1)
        order.append(name)

    for name in sorted(names):
        visit(name, 0)
    return sorted(order, key=level.__getitem__)  # stable: within a level, as visited


@dataclass(frozen=True)
class LineageResolver:
    """Maps what a model's SQL names (ref/source identifiers) to models of this project."""

    project: str
    models: frozenset[str]  # keys of this project's models
    latest: Mapping[str, str]  # versioned model name -> key of its latest version
    sources: Mapping[tuple[str, str], tuple[str, ...] | None]

    def model_key(self, relation: Rel) -> str | None:
        if relation.kind != "ref" or (
            relation.package and fold(relation.package) != fold(self.project)
        ):
            return None
        if relation.version is not None:
            key = model_key(relation.name, relation.version)
        else:
            key = self.latest.get(fold(relation.name), fold(relation.name))
        return key if key in self.models else None

    def model_refs(self, relations: Iterable[tuple[str, Rel]]) -> set[str]:
        return {key for _, r in relations if (key := self.model_key(r)) is not None}

    def foreign_refs(self, relations: Iterable[tuple[str, Rel]]) -> tuple[tuple[str, str], ...]:
        return tuple(
            sorted(
                {
                    (r.package, model_key(r.name, r.version))
                    for _, r in relations
                    if r.kind == "ref" and r.package and fold(r.package) != fold(self.project)
                }
            )
        )

    def columns(self, relation: Rel, built: Mapping[str, Model]) -> tuple[str, ...] | None:
        """The columns a ref()/source() names, or None when unknown (a star over it stays open)."""
        if relation.kind == "source":
            return self.sources.get((fold(relation.package or ""), fold(relation.name)))
        key = self.model_key(relation)
        model = built.get(key) if key else None
        if model is None or not model.columns_closed:
            return None
        return tuple(c.name for c in model.columns)

    def lineage_map(self, relations: Iterable[tuple[str, Rel]]) -> dict[str, str]:
        """SQL identifier -> what lineage calls it: a model key, `source:s.t` or `project:model`."""
        mapping: dict[str, str] = {}
        for identifier, relation in relations:
            key = self.model_key(relation)
            if key is not None:
                mapping[fold(identifier)] = key
            elif relation.kind == "source":
                mapping[fold(identifier)] = (
                    f"source:{fold(relation.package or '')}.{fold(relation.name)}"
                )
            else:
                mapping[fold(identifier)] = (
                    f"{fold(relation.package or '')}:{model_key(relation.name, relation.version)}"
                )
        return mapping


def analyse_rendered(
    rendered: Rendered,
    dialect: str | None,
    upstream: Mapping[str, Sequence[str] | None],
) -> Analysed | str:
    """Analyse every branch; the reason as text when the full-refresh branch cannot be read."""
    from semverlint.sql import SqlFailure, analyse_query

    if not rendered.sql:
        return "the Jinja template could not be rendered"
    full = analyse_query(rendered.sql[0], dialect, upstream)
    if isinstance(full, SqlFailure):
        return full.reason
    incremental = None
    if len(rendered.sql) > 1:
        branch = analyse_query(rendered.sql[1], dialect, upstream)
        incremental = None if isinstance(branch, SqlFailure) else query_from(branch)
    return Analysed(query_from(full), incremental)


def analysed_to_json(value: Analysed | str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"failure": value}
    return {
        "full": query_to_json(value.full),
        "incremental": query_to_json(value.incremental) if value.incremental else None,
    }


def analysed_from_json(data: dict[str, Any]) -> Analysed | str:
    if "failure" in data:
        return str(data["failure"])
    incremental = data.get("incremental")
    return Analysed(
        query_from_json(data["full"]), query_from_json(incremental) if incremental else None
    )


def _translate(
    lineage: tuple[tuple[str, str], ...], names: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({(names.get(fold(rel), fold(rel)), fold(col)) for rel, col in lineage}))


def _passed_through(expression: str, lineage: tuple[tuple[str, str], ...]) -> bool:
    """A bare column reference: the column carries its upstream type unchanged."""
    if len(lineage) != 1:
        return False
    last = expression.replace('"', "").replace("`", "").split(".")[-1]
    return last.lower() == lineage[0][1]


def _inherited_type(lineage: tuple[tuple[str, str], ...], built: Mapping[str, Model]) -> str | None:
    rel, col = lineage[0]
    upstream = built.get(rel)
    found = upstream.column(col) if upstream is not None else None
    return found.data_type if found is not None else None


def reconcile(
    model: Model,
    analysed: Analysed,
    names: Mapping[str, str] | None = None,
    built: Mapping[str, Model] | None = None,
) -> tuple[Model, tuple[Diagnostic, ...]]:
    """The model with its SQL facts: the SQL says which columns exist, the YAML what they promise.

    `names` maps SQL identifiers to model keys so lineage speaks of models; `built` holds the
    upstream models already analysed, whose types flow through columns passed on unchanged.
    """
    names = names or {}
    built = built or {}
    full = analysed.full
    declared = {c.key: c for c in model.columns}
    columns: list[Column] = []
    seen: set[str] = set()
    for sql_column in full.columns:
        key = sql_column.name if sql_column.quoted else fold(sql_column.name)
        if key in seen:
            continue
        seen.add(key)
        yaml_column = declared.get(key)
        base = yaml_column or Column(name=sql_column.name, quoted=sql_column.quoted)
        lineage = _translate(sql_column.lineage, names)
        data_type = base.data_type or sql_column.data_type
        if data_type is None and _passed_through(sql_column.expression, lineage):
            data_type = _inherited_type(lineage, built)
        columns.append(base.as_queried(data_type, sql_column.expression, lineage))
    if model.contract_enforced and declared:
        # Under an enforced contract dbt builds the table in the YAML's column order.
        order = {key: index for index, key in enumerate(declared)}
        columns.sort(key=lambda c: order.get(c.key, len(order)))
    diagnostics: list[Diagnostic] = []
    missing = [c for k, c in declared.items() if k not in seen]
    if full.closed:
        for column in missing:
            diagnostics.append(
                Diagnostic(
                    "warning",
                    f"column {column.name!r} is documented "
                    f"but the SQL of {model.name} does not output it",
                    model.yaml_path,
                    column.line,
                    model.name,
                )
            )
    else:
        columns.extend(missing)
    logic = list(full.logic)
    if analysed.incremental is not None:
        # `{{ this }}` renders as a placeholder; a reader knows the relation by its name.
        logic += [
            (f"incremental {name}", text.replace(THIS, model.name))
            for name, text in analysed.incremental.logic
        ]
    canonical = full.canonical
    if analysed.incremental is not None:
        canonical += "\n-- incremental\n" + analysed.incremental.canonical
    grain = full.grain
    if full.distinct and grain is None:
        grain = "distinct"
    if grain and grain.startswith(("distinct", "union distinct")):
        # Under DISTINCT every output column is part of the key: adding one changes the grain.
        grain = f"{grain}: {', '.join(c.key for c in columns)}"
    updated = replace(
        model,
        columns=tuple(columns),
        columns_closed=full.closed or model.columns_closed,
        grain=grain,
        logic=tuple(sorted(logic)),
        query_digest=hashlib.sha1(canonical.encode("utf-8"), usedforsecurity=False).hexdigest(),
        analysed=True,
    )
    return updated, tuple(diagnostics)


def sql_diagnostics(
    model: Model, messages: Iterable[str], level: str = "warning"
) -> tuple[Diagnostic, ...]:
    return tuple(
        Diagnostic(level, f"{model.name}: {m}", model.sql_path, None, model.name)  # type: ignore[arg-type]
        for m in messages
    )
