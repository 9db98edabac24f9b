"""Homoclinic / heteroclinic search and certification (issue 4 acceptance, DESIGN §8).

Known answers are mathematics: the Lozi saddle (5/11, 5/22) and the border-collision saddle
(5/17, -2/17) (REFERENCE.md), the tent map's exact snap-back orbit 7/12 -> 5/6 -> 1/3 -> 2/3
(in x = u + 1/2), the elliptic Gingerbreadman fixed point, and two hand-built maps whose
saddle manifolds meet at a kink (homoclinic corner) or overlap (tangency), derived by hand in
the comments below.
"""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graph.homoclinic import (
    extend_connection, expanding_ball, find_connections, find_snapbacks, local_piece,
)
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict, model_to_dict
from symbolic.orbits import find_orbits
from verify.checker import check_certificate
from verify.checkmodel import CheckedMap
from verify.chaos import certify_connection, certify_search
from verify.cli import main

# (x, y) -> (2x, y/2) for x < 1; beyond the kink x = 1 the x-axis ray folds back:
# f(x, 0) = (4 - 2x, (x - 1)/4). The kink point (1, 0) -> (2, 0) -> (0, 1/4) -> ... -> (0, 0):
# W^u(0) has a corner at (2, 0) that touches W^s(0) = {x = 2} ∪ y-axis without crossing.
CORNER = {"kind": "relu-affine", "name": "corner", "A": [[2, 0], [0, "1/2"]], "B": [[-4], ["1/4"]],
          "C": [[1, 0]], "d": [-1], "e": [0, 0]}
# same start; 1 < x < 3/2 maps onto the vertical line x = 2, x > 3/2 maps (2, y) to (0, y/2):
# the x-axis segment (1, 3/2) lands ON the stable manifold (y-axis): overlap, rank-1 system.
TANGENCY = {"kind": "relu-affine", "name": "tangency", "A": [[2, 0], [0, "1/2"]], "B": [[-2, -4], [1, -2]],
            "C": [[1, 0], [1, 0]], "d": [-1, "-3/2"], "e": [0, 0]}


def _model(name):
    return load_model(example_path(name))


def _orbit_at(search, point):
    pt = tuple(F(v) for v in point)
    return next(o for o in search.orbits.orbits if o.points[0] == pt)


@pytest.fixture(scope="module")
def lozi():
    m = _model("lozi")
    res = find_connections(m, max_length=7)
    return m, res, certify_search(m, res, max_claims=8)


@pytest.fixture(scope="module")
def bcnf():
    m = _model("border_collision")
    res = find_connections(m, max_length=6)
    return m, res, certify_search(m, res, max_claims=6)


# ----------------------------------------------------------------------------- acceptance: positive

def test_lozi_transversal_homoclinic_orbit_of_saddle_5_11_is_certified(lozi):
    m, res, cc = lozi
    saddle = _orbit_at(res, ("5/11", "5/22"))
    assert saddle.type == "saddle"
    homs = [r for r in cc.records if r["kind"] == "homoclinic" and r["from"] == saddle.id]
    assert homs and any(r["certified"] for r in homs)
    r = next(r for r in homs if r["certified"])
    assert r["theorem"] == "smale-birkhoff" and r["transversal"] is True
    assert "Smale-Birkhoff" in r["conclusion"] and "entropy" in r["conclusion"]
    claim = next(c for c in cc.certificate["claims"] if c["id"] == r["claim"])
    assert claim["orbit"]["points"] == [["5/11", "5/22"]]
    report = check_certificate(cc.certificate)
    assert report.ok, report.message()


def test_lozi_certificate_accepted_by_check_command(lozi, tmp_path, capsys):
    _, _, cc = lozi
    path = tmp_path / "lozi.json"
    path.write_text(json.dumps(cc.certificate))
    assert main(["check", str(path)]) == 0
    assert "verified" in capsys.readouterr().out


def test_border_collision_homoclinic_orbit_of_saddle_5_17_is_certified(bcnf):
    m, res, cc = bcnf
    saddle = _orbit_at(res, ("5/17", "-2/17"))
    assert saddle.type == "saddle"
    ok = [r for r in cc.records if r["kind"] == "homoclinic" and r["from"] == saddle.id and r["certified"]]
    assert ok and ok[0]["theorem"] == "smale-birkhoff"
    assert check_certificate(cc.certificate).ok


