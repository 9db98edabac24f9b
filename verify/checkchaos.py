"""Checker claims for connecting orbits and chaos theorems (trusted base; DESIGN §8, §9).

Registered claim types (each re-derived from the certificate's model with exact rationals and
rational-endpoint intervals only -- Fractions, and flint's exact ``fmpq_mat`` for products,
inverses and determinants; nothing from ``graph`` or ``symbolic`` is imported):

``transversal-homoclinic-orbit`` (theorem ``smale-birkhoff``)
    An orbit x_0, ..., x_N, ... with x_0 on the local unstable piece of a hyperbolic saddle
    orbit point p_i and x_N on the local stable piece of p_j ((i + N) ≡ j mod period), every
    x_k strictly inside its region, det J ≠ 0 along the orbit and the cycle, and
    [DF_σ U | −S] non-singular (transversality). Smale–Birkhoff: some iterate of f has an
    invariant Cantor set near the orbit on which it is conjugate to the full 2-shift, so
    h_top(f) > 0. The proof is local: f is affine and invertible near every point of the
    orbit's closure, which is all the theorem uses.
``transversal-heteroclinic-orbit`` (theorem ``none``)
    The same data for a connection from a saddle orbit p to a different saddle orbit q.
``heteroclinic-cycle`` (theorem ``heteroclinic-cycle``)
    A list of ids of heteroclinic claims of the certificate that form a cycle p_1 → p_2 →
    ... → p_1; each one is re-checked. A transversal heteroclinic cycle of hyperbolic saddles
    (f a local diffeomorphism near it) has transversal homoclinic points (λ-lemma), hence
    Smale–Birkhoff chaos.
``snap-back-repeller`` (theorem ``marotto-2005``)
    A fixed point z, a rational positive definite Q and radius r such that the ellipsoid
    B = {x : (x − z)ᵀ Q (x − z) ≤ r²} lies strictly inside z's region and Jᵀ Q J − Q is
    positive definite (so ‖f(x) − f(y)‖_Q > ‖x − y‖_Q on B: f is expanding on B in the
    norm ‖·‖_Q, Marotto's corrected hypothesis), and an exact orbit x_0 ∈ B \\ {z}, ...,
    x_M = z strictly inside regions with det J(x_k) ≠ 0. Marotto (1978; corrected 2005),
    Li & Chen (2003): f is chaotic in the sense of Li and Yorke.

Data of a connection claim (numbers are exact rationals ``"p/q"``; intervals ``[lo, hi]``)::

    {"type": "transversal-homoclinic-orbit", "theorem": "smale-birkhoff",
     "orbit": {"period": k, "points": [...], "stable_dim": s, "unstable_dim": u},
     "departure": {"index": i, "radius": r, "eigenpairs": [...], "coordinates": [[lo, hi], ...]},
     "arrival":   {"index": j, "radius": r, "eigenpairs": [...], "coordinates": [[lo, hi], ...]},
     "itinerary": ["10*", ...],       # sign pattern of x_0 .. x_{N-1} over the model's units
     "point": [[lo, hi], ...],        # enclosure of x_0
     "precision_bits": 256}

(a heteroclinic claim has ``"source"`` and ``"target"`` instead of ``"orbit"``). An eigenpair
is ``{"value": [lo, hi], "vector": [[lo, hi], ...], "normalized": k}`` (real; ``vector[k]`` is
exactly 1) or ``{"value": [[re_lo, re_hi], [im_lo, im_hi]], "vector_re": ..., "vector_im": ...,
"normalized": k}`` (a complex pair α ± iβ with vector x ± iy, x_k = 1, y_k = 0). Each is
proven by Krawczyk's test on (J − λ) v = 0 to contain exactly one eigenpair; the boxes are
disjoint and their number (complex pairs counting 2) equals the exact count of eigenvalues
outside (departure) / inside (arrival) the unit circle, so every such eigenvalue is simple
and U (resp. S), the enclosed eigenvectors (real and imaginary parts), spans E^u (E^s).

Local pieces: N_r = {a : |a_t| ≤ r for real coordinates, a_x² + a_y² ≤ r² for each complex
pair}. In these coordinates J acts block-diagonally (λ, or rotation-scaling by |λ|), so N_r
is invariant under J^{-1} (departure) or J (arrival); the piece p + U N_r (and its images
along the cycle) is checked to lie strictly inside the regions for every U in the enclosure,
so it is a piece of W^u (W^s). The boxes of a and b must exclude 0 (x_0 and x_N are not the
periodic points themselves: otherwise the fixed point would be its own "homoclinic orbit").
``coordinates`` (a, b) are proven by Krawczyk's test on the
linear system [D U | −S] (a, b) = q_j − F_σ(p_i) to contain its unique solution for every
U, S in their enclosures, which is also the transversality proof; an interval determinant
of the same matrix is required to exclude 0 as well.
"""
from __future__ import annotations

