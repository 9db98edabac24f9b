"""Tests for symbolic.stability: exact unit-circle counting and certified eigenvalue enclosures.

Known answers come from mathematics (Lozi, border-collision normal form, Gingerbreadman,
cyclotomic polynomials); properties are cross-checked against mpmath at high precision
(floats/mpf appear ONLY here, as an independent check, never in the code under test).
"""
from __future__ import annotations

import json
from fractions import Fraction

import flint
import mpmath
import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from symbolic.stability import (
    Eigenvalue,
    Stability,
    _decimal_out,
    charpoly,
    classify,
    count_unit_circle,
    eigenvalue_enclosures,
)

Q = flint.fmpq
P = flint.fmpq_poly
X = P([0, 1])

# --------------------------------------------------------------------------- helpers


def mat(rows) -> flint.fmpq_mat:
    rows = [[Fraction(v) for v in r] for r in rows]
    n, m = len(rows), len(rows[0]) if rows else 0
    return flint.fmpq_mat(n, m, [Q(v.numerator, v.denominator) for r in rows for v in r])


def rows_of(M):
    return [[Fraction(int(M[i, j].p), int(M[i, j].q)) for j in range(M.ncols())]
            for i in range(M.nrows())]


def companion(p: flint.fmpq_poly) -> flint.fmpq_mat:
    """Companion matrix with characteristic polynomial p / lc(p)."""
    c = [Fraction(int(a.p), int(a.q)) for a in p.coeffs()]
    n = len(c) - 1
    c = [a / c[-1] for a in c]
    rows = [[Fraction(0)] * n for _ in range(n)]
    for i in range(1, n):
        rows[i][i - 1] = Fraction(1)
    for i in range(n):
        rows[i][n - 1] = -c[i]
    return mat(rows)


def block_diag(A, B):
    a, b = rows_of(A), rows_of(B)
    n, m = len(a), len(b)
    rows = [r + [Fraction(0)] * m for r in a] + [[Fraction(0)] * n + r for r in b]
    return mat(rows)


def counts(s: Stability):
    return s.n_inside, s.n_on, s.n_outside


def contains(ev: Eigenvalue, re, im=0) -> bool:
    """Exact (sympy) test that the algebraic number re + i im lies in the enclosure."""
    re, im = sympy.nsimplify(re), sympy.nsimplify(im)
    return (bool(ev.re[0] <= re) and bool(re <= ev.re[1])
            and bool(ev.im[0] <= im) and bool(im <= ev.im[1]))


def mp_eigs(J, dps=60):
    """Eigenvalues (mpc) and moduli (mpf) of J by mpmath's QR at ``dps`` digits."""
    with mpmath.workdps(dps):
        A = mpmath.matrix([[mpmath.mpf(v.numerator) / v.denominator for v in r]
                           for r in rows_of(J)])
        if A.rows == 1:             # mpmath.eig mishandles left=right=False for 1x1
            E = [A[0, 0]]
        else:
            E = mpmath.eig(A, left=False, right=False)
        return [mpmath.mpc(e) for e in E], [abs(e) for e in E]


def mpf_fraction(x) -> Fraction:
    sign, man, exp, _ = x._mpf_          # (sign, |mantissa|, exponent, bitcount)
    v = Fraction(int(man)) * Fraction(2) ** int(exp) if man else Fraction(0)
    return -v if sign else v


rationals = st.builds(Fraction, st.integers(-6, 6), st.integers(1, 4))


@st.composite
def matrices(draw, n_min=1, n_max=4, elements=rationals):
    n = draw(st.integers(n_min, n_max))
    return mat([[draw(elements) for _ in range(n)] for _ in range(n)])


@st.composite
def unimodular(draw, n):
    """Random integer matrix with det ±1 (product of elementary row operations and swaps)."""
    rows = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    for _ in range(draw(st.integers(0, 2 * n + 2))):
        if n < 2:
            break
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if i == j:
            continue
        if draw(st.booleans()):
            k = draw(st.integers(-3, 3))
            rows[i] = [a + k * b for a, b in zip(rows[i], rows[j])]
        else:
            rows[i], rows[j] = rows[j], rows[i]
    if draw(st.booleans()):
        rows[0] = [-a for a in rows[0]]
    return mat(rows)


# --------------------------------------------------------------------------- known answers


