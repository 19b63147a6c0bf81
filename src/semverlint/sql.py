"""Everything semverlint learns from SQL text (types, queries, DDL), through sqlglot alone."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import ASCII_LOWER, ASCII_UPPER, Dialect
from sqlglot.dialects.dialect import NormalizationStrategy as Normalization
from sqlglot.errors import ErrorLevel
from sqlglot.expressions.datatypes import DType
from sqlglot.generator import Generator
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.parser import Parser
from sqlglot.schema import normalize_name
from sqlglot.tokenizer_core import Token, TokenType

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


def layout_key(sql: str, dialect: str | None) -> str | None:
    """The SQL as its tokens: equal for two texts that differ only in layout, comments and the
    case of keywords and known functions, which parse to the same tree; None when the text
    does not tokenize.

    A reformatted model is then analysed once for both sides of a comparison. A keyword's
    case is dropped only where the token is that keyword, a function's only where it is
    called (see _called_function); identifiers, quoted names, other functions' names and
    literals keep their text exactly."""
    glot = Dialect.get_or_raise(_dialect(dialect))
    try:
        tokens = glot.tokenize(sql)
    except Exception:  # sqlglot raises its own and Python's errors for unreadable text
        return None
    keywords = glot.tokenizer_class.KEYWORDS
    functions = (
        _known_functions(glot.parser_class)
        if _function_case(glot, dialect) == "upper"
        else frozenset()
    )
    parts: list[str] = []
    for index, token in enumerate(tokens):
        upper = token.text.upper()
        parts.append(token.token_type.name)
        if keywords.get(upper) is token.token_type or (
            upper in functions and _called_function(tokens, index)
        ):
            parts.append(upper)
        else:
            parts.append(token.text)
    return json.dumps(parts)  # quoted: no text can pass for a token boundary


# Before a name and its parenthesis, these make the name an alias or a table with a column
# list (`AS t(a)`, `t x(a)`, `INTO t(a)`) or a qualified call: not a function name to fold.
_NAME_BEFORE = frozenset(
    {
        TokenType.ALIAS,
        TokenType.DOT,
        TokenType.VAR,
        TokenType.IDENTIFIER,
        TokenType.R_PAREN,
        TokenType.WITH,
        TokenType.TABLE,
        TokenType.INTO,
    }
)


@cache
def _known_functions(parser: type[Parser]) -> frozenset[str]:
    """Names the dialect's parser builds a node of its own for, looking them up upper-cased:
    written in any case, the call parses to the same tree."""
    return frozenset(parser.FUNCTIONS) | frozenset(parser.FUNCTION_PARSERS)


def _called_function(tokens: list[Token], index: int) -> bool:
    """True when the name token at `index` is a function call's: a plain word followed by
    `(` and not in a place where the parser reads a name. (A CTE with a column list after a
    comma, `, sum(a) AS (...)`, passes: its name is folded like every unquoted identifier
    of the dialects whose function names fold, so the analysis is the same.)"""
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    before = tokens[index - 1] if index > 0 else None
    return (
        token.token_type is TokenType.VAR
        and following is not None
        and following.token_type is TokenType.L_PAREN
        and (before is None or before.token_type not in _NAME_BEFORE)
    )


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
    # VARCHAR(MAX) and friends: the largest the dialect has, i.e. unbounded for our purposes;
    # T-SQL keeps the MAX, as a bare VARCHAR there means VARCHAR(1).
    if params and params[0] is None:
        if dialect in ("tsql", "fabric"):
            return _make_max(kind)
        params = []
    if dialect == "snowflake":
        # CHAR is VARCHAR with default length 1; VARCHAR's default is its maximum.
        if kind in _FIXED_TEXT and not params:
            params = [1]
        if params == [_SNOWFLAKE_MAX_VARCHAR]:
            params = []
        return _make(DType.VARCHAR, [p for p in params if p is not None])
    if dialect in ("duckdb", "clickhouse"):
        return _make(DType.TEXT)  # no length limits: DuckDB ignores them, ClickHouse has none
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


def _make_max(kind: DType) -> exp.DataType:
    return exp.DataType(
        this=kind, expressions=[exp.DataTypeParam(this=exp.var("MAX"))], nested=False
    )


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
    name = _dialect(dialect)
    canonical = _canonical_tree(parsed, name)
    # Nullability is reported beside the type; False (not None) keeps ClickHouse's generator
    # from wrapping every type it renders in Nullable().
    canonical.set("nullable", False if name == "clickhouse" else None)
    return canonical, nullable


def _render(node: exp.DataType, dialect: str | None) -> str:
    """A canonical type in its dialect's own spelling, which that dialect parses back alike."""
    if dialect is not None:
        return node.sql(dialect=dialect)
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
    name = _dialect(dialect)
    rendered = _render(node, name)
    return f"Nullable({rendered})" if nullable else rendered


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
    name = _dialect(dialect)
    if _render(b_node, name) == _render(a_node, name):
        return "widened" if a_null and not b_null else "same"
    return "widened" if _widens(b_node, a_node, name) else "changed"


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
    """Lengths as parameters: none written or MAX (None) is unbounded."""
    if not after or after[0] is None:
        return True
    if not before or before[0] is None:
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
    if _render(b_items[0], dialect) == _render(a_items[0], dialect):
        return True
    return _widens(b_items[0], a_items[0], dialect)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlColumn:
    """One output column of a query."""

    name: str  # output name as written in the SQL (unquoted text)
    data_type: str | None  # normalize_type of a visible cast or literal; None if not visible
    expression: str  # canonical SQL producing it, CTE and subquery columns substituted
    lineage: tuple[tuple[str, str], ...]  # (base relation key, column key) it reads, sorted
    quoted: bool = False  # the name is case-sensitive: quoted and unlike its unquoted form


@dataclass(frozen=True)
class SqlAnalysis:
    """What a SELECT publishes (columns, grain) and what decides its rows (logic)."""

    columns: tuple[SqlColumn, ...]  # in output order
    closed: bool  # False when a star could not be expanded: more columns may exist
    logic: tuple[tuple[str, str], ...]  # (clause name, canonical SQL), sorted
    grain: str | None  # "group by: a, b" | "distinct" | "union distinct" | ... | None
    distinct: bool
    canonical: str  # the whole query, canonical: equal under formatting/comment/CTE renames
    relations: tuple[str, ...]  # base relations read (CTEs excluded), sorted keys
    diagnostics: tuple[str, ...]


@dataclass(frozen=True)
class SqlFailure:
    """SQL that could not be analysed, and why (bad SQL is data, never an exception)."""

    reason: str


# Name CTEs by position so that renaming one leaves the canonical query unchanged.
_CTE_PREFIX = "cte_"
# Beyond this many nodes a CTE column is referenced, not substituted, to stay linear in size.
_MAX_SUBSTITUTED_NODES = 400
_WRITTEN = "semverlint_written"
_Lineage = frozenset[tuple[str, str]]
_NO_LINEAGE: _Lineage = frozenset()
# A source's or a query's column names (normalised); None where unknown or left open by a star.
_Names = tuple[str, ...] | None
_TableColumns = Callable[[exp.Table], _Names]
# Window frame words, which sqlglot keeps as written: one case, so their case is formatting.
_FRAME_WORDS = ("kind", "start", "start_side", "end", "end_side", "exclude")


# sqlglot reports what it merely tolerates ("Falling back to parsing as a 'Command'",
# unsupported syntax) as warnings on its logger, which would reach stderr once per model.
# A filter rather than a level: every sqlglot module logs to the one logger named "sqlglot",
# so a filter on it sees each record; it is installed on first use (importing semverlint
# changes no logging), drops only records below ERROR, and only while this thread or task is
# inside one of our calls (a ContextVar). Setting the logger's level instead would be
# process-wide, racy between threads restoring it, silence an application's own sqlglot
# use, and cost a cache flush of every logger on each call.
_QUIET: ContextVar[bool] = ContextVar("semverlint_sqlglot_quiet", default=False)


