"""Exact stability of a rational matrix: roots of its characteristic polynomial vs. the unit circle.

The decisions (how many eigenvalues lie inside / on / outside the unit circle, which
eigenvalues are real) use exact rational arithmetic and certified ball arithmetic only;
no floating-point tolerance enters them.

Method, per irreducible factor ``q`` over Q of the characteristic polynomial (multiplicities
come from the factorisation; linear factors give exact rational eigenvalues; everything
below only needs ``q`` square-free):

1. Roots on the circle are counted *exactly*. ``λ = ±1`` by evaluation. Any other root
   with ``|λ| = 1`` satisfies ``1/λ = conj(λ)``, so (``q`` real) it is a common root of ``q``
   and its reciprocal ``q*(λ) = λ^deg q(1/λ)``. ``g = gcd(q, q*)`` is self-reciprocal of even
   degree ``2m``, so ``g(λ) = λ^m h(λ + 1/λ)``; the Joukowski map ``λ ↦ λ + 1/λ`` sends
   ``|λ| = 1, λ ≠ ±1`` two-to-one onto the open interval ``(-2, 2)``, hence the on-circle
   roots of ``g`` are exactly twice the number of distinct real roots of ``h`` in
   ``(-2, 2)``, counted with Sturm's theorem over Q.
2. All roots of ``q`` are enclosed in disjoint certified balls
   (``arb_fmpz_poly_complex_roots``). A ball whose modulus range excludes 1 is decided
   inside/outside. On-circle roots can never be decided, so once exactly the known number
   of balls is undecided, those balls are precisely the on-circle roots. The working
   precision is doubled until that happens (it must: off-circle roots are at positive
   distance from the circle).
3. Realness: Arb returns real roots with an exactly zero imaginary part; we accept that only
   after proving, by the intermediate value theorem with exact rational evaluation, that
   ``q`` has a zero in the real segment of that isolating ball (non-real ones: the imaginary
   enclosure excludes 0).

>>> import flint
>>> from fractions import Fraction
>>> J = flint.fmpq_mat(2, 2, [flint.fmpq(-17, 10), 1, flint.fmpq(1, 2), 0])   # Lozi map
>>> s = classify(J)
>>> s.type, s.n_inside, s.n_on, s.n_outside
('saddle', 1, 0, 1)
>>> count_unit_circle(flint.fmpq_poly([1, -1, 1]))    # λ² − λ + 1: primitive 6th roots of unity
(0, 2, 0)
>>> classify(flint.fmpq_mat(2, 2, [1, -1, 1, 0])).type   # Gingerbreadman map
'non-hyperbolic'

Note: the working precision is set through the global ``flint.ctx.prec`` and restored
afterwards; do not run these functions concurrently in threads sharing that context.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

import flint

__all__ = [
    "Eigenvalue", "Stability", "charpoly", "count_unit_circle", "eigenvalue_enclosures",
    "classify",
]

#: refinement gives up (RuntimeError, never a wrong answer) beyond this many bits. An
#: off-circle root closer than ~2^-65536 to the circle would be needed to reach it.
_MAX_PREC_BITS = 1 << 16
_JSON_DIGITS = 17


# --------------------------------------------------------------------------- data classes

def _frac_str(q: Fraction) -> str:
    """Exact ``"p/q"`` text (``"p"`` for integers), the project's JSON convention."""
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def _decimal_out(x: Fraction, up: bool, digits: int = _JSON_DIGITS) -> str:
    """Decimal string with ``digits`` significant digits, rounded DOWN (``up=False``) or UP.

    Done exactly with Fractions, so ``Fraction(result) <= x`` (resp. ``>= x``) always holds.
    """
    if x == 0:
        return "0"
    a = abs(x)
    e = len(str(a.numerator)) - len(str(a.denominator))     # ⌊log10 a⌋ ∈ {e-1, e}
    if a < Fraction(10) ** e:
        e -= 1
    shift = digits - 1 - e
    scaled = x * Fraction(10) ** shift
    n = math.ceil(scaled) if up else math.floor(scaled)
    with localcontext() as ctx:
        ctx.prec = digits + 10
        s = str(Decimal(n).scaleb(-shift))
    if "." in s and "E" not in s:
        s = s.rstrip("0").rstrip(".")
    return s


