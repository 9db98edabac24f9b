"""Search for homoclinic and heteroclinic orbits of saddles and snap-back orbits of repellers
(untrusted, floats; DESIGN §8). Certification is :mod:`verify.chaos`; the checker is
:mod:`verify.checkchaos`.

**Connections.** For a hyperbolic saddle orbit point p (departure) with unstable eigenvectors
U and a saddle orbit point q (arrival) with stable eigenvectors S, the local pieces are
p + U N_r and q + S N_r' (N_r: |a_t| ≤ r per real eigen-coordinate, a disc per complex
pair; r is half the largest radius keeping the piece, and its images along the cycle,
inside the regions). An orbit x_0 = p + U a, x_{t+1} = f(x_t), with x_N = q + S b is a
connecting orbit; with itinerary σ (regions of x_0 .. x_{N-1}) it solves the linear system

    F_σ(p + U a) = q + S b,    F_σ = f_{σ_{N-1}} ∘ ... ∘ f_{σ_0}  (affine),

subject to the strict linear inequalities "x_t ∈ R_{σ_t}". The search grows W^u from a
fundamental domain of the local piece (slabs r/|λ| ≤ ±a_t ≤ r, slightly overlapped): a
breadth-first walk over the cells its images really enter (each image polytope is split by
the hyperplanes it crosses, LPs only where a bounding box cannot decide), and at every
depth N solves the square system against every arrival piece. The result is a candidate:

* ``candidate``: unique solution strictly inside the cell and the arrival piece
  (float-transversal);
* ``corner``: the solution lies (numerically) on a region boundary: some x_t is on a
  hyperplane, where W^u or W^s has a kink: a homoclinic corner, never transversal;
* ``tangency``: [DF U | −S] is (numerically) singular and the system is consistent: the
  manifolds' pieces overlap or touch without crossing.

Candidates of the same orbit found at different depths are merged (shortest kept).

**Snap-back orbits** (Marotto): for a repelling fixed point z with an expanding ellipsoid
B = {(x − z)ᵀ Q (x − z) ≤ r²} inside its region (Q = I when σ_min(J) > 1, else the solution of
the Stein equation Jᵀ Q J − Q = I), exact preimage trees of z are grown breadth-first over
the regions with det J_t ≠ 0 until a preimage other than z falls into B. Everything is exact
rationals (the orbit lands *exactly* on z).

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> res = find_connections(load_model(example_path("lozi")), max_length=8)
>>> any(c.kind == "homoclinic" and c.status == "candidate" for c in res.connections)
True
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import flint
import numpy as np

from symbolic.orbits import find_orbits
from symbolic.rationals import column, fraction_of, rows_of, vector_of
from symbolic.regions import bits_to_array, enumerate_regions, locate

__all__ = [
    "LocalPiece", "Connection", "SnapBack", "Refusal", "ConnectionSearch", "local_piece",
    "find_connections", "expanding_ball", "find_snapbacks", "connection_points", "extend_connection",
    "FloatCycle", "recurrent_cycles", "LandingScan", "landing_scan",
]

_SLAB_OVERLAP = 0.9
_TOL = 1e-9


# ----------------------------------------------------------------------------- records

@dataclass
class LocalPiece:
    """Float local stable/unstable piece p + basis · N_radius at one orbit point.

    ``kinds[t]`` is 'real' (one coordinate) or 'complex' (two: Re, Im of the eigenvector);
    ``values[t]`` the (complex) eigenvalue of block t; ``chain`` the (point, basis) pairs the
    piece is carried through along the cycle (backward for unstable, forward for stable).
    """

    orbit: object
    index: int
    side: str
    point: np.ndarray
    basis: np.ndarray
    kinds: tuple
    values: tuple
    radius: float
    chain: list = field(default_factory=list)

    @property
    def dim(self) -> int:
        return self.basis.shape[1]


@dataclass
class Connection:
    """A candidate connecting orbit x_0 = p + U a, ..., x_N = q + S b (floats).

    ``status``: 'candidate' (float-transversal, strictly admissible), 'corner' (an orbit point
    on a region boundary) or 'tangency' ([DF U | -S] singular, consistent). ``itinerary``:
    region bits of x_0 .. x_{N-1}. ``boundary``: (t, hyperplane) pairs that are (nearly)
    active for a corner.
    """

    kind: str
    source: str
    target: str
    source_index: int
    target_index: int
    itinerary: tuple
    a: np.ndarray
    b: np.ndarray
    points: np.ndarray
    status: str
    sigma_min: float
    margin: float
    boundary: tuple = ()
    note: str = ""

    @property
    def length(self) -> int:
        return len(self.itinerary)

    @property
    def transversal(self) -> bool | None:
        return {"candidate": True, "corner": False, "tangency": False}.get(self.status)


@dataclass
class SnapBack:
    """An exact snap-back orbit x_0 ∈ B \\ {z}, ..., x_M = z of the repelling fixed point z."""

    orbit: str
    fixed_point: tuple
    points: tuple
    itinerary: tuple
    Q: tuple
    radius: Fraction

    @property
    def length(self) -> int:
        return len(self.points) - 1


@dataclass
class Refusal:
    """Why nothing is claimed about an orbit (or a candidate)."""

    orbit: str
    reason: str
    kind: str = "orbit"

    def to_json(self) -> dict:
        return {"orbit": self.orbit, "kind": self.kind, "reason": self.reason}


@dataclass
class ConnectionSearch:
    """Result of :func:`find_connections` (``status``: 'complete-to-depth' when every branch
    was explored to ``max_length``, else 'truncated' with the limit in ``message``)."""

    connections: list
    snapbacks: list
    refusals: list
    orbits: object
    status: str
    message: str
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- local pieces

def _f(M: flint.fmpq_mat) -> np.ndarray:
    return np.array([[float(fraction_of(M[i, j])) for j in range(M.ncols())] for i in range(M.nrows())])


def _eig_blocks(J: np.ndarray, side: str, want: int):
    """Float eigen-blocks of one side: (columns, kinds, values) or a reason string."""
    vals, vecs = np.linalg.eig(J)
    pick = [i for i, v in enumerate(vals) if (abs(v) > 1 if side == "unstable" else abs(v) < 1)]
    if sum(1 for i in pick) != want:
        return f"float eigenvalues disagree with the exact count ({len(pick)} vs {want})"
    cols, kinds, values = [], [], []
    used = set()
    for i in sorted(pick, key=lambda i: -abs(vals[i])):
        if i in used:
            continue
        lam = vals[i]
        for j in pick:
            if j != i and j not in used and abs(vals[j] - lam) < 1e-8 * (1 + abs(lam)):
                if abs(lam.imag) < 1e-12 or abs(vals[j] - lam.conjugate()) > 1e-8 * (1 + abs(lam)):
                    return "repeated eigenvalue (Jordan block or multiple eigenvalue): not supported"
        v = vecs[:, i]
        k = int(np.argmax(np.abs(v)))
        v = v / v[k]
        if abs(lam.imag) <= 1e-12 * (1 + abs(lam)):
            cols.append(v.real)
            kinds.append("real")
            values.append(complex(lam.real, 0.0))
            used.add(i)
        else:
            if lam.imag < 0:
                lam, v = lam.conjugate(), v.conjugate()
            cols.extend([v.real, v.imag])
            kinds.append("complex")
            values.append(complex(lam))
            used.add(i)
            for j in pick:
                if j not in used and abs(vals[j] - lam.conjugate()) < 1e-8 * (1 + abs(lam)):
                    used.add(j)
                    break
    return np.array(cols).T, tuple(kinds), tuple(values)


def _hyperplanes(model):
    C = model.Cf
    norms = np.linalg.norm(C, axis=1)
    return C, model.df, np.where(norms > 0, norms, 1.0)


def _piece_reach(C, W) -> np.ndarray:
    """max over the unit box of |C_k W s| (a disc of radius 1 lies inside that box)."""
    return np.abs(C @ W).sum(axis=1) if W.size else np.zeros(len(C))


def _max_radius(model, chain) -> float:
    """Largest r with every (P + W N_r) of the chain strictly inside P's region (float)."""
    C, d, _ = _hyperplanes(model)
    r = np.inf
    for P, W in chain:
        pre = np.abs(C @ P + d)
        reach = _piece_reach(C, W)
        with np.errstate(divide="ignore"):
            cand = np.where(reach > 0, pre / reach, np.inf)
        r = min(r, float(cand.min()) if len(cand) else np.inf)
    return r