def test_lozi_saddle_has_one_inside_one_outside_and_enclosures_contain_exact_roots():
    J = mat([[Fraction(-17, 10), 1], [Fraction(1, 2), 0]])
    s = classify(J)
    assert counts(s) == (1, 0, 1) and s.type == "saddle"
    assert s.charpoly == (Fraction(-1, 2), Fraction(17, 10), Fraction(1))
    assert (s.stable_dim, s.unstable_dim, s.center_dim) == (1, 1, 0)
    r = sympy.sqrt(489)
    exact = {(-17 + r) / 20: "inside", (-17 - r) / 20: "outside"}
    assert len(s.eigenvalues) == 2
    for ev in s.eigenvalues:
        assert ev.is_real and ev.im == (0, 0) and ev.multiplicity == 1
        [(val, loc)] = [(v, l) for v, l in exact.items() if contains(ev, v)]
        assert ev.location == loc
        assert ev.re[1] - ev.re[0] < Fraction(1, 2 ** 55)
    assert s.spectral_radius_upper >= (17 + r) / 20
    assert s.spectral_radius_upper - (17 + r) / 20 < sympy.Rational(1, 10 ** 15)


def test_border_collision_normal_form_saddle_eigenvalues():
    # (tau_R, delta_R) = (-2, 2/5): eigenvalues -1 ± sqrt(15)/5
    s = classify(mat([[-2, 1], [Fraction(-2, 5), 0]]))
    assert s.type == "saddle" and counts(s) == (1, 0, 1)
    for v in (-1 + sympy.sqrt(15) / 5, -1 - sympy.sqrt(15) / 5):
        assert any(contains(ev, v) for ev in s.eigenvalues)


def test_gingerbreadman_is_non_hyperbolic_with_roots_exactly_on_circle():
    s = classify(mat([[1, -1], [1, 0]]))
    assert counts(s) == (0, 2, 0) and s.type == "non-hyperbolic"
    assert s.spectral_radius_upper == 1
    assert all(ev.location == "on" and not ev.is_real for ev in s.eigenvalues)
    for sign in (1, -1):
        v = (1 + sign * sympy.I * sympy.sqrt(3)) / 2
        assert any(contains(ev, sympy.re(v), sympy.im(v)) for ev in s.eigenvalues)


def test_pythagorean_rotation_is_on_circle():
    s = classify(mat([[Fraction(3, 5), Fraction(-4, 5)], [Fraction(4, 5), Fraction(3, 5)]]))
    assert counts(s) == (0, 2, 0) and s.type == "non-hyperbolic"
    for im in (Fraction(4, 5), Fraction(-4, 5)):
        assert any(contains(ev, Fraction(3, 5), im) for ev in s.eigenvalues)


def test_reciprocal_pair_two_and_half_is_a_saddle_not_on_circle():
    s = classify(mat([[2, 0], [0, Fraction(1, 2)]]))
    assert s.type == "saddle" and counts(s) == (1, 0, 1)
    got = sorted((ev.re, ev.location) for ev in s.eigenvalues)
    assert got == [((Fraction(1, 2), Fraction(1, 2)), "inside"), ((Fraction(2), Fraction(2)), "outside")]
    assert s.spectral_radius_upper == 2


def test_jordan_blocks_keep_multiplicity():
    s = classify(mat([[Fraction(1, 2), 1], [0, Fraction(1, 2)]]))
    assert s.type == "attractor" and counts(s) == (2, 0, 0)
    [ev] = s.eigenvalues
    assert ev.multiplicity == 2 and ev.re == (Fraction(1, 2), Fraction(1, 2)) and ev.is_real
    s = classify(mat([[1, 1], [0, 1]]))                       # shear: Jordan block at 1
    assert s.type == "non-hyperbolic" and counts(s) == (0, 2, 0)
    assert [e.multiplicity for e in s.eigenvalues] == [2]


def test_zero_matrix_and_one_by_one_matrices():
    s = classify(flint.fmpq_mat(3, 3))
    assert s.type == "attractor" and counts(s) == (3, 0, 0)
    assert s.spectral_radius_upper == 0
    [ev] = s.eigenvalues
    assert ev.multiplicity == 3 and ev.re == (0, 0) and ev.im == (0, 0)
    for a, kind in [(2, "repeller"), (-1, "non-hyperbolic"), (1, "non-hyperbolic"),
                    (Fraction(1, 3), "attractor"), (Fraction(-7, 5), "repeller"), (0, "attractor")]:
        s = classify(mat([[a]]))
        assert s.type == kind
        assert s.eigenvalues[0].re == (Fraction(a), Fraction(a))


