"""Rational-endpoint interval arithmetic (trusted base of the checker; DESIGN §9).

An :class:`Interval` is a closed interval ``[lo, hi]`` with :class:`fractions.Fraction`
endpoints. Sums, differences and products are computed exactly from the endpoints, so every
operation returns an interval containing all results of the operation on members: there is
no floating-point rounding anywhere. To keep denominators bounded, :meth:`Interval.round_out`
rounds an endpoint whose denominator exceeds 2^bits *outward* to a dyadic (``floor`` of
``lo``, ``ceil`` of ``hi``), which only ever enlarges the interval.

On top of it: exact linear algebra over Q (inverse and determinant by flint's ``fmpq_mat``,
positive definiteness by symmetric elimination over Fractions) and Krawczyk's inclusion test

    K(X) = x̃ − R F(x̃) + (I − R F'(X)) (X − x̃) ⊂ int X
        ⇒ F has exactly one zero in X, and R and every matrix of F'(X) are non-singular

(Krawczyk 1969; Moore 1977 for existence; strict inclusion gives uniqueness, Rump 1983).
F'(X) must be an interval matrix containing the Jacobian of F at every point of X; for the
affine and quadratic maps used here it is obtained by evaluating the Jacobian's formula in
interval arithmetic. For a linear system ``M x = r`` with an interval matrix ``M`` and
vector ``r`` the same test proves that every ``M`` in the box is non-singular and every
solution lies in X.

>>> x = Interval(Fraction(1), Fraction(2))
>>> (x * x - x).lo, (x * x - x).hi        # dependency: [1, 4] - [1, 2] = [-1, 3]
(Fraction(-1, 1), Fraction(3, 1))
>>> Interval(Fraction(1, 33)).round_out(4).lo, Interval(Fraction(1, 33)).round_out(4).hi
(Fraction(0, 1), Fraction(1, 16))
"""
from __future__ import annotations

from fractions import Fraction

import flint

__all__ = [
    "Interval", "iv", "mid_vec", "matvec", "exact_matvec", "exact_matmul_iv", "iv_matmul",
    "inverse", "det", "is_positive_definite", "krawczyk", "interval_det",
]

_ZERO = Fraction(0)


