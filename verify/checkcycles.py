"""Checker claims about long cycles given by their itineraries (trusted base; DESIGN §8, §9).

``periodic-orbit-enclosure``
    A hyperbolic (or attracting) k-cycle whose exact points would be too large to write:
    see :func:`check_periodic_orbit_enclosure`.

``transversal-homoclinic-orbit-to-cycle`` (theorem ``smale-birkhoff``)
    A hyperbolic k-cycle with a 1-D unstable direction, given only by its itinerary, and an
    orbit x_0, ..., x_N from its local unstable piece to its local stable piece. For cycles
    of period ~200 and connections of length ~3000 (maps discretising a flow) exact points
    would be 10^5-bit rationals, so the cycle and the orbit are enclosed in Arb balls (every
    ball contains the exact value; python-flint's promise) computed here from the exact
    affine pieces; nothing numeric is taken from the certificate except eigenvector boxes
    (proven by Krawczyk's test), a rational basis R and radii.

Data::

    {"type": "transversal-homoclinic-orbit-to-cycle", "theorem": "smale-birkhoff",
     "cycle": {"itinerary": [k sign patterns]},
     "departure": {"index": i, "radius": r, "value": [lo, hi], "vector": [[lo, hi], ...],
                   "normalized": q},                     # right eigenpair of DF^k at p_i
     "arrival": {"index": j, "value": [lo, hi], "left_vector": [[lo, hi], ...],
                 "normalized": q, "basis": R ((n-1)×(n-1) rationals), "radii": [r_1, ...]},
     "itinerary": [N sign patterns],                     # regions of x_0 .. x_{N-1}
     "point": [[lo, hi], ...],                           # an enclosure of x_0
     "precision_bits": P}

What is verified, and why it suffices:

1. The cycle itinerary σ is primitive (not a power of a shorter word) and every piece on it
   and on the connection has det J ≠ 0. The cycle map F = f_{σ_{k-1}} ∘ ... ∘ f_{σ_0} is
   affine, DF^k = D exact; Arb proves I − D invertible and encloses its unique fixed point
   p_0; the balls p_t = f_{σ_{t-1}}(p_{t-1}) lie strictly inside region σ_t, so the exact
   p_0 is a k-periodic point with itinerary σ and minimal period k (σ primitive).
2. Departure: (μ_u, u) is an eigenpair of DF^k at p_i with |μ_u| > 1 (Krawczyk). Arrival:
   (μ, w) with wᵀ DF^k = μ wᵀ at p_j, |μ| > 1. E^s = ker wᵀ is invariant; with T the basis
   of ker wᵀ that drops coordinate q (w_q = 1), B = (DF^k T without row q) is DF^k on E^s
   and B̃ = R⁻¹ B R must satisfy Σ_t |B̃_st| r_t < r_s for every s: the box
   N_r = {y : |y_s| ≤ r_s} is mapped strictly into itself, so every eigenvalue of DF^k on
   E^s has modulus < 1: the cycle is hyperbolic with dim E^u = 1 and u spans E^u(p_i).
3. The departure piece p_i + u [−r, r] and its backward images along the cycle, and the
   arrival piece p_j + T R N_r and its forward images, lie strictly inside the regions of
   the cycle points (for all values in the balls). Then f^k acts on them as the affine
   DF^k, which expands the first by μ_u and maps the second into itself, contracting: they
   are pieces of W^u(p_i) and W^s(p_j).
4. With F_σ(x) = D_σ x + c_σ the exact composition along the connection's itinerary, the
   n×n system D_σ u a − T R y = p_j − D_σ p_i − c_σ is solved by Arb (which proves the
   matrix [D_σ u | −T R] invertible for every value in its balls: transversality of
   DF^N E^u(p_i) and E^s(p_j)); a ≠ 0, |a| < r, |y_s| < r_s.
5. x_0 = p_i + u a is iterated in balls: x_t strictly inside region σ_t for t < N, so
   f^N(x_0) = F_σ(x_0) = p_j + T R y. The phase (i + N) ≡ j (mod k) holds.

Hence x_0 ≠ p_i is a transversal homoclinic point of the hyperbolic periodic point p_i of
f^k, and f is a local diffeomorphism along the orbit's closure: Smale–Birkhoff gives an
invariant Cantor set of an iterate of f conjugate to the full 2-shift, h_top(f) > 0.
"""
from __future__ import annotations

from fractions import Fraction

import flint