def test_tent_snap_back_orbit_onto_interior_fixed_point_is_exact_and_certified():
    m = _model("tent")
    res = find_connections(m, max_length=6)
    cc = certify_search(m, res)
    snaps = [r for r in cc.records if r["kind"] == "snap-back"]
    assert len(snaps) == 1 and snaps[0]["certified"] and snaps[0]["theorem"] == "marotto-2005"
    # x = u + 1/2: 7/12 -> 5/6 -> 1/3 -> 2/3, the shortest snap-back orbit (REFERENCE.md)
    xs = [F(p[0]) + F(1, 2) for p in snaps[0]["orbit_points"]]
    assert xs == [F(7, 12), F(5, 6), F(1, 3), F(2, 3)]
    claim = next(c for c in cc.certificate["claims"] if c["type"] == "snap-back-repeller")
    # every number in the claim is an exact rational (no interval anywhere)
    assert all("/" in v or v.lstrip("-").isdigit() for p in claim["orbit"] for v in p)
    assert check_certificate(cc.certificate).ok


def test_tent_fixed_point_zero_refused_every_snap_back_orbit_runs_through_the_kink():
    m = _model("tent")
    orbits = find_orbits(m, 1)
    zero = _orbit_at(type("S", (), {"orbits": orbits})(), ("-1/2",))
    out = find_snapbacks(m, zero)
    assert not isinstance(out, list)
    assert "boundary" in out.reason and "hyperplane" in out.reason


def test_heteroclinic_connections_certified_between_distinct_saddles(lozi):
    _, _, cc = lozi
    het = [r for r in cc.records if r["kind"] == "heteroclinic" and r["certified"]]
    assert het and all(r["from"] != r["to"] for r in het) and het[0]["theorem"] == "none"


# ----------------------------------------------------------------------------- acceptance: negative

