"""Stable, unstable and centre subspaces of a rational matrix: exact, or rigorously enclosed.

For a square rational ``J`` with characteristic polynomial ``p = Π q_i^{m_i}`` (irreducible
factors over Q), the real generalised eigenspace of a set Λ of eigenvalues that is closed
under complex conjugation is (primary decomposition theorem)

    E_Λ = ker r_Λ(J),    r_Λ(x) = Π_{λ ∈ Λ} (x − λ)^{m(λ)},    dim E_Λ = Σ_{λ∈Λ} m(λ).

Λ = the eigenvalues inside (``'stable'``), outside (``'unstable'``) or on (``'center'``) the
unit circle, decided exactly by :mod:`symbolic.stability`. Complex pairs give real planes
and Jordan blocks give generalised eigenvectors automatically, because ``r_Λ`` carries the
full algebraic multiplicities.

**Exact case** (``exact=True``): every irreducible factor has all its roots on one side,
so ``r_Λ ∈ Q[x]`` and the kernel is computed exactly over Q.

**Enclosure case** (``exact=False``): some irreducible factor has roots on both sides (Lozi:
``x² + 17/10 x − 1/2`` with roots ``(−17 ± √489)/20``). Then the roots are enclosed in
certified Arb balls, ``r_Λ(J)`` is enclosed by an arb matrix ``M̂`` (real linear factors
``J − λI`` for real roots, real quadratics ``J² − 2 Re λ J + |λ|² I`` for complex pairs), and
the kernel is enclosed as follows. The exact ``r_Λ(J)`` has rank exactly ``n − k``
(``k = dim E_Λ``). Pick ``n − k`` rows ``R`` and columns ``P`` numerically; if Arb proves
every matrix in ``M̂[R, P]`` invertible, the exact ``r_Λ(J)[R, P]`` is invertible, so rows
``R`` span the row space of ``r_Λ(J)`` and

    E_Λ = { x : x_P = X x_F },    X = −r_Λ(J)[R, P]^{-1} r_Λ(J)[R, F]      (F = the other columns),

and ``arb_mat.solve`` returns balls containing ``X``. The precision doubles until that
succeeds.

**Normal form of the basis** (both cases): ``V`` (n × k) with ``V[free, :] = I_k`` exactly
and ``V[P, :] = X``. Given ``free`` this basis of ``E`` is unique, so an entrywise enclosure is
meaningful: *the unique basis of the exact subspace with identity rows ``free`` lies entrywise
in ``enclosure``* (rational intervals, outward rounded; point intervals in the exact case).
Because of the identity rows, the matrix of ``J`` restricted to ``E`` in this basis is just
``(J V)[free, :]`` (:meth:`InvariantSubspace.restriction`), exact or enclosed.

API (stable; other modules rely on it):

* :func:`invariant_subspace` ``(J, side, prec_bits=128) -> InvariantSubspace``
* :func:`eigenspaces` ``(J, prec_bits=128) -> Eigenspaces`` (stable, unstable, center, stability)
* :func:`cycle_jacobians` ``(model, regions) -> [fmpq_mat]`` product Jacobians at each point
* :func:`orbit_eigenspaces` ``(model, orbit, prec_bits=128) -> [Eigenspaces]`` one per orbit point
* :class:`InvariantSubspace` fields ``side, n, dim, exact, free, basis_exact, enclosure,
  prec_bits, eigenvalues``; properties/methods ``basis`` (float n×k), ``midpoint()``
  (Fractions), ``basis_mpmath()``, ``arb_basis()``, ``restriction(J)``, ``orthonormal()``,
  ``max_width()``, ``to_json()``.

>>> from fractions import Fraction as F
>>> from symbolic.rationals import matrix
>>> J = matrix([[F(1, 2), -1], [-1, F(1, 2)]])      # bistable saddle region
>>> E = eigenspaces(J)
>>> E.stable.exact, E.stable.free, [list(r) for r in E.stable.enclosure]
(True, (0,), [[(Fraction(1, 1), Fraction(1, 1))], [(Fraction(1, 1), Fraction(1, 1))]])
>>> L = matrix([[F(-17, 10), 1], [F(1, 2), 0]])     # Lozi, right half-plane
>>> U = invariant_subspace(L, "unstable")
>>> U.exact, U.dim, U.max_width() < F(1, 2**100)
(False, 1, True)

Note: the working precision is set through the global ``flint.ctx.prec`` and restored
afterwards; do not call these functions concurrently from threads.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import flint
import numpy as np

from .linalg import identity, nullspace
from .stability import Eigenvalue, Stability, classify, eigenvalue_enclosures

__all__ = [
    "InvariantSubspace", "Eigenspaces", "invariant_subspace", "eigenspaces",
    "cycle_jacobians", "orbit_eigenspaces", "arb_of_interval", "interval_of_arb",
]

SIDES = ("stable", "unstable", "center")
_LOCATION = {"stable": "inside", "unstable": "outside", "center": "on"}
_MAX_PREC = 1 << 14


# --------------------------------------------------------------------------- arb <-> rationals

@contextlib.contextmanager
def _precision(bits: int):
    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        yield
    finally:
        flint.ctx.prec = old


def _dyadic(x) -> Fraction:
    man, exp = (int(v) for v in x.man_exp())
    return Fraction(man * 2 ** exp) if exp >= 0 else Fraction(man, 2 ** -exp)


def interval_of_arb(x: flint.arb) -> tuple[Fraction, Fraction]:
    """Exact rational [lo, hi] = [mid − rad, mid + rad] of an arb ball (both dyadic)."""
    if not x.is_finite():
        raise ArithmeticError("non-finite ball")
    m, r = _dyadic(x.mid()), _dyadic(x.rad())
    return m - r, m + r


def arb_of_interval(lo: Fraction, hi: Fraction) -> flint.arb:
    """An arb ball containing the rational interval [lo, hi] (at the current precision)."""
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    ball = flint.arb(flint.fmpq(mid.numerator, mid.denominator))      # rounding goes into the radius
    if rad:
        ball += flint.arb(0, flint.fmpq(rad.numerator, rad.denominator))
    return ball


def _fmpq_frac(x) -> Fraction:
    return Fraction(int(x.p), int(x.q))


# --------------------------------------------------------------------------- result types

@dataclass(frozen=True)
class InvariantSubspace:
    """A real J-invariant subspace E (stable / unstable / centre), exact or enclosed.

    ``free``: the k coordinates on which the normal-form basis V is the identity.
    ``basis_exact``: V as an exact ``fmpq_mat`` (n × k) when ``exact``, else None.
    ``enclosure[i][j] = (lo, hi)``: rational interval containing V[i, j] (rigorous).
    ``eigenvalues``: the eigenvalues of J|E (enclosures with multiplicity, from stability).
    """

    side: str
    n: int
    dim: int
    exact: bool
    free: tuple
    basis_exact: object
    enclosure: tuple
    prec_bits: int
    eigenvalues: tuple

    # -- views of the basis
    def midpoint(self) -> list[list[Fraction]]:
        """Exact midpoints of the enclosure (= V itself when exact)."""
        return [[(lo + hi) / 2 for lo, hi in row] for row in self.enclosure]

    @property
    def basis(self) -> np.ndarray:
        """Float n × k basis (midpoints); untrusted, for the numerical search."""
        out = np.zeros((self.n, self.dim))
        for i, row in enumerate(self.midpoint()):
            for j, v in enumerate(row):
                out[i, j] = float(v)
        return out

    def orthonormal(self) -> np.ndarray:
        """Float orthonormal basis (n × k) of the midpoint subspace."""
        if self.dim == 0:
            return np.zeros((self.n, 0))
        q, _ = np.linalg.qr(self.basis)
        return q

    def basis_mpmath(self):
        """mpmath matrix of the midpoints, at ``prec_bits`` precision."""
        import mpmath

        with mpmath.workprec(self.prec_bits):
            return mpmath.matrix([[mpmath.mpf(v.numerator) / v.denominator for v in row]
                                  for row in self.midpoint()] or [[]])

    def arb_basis(self, prec_bits: int | None = None) -> flint.arb_mat:
        """arb_mat (n × k) whose balls contain the exact normal-form basis V."""
        with _precision(prec_bits or self.prec_bits):
            M = flint.arb_mat(self.n, self.dim)
            for i, row in enumerate(self.enclosure):
                for j, (lo, hi) in enumerate(row):
                    M[i, j] = arb_of_interval(lo, hi)
            return M

    def max_width(self) -> Fraction:
        """Largest enclosure width (0 when exact)."""
        return max((hi - lo for row in self.enclosure for lo, hi in row), default=Fraction(0))

    def restriction(self, J: flint.fmpq_mat):
        """Matrix M of J restricted to E in the basis V (J V = V M): M = (J V)[free, :].

        Exact ``fmpq_mat`` when ``exact``, else an ``arb_mat`` enclosure.
        """
        k = self.dim
        if self.exact:
            JV = J * self.basis_exact
            M = flint.fmpq_mat(k, k)
            for a, i in enumerate(self.free):
                for b in range(k):
                    M[a, b] = JV[i, b]
            return M
        with _precision(self.prec_bits):
            JV = flint.arb_mat(J) * self.arb_basis()
            M = flint.arb_mat(k, k)
            for a, i in enumerate(self.free):
                for b in range(k):
                    M[a, b] = JV[i, b]
            return M

    def to_json(self) -> dict:
        from .stability import _decimal_out

        rec = {"side": self.side, "dimension": self.dim, "exact": self.exact,
               "free": list(self.free), "prec_bits": self.prec_bits}
        if self.exact:
            rec["basis"] = [[_frac(v) for v in row] for row in self.midpoint()]
        else:
            rec["basis_enclosure"] = [[[_decimal_out(lo, False), _decimal_out(hi, True)] for lo, hi in row]
                                      for row in self.enclosure]
        return rec


def _frac(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


@dataclass(frozen=True)
class Eigenspaces:
    """E^s, E^u, E^c of one matrix, plus its exact stability data."""

    stable: InvariantSubspace
    unstable: InvariantSubspace
    center: InvariantSubspace
    stability: Stability

    def side(self, name: str) -> InvariantSubspace:
        return {"stable": self.stable, "unstable": self.unstable, "center": self.center}[name]


# --------------------------------------------------------------------------- the computation

def _poly_at_matrix(q: flint.fmpq_poly, J: flint.fmpq_mat) -> flint.fmpq_mat:
    """q(J) exactly (Horner)."""
    n = J.nrows()
    out = flint.fmpq_mat(n, n)
    I = identity(n)
    for c in reversed(q.coeffs()):
        out = out * J + I * c
    return out


def _check_square(J) -> flint.fmpq_mat:
    if isinstance(J, flint.fmpz_mat):
        J = flint.fmpq_mat(J)
    if not isinstance(J, flint.fmpq_mat):
        raise TypeError(f"expected flint.fmpq_mat, got {type(J).__name__}")
    if J.nrows() != J.ncols():
        raise ValueError(f"matrix must be square, got {J.nrows()}x{J.ncols()}")
    return J


def _classify_factors(J: flint.fmpq_mat, side: str, prec: int):
    """Split the factorisation of charpoly(J) by side.

    Returns (rational part r_Q ∈ Q[x] (product of q^m wholly on the side), list of
    (Eigenvalue, multiplicity) for roots on the side of mixed factors, k = dim E, all
    eigenvalues on the side).
    """
    where = _LOCATION[side]
    _, factors = J.charpoly().factor()
    rat = flint.fmpq_poly([1])
    mixed, chosen, k = [], [], 0
    for q, m in factors:
        q, m = flint.fmpq_poly(q), int(m)
        if q.degree() <= 0:
            continue
        evs = eigenvalue_enclosures(q, prec)          # distinct roots of the irreducible q
        mine = [e for e in evs if e.location == where]
        k += m * len(mine)
        chosen += [Eigenvalue(e.re, e.im, m, e.location) for e in mine]
        if len(mine) == len(evs):
            rat = rat * q ** m
        elif mine:
            mixed.append((mine, m))
    return rat, mixed, k, tuple(chosen)


def _exact_subspace(J, side, rat, k, evs, prec) -> InvariantSubspace:
    n = J.nrows()
    basis = nullspace(_poly_at_matrix(rat, J))
    if len(basis) != k:
        raise AssertionError(f"kernel dimension {len(basis)} != algebraic multiplicity {k}")
    V = flint.fmpq_mat(n, k)
    for j, v in enumerate(basis):
        for i in range(n):
            V[i, j] = v[i, 0]
    # nullspace() sets the free variable of basis vector j to 1 and the other free ones to 0
    free = _identity_rows(V)
    encl = tuple(tuple((_fmpq_frac(V[i, j]), _fmpq_frac(V[i, j])) for j in range(k)) for i in range(n))
    return InvariantSubspace(side, n, k, True, free, V, encl, prec, evs)


def _identity_rows(V: flint.fmpq_mat) -> tuple:
    """Rows i_0..i_{k-1} with V[i_j, :] = e_j (exists for the nullspace() normal form)."""
    n, k = V.nrows(), V.ncols()
    rows = []
    for j in range(k):
        for i in range(n):
            if all(V[i, b] == (1 if b == j else 0) for b in range(k)) and i not in rows:
                rows.append(i)
                break
        else:
            raise AssertionError("basis is not in normal form")
    return tuple(rows)


def _arb_of_ev(e: Eigenvalue):
    re = arb_of_interval(*e.re)
    im = arb_of_interval(*e.im) if not e.is_real else flint.arb(0)
    return re, im


def _mixed_matrix(J: flint.fmpq_mat, rat: flint.fmpq_poly, mixed) -> flint.arb_mat:
    """Arb enclosure of r_Λ(J) = r_Q(J) Π_λ (J − λ)^m (complex pairs as real quadratics)."""
    n = J.nrows()
    Ja = flint.arb_mat(J)
    I = flint.arb_mat(identity(n))
    M = flint.arb_mat(_poly_at_matrix(rat, J))
    J2 = Ja * Ja
    for roots, m in mixed:
        for e in roots:
            if e.is_real:
                re, _ = _arb_of_ev(e)
                fac = Ja - I * re
            elif e.im[0] > 0:         # one factor per conjugate pair (the conjugate is a root too)
                re, im = _arb_of_ev(e)
                fac = J2 - Ja * (2 * re) + I * (re * re + im * im)
            else:
                continue
            for _ in range(m):
                M = M * fac
    return M


def _pick_pivots(M: flint.arb_mat, k: int) -> tuple[list[int], list[int]]:
    """Numerically well-conditioned n−k rows R and columns P of the midpoint of M (untrusted)."""
    from scipy.linalg import qr

    n = M.nrows()
    Mf = np.array([[float(M[i, j].mid()) for j in range(n)] for i in range(n)])
    scale = np.max(np.abs(Mf)) or 1.0
    Mf /= scale
    _, _, colp = qr(Mf, pivoting=True)
    P = sorted(colp[: n - k].tolist())
    _, _, rowp = qr(Mf[:, P].T, pivoting=True)
    R = sorted(rowp[: n - k].tolist())
    return R, P


def _enclosed_subspace(J, side, rat, mixed, k, evs, prec_bits) -> InvariantSubspace:
    n = J.nrows()
    prec = prec_bits
    while True:
        with _precision(prec):
            # re-enclose the roots at this precision so the balls shrink with it
            if prec != prec_bits:
                mixed = _classify_factors(J, side, prec)[1]
            M = _mixed_matrix(J, rat, mixed)
            R, P = _pick_pivots(M, k)
            F = [j for j in range(n) if j not in P]
            A = flint.arb_mat(n - k, n - k)
            B = flint.arb_mat(n - k, k)
            for a, i in enumerate(R):
                for b, j in enumerate(P):
                    A[a, b] = M[i, j]
                for b, j in enumerate(F):
                    B[a, b] = -M[i, j]
            try:
                X = A.solve(B) if n - k else flint.arb_mat(0, k)
                ok = all(X[i, j].is_finite() for i in range(n - k) for j in range(k))
            except ZeroDivisionError:
                ok = False
            if ok:
                rows = [[None] * k for _ in range(n)]
                for b, i in enumerate(F):
                    for j in range(k):
                        rows[i][j] = (Fraction(int(b == j)), Fraction(int(b == j)))
                for a, i in enumerate(P):
                    for j in range(k):
                        rows[i][j] = interval_of_arb(X[a, j])
                encl = tuple(tuple(r) for r in rows)
                return InvariantSubspace(side, n, k, False, tuple(F), None, encl, prec, evs)
        if prec >= _MAX_PREC:
            raise RuntimeError("could not enclose the invariant subspace (ill-conditioned)")
        prec *= 2


def invariant_subspace(J: flint.fmpq_mat, side: str, prec_bits: int = 128) -> InvariantSubspace:
    """E^s (``side='stable'``), E^u (``'unstable'``) or E^c (``'center'``) of a rational J.

    Exact when the characteristic polynomial splits over Q into factors lying wholly on
    one side of the unit circle, else a rigorous enclosure at (at least) ``prec_bits`` bits
    (see the module docstring for the argument).
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    J = _check_square(J)
    n = J.nrows()
    rat, mixed, k, evs = _classify_factors(J, side, prec_bits)
    if k == 0:
        return InvariantSubspace(side, n, 0, True, (), flint.fmpq_mat(n, 0), tuple(() for _ in range(n)),
                                 prec_bits, evs)
    if not mixed:
        return _exact_subspace(J, side, rat, k, evs, prec_bits)
    return _enclosed_subspace(J, side, rat, mixed, k, evs, prec_bits)


