"""Fixed points and cycles of a ReLU-affine map, exactly (DESIGN §5).

A k-cycle with itinerary (s_1, ..., s_k) is a fixed point of the affine composition
F = f_{s_k} o ... o f_{s_1}; it is real iff every orbit point lies in its region. The search
is untrusted and fast (batched numpy solves, or SCYFI's random-itinerary iteration); every
candidate it keeps is then confirmed with exact rationals:

* an **isolated** orbit has I - J_F non-singular and every point strictly inside its region;
  its type (attractor / saddle / repeller / non-hyperbolic) comes from the exact
  characteristic polynomial of J_F (:mod:`symbolic.stability`);
* a **boundary** orbit has a point with some C_k z + d_k = 0: f is not smooth there, so it is
  reported as such and never given a hyperbolic type;
* a **continuum** (singular I - J_F with consistent right-hand side: line attractors, the
  period-6 islands of the Gingerbreadman map) is reported with its affine dimension.

Float candidates are accepted or rejected only when their float margin to every boundary is
clearly larger than the float error; all others are re-checked exactly, so nothing is lost
to rounding.

>>> from symbolic.models import model_from_dict
>>> lozi = model_from_dict({"kind": "plrnn", "A": [["17/10", 1], ["1/2", 0]],
...                         "W": [["-17/5", 0], [0, 0]], "h": [1, 0]})
>>> res = find_orbits(lozi, max_period=1)
>>> sorted(tuple(map(str, o.points[0])) for o in res.orbits)
[('-5/6', '-5/12'), ('5/11', '5/22')]
>>> {o.type for o in res.orbits}
{'saddle'}

References: Eisenmann et al., "Detecting Invariant Manifolds in ReLU-Based RNNs" (2025);
SCYFI: Eisenmann et al., "Bifurcations and loss jumps in RNN training", NeurIPS 2023.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

import flint
import numpy as np

from .linalg import canonical_affine, identity, solve_affine
from .rationals import column, fraction_str, fraction_of, vector_of
from .regions import Location, all_patterns, array_to_bits, bits_to_array, enumerate_regions, locate

__all__ = [
    "Orbit", "OrbitSearch", "find_orbits", "confirm_itinerary", "scyfi_loop_counts",
    "compose_itinerary", "MAX_ITINERARIES",
]

MAX_ITINERARIES = 3_000_000
_BATCH = 2_000          # itineraries per float batch (arrays of a few MB stay in cache)


# ----------------------------------------------------------------------------- records

@dataclass
class Orbit:
    """One periodic orbit (or one piece of a continuum of periodic points), exact.

    ``points[j]`` is the j-th orbit point (Fractions); ``regions[j]`` the region whose affine
    piece maps it (for boundary points the closure region used); ``boundary[j]`` the
    hyperplanes point j lies on. ``dimension`` is the affine dimension of the set of
    periodic points this record stands for (0: isolated); ``basis`` spans it at
    ``points[0]``. ``stability`` is a :class:`symbolic.stability.Stability` for isolated
    orbits inside open regions, else None.
    """

    period: int
    points: tuple
    regions: tuple
    type: str
    dimension: int = 0
    basis: tuple = ()
    boundary: tuple = ()
    stability: object = None
    id: str = ""
    found_by: str = ""

    def key(self):
        return _orbit_key(self.points, self.basis)

    @property
    def stable_dim(self) -> int | None:
        return None if self.stability is None else self.stability.stable_dim

    @property
    def unstable_dim(self) -> int | None:
        return None if self.stability is None else self.stability.unstable_dim

    def to_json(self, certified: bool = False) -> dict:
        """The orbit record of DESIGN §10 (exact rationals as strings)."""
        rec = {
            "id": self.id,
            "period": self.period,
            "points": [[fraction_str(v) for v in p] for p in self.points],
            "regions": list(self.regions),
            "type": self.type,
            "stable_dim": self.stable_dim,
            "unstable_dim": self.unstable_dim,
            "eigenvalues": [] if self.stability is None else [e.to_json() for e in self.stability.eigenvalues],
            "certified": bool(certified),
            "dimension": self.dimension,
        }
        if self.stability is not None:
            rec["charpoly"] = [fraction_str(c) for c in self.stability.charpoly]
            rec["center_dim"] = self.stability.center_dim
        if self.basis:
            rec["basis"] = [[fraction_str(v) for v in b] for b in self.basis]
        if any(self.boundary):
            rec["boundary"] = [list(b) for b in self.boundary]
        return rec


@dataclass
class OrbitSearch:
    """Result of :func:`find_orbits`.

    ``status`` is 'complete' (exhaustive over all realisable itineraries), 'heuristic'
    (SCYFI: what was found, no completeness claim) or 'truncated' (a limit stopped it;
    ``message`` says which).
    """

    orbits: list
    mode: str
    max_period: int
    status: str
    message: str
    stats: dict = field(default_factory=dict)

    def by_id(self, oid: str) -> Orbit:
        for o in self.orbits:
            if o.id == oid:
                return o
        raise KeyError(f"no orbit with id {oid!r}; ids are {', '.join(o.id for o in self.orbits)}")


# ----------------------------------------------------------------------------- exact core

def compose_itinerary(model, itinerary: Sequence[str]):
    """Exact (J_F, c_F) of F = f_{s_k} o ... o f_{s_1}.

    The affine maps are multiplied as a balanced product tree: the entries of a product of
    j pieces have about j times the bits of one piece, so a left-to-right chain costs a sum
    of ever larger products (quadratic in k), while the tree pairs factors of equal size
    (about log k levels of the cost of the final product).

    >>> from symbolic.models import model_from_dict
    >>> tent = model_from_dict({"kind": "relu-affine", "A": [[2]], "B": [[-4]], "C": [[1]],
    ...                         "d": ["-1/2"], "e": [0]})
    >>> J, c = compose_itinerary(tent, ("0", "1"))     # z -> 2z, then z -> -2z + 2
    >>> J[0, 0], c[0, 0]
    (-4, 2)
    """
    n = model.n
    maps = [model.affine_piece(s) for s in itinerary]
    if not maps:
        return identity(n), flint.fmpq_mat(n, 1)
    # (J2, c2) o (J1, c1) = (J2 J1, J2 c1 + c2); maps[i] is applied before maps[i + 1]
    while len(maps) > 1:
        nxt = [(J2 * J1, J2 * c1 + c2) for (J1, c1), (J2, c2) in zip(maps[0::2], maps[1::2])]
        if len(maps) % 2:
            nxt.append(maps[-1])
        maps = nxt
    return maps[0]


def _compose_chain(model, itinerary: Sequence[str]):
    """Reference for :func:`compose_itinerary`: the left-to-right chain (quadratic in k)."""
    n = model.n
    J, c = identity(n), flint.fmpq_mat(n, 1)
    for s in itinerary:
        Js, cs = model.affine_piece(s)
        J, c = Js * J, Js * c + cs
    return J, c


def _rotations_min(seq: tuple) -> tuple:
    return min(seq[i:] + seq[:i] for i in range(len(seq)))


def _orbit_key(points, basis=()):
    if not basis:
        return ("pt", _rotations_min(tuple(points)))
    return ("aff", basis)


def _minimal_period(points) -> int:
    k = len(points)
    for q in range(1, k + 1):
        if k % q == 0 and all(points[i] == points[(i + q) % k] for i in range(k)):
            return q
    return k


def _orbit_points(model, itinerary, z1: flint.fmpq_mat):
    pts = [z1]
    for s in itinerary[:-1]:
        J, c = model.affine_piece(s)
        pts.append(J * pts[-1] + c)
    return pts


# Exact orbit points without per-step gcds. A cycle point of a long itinerary is a vector of
# huge rationals (a period-211 cycle of a 20-D model: ~128k-bit numerators and denominators).
# fmpq arithmetic reduces every entry of every intermediate result (one big gcd each), and
# Fraction(p, q) reduces again; those gcds, not the algebra, dominated the exact check. Here
# the orbit is carried as integer vectors over one common denominator:
#
#     z_j = x_j / (delta * M_j),   x_j integer, M_j > 0 integer,
#
# where delta is the part of the first point's common denominator coprime to every model
# denominator (fixed along the orbit: f_s multiplies denominators only by model
# denominators) and M_j collects the rest; each step x_{j+1} = r P x_j + q delta M_j p for
# J_s = P / q, c_s = p / r, M_{j+1} = q r M_j, then (x, M) is divided by gcd(M, x mod M),
# a gcd of small numbers. Signs of C z + d come from integers. Only the points kept are
# reduced to lowest terms, with one batch coprimality test: a prime p | delta divides some
# entry x iff it divides prod x (mod delta), so with g = gcd(prod x mod delta, delta) the
# primes of delta outside g divide no entry and gcd(x, delta M) = gcd(x, delta_g M), where
# delta_g is the g-smooth part of delta (usually 1 or tiny).

@dataclass
class _IntOrbit:
    xs: list          # per point: list of n fmpz numerators
    Ms: list          # per point: fmpz M_j > 0
    delta: flint.fmpz


def _int_piece(cache: dict, model, s: str):
    hit = cache.get(s)
    if hit is None:
        J, c = model.affine_piece(s)
        P, q = J.numer_denom()
        p, r = c.numer_denom()
        hit = cache[s] = (P, flint.fmpz(q), p, flint.fmpz(r))
    return hit


def _smooth_split(N: flint.fmpz, g: flint.fmpz) -> tuple[flint.fmpz, flint.fmpz]:
    """(a, b) with N = a b, every prime of a divides g, b coprime to g."""
    a, b = flint.fmpz(1), flint.fmpz(N)
    while True:
        t = b.gcd(g)
        if t == 1:
            return a, b
        a, b = a * t, b // t


def _int_orbit(model, itinerary, z1: flint.fmpq_mat, cache: dict) -> _IntOrbit:
    """The k points z_1, f_{s_1}(z_1), ... of *itinerary* from the exact point z1."""
    X, D = z1.numer_denom()
    den = flint.fmpz(1)
    for s in set(itinerary):
        _, q, _, r = _int_piece(cache, model, s)
        den = den.lcm(q).lcm(r)
    Mp, delta = _smooth_split(flint.fmpz(D), den)
    n = model.n
    x = [X[i, 0] for i in range(n)]
    xs, Ms = [x], [Mp]
    for s in itinerary[:-1]:
        P, q, p, r = _int_piece(cache, model, s)
        col = P * flint.fmpz_mat(n, 1, x)
        dm = q * delta * Ms[-1]
        x = [r * col[i, 0] + dm * p[i, 0] for i in range(n)]
        M = q * r * Ms[-1]
        g = M
        for v in x:
            if g == 1:
                break
            g = g.gcd(v % g)
        if g != 1:
            x = [v // g for v in x]
            M = M // g
        xs.append(x)
        Ms.append(M)
    return _IntOrbit(xs, Ms, delta)


def _int_location(model, cache: dict, x: list, M: flint.fmpz, delta: flint.fmpz) -> Location:
    """Exact :class:`Location` of z = x / (delta M): sign of (dq Cn x + cq delta M dn)_k."""
    hit = cache.get("__C__")
    if hit is None:
        Cn, cq = model.C.numer_denom()
        dn, dq = model.d.numer_denom()
        hit = cache["__C__"] = (Cn, flint.fmpz(cq), dn, flint.fmpz(dq))
    Cn, cq, dn, dq = hit
    if model.L == 0:
        return Location((), ())
    Cx = Cn * flint.fmpz_mat(len(x), 1, x)
    scale = cq * delta * M
    vals = [dq * Cx[k, 0] + scale * dn[k, 0] for k in range(model.L)]
    signs = tuple((v > 0) - (v < 0) for v in vals)
    return Location(signs, tuple(k for k, sg in enumerate(signs) if sg == 0))


def _int_same_point(orb: _IntOrbit, a: int, b: int) -> bool:
    Ma, Mb = orb.Ms[a], orb.Ms[b]
    return all(u * Mb == v * Ma for u, v in zip(orb.xs[a], orb.xs[b]))


def _int_minimal_period(orb: _IntOrbit) -> int:
    k = len(orb.xs)
    for q in range(1, k + 1):
        if k % q == 0 and all(_int_same_point(orb, i, (i + q) % k) for i in range(k)):
            return q
    return k


def _coprime_fraction(p: int, q: int) -> Fraction:
    """Fraction(p, q) for coprime p and q > 0, without recomputing their gcd."""
    make = getattr(Fraction, "_from_coprime_ints", None)   # Python >= 3.12
    if make is not None:
        return make(p, q)
    try:
        return Fraction(p, q, _normalize=False)            # Python 3.11
    except TypeError:  # pragma: no cover - other Pythons: the plain (reducing) constructor
        return Fraction(p, q)


def _int_fractions(orb: _IntOrbit, count: int) -> tuple:
    """The first *count* points as tuples of Fractions in lowest terms (see the note above)."""
    delta = orb.delta
    good = flint.fmpz(1)
    if delta != 1:
        # (plain fmpz arithmetic: flint.fmpz_mod_ctx tests its modulus for primality, which
        # costs minutes for a 100k-bit delta)
        acc = flint.fmpz(1)
        for x in orb.xs[:count]:
            for v in x:
                if v != 0:
                    acc = acc * v % delta
        g = acc.gcd(delta)
        bad, good = _smooth_split(delta, g) if g != 1 else (flint.fmpz(1), delta)
    else:
        bad = flint.fmpz(1)
    pts = []
    for x, M in zip(orb.xs[:count], orb.Ms[:count]):
        small = bad * M          # gcd(v, delta M) = gcd(v, bad M): primes of `good` divide no entry
        den = delta * M
        row = []
        for v in x:
            if v == 0:
                row.append(Fraction(0))
                continue
            g = small.gcd(v % small) if small != 1 else small
            row.append(_coprime_fraction(int(v // g), int(den // g)))
        pts.append(tuple(row))
    return tuple(pts)


def _continuum_witness(model, itinerary, z0: flint.fmpq_mat, basis) -> tuple[str, tuple | None, int]:
    """Does z0 + span(basis) meet the itinerary's cells? Returns (where, exact witness z1, dim).

    where: 'open' (a point strictly inside every cell), 'closure' (only on boundaries),
    'none'. Linear program in the coordinates t of z1 = z0 + N t (HiGHS, untrusted); an
    open witness is confirmed exactly, and a closure witness is then rounded and checked.
    """
    from scipy.optimize import linprog

    n, m = model.n, len(basis)
    N = np.array([[float(fraction_of(b[i, 0])) for b in basis] for i in range(n)]).reshape(n, m)
    P = np.array([float(fraction_of(v)) for v in z0.entries()])
    rows, rhs = [], []
    norms = np.linalg.norm(model.Cf, axis=1)
    Pj, Nj = P, N
    for s in itinerary:
        sig = np.where(bits_to_array([s], model.L)[0], 1.0, -1.0)
        # sig (C (Pj + Nj t) + d) >= margin * ||C_k||
        rows.append(np.hstack([-sig[:, None] * (model.Cf @ Nj), norms[:, None]]))
        rhs.append(sig * (model.Cf @ Pj + model.df))
        J, c = model.affine_pieces_float(bits_to_array([s], model.L))
        Pj, Nj = J[0] @ Pj + c[0], J[0] @ Nj
    A_ub = np.vstack(rows) if rows else np.zeros((0, m + 1))
    b_ub = np.concatenate(rhs) if rhs else np.zeros(0)
    bounds = [(-1e6, 1e6)] * m + [(None, 1.0)]
    res = linprog(np.r_[np.zeros(m), -1.0], A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0 or res.x[-1] < -1e-9:
        return "none", None, -1
    t = res.x[:m]
    for scale in (1, 2**20, 2**40):
        tq = [Fraction(round(v * scale), scale) for v in t] if scale > 1 else [Fraction(float(v)) for v in t]
        z1 = flint.fmpq_mat(z0)
        for b, tv in zip(basis, tq):
            z1 = z1 + b * flint.fmpq(tv.numerator, tv.denominator)
        pts = _orbit_points(model, itinerary, z1)
        locs = [locate(model, vector_of(p)) for p in pts]
        if all(l.matches(s) for l, s in zip(locs, itinerary)):
            where = "open" if all(l.strict for l in locs) else "closure"
            return where, tuple(vector_of(z1)), m
    return ("closure" if res.x[-1] <= 1e-9 else "open"), None, m


def _closure_face(model, itinerary, z0: flint.fmpq_mat, basis):
    """The face of {t : z0 + N t has its orbit in the closures of the itinerary's cells} that
    the family really occupies, when it meets them only on boundaries.

    Implicit equalities are found by one LP per constraint (max slack 0 ⇒ tight on the whole
    set), then solved exactly: returns (point z1, basis of the face) as exact data, or None
    when the exact solve contradicts the LPs.
    """
    from scipy.optimize import linprog

    n, m = model.n, len(basis)
    N = flint.fmpq_mat(n, m, [b[i, 0] for i in range(n) for b in basis])
    Pj, Nj = flint.fmpq_mat(z0), N
    exact_rows = []  # (sig, C_k Nj, C_k Pj + d_k)
    for s in itinerary:
        CN, CP = model.C * Nj, model.C * Pj + model.d
        for k in range(model.L):
            exact_rows.append((1 if s[k] == "1" else -1, [CN[k, j] for j in range(m)], CP[k, 0]))
        J, c = model.affine_piece(s)
        Pj, Nj = J * Pj + c, J * Nj
    A = np.array([[-sg * float(fraction_of(v)) for v in row] for sg, row, _ in exact_rows]).reshape(-1, m)
    b = np.array([sg * float(fraction_of(v)) for sg, _, v in exact_rows])
    tight = []
    for i in range(len(A)):
        r = linprog(A[i], A_ub=A, b_ub=b, bounds=[(-1e6, 1e6)] * m, method="highs")  # min A_i t: max slack
        if r.status == 0 and b[i] - r.fun <= 1e-9:
            tight.append(i)
    if not tight:
        return None
    E = flint.fmpq_mat(len(tight), m, [v for i in tight for v in exact_rows[i][1]])
    e = flint.fmpq_mat(len(tight), 1, [-exact_rows[i][2] for i in tight])
    sol = solve_affine(E, e)
    if sol.point is None:
        return None
    z1 = z0 + N * sol.point
    face_basis = [N * v for v in sol.basis]
    return z1, face_basis


def confirm_itinerary(model, itinerary: Sequence[str], classify: bool = True) -> Orbit | None:
    """Exact answer for one itinerary: the orbit it carries, or None.

    Returns an isolated, boundary or continuum :class:`Orbit` whose points (or, for a
    continuum, an exact witness point) lie in the closures of the itinerary's regions, with
    its minimal period (which may divide ``len(itinerary)``).

    The cycle map is composed by a balanced product tree, the one n x n system
    (I - J_F) z = c_F is solved exactly, and the orbit is propagated in integers over a
    common denominator (see the note above :class:`_IntOrbit`): the same exact points as
    the straightforward method (:func:`_confirm_reference`), but a period-211 cycle of a
    20-D model takes seconds instead of minutes.

    >>> from symbolic.models import model_from_dict
    >>> tent = model_from_dict({"kind": "relu-affine", "A": [[2]], "B": [[-4]], "C": [[1]],
    ...                         "d": ["-1/2"], "e": [0]})
    >>> orbit, _ = confirm_itinerary(tent, ("0", "1", "1"))
    >>> orbit.points, orbit.type
    (((Fraction(2, 7),), (Fraction(4, 7),), (Fraction(6, 7),)), 'repeller')
    """
    return _confirm(model, itinerary, classify, fast=True)


def _confirm_reference(model, itinerary: Sequence[str], classify: bool = True):
    """:func:`confirm_itinerary` done the straightforward way (left-to-right composition,
    fmpq propagation, Fractions reduced at every step): the reference for tests and
    benchmarks."""
    return _confirm(model, itinerary, classify, fast=False)


def _confirm(model, itinerary: Sequence[str], classify: bool, fast: bool):
    itinerary = tuple(itinerary)
    k = len(itinerary)
    J, c = (compose_itinerary if fast else _compose_chain)(model, itinerary)
    sol = solve_affine(identity(model.n) - J, c)
    if sol.point is None:
        return None
    point = sol.point
    if sol.basis:
        where, w, dim = _continuum_witness(model, itinerary, sol.point, sol.basis)
        if where == "none":
            return None
        face = _closure_face(model, itinerary, sol.point, sol.basis) if where == "closure" else None
        if face is not None and not face[1]:
            point = face[0]  # the family meets the cells' closures in one point: an isolated boundary orbit
        else:
            base, fbasis = (face if face is not None else (sol.point, list(sol.basis)))
            if w is None:
                return None
            z1 = column(w)
            pts = [tuple(vector_of(p)) for p in _orbit_points(model, itinerary, z1)]
            locs = [locate(model, p) for p in pts]
            if not all(l.matches(s) for l, s in zip(locs, itinerary)):
                return None
            key = canonical_affine(base, fbasis)
            return Orbit(
                period=k, points=tuple(pts), regions=itinerary, type="continuum", dimension=len(fbasis),
                basis=tuple(tuple(vector_of(b)) for b in fbasis),
                boundary=tuple(l.boundary for l in locs),
            ), key
    if fast:
        cache: dict = {}
        orb = _int_orbit(model, itinerary, point, cache)
        locs = []
        for x, M, s in zip(orb.xs, orb.Ms, itinerary):
            loc = _int_location(model, cache, x, M, orb.delta)
            if not loc.matches(s):
                return None
            locs.append(loc)
        q = _int_minimal_period(orb)
        pts = _int_fractions(orb, q)
    else:
        pts_m = _orbit_points(model, itinerary, point)
        pts = tuple(tuple(vector_of(p)) for p in pts_m)
        locs = [locate(model, p) for p in pts]
        if not all(l.matches(s) for l, s in zip(locs, itinerary)):
            return None
        q = _minimal_period(pts)
        pts = pts[:q]
    itin, locs = itinerary[:q], locs[:q]
    if all(l.strict for l in locs):
        stab = None
        typ = "unclassified"
        if classify:
            from .stability import classify as _classify

            if fast:
                Jq = J if q == k else compose_itinerary(model, itin)[0]
            else:
                Jq = _compose_chain(model, itin)[0]
            stab = _classify(Jq)
            typ = stab.type
        return Orbit(period=q, points=pts, regions=itin, type=typ, stability=stab,
                     boundary=tuple(() for _ in pts)), None
    return Orbit(period=q, points=pts, regions=tuple(l.bits for l in locs), type="boundary",
                 boundary=tuple(l.boundary for l in locs)), None


# ----------------------------------------------------------------------------- float batches

def _necklace_count_check(N: int, p: int) -> None:
    if N ** p > MAX_ITINERARIES:
        raise ValueError(
            f"{N}^{p} = {N ** p} itineraries exceed the exhaustive limit {MAX_ITINERARIES}; "
            "use --mode graph (with a box) or --mode scyfi, or a smaller --max-period"
        )


def _necklaces(N: int, p: int) -> np.ndarray:
    """All p-tuples over range(N) that are the lexicographically least of their rotations."""
    _necklace_count_check(N, p)
    idx = np.indices((N,) * p).reshape(p, -1).T
    keep = np.ones(len(idx), dtype=bool)
    for r in range(1, p):
        rot = np.roll(idx, -r, axis=1)
        # keep iff idx <= rot lexicographically
        diff = rot != idx
        first = np.argmax(diff, axis=1)
        has = diff.any(axis=1)
        less = rot[np.arange(len(idx)), first] < idx[np.arange(len(idx)), first]
        keep &= ~(has & less)
    return idx[keep]


def _float_screen(model, Js, cs, itins: np.ndarray, region_bits: np.ndarray):
    """Batched float solve for itineraries (M, p) of region indices.

    Returns indices of itineraries to confirm exactly: float says valid, or the float
    margin to a boundary is within the estimated float error, or the system is
    ill-conditioned (2-norm condition number of I - J_F at least 1e10).

    The same decisions as :func:`_float_screen_svd` with far fewer SVDs: an upper bound
    cond_2(M) <= n cond_1(M) (norm equivalence ||A||_2 <= sqrt(n) ||A||_1), with the 1-norm
    condition from one batched inverse and a factor 2 of slack for its rounding, already
    proves "well conditioned" for most itineraries and bounds their tolerance; the exact
    SVD condition is computed only where the bound cannot decide (near-singular systems, or
    a margin within the bounded tolerance). Per-region quantities (signs, row-sum norms)
    are computed once per region, and the first piece needs no product with I; margins and
    tolerances are the same floating-point expressions, so the candidates are the same.
    """
    M, p = itins.shape
    n = model.n
    Jg = [Js[itins[:, j]] for j in range(p)]       # gathered once, reused for the margins
    cg = [cs[itins[:, j]] for j in range(p)]
    J, c = Jg[0], cg[0]
    for j in range(1, p):
        J = Jg[j] @ J
        c = np.einsum("mij,mj->mi", Jg[j], c) + cg[j]
    Mat = np.eye(n)[None] - J
    ok = np.zeros(M, dtype=bool)
    cond = np.full(M, np.inf)
    bound = np.full(M, np.inf)
    # ||I - J_F||_1 <= 1 + prod_j ||J_j||_1 (submultiplicative), from per-region norms
    # per-region quantities once per region when the regions are fewer than the batch (else
    # per row: with 2^20 regions and a batch of 2000, per-region work would dominate)
    few = len(Js) <= M
    if few:
        norm1_r = np.abs(Js).sum(axis=1).max(axis=1)
        normM = 1.0 + np.prod(norm1_r[itins], axis=1)
    else:
        normM = 1.0 + np.prod([np.abs(Jj).sum(axis=1).max(axis=1) for Jj in Jg], axis=0)
    try:
        with np.errstate(all="ignore"):
            inv = np.linalg.inv(Mat)
            bound = 2 * n * normM * np.abs(inv).sum(axis=1).max(axis=1)
    except np.linalg.LinAlgError:  # an exactly singular float system in the batch: SVDs decide
        pass
    sure = np.isfinite(bound) & (bound < 1e10)     # cond_2 <= bound / 2 < 1e10: the SVD test passes
    ok[sure] = True

    def svd_cond(rows):
        sv = np.linalg.svd(Mat[rows], compute_uv=False)
        good = np.isfinite(sv).all(axis=1) & (sv[:, -1] > 1e-10 * sv[:, 0])
        ok[rows] = good
        cond[rows] = np.where(good, sv[:, 0] / np.where(good, sv[:, -1], 1.0), np.inf)

    if not sure.all():
        svd_cond(np.nonzero(~sure)[0])
    z = np.zeros((M, n))
    if ok.any():
        try:
            z[ok] = np.linalg.solve(Mat[ok], c[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:  # a pivot underflowed: leave these to the exact path
            ok[:] = False
    norms = np.linalg.norm(model.Cf, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    if few:
        sig_r = np.where(region_bits, 1.0, -1.0)
        growth_r = np.maximum(1.0, np.abs(Js).sum(axis=2).max(axis=1))
    minmargin = np.full(M, np.inf)
    growth = np.ones(M)
    zj = z
    scale = 1.0 + np.abs(z).max(axis=1)
    for j in range(p):
        r = itins[:, j]
        if model.L:
            pre = zj @ model.Cf.T + model.df
            sig = sig_r[r] if few else np.where(region_bits[r], 1.0, -1.0)
            minmargin = np.minimum(minmargin, (sig * pre / norms).min(axis=1))
        scale = np.maximum(scale, 1.0 + np.abs(zj).max(axis=1))
        if j + 1 < p:
            zj = np.einsum("mij,mj->mi", Jg[j], zj) + cg[j]
        growth *= growth_r[r] if few else np.maximum(1.0, np.abs(Jg[j]).sum(axis=2).max(axis=1))
    # where the bound decides (margin below minus the bounded tolerance) the SVD tolerance,
    # being smaller, rejects too; elsewhere compute the SVD condition
    undecided = sure & ok & ~(minmargin <= -1e-11 * (bound + growth) * scale)
    if undecided.any():
        svd_cond(np.nonzero(undecided)[0])
    tol = 1e-11 * (np.where(ok, cond, 0.0) + growth) * scale
    decided = sure & ok & ~undecided
    want = (~ok) | ((minmargin > -tol) & ~decided)
    return np.nonzero(want)[0]


def _float_screen_svd(model, Js, cs, itins: np.ndarray, region_bits: np.ndarray):
    """Reference for :func:`_float_screen` (an SVD per itinerary for the condition number).

    Returns indices of itineraries to confirm exactly: float says valid, or the float
    margin to a boundary is within the estimated float error, or the system is
    ill-conditioned.
    """
    M, p = itins.shape
    n = model.n
    J = np.broadcast_to(np.eye(n), (M, n, n)).copy()
    c = np.zeros((M, n))
    for j in range(p):
        Jj, cj = Js[itins[:, j]], cs[itins[:, j]]
        J = Jj @ J
        c = np.einsum("mij,mj->mi", Jj, c) + cj
    Mat = np.eye(n)[None] - J
    sv = np.linalg.svd(Mat, compute_uv=False)
    ok = np.isfinite(sv).all(axis=1) & (sv[:, -1] > 1e-10 * sv[:, 0])
    cond = np.where(ok, sv[:, 0] / np.where(ok, sv[:, -1], 1.0), np.inf)
    z = np.zeros((M, n))
    if ok.any():
        try:
            z[ok] = np.linalg.solve(Mat[ok], c[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:  # a pivot underflowed: leave these to the exact path
            ok[:] = False
    norms = np.linalg.norm(model.Cf, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    minmargin = np.full(M, np.inf)
    growth = np.ones(M)
    zj = z
    scale = 1.0 + np.abs(z).max(axis=1)
    for j in range(p):
        pre = zj @ model.Cf.T + model.df
        sig = np.where(region_bits[itins[:, j]], 1.0, -1.0)
        minmargin = np.minimum(minmargin, (sig * pre / norms).min(axis=1) if model.L else np.inf)
        scale = np.maximum(scale, 1.0 + np.abs(zj).max(axis=1))
        Jj = Js[itins[:, j]]
        zj = np.einsum("mij,mj->mi", Jj, zj) + cs[itins[:, j]]
        growth *= np.maximum(1.0, np.abs(Jj).sum(axis=2).max(axis=1))
    tol = 1e-11 * (np.where(ok, cond, 0.0) + growth) * scale
    want = (~ok) | (minmargin > -tol)
    return np.nonzero(want)[0]


def _pieces_float(model, regions: list[str]):
    bits = bits_to_array(regions, model.L)
    Js, cs = model.affine_pieces_float(bits)
    return Js, cs, bits


# ----------------------------------------------------------------------------- searches

class _Collector:
    def __init__(self, classify: bool):
        self.orbits: dict = {}
        self.classify = classify
        self.exact_checks = 0

    def add_itinerary(self, model, itinerary, period: int, found_by: str) -> Orbit | None:
        self.exact_checks += 1
        out = confirm_itinerary(model, itinerary, classify=self.classify)
        if out is None:
            return None
        orbit, affine_key = out
        if orbit.period != period:
            return None  # minimal period q < p: found when searching period q
        key = ("aff", affine_key) if orbit.type == "continuum" else orbit.key()
        if orbit.type == "continuum":
            root = _primitive_root(itinerary)
            if len(root) < len(itinerary):
                sub = confirm_itinerary(model, root, classify=False)
                if sub is not None and sub[0].type == "continuum" and sub[0].dimension == orbit.dimension:
                    return None  # the same family of points of smaller period
        if key in self.orbits:
            return None
        orbit.found_by = found_by
        self.orbits[key] = orbit
        return orbit


def _primitive_root(itin: tuple) -> tuple:
    k = len(itin)
    for q in range(1, k + 1):
        if k % q == 0 and itin == itin[:q] * (k // q):
            return itin[:q]
    return itin


ALL_PATTERNS_LIMIT = 2**22


def _exhaustive(model, max_period, collector, progress, regions=None, stats=None):
    """Every itinerary over the realisable regions, as necklaces, screened in float batches.

    Fixed points need no cell enumeration: when 2^L is at most ALL_PATTERNS_LIMIT every
    pattern is tried (an unrealisable one simply has no solution inside it), which avoids
    one LP per cell. Cycles use the realisable cells (:func:`enumerate_regions`).
    """
    stats["float_solves"] = 0
    cells = prev_regs = None
    if regions is None and max_period >= 2:
        cells = enumerate_regions(model)
        stats["region_method"] = cells.method
        _necklace_count_check(len(cells.regions), max_period)
    elif regions is not None:
        stats["region_method"] = "given"
        _necklace_count_check(len(regions), max_period)
    for p in range(1, max_period + 1):
        if regions is not None:
            regs = list(regions)
        elif p == 1 and model.L <= 22 and 2**model.L <= ALL_PATTERNS_LIMIT:
            regs = all_patterns(model.L)
            stats["region_method"] = "all-patterns"
        else:
            if cells is None:
                cells = enumerate_regions(model)
                stats["region_method"] = cells.method
            regs = cells.regions
        stats[f"regions_period_{p}"] = len(regs)
        if regs is not prev_regs:
            Js, cs, bits = _pieces_float(model, regs)
            prev_regs = regs
        itins = _necklaces(len(regs), p)
        for start in range(0, len(itins), _BATCH):
            chunk = itins[start:start + _BATCH]
            stats["float_solves"] += len(chunk)
            for i in _float_screen(model, Js, cs, chunk, bits):
                collector.add_itinerary(model, tuple(regs[r] for r in chunk[i]), p, "exhaustive")
            if progress:
                progress(f"period {p}: {min(start + _BATCH, len(itins))}/{len(itins)} itineraries, "
                         f"{len(collector.orbits)} orbits")


def scyfi_loop_counts(k: int) -> tuple[int, int]:
    """SCYFI's default (outer, inner) loop counts for order k (reference implementation)."""
    outer = 10 if k < 8 else (40 if k < 30 else 100)
    if k < 3:
        inner = 20
    elif k < 6:
        inner = 60
    elif k < 8:
        inner = 300
    elif k < 20:
        inner = 1080
    else:
        inner = 1115
    return outer, inner


def _pattern_pool(model, rng, size=2000):
    """Patterns realised by random points in [-10, 10]^n and by trajectories from them."""
    Z = rng.uniform(-10, 10, size=(size, model.n))
    pats = [model.preact(Z) > 0]
    X = Z[: size // 10]
    for _ in range(50):
        X = model.f(X)
        X = X[np.all(np.isfinite(X), axis=1) & (np.abs(X).max(axis=1) < 1e8)]
        if len(X) == 0:
            break
        pats.append(model.preact(X) > 0)
    return np.unique(np.vstack(pats), axis=0)


def _scyfi(model, max_period, collector, progress, rng, outer=None, inner=None, stats=None):
    n, L = model.n, model.L
    full_rank = L <= n and L > 0 and np.linalg.matrix_rank(model.Cf) == L
    pool = None if full_rank else _pattern_pool(model, rng)
    stats["float_solves"] = 0
    eye = np.eye(n)
    for k in range(1, max_period + 1):
        out_n, in_n = scyfi_loop_counts(k)
        out_n = outer or out_n
        in_n = inner or in_n
        i = 0
        while i < out_n:
            if pool is None:
                itin = rng.random((k, L)) < 0.5
            else:
                itin = pool[rng.integers(len(pool), size=k)]
            j = 0
            while j < in_n:
                Js, cs = model.affine_pieces_float(itin)
                J, c = eye, np.zeros(n)
                for Jj, cj in zip(Js, cs):
                    J, c = Jj @ J, Jj @ c + cj
                stats["float_solves"] += 1
                try:
                    z = np.linalg.solve(eye - J, c)
                except np.linalg.LinAlgError:
                    break
                traj = [z]
                for _ in range(k - 1):
                    traj.append(model.f(traj[-1]))
                actual = model.preact(np.array(traj)) > 0
                if not np.all(np.isfinite(actual)):
                    break
                if np.array_equal(actual, itin):
                    new = collector.add_itinerary(model, tuple(array_to_bits(itin)), k, "scyfi")
                    if new is not None:
                        i = 0
                        if progress:
                            progress(f"period {k}: {len(collector.orbits)} orbits")
                    break
                itin = actual
                j += 1
            i += 1


def find_orbits(model, max_period: int = 1, mode: str = "auto", seed: int = 0, classify: bool = True,
                progress: Callable[[str], None] | None = None, scyfi_outer: int | None = None,
                scyfi_inner: int | None = None, regions: Sequence[str] | None = None) -> OrbitSearch:
    """All fixed points and cycles up to *max_period* (exhaustive), or those SCYFI finds.

    mode: 'exhaustive' (complete: every realisable itinerary, batched float screen plus exact
    confirmation), 'scyfi' (heuristic), or 'auto' (exhaustive when the number of
    itineraries is at most MAX_ITINERARIES, else SCYFI).
    *regions*: the realisable cells when the caller already knows them (e.g. from the
    faster walk of :func:`graph.regiongraph.region_graph`); exhaustive mode is complete only if
    they are all the cells. Orbits are sorted by period, type and coordinates and get ids
    ``P<period>-<i>``.
    """
    if max_period < 1:
        raise ValueError("max_period must be >= 1")
    t0 = time.perf_counter()
    collector = _Collector(classify)
    stats: dict = {}
    if mode == "auto":
        if max_period == 1 and 2**model.L <= ALL_PATTERNS_LIMIT:
            mode = "exhaustive"
        elif regions is not None:
            mode = "exhaustive" if len(regions) ** max_period <= MAX_ITINERARIES else "scyfi"
        else:
            try:
                cells = enumerate_regions(model, max_regions=MAX_ITINERARIES)
                mode = "exhaustive" if len(cells.regions) ** max_period <= MAX_ITINERARIES else "scyfi"
            except ValueError:
                mode = "scyfi"
    if mode == "exhaustive":
        _exhaustive(model, max_period, collector, progress, regions=regions, stats=stats)
        status, msg = "complete", "exhaustive search over all realisable itineraries"
    elif mode == "scyfi":
        _scyfi(model, max_period, collector, progress, np.random.default_rng(seed),
               scyfi_outer, scyfi_inner, stats=stats)
        status, msg = "heuristic", "SCYFI heuristic search: found orbits are exact, completeness is not claimed"
    else:
        raise ValueError(f"unknown orbit search mode {mode!r} (exhaustive, scyfi or auto)")
    stats["exact_checks"] = collector.exact_checks
    stats["seconds"] = time.perf_counter() - t0
    orbits = sorted(collector.orbits.values(), key=_sort_key)
    counters: dict = {}
    for o in orbits:
        counters[o.period] = counters.get(o.period, 0) + 1
        o.id = f"P{o.period}-{counters[o.period]}"
    return OrbitSearch(orbits, mode, max_period, status, msg, stats)


_TYPE_ORDER = {"attractor": 0, "saddle": 1, "repeller": 2, "non-hyperbolic": 3, "boundary": 4, "continuum": 5}


def _sort_key(o: Orbit):
    return (o.period, _TYPE_ORDER.get(o.type, 9), _rotations_min(tuple(o.points)))
