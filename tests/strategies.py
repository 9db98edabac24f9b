"""Hypothesis strategies for random small models, degenerate cases included (DESIGN §12)."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

# small rationals with small denominators keep exact arithmetic fast
rationals = st.builds(Fraction, st.integers(-6, 6), st.sampled_from([1, 2, 3, 4, 5]))
# binary64 numbers that are not "nice" rationals: exercised as exact floats
floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64).map(lambda x: round(x, 3))


def _entries(draw, shape, kind):
    elem = rationals if kind == "rational" else floats
    if len(shape) == 1:
        return [draw(elem) for _ in range(shape[0])]
    return [[draw(elem) for _ in range(shape[1])] for _ in range(shape[0])]


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, Fraction):
        return f"{x.numerator}/{x.denominator}"
    return x


@st.composite
def model_dicts(draw, max_n=3, max_L=4, kinds=("plrnn", "relu-affine", "shplrnn", "alrnn"), degenerate=True):
    """A model-file dictionary of a random small model.

    With *degenerate*, some draws get zero rows, duplicated or opposite hyperplanes, a zero
    offset (every hyperplane through the origin: points exactly on boundaries), singular
    or nilpotent Jacobian parts, rotation blocks (complex eigenvalues) or Jordan blocks.
    """
    kind = draw(st.sampled_from(kinds))
    num = draw(st.sampled_from(["rational", "float"]))
    n = draw(st.integers(1, max_n))
    if kind == "plrnn":
        L = n
    elif kind == "alrnn":
        L = draw(st.integers(0, n))
    else:
        L = draw(st.integers(0, max_L))
    A = _entries(draw, (n, n), num)
    B = _entries(draw, (n, L), num)
    C = _entries(draw, (L, n), num)
    d = _entries(draw, (L,), num)
    e = _entries(draw, (n,), num)
    if degenerate and L and n:
        trick = draw(st.sampled_from(["none", "zero-row", "duplicate", "opposite", "through-origin",
                                      "singular", "jordan", "rotation", "zero-column"]))
        k = draw(st.integers(0, L - 1))
        if trick == "zero-row" and kind == "relu-affine":
            C[k] = [0] * n
        elif trick == "duplicate" and kind == "relu-affine" and L >= 2:
            C[(k + 1) % L] = [2 * v for v in C[k]]
            d[(k + 1) % L] = 2 * d[k]
        elif trick == "opposite" and kind == "relu-affine" and L >= 2:
            C[(k + 1) % L] = [-v for v in C[k]]
            d[(k + 1) % L] = -d[k]
        elif trick == "through-origin":
            d = [0] * L
            e = [0] * n
        elif trick == "singular":
            A = [[0] * n for _ in range(n)]
            B = [[row[0]] * L for row in B]
        elif trick == "jordan" and n >= 2:
            A = [[Fraction(1, 2) if i == j else (1 if j == i + 1 else 0) for j in range(n)] for i in range(n)]
        elif trick == "rotation" and n >= 2:
            A = [[0] * n for _ in range(n)]
            A[0][1], A[1][0] = Fraction(-4, 5), Fraction(4, 5)
            A[0][0] = A[1][1] = Fraction(3, 5)
        elif trick == "zero-column":
            for row in B:
                row[k] = 0
    if kind == "relu-affine":
        return _jsonable({"kind": kind, "A": A, "B": B, "C": C, "d": d, "e": e})
    if kind == "plrnn":
        W = [row[:n] for row in B]
        Adiag = draw(st.booleans())
        return _jsonable({"kind": kind, "A": [A[i][i] for i in range(n)] if Adiag else A, "W": W, "h": e})
    if kind == "alrnn":
        W = _entries(draw, (n, n), num)
        return _jsonable({"kind": kind, "A": [A[i][i] for i in range(n)], "W": W, "h": e, "P": L})
    return _jsonable({"kind": kind, "A": [A[i][i] for i in range(n)], "W1": B, "W2": C, "h1": e, "h2": d})
