"""Array backends of the batched HMIMO link: numpy (default) or PyTorch (optional extra).

The batched link (:mod:`simframe_hmimo.link_block`) is written once against the operations both
libraries share (``@``, ``*``, ``.conj()``, ``.reshape``, ``.swapaxes``, ``einsum``, ``log``);
:class:`Backend` supplies the few that differ and the conversions at the boundary. Optimisers and
metrics always see numpy arrays; only the hop and channel products run on the backend. PyTorch
runs in complex128 on CUDA when available, else on the CPU, so both backends agree to
round-off (tests check 1e-9 relative on rates and gradients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class Backend:
    """One array library: ``name`` is ``"numpy"`` or ``"torch"``, ``device`` the torch device."""

    name: str = "numpy"
    device: str = "cpu"

    @property
    def xp(self) -> Any:
        """The array namespace (``numpy`` or ``torch``)."""
        if self.name == "numpy":
            return np
        import torch

        return torch

    def asarray(self, array: np.ndarray) -> Any:
        """A backend array holding ``array`` (complex128 or float64 kept as they are)."""
        if self.name == "numpy":
            return np.asarray(array)
        return self.xp.as_tensor(np.asarray(array), device=self.device)

    def to_numpy(self, array: Any) -> np.ndarray:
        if self.name == "numpy":
            return array
        return array.detach().cpu().resolve_conj().numpy()


def backend_named(name: str) -> Backend:
    """The backend ``name``; torch on CUDA when a GPU is visible. Raises if torch is missing."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "numpy":
        return Backend()
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "backend = 'torch' needs PyTorch: pip install 'simframe[torch]'"
        ) from error
    return Backend("torch", "cuda" if torch.cuda.is_available() else "cpu")
