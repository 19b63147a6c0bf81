"""The renderer's fast path (``_scan``, ``_Straight``) renders exactly as jinja's compiled code.

Every case of test_render.py runs again here with each render checked against a renderer
that compiles every template (``Renderer(..., fast=False)``); a generated dbt project
(base and reformatted) and a list of varied templates are rendered both ways too, and the
fast reader of ``{{ ... }}`` templates must build the very tree jinja's parser builds.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semverlint.render import (
    Limits,
    Macro,
    RenderContext,
    RenderedModel,
    Renderer,
    _scan,
    _Straight,
)
from test_render import *  # noqa: F403  (each of its cases runs here too, cross-checked)
from test_render import MACROS as RENDER_MACROS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _every_render_cross_checked() -> Iterator[None]:
    """Each Renderer.render in this module also renders with fast=False and compares.

    Module-scoped, so that hypothesis tests may use it."""
    original = Renderer.render

    def checked(self: Renderer, text: str) -> RenderedModel:
        rendered = original(self, text)
        if self._rt.fast:
            reference = Renderer(self._rt.ctx, self._rt.limits, fast=False)
            assert original(reference, text) == rendered, text
        return rendered

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Renderer, "render", checked)
        yield


def fast_and_full(text: str, ctx: RenderContext, limits: Limits | None = None) -> RenderedModel:
    # Through the checked render above: the two must agree.
    return Renderer(ctx, limits).render(text)


def takes_fast_path(text: str, ctx: RenderContext | None = None) -> bool:
    renderer = Renderer(ctx or RenderContext("shop"))
    template, _ = renderer._rt.compile_model(text)
    return isinstance(template, _Straight)


def jinja_tree(text: str) -> Any:
    return Renderer(RenderContext("shop"))._rt.env.parse(text)


# --- a generated project: every model, base and reformatted ------------------------------------


def _generator() -> ModuleType:
    path = ROOT / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("semverlint_benchmark_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _generated_project(size: int = 150) -> tuple[dict[str, str], dict[str, str]]:
    """The files of a generated project, and its models reformatted (as the benchmark does)."""
    generate = _generator()
    g = generate.Generator(size, generate.DEFAULT_SEED)
    staging, intermediate = round(size * 0.4), round(size * 0.3)
    g.staging(staging)
    g.derived_layer("intermediate", intermediate, ("staging", "intermediate"))
    g.derived_layer("marts", size - staging - intermediate, ("intermediate", "marts"))
    g.decide_properties()
    return generate.project_files(g), generate.reformat_files(g)


@pytest.fixture(scope="module")
def generated() -> tuple[tuple[Macro, ...], list[str]]:
    files, reformatted = _generated_project()
    macros = tuple(Macro(path, text) for path, text in files.items() if path.startswith("macros/"))
    models = [
        text
        for path, text in sorted(files.items())
        if path.endswith(".sql") and path.startswith("models/")
    ]
    models += [text for _, text in sorted(reformatted.items())]
    return macros, models


@pytest.mark.parametrize("adapter", ["postgres", "bigquery"])
def test_a_generated_project_renders_alike(
    generated: tuple[tuple[Macro, ...], list[str]], adapter: str
) -> None:
    macros, models = generated
    ctx = RenderContext("acme_analytics", target_type=adapter, macros=macros)
    fast, full = Renderer(ctx), Renderer(ctx, fast=False)
    for text in models:
        assert fast.render(text) == full.render(text), text


def test_the_generated_models_take_the_fast_path(
    generated: tuple[tuple[Macro, ...], list[str]],
) -> None:
    macros, models = generated
    ctx = RenderContext("acme_analytics", macros=macros)
    # Each is read without jinja's parser, and runs without generated code.
    assert all(_scan(text) is not None for text in models)
    assert all(takes_fast_path(text, ctx) for text in models)
    assert any("{% if is_incremental() %}" in text for text in models)


# --- varied templates ----------------------------------------------------------------------------

VARIED = [
    "",
    "select 1",
    "select 1\n",
    "select '{' || '}}' as braces, '{ {' as x",
    "{{ ref('orders') }}",
    "select * from {{ ref('orders') }} join {{ source('raw', 'payments') }} using (id)",
    "{{ ref('stripe', 'charges') }} {{ ref('shop', 'orders') }} {{ ref('orders', v=2) }}",
    "{{ ref('orders', version='3') }} {{ ref('a', 'b', 'c') }} {{ ref() }} {{ ref(x=1) }}",
    "{{ source('a') }} {{ source('a', 'b', c='d') }}",
    "{{ ref('order') }} {{ ref('my-model') }} {{ source('raw', 'select') }} {{ ref('1st') }}",
    "{{ ref('a') }} {{ ref('A') }} {{ ref('x', 'a') }} {{ source('x', 'a') }} {{ ref('x__a') }}",
    "{{ config(materialized='table') }}select 1",
    "{{ config(materialized='incremental', unique_key='id', on_schema_change='fail') }}",
    "{{ config(tags=['a', 'b']) }}{{ config(tags='c') }}{{ config(tags=['a', 'd']) }}",
    "{{ config(meta={'owner': 'x', 'n': [1, 2]}) }}{{ config(meta={'more': true}) }}",
    "{{ config({'materialized': 'view'}) }}{{ config('nope') }}{{ config(enabled=false) }}",
    "{{ config(x=none, y=True, z=False, w=None, n=0, m=12) }}",
    "{{ config(materialized='table') }}{{ config.get('materialized') }}",
    "{{ config.require('unique_key') }} {{ config.get('missing', 'dflt') }}",
    "{{ this }} {{ this.name }} {{ this.schema }} {{ this.identifier }}",
    "{{ target.type }} {{ target.name }} {{ target.schema }} {{ target.database }}",
    "{{ var('x') }} {{ var('y', 'dflt') }} {{ var('n', 3) }} {{ var('list') }}",
    "{{ env_var('HOME') }} {{ env_var('X', 'dflt') }}",
    "{{ unknown }} {{ unknown.attr }} {{ unknown() }} {{ unknown.attr(1) }}",
    "{{ dbt_utils.star(ref('a')) }} {{ dbt_utils.star(from=ref('a'), except=['x', 'y']) }}",
    "{{ dbt_utils.star(from=ref('a'), relation_alias='t', except=['1bad']) }}",
    "{{ dbt_utils.generate_surrogate_key(['a', 'b']) }} {{ dbt_utils.group_by(3) }}",
    "{{ dbt_utils.union_relations(relations=[ref('a'), source('s', 't')]) }}",
    "{{ dbt_utils.nothing_here('x') }} {{ other_package.macro() }} {{ dbt.type_string() }}",
    "{{ dbt_date.get_base_dates(n_dateparts=3) }}",
    "{{ type_string() }} {{ current_timestamp() }} {{ dateadd('day', 1, 'x') }}",
    "{{ adapter.dispatch('cents_to_dollars', 'shop')('amount') }}",
    "{{ cents_to_dollars('amount') }} {{ shop.cents_to_dollars('amount') }}",
    "{{ select_columns() }} {{ column_list() }} {{ shop.column_list() }}",
    "{{ is_incremental() }}",
    "{% if is_incremental() %}where x > (select max(x) from {{ this }}){% endif %}",
    "{% if is_incremental() %}a{% elif var('x', false) %}b{% else %}c{% endif %}",
    "{% if not is_incremental() %}full{% else %}delta{% endif %}",
    "{% if is_incremental() and var('y', true) or target.name %}1{% endif %}",
    "{% if execute %}{{ ref('a') }}{% endif %}{% if flags.FULL_REFRESH %}x{% endif %}",
    "{% if is_incremental() %}{% if var('z', 1) %}{{ ref('inner') }}{% endif %}{% endif %}",
    "{% if is_incremental() %}{% endif %}select 1",
    "{{ ref('a') if is_incremental() else ref('b') }}",
    "{# a comment #}select {{ ref('a') }}{# another {{ ref('b') }} #}",
    "select\n  {{- ref('a') -}}\n  from x\n{%- if is_incremental() %} y {% endif -%}\n",
    "{% raw %}{{ ref('a') }}{% endraw %} {{ ref('b') }}",
    "{{ 'text' }} {{ 42 }} {{ true }} {{ none }} {{ [1, 'a', none] }} {{ (1, 2) }} {{ {} }}",
    "{{ [] }} {{ [[], [[1]]] }} {{ {'a': [1, {'b': 2}]} }} {{ ('x',) }}",
    "{{ {1: 'a', true: 'b'} }} {{ {[1]: 2} }}",
    "{{ var('m', {'a': 1})['a'] }} {{ var('m', {'a': 1}).a }} {{ [1, 2][0] }}",
    "{{ 'é' }} {{ ref('ünïcode') }} {{ \"double\" }} {{ '\\n' }} {{ 'a\\'b' }}",
    "{{ ref('a') }}{{ ref('b') }}{{ ref('c') }}",
    "{{ ref( 'spaced' , v = 1 ) }}\n{{\nref(\n'lines'\n)\n}}",
    "{{ ref('a',) }} {{ [1, 2,] }} {{ config(tags=['x',],) }}",
    "{{ f(1, x=2, x=3) }}",
    "{{ f(x=2, 1) }}",
    "{{ ref('a').include(database=false) }} {{ ref('a').render() }}",
    "{{ f(class='x', from='y', not='z') }}",
    "{{ return('x') }}",
    "{{ exceptions.raise_compiler_error('boom') }} {{ exceptions.warn('careful') }}",
    "{{ log('x', info=true) }}{{ print('y') }}{{ run_query('select 1') }}",
    "{{ modules.datetime.datetime.now() }} {{ run_started_at }} {{ invocation_id }}",
    "{{ set(['b', 'a']) }} {{ zip([1], [2]) }} {{ tojson({'a': 1}) }} {{ local_md5('x') }}",
    "{{ graph.nodes }} {{ selected_resources }} {{ project_name }} {{ builtins.ref('a') }}",
    "{{ self }} {{ loop }} {{ caller }} {{ varargs }} {{ kwargs }} {{ super }}",
    "{{ ref('a') | upper }} {{ ref('a') ~ 'x' }} {{ 1 + 2 }} {{ -1 }} {{ 1.5 }} {{ 0x10 }}",
    "{{ 'a'.__class__ }} {{ ref.__globals__ }} {{ config._rt }}",
    "{{ ref('a') }",
    "{{ ref('a'",
    "{{",
    "}}",
    "{% if %}",
    "{{ 'unterminated }}",
    "{{ 99999999999999999999999999999999999999 }} {{ 0 }} {{ 007 }}",
    "{{ ref('a') }}\r\n{{ ref('b') }}\r",
    "{{ " + "[" * 30 + "]" * 30 + " }}",
    "{{ " + "f(" * 30 + ")" * 30 + " }}",
    "{% if a %}" * 20 + "x" + "{% endif %}" * 20,
    "{{ " + " or ".join(["a"] * 40) + " }}",
    "{{ ref('x') }}" * 300,
]

VARIED_MACROS = (
    *RENDER_MACROS,
    Macro(
        "macros/recent.sql",
        "{% macro recent_rows(c, since='2020') %}{{ c }} >= '{{ since }}'{% endmacro %}",
    ),
    Macro(
        "macros/deep.sql",
        "{% macro deep(n) %}{% if n > 0 %}{{ deep(n - 1) }}{% endif %}{% endmacro %}",
    ),
)
VARIED_VARS: tuple[tuple[str, object], ...] = (
    ("x", "vx"),
    ("list", ["a", "b"]),
    ("m", {"a": 1}),
)


@pytest.mark.parametrize("adapter", ["postgres", "bigquery", "snowflake"])
def test_varied_templates_render_alike(adapter: str) -> None:
    ctx = RenderContext("shop", target_type=adapter, vars=VARIED_VARS, macros=VARIED_MACROS)
    for text in VARIED:
        fast_and_full(text, ctx)
        fast_and_full(text + "\n{{ recent_rows('t.at') }} {{ deep(3) }}", ctx)


@pytest.mark.parametrize(
    "limits",
    [
        Limits(max_operations=5),
        Limits(max_operations=40),
        Limits(max_output_chars=30),
        Limits(max_value_chars=3),
        Limits(max_allocated_chars=60),
    ],
)
def test_budgets_run_out_at_the_same_point(limits: Limits) -> None:
    ctx = RenderContext("shop", vars=VARIED_VARS, macros=VARIED_MACROS)
    for text in VARIED:
        fast_and_full(text, ctx, limits)


def test_a_macro_recursing_to_the_limit_stops_alike() -> None:
    # The fast path runs in one generator frame, as jinja's root() does: a macro that
    # recurses until Python's limit stops at the same depth either way.
    ctx = RenderContext("shop", macros=VARIED_MACROS)
    for depth in (10, 100, 1000, 10_000):
        rendered = fast_and_full(f"{{{{ deep({depth}) }}}}", ctx)
        assert rendered.sql or rendered.diagnostics


def test_common_templates_take_the_fast_path() -> None:
    for text in [
        "select 1",
        "{{ ref('a') }} {{ source('s', 't') }} {{ this }} {{ config(tags=['x'], n=2) }}",
        "{% if is_incremental() %}where {{ this }}.x > 1{% else %}{% endif %}",
        "{{ dbt_utils.star(from=ref('a'), except=['b']) }}{# note #}",
    ]:
        assert takes_fast_path(text), text
    for text in [
        "{{ x | upper }}",
        "{% for x in y %}{% endfor %}",
        "{% set x = 1 %}",
        "{{ self }}",
        "{{ loop(1) }}",
    ]:
        assert not takes_fast_path(text), text


# --- the fast reader builds jinja's own tree -----------------------------------------------------

SCANNED = [
    "",
    "select 1\n",
    "a }} b } c {",
    "{{ ref('a') }}",
    "{{ref('a')}}",
    "{{ \tref ( 'a' , 'b' ) \n}}",
    "{{ source('a', 'b') }} and {{ this }}",
    "{{ config(materialized='table', tags=['a', 'b'], n=10, on=true, off=False, z=none) }}",
    "{{ ref('m', v=2) }} {{ ref('m', version='3') }}",
    "{{ dbt_utils.star(from=ref('x'), except=['a']) }}",
    "{{ a.b.c(d.e, f()) }}",
    "{{ 'text' }}{{ 0 }}{{ [] }}{{ [[1], ['x', [true]]] }}",
    "{{ ref('ünïcode ✓ 😀') }}",
    "{{ f('}}') }} {{ f(\"{{\") }}",
    "{{ f(class='x', if='y') }}",
    "{{ unknown_name }}",
    "{% if is_incremental() %}and x > (select max(x) from {{ this }}){% endif %}\n",
    "{% if a %}{% endif %}",
    "a{% if a %}b{{ c }}d{% elif e(1) %}{% elif f.g %}h{% else %}i{% endif %}j",
    "{%if a%}{%if b%}{{ c }}{%else%}{%endif%}{%endif%}",
    "{%\tif\na\n%}x{%  endif  %}",
    "{{ x }}{% if y %}{% endif %}{{ z }}",
    "{{ '{%' }}{% if '%}' %}{{ '{{' }}{% endif %}",
    "{{ self }}",  # read here, then compiled: jinja's generated code treats these apart
    "{{ loop(1) }}",
]
NOT_SCANNED = [
    "{{- ref('a') }}",
    "{{+ ref('a') }}",
    "{{ ref('a') -}}",
    "{# c #}",
    "{%- if x %}{% endif %}",
    "{% if x -%}{% endif %}",
    "{% if x +%}{% endif %}",
    "{% if x %}{%+ endif %}",
    "{% if x: %}{% endif %}",
    "{% if x %}",
    "{% if x %}{% else %}",
    "{% if x %}{% else %}{% else %}{% endif %}",
    "{% if x %}{% else %}{% elif y %}{% endif %}",
    "{% if x %}{% endif x %}",
    "{% if x %}{% else y %}{% endif %}",
    "{% if %}{% endif %}",
    "{% if a, b %}{% endif %}",
    "{% endif %}",
    "{% else %}",
    "{% for x in y %}{% endfor %}",
    "{% set x = 1 %}",
    "{% raw %}{% endraw %}",
    "{% if x }}{% endif %}",
    "{{ x %}",
    "x\r\ny",
    "{{ ref('a\\'b') }}",
    "{{ ref('a',) }}",
    "{{ [1,] }}",
    "{{ f(x=1, 2) }}",
    "{{ 1.5 }}",
    "{{ 1e3 }}",
    "{{ 007 }}",
    "{{ 0x1 }}",
    "{{ 1_000 }}",
    "{{ -1 }}",
    "{{ a == b }}",
    "{{ a | b }}",
    "{{ a ~ b }}",
    "{{ a[0] }}",
    "{{ a.0 }}",
    "{{ true.x }}",
    "{{ f()() }}",
    "{{ f().x }}",
    "{{ 'a' 'b' }}",
    "{{ a, b }}",
    "{{ not a }}",
    "{{ a if b }}",
    "{{ if }}",
    "{{ naïve }}",
    "{{ {'a': 1} }}",
    "{{ (1) }}",
    "{{ }}",
    "{{ ref('a') }",
    "{{ ref('a'",
    "{{ f(**x) }}",
]


@pytest.mark.parametrize("text", SCANNED)
def test_the_fast_reader_builds_the_tree_jinja_parses(text: str) -> None:
    tree = _scan(text)
    assert tree is not None
    assert tree == jinja_tree(text)


@pytest.mark.parametrize("text", NOT_SCANNED)
def test_the_fast_reader_leaves_everything_else_to_jinja(text: str) -> None:
    assert _scan(text) is None


def _agrees_with_jinja(text: str) -> None:
    tree = _scan(text)
    if tree is None:
        return
    assert tree == jinja_tree(text), text  # jinja must parse it, to the same tree


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "{{",
                "}}",
                "{{ ",
                " }}",
                "{{-",
                "-}}",
                "{%",
                "%}",
                "{% ",
                " %}",
                "{%-",
                "-%}",
                "+%}",
                "{#",
                "#}",
                "if",
                "elif",
                "else",
                "endif",
                "raw",
                "for",
                "ref",
                "a",
                "_b1",
                "true",
                "none",
                "not",
                "if",
                "self",
                "é",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ",",
                "=",
                "==",
                ".",
                "'x'",
                "'",
                '"y"',
                '"',
                "\\",
                "0",
                "1",
                "12",
                "0x1",
                "1.5",
                "e",
                "_",
                "-",
                "|",
                " ",
                "\n",
                "\t",
                "\r",
                "select ",
            ]
        ),
        max_size=30,
    )
)
def test_the_fast_reader_agrees_with_jinja_on_any_text(tokens: list[str]) -> None:
    _agrees_with_jinja("".join(tokens))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}()[],=.'\"\\ \n\t\r-+|%#ab_1é0x")), max_size=40))
def test_the_fast_reader_agrees_with_jinja_on_any_characters(text: str) -> None:
    _agrees_with_jinja(text)
    _agrees_with_jinja("{{ " + text)
