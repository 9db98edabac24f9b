"""Attractors: stable periodic orbits with trapping polytopes, and numerical attractors (DESIGN §7).

**Trapping polytope** of a stable k-cycle p_0 → … → p_{k−1} (all points strictly inside their
regions s_j; F = f_{s_{k−1}} ∘ … ∘ f_{s_0}, affine near p_0 with Jacobian J_F):

    P = {p_0 + r W c : c ∈ B},   B = B_1 × … × B_m,

where W and B come from the *adapted polytope norm* of J_F (:func:`graph.local.adapted_norm`):
W is a short dyadic rational approximation of the real Schur basis of J_F, scaled so that the
triangular coupling (Jordan blocks, non-normal parts) is small, and B_j is [−1, 1] for a real
eigenvalue or a rational polygon inscribed in the unit circle for a complex pair. In those
coordinates ``T = W^{-1} J_F W`` satisfies ``T B ⊂ θ B`` with θ < 1, proven exactly (maximum
of each facet functional over B, block by block). The radius r is the largest short dyadic with
f^j(P) inside the closed region s_j for every j (again a block-wise maximum per hyperplane), so
f^k acts on P as F and ``F(P) ⊂ p_0 + θ r W B ⊂ P``: P is forward invariant and every point of
P converges to the cycle. Nothing here is trusted: :mod:`verify.checkbasins` re-checks the same
claim from the model alone; an attractor is *certified* only when it accepts.

A k-cycle gets k polytopes (one around every p_j, each for its own rotation of the
itinerary), so that iterated points can be caught near any point of the cycle.

**Numerical attractors**: trajectories from random initial states that are not caught by a
trap. A tail that repeats with period q ≤ ``promote_period`` is confirmed exactly
(:func:`symbolic.orbits.confirm_itinerary`) and, when it is a stable cycle, promoted to an
exact attractor with traps; the remaining tails are grouped by proximity into numerical
attractors (chaotic, quasi-periodic or non-hyperbolic), with sample points and a largest
Lyapunov exponent; those are never certified.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> m = load_model(example_path("bistable"))
>>> res = find_attractors(m)
>>> [(a.id, a.kind, len(a.traps)) for a in res.attractors]
[('P1-1', 'fixed-point', 1), ('P1-2', 'fixed-point', 1)]
>>> t = res.attractors[1].traps[0]        # around (2, -2): Jordan block, double eigenvalue 1/2
>>> t.theta < 1, t.contains_exact((2, -2)), t.contains_exact((0, 0))
(True, True, False)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import numpy as np

from symbolic.linalg import identity
from symbolic.orbits import compose_itinerary, confirm_itinerary, find_orbits
from symbolic.pieces import _dyadic
from symbolic.rationals import column, fraction_of, fraction_str, rows_of, to_float, vector_of

from .local import adapted_norm

__all__ = ["Trap", "Attractor", "AttractorSearch", "trapping_polytope", "find_attractors",
           "LABEL_DIVERGED", "LABEL_UNRESOLVED", "LABEL_SADDLE"]

LABEL_DIVERGED = -1      # |z| exceeded the divergence bound
LABEL_UNRESOLVED = -2    # neither caught by a trap nor near a numerical attractor
LABEL_SADDLE = -3        # converged to a non-attracting orbit (numerically on a basin boundary)


# ----------------------------------------------------------------------------- traps

@dataclass(eq=False)
class Trap:
    """A trapping polytope ``P = {p + r W c : c ∈ B} = {x : G x <= g}`` of a stable cycle.

    ``points`` / ``regions``: the cycle rotated so that ``points[0] = p``; ``W``: fmpq_mat;
    ``blocks``: [(start, size)]; ``verts``: block vertices (Fractions); ``radius`` r;
    ``theta``: proven contraction factor; ``G``, ``g``: exact half-spaces (fmpq_mat, column),
    ``Gf``, ``gf``: their floats for the vectorised (untrusted) search.
    """

    orbit_id: str
    rotation: int
    points: tuple
    regions: tuple
    W: flint.fmpq_mat
    blocks: list
    verts: list
    radius: Fraction
    theta: Fraction
    G: flint.fmpq_mat
    g: flint.fmpq_mat
    Gf: np.ndarray = field(init=False, repr=False)
    gf: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.Gf = to_float(self.G)
        self.gf = to_float(self.g)[:, 0]

    @property
    def id(self) -> str:
        return f"trap:{self.orbit_id}:{self.rotation}"

    @property
    def point(self) -> tuple:
        return self.points[0]

    def contains(self, X: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Float test x ∈ P for states X (..., n); ``margin`` > 0 asks for depth inside P."""
        X = np.asarray(X, float)
        return np.all(X @ self.Gf.T <= self.gf - margin * (1.0 + np.abs(self.gf)), axis=-1)

    def contains_exact(self, x) -> bool:
        v = self.G * column(Fraction(t) for t in x)
        return all(fraction_of(a) <= fraction_of(b) for a, b in zip(v.entries(), self.g.entries()))

    def vertices(self) -> np.ndarray:
        """Float vertices of P (all products of block vertices; only for small n)."""
        import itertools

        W = to_float(self.W)
        p = np.array([float(v) for v in self.point])
        out = []
        for combo in itertools.product(*self.verts):
            c = np.array([float(x) for v in combo for x in v])
            out.append(p + float(self.radius) * W @ c)
        return np.array(out)

    def claim_data(self) -> dict:
        """The data of a ``trapping-polytope`` claim (see :mod:`verify.checkbasins`)."""
        blocks = []
        for (st, sz), vs in zip(self.blocks, self.verts):
            if sz == 1:
                blocks.append({"size": 1})
            else:
                blocks.append({"size": 2, "polygon": [[fraction_str(x) for x in v] for v in vs]})
        return {"period": len(self.points),
                "points": [[fraction_str(v) for v in p] for p in self.points],
                "regions": list(self.regions),
                "W": [[fraction_str(v) for v in row] for row in rows_of(self.W)],
                "blocks": blocks, "radius": fraction_str(self.radius), "theta": fraction_str(self.theta)}


