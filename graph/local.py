"""Local stable / unstable pieces of a saddle fixed point or cycle, proven invariant (DESIGN §6).

For a hyperbolic orbit p_0 → p_1 → … → p_{k−1} → p_0 (regions s_0 … s_{k−1}, all points
strictly inside their regions) and ``F = f_{s_{k−1}} ∘ … ∘ f_{s_0}`` (affine near p_0), the
local piece is

    L = { p_0 + V W (r c) : c ∈ B },

where V spans E^u (resp. E^s) of DF at p_0 (:mod:`symbolic.eigenspaces`), ``M`` is DF
restricted to E in that basis, ``T = M^{-1}`` (unstable) resp. ``T = M`` (stable), and B is
the unit ball of an *adapted polytope norm* in coordinates c = W^{-1} a:

* W comes from the real Schur form of T: 1×1 blocks (real eigenvalues) get an interval
  [−1, 1], 2×2 blocks (complex pairs) are brought to rotation–scaling form ρR(θ) and get a
  polygon inscribed in the unit circle with rational vertices (Pythagorean points), with
  enough sides N that ρ < cos(π/N); the block-triangular coupling (Jordan blocks,
  non-normal parts) is made small by the scaling W → W diag(ε^i) (block i).
* B is the product of these block polytopes, so ``max_{c ∈ B} ℓ(c)`` of a linear function
  splits into a sum over blocks of maxima over each block's few vertices.

Proven (exactly over Q when E is rational, else with Arb balls around the exact subspace):

1. ``T_c B ⊂ θ B`` with θ < 1 (``T_c = W^{-1} T W``): for every facet ``h·c_i ≤ 1`` of
   every block, ``Σ_j max_{v ∈ B_j} h·(T_c)_{ij} v ≤ θ``. Hence F^{-1}(L) ⊂ L (unstable:
   every point of L has a backward F-orbit in L converging to p_0) resp. F(L) ⊂ L (stable:
   forward orbits stay in L and converge to p_0).
2. ``f^j(L) ⊂ R_{s_j}`` (open region) for j = 0 … k−1: for every hyperplane i,
   ``r · max_{c ∈ B} (−σ_i C_i DF_j V W c) < σ_i (C_i p_j + d_i)``; so f acts on these sets
   as the affine branches and the claims in 1. are about the true map f.

Together: L ⊂ W^u (resp. W^s) of the orbit. For the unstable side the fundamental domain
``D = L \\ F^{-1}(L)`` is returned as convex pieces ``{c ∈ B : (H T_c^{-1})_i c ≥ 1,
(H T_c^{-1})_j c ≤ 1 (j < i)}``, so that W^u = ∪_{j<k} f^j(L) ∪ ∪_{m ≥ k} f^m(D) without
re-tracing L.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from symbolic.orbits import find_orbits
>>> m = load_model(example_path("bistable"))
>>> saddle = next(o for o in find_orbits(m, 1).orbits if o.type == "saddle")
>>> loc = local_piece(m, saddle, "stable")
>>> loc.proven, loc.exact, loc.piece.region, loc.contraction
(True, True, '11', Fraction(1, 2))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import numpy as np

from symbolic.eigenspaces import (
    _precision, arb_of_interval, cycle_jacobians, interval_of_arb, invariant_subspace,
)
from symbolic.linalg import identity
from symbolic.pieces import Piece, _dyadic, _q, chebyshev, make_piece
from symbolic.rationals import column, fraction_of, to_float

__all__ = ["LocalPiece", "local_piece", "AdaptedNorm", "adapted_norm", "rational_polygon"]


# ----------------------------------------------------------------------------- polytope blocks

def rational_polygon(N: int) -> list[tuple[Fraction, Fraction]]:
    """N rational points exactly on the unit circle, near the regular N-gon's vertices.

    (x, y) = ((1 − t²)/(1 + t²), 2t/(1 + t²)) with t a short dyadic near tan(φ/2).
    """
    pts = []
    for j in range(N):
        phi = -math.pi + (2 * math.pi * (j + 0.5)) / N          # avoids φ = π exactly
        t = _dyadic(math.tan(phi / 2), 30)
        pts.append(((1 - t * t) / (1 + t * t), 2 * t / (1 + t * t)))
    return pts


def _polygon_facets(V: list[tuple[Fraction, Fraction]]) -> list[tuple[Fraction, Fraction]]:
    """Facets h·c <= 1 of the convex polygon with counter-clockwise vertices V (origin inside)."""
    H = []
    for (x0, y0), (x1, y1) in zip(V, V[1:] + V[:1]):
        nx, ny = y1 - y0, x0 - x1                  # outward normal for ccw order
        c = nx * x0 + ny * y0
        H.append((nx / c, ny / c))
    return H


@dataclass
class AdaptedNorm:
    """Product polytope B = Π B_j in coordinates c = W^{-1} a (blocks of size 1 or 2).

    ``blocks``: list of (start index, size); ``verts[j]`` / ``facets[j]``: rational vertices
    and facets (h·c_j <= 1) of block j. ``W`` rational (fmpq_mat k×k); ``theta``: proven
    bound with T_c B ⊂ θ B; ``Tc``: W^{-1} T W (fmpq_mat, or arb_mat when enclosed).
    """

    W: flint.fmpq_mat
    blocks: list
    verts: list
    facets: list
    theta: Fraction
    Tc: object
    N: int
    eps: Fraction

    def facet_matrix(self) -> tuple[list[list[Fraction]], list[Fraction]]:
        """(H, 1) with B = {c : H c <= 1}, rows over the full c-vector."""
        k = sum(sz for _, sz in self.blocks)
        H = []
        for (st, sz), fac in zip(self.blocks, self.facets):
            for h in fac:
                row = [Fraction(0)] * k
                for t in range(sz):
                    row[st + t] = h[t]
                H.append(row)
        return H, [Fraction(1)] * len(H)

    def block_max(self, w, exact: bool):
        """max_{c ∈ B} w·c, split over blocks (w: Fractions, or arb balls -> rational upper bound)."""
        total = Fraction(0)
        for (st, sz), vs in zip(self.blocks, self.verts):
            best = None
            for v in vs:
                val = sum((w[st + t] * v[t] for t in range(sz)), Fraction(0)) if exact else \
                    _upper(sum((w[st + t] * _arb(v[t]) for t in range(sz)), flint.arb(0)))
                best = val if best is None or val > best else best
            total += best
        return total


def _arb(q: Fraction) -> flint.arb:
    return arb_of_interval(q, q)


def _upper(x: flint.arb) -> Fraction:
    return interval_of_arb(x)[1]


def _schur_adapted(Tf: np.ndarray):
    """Float W1 with W1^{-1} T W1 block upper-triangular: 1×1 real, 2×2 rotation-scaling blocks."""
    from scipy.linalg import schur

    k = Tf.shape[0]
    S, Z = schur(Tf, output="real")
    blocks, i = [], 0
    while i < k:
        if i + 1 < k and abs(S[i + 1, i]) > 1e-14 * max(1.0, np.abs(S).max()):
            blocks.append((i, 2))
            i += 2
        else:
            blocks.append((i, 1))
            i += 1
    Vb = np.eye(k)
    for st, sz in blocks:
        if sz == 2:
            Bk = S[st:st + 2, st:st + 2]
            w, v = np.linalg.eig(Bk)
            j = int(np.argmax(w.imag))
            vec = v[:, j]
            # Bk [Re v, Im v] = [Re v, Im v] [[α, β], [−β, α]] for λ = α + iβ; flip Im to get ρR(θ)
            Vb[st:st + 2, st:st + 2] = np.column_stack([vec.real, -vec.imag])
    return Z @ Vb, blocks


def adapted_norm(T, exact: bool, max_tries: int = 12) -> AdaptedNorm:
    """An adapted product-polytope norm in which T is a proven contraction (θ < 1).

    ``T``: fmpq_mat (exact) or arb_mat (enclosure) with spectral radius < 1.
    """
    k = T.nrows()
    Tf = to_float(T) if exact else np.array([[float(T[i, j].mid()) for j in range(k)] for i in range(k)])
    W1, blocks = _schur_adapted(Tf)
    radius = max(abs(np.linalg.eigvals(Tf))) if k else 0.0
    S = np.linalg.solve(W1, Tf @ W1)
    rho2 = [np.abs(np.linalg.eigvals(S[st:st + 2, st:st + 2])).max() if sz == 2 else 0.0 for st, sz in blocks]
    N = 8
    while any(r > math.cos(math.pi / N) - (1 - radius) / 4 for r in rho2) and N < 4096:
        N *= 2
    target = 1 - (1 - radius) / 8
    # the coupling between Schur blocks i < j is scaled by eps^(j - i); eps = 2^-m, as large as
    # possible (a float estimate first), so that rounding errors are not blown up by eps^-(j - i)
    m = 1
    while m < 60 and _contraction_float(S, blocks, N, 2.0 ** -m) > target:
        m += 1
    W1q = flint.fmpq_mat(k, k)
    for i in range(k):
        for j in range(k):
            W1q[i, j] = _q(Fraction(float(W1[i, j])))              # exact binary value of the float
    for _ in range(max_tries):
        eps = Fraction(1, 2 ** m)
        D = flint.fmpq_mat(k, k)
        for b, (st, sz) in enumerate(blocks):
            for t in range(sz):
                D[st + t, st + t] = _q(eps ** b)
        W = W1q * D
        try:
            Winv = W.inv()
        except ZeroDivisionError:
            raise RuntimeError("adapted basis is singular") from None
        if exact:
            Tc = Winv * T * W
        else:
            Tc = flint.arb_mat(Winv) * T * flint.arb_mat(W)
        poly = rational_polygon(N)
        verts = [[(Fraction(1),), (Fraction(-1),)] if sz == 1 else poly for _, sz in blocks]
        facets = [[(Fraction(1),), (Fraction(-1),)] if sz == 1 else _polygon_facets(poly) for _, sz in blocks]
        norm = AdaptedNorm(W, blocks, verts, facets, Fraction(0), Tc, N, eps)
        theta = _contraction_bound(norm, Tc, exact)
        if theta < 1:
            norm.theta = theta
            return norm
        m += 1
        N = min(2 * N, 8192)
    raise RuntimeError("could not build an adapted norm (spectral radius too close to 1?)")


def _contraction_float(S: np.ndarray, blocks, N: int, eps: float) -> float:
    """Float estimate of θ for the block-scaled S (intervals / regular N-gons), untrusted."""
    k = S.shape[0]
    scale = np.ones(k)
    for b, (st, sz) in enumerate(blocks):
        scale[st:st + sz] = eps ** b
    Tc = S * scale[None, :] / scale[:, None]
    ang = -np.pi + 2 * np.pi * (np.arange(N) + 0.5) / N
    P = np.column_stack([np.cos(ang), np.sin(ang)])
    Hp = np.array([[(b[1] - a[1]), (a[0] - b[0])] for a, b in zip(P, np.roll(P, -1, axis=0))])
    Hp = Hp / np.einsum("ij,ij->i", Hp, P)[:, None]
    verts = [np.array([[1.0], [-1.0]]) if sz == 1 else P for _, sz in blocks]
    facets = [np.array([[1.0], [-1.0]]) if sz == 1 else Hp for _, sz in blocks]
    theta = 0.0
    for (st, sz), F in zip(blocks, facets):
        W = F @ Tc[st:st + sz, :]                     # (facets, k)
        tot = np.zeros(len(F))
        for (st2, sz2), V in zip(blocks, verts):
            tot += np.max(W[:, st2:st2 + sz2] @ V.T, axis=1)
        theta = max(theta, float(tot.max()))
    return theta


def _contraction_bound(norm: AdaptedNorm, Tc, exact: bool) -> Fraction:
    """θ = max over facets h of block i of Σ_j max_{v ∈ B_j} h·(Tc)_{ij} v (a proven bound)."""
    theta = Fraction(0)
    k = Tc.nrows()
    for (st, sz), fac in zip(norm.blocks, norm.facets):
        for h in fac:
            # w = h^T (Tc)[block i rows, :]  (a row over all of c)
            if exact:
                w = [sum((h[t] * fraction_of(Tc[st + t, j]) for t in range(sz)), Fraction(0)) for j in range(k)]
            else:
                w = [sum((_arb(h[t]) * Tc[st + t, j] for t in range(sz)), flint.arb(0)) for j in range(k)]
            theta = max(theta, norm.block_max(w, exact))
    return theta


# ----------------------------------------------------------------------------- the local piece

@dataclass
class LocalPiece:
    """A proven local stable/unstable piece of an orbit (see the module docstring).

    ``piece``: L at p_0 (depth 0, region s_0); ``core``: F^{-1}(L) (unstable only) and
    ``fundamental``: the pieces of L \\ F^{-1}(L) (unstable only), all in L's parameters;
    ``subspace``: the :class:`InvariantSubspace` at p_0; ``norm``: the adapted norm;
    ``radius``: r; ``proven``: both proofs passed (search-side exact proofs; the independent checker does not re-check local pieces, so they are never called certified); ``exact``: piece data exact over Q.
    """

    side: str
    period: int
    dim: int
    piece: Piece
    core: Piece | None
    fundamental: list
    subspace: object
    norm: AdaptedNorm
    radius: Fraction
    proven: bool
    exact: bool
    message: str = ""
    checks: dict = field(default_factory=dict)

    @property
    def contraction(self) -> Fraction:
        """Proven θ < 1 with T_c B ⊂ θ B (T = F^{-1}|E^u or F|E^s in adapted coordinates)."""
        return self.norm.theta

    def to_json(self) -> dict:
        return {"side": self.side, "dimension": self.dim, "proven": self.proven, "exact": self.exact,
                "contraction_upper": str(self.norm.theta), "radius": str(self.radius),
                "blocks": [sz for _, sz in self.norm.blocks], "polygon_sides": self.norm.N,
                "subspace": self.subspace.to_json(), "message": self.message}


def _prefix_jacobians(model, regions) -> list[flint.fmpq_mat]:
    """DF_j = J_{s_{j−1}} ··· J_{s_0} for j = 0 … k−1 (DF_0 = I)."""
    out = [identity(model.n)]
    for s in regions[:-1]:
        out.append(model.jacobian(s) * out[-1])
    return out


def _region_radius(model, orbit, VW, norm: AdaptedNorm, exact: bool) -> tuple[Fraction, dict]:
    """Largest r (proven) with f^j(L_r) inside the open region s_j for every j; half of it is used."""
    best = None
    worst = None
    DFs = _prefix_jacobians(model, orbit.regions)
    k = VW.ncols()
    for j, (pj, sj) in enumerate(zip(orbit.points, orbit.regions)):
        pcol = column(pj)
        pre = model.C * pcol + model.d
        if exact:
            A = model.C * DFs[j] * VW                     # L × k
        else:
            A = flint.arb_mat(model.C * DFs[j]) * VW
        for i in range(model.L):
            sig = 1 if sj[i] == "1" else -1
            margin = sig * fraction_of(pre[i, 0])
            if margin <= 0:
                raise ValueError(f"orbit point {j} is not strictly inside region {sj} (hyperplane {i})")
            w = [-sig * fraction_of(A[i, t]) for t in range(k)] if exact else [A[i, t] * (-sig) for t in range(k)]
            spread = norm.block_max(w, exact)
            if spread > 0:
                r = margin / spread
                if best is None or r < best:
                    best, worst = r, (j, i)
    return best, {"limiting": worst}


def local_piece(model, orbit, side: str, prec_bits: int = 128, max_radius: Fraction | None = None,
                tol: float = 1e-12, box=None) -> LocalPiece:
    """The proven local piece of ``orbit`` (an :class:`symbolic.orbits.Orbit`) on ``side``.

    Raises ValueError for orbits without the requested subspace or on a region boundary.
    ``max_radius`` caps r; with a ``box`` the piece is also kept within the box's size
    (when the subspace runs parallel to every hyperplane the regions do not bound it).
    """
    if side not in ("stable", "unstable"):
        raise ValueError("side must be 'stable' or 'unstable'")
    if orbit.stability is None or orbit.type in ("boundary", "continuum") or any(any(b) for b in orbit.boundary):
        raise ValueError(f"orbit {orbit.id or '?'} is not an isolated orbit strictly inside its regions")
    P0 = cycle_jacobians(model, orbit.regions)[0]
    E = invariant_subspace(P0, side, prec_bits)
    if E.dim == 0:
        raise ValueError(f"orbit {orbit.id or '?'} has no {side} directions")
    exact = E.exact
    k = E.dim
    with _precision(E.prec_bits):
        M = E.restriction(P0)
        if side == "unstable":
            T = M.inv() if exact else M.solve(flint.arb_mat(identity(k)))
        else:
            T = M
        norm = adapted_norm(T, exact)
        if exact:
            VW = E.basis_exact * norm.W
        else:
            VW = E.arb_basis() * flint.arb_mat(norm.W)
        rmax, info = _region_radius(model, orbit, VW, norm, exact)
        scale = max([1.0] + [abs(float(v)) for p in orbit.points for v in p])
        cap = Fraction(max_radius) if max_radius is not None else _dyadic(1e3 * scale, 10)
        if box is not None:
            for i in range(model.n):
                row = [VW[i, t] if not exact else fraction_of(VW[i, t]) for t in range(k)]
                neg = [-v for v in row]
                spread = max(norm.block_max(row, exact), norm.block_max(neg, exact))
                width = Fraction(box[1][i]) - Fraction(box[0][i])
                if spread > 0:
                    cap = min(cap, width / spread)
        r = cap if rmax is None else min(cap, rmax / 2)
        r = _dyadic(float(r) * (1 - 1e-9), 20)
        if rmax is not None and not r < rmax:
            r = rmax / 2
        # basis of L: V W r (exact) or its midpoint (floats)
        if exact:
            U = VW * _q(r)
        else:
            U = np.array([[float((lambda iv: (iv[0] + iv[1]) / 2)(interval_of_arb(VW[i, j]))) for j in range(k)]
                          for i in range(model.n)]) * float(r)
    H, ones = norm.facet_matrix()
    p0 = orbit.points[0]
    tags = dict(region=orbit.regions[0], itinerary=(), depth=0, info={"local": True, "side": side})
    if exact:
        Gq = flint.fmpq_mat(len(H), k)
        for a, row in enumerate(H):
            for b, v in enumerate(row):
                Gq[a, b] = _q(v)
        L = Piece(column(p0), U, Gq, column(ones), True, **tags)
    else:
        L = Piece(np.array([float(v) for v in p0]), U, np.array([[float(v) for v in row] for row in H]),
                  np.ones(len(H)), False, **tags)
    core, fund = None, []
    if side == "unstable":
        core, fund = _fundamental_domain(L, norm, exact, tol)
    msg = (f"{side} local piece of dimension {k}: adapted norm with {len(norm.blocks)} block(s)"
           f" (polygon sides {norm.N}), contraction θ <= {float(norm.theta):.6g}, radius r = {float(r):.6g}; "
           + ("exact over Q" if exact else f"subspace enclosed at {E.prec_bits} bits (Arb); piece data are floats"))
    return LocalPiece(side, len(orbit.regions), k, L, core, fund, E, norm, r, True, exact, msg,
                      {"theta": norm.theta, "region_radius": rmax, **info})


def _fundamental_domain(L: Piece, norm: AdaptedNorm, exact: bool, tol: float):
    """core = T_c B = {c ∈ B : H T_c^{-1} c <= 1}; D_i = {c ∈ B : (H T_c^{-1})_i c >= 1, earlier rows <= 1}."""
    k = L.k
    Tc = norm.Tc
    if exact:
        Mc = Tc.inv()
        HM = L.G * Mc
        one = column([1] * HM.nrows())
        core = L.with_(G=_stack(L.G, HM), g=_stack(L.g, one), info={**L.info, "core": True})
    else:
        Tf = np.array([[float(Tc[i, j].mid()) for j in range(k)] for i in range(k)])
        HM = L.Gf @ np.linalg.inv(Tf)
        core = Piece(L.of, L.Uf, np.vstack([L.Gf, HM]), np.concatenate([L.gf, np.ones(len(HM))]), False,
                     L.region, L.itinerary, 0, (), {**L.info, "core": True})
    fund = []
    m = HM.nrows() if exact else HM.shape[0]
    for i in range(m):
        if exact:
            rows = [L.G, _neg_row(HM, i), _rows(HM, range(i))]
            rhs = [L.g, column([-1]), column([1] * i)]
            G, g = rows[0], rhs[0]
            for Rr, rr in zip(rows[1:], rhs[1:]):
                G, g = _stack(G, Rr), _stack(g, rr)
            D = Piece(L.origin, L.basis, G, g, True, L.region, (), 0, (), {**L.info, "fundamental": i})
        else:
            G = np.vstack([L.Gf, -HM[i:i + 1], HM[:i]])
            g = np.concatenate([L.gf, [-1.0], np.ones(i)])
            D = Piece(L.of, L.Uf, G, g, False, L.region, (), 0, (), {**L.info, "fundamental": i})
        r, c = chebyshev(D)
        if c is not None and r > tol:
            fund.append(D)
    return core, fund


def _stack(A, B):
    from symbolic.pieces import _qvstack

    return _qvstack(A, B)


def _rows(M, idx):
    from symbolic.pieces import _qrows

    return _qrows(M, list(idx))


def _neg_row(M, i):
    from symbolic.pieces import _qrows

    return _qrows(M, [i]) * -1
