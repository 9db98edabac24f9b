"""The checker's own, minimal reading of a model (trusted base; DESIGN §9).

Deliberately independent of :mod:`symbolic.models`: it builds f(z) = A z + B relu(C z + d) + e
from the certificate's model dictionary with plain :class:`fractions.Fraction` lists, keeps
every hidden unit as it is (no merging of hyperplanes), and evaluates exactly. A point is
"strictly inside a region" when f is affine in a neighbourhood of it, decided locally and
exactly from the units whose pre-activation vanishes there (:meth:`CheckedMap.kinks_at`).
"""
from __future__ import annotations

import sys
from fractions import Fraction

# Certificates of long orbits carry rationals of ~10^4 digits (boxes at up to 2^16 bits);
# Python's default limit on int <-> str conversion (4300 digits) would reject them.
_DIGITS = 1_000_000
if 0 < sys.get_int_max_str_digits() < _DIGITS:
    sys.set_int_max_str_digits(_DIGITS)


class CheckInputError(ValueError):
    """The certificate is malformed (as opposed to: a claim is false)."""


def _q(x, where):
    if isinstance(x, bool):
        raise CheckInputError(f"{where}: boolean where a number was expected")
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            raise CheckInputError(f"{where}: non-finite number")
        return Fraction(x)
    if isinstance(x, str):
        try:
            return Fraction(x.strip())
        except (ValueError, ZeroDivisionError):
            raise CheckInputError(f"{where}: {x!r} is not a rational number") from None
    raise CheckInputError(f"{where}: expected a number, got {type(x).__name__}")


def qvec(v, n, where):
    if not isinstance(v, list) or len(v) != n:
        raise CheckInputError(f"{where}: expected a list of {n} numbers")
    return [_q(x, f"{where}[{i}]") for i, x in enumerate(v)]


def qmat(M, r, c, where):
    if not isinstance(M, list) or len(M) != r:
        raise CheckInputError(f"{where}: expected {r} rows")
    return [qvec(row, c, f"{where}[{i}]") for i, row in enumerate(M)]


def _eye(n):
    return [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]


def _diag_or_full(A, n):
    if isinstance(A, list) and A and isinstance(A[0], list):
        return qmat(A, n, n, "A")
    diag = qvec(A, n, "A")
    return [[diag[i] if i == j else Fraction(0) for j in range(n)] for i in range(n)]