def _region_radius(model, points, regions, W, norm) -> Fraction | None:
    """Largest r with f^j(p_0 + r W B) in the closed region s_j for all j (None: unbounded)."""
    best = None
    DF = identity(model.n)
    for p, s in zip(points, regions):
        pre = model.C * column(p) + model.d
        A = model.C * DF * W
        for i in range(model.L):
            sig = 1 if s[i] == "1" else -1
            margin = sig * fraction_of(pre[i, 0])
            if margin <= 0:
                raise ValueError(f"orbit point {p} is not strictly inside region {s}")
            w = [-sig * fraction_of(A[i, t]) for t in range(model.n)]
            spread = norm.block_max(w, True)
            if spread > 0:
                r = margin / spread
                if best is None or r < best:
                    best = r
        DF = model.jacobian(s) * DF
    return best


def _theta(norm, T: flint.fmpq_mat) -> Fraction:
    """Proven θ with T B ⊂ θ B: max over facets h of block i of Σ_j max_{v ∈ B_j} h·T_ij v."""
    k = T.nrows()
    theta = Fraction(0)
    for (st, sz), fac in zip(norm.blocks, norm.facets):
        for h in fac:
            w = [sum((h[t] * fraction_of(T[st + t, j]) for t in range(sz)), Fraction(0)) for j in range(k)]
            theta = max(theta, norm.block_max(w, True))
    return theta


def _enlarge(model, pts, regs, JF, norm, rounds: int = 10, theta_max: Fraction = Fraction(31, 32)):
    """Greedy block rescaling W -> W diag(s) (s_b powers of 2 per block) maximising the volume
    r^n ∏ s_b^{size_b} of the trap while the contraction bound stays <= theta_max.

    The adapted norm shrinks later blocks by ε^b to tame the triangular coupling; when the
    coupling is weak (or absent) that makes needlessly thin traps.
    """
    from dataclasses import replace

    n = JF.nrows()
    best_s = [Fraction(1)] * len(norm.blocks)

    def build(scales):
        D = flint.fmpq_mat(n, n)
        for (st, sz), sc in zip(norm.blocks, scales):
            for t in range(sz):
                D[st + t, st + t] = flint.fmpq(sc.numerator, sc.denominator)
        W = norm.W * D
        cand = replace(norm, W=W)
        th = _theta(cand, W.inv() * JF * W)
        if th > theta_max:
            return None, None
        cand = replace(cand, theta=th, Tc=W.inv() * JF * W)
        r = _region_radius(model, pts, regs, W, cand)
        if r is None:
            return None, None
        vol = float(r) ** n
        for (st, sz), sc in zip(norm.blocks, scales):
            vol *= float(sc) ** sz
        return cand, vol

    best, best_vol = build(best_s)
    if best is None:
        return norm
    for _ in range(rounds):
        improved = False
        for b in range(len(norm.blocks)):
            for fac in (Fraction(2), Fraction(1, 2)):
                trial = list(best_s)
                trial[b] = trial[b] * fac
                cand, vol = build(trial)
                if cand is not None and vol > best_vol * 1.01:
                    best, best_vol, best_s = cand, vol, trial
                    improved = True
        if not improved:
            break
    return best