def test_degenerate_inputs_raise():
    with pytest.raises(ValueError):
        classify(flint.fmpq_mat(0, 0))
    with pytest.raises(ValueError):
        classify(flint.fmpq_mat(2, 3))
    with pytest.raises(ValueError):
        count_unit_circle(P([]))
    assert count_unit_circle(P([5])) == (0, 0, 0)
    assert charpoly(flint.fmpq_mat(0, 0)) == 1


@pytest.mark.parametrize("poly, expected", [
    (X**2 - X + 1, (0, 2, 0)),
    (X**2 + 1, (0, 2, 0)),
    (X - 1, (0, 1, 0)),
    (X + 1, (0, 1, 0)),
    ((X**2 - X + 1) ** 2, (0, 4, 0)),
    ((X - 2) * (X - Q(1, 2)), (1, 0, 1)),
    (X**2 - 3 * X + 1, (1, 0, 1)),
    ((X - 1) ** 3 * (X + 1) ** 2, (0, 5, 0)),
    (X**3, (3, 0, 0)),
    (X**4 - 1, (0, 4, 0)),
    (X**2 - 2, (0, 0, 2)),
    (X**2 - Q(1, 2), (2, 0, 0)),
    (X**4 + 1, (0, 4, 0)),
    (X**4 - 4 * X**3 + 6 * X**2 - 4 * X + 1, (0, 4, 0)),        # (x-1)^4
    (X**4 + X**3 + X**2 + X + 1, (0, 4, 0)),                   # Phi_5
    (2 * X**4 - 5 * X**3 + 8 * X**2 - 5 * X + 2, (2, 0, 2)),    # self-reciprocal, h without roots in (-2, 2)
    (X**4 - 4 * X**3 + 5 * X**2 - 4 * X + 1, (1, 2, 1)),        # h = (t - 1)(t - 3)
    # Lehmer's polynomial (irreducible Salem polynomial): 8 roots on the circle, 1.17628... and its inverse
    (P([1, 1, 0, -1, -1, -1, -1, -1, 0, 1, 1]), (1, 8, 1)),
    ((X**2 - Q(6, 5) * X + 1) * (X**2 - 3 * X + 1) * X, (2, 2, 1)),
])
def test_known_polynomials_are_counted_exactly(poly, expected):
    assert count_unit_circle(poly) == expected
    s = classify(companion(poly))
    assert counts(s) == expected
    assert sum(e.multiplicity for e in s.eigenvalues) == poly.degree()


def test_cyclotomic_companion_matrices_are_non_hyperbolic():
    polys = [P(flint.fmpz_poly.cyclotomic(k)) for k in range(1, 31)]
    for k, phi in enumerate(polys, start=1):
        s = classify(companion(phi))
        assert counts(s) == (0, phi.degree(), 0), k
        assert s.type == "non-hyperbolic" and s.spectral_radius_upper == 1
    prod = polys[2] ** 2 * polys[11] * polys[6] * polys[0] * polys[1] ** 3
    assert count_unit_circle(prod) == (0, prod.degree(), 0)
    assert count_unit_circle(prod * (X - Q(1, 3)) * (X - 3)) == (1, prod.degree(), 1)


def test_roots_extremely_close_to_circle_are_decided_exactly():
    old = flint.ctx.prec
    for eps, loc in [(Fraction(1, 10**40), "outside"), (Fraction(-1, 10**40), "inside")]:
        r = 1 + eps
        rq = Q(r.numerator, r.denominator)
        pair = X**2 - 2 * rq * Q(3, 5) * X + rq * rq          # r e^{±iθ}, cos θ = 3/5
        real = X - rq
        for poly, n in [(pair, 2), (real, 1), (pair * (X**2 - Q(6, 5) * X + 1), 2)]:
            evs = eigenvalue_enclosures(poly, prec_bits=32)
            assert sum(e.multiplicity for e in evs if e.location == loc) == n
            expected = {"inside": 0, "on": 0, "outside": 0}
            expected[loc] = n
            expected["on"] = poly.degree() - n
            assert count_unit_circle(poly) == (expected["inside"], expected["on"], expected["outside"])
            for e in evs:   # decided enclosures are consistent with the location
                lo, hi = e.abs2_bounds()
                assert {"inside": hi < 1, "outside": lo > 1, "on": lo <= 1 <= hi}[e.location]
    assert flint.ctx.prec == old


