"""Property tests: random dbt projects and random edits, garbage included.

What must hold for any of them:

* nothing crashes: a report comes back (or the run is refused with a SemverlintError,
  exit 2), and every format renders it; through the CLI, the exit code is 0, 1 or 2 and
  there is never a traceback;
* comparing a project with itself reports no change, even when each side is loaded on
  its own;
* following the change (only the reached models and property entries read) reports
  exactly the changes that loading both sides in full reports;
* adding a breaking edit never lowers the required bump;
* output is deterministic: two runs give byte-identical output in every format, and the
  CLI (another process, another hash seed, git snapshots) prints exactly what the
  in-memory pipeline renders.

Most examples call :func:`semverlint.api.build_report` on in-memory snapshots (fast);
a few go through the real CLI on real git repositories. The budget comes from a
hypothesis profile: ``SEMVERLINT_HYPOTHESIS_PROFILE=ci`` (the default, about a minute on
two cores) or ``thorough`` (ten times the examples).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clirun import semverlint, validate_report
from gitrepo import GitRepo
from semverlint.api import Options, build_report, compare_projects, list_projects, load_listing
from semverlint.bump import rank
from semverlint.cache import MemoryCache
from semverlint.errors import SemverlintError
from semverlint.report import Report
from semverlint.reporters import FORMATS, reporter
from semverlint.revisions import RevisionInfo
from semverlint.rules import Catalogue, load_catalogue

settings.register_profile(
    "ci",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", settings.get_profile("ci"))
PROFILE = os.environ.get("SEMVERLINT_HYPOTHESIS_PROFILE", "ci")
SCALE = 10 if PROFILE == "thorough" else 1


def examples(count: int) -> settings:
    return settings(settings.get_profile(PROFILE), max_examples=count * SCALE)


TODAY = dt.date(2024, 6, 1)
OPTIONS = Options(today=TODAY)


@cache
def catalogue() -> Catalogue:
    return load_catalogue()


# --- a small model of a dbt project ------------------------------------------------------------

MODEL_NAMES = ("orders", "customers", "payments", "items")
COLUMN_NAMES = ("id", "status", "amount", "created_at", "note", "qty")
TYPES: dict[str | None, str] = {
    None: "'x'",
    "int": "1",
    "bigint": "cast(1 as bigint)",
    "varchar(10)": "'open'",
    "varchar(20)": "cast('open' as varchar(20))",
    "text": "'t'",
    "numeric(10,2)": "10.5",
    "timestamp": "cast('2024-01-01' as timestamp)",
    "boolean": "true",
}


@dataclass(frozen=True)
class Col:
    name: str
    type: str | None = None
    not_null: bool = False
    unique: bool = False
    in_sql: bool = True
    in_yaml: bool = True


@dataclass(frozen=True)
class Mdl:
    name: str
    columns: tuple[Col, ...]
    access: str | None = None
    materialized: str | None = None
    enabled: bool = True
    description: str | None = None
    style: str = "plain"  # plain | config | jinja | ref
    upstream: str | None = None
    has_sql: bool = True
    has_yaml: bool = True


@dataclass(frozen=True)
class Proj:
    version: str
    models: tuple[Mdl, ...]
    garbage: tuple[tuple[str, bytes | None], ...] = field(default=())  # path -> bytes / delete

    def model(self, name: str) -> Mdl | None:
        return next((m for m in self.models if m.name == name), None)


def model_sql(model: Mdl) -> str:
    cols = [c for c in model.columns if c.in_sql]
    select = ", ".join(f"{TYPES[c.type]} as {c.name}" for c in cols) or "1 as dummy"
    if model.style == "config":
        return (
            f"{{{{ config(materialized='{model.materialized or 'table'}') }}}}\nselect {select}\n"
        )
    if model.style == "jinja":
        names = ", ".join(repr(c.name) for c in cols)
        return (
            "{% set cols = [] %}"
            f"{{% for c in [{names}] %}}{{% do cols.append(c) %}}{{% endfor %}}"
            f"-- {{{{ cols | join(',') }}}}\nselect {select}\n"
        )
    if model.style == "ref" and model.upstream:
        return f"select {select} from {{{{ ref('{model.upstream}') }}}}\n"
    return f"select {select}\n"


def model_yaml(model: Mdl) -> str:
    lines = ["version: 2", "models:", f"  - name: {model.name}"]
    if model.description is not None:
        lines.append(f"    description: {json.dumps(model.description)}")
    config = {
        key: value
        for key, value in (
            ("access", model.access),
            ("materialized", model.materialized),
            ("enabled", None if model.enabled else False),
        )
        if value is not None
    }
    if config:
        lines.append(f"    config: {json.dumps(config)}")
    lines.append("    columns:")
    for col in (c for c in model.columns if c.in_yaml):
        lines.append(f"      - name: {col.name}")
        if col.type:
            lines.append(f"        data_type: {json.dumps(col.type)}")
        tests = [t for t, on in (("not_null", col.not_null), ("unique", col.unique)) if on]
        if tests:
            lines.append(f"        data_tests: {json.dumps(tests)}")
    return "\n".join(lines) + "\n"


def files_of(project: Proj, prefix: str = "") -> dict[str, bytes]:
    files = {
        f"{prefix}dbt_project.yml": (
            f"name: shop\nversion: {project.version}\nconfig-version: 2\n"
            "models:\n  shop:\n    +access: public\n"
        ).encode()
    }
    for model in project.models:
        if model.has_sql:
            files[f"{prefix}models/{model.name}.sql"] = model_sql(model).encode()
        if model.has_yaml:
            files[f"{prefix}models/{model.name}.yml"] = model_yaml(model).encode()
    for path, content in project.garbage:
        if content is None:
            files.pop(prefix + path, None)
        else:
            files[prefix + path] = content
    return files


# --- strategies ----------------------------------------------------------------------------------

columns = st.builds(
    Col,
    name=st.sampled_from(COLUMN_NAMES),
    type=st.sampled_from(list(TYPES)),
    not_null=st.booleans(),
    unique=st.booleans(),
    in_sql=st.booleans() | st.just(True),
    in_yaml=st.booleans() | st.just(True),
)


@st.composite
def models(draw: st.DrawFn, name: str, others: tuple[str, ...]) -> Mdl:
    cols = draw(st.lists(columns, min_size=1, max_size=4, unique_by=lambda c: c.name))
    style = draw(st.sampled_from(["plain", "plain", "config", "jinja", "ref"]))
    return Mdl(
        name=name,
        columns=tuple(cols),
        access=draw(st.sampled_from([None, "public", "protected", "private"])),
        materialized=draw(st.sampled_from([None, "table", "view", "ephemeral", "incremental"])),
        enabled=draw(st.booleans() | st.just(True)),
        description=draw(st.none() | st.sampled_from(["Orders.", "One row per thing.", "é ü"])),
        style=style,
        upstream=draw(st.sampled_from(others)) if style == "ref" and others else None,
        has_sql=draw(st.booleans() | st.just(True) | st.just(True)),
        has_yaml=draw(st.booleans() | st.just(True)),
    )


@st.composite
def projects(draw: st.DrawFn) -> Proj:
    names = draw(st.lists(st.sampled_from(MODEL_NAMES), min_size=1, max_size=3, unique=True))
    built = tuple(draw(models(name, tuple(n for n in names if n != name))) for name in names)
    version = draw(st.sampled_from(["1.0.0", "0.3.1", "2.4.0"]))
    return Proj(version, built)


GARBAGE_TEXT = st.text(
    alphabet=st.sampled_from(list("{}%#[]:-|>*&!?'\"\t\n ,.=()_ab1éÿ\u2028\ufeff\\")),
    max_size=60,
)
GARBAGE_PATHS = st.sampled_from(
    [
        "models/orders.sql", "models/orders.yml", "models/customers.sql", "models/customers.yml",
        "models/garbage.sql", "models/garbage.yml", "models/sub dir/x ü.sql", "dbt_project.yml",
        "macros/m.sql", "seeds/s.csv", "semverlint.yml", "models/payments.yml",
    ]
)  # fmt: skip


@st.composite
def garbage(draw: st.DrawFn, files: Mapping[str, bytes]) -> tuple[str, bytes | None]:
    """One damaging edit to a file: random bytes, spliced text, truncation, deletion."""
    path = draw(GARBAGE_PATHS | st.sampled_from(sorted(files)) if files else GARBAGE_PATHS)
    current = files.get(path, b"")
    kind = draw(st.sampled_from(["bytes", "splice", "truncate", "delete", "text"]))
    if kind == "bytes":
        return path, draw(st.binary(max_size=80))
    if kind == "delete":
        return path, None
    if kind == "truncate":
        return path, current[: draw(st.integers(0, len(current)))]
    text = draw(GARBAGE_TEXT).encode("utf-8")
    if kind == "text":
        return path, text
    at = draw(st.integers(0, len(current)))
    return path, current[:at] + text + current[at:]


Edit = Callable[[Proj, st.DataObject], Proj]


def _pick(data: st.DataObject, project: Proj) -> Mdl:
    return data.draw(st.sampled_from(project.models))


def _swap(project: Proj, model: Mdl) -> Proj:
    return replace(
        project, models=tuple(model if m.name == model.name else m for m in project.models)
    )


def _edit_column(project: Proj, data: st.DataObject, change: Callable[[Col], Col | None]) -> Proj:
    model = _pick(data, project)
    col = data.draw(st.sampled_from(model.columns))
    new = change(col)
    cols = tuple(new if c is col else c for c in model.columns if c is not col or new is not None)
    return _swap(project, replace(model, columns=cols or model.columns))


def remove_column(project: Proj, data: st.DataObject) -> Proj:
    return _edit_column(project, data, lambda c: None)


def add_column(project: Proj, data: st.DataObject) -> Proj:
    model = _pick(data, project)
    free = [n for n in COLUMN_NAMES if n not in {c.name for c in model.columns}]
    if not free:
        return project
    col = replace(data.draw(columns), name=data.draw(st.sampled_from(free)))
    return _swap(project, replace(model, columns=(*model.columns, col)))


def change_type(project: Proj, data: st.DataObject) -> Proj:
    new_type = data.draw(st.sampled_from(list(TYPES)))
    return _edit_column(project, data, lambda c: replace(c, type=new_type))


def toggle_tests(project: Proj, data: st.DataObject) -> Proj:
    return _edit_column(
        project, data, lambda c: replace(c, not_null=not c.not_null, unique=not c.unique)
    )


def set_model_field(name: str, values: Iterable[Any]) -> Edit:
    def edit(project: Proj, data: st.DataObject) -> Proj:
        model = _pick(data, project)
        return _swap(project, replace(model, **{name: data.draw(st.sampled_from(list(values)))}))

    edit.__name__ = f"set_{name}"
    return edit


def remove_model(project: Proj, data: st.DataObject) -> Proj:
    if len(project.models) == 1:
        return project
    gone = _pick(data, project)
    return replace(project, models=tuple(m for m in project.models if m is not gone))


def add_model(project: Proj, data: st.DataObject) -> Proj:
    free = [n for n in MODEL_NAMES if project.model(n) is None]
    if not free:
        return project
    name = data.draw(st.sampled_from(free))
    model = data.draw(models(name, tuple(m.name for m in project.models)))
    return replace(project, models=(*project.models, model))


def rename_model(project: Proj, data: st.DataObject) -> Proj:
    free = [n for n in MODEL_NAMES if project.model(n) is None]
    if not free:
        return project
    model = _pick(data, project)
    renamed = replace(model, name=data.draw(st.sampled_from(free)))
    return replace(project, models=tuple(renamed if m is model else m for m in project.models))


def set_version(project: Proj, data: st.DataObject) -> Proj:
    return replace(
        project,
        version=data.draw(st.sampled_from(["1.0.0", "1.0.1", "1.1.0", "2.0.0", "0.4.0", "x"])),
    )


STRUCTURAL: tuple[Edit, ...] = (
    remove_column, add_column, change_type, toggle_tests, remove_model, add_model, rename_model,
    set_version,
    set_model_field("access", [None, "public", "protected", "private"]),
    set_model_field("materialized", [None, "table", "view", "ephemeral", "incremental"]),
    set_model_field("enabled", [True, False]),
    set_model_field("description", [None, "Changed.", "Orders."]),
    set_model_field("style", ["plain", "config", "jinja"]),
    set_model_field("has_yaml", [True, False]),
    set_model_field("has_sql", [True, False]),
)  # fmt: skip


def edited(project: Proj, data: st.DataObject, *, with_garbage: bool) -> Proj:
    for edit in data.draw(st.lists(st.sampled_from(STRUCTURAL), max_size=4), label="edits"):
        project = edit(project, data)
    if with_garbage:
        files = files_of(project)
        junk = data.draw(st.lists(garbage(files), max_size=3), label="garbage")
        project = replace(project, garbage=(*project.garbage, *junk))
    return project


# --- running the pipeline in memory --------------------------------------------------------------


class Memory:
    """A snapshot held in memory: what build_report reads."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = dict(files)

    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(self._files))

    def oid(self, path: str) -> str | None:
        self._files[path]  # KeyError when absent, as the protocol says
        return None

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        return {path: self._files[path] for path in paths}

    def prefetch(self, paths: Iterable[str]) -> None:
        """Nothing to start: held in memory."""


