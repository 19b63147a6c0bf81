"""Renders and analyses many models at once in worker processes, filling the cache.

A large change (every model reformatted, a macro edited) leaves thousands of models to
read. Both steps run in parallel: every model is rendered (and its SQL tokenized, so that
a reformatted model is known for the same query), and as each batch of renders comes
back, the distinct queries in it are sent to be analysed, once whichever side of the
comparison and whichever model they came from. The pass that follows, in lineage order,
finds it all in the cache. Results are the values the sequential path computes, under
the same keys.

Workers also do what would otherwise make this process load Jinja, sqlglot or jsonschema
while they run: validating the configuration, parsing much property YAML, the few
analyses that wait on upstream models, the problems in the project's macros and the
verdicts on changed column types. A small change starts one worker early for that reason
alone: it loads them on the other core while this process reads the project.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from semverlint.cache import make_key

# Below this many jobs, starting workers costs more than it saves.
PARALLEL_MIN = 64
# Jobs per batch sent to a worker: a few tens of milliseconds of work, so results stream
# back while the rest is still being worked on.
BATCH = 32

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class RenderJob:
    """A model's text to render, and the cache key of its render."""

    key: str
    text: str


@dataclass(frozen=True)
class RenderSetup:
    """Everything a rendering worker needs, picklable: the project's render context."""

    context: str  # its key: the fields below may hold lists and mappings, which do not hash
    project_name: str
    target_type: str
    vars: tuple[tuple[str, object], ...]
    macros: tuple[tuple[str, str], ...]
    dialect: str | None


@dataclass(frozen=True)
class AnalyseJob:
    """A query to analyse, with its upstream columns, and the cache key of its analysis."""

    key: str
    sql: tuple[str, ...]
    upstream: tuple[tuple[str, tuple[str, ...] | None], ...]
    dialect: str | None


Layout = tuple["str | None", ...]  # each query's tokens (sql.layout_key), None if untokenized


def analysis_key(
    dialect: str | None,
    sql: tuple[str, ...],
    layout: Layout,
    upstream: Mapping[str, tuple[str, ...] | None],
) -> str:
    """What an analysis is remembered by: the queries' tokens, so a reformatted model finds
    the analysis of its old text, or the text itself when it does not tokenize."""
    query = ("layout", *layout) if _by_layout(layout) else ("sql", *sql)
    return _analysis_key(dialect, query, tuple(sorted(upstream.items())))


@functools.lru_cache(maxsize=16384)
def _analysis_key(
    dialect: str | None, query: tuple[str | None, ...], upstream: tuple[object, ...]
) -> str:
    # Asked four times of a model in a large change (its job and its lineage pass, on each
    # side), and a model's tokens run to kilobytes: hashing them once is what costs.
    return make_key("analyse", dialect, query, upstream)


def _by_layout(layout: Layout) -> bool:
    return bool(layout) and None not in layout


# Per worker process: the sandboxes it has built, one per render context it was sent.
_WORKER: dict[str, Any] = {}


def _renderer(setup: RenderSetup) -> Any:
    if setup.context not in _WORKER:
        from semverlint.render import Macro, RenderContext, Renderer

        context = RenderContext(
            project_name=setup.project_name,
            target_type=setup.target_type,
            vars=setup.vars,
            macros=tuple(Macro(path, text) for path, text in setup.macros),
        )
        _WORKER[setup.context] = Renderer(context)
    return _WORKER[setup.context]


def render_value(rendered: Any, dialect: str | None) -> dict[str, Any]:
    """The cache entry of one rendered model: its facts and the layout key of each query."""
    from semverlint.facts import rendered_to_json
    from semverlint.sql import layout_key

    return {**rendered_to_json(rendered), "layout": [layout_key(s, dialect) for s in rendered.sql]}


# A batch's render cache entries by key, and the problems in the project's macros (found
# once, building the sandbox: this process need not build one to learn them).
RenderBatch = tuple[list[tuple[str, dict[str, Any]]], tuple[str, ...]]
AnalyseBatch = list[tuple[str, Any]]  # a batch's analysis cache entries, by key


