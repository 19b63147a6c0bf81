"""Tests for semverlint.sql: type judgements, query analysis and DDL, against fixtures."""

from __future__ import annotations

import pytest

from semverlint.sql import dialect_for_adapter, normalize_type, type_change

# ------------------------------------------------------------------------------------------
# Part 1: types
# ------------------------------------------------------------------------------------------

SAME_TYPES = [
    # (dialect, a, b): equivalent spellings must normalise to one text
    ("postgres", "int", "integer"),
    ("postgres", "int4", "INT"),
    ("postgres", "int8", "bigint"),
    ("postgres", "varchar(10)", "VARCHAR(10)"),
    ("postgres", "character varying(10)", "varchar(10)"),
    ("postgres", "varchar", "text"),
    ("postgres", "timestamp", "timestamp(6)"),
    ("postgres", "timestamp with time zone", "timestamptz"),
    ("postgres", "double precision", "float8"),
    ("postgres", "serial", "int"),
    ("postgres", "bool", "boolean"),
    ("duckdb", "int", "integer"),
    ("duckdb", "INT", "int4"),
    ("duckdb", "varchar", "string"),
    ("duckdb", "varchar(10)", "varchar(2)"),  # DuckDB ignores declared lengths
    ("duckdb", "text", "VARCHAR"),
    ("snowflake", "int", "integer"),
    ("snowflake", "NUMBER", "INT"),
    ("snowflake", "int", "bigint"),
    ("snowflake", "smallint", "number(38,0)"),
    ("snowflake", "varchar", "string"),
    ("snowflake", "text", "varchar(16777216)"),
    ("snowflake", "char", "varchar(1)"),
    ("snowflake", "float", "double"),
    ("snowflake", "timestamp", "timestamp_ntz"),
    ("snowflake", "timestamp_ntz(9)", "timestamp_ntz"),
    ("bigquery", "string", "STRING"),
    ("bigquery", "int64", "int"),
    ("bigquery", "int64", "integer"),
    ("bigquery", "float64", "FLOAT64"),
    ("bigquery", "numeric", "numeric(38, 9)"),
    ("bigquery", "bignumeric", "bigdecimal"),
    ("redshift", "text", "varchar(256)"),
    ("mysql", "int(11)", "int"),
    ("clickhouse", "LowCardinality(String)", "String"),
    ("tsql", "varchar(max)", "varchar(MAX)"),
    (None, "INT", "integer"),
]


@pytest.mark.parametrize(("dialect", "a", "b"), SAME_TYPES)
def test_equivalent_spellings_normalise_equal(dialect: str | None, a: str, b: str) -> None:
    assert normalize_type(a, dialect) is not None
    assert normalize_type(a, dialect) == normalize_type(b, dialect)
    assert type_change(a, b, dialect) == "same"
    assert type_change(b, a, dialect) == "same"


