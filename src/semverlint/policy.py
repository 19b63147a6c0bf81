"""The verdict on one project: required bump, suggested version, and whether the declared one
suffices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from semverlint.bump import (
    Bump,
    declared_bump,
    effective_bump,
    max_bump,
    parse_version,
    rank,
    suggest,
)
from semverlint.classify import Change


@dataclass(frozen=True)
class Verdict:
    """What the changes require of the version, and whether the declared one does it."""

    required_bump: Bump
    effective_bump: Bump
    declared_bump: Bump | None
    suggested_version: str | None
    ok: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """How strictly a check judges the version."""

    fail_on: Bump | None = None
    strict: bool = False


def decide(
    changes: Iterable[Change],
    base_version: str | None,
    head_version: str | None,
    policy: Policy,
    unanalysed: tuple[str, ...] = (),
    version_reasons: tuple[str, ...] = (),
) -> Verdict:
    counted = [c for c in changes if c.counts]
    required = max_bump([c.bump for c in counted])
    base = parse_version(base_version)
    head = parse_version(head_version)
    reasons: list[str] = list(version_reasons)
    effective: Bump = effective_bump(required, base) if base else required
    suggested = str(suggest(base, required)) if base else (str(head) if head else None)
    declared: Bump | None = None
    if base is not None and head is not None:
        declared = declared_bump(base, head)
        if declared is None:
            reasons.append(f"the version went backwards ({base} -> {head})")
        elif rank(declared) < rank(effective):
            reasons.append(
                f"the changes need a {effective} bump "
                f"but the version went {base} -> {head} ({declared}); "
                f"release {suggested}"
            )
    elif base is not None and head is None and required != "none":
        reasons.append(
            f"no readable version at head ({head_version!r}); the changes need {suggested}"
            if head_version
            else f"the version was removed; the changes need {suggested}"
        )
    if policy.fail_on is not None:
        hits = [c for c in counted if rank(c.bump) >= rank(policy.fail_on)]
        if hits:
            reasons.append(f"{len(hits)} change(s) at or above --fail-on {policy.fail_on}")
    if policy.strict and unanalysed:
        reasons.append(
            f"--strict: {len(unanalysed)} model(s) could not be analysed: {', '.join(unanalysed)}"
        )
    return Verdict(required, effective, declared, suggested, not reasons, tuple(reasons))
