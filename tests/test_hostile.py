"""Hostile repository content through the real CLI: nothing in a pull request runs code,
leaks the environment, hangs or crashes semverlint; each attempt is a diagnostic naming
the file.

Each battery is one real git repository whose head commit replaces every model (or adds
every property file) with one attack, checked with one CLI run: the cases are the
parametrized tests below, and they share that run. Counts: see ``HOSTILE_CASES``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clirun import Result, semverlint
from gitrepo import GitRepo

PROJECT = """\
name: shop
version: 1.0.0
config-version: 2
models:
  shop:
    +access: public
"""

# Sandbox escapes: each must be refused ("could not be rendered safely") with the canary
# never created. {canary} is a file path the payload tries to create.
ESCAPES = {
    "mro_subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler_globals_popen": "{{ cycler.__init__.__globals__.os.popen('touch {canary}').read() }}",
    "joiner_globals_system": "{{ joiner.__init__.__globals__.os.system('touch {canary}') }}",
    "namespace_globals": "{{ namespace.__init__.__globals__['os'].system('touch {canary}') }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'].popen('touch {canary}') }}",
    "template_reference_context": "{{ self._TemplateReference__context }}",
    "self_dict": "{{ self.__dict__ }}",
    "config_class_globals": "{{ config.__class__.__init__.__globals__ }}",
    "for_over_subclasses": (
        "{% for x in ().__class__.__base__.__subclasses__() %}"
        "{% if 'warning' in x.__name__ %}"
        "{{ x()._module.__builtins__['__import__']('os').system('touch {canary}') }}"
        "{% endif %}{% endfor %}"
    ),
    "flask_style_request": (
        "{{ request.application.__globals__.__builtins__.__import__('os')"
        ".popen('touch {canary}').read() }}"
    ),
    "item_access_dunder": "{{ ''['__class__']['__mro__'] }}",
    "attr_filter": "{{ ''|attr('__class__')|attr('__mro__') }}",
    "int_subclasses": "{{ (1).__class__.__subclasses__() }}",
    "type_mro": "{{ dict.mro() }}",
    "bound_method_self": "{{ ref.__self__ }}",
    "bound_method_func_globals": "{{ builtins.ref.__func__.__globals__ }}",
    "stub_private": "{{ adapter._rt }}",
    "stub_dict": "{{ adapter.__dict__ }}",
    "relation_private": "{{ this._sql }}",
    "generator_frame": "{{ (range(3)|map('string')).gi_frame.f_globals }}",
    "datetime_mro": "{{ modules.datetime.datetime.mro() }}",
    "run_started_at_reduce": "{{ run_started_at.__reduce_ex__(2) }}",
    "undefined_class": "{{ nothing_here.__class__.__base__ }}",
    "undefined_item_globals": "{{ nothing_here['__globals__'] }}",
    "format_attribute": "{{ '{0.__class__.__mro__}'.format('') }}",
    "format_map_globals": "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}",
    "format_nested_width": "{{ '{0:{1}}'.format('a', 999999999) }}",
    "format_self": "{{ ''.format.__self__ }}",
    "printf_filter_class": "{{ '%s'|format(''.__class__) }}",
    "list_method_self": "{{ [].append.__self__ }}",
    "dict_method_class": "{{ {}.update.__self__.__class__ }}",
    "sort_key_callback": "{% set l = [2, 1] %}{% set m = [] %}{% do l.sort(key=m.append) %}",
    "macro_namespace_class": "{{ dbt_utils.__class__ }}",
    "loop_class": "{% for x in [1] %}{{ loop.__class__ }}{% endfor %}",
    "caller_globals": (
        "{% macro m() %}{{ caller.__globals__ }}{% endmacro %}{% call m() %}x{% endcall %}"
    ),
}

# Loading other templates or files: there is no loader.
NO_LOADER = {
    "import_os": "{% import 'os' as os %}select 1 as id",
    "include_passwd": "{% include '/etc/passwd' %}",
    "extends_passwd": "{% extends '/etc/passwd' %}",
    "from_import": "{% from '/etc/passwd' import root %}select 1 as id",
}

# Work and memory bombs: each stops with "rendering stopped" (a budget) or a refusal. A
# budget of work may run out as operations or, on a slow or busy machine, as time.
WORK = ("operations", "seconds")
BOMBS: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion too deep"),
    "exponential_macro": (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}",
        WORK,
    ),
    "nested_loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        WORK,
    ),
    "output_bomb": ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "output larger"),
    "string_repeat": ("{{ 'a' * 10**10 }}", "a repetition would be larger"),
    "power_tower": ("{{ 9 ** (9 ** 9) }}", "an integer larger than"),
    "printf_width": ("{{ '%999999999s' % 'a' }}", "a %-format result would be larger"),
    "huge_range": ("{{ range(10**9) | list }}", "Range too big"),
    "int_of_long_string": ("{{ ('9' * 100000) | int }}", "the int filter on a string longer"),
    "doubling_string": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        "a value larger than",
    ),
    "append_loop": (
        "{% set l = [] %}{% for i in range(100000) %}{% do l.extend(range(100000)) %}{% endfor %}",
        "100000 items",
    ),
    "shared_growth": (
        "{% set a = [] %}{% set b = [a] * 10000 %}{% for i in range(100) %}"
        "{% do a.append('x' * 10000) %}{% endfor %}{{ b ~ '' }}",
        "a value larger than",
    ),
    "namespace_growth": (
        "{% set ns = namespace(s='') %}{% set l = [ns] * 100000 %}{% set ns.s = 'x' * 4000000 %}"
        "{{ l }}",
        "a value larger than",
    ),
}

# dbt's database and environment functions: the model renders, and nothing happens.
INERT = {
    "run_query": (
        "{% set r = run_query('drop table users') %}select 1 as id{{ '' if r is none else r }}",
        "run_query needs the database",
    ),
    "statement_block": (
        "{% call statement('x', fetch_result=true) %}drop table users{% endcall %}select 1 as id",
        "statement blocks need the database",
    ),
    "env_var_without_default": (
        "select '{{ env_var('SEMVERLINT_SECRET') }}' as id",
        "the environment is never read",
    ),
}

HOSTILE_CASES = len(ESCAPES) + len(NO_LOADER) + len(BOMBS) + len(INERT)


@dataclass(frozen=True)
class Battery:
    result: Result
    report: dict[str, Any]
    canary: Path

    def diagnostics(self, path: str) -> list[str]:
        return [
            d["message"]
            for p in self.report["projects"]
            for d in p["diagnostics"]
            if d["path"] == path
        ]


SECRET = "s3cr3t-hostile-7f1c"


def secret_env(tmp_path: Path) -> dict[str, str]:
    summary = tmp_path / "step-summary.md"
    return {
        "SEMVERLINT_SECRET": SECRET,
        "DBT_ENV_SECRET_TOKEN": SECRET,
        "GITHUB_STEP_SUMMARY": str(summary),
    }


@pytest.fixture(scope="module")
def jinja_battery(tmp_path_factory: pytest.TempPathFactory) -> Battery:
    root = tmp_path_factory.mktemp("jinja")
    canary = root / "canary"
    canary.mkdir()
    repo = GitRepo.init(root / "repo")
    repo.write("dbt_project.yml", PROJECT)
    payloads = {
        **ESCAPES,
        **NO_LOADER,
        **{name: bomb for name, (bomb, _) in BOMBS.items()},
        **{name: sql for name, (sql, _) in INERT.items()},
    }
    for name in payloads:
        repo.write(f"models/{name}.sql", "select 1 as id\n")
    repo.commit("base")
    for name, payload in payloads.items():
        repo.write(f"models/{name}.sql", payload.replace("{canary}", str(canary / name)) + "\n")
    repo.commit("hostile")
    result = semverlint(
        "diff", "HEAD~1..HEAD", "--format", "json", "--repo", repo.path, env=secret_env(root)
    )
    assert result.code == 0, result.stderr
    return Battery(result, result.json, canary)


def test_no_payload_ran_code(jinja_battery: Battery) -> None:
    assert list(jinja_battery.canary.iterdir()) == []
    assert SECRET not in jinja_battery.result.stdout + jinja_battery.result.stderr


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_sandbox_escape_is_refused(jinja_battery: Battery, name: str) -> None:
    messages = jinja_battery.diagnostics(f"models/{name}.sql")
    assert any(
        "template could not be rendered safely: " in m or "str.format with nested" in m
        for m in messages
    ), messages
    assert any("SQL not analysed, classified from its YAML" in m for m in messages), messages


@pytest.mark.parametrize("name", sorted(NO_LOADER))
def test_templates_cannot_load_files(jinja_battery: Battery, name: str) -> None:
    messages = jinja_battery.diagnostics(f"models/{name}.sql")
    assert any("no loader" in m for m in messages), messages
    assert "root:" not in jinja_battery.result.stdout


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bomb_stops_with_a_diagnostic(jinja_battery: Battery, name: str) -> None:
    reason = BOMBS[name][1]
    reasons = (reason,) if isinstance(reason, str) else reason
    messages = jinja_battery.diagnostics(f"models/{name}.sql")
    assert any(r in m for m in messages for r in reasons), messages


@pytest.mark.parametrize("name", sorted(INERT))
def test_database_and_environment_functions_are_inert(jinja_battery: Battery, name: str) -> None:
    messages = jinja_battery.diagnostics(f"models/{name}.sql")
    assert any(INERT[name][1] in m for m in messages), messages
    assert not any("could not be rendered" in m for m in messages), messages


# --- the environment never reaches a report -----------------------------------------------------

LEAKY_MODEL = """\
{{ config(meta={'token': env_var('SEMVERLINT_SECRET', 'none'), 'home': env_var('HOME', '')}) }}
{% do log(env_var('SEMVERLINT_SECRET', ''), info=true) %}
{{ exceptions.warn('token is ' ~ env_var('SEMVERLINT_SECRET')) }}
select '{{ env_var('SEMVERLINT_SECRET') }}' as token,
       '{{ env_var('DBT_ENV_SECRET_TOKEN') }}' as dbt_secret,
       '{{ env_var('HOME') }}' as home,
       {{ var('nothing', env_var('PATH')) }} as path