BASE_INFO = RevisionInfo("base", None)
HEAD_INFO = RevisionInfo("head", None)


def report(
    base: Mapping[str, bytes],
    head: Mapping[str, bytes],
    base_info: RevisionInfo = BASE_INFO,
    head_info: RevisionInfo = HEAD_INFO,
) -> Report | None:
    """The report, or None when the run is refused (what the CLI turns into exit 2)."""
    try:
        return build_report(Memory(base), Memory(head), base_info, head_info, catalogue(), OPTIONS)
    except SemverlintError:
        return None


def rendered(result: Report) -> dict[str, str]:
    return {fmt: reporter(fmt)(result, False) for fmt in FORMATS}


def bump_of(result: Report | None) -> int:
    return rank(result.required_bump) if result is not None else -1


# --- the properties ------------------------------------------------------------------------------


@examples(120)
@given(base=projects(), data=st.data())
def test_random_edits_never_crash_and_render_alike_twice(base: Proj, data: st.DataObject) -> None:
    base = edited(base, data, with_garbage=data.draw(st.booleans(), label="dirty base"))
    head = edited(base, data, with_garbage=True)
    first = report(files_of(base), files_of(head))
    event("refused (exit 2)" if first is None else f"required bump {first.required_bump}")
    if first is None:
        return
    outputs = rendered(first)
    validate_report(json.loads(outputs["json"]))
    second = report(files_of(base), files_of(head))
    assert second is not None
    assert rendered(second) == outputs


