"""Where the roots of a rational polynomial lie with respect to the unit circle (checker side).

Independent of :mod:`symbolic.stability` in its logic (that module counts roots *on* the circle
with a reciprocal-gcd / Sturm argument): here every root is enclosed in a certified Arb ball
(python-flint ``fmpz_poly.complex_roots``: disjoint balls, each containing exactly one root
of the square-free factor), and a root is counted inside (outside) only when the ball
arithmetic proves |λ|² < 1 (> 1). The working precision is raised until all roots are
decided; a root on the circle never separates, so a polynomial with such a root is reported
as undecided: the checker can confirm hyperbolicity, never wrongly assert it.

>>> from fractions import Fraction as F
>>> locate_roots([F(-1, 2), F(17, 10), F(1)])     # Lozi: x^2 + 17/10 x - 1/2
{'inside': 1, 'outside': 1}
>>> locate_roots([F(1), F(-1), F(1)]) is None     # roots of modulus exactly 1
True
"""
from __future__ import annotations

from fractions import Fraction

import flint

_MAX_PREC = 4096


def charpoly(rows: list[list[Fraction]]) -> list[Fraction]:
    """Exact characteristic polynomial det(x I - M), coefficients low degree first."""
    n = len(rows)
    M = flint.fmpq_mat(n, n, [flint.fmpq(v.numerator, v.denominator) for row in rows for v in row])
    p = M.charpoly()
    return [Fraction(int(c.p), int(c.q)) for c in p.coeffs()]


def _side(z) -> str | None:
    a2 = z.real * z.real + z.imag * z.imag
    if a2 < 1:
        return "inside"
    if a2 > 1:
        return "outside"
    return None


def locate_roots(coeffs_low_first: list[Fraction]) -> dict | None:
    """Counts {'inside': a, 'outside': b} with multiplicity, or None if some root cannot be
    separated from the unit circle at up to 4096 bits."""
    den = 1
    for c in coeffs_low_first:
        den = den * c.denominator // _gcd(den, c.denominator)
    ints = [int(c * den) for c in coeffs_low_first]
    while len(ints) > 1 and ints[-1] == 0:
        ints.pop()
    poly = flint.fmpz_poly(ints)
    counts = {"inside": 0, "outside": 0}
    if poly.degree() <= 0:
        return counts
    _, factors = poly.factor_squarefree()
    old = flint.ctx.prec
    try:
        for g, mult in factors:
            if g.degree() <= 0:
                continue
            prec = 64
            while True:
                flint.ctx.prec = prec
                sides = [(_side(z), m) for z, m in g.complex_roots()]
                if all(s is not None for s, _ in sides):
                    break
                prec *= 4
                if prec > _MAX_PREC:
                    return None
            for s, m in sides:
                counts[s] += m * mult
    finally:
        flint.ctx.prec = old
    return counts


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
