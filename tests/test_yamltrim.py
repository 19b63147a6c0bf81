"""Cutting a property file to the entries a comparison needs gives those entries exactly as
parsing the whole file does, on the same lines; any layout it does not know stays whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clirun import changes_of
from gitrepo import GitRepo
from semverlint.yamlio import LineDict, line_of, load_yaml
from semverlint.yamltrim import entry_texts, keep_entries, keep_tables

FILE = b"""version: 2

models:
  - name: orders   # the mart
    description: One row per order.
    columns:
      - name: id
        data_tests: [unique]
      - name: total
  # a comment between entries
  - name: Customers
    config:
      contract: {enforced: true}
  - description: named on a later line
    name: 'people'
  -   name: "items"
      columns:
        - name: sku

snapshots:
  - name: orders_snapshot

sources:
  - name: raw
    tables:
      - name: orders
"""


def _models(raw: bytes) -> dict[str, tuple[object, int | None]]:
    data = load_yaml(raw).data
    sections = [*(data.get("models") or []), *(data.get("snapshots") or [])]
    return {m["name"]: (m, line_of(m)) for m in sections}


@pytest.mark.parametrize(
    "names",
    [
        {"orders"},
        {"customers"},
        {"people", "items"},
        {"orders_snapshot"},
        set(),
        {"orders", "customers", "people", "items", "orders_snapshot"},
    ],
)
def test_kept_entries_parse_as_in_the_whole_file(names: set[str]) -> None:
    cut = keep_entries(FILE, frozenset(names))
    whole = _models(FILE)
    assert _models(cut) == {n: v for n, v in whole.items() if n.lower() in names}
    assert cut.count(b"\n") == FILE.count(b"\n")
    assert load_yaml(cut).data["sources"] == load_yaml(FILE).data["sources"]


@pytest.mark.parametrize(
    "raw",
    [
        b"models:\n  - &base\n    name: a\n  - <<: *base\n    name: b\n",  # anchors and aliases
        b"models: [{name: a}, {name: b}]\n",  # flow style
        b"models:\n  - name: a\n---\nmodels:\n  - name: b\n",  # two documents
        b"models:\n  - name: a\n - name: b\n",  # an odd indent
        b"models:\n\t- name: a\n",  # a tab
        b"\xff\xfemodels:\n",  # not UTF-8
        b"models: x\n  - name: a\n",  # a value and a block: the whole file does not parse
        # A quoted scalar or a flow collection over several lines: what looks like an entry
        # on the next line is text in it, or a line that ends it ends the section too.
        b"models:\n  - name: a\n    description: 'x\n  - name: b'\n  - name: c\n",
        b'models:\n  - name: a\n    description: "x\n  - name: b"\n  - name: c\n',
        b"models:\n  - name: a\n    tags: [x,\nc: y]\n  - name: b\n",
        b"models:\n  - name: a\n    meta: {x: [1, 2],\n  y: 3}\n  - name: b\n",
        b"models:\n  - name: a\n    tags: [x, 'y]' # ]\n  - name: b\n",
    ],
)
def test_layouts_it_does_not_know_stay_whole(raw: bytes) -> None:
    assert keep_entries(raw, frozenset()) == raw


@pytest.mark.parametrize(
    "entry",
    [
        b'  - name: "b\\x61d"\n',  # an escape
        b"  - name: >-\n      bad\n",  # a block scalar
        b"  - columns: []\n",  # no name
        b"  - name: bad\n    name: twice\n",  # a name twice
        b"  - name: bad_v2\n    versions:\n      - v: 2\n        defined_in: elsewhere\n",
    ],
)
def test_an_entry_whose_name_is_not_surely_read_is_kept(entry: bytes) -> None:
    raw = b"models:\n  - name: good\n" + entry
    assert keep_entries(raw, frozenset({"good"})) == raw


def test_entry_texts_name_each_entry_or_refuse() -> None:
    texts = entry_texts(FILE)
    assert texts is not None
    assert sorted(texts) == ["customers", "items", "orders", "orders_snapshot", "people"]
    assert texts["people"].startswith("  - description: named on a later line")
    assert entry_texts(b"models:\n  - name: a\n  - name: A\n") is None  # a name twice
    assert entry_texts(b"models:\n  - columns: []\n") is None  # no name


def test_an_edited_entry_in_a_file_of_many_is_found_and_only_it(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    models = "models:\n" + "".join(
        f"  - name: m{i}\n    columns:\n      - name: id\n        data_tests: [not_null]\n"
        for i in range(4)
    )
    git_repo.write("dbt_project.yml", "name: shop\nversion: 1.0.0\n")
    git_repo.write("models/_models.yml", models)
    for i in range(4):
        git_repo.write(f"models/m{i}.sql", "select 1 as id\n")
    git_repo.commit("base")
    edited = models.replace(
        "  - name: m2\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
        "  - name: m2\n    columns:\n      - name: id\n",
    ).replace("  - name: m1\n", "  - name: m1  # a comment changes no entry\n")
    git_repo.write("models/_models.yml", edited)
    changes = changes_of(git_repo.path, cache=tmp_path / "cache")
    assert changes == [("not-null-removed", "m2", "id")]


SOURCES = b"""version: 2