def _float_cycle_product(Js, index: int) -> np.ndarray:
    """J_{i-1} ... J_{i+1} J_i (indices mod k) in floats."""
    k = len(Js)
    P = np.eye(Js[0].shape[0])
    for m in range(k):
        P = Js[(index + m) % k] @ P
    return P


def local_piece(model, orbit, index: int, side: str) -> LocalPiece | str:
    """The float local piece of *orbit* at point *index* ('stable' or 'unstable'), or the reason
    why none is built (non-hyperbolic orbit, repeated eigenvalue, singular Jacobian)."""
    if orbit.stability is None or not orbit.stability.is_hyperbolic:
        return "not hyperbolic"
    want = orbit.unstable_dim if side == "unstable" else orbit.stable_dim
    if want == 0:
        return f"no {side} directions"
    k = orbit.period
    Js = [_f(model.jacobian(r)) for r in orbit.regions]
    if any(abs(np.linalg.det(J)) < 1e-300 for J in Js) and side == "unstable" and k > 1:
        return "singular Jacobian along the cycle"
    # DF^k at point index, in floats: O(k) products (the exact cycle_jacobians is O(k^2) exact
    # products, minutes for k ~ 200); only the untrusted search uses it
    P = Js[index] if k == 1 else _float_cycle_product(Js, index)
    out = _eig_blocks(P, side, want)
    if isinstance(out, str):
        return out
    W, kinds, values = out
    pts = [np.array([float(v) for v in p]) for p in orbit.points]
    chain = [(pts[index], W)]
    Wm = W
    for m in range(1, k):
        if side == "unstable":
            i2 = (index - m) % k
            Wm = np.linalg.solve(Js[i2], Wm)
        else:
            i2 = (index + m) % k
            Wm = Js[(index + m - 1) % k] @ Wm
        chain.append((pts[i2], Wm))
    rmax = _max_radius(model, chain)
    if not np.isfinite(rmax):
        rmax = 1.0
    return LocalPiece(orbit, index, side, pts[index], W, kinds, values, 0.5 * rmax, chain)


# ----------------------------------------------------------------------------- LP helpers

def _linprog(c, A_ub, b_ub, A_eq=None, b_eq=None, bounds=None):
    from scipy.optimize import linprog

    return linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")


def _range(alpha, beta, box_lo, box_hi):
    """[min, max] of alpha + beta·s over the box (a cheap screen before any LP)."""
    lo = alpha + np.sum(np.minimum(beta * box_lo, beta * box_hi))
    hi = alpha + np.sum(np.maximum(beta * box_lo, beta * box_hi))
    return lo, hi


def _lp_range(alpha, beta, G, g, d):
    bounds = [(0.0, 1.0)] * d
    r1 = _linprog(beta, G, g, bounds=bounds)
    r2 = _linprog(-beta, G, g, bounds=bounds)
    if r1.status != 0 or r2.status != 0:
        return None
    return alpha + r1.fun, alpha - r2.fun


def _chebyshev(G, g, d) -> float:
    """Largest t with G s + t ||G_i|| ≤ g, s ∈ [0, 1]^d (-inf if infeasible)."""
    if d == 1:
        lo, hi = 0.0, 1.0
        for row, val in zip(G[:, 0], g):
            if row > 0:
                hi = min(hi, val / row)
            elif row < 0:
                lo = max(lo, val / row)
            elif val < 0:
                return -np.inf
        return (hi - lo) / 2
    norms = np.linalg.norm(G, axis=1)
    A = np.hstack([G, norms[:, None]])
    res = _linprog(np.r_[np.zeros(d), -1.0], A, g, bounds=[(0.0, 1.0)] * d + [(None, 1.0)])
    return -np.inf if res.status != 0 else float(res.x[-1])


