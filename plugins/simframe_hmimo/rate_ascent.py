"""Rate maximisation over a block of trials: L-BFGS on the meta-atom angles (and power logits).

The objective is eq. (5). The phases of all TX and RX layers are one point of the torus
``(S^1)^(L N + K M)`` and are updated together by the block L-BFGS of
:mod:`simframe_metasurface.torus_lbfgs` (Riemannian L-BFGS with exact retraction and parallel
transport, i.e. L-BFGS on the angles), with the gradients of Theorem 1 from one batched adjoint
pass (:class:`~simframe_hmimo.link_block.LinkBlock`). Powers are updated either

* ``"joint"``: together with the phases, as ``p = P_t softmax(a)`` with logits ``a`` appended to
  the angles (the budget holds by construction, all powers stay positive), then polished by the
  power slot at the end of every round; or
* ``"alternating"``: by the power slot between rounds of phase iterations (paper 000
  Algorithm 1, but with the TX and RX phases in one block).

A round is ``iterations_per_round`` L-BFGS iterations followed by the power slot; a power step
that would lower the rate is not taken, so the rate never falls between rounds.

**Streams stay on until the phases have converged with all of them.** A stream without power
does not enter the rate, so the phase gradient ignores it, and a power step started from a
(near) zero power cannot bring it back (WMMSE's update is multiplicative in the amplitude).
One power step taken while the phases are far from converged can therefore switch a stream
off for good, and the ascent then optimises the other streams only: at L = K = 10 and 40-90 dB
SINR this lost a quarter of the rate on most channels (docs/reproductions/paper000.md). So a
power step that would leave a stream below ``min_power_share`` of the equal share ``P_t / S``
is not taken while the trial's phases are still rising. When the trial stalls (a round gains
less than ``tolerance``), that power step is taken if it raises the rate, and the trial goes on
from there without the guard: a stream is switched off only where the phases have converged
with it on and switching it off still raises the rate.

**Preconditioning.** At the start of every round each angle is rescaled by ``(d_n / mean d)^e``
(``e = preconditioner_exponent``), where ``d_n`` is the Gauss-Newton estimate of the rate's
curvature along atom ``n`` (:meth:`~simframe_hmimo.link_block.LinkBlock.curvature_diagonal`,
floored at 1 % of the mean): L-BFGS in the scaled coordinates starts from the inverse Hessian
``gamma diag(d / mean d)^(-2e)`` instead of ``gamma I``. The curvature of the angles spans many
orders of magnitude (atoms that carry little of the field barely move the rate), which a scalar
``gamma`` cannot follow. ``e = 1/2`` would be the Jacobi preconditioner; ``e = 1/4`` (the square
root of it) reaches a given rate in about half the iterations or fewer at L = 7-10, measured in
docs/reproductions/paper000.md; ``e = 0`` turns it off. The coordinates change every round, so
every round starts a new curvature memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from simframe_metasurface.torus_lbfgs import minimise_lbfgs_block, select_rows

from simframe_hmimo.interfaces import HmimoPowerAllocator
from simframe_hmimo.link import rates_bps_hz
from simframe_hmimo.link_block import LinkBlock

POWER_SCHEDULES = ("joint", "alternating")
CURVATURE_FLOOR = 1e-2
"""Curvature estimates below this fraction of their mean count as this fraction."""


@dataclass(frozen=True)
class AscentSettings:
    """How :func:`maximise_rates` runs (see the module docstring)."""

    rounds: int = 10
    iterations_per_round: int = 50
    memory: int = 10
    first_step_rad: float = 0.1
    tolerance: float = 1e-4
    power_schedule: str = "alternating"
    preconditioner_exponent: float = 0.25
    min_power_share: float = 1e-2


@dataclass(frozen=True)
class AscentResult:
    tx: np.ndarray
    rx: np.ndarray
    powers_w: np.ndarray
    rate_trace: np.ndarray
    """``(rounds + 1, B)``: the rate at the start and after every round (repeated once a trial
    stopped)."""
    rounds: np.ndarray
    """``(B,)`` rounds each trial ran."""
    evaluations: np.ndarray
    """``(B,)`` rate-and-gradient evaluations each trial cost."""
    elapsed_s: np.ndarray
    """``(rounds + 1,)`` wall time since the start at each entry of ``rate_trace``."""


def softmax_powers(logits: np.ndarray, budget_w: float) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return budget_w * shifted / shifted.sum(axis=-1, keepdims=True)


def power_logits(powers_w: np.ndarray) -> np.ndarray:
    """Logits whose softmax gives ``powers_w`` (zero powers get a large negative logit)."""
    return np.log(np.maximum(powers_w, 1e-12 * powers_w.max(axis=-1, keepdims=True)))


def angle_gradient(gradient: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """``dR/dphi = Im(g conj(theta))`` for ``theta = exp(j phi)`` and the Euclidean gradient
    ``g``, in real products: numpy's complex product rounds differently in its vectorised loop
    and its scalar tail, which would make a trial's bits depend on the size of its block."""
    return gradient.imag * phases.real - gradient.real * phases.imag


