"""One trial's SIM-aided HMIMO link: hops, channel, effective channel, rate and its gradient.

The whole link is one *cascade* in propagation order (antennas of the TX to antennas of the RX)

    H = M_P diag(phi_P) M_{P-1} ... M_1 diag(phi_1) M_0,                         (paper eq. (4))

with ``M_0 .. M_{L-1} = Omega_T^1 .. Omega_T^L``, ``M_L = H~``, ``M_{L+1} .. M_{L+K} =
Omega_R^K .. Omega_R^1`` and ``phi = theta_T^1 .. theta_T^L, theta_R^K .. theta_R^1``.
Propagating the ``S`` antenna columns through the cascade costs O((L N^2 + K M^2 + N M) S); the
adjoint (backward) pass of Theorem 1 gives the gradient for every layer at the same cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LN2 = float(np.log(2.0))


def stream_sinr(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Per-stream SINR (linear) of eq. (5): ``|H_ss|^2 p_s / (sum_{j!=s} |H_sj|^2 p_j + s^2)``."""
    received = np.abs(channel) ** 2 * powers_w[None, :]
    signal = np.diag(received)
    return signal / (received.sum(axis=1) - signal + noise_w)


def interference_w(channel: np.ndarray, powers_w: np.ndarray) -> np.ndarray:
    """Inter-stream interference power per receive antenna, ``sum_{j!=s} |H_sj|^2 p_j`` (W)."""
    received = np.abs(channel) ** 2 * powers_w[None, :]
    return received.sum(axis=1) - np.diag(received)