def test_precision_parameter_tightens_enclosures():
    poly = X**3 - 2 * X + Q(1, 3)
    for bits in (32, 64, 200):
        for e in eigenvalue_enclosures(poly, prec_bits=bits):
            assert e.re[1] - e.re[0] <= Fraction(1, 2 ** (bits - 4))
            assert e.im[1] - e.im[0] <= Fraction(1, 2 ** (bits - 4))
    evs = eigenvalue_enclosures(X**2 + X + 1, prec_bits=300)        # non-real pair
    assert all(e.im[1] - e.im[0] <= Fraction(1, 2 ** 290) and not e.is_real for e in evs)


def test_json_is_plain_and_rounded_outward():
    s = classify(mat([[Fraction(-17, 10), 1], [Fraction(1, 2), 0]]))
    d = json.loads(json.dumps(s.to_json()))
    assert d["type"] == "saddle" and d["charpoly"] == ["-1/2", "17/10", "1"]
    assert Fraction(d["spectral_radius_upper"]) == s.spectral_radius_upper
    for ev, j in zip(s.eigenvalues, d["eigenvalues"]):
        assert set(j) == {"re", "im", "multiplicity", "location"}
        assert Fraction(j["re"][0]) <= ev.re[0] and Fraction(j["re"][1]) >= ev.re[1]
        assert j["im"] == ["0", "0"]
        assert all(len(x.lstrip("-").replace(".", "").lstrip("0")) <= 17 for x in j["re"])


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.fractions(), st.integers(1, 30))
def test_decimal_rounding_is_outward(x, digits):
    lo, hi = Fraction(_decimal_out(x, False, digits)), Fraction(_decimal_out(x, True, digits))
    assert lo <= x <= hi
    assert hi - lo <= abs(x) * Fraction(1, 10 ** (digits - 1)) * 2


@settings(max_examples=80, deadline=None)
@given(matrices(n_max=5))
def test_counts_sum_to_dimension(J):
    s = classify(J)
    n = J.nrows()
    assert s.n_inside + s.n_on + s.n_outside == n
    assert sum(e.multiplicity for e in s.eigenvalues) == n
    assert count_unit_circle(charpoly(J)) == counts(s)
    assert s.type == ("non-hyperbolic" if s.n_on else "attractor" if s.n_inside == n
                      else "repeller" if s.n_outside == n else "saddle")
    for e in s.eigenvalues:        # enclosures agree with the exact location
        lo, hi = e.abs2_bounds()
        assert {"inside": hi < 1, "outside": lo > 1, "on": lo <= 1 <= hi}[e.location]
        assert e.re[0] <= e.re[1] and e.im[0] <= e.im[1]


@settings(max_examples=80, deadline=None)
@given(matrices(n_max=5))
def test_counts_agree_with_mpmath_when_moduli_are_far_from_one(J):
    _, moduli = mp_eigs(J)
    assume(all(abs(m - 1) > 1e-10 for m in moduli))
    s = classify(J)
    assert s.n_on == 0
    assert (s.n_inside, s.n_outside) == (sum(m < 1 for m in moduli), sum(m > 1 for m in moduli))


@settings(max_examples=60, deadline=None)
@given(matrices(n_max=5))
def test_enclosures_contain_mpmath_eigenvalues_and_realness_matches(J):
    p = charpoly(J)
    assume(p.gcd(p.derivative()).degree() == 0)      # simple roots: mpmath is accurate
    eigs, moduli = mp_eigs(J)
    s = classify(J)
    tol = Fraction(1, 10**30)
    for z in eigs:
        re, im = mpf_fraction(z.real), mpf_fraction(z.imag)
        hits = [e for e in s.eigenvalues
                if e.re[0] - tol <= re <= e.re[1] + tol and e.im[0] - tol <= im <= e.im[1] + tol]
        assert len(hits) == 1
    n_real = sum(e.multiplicity for e in s.eigenvalues if e.is_real)
    assert n_real == sum(1 for z in eigs if abs(z.imag) < 1e-20)
    rho = mpf_fraction(max(moduli))
    assert rho <= s.spectral_radius_upper + tol
    assert s.spectral_radius_upper <= rho + Fraction(1, 10**12)
    # non-real eigenvalues come in conjugate pairs with equal multiplicity
    for e in s.eigenvalues:
        if not e.is_real:
            assert any(f.multiplicity == e.multiplicity and f.re == e.re
                       and (f.im[0], f.im[1]) == (-e.im[1], -e.im[0]) for f in s.eigenvalues)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_similarity_transform_gives_identical_stability(data):
    J = data.draw(matrices(n_max=4))
    U = data.draw(unimodular(J.nrows()))
    assert classify(U.inv() * J * U) == classify(J)