class _QuietSqlglot(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not _QUIET.get()


_QUIET_FILTER = _QuietSqlglot()


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    logger = logging.getLogger("sqlglot")
    if _QUIET_FILTER not in logger.filters:
        logger.addFilter(_QUIET_FILTER)
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def _fold_identifier(ident: exp.Identifier | None, dialect: Dialect) -> str:
    """The key a name matches by: lower case unless quoting makes the case significant."""
    if ident is None:
        return ""
    name = ident.this if isinstance(ident.this, str) else ident.name
    if ident.quoted and dialect.case_sensitive(name):
        return name
    return name.lower()


def _fold_name(name: str, dialect: Dialect) -> str:
    """The key of a normalised column name that no identifier in the SQL spells."""
    return _fold_identifier(exp.to_identifier(name), dialect)


def _relation_key(table: exp.Table, dialect: Dialect) -> str:
    parts = [table.args.get("catalog"), table.args.get("db"), table.this]
    return ".".join(_fold_identifier(p, dialect) for p in parts if isinstance(p, exp.Identifier))


@lru_cache(maxsize=65536)
def _upstream_name(name: str, dialect: str | None) -> str:
    """An upstream column name as the dialect resolves it (parsing a name is dear: cached)."""
    return normalize_name(name, dialect=dialect).name


def _parse_statements(sql: str, dialect: str | None) -> list[exp.Expr] | str:
    try:
        # RAISE collects every error before raising (the default stops at the first, and
        # which is first can follow the hash seed): _error_reason then picks one by place.
        statements = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
    except Exception as error:  # ParseError, TokenError, and sqlglot's rarer internal failures
        return _error_reason(error)
    return [s for s in statements if s is not None]


_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: \d+.*?>")


def _error_reason(error: Exception) -> str:
    """One readable line: sqlglot's first error, where it is, tokens shown as their text."""
    errors = getattr(error, "errors", None)
    if errors and isinstance(errors, list) and all(isinstance(e, dict) for e in errors):
        # sqlglot lists a node's missing keywords in an order that varies with the hash
        # seed: the first by place, then by text, reads the same in every process.
        first = min(
            errors,
            key=lambda e: (e.get("line") or 0, e.get("col") or 0, str(e.get("description"))),
        )
        line, col = first.get("line"), first.get("col")
        where = f" (line {line}, column {col})" if line else ""
        text = f"{first.get('description') or error}{where}"
    else:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return _TOKEN_REPR.sub(lambda m: repr(m.group(1)), text)


def _final_query(statements: list[exp.Expr]) -> exp.Query | None:
    """The query a script publishes: its last SELECT (SET/USE/ALTER SESSION are skipped)."""
    for statement in reversed(statements):
        if isinstance(statement, exp.Query):
            return statement
        inner = statement.args.get("expression")
        if isinstance(statement, (exp.Create, exp.Insert)) and isinstance(inner, exp.Query):
            return inner
    return None


@dataclass
class _Source:
    """A FROM/JOIN source met on the first walk; its alias is chosen once all are known."""

    select: exp.Select
    item: exp.Expr
    alias: exp.TableAlias | None
    written: str  # the name columns qualify it by; "" for a subquery without an alias


@dataclass
class _Walked:
    """What the first walk over a tree found."""

    ctes: list[exp.CTE] = field(default_factory=list)  # in order of definition
    tables: list[exp.Table] = field(default_factory=list)
    selects: list[exp.Select] = field(default_factory=list)  # outer before inner
    sources: list[_Source] = field(default_factory=list)
    bindings: dict[int, dict[str, int]] = field(default_factory=dict)  # select -> sources
    qualified: list[exp.Column] = field(default_factory=list)  # columns with a qualifier
    aggregates: list[exp.AggFunc] = field(default_factory=list)
    subqueries: bool = False
    # Sources only sqlglot's qualify_tables knows how to name (see _prepare).
    unusual: bool = False


# Sources whose naming takes sqlglot's qualify_tables: table functions, VALUES, UNNEST,
# LATERAL, PIVOT, `(a JOIN b) AS t`, `db.table.column` and wrapped subqueries.
_UNUSUAL = (exp.UDTF, exp.Pivot, exp.Paren)


def _normalise(tree: exp.Expr, glot: Dialect, bind: bool = False) -> _Walked:
    """Names as the warehouse resolves them, in place, in one walk.

    Each name is remembered as written (the report shows the author's spelling), folded as
    the dialect folds it, and unquoted where quotes change nothing, so `"amount"` and `amount`
    canonicalise alike (the generator re-quotes names that need it). Window frame words are
    spelled in upper case. With ``bind``, each SELECT's sources and the qualified columns are
    noted too, for _name_sources.
    """
    walked = _Walked()
    fold = _folder(glot)
    stack: list[object] = [tree]  # depth first, in written order
    while stack:
        node = stack.pop()
        if not isinstance(node, exp.Expr):
            continue
        if isinstance(node, exp.Identifier):
            fold(node)
            continue
        if node.meta_get("case_sensitive"):
            _keep_case(node)  # `/* sqlglot.meta case_sensitive */`: never folded
        if isinstance(node, exp.Column):
            if node.args.get("db"):
                walked.unusual = True
            table = node.args.get("table")
            if bind and isinstance(table, exp.Identifier):
                fold(table)
                walked.qualified.append(node)
        elif isinstance(node, exp.Select):
            walked.selects.append(node)
            if bind:
                _bind(node, walked, fold)
        elif isinstance(node, exp.Table):
            walked.tables.append(node)
            if not isinstance(node.this, exp.Identifier):
                walked.unusual = True
        elif isinstance(node, exp.CTE):
            walked.ctes.append(node)
        elif isinstance(node, exp.WindowSpec):
            for key in _FRAME_WORDS:
                word = node.args.get(key)
                if isinstance(word, str):
                    node.set(key, word.upper())
        elif isinstance(node, exp.Subquery):
            walked.subqueries = True
            if not isinstance(node.this, exp.Query):
                walked.unusual = True
        elif isinstance(node, exp.AggFunc):
            walked.aggregates.append(node)
        elif isinstance(node, _UNUSUAL):
            walked.unusual = True
        for value in reversed(node.args.values()):
            if type(value) is list:
                stack.extend(reversed(value))
            elif isinstance(value, exp.Expr):
                stack.append(value)
    return walked


def _keep_case(node: exp.Expr) -> None:
    for ident in node.find_all(exp.Identifier):
        if isinstance(ident.this, str) and ident.meta_get(_WRITTEN) is None:
            ident.meta[_WRITTEN] = ident.this


def _folder(glot: Dialect) -> Callable[[exp.Identifier], None]:
    """Folds one name as ``glot`` resolves it, once (a source's names are folded early, to
    bind its columns), remembering it as written and dropping quotes that change nothing."""
    normalize: Callable[[exp.Identifier], object] = glot.normalize_identifier
    strategy = glot.normalization_strategy
    if type(glot).normalize_identifier is Dialect.normalize_identifier:
        # The common rule, inlined (BigQuery has its own, by context).
        upper = strategy in (Normalization.UPPERCASE, Normalization.CASE_INSENSITIVE_UPPERCASE)
        insensitive = strategy in (
            Normalization.CASE_INSENSITIVE,
            Normalization.CASE_INSENSITIVE_UPPERCASE,
        )
        table = ASCII_UPPER if upper else ASCII_LOWER
        ascii_only = glot.ASCII_ONLY_NORMALIZATION

        def normalize(ident: exp.Identifier) -> None:
            if strategy is Normalization.CASE_SENSITIVE or (ident.quoted and not insensitive):
                return
            text: str = ident.this
            folded = (
                text.translate(table) if ascii_only else text.upper() if upper else text.lower()
            )
            if folded != text:
                ident.set("this", folded)

    case_sensitive = glot.case_sensitive
    safe = exp.SAFE_IDENTIFIER_RE.match

    def fold(ident: exp.Identifier) -> None:
        text = ident.this
        if not isinstance(text, str) or ident.meta_get(_WRITTEN) is not None:
            return
        ident.meta[_WRITTEN] = text
        if ident.meta_get("case_sensitive"):
            return
        normalize(ident)
        if ident.quoted:
            text = ident.this
            if not case_sensitive(text) and safe(text):
                ident.set("quoted", False)

    return fold


def _bind(select: exp.Select, walked: _Walked, fold: Callable[[exp.Identifier], None]) -> None:
    """Note ``select``'s sources, by the qualifier its columns name each by."""
    own: dict[str, int] = {}
    for item in _source_items(select):
        alias = item.args.get("alias")
        alias = alias if isinstance(alias, exp.TableAlias) else None
        if alias is not None and isinstance(alias.this, exp.Identifier):
            fold(alias.this)
        written = alias.name if alias is not None else ""
        if not written:
            # A table without an alias is qualified by its name; a subquery without one
            # gets a fresh name (nothing can refer to it); anything else is unusual.
            if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
                fold(item.this)
                written = item.name
            elif not isinstance(item, exp.Subquery):
                continue
        if written:
            own[written] = len(walked.sources)
        walked.sources.append(_Source(select, item, alias, written))
    if own:
        walked.bindings[id(select)] = own


def _name_sources(walked: _Walked) -> None:
    """Give every FROM/JOIN source an alias derived from what it reads (see _readable_aliases),
    and its columns that qualifier."""
    by_select: dict[int, list[int]] = {}
    for index, source in enumerate(walked.sources):
        by_select.setdefault(id(source.select), []).append(index)
    readable: list[str] = [""] * len(walked.sources)
    names_in: dict[int, set[str]] = {}
    for select in walked.selects:
        outer = _correlation_parent(select)
        used = set(names_in.get(id(outer), ())) if outer is not None else set()
        for index in by_select.get(id(select), ()):
            item = walked.sources[index].item
            if isinstance(item, exp.Table) and item.name:
                base = item.name
            else:
                base = "subquery" if isinstance(item, exp.Subquery) else "derived"
            name, suffix = base, 1
            while name in used:
                suffix += 1
                name = f"{base}_{suffix}"
            used.add(name)
            readable[index] = name
        names_in[id(select)] = used
    for index, source in enumerate(walked.sources):
        alias = source.alias
        if alias is None:
            alias = exp.TableAlias()
            source.item.set("alias", alias)
        alias.set("this", exp.to_identifier(readable[index]))
    for column in walked.qualified:
        # The innermost enclosing SELECT with a source of that name is the one it means.
        qualifier = column.args["table"].name
        node = column.parent
        while node is not None:
            own = walked.bindings.get(id(node)) if isinstance(node, exp.Select) else None
            if own and qualifier in own:
                column.set("table", exp.to_identifier(readable[own[qualifier]]))
                break
            node = node.parent


def _rename_ctes(ctes: list[exp.CTE], tables: list[exp.Table]) -> None:
    """Rename CTEs to cte_1, cte_2... in order of definition, with every reference to them."""
    if not ctes:
        return
    taken = {t.name for t in tables} - {c.alias for c in ctes}
    prefix = _CTE_PREFIX
    while any(name.startswith(prefix) for name in taken):
        prefix = "_" + prefix
    new_names = {id(cte): f"{prefix}{i}" for i, cte in enumerate(ctes, 1)}
    renames = [(table, cte) for table in tables if (cte := _defining_cte(table)) is not None]
    for table, cte in renames:
        if not table.alias:
            # Keep `old.column` references valid; aliases are made readable later.
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("this", exp.to_identifier(new_names[id(cte)]))
        table.meta["cte"] = True
    for cte in ctes:
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias):
            alias.set("this", exp.to_identifier(new_names[id(cte)]))


def _defining_cte(table: exp.Table) -> exp.CTE | None:
    """The CTE a table reference names: the nearest enclosing WITH that defines it."""
    if table.args.get("db") or not isinstance(table.this, exp.Identifier):
        return None
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                if isinstance(cte, exp.CTE) and cte.alias == table.name:
                    return cte
        node = node.parent
    return None


def _source_items(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_")
    items = [from_.this] if isinstance(from_, exp.From) else []
    return items + [join.this for join in select.args.get("joins") or []]


def _readable_aliases(tree: exp.Expr) -> None:
    """Give every FROM/JOIN source an alias derived from what it reads.

    Table aliases are the author's choice, invisible to consumers: `orders o` and
    `orders AS ord` must canonicalise alike. A name is unique among the aliases a query can
    see (its own and, for a correlated subquery, its enclosing queries'), so an unrelated
    CTE that also reads `orders` never renames this query's `orders`.

    One walk: each SELECT's aliases become placeholders no author writes (so renaming never
    captures another name), and each column qualifier follows the innermost binding.
    """
    base_of: dict[str, str] = {}
    owned: dict[int, list[str]] = {}  # select -> its placeholders
    selects: list[exp.Select] = []
    aliases: list[exp.Identifier] = []
    qualifiers: list[exp.Identifier] = []
    stack: list[tuple[exp.Expr, dict[str, str]]] = [(tree, {})]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, exp.Select):
            selects.append(node)
            own: dict[str, str] = {}
            placeholders: list[str] = []
            for item in _source_items(node):
                alias_node = item.args.get("alias")
                written = alias_node.name if isinstance(alias_node, exp.TableAlias) else ""
                if not written:
                    # A table without an alias is named by its name; a subquery without one
                    # gets a fresh name (nothing can refer to it); qualify_tables named the rest.
                    if isinstance(item, exp.Table) and item.name:
                        written = item.name
                    elif not isinstance(item, exp.Subquery):
                        continue
                    if not isinstance(alias_node, exp.TableAlias):
                        alias_node = exp.TableAlias()
                        item.set("alias", alias_node)
                if not isinstance(alias_node, exp.TableAlias):
                    continue
                placeholder = f"__semverlint_alias_{len(base_of)}"
                if isinstance(item, exp.Table) and item.name:
                    base_of[placeholder] = item.name
                elif isinstance(item, exp.Subquery):
                    base_of[placeholder] = "subquery"
                else:
                    base_of[placeholder] = "derived"  # VALUES, UNNEST, table functions
                placeholders.append(placeholder)
                if written:
                    own[written] = placeholder
                ident = exp.Identifier(this=placeholder)
                alias_node.set("this", ident)
                aliases.append(ident)
            if placeholders:
                owned[id(node)] = placeholders
            if own:
                bound = {**bound, **own}
        elif isinstance(node, exp.Column) and bound:
            bound_to = bound.get(node.table)
            if bound_to is not None:
                ident = exp.Identifier(this=bound_to)
                node.set("table", ident)
                qualifiers.append(ident)
        stack.extend((child, bound) for child in node.iter_expressions(reverse=True))
    if not base_of:
        return
    readable: dict[str, str] = {}
    names_in: dict[int, set[str]] = {}
    for select in selects:
        outer = _correlation_parent(select)
        used = set(names_in.get(id(outer), set())) if outer is not None else set()
        for placeholder in owned.get(id(select), ()):
            base = base_of[placeholder]
            name, suffix = base, 1
            while name in used:
                suffix += 1
                name = f"{base}_{suffix}"
            used.add(name)
            readable[placeholder] = name
        names_in[id(select)] = used
    for ident in aliases + qualifiers:
        ident.replace(exp.to_identifier(readable[ident.name]))


