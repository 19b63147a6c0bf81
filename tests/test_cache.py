"""The analysis cache: same report with and without it, stale entries never used, corruption
healed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clirun import imports_of, semverlint
from gitrepo import GitRepo

PROJECT = "name: shop\nversion: 1.0.0\nvars:\n  rate: 100\n"
MACRO = "{% macro cents(col) %}({{ col }} / {{ var('rate') }}){% endmacro %}\n"
STG = (
    "select id as order_id, {{ cents('amount_cents') }} as amount "
    "from {{ source('raw', 'orders') }}\n"
)
SOURCES = (
    "sources:\n  - name: raw\n    tables:\n      - name: orders\n"
    "        columns: [{name: id}, {name: amount_cents}]\n"
)


@pytest.fixture
def shop(git_repo: GitRepo) -> GitRepo:
    git_repo.write("dbt_project.yml", PROJECT)
    git_repo.write("macros/cents.sql", MACRO)
    git_repo.write("models/_sources.yml", SOURCES)
    git_repo.write("models/stg_orders.sql", STG)
    git_repo.write("models/orders.sql", "select * from {{ ref('stg_orders') }}\n")
    git_repo.commit("base")
    return git_repo


def _run(repo: GitRepo, cache: Path, *args: str) -> str:
    result = semverlint(
        "diff",
        "--repo",
        repo.path,
        "--format",
        "json",
        *args,
        env={"SEMVERLINT_CACHE_DIR": str(cache)},
    )
    assert result.code == 0, result.stderr
    return result.stdout


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*.json"))


def test_cold_warm_and_no_cache_give_the_same_report(shop: GitRepo, tmp_path: Path) -> None:
    shop.write("models/stg_orders.sql", STG.replace("id as order_id", "id as order_id, 1 as qty"))
    cache = tmp_path / "cache"
    cold = _run(shop, cache)
    assert _entries(cache), "a run with the cache on writes entries"
    warm = _run(shop, cache)
    bypass = _run(shop, tmp_path / "unused", "--no-cache")
    assert cold == warm == bypass
    assert not (tmp_path / "unused").exists()
    assert ("column-added", "orders", "qty") in {
        (c["rule"], c["model"], c["column"]) for c in json.loads(warm)["projects"][0]["changes"]
    }


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("dbt_project.yml", PROJECT.replace("rate: 100", "rate: 1000"), "column-logic-changed"),
        ("macros/cents.sql", MACRO.replace("/", "*"), "column-logic-changed"),
        (
            "models/_sources.yml",
            SOURCES.replace("{name: amount_cents}", "{name: amount_cents}, {name: note}"),
            None,
        ),
    ],
)
def test_entries_depend_on_everything_a_result_depends_on(
    shop: GitRepo, tmp_path: Path, path: str, text: str, expected: str | None
) -> None:
    cache = tmp_path / "cache"
    _run(shop, cache)  # warm the cache with the base
    shop.write(path, text)
    warm = json.loads(_run(shop, cache))
    fresh = json.loads(_run(shop, tmp_path / "fresh", "--no-cache"))
    assert warm == fresh
    rules = {c["rule"] for c in warm["projects"][0]["changes"]}
    if expected:
        assert expected in rules


def test_an_upstream_change_reaches_a_cached_downstream_star(shop: GitRepo, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run(shop, cache)
    shop.write("models/stg_orders.sql", STG.replace("id as order_id, ", ""))
    changes = json.loads(_run(shop, cache))["projects"][0]["changes"]
    assert ("column-removed", "orders", "order_id") in {
        (c["rule"], c["model"], c["column"]) for c in changes
    }


def test_corrupt_entries_are_misses_and_heal(shop: GitRepo, tmp_path: Path) -> None:
    shop.write("models/stg_orders.sql", STG.replace("id as order_id", "id as order_id, 1 as qty"))
    cache = tmp_path / "cache"
    expected = _run(shop, cache)
    for entry in _entries(cache):
        entry.write_text("{not json")
    assert _run(shop, cache) == expected
    assert all(json.loads(e.read_text()) is not None for e in _entries(cache))
    for broken in ('{"shape": "wrong"}', "[1, 2]", "7"):  # valid JSON of another shape
        for entry in _entries(cache):
            entry.write_text(broken)
        assert _run(shop, cache) == expected
        assert all(e.read_text() != broken for e in _entries(cache))


def test_concurrent_runs_share_a_cache_safely(shop: GitRepo, tmp_path: Path) -> None:
    shop.write("models/stg_orders.sql", STG.replace("id as order_id", "id as order_id, 1 as qty"))
    cache = tmp_path / "cache"
    env = {"SEMVERLINT_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    command = [
        sys.executable,
        "-m",
        "semverlint",
        "diff",
        "--repo",
        str(shop.path),
        "--format",
        "json",
    ]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    assert len({o[0] for o in outputs}) == 1
    assert not list(cache.rglob(".tmp-*"))


def test_nothing_changed_reads_no_model(shop: GitRepo, tmp_path: Path) -> None:
    shop.write("README.md", "docs only\n")
    shop.run("add", "-A")
    cache = tmp_path / "cache"
    result = semverlint(
        "check",
        "--staged",
        "--repo",
        shop.path,
        "--format",
        "json",
        env={"SEMVERLINT_CACHE_DIR": str(cache)},
    )
    assert result.code == 0
    assert result.json["projects"][0]["declared"] == {"base": "1.0.0", "head": "1.0.0"}
    assert _entries(cache) == []


def test_a_run_that_touches_no_model_imports_no_sql_machinery(shop: GitRepo) -> None:
    shop.write("README.md", "docs only\n")
    shop.run("add", "-A")
    run = imports_of(
        ["check", "--staged", "--repo", str(shop.path), "--format", "json"],
        ("sqlglot", "jinja2", "jsonschema"),
    )
    assert run.imported == []


def _alike_in_parallel(shop: GitRepo, tmp_path: Path) -> str:
    """The JSON report of the change, which must be the same with one job and with two,
    every parallel path taken (SEMVERLINT_PARALLEL_MIN=1)."""
    outputs = []
    for jobs in ("1", "2"):
        env = {
            "SEMVERLINT_CACHE_DIR": str(tmp_path / jobs),
            "SEMVERLINT_JOBS": jobs,
            "SEMVERLINT_PARALLEL_MIN": "1",
        }
        result = semverlint("diff", "--repo", shop.path, "--format", "json", env=env)
        assert result.code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    return outputs[0]


def test_parallel_and_sequential_analysis_agree(shop: GitRepo, tmp_path: Path) -> None:
    # Vars that are a list and a mapping: what workers are sent must not need to hash.
    shop.write("dbt_project.yml", PROJECT + "  regions: [eu, us]\n  limits: {low: 1}\n")
    for index in range(6):
        shop.write(
            f"models/m{index}.sql",
            f"select order_id, amount * {index} as x{index}, "
            f"'{{{{ var('regions')[0] }}}}' as region from {{{{ ref('stg_orders') }}}}\n",
        )
    shop.commit("more models")
    shop.write("macros/cents.sql", MACRO.replace("/", "*"))  # every model must be read again
    assert "column-logic-changed" in _alike_in_parallel(shop, tmp_path)


def _described(names: list[str], width: int, config: str = "{}") -> str:
    """A property file of several kilobytes: what the workers parse when they run."""
    lines = ["models:"]
    for name in names:
        lines += [
            f"  - name: {name}",
            f"    description: {'long words ' * width}",
            f"    config: {config}",
            "    columns:",
            "      - name: order_id\n        data_tests: [unique]",
        ]
    return "\n".join(lines) + "\n"


def test_parallel_and_sequential_agree_on_a_change_of_sql_and_yaml(
    shop: GitRepo, tmp_path: Path
) -> None:
    # Many SQL files changed start the workers early, the unchanged property files that
    # describe them are long enough to be sent to the workers to parse, and the type
    # changes are judged there.
    names = [f"m{index}" for index in range(6)]
    for name in names:
        shop.write(f"models/{name}.sql", f"select {_ORDER_ID.format('int')} {_FROM_STG}")
    shop.write("models/first.yml", _described(names[:3], 100))
    shop.write("models/second.yml", _described(names[3:], 100, "{access: private}"))
    shop.commit("more models")
    for name in names:
        shop.write(
            f"models/{name}.sql", f"select {_ORDER_ID.format('bigint')}, 1 as extra {_FROM_STG}"
        )
    changes = json.loads(_alike_in_parallel(shop, tmp_path))["projects"][0]["changes"]
    private = sorted({c["model"] for c in changes if (c["note"] or "").startswith("private")})
    assert private == names[3:]
    widened = sorted(c["model"] for c in changes if c["rule"] == "column-type-widened")
    assert widened == names


_ORDER_ID = "cast(order_id as {}) as order_id"
_FROM_STG = "from {{ ref('stg_orders') }}\n"


def test_the_type_judge_takes_verdicts_from_the_cache_and_heals_wrong_ones() -> None:
    from semverlint.cache import MemoryCache
    from semverlint.differ import type_judge, type_key

    cache = MemoryCache()
    judge = type_judge("duckdb", cache)
    assert judge("INT", " int ") == "same"
    assert judge("int", "bigint") == "widened"  # judged here
    cache.put(type_key("duckdb", "int", "bigint"), "changed")  # as a worker would have put
    assert judge("int", "bigint") == "changed"
    cache.put(type_key("duckdb", "int", "bigint"), "sideways")  # not a verdict: a miss
    assert judge("int", "bigint") == "widened"


def test_property_files_parsed_ahead_in_workers_are_what_parsing_here_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from semverlint.cache import MemoryCache
    from semverlint.loaders.dbtsql import _YamlAhead
    from semverlint.parallel import Workers
    from semverlint.yamlio import load_yaml
    from semverlint.yamljson import result_to_json

    monkeypatch.setenv("SEMVERLINT_JOBS", "2")
    monkeypatch.setenv("SEMVERLINT_PARALLEL_MIN", "1")
    texts = [_described([f"m{i}"], 400 + i).encode() for i in range(5)]
    texts.append(b"models: [unclosed\n")  # a problem travels back as the parse's error
    with Workers() as workers:
        ahead = _YamlAhead(workers, MemoryCache())
        ahead.send(texts)  # not running yet: nothing is sent
        assert ahead(texts[0]) is None
        workers.warm()
        ahead.send(texts)
        for raw in texts:
            assert ahead(raw) == result_to_json(load_yaml(raw))
        assert ahead(texts[0]) is None  # each parse is handed over once


def test_a_small_change_leaves_jinja_and_sqlglot_to_a_worker(shop: GitRepo, tmp_path: Path) -> None:
    # One worker, started before the files are read, renders and analyses the change:
    # this process loads neither (on one core, it does the work itself).
    shop.write("models/orders.sql", "select order_id from {{ ref('stg_orders') }}\n")
    args = ["diff", "--repo", str(shop.path), "--format", "json"]
    # A project this small has its configuration validated here, not ahead in the worker;
    # a plain one without jsonschema.
    shop.write("semverlint.yml", "dialect: duckdb\n")
    watched = ("jinja2", "jsonschema", "sqlglot")
    for jobs, imported in (("2", []), ("1", ["jinja2", "sqlglot"])):
        env = {"SEMVERLINT_JOBS": jobs, "SEMVERLINT_CACHE_DIR": str(tmp_path / jobs)}
        assert imports_of(args, watched, env).imported == imported, jobs
    # Rules are more than plain values: jsonschema validates them.
    shop.write("semverlint.yml", "dialect: duckdb\nrules:\n  column-added: patch\n")
    env = {"SEMVERLINT_JOBS": "2", "SEMVERLINT_CACHE_DIR": str(tmp_path / "rules")}
    assert imports_of(args, watched, env).imported == ["jsonschema"]


def test_an_untouched_project_with_a_config_imports_no_validator(shop: GitRepo) -> None:
    shop.write("semverlint.yml", "dialect: duckdb\n")
    shop.commit("config")
    shop.write("README.md", "docs only\n")
    shop.run("add", "-A")
    run = imports_of(["check", "--staged", "--repo", str(shop.path)], ("sqlglot", "jsonschema"))
    assert run.imported == []


def test_a_source_change_reaches_every_model_that_stars_over_it(shop: GitRepo) -> None:
    shop.write("models/by_source.sql", "select * from {{ source('raw', 'orders') }}\n")
    shop.write(
        "models/other.yml", "models:\n  - name: by_source\n    description: all raw orders\n"
    )
    shop.commit("a star over a source")
    shop.write(
        "models/_sources.yml",
        SOURCES.replace("{name: amount_cents}", "{name: amount_cents}, {name: note}"),
    )
    report = semverlint("diff", "--repo", shop.path, "--format", "json").json
    found = {(c["rule"], c["model"], c["column"]) for c in report["projects"][0]["changes"]}
    assert ("column-added", "by_source", "note") in found


def test_interfaces_survive_json_exactly() -> None:
    from dataclasses import replace

    from semverlint.interface import (
        Column,
        Diagnostic,
        Interface,
        Model,
        ModelVersion,
        Project,
        Suppression,
    )
    from semverlint.interfacejson import from_json, to_json

    column = Column(
        "id",
        "integer",
        not_null=True,
        accepted_values=("a", "b"),
        relationships=("ref('x').id",),
        lineage=(("stg", "id"), ("source:raw.t", "id")),
        line=3,
    )
    model = Model(
        "orders",
        columns=(column, Column("note")),
        unique_keys=(("id",), ("id", "note")),
        logic=(("where", "x > 0"),),
        versions=(ModelVersion("1", (column,), "2026-01-01"), ModelVersion("2")),
        foreign_refs=(("other", "m"),),
        suppressions=(Suppression("column-removed", "agreed", "m.yml", 4, "id"),),
        version="2",
    )
    interface = Interface(
        Project("shop", ".", "dbt", "1.0.0"),
        (model,),
        (Diagnostic("warning", "odd", "m.yml", 2),),
        (Model("dash", resource="exposure", refs=("orders",)),),
    )
    pair = (interface, (), replace(interface, models=(replace(model, description="new"),)), ())
    document = json.loads(json.dumps(to_json(pair)))
    assert len(document["columns"]) == 2  # each distinct column written once
    assert len(document["pairs"]) == 4  # lineage, logic, foreign refs, and the empty one
    decoded = from_json(tuple[Interface, tuple[Diagnostic, ...], Interface, tuple[()]], document)
    assert decoded == pair
    assert decoded[0].models[0].columns[0] is decoded[2].models[0].columns[0]


def test_a_repeated_comparison_reads_no_model(shop: GitRepo, tmp_path: Path) -> None:
    shop.write("models/stg_orders.sql", STG.replace("id as order_id", "id as order_key"))
    shop.commit("rename")
    cache = tmp_path / "cache"
    first = _run(shop, cache, "HEAD~1..HEAD")
    for entry in _entries(cache):  # every model's entry goes: only the pair can answer
        data = json.loads(entry.read_text())
        if not (isinstance(data, dict) and set(data) == {"pairs", "columns", "value"}):
            entry.unlink()
    again = imports_of(
        ["diff", "HEAD~1..HEAD", "--repo", str(shop.path), "--format", "json"],
        ("sqlglot", "jinja2"),
        env={"SEMVERLINT_CACHE_DIR": str(cache)},
    )
    assert again.stdout == first
    assert again.imported == []  # nothing rendered or parsed


def test_the_cache_format_changes_with_the_shape_of_what_it_holds() -> None:
    """Interfaces are cached as positional lists: a field added, removed or moved must come
    with a new cache FORMAT, or an entry of the old shape would be read as the new one.
    When this fails, bump semverlint.cache.FORMAT and record the new shape here."""
    import dataclasses
    import hashlib

    from semverlint import facts, interface
    from semverlint.cache import FORMAT

    classes = [
        interface.Diagnostic,
        interface.Suppression,
        interface.Column,
        interface.ModelVersion,
        interface.Model,
        interface.Project,
        interface.Interface,
        facts.Rel,
        facts.Rendered,
        facts.ColumnFacts,
        facts.QueryFacts,
    ]
    shape = [[c.__name__, [[f.name, str(f.type)] for f in dataclasses.fields(c)]] for c in classes]
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]
    assert (FORMAT, digest) == (5, "681ebf04ea5567be")


@pytest.mark.parametrize("ahead", [True, False], ids=["in-a-worker", "here"])
def test_a_configuration_validated_in_a_worker_is_the_one_validated_here(
    shop: GitRepo, monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> None:
    # A large project has its configuration validated by the first worker, a small one by
    # this process: the same configuration, or the same error, either way.
    from semverlint import api
    from semverlint.errors import ConfigError
    from semverlint.report import report_to_dict
    from semverlint.rules import load_catalogue

    monkeypatch.setenv("SEMVERLINT_JOBS", "2")
    monkeypatch.setattr(api, "VALIDATE_AHEAD_FILES", 0 if ahead else 10**9)
    shop.write("semverlint.yml", "rules:\n  column-removed: minor\n")
    shop.write("models/orders.sql", "select order_id from {{ ref('stg_orders') }}\n")
    shop.run("add", "-A")
    request = api.Request(repo=str(shop.path), staged=True, options=api.Options())
    project = report_to_dict(api.run(request, load_catalogue()))["projects"][0]
    assert [(c["rule"], c["bump"]) for c in project["changes"]] == [("column-removed", "minor")]
    shop.write("semverlint.yml", "rules:\n  column-removd: minor\n")
    shop.run("add", "-A")
    with pytest.raises(ConfigError, match="unknown rule 'column-removd'") as raised:
        api.run(request, load_catalogue())
    assert raised.value.hint is not None
    assert "did you mean column-removed" in raised.value.hint


def _star_chain(repo: GitRepo, levels: int, width: int) -> None:
    """`width` models at each of `levels` levels, each `select *` over one of the level
    below: every one needs its upstream model's columns for a second analysis."""
    for level in range(levels):
        for index in range(width):
            upstream = f"l{level - 1}_{index}" if level else "stg_orders"
            repo.write(
                f"models/l{level}_{index}.sql", f"select * from {{{{ ref('{upstream}') }}}}\n"
            )


