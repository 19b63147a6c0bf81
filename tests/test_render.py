"""The sandboxed dbt renderer: dbt's stubs, incremental branches, macros, and hostile templates."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from semverlint.render import (
    Limits,
    Macro,
    Relation,
    RenderContext,
    RenderedModel,
    Renderer,
    render_model,
)

CTX = RenderContext(project_name="shop")


def render(text: str, ctx: RenderContext = CTX, limits: Limits | None = None) -> RenderedModel:
    return Renderer(ctx, limits).render(text)


def only_sql(text: str, ctx: RenderContext = CTX) -> str:
    rendered = render(text, ctx)
    assert len(rendered.sql) == 1, rendered
    return rendered.sql[0].strip()


# --- dbt's functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ref('orders') }}", "orders"),
        ("{{ ref('stripe', 'charges') }}", "stripe__charges"),
        ("{{ ref('shop', 'orders') }}", "orders"),  # this project's own name: a plain ref
        ("{{ ref('orders', v=2) }}", "orders_v2"),
        ("{{ ref('orders', version='3') }}", "orders_v3"),
        ("{{ source('raw', 'payments') }}", "raw__payments"),
        ("{{ this }}", "__this__"),
        ("{{ ref('orders').identifier }}", "orders"),
        ("{{ ref('orders').include(database=false) }}", "orders"),
        ("{{ target.type }}/{{ target.name }}/{{ target.schema }}", "postgres/dev/analytics"),
        ("{{ execute }}", "False"),
        ("{{ config(materialized='table') }}", ""),
        ("{{ log('hello', info=true) }}{{ print('x') }}", ""),
        ("{{ run_query('select 1') }}", "None"),
        ("{% call statement('x', fetch_result=true) %}select 1{% endcall %}", ""),
        ("{% call set_sql_header(config) %}set x = 1;{% endcall %}", ""),
        ("{{ adapter.quote('a') }}", '"a"'),
        ("{{ adapter.get_columns_in_relation(ref('a')) | length }}", "0"),
        ("{{ modules.datetime.datetime.now().year }}", "2000"),
        ("{{ modules.datetime.date.today() }}", "2000-01-01"),
        ("{{ run_started_at.strftime('%Y') }}", "2000"),
        ("{{ flags.FULL_REFRESH }}", "False"),
        ("{{ tojson({'a': [1, 2]}) }}", '{"a": [1, 2]}'),
        ("{{ fromjson('[1, 2]') | length }}", "2"),
        ("{{ set(['b', 'a', 'b']) | join(',') }}", "a,b"),
        ("{{ zip([1, 2], ['a', 'b']) | list | length }}", "2"),
        ("{{ local_md5('x') }}", "9dd4e461268c8034f5c8564e155c67a6"),
        ("{{ builtins.ref('orders') }}", "orders"),
        ("{{ graph.nodes.values() | list | length }}", "0"),
        ("{{ project_name }}", "shop"),
        ("{{ invocation_id }}", "00000000-0000-0000-0000-000000000000"),
        ("{{ current_timestamp() }}", "current_timestamp"),
        ("{{ dbt.current_timestamp() }}", "current_timestamp"),
        ("{{ dbt.type_string() }}", "text"),
        (
            "{{ type_int() }}|{{ dbt.type_bigint() }}|{{ dbt.type_boolean() }}",
            "integer|bigint|boolean",
        ),
        (
            "{{ dbt.safe_cast('a', api_type) if false else dbt.safe_cast('a', 'int') }}",
            "cast(a as int)",
        ),
        ("{{ dbt.date_trunc('month', 'created_at') }}", "date_trunc('month', created_at)"),
        ("{{ dbt.concat(['a', 'b']) }}", "a || b"),
        ("{{ dbt.hash('a') }}", "md5(cast(a as text))"),
        ('{{ dbt.string_literal("it\'s") }}', "'it''s'"),
        ("{{ dbt_utils.star(from=ref('orders')) }}", "*"),
        ("{{ dbt_utils.star(ref('orders'), except=['a', 'b']) }}", "* EXCEPT (a, b)"),
        ("{{ dbt_utils.star(from=ref('o'), relation_alias='o', except=['a']) }}", "o.* EXCEPT (a)"),
        ("{{ dbt_utils.safe_divide('a', 'b') }}", "( a ) / nullif( ( b ), 0)"),
        ("{{ dbt_utils.safe_add(['a', 'b']) }}", "coalesce(a, 0) + coalesce(b, 0)"),
        ("{{ dbt_utils.group_by(3) }}", "group by 1, 2, 3"),
        (
            "{{ dbt_utils.date_spine('day', \"'2020-01-01'\", \"'2021-01-01'\") }}",
            "select cast('2020-01-01' as date) as date_day",
        ),
        ("{{ dbt_utils.type_string() }}", "text"),  # dbt_utils < 1.0 spelling
        ("{{ shop.type_string() }}", "text"),  # the project's namespace falls back to dbt's
        ("{{ exceptions.raise_compiler_error('bad') }}after", "after"),
    ],
)
def test_stub_renders(template: str, expected: str) -> None:
    assert only_sql(template) == expected


def test_surrogate_key_renders_md5_of_the_fields() -> None:
    sql = only_sql("{{ dbt_utils.generate_surrogate_key(['a', 'b']) }}")
    assert sql == (
        "md5(cast(coalesce(cast(a as text), '_dbt_utils_surrogate_key_null_') || '-' || "
        "coalesce(cast(b as text), '_dbt_utils_surrogate_key_null_') as text))"
    )
    snowflake = RenderContext("shop", target_type="snowflake")
    assert only_sql("{{ dbt_utils.surrogate_key('a') }}", snowflake) == (
        "md5(cast(coalesce(cast(a as varchar), '') as varchar))"
    )


@pytest.mark.parametrize(
    ("template", "expected_sql", "diagnostic"),
    [
        (
            "{{ dbt_utils.pivot('a', ['x']) }}",
            "__macro__dbt_utils__pivot__",
            "unknown macro dbt_utils.pivot: rendered as a placeholder",
        ),
        (
            "{{ dbt_date.get_base_dates(n_dateparts=3) }}",
            "__macro__dbt_date__get_base_dates__",
            "unknown macro dbt_date.get_base_dates: rendered as a placeholder",
        ),
        (
            "{{ fivetran_utils.fill_staging_columns(a, b) }}",
            "__macro__fivetran_utils__fill_staging_columns__",
            "unknown macro fivetran_utils.fill_staging_columns: rendered as a placeholder",
        ),
        (
            "{{ dbt_expectations.foo() }}",
            "__macro__dbt_expectations__foo__",
            "unknown macro dbt_expectations.foo: rendered as a placeholder",
        ),
        (
            "{{ my_unknown_macro(1, x=2) }}",
            "__macro__my_unknown_macro__",
            "unknown macro my_unknown_macro: rendered as a placeholder",
        ),
        (
            "{{ shop.missing_macro() }}",
            "__macro__shop__missing_macro__",
            "unknown macro shop.missing_macro: rendered as a placeholder",
        ),
        (
            "{{ adapter.dispatch('foo', 'pkg')() }}",
            "__macro__pkg__foo__",
            "unknown macro pkg.foo: rendered as a placeholder",
        ),
        (
            "{{ whatever }}",
            "__undefined__whatever__",
            "undefined name whatever: rendered as a placeholder",
        ),
        (
            "{{ model.config.materialized }}",
            "__undefined__model__config__materialized__",
            "undefined name model.config.materialized: rendered as a placeholder",
        ),
        (
            "{{ target.warehouse }}",
            "__undefined__target__warehouse__",
            "undefined name target.warehouse: rendered as a placeholder",
        ),
        (
            "{{ exceptions.raise_compiler_error('unsupported adapter') }}",
            "",
            "exceptions.raise_compiler_error: unsupported adapter",
        ),
        ("{{ exceptions.warn('careful') }}", "", "exceptions.warn: careful"),
        (
            "{{ config.require('unique_key') }}",
            "__config__unique_key__",
            "config.require('unique_key'): not set, rendered as a placeholder",
        ),
        (
            "{{ dbt_utils.get_column_values(ref('a'), 'c') | length }}",
            "0",
            "dbt_utils.get_column_values needs the database: used its default",
        ),
        (
            "{{ dbt_utils.union_relations([ref('a'), ref('b')]) | length > 0 }}",
            "True",
            "dbt_utils.union_relations: the columns of the result depend on the relations "
            "unioned (open)",
        ),
        (
            "{{ dbt_utils.star(ref('a'), prefix='p_') }}",
            "*",
            "dbt_utils.star: prefix, suffix and aliases rename columns the SQL cannot show",
        ),
    ],
)
def test_unknown_things_render_placeholders_with_a_diagnostic(
    template: str, expected_sql: str, diagnostic: str
) -> None:
    rendered = render(template)
    assert rendered.sql == (expected_sql,)
    assert diagnostic in rendered.diagnostics


def test_undefined_names_are_lenient_in_conditions_and_loops() -> None:
    rendered = render(
        "{% if missing_flag %}yes{% else %}no{% endif %}"
        "{% for x in missing_list %}{{ x }}{% endfor %}"
        "{{ missing_value | default('fallback') }}"
        "{{ 'defined' if missing_value is defined else 'undefined' }}"
    )
    assert rendered.sql == ("nofallbackundefined",)


def test_config_calls_merge_and_are_read_back() -> None:
    rendered = render(
        "{{ config(materialized='incremental', unique_key=['id', 'day'], tags=['a'],"
        " meta={'owner': 'x'}, contract={'enforced': true}, access='public') }}"
        "{{ config({'schema': 'marts'}, tags='b', meta={'tier': 1}, alias='o') }}"
        "{{ config.get('materialized') }}|{{ config.get('nope', 'dflt') }}"
        "|{{ config.meta_get('owner') }}|{{ config.require('alias') }}"
    )
    assert rendered.sql == ("incremental|dflt|x|o",)
    assert rendered.config == (
        ("access", "public"),
        ("alias", "o"),
        ("contract", {"enforced": True}),
        ("materialized", "incremental"),
        ("meta", {"owner": "x", "tier": 1}),
        ("schema", "marts"),
        ("tags", ["a", "b"]),
        ("unique_key", ["id", "day"]),
    )
    assert rendered.diagnostics == ()


def test_config_values_are_json_like() -> None:
    rendered = render("{{ config(post_hook=[ref('a')], grants={'select': ('r1', 'r2')}) }}")
    assert dict(rendered.config) == {"post_hook": ["a"], "grants": {"select": ["r1", "r2"]}}


# --- is_incremental ---------------------------------------------------------------------------


INCREMENTAL = """{{ config(materialized='incremental') }}
select * from {{ ref('events') }}
{% if is_incremental() %}
where ts > (select max(ts) from {{ this }})
{% endif %}
"""


def test_incremental_models_render_both_branches_false_first() -> None:
    rendered = render(INCREMENTAL)
    assert len(rendered.sql) == 2
    full, incremental = rendered.sql
    assert "where" not in full
    assert "where ts > (select max(ts) from __this__)" in incremental
    assert rendered.relations == (("events", Relation("ref", "events")),)


@pytest.mark.parametrize(
    "template",
    [
        "select 1",
        "{% if is_incremental() %}{% endif %}select 1",  # asked, but both branches are the same
    ],
)
def test_one_sql_when_the_branches_do_not_differ(template: str) -> None:
    assert render(template).sql == ("select 1",)


def test_relations_seen_only_in_the_incremental_branch_are_listed() -> None:
    rendered = render("select 1 {% if is_incremental() %}from {{ ref('state') }}{% endif %}")
    assert rendered.relations == (("state", Relation("ref", "state")),)


# --- vars and env_var -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected", "diagnostic"),
    [
        ("{{ var('start') }}", "2020-01-01", None),
        ("{{ var('start', '1999') }}", "2020-01-01", None),  # the project's value wins
        ("{{ var('other', '1999') }}", "1999", None),
        ("{{ var('other', none) }}", "None", None),
        ("{{ var('flags')['x'] }}", "1", None),
        ("{{ var.has_var('start') }}/{{ var.has_var('other') }}", "True/False", None),
        (
            "{{ var('other') }}",
            "__var__other__",
            "var other has no value and no default: rendered as a placeholder",
        ),
    ],
)
def test_var(template: str, expected: str, diagnostic: str | None) -> None:
    ctx = RenderContext("shop", vars=(("start", "2020-01-01"), ("flags", {"x": 1})))
    rendered = render(template, ctx)
    assert rendered.sql == (expected,)
    assert rendered.diagnostics == ((diagnostic,) if diagnostic else ())


def test_env_var_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hunter2-do-not-leak"
    monkeypatch.setenv("SEMVERLINT_TEST_SECRET", secret)
    monkeypatch.setenv("DBT_ENV_SECRET_TOKEN", secret)
    rendered = render(
        "{{ env_var('SEMVERLINT_TEST_SECRET') }}|{{ env_var('SEMVERLINT_TEST_SECRET', 'dflt') }}"
        "|{{ env_var('DBT_ENV_SECRET_TOKEN', '') }}"
        "|{{ config(x=env_var('SEMVERLINT_TEST_SECRET')) }}"
    )
    assert secret not in repr(rendered)
    assert rendered.sql == ("__env_var__SEMVERLINT_TEST_SECRET__|dflt||",)
    assert (
        "env_var SEMVERLINT_TEST_SECRET has no default: rendered as a placeholder "
        "(the environment is never read)"
    ) in rendered.diagnostics


# --- relations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "identifier", "relation"),
    [
        ("ref('orders')", "orders", Relation("ref", "orders")),
        ("ref('Orders')", "Orders", Relation("ref", "Orders")),
        ("ref('stripe', 'charges')", "stripe__charges", Relation("ref", "charges", "stripe")),
        ("ref('shop', 'orders')", "orders", Relation("ref", "orders")),
        ("ref('orders', v=2)", "orders_v2", Relation("ref", "orders", version="2")),
        ("ref('pkg', 'orders', v='1')", "pkg__orders_v1", Relation("ref", "orders", "pkg", "1")),
        ("source('raw', 'payments')", "raw__payments", Relation("source", "payments", "raw")),
        (
            "source('raw.stripe', 'payments')",
            "__source__raw_stripe__payments",
            Relation("source", "payments", "raw.stripe"),
        ),
        ("ref('order')", "__ref__order", Relation("ref", "order")),
        ("ref('select')", "__ref__select", Relation("ref", "select")),
        ("ref('user')", "__ref__user", Relation("ref", "user")),
        ("ref('2fa_events')", "__ref__2fa_events", Relation("ref", "2fa_events")),
        ("ref('my-model')", "__ref__my_model", Relation("ref", "my-model")),
    ],
)
def test_relations_map_identifiers_back(call: str, identifier: str, relation: Relation) -> None:
    rendered = render(f"select * from {{{{ {call} }}}}")
    assert rendered.sql == (f"select * from {identifier}",)
    assert rendered.relations == ((identifier, relation),)
    for dialect in ("postgres", "snowflake", "bigquery", "duckdb"):
        tables = [
            t.name for t in sqlglot.parse_one(rendered.sql[0], read=dialect).find_all(exp.Table)
        ]
        assert tables == [identifier]


def test_relations_are_sorted_and_deduplicated() -> None:
    rendered = render(
        "select * from {{ ref('b') }} join {{ source('s', 't') }} join {{ ref('a') }}"
        " join {{ ref('b') }}"
    )
    assert [ident for ident, _ in rendered.relations] == ["a", "b", "s__t"]


def test_relations_that_render_alike_are_reported() -> None:
    rendered = render("{{ ref('a_b') }} {{ ref('a-b') }} {{ ref('x__y') }} {{ ref('x', 'y') }}")
    assert dict(rendered.relations)["x__y"] == Relation("ref", "x__y")
    assert any("both render as x__y" in d for d in rendered.diagnostics)


def test_project_may_override_ref_through_builtins() -> None:
    ctx = RenderContext(
        "shop",
        macros=(
            Macro(
                "macros/ref.sql",
                "{% macro ref(name) %}{{ return(builtins.ref(name)) }}{% endmacro %}",
            ),
        ),
    )
    rendered = render("select * from {{ ref('orders') }}", ctx)
    assert rendered.sql == ("select * from orders",)
    assert rendered.relations == (("orders", Relation("ref", "orders")),)


# --- star and union_relations parse in the dialects the SQL layer reads ------------------------


@pytest.mark.parametrize(
    "dialect",
    ["postgres", "duckdb", "snowflake", "bigquery", "redshift", "databricks", "trino", "tsql"],
)
def test_star_except_convention_parses(dialect: str) -> None:
    sql = only_sql(
        "select {{ dbt_utils.star(from=ref('orders'), except=['a', 'b']) }},"
        " {{ dbt_utils.star(from=ref('c'), relation_alias='c', except=['z']) }}"
        " from {{ ref('orders') }} join {{ ref('c') }} as c on true"
    )
    stars = list(sqlglot.parse_one(sql, read=dialect).find_all(exp.Star))
    assert sorted([c.name for c in star.args["except_"]] for star in stars) == [["a", "b"], ["z"]]


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "duckdb"])
def test_union_relations_parses(dialect: str) -> None:
    ctx = RenderContext("shop", target_type=dialect)
    rendered = render(
        "{{ dbt_utils.union_relations(relations=[ref('a'), source('s', 'b')], exclude=['x']) }}",
        ctx,
    )
    parsed = sqlglot.parse_one(rendered.sql[0], read=dialect)
    assert isinstance(parsed, exp.Union)
    assert sorted(t.name for t in parsed.find_all(exp.Table)) == ["a", "s__b"]
    assert [ident for ident, _ in rendered.relations] == ["a", "s__b"]


@pytest.mark.parametrize("adapter", ["postgres", "snowflake", "bigquery", "duckdb", "redshift"])
def test_cross_database_macros_parse(adapter: str) -> None:
    ctx = RenderContext("shop", target_type=adapter)
    sql = only_sql(
        "select {{ dbt.dateadd('day', 3, 'created_at') }} as a,"
        " {{ dbt.datediff('a', 'b', 'day') }} as b,"
        " {{ dbt.date_trunc('month', 'created_at') }} as c,"
        " {{ dbt.safe_cast('x', dbt.type_int()) }} as d,"
        " {{ dbt.listagg('x', \"','\") }} as e,"
        " {{ dbt.split_part('x', \"','\", 2) }} as f,"
        " {{ dbt.last_day('created_at', 'month') }} as g,"
        " {{ dbt.position(\"'a'\", 'x') }} as h,"
        " {{ dbt.any_value('x') }} as i,"
        " {{ dbt.bool_or('x') }} as j,"
        " {{ dbt_utils.generate_surrogate_key(['a', 'b']) }} as k,"
        " cast(null as {{ dbt.type_timestamp() }}) as l,"
        " {{ dbt.current_timestamp() }} as m"
        " from {{ ref('t') }} group by 1",
        ctx,
    )
    dialect = "postgres" if adapter == "redshift" else adapter
    select = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(select, exp.Select)
    assert select.named_selects == list("abcdefghijklm")


# --- project macros and dispatch -------------------------------------------------------------


MACROS = (
    Macro(
        "macros/money.sql",
        """
{% macro cents_to_dollars(col) %}
{{ return(adapter.dispatch('cents_to_dollars', 'shop')(col)) }}
{% endmacro %}
{% macro default__cents_to_dollars(col) %}({{ col }} / 100)::numeric(16, 2){% endmacro %}
{% macro postgres__cents_to_dollars(col) %}round({{ col }} / 100.0, 2){% endmacro %}
""",
    ),
    Macro(
        "macros/columns.sql",
        """
{% macro column_list() %}{{ return(['id', 'name']) }}{% endmacro %}
{% macro select_columns() -%}
{%- for c in column_list() %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}
{% macro wrapped(x) %}[{{ caller() }}:{{ x }}]{% endmacro %}
{% test positive(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}
{% materialization custom, default %}{{ return({'relations': []}) }}{% endmaterialization %}
""",
    ),
)


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        ("postgres", "round(amount / 100.0, 2)"),
        ("redshift", "round(amount / 100.0, 2)"),  # redshift falls back to postgres__
        ("snowflake", "(amount / 100)::numeric(16, 2)"),  # then default__
    ],
)
def test_project_macros_and_dispatch(adapter: str, expected: str) -> None:
    ctx = RenderContext("shop", target_type=adapter, macros=MACROS)
    renderer = Renderer(ctx)
    assert renderer.diagnostics == ()
    rendered = renderer.render(
        "{{ cents_to_dollars('amount') }}|{{ select_columns() }}|{{ shop.select_columns() }}"
        "|{% call wrapped(1) %}body{% endcall %}"
    )
    assert rendered.sql == (f"{expected}|id, name|id, name|[body:1]",)
    assert rendered.diagnostics == ()


def test_dispatch_falls_back_to_the_builtin_cross_database_macros() -> None:
    assert only_sql("{{ adapter.dispatch('type_string', 'dbt')() }}") == "text"
    assert only_sql("{{ adapter.dispatch('star', 'dbt_utils')(ref('a'), except=['x']) }}") == (
        "* EXCEPT (x)"
    )


def test_macro_problems_are_diagnostics_of_the_renderer() -> None:
    ctx = RenderContext(
        "shop",
        macros=(
            Macro("macros/broken.sql", "{% macro broken( %}x{% endmacro %}"),
            Macro("macros/a.sql", "{% macro twice() %}a{% endmacro %}"),
            Macro("macros/b.sql", "{% macro twice() %}b{% endmacro %}"),
            Macro(
                "macros/c.sql",
                "{% macro config() %}{% endmacro %}{% macro fine() %}ok{% endmacro %}",
            ),
        ),
    )
    renderer = Renderer(ctx)
    assert [d.split(":")[0] for d in renderer.diagnostics] == [
        "macro twice is defined in macros/a.sql and macros/b.sql",
        "macros/broken.sql",
        "macros/c.sql",
    ]
    assert "macros/c.sql: macro config is ignored: semverlint keeps its own config" in (
        renderer.diagnostics
    )
    rendered = renderer.render("{{ twice() }}{{ fine() }}{{ config(materialized='view') }}")
    assert rendered.sql == ("bok",)
    assert rendered.config == (("materialized", "view"),)
    # the one-shot form reports the macro problems with the model
    assert set(renderer.diagnostics) <= set(render_model("select 1", ctx).diagnostics)


def test_macro_files_run_nothing_but_their_macros_when_called(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    escape = f"{{{{ cycler.__init__.__globals__.os.system('touch {canary}') }}}}"
    ctx = RenderContext(
        "shop",
        macros=(
            Macro("macros/top.sql", escape + "{% macro ok() %}ok{% endmacro %}"),
            Macro("macros/evil.sql", "{% macro evil() %}" + escape + "{% endmacro %}"),
            Macro("macros/bad.sql", "{% macro bad() %}{{ 1 | no_such_filter }}{% endmacro %}"),
        ),
    )
    renderer = Renderer(ctx)
    assert renderer.diagnostics == ()  # top-level text of a macro file is ignored, as in dbt
    assert renderer.render("{{ ok() }}").sql == ("ok",)
    evil = renderer.render("{{ evil() }}")
    assert evil.sql == ()
    assert evil.diagnostics[0].startswith("template could not be rendered safely: ")
    bad = renderer.render("{{ ok() }}{{ bad() }}")
    assert bad.sql == ()
    assert bad.diagnostics[0].startswith(
        "template could not be rendered: macro bad in macros/bad.sql could not be loaded: "
    )
    assert not canary.exists()


def test_return_outside_a_macro_is_a_diagnostic() -> None:
    rendered = render("{{ return(1) }}")
    assert rendered.sql == ()
    assert rendered.diagnostics == ("return() used outside a macro",)


def test_snapshot_blocks_render_their_body() -> None:
    rendered = render(
        "{% snapshot orders_snapshot %}{{ config(strategy='check') }}"
        "select * from {{ source('raw', 'orders') }}{% endsnapshot %}"
    )
    assert rendered.sql == ("select * from raw__orders",)
    assert rendered.config == (("strategy", "check"),)


# --- lists, dicts and sets changed in place -----------------------------------------------------

SMALL = Limits(
    max_output_chars=100_000,
    max_value_chars=100_000,
    max_allocated_chars=1_000_000,
    max_operations=50_000,
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% set l = [] %}{% do l.append('a') %}{% do l.append('b') %}{{ l | join(',') }}", "a,b"),
        (
            "{% set l = ['c'] %}{% do l.extend(['a', 'b']) %}{% do l.sort() %}{{ l }}",
            "['a', 'b', 'c']",
        ),
        (
            "{% set l = [1, 2, 3] %}{% do l.insert(0, 0) %}{% do l.remove(2) %}"
            "{{ l.pop() }}{{ l }}",
            "3[0, 1]",
        ),
        ("{% set l = [1, 2] %}{% do l.reverse() %}{% do l.clear() %}{{ l }}", "[]"),
        (
            "{% set d = {} %}{% do d.update({'a': 1}) %}{% do d.update(b=2) %}{{ d }}",
            "{'a': 1, 'b': 2}",
        ),
        (
            "{% set d = {} %}{% do d.update([('a', 1)]) %}{{ d.setdefault('z', 9) }}{{ d }}",
            "9{'a': 1, 'z': 9}",
        ),
        ("{% set d = {'a': 1} %}{% do d.pop('a') %}{{ d }}", "{}"),
        (
            "{% set s = set(['b']) %}{% do s.add('a') %}{% do s.update(['c', 'a']) %}"
            "{{ s | join }}",
            "abc",
        ),
        ("{% set s = set(['b', 'a']) %}{% do s.discard('b') %}{{ s }}", "{'a'}"),
        ("{% set ns = namespace(cols=[]) %}{% do ns.cols.append('x') %}{{ ns.cols }}", "['x']"),
        ("{{ (set(['c', 'a', 'b']) - set(['x'])) | join }}", "abc"),  # still a stable set
        ("{{ set(['c', 'a']).union(['b']) | join }}", "abc"),
        ("{% set d = {'b': 1, 'a': 2} %}{{ (d.keys() - ['x']) | join }}", "ab"),
        ("{% set l = [] %}{% do l.append(l) %}{% do l.append(l) %}{{ l }}", "[[...], [...]]"),
    ],
)
def test_plain_containers_may_change_in_place(template: str, expected: str) -> None:
    assert only_sql(template) == expected


COLUMN_MACROS = (
    Macro(
        "macros/cols.sql",
        """
{% macro renamed(names, prefix) %}
  {% set cols = [] %}
  {% for name in names %}{% do cols.append(name ~ ' as ' ~ prefix ~ name) %}{% endfor %}
  {{ return(cols) }}
{% endmacro %}
{% macro options(extra) %}
  {% set out = {'materialized': 'view'} %}
  {% do out.update(extra) %}
  {{ return(out) }}
{% endmacro %}
""",
    ),
)


def test_macros_that_build_lists_and_dicts_render() -> None:
    rendered = render(
        "{{ config(**options({'materialized': 'table', 'tags': ['t']})) }}"
        "select {{ renamed(['a', 'b'], 'x_') | join(', ') }} from {{ ref('src') }}",
        RenderContext("shop", macros=COLUMN_MACROS),
    )
    assert rendered.sql == ("select a as x_a, b as x_b from src",)
    assert rendered.config == (("materialized", "table"), ("tags", ["t"]))
    assert rendered.diagnostics == ()


def test_changes_to_vars_and_graph_stay_in_one_render() -> None:
    ctx = RenderContext("shop", vars=(("cols", ["a"]), ("opts", {"k": [1]})))
    template = (
        "{% do var('cols').append('b') %}{% do var('opts')['k'].append(2) %}"
        "{% do graph.nodes.update({'x': 1}) %}{% do selected_resources.append('y') %}"
        "{{ var('cols') | join }}/{{ var('opts') }}/{{ graph.nodes | length }}"
        "/{{ selected_resources | length }}{% if is_incremental() %}!{% endif %}"
    )
    renderer = Renderer(ctx)
    first = renderer.render(template)
    # both is_incremental() branches and the next render start from the project's values
    assert first.sql == ("ab/{'k': [1, 2]}/1/1", "ab/{'k': [1, 2]}/1/1!")
    assert renderer.render(template) == first
    assert ctx.vars == (("cols", ["a"]), ("opts", {"k": [1]}))


def test_a_self_referencing_var_is_copied() -> None:
    looped: list[object] = ["a"]
    looped.append(looped)
    rendered = render(
        "{{ var('l') | length }}{{ var('l')[1][1][0] }}",
        RenderContext("shop", vars=(("l", looped),)),
    )
    assert rendered.sql == ("2a",)


def test_other_mutable_objects_stay_immutable() -> None:
    from collections import OrderedDict, UserList, deque

    env = Renderer(CTX)._rt.env
    for obj, attr in ((deque(), "append"), (UserList(), "append"), (OrderedDict(), "update")):
        assert not env.is_safe_attribute(obj, attr, getattr(obj, attr))
    assert env.is_safe_attribute([], "append", [].append)


MUTATION_BOMBS = [
    # item counts: past _MAX_ITEMS (100,000) however the items arrive
    (
        "{% set l = [] %}{% for i in range(100000) %}{% do l.append(i) %}{% endfor %}"
        "{% do l.append(0) %}",
        "100000 items",
        None,
    ),
    (
        "{% set l = ['x'] %}{% for i in range(40) %}{% do l.extend(l) %}{% endfor %}",
        "100000 items",
        None,
    ),
    ("{% set l = [0] %}{% for x in l %}{% do l.append(x) %}{% endfor %}", "100000 items", None),
    (
        "{% set s = set([]) %}{% do s.update(range(100000)) %}{% do s.add(-1) %}",
        "100000 items",
        None,
    ),
    (
        "{% set d = {} %}{% for i in range(100000) %}{% do d.setdefault(i) %}{% endfor %}"
        "{% do d.setdefault(-1) %}",
        "100000 items",
        None,
    ),
    (
        "{% set d = {} %}{% do d.update(zip(range(100000), range(100000))) %}"
        "{% do d.update(a=1) %}",
        "100000 items",
        None,
    ),
    # characters: the same big string appended again and again
    (
        "{% set s = 'x' * 60000 %}{% set l = [] %}"
        "{% for i in range(9) %}{% do l.append(s) %}{% endfor %}",
        "a value larger than 100000 characters",
        SMALL,
    ),
    (
        "{% set s = 'x' * 60000 %}{% set d = {} %}{% do d.update(a=s) %}{% do d.update(b=s) %}",
        "a value larger than 100000 characters",
        SMALL,
    ),
    # operations: appends are calls and spend the budget
    (
        "{% set l = [] %}"
        "{% for i in range(60000) %}{% do l.append(1) %}{% do l.pop() %}{% endfor %}",
        "more than 50000 operations",
        SMALL,
    ),
    # a container that grew after it was put in another, then flattened every way
    *(
        (
            "{% set a = [] %}{% set b = [a] * 1000 %}"
            "{% for i in range(20) %}{% do a.append('x' * 1000) %}{% endfor %}" + use,
            "a value larger than 100000 characters",
            SMALL,
        )
        for use in (
            "{{ b }}",
            "{{ b ~ '' }}",
            "{{ '%s' % (b,) }}",
            "{{ '{}'.format(b) }}",
            "{{ tojson(b) }}",
            "{{ b | string }}",
            "{{ b | pprint }}",
            "{{ b | tojson }}",
            "{{ ref(b) }}",
            "{% set c = [] %}{% do c.append(b) %}",
            "{% set c = [] %}{% do c.extend(b) %}",
        )
    ),
    (
        "{% set ns = namespace(s='') %}{% set l = [ns] * 1000 %}{% set ns.s = 'x' * 1000 %}{{ l }}",
        "a value larger than 100000 characters",
        SMALL,
    ),
    (
        "{% set d = {'a': 'x' * 1000} %}{% set l = [d.items()] * 1000 %}{{ l }}",
        "larger than 100000 characters",
        SMALL,
    ),
]


@pytest.mark.parametrize(("template", "reason", "limits"), MUTATION_BOMBS)
def test_mutation_bombs_stop_with_a_diagnostic(
    template: str, reason: str, limits: Limits | None
) -> None:
    rendered = render(template, limits=limits)
    assert rendered.sql == ()
    assert len(rendered.diagnostics) == 1, rendered.diagnostics
    assert reason in rendered.diagnostics[0], rendered.diagnostics


def test_nothing_prints_a_memory_address() -> None:
    template = (
        "{{ ref }}|{{ adapter }}|{{ range }}|{{ ''.upper }}|{{ cycler(1) }}|{{ zip }}"
        "|{{ ref ~ '' }}|{{ joiner() | string }}|{{ dbt_utils }}|{{ set(['b', 'a']) }}"
    )
    sql = only_sql(template)
    assert "0x" not in sql
    assert sql.endswith("|{'a', 'b'}")
    # text that only looks like an address is left alone
    kept = "{{ 'at 0x1F>' | upper }}|{{ ['located at 0x1F>'] }}|{{ 'at 0x1F>' ~ '' }}"
    assert only_sql(kept) == "AT 0X1F>|['located at 0x1F>']|at 0x1F>"


def test_sets_print_and_iterate_alike_whatever_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    script = (
        "from semverlint.render import RenderContext, render_model\n"
        "t = \"{{ set(['delta', 'alpha', 'charlie', 'bravo']) }}{{ set(['x', 'y', 'z']) | join }}"
        "{{ ({'q': 1, 'p': 2, 'r': 3}.keys() - ['p']) | list }}\"\n"
        "print(render_model(t, RenderContext('shop')).sql)\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert outputs == {"(\"{'alpha', 'bravo', 'charlie', 'delta'}xyz['q', 'r']\",)\n"}


# --- hostile and broken templates ------------------------------------------------------------


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch {canary}') }}",
    "{{ joiner.__init__.__globals__.os.popen('touch {canary}').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch {canary}') }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config.__class__.__init__.__globals__ }}",
    "{{ '{0.__class__.__mro__}'.format(1) }}",
    "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}",
    "{{ ''['__class__'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ '%s'|format(''.__class__) }}",
    "{{ (range(3)|map('string')).gi_frame.f_globals }}",
    "{{ ref.__self__ }}",
    "{{ builtins.ref.__func__.__globals__ }}",
    "{{ adapter._rt }}",
    "{{ dbt_utils._rt }}",
    "{{ this._sql }}",
    "{{ modules.datetime.datetime.mro() }}",
    "{{ run_started_at.__class__.__mro__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ undefined_name.__class__ }}",
    "{{ undefined_name['__globals__'] }}",
    "{{ ''.format.__self__ }}",
    "{% set l = [2, 1] %}{% set m = [] %}{% do l.sort(key=m.append) %}",
    "{% set l = [2, 1] %}{% do l.sort(key=cycler) %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}{% do [].append(1) %}",
    "{{ [].append.__self__ }}",
    "{{ {}.update.__self__.__class__ }}",
]


@pytest.mark.parametrize("payload", SANDBOX_ESCAPES)
def test_sandbox_escapes_become_diagnostics(payload: str, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    rendered = render(payload.replace("{canary}", str(canary)))
    assert not canary.exists()
    assert rendered.sql == ()
    assert len(rendered.diagnostics) == 1
    assert rendered.diagnostics[0].startswith("template could not be rendered safely: ")


@pytest.mark.parametrize(
    ("template", "diagnostic"),
    [
        ("{% import 'os' as os %}", "template could not be rendered: TypeError: no loader"),
        ("{% include '/etc/passwd' %}", "template could not be rendered: TypeError: no loader"),
        ("{% extends '/etc/passwd' %}", "template could not be rendered: TypeError: no loader"),
    ],
)
def test_no_file_is_ever_read(template: str, diagnostic: str) -> None:
    rendered = render(template)
    assert rendered.sql == ()
    assert rendered.diagnostics[0].startswith(diagnostic)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 'a' * 10**9 }}", "a repetition would be larger"),
        ("{{ ['a'] * 10**9 }}", "a repetition would be larger"),
        ("{{ 'a'.center(10**9) }}", "str.center would be larger"),
        ("{{ 'a'.ljust(10**9) }}", "str.ljust would be larger"),
        ("{{ '\t'.expandtabs(10**9) }}", "str.expandtabs would be larger"),
        ("{{ ('a' * 50000).replace('', 'bb') }}", "str.replace would be larger"),
        ("{{ ('a' * 1000).join(['b'] * 1000) }}", "str.join would be larger"),
        ("{{ '%999999999s' % 'a' }}", "a %-format result would be larger"),
        ("{{ '%*s' % (10**9, 'a') }}", "a %-format result would be larger"),
        ("{{ '{:>999999999}'.format('a') }}", "a str.format result would be larger"),
        ("{{ 'x'|center(1000000000) }}", "the center filter would be larger"),
        ("{{ 'x'|indent(10**9) }}", "the indent filter would be larger"),
        ("{{ '%999999999s'|format('a') }}", "a %-format result would be larger"),
        ("{{ ('x' * 1000)|join('y' * 1000) }}", "the join filter would be larger"),
        ("{{ 2 ** 10000000 }}", "an integer larger than"),
        ("{{ ('9' * 5000)|int }}", "the int filter on a string longer than 4000"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "a value larger than",
        ),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "a concatenation would be larger",
        ),
        (
            "{% set a = ['x' * 10000] %}{% set b = [a, a, a, a] %}{% set c = [b, b, b, b] %}"
            "{% set d = [c, c, c, c] %}{{ d }}",
            "a value larger than",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 10 }}{% endfor %}", "output larger than"),
        (
            "{% set x %}{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}",
            "characters built",
        ),
        ("{{ range(1000)|map('center', 90000)|list }}", "characters built"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "more than 50000 operations",
        ),
        (
            "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "more than 50000 operations",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion too deep"),
        ("{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}", "recursion too deep"),
        ("{{ range(10**10) }}", "Range too big"),
    ],
)
def test_bombs_stop_with_a_diagnostic(template: str, reason: str) -> None:
    rendered = render(template, limits=SMALL)
    assert rendered.sql == ()
    assert len(rendered.diagnostics) == 1
    assert reason in rendered.diagnostics[0]


def test_default_limits_stop_an_output_bomb_quickly() -> None:
    rendered = render("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")
    assert rendered.diagnostics == ("rendering stopped: output larger than 5000000 characters",)


@pytest.mark.parametrize(
    ("template", "start"),
    [
        ("select {{ ref('a' }}", "template could not be parsed: line 1: "),
        ("{% if x %}select 1", "template could not be parsed: line 1: "),
        ("{% for %}", "template could not be parsed: line 1: "),
        ("select 1\n{{ }}", "template could not be parsed: line 2: "),
        ("{% endmacro %}", "template could not be parsed: line 1: "),
        ("{{ x | no_such_filter }}", "template could not be parsed: line 1: "),
        ("{{ 1 + none }}", "template could not be rendered: TypeError: "),
        ("{{ missing + 1 }}", "template could not be rendered: "),
        ("{{ {'a': 1}['b'] + 1 }}", "template could not be rendered: "),
        ("{{ 1 / 0 }}", "template could not be rendered: ZeroDivisionError: "),
    ],
)
def test_broken_templates_become_diagnostics(template: str, start: str) -> None:
    rendered = render(template)
    assert rendered.sql == ()
    assert len(rendered.diagnostics) == 1
    assert rendered.diagnostics[0].startswith(start), rendered.diagnostics


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "{{",
                "}}",
                "{%",
                "%}",
                "{#",
                "#}",
                "if",
                "endif",
                "for",
                "in",
                "endfor",
                "x",
                "ref(",
                "'a'",
                ")",
                "(",
                ",",
                "config",
                ".",
                "__class__",
                "[",
                "]",
                "|",
                "*",
                "macro",
                "endmacro",
                "set",
                "=",
                "~",
                "10**9",
                "is_incremental()",
                "select",
                "var",
                "loop",
                "return",
                "caller",
                "call",
                "endcall",
                "-",
                "\n",
                " ",
            ]
        ),
        max_size=40,
    )
)
def test_any_text_renders_without_raising(tokens: list[str]) -> None:
    rendered = render("".join(tokens), limits=SMALL)
    assert isinstance(rendered, RenderedModel)
    assert rendered.sql or rendered.diagnostics


# --- determinism --------------------------------------------------------------------------------


def test_rendering_is_deterministic() -> None:
    template = INCREMENTAL + (
        "{{ set(['c', 'a', 'b']) | join }} {{ unknown() }} {{ dbt_date.x() }} {{ var('q') }}"
        "{{ modules.datetime.datetime.now() }} {{ run_started_at }}"
    )
    first = render_model(template, RenderContext("shop", macros=MACROS))
    assert first == render_model(template, RenderContext("shop", macros=MACROS))
    renderer = Renderer(RenderContext("shop", macros=MACROS))
    assert renderer.render(template) == renderer.render(template) == first
    assert list(first.diagnostics) == sorted(set(first.diagnostics))