from .checker import register
from .checkchaos import _Fail, _fm, _int, _ivl, _ivvec, _pattern, _piece
from .checkmodel import CheckedMap, CheckInputError, _q
from .checkroots import charpoly, locate_roots

CLAIM = "transversal-homoclinic-orbit-to-cycle"
THEOREM = "smale-birkhoff"
_MIN_BITS, _MAX_BITS = 64, 1 << 16


# ----------------------------------------------------------------------------- Arb helpers

def _ab(x: Fraction) -> flint.arb:
    return flint.arb(flint.fmpq(x.numerator, x.denominator))


def _ab_iv(iv) -> flint.arb:
    """A ball containing the rational interval iv (lo, hi)."""
    return _ab(iv.lo).union(_ab(iv.hi))


def _frac(x: flint.arb) -> Fraction:
    m, e = x.man_exp()
    m, e = int(m), int(e)
    return Fraction(m * (1 << e)) if e >= 0 else Fraction(m, 1 << -e)


def _ends(x: flint.arb) -> tuple[Fraction, Fraction]:
    """Exact rational endpoints of a ball."""
    mid, rad = _frac(x.mid()), _frac(x.rad())
    return mid - rad, mid + rad


def _col(vals) -> flint.arb_mat:
    return flint.arb_mat([[v] for v in vals])


def _signs_ok(model: CheckedMap, x: flint.arb_mat, reach, pattern: str, where: str) -> None:
    """Every kink unit's pre-activation C_k x + d_k ± reach_k has the pattern's strict sign."""
    for k in model.kinks:
        pre = sum((_ab(model.C[k][i]) * x[i, 0] for i in range(model.n) if model.C[k][i] != 0),
                  _ab(model.d[k]))
        lo, hi = pre - reach[k], pre + reach[k]
        if pattern[k] == "1":
            ok = lo > 0
        else:
            ok = hi < 0
        if not ok:
            raise _Fail(f"{where}: unit {k} is not proven {'positive' if pattern[k] == '1' else 'negative'} "
                        f"(pattern {pattern!r}): the set may meet the hyperplane")


def _reach(model: CheckedMap, W: flint.arb_mat, radii) -> dict:
    """max over |y_s| ≤ r_s of |C_k W y| = Σ_s |C_k W[:, s]| r_s, per kink unit (upper balls)."""
    out = {}
    for k in model.kinks:
        tot = flint.arb(0)
        for s in range(W.ncols()):
            v = sum((_ab(model.C[k][i]) * W[i, s] for i in range(model.n) if model.C[k][i] != 0), flint.arb(0))
            tot += flint.arb(abs(v).abs_upper()) * radii[s]
        out[k] = tot
    return out


def _affine_tree(pieces, lo: int, hi: int):
    """Exact (D, c) of f_{hi-1} ∘ ... ∘ f_lo by a balanced product tree (fmpq)."""
    if hi - lo == 1:
        return pieces[lo]
    mid = (lo + hi) // 2
    D1, c1 = _affine_tree(pieces, lo, mid)
    D2, c2 = _affine_tree(pieces, mid, hi)
    return D2 * D1, D2 * c1 + c2


def _primitive(itin) -> bool:
    k = len(itin)
    return not any(k % q == 0 and all(itin[t] == itin[t % q] for t in range(k)) for q in range(1, k))


# ----------------------------------------------------------------------------- the claim

@register(CLAIM)
def check_cycle_homoclinic(model: CheckedMap, claim, cert=None) -> str | None:
    """Verify a transversal homoclinic orbit of a long saddle cycle (see the module docstring)."""
    if claim.get("theorem") != THEOREM:
        return f"theorem must be {THEOREM!r} for a {CLAIM} claim, got {claim.get('theorem')!r}"
    bits = _int(claim.get("precision_bits"), "precision_bits", _MIN_BITS, _MAX_BITS)
    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        _check(model, claim, bits)
    except _Fail as exc:
        return str(exc)
    finally:
        flint.ctx.prec = old
    return None


