"""Global stable / unstable manifolds as polyhedral pieces (issue 3 acceptance, DESIGN §6, §12).

Known answers: the bistable PLRNN's basin boundary (the diagonal, exactly), the Lozi
attractor (= closure of W^u of its saddle) and its homoclinic tangle, a map with a flat
(singular) branch whose stable set contains a 2-D strip. Properties (Hypothesis, random 2-D
and 3-D models built around a saddle): images of unstable pieces are covered by the next
depth, points of stable pieces reach the proven local piece and converge, every piece lies
in the closure of its region, local pieces are invariant.
"""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from graph.local import local_piece
from graph.manifolds import default_box, trace_manifold
from graph.plotting import plot_manifolds
from graph.quality import delta_sigma
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict
from symbolic.orbits import find_orbits
from symbolic.pieces import contains, image, sample, vertices, vertices_exact
from symbolic.rationals import column, fraction_of
from symbolic.regions import locate


def ex(name):
    return load_model(example_path(name))


def orbit_at(model, point, max_period=1):
    return next(o for o in find_orbits(model, max_period).orbits if o.points[0] == tuple(point) or tuple(point) in o.points)


def in_closure(model, x, bits) -> bool:
    loc = locate(model, x)
    return all(s == 0 or (s > 0) == (b == "1") for s, b in zip(loc.signs, bits))


def exact_member(P, x) -> bool:
    """Exact: is the rational point x in the exact piece P (basis of full column rank)?"""
    U = P.basis
    rhs = column(x) - P.origin
    b = (U.transpose() * U).solve(U.transpose() * rhs)
    if U * b != rhs:
        return False
    slack = P.g - P.G * b
    return all(fraction_of(v) >= 0 for v in slack.entries())


def float_region_ok(model, P, tol=1e-7) -> bool:
    """Float check (vertices) that the piece lies in the closure of its region."""
    V = vertices(P) if P.k <= 3 else None
    if V is None:
        V = sample(P, 50)
    pre = model.preact(V)
    sig = np.array([1.0 if b == "1" else -1.0 for b in P.region])
    scale = 1 + np.abs(V).max()
    return bool(np.all(sig * pre >= -tol * scale * np.linalg.norm(model.Cf, axis=1)))


def segments(res):
    return [vertices(p)[[0, -1]] for p in res.pieces if p.dim == 1]


def seg_dist(a, b, P):
    d = b - a
    t = np.clip(((P - a) @ d) / max(d @ d, 1e-300), 0, 1)
    return np.linalg.norm(P - (a + t[:, None] * d), axis=1)


def crossing(a, b, c, d):
    """Proper intersection of segments ab and cd; returns the sine of the angle or 0."""
    def orient(p, q, r):
        return np.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))
    if orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0:
        u, v = (b - a) / np.linalg.norm(b - a), (d - c) / np.linalg.norm(d - c)
        return abs(u[0] * v[1] - u[1] * v[0])
    return 0.0


# ----------------------------------------------------------------------------- bistable

def test_bistable_stable_manifold_is_exactly_the_diagonal_and_covers_it():
    m = ex("bistable")
    saddle = orbit_at(m, (F(2, 3), F(2, 3)))
    res = trace_manifold(m, saddle, "stable")
    assert res.exact and res.dimension == 1 and res.stopped_by == "box"
    lo, hi = res.box
    assert lo[0] == lo[1] and hi[0] == hi[1]            # default box is symmetric here
    intervals = []
    for p in res.pieces:
        V = vertices_exact(p)
        assert all(v[0] == v[1] for v in V)                # exactly on z1 = z2 (exact rationals)
        assert p.basis[0, 0] == p.basis[1, 0] and p.origin[0, 0] == p.origin[1, 0]
        intervals.append((min(v[0] for v in V), max(v[0] for v in V)))
    # the union of the pieces is exactly the diagonal inside the box
    intervals.sort()
    reach = intervals[0][0]
    assert reach == max(lo[0], lo[1])
    for a, b in intervals:
        assert a <= reach
        reach = max(reach, b)
    assert reach == min(hi[0], hi[1])