def _prepare() -> None:
    import semverlint.modelsql
    import semverlint.render
    import semverlint.sql
    import semverlint.yamljson  # noqa: F401


def _rehearse(dialect: str | None) -> None:
    """Tokenize and analyse a small query in the dialect: its first use builds the dialect's
    tokenizer, parser and function tables, a few times the cost of a model's analysis."""
    from semverlint.facts import Rendered
    from semverlint.modelsql import analyse_rendered
    from semverlint.sql import layout_key

    query = "select a, count(*) as n from b join c using (a) group by 1"
    layout_key(query, dialect)
    analyse_rendered(Rendered((query,), (), (), ()), dialect, {})


def _parse_yaml(raws: list[bytes]) -> list[dict[str, Any]]:
    from semverlint.yamlio import load_yaml
    from semverlint.yamljson import result_to_json

    return [result_to_json(load_yaml(raw)) for raw in raws]


def _judge_types(pairs: list[tuple[str, str]], dialect: str | None) -> list[str]:
    from semverlint.sql import type_change

    return [type_change(before, after, dialect) for before, after in pairs]


def _render(setup: RenderSetup, jobs: list[RenderJob]) -> RenderBatch:
    from semverlint.facts import rendered_from

    renderer = _renderer(setup)
    entries = [
        (job.key, render_value(rendered_from(renderer.render(job.text)), setup.dialect))
        for job in jobs
    ]
    return entries, tuple(renderer.diagnostics)


def _render_ahead(setup: RenderSetup, jobs: list[RenderJob]) -> tuple[RenderBatch, AnalyseBatch]:
    """Render models and analyse those that read no source, as their first analyses are
    made (without upstream models' columns), before the process that sent them knows what
    the sources hold: all the work a small change's own models need, done while it reads
    the project's YAML."""
    from semverlint.facts import Rendered, rendered_from
    from semverlint.modelsql import analyse_rendered, analysed_to_json

    renderer = _renderer(setup)
    entries: list[tuple[str, dict[str, Any]]] = []
    analyses: AnalyseBatch = []
    for job in jobs:
        rendered = rendered_from(renderer.render(job.text))
        value = render_value(rendered, setup.dialect)
        entries.append((job.key, value))
        if any(relation.kind == "source" for _, relation in rendered.relations):
            continue  # its first analysis has the columns the sources declare
        upstream = blind_upstream(rendered.relations, {})
        key = analysis_key(setup.dialect, rendered.sql, tuple(value["layout"]), upstream)
        analysed = analyse_rendered(Rendered(rendered.sql, (), (), ()), setup.dialect, upstream)
        analyses.append((key, analysed_to_json(analysed)))
    return (entries, tuple(renderer.diagnostics)), analyses


def _analyse(jobs: list[AnalyseJob]) -> AnalyseBatch:
    from semverlint.facts import Rendered
    from semverlint.modelsql import analyse_rendered, analysed_to_json

    return [
        (
            job.key,
            analysed_to_json(
                analyse_rendered(Rendered(job.sql, (), (), ()), job.dialect, dict(job.upstream))
            ),
        )
        for job in jobs
    ]


