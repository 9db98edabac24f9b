"""Affine polyhedral pieces: convex polytopes inside affine subspaces (DESIGN §6).

A piece is the set ``{o + U b : G b <= g}`` (origin ``o`` in R^n, basis ``U`` n × k,
inequalities in the k-dimensional *parameter space* b), tagged with the region whose
closure holds it and the itinerary that produced it. Pieces of invariant manifolds are
analytic objects: the image of a piece under the affine branch ``f_s(z) = J_s z + c_s``
is again a piece (same inequalities, origin ``J_s o + c_s``, basis ``J_s U``), and so is
its preimage inside one region.

Exact and float pieces
    ``exact=True``: ``o, U, G, g`` are flint ``fmpq_mat`` (columns for ``o`` and ``g``) and
    every operation is exact over Q; only *decisions* (is a sub-piece thick or empty?) use
    HiGHS/qhull floats, with a tolerance. ``exact=False``: numpy float64 arrays (used when
    the subspace is irrational, e.g. Lozi's E^u); the flag says so.

Operations
    :func:`image` (affine image), :func:`preimage` (``{x in closure(R_t) : f_t(x) in P}``;
    with singular ``J_t`` the preimage gains dimension: the parameters become the solution
    space of ``J_t x = o - c_t + U b``), :func:`split` (cut a piece along the hyperplane
    arrangement, visiting only the cells it enters: hyperplanes that do not cross the
    piece are never split on), :func:`clip_to_box`, :func:`chebyshev` (thickness by LP),
    ``info["chain"] = (parent, A, a)``: the parent piece (the one mapped to produce this one)
    and its parameters ``b_parent = A b + a`` (floats), so orbits along the manifold can be
    followed in parameter space, without amplifying rounding errors,
    :func:`vertices` (parameter dimension <= 3), :func:`sample`, :func:`contains`,
    :func:`normalize` (recentre + orthonormalise the basis, exactly for exact pieces, so the
    floating-point decisions stay well conditioned at any depth).

Parameter dimension ``k`` may exceed the geometric dimension ``dim`` (= rank U) after an
image under a singular Jacobian; the parametrisation is then redundant but still exact.

>>> from fractions import Fraction as F
>>> from symbolic.models import model_from_dict
>>> m = model_from_dict({"kind": "plrnn", "A": ["1/2", "1/2"], "W": [[0, -1], [-1, 0]], "h": [1, 1]})
>>> P = segment((F(-1), F(-1)), (F(3), F(3)))          # a piece of the diagonal
>>> [q.region for q in split(P, m)]
['00', '11']
>>> sorted(q.region for q in split(image(split(P, m)[1], m), m))   # f maps (0, 3] onto [-1/2, 1)
['00', '11']
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Sequence

import flint
import numpy as np

from .linalg import solve_affine
from .rationals import column, fraction_of, to_float

__all__ = [
    "Piece", "make_piece", "segment", "image", "affine_image", "preimage", "split", "clip_to_box",
    "add_halfspaces", "chebyshev", "vertices", "vertices_exact", "sample", "sample_params", "contains",
    "normalize", "prune", "hyperplane_forms", "interval", "to_exact_box", "same_hull",
    "difference_same_hull",
]

DEFAULT_TOL = 1e-10
#: pieces of parameter dimension >= 2 whose inner radius is below this (relative to the
#: coordinates' scale) are treated as empty: deciding such slivers is ill-conditioned in floats
SLIVER = 1e-8


def _thin(r, k: int, tol: float, scale: float) -> bool:
    return r <= (tol if k <= 1 else max(tol, SLIVER)) * scale


# ----------------------------------------------------------------------------- exact helpers

def _q(x) -> flint.fmpq:
    x = Fraction(x)
    return flint.fmpq(x.numerator, x.denominator)


def _qmat_from_float(a: np.ndarray) -> flint.fmpq_mat:
    """Exact fmpq_mat of a float array (each float is its exact binary value)."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    M = flint.fmpq_mat(a.shape[0], a.shape[1])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            M[i, j] = _q(Fraction(float(a[i, j])))
    return M


def _qvstack(A: flint.fmpq_mat, B: flint.fmpq_mat) -> flint.fmpq_mat:
    if A.nrows() == 0:
        return B
    if B.nrows() == 0:
        return A
    out = flint.fmpq_mat(A.nrows() + B.nrows(), A.ncols())
    for i in range(A.nrows()):
        for j in range(A.ncols()):
            out[i, j] = A[i, j]
    for i in range(B.nrows()):
        for j in range(B.ncols()):
            out[A.nrows() + i, j] = B[i, j]
    return out


def _qrows(M: flint.fmpq_mat, rows: Sequence[int]) -> flint.fmpq_mat:
    out = flint.fmpq_mat(len(rows), M.ncols())
    for a, i in enumerate(rows):
        for j in range(M.ncols()):
            out[a, j] = M[i, j]
    return out


def _qcols(M: flint.fmpq_mat, cols: Sequence[int]) -> flint.fmpq_mat:
    out = flint.fmpq_mat(M.nrows(), len(cols))
    for i in range(M.nrows()):
        for b, j in enumerate(cols):
            out[i, b] = M[i, j]
    return out


def _dyadic(x: float, bits: int = 24) -> Fraction:
    """A short dyadic rational near x (about ``bits`` significant bits)."""
    if x == 0 or not math.isfinite(x):
        return Fraction(0)
    m, e = math.frexp(x)
    return Fraction(round(m * (1 << bits))) * Fraction(2) ** (e - bits)


def _f(M) -> np.ndarray:
    return to_float(M)


# ----------------------------------------------------------------------------- the piece

