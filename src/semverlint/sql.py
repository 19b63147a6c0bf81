"""Everything semverlint learns from SQL text (types, queries, DDL), through sqlglot alone."""

from __future__ import annotations

from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.expressions.datatypes import DType

TypeChange = Literal["same", "widened", "changed"]

# dbt adapter type -> sqlglot dialect; only dialects sqlglot ships. Explicit, so an adapter
# that merely resembles a dialect's name never picks the wrong grammar.
ADAPTER_DIALECTS: dict[str, str] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "alloydb": "postgres",
    "greenplum": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "databricks": "databricks",
    "spark": "spark",
    "glue": "spark",
    "fabricspark": "spark",
    "duckdb": "duckdb",
    "motherduck": "duckdb",
    "trino": "trino",
    "starburst": "trino",
    "presto": "presto",
    "athena": "athena",
    "clickhouse": "clickhouse",
    "sqlserver": "tsql",
    "synapse": "tsql",
    "azuresql": "tsql",
    # sqlglot has a Fabric dialect (T-SQL with Fabric's type limits): more exact than tsql.
    "fabric": "fabric",
    "oracle": "oracle",
    "mysql": "mysql",
    "mariadb": "mysql",
    "tidb": "mysql",
    "singlestore": "singlestore",
    "materialize": "materialize",
    "risingwave": "risingwave",
    "teradata": "teradata",
    "doris": "doris",
    "starrocks": "starrocks",
    "sqlite": "sqlite",
    "exasol": "exasol",
    "dremio": "dremio",
    "hive": "hive",
    "druid": "druid",
}


def dialect_for_adapter(adapter: str | None) -> str | None:
    """The sqlglot dialect for a dbt adapter type (``profiles.yml`` ``type``); None if unknown."""
    if not adapter:
        return None
    return ADAPTER_DIALECTS.get(adapter.strip().lower())


def _dialect(dialect: str | None) -> str | None:
    """A dialect name sqlglot knows, or None (the generic dialect) so bad config never raises."""
    if not dialect:
        return None
    try:
        Dialect.get_or_raise(dialect)
    except ValueError:
        return None
    return dialect.lower()


# ---------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------

_POSTGRES_LIKE = frozenset({"postgres", "materialize", "risingwave"})
_SERIALS = {
    DType.SMALLSERIAL: DType.SMALLINT,
    DType.SERIAL: DType.INT,
    DType.BIGSERIAL: DType.BIGINT,
}
_INTEGERS = frozenset(exp.DataType.INTEGER_TYPES - {DType.BIT})
# (value bits, signed): how many values an integer type holds, for the widening judgement.
_INT_BITS: dict[DType, tuple[int, bool]] = {
    DType.TINYINT: (8, True),
    DType.SMALLINT: (16, True),
    DType.MEDIUMINT: (24, True),
    DType.INT: (32, True),
    DType.BIGINT: (64, True),
    DType.INT128: (128, True),
    DType.INT256: (256, True),
    DType.UTINYINT: (8, False),
    DType.USMALLINT: (16, False),
    DType.UMEDIUMINT: (24, False),
    DType.UINT: (32, False),
    DType.UBIGINT: (64, False),
    DType.UINT128: (128, False),
    DType.UINT256: (256, False),
}
# Significand bits: an integer fits a float losslessly when its magnitude bits fit these.
_FLOAT_MANTISSA = {DType.FLOAT: 24, DType.DOUBLE: 53}
# DECIMAL without precision: what each dialect means by it (postgres: unbounded NUMERIC).
_DECIMAL_DEFAULT: dict[str | None, tuple[int, int]] = {
    "snowflake": (38, 0),
    "bigquery": (38, 9),
    "redshift": (18, 0),
    "spark": (10, 0),
    "databricks": (10, 0),
    "hive": (10, 0),
    "tsql": (18, 0),
    "fabric": (18, 0),
    "mysql": (10, 0),
    "duckdb": (18, 3),
    "trino": (38, 0),
    "clickhouse": (10, 0),
}
_VARYING_TEXT = frozenset(
    {DType.VARCHAR, DType.NVARCHAR, DType.TEXT, DType.TINYTEXT, DType.MEDIUMTEXT, DType.LONGTEXT}
)
_FIXED_TEXT = frozenset({DType.CHAR, DType.NCHAR, DType.BPCHAR})
_NATIONAL = frozenset({DType.NVARCHAR, DType.NCHAR})
_VARYING_BINARY = frozenset({DType.VARBINARY, DType.BLOB, DType.LONGBLOB, DType.MEDIUMBLOB})
_PRECISE_TEMPORAL = frozenset(
    {
        DType.TIME,
        DType.TIMETZ,
        DType.TIMESTAMP,
        DType.TIMESTAMPTZ,
        DType.TIMESTAMPNTZ,
        DType.TIMESTAMPLTZ,
        DType.DATETIME,
        DType.DATETIME2,
    }
)
# Fractional-second digits a temporal type has when none are written.
_TEMPORAL_DEFAULT: dict[str | None, int] = {
    "postgres": 6,
    "materialize": 6,
    "risingwave": 6,
    "redshift": 6,
    "duckdb": 6,
    "bigquery": 6,
    "snowflake": 9,
    "tsql": 7,
    "fabric": 6,
    "mysql": 0,
    "trino": 3,
    "presto": 3,
    "athena": 3,
}
# Snowflake documents these as one type each: a change of spelling is no change.
_SNOWFLAKE_TEXT = _VARYING_TEXT | _FIXED_TEXT
_SNOWFLAKE_MAX_VARCHAR = 16777216


