"""Pairs the models and columns of two interfaces and lists every difference, without policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from semverlint.cache import Cache, make_key, read
from semverlint.interface import ACCESS_ORDER, Column, Interface, Model

# Every delta kind the differ can emit; each is claimed by the catalogue rule of the same id.
DELTA_KINDS = frozenset(
    {
        "model-added",
        "model-removed",
        "model-renamed",
        "model-disabled",
        "model-made-ephemeral",
        "model-relocated",
        "materialization-changed",
        "constraints-unenforced",
        "contract-enforced",
        "contract-unenforced",
        "access-narrowed",
        "access-widened",
        "deprecation-announced",
        "deprecation-brought-forward",
        "model-version-added",
        "model-version-removed",
        "latest-version-moved",
        "latest-version-moved-compatibly",
        "model-version-retired",
        "upstream-column-removed",
        "grain-changed",
        "primary-key-added",
        "primary-key-removed",
        "model-logic-changed",
        "sql-reformatted",
        "sql-changed-unparsed",
        "description-changed",
        "column-added",
        "column-removed",
        "column-renamed",
        "column-type-changed",
        "column-type-widened",
        "column-logic-changed",
        "column-order-changed",
        "not-null-added",
        "not-null-removed",
        "unique-added",
        "unique-removed",
        "accepted-values-added",
        "accepted-values-removed",
        "accepted-values-widened",
        "accepted-values-narrowed",
        "relationship-added",
        "relationship-removed",
        "check-added",
        "check-removed",
    }
)

TypeJudge = Callable[[str, str], str]


@dataclass(frozen=True)
class Delta:
    """One difference between two interfaces, before it is classified."""

    kind: str
    model: str
    column: str | None = None
    before: Any = None
    after: Any = None
    path: str | None = None
    line: int | None = None
    access: str = "protected"
    queryable: bool = True
    # Lineage chain, origin first, for a change that arrived from upstream models.
    via: tuple[str, ...] = ()
    detail: str | None = None
    resource: str = "model"


def type_judge(dialect: str | None, cache: Cache | None = None) -> TypeJudge:
    """How a column's type changed: 'same', 'widened' or 'changed'. Verdicts found in the
    cache (judged in workers while the models were read) spare this process sqlglot."""

    def judge(before: str, after: str) -> str:
        if _same_text(before, after):
            return "same"
        if cache is not None:
            known = read(cache, type_key(dialect, before, after), _verdict)
            if known is not None:
                return known
        from semverlint.sql import type_change  # sqlglot only when types really differ

        return type_change(before, after, dialect)

    return judge


def type_key(dialect: str | None, before: str, after: str) -> str:
    return make_key("type", dialect, before, after)


def type_pairs(base: Interface, head: Interface) -> set[tuple[str, str]]:
    """The (before, after) types of the columns a model keeps whose type text differs: what
    the differ will ask the judge about, but for renamed columns and versions."""
    after = {m.key: m for m in head.models}
    pairs: set[tuple[str, str]] = set()
    for old in base.models:
        new = after.get(old.key)
        if new is None or old.columns == new.columns:
            continue
        types = {c.key: c.data_type for c in new.columns}
        for column in old.columns:
            new_type = types.get(column.key)
            if column.data_type and new_type and not _same_text(column.data_type, new_type):
                pairs.add((column.data_type, new_type))
    return pairs


def _same_text(before: str, after: str) -> bool:
    return " ".join(before.lower().split()) == " ".join(after.lower().split())


def _verdict(value: Any) -> str:
    if value not in ("same", "widened", "changed"):
        raise ValueError(f"not a type verdict: {value!r}")
    return str(value)


def diff_interfaces(
    base: Interface | None, head: Interface | None, judge: TypeJudge, today: str = "9999-12-31"
) -> tuple[Delta, ...]:
    """All deltas between two states of one project, sorted for deterministic output.

    `today` (ISO date) decides whether a removed model version was past its deprecation date.
    """
    before = {m.key: m for m in (base.models if base else ()) if m.enabled}
    after = {m.key: m for m in (head.models if head else ()) if m.enabled}
    disabled_after = {m.key: m for m in (head.models if head else ()) if not m.enabled}
    deltas: list[Delta] = []
    removed = [before[k] for k in sorted(before.keys() - after.keys())]
    added = [after[k] for k in sorted(after.keys() - before.keys())]
    renames = _renamed_models(removed, added)
    for old, new in renames:
        # Consumers lose the old name: whether that breaks them depends on what they could
        # reach before, as for any change to a model both sides have.
        rename = _delta("model-renamed", new, before=old.name, after=new.name)
        deltas.append(replace(rename, access=old.access, queryable=old.queryable))
    renamed_old = {o.key for o, _ in renames}
    renamed_new = {n.key for _, n in renames}
    for model in removed:
        if model.key in renamed_old:
            continue
        if model.key in disabled_after:
            deltas.append(
                _delta("model-disabled", disabled_after[model.key], before=True, after=False)
            )
        elif model.version is not None:
            retired = model.deprecation_date is not None and model.deprecation_date <= today
            kind = "model-version-retired" if retired else "model-version-removed"
            deltas.append(_delta(kind, model, anchor=model, before=model.version))
        else:
            deltas.append(_delta("model-removed", model, anchor=model, before=model.name))
    for model in added:
        if model.key not in renamed_new:
            kind = "model-version-added" if model.version is not None else "model-added"
            deltas.append(_delta(kind, model, after=model.version or model.name))
    for key in sorted(before.keys() & after.keys()):
        # Whether a change can break anyone depends on what consumers could reach before it.
        old = before[key]
        deltas.extend(
            replace(d, access=old.access, queryable=old.queryable)
            for d in diff_models(old, after[key], judge)
        )
    deltas.extend(_diff_latest(before, after, judge))
    if head is not None:
        deltas.extend(_broken_reads(base, head))
    return tuple(sorted(_with_lineage(deltas, base, head), key=_order))


def _with_lineage(
    deltas: list[Delta], base: Interface | None, head: Interface | None
) -> list[Delta]:
    """Mark column changes that arrived from upstream with the chain of models they came through."""
    by_column: dict[tuple[str, str], Delta] = {}
    for delta in deltas:
        if delta.column is not None:
            by_column.setdefault((delta.model.lower(), delta.column.lower()), delta)
    if not by_column:
        return deltas
    labels: dict[str, str] = {}
    by_label: dict[str, list[Model]] = {}  # head's model first: its columns' lineage wins
    for interface in (head, base):
        for model in interface.models if interface else ():
            labels.setdefault(model.key, model.label.lower())
            by_label.setdefault(model.label.lower(), []).append(model)

    def lineage(node: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        for model in by_label.get(node[0], ()):
            if (column := model.column(node[1])) is not None:
                return column.lineage
        return ()

    def chain(node: tuple[str, str], seen: frozenset[tuple[str, str]]) -> tuple[str, ...]:
        for rel, col in lineage(node):
            parent = (labels.get(rel, rel), col)
            if parent in by_column and parent not in seen:
                return (*chain(parent, seen | {parent}), by_column[parent].model)
        return ()

    out = []
    for delta in deltas:
        if delta.column is not None and not delta.via:
            via = chain((delta.model.lower(), delta.column.lower()), frozenset())
            delta = replace(delta, via=via) if via else delta
        out.append(delta)
    return out


def _order(delta: Delta) -> tuple[str, str, str, str]:
    return (delta.model.lower(), delta.column or "", delta.kind, repr(delta.after))


def _renamed_models(removed: list[Model], added: list[Model]) -> list[tuple[Model, Model]]:
    """A model that vanished and one that appeared with the very same query: a rename."""
    by_sql: dict[str, list[Model]] = {}
    for model in added:
        if model.query_digest:
            by_sql.setdefault(model.query_digest, []).append(model)
    pairs = []
    for model in removed:
        candidates = by_sql.get(model.query_digest or "", [])
        if len(candidates) == 1 and not (_internal(model) and not _internal(candidates[0])):
            pairs.append((model, candidates.pop()))
    return pairs


def _internal(model: Model) -> bool:
    """No consumer can query it. An internal model that reappears published under a new
    name is, to consumers, a new model: it is reported as removed and added, not renamed."""
    return model.access == "private" or not model.queryable


def _delta(
    kind: str,
    model: Model,
    column: Column | None = None,
    *,
    before: Any = None,
    after: Any = None,
    anchor: Model | Anchor | None = None,
) -> Delta:
    where = anchor or model
    line = column.line if column is not None and column.line else where.line
    return Delta(
        kind=kind,
        model=model.label,
        column=column.name if column is not None else None,
        before=before,
        after=after,
        path=where.path,
        line=line,
        access=model.access,
        queryable=model.queryable,
        resource=model.resource,
    )


def diff_models(old: Model, new: Model, judge: TypeJudge) -> Iterator[Delta]:
    """Deltas between two versions of one enabled model."""
    if old == new:  # most models of a large change; every rule below compares the two
        return
    yield from _diff_materialization(old, new)
    yield from _diff_access(old, new)
    if _location(old) != _location(new):
        yield _delta("model-relocated", new, before=_location(old), after=_location(new))
    if old.contract_enforced != new.contract_enforced:
        kind = "contract-enforced" if new.contract_enforced else "contract-unenforced"
        yield _delta(kind, new, before=old.contract_enforced, after=new.contract_enforced)
    yield from _diff_deprecation(old, new)
    yield from _diff_keys(old, new)
    yield from _diff_logic(old, new)
    if (old.description or "") != (new.description or ""):
        yield _delta("description-changed", new, before=old.description, after=new.description)
    yield from diff_columns(old, new, judge)


def _location(model: Model) -> str:
    return ".".join(
        part or "default" for part in (model.database, model.schema, model.alias or model.name)
    )


def _diff_materialization(old: Model, new: Model) -> Iterator[Delta]:
    if old.materialized == new.materialized:
        return
    before, after = old.materialized, new.materialized
    if new.materialized == "ephemeral":
        yield _delta("model-made-ephemeral", new, before=before, after=after)
    elif old.materialized == "ephemeral":
        yield _delta("model-added", new, before=before, after=after)
    elif _enforces_constraints(old) and new.materialized == "view":
        yield _delta("constraints-unenforced", new, before=before, after=after)
    else:
        yield _delta("materialization-changed", new, before=before, after=after)


def _enforces_constraints(model: Model) -> bool:
    """Warehouses enforce declared constraints on tables only, and only under a contract."""
    if not model.contract_enforced or model.materialized == "view":
        return False
    return bool(model.primary_key) or any(c.constraints for c in model.columns)


def _diff_access(old: Model, new: Model) -> Iterator[Delta]:
    if old.access == new.access:
        return
    kind = (
        "access-narrowed"
        if ACCESS_ORDER[new.access] < ACCESS_ORDER[old.access]
        else "access-widened"
    )
    yield _delta(kind, new, before=old.access, after=new.access)


def _diff_deprecation(old: Model, new: Model) -> Iterator[Delta]:
    if old.deprecation_date == new.deprecation_date or new.deprecation_date is None:
        return
    if old.deprecation_date is None:
        yield _delta("deprecation-announced", new, before=None, after=new.deprecation_date)
    elif new.deprecation_date < old.deprecation_date:
        yield _delta(
            "deprecation-brought-forward",
            new,
            before=old.deprecation_date,
            after=new.deprecation_date,
        )


# Delta kinds that break a consumer by default: what makes moving `latest_version` breaking.
BREAKING_KINDS = frozenset(
    {
        "column-removed",
        "column-renamed",
        "column-type-changed",
        "not-null-removed",
        "unique-removed",
        "accepted-values-removed",
        "accepted-values-widened",
        "relationship-removed",
        "check-removed",
        "primary-key-removed",
        "grain-changed",
        "contract-unenforced",
        "access-narrowed",
        "model-made-ephemeral",
        "model-relocated",
        "constraints-unenforced",
    }
)


def _diff_latest(
    before: dict[str, Model], after: dict[str, Model], judge: TypeJudge
) -> Iterator[Delta]:
    """Unpinned `ref('m')` follows latest_version: judge the move by the two versions'
    interfaces."""
    old_latest = {fold_name(m): m for m in before.values() if m.version is not None and m.is_latest}
    new_latest = {fold_name(m): m for m in after.values() if m.version is not None and m.is_latest}
    for name in sorted(old_latest.keys() & new_latest.keys()):
        old, new = old_latest[name], new_latest[name]
        if old.version == new.version:
            continue
        breaking = sorted({d.kind for d in diff_models(old, new, judge)} & BREAKING_KINDS)
        kind = "latest-version-moved" if breaking else "latest-version-moved-compatibly"
        delta = _delta(kind, new, before=old.version, after=new.version)
        yield replace(delta, model=new.name, detail=", ".join(breaking) or None)


def fold_name(model: Model) -> str:
    return model.name.lower()


def _broken_reads(base: Interface | None, head: Interface) -> Iterator[Delta]:
    """A model that reads a column its upstream model no longer outputs will fail to build."""
    models = {m.key: m for m in head.models if m.enabled}
    base_models = {m.key: m for m in (base.models if base else ()) if m.enabled}
    outputs = {key: {c.key for c in m.columns} for key, m in models.items()}
    # Only a model that is new, or outputs less than it did, can leave a read unanswered
    # that was answered before; with none, no model needs looking at.
    shrunk = {
        key
        for key, model in models.items()
        if key not in base_models
        or not outputs[key].issuperset(c.key for c in base_models[key].columns)
    }
    if not shrunk:
        return
    for model in models.values():
        for column in model.columns:
            for rel, col in column.lineage:
                upstream = models.get(rel)
                if upstream is None or not upstream.columns_closed or col in outputs[rel]:
                    continue
                before = base_models.get(rel)
                if before is not None and before.column(col) is None:
                    continue  # already broken at base: not news of this change
                yield replace(
                    _delta(
                        "upstream-column-removed", model, column, before=f"{upstream.label}.{col}"
                    ),
                    via=(upstream.label,),
                )


def _diff_keys(old: Model, new: Model) -> Iterator[Delta]:
    before, after = _fold_all(old.primary_key), _fold_all(new.primary_key)
    if before and not after:
        yield _delta("primary-key-removed", new, before=list(old.primary_key), after=None)
    elif after and not before:
        yield _delta("primary-key-added", new, before=None, after=list(new.primary_key))
    elif before != after:
        yield _delta(
            "grain-changed",
            new,
            before=_key_text(old.primary_key),
            after=_key_text(new.primary_key),
        )
    old_unique = {_fold_all(k) for k in old.unique_keys}
    new_unique = {_fold_all(k) for k in new.unique_keys}
    # A unique key that is gone means one row per key no longer holds; a new one only adds.
    if old_unique - new_unique:
        yield _delta(
            "grain-changed",
            new,
            before=sorted(_key_text(k) for k in old.unique_keys),
            after=sorted(_key_text(k) for k in new.unique_keys),
        )
    if old.unique_key and new.unique_key and _fold_all(old.unique_key) != _fold_all(new.unique_key):
        yield _delta(
            "grain-changed", new, before=_key_text(old.unique_key), after=_key_text(new.unique_key)
        )
    if old.grain != new.grain and old.analysed and new.analysed:
        yield _delta("grain-changed", new, before=old.grain, after=new.grain)


def _fold_all(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n.lower() for n in names)


def _key_text(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def _diff_logic(old: Model, new: Model) -> Iterator[Delta]:
    if old.sql_digest == new.sql_digest or old.sql_digest is None or new.sql_digest is None:
        return
    if not (old.analysed and new.analysed):
        # What cannot be read is never reported as "no change".
        yield _delta("sql-changed-unparsed", new, anchor=_sql_anchor(new))
        return
    if old.query_digest == new.query_digest and (old.opaque or new.opaque):
        # Placeholders for unknown macros hide what changed inside their calls.
        yield _delta("sql-changed-unparsed", new, anchor=_sql_anchor(new))
        return
    if old.query_digest == new.query_digest:
        yield _delta("sql-reformatted", new, anchor=_sql_anchor(new))
        return
    old_logic, new_logic = dict(old.logic), dict(new.logic)
    changed = sorted(
        k for k in old_logic.keys() | new_logic.keys() if old_logic.get(k) != new_logic.get(k)
    )
    columns_changed = [c.key for c in old.columns] != [c.key for c in new.columns] or any(
        (oc := old.column(c.key)) is not None and oc.expression != c.expression for c in new.columns
    )
    explained = columns_changed or (old.grain != new.grain)
    # Column and grain deltas explain select-list edits; say "logic changed" only for the rest.
    if changed or not explained:
        parts = changed or ["query"]
        yield _delta(
            "model-logic-changed",
            new,
            before={k: old_logic.get(k) for k in parts} if changed else None,
            after={k: new_logic.get(k) for k in parts} if changed else None,
            anchor=_sql_anchor(new),
        )


@dataclass(frozen=True)
class Anchor:
    """Where a delta points when it is not the model's own place: a file, maybe a line."""

    path: str | None
    line: int | None = None


