"""What rendering and SQL analysis found, as plain data that round-trips through JSON.

The rest of the pipeline reads these, never jinja2's or sqlglot's own values, so a
cached run needs neither library imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rel:
    """What a ref()/source() call named (see render.Relation)."""

    kind: str  # ref | source
    name: str
    package: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A rendered model as plain data: its queries, config and the relations it reads."""

    sql: tuple[str, ...]
    config: tuple[tuple[str, Any], ...]
    relations: tuple[tuple[str, Rel], ...]
    diagnostics: tuple[str, ...]


@dataclass(frozen=True)
class ColumnFacts:
    """One output column of an analysed query."""

    name: str
    data_type: str | None
    expression: str
    lineage: tuple[tuple[str, str], ...]
    quoted: bool = False


@dataclass(frozen=True)
class QueryFacts:
    """What the analysis of one query found."""

    columns: tuple[ColumnFacts, ...]
    closed: bool
    logic: tuple[tuple[str, str], ...]
    grain: str | None
    distinct: bool
    canonical: str
    relations: tuple[str, ...]
    diagnostics: tuple[str, ...]


def rendered_from(value: Any) -> Rendered:
    """From a render.RenderedModel."""
    return Rendered(
        sql=tuple(value.sql),
        config=tuple(value.config),
        relations=tuple(
            (identifier, Rel(r.kind, r.name, r.package, r.version))
            for identifier, r in value.relations
        ),
        diagnostics=tuple(value.diagnostics),
    )


def query_from(value: Any) -> QueryFacts:
    """From a sql.SqlAnalysis."""
    return QueryFacts(
        columns=tuple(
            ColumnFacts(c.name, c.data_type, c.expression, tuple(c.lineage), c.quoted)
            for c in value.columns
        ),
        closed=value.closed,
        logic=tuple(value.logic),
        grain=value.grain,
        distinct=value.distinct,
        canonical=value.canonical,
        relations=tuple(value.relations),
        diagnostics=tuple(value.diagnostics),
    )


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in items)


def _frozen(value: Any) -> Any:
    """JSON gives lists where the values had tuples; config values stay JSON-like."""
    return value


def rendered_to_json(value: Rendered) -> dict[str, Any]:
    return {
        "sql": list(value.sql),
        "config": [[k, v] for k, v in value.config],
        "relations": [[i, [r.kind, r.name, r.package, r.version]] for i, r in value.relations],
        "diagnostics": list(value.diagnostics),
    }


def rendered_from_json(data: dict[str, Any]) -> Rendered:
    return Rendered(
        sql=tuple(data["sql"]),
        config=tuple((str(k), _frozen(v)) for k, v in data["config"]),
        relations=tuple((str(i), Rel(*r)) for i, r in data["relations"]),
        diagnostics=tuple(data["diagnostics"]),
    )


def query_to_json(value: QueryFacts) -> dict[str, Any]:
    return {
        "columns": [
            [c.name, c.data_type, c.expression, [list(p) for p in c.lineage], c.quoted]
            for c in value.columns
        ],
        "closed": value.closed,
        "logic": [list(p) for p in value.logic],
        "grain": value.grain,
        "distinct": value.distinct,
        "canonical": value.canonical,
        "relations": list(value.relations),
        "diagnostics": list(value.diagnostics),
    }


def query_from_json(data: dict[str, Any]) -> QueryFacts:
    return QueryFacts(
        columns=tuple(
            ColumnFacts(str(n), t, str(e), _pairs(lineage), bool(q))
            for n, t, e, lineage, q in data["columns"]
        ),
        closed=bool(data["closed"]),
        logic=_pairs(data["logic"]),
        grain=data["grain"],
        distinct=bool(data["distinct"]),
        canonical=str(data["canonical"]),
        relations=tuple(data["relations"]),
        diagnostics=tuple(data["diagnostics"]),
    )
