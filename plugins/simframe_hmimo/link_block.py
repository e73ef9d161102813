"""A block of trials of one sweep point: shared hops, one channel ``H~`` per trial (batched link).

Every trial of a sweep point has the same SIM hops; only ``H~`` (and the phases) differ. The
fields of all trials are therefore stacked side by side, ``N x (B S)``, so that one hop
multiplies every trial's field in a single product; the channel ``H~`` is a batched product
``(B, M, N) @ (B, N, S)``. The adjoint pass (Theorem 1) is batched the same way, with the
conjugate-transposed hops formed once per block rather than once per evaluation. Rates and
gradients of a trial equal those of :class:`~simframe_hmimo.interfaces.HmimoLink` for that
trial to round-off, and have the same bits whichever trials share the block (see
``COLUMN_PANEL``).

Layouts: phases ``(B, L, N)`` / ``(B, K, M)`` complex, powers ``(B, S)`` W. Fields inside are
``(atoms, B, S)`` so that the hop products need no copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from simframe_metasurface.torus_lbfgs import select_rows

from simframe_hmimo.backend import Backend
from simframe_hmimo.interfaces import HmimoLink, SimShapes
from simframe_hmimo.link import (
    curvature_weights,
    rate_channel_gradient,
    rate_power_gradient,
    rates_bps_hz,
)

COLUMN_PANEL = 4
"""On numpy, a hop multiplies fields padded with zero columns to a multiple of this width.
OpenBLAS computes a product's columns in panels (zgemm: 4 wide on x86-64 SkylakeX, 2 on
Haswell) and the last, narrower columns with other kernels that round differently, so without
padding a trial's bits would depend on how many trials share the product. With S = 4 streams
nothing is padded. Measured on OpenBLAS 0.3.31 (SkylakeX); other BLAS builds are not checked
(tests/hmimo/test_link_block.py would show it: a subset of a block must give the same bits)."""


@dataclass(frozen=True)
class RateGradients:
    """Rate eq. (5) per trial and its gradients (Theorem 1 for the phases).

    ``tx``/``rx`` are Euclidean gradients ``dR/dRe(theta) + 1j dR/dIm(theta)`` (the convention of
    :meth:`HmimoLink.rate_gradient`); ``powers`` is ``dR/dp`` in bit/s/Hz per W.
    """

    rates_bps_hz: np.ndarray
    tx: np.ndarray
    rx: np.ndarray
    powers: np.ndarray


@dataclass(frozen=True)
class LinkBlock(SimShapes):
    """Trials of one sweep point as a phase optimiser sees them (see :class:`HmimoLink`).

    ``channels`` is ``(B, M, N)``, one ``H~`` per trial (what the optimiser may design on);
    ``tx_hops``/``rx_hops``, ``noise_w`` and ``budget_w`` are shared. ``backend`` says where the
    hop products run; arguments and results are numpy arrays either way.
    """

    tx_hops: tuple[np.ndarray, ...]
    rx_hops: tuple[np.ndarray, ...]
    channels: np.ndarray
    noise_w: float
    budget_w: float
    backend: Backend = field(default_factory=Backend)

    @classmethod
    def of_links(cls, links: list[HmimoLink], backend: Backend | None = None) -> LinkBlock:
        """The block of ``links``, which must share hops, noise and budget."""
        first = links[0]
        for link in links[1:]:
            if (
                link.tx_hops is not first.tx_hops
                or link.rx_hops is not first.rx_hops
                or link.noise_w != first.noise_w
                or link.budget_w != first.budget_w
            ):
                raise ValueError("the links of a block must share hops, noise and budget")
        return cls(
            first.tx_hops,
            first.rx_hops,
            np.stack([link.channel for link in links]),
            first.noise_w,
            first.budget_w,
            backend or Backend(),
        )

    def __len__(self) -> int:
        return len(self.channels)

    def link(self, trial: int) -> HmimoLink:
        """The per-trial link of trial ``trial`` of the block."""
        return HmimoLink(
            self.tx_hops, self.rx_hops, self.channels[trial], self.noise_w, self.budget_w
        )

    @cached_property
    def _operators(self) -> dict[str, Any]:
        """Hops, their conjugate transposes and the channels on the backend, formed once."""
        to = self.backend.asarray
        return {
            "tx": [to(hop) for hop in self.tx_hops],
            "tx_h": [to(np.ascontiguousarray(hop.conj().T)) for hop in self.tx_hops],
            "rx": [to(hop) for hop in self.rx_hops],
            "rx_h": [to(np.ascontiguousarray(hop.conj().T)) for hop in self.rx_hops],
            "channels": to(self.channels),
            "channels_h": to(np.ascontiguousarray(self.channels.conj().swapaxes(1, 2))),
        }

    def _propagate(self, tx, rx, rows) -> tuple[list[Any], list[Any], Any]:
        """Fields ``(atoms, b, S)`` at TX layers 1..L and RX layers 1..K; ``H`` ``(b, S, S)``."""
        ops, xp = self._operators, self.backend.xp
        trials, antennas = tx.shape[0], self.antennas
        first = ops["tx"][0]
        tx_fields = [xp.broadcast_to(first[:, None, :], (first.shape[0], trials, antennas))]
        for layer in range(1, len(ops["tx"])):
            tx_fields.append(
                self._hop(ops["tx"][layer], tx[:, layer - 1].T[:, :, None] * tx_fields[-1])
            )
        v_t = tx[:, -1].T[:, :, None] * tx_fields[-1]
        channels = select_rows(ops["channels"], rows)
        at_rx = (channels @ v_t.swapaxes(0, 1)).swapaxes(0, 1)
        rx_fields = [at_rx]
        for layer in range(len(ops["rx"]) - 1, -1, -1):
            rx_fields.append(
                self._hop(ops["rx"][layer], rx[:, layer].T[:, :, None] * rx_fields[-1])
            )
        effective = rx_fields.pop().swapaxes(0, 1)
        return tx_fields, rx_fields[::-1], effective

    def _hop(self, matrix: Any, field: Any) -> Any:
        """``matrix @ field`` for a field ``(atoms, b, S)``: one product over all trials'
        columns. On numpy the columns are C-ordered (a column-major view would reach BLAS
        transposed, through other kernels) and padded to whole ``COLUMN_PANEL``-wide panels."""
        atoms, trials, antennas = field.shape
        width = trials * antennas
        columns = field.reshape(atoms, width)
        if self.backend.name != "numpy":
            return (matrix @ columns).reshape(-1, trials, antennas)
        pad = -width % COLUMN_PANEL
        if pad == 0:
            return (matrix @ np.ascontiguousarray(columns)).reshape(-1, trials, antennas)
        padded = np.zeros((atoms, width + pad), dtype=np.result_type(matrix, columns))
        padded[:, :width] = columns
        return np.ascontiguousarray((matrix @ padded)[:, :width]).reshape(-1, trials, antennas)

    def _phases(self, tx: np.ndarray, rx: np.ndarray) -> tuple[Any, Any]:
        return self.backend.asarray(tx), self.backend.asarray(rx)

    def effective_channels(
        self, tx: np.ndarray, rx: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """``H = V_R H~ V_T`` per trial, ``(b, S, S)`` (eq. (4)); ``rows`` picks trials."""
        tx_b, rx_b = self._phases(tx, rx)
        return self.backend.to_numpy(self._propagate(tx_b, rx_b, rows)[2])

    def rates_bps_hz(
        self, tx: np.ndarray, rx: np.ndarray, powers_w: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Eq. (5) per trial."""
        return rates_bps_hz(self.effective_channels(tx, rx, rows), powers_w, self.noise_w)

    def rate_gradients(
        self, tx: np.ndarray, rx: np.ndarray, powers_w: np.ndarray, rows: np.ndarray | None = None
    ) -> RateGradients:
        """Rates and gradients of the trials ``rows`` (all when ``None``) by one batched forward
        and one batched adjoint pass (Theorem 1; see :func:`simframe_hmimo.link.backpropagate`).
        """
        backend = self.backend
        tx_b, rx_b = self._phases(tx, rx)
        tx_fields, rx_fields, effective_b = self._propagate(tx_b, rx_b, rows)
        effective = backend.to_numpy(effective_b)
        g = backend.asarray(rate_channel_gradient(effective, powers_w, self.noise_w))

        def layer_gradient(adjoint, forward):
            return backend.xp.einsum("nbs,nbs->bn", adjoint, forward.conj())

        grad_tx, grad_rx = self._adjoint_pass(
            tx_b, rx_b, rows, g, tx_fields, rx_fields, layer_gradient
        )
        return RateGradients(
            rates_bps_hz(effective, powers_w, self.noise_w),
            grad_tx,
            grad_rx,
            rate_power_gradient(effective, powers_w, self.noise_w),
        )

    def curvature_diagonal(
        self, tx: np.ndarray, rx: np.ndarray, powers_w: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Newton estimate of the rate's curvature along every meta-atom's angle,
        ``(b, L, N)`` and ``(b, K, M)`` for the trials ``rows`` (all when ``None``), up to a
        common factor (only ratios are meant).

        For one layer ``H = A diag(theta) F`` (``F`` the field arriving at the layer, ``A``
        everything after it), so atom ``n`` moves ``H`` along ``c_n = A[:, n] F[n, :]``. A nulled
        interference entry ``H_sj`` then grows as ``|c_sjn|^2 dphi^2``, and eq. (5) weighs it by
        ``p_j / (I_s + sigma^2)``; the signal entries by ``p_s / T_s``. The estimate is
        ``d_n = sum_sj w_sj |A_sn|^2 |F_nj|^2`` with those weights: the Gauss-Newton diagonal of
        the rate where the interference is nulled. ``A`` comes from the adjoint pass of
        Theorem 1 seeded with the identity (one extra pass, no gradient).
        """
        backend, xp = self.backend, self.backend.xp
        tx_b, rx_b = self._phases(tx, rx)
        tx_fields, rx_fields, effective_b = self._propagate(tx_b, rx_b, rows)
        effective = backend.to_numpy(effective_b)
        weights_b = backend.asarray(curvature_weights(effective, powers_w, self.noise_w))
        identity = backend.asarray(
            np.broadcast_to(np.eye(self.antennas, dtype=complex), effective.shape).copy()
        )

        def layer_curvature(adjoint, forward):
            # sum_j w_sj |F_nj|^2, then sum_s |A_sn|^2 times it, in this order for every block
            # (a three-operand einsum picks its summation order by the operands' shapes)
            seen = (xp.abs(forward) ** 2).swapaxes(0, 1) @ weights_b.swapaxes(1, 2)
            return ((xp.abs(adjoint) ** 2).swapaxes(0, 1) * seen).sum(-1)

        return self._adjoint_pass(tx_b, rx_b, rows, identity, tx_fields, rx_fields, layer_curvature)

    def _adjoint_pass(self, tx_b, rx_b, rows, seed, tx_fields, rx_fields, per_layer):
        """Carry ``A^H seed`` backwards through the RX layers, ``H~`` and the TX layers (``A``
        everything after the layer, ``seed`` ``(b, S, S)``) and apply ``per_layer(adjoint,
        forward)`` (``(atoms, b, S)`` each) at every layer; returns the stacked TX and RX
        results as numpy arrays ``(b, L, N)`` and ``(b, K, M)``."""
        ops, backend = self._operators, self.backend
        rx_conj, tx_conj = rx_b.conj(), tx_b.conj()
        at_rx = []
        adjoint = self._hop(ops["rx_h"][0], seed.swapaxes(0, 1))
        for layer in range(len(ops["rx"])):
            at_rx.append(per_layer(adjoint, rx_fields[layer]))
            continued = rx_conj[:, layer].T[:, :, None] * adjoint
            if layer + 1 < len(ops["rx"]):
                adjoint = self._hop(ops["rx_h"][layer + 1], continued)
        channels_h = select_rows(ops["channels_h"], rows)
        adjoint = (channels_h @ continued.swapaxes(0, 1)).swapaxes(0, 1)
        at_tx = [None] * len(ops["tx"])
        for layer in range(len(ops["tx"]) - 1, -1, -1):
            at_tx[layer] = per_layer(adjoint, tx_fields[layer])
            if layer > 0:
                adjoint = self._hop(ops["tx_h"][layer], tx_conj[:, layer].T[:, :, None] * adjoint)
        xp = backend.xp
        return backend.to_numpy(xp.stack(at_tx, 1)), backend.to_numpy(xp.stack(at_rx, 1))