@examples(60)
@given(project=projects(), data=st.data())
def test_comparing_a_project_with_itself_reports_nothing(
    project: Proj, data: st.DataObject
) -> None:
    project = edited(project, data, with_garbage=True)
    files = files_of(project)
    same = report(files, files)
    if same is None:
        return
    assert [c for p in same.projects for c in p.changes] == []
    assert same.required_bump == "none"
    # The same again with each side loaded on its own: the loader is deterministic and
    # the differ finds nothing between two equal interfaces.
    snapshot = Memory(files)
    try:
        listings = list_projects(snapshot, OPTIONS)
        sides = [
            {
                path: load_listing(listing, snapshot, catalogue(), OPTIONS, None, MemoryCache())
                for path, listing in listings.items()
            }
            for _ in range(2)
        ]
    except SemverlintError:
        return
    reports = compare_projects(sides[0], sides[1], catalogue(), OPTIONS)
    assert [c for p in reports for c in p.changes] == []


@examples(80)
@given(base=projects(), data=st.data())
def test_following_the_change_reports_what_reading_everything_reports(
    base: Proj, data: st.DataObject
) -> None:
    """Cost follows the change (property files cut to the reached entries, sources parsed
    on demand, only reached models analysed): the changes must be exactly those that
    loading both sides in full and comparing them gives."""
    base = edited(base, data, with_garbage=data.draw(st.booleans(), label="dirty base"))
    head = edited(base, data, with_garbage=True)
    followed = report(files_of(base), files_of(head))
    if followed is None:
        return
    before, after = Memory(files_of(base)), Memory(files_of(head))
    try:
        sides = [
            {
                path: load_listing(listing, snapshot, catalogue(), OPTIONS, None, MemoryCache())
                for path, listing in list_projects(snapshot, OPTIONS).items()
            }
            for snapshot in (before, after)
        ]
    except SemverlintError:
        return
    full = compare_projects(sides[0], sides[1], catalogue(), OPTIONS)
    assert [p.changes for p in followed.projects] == [p.changes for p in full]


