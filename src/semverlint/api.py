"""The pipeline: snapshots -> projects -> interfaces -> deltas -> changes -> verdicts -> report."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from semverlint.bump import Bump
from semverlint.cache import Cache, open_cache
from semverlint.classify import classify
from semverlint.config import Config, merge, parse_pyproject, parse_yaml_config
from semverlint.differ import diff_interfaces, type_judge
from semverlint.discover import CONFIG_MARKER, DBT_MARKER, ProjectRef, discover, files_of
from semverlint.errors import UsageError
from semverlint.interface import Diagnostic, Interface, Project
from semverlint.lineage import versioning_violations, with_impact
from semverlint.policy import Policy, decide
from semverlint.report import ProjectReport, Report
from semverlint.revisions import RevisionInfo
from semverlint.rules import Catalogue

RELEVANT_EXTENSIONS = (".yml", ".yaml", ".sql", ".py", ".csv")
# Where a worker, not this process, validates a changed project's configuration. Before it
# needs the workers, this process works through every file of the project (25 us each,
# measured); a worker loads Jinja and sqlglot (0.13 s) whatever the size. Validating
# (40 ms) goes to whichever would otherwise wait: a one-model check took 0.41 -> 0.37 s
# validated here at 1,000 models, and 0.53 -> 0.51 s validated ahead at 5,000.
VALIDATE_AHEAD_FILES = 3000


class SnapshotLike(Protocol):
    def paths(self) -> tuple[str, ...]: ...
    def oid(self, path: str) -> str | None: ...
    def read_many(self, paths: list[str]) -> dict[str, bytes]: ...
    def prefetch(self, paths: list[str]) -> None: ...


@dataclass(frozen=True)
class Options:
    """How a comparison is run: what the command line and configuration ask."""

    project: str | None = None
    config: Config | None = None
    fail_on: Bump | None = None
    strict: bool = False
    today: dt.date = field(default_factory=dt.date.today)
    cache: bool = False
    cache_dir: Path | None = None


@dataclass(frozen=True)
class LoadedProject:
    """One project of one state, loaded: its interface (None when it cannot be read)."""

    ref: ProjectRef
    interface: Interface | None
    config: Config
    diagnostics: tuple[Diagnostic, ...] = ()


def _wanted(ref: ProjectRef, project: str | None) -> bool:
    if project is None:
        return True
    wanted = posixpath.normpath(project.strip("/")) or "."
    return ref.path == wanted or ref.path.startswith(wanted + "/") or wanted == "."


def project_config(
    ref: ProjectRef, files: Mapping[str, bytes], root_config: Config, catalogue: Catalogue
) -> Config:
    marker = CONFIG_MARKER if ref.path == "." else f"{ref.path}/{CONFIG_MARKER}"
    if marker not in files:
        return root_config
    own = parse_yaml_config(files[marker], marker, catalogue)
    return merge(root_config, own) if root_config.present else own


@dataclass(frozen=True)
class Listing:
    """One project's files in one snapshot, and a signature that is equal when they are."""

    ref: ProjectRef
    paths: tuple[str, ...]
    signature: tuple[tuple[str, str], ...]
    links: tuple[str, ...] = ()


def _digest(listing: Listing) -> str:
    """A listing's signature as one hash. Handed to make_key as they were, the 10,000 pairs
    of both signatures (5,000 models) were written out as JSON first: 8-12 ms, against 2.
    Paths and ids hold no NUL, so the pairs joined by NULs read back one way only."""
    text = "\0".join(itertools.chain.from_iterable(listing.signature))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _links(snapshot: SnapshotLike) -> tuple[str, ...]:
    links = getattr(snapshot, "links", None)
    return tuple(links()) if callable(links) else ()


def link_diagnostics(links: tuple[str, ...]) -> tuple[Diagnostic, ...]:
    """A symlink is never followed (it could point out of the repository): say so, by name."""
    message = "symlink not followed: semverlint reads no symlinks; commit the file itself"
    return tuple(Diagnostic("warning", message, path) for path in links)


