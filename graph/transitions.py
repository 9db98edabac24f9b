"""Transition graph of a ReLU-affine map: which cells the map sends into which (DESIGN §4).

Nodes are the cells of the region-adjacency graph inside a box B (:mod:`graph.regiongraph`).
For cells s, t let

    P_st = {x in cl R_s ∩ B : f_s(x) in cl R_t ∩ B}         (f_s(x) = J_s x + c_s)

and let m_st be the optimum of the Chebyshev-type LP

    max m  s.t.  sig^s_k (C_k x + d_k) >= m ||C_k||,   lo + m <= x <= hi - m,
                 sig^t_k (C_k f_s(x) + d_k) >= m ||C_k||,   lo + m <= f_s(x) <= hi - m,   m <= 1

(margins on x's constraints in x-space and on the image's constraints in image space).

* m_st > 0 iff the open set {x in R_s ∩ int B : f_s(x) in R_t ∩ int B} is non-empty: f_s(R_s)
  meets R_t with non-empty interior when J_s is invertible, and when J_s is singular the
  *preimage* set has non-empty interior in R_s (the image itself has empty interior in R^n,
  so "interior of the image" would be the wrong criterion). Such edges have ``open=True``.
* m_st >= 0 iff P_st is non-empty: f_s(cl R_s ∩ B) touches cl R_t ∩ B.

**Criterion used for the edge s -> t: P_st is non-empty** (the float margin m_st is >= -tol,
or, with ``certify=True``, there is no exact Farkas certificate of P_st = ∅). This is the
closure criterion, a superset of the open one, and it is what makes the graph orbit search
complete: a periodic orbit z_1, ..., z_k in B with itinerary (s_1, ..., s_k) has
z_j in cl R_{s_j} and z_{j+1} = f_{s_j}(z_j) in cl R_{s_{j+1}}, so z_j is in P_{s_j s_{j+1}}
and the itinerary is a closed walk -- also when an orbit point lies exactly on a region
boundary or on the box boundary, where every open margin is 0 (with open edges only, the
boundary fixed point 0 of z -> -z - relu(z), whose two cells swap, would be lost). Every
point of B lies in the closure of some cell meeting the open box, so every orbit in B has
such an itinerary over the graph's nodes.

Candidate targets: for each source s the targets T_s = {t : P_st != ∅} are connected in the
region-adjacency graph (the cells whose closures meet the convex set f_s(cl R_s ∩ B) ∩ B are
connected through facets), so they are found by a walk from known targets, with one LP per
neighbour tested (batched). Known targets come from mapping sample points of every cell
forward (vectorised hit-and-run rays from each cell's interior point; only images with a
clear float margin count), and, for a source with none, from the float pattern of one LP
point's image. All 2^L or all N^2 pairs are never tested. Two filters spare most LPs of
the walk: (i) *sides*: when the image polytope Q_s (vertices by qhull in a box, or vertices
and extreme rays of the unbounded cell) lies strictly on one side of H_k, no cell across H_k
is a target; (ii) *dual supports*: a rejected pair's LP dual y (y >= 0, y^T A = 0,
y^T b < 0) involves the image rows of a few hyperplanes only, and rejects every target that
agrees with the rejected one on them (weak duality).

Float decisions and ``certify``: by default a pair is rejected when its float margin is
below -tol or a filter excludes it (the same standard as the exhaustive mode's cell
enumeration). With ``certify=True`` the float filters are off and every rejection (of a
pair, of a source whose image misses the box, and of the region walk's cells) carries an
exact Farkas / Motzkin certificate over Q, so the edge set is a proven superset of the
closure criterion: the graph orbit search's completeness then rests on no float decision.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> tg = transition_graph(load_model(example_path("bistable")), box=(-4, 4))
>>> [tg.graph.has_edge(s, s) for s in ("10", "01", "11")]   # attractors' and saddle's cells
[True, True, True]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import networkx as nx
import numpy as np

from symbolic.rationals import fraction_of, rows_of, vector_of
from symbolic.regions import array_to_bits, bits_to_array, locate

from .regiongraph import (
    DEFAULT_TOL, HULL_MAX_DIM, Box, RegionGraph, _normalised, as_box, cell_constraints, exact_cell_rows, margin_lps,
    motzkin_empty, region_graph,
)

__all__ = ["TransitionGraph", "EdgeWitness", "transition_graph", "pair_lps", "exact_transition_rows"]

_PAIR_BATCH = 20_000


@dataclass(frozen=True)
class EdgeWitness:
    """An exact point x with f(x) = image, x in cl R_s, image in cl R_t (both in the box);
    ``strict``: x in R_s and image in R_t (open cells, open box)."""

    x: tuple
    image: tuple
    strict: bool


@dataclass
class TransitionGraph:
    """Result of :func:`transition_graph`.

    ``graph``: networkx DiGraph on the cells (node attributes as in the region graph); edge
    attributes ``margin`` (float LP or sample margin m_st), ``open`` (m_st > tol: the open
    criterion holds), ``x`` (the float point that realised the margin), ``found`` ('sample'
    or 'lp'). ``status``: 'complete' (all cells in the box and all their transitions) or
    'incomplete' (the region walk was stopped by its budget). ``message`` names the box.
    """

    graph: nx.DiGraph
    regions: RegionGraph
    box: Box | None
    status: str
    message: str
    stats: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)
    _witnesses: dict = field(default_factory=dict, repr=False)

    def edge_witness(self, s: str, t: str) -> EdgeWitness | None:
        """An exact witness of the edge s -> t, or None if none could be confirmed.

        The stored float point is an exact binary rational; it is checked exactly (strictly
        inside for open edges). Otherwise the LP is re-solved for this pair and its optimum
        is polished onto its active constraints exactly (closure witnesses of edges of
        margin 0).
        """
        key = (s, t)
        if key in self._witnesses:
            return self._witnesses[key]
        data = self.graph.edges[s, t]
        out = _check_witness(self.model, self.box, s, t, data["x"])
        if out is None or (data["open"] and not out.strict):
            res = pair_lps(self.model, self.box, [s], [t])
            x = res.x[0]
            better = _check_witness(self.model, self.box, s, t, x)
            if better is None:
                better = _polish(self.model, self.box, s, t, x)
            if better is not None and (out is None or better.strict):
                out = better
        self._witnesses[key] = out
        return out


# ----------------------------------------------------------------------------- LPs

def _pieces(model, bits: np.ndarray):
    return model.affine_pieces_float(bits)


def pair_lps(model, box: Box | None, sources, targets, pieces=None):
    """Batched margin LPs m_st (module docstring) for the pairs (sources[i], targets[i]).

    sources / targets: bit strings, or bool arrays (P, L). Returns a MarginLP whose rows are
    the x-constraints of s followed by the image constraints of t.
    """
    L = model.L
    S = sources if isinstance(sources, np.ndarray) else bits_to_array(list(sources), L)
    T = targets if isinstance(targets, np.ndarray) else bits_to_array(list(targets), L)
    Gs, hs = cell_constraints(model, S, box)
    Gt, ht = cell_constraints(model, T, box)
    J, c = pieces if pieces is not None else _pieces(model, S)
    GJ = Gt @ J
    hh = ht - np.einsum("prk,pk->pr", Gt, c)
    return margin_lps(np.concatenate([Gs, GJ], axis=1), np.concatenate([hs, hh], axis=1))


def exact_transition_rows(model, s: str, t: str | None, box: Box | None):
    """Exact rows (G, h): x in R_s ∩ int B and f_s(x) in R_t ∩ int B iff G x < h.

    t = None: only the image's box rows (f_s(x) in int B)."""
    Gs, hs = exact_cell_rows(model, s, box)
    Gt, ht = exact_cell_rows(model, "", box) if t is None else exact_cell_rows(model, t, box)
    J, c = model.affine_piece(s)
    Jq = rows_of(J)
    cq = list(vector_of(c))
    n = model.n
    G, h = list(Gs), list(hs)
    for row, rhs in zip(Gt, ht):
        G.append(tuple(sum(row[i] * Jq[i][j] for i in range(n)) for j in range(n)))
        h.append(rhs - sum(row[i] * cq[i] for i in range(n)))
    return G, h


