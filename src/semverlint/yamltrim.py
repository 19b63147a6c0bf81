"""Cut a property file down to the entries a comparison needs, before it is parsed.

A large project keeps dozens of models in each folder's property file, and a change reaches
few of them: parsing the whole file for one entry is most of the cost of checking a
one-model change. So it is for a staging folder's `sources:`, read for the one table a model
selects from. The entries of `models:` and `snapshots:` that surely name another model, and
the `sources:` items and their `tables:` items that surely name another table, are blanked
line for line, so what is left parses to the same entries on the same lines.

Only plain layouts are cut: top-level keys at column 0, one list item indent per block,
names written as plain or simply quoted words, no quoted scalar or flow collection running
on to another line. Anything else (anchors and aliases, flow style, several documents, tabs,
an odd indent, a name written any other way) leaves the file whole: cutting is an
optimisation, never a reading of its own.

What is blanked is not parsed: a YAML error inside it goes unseen, so a file that does not
load whole gives its wanted entries once cut. dbt refuses such a file outright; it is the
one way a cut reads more than the whole file does, and finding it would take a pass over
the whole file's YAML (a quarter of a load).
"""

from __future__ import annotations

import functools
import re

# Sections whose entries are models by name: keep_entries leaves the others whole.
_CUT_SECTIONS = frozenset({"models", "snapshots"})
# Every pattern starts at the newline before a line (the text gets one up front): a literal
# first character lets the scan run at C speed, where `^` in MULTILINE mode crawls.
_TOP_LINE = re.compile(r"\n([^\s#][^\n]*)")
_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]|$)")
_NO_VALUE = re.compile(r"[ \t]*(?:#[^\n]*)?")  # what may follow the key of a block
_FIRST_ITEM = re.compile(r"\n( +)-(?: |$)", re.MULTILINE)
_CONTENT = re.compile(r"\n[ \t]*[^\s#]")
_NAME = re.compile(r"""name[ \t]*:[ \t]*(?:([\w.-]+)|'([\w.-]+)'|"([\w.-]+)")[ \t]*(?:#.*)?$""")
# An anchor or alias could tie a kept entry to a cut one; a marker may start a new document.
_ALIAS = re.compile(rb"[&*][^\s,\]}]")
_MARKERS = (b"\n---", b"\n...", b"\n%", b"\n\t")
# A quoted scalar still open at the end of its line: its next lines (at any indent, even
# `  - name: x`) are its text, not the entries they look like. A quote opens a scalar only
# where a token starts, checked behind it so that each scan starts on a literal (a class of
# first characters is tried at every position, ten times slower); false alarms (an
# apostrophe in a comment) only leave a file whole.
_OPEN_QUOTES = (
    re.compile(r"""'(?<=[\s\[{,:?-]')(?:[^'\n]|'')*(?=\n|\Z)"""),
    re.compile(r""""(?<=[\s\[{,:?-]")(?:[^"\\\n]|\\.)*\\?(?=\n|\Z)"""),
)
# Where a flow collection opens: it must close on the same line.
_FLOWS = (re.compile(r"\[(?<=[\s\[{,:?-]\[)"), re.compile(r"\{(?<=[\s\[{,:?-]\{)"))
_QUOTED = re.compile(r"""(?<=[\s\[{,:?-])(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')""")
_COMMENT = re.compile(r"[ \t]#")

Span = tuple[int, int]
Item = tuple[int, int, str | None]  # a list item's text[start:end] and its folded name


def keep_entries(raw: bytes, names: frozenset[str]) -> bytes:
    """`raw` with every model or snapshot entry not named in `names` (folded) blanked, or
    `raw` itself when its layout is not plain enough to cut safely."""
    read = _read_entries(raw)
    if read is None:
        return raw
    text, entries = read
    cut = [(a, b) for a, b, name in entries if name is not None and name not in names]
    return _blank(raw, text, cut)