def _blob_id(raw: bytes) -> str:
    """Git's object id of some content: working-tree files compare with committed ones."""
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def list_projects(snapshot: SnapshotLike, options: Options) -> dict[str, Listing]:
    """The wanted projects of a snapshot and their files, identified by object id, read no
    further."""
    paths = snapshot.paths()
    refs = [r for r in discover(paths) if _wanted(r, options.project)]
    nested = frozenset(r.path for r in refs)
    root = tuple(p for p in ("pyproject.toml",) if p in paths)
    all_links = _links(snapshot)
    listings: dict[str, Listing] = {}
    for ref in refs:
        wanted = (
            *root,
            *(p for p in files_of(ref.path, paths, nested) if p.endswith(RELEVANT_EXTENSIONS)),
        )
        oids = {p: snapshot.oid(p) for p in wanted}
        unknown = [p for p, oid in oids.items() if oid is None]
        if unknown:  # the working tree: hash what is on disk, as git would
            oids.update({p: _blob_id(raw) for p, raw in snapshot.read_many(unknown).items()})
        links = tuple(
            p for p in files_of(ref.path, all_links, nested) if p.endswith(RELEVANT_EXTENSIONS)
        )
        signature = tuple(sorted((p, str(o)) for p, o in oids.items()))
        listings[ref.path] = Listing(
            ref, wanted, signature + tuple((p, "link") for p in links), links
        )
    return listings


def load_listing(
    listing: Listing,
    snapshot: SnapshotLike,
    catalogue: Catalogue,
    options: Options,
    config: Config | None,
    cache: Cache | None,
) -> LoadedProject:
    """One project loaded to its interface.

    `config` is the head's configuration when loading the base: the base is read with the
    rules of the change under review, so a config edit applies to both sides alike and a
    broken config in history cannot stop today's run.
    """
    ref = listing.ref
    files = snapshot.read_many(
        [p for p in listing.paths if p != "pyproject.toml" or ref.path == "."]
    )
    if config is None:
        config = listing_config(listing, snapshot, catalogue, options)
    else:
        config = _own_version(config, ref, files)
    loaded = _load(ref, files, config, cache)
    return replace(loaded, diagnostics=loaded.diagnostics + link_diagnostics(listing.links))


def _own_version(config: Config, ref: ProjectRef, files: Mapping[str, bytes]) -> Config:
    """A snapshot's own declared version: the rules come from the head, the version never does."""
    from semverlint.yamlio import LineDict, load_yaml

    marker = CONFIG_MARKER if ref.path == "." else f"{ref.path}/{CONFIG_MARKER}"
    data = load_yaml(files[marker]).data if marker in files else None
    if not isinstance(data, LineDict) or data.get("version") is None:
        return replace(config, version=None, version_line=None)
    return replace(config, version=str(data["version"]), version_line=data.line_of_key("version"))


def _load(
    ref: ProjectRef, files: Mapping[str, bytes], config: Config, cache: Cache | None
) -> LoadedProject:
    from semverlint.loaders.dbtsql import load_dbt

    marker = DBT_MARKER if ref.path == "." else f"{ref.path}/{DBT_MARKER}"
    if ref.kind == "dbt":
        interface, diagnostics = load_dbt(ref.path, files, marker, config.dialect, cache)
        return LoadedProject(ref, interface, config, diagnostics)
    from semverlint.loaders.sqlfiles import load_sql_project

    sql_interface, sql_diagnostics = load_sql_project(ref.path, files, config)
    return LoadedProject(ref, sql_interface, config, sql_diagnostics)


def compare_projects(
    base: Mapping[str, LoadedProject],
    head: Mapping[str, LoadedProject],
    catalogue: Catalogue,
    options: Options,
    cache: Cache | None = None,
) -> tuple[ProjectReport, ...]:
    heads = tuple(p.interface for p in head.values() if p.interface is not None)
    bases = tuple(p.interface for p in base.values() if p.interface is not None)
    return tuple(
        compare_project(base.get(path), head.get(path), catalogue, options, heads, bases, cache)
        for path in sorted(base.keys() | head.keys())
    )


