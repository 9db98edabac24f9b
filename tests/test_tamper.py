"""Tampered certificates (DESIGN §9, issue 4): any number changed, any itinerary bit flipped or
any claim type / theorem changed must make ``check`` fail -- unless the change keeps the claim
true (e.g. a widened enclosure that still contains the true value).

"True" is decided by an oracle independent of the checker: the Lozi saddle's eigen-data are
quadratic irrationals and the intersection coordinates solve a 2 x 2 linear system, both
computed here with mpmath at 150 digits (far beyond the certificate's ~2^-116 boxes); the
tent map's snap-back claim is exact, and its truth for a changed radius / norm is decided by
hand-derived inequalities. Whenever the checker accepts a mutated claim, the oracle must
confirm that the mutated claim is true.
"""
from __future__ import annotations

import copy
from fractions import Fraction as F

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graph.homoclinic import find_connections
from proofs_examples import example_path
from symbolic.models import load_model
from verify.checker import check_certificate
from verify.checkmodel import CheckInputError
from verify.chaos import certify_search

TYPES = ["transversal-homoclinic-orbit", "transversal-heteroclinic-orbit", "heteroclinic-cycle",
         "snap-back-repeller", "periodic-orbit", "boundary-orbit"]
THEOREMS = ["smale-birkhoff", "none", "heteroclinic-cycle", "marotto-2005", "", "li-yorke"]


def _single_claim_cert(name, kind, max_length):
    m = load_model(example_path(name))
    cc = certify_search(m, find_connections(m, max_length=max_length), max_claims=2)
    claim = next(c for c in cc.certificate["claims"] if c["type"] == kind)
    cert = dict(cc.certificate, claims=[claim])
    assert check_certificate(cert).ok
    return cert


@pytest.fixture(scope="module")
def lozi_cert():
    return _single_claim_cert("lozi", "transversal-homoclinic-orbit", 5)


@pytest.fixture(scope="module")
def tent_cert():
    return _single_claim_cert("tent", "snap-back-repeller", 6)


# ----------------------------------------------------------------------------- leaves and mutations

