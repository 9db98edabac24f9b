"""Attractors and trapping polytopes (DESIGN §7): known answers, exact vertex checks,
checker acceptance and rejection of tampered claims, Jordan blocks, complex eigenvalues,
singular Jacobians, cycles, boundary orbits, numerical attractors."""
from __future__ import annotations

import copy
import itertools
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.attractors import find_attractors, trapping_polytope
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict
from symbolic.orbits import find_orbits
from verify.basincert import trap_claims
from verify.certificate import new_certificate
from verify.checker import check_certificate

BISTABLE = load_model(example_path("bistable"))
FOCUS = {"kind": "plrnn", "A": [["3/10", "-4/10"], ["4/10", "3/10"]], "W": [[0, "-1/2"], ["1/2", 0]], "h": [1, "1/2"]}
TWO_CYCLE = {"kind": "plrnn", "A": [["1/4", 0], [0, "1/2"]], "W": [["-13/4", 0], [0, 0]], "h": [1, 0]}


def _check(model, claims):
    return check_certificate(new_certificate(model, claims))


def _exact_vertices(trap):
    """Exact vertices p + r W c of the trap, c over all products of block vertices."""
    W = trap.W
    n = W.nrows()
    for combo in itertools.product(*trap.verts):
        c = [x for v in combo for x in v]
        yield tuple(trap.point[i] + trap.radius * sum(F(int(W[i, j].p), int(W[i, j].q)) * c[j] for j in range(n))
                    for i in range(n))


def _fk(model, x, k):
    for _ in range(k):
        x = model.f_exact(x)
    return x


def test_bistable_attractors_are_the_two_known_fixed_points_with_jordan_traps():
    res = find_attractors(BISTABLE)
    assert [(a.id, a.points) for a in res.attractors] == [("P1-1", ((F(-2), F(2)),)), ("P1-2", ((F(2), F(-2)),))]
    rep = _check(BISTABLE, trap_claims(res))
    assert rep.ok, rep.message()
    for a in res.attractors:
        (t,) = a.traps
        assert t.theta < 1 and t.contains_exact(a.points[0])
        # Jordan block: the double eigenvalue 1/2 is not diagonalisable; still every vertex of
        # f(P) lies in P, checked exactly
        for v in _exact_vertices(t):
            assert t.contains_exact(BISTABLE.f_exact(v))
        assert not t.contains_exact((0, 0))          # the trap stays in the attractor's quadrant


def test_complex_eigenvalues_get_a_polygon_block_that_the_checker_accepts():
    m = model_from_dict(FOCUS)
    res = find_attractors(m, numerical=False)
    (a,) = res.attractors
    (t,) = a.traps
    assert t.blocks == [(0, 2)] and len(t.verts[0]) >= 8
    assert _check(m, trap_claims(res)).ok
    for v in _exact_vertices(t):
        assert t.contains_exact(m.f_exact(v))


def test_stable_two_cycle_found_by_trajectories_has_a_trap_at_both_points():
    m = model_from_dict(TWO_CYCLE)
    res = find_attractors(m, max_period=1)          # the orbit search alone misses period 2
    (a,) = res.attractors
    assert a.kind == "cycle" and a.found_by == "trajectory"
    assert set(a.points) == {(F(5, 7), F(0)), (F(-8, 7), F(0))}
    assert len(a.traps) == 2 and _check(m, trap_claims(res)).ok
    for t in a.traps:
        for v in _exact_vertices(t):
            assert t.contains_exact(_fk(m, v, 2))
    res2 = find_attractors(m, max_period=2, numerical=False)
    assert [x.id for x in res2.attractors] == ["P2-1"]


def test_superstable_fixed_point_with_zero_jacobian():
    # z' = relu(z)·0 + 1 in every coordinate: J = 0, theta = 0
    m = model_from_dict({"kind": "plrnn", "A": [0, 0], "W": [[0, 0], [0, 0]], "h": [1, 2]})
    res = find_attractors(m, numerical=False)
    (a,) = res.attractors
    assert a.points == ((F(1), F(2)),) and a.traps[0].theta == 0
    assert _check(m, trap_claims(res)).ok


def test_stable_point_on_a_kink_is_only_numerical():
    m = model_from_dict({"kind": "plrnn", "A": [["1/2"]], "W": [["-1/4"]], "h": [0]})
    res = find_attractors(m)
    assert [o.type for o in res.orbits.orbits] == ["boundary"]
    assert [a.kind for a in res.attractors] == ["numerical"]
    assert not res.attractors[0].traps and not res.attractors[0].certified


def test_chaotic_lozi_attractor_is_numerical_with_positive_lyapunov_exponent():
    res = find_attractors(load_model(example_path("lozi")), samples=32, steps=500)
    (a,) = res.attractors
    assert a.kind == "numerical" and a.lyapunov > 0.2 and a.samples.shape[1] == 2
    assert trap_claims(res) == []


