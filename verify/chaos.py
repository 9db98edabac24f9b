"""Certificates for connecting orbits and chaos theorems (search side; DESIGN §8, §9).

Turns the float candidates of :mod:`graph.homoclinic` into checker claims
(:mod:`verify.checkchaos`): eigenpairs refined by Newton's method in mpmath at a working
precision, enclosed in rational boxes; the intersection coordinates (a, b) solved at that
precision and boxed; the local-piece radii chosen with a margin; the itinerary written as the
sign pattern over the certificate model's units. The box widths are only guesses: a claim
counts as certified only when the independent checker accepts it (it re-proves every box
with Krawczyk's test), and the precision is doubled until it does or a limit is reached.
When the eigenvalues involved are rational the orbit is also solved exactly, so corners
(an orbit point exactly on a hyperplane) and tangencies (singular [DF U | −S]) are decided
exactly and reported with that reason.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.homoclinic import find_connections
>>> m = load_model(example_path("tent"))
>>> res = certify_search(m, find_connections(m, max_length=6))
>>> [(r["kind"], r["certified"], r["theorem"]) for r in res.records if r["kind"] == "snap-back"]
[('snap-back', True, 'marotto-2005')]
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

import flint
import mpmath
import numpy as np

from graph.homoclinic import Connection, SnapBack, local_piece
from symbolic.models import model_to_dict
from symbolic.rationals import fraction_of, fraction_str, rows_of

from .certificate import new_certificate
from .checker import check_certificate
from .checkchaos import THEOREMS, check_heteroclinic, check_homoclinic
from .checkmodel import CheckedMap

__all__ = ["SMALE_BIRKHOFF", "MAROTTO", "HETEROCLINIC_CYCLE", "connection_claim", "snapback_claim", "certify_connection", "exact_verdict",
           "certify_search", "ChaosCertification", "decimal_interval"]

SMALE_BIRKHOFF = (
    "Smale-Birkhoff homoclinic theorem: {orbit} is a hyperbolic saddle with a transversal homoclinic "
    "orbit, and f is affine and invertible near every point of the orbit's closure, so some iterate f^m "
    "has an invariant Cantor set on which it is topologically conjugate to the full shift on two "
    "symbols; f has positive topological entropy (at least log(2)/m).")
MAROTTO = (
    "Marotto's snap-back repeller theorem with the corrected hypothesis (Marotto 2005; Li & Chen 2003): "
    "f is expanding in the norm |x|_Q = sqrt(x^T Q x) on the ball of radius r around the repelling "
    "fixed point {orbit} (J^T Q J - Q positive definite, checked exactly) and an orbit from that ball "
    "lands exactly on it with det J != 0 along the way, so f is chaotic in the sense of Li and Yorke "
    "(periodic points of all sufficiently large periods, an uncountable scrambled set).")
HETEROCLINIC_CYCLE = (
    "Transversal heteroclinic cycle of hyperbolic saddles {orbits} (f a local diffeomorphism near it): "
    "by the lambda-lemma it has transversal homoclinic points, hence Smale-Birkhoff chaos "
    "(positive topological entropy).")

_MAX_PREC = 4096
# checker reasons that a higher working precision (narrower boxes) may cure
_PRECISION_LIMITED = ("Krawczyk", "not proven", "point enclosure", "interval determinant")


# ----------------------------------------------------------------------------- number formatting

def _fs(x: Fraction) -> str:
    return fraction_str(x)


def _iv_json(lo: Fraction, hi: Fraction) -> list:
    return [_fs(lo), _fs(hi)]


def _dec(x: Fraction, up: bool, digits: int = 17) -> str:
    """Decimal string rounded down (up=False) or up, exactly."""
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(float(x)))) if abs(float(x)) > 0 else -300
    shift = digits - 1 - e
    scaled = x * Fraction(10) ** shift
    n = math.ceil(scaled) if up else math.floor(scaled)
    with localcontext() as ctx:
        ctx.prec = digits + 10
        return str(Decimal(n).scaleb(-shift))      # exactly n * 10^-shift


def decimal_interval(lo: Fraction, hi: Fraction) -> list:
    """[lo, hi] as outward-rounded decimal strings (readable; still a valid enclosure)."""
    return [_dec(lo, False), _dec(hi, True)]


def _to_frac(x: mpmath.mpf, bits: int) -> Fraction:
    x = mpmath.mpf(x)
    if not mpmath.isfinite(x):
        raise ArithmeticError("non-finite number in the high-precision refinement")
    sign, man, exp, _ = x._mpf_
    f = Fraction(int(man)) * (Fraction(2) ** int(exp)) if man else Fraction(0)
    if sign:
        f = -f
    if f.denominator > (1 << bits):
        f = Fraction(math.floor(f * (1 << bits)), 1 << bits)
    return f


def _box(x: mpmath.mpf, eps: Fraction, bits: int) -> tuple[Fraction, Fraction]:
    c = _to_frac(x, bits)
    w = eps * (1 + abs(c))
    return c - w, c + w


# ----------------------------------------------------------------------------- eigenpairs in mpmath

def _mpmat(rows) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(v.numerator) / v.denominator for v in row] for row in rows])


def _newton_eigenpair(J: mpmath.matrix, lam0: complex, v0: np.ndarray, k: int, prec: int):
    """Refine (λ, v), v_k = 1, by Newton's method on (J − λ) v = 0 (complex mpmath)."""
    n = J.rows
    lam = mpmath.mpc(lam0)
    v = [mpmath.mpc(complex(x)) for x in v0]
    v = [x / v[k] for x in v]
    tol = mpmath.mpf(2) ** (-prec + 4)
    for _ in range(60):
        F = [sum(J[r, c] * v[c] for c in range(n)) - lam * v[r] for r in range(n)]
        DF = mpmath.matrix(n, n)
        idx = [j for j in range(n) if j != k]
        for r in range(n):
            DF[r, 0] = -v[r]
            for pos, j in enumerate(idx):
                DF[r, 1 + pos] = J[r, j] - (lam if r == j else 0)
        try:
            step = mpmath.lu_solve(DF, mpmath.matrix(F))
        except ZeroDivisionError:
            return None
        lam -= step[0]
        for pos, j in enumerate(idx):
            v[j] -= step[1 + pos]
        if max(abs(s) for s in step) < tol * (1 + abs(lam)):
            break
    return lam, v


