"""Claims for homoclinic orbits of long saddle cycles (search side, untrusted).

Turns a float :class:`graph.shooting.CycleHomoclinic` into a
``transversal-homoclinic-orbit-to-cycle`` claim (see :mod:`verify.checkcycles` for what the
checker re-derives) and runs the checker on it. Eigenpairs of the exact period map are
refined by Newton's method in mpmath at the claim's precision and boxed; the precision is
chosen from the growth of interval enclosures along the orbit (Σ log2 ‖|J_t|‖∞), which the
checker's ball iteration has to absorb.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.shooting import find_cycle_homoclinic
>>> m = load_model(example_path("lozi"))
>>> hit = find_cycle_homoclinic(m, ("1", "0"), samples=400, max_steps=40).connection
>>> res = certify_cycle_homoclinic(m, hit, "lozi-P2-homoclinic")
>>> res.status
'certified'
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import flint
import mpmath
import numpy as np

from .chaos import _box, _cycle_product_at, _fs, _iv_json, _mpmat, _newton_eigenpair
from .checkcycles import CLAIM, THEOREM, check_cycle_homoclinic
from .checkmodel import CheckedMap


@dataclass
class CycleChaosCertification:
    """Outcome of :func:`certify_cycle_homoclinic`: ``status`` 'certified' (the checker
    accepted ``claim``) or 'refused' (``message`` has the checker's reason), the precision
    used and the seconds spent producing and checking."""

    status: str
    message: str
    claim: dict | None
    precision_bits: int
    produce_seconds: float
    check_seconds: float


def _rat(x: float, bits: int = 48) -> Fraction:
    return Fraction(round(float(x) * (1 << bits)), 1 << bits)


def _cm_pattern(cm: CheckedMap, x: np.ndarray) -> str:
    """The checker's sign pattern ('0'/'1' on kink units, '*' elsewhere) at a float point."""
    kinks = set(cm.kinks)
    out = []
    for k in range(cm.L):
        if k not in kinks:
            out.append("*")
            continue
        pre = float(cm.d[k]) + sum(float(cm.C[k][i]) * x[i] for i in range(cm.n) if cm.C[k][i] != 0)
        out.append("1" if pre > 0 else "0")
    return "".join(out)


def _growth_bits(Js) -> float:
    return sum(math.log2(max(float(np.abs(J).sum(axis=1).max()), 1.0)) for J in Js)


def _eigenpair_json(D: flint.fmpq_mat, lam0: float, v0: np.ndarray, prec: int, key: str):
    k = int(np.argmax(np.abs(v0)))
    rows = [[Fraction(int(D[r, c].p), int(D[r, c].q)) for c in range(D.ncols())] for r in range(D.nrows())]
    with mpmath.workprec(prec):
        res = _newton_eigenpair(_mpmat(rows), lam0, v0, k, prec)
        if res is None:
            return None
        lam, v = res
        eps = Fraction(1, 1 << max(prec - 12, 8))
        vec = [_box(mpmath.re(x), eps, prec) for x in v]
        vec[k] = (Fraction(1), Fraction(1))
        return {"value": _iv_json(*_box(mpmath.re(lam), eps, prec)),
                key: [_iv_json(*b) for b in vec], "normalized": k}


def cycle_homoclinic_claim(model, hit, cm: CheckedMap, cid: str, prec: int) -> dict | None:
    """The claim for a float homoclinic orbit *hit* (:class:`graph.shooting.CycleHomoclinic`)."""
    fr = hit.frame
    k, i, j = fr.period, hit.departure, hit.arrival.index
    sig = [_cm_pattern(cm, fr.points[t]) for t in range(k)]
    Z = hit.points(model)
    tau = [_cm_pattern(cm, Z[t]) for t in range(hit.length)]
    regions = list(fr.itinerary)
    Di = _cycle_product_at(model, regions, i)
    Dj = _cycle_product_at(model, regions, j)
    dep = _eigenpair_json(Di, fr.mu, fr.u[i], prec, "vector")
    arr = _eigenpair_json(Dj.transpose(), fr.mu, fr.w[j], prec, "left_vector")
    if dep is None or arr is None:
        return None
    piece = hit.arrival
    if arr["normalized"] != piece.q:
        return None
    r_u = _rat(hit.r_u * 0.999)
    radii = [_rat(r * 1.0001, 64) + Fraction(1, 1 << 200) for r in piece.radii]
    box = [[_fs(_rat(x, 60) - Fraction(1, 1 << 30)), _fs(_rat(x, 60) + Fraction(1, 1 << 30))] for x in Z[0]]
    dep.update({"index": i, "radius": _fs(r_u)})
    arr.update({"index": j, "basis": [[_fs(_rat(x, 52)) for x in row] for row in piece.R],
                "radii": [_fs(r) for r in radii]})
    return {"id": cid, "type": CLAIM, "theorem": THEOREM,
            "cycle": {"itinerary": sig}, "departure": dep, "arrival": arr,
            "itinerary": tau, "point": box, "precision_bits": prec,
            "info": {"period": k, "length": hit.length, "unstable_multiplier": fr.mu,
                     "x0_float": [float(x) for x in Z[0]]}}


def required_bits(model, hit) -> int:
    """Precision for the checker's ball iterations: growth of |J| along the orbit and of
    |J^{-1}| / |J| along the cycle, plus a margin, rounded up to a multiple of 64."""
    fr = hit.frame
    J_orbit, _ = model.affine_pieces_float(np.array([[b == "1" for b in s] for s in hit.itinerary]))
    g = _growth_bits(J_orbit)
    g_cyc = _growth_bits(fr.J) + _growth_bits([np.linalg.inv(J) for J in fr.J])
    bits = int(max(g, g_cyc)) + 320
    return 64 * ((bits + 63) // 64)


def certify_cycle_homoclinic(model, hit, cid: str, prec: int | None = None,
                             max_prec: int = 1 << 15) -> CycleChaosCertification:
    """Build the claim for *hit* and run the independent checker on it (doubling the
    precision while the checker's reason is a precision one)."""
    cm = CheckedMap(model.to_dict())
    prec = prec or required_bits(model, hit)
    t_prod = t_check = 0.0
    reason = "high-precision refinement failed"
    tries = 0
    while prec <= max_prec:
        t = time.perf_counter()
        claim = cycle_homoclinic_claim(model, hit, cm, cid, prec)
        t_prod += time.perf_counter() - t
        if claim is not None:
            t = time.perf_counter()
            reason = check_cycle_homoclinic(cm, claim)
            t_check += time.perf_counter() - t
            if reason is None:
                return CycleChaosCertification("certified", f"accepted by the checker at {prec} bits",
                                               claim, prec, t_prod, t_check)
            if tries or not any(w in reason for w in ("Krawczyk", "invertible", "contraction")):
                break            # structural, or already retried: more precision will not help
        tries += 1
        prec *= 2
    return CycleChaosCertification("refused", reason, None, prec, t_prod, t_check)


@dataclass
class LongCycleChaos:
    """Outcome of :func:`long_cycle_chaos`: ``status`` 'certified' (``claims`` holds the
    accepted claim), 'not-found' or 'refused', a ``message`` saying what was searched, the
    float saddle cycles met, the float connection and seconds per step."""

    status: str
    message: str
    claims: list
    cycles: list
    connection: object = None
    stats: dict | None = None


def long_cycle_chaos(model, trajectory, cid: str = "chaos-cycle", max_cycles: int = 3,
                     min_period: int = 20, max_period: int = 400, max_seconds: float = 60.0,
                     shoot_seconds: float | None = 120.0, progress=None) -> LongCycleChaos:
    """Search saddle cycles seeded by near-returns of *trajectory* (on the attractor), shoot
    for a homoclinic orbit of each with a 1-D unstable manifold and certify the first found
    (at most *max_seconds* seeding cycles and *shoot_seconds* shooting for each cycle).

    >>> from proofs_examples import example_path
    >>> from symbolic.models import load_model
    >>> m = load_model(example_path("lozi"))
    >>> Z = m.trajectory([0.1, 0.1], 3000)[500:]
    >>> long_cycle_chaos(m, Z, min_period=2, max_period=12).status
    'certified'
    """
    from graph.homoclinic import recurrent_cycles
    from graph.shooting import find_cycle_homoclinic

    say = progress or (lambda msg: None)
    stats = {}
    t = time.perf_counter()
    # near-returns at short lags of a flow-like trajectory are just its slow motion, and
    # waste seeds: look for long cycles first, then short ones
    windows = [(max(min_period, 50), max_period), (min_period, 50)] if max_period > 50 > min_period else \
        [(min_period, max_period)]
    # near-return tolerances relative to the trajectory's step length (a flow-like map moves
    # a small, model-dependent distance per step)
    Zt = np.asarray(trajectory, float)
    step = float(np.abs(np.diff(Zt, axis=0)).max(axis=1).mean()) if len(Zt) > 1 else 0.05
    tols = sorted({0.05, round(2 * step, 6)}) if step > 0 else [0.05]
    cycles = []
    for lo, hi in windows:
        for tol in tols:
            share = (0.75 if lo >= 50 and len(windows) > 1 else 0.25) / len(tols)
            cycles = recurrent_cycles(model, Zt, min_period=lo, max_period=hi, max_seeds=40, tol=tol,
                                      max_seconds=max_seconds * share)
            if any(c.unstable_dim == 1 for c in cycles):
                break
        if any(c.unstable_dim == 1 for c in cycles):
            break
    stats["cycles_seconds"] = time.perf_counter() - t
    saddles = [c for c in cycles if c.unstable_dim == 1]
    say(f"{len(cycles)} saddle cycles (periods {sorted(c.period for c in cycles)[:8]}), "
        f"{len(saddles)} with a 1-D unstable manifold")
    if not saddles:
        return LongCycleChaos("not-found", f"{len(cycles)} cycles seeded from the trajectory, none with a 1-D "
                              "unstable manifold", [], cycles, None, stats)
    tried, last = [], "no crossing"
    for c in saddles[:max_cycles]:
        t = time.perf_counter()
        res = find_cycle_homoclinic(model, c.itinerary, c.points, samples=3000,
                                    max_steps=max(3000, 8 * c.period), near=0.03, progress=None,
                                    max_seconds=shoot_seconds)
        stats[f"shoot_P{c.period}_seconds"] = time.perf_counter() - t
        say(f"period-{c.period} cycle: {res.message}")
        tried.append(c.period)
        if res.connection is None:
            last = res.message
            continue
        cert = certify_cycle_homoclinic(model, res.connection, cid)
        stats["produce_seconds"], stats["check_seconds"] = cert.produce_seconds, cert.check_seconds
        say(f"period-{c.period} cycle: {cert.status} ({cert.message})")
        if cert.status == "certified":
            return LongCycleChaos("certified", f"transversal homoclinic orbit of a period-{c.period} saddle "
                                  f"cycle, length {res.connection.length}, checked at {cert.precision_bits} bits",
                                  [cert.claim], cycles, res.connection, stats)
        last = cert.message
    return LongCycleChaos("not-found", f"saddle cycles of periods {tried} searched; last: {last}", [], cycles,
                          None, stats)


def cycle_enclosure_claim(model, itinerary, points, cid: str) -> tuple[dict | None, str | None]:
    """(claim, None) for the k-cycle with this itinerary (model region bits) as a
    ``periodic-orbit-enclosure`` claim the checker accepted, or (None, reason). *points* are
    the float cycle points (used for the sign patterns, the z_0 box and the stability guess).

    >>> from proofs_examples import example_path
    >>> from symbolic.models import load_model
    >>> from graph.shooting import cycle_frame
    >>> m = load_model(example_path("lozi"))
    >>> claim, why = cycle_enclosure_claim(m, ("1", "0"), cycle_frame(m, ("1", "0")).points, "P2")
    >>> claim["stable_dim"], claim["unstable_dim"], why
    (1, 1, None)
    """
    from .checkcycles import ENCLOSURE, check_periodic_orbit_enclosure

    cm = CheckedMap(model.to_dict())
    X = np.asarray(points, float)
    k = len(itinerary)
    J, _ = model.affine_pieces_float(np.array([[b == "1" for b in s] for s in itinerary]))
    M = np.eye(model.n)
    for Jt in J:
        M = Jt @ M
    mult = np.abs(np.linalg.eigvals(M))
    bits = 64 * ((int(_growth_bits(J)) + 256 + 63) // 64)
    tol = Fraction(1, 10**7)
    box = [[_fs(_rat(x, 60) - tol * (1 + abs(_rat(x, 60)))), _fs(_rat(x, 60) + tol * (1 + abs(_rat(x, 60))))]
           for x in X[0]]
    claim = {"id": cid, "type": ENCLOSURE, "itinerary": [_cm_pattern(cm, X[t]) for t in range(k)],
             "point": box, "stable_dim": int(np.sum(mult < 1)), "unstable_dim": int(np.sum(mult > 1)),
             "precision_bits": bits, "info": {"period": k, "multipliers_float": sorted(mult.tolist())[::-1][:4]}}
    why = check_periodic_orbit_enclosure(cm, claim)
    return (claim, None) if why is None else (None, why)


def attractor_trajectory(model, steps: int) -> np.ndarray | None:
    """The last two thirds of the orbit of (0.1, ..., 0.1) (on the attractor, to seed
    :func:`long_cycle_chaos`), or None when it diverges."""
    with np.errstate(over="ignore", invalid="ignore"):
        Z = model.trajectory(np.full(model.n, 0.1), steps)[steps // 3:]
    if not np.all(np.isfinite(Z)) or np.abs(Z).max() > 1e8:
        return None
    return Z


def cycle_chaos_record(res: LongCycleChaos) -> dict:
    """The homoclinic record (report / ``homoclinic --json``) of a certified
    :class:`LongCycleChaos`: subject, length, claim id, the x_0 enclosure and the conclusion."""
    claim, hit = res.claims[0], res.connection
    k = hit.frame.period
    return {
        "kind": "homoclinic", "from": f"period-{k} cycle", "to": f"period-{k} cycle", "length": hit.length,
        "certified": True, "theorem": "smale-birkhoff", "claim": claim["id"], "point": claim["point"],
        "conclusion": (f"Smale–Birkhoff homoclinic theorem: a hyperbolic saddle cycle of period {k} (unstable "
                       f"multiplier ≈ {hit.frame.mu:.4g}) has a transversal homoclinic orbit of {hit.length} steps, "
                       "and f is affine and invertible near every point of the orbit's closure, so some iterate "
                       "of f has an invariant Cantor set on which it is topologically conjugate to the full shift "
                       "on two symbols: f is chaotic (positive topological entropy).")}
