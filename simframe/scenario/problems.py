"""Collecting every problem of a scenario file, each naming the key it concerns."""

from __future__ import annotations

import reprlib
from typing import Any


def describe(value: Any) -> str:
    """A value as an error message quotes it (long values shortened)."""
    return reprlib.repr(value)


class Problems:
    """Collects ``key 'path': message`` lines, without duplicates, in order."""

    def __init__(self) -> None:
        self._lines: dict[str, None] = {}  # an ordered set
        self.reported = 0
        """Problems reported so far, duplicates included (to tell whether a step found any)."""

    @property
    def items(self) -> list[str]:
        return list(self._lines)

    def add(self, path: str, message: str) -> None:
        self.reported += 1
        self._lines[f"key '{path}': {message}" if path else message] = None

    def table(self, value: Any, path: str) -> dict[str, Any]:
        """``value`` if it is a table; else report that one was expected and return ``{}``."""
        if isinstance(value, dict):
            return value
        self.add(path, f"expected a table, got {describe(value)}")
        return {}

    def __bool__(self) -> bool:
        return bool(self._lines)