def keep_tables(raw: bytes, tables: frozenset[tuple[str, str]]) -> bytes:
    """`raw` with every `sources:` item not naming a source of `tables` ((source, table),
    folded) blanked, and in each item kept every `tables:` item not naming a table wanted
    of that source; or `raw` itself when nothing can be cut safely.

    A source whose name is not surely read may be any of them: its tables are cut to every
    wanted table name. A source whose `tables:` is not a plain block is kept whole."""
    text = _text(raw)
    sections = _sections(text) if text is not None else None
    if text is None or sections is None:
        return raw
    # Tables wanted by source; under None, for a source whose name is not surely read, all.
    wanted: dict[str | None, set[str]] = {None: set()}
    for source, table in tables:
        wanted.setdefault(source, set()).add(table)
        wanted[None].add(table)
    cut: list[Span] = []
    for key, start, end in sections:
        items = _items(text, start, end) if key == "sources" else []
        if items is None:
            return raw
        for a, b, name in items:
            if name in wanted:
                cut.extend(_unwanted_tables(text, a, b, wanted[name]))
            else:
                cut.append((a, b))
    return _blank(raw, text, cut)


def entry_texts(raw: bytes) -> dict[str, str] | None:
    """The text of each model and snapshot entry by folded name; None when the file cannot be
    cut, or an entry's name is not surely read or is written twice."""
    read = _read_entries(raw)
    if read is None:
        return None
    text, entries = read
    texts: dict[str, str] = {}
    for start, end, name in entries:
        if name is None or name in texts:
            return None
        texts[name] = text[start:end]
    return texts


@functools.lru_cache(maxsize=256)
def _read_entries(raw: bytes) -> tuple[str, tuple[Item, ...]] | None:
    """The text and model entries of a file, or None when it cannot be cut. Remembered: a
    changed file is read for its edited entries, cut to them, then cut to the reach."""
    text = _text(raw)
    entries = _entries(text) if text is not None else None
    return (text, tuple(entries)) if text is not None and entries is not None else None


def _text(raw: bytes) -> str | None:
    """The text behind a newline, or None when it has anchors, aliases or markers, tabs, a
    NUL (the loader refuses the file), or a scalar or flow collection over several lines."""
    if (b"&" in raw or b"*" in raw) and _ALIAS.search(raw):
        return None
    # A marker's rarer tail first: the newline is in every line.
    if b"\0" in raw or any(m[1:] in raw and (m in raw or raw.startswith(m[1:])) for m in _MARKERS):
        return None
    try:
        text = "\n" + raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _runs_on(text) else text


def _runs_on(text: str) -> bool:
    """Whether a quoted scalar or a flow collection may go on past the end of its line."""
    if any(pattern.search(text) for pattern in _OPEN_QUOTES):
        return True
    checked = 0  # where the last line checked ends: a line is read from its first opening on
    for start in sorted(m.start() for pattern in _FLOWS for m in pattern.finditer(text)):
        if start < checked:
            continue
        checked = _line_end(text, start, len(text))
        line = text[start:checked]
        line = _QUOTED.sub("", line) if '"' in line or "'" in line else line
        line = line[: comment.start()] if (comment := _COMMENT.search(line)) else line
        if line.count("[") != line.count("]") or line.count("{") != line.count("}"):
            return True
    return False


def _sections(text: str) -> list[tuple[str, int, int]] | None:
    """Each top-level key with what follows its colon, text[start:end]; None when a line at
    column 0 is not a key (flow style, a scalar)."""
    heads = list(_TOP_LINE.finditer(text))
    sections: list[tuple[str, int, int]] = []
    for number, head in enumerate(heads):
        key = _TOP_KEY.match(head.group(1))
        if key is None:
            return None
        end = heads[number + 1].start() + 1 if number + 1 < len(heads) else len(text)
        sections.append((key.group(1), head.start(1) + key.end(), end))
    return sections


def _entries(text: str) -> list[Item] | None:
    """Each item of a model section with its name (None: not surely read), or None for a
    layout not plain enough: regular expressions over the whole text, not a loop per line."""
    sections = _sections(text)
    if sections is None:
        return None
    entries: list[Item] = []
    for key, start, end in sections:
        items = _items(text, start, end) if key in _CUT_SECTIONS else []
        if items is None:
            return None
        entries.extend(items)
    return entries