models:
  - name: stg_orders

sources:
  - name: raw   # the loader's schema
    schema: raw_data
    description: |
      Replicated nightly.
        - name: not_a_table
    tables:
      - name: orders
        description: One row per order.
        columns:
          - name: id
            data_tests: [unique, not_null]
          - name: total
      # a comment between tables
      - name: Customers
        loaded_at_field: _loaded_at
      - description: named on a later line
        name: 'people'
      -   name: "items"
          columns:
            - name: sku
  - name: 'crm'
    tables:
      - name: people
      - name: orders
        meta: {owner: sales}
  - name: RAW
    tables:
      - name: orders
        description: declared again, later in the file, so this one is read
"""


def _lines(value: Any) -> list[tuple[int, dict[str, int]]]:
    """Where every mapping in a parsed value starts, and each of its keys, in order."""
    if isinstance(value, list):
        return [line for item in value for line in _lines(item)]
    if not isinstance(value, LineDict):
        return []
    return [(value.line, value.key_lines), *(line for v in value.values() for line in _lines(v))]


def _tables(raw: bytes) -> dict[tuple[str, str], tuple[Any, list[tuple[int, dict[str, int]]]]]:
    """Each table by folded (source, table), as parsed, with its lines: the last one wins."""
    found = {}
    for source in load_yaml(raw).data.get("sources") or []:
        for table in source.get("tables") or []:
            key = (source["name"].lower(), table["name"].lower())
            found[key] = (table, _lines(table))
    return found


def _assert_same_wanted(raw: bytes, cut: bytes, wanted: frozenset[tuple[str, str]]) -> None:
    whole, kept = _tables(raw), _tables(cut)
    assert {k: kept.get(k) for k in wanted} == {k: whole.get(k) for k in wanted}
    assert cut.count(b"\n") == raw.count(b"\n")


@pytest.mark.parametrize(
    ("wanted", "sources_left"),
    [
        ({("raw", "orders")}, ["raw", "RAW"]),
        ({("raw", "customers")}, ["raw", "RAW"]),  # names fold
        ({("raw", "people"), ("crm", "people")}, ["raw", "crm", "RAW"]),
        ({("raw", "items")}, ["raw", "RAW"]),
        ({("crm", "orders")}, ["crm"]),
        ({("nobody", "orders")}, []),
        (set(), []),
    ],
)
def test_kept_tables_parse_as_in_the_whole_file(
    wanted: set[tuple[str, str]], sources_left: list[str]
) -> None:
    cut = keep_tables(SOURCES, frozenset(wanted))
    _assert_same_wanted(SOURCES, cut, frozenset(wanted))
    data = load_yaml(cut).data
    assert [s["name"] for s in data["sources"] or []] == sources_left
    assert data["models"] == [{"name": "stg_orders"}]  # other sections stay
    kept = {
        (s["name"].lower(), t["name"].lower())
        for s in data["sources"] or []
        for t in s["tables"] or []
    }
    assert kept == set(wanted) & set(_tables(SOURCES))  # the rest of a kept source is cut


def test_a_cut_table_keeps_its_source_and_its_lines() -> None:
    cut = keep_tables(SOURCES, frozenset({("raw", "items")}))
    (raw, *_) = load_yaml(cut).data["sources"]
    whole = load_yaml(SOURCES).data["sources"][0]
    assert {k: v for k, v in raw.items() if k != "tables"} == {
        k: v for k, v in whole.items() if k != "tables"
    }
    assert (raw.line, raw.key_lines) == (whole.line, whole.key_lines)
    assert raw["tables"] == [whole["tables"][3]]
    assert _lines(raw["tables"]) == _lines(whole["tables"][3])


@pytest.mark.parametrize(
    "table",
    [
        b'      - name: "b\\x61d"\n',  # an escape
        b"      - name: >-\n          bad\n",  # a block scalar
        b"      - columns: []\n",  # no name
        b"      - name: bad\n        name: twice\n",  # a name twice
    ],
)
def test_a_table_whose_name_is_not_surely_read_is_kept(table: bytes) -> None:
    raw = b"sources:\n  - name: raw\n    tables:\n      - name: good\n" + table
    raw += b"      - name: other\n"
    cut = keep_tables(raw, frozenset({("raw", "good")}))
    assert cut == raw.replace(b"      - name: other\n", b"\n")


def test_a_source_whose_name_is_not_surely_read_keeps_every_table_wanted_anywhere() -> None:
    raw = (
        b'sources:\n  - name: "r\\x61w"\n    tables:\n      - name: orders\n'
        b"      - name: people\n      - name: items\n"
        b"  - name: crm\n    tables:\n      - name: people\n"
    )
    wanted = frozenset({("raw", "orders"), ("crm", "people")})
    cut = keep_tables(raw, wanted)
    _assert_same_wanted(raw, cut, wanted)
    assert [t["name"] for t in load_yaml(cut).data["sources"][0]["tables"]] == ["orders", "people"]


@pytest.mark.parametrize(
    "source",
    [
        b"  - name: raw\n    tables:\n    - name: orders\n    - name: other\n",  # at key indent
        b"  - name: raw\n    tables: [{name: orders}, {name: other}]\n",  # flow style
        b"  - name: raw\n    tables:\n      - name: orders\n     - name: other\n",  # not YAML
        # `tables:` twice (the last one is read), or on the dash line, where items sit deeper
        b"  - name: raw\n    tables:\n      - name: other\n    tables:\n      - name: orders\n",
        b"  - tables:\n      - name: a\n    name: raw\n    tables:\n      - name: orders\n"
        b"      - name: other\n",
    ],
)
def test_a_source_whose_tables_are_not_plain_is_kept_whole(source: bytes) -> None:
    raw = b"sources:\n" + source + b"  - name: crm\n    tables:\n      - name: people\n"
    cut = keep_tables(raw, frozenset({("raw", "orders")}))
    assert cut == b"sources:\n" + source + b"\n\n\n"  # crm is cut, raw kept as it is
    if load_yaml(raw).error is None:
        _assert_same_wanted(raw, cut, frozenset({("raw", "orders")}))


@pytest.mark.parametrize(
    "raw",
    [
        b"sources:\n  - &raw\n    name: raw\n    tables:\n      - name: a\n  - <<: *raw\n",
        b"sources: [{name: raw, tables: [{name: a}, {name: b}]}]\n",  # flow style
        b"sources:\n  - name: raw\n    tables:\n\t- name: a\n",  # a tab
        b"sources:\n  - name: raw\n---\nsources:\n  - name: crm\n",  # two documents
        b"sources:\n- name: raw\n  tables:\n    - name: a\n- name: crm\n",  # items at key indent
        b"sources:\n  - name: raw\n - name: crm\n",  # an odd indent
        b"sources:\n  - name: raw\n    description: 'x\n  - name: crm'\n  - name: crm\n",
        b"sources:\n  - name: crm\n    tables:\n      - name: a\x00\n",  # the loader refuses it
    ],
)
def test_source_layouts_it_does_not_know_stay_whole(raw: bytes) -> None:
    assert keep_tables(raw, frozenset({("raw", "a")})) is raw


def test_an_error_in_a_part_cut_away_goes_unseen() -> None:
    """Documented in the module: what is cut is not parsed, so a file that does not parse
    whole gives its wanted tables once cut (dbt refuses such a file)."""
    raw = b"sources:\n  - name: raw\n    tables:\n      - name: a\n      - name: b\n"
    broken = raw + b"        description: a: b\n"
    assert load_yaml(broken).error is not None
    cut = keep_tables(broken, frozenset({("raw", "a")}))
    assert _tables(cut) == _tables(keep_tables(raw, frozenset({("raw", "a")})))


_NAMES = ("orders", "Orders", "people", "items")


@st.composite
def _property_files(draw: st.DrawFn) -> bytes:
    """Plain `sources:` in the layouts keep_tables cuts: names plain or quoted, on the dash
    line or a later one, comments between items, a source or table declared twice."""
    quote = st.sampled_from(["{}", "'{}'", '"{}"'])
    lines = ["version: 2", "", "sources:"]
    for source in draw(st.lists(st.sampled_from(["raw", "RAW", "crm"]), max_size=4)):
        lines.append(f"  - name: {draw(quote).format(source)}")
        if draw(st.booleans()):
            lines.append("    description: |\n      Loaded nightly.\n        - name: orders")
        lines.append("    tables:")
        for table in draw(st.lists(st.sampled_from(_NAMES), max_size=4)):
            name = f"name: {draw(quote).format(table)}"
            if draw(st.booleans()):
                lines.append(f"      - {name}")
            else:
                lines.append(f"      - description: a table\n        {name}")
            if draw(st.booleans()):
                lines.append("        columns:\n          - name: id\n            data_type: int")
            if draw(st.booleans()):
                lines.append("      # a comment")
    return ("\n".join(lines) + "\n").encode()


_KEYS = [(s, t.lower()) for s in ("raw", "crm", "nobody") for t in _NAMES]


@settings(max_examples=200, deadline=None)
@given(raw=_property_files(), wanted=st.frozensets(st.sampled_from(_KEYS)))
def test_a_cut_file_agrees_with_the_whole_on_every_wanted_table(
    raw: bytes, wanted: frozenset[tuple[str, str]]
) -> None:
    cut = keep_tables(raw, wanted)
    _assert_same_wanted(raw, cut, wanted)
    assert len(_tables(cut)) <= len(_tables(raw))