def _correlation_parent(select: exp.Select) -> exp.Select | None:
    """The query whose aliases ``select`` can see: None for CTEs and derived tables."""
    node = select.parent
    while node is not None:
        if isinstance(node, exp.CTE):
            return None
        if isinstance(node, exp.Subquery) and isinstance(node.parent, (exp.From, exp.Join)):
            return None
        if isinstance(node, exp.Select):
            return node
        node = node.parent
    return None


def _prepare(query: exp.Query, dialect: str | None, glot: Dialect) -> tuple[exp.Query, _Walked]:
    """Normalised identifiers, positional CTE names, readable aliases on every source.

    Works in place: callers pass a tree they own (freshly parsed).
    """
    walked = _normalise(query, glot, bind=True)
    _rename_ctes(walked.ctes, walked.tables)
    _mark_aggregates(walked.aggregates)
    if not walked.unusual:
        _name_sources(walked)
        return query, walked
    # Table functions and the like: sqlglot's qualify_tables names them (a scope traversal
    # of its own, so only where it must), then aliases are made readable in a walk of ours.
    tree = qualify_tables(query, dialect=dialect)
    _readable_aliases(tree)
    return tree, walked


_AGGREGATES = "semverlint_aggregates"


def _mark_aggregates(aggregates: list[exp.AggFunc]) -> None:
    """Mark each SELECT whose projections aggregate (not in a window, not in a subquery)."""
    for aggregate in aggregates:
        node: exp.Expr = aggregate
        parent = node.parent
        while parent is not None and not isinstance(parent, (exp.Select, exp.Window)):
            node, parent = parent, parent.parent
        if isinstance(parent, exp.Select) and node.arg_key == "expressions":
            parent.meta[_AGGREGATES] = True


@dataclass(slots=True)
class _Item:
    """One output column of a SELECT: a projection as written, or a column a star stands for."""

    name: str  # output name, normalised
    projection: exp.Expr | None = None  # the projection as written
    source: str = ""  # a star's column: the alias of the source it comes from,
    column: str = ""  # its name there,
    replacement: exp.Expr | None = None  # and the REPLACE expression standing for it
    star: exp.Expr | None = None  # a star that cannot be expanded: more columns may exist


def _projection_name(projection: exp.Expr, index: int) -> str:
    # sqlglot's convention for an unnamed expression; warehouses differ, none is portable.
    return projection.alias_or_name or f"_col_{index}"


def _name_set(nodes: object) -> set[str]:
    if not isinstance(nodes, list):
        return set()
    return {n.name for n in nodes if isinstance(n, (exp.Column, exp.Identifier))}


def _star_parts(
    select: exp.Select, projection: exp.Expr, sources: list[str]
) -> tuple[list[str], set[str], dict[str, exp.Expr], dict[str, str], dict[str, set[str]]]:
    """(sources it reads, EXCLUDE names, REPLACE expressions, RENAME map, USING per source)."""
    node = projection.unalias()
    star = node.this if isinstance(node, exp.Column) else node
    qualified = isinstance(node, exp.Column) and bool(node.table)
    targets = [node.table] if isinstance(node, exp.Column) and qualified else sources
    excluded = _name_set(star.args.get("except_"))
    replaced = {a.alias: a.this for a in star.args.get("replace") or [] if isinstance(a, exp.Alias)}
    renamed = {
        a.this.name: a.alias for a in star.args.get("rename") or [] if isinstance(a, exp.Alias)
    }
    # USING (id): a bare star shows id once, from the left side.
    coalesced: dict[str, set[str]] = {}
    if not qualified:
        for join in select.args.get("joins") or []:
            if join.alias_or_name:
                coalesced[join.alias_or_name] = _name_set(join.args.get("using"))
    return targets, excluded, replaced, renamed, coalesced


def _select_items(select: exp.Select, known: dict[str, _Names]) -> list[_Item]:
    """The output columns of ``select``, stars expanded where their sources' columns are known."""
    items: list[_Item] = []
    for index, projection in enumerate(select.selects):
        if not _is_star(projection):
            items.append(_Item(name=_projection_name(projection, index), projection=projection))
            continue
        targets, excluded, replaced, renamed, coalesced = _star_parts(
            select, projection, list(known)
        )
        if not targets or any(known.get(t) is None for t in targets):
            items.append(_Item(name="", star=projection))
            continue
        for target in targets:
            for name in known[target] or ():
                if name in excluded or name in coalesced.get(target, ()):
                    continue
                items.append(
                    _Item(
                        name=renamed.get(name, name),
                        source=target,
                        column=name,
                        replacement=replaced.get(name),
                    )
                )
    return items


def _alias_columns(query: exp.Expr) -> tuple[str, ...]:
    """Column names given from outside: `WITH c (a, b) AS (...)`, `(...) AS s (a, b)`."""
    holder = query.parent
    alias = holder.args.get("alias") if isinstance(holder, (exp.CTE, exp.Subquery)) else None
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return tuple(c.name for c in alias.columns)
    return ()


def _select_outputs(select: exp.Select, items: list[_Item]) -> _Names:
    renamed = _alias_columns(select)
    if renamed:
        return renamed
    if any(item.star is not None for item in items):
        return None
    return tuple(item.name for item in items)


def _set_outputs(scope: Scope, outputs: dict[int, _Names]) -> _Names:
    return _alias_columns(scope.expression) or outputs.get(id(_branches(scope)[0].expression))


def _known(
    scope: Scope, columns_of: _TableColumns, outputs: dict[int, _Names]
) -> dict[str, _Names]:
    """Each selected source's column names, None where they are unknown or open."""
    known: dict[str, _Names] = {}
    for alias, (node, source) in scope.selected_sources.items():
        alias_columns = node.args.get("alias")
        if isinstance(alias_columns, exp.TableAlias) and alias_columns.columns:
            known[alias] = tuple(c.name for c in alias_columns.columns)
        elif isinstance(source, exp.Table):
            known[alias] = columns_of(source)
        elif isinstance(source, Scope):
            known[alias] = outputs.get(id(source.expression))
        else:
            known[alias] = None
    return known


def _no_columns(_: exp.Table) -> _Names:
    return None


def _clause(column: exp.Expr, select: exp.Select) -> str | None:
    """Which clause of ``select`` holds ``column`` ("expressions" for the projections)."""
    node: exp.Expr | None = column
    while node is not None and node.parent is not select:
        node = node.parent
    return node.arg_key if node is not None else None


# Clauses where a bare name that is also an output alias means the alias (ORDER BY in every
# dialect; GROUP BY, HAVING and QUALIFY where dbt models use it); elsewhere, a source column.
_ALIAS_CLAUSES = frozenset({"group", "having", "qualify", "order"})


@dataclass
class _Qualified:
    """What the SQL alone says about each query: its sources' columns and its outputs."""

    known: dict[int, dict[str, _Names]] = field(default_factory=dict)  # by scope
    outputs: dict[int, _Names] = field(default_factory=dict)  # by query expression
    columns: dict[int, list[exp.Column]] = field(default_factory=dict)  # by scope


def _qualify(scopes: list[Scope]) -> _Qualified:
    """Qualify every column by its source's alias, from the SQL alone; never raises.

    Upstream columns play no part, so nothing that depends on qualifiers (canonical text,
    logic, grain, column expressions) moves when an upstream model's columns change. Our own
    pass rather than sqlglot's qualify_columns, which raises whenever a source's columns are
    unknown, the common case here.
    """
    done = _Qualified()
    for scope in scopes:
        query = scope.expression
        if isinstance(query, exp.SetOperation):
            done.outputs[id(query)] = _set_outputs(scope, done.outputs)
        elif isinstance(query, exp.Select):
            known = _known(scope, _no_columns, done.outputs)
            done.known[id(scope)] = known
            done.columns[id(scope)] = _qualify_scope(scope, query, known)
            done.outputs[id(query)] = _select_outputs(query, _select_items(query, known))
    return done


def _qualify_scope(scope: Scope, select: exp.Select, known: dict[str, _Names]) -> list[exp.Column]:
    """Qualify the columns of one SELECT; returns every column it looked at."""
    aliases = {p.alias: p for p in select.selects if isinstance(p, exp.Alias)}
    unknown = [alias for alias, columns in known.items() if columns is None]
    # Scope.columns leaves out HAVING and QUALIFY columns (alias or column?); decide here.
    clauses = [select.args.get("having"), select.args.get("qualify")]
    columns = list(scope.columns)
    columns.extend(
        column
        for clause in clauses
        if isinstance(clause, exp.Expr)
        for column in clause.find_all(exp.Column)
        if column.find_ancestor(exp.Select) is select
    )
    listing = [(alias, frozenset(names)) for alias, names in known.items() if names]
    for column in columns:
        if column.table or isinstance(column.this, exp.Star):
            continue
        name = column.name
        owners = [alias for alias, names in listing if name in names]
        if len(owners) > 1:
            continue  # ambiguous: the warehouse would reject it too
        if owners:
            owner = owners[0]
        elif name in aliases and (
            _clause(column, select) in _ALIAS_CLAUSES or _lateral(name, aliases[name])
        ):
            continue  # an output alias (QUALIFY rn = 1, GROUP BY month, a lateral reference)
        elif len(known) == 1:
            # The only source: the column is its, whether or not its known columns list it
            # (a broken reference then, which lineage must still point at).
            owner = next(iter(known))
        elif len(unknown) == 1:
            owner = unknown[0]  # the one source whose columns the SQL does not show
        else:
            continue  # several sources could hold it: upstream columns decide its lineage
        column.set("table", exp.to_identifier(owner))
    return columns


def _lateral(name: str, projection: exp.Alias) -> bool:
    """A bare name is a lateral reference to ``projection``'s alias (`a * 2 AS b, b + 1`)
    unless that projection itself reads a column of the name, which is then a source's."""
    return not any(c.name == name for c in projection.this.find_all(exp.Column))


def _drop_redundant_aliases(tables: list[exp.Table]) -> None:
    # "orders AS orders" reads as "orders"; the alias carries nothing there.
    for table in tables:
        alias = table.args.get("alias")
        if not isinstance(alias, exp.TableAlias) or alias.columns:
            continue
        if alias.name == table.name:
            table.set("alias", None)


