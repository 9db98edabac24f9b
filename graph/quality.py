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

from symbolic.pieces import sample
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
    """Vectorised branch-wise inverse of f over a list of regions (see the module docstring)."""

    def __init__(self, model, regions, orbit_points: np.ndarray):
        self.model = model
        regs = sorted(set(regions))
        J, c = model.affine_pieces_float(bits_to_array(regs, model.L)) if regs else (np.zeros((0, model.n, model.n)), np.zeros((0, model.n)))
        ok = np.abs(np.linalg.det(J)) > 1e-12 if len(regs) else np.zeros(0, bool)
        self.bits = bits_to_array([r for r, o in zip(regs, ok) if o], model.L)
        self.Jinv = np.linalg.inv(J[ok]) if ok.any() else np.zeros((0, model.n, model.n))
        self.c = c[ok]
        self.orbit = orbit_points

    def __call__(self, Y: np.ndarray):
        """(X, found): preimages (nan where none) of the rows of Y."""
        if len(self.c) == 0:
            return np.full_like(Y, np.nan), np.zeros(len(Y), bool)
        X = np.einsum("tij,ntj->nti", self.Jinv, Y[:, None, :] - self.c[None])       # (N, T, n)
        pre = X @ self.model.Cf.T + self.model.df                                       # (N, T, L)
        scale = 1e-9 * np.maximum(1.0, np.abs(pre))
        sig = np.where(self.bits, 1.0, -1.0)[None]                                     # (1, T, L)
        valid = np.all(sig * pre >= -scale, axis=2) & np.all(np.isfinite(X), axis=2)
        dist = np.min(np.linalg.norm(X[:, :, None, :] - self.orbit[None, None], axis=3), axis=2)
        dist = np.where(valid, dist, np.inf)
        best = np.argmin(dist, axis=1)
        found = np.isfinite(dist[np.arange(len(Y)), best])
        out = X[np.arange(len(Y)), best]
        out[~found] = np.nan
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
                       regions=None, n_box: int = 2000, K: int = 60, seed: int = 0,
                       manifold_inverse=None) -> Quality:
    """Δσ for a manifold given by points (ours sampled from pieces, or a baseline's).

    ``manifold_inverse``: optional step(X, k, idx) for the manifold points (unstable side),
    e.g. an :class:`ItineraryInverse`; default: the greedy branch inverse.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    lo, hi = (np.array([float(v) for v in b]) for b in box)
    P = np.asarray(orbit_points, float)
    if side == "stable":
        step = lambda X, k, idx: model.f(X)
        mstep = step
    else:
        if regions is None:
            from symbolic.regions import enumerate_regions

            regions = enumerate_regions(model, box=(lo, hi)).regions
        inv = BranchInverse(model, regions, P)
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


def delta_sigma(model, result, n_manifold: int = 2000, n_box: int = 2000, K: int | None = None,
                seed: int = 0, box=None) -> Quality:
    """Δσ of a :class:`graph.manifolds.ManifoldResult` (points sampled on its pieces)."""
    X, owner = sample_manifold(result, n_manifold, seed, with_pieces=True)
    P = np.array([[float(v) for v in p] for p in result.orbit.points])
    K = K if K is not None else result.depth + 40
    regions, minv = None, None
    if result.side == "unstable":
        from symbolic.regions import enumerate_regions

        b = result.box if box is None else box
        regions = enumerate_regions(model, box=tuple(np.array([float(v) for v in x]) for x in b)).regions
        minv = ItineraryInverse(model, [tuple(reversed(result.pieces[i].itinerary)) for i in owner],
                                result.orbit.regions)
    return delta_sigma_points(model, P, result.side, X, result.box if box is None else box,
                              regions=regions, n_box=n_box, K=K, seed=seed, manifold_inverse=minv)
