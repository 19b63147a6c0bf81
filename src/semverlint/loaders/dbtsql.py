"""The SQL stage of a dbt project: render and analyse the models a change can reach, on demand.

Cost follows the change. Comparing two states, a model is analysed only when it is
dirty (its SQL, its YAML entry or its config differ) or downstream of a dirty model;
an upstream model is analysed only when one of those reads it through `*` or passes
its columns on. Every other model is read from its YAML alone, identically on both
sides, so it cannot produce a delta. Loading one state alone analyses every model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from semverlint.cache import Cache, MemoryCache, make_key, read
from semverlint.differ import type_key, type_pairs
from semverlint.facts import Rendered
from semverlint.interface import Diagnostic, Interface, Model, fold
from semverlint.loaders.dbt import (
    _REF,
    NAME_SCAN,
    DbtProject,
    DbtProjectFile,
    FoundModels,
    ModelFile,
    ModelSpec,
    Need,
    SourceKey,
    Sources,
    TextMemo,
    YamlParser,
    _render_vars,
    all_model_files,
    cached_parser,
    collect_properties,
    marked_models,
    parse_project_file,
    paths_under,
    project_adapter,
    project_interface,
    project_macros,
    property_files,
    read_dbt_project,
    split_name,
    yaml_key,
)
from semverlint.modelsql import (
    Analysed,
    LineageResolver,
    analyse_rendered,
    analysed_from_json,
    analysed_to_json,
    lineage_order,
    reconcile,
    sql_diagnostics,
)
from semverlint.parallel import (
    BATCH,
    AnalyseBatch,
    AnalyseJob,
    Layout,
    RenderBatch,
    RenderJob,
    RenderSetup,
    Workers,
    _by_layout,
    analysis_key,
    blind_upstream,
    parallel_min,
)
from semverlint.yamltrim import entry_texts, keep_entries

T = TypeVar("T")

# Beyond this depth of upstream models a star stays open rather than risk the stack.
MAX_DEPTH = 400


def render_setup(
    project: DbtProjectFile,
    adapter: str | None,
    macros: tuple[tuple[str, str], ...],
    dialect: str | None,
) -> RenderSetup:
    """What a worker needs to render a project's models, with its key."""
    render_vars = _render_vars(project)
    return RenderSetup(
        context=make_key("context", project.name, adapter, dialect, render_vars, macros),
        project_name=project.name,
        target_type=adapter or "default",
        vars=render_vars,
        macros=macros,
        dialect=dialect,
    )


def _context_key(dbt: DbtProject, dialect: str | None) -> str:
    return render_setup(dbt.project, dbt.adapter, dbt.macros, dialect).context


def _dialect(dbt: DbtProject, dialect: str | None) -> str | None:
    return _adapter_dialect(dbt.adapter, dialect)


def _adapter_dialect(adapter: str | None, dialect: str | None) -> str | None:
    """The dialect configured, else the adapter's."""
    if dialect is None and adapter is not None:
        from semverlint.sql import dialect_for_adapter

        return dialect_for_adapter(adapter)
    return dialect


