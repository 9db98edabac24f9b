"""Chaos in the authors' published Lorenz-63 ALRNN (M = 20, P = 2): what is and is not proved.

No transversal homoclinic/heteroclinic orbit is certified for this model (see issue 9): the
fixed points' connections are not generic for a map discretising a flow (Δt = 0.01), and the
phase-locked saddle cycles that do carry generic homoclinic orbits have period ~211 and
connections ~2500 steps long. These tests assert the robust numerical facts behind that
account, plus the exact facts that are cheap: the fixed point set (four hyperbolic saddles),
and that the short-itinerary search finds nothing (and says so honestly).
"""
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODEL = DATA / "alrnn_lorenz_m20_p2.pt"
pytestmark = pytest.mark.skipif(not MODEL.exists(), reason=f"published model not present ({MODEL}): "
                                "../shared/data is outside the project and not shipped")


@pytest.fixture(scope="module")
def model():
    from symbolic.models import load_model

    return load_model(MODEL)


@pytest.fixture(scope="module")
def attractor(model):
    data = np.load(DATA / "lorenz63_test.npy")
    z = np.zeros(model.n)
    z[:3] = data[1000]
    return model.trajectory(z, 4000)[1000:]


def test_fixed_points_are_four_hyperbolic_saddles(model):
    from symbolic.orbits import find_orbits

    res = find_orbits(model, 1)
    dims = sorted((o.stable_dim, o.unstable_dim) for o in res.orbits)
    assert all(o.type == "saddle" for o in res.orbits)
    assert dims == [(17, 3), (18, 2), (18, 2), (19, 1)]


def test_short_itineraries_give_no_connection_and_the_search_says_so(model):
    # dimension counting: only square systems u(p) + s(q) = n can be certified; with max_length
    # 8 (0.08 time units) no unstable piece of a fixed point reaches a stable piece
    from graph.homoclinic import find_connections

    res = find_connections(model, max_length=8, snapback=False)
    assert res.connections == []
    assert res.status == "complete-to-depth"


def test_attractor_is_chaotic_numerically_with_lorenz_like_exponent(model, attractor):
    # QR (here: one vector) estimate of the maximal Lyapunov exponent on the attractor
    pat = (attractor @ model.Cf.T + model.df) > 0
    J, _ = model.affine_pieces_float(pat)
    v = np.ones(model.n) / np.sqrt(model.n)
    total = 0.0
    for Jt in J[:2000]:
        v = Jt @ v
        nrm = np.linalg.norm(v)
        total += np.log(nrm)
        v /= nrm
    lam = total / 2000
    assert 0.004 < lam < 0.02          # per step; Lorenz-63: 0.89 per time unit = 0.0089 per step
    # the attractor never visits region '00' (the 17/3 saddle's region)
    assert not np.any(~pat[:, 0] & ~pat[:, 1])


def test_recurrences_give_phase_locked_saddle_cycles_with_one_unstable_direction(model, attractor):
    from graph.homoclinic import recurrent_cycles

    cyc = recurrent_cycles(model, attractor, max_seeds=6)
    long_saddles = [c for c in cyc if c.period > 100 and c.unstable_dim == 1]
    assert long_saddles
    c = long_saddles[0]
    # a float cycle: f maps each point to the next (residual at rounding level)
    nxt = model.f(c.points)
    assert np.abs(nxt - np.roll(c.points, -1, axis=0)).max() < 1e-8
    # strictly inside its regions (the pattern is realised with a margin)
    assert c.margin > 0
    # multipliers: one outside, the next one inside (phase-locked: the flow direction contracts)
    assert c.multipliers[0] > 1 > c.multipliers[1]