# ----------------------------------------------------------------------------- exact witnesses

def _check_witness(model, box, s, t, x) -> EdgeWitness | None:
    if x is None or not np.all(np.isfinite(x)):
        return None
    q = tuple(Fraction(float(v)) for v in x)
    return _check_exact(model, box, s, t, q)


def _check_exact(model, box, s, t, q) -> EdgeWitness | None:
    img = model.f_exact(q)
    l1, l2 = locate(model, q), locate(model, img)
    if not (l1.matches(s) and l2.matches(t)):
        return None
    if box is not None and not (box.contains(q) and box.contains(img)):
        return None
    strict = l1.strict and l2.strict and (box is None or (box.contains(q, True) and box.contains(img, True)))
    return EdgeWitness(q, img, strict)


def _polish(model, box, s, t, x) -> EdgeWitness | None:
    """Exact closure witness: solve the LP point's active constraints over Q near x."""
    import flint

    from symbolic.linalg import solve_affine

    G, h = exact_transition_rows(model, s, t, box)
    Gf = np.array([[float(v) for v in row] for row in G]).reshape(len(G), model.n)
    hf = np.array([float(v) for v in h])
    slack = hf - Gf @ x
    scale = 1e-7 * (1.0 + np.abs(hf).max(initial=0.0) + np.abs(x).max(initial=0.0))
    act = [i for i in range(len(G)) if abs(slack[i]) <= scale * max(1.0, np.linalg.norm(Gf[i]))]
    if not act:
        return None
    n = model.n
    M = flint.fmpq_mat(len(act), n, [flint.fmpq(G[i][j].numerator, G[i][j].denominator) for i in act for j in range(n)])
    b = flint.fmpq_mat(len(act), 1, [flint.fmpq(h[i].numerator, h[i].denominator) for i in act])
    sol = solve_affine(M, b)
    if sol.point is None:
        return None
    z = [fraction_of(v) for v in sol.point.entries()]
    if sol.basis:  # move within the solution set towards the float point
        Bm = np.array([[float(fraction_of(v[i, 0])) for v in sol.basis] for i in range(n)]).reshape(n, len(sol.basis))
        alpha = np.linalg.lstsq(Bm, x - np.array([float(v) for v in z]), rcond=None)[0]
        for v, a in zip(sol.basis, alpha):
            a = Fraction(float(a))
            z = [zi + a * fraction_of(v[i, 0]) for i, zi in enumerate(z)]
    return _check_exact(model, box, s, t, tuple(z))