def test_gingerbreadman_elliptic_fixed_point_refused_with_reason(capsys):
    m = _model("gingerbreadman")
    res = find_connections(m, max_length=6)
    cc = certify_search(m, res)
    assert not any(r["certified"] for r in cc.records)
    reasons = " ".join(r["reason"] for r in cc.refusals)
    assert "non-hyperbolic" in reasons and "unit circle" in reasons
    assert main(["homoclinic", "gingerbreadman", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "refused" in out and "non-hyperbolic" in out and "CERTIFIED" not in out


def test_hand_built_homoclinic_corner_is_reported_and_never_certified():
    m = model_from_dict(CORNER)
    res = find_connections(m, max_length=5)
    origin = _orbit_at(res, ("0", "0"))
    corners = [c for c in res.connections if c.source == origin.id and c.target == origin.id]
    assert corners and all(c.status == "corner" for c in corners)
    cc = certify_search(m, res)
    recs = [r for r in cc.records if r["from"] == origin.id and r["to"] == origin.id]
    assert recs and not any(r["certified"] for r in recs)
    first = min(recs, key=lambda r: r["length"])
    # the kink point (1, 0) is on the orbit: exactly on the hyperplane x = 1
    assert "corner" in first["reason"] and "x_1 = (1, 0)" in first["reason"]
    assert first["transversal"] is False


def test_hand_built_tangency_is_reported_as_non_transversal():
    m = model_from_dict(TANGENCY)
    res = find_connections(m, max_length=5)
    origin = _orbit_at(res, ("0", "0"))
    tang = [c for c in res.connections if c.source == origin.id and c.status == "tangency"]
    assert tang
    cc = certify_search(m, res)
    recs = [r for r in cc.records if r.get("status") == "tangency"]
    assert recs and not any(r["certified"] for r in recs)
    assert all("tangency" in r["reason"] and "rank 1 < n = 2" in r["reason"] for r in recs)


def test_cli_homoclinic_json_and_certificate_round_trip(tmp_path, capsys):
    path = tmp_path / "bc.json"
    assert main(["homoclinic", "border_collision", "--max-length", "5", "--json", "--quiet",
                 "--certificate", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["intersections"]
    rec = next(r for r in doc["intersections"] if r["certified"])
    for key in ("kind", "from", "to", "itinerary", "point", "transversal", "certified", "theorem"):
        assert key in rec
    assert main(["check", str(path)]) == 0


def test_cli_bad_input_exit_code_2(capsys):
    assert main(["homoclinic", "no-such-model"]) == 2
    assert main(["homoclinic", "lozi", "--max-length", "0"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- properties

def test_candidate_orbit_points_follow_the_map_and_land_near_the_arrival(lozi):
    m, res, _ = lozi
    for c in res.connections:
        assert np.allclose(m.f(c.points[:-1]), c.points[1:], atol=1e-9)
        q = np.array([float(v) for v in res.orbits.by_id(c.target).points[c.target_index]])
        pc = local_piece(m, res.orbits.by_id(c.target), c.target_index, "stable")
        assert np.allclose(c.points[-1], q + pc.basis @ c.b, atol=1e-9)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 12), st.integers(0, 12))
def test_extended_itinerary_of_the_same_orbit_still_certifies(lozi_base, before, after):
    m, res, base = lozi_base
    c = extend_connection(m, base, res.orbits, before, after)
    assert c.length == base.length + before + after
    claim, why = certify_connection(m, c, res.orbits, CheckedMap(model_to_dict(m)), "h")
    assert why is None and claim is not None


@pytest.fixture(scope="module")
def lozi_base():
    m = _model("lozi")
    res = find_connections(m, max_length=5)
    return m, res, next(c for c in res.connections if c.kind == "homoclinic" and c.status == "candidate")


def test_expanding_ball_tent_is_inside_the_region_and_expanding():
    m = _model("tent")
    Q, r = expanding_ball(m, (F(1, 6),))
    assert Q == [[F(1)]] and F(0) < r < F(1, 6)          # the kink u = 0 is at distance 1/6


def test_expanding_ball_uses_an_adapted_norm_when_sigma_min_below_one():
    # J = [[2, 3], [0, 2]]: eigenvalues 2, 2 (expanding) but sigma_min < 1: the Euclidean
    # norm is not expanding (Marotto's original gap); a Stein-equation norm is.
    m = model_from_dict({"kind": "relu-affine", "A": [[2, 3], [0, 2]], "B": [[1], [0]], "C": [[1, 0]],
                         "d": [-100], "e": [0, 0]})
    J = m.jacobian("0")
    assert np.linalg.svd(np.array([[2.0, 3.0], [0.0, 2.0]]), compute_uv=False)[-1] < 1
    Q, r = expanding_ball(m, (F(0), F(0)), J)
    assert Q != [[1, 0], [0, 1]] and r > 0


def test_search_is_deterministic(lozi):
    m, res, _ = lozi
    again = find_connections(m, max_length=7)
    assert [(c.source, c.target, c.itinerary) for c in again.connections] == \
           [(c.source, c.target, c.itinerary) for c in res.connections]


def test_module_cli_subprocess_check_exit_codes(tmp_path):
    path = tmp_path / "lozi.json"
    run = [sys.executable, "-m", "verify.cli"]
    assert subprocess.run(run + ["homoclinic", "lozi", "--quiet", "--max-length", "5", "--certificate", str(path)],
                          capture_output=True).returncode == 0
    cert = json.loads(path.read_text())
    cert["claims"][0]["itinerary"][0] = "0" if cert["claims"][0]["itinerary"][0] == "1" else "1"
    path.write_text(json.dumps(cert))
    assert subprocess.run(run + ["check", str(path)], capture_output=True).returncode == 1


# ----------------------------------------------------------------------------- more structure

def test_complex_stable_pair_and_period_two_orbits_are_certified():
    # Lozi (x, y) drives a contracting rotation w' = R w + (x/4, 0), R = [[3/10, -2/5], [2/5, 3/10]]
    # (eigenvalues (3 ± 4i)/10): the saddle's stable space has a complex pair.
    md = {"kind": "plrnn", "A": [["17/10", 1, 0, 0], ["1/2", 0, 0, 0], ["1/4", 0, "3/10", "-2/5"], [0, 0, "2/5", "3/10"]],
          "W": [["-17/5", 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "h": [1, 0, 0, 0]}
    m = model_from_dict(md)
    cc = certify_search(m, find_connections(m, max_length=5, heteroclinic=False), max_claims=2)
    claim = next(c for c in cc.certificate["claims"] if c["type"] == "transversal-homoclinic-orbit")
    assert any(isinstance(e["value"][0], list) for e in claim["arrival"]["eigenpairs"])     # the complex pair
    assert check_certificate(cc.certificate).ok
    # Lozi's period-2 saddle: homoclinic orbits of a 2-cycle (phase i + N = j mod 2)
    lz = _model("lozi")
    res = find_connections(lz, max_length=6, max_period=2, heteroclinic=False)
    p2 = [c for c in res.connections if c.source.startswith("P2")]
    assert p2 and all((c.source_index + c.length - c.target_index) % 2 == 0 for c in p2)
    cc2 = certify_search(lz, res, max_claims=20)
    assert any(r["certified"] and r["from"].startswith("P2") for r in cc2.records)


@st.composite
def border_collision_params(draw):
    q = st.fractions(-3, 3, max_denominator=10)
    return draw(q), draw(st.fractions(F(1, 10), 1, max_denominator=10)), draw(q), draw(st.fractions(F(1, 10), 1, max_denominator=10))


@settings(max_examples=15, deadline=None)
@given(border_collision_params())
def test_certified_border_collision_orbits_replay_in_floats(params):
    """Every certified connecting orbit of a random border-collision normal form, iterated in
    floats from the midpoint of its x_0 enclosure, lands in the arrival's local piece."""
    tl, dl, tr, dr = params
    s = lambda v: f"{v.numerator}/{v.denominator}"
    m = model_from_dict({"kind": "plrnn", "A": [[s(tl), 1], [s(-dl), 0]], "W": [[s(tr - tl), 0], [s(dl - dr), 0]],
                         "h": [1, 0]})
    res = find_connections(m, max_length=5, max_nodes=400)
    cc = certify_search(m, res, max_claims=3)
    assert check_certificate(cc.certificate).ok == all(
        r["certified"] for r in cc.records if r.get("claim") and not r.get("point_is_float"))
    by_id = {c["id"]: c for c in cc.certificate["claims"]}
    for r in cc.records:
        if not r["certified"] or r["kind"] not in ("homoclinic", "heteroclinic"):
            continue
        claim = by_id[r["claim"]]
        x = np.array([float((F(lo) + F(hi)) / 2) for lo, hi in claim["point"]])
        for _ in claim["itinerary"]:
            x = m.f(x)
        tgt = claim.get("target", claim.get("orbit"))
        q = np.array([float(F(v)) for v in tgt["points"][claim["arrival"]["index"]]])
        reach = float(F(claim["arrival"]["radius"])) * 4 * (1 + len(claim["arrival"]["eigenpairs"]))
        assert np.abs(x - q).max() <= reach + 1e-6


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_pipeline_never_crashes_on_random_degenerate_models(data):
    from tests.strategies import model_dicts

    md = data.draw(model_dicts(max_n=3, max_L=3))
    try:
        m = model_from_dict(md)
    except Exception:          # invalid random model: the model loader's business, not ours
        return
    res = find_connections(m, max_length=3, max_nodes=200)
    cc = certify_search(m, res, max_claims=2, max_prec=512)
    rep = check_certificate(cc.certificate)
    accepted = rep.accepted()
    for r in cc.records:
        if r.get("claim"):
            assert r["certified"] == (r["claim"] in accepted)


def test_transition_graph_restricts_the_itineraries():
    import networkx as nx

    m = _model("lozi")
    G = nx.DiGraph([("0", "1"), ("1", "0"), ("1", "1")])          # forbid 0 -> 0
    res = find_connections(m, max_length=6, transition_graph=G)
    assert res.connections
    assert all(("0", "0") not in zip(c.itinerary, c.itinerary[1:]) for c in res.connections)
    full = find_connections(m, max_length=6)
    assert {c.itinerary for c in res.connections} <= {c.itinerary for c in full.connections}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_snapbacks_from_the_fast_cells_equal_those_from_the_lp_walk(data):
    # the preimage search takes its cells from the region-adjacency walk; enumerate_regions'
    # LP walk is the reference: same cells up to thin (empty-interior) patterns, same answers
    from graph.homoclinic import _preimage_cells
    from symbolic.regions import enumerate_regions
    from tests.strategies import model_dicts

    md = data.draw(model_dicts(max_n=2, max_L=4, kinds=("relu-affine",)))
    n = len(md["e"])
    extra = data.draw(st.integers(0, 4))                # more hyperplanes than dimensions: L > n
    small = st.integers(-3, 3).map(str)
    md["C"] = md["C"] + [[data.draw(small) for _ in range(n)] for _ in range(extra)]
    md["d"] = md["d"] + [data.draw(small) for _ in range(extra)]
    md["B"] = [row + [data.draw(small) for _ in range(extra)] for row in md["B"]]
    scale = data.draw(st.sampled_from([1, 3, 3]))       # 3: expanding A, so repelling fixed points occur
    md["A"] = [[str(F(v) * scale) for v in row] for row in md["A"]]
    m = model_from_dict(md)
    cs = enumerate_regions(m)
    cells = _preimage_cells(m)
    proven = set(cs.witnesses) if cs.method == "walk" else set(cs.regions)
    assert cells == sorted(cells) and proven <= set(cells) <= set(cs.regions)
    for o in find_orbits(m, 1).orbits:
        if o.type == "repeller":
            assert repr(find_snapbacks(m, o, max_length=4)) == repr(find_snapbacks(m, o, max_length=4, regions=cs.regions))


def test_snapback_cells_of_a_shplrnn_with_many_hyperplanes_are_the_arrangements_cells():
    # 20 planes in general position in R^3 cut it into 1 + 20 + 190 + 1140 = 1351 cells
    # (Zaslavsky / Buck); the fast walk finds exactly those, enumerate_regions' walk agrees
    from graph.homoclinic import _preimage_cells

    m = _model("lorenz63")
    cells = _preimage_cells(m)
    assert len(cells) == 1 + 20 + 190 + 1140
