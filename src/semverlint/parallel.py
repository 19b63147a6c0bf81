"""Renders and analyses many models at once in worker processes, filling the cache.

A large change (every model reformatted, a macro edited) leaves hundreds of models to
read. Each model's first analysis needs only its own SQL and the project's sources, so
those run in parallel; the pass that follows, in lineage order, finds them in the cache.
Results are the same values the sequential path computes, under the same keys.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from semverlint.cache import Cache, make_key

# Below this many models to read, starting workers costs more than it saves.
PARALLEL_MIN = 64


@dataclass(frozen=True)
class Job:
    render_key: str
    text: str


@dataclass(frozen=True)
class Setup:
    """Everything a worker needs, picklable: the render context and what sources declare."""

    project_name: str
    target_type: str
    vars: tuple[tuple[str, object], ...]
    macros: tuple[tuple[str, str], ...]
    dialect: str | None
    sources: tuple[tuple[tuple[str, str], tuple[str, ...] | None], ...]


_WORKER: dict[str, Any] = {}  # one sandbox per worker process, built by its initializer


def _start(setup: Setup) -> None:
    from semverlint.render import Macro, RenderContext, Renderer

    context = RenderContext(
        project_name=setup.project_name,
        target_type=setup.target_type,
        vars=setup.vars,
        macros=tuple(Macro(path, text) for path, text in setup.macros),
    )
    _WORKER["renderer"] = Renderer(context)
    _WORKER["setup"] = setup


def _work(jobs: list[Job]) -> list[tuple[str, Any, str | None, Any]]:
    from semverlint.facts import rendered_from, rendered_to_json
    from semverlint.modelsql import analyse_rendered, analysed_to_json

    setup: Setup = _WORKER["setup"]
    sources = dict(setup.sources)
    out: list[tuple[str, Any, str | None, Any]] = []
    for job in jobs:
        rendered = rendered_from(_WORKER["renderer"].render(job.text))
        blind = blind_upstream(rendered.relations, sources)
        analysis_key = make_key("analyse", setup.dialect, rendered.sql, sorted(blind.items()))
        analysed = analyse_rendered(rendered, setup.dialect, blind)
        out.append(
            (job.render_key, rendered_to_json(rendered), analysis_key, analysed_to_json(analysed))
        )
    return out


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


def prefetch(setup: Setup, jobs: list[Job], cache: Cache) -> None:
    """Fill the cache for the jobs whose render is not cached yet, across worker processes."""
    minimum = int(os.environ.get("SEMVERLINT_PARALLEL_MIN", PARALLEL_MIN))
    count = min(workers(), 8)
    misses = [job for job in jobs if cache.get(job.render_key) is None]
    if count < 2 or len(misses) < minimum:
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunks = [misses[i :: count * 4] for i in range(count * 4)]
    with ProcessPoolExecutor(count, multiprocessing.get_context(method), _start, (setup,)) as pool:
        for results in pool.map(_work, [c for c in chunks if c]):
            for render_key, rendered, analysis_key, analysed in results:
                cache.put(render_key, rendered)
                if analysis_key is not None:
                    cache.put(analysis_key, analysed)