class CheckedMap:
    """f(z) = A z + B relu(C z + d) + e with all original units (Fractions)."""

    def __init__(self, md: dict):
        if not isinstance(md, dict) or "kind" not in md:
            raise CheckInputError("certificate 'model' must be an object with a 'kind'")
        kind = md["kind"]
        try:
            self._build(kind, md)
        except KeyError as exc:
            raise CheckInputError(f"model of kind {kind!r} lacks key {exc}") from None
        self.n = len(self.A)
        self.L = len(self.C)
        self.kinks = [
            k for k in range(self.L)
            if any(c != 0 for c in self.C[k]) and any(self.B[i][k] != 0 for i in range(self.n))
        ]

    def _build(self, kind, md):
        Z = Fraction(0)
        if kind == "relu-affine":
            n = len(md["e"])
            L = len(md["d"])
            self.A = qmat(md["A"], n, n, "A")
            self.B = qmat(md["B"], n, L, "B")
            self.C = qmat(md["C"], L, n, "C")
            self.d = qvec(md["d"], L, "d")
            self.e = qvec(md["e"], n, "e")
            return
        if kind in ("plrnn", "alrnn", "dendplrnn"):
            n = len(md["h"])
            h = qvec(md["h"], n, "h")
            A = _diag_or_full(md["A"], n)
            W = qmat(md["W"], n, n, "W")
            self.A, self.e = A, h
            if kind == "plrnn":
                self.B, self.C, self.d = W, _eye(n), [Z] * n
            elif kind == "alrnn":
                P = md["P"]
                if isinstance(P, bool) or not isinstance(P, int) or not 0 <= P <= n:
                    raise CheckInputError("alrnn 'P' must be an integer in [0, n]")
                lin = n - P
                self.A = [[A[i][j] + (W[i][j] if j < lin else Z) for j in range(n)] for i in range(n)]
                self.B = [[W[i][j] for j in range(lin, n)] for i in range(n)]
                self.C = [[Fraction(int(j == lin + k)) for j in range(n)] for k in range(P)]
                self.d = [Z] * P
            else:
                K = len(md["alpha"])
                alpha = qvec(md["alpha"], K, "alpha")
                H = qmat(md["H"], n, K, "H")
                self.B = [[W[r][i] * alpha[k] for k in range(K) for i in range(n)] for r in range(n)]
                self.C = [[Fraction(int(j == i)) for j in range(n)] for k in range(K) for i in range(n)]
                self.d = [-H[i][k] for k in range(K) for i in range(n)]
            return
        if kind in ("shplrnn", "clipped-shplrnn"):
            n = len(md["h1"])
            Hh = len(md["h2"])
            self.A = _diag_or_full(md["A"], n)
            W1 = qmat(md["W1"], n, Hh, "W1")
            W2 = qmat(md["W2"], Hh, n, "W2")
            h1, h2 = qvec(md["h1"], n, "h1"), qvec(md["h2"], Hh, "h2")
            self.e = h1
            if kind == "shplrnn":
                self.B, self.C, self.d = W1, W2, h2
            else:
                self.B = [row + [-v for v in row] for row in W1]
                self.C, self.d = W2 + W2, h2 + [Z] * Hh
            return
        raise CheckInputError(f"unknown model kind {kind!r}")

    def pre(self, z):
        return [sum((c * x for c, x in zip(row, z)), Fraction(0)) + dk for row, dk in zip(self.C, self.d)]

    def f(self, z):
        r = [max(v, Fraction(0)) for v in self.pre(z)]
        return [
            sum((a * x for a, x in zip(self.A[i], z)), Fraction(0))
            + sum((b * v for b, v in zip(self.B[i], r)), Fraction(0)) + self.e[i]
            for i in range(self.n)
        ]

    def kinks_at(self, z) -> list[int]:
        """Units at whose kink z lies, where f is not affine near z.

        Near a point z* with C_k z* + d_k = 0 for the units k in K0, the map differs from an
        affine one by sum_{k in K0} B_k |C_k x| / 2 (x = z - z*, relu(y) = (y + |y|)/2).
        Grouping parallel rows C_k = lam_k u_g, that is sum_g (sum_{k in g} |lam_k| B_k) |u_g x| / 2,
        and functions |u_g x| of pairwise non-parallel u_g are linearly independent modulo linear
        functions: f is affine near z* iff every group's weight sum_{k in g} |lam_k| B_k is zero.
        Returns the units of the groups with non-zero weight (empty: z is strictly inside a
        region of f's affine pieces).
        """
        p = self.pre(z)
        zero = [k for k in self.kinks if p[k] == 0]
        groups: list[tuple[list[Fraction], list[Fraction], list[int]]] = []  # (direction, weight, units)
        for k in zero:
            row = self.C[k]
            piv = next(j for j, c in enumerate(row) if c != 0)
            for u, w, units in groups:
                lam = row[piv] / u[piv] if u[piv] != 0 else None
                if lam is not None and all(row[j] == lam * u[j] for j in range(self.n)):
                    for i in range(self.n):
                        w[i] += abs(lam) * self.B[i][k]
                    units.append(k)
                    break
            else:
                groups.append((list(row), [self.B[i][k] for i in range(self.n)], [k]))
        return sorted(k for _, w, units in groups if any(v != 0 for v in w) for k in units)

    def jacobian(self, z):
        """J at a point where f is affine nearby (see :meth:`kinks_at`): D_kk = 1 where the
        pre-activation is positive, 1/2 where it is zero (cancelling kinks), 0 otherwise."""
        p = self.pre(z)
        w = [Fraction(1) if v > 0 else (Fraction(1, 2) if v == 0 else Fraction(0)) for v in p]
        return [
            [self.A[i][j] + sum((w[k] * self.B[i][k] * self.C[k][j] for k in range(self.L) if w[k]), Fraction(0))
             for j in range(self.n)]
            for i in range(self.n)
        ]


def matmul(X, Y):
    return [[sum((X[i][k] * Y[k][j] for k in range(len(Y))), Fraction(0)) for j in range(len(Y[0]))]
            for i in range(len(X))]


def eye(n):
    return _eye(n)