def _check(model: CheckedMap, claim, bits: int) -> None:
    n = model.n
    if n < 2:
        raise _Fail("a homoclinic orbit to a cycle needs n ≥ 2")
    cyc = claim.get("cycle")
    if not isinstance(cyc, dict) or not isinstance(cyc.get("itinerary"), list) or not cyc["itinerary"]:
        raise CheckInputError("cycle.itinerary: expected a non-empty list of sign patterns")
    sig = [_pattern(model, s, f"cycle.itinerary[{t}]") for t, s in enumerate(cyc["itinerary"])]
    k = len(sig)
    if not _primitive(sig):
        raise _Fail("cycle.itinerary is a power of a shorter word: the period is not minimal")
    itin = claim.get("itinerary")
    if not isinstance(itin, list) or not itin:
        raise CheckInputError("itinerary: expected a non-empty list of sign patterns")
    tau = [_pattern(model, s, f"itinerary[{t}]") for t, s in enumerate(itin)]
    N = len(tau)
    dep, arr = claim.get("departure"), claim.get("arrival")
    if not isinstance(dep, dict) or not isinstance(arr, dict):
        raise CheckInputError("departure / arrival: expected objects")
    i = _int(dep.get("index"), "departure.index", 0, k - 1)
    j = _int(arr.get("index"), "arrival.index", 0, k - 1)
    if (i + N - j) % k:
        raise _Fail(f"phase: x_N lies on W^s of cycle point {(i + N) % k}, not {j}")

    exact, arbJ, arbc, pts, _ = _cycle_balls(model, sig, tau)

    def cycle_product(idx):
        order = [sig[(idx + m) % k] for m in range(k)]
        return _affine_tree([exact[s] for s in order], 0, k)[0]

    nore = {kk: flint.arb(0) for kk in model.kinks}

    # 2. eigen-data: right unstable pair at p_i, left unstable pair at p_j
    Di = cycle_product(i)
    lam, uv = _real_eigenpair(Di, _eig_spec(dep, "vector"), "departure")
    if not (lam.lo > 1 or lam.hi < -1):
        raise _Fail("departure: the eigenvalue is not proven to have modulus > 1")
    u = _col([_ab_iv(x) for x in uv])
    Dj = cycle_product(j)
    lam, wv = _real_eigenpair(Dj.transpose(), _eig_spec(arr, "left_vector"), "arrival")
    if not (lam.lo > 1 or lam.hi < -1):
        raise _Fail("arrival: the left eigenvalue is not proven to have modulus > 1")
    w = [_ab_iv(x) for x in wv]
    q = _int(arr.get("normalized"), "arrival.normalized", 0, n - 1)
    keep = [s for s in range(n) if s != q]
    T = flint.arb_mat(n, n - 1)
    for col, s in enumerate(keep):
        T[s, col] = 1
        T[q, col] = -w[s]
    Rq = [[_q(x, f"arrival.basis[{a}][{b}]") for b, x in enumerate(row)]
          for a, row in enumerate(_rows(arr.get("basis"), n - 1, "arrival.basis"))]
    Rf = _fm(Rq)
    if Rf.det() == 0:
        raise _Fail("arrival.basis is singular")
    radii_q = [_q(x, f"arrival.radii[{s}]") for s, x in enumerate(_list(arr.get("radii"), n - 1, "arrival.radii"))]
    if any(r <= 0 for r in radii_q):
        raise _Fail("arrival.radii must be positive")
    radii = [_ab(r) for r in radii_q]
    R = flint.arb_mat(Rf)
    BT = flint.arb_mat(Dj) * T
    B = flint.arb_mat(n - 1, n - 1)
    for a, s in enumerate(keep):
        for b in range(n - 1):
            B[a, b] = BT[s, b]
    Bt = flint.arb_mat(Rf.inv()) * B * R
    for s in range(n - 1):
        tot = sum((flint.arb(abs(Bt[s, t]).abs_upper()) * radii[t] for t in range(n - 1)), flint.arb(0))
        if not tot < radii[s]:
            raise _Fail(f"arrival: the period map is not proven to map the box N_r into itself (row {s}): "
                        "E^s contraction / hyperbolicity not proven")

    # 3. local pieces inside the regions along the cycle
    r_u = _q(dep.get("radius"), "departure.radius")
    if r_u <= 0:
        raise _Fail("departure.radius must be positive")
    v = u
    for m in range(k):
        idx = (i - m) % k
        if m:
            v = flint.arb_mat(exact[sig[idx]][0].inv()) * v
        _signs_ok(model, pts[idx], _reach(model, v, [_ab(r_u)]), sig[idx],
                  f"departure piece image at cycle point {idx}")
    W = T * R
    W0 = W
    for m in range(k):
        idx = (j + m) % k
        if m:
            W = arbJ[sig[(idx - 1) % k]] * W
        _signs_ok(model, pts[idx], _reach(model, W, radii), sig[idx], f"arrival piece image at cycle point {idx}")

    # 4. the connection: D_σ u a − T R y = p_j − D_σ p_i − c_σ, transversal
    Ds, cs = _affine_tree([exact[s] for s in tau], 0, N)
    Dsa = flint.arb_mat(Ds)
    Du = Dsa * u
    M = flint.arb_mat(n, n)
    for r in range(n):
        M[r, 0] = Du[r, 0]
        for s in range(n - 1):
            M[r, 1 + s] = -W0[r, s]
    rhs = pts[j] - Dsa * pts[i] - flint.arb_mat(cs)
    try:
        X = M.solve(rhs)
    except ZeroDivisionError:
        raise _Fail("[DF^N u | −T R] is not proven invertible: transversality not proven") from None
    a = X[0, 0]
    if not (a > 0 or a < 0):
        raise _Fail("the departure coordinate a is not proven non-zero (x_0 may be the periodic point)")
    if not abs(a) < _ab(r_u):
        raise _Fail("the departure coordinate is not proven inside the local unstable piece")
    for s in range(n - 1):
        if not abs(X[1 + s, 0]) < radii[s]:
            raise _Fail(f"the arrival coordinate {s} is not proven inside the local stable piece")

    # 5. admissibility of x_0 .. x_{N-1}
    x = pts[i] + u * a
    box = _ivvec(claim.get("point"), n, "point")
    for r in range(n):
        lo, hi = _ends(x[r, 0])
        if not (box[r].lo <= lo and hi <= box[r].hi):
            raise _Fail(f"point: coordinate {r} of x_0 is not inside the claimed enclosure")
    for t in range(N):
        _signs_ok(model, x, nore, tau[t], f"orbit point x_{t}")
        x = arbJ[tau[t]] * x + arbc[tau[t]]