def test_bistable_unstable_manifold_runs_to_both_attractors():
    m = ex("bistable")
    res = trace_manifold(m, "P1-3", "unstable", depth=40)
    assert res.exact and res.stopped_by == "depth"
    pts = np.concatenate([vertices(p) for p in res.pieces])
    for att in ((2, -2), (-2, 2)):
        assert np.min(np.linalg.norm(pts - np.array(att), axis=1)) < 1e-6
    # only the local piece (through the saddle) meets the diagonal: the half-planes are invariant
    for p in res.pieces[1:]:
        V = vertices_exact(p)
        signs = {np.sign(float(v[0] - v[1])) for v in V} - {0}
        assert len(signs) <= 1


def test_bistable_box_fraction_and_quality():
    m = ex("bistable")
    res = trace_manifold(m, "P1-3", "stable")
    assert res.box_fraction == pytest.approx(0.5)          # cells 00 and 11 of the four
    q = delta_sigma(m, res, n_manifold=300, n_box=300)
    assert q.delta_sigma > 0.99 and q.median < 1e-12


# ----------------------------------------------------------------------------- Lozi

@pytest.fixture(scope="module")
def lozi_manifolds():
    m = ex("lozi")
    saddle = orbit_at(m, (F(5, 11), F(5, 22)))
    wu = trace_manifold(m, saddle, "unstable", depth=12, budget=4000)
    ws = trace_manifold(m, saddle, "stable", depth=5, budget=4000)
    return m, saddle, wu, ws


def test_lozi_local_pieces_are_enclosure_based_and_proven(lozi_manifolds):
    m, saddle, wu, ws = lozi_manifolds
    for res in (wu, ws):
        assert res.local.proven and not res.local.exact and not res.exact
        assert res.local.contraction < 1
    # the local unstable direction is the eigenvector (2 λ_u, 1), λ_u = (-17 - √489)/20
    lam = (-17 - np.sqrt(489)) / 20
    u = wu.local.piece.Uf[:, 0]
    assert abs(u[0] / u[1] - 2 * lam) < 1e-12


def test_lozi_unstable_manifold_traces_the_attractor(lozi_manifolds):
    from scipy.spatial import cKDTree

    m, saddle, wu, ws = lozi_manifolds
    assert wu.stopped_by == "depth" and len(wu.pieces) > 200
    X = m.trajectory(np.array([0.1, 0.1]), 100000)[1000:]
    tree = cKDTree(X)
    worst = 0.0
    for a, b in segments(wu):
        S = a + np.linspace(0, 1, 400)[:, None] * (b - a)
        _, idx = tree.query(S, k=3)
        worst = max(worst, seg_dist(a, b, X[np.unique(idx)]).min())
    assert worst < 1e-6                         # every piece passes within 1e-6 of the trajectory


def test_lozi_stable_manifold_crosses_the_unstable_one(lozi_manifolds, tmp_path):
    m, saddle, wu, ws = lozi_manifolds
    su, ss = segments(wu), segments(ws)
    best = 0.0
    for a, b in su[1:]:                            # skip the local piece (they meet at the saddle)
        for c, d in ss[1:]:
            best = max(best, crossing(a, b, c, d))
    assert best > 0.5                              # a transversal homoclinic crossing
    plot_manifolds(m, [wu, ws], str(tmp_path / "lozi_manifolds.png"))
    plot_manifolds(m, [wu], str(tmp_path / "lozi_unstable.png"))
    assert (tmp_path / "lozi_manifolds.png").stat().st_size > 5000