def _eigen_norm(JF: flint.fmpq_mat, max_cond: float = 1e8):
    """An adapted product-polytope norm from the real eigenbasis of J_F, or None.

    For a diagonalisable J_F (well-conditioned eigenvectors: the generic case of trained
    models) W = [v_1, …, x_j, y_j, …] (real eigenvectors; real and imaginary parts of the
    complex ones, λ = α + iβ acting as the rotation–scaling [[α, β], [−β, α]] on (x_j, y_j))
    makes ``W^{-1} J_F W`` block diagonal up to the rounding of W to short dyadics. A complex
    block of modulus ρ gets the inscribed rational N-gon with ρ / cos(π/N) well below 1.
    The contraction bound θ is then proven exactly (:func:`_theta`); None when J_F is
    (nearly) defective or θ >= 1 (the Schur-based :func:`graph.local.adapted_norm` handles
    Jordan blocks).
    """
    import math

    from .local import AdaptedNorm, rational_polygon

    Jf = to_float(JF)
    n = Jf.shape[0]
    w, V = np.linalg.eig(Jf)
    rho_max = float(np.max(np.abs(w))) if n else 0.0
    if not rho_max < 1:
        return None
    cols, blocks, sizes_rho = [], [], []
    used = set()
    order = sorted(range(n), key=lambda i: -abs(w[i]))
    for i in order:
        if i in used:
            continue
        lam = w[i]
        if abs(lam.imag) <= 1e-12 * max(1.0, abs(lam)):
            v = V[:, i].real
            cols.append(v / np.linalg.norm(v))
            blocks.append((len(cols) - 1, 1))
            used.add(i)
            continue
        j = min((k for k in range(n) if k not in used and k != i), key=lambda k: abs(w[k] - np.conj(lam)), default=None)
        if j is None or abs(w[j] - np.conj(lam)) > 1e-8 * max(1.0, abs(lam)):
            return None
        used.update((i, j))
        v = V[:, i] if lam.imag > 0 else V[:, j]
        x, y = v.real, v.imag
        sc = np.linalg.norm(np.concatenate([x, y]))
        st = len(cols)
        cols.extend([x / sc, y / sc])
        blocks.append((st, 2))
        sizes_rho.append(abs(lam))
    Vr = np.column_stack(cols)
    if not np.isfinite(Vr).all() or np.linalg.cond(Vr) > max_cond:
        return None
    slack = (1 - rho_max) / 3
    N = 8
    for r in sizes_rho:
        while r / math.cos(math.pi / N) > 1 - slack and N < 1 << 14:
            N *= 2
    if any(r / math.cos(math.pi / N) >= 1 for r in sizes_rho):
        return None
    W = flint.fmpq_mat(n, n)
    for a in range(n):
        for b in range(n):
            q = _dyadic(float(Vr[a, b]), 40)
            W[a, b] = flint.fmpq(q.numerator, q.denominator)
    try:
        Winv = W.inv()
    except ZeroDivisionError:
        return None
    poly = rational_polygon(N)
    facets_poly = _polygon_facets(poly)
    verts = [[(Fraction(1),), (Fraction(-1),)] if sz == 1 else poly for _, sz in blocks]
    facets = [[(Fraction(1),), (Fraction(-1),)] if sz == 1 else facets_poly for _, sz in blocks]
    Tc = Winv * JF * W
    norm = AdaptedNorm(W, blocks, verts, facets, Fraction(0), Tc, N, Fraction(0))
    theta = _theta(norm, Tc)
    if not theta < 1:
        return None
    norm.theta = theta
    return norm


def _polygon_facets(V):
    """Facets (h·c <= 1) of a counter-clockwise polygon around the origin."""
    H = []
    for (x0, y0), (x1, y1) in zip(V, V[1:] + V[:1]):
        nx, ny = y1 - y0, x0 - x1
        c = nx * x0 + ny * y0
        H.append((nx / c, ny / c))
    return H


