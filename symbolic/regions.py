"""Regions of the hyperplane arrangement {C_k z + d_k = 0} (DESIGN §3, §4).

A region is named by its bit string s (``s[k] == "1"`` where C_k z + d_k > 0). Exact
membership of rational points is decided with rationals; a point with some
C_k z + d_k = 0 lies on a boundary and belongs to no open region.

>>> from symbolic.models import model_from_dict
>>> m = model_from_dict({"kind": "plrnn", "A": [0, 0], "W": [[1, 0], [0, 1]], "h": [0, 0]})
>>> locate(m, ["1/2", "-3"]).bits, locate(m, [0, 1]).boundary
('10', (0,))
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np

from .rationals import column, vector_of

__all__ = [
    "Location", "locate", "preactivations_exact", "bits_of", "bits_to_array", "array_to_bits",
    "all_patterns", "float_patterns", "CellSearch", "enumerate_regions", "interior_point", "region_witness",
]


@dataclass(frozen=True)
class Location:
    """Where a rational point lies: its sign vector, region bits and boundary hyperplanes."""

    signs: tuple[int, ...]
    boundary: tuple[int, ...]

    @property
    def strict(self) -> bool:
        """True iff the point is in an open region (on no hyperplane)."""
        return not self.boundary

    @property
    def bits(self) -> str:
        """Region bits; a boundary coordinate is written as '0' (relu is 0 there)."""
        return "".join("1" if s > 0 else "0" for s in self.signs)

    def matches(self, bits: str) -> bool:
        """True iff the point lies in the closure of region *bits*."""
        return all(s == 0 or (s > 0) == (b == "1") for s, b in zip(self.signs, bits))


def preactivations_exact(model, z: Sequence) -> tuple[Fraction, ...]:
    """Exact C z + d."""
    return vector_of(model.C * column(Fraction(v) for v in z) + model.d)


def locate(model, z: Sequence) -> Location:
    """Exact region membership of the rational point *z*."""
    pre = preactivations_exact(model, z)
    signs = tuple((v > 0) - (v < 0) for v in pre)
    return Location(signs, tuple(k for k, s in enumerate(signs) if s == 0))


def bits_of(mask: Iterable[bool]) -> str:
    return "".join("1" if b else "0" for b in mask)


def bits_to_array(bits: Sequence[str], L: int) -> np.ndarray:
    """Bit strings to a bool array of shape (N, L)."""
    if not bits:
        return np.zeros((0, L), dtype=bool)
    a = np.frombuffer("".join(bits).encode("ascii"), dtype=np.uint8).reshape(len(bits), L)
    return a == ord("1")


def array_to_bits(arr: np.ndarray) -> list[str]:
    arr = np.asarray(arr, dtype=bool)
    if arr.shape[-1] == 0:
        return [""] * arr.shape[0]
    chars = np.where(arr, ord("1"), ord("0")).astype(np.uint8)
    return [row.tobytes().decode("ascii") for row in chars]


def all_patterns(L: int) -> list[str]:
    """All 2^L region bit strings in increasing binary order ([""] for L = 0)."""
    if L == 0:
        return [""]
    return array_to_bits(((np.arange(2**L)[:, None] >> np.arange(L)[::-1]) & 1).astype(bool))


def float_patterns(model, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float region bits (…, L) and distances |C_k z + d_k| / ||C_k|| to each hyperplane."""
    pre = model.preact(Z)
    norms = np.linalg.norm(model.Cf, axis=1)
    return pre > 0, np.abs(pre) / np.where(norms > 0, norms, 1.0)


# ----------------------------------------------------------------------------- cells

def interior_point(model, bits: str, box: tuple[np.ndarray, np.ndarray] | None = None):
    """Chebyshev-like LP: max t with sign_k (C_k z + d_k) >= t ||C_k||, t <= 1.

    Returns (t, z) in floats (t <= 0 or None: the open cell looks empty). HiGHS answers to a
    tolerance only; callers confirm a witness exactly (:func:`region_witness`).
    """
    from scipy.optimize import linprog

    n, L = model.n, model.L
    sig = np.where(bits_to_array([bits], L)[0], 1.0, -1.0)
    norms = np.linalg.norm(model.Cf, axis=1)
    # -sig_k C_k z + t ||C_k|| <= sig_k d_k
    A_ub = np.hstack([-sig[:, None] * model.Cf, norms[:, None]])
    b_ub = sig * model.df
    bounds = [(None, None)] * n if box is None else list(zip(box[0], box[1]))
    bounds = bounds + [(None, 1.0)]
    if box is not None:
        # keep the ball inside the box too: z_i - lo_i >= t, hi_i - z_i >= t
        eye = np.eye(n)
        A_ub = np.vstack([A_ub, np.hstack([-eye, np.ones((n, 1))]), np.hstack([eye, np.ones((n, 1))])])
        b_ub = np.concatenate([b_ub, -np.asarray(box[0], float), np.asarray(box[1], float)])
    c = np.zeros(n + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=A_ub if L or box is not None else None, b_ub=b_ub if L or box is not None else None,
                  bounds=bounds, method="highs")
    if res.status != 0:
        return None, None
    return float(res.x[-1]), res.x[:n]


