"""The interface of a project: the values consumers can depend on, as frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Access = Literal["public", "protected", "private"]
ProjectKind = Literal["dbt", "sql", "jsonschema"]
Level = Literal["warning", "error"]

ACCESS_ORDER: dict[str, int] = {"private": 0, "protected": 1, "public": 2}


def fold(name: str) -> str:
    """The key a warehouse matches an unquoted identifier by: names differing in case are one."""
    return name.lower()


def model_key(name: str, version: str | None = None) -> str:
    return fold(name) if version is None else f"{fold(name)}.v{version}"


@dataclass(frozen=True)
class Diagnostic:
    """A problem found reading the repository, reported and never fatal."""

    level: Level
    message: str
    path: str | None = None
    line: int | None = None
    model: str | None = None


@dataclass(frozen=True)
class Suppression:
    """An inline `semverlint: allow RULE -- reason` comment, scoped to a model or one column."""

    rule: str
    reason: str
    path: str
    line: int
    column: str | None = None


@dataclass(frozen=True)
class Column:
    """A column of a model, with its type and the guarantees declared on it."""

    name: str
    data_type: str | None = None
    not_null: bool = False
    unique: bool = False
    primary_key: bool = False
    accepted_values: tuple[str, ...] | None = None
    relationships: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    # Constraint types declared for the column (not_null, unique, ...): what a warehouse enforces.
    constraints: tuple[str, ...] = ()
    description: str | None = None
    # Canonical SQL of the expression that produces the column, where the SQL was analysed.
    expression: str | None = None
    # Upstream (relation, column) pairs the expression reads, for lineage.
    lineage: tuple[tuple[str, str], ...] = ()
    quoted: bool = False
    # Named in the model's YAML: its presence is asserted, not inferred from the SQL.
    declared: bool = False
    line: int | None = None

    @property
    def key(self) -> str:
        return self.name if self.quoted else fold(self.name)

    def as_queried(
        self, data_type: str | None, expression: str, lineage: tuple[tuple[str, str], ...]
    ) -> Column:
        """This column with what the SQL says of it: `replace` for the hundred thousand
        columns of a large change, at a third of its cost (every field, in order)."""
        return Column(
            self.name,
            data_type,
            self.not_null,
            self.unique,
            self.primary_key,
            self.accepted_values,
            self.relationships,
            self.checks,
            self.constraints,
            self.description,
            expression,
            lineage,
            self.quoted,
            self.declared,
            self.line,
        )


@dataclass(frozen=True)
class ModelVersion:
    """One version of a versioned model."""

    v: str
    columns: tuple[Column, ...] = ()
    deprecation_date: str | None = None
    defined_in: str | None = None


@dataclass(frozen=True)
class Model:
    """A relation consumers can read: a model, seed, snapshot or table."""

    name: str
    resource: str = "model"  # model | seed | snapshot | table | view
    yaml_path: str | None = None
    line: int | None = None
    sql_path: str | None = None
    access: Access = "protected"
    materialized: str = "view"
    enabled: bool = True
    contract_enforced: bool = False
    group: str | None = None
    database: str | None = None
    schema: str | None = None
    alias: str | None = None
    description: str | None = None
    columns: tuple[Column, ...] = ()
    # False when the full column set is unknown (no SQL analysed and no enforced contract).
    columns_closed: bool = False
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()
    # The incremental merge key (config unique_key): the grain new rows are merged on.
    unique_key: tuple[str, ...] = ()
    # Canonical description of the grain from the SQL (GROUP BY keys, DISTINCT, set operation).
    grain: str | None = None
    # Named canonical fragments of the query logic: ("where", sql), ("join", sql), ...
    logic: tuple[tuple[str, str], ...] = ()
    # A digest of the canonical query (layout, comments and names of CTEs and aliases
    # normalised away): two equal digests are the same query. Only ever compared, so the
    # text itself, often the largest part of a model, is not kept.
    query_digest: str | None = None
    sql_digest: str | None = None
    analysed: bool = False
    # The rendered SQL holds placeholders for macros or names the sandbox could not resolve.
    opaque: bool = False
    versions: tuple[ModelVersion, ...] = ()
    latest_version: str | None = None
    deprecation_date: str | None = None
    # The dbt model version this entity is (each version is its own relation), else None.
    version: str | None = None
    # Keys of the models of this project it reads, and (project, model) of other projects'.
    refs: tuple[str, ...] = ()
    foreign_refs: tuple[tuple[str, str], ...] = ()
    suppressions: tuple[Suppression, ...] = ()

    @property
    def key(self) -> str:
        return model_key(self.name, self.version)

    @property
    def label(self) -> str:
        """How reports name it: `orders`, or `orders.v2` for one version of a versioned model."""
        return self.name if self.version is None else f"{self.name}.v{self.version}"

    @property
    def is_latest(self) -> bool:
        return self.version is None or self.version == self.latest_version

    @property
    def path(self) -> str | None:
        """The file a change to this model is anchored on: its YAML, else its SQL."""
        return self.yaml_path or self.sql_path

    @property
    def queryable(self) -> bool:
        """Ephemeral models are inlined as CTEs: nothing outside dbt can select from them."""
        return self.materialized != "ephemeral"

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


@dataclass(frozen=True)
class Project:
    """A project's identity and declared version."""

    name: str
    path: str  # POSIX, relative to the repository root; "." for the root
    kind: ProjectKind
    version: str | None = None
    dialect: str | None = None
    version_file: str | None = None
    version_line: int | None = None


@dataclass(frozen=True)
class Interface:
    """What a project offers its consumers in one state."""

    project: Project
    models: tuple[Model, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # Consumers declared in the project (dashboards, apps): impact, never interface.
    exposures: tuple[Model, ...] = ()

    def model(self, key: str) -> Model | None:
        return next((m for m in self.models if m.key == key), None)