def _dyadic_below(x: Fraction, bits: int = 20) -> Fraction:
    """A short dyadic rational in (0, x] close to x (x > 0)."""
    q = _dyadic(float(x) * (1 - 2.0 ** -(bits - 2)), bits)
    while q > x:
        q = q * (1 - Fraction(1, 2 ** bits))
    return q


def trapping_polytope(model, orbit, rotation: int = 0, max_radius: Fraction | None = None,
                      optimize: bool = True) -> Trap:
    """The trapping polytope around ``orbit.points[rotation]`` (module docstring).

    ``optimize``: rescale the blocks of the adapted norm (powers of 2) to enlarge the
    polytope's volume while the contraction bound stays below 1 (see :func:`_enlarge`).

    Raises ValueError for orbits that are not isolated stable cycles strictly inside their
    regions, RuntimeError when no adapted norm is found (spectral radius too close to 1).
    """
    if orbit.type != "attractor" or any(any(b) for b in orbit.boundary):
        raise ValueError(f"orbit {orbit.id or '?'} is not a stable cycle strictly inside its regions")
    k = len(orbit.points)
    j = rotation % k
    pts = tuple(orbit.points[j:] + orbit.points[:j])
    regs = tuple(orbit.regions[j:] + orbit.regions[:j])
    JF, _ = compose_itinerary(model, regs)
    norm = _eigen_norm(JF)
    if norm is None:
        norm = adapted_norm(JF, exact=True)
        if optimize and model.n <= 4:
            norm = _enlarge(model, pts, regs, JF, norm)
    W = norm.W
    rmax = _region_radius(model, pts, regs, W, norm)
    scale = max([1.0] + [abs(float(v)) for p in pts for v in p])
    cap = Fraction(max_radius) if max_radius is not None else _dyadic(1e3 * scale, 10)
    r = cap if rmax is None else min(cap, _dyadic_below(rmax))
    H, ones = norm.facet_matrix()
    Hq = flint.fmpq_mat(len(H), model.n, [flint.fmpq(v.numerator, v.denominator) for row in H for v in row])
    G = Hq * W.inv() * flint.fmpq(r.denominator, r.numerator)
    g = column([1] * len(H)) + G * column(pts[0])
    return Trap(orbit.id, j, pts, regs, W, [tuple(b) for b in norm.blocks],
                [list(v) for v in norm.verts], r, norm.theta, G, g)


# ----------------------------------------------------------------------------- attractors

@dataclass(eq=False)
class Attractor:
    """A stable periodic orbit (``kind`` 'fixed-point' / 'cycle', exact) or a numerical attractor.

    ``traps``: trapping polytopes (exact attractors; empty when none could be built);
    ``samples``: float points on the attractor (cycle points, or trajectory tails);
    ``certified``: set by :mod:`verify.basincert` when the checker accepted a trap claim.
    """

    id: str
    kind: str
    period: int | None
    points: tuple = ()
    orbit: object = None
    traps: list = field(default_factory=list)
    samples: np.ndarray | None = None
    certified: bool = False
    lyapunov: float | None = None
    found_by: str = ""
    message: str = ""

    @property
    def exact(self) -> bool:
        return self.kind != "numerical"

    def float_points(self) -> np.ndarray:
        if self.points:
            return np.array([[float(v) for v in p] for p in self.points])
        return np.asarray(self.samples, float)

    def to_json(self) -> dict:
        rec = {"id": self.id, "kind": self.kind, "period": self.period, "certified": bool(self.certified),
               "found_by": self.found_by, "traps": [t.id for t in self.traps]}
        if self.points:
            rec["points"] = [[fraction_str(v) for v in p] for p in self.points]
            rec["regions"] = list(self.orbit.regions) if self.orbit is not None else []
            if self.traps:
                rec["trap_theta"] = [fraction_str(t.theta) for t in self.traps]
                rec["trap_radius"] = [fraction_str(t.radius) for t in self.traps]
        else:
            X = np.asarray(self.samples, float)
            rec["bbox"] = [X.min(axis=0).tolist(), X.max(axis=0).tolist()] if len(X) else None
            rec["n_samples"] = int(len(X))
            rec["lyapunov_max"] = self.lyapunov
        if self.message:
            rec["message"] = self.message
        return rec


