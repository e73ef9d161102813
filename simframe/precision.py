"""Confidence-based stopping: run trials of a sweep point until its mean is precise enough.

A scenario's ``[precision]`` table names a metric and a target: the half-width of the
``level`` confidence interval of its mean over trials, absolute (``half_width``, in the
metric's units) or relative to the mean (``relative``). A sweep point runs blocks of trials
until every variant's interval meets the target or ``max_trials`` is reached.

The interval is Student's t on the per-trial values: ``t_{(1+level)/2, n-1} s / sqrt(n)`` with
``s`` the sample standard deviation of the ``n`` trials that did not fail (NaN values, from
trials recorded as failed by ``--keep-going``, are excluded). A metric with dimensions beyond
the trial (``ue``, ``stream``) enters as its mean over those dimensions per trial, so the
target is on the precision of the per-trial average (e.g. the mean spectral efficiency per
user), the quantity ``--kind mean`` plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METHOD = (
    "Student t interval of the mean over trials; metrics with extra dims (ue, stream, ...) "
    "enter as their per-trial mean over those dims; failed (NaN) trials are excluded"
)


@dataclass(frozen=True)
class PrecisionTarget:
    """What a ``[precision]`` table asks for; exactly one of ``half_width``, ``relative`` set."""

    metric: str
    half_width: float | None
    relative: float | None
    level: float
    min_trials: int
    max_trials: int

    def describe(self) -> str:
        target = (
            f"half-width <= {self.half_width:g}"
            if self.half_width is not None
            else f"half-width <= {self.relative:g} x |mean|"
        )
        return f"{self.metric}: {self.level:g} confidence {target}"

    def half_widths(self, per_trial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and half-width per variant of ``per_trial`` (variant x trial, NaN = failed).

        A variant with fewer than two valid trials has an infinite half-width.
        """
        from scipy import stats  # imported when needed: scenarios load without scipy

        valid = ~np.isnan(per_trial)
        n = valid.sum(axis=1)
        enough = n >= 2
        safe_n = np.where(enough, n, 2)
        means = np.where(n > 0, np.nansum(per_trial, axis=1) / np.maximum(n, 1), np.nan)
        deviations = np.where(valid, per_trial - means[:, None], 0.0)
        std = np.sqrt((deviations**2).sum(axis=1) / (safe_n - 1))
        quantile = stats.t.ppf((1 + self.level) / 2, safe_n - 1)
        half = np.where(enough, quantile * std / np.sqrt(safe_n), np.inf)
        return means, half

    def met(self, means: np.ndarray, half: np.ndarray) -> bool:
        """Whether every variant's half-width meets the target."""
        if self.half_width is not None:
            return bool(np.all(half <= self.half_width))
        return bool(np.all(half <= self.relative * np.abs(means)))

    def projected_trials(self, trials: int, means: np.ndarray, half: np.ndarray) -> int:
        """Trials the point probably needs (half-width ~ 1/sqrt(n)); used for scheduling only."""
        goal = self.half_width if self.half_width is not None else self.relative * np.abs(means)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nanmax(np.where(goal > 0, (half / goal) ** 2, np.inf))
        if not math.isfinite(ratio):
            return self.max_trials
        return min(self.max_trials, max(trials, math.ceil(trials * ratio)))


def per_trial_values(values: np.ndarray) -> np.ndarray:
    """Variant x trial x extra dims -> variant x trial: the mean over the extra dims per trial.

    Padding (NaN beyond a ragged dim's length) is ignored; a trial whose values are all NaN
    (a failed trial) stays NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        return values
    flat = values.reshape(*values.shape[:2], -1)
    count = (~np.isnan(flat)).sum(axis=2)
    total = np.nansum(flat, axis=2)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