def _consumers_see(model: Mdl | None) -> bool:
    """Whether removing this model (or one of its columns) breaks consumers."""
    return (
        model is not None
        and model.enabled
        and model.has_sql
        and model.access != "private"
        and model.materialized != "ephemeral"
    )


def _breaking(base: Proj, head: Proj, data: st.DataObject) -> tuple[str, Proj] | None:
    """A breaking edit on top of head, against base: a model or column that consumers of
    base can query is removed. The model's name and the worse head."""
    shared = [m.name for m in head.models if _consumers_see(base.model(m.name))]
    if not shared:
        return None
    name = data.draw(st.sampled_from(shared), label="broken model")
    model = head.model(name)
    assert model is not None
    base_model = base.model(name)
    assert base_model is not None
    kept = {c.name for c in base_model.columns}
    removable = [c for c in model.columns if c.name in kept and c.in_sql and c.in_yaml]
    if removable and data.draw(st.booleans(), label="remove a column"):
        gone = data.draw(st.sampled_from(removable), label="removed column")
        cols = tuple(c for c in model.columns if c is not gone) or (Col("filler"),)
        return name, _swap(head, replace(model, columns=cols))
    return name, replace(head, models=tuple(m for m in head.models if m.name != name))


@examples(100)
@given(base=projects(), data=st.data())
def test_adding_a_breaking_edit_never_lowers_the_required_bump(
    base: Proj, data: st.DataObject
) -> None:
    first = base.models[0]
    if not _consumers_see(first):  # so that most examples have something to break
        visible = replace(first, enabled=True, has_sql=True, access="public", materialized=None)
        base = _swap(base, visible)
    head = edited(base, data, with_garbage=False)
    broken = _breaking(base, head, data)
    if broken is None:
        event("no model consumers of base can query")
        return
    name, worse = broken
    # The same garbage on both heads, sparing the files the breaking edit is about.
    spared = {f"models/{name}.sql", f"models/{name}.yml"}
    junk = data.draw(
        st.lists(garbage(files_of(head)).filter(lambda g: g[0] not in spared), max_size=2),
        label="garbage on both heads",
    )
    head, worse = replace(head, garbage=tuple(junk)), replace(worse, garbage=tuple(junk))
    before = report(files_of(base), files_of(head))
    after = report(files_of(base), files_of(worse))
    event(f"required bump {before and before.required_bump} -> {after and after.required_bump}")
    assert bump_of(after) >= bump_of(before), (
        before and before.required_bump,
        after and after.required_bump,
    )


