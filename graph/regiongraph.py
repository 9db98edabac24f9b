"""Region-adjacency graph of the arrangement {C_k z + d_k = 0} (DESIGN §4).

Nodes are the realisable open cells (bit strings, ``s[k] == "1"`` where C_k z + d_k > 0) that
meet an optional open bounding box; an edge s -- t means the two cells share an
(n-1)-dimensional facet. The graph is built lazily by a walk: from a cell, the neighbour
across hyperplane k is the pattern with bit k flipped, and it exists iff that open cell is
non-empty (a Chebyshev-type LP, HiGHS through ``scipy.optimize.linprog``). 2^L patterns are
never enumerated unless the caller asks for ``exhaustive=True``.

Two facts make the walk cheap and exact:

* **Single flips are facets.** The hyperplanes of a model are distinct (``symbolic.models``
  reduces them), so if two realisable cells s, t differ only in bit k, the segment between
  interior points p in s and p' in t keeps the sign of every C_j z + d_j (j != k) strictly
  and meets H_k in one point q that lies on no other hyperplane: a relative-interior point
  of a common facet (computed exactly by :meth:`RegionGraph.facet_point`). Conversely two
  cells sharing a facet differ in exactly the facet's hyperplane. So the edges are exactly
  the pairs of realisable cells at Hamming distance 1, and the facet LP "on the hyperplane"
  is the same LP as "is the flipped cell non-empty".
* **Connectivity.** The cells of an arrangement that meet an open convex set (the box) are
  connected through such facets, so a walk from any start cell reaches all of them.

Exactness: every node gets an exact interior witness (the LP's float answer is an exact
binary rational; it is accepted only if :func:`symbolic.regions.locate` confirms it is
strictly inside the cell and the open box). A flip whose LP margin is within ``tol`` of 0
(a degenerate arrangement: e.g. three lines through one point make such "cells" of margin
exactly 0) is decided by an exact Motzkin certificate of emptiness (y >= 0, y != 0,
y^T G = 0, y^T h <= 0 for the strict system G z < h, built from the LP's dual and
re-solved over Q). With ``certify=True`` every rejected flip gets such a certificate (the
graph is then exact, at about 0.5 ms per rejected flip); by default a clearly negative float
margin, or the polar-hull screen below, rejects it. Patterns that are neither proven
non-empty nor proven empty are kept as ``thin`` nodes, so the walk errs on the side of too
many cells.

The walk is seeded with the float patterns of many random points (and of trajectories)
that have a clear float margin: a seeded cell needs no LP, so LPs are only spent on flips
whose cell is not yet known, solved many at a time as one block-diagonal LP (each block
keeps its own optimum because the objective is separable). Most unknown flips are empty;
for n <= 6 a polar convex-hull test (qhull) on a cell's interior point rejects the clearly
redundant hyperplanes of the cell without an LP.

>>> from symbolic.models import model_from_dict
>>> m = model_from_dict({"kind": "plrnn", "A": [0, 0], "W": [[1, 0], [0, 1]], "h": [0, 0]})
>>> rg = region_graph(m)
>>> rg.status, sorted(rg.graph.nodes), rg.graph.number_of_edges()
('complete', ['00', '01', '10', '11'], 4)
"""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterable, Sequence

import flint
import networkx as nx
import numpy as np

from symbolic.linalg import nullspace
from symbolic.rationals import fraction_of, fraction_str, rows_of, to_fraction, vector_of
from symbolic.regions import all_patterns, array_to_bits, bits_to_array, locate

__all__ = [
    "Box", "as_box", "RegionGraph", "RegionWalker", "region_graph", "flip", "margin_lps",
    "motzkin_empty", "exact_cell_rows",
]

LP_CHUNK = 120          # LPs per block-diagonal HiGHS call
DEFAULT_TOL = 1e-9      # LP margins within +-tol of 0 are undecided by floats
HULL_MAX_DIM = 6        # polar-hull redundancy screen up to this dimension (qhull)


# ----------------------------------------------------------------------------- boxes

