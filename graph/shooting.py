"""Homoclinic orbits of long saddle cycles by shooting along the 1-D unstable manifold (floats).

For a map discretising a flow (the authors' Lorenz ALRNNs) the fixed points have no short
homoclinic orbits, but the long phase-locked saddle cycles found by
:func:`graph.homoclinic.recurrent_cycles` do: their 1-D unstable manifold leaves the cycle,
travels around the attractor and comes back onto the codimension-1 stable manifold. The
return takes hundreds to thousands of steps, far beyond an itinerary search, so we shoot:

1. sample the fundamental domain r/μ ≤ |a| ≤ r of the local unstable piece p_i + a u
   (μ the unstable multiplier of DF^k, u its eigenvector) and iterate all samples at once;
2. at step t with j = (i + t) mod k, h(a) = w_j · (x_t(a) − p_j) (w_j the left unstable
   eigenvector at p_j, the normal of E^s(p_j)) changes sign between neighbouring samples
   close to p_j: the curve crosses the tangent hyperplane of W^s there;
3. bisect a on that bracket (h is continuous in a: the map is continuous) and follow the
   orbit on until its stable coordinates fit a local stable piece: the box
   {p_j + T R y : |y_s| ≤ r_s} in E^s = ker w_j^T whose images along the cycle stay in their
   regions and which the period map contracts in the weighted max-norm (DESIGN §8).

Everything here is floating point and untrusted; :mod:`verify.longchaos` turns a result into
a claim the checker (:mod:`verify.checkcycles`) re-derives with exact rationals and Arb balls.
Smale–Birkhoff: a transversal homoclinic point of a hyperbolic periodic orbit gives an
invariant Cantor set of some iterate on which it is conjugate to the full shift.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from symbolic.regions import bits_to_array

__all__ = ["CycleFrame", "cycle_frame", "StablePiece", "stable_piece", "CycleHomoclinic",
           "CycleHomoclinicSearch", "find_cycle_homoclinic"]


@dataclass
class CycleFrame:
    """Float data of a k-cycle with one unstable multiplier: pieces J_t, c_t, points p_t,
    the multiplier μ, right unstable eigenvectors u_t and left ones w_t at every point
    (u_t, w_t scaled to max-norm 1), and the hyperplane rows (C, d) of the model."""

    itinerary: tuple
    J: np.ndarray
    c: np.ndarray
    points: np.ndarray
    mu: float
    u: np.ndarray
    w: np.ndarray
    C: np.ndarray
    d: np.ndarray

    @property
    def period(self) -> int:
        return len(self.itinerary)

    def monodromy(self, index: int) -> np.ndarray:
        """DF^k at point *index* (floats)."""
        from .homoclinic import _float_cycle_product

        return _float_cycle_product(self.J, index)


def cycle_frame(model, itinerary, points=None) -> CycleFrame | str:
    """The :class:`CycleFrame` of the cycle with this itinerary (region bit strings), or the
    reason why it has none (not exactly one multiplier outside the unit circle, complex)."""
    from .homoclinic import _float_cycle_product, _solve_cycle_float

    P = bits_to_array(list(itinerary), model.L)
    J, c = model.affine_pieces_float(P)
    X = _solve_cycle_float(model, P) if points is None else np.asarray(points, float)
    k, n = len(itinerary), model.n
    M = _float_cycle_product(J, 0)
    vals, vecs = np.linalg.eig(M)
    out = np.abs(vals) > 1
    if out.sum() != 1:
        return f"{int(out.sum())} multipliers outside the unit circle (need exactly 1)"
    i0 = int(np.argmax(np.abs(vals)))
    if abs(vals[i0].imag) > 1e-12 or vals[i0].real <= 1 and vals[i0].real >= -1:
        return "the unstable multiplier is not real"
    mu = float(vals[i0].real)
    U = np.empty((k, n))
    v = vecs[:, i0].real
    for t in range(k):
        U[t] = v / np.abs(v).max()
        v = J[t] @ U[t]
    lv, lvec = np.linalg.eig(M.T)
    w = lvec[:, int(np.argmax(np.abs(lv)))].real
    W = np.empty((k, n))
    for t in range(k - 1, -1, -1):           # w_t^T ∝ w_0^T J_{k-1} ... J_t
        w = J[t].T @ w
        w = w / np.abs(w).max()
        W[t] = w
    return CycleFrame(tuple(itinerary), J, c, X, mu, U, W, model.Cf, model.df)


def unstable_radius(frame: CycleFrame, index: int, safety: float = 0.5) -> float:
    """Largest r (times *safety*) with every backward image p_{i-m} + (J^{-1} chain) u [-r, r]
    inside the regions. The backward images are the stored forward eigenvector chain scaled
    down (inverting J in floats would blow up rounding errors along the stable directions)."""
    k = frame.period
    pre = np.abs(frame.points @ frame.C.T + frame.d)
    s = np.abs(np.einsum("tij,tj->ti", frame.J, frame.u)).max(axis=1)   # J_t u_t = ±s_t u_{t+1}
    r, factor = np.inf, 1.0
    for m in range(k):
        idx = (index - m) % k
        if m:
            factor *= s[idx]
        reach = np.abs(frame.C @ frame.u[idx]) / factor
        with np.errstate(divide="ignore"):
            r = min(r, float(np.min(np.where(reach > 0, pre[idx] / reach, np.inf))))
    return safety * r


@dataclass
class StablePiece:
    """A float local stable piece at cycle point ``index``: E^s = ker w^T parametrised by
    x = p + T R y (T drops coordinate ``q`` where w_q is largest; R columns ≈ eigenvectors of
    the period map on E^s), box radii r, and the contraction factor of the period map in the
    weighted max-norm (< 1) and the smallest region margin of the piece along the cycle."""

    index: int
    q: int
    w: np.ndarray
    R: np.ndarray
    radii: np.ndarray
    contraction: float
    margin: float

    def basis(self) -> np.ndarray:
        return _kernel_basis(self.w, self.q) @ self.R

    def coordinates(self, frame: CycleFrame, x: np.ndarray) -> np.ndarray:
        """y with x − p = T R y + (component along u) (projection along the unstable direction)."""
        j = self.index
        v = x - frame.points[j]
        v = v - frame.u[j] * (self.w @ v) / (self.w @ frame.u[j])
        return np.linalg.solve(self.R, np.delete(v, self.q))


def _kernel_basis(w: np.ndarray, q: int) -> np.ndarray:
    """n × (n−1) basis T of ker w^T: T y has the coordinates y off q and −Σ w_s y_s / w_q at q."""
    n = len(w)
    idx = [s for s in range(n) if s != q]
    T = np.zeros((n, n - 1))
    for col, s in enumerate(idx):
        T[s, col] = 1.0
        T[q, col] = -w[s] / w[q]
    return T


def _period_on_stable(frame: CycleFrame, index: int, w: np.ndarray, q: int) -> np.ndarray:
    """B = (DF^k restricted to E^s) in the coordinates y (x = T y)."""
    T = _kernel_basis(w, q)
    return np.delete(frame.monodromy(index) @ T, q, axis=0)


def _schur_basis(B: np.ndarray) -> np.ndarray:
    """Orthonormal real Schur basis of B with the largest eigenvalue first: R^T B R is
    quasi upper triangular, so |R^T B R| has spectral radius ≈ max |λ| (< 1 on E^s) and a
    weighted max-norm in which B contracts exists (eigenvectors of the tiny eigenvalues of a
    long cycle are too ill-conditioned in floats to use instead)."""
    from scipy.linalg import schur

    vals = np.linalg.eigvals(B)
    top = float(np.max(np.abs(vals))) if len(vals) else 0.0
    T, Q, _ = schur(B, output="real", sort=lambda x, y: np.hypot(x, y) >= top * (1 - 1e-9))
    return Q


def stable_piece(frame: CycleFrame, index: int, y_need: np.ndarray | None = None,
                 R: np.ndarray | None = None, theta: float = 0.99, slack: float = 1.5) -> StablePiece | str:
    """A local stable piece at ``index`` containing the coordinates *y_need* (scaled by
    *slack*), or why none fits: radii are the least fixed point of r = max(r0, |B̃| r / θ)
    (B̃ = R^{-1} B R), then checked against the region margins along the cycle."""
    n, k = frame.points.shape[1], frame.period
    w = frame.w[index]
    q = int(np.argmax(np.abs(w)))
    B = _period_on_stable(frame, index, w, q)
    if R is None:
        R = _schur_basis(B)
    try:
        Bt = np.linalg.solve(R, B @ R)
    except np.linalg.LinAlgError:
        return "singular basis of E^s"
    A = np.abs(Bt)
    floor = 1e-30
    r = np.full(n - 1, floor) if y_need is None else np.maximum(slack * np.abs(y_need), floor)
    for _ in range(200):
        r2 = np.maximum(r, A @ r / theta)
        if np.allclose(r2, r, rtol=1e-12, atol=0):
            break
        r = r2
    else:
        return "the period map does not contract E^s in a weighted max-norm"
    # floors well above rounding noise: the checker recomputes R^{-1} B R exactly, whose
    # entries below the (quasi-)diagonal differ from the float ones at the 1e-16 level
    r = np.maximum(r, 1e-9 * r.max())
    for _ in range(200):
        r2 = np.maximum(r, A @ r / theta)
        if np.allclose(r2, r, rtol=1e-12, atol=0):
            break
        r = r2
    contraction = float(np.max(A @ r / r))
    if contraction >= 1:
        return "no contraction"
    # images along the cycle stay inside the regions: reach_m = Σ_s |C W_m[:, s]| r_s
    Wm = _kernel_basis(w, q) @ R
    pre = np.abs(frame.points @ frame.C.T + frame.d)
    margin = np.inf
    for m in range(k):
        idx = (index + m) % k
        if m:
            Wm = frame.J[(index + m - 1) % k] @ Wm
        reach = np.abs(frame.C @ Wm) @ r
        margin = min(margin, float(np.min(pre[idx] - reach)))
    if margin <= 0:
        return f"the piece reaches a hyperplane (margin {margin:.3g})"
    return StablePiece(index, q, w, R, r, contraction, margin)


@dataclass
class CycleHomoclinic:
    """A float homoclinic orbit of a cycle: x_0 = p_i + a u_i, x_N = p_j + T R y on the
    stable piece, ``itinerary`` the region bits of x_0 .. x_{N−1}, ``crossing`` the step at
    which the unstable curve first crossed the tangent hyperplane of W^s."""

    frame: CycleFrame
    departure: int
    a: float
    r_u: float
    itinerary: tuple
    arrival: StablePiece
    y: np.ndarray
    crossing: int
    margin: float

    @property
    def length(self) -> int:
        return len(self.itinerary)

    def points(self, model) -> np.ndarray:
        x = self.frame.points[self.departure] + self.a * self.frame.u[self.departure]
        return model.trajectory(x, self.length)


@dataclass
class CycleHomoclinicSearch:
    """Result of :func:`find_cycle_homoclinic`: ``status`` 'found' or 'not-found' with a
    ``message`` saying what was searched; ``candidates`` lists (step, distance) of the
    crossings met; ``seconds`` the time taken."""

    status: str
    message: str
    connection: CycleHomoclinic | None = None
    candidates: list = field(default_factory=list)
    seconds: float = 0.0


def _iterate(model, x: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        x = model.f(x)
    return x


def find_cycle_homoclinic(model, itinerary, points=None, index: int = 0, samples: int = 3000,
                          max_steps: int = 3000, near: float = 0.05, max_follow: int = 8000,
                          max_candidates: int = 12, max_seconds: float | None = None,
                          progress=None) -> CycleHomoclinicSearch:
    """Shoot along the unstable manifold of the cycle (see the module docstring).

    >>> import numpy as np
    >>> from proofs_examples import example_path
    >>> from symbolic.models import load_model
    >>> m = load_model(example_path("lozi"))
    >>> res = find_cycle_homoclinic(m, ("1", "0"), samples=400, max_steps=40)
    >>> res.status, res.connection.frame.period
    ('found', 2)
    """
    t0 = time.perf_counter()
    frame = cycle_frame(model, itinerary, points)
    if isinstance(frame, str):
        return CycleHomoclinicSearch("not-found", f"no homoclinic search: {frame}")
    k = frame.period
    r_u = unstable_radius(frame, index)
    if not np.isfinite(r_u) or r_u <= 0:
        return CycleHomoclinicSearch("not-found", "no local unstable piece (cycle on a boundary?)")
    u = frame.u[index]
    grid = np.geomspace(r_u / abs(frame.mu), r_u, samples)
    a = np.r_[grid, -grid]
    x = frame.points[index][None, :] + a[:, None] * u[None, :]
    cands, tried, seen = [], 0, []
    for t in range(1, max_steps + 1):
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            return CycleHomoclinicSearch(
                "not-found", f"time budget of {max_seconds:g} s spent at step {t} ({tried} crossings refined)",
                None, cands, time.perf_counter() - t0)
        x = model.f(x)
        j = (index + t) % k
        h = (x - frame.points[j]) @ frame.w[j]
        if t < k:          # within the first period the curve has not left the cycle yet
            continue
        sc = np.nonzero(np.sign(h[:-1]) != np.sign(h[1:]))[0]
        sc = sc[sc != samples - 1]
        if not len(sc):
            continue
        dist = np.abs(x[sc] - frame.points[j]).max(axis=1)
        order = np.argsort(dist)
        for s in order[:2]:
            if dist[s] > near:
                break
            # the same crossing seen again a few steps later: already refined
            if any(abs(int(sc[s]) - b) <= 2 and t - tb <= 20 for tb, b in seen):
                continue
            seen.append((t, int(sc[s])))
            cands.append((t, float(dist[s])))
            tried += 1
            if progress:
                progress(f"crossing at step {t} (distance {dist[s]:.3g}): refining")
            hit = _refine(model, frame, index, a[sc[s]], a[sc[s] + 1], t, r_u, max_follow)
            if hit is not None:
                return CycleHomoclinicSearch(
                    "found", f"homoclinic orbit of length {hit.length} (crossing at step {t})",
                    hit, cands, time.perf_counter() - t0)
            if tried >= max_candidates:
                return CycleHomoclinicSearch(
                    "not-found", f"{tried} crossings refined, none landed on a local stable piece",
                    None, cands, time.perf_counter() - t0)
    return CycleHomoclinicSearch(
        "not-found", f"no crossing of the tangent hyperplane of W^s within {near} in {max_steps} steps "
        f"({2 * samples} samples of the fundamental domain)", None, cands, time.perf_counter() - t0)


def _section(model, frame: CycleFrame, i: int, lo: float, hi: float, N: int, grid: int = 64):
    """Narrow a bracket [lo, hi] of a zero of h_N(a) = w_j · (x_N(a) − p_j) to float
    resolution by repeated *grid*-section (one batched orbit per round); None if h_N has no
    sign change on [lo, hi] (the zero left the bracket: not a crossing of W^s)."""
    u, p = frame.u[i], frame.points[i]
    j = (i + N) % frame.period
    for _ in range(12):
        a = np.linspace(lo, hi, grid + 1)
        x = _iterate(model, p[None, :] + a[:, None] * u[None, :], N)
        h = (x - frame.points[j]) @ frame.w[j]
        sc = np.nonzero(np.sign(h[:-1]) != np.sign(h[1:]))[0]
        if not len(sc):
            return None
        s = int(sc[np.argmin(np.abs(a[sc] - 0.5 * (lo + hi)))])   # the zero nearest the centre
        if abs(a[s + 1] - a[s]) <= 4 * np.spacing(max(abs(a[s]), abs(a[s + 1]))):
            return a[s], a[s + 1]
        lo, hi = a[s], a[s + 1]
    return lo, hi


def _refine(model, frame: CycleFrame, i: int, lo: float, hi: float, t: int, r_u: float, max_follow: int):
    """Follow a crossing at step t: re-bracket the zero of h_N once per period (the tangent
    hyperplane of W^s is only a first-order approximation away from p_j; each later N is a
    better one) until x_N fits a local stable piece."""
    k = frame.period
    for N in range(t, t + max_follow, k):
        br = _section(model, frame, i, lo, hi, N)
        a = 0.5 * (lo + hi)
        for delta in (1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2):   # the zero of h_N moves as N grows
            if br is not None:
                break
            br = _section(model, frame, i, a - delta * r_u, a + delta * r_u, N)
        if br is None:
            return None
        lo, hi = br
        a = 0.5 * (lo + hi)
        x0 = frame.points[i] + a * frame.u[i]
        Z = model.trajectory(x0, N)
        j = (i + N) % k
        w = frame.w[j]
        q = int(np.argmax(np.abs(w)))
        v = Z[N] - frame.points[j]
        if np.abs(v).max() > 0.5:
            continue
        R = _schur_basis(_period_on_stable(frame, j, w, q))
        v = v - frame.u[j] * (w @ v) / (w @ frame.u[j])
        try:
            y = np.linalg.solve(R, np.delete(v, q))
        except np.linalg.LinAlgError:
            continue
        piece = stable_piece(frame, j, y, R)
        if isinstance(piece, str):
            continue
        pre = Z[:N] @ model.Cf.T + model.df
        itin = tuple("".join("1" if b else "0" for b in row) for row in pre > 0)
        return CycleHomoclinic(frame, i, float(a), r_u, itin, piece, y, t, float(np.abs(pre).min()))
    return None