from fractions import Fraction

import flint

from .checker import check_periodic_orbit, register
from .checkmodel import CheckedMap, CheckInputError, _q, eye, matmul, qvec
from .intervals import (
    Interval, det, interval_det, inverse, is_positive_definite, krawczyk,
    matvec, mid_vec,
)

THEOREMS = {
    "transversal-homoclinic-orbit": "smale-birkhoff",
    "transversal-heteroclinic-orbit": "none",
    "heteroclinic-cycle": "heteroclinic-cycle",
    "snap-back-repeller": "marotto-2005",
}

_MIN_BITS, _MAX_BITS = 16, 1 << 16
_ONE = Fraction(1)
_ZERO = Fraction(0)


class _Fail(Exception):
    """A claim is false (or not proven): carries the one-line reason."""


# ----------------------------------------------------------------------------- parsing

def _int(x, where, lo=None, hi=None) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise CheckInputError(f"{where}: expected an integer")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise CheckInputError(f"{where}: {x} out of range [{lo}, {hi}]")
    return x


def _ivl(v, where) -> Interval:
    if not isinstance(v, list) or len(v) != 2:
        raise CheckInputError(f"{where}: expected an interval [lo, hi]")
    lo, hi = _q(v[0], f"{where}[0]"), _q(v[1], f"{where}[1]")
    if lo > hi:
        raise CheckInputError(f"{where}: lo > hi")
    return Interval(lo, hi)


def _ivvec(v, n, where) -> list[Interval]:
    if not isinstance(v, list) or len(v) != n:
        raise CheckInputError(f"{where}: expected a list of {n} intervals")
    return [_ivl(x, f"{where}[{i}]") for i, x in enumerate(v)]


def _bits(claim) -> int:
    return _int(claim.get("precision_bits"), "precision_bits", _MIN_BITS, _MAX_BITS)


def _theorem(claim) -> None:
    want = THEOREMS[claim["type"]]
    if claim.get("theorem") != want:
        raise _Fail(f"theorem must be {want!r} for a {claim['type']} claim, got {claim.get('theorem')!r}")


# ----------------------------------------------------------------------------- the map, exactly

def _pattern(model: CheckedMap, s, where) -> str:
    """Validate a sign pattern: '0'/'1' on units that bend the map, '*' on the others."""
    if not isinstance(s, str) or len(s) != model.L:
        raise CheckInputError(f"{where}: expected a string of {model.L} characters")
    kinks = set(model.kinks)
    for k, ch in enumerate(s):
        if k in kinks and ch not in "01":
            raise _Fail(f"{where}: unit {k} bends the map, its sign must be '0' or '1', got {ch!r}")
        if k not in kinks and ch != "*":
            raise _Fail(f"{where}: unit {k} does not bend the map, expected '*', got {ch!r}")
    return s


def _active(model: CheckedMap, pattern: str) -> list[int]:
    """Units whose relu is the identity in this region (constant units by their sign)."""
    out = []
    for k, ch in enumerate(pattern):
        if ch == "1":
            out.append(k)
        elif ch == "*" and all(c == 0 for c in model.C[k]) and model.d[k] > 0:
            out.append(k)
    return out


