"""Basins of attraction and their boundaries (DESIGN §7).

* **Basin map**: labels of the points of a grid on a 2-D slice ``x = o + s e1 + t e2`` (the
  whole plane for n = 2, a segment for n = 1), computed for all grid points at once
  (vectorised float iteration): a point is labelled with attractor ``a`` when an iterate
  enters one of a's trapping polytopes (:mod:`graph.attractors`), with a numerical
  attractor when its trajectory ends near that attractor's samples. Float labels are
  *sampled*; :mod:`verify.basincert` turns them into certified labels (checker claims).
* **Boundaries**: the codimension-1 stable manifolds of saddle orbits (one unstable
  direction), traced as exact polyhedral pieces (:func:`graph.manifolds.trace_manifold`).
  Which two attractors a saddle separates is found by following the two branches of its
  unstable manifold (from the two ends of its proven local unstable piece,
  :func:`graph.local.local_piece`); for every boundary piece the attractors on its
  two sides are found by iterating points just off its centre along its normal.
* **Measures**: agreement between the sampled map and the traced boundary (grid edges whose
  end labels differ exactly when the edge crosses the boundary an odd number of times),
  distance from each attractor to its basin boundary (exact ``sqrt`` of a rational when the
  piece and the attractor are rational: a convex QP solved exactly through its KKT system),
  basin volume fractions on the grid.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> res = compute_basins(load_model(example_path("bistable")), resolution=40)
>>> [sorted(b.separates) for b in res.boundaries]
[['P1-1', 'P1-2']]
>>> [(d["attractor"], d["distance_exact"]) for d in res.distances]
[('P1-1', '2*sqrt(2)'), ('P1-2', '2*sqrt(2)')]
>>> res.agreement["cells"]
1.0
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import numpy as np

from symbolic.pieces import _dyadic, chebyshev, vertices_exact
from symbolic.rationals import column, fraction_of, fraction_str, vector_of

from .attractors import LABEL_DIVERGED, LABEL_SADDLE, LABEL_UNRESOLVED, capture, find_attractors

__all__ = ["Slice", "make_slice", "BasinMap", "label_points", "basin_map", "BoundaryPiece", "Boundary",
           "trace_boundaries", "agreement", "exact_distance2", "boundary_distances", "volume_fractions",
           "BasinResult", "compute_basins", "slice_segment", "default_depth"]


# ----------------------------------------------------------------------------- slices

@dataclass
class Slice:
    """The plane ``x = origin + s e1 + t e2`` for ``lo <= (s, t) <= hi`` (exact rationals).

    For n = 1, ``e2`` is zero and ``lo[1] = hi[1] = 0`` (a segment). ``dims``: the varied
    coordinates for axis-aligned slices, else None.
    """

    origin: tuple
    e1: tuple
    e2: tuple
    lo: tuple
    hi: tuple
    dims: tuple | None = None
    label: str = ""

    @property
    def n(self) -> int:
        return len(self.origin)

    @property
    def flat(self) -> bool:
        return all(v == 0 for v in self.e2)

    def floats(self):
        f = lambda v: np.array([float(x) for x in v])
        return f(self.origin), f(self.e1), f(self.e2)

    def shape(self, resolution: int) -> tuple[int, int]:
        """(rows, columns) = (points along e2, points along e1)."""
        return (1 if self.flat else resolution), resolution

    def grid_vectors(self, resolution: int):
        """Exact (o, u, v): grid point (i, j) = o + i u + j v at the cell centres."""
        rows, cols = self.shape(resolution)
        h1 = (Fraction(self.hi[0]) - Fraction(self.lo[0])) / cols
        h2 = (Fraction(self.hi[1]) - Fraction(self.lo[1])) / rows if not self.flat else Fraction(0)
        s0 = Fraction(self.lo[0]) + h1 / 2
        t0 = Fraction(self.lo[1]) + h2 / 2
        o = tuple(a + s0 * b + t0 * c for a, b, c in zip(self.origin, self.e1, self.e2))
        u = tuple(h1 * b for b in self.e1)
        v = tuple(h2 * c for c in self.e2)
        return o, u, v

    def coords(self, resolution: int):
        """Float cell-centre coordinates (s (cols,), t (rows,))."""
        rows, cols = self.shape(resolution)
        lo, hi = [float(x) for x in self.lo], [float(x) for x in self.hi]
        s = lo[0] + (np.arange(cols) + 0.5) * (hi[0] - lo[0]) / cols
        t = lo[1] + (np.arange(rows) + 0.5) * (hi[1] - lo[1]) / rows if rows > 1 else np.array([lo[1]])
        return s, t

    def points(self, resolution: int) -> np.ndarray:
        """Float grid points, shape (rows, cols, n); point [j, i] = o + s_i e1 + t_j e2."""
        s, t = self.coords(resolution)
        O, e1, e2 = self.floats()
        return O + s[None, :, None] * e1 + t[:, None, None] * e2

    def project(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slice coordinates (…, 2) of states X (least squares) and their distance off the plane."""
        O, e1, e2 = self.floats()
        E = np.stack([e1, e2], axis=1) if not self.flat else e1[:, None]
        X = np.asarray(X, float)
        coef, *_ = np.linalg.lstsq(E, (X - O).reshape(-1, len(O)).T, rcond=None)
        coef = coef.T
        if self.flat:
            coef = np.hstack([coef, np.zeros((len(coef), 1))])
        off = np.linalg.norm((X - O).reshape(-1, len(O)) - coef[:, :E.shape[1]] @ E.T, axis=1)
        return coef.reshape(X.shape[:-1] + (2,)), off.reshape(X.shape[:-1])

    def to_json(self) -> dict:
        return {"origin": [fraction_str(v) for v in self.origin], "e1": [fraction_str(v) for v in self.e1],
                "e2": [fraction_str(v) for v in self.e2], "lo": [fraction_str(v) for v in self.lo],
                "hi": [fraction_str(v) for v in self.hi], "dims": list(self.dims) if self.dims else None,
                "label": self.label}


