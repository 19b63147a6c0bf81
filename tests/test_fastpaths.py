"""Paths written for speed must give exactly what the plain code gives."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from semverlint.cache import make_key
from semverlint.interface import Column
from semverlint.loaders.dbtsql import analysis_key
from semverlint.modelsql import lineage_order


def _every_field_set() -> Column:
    """A column whose every field differs from its default, so none can be dropped unseen."""
    values = {
        "name": "Total",
        "data_type": "int",
        "not_null": True,
        "unique": True,
        "primary_key": True,
        "accepted_values": ("a",),
        "relationships": ("orders.id",),
        "checks": ("total > 0",),
        "constraints": ("not_null",),
        "description": "the total",
        "expression": "x",
        "lineage": (("orders", "x"),),
        "quoted": True,
        "declared": True,
        "line": 7,
    }
    assert set(values) == {f.name for f in dataclasses.fields(Column)}, "a field is missing here"
    return Column(**values)  # type: ignore[arg-type]


def test_a_column_as_queried_is_the_column_with_those_three_fields_replaced() -> None:
    column = _every_field_set()
    lineage = (("payments", "amount"),)
    assert column.as_queried("bigint", "amount * 2", lineage) == dataclasses.replace(
        column, data_type="bigint", expression="amount * 2", lineage=lineage
    )


def test_the_analysis_key_is_the_key_of_its_parts() -> None:
    upstream = {"b": ("y",), "a": None}
    layout = ("select a from b", None)
    assert analysis_key("duckdb", ("select a  from b",), ("select a from b",), upstream) == (
        make_key("analyse", "duckdb", ["layout", "select a from b"], [["a", None], ["b", ["y"]]])
    )
    # A query that did not tokenize is known by its text.
    assert analysis_key(None, ("select ?",), layout, {}) == make_key(
        "analyse", None, ["sql", "select ?"], []
    )


def test_the_columns_of_a_parsed_entry_are_worked_out_once_and_as_from_a_plain_mapping() -> None:
    from semverlint.loaders.dbt import yaml_columns
    from semverlint.yamlio import load_yaml

    text = b"name: orders\ncolumns:\n  - name: id\n    data_tests: [unique]\n  - name: Total\n"
    entry = load_yaml(text).data
    first = yaml_columns(entry)
    assert yaml_columns(entry) is first  # base and head, one entry: one reading
    plain = {"name": "orders", "columns": [dict(c) for c in entry["columns"]]}
    assert (
        [(c.name, c.unique) for c in yaml_columns(plain)]
        == [(c.name, c.unique) for c in first]
        == [("id", True), ("Total", False)]
    )


def test_a_file_name_splits_as_posixpath_splits_it() -> None:
    import posixpath

    from semverlint.loaders.dbt import split_name

    for path in (
        "models/orders.sql",
        "models/a.b/orders.v2.sql",
        "models/orders",
        "models/.sql",
        "models/..sql",
        "models/.hidden.sql",
        "orders.py",
        "models/x/orders.",
    ):
        assert split_name(path) == posixpath.splitext(posixpath.basename(path)), path


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Models and the models each reads (some unknown, some in cycles)."""
    names = [f"m{i}" for i in range(draw(st.integers(0, 12)))]
    parents = st.lists(st.sampled_from([*names, "elsewhere"]), max_size=4) if names else st.just([])
    return names, {name: draw(parents) for name in names}


@settings(max_examples=300, deadline=None)
@given(graph=_graphs())
def test_lineage_order_puts_every_upstream_model_first_a_level_at_a_time(
    graph: tuple[list[str], dict[str, list[str]]],
) -> None:
    names, refs = graph
    order = lineage_order(names, refs)
    assert sorted(order) == sorted(names)
    place = {name: index for index, name in enumerate(order)}
    # A model is placed after every model it reads, unless they read each other (a cycle).
    for name in names:
        for parent in refs[name]:
            if parent in place and not _reaches(parent, name, refs):
                assert place[parent] < place[name], (parent, name)
    # Without cycles, models come a level at a time: a model's level is the longest chain of
    # models it reads.
    if not any(_reaches(name, name, refs) for name in names):
        levels = [_level(name, names, refs) for name in order]
        assert levels == sorted(levels)


def _reaches(start: str, goal: str, refs: dict[str, list[str]]) -> bool:
    """Whether `goal` reads `start`, through any chain of models."""
    seen, todo = set(), [goal]
    while todo:
        for parent in refs.get(todo.pop(), ()):
            if parent == start:
                return True
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return False


def _level(name: str, names: list[str], refs: dict[str, list[str]]) -> int:
    parents = [p for p in refs[name] if p in names]
    return 1 + max((_level(p, names, refs) for p in parents), default=-1)


def test_marked_models_reads_only_what_the_other_state_does_not_share() -> None:
    from semverlint.loaders.dbt import marked_models

    same, own = b"select 1 -- semverlint: allow column-removed\n", b"select 2\n"
    base = {"m/a.sql": same, "m/b.sql": b"select 3\n", "m/c.yml": same}
    assert marked_models(base) == {"m/a.sql"}  # models only: YAML is searched as it is parsed
    head = {"m/a.sql": base["m/a.sql"], "m/b.sql": own, "m/d.py": same}
    assert marked_models(head, base, frozenset({"m/a.sql"})) == {"m/a.sql", "m/d.py"}
    # The very same bytes take the other state's answer, even one it got wrong: not searched.
    assert marked_models(head, base, frozenset()) == {"m/d.py"}