def _piece(model: CheckedMap, pattern: str):
    """(J, c) of the affine piece with the given pattern: f(x) = J x + c there."""
    act = _active(model, pattern)
    n = model.n
    J = [[model.A[i][j] + sum((model.B[i][k] * model.C[k][j] for k in act), _ZERO) for j in range(n)]
         for i in range(n)]
    c = [model.e[i] + sum((model.B[i][k] * model.d[k] for k in act), _ZERO) for i in range(n)]
    return J, c


def _fm(rows) -> flint.fmpq_mat:
    """Exact rational matrix (list of rows of Fractions) as a flint fmpq_mat."""
    r, c = len(rows), (len(rows[0]) if rows else 0)
    return flint.fmpq_mat(r, c, [flint.fmpq(x.numerator, x.denominator) for row in rows for x in row])


def _fr(M: flint.fmpq_mat) -> list[list[Fraction]]:
    return [[Fraction(int(M[i, j].p), int(M[i, j].q)) for j in range(M.ncols())] for i in range(M.nrows())]


def _signs_at(model: CheckedMap, z) -> dict[int, int]:
    pre = model.pre(z)
    return {k: (1 if pre[k] > 0 else -1) for k in model.kinks}


def _exact_mv(M, v):
    return [sum((a * x for a, x in zip(row, v)), _ZERO) for row in M]


# ----------------------------------------------------------------------------- orbits

def _orbit(model: CheckedMap, spec, where):
    """Check a hyperbolic periodic orbit record; returns (points, stable_dim, unstable_dim)."""
    if not isinstance(spec, dict):
        raise CheckInputError(f"{where}: expected an orbit object")
    sub = {k: spec.get(k) for k in ("period", "points", "stable_dim", "unstable_dim")}
    if not isinstance(sub["points"], list):
        raise CheckInputError(f"{where}.points: expected a list of points")
    reason = check_periodic_orbit(model, sub)
    if reason:
        raise _Fail(f"{where}: {reason}")
    pts = [qvec(p, model.n, f"{where}.points[{j}]") for j, p in enumerate(sub["points"])]
    s = _int(sub["stable_dim"], f"{where}.stable_dim", 0, model.n)
    u = _int(sub["unstable_dim"], f"{where}.unstable_dim", 0, model.n)
    for j, z in enumerate(pts):
        if det(model.jacobian(z)) == 0:
            raise _Fail(f"{where}: det J = 0 at orbit point {j}: f is not a local diffeomorphism there")
    return pts, s, u


def _cycle_product(model: CheckedMap, pts, i):
    """DF^k at point i: J(p_{i+k-1}) ... J(p_{i+1}) J(p_i) (exact)."""
    k = len(pts)
    P = _fm(eye(model.n))
    for m in range(k):
        P = _fm(model.jacobian(pts[(i + m) % k])) * P
    return _fr(P)


# ----------------------------------------------------------------------------- eigenpairs