def _cycle_balls(model: CheckedMap, sig: list, extra=(), need_det: bool = True):
    """Exact pieces of the patterns in *sig* (and *extra*), the cycle's points as Arb balls
    (unique fixed point of the cycle map, each strictly inside its region) and the exact
    period map DF^k at point 0."""
    n, k = model.n, len(sig)
    exact = {}
    for s in set(sig) | set(extra):
        J, c = _piece(model, s)
        Jf = _fm(J)
        if need_det and Jf.det() == 0:
            raise _Fail(f"det J = 0 in region {s!r}: f is not a local diffeomorphism there")
        exact[s] = (Jf, _fm([[v] for v in c]))
    arbJ = {s: flint.arb_mat(J) for s, (J, _) in exact.items()}
    arbc = {s: flint.arb_mat(c) for s, (_, c) in exact.items()}
    D0, c0 = _affine_tree([exact[s] for s in sig], 0, k)
    I = flint.arb_mat(_fm([[Fraction(int(r == c)) for c in range(n)] for r in range(n)]))
    try:
        p = (I - flint.arb_mat(D0)).solve(flint.arb_mat(c0))
    except ZeroDivisionError:
        raise _Fail("I − DF^k is not proven invertible: the cycle map may have no unique fixed point") from None
    pts = []
    nore = {kk: flint.arb(0) for kk in model.kinks}
    for t in range(k):
        _signs_ok(model, p, nore, sig[t], f"cycle point {t}")
        pts.append(p)
        p = arbJ[sig[t]] * p + arbc[sig[t]]
    return exact, arbJ, arbc, pts, D0


ENCLOSURE = "periodic-orbit-enclosure"