def _sql_anchor(model: Model) -> Model | Anchor:
    """Logic changes point at the SQL file, since that is where the edit was made."""
    return Anchor(model.sql_path) if model.sql_path else model


def diff_columns(old: Model, new: Model, judge: TypeJudge) -> Iterator[Delta]:
    if old.columns == new.columns:  # a reformatted model: its SQL changed, its columns not
        return
    before = {c.key: c for c in old.columns}
    after = {c.key: c for c in new.columns}
    # Where one side's column set is open (SQL unread), only YAML-declared columns are known facts.
    removed = [
        c for k, c in before.items() if k not in after and (new.columns_closed or c.declared)
    ]
    added = [c for k, c in after.items() if k not in before and (old.columns_closed or c.declared)]
    renames = _renamed_columns(removed, added)
    for old_col, new_col in renames:
        yield _delta("column-renamed", new, new_col, before=old_col.name, after=new_col.name)
        # A renamed column can change its promises too; consumers who follow the rename see both.
        yield from diff_column(new, old_col, new_col, judge)
    renamed_old = {o.key for o, _ in renames}
    renamed_new = {n.key for _, n in renames}
    for col in removed:
        if col.key not in renamed_old:
            yield _delta("column-removed", new, col, before=col.name, anchor=old)
    for col in added:
        if col.key not in renamed_new:
            yield _delta("column-added", new, col, after=col.name)
    for key in (k for k in after if k in before):
        yield from diff_column(new, before[key], after[key], judge)
    common = [k for k in before if k in after]
    order_after = [k for k in after if k in before]
    if old.columns_closed and new.columns_closed and common != order_after:
        yield _delta("column-order-changed", new, before=common, after=order_after)