def _leaves(obj, path=()):
    """(path, value) of every number-like leaf (ints and rational strings) and string leaf."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    else:
        yield path, obj


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _is_rational_str(v):
    if not isinstance(v, str):
        return False
    try:
        F(v)
        return True
    except (ValueError, ZeroDivisionError):
        return False


@st.composite
def mutations(draw, cert):
    """(mutated certificate, path, description)."""
    # every leaf except labels that carry no mathematical content (ids, names, descriptions)
    leaves = [(p, v) for p, v in _leaves(cert) if p[-1] not in ("id", "name", "description") and p[0] != "format"]
    path, old = draw(st.sampled_from(leaves))
    new = copy.deepcopy(cert)
    if isinstance(old, bool):
        value = not old
    elif isinstance(old, int):
        value = old + draw(st.sampled_from([-2, -1, 1, 2, 7]))
    elif _is_rational_str(old):
        q = F(old)
        if draw(st.booleans()):
            k = draw(st.integers(0, 400))
            delta = F(1, 2**k) * (1 + abs(q)) * draw(st.sampled_from([1, -1]))
        else:
            delta = draw(st.fractions(-3, 3, max_denominator=50).filter(lambda x: x != 0))
        value = str(q + delta)
    elif isinstance(old, str) and path[-1] == "type":
        value = draw(st.sampled_from([t for t in TYPES if t != old]))
    elif isinstance(old, str) and path[-1] == "theorem":
        value = draw(st.sampled_from([t for t in THEOREMS if t != old]))
    elif isinstance(old, str) and "itinerary" in path:
        pos = draw(st.integers(0, len(old) - 1))
        ch = {"0": "1", "1": "0", "*": "1"}[old[pos]]
        value = old[:pos] + ch + old[pos + 1:]
    else:
        value = old + "x"
    _set(new, path, value)
    return new, path, old, value


# ----------------------------------------------------------------------------- oracle: Lozi

def _mpf(q):
    q = F(q)
    return mpmath.mpf(q.numerator) / q.denominator


def lozi_truth(claim):
    """True values of every enclosed quantity of the (original) Lozi homoclinic claim."""
    mpmath.mp.dps = 150
    p = [_mpf(v) for v in claim["orbit"]["points"][0]]
    # Lozi right half-plane: J = [[-17/10, 1], [1/2, 0]]; eigenvectors (lam, 1/2)
    J = mpmath.matrix([[_mpf("-17/10"), 1], [_mpf("1/2"), 0]])
    root = mpmath.sqrt(489)
    lam_u, lam_s = (-17 - root) / 20, (-17 + root) / 20

    def vec(lam, k):
        v = [lam, mpmath.mpf(1) / 2]
        return [x / v[k] for x in v]

    ku = claim["departure"]["eigenpairs"][0]["normalized"]
    ks = claim["arrival"]["eigenpairs"][0]["normalized"]
    u, s = vec(lam_u, ku), vec(lam_s, ks)
    JL = mpmath.matrix([[_mpf("17/10"), 1], [_mpf("1/2"), 0]])
    D = mpmath.eye(2)
    Fp = mpmath.matrix(p)
    for pat in claim["itinerary"]:
        Jt = J if pat[0] == "1" else JL
        D = Jt * D
        Fp = Jt * Fp + mpmath.matrix([1, 0])
    Du = D * mpmath.matrix(u)
    M = mpmath.matrix([[Du[0], -s[0]], [Du[1], -s[1]]])
    ab = mpmath.lu_solve(M, mpmath.matrix(p) - Fp)
    a, b = ab[0], ab[1]
    x0 = [p[i] + u[i] * a for i in range(2)]
    return {"lam_u": lam_u, "lam_s": lam_s, "u": u, "s": s, "a": a, "b": b, "x0": x0, "p": p}


def _inside(iv, x):
    return _mpf(iv[0]) <= x <= _mpf(iv[1])


def lozi_claim_true(claim, truth):
    """Is the (mutated) claim a true statement? Independent of the checker."""
    dep, arr = claim["departure"], claim["arrival"]
    try:
        if claim["type"] != "transversal-homoclinic-orbit" or claim["theorem"] != "smale-birkhoff":
            return False
        if claim["orbit"] != {"period": 1, "points": [["5/11", "5/22"]], "stable_dim": 1, "unstable_dim": 1}:
            return False
        if dep["index"] != 0 or arr["index"] != 0 or not isinstance(claim["precision_bits"], int):
            return False
        for side, lam, vec, co in ((dep, truth["lam_u"], truth["u"], truth["a"]),
                                   (arr, truth["lam_s"], truth["s"], truth["b"])):
            ep = side["eigenpairs"][0]
            k = ep["normalized"]
            if ep["vector"][k] != ["1", "1"] or not _inside(ep["value"], lam):
                return False
            if not all(_inside(ep["vector"][i], vec[i] / vec[k]) for i in range(2)):
                return False
            if not _inside(side["coordinates"][0], co):
                return False
            r = _mpf(side["radius"])
            if not abs(co) < r:
                return False
            # the local piece p + [-r, r] v stays in x > 0 (the only kink is x = 0)
            if not truth["p"][0] - r * abs(vec[0] / vec[k]) > 0:
                return False
        return all(_inside(claim["point"][i], truth["x0"][i]) for i in range(2))
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return False


# ----------------------------------------------------------------------------- oracle: tent snap-back

def tent_claim_true(claim):
    """u' = 2u - 4 relu(u) + 1/2; z = 1/6, J = -2; orbit 1/12 -> 1/3 -> -1/6 -> 1/6."""
    try:
        if claim["type"] != "snap-back-repeller" or claim["theorem"] != "marotto-2005":
            return False
        if claim["fixed_point"] != ["1/6"] or claim["orbit"] != [["1/12"], ["1/3"], ["-1/6"], ["1/6"]]:
            return False
        if claim["itinerary"] != ["1", "1", "0"] or claim["norm"]["type"] != "quadratic":
            return False
        Q, r = F(claim["norm"]["Q"][0][0]), F(claim["radius"])
        # Q > 0 (then J^T Q J - Q = 3Q > 0); x_0 inside the ball; the ball inside u > 0
        return Q > 0 and r > 0 and F(1, 12) ** 2 * Q < r * r and r * r / Q < F(1, 6) ** 2
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return False


