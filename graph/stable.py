"""Global stable manifolds as preimages, every branch in every region (DESIGN §6).

With L the proven local piece at p_0 (``F(L) ⊂ L``), every point x of W^s(orbit) has a
first time m >= 0 with f^m(x) ∈ L (near the cycle the orbit is governed by the affine
branches, where the only bounded orbits lie on p_0 + E^s). Writing
``E = f^{-1}(L) \\ L``,

    W^s(orbit) = L ∪ ∪_{m ≥ 0} f^{-m}(E),

and the sets f^{-m}(E) (first entry at time m + 1) are disjoint up to boundaries, so the
tree of preimages never re-traces anything. ``f^{-1}(P) = ∪_t {x ∈ closure(R_t) : f_t(x) ∈ P}``
is taken over *every* region t whose image meets P — several branches for non-invertible
maps — and with singular J_t the preimage gains the kernel directions (a piece of higher
dimension), see :func:`symbolic.pieces.preimage`. A preimage that shares L's affine hull
(the fixed point's own region) is cut to R \\ L (:func:`symbolic.pieces.difference_same_hull`).

Candidate regions come from the arrangement's cells meeting the box (the region-adjacency
walk of :func:`graph.regiongraph.region_graph`), filtered by the bounding box of each cell's
image; everything is clipped to the box. Stopping as in :mod:`graph.unstable`.
"""
from __future__ import annotations

import numpy as np

from symbolic.pieces import (
    _linear_range, _param_vertices, clip_to_box, difference_same_hull, preimage, same_hull,
)
from scipy.optimize import linprog

from symbolic.regions import bits_to_array

__all__ = ["CellIndex", "trace_stable", "piece_bbox"]


def piece_bbox(P):
    """Float bounding box (lo, hi) of a piece (vertices for k <= 3, else LPs)."""
    V = _param_vertices(P) if 0 < P.k <= 3 else None
    if P.k == 0:
        return P.of.copy(), P.of.copy()
    if V is not None:
        X = P.of + V @ P.Uf.T
        return X.min(axis=0), X.max(axis=0)
    lo, hi = np.empty(P.n), np.empty(P.n)
    for i in range(P.n):
        lo[i], hi[i] = _linear_range(P, P.Uf[i], P.of[i])
    return lo, hi


class CellIndex:
    """The arrangement's cells meeting a box, with the bounding boxes of their images.

    ``cells``: bit strings (found by the region-adjacency walk of
    :func:`graph.regiongraph.region_graph`); ``image_lo/hi``: (T, n) float bounds of
    f_t(R_t ∩ box) (enlarged slightly), from the cell's vertices (qhull, n <= 4) or 2n LPs;
    used to pick the regions whose image can meet a piece. ``complete``: the walk reached
    every cell meeting the box.
    """

    def __init__(self, model, box, max_cells: int = 20000):
        from graph.regiongraph import region_graph

        self.model = model
        lo, hi = (np.asarray([float(v) for v in b]) for b in box)
        rg = region_graph(model, box=box, max_nodes=max_cells)
        if rg.status == "budget":
            raise ValueError(f"more than {max_cells} cells meet the box")
        self.cells = list(rg.cells)
        self.complete = rg.status in ("complete", "exhaustive")
        n = model.n
        T = len(self.cells)
        self.image_lo = np.full((T, n), -np.inf)
        self.image_hi = np.full((T, n), np.inf)
        self.image_vertices: list = [None] * T      # vertices of f_t(R_t ∩ box) when known
        if T == 0:
            return
        Js, cs = model.affine_pieces_float(bits_to_array(self.cells, model.L))
        pad = 1e-9 * max(1.0, float(np.abs(np.concatenate([lo, hi])).max()))
        for t, bits in enumerate(self.cells):
            sig = np.where(bits_to_array([bits], model.L)[0], 1.0, -1.0)
            A = np.vstack([-sig[:, None] * model.Cf, np.eye(n), -np.eye(n)]) if model.L else np.vstack([np.eye(n), -np.eye(n)])
            b = np.concatenate([sig * model.df, hi, -lo]) if model.L else np.concatenate([hi, -lo])
            V = None
            node = rg.graph.nodes[bits]
            if n <= 4 and node.get("point") is not None and not node.get("thin", False):
                V = _cell_vertices(A, b, np.asarray(node["point"], float))
            if V is not None:
                img = V @ Js[t].T + cs[t]
                self.image_lo[t], self.image_hi[t] = img.min(axis=0) - pad, img.max(axis=0) + pad
                self.image_vertices[t] = img
                continue
            for i in range(n):
                w = Js[t][i]
                vals = []
                for sgn in (1.0, -1.0):
                    r = linprog(sgn * w, A_ub=A, b_ub=b, bounds=[(None, None)] * n, method="highs")
                    vals.append(sgn * r.fun + cs[t][i] if r.status == 0 else np.nan)
                if np.isfinite(vals[0]):
                    self.image_lo[t, i] = vals[0] - pad
                if np.isfinite(vals[1]):
                    self.image_hi[t, i] = vals[1] + pad

    def candidates(self, lo, hi, piece=None) -> list[str]:
        """Cells whose image bounding box meets the box [lo, hi].

        With a ``piece`` of positive codimension, cells whose image polytope lies strictly on
        one side of the piece's affine hull (in some normal direction) are dropped too.
        """
        ok = np.all((self.image_lo <= hi[None, :]) & (self.image_hi >= lo[None, :]), axis=1)
        idx = np.nonzero(ok)[0]
        if piece is not None and 0 < piece.dim < self.model.n:
            U = piece.Uf
            Qf, _ = np.linalg.qr(np.hstack([U, np.eye(self.model.n)]))
            N = Qf[:, piece.dim:]                    # orthonormal complement of the hull
            if np.linalg.matrix_rank(U) == piece.dim:
                scale = 1e-9 * max(1.0, float(np.abs(piece.of).max()))
                keep = []
                for t in idx:
                    V = self.image_vertices[t]
                    if V is None:
                        keep.append(t)
                        continue
                    proj = (V - piece.of) @ N
                    if np.all(proj.min(axis=0) <= scale) and np.all(proj.max(axis=0) >= -scale):
                        keep.append(t)
                idx = keep
        return [self.cells[t] for t in idx]


