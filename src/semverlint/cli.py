"""The command line: thin typer commands; the only place errors become messages and exit codes."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import sys
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from semverlint import __version__
from semverlint.errors import SemverlintError

T = TypeVar("T")

app = typer.Typer(
    name="semverlint",
    help="Semantic versioning for data models: find every change that can break a consumer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"
    sarif = "sarif"


class FailOn(str, Enum):
    major = "major"
    minor = "minor"
    patch = "patch"


class SchemaName(str, Enum):
    report = "report"
    config = "config"


RangeArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[RANGE]",
        help="A..B (A to B), A...B (merge base of A and B to B), A (A to the working tree); "
        "nothing: HEAD to the working tree.",
        show_default=False,
    ),
]
StagedOpt = Annotated[
    bool, typer.Option("--staged", help="Compare HEAD with the index (pre-commit).")
]
RepoOpt = Annotated[Path, typer.Option("--repo", help="The repository to read (bare ones too).")]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="Only the project at or under PATH.")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="A configuration file to apply on top of the projects' own."),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="A model that cannot be analysed fails the check.")
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help=(
            "Neither read nor write the analysis cache "
            "(kept in $SEMVERLINT_CACHE_DIR, else the user cache directory)."
        ),
    ),
]


def _fail(error: SemverlintError) -> NoReturn:
    typer.echo(f"semverlint: error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"  hint: {error.hint}", err=True)
    raise typer.Exit(2)


def _guard(action: Callable[[], T]) -> T:
    """Run the work of a command; a run that cannot be done exits 2 with a message, never a
    traceback."""
    try:
        return action()
    except SemverlintError as error:
        _fail(error)
    except Exception as error:
        if os.environ.get("SEMVERLINT_DEBUG"):
            raise
        typer.echo(f"semverlint: internal error: {type(error).__name__}: {error}", err=True)
        typer.echo(
            "  hint: this is a bug in semverlint; "
            "rerun with SEMVERLINT_DEBUG=1 and report the traceback",
            err=True,
        )
        raise typer.Exit(2) from None


def _color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _report(
    rng: str | None,
    staged: bool,
    repo: Path,
    project: str | None,
    config: Path | None,
    fail_on: str | None,
    strict: bool,
    no_cache: bool = False,
) -> object:
    from semverlint.api import Options, Request, run
    from semverlint.config import parse_yaml_config
    from semverlint.errors import ConfigError
    from semverlint.rules import load_catalogue

    catalogue = load_catalogue()
    override = None
    if config is not None:
        try:
            raw = config.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read --config {config}: {exc.strerror}", hint="check the path"
            ) from exc
        override = parse_yaml_config(raw, str(config), catalogue)
    options = Options(
        project=project,
        config=override,
        fail_on=fail_on,  # type: ignore[arg-type]
        strict=strict,
        today=dt.date.today(),
        cache=not no_cache,
    )
    return run(Request(repo=str(repo), range=rng, staged=staged, options=options), catalogue)


def _emit(report: object, fmt: Format) -> None:
    from semverlint.report import Report
    from semverlint.reporters import reporter

    assert isinstance(report, Report)
    sys.stdout.write(reporter(fmt.value)(report, _color() and fmt is Format.text))
    sys.stdout.flush()
    if fmt is Format.github:
        from semverlint.reporters.github import publish

        _guard(lambda: publish(report, os.environ))  # the job summary, when run in Actions


@app.command()
def diff(
    rng: RangeArg = None,
    staged: StagedOpt = False,
    repo: RepoOpt = Path("."),
    project: ProjectOpt = None,
    fmt: FormatOpt = Format.text,
    config: ConfigOpt = None,
    strict: StrictOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Show every interface change between two states and the bump it needs (advisory: exits 0)."""
    report = _guard(lambda: _report(rng, staged, repo, project, config, None, strict, no_cache))
    _emit(report, fmt)


