"""Interfaces as JSON and back, for the cache: the frozen dataclasses of interface.py only.

Each dataclass becomes a list of its field values in declaration order, which is a third
the size of named fields and decodes faster. Decoding follows the type hints, so a tuple
comes back a tuple (JSON has only lists) and a nested dataclass comes back itself.

Columns are most of an interface, and the two sides of a comparison share nearly all of
them: a document writes each distinct column (and each distinct tuple of text pairs:
lineage, logic fragments) once, in a table, and refers to it by its place there.
Decoded, equal values are then one object, which the differ compares at once. An entry
of another shape is never read: cache keys carry the tool version and a format number.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from semverlint.interface import Column

Code = Callable[[Any], Any]


# Lineage, logic fragments and foreign refs: pairs of text, often the same on both sides.
Pairs = tuple[tuple[str, str], ...]


def to_json(value: Any) -> dict[str, Any]:
    """A document for `value`: dataclasses (and tuples of them) as lists of JSON values,
    each distinct column and each distinct tuple of pairs written once, in a table."""
    pairs: dict[Any, int] = {}
    columns: dict[Any, int] = {}
    body = _Writer({Pairs: pairs, Column: columns}).encode(value)
    column = _Writer({Pairs: pairs}).encoder(Column)  # a column's lineage: pairs, too
    column_table = [column(c) for c in columns]
    return {"pairs": list(pairs), "columns": column_table, "value": body}


def from_json(hint: Any, document: dict[str, Any]) -> Any:
    """The value of type `hint` that `to_json` wrote as `document`."""
    pairs = [tuple(map(tuple, p)) for p in document["pairs"]]
    column = _Reader({Pairs: pairs}).decoder(Column)
    columns = [column(c) for c in document["columns"]]
    return _Reader({Pairs: pairs, Column: columns}).decoder(hint)(document["value"])


def _same(data: Any) -> Any:
    return data


@functools.cache
def _fields(cls: Any) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _optional(hint: Any) -> Any | None:
    """X for `X | None`, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return None


def _homogeneous(hint: Any) -> Any | None:
    """X for `tuple[X, ...]`, else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _is_dataclass(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint) and isinstance(hint, type)


class _Writer:
    """Encoders for one document, worked out once per type: a hundred thousand columns cost
    one call each, not one per field. A value of a type with a table is written as its
    place in that table."""

    def __init__(self, tables: dict[Any, dict[Any, int]]) -> None:
        self._tables = tables
        self._codes: dict[Any, Code] = {}

    def encode(self, value: Any) -> Any:
        if _is_dataclass(type(value)):
            return self.encoder(type(value))(value)
        if isinstance(value, tuple | list):
            return [self.encode(item) for item in value]
        return value

    def encoder(self, hint: Any) -> Code:
        if hint not in self._codes:
            self._codes[hint] = self._make(hint)
        return self._codes[hint]

    def _make(self, hint: Any) -> Code:
        if hint in self._tables:
            table = self._tables[hint]
            return lambda value: table.setdefault(value, len(table))
        if _is_dataclass(hint):
            fields = [(name, self.encoder(h)) for name, h in _fields(hint)]
            if all(code is _same for _, code in fields):
                names = [name for name, _ in fields]
                return lambda value: [getattr(value, name) for name in names]
            return lambda value: [code(getattr(value, name)) for name, code in fields]
        if (item := _homogeneous(hint)) is not None:
            code = self.encoder(item)
            # json writes a tuple of plain values as a list by itself.
            return _same if code is _same else lambda value: [code(x) for x in value]
        if typing.get_origin(hint) is tuple:
            codes = [self.encoder(a) for a in typing.get_args(hint)]
            if all(c is _same for c in codes):
                return _same
            return lambda value: [c(x) for c, x in zip(codes, value, strict=True)]
        if (inner := _optional(hint)) is not None:
            code = self.encoder(inner)
            return _same if code is _same else lambda v: None if v is None else code(v)
        if typing.get_origin(hint) in (None, Literal) or hint is Any:
            return _same
        return self.encode  # a shape not listed here: the general path


class _Reader:
    """Decoders for one document: the mirror of _Writer, following the type hints so that a
    tuple comes back a tuple and a nested dataclass itself."""

    def __init__(self, tables: dict[Any, list[Any]]) -> None:
        self._tables = tables
        self._codes: dict[Any, Code] = {}

    def decoder(self, hint: Any) -> Code:
        if hint not in self._codes:
            self._codes[hint] = self._make(hint)
        return self._codes[hint]

    def _make(self, hint: Any) -> Code:
        if hint in self._tables:
            return self._tables[hint].__getitem__
        if _is_dataclass(hint):
            return self._dataclass(hint)
        if (item := _homogeneous(hint)) is not None:
            # The common shapes get builtins that run in C: tuple[str, ...] and
            # tuple[tuple[str, str], ...] are most of what a column holds.
            code = self.decoder(item)
            if code is _same:
                return tuple
            if code is tuple:
                return lambda data: tuple(map(tuple, data))
            return lambda data: tuple(map(code, data))
        if typing.get_origin(hint) is tuple:
            codes = [self.decoder(a) for a in typing.get_args(hint)]
            if all(c is _same for c in codes):
                return tuple
            return lambda data: tuple(c(x) for c, x in zip(codes, data, strict=True))
        if (inner := _optional(hint)) is not None:
            code = self.decoder(inner)
            return _same if code is _same else lambda d: None if d is None else code(d)
        return _same

    def _dataclass(self, cls: type[Any]) -> Code:
        fields = _fields(typing.cast(Any, cls))
        codes = [self.decoder(h) for _, h in fields]
        names = [name for name, _ in fields]
        # Fields of plain JSON values (text, numbers, flags) are taken as they are: most.
        work = [(i, c) for i, c in enumerate(codes) if c is not _same]
        new, set_dict = object.__new__, object.__setattr__
        # What a frozen dataclass's __init__ does field by field, done at once (as pickle
        # builds objects): only for a class whose __init__ does nothing more.
        direct = not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")

        def decode(data: list[Any]) -> Any:
            values = list(data)
            for index, code in work:
                values[index] = code(values[index])
            if not direct:
                return cls(*values)
            instance = new(cls)
            set_dict(instance, "__dict__", dict(zip(names, values, strict=True)))
            return instance

        return decode
