"""How much of each unchanged property file a comparison parses: the fast searches must
find every file the reference scan (every `name:` read and folded) finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from semverlint.cache import DirectoryCache
from semverlint.loaders.dbtsql import _FEW_NAMES, _naming, _need

MODELS = b"version: 2\nmodels:\n  - name: %s\n    columns:\n      - name: id\n"

TEXTS = {
    "named": MODELS % b"orders",
    "named in capitals": MODELS % b"ORDERS",
    "named in quotes": MODELS % b'"Orders"',
    "named with a comment": MODELS % b"orders  # the orders",
    "a longer name": MODELS % b"orders_v2",
    "a name inside another": MODELS % b"all_orders",
    "not ASCII": (MODELS % b"orders").replace(b"version: 2", "# café\nversion: 2".encode()),
    "a name not ASCII": MODELS % "commandes_été".encode(),
    "exposures first": b"exposures:\n  - name: weekly\n",
    "exposures later": b"version: 2\n\nexposures:\n  - name: weekly\n",
    "metrics indented": b"version: 2\nmodels:\n  - name: x\n    metrics:\n      - a\n",
    "sources first": b"sources:\n  - name: raw\n    tables:\n      - name: t\n",
    "sources naming it": b"sources:\n  - name: raw\n    tables:\n      - name: orders\n",
    "sources later": b"version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n",
    "sources in a description": b"version: 2\nmodels:\n  - name: x\n    description: sources: y\n",
    "nothing": b"version: 2\nmodels:\n  - name: customers\n",
    "mentioned, not named": b"version: 2\nmodels:\n  - name: x\n    description: orders\n",
}
# More names than are looked for one by one before the pattern runs.
FIVE = {"orders", "a", "b", "c", "d"}


@pytest.mark.parametrize("names", [{"orders"}, {"commandes_été"}, {"orders_v2", "x"}, FIVE, set()])
@pytest.mark.parametrize("label", sorted(TEXTS))
def test_the_pattern_for_a_few_names_finds_what_reading_every_name_finds(
    label: str, names: set[str]
) -> None:
    raw, wanted = TEXTS[label], frozenset(names)
    assert _need(raw, wanted, _naming(wanted)) == _need(raw, wanted, None)


@pytest.mark.parametrize(
    ("label", "need"),
    [
        ("named", "all"),
        ("named in capitals", "all"),
        ("named in quotes", "all"),
        ("named with a comment", "all"),
        ("not ASCII", "all"),
        ("a longer name", "none"),
        ("a name inside another", "none"),
        ("nothing", "none"),
        ("mentioned, not named", "none"),
        ("exposures first", "all"),
        ("exposures later", "all"),
        ("metrics indented", "none"),
        ("sources first", "sources"),
        ("sources naming it", "all"),  # a table named orders: cut to the entries asked for
        ("sources later", "sources"),
        ("sources in a description", "none"),
    ],
)
@pytest.mark.parametrize("names", [{"orders"}, FIVE])
def test_what_a_file_is_parsed_for(label: str, need: str, names: set[str]) -> None:
    wanted = frozenset(names)
    assert _need(TEXTS[label], wanted, _naming(wanted))[0] == need


def test_many_names_are_read_one_by_one() -> None:
    many = frozenset(f"model_{i}" for i in range(_FEW_NAMES + 1))
    assert _naming(many) is None
    assert _need(MODELS % b"Model_7", many, None)[0] == "all"
    assert _need(MODELS % b"model_7_b", many, None)[0] == "none"


def test_a_cold_cache_misses_without_writing_and_later_runs_read_what_was_put(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cache"
    first = DirectoryCache(root)
    assert first.get("ab" + "0" * 62) is None
    assert not root.exists()  # looking wrote nothing
    first.put("ab" + "0" * 62, {"x": 1})
    first.close()
    assert DirectoryCache(root).get("ab" + "0" * 62) == {"x": 1}
    assert DirectoryCache(root).get("ab" + "1" * 62) is None
