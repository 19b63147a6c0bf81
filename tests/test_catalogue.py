"""The rule catalogue: it loads, covers every delta, its examples fire, its views agree."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semverlint.api import Options, build_report
from semverlint.catalogue_view import rules_markdown
from semverlint.classify import render_message
from semverlint.cli import app
from semverlint.differ import DELTA_KINDS, Delta
from semverlint.report import report_to_dict
from semverlint.revisions import RevisionInfo
from semverlint.rules import Catalogue, Rule, check_coverage, load_catalogue
from semverlint.snapshot import DirectorySnapshot

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "rules"
CATALOGUE = load_catalogue()
RULE_IDS = CATALOGUE.ids()
# Past participles that do not end in -ed.
IRREGULAR_PARTICIPLES = frozenset(
    {"made", "brought", "built", "done", "gone", "set", "shown", "taken"}
)

# The project every example is applied to: a dbt project with one model, `orders`, whose query
# the YAML examples describe. An example with `context` files brings its own models instead.
# The example's file then replaces the file of the same path (an empty before/after means the
# file is absent on that side).
PROJECT_FILE = "name: shop\nversion: 1.0.0\nconfig-version: 2\nprofile: shop\n"
ORDERS = {"models/orders.sql": "select 1 as order_id, 'open' as status, 10.5 as amount\n"}
# A rename touches two files and an example shows one, the file under its new name; the
# scaffold supplies the other half by dropping the old file on the after side.
SCAFFOLD_DROPPED_AFTER = {"model-renamed": ("models/orders.sql",)}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return CATALOGUE


def test_catalogue_loads(catalogue: Catalogue) -> None:
    assert len(catalogue.rules) >= 40
    assert list(RULE_IDS) == sorted(set(RULE_IDS)), "ids are unique and the catalogue sorted"


def test_every_delta_has_a_rule_and_every_rule_a_delta(catalogue: Catalogue) -> None:
    check_coverage(catalogue, DELTA_KINDS)
    assert set(catalogue.ids()) == set(DELTA_KINDS)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_id_names_the_event(rule_id: str) -> None:
    words = rule_id.split("-")
    assert all(w.isalpha() and w.islower() for w in words), f"{rule_id} is not kebab-case"
    assert len(words) >= 2, f"{rule_id}: name the thing and what happened to it"
    assert any(w.endswith("ed") or w in IRREGULAR_PARTICIPLES for w in words[1:]), (
        f"{rule_id} does not say what happened (a past participle, e.g. column-removed)"
    )


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_text(rule_id: str) -> None:
    rule = CATALOGUE[rule_id]
    for field in ("summary", "message", "help", "rationale"):
        assert getattr(rule, field).strip(), f"{rule_id}: empty {field}"
    delta = Delta(rule_id, "orders", "amount", before="x", after="y", detail="why")
    rendered = render_message(rule.message, delta)
    assert not re.search(r"\{\w+\}", rendered), f"{rule_id}: a message field is unknown: {rendered}"
    assert rule.example.before != rule.example.after, f"{rule_id}: the example changes nothing"
    assert rule.reference.endswith(f"#{rule_id}")


def _scaffold(rule: Rule, side: str) -> dict[str, str]:
    files = {"dbt_project.yml": PROJECT_FILE, **dict(rule.example.context or ORDERS)}
    if side == "after":
        for path in SCAFFOLD_DROPPED_AFTER.get(rule.id, ()):
            files.pop(path, None)
    text = rule.example.before if side == "before" else rule.example.after
    if text.strip():
        files[rule.example.file] = text.lstrip("\n")
    else:
        files.pop(rule.example.file, None)
    return files


def _write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_example_fires_its_rule(rule_id: str, tmp_path: Path) -> None:
    rule = CATALOGUE[rule_id]
    base = _write(tmp_path / "before", _scaffold(rule, "before"))
    head = _write(tmp_path / "after", _scaffold(rule, "after"))
    report = report_to_dict(
        build_report(
            DirectorySnapshot(base, "before"),
            DirectorySnapshot(head, "after"),
            RevisionInfo("before", None),
            RevisionInfo("after", None),
            CATALOGUE,
            Options(today=dt.date(2026, 11, 24)),
        )
    )
    fired = sorted({c["rule"] for p in report["projects"] for c in p["changes"]})
    assert rule_id in fired, f"the example of {rule_id} fires {fired or 'nothing'}"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_has_a_basic_fixture(rule_id: str) -> None:
    basic = FIXTURES / rule_id / "basic"
    for side in ("before", "after"):
        assert (basic / side).is_dir(), f"missing {(basic / side).relative_to(ROOT)}"
    near_misses = [p.name for p in (FIXTURES / rule_id).iterdir() if p.name.startswith("no-")]
    assert near_misses, f"{rule_id} has no near-miss (no-*) case"


def test_docs_are_generated_from_the_catalogue(catalogue: Catalogue) -> None:
    docs = ROOT / "docs" / "rules.md"
    regenerate = "regenerate it with `.venv/bin/python -m semverlint.catalogue_view`"
    assert docs.is_file(), f"docs/rules.md is missing: {regenerate}"
    assert docs.read_text(encoding="utf-8") == rules_markdown(catalogue), (
        f"docs/rules.md drifted from the catalogue: {regenerate}"
    )


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_explain(runner: CliRunner, rule_id: str) -> None:
    rule = CATALOGUE[rule_id]
    result = runner.invoke(app, ["explain", rule_id], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{rule_id} ({rule.bump}, {rule.category})")
    assert rule.summary in result.output
    assert rule.reference in result.output


def test_explain_unknown_rule_suggests(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "column-remove"], env={"NO_COLOR": "1"})
    assert result.exit_code == 2
    assert "column-removed" in result.output


def test_rules_json_lists_every_rule(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == list(RULE_IDS)
    for entry in listed:
        rule = CATALOGUE[entry["id"]]
        assert (entry["bump"], entry["category"], entry["summary"]) == (
            rule.bump,
            rule.category,
            rule.summary,
        )
