"""Exact rationals at the edges: parsing user numbers, printing them, converting to flint.

The exact domain of the project is Q. Inside it we use :class:`fractions.Fraction` for
scalars and ``flint.fmpq_mat`` for matrices; floats only ever enter through
:func:`to_fraction` (a binary64 number means its exact value) and leave through
:func:`to_float` (for the untrusted float search).

>>> to_fraction("17/10"), to_fraction("0.1"), to_fraction(0.5)
(Fraction(17, 10), Fraction(1, 10), Fraction(1, 2))
>>> fraction_str(Fraction(-5, 22))
'-5/22'
"""
from __future__ import annotations

import math
import numbers
import sys
from fractions import Fraction
from typing import Iterable, Sequence

import flint

from .errors import ModelError

# exact points of long cycles have numerators of 10^4..10^5 digits (a period-211 cycle of a
# 20-D model: ~128k bits); Python's default int <-> str limit (4300 digits) would make
# printing them raise
_DIGITS = 1_000_000
if 0 < sys.get_int_max_str_digits() < _DIGITS:
    sys.set_int_max_str_digits(_DIGITS)

__all__ = [
    "to_fraction", "fraction_str", "parse_fraction_str", "fmpq_of", "fraction_of",
    "column", "matrix", "vector_of", "rows_of", "to_float",
]


def to_fraction(x, where: str = "value") -> Fraction:
    """Exact rational value of a user number.

    ints are exact, a float (Python or numpy) is its exact binary64 value, a string is
    parsed as ``p/q`` or a decimal (``"0.1"`` is exactly 1/10). NaN, infinities, booleans
    and anything else raise :class:`ModelError` naming *where*.
    """
    if isinstance(x, (bool,)) or type(x).__name__ == "bool_":
        raise ModelError(f"{where}: expected a number, got a boolean {x!r}")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, numbers.Integral):
        return Fraction(int(x))
    if isinstance(x, flint.fmpq):
        return Fraction(int(x.p), int(x.q))
    if isinstance(x, flint.fmpz):
        return Fraction(int(x))
    if isinstance(x, numbers.Real):
        xf = float(x)
        if not math.isfinite(xf):
            raise ModelError(f"{where}: {xf!r} is not a finite number")
        return Fraction(xf)
    if isinstance(x, str):
        s = x.strip()
        try:
            q = Fraction(s)
        except (ValueError, ZeroDivisionError):
            raise ModelError(
                f"{where}: {x!r} is not a number (use a JSON number, \"p/q\" or a decimal string)"
            ) from None
        return q
    raise ModelError(f"{where}: expected a number, got {type(x).__name__} {x!r:.60}")


def parse_fraction_str(s: str) -> Fraction:
    """Inverse of :func:`fraction_str` (also accepts decimals)."""
    return Fraction(s)


def fraction_str(q) -> str:
    """``"p/q"`` (or ``"p"`` for integers): the exact text form used in JSON output."""
    q = Fraction(q) if not isinstance(q, Fraction) else q
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def fmpq_of(q: Fraction) -> flint.fmpq:
    return flint.fmpq(q.numerator, q.denominator)


def fraction_of(x) -> Fraction:
    """flint fmpq/fmpz (or int/Fraction) to Fraction."""
    if isinstance(x, flint.fmpq):
        return Fraction(int(x.p), int(x.q))
    return Fraction(int(x)) if isinstance(x, (int, flint.fmpz)) else Fraction(x)


def matrix(rows: Sequence[Sequence[Fraction]], nrows: int | None = None, ncols: int | None = None) -> flint.fmpq_mat:
    """fmpq_mat from a list of rows of Fractions (shape given explicitly for empty matrices)."""
    r = len(rows) if nrows is None else nrows
    c = (len(rows[0]) if rows else 0) if ncols is None else ncols
    flat = [fmpq_of(Fraction(v)) for row in rows for v in row]
    return flint.fmpq_mat(r, c, flat) if r and c else flint.fmpq_mat(r, c)


def column(values: Iterable[Fraction]) -> flint.fmpq_mat:
    vals = [fmpq_of(Fraction(v)) for v in values]
    return flint.fmpq_mat(len(vals), 1, vals) if vals else flint.fmpq_mat(0, 1)


def vector_of(col: flint.fmpq_mat) -> tuple[Fraction, ...]:
    """Column (or row) fmpq_mat to a tuple of Fractions."""
    return tuple(fraction_of(v) for v in col.entries())


def rows_of(M: flint.fmpq_mat) -> list[list[Fraction]]:
    return [[fraction_of(M[i, j]) for j in range(M.ncols())] for i in range(M.nrows())]


def to_float(M: flint.fmpq_mat):
    """Nearest-float numpy array of an fmpq_mat (for the untrusted float search only)."""
    import numpy as np

    out = np.empty((M.nrows(), M.ncols()), dtype=float)
    for i in range(M.nrows()):
        for j in range(M.ncols()):
            v = M[i, j]
            out[i, j] = int(v.p) / int(v.q) if abs(int(v.p)) < 2**1000 else float(Fraction(int(v.p), int(v.q)))
    return out
