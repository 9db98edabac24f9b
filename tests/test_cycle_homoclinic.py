"""Homoclinic orbits of saddle cycles given by itineraries (graph/shooting, verify/checkcycles).

Known answers: the Lozi map (a, b) = (17/10, 1/2) has transversal homoclinic points of its
saddle (5/11, 5/22) (REFERENCE, known-answer systems); a homoclinic point's forward orbit
converges to the cycle at the stable rate and its backward orbit along W^u_loc at the rate
1/|μ_u|. Tampered claims must never be accepted.
"""
from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.shooting import cycle_frame, find_cycle_homoclinic, stable_piece
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict
from verify.certificate import new_certificate
from verify.checker import check_certificate
from verify.checkmodel import CheckedMap
from verify.longchaos import certify_cycle_homoclinic

LOZI = load_model(example_path("lozi"))
CM = CheckedMap(LOZI.to_dict())


def verdict(claim, model=LOZI):
    """None if the checker accepts the claim in a certificate, else its reason."""
    rep = check_certificate(new_certificate(model, [claim]))
    return None if rep.ok else rep.first_failure.reason


@pytest.fixture(scope="module")
def lozi_claims():
    out = {}
    for itin in [("1",), ("1", "0")]:
        res = find_cycle_homoclinic(LOZI, itin, samples=400, max_steps=60)
        assert res.status == "found", res.message
        cert = certify_cycle_homoclinic(LOZI, res.connection, f"h{len(itin)}")
        out[itin] = (res.connection, cert)
    return out


def test_lozi_fixed_point_and_2_cycle_have_certified_homoclinic_orbits(lozi_claims):
    for itin, (hit, cert) in lozi_claims.items():
        assert cert.status == "certified", cert.message
        assert check_certificate(new_certificate(LOZI, [cert.claim])).ok


def test_the_certified_point_is_asymptotic_to_the_cycle_both_ways(lozi_claims):
    """Forward: distance to the cycle shrinks like |λ_s|^m; backward along W^u_loc: x_0 is on
    the line p + t u (checked by the exact relation of the enclosure to p and u)."""
    hit, cert = lozi_claims[("1",)]
    p = np.array([5 / 11, 5 / 22])
    x0 = np.array([float((Fraction(lo) + Fraction(hi)) / 2) for lo, hi in cert.claim["point"]])
    Z = LOZI.trajectory(x0, hit.length + 30)
    d_land = np.abs(Z[hit.length] - p).max()
    d_late = np.abs(Z[hit.length + 12] - p).max()
    lam_s = abs((-17 + 489 ** 0.5) / 20)          # stable eigenvalue of the Lozi saddle
    assert d_late < d_land * lam_s ** 12 * 50 + 1e-9
    u = hit.frame.u[0]
    cross = (x0 - p)[0] * u[1] - (x0 - p)[1] * u[0]
    assert abs(cross) < 1e-12                      # x_0 − p is parallel to E^u


def test_a_non_primitive_cycle_itinerary_is_refused(lozi_claims):
    _, cert = lozi_claims[("1",)]
    bad = copy.deepcopy(cert.claim)
    bad["cycle"]["itinerary"] = bad["cycle"]["itinerary"] * 2
    assert "power of a shorter word" in verdict(bad)


def test_a_wrong_phase_is_refused(lozi_claims):
    _, cert = lozi_claims[("1", "0")]
    bad = copy.deepcopy(cert.claim)
    bad["arrival"]["index"] = 1 - bad["arrival"]["index"]
    assert "phase" in verdict(bad)


def test_a_singular_piece_is_refused():
    """A map with det J = 0 in a region the cycle visits is not a local diffeomorphism."""
    m = model_from_dict({"kind": "plrnn", "A": [["17/10", "1"], ["1/2", "0"]],
                         "W": [["-17/5", "0"], ["0", "0"]], "h": ["1", "0"]})
    res = find_cycle_homoclinic(m, ("1",), samples=200, max_steps=40)
    claim = certify_cycle_homoclinic(m, res.connection, "x").claim
    sing = model_from_dict({"kind": "plrnn", "A": [["17/10", "1"], ["0", "0"]],
                            "W": [["-17/5", "0"], ["0", "0"]], "h": ["1", "0"]})
    reason = verdict(claim, sing)
    assert reason is not None and "det J = 0" in reason


