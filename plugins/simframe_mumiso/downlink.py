"""Effective channel, SINR, sum rate and its exact gradient for a block of downlink trials.

Every trial of a sweep point shares the SIM's hops; only the users' channel ``G`` and the
phases differ. The fields of all trials are stacked side by side, ``N x (B K)``, so that one
hop multiplies every trial's field in a single product; ``G`` enters as a batched product
``(B, K, N) @ (B, N, K)``. The gradient of the sum rate w.r.t. every meta-atom's angle comes from
one forward and one adjoint pass, O(L N^2 K) per trial: no N x N product is ever formed.

Same bits whatever the block: a trial's numbers never depend on which trials share its block
(tests/mumiso/test_downlink.py checks it). Hop products pad the stacked columns to whole
``COLUMN_PANEL``-wide panels (OpenBLAS rounds a product's last, narrower columns with other
kernels), and every elementwise operation whose inner loop would run over the whole block
(where numpy's vectorised body and scalar tail round complex products differently) is written
in real arithmetic.

Layouts: phases ``(B, L, N)`` complex, powers ``(B, K)`` W, effective channels ``(B, K, K)``;
fields inside are ``(N, B, K)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from simframe_metasurface.torus_lbfgs import select_rows

LN2 = np.log(2.0)
COLUMN_PANEL = 4
"""A hop multiplies the stacked fields padded with zero columns to a multiple of this width:
OpenBLAS computes zgemm's columns in panels (4 wide on x86-64 SkylakeX, 2 on Haswell) and the
remainder with kernels that round differently. With K = 4 users nothing is padded."""


def gains(effective: np.ndarray) -> np.ndarray:
    """``|H_kj|^2`` in real arithmetic (leading axes are trials)."""
    return effective.real**2 + effective.imag**2


def received_powers(effective: np.ndarray, powers_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal ``p_k |H_kk|^2`` and interference ``sum_{j != k} p_j |H_kj|^2`` at every user (W).

    ``effective`` is ``(..., K, K)`` (row k: user k; column j: stream j), ``powers_w``
    ``(..., K)``.
    """
    received = gains(effective) * powers_w[..., None, :]
    signal = np.diagonal(received, axis1=-2, axis2=-1).copy()
    return signal, received.sum(axis=-1) - signal