@dataclass(frozen=True)
class Box:
    """An axis-parallel box lo <= z <= hi, exact (Fractions) with float copies.

    Cells "in the box" are the open cells that meet the open box; points "in the box" lie in
    the closed box.
    """

    lo: tuple
    hi: tuple

    @property
    def lof(self) -> np.ndarray:
        return np.array([float(v) for v in self.lo])

    @property
    def hif(self) -> np.ndarray:
        return np.array([float(v) for v in self.hi])

    @property
    def n(self) -> int:
        return len(self.lo)

    def contains(self, z: Sequence, strict: bool = False) -> bool:
        """Exact membership of a rational point in the closed (or open) box."""
        if strict:
            return all(l < Fraction(v) < h for l, v, h in zip(self.lo, z, self.hi))
        return all(l <= Fraction(v) <= h for l, v, h in zip(self.lo, z, self.hi))

    def describe(self) -> str:
        return " x ".join(f"[{fraction_str(l)}, {fraction_str(h)}]" for l, h in zip(self.lo, self.hi))

    def to_json(self) -> dict:
        return {"lo": [fraction_str(v) for v in self.lo], "hi": [fraction_str(v) for v in self.hi]}


def as_box(box, n: int) -> Box | None:
    """Normalise a box given as ``(lo, hi)`` (numbers or length-n sequences), or a Box.

    >>> as_box((-1, [2, "1/2"]), 2).describe()
    '[-1, 2] x [-1, 1/2]'
    """
    if box is None or isinstance(box, Box):
        if isinstance(box, Box) and box.n != n:
            raise ValueError(f"box has dimension {box.n}, the model has n = {n}")
        return box
    try:
        lo, hi = box
    except (TypeError, ValueError):
        raise ValueError("box must be a pair (lo, hi) of numbers or length-n sequences") from None

    def vec(v, name):
        if isinstance(v, (str, int, float, Fraction, np.floating, np.integer)):
            return (to_fraction(v, f"box {name}"),) * n
        vals = tuple(to_fraction(x, f"box {name}") for x in np.asarray(v, dtype=object).reshape(-1).tolist())
        if len(vals) != n:
            raise ValueError(f"box {name} has length {len(vals)}, the model has n = {n}")
        return vals

    lo, hi = vec(lo, "lo"), vec(hi, "hi")
    if any(l >= h for l, h in zip(lo, hi)):
        raise ValueError("box must have lo < hi in every coordinate")
    return Box(lo, hi)


# ----------------------------------------------------------------------------- LPs

def flip(bits: str, k: int) -> str:
    """The pattern with bit k flipped."""
    return bits[:k] + ("0" if bits[k] == "1" else "1") + bits[k + 1:]


def _normalised(model):
    norms = np.linalg.norm(model.Cf, axis=1) if model.L else np.zeros(0)
    norms = np.where(norms > 0, norms, 1.0)
    return model.Cf / norms[:, None], model.df / norms, norms


def cell_constraints(model, bit_array: np.ndarray, box: Box | None):
    """Float rows (G, h) with z in cell s (and the open box) iff G z < h, rows of unit norm.

    ``bit_array`` (N, L) bool; returns G (N, R, n), h (N, R) with R = L (+ 2n with a box).
    """
    Cn, dn, _ = _normalised(model)
    sig = np.where(bit_array, 1.0, -1.0)
    G = -sig[:, :, None] * Cn[None]
    h = sig * dn[None]
    if box is not None:
        eye = np.eye(model.n)
        N = len(bit_array)
        G = np.concatenate([G, np.broadcast_to(-eye, (N, model.n, model.n)), np.broadcast_to(eye, (N, model.n, model.n))], axis=1)
        h = np.concatenate([h, np.broadcast_to(-box.lof, (N, model.n)), np.broadcast_to(box.hif, (N, model.n))], axis=1)
    return G, h