def _floor_dyadic(x: Fraction, bits: int) -> Fraction:
    if x.denominator <= (1 << bits):
        return x
    return Fraction((x.numerator << bits) // x.denominator, 1 << bits)


def _ceil_dyadic(x: Fraction, bits: int) -> Fraction:
    if x.denominator <= (1 << bits):
        return x
    return Fraction(-((-x.numerator << bits) // x.denominator), 1 << bits)


class Interval:
    """Closed interval [lo, hi] of rationals; arithmetic is exact and inclusion-isotone."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi=None):
        lo = lo if isinstance(lo, Fraction) else Fraction(lo)
        hi = lo if hi is None else (hi if isinstance(hi, Fraction) else Fraction(hi))
        if lo > hi:
            raise ValueError(f"empty interval [{lo}, {hi}]")
        self.lo, self.hi = lo, hi

    # -- construction helpers
    @staticmethod
    def _of(x) -> "Interval":
        return x if isinstance(x, Interval) else Interval(x)

    def __repr__(self):
        return f"Interval({self.lo}, {self.hi})"

    # -- arithmetic
    def __add__(self, o):
        if isinstance(o, Interval):
            return Interval(self.lo + o.lo, self.hi + o.hi)
        return Interval(self.lo + o, self.hi + o)

    __radd__ = __add__

    def __neg__(self):
        return Interval(-self.hi, -self.lo)

    def __sub__(self, o):
        if isinstance(o, Interval):
            return Interval(self.lo - o.hi, self.hi - o.lo)
        return Interval(self.lo - o, self.hi - o)

    def __rsub__(self, o):
        return Interval(o - self.hi, o - self.lo)

    def __mul__(self, o):
        if isinstance(o, Interval):
            a, b, c, d = self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi
            return Interval(min(a, b, c, d), max(a, b, c, d))
        if o >= 0:
            return Interval(self.lo * o, self.hi * o)
        return Interval(self.hi * o, self.lo * o)

    __rmul__ = __mul__

    def sqr(self) -> "Interval":
        """{x² : x ∈ self} (tighter than self * self)."""
        if self.lo >= 0:
            return Interval(self.lo * self.lo, self.hi * self.hi)
        if self.hi <= 0:
            return Interval(self.hi * self.hi, self.lo * self.lo)
        return Interval(_ZERO, max(self.lo * self.lo, self.hi * self.hi))

    # -- queries
    @property
    def mid(self) -> Fraction:
        return (self.lo + self.hi) / 2

    @property
    def width(self) -> Fraction:
        return self.hi - self.lo

    def mag(self) -> Fraction:
        """max |x| over the interval."""
        return max(-self.lo, self.hi)

    def sign(self) -> int:
        """+1 / -1 when the whole interval is > 0 / < 0, else 0 (undecided)."""
        return 1 if self.lo > 0 else (-1 if self.hi < 0 else 0)

    def contains(self, x) -> bool:
        if isinstance(x, Interval):
            return self.lo <= x.lo and x.hi <= self.hi
        return self.lo <= x <= self.hi

    def strictly_contains(self, x) -> bool:
        """x (a number or interval) lies in the interior (lo, hi)."""
        if isinstance(x, Interval):
            return self.lo < x.lo and x.hi < self.hi
        return self.lo < x < self.hi

    def disjoint(self, o: "Interval") -> bool:
        return self.hi < o.lo or o.hi < self.lo

    def round_out(self, bits: int) -> "Interval":
        """An enclosing interval whose endpoints have denominators <= 2^bits: endpoints that
        already do are kept, the others are rounded outward to multiples of 2^-bits."""
        return Interval(_floor_dyadic(self.lo, bits), _ceil_dyadic(self.hi, bits))


def iv(x) -> Interval:
    return Interval._of(x)


# ----------------------------------------------------------------------------- vectors / matrices

def mid_vec(X, bits: int | None = None) -> list[Fraction]:
    """Midpoints (rounded down to 2^-bits when *bits* is given: still inside X)."""
    out = []
    for x in X:
        m = x.mid
        if bits is not None:
            m = _floor_dyadic(m, bits)
            if m < x.lo:
                m = x.lo
        out.append(m)
    return out


def _sum_iv(terms, bits):
    lo = hi = _ZERO
    for t in terms:
        if isinstance(t, Interval):
            lo += t.lo
            hi += t.hi
        else:
            lo += t
            hi += t
    out = Interval(lo, hi)
    return out.round_out(bits) if bits else out


def exact_matvec(M, v):
    """Exact rational matrix times exact vector."""
    return [sum((a * x for a, x in zip(row, v)), _ZERO) for row in M]


def matvec(M, v, bits: int | None = None) -> list[Interval]:
    """Interval (or mixed) matrix times interval (or exact) vector."""
    return [_sum_iv((a * x for a, x in zip(row, v) if not (isinstance(a, Fraction) and a == 0)), bits)
            for row in M]


def exact_matmul_iv(M, X, bits: int | None = None):
    """Exact matrix M (rows of Fractions) times interval matrix X."""
    cols = len(X[0]) if X else 0
    return [[_sum_iv((M[i][k] * X[k][j] for k in range(len(X)) if M[i][k] != 0), bits)
             for j in range(cols)] for i in range(len(M))]


def iv_matmul(X, Y, bits: int | None = None):
    """Product of two (interval or mixed) matrices."""
    cols = len(Y[0]) if Y else 0
    return [[_sum_iv((X[i][k] * Y[k][j] for k in range(len(Y))), bits) for j in range(cols)]
            for i in range(len(X))]


# ----------------------------------------------------------------------------- exact linear algebra

def _fmpq_mat(M) -> flint.fmpq_mat:
    n, m = len(M), (len(M[0]) if M else 0)
    return flint.fmpq_mat(n, m, [flint.fmpq(x.numerator, x.denominator) for row in M for x in row])


def _frac(x) -> Fraction:
    return Fraction(int(x.p), int(x.q))


def inverse(M) -> list[list[Fraction]] | None:
    """Exact inverse over Q (flint ``fmpq_mat``), or None if M is singular."""
    n = len(M)
    try:
        Mi = _fmpq_mat(M).inv()
    except ZeroDivisionError:
        return None
    return [[_frac(Mi[i, j]) for j in range(n)] for i in range(n)]


def det(M) -> Fraction:
    """Exact determinant over Q (flint ``fmpq_mat``)."""
    if not M:
        return Fraction(1)
    return _frac(_fmpq_mat(M).det())


def is_positive_definite(M) -> bool:
    """Exact test of a symmetric rational matrix: symmetric Gaussian elimination without
    pivoting succeeds with every pivot > 0 (equivalent to Sylvester's criterion)."""
    n = len(M)
    if any(M[i][j] != M[j][i] for i in range(n) for j in range(n)):
        return False
    A = [list(row) for row in M]
    for col in range(n):
        p = A[col][col]
        if p <= 0:
            return False
        for r in range(col + 1, n):
            if A[r][col] != 0:
                fct = A[r][col] / p
                A[r] = [x - fct * y for x, y in zip(A[r], A[col])]
    return True


def _round_matrix(M, bits):
    return [[_floor_dyadic(x, bits) for x in row] for row in M]


def approximate_inverse(Mmid, bits: int):
    """An approximate inverse of *Mmid*: the exact inverse (flint ``fmpq_mat``) of its rounding
    to 2^-b dyadics, rounded again, with b = min(bits, 128). Any R is sound in Krawczyk's test
    (it only has to make the test succeed). None if the rounded matrix is singular."""
    b = min(bits, 128)
    R = inverse(_round_matrix(Mmid, b))
    return None if R is None else _round_matrix(R, b)


def krawczyk(F_mid, DF, X, xt, bits: int) -> tuple[bool, list[Interval] | None]:
    """Krawczyk's test K(X) ⊂ int X for a zero of F.

    F_mid: F(x̃) as intervals or exact numbers (x̃ = xt ∈ X); DF: interval matrix containing
    F' on X; X: the box (list of Intervals). Returns (success, K).
    """
    m = len(X)
    R = approximate_inverse([[iv(a).mid for a in row] for row in DF], bits)
    if R is None:
        return False, None
    RF = matvec(R, F_mid, bits)
    RDF = exact_matmul_iv(R, DF, bits)
    C = [[(Fraction(int(i == j)) - RDF[i][j]) for j in range(m)] for i in range(m)]
    Y = [X[i] - xt[i] for i in range(m)]
    CY = matvec(C, Y, bits)
    K = [(xt[i] - RF[i] + CY[i]).round_out(bits) for i in range(m)]
    return all(X[i].strictly_contains(K[i]) for i in range(m)), K


def interval_det(M, bits: int) -> Interval | None:
    """An interval containing det(M') for every M' in the interval matrix M.

    Preconditioned: det M' = det(R M') / det R with R ≈ mid(M)^{-1} exact, and det(R M') is
    enclosed by interval Gaussian elimination of the near-identity matrix R M (no pivoting;
    None if a pivot interval contains 0).
    """
    n = len(M)
    R = approximate_inverse([[iv(a).mid for a in row] for row in M], bits)
    if R is None:
        return None
    dR = det(R)
    if dR == 0:
        return None
    A = exact_matmul_iv(R, M, bits)
    d = Interval(1)
    for col in range(n):
        p = A[col][col]
        if p.sign() == 0:
            return None
        d = (d * p).round_out(bits)
        inv_p = _recip(p, bits)
        for r in range(col + 1, n):
            fct = (A[r][col] * inv_p).round_out(bits)
            A[r] = [(A[r][j] - fct * A[col][j]).round_out(bits) if j > col else A[r][j] for j in range(n)]
    return (d * (Fraction(1) / dR)).round_out(bits)


def _recip(p: Interval, bits: int) -> Interval:
    """1/p for an interval not containing 0 (outward rounded)."""
    return Interval(1 / p.hi, 1 / p.lo).round_out(bits)