def eigenspaces(J: flint.fmpq_mat, prec_bits: int = 128) -> Eigenspaces:
    """Stable, unstable and centre subspaces of J together with :func:`classify` (J)."""
    J = _check_square(J)
    return Eigenspaces(
        stable=invariant_subspace(J, "stable", prec_bits),
        unstable=invariant_subspace(J, "unstable", prec_bits),
        center=invariant_subspace(J, "center", prec_bits),
        stability=classify(J, min(prec_bits, 64)),
    )


def cycle_jacobians(model, regions: Sequence[str]) -> list[flint.fmpq_mat]:
    """Product Jacobians DF^k at each point of a k-cycle.

    ``regions[j]`` is the region whose affine piece maps point j (as in ``Orbit.regions``);
    at point j the product is J_{r_{j-1}} ··· J_{r_{j+1}} J_{r_j} (indices mod k).
    """
    k = len(regions)
    out = []
    for j in range(k):
        P = identity(model.n)
        for i in range(k):
            P = model.jacobian(regions[(j + i) % k]) * P
        out.append(P)
    return out


def orbit_eigenspaces(model, orbit, prec_bits: int = 128) -> list[Eigenspaces]:
    """:func:`eigenspaces` of the product Jacobian at every point of an ``Orbit``."""
    return [eigenspaces(P, prec_bits) for P in cycle_jacobians(model, orbit.regions)]
