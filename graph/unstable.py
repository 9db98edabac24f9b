"""Global unstable manifolds as images of the local piece, split along the regions (DESIGN §6).

With L the proven local piece at p_0 of a k-cycle (F = f^k), ``F^{-1}(L) ⊂ L`` and the
fundamental domain ``D = L \\ F^{-1}(L)``,

    W^u(orbit) = ∪_{j<k} f^j(L)  ∪  ∪_{m ≥ k} f^m(D)

(f^k(L) = F(L) = L ∪ F(D), by induction). So the local piece and its first k−1 images are
reported once (depth 0 … k−1; they lie in the cycle's regions by the proof in
:mod:`graph.local`), and only D is pushed on: at every step each piece is mapped by the
affine branch of its region, clipped to the box and split along the arrangement into the
cells it enters (:func:`symbolic.pieces.split`). Images are exact over Q when the local
piece is.

Stopping: ``'box'`` (every branch left the box or became thinner than ``tol``; pieces are
clipped to the box, so parts that leave and re-enter later are not followed), ``'depth'``
(``max_depth`` steps), ``'budget'`` (``budget`` pieces reported), ``'complete'`` (nothing
left, no piece ever touched the box boundary).
"""
from __future__ import annotations

from symbolic.pieces import clip_to_box, image, split

__all__ = ["trace_unstable"]


def trace_unstable(model, orbit, local, box, max_depth: int = 30, budget: int = 2000,
                   tol: float = 1e-10, progress=None):
    """Pieces of W^u of ``orbit`` inside ``box``. Returns (pieces, stopped_by, stats)."""
    k = len(orbit.regions)
    L = local.piece
    out = []
    stats = {"clipped": 0, "left_box": 0, "split_calls": 0, "max_depth": 0}

    def emit(P):
        Q = clip_to_box(P, box)
        if Q is None:
            stats["left_box"] += 1
            return None
        if Q is not P:
            stats["clipped"] += 1
        out.append(Q)
        return Q

    emit(L)
    cur = L
    for j in range(1, k):
        cur = image(cur, model, region=orbit.regions[j - 1]).with_(region=orbit.regions[j])
        emit(cur)
    frontier = list(local.fundamental)
    depth = 0
    stopped = None
    while frontier:
        if depth >= max_depth:
            stopped = "depth"
            break
        nxt = []
        for P in frontier:
            Q = image(P, model)
            if Q.depth < k:                   # still inside f^j(L), already reported
                nxt.append(Q.with_(region=orbit.regions[Q.depth]))
                continue
            Qb = clip_to_box(Q, box)
            if Qb is None:
                stats["left_box"] += 1
                continue
            if Qb is not Q:
                stats["clipped"] += 1
            stats["split_calls"] += 1
            for S in split(Qb, model, tol):
                out.append(S)
                nxt.append(S)
            if len(out) >= budget:
                stopped = "budget"
                break
        depth += 1
        stats["max_depth"] = depth
        if progress is not None:
            progress(f"unstable: depth {depth}, {len(out)} pieces, frontier {len(nxt)}")
        if stopped:
            break
        frontier = nxt
    if stopped is None:
        stopped = "box" if stats["clipped"] or stats["left_box"] else "complete"
    return out, stopped, stats