def _eigenpair(J, ep, where, bits):
    """Verify one eigenpair enclosure with Krawczyk; returns (kind, value boxes, columns)."""
    n = len(J)
    if not isinstance(ep, dict):
        raise CheckInputError(f"{where}: expected an eigenpair object")
    k = _int(ep.get("normalized"), f"{where}.normalized", 0, n - 1)
    val = ep.get("value")
    complex_pair = isinstance(val, list) and len(val) == 2 and isinstance(val[0], list)
    if not complex_pair:
        lam = _ivl(val, f"{where}.value")
        v = _ivvec(ep.get("vector"), n, f"{where}.vector")
        if v[k].lo != 1 or v[k].hi != 1:
            raise _Fail(f"{where}: vector[{k}] must be exactly 1 (normalisation)")
        idx = [j for j in range(n) if j != k]
        X = [lam] + [v[j] for j in idx]
        xt = mid_vec(X, bits)
        lt = xt[0]
        vt = [None] * n
        vt[k] = _ONE
        for pos, j in enumerate(idx):
            vt[j] = xt[1 + pos]
        F = [sum((J[r][c] * vt[c] for c in range(n)), _ZERO) - lt * vt[r] for r in range(n)]
        DF = []
        for r in range(n):
            row = [-v[r]]
            for j in idx:
                row.append(Interval(J[r][j]) - lam if r == j else Interval(J[r][j]))
            DF.append(row)
        ok, _ = krawczyk(F, DF, X, xt, bits)
        if not ok:
            raise _Fail(f"{where}: Krawczyk's test does not prove an eigenpair in the enclosure")
        return "real", (lam,), [v]
    alpha, beta = _ivl(val[0], f"{where}.value[0]"), _ivl(val[1], f"{where}.value[1]")
    if beta.sign() == 0:
        raise _Fail(f"{where}: imaginary part enclosure contains 0")
    x = _ivvec(ep.get("vector_re"), n, f"{where}.vector_re")
    y = _ivvec(ep.get("vector_im"), n, f"{where}.vector_im")
    if x[k].lo != 1 or x[k].hi != 1 or y[k].lo != 0 or y[k].hi != 0:
        raise _Fail(f"{where}: vector_re[{k}] must be exactly 1 and vector_im[{k}] exactly 0")
    idx = [j for j in range(n) if j != k]
    X = [alpha, beta] + [x[j] for j in idx] + [y[j] for j in idx]
    xt = mid_vec(X, bits)
    at, bt = xt[0], xt[1]
    xv, yv = [None] * n, [None] * n
    xv[k], yv[k] = _ONE, _ZERO
    for pos, j in enumerate(idx):
        xv[j] = xt[2 + pos]
        yv[j] = xt[2 + len(idx) + pos]
    Jx, Jy = _exact_mv(J, xv), _exact_mv(J, yv)
    # G1 = J x − α x + β y, G2 = J y − α y − β x
    F = [Jx[r] - at * xv[r] + bt * yv[r] for r in range(n)] + [Jy[r] - at * yv[r] - bt * xv[r] for r in range(n)]
    DF = []
    for r in range(n):
        row = [-x[r], y[r]]
        row += [(Interval(J[r][j]) - alpha) if r == j else Interval(J[r][j]) for j in idx]
        row += [beta if r == j else Interval(0) for j in idx]
        DF.append(row)
    for r in range(n):
        row = [-y[r], -x[r]]
        row += [-beta if r == j else Interval(0) for j in idx]
        row += [(Interval(J[r][j]) - alpha) if r == j else Interval(J[r][j]) for j in idx]
        DF.append(row)
    ok, _ = krawczyk(F, DF, X, xt, bits)
    if not ok:
        raise _Fail(f"{where}: Krawczyk's test does not prove a complex eigenpair in the enclosure")
    return "complex", (alpha, beta), [x, y]


def _modulus_side(kind, val) -> str | None:
    if kind == "real":
        lam = val[0]
        if lam.lo > 1 or lam.hi < -1:
            return "outside"
        if lam.lo > -1 and lam.hi < 1:
            return "inside"
        return None
    m2 = val[0].sqr() + val[1].sqr()
    if m2.lo > 1:
        return "outside"
    if m2.hi < 1:
        return "inside"
    return None


def _distinct(e1, e2) -> bool:
    (k1, v1), (k2, v2) = e1, e2
    if k1 != k2:
        return True  # a proven real value vs a pair with imaginary part bounded away from 0
    if k1 == "real":
        return v1[0].disjoint(v2[0])
    abs1 = Interval(min(abs(v1[1].lo), abs(v1[1].hi)), v1[1].mag())
    abs2 = Interval(min(abs(v2[1].lo), abs(v2[1].hi)), v2[1].mag())
    return v1[0].disjoint(v2[0]) or abs1.disjoint(abs2)


