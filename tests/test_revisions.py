"""Tests for semverlint.revisions: every RANGE form, and text that must never reach git."""

from __future__ import annotations

import pytest

from semverlint.errors import UsageError
from semverlint.revisions import RevisionRange, parse_range, revision_problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, RevisionRange("HEAD", None, "worktree", False, "")),
        ("", RevisionRange("HEAD", None, "worktree", False, "")),
        ("main", RevisionRange("main", None, "worktree", False, "main")),
        ("main..feature", RevisionRange("main", "feature", "commit", False, "main..feature")),
        ("main...feature", RevisionRange("main", "feature", "commit", True, "main...feature")),
        ("main..", RevisionRange("main", "HEAD", "commit", False, "main..")),
        ("..feature", RevisionRange("HEAD", "feature", "commit", False, "..feature")),
        ("main...", RevisionRange("main", "HEAD", "commit", True, "main...")),
        ("...feature", RevisionRange("HEAD", "feature", "commit", True, "...feature")),
        (
            "origin/main...HEAD",
            RevisionRange("origin/main", "HEAD", "commit", True, "origin/main...HEAD"),
        ),
        ("v1.2.0..v1.3.0", RevisionRange("v1.2.0", "v1.3.0", "commit", False, "v1.2.0..v1.3.0")),
    ],
)
def test_range_forms(text: str | None, expected: RevisionRange) -> None:
    assert parse_range(text) == expected


def test_staged_compares_head_with_the_index() -> None:
    assert parse_range(None, staged=True) == RevisionRange("HEAD", None, "index", False, "")
    assert parse_range("", staged=True).head_kind == "index"


@pytest.mark.parametrize("text", ["main", "main..HEAD", "HEAD"])
def test_staged_with_a_range_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="cannot be combined") as caught:
        parse_range(text, staged=True)
    assert text in caught.value.message


@pytest.mark.parametrize(
    "revision",
    [
        "HEAD",
        "@",
        "main",
        "origin/main",
        "refs/heads/main",
        "feature/x-1_2",
        "v1.2.0",
        "HEAD~2",
        "HEAD~",
        "main^",
        "main^2",
        "HEAD^^~3",
        "main@{1}",
        "@{u}",
        "@{upstream}",
        "@{-1}",
        "main@{2.days.ago}",
        "HEAD@{0}~1",
        "v1.0^{commit}",
        "main^{tree}",  # allowed here; the snapshot reader says it names a tree
        "0123456789abcdef0123456789abcdef01234567",
        "abc1234",
        "user@host",
        "naïve-branch",
    ],
)
def test_accepted_revisions(revision: str) -> None:
    assert revision_problem(revision) is None
    assert parse_range(revision).base == revision
    assert parse_range(f"{revision}..{revision}").head == revision


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-n", "cannot start with '-'"),
        ("--output=/tmp/x", "cannot start with '-'"),
        ("main..--upload-pack=evil", "cannot start with '-'"),
        ("-x...main", "cannot start with '-'"),
        ("main feature", "whitespace"),
        ("main\tfeature", "whitespace"),
        ("main\nfeature", "whitespace"),
        ("main\x00", "control"),
        ("main\x1b[31m", "control"),
        ("HEAD:models/orders.sql", "names a file"),
        (":models/orders.sql", "names a file"),
        (":/fix typo", "whitespace"),
        (":/fix", "names a file"),
        ("main..feature..x", "only one"),
        ("a...b...c", "only one"),
        ("a....b", "starts with '.'"),
        ("..", "names no revision"),
        ("...", "names no revision"),
        ("main^{/fix}", "not a branch"),
        ("^main", "not a branch"),
        ("main^!", "not a branch"),
        ("main^@", "not a branch"),
        ("~2", "names no branch"),
        ("main*", "not a branch"),
        ("ma?n", "not a branch"),
        ("ma[in", "not a branch"),
        ("ma\\in", "not a branch"),
        ("main@{", "not a branch"),
        ("main{x}", "not a branch"),
        ("feature//x", "empty"),
        ("/main", "empty"),
        ("main/", "empty"),
        ("feature/.hidden", "starts with '.'"),
        (".main", "starts with '.'"),
        ("main.lock", "'.lock'"),
        ("main.", "end with '.'"),
        ("main@{a b}", "whitespace"),
    ],
)
def test_rejected_text_never_reaches_git(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_range(text)
    error = caught.value
    assert problem in error.message
    assert error.hint is not None
    assert "A..B" in error.hint


def test_message_names_the_bad_side_and_the_whole_range() -> None:
    with pytest.raises(UsageError) as caught:
        parse_range("main..-evil")
    assert caught.value.message.startswith("bad revision '-evil' in 'main..-evil'")


def test_empty_revision_is_a_problem() -> None:
    assert revision_problem("") == "it is empty"
