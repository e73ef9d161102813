"""Effective channel, rate (eq. (5)) and its adjoint gradient (Theorem 1) of a SIM-aided link.

Everything propagates the S antenna columns through the layers, O(L N^2 S + K M^2 S), instead
of forming the N x N products of the paper's complexity analysis. The gradient needs one forward
pass (the field arriving at every layer) and one backward (adjoint) pass.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from simframe_hmimo.interfaces import HmimoLink

LN2 = np.log(2.0)


def tx_fields(link: HmimoLink, tx_phases: np.ndarray) -> list[np.ndarray]:
    """Fields (N x S) arriving at TX layers 1..L, before their phases, and ``V_T`` last."""
    fields = [link.tx_hops[0]]
    for layer in range(1, len(link.tx_hops)):
        fields.append(link.tx_hops[layer] @ (tx_phases[layer - 1][:, None] * fields[-1]))
    fields.append(tx_phases[-1][:, None] * fields[-1])
    return fields


def rx_fields(link: HmimoLink, rx_phases: np.ndarray, incoming: np.ndarray) -> list[np.ndarray]:
    """Fields arriving at RX layers K..1 (``incoming`` = ``H~ V_T`` at layer K), then ``H``.

    Returned in paper order: entry ``k`` is the field at RX layer ``k + 1`` (M x S), the last
    entry is the effective channel ``H`` (S x S).
    """
    fields = [incoming]
    for layer in range(len(link.rx_hops) - 1, -1, -1):
        fields.append(link.rx_hops[layer] @ (rx_phases[layer][:, None] * fields[-1]))
    at_layers = fields[:-1][::-1]
    return [*at_layers, fields[-1]]


def effective_channel(link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray) -> np.ndarray:
    """``H = V_R H~ V_T`` (paper eq. (4)) by column propagation."""
    return propagate(link, tx_phases, rx_phases)[1][-1]


def stream_powers(channel: np.ndarray, powers_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Received signal power ``|H_ss|^2 p_s`` and interference ``sum_{j!=s} |H_sj|^2 p_j`` (W).

    ``channel`` is ``(..., S, S)`` and ``powers_w`` ``(..., S)``: leading axes are trials.
    """
    received = np.abs(channel) ** 2 * powers_w[..., None, :]
    signal = np.diagonal(received, axis1=-2, axis2=-1).copy()
    return signal, received.sum(axis=-1) - signal