def _eigen_json(J_exact, piece, prec: int):
    """Eigenpair JSON records and the high-precision real basis columns (mpmath)."""
    eps = Fraction(1, 1 << max(prec - 12, 8))
    J = _mpmat(J_exact)
    out, cols = [], []
    col_pos = 0
    for kind, lam0 in zip(piece.kinds, piece.values):
        if kind == "real":
            v0 = piece.basis[:, col_pos]
            col_pos += 1
        else:
            v0 = piece.basis[:, col_pos] + 1j * piece.basis[:, col_pos + 1]
            col_pos += 2
        k = int(np.argmax(np.abs(v0)))
        res = _newton_eigenpair(J, lam0, v0, k, prec)
        if res is None:
            return None
        lam, v = res
        if kind == "real":
            vec = [_box(mpmath.re(x), eps, prec) for x in v]
            vec[k] = (Fraction(1), Fraction(1))
            out.append({"value": _iv_json(*_box(mpmath.re(lam), eps, prec)),
                        "vector": [_iv_json(*b) for b in vec], "normalized": k})
            cols.append([mpmath.re(x) for x in v])
        else:
            if mpmath.im(lam) < 0:
                lam, v = mpmath.conj(lam), [mpmath.conj(x) for x in v]
            vr = [_box(mpmath.re(x), eps, prec) for x in v]
            vi = [_box(mpmath.im(x), eps, prec) for x in v]
            vr[k], vi[k] = (Fraction(1), Fraction(1)), (Fraction(0), Fraction(0))
            out.append({"value": [_iv_json(*_box(mpmath.re(lam), eps, prec)),
                                  _iv_json(*_box(mpmath.im(lam), eps, prec))],
                        "vector_re": [_iv_json(*b) for b in vr], "vector_im": [_iv_json(*b) for b in vi],
                        "normalized": k})
            cols.append([mpmath.re(x) for x in v])
            cols.append([mpmath.im(x) for x in v])
    return out, cols