def _int_params(node: exp.DataType) -> list[int | None]:
    """The type's parameters as ints; None for non-numeric ones (MAX, names)."""
    out: list[int | None] = []
    for param in node.expressions:
        inner = param.this if isinstance(param, exp.DataTypeParam) else param
        if isinstance(inner, exp.Literal) and not inner.is_string and inner.name.isdigit():
            out.append(int(inner.name))
        else:
            out.append(None)
    return out


def _make(kind: DType, params: list[int] | tuple[int, ...] = ()) -> exp.DataType:
    expressions = [exp.DataTypeParam(this=exp.Literal.number(p)) for p in params]
    return exp.DataType(this=kind, expressions=expressions or None, nested=False)


def _canonical_node(node: exp.DataType, dialect: str | None) -> exp.DataType:
    """One type node in the canonical spelling of its dialect (children are handled by caller)."""
    kind = node.this
    if kind == DType.LOWCARDINALITY and node.expressions:
        child = node.expressions[0]
        if isinstance(child, exp.DataType):
            return _canonical_node(child, dialect)  # a storage hint, not a different type
    if not isinstance(kind, DType) or node.args.get("nested"):
        return node
    params = _int_params(node)
    kind = _SERIALS.get(kind, kind)

    if kind in _INTEGERS:
        # Display widths (MySQL INT(11)) do not change the values an integer holds.
        if dialect == "snowflake":
            return _make(DType.DECIMAL, (38, 0))
        if dialect == "bigquery":
            return _make(DType.BIGINT)
        return _make(kind)
    if kind == DType.BIGDECIMAL and dialect == "bigquery":
        kind, params = DType.DECIMAL, params or [76, 38]
    if kind == DType.DECIMAL:
        if any(p is None for p in params):
            return node
        if len(params) == 1:
            return _make(kind, (params[0] or 0, 0))
        if not params and dialect in _DECIMAL_DEFAULT:
            return _make(kind, _DECIMAL_DEFAULT[dialect])
        return _make(kind, [p for p in params if p is not None])
    if kind in _FLOAT_MANTISSA:
        if dialect in ("snowflake", "bigquery"):
            return _make(DType.DOUBLE)  # every float there is 64-bit
        if len(params) == 1 and params[0] is not None:
            # FLOAT(p) (SQL standard): p binary digits choose single or double precision.
            return _make(DType.FLOAT if params[0] <= 24 else DType.DOUBLE)
        return _make(kind, [p for p in params if p is not None])

    if kind in _VARYING_TEXT or kind in _FIXED_TEXT:
        return _canonical_text(node, kind, params, dialect)

    if kind in _PRECISE_TEMPORAL:
        if dialect == "snowflake" and kind in (DType.TIMESTAMP, DType.DATETIME):
            kind = DType.TIMESTAMPNTZ  # TIMESTAMP_TYPE_MAPPING's default
        if dialect == "duckdb":
            # DuckDB stores microseconds whatever precision is written.
            return _make(DType.TIMESTAMP if kind == DType.TIMESTAMPNTZ else kind)
        if len(params) == 1 and params[0] == _TEMPORAL_DEFAULT.get(dialect):
            return _make(kind)
        if all(p is not None for p in params):
            return _make(kind, [p for p in params if p is not None])
        return node

    if dialect == "snowflake" and kind in (DType.BINARY, DType.VARBINARY):
        return _make(DType.BINARY, [p for p in params if p is not None and p != 8388608])
    return node