@dataclass
class MarginLP:
    """Answers of :func:`margin_lps`: optimum ``t`` (nan: solver failure), point ``x`` and
    dual multipliers ``y`` (>= 0, one per row) of each problem."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray


def margin_lps(G: np.ndarray, h: np.ndarray, chunk: int = LP_CHUNK) -> MarginLP:
    """Solve max t s.t. G_i x + t <= h_i, t <= 1 for every i, many per HiGHS call.

    G (N, R, n), h (N, R). Every row carries +t, so each problem is feasible (t -> -inf) and
    bounded (t <= 1). Problems are stacked as one block-diagonal LP with objective
    -sum t_i; the objective is separable, so each block attains its own optimum.
    At an optimum t* < 1 the duals satisfy y >= 0, y^T G = 0, sum y = 1 and t* = y^T h
    (LP duality), which is what :func:`motzkin_empty` turns into an exact certificate.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    N, R, n = G.shape
    t = np.full(N, np.nan)
    X = np.zeros((N, n))
    Y = np.zeros((N, R))
    if R == 0:  # no constraints: every problem attains the cap t = 1 at x = 0
        t[:] = 1.0
        return MarginLP(t, X, Y)
    for a in range(0, N, chunk):
        b = min(N, a + chunk)
        m = b - a
        blocks = np.concatenate([G[a:b], np.ones((m, R, 1))], axis=2)  # (m, R, n+1)
        rows = (np.arange(m)[:, None, None] * R + np.arange(R)[None, :, None]) * np.ones((1, 1, n + 1), dtype=int)
        cols = np.arange(m)[:, None, None] * (n + 1) + np.arange(n + 1)[None, None, :] + np.zeros((1, R, 1), dtype=int)
        A = sp.csr_matrix((blocks.ravel(), (rows.ravel(), cols.ravel())), shape=(m * R, m * (n + 1)))
        c = np.zeros((m, n + 1))
        c[:, -1] = -1.0
        ub = np.full((m, n + 1), np.inf)
        ub[:, -1] = 1.0
        bounds = np.stack([np.full(m * (n + 1), -np.inf), ub.ravel()], axis=1)
        res = linprog(c.ravel(), A_ub=A, b_ub=h[a:b].ravel(), bounds=bounds, method="highs")
        if res.status == 0:
            sol = res.x.reshape(m, n + 1)
            t[a:b] = sol[:, -1]
            X[a:b] = sol[:, :n]
            Y[a:b] = np.maximum(-np.asarray(res.ineqlin.marginals).reshape(m, R), 0.0)
        elif m > 1:  # numerical trouble somewhere: solve one at a time
            sub = margin_lps(G[a:b], h[a:b], chunk=1)
            t[a:b], X[a:b], Y[a:b] = sub.t, sub.x, sub.y
    return MarginLP(t, X, Y)


# ----------------------------------------------------------------------------- exact certificates

_EXACT_ROWS = weakref.WeakKeyDictionary()


def exact_cell_rows(model, bits: str, box: Box | None):
    """Exact rows (G, h) with z in cell *bits* (and the open box) iff G z < h."""
    got = _EXACT_ROWS.get(model)
    if got is None:
        got = ([tuple(r) for r in rows_of(model.C)] if model.L else [], list(vector_of(model.d)) if model.L else [])
        _EXACT_ROWS[model] = got
    Cq, dq = got
    G, h = [], []
    for k, b in enumerate(bits):
        s = 1 if b == "1" else -1
        G.append(tuple(-s * v for v in Cq[k]))
        h.append(s * dq[k])
    if box is not None:
        n = model.n
        for i in range(n):
            G.append(tuple(Fraction(-1 if j == i else 0) for j in range(n)))
            h.append(-box.lo[i])
        for i in range(n):
            G.append(tuple(Fraction(1 if j == i else 0) for j in range(n)))
            h.append(box.hi[i])
    return G, h