# ----------------------------------------------------------------------------- claims

def _orbit_json(orbit) -> dict:
    return {"period": orbit.period, "points": [[_fs(v) for v in p] for p in orbit.points],
            "stable_dim": orbit.stable_dim, "unstable_dim": orbit.unstable_dim}


def _kink_rows(cm: CheckedMap):
    C = np.array([[float(v) for v in cm.C[k]] for k in cm.kinks]).reshape(len(cm.kinks), cm.n)
    d = np.array([float(cm.d[k]) for k in cm.kinks])
    return C, d


def _radius(cm: CheckedMap, piece) -> Fraction:
    """0.75 of the largest float radius keeping the chain inside the regions of the checker's units."""
    C, d = _kink_rows(cm)
    r = np.inf
    for P, W in piece.chain:
        pre = np.abs(C @ P + d)
        reach = np.abs(C @ W).sum(axis=1) if len(C) else np.zeros(0)
        for a, b in zip(pre, reach):
            if b > 0:
                r = min(r, a / b)
    if not np.isfinite(r):
        r = 1.0
    r = 0.75 * r
    return Fraction(math.floor(r * 2**30), 2**30)


def _pattern(cm: CheckedMap, x: list[Fraction]) -> str:
    pre = cm.pre(x)
    kinks = set(cm.kinks)
    return "".join(("1" if pre[k] > 0 else "0") if k in kinks else "*" for k in range(cm.L))


def _growth_bits(model, itinerary) -> int:
    total = 0.0
    for bits in itinerary:
        J = model.jacobian(bits)
        nrm = max(sum(abs(float(fraction_of(J[i, j]))) for j in range(J.ncols())) for i in range(J.nrows()))
        total += math.log2(max(nrm, 1.0))
    return int(math.ceil(total))


def _cycle_product_at(model, regions, index: int) -> flint.fmpq_mat:
    """Exact DF^k at point *index* of a cycle with these regions: J_{r_{i-1}} ... J_{r_i}
    (the same matrix as ``symbolic.eigenspaces.cycle_jacobians(model, regions)[index]``, by
    :func:`symbolic.orbits.compose_itinerary`'s balanced product tree)."""
    from symbolic.orbits import compose_itinerary

    k = len(regions)
    return compose_itinerary(model, [regions[(index + m) % k] for m in range(k)])[0]