@dataclass(eq=False)
class Piece:
    """``{origin + basis @ b : G @ b <= g}`` in the closure of region ``region``.

    ``origin`` (n×1) / ``basis`` (n×k) / ``G`` (m×k) / ``g`` (m×1) are ``fmpq_mat`` when
    ``exact`` else float arrays of shapes (n,), (n, k), (m, k), (m,). ``itinerary``: the
    regions that produced it (unstable: from the local piece forward; stable: from this
    piece forward to the local piece). ``on_hyperplanes``: hyperplanes that contain the
    whole piece (its region bit there is '0' by convention; f is continuous, so both
    adjacent branches agree on it). ``info``: free-form provenance (depth, parent, ...).
    """

    origin: object
    basis: object
    G: object
    g: object
    exact: bool
    region: str = ""
    itinerary: tuple = ()
    depth: int = 0
    on_hyperplanes: tuple = ()
    info: dict = field(default_factory=dict)

    # -- float views (untrusted decisions only)
    @cached_property
    def of(self) -> np.ndarray:
        return _f(self.origin)[:, 0] if self.exact else np.asarray(self.origin, float)

    @cached_property
    def Uf(self) -> np.ndarray:
        return _f(self.basis) if self.exact else np.asarray(self.basis, float)

    @cached_property
    def Gf(self) -> np.ndarray:
        return _f(self.G) if self.exact else np.asarray(self.G, float)

    @cached_property
    def gf(self) -> np.ndarray:
        return _f(self.g)[:, 0] if self.exact else np.asarray(self.g, float)

    @property
    def n(self) -> int:
        return self.Uf.shape[0]

    @property
    def k(self) -> int:
        """Parameter dimension."""
        return self.Uf.shape[1]

    @cached_property
    def dim(self) -> int:
        """Geometric dimension (rank of the basis; exact for exact pieces)."""
        if self.k == 0:
            return 0
        if self.exact:
            return self.basis.rank()
        return int(np.linalg.matrix_rank(self.Uf, tol=1e-10 * max(1.0, np.abs(self.Uf).max())))

    def point(self, b) -> np.ndarray:
        """Float point o + U b."""
        return self.of + self.Uf @ np.asarray(b, float)

    def point_exact(self, b: Sequence[Fraction]) -> tuple[Fraction, ...]:
        """Exact point o + U b (exact pieces, rational b)."""
        if not self.exact:
            raise ValueError("point_exact needs an exact piece")
        x = self.origin + self.basis * column(b) if self.k else self.origin
        return tuple(fraction_of(v) for v in x.entries())

    def with_(self, **kw) -> "Piece":
        return replace(self, **kw)


def make_piece(origin, basis, G, g, exact: bool | None = None, **kw) -> Piece:
    """Build a piece from nested lists/arrays (Fractions -> exact) or flint matrices."""
    if isinstance(origin, flint.fmpq_mat):
        return Piece(origin, basis, G, g, True if exact is None else exact, **kw)
    vals = [origin, basis, G, g]
    is_exact = exact if exact is not None else all(
        isinstance(v, (int, Fraction)) for v in np.asarray(origin, dtype=object).ravel())
    if is_exact:
        o = column(Fraction(v) for v in origin)
        n = o.nrows()
        Ub = np.asarray(basis, dtype=object).reshape(n, -1)
        k = Ub.shape[1]
        U = flint.fmpq_mat(n, k)
        for i in range(n):
            for j in range(k):
                U[i, j] = _q(Ub[i, j])
        Gb = np.asarray(G, dtype=object).reshape(-1, k) if k else np.zeros((len(g), 0), dtype=object)
        Gq = flint.fmpq_mat(Gb.shape[0], k)
        for i in range(Gb.shape[0]):
            for j in range(k):
                Gq[i, j] = _q(Gb[i, j])
        return Piece(o, U, Gq, column(Fraction(v) for v in g), True, **kw)
    o = np.asarray(origin, float)
    U = np.asarray(basis, float).reshape(len(o), -1)
    return Piece(o, U, np.asarray(G, float).reshape(-1, U.shape[1]), np.asarray(g, float), False, **kw)


def segment(a: Sequence, b: Sequence, **kw) -> Piece:
    """The segment [a, b] as a 1-D piece (exact when a, b are rational): o = a, U = b − a, 0 <= t <= 1."""
    exact = all(isinstance(v, (int, Fraction)) for v in list(a) + list(b))
    if exact:
        a, b = [Fraction(v) for v in a], [Fraction(v) for v in b]
        return make_piece(a, [[bi - ai] for ai, bi in zip(a, b)], [[1], [-1]], [1, 0], exact=True, **kw)
    a, b = np.asarray(a, float), np.asarray(b, float)
    return make_piece(a, (b - a)[:, None], [[1.0], [-1.0]], [1.0, 0.0], exact=False, **kw)


def _build(P: Piece, origin, basis, G, g, **kw) -> Piece:
    """A new piece of the same exactness with the tags of P unless overridden."""
    tags = dict(region=P.region, itinerary=P.itinerary, depth=P.depth,
                on_hyperplanes=P.on_hyperplanes, info=dict(P.info))
    tags.update(kw)
    return Piece(origin, basis, G, g, P.exact, **tags)


def _as_float_piece(P: Piece) -> Piece:
    return Piece(P.of.copy(), P.Uf.copy(), P.Gf.copy(), P.gf.copy(), False, P.region, P.itinerary,
                 P.depth, P.on_hyperplanes, dict(P.info))


# ----------------------------------------------------------------------------- linear maps

def affine_image(P: Piece, J, c, **tags) -> Piece:
    """Image of P under z -> J z + c (J, c exact fmpq_mat or float arrays)."""
    if P.exact and isinstance(J, flint.fmpq_mat):
        return _build(P, J * P.origin + c, J * P.basis, P.G, P.g, **tags)
    Jf = _f(J) if isinstance(J, flint.fmpq_mat) else np.asarray(J, float)
    cf = _f(c)[:, 0] if isinstance(c, flint.fmpq_mat) else np.asarray(c, float).ravel()
    Q = P if not P.exact else _as_float_piece(P)
    return _build(Q, Jf @ Q.of + cf, Jf @ Q.Uf, Q.Gf, Q.gf, **tags)


def image(P: Piece, model, region: str | None = None) -> Piece:
    """f(P) = f_s(P) for P in the closure of region s (default: P.region); itinerary extended."""
    s = P.region if region is None else region
    J, c = model.affine_piece(s)
    out = affine_image(P, J, c, itinerary=P.itinerary + (s,), depth=P.depth + 1, region="", on_hyperplanes=(),
                       info={"chain": (P, np.eye(P.k), np.zeros(P.k))})
    return normalize(out)


def hyperplane_forms(P: Piece, model):
    """(H, h) with C (o + U b) + d = H b + h; exact fmpq_mat for exact pieces, plus floats."""
    if P.exact:
        H = model.C * P.basis
        h = model.C * P.origin + model.d
        return H, h, _f(H), _f(h)[:, 0]
    H = model.Cf @ P.Uf
    h = model.Cf @ P.of + model.df
    return H, h, H, h


