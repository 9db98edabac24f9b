"""The trained Duffing model's traced basin boundary against the true ODE's (issue 7).

Known answer from the ODE x'' = -0.5 x' + x - 0.1 x^3: every state converges to one of the
foci (±√10, 0); a grid point's true basin is the sign of x after a long RK4 integration.
The model's basins are read off the *traced* stable manifold of its saddle alone: a grid
point is in the basin of the attractor A iff the straight segment from it to A crosses the
traced boundary an even number of times (Jordan curve parity in the plane).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from graph.basins import compute_basins
from proofs_examples import example_path
from symbolic.models import load_model
from symbolic.pieces import vertices


def _ode_basins(P: np.ndarray, t_end: float = 100.0, h: float = 0.05) -> np.ndarray:
    def rhs(S):
        return np.stack([S[:, 1], -0.5 * S[:, 1] + S[:, 0] - 0.1 * S[:, 0] ** 3], 1)

    S = P.copy()
    for _ in range(int(t_end / h)):
        k1 = rhs(S)
        k2 = rhs(S + h / 2 * k1)
        k3 = rhs(S + h / 2 * k2)
        k4 = rhs(S + h * k3)
        S = S + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return S[:, 0] > 0


def _cross(o, a, b):
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0])


@pytest.mark.slow
def test_duffing_traced_boundary_agrees_with_the_ode_boundary():
    m = load_model(example_path("duffing"))
    prov = json.loads(open(example_path("duffing"), encoding="utf-8").read())["provenance"]
    mean = np.array(prov["data"]["zscore"]["mean"])
    std = np.array(prov["data"]["zscore"]["std"])
    box = np.array(prov["basin_agreement_with_ode"]["box"])  # data units, [[x_lo, x_hi], [y_lo, y_hi]]
    N = 200
    X, Y = np.meshgrid(np.linspace(box[0, 0], box[0, 1], N), np.linspace(box[1, 0], box[1, 1], N))
    P = np.stack([X.ravel(), Y.ravel()], 1)
    ode_positive = _ode_basins(P)
    Z = (P - mean) / std  # the model's coordinates
    res = compute_basins(m, resolution=20, window=(float(Z[:, 0].min()), float(Z[:, 0].max()),
                                                   float(Z[:, 1].min()), float(Z[:, 1].max())))
    segs = [V for b in res.boundaries for bp in b.pieces
            for V in [vertices(bp.piece)] if V is not None and len(V) == 2]
    assert segs, "no boundary traced"
    att = {a.id: a.float_points()[0] for a in res.attractors.attractors}
    A = next(v for v in att.values() if v[0] > 0)  # the model's focus at positive x
    count = np.zeros(len(Z), dtype=int)
    for S0, S1 in segs:
        d1, d2 = _cross(Z, A[None], S0[None]), _cross(Z, A[None], S1[None])
        d3, d4 = _cross(S0[None], S1[None], Z), _cross(S0[None], S1[None], A[None])
        count += (d1 * d2 < 0) & (d3 * d4 < 0)
    model_positive = count % 2 == 0
    agreement = float((model_positive == ode_positive).mean())
    print(f"traced-boundary vs ODE agreement: {agreement:.4f} ({len(segs)} boundary segments)")
    assert agreement >= 0.95, f"traced boundary agrees with the ODE on {agreement:.3f} of the grid"