def test_saddles_cannot_get_traps():
    orbits = find_orbits(BISTABLE, 1)
    saddle = orbits.by_id("P1-3")
    with pytest.raises(ValueError):
        trapping_polytope(BISTABLE, saddle)


# ----------------------------------------------------------------------------- tampering

def _bistable_trap_claim():
    res = find_attractors(BISTABLE, numerical=False)
    return trap_claims(res)[1]


@pytest.mark.parametrize("mutate", [
    lambda c: c.__setitem__("radius", "1000"),                                  # leaves the region
    lambda c: c.__setitem__("theta", "1/100"),                                  # bound too small
    lambda c: c.__setitem__("theta", "1"),                                      # not a contraction
    lambda c: c["points"].__setitem__(0, ["2", "-19/10"]),                      # not a fixed point
    lambda c: c.__setitem__("W", [["1", "1"], ["1", "1"]]),                     # singular W
    lambda c: c.__setitem__("blocks", [{"size": 1}]),                           # sizes != n
    lambda c: c.__setitem__("blocks", [{"size": 2, "polygon": [["1", "0"], ["0", "1"], ["-1", "0"], ["0", "-1"]][::-1]}]),
    lambda c: c.__setitem__("blocks", [{"size": 2, "polygon": [["1", "0"], ["1/2", "0"], ["0", "1"], ["-1", "-1"]]}]),
], ids=["radius", "theta-small", "theta-one", "point", "singular-W", "block-sizes", "clockwise", "non-convex"])
def test_tampered_trap_claims_are_rejected(mutate):
    claim = copy.deepcopy(_bistable_trap_claim())
    assert _check(BISTABLE, [claim]).ok
    mutate(claim)
    rep = _check(BISTABLE, [claim])
    assert not rep.ok


def test_trap_claim_on_a_kink_is_rejected():
    m = model_from_dict({"kind": "plrnn", "A": [["1/2"]], "W": [["-1/4"]], "h": [0]})
    claim = {"id": "t", "type": "trapping-polytope", "period": 1, "points": [["0"]], "W": [["1"]],
             "blocks": [{"size": 1}], "radius": "1/1000", "theta": "1/2"}
    rep = _check(m, [claim])
    assert not rep.ok and "kink" in rep.first_failure.reason


# ----------------------------------------------------------------------------- random models

small = st.builds(F, st.integers(-4, 4), st.sampled_from([2, 4, 5, 8]))


@st.composite
def contracting_models(draw):
    """Random 2-D plrnn / shplrnn with weights small enough that stable fixed points are common."""
    kind = draw(st.sampled_from(["plrnn", "shplrnn"]))
    shrink = draw(st.sampled_from([F(1, 2), F(1, 3)]))
    M = lambda r, c: [[draw(small) * shrink for _ in range(c)] for _ in range(r)]
    trick = draw(st.sampled_from(["none", "jordan", "rotation"]))
    A = M(2, 2)
    if trick == "jordan":
        A = [[F(1, 2), F(1)], [F(0), F(1, 2)]]
    elif trick == "rotation":
        A = [[F(3, 10), F(-2, 5)], [F(2, 5), F(3, 10)]]
    if kind == "plrnn":
        return {"kind": "plrnn", "A": A, "W": M(2, 2), "h": [draw(small) for _ in range(2)]}
    H = draw(st.integers(1, 3))
    return {"kind": "shplrnn", "A": A, "W1": M(2, H), "W2": [[draw(small) for _ in range(2)] for _ in range(H)],
            "h1": [draw(small) for _ in range(2)], "h2": [draw(small) for _ in range(H)]}


def _jsonable(d):
    return {k: ([[str(x) for x in r] if isinstance(r, list) else str(r) for r in v] if isinstance(v, list) else v)
            for k, v in d.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contracting_models())
def test_trap_claims_of_stable_orbits_are_accepted_and_vertex_images_stay_inside(d):
    m = model_from_dict(_jsonable(d))
    res = find_attractors(m, numerical=False)
    traps = [t for a in res.attractors for t in a.traps]
    assume(traps)
    rep = _check(m, trap_claims(res))
    assert rep.ok, rep.message()
    for t in traps:
        k = len(t.points)
        assert t.contains_exact(t.point)
        for v in _exact_vertices(t):
            assert t.contains_exact(_fk(m, v, k))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contracting_models(), st.integers(0, 2**20))
def test_scaling_the_radius_far_out_is_rejected(d, seed):
    m = model_from_dict(_jsonable(d))
    res = find_attractors(m, numerical=False)
    claims = trap_claims(res)
    assume(claims and m.L > 0)
    c = copy.deepcopy(claims[seed % len(claims)])
    c["radius"] = str(F(c["radius"]) * 10**9)
    # unless no hyperplane bounds the region in any direction of the trap, it leaves the region
    assert not _check(m, [c]).ok