def add_halfspaces(P: Piece, A, a, **tags) -> Piece:
    """P ∩ {x : A x <= a} (A r×n, a r) expressed in P's parameters."""
    if P.exact and isinstance(A, flint.fmpq_mat):
        Gn = A * P.basis
        gn = a - A * P.origin
        return _build(P, P.origin, P.basis, _qvstack(P.G, Gn), _qvstack(P.g, gn), **tags)
    Af = _f(A) if isinstance(A, flint.fmpq_mat) else np.atleast_2d(np.asarray(A, float))
    af = _f(a)[:, 0] if isinstance(a, flint.fmpq_mat) else np.asarray(a, float).ravel()
    Q = P if not P.exact else _as_float_piece(P)
    return _build(Q, Q.of, Q.Uf, np.vstack([Q.Gf, Af @ Q.Uf]), np.concatenate([Q.gf, af - Af @ Q.of]), **tags)


def _add_param_rows(P: Piece, Gn, gn) -> Piece:
    """P with extra parameter-space rows Gn b <= gn (exact fmpq_mat or float)."""
    if P.exact:
        return _build(P, P.origin, P.basis, _qvstack(P.G, Gn), _qvstack(P.g, gn))
    return _build(P, P.origin, P.basis, np.vstack([P.Gf, np.atleast_2d(Gn)]), np.concatenate([P.gf, np.ravel(gn)]))


def to_exact_box(box):
    """(lo, hi) as two tuples of Fractions (floats are taken at their exact binary value)."""
    lo, hi = box
    return tuple(Fraction(v) if not isinstance(v, float) else Fraction(v) for v in lo), \
        tuple(Fraction(v) if not isinstance(v, float) else Fraction(v) for v in hi)


# ----------------------------------------------------------------------------- LP / geometry (floats)

def _normalized(Gf, gf):
    """Rows scaled to unit norm; zero rows checked (feasible iff g >= 0) and dropped."""
    norms = np.linalg.norm(Gf, axis=1) if Gf.size else np.zeros(len(gf))
    zero = norms <= 1e-300
    if np.any(gf[zero] < -1e-12 * max(1.0, np.abs(gf).max(initial=0))):
        return None, None
    keep = ~zero
    return Gf[keep] / norms[keep, None], gf[keep] / norms[keep]


def _polygon_2d(A: np.ndarray, a: np.ndarray, R: float):
    """Vertices (ccw) of {b ∈ R^2 : A b <= a} ∩ [−R, R]^2 by successive clipping; None if empty."""
    poly = np.array([[-R, -R], [R, -R], [R, R], [-R, R]], float)
    for h, c in zip(A, a):
        vals = poly @ h - c
        eps = 1e-12 * max(1.0, abs(c), float(np.abs(poly).max()))
        vals[np.abs(vals) <= eps] = 0.0                 # on the line counts as inside
        if np.all(vals <= 0):
            continue
        if np.all(vals > 0):
            return None
        m = len(poly)
        new = []
        for i in range(m):
            p, q = poly[i], poly[(i + 1) % m]
            vp, vq = vals[i], vals[(i + 1) % m]
            if vp <= 0:
                new.append(p)
            if (vp <= 0) != (vq <= 0):
                new.append(p + (vp / (vp - vq)) * (q - p))
        if len(new) < 3:
            return None
        poly = np.array(new)
    # re-solve every point from its two most active constraints, merge repeated points, then
    # drop points where the boundary runs straight on: only true vertices remain
    if np.abs(poly).max() < R * (1 - 1e-9):
        poly = _polish_2d(poly, A, a)
    scale = max(1.0, float(np.abs(poly).max()))
    pts = []
    for q in poly:
        if not pts or np.linalg.norm(q - pts[-1]) > 1e-13 * scale:
            pts.append(q)
    while len(pts) > 1 and np.linalg.norm(pts[0] - pts[-1]) <= 1e-13 * scale:
        pts.pop()
    changed = True
    while changed and len(pts) >= 3:
        changed = False
        for i in range(len(pts)):
            p, q, r = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            u, v = q - p, r - q
            sine = abs(u[0] * v[1] - u[1] * v[0]) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-300)
            if sine < 1e-9 and float(u @ v) > 0:
                del pts[i]
                changed = True
                break
    return np.array(pts) if len(pts) >= 3 else None


