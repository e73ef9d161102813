"""Collecting every problem of a scenario file, each naming the key it concerns."""

from __future__ import annotations

import reprlib
from typing import Any

SHOWN_POINTS = 3
"""Sweep points named in a problem found at several points; the others are counted."""


def describe(value: Any) -> str:
    """A value as an error message quotes it (long values shortened)."""
    return reprlib.repr(value)


def at_points(labels: list[str]) -> str:
    """``"at sweep point a=1"``, ``"at sweep points a=1; a=2; a=3 and 5 more"``."""
    shown = "; ".join(labels[:SHOWN_POINTS])
    more = f" and {len(labels) - SHOWN_POINTS} more" if len(labels) > SHOWN_POINTS else ""
    return f"at sweep point{'s' if len(labels) > 1 else ''} {shown}{more}"


class Problems:
    """Collects ``key 'path': message`` lines, without duplicates, in order.

    Problems found while building one sweep point's system are given once per key, with the
    sweep points where they arose (:meth:`absorb`): a value too large at every point of a sweep
    is one line, not one per point.
    """

    def __init__(self) -> None:
        self._order: dict[tuple[str, str, str], None] = {}
        """An ordered set of ("line", path, message) and ("points", path, "")."""
        self._at_points: dict[str, dict[str, dict[str, None]]] = {}
        """Key path -> message -> the sweep points (labels) where it arose."""
        self.reported = 0
        """Problems reported so far, duplicates included (to tell whether a step found any)."""

    @property
    def entries(self) -> list[tuple[str, str]]:
        """``(path, message)`` of every problem given to :meth:`add`."""
        return [(path, message) for kind, path, message in self._order if kind == "line"]

    @property
    def items(self) -> list[str]:
        return [
            self._point_line(path) if kind == "points" else _line(path, message)
            for kind, path, message in self._order
        ]

    def _point_line(self, path: str) -> str:
        (message, labels), *others = self._at_points[path].items()
        line = _line(path, message)
        if not next(iter(labels)):
            return line  # no sweep: one point
        where = at_points(list(labels))
        elsewhere = {label for _, other in others for label in other} - set(labels)
        if elsewhere:
            noun = "point" if len(elsewhere) == 1 else "points"
            where += f", and at {len(elsewhere)} more sweep {noun} with other values"
        return f"{line} ({where})"

    def add(self, path: str, message: str) -> None:
        self.reported += 1
        self._order[("line", path, message)] = None

    def absorb(self, found: Problems, label: str) -> None:
        """Take the problems ``found`` at the sweep point ``label`` ("" without a sweep)."""
        for path, message in found.entries:
            self.reported += 1
            self._order[("points", path, "")] = None
            self._at_points.setdefault(path, {}).setdefault(message, {})[label] = None

    def table(self, value: Any, path: str) -> dict[str, Any]:
        """``value`` if it is a table; else report that one was expected and return ``{}``."""
        if isinstance(value, dict):
            return value
        self.add(path, f"expected a table, got {describe(value)}")
        return {}

    def __bool__(self) -> bool:
        return bool(self._order)


def _line(path: str, message: str) -> str:
    return f"key '{path}': {message}" if path else message
