"""Stable / unstable / centre subspaces: exact answers from linear algebra, rigorous enclosures
checked against an independent high-precision eigen-decomposition (mpmath), invariants on
random rational matrices (DESIGN §5 "Eigenspaces")."""
from __future__ import annotations

from fractions import Fraction as F

import flint
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from proofs_examples import example_path
from symbolic.eigenspaces import (
    arb_of_interval, cycle_jacobians, eigenspaces, interval_of_arb, invariant_subspace,
    orbit_eigenspaces,
)
from symbolic.models import load_model
from symbolic.orbits import compose_itinerary, find_orbits
from symbolic.rationals import matrix, rows_of
from symbolic.stability import classify


def span_equal_exact(V, vectors):
    """Column space of fmpq_mat V equals the span of the given exact rational vectors."""
    W = matrix([list(v) for v in vectors]).transpose()
    both = flint.fmpq_mat(V.nrows(), V.ncols() + W.ncols())
    for i in range(V.nrows()):
        for j in range(V.ncols()):
            both[i, j] = V[i, j]
        for j in range(W.ncols()):
            both[i, V.ncols() + j] = W[i, j]
    return V.rank() == W.rank() == both.rank()


def normal_form_mp(B, free):
    """B (mpmath n×k, spanning E) rescaled to the normal form with identity rows `free`."""
    k = B.cols
    with mpmath.workprec(300):
        S = mpmath.matrix([[B[i, j] for j in range(k)] for i in free])
        return B * mpmath.inverse(S)


def assert_enclosure_contains(E, Vref, slack=mpmath.mpf(2) ** -200):
    with mpmath.workprec(300):
        for i, row in enumerate(E.enclosure):
            for j, (lo, hi) in enumerate(row):
                v = Vref[i, j]
                assert mpmath.mpf(lo.numerator) / lo.denominator - slack <= v.real <= mpmath.mpf(hi.numerator) / hi.denominator + slack, (i, j, lo, hi, v)


def reference_subspace(J, side):
    """Independent numerical basis at 300 bits: real and imaginary parts of eigenvectors."""
    n = J.nrows()
    with mpmath.workprec(300):
        M = mpmath.matrix([[mpmath.mpf(int(J[i, j].p)) / int(J[i, j].q) for j in range(n)] for i in range(n)])
        ev, vecs = mpmath.eig(M)
        cols = []
        for t, lam in enumerate(ev):
            a = abs(lam)
            eps = mpmath.mpf(10) ** -50                # |λ| = 1 exactly is neither side
            if (side == "stable" and a < 1 - eps) or (side == "unstable" and a > 1 + eps):
                v = vecs[:, t]
                if abs(mpmath.im(lam)) < mpmath.mpf(10) ** -60:
                    cols.append([mpmath.re(x) for x in v])
                elif mpmath.im(lam) > 0:
                    cols.append([mpmath.re(x) for x in v])
                    cols.append([mpmath.im(x) for x in v])
        return mpmath.matrix([[c[i] for c in cols] for i in range(n)]) if cols else None


# ----------------------------------------------------------------------------- known answers

def test_bistable_saddle_subspaces_are_exact_diagonal_and_antidiagonal():
    J = matrix([[F(1, 2), -1], [-1, F(1, 2)]])           # eigenvalues 3/2 (1,-1), -1/2 (1,1)
    E = eigenspaces(J)
    assert E.stable.exact and E.unstable.exact
    assert E.stable.dim == E.unstable.dim == 1 and E.center.dim == 0
    assert span_equal_exact(E.stable.basis_exact, [(1, 1)])
    assert span_equal_exact(E.unstable.basis_exact, [(1, -1)])
    assert E.stable.restriction(J) == matrix([[F(-1, 2)]])
    assert E.unstable.restriction(J) == matrix([[F(3, 2)]])
    assert E.stable.max_width() == 0


def test_bistable_model_saddle_from_the_orbit_search():
    m = load_model(example_path("bistable"))
    o = next(o for o in find_orbits(m, 1).orbits if o.type == "saddle")
    (E,) = orbit_eigenspaces(m, o)
    assert span_equal_exact(E.stable.basis_exact, [(1, 1)])