class Workers:
    """Worker processes for one comparison: started by the first jobs numerous enough to be
    worth them, and kept for the jobs that follow (renders, then analyses)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            # Not waiting: a worker that loaded sqlglot takes 5-10 ms to exit (its memory is
            # unmapped), time this process spends writing the report. The pool's thread
            # still reaps the workers: the process waits for it before it ends.
            self._pool.shutdown(wait=False)
            self._pool = None

    def worth(self, jobs: int) -> bool:
        """Whether this many jobs are worth the workers (always, once they are started)."""
        if self._pool is not None:
            return True
        return min(workers(), 8) >= 2 and jobs >= parallel_min()

    def warm(self, count: int = 8, first: Callable[[], R] | None = None) -> Future[R] | None:
        """Start up to `count` workers now, each loading what rendering and analysing take
        (about a fifth of a second) while this process is busy with something else; one
        of them does `first` before that, and its future is returned."""
        pool = self._start(count)
        started = pool.submit(first) if first is not None else None
        for _ in range(self._size):
            pool.submit(_prepare)
        return started

    def rehearse(self, dialect: str | None) -> None:
        """Have the running workers use the dialect once before the jobs come, so that the
        first jobs (all there are in a small change) wait on nothing else."""
        if self._pool is not None:
            for _ in range(self._size):
                self._pool.submit(_rehearse, dialect)

    @property
    def size(self) -> int:
        """How many workers run: 0 before they start."""
        return self._size if self._pool is not None else 0

    def spare(self) -> bool:
        """Whether a worker can run beside this process without taking its core."""
        return self._pool is None and workers() >= 2

    @property
    def running(self) -> bool:
        return self._pool is not None

    def parse_yaml(self, raws: list[bytes]) -> Future[list[dict[str, Any]]]:
        """Parse property files in a worker: their cache entries (yamljson), in order."""
        return self._start().submit(_parse_yaml, raws)

    def judge_types(self, pairs: list[tuple[str, str]], dialect: str | None) -> Future[list[str]]:
        """How each (before, after) column type changed, judged in a worker."""
        return self._start().submit(_judge_types, pairs, dialect)

    def render(self, setup: RenderSetup, jobs: list[RenderJob]) -> list[Future[RenderBatch]]:
        """Render the jobs in workers, in small batches, so that what each batch renders can
        be put to analysis while the others are still rendering."""
        return self._submit(functools.partial(_render, setup), jobs)

    def render_ahead(
        self, setup: RenderSetup, jobs: list[RenderJob]
    ) -> Future[tuple[RenderBatch, AnalyseBatch]]:
        """Render the jobs and analyse what can be analysed yet, in one worker (_render_ahead)."""
        return self._start().submit(_render_ahead, setup, jobs)

    def analyse(self, jobs: list[AnalyseJob]) -> list[Future[AnalyseBatch]]:
        return self._submit(_analyse, jobs)

    def _submit(self, work: Callable[[list[J]], R], jobs: list[J]) -> list[Future[R]]:
        pool = self._start()
        return [pool.submit(work, jobs[i : i + BATCH]) for i in range(0, len(jobs), BATCH)]

    def _start(self, count: int = 8) -> ProcessPoolExecutor:
        if self._pool is None:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._size = max(1, min(workers(), count, 8))
            self._pool = ProcessPoolExecutor(self._size, multiprocessing.get_context(method))
            # A forked worker shares this process's objects until it writes to them, and a
            # collection writes to every object it visits: freezing them first keeps workers
            # from copying (and traversing) the whole parent heap. The pool forks every
            # worker as its first job is sent, so one is sent here; its answer is not waited
            # for (the fork is done by then), which took 5-10 ms of a one-model check.
            gc.freeze()
            try:
                self._pool.submit(int)
            finally:
                gc.unfreeze()
        return self._pool


def blind_upstream(
    relations: Iterable[tuple[str, Any]], sources: Mapping[tuple[str, str], tuple[str, ...] | None]
) -> dict[str, tuple[str, ...] | None]:
    """Upstream columns for a first analysis: sources' declared ones, models' unknown."""
    from semverlint.interface import fold

    return {
        identifier: sources.get((fold(r.package or ""), fold(r.name)))
        if r.kind == "source"
        else None
        for identifier, r in relations
    }


def parallel_min() -> int:
    """The fewest jobs worth starting workers for (SEMVERLINT_PARALLEL_MIN; tests set 1)."""
    configured = os.environ.get("SEMVERLINT_PARALLEL_MIN", "")
    return int(configured) if configured.isdigit() else PARALLEL_MIN


def workers() -> int:
    configured = os.environ.get("SEMVERLINT_JOBS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