def _function_case(glot: Dialect, dialect: str | None) -> str | bool:
    # Function names are case-insensitive except in ClickHouse (the dialects whose
    # generators keep them as written, like BigQuery, would otherwise differ on case).
    return glot.NORMALIZE_FUNCTIONS if dialect == "clickhouse" else "upper"


def _sql(node: exp.Expr, dialect: str | None) -> str:
    # copy=False: the generator's own copy would double the cost. Rendering in the dialect
    # the SQL was parsed in leaves nodes as they are.
    glot = Dialect.get_or_raise(dialect)
    return glot.generate(
        node, copy=False, comments=False, normalize_functions=_function_case(glot, dialect)
    )


class _Render:
    """The SQL text of nodes of a prepared tree: each subtree is generated once.

    Logic fragments, the canonical query and column expressions all show the same nodes;
    their texts are remembered, by node, for the length of one analysis. Column references
    can be swapped for the text of what they stand for, so an expression with CTE columns
    substituted is rendered from the original nodes: no copies, and each CTE column's text
    is rendered once and reused as text.

    Hooks into the generator's per-instance dispatch table (sqlglot is pinned; subclassing
    is no option, as the compiled sqlglotc forbids it). Not thread-safe: one per thread and
    dialect (see _renderer). The generator rewrites in place a few constructs a dialect
    lacks (QUALIFY in Postgres, DISTINCT ON in Snowflake); a node's first text is the one
    remembered, and the order of rendering is fixed, so texts stay deterministic.
    """

    def __init__(self, dialect: str | None) -> None:
        glot = Dialect.get_or_raise(dialect)
        self.generator = glot.generator(
            comments=False, normalize_functions=_function_case(glot, dialect)
        )
        self.swaps: dict[int, str] = {}
        self.dirty: set[int] = set()  # nodes whose text a swap changes: never remembered
        # id -> (node, text); holding the node keeps its id from being reused meanwhile.
        self.texts: dict[int, tuple[exp.Expr, str]] = {}
        dispatch = {
            kind: self._remembered(handler) for kind, handler in self.generator._dispatch.items()
        }
        column, swaps = dispatch[exp.Column], self.swaps

        def column_sql(generator: Generator, node: exp.Expr) -> str:
            swapped = swaps.get(id(node))
            return column(generator, node) if swapped is None else swapped

        dispatch[exp.Column] = column_sql
        self.generator._dispatch = dispatch

    def _remembered(self, handler: Callable[..., str]) -> Callable[[Generator, exp.Expr], str]:
        texts, dirty = self.texts, self.dirty

        def render(generator: Generator, node: exp.Expr) -> str:
            key = id(node)
            if key in dirty:
                return handler(generator, node)
            known = texts.get(key)
            if known is not None and known[0] is node:
                return known[1]
            text: str = handler(generator, node)
            texts[key] = (node, text)
            return text

        return render

    def sql(self, node: exp.Expr, swaps: Sequence[tuple[exp.Expr, str]] = ()) -> str:
        """``node``'s text, each (column, text) of ``swaps`` (columns under it) shown as text."""
        if not swaps:
            return self.generator.generate(node, copy=False)
        for column, text in swaps:
            self.swaps[id(column)] = text
            # Its text and every ancestor's up to node differ from what is remembered.
            ancestor: exp.Expr | None = column
            while ancestor is not None and id(ancestor) not in self.dirty:
                self.dirty.add(id(ancestor))
                ancestor = None if ancestor is node else ancestor.parent
        try:
            return self.generator.generate(node, copy=False)
        finally:
            self.swaps.clear()
            self.dirty.clear()

    def reset(self) -> None:
        self.texts.clear()
        self.swaps.clear()
        self.dirty.clear()


_RENDERERS = threading.local()


@contextmanager
def _renderer(dialect: str | None) -> Iterator[_Render]:
    """A renderer for ``dialect``, this thread's own, its memory of texts emptied after use."""
    free: dict[str | None, _Render] | None = getattr(_RENDERERS, "free", None)
    if free is None:
        free = _RENDERERS.free = {}
    render = free.pop(dialect, None) or _Render(dialect)
    try:
        yield render
    finally:
        render.reset()
        free[dialect] = render


def canonical_expression(sql: str, dialect: str | None) -> str:
    """Canonical SQL of one expression (YAML tests, column expressions); raw text if unparsable.

    >>> canonical_expression("Amount  > 0 -- positive", "postgres")
    'amount > 0'
    """
    name = _dialect(dialect)
    with _quiet_sqlglot():
        try:
            tree = sqlglot.parse_one(sql, read=name)
            _normalise(tree, Dialect.get_or_raise(name))
            return _sql(tree, name)
        except Exception:  # unparsable text is still comparable, as whitespace-normalised text
            return " ".join(sql.split())


def analyse_query(
    sql: str, dialect: str | None, upstream: Mapping[str, Sequence[str] | None] | None = None
) -> SqlAnalysis | SqlFailure:
    """Analyse the final SELECT of ``sql``; a SqlFailure says why when it cannot.

    ``upstream`` maps a relation key (as written in FROM, case-folded; a qualified name falls
    back to its last part) to its column names, or None when they are unknown. It expands
    stars, traces lineage, and names columns a query reads that their relation does not
    output; it never changes the canonical text, logic, grain or column expressions.
    """
    name = _dialect(dialect)
    with _quiet_sqlglot():
        statements = _parse_statements(sql, name)
        if isinstance(statements, str):
            return SqlFailure(f"cannot parse SQL: {statements}")
        query = _final_query(statements)
        if query is None:
            return SqlFailure("no SELECT statement found")
        return _analyse_owned(query, name, upstream or {})


def _analyse(
    query: exp.Query, dialect: str | None, upstream: Mapping[str, Sequence[str] | None]
) -> SqlAnalysis:
    glot = Dialect.get_or_raise(dialect)
    tree, walked = _prepare(query, dialect, glot)
    scopes = traverse_scope(tree)
    if not scopes:
        raise ValueError("not a query")
    root = scopes[-1]

    # The SQL alone (no upstream columns) decides everything that must not move when upstream
    # columns change: qualifiers, canonical text, logic, grain, column expressions.
    qualified = _qualify(scopes)
    relations = sorted(
        {
            _relation_key(source, glot)
            for scope in scopes
            for source in scope.sources.values()
            if isinstance(source, exp.Table) and not source.meta.get("cte")
        }
    )
    _drop_redundant_aliases([table for scope in scopes for table in scope.tables])
    with _renderer(dialect) as render:
        for scope in scopes:
            if isinstance(scope.expression, exp.Select):
                _sort_group_keys(scope.expression, render)
        logic = _logic(root, render, walked.subqueries)
        grain, distinct = _grain(root.expression, render)
        canonical = render.sql(tree)

        # Upstream columns then expand stars, trace lineage and find broken references.
        resolver = _Resolver(scopes, qualified, render, dialect, glot, upstream)
        columns, closed = resolver.outputs(root)
        diagnostics = resolver.diagnostics(scopes, qualified)
    return SqlAnalysis(
        columns=columns,
        closed=closed,
        logic=tuple(sorted(logic)),
        grain=grain,
        distinct=distinct,
        canonical=canonical,
        relations=tuple(relations),
        diagnostics=diagnostics,
    )


def _sort_group_keys(select: exp.Select, render: _Render) -> None:
    # GROUP BY a, b and GROUP BY b, a make the same groups: one canonical order.
    group = select.args.get("group")
    if isinstance(group, exp.Group) and len(group.expressions) > 1:
        group.set("expressions", sorted(group.expressions, key=render.sql))


def _set_operation_name(node: exp.SetOperation) -> str:
    kind = {exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT"}.get(
        type(node), node.key.upper()
    )
    return f"{kind} {'DISTINCT' if node.args.get('distinct') else 'ALL'}"


def _branches(scope: Scope) -> list[Scope]:
    """The SELECT scopes of a set operation, left to right (a SELECT is its own branch)."""
    if isinstance(scope.expression, exp.SetOperation) and scope.set_operation_scopes:
        return [leaf for child in scope.set_operation_scopes for leaf in _branches(child)]
    return [scope]


def _source_text(node: exp.Expr, render: _Render, derived: bool = True) -> str:
    """A FROM/JOIN item with derived tables shown by alias: their bodies have own fragments.

    ``derived``: whether the query has subqueries at all (if not, none need looking for)."""
    if isinstance(node, exp.Subquery) and node.alias:
        return render.sql(exp.Table(this=exp.to_identifier(node.alias)))
    if not derived or isinstance(node, exp.Table) or node.find(exp.Subquery) is None:
        return render.sql(node)
    out = node.copy()
    for sub in list(out.find_all(exp.Subquery)):
        if isinstance(sub.parent, (exp.From, exp.Join)) and sub.alias:
            replacement = exp.Table(this=exp.to_identifier(sub.alias))
            if sub is out:
                return render.sql(replacement)
            sub.replace(replacement)
    return render.sql(out)


def _logic(root: Scope, render: _Render, derived: bool = True) -> list[tuple[str, str]]:
    """Named canonical fragments of every clause that decides which rows come out."""
    fragments: list[tuple[str, str]] = []

    def emit(prefix: str, clause: str, node: exp.Expr | None) -> None:
        if node is not None:
            fragments.append((f"{prefix}{clause}", render.sql(node)))

    def visit(scope: Scope, prefix: str, is_root: bool) -> None:
        query = scope.expression
        for child in scope.cte_scopes:
            cte = child.expression.parent
            name = cte.alias if isinstance(cte, exp.CTE) else "cte"
            visit(child, f"{name}.", False)
        for child in scope.table_scopes:
            parent = child.expression.parent
            if isinstance(parent, exp.Subquery) and parent.alias:
                visit(child, f"{parent.alias}.", False)
        if isinstance(query, exp.SetOperation):
            fragments.append((f"{prefix}set operation", _set_operation_name(query)))
            for i, branch in enumerate(_branches(scope), 1):
                visit(branch, f"{prefix}branch_{i}.", False)
        elif isinstance(query, exp.Select):
            from_ = query.args.get("from_")
            if isinstance(from_, exp.From):
                fragments.append((f"{prefix}from", _source_text(from_.this, render, derived)))
            for join in query.args.get("joins") or []:
                fragments.append((f"{prefix}join", _source_text(join, render, derived)))
            where = query.args.get("where")
            emit(prefix, "where", where.this if isinstance(where, exp.Where) else None)
            having = query.args.get("having")
            emit(prefix, "having", having.this if isinstance(having, exp.Having) else None)
            qualify = query.args.get("qualify")
            emit(prefix, "qualify", qualify.this if isinstance(qualify, exp.Qualify) else None)
            if not is_root:
                # At the root these are the columns and the grain, reported on their own.
                fragments.append(
                    (f"{prefix}select", ", ".join(render.sql(p) for p in query.selects))
                )
                grain, _ = _grain(query, render)
                if grain:
                    fragments.append((f"{prefix}grain", grain))
        if isinstance(query, exp.Query):
            order = query.args.get("order")
            if isinstance(order, exp.Order):
                keys = ", ".join(render.sql(key) for key in order.expressions)
                fragments.append((f"{prefix}order by", keys))
            limit = query.args.get("limit")
            emit(prefix, "limit", limit.expression if isinstance(limit, exp.Limit) else None)
            offset = query.args.get("offset")
            emit(prefix, "offset", offset.expression if isinstance(offset, exp.Offset) else None)

    visit(root, "", True)
    return fragments