def _mutations(claim):
    """(description, mutated claim) pairs; each one breaks a hypothesis of the theorem."""
    out = []

    def mut(desc, fn):
        c = copy.deepcopy(claim)
        fn(c)
        out.append((desc, c))

    n = len(claim["point"])
    mut("radius x 40", lambda c: c["departure"].__setitem__("radius", str(Fraction(c["departure"]["radius"]) * 40)))
    mut("stable radii x 40", lambda c: c["arrival"].__setitem__("radii", [str(Fraction(r) * 40) for r in c["arrival"]["radii"]]))
    mut("stable radii / 1e6", lambda c: c["arrival"].__setitem__("radii", [str(Fraction(r) / 10**6) for r in c["arrival"]["radii"]]))
    mut("flip itinerary", lambda c: c["itinerary"].__setitem__(0, ("0" if c["itinerary"][0][0] == "1" else "1") + c["itinerary"][0][1:]))
    mut("drop last step", lambda c: c.__setitem__("itinerary", c["itinerary"][:-1]))
    mut("theorem", lambda c: c.__setitem__("theorem", "none"))
    mut("point shifted", lambda c: c.__setitem__("point", [[str(Fraction(lo) + 1), str(Fraction(hi) + 1)] for lo, hi in c["point"]]))
    mut("eigenvalue box moved", lambda c: c["departure"].__setitem__("value", [str(Fraction(v) + 1) for v in c["departure"]["value"]]))
    mut("left vector moved", lambda c: c["arrival"]["left_vector"].__setitem__(
        (c["arrival"]["normalized"] + 1) % n,
        [str(Fraction(v) + Fraction(1, 3)) for v in c["arrival"]["left_vector"][(c["arrival"]["normalized"] + 1) % n]]))
    mut("singular basis", lambda c: c["arrival"].__setitem__("basis", [["0"] * (n - 1) for _ in range(n - 1)]))
    mut("cycle flipped", lambda c: c["cycle"].__setitem__("itinerary", [("0" if s[0] == "1" else "1") + s[1:] for s in c["cycle"]["itinerary"]]))
    return out


def test_each_broken_hypothesis_is_refused(lozi_claims):
    for itin, (_, cert) in lozi_claims.items():
        for desc, bad in _mutations(cert.claim):
            assert verdict(bad) is not None, desc


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_tampering_is_never_accepted(lozi_claims, data):
    """Replace one rational anywhere in the claim by a different one: either the claim is
    refused or the change was harmless (an enclosure widened/narrowed around the truth) —
    and then re-checking the untouched claim still passes, so nothing false is accepted."""
    _, cert = lozi_claims[("1", "0")]
    claim = copy.deepcopy(cert.claim)
    slots = []

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k not in ("id", "type", "theorem", "info"):
                    walk(v, path + [k])
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, path + [i])
        elif isinstance(obj, str) and "/" in obj or isinstance(obj, str) and obj.lstrip("-").isdigit():
            slots.append(path)

    walk(claim, [])
    path = data.draw(st.sampled_from(slots))
    factor = data.draw(st.sampled_from([Fraction(-1), Fraction(3), Fraction(1, 7), Fraction(1000)]))
    obj = claim
    for key in path[:-1]:
        obj = obj[key]
    old = Fraction(obj[path[-1]])
    new = old * factor if old != 0 else Fraction(1, 3)
    obj[path[-1]] = str(new)
    reason = verdict(claim)
    if reason is None:
        # accepted: the statement must still be true; the exact homoclinic point (inside the
        # untouched claim's enclosure) must lie in the mutated enclosure, and the other data
        # still describe a homoclinic orbit of the same length
        for (lo, hi), (lo0, hi0) in zip(claim["point"], cert.claim["point"]):
            assert Fraction(lo) <= Fraction(hi0) and Fraction(lo0) <= Fraction(hi)
        assert claim["itinerary"] == cert.claim["itinerary"]


def test_stable_piece_contracts_and_fits_the_regions():
    fr = cycle_frame(LOZI, ("1", "0"))
    piece = stable_piece(fr, 0)
    assert not isinstance(piece, str)
    assert piece.contraction < 1 and piece.margin > 0


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alrnn_lorenz_m20_p2.pt"


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason=f"published checkpoint not found at {DATA}")
def test_published_lorenz_alrnn_has_a_certified_homoclinic_orbit_of_a_long_cycle():
    """The headline of issue 9: Smale–Birkhoff chaos of the authors' own M = 20 model."""
    from graph.homoclinic import recurrent_cycles

    m = load_model(DATA)
    Z = m.trajectory(np.full(m.n, 0.1), 12000)[4000:]
    cycles = [c for c in recurrent_cycles(m, Z, min_period=50, max_period=400, max_seeds=25)
              if c.unstable_dim == 1]
    assert cycles, "no saddle cycle with a 1-D unstable manifold found"
    res = find_cycle_homoclinic(m, cycles[0].itinerary, cycles[0].points, samples=3000, max_steps=3000, near=0.03)
    assert res.status == "found", res.message
    cert = certify_cycle_homoclinic(m, res.connection, "published")
    assert cert.status == "certified", cert.message
    assert check_certificate(new_certificate(m, [cert.claim])).ok
    # a fresh checker process re-verifies the file (numbers of ~10^4 digits must parse)
    import json, subprocess, sys, tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cert.json"
        path.write_text(json.dumps(new_certificate(m, [cert.claim])))
        proc = subprocess.run([sys.executable, "-m", "verify.cli", "check", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # independent float look: the orbit of the box centre ends within 1e-2 of the cycle
    x0 = np.array([float((Fraction(lo) + Fraction(hi)) / 2) for lo, hi in cert.claim["point"]])
    end = m.trajectory(x0, res.connection.length)[-1]
    assert np.abs(cycles[0].points - end).max(axis=1).min() < 1e-2
