"""Source tables of unchanged property files are parsed only when a model reads them, and the
answer is the one parsing every file gives."""

from __future__ import annotations

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