@dataclass
class AttractorSearch:
    """Result of :func:`find_attractors`.

    ``attractors``: exact ones first (orbit-search order, then promoted cycles), then
    numerical ones; ``orbits``: the :class:`symbolic.orbits.OrbitSearch` used; ``saddles``:
    its hyperbolic orbits with unstable directions; ``box``: the sampling box (floats).
    """

    attractors: list
    orbits: object
    saddles: list
    box: tuple
    status: str
    message: str
    stats: dict = field(default_factory=dict)

    def by_id(self, aid: str) -> Attractor:
        for a in self.attractors:
            if a.id == aid:
                return a
        raise KeyError(f"no attractor {aid!r}; ids are {', '.join(a.id for a in self.attractors)}")

    @property
    def traps(self) -> list:
        return [t for a in self.attractors for t in a.traps]

    def to_json(self) -> dict:
        return {"attractors": [a.to_json() for a in self.attractors], "status": self.status,
                "message": self.message, "stats": self.stats}


def _build_exact(model, orbit, found_by: str) -> Attractor:
    kind = "fixed-point" if orbit.period == 1 else "cycle"
    a = Attractor(orbit.id, kind, orbit.period, tuple(orbit.points), orbit, found_by=found_by)
    try:
        a.traps = [trapping_polytope(model, orbit, j) for j in range(orbit.period)]
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        a.traps = []
        a.message = f"no trapping polytope: {exc}"
    return a


def capture(traps: list, X: np.ndarray, margin: float = 1e-9) -> np.ndarray:
    """Index of the first trap (in ``traps``) containing each state of X (N, n), else -1."""
    out = np.full(len(X), -1, dtype=int)
    for t, trap in enumerate(traps):
        free = out < 0
        if not free.any():
            break
        hit = trap.contains(X[free], margin)
        idx = np.nonzero(free)[0][hit]
        out[idx] = t
    return out


def _periodic_tail(X: np.ndarray, qmax: int, rtol: float = 1e-9) -> np.ndarray:
    """Smallest q <= qmax with the last 2 states repeating after q steps (per trajectory), else 0.

    X: (T, N, n) tail with T > qmax + 2.
    """
    T, N, _ = X.shape
    q_of = np.zeros(N, dtype=int)
    scale = 1.0 + np.abs(X[-1]).max(axis=1)
    for q in range(1, qmax + 1):
        d = np.maximum(np.abs(X[-1] - X[-1 - q]).max(axis=1), np.abs(X[-2] - X[-2 - q]).max(axis=1))
        new = (q_of == 0) & (d <= rtol * scale)
        q_of[new] = q
    return q_of