def _renamed_columns(removed: list[Column], added: list[Column]) -> list[tuple[Column, Column]]:
    """A column that disappeared while another appeared with the same expression was renamed."""
    pairs = []
    pool = {c.expression: c for c in added if c.expression}
    for col in removed:
        if col.expression and col.expression in pool:
            pairs.append((col, pool.pop(col.expression)))
    return pairs


def diff_column(model: Model, old: Column, new: Column, judge: TypeJudge) -> Iterator[Delta]:
    if old.data_type and new.data_type:
        verdict = judge(old.data_type, new.data_type)
        if verdict != "same":
            kind = "column-type-widened" if verdict == "widened" else "column-type-changed"
            yield _delta(kind, model, new, before=old.data_type, after=new.data_type)
    yield from _flag(model, old, new, "not_null", "not-null")
    yield from _flag(model, old, new, "unique", "unique")
    yield from _diff_accepted_values(model, old, new)
    yield from _diff_sets(model, new, old.relationships, new.relationships, "relationship")
    yield from _diff_sets(model, new, old.checks, new.checks, "check")
    if old.expression and new.expression and old.expression != new.expression:
        yield _delta(
            "column-logic-changed", model, new, before=old.expression, after=new.expression
        )
    if (old.description or "") != (new.description or ""):
        yield _delta(
            "description-changed", model, new, before=old.description, after=new.description
        )