def _has_aggregate(select: exp.Select) -> bool:
    """An aggregate of this SELECT itself (not a window's, not a nested subquery's)."""
    return bool(select.meta_get(_AGGREGATES))


def _grain(query: exp.Expr, render: _Render) -> tuple[str | None, bool]:
    """(canonical grain, distinct) of a query: what one output row stands for."""
    if isinstance(query, exp.SetOperation):
        distinct = bool(query.args.get("distinct"))
        op = _set_operation_name(query).split()[0].lower()
        return (f"{op} distinct" if distinct else None), distinct
    if not isinstance(query, exp.Select):
        return None, False
    parts: list[str] = []
    group = query.args.get("group")
    if isinstance(group, exp.Group):
        if group.args.get("all"):
            parts.append("group by: all")
        else:
            keys = [
                render.sql(_group_key(node, query))
                for arg in ("expressions", "grouping_sets", "cube", "rollup")
                for node in (group.args.get(arg) or [])
                if isinstance(node, exp.Expr)
            ]
            # Key order does not change the grain.
            parts.append("group by: " + ", ".join(sorted(keys)))
    elif _has_aggregate(query):
        parts.append("single row")
    distinct_node = query.args.get("distinct")
    if isinstance(distinct_node, exp.Distinct):
        on = distinct_node.args.get("on")
        parts.append(f"distinct on: {render.sql(on)}" if on is not None else "distinct")
    return ("; ".join(parts) or None), isinstance(distinct_node, exp.Distinct)


def _group_key(key: exp.Expr, select: exp.Select) -> exp.Expr:
    """A GROUP BY key as the expression it stands for: `GROUP BY 2` and `GROUP BY month`
    (an output alias) mean the projection itself, so rewriting one as the other is no change.
    """
    projections = select.selects
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.name)
        if 1 <= position <= len(projections):
            return projections[position - 1].unalias()
    if isinstance(key, exp.Column) and not key.table:
        for projection in projections:
            if isinstance(projection, exp.Alias) and projection.alias == key.name:
                inner = projection.this
                return inner if isinstance(inner, exp.Expr) else key
    return key


@dataclass(slots=True)
class _Text:
    """An expression's canonical text with CTE and derived-table columns substituted."""

    text: str
    top: exp.Expr  # the node at its top once substitutions are followed (its visible type)
    size: int  # nodes, substituted ones included


# Where a substituted expression needs parentheses to keep its precedence.
_OPERATORS = (exp.Binary, exp.Unary, exp.Predicate)
_ATOMIC = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Null, exp.Boolean, exp.Window)


class _Resolver:
    """Traces columns through CTEs and subqueries to base relations, memoised per scope.

    Texts come from the qualified SQL alone; upstream columns expand stars, decide the lineage
    of names the SQL leaves ambiguous, and reveal references to columns a relation lacks.
    """

    def __init__(
        self,
        scopes: list[Scope],
        qualified: _Qualified,
        render: _Render,
        dialect: str | None,
        glot: Dialect,
        upstream: Mapping[str, Sequence[str] | None],
    ) -> None:
        self.scopes = {id(scope.expression): scope for scope in scopes}
        self.sql_known = qualified.known
        self.render = render
        self.dialect = dialect
        self.glot = glot
        self.upstream = upstream
        self.spelling: dict[str, str] = {}  # normalised upstream name -> as upstream spells it
        self.listed: dict[str, _Names] = {}  # relation key -> its normalised upstream columns
        self.relations: dict[int, str] = {}  # table node -> relation key
        self.memo: dict[tuple[int, str], tuple[_Text | None, _Lineage]] = {}
        self.unresolved: set[str] = set()
        self.missing: set[tuple[str, str]] = set()  # (column, relation) it is not an output of
        self.star_notes: list[str] = []
        # Sources' columns, output columns and query outputs, knowing upstream columns.
        self.known: dict[int, dict[str, _Names]] = {}
        self.items: dict[int, list[_Item]] = {}
        self.named: dict[int, dict[str, _Item]] = {}  # a projection as written, by output name
        self.query_outputs: dict[int, _Names] = {}
        for scope in scopes:
            query = scope.expression
            if isinstance(query, exp.SetOperation):
                self.query_outputs[id(query)] = _set_outputs(scope, self.query_outputs)
            elif isinstance(query, exp.Select):
                known = _known(scope, self.table_columns, self.query_outputs)
                items = _select_items(query, known)
                self.known[id(scope)] = known
                self.items[id(scope)] = items
                named: dict[str, _Item] = {}
                for item in items:
                    if item.projection is not None:
                        named.setdefault(item.name, item)
                self.named[id(scope)] = named
                self.query_outputs[id(query)] = _select_outputs(query, items)

    def relation(self, table: exp.Table) -> str:
        key = self.relations.get(id(table))
        if key is None:
            key = self.relations[id(table)] = _relation_key(table, self.glot)
        return key

    def relation_columns(self, key: str) -> _Names:
        if key not in self.listed:
            listed = _lookup(self.upstream, key)
            names: _Names = None
            if listed is not None:
                normalised = []
                for column in listed:
                    name = _upstream_name(column, self.dialect)
                    self.spelling.setdefault(name, column)
                    normalised.append(name)
                names = tuple(normalised)
            self.listed[key] = names
        return self.listed[key]

    def table_columns(self, table: exp.Table) -> _Names:
        if table.meta.get("cte"):
            return None
        return self.relation_columns(self.relation(table))

    def table_lineage(self, table: exp.Table, name: str, key: str) -> _Lineage:
        """A column of a base relation, noted when the relation's known columns lack it."""
        relation = self.relation(table)
        listed = self.relation_columns(relation)
        if listed is not None and name not in listed:
            self.missing.add((name, relation))
        return frozenset({(relation, key)})

    # -- texts and lineage ----------------------------------------------------------------

    def expr(self, node: exp.Expr) -> tuple[_Text, _Lineage]:
        """``node``'s text with derived-table columns replaced by what produces them."""
        lineage: set[tuple[str, str]] = set()
        swaps: list[tuple[exp.Expr, str]] = []
        size = 0
        top = node
        for column in node.dfs():
            size += 1
            if not isinstance(column, exp.Column) or isinstance(column.this, exp.Star):
                continue
            substitute, found = self.reference(column)
            lineage |= found
            if substitute is None:
                continue
            text = substitute.text
            size += substitute.size - 1 - len(column.parts)  # the column and its names
            if isinstance(column.parent, _OPERATORS) and not isinstance(substitute.top, _ATOMIC):
                text = f"({text})"
                size += 1
            swaps.append((column, text))
            if column is node:
                top = substitute.top
        return _Text(self.render.sql(node, swaps), top, size), frozenset(lineage)

    def capped(self, node: exp.Expr) -> tuple[_Text | None, _Lineage]:
        text, lineage = self.expr(node)
        return (None if text.size > _MAX_SUBSTITUTED_NODES else text), lineage

    def reference(self, column: exp.Column) -> tuple[_Text | None, _Lineage]:
        """What a column reference stands for (None: itself) and the base columns it reads."""
        source = self.source(column)
        if source is None:
            if column.table:
                return None, _NO_LINEAGE  # a qualifier we cannot see: a struct, an outer query
            return self.unqualified(column)
        if isinstance(source, exp.Table):
            key = _fold_identifier(column.this, self.glot)
            return None, self.table_lineage(source, column.name, key)
        return self.column(source, column.name)

    def source(self, column: exp.Column) -> exp.Table | Scope | None:
        """What ``column``'s qualifier names, looked up from its own query outwards."""
        qualifier = column.table
        if not qualifier:
            return None
        select = column.find_ancestor(exp.Select)
        return _lookup_source(
            self.scopes.get(id(select)) if select is not None else None, qualifier
        )

    def unqualified(self, column: exp.Column) -> tuple[_Text | None, _Lineage]:
        # A lateral reference to an earlier projection's alias, or a column of one of several
        # sources: upstream columns say which one (for lineage; the text stays as written).
        substitute, lineage = self.alias_reference(column)
        if substitute is not None:
            return substitute, lineage
        name = column.name
        select = column.find_ancestor(exp.Select)
        scope = self.scopes.get(id(select)) if select is not None else None
        known = self.known.get(id(scope), {}) if scope is not None else {}
        owners = [alias for alias, names in known.items() if names and name in names]
        if not owners:
            owners = [alias for alias, names in known.items() if names is None]
        if scope is None or len(owners) != 1:
            self.unresolved.add(name)
            return None, _NO_LINEAGE
        source = scope.selected_sources[owners[0]][1]
        if isinstance(source, exp.Table):
            return None, self.table_lineage(source, name, _fold_identifier(column.this, self.glot))
        if isinstance(source, Scope):
            return None, self.column(source, name)[1]
        return None, _NO_LINEAGE

    def alias_reference(self, column: exp.Column) -> tuple[_Text | None, _Lineage]:
        select = column.find_ancestor(exp.Select)
        if select is None:
            return None, _NO_LINEAGE
        for projection in select.selects:
            if (
                isinstance(projection, exp.Alias)
                and projection.alias == column.name
                and all(node is not column for node in projection.this.walk())
            ):
                key = (id(select), f"alias {column.name}")
                if key in self.memo:
                    return self.memo[key]
                self.memo[key] = (None, _NO_LINEAGE)
                self.memo[key] = result = self.expr(projection.this)
                return result
        return None, _NO_LINEAGE

    def column(self, scope: Scope, name: str) -> tuple[_Text | None, _Lineage]:
        """Column ``name`` of a CTE or derived table: its text (None: keep the reference)."""
        key = (id(scope), name)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = (None, _NO_LINEAGE)  # a recursive CTE reaching itself stops here
        self.memo[key] = result = self._column(scope, name)
        return result

    def _column(self, scope: Scope, name: str) -> tuple[_Text | None, _Lineage]:
        query = scope.expression
        if isinstance(query, exp.SetOperation):
            branches = _branches(scope)
            first = self.items.get(id(branches[0]), [])
            names = [item.name for item in first if item.star is None]
            if name not in names or any(item.star is not None for item in first):
                return None, _NO_LINEAGE
            index = names.index(name)
            lineage: set[tuple[str, str]] = set()
            for branch in branches:
                items = self.items.get(id(branch), [])
                if index < len(items) and not any(item.star is not None for item in items):
                    lineage |= self.item(branch, items[index], cap=True)[1]
            return None, frozenset(lineage)  # one expression per branch: keep the reference
        if not isinstance(query, exp.Select):
            return None, _NO_LINEAGE
        items = self.items.get(id(scope), [])
        renamed = _alias_columns(query)
        if renamed:
            # `WITH c (a, b) AS (...)`: names by position.
            if name not in renamed:
                return None, _NO_LINEAGE
            index = renamed.index(name)
            if index >= len(items) or any(item.star is not None for item in items[: index + 1]):
                return None, _NO_LINEAGE
            return self.item(scope, items[index], cap=True)
        item = self.named.get(id(scope), {}).get(name)
        if item is not None:
            return self.item(scope, item, cap=True)
        return self.through_star(scope, query, name)

    def item(self, scope: Scope, item: _Item, cap: bool) -> tuple[_Text | None, _Lineage]:
        node = item.projection.unalias() if item.projection is not None else item.replacement
        if node is not None:
            return self.capped(node) if cap else self.expr(node)
        return self.star_column(scope, item.source, item.column)

    def star_column(self, scope: Scope, alias: str, name: str) -> tuple[_Text, _Lineage]:
        """Column ``name`` of source ``alias``, as a star brings it: no node spells it."""
        source = scope.sources.get(alias)
        lineage = _NO_LINEAGE
        substitute = None
        if isinstance(source, exp.Table):
            lineage = self.table_lineage(source, name, _fold_name(name, self.glot))
        elif isinstance(source, Scope):
            substitute, lineage = self.column(source, name)
        if substitute is None:
            node = exp.column(name, table=alias)
            substitute = _Text(self.render.sql(node), node, 3)  # a column and its two names
        return substitute, lineage

    def through_star(
        self, scope: Scope, select: exp.Select, name: str
    ) -> tuple[_Text | None, _Lineage]:
        """A column no projection names: it can only come through a star of ``select``."""
        # Every (source, its column, REPLACE expression) a star could bring as ``name``.
        candidates: list[tuple[str, str, exp.Expr | None]] = []
        for projection in select.selects:
            if not _is_star(projection):
                continue
            targets, excluded, replaced, renamed, coalesced = _star_parts(
                select, projection, list(self.known.get(id(scope), {}))
            )
            original = next((old for old, new in renamed.items() if new == name), name)
            if original != name or name not in renamed:
                candidates.extend(
                    (target, original, replaced.get(original))
                    for target in targets
                    if original not in excluded and original not in coalesced.get(target, ())
                )
        if not candidates:
            return None, _NO_LINEAGE
        # The SQL alone decides the text: the one source a star could bring it from, or the
        # one whose columns the SQL shows to hold it.
        sql_known = self.sql_known.get(id(scope), {})
        chosen = candidates if len(candidates) == 1 else []
        if not chosen:
            chosen = [c for c in candidates if _name_in(sql_known.get(c[0]), c[1])]
        if len(chosen) == 1:
            target, original, replacement = chosen[0]
            if replacement is not None:
                return self.capped(replacement)
            text, lineage = self.star_column(scope, target, original)
            return (None if text.size > _MAX_SUBSTITUTED_NODES else text), lineage
        # Several could: upstream columns decide the lineage (the first source listing it,
        # as a star's duplicates resolve), else every source whose columns are unknown.
        known = self.known.get(id(scope), {})
        listing = [c for c in candidates if _name_in(known.get(c[0]), c[1])]
        maybe = listing[:1] or [c for c in candidates if known.get(c[0]) is None]
        found: set[tuple[str, str]] = set()
        for target, original, replacement in maybe:
            if replacement is not None:
                found |= self.expr(replacement)[1]
            else:
                found |= self.star_column(scope, target, original)[1]
        return None, frozenset(found)

    # -- the query's own columns ------------------------------------------------------------

    def outputs(self, root: Scope) -> tuple[tuple[SqlColumn, ...], bool]:
        """Output columns with expressions and lineage; False when a star stayed unexpanded."""
        branches = _branches(root)
        first = self.items.get(id(branches[0]), [])
        aligned = [
            (branch, items)
            for branch in branches
            if len(items := self.items.get(id(branch), [])) == len(first)
            and not any(item.star is not None for item in items)
        ]
        query = root.expression
        op = _set_operation_name(query) if isinstance(query, exp.SetOperation) else None
        columns: list[SqlColumn] = []
        closed = True
        for index, item in enumerate(first):
            if item.star is not None:
                closed = False
                self.note_star(branches[0], item.star)
                continue
            resolved = [self.item(branch, items[index], cap=False) for branch, items in aligned]
            if not resolved:
                resolved = [self.item(branches[0], item, cap=False)]
            texts = [text.text for text, _ in resolved if text is not None]
            expression = texts[0] if len(texts) == 1 or not op else f"{op}({', '.join(texts)})"
            tops = [text.top for text, _ in resolved if text is not None]
            types = [_visible_type(top, self.dialect, self.render) for top in tops]
            first_type = types[0] if types else None
            name, quoted = self.output_name(branches[0], item, index)
            columns.append(
                SqlColumn(
                    name=name,
                    data_type=first_type if set(types) - {None} == {first_type} else None,
                    expression=expression,
                    lineage=tuple(sorted(set().union(*(lineage for _, lineage in resolved)))),
                    quoted=quoted,
                )
            )
        return tuple(columns), closed

    def output_name(
        self, scope: Scope, item: _Item, index: int, depth: int = 0
    ) -> tuple[str, bool]:
        """(name as written, case-sensitive): a star's column is named where it is written,
        in a CTE or subquery, or as its upstream spells it."""
        if item.projection is not None:
            return _output_name(item.projection, index, self.glot, self.spelling)
        source = scope.sources.get(item.source)
        if isinstance(source, Scope) and item.name == item.column and depth < 50:
            inner = _branches(source)[0]
            for position, candidate in enumerate(self.items.get(id(inner), [])):
                if candidate.star is None and candidate.name == item.column:
                    return self.output_name(inner, candidate, position, depth + 1)
        ident = exp.to_identifier(item.name)
        quoted = bool(ident.quoted) and self.glot.case_sensitive(item.name)
        written = self.spelling.get(item.name)
        if written is None:
            written = item.name if quoted else item.name.lower()
        return written, quoted

    def note_star(self, scope: Scope, star: exp.Expr) -> None:
        unknown = sorted(self.unknown_behind_star(scope, star))
        shown = _sql(star, self.dialect)
        if unknown:
            self.star_notes.extend(
                f"cannot expand {shown}: the columns of {name} are unknown" for name in unknown
            )
        else:
            self.star_notes.append(f"cannot expand {shown}")

    def unknown_behind_star(self, scope: Scope, star: exp.Expr, depth: int = 0) -> set[str]:
        """Relations whose unknown columns keep ``star`` from expanding."""
        unknown: set[str] = set()
        if depth > 50 or not isinstance(scope.expression, exp.Select):
            return unknown
        targets = _star_parts(scope.expression, star, list(self.known.get(id(scope), {})))[0]
        for target in targets:
            source = scope.sources.get(target)
            if isinstance(source, exp.Table):
                if self.table_columns(source) is None:
                    unknown.add(self.relation(source))
            elif isinstance(source, Scope):
                if self.query_outputs.get(id(source.expression)) is not None:
                    continue
                first = _branches(source)[0]
                for item in self.items.get(id(first), []):
                    if item.star is not None:
                        unknown |= self.unknown_behind_star(first, item.star, depth + 1)
        return unknown

    def diagnostics(self, scopes: list[Scope], qualified: _Qualified) -> tuple[str, ...]:
        # Every column the query reads from a base relation, not only those it outputs. A
        # scope comes before its parents: a correlated column is looked up from its own.
        seen: set[int] = set()
        for scope in scopes if self.upstream else ():
            for column in qualified.columns.get(id(scope), []):
                qualifier = column.table
                if not qualifier or id(column) in seen:
                    continue
                seen.add(id(column))
                source = _lookup_source(scope, qualifier)
                if isinstance(source, exp.Table):
                    self.table_lineage(source, column.name, "")
        return (
            *self.star_notes,
            *(
                f"column {name} is not an output of {relation}"
                for name, relation in sorted(self.missing)
            ),
            *(
                f"column {name} is ambiguous: qualify it or give the upstream columns"
                for name in sorted(self.unresolved)
            ),
        )


