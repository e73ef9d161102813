"""SIM geometry, propagation and correlation against the reference values of spec sim-hmimo.md."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simframe_metasurface.correlation import matrix_sqrt, sinc_correlation
from simframe_metasurface.geometry import (
    layer_stack,
    perfect_square_problem,
    uniform_linear_array,
    uniform_planar_array,
    wavelength_m,
)
from simframe_metasurface.propagation import (
    FreeSpacePropagation,
    RayleighSommerfeldPropagation,
    stack_hops,
)

LAMBDA = wavelength_m(6e9)
AREA = LAMBDA**2 / 4


def paper_stack(layers: int, passive: bool = False, thickness_m: float = 0.1):
    antennas = uniform_linear_array(4, LAMBDA / 2)
    surfaces = layer_stack(100, layers, thickness_m, LAMBDA / 2)
    model = RayleighSommerfeldPropagation(passive=passive)
    return stack_hops(model, antennas, surfaces, LAMBDA, AREA)


def test_wavelength_is_c_over_f():
    assert LAMBDA == pytest.approx(0.05, rel=1e-15)


def test_reference_values_at_seven_layers():
    hops = paper_stack(7).hops
    inter = hops[1]
    facing = inter[0, 0]  # atom 0 of layer 1 to atom 0 of layer 2: no lateral offset
    assert facing == pytest.approx(0.744603 + 0.669897j, abs=1e-6)
    assert np.linalg.norm(inter, 2) == pytest.approx(1.5720, abs=5e-5)
    assert np.linalg.norm(inter, "fro") ** 2 == pytest.approx(128.28, abs=5e-3)
    assert np.linalg.norm(hops[0], "fro") ** 2 == pytest.approx(3.292, abs=5e-4)


@pytest.mark.parametrize(("layers", "norm"), [(5, 1.293), (7, 1.572), (10, 2.067)])
def test_spectral_norm_exceeds_one_for_thin_gaps(layers, norm):
    assert paper_stack(layers).max_interlayer_spectral_norm == pytest.approx(norm, abs=5e-4)


def test_passive_variant_caps_every_hop_at_norm_one():
    norms = paper_stack(10, passive=True).spectral_norms
    assert norms.max() == pytest.approx(1.0, abs=1e-12)
    unchanged = paper_stack(10).spectral_norms
    assert np.allclose(norms[unchanged <= 1], unchanged[unchanged <= 1])


def test_free_space_model_of_an_et_al():
    model = FreeSpacePropagation()
    a = np.array([[0.0, 0.0, 0.0]])
    b = np.array([[0.0, 0.0, 0.01]])
    expected = LAMBDA / (4 * np.pi * 0.01) * np.exp(-2j * np.pi * 0.01 / LAMBDA)
    assert model.hop(a, b, LAMBDA, AREA)[0, 0] == pytest.approx(expected, rel=1e-12)


def test_sinc_correlation_eigenvalues():
    eig = np.linalg.eigvalsh(sinc_correlation(uniform_planar_array(100, LAMBDA / 2), LAMBDA))
    assert eig.min() == pytest.approx(1.474e-4, rel=2e-3)
    assert eig.max() == pytest.approx(2.667, abs=5e-4)


@settings(max_examples=30, deadline=None)
@given(side=st.integers(1, 8), spacing=st.floats(0.3, 1.0))
def test_matrix_sqrt_squares_back(side, spacing):
    r = sinc_correlation(uniform_planar_array(side * side, spacing * LAMBDA), LAMBDA)
    root = matrix_sqrt(r)
    np.testing.assert_allclose(root @ root, r, atol=1e-10)
    np.testing.assert_allclose(root, root.conj().T, atol=1e-12)


def test_layer_stack_geometry():
    layers = layer_stack(9, 3, 0.06, LAMBDA / 2)
    assert [float(layer[0, 2]) for layer in layers] == pytest.approx([0.02, 0.04, 0.06])
    centred = uniform_planar_array(9, 1.0)
    np.testing.assert_allclose(centred.mean(axis=0), 0.0, atol=1e-15)
    assert set(np.round(centred[:, 0], 12)) == {-1.0, 0.0, 1.0}


@given(st.integers(0, 10_000))
def test_perfect_square_problem(count):
    square = int(np.sqrt(count)) ** 2 == count
    assert (perfect_square_problem(count) is None) == square