def _short(x: float) -> Fraction:
    return _dyadic(float(x), 12)


def make_slice(model, attractors=None, dims=None, at=None, window=None, plane: bool = False,
               margin: float = 0.3) -> Slice:
    """A slice for the basin map.

    n <= 2: the whole state space (window: a square with a margin around attractors,
    saddles and the sampling box). n > 2: coordinates ``dims`` (default (0, 1)) varied, the others fixed at
    ``at`` (default: the first saddle, else the mean of the attractors), or with
    ``plane=True`` the plane through the first two exact attractors and the first saddle.
    ``window``: (s_lo, s_hi, t_lo, t_hi).
    """
    n = model.n
    pts = []
    sadd = []
    if attractors is not None:
        for a in attractors.attractors:
            pts.extend(a.float_points().tolist() if a.exact else
                       [np.percentile(a.samples, 2, axis=0).tolist(), np.percentile(a.samples, 98, axis=0).tolist()])
        sadd = [np.array([float(v) for v in p]) for o in attractors.saddles for p in o.points]
    P = np.array(pts + [s.tolist() for s in sadd]).reshape(-1, n)
    if attractors is not None and attractors.box is not None:
        blo, bhi = np.array(attractors.box[0], float), np.array(attractors.box[1], float)
    else:
        blo, bhi = (P.min(axis=0), P.max(axis=0)) if len(P) else (-np.ones(n), np.ones(n))
    if len(P):
        plo, phi = P.min(axis=0), P.max(axis=0)
    else:
        plo, phi = blo, bhi
    Z = Fraction(0)
    if n == 1:
        e1, e2, origin = (Fraction(1),), (Z,), (Z,)
        lo_, hi_ = min(plo[0], blo[0]), max(phi[0], bhi[0])
        w = max(hi_ - lo_, 1.0)
        lo, hi = (_short(lo_ - margin * w), Z), (_short(hi_ + margin * w), Z)
        if window is not None:
            lo, hi = (Fraction(window[0]), Z), (Fraction(window[1]), Z)
        return Slice(origin, e1, e2, lo, hi, (0,), "z1")
    if plane and n > 2 and attractors is not None:
        ex = [a for a in attractors.attractors if a.exact]
        if len(ex) >= 2 and attractors.saddles:
            a1, a2 = ex[0].points[0], ex[1].points[0]
            sp = attractors.saddles[0].points[0]
            d1 = [y - x for x, y in zip(a1, a2)]
            d2 = [y - x for x, y in zip(a1, sp)]
            nn = sum(v * v for v in d1)
            if nn != 0:
                pr = sum(x * y for x, y in zip(d1, d2)) / nn
                d2 = [y - pr * x for x, y in zip(d1, d2)]
                if any(v != 0 for v in d2):
                    s1 = _short(1 / math.sqrt(float(nn)))
                    s2 = _short(1 / math.sqrt(float(sum(v * v for v in d2))))
                    e1 = tuple(v * s1 for v in d1)
                    e2 = tuple(v * s2 for v in d2)
                    L1 = float(1 / s1)
                    L2 = float(sum(x * y for x, y in zip(e2, [y - x for x, y in zip(a1, sp)])))
                    lo = (_short(-margin * L1 - 0.5 * L1), _short(min(0, L2) - (margin + 0.5) * max(L1, abs(L2))))
                    hi = (_short(L1 + 0.5 * L1 + margin * L1), _short(max(0, L2) + (margin + 0.5) * max(L1, abs(L2))))
                    if window is not None:
                        lo, hi = (Fraction(window[0]), Fraction(window[2])), (Fraction(window[1]), Fraction(window[3]))
                    return Slice(tuple(a1), e1, e2, lo, hi, None,
                                 f"plane through {ex[0].id}, {ex[1].id} and {attractors.saddles[0].id}")
    dims = tuple(dims) if dims is not None else (0, 1)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < n for d in dims):
        raise ValueError(f"slice dims must be two different coordinates in 0..{n - 1}, got {dims}")
    if at is None:
        if sadd:
            at_f = sadd[0]
        elif len(P):
            at_f = P.mean(axis=0)
        else:
            at_f = np.zeros(n)
        at = tuple(_short(v) for v in at_f)
        if attractors is not None and attractors.saddles:
            at = tuple(attractors.saddles[0].points[0])
    at = tuple(Fraction(v) for v in at)
    if len(at) != n:
        raise ValueError(f"--at needs {n} values, got {len(at)}")
    origin = tuple(Z if i in dims else at[i] for i in range(n))
    e1 = tuple(Fraction(int(i == dims[0])) for i in range(n))
    e2 = tuple(Fraction(int(i == dims[1])) for i in range(n))
    if window is None:
        # a square window (a phase portrait) around attractors, saddles (and, n = 2, the
        # sampling box), with a margin
        ab = [(min(plo[d], blo[d]), max(phi[d], bhi[d])) if n == 2 else (plo[d], phi[d]) for d in dims]
        half = max(max((b - a) / 2 for a, b in ab), 0.5) * (1 + 2 * margin)
        lo = tuple(_short((a + b) / 2 - half) for a, b in ab)
        hi = tuple(_short((a + b) / 2 + half) for a, b in ab)
    else:
        lo, hi = (Fraction(window[0]), Fraction(window[2])), (Fraction(window[1]), Fraction(window[3]))
        if not (lo[0] < hi[0] and lo[1] < hi[1]):
            raise ValueError("window must have lo < hi in both slice coordinates")
    label = f"z{dims[0] + 1}, z{dims[1] + 1}" + ("" if n == 2 else " (others fixed)")
    return Slice(origin, e1, e2, lo, hi, dims, label)


