"""The checker's connecting-orbit and chaos claims (verify.checkchaos) and its interval
arithmetic (verify.intervals), tested against exact sympy algebra and hand-derived claims.

Hand-built claims use maps whose eigen-data are rational (derived in the comments), so the
true values are known exactly; the checker must accept the true claims and refuse claims
that are false or unproven, each with a reason.
"""
from __future__ import annotations

import copy
from fractions import Fraction as F

import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from graph.homoclinic import find_connections
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict, model_to_dict
from verify.certificate import new_certificate
from verify.checkchaos import check_homoclinic, check_snap_back
from verify.checker import FORMAT, check_certificate
from verify.checkmodel import CheckedMap
from verify.chaos import certify_search
from verify.intervals import (
    Interval, det, interval_det, inverse, is_positive_definite, krawczyk, matvec, mid_vec,
)

small = st.builds(F, st.integers(-20, 20), st.integers(1, 12))


def _s(x):
    return f"{F(x).numerator}/{F(x).denominator}"


def iv_of(lo, hi):
    return [_s(lo), _s(hi)]


# ----------------------------------------------------------------------------- interval arithmetic

@st.composite
def interval_and_member(draw):
    a, b = draw(small), draw(small)
    lo, hi = min(a, b), max(a, b)
    t = draw(st.fractions(0, 1, max_denominator=16))
    return Interval(lo, hi), lo + (hi - lo) * t


@settings(max_examples=200, deadline=None)
@given(interval_and_member(), interval_and_member(), st.sampled_from(["+", "-", "*", "sqr", "round"]))
def test_interval_operations_contain_every_result_on_members(X, Y, op):
    (A, a), (B, b) = X, Y
    if op == "+":
        assert (A + B).contains(a + b)
    elif op == "-":
        assert (A - B).contains(a - b)
    elif op == "*":
        assert (A * B).contains(a * b) and (A * b).contains(a * b)
    elif op == "sqr":
        assert A.sqr().contains(a * a)
    else:
        R = A.round_out(3)
        assert R.contains(A) and R.lo.denominator <= 8 and R.hi.denominator <= 8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(small, min_size=3, max_size=3), min_size=3, max_size=3))
def test_exact_det_inverse_and_definiteness_agree_with_sympy(rows):
    M = sympy.Matrix(rows)
    assert det(rows) == F(str(M.det()))
    inv = inverse(rows)
    if M.det() == 0:
        assert inv is None
    else:
        assert [[F(str(v)) for v in r] for r in M.inv().tolist()] == inv
    S = (M.T * M + sympy.eye(3) * sympy.Rational(-1, 2))
    Srows = [[F(str(v)) for v in r] for r in S.tolist()]
    # Sylvester's criterion, evaluated by sympy: all leading principal minors positive
    assert is_positive_definite(Srows) == all(S[:k, :k].det() > 0 for k in range(1, 4))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(small, min_size=2, max_size=2), min_size=2, max_size=2), st.lists(small, min_size=2, max_size=2),
       st.integers(4, 40))
def test_krawczyk_proves_exactly_the_boxes_that_contain_the_solution(rows, rhs, k):
    M = sympy.Matrix(rows)
    assume(M.det() != 0)
    x = [F(str(v)) for v in M.solve(sympy.Matrix(rhs))]
    eps = F(1, 2 ** k)
    X = [Interval(v - eps, v + eps) for v in x]
    Mi = [[Interval(v) for v in r] for r in rows]
    xt = mid_vec(X, 200)
    Fm = [y - r for y, r in zip(matvec(Mi, xt), rhs)]
    ok, _ = krawczyk(Fm, Mi, X, xt, 200)
    assert ok
    shifted = [Interval(v + 3 * eps, v + 5 * eps) for v in x]       # misses the solution
    xt2 = mid_vec(shifted, 200)
    ok2, _ = krawczyk([y - r for y, r in zip(matvec(Mi, xt2), rhs)], Mi, shifted, xt2, 200)
    assert not ok2
    d = interval_det(Mi, 200)
    assert d is not None and d.contains(F(str(M.det())))


def test_krawczyk_refuses_a_singular_interval_matrix():
    M = [[Interval(1), Interval(2)], [Interval(F(1, 2)), Interval(1)]]     # rank 1
    X = [Interval(-1, 1), Interval(-1, 1)]
    xt = mid_vec(X, 64)
    ok, _ = krawczyk([Interval(0), Interval(0)], M, X, xt, 64)
    assert not ok
    d = interval_det(M, 64)
    assert d is None or d.sign() == 0


# ----------------------------------------------------------------------------- hand-built claims