def _lookup_source(scope: Scope | None, qualifier: str) -> exp.Table | Scope | None:
    """What a qualifier names, from ``scope`` outwards."""
    while scope is not None:
        found = scope.sources.get(qualifier)
        if found is not None:
            return found
        scope = scope.parent
    return None


def _name_in(names: _Names, name: str) -> bool:
    return names is not None and name in names


def _is_star(projection: exp.Expr) -> bool:
    node = projection.unalias()
    return isinstance(node, exp.Star) or (
        isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
    )


def _lookup(upstream: Mapping[str, Sequence[str] | None], key: str) -> Sequence[str] | None:
    for candidate in (key, key.lower(), key.rsplit(".", 1)[-1], key.rsplit(".", 1)[-1].lower()):
        if candidate in upstream:
            return upstream[candidate]
    return None


def _visible_type(expr: exp.Expr, dialect: str | None, render: _Render) -> str | None:
    """The type an expression visibly has: an outer cast, or a literal's own type."""
    while isinstance(expr, exp.Paren):
        expr = expr.this
    if isinstance(expr, exp.Cast) and isinstance(expr.to, exp.DataType):
        if expr.to.this == DType.USERDEFINED:
            return None
        # Keyed by the type's text in the dialect (rendered with the expression already): a
        # model casts to few distinct types, each made canonical once.
        key = (render.sql(expr.to), dialect)
        if key not in _CAST_TYPES:
            if len(_CAST_TYPES) >= 4096:
                _CAST_TYPES.clear()
            _CAST_TYPES[key] = _render(_canonical_tree(expr.to, dialect), dialect)
        return _CAST_TYPES[key]
    if isinstance(expr, exp.Boolean):
        return _named_type("BOOLEAN", dialect)
    if isinstance(expr, exp.Literal):
        if expr.is_string:
            return _named_type("TEXT", dialect)
        if expr.is_int:
            return _named_type("INT", dialect)
    return None


_CAST_TYPES: dict[tuple[str, str | None], str] = {}


@lru_cache(maxsize=256)
def _named_type(text: str, dialect: str | None) -> str | None:
    return normalize_type(text, dialect)


def _output_name(
    projection: exp.Expr, index: int, glot: Dialect, spelling: dict[str, str]
) -> tuple[str, bool]:
    """(name as written, case-sensitive) of an output column."""
    alias = projection.args.get("alias") if isinstance(projection, exp.Alias) else None
    ident = alias if isinstance(alias, exp.Identifier) else None
    if ident is None:
        inner = projection.unalias()
        ident = inner.this if isinstance(inner, exp.Column) else None
    if not isinstance(ident, exp.Identifier):
        return _projection_name(projection, index), False
    normalised = ident.name
    quoted = bool(ident.quoted) and glot.case_sensitive(normalised)
    written = ident.meta.get(_WRITTEN)
    inner = projection.unalias()
    if written is None and isinstance(inner, exp.Column) and inner.name == normalised:
        written = inner.this.meta.get(_WRITTEN) if isinstance(inner.this, exp.Identifier) else None
    if written is None:
        written = spelling.get(normalised)
    if written is None:
        # Written nowhere we can see (sqlglot named it): show the folded form.
        written = normalised if quoted else normalised.lower()
    return str(written), quoted


# ---------------------------------------------------------------------------------------------
# DDL scripts (plain SQL projects)
# ---------------------------------------------------------------------------------------------

