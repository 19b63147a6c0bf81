"""Source tables of unchanged property files are parsed only when a model reads them, and the
answer is the one parsing every file gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clirun import changes_of
from gitrepo import GitRepo
from semverlint.loaders.dbt import Sources, collect_properties
from semverlint.yamlio import YamlResult, load_yaml

FILES = {
    "models/a/_sources.yml": b"sources:\n  - name: raw\n    tables:\n      - name: orders\n"
    b"        columns: [{name: id}]\n",
    "models/b/_sources.yml": b"sources:\n  - name: raw\n    tables:\n      - name: orders\n"
    b"        columns: [{name: id}, {name: total}]\n      - name: Items\n",
    "models/c/_sources.yml": b"sources:\n  - name: crm\n    tables:\n      - name: people\n",
}


def _entries(sources: Sources) -> dict[tuple[str, str], tuple[str, object]]:
    return {key: (entry.path, entry.data) for key, entry in sources.items()}


def test_deferred_files_give_what_parsing_everything_gives() -> None:
    eager = collect_properties(FILES).sources
    for first in FILES:  # one file parsed up front, the others kept for later
        deferred = {p: raw for p, raw in FILES.items() if p != first}
        lazy = collect_properties({first: FILES[first]}, sources_only=deferred).sources
        assert _entries(lazy) == _entries(eager)
        assert lazy.fingerprint() != eager.fingerprint()  # different files, said so
    assert eager[("raw", "orders")].path == "models/b/_sources.yml"  # the last file wins
    assert ("raw", "items") in eager  # names fold


def test_a_lookup_parses_only_the_files_that_can_declare_the_table() -> None:
    parsed: list[bytes] = []

    def parse(raw: bytes) -> YamlResult:
        parsed.append(raw)
        return load_yaml(raw)

    sources = Sources({}, FILES, parse)
    assert sources[("crm", "people")].path == "models/c/_sources.yml"
    assert parsed == [FILES["models/c/_sources.yml"]]
    assert sources.get(("crm", "nobody")) is None
    assert len(parsed) == 1


# Staging folders' files of several tables each; `orders` of `raw` is declared in two.
STAGING = {
    f"models/{folder}/_sources.yml": (
        f"sources:\n  - name: {source}\n    tables:\n"
        + "".join(
            f"      - name: {table}\n        description: {table} from {folder}\n"
            f"        columns:\n          - name: id\n          - name: {folder}_id\n"
            for table in tables
        )
    ).encode()
    for folder, source, tables in (
        ("a", "raw", ("orders", "items", "people", "stores")),
        ("b", "raw", ("payments", "orders", "refunds")),
        ("c", "crm", ("people", "accounts", "leads")),
    )
}


def _recording(parsed: list[bytes]) -> Callable[[bytes], YamlResult]:
    def parse(raw: bytes) -> YamlResult:
        parsed.append(raw)
        return load_yaml(raw)

    return parse


def test_lookups_read_files_cut_to_the_tables_asked_and_agree_with_the_whole() -> None:
    eager = collect_properties(STAGING).sources
    parsed: list[bytes] = []
    lazy = Sources({}, STAGING, _recording(parsed))
    for key in [("raw", "orders"), ("crm", "leads"), ("raw", "refunds"), ("crm", "nothing")]:
        assert lazy.get(key) == eager.get(key)
        if key in eager:
            assert lazy[key].data.key_lines == eager[key].data.key_lines
            columns = [c.line for c in lazy[key].data["columns"]]
            assert columns == [c.line for c in eager[key].data["columns"]]
    assert lazy[("raw", "orders")].path == "models/b/_sources.yml"  # the last file wins
    assert len(parsed) == 4  # a and c once, b cut to orders, then to orders and refunds
    assert not set(parsed) & set(STAGING.values())  # every file read cut
    assert _entries(lazy) == _entries(eager)  # iterating reads every file whole
    assert set(STAGING.values()) <= set(parsed)


def test_another_table_of_a_file_parses_it_again_cut_to_both_then_whole() -> None:
    parsed: list[bytes] = []
    sources = Sources({}, STAGING, _recording(parsed))
    whole = collect_properties(STAGING).sources
    path = "models/a/_sources.yml"
    tables = [b"name: orders", b"name: items", b"name: people", b"name: stores"]

    assert sources[("raw", "items")] == whole[("raw", "items")]
    assert [[t in raw for t in tables] for raw in parsed] == [[False, True, False, False]]
    assert sources[("raw", "items")] == whole[("raw", "items")]  # answered, not parsed again
    assert sources[("raw", "people")] == whole[("raw", "people")]
    assert [t in parsed[-1] for t in tables] == [False, True, True, False]  # the union
    assert len(parsed) == 2
    assert sources[("raw", "stores")] == whole[("raw", "stores")]
    assert parsed[-1] == STAGING[path]  # a third table: the file whole
    assert sources[("raw", "items")].path == path
    assert len(parsed) == 3


def test_equal_inputs_have_equal_fingerprints_without_parsing() -> None:
    def refuse(raw: bytes) -> YamlResult:
        raise AssertionError("parsed")

    one, two = Sources({}, FILES, refuse), Sources({}, dict(reversed(FILES.items())), refuse)
    assert one.fingerprint() == two.fingerprint()
    changed = {**FILES, "models/c/_sources.yml": FILES["models/c/_sources.yml"] + b"\n"}
    assert Sources({}, changed, refuse).fingerprint() != one.fingerprint()


def test_a_star_over_a_source_of_an_unchanged_file_is_expanded(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.write("dbt_project.yml", "name: shop\nversion: 1.0.0\n")
    for path, raw in FILES.items():
        git_repo.write(path, raw.decode())
    git_repo.write("models/x/everything.sql", "select * from {{ source('raw', 'orders') }}\n")
    git_repo.write("models/x/_models.yml", "models:\n  - name: everything\n")
    git_repo.commit("base")
    git_repo.write(
        "models/x/everything.sql",
        "select * exclude (total) from {{ source('raw', 'orders') }}\n",
    )
    changes = changes_of(git_repo.path, cache=tmp_path / "cache")
    assert ("column-removed", "everything", "total") in changes
