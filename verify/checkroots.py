"""Where the roots of a rational polynomial lie with respect to the unit circle (checker side).

Independent of :mod:`symbolic.stability` (which uses flint balls and a reciprocal-gcd
argument): here sympy's exact root isolation (real intervals and complex rectangles with
rational corners, Collins–Krandick / Sturm-based) is refined until every isolating box lies
strictly inside or strictly outside the unit disk, decided with rational arithmetic:

    max |λ|² over a box = max over its corners of x² + y²,
    min |λ|² over a box = dist(0, [x1, x2])² + dist(0, [y1, y2])².

A root on the unit circle never separates, so a polynomial with such a root is reported as
undecided: the checker can confirm hyperbolicity, never wrongly assert it.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

_X = sp.Symbol("x")


def _F(v) -> Fraction:
    v = sp.Rational(v)
    return Fraction(int(v.p), int(v.q))


def _dist0(a: Fraction, b: Fraction) -> Fraction:
    if a <= 0 <= b:
        return Fraction(0)
    return min(abs(a), abs(b))


def _box_side(x1, x2, y1, y2) -> str | None:
    hi = max(x * x + y * y for x in (x1, x2) for y in (y1, y2))
    lo = _dist0(x1, x2) ** 2 + _dist0(y1, y2) ** 2
    if hi < 1:
        return "inside"
    if lo > 1:
        return "outside"
    return None


def locate_roots(coeffs_low_first: list[Fraction], max_refinements: int = 7) -> dict | None:
    """Counts {'inside': a, 'outside': b} with multiplicity, or None if some root stays on
    (or too close to decide near) the unit circle."""
    poly = sp.Poly([sp.Rational(c.numerator, c.denominator) for c in reversed(coeffs_low_first)], _X, domain="QQ")
    if poly.degree() <= 0:
        return {"inside": 0, "outside": 0}
    counts = {"inside": 0, "outside": 0}
    _, factors = poly.sqf_list()
    for g, mult in factors:
        if g.degree() == 0:
            continue
        eps = Fraction(1, 16)
        for _ in range(max_refinements):
            real, cplx = g.intervals(all=True, eps=sp.Rational(eps.numerator, eps.denominator))
            sides = []
            for (a, b), m in real:
                sides.append((_box_side(_F(a), _F(b), Fraction(0), Fraction(0)), m))
            for (lo, hi), m in cplx:
                x1, y1 = _F(sp.re(lo)), _F(sp.im(lo))
                x2, y2 = _F(sp.re(hi)), _F(sp.im(hi))
                sides.append((_box_side(x1, x2, y1, y2), m))
            if all(s is not None for s, _ in sides):
                for s, m in sides:
                    counts[s] += m * mult
                break
            eps = eps * eps if eps > Fraction(1, 2**64) else eps / 2**64
        else:
            return None
    return counts