@app.command()
def check(
    rng: RangeArg = None,
    staged: StagedOpt = False,
    repo: RepoOpt = Path("."),
    project: ProjectOpt = None,
    fmt: FormatOpt = Format.text,
    config: ConfigOpt = None,
    strict: StrictOpt = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Fail when any change has at least this bump."),
    ] = None,
    pre_push: Annotated[
        bool,
        typer.Option(
            "--pre-push",
            help="Check the commits being pushed (pre-commit's pre-push stage sets "
            "PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF); a new branch is checked from where it "
            "forked.",
        ),
    ] = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Fail (exit 1) when the declared version is too small for the changes."""
    if pre_push:
        from semverlint.hooks import range_for_push

        rng = _guard(lambda: range_for_push(str(repo), os.environ, rng, staged))
        if rng is None:
            typer.echo("semverlint: nothing to check: the push deletes a branch", err=True)
            raise typer.Exit(0)
    report = _guard(
        lambda: _report(
            rng, staged, repo, project, config, fail_on.value if fail_on else None, strict, no_cache
        )
    )
    _emit(report, fmt)
    from semverlint.report import Report

    assert isinstance(report, Report)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def rules(fmt: FormatOpt = Format.text) -> None:
    """List the rule catalogue."""
    from semverlint.catalogue_view import rules_json, rules_text

    sys.stdout.write(rules_json() if fmt is Format.json else rules_text(_color()))


@app.command()
def explain(rule: Annotated[str, typer.Argument(help="A rule id, e.g. column-removed.")]) -> None:
    """Explain one rule: why it matters, an example, and how to override it."""
    from semverlint.catalogue_view import explain_text
    from semverlint.errors import UsageError
    from semverlint.rules import load_catalogue

    def action() -> str:
        catalogue = load_catalogue()
        found = catalogue.get(rule)
        if found is None:
            close = catalogue.suggest(rule)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else "run `semverlint rules` for the list"
            )
            raise UsageError(f"unknown rule {rule!r}", hint=hint)
        return explain_text(found, _color())

    sys.stdout.write(_guard(action))


@app.command()
def schema(
    which: Annotated[
        SchemaName, typer.Argument(help="report (default) or config.")
    ] = SchemaName.report,
) -> None:
    """Print the JSON Schema of the JSON report (or of the configuration)."""
    from importlib import resources

    text = (
        resources.files("semverlint.schemas")
        .joinpath(f"{which.value}.schema.json")
        .read_text("utf-8")
    )
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def bump(
    rng: RangeArg = None,
    staged: StagedOpt = False,
    repo: RepoOpt = Path("."),
    project: ProjectOpt = None,
    config: ConfigOpt = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Write the version into the working tree's dbt_project.yml / semverlint.yml, "
            "changing nothing else in the file.",
        ),
    ] = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Print the version the release must carry (`PATH VERSION` per project in a monorepo)."""
    from semverlint.report import Report
    from semverlint.versionfile import release

    report = _guard(lambda: _report(rng, staged, repo, project, config, None, False, no_cache))
    assert isinstance(report, Report)

    def notify(message: str) -> None:
        typer.echo(message, err=True)

    sys.stdout.write(_guard(lambda: release(report, str(repo) if write else None, notify)))


@app.command()
def changelog(
    rng: Annotated[
        str,
        typer.Argument(metavar="RANGE", help="e.g. v1.2.0..HEAD: the changes since a release."),
    ],
    repo: RepoOpt = Path("."),
    project: ProjectOpt = None,
    config: ConfigOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Print a markdown changelog: breaking changes, features and fixes, per project."""
    from semverlint.changelog import render_changelog
    from semverlint.report import Report

    report = _guard(lambda: _report(rng, False, repo, project, config, None, False, no_cache))
    assert isinstance(report, Report)
    sys.stdout.write(render_changelog(report))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"semverlint {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Semantic versioning for data models."""


def main() -> None:
    """The `semverlint` command: tuned for one short run over many small objects."""
    # Collections scale with everything alive, and a run keeps a whole project alive:
    # at the default threshold, building 5,000 models' YAML spent two thirds of its time
    # in the collector. SQL trees still make cyclic garbage, so it is made rarer, not off.
    gc.set_threshold(100_000, 50, 100)
    try:
        app()
    except SystemExit as done:
        code = _exit_code(done.code)
    else:  # pragma: no cover - typer's standalone mode always ends in SystemExit
        code = 0
    # Tearing down a large heap object by object takes seconds after the report is out;
    # the output is flushed and the cache closed, so nothing is left for it to do.
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`| head`) leaves nothing to flush to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    # What an ordinary exit waits for: the threads still at work (reaping the workers).
    for thread in threading.enumerate():
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