# Corner map (tests/test_homoclinic.py): f = (2x, y/2) for x < 1, f = (4 - 2x, y/2 + (x-1)/4) for x > 1.
# Saddle 0 with E^u = e1 (eigenvalue 2), E^s = e2 (eigenvalue 1/2). The orbit (1/2, 0) -> (1, 0)
# -> (2, 0) -> (0, 1/4) is homoclinic, but x_1 = (1, 0) lies ON the kink x = 1.
CORNER = {"kind": "relu-affine", "A": [[2, 0], [0, "1/2"]], "B": [[-4], ["1/4"]], "C": [[1, 0]],
          "d": [-1], "e": [0, 0]}


def corner_claim(eps=F(1, 2**40), a=F(1, 2), itin=("0", "0", "1")):
    ev = lambda lam, vec, k: {"value": iv_of(lam - eps, lam + eps),
                              "vector": [iv_of(v - (0 if i == k else eps), v + (0 if i == k else eps))
                                         for i, v in enumerate(vec)], "normalized": k}
    b = F(1, 4)
    return {"id": "corner", "type": "transversal-homoclinic-orbit", "theorem": "smale-birkhoff",
            "orbit": {"period": 1, "points": [["0", "0"]], "stable_dim": 1, "unstable_dim": 1},
            "departure": {"index": 0, "radius": "3/4", "eigenpairs": [ev(F(2), [1, 0], 0)],
                          "coordinates": [iv_of(a - eps, a + eps)]},
            "arrival": {"index": 0, "radius": "1", "eigenpairs": [ev(F(1, 2), [0, 1], 1)],
                        "coordinates": [iv_of(b - 8 * eps, b + 8 * eps)]},
            "itinerary": list(itin), "point": [iv_of(a - 2 * eps, a + 2 * eps), iv_of(-eps, eps)],
            "precision_bits": 128}


def test_orbit_through_a_region_boundary_is_refused_by_the_checker():
    cm = CheckedMap(CORNER)
    reason = check_homoclinic(cm, corner_claim())
    assert reason and "x_1" in reason and "not proven strictly inside" in reason


def test_tangency_claim_is_refused_by_the_checker():
    # TANGENCY map: x-axis segment a in (1/4, 3/8) -> (2a,0) -> (4a,0) -> (2, 4a-1) -> (0, (4a-1)/2),
    # a whole segment of W^u on W^s: [DF U | -S] = [[0, 0], [2, -1]] is singular.
    md = {"kind": "relu-affine", "A": [[2, 0], [0, "1/2"]], "B": [[-2, -4], [1, -2]], "C": [[1, 0], [1, 0]],
          "d": [-1, "-3/2"], "e": [0, 0]}
    claim = corner_claim(a=F(5, 16), itin=("00", "00", "10", "11"))
    claim["arrival"]["coordinates"] = [iv_of(F(1, 8) - F(1, 2**30), F(1, 8) + F(1, 2**30))]
    claim["departure"]["radius"] = "3/4"
    reason = check_homoclinic(CheckedMap(md), claim)
    assert reason is not None    # singular strip (det J = 0) and singular system: never certified
    assert "det J = 0" in reason or "transversality" in reason


def test_gingerbreadman_claims_are_refused_hyperbolicity_not_proven():
    md = model_to_dict(load_model(example_path("gingerbreadman")))
    claim = corner_claim()
    claim["orbit"]["points"] = [["1", "1"]]
    reason = check_homoclinic(CheckedMap(md), claim)
    assert reason and ("unit circle" in reason or "hyperbolic" in reason)
    snap = {"id": "s", "type": "snap-back-repeller", "theorem": "marotto-2005", "fixed_point": ["1", "1"],
            "norm": {"type": "quadratic", "Q": [["1", "0"], ["0", "1"]]}, "radius": "1/2",
            "orbit": [["1", "1"], ["1", "1"]], "itinerary": ["1"]}
    reason = check_snap_back(CheckedMap(md), snap)
    assert reason and "expanding" in reason


# ----------------------------------------------------------------------------- snap-back claims

TENT = model_to_dict(load_model(example_path("tent")))


def tent_snap(**kw):
    c = {"id": "s", "type": "snap-back-repeller", "theorem": "marotto-2005", "fixed_point": ["1/6"],
         "norm": {"type": "quadratic", "Q": [["1"]]}, "radius": "1/8",
         "orbit": [["1/12"], ["1/3"], ["-1/6"], ["1/6"]], "itinerary": ["1", "1", "0"]}
    c.update(kw)
    return c


