"""Cut a property file down to the model entries a comparison needs, before it is parsed.

A large project keeps dozens of models in each folder's property file, and a change reaches
few of them: parsing the whole file for one entry is most of the cost of checking a
one-model change. The entries of `models:` and `snapshots:` that surely name another model
are blanked line for line, so what is left parses to the same entries on the same lines.

Only plain layouts are cut: top-level keys at column 0, one list item indent per section,
names written as plain or simply quoted words. Anything else (anchors and aliases, flow
style, several documents, tabs, an odd indent, a name written any other way) leaves the
file whole: cutting is an optimisation, never a reading of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Sections whose entries are models by name; sources, seeds and the semantic layer stay whole.
_CUT_SECTIONS = frozenset({"models", "snapshots"})
_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]|$)")
_NAME = re.compile(r"""name:[ \t]*(?:([\w.-]+)|'([\w.-]+)'|"([\w.-]+)")[ \t]*(?:#.*)?$""")
# An anchor or alias could tie a kept entry to a cut one; a marker may start a new document.
_UNSAFE = re.compile(rb"[&*][^\s,\]}]|^(?:---|\.\.\.|%)|^\t", re.MULTILINE)


def keep_entries(raw: bytes, names: frozenset[str]) -> bytes:
    """`raw` with every model or snapshot entry not named in `names` (folded) blanked, or
    `raw` itself when its layout is not plain enough to cut safely."""
    if _UNSAFE.search(raw):
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    lines = text.split("\n")
    entries = _entries(lines)
    if entries is None:
        return raw
    dropped = [(start, end) for start, end in entries if not _wanted(lines, start, end, names)]
    if not dropped:
        return raw
    for start, end in dropped:
        lines[start:end] = [""] * (end - start)
    return "\n".join(lines).encode("utf-8")


def _entries(lines: list[str]) -> list[tuple[int, int]] | None:
    """(first, past-last) line of each item of a cut section, or None for an odd layout."""
    entries: list[tuple[int, int]] = []
    section: str | None = None
    item_indent: int | None = None
    start: int | None = None
    for number, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent == 0:
            match = _TOP_KEY.match(line)
            if match is None:
                return None
            if start is not None:
                entries.append((start, number))
            section, item_indent, start = match.group(1), None, None
            continue
        if section not in _CUT_SECTIONS:
            continue
        is_item = stripped.startswith("- ") or stripped == "-"
        if item_indent is None and is_item:
            item_indent = indent
        if indent == item_indent and is_item:
            if start is not None:
                entries.append((start, number))
            start = number
        elif item_indent is None or indent <= item_indent or start is None:
            return None
    if start is not None:
        entries.append((start, len(lines)))
    return entries


def _wanted(lines: list[str], start: int, end: int, names: frozenset[str]) -> bool:
    """True unless the entry's one name is surely written and surely not in `names`."""
    found = list(_names(lines, start, end))
    if len(found) != 1 or found[0] is None:
        return True  # no name, a name twice, or a name written in a way not read here
    if any("defined_in" in line for line in lines[start:end]):
        return True  # a version in a file of another name: the reach knows it by that name
    return found[0] in names


def _names(lines: list[str], start: int, end: int) -> Iterator[str | None]:
    """The entry's `name:` keys, folded: on its first line after the dash, or on a line at
    its content indent; None for one written in a way not read here (escapes, a block)."""
    first = lines[start]
    dash = first.index("-")
    content = dash + 1 + len(first[dash + 1 :]) - len(first[dash + 1 :].lstrip(" "))
    keys = [first[content:]]
    for line in lines[start + 1 : end]:
        if line[:content].strip(" ") == "" and line[content : content + 1] not in (" ", ""):
            keys.append(line[content:])
    for key in keys:
        if key.startswith("name") and key[4:].lstrip(" \t").startswith(":"):
            match = _NAME.match(key)
            yield next(g for g in match.groups() if g).lower() if match else None
