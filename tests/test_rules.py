"""Rule fixtures: the whole catalogue on every before/after pair, compared with its expected.json.

Each case is `fixtures/rules/<rule>/<case>/{before,after}/`, two complete dbt projects, and
`expected.json`, the sorted changes and required bump per project. `basic` must fire its
rule, `no-*` (a near miss) must not; running every rule on every pair shows overlaps at once.
Rewrite the snapshots with `pytest tests/test_rules.py --update-snapshots` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from semverlint.api import Options, build_report
from semverlint.report import report_to_dict
from semverlint.revisions import RevisionInfo
from semverlint.rules import Catalogue, load_catalogue
from semverlint.snapshot import DirectorySnapshot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
TODAY = dt.date(2026, 11, 24)
CHANGE_FIELDS = ("rule", "bump", "rule_bump", "model", "column", "before", "after", "path", "line")
CASES = sorted(p for p in FIXTURES.glob("*/*") if p.is_dir())


def case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


@cache
def catalogue() -> Catalogue:
    return load_catalogue()


@cache
def report_validator() -> Draft202012Validator:
    text = resources.files("semverlint.schemas").joinpath("report.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def run_pair(base: Path, head: Path) -> dict[str, Any]:
    """The JSON report of `base` -> `head`, validated against the shipped schema."""
    report = build_report(
        DirectorySnapshot(base, "before"),
        DirectorySnapshot(head, "after"),
        RevisionInfo("before", None),
        RevisionInfo("after", None),
        catalogue(),
        Options(today=TODAY),
    )
    data = report_to_dict(report)
    errors = sorted(report_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "report does not match the schema:\n" + "\n".join(
        f"  {list(e.absolute_path)}: {e.message}" for e in errors
    )
    return data


def _change_key(change: dict[str, Any]) -> tuple[str, ...]:
    return (
        change["model"],
        change["column"] or "",
        change["rule"],
        json.dumps(change["before"], sort_keys=True),
        json.dumps(change["after"], sort_keys=True),
    )


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot holds: per project its required bump and its changes, sorted."""
    projects = sorted(report["projects"], key=lambda p: p["path"])
    return {
        "projects": [
            {
                "path": project["path"],
                "required_bump": project["required_bump"],
                "changes": sorted(
                    (
                        {field: change.get(field) for field in CHANGE_FIELDS}
                        for change in project["changes"]
                    ),
                    key=_change_key,
                ),
            }
            for project in projects
        ]
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def fired(snapshot: dict[str, Any]) -> set[str]:
    return {change["rule"] for project in snapshot["projects"] for change in project["changes"]}


def test_fixtures_exist() -> None:
    assert CASES, f"no rule fixtures under {FIXTURES}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fixture_layout(case: Path) -> None:
    assert case.parent.name in catalogue().ids(), f"{case.parent.name} is not a rule id"
    for side in ("before", "after"):
        assert (case / side / "dbt_project.yml").is_file(), (
            f"{case_id(case)}/{side} is not a dbt project"
        )
    assert _tree(case / "before") != _tree(case / "after"), (
        f"{case_id(case)}: before and after are the same"
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rule_case(case: Path, update_snapshots: bool) -> None:
    actual = summarize(run_pair(case / "before", case / "after"))
    expected_file = case / "expected.json"
    if update_snapshots:
        expected_file.write_text(dumps(actual), encoding="utf-8")
        return
    if not expected_file.exists():
        pytest.fail(
            f"{case_id(case)} has no expected.json; create it with\n"
            f"  .venv/bin/pytest tests/test_rules.py --update-snapshots -k '{case_id(case)}'\n"
            "then read it: the changes must be what a consumer of the models should be told."
        )
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    assert dumps(actual) == dumps(expected)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_snapshot_honours_case_name(case: Path) -> None:
    """A snapshot blessed by mistake still fails: `basic` fires its rule, `no-*` does not."""
    expected_file = case / "expected.json"
    if not expected_file.exists():
        pytest.fail(f"{case_id(case)} has no expected.json")
    rule = case.parent.name
    rules = fired(json.loads(expected_file.read_text(encoding="utf-8")))
    if case.name.startswith("no-"):
        assert rule not in rules, f"near miss {case_id(case)} expects {rule}"
    else:
        assert rule in rules, f"{case_id(case)} does not expect {rule}; expected: {sorted(rules)}"


@pytest.mark.parametrize("side", ["before", "after"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_identity(case: Path, side: str) -> None:
    """A project compared with itself has no changes."""
    report = summarize(run_pair(case / side, case / side))
    assert report["projects"], f"{case_id(case)}/{side}: no project found"
    for project in report["projects"]:
        assert project["changes"] == []
        assert project["required_bump"] == "none"
