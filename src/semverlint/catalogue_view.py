"""Views of the rule catalogue: the rules table, `explain`, JSON and docs/rules.md, all from
the TOML."""

from __future__ import annotations

import io
import json

from semverlint.bump import rank
from semverlint.rules import Catalogue, Rule, load_catalogue


def _ordered(catalogue: Catalogue) -> list[Rule]:
    return sorted(catalogue.rules, key=lambda r: (r.category, -rank(r.bump), r.id))


def rule_to_dict(rule: Rule) -> dict[str, object]:
    return {
        "id": rule.id,
        "summary": rule.summary,
        "bump": rule.bump,
        "category": rule.category,
        "rationale": rule.rationale,
        "help": rule.help,
        "message": rule.message,
        "reference": rule.reference,
        "example": {
            "file": rule.example.file,
            "before": rule.example.before,
            "after": rule.example.after,
        },
    }


def rules_json() -> str:
    catalogue = load_catalogue()
    return json.dumps([rule_to_dict(r) for r in catalogue.rules], indent=2) + "\n"


def rules_text(color: bool) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for name in ("rule", "bump", "category", "summary"):
        table.add_column(name)
    for rule in _ordered(load_catalogue()):
        table.add_row(rule.id, rule.bump, rule.category, rule.summary)
    buffer = io.StringIO()
    Console(
        file=buffer, force_terminal=color, no_color=not color, width=160, highlight=False
    ).print(table)
    return buffer.getvalue()


def _example_text(rule: Rule) -> str:
    before = rule.example.before or "(file absent)\n"
    after = rule.example.after or "(file absent)\n"
    return (
        f"{rule.example.file}, before:\n{_indent(before)}\n"
        f"{rule.example.file}, after:\n{_indent(after)}"
    )


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))


def explain_text(rule: Rule, color: bool = False) -> str:
    return (
        f"{rule.id} ({rule.bump}, {rule.category})\n\n"
        f"{rule.summary}\n\n"
        f"Why it is {rule.bump}:\n  {rule.rationale}\n\n"
        f"How to ship it:\n  {rule.help}\n\n"
        f"Example:\n{_example_text(rule)}\n"
        f"Override it in semverlint.yml (or [tool.semverlint] in pyproject.toml):\n"
        f"    rules:\n      {rule.id}: minor    # or major, patch, none, off\n"
        f"Accept one occurrence instead:\n"
        f"    ignore:\n      - rule: {rule.id}\n        model: <model glob>\n"
        f'        reason: "why it is safe"\n\n'
        f"Reference: {rule.reference}\n"
    )


def rules_markdown(catalogue: Catalogue) -> str:
    """docs/rules.md; a test fails when the committed file drifts from the catalogue."""
    out = [
        "# Rules",
        "",
        "Generated from `src/semverlint/rules/catalogue/` by "
        "`python -m semverlint.catalogue_view`.",
        "",
    ]
    out += ["| rule | bump | category | summary |", "|---|---|---|---|"]
    out += [
        f"| [{r.id}](#{r.id}) | {r.bump} | {r.category} | {r.summary} |"
        for r in _ordered(catalogue)
    ]
    for rule in _ordered(catalogue):
        fence = "```"
        out += [
            "",
            f"## {rule.id}",
            "",
            f"**{rule.bump}** ({rule.category}). {rule.summary}",
            "",
            f"**Why:** {rule.rationale}",
            "",
            f"**How to ship it:** {rule.help}",
            "",
            f"Before (`{rule.example.file}`):",
            "",
            fence + ("yaml" if rule.example.file.endswith((".yml", ".yaml")) else "sql"),
            (rule.example.before or "-- file absent\n").rstrip("\n"),
            fence,
            "",
            "After:",
            "",
            fence + ("yaml" if rule.example.file.endswith((".yml", ".yaml")) else "sql"),
            (rule.example.after or "-- file absent\n").rstrip("\n"),
            fence,
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates docs/rules.md
    import pathlib

    pathlib.Path("docs").mkdir(exist_ok=True)
    pathlib.Path("docs/rules.md").write_text(rules_markdown(load_catalogue()), encoding="utf-8")
