"""An independent, unbatched implementation of An et al.'s protocol (SIM_GA.m and IWF.m, as
described in spec sim-mumiso.md), used to check ``an_ga`` and ``mumiso_iwf``.

Nothing here shares code with simframe_mumiso: the cascade is multiplied out, the gradient of
every angle comes from the chain rule on ``dH / dphi_n = j theta_n A[:, n] F[n, :]`` with ``A``
and ``F`` formed by dense products (no adjoint pass), and the water-filling fills the sorted
floors one step at a time. One trial at a time, slow on purpose.
"""

from __future__ import annotations

import numpy as np


def cascade(hops, channel, phases):
    """``H = G Phi_L W_L ... Phi_1 W_1``."""
    field = np.diag(phases[0]) @ hops[0]
    for layer in range(1, len(hops)):
        field = np.diag(phases[layer]) @ hops[layer] @ field
    return channel @ field


def sum_rate(effective, powers, noise):
    users = len(powers)
    total = 0.0
    for k in range(users):
        signal = abs(effective[k, k]) ** 2 * powers[k]
        interference = sum(abs(effective[k, j]) ** 2 * powers[j] for j in range(users) if j != k)
        total += np.log2(1.0 + signal / (interference + noise))
    return total


def _vessel(floors, budget):
    """Water-filling by raising the level over the sorted floors, one floor at a time."""
    order = sorted(range(len(floors)), key=lambda k: floors[k])
    level, filled, remaining = floors[order[0]], 1, budget
    while filled < len(floors):
        cost = filled * (floors[order[filled]] - level)
        if cost >= remaining:
            break
        remaining -= cost
        level = floors[order[filled]]
        filled += 1
    level += remaining / filled
    return np.array([max(level - f, 0.0) for f in floors])


def iwf(effective, noise, budget, max_iterations=100, tolerance=1e-6):
    """An's damped iterative water-filling, with its doubled first 'previous' rate."""
    users = effective.shape[0]
    powers = np.full(users, budget / users)

    def interference_noise(p):
        return np.array(
            [
                sum(abs(effective[k, j]) ** 2 * p[j] for j in range(users) if j != k) + noise
                for k in range(users)
            ]
        )

    before, after = sum_rate(effective, powers, noise), None
    after = 2.0 * before
    iterations = 0
    while abs(after - before) >= before * tolerance and iterations < max_iterations:
        before = after
        noise_now = interference_noise(powers)
        floors = [noise_now[k] / abs(effective[k, k]) ** 2 for k in range(users)]
        powers = _vessel(floors, budget) / users + (users - 1) / users * powers
        after = sum_rate(effective, powers, noise)
        iterations += 1
    return powers


def angle_gradient(hops, channel, phases, powers, noise):
    """``dR / dphi`` of every atom by the chain rule through ``H`` (powers fixed)."""
    layers, atoms = phases.shape
    users = len(powers)
    effective = cascade(hops, channel, phases)
    weights = np.zeros((users, users))  # dR / d|H_kj|^2
    for k in range(users):
        total = sum(abs(effective[k, j]) ** 2 * powers[j] for j in range(users)) + noise
        rest = total - abs(effective[k, k]) ** 2 * powers[k]
        for j in range(users):
            weights[k, j] = powers[j] * (1.0 / total - (0.0 if j == k else 1.0 / rest)) / np.log(2)
    gradient = np.zeros((layers, atoms))
    for layer in range(layers):
        before = hops[0]  # the field arriving at `layer`
        for earlier in range(layer):
            before = hops[earlier + 1] @ np.diag(phases[earlier]) @ before
        after = channel  # everything after `layer`'s phases
        for later in range(layers - 1, layer, -1):
            after = after @ np.diag(phases[later]) @ hops[later]
        for n in range(atoms):
            change = 1j * phases[layer, n] * np.outer(after[:, n], before[n, :])
            gradient[layer, n] = np.sum(weights * 2.0 * np.real(np.conj(effective) * change))
    return gradient


def an_ga(hops, channel, noise, budget, start, max_iterations=50, max_tries=20, tolerance=1e-6):
    """The protocol from ``start`` phases; returns phases, powers, iterations and the trace."""
    phases = start.copy()
    angles = np.angle(phases)
    effective = cascade(hops, channel, phases)
    powers = iwf(effective, noise, budget)
    rate = sum_rate(effective, powers, noise)
    trace = [rate]
    previous, current = rate, 2.0 * rate
    iterations = 0
    while abs(current - previous) >= previous * tolerance and iterations < max_iterations:
        previous = current
        gradient = angle_gradient(hops, channel, phases, powers, noise)
        step = np.pi / gradient.max()
        tried, candidate_rate = 0, 0.0
        while candidate_rate < previous and tried < max_tries:
            candidate = angles + step * gradient
            effective = cascade(hops, channel, np.exp(1j * candidate))
            candidate_powers = iwf(effective, noise, budget)
            candidate_rate = sum_rate(effective, candidate_powers, noise)
            step /= 2.0
            tried += 1
        phases = np.exp(1j * candidate)
        angles = np.angle(phases)
        powers, current = candidate_powers, candidate_rate
        iterations += 1
        trace.append(current)
    return phases, powers, iterations, trace