def motzkin_empty(G: Sequence[Sequence[Fraction]], h: Sequence[Fraction], y: np.ndarray, strict: bool,
                  rel: float = 1e-9) -> bool:
    """Exact proof that {x : G x < h} (strict) or {x : G x <= h} is empty, from float duals y.

    Motzkin's transposition theorem: the strict system is empty iff some y >= 0, y != 0 has
    y^T G = 0 and y^T h <= 0; Farkas: the closed system is empty iff some y >= 0 has
    y^T G = 0 and y^T h < 0. The float y names the support; the exact y is re-derived from
    the nullspace of G_S^T over Q (the float y projected onto it) and checked exactly.
    Returns True only for a verified certificate.
    """
    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)) or y.max(initial=0.0) <= 0:
        return False
    S = [i for i in range(len(y)) if y[i] > rel * y.max()]
    n = len(G[0]) if len(G) else 0
    if not S:
        return False
    M = flint.fmpq_mat(n, len(S), [flint.fmpq(G[i][j].numerator, G[i][j].denominator) for j in range(n) for i in S]) \
        if n else flint.fmpq_mat(0, len(S))
    basis = nullspace(M) if n else [flint.fmpq_mat(len(S), 1, [1 if r == c else 0 for r in range(len(S))]) for c in range(len(S))]
    if not basis:
        return False
    yS = [Fraction(float(y[i])) for i in S]
    if len(basis) == 1:
        v = list(vector_of(basis[0]))
        if sum(a * b for a, b in zip(v, yS)) < 0:
            v = [-a for a in v]
    else:  # orthogonal projection of yS onto span(basis), exactly
        Bm = flint.fmpq_mat(len(S), len(basis), [basis[c][r, 0] for r in range(len(S)) for c in range(len(basis))])
        ycol = flint.fmpq_mat(len(S), 1, [flint.fmpq(q.numerator, q.denominator) for q in yS])
        try:
            coef = (Bm.transpose() * Bm).solve(Bm.transpose() * ycol)
        except ZeroDivisionError:
            return False
        v = list(vector_of(Bm * coef))
    if any(a < 0 for a in v) or not any(a > 0 for a in v):
        return False
    val = sum(a * h[i] for a, i in zip(v, S))
    return val <= 0 if strict else val < 0


# ----------------------------------------------------------------------------- results

@dataclass
class RegionGraph:
    """The region-adjacency graph found by a walk (see the module docstring).

    ``graph``: networkx Graph; node attributes ``witness`` (exact interior point, tuple of
    Fractions, or None for a thin node), ``point`` (float copy), ``margin`` (the Chebyshev-type
    LP margin: the radius of the largest ball in the cell and the box when an LP found the
    cell; for a cell seeded from a point, that point's distance to the cell's boundary and
    the box, a lower bound of the radius),
    ``thin`` (True when neither non-emptiness nor emptiness was proven); edge attribute
    ``hyperplane`` (the k of the shared facet). ``status``: 'complete' (every cell meeting
    the box was reached), 'budget' (stopped by ``max_nodes``) or 'exhaustive' (all 2^L
    patterns were tested). ``stats``: LP and certificate counts.
    """

    graph: nx.Graph
    box: Box | None
    status: str
    message: str
    stats: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)

    @property
    def cells(self) -> list[str]:
        return sorted(self.graph.nodes)

    def witness(self, s: str):
        return self.graph.nodes[s]["witness"]

    def facet_point(self, s: str, t: str) -> tuple | None:
        """An exact point in the relative interior of the common facet of s and t.

        The segment between the two witnesses crosses only the flipped hyperplane k; its
        crossing point q = p + lam (p' - p), lam = g_k(p) / (g_k(p) - g_k(p')), lies on H_k
        and strictly on the correct side of every other hyperplane (and inside the open box).
        """
        k = self.graph.edges[s, t]["hyperplane"]
        p, p2 = self.witness(s), self.witness(t)
        if p is None or p2 is None:
            return None
        ck = [fraction_of(self.model.C[k, j]) for j in range(self.model.n)]
        dk = fraction_of(self.model.d[k, 0])
        g1 = sum(a * b for a, b in zip(ck, p)) + dk
        g2 = sum(a * b for a, b in zip(ck, p2)) + dk
        lam = g1 / (g1 - g2)
        return tuple(a + lam * (b - a) for a, b in zip(p, p2))


# ----------------------------------------------------------------------------- the walk

