"""Interfaces as JSON and back, for the cache: the frozen dataclasses of interface.py only.

Each dataclass becomes a list of its field values in declaration order, which is a third
the size of named fields and decodes faster. Decoding follows the type hints, so a tuple
comes back a tuple (JSON has only lists) and a nested dataclass comes back itself. An
entry written by another version of the tool is never read: cache keys name the version.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union

from semverlint.interface import Diagnostic, Interface

T = TypeVar("T")
Decode = Callable[[Any], Any]


def to_json(value: Any) -> Any:
    """A dataclass value (and what it holds) as lists of JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encoder(type(value))(value)
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


def from_json(cls: type[T], data: Any) -> T:
    """The value of dataclass `cls` that `to_json` wrote as `data`."""
    decoded: T = _decoder(typing.cast(Any, cls))(data)
    return decoded


def diagnostics_from_json(data: Any) -> tuple[Diagnostic, ...]:
    return tuple(from_json(Diagnostic, item) for item in data)


def interface_from_json(data: Any) -> Interface | None:
    return None if data is None else from_json(Interface, data)


Encode = Callable[[Any], Any]


@functools.cache
def _encoder(hint: Any) -> Encode:
    """How to write a value of type `hint` as JSON, worked out once per type: the mirror of
    `_decoder`, so that a hundred thousand columns cost one call each, not one per field."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        names = [f.name for f in dataclasses.fields(hint)]
        encoders = [_encoder(hints[name]) for name in names]
        if all(e is _same for e in encoders):
            return lambda value: [getattr(value, name) for name in names]
        pairs = list(zip(names, encoders, strict=True))
        return lambda value: [e(getattr(value, name)) for name, e in pairs]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _encoder(args[0])
            # json writes a tuple of plain values as a list by itself.
            return _same if item is _same else lambda value: [item(x) for x in value]
        items = [_encoder(a) for a in args]
        if all(e is _same for e in items):
            return _same
        return lambda value: [e(x) for e, x in zip(items, value, strict=True)]
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            inner = _encoder(options[0])
            if inner is _same:
                return _same
            return lambda value: None if value is None else inner(value)
        return to_json
    if origin is not None and origin is not Literal and hint is not Any:
        return to_json  # a shape not listed here: the general path
    return _same


@functools.cache
def _decoder(hint: Any) -> Decode:
    """How to rebuild a value of type `hint` from its JSON, worked out once per type."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass_decoder(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        # The common shapes get builtins that run in C: tuple[str, ...], tuple[str, str] and
        # tuple[tuple[str, str], ...] are most of what an interface holds.
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            if item is _same:
                return tuple
            if item is tuple:
                return lambda data: tuple(map(tuple, data))
            return lambda data: tuple(map(item, data))
        items = [_decoder(a) for a in args]
        if all(d is _same for d in items):
            return tuple
        return lambda data: tuple(d(x) for d, x in zip(items, data, strict=True))
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            inner = _decoder(options[0])
            if inner is _same:
                return _same
            return lambda data: None if data is None else inner(data)
    return _same


def _same(data: Any) -> Any:
    return data


def _dataclass_decoder(cls: type[Any]) -> Decode:
    hints = typing.get_type_hints(cls)
    decoders = [_decoder(hints[f.name]) for f in dataclasses.fields(cls)]
    # Fields of plain JSON values (text, numbers, flags) are taken as they are: most of them.
    work = [(i, d) for i, d in enumerate(decoders) if d is not _same]

    def decode(data: list[Any]) -> Any:
        values = list(data)
        for index, decoder in work:
            values[index] = decoder(values[index])
        return cls(*values)

    return decode
