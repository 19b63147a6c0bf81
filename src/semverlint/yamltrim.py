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

import functools
import re

# Sections whose entries are models by name; sources, seeds and the semantic layer stay whole.
_CUT_SECTIONS = frozenset({"models", "snapshots"})
# Every pattern starts at the newline before a line (the text gets one up front): a literal
# first character lets the scan run at C speed, where `^` in MULTILINE mode crawls.
_TOP_LINE = re.compile(r"\n([^\s#][^\n]*)")
_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]|$)")
_FIRST_ITEM = re.compile(r"\n( +)-(?: |$)", re.MULTILINE)
_CONTENT = re.compile(r"\n[ \t]*[^\s#]")
_NAME = re.compile(r"""name[ \t]*:[ \t]*(?:([\w.-]+)|'([\w.-]+)'|"([\w.-]+)")[ \t]*(?:#.*)?$""")
# An anchor or alias could tie a kept entry to a cut one; a marker may start a new document.
_ALIAS = re.compile(rb"[&*][^\s,\]}]")
_MARKERS = (b"\n---", b"\n...", b"\n%", b"\n\t")


def keep_entries(raw: bytes, names: frozenset[str]) -> bytes:
    """`raw` with every model or snapshot entry not named in `names` (folded) blanked, or
    `raw` itself when its layout is not plain enough to cut safely."""
    text = _text(raw)
    entries = _entries(text) if text is not None else None
    if text is None or not entries:
        return raw
    kept: list[str] = []
    position = 0
    for start, end, name in entries:
        if name is None or name in names:
            continue
        kept.append(text[position:start])
        kept.append("\n" * text.count("\n", start, end))  # the same lines, empty
        position = end
    if position == 0:
        return raw
    kept.append(text[position:])
    return "".join(kept)[1:].encode("utf-8")


def entry_texts(raw: bytes) -> dict[str, str] | None:
    """The text of each model and snapshot entry by folded name; None when the file cannot be
    cut, or an entry's name is not surely read or is written twice."""
    text = _text(raw)
    entries = _entries(text) if text is not None else None
    if text is None or entries is None:
        return None
    texts: dict[str, str] = {}
    for start, end, name in entries:
        if name is None or name in texts:
            return None
        texts[name] = text[start:end]
    return texts


def _text(raw: bytes) -> str | None:
    """The text behind a newline, or None when it has anchors, aliases or markers, or tabs."""
    if (b"&" in raw or b"*" in raw) and _ALIAS.search(raw):
        return None
    if any(marker in b"\n" + raw[:4] or marker in raw for marker in _MARKERS):
        return None
    try:
        return "\n" + raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _entries(text: str) -> list[tuple[int, int, str | None]] | None:
    """Each item of a cut section with its name (None: not surely read), or None for a
    layout not plain enough: regular expressions over the whole text, not a loop per line."""
    heads = list(_TOP_LINE.finditer(text))
    entries: list[tuple[int, int, str | None]] = []
    for number, head in enumerate(heads):
        key = _TOP_KEY.match(head.group(1))
        if key is None:
            return None  # a line at column 0 that is not a key: flow style, a scalar
        if key.group(1) not in _CUT_SECTIONS:
            continue
        end = heads[number + 1].start() + 1 if number + 1 < len(heads) else len(text)
        items = _items(text, head.end(), end)
        if items is None:
            return None
        entries.extend(items)
    return entries


def _items(text: str, start: int, end: int) -> list[tuple[int, int, str | None]] | None:
    """The list items of one section's body, text[start:end], with their names."""
    first = _FIRST_ITEM.search(text, start, end)
    if first is None:
        return None if _CONTENT.search(text, start, end) else []
    indent = len(first.group(1))
    if _CONTENT.search(text, start, first.start()) or _odd_lines(indent).search(text, start, end):
        return None
    starts = [m.start() + 1 for m in _item_starts(indent).finditer(text, start, end)]
    spans = zip(starts, [*starts[1:], end], strict=True)
    return [(a, b, _name(text[a:b], indent)) for a, b in spans]


@functools.cache
def _odd_lines(indent: int) -> re.Pattern[str]:
    """A line of a section indented no deeper than its items that is not an item itself."""
    return re.compile(rf"\n(?! {{{indent}}}-(?: |$)) {{0,{indent}}}(?=[^ #\n])", re.MULTILINE)


@functools.cache
def _item_starts(indent: int) -> re.Pattern[str]:
    return re.compile(rf"\n {{{indent}}}-(?: |$)", re.MULTILINE)


@functools.cache
def _key_lines(indent: int) -> re.Pattern[str]:
    return re.compile(rf"\n {{{indent}}}(name[ \t]*:[^\n]*)")


def _name(entry: str, indent: int) -> str | None:
    """The entry's one `name:`, folded: on its first line after the dash, or on a line at its
    content indent. None when there is none, more than one, or it is written in a way not
    read here (escapes, a block scalar), or the entry is a version in another file."""
    first_line = entry.split("\n", 1)[0]
    after = first_line[indent + 1 :]
    content = indent + 1 + len(after) - len(after.lstrip(" "))
    if content >= len(first_line) or "defined_in" in entry:
        return None
    keys = _key_lines(content).findall(entry)
    if first_line[content:].startswith("name"):
        keys.insert(0, first_line[content:])
    keys = [k for k in keys if k[4:].lstrip(" \t").startswith(":")]
    match = _NAME.match(keys[0]) if len(keys) == 1 else None
    return next(g for g in match.groups() if g).lower() if match else None