def sinr(effective: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``SINR_k = p_k |H_kk|^2 / (sum_{j != k} p_j |H_kj|^2 + sigma^2)`` (linear)."""
    signal, interference = received_powers(effective, powers_w)
    return signal / (interference + noise_w)


def user_rates_bps_hz(effective: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``log2(1 + SINR_k)`` per user, ``(..., K)``."""
    return np.log2(1.0 + sinr(effective, powers_w, noise_w))


def sum_rates_bps_hz(effective: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``R = sum_k log2(1 + SINR_k)`` per trial, ``(...)``."""
    return user_rates_bps_hz(effective, powers_w, noise_w).sum(axis=-1)


def sum_rate_channel_gradient(
    effective: np.ndarray, powers_w: np.ndarray, noise_w: float
) -> np.ndarray:
    """``dR/dRe H + 1j dR/dIm H`` of the sum rate, ``(..., K, K)``.

    ``R = sum_k log2(T_k) - log2(T_k - p_k |H_kk|^2)`` with ``T_k = sum_j p_j |H_kj|^2 +
    sigma^2``, so ``dR/d|H_kj|^2 = p_j (1 / T_k - [j != k] / I_k) / ln 2`` with ``I_k`` the
    interference plus noise; the gradient of ``|H_kj|^2`` is ``2 H_kj``. The weights are real,
    so the result is formed without a complex product.
    """
    signal, interference = received_powers(effective, powers_w)
    interference_noise = interference + noise_w
    total = signal + interference_noise
    off_diagonal = 1.0 - np.eye(effective.shape[-1])
    weights = (
        2.0
        * powers_w[..., None, :]
        * (1.0 / total[..., :, None] - off_diagonal / interference_noise[..., :, None])
        / LN2
    )
    return weights * effective.real + 1j * (weights * effective.imag)


@dataclass(frozen=True)
class RateGradients:
    """Sum rates of a block's trials, their gradients w.r.t. every angle, and ``H``."""

    sum_rates_bps_hz: np.ndarray
    """``(b,)`` in bit/s/Hz."""
    angles: np.ndarray
    """``(b, L, N)``: ``dR/dphi`` for ``theta = exp(j phi)``, in bit/s/Hz per rad."""
    effective: np.ndarray
    """``(b, K, K)`` effective channels at the phases."""


@dataclass(frozen=True)
class DownlinkBlock:
    """Trials of one sweep point as a phase optimiser sees them.

    ``hops[0]`` is ``W_1`` (N x K, antennas -> layer 1), ``hops[l]`` is ``W_{l+1}`` (N x N,
    layer l -> l + 1); ``channels`` is ``(B, K, N)``, one users' channel ``G`` per trial (what
    the optimiser may design on); ``noise_w`` is sigma^2 and ``budget_w`` the total transmit
    power, both in W. Methods take ``rows``, the trials their arguments belong to (all of them,
    in order, when ``None``).
    """

    hops: tuple[np.ndarray, ...]
    channels: np.ndarray
    noise_w: float
    budget_w: float

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def layers(self) -> int:
        return len(self.hops)

    @property
    def atoms(self) -> int:
        return self.hops[0].shape[0]

    @property
    def users(self) -> int:
        return self.hops[0].shape[1]

    @property
    def phase_shape(self) -> tuple[int, int]:
        """``(L, N)``, the shape of one trial's phases."""
        return self.layers, self.atoms

    def trial(self, index: int) -> DownlinkBlock:
        """The block of trial ``index`` alone."""
        return DownlinkBlock(
            self.hops, self.channels[index : index + 1], self.noise_w, self.budget_w
        )

    def random_phases(self, rng: np.random.Generator) -> np.ndarray:
        """Independent phases uniform on [0, 2 pi) for every meta-atom, ``(L, N)``."""
        return np.exp(2j * np.pi * rng.random(self.phase_shape))

    def equal_powers(self, trials: int) -> np.ndarray:
        """``P_t / K`` on every stream, ``(trials, K)``."""
        return np.full((trials, self.users), self.budget_w / self.users)

    @cached_property
    def _adjoint_operators(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Conjugate-transposed hops and channels, formed once per block."""
        hops_h = [np.ascontiguousarray(hop.conj().T) for hop in self.hops]
        return hops_h, np.ascontiguousarray(self.channels.conj().swapaxes(1, 2))

    def _forward(self, phases: np.ndarray, rows) -> tuple[list[np.ndarray], np.ndarray]:
        """Fields ``(N, b, K)`` arriving at layers 1..L (before their phases) and ``H``."""
        trials = len(phases)
        first = self.hops[0]
        fields = [np.broadcast_to(first[:, None, :], (self.atoms, trials, self.users))]
        leaving = _scaled(phases[:, 0], fields[0])
        for layer in range(1, self.layers):
            fields.append(_hop(self.hops[layer], leaving))
            leaving = _scaled(phases[:, layer], fields[-1])
        channels = select_rows(self.channels, rows)
        # each trial's N x K field contiguous, whatever the block: a strided one would reach
        # BLAS through other kernels (with one user, strided dot products) that round otherwise
        return fields, channels @ np.ascontiguousarray(leaving.swapaxes(0, 1))

    def effective_channels(self, phases: np.ndarray, rows=None) -> np.ndarray:
        """``H = G Phi_L W_L ... Phi_1 W_1`` per trial, ``(b, K, K)``."""
        return self._forward(phases, rows)[1]

    def sum_rates(self, phases: np.ndarray, powers_w: np.ndarray, rows=None) -> np.ndarray:
        """Sum rate per trial (bit/s/Hz) at the given phases and powers."""
        return sum_rates_bps_hz(self.effective_channels(phases, rows), powers_w, self.noise_w)

    def rate_gradients(self, phases: np.ndarray, powers_w: np.ndarray, rows=None) -> RateGradients:
        """Sum rates and their exact gradients w.r.t. every angle, powers held fixed.

        With ``H = A_l Phi_l F_l`` for layer ``l`` (``F_l`` the field arriving at it, ``A_l``
        everything after it), ``dR/dtheta_ln = sum_k (A_l^H g)[n, k] conj(F_l[n, k])`` for the
        channel gradient ``g`` (:func:`sum_rate_channel_gradient`); the adjoint ``A_l^H g`` is
        carried back one hop at a time (``A_L^H g = G^H g``, ``A_{l-1}^H g = W_l^H
        conj(Phi_l) A_l^H g``), and ``dR/dphi = Im(dR/dtheta conj(theta))``.
        """
        fields, effective = self._forward(phases, rows)
        seed = sum_rate_channel_gradient(effective, powers_w, self.noise_w)
        hops_h, channels_h = self._adjoint_operators
        adjoint = (select_rows(channels_h, rows) @ seed).swapaxes(0, 1)
        angles = np.empty(phases.shape)
        for layer in range(self.layers - 1, -1, -1):
            angles[:, layer] = _angle_gradient(adjoint, fields[layer], phases[:, layer])
            if layer > 0:
                adjoint = _hop(hops_h[layer], _scaled(phases[:, layer].conj(), adjoint))
        return RateGradients(sum_rates_bps_hz(effective, powers_w, self.noise_w), angles, effective)

    def curvature_diagonal(self, phases: np.ndarray, powers_w: np.ndarray, rows=None) -> np.ndarray:
        """Gauss-Newton estimate of the sum rate's curvature along every angle, ``(b, L, N)``,
        up to a common factor per trial (only ratios are meant).

        Atom ``n`` of layer ``l`` moves ``H = A_l Phi_l F_l`` along ``A_l[:, n] F_l[n, :]``,
        so a small turn ``dphi`` changes ``|H_kj|^2`` by about ``|A_kn|^2 |F_nj|^2 dphi^2``
        where the entry is small (a nulled interference term). Weighting each entry as the sum
        rate does near such a point, ``p_j / (I_k + sigma^2)`` off the diagonal and
        ``p_k / T_k`` on it, gives ``d_n = sum_kj w_kj |A_kn|^2 |F_nj|^2``. ``A_l^H`` comes
        from the adjoint pass seeded with the identity, at the cost of one more pass.
        """
        fields, effective = self._forward(phases, rows)
        signal, interference = received_powers(effective, powers_w)
        weights = powers_w[:, None, :] / (interference + self.noise_w)[:, :, None]
        diagonal = np.arange(self.users)
        weights[:, diagonal, diagonal] = powers_w / (signal + interference + self.noise_w)
        hops_h, channels_h = self._adjoint_operators
        adjoint = select_rows(channels_h, rows).swapaxes(0, 1)
        curvature = np.empty(phases.shape)
        for layer in range(self.layers - 1, -1, -1):
            curvature[:, layer] = _weighted_reach(adjoint, fields[layer], weights)
            if layer > 0:
                adjoint = _hop(hops_h[layer], _scaled(phases[:, layer].conj(), adjoint))
        return curvature


def _weighted_reach(adjoint: np.ndarray, field: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_kj w_kj |adjoint[n, k]|^2 |field[n, j]|^2`` per trial, ``(b, N)``, summed over
    users in order whatever the arrays' memory layout."""
    reach = np.zeros(field.shape[:2])
    power = gains(field)
    for user in range(field.shape[2]):
        seen = np.zeros(field.shape[:2])
        for stream in range(field.shape[2]):
            seen += power[:, :, stream] * weights[:, user, stream]
        reach += gains(adjoint[:, :, user]) * seen
    return reach.T


def _scaled(phases: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``diag(theta) F`` per trial: ``phases`` ``(b, N)``, ``field`` ``(N, b, K)``. The
    broadcast keeps numpy's inner loop over the K users, the same for every block."""
    return phases.T[:, :, None] * field


def _hop(matrix: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``matrix @ F`` for a field ``(N, b, K)``: one product over all trials' columns, C-ordered
    and padded to whole ``COLUMN_PANEL``-wide panels."""
    atoms, trials, users = field.shape
    width = trials * users
    pad = -width % COLUMN_PANEL
    if pad == 0:
        return (matrix @ np.ascontiguousarray(field.reshape(atoms, width))).reshape(field.shape)
    columns = np.zeros((atoms, width + pad), dtype=complex)
    columns[:, :width] = field.reshape(atoms, width)
    return np.ascontiguousarray((matrix @ columns)[:, :width]).reshape(field.shape)


def _angle_gradient(adjoint: np.ndarray, field: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """``Im(sum_k adjoint[n, k] conj(field[n, k]) conj(theta_n))``, ``(b, N)``: the sum over
    the K users of every (atom, trial) by ``einsum`` (no vectorised complex product whose
    rounding would depend on the block), the rest in real arithmetic."""
    euclidean = np.einsum("nbk,nbk->bn", adjoint, field.conj())
    return euclidean.imag * phases.real - euclidean.real * phases.imag


def unit_phasors(angles: np.ndarray) -> np.ndarray:
    """``exp(j angles)``, assembled from ``cos`` and ``sin`` (about half the cost of ``np.exp``
    on a complex array)."""
    phasors = np.empty(np.shape(angles), dtype=complex)
    np.cos(angles, out=phasors.real)
    np.sin(angles, out=phasors.imag)
    return phasors