def _items(text: str, start: int, end: int) -> list[Item] | None:
    """The list items of a block, text[start:end] from just after its key, with their names;
    None when the block is not a plain list of items indented deeper than the key."""
    line_end = _line_end(text, start, end)
    first = _FIRST_ITEM.search(text, line_end, end)
    if first is None or _NO_VALUE.fullmatch(text, start, line_end) is None:
        return None if _CONTENT.search(text, line_end, end) else []
    indent = len(first.group(1))
    odd = _odd_lines(indent).search(text, line_end, end)
    if _CONTENT.search(text, line_end, first.start()) or odd:
        return None
    starts = [m.start() + 1 for m in _item_starts(indent).finditer(text, line_end, end)]
    spans = zip(starts, [*starts[1:], end], strict=True)
    return [(a, b, _name(text[a:b], indent)) for a, b in spans]


def _unwanted_tables(text: str, start: int, end: int, names: set[str]) -> list[Span]:
    """The items of one source item's `tables:`, text[start:end], not named in `names`; none
    unless there is one `tables:` key, on a line of its own at the item's content indent."""
    first_line = text[start : _line_end(text, start, end)]
    content = _content_indent(first_line, len(first_line) - len(first_line.lstrip(" ")))
    if content is None or first_line[content:].startswith("tables"):
        return []  # `- tables:` is a key the scan below does not see: maybe one too many
    keys = list(_tables_keys(content).finditer(text, start, end))
    if len(keys) != 1:
        return []
    block = _block_end(content).search(text, keys[0].end(), end)
    items = _items(text, keys[0].end(), block.start() + 1 if block else end)
    return [(a, b) for a, b, name in items or () if name is not None and name not in names]


def _blank(raw: bytes, text: str, spans: list[Span]) -> bytes:
    """`text` with each span, in order and apart, turned into as many empty lines; `raw`
    itself when there are none."""
    if not spans:
        return raw
    kept: list[str] = []
    position = 0
    for start, end in spans:
        kept.append(text[position:start])
        kept.append("\n" * text.count("\n", start, end))  # the same lines, empty
        position = end
    kept.append(text[position:])
    return "".join(kept)[1:].encode("utf-8")


@functools.cache
def _odd_lines(indent: int) -> re.Pattern[str]:
    """A line of a block indented no deeper than its items that is not an item itself."""
    # Not deeper (most lines fail this first check alone, fast), not an item.
    odd = rf"(?! {{{indent + 1}}})(?! {{{indent}}}-(?: |$))"
    return re.compile(rf"\n{odd} *(?=[^ #\n])", re.MULTILINE)


@functools.cache
def _item_starts(indent: int) -> re.Pattern[str]:
    return re.compile(rf"\n {{{indent}}}-(?: |$)", re.MULTILINE)


@functools.cache
def _key_lines(indent: int) -> re.Pattern[str]:
    return re.compile(rf"\n {{{indent}}}(name[ \t]*:[^\n]*)")


@functools.cache
def _tables_keys(indent: int) -> re.Pattern[str]:
    return re.compile(rf"\n {{{indent}}}tables[ \t]*:(?=[ \t\n]|\Z)")


@functools.cache
def _block_end(indent: int) -> re.Pattern[str]:
    """The first line after a key's block: one indented no deeper than the key."""
    return re.compile(rf"\n(?! {{{indent + 1}}}) *(?=[^ #\n])")


def _line_end(text: str, start: int, end: int) -> int:
    """Where the line of text[start] ends: at its newline, or at `end`."""
    found = text.find("\n", start, end)
    return end if found < 0 else found


def _content_indent(entry: str, indent: int) -> int | None:
    """Where an item's content starts on its first line, after the dash; None if it is
    empty there."""
    after = entry[indent + 1 : _line_end(entry, 0, len(entry))]
    content = len(after) - len(after.lstrip(" "))
    return indent + 1 + content if content < len(after) else None


def _name(entry: str, indent: int) -> str | None:
    """The entry's one `name:`, folded: on its first line after the dash, or on a line at its
    content indent. None when there is none, more than one, or it is written in a way not
    read here (escapes, a block scalar), or the entry is a version in another file."""
    content = _content_indent(entry, indent)
    if content is None or "defined_in" in entry:
        return None
    keys = _key_lines(content).findall(entry)
    first_line = entry.split("\n", 1)[0]
    if first_line[content:].startswith("name"):
        keys.insert(0, first_line[content:])
    keys = [k for k in keys if k[4:].lstrip(" \t").startswith(":")]
    match = _NAME.match(keys[0]) if len(keys) == 1 else None
    return next(g for g in match.groups() if g).lower() if match else None