# ----------------------------------------------------------------------------- labels

def _numerical_sets(attractors):
    from scipy.spatial import cKDTree

    out = []
    for idx, a in enumerate(attractors.attractors):
        if not a.exact and a.samples is not None and len(a.samples):
            S = np.asarray(a.samples, float)
            ext = float(np.max(S.max(axis=0) - S.min(axis=0))) if len(S) > 1 else 1.0
            out.append((idx, cKDTree(S), 0.05 * max(ext, 1e-3)))
    return out


def label_points(model, attractors, X: np.ndarray, max_steps: int = 2000, diverge: float = 1e8,
                 check_every: int = 1, visited: list | None = None):
    """Float basin labels of states X (N, n), vectorised.

    Returns (labels, steps, trap): ``labels[i]`` is the index of the attractor in
    ``attractors.attractors`` (or LABEL_DIVERGED / LABEL_UNRESOLVED / LABEL_SADDLE),
    ``steps[i]`` the first checked step at which the point was inside a trap (-1 if never),
    ``trap[i]`` the index of that trap in ``attractors.traps``. ``visited``: if a list is
    given, the bounding box (lo, hi) of all states visited by non-diverging points before
    capture is appended to it.
    """
    X = np.array(X, dtype=float, copy=True)
    N = len(X)
    traps = attractors.traps
    owner = np.array([i for i, a in enumerate(attractors.attractors) for _ in a.traps], dtype=int)
    labels = np.full(N, LABEL_UNRESOLVED, dtype=int)
    steps = np.full(N, -1, dtype=int)
    trap = np.full(N, -1, dtype=int)
    active = np.arange(N)
    vlo = X.min(axis=0) if N else None
    vhi = X.max(axis=0) if N else None
    for t in range(max_steps + 1):
        if len(active) == 0:
            break
        if visited is not None and t:
            vlo = np.minimum(vlo, X[active].min(axis=0))
            vhi = np.maximum(vhi, X[active].max(axis=0))
        if traps and (t % check_every == 0 or t == max_steps):
            c = capture(traps, X[active])
            hit = c >= 0
            if hit.any():
                idx = active[hit]
                trap[idx] = c[hit]
                labels[idx] = owner[c[hit]]
                steps[idx] = t
                active = active[~hit]
        if t == max_steps or len(active) == 0:
            break
        Y = model.f(X[active])
        bad = ~np.all(np.isfinite(Y), axis=1) | (np.abs(Y).max(axis=1) > diverge)
        X[active] = Y
        if bad.any():
            labels[active[bad]] = LABEL_DIVERGED
            active = active[~bad]
    if visited is not None and N:
        visited.append((vlo, vhi))
    if len(active):
        rest = X[active]
        for idx, tree, tol in _numerical_sets(attractors):
            d, _ = tree.query(rest, k=1, distance_upper_bound=tol)
            near = np.isfinite(d) & (labels[active] == LABEL_UNRESOLVED)
            labels[active[near]] = idx
        if attractors.saddles:
            S = np.array([[float(v) for v in p] for o in attractors.saddles for p in o.points])
            scale = 1.0 + np.abs(S).max()
            d = np.min(np.linalg.norm(rest[:, None, :] - S[None], axis=2), axis=1)
            close = (d < 1e-6 * scale) & (labels[active] == LABEL_UNRESOLVED)
            labels[active[close]] = LABEL_SADDLE
    return labels, steps, trap


@dataclass
class BasinMap:
    """Sampled basin labels on a slice grid.

    ``labels[j, i]`` (rows along e2, columns along e1) as in :func:`label_points`;
    ``steps``, ``trap`` likewise; ``certified``: bool array filled by
    :mod:`verify.basincert` (False until then); ``names``: attractor ids by label index.
    """

    slice: Slice
    resolution: int
    labels: np.ndarray
    steps: np.ndarray
    trap: np.ndarray
    names: list
    max_steps: int
    elapsed: float
    visited: tuple | None = None
    certified: np.ndarray = None

    def __post_init__(self):
        if self.certified is None:
            self.certified = np.zeros(self.labels.shape, dtype=bool)

    def name_of(self, label: int) -> str:
        if label >= 0:
            return self.names[label]
        return {LABEL_DIVERGED: "diverged", LABEL_UNRESOLVED: "unresolved", LABEL_SADDLE: "boundary"}[label]

    def to_json(self, with_labels: bool = False) -> dict:
        rec = {"slice": self.slice.to_json(), "resolution": self.resolution, "shape": list(self.labels.shape),
               "max_steps": self.max_steps, "elapsed_s": round(self.elapsed, 4),
               "certified_points": int(self.certified.sum())}
        if with_labels:
            rec["names"] = list(self.names)
            rec["labels"] = self.labels.tolist()
        return rec


def basin_map(model, attractors, slice_: Slice, resolution: int = 200, max_steps: int = 2000,
              check_every: int = 1) -> BasinMap:
    """Float basin labels of every grid point of the slice (vectorised over all of them)."""
    t0 = time.perf_counter()
    X = slice_.points(resolution)
    shape = X.shape[:2]
    vis = []
    labels, steps, trap = label_points(model, attractors, X.reshape(-1, model.n), max_steps,
                                       check_every=check_every, visited=vis)
    return BasinMap(slice_, resolution, labels.reshape(shape), steps.reshape(shape), trap.reshape(shape),
                    [a.id for a in attractors.attractors], max_steps, time.perf_counter() - t0,
                    visited=vis[0] if vis else None)


