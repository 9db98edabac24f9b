"""The reference paper's quality metric Δσ for a traced manifold (REFERENCE.md, step 5).

For a point x0 and the orbit p (distance to the nearest orbit point),

    δσ(x0) = min_{1 <= k <= K} ‖F^k(x0) − p‖² / ‖x0 − p‖²,

with F = f for stable manifolds and F = f^{-1} for unstable ones. With δσ_max the largest
δσ over on-manifold points, I_U(x) = [δσ(x) > δσ_max] for random points x of the box U, and

    Δσ = ⟨I_U⟩ − median_{x on the manifold} δσ(x)          (1 = best).

The inverse for unstable manifolds: points sampled on our pieces go back along the branch
that produced them (the piece's itinerary, then the orbit's regions backwards), exactly as
a point of W^u has a backward orbit to p. Random box points (and point clouds without
provenance) use a branch-by-branch inverse: a preimage of y is any
``x_t = J_t^{-1}(y − c_t)`` in the closure of its region t (t over the cells meeting the
box, invertible J_t only); when several branches are valid (non-invertible maps) the one
nearest to the orbit is used (a greedy choice in the spirit of the reference's Algorithm
2); points without a preimage stop there. Everything is float and vectorised: this is a
*numerical* quality score (backward iteration along W^u is unstable in floats, so deep
points lose the manifold after ~ 16 / log10(1/|λ_s|) steps), not a proof.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.manifolds import trace_manifold
>>> m = load_model(example_path("bistable"))
>>> q = delta_sigma(m, trace_manifold(m, "P1-3", "stable"), n_manifold=200, n_box=200)
>>> q.delta_sigma > 0.9
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from symbolic.pieces import sample, sample_params
from symbolic.rationals import fraction_of
from symbolic.regions import bits_to_array

__all__ = ["Quality", "delta_sigma", "delta_sigma_points", "sample_manifold", "BranchInverse", "ItineraryInverse"]


@dataclass
class Quality:
    """Δσ and its parts: ``I_mean`` = ⟨I_U⟩, ``median`` / ``max`` of δσ on the manifold."""

    delta_sigma: float
    I_mean: float
    median: float
    max: float
    K: int
    n_manifold: int
    n_box: int
    seconds: float
    delta_manifold: np.ndarray
    delta_box: np.ndarray

    def to_json(self) -> dict:
        return {"delta_sigma": self.delta_sigma, "I_mean": self.I_mean, "median_manifold": self.median,
                "max_manifold": self.max, "K": self.K, "n_manifold": self.n_manifold, "n_box": self.n_box,
                "seconds": round(self.seconds, 4)}


class BranchInverse:
    """Vectorised branch-wise inverse of f over a list of regions (see the module docstring).

    With ``image_lo/hi`` (bounding boxes of f_t(R_t), e.g. from :class:`graph.stable.CellIndex`)
    only the branches whose image box holds the point are solved.
    """

    def __init__(self, model, regions, orbit_points: np.ndarray, image_lo=None, image_hi=None):
        self.model = model
        regs = list(regions)
        n = model.n
        if regs:
            J, c = model.affine_pieces_float(bits_to_array(regs, model.L))
        else:
            J, c = np.zeros((0, n, n)), np.zeros((0, n))
        ok = np.abs(np.linalg.det(J)) > 1e-12 if len(regs) else np.zeros(0, bool)
        self.bits = bits_to_array([r for r, o in zip(regs, ok) if o], model.L)
        self.sig = np.where(self.bits, 1.0, -1.0)
        self.Jinv = np.linalg.inv(J[ok]) if ok.any() else np.zeros((0, n, n))
        self.c = c[ok]
        self.lo = None if image_lo is None else np.asarray(image_lo)[ok]
        self.hi = None if image_hi is None else np.asarray(image_hi)[ok]
        self.orbit = orbit_points

    def __call__(self, Y: np.ndarray):
        """(X, found): preimages (nan where none) of the rows of Y."""
        N, n = Y.shape
        out = np.full_like(Y, np.nan)
        T = len(self.c)
        if T == 0 or N == 0:
            return out, np.zeros(N, bool)
        if self.lo is not None:
            cand = np.all((Y[:, None, :] >= self.lo[None]) & (Y[:, None, :] <= self.hi[None]), axis=2)
        else:
            cand = np.ones((N, T), bool)
        ii, tt = np.nonzero(cand)
        best = np.full(N, np.inf)
        for s in range(0, len(ii), 200_000):
            i, t = ii[s:s + 200_000], tt[s:s + 200_000]
            X = np.einsum("kij,kj->ki", self.Jinv[t], Y[i] - self.c[t])
            pre = X @ self.model.Cf.T + self.model.df
            valid = np.all(self.sig[t] * pre >= -1e-9 * np.maximum(1.0, np.abs(pre)), axis=1) & np.all(np.isfinite(X), axis=1)
            if not valid.any():
                continue
            i, X = i[valid], X[valid]
            d = _orbit_dist(X, self.orbit)
            order = np.lexsort((d, i))                  # nearest to the orbit per point
            i, X, d = i[order], X[order], d[order]
            first = np.ones(len(i), bool)
            first[1:] = i[1:] != i[:-1]
            for a, x, dd in zip(i[first], X[first], d[first]):
                if dd < best[a]:
                    best[a] = dd
                    out[a] = x
        found = np.isfinite(best)
        return out, found


def _orbit_dist(X: np.ndarray, P: np.ndarray) -> np.ndarray:
    return np.min(np.linalg.norm(X[:, None, :] - P[None], axis=2), axis=1)


class ItineraryInverse:
    """Backward steps along known branches: ``schedule[i]`` lists point i's regions, latest first.

    After the schedule runs out, the orbit's regions are used backwards (cyclically).
    """

    def __init__(self, model, schedules: list, orbit_regions):
        self.model = model
        self.schedules = schedules
        self.cycle = list(orbit_regions)
        self._inv = {}

    def _branch(self, r):
        if r not in self._inv:
            J, c = self.model.affine_pieces_float(bits_to_array([r], self.model.L))
            self._inv[r] = (np.linalg.pinv(J[0]), c[0])
        return self._inv[r]

    def region(self, i: int, k: int) -> str:
        sch = self.schedules[i]
        if k < len(sch):
            return sch[k]
        j = k - len(sch)
        return self.cycle[(-1 - j) % len(self.cycle)]

    def __call__(self, X: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
        out = np.empty_like(X)
        regs = [self.region(int(i), k) for i in idx]
        for r in set(regs):
            sel = np.array([q == r for q in regs])
            Jinv, c = self._branch(r)
            out[sel] = (X[sel] - c) @ Jinv.T
        return out


def _delta(model, X0: np.ndarray, P: np.ndarray, K: int, step) -> np.ndarray:
    """δσ for the rows of X0; ``step(X, k, idx)`` maps the alive rows idx at step k."""
    d0 = _orbit_dist(X0, P) ** 2
    best = np.full(len(X0), np.inf)
    X = X0.copy()
    alive = np.ones(len(X0), bool)
    for k in range(K):
        if not alive.any():
            break
        Xn = X.copy()
        Xn[alive] = step(X[alive], k, np.nonzero(alive)[0])
        bad = ~np.all(np.isfinite(Xn), axis=1) | (np.abs(Xn).max(axis=1, initial=0) > 1e12)
        alive &= ~bad
        X = np.where(alive[:, None], Xn, X)
        r = _orbit_dist(X, P) ** 2 / np.maximum(d0, 1e-300)
        best = np.where(alive, np.minimum(best, r), best)
    return best


def sample_manifold(result, N: int, seed: int = 0, with_pieces: bool = False):
    """About N float points spread over the pieces (a random subset of pieces, equal shares).

    With ``with_pieces`` also returns the index of the piece each point comes from.
    """
    rng = np.random.default_rng(seed)
    pieces = [i for i, p in enumerate(result.pieces) if p.k > 0]
    if not pieces:
        X = np.zeros((0, result.local.piece.n))
        return (X, np.zeros(0, int)) if with_pieces else X
    per = max(1, N // len(pieces))
    chosen = [pieces[i] for i in rng.permutation(len(pieces))[: max(1, N // per)]]
    X = np.concatenate([sample(result.pieces[i], per, rng) for i in chosen])
    owner = np.repeat(chosen, per)
    return (X, owner) if with_pieces else X


def delta_sigma_points(model, orbit_points: np.ndarray, side: str, manifold_points: np.ndarray, box,
                       cells=None, n_box: int = 2000, K: int = 60, seed: int = 0,
                       manifold_inverse=None) -> Quality:
    """Δσ for a manifold given by points (ours sampled from pieces, or a baseline's).

    ``cells``: a :class:`graph.stable.CellIndex` of the box (built when needed for the
    inverse); ``manifold_inverse``: optional step(X, k, idx) for the manifold points
    (unstable side), e.g. an :class:`ItineraryInverse`; default: the greedy branch inverse.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    lo, hi = (np.array([float(v) for v in b]) for b in box)
    P = np.asarray(orbit_points, float)
    if side == "stable":
        step = lambda X, k, idx: model.f(X)
        mstep = step
    else:
        if cells is None:
            from .stable import CellIndex

            cells = CellIndex(model, box)
        inv = BranchInverse(model, cells.cells, P, cells.image_lo, cells.image_hi)
        step = lambda Y, k, idx: inv(Y)[0]
        mstep = manifold_inverse or step
    U = lo + (hi - lo) * rng.uniform(size=(n_box, len(lo)))
    dm = _delta(model, np.asarray(manifold_points, float), P, K, mstep)
    db = _delta(model, U, P, K, step)
    finite = dm[np.isfinite(dm)]
    dmax = float(finite.max()) if len(finite) else np.inf
    med = float(np.median(finite)) if len(finite) else np.inf
    I = float(np.mean(db > dmax))
    return Quality(I - med, I, med, dmax, K, len(dm), n_box, time.perf_counter() - t0, dm, db)


def _tc_float(local) -> np.ndarray:
    Tc = local.norm.Tc
    k = Tc.nrows()
    if local.exact:
        return np.array([[float(fraction_of(Tc[i, j])) for j in range(k)] for i in range(k)])
    return np.array([[float(Tc[i, j].mid()) for j in range(k)] for i in range(k)])


def orbits_along_pieces(model, result, owner: np.ndarray, B: np.ndarray, K: int) -> np.ndarray:
    """Orbits (N, K + 1, n) of manifold points given as (piece index, parameters).

    Stable side: forward orbits f^j(x); unstable side: the backward orbit along the branch
    that produced the point. Both are followed in the pieces' parameters (``info["chain"]``)
    down to the local piece, then with the local linear dynamics T_c in adapted coordinates
    (one step of F = f^k; the k − 1 intermediate points of a cycle by float branch steps), so
    that no rounding error is amplified along the unstable (resp. stable) direction.
    """
    n = model.n
    out = np.full((len(B), K + 1, n), np.nan)
    Tc = _tc_float(result.local)
    p0 = np.array([float(v) for v in result.orbit.points[0]])
    regions = list(result.orbit.regions)
    k = len(regions)
    unstable = result.side == "unstable"
    for pi in np.unique(owner):
        sel = np.nonzero(owner == pi)[0]
        P = result.pieces[pi]
        b = B[sel]
        t = 0
        out[sel, 0] = P.of + b @ P.Uf.T
        while "chain" in P.info and t < K:
            par, A, a = P.info["chain"]
            b = b @ A.T + a
            P = par
            t += 1
            out[sel, t] = P.of + b @ P.Uf.T
        U = P.Uf                                   # terminal piece: the local piece's parameters
        base = b
        m = 0
        while t < K:
            m += 1
            t += 1
            q, r = divmod(m, k)
            if r == 0:
                base = base @ Tc.T
                out[sel, t] = p0 + base @ U.T
                continue
            X = p0 + base @ U.T
            if unstable:
                for j in range(r):
                    Jj, cj = model.affine_pieces_float(bits_to_array([regions[(-1 - j) % k]], model.L))
                    X = (X - cj[0]) @ np.linalg.pinv(Jj[0]).T
            else:
                for j in range(r):
                    X = model.f(X)
            out[sel, t] = X
    return out


def _delta_from_orbits(orbits: np.ndarray, P: np.ndarray) -> np.ndarray:
    x0 = orbits[:, 0]
    d0 = _orbit_dist(x0, P) ** 2
    N, K1, n = orbits.shape
    d = _orbit_dist(orbits[:, 1:].reshape(-1, n), P).reshape(N, K1 - 1) ** 2
    d = np.where(np.isfinite(d), d, np.inf)
    return np.min(d, axis=1) / np.maximum(d0, 1e-300)


def delta_sigma(model, result, n_manifold: int = 2000, n_box: int = 2000, K: int | None = None,
                seed: int = 0, box=None, along: str = "pieces", cells=None) -> Quality:
    """Δσ of a :class:`graph.manifolds.ManifoldResult` (points sampled on its pieces).

    ``K`` (steps): default depth + enough steps for the local contraction θ to reach 1e-9.

    ``along='pieces'`` (default): the manifold points' orbits are followed exactly along the
    pieces (:func:`orbits_along_pieces`); ``along='map'``: iterated with the float map (f,
    or the inverse branches of the piece's itinerary), as a sampling method would — then
    rounding errors grow along the unstable (resp. stable) direction.
    Random box points are iterated with the float map in both cases.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pieces = [i for i, p in enumerate(result.pieces) if p.k > 0]
    P = np.array([[float(v) for v in p] for p in result.orbit.points])
    if K is None:       # enough steps to contract the local piece by ~1e-9 in the adapted norm
        theta = min(float(result.local.contraction), 0.999)
        K = result.depth + int(min(400, max(40, np.ceil(-9 / np.log10(theta)) * len(result.orbit.regions))))
    b = result.box if box is None else box
    if not pieces:
        raise ValueError("no pieces of positive dimension")
    per = max(1, n_manifold // len(pieces))
    chosen = [pieces[i] for i in rng.permutation(len(pieces))[: max(1, n_manifold // per)]]
    Bs = [sample_params(result.pieces[i], per, rng) for i in chosen]
    owner = np.repeat(chosen, [len(x) for x in Bs])
    if along == "map":
        X = np.concatenate([result.pieces[i].of + Bi @ result.pieces[i].Uf.T for i, Bi in zip(chosen, Bs)])
        minv = None
        if result.side == "unstable":
            minv = ItineraryInverse(model, [tuple(reversed(result.pieces[i].itinerary)) for i in owner],
                                    result.orbit.regions)
        return delta_sigma_points(model, P, result.side, X, b, cells=cells, n_box=n_box, K=K, seed=seed,
                                  manifold_inverse=minv)
    orbits = orbits_along_pieces(model, result, owner, np.concatenate(Bs), K)
    dm = _delta_from_orbits(orbits, P)
    q = delta_sigma_points(model, P, result.side, orbits[:1, 0], b, cells=cells, n_box=n_box, K=K, seed=seed)
    db = q.delta_box
    finite = dm[np.isfinite(dm)]
    dmax = float(finite.max()) if len(finite) else np.inf
    med = float(np.median(finite)) if len(finite) else np.inf
    I = float(np.mean(db > dmax))
    return Quality(I - med, I, med, dmax, K, len(dm), n_box, time.perf_counter() - t0, dm, db)