"""


@pytest.mark.parametrize(
    "args",
    [
        *(("diff", "--format", fmt) for fmt in ("text", "json", "markdown", "github", "sarif")),
        *(("check", "--strict", "--format", fmt) for fmt in ("text", "json", "github")),
        ("bump",),
        ("changelog",),
    ],
    ids=lambda args: "-".join(a.strip("-") for a in args),
)
def test_environment_variables_never_reach_any_output(
    git_repo: GitRepo, tmp_path: Path, args: tuple[str, ...]
) -> None:
    git_repo.write("dbt_project.yml", PROJECT)
    git_repo.write("models/leaky.sql", "select 1 as token\n")
    git_repo.commit("base")
    git_repo.write("models/leaky.sql", LEAKY_MODEL)
    git_repo.commit("leaky")
    home = tmp_path / f"home-{SECRET}"
    env = {**secret_env(tmp_path), "HOME": str(home)}
    result = semverlint(args[0], "HEAD~1..HEAD", *args[1:], "--repo", git_repo.path, env=env)
    assert result.code in (0, 1), result.stderr
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    written = summary.read_text(encoding="utf-8") if summary.exists() else ""
    for output in (result.stdout, result.stderr, written):
        assert SECRET not in output
        assert os.environ.get("PATH", "/usr/bin") not in output
    if args[-1] == "json":
        messages = json.dumps(result.json)
        assert "__env_var__SEMVERLINT_SECRET__" in messages or "environment is never read" in (
            messages
        )


HOSTILE_CASES += 1


# --- output injection: names from the repository printed into CI logs -------------------------

INJECTED = "status\n::notice title=semverlint::PASS\x1b[2K\r"


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """A column whose name carries a workflow command and terminal escapes, then removed;
    and a model file whose name does."""
    repo = GitRepo.init(tmp_path_factory.mktemp("inject") / "repo")
    repo.write("dbt_project.yml", PROJECT)
    repo.write(
        "models/orders.yml",
        "version: 2\nmodels:\n  - name: orders\n    columns:\n"
        f"      - name: {json.dumps(INJECTED)}\n",
    )
    repo.write("models/orders.sql", "select 1 as id\n")
    repo.write("models/bad\n::warning::x.sql", "select 1 as q\n")
    repo.commit("base")
    repo.write("models/orders.yml", "version: 2\nmodels:\n  - name: orders\n")
    repo.write("models/bad\n::warning::x.sql", "select 2 as q2\n")
    repo.commit("remove the column")
    return repo


@pytest.mark.parametrize("fmt", ["github", "markdown", "sarif", "json"])
def test_names_cannot_inject_workflow_commands(injected: GitRepo, fmt: str) -> None:
    result = semverlint("diff", "HEAD~1..HEAD", "--format", fmt, "--repo", injected.path)
    assert result.code == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert all(
        line.startswith(("::error file=", "::warning file=", "::notice file=")) for line in commands
    )
    assert not any("::notice title=semverlint::PASS" in line.split("::", 2)[1] for line in commands)


def test_text_output_carries_no_workflow_command_or_control_character(injected: GitRepo) -> None:
    result = semverlint("diff", "HEAD~1..HEAD", "--repo", injected.path)
    assert result.code == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert "\x1b" not in result.stdout
    assert "\r" not in result.stdout


HOSTILE_CASES += 2


# --- YAML bombs and unsafe tags -----------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return (
        "\n".join(lines) + f"\nversion: 2\nmodels:\n  - name: orders\n    description: *a{levels}\n"
    )


# name -> (file content, the reason its diagnostic gives); {canary} as above
YAML_BOMBS: dict[str, tuple[str | bytes, str]] = {
    "billion_laughs": (billion_laughs(), "YAML aliases expand to more than"),
    "one_big_alias": (
        "a: &a " + "x" * 1_000_000 + "\nb: [*a, *a, *a, *a, *a, *a, *a, *a]\n",
        "YAML aliases expand to more than",
    ),
    "recursive_alias": ("version: 2\nmodels: &m [*m]\n", "refers to a node that contains it"),
    "deep_flow": ("[" * 300_000 + "]" * 300_000, "YAML nested more than 100 deep"),
    "deep_block": ("- " * 500_000 + "x\n", "YAML nested more than 100 deep"),
    "python_object_apply": (
        "version: 2\nmodels: !!python/object/apply:os.system ['touch {canary}']\n",
        "could not determine a constructor",
    ),
    "python_name": (
        "version: 2\nx: !!python/name:os.system\n",
        "could not determine a constructor",
    ),
    "python_object_new": (
        "version: 2\nx: !!python/object/new:subprocess.Popen [['touch', '{canary}']]\n",
        "could not determine a constructor",
    ),
    "tab_indented": ("version: 2\nmodels:\n\t- name: orders\n", "a tab indents the line"),
    "fifty_megabytes": ("version: 2\n# " + "x" * (50 * 1024 * 1024) + "\n", "larger than 8 MiB"),
    "binary": (b"version: 2\x00\x01\x02", "binary, not YAML"),
    "two_documents": ("version: 2\n---\nversion: 3\n", "but found another document"),
}
HOSTILE_CASES += len(YAML_BOMBS)


@pytest.fixture(scope="module")
def yaml_battery(tmp_path_factory: pytest.TempPathFactory) -> Battery:
    root = tmp_path_factory.mktemp("yaml")
    canary = root / "canary"
    canary.mkdir()
    repo = GitRepo.init(root / "repo")
    repo.write("dbt_project.yml", PROJECT)
    repo.write("models/orders.sql", "select 1 as id\n")
    repo.commit("base")
    for name, (content, _) in YAML_BOMBS.items():
        target = repo.path / "models" / f"{name}.yml"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content.replace("{canary}", str(canary / name)), encoding="utf-8")
    repo.write("models/huge.sql", "select 1 as id -- " + "x" * (3 * 1024 * 1024) + "\n")
    repo.commit("bombs")
    result = semverlint("diff", "HEAD~1..HEAD", "--format", "json", "--repo", repo.path)
    assert result.code == 0, result.stderr
    return Battery(result, result.json, canary)


@pytest.mark.parametrize("name", sorted(YAML_BOMBS))
def test_yaml_bomb_is_a_diagnostic_naming_the_file(yaml_battery: Battery, name: str) -> None:
    messages = yaml_battery.diagnostics(f"models/{name}.yml")
    reason = YAML_BOMBS[name][1]
    assert any(m.startswith("skipped property file: ") and reason in m for m in messages), messages
    assert list(yaml_battery.canary.iterdir()) == []


def test_a_model_file_over_the_size_limit_is_skipped(yaml_battery: Battery) -> None:
    assert yaml_battery.diagnostics("models/huge.sql") == ["skipped model file: larger than 2 MiB"]


HOSTILE_CASES += 1


def test_yaml_battery_is_quick_and_small(yaml_battery: Battery) -> None:
    # The report names the files and reasons; it never echoes the bombs themselves.
    assert len(yaml_battery.result.stdout) < 100_000


@pytest.mark.parametrize(
    ("marker", "content", "needle"),
    [
        ("dbt_project.yml", billion_laughs(), "YAML aliases expand to more than"),
        (
            "dbt_project.yml",
            "name: shop\nversion: !!python/object/apply:os.getcwd []\n",
            "constructor",
        ),
        ("dbt_project.yml", "[" * 300_000, "nested more than 100 deep"),
    ],
    ids=["billion_laughs", "python_tag", "deep"],
)
def test_a_hostile_project_file_is_a_diagnostic(
    git_repo: GitRepo, marker: str, content: str, needle: str
) -> None:
    git_repo.write("dbt_project.yml", PROJECT)
    git_repo.write("models/orders.sql", "select 1 as id\n")
    git_repo.commit("base")
    git_repo.write(marker, content)
    git_repo.commit("hostile")
    result = semverlint("diff", "HEAD~1..HEAD", "--format", "json", "--repo", git_repo.path)
    assert result.code in (0, 1), result.stderr
    messages = [d["message"] for p in result.json["projects"] for d in p["diagnostics"]]
    assert any(needle in m for m in messages), messages


HOSTILE_CASES += 3


def test_the_battery_counts() -> None:
    # Keep the note in the issue honest: this is the number of hostile cases tried.
    assert HOSTILE_CASES >= 70