def volume_fractions(bmap: BasinMap) -> dict:
    """Fraction of grid points per label name (and the certified fraction per attractor)."""
    total = bmap.labels.size
    out = {}
    for lab in np.unique(bmap.labels):
        mask = bmap.labels == lab
        rec = {"fraction": float(mask.sum() / total), "points": int(mask.sum())}
        if lab >= 0:
            rec["certified_fraction"] = float((mask & bmap.certified).sum() / total)
        out[bmap.name_of(int(lab))] = rec
    return out


# ----------------------------------------------------------------------------- boundaries

@dataclass(eq=False)
class BoundaryPiece:
    """One codimension-1 piece of a saddle's stable manifold.

    ``segment``: its intersection with the slice in slice coordinates ((2, 2) floats) or None;
    ``sides``: attractor ids reached from just off its centre along +normal / −normal.
    """

    piece: object
    normal: np.ndarray
    centre: np.ndarray
    segment: np.ndarray | None
    sides: tuple = (None, None)

    @property
    def separating(self) -> bool:
        a, b = self.sides
        return a is not None and b is not None and a != b


@dataclass
class Boundary:
    """The stable manifold of one saddle orbit as a basin boundary.

    ``separates``: the attractor ids reached by the two branches of the unstable manifold
    (None for a branch that reaches no attractor); ``manifold``: the
    :class:`graph.manifolds.ManifoldResult`; ``pieces``: its (n−1)-dimensional pieces.
    """

    saddle: object
    manifold: object
    pieces: list
    separates: tuple
    exact: bool
    elapsed: float
    message: str = ""

    @property
    def separating(self) -> bool:
        """The two unstable branches reach different destinations (attractors or divergence)."""
        a, b = self.separates
        return a is not None and b is not None and a != b

    def to_json(self, with_pieces: bool = True) -> dict:
        from .manifolds import piece_record

        rec = {"saddle": self.saddle.id, "separates": list(self.separates), "separating": self.separating,
               "exact": self.exact,
               "n_pieces": len(self.pieces), "stopped_by": self.manifold.stopped_by if self.manifold else None,
               "depth": self.manifold.depth if self.manifold else None,
               "separating_pieces": sum(p.separating for p in self.pieces),
               "elapsed_s": round(self.elapsed, 4), "message": self.message}
        if with_pieces:
            rec["pieces"] = []
            for bp in self.pieces:
                r = piece_record(bp.piece)
                r["sides"] = list(bp.sides)
                if bp.segment is not None:
                    r["slice_segment"] = bp.segment.tolist()
                rec["pieces"].append(r)
        return rec


def _unit_normal(P) -> np.ndarray | None:
    U = P.Uf
    n = U.shape[0]
    if P.dim != n - 1:
        return None
    Q, S, _ = np.linalg.svd(U, full_matrices=True)
    return Q[:, -1]


def slice_segment(P, sl: Slice) -> np.ndarray | None:
    """Float intersection of an (n−1)-dimensional piece with the slice plane, clipped to the
    slice window, as a (2, 2) array of slice coordinates; None if empty or degenerate."""
    nu = _unit_normal(P)
    if nu is None or sl.flat:
        return None
    O, e1, e2 = sl.floats()
    o, U = P.of, P.Uf
    a1, a2, rhs = nu @ e1, nu @ e2, nu @ (o - O)
    den = a1 * a1 + a2 * a2
    scale = max(1.0, np.linalg.norm(e1), np.linalg.norm(e2))
    if den <= 1e-24 * scale * scale:
        return None
    base = rhs * np.array([a1, a2]) / den
    w = np.array([-a2, a1]) / math.sqrt(den)
    # points y(l) = O + (base + l w) @ [e1, e2]; parameters b(l) = b0 + l b1 on the piece's hull
    E = np.stack([e1, e2], axis=1)
    y0 = O + E @ base - o
    y1 = E @ w
    lo_l, hi_l = -np.inf, np.inf
    if P.k == P.dim:
        pinv = np.linalg.pinv(U)
        b0, b1 = pinv @ y0, pinv @ y1
        G, g = P.Gf, P.gf
        a, c = G @ b1, g - G @ b0
        tol = 1e-12 * (1 + np.abs(c).max(initial=0))
        for ai, ci in zip(a, c):
            if ai > tol:
                hi_l = min(hi_l, ci / ai)
            elif ai < -tol:
                lo_l = max(lo_l, ci / ai)
            elif ci < -tol:
                return None
    else:
        from scipy.optimize import linprog

        k = P.k
        A_eq = np.hstack([U, -y1[:, None]])
        res = []
        for sgn in (1.0, -1.0):
            r = linprog(np.r_[np.zeros(k), sgn], A_ub=np.hstack([P.Gf, np.zeros((len(P.gf), 1))]), b_ub=P.gf,
                        A_eq=A_eq, b_eq=y0, bounds=[(None, None)] * (k + 1), method="highs")
            if r.status != 0:
                return None
            res.append(r.x[-1])
        lo_l, hi_l = res[0], res[1]
    # clip to the slice window
    slo = np.array([float(v) for v in sl.lo])
    shi = np.array([float(v) for v in sl.hi])
    for d in range(2):
        if abs(w[d]) > 1e-15:
            l1, l2 = (slo[d] - base[d]) / w[d], (shi[d] - base[d]) / w[d]
            lo_l, hi_l = max(lo_l, min(l1, l2)), min(hi_l, max(l1, l2))
        elif not slo[d] <= base[d] <= shi[d]:
            return None
    if not (np.isfinite(lo_l) and np.isfinite(hi_l)) or hi_l <= lo_l:
        return None
    return np.array([base + lo_l * w, base + hi_l * w])


