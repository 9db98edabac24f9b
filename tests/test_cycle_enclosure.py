"""Cycles certified by itinerary and Arb enclosure (``periodic-orbit-enclosure``).

Two independent routes must agree: an orbit the exact search certifies with exact rational
points (``periodic-orbit``) is also accepted as an enclosure claim built from its float points,
with the same stable / unstable split; tampering is refused.
"""
from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict
from symbolic.orbits import find_orbits
from tests.strategies import model_dicts
from verify.certificate import new_certificate
from verify.checker import check_certificate
from verify.longchaos import cycle_enclosure_claim

LOZI = load_model(example_path("lozi"))


def verdict(model, claim):
    rep = check_certificate(new_certificate(model, [claim]))
    return None if rep.ok else rep.first_failure.reason


@settings(max_examples=60, deadline=None)
@given(md=model_dicts(max_n=3, max_L=3), K=st.integers(1, 3))
def test_enclosure_claims_agree_with_exact_orbits(md, K):
    m = model_from_dict(md)
    for o in find_orbits(m, K).orbits:
        if o.type in ("boundary", "continuum") or o.stability is None or not o.stability.is_hyperbolic:
            continue
        pts = np.array([[float(v) for v in p] for p in o.points])
        claim, why = cycle_enclosure_claim(m, o.regions, pts, "c")
        if claim is None:
            # the checker's own balls are tight, so the only admissible refusal is a float
            # point box (1e-7 relative) that missed the exact z_0 (ill-conditioned I − DF^k)
            assert "not inside the claimed enclosure" in why, why
            continue
        assert (claim["stable_dim"], claim["unstable_dim"]) == (o.stable_dim, o.unstable_dim)
        assert verdict(m, claim) is None


def test_lozi_cycles_as_enclosures_and_tampering():
    res = find_orbits(LOZI, 6)
    for o in res.orbits:
        pts = np.array([[float(v) for v in p] for p in o.points])
        claim, why = cycle_enclosure_claim(LOZI, o.regions, pts, o.id)
        assert why is None and verdict(LOZI, claim) is None, (o.id, why)
        # the exact point lies in the enclosure
        for v, (lo, hi) in zip(o.points[0], claim["point"]):
            assert Fraction(lo) <= v <= Fraction(hi)
    o = res.by_id("P2-1")
    pts = np.array([[float(v) for v in p] for p in o.points])
    claim, _ = cycle_enclosure_claim(LOZI, o.regions, pts, "P2")
    bad = []
    c = copy.deepcopy(claim); c["stable_dim"], c["unstable_dim"] = 2, 0; bad.append(c)
    c = copy.deepcopy(claim); c["itinerary"] = c["itinerary"] * 2; bad.append(c)
    c = copy.deepcopy(claim); c["point"] = [[str(Fraction(lo) + 1), str(Fraction(hi) + 1)] for lo, hi in c["point"]]; bad.append(c)
    c = copy.deepcopy(claim); c["itinerary"] = c["itinerary"][::-1][:1] + c["itinerary"][:1]; bad.append(c)
    for c in bad:
        assert verdict(LOZI, c) is not None


def test_a_cycle_through_a_kink_is_refused():
    """f(x) = 2x − 4 relu(x): the fixed point of the piece x > 0 (f = −2x) is x = 0, exactly
    on the kink: never certified strictly inside a region."""
    m = model_from_dict({"kind": "plrnn", "A": ["2"], "W": [["-4"]], "h": ["0"]})
    claim, why = cycle_enclosure_claim(m, ("1",), np.array([[0.5]]), "x")
    assert claim is None and why