def _arrangement_scale(model) -> tuple[np.ndarray, float]:
    """A centre and radius for seeding points when no box is given: a box around the
    arrangement's vertices (intersections of n hyperplanes; a random subset when many)."""
    n, L = model.n, model.L
    if L == 0:
        return np.zeros(n), 1.0
    rng = np.random.default_rng(12345)
    if L >= n and math.comb(L, n) <= 5000:
        import itertools
        subsets = np.array(list(itertools.combinations(range(L), n)))
    elif L >= n:
        subsets = np.array([rng.choice(L, n, replace=False) for _ in range(5000)])
    else:
        subsets = np.zeros((0, n), dtype=int)
    pts = []
    if len(subsets):
        Cs = model.Cf[subsets]
        ds = model.df[subsets]
        ok = np.abs(np.linalg.det(Cs)) > 1e-12 * np.prod(np.linalg.norm(Cs, axis=2), axis=1)
        if ok.any():
            pts = np.linalg.solve(Cs[ok], -ds[ok][..., None])[..., 0]
    if len(pts) == 0:
        # least-squares point and the hyperplanes' distances from it
        z0 = np.linalg.lstsq(model.Cf, -model.df, rcond=None)[0]
        _, dn, _ = _normalised(model)
        return z0, 2.0 + 2 * float(np.abs(dn).max(initial=0.0))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo + hi) / 2, 1.0 + 0.75 * float(np.max(hi - lo))