TYPE_CHANGES = [
    # (dialect, before, after, expected)
    ("postgres", "smallint", "int", "widened"),
    ("postgres", "int", "bigint", "widened"),
    ("postgres", "bigint", "int", "changed"),
    ("postgres", "varchar(10)", "varchar(2)", "changed"),
    ("postgres", "varchar(20)", "varchar(50)", "widened"),
    ("postgres", "varchar(20)", "text", "widened"),
    ("postgres", "varchar(20)", "varchar", "widened"),
    ("postgres", "text", "varchar(20)", "changed"),
    ("postgres", "char(3)", "varchar(5)", "widened"),
    ("postgres", "char(3)", "varchar(2)", "changed"),
    ("postgres", "char(3)", "char(5)", "changed"),  # padding changes the values
    ("postgres", "int", "numeric(10,0)", "widened"),
    ("postgres", "int", "numeric(9,0)", "changed"),
    ("postgres", "bigint", "numeric(19,0)", "widened"),
    ("postgres", "int", "numeric", "widened"),
    ("postgres", "numeric(10,2)", "numeric(12,3)", "widened"),
    ("postgres", "numeric(10,2)", "numeric(12,1)", "changed"),
    ("postgres", "numeric(10,2)", "numeric(10,3)", "changed"),
    ("postgres", "numeric(10,2)", "numeric", "widened"),
    ("postgres", "numeric", "numeric(10,2)", "changed"),
    ("postgres", "int", "double precision", "widened"),
    ("postgres", "bigint", "double precision", "changed"),
    ("postgres", "int", "real", "changed"),
    ("postgres", "smallint", "real", "widened"),
    ("postgres", "real", "double precision", "widened"),
    ("postgres", "double precision", "real", "changed"),
    ("postgres", "date", "timestamp", "changed"),
    ("postgres", "timestamp", "timestamptz", "changed"),
    ("postgres", "timestamptz", "timestamp", "changed"),
    ("postgres", "timestamp(3)", "timestamp(6)", "widened"),
    ("postgres", "timestamp(3)", "timestamp", "widened"),
    ("postgres", "timestamp", "timestamp(3)", "changed"),
    ("postgres", "int", "text", "changed"),
    ("postgres", "int[]", "bigint[]", "widened"),
    ("postgres", "bigint[]", "int[]", "changed"),
    ("postgres", "int", "int[]", "changed"),
    ("duckdb", "int", "bigint", "widened"),
    ("duckdb", "tinyint", "smallint", "widened"),
    ("duckdb", "bigint", "hugeint", "widened"),
    ("duckdb", "utinyint", "smallint", "widened"),
    ("duckdb", "uinteger", "integer", "changed"),
    ("duckdb", "integer", "uinteger", "changed"),
    ("duckdb", "float", "double", "widened"),
    ("duckdb", "decimal(10,2)", "decimal(18,2)", "widened"),
    ("duckdb", "varchar", "int", "changed"),
    ("snowflake", "number(10,0)", "number(38,0)", "widened"),
    ("snowflake", "int", "number(10,0)", "changed"),
    ("snowflake", "varchar(10)", "varchar(2)", "changed"),
    ("snowflake", "varchar(20)", "varchar(50)", "widened"),
    ("snowflake", "varchar(20)", "varchar", "widened"),
    ("snowflake", "varchar", "varchar(20)", "changed"),
    ("snowflake", "timestamp_ntz", "timestamp_tz", "changed"),
    ("snowflake", "timestamp_ntz(3)", "timestamp_ntz", "widened"),
    ("snowflake", "int", "float", "changed"),  # NUMBER(38,0) does not fit a double
    ("bigquery", "int64", "numeric", "widened"),  # NUMERIC has 29 integer digits, INT64 19
    ("bigquery", "int64", "bignumeric", "widened"),
    ("bigquery", "numeric", "bignumeric", "widened"),
    ("bigquery", "string(10)", "string", "widened"),
    ("bigquery", "string(10)", "string(5)", "changed"),
    ("bigquery", "timestamp", "datetime", "changed"),
    ("bigquery", "date", "datetime", "changed"),
    ("bigquery", "int64", "float64", "changed"),
    ("clickhouse", "Int32", "Nullable(Int32)", "widened"),
    ("clickhouse", "Nullable(Int32)", "Int32", "changed"),
    ("clickhouse", "UInt32", "Int64", "widened"),
    ("tsql", "varchar(10)", "nvarchar(10)", "widened"),
    ("tsql", "nvarchar(10)", "varchar(10)", "changed"),
    ("tsql", "varchar(10)", "varchar(max)", "widened"),
    ("postgres", "my_enum", "My_Enum", "same"),  # not understood: raw text compared, case-folded
    ("postgres", "my_enum", "other_enum", "changed"),
]


@pytest.mark.parametrize(("dialect", "before", "after", "expected"), TYPE_CHANGES)
def test_type_change(dialect: str | None, before: str, after: str, expected: str) -> None:
    assert type_change(before, after, dialect) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "not a type", "varchar(", "my_enum", "int; drop table x"]
)
def test_not_a_type_is_none(text: str) -> None:
    assert normalize_type(text, "postgres") is None


def test_unknown_dialect_falls_back_to_generic() -> None:
    assert normalize_type("int", "no-such-dialect") == normalize_type("integer", None)


def test_normalised_text_is_readable() -> None:
    assert normalize_type("numeric(10, 2)", "postgres") == "DECIMAL(10, 2)"
    assert normalize_type("bigint", "snowflake") == "DECIMAL(38, 0)"
    assert normalize_type("character varying(20)", "postgres") == "VARCHAR(20)"
    assert normalize_type("Nullable(String)", "clickhouse") == "NULLABLE(TEXT)"


@pytest.mark.parametrize(
    ("adapter", "dialect"),
    [
        ("postgres", "postgres"),
        ("Snowflake", "snowflake"),
        ("bigquery", "bigquery"),
        ("databricks", "databricks"),
        ("sqlserver", "tsql"),
        ("synapse", "tsql"),
        ("fabric", "fabric"),
        ("athena", "athena"),
        ("materialize", "materialize"),
        ("duckdb", "duckdb"),
        ("exasol", "exasol"),
        ("vertica", None),
        ("", None),
        (None, None),
    ],
)
def test_dialect_for_adapter(adapter: str | None, dialect: str | None) -> None:
    assert dialect_for_adapter(adapter) == dialect


def test_every_adapter_dialect_exists_in_sqlglot() -> None:
    from sqlglot.dialects.dialect import Dialect

    from semverlint.sql import ADAPTER_DIALECTS

    for name in set(ADAPTER_DIALECTS.values()):
        Dialect.get_or_raise(name)
