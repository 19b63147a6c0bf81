"""Inline suppressions: `# semverlint: allow RULE -- reason` in YAML, `-- semverlint: allow ...`
in SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from semverlint.interface import Column, Diagnostic, Suppression

# The reason is required: an accepted break must say why, as config `ignore` entries do.
_COMMENT = re.compile(
    r"(?:#|--|\{#)\s*semverlint:\s*allow\s+(?P<rule>[a-z]+(?:-[a-z]+)*)\s*(?:--\s*(?P<reason>.*?))?\s*(?:#\})?\s*$"
)


@dataclass(frozen=True)
class Comment:
    """An inline `semverlint: allow` comment, as written."""

    rule: str
    reason: str | None
    line: int  # where the comment is
    target: int  # the line it speaks for: its own (trailing) or the next line with content


def comments(text: str) -> tuple[Comment, ...]:
    """Every suppression comment of a file, with the line it applies to."""
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        match = _COMMENT.search(line)
        if not match:
            continue
        before = line[: match.start()].strip()
        target = index
        if not before:
            target = next(
                (
                    j
                    for j in range(index + 1, len(lines))
                    if lines[j].strip() and not lines[j].lstrip().startswith("#")
                ),
                index,
            )
        found.append(
            Comment(match["rule"], (match["reason"] or "").strip() or None, index + 1, target + 1)
        )
    return tuple(found)


def _diagnostic(comment: Comment, path: str) -> Diagnostic:
    return Diagnostic(
        "warning",
        f"suppression of {comment.rule} has no reason and is not applied: "
        f"write `semverlint: allow {comment.rule} -- why`",
        path,
        comment.line,
    )


def for_yaml_entry(
    found: tuple[Comment, ...], path: str, model_line: int | None, columns: tuple[Column, ...]
) -> tuple[tuple[Suppression, ...], tuple[Diagnostic, ...]]:
    """Suppressions that speak for a model's entry (all its changes) or one of its columns."""
    column_lines = {c.line: c.name for c in columns if c.line}
    out: list[Suppression] = []
    diagnostics: list[Diagnostic] = []
    for comment in found:
        if comment.target == model_line:
            column = None
        elif comment.target in column_lines:
            column = column_lines[comment.target]
        else:
            continue
        if comment.reason is None:
            diagnostics.append(_diagnostic(comment, path))
            continue
        out.append(Suppression(comment.rule, comment.reason, path, comment.line, column))
    return tuple(out), tuple(diagnostics)


def for_sql(text: str, path: str) -> tuple[tuple[Suppression, ...], tuple[Diagnostic, ...]]:
    """In SQL a suppression speaks for the whole model, wherever it stands."""
    out: list[Suppression] = []
    diagnostics: list[Diagnostic] = []
    for comment in comments(text):
        if comment.reason is None:
            diagnostics.append(_diagnostic(comment, path))
        else:
            out.append(Suppression(comment.rule, comment.reason, path, comment.line))
    return tuple(out), tuple(diagnostics)


def unexplained(texts: dict[str, str]) -> tuple[Diagnostic, ...]:
    """A suppression without a reason is not applied; say so where it stands."""
    return tuple(
        _diagnostic(comment, path)
        for path in sorted(texts)
        for comment in comments(texts[path])
        if comment.reason is None
    )