@dataclass(frozen=True)
class Eigenvalue:
    """One distinct eigenvalue: rational enclosures, multiplicity, exact location.

    ``im == (0, 0)`` exactly iff the eigenvalue is proven real. ``location`` is decided
    exactly ('inside' | 'on' | 'outside' the unit circle) and is consistent with the
    enclosure except for 'on' (an enclosure of an on-circle root always meets the circle).
    """
    re: tuple[Fraction, Fraction]
    im: tuple[Fraction, Fraction]
    multiplicity: int
    location: str

    @property
    def is_real(self) -> bool:
        return self.im == (Fraction(0), Fraction(0))

    def abs2_bounds(self) -> tuple[Fraction, Fraction]:
        """Rigorous [lower, upper] bounds of ``|λ|²`` from the enclosure."""
        return _abs2_bounds(self.re, self.im)

    def to_json(self) -> dict:
        return {
            "re": [_decimal_out(self.re[0], False), _decimal_out(self.re[1], True)],
            "im": [_decimal_out(self.im[0], False), _decimal_out(self.im[1], True)],
            "multiplicity": self.multiplicity,
            "location": self.location,
        }


@dataclass(frozen=True)
class Stability:
    """Exact stability data of a square rational matrix (see :func:`classify`)."""
    charpoly: tuple[Fraction, ...]          # low degree first, monic
    n_inside: int
    n_on: int
    n_outside: int
    type: str                               # attractor | repeller | saddle | non-hyperbolic
    eigenvalues: tuple[Eigenvalue, ...]
    spectral_radius_upper: Fraction

    @property
    def stable_dim(self) -> int:
        return self.n_inside

    @property
    def unstable_dim(self) -> int:
        return self.n_outside

    @property
    def center_dim(self) -> int:
        return self.n_on

    @property
    def is_hyperbolic(self) -> bool:
        return self.n_on == 0

    def to_json(self) -> dict:
        return {
            "charpoly": [_frac_str(c) for c in self.charpoly],
            "n_inside": self.n_inside,
            "n_on": self.n_on,
            "n_outside": self.n_outside,
            "type": self.type,
            "eigenvalues": [ev.to_json() for ev in self.eigenvalues],
            "spectral_radius_upper": _frac_str(self.spectral_radius_upper),
        }


# --------------------------------------------------------------------------- exact helpers

def charpoly(J: flint.fmpq_mat) -> flint.fmpq_poly:
    """Exact (monic) characteristic polynomial det(λI − J) of a square rational matrix."""
    if isinstance(J, flint.fmpz_mat):
        J = flint.fmpq_mat(J)
    if not isinstance(J, flint.fmpq_mat):
        raise TypeError(f"expected flint.fmpq_mat, got {type(J).__name__}")
    if J.nrows() != J.ncols():
        raise ValueError(f"Jacobian must be square, got {J.nrows()}x{J.ncols()}")
    return J.charpoly()


def _as_poly(p) -> flint.fmpq_poly:
    if isinstance(p, (flint.fmpz_poly, list)):
        p = flint.fmpq_poly(p)
    if not isinstance(p, flint.fmpq_poly):
        raise TypeError(f"expected flint.fmpq_poly, got {type(p).__name__}")
    if p.is_zero():
        raise ValueError("the zero polynomial has no finite set of roots")
    return p


def _fraction(x) -> Fraction:
    """Exact value of an exact arb (midpoint or radius) or fmpq."""
    if isinstance(x, flint.fmpq):
        return Fraction(int(x.p), int(x.q))
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2 ** exp) if exp >= 0 else Fraction(man, 2 ** -exp)


