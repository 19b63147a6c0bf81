"""The proof of plain validity never says valid where jsonschema says not, and does say
valid for the plain configurations it is there for."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semverlint.config import load_schema
from semverlint.plainschema import plainly_valid

SCHEMA = load_schema("config")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["", "duckdb", "major", "minor", "patch", "ignore", "breaking", "dbt", "x"]),
    st.text(max_size=5),
    st.dates(),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.sampled_from(["column-added", "rule", "reason"]), SCALARS, max_size=2),
)
KEYS = st.sampled_from([*SCHEMA["properties"], "other", "Dialect"])


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=4))
def test_plainly_valid_is_never_wrong(data: dict[str, Any]) -> None:
    if plainly_valid(data, SCHEMA):
        assert VALIDATOR.is_valid(data)


PLAIN = {
    "version": st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=False)),
    "name": st.text(min_size=1, max_size=5),
    "kind": st.sampled_from(["dbt", "sql", "jsonschema"]),
    "dialect": st.text(min_size=1, max_size=5),
    "fail-on": st.sampled_from(["major", "minor", "patch"]),
    "strict": st.booleans(),
    "column-order": st.sampled_from(["ignore", "breaking"]),
}


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({}, optional=PLAIN))
def test_every_valid_plain_configuration_is_known_valid(data: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(data)
    assert plainly_valid(data, SCHEMA)


@pytest.mark.parametrize(
    "data",
    [
        {"rules": {"column-added": "patch"}},  # nested: left to jsonschema
        {"ignore": []},
        {"dialect": ""},  # fails minLength
        {"strict": 1},  # 1 is not a boolean in JSON
        {"version": True},  # nor a number
        {"kind": "other"},
        {"version": dt.date(2030, 1, 1)},  # a YAML date
        {"unknown": "x"},
        [],
        {1: "x"},
    ],
)
def test_what_is_left_to_jsonschema(data: Any) -> None:
    assert not plainly_valid(data, SCHEMA)


@pytest.mark.parametrize(
    "schema",
    [
        {**SCHEMA, "required": ["name"]},  # required and absent
        {**SCHEMA, "additionalProperties": True},  # unknown keys allowed: not read here
        {**SCHEMA, "minProperties": 1},  # a keyword this module does not check
        {**SCHEMA, "properties": {"dialect": {"type": "string", "pattern": "^d"}}},
        {**SCHEMA, "properties": {"dialect": {"type": "integer"}}},
        {**SCHEMA, "properties": {"dialect": {"enum": ["duckdb", 1]}}},
    ],
)
def test_a_schema_it_cannot_read_whole_proves_nothing(schema: dict[str, Any]) -> None:
    assert not plainly_valid({"dialect": "duckdb"}, schema)
    assert plainly_valid({"dialect": "duckdb"}, SCHEMA)