def _bbox(G, g, d):
    """Bounding box of {G s ≤ g} ∩ [0, 1]^d (None if empty)."""
    if d == 1:
        lo, hi = 0.0, 1.0
        for row, val in zip(G[:, 0], g):
            if row > 0:
                hi = min(hi, val / row)
            elif row < 0:
                lo = max(lo, val / row)
        return (np.array([lo]), np.array([hi])) if lo <= hi else None
    lo, hi = np.zeros(d), np.ones(d)
    for i in range(d):
        e = np.zeros(d)
        e[i] = 1.0
        r1 = _linprog(e, G, g, bounds=[(0.0, 1.0)] * d)
        r2 = _linprog(-e, G, g, bounds=[(0.0, 1.0)] * d)
        if r1.status != 0 or r2.status != 0:
            return None
        lo[i], hi[i] = r1.fun, -r2.fun
    return lo, hi


# ----------------------------------------------------------------------------- the walk

@dataclass
class _Node:
    itin: tuple
    o: np.ndarray          # x_j = o + M s
    M: np.ndarray
    G: np.ndarray          # constraints G s <= g, s in [0, 1]^d
    g: np.ndarray
    tags: list             # per row: ('domain',) or (t, hyperplane)
    a0: np.ndarray         # a = a0 + T s
    T: np.ndarray


def _start_nodes(piece: LocalPiece) -> list[_Node]:
    """Boxes covering a fundamental domain of the local unstable piece (minus a neighbourhood of
    p): every orbit on W^u_loc minus {p} has a point in one of them.

    In eigen-coordinates J^{-1} shrinks block t by 1/|λ_t|. The last point x = p + U a of an
    orbit inside N_r has |λ_t| ρ_t(a) > r for some block t (ρ_t: |a_t| for a real coordinate,
    the Euclidean norm of a complex pair), so it lies in a slab |a_i| ≥ s_t of one of that
    block's coordinates, s_t = 0.9 r / |λ_t| (divided by √2 for a complex pair), inside the box
    |a_i| ≤ r (the certifier's radius is 1.5 r, whose disc contains that box).
    """
    d, r = piece.dim, piece.radius
    inner = []
    for kind, lam in zip(piece.kinds, piece.values):
        if kind == "real":
            inner.append(_SLAB_OVERLAP * r / abs(lam))
        else:
            inner.extend([_SLAB_OVERLAP * r / (abs(lam) * math.sqrt(2))] * 2)
    half = np.full(d, r)
    nodes = []
    for i in range(d):
        for sgn in (1, -1):
            lo, hi = -half.copy(), half.copy()
            if sgn > 0:
                lo[i] = inner[i]
            else:
                hi[i] = -inner[i]
            w = hi - lo
            T = np.diag(w)
            nodes.append(_Node((), piece.point + piece.basis @ lo, piece.basis @ T,
                               np.zeros((0, d)), np.zeros(0), [], lo.copy(), T))
    return nodes


def _arrival_coords_ok(piece: LocalPiece, b: np.ndarray, slack: float = 1.0) -> float:
    """Margin of b inside the arrival piece (> 0: strictly inside; <= 0 also when b is so
    close to 0 that x_N is numerically the periodic point itself)."""
    r = piece.radius * slack
    if np.abs(b).max() <= 1e-9 * r:
        return -1.0
    pos, m = 0, np.inf
    for kind in piece.kinds:
        if kind == "real":
            m = min(m, r - abs(b[pos]))
            pos += 1
        else:
            m = min(m, r - math.hypot(b[pos], b[pos + 1]))
            pos += 2
    return m


