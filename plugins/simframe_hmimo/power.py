"""Stream power allocators of ``sim_hmimo_link``: equal, water-filling and WMMSE."""

from __future__ import annotations

import numpy as np

from simframe import Parameter
from simframe_hmimo.interfaces import HmimoPowerAllocator
from simframe_hmimo.link import rate_bps_hz


def water_filling(gains: np.ndarray, budget_w: float) -> np.ndarray:
    """``p_s = max(0, mu - 1/g_s)`` with ``sum p_s = budget_w``, for SNR gains ``g_s`` per watt.

    Exact: the water level comes from the sorted gains, no iteration. The level is computed
    relative to the strongest stream's ``1/g`` so that tiny gains (``1/g`` far above the budget)
    do not cancel the budget away; the result is then scaled to sum to the budget exactly.
    Streams with zero gain get no power (unless every gain is zero: then equal power).
    """
    gains = np.asarray(gains, dtype=float)
    usable = gains > 0
    if not np.any(usable):
        return np.full(gains.shape, budget_w / gains.size)
    order = np.argsort(-gains)[: np.count_nonzero(usable)]
    offsets = 1.0 / gains[order] - 1.0 / gains[order[0]]
    powers = np.zeros(gains.shape)
    for active in range(order.size, 0, -1):
        level = (budget_w + offsets[:active].sum()) / active
        if level > offsets[active - 1]:
            powers[order[:active]] = level - offsets[:active]
            break
    return powers * (budget_w / powers.sum())


class EqualPower(HmimoPowerAllocator):
    """Equal power on every stream, ``p_s = P_t / S``."""

    name = "equal_power"

    def allocate(self, channel, noise_w, budget_w, initial_w=None):
        return np.full(channel.shape[0], budget_w / channel.shape[0])


class WaterFilling(HmimoPowerAllocator):
    """Water-filling on ``|H_ss|^2 / sigma^2``, ignoring interference (Algorithm 2, step 6)."""

    name = "water_filling"

    def allocate(self, channel, noise_w, budget_w, initial_w=None):
        return water_filling(np.abs(np.diag(channel)) ** 2 / noise_w, budget_w)


class Wmmse(HmimoPowerAllocator):
    """WMMSE power allocation for (P4) (Shi et al. 2011), sum power equal to ``P_t``.

    With ``v_s = sqrt(p_s)``: ``u_s = H_ss v_s / (sum_j |H_sj|^2 v_j^2 + sigma^2)``,
    ``w_s = 1 / (1 - conj(u_s) H_ss v_s)``,
    ``v_s = Re(w_s conj(u_s) H_ss) / (sum_k w_k |u_k|^2 |H_ks|^2 + mu)``, ``mu >= 0`` by bisection
    so that ``sum v_s^2 <= P_t``. Scaling every power up never lowers a SINR of eq. (5), so a
    solution below the budget is scaled up to it. Returns the best iterate by rate.

    The update is multiplicative in ``v_s``: a stream started at (nearly) zero power stays there.
    So when ``initial_w`` is given, WMMSE runs from it and from equal powers, and the better
    result is returned: a stream that an earlier allocation switched off comes back when the
    powers alone call for it.
    """

    name = "wmmse"
    parameters = (
        Parameter("max_iterations", int, 100, help="WMMSE iterations at most", minimum=1),
        Parameter("tolerance", float, 1e-6, "1", "stop at this relative rate change", minimum=0),
    )

    def allocate(self, channel, noise_w, budget_w, initial_w=None):
        equal = np.full(channel.shape[0], budget_w / channel.shape[0])
        powers, rate = self._iterate(channel, noise_w, budget_w, equal)
        if initial_w is not None:
            started, started_rate = self._iterate(channel, noise_w, budget_w, initial_w)
            if started_rate >= rate:
                powers = started
        return powers

    def _iterate(self, channel, noise_w, budget_w, start) -> tuple[np.ndarray, float]:
        """WMMSE from ``start``: the best iterate's powers (scaled to the budget) and rate."""
        v = np.sqrt(np.maximum(start, 0.0))
        gains = np.abs(channel) ** 2
        direct = np.diag(channel)
        best_powers, best_rate = v**2, rate_bps_hz(channel, v**2, noise_w)
        previous = best_rate
        for _ in range(self.max_iterations):
            u = direct * v / (gains @ v**2 + noise_w)
            w = 1.0 / np.maximum(1.0 - (np.conj(u) * direct * v).real, 1e-300)
            numerator = np.maximum((w * np.conj(u) * direct).real, 0.0)
            denominator = (w * np.abs(u) ** 2) @ gains
            v = _budgeted(numerator, denominator, budget_w)
            rate = rate_bps_hz(channel, v**2, noise_w)
            if rate > best_rate:
                best_powers, best_rate = v**2, rate
            if abs(rate - previous) <= self.tolerance * max(abs(rate), 1e-12):
                break
            previous = rate
        powers = best_powers * (budget_w / best_powers.sum())
        return powers, rate_bps_hz(channel, powers, noise_w)


def _budgeted(numerator: np.ndarray, denominator: np.ndarray, budget_w: float) -> np.ndarray:
    """``v = numerator / (denominator + mu)`` with the smallest ``mu >= 0`` meeting the budget,
    then scaled up to spend the whole budget. A stream whose channel column is zero (zero
    denominator, zero numerator) gets no power."""

    def amplitudes(mu: float) -> np.ndarray:
        scale = denominator + mu
        safe = np.where(scale > 0.0, scale, 1.0)
        return np.where(scale > 0.0, numerator / safe, 0.0)

    def power(mu: float) -> float:
        return float(np.sum(amplitudes(mu) ** 2))

    if power(0.0) > budget_w:
        low, high = 0.0, 1.0
        while power(high) > budget_w:
            high *= 2.0
        for _ in range(100):
            middle = 0.5 * (low + high)
            low, high = (middle, high) if power(middle) > budget_w else (low, middle)
        v = amplitudes(high)
    else:
        v = amplitudes(0.0)
    total = float(np.sum(v**2))
    if total <= 0.0:
        return np.full(numerator.shape, np.sqrt(budget_w / numerator.size))
    return v * np.sqrt(budget_w / total)
