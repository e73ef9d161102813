"""b-bit phase quantisation: a hardware impairment applied to whatever phases a system configures.

Real meta-atoms offer a finite set of phase shifts. With ``b`` bits the set is the uniform grid
``{2 pi k / 2**b : k = 0, ..., 2**b - 1}``; every configured phase moves to its nearest grid
point, so the transmission coefficients stay unit modulus.
"""

from __future__ import annotations

import numpy as np

from simframe import OptionGroup, Parameter

OPTION_GROUP = OptionGroup(
    "example_phase_quantisation",
    (
        Parameter(
            "bits",
            int,
            default=2,
            help="phase resolution b: every phase moves to the nearest of 2**b levels",
            minimum=1,
            maximum=16,
        ),
    ),
    help="quantise every configured meta-atom phase to b bits (simframe-example-plugin)",
)


def quantise_phases(coefficients: np.ndarray, bits: int) -> None:
    """Move each unit-modulus coefficient to the nearest of the ``2**bits`` grid phases in place."""
    step = 2.0 * np.pi / 2**bits
    levels = np.round(np.angle(coefficients) / step) % 2**bits
    coefficients[...] = np.exp(1j * step * levels)