def test_analyses_with_upstream_columns_go_to_the_workers_a_level_at_once(
    shop: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semverlint import api
    from semverlint.parallel import Workers
    from semverlint.report import report_to_dict
    from semverlint.rules import load_catalogue

    levels, width = 4, 5
    _star_chain(shop, levels, width)
    shop.commit("a chain of stars")
    shop.write("models/stg_orders.sql", STG.replace("as amount", "as amount, 1 as extra"))
    shop.run("add", "-A")
    calls: list[int] = []
    analyse = Workers.analyse

    def counted(self: Workers, jobs: list[Any]) -> Any:
        calls.append(len(jobs))
        return analyse(self, jobs)

    monkeypatch.setattr(Workers, "analyse", counted)
    monkeypatch.setenv("SEMVERLINT_PARALLEL_MIN", "1")
    monkeypatch.setenv("SEMVERLINT_JOBS", "2")
    options = api.Options(cache=True, cache_dir=tmp_path / "cache")
    request = api.Request(repo=str(shop.path), staged=True, options=options)
    report = report_to_dict(api.run(request, load_catalogue()))
    added = {c["model"] for c in report["projects"][0]["changes"] if c["rule"] == "column-added"}
    chain = {f"l{level}_{index}" for level in range(levels) for index in range(width)}
    assert added == {"stg_orders", "orders"} | chain
    # On each side, a round trip per level for the analyses that need the level below (and
    # a few for the first analyses), not one a model.
    assert len(calls) <= 2 * (levels + 5)
    assert calls.count(width) >= 2 * (levels - 1)


def _alike_with_a_worker(repo: GitRepo, tmp_path: Path) -> dict[str, Any]:
    """The first project of the JSON report, which must be the same with one job and with
    two (a small change: one worker, its analyses left to the lineage pass)."""
    outputs = []
    for jobs in ("1", "2"):
        env = {"SEMVERLINT_CACHE_DIR": str(tmp_path / jobs), "SEMVERLINT_JOBS": jobs}
        result = semverlint("diff", "--repo", repo.path, "--format", "json", env=env)
        assert result.code == 0, result.stderr
        outputs.append(json.loads(result.stdout)["projects"][0])
    assert outputs[0] == outputs[1]
    project: dict[str, Any] = outputs[1]
    return project


def test_a_ref_hidden_in_a_macro_is_analysed_alike_with_and_without_a_worker(
    shop: GitRepo, tmp_path: Path
) -> None:
    # `hidden` reads `middle` through a macro, so lineage order (from the refs in the text)
    # puts it first; its analyses wait for the worker, and taking them on must analyse
    # `middle` (and `stg_orders`, waiting too) as the sequential pass does.
    shop.write("macros/upstream.sql", "{% macro middle() %}{{ ref('middle') }}{% endmacro %}\n")
    shop.write("models/middle.sql", "select * from {{ ref('stg_orders') }}\n")
    shop.write("models/hidden.sql", "select * from {{ middle() }}\n")
    shop.commit("a ref hidden in a macro")
    shop.write("models/stg_orders.sql", STG.replace("as amount", "as amount, 1 as extra"))
    shop.write("models/hidden.sql", "-- reads middle\nselect * from {{ middle() }}\n")
    project = _alike_with_a_worker(shop, tmp_path)
    added = {c["model"] for c in project["changes"] if c["rule"] == "column-added"}
    assert {"stg_orders", "middle", "hidden"} <= added


def test_models_that_read_each_other_are_analysed_once_with_and_without_a_worker(
    shop: GitRepo, tmp_path: Path
) -> None:
    # dbt refuses a cycle; reading one must still end, alike on every path, each model
    # analysed once (its problems reported once).
    shop.write("models/ping.sql", "select * from {{ ref('pong') }}\n")
    shop.write("models/pong.sql", "select * from {{ ref('ping') }} join {{ ref('orders') }}\n")
    shop.commit("a cycle")
    shop.write("models/ping.sql", "-- again\nselect * from {{ ref('pong') }}\n")
    shop.write("models/pong.sql", "-- again\nselect * from {{ ref('ping') }}\n")
    project = _alike_with_a_worker(shop, tmp_path)
    diagnostics = [json.dumps(d, sort_keys=True) for d in project["diagnostics"]]
    assert len(diagnostics) == len(set(diagnostics))


def test_a_small_change_is_rendered_and_analysed_ahead_in_one_round_trip(
    shop: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semverlint import api
    from semverlint.parallel import Workers
    from semverlint.report import report_to_dict
    from semverlint.rules import load_catalogue

    shop.write("models/orders.sql", "select order_id, amount from {{ ref('stg_orders') }}\n")
    shop.write("models/totals.sql", "select sum(amount) as total from {{ ref('orders') }}\n")
    shop.commit("models that name their columns")
    shop.write(
        "models/orders.sql", "select order_id, amount * 2 as amount from {{ ref('stg_orders') }}\n"
    )
    shop.run("add", "-A")
    calls: list[str] = []
    for name in ("render", "analyse", "render_ahead"):
        method = getattr(Workers, name)

        def counted(self: Workers, *args: Any, _name: str = name, _method: Any = method) -> Any:
            calls.append(_name)
            return _method(self, *args)

        monkeypatch.setattr(Workers, name, counted)
    monkeypatch.setenv("SEMVERLINT_JOBS", "2")
    options = api.Options(cache=True, cache_dir=tmp_path / "cache")
    request = api.Request(repo=str(shop.path), staged=True, options=options)
    report = report_to_dict(api.run(request, load_catalogue()))
    # Both sides of orders and totals, which reads it, went to the worker at once; what it
    # made is found under the keys the lineage pass asks for: nothing else was sent.
    assert calls == ["render_ahead"]
    changed = {(c["rule"], c["model"]) for c in report["projects"][0]["changes"]}
    assert ("column-logic-changed", "orders") in changed
    assert _alike_with_a_worker(shop, tmp_path)["changes"] == report["projects"][0]["changes"]