# --- the same through the real CLI ---------------------------------------------------------------


def commit_files(repo: GitRepo, files: Mapping[str, bytes], message: str) -> str:
    for entry in repo.path.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for path, content in files.items():
        target = repo.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return repo.commit(message)


@examples(4)
@given(base=projects(), data=st.data())
def test_the_cli_prints_what_the_pipeline_renders(
    base: Proj, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    head = edited(base, data, with_garbage=True)
    repo = GitRepo.init(tmp_path_factory.mktemp("prop") / "repo")
    base_files, head_files = files_of(base), files_of(head)
    base_sha = commit_files(repo, base_files, "base")
    head_sha = commit_files(repo, head_files, "head")
    expected = report(
        base_files, head_files, RevisionInfo("HEAD~1", base_sha), RevisionInfo("HEAD", head_sha)
    )
    for fmt in FORMATS:
        result = semverlint(
            "diff", "HEAD~1..HEAD", "--format", fmt, "--repo", repo.path,
            env={"GITHUB_STEP_SUMMARY": "", "COLUMNS": "100"},
        )  # fmt: skip
        assert result.code in (0, 2), result.stderr
        if expected is None:
            assert result.code == 2
            continue
        assert result.code == 0, result.stderr
        assert result.stdout == reporter(fmt)(expected, False), fmt
    check = semverlint("check", "HEAD~1..HEAD", "--strict", "--repo", repo.path)
    assert check.code in (0, 1, 2)