def _unstable_ends(model, orbit) -> np.ndarray | None:
    """The two end points (floats) of the proven local unstable piece of a saddle with one
    unstable direction (they lie on the two branches of W^u), else p ± ε v_u."""
    from symbolic.pieces import vertices

    from .local import local_piece

    try:
        loc = local_piece(model, orbit, "unstable")
        V = vertices(loc.piece)
        if V is not None and len(V) == 2:
            return V
    except (ValueError, RuntimeError, ArithmeticError):
        pass
    v = _unstable_direction(model, orbit)
    if v is None:
        return None
    p = np.array([float(x) for x in orbit.points[0]])
    eps = 1e-7 * (1 + np.abs(p).max())
    return np.array([p + eps * v, p - eps * v])


def _unstable_direction(model, orbit) -> np.ndarray | None:
    from symbolic.eigenspaces import cycle_jacobians, invariant_subspace

    J = cycle_jacobians(model, orbit.regions)[0]
    E = invariant_subspace(J, "unstable", 64)
    if E.dim != 1:
        return None
    if E.exact:
        v = np.array([float(fraction_of(x)) for x in E.basis_exact.entries()])
    else:
        B = E.arb_basis()
        v = np.array([float(B[i, 0].mid()) for i in range(B.nrows())])
    return v / np.linalg.norm(v)


def trace_boundaries(model, attractors, box, slice_: Slice | None = None, depth: int = 100,
                     budget: int = 5000, max_steps: int = 2000, progress=None,
                     trace_all: bool = False) -> list[Boundary]:
    """Stable manifolds of the saddles with exactly one unstable direction, as basin boundaries.

    The two branches of the saddle's unstable manifold are followed first; when both reach
    the same attractor the saddle separates nothing and its stable manifold is not traced
    (unless ``trace_all``). Destinations: attractor ids, "diverged", or None (unresolved).
    """
    from .manifolds import trace_manifold

    names = [a.id for a in attractors.attractors]

    def name(lab):
        return names[lab] if lab >= 0 else ("diverged" if lab == LABEL_DIVERGED else None)

    out = []
    n = model.n
    scale = max([1.0] + [abs(float(v)) for b in box for v in b])
    for sad in attractors.saddles:
        if sad.unstable_dim != 1 or sad.stable_dim != n - 1 or n < 2:
            continue
        t0 = time.perf_counter()
        # the two branches of the unstable manifold: from the ends of its proven local piece
        ends = _unstable_ends(model, sad)
        sep = (None, None)
        if ends is not None:
            labs, _, _ = label_points(model, attractors, ends, max_steps)
            sep = (name(labs[0]), name(labs[1]))
        if sep[0] is not None and sep[0] == sep[1] and not trace_all:
            out.append(Boundary(sad, None, [], sep, False, time.perf_counter() - t0,
                                f"not a basin boundary: both branches of the unstable manifold reach {sep[0]}"))
            continue
        try:
            res = trace_manifold(model, sad, "stable", depth=depth, box=box, budget=budget,
                                 progress=progress, box_fraction=False)
        except (ValueError, RuntimeError) as exc:
            out.append(Boundary(sad, None, [], sep, False, time.perf_counter() - t0,
                                f"stable manifold not traced: {exc}"))
            continue
        pieces = []
        for P in res.pieces:
            nu = _unit_normal(P)
            if nu is None:
                continue
            r, c = chebyshev(P)
            centre = P.point(c) if c is not None else P.of
            seg = slice_segment(P, slice_) if slice_ is not None and n > 2 else None
            if slice_ is not None and n == 2:
                seg = slice_segment(P, slice_)
            pieces.append(BoundaryPiece(P, nu, centre, seg))
        if pieces:
            delta = 1e-6 * scale
            Xs = np.concatenate([[bp.centre + delta * bp.normal, bp.centre - delta * bp.normal] for bp in pieces])
            labs, _, _ = label_points(model, attractors, Xs, max_steps)
            for i, bp in enumerate(pieces):
                bp.sides = (name(labs[2 * i]), name(labs[2 * i + 1]))
        out.append(Boundary(sad, res, pieces, sep, res.exact, time.perf_counter() - t0, res.message))
    return out


# ----------------------------------------------------------------------------- agreement

def _snap(v: float, grid: np.ndarray, h: float) -> float:
    k = int(round((v - grid[0]) / h)) if h else 0
    if 0 <= k < len(grid) and abs(v - grid[k]) <= 1e-9 * abs(h):
        return float(grid[k])
    return v


