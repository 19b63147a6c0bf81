"""Renders and analyses many models at once in worker processes, filling the cache.

A large change (every model reformatted, a macro edited) leaves thousands of models to
read. Both steps run in parallel: first every model is rendered (and its SQL tokenized,
so that a reformatted model is known for the same query), then every distinct query is
analysed once, whichever side of the comparison and whichever model it came from. The
pass that follows, in lineage order, finds it all in the cache. Results are the values
the sequential path computes, under the same keys.
"""

from __future__ import annotations

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


_WORKER: dict[str, Any] = {}  # one sandbox per worker process, built by its initializer


def _start_renderer(setup: RenderSetup) -> None:
    from semverlint.render import Macro, RenderContext, Renderer

    context = RenderContext(
        project_name=setup.project_name,
        target_type=setup.target_type,
        vars=setup.vars,
        macros=tuple(Macro(path, text) for path, text in setup.macros),
    )
    _WORKER["renderer"] = Renderer(context)
    _WORKER["dialect"] = setup.dialect


def render_value(rendered: Any, dialect: str | None) -> dict[str, Any]:
    """The cache entry of one rendered model: its facts and the layout key of each query."""
    from semverlint.facts import rendered_to_json
    from semverlint.sql import layout_key

    return {**rendered_to_json(rendered), "layout": [layout_key(s, dialect) for s in rendered.sql]}


def _render(jobs: list[RenderJob]) -> list[tuple[str, dict[str, Any]]]:
    from semverlint.facts import rendered_from

    dialect = _WORKER["dialect"]
    return [
        (job.key, render_value(rendered_from(_WORKER["renderer"].render(job.text)), dialect))
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


def render_all(setup: RenderSetup, jobs: list[RenderJob]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rendered entries for the jobs, from workers; none when the jobs are few."""
    return _run(jobs, _render, _start_renderer, (setup,))


def analyse_all(jobs: list[AnalyseJob]) -> Iterator[tuple[str, Any]]:
    """Analysed entries for the jobs, from workers; none when the jobs are few."""
    return _run(jobs, _analyse, None, ())


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


def _run(
    jobs: list[J],
    work: Callable[[list[J]], list[R]],
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> Iterator[R]:
    """`work` over the jobs across worker processes, in interleaved chunks (neighbouring
    models are alike in size); nothing when they are too few to be worth the workers."""
    minimum = int(os.environ.get("SEMVERLINT_PARALLEL_MIN", PARALLEL_MIN))
    count = min(workers(), 8)
    if count < 2 or len(jobs) < minimum:
        return  # the sequential pass does these as it meets them
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunks = [c for c in (jobs[i :: count * 4] for i in range(count * 4)) if c]
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(count, context, initializer, initargs) as pool:
        for results in pool.map(work, chunks):
            yield from results