class _Scaled:
    """``objective`` in the coordinates ``u = scales * x`` (gradient ``g / scales``)."""

    def __init__(self, objective: _Objective, scales: np.ndarray) -> None:
        self.objective, self.scales = objective, scales

    def __call__(self, u: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scales = select_rows(self.scales, rows)
        cost, gradient = self.objective(u / scales, rows)
        return cost, gradient / scales


class _Objective:
    """Negative rate of the block as a function of the angles (and power logits)."""

    def __init__(self, block: LinkBlock, powers_w: np.ndarray, joint: bool) -> None:
        self.block, self.powers_w, self.joint = block, powers_w, joint
        (self.layers_tx, self.atoms_tx), (self.layers_rx, self.atoms_rx) = (
            block.tx_shape,
            block.rx_shape,
        )
        self.tx_size = self.layers_tx * self.atoms_tx
        self.rx_size = self.layers_rx * self.atoms_rx

    def coordinates(self, tx: np.ndarray, rx: np.ndarray, powers_w: np.ndarray) -> np.ndarray:
        parts = [np.angle(tx).reshape(len(tx), -1), np.angle(rx).reshape(len(rx), -1)]
        if self.joint:
            parts.append(power_logits(powers_w))
        return np.concatenate(parts, axis=1)

    def unpack(self, x: np.ndarray, rows: np.ndarray):
        end = self.tx_size + self.rx_size
        tx = np.exp(1j * x[:, : self.tx_size]).reshape(-1, self.layers_tx, self.atoms_tx)
        rx = np.exp(1j * x[:, self.tx_size : end]).reshape(-1, self.layers_rx, self.atoms_rx)
        powers = (
            softmax_powers(x[:, end:], self.block.budget_w) if self.joint else self.powers_w[rows]
        )
        return tx, rx, powers

    def scales(self, x: np.ndarray, rows: np.ndarray, exponent: float) -> np.ndarray:
        """Coordinate scales ``(b, P)`` of the trials ``rows`` at ``x``: ``(d / mean d)^exponent``
        on the angles (``d`` the curvature diagonal, floored at ``CURVATURE_FLOOR`` of its
        mean), 1 on the power logits."""
        scales = np.ones((len(rows), x.shape[1]))
        if exponent == 0.0:
            return scales
        tx, rx, powers = self.unpack(x[rows], rows)
        curvature = np.concatenate(
            [
                part.reshape(len(rows), -1)
                for part in self.block.curvature_diagonal(tx, rx, powers, rows)
            ],
            axis=1,
        )
        mean = curvature.mean(axis=1, keepdims=True)
        relative = np.maximum(curvature, CURVATURE_FLOOR * mean) / np.where(mean > 0.0, mean, 1.0)
        scales[:, : curvature.shape[1]] = np.where(mean > 0.0, relative, 1.0) ** exponent
        return scales

    def __call__(self, x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tx, rx, powers = self.unpack(x, rows)
        result = self.block.rate_gradients(tx, rx, powers, rows)
        parts = [
            angle_gradient(result.tx, tx).reshape(len(x), -1),
            angle_gradient(result.rx, rx).reshape(len(x), -1),
        ]
        if self.joint:
            weighted = result.powers * powers
            parts.append(
                weighted - powers * weighted.sum(axis=1, keepdims=True) / powers.sum(1)[:, None]
            )
        return -result.rates_bps_hz, -np.concatenate(parts, axis=1)


def maximise_rates(
    block: LinkBlock,
    allocator: HmimoPowerAllocator,
    tx: np.ndarray,
    rx: np.ndarray,
    powers_w: np.ndarray,
    settings: AscentSettings,
) -> AscentResult:
    """Maximise eq. (5) for every trial of ``block`` from the given phases and powers."""
    if settings.power_schedule not in POWER_SCHEDULES:
        raise ValueError(f"power_schedule must be one of {POWER_SCHEDULES}")
    objective = _Objective(block, powers_w.copy(), settings.power_schedule == "joint")
    x = objective.coordinates(tx, rx, powers_w)
    trials = len(block)
    rates = block.rates_bps_hz(tx, rx, powers_w)
    trace = [rates.copy()]
    active = np.ones(trials, dtype=bool)
    rounds = np.zeros(trials, dtype=int)
    evaluations = np.ones(trials, dtype=int)
    started = time.perf_counter()
    elapsed = [0.0]
    guarded = np.full(trials, settings.min_power_share > 0.0)
    floor_w = settings.min_power_share * block.budget_w / block.antennas
    for _ in range(settings.rounds):
        if not active.any():
            break
        scales = np.ones_like(x)
        scales[active] = objective.scales(
            x, np.flatnonzero(active), settings.preconditioner_exponent
        )
        result = minimise_lbfgs_block(
            _Scaled(objective, scales),
            x * scales,
            memory=settings.memory,
            max_iterations=settings.iterations_per_round,
            first_step=settings.first_step_rad,
            active=active,
        )
        x = result.point / scales
        evaluations += result.evaluations
        if settings.preconditioner_exponent != 0.0:
            evaluations[active] += 1  # the curvature pass costs about one evaluation
        tx_now, rx_now, powers_now = objective.unpack(x, np.arange(trials))
        step = _power_step(block, allocator, tx_now, rx_now, powers_now, active)
        starving = step.raises & (step.candidates < floor_w).any(axis=1)
        held = guarded & starving
        take = step.raises & ~held
        stalled = active & (
            np.where(take, step.candidate_rates, step.rates) - rates
            <= settings.tolerance * np.abs(rates)
        )
        released = stalled & held  # phases converged with every stream on: the guard ends
        take |= released
        guarded &= ~released
        powers_now[take] = step.candidates[take]
        rates_now = np.where(take, step.candidate_rates, step.rates)
        if objective.joint:
            x[active, -block.antennas :] = power_logits(powers_now[active])
        else:
            objective.powers_w[active] = powers_now[active]
        new_rates = np.where(active, rates_now, rates)
        evaluations[active] += 1
        rounds[active] += 1
        active &= new_rates - rates > settings.tolerance * np.abs(rates)
        rates = new_rates
        trace.append(rates.copy())
        elapsed.append(time.perf_counter() - started)
    tx, rx, powers_w = objective.unpack(x, np.arange(trials))
    return AscentResult(tx, rx, powers_w, np.array(trace), rounds, evaluations, np.array(elapsed))


@dataclass(frozen=True)
class _PowerStep:
    """The power slot's answer per trial (rows of inactive trials repeat the current powers)."""

    rates: np.ndarray
    """``(B,)`` rates with the current powers."""
    candidates: np.ndarray
    """``(B, S)`` the power slot's powers."""
    candidate_rates: np.ndarray
    """``(B,)`` rates with them."""

    @property
    def raises(self) -> np.ndarray:
        """Trials whose candidate is at least as good as their current powers."""
        return self.candidate_rates >= self.rates


def _power_step(block, allocator, tx, rx, powers_w, active) -> _PowerStep:
    """The power slot per active trial, started from the current powers (one forward pass for
    the block)."""
    channels = block.effective_channels(tx, rx)
    rates = rates_bps_hz(channels, powers_w, block.noise_w)
    candidates, candidate_rates = powers_w.copy(), rates.copy()
    for trial in np.flatnonzero(active):
        candidates[trial] = allocator.allocate(
            channels[trial], block.noise_w, block.budget_w, initial_w=powers_w[trial]
        )
        candidate_rates[trial] = rates_bps_hz(channels[trial], candidates[trial], block.noise_w)
    return _PowerStep(rates, candidates, candidate_rates)