def _primitive(p: flint.fmpq_poly) -> flint.fmpq_poly:
    """``p`` divided by a positive rational so that it has coprime integer coefficients.

    Sturm's theorem only needs signs, so positive rescaling is free; it keeps the remainder
    sequence at the size of the subresultants instead of letting the rationals blow up.
    """
    z = p.numer()
    c = z.content()
    return flint.fmpq_poly(flint.fmpz_poly([a // c for a in z.coeffs()]))


def _sturm_sequence(p: flint.fmpq_poly) -> list[flint.fmpq_poly]:
    seq = [_primitive(p), _primitive(p.derivative())]
    while seq[-1].degree() > 0:
        r = seq[-2] % seq[-1]
        if r.is_zero():
            break
        seq.append(_primitive(-r))
    return seq


def _variations(signs) -> int:
    s = [x for x in signs if x != 0]
    return sum(1 for a, b in zip(s, s[1:]) if a != b)


def _sign(x) -> int:
    return (x > 0) - (x < 0)


def _sign_changes_at(seq, x: Fraction | None, at_plus_inf: bool = True) -> int:
    if x is None:   # ±∞: sign of the leading term
        return _variations(
            _sign(q.leading_coefficient()) * (1 if at_plus_inf or q.degree() % 2 == 0 else -1)
            for q in seq)
    xq = flint.fmpq(x.numerator, x.denominator)
    return _variations(_sign(q(xq)) for q in seq)


def _count_real_roots(p: flint.fmpq_poly, a: Fraction | None = None,
                      b: Fraction | None = None) -> int:
    """Distinct real roots of ``p`` in the open interval (a, b) (None = ∓∞), by Sturm's theorem.

    Finite endpoints must not be roots of ``p``.
    """
    if p.degree() <= 0:
        return 0
    seq = _sturm_sequence(p)
    for e in (a, b):
        if e is not None and p(flint.fmpq(e.numerator, e.denominator)) == 0:
            raise ValueError("Sturm count: endpoint is a root")
    return _sign_changes_at(seq, a, at_plus_inf=False) - _sign_changes_at(seq, b)


def _reciprocal(p: flint.fmpq_poly) -> flint.fmpq_poly:
    """``p*(λ) = λ^deg p(1/λ)`` (reverse the coefficients)."""
    return flint.fmpq_poly(list(reversed(p.coeffs())))


def _joukowski_quotient(g: flint.fmpq_poly) -> flint.fmpq_poly:
    """``h`` with ``g(λ) = λ^m h(λ + 1/λ)`` for a self-reciprocal ``g`` of degree 2m.

    ``λ^{-m} g(λ) = a_m + Σ_j a_{m+j} (λ^j + λ^{-j})`` and ``λ^j + λ^{-j} = D_j(λ + 1/λ)``
    with the Dickson/Chebyshev recursion ``D_0 = 2, D_1 = x, D_{j+1} = x D_j − D_{j−1}``.
    """
    a = g.coeffs()
    d = len(a) - 1
    if d % 2 or any(a[i] != a[d - i] for i in range(d + 1)):
        raise AssertionError("not self-reciprocal of even degree")
    m = d // 2
    x = flint.fmpq_poly([0, 1])
    d_prev, d_cur = flint.fmpq_poly([2]), x
    h = flint.fmpq_poly([a[m]])
    for j in range(1, m + 1):
        h += a[m + j] * d_cur
        d_prev, d_cur = d_cur, x * d_cur - d_prev
    return h


def _count_on_circle_squarefree(q: flint.fmpq_poly) -> int:
    """Exact number of roots of a square-free ``q`` with modulus exactly 1."""
    x = flint.fmpq_poly([0, 1])
    core, on = q, 0
    if core(0) == 0:
        core = core // x
    for r in (1, -1):
        if core(r) == 0:
            on += 1
            core = core // flint.fmpq_poly([-r, 1])
    if core.degree() < 2:
        return on
    # Roots λ of q on the circle satisfy 1/λ = conj(λ), a root of q too: they are roots of g.
    g = core.gcd(_reciprocal(core))            # monic; roots closed under λ -> 1/λ
    if g.degree() == 0:
        return on
    # ±1 are not roots of g, so g is self-reciprocal (g* = +g) of even degree.
    g = g / g.leading_coefficient()
    h = _joukowski_quotient(g)
    return on + 2 * _count_real_roots(h, Fraction(-2), Fraction(2))


# --------------------------------------------------------------------------- ball helpers

def _abs2_bounds(re, im) -> tuple[Fraction, Fraction]:
    def sq(iv):
        lo, hi = iv
        top = max(lo * lo, hi * hi)
        bot = Fraction(0) if lo <= 0 <= hi else min(lo * lo, hi * hi)
        return bot, top
    (a, b), (c, d) = sq(re), sq(im)
    return a + c, b + d


def _round_out(lo: Fraction, hi: Fraction, bits: int) -> tuple[Fraction, Fraction]:
    """Widen [lo, hi] to dyadic endpoints with about ``bits`` significant bits."""
    mag = max(abs(lo), abs(hi))
    if mag == 0:
        return lo, hi
    e = mag.numerator.bit_length() - mag.denominator.bit_length()   # ≈ log2 mag
    s = bits - e
    scale = Fraction(2) ** s
    return (Fraction(math.floor(lo * scale)) / scale, Fraction(math.ceil(hi * scale)) / scale)


def _ball_enclosure(z, bits: int):
    """Rational (re, im) enclosures of an acb ball; im is exactly (0, 0) iff the ball is real."""
    def iv(r):
        m, rad = _fraction(r.mid()), _fraction(r.rad())
        return _round_out(m - rad, m + rad, bits)
    im = z.imag
    if im.is_exact() and im.is_zero():
        return iv(z.real), (Fraction(0), Fraction(0))
    return iv(z.real), iv(im)


def _locate(re, im) -> str | None:
    lo, hi = _abs2_bounds(re, im)
    if hi < 1:
        return "inside"
    if lo > 1:
        return "outside"
    return None


def _realness_certified(q: flint.fmpq_poly, re, im) -> bool:
    """Is the real/non-real status of this root enclosure proven?

    Real (``im == (0, 0)``): the isolating ball holds exactly one root of ``q`` and ``q``
    has a zero in the real segment ``[lo, hi]`` by the intermediate value theorem (exact
    evaluation at rational endpoints), so that root is real. Non-real: the imaginary
    enclosure excludes 0.
    """
    if im == (0, 0):
        lo, hi = (flint.fmpq(x.numerator, x.denominator) for x in re)
        a, b = q(lo), q(hi)
        return a == 0 or b == 0 or (a > 0) != (b > 0)
    return im[0] > 0 or im[1] < 0


def _factor_roots(q: flint.fmpq_poly, mult: int, n_on: int,
                  prec_bits: int) -> list[Eigenvalue]:
    """Certified enclosures of the roots of a square-free ``q``, each located exactly.

    ``n_on`` is the exact number of roots of ``q`` on the unit circle. The precision is
    doubled until exactly ``n_on`` enclosures still meet the circle (those are then the
    on-circle roots: they can never be excluded) and every root's realness is certified.
    """
    prec = prec_bits
    old = flint.ctx.prec
    try:
        while True:
            flint.ctx.prec = prec
            balls = [z for z, _ in q.complex_roots()]   # disjoint, one root each (Arb)
            if len(balls) != q.degree():
                raise RuntimeError("root isolation returned the wrong number of roots")
            encl = [_ball_enclosure(z, prec + 8) for z in balls]
            locs = [_locate(re, im) for re, im in encl]
            undecided = locs.count(None)
            if undecided < n_on:   # impossible: on-circle roots are never decided
                raise RuntimeError("inconsistent unit-circle count (undecided < on-circle)")
            if undecided == n_on and all(_realness_certified(q, re, im) for re, im in encl):
                break
            if prec > _MAX_PREC_BITS:
                raise RuntimeError("could not separate roots from the unit circle")
            prec *= 2
    finally:
        flint.ctx.prec = old
    # Redundant exact check: the roots of a self-reciprocal q off the circle come in pairs
    # (λ, 1/λ), one inside and one outside.
    if q(0) != 0 and _reciprocal(q) / q(0) == q / q.leading_coefficient():
        if locs.count("inside") != locs.count("outside"):
            raise RuntimeError("self-reciprocal factor with unbalanced inside/outside roots")
    return [Eigenvalue(re, im, mult, loc if loc is not None else "on")
            for (re, im), loc in zip(encl, locs)]


def _sort_key(ev: Eigenvalue):
    lo, hi = ev.abs2_bounds()
    return (-(lo + hi), -(ev.re[0] + ev.re[1]), -(ev.im[0] + ev.im[1]))


def _analyse(p, prec_bits: int) -> tuple[Eigenvalue, ...]:
    p = _as_poly(p)
    if prec_bits < 2:
        raise ValueError("prec_bits must be >= 2")
    # Factorisation over Q into irreducibles (exact, FLINT): multiplicities, and rational
    # eigenvalues come out exactly. Distinct irreducible factors have no common root.
    _, factors = p.factor()
    out: list[Eigenvalue] = []
    for q, mult in factors:
        q = flint.fmpq_poly(q)
        if q.degree() <= 0:
            continue
        if q.degree() == 1:                      # rational eigenvalue, exact point enclosure
            c0, c1 = (_fraction(c) for c in q.coeffs())
            r = -c0 / c1
            loc = "inside" if abs(r) < 1 else "on" if abs(r) == 1 else "outside"
            out.append(Eigenvalue((r, r), (Fraction(0), Fraction(0)), int(mult), loc))
            continue
        n_on = _count_on_circle_squarefree(q)
        out.extend(_factor_roots(q, int(mult), n_on, prec_bits))
    return tuple(sorted(out, key=_sort_key))


# --------------------------------------------------------------------------- public API

def eigenvalue_enclosures(p: flint.fmpq_poly, prec_bits: int = 64) -> tuple[Eigenvalue, ...]:
    """Distinct roots of ``p`` with multiplicity, certified enclosures and exact location.

    Sorted by decreasing modulus. ``prec_bits`` is the starting working precision;
    enclosures are at least about that accurate (relative), tighter where refinement was
    needed to separate a root from the unit circle.
    """
    return _analyse(p, prec_bits)


def count_unit_circle(p: flint.fmpq_poly) -> tuple[int, int, int]:
    """Exact (inside, on, outside) counts of the roots of ``p``, with multiplicity."""
    counts = {"inside": 0, "on": 0, "outside": 0}
    for ev in _analyse(p, 64):
        counts[ev.location] += ev.multiplicity
    return counts["inside"], counts["on"], counts["outside"]


def _sqrt_upper(s: Fraction, bits: int) -> Fraction:
    """A rational upper bound of sqrt(s) (s >= 0), accurate to about 2^-bits relative."""
    if s <= 0:
        return Fraction(0)
    p, q = s.numerator, s.denominator
    n = p * q * 4 ** bits                       # sqrt(s) = sqrt(p q 4^bits) / (q 2^bits)
    t = math.isqrt(n)
    if t * t != n:
        t += 1
    return Fraction(t, q * 2 ** bits)


def _modulus_upper(ev: Eigenvalue, bits: int) -> Fraction:
    if ev.location == "on":
        return Fraction(1)                       # |λ| = 1 proven exactly
    if ev.is_real:
        return max(abs(ev.re[0]), abs(ev.re[1]))
    return _sqrt_upper(ev.abs2_bounds()[1], bits)


def classify(J: flint.fmpq_mat, prec_bits: int = 64) -> Stability:
    """Exact stability classification of a square rational matrix (a fixed point/cycle Jacobian).

    type: 'attractor' (all eigenvalues inside the unit circle), 'repeller' (all outside),
    'saddle' (both, none on), 'non-hyperbolic' (at least one of modulus exactly 1).
    A 0x0 matrix raises ValueError (there is nothing to classify).
    """
    p = charpoly(J)
    n = J.nrows()
    if n == 0:
        raise ValueError("cannot classify a 0x0 Jacobian (zero-dimensional state space)")
    eigs = _analyse(p, prec_bits)
    n_in = sum(e.multiplicity for e in eigs if e.location == "inside")
    n_on = sum(e.multiplicity for e in eigs if e.location == "on")
    n_out = sum(e.multiplicity for e in eigs if e.location == "outside")
    assert n_in + n_on + n_out == n
    if n_on:
        kind = "non-hyperbolic"
    elif n_in == n:
        kind = "attractor"
    elif n_out == n:
        kind = "repeller"
    else:
        kind = "saddle"
    rho = max(_modulus_upper(e, prec_bits) for e in eigs)
    return Stability(
        charpoly=tuple(_fraction(c) for c in p.coeffs()),
        n_inside=n_in, n_on=n_on, n_outside=n_out, type=kind,
        eigenvalues=eigs, spectral_radius_upper=rho,
    )