def test_lozi_period_two_saddle_traces_all_points():
    m = ex("lozi")
    cyc = [o for o in find_orbits(m, 2).orbits if o.period == 2 and o.type == "saddle"]
    assert cyc
    o = cyc[0]
    res = trace_manifold(m, o, "unstable", depth=8, budget=500)
    pts = np.array([[float(v) for v in p] for p in o.points])
    local = [p for p in res.pieces if p.depth < 2]
    assert len(local) == 2 and {p.region for p in local} == set(o.regions)
    for P, q in zip(sorted(local, key=lambda p: p.depth), pts):     # f^j(L) passes through p_j
        assert contains(P, q, tol=1e-9)
    st = trace_manifold(m, o, "stable", depth=4, budget=500)
    assert {p.region for p in st.pieces} >= set(o.regions)


def test_bistable_pictures(tmp_path):
    m = ex("bistable")
    ws = trace_manifold(m, "P1-3", "stable")
    wu = trace_manifold(m, "P1-3", "unstable")
    plot_manifolds(m, [ws, wu], str(tmp_path / "bistable.png"))
    assert (tmp_path / "bistable.png").stat().st_size > 5000


# ----------------------------------------------------------------------------- degenerate

FLAT = {"kind": "relu-affine", "A": [[2, 0], [0, "1/2"]], "B": [[-2, -3], [0, 0]], "C": [[1, 0], [1, 0]],
        "d": ["-3/2", -2], "e": [0, 0]}


def test_singular_branch_gives_a_two_dimensional_stable_piece():
    # g(x) = 2x on x < 3/2, 3 on [3/2, 2], 3 - 3(x - 2) beyond: the flat part maps to x = 3,
    # and g(3) = 0, so the whole strip [3/2, 2] x R lies in W^s of the saddle (0, 0).
    m = model_from_dict(FLAT)
    res = trace_manifold(m, orbit_at(m, (0, 0)), "stable", box=((-1, -2), (4, 2)), depth=3)
    strips = [p for p in res.pieces if p.dim == 2]
    assert strips and res.stats["higher_dim"] >= 1
    assert sorted(vertices_exact(strips[0])) == [(F(3, 2), F(-2)), (F(3, 2), F(2)), (F(2), F(-2)), (F(2), F(2))]
    lines = {vertices_exact(p)[0][0] for p in res.pieces if p.dim == 1}
    assert {F(0), F(3), F(3, 2), F(2)} <= lines            # x = 0, its preimage 3, the strip's edges


def test_jordan_and_complex_local_pieces_are_invariant():
    # saddle at 0 in 3-D: a rotation-scaling stable block (|λ| = 1/2) and an unstable eigenvalue 3
    rot = {"kind": "relu-affine", "A": [["3/10", "-2/5", 0], ["2/5", "3/10", 0], [0, 0, 3]],
           "B": [[0], [0], [1]], "C": [[1, 1, 1]], "d": [-5], "e": [0, 0, 0]}
    m = model_from_dict(rot)
    o = orbit_at(m, (0, 0, 0))
    loc = local_piece(m, o, "stable")
    assert loc.exact and loc.dim == 2 and [sz for _, sz in loc.norm.blocks] == [2] and loc.norm.theta < 1
    J = m.jacobian(o.regions[0])
    for v in vertices_exact(loc.piece):                       # F(L) ⊂ L, exactly at the vertices
        assert exact_member(loc.piece, tuple(fraction_of(x) for x in (J * column(v)).entries()))
    # Jordan block (double eigenvalue 1/2) in the stable part
    jor = {"kind": "relu-affine", "A": [["1/2", 1, 0], [0, "1/2", 0], [0, 0, 3]],
           "B": [[0], [0], [1]], "C": [[1, 1, 1]], "d": [-5], "e": [0, 0, 0]}
    m = model_from_dict(jor)
    loc = local_piece(m, orbit_at(m, (0, 0, 0)), "stable")
    assert loc.exact and loc.dim == 2 and loc.norm.theta < 1
    J = m.jacobian(loc.piece.region)
    for v in vertices_exact(loc.piece):
        assert exact_member(loc.piece, tuple(fraction_of(x) for x in (J * column(v)).entries()))
    res = trace_manifold(m, orbit_at(m, (0, 0, 0)), "stable", box=((-3, -3, -3), (3, 3, 3)), depth=3)
    assert all(float_region_ok(m, p) for p in res.pieces)