@register(ENCLOSURE)
def check_periodic_orbit_enclosure(model: CheckedMap, claim, cert=None) -> str | None:
    """A periodic orbit given by its itinerary (points too large to write exactly).

    Data: ``{"itinerary": [k patterns], "point": [[lo, hi], ...] (an enclosure of z_0),
    "stable_dim": s, "unstable_dim": u, "precision_bits": P}``. Verified: the itinerary is
    primitive, I − DF^k is invertible and the unique fixed point of the cycle map lies in
    ``point``, every cycle point's ball is strictly inside its region (so the exact point is
    a k-periodic orbit of f with that itinerary, f affine near it), and the exact
    characteristic polynomial of DF^k has s roots inside and u outside the unit circle.
    """
    bits = _int(claim.get("precision_bits"), "precision_bits", _MIN_BITS, _MAX_BITS)
    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        itin = claim.get("itinerary")
        if not isinstance(itin, list) or not itin:
            raise CheckInputError("itinerary: expected a non-empty list of sign patterns")
        sig = [_pattern(model, s, f"itinerary[{t}]") for t, s in enumerate(itin)]
        if not _primitive(sig):
            raise _Fail("itinerary is a power of a shorter word: the period is not minimal")
        _, _, _, pts, D0 = _cycle_balls(model, sig, need_det=False)
        box = _ivvec(claim.get("point"), model.n, "point")
        for r in range(model.n):
            lo, hi = _ends(pts[0][r, 0])
            if not (box[r].lo <= lo and hi <= box[r].hi):
                raise _Fail(f"point: coordinate {r} of z_0 is not inside the claimed enclosure")
        counts = locate_roots(charpoly([[Fraction(int(D0[a, b].p), int(D0[a, b].q)) for b in range(model.n)]
                                        for a in range(model.n)]))
        if counts is None:
            raise _Fail("an eigenvalue of DF^k could not be separated from the unit circle: hyperbolicity not proven")
        want = (claim.get("stable_dim"), claim.get("unstable_dim"))
        if want != (counts["inside"], counts["outside"]):
            raise _Fail(f"eigenvalues inside/outside the unit circle are {counts['inside']}/{counts['outside']}, "
                        f"claimed {want[0]}/{want[1]}")
    except _Fail as exc:
        return str(exc)
    finally:
        flint.ctx.prec = old
    return None


def _real_eigenpair(J: flint.fmpq_mat, ep: dict, where: str):
    """Krawczyk's test in Arb for a real eigenpair (λ, v), v_q = 1, of the exact matrix J:
    F(λ, v) = J v − λ v on the box X = (λ, v without v_q); K(X) = x̃ − Y F(x̃) +
    (I − Y F'(X))(X − x̃) strictly inside X proves exactly one eigenpair in X (Krawczyk 1969,
    Moore's form; Y an exact approximate inverse of F'(x̃)). Returns (λ box, v boxes)."""
    n = J.nrows()
    q = _int(ep.get("normalized"), f"{where}.normalized", 0, n - 1)
    lam = _ivl(ep.get("value"), f"{where}.value")
    v = _ivvec(ep.get("vector"), n, f"{where}.vector")
    if v[q].lo != 1 or v[q].hi != 1:
        raise _Fail(f"{where}: vector[{q}] must be exactly 1 (normalisation)")
    idx = [s for s in range(n) if s != q]
    X = [lam] + [v[s] for s in idx]
    mid = [(x.lo + x.hi) / 2 for x in X]
    Ja = flint.arb_mat(J)
    vm = [Fraction(1)] * n
    for pos, s in enumerate(idx):
        vm[s] = mid[1 + pos]
    vma = _col([_ab(x) for x in vm])
    Fm = Ja * vma - vma * _ab(mid[0])
    Xa = [_ab_iv(x) for x in X]
    va = [flint.arb(1)] * n
    for pos, s in enumerate(idx):
        va[s] = Xa[1 + pos]
    DF = flint.arb_mat(n, n)
    for r in range(n):
        DF[r, 0] = -va[r]
        for pos, s in enumerate(idx):
            DF[r, 1 + pos] = Ja[r, s] - (Xa[0] if r == s else 0)
    DFm = flint.arb_mat(n, n)
    for r in range(n):
        DFm[r, 0] = -_ab(vm[r])
        for pos, s in enumerate(idx):
            DFm[r, 1 + pos] = Ja[r, s] - (_ab(mid[0]) if r == s else 0)
    try:
        Y = DFm.inv().mid()
    except ZeroDivisionError:
        raise _Fail(f"{where}: F'(x̃) is singular: Krawczyk's test does not apply") from None
    I = flint.arb_mat(_fm([[Fraction(int(a == b)) for b in range(n)] for a in range(n)]))
    dX = _col([Xa[t] - _ab(mid[t]) for t in range(n)])
    K = _col([_ab(x) for x in mid]) - Y * Fm + (I - Y * DF) * dX
    for t in range(n):
        lo, hi = _ends(K[t, 0])
        if not (X[t].lo < lo and hi < X[t].hi):
            raise _Fail(f"{where}: Krawczyk's test does not prove an eigenpair in the enclosure")
    return lam, v


def _eig_spec(side: dict, key: str) -> dict:
    return {"value": side.get("value"), "vector": side.get(key), "normalized": side.get("normalized")}


def _list(v, n, where):
    if not isinstance(v, list) or len(v) != n:
        raise CheckInputError(f"{where}: expected a list of {n} entries")
    return v


def _rows(M, n, where):
    _list(M, n, where)
    return [_list(row, n, f"{where}[{a}]") for a, row in enumerate(M)]