@settings(max_examples=60, deadline=None)
@given(matrices(n_max=5))
def test_scaling_by_two_never_moves_a_root_inward(J):
    s, s2 = classify(J), classify(2 * J)
    assert s2.n_outside >= s.n_outside + s.n_on      # |2λ| >= 2|λ|: on-circle roots leave
    assert s2.n_inside <= s.n_inside


@settings(max_examples=50, deadline=None)
@given(matrices(n_max=3), matrices(n_max=3))
def test_block_diagonal_counts_add(A, B):
    a, b, ab = classify(A), classify(B), classify(block_diag(A, B))
    assert counts(ab) == tuple(x + y for x, y in zip(counts(a), counts(b)))
    assert ab.spectral_radius_upper == max(a.spectral_radius_upper, b.spectral_radius_upper) or (
        ab.spectral_radius_upper >= max(a.spectral_radius_upper, b.spectral_radius_upper)
        - Fraction(1, 10**15))


unit_c = st.builds(Fraction, st.integers(-19, 19), st.just(20))           # |c| < 1
off_a = st.builds(Fraction, st.integers(-40, 40), st.integers(1, 9)).filter(lambda a: abs(a) != 1)
radius = st.builds(Fraction, st.integers(1, 30), st.integers(1, 10)).filter(lambda r: r != 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 24), st.integers(1, 2)), max_size=3),
       st.lists(st.tuples(unit_c, st.integers(1, 2)), max_size=2),
       st.lists(off_a, max_size=3),
       st.lists(st.tuples(radius, st.integers(-9, 9)), max_size=2))
def test_polynomials_with_known_circle_roots_are_counted_exactly(cyclos, cs, reals, pairs):
    poly, inside, on, outside = P([1]), 0, 0, 0
    for k, e in cyclos:
        phi = P(flint.fmpz_poly.cyclotomic(k))
        poly *= phi**e
        on += e * phi.degree()
    for c, e in cs:                        # roots c ± i sqrt(1 - c^2), modulus exactly 1
        poly *= (X**2 - 2 * Q(c.numerator, c.denominator) * X + 1) ** e
        on += 2 * e
    for a in reals:
        poly *= X - Q(a.numerator, a.denominator)
        inside += abs(a) < 1
        outside += abs(a) > 1
    for r, t in pairs:                     # r e^{±iθ} with cos θ = t/10: modulus exactly r
        rq = Q(r.numerator, r.denominator)
        poly *= X**2 - 2 * rq * Q(t, 10) * X + rq * rq
        inside += 2 * (r < 1)
        outside += 2 * (r > 1)
    assume(poly.degree() >= 1)
    assert count_unit_circle(poly) == (inside, on, outside)
    assert count_unit_circle(poly * Q(-3, 7)) == (inside, on, outside)   # scaling-invariant


@settings(max_examples=40, deadline=None)
@given(st.lists(st.builds(Fraction, st.integers(-50, 50), st.integers(1, 12)), min_size=1, max_size=7))
def test_companion_of_random_polynomial_matches_count(coeffs):
    poly = P([Q(c.numerator, c.denominator) for c in coeffs] + [1])
    s = classify(companion(poly))
    assert charpoly(companion(poly)) == poly
    assert counts(s) == count_unit_circle(poly)
    try:
        with mpmath.workdps(50):
            roots = mpmath.polyroots(
                [1] + [mpmath.mpf(c.numerator) / c.denominator for c in reversed(coeffs)],
                maxsteps=500, extraprec=300)
    except mpmath.libmp.NoConvergence:      # multiple roots: no float cross-check this time
        return
    moduli = [abs(z) for z in roots]
    if all(abs(m - 1) > 1e-10 for m in moduli):
        assert counts(s) == (sum(m < 1 for m in moduli), 0, sum(m > 1 for m in moduli))