def _crossings(bmap: BasinMap, boundaries):
    """Parity of boundary crossings of horizontal edges (rows, cols−1) and vertical edges
    (rows−1, cols) between neighbouring grid points (half-open rules: every crossing once),
    and the grid points lying on a boundary segment (to float accuracy)."""
    s, t = bmap.slice.coords(bmap.resolution)
    rows, cols = len(t), len(s)
    H = np.zeros((rows, max(cols - 1, 0)), dtype=bool)
    V = np.zeros((max(rows - 1, 0), cols), dtype=bool)
    on = np.zeros((rows, cols), dtype=bool)
    h1 = s[1] - s[0] if cols > 1 else 1.0
    h2 = t[1] - t[0] if rows > 1 else 1.0
    for b in boundaries:
        for bp in b.pieces:
            if bp.segment is None:
                continue
            (sa, ta), (sb, tb) = bp.segment
            # end points within float noise of a grid line are put exactly on it, so that two
            # pieces meeting there see the same value (the half-open rule then counts once)
            sa, sb = (_snap(v, s, h1) for v in (sa, sb))
            ta, tb = (_snap(v, t, h2) for v in (ta, tb))
            if ta != tb and cols > 1:            # horizontal edges at rows t_j, tmin <= t_j < tmax
                tmin, tmax = min(ta, tb), max(ta, tb)
                j = np.nonzero((t >= tmin) & (t < tmax))[0]
                if len(j):
                    x = sa + (t[j] - ta) * (sb - sa) / (tb - ta)
                    u = (x - s[0]) / h1
                    i = np.floor(u).astype(int)
                    exact_hit = np.abs(u - np.round(u)) <= 1e-9
                    ih = np.round(u).astype(int)
                    okh = exact_hit & (ih >= 0) & (ih < cols)
                    on[j[okh], ih[okh]] = True
                    ok = (i >= 0) & (i < cols - 1)
                    np.logical_xor.at(H, (j[ok], i[ok]), True)
            if sa != sb and rows > 1:            # vertical edges at columns s_i
                smin, smax = min(sa, sb), max(sa, sb)
                i = np.nonzero((s >= smin) & (s < smax))[0]
                if len(i):
                    y = ta + (s[i] - sa) * (tb - ta) / (sb - sa)
                    u = (y - t[0]) / h2
                    j = np.floor(u).astype(int)
                    exact_hit = np.abs(u - np.round(u)) <= 1e-9
                    jh = np.round(u).astype(int)
                    okh = exact_hit & (jh >= 0) & (jh < rows)
                    on[jh[okh], i[okh]] = True
                    ok = (j >= 0) & (j < rows - 1)
                    np.logical_xor.at(V, (j[ok], i[ok]), True)
    return H, V, on


def agreement(bmap: BasinMap, boundaries) -> dict:
    """How well the traced boundary explains the sampled map.

    Only the stable manifolds of saddles whose unstable branches reach different
    destinations count (:attr:`Boundary.separating`). An edge between neighbouring grid
    points labelled on both ends (an attractor, or "diverged") *agrees* when (labels differ)
    == (the edge crosses the traced boundary an odd number of times).
    Grid points lying on a traced piece (to float accuracy; their basin is not defined) are
    left out like unlabelled ones (``on_boundary``).
    ``cells``: fraction of labelled grid points all of whose edges agree; ``edges``: fraction
    of agreeing edges; ``boundary_edges``: the same among edges where labels differ or the
    boundary crosses (the strict measure); counts of both kinds of disagreement.
    """
    L = bmap.labels
    used = [b for b in boundaries if b.separating]
    H, V, on = _crossings(bmap, used)
    rows, cols = L.shape
    good = ((L >= 0) | (L == LABEL_DIVERGED)) & ~on
    vh = good[:, 1:] & good[:, :-1]
    vv = good[1:, :] & good[:-1, :]
    dh = L[:, 1:] != L[:, :-1]
    dv = L[1:, :] != L[:-1, :]
    bad_h = vh & (dh != H)
    bad_v = vv & (dv != V)
    cell_bad = np.zeros_like(good)
    cell_bad[:, 1:] |= bad_h
    cell_bad[:, :-1] |= bad_h
    cell_bad[1:, :] |= bad_v
    cell_bad[:-1, :] |= bad_v
    n_cells = int(good.sum())
    n_edges = int(vh.sum() + vv.sum())
    relevant = int((vh & (dh | H)).sum() + (vv & (dv | V)).sum())
    bad = int(bad_h.sum() + bad_v.sum())
    return {
        "cells": float(1 - (cell_bad & good).sum() / n_cells) if n_cells else None,
        "edges": float(1 - bad / n_edges) if n_edges else None,
        "boundary_edges": float(1 - bad / relevant) if relevant else None,
        "label_change_without_crossing": int(((vh & dh & ~H).sum() + (vv & dv & ~V).sum())),
        "crossing_without_label_change": int(((vh & ~dh & H).sum() + (vv & ~dv & V).sum())),
        "labelled_points": n_cells, "edges_compared": n_edges, "on_boundary": int(on.sum()),
        "boundaries_used": [b.saddle.id for b in used],
    }


# ----------------------------------------------------------------------------- distances

def _qp_float(P, x):
    """Float minimiser b of ||o + U b − x||² subject to G b <= g."""
    U, o, G, g = P.Uf, P.of, P.Gf, P.gf
    k = P.k
    if k == 1:
        uu = float(U[:, 0] @ U[:, 0])
        b = float(U[:, 0] @ (x - o)) / uu if uu else 0.0
        lo, hi = -np.inf, np.inf
        for a, c in zip(G[:, 0], g):
            if a > 0:
                hi = min(hi, c / a)
            elif a < 0:
                lo = max(lo, c / a)
        return np.array([min(max(b, lo), hi)])
    from scipy.optimize import minimize

    r, b0 = chebyshev(P)
    b0 = np.zeros(k) if b0 is None else b0
    res = minimize(lambda b: float(np.sum((o + U @ b - x) ** 2)), b0,
                   jac=lambda b: 2 * U.T @ (o + U @ b - x),
                   constraints=[{"type": "ineq", "fun": lambda b: g - G @ b, "jac": lambda b: -G}],
                   method="SLSQP", options={"maxiter": 500, "ftol": 1e-15})
    return res.x


