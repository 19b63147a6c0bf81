"""Renders and analyses many models at once in worker processes, filling the cache.

A large change (every model reformatted, a macro edited) leaves thousands of models to
read. Both steps run in parallel: first every model is rendered (and its SQL tokenized,
so that a reformatted model is known for the same query), then every distinct query is
analysed once, whichever side of the comparison and whichever model it came from. The
pass that follows, in lineage order, finds it all in the cache. Results are the values
the sequential path computes, under the same keys.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

# Below this many jobs, starting workers costs more than it saves.
PARALLEL_MIN = 64

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class RenderJob:
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
    key: str
    sql: tuple[str, ...]
    upstream: tuple[tuple[str, tuple[str, ...] | None], ...]
    dialect: str | None


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


def _render(setup: RenderSetup, jobs: list[RenderJob]) -> list[tuple[str, dict[str, Any]]]:
    from semverlint.facts import rendered_from

    renderer = _renderer(setup)
    return [
        (job.key, render_value(rendered_from(renderer.render(job.text)), setup.dialect))
        for job in jobs
    ]


def _analyse(jobs: list[AnalyseJob]) -> list[tuple[str, Any]]:
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
    """Worker processes for one comparison: started by the first batch big enough to be
    worth them, and kept for the batches that follow (renders, then analyses)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def render_all(
        self, setup: RenderSetup, jobs: list[RenderJob]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Rendered entries for the jobs, from workers; none when the jobs are few."""
        return self._map(functools.partial(_render, setup), jobs)

    def analyse_all(self, jobs: list[AnalyseJob]) -> Iterator[tuple[str, Any]]:
        """Analysed entries for the jobs, from workers; none when the jobs are few."""
        return self._map(_analyse, jobs)

    def _map(self, work: Callable[[list[J]], list[R]], jobs: list[J]) -> Iterator[R]:
        """`work` over the jobs in interleaved chunks (neighbouring models are alike in
        size); nothing when they are too few to be worth the workers."""
        minimum = int(os.environ.get("SEMVERLINT_PARALLEL_MIN", PARALLEL_MIN))
        count = min(workers(), 8)
        if count < 2 or len(jobs) < minimum:
            return  # the sequential pass does these as it meets them
        if self._pool is None:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(count, multiprocessing.get_context(method))
        chunks = [c for c in (jobs[i :: count * 4] for i in range(count * 4)) if c]
        # A forked worker shares this process's objects until it writes to them, and a
        # collection writes to every object it visits: freezing them first keeps workers
        # from copying (and traversing) the whole parent heap, which is most of their time.
        gc.freeze()
        try:
            results = self._pool.map(work, chunks)
        finally:
            gc.unfreeze()
        for batch in results:
            yield from batch


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


def workers() -> int:
    configured = os.environ.get("SEMVERLINT_JOBS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