def _subspace(J, side_spec, side, dim, where, bits):
    """Verify eigenpairs spanning E^u (side 'outside') or E^s ('inside'); returns
    (columns of the basis as interval vectors, block kinds)."""
    eps = side_spec.get("eigenpairs")
    if not isinstance(eps, list) or not eps:
        raise CheckInputError(f"{where}.eigenpairs: expected a non-empty list")
    cols, kinds, seen = [], [], []
    for t, ep in enumerate(eps):
        kind, val, vcols = _eigenpair(J, ep, f"{where}.eigenpairs[{t}]", bits)
        loc = _modulus_side(kind, val)
        if loc != side:
            raise _Fail(f"{where}.eigenpairs[{t}]: eigenvalue not proven {side} the unit circle")
        for s, other in enumerate(seen):
            if not _distinct((kind, val), other):
                raise _Fail(f"{where}.eigenpairs[{t}] and [{s}]: eigenvalue enclosures overlap")
        seen.append((kind, val))
        cols.extend(vcols)
        kinds.append(kind)
    if len(cols) != dim:
        raise _Fail(f"{where}: {len(cols)} eigenvector columns for an invariant subspace of dimension {dim} "
                    "(a repeated eigenvalue or a missing eigenpair)")
    return cols, kinds


def _in_ball(coords, kinds, r, where) -> None:
    """coords (intervals) strictly inside N_r."""
    pos = 0
    for kind in kinds:
        if kind == "real":
            a = coords[pos]
            if not (-r < a.lo and a.hi < r):
                raise _Fail(f"{where}: coordinate {pos} not strictly inside [-r, r]")
            pos += 1
        else:
            if not ((coords[pos].sqr() + coords[pos + 1].sqr()).hi < r * r):
                raise _Fail(f"{where}: coordinates {pos}, {pos + 1} not strictly inside the disc of radius r")
            pos += 2


def _nonzero(coords, kinds, where) -> None:
    """The coordinate box excludes 0: the point is not the orbit point itself."""
    pos = 0
    for kind in kinds:
        width = 1 if kind == "real" else 2
        if any(c.sign() != 0 for c in coords[pos:pos + width]):
            return
        pos += width
    raise _Fail(f"{where}: the coordinate enclosure contains 0 (the point may be the periodic point itself)")


def _piece_inside(model: CheckedMap, P, W, r, where) -> None:
    """P + W N_r strictly inside the region of the exact point P (N_r ⊂ box of half-side r)."""
    pre = model.pre(P)
    for k in model.kinks:
        Ck = model.C[k]
        reach = _ZERO
        for col in W:
            reach += sum((Ck[i] * col[i] for i in range(model.n) if Ck[i] != 0), Interval(0)).mag()
        if abs(pre[k]) - r * reach <= 0:
            raise _Fail(f"{where}: the local piece (radius {r}) is not proven inside the region: "
                        f"it may reach the hyperplane of unit {k}")


def _cols_transform(M, cols, bits):
    """Exact matrix M times each interval column."""
    return [matvec(M, col, bits) for col in cols]


def _side(model, pts, spec, dims, side, where, bits):
    """Verify one local piece. Returns (point index, radius, columns, kinds, coords)."""
    if not isinstance(spec, dict):
        raise CheckInputError(f"{where}: expected an object")
    k = len(pts)
    i = _int(spec.get("index"), f"{where}.index", 0, k - 1)
    r = _q(spec.get("radius"), f"{where}.radius")
    if r <= 0:
        raise _Fail(f"{where}: radius must be positive")
    s_dim, u_dim = dims
    dim = u_dim if side == "outside" else s_dim
    if dim < 1:
        raise _Fail(f"{where}: the orbit has no {'unstable' if side == 'outside' else 'stable'} directions")
    J = _cycle_product(model, pts, i)
    cols, kinds = _subspace(J, spec, side, dim, where, bits)
    coords = _ivvec(spec.get("coordinates"), dim, f"{where}.coordinates")
    _in_ball(coords, kinds, r, where)
    _nonzero(coords, kinds, f"{where}.coordinates")
    # the piece and its images along the cycle stay inside the regions
    W = cols
    _piece_inside(model, pts[i], W, r, f"{where} at orbit point {i}")
    for m in range(1, k):
        if side == "outside":  # backward: p_{i-m} + J(p_{i-m})^{-1} ... J(p_{i-1})^{-1} U N_r
            Jinv = inverse(model.jacobian(pts[(i - m) % k]))
            W = _cols_transform(Jinv, W, bits)
            idx = (i - m) % k
        else:                  # forward: q_{j+m} + J(q_{j+m-1}) ... J(q_j) S N_r
            W = _cols_transform(model.jacobian(pts[(i + m - 1) % k]), W, bits)
            idx = (i + m) % k
        _piece_inside(model, pts[idx], W, r, f"{where} image at orbit point {idx}")
    return i, r, cols, kinds, coords


