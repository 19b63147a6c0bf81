"""Bumps and semantic versions: ordering, parsing, applying a bump, the 0.x convention."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Bump = Literal["none", "patch", "minor", "major"]
BUMPS: tuple[Bump, ...] = ("none", "patch", "minor", "major")
_RANK: dict[str, int] = {b: i for i, b in enumerate(BUMPS)}

_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


def rank(bump: str) -> int:
    return _RANK[bump]


def max_bump(bumps: list[Bump] | tuple[Bump, ...]) -> Bump:
    return max(bumps, key=rank, default="none")


def min_bump(a: Bump, b: Bump) -> Bump:
    return a if rank(a) <= rank(b) else b


@dataclass(frozen=True, order=True)
class Version:
    """A semantic version, parsed."""

    major: int
    minor: int
    patch: int
    pre: str | None = None

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.pre}" if self.pre else core

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)


def parse_version(text: object) -> Version | None:
    """A declared version, leniently: dbt accepts `1.0` and YAML may hand us a float."""
    if text is None or isinstance(text, bool):
        return None
    match = _VERSION.match(str(text).strip())
    if not match:
        return None
    return Version(
        int(match["major"]), int(match["minor"] or 0), int(match["patch"] or 0), match["pre"]
    )


def effective_bump(required: Bump, base: Version) -> Bump:
    """Below 1.0.0 a breaking change needs a minor bump and anything else a patch (cargo, npm)."""
    if base.major > 0 or required == "none":
        return required
    return "minor" if required == "major" else "patch"


def apply_bump(base: Version, bump: Bump) -> Version:
    if bump == "major":
        return Version(base.major + 1, 0, 0)
    if bump == "minor":
        return Version(base.major, base.minor + 1, 0)
    if bump == "patch":
        return Version(base.major, base.minor, base.patch + 1)
    return base


def declared_bump(base: Version, head: Version) -> Bump | None:
    """The bump the author declared by editing the version; None when it went backwards."""
    if head.release < base.release:
        return None
    if head.major > base.major:
        return "major"
    if head.minor > base.minor:
        return "minor"
    if head.patch > base.patch:
        return "patch"
    return "none"


def suggest(base: Version, required: Bump) -> Version:
    return apply_bump(base, effective_bump(required, base))