def compare_project(
    base: LoadedProject | None,
    head: LoadedProject | None,
    catalogue: Catalogue,
    options: Options,
    heads: tuple[Interface, ...] = (),
    bases: tuple[Interface, ...] = (),
    cache: Cache | None = None,
) -> ProjectReport:
    some = head or base
    assert some is not None
    config = some.config
    base_if = base.interface if base else None
    head_if = head.interface if head else None
    known = head_if or base_if
    project = (
        known.project
        if known is not None
        else Project(
            posixpath.basename(some.ref.path) if some.ref.path != "." else ".",
            some.ref.path,
            some.ref.kind,
        )
    )

    dialect = config.dialect or project.dialect
    judge = type_judge(dialect, cache)
    deltas = diff_interfaces(base_if, head_if, judge, options.today.isoformat())
    suppressions = {
        m.label.lower(): m.suppressions
        for m in (head_if.models if head_if else ())
        if m.suppressions
    }
    changes, config_diagnostics = classify(deltas, catalogue, config, options.today, suppressions)
    changes = with_impact(changes, project.name, head_if, heads, bases)
    version_reasons = versioning_violations(changes, head_if)
    diagnostics = _diagnostics(base, head) + config_diagnostics
    unanalysed = tuple(
        sorted({d.model or d.path or "?" for d in diagnostics if d.level == "error"})
    )
    fail_on = options.fail_on or _bump_or_none(config.fail_on)
    verdict = decide(
        changes,
        base_if.project.version if base_if else None,
        head_if.project.version if head_if else None,
        Policy(fail_on=fail_on, strict=options.strict or config.strict),
        unanalysed,
        version_reasons,
    )
    return ProjectReport(
        name=project.name,
        path=project.path,
        kind=project.kind,
        declared_base=base_if.project.version if base_if else None,
        declared_head=head_if.project.version if head_if else None,
        required_bump=verdict.required_bump,
        effective_bump=verdict.effective_bump,
        suggested_version=verdict.suggested_version,
        ok=verdict.ok,
        reasons=verdict.reasons,
        changes=changes,
        diagnostics=diagnostics,
        version_file=project.version_file,
        version_line=project.version_line,
    )


def _bump_or_none(value: str | None) -> Bump | None:
    return value if value in ("major", "minor", "patch") else None  # type: ignore[return-value]


def _diagnostics(base: LoadedProject | None, head: LoadedProject | None) -> tuple[Diagnostic, ...]:
    """Head's diagnostics, and base's where head has none for that file: noise from history
    is not news."""
    head_diags = [
        *(head.diagnostics if head else ()),
        *(head.interface.diagnostics if head and head.interface else ()),
    ]
    if head is not None:
        return tuple(sorted(set(head_diags), key=_diag_order))
    base_diags = [
        *(base.diagnostics if base else ()),
        *(base.interface.diagnostics if base and base.interface else ()),
    ]
    return tuple(sorted(set(base_diags), key=_diag_order))


def _diag_order(d: Diagnostic) -> tuple[str, int, str]:
    return (d.path or "", d.line or 0, d.message)


def build_report(
    base: SnapshotLike,
    head: SnapshotLike,
    base_info: RevisionInfo,
    head_info: RevisionInfo,
    catalogue: Catalogue,
    options: Options,
) -> Report:
    """Compare two snapshots. Cost follows the change: a project whose files have the same
    object ids on both sides is read once and shared, and when no project changed at all,
    none is analysed."""
    cache = open_cache(options.cache, options.cache_dir)
    try:
        changed, base_projects, head_projects = _load_projects(
            base, head, catalogue, options, cache
        )
    finally:
        cache.close()  # waits for the background writes: the process may end right after
    reports = compare_projects(base_projects, head_projects, catalogue, options, cache)
    # Diagnostics speak of what changed: an untouched project's old problems are not news here.
    reports = tuple(r if r.path in changed else replace(r, diagnostics=()) for r in reports)
    return Report(base_info, head_info, reports)


def _load_projects(
    base: SnapshotLike,
    head: SnapshotLike,
    catalogue: Catalogue,
    options: Options,
    cache: Cache,
) -> tuple[set[str], dict[str, LoadedProject], dict[str, LoadedProject]]:
    """The changed projects' paths, and every project of each side, loaded."""
    head_listings = list_projects(head, options)
    base_listings = list_projects(base, options)
    if options.project is not None and not head_listings and not base_listings:
        raise _no_such_project(options.project, head, base)
    changed = {
        path
        for path in head_listings.keys() | base_listings.keys()
        if (head_listings.get(path) or base_listings[path]).signature
        != (base_listings.get(path) or head_listings[path]).signature
        or path not in head_listings
        or path not in base_listings
    }
    head_projects: dict[str, LoadedProject] = {}
    base_projects: dict[str, LoadedProject] = {}
    for path in sorted(changed & head_listings.keys() & base_listings.keys()):
        if head_listings[path].ref.kind == base_listings[path].ref.kind == "dbt":
            pair = load_pair(
                base_listings[path], head_listings[path], base, head, catalogue, options, cache
            )
            base_projects[path], head_projects[path] = pair
    for path, listing in head_listings.items():
        if path in head_projects:
            continue
        if changed:
            head_projects[path] = load_listing(listing, head, catalogue, options, None, cache)
        else:  # nothing changed anywhere: configuration is still validated, models are not read
            head_projects[path] = _unchanged(listing, head, catalogue, options)
    for path, listing in base_listings.items():
        if path in base_projects:
            continue
        if path in head_projects and path not in changed:
            base_projects[path] = head_projects[path]
        else:
            config = head_projects[path].config if path in head_projects else None
            base_projects[path] = load_listing(listing, base, catalogue, options, config, cache)
    return changed, base_projects, head_projects


