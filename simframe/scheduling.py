"""Which block of trials runs next, and when a sweep point has run enough of them.

A point's trials are cut into fixed blocks ``[0, B), [B, 2B), ...`` (see
:meth:`simframe.scenario.Scenario.blocks`). Blocks may finish in any order on any worker, but a
point takes them in trial order: its decision to stop (all trials run, or the ``[precision]``
target met) depends only on the finished blocks ``0..k``, so it is the same whatever the
executor, the worker count or interruptions. Blocks of a point that finish beyond its stop were
speculative and are discarded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import overload

import numpy as np

from simframe.precision import PrecisionTarget


class Blocks(Sequence[range]):
    """Trials ``[0, trials)`` cut into blocks ``[0, B), [B, 2B), ...`` of size ``B``, computed
    on demand (a ``[precision]`` run may allow millions of trials per point).

    The boundaries depend only on the block size, never on the executor or worker count.
    """

    def __init__(self, trials: int, size: int):
        self.trials = trials
        self.size = size

    def __len__(self) -> int:
        return -(-self.trials // self.size)

    @overload
    def __getitem__(self, index: int) -> range: ...

    @overload
    def __getitem__(self, index: slice) -> list[range]: ...

    def __getitem__(self, index: int | slice) -> range | list[range]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"block {index} of {len(self)}")
        start = index * self.size
        return range(start, min(start + self.size, self.trials))


@dataclass
class PointProgress:
    """The blocks of one sweep point: submitted, finished, taken in order, and the decision."""

    point: int
    blocks: Sequence[range]
    """Every block the point may run (up to the scenario's ``trials``)."""
    target: PrecisionTarget | None
    wanted_trials: int
    """Trials worth running now: all of them without a target, else a projection."""
    submitted: set[int] = field(default_factory=set)
    running: int = 0
    finished: dict[int, np.ndarray | None] = field(default_factory=dict)
    taken: int = 0
    """Blocks ``0..taken-1`` are finished and taken, in order."""
    values: list[np.ndarray] = field(default_factory=list)
    """Per taken block: the target metric per variant and trial (variant x trials)."""
    stop: int | None = None
    """Blocks the point keeps, once decided."""
    means: np.ndarray | None = None
    half_widths: np.ndarray | None = None
    converged: bool = False
    unsubmitted_from: int = 0
    """No block below ``max(taken, unsubmitted_from)`` is unsubmitted (``submitted`` only grows)."""

    @property
    def decided(self) -> bool:
        return self.stop is not None

    @property
    def trials_taken(self) -> int:
        return self.blocks[self.taken - 1].stop if self.taken else 0

    def next_block(self, speculative: bool) -> int | None:
        """The first block not yet submitted, if the point (probably) needs it."""
        if self.decided:
            return None
        index = max(self.taken, self.unsubmitted_from)
        while index in self.submitted:
            index += 1
        self.unsubmitted_from = index
        if index >= len(self.blocks):
            return None
        if speculative or self.blocks[index].start < self.wanted_trials:
            return index
        return None

    def is_discarded(self, index: int) -> bool:
        """Whether block ``index`` lies beyond the point's stop (a speculative block not needed)."""
        return self.stop is not None and index >= self.stop

    def accept(self, index: int, per_trial: np.ndarray | None) -> bool:
        """Record finished block ``index``; return whether this decided the point."""
        if self.decided:
            return False
        self.finished[index] = per_trial
        while self.taken in self.finished and not self.decided:
            self._take(self.finished.pop(self.taken))
        return self.decided

    def _take(self, per_trial: np.ndarray | None) -> None:
        self.taken += 1
        last = self.taken == len(self.blocks)
        if self.target is None or per_trial is None:  # a fixed number of trials
            if last:
                self.stop = self.taken
            return
        self.values.append(per_trial)
        trials = self.trials_taken
        if trials < self.target.min_trials and not last:
            return
        self.means, self.half_widths = self.target.half_widths(np.concatenate(self.values, axis=1))
        self.converged = self.target.met(self.means, self.half_widths)
        if self.converged or last:
            self.stop = self.taken
            return
        projected = self.target.projected_trials(trials, self.means, self.half_widths)
        self.wanted_trials = max(self.wanted_trials, projected, trials + 1)


class Plan:
    """Chooses the next job: blocks points need, lowest point first; else speculative ones.

    At most ``workers`` jobs are in flight: a job queued behind busy workers could not be
    withdrawn when its point stops, so it would be wasted. A block a point only *may* need (its
    precision not reached yet, beyond what the projection asks for) is submitted only when a
    worker would otherwise sit idle; if the point stops before it, the block is discarded. So a
    point's stop wastes at most ``workers - 1`` blocks.

    A job carries up to ``group`` consecutive needed blocks of one point (1 when blocks are
    decided one by one), to spare cheap trials the cost of a job and a file per block.
    """

    def __init__(self, points: dict[int, PointProgress], workers: int, group: int = 1):
        self.points = points
        self.workers = workers
        self.group = group
        self.in_flight = 0
        self._ordered = list(points.values())
        self._first_open = 0  # points before it are decided, and a decided point stays so

    def _open_points(self) -> Iterator[PointProgress]:
        """The points from the first undecided one on, in order."""
        ordered = self._ordered
        while self._first_open < len(ordered) and ordered[self._first_open].decided:
            self._first_open += 1
        return islice(ordered, self._first_open, None)

    def next_job(self) -> tuple[int, list[int]] | None:
        """``(point, block indices)`` to submit now, or None."""
        if self.in_flight >= self.workers:
            return None
        for progress in self._open_points():
            index = progress.next_block(speculative=False)
            if index is not None:
                indices = [index]
                progress.submitted.add(index)
                while len(indices) < self.group:
                    index = progress.next_block(speculative=False)
                    if index is None or index != indices[-1] + 1:
                        break
                    indices.append(index)
                    progress.submitted.add(index)
                return self._submit(progress, indices)
        candidates = [
            (progress.running, progress.point, index)
            for progress in self._open_points()
            if (index := progress.next_block(speculative=True)) is not None
        ]
        if candidates:
            _, point, index = min(candidates)
            self.points[point].submitted.add(index)
            return self._submit(self.points[point], [index])
        return None

    def _submit(self, progress: PointProgress, indices: list[int]) -> tuple[int, list[int]]:
        progress.running += 1
        self.in_flight += 1
        return progress.point, indices

    def returned(self, point: int) -> None:
        """A job of ``point`` came back."""
        self.points[point].running -= 1
        self.in_flight -= 1

    @property
    def undecided(self) -> int:
        return sum(not p.decided for p in self._open_points())
