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

Jump (fixed points, W^u of dimension ≥ 2, ``jump=True``): while f^m(L) stays inside the fixed point's own region
and the box, f^m(L) is one convex piece (f is affine there), and
L ∪ f(D) ∪ ... ∪ f^M(D) = f^M(L). So the largest such M is found by iterating the single piece
f^m(L), f^M(L) is reported in place of L and the M·|D| pieces f^m(D), and tracing goes on from
the frontier f^M(D). For a weakly expanding saddle-focus (|λ| = 1.0008 per step, a 128-sided
local polygon) this replaces ~128 pieces per step by one piece. ``max_depth`` counts the
steps after the jump.

Stopping: ``'box'`` (every branch left the box or became thinner than ``tol``; pieces are
clipped to the box, so parts that leave and re-enter later are not followed), ``'depth'``
(``max_depth`` steps), ``'budget'`` (``budget`` pieces reported), ``'complete'`` (nothing
left, no piece ever touched the box boundary).
"""
from __future__ import annotations

import flint
import numpy as np

from symbolic.pieces import clip_to_box, image, split

__all__ = ["trace_unstable"]


def _power(J, c, m: int):
    """(J^m, c_m) of the affine map z -> J z + c iterated m times (repeated squaring); exact
    for flint fmpq_mat inputs, floats for numpy arrays."""
    exact = isinstance(J, flint.fmpq_mat)
    n = J.nrows() if exact else len(J)
    if exact:
        R, r = flint.fmpq_mat(n, n), flint.fmpq_mat(n, 1)
        for i in range(n):
            R[i, i] = 1
        mul = lambda A, B: A * B                                   # noqa: E731
    else:
        R, r = np.eye(n), np.zeros(n)
        mul = lambda A, B: A @ B                                   # noqa: E731
    P, p = J, c
    while m:
        if m & 1:
            R, r = mul(P, R), mul(P, r) + p
        P, p = mul(P, P), mul(P, p) + p
        m >>= 1
    return R, r


def _jump(model, region: str, L, fund, box, max_jump: int, tol: float, explicit: int | None = None):
    """(M, f^M(L), [f^M(D_i)]) for the largest M <= max_jump with f^M(L) inside the region
    and the box (see the module docstring). f^m(L) grows with m, so "inside" is monotone in m
    and M is found by bisection on f^m(L) = J^m L + c_m (exact maps for exact pieces, so
    exact pieces stay exact). The last *explicit* steps (default: all M) of each f^M(D_i) are
    built one affine step at a time so that backward orbits along the pieces' chains (Δσ)
    see single steps; a link below them would be one (M − explicit)-step jump."""
    from symbolic.pieces import affine_image

    J, c = model.affine_piece(region)
    if not L.exact:
        J = np.array([[float(J[i, j]) for j in range(J.ncols())] for i in range(J.nrows())])
        c = np.array([float(c[i, 0]) for i in range(c.nrows())])
    Jf, cf = J, c

    def inside(m):
        Jm, cm = _power(Jf, cf, m)
        Q = affine_image(L, Jm, cm, region=region)
        if clip_to_box(Q, box) is not Q:
            return False
        parts = split(Q, model, tol)
        return len(parts) == 1 and parts[0].region == region and not parts[0].on_hyperplanes

    if not inside(1):
        return 0, L, fund
    lo, hi = 1, 2
    while hi <= max_jump and inside(hi):
        lo, hi = hi, 2 * hi
    hi = min(hi, max_jump + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if inside(mid):
            lo = mid
        else:
            hi = mid
    M = lo
    E = M if explicit is None else min(M, explicit)

    def steps(P, m0):
        Jm, cm = _power(Jf, cf, m0)
        if m0:
            P = affine_image(P, Jm, cm, region=region, depth=P.depth + m0,
                             info={"chain": (P, np.eye(P.k), np.zeros(P.k))})
        for _ in range(M - m0):
            P = affine_image(P, Jf, cf, region=region, depth=P.depth + 1,
                             info={"chain": (P, np.eye(P.k), np.zeros(P.k))})
        return P

    return M, steps(L, M - E), [steps(P, M - E) for P in fund]


def trace_unstable(model, orbit, local, box, max_depth: int = 30, budget: int = 2000,
                   tol: float = 1e-10, progress=None, jump: bool = True, max_jump: int = 3000):
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
    if k == 1 and jump and L.k >= 2 and out and out[0] is L:     # 1-D: one piece per step anyway
        M, big, frontier = _jump(model, orbit.regions[0], L, frontier, box, max_jump, tol)
        if M:
            out[0] = big
            stats["jump"] = M
            if progress is not None:
                progress(f"unstable: f^{M}(L) stays in the fixed point's region: one piece for depths 0..{M}")
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
        stats["max_depth"] = depth + stats.get("jump", 0)
        if progress is not None:
            progress(f"unstable: depth {depth}, {len(out)} pieces, frontier {len(nxt)}")
        if stopped:
            break
        frontier = nxt
    if stopped is None:
        stopped = "box" if stats["clipped"] or stats["left_box"] else "complete"
    return out, stopped, stats