def _canonical_text(
    node: exp.DataType, kind: DType, params: list[int | None], dialect: str | None
) -> exp.DataType:
    # VARCHAR(MAX) and friends: the largest the dialect has, i.e. unbounded for our purposes.
    if params and params[0] is None:
        params = []
    if dialect == "snowflake":
        # CHAR is VARCHAR with default length 1; VARCHAR's default is its maximum.
        if kind in _FIXED_TEXT and not params:
            params = [1]
        if params == [_SNOWFLAKE_MAX_VARCHAR]:
            params = []
        return _make(DType.VARCHAR, [p for p in params if p is not None])
    if dialect == "duckdb":
        return _make(DType.TEXT)  # DuckDB ignores declared lengths
    if kind in _FIXED_TEXT and kind != DType.BPCHAR and not params:
        params = [1]  # SQL standard: CHAR means CHAR(1)
    if kind in (DType.VARCHAR, DType.TEXT) and not params:
        if dialect == "redshift":
            return _make(DType.VARCHAR, (256,))  # TEXT and VARCHAR default to VARCHAR(256)
        if dialect in _POSTGRES_LIKE or dialect in ("bigquery", "spark", "databricks", "sqlite"):
            return _make(DType.TEXT)
    if dialect in ("bigquery", "spark", "databricks") and kind == DType.VARCHAR:
        kind = DType.TEXT  # STRING(n) and VARCHAR(n) are one type with a length check
    return _make(kind, [p for p in params if p is not None])


def _canonical_tree(node: exp.DataType, dialect: str | None) -> exp.DataType:
    def visit(n: exp.Expr) -> exp.Expr:
        return _canonical_node(n, dialect) if isinstance(n, exp.DataType) else n

    out = node.copy().transform(visit)
    return out if isinstance(out, exp.DataType) else node


def _parse_type(text: str, dialect: str | None) -> exp.DataType | None:
    text = text.strip()
    if not text:
        return None
    try:
        # RAISE (unlike DataType.build) rejects trailing text such as "int; drop table x";
        # an unknown name is "not a type we understand" rather than a user-defined type.
        parsed = sqlglot.parse_one(
            text, read=_dialect(dialect), into=exp.DataType, error_level=ErrorLevel.RAISE
        )
    except Exception:  # sqlglot raises many kinds on odd input; bad SQL is data, never a crash
        return None
    return parsed if isinstance(parsed, exp.DataType) else None


def _canonical_type(text: str, dialect: str | None) -> tuple[exp.DataType, bool] | None:
    """(canonical type without nullability, nullable) for type text, None if not understood."""
    parsed = _parse_type(text, dialect)
    if parsed is None or parsed.this == DType.USERDEFINED:
        return None
    nullable = parsed.args.get("nullable") is True  # ClickHouse Nullable(T)
    parsed.set("nullable", None)
    return _canonical_tree(parsed, _dialect(dialect)), nullable


def _render(node: exp.DataType) -> str:
    if node.args.get("nested") or not isinstance(node.this, DType):
        return node.sql()
    # Own rendering for scalars: the generic generator folds NVARCHAR into VARCHAR and the like.
    params = [p.sql() for p in node.expressions]
    return node.this.value + (f"({', '.join(params)})" if params else "")


def normalize_type(text: str, dialect: str | None) -> str | None:
    """Canonical type text, equal for equivalent spellings in ``dialect``; None if not a type.

    >>> normalize_type("int4", "postgres") == normalize_type("INTEGER", "postgres")
    True
    >>> normalize_type("BIGINT", "snowflake")
    'DECIMAL(38, 0)'
    """
    canonical = _canonical_type(text, dialect)
    if canonical is None:
        return None
    node, nullable = canonical
    rendered = _render(node)
    return f"NULLABLE({rendered})" if nullable else rendered