def connection_claim(model, conn: Connection, orbits, cm: CheckedMap, prec: int, cid: str) -> dict | None:
    """The checker claim for a candidate connection at working precision *prec* (None when the
    high-precision refinement fails)."""
    src, dst = orbits.by_id(conn.source), orbits.by_id(conn.target)
    dep = local_piece(model, src, conn.source_index, "unstable")
    arr = local_piece(model, dst, conn.target_index, "stable")
    if isinstance(dep, str) or isinstance(arr, str):
        return None
    with mpmath.workprec(prec + 32):
        Jd = rows_of(_cycle_product_at(model, src.regions, conn.source_index))
        Ja = rows_of(_cycle_product_at(model, dst.regions, conn.target_index))
        e_dep = _eigen_json(Jd, dep, prec)
        e_arr = _eigen_json(Ja, arr, prec)
        if e_dep is None or e_arr is None:
            return None
        (dep_json, Ucols), (arr_json, Scols) = e_dep, e_arr
        n = model.n
        # D = DF_σ and F_σ(p), exactly, then the system [D U | -S] (a, b) = q - F_σ(p) in mpmath
        p = list(src.points[conn.source_index])
        q = list(dst.points[conn.target_index])
        D = flint.fmpq_mat(n, n)
        for i in range(n):
            D[i, i] = 1
        Fp = flint.fmpq_mat(n, 1, [flint.fmpq(v.numerator, v.denominator) for v in p])
        for bits in conn.itinerary:
            J, c = model.affine_piece(bits)
            D, Fp = J * D, J * Fp + c
        Dm = _mpmat(rows_of(D))
        M = mpmath.matrix(n, n)
        for c_, col in enumerate(Ucols):
            DU = Dm * mpmath.matrix(col)
            for r in range(n):
                M[r, c_] = DU[r]
        for c_, col in enumerate(Scols):
            for r in range(n):
                M[r, len(Ucols) + c_] = -col[r]
        rhs = mpmath.matrix([mpmath.mpf(q[r].numerator) / q[r].denominator
                             - mpmath.mpf(fraction_of(Fp[r, 0]).numerator) / fraction_of(Fp[r, 0]).denominator
                             for r in range(n)])
        try:
            sol = mpmath.lu_solve(M, rhs)
        except ZeroDivisionError:
            return None
        try:
            cond = float(mpmath.mnorm(M, 1) * mpmath.mnorm(mpmath.inverse(M), 1))
        except ZeroDivisionError:
            return None
        eps = Fraction(1, 1 << max(prec - 16 - int(math.log2(1 + cond)), 8))
        coords = [_box(sol[i], eps, prec) for i in range(n)]
        du = len(Ucols)
        # x_0 = p + U a and the orbit midpoints (for the sign patterns)
        x = [mpmath.mpf(p[r].numerator) / p[r].denominator + sum(Ucols[c_][r] * sol[c_] for c_ in range(du))
             for r in range(n)]
        pts = []
        for bits in conn.itinerary:
            pts.append([_to_frac(v, prec) for v in x])
            J, c = model.affine_piece(bits)
            Jm = _mpmat(rows_of(J))
            cm_ = [fraction_of(v) for v in c.entries()]
            x = [sum(Jm[r, c_] * x[c_] for c_ in range(n)) + mpmath.mpf(cm_[r].numerator) / cm_[r].denominator
                 for r in range(n)]
        itin = [_pattern(cm, z) for z in pts]
        # enclosure of x_0: p + U a over the boxes, widened generously (checked by containment)
        point = []
        for r in range(n):
            x0 = pts[0][r]
            w = Fraction(1, 1 << max(prec - 24 - int(math.log2(1 + cond)), 8)) * (1 + abs(x0))
            point.append(_iv_json(x0 - w, x0 + w))
    r_dep, r_arr = _radius(cm, dep), _radius(cm, arr)
    homo = conn.kind == "homoclinic"
    claim = {"id": cid, "type": "transversal-homoclinic-orbit" if homo else "transversal-heteroclinic-orbit"}
    claim["theorem"] = THEOREMS[claim["type"]]
    if homo:
        claim["orbit"] = _orbit_json(src)
    else:
        claim["source"], claim["target"] = _orbit_json(src), _orbit_json(dst)
    claim["departure"] = {"index": conn.source_index, "radius": _fs(r_dep), "eigenpairs": dep_json,
                          "coordinates": [_iv_json(*coords[i]) for i in range(du)]}
    claim["arrival"] = {"index": conn.target_index, "radius": _fs(r_arr), "eigenpairs": arr_json,
                        "coordinates": [_iv_json(*coords[i]) for i in range(du, n)]}
    claim["itinerary"] = itin
    claim["point"] = point
    claim["precision_bits"] = prec
    return claim


# ----------------------------------------------------------------------------- exact analysis