def _column_names(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The column names a source declares: all a star over it needs."""
    columns = data.get("columns")
    if not isinstance(columns, list):
        return ()
    names = (c.get("name") for c in columns if isinstance(c, dict))
    return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))


class _SourceColumns(Mapping[SourceKey, "tuple[str, ...] | None"]):
    """The columns each source table declares, worked out only for the tables models read."""

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def __getitem__(self, key: SourceKey) -> tuple[str, ...] | None:
        return _column_names(self._sources[key].data) or None

    def __iter__(self) -> Iterator[SourceKey]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


class _Upstream(Mapping[str, Model]):
    """Models by key as the SQL of a downstream model needs them: analysed on first use."""

    def __init__(self, stage: _Stage) -> None:
        self._stage = stage

    def __getitem__(self, key: str) -> Model:
        model = self._stage.upstream(key)
        if model is None:
            raise KeyError(key)
        return model

    def __iter__(self) -> Iterator[str]:
        return iter(self._stage.specs)

    def __len__(self) -> int:
        return len(self._stage.specs)


Finished = tuple[Model, list[Diagnostic]]  # a model analysed, and what its analysis found


@dataclass(frozen=True)
class _Waiting:
    """A model rendered, waiting for an analysis that is not in the cache yet."""

    model: Model
    diagnostics: tuple[Diagnostic, ...]
    result: Rendered
    layout: Layout
    job: AnalyseJob  # the analysis it waits for
    upstream_known: bool = False  # whether the job has its upstream models' columns


class _Stage:
    """One state of one project going through the SQL stage."""

    def __init__(
        self,
        dbt: DbtProject,
        dialect: str | None,
        cache: Cache,
        focus: frozenset[str] | None,
        workers: Workers | None = None,
    ) -> None:
        self.dbt = dbt
        self.dialect = dialect
        self.cache = cache
        self.focus = focus
        self.workers = workers
        self.specs: dict[str, ModelSpec] = {spec.key: spec for spec in dbt.specs}
        self.renders = _Renders(dbt, dialect, cache, workers)
        sources = _SourceColumns(dbt.properties.sources)
        latest = {
            fold(s.entry.data["name"]): s.key
            for s in self.specs.values()
            if s.entry and s.version and s.build().is_latest
        }
        self.resolver = LineageResolver(dbt.project.name, frozenset(self.specs), latest, sources)
        self.analysed: dict[str, Model] = {m.key: m for m in dbt.seeds}
        self.pending: set[str] = set()
        self.waiting: dict[str, _Waiting] = {}  # models whose analysis is for the workers
        self.diagnostics: list[Diagnostic] = []
        self.lookup = _Upstream(self)

    def wanted(self, key: str) -> bool:
        return self.focus is None or key in self.focus

    def upstream(self, key: str) -> Model | None:
        if key in self.waiting:
            self._flush()
        if key in self.analysed:
            return self.analysed[key]
        if key not in self.specs or key in self.pending or len(self.pending) > MAX_DEPTH:
            return None  # unknown, or a cycle: the star over it stays open
        return self.analyse(key, report=self.wanted(key))

    def analyse(self, key: str, *, report: bool) -> Model:
        """The model with its SQL analysed; its diagnostics count only when it is reported."""
        with self._analysing(key):
            step = self._begin(self.specs[key])
            while isinstance(step, _Waiting):
                step = self._here(step)
        return self._done(key, step, report=report)

    @contextmanager
    def _analysing(self, key: str) -> Iterator[None]:
        """While `key` counts as being analysed: a model it leads back to finds its star over
        it open, rather than analysing it again (a cycle)."""
        self.pending.add(key)
        try:
            yield
        finally:
            self.pending.discard(key)

    def _here(self, step: _Waiting) -> Finished | _Waiting:
        """The step taken on with the analysis it waits for, got without waiting with others."""
        return self._continue(step, self._analysis(step.job, step.result, step.layout))

    def _done(self, key: str, step: Finished, *, report: bool) -> Model:
        model, diagnostics = step
        self.analysed[key] = model
        if report:
            self.diagnostics.extend(diagnostics)
        return model

    def _begin(
        self, spec: ModelSpec, rendered: tuple[Rendered, Layout] | None = None
    ) -> Finished | _Waiting:
        """The model analysed, or waiting for an analysis that is not in the cache."""
        if spec.file.language != "sql":  # Python models: known by name and YAML only
            return spec.build(), []
        result, layout = rendered or self.renders.get(spec.file)
        resolver = self.resolver
        refs = resolver.model_refs(result.relations)
        if not self.waiting.keys().isdisjoint(refs):
            self._flush()  # types flow from upstream models: they are finished first
        model = replace(
            spec.build(dict(result.config)),
            refs=tuple(sorted(refs)),
            foreign_refs=resolver.foreign_refs(result.relations),
            opaque=bool(result.diagnostics),
        )
        diagnostics = tuple(sql_diagnostics(model, result.diagnostics))
        # First without upstream models' columns: a query that names its output columns needs
        # none (the analyser attributes them to their one source), so no ancestor is analysed.
        # Only an output that still holds a star asks for them, which depends on this model's
        # own SQL alone and so is decided alike on both sides.
        blind = blind_upstream(result.relations, resolver.sources)
        step = _Waiting(model, diagnostics, result, layout, self._job(result, layout, blind))
        analysed = self._cached(step.job, layout)
        return step if analysed is None else self._continue(step, analysed)

    def _continue(self, step: _Waiting, analysed: Analysed | str) -> Finished | _Waiting:
        """The model with an analysis it waited for: finished, or waiting for its analysis
        with its upstream models' columns when the first one still holds a star."""
        if not step.upstream_known and not isinstance(analysed, str) and not analysed.full.closed:
            relations = step.result.relations
            upstream = {
                identifier: self.resolver.columns(r, self.lookup) for identifier, r in relations
            }
            if upstream != dict(step.job.upstream):
                step = replace(
                    step, job=self._job(step.result, step.layout, upstream), upstream_known=True
                )
                cached = self._cached(step.job, step.layout)
                if cached is None:
                    return step
                analysed = cached
        return self._finish(step, analysed)

    def _finish(self, step: _Waiting, analysed: Analysed | str) -> Finished:
        model, diagnostics, result = step.model, list(step.diagnostics), step.result
        if isinstance(analysed, str):
            message = f"SQL not analysed, classified from its YAML: {analysed}"
            return model, [*diagnostics, *sql_diagnostics(model, [message], "error")]
        diagnostics.extend(sql_diagnostics(model, analysed.full.diagnostics))
        # Types flow only from models analysed already (upstream first, in lineage order):
        # asking for more would analyse every ancestor, and an unchanged one gives both sides
        # the same type anyway.
        names = self.resolver.lineage_map(result.relations)
        model, reconciled = reconcile(model, analysed, names, self.analysed)
        if model.resource == "snapshot":
            model = with_snapshot_columns(model)
        return model, [*diagnostics, *reconciled]

    def _job(
        self, result: Rendered, layout: Layout, upstream: dict[str, tuple[str, ...] | None]
    ) -> AnalyseJob:
        key = analysis_key(self.dialect, result.sql, layout, upstream)
        return AnalyseJob(key, result.sql, tuple(sorted(upstream.items())), self.dialect)

    def _cached(self, job: AnalyseJob, layout: Layout) -> Analysed | str | None:
        cached = read(self.cache, job.key, analysed_from_json)
        # Problems may say on which line they are: true only of the text they came from.
        if cached is not None and (not _by_layout(layout) or _unplaced(cached)):
            return cached
        return None

    def _analysis(self, job: AnalyseJob, result: Rendered, layout: Layout) -> Analysed | str:
        cached = self._cached(job, layout)
        if cached is not None:
            return cached
        if self.workers is not None and self.workers.running:
            # The workers have sqlglot loaded already; this process would load it (a tenth
            # of a second) for the few analyses that wait on their upstream models.
            ((_, value),) = self.workers.analyse([job])[0].result()
            self.cache.put(job.key, value)
            return analysed_from_json(value)
        analysed = analyse_rendered(result, self.dialect, dict(job.upstream))
        self.cache.put(job.key, analysed_to_json(analysed))
        return analysed

    def _start(self, key: str) -> None:
        """Analyse a model the change reaches, or leave it waiting when its analysis is for
        the workers: they take every waiting one at once, when a model needs one of them or
        the pass ends, not one round trip each."""
        if key in self.analysed or key in self.waiting:
            return
        spec = self.specs[key]
        rendered = self.renders.get(spec.file) if spec.file.language == "sql" else None
        if rendered and not self.waiting.keys().isdisjoint(
            self.resolver.model_refs(rendered[0].relations)
        ):
            self._flush()  # before this model counts as being analysed: see upstream()
        with self._analysing(key):
            step = self._begin(spec, rendered)
            while isinstance(step, _Waiting) and not (self.workers and self.workers.running):
                step = self._here(step)
        self._settle(key, step)

    def _settle(self, key: str, step: Finished | _Waiting) -> None:
        if isinstance(step, _Waiting):
            self.waiting[key] = step
        else:
            self._done(key, step, report=self.wanted(key))

    def _flush(self) -> None:
        """Analyse the waiting models in the workers, all at once, and take them on in order:
        finished, or waiting again for their analysis with their upstream models' columns."""
        waiting, self.waiting = self.waiting, {}
        assert self.workers is not None  # models wait only when the workers run
        jobs = {step.job.key: step.job for step in waiting.values()}
        values: dict[str, Any] = {}
        for future in self.workers.analyse(list(jobs.values())):
            for key, value in future.result():
                self.cache.put(key, value)
                values[key] = value
        for key, step in waiting.items():
            if key in self.analysed:  # read through a macro's ref by one before it: done then
                continue
            with self._analysing(key):
                next_step = self._continue(step, analysed_from_json(values[step.job.key]))
            self._settle(key, next_step)

    def plain(self, spec: ModelSpec) -> Model:
        """A model out of reach of the change: its YAML and config, refs read from the text."""
        return replace(spec.build(), refs=tuple(sorted(text_refs(spec.file, self.specs))))

    def wanted_keys(self) -> list[str]:
        """The keys of the models the change reaches, sorted: looked up from the reach, not
        found among the project's thousands of models."""
        if self.focus is None:
            return sorted(self.specs)
        return sorted(self.focus & self.specs.keys())

    def wanted_sql(self) -> list[ModelSpec]:
        specs = (self.specs[key] for key in self.wanted_keys())
        return [spec for spec in specs if spec.file.language == "sql"]

    def analyse_job(self, spec: ModelSpec) -> AnalyseJob:
        """The first analysis of a model: its query with sources' columns only."""
        result, layout = self.renders.get(spec.file)
        return self._job(result, layout, blind_upstream(result.relations, self.resolver.sources))

    def run(self, project_dir: str, marker: str) -> Interface:
        wanted = self.wanted_keys()
        # Order needs only the refs among the wanted models: reading every file's text for
        # them cost a one-model change as much as its analysis.
        refs = {key: text_refs(self.specs[key].file, self.specs) for key in wanted}
        for key in lineage_order(wanted, refs):
            self._start(key)
        while self.waiting:  # a model taken on may wait again, for its second analysis
            self._flush()
        # A model out of reach is the same on both sides and yields no delta: it is left out.
        models = [self.analysed.get(key) or self.specs[key].build() for key in wanted]
        diagnostics = [
            Diagnostic("warning", f"macros: {m}", None) for m in self.renders.macro_diagnostics()
        ]
        return project_interface(
            self.dbt,
            project_dir,
            marker,
            tuple(models),
            self.dialect,
            (*diagnostics, *self.diagnostics),
        )


SNAPSHOT_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")


def _unplaced(analysed: Analysed | str) -> bool:
    """True when no problem was found: then nothing in the analysis depends on the layout."""
    return not isinstance(analysed, str) and not any(
        query.diagnostics for query in (analysed.full, analysed.incremental) if query
    )


@dataclass(frozen=True)
class Ahead:
    """A small change's models, sent to its worker while the YAML side is read (render_ahead)."""

    context: str
    result: Future[tuple[RenderBatch, AnalyseBatch]]

    def into(self, cache: Cache) -> None:
        """Put what the worker made in the cache, where the stages look first."""
        (entries, problems), analyses = self.result.result()
        remember_macros(cache, self.context, problems)
        for key, value in (*entries, *analyses):
            cache.put(key, value)


# Up to this many renders, the models a small change reaches are sent to its worker ahead.
AHEAD_MAX_JOBS = 64


def render_ahead(
    project_dir: str,
    scope: Scope,
    files: tuple[Mapping[str, bytes], Mapping[str, bytes]],
    marker: str,
    dialect: str | None,
    cache: Cache,
    workers: Workers,
) -> Ahead | None:
    """Send the models a small change reaches to its worker, to render and analyse as far
    as it can, while this process reads the rest of the YAML side.

    The worker would sit idle otherwise, and a model's first analysis waits on nothing
    the YAML says unless the model reads a source. What the worker makes goes into the
    cache under the keys the stages ask for, so a model whose context is not the one
    assumed here just finds nothing there.
    """
    if workers.size != 1:
        return None
    # A scope means the project file and the macros are the same on both sides.
    project, _ = parse_project_file(files[1][marker], marker)
    assert project is not None  # the scope is only worked out for a project file that parses
    macros = project_macros(project_dir, files[1], project)
    adapter = project_adapter(project_dir, files[1], project)
    if adapter != project_adapter(project_dir, files[0], project):
        return None  # each side renders in a context of its own
    setup = render_setup(project, adapter, macros, _adapter_dialect(adapter, dialect))
    jobs: dict[str, RenderJob] = {}
    for found, _, _ in scope.model_files:
        for file in found:
            if file.key in scope.reach and file.language == "sql":
                key = make_key("render", setup.context, file.digest)
                if cache.get(key) is None:
                    jobs[key] = RenderJob(key, file.text)
    if not jobs or len(jobs) > AHEAD_MAX_JOBS:
        return None
    return Ahead(setup.context, workers.render_ahead(setup, list(jobs.values())))


def prefetch(stages: tuple[_Stage, ...], workers: Workers) -> None:
    """Render, then analyse, the wanted models of the stages in parallel when they are many.

    Both sides of a comparison go to the workers together, each distinct query once: a
    model whose SQL is the same (or only reformatted) on both sides costs one render and
    one analysis. A model's analysis is sent as soon as its render is back, so the workers
    never wait for this process between the two."""
    cache = stages[0].cache
    # Render key -> the (stage, model) pairs waiting for it: both sides share a key when the
    # model's text and the render context are the same.
    waiting: dict[str, list[tuple[_Stage, ModelSpec]]] = {}
    renders: dict[str, tuple[RenderSetup, dict[str, RenderJob]]] = {}
    for stage in stages:
        setup = stage.renders.setup()
        for spec in stage.wanted_sql():
            key = stage.renders.key(spec.file)
            waiting.setdefault(key, []).append((stage, spec))
            if cache.get(key) is None:
                batch = renders.setdefault(setup.context, (setup, {}))[1]
                batch[key] = RenderJob(key, spec.file.text)
    analyses = _Analyses(workers, cache)
    rendering: dict[Future[RenderBatch], str] = {}  # -> its render context's key
    if workers.worth(sum(len(jobs) for _, jobs in renders.values())):
        for setup, jobs in renders.values():
            rendering.update(
                dict.fromkeys(workers.render(setup, list(jobs.values())), setup.context)
            )
    for future in as_completed(rendering):
        entries, macro_problems = future.result()
        remember_macros(cache, rendering[future], macro_problems)
        for key, value in entries:
            cache.put(key, value)
            for stage, spec in waiting.pop(key, ()):
                analyses.add(stage.analyse_job(spec))
    # Rendered already, or too few to be worth the workers: rendered here.
    for pairs in waiting.values():
        for stage, spec in pairs:
            analyses.add(stage.analyse_job(spec))
    analyses.finish()


class _Analyses:
    """First analyses on their way to the workers: each distinct key once, in batches, and
    none at all when too few miss the cache to be worth them (the lineage pass does those)."""

    def __init__(self, workers: Workers, cache: Cache) -> None:
        self._workers = workers
        self._cache = cache
        self._seen: set[str] = set()
        self._pending: list[AnalyseJob] = []
        self._sent: list[Future[list[tuple[str, Any]]]] = []

    def add(self, job: AnalyseJob) -> None:
        if job.key in self._seen or self._cache.get(job.key) is not None:
            return
        self._seen.add(job.key)
        self._pending.append(job)
        if len(self._pending) >= BATCH and self._workers.worth(len(self._seen)):
            self._send()

    def finish(self) -> None:
        """Send what is left, and put every result in the cache."""
        if self._pending and self._workers.worth(len(self._seen)):
            self._send()
        for future in as_completed(self._sent):
            for key, value in future.result():
                self._cache.put(key, value)

    def _send(self) -> None:
        self._sent.extend(self._workers.analyse(self._pending))
        self._pending = []


def with_snapshot_columns(model: Model) -> Model:
    """dbt adds its validity columns to every snapshot: consumers read them too."""
    from semverlint.interface import Column

    present = {c.key for c in model.columns}
    extra = tuple(Column(name=n) for n in SNAPSHOT_COLUMNS if n not in present)
    return replace(model, columns=model.columns + extra)


def text_refs(file: ModelFile, specs: Mapping[str, ModelSpec]) -> set[str]:
    """The models a file refs, read from its text without rendering: enough to walk lineage."""
    names = {fold(m.group(2) or m.group(1)) for m in _REF.finditer(file.text)}
    return {name for name in names if name in specs}


# A loaded state: its interface (None when the project cannot be read) and why.
Loaded = tuple["Interface | None", tuple[Diagnostic, ...]]


def load_dbt(
    project_dir: str,
    files: Mapping[str, bytes],
    marker: str,
    dialect: str | None,
    cache: Cache | None = None,
    workers: Workers | None = None,
) -> Loaded:
    """One state of a dbt project with every model analysed (by `workers` when given)."""
    cache = cache if cache is not None else MemoryCache()
    dbt = read_dbt_project(project_dir, files, marker, cached_parser(cache))
    if isinstance(dbt, Diagnostic):
        return None, (dbt,)
    dialect = _dialect(dbt, dialect)
    with _running(workers) as running:
        stage = _Stage(dbt, dialect, cache, None, running)
        prefetch((stage,), running)
        return stage.run(project_dir, marker), ()


@contextmanager
def _running(workers: Workers | None, changed_sql: int = 0) -> Iterator[Workers]:
    """The workers given, or this call's own, started for a change of `changed_sql` files
    and stopped when it is done."""
    if workers is not None:
        yield workers
        return
    with Workers() as own:
        start_workers(own, changed_sql)
        yield own


def _signature(spec: ModelSpec) -> str:
    entry = spec.entry.data if spec.entry is not None else None
    return json.dumps(
        [spec.file.path, spec.file.digest, entry, spec.project_config, spec.version],
        sort_keys=True,
        default=str,
    )


def _sources(dbt: DbtProject) -> str:
    return dbt.properties.sources.fingerprint()


def focus(base: DbtProject, head: DbtProject, dialect: str | None) -> frozenset[str] | None:
    """The models a change can reach: dirty ones and everything downstream; None for all."""
    same_context = _context_key(base, dialect) == _context_key(head, dialect)
    if not same_context or _sources(base) != _sources(head):
        return None  # macros, vars, adapter or sources changed: any model may render differently
    before = {s.key: s for s in base.specs}
    after = {s.key: s for s in head.specs}
    dirty = {
        key
        for key in before.keys() | after.keys()
        if key not in before
        or key not in after
        or _signature(before[key]) != _signature(after[key])
    }
    sides = ({k: s.file for k, s in before.items()}, {k: s.file for k, s in after.items()})
    return downstream(dirty, sides)


def downstream(dirty: set[str], sides: tuple[Mapping[str, ModelFile], ...]) -> frozenset[str]:
    """The dirty models and every model that refs one of them, transitively, on either side."""
    children: dict[str, set[str]] = {}
    scanned: dict[str, ModelFile] = {}
    for files in sides:
        for key, file in files.items():
            if scanned.get(key) is file:  # the same file on both sides (nearly all of them)
                continue
            scanned[key] = file
            for first, second in _REF.findall(file.text):
                children.setdefault(fold(second or first), set()).add(key)
    reach, todo = set(dirty), list(dirty)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in reach:
                reach.add(child)
                todo.append(child)
    return frozenset(reach)


# Sections read whatever models they name: exposures and the semantic layer are read whole
# (they are small); sources are kept for the models that read them (they are not).
# Top-level keys are found by the line break before them: a pattern anchored with ^ is
# tried at every position of megabytes of YAML, one that starts with a newline only where
# there is one (seven times faster). The first line is looked at on its own.
_TOP_KEYS = re.compile(rb"\n(semantic_models|metrics|exposures|saved_queries|sources)[ \t]*:")
_SOURCES = b"sources"
# Up to this many names, a file is searched for them in one pattern rather than by reading
# every `name:` in it: at twice the speed, and the pattern compiles in a few milliseconds.
_FEW_NAMES = 256
# Up to this many names, a file is first searched for the names alone.
_LITERAL_NAMES = 4


def _top_keys(raw: bytes) -> set[bytes]:
    """Which of the sections above the file has at the top level (one scan for them all)."""
    first = _TOP_KEYS.match(b"\n" + raw[:32])
    return {*_TOP_KEYS.findall(raw), *((first.group(1),) if first else ())}


_VERSIONED = re.compile(r"^(.+)_v[\w.]+$")


def _entry_text(entry: Any) -> str:
    return json.dumps(entry.data if entry is not None else None, sort_keys=True, default=str)


@dataclass(frozen=True)
class Scope:
    """What a change can reach, worked out before any property file of the reach is parsed."""

    wanted: Callable[[str, bytes], tuple[Need, bytes]]  # what of each property file to parse
    reach: frozenset[str]  # dirty models and everything downstream
    model_files: tuple[FoundModels, FoundModels]  # base's and head's, read once


def property_filter(
    project_dir: str,
    base_files: Mapping[str, bytes],
    head_files: Mapping[str, bytes],
    marker: str,
    parse: YamlParser,
) -> Scope | None:
    """The property files worth parsing to compare two states, and how much of each; None:
    every file, whole.

    Of a changed file, the entries of the models the change reaches (its own edited
    entries among them); of the others, those that name a reached model, files that
    declare exposures or the semantic layer whole, and the sources of the rest only when
    a model reads them. A change to dbt_project.yml or to the macros can reach any model,
    so then every file is read.
    """
    if base_files.get(marker) != head_files.get(marker):
        return None
    project, _ = parse_project_file(head_files[marker], marker)
    if project is None:
        return None
    macro_roots = project.macro_paths
    for path in paths_under(project_dir, base_files.keys() | head_files.keys(), macro_roots, ""):
        if base_files.get(path) != head_files.get(path):
            return None
    before = property_files(project_dir, base_files, project)
    after = property_files(project_dir, head_files, project)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    # Of a changed file, only the entries whose text changed can describe a model anew.
    edited = {p: _edited_entries(before.get(p), after.get(p)) for p in changed}
    old = collect_properties(
        {p: _cut(before[p], edited[p]) for p in changed if p in before}, parse
    ).models
    new = collect_properties(
        {p: _cut(after[p], edited[p]) for p in changed if p in after}, parse
    ).models
    dirty = {
        k for k in old.keys() | new.keys() if _entry_text(old.get(k)) != _entry_text(new.get(k))
    }
    memo: TextMemo = {}
    old_list = all_model_files(project_dir, base_files, project, memo)
    new_list = all_model_files(project_dir, head_files, project, memo)
    old_files = {f.key: f for f in old_list[0]}
    new_files = {f.key: f for f in new_list[0]}
    for key in old_files.keys() | new_files.keys():
        old_file, new_file = old_files.get(key), new_files.get(key)
        # A renamed or moved file (even by case alone) may name or configure its relation anew.
        if old_file is not new_file and (
            old_file is None
            or new_file is None
            or (old_file.path, old_file.digest) != (new_file.path, new_file.digest)
        ):
            dirty.add(key)
    reach = downstream(dirty, (old_files, new_files))

    # `orders` is also the YAML of its versions' files, orders_v1.sql, orders_v2.sql.
    names = reach | {m.group(1) for k in reach if (m := _VERSIONED.match(k))}
    decided: dict[str, tuple[Need, bytes]] = {}
    naming = _naming(names)

    cut: dict[bytes, tuple[Need, bytes]] = {}

    def wanted(path: str, raw: bytes) -> tuple[Need, bytes]:
        if path in changed:
            if raw not in cut:
                cut[raw] = ("all", keep_entries(raw, names))
            return cut[raw]
        if path not in decided:  # unchanged: the same bytes on both sides, decided once
            decided[path] = _need(raw, names, naming)
        return decided[path]

    old_marked = marked_models(base_files)
    new_marked = marked_models(head_files, base_files, old_marked)
    return Scope(wanted, reach, ((*old_list, old_marked), (*new_list, new_marked)))


def _edited_entries(before: bytes | None, after: bytes | None) -> frozenset[str] | None:
    """Names of the model entries whose text differs between two versions of a property file;
    None when either cannot be cut into entries."""
    old = entry_texts(before) if before is not None else {}
    new = entry_texts(after) if after is not None else {}
    if old is None or new is None:
        return None
    return frozenset(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def _cut(raw: bytes, names: frozenset[str] | None) -> bytes:
    return raw if names is None else keep_entries(raw, names)


def _need(raw: bytes, names: frozenset[str], naming: _Naming | None) -> tuple[Need, bytes]:
    """How much of an unchanged property file a comparison reaching `names` must parse,
    and the text to parse: the entries of the models it reaches, when it can be cut."""
    sections = _top_keys(raw)
    if sections - {_SOURCES}:
        return "all", raw
    if _names_any(raw, names, naming):
        return "all", keep_entries(raw, names)
    return ("sources" if sections else "none"), raw


@dataclass(frozen=True)
class _Naming:
    """Finds a `name:` of one of a few names in lowercase ASCII text."""

    words: tuple[bytes, ...]
    pattern: re.Pattern[bytes]

    def search(self, text: bytes) -> bool:
        # The pattern stops at every `name:` (a file has thousands); the names themselves
        # are found by a scan in C, five times faster for one, so it runs only where they are.
        if len(self.words) <= _LITERAL_NAMES and not any(w in text for w in self.words):
            return False
        return self.pattern.search(text) is not None


def _naming(names: frozenset[str]) -> _Naming | None:
    """The search for a `name:` of one of a few names; None for many."""
    if len(names) > _FEW_NAMES:
        return None
    # Text all ASCII folds to ASCII: another name can be no one's `name:` there.
    spelled = tuple(sorted((n.encode("ascii") for n in names if n.isascii()), key=len)[::-1])
    words = b"|".join(re.escape(n) for n in spelled) or b"(?!)"
    return _Naming(spelled, re.compile(rb"name:[ \t]*['\"]?(?:" + words + rb")(?![^\s'\"#])"))


def _names_any(raw: bytes, names: frozenset[str], naming: _Naming | None) -> bool:
    """Whether the file has a `name:` of one of `names` (folded), as NAME_SCAN reads them; it
    may find one where a key ends in `name:`, which only makes the file parsed for nothing."""
    if naming is not None and raw.isascii():
        return naming.search(raw.lower())
    found = set(NAME_SCAN.findall(raw))  # one pass in C; folding the few distinct names is cheap
    return any(fold(name.decode("utf-8", "replace")) in names for name in found)


def _spec_keys(files: frozenset[str], sides: tuple[DbtProject, ...]) -> frozenset[str]:
    """The reach by model key: a version's key (orders.v2) is not its file's name (orders_v2)."""
    return frozenset(
        spec.key
        for side in sides
        for spec in side.specs
        if spec.key in files
        or spec.file.key in files
        # A version's file and a snapshot's are named otherwise than the relation.
        or (
            (spec.version is not None or spec.file.resource == "snapshot")
            and fold(split_name(spec.file.path)[0]) in files
        )
    )


def load_dbt_pair(
    project_dir: str,
    base_files: Mapping[str, bytes],
    head_files: Mapping[str, bytes],
    marker: str,
    dialects: tuple[str | None, str | None],
    cache: Cache | None = None,
    workers: Workers | None = None,
) -> tuple[Loaded, Loaded]:
    """Both states of one dbt project, analysing only what the change between them can reach.
    `workers` may have been started ahead (start_workers), before the files were read."""
    with _running(workers, _changed_sql(base_files, head_files)) as workers:
        cache = cache if cache is not None else MemoryCache()
        ahead = _YamlAhead(workers, cache)
        parse = cached_parser(cache, ahead)
        scope = property_filter(project_dir, base_files, head_files, marker, parse)
        own = (
            render_ahead(
                project_dir, scope, (base_files, head_files), marker, dialects[1], cache, workers
            )
            if scope is not None and dialects[0] == dialects[1]
            else None
        )
        wanted = scope.wanted if scope else None
        if workers.size > 1:  # else the YAML is parsed here, file by file, as it is read
            for files in (base_files, head_files):
                ahead.send(_property_texts(project_dir, files, marker, wanted))
        found = scope.model_files if scope else (None, None)
        base = read_dbt_project(project_dir, base_files, marker, parse, wanted, found[0])
        head = read_dbt_project(project_dir, head_files, marker, parse, wanted, found[1])
        if isinstance(base, Diagnostic) or isinstance(head, Diagnostic):
            return (
                load_dbt(project_dir, base_files, marker, dialects[0], cache, workers),
                load_dbt(project_dir, head_files, marker, dialects[1], cache, workers),
            )
        base_dialect, head_dialect = _dialect(base, dialects[0]), _dialect(head, dialects[1])
        if scope is not None and (
            base_dialect != head_dialect
            or _context_key(base, head_dialect) != _context_key(head, head_dialect)
            or _sources(base) != _sources(head)
        ):
            # The adapter, dialect or sources changed: every model may read differently, so
            # every property file is wanted after all.
            base = read_dbt_project(project_dir, base_files, marker, parse, None, found[0])
            head = read_dbt_project(project_dir, head_files, marker, parse, None, found[1])
            # They parsed a moment ago with a filter; the project files are unchanged.
            assert not isinstance(base, Diagnostic)
            assert not isinstance(head, Diagnostic)
            scope = None
        if base_dialect != head_dialect:
            reach = None
        elif scope is not None:
            # The scope already walked the reach from the same files and entries.
            reach = _spec_keys(scope.reach, (base, head))
        else:
            reach = focus(base, head, head_dialect)
        stages = (
            _Stage(base, base_dialect, cache, reach, workers),
            _Stage(head, head_dialect, cache, reach, workers),
        )
        if own is not None:
            own.into(cache)
        prefetch(stages, workers)
        interfaces = (stages[0].run(project_dir, marker), stages[1].run(project_dir, marker))
        if workers.running:
            judge_types(interfaces, head_dialect, cache, workers)
        return (interfaces[0], ()), (interfaces[1], ())


def start_workers(
    workers: Workers, changed_sql: int, first: Callable[[], T] | None = None
) -> Future[T] | None:
    """Start the workers a change of this many SQL files is sure to use, so that they load
    Jinja and sqlglot while this process works out what the change reaches. The first
    worker does `first` before that: its answer, or None when no worker started.

    A quarter as many files as the jobs worth workers (16 by default) come to several
    times as many jobs (both sides' renders, the downstream models', the analyses): all
    the workers start, and take the YAML too when there is much of it. A few files start
    one worker, on the other core, for the few renders and analyses: this process then
    loads neither."""
    if workers.worth(changed_sql * 4):
        return workers.warm(first=first)
    if changed_sql and workers.spare():
        return workers.warm(1, first)
    return None


def _changed_sql(base_files: Mapping[str, bytes], head_files: Mapping[str, bytes]) -> int:
    return sum(
        1
        for path, raw in head_files.items()
        if path.endswith(".sql") and base_files.get(path) != raw
    )


def judge_types(
    interfaces: tuple[Interface, Interface], dialect: str | None, cache: Cache, workers: Workers
) -> None:
    """Judge in a worker the type changes the comparison will ask about, into the cache:
    the workers have sqlglot loaded, and this process would load it for a few verdicts."""
    pairs = sorted(
        pair for pair in type_pairs(*interfaces) if cache.get(type_key(dialect, *pair)) is None
    )
    if pairs:
        for pair, verdict in zip(pairs, workers.judge_types(pairs, dialect).result(), strict=True):
            cache.put(type_key(dialect, *pair), verdict)


class _YamlAhead:
    """Property files sent to the workers to be parsed ahead of their turn: when the workers
    run anyway and there is much YAML, they parse it while this process reads the rest."""

    def __init__(self, workers: Workers, cache: Cache) -> None:
        self._workers = workers
        self._cache = cache
        self._sent: dict[bytes, tuple[Future[list[dict[str, Any]]], int]] = {}

    def send(self, texts: Iterable[bytes]) -> None:
        todo = [
            raw
            for raw in dict.fromkeys(texts)
            if raw not in self._sent and self._cache.get(yaml_key(raw)) is None
        ]
        # Below 4 KB of YAML a job (256 KB by default), parsing it here costs less than
        # shipping it to the workers and back.
        if not self._workers.running or sum(map(len, todo)) < parallel_min() * 4096:
            return
        for start in range(0, len(todo), YAML_BATCH):
            batch = todo[start : start + YAML_BATCH]
            future = self._workers.parse_yaml(batch)
            self._sent.update((raw, (future, index)) for index, raw in enumerate(batch))

    def __call__(self, raw: bytes) -> dict[str, Any] | None:
        """The file's parse as its cache entry, when it was sent."""
        sent = self._sent.pop(raw, None)
        if sent is None:
            return None
        future, index = sent
        return future.result()[index]


YAML_BATCH = 2  # files: property files run to tens of kilobytes each


def _property_texts(
    project_dir: str,
    files: Mapping[str, bytes],
    marker: str,
    wanted: Callable[[str, bytes], tuple[Need, bytes]] | None,
) -> list[bytes]:
    """The text of each property file read_dbt_project will parse whole, in its order."""
    project, _ = parse_project_file(files[marker], marker)
    if project is None:
        return []
    texts = []
    for path, raw in property_files(project_dir, files, project).items():
        need, text = wanted(path, raw) if wanted else ("all", raw)
        if need == "all":
            texts.append(text)
    return texts


def _messages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise TypeError("not a list of messages")
    return tuple(value)


def _rendered_entry(entry: dict[str, Any]) -> tuple[Rendered, Layout]:
    from semverlint.facts import rendered_from_json

    return rendered_from_json(entry), tuple(entry["layout"])


class _Renders:
    """Rendered models from the cache, or from a sandbox built only when something misses."""

    def __init__(
        self, dbt: DbtProject, dialect: str | None, cache: Cache, workers: Workers | None = None
    ) -> None:
        self._dbt = dbt
        self._dialect = dialect
        self.context_key = _context_key(dbt, dialect)
        self._cache = cache
        self._workers = workers
        self._renderer: Any = None

    def setup(self) -> RenderSetup:
        """What a worker needs to render this project's models."""
        return render_setup(self._dbt.project, self._dbt.adapter, self._dbt.macros, self._dialect)

    def key(self, file: ModelFile) -> str:
        # render_ahead makes the same key.
        return make_key("render", self.context_key, file.digest)

    def get(self, file: ModelFile) -> tuple[Rendered, Layout]:
        """The rendered model, and the tokens of each of its queries."""
        from semverlint.facts import rendered_from, rendered_from_json
        from semverlint.parallel import render_value

        key = self.key(file)
        cached = read(self._cache, key, _rendered_entry)
        if cached is not None:
            return cached
        if self._workers is not None and self._workers.running:
            # An upstream model a star needs, out of the change's reach: rendered by a worker,
            # which has Jinja loaded, like the rest.
            job = RenderJob(key, file.text)
            ((_, entry),), problems = self._workers.render(self.setup(), [job])[0].result()
            remember_macros(self._cache, self.context_key, problems)
        else:
            entry = render_value(rendered_from(self._sandbox().render(file.text)), self._dialect)
        self._cache.put(key, entry)
        return rendered_from_json(entry), tuple(entry["layout"])

    def _sandbox(self) -> Any:
        if self._renderer is None:
            from semverlint.render import Macro, RenderContext, Renderer

            self._renderer = Renderer(
                RenderContext(
                    project_name=self._dbt.project.name,
                    target_type=self._dbt.adapter or "default",
                    vars=_render_vars(self._dbt.project),
                    macros=tuple(Macro(path, text) for path, text in self._dbt.macros),
                )
            )
        return self._renderer

    def macro_diagnostics(self) -> tuple[str, ...]:
        """Problems in the project macros; cached too, so warm and cold runs report alike."""
        if not self._dbt.macros:
            return ()
        cached = read(self._cache, _macros_key(self.context_key), _messages)
        if cached is not None:
            return cached
        found = tuple(self._sandbox().diagnostics)
        self._cache.put(_macros_key(self.context_key), list(found))
        return found


def _macros_key(context_key: str) -> str:
    return make_key("macros", context_key)


def remember_macros(cache: Cache, context_key: str, problems: tuple[str, ...]) -> None:
    """Put the problems a sandbox found in the macros of a render context, once."""
    key = _macros_key(context_key)
    if read(cache, key, _messages) is None:
        cache.put(key, list(problems))