def exact_distance2(P, x) -> tuple[Fraction | None, tuple | None, float]:
    """Squared Euclidean distance from the point x to the piece P.

    Returns (exact d² or None, exact nearest point or None, float distance). The float
    minimiser gives a guess of the active constraints; over Q the KKT system
    ``UᵀU b − Uᵀ(x − o) + G_Aᵀ λ = 0, G_A b = g_A`` is solved and ``G b <= g``, ``λ >= 0``
    are checked exactly (a convex QP: these conditions are sufficient for optimality).
    """
    xf = np.array([float(v) for v in x])
    b = _qp_float(P, xf)
    dist_f = float(np.linalg.norm(P.of + P.Uf @ b - xf))
    if not P.exact or P.k != P.dim:
        return None, None, dist_f
    k = P.k
    slack = P.gf - P.Gf @ b
    scale = 1 + np.abs(P.gf).max(initial=0) + np.abs(P.Gf).max(initial=0) * (1 + np.abs(b).max(initial=0))
    order = [i for i in np.argsort(slack) if slack[i] <= 1e-9 * scale]
    # independent active rows (at most k)
    rows = []
    for i in order:
        trial = rows + [int(i)]
        M = flint.fmpq_mat(len(trial), k, [P.G[r, c] for r in trial for c in range(k)])
        if M.rank() == len(trial):
            rows = trial
        if len(rows) == k:
            break
    xq = column(Fraction(v) for v in x)
    UtU = P.basis.transpose() * P.basis
    rhs = P.basis.transpose() * (xq - P.origin)
    m = len(rows)
    K = flint.fmpq_mat(k + m, k + m)
    R = flint.fmpq_mat(k + m, 1)
    for i in range(k):
        for j in range(k):
            K[i, j] = UtU[i, j]
        R[i, 0] = rhs[i, 0]
        for a, r in enumerate(rows):
            K[i, k + a] = P.G[r, i]
    for a, r in enumerate(rows):
        for j in range(k):
            K[k + a, j] = P.G[r, j]
        R[k + a, 0] = P.g[r, 0]
    try:
        sol = K.solve(R)
    except ZeroDivisionError:
        return None, None, dist_f
    bq = flint.fmpq_mat(k, 1, [sol[i, 0] for i in range(k)])
    lam = [fraction_of(sol[k + a, 0]) for a in range(m)]
    if any(l < 0 for l in lam):
        return None, None, dist_f
    viol = P.G * bq - P.g
    if any(fraction_of(v) > 0 for v in viol.entries()):
        return None, None, dist_f
    y = P.origin + P.basis * bq
    diff = [fraction_of(a) - Fraction(v) for a, v in zip(y.entries(), x)]
    d2 = sum(v * v for v in diff)
    return d2, tuple(fraction_of(v) for v in y.entries()), math.sqrt(float(d2))


def _sqrt_str(d2: Fraction) -> str:
    import sympy

    return str(sympy.sqrt(sympy.Rational(d2.numerator, d2.denominator)))


def _sampled_distance(a, idx: int, bmap: BasinMap | None) -> float | None:
    """Distance from the attractor's points to the nearest grid point labelled otherwise."""
    if bmap is None:
        return None
    L = bmap.labels
    other = (L != idx) & ((L >= 0) | (L == LABEL_DIVERGED))
    if not other.any():
        return None
    X = bmap.slice.points(bmap.resolution)[other]
    P = a.float_points()
    return float(np.min(np.linalg.norm(X[:, None, :] - P[None], axis=2)))


def boundary_distances(attractors, boundaries, bmap: BasinMap | None = None) -> list[dict]:
    """Distance from every exact attractor to its basin boundary.

    The boundary of attractor a: the (n−1)-pieces with a on one side (by their side labels),
    or, where no piece has side labels, all pieces of saddles whose unstable branches reach a.
    The minimum over the cycle's points and those pieces; exact (``distance2`` a rational,
    ``distance_exact`` its square root as a closed form) when the minimising piece is exact.
    Only the traced part of the manifold counts: when a tracing stopped by depth or budget
    the value is an upper bound (``upper_bound``), as is every value for parts of the
    manifold outside the tracing box. ``sampled_distance``: the distance to the nearest grid
    point with another label (a cross-check; on the slice only).
    """
    out = []
    for idx, a in enumerate(attractors.attractors):
        if not a.exact:
            continue
        cand = []
        for b in boundaries:
            for bp in b.pieces:
                if a.id in bp.sides or (bp.sides == (None, None) and a.id in b.separates):
                    cand.append((b, bp))
        if not cand:
            continue
        best = None
        for b, bp in cand:
            for p in a.points:
                d2, y, df = exact_distance2(bp.piece, p)
                key = df if d2 is None else math.sqrt(float(d2))
                if best is None or key < best[0] - 1e-12 or (abs(key - best[0]) <= 1e-12 and d2 is not None and best[1] is None):
                    best = (key, d2, y, b, bp, p)
        key, d2, y, b, bp, p = best
        rec = {"attractor": a.id, "saddle": b.saddle.id, "distance": key, "exact": d2 is not None,
               "point": [fraction_str(v) for v in p]}
        if d2 is not None:
            rec["distance2"] = fraction_str(d2)
            rec["distance_exact"] = _sqrt_str(d2)
            rec["nearest"] = [fraction_str(v) for v in y]
        rec["piece_region"] = bp.piece.region
        rec["piece_sides"] = list(bp.sides)
        rec["upper_bound"] = any(b.manifold is None or b.manifold.stopped_by in ("depth", "budget")
                                 for b, _ in cand)
        rec["sampled_distance"] = _sampled_distance(a, idx, bmap)
        out.append(rec)
    return out


# ----------------------------------------------------------------------------- everything

