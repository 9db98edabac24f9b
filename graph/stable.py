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

Candidate regions come from the arrangement's cells meeting the box
(:func:`symbolic.regions.enumerate_regions`), filtered by the bounding box of each cell's
image; everything is clipped to the box. Stopping as in :mod:`graph.unstable`.
"""
from __future__ import annotations

import numpy as np

from symbolic.pieces import (
    _linear_range, _param_vertices, clip_to_box, difference_same_hull, preimage, same_hull,
)
from symbolic.regions import bits_to_array, enumerate_regions

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

    ``cells``: bit strings; ``image_lo/hi``: (T, n) float bounds of f_t(R_t ∩ box)
    (enlarged slightly); used to pick the regions whose image can meet a piece.
    """

    def __init__(self, model, box, max_cells: int = 20000):
        from scipy.optimize import linprog

        self.model = model
        lo, hi = (np.asarray(b, float) for b in box)
        res = enumerate_regions(model, box=(lo, hi), max_regions=max_cells)
        self.cells = list(res.regions)
        self.complete = res.complete
        n = model.n
        T = len(self.cells)
        self.image_lo = np.full((T, n), -np.inf)
        self.image_hi = np.full((T, n), np.inf)
        if T == 0:
            return
        Js, cs = model.affine_pieces_float(bits_to_array(self.cells, model.L))
        pad = 1e-9 * max(1.0, float(np.abs(np.concatenate([lo, hi])).max()))
        for t, bits in enumerate(self.cells):
            sig = np.where(bits_to_array([bits], model.L)[0], 1.0, -1.0)
            A = -sig[:, None] * model.Cf
            b = sig * model.df
            for i in range(n):
                w = Js[t][i]
                vals = []
                for sgn in (1.0, -1.0):
                    r = linprog(sgn * w, A_ub=A if model.L else None, b_ub=b if model.L else None,
                                bounds=list(zip(lo, hi)), method="highs")
                    vals.append(sgn * r.fun + cs[t][i] if r.status == 0 else np.nan)
                if np.isfinite(vals[0]):
                    self.image_lo[t, i] = vals[0] - pad
                if np.isfinite(vals[1]):
                    self.image_hi[t, i] = vals[1] + pad

    def candidates(self, lo, hi) -> list[str]:
        """Cells whose image bounding box meets the box [lo, hi]."""
        ok = np.all((self.image_lo <= hi[None, :]) & (self.image_hi >= lo[None, :]), axis=1)
        return [self.cells[t] for t in np.nonzero(ok)[0]]


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
            for t in cells.candidates(lo, hi):
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
