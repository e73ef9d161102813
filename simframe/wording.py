"""Counts and sizes as English phrases: "1 trial", "5 trials", "20 to 100 trials", "12 KiB"."""

from __future__ import annotations

SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def counted(count: int | str, noun: str, plural: str | None = None) -> str:
    """``count`` followed by ``noun``, made plural (``plural``, or ``noun + "s"``) unless the
    count is exactly one; ``count`` may be a phrase such as ``"20 to 100"``."""
    text = f"{count:,}" if isinstance(count, int) else str(count)
    return f"{text} {noun if text == '1' else plural or noun + 's'}"


def size(n_bytes: float) -> str:
    """A number of bytes in the largest binary unit that keeps it at least 1 (``"1.5 MiB"``)."""
    value, unit = float(n_bytes), SIZE_UNITS[0]
    for unit in SIZE_UNITS:
        if value < 1024 or unit == SIZE_UNITS[-1]:
            break
        value /= 1024
    return f"{value:,.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.3g} {unit}"
