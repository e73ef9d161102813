"""Stream power allocators of ``sim_mumiso_downlink``, batched over the trials of a block.

Every allocator maps effective channels ``(B, K, K)`` to powers ``(B, K)`` that are ``>= 0`` and
sum to the budget; row ``b`` depends on row ``b`` of the arguments alone (every operation is
per row, iterative ones stop per row).
"""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_mumiso.downlink import gains, sum_rates_bps_hz
from simframe_mumiso.interfaces import MumisoPowerAllocator

NEWTON_ITERATIONS = 50
"""Newton steps at most for WMMSE's budget multiplier (it converges in a few)."""


def water_filling(floors: np.ndarray, budget_w: float) -> np.ndarray:
    """``p_k = max(0, mu - f_k)`` with ``sum_k p_k = budget_w``, per row of ``floors`` ``(B, K)``.

    Exact, from the sorted floors: with the ``m`` lowest floors filled the level is
    ``mu_m = (P + sum_{i <= m} f_i) / m``, and the filled set is the largest ``m`` with
    ``mu_m > f_m``. Infinite floors (users the stream cannot reach) get no power; a row whose
    floors are all infinite gets equal power.
    """
    floors = np.asarray(floors, dtype=float)
    trials, users = floors.shape
    ordered = np.sort(floors, axis=-1)
    levels = ordered.cumsum(axis=-1)
    levels += budget_w
    levels /= np.arange(1, users + 1)
    count = (levels > ordered).sum(axis=-1)
    level = levels[np.arange(trials), np.maximum(count, 1) - 1]
    unreachable = count == 0
    if unreachable.any():  # every floor infinite: no level (inf - inf), equal power
        level[unreachable] = 0.0
    powers = level[:, None] - floors
    np.maximum(powers, 0.0, out=powers)
    if unreachable.any():
        powers[unreachable] = budget_w / users
    return powers


def _received(channel_gains, direct, powers_w, noise_w):
    """Signal and interference-plus-noise power of every user, ``(b, K)`` each."""
    signal = direct * powers_w
    return signal, (channel_gains * powers_w[:, None, :]).sum(axis=-1) - signal + noise_w


def _sum_rates(signal: np.ndarray, interference_noise: np.ndarray) -> np.ndarray:
    return np.log2(1.0 + signal / interference_noise).sum(axis=-1)