def _cell_vertices(A, b, point):
    """Vertices of {z : A z <= b} from an interior point (qhull); None when that fails."""
    from scipy.spatial import HalfspaceIntersection, QhullError

    norms = np.linalg.norm(A, axis=1)
    keep = norms > 0
    A, b = A[keep] / norms[keep, None], b[keep] / norms[keep]
    if np.min(b - A @ point) <= 1e-12:
        return None
    try:
        V = HalfspaceIntersection(np.hstack([A, -b[:, None]]), point).intersections
    except (QhullError, ValueError):
        return None
    return V if np.all(np.isfinite(V)) else None


def trace_stable(model, orbit, local, box, max_depth: int = 30, budget: int = 2000,
                 tol: float = 1e-10, progress=None, cells: CellIndex | None = None):
    """Pieces of W^s of ``orbit`` inside ``box``. Returns (pieces, stopped_by, stats)."""
    cells = cells if cells is not None else CellIndex(model, box)
    L = local.piece
    out = [clip_to_box(L, box) or L]
    stats = {"preimage_calls": 0, "branches": 0, "higher_dim": 0, "max_depth": 0,
             "cells": len(cells.cells)}
    frontier = [L]
    depth = 0
    stopped = None
    while frontier:
        if depth >= max_depth:
            stopped = "depth"
            break
        nxt = []
        for P in frontier:
            lo, hi = piece_bbox(P)
            found = 0
            for t in cells.candidates(lo, hi, P):
                stats["preimage_calls"] += 1
                R = preimage(P, model, t, box=box, tol=tol)
                if R is None:
                    continue
                pieces = [R]
                if depth == 0 and same_hull(R, L):
                    pieces = difference_same_hull(R, L, tol)
                for Q in pieces:
                    if Q.dim > P.dim:
                        stats["higher_dim"] += 1
                    out.append(Q)
                    nxt.append(Q)
                    found += 1
            if found > 1:
                stats["branches"] += found - 1
            if len(out) >= budget:
                stopped = "budget"
                break
        depth += 1
        stats["max_depth"] = depth
        if progress is not None:
            progress(f"stable: depth {depth}, {len(out)} pieces, frontier {len(nxt)}")
        if stopped:
            break
        frontier = nxt
    if stopped is None:
        stopped = "box"
    return out, stopped, stats