# ----------------------------------------------------------------------------- sampling

def _sample_in_cells(G, h, P, m, rng, cap):
    """m points per cell on random rays from the interior points P (N, n): hit-and-run."""
    N, R, n = G.shape
    D = rng.standard_normal((N, m, n))
    D /= np.linalg.norm(D, axis=2, keepdims=True)
    slack = h - np.einsum("nrk,nk->nr", G, P)  # > 0
    rate = np.einsum("nrk,nmk->nmr", G, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.where(rate > 0, slack[:, None, :] / rate, np.inf)
    tmax = np.minimum(steps.min(axis=2, initial=np.inf), cap[:, None])
    u = rng.uniform(0.05, 0.95, size=(N, m))
    return P[:, None, :] + (u * tmax)[..., None] * D


def _clipped_vertices(model, box, bits_row, J, c, x0):
    """Vertices of K = {x in cl R_s ∩ B : J x + c in B} (qhull), x0 strictly inside; or None."""
    from scipy.spatial import HalfspaceIntersection, QhullError

    G, h = cell_constraints(model, bits_row[None], box)
    n = model.n
    eye = np.eye(n)
    Gb = np.concatenate([-eye, eye]) @ J
    hb = np.concatenate([c - box.lof, box.hif - c])
    A = np.concatenate([G[0], Gb])
    b = np.concatenate([h[0], hb])
    keep = np.linalg.norm(A, axis=1) > 0
    if np.any(b[~keep] < 0):
        return None
    A, b = A[keep], b[keep]
    if not np.all(A @ x0 < b):
        return None
    if n == 1:
        a = A[:, 0]
        hi = np.min(b[a > 0] / a[a > 0]) if np.any(a > 0) else None
        lo = np.max(b[a < 0] / a[a < 0]) if np.any(a < 0) else None
        return None if hi is None or lo is None else np.array([[lo], [hi]])
    try:
        hs = HalfspaceIntersection(np.hstack([A, -b[:, None]]), x0)
    except (QhullError, ValueError):
        return None
    V = hs.intersections
    return V if np.all(np.isfinite(V)) else None


def _sides(model, norms, W, rays=None):
    """side_k = +1 (-1) when conv(W) + cone(rays) lies strictly above (below) H_k, else 0.

    Float decision with a margin; a ray counts only if it moves strictly away from H_k
    (a ray parallel to H_k within the float error makes side_k = 0: conservative).
    """
    pre = model.preact(W) / norms
    eps = 1e-9 * (1.0 + np.abs(W).max())
    up, down = pre.min(axis=0) > eps, pre.max(axis=0) < -eps
    if rays is not None and len(rays):
        g = (rays @ model.Cf.T) / norms
        up &= g.min(axis=0) > 1e-9
        down &= g.max(axis=0) < -1e-9
    return np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)