def _gains(effective: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``|H_kj|^2`` ``(b, K, K)`` and its diagonals ``|H_kk|^2`` ``(b, K)``."""
    channel_gains = gains(effective)
    trials, users = channel_gains.shape[:2]
    return channel_gains, channel_gains.reshape(trials, users * users)[:, :: users + 1]


def _iteration_parameters(method: str) -> tuple[Parameter, ...]:
    """The stopping rule of an iterative allocator: an iteration cap and a relative change."""
    return (
        Parameter("max_iterations", int, 100, help=f"{method} iterations at most", minimum=1),
        Parameter(
            "tolerance", float, 1e-6, "1", "stop at this relative sum-rate change", minimum=0.0
        ),
    )


class EqualPower(MumisoPowerAllocator):
    """Equal power on every stream, ``p_k = P_t / K``."""

    name = "mumiso_equal_power"

    def allocate(self, effective, noise_w, budget_w, initial_w=None):
        trials, users = effective.shape[:2]
        return np.full((trials, users), budget_w / users)


class DampedWaterFilling(MumisoPowerAllocator):
    """An et al.'s damped iterative water-filling (IWF.m of their released code).

    From equal power, each iteration water-fills over the floors ``(I_k + sigma^2) / |H_kk|^2``
    (interference from the current powers) and damps the step,
    ``p <- p_wf / K + (K - 1) / K * p``. It stops once an iteration changes the sum rate by less
    than ``tolerance`` relative to the previous one, or after ``max_iterations``. As in the
    published code, the first iteration always runs (the "previous" sum rate starts at twice
    the real one). Every user treats the others' streams as noise: the result is not a sum-rate
    maximum, and ``initial_w`` is ignored (each call starts from equal power, as An's does).
    """

    name = "mumiso_iwf"
    parameters = _iteration_parameters("water-filling")

    def allocate(self, effective, noise_w, budget_w, initial_w=None):
        channel_gains, direct = _gains(effective)
        trials, users = direct.shape
        powers = np.full((trials, users), budget_w / users)
        result = powers.copy()
        signal, interference_noise = _received(channel_gains, direct, powers, noise_w)
        previous = _sum_rates(signal, interference_noise)
        current = 2.0 * previous
        rows = np.arange(trials)  # the rows still iterating; all iterate in step
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(self.max_iterations):
                going = np.abs(current - previous) >= previous * self.tolerance
                if not going.all():
                    result[rows[~going]] = powers[~going]
                    rows, powers, current = rows[going], powers[going], current[going]
                    channel_gains, direct = channel_gains[going], direct[going]
                    interference_noise = interference_noise[going]
                    if rows.size == 0:
                        return result
                previous = current
                filled = water_filling(interference_noise / direct, budget_w)
                powers = (1.0 / users) * filled + ((users - 1) / users) * powers
                signal, interference_noise = _received(channel_gains, direct, powers, noise_w)
                current = _sum_rates(signal, interference_noise)
        result[rows] = powers
        return result


class WmmsePower(MumisoPowerAllocator):
    """Sum-rate power allocation by WMMSE (Shi, Razaviyayn, Luo, He, IEEE TSP 2011).

    With the beams fixed by the SIM (stream k on antenna k), WMMSE alternates, per user, the MMSE
    receiver ``u_k = H_kk v_k / T_k``, the weight ``w_k = T_k / (I_k + sigma^2)`` and the
    amplitude ``v_k = w_k |H_kk|^2 v_k / T_k / (sum_j w_j |u_j|^2 |H_jk|^2 + mu)`` (``T_k`` the
    total received power plus noise, ``p_k = v_k^2``; ``mu >= 0`` by Newton's method so that
    ``sum p_k <= P_t``). Each iteration cannot lower the sum rate, and the iterates converge to
    a stationary point of the sum rate under the budget. Raising every power by a common factor
    never lowers a SINR, so each iterate is scaled up to spend the whole budget. Starts from
    ``initial_w`` (equal power without it); returns the best iterate by sum rate.
    """

    name = "mumiso_wmmse"
    parameters = _iteration_parameters("WMMSE")

    def allocate(self, effective, noise_w, budget_w, initial_w=None):
        channel_gains, direct = _gains(effective)
        trials, users = direct.shape
        if initial_w is None:
            powers = np.full((trials, users), budget_w / users)
        else:
            powers = _spend(np.maximum(np.asarray(initial_w, dtype=float), 0.0), budget_w)
        best, best_rates = powers, sum_rates_bps_hz(effective, powers, noise_w)
        previous = best_rates
        active = np.ones(trials, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(self.max_iterations):
                if not active.any():
                    break
                signal, interference_noise = _received(channel_gains, direct, powers, noise_w)
                numerator = direct * np.sqrt(powers) / interference_noise
                weighted = signal / (interference_noise * (signal + interference_noise))
                denominator = (weighted[:, :, None] * channel_gains).sum(axis=1)  # over users j
                candidate = _spend(_budgeted(numerator, denominator, budget_w) ** 2, budget_w)
                powers = np.where(active[:, None], candidate, powers)
                rates = _sum_rates(*_received(channel_gains, direct, powers, noise_w))
                better = active & (rates > best_rates)
                best = np.where(better[:, None], powers, best)
                best_rates = np.where(better, rates, best_rates)
                active &= np.abs(rates - previous) > self.tolerance * np.abs(rates)
                previous = np.where(active, rates, previous)
        return best


def _spend(powers_w: np.ndarray, budget_w: float) -> np.ndarray:
    """Every row scaled to sum to ``budget_w`` (equal power for an all-zero row)."""
    totals = powers_w.sum(axis=-1, keepdims=True)
    equal = np.full_like(powers_w, budget_w / powers_w.shape[-1])
    return np.where(
        totals > 0.0, powers_w * (budget_w / np.where(totals > 0.0, totals, 1.0)), equal
    )


def _budgeted(numerator: np.ndarray, denominator: np.ndarray, budget_w: float) -> np.ndarray:
    """``v = numerator / (denominator + mu)`` per row with the smallest ``mu >= 0`` such that
    ``sum v^2 <= budget_w``: ``mu = 0`` where that fits, else the root of
    ``h(mu) = (sum v(mu)^2)^(-1/2) - budget_w^(-1/2)`` by Newton's method from ``mu = 0``.
    ``h`` is increasing and nearly linear (exactly, for one user), so the iterates rise
    monotonically to the root in a few steps; each row stops on its own once a step no longer
    moves ``mu`` beyond round-off."""
    mu = np.zeros(len(numerator))
    scale = denominator
    power = (_amplitudes(numerator, scale) ** 2).sum(axis=-1)
    searching = power > budget_w
    for _ in range(NEWTON_ITERATIONS):
        if not searching.any():
            break
        squares = _amplitudes(numerator, scale) ** 2
        power = squares.sum(axis=-1)
        slope = (squares / np.where(scale > 0.0, scale, 1.0)).sum(axis=-1) / power**1.5
        step = (power**-0.5 - budget_w**-0.5) / np.where(slope > 0.0, slope, 1.0)
        moved = np.where(searching & (slope > 0.0), mu - step, mu)
        searching &= np.abs(moved - mu) > 1e-14 * np.abs(moved)
        mu = moved
        scale = denominator + mu[:, None]
    return _amplitudes(numerator, scale)


def _amplitudes(numerator: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``numerator / scale``, zero where ``scale`` is zero (a user no stream reaches)."""
    return np.where(scale > 0.0, numerator / np.where(scale > 0.0, scale, 1.0), 0.0)