def test_default_box_contains_the_attractor_and_orbit():
    m = ex("lozi")
    lo, hi = default_box(m, orbit_at(m, (F(5, 11), F(5, 22))))
    X = m.trajectory(np.array([0.1, 0.1]), 5000)[500:]
    assert np.all(X >= np.array([float(v) for v in lo])) and np.all(X <= np.array([float(v) for v in hi]))


def test_budget_and_depth_limits_are_reported():
    m = ex("lozi")
    r = trace_manifold(m, "P1-2", "unstable", depth=50, budget=100)
    assert r.stopped_by == "budget" and 100 <= len(r.pieces) < 200
    r = trace_manifold(m, "P1-2", "unstable", depth=3, budget=10000)
    assert r.stopped_by == "depth" and max(p.depth for p in r.pieces) == 3


# ----------------------------------------------------------------------------- random models

small = st.builds(F, st.integers(-6, 6), st.sampled_from([1, 2, 3, 4]))


def _mm(A, B):
    return [[sum(A[i][t] * B[t][j] for t in range(len(B))) for j in range(len(B[0]))] for i in range(len(A))]


@st.composite
def saddle_models(draw, ns=(2, 3), max_L=4):
    """A relu-affine model built around a saddle fixed point p strictly inside its region.

    J_s = Q Λ Q^{-1} with eigenvalues on both sides of the unit circle (real, a rotation
    block, a Jordan block, a zero eigenvalue) or a random J_s; A and e are solved for so
    that f(p) = p with Jacobian J_s in p's region.
    """
    n = draw(st.sampled_from(ns))
    L = draw(st.integers(1, max_L))
    C = [[draw(small) for _ in range(n)] for _ in range(L)]
    for row in C:
        if all(v == 0 for v in row):
            row[0] = F(1)
    p = [draw(small) for _ in range(n)]
    d, bits = [], ""
    for i in range(L):
        sgn = draw(st.sampled_from([1, -1]))
        d.append(sgn * draw(st.sampled_from([F(1, 2), F(1), F(2)])) - sum(C[i][j] * p[j] for j in range(n)))
        bits += "1" if sgn > 0 else "0"
    kind = draw(st.sampled_from(["diag", "rotation", "jordan", "random"]))
    inside = st.sampled_from([F(-1, 2), F(1, 3), F(0), F(2, 3), F(-3, 4), F(1, 5)])
    outside = st.sampled_from([F(3, 2), F(-2), F(5, 4), F(3), F(-4, 3)])
    Q = [[draw(small) for _ in range(n)] for _ in range(n)]
    for i in range(n):                       # strictly diagonally dominant: invertible
        Q[i][i] = 1 + sum(abs(v) for v in Q[i])
    lam = [draw(outside)] + [draw(inside) for _ in range(n - 1)]
    if n == 3 and draw(st.booleans()):
        lam = [draw(outside), draw(outside), draw(inside)]
    D = [[lam[i] if i == j else F(0) for j in range(n)] for i in range(n)]
    if kind == "rotation" and n == 3:
        r = draw(st.sampled_from([F(1, 2), F(2)]))
        D[1][1], D[1][2], D[2][1], D[2][2] = r * F(3, 5), -r * F(4, 5), r * F(4, 5), r * F(3, 5)
        D[0][0] = F(3) if r < 1 else F(1, 3)
    elif kind == "jordan":
        D[n - 2][n - 1] = F(1)
        D[n - 2][n - 2] = D[n - 1][n - 1]
        if n == 2:
            D[0][0] = D[1][1] = F(1, 3)
            D[0][1] = F(1)
            D = [[F(3, 2), F(0)], [F(0), F(1, 3)]] if draw(st.booleans()) else D
    Qinv = [[F(int(v.p), int(v.q)) for v in row] for row in sp.Matrix(Q).inv().tolist()]
    J = _mm(_mm(Q, D), Qinv)
    if kind == "random":
        J = [[draw(small) for _ in range(n)] for _ in range(n)]
    B = [[draw(small) for _ in range(L)] for _ in range(n)]
    Ds = [[F(1) if (i == j and bits[i] == "1") else F(0) for j in range(L)] for i in range(L)]
    BDC = _mm(_mm(B, Ds), C)
    A = [[J[i][j] - BDC[i][j] for j in range(n)] for i in range(n)]
    e = [p[i] - sum(J[i][j] * p[j] for j in range(n)) - sum(B[i][k] * (d[k] if bits[k] == "1" else 0) for k in range(L))
         for i in range(n)]
    s = lambda v: f"{v.numerator}/{v.denominator}"
    mdl = {"kind": "relu-affine", "A": [[s(v) for v in r] for r in A], "B": [[s(v) for v in r] for r in B],
           "C": [[s(v) for v in r] for r in C], "d": [s(v) for v in d], "e": [s(v) for v in e]}
    return mdl, tuple(p)


