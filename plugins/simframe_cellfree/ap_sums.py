"""The closed-form SINR as sums over APs, so that changing one AP replaces one summand.

UE k's interference-plus-noise matrix (spec, Closed form) is diagonal plus the coherent part of
its pilot sharers, ``D_k + C_k C_k^H`` with ``D_k[l, l] = sum_i p_i Gamma_ki[l, l] - ... + b_k[l]``
and ``C_k[l, j] = sqrt(p_j) c_kj[l]`` for the ``r`` UEs j in ``P_k \\ {k}`` (r = 0 without pilot
reuse). By the Woodbury identity the LSFD SINR (paper 003 eq. (14)) is

    SINR_k / p_k = b^H D^{-1} b - v^H (I_r + C^H D^{-1} C)^{-1} v,   v = C^H D^{-1} b,

and ``b^H D^{-1} b``, ``v`` and ``C^H D^{-1} C`` are sums of one term per AP. The EGCD SINR
(eq. (20), a_k = 1) is ``p_k |sum_l b[l]|^2 / (sum_l D[l, l] + ||sum_l C[l, :]||^2)``, also sums
over APs. An AP's row of every UE's L x L system is thus one summand: a candidate change of AP l
costs ``O(K^2 + K r^2)`` instead of ``O(K L^3)``. Arrays keep the AP axis last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simframe_cellfree.closed_form import COMBINERS, SinrTerms

ApParts = tuple[np.ndarray, ...]
"""Per-AP summands of one combiner's SINR, every array with the AP axis last."""


def pilot_partners(pilots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(index, mask)`` ``(K, r)``: the UEs sharing k's pilot other than k, padded with k.

    ``r`` is the largest number of other UEs on one pilot; padded entries have mask 0.
    """
    pilots = np.asarray(pilots)
    others = [
        np.flatnonzero((pilots == pilots[k]) & (np.arange(len(pilots)) != k))
        for k in range(len(pilots))
    ]
    width = max((len(o) for o in others), default=0)
    index = np.array([[*o, *[k] * (width - len(o))] for k, o in enumerate(others)], dtype=int)
    mask = np.array([[1.0] * len(o) + [0.0] * (width - len(o)) for o in others])
    return index.reshape(len(pilots), width), mask.reshape(len(pilots), width)


@dataclass(frozen=True)
class ApRows:
    """AP l's row of UE k's system, AP axis last: ``gain`` b_k[l] and ``noise`` D_k[l, l]
    ``(..., K, L)``, ``coupling`` C_k[l, :] ``(..., K, r, L)``."""

    gain: np.ndarray
    noise: np.ndarray
    coupling: np.ndarray


def rows_from_terms(
    terms: SinrTerms, power_w: np.ndarray, partners: tuple[np.ndarray, np.ndarray]
) -> ApRows:
    """:class:`ApRows` of given closed-form terms and data powers."""
    index, mask = partners
    noise = power_w @ terms.noncoherent + terms.gain  # D_k[l, l]
    k = np.arange(index.shape[0])[:, None]
    coupling = terms.coherent[..., k, index, :] * (np.sqrt(power_w)[index] * mask)[..., None]
    return ApRows(terms.gain, noise, coupling)


def ap_parts(rows: ApRows, combiner: str) -> ApParts:
    """Per-AP summands of UE k's SINR for ``combiner``, shapes ``(..., K[, r[, r]], L)``."""
    if combiner == "lsfd":
        scaled = rows.coupling.conj() / rows.noise[..., None, :]  # C^H D^{-1} per AP
        return (
            rows.gain**2 / rows.noise,
            scaled * rows.gain[..., None, :],
            scaled[..., :, None, :] * rows.coupling[..., None, :, :],
        )
    if combiner == "egcd":
        return rows.gain, rows.noise, rows.coupling
    raise ValueError(f"unknown combiner {combiner!r}; expected one of {COMBINERS}")


def hermitian_form_inverse(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``v^H A^{-1} v`` for Hermitian positive definite ``A`` ``(..., r, r)``, ``v (..., r)``.

    Gaussian elimination vectorised over the leading axes with a Python loop over the few (r)
    pivots: for r of a handful and many systems far faster than ``np.linalg.solve``.
    """
    a, v = matrix.copy(), vector.copy()
    total = np.zeros(v.shape[:-1])
    for j in range(v.shape[-1]):
        pivot = a[..., j, j].real
        total += np.abs(v[..., j]) ** 2 / pivot
        factor = a[..., j + 1 :, j] / pivot[..., None]  # eliminate below the pivot
        a[..., j + 1 :, j + 1 :] -= factor[..., :, None] * a[..., None, j, j + 1 :]
        v[..., j + 1 :] -= factor * v[..., j, None]
    return total


def sum_over_aps(parts: ApParts) -> ApParts:
    return tuple(part.sum(-1) for part in parts)


def sinr_from_sums(sums: ApParts, power_w: np.ndarray, combiner: str) -> np.ndarray:
    """``SINR_k`` ``(..., K)`` from the summed parts of :func:`ap_parts`."""
    if combiner == "lsfd":
        direct, projection, gram = sums
        correction = hermitian_form_inverse(np.eye(gram.shape[-1]) + gram, projection)
        return power_w * (direct - correction)
    gain, noise, coupling = sums
    return power_w * gain**2 / (noise + np.sum(np.abs(coupling) ** 2, axis=-1))


def sinr_by_ap_sums(
    terms: SinrTerms, power_w: np.ndarray, pilots: np.ndarray, combiner: str
) -> np.ndarray:
    """The closed-form SINR of :func:`simframe_cellfree.closed_form.sinr` (optimal or unit
    weights), computed through the per-AP sums: ``O(K L (K + r^2))`` instead of ``O(K L^3)``."""
    parts = ap_parts(rows_from_terms(terms, power_w, pilot_partners(pilots)), combiner)
    return sinr_from_sums(sum_over_aps(parts), power_w, combiner)