def test_lozi_eigenvectors_enclose_the_algebraic_values():
    J = matrix([[F(-17, 10), 1], [F(1, 2), 0]])
    s489 = sp.sqrt(489)
    lam_u, lam_s = (-17 - s489) / 20, (-17 + s489) / 20
    for side, lam in (("unstable", lam_u), ("stable", lam_s)):
        E = invariant_subspace(J, side, prec_bits=128)
        assert not E.exact and E.dim == 1
        # eigenvector (2 lam, 1) (second row: x/2 = lam y); normal form divides by entry `free`
        v = [2 * lam, sp.Integer(1)]
        (f,) = E.free
        for i in range(2):
            exact = sp.nsimplify(v[i] / v[f])
            lo, hi = E.enclosure[i][0]
            assert sp.Rational(lo.numerator, lo.denominator) <= exact <= sp.Rational(hi.numerator, hi.denominator)
        assert E.max_width() < F(1, 2 ** 110)
        M = E.restriction(J)                      # arb enclosure of the eigenvalue
        lo, hi = interval_of_arb(M[0, 0])
        assert sp.Rational(lo.numerator, lo.denominator) <= lam <= sp.Rational(hi.numerator, hi.denominator)


def test_precision_parameter_tightens_the_enclosure():
    J = matrix([[F(-17, 10), 1], [F(1, 2), 0]])
    w64 = invariant_subspace(J, "unstable", prec_bits=64).max_width()
    w512 = invariant_subspace(J, "unstable", prec_bits=512).max_width()
    assert 0 < w512 < w64 * F(1, 2 ** 300)


def test_border_collision_saddle_is_split_by_an_irreducible_quadratic():
    m = load_model(example_path("border_collision"))
    o = next(o for o in find_orbits(m, 1).orbits if o.points[0] == (F(5, 17), F(-2, 17)))
    (E,) = orbit_eigenspaces(m, o)
    assert not E.stable.exact and E.stable.dim == E.unstable.dim == 1
    (P,) = cycle_jacobians(m, o.regions)
    assert_enclosure_contains(E.unstable, normal_form_mp(reference_subspace(P, "unstable"), E.unstable.free))


def test_jordan_block_gives_generalised_eigenvectors():
    J = matrix([[F(1, 2), 1, 0], [0, F(1, 2), 0], [0, 0, 3]])     # Jordan block for 1/2
    E = eigenspaces(J)
    assert E.stable.exact and E.stable.dim == 2
    assert span_equal_exact(E.stable.basis_exact, [(1, 0, 0), (0, 1, 0)])
    assert span_equal_exact(E.unstable.basis_exact, [(0, 0, 1)])


def test_nilpotent_part_belongs_to_the_stable_subspace():
    J = matrix([[0, 1, 0], [0, 0, 0], [1, 1, 2]])                 # eigenvalues 0, 0 (Jordan), 2
    E = eigenspaces(J)
    assert E.stable.dim == 2 and E.unstable.dim == 1 and E.stable.exact
    M = E.stable.restriction(J)
    assert classify(M).n_inside == 2


def test_complex_pair_inside_gives_an_exact_real_plane():
    J = matrix([[F(3, 10), F(-2, 5), 0], [F(2, 5), F(3, 10), 0], [1, 1, 2]])   # |λ| = 1/2 pair
    E = eigenspaces(J)
    assert E.stable.exact and E.stable.dim == 2 and E.unstable.dim == 1
    JV = J * E.stable.basis_exact
    assert JV == E.stable.basis_exact * E.stable.restriction(J)


def test_irreducible_quartic_with_complex_pairs_on_both_sides():
    # x^4 - 3x^3 + 3x + 3 is irreducible over Q; roots 2.12 ± 0.35i (outside), -0.62 ± 0.51i (inside)
    c = [3, 3, 0, -3]
    J = matrix([[0, 0, 0, -c[0]], [1, 0, 0, -c[1]], [0, 1, 0, -c[2]], [0, 0, 1, -c[3]]])
    assert list(J.charpoly().coeffs()) == [3, 3, 0, -3, 1]
    E = eigenspaces(J)
    for side in ("stable", "unstable"):
        S = E.side(side)
        assert not S.exact and S.dim == 2
        assert_enclosure_contains(S, normal_form_mp(reference_subspace(J, side), S.free))
        M = S.restriction(J)
        # the restriction's eigenvalues: det and trace enclose the exact pair's |λ|² and 2 Re λ
        tr = M[0, 0] + M[1, 1]
        lo, hi = interval_of_arb(tr)
        assert (2.5 < lo < hi < 5) if side == "unstable" else (-1.5 < lo < hi < -1)