def _saddle(data):
    mdl, p = data
    m = model_from_dict(mdl)
    o = [o for o in find_orbits(m, 1).orbits if o.points and o.points[0] == p]
    assume(o and o[0].type == "saddle")
    return m, o[0]


def _box(o, w=4):
    return (tuple(v - w for v in o.points[0]), tuple(v + w for v in o.points[0]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(saddle_models())
def test_images_of_unstable_pieces_are_covered_by_the_next_depth(data):
    m, o = _saddle(data)
    D = 4
    res = trace_manifold(m, o, "unstable", depth=D, budget=400, box=_box(o), box_fraction=False)
    assume(res.stopped_by != "budget")
    lo, hi = (np.array([float(v) for v in b]) for b in res.box)
    rng = np.random.default_rng(0)
    boxes = [(vertices(q).min(axis=0) - 1e-7, vertices(q).max(axis=0) + 1e-7) if q.k <= 3 else None
             for q in res.pieces]
    for P in res.pieces:
        if P.depth >= D:
            continue
        Q = image(P, m)
        for y in sample(Q, 3, rng):
            if np.any(y < lo - 1e-9) or np.any(y > hi + 1e-9):
                continue                                   # clipped away by the box
            cands = [q for q, bb in zip(res.pieces, boxes) if q.depth <= P.depth + 1
                     and (bb is None or (np.all(y >= bb[0]) and np.all(y <= bb[1])))]
            assert any(contains(q, y, tol=1e-7) for q in cands), (P.depth, y)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(saddle_models())
def test_points_on_stable_pieces_reach_the_local_piece_and_converge(data):
    m, o = _saddle(data)
    res = trace_manifold(m, o, "stable", depth=3, budget=150, box=_box(o), box_fraction=False)
    L = res.local.piece
    theta = float(res.local.contraction)
    kappa = 10 * np.linalg.cond(L.Uf) if L.k else 1.0          # adapted norm vs Euclidean norm
    p = np.array([float(v) for v in o.points[0]])
    rng = np.random.default_rng(1)
    for P in res.pieces[:25]:
        if P.exact and P.dim == P.k:
            # exact rational points of the piece, iterated exactly with the true map
            for b in sample(P, 2, rng):
                coeffs = np.linalg.lstsq(P.Uf, b - P.of, rcond=None)[0]
                x = P.point_exact([F(float(c)).limit_denominator(1 << 20) for c in coeffs])
                if not exact_member(P, x):
                    continue                      # rounding the parameters left the piece
                for _ in range(P.depth):
                    x = m.f_exact(x)
                assert exact_member(L, x)             # first entry into the proven local piece
                d0 = np.linalg.norm(np.array(x, float) - p)
                for _ in range(25):
                    x = m.f_exact(x)
                assert np.linalg.norm(np.array(x, float) - p) <= kappa * theta ** 25 * d0 + 1e-300
        else:
            for x in sample(P, 2, rng):
                for _ in range(P.depth):
                    x = m.f(x)
                assert contains(L, x, tol=1e-6)
                d0 = np.linalg.norm(x - p)
                dists = []
                for _ in range(60):                   # float iteration: unstable directions amplify
                    x = m.f(x)                        # rounding errors, so only the minimum counts
                    dists.append(np.linalg.norm(x - p))
                assert min(dists) <= max(0.5, kappa * theta ** 20) * d0 + 1e-9


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(saddle_models(), st.sampled_from(["stable", "unstable"]))
def test_every_piece_lies_in_the_closure_of_its_region(data, side):
    m, o = _saddle(data)
    res = trace_manifold(m, o, side, depth=4, budget=150, box=_box(o), box_fraction=False)
    assert res.local.proven and res.local.contraction < 1
    for P in res.pieces:
        assert len(P.region) == m.L
        V = vertices_exact(P) if P.exact else None
        if V is not None:
            assert all(in_closure(m, v, P.region) for v in V)
        else:
            assert float_region_ok(m, P)


# ----------------------------------------------------------------------------- CLI

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "verify.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_manifold_json_and_plot(tmp_path):
    out = tmp_path / "w.png"
    r = _cli("manifold", "bistable", "--orbit", "P1-3", "--side", "stable", "--json", "--quiet", "--plot", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["orbit"] == "P1-3" and doc["side"] == "stable" and doc["dimension"] == 1
    assert doc["stopped_by"] == "box" and doc["exact"] is True
    for piece in doc["pieces"]:
        assert set(piece) >= {"region", "itinerary", "vertices"}
        assert all(F(x) == F(y) for x, y in piece["vertices"])
    assert out.stat().st_size > 1000


def test_cli_manifold_errors_are_one_line_exit_2():
    for args in (["--orbit", "P1-9", "--side", "stable"], ["--orbit", "P1-1", "--side", "unstable"],
                 ["--orbit", "banana", "--side", "stable"]):
        r = _cli("manifold", "bistable", *args, "--quiet")
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = _cli("manifold", "gingerbreadman", "--orbit", "P1-1", "--side", "stable", "--quiet")
    assert r.returncode == 2 and "no stable directions" in r.stderr


def test_unstable_jump_keeps_exact_pieces_exact_and_stops_at_the_region_boundary():
    """f(z) = 2z + (1, 0) on x < 0 (a 2-D repelling fixed point (−1, 0) with a rational
    eigen-space): f^m(L) = (−1, 0) + 2^m (L − (−1, 0)) stays in x <= 0 exactly while
    2^m r <= 1 (r the x half-width of L), so the jump is the largest such m, and the pieces
    stay exact (the jump uses exact powers of J for exact pieces)."""
    m = model_from_dict({"kind": "plrnn", "A": [["2", "0"], ["0", "2"]], "W": [["-3", "0"], ["0", "0"]],
                         "h": ["1", "0"]})
    o = find_orbits(m, 1).by_id("P1-1")
    assert o.points[0] == (F(-1), F(0)) and o.unstable_dim == 2
    res = trace_manifold(m, o, "unstable", depth=3, budget=200, box=([F(-8), F(-8)], [F(8), F(8)]))
    assert all(P.exact for P in res.pieces)
    xs = [v[0] for v in vertices_exact(res.local.piece)]
    r = max(xs) - F(-1)
    M = res.stats["jump"]
    assert 2 ** M * r <= 1 < 2 ** (M + 1) * r
    big = res.pieces[0]
    assert big.depth == M and max(v[0] for v in vertices_exact(big)) == -1 + 2 ** M * r