# ----------------------------------------------------------------------------- the tamper tests

def verdict(cert) -> tuple[bool, str]:
    """(accepted, reason): a malformed certificate (CheckInputError, exit code 2) is rejected too."""
    try:
        rep = check_certificate(cert)
    except CheckInputError as exc:
        return False, str(exc)
    return rep.ok, rep.message()


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=250, **_SETTINGS)
@given(data=st.data())
def test_tampered_lozi_homoclinic_certificate_rejected_unless_still_true(lozi_cert, data):
    truth = lozi_truth(lozi_cert["claims"][0])
    new, path, old, value = data.draw(mutations(lozi_cert))
    ok, reason = verdict(new)
    if ok:
        assert path[0] == "claims", f"model change {path}: {old!r} -> {value!r} accepted"
        assert lozi_claim_true(new["claims"][0], truth), f"false claim accepted: {path}: {old!r} -> {value!r}"
    else:
        assert reason


@settings(max_examples=150, **_SETTINGS)
@given(data=st.data())
def test_tampered_tent_snap_back_certificate_rejected_unless_still_true(tent_cert, data):
    new, path, old, value = data.draw(mutations(tent_cert))
    ok, _ = verdict(new)
    if ok:
        assert path[0] == "claims", f"model change {path}: {old!r} -> {value!r} accepted"
        assert tent_claim_true(new["claims"][0]), f"false claim accepted: {path}: {old!r} -> {value!r}"


@settings(max_examples=40, **_SETTINGS)
@given(data=st.data())
def test_every_itinerary_bit_flip_is_rejected(lozi_cert, data):
    claim = lozi_cert["claims"][0]
    t = data.draw(st.integers(0, len(claim["itinerary"]) - 1))
    new = copy.deepcopy(lozi_cert)
    pat = new["claims"][0]["itinerary"][t]
    new["claims"][0]["itinerary"][t] = ("0" if pat[0] == "1" else "1") + pat[1:]
    rep = check_certificate(new)
    assert not rep.ok and rep.first_failure.id == claim["id"]


def test_widened_enclosures_keep_the_claim_and_are_accepted(lozi_cert):
    new = copy.deepcopy(lozi_cert)
    c = new["claims"][0]
    for side in ("departure", "arrival"):
        ep = c[side]["eigenpairs"][0]
        lo, hi = F(ep["value"][0]), F(ep["value"][1])
        w = hi - lo
        ep["value"] = [str(lo - w), str(hi + w)]
        co = c[side]["coordinates"][0]
        lo, hi = F(co[0]), F(co[1])
        c[side]["coordinates"][0] = [str(lo - (hi - lo)), str(hi + (hi - lo))]
    c["point"] = [[str(F(lo) - 1), str(F(hi) + 1)] for lo, hi in c["point"]]
    assert lozi_claim_true(c, lozi_truth(lozi_cert["claims"][0]))
    assert check_certificate(new).ok


def test_shifted_enclosure_that_misses_the_true_value_is_rejected(lozi_cert):
    truth = lozi_truth(lozi_cert["claims"][0])
    new = copy.deepcopy(lozi_cert)
    co = new["claims"][0]["departure"]["coordinates"][0]
    lo, hi = F(co[0]), F(co[1])
    co[0], co[1] = str(hi + (hi - lo)), str(hi + 2 * (hi - lo))
    assert not lozi_claim_true(new["claims"][0], truth)
    assert not check_certificate(new).ok