def _rational_eigvec(J: flint.fmpq_mat, lam: complex):
    """Exact eigenvector for a rational real eigenvalue close to lam, else None."""
    if abs(lam.imag) > 0:
        return None
    fr = Fraction(lam.real).limit_denominator(10**6)
    n = J.nrows()
    M = J - flint.fmpq(fr.numerator, fr.denominator) * flint.fmpq_mat(n, n, [int(i == j) for i in range(n) for j in range(n)])
    if M.det() != 0:
        return None
    from symbolic.linalg import nullspace

    ns = nullspace(M)
    return ns[0] if len(ns) == 1 else None


def exact_verdict(model, conn: Connection, orbits, cm: CheckedMap) -> str | None:
    """When all eigenvalues of both local pieces are rational: an exact reason why the
    connection is NOT transversal/admissible (tangency, corner), or None (no objection found,
    or the data are irrational)."""
    from symbolic.linalg import solve_affine

    src, dst = orbits.by_id(conn.source), orbits.by_id(conn.target)
    cols = []
    for orb, idx, side in ((src, conn.source_index, "unstable"), (dst, conn.target_index, "stable")):
        pc = local_piece(model, orb, idx, side)
        if isinstance(pc, str) or any(k != "real" for k in pc.kinds):
            return None
        J = _cycle_product_at(model, orb.regions, idx)
        vecs = [_rational_eigvec(J, lam) for lam in pc.values]
        if any(v is None for v in vecs):
            return None
        cols.append(vecs)
    U, S = cols
    n = model.n
    D = flint.fmpq_mat(n, n, [int(i == j) for i in range(n) for j in range(n)])
    p = flint.fmpq_mat(n, 1, [flint.fmpq(v.numerator, v.denominator) for v in src.points[conn.source_index]])
    q = flint.fmpq_mat(n, 1, [flint.fmpq(v.numerator, v.denominator) for v in dst.points[conn.target_index]])
    Fp = p
    for bits in conn.itinerary:
        J, c = model.affine_piece(bits)
        D, Fp = J * D, J * Fp + c
    if len(U) + len(S) != n:
        return None
    M = flint.fmpq_mat(n, n)
    for c_, u in enumerate(U):
        Du = D * u
        for r in range(n):
            M[r, c_] = Du[r, 0]
    for c_, s in enumerate(S):
        for r in range(n):
            M[r, len(U) + c_] = -s[r, 0]
    if M.rank() < n:
        sol = solve_affine(M, q - Fp)
        if sol.point is not None:
            return (f"tangency: [DF U | -S] has rank {M.rank()} < n = {n} exactly and the system is consistent: "
                    "the manifolds' pieces overlap or touch without crossing (not transversal)")
        return None
    ab = M.solve(q - Fp)
    x = p
    for c_, u in enumerate(U):
        x = x + u * ab[c_, 0]
    for t, bits in enumerate(conn.itinerary):
        z = [fraction_of(v) for v in x.entries()]
        kinks = cm.kinks_at(z)
        if kinks:
            return (f"homoclinic corner / orbit through a region boundary: orbit point x_{t} = "
                    f"({', '.join(_fs(v) for v in z)}) lies exactly on the hyperplane of unit(s) {kinks}, where "
                    "a manifold has a kink; not transversal")
        J, c = model.affine_piece(bits)
        x = J * x + c
    return None


# ----------------------------------------------------------------------------- snap-back claims

def snapback_claim(model, sb: SnapBack, cm: CheckedMap, cid: str) -> dict:
    return {
        "id": cid, "type": "snap-back-repeller", "theorem": THEOREMS["snap-back-repeller"],
        "fixed_point": [_fs(v) for v in sb.fixed_point],
        "norm": {"type": "quadratic", "Q": [[_fs(v) for v in row] for row in sb.Q]},
        "radius": _fs(sb.radius),
        "orbit": [[_fs(v) for v in p] for p in sb.points],
        "itinerary": [_pattern(cm, list(p)) for p in sb.points[:-1]],
    }


# ----------------------------------------------------------------------------- driver

@dataclass
class ChaosCertification:
    """Output of :func:`certify_search`: JSON ``records`` (DESIGN §10 homoclinic records),
    the ``certificate`` (only claims the checker accepted are marked certified), timings."""

    records: list
    certificate: dict
    refusals: list
    stats: dict = field(default_factory=dict)


