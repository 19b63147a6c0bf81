"""Cutting a property file to the entries a comparison needs gives those entries exactly as
parsing the whole file does, on the same lines; any layout it does not know stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import changes_of
from gitrepo import GitRepo
from semverlint.yamlio import line_of, load_yaml
from semverlint.yamltrim import entry_texts, keep_entries

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
