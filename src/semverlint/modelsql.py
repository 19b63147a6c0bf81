"""The SQL stage: render each model, analyse it in lineage order, and reconcile it with its YAML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from semverlint.interface import Column, Diagnostic, Model, fold

if TYPE_CHECKING:
    from semverlint.render import Relation, RenderedModel
    from semverlint.sql import SqlAnalysis


@dataclass(frozen=True)
class Analysed:
    """A model's SQL as the analyser saw it: the full-refresh query, and the incremental one."""

    full: SqlAnalysis
    incremental: SqlAnalysis | None = None


def upstream_key(identifier: str) -> str:
    return fold(identifier)


def lineage_order(names: Sequence[str], refs: Mapping[str, Iterable[str]]) -> list[str]:
    """Models with their upstream models first; a cycle falls back to name order."""
    order: list[str] = []
    state: dict[str, int] = {}
    known = set(names)

    def visit(name: str, depth: int) -> None:
        if state.get(name) or depth > 10_000:
            return
        state[name] = 1
        for parent in sorted(refs.get(name, ())):
            if parent in known:
                visit(parent, depth + 1)
        state[name] = 2
        order.append(name)

    for name in sorted(names):
        visit(name, 0)
    return order


def relation_columns(
    relation: Relation,
    models: Mapping[str, Model],
    sources: Mapping[tuple[str, str], tuple[str, ...] | None],
) -> tuple[str, ...] | None:
    """The columns a ref()/source() names, or None when they are not known (star stays open)."""
    if relation.kind == "ref":
        model = models.get(fold(relation.name))
        if model is None or not model.columns_closed:
            return None
        return tuple(c.name for c in model.columns)
    return sources.get((fold(relation.package or ""), fold(relation.name)))


def analyse_rendered(
    rendered: RenderedModel,
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
        incremental = None if isinstance(branch, SqlFailure) else branch
    return Analysed(full, incremental)


def reconcile(model: Model, analysed: Analysed) -> tuple[Model, tuple[Diagnostic, ...]]:
    """The model with its SQL facts: the SQL says which columns exist, the YAML what they promise."""
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
        columns.append(
            replace(
                base,
                data_type=base.data_type or sql_column.data_type,
                expression=sql_column.expression,
                lineage=sql_column.lineage,
            )
        )
    diagnostics: list[Diagnostic] = []
    missing = [c for k, c in declared.items() if k not in seen]
    if full.closed:
        for column in missing:
            diagnostics.append(
                Diagnostic(
                    "warning",
                    f"column {column.name!r} is documented but the SQL of {model.name} does not output it",
                    model.yaml_path,
                    column.line,
                    model.name,
                )
            )
    else:
        columns.extend(missing)
    logic = list(full.logic)
    if analysed.incremental is not None:
        logic += [(f"incremental {name}", text) for name, text in analysed.incremental.logic]
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
        canonical_sql=canonical,
        analysed=True,
    )
    return updated, tuple(diagnostics)


def sql_diagnostics(model: Model, messages: Iterable[str], level: str = "warning") -> tuple[Diagnostic, ...]:
    return tuple(
        Diagnostic(level, f"{model.name}: {m}", model.sql_path, None, model.name)  # type: ignore[arg-type]
        for m in messages
    )


def config_overrides(rendered: RenderedModel) -> dict[str, Any]:
    return dict(rendered.config)
