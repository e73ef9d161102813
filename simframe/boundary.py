"""What the core does where it hands values to plugins and takes values back: read-only views
of what a hook must not change, and the comparison of a returned value with the one it stands
for (an estimate with the true channel)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np


def read_only(value: Any) -> Any:
    """``value`` with every numpy array in it replaced by a read-only view.

    Arrays are found in dataclass fields, tuples, lists and mappings (recursively); the
    containers are shallow copies (mappings become read-only proxies), the arrays' data is
    shared, and ``value`` itself stays writable. Writing to a view raises ``ValueError:
    assignment destination is read-only``.
    """
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        frozen = copy.copy(value)
        for field in dataclasses.fields(value):
            object.__setattr__(frozen, field.name, read_only(getattr(value, field.name)))
        return frozen
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(read_only(item) for item in value)
    if isinstance(value, list):
        return [read_only(item) for item in value]
    if isinstance(value, Mapping):
        return MappingProxyType({key: read_only(item) for key, item in value.items()})
    return value


def _kind(array: np.ndarray) -> str:
    return {"c": "complex", "f": "real", "i": "integer", "u": "integer", "b": "boolean"}.get(
        array.dtype.kind, str(array.dtype)
    )


def structure_mismatch(expected: Any, got: Any, where: str = "value") -> str | None:
    """How ``got`` differs in structure from ``expected``, or ``None`` when it does not.

    Both must have the same type; arrays the same shape and kind of numbers (complex, real,
    integer: a real array never stands for a complex one), recursively through dataclass
    fields, tuples, lists and mappings. Values are not compared.
    """
    label = where
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            return f"{label} is a {type(got).__name__}, expected a numpy array"
        if got.shape != expected.shape:
            return f"{label} has shape {got.shape}, expected {expected.shape}"
        if _kind(got) != _kind(expected):
            return f"{label} is {_kind(got)} ({got.dtype}), expected {_kind(expected)}"
        return None
    if type(got) is not type(expected):
        return f"{label} is a {type(got).__name__}, expected a {type(expected).__name__}"
    if dataclasses.is_dataclass(expected):
        items = [
            (f.name, getattr(expected, f.name), getattr(got, f.name))
            for f in dataclasses.fields(expected)
        ]
        return _first(items, where, ".{}")
    if isinstance(expected, tuple | list):
        if len(got) != len(expected):
            return f"{label} has {len(got)} items, expected {len(expected)}"
        return _first(list(zip(range(len(expected)), expected, got, strict=True)), where, "[{}]")
    if isinstance(expected, Mapping):
        if set(got) != set(expected):
            return (
                f"{label} has keys {sorted(map(str, got))}, expected {sorted(map(str, expected))}"
            )
        return _first([(k, expected[k], got[k]) for k in expected], where, "[{!r}]")
    return None


def _first(items: list[tuple[Any, Any, Any]], where: str, step: str) -> str | None:
    for key, expected, got in items:
        problem = structure_mismatch(expected, got, f"{where}{step.format(key)}")
        if problem is not None:
            return problem
    return None