def _flag(model: Model, old: Column, new: Column, attr: str, stem: str) -> Iterator[Delta]:
    was, now = getattr(old, attr), getattr(new, attr)
    if was and not now:
        yield _delta(f"{stem}-removed", model, new, before=True, after=False)
    elif now and not was:
        yield _delta(f"{stem}-added", model, new, before=False, after=True)


def _diff_accepted_values(model: Model, old: Column, new: Column) -> Iterator[Delta]:
    was, now = old.accepted_values, new.accepted_values
    if was == now:
        return
    if was is None:
        yield _delta("accepted-values-added", model, new, after=list(now or ()))
    elif now is None:
        yield _delta("accepted-values-removed", model, new, before=list(was))
    elif set(now) - set(was):
        # A consumer's CASE over the old values silently misses any new one.
        yield _delta("accepted-values-widened", model, new, before=list(was), after=list(now))
    elif set(now) != set(was):
        yield _delta("accepted-values-narrowed", model, new, before=list(was), after=list(now))


def _diff_sets(
    model: Model, new: Column, was: tuple[str, ...], now: tuple[str, ...], stem: str
) -> Iterator[Delta]:
    for item in sorted(set(was) - set(now)):
        yield _delta(f"{stem}-removed", model, new, before=item)
    for item in sorted(set(now) - set(was)):
        yield _delta(f"{stem}-added", model, new, after=item)
