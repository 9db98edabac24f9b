"""Checker claims for trapping polytopes and certified basin labels (trusted base; DESIGN §7, §9).

Imports nothing from ``graph`` or ``symbolic``: the map is the checker's own
:class:`verify.checkmodel.CheckedMap` (every original unit kept), arithmetic is exact
(:class:`fractions.Fraction` and Python integers), and every rounding is outward and
accounted for. Two claim types are registered:

``trapping-polytope``
    ``{"period": k, "points": [p_0, ..., p_{k-1}], "W": n×n, "blocks": [{"size": 1} |
    {"size": 2, "polygon": [[x, y], ...]}, ...], "radius": r, "theta": θ}``.
    The polytope is ``P = {p_0 + r W c : c ∈ B}`` with ``B = B_1 × … × B_m``, ``B_j = [−1, 1]``
    (size 1) or the polygon with the given vertices (size 2: counter-clockwise, strictly
    convex, the origin strictly inside; the checker derives its facets ``h·c ≤ 1`` itself).
    Checked exactly:

    1. ``f(p_j) = p_{j+1}`` (indices mod k) and no ``p_j`` lies on a kink, so near ``p_j`` the
       map is affine with Jacobian ``J_j``;
    2. ``f^j(P)`` lies in the closure of the region of ``p_j`` for ``j = 0 … k−1``: with
       ``DF_j = J_{j−1} ⋯ J_0``, for every unit u that bends the map and σ = sign of its
       pre-activation at ``p_j``, ``r · max_{c ∈ B} (−σ C_u DF_j W c) ≤ σ (C_u p_j + d_u)``.
       By induction f^j acts on P as ``p_0 + x ↦ p_j + DF_j x`` (f is continuous and affine on
       each closed region), so ``F = f^k`` is the affine map ``p_0 + x ↦ p_0 + DF_k x`` on P;
    3. contraction in the polytope norm of B: with ``T = W^{-1} DF_k W``, for every facet
       ``h·c_i ≤ 1`` of every block i, ``Σ_j max_{v ∈ vert B_j} h·T_{ij} v ≤ θ < 1``. Then
       ``T B ⊂ θ B``, so ``F(P) ⊂ p_0 + θ r W B ⊂ P`` and ``‖F^m(x) − p_0‖_B ≤ θ^m ‖x − p_0‖_B``:
       every point of P converges to the cycle, which is therefore attracting, with P in its
       basin.

    The maximum of a linear function over a product of polytopes is the sum of its maxima
    over the factors, each attained at a vertex, so 2. and 3. are exactly the checks "every
    vertex of f^j(P) lies in the closed region" and "every vertex of F(P) lies in
    ``p_0 + θ r W B``", done factor by factor instead of over all vertices of P.

``basin-labels``
    ``{"trap": <id of a trapping-polytope claim of this certificate>, "attractor": <label>,
    "grid": {"origin": o, "u": u, "v": v}, "entries": [[i0, j0, i1, j1, steps], ...],
    "precision_bits": P}``. An entry stands for the parallelogram
    ``S = {o + s u + t v : i0 ≤ s ≤ i1, j0 ≤ t ≤ j1}``, which contains the grid points
    ``o + i u + j v`` with i, j in those ranges (a single point when i0 = i1 and j0 = j1).
    Checked: the trap claim holds (re-checked), and for every entry the iterate
    ``f^m(S)``, ``m = steps``, lies inside the trap's polytope, so every point of S is in the
    basin of the trap's cycle. An entry ``[i0, j0, i1, j1, steps, k]`` instead has to enter the
    parallelogram of the earlier entry k (full-dimensional: n <= 2), which entry k already
    took into the trap; entries are checked in order, so this is induction on the index. The iteration is exact rational arithmetic on the set
    ``X = {c + Σ_t e_t g_t + w : |e_t| ≤ 1, |w_i| ≤ ρ_i}`` (centre, generators, error box),
    held as integers over the scale ``2^P · D`` (D clears the grid's denominators): at every
    step each unit that bends the map must keep one sign on all of X (else the claim fails),
    so f acts on X as one affine branch ``x ↦ J x + c``; the centre and generators are mapped exactly
    and rounded down to the scale, each rounding remainder is added to ρ, and ρ is mapped by
    ``|J|`` and rounded up. When no rounding ever happens (ρ stays 0) this is exact iteration
    of the grid points. Containment ``X ⊂ P = {x : G x ≤ g}`` is checked row by row with the
    exact maximum ``G_i c + Σ_t |G_i g_t| + Σ_l |G_il| ρ_l ≤ g_i``.

>>> from verify.checker import FORMAT, check_certificate
>>> model = {"kind": "plrnn", "A": ["1/2"], "W": [[0]], "h": [1]}      # z' = z/2 + 1, z* = 2
>>> trap = {"id": "trap", "type": "trapping-polytope", "period": 1, "points": [["2"]],
...         "W": [["1"]], "blocks": [{"size": 1}], "radius": "1", "theta": "1/2"}
>>> labels = {"id": "lab", "type": "basin-labels", "trap": "trap", "attractor": "P1-1",
...           "grid": {"origin": ["-8"], "u": ["1"], "v": ["0"]}, "entries": [[0, 0, 16, 0, 6]]}
>>> check_certificate({"format": FORMAT, "version": 1, "model": model, "claims": [trap, labels]}).ok
True
"""
from __future__ import annotations