RelationKind = Literal["table", "view", "materialized_view"]
# A canonical expression that is one qualified column and nothing else.
_BARE_COLUMN = re.compile(r'^(?:[\w$]+|"[^"]+"|`[^`]+`)(?:\.(?:[\w$]+|"[^"]+"|`[^`]+`))+$')


@dataclass(frozen=True)
class DdlColumn:
    """A column as declared by CREATE TABLE / ALTER TABLE (or derived from a view's query)."""

    name: str  # as written
    data_type: str | None  # normalize_type of the declared type; the raw text if not understood
    not_null: bool = False  # NOT NULL, or part of the primary key
    primary_key: bool = False  # the primary key is this column alone
    unique: bool = False  # a unique key is this column alone
    checks: tuple[str, ...] = ()  # canonical CHECK conditions on this column alone
    references: str | None = None  # "table.column" (relation key, column key)
    quoted: bool = False  # the name is case-sensitive
    line: int | None = None


@dataclass(frozen=True)
class DdlRelation:
    """The net schema of one relation after every statement of a script."""

    name: str  # relation key: case-folded, schema-qualified only where the script qualifies it
    kind: RelationKind
    columns: tuple[DdlColumn, ...]
    primary_key: tuple[str, ...]  # column keys, in key order
    unique_keys: tuple[tuple[str, ...], ...]  # sorted; single-column ones included
    query: SqlAnalysis | None  # views and CREATE TABLE AS: the analysis of the SELECT
    line: int  # 1-based line of the statement that created it
    checks: tuple[str, ...] = ()  # canonical CHECK conditions over several columns


@dataclass
class _Building:
    """A relation while the script is replayed (private and mutable; frozen on the way out)."""

    name: str
    kind: RelationKind
    line: int
    columns: list[DdlColumn] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    query: SqlAnalysis | None = None
    # Named constraints, so DROP CONSTRAINT can undo them: name -> (kind, columns or check).
    constraints: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def index(self, key: str) -> int | None:
        for i, column in enumerate(self.columns):
            if _column_key(column) == key:
                return i
        return None

    def freeze(self) -> DdlRelation:
        single_unique = {key[0] for key in self.unique_keys if len(key) == 1}
        pk = self.primary_key
        columns = tuple(
            replace(
                column,
                primary_key=pk == (_column_key(column),),
                not_null=column.not_null or _column_key(column) in pk,
                unique=_column_key(column) in single_unique,
            )
            for column in self.columns
        )
        return DdlRelation(
            name=self.name,
            kind=self.kind,
            columns=columns,
            primary_key=pk,
            unique_keys=tuple(sorted(set(self.unique_keys))),
            query=self.query,
            line=self.line,
            checks=tuple(sorted(set(self.checks))),
        )


def _column_key(column: DdlColumn) -> str:
    return column.name if column.quoted else column.name.lower()


def _ident_key(node: exp.Expr | None, glot: Dialect) -> str:
    """The key of a column named by an Identifier or Column node."""
    if isinstance(node, exp.Column):
        node = node.this
    return _fold_identifier(node if isinstance(node, exp.Identifier) else None, glot)


def _identifiers(node: exp.Expr | None) -> list[exp.Expr]:
    """The column names a key or constraint lists (Schema, Tuple, bare list...)."""
    if node is None:
        return []
    if isinstance(node, (exp.Identifier, exp.Column)):
        return [node]
    if isinstance(node, exp.Ordered):
        return _identifiers(node.this)
    return [n for e in node.expressions for n in _identifiers(e)]


def _canonical_sql(node: exp.Expr, dialect: str | None) -> str:
    tree = node.copy()
    _normalise(tree, Dialect.get_or_raise(dialect))
    return _sql(tree, dialect)


def _declared_type(kind: exp.Expr | None, dialect: str | None) -> str | None:
    if not isinstance(kind, exp.DataType):
        return None
    raw = kind.sql(dialect=dialect)
    return normalize_type(raw, dialect) or raw


def _reference(node: exp.Expr | None, glot: Dialect, position: int = 0) -> str | None:
    """ "table.column" for a REFERENCES clause (the column at ``position`` of its list)."""
    if not isinstance(node, exp.Reference):
        return None
    target = node.this
    table = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table, exp.Table):
        return None
    relation = _relation_key(table, glot)
    columns = _identifiers(target) if isinstance(target, exp.Schema) else []
    if position < len(columns):
        return f"{relation}.{_ident_key(columns[position], glot)}"
    return relation


def _column_def(node: exp.ColumnDef, dialect: str | None, glot: Dialect) -> DdlColumn:
    ident = node.this
    name = ident.name if isinstance(ident, exp.Identifier) else node.name
    not_null = primary = unique = False
    checks: list[str] = []
    references = None
    for constraint in node.constraints:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint):
            not_null = not kind.args.get("allow_null")  # a bare NULL says nullable
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            primary = True
        elif isinstance(kind, exp.UniqueColumnConstraint):
            unique = True
        elif isinstance(kind, exp.CheckColumnConstraint) and isinstance(kind.this, exp.Expr):
            checks.append(_canonical_sql(kind.this, dialect))
        elif isinstance(kind, exp.Reference):
            references = _reference(kind, glot)
    line = ident.meta.get("line") if isinstance(ident, exp.Identifier) else None
    return DdlColumn(
        name=name,
        data_type=_declared_type(node.args.get("kind"), dialect),
        not_null=not_null or primary,
        primary_key=primary,
        unique=unique,
        checks=tuple(sorted(set(checks))),
        references=references,
        quoted=isinstance(ident, exp.Identifier)
        and bool(ident.quoted)
        and glot.case_sensitive(name),
        line=line if isinstance(line, int) else None,
    )


def _add_column(building: _Building, column: DdlColumn) -> None:
    key = _column_key(column)
    if building.index(key) is not None:
        return  # ADD COLUMN IF NOT EXISTS on an existing column (or a duplicate)
    building.columns.append(replace(column, primary_key=False, unique=False))
    if column.primary_key:
        building.primary_key = (key,)
    if column.unique:
        building.unique_keys.append((key,))


def _apply_constraint(
    building: _Building, node: exp.Expr, dialect: str | None, glot: Dialect, name: str = ""
) -> None:
    """A table-level constraint (CREATE TABLE body or ALTER TABLE ADD CONSTRAINT)."""
    if isinstance(node, exp.Constraint):
        for inner in node.expressions:
            _apply_constraint(building, inner, dialect, glot, node.name)
        return
    if isinstance(node, exp.PrimaryKey):
        keys = tuple(_ident_key(i, glot) for i in _identifiers(node))
        building.primary_key = keys
        if name:
            building.constraints[name] = ("primary key", keys)
    elif isinstance(node, exp.UniqueColumnConstraint):
        keys = tuple(_ident_key(i, glot) for i in _identifiers(node.this))
        if keys:
            building.unique_keys.append(keys)
            if name:
                building.constraints[name] = ("unique", keys)
    elif isinstance(node, exp.ForeignKey):
        keys = tuple(_ident_key(i, glot) for i in _identifiers(node))
        for position, key in enumerate(keys):
            index = building.index(key)
            if index is not None:
                target = _reference(node.args.get("reference"), glot, position)
                building.columns[index] = replace(building.columns[index], references=target)
        if name:
            building.constraints[name] = ("foreign key", keys)
    elif isinstance(node, exp.CheckColumnConstraint) and isinstance(node.this, exp.Expr):
        text = _canonical_sql(node.this, dialect)
        columns = {_ident_key(c, glot) for c in node.this.find_all(exp.Column)}
        index = building.index(next(iter(columns))) if len(columns) == 1 else None
        if index is not None:
            column = building.columns[index]
            building.columns[index] = replace(column, checks=tuple(sorted({*column.checks, text})))
        else:
            building.checks.append(text)
        if name:
            building.constraints[name] = ("check", (text,))


def _drop_constraint(building: _Building, name: str) -> str | None:
    """Undo a named constraint; a diagnostic when the script never named it."""
    found = building.constraints.pop(name, None)
    if found is None:
        if name == f"{building.name.rsplit('.', 1)[-1]}_pkey" and building.primary_key:
            building.primary_key = ()  # PostgreSQL's name for an unnamed primary key
            return None
        return f"{building.name}: DROP CONSTRAINT {name}: no such constraint in this script"
    kind, keys = found
    if kind == "primary key":
        building.primary_key = ()
    elif kind == "unique" and keys in building.unique_keys:
        building.unique_keys.remove(keys)
    elif kind == "foreign key":
        for key in keys:
            index = building.index(key)
            if index is not None:
                building.columns[index] = replace(building.columns[index], references=None)
    elif kind == "check":
        building.checks = [c for c in building.checks if c not in keys]
        building.columns = [
            replace(c, checks=tuple(x for x in c.checks if x not in keys)) for c in building.columns
        ]
    return None


def _drop_column(building: _Building, key: str) -> bool:
    index = building.index(key)
    if index is None:
        return False
    del building.columns[index]
    if key in building.primary_key:
        building.primary_key = ()
    building.unique_keys = [k for k in building.unique_keys if key not in k]
    return True


def _rename_column(
    building: _Building, old: str, new: DdlColumn, dialect: str | None, glot: Dialect
) -> bool:
    index = building.index(old)
    if index is None:
        return False
    key = _column_key(new)
    column = building.columns[index]
    building.columns[index] = replace(column, name=new.name, quoted=new.quoted)
    building.primary_key = tuple(key if k == old else k for k in building.primary_key)
    building.unique_keys = [tuple(key if k == old else k for k in u) for u in building.unique_keys]

    # CHECK conditions name the column too; they must follow it, or a rename reads as a
    # changed check.
    def follow(checks: Sequence[str]) -> list[str]:
        return [_rename_in_check(text, old, new.name, dialect, glot) for text in checks]

    building.checks = follow(building.checks)
    building.columns = [
        replace(c, checks=tuple(sorted(follow(c.checks)))) for c in building.columns
    ]
    return True


def _rename_in_check(text: str, old: str, new: str, dialect: str | None, glot: Dialect) -> str:
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except Exception:  # our own canonical text: parses unless sqlglot cannot round-trip it
        return text
    for column in tree.find_all(exp.Column):
        if _ident_key(column, glot) == old:
            column.set("this", exp.to_identifier(new))
    return _canonical_sql(tree, dialect)