def _land(node: _Node, arr: LocalPiece, d: int):
    """Solve o + M s = q + S b; returns (status, s, b, sigma_min, margin, boundary) or None."""
    n = len(node.o)
    S = arr.basis
    Mat = np.hstack([node.M, -S])
    rhs = arr.point - node.o
    scale = np.linalg.norm(Mat, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    sv = np.linalg.svd(Mat / scale, compute_uv=False)
    smin = float(sv[-1] / sv[0]) if sv[0] > 0 else 0.0
    if smin > 1e-10:
        sol = np.linalg.solve(Mat, rhs)
        s, b = sol[:d], sol[d:]
        if np.any(s < -1e-12) or np.any(s > 1 + 1e-12):
            return None
        slack = node.g - node.G @ s if len(node.g) else np.array([np.inf])
        bm = _arrival_coords_ok(arr, b)
        if bm <= 0 or np.min(slack) < -_TOL:
            return None
        near = [node.tags[i] for i in np.nonzero(slack < _TOL)[0] if node.tags[i][0] != "domain"]
        if near:
            return "corner", s, b, smin, float(np.min(slack)), tuple(near)
        if np.min(slack) < _TOL:
            return None  # on the fundamental domain's edge: found again from a neighbouring slab
        return "candidate", s, b, smin, float(np.min(slack)), ()
    # singular: is the system consistent on the cell (a tangency / overlap)?
    ds = S.shape[1]
    G = node.G
    bounds = [(0.0, 1.0)] * d + [(-arr.radius, arr.radius)] * ds
    A_ub = np.hstack([G, np.zeros((len(G), ds))]) if len(G) else None
    res = _linprog(np.zeros(d + ds), A_ub, node.g if len(G) else None, A_eq=Mat, b_eq=rhs, bounds=bounds)
    if res.status != 0:
        return None
    s, b = res.x[:d], res.x[d:]
    return "tangency", s, b, smin, 0.0, ()


def _split(model, node: _Node, d: int, t: int, lp_budget: list):
    """Cells of the hyperplane arrangement met by x_t = o + M s over the node's polytope."""
    C, dd, norms = _hyperplanes(model)
    alpha = (C @ node.o + dd) / norms
    beta = (C @ node.M) / norms[:, None]
    fixed, crossing = {}, []
    for h in range(len(C)):
        lo, hi = _range(alpha[h], beta[h], np.zeros(d), np.ones(d))
        if lo > 0:
            fixed[h] = 1
        elif hi < 0:
            fixed[h] = 0
        else:
            if d > 1 and len(node.g):
                lp_budget[0] += 2
                rng = _lp_range(alpha[h], beta[h], node.G, node.g, d)
                if rng is None:
                    return []
                lo, hi = rng
                if lo > 0:
                    fixed[h] = 1
                    continue
                if hi < 0:
                    fixed[h] = 0
                    continue
            crossing.append(h)
    cells = [(node.G, node.g, list(node.tags), {}, np.inf)]
    for h in crossing:
        nxt = []
        for G, g, tags, ch, _ in cells:
            for bit in (1, 0):
                sgn = 1.0 if bit else -1.0
                # sgn (alpha + beta s) >= 0  <=>  -sgn beta s <= sgn alpha
                G2 = np.vstack([G, -sgn * beta[h][None, :]]) if len(G) else -sgn * beta[h][None, :]
                g2 = np.r_[g, sgn * alpha[h]]
                lp_budget[0] += 1
                rad = _chebyshev(G2, g2, d)
                if rad > 1e-12:
                    nxt.append((G2, g2, tags + [(t, h)], {**ch, h: bit}, rad))
        cells = nxt
    out = []
    for G, g, tags, ch, rad in cells:
        allbits = {**fixed, **ch}
        bits = "".join("1" if allbits[h] else "0" for h in range(len(C)))
        out.append((bits, G, g, tags, rad))
    return out


def _reparam(node: _Node, bits: str, G, g, tags, model, d, rad=0.0):
    """The child node: x_{t+1} = f_bits(x_t) over the cell. The cell is re-parametrised to its
    bounding box (s ∈ [0, 1]^d again, keeping the LPs well scaled) when it has become small
    (inradius < 1e-2) or d = 1; otherwise the coordinates are kept (saves 2d LPs)."""
    if d > 1 and rad >= 1e-2:
        J, c = model.affine_pieces_float(bits_to_array([bits], model.L))
        return _Node(node.itin + (bits,), J[0] @ node.o + c[0], J[0] @ node.M, G, g, tags, node.a0, node.T)
    box = _bbox(G, g, d)
    if box is None:
        return None
    lo, hi = box
    w = hi - lo
    if np.any(w < 1e-13):
        return None
    J, c = model.affine_pieces_float(bits_to_array([bits], model.L))
    J, c = J[0], c[0]
    Wd = np.diag(w)
    o = J @ (node.o + node.M @ lo) + c
    M = J @ node.M @ Wd
    G2 = G @ Wd
    g2 = g - G @ lo
    nrm = np.linalg.norm(G2, axis=1)
    nrm = np.where(nrm > 0, nrm, 1.0)
    return _Node(node.itin + (bits,), o, M, G2 / nrm[:, None], g2 / nrm, tags,
                 node.a0 + node.T @ lo, node.T @ Wd)


def connection_points(model, piece: LocalPiece, a: np.ndarray, itinerary) -> np.ndarray:
    """Float orbit x_0 = p + U a, ..., x_N along the itinerary's affine pieces."""
    x = piece.point + piece.basis @ a
    pts = [x]
    for bits in itinerary:
        J, c = model.affine_pieces_float(bits_to_array([bits], model.L))
        x = J[0] @ x + c[0]
        pts.append(x)
    return np.array(pts)


def _same_orbit(P1, P2, tol=1e-7) -> bool:
    for x in P1:
        dist = np.abs(P2 - x).max(axis=1)
        if np.any(dist <= tol * (1 + np.abs(x).max())):
            return True
    return False


def _allowed(graph, s: str, t: str) -> bool:
    return graph is None or graph.has_edge(s, t)


def _walk(model, dep: LocalPiece, arrivals, max_length, max_nodes, stats, progress, homoclinic_only, graph=None):
    d = dep.dim
    found = []
    queue = deque(_start_nodes(dep))
    lp_budget = [0]
    nodes = 0
    truncated = None
    k_dep = dep.orbit.period
    while queue:
        node = queue.popleft()
        depth = len(node.itin)
        nodes += 1
        if nodes > max_nodes:
            truncated = f"node budget {max_nodes} exhausted"
            break
        if depth >= 1:
            for arr in arrivals:
                same = arr.orbit is dep.orbit
                if homoclinic_only and not same:
                    continue
                if same and (dep.index + depth - arr.index) % k_dep != 0:
                    continue
                if arr.dim + d != model.n:
                    continue
                hit = _land(node, arr, d)
                if hit is None:
                    continue
                status, s, b, smin, margin, boundary = hit
                a = node.a0 + node.T @ s
                pts = connection_points(model, dep, a, node.itin)
                found.append(Connection(
                    kind="homoclinic" if same else "heteroclinic", source=dep.orbit.id, target=arr.orbit.id,
                    source_index=dep.index, target_index=arr.index, itinerary=node.itin, a=a, b=b,
                    points=pts, status=status, sigma_min=smin, margin=margin, boundary=boundary))
        if depth >= max_length:
            continue
        for bits, G, g, tags, rad in _split(model, node, d, depth, lp_budget):
            if depth >= 1 and not _allowed(graph, node.itin[-1], bits):
                stats["pruned_by_graph"] = stats.get("pruned_by_graph", 0) + 1
                continue
            child = _reparam(node, bits, G, g, tags, model, d, rad)
            if child is None:
                continue
            if np.abs(child.o).max() > 1e8:
                continue
            queue.append(child)
        if progress and nodes % 200 == 0:
            progress(f"{dep.orbit.id}[{dep.index}]: {nodes} pieces, depth {depth}, {len(found)} candidates")
    stats["nodes"] = stats.get("nodes", 0) + nodes
    stats["lps"] = stats.get("lps", 0) + lp_budget[0]
    return found, truncated


def _dedupe(conns):
    order = {"candidate": 0, "corner": 1, "tangency": 2}
    conns = sorted(conns, key=lambda c: (c.length, order[c.status]))
    kept = []
    for c in conns:
        if any(k.source == c.source and k.target == c.target and k.status == c.status
               and _same_orbit(c.points[1:], k.points) for k in kept):
            continue
        kept.append(c)
    return kept


# ----------------------------------------------------------------------------- snap-back orbits

def _isqrt_frac_below(x: Fraction, bits: int = 40) -> Fraction:
    """A dyadic rational r > 0 with r² < x (x > 0), within about 2^-bits relative."""
    # r = floor(sqrt(x) * 2^k) / 2^k with k chosen from x's size
    k = max(bits - (x.numerator.bit_length() - x.denominator.bit_length()) // 2, 1)
    num = (x.numerator << (2 * k)) // x.denominator
    r = Fraction(math.isqrt(num), 1 << k)
    while r * r >= x and r > 0:
        r -= Fraction(1, 1 << k)
    return r


def expanding_ball(model, z, J: flint.fmpq_mat | None = None):
    """(Q, r) with f expanding in |x|_Q = sqrt(xᵀQx) on {|x − z|_Q ≤ r} ⊂ z's region, or a
    reason string. Q = I when Jᵀ J − I is positive definite (σ_min(J) > 1), else Q from the
    Stein equation Jᵀ Q J − Q = I solved in floats, rounded to rationals, checked exactly."""
    from verify.intervals import inverse, is_positive_definite

    n = model.n
    loc = locate(model, z)
    if not loc.strict:
        return "the fixed point lies on a region boundary"
    if J is None:
        J = model.jacobian(loc.bits)
    Jr = rows_of(J)
    JT = [[Jr[j][i] for j in range(n)] for i in range(n)]

    def expanding(Q):
        JQJ = [[sum(JT[i][a] * Q[a][b] * Jr[b][j] for a in range(n) for b in range(n)) for j in range(n)]
               for i in range(n)]
        return is_positive_definite(Q) and is_positive_definite(
            [[JQJ[i][j] - Q[i][j] for j in range(n)] for i in range(n)])

    eye = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    Q = eye if expanding(eye) else None
    if Q is None:
        import scipy.linalg

        Jf = np.array([[float(v) for v in row] for row in Jr])
        try:
            Ji = np.linalg.inv(Jf)
            X = scipy.linalg.solve_discrete_lyapunov(Ji.T, Ji.T @ Ji)
        except (np.linalg.LinAlgError, ValueError):
            return "the Jacobian at the fixed point is singular or not expanding"
        if not np.all(np.isfinite(X)):
            return "no expanding quadratic norm found"
        X = (X + X.T) / 2
        X = X / np.abs(X).max()
        for bits in (20, 40, 60):
            Qc = [[Fraction(round(X[i][j] * 2**bits), 2**bits) for j in range(n)] for i in range(n)]
            Qc = [[Qc[min(i, j)][max(i, j)] for j in range(n)] for i in range(n)]
            if expanding(Qc):
                Q = Qc
                break
        if Q is None:
            return "no quadratic norm in which f is expanding near the fixed point was found"
    Qinv = inverse(Q)
    pre = [fraction_of(v) for v in (model.C * column(z) + model.d).entries()]
    Cr = rows_of(model.C)
    bound = None
    for k in range(model.L):
        spread = sum(Cr[k][i] * Qinv[i][j] * Cr[k][j] for i in range(n) for j in range(n))
        if spread > 0:
            val = pre[k] * pre[k] / spread
            bound = val if bound is None else min(bound, val)
    if bound is None:
        return Q, Fraction(1 << 20)
    return Q, _isqrt_frac_below(bound * Fraction(63, 64) ** 2)


def _in_ball(Q, r, x, z) -> bool:
    diff = [a - b for a, b in zip(x, z)]
    n = len(diff)
    return sum(Q[i][j] * diff[i] * diff[j] for i in range(n) for j in range(n)) < r * r


def _preimage_cells(model) -> list[str]:
    """The cells of the arrangement (sorted bit strings) for the exact preimage search.

    C of full row rank: all 2^L patterns (no LP). Otherwise the fast region-adjacency walk
    (:func:`graph.regiongraph.region_graph`: seeded cells, batched LPs; ~9x faster than
    :func:`symbolic.regions.enumerate_regions` for L >> n). Both keep every non-empty cell
    (and possibly thin ones), so the preimages found strictly inside cells are the same;
    the walk is used only when complete, else the LP walk of ``enumerate_regions``.
    """
    from .regiongraph import region_graph

    L, n = model.L, model.n
    if L == 0 or (L <= n and model.C.rank() == L):
        return enumerate_regions(model).regions
    rg = region_graph(model)
    if rg.status == "complete":
        return rg.cells
    return enumerate_regions(model).regions


def find_snapbacks(model, orbit, max_length: int = 12, max_nodes: int = 20000, regions=None,
                   max_seconds: float | None = None):
    """Shortest exact snap-back orbits of a repelling fixed point (list of :class:`SnapBack`),
    or a :class:`Refusal` saying why there is none (not a repeller, no expanding ball, every
    preimage chain runs through a region boundary, budget)."""
    if orbit.period != 1:
        return Refusal(orbit.id, "snap-back orbits are searched for fixed points only", "snap-back")
    if orbit.type != "repeller":
        return Refusal(orbit.id, f"not a repeller ({orbit.type})", "snap-back")
    z = tuple(orbit.points[0])
    ball = expanding_ball(model, z, model.jacobian(orbit.regions[0]))
    if isinstance(ball, str):
        return Refusal(orbit.id, ball, "snap-back")
    Q, r = ball
    if regions is None:
        regions = _preimage_cells(model)
    pieces = []
    for t in regions:
        J, c = model.affine_piece(t)
        if J.det() != 0:
            pieces.append((t, J, c))
    screen = None
    if len(pieces) > 64:     # float screen first; exact confirmation of the plausible regions only
        Jf = np.array([_f(J) for _, J, _ in pieces])
        cf = np.array([_f(c)[:, 0] for _, _, c in pieces])
        screen = (np.linalg.inv(Jf), cf, bits_to_array([t for t, _, _ in pieces], model.L))
    zc = column(z)
    t_end = None if max_seconds is None else time.perf_counter() + max_seconds
    queue = deque([(zc, ())])      # point, chain of (point, region) after it
    seen = {z}
    boundary_hits = []
    nodes = 0
    while queue:
        y, chain = queue.popleft()
        if len(chain) >= max_length:
            continue
        if t_end is not None and time.perf_counter() > t_end:
            return Refusal(orbit.id, f"no snap-back orbit found within the time budget of {max_seconds:g} s "
                           f"({nodes} preimages, depth {len(chain)})", "snap-back")
        cand = pieces
        if screen is not None:
            Ji, cf, pb = screen
            yf = np.array([float(fraction_of(v)) for v in y.entries()])
            X = np.einsum("pij,pj->pi", Ji, yf[None, :] - cf)
            pre = X @ model.Cf.T + model.df
            scale = 1e-9 * (1 + np.abs(pre).max(axis=1, keepdims=True))
            ok = np.all(((pre > 0) == pb) | (np.abs(pre) <= scale), axis=1)
            cand = [pieces[i] for i in np.nonzero(ok)[0]]
        for t, J, c in cand:
            x = J.solve(y - c)
            xv = tuple(vector_of(x))
            if xv in seen:
                continue
            loc = locate(model, xv)
            if not loc.matches(t):
                continue
            nodes += 1
            if not loc.strict:
                seen.add(xv)
                boundary_hits.append((xv, len(chain) + 1))
                continue
            seen.add(xv)
            new_chain = ((xv, t),) + chain
            if _in_ball(Q, r, xv, z):
                pts = tuple(p for p, _ in new_chain) + (z,)
                return [SnapBack(orbit.id, z, pts, tuple(s for _, s in new_chain), tuple(map(tuple, Q)), r)]
            queue.append((x, new_chain))
            if nodes > max_nodes:
                return Refusal(orbit.id, f"no snap-back orbit within the budget of {max_nodes} preimages", "snap-back")
    if boundary_hits:
        pt, depth = boundary_hits[0]
        return Refusal(orbit.id, "every backward orbit of the fixed point that leaves it passes through a region "
                       f"boundary or ends (e.g. the preimage ({', '.join(map(str, pt))}) after {depth} steps lies on a "
                       "hyperplane): no snap-back orbit strictly inside regions up to length "
                       f"{max_length}", "snap-back")
    return Refusal(orbit.id, f"no preimage chain of length <= {max_length} enters the expanding ball "
                   f"(radius {float(r):.3g})", "snap-back")


# ----------------------------------------------------------------------------- driver

def find_connections(model, orbits=None, max_length: int = 8, max_period: int = 1, homoclinic: bool = True,
                     heteroclinic: bool = True, snapback: bool = True, max_nodes: int = 20000,
                     progress: Callable[[str], None] | None = None, transition_graph=None,
                     snapback_seconds: float | None = 30.0) -> ConnectionSearch:
    """Candidate homoclinic / heteroclinic orbits of all hyperbolic saddle orbits up to
    *max_period*, and snap-back orbits of repelling fixed points (see the module docstring).

    *orbits*: an :class:`symbolic.orbits.OrbitSearch` (default: ``find_orbits(model,
    max_period)``). Non-hyperbolic orbits and unsupported cases are listed in ``refusals``.
    *transition_graph*: optional networkx DiGraph over region bit strings (e.g. the ``graph`` of
    :func:`graph.transitions.transition_graph`, possibly restricted to a box): a step s -> t of
    an itinerary is followed only along its edges. Without it every cell the image of a piece
    really enters is followed (a subset of the transition graph's walks anyway).
    """
    import networkx as nx

    graph = transition_graph
    if graph is not None and not isinstance(graph, nx.Graph):
        graph = graph.graph          # a TransitionGraph record

    t0 = time.perf_counter()
    if orbits is None:
        orbits = find_orbits(model, max_period)
    stats: dict = {}
    refusals = []
    saddles = []
    for o in orbits.orbits:
        if o.type == "saddle":
            saddles.append(o)
        elif o.type in ("non-hyperbolic", "continuum", "boundary"):
            why = {"non-hyperbolic": "non-hyperbolic: an eigenvalue lies on the unit circle (e.g. an elliptic "
                                     "point), so it has no hyperbolic stable/unstable manifolds",
                   "continuum": "a continuum of periodic points (not hyperbolic)",
                   "boundary": "lies on a region boundary: f is not differentiable there"}[o.type]
            refusals.append(Refusal(o.id, why))
    dep_pieces, arr_pieces = [], []
    for o in saddles:
        for i in range(o.period):
            for side, bucket in (("unstable", dep_pieces), ("stable", arr_pieces)):
                pc = local_piece(model, o, i, side)
                if isinstance(pc, str):
                    refusals.append(Refusal(o.id, f"point {i}: {pc}"))
                else:
                    bucket.append(pc)
    conns = []
    truncated = []
    for dep in dep_pieces:
        if not (homoclinic or heteroclinic):
            break
        arrivals = [a for a in arr_pieces if (a.orbit is dep.orbit and homoclinic) or
                    (a.orbit is not dep.orbit and heteroclinic)]
        if not arrivals:
            continue
        found, trunc = _walk(model, dep, arrivals, max_length, max_nodes, stats, progress, not heteroclinic, graph)
        conns.extend(found)
        if trunc:
            truncated.append(f"{dep.orbit.id}[{dep.index}]: {trunc}")
    conns = _dedupe(conns)
    snaps = []
    if snapback:
        regions = None
        for o in orbits.orbits:
            if o.type == "repeller" and o.period == 1:
                if regions is None:
                    if progress:
                        progress("enumerating regions for the preimage search")
                    regions = _preimage_cells(model)
                if progress:
                    progress(f"{o.id}: repelling fixed point, searching snap-back orbits")
                out = find_snapbacks(model, o, max_length=max(max_length, 12), regions=regions,
                                     max_seconds=snapback_seconds)
                if isinstance(out, Refusal):
                    refusals.append(out)
                else:
                    snaps.extend(out)
    if not saddles and not any(o.type == "repeller" for o in orbits.orbits):
        refusals.append(Refusal("-", f"no hyperbolic saddle or repelling orbit up to period {orbits.max_period}: "
                                "nothing to connect", "model"))
    stats["seconds"] = time.perf_counter() - t0
    status = "truncated" if truncated else "complete-to-depth"
    msg = "; ".join(truncated) if truncated else (
        f"every piece of the local unstable manifolds followed for {max_length} steps "
        "(float LPs: cells thinner than 1e-12 of their parent and images beyond 1e8 are dropped)")
    return ConnectionSearch(conns, snaps, refusals, orbits, status, msg, stats)



def extend_connection(model, conn: Connection, orbits, before: int = 0, after: int = 0) -> Connection:
    """The same connecting orbit written with *before* more steps on the local unstable piece
    (x_0 replaced by its backward iterate along E^u) and *after* more steps on the local
    stable piece: a longer itinerary of the same orbit (used to benchmark certification
    against orbit length). Fixed points with real eigenvalues only."""
    if before < 0 or after < 0:
        raise ValueError("before and after must be >= 0")
    src, dst = orbits.by_id(conn.source), orbits.by_id(conn.target)
    dep = local_piece(model, src, conn.source_index, "unstable")
    arr = local_piece(model, dst, conn.target_index, "stable")
    if isinstance(dep, str) or isinstance(arr, str) or src.period != 1 or dst.period != 1:
        raise ValueError("extend_connection needs fixed points with local pieces")
    if any(k != "real" for k in dep.kinds + arr.kinds):
        raise ValueError("extend_connection supports real eigenvalues only")
    lam_u = np.array([v.real for v in dep.values])
    lam_s = np.array([v.real for v in arr.values])
    a = conn.a / lam_u ** before
    b = conn.b * lam_s ** after
    itin = (src.regions[0],) * before + conn.itinerary + (dst.regions[0],) * after
    pts = connection_points(model, dep, a, itin)
    return Connection(conn.kind, conn.source, conn.target, conn.source_index, conn.target_index, itin, a, b,
                      pts, conn.status, conn.sigma_min, conn.margin, conn.boundary, conn.note)


# ----------------------------------------------------------------------------- long saddle cycles

@dataclass
class FloatCycle:
    """A float periodic orbit of period k (untrusted; confirm with
    :func:`symbolic.orbits.confirm_itinerary`): region bits, points (k, n), the float
    multipliers (eigenvalue moduli of DF^k, descending), the smallest |C z + d| over its points
    (``margin``) and the trajectory index it was seeded from."""

    itinerary: tuple
    points: np.ndarray
    multipliers: np.ndarray
    margin: float
    seed: int

    @property
    def period(self) -> int:
        return len(self.itinerary)

    @property
    def unstable_dim(self) -> int:
        return int(np.sum(self.multipliers > 1))

    @property
    def rate(self) -> float:
        """log of the largest multiplier per step (the cycle's expansion per iteration)."""
        return float(np.log(self.multipliers[0]) / self.period)


def _solve_cycle_float(model, pattern: np.ndarray) -> np.ndarray:
    """Points of the k-cycle with region pattern (k, L) bool: the block-cyclic sparse system
    z_{t+1} − J_t z_t = c_t (well conditioned even when DF^k has multipliers near 1)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    k, n = len(pattern), model.n
    J, c = model.affine_pieces_float(pattern)
    r0 = np.arange(n)
    rows, cols, vals = [], [], []
    for t in range(k):
        t1 = (t + 1) % k
        rr, cc = np.meshgrid(t1 * n + r0, t * n + r0, indexing="ij")
        rows.append(rr.ravel())
        cols.append(cc.ravel())
        vals.append(-J[t].ravel())
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(k * n, k * n))
    A = (A + sp.eye(k * n)).tocsc()
    b = np.roll(c, 1, axis=0).ravel()
    return spl.spsolve(A, b).reshape(k, n)


def recurrent_cycles(model, trajectory: np.ndarray, min_period: int = 50, max_period: int = 700,
                     tol: float = 0.05, stride: int = 7, max_seeds: int = 40, iters: int = 30,
                     max_seconds: float | None = None) -> list[FloatCycle]:
    """Saddle cycles of long period seeded by near-recurrences of a trajectory (SCYFI with
    itinerary guesses from the data, floats, untrusted).

    For a map discretising a flow, unstable periodic orbits of the flow show up as
    phase-locked cycles of period ~ T/Δt. Each local minimum of |z_{t+k} − z_t| below *tol*
    (min_period ≤ k ≤ max_period) gives the guess σ = regions of z_t .. z_{t+k−1}; the cycle
    equation is solved (:func:`_solve_cycle_float`), the actual regions of the solution
    become the next guess, until they agree (a float cycle) or *iters* rounds pass.
    Distinct cycles (up to cyclic shift) are returned, most expanding per step first.

    >>> from proofs_examples import example_path
    >>> from symbolic.models import load_model
    >>> m = load_model(example_path("lozi"))
    >>> Z = m.trajectory([0.1, 0.1], 3000)[1000:]
    >>> cyc = recurrent_cycles(m, Z, min_period=2, max_period=12, tol=0.05, max_seeds=10)
    >>> all(c.unstable_dim >= 1 for c in cyc)
    True
    """
    Z = np.asarray(trajectory, dtype=float)
    T = len(Z)
    pre = Z @ model.Cf.T + model.df
    pat = pre > 0
    t_end = None if max_seconds is None else time.perf_counter() + max_seconds
    out, keys, seeds = [], set(), 0
    for t in range(0, max(T - max_period - 2, 0), stride):
        if seeds >= max_seeds or (t_end is not None and time.perf_counter() > t_end):
            break
        dist = np.linalg.norm(Z[t + min_period - 1:t + max_period + 2] - Z[t], axis=1)
        loc = np.nonzero((dist[1:-1] < dist[:-2]) & (dist[1:-1] < dist[2:]) & (dist[1:-1] < tol))[0]
        if not len(loc):
            continue
        k = int(loc[0]) + min_period
        seeds += 1
        P = pat[t:t + k]
        for _ in range(iters):
            X = _solve_cycle_float(model, P)
            if not np.all(np.isfinite(X)) or np.abs(X).max() > 1e6:
                break
            pre_x = X @ model.Cf.T + model.df
            Q = pre_x > 0
            if np.array_equal(Q, P):
                # canonical rotation: lexicographically least itinerary, then exact-ish point key
                bits = ["".join("1" if b else "0" for b in row) for row in P]
                r = min(range(k), key=lambda i: (bits[i:] + bits[:i], tuple(np.round(X[i], 9))))
                key = (tuple(bits[r:] + bits[:r]), tuple(np.round(X[r], 7)))
                if key not in keys:
                    keys.add(key)
                    J, _ = model.affine_pieces_float(P)
                    M = np.eye(model.n)
                    for Jt in J:
                        M = Jt @ M
                    mult = np.sort(np.abs(np.linalg.eigvals(M)))[::-1]
                    out.append(FloatCycle(tuple(bits[r:] + bits[:r]), np.roll(X, -r, axis=0), mult,
                                          float(np.abs(pre_x).min()), t))
                break
            P = Q
    return sorted(out, key=lambda c: -c.rate)


@dataclass
class LandingScan:
    """Result of :func:`landing_scan`: the first step at which the 1-D unstable manifold of a
    cycle crosses the tangent hyperplane of W^s at a cycle point within ``distance`` of it
    (None if not within the budget), the cycle's float radius of its local unstable piece,
    how many samples and steps were followed and the time taken."""

    step: int | None
    distance: float | None
    departure_radius: float
    samples: int
    steps: int
    seconds: float
    crossings: list = field(default_factory=list)


def landing_scan(model, cycle: FloatCycle, samples: int = 2000, max_steps: int = 3000, near: float = 2e-3,
                 box: float = 1e3) -> LandingScan:
    """Float scan for homoclinic candidates of a cycle with a 1-D unstable manifold.

    Samples the fundamental domain r/λ ≤ |a| ≤ r of the local unstable piece p_0 + a u
    (log-spaced, both branches), iterates all samples together (one batched affine step per
    iteration) and, at step t, evaluates h(a) = w_j·(x_t(a) − p_j), j = t mod k, with w_j the
    left unstable eigenvector at p_j (normal to E^s(p_j)). A sign change of h between
    neighbouring samples within *near* (max-norm) of p_j is a crossing of the tangent
    hyperplane of W^s near p_j: where a homoclinic orbit of length ~t is to be solved for.
    Samples that leave |x| ≤ *box* are dropped.
    """
    t0 = time.perf_counter()
    k, n = cycle.period, model.n
    P = bits_to_array(list(cycle.itinerary), model.L)
    J, _ = model.affine_pieces_float(P)
    X = cycle.points
    M = np.eye(n)
    for Jt in J:
        M = Jt @ M
    vals, vecs = np.linalg.eig(M)
    i0 = int(np.argmax(np.abs(vals)))
    lam = float(vals[i0].real)
    u = vecs[:, i0].real
    u = u / np.abs(u).max()
    lv, lvec = np.linalg.eig(M.T)
    w = lvec[:, int(np.argmax(np.abs(lv)))].real
    Wl = np.empty((k, n))
    v = w / np.linalg.norm(w)
    for t in range(k - 1, -1, -1):       # w_t^T ∝ w_0^T J_{k-1} ... J_t
        v = J[t].T @ v
        v = v / np.linalg.norm(v)
        Wl[t] = v
    # local radius: the forward images u_t = J_{t-1} ... J_0 u / λ (backward chain of p_0's
    # piece) stay inside the regions
    pre = np.abs(X @ model.Cf.T + model.df)
    ut = np.empty((k, n))
    ut[0] = u
    for t in range(1, k):
        ut[t] = J[t - 1] @ ut[t - 1]
    ut[1:] /= abs(lam)
    reach = np.abs(ut @ model.Cf.T)
    with np.errstate(divide="ignore"):
        r = 0.5 * float(np.min(np.where(reach > 0, pre / reach, np.inf)))
    grid = np.geomspace(r / abs(lam), r, samples)
    a = np.r_[grid, -grid]
    x = X[0][None, :] + a[:, None] * u[None, :]
    alive = np.ones(len(a), bool)
    crossings = []
    step = dist_best = None
    weights = 1 << np.arange(model.L)
    allpat = (np.arange(2 ** model.L)[:, None] & weights[None, :]) > 0 if model.L <= 12 else None
    Jall, call = model.affine_pieces_float(allpat) if allpat is not None else (None, None)
    for t in range(1, max_steps + 1):
        pat = (x @ model.Cf.T + model.df) > 0
        if Jall is None:
            Jx, cx = model.affine_pieces_float(pat)
            x = np.einsum("pij,pj->pi", Jx, x) + cx
        else:            # few regions: one matrix product per region met (vectorised)
            code = pat @ weights
            xn = np.empty_like(x)
            for cde in np.unique(code):
                sel = code == cde
                xn[sel] = x[sel] @ Jall[cde].T + call[cde]
            x = xn
        alive &= np.abs(x).max(axis=1) <= box
        j = t % k
        h = (x - X[j]) @ Wl[j]
        sc = np.nonzero((np.sign(h[:-1]) != np.sign(h[1:])) & alive[:-1] & alive[1:])[0]
        sc = sc[sc != samples - 1]                      # the two branches are not neighbours
        if len(sc):
            dist = np.abs(x[sc] - X[j]).max(axis=1)
            i = int(np.argmin(dist))
            if dist[i] < 10 * near:
                crossings.append((t, float(dist[i])))
            if dist[i] < near:
                step, dist_best = t, float(dist[i])
                break
    return LandingScan(step, dist_best, r, 2 * samples, t, time.perf_counter() - t0, crossings)