import math
from fractions import Fraction
from operator import mul

from .checker import register
from .checkmodel import CheckedMap, CheckInputError, _q, eye, matmul, qmat, qvec

__all__ = ["TrapPolytope", "trap_polytope", "check_trapping_polytope", "check_basin_labels",
           "SetIterator", "MAX_STEPS", "DEFAULT_PRECISION"]

MAX_STEPS = 100_000
DEFAULT_PRECISION = 128
_MAX_PRECISION = 4096


# ----------------------------------------------------------------------------- blocks

def _polygon_facets(V) -> list:
    """Facets (hx, hy) with h·c <= 1 of the polygon with vertices V, after checking that V is
    counter-clockwise, strictly convex, with the origin strictly inside. Raises CheckInputError."""
    m = len(V)
    if m < 3:
        raise CheckInputError("a polygon block needs at least 3 vertices")
    H = []
    for i in range(m):
        (x0, y0), (x1, y1) = V[i], V[(i + 1) % m]
        nx, ny = y1 - y0, x0 - x1                   # outward normal for counter-clockwise order
        c = nx * x0 + ny * y0
        if c <= 0:
            raise CheckInputError(f"polygon edge {i}: the origin is not strictly inside (or wrong orientation)")
        h = (nx / c, ny / c)
        for l in range(m):
            if l not in (i, (i + 1) % m) and h[0] * V[l][0] + h[1] * V[l][1] >= 1:
                raise CheckInputError(f"polygon is not strictly convex and counter-clockwise at edge {i}")
        H.append(h)
    return H


def _blocks(claim, n):
    """[(start, size, vertices, facets)] of the product polytope B."""
    blocks = claim["blocks"]
    if not isinstance(blocks, list) or not blocks:
        raise CheckInputError("'blocks' must be a non-empty list")
    out, st = [], 0
    for b, blk in enumerate(blocks):
        size = blk.get("size") if isinstance(blk, dict) else None
        if size == 1:
            out.append((st, 1, [(Fraction(1),), (Fraction(-1),)], [(Fraction(1),), (Fraction(-1),)]))
        elif size == 2:
            poly = blk.get("polygon")
            if not isinstance(poly, list):
                raise CheckInputError(f"block {b}: a size-2 block needs a 'polygon'")
            V = [tuple(qvec(v, 2, f"blocks[{b}].polygon[{i}]")) for i, v in enumerate(poly)]
            out.append((st, 2, V, _polygon_facets(V)))
        else:
            raise CheckInputError(f"block {b}: size must be 1 or 2")
        st += size
    if st != n:
        raise CheckInputError(f"block sizes add up to {st}, not n = {n}")
    return out


def _block_max(blocks, w) -> Fraction:
    """max over c ∈ B of w·c: sum over the factors of the maximum over their vertices."""
    total = Fraction(0)
    for st, sz, verts, _ in blocks:
        total += max(sum((w[st + t] * v[t] for t in range(sz)), Fraction(0)) for v in verts)
    return total


def _inverse(M):
    """Exact inverse of a square Fraction matrix, or None if singular (Gauss–Jordan)."""
    n = len(M)
    R = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(M)]
    for col in range(n):
        piv = next((r for r in range(col, n) if R[r][col] != 0), None)
        if piv is None:
            return None
        R[col], R[piv] = R[piv], R[col]
        inv = 1 / R[col][col]
        R[col] = [x * inv for x in R[col]]
        for r in range(n):
            if r != col and R[r][col] != 0:
                fct = R[r][col]
                R[r] = [a - fct * b for a, b in zip(R[r], R[col])]
    return [row[n:] for row in R]