@pytest.mark.parametrize("change, words", [
    ({}, None),
    ({"radius": "1/5"}, "not inside z's region"),                   # ball reaches the kink u = 0
    ({"radius": "1/13"}, "not inside the expanding ball"),          # x_0 = 1/12 is 1/12 away
    ({"orbit": [["1/6"], ["1/6"]], "itinerary": ["1"]}, "x_0 = z"),
    ({"orbit": [["1/12"], ["1/3"], ["-1/6"]], "itinerary": ["1", "1"]}, "does not end"),
    ({"itinerary": ["1", "0", "0"]}, "other sign"),
    ({"norm": {"type": "quadratic", "Q": [["-1"]]}}, "positive definite"),
    ({"fixed_point": ["1/5"]}, "f(z) != z"),
    ({"theorem": "smale-birkhoff"}, "theorem"),
])
def test_tent_snap_back_claim_and_its_falsifications(change, words):
    reason = check_snap_back(CheckedMap(TENT), tent_snap(**change))
    if words is None:
        assert reason is None
    else:
        assert reason and words in reason


def test_marotto_gap_euclidean_norm_refused_adapted_norm_accepted():
    # J = [[2, 3], [0, 2]] near 0: both eigenvalues 2, but sigma_min(J) < 1, so the map is NOT
    # expanding in the Euclidean norm (the gap in Marotto 1978); beyond x = 1 the map folds back
    # so that (21/17, 2/17) -> 0 exactly, and (9/17, 1/17) -> (21/17, 2/17).
    md = {"kind": "relu-affine", "A": [[2, 3], [0, 2]], "B": [[-12], [-1]], "C": [[1, 0]], "d": [-1], "e": [0, 0]}
    m = model_from_dict(md)
    cc = certify_search(m, find_connections(m, max_length=6))
    snap = next(c for c in cc.certificate["claims"] if c["type"] == "snap-back-repeller" and c["fixed_point"] == ["0", "0"])
    assert check_snap_back(CheckedMap(md), snap) is None
    assert snap["norm"]["Q"] != [["1", "0"], ["0", "1"]]
    euclid = dict(snap, norm={"type": "quadratic", "Q": [["1", "0"], ["0", "1"]]})
    reason = check_snap_back(CheckedMap(md), euclid)
    assert reason and "not positive definite" in reason


# ----------------------------------------------------------------------------- certificates

@pytest.fixture(scope="module")
def lozi_cert():
    m = load_model(example_path("lozi"))
    res = find_connections(m, max_length=6, max_period=2)
    return certify_search(m, res, max_claims=12).certificate


def test_lozi_certificate_contains_a_certified_heteroclinic_cycle(lozi_cert):
    rep = check_certificate(lozi_cert)
    assert rep.ok, rep.message()
    cyc = [c for c in lozi_cert["claims"] if c["type"] == "heteroclinic-cycle"]
    assert cyc and all(r.ok for r in rep.results if r.type == "heteroclinic-cycle")


def test_certificate_for_model_x_fails_for_model_y(lozi_cert):
    other = copy.deepcopy(lozi_cert)
    other["model"] = model_to_dict(load_model(example_path("border_collision")))
    rep = check_certificate(other)
    assert not any(r.ok for r in rep.results if r.type != "heteroclinic-cycle")
    assert rep.first_failure is not None and rep.first_failure.reason


def test_claim_type_swaps_are_refused(lozi_cert):
    homo = next(c for c in lozi_cert["claims"] if c["type"] == "transversal-homoclinic-orbit")
    for t in ("transversal-heteroclinic-orbit", "snap-back-repeller", "periodic-orbit", "heteroclinic-cycle"):
        bad = dict(homo, type=t)
        rep = check_certificate(new_certificate(load_model(example_path("lozi")), [bad]))
        assert not rep.ok, t


def test_heteroclinic_cycle_must_close(lozi_cert):
    het = [c for c in lozi_cert["claims"] if c["type"] == "transversal-heteroclinic-orbit"]
    one = het[0]["id"]
    bad = {"id": "cyc", "type": "heteroclinic-cycle", "theorem": "heteroclinic-cycle", "connections": [one, one]}
    cert = dict(lozi_cert, claims=lozi_cert["claims"] + [bad])
    res = {r.id: r for r in check_certificate(cert).results}
    assert not res["cyc"].ok and "different orbit" in res["cyc"].reason


def test_checker_names_the_first_failing_claim(lozi_cert):
    cert = copy.deepcopy(lozi_cert)
    target = cert["claims"][1]
    target["precision_bits"] = 3
    rep = check_certificate(cert)
    assert rep.first_failure.id == target["id"] and "precision_bits" in rep.first_failure.reason
    assert cert["format"] == FORMAT


def test_checker_imports_no_search_code_and_no_floats():
    import subprocess
    import sys

    code = ("import sys, verify.checker, verify.checkchaos, verify.intervals; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('symbolic', 'graph', 'numpy', 'mpmath', 'scipy')); "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