def _start_prec(model, conn) -> int:
    return max(128, 64 + 2 * _growth_bits(model, conn.itinerary) + 32)


def certify_connection(model, conn: Connection, orbits, cm: CheckedMap, cid: str, max_prec: int = _MAX_PREC):
    """(claim or None, reason or None): the claim is one the checker accepts."""
    if conn.status == "tangency":
        why = exact_verdict(model, conn, orbits, cm)
        return None, why or (f"tangency: [DF U | -S] is numerically singular (relative sigma_min {conn.sigma_min:.2g}) "
                             "and the system is consistent: not transversal")
    why = exact_verdict(model, conn, orbits, cm)
    if why:
        return None, why
    check = check_homoclinic if conn.kind == "homoclinic" else check_heteroclinic
    prec = _start_prec(model, conn)
    reason = "high-precision refinement failed"
    while prec <= max_prec:
        claim = connection_claim(model, conn, orbits, cm, prec, cid)
        if claim is not None:
            reason = check(cm, claim)
            if reason is None:
                return claim, None
            if not any(w in reason for w in _PRECISION_LIMITED):
                break            # a structural reason: more precision cannot help
        prec *= 2
    if conn.status == "corner":
        reason = (f"{reason} (numerically an orbit point lies on a region boundary: homoclinic corner, not transversal)")
    return None, reason


def _record(conn: Connection, claim, certified: bool, reason, orbits) -> dict:
    rec = {
        "kind": conn.kind, "from": conn.source, "to": conn.target,
        "from_index": conn.source_index, "to_index": conn.target_index,
        "length": conn.length, "itinerary": list(conn.itinerary),
        "status": conn.status, "transversal": conn.transversal if not certified else True,
        "certified": certified,
        "theorem": (claim or {}).get("theorem") if certified else None,
    }
    if claim is not None:
        rec["point"] = [decimal_interval(Fraction(lo), Fraction(hi)) for lo, hi in claim["point"]]
        rec["claim"] = claim["id"]
    else:
        rec["point"] = [[repr(float(v)), repr(float(v))] for v in conn.points[0]]
        rec["point_is_float"] = True
    if certified and rec["theorem"] == "smale-birkhoff":
        rec["conclusion"] = SMALE_BIRKHOFF.format(orbit=conn.source)
    if not certified:
        rec["reason"] = reason or "not accepted by the checker"
    return rec


def _snap_record(sb: SnapBack, claim, certified, reason) -> dict:
    rec = {"kind": "snap-back", "from": sb.orbit, "to": sb.orbit, "length": sb.length,
           "itinerary": list(sb.itinerary), "point": [[_fs(v), _fs(v)] for v in sb.points[0]],
           "orbit_points": [[_fs(v) for v in p] for p in sb.points],
           "transversal": None, "certified": certified,
           "theorem": "marotto-2005" if certified else None, "claim": claim["id"],
           "norm_Q": [[_fs(v) for v in row] for row in sb.Q], "radius": _fs(sb.radius)}
    if certified:
        rec["conclusion"] = MAROTTO.format(orbit=sb.orbit)
    else:
        rec["reason"] = reason
    return rec


def _cycles(claims_by_pair: dict, max_len: int = 4) -> list[list[str]]:
    """Cycles p_1 -> p_2 -> ... -> p_1 (length 2..max_len) in the directed graph of certified
    heteroclinic connections between distinct orbits (one claim per ordered pair)."""
    import networkx as nx

    G = nx.DiGraph()
    for (p, q), cid in claims_by_pair.items():
        G.add_edge(p, q, claim=cid)
    out = []
    for cyc in nx.simple_cycles(G, length_bound=max_len):
        if len(cyc) >= 2:
            out.append([G.edges[cyc[i], cyc[(i + 1) % len(cyc)]]["claim"] for i in range(len(cyc))])
    return sorted(out, key=len)