def _raw_type(text: str) -> str:
    return " ".join(text.lower().split())


def type_change(before: str, after: str, dialect: str | None) -> TypeChange:
    """Whether ``after`` is the same type as ``before``, holds all its values, or neither.

    >>> type_change("int", "bigint", "postgres"), type_change("int", "bigint", "snowflake")
    ('widened', 'same')
    >>> type_change("varchar(10)", "varchar(2)", "postgres")
    'changed'
    """
    b, a = _canonical_type(before, dialect), _canonical_type(after, dialect)
    if b is None or a is None:
        return "same" if _raw_type(before) == _raw_type(after) else "changed"
    (b_node, b_null), (a_node, a_null) = b, a
    if b_null and not a_null:
        return "changed"  # NULLs before cannot be stored after
    if _render(b_node) == _render(a_node):
        return "widened" if a_null and not b_null else "same"
    return "widened" if _widens(b_node, a_node, _dialect(dialect)) else "changed"


def _widens(before: exp.DataType, after: exp.DataType, dialect: str | None) -> bool:
    """True when every value of ``before`` is a value of ``after`` with the same meaning."""
    b, a = before.this, after.this
    if before.args.get("nested") or after.args.get("nested"):
        return _nested_widens(before, after, dialect)
    bp, ap = _int_params(before), _int_params(after)
    if b in _INT_BITS:
        bits, signed = _INT_BITS[b]
        if a in _INT_BITS:
            a_bits, a_signed = _INT_BITS[a]
            if signed and not a_signed:
                return False
            return a_bits > bits if a_signed and not signed else a_bits >= bits
        if a == DType.DECIMAL:
            digits = len(str(2 ** (bits if not signed else bits - 1)))
            return _decimal_digits(ap) is None or (_decimal_digits(ap) or 0) >= digits
        if a in _FLOAT_MANTISSA:
            return (bits - 1 if signed else bits) <= _FLOAT_MANTISSA[a]
        return False
    if b == DType.DECIMAL and a == DType.DECIMAL:
        if not ap:
            return True  # unbounded NUMERIC holds any decimal
        if not bp or len(bp) != 2 or len(ap) != 2 or None in bp or None in ap:
            return False
        b_digits, a_digits = _decimal_digits(bp), _decimal_digits(ap)
        b_scale, a_scale = bp[1] or 0, ap[1] or 0
        return (
            b_digits is not None
            and a_digits is not None
            and a_digits >= b_digits
            and (a_scale >= b_scale)
        )
    if b == DType.FLOAT and a == DType.DOUBLE:
        return True
    if (b in _VARYING_TEXT or b in _FIXED_TEXT) and a in _VARYING_TEXT:
        if b in _NATIONAL and a not in _NATIONAL:
            return False  # national to single-byte text can lose characters
        return _length_fits(bp, ap)
    if b in _VARYING_BINARY | {DType.BINARY} and a in _VARYING_BINARY:
        return _length_fits(bp, ap)
    if b == a and b in _PRECISE_TEMPORAL:
        default = _TEMPORAL_DEFAULT.get(dialect)
        b_prec = bp[0] if bp else default
        a_prec = ap[0] if ap else default
        return b_prec is not None and a_prec is not None and a_prec >= b_prec
    return False


def _decimal_digits(params: list[int | None]) -> int | None:
    """Integer digits a DECIMAL holds; None when unbounded (or not stated)."""
    if len(params) == 2 and params[0] is not None and params[1] is not None:
        return params[0] - params[1]
    return None


def _length_fits(before: list[int | None], after: list[int | None]) -> bool:
    if not after:
        return True  # unbounded after
    if not before or before[0] is None or after[0] is None:
        return False
    return after[0] >= before[0]


def _nested_widens(before: exp.DataType, after: exp.DataType, dialect: str | None) -> bool:
    # Only arrays widen element-wise; a struct or map change is a change of shape.
    if before.this != DType.ARRAY or after.this != DType.ARRAY:
        return False
    b_items = [e for e in before.expressions if isinstance(e, exp.DataType)]
    a_items = [e for e in after.expressions if isinstance(e, exp.DataType)]
    if len(b_items) != 1 or len(a_items) != 1:
        return False
    if _render(b_items[0]) == _render(a_items[0]):
        return True
    return _widens(b_items[0], a_items[0], dialect)