def _check_connection(model: CheckedMap, claim, homoclinic: bool) -> None:
    _theorem(claim)
    bits = _bits(claim)
    n = model.n
    if homoclinic:
        src, s1, u1 = _orbit(model, claim.get("orbit"), "orbit")
        dst, s2, u2 = src, s1, u1
        if u1 < 1 or s1 < 1:
            raise _Fail("orbit is not a saddle (Smale–Birkhoff needs stable and unstable directions)")
    else:
        src, s1, u1 = _orbit(model, claim.get("source"), "source")
        dst, s2, u2 = _orbit(model, claim.get("target"), "target")
        if any(z in src for z in dst):
            raise _Fail("source and target are the same orbit: use a homoclinic claim")
    if u1 + s2 != n:
        raise _Fail(f"dim W^u(source) + dim W^s(target) = {u1 + s2} != n = {n}: transversality needs a square system")
    i, r_u, U, kinds_u, a = _side(model, src, claim.get("departure"), (s1, u1), "outside", "departure", bits)
    j, r_s, S, kinds_s, b = _side(model, dst, claim.get("arrival"), (s2, u2), "inside", "arrival", bits)
    itin = claim.get("itinerary")
    if not isinstance(itin, list) or not itin:
        raise CheckInputError("itinerary: expected a non-empty list of sign patterns")
    N = len(itin)
    pats = [_pattern(model, s, f"itinerary[{t}]") for t, s in enumerate(itin)]
    if homoclinic and (i + N - j) % len(src) != 0:
        raise _Fail(f"phase: x_N = f^N(x_0) lies on W^u of orbit point {(i + N) % len(src)}, not {j}")
    # affine composition F_σ = f_{σ_{N-1}} ∘ ... ∘ f_{σ_0} (exact, flint fmpq_mat)
    pieces = [_piece(model, s) for s in pats]
    fpieces = [(_fm(Jt), _fm([[v] for v in ct])) for Jt, ct in pieces]
    Df = _fm(eye(n))
    Fpf = _fm([[v] for v in src[i]])
    for t, (Jf, cf) in enumerate(fpieces):
        if Jf.det() == 0:
            raise _Fail(f"det J = 0 in the region of orbit point x_{t}: not a local diffeomorphism")
        Df = Jf * Df
        Fpf = Jf * Fpf + cf
    D = _fr(Df)
    Fp = [row[0] for row in _fr(Fpf)]
    # transversality and the intersection: [D U | -S] (a, b) = q_j - F_σ(p_i)
    DU = _cols_transform(D, U, bits)
    Mcols = DU + [[-x for x in col] for col in S]
    M = [[Mcols[c][r] for c in range(n)] for r in range(n)]
    rhs = [dst[j][r] - Fp[r] for r in range(n)]
    X = a + b
    xt = mid_vec(X, bits)
    F = [x - rhs[r] for r, x in enumerate(matvec(M, xt, bits))]
    ok, _ = krawczyk(F, M, X, xt, bits)
    if not ok:
        raise _Fail("transversality / intersection not proven: Krawczyk's test fails for "
                    "[DF U | -S] (a, b) = q - F(p) (singular, tangent, or enclosure too narrow)")
    dM = interval_det(M, bits)
    if dM is None or dM.sign() == 0:
        raise _Fail("the interval determinant of [DF U | -S] does not exclude 0: transversality not proven")
    # admissibility: x_t = F_{σ[:t]}(x_0) strictly inside region σ_t, for x_0 in p_i + U a
    X0 = [Interval(src[i][r]) + sum((U[c][r] * a[c] for c in range(len(U))), Interval(0)) for r in range(n)]
    X0 = [x.round_out(bits) for x in X0]
    point = _ivvec(claim.get("point"), n, "point")
    if not all(point[r].contains(X0[r]) for r in range(n)):
        raise _Fail("point: the enclosure of x_0 = p + U a is not inside the claimed point enclosure")
    c0 = mid_vec(X0, bits)
    delta = [X0[r] - c0[r] for r in range(n)]
    Ck = _fm([model.C[k] for k in model.kinks]) if model.kinks else None
    dk = _fm([[model.d[k]] for k in model.kinks]) if model.kinks else None
    ctf, Dtf = _fm([[v] for v in c0]), _fm(eye(n))
    for t, (Jf, cf) in enumerate(fpieces):
        if Ck is None:
            break
        pre_c = [row[0] for row in _fr(Ck * ctf + dk)]
        G = _fr(Ck * Dtf)
        for kk, k in enumerate(model.kinks):
            g = G[kk]
            pre = Interval(pre_c[kk]) + sum((g[col] * delta[col] for col in range(n) if g[col] != 0), Interval(0))
            sgn = pre.sign()
            if sgn == 0:
                raise _Fail(f"orbit point x_{t} is not proven strictly inside its region: its enclosure meets "
                            f"the hyperplane of unit {k} (orbit through a region boundary / homoclinic corner?)")
            if (sgn > 0) != (pats[t][k] == "1"):
                raise _Fail(f"itinerary[{t}]: unit {k} has sign {'+' if sgn > 0 else '-'} at x_{t}, "
                            f"pattern says {pats[t][k]!r}")
        ctf = Jf * ctf + cf
        Dtf = Jf * Dtf