def _polish_2d(V: np.ndarray, A: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Re-solve each clipped vertex from its two most active, non-parallel constraints."""
    out = V.copy()
    scale = max(1.0, float(np.abs(V).max()))
    for j, v in enumerate(V):
        slack = a - A @ v
        order = np.argsort(np.abs(slack))
        i0 = order[0]
        for i1 in order[1:]:
            if abs(slack[i1]) > 1e-6 * scale:
                break
            M = A[[i0, i1]]
            if abs(np.linalg.det(M)) > 1e-9:
                out[j] = np.linalg.solve(M, a[[i0, i1]])
                break
    return out


def _cheb_2d(P: Piece):
    """Fast k = 2 path: (inner radius, centre, vertices) without an LP, or None to fall back."""
    A, a = _normalized(P.Gf, P.gf)
    if A is None:
        return -np.inf, None, None
    R = 1e4 * max(1.0, float(np.abs(a).max(initial=0)))
    V = _polygon_2d(A, a, R)
    if V is None:
        return -np.inf, None, None
    if np.abs(V).max() >= R * (1 - 1e-9):
        return None                                  # unbounded (or huge): let the LP decide
    c = V.mean(axis=0)
    r = float(np.min(a - A @ c)) if len(a) else np.inf
    return r, c, V


def chebyshev(P: Piece, cap: float = 1e6):
    """(radius, centre) of a large ball inside P's parameter polytope.

    The largest such ball (Chebyshev centre, float LP) for k >= 3; for k = 2 the vertex
    centroid of the polygon (found by clipping, no LP) and its distance to the nearest
    edge, a lower bound of the inradius; exact interval midpoint for k = 1. ``radius`` is
    ``-inf`` when the polytope is empty; capped at ``cap``. After :func:`normalize` the
    basis is orthonormal, so the radius is geometric.
    """
    k = P.k
    if k == 2:
        fast = _cheb_2d(P)
        if fast is not None:
            return fast[0], fast[1]
    if k == 0:
        ok = np.all(P.gf >= -1e-12)
        return (np.inf if ok else -np.inf), np.zeros(0)
    if k == 1:
        lo, hi = _interval_f(P)
        if lo > hi:
            return -np.inf, None
        return (hi - lo) / 2 * 1.0, np.array([(lo + hi) / 2])
    A, a = _normalized(P.Gf, P.gf)
    if A is None:
        return -np.inf, None
    from scipy.optimize import linprog

    if len(a) == 0:
        return cap, np.zeros(k)
    c = np.zeros(k + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=np.hstack([A, np.ones((len(a), 1))]), b_ub=a,
                  bounds=[(None, None)] * k + [(None, cap)], method="highs")
    if res.status != 0:
        return -np.inf, None
    return float(res.x[-1]), res.x[:k]


def _interval_f(P: Piece):
    G, g = P.Gf[:, 0], P.gf
    lo, hi = -np.inf, np.inf
    pos, neg, zero = G > 0, G < 0, G == 0
    if np.any(pos):
        hi = np.min(g[pos] / G[pos])
    if np.any(neg):
        lo = np.max(g[neg] / G[neg])
    if np.any(g[zero] < 0):
        return 1.0, 0.0
    return lo, hi


def interval(P: Piece):
    """Exact (lo, hi) of a 1-parameter exact piece (None for an unbounded side; lo > hi: empty)."""
    if P.k != 1:
        raise ValueError("interval() needs a 1-parameter piece")
    if not P.exact:
        return _interval_f(P)
    lo = hi = None
    for i in range(P.G.nrows()):
        a, b = fraction_of(P.G[i, 0]), fraction_of(P.g[i, 0])
        if a > 0:
            hi = b / a if hi is None else min(hi, b / a)
        elif a < 0:
            lo = b / a if lo is None else max(lo, b / a)
        elif b < 0:
            return Fraction(1), Fraction(0)
    return lo, hi


def _param_vertices(P: Piece, center=None) -> np.ndarray | None:
    """Vertices of the parameter polytope (k <= 3), float; None if empty/degenerate."""
    k = P.k
    if k == 1:
        lo, hi = _interval_f(P)
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            return None
        return np.array([[lo], [hi]])
    if k == 2:
        fast = _cheb_2d(P)
        if fast is not None:
            return fast[2] if fast[2] is not None and fast[0] > 0 else None
    A, a = _normalized(P.Gf, P.gf)
    if A is None:
        return None
    if center is None:
        r, center = chebyshev(P)
        if center is None or r <= 0:
            return None
    from scipy.spatial import HalfspaceIntersection
    from scipy.spatial import QhullError

    try:
        hs = HalfspaceIntersection(np.hstack([A, -a[:, None]]), np.asarray(center, float))
    except (QhullError, ValueError):
        return None
    V = hs.intersections
    if not np.all(np.isfinite(V)):
        return None
    scale = max(1.0, np.abs(V).max())
    _, idx = np.unique(np.round(V / scale, 11), axis=0, return_index=True)
    return V[np.sort(idx)]


def _inner_point(P: Piece, V: np.ndarray | None):
    """A point well inside the parameter polytope and an inner-radius estimate."""
    if V is not None and len(V) > P.k:
        c = V.mean(axis=0)
        A, a = _normalized(P.Gf, P.gf)
        r = float(np.min(a - A @ c)) if len(a) else np.inf
        if r > 0:
            return r, c
    return chebyshev(P)


def vertices(P: Piece) -> np.ndarray | None:
    """Float vertices (N × n) of a piece with parameter dimension <= 3 (2-D: in cyclic order)."""
    if P.k == 0:
        return P.of[None, :]
    if P.k > 3:
        return None
    V = _param_vertices(P)
    if V is None:
        return None
    X = P.of + V @ P.Uf.T
    if P.k == 2:
        c = V.mean(axis=0)
        ang = np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0])
        X = X[np.argsort(ang)]
    return X


def vertices_exact(P: Piece) -> list[tuple[Fraction, ...]] | None:
    """Exact vertices of an exact piece (k <= 3): float active sets re-solved over Q."""
    if not P.exact or P.k > 3:
        return None
    if P.k == 0:
        return [P.point_exact(())]
    if P.k == 1:
        lo, hi = interval(P)
        if lo is None or hi is None or lo > hi:
            return None
        return [P.point_exact((lo,)), P.point_exact((hi,))] if lo != hi else [P.point_exact((lo,))]
    V = _param_vertices(P)
    if V is None:
        return None
    A, a = P.Gf, P.gf
    out = []
    scale = max(1.0, float(np.abs(V).max()))
    keep_idx = []
    for vi, v in enumerate(V):
        slack = np.abs(A @ v - a) / np.maximum(np.linalg.norm(A, axis=1), 1e-300)
        order = np.argsort(slack)
        rows = []
        for i in order:
            if slack[i] > 1e-7 * scale:             # only constraints active at this vertex
                break
            trial = rows + [int(i)]
            if _qrows(P.G, trial).rank() == len(trial):
                rows = trial
            if len(rows) == P.k:
                break
        if len(rows) < P.k:
            continue                                 # not a vertex (collinear point)
        b = _qrows(P.G, rows).solve(_qrows(P.g, rows))
        if any(fraction_of(x) < 0 for x in (P.g - P.G * b).entries()):
            continue                                 # degenerate choice: not a point of P
        keep_idx.append(vi)
        out.append(P.point_exact([fraction_of(x) for x in b.entries()]))
    V = V[keep_idx]
    if len(out) < P.k + 1:
        return None
    if P.k == 2:
        c = V.mean(axis=0)
        ang = np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0])
        out = [out[i] for i in np.argsort(ang)]
    return out


def _linear_range(P: Piece, w: np.ndarray, w0: float = 0.0, V=None):
    """(min, max) of w·b + w0 over the parameter polytope (vertices if given, else 2 LPs)."""
    if V is not None:
        vals = V @ w + w0
        return float(vals.min()), float(vals.max())
    if P.k == 0:
        return w0, w0
    from scipy.optimize import linprog

    A, a = _normalized(P.Gf, P.gf)
    out = []
    for sgn in (1.0, -1.0):
        res = linprog(sgn * w, A_ub=A, b_ub=a, bounds=[(None, None)] * P.k, method="highs")
        if res.status == 3:
            out.append(-sgn * np.inf)
        elif res.status != 0:
            return np.inf, -np.inf
        else:
            out.append(sgn * res.fun + w0)
    return out[0], out[1]


def prune(P: Piece, V: np.ndarray | None = None, rel: float = 1e-6) -> Piece:
    """Drop inequalities that are slack at every vertex (k <= 3) — redundant ones.

    Only rows with a clear slack (> ``rel`` relative) at every vertex are dropped, so a
    facet is never lost to a rounding error in the float vertices (a nearly redundant row
    is simply kept).
    """
    if P.k == 0 or P.k > 3:
        return _prune_lp(P) if P.k > 3 else P
    if P.k == 1:
        return _normalize_1d(P)
    if V is None:
        V = _param_vertices(P)
    if V is None:
        return P
    norms = np.linalg.norm(P.Gf, axis=1)
    scale = max(1.0, np.abs(V).max())
    slack = (P.gf[:, None] - P.Gf @ V.T) / np.maximum(norms, 1e-300)[:, None]
    keep = [i for i in range(len(P.gf)) if slack[i].min() <= rel * scale and norms[i] > 0]
    if len(keep) == len(P.gf):
        return P
    if P.exact:
        return _build(P, P.origin, P.basis, _qrows(P.G, keep), _qrows(P.g, keep))
    return _build(P, P.origin, P.basis, P.Gf[keep], P.gf[keep])


def _prune_lp(P: Piece, max_rows: int | None = None) -> Piece:
    """LP redundancy removal for k > 3 (only when the description has grown)."""
    m, k = P.Gf.shape
    if m <= max_rows if max_rows is not None else m <= 4 * k + 8:
        return P
    from scipy.optimize import linprog

    A, a = P.Gf, P.gf
    keep = list(range(m))
    for i in range(m):
        others = [j for j in keep if j != i]
        res = linprog(-A[i], A_ub=A[others], b_ub=a[others], bounds=[(None, None)] * k, method="highs")
        if res.status == 0 and -res.fun < a[i] - 1e-9 * max(1.0, abs(a[i])):
            keep = others
    if P.exact:
        return _build(P, P.origin, P.basis, _qrows(P.G, keep), _qrows(P.g, keep))
    return _build(P, P.origin, P.basis, A[keep], a[keep])


def _normalize_1d(P: Piece) -> Piece:
    """1-parameter piece rewritten as lo <= b <= hi (two rows), exactly for exact pieces."""
    lo, hi = interval(P)
    if P.exact:
        rows, rhs = [], []
        if hi is not None:
            rows.append([1]), rhs.append(hi)
        if lo is not None:
            rows.append([-1]), rhs.append(-lo)
        G = flint.fmpq_mat(len(rows), 1, [_q(r[0]) for r in rows]) if rows else flint.fmpq_mat(0, 1)
        return _build(P, P.origin, P.basis, G, column(rhs))
    G, g = [], []
    if np.isfinite(hi):
        G.append([1.0]), g.append(hi)
    if np.isfinite(lo):
        G.append([-1.0]), g.append(-lo)
    return _build(P, P.of, P.Uf, np.array(G, float).reshape(-1, 1), np.array(g, float))


def normalize(P: Piece, center=None, orthonormal: bool = True) -> Piece:
    """Re-parametrise: origin at an inner point, basis orthonormalised (QR), exactly
    (``orthonormal=False``: only move the origin, keeping the parameters' scales).

    With ``b = c + S b'`` (``c`` a short dyadic vector near the Chebyshev centre,
    ``S = R̃^{-1}`` for a dyadic rounding ``R̃`` of the R factor of U) the piece is
    ``{(o + U c) + (U S) b' : (G S) b' <= g − G c}``: the same set, exactly.
    """
    k = P.k
    if k == 0:
        return P
    if center is None:
        if k == 1:
            lo, hi = _interval_f(P)
            center = np.array([(lo + hi) / 2]) if np.isfinite(lo) and np.isfinite(hi) else np.zeros(1)
        else:
            r, center = chebyshev(P)
            if center is None:
                center = np.zeros(k)
    Uf = P.Uf
    if not orthonormal:
        R = np.eye(k)
    elif k == 1:
        nrm = float(np.linalg.norm(Uf))
        R = np.array([[nrm if nrm > 0 else 1.0]])
    else:
        R = np.linalg.qr(Uf, mode="r")
        d = np.abs(np.diag(R))
        if d.min() <= 1e-12 * max(d.max(), 1e-300):     # rank-deficient: keep the parametrisation
            R = np.eye(k)
    if P.exact:
        c = column(_dyadic(float(v), 40) for v in center)
        Rq = flint.fmpq_mat(k, k)
        for i in range(k):
            for j in range(i, k):
                Rq[i, j] = _q(_dyadic(float(R[i, j]), 24))
        S = Rq.inv()
        o = P.origin + P.basis * c
        out = _build(P, o, P.basis * S, P.G * S, P.g - P.G * c)
        Sf, cf = _f(S), _f(c)[:, 0]
    else:
        S = np.linalg.inv(np.triu(R))
        c = np.asarray(center, float)
        out = _build(P, P.of + Uf @ c, Uf @ S, P.Gf @ S, P.gf - P.Gf @ c)
        Sf, cf = S, c
    if "chain" in P.info:                   # parent parameters: b_par = A b_P + a = A (c + S b) + a
        par, A, a = P.info["chain"]
        out.info["chain"] = (par, A @ Sf, A @ cf + a)
    return _normalize_1d(out) if k == 1 else out


# ----------------------------------------------------------------------------- box, split, preimage

def clip_to_box(P: Piece, box, V: np.ndarray | None = None) -> Piece | None:
    """P ∩ box (box = (lo, hi) sequences), or None when they do not overlap.

    Only the box faces the piece actually crosses are added as inequalities.
    """
    lo, hi = (np.asarray(b, float) for b in box)
    if P.k <= 3 and V is None:
        V = _param_vertices(P) if P.k else np.zeros((1, 0))
        if V is None:
            return None
    rows, rhs = [], []
    for i in range(P.n):
        w = P.Uf[i]
        mn, mx = _linear_range(P, w, P.of[i], V)
        if mn > hi[i] or mx < lo[i]:
            return None
        if mx > hi[i]:
            rows.append((i, 1)), rhs.append(box[1][i])
        if mn < lo[i]:
            rows.append((i, -1)), rhs.append(-Fraction(box[0][i]) if P.exact else -float(box[0][i]))
    if not rows:
        return P
    if P.exact:
        A = flint.fmpq_mat(len(rows), P.n)
        for r, (i, s) in enumerate(rows):
            A[r, i] = s
        return add_halfspaces(P, A, column(Fraction(v) for v in rhs))
    A = np.zeros((len(rows), P.n))
    for r, (i, s) in enumerate(rows):
        A[r, i] = s
    return add_halfspaces(P, A, np.asarray(rhs, float))


def _signs_to_bits(signs) -> str:
    return "".join("1" if s > 0 else "0" for s in signs)


def split(P: Piece, model, tol: float = DEFAULT_TOL, near: float = 1e-7) -> list[Piece]:
    """Cut P along the hyperplane arrangement: one piece per cell whose interior it enters.

    Only hyperplanes whose range over P changes sign are split on (so only cells the piece
    enters are visited); sub-pieces with inner radius <= ``tol`` (relative to the piece's
    scale) are dropped as empty. Every returned piece carries its region (bits) and the
    inequalities that keep it in the closure of that region: the split rows and every
    hyperplane that comes within ``near`` (relative) of it, exactly for exact pieces.
    Hyperplanes containing the whole piece are recorded in ``on_hyperplanes``.
    """
    L = model.L
    if P.k == 0:
        x = P.of
        pre = model.preact(x)
        return [P.with_(region=_signs_to_bits(pre > 0))]
    if P.k == 1:
        return _split_1d(P, model, tol, near)
    return _split_nd(P, model, tol, near)


def _scale(P: Piece) -> float:
    return max(1.0, float(np.abs(P.of).max(initial=0)))


def _split_1d(P: Piece, model, tol, near) -> list[Piece]:
    """Exact interval splitting for 1-parameter pieces (no LP)."""
    P = _normalize_1d(P)
    lo, hi = interval(P)
    if lo is None or hi is None:
        raise ValueError("cannot split an unbounded piece")
    if lo > hi:
        return []
    H, h, Hf, hf = hyperplane_forms(P, model)
    L = model.L
    unorm = float(np.linalg.norm(P.Uf)) or 1.0
    scale = _scale(P)
    cuts = set()
    on = []
    for i in range(L):
        a = fraction_of(H[i, 0]) if P.exact else float(Hf[i, 0])
        b = fraction_of(h[i, 0]) if P.exact else float(hf[i])
        if a == 0:
            if b == 0 or (not P.exact and abs(b) <= 1e-13 * scale * float(np.linalg.norm(model.Cf[i]))):
                on.append(i)
            continue
        t = -b / a
        if lo < t < hi:
            cuts.add(t)
    pts = [lo] + sorted(cuts) + [hi]
    out = []
    for t0, t1 in zip(pts, pts[1:]):
        if float(t1 - t0) * unorm <= tol * scale and len(pts) > 2:
            continue
        mid = (t0 + t1) / 2
        bits = []
        for i in range(L):
            if i in on:
                bits.append("0")
                continue
            a = fraction_of(H[i, 0]) if P.exact else float(Hf[i, 0])
            b = fraction_of(h[i, 0]) if P.exact else float(hf[i])
            bits.append("1" if a * mid + b > 0 else "0")
        if P.exact:
            G = flint.fmpq_mat(2, 1, [1, -1])
            Q = _build(P, P.origin, P.basis, G, column([t1, -t0]))
        else:
            Q = _build(P, P.of, P.Uf, np.array([[1.0], [-1.0]]), np.array([float(t1), -float(t0)]))
        out.append(normalize(Q.with_(region="".join(bits), on_hyperplanes=tuple(on))))
    return out


def _split_nd(P: Piece, model, tol, near) -> list[Piece]:
    H, h, Hf, hf = hyperplane_forms(P, model)
    L = model.L
    scale = _scale(P)
    cnorm = np.maximum(np.linalg.norm(model.Cf, axis=1), 1e-300)
    small = P.k <= 3

    def geom(Q):
        V = _param_vertices(Q) if small else None
        r, c = _inner_point(Q, V) if small else chebyshev(Q)
        return V, r, c

    V, r, c = geom(P)
    if c is None or _thin(r, P.k, tol, scale):
        return []
    on = []
    if P.exact:
        for i in range(L):
            if all(H[i, j] == 0 for j in range(P.k)) and h[i, 0] == 0:
                on.append(i)
    # which hyperplanes change sign over the piece (vertex ranges for k <= 3, LPs otherwise)
    work = [(P, V, r, c, {})]
    split_on: dict = {}                 # id(sub-piece) -> hyperplanes whose rows it already has
    for i in range(L):
        if i in on:
            continue
        nxt = []
        for Q, VQ, rQ, cQ, fixed in work:
            mn, mx = _linear_range(Q, Hf[i], hf[i], VQ)
            mn, mx = mn / cnorm[i], mx / cnorm[i]
            if not P.exact and max(abs(mn), abs(mx)) <= 1e-12 * scale:
                on_i = True
            else:
                on_i = False
            if on_i:
                nxt.append((Q, VQ, rQ, cQ, {**fixed, i: 0}))
                continue
            if mx <= tol * scale:
                nxt.append((Q, VQ, rQ, cQ, {**fixed, i: -1}))
                continue
            if mn >= -tol * scale:
                nxt.append((Q, VQ, rQ, cQ, {**fixed, i: 1}))
                continue
            for sgn in (-1, 1):
                # sgn = -1: H_i b + h_i <= 0 ; sgn = +1: -(H_i b + h_i) <= 0
                if P.exact:
                    Gn = _qrows(H, [i]) * (-sgn)
                    gn = _qrows(h, [i]) * sgn
                else:
                    Gn, gn = -sgn * Hf[i:i + 1], np.array([sgn * hf[i]])
                Qs = _add_param_rows(Q, Gn, gn)
                VQs, rQs, cQs = geom(Qs)
                if cQs is None or _thin(rQs, Qs.k, tol, scale):
                    continue
                split_on[id(Qs)] = split_on.get(id(Q), ()) + (i,)
                nxt.append((Qs, VQs, rQs, cQs, {**fixed, i: sgn}))
        work = nxt
    out = []
    for Q, VQ, rQ, cQ, fixed in work:
        bits = "".join("1" if fixed.get(i, -1) > 0 else "0" for i in range(L))
        # keep the region exact: add rows of hyperplanes that come close but were not split on
        extra = []
        for i in range(L):
            if i in on or fixed.get(i) == 0 or i in split_on.get(id(Q), ()):
                continue
            sgn = 1 if bits[i] == "1" else -1
            mn, mx = _linear_range(Q, Hf[i], hf[i], VQ)
            margin = (mn if sgn > 0 else -mx) / cnorm[i]
            if margin <= near * scale:
                extra.append((i, sgn))
        if extra:
            if P.exact:
                Gn = flint.fmpq_mat(len(extra), P.k)
                gn = flint.fmpq_mat(len(extra), 1)
                for r_, (i, sgn) in enumerate(extra):
                    for j in range(P.k):
                        Gn[r_, j] = -sgn * H[i, j]
                    gn[r_, 0] = sgn * h[i, 0]
            else:
                Gn = np.array([-sgn * Hf[i] for i, sgn in extra])
                gn = np.array([sgn * hf[i] for i, sgn in extra])
            Q = _add_param_rows(Q, Gn, gn)
        onh = tuple(sorted(set(on) | {i for i, s in fixed.items() if s == 0}))
        Q = prune(Q.with_(region=bits, on_hyperplanes=onh), VQ)
        out.append(normalize(Q, cQ))
    return out


def preimage(P: Piece, model, region: str, box=None, tol: float = DEFAULT_TOL) -> Piece | None:
    """``{x ∈ closure(R_t) ∩ box : f_t(x) ∈ P}`` for t = ``region``, as a piece (or None).

    Parameters are the solutions (x, b) of ``J_t x − U b = o − c_t``; when ``J_t`` is
    singular the kernel directions become parameters too, so the preimage may have higher
    dimension than P (exact rank decisions for exact pieces; SVD rank for float ones).
    A box is required when J_t is singular (the preimage is unbounded otherwise).
    """
    J, ct = model.affine_piece(region)
    n, k = P.n, P.k
    if box is None and J.rank() < n:
        raise ValueError(f"J of region {region} is singular: the preimage is unbounded, give a box")
    sig = np.array([1 if b == "1" else -1 for b in region])
    if P.exact:
        K = flint.fmpq_mat(n, n + k)
        for i in range(n):
            for j in range(n):
                K[i, j] = J[i, j]
            for j in range(k):
                K[i, n + j] = -P.basis[i, j]
        sol = solve_affine(K, P.origin - ct)
        if sol.point is None:
            return None
        w0, N = sol.point, list(sol.basis)
        p = len(N)
        Nm = flint.fmpq_mat(n + k, p)
        for j, v in enumerate(N):
            for i in range(n + k):
                Nm[i, j] = v[i, 0]
        x0, Nx = _qrows(w0, range(n)), _qrows(Nm, range(n))
        b0, Nb = _qrows(w0, range(n, n + k)), _qrows(Nm, range(n, n + k))
        if p == k and k and Nb.det() != 0:
            # f_t is invertible on the piece: keep the parent's parameters (x = x0' + Nx' b),
            # so thinness is judged in the parent's (balanced) parameter domain and not in an
            # arbitrarily scaled nullspace basis (a 19-D W^s piece with directions from 0.2
            # down to 1e-12 would otherwise look like a sliver and be dropped)
            Nbi = Nb.inv()
            Nx = Nx * Nbi
            x0 = x0 - Nx * b0
            Nb = flint.fmpq_mat(k, k)
            for i in range(k):
                Nb[i, i] = 1
            b0 = flint.fmpq_mat(k, 1)
        G = P.G * Nb
        g = P.g - P.G * b0
        # region: sig_i (C_i x + d_i) >= 0  <=>  -sig_i C_i Nx y <= sig_i (C_i x0 + d_i)
        D = flint.fmpq_mat(model.L, model.L)
        for i in range(model.L):
            D[i, i] = int(sig[i])
        Gr = (D * model.C * Nx) * -1
        gr = D * (model.C * x0 + model.d)
        Q = Piece(x0, Nx, _qvstack(G, Gr), _qvstack(g, gr), True)
    else:
        Jf, cf = _f(J), _f(ct)[:, 0]
        if k and np.linalg.cond(Jf) < 1e10:
            # f_t invertible: x = J^{-1} (o + U b − c) in the parent's parameters b (see above)
            Nx = np.linalg.solve(Jf, P.Uf)
            x0 = np.linalg.solve(Jf, P.of - cf)
            Gr = -(sig[:, None] * (model.Cf @ Nx))
            gr = sig * (model.Cf @ x0 + model.df)
            Q = Piece(x0, Nx, np.vstack([P.Gf, Gr]), np.concatenate([P.gf, gr]), False)
            Nb, b0 = np.eye(k), np.zeros(k)
            return _finish_preimage(Q, P, region, k, Nb, b0, box, tol, keep_params=True)
        K = np.hstack([Jf, -P.Uf])
        rhs = P.of - cf
        Us, s, Vt = np.linalg.svd(K)
        rank = int(np.sum(s > 1e-11 * max(1.0, s.max(initial=0))))
        w0 = Vt[:rank].T @ ((Us[:, :rank].T @ rhs) / s[:rank])
        if np.linalg.norm(K @ w0 - rhs) > 1e-9 * max(1.0, np.linalg.norm(rhs)):
            return None
        Nm = Vt[rank:].T
        x0, Nx, b0, Nb = w0[:n], Nm[:n], w0[n:], Nm[n:]
        if Nb.shape == (k, k) and k and np.linalg.cond(Nb) < 1e12:      # parent's parameters (see above)
            Nbi = np.linalg.inv(Nb)
            Nx = Nx @ Nbi
            x0 = x0 - Nx @ b0
            Nb, b0 = np.eye(k), np.zeros(k)
        Gr = -(sig[:, None] * (model.Cf @ Nx))
        gr = sig * (model.Cf @ x0 + model.df)
        Q = Piece(x0, Nx, np.vstack([P.Gf @ Nb, Gr]), np.concatenate([P.gf - P.Gf @ b0, gr]), False)
    if P.exact:
        Nbf, b0f = _f(Nb) if Nb.ncols() else np.zeros((k, 0)), _f(b0)[:, 0]
    else:
        Nbf, b0f = Nb, b0
    return _finish_preimage(Q, P, region, k, Nbf, b0f, box, tol)


def _finish_preimage(Q, P, region, k, Nbf, b0f, box, tol, keep_params: bool = False):
    """Record the chain, clip to the box, drop empty / sliver pieces, normalise (with
    *keep_params*, Q is parametrised by its parent's parameters: keep their scales, as
    orthonormal x-space parameters would make a strongly anisotropic piece look like a sliver)."""
    Q = Q.with_(region=region, itinerary=(region,) + P.itinerary, depth=P.depth + 1,
                info={"chain": (P, np.asarray(Nbf, float).reshape(k, -1), np.asarray(b0f, float))})
    if Q.k > 0:
        if box is not None:
            Q = _clip_unbounded(Q, box)
            if Q is None:
                return None
        r, c = chebyshev(Q)
        if c is None or _thin(r, Q.k, tol, _scale(Q)):
            return None
        Q = normalize(Q, c, orthonormal=not keep_params)
        Q = prune(Q)
        if Q.k >= 2 and not keep_params:             # re-check in the new parameters
            r2, c2 = chebyshev(Q)
            if c2 is None or _thin(r2, Q.k, tol, _scale(Q)):
                return None
    else:
        if not np.all(Q.gf >= -1e-12 * _scale(Q)):
            return None
    return Q


def _clip_unbounded(Q: Piece, box) -> Piece | None:
    """Add all 2n box rows (the piece may be unbounded, so no vertex ranges)."""
    n = Q.n
    if Q.exact:
        A = flint.fmpq_mat(2 * n, n)
        rhs = []
        for i in range(n):
            A[i, i] = 1
            A[n + i, i] = -1
        rhs = [Fraction(v) for v in box[1]] + [-Fraction(v) for v in box[0]]
        return add_halfspaces(Q, A, column(rhs))
    A = np.vstack([np.eye(n), -np.eye(n)])
    rhs = np.concatenate([np.asarray(box[1], float), -np.asarray(box[0], float)])
    return add_halfspaces(Q, A, rhs)


# ----------------------------------------------------------------------------- sampling / membership

def sample(P: Piece, N: int, rng: np.random.Generator | None = None, steps: int = 5) -> np.ndarray:
    """N float points of P (hit-and-run in parameter space from an inner point; N × n)."""
    B = sample_params(P, N, rng, steps)
    return P.of + B @ P.Uf.T


def sample_params(P: Piece, N: int, rng: np.random.Generator | None = None, steps: int = 5) -> np.ndarray:
    """N float parameter vectors b of P (N × k): uniform for k = 1, hit-and-run otherwise."""
    rng = np.random.default_rng(0) if rng is None else rng
    if P.k == 0:
        return np.zeros((N, 0))
    if P.k == 1:
        lo, hi = _interval_f(P)
        return rng.uniform(lo, hi, size=(N, 1))
    r, c = chebyshev(P)
    if c is None:
        return np.zeros((0, P.k))
    A, a = _normalized(P.Gf, P.gf)
    b = c.copy()
    out = []
    for _ in range(N):
        for _ in range(steps):
            d = rng.standard_normal(P.k)
            d /= np.linalg.norm(d)
            Ad = A @ d
            slack = a - A @ b
            with np.errstate(divide="ignore", invalid="ignore"):
                tt = slack / Ad
            tmax = np.min(tt[Ad > 1e-300], initial=np.inf)
            tmin = np.max(tt[Ad < -1e-300], initial=-np.inf)
            if np.isfinite(tmin) and np.isfinite(tmax) and tmax > tmin:
                b = b + rng.uniform(tmin, tmax) * d
        out.append(b.copy())
    return np.array(out)


def contains(P: Piece, x, tol: float = 1e-9) -> bool:
    """Float membership test: is x (within tol) a point of P? (LP; for tests and checks)."""
    x = np.asarray(x, float)
    if P.k == 0:
        return bool(np.linalg.norm(x - P.of) <= tol * _scale(P))
    from scipy.optimize import linprog

    scale = _scale(P)
    # min s  s.t. |U b - (x - o)| <= s, G b <= g + tol
    n, k = P.n, P.k
    A_ub = np.vstack([np.hstack([P.Uf, -np.ones((n, 1))]), np.hstack([-P.Uf, -np.ones((n, 1))]),
                      np.hstack([P.Gf, np.zeros((len(P.gf), 1))])])
    b_ub = np.concatenate([x - P.of, P.of - x, P.gf + tol * np.maximum(1.0, np.abs(P.gf))])
    c = np.zeros(k + 1)
    c[-1] = 1.0
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * k + [(0, None)], method="highs")
    return res.status == 0 and res.fun <= tol * scale


# ----------------------------------------------------------------------------- set difference

def same_hull(A: Piece, B: Piece, tol: float = 1e-9) -> bool:
    """Do A and B span the same affine subspace? (exact for exact pieces)."""
    if A.n != B.n or A.dim != B.dim:
        return False
    if A.exact and B.exact:
        W = flint.fmpq_mat(A.n, A.k + B.k + 1)
        for i in range(A.n):
            for j in range(A.k):
                W[i, j] = A.basis[i, j]
            for j in range(B.k):
                W[i, A.k + j] = B.basis[i, j]
            W[i, A.k + B.k] = B.origin[i, 0] - A.origin[i, 0]
        return W.rank() == A.dim
    W = np.hstack([A.Uf, B.Uf, (B.of - A.of)[:, None]])
    s = np.linalg.svd(W, compute_uv=False)
    return int(np.sum(s > tol * max(1.0, s.max()))) == A.dim


def difference_same_hull(R: Piece, L: Piece, tol: float = DEFAULT_TOL) -> list[Piece]:
    """Convex pieces covering R \\ L (up to boundaries) for pieces with the same affine hull.

    L's inequalities are rewritten in R's parameters (a = T b + t0 with o_L + U_L a =
    o_R + U_R b); then R \\ L = ∪_i {b ∈ R : row_i(b) >= rhs_i, row_j(b) <= rhs_j (j < i)}.
    Requires L's basis to have full column rank.
    """
    if R.exact and L.exact:
        sol_T = []
        UL = L.basis
        # U_L T = U_R and U_L t0 = o_R − o_L, solved exactly (consistent for the same hull)
        rhs = flint.fmpq_mat(R.n, R.k + 1)
        for i in range(R.n):
            for j in range(R.k):
                rhs[i, j] = R.basis[i, j]
            rhs[i, R.k] = R.origin[i, 0] - L.origin[i, 0]
        # least-squares = exact solution of the normal equations (U_L full column rank)
        X = (UL.transpose() * UL).solve(UL.transpose() * rhs)
        if UL * X != rhs:
            raise ValueError("pieces do not share an affine hull")
        T, t0 = _qcols(X, range(R.k)), _qcols(X, [R.k])
        Gb = L.G * T
        gb = L.g - L.G * t0
        m = Gb.nrows()
        rows = lambda idx: _qrows(Gb, list(idx))
        out = []
        for i in range(m):
            G = _qvstack(_qvstack(R.G, rows([i]) * -1), rows(range(i)))
            g = _qvstack(_qvstack(R.g, _qrows(gb, [i]) * -1), _qrows(gb, list(range(i))))
            out.append(_build(R, R.origin, R.basis, G, g))
    else:
        X, *_ = np.linalg.lstsq(L.Uf, np.hstack([R.Uf, (R.of - L.of)[:, None]]), rcond=None)
        T, t0 = X[:, :R.k], X[:, R.k]
        Gb, gb = L.Gf @ T, L.gf - L.Gf @ t0
        out = []
        for i in range(len(gb)):
            G = np.vstack([R.Gf, -Gb[i:i + 1], Gb[:i]])
            g = np.concatenate([R.gf, [-gb[i]], gb[:i]])
            out.append(_build(R, R.of, R.Uf, G, g) if not R.exact else
                       Piece(R.of, R.Uf, G, g, False, R.region, R.itinerary, R.depth, R.on_hyperplanes, dict(R.info)))
    keep = []
    for Q in out:
        r, c = chebyshev(Q)
        if c is not None and not _thin(r, Q.k, tol, _scale(Q)):
            Qn = prune(normalize(Q, c))
            r2, c2 = chebyshev(Qn)
            if c2 is not None and not _thin(r2, Qn.k, tol, _scale(Qn)):
                keep.append(Qn)
    return keep
