"""Safe YAML loading: what dbt accepts is read, bombs and unsafe tags are refused quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from semverlint.yamlio import (
    MAX_ALIAS_EXPANSION,
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    LineDict,
    decode,
    line_of,
    load_yaml,
)


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + f"\nboom: *a{levels}\n"


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("a:\tb\n", {"a": "b"}),  # a tab separating tokens: libyaml (and so dbt) reads it
        ("a: b\t \n", {"a": "b"}),  # trailing tabs and spaces
        ("a: [1,\t2]\n", {"a": [1, 2]}),
        ("a:\n  - b\t# note\n", {"a": ["b"]}),
        ("a: b\r\nc:\r\n  - d\r\n", {"a": "b", "c": ["d"]}),  # CRLF
        ("\ufeffa: b\n", {"a": "b"}),  # BOM
        ("", None),
        ("# only a comment\n", None),
        ("on: yes\n1: 2\n", {"True": True, "1": 2}),  # YAML 1.1 keys read by their text
        ("d: 2024-01-01\n", {"d": "2024-01-01"}),  # dates stay text
        (
            "base: &b {x: 1, y: 1}\nm:\n  <<: *b\n  x: 2\n",
            {"base": {"x": 1, "y": 1}, "m": {"x": 2, "y": 1}},
        ),
    ],
)
def test_what_dbt_reads_is_read(text: str, data: object) -> None:
    result = load_yaml(text.encode())
    assert result.error is None
    assert result.data == data
    assert result.warnings == ()


def test_utf16_with_a_bom_and_latin1_are_read() -> None:
    assert load_yaml("a: café\n".encode("utf-16")).data == {"a": "café"}
    latin = load_yaml("a: café\n".encode("latin-1"))
    assert latin.data == {"a": "café"}
    assert latin.warnings == ("not UTF-8 (byte 7): read as Latin-1",)
    assert decode(b"\xef\xbb\xbfx") == "x"


def test_a_duplicate_key_keeps_the_last_value_and_warns() -> None:
    result = load_yaml(b"models:\n  - name: a\n    description: one\n    description: two\n")
    assert result.data == {"models": [{"name": "a", "description": "two"}]}
    assert result.warnings == (
        "line 4: key 'description' appears twice in one mapping; "
        "the last value is used (as in dbt)",
    )


def test_lines_are_remembered() -> None:
    data = load_yaml(b"version: 2\nmodels:\n  - name: a\n    columns: []\n").data
    assert isinstance(data, LineDict)
    assert data.line_of_key("models") == 2
    assert line_of(data["models"][0]) == 3
    assert line_of("x") is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a:\n\tb: c\n", "invalid YAML at line 2, column 1: a tab indents the line"),
        ("a: |\n\tx\n", "invalid YAML at line 2, column 1: a tab indents the line"),
        ("a: [1\n", "invalid YAML at line 2, column 1: "),
        ("a: 1\n---\nb: 2\n", "invalid YAML at line 2, column 1: but found another document"),
        ("a: *nowhere\n", "invalid YAML"),
        (
            "a: !!python/object/apply:os.system ['touch {canary}']\n",
            "could not determine a constructor",
        ),
        ("a: !!python/name:os.system\n", "could not determine a constructor"),
        ("a: !!python/object:collections.OrderedDict {}\n", "could not determine a constructor"),
        ("a: !custom x\n", "could not determine a constructor"),
        ("a: &a [*a]\n", "YAML alias *a refers to a node that contains it (line 1)"),
        ("a: &a {b: *a}\n", "YAML alias *a refers to a node that contains it (line 1)"),
        (billion_laughs(), f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION} characters"),
        ("[" * 200_000 + "]" * 200_000, f"YAML nested more than {MAX_YAML_DEPTH} deep (line 1)"),
        ("- " * 1_000_000 + "x\n", f"YAML nested more than {MAX_YAML_DEPTH} deep (line 1)"),
        ("{a: " * 200_000 + "1" + "}" * 200_000, f"YAML nested more than {MAX_YAML_DEPTH} deep"),
        (
            "".join(" " * i + "k:\n" for i in range(150)),
            f"YAML nested more than {MAX_YAML_DEPTH} deep",
        ),
    ],
)
def test_hostile_yaml_is_an_error_quickly(text: str, error: str, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    start = time.monotonic()
    result = load_yaml(text.replace("{canary}", str(canary)).encode())
    assert time.monotonic() - start < 2
    assert result.data is None
    assert result.error is not None
    assert error in result.error, result.error
    assert not canary.exists()


def test_reused_anchors_below_the_limit_are_fine() -> None:
    block = "cols: &cols\n" + "".join(f"  - name: c{i}\n    data_type: int\n" for i in range(20))
    models = "".join(f"  - name: m{i}\n    columns: *cols\n" for i in range(600))  # 600 aliases
    result = load_yaml((block + "models:\n" + models).encode())
    assert result.error is None
    assert len(result.data["models"]) == 600
    assert result.data["models"][599]["columns"][19]["name"] == "c19"


def test_a_shallow_billion_laughs_is_still_refused() -> None:
    # Few aliases, each naming a big scalar: counted by what they expand to, not by number.
    text = f"a: &a {'x' * 1_000_000}\nb: [*a, *a, *a, *a, *a]\n"
    assert "expand to more than" in (load_yaml(text.encode()).error or "")


def test_size_and_binary_limits() -> None:
    start = time.monotonic()
    big = load_yaml(b"a: " + b"x" * (MAX_YAML_BYTES + 1))
    assert big.error == "file is larger than 8 MiB"
    assert load_yaml(b"a: b\x00c").error == "file is binary, not YAML"
    assert time.monotonic() - start < 1


def test_the_quick_shape_check_agrees_with_the_measuring_pass() -> None:
    from semverlint.yamlio import _shape_problem, _surely_shallow

    deep_block = "".join(f"{' ' * i}k{i}:\n" for i in range(120)).encode()
    deep_flow = b"a: " + b"[" * 150 + b"]" * 150 + b"\n"
    plain = b"models:\n  - name: a\n    columns:\n      - name: id\n"
    assert _surely_shallow(plain)
    for raw in (deep_block, deep_flow, b"a: &x [1]\nb: *x\n"):
        assert not _surely_shallow(raw)
    assert _shape_problem(deep_block.decode()) is not None
    assert _shape_problem(deep_flow.decode()) is not None
    assert load_yaml(deep_block).error is not None