def load_pair(
    base_listing: Listing,
    head_listing: Listing,
    base: SnapshotLike,
    head: SnapshotLike,
    catalogue: Catalogue,
    options: Options,
    cache: Cache,
) -> tuple[LoadedProject, LoadedProject]:
    """A changed dbt project at both states, analysing only the models the change can reach.

    The pair is remembered under the object ids of both sides' files: running the same
    comparison again (a CI retry, `diff` then `check`, a hook run twice) reads no model.
    """
    from semverlint.cache import make_key, read
    from semverlint.interfacejson import from_json, to_json

    ref = head_listing.ref
    marker = DBT_MARKER if ref.path == "." else f"{ref.path}/{DBT_MARKER}"
    # The signatures hold the object ids of the configuration files too: they and the
    # dialect of --config decide the dialect, without validating anything yet.
    override = options.config.dialect if options.config else None
    key = make_key("pair", marker, override, _digest(base_listing), _digest(head_listing))
    cached = read(cache, key, lambda value: from_json(_Pair, value))
    if cached is not None:
        config = listing_config(head_listing, head, catalogue, options)
        base_if, base_diags, head_if, head_diags = cached
    else:
        head_paths = [p for p in head_listing.paths if p != "pyproject.toml" or ref.path == "."]
        base_paths = [p for p in base_listing.paths if p != "pyproject.toml" or ref.path == "."]
        # git reads the files on the other core while this process loads the loaders.
        head.prefetch(head_paths)
        base.prefetch(base_paths)
        sources = config_sources(head_listing, head)
        from semverlint.loaders.dbtsql import load_dbt_pair, start_workers
        from semverlint.parallel import Workers

        with Workers() as workers:
            # Workers start now, while their fork is cheap, and load Jinja and sqlglot while
            # this process works out what the change reaches. In a large project the first
            # validates the configuration before that: jsonschema is the costliest import
            # a small change would make here, and this process has more to do first.
            validate = functools.partial(judged_config, *sources, catalogue, options.config)
            changed_sql = _changed_sql(base_listing, head_listing, base, head)
            large = len(head_listing.paths) >= VALIDATE_AHEAD_FILES
            validating = start_workers(workers, changed_sql, validate if large else None)
            head_files = head.read_many(head_paths)
            base_files = base.read_many(base_paths)
            config = validating.result() if validating is not None else validate()
            if config.dialect is not None:
                workers.rehearse(config.dialect)
            dialects = (config.dialect, config.dialect)
            (base_if, base_diags), (head_if, head_diags) = load_dbt_pair(
                ref.path, base_files, head_files, marker, dialects, cache, workers
            )
        cache.put(key, to_json((base_if, base_diags, head_if, head_diags)))
    return (
        LoadedProject(ref, base_if, config, base_diags + link_diagnostics(base_listing.links)),
        LoadedProject(ref, head_if, config, head_diags + link_diagnostics(head_listing.links)),
    )


def listing_config(
    listing: Listing, head: SnapshotLike, catalogue: Catalogue, options: Options
) -> Config:
    """The configuration a project is judged by: its own file over the root's pyproject.toml,
    under --config. A pair is judged by its head's."""
    return judged_config(*config_sources(listing, head), catalogue, options.config)


ConfigSources = tuple[ProjectRef, dict[str, bytes], "bytes | None"]