def _cluster_tails(tails: list, tol: float) -> list[list[int]]:
    """Groups of tails (lists of (T, n) arrays) whose point clouds come within ``tol``."""
    from scipy.spatial import cKDTree

    m = len(tails)
    parent = list(range(m))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    trees = [cKDTree(t) for t in tails]
    for i in range(m):
        for j in range(i + 1, m):
            if find(i) == find(j):
                continue
            d, _ = trees[j].query(tails[i], k=1, distance_upper_bound=tol)
            if np.isfinite(d).any():
                parent[find(i)] = find(j)
    groups: dict = {}
    for i in range(m):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def find_attractors(model, orbits=None, max_period: int = 1, box=None, samples: int = 64,
                    steps: int = 2000, tail: int = 400, seed: int = 0, promote_period: int = 64,
                    numerical: bool = True, lyapunov: bool = True, diverge: float = 1e8,
                    progress=None) -> AttractorSearch:
    """Stable periodic orbits with trapping polytopes, plus attractors seen by trajectories.

    ``orbits``: an :class:`symbolic.orbits.OrbitSearch` (default: ``find_orbits(model,
    max_period)``); ``box``: (lo, hi) for the random initial states (default
    :func:`graph.manifolds.default_box`); ``samples`` trajectories of ``steps`` + ``tail``
    steps are run (vectorised); ``numerical=False`` skips them.
    """
    t0 = time.perf_counter()
    if orbits is None:
        orbits = find_orbits(model, max_period)
    attractors = [_build_exact(model, o, "orbit-search") for o in orbits.orbits if o.type == "attractor"]
    saddles = [o for o in orbits.orbits
               if o.stability is not None and o.type in ("saddle", "repeller") and not any(any(b) for b in o.boundary)]
    stats = {"orbit_search": orbits.status, "attractors_from_orbits": len(attractors)}
    if box is None:
        from .manifolds import default_box

        box = default_box(model)
    lo, hi = (np.array([float(v) for v in b]) for b in box)
    msg_parts = [f"{len(attractors)} stable orbit(s) from the orbit search ({orbits.status})"]
    if numerical and samples > 0:
        rng = np.random.default_rng(seed)
        X = lo + (hi - lo) * rng.uniform(size=(samples, model.n))
        traps = [t for a in attractors for t in a.traps]
        owner = [i for i, a in enumerate(attractors) for _ in a.traps]
        caught = np.full(samples, -1, dtype=int)
        alive = np.ones(samples, dtype=bool)
        for t in range(steps):
            idx = np.nonzero(alive & (caught < 0))[0]
            if len(idx) == 0:
                break
            X[idx] = model.f(X[idx])
            bad = ~np.all(np.isfinite(X[idx]), axis=1) | (np.abs(X[idx]).max(axis=1) > diverge)
            alive[idx[bad]] = False
            if traps and t % 8 == 7:
                ok = idx[~bad]
                c = capture(traps, X[ok])
                caught[ok[c >= 0]] = np.array(owner, dtype=int)[c[c >= 0]] if len(owner) else -1
        free = np.nonzero(alive & (caught < 0))[0]
        stats.update(trajectories=samples, diverged=int((~alive).sum()), caught=int((caught >= 0).sum()))
        promoted, numeric = 0, []
        if len(free):
            T = max(tail, promote_period + 4)
            Xt = np.empty((T, len(free), model.n))
            Y = X[free]
            for t in range(T):
                Y = model.f(Y)
                Xt[t] = Y
            good = np.all(np.isfinite(Xt), axis=(0, 2)) & (np.abs(Xt).max(axis=(0, 2)) < diverge)
            q_of = _periodic_tail(Xt, promote_period) if promote_period else np.zeros(len(free), dtype=int)
            known = {a.orbit.key() for a in attractors if a.orbit is not None}
            pre = model.preact(Xt)
            for i in range(len(free)):
                if not good[i]:
                    continue
                q = int(q_of[i])
                if q:
                    seq = pre[-q:, i, :]
                    if np.abs(seq).min() > 1e-9 * (1 + np.abs(seq).max()):
                        itin = tuple("".join("1" if v > 0 else "0" for v in row) for row in seq)
                        out = confirm_itinerary(model, itin)
                        if out is not None and out[0].type == "attractor":
                            orb = out[0]
                            if orb.key() not in known:
                                orb.id = f"P{orb.period}-t{promoted + 1}"
                                known.add(orb.key())
                                attractors.append(_build_exact(model, orb, "trajectory"))
                                promoted += 1
                            continue
                numeric.append(i)
        stats["promoted"] = promoted
        if promoted:
            msg_parts.append(f"{promoted} stable cycle(s) found by trajectories and confirmed exactly")
        if numeric:
            tails = [Xt[-tail:, i, :] for i in numeric]
            # drop tails that have settled onto a promoted or known attractor's traps
            all_traps = [t for a in attractors for t in a.traps]
            keep = [j for j, tl in enumerate(tails) if not all_traps or capture(all_traps, tl[-1:])[0] < 0]
            tails = [tails[j] for j in keep]
            if tails:
                ext = float(np.max(hi - lo))
                groups = _cluster_tails(tails, 0.05 * ext)
                for gi, grp in enumerate(groups, 1):
                    S = np.concatenate([tails[j] for j in grp])
                    if len(S) > 4000:
                        S = S[np.random.default_rng(gi).choice(len(S), 4000, replace=False)]
                    a = Attractor(f"N{gi}", "numerical", None, samples=S, found_by="trajectory",
                                  message=f"{len(grp)} trajectories; not a confirmed stable cycle")
                    if lyapunov:
                        from .metrics import max_lyapunov

                        try:
                            a.lyapunov = float(max_lyapunov(model, S[-1], steps=2000, transient=0))
                        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                            a.lyapunov = None
                    attractors.append(a)
                msg_parts.append(f"{len(groups)} numerical attractor(s) from trajectory tails")
        if stats["diverged"]:
            msg_parts.append(f"{stats['diverged']} of {samples} trajectories diverged")
    stats["seconds"] = time.perf_counter() - t0
    status = "complete" if orbits.status == "complete" else "heuristic"
    return AttractorSearch(attractors, orbits, saddles, (tuple(lo), tuple(hi)), status,
                           "; ".join(msg_parts), stats)