def _row_times(row, M):
    return [sum((row[i] * M[i][j] for i in range(len(row))), Fraction(0)) for j in range(len(M[0]))]


# ----------------------------------------------------------------------------- trapping polytopes

class TrapPolytope:
    """A verified trapping polytope as exact half-spaces ``G x <= g`` (see the module docstring)."""

    def __init__(self, points, G, g, theta):
        self.points = points
        self.G = G
        self.g = g
        self.theta = theta

    def contains(self, x) -> bool:
        return all(sum((a * b for a, b in zip(row, x)), Fraction(0)) <= gi for row, gi in zip(self.G, self.g))


def trap_polytope(model: CheckedMap, claim):
    """(TrapPolytope, None) if the trapping-polytope claim holds, else (None, reason)."""
    n = model.n
    k = claim["period"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise CheckInputError("'period' must be a positive integer")
    pts = claim["points"]
    if not isinstance(pts, list) or len(pts) != k:
        raise CheckInputError("'points' must list 'period' points")
    pts = [qvec(p, n, f"points[{j}]") for j, p in enumerate(pts)]
    for j, z in enumerate(pts):
        if model.f(z) != pts[(j + 1) % k]:
            return None, f"f(point {j}) != point {(j + 1) % k}"
        if model.kinks_at(z):
            return None, f"point {j} lies on a kink: the map is not affine around it"
    W = qmat(claim["W"], n, n, "W")
    Winv = _inverse(W)
    if Winv is None:
        return None, "W is singular"
    blocks = _blocks(claim, n)
    r = _q(claim["radius"], "radius")
    theta = _q(claim["theta"], "theta")
    if r <= 0:
        return None, "radius must be positive"
    if not theta < 1:
        return None, "theta must be < 1"
    DF = eye(n)
    for j, z in enumerate(pts):
        pre = model.pre(z)
        DFW = matmul(DF, W)
        for u in model.kinks:
            sig = 1 if pre[u] > 0 else -1
            w = [-sig * x for x in _row_times(model.C[u], DFW)]
            if r * _block_max(blocks, w) > sig * pre[u]:
                return None, f"f^{j}(P) leaves the closed region of point {j} across unit {u}"
        DF = matmul(model.jacobian(z), DF)
    T = matmul(matmul(Winv, DF), W)
    for st, sz, _, facets in blocks:
        for h in facets:
            w = [sum((h[t] * T[st + t][j] for t in range(sz)), Fraction(0)) for j in range(n)]
            val = _block_max(blocks, w)
            if val > theta:
                return None, f"contraction bound {float(val):.6g} exceeds theta = {theta} on block at {st}"
    # half-spaces: P = {x : H W^{-1} (x - p_0) / r <= 1}
    H = []
    for st, sz, _, facets in blocks:
        for h in facets:
            row = [Fraction(0)] * n
            for t in range(sz):
                row[st + t] = h[t]
            H.append(row)
    G = [[x / r for x in _row_times(row, Winv)] for row in H]
    g = [1 + sum((a * b for a, b in zip(row, pts[0])), Fraction(0)) for row in G]
    return TrapPolytope(pts, G, g, theta), None


@register("trapping-polytope")
def check_trapping_polytope(model: CheckedMap, claim, cert=None) -> str | None:
    """A polytope P around a periodic point with f^k(P) ⊂ P, contracting (module docstring)."""
    _, reason = trap_polytope(model, claim)
    return reason


# ----------------------------------------------------------------------------- set iteration

def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def _int_rows(rows, offsets):
    """Rows of Fractions (+ offset) as (integer numerators, integer offset numerator, common denominator)."""
    out = []
    for row, off in zip(rows, offsets):
        Q = 1
        for v in row:
            Q = _lcm(Q, v.denominator)
        Q = _lcm(Q, off.denominator)
        out.append(([int(v * Q) for v in row], int(off * Q), Q))
    return out


class SetIterator:
    """Rigorous exact-integer iteration of ``X = {c + Σ_t e_t g_t + w : |e_t| <= 1, |w_i| <= ρ_i}``.

    ``scale`` = 2^precision · D; every value is an integer meaning value / scale: the centre
    ``c`` (n integers), the generators ``gens`` (a list of n-vectors) and the error radii
    ``rho``. Branch data per activity pattern are cached.
    """

    def __init__(self, model: CheckedMap, precision: int, denominator: int = 1):
        if not isinstance(precision, int) or isinstance(precision, bool) or not 8 <= precision <= _MAX_PRECISION:
            raise CheckInputError(f"precision_bits must be an integer in [8, {_MAX_PRECISION}]")
        self.model = model
        self.scale = (1 << precision) * denominator
        kinks = set(model.kinks)
        self.pre_rows = [(N, off * self.scale, [abs(a) for a in N], u in kinks)
                         for u, (N, off, _) in enumerate(_int_rows(model.C, model.d))]
        self._branches = {}
        self.exact = True

    def _branch(self, active):
        hit = self._branches.get(active)
        if hit is None:
            m = self.model
            n = m.n
            J = [[m.A[i][j] + sum((m.B[i][u] * m.C[u][j] for u in active), Fraction(0)) for j in range(n)]
                 for i in range(n)]
            c = [m.e[i] + sum((m.B[i][u] * m.d[u] for u in active), Fraction(0)) for i in range(n)]
            hit = [(N, off * self.scale, [abs(a) for a in N], Q) for N, off, Q in _int_rows(J, c)]
            self._branches[active] = hit
        return hit

    def activity(self, c, gens, rho):
        """Active units on the whole set, or (None, unit) if a bending unit changes sign on it."""
        active = []
        has_rho = any(rho)
        for u, (N, offS, absN, kink) in enumerate(self.pre_rows):
            mid = sum(map(mul, N, c)) + offS
            spread = 0
            for g in gens:
                d = sum(map(mul, N, g))
                spread += d if d >= 0 else -d
            if has_rho:
                spread += sum(map(mul, absN, rho))
            if mid - spread >= 0:
                if mid + spread > 0:
                    active.append(u)
            elif mid + spread > 0 and kink:
                return None, u
        return tuple(active), None

    def step(self, c, gens, rho, active):
        """The image of X under the affine branch of ``active``, rounded down to the scale,
        with every rounding remainder (and |J| ρ, rounded up) in the new error radii."""
        rows = self._branch(active)
        has_rho = any(rho)
        c2, rho2 = [], []
        gens2 = [[] for _ in gens]
        for N, offS, absN, Q in rows:
            q, rem = divmod(sum(map(mul, N, c)) + offS, Q)
            err = 1 if rem else 0
            for g, g2 in zip(gens, gens2):
                mq, mrem = divmod(sum(map(mul, N, g)), Q)
                g2.append(mq)
                if mrem:
                    err += 1
            rr = -((-sum(map(mul, absN, rho))) // Q) if has_rho else 0
            c2.append(q)
            rho2.append(rr + err)
        if any(rho2):
            self.exact = False
        return c2, gens2, rho2

    def inside(self, c, gens, rho, rows) -> bool:
        """X ⊂ {x : N x <= −off} for integer rows (N, off, Q) (row i of G x <= g times Q_i)."""
        S = self.scale
        has_rho = any(rho)
        for N, off, _ in rows:
            val = sum(map(mul, N, c))
            for g in gens:
                d = sum(map(mul, N, g))
                val += d if d >= 0 else -d
            if has_rho:
                val += sum(abs(a) * r for a, r in zip(N, rho))
            if val > -off * S:
                return False
        return True

    def run(self, c, gens, rho, rows, steps: int):
        """Iterate ``steps`` times, then check X ⊂ target rows; (steps, None) or (None, reason)."""
        for t in range(steps):
            active, bad = self.activity(c, gens, rho)
            if active is None:
                return None, f"the set straddles the kink of unit {bad} after {t} steps"
            c, gens, rho = self.step(c, gens, rho, active)
        if self.inside(c, gens, rho, rows):
            return steps, None
        return None, f"the set is not inside the target after {steps} steps"


def _grid_set(grid_vectors, entry, scale):
    """(c, gens, rho) of the parallelogram of an entry, as integers over the scale (exact)."""
    o, u, v = grid_vectors
    i0, j0, i1, j1 = entry
    ci, cj = Fraction(i0 + i1, 2), Fraction(j0 + j1, 2)
    hi, hj = Fraction(i1 - i0, 2), Fraction(j1 - j0, 2)
    gens = [[x * h * scale for x in g] for g, h in ((u, hi), (v, hj)) if h != 0 and any(x != 0 for x in g)]
    centre = [a + ci * b + cj * w for a, b, w in zip(o, u, v)]
    c = [x * scale for x in centre]
    if any(x.denominator != 1 for x in c) or any(x.denominator != 1 for g in gens for x in g):
        raise CheckInputError("grid data do not fit the scale (internal error)")
    return [int(x) for x in c], [[int(x) for x in g] for g in gens], [0] * len(o)


def _find_claim(cert, cid):
    for cl in (cert or {}).get("claims", []):
        if isinstance(cl, dict) and cl.get("id") == cid:
            return cl
    return None


def block_rows(grid_vectors, block):
    """Half-spaces (integer rows as for :meth:`SetIterator.inside`) of the parallelogram of a
    grid block ``(i0, j0, i1, j1)`` when it is full-dimensional in R^n (n <= 2), else None.

    With centre m and generators g_1..g_n (the non-zero ones of (i1 − i0)/2 u, (j1 − j0)/2 v),
    the block is {x : |(G^{-1} (x − m))_r| <= 1 for every r}.
    """
    o, u, v = grid_vectors
    n = len(o)
    i0, j0, i1, j1 = block
    gens = [[x * Fraction(i1 - i0, 2) for x in u], [x * Fraction(j1 - j0, 2) for x in v]]
    gens = [g for g in gens if any(x != 0 for x in g)]
    if len(gens) != n:
        return None
    Gm = [[gens[c][r] for c in range(n)] for r in range(n)]
    Ginv = _inverse(Gm)
    if Ginv is None:
        return None
    m = [a + Fraction(i0 + i1, 2) * b + Fraction(j0 + j1, 2) * w for a, b, w in zip(o, u, v)]
    rows, rhs = [], []
    for r in range(n):
        off = sum((Ginv[r][k] * m[k] for k in range(n)), Fraction(0))
        rows.append(Ginv[r])
        rhs.append(1 + off)
        rows.append([-x for x in Ginv[r]])
        rhs.append(1 - off)
    return _int_rows(rows, [-x for x in rhs])


@register("basin-labels")
def check_basin_labels(model: CheckedMap, claim, cert=None) -> str | None:
    """Every grid set of the claim enters the referenced trapping polytope (module docstring).

    The set is iterated exactly ``steps`` times and must then lie in the target. An entry may
    have a sixth integer, the index k of an *earlier* entry of the same claim whose block is
    full-dimensional (n <= 2): then the set only has to enter that block,
    every point of which was already shown to enter the trap (entries are checked in order).
    """
    n = model.n
    tclaim = _find_claim(cert, claim["trap"])
    if tclaim is None or tclaim.get("type") != "trapping-polytope":
        return f"no trapping-polytope claim with id {claim['trap']!r} in the certificate"
    trap, reason = trap_polytope(model, tclaim)
    if trap is None:
        return f"trap {claim['trap']}: {reason}"
    grid = claim["grid"]
    o = qvec(grid["origin"], n, "grid.origin")
    u = qvec(grid["u"], n, "grid.u")
    v = qvec(grid["v"], n, "grid.v")
    D = 2
    for x in o + u + v:
        D = _lcm(D, x.denominator)
    prec = claim.get("precision_bits", DEFAULT_PRECISION)
    it = SetIterator(model, prec, D)
    trap_rows = _int_rows(trap.G, [-x for x in trap.g])
    entries = claim["entries"]
    if not isinstance(entries, list):
        raise CheckInputError("'entries' must be a list")
    target_rows = {}
    for e_idx, e in enumerate(entries):
        if not isinstance(e, list) or len(e) not in (5, 6) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in e):
            raise CheckInputError(f"entry {e_idx}: expected [i0, j0, i1, j1, steps] or [..., steps, target] (integers)")
        i0, j0, i1, j1, steps = e[:5]
        if i1 < i0 or j1 < j0 or not 0 <= steps <= MAX_STEPS:
            raise CheckInputError(f"entry {e_idx}: need i0 <= i1, j0 <= j1 and 0 <= steps <= {MAX_STEPS}")
        rows = trap_rows
        if len(e) == 6:
            k = e[5]
            if not 0 <= k < e_idx:
                return f"entry {e_idx}: target {k} is not an earlier entry"
            if k not in target_rows:
                target_rows[k] = block_rows((o, u, v), tuple(entries[k][:4]))
            rows = target_rows[k]
            if rows is None:
                return f"entry {e_idx}: target {k} is not a full-dimensional block"
        c, gens, rho = _grid_set((o, u, v), (i0, j0, i1, j1), it.scale)
        _, why = it.run(c, gens, rho, rows, steps)
        if why is not None:
            return f"entry {e_idx} {e[:4]}: {why}" + ("" if len(e) == 5 else f" (target: entry {e[5]})")
    return None