def sinr(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Per-stream signal-to-interference-plus-noise ratio (linear), the argument of eq. (5)."""
    signal, interference = stream_powers(channel, powers_w)
    return signal / (interference + noise_w)


def rates_bps_hz(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Eq. (5) per trial for channels ``(..., S, S)``: ``sum_s log2(1 + SINR_s)``."""
    return np.sum(np.log2(1.0 + sinr(channel, powers_w, noise_w)), axis=-1)


def rate_bps_hz(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> float:
    """Achievable rate, paper eq. (5): ``sum_s log2(1 + SINR_s)``."""
    return float(rates_bps_hz(channel, powers_w, noise_w))


def _rate_weights(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``w_sj = (1/T_s - [j != s]/I_s) / ln 2`` with ``T_s = sum_j |H_sj|^2 p_j + sigma^2`` and
    ``I_s = T_s - |H_ss|^2 p_s``: ``dR/d|H_sj|^2 = p_j w_sj`` and ``dR/dp_j = sum_s |H_sj|^2 w_sj``.
    """
    signal, interference = stream_powers(channel, powers_w)
    interference_noise = interference + noise_w
    total = signal + interference_noise
    off_diagonal = 1.0 - np.eye(channel.shape[-1])
    return (1.0 / total[..., :, None] - off_diagonal / interference_noise[..., :, None]) / LN2


def rate_channel_gradient(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``dR/dRe H + 1j dR/dIm H`` of eq. (5) (leading axes are trials).

    ``R = sum_s log2(T_s) - log2(I_s)`` with ``T_s = sum_j |H_sj|^2 p_j + sigma^2`` and
    ``I_s = T_s - |H_ss|^2 p_s``; the gradient of ``|H_sj|^2`` is ``2 H_sj``.
    """
    return 2.0 * channel * powers_w[..., None, :] * _rate_weights(channel, powers_w, noise_w)


def curvature_weights(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """Weights of the Gauss-Newton curvature of eq. (5) where the interference is nulled:
    ``p_j / (I_s + sigma^2)`` for ``j != s``, ``p_s / T_s`` for ``j = s`` (leading axes are
    trials; see :meth:`~simframe_hmimo.link_block.LinkBlock.curvature_diagonal`)."""
    signal, interference = stream_powers(channel, powers_w)
    weights = powers_w[..., None, :] / (interference + noise_w)[..., :, None]
    streams = np.arange(channel.shape[-1])
    weights[..., streams, streams] = powers_w / (signal + interference + noise_w)
    return weights


def rate_power_gradient(channel: np.ndarray, powers_w: np.ndarray, noise_w: float) -> np.ndarray:
    """``dR/dp_j`` of eq. (5) in bit/s/Hz per W (leading axes are trials)."""
    weights = _rate_weights(channel, powers_w, noise_w)
    return np.sum(np.abs(channel) ** 2 * weights, axis=-2)


def rate_gradient(
    link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray, powers_w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Rate eq. (5) and its gradients w.r.t. every TX and RX phase (Theorem 1), adjoint method."""
    forward_tx, forward_rx = propagate(link, tx_phases, rx_phases)
    channel = forward_rx[-1]
    g = rate_channel_gradient(channel, powers_w, link.noise_w)
    grad_tx, grad_rx = backpropagate(link, tx_phases, rx_phases, forward_tx, forward_rx, g)
    return rate_bps_hz(channel, powers_w, link.noise_w), grad_tx, grad_rx


def propagate(
    link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward pass: :func:`tx_fields` and :func:`rx_fields` (the last entry is ``H``)."""
    forward_tx = tx_fields(link, tx_phases)
    return forward_tx, rx_fields(link, rx_phases, link.channel @ forward_tx[-1])


def backpropagate(
    link: HmimoLink,
    tx_phases: np.ndarray,
    rx_phases: np.ndarray,
    forward_tx: list[np.ndarray],
    forward_rx: list[np.ndarray],
    g: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients w.r.t. the phases of a real function of ``H`` whose gradient w.r.t. ``H`` is ``g``.

    With ``H = A diag(theta) B`` for one layer (``B`` the field arriving at the layer, ``A``
    everything after it), ``df/dtheta_n = sum_j (A^H g)[n, j] conj(B[n, j])``; ``A^H g`` is
    carried backwards one hop at a time, O(L N^2 S + K M^2 S) in all.
    """
    grad_rx = np.empty(rx_phases.shape, dtype=complex)
    adjoint = link.rx_hops[0].conj().T @ g  # C_1^H g with C_1 = Omega^1_R
    for layer in range(len(link.rx_hops)):
        grad_rx[layer] = np.einsum("ns,ns->n", adjoint, forward_rx[layer].conj())
        if layer + 1 < len(link.rx_hops):
            adjoint = link.rx_hops[layer + 1].conj().T @ (
                rx_phases[layer].conj()[:, None] * adjoint
            )

    grad_tx = np.empty(tx_phases.shape, dtype=complex)
    # A_L^H g = H~^H V_R^H g, where V_R^H g continues the RX adjoint through RX layer K.
    adjoint = link.channel.conj().T @ (rx_phases[-1].conj()[:, None] * adjoint)
    for layer in range(len(link.tx_hops) - 1, -1, -1):
        grad_tx[layer] = np.einsum("ns,ns->n", adjoint, forward_tx[layer].conj())
        if layer > 0:
            adjoint = link.tx_hops[layer].conj().T @ (tx_phases[layer].conj()[:, None] * adjoint)
    return grad_tx, grad_rx


def _product(matrices: list[np.ndarray], size: int) -> np.ndarray:
    """``matrices[0] @ matrices[1] @ ...``, the identity of ``size`` when empty."""
    return reduce(np.matmul, matrices, np.eye(size, dtype=complex))


def dense_rate_gradient(
    link: HmimoLink, tx_phases: np.ndarray, rx_phases: np.ndarray, powers_w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Reference of :func:`rate_gradient` multiplying out matrix products (benchmark only).

    For every layer it forms ``A`` (everything after the layer) and ``B`` (the field before it)
    from N x N products, as the paper's complexity analysis does: O(L^2 N^3).
    """
    (_, n_tx), (_, n_rx), antennas = link.tx_shape, link.rx_shape, link.antennas
    tx_ops = [phases[:, None] * hop for phases, hop in zip(tx_phases, link.tx_hops, strict=True)]
    rx_ops = [hop * phases[None, :] for phases, hop in zip(rx_phases, link.rx_hops, strict=True)]
    v_t = _product(tx_ops[::-1], n_tx)
    v_r = _product(rx_ops, antennas)
    channel = v_r @ link.channel @ v_t
    g = rate_channel_gradient(channel, powers_w, link.noise_w)

    grad_tx = np.empty(tx_phases.shape, dtype=complex)
    for layer, hop in enumerate(link.tx_hops):
        before = hop if layer == 0 else hop @ _product(tx_ops[:layer][::-1], n_tx)
        after = v_r @ link.channel @ _product(tx_ops[layer + 1 :][::-1], n_tx)
        grad_tx[layer] = np.einsum("ns,ns->n", after.conj().T @ g, before.conj())
    grad_rx = np.empty(rx_phases.shape, dtype=complex)
    for k in range(len(rx_ops)):
        before = _product(rx_ops[k + 1 :], n_rx) @ link.channel @ v_t
        after = _product(rx_ops[:k], antennas) @ link.rx_hops[k]
        grad_rx[k] = np.einsum("ns,ns->n", after.conj().T @ g, before.conj())
    return rate_bps_hz(channel, powers_w, link.noise_w), grad_tx, grad_rx