def _unbounded_sides(model, bits, J, c, norms, max_candidates: int = 20_000):
    """Sides of the images f_s(cl R_s) of unbounded cells, from vertices and extreme rays.

    With rank C = n every closed cell is a pointed polyhedron conv(V_s) + cone(R_s): its
    vertices are points where n independent hyperplanes meet, its extreme rays are the lines
    where n - 1 independent central hyperplanes meet (both lists are computed once for the
    arrangement and assigned to the cells whose closure holds them, with a float margin that
    only ever adds points: conservative). The image is conv(J V_s + c) + cone(J R_s); rays in
    the kernel of J_s add nothing. Returns None (no filter) for rank-deficient,
    ill-conditioned or too large arrangements.
    """
    import itertools
    import math

    n, L = model.n, model.L
    if L == 0 or np.linalg.matrix_rank(model.Cf) < n or math.comb(L, n) + 2 * math.comb(L, n - 1) > max_candidates:
        return None
    Cf, df = model.Cf, model.df

    def good_subsets(k):
        if k == 0:
            return np.zeros((1, 0), dtype=int), np.ones(1, dtype=bool)
        subs = np.array(list(itertools.combinations(range(L), k)), dtype=int).reshape(-1, k)
        sv = np.linalg.svd(Cf[subs], compute_uv=False)
        ratio = sv[:, -1] / sv[:, 0]
        if np.any((ratio < 1e-8) & (ratio > 1e-13)):
            return None, None  # nearly dependent hyperplanes: vertices/rays too inaccurate
        return subs, ratio >= 1e-8

    subs, ok = good_subsets(n)
    if subs is None:
        return None
    V = np.linalg.solve(Cf[subs[ok]], -df[subs[ok]][..., None])[..., 0] if ok.any() else np.zeros((0, n))
    rsubs, rok = good_subsets(n - 1)
    if rsubs is None:
        return None
    if n == 1:
        R = np.array([[1.0], [-1.0]])
    else:
        _, _, vt = np.linalg.svd(Cf[rsubs[rok]])
        R = vt[:, -1, :]
        R = np.concatenate([R, -R])

    def signs(P, central):
        pre = (P @ Cf.T + (0.0 if central else df)) / norms
        eps = 1e-9 * (1.0 + np.abs(P).max(axis=1, keepdims=True))
        return np.where(pre > eps, 1, np.where(pre < -eps, -1, 0)).astype(np.int8)

    SV, SR = signs(V, False), signs(R, True)
    sig = np.where(bits, 1, -1).astype(np.int8)
    out = []
    for i in range(len(bits)):
        vin = np.all((SV == 0) | (SV == sig[i]), axis=1)
        rin = np.all((SR == 0) | (SR == sig[i]), axis=1)
        if not vin.any():
            out.append(None)
            continue
        JR = R[rin] @ J[i].T
        nr = np.linalg.norm(JR, axis=1)
        JR = JR[nr > 1e-12 * (1.0 + np.linalg.norm(J[i]))]
        JR = JR / np.linalg.norm(JR, axis=1, keepdims=True) if len(JR) else JR
        out.append(_sides(model, norms, V[vin] @ J[i].T + c[i], JR))
    return out


