"""Reconstruction metrics (graph/metrics.py) against known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.metrics import (
    hellinger_spectrum_distance, lyapunov_spectrum_qr, max_lyapunov, model_jacobians,
    power_spectra, reconstruction_metrics, state_space_divergence, state_space_divergence_gmm,
)
from symbolic.models import model_from_dict

LOG2 = math.log(2.0)


# ----------------------------------------------------------------------------- D_stsp

def test_dstsp_of_identical_samples_is_zero():
    X = np.random.default_rng(0).normal(size=(5000, 3))
    assert state_space_divergence(X, X) == 0.0


def test_dstsp_of_permuted_samples_is_zero():
    # a histogram does not see the order of samples
    X = np.random.default_rng(1).normal(size=(3000, 2))
    assert state_space_divergence(X, X[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_dstsp_of_shifted_samples_is_positive_and_grows_with_the_shift():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5000, 2))
    d = [state_space_divergence(X, X + s) for s in (0.5, 1.0, 2.0)]
    assert 0 < d[0] < d[1] < d[2]


def test_dstsp_matches_a_dense_histogram_computation():
    # the closed form for the bins empty in both samples equals summing over all bins^n
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(400, 2)), rng.normal(0.3, 1.2, size=(300, 2))
    bins, alpha = 7, 1e-3
    lo, hi = X.min(0), X.max(0)
    rng_ = [(lo[i], hi[i]) for i in range(2)]
    hx, _, _ = np.histogram2d(X[:, 0], X[:, 1], bins=bins, range=rng_)
    Yc = np.clip(Y, lo, hi)
    hy, _, _ = np.histogram2d(Yc[:, 0], Yc[:, 1], bins=bins, range=rng_)
    p = (hx + alpha) / (hx.sum() + alpha * bins ** 2)
    q = (hy + alpha) / (hy.sum() + alpha * bins ** 2)
    dense = float(np.sum(p * np.log(p / q)))
    assert state_space_divergence(X, Y, bins=bins, alpha=alpha) == pytest.approx(dense, rel=1e-9)


def test_dstsp_works_in_high_dimension_without_a_dense_histogram():
    # 30^15 bins could never be allocated; only occupied bins are stored
    X = np.random.default_rng(4).normal(size=(500, 15))
    assert state_space_divergence(X, X) == 0.0
    assert state_space_divergence(X, X + 1.0) > 0


def test_dstsp_penalises_a_model_that_leaves_the_data_range():
    X = np.random.default_rng(5).normal(size=(2000, 1))
    assert state_space_divergence(X, X * 100) > state_space_divergence(X, X * 1.1)


def test_dstsp_gmm_is_zero_for_identical_and_positive_for_shifted_samples():
    X = np.random.default_rng(6).normal(size=(800, 6))
    assert state_space_divergence_gmm(X, X, n_samples=400) == pytest.approx(0.0, abs=1e-12)
    assert state_space_divergence_gmm(X, X + 3.0, n_samples=400) > 1.0


# ----------------------------------------------------------------------------- D_H

def test_power_spectra_are_normalised():
    t = np.arange(2048)[:, None]
    P = power_spectra(np.hstack([np.sin(0.2 * t), np.cos(0.7 * t)]))
    assert P.shape[0] == 2
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(P >= 0)


def test_dh_of_identical_spectra_is_zero():
    X = np.random.default_rng(7).normal(size=(4096, 3)).cumsum(axis=0)
    assert hellinger_spectrum_distance(X, X) == pytest.approx(0.0, abs=1e-7)


def test_dh_is_blind_to_a_time_shift_of_a_periodic_signal():
    # a circular shift leaves |FFT|^2 unchanged
    t = np.arange(1024)[:, None]
    x = np.sin(2 * np.pi * 16 * t / 1024)
    assert hellinger_spectrum_distance(x, np.roll(x, 37, axis=0)) == pytest.approx(0.0, abs=1e-7)


def test_dh_of_disjoint_spectra_is_near_one():
    t = np.arange(4096)[:, None]
    x = np.sin(2 * np.pi * 50 * t / 4096)    # frequency bin 50
    y = np.sin(2 * np.pi * 900 * t / 4096)   # frequency bin 900: far outside the kernel
    assert hellinger_spectrum_distance(x, y, smoothing=2.0) > 0.999


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(1, 200))
def test_dh_is_in_unit_interval_and_symmetric(f1, f2):
    t = np.arange(512)[:, None]
    x, y = np.sin(2 * np.pi * f1 * t / 512), np.sin(2 * np.pi * f2 * t / 512)
    a, b = hellinger_spectrum_distance(x, y), hellinger_spectrum_distance(y, x)
    assert 0.0 <= a <= 1.0
    assert a == pytest.approx(b, abs=1e-12)


# ----------------------------------------------------------------------------- Lyapunov

def test_lyapunov_of_diag_2_half_is_log2_exactly():
    J = np.broadcast_to(np.diag([2.0, 0.5]), (500, 2, 2))
    lam = lyapunov_spectrum_qr(J)
    # |R_ii| = 2 and 1/2 exactly in binary floating point: log 2 up to one rounding
    assert lam[0] == pytest.approx(LOG2, rel=1e-14, abs=0)
    assert lam[1] == pytest.approx(-LOG2, rel=1e-14, abs=0)


def test_lyapunov_of_linear_model_map_is_log2():
    # the model z' = diag(2, 1/2) z as a PLRNN with no active ReLU units
    m = model_from_dict({"kind": "plrnn", "A": [2.0, 0.5], "W": [[0, 0], [0, 0]], "h": [0, 0]})
    assert max_lyapunov(m, [1e-300, 1e-300], steps=200, transient=0) == pytest.approx(LOG2, rel=1e-14)


def test_lyapunov_of_tent_map_is_log2():
    # tent map in u = x - 1/2: u' = 2u - 4 relu(u) + 1/2, slope +-2 everywhere
    tent = model_from_dict({"kind": "plrnn", "A": [2], "W": [[-4]], "h": [0.5]})
    rng = np.random.default_rng(0)
    lam = max_lyapunov(tent, rng.uniform(-0.5, 0.5, size=(16, 1)), steps=2000, transient=10,
                       return_all=True)
    # every step contributes log|2| exactly; only the summation over 2000 steps rounds
    np.testing.assert_allclose(lam, LOG2, rtol=1e-12)


def test_lyapunov_of_contracting_map_is_negative():
    m = model_from_dict({"kind": "shplrnn", "A": [0.5, 0.4], "W1": [[0.1, -0.2], [0.05, 0.1]],
                         "W2": [[1, 0], [0, 1]], "h1": [0.3, -0.1], "h2": [0.0, 0.1]})
    lam = max_lyapunov(m, np.random.default_rng(1).normal(size=(4, 2)), steps=500, transient=50)
    assert lam < math.log(0.7)


def test_lyapunov_of_rotation_times_scaling_is_log_of_the_scale():
    # complex eigenvalues r e^{i phi}: both exponents log r
    r, phi = 0.9, 0.3
    R = r * np.array([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]])
    lam = lyapunov_spectrum_qr(np.broadcast_to(R, (300, 2, 2)))
    np.testing.assert_allclose(lam, math.log(r), rtol=1e-12)


def test_lyapunov_spectrum_sums_to_mean_log_abs_det():
    # sum of exponents = (1/T) sum log |det J_t| (volume growth), for any Jacobian sequence
    rng = np.random.default_rng(2)
    J = rng.normal(size=(400, 3, 3))
    lam = lyapunov_spectrum_qr(J)
    assert lam.sum() == pytest.approx(np.mean(np.log(np.abs(np.linalg.det(J)))), rel=1e-9)
    assert np.all(np.diff(lam) <= 1e-9)


def test_lyapunov_vectorised_over_orbits_equals_one_at_a_time():
    rng = np.random.default_rng(3)
    J = rng.normal(size=(100, 4, 2, 2))
    batched = lyapunov_spectrum_qr(J)
    single = np.mean([lyapunov_spectrum_qr(J[:, i]) for i in range(4)], axis=0)
    np.testing.assert_allclose(batched, single, rtol=1e-12)


def test_model_jacobians_match_the_exact_affine_pieces():
    m = model_from_dict({"kind": "shplrnn", "A": [0.5, -0.3], "W1": [[1, -2, 0.5], [0.25, 1, -1]],
                         "W2": [[1, 0], [0, 1], [1, 1]], "h1": [0, 1], "h2": [0.1, -0.2, 0.3]})
    Z = np.random.default_rng(4).normal(size=(50, 2))
    Jf = model_jacobians(m, Z)
    Jp, _ = m.affine_pieces_float(m.preact(Z) > 0)
    np.testing.assert_allclose(Jf, Jp, rtol=0, atol=1e-15)


def test_reconstruction_metrics_of_data_against_itself():
    X = np.random.default_rng(5).normal(size=(2000, 2)).cumsum(axis=0) * 0.01
    out = reconstruction_metrics([X], [X])
    assert out["D_stsp"] == 0.0 and out["D_H"] == pytest.approx(0.0, abs=1e-7)
