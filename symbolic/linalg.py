"""Exact linear algebra over Q on flint ``fmpq_mat``: affine solution sets and nullspaces.

>>> import flint
>>> M = flint.fmpq_mat(2, 2, [1, 1, 1, 1])
>>> sol = solve_affine(M, flint.fmpq_mat(2, 1, [2, 2]))
>>> sol.dimension, [list(v.entries()) for v in sol.basis]
(1, [[-1, 1]])
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import flint

__all__ = ["identity", "nullspace", "AffineSolution", "solve_affine", "canonical_affine"]


def identity(n: int) -> flint.fmpq_mat:
    I = flint.fmpq_mat(n, n)
    for i in range(n):
        I[i, i] = 1
    return I


def _rref_pivots(R: flint.fmpq_mat, rank: int) -> list[int]:
    piv = []
    for i in range(rank):
        for j in range(R.ncols()):
            if R[i, j] != 0:
                piv.append(j)
                break
    return piv


def nullspace(M: flint.fmpq_mat) -> list[flint.fmpq_mat]:
    """Exact basis (columns) of {x : M x = 0}, from the reduced row echelon form."""
    n = M.ncols()
    if M.nrows() == 0:
        R, rank = flint.fmpq_mat(0, n), 0
    else:
        R, rank = M.rref()
    piv = _rref_pivots(R, rank)
    free = [j for j in range(n) if j not in piv]
    basis = []
    for f in free:
        v = flint.fmpq_mat(n, 1)
        v[f, 0] = 1
        for i, p in enumerate(piv):
            v[p, 0] = -R[i, f]
        basis.append(v)
    return basis


@dataclass(frozen=True)
class AffineSolution:
    """{x : M x = b} = point + span(basis); ``point`` is None when inconsistent."""

    point: flint.fmpq_mat | None
    basis: tuple

    @property
    def dimension(self) -> int:
        return -1 if self.point is None else len(self.basis)


def solve_affine(M: flint.fmpq_mat, b: flint.fmpq_mat) -> AffineSolution:
    """All solutions of M x = b, exactly (unique, affine family, or none)."""
    n = M.ncols()
    if M.nrows() == n and n > 0:
        try:
            return AffineSolution(M.solve(b), ())
        except ZeroDivisionError:
            pass
    aug = flint.fmpq_mat(M.nrows(), n + 1)
    for i in range(M.nrows()):
        for j in range(n):
            aug[i, j] = M[i, j]
        aug[i, n] = b[i, 0]
    R, rank = aug.rref() if M.nrows() else (aug, 0)
    piv = _rref_pivots(R, rank)
    if n in piv:
        return AffineSolution(None, ())
    x = flint.fmpq_mat(n, 1)
    for i, p in enumerate(piv):
        x[p, 0] = R[i, n]
    return AffineSolution(x, tuple(nullspace(M)))


def canonical_affine(point: flint.fmpq_mat, basis) -> tuple:
    """A hashable exact key of the affine subspace point + span(basis)."""
    n = point.nrows()
    if not basis:
        return (tuple(Fraction(int(v.p), int(v.q)) for v in point.entries()), ())
    B = flint.fmpq_mat(len(basis), n, [v[i, 0] for v in basis for i in range(n)])
    R, rank = B.rref()
    piv = _rref_pivots(R, rank)
    z = flint.fmpq_mat(point)
    for i, p in enumerate(piv):
        c = z[p, 0]
        if c != 0:
            for j in range(n):
                z[j, 0] -= c * R[i, j]
    rows = tuple(tuple(Fraction(int(R[i, j].p), int(R[i, j].q)) for j in range(n)) for i in range(rank))
    return (tuple(Fraction(int(v.p), int(v.q)) for v in z.entries()), rows)