def _random_in_hull(V, m, rng):
    """m random points of conv(V): random convex combinations of n + 1 vertices each."""
    k, n = V.shape
    r = min(k, n + 1)
    pick = np.argsort(rng.random((m, k)), axis=1)[:, :r]
    w = rng.dirichlet(np.ones(r), size=m)
    return np.einsum("mr,mrn->mn", w, V[pick])


# ----------------------------------------------------------------------------- the graph

def transition_graph(model, box=None, regions: RegionGraph | None = None, samples_per_cell: int = 24,
                     tol: float = DEFAULT_TOL, certify: bool = False, seed: int = 0, max_nodes: int = 200_000,
                     progress: Callable[[str], None] | None = None) -> TransitionGraph:
    """The transition graph of *model* in *box* (``(lo, hi)``; None: all of R^n).

    regions: a complete :class:`RegionGraph` for the same box (built when None);
    samples_per_cell: forward-mapped sample points per cell used to find targets without
    LPs; certify: an edge is dropped only with an exact Farkas certificate that P_st is
    empty (else a float margin below -tol drops it).
    """
    t0 = time.perf_counter()
    n, L = model.n, model.L
    box = as_box(box, n)
    if regions is None:
        regions = region_graph(model, box, max_nodes=max_nodes, seed=seed, certify=certify, progress=progress)
    elif regions.box != box:
        raise ValueError("the region graph was built for another box")
    rng = np.random.default_rng(seed)
    nodes = sorted(regions.graph.nodes)
    N = len(nodes)
    idx = {s: i for i, s in enumerate(nodes)}
    bits = bits_to_array(nodes, L)
    J, c = _pieces(model, bits)
    nbrs = [np.array([idx[u] for u in regions.graph.neighbors(s)], dtype=int) for s in nodes]
    stats = {"cells": N, "sample_edges": 0, "lp_pairs": 0, "certificates": 0, "undecided": 0, "fallback_sources": 0,
             "side_skips": 0, "dual_skips": 0}
    _, _, norms = _normalised(model)

    edges: dict = {}  # (i, j) -> [margin, x, found]

    def record(i, j, margin, x, found):
        old = edges.get((i, j))
        if old is None or margin > old[0]:
            edges[(i, j)] = [float(margin), np.array(x, dtype=float), found]

    # 1. the clipped source polytopes K_s = {x in cl R_s ∩ B : f_s(x) in B} (with a box): one
    #    LP each for an interior point; if K_s is empty (margin < -tol) s has no target at all
    pts = [regions.graph.nodes[s]["point"] if not regions.graph.nodes[s]["thin"] else None for s in nodes]
    kmargin = np.ones(N)
    if box is not None and N:
        res = _image_box_lp(model, box, nodes)
        kmargin = res.t
        for i in range(N):
            if np.isfinite(res.t[i]) and res.t[i] > tol:
                pts[i] = res.x[i]
            elif np.isfinite(res.t[i]) and res.t[i] < -tol:
                if not certify or motzkin_empty(*exact_transition_rows(model, nodes[i], None, box), res.y[i], strict=False):
                    stats["certificates"] += bool(certify)
                    kmargin[i] = -np.inf  # no targets
                pts[i] = None
            else:
                pts[i] = None  # thin: no interior point, LPs only
    # 2. vertices of K_s and sides of its image Q_s = f_s(K_s) = conv(J_s V + c_s): side_k = +-1
    #    when Q_s lies strictly on one side of H_k (then no cell across H_k is a target)
    sides: list = [None] * N
    samples: list = [None] * N
    if box is not None and n <= HULL_MAX_DIM:
        for i in range(N):
            if pts[i] is None:
                continue
            V = _clipped_vertices(model, box, bits[i], J[i], c[i], pts[i])
            if V is None:
                continue
            if not certify:  # float exclusions are not used when every rejection must be proven
                sides[i] = _sides(model, norms, V @ J[i].T + c[i])
            if samples_per_cell:
                samples[i] = _random_in_hull(V, samples_per_cell, rng)
    elif box is None and not certify and N:
        sides = _unbounded_sides(model, bits, J, c, norms) or [None] * N
    # 3. targets of forward-mapped samples (clear float margins only)
    if samples_per_cell and N:
        need = [i for i in range(N) if samples[i] is None and pts[i] is not None]
        if need:
            G, h = cell_constraints(model, bits[need], box)
            P = np.array([pts[i] for i in need], dtype=float)
            cap = 4.0 * (1.0 + np.abs(P).max(axis=1)) if box is None else np.full(len(need), np.inf)
            half = max(1, samples_per_cell // 2)
            X1 = _sample_in_cells(G, h, P, half, rng, cap)
            X2 = _sample_in_cells(G, h, X1[:, -1, :], samples_per_cell - half, rng, cap)
            X = np.concatenate([P[:, None, :], X1, X2], axis=1)
            for k, i in enumerate(need):
                samples[i] = X[k]
        have = [i for i in range(N) if samples[i] is not None]
        if have:
            X = np.concatenate([samples[i] for i in have])
            srcs = np.concatenate([np.full(len(samples[i]), i) for i in have])
            Y = np.einsum("pij,pj->pi", J[srcs], X) + c[srcs]
            mx = _clear_margin(model, box, X)
            my = _clear_margin(model, box, Y)
            ok = (mx > 0) & (my > 0) & np.all((model.preact(X) > 0) == bits[srcs], axis=1) & np.all(np.isfinite(Y), axis=1)
            if ok.any():
                pats = array_to_bits(model.preact(Y[ok]) > 0)
                for i, pat, mm, x in zip(srcs[ok], pats, np.minimum(mx, my)[ok], X[ok]):
                    j = idx.get(pat)
                    if j is not None:
                        record(int(i), j, mm, x, "sample")
        stats["sample_edges"] = len(edges)

    members = [set() for _ in range(N)]
    for (i, j) in edges:
        members[i].add(j)
    tested = [set(mb) for mb in members]
    frontier = [list(mb) for mb in members]

    # A rejected pair's dual y (y >= 0, y^T A = 0, y^T b < 0 on the LP's rows) uses the image
    # rows of only a few hyperplanes; every target u' with the same bits there has the same
    # rows, so the same y rejects it (weak duality): a "forbidden partial pattern" of s.
    R1 = L + (2 * n if box is not None else 0)
    forbidden: list = [[] for _ in range(N)]

    def forbid(i, j, y):
        if not np.all(np.isfinite(y)) or y.max(initial=0.0) <= 0:
            return
        supp = np.nonzero(y > 1e-9 * y.max())[0]
        hyp = supp[(supp >= R1) & (supp < R1 + L)] - R1
        mask = np.zeros(L, dtype=bool)
        mask[hyp] = True
        forbidden[i].append((mask, bits[j] & mask))

    def excluded(i, cand):
        if not forbidden[i]:
            return np.zeros(len(cand), dtype=bool)
        Fm = np.array([f[0] for f in forbidden[i]])
        Fv = np.array([f[1] for f in forbidden[i]])
        B = bits[cand]
        return np.any(np.all(~Fm[None] | (B[:, None, :] == Fv[None]), axis=2), axis=1)

    def run_pairs(pairs):
        """LP the pairs; returns those that are edges (recorded)."""
        got = []
        for a in range(0, len(pairs), _PAIR_BATCH):
            part = pairs[a:a + _PAIR_BATCH]
            I = np.array([p[0] for p in part])
            Jt = np.array([p[1] for p in part])
            res = pair_lps(model, box, bits[I], bits[Jt], pieces=(J[I], c[I]))
            stats["lp_pairs"] += len(part)
            for k, (i, j) in enumerate(part):
                mval = res.t[k]
                if np.isfinite(mval) and mval >= -tol:
                    if mval < 0 and certify and _farkas(model, box, nodes[i], nodes[j], res.y[k]):
                        stats["certificates"] += 1
                        forbid(i, j, res.y[k])
                        continue
                    record(i, j, mval, res.x[k], "lp")
                    got.append((i, j))
                    continue
                if np.isfinite(mval) and not certify:
                    forbid(i, j, res.y[k])
                    continue
                if np.isfinite(mval) and mval < 1 and _farkas(model, box, nodes[i], nodes[j], res.y[k]):
                    stats["certificates"] += 1
                    forbid(i, j, res.y[k])
                    continue
                stats["undecided"] += 1  # kept: errs on the side of more edges
                record(i, j, mval if np.isfinite(mval) else 0.0, res.x[k], "lp")
                got.append((i, j))
        return got

    # 4. seeds for sources without any sampled target
    seedless = [i for i in range(N) if not members[i] and kmargin[i] != -np.inf]
    if seedless:
        pairs = []
        for i, cand in zip(seedless, _seed_candidates(model, box, nodes, bits, J, c, seedless, tol, certify)):
            if cand is None:  # fall back to every cell
                stats["fallback_sources"] += 1
                cand = range(N)
            for j in cand:
                tested[i].add(j)
                pairs.append((i, j))
        for i, j in run_pairs(pairs):
            members[i].add(j)
            frontier[i].append(j)
        still = [i for i in seedless if not members[i] and len(tested[i]) < N and _image_meets_box(model, box, nodes[i], tol)]
        if still:  # the float pattern missed: test every cell for these sources
            stats["fallback_sources"] += len(still)
            pairs = [(i, j) for i in still for j in range(N) if j not in tested[i]]
            for i, j in pairs:
                tested[i].add(j)
            for i, j in run_pairs(pairs):
                members[i].add(j)
                frontier[i].append(j)

    # 5. walk: neighbours of known targets, minus those the sides exclude
    rounds = 0
    while True:
        pairs = []
        for i in range(N):
            if not frontier[i]:
                continue
            cand = {int(u) for j in frontier[i] for u in nbrs[j]} - tested[i]
            frontier[i] = []
            if not cand:
                continue
            tested[i].update(cand)
            cand = np.fromiter(cand, dtype=int)
            if sides[i] is not None:
                sd = sides[i]
                bad = np.any((sd != 0) & (bits[cand] != (sd > 0)), axis=1)
                stats["side_skips"] += int(bad.sum())
                cand = cand[~bad]
            if len(cand) and forbidden[i]:
                bad = excluded(i, cand)
                stats["dual_skips"] += int(bad.sum())
                cand = cand[~bad]
            pairs.extend((i, int(u)) for u in cand)
        if not pairs:
            break
        rounds += 1
        for i, j in run_pairs(pairs):
            members[i].add(j)
            frontier[i].append(j)
        if progress:
            progress(f"transition walk round {rounds}: {len(edges)} edges, {stats['lp_pairs']} pair LPs")

    D = nx.DiGraph()
    for s in nodes:
        D.add_node(s, **regions.graph.nodes[s])
    n_open = 0
    for (i, j), (mval, x, found) in sorted(edges.items()):
        is_open = bool(mval > tol)
        n_open += is_open
        D.add_edge(nodes[i], nodes[j], margin=mval, open=is_open, x=x, found=found)
    status = "complete" if regions.status in ("complete", "exhaustive") else "incomplete"
    where = "in the box " + box.describe() if box is not None else f"in R^{n}"
    msg = (f"{D.number_of_edges()} transitions between {N} cells {where} ({n_open} open, "
           f"{D.number_of_edges() - n_open} only through region or box boundaries; "
           f"{stats['sample_edges']} found by samples, {stats['lp_pairs']} pair LPs)")
    if status != "complete":
        msg += "; INCOMPLETE: " + regions.message
    if stats["undecided"]:
        msg += f"; {stats['undecided']} edges kept without an exact emptiness proof"
    stats.update(edges=D.number_of_edges(), open_edges=n_open, seconds=time.perf_counter() - t0, rounds=rounds)
    return TransitionGraph(D, regions, box, status, msg, stats, model)


def _clear_margin(model, box, Z):
    """Float distance of points to every hyperplane and box face, 0 where not clearly positive."""
    _, _, norms = _normalised(model)
    with np.errstate(invalid="ignore"):
        dist = np.abs(model.preact(Z)) / norms if model.L else np.full((len(Z), 0), np.inf)
        m = dist.min(axis=1, initial=np.inf)
        if box is not None:
            m = np.minimum(m, np.minimum(Z - box.lof, box.hif - Z).min(axis=1))
    scale = 1e-9 * (1.0 + np.abs(Z).max(axis=1))
    return np.where(np.isfinite(m) & (m > scale), m, 0.0)


def _farkas(model, box, s, t, y) -> bool:
    G, h = exact_transition_rows(model, s, t, box)
    return motzkin_empty(G, h, y, strict=False)


def _image_meets_box(model, box, s, tol) -> bool:
    if box is None:
        return True
    res = _image_box_lp(model, box, [s])
    return bool(np.isfinite(res.t[0]) and res.t[0] >= -tol) or not np.isfinite(res.t[0])


def _image_box_lp(model, box, sources):
    """max m: x in cell s (and box), f_s(x) in the box, margins m (one LP per source)."""
    S = bits_to_array(list(sources), model.L)
    Gs, hs = cell_constraints(model, S, box)
    J, c = _pieces(model, S)
    eye = np.eye(model.n)
    Gb = np.concatenate([-eye, eye])[None]
    hb = np.concatenate([-box.lof, box.hif])[None]
    GJ = Gb @ J
    hh = hb - np.einsum("rk,pk->pr", Gb[0], c)
    return margin_lps(np.concatenate([Gs, GJ], axis=1), np.concatenate([hs, hh], axis=1))


def _seed_candidates(model, box, nodes, bits, J, c, sources, tol, certify):
    """For each source: candidate targets from the float pattern of one point's image.

    Returns a list (per source) of node indices, [] when the image provably (float margin)
    misses the box, or None when no candidate could be derived (the caller tests all cells).
    """
    n = model.n
    out = []
    if box is not None:
        res = _image_box_lp(model, box, [nodes[i] for i in sources])
        X, T = res.x, res.t
    else:
        G, h = cell_constraints(model, bits[sources], None)
        res = margin_lps(G, h)
        X, T = res.x, np.ones(len(sources))
    _, _, norms = _normalised(model)
    for k, i in enumerate(sources):
        if not np.isfinite(T[k]):
            out.append(None)
            continue
        if T[k] < -tol:
            if certify:  # the image misses the box: prove it exactly, else test every cell
                G, h = exact_transition_rows(model, nodes[i], None, box)
                out.append([] if motzkin_empty(G, h, res.y[k], strict=False) else None)
            else:
                out.append([])
            continue
        w = J[i] @ X[k] + c[i]
        pre = model.preact(w)
        clear = np.abs(pre) / norms > 1e-7 * (1.0 + np.abs(w).max())
        match = np.all((bits == (pre > 0)) | ~clear, axis=1)
        cand = list(np.nonzero(match)[0])
        out.append(cand if cand else None)
    return out