class RegionWalker:
    """Lazy access to the region-adjacency graph: cells, witnesses and neighbours on demand.

    ``known`` caches every pattern decided so far (non-empty with a witness, or empty);
    :meth:`neighbours` decides a cell's flips (one batched LP call for the unknown ones);
    :meth:`walk` runs the breadth-first walk and returns a :class:`RegionGraph`.

    >>> from symbolic.models import model_from_dict
    >>> m = model_from_dict({"kind": "plrnn", "A": [0], "W": [[1]], "h": [0]})
    >>> w = RegionWalker(m, box=(-1, 1))
    >>> w.neighbours(w.cell_of_point([0.5]))
    ['0']
    """

    def __init__(self, model, box=None, tol: float = DEFAULT_TOL, certify: bool = False):
        self.model = model
        self.box = as_box(box, model.n)
        self.tol = tol
        self.certify = certify
        self.cells: dict[str, dict] = {}   # pattern -> node attributes (non-empty or thin)
        self.empty: set[str] = set()
        self.stats = {"lps": 0, "lp_calls": 0, "certificates": 0, "thin": 0, "seeded": 0, "seed_points": 0,
                      "hull_skips": 0}
        self._nbrs: dict[str, list[str]] = {}

    # -- seeding
    def _margins(self, Z: np.ndarray):
        pre = self.model.preact(Z)
        _, _, norms = _normalised(self.model)
        dist = np.abs(pre) / norms if self.model.L else np.zeros((len(Z), 0))
        m = dist.min(axis=1, initial=np.inf)
        if self.box is not None:
            m = np.minimum(m, np.minimum(Z - self.box.lof, self.box.hif - Z).min(axis=1))
        return pre > 0, m

    def add_points(self, Z: np.ndarray) -> list[str]:
        """Seed cells from float points with a clear margin (vectorised); returns their patterns.

        A point counts only if its float distance to every hyperplane (and box face) exceeds
        the float error by far; its cell's witness is the point itself, confirmed exactly.
        """
        Z = np.asarray(Z, dtype=float).reshape(-1, self.model.n)
        Z = Z[np.all(np.isfinite(Z), axis=1)]
        if not len(Z):
            return []
        pats, m = self._margins(Z)
        scale = 1.0 + np.abs(Z).max(axis=1)
        good = m > 1e-9 * scale
        Z, pats, m = Z[good], pats[good], m[good]
        self.stats["seed_points"] += len(Z)
        if not len(Z):
            return []
        # best margin per pattern
        order = np.argsort(-m)
        keys = np.packbits(pats[order], axis=1) if self.model.L else np.zeros((len(Z), 1), np.uint8)
        _, first = np.unique(keys, axis=0, return_index=True)
        sel = order[first]
        out = []
        for bits, z, mm in zip(array_to_bits(pats[sel]), Z[sel], m[sel]):
            if bits in self.cells and self.cells[bits]["witness"] is not None:
                out.append(bits)
                continue
            q = tuple(Fraction(float(v)) for v in z)
            if self._confirm(q, bits):
                self.cells[bits] = {"witness": q, "point": z.copy(), "margin": float(mm), "thin": False}
                self.empty.discard(bits)
                self.stats["seeded"] += 1
                out.append(bits)
        return out

    def seed(self, samples: int = 0, trajectories: int = 0, steps: int = 30, rng=None):
        """Seed from random points in the box (or around the arrangement) and trajectories."""
        rng = np.random.default_rng(0) if rng is None else rng
        n = self.model.n
        if self.box is not None:
            lo, hi = self.box.lof, self.box.hif
        else:
            c, r = _arrangement_scale(self.model)
            lo, hi = c - r, c + r
        if samples:
            self.add_points(rng.uniform(lo, hi, size=(samples, n)))
        if trajectories:
            X = rng.uniform(lo, hi, size=(trajectories, n))
            pts = []
            for _ in range(steps):
                X = self.model.f(X)
                X = X[np.all(np.isfinite(X), axis=1) & (np.abs(X).max(axis=1) < 1e12)]
                if not len(X):
                    break
                pts.append(X)
            if pts:
                self.add_points(np.vstack(pts))

    def _confirm(self, q, bits: str) -> bool:
        loc = locate(self.model, q)
        return loc.strict and loc.bits == bits and (self.box is None or self.box.contains(q, strict=True))

    # -- deciding patterns
    def decide(self, patterns: Iterable[str]) -> None:
        """Decide unknown patterns (non-empty cell in the box, empty, or thin) by batched LPs."""
        todo = [p for p in dict.fromkeys(patterns) if p not in self.cells and p not in self.empty]
        if not todo:
            return
        L = self.model.L
        G, h = cell_constraints(self.model, bits_to_array(todo, L), self.box)
        res = margin_lps(G, h)
        self.stats["lps"] += len(todo)
        self.stats["lp_calls"] += -(-len(todo) // LP_CHUNK)
        for i, p in enumerate(todo):
            t = res.t[i]
            if np.isfinite(t) and t > self.tol:
                q = tuple(Fraction(float(v)) for v in res.x[i])
                ok = self._confirm(q, p)
                self.cells[p] = {"witness": q if ok else None, "point": res.x[i].copy(), "margin": float(t),
                                 "thin": not ok}
                if not ok:
                    self.stats["thin"] += 1
                continue
            if np.isfinite(t) and t < -self.tol and not self.certify:
                self.empty.add(p)
                continue
            # within tolerance (or certifying): try an exact proof of emptiness
            if np.isfinite(t) and t < 1:
                Gq, hq = exact_cell_rows(self.model, p, self.box)
                if motzkin_empty(Gq, hq, res.y[i], strict=True):
                    self.stats["certificates"] += 1
                    self.empty.add(p)
                    continue
            # undecided: keep as a thin cell (errs on the side of too many cells)
            self.stats["thin"] += 1
            self.cells[p] = {"witness": None, "point": None if not np.isfinite(t) else res.x[i].copy(),
                             "margin": float(t) if np.isfinite(t) else float("nan"), "thin": True}

    def cell_of_point(self, z) -> str:
        """The cell of a float point (decided by LP if the point is near a boundary)."""
        z = np.asarray(z, dtype=float).reshape(1, self.model.n)
        got = self.add_points(z)
        if got:
            return got[0]
        bits = array_to_bits(self.model.preact(z) > 0)[0]
        self.decide([bits])
        if bits in self.cells:
            return bits
        # a boundary point: any realisable cell whose closure holds it will do
        for k in range(self.model.L):
            self.decide([flip(bits, k)])
            if flip(bits, k) in self.cells:
                return flip(bits, k)
        raise ValueError("could not find a cell near the given point")

    def neighbours(self, s: str) -> list[str]:
        """Realisable cells sharing a facet with s (its single flips that are non-empty)."""
        got = self._nbrs.get(s)
        if got is None:
            self.decide([s])
            if s not in self.cells:
                raise ValueError(f"{s!r} is not a cell meeting the box")
            self.expand([s])
            got = self._nbrs[s]
        return got

    def _hull_redundant(self, s: str, ks: list[int]) -> list[int]:
        """Flips k of cell s that are clearly empty by the polar-hull test (floats).

        With an interior point p, write the cell (and box) as {p + y : a_j . y <= 1},
        a_j = G_j / (h_j - G_j p). Constraint k is redundant, i.e. the flipped cell is
        empty, iff a_k lies in conv({0} u {a_j : j != k}) (Farkas for the implication
        a_k . y <= 1). Points deeper inside the hull than the float error are skipped; all
        others are left to the LP.
        """
        info = self.cells[s]
        n = self.model.n
        if info["point"] is None or not ks or n > HULL_MAX_DIM:
            return []
        G, h = cell_constraints(self.model, bits_to_array([s], self.model.L), self.box)
        G, h = G[0], h[0]
        slack = h - G @ info["point"]
        if not np.all(slack > 0):
            return []
        a = G / slack[:, None]
        scale = 1e-9 * max(1.0, float(np.abs(a).max()))
        if n == 1:
            a1 = a[:, 0]
            top, bot = a1.max(initial=0.0), a1.min(initial=0.0)
            return [k for k in ks if (a1[k] > 0 and a1[k] < top - scale) or (a1[k] < 0 and a1[k] > bot + scale)
                    or a1[k] == 0]
        from scipy.spatial import ConvexHull, QhullError

        try:
            hull = ConvexHull(np.vstack([np.zeros((1, n)), a]))
        except (QhullError, ValueError):
            return []
        eq = hull.equations
        depth = (a[ks] @ eq[:, :n].T + eq[:, n]).max(axis=1)
        return [k for k, dep in zip(ks, depth) if dep < -scale]

    def expand(self, frontier: Sequence[str]) -> list[str]:
        """Decide all flips of the frontier cells at once; returns newly found cells."""
        L = self.model.L
        before = set(self.cells)
        cand = []
        for s in frontier:
            unknown = [k for k in range(L) if flip(s, k) not in self.cells and flip(s, k) not in self.empty]
            if not self.certify and len(unknown) > 1:
                for k in self._hull_redundant(s, unknown):
                    self.empty.add(flip(s, k))
                    self.stats["hull_skips"] += 1
            cand.extend(flip(s, k) for k in unknown)
        self.decide(cand)
        for s in frontier:
            self._nbrs[s] = [t for t in (flip(s, k) for k in range(L)) if t in self.cells]
        return [c for c in self.cells if c not in before]

    # -- the walk
    def start_cells(self, start=None, points=None) -> list[str]:
        out = []
        if start is not None:
            start = [start] if isinstance(start, str) else list(start)
            self.decide(start)
            out.extend(s for s in start if s in self.cells)
        if points is not None:
            P = np.asarray(points, dtype=float).reshape(-1, self.model.n)
            pats = self.add_points(P)
            out.extend(pats)
            if not pats and len(P):
                out.append(self.cell_of_point(P[0]))
        if not out:
            if self.cells:
                out.append(max(self.cells, key=lambda c: self.cells[c]["margin"]))
            else:
                z0 = (self.box.lof + self.box.hif) / 2 if self.box is not None else _arrangement_scale(self.model)[0]
                out.append(self.cell_of_point(z0))
        return list(dict.fromkeys(out))

    def walk(self, start=None, points=None, max_nodes: int = 200_000,
             progress: Callable[[str], None] | None = None) -> RegionGraph:
        """Breadth-first walk over facets from the start cells (see :func:`region_graph`)."""
        t0 = time.perf_counter()
        frontier = self.start_cells(start, points)
        nodes = dict.fromkeys(frontier)
        status = "complete"
        while frontier:
            if len(nodes) >= max_nodes:
                status = "budget"
                break
            nxt = []
            for a in range(0, len(frontier), 2000):
                part = [s for s in frontier[a:a + 2000] if s not in self._nbrs]
                if part:
                    self.expand(part)
                for s in frontier[a:a + 2000]:
                    for t in self._nbrs[s]:
                        if t not in nodes:
                            nodes[t] = None
                            nxt.append(t)
            frontier = nxt
            if progress:
                progress(f"region walk: {len(nodes)} cells, {self.stats['lps']} LPs")
        return self._result(list(nodes), status, time.perf_counter() - t0, max_nodes)

    def _result(self, nodes: list[str], status: str, seconds: float, max_nodes: int) -> RegionGraph:
        G = nx.Graph()
        node_set = set(nodes)
        for s in sorted(nodes):
            G.add_node(s, **self.cells[s])
        for s in nodes:
            for k in range(self.model.L):
                t = flip(s, k)
                if t in node_set and s < t:
                    G.add_edge(s, t, hyperplane=k)
        thin = sum(1 for s in nodes if self.cells[s]["thin"])
        where = "in the box " + self.box.describe() if self.box is not None else "in R^%d" % self.model.n
        if status == "complete":
            msg = f"walk reached all {len(nodes)} cells {where}"
        elif status == "exhaustive":
            msg = f"all 2^{self.model.L} patterns tested: {len(nodes)} cells {where}"
        else:
            msg = f"stopped by the node budget max_nodes = {max_nodes} after {len(nodes)} cells {where}"
        msg += f" ({G.number_of_edges()} facets, {self.stats['lps']} LPs, {self.stats['seeded']} cells seeded from points"
        if self.certify:
            msg += f", {self.stats['certificates']} exact emptiness certificates"
        msg += ")"
        if thin:
            msg += f"; {thin} thin cells kept without a witness (LP margin within {self.tol:g} of 0, not certified empty)"
        stats = dict(self.stats, cells=len(nodes), facets=G.number_of_edges(), thin=thin, seconds=seconds)
        return RegionGraph(G, self.box, status, msg, stats, self.model)


def region_graph(model, box=None, start=None, points=None, max_nodes: int = 200_000, samples: int | None = None,
                 trajectories: int | None = None, exhaustive: bool = False, tol: float = DEFAULT_TOL,
                 certify: bool = False, seed: int = 0, progress: Callable[[str], None] | None = None) -> RegionGraph:
    """The region-adjacency graph of *model* inside *box* (``(lo, hi)``; None: all of R^n).

    start: a cell (bit string) or cells to walk from; points: float points (e.g. a
    trajectory) whose cells start the walk; samples / trajectories: number of random points
    / random trajectories used to seed cells (defaults grow with L; 0 disables seeding);
    max_nodes: node budget (status 'budget' when it stops the walk); exhaustive: test all 2^L
    patterns instead of walking (only for small L, on request); certify: exact emptiness
    certificates for rejected patterns (else the float LP margin decides).

    >>> from symbolic.models import model_from_dict
    >>> lines = model_from_dict({"kind": "relu-affine", "A": [[0, 0], [0, 0]], "B": [[1, 1, 1], [0, 0, 0]],
    ...                          "C": [[1, 0], [0, 1], [1, 1]], "d": [0, 0, "-1/2"], "e": [0, 0]})
    >>> region_graph(lines).graph.number_of_nodes()   # 1 + 3 + 3 cells of 3 lines in general position
    7
    """
    walker = RegionWalker(model, box, tol=tol, certify=certify)
    L = model.L
    if exhaustive:
        if L > 22:
            raise ValueError(f"exhaustive mode would test 2^{L} patterns; use the walk")
        t0 = time.perf_counter()
        pats = all_patterns(L)
        walker.decide(pats)
        nodes = [p for p in pats if p in walker.cells]
        return walker._result(nodes, "exhaustive", time.perf_counter() - t0, max_nodes)
    rng = np.random.default_rng(seed)
    if samples is None:
        samples = min(200_000, 400 * (L + 1) * model.n)
    if trajectories is None:
        trajectories = min(2000, 20 * (L + 1))
    walker.seed(samples, trajectories, rng=rng)
    return walker.walk(start=start, points=points, max_nodes=max_nodes, progress=progress)
