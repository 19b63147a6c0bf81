"""Runs the real CLI in a subprocess and validates every JSON report against the shipped schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        validate_report(data)
        return data


@cache
def report_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(
        resources.files("semverlint.schemas").joinpath("report.schema.json").read_text()
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_report(data: dict[str, Any]) -> None:
    report_validator().validate(data)


@cache
def _session_cache() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="semverlint-test-cache-"))


def semverlint(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Result:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    # One cache per test session, never the developer's: results must not depend on it either way.
    full_env.setdefault("SEMVERLINT_CACHE_DIR", str(_session_cache()))
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "semverlint", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    reporting = bool(args) and args[0] in ("diff", "check")
    if reporting and "json" in args and proc.returncode in (0, 1) and proc.stdout.strip():
        validate_report(json.loads(proc.stdout))
    return Result(proc.returncode, proc.stdout, proc.stderr)


def changes(report: dict[str, Any], project: int = 0) -> list[tuple[str, str, str | None]]:
    """(rule, model, column) of every change of one project, sorted."""
    return sorted(
        (c["rule"], c["model"], c["column"]) for c in report["projects"][project]["changes"]
    )


@dataclass(frozen=True)
class Imports:
    """A CLI run in a fresh interpreter, and which of the watched modules it imported."""

    stdout: str
    imported: list[str]


def imports_of(
    args: list[str], watched: tuple[str, ...], env: dict[str, str] | None = None
) -> Imports:
    """Run the CLI in-process in a fresh interpreter (exit code 0 required); the modules of
    `watched` it imported tell what a run cost without timing it."""
    code = (
        "import json, sys\n"
        "from semverlint.cli import app\n"
        f"try:\n    app({args!r})\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.setdefault("SEMVERLINT_CACHE_DIR", str(_session_cache()))
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full_env
    )
    return Imports(
        result.stdout, json.loads(result.stderr.strip().splitlines()[-1].replace("'", '"'))
    )


def changes_of(repo: Path, *args: str, cache: Path | None = None) -> list[tuple[str, str, str]]:
    """(rule, model, column) of each change `diff --format json` reports in the first
    project, in report order; a cache folder of the test's own when given."""
    env = {"SEMVERLINT_CACHE_DIR": str(cache)} if cache is not None else None
    report = semverlint("diff", "--repo", repo, "--format", "json", *args, env=env).json
    return [(c["rule"], c["model"], c["column"]) for c in report["projects"][0]["changes"]]