def region_witness(model, bits: str, box=None) -> tuple[Fraction, ...] | None:
    """An exact rational point strictly inside region *bits* (and the box), or None.

    The LP's float answer is an exact binary rational; it is accepted only if exact
    arithmetic confirms it is strictly inside.
    """
    t, z = interior_point(model, bits, box)
    if t is None or t <= 0:
        return None
    q = tuple(Fraction(float(v)) for v in z)
    loc = locate(model, q)
    if loc.strict and loc.bits == bits:
        return q
    return None


@dataclass
class CellSearch:
    """Result of :func:`enumerate_regions`.

    ``regions``: bit strings of the cells found; ``witnesses``: an exact interior point
    for each cell where one was confirmed (None where the LP said "thin but non-empty");
    ``method``: 'all-patterns' (C has full row rank: every pattern is realisable) or
    'walk' (breadth-first walk over flips with an LP per candidate); ``complete``: the
    walk is complete up to LP tolerance (cells judged empty by HiGHS with margin below
    ``tol`` are kept, so the list errs on the side of too many cells).
    """

    regions: list[str]
    witnesses: dict
    method: str
    complete: bool
    message: str


def enumerate_regions(model, box=None, max_regions: int = 200_000, tol: float = 1e-9,
                      start: Sequence[str] | None = None) -> CellSearch:
    """All cells of the arrangement (or those meeting an open *box*).

    Full row rank C without a box: all 2^L patterns are realisable (the map z -> C z + d
    is onto R^L). Otherwise cells are found by walking from a start cell across single
    hyperplanes (the facet graph of an arrangement is connected, so the walk reaches every
    cell), one LP per candidate.
    """
    L = model.L
    if L == 0:
        return CellSearch([""], {"": tuple(Fraction(0) for _ in range(model.n))}, "all-patterns", True, "no hyperplanes")
    rank = np.linalg.matrix_rank(model.Cf) if L <= model.n else -1
    if box is None and rank == L and model.C.rank() == L:
        if 2**L > max_regions:
            raise ValueError(f"2^{L} regions exceed max_regions = {max_regions}")
        regs = all_patterns(L)
        return CellSearch(regs, {}, "all-patterns", True, f"C has full row rank {L}: all 2^{L} patterns realisable")
    lo_hi = None if box is None else (np.asarray(box[0], float), np.asarray(box[1], float))
    if start is None:
        z0 = np.zeros(model.n) if lo_hi is None else (lo_hi[0] + lo_hi[1]) / 2
        # nudge off any hyperplane through the start point
        rng = np.random.default_rng(0)
        for _ in range(100):
            pre = model.preact(z0)
            if np.all(np.abs(pre) > 1e-9):
                break
            scale = 1e-6 if lo_hi is None else 1e-6 * np.max(lo_hi[1] - lo_hi[0])
            z0 = z0 + scale * rng.standard_normal(model.n)
        start = [bits_of(model.preact(z0) > 0)]
    seen = set(start)
    queue = list(start)
    found, witnesses = [], {}
    thin = 0
    while queue:
        s = queue.pop()
        t, z = interior_point(model, s, lo_hi)
        if t is None or t < -tol:
            continue
        if t <= tol:
            thin += 1
        else:
            q = tuple(Fraction(float(v)) for v in z)
            loc = locate(model, q)
            if loc.strict and loc.bits == s:
                witnesses[s] = q
        found.append(s)
        if len(found) > max_regions:
            raise ValueError(f"more than max_regions = {max_regions} regions")
        for k in range(L):
            flipped = s[:k] + ("0" if s[k] == "1" else "1") + s[k + 1:]
            if flipped not in seen:
                seen.add(flipped)
                queue.append(flipped)
    found.sort()
    msg = f"walk found {len(found)} cells with {len(seen)} LPs"
    if thin:
        msg += f"; {thin} cells thinner than {tol:g} kept without witness"
    return CellSearch(found, witnesses, "walk", True, msg)
