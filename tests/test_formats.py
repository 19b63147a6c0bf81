"""The markdown, github and sarif formats: unit tests on Report values, then through the real CLI.

SARIF reports are validated against the SARIF 2.1.0 JSON Schema in tests/schemas/sarif-2.1.0.json:
the complete schema (2.1.0-rtm.4, JSON Schema draft-04) as shipped in the `sarif-om` 1.0.4
source distribution on PyPI (see tests/schemas/README.md), not a subset.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from clirun import semverlint
from dbtshop import change, drop_amount, sample_project, sample_report, write_shop
from gitrepo import GitRepo
from semverlint.cli import Format
from semverlint.reporters import FORMATS, MACHINE_FORMATS, github, markdown, reporter, sarif
from semverlint.rules import load_catalogue

SCHEMAS = Path(__file__).parent / "schemas"


@cache
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def validate_sarif(data: dict[str, Any]) -> None:
    errors = sorted(sarif_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def sarif_results(data: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = data["runs"][0]["results"]
    return results


# -- the format table ----------------------------------------------------------------------


def test_every_cli_format_has_a_reporter_and_renders_deterministically() -> None:
    assert {f.value for f in Format} == set(FORMATS)
    report = sample_report()
    for name in FORMATS:
        first = reporter(name)(report, False)
        assert first == reporter(name)(report, False), name
        assert first.endswith("\n"), name
    assert set(FORMATS) >= MACHINE_FORMATS


# -- markdown ------------------------------------------------------------------------------


def test_markdown_puts_the_verdict_first_then_a_table_most_severe_first() -> None:
    text = markdown.render(sample_report())
    lines = text.splitlines()
    assert lines[0] == "## semverlint: ❌ FAIL"
    verdict = lines.index("| project | required bump | declared (base → head) | suggested | ok |")
    assert lines[verdict + 2] == "| `shop` (`.`) | **major** | 1.4.0 → 1.4.1 | 2.0.0 | ❌ |"
    assert "the changes need a major bump" in lines[verdict + 4]
    header = lines.index("| bump | rule | model | column | change | file |")
    rows = lines[header + 2 : header + 7]
    assert [row.split(" | ")[0] for row in rows] == [
        "| **major**",
        "| **minor**",
        "| **patch**",
        "| **none**",
        "| ~~major~~ ignored",
    ]
    assert rows[0] == (
        "| **major** | [`column-removed`]"
        "(https://github.com/semverlint/semverlint/blob/main/docs/rules.md#column-removed) "
        "| `orders` | `amount` | Column orders.amount was removed; queries that select it fail."
        "<br>breaks finance:revenue.amount | `models/marts/orders.yml:14` |"
    )
    assert "**Ignored:** consumers moved to v2 (TICKET-123)" in rows[4]
    assert "### shop: 4 change(s), 1 ignored" in lines


def test_markdown_escapes_table_cells_and_lists_diagnostics() -> None:
    text = markdown.render(sample_report())
    row = next(line for line in text.splitlines() if "column-logic-changed" in line)
    # A pipe would split the cell, an asterisk start emphasis: both are shown as typed.
    assert r"from a \* b to a \| b, 100%: ok." in row
    assert row.count(" | ") == 5
    assert "- error `models/marts/totals.sql`: unknown macro \\`cents\\`" in text
    assert "- warning `models/marts/daily.sql:3`: cannot parse the SQL of daily" in text
    assert text.index("- error") < text.index("- warning")


def test_markdown_code_spans_survive_backticks_and_pipes() -> None:
    assert markdown.code("a|b") == r"`a\|b`"
    assert markdown.code("x`y") == "``x`y``"
    assert markdown.code("`x") == "`` `x ``"
    assert markdown.text("<b>&\nnext") == r"\<b\>&amp;<br>next"


def test_markdown_ok_report_and_report_without_projects() -> None:
    ok = sample_project(
        changes=(),
        diagnostics=(),
        ok=True,
        reasons=(),
        required_bump="none",
        effective_bump="none",
        suggested_version="1.4.0",
        declared_head="1.4.0",
    )
    text = markdown.render(sample_report(ok))
    assert text.startswith("## semverlint: ✅ OK\n")
    assert "No interface changes." in text
    empty = markdown.render(
        sample_report().__class__(sample_report().base, sample_report().head, ())
    )
    assert "No projects found" in empty


def test_markdown_keeps_a_pull_request_comment_within_githubs_limit() -> None:
    many = tuple(
        change("column-added", "minor", f"c{i:04}", f"Column orders.c{i:04} was added.")
        for i in range(2000)
    )
    text = markdown.render(sample_report(sample_project(changes=many)))
    assert len(text) < 65_536
    assert f"*{2000 - markdown.MAX_ROWS} more change(s) not shown" in text


# -- github --------------------------------------------------------------------------------


def test_github_escapes_data_and_properties_per_githubs_rules() -> None:
    assert github.escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    annotation = github.Annotation("error", "two\nlines: 5%", "t: x,y", "dir/a,b.yml", 3)
    assert (
        annotation.command()
        == "::error file=dir/a%2Cb.yml,line=3,title=t%3A x%2Cy::two%0Alines: 5%25"
    )


def test_github_annotations_are_most_severe_first_and_end_with_a_summary() -> None:
    output = github.render(sample_report())
    lines = output.splitlines()
    commands, summary = lines[:-1], lines[-1]
    assert all(line.startswith("::") for line in commands)
    assert not summary.startswith("::")
    assert summary.startswith("semverlint: FAIL: required bump major; shop FAIL: 4 change(s)")
    levels = [line[2:].split(" ", 1)[0] for line in commands]
    assert levels == sorted(levels, key=github.LEVELS.index)
    # The verdict comes first, on the version line, with the fix.
    assert commands[0].startswith(
        "::error file=dbt_project.yml,line=3,title=semverlint%3A shop fails"
    )
    assert "release 2.0.0" in commands[0]
    removed = next(c for c in commands if "title=column-removed (major) in shop" in c)
    assert removed.startswith("::error file=models/marts/orders.yml,line=14,")
    assert "How to ship it: " in removed
    assert (
        "::error file=models/marts/totals.sql,title=semverlint error in shop (totals)::" in output
    )
    ignored = next(c for c in commands if "legacy_flag" in c)
    assert ignored.startswith("::notice ")
    assert "ignored: consumers moved to v2 (TICKET-123)" in ignored
    assert any(c.startswith("::warning file=models/marts/orders.yml,line=20,") for c in commands)
    assert any(c.startswith("::notice file=models/marts/orders.sql,line=1,") for c in commands)


def test_github_publish_appends_the_markdown_report_to_the_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    github.publish(sample_report(), {"GITHUB_STEP_SUMMARY": str(summary)})
    github.publish(sample_report(), {"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## semverlint: ❌ FAIL")
    assert text.count("## semverlint:") == 2
    github.publish(sample_report(), {})  # outside Actions: nothing to do


# -- sarif ---------------------------------------------------------------------------------


def test_sarif_is_valid_with_rule_metadata_from_the_catalogue() -> None:
    data = json.loads(sarif.render(sample_report()))
    validate_sarif(data)
    assert data["version"] == "2.1.0"
    assert len(data["runs"]) == 1
    driver = data["runs"][0]["tool"]["driver"]
    assert driver["name"] == "semverlint"
    assert driver["informationUri"].startswith("https://")
    catalogue = load_catalogue()
    assert [r["id"] for r in driver["rules"]] == list(catalogue.ids())
    removed = next(r for r in driver["rules"] if r["id"] == "column-removed")
    rule = catalogue["column-removed"]
    assert removed["shortDescription"]["text"] == rule.summary
    assert removed["fullDescription"]["text"] == rule.rationale
    assert removed["help"]["text"] == rule.help
    assert removed["helpUri"] == rule.reference
    assert removed["defaultConfiguration"]["level"] == "error"
    assert removed["properties"]["bump"] == "major"
    assert removed["properties"]["category"] == "column"
    added = next(r for r in driver["rules"] if r["id"] == "column-added")
    assert added["defaultConfiguration"]["level"] == "warning"


def test_sarif_results_carry_levels_locations_and_suppressions() -> None:
    data = json.loads(sarif.render(sample_report()))
    results = sarif_results(data)
    rules = data["runs"][0]["tool"]["driver"]["rules"]
    assert [r["ruleId"] for r in results] == [
        "column-removed",
        "column-added",
        "column-logic-changed",
        "description-changed",
        "column-removed",
    ]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert [r["level"] for r in results] == ["error", "warning", "note", "none", "error"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "models/marts/orders.yml"
    assert location["region"]["startLine"] == 14
    assert "suppressions" not in results[0]
    assert results[4]["suppressions"] == [
        {"kind": "external", "justification": "consumers moved to v2 (TICKET-123)"}
    ]
    notifications = data["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notifications[0]["level"] == "error"
    assert "major bump" in notifications[0]["message"]["text"]
    assert data["runs"][0]["properties"]["projects"][0]["suggested_version"] == "2.0.0"


def test_sarif_fingerprints_survive_line_shifts_and_tell_columns_apart() -> None:
    def fingerprints(line: int) -> list[str]:
        changes = (
            change("column-removed", "major", "amount", "removed", line=line),
            change("column-removed", "major", "status", "removed", line=line + 1),
        )
        results = sarif_results(
            json.loads(sarif.render(sample_report(sample_project(changes=changes))))
        )
        return [next(iter(r["partialFingerprints"].values())) for r in results]

    assert fingerprints(14) == fingerprints(40)
    assert len(set(fingerprints(14))) == 2


def test_sarif_uris_are_percent_encoded_and_location_falls_back_to_the_project_file() -> None:
    changes = (
        change("column-added", "minor", "x", "added", path="models/my marts/o#1.yml", line=2),
        change("model-added", "minor", None, "added", path=None, line=None),
    )
    data = json.loads(sarif.render(sample_report(sample_project(changes=changes))))
    validate_sarif(data)
    uris = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif_results(data)
    }
    assert uris == {"column-added": "models/my%20marts/o%231.yml", "model-added": "dbt_project.yml"}


# -- through the CLI -----------------------------------------------------------------------


@pytest.fixture
def broken(git_repo: GitRepo) -> GitRepo:
    """Two commits: the shop at 1.4.0, then a public column dropped without a version bump."""
    write_shop(git_repo)
    git_repo.commit("shop 1.4.0")
    drop_amount(git_repo)
    git_repo.commit("drop orders.amount")
    return git_repo


def test_cli_sarif_is_valid_and_stdout_holds_only_the_report(broken: GitRepo) -> None:
    result = semverlint("check", "HEAD~1..HEAD", "--format", "sarif", "--repo", broken.path)
    assert result.code == 1, result.stderr
    data = json.loads(result.stdout)
    validate_sarif(data)
    removed = next(r for r in sarif_results(data) if r["ruleId"] == "column-removed")
    assert removed["level"] == "error"
    physical = removed["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "models/marts/orders.yml"
    assert physical["region"]["startLine"] >= 1
    again = semverlint("check", "HEAD~1..HEAD", "--format", "sarif", "--repo", broken.path)
    assert again.stdout == result.stdout


def test_cli_sarif_fingerprint_is_stable_when_lines_move(broken: GitRepo) -> None:
    first = semverlint("diff", "HEAD~1..HEAD", "--format", "sarif", "--repo", broken.path)
    yml = broken.path / "models/marts/orders.yml"
    yml.write_text("# orders\n# owned by the shop team\n\n" + yml.read_text(), encoding="utf-8")
    broken.commit("comment")
    second = semverlint("diff", "HEAD~2..HEAD", "--format", "sarif", "--repo", broken.path)

    def removed(result: Any) -> dict[str, Any]:
        found: dict[str, Any] = next(
            r for r in sarif_results(json.loads(result.stdout)) if r["ruleId"] == "column-removed"
        )
        return found

    assert removed(first)["partialFingerprints"] == removed(second)["partialFingerprints"]


def test_cli_github_annotates_the_head_file_and_writes_the_job_summary(
    broken: GitRepo, tmp_path: Path
) -> None:
    summary = tmp_path / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    result = semverlint(
        "check", "HEAD~1..HEAD", "--format", "github", "--repo", broken.path, env=env
    )
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("::") for line in lines[:-1])
    assert lines[-1].startswith("semverlint: FAIL: required bump major")
    assert re.match(
        r"::error file=dbt_project\.yml,line=3,title=semverlint%3A shop fails", lines[0]
    )
    assert any(
        re.match(
            r"::error file=models/marts/orders\.yml,line=\d+,title=column-removed \(major\)", line
        )
        for line in lines
    )
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## semverlint: ❌ FAIL")
    assert "| **major** | [`column-removed`](" in text


def test_cli_markdown_report(broken: GitRepo) -> None:
    result = semverlint("diff", "HEAD~1..HEAD", "--format", "markdown", "--repo", broken.path)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("## semverlint: ❌ FAIL\n")
    assert "| `shop` (`.`) | **major** | 1.4.0 → 1.4.0 | 2.0.0 | ❌ |" in result.stdout
    assert "[`column-removed`](https://" in result.stdout


def test_cli_github_without_summary_variable_only_prints(broken: GitRepo, tmp_path: Path) -> None:
    result = semverlint(
        "diff",
        "HEAD~1..HEAD",
        "--format",
        "github",
        "--repo",
        broken.path,
        env={"GITHUB_STEP_SUMMARY": ""},
    )
    assert result.code == 0
    assert result.stdout.startswith("::error ")
    assert not list(tmp_path.glob("*.md"))
