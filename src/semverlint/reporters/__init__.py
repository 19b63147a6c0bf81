"""Reporters: each turns a Report into the text of one output format."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from semverlint.report import Report

Reporter = Callable[[Report, bool], str]

# Format name -> the module whose `render` prints it; imported on demand so that machine
# formats never load rich.
MODULES = {
    "text": "semverlint.reporters.text",
    "json": "semverlint.reporters.json",
    "markdown": "semverlint.reporters.markdown",
    "github": "semverlint.reporters.github",
    "sarif": "semverlint.reporters.sarif",
}
FORMATS = tuple(MODULES)
# Formats read by programs: stdout carries the report and nothing else.
MACHINE_FORMATS = frozenset({"json", "sarif", "github"})


def reporter(name: str) -> Reporter:
    """The reporter for a format name; unknown names are a programming error."""
    render: Reporter = import_module(MODULES[name]).render
    return render