def test_center_subspace_of_gingerbreadman():
    m = load_model(example_path("gingerbreadman"))
    o = find_orbits(m, 1).orbits[0]
    (E,) = orbit_eigenspaces(m, o)
    assert E.center.dim == 2 and E.stable.dim == E.unstable.dim == 0 and E.center.exact


def test_cycle_jacobians_match_composition_at_every_rotation():
    m = load_model(example_path("lozi"))
    res = find_orbits(m, 4)
    cyc = [o for o in res.orbits if o.period > 1 and o.stability is not None]
    assert cyc
    for o in cyc:
        Ps = cycle_jacobians(m, o.regions)
        for j in range(o.period):
            rot = o.regions[j:] + o.regions[:j]
            assert Ps[j] == compose_itinerary(m, rot)[0]
        Es = orbit_eigenspaces(m, o)
        assert all(E.stable.dim == o.stable_dim and E.unstable.dim == o.unstable_dim for E in Es)


def test_arb_interval_round_trip_is_outward():
    old = flint.ctx.prec
    flint.ctx.prec = 64
    try:
        b = arb_of_interval(F(1, 3), F(2, 3))
        lo, hi = interval_of_arb(b)
        assert lo <= F(1, 3) and hi >= F(2, 3)
    finally:
        flint.ctx.prec = old


# ----------------------------------------------------------------------------- properties

small = st.builds(F, st.integers(-5, 5), st.sampled_from([1, 2, 3, 4]))


@st.composite
def rational_matrices(draw, max_n=4):
    n = draw(st.integers(1, max_n))
    return matrix([[draw(small) for _ in range(n)] for _ in range(n)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rational_matrices())
def test_dimensions_add_up_and_match_exact_root_counts(J):
    E = eigenspaces(J, prec_bits=64)
    st_ = E.stability
    assert (E.stable.dim, E.center.dim, E.unstable.dim) == (st_.n_inside, st_.n_on, st_.n_outside)
    assert E.stable.dim + E.center.dim + E.unstable.dim == J.nrows()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rational_matrices())
def test_subspaces_are_invariant_with_the_right_spectrum(J):
    E = eigenspaces(J, prec_bits=64)
    for side, loc in (("stable", "n_inside"), ("unstable", "n_outside"), ("center", "n_on")):
        S = E.side(side)
        if S.dim == 0:
            continue
        for a, i in enumerate(S.free):                       # normal form: identity rows
            for b in range(S.dim):
                assert S.enclosure[i][b] == (F(int(a == b)), F(int(a == b)))
        M = S.restriction(J)
        if S.exact:
            assert J * S.basis_exact == S.basis_exact * M           # exact invariance
            assert getattr(classify(M), loc) == S.dim               # exact spectrum of J|E
        else:
            # enclosure: J V - V M contains 0 for the exact V (balls), and the float residual is tiny
            Va = S.arb_basis()
            R = flint.arb_mat(J) * Va - Va * M
            assert all(R[i, j].contains(0) for i in range(R.nrows()) for j in range(R.ncols()))
            assert np.allclose(np.array([[float(R[i, j].mid()) for j in range(R.ncols())] for i in range(R.nrows())]), 0, atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rational_matrices(max_n=4))
def test_enclosures_contain_an_independent_eigenvector_basis(J):
    n = J.nrows()
    p = J.charpoly()
    assume(p.gcd(p.derivative()).degree() == 0)        # distinct eigenvalues: mpmath.eig is reliable
    for side in ("stable", "unstable"):
        S = invariant_subspace(J, side, prec_bits=128)
        if S.dim == 0:
            continue
        B = reference_subspace(J, side)
        assert B is not None and B.cols == S.dim
        with mpmath.workprec(300):
            assert_enclosure_contains(S, normal_form_mp(B, S.free), slack=mpmath.mpf(2) ** -150)