def rate_bps_hz(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> float:
    """Achievable rate of eq. (5) in bit/s/Hz."""
    return float(np.sum(np.log2(1.0 + stream_sinr(channel, powers_w, noise_w))))


def rate_channel_gradient(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Euclidean gradient ``dR/dRe H + j dR/dIm H`` of the rate (5) w.r.t. the ``S x S`` channel.

    With ``T_s = sum_j |H_sj|^2 p_j + s^2`` and ``U_s = T_s - |H_ss|^2 p_s``,
    ``R = sum_s log2 T_s - log2 U_s`` and ``d|H_sj|^2 = 2 H_sj`` in this convention.
    """
    received = np.abs(channel) ** 2 * powers_w[None, :]
    total = received.sum(axis=1) + noise_w
    impairment = total - np.diag(received)  # interference plus noise, U_s
    weight = powers_w[None, :] / total[:, None] - powers_w[None, :] / impairment[:, None]
    np.fill_diagonal(weight, powers_w / total)
    return 2.0 * channel * weight / LN2


@dataclass(frozen=True)
class HmimoLink:
    """The hops and the channel of one trial, and everything an optimiser evaluates on them.

    ``tx_hops``: ``Omega_T^1`` (``N x S``, antennas to layer 1), then ``Omega_T^l`` (``N x N``,
    layer ``l-1`` to layer ``l``). ``rx_hops``: ``Omega_R^1`` (``S x M``, RX layer 1 to the
    antennas), then ``Omega_R^k`` (``M x M``, RX layer ``k`` to layer ``k-1``), so that
    ``V_R = Omega_R^1 Theta_R^1 ... Omega_R^K Theta_R^K`` (paper eq. (3)). ``channel``: ``H~``
    (``M x N``). ``noise_w``: ``sigma^2``; ``budget_w``: ``P_t``.
    """

    tx_hops: tuple[np.ndarray, ...]
    rx_hops: tuple[np.ndarray, ...]
    channel: np.ndarray
    noise_w: float
    budget_w: float

    @property
    def antennas(self) -> int:
        return self.tx_hops[0].shape[1]

    @property
    def tx_layers(self) -> int:
        return len(self.tx_hops)

    @property
    def rx_layers(self) -> int:
        return len(self.rx_hops)

    @property
    def tx_atoms(self) -> int:
        return self.tx_hops[0].shape[0]

    @property
    def rx_atoms(self) -> int:
        return self.rx_hops[0].shape[1]

    @property
    def cascade(self) -> tuple[np.ndarray, ...]:
        """``M_0 .. M_P`` of the module docstring, in propagation order."""
        return (*self.tx_hops, self.channel, *reversed(self.rx_hops))

    def cascade_phases(self, tx_phases: np.ndarray, rx_phases: np.ndarray) -> list[np.ndarray]:
        """``phi_1 .. phi_P``: the TX layers 1..L, then the RX layers K..1."""
        return [*tx_phases, *rx_phases[::-1]]

    def split_cascade(self, values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`cascade_phases`: ``(L x N, K x M)`` arrays in the paper's order."""
        tx = np.array(values[: self.tx_layers])
        rx = np.array(values[self.tx_layers :][::-1])
        return tx, rx

    def random_phases(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Independent uniformly distributed phases ``(L x N, K x M)``."""
        tx = np.exp(2j * np.pi * rng.random((self.tx_layers, self.tx_atoms)))
        rx = np.exp(2j * np.pi * rng.random((self.rx_layers, self.rx_atoms)))
        return tx, rx

    def forward_states(self, phases: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """``Y_i`` (the field entering ``phi_i``, ``n_i x S``) for every phase, and ``H``."""
        matrices = self.cascade
        state = matrices[0]
        states = []
        for phase, matrix in zip(phases, matrices[1:], strict=True):
            states.append(state)
            state = matrix @ (phase[:, None] * state)
        return states, state

    def effective_channel(self, tx_phases: np.ndarray, rx_phases: np.ndarray) -> np.ndarray:
        """``H = V_R H~ V_T`` (``S x S``, eq. (4)) by propagating the ``S`` antenna columns."""
        return self.forward_states(self.cascade_phases(tx_phases, rx_phases))[1]

    def rate_bps_hz(self, channel: np.ndarray, powers_w: np.ndarray) -> float:
        """Rate (5) of the effective ``channel`` with ``powers_w`` and this link's noise."""
        return rate_bps_hz(channel, powers_w, self.noise_w)

    def phase_gradients(
        self, phases: list[np.ndarray], states: list[np.ndarray], channel_gradient: np.ndarray
    ) -> list[np.ndarray]:
        """Adjoint pass: the Euclidean gradient w.r.t. every ``phi_i`` of a real function of H.

        For ``H = A diag(phi_i) B`` (``B = Y_i``) and ``G = df/dRe H + j df/dIm H`` the gradient
        is ``diag(A^H G B^H)``; ``A^H G`` is carried backwards through the cascade (Theorem 1).
        """
        matrices = self.cascade
        adjoint = matrices[-1].conj().T @ channel_gradient
        gradients: list[np.ndarray] = [np.empty(0)] * len(phases)
        for i in range(len(phases) - 1, -1, -1):
            gradients[i] = np.sum(adjoint * states[i].conj(), axis=1)
            if i:
                adjoint = matrices[i].conj().T @ (phases[i].conj()[:, None] * adjoint)
        return gradients

    def rate_and_gradient(
        self, tx_phases: np.ndarray, rx_phases: np.ndarray, powers_w: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Rate (5) and its Euclidean gradients ``(L x N, K x M)`` w.r.t. the phases (Theorem 1).

        The gradient convention is ``df/dRe theta + j df/dIm theta`` (twice the Wirtinger
        derivative w.r.t. ``conj(theta)``), the one Riemannian optimisers on the complex circle
        expect. One forward and one backward pass: O((L N^2 + K M^2 + N M) S).
        """
        phases = self.cascade_phases(tx_phases, rx_phases)
        states, channel = self.forward_states(phases)
        gradient = rate_channel_gradient(channel, powers_w, self.noise_w)
        tx_gradient, rx_gradient = self.split_cascade(
            self.phase_gradients(phases, states, gradient)
        )
        return rate_bps_hz(channel, powers_w, self.noise_w), tx_gradient, rx_gradient