def certify_search(model, search, max_prec: int = _MAX_PREC, max_claims: int | None = 20,
                   progress=None) -> ChaosCertification:
    """Certify the candidates of a :class:`graph.homoclinic.ConnectionSearch`.

    At most *max_claims* transversal candidates are certified (shortest first; homoclinic
    before heteroclinic); corners and tangencies are always analysed and refused with a reason.
    """
    t0 = time.perf_counter()
    cm = CheckedMap(model_to_dict(model))
    orbits = search.orbits
    records, claims = [], []
    hetero_pairs = {}
    # shortest candidate of every (source, target) pair first (homoclinic before heteroclinic),
    # so that max_claims covers every pair (and heteroclinic cycles) before repeating one
    first = {}
    for c in sorted(search.connections, key=lambda c: c.length):
        if c.status == "candidate":
            first.setdefault((c.source, c.target), id(c))
    order = sorted(search.connections, key=lambda c: (c.status != "candidate", id(c) not in first.values(),
                                                      c.kind != "homoclinic", c.length))
    n_tried = 0
    t_build = 0.0
    for i, conn in enumerate(order):
        if conn.status == "candidate":
            if max_claims is not None and n_tried >= max_claims:
                rec = _record(conn, None, False, f"not attempted (max_claims = {max_claims})", orbits)
                records.append(rec)
                continue
            n_tried += 1
        cid = f"{conn.kind}:{conn.source}[{conn.source_index}]->{conn.target}[{conn.target_index}]:{i + 1}"
        tb = time.perf_counter()
        claim, reason = certify_connection(model, conn, orbits, cm, cid, max_prec)
        t_build += time.perf_counter() - tb
        if progress:
            progress(f"{cid}: {'claim built' if claim else 'refused: ' + str(reason)}")
        records.append((conn, claim, reason))
        if claim is not None:
            claims.append(claim)
            if conn.kind == "heteroclinic":
                hetero_pairs.setdefault((conn.source, conn.target), claim["id"])
    for sb in search.snapbacks:
        cid = f"snap-back:{sb.orbit}"
        claim = snapback_claim(model, sb, cm, cid)
        claims.append(claim)
        records.append((sb, claim, None))
    for ids in _cycles(hetero_pairs):
        claims.append({"id": "heteroclinic-cycle:" + "|".join(ids), "type": "heteroclinic-cycle",
                       "theorem": THEOREMS["heteroclinic-cycle"], "connections": ids})
    cert = new_certificate(model, claims)
    tc = time.perf_counter()
    report = check_certificate(cert)
    t_check = time.perf_counter() - tc
    ok = {r.id: r for r in report.results}
    out = []
    for item in records:
        if isinstance(item, dict):
            out.append(item)
            continue
        obj, claim, reason = item
        certified = claim is not None and ok[claim["id"]].ok
        if claim is not None and not certified:
            reason = ok[claim["id"]].reason
        if isinstance(obj, SnapBack):
            out.append(_snap_record(obj, claim, certified, reason))
        else:
            out.append(_record(obj, claim, certified, reason, orbits))
    for c in claims:
        if c["type"] == "heteroclinic-cycle":
            certified = ok[c["id"]].ok
            rec = {"kind": "heteroclinic-cycle", "connections": c["connections"], "certified": certified,
                   "theorem": c["theorem"] if certified else None, "claim": c["id"], "transversal": True}
            if certified:
                rec["conclusion"] = HETEROCLINIC_CYCLE.format(orbits=", ".join(c["connections"]))
            else:
                rec["reason"] = ok[c["id"]].reason
            out.append(rec)
    refusals = [r.to_json() for r in search.refusals]
    stats = {"build_seconds": t_build, "check_seconds": t_check, "seconds": time.perf_counter() - t0,
             "claims": len(claims), "certified": sum(r.ok for r in report.results)}
    return ChaosCertification(out, cert, refusals, stats)
