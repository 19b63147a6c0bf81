"""Reporters: each turns a Report into the text of one output format."""

from __future__ import annotations

from collections.abc import Callable

from semverlint.report import Report

Reporter = Callable[[Report, bool], str]

FORMATS = ("text", "json")


def reporter(name: str) -> Reporter:
    """The reporter for a format, imported on demand so machine formats never load rich."""
    if name == "json":
        from semverlint.reporters.json import render

        return render
    from semverlint.reporters.text import render as render_text

    return render_text