@register("transversal-homoclinic-orbit")
def check_homoclinic(model: CheckedMap, claim, cert=None) -> str | None:
    """Transversal homoclinic orbit of a hyperbolic saddle (Smale–Birkhoff)."""
    try:
        _check_connection(model, claim, homoclinic=True)
    except _Fail as exc:
        return str(exc)
    return None


@register("transversal-heteroclinic-orbit")
def check_heteroclinic(model: CheckedMap, claim, cert=None) -> str | None:
    """Transversal heteroclinic orbit between two distinct hyperbolic saddle orbits."""
    try:
        _check_connection(model, claim, homoclinic=False)
    except _Fail as exc:
        return str(exc)
    return None


def _same_orbit(o1, o2, n) -> bool:
    p1 = [tuple(qvec(p, n, "points")) for p in o1.get("points", [])]
    p2 = [tuple(qvec(p, n, "points")) for p in o2.get("points", [])]
    return len(p1) == len(p2) and set(p1) == set(p2)


@register("heteroclinic-cycle")
def check_heteroclinic_cycle(model: CheckedMap, claim, cert=None) -> str | None:
    """p_1 → p_2 → ... → p_m → p_1 by transversal heteroclinic claims of the certificate."""
    try:
        _theorem(claim)
        ids = claim.get("connections")
        if not isinstance(ids, list) or len(ids) < 2:
            raise CheckInputError("connections: expected a list of at least 2 claim ids")
        by_id = {c.get("id"): c for c in (cert or {}).get("claims", []) if isinstance(c, dict)}
        links = []
        for cid in ids:
            c = by_id.get(cid)
            if c is None or c.get("type") != "transversal-heteroclinic-orbit":
                raise _Fail(f"connection {cid!r} is not a transversal-heteroclinic-orbit claim of this certificate")
            _check_connection(model, c, homoclinic=False)
            links.append(c)
        for t, c in enumerate(links):
            nxt = links[(t + 1) % len(links)]
            if not _same_orbit(c["target"], nxt["source"], model.n):
                raise _Fail(f"connection {ids[t]!r} ends at a different orbit than {ids[(t + 1) % len(ids)]!r} starts")
    except _Fail as exc:
        return str(exc)
    return None


# ----------------------------------------------------------------------------- snap-back repellers