class _Script:
    """Replays a script's DDL statements in order to yield the net schema."""

    def __init__(self, dialect: str | None, upstream: Mapping[str, Sequence[str] | None]) -> None:
        self.dialect = dialect
        self.glot = Dialect.get_or_raise(dialect)
        self.upstream = upstream
        self.relations: dict[str, _Building] = {}
        self.diagnostics: list[str] = []

    def find(self, table: exp.Expr | None) -> str | None:
        """The key of a relation this script created; an unqualified match as a fallback."""
        if not isinstance(table, exp.Table):
            return None
        key = _relation_key(table, self.glot)
        if key in self.relations:
            return key
        bare = [k for k in self.relations if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
        return bare[0] if len(bare) == 1 else None

    def note(self, line: int, message: str) -> None:
        self.diagnostics.append(f"line {line}: {message}")

    def statement(self, node: exp.Expr, line: int) -> None:
        if isinstance(node, exp.Create):
            self.create(node, line)
        elif isinstance(node, exp.Alter):
            self.alter(node, line)
        elif isinstance(node, exp.Drop):
            self.drop(node, line)
        elif isinstance(node, exp.Command) and node.name.upper() in ("CREATE", "ALTER", "DROP"):
            self.note(line, f"{node.name.upper()} statement not understood; skipped")

    def create(self, node: exp.Create, line: int) -> None:
        kind = (node.args.get("kind") or "").upper()
        properties = node.args.get("properties")
        props = properties.expressions if isinstance(properties, exp.Properties) else []
        if kind == "INDEX":
            self.create_index(node, line)
            return
        if kind not in ("TABLE", "VIEW") or any(
            isinstance(p, exp.TemporaryProperty) for p in props
        ):
            return  # schemas, functions, temporary tables: nothing a consumer selects from
        target = node.this
        table = target.this if isinstance(target, exp.Schema) else target
        if not isinstance(table, exp.Table):
            return
        key = _relation_key(table, self.glot)
        if key in self.relations and node.args.get("exists"):
            return  # IF NOT EXISTS: the existing definition stands
        if key in self.relations and not node.args.get("replace"):
            self.note(line, f"{key} created again without OR REPLACE; the later one counts")
        materialized = any(isinstance(p, exp.MaterializedProperty) for p in props)
        relation_kind: RelationKind = (
            "table" if kind == "TABLE" else "materialized_view" if materialized else "view"
        )
        building = _Building(name=key, kind=relation_kind, line=line)
        if isinstance(target, exp.Schema):
            for item in target.expressions:
                if isinstance(item, exp.ColumnDef):
                    _add_column(building, _column_def(item, self.dialect, self.glot))
                elif not isinstance(item, exp.Identifier):
                    _apply_constraint(building, item, self.dialect, self.glot)
        query = node.args.get("expression")
        if isinstance(query, exp.Query):
            self.derive(building, target, query, line)
        self.relations[key] = building

    def derive(self, building: _Building, target: exp.Expr, query: exp.Query, line: int) -> None:
        """Columns of a view or CREATE TABLE AS from its SELECT."""
        known = dict(self.upstream)
        for key, other in self.relations.items():
            known[key] = [c.name for c in other.columns]
        result = _analyse_owned(query, self.dialect, known)
        if isinstance(result, SqlFailure):
            self.note(line, f"{building.name}: {result.reason}")
            return
        building.query = result
        self.diagnostics.extend(f"line {line}: {building.name}: {d}" for d in result.diagnostics)
        if building.columns:
            return  # CREATE TABLE t (a INT, ...) AS SELECT: the declared columns rule
        names = [i for i in target.expressions if isinstance(i, exp.Identifier)]
        if isinstance(target, exp.Schema) and len(names) == len(result.columns):
            # CREATE VIEW v (a, b) AS ...: the list renames the query's columns.
            building.columns = [
                DdlColumn(
                    name=i.name,
                    data_type=c.data_type,
                    quoted=bool(i.quoted) and self.glot.case_sensitive(i.name),
                )
                for i, c in zip(names, result.columns, strict=True)
            ]
        else:
            building.columns = [
                DdlColumn(name=c.name, data_type=c.data_type, quoted=c.quoted)
                for c in result.columns
            ]
        building.columns = [
            replace(column, data_type=column.data_type or self.passthrough_type(source))
            for column, source in zip(building.columns, result.columns, strict=True)
        ]
        if not result.closed:
            self.note(line, f"{building.name}: its column list is incomplete")

    def passthrough_type(self, column: SqlColumn) -> str | None:
        """The declared type of a table column a view passes through unchanged."""
        if len(column.lineage) != 1 or not _BARE_COLUMN.match(column.expression):
            return None
        relation, key = column.lineage[0]
        source = self.relations.get(relation)
        index = source.index(key) if source is not None else None
        return source.columns[index].data_type if source is not None and index is not None else None

    def create_index(self, node: exp.Create, line: int) -> None:
        index = node.this
        if not node.args.get("unique") or not isinstance(index, exp.Index):
            return  # a plain index promises nothing about the data
        key = self.find(index.args.get("table"))
        params = index.args.get("params")
        columns = params.args.get("columns") if isinstance(params, exp.IndexParameters) else None
        if key is None or not columns:
            self.note(line, "CREATE UNIQUE INDEX on a relation this script does not create")
            return
        keys = tuple(_ident_key(i, self.glot) for c in columns for i in _identifiers(c))
        self.relations[key].unique_keys.append(keys)
        if index.name:
            self.relations[key].constraints[index.name] = ("unique", keys)

    def alter(self, node: exp.Alter, line: int) -> None:
        key = self.find(node.this)
        if key is None:
            if not node.args.get("exists"):
                self.note(line, f"ALTER {node.this.sql(dialect=self.dialect)}: not created here")
            return
        building = self.relations[key]
        for action in node.args.get("actions") or []:
            message = self.action(building, action)
            if message:
                self.note(line, f"{building.name}: {message}")

    def action(self, building: _Building, action: exp.Expr) -> str | None:
        glot, dialect = self.glot, self.dialect
        if isinstance(action, exp.ColumnDef):
            _add_column(building, _column_def(action, dialect, glot))
        elif isinstance(action, exp.ModifyColumn) and isinstance(action.this, exp.ColumnDef):
            replacement = _column_def(action.this, dialect, glot)
            index = building.index(_column_key(replacement))
            if index is None:
                return f"MODIFY COLUMN {replacement.name}: no such column"
            building.columns[index] = replacement
        elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
            for column in action.args.get("tables") or []:
                key = _ident_key(column, glot)
                if not _drop_column(building, key) and not action.args.get("exists"):
                    return f"DROP COLUMN {key}: no such column"
        elif (
            isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "CONSTRAINT"
        ):
            for constraint in action.args.get("tables") or []:
                message = _drop_constraint(building, constraint.name)
                if message:
                    return message
        elif isinstance(action, exp.DropPrimaryKey):
            building.primary_key = ()
        elif isinstance(action, exp.RenameColumn):
            new = action.args.get("to")
            new_ident = new.this if isinstance(new, exp.Column) else new
            if not isinstance(new_ident, exp.Identifier):
                return None
            renamed = DdlColumn(
                name=new_ident.name,
                data_type=None,
                quoted=bool(new_ident.quoted) and glot.case_sensitive(new_ident.name),
            )
            old = _ident_key(action.this, glot)
            if not _rename_column(building, old, renamed, dialect, glot):
                return f"RENAME COLUMN {old}: no such column"
        elif isinstance(action, exp.AlterColumn):
            return self.alter_column(building, action)
        elif isinstance(action, exp.AlterRename):
            self.rename(building, action.this)
        elif isinstance(action, exp.AddConstraint):
            for constraint in action.expressions:
                _apply_constraint(building, constraint, dialect, glot)
        return None

    def alter_column(self, building: _Building, action: exp.AlterColumn) -> str | None:
        key = _ident_key(action.this, self.glot)
        index = building.index(key)
        if index is None:
            return f"ALTER COLUMN {key}: no such column"
        column = building.columns[index]
        dtype = action.args.get("dtype")
        if isinstance(dtype, exp.DataType):
            column = replace(column, data_type=_declared_type(dtype, self.dialect))
        allow_null = action.args.get("allow_null")
        if allow_null is not None:
            if not allow_null:
                column = replace(column, not_null=True)  # SET NOT NULL
            elif action.args.get("drop"):
                column = replace(column, not_null=False)  # DROP NOT NULL
        building.columns[index] = column
        return None

    def rename(self, building: _Building, target: exp.Expr) -> None:
        if not isinstance(target, exp.Table):
            return
        new = _relation_key(target, self.glot)
        if "." not in new and "." in building.name:
            new = f"{building.name.rsplit('.', 1)[0]}.{new}"  # RENAME TO keeps the schema
        del self.relations[building.name]
        building.name = new
        self.relations[new] = building

    def drop(self, node: exp.Drop, line: int) -> None:
        if (node.args.get("kind") or "").upper() not in ("TABLE", "VIEW"):
            return
        for table in node.args.get("tables") or []:
            key = self.find(table)
            if key is not None:
                del self.relations[key]
            elif not node.args.get("exists"):
                self.note(line, f"DROP {table.sql(dialect=self.dialect)}: not created here")


def _statements(sql: str, dialect: str | None) -> list[tuple[exp.Expr | None, int, str | None]]:
    """Each statement parsed on its own: (tree or None, line, error), so one bad statement
    costs only itself."""
    glot = Dialect.get_or_raise(dialect)
    try:
        tokens = glot.tokenize(sql)
    except Exception as error:  # an unterminated string or comment: nothing to split on
        return [(None, 1, _error_reason(error))]
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    out: list[tuple[exp.Expr | None, int, str | None]] = []
    for chunk in chunks:
        if not chunk:
            continue
        try:
            parsed = glot.parser(error_level=ErrorLevel.RAISE).parse(chunk, sql)
            out.extend((tree, chunk[0].line, None) for tree in parsed if tree is not None)
        except Exception as error:
            out.append((None, chunk[0].line, _error_reason(error)))
    return out


def parse_ddl_script(
    sql: str,
    dialect: str | None,
    upstream: Mapping[str, Sequence[str] | None] | None = None,
) -> tuple[tuple[DdlRelation, ...], tuple[str, ...]]:
    """The relations a DDL script leaves behind, sorted by name, and diagnostics.

    CREATE [OR REPLACE] TABLE / VIEW / MATERIALIZED VIEW (and AS SELECT), ALTER TABLE
    (ADD / DROP / RENAME / ALTER COLUMN, constraints, RENAME TO), CREATE UNIQUE INDEX and
    DROP are replayed in order; other statements are ignored. ``upstream`` is as for
    analyse_query, for views over relations defined elsewhere.
    """
    name = _dialect(dialect)
    script = _Script(name, upstream or {})
    with _quiet_sqlglot():
        for tree, line, error in _statements(sql, name):
            if tree is None:
                script.note(line, f"cannot parse statement: {error}")
                continue
            try:
                script.statement(tree, line)
            except Exception as error:  # odd but parseable DDL: report it, keep the rest
                script.note(line, f"cannot apply statement: {_error_reason(error)}")
    relations = tuple(b.freeze() for _, b in sorted(script.relations.items()))
    return relations, tuple(script.diagnostics)


def _analyse_owned(
    query: exp.Query, dialect: str | None, upstream: Mapping[str, Sequence[str] | None]
) -> SqlAnalysis | SqlFailure:
    """analyse_query for an already parsed SELECT (one the caller lets us mutate)."""
    if not query.selects:
        return SqlFailure("the SELECT has no columns")
    try:
        return _analyse(query, dialect, upstream)
    except RecursionError:
        return SqlFailure("query too deeply nested to analyse")
    except Exception as error:  # the analysis can fail on odd but valid SQL
        return SqlFailure(f"cannot analyse SQL: {_error_reason(error)}")
