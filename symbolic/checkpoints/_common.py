"""Shared pieces of the checkpoint readers."""
from __future__ import annotations

from fractions import Fraction

import numpy as np


class CheckpointProblem(Exception):
    """A problem with a checkpoint file; ``read_checkpoint`` turns it into a ModelError
    whose message is ``"<path>: <this message>"``."""


def exact_float64(arr, key: str) -> np.ndarray:
    """*arr* as float64, converted exactly (floats widen exactly; integers must be < 2^53),
    finite. Raises CheckpointProblem naming *key*."""
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        if a.dtype.itemsize > 8:
            out = a.astype(np.float64)
            if not np.array_equal(out.astype(a.dtype), a):
                raise CheckpointProblem(f"parameter '{key}' has dtype {a.dtype}, which float64 cannot hold exactly")
        else:
            out = a.astype(np.float64)
    elif a.dtype.kind in "iu":
        if a.size and int(np.max(np.abs(a.astype(object)))) > 2**53:
            raise CheckpointProblem(f"parameter '{key}' holds integers too large for exact float64")
        out = a.astype(np.float64)
    else:
        raise CheckpointProblem(
            f"parameter '{key}' has the unsupported dtype {a.dtype} (expected real floating-point numbers)"
        )
    if out.size and not np.all(np.isfinite(out)):
        bad = "NaN" if np.any(np.isnan(out)) else "an infinite value"
        raise CheckpointProblem(f"parameter '{key}' contains {bad}, so the model has no finite map to analyse")
    return np.ascontiguousarray(out)


def exact_sum(values: np.ndarray) -> tuple[float, bool]:
    """Float64 sum of *values* and whether it equals the exact rational sum."""
    s = Fraction(0)
    for v in values.tolist():
        s += Fraction(v)
    f = float(s)
    return f, Fraction(f) == s