def _quad(Q, v):
    return sum((Q[i][j] * v[i] * v[j] for i in range(len(v)) for j in range(len(v))), _ZERO)


@register("snap-back-repeller")
def check_snap_back(model: CheckedMap, claim, cert=None) -> str | None:
    """Marotto's snap-back repeller with the corrected (2005) expansion hypothesis."""
    try:
        _theorem(claim)
        n = model.n
        z = qvec(claim.get("fixed_point"), n, "fixed_point")
        if model.f(z) != z:
            return "fixed_point: f(z) != z"
        if model.kinks_at(z):
            return "fixed_point lies on a kink: f is not differentiable there"
        J = model.jacobian(z)
        Qm = claim.get("norm", {}).get("Q") if isinstance(claim.get("norm"), dict) else None
        if not isinstance(claim.get("norm"), dict) or claim["norm"].get("type") != "quadratic":
            raise CheckInputError("norm: expected {'type': 'quadratic', 'Q': n x n}")
        if not isinstance(Qm, list) or len(Qm) != n:
            raise CheckInputError(f"norm.Q: expected {n} rows")
        Q = [qvec(row, n, f"norm.Q[{i}]") for i, row in enumerate(Qm)]
        if not is_positive_definite(Q):
            return "norm.Q is not symmetric positive definite"
        JT = [[J[j][i] for j in range(n)] for i in range(n)]
        E = matmul(matmul(JT, Q), J)
        E = [[E[i][j] - Q[i][j] for j in range(n)] for i in range(n)]
        if not is_positive_definite(E):
            return "J^T Q J - Q is not positive definite: f is not proven expanding in the norm |.|_Q"
        r = _q(claim.get("radius"), "radius")
        if r <= 0:
            return "radius must be positive"
        Qinv = inverse(Q)
        pre = model.pre(z)
        for k in model.kinks:
            Ck = model.C[k]
            spread = sum((Ck[i] * Qinv[i][j] * Ck[j] for i in range(n) for j in range(n)), _ZERO)
            # max over the ellipsoid of |C_k (x - z)| = r sqrt(C_k Q^{-1} C_k^T)
            if not pre[k] * pre[k] > r * r * spread:
                return f"the ball of radius {r} in the norm |.|_Q is not inside z's region (hyperplane of unit {k})"
        orbit = claim.get("orbit")
        if not isinstance(orbit, list) or len(orbit) < 2:
            raise CheckInputError("orbit: expected the points x_0, ..., x_M = z (M >= 1)")
        xs = [qvec(p, n, f"orbit[{t}]") for t, p in enumerate(orbit)]
        if xs[-1] != z:
            return "the orbit does not end at the fixed point"
        x0 = xs[0]
        diff = [x0[i] - z[i] for i in range(n)]
        if all(v == 0 for v in diff):
            return "x_0 = z: not a snap-back orbit"
        if not _quad(Q, diff) < r * r:
            return "x_0 is not inside the expanding ball"
        itin = claim.get("itinerary")
        if not isinstance(itin, list) or len(itin) != len(xs) - 1:
            raise CheckInputError("itinerary: expected one sign pattern per point x_0 .. x_{M-1}")
        for t, x in enumerate(xs[:-1]):
            if model.f(x) != xs[t + 1]:
                return f"f(x_{t}) != x_{t + 1}"
            if model.kinks_at(x):
                return f"x_{t} lies on a kink (orbit through a region boundary): f is not differentiable there"
            pat = _pattern(model, itin[t], f"itinerary[{t}]")
            sg = _signs_at(model, x)
            for k, s in sg.items():
                if (s > 0) != (pat[k] == "1"):
                    return f"itinerary[{t}]: unit {k} has the other sign at x_{t}"
            if det(model.jacobian(x)) == 0:
                return f"det J(x_{t}) = 0"
        for t, x in enumerate(xs[1:-1], start=1):
            if x == z:
                return f"x_{t} = z already: the orbit is not minimal"
        if det(J) == 0:
            return "det J(z) = 0"
    except _Fail as exc:
        return str(exc)
    return None