@dataclass
class BasinResult:
    """Result of :func:`compute_basins` (see the module docstring)."""

    model: object
    attractors: object
    slice: Slice
    map: BasinMap
    boundaries: list
    agreement: dict | None
    distances: list
    fractions: dict
    timings: dict
    box: tuple
    status: str
    message: str

    def to_json(self, with_pieces: bool = True, with_labels: bool = False) -> dict:
        return {
            "model": {"name": self.model.name, "kind": self.model.kind, "n": self.model.n, "hyperplanes": self.model.L},
            "attractors": [a.to_json() for a in self.attractors.attractors],
            "saddles": [{"id": o.id, "period": o.period, "points": [[fraction_str(v) for v in p] for p in o.points],
                         "stable_dim": o.stable_dim, "unstable_dim": o.unstable_dim} for o in self.attractors.saddles],
            "boundaries": [b.to_json(with_pieces) for b in self.boundaries],
            "basin_map": self.map.to_json(with_labels),
            "fractions": self.fractions,
            "agreement": self.agreement,
            "distances": self.distances,
            "box": [[fraction_str(v) for v in self.box[0]], [fraction_str(v) for v in self.box[1]]],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "status": self.status,
            "message": self.message,
        }


def _trace_box(model, sl: Slice, attractors, factor: Fraction = Fraction(2), visited=None,
               max_factor: float = 10.0):
    """Tracing box: the bounding box of the slice window scaled by ``factor`` about its centre,
    enlarged to the sampling box (n > 2) and to the states visited by the grid's trajectories
    (at most ``max_factor`` times the window's size). A stable manifold may leave the window
    and come back; pieces leaving the tracing box are not followed, and the basin boundary
    between two grid points lies where their trajectories part."""
    n = model.n
    corners = []
    sc, tc = (sl.lo[0] + sl.hi[0]) / 2, (sl.lo[1] + sl.hi[1]) / 2
    for s in (sl.lo[0], sl.hi[0]):
        for t in (sl.lo[1], sl.hi[1]):
            s2, t2 = sc + factor * (s - sc), tc + factor * (t - tc)
            corners.append([o + s2 * a + t2 * b for o, a, b in zip(sl.origin, sl.e1, sl.e2)])
    lo = [min(c[i] for c in corners) for i in range(n)]
    hi = [max(c[i] for c in corners) for i in range(n)]
    if n > 2:
        blo, bhi = attractors.box
        for i in range(n):
            lo[i] = min(lo[i], _short(blo[i]))
            hi[i] = max(hi[i], _short(bhi[i]))
            if lo[i] == hi[i]:
                lo[i], hi[i] = lo[i] - 1, hi[i] + 1
    if visited is not None:
        vlo, vhi = visited
        for i in range(n):
            c, w = float(lo[i] + hi[i]) / 2, float(hi[i] - lo[i])
            a = max(float(vlo[i]), c - max_factor * w / 2)
            b = min(float(vhi[i]), c + max_factor * w / 2)
            pad = 0.02 * max(b - a, w)
            if a - pad < lo[i]:
                lo[i] = _short(a - pad)
            if b + pad > hi[i]:
                hi[i] = _short(b + pad)
    return tuple(lo), tuple(hi)


def default_depth(n: int) -> int:
    """Default stable-manifold tracing depth: 100 for n <= 3, 10 for n <= 6, else 2."""
    return 100 if n <= 3 else (10 if n <= 6 else 2)


def compute_basins(model, slice_: Slice | None = None, resolution: int = 200, max_period: int = 1,
                   orbits=None, attractors=None, boundaries: bool = True, depth: int | None = None,
                   budget: int = 5000, max_steps: int = 2000, box=None, seed: int = 0,
                   progress=None, **slice_kw) -> BasinResult:
    """Attractors, basin map, traced boundaries and the measures, in one call.

    ``slice_kw`` go to :func:`make_slice` (dims, at, window, plane) when ``slice_`` is None;
    ``box``: tracing box (default: twice the slice window and the states the grid's
    trajectories visit, see ``_trace_box``). ``depth``: preimage steps of the stable
    manifolds (default :func:`default_depth`: tracing (n−1)-dimensional pieces by LPs gets
    expensive in high dimension).
    """
    timings = {}
    t0 = time.perf_counter()
    if attractors is None:
        attractors = find_attractors(model, orbits=orbits, max_period=max_period, seed=seed)
    timings["attractors"] = time.perf_counter() - t0
    if progress:
        progress(f"attractors: {attractors.message}")
    sl = slice_ if slice_ is not None else make_slice(model, attractors, **slice_kw)
    t1 = time.perf_counter()
    bmap = basin_map(model, attractors, sl, resolution, max_steps)
    timings["basin_map"] = time.perf_counter() - t1
    if progress:
        progress(f"basin map {bmap.labels.shape[1]}x{bmap.labels.shape[0]} in {timings['basin_map']:.2f}s")
    tbox = box if box is not None else _trace_box(model, sl, attractors, visited=bmap.visited)
    tbox = (tuple(Fraction(v) for v in tbox[0]), tuple(Fraction(v) for v in tbox[1]))
    bds = []
    t2 = time.perf_counter()
    if depth is None:
        depth = default_depth(model.n)
    if boundaries:
        bds = trace_boundaries(model, attractors, tbox, sl, depth, budget, max_steps, progress)
    timings["boundaries"] = time.perf_counter() - t2
    agr = agreement(bmap, bds) if any(b.separating for b in bds) and not sl.flat else None
    dist = boundary_distances(attractors, bds, bmap)
    fr = volume_fractions(bmap)
    timings["total"] = time.perf_counter() - t0
    n_exact = sum(a.exact for a in attractors.attractors)
    msg = (f"{len(attractors.attractors)} attractor(s) ({n_exact} exact), {len(bds)} boundary saddle(s); "
           f"{attractors.message}")
    status = "ok" if attractors.attractors else "no-attractors"
    return BasinResult(model, attractors, sl, bmap, bds, agr, dist, fr, timings, tbox, status, msg)