def config_sources(listing: Listing, head: SnapshotLike) -> ConfigSources:
    """What a project's configuration is read from: its own file, and the root's
    pyproject.toml when there is one."""
    ref = listing.ref
    config_marker = CONFIG_MARKER if ref.path == "." else f"{ref.path}/{CONFIG_MARKER}"
    config_files = head.read_many([p for p in listing.paths if p == config_marker])
    pyproject = (
        head.read_many(["pyproject.toml"])["pyproject.toml"]
        if ("pyproject.toml" in listing.paths)
        else None
    )
    return ref, config_files, pyproject


def judged_config(
    ref: ProjectRef,
    config_files: Mapping[str, bytes],
    pyproject: bytes | None,
    catalogue: Catalogue,
    override: Config | None,
) -> Config:
    """The configuration from its sources, validated; ConfigError when it is not valid."""
    root_config = Config()
    if pyproject is not None:
        root_config = parse_pyproject(pyproject, "pyproject.toml", catalogue) or Config()
    return merge(project_config(ref, config_files, root_config, catalogue), override)


def _changed_sql(
    base_listing: Listing, head_listing: Listing, base: SnapshotLike, head: SnapshotLike
) -> int:
    """The SQL files of a project that differ between the states, by object id (a file whose
    id is not known without reading it counts as changed)."""
    before = set(base_listing.paths)
    return sum(
        1
        for path in head_listing.paths
        if path.endswith(".sql")
        and (path not in before or (oid := head.oid(path)) is None or oid != base.oid(path))
    )


# What a remembered pair holds: each side's interface and diagnostics.
_Pair = tuple[Interface | None, tuple[Diagnostic, ...], Interface | None, tuple[Diagnostic, ...]]


def _no_such_project(project: str, *snapshots: SnapshotLike) -> UsageError:
    """A mistyped --project must not pass a CI check by finding nothing to check."""
    known = sorted({r.path for snapshot in snapshots for r in discover(snapshot.paths())})
    hint = f"projects here: {', '.join(known)}" if known else "this repository has no project"
    return UsageError(
        f"--project {project}: no dbt_project.yml or semverlint.yml at or under it", hint
    )


def _unchanged(
    listing: Listing, snapshot: SnapshotLike, catalogue: Catalogue, options: Options
) -> LoadedProject:
    """A project known to be identical on both sides: its name and version only.

    Nothing changed, so no rule applies and nothing is validated: a run that touches no
    model or configuration file imports neither sqlglot nor jsonschema.
    """
    from semverlint.yamlio import load_yaml

    ref = listing.ref
    markers = [p for p in listing.paths if posixpath.basename(p) in (DBT_MARKER, CONFIG_MARKER)]
    files = snapshot.read_many(markers)
    config = options.config or Config()
    if ref.kind == "sql":
        marker = CONFIG_MARKER if ref.path == "." else f"{ref.path}/{CONFIG_MARKER}"
        data = load_yaml(files[marker]).data if marker in files else None
        data = data if isinstance(data, dict) else {}
        fallback = posixpath.basename(ref.path) if ref.path != "." else "project"
        name = data.get("name") if isinstance(data.get("name"), str) else fallback
        version = None if data.get("version") is None else str(data["version"])
        return LoadedProject(ref, Interface(Project(str(name), ref.path, "sql", version)), config)
    from semverlint.loaders.dbt import parse_project_file

    marker = DBT_MARKER if ref.path == "." else f"{ref.path}/{DBT_MARKER}"
    parsed, diagnostics = parse_project_file(files[marker], marker)
    if parsed is None:
        return LoadedProject(ref, None, config, diagnostics)
    project = Project(
        parsed.name, ref.path, "dbt", parsed.version, config.dialect, marker, parsed.version_line
    )
    return LoadedProject(ref, Interface(project), config)


@dataclass(frozen=True)
class Request:
    """A whole run against a git repository: where, which range, how."""

    repo: str = "."
    range: str | None = None
    staged: bool = False
    options: Options = field(default_factory=Options)


def run(request: Request, catalogue: Catalogue) -> Report:
    """The whole run against a git repository; raises SemverlintError for a run that cannot
    be done."""
    from semverlint.revisions import parse_range
    from semverlint.snapshot import Repository

    rng = parse_range(request.range, staged=request.staged)
    with Repository.open(request.repo) as repository:
        base, head = repository.snapshots(rng)
        return build_report(
            base,
            head,
            base.info,
            head.info,
            catalogue,
            request.options,
        )
