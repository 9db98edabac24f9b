"""Basins, boundaries, measures and certified labels (DESIGN §7): the bistable example's known
answers, a hand-built tristable shPLRNN, random bistable models (Hypothesis), agreement and
distance known answers, slices of higher-dimensional models, label-claim tampering, the CLI."""
from __future__ import annotations

import copy
import json
import math
import os
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.attractors import find_attractors
from graph.basins import (
    BasinMap, Boundary, BoundaryPiece, Slice, agreement, basin_map, compute_basins, exact_distance2,
    make_slice, slice_segment,
)
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict
from symbolic.pieces import make_piece, segment
from verify.basincert import certify_basins, side_claims
from verify.certificate import new_certificate
from verify.checker import check_certificate
from verify.cli import main

BISTABLE = load_model(example_path("bistable"))

# three attractors (-3, 1), (0, 1), (3, 1); saddles (±3/4, 1). z1' = g(z1) + relu(z2 − 2) with the
# odd tristable map g (slopes 1/2, 2, 1/2, 2, 1/2), z2' = z2/2 + 1/2: the saddles' stable
# manifolds are the lines z1 = ±3/4 below z2 = 2 and bend above it.
TRISTABLE = {"kind": "shplrnn", "name": "tristable", "A": ["1/2", "1/2"],
             "W1": [["3/2", "-3/2", "3/2", "-3/2", 1], [0, 0, 0, 0, 0]],
             "W2": [[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]],
             "h1": ["-3/2", "1/2"], "h2": ["3/2", "1/2", "-1/2", "-3/2", -2]}


# ----------------------------------------------------------------------------- bistable (acceptance)

@pytest.fixture(scope="module")
def bistable_result():
    res = compute_basins(BISTABLE, resolution=64)
    cert = certify_basins(res)
    return res, cert


def test_bistable_two_certified_attractors(bistable_result):
    res, cert = bistable_result
    assert cert.report.ok, cert.report.message()
    assert cert.certified_attractors == {"P1-1", "P1-2"}
    assert {a.id: a.points[0] for a in res.attractors.attractors} == {"P1-1": (-2, 2), "P1-2": (2, -2)}


def test_bistable_boundary_is_the_diagonal(bistable_result):
    res, _ = bistable_result
    (b,) = res.boundaries
    assert b.saddle.points == ((F(2, 3), F(2, 3)),) and b.exact
    assert set(b.separates) == {"P1-1", "P1-2"}
    lo, hi = res.box
    covered = []
    for bp in b.pieces:
        P = bp.piece
        o = [F(int(v.p), int(v.q)) for v in P.origin.entries()]
        u = [F(int(v.p), int(v.q)) for v in P.basis.entries()]
        assert o[0] == o[1] and u[0] == u[1]             # exactly on the diagonal z1 = z2
        assert set(bp.sides) == {"P1-1", "P1-2"}
        from symbolic.pieces import vertices_exact
        V = vertices_exact(P)
        covered.append(sorted(v[0] for v in V))
    covered.sort()
    # the pieces tile the diagonal inside the tracing box (no gaps)
    assert covered[0][0] == lo[0] and covered[-1][1] == hi[0]
    reach = covered[0][1]
    for a, c in covered[1:]:
        assert a <= reach
        reach = max(reach, c)
    assert reach == hi[0]


def test_bistable_certified_labels_match_the_side_of_the_diagonal(bistable_result):
    res, cert = bistable_result
    X = res.map.slice.points(res.map.resolution)
    names = res.map.names
    mask = cert.certified_mask
    assert mask.sum() > 0.95 * mask.size
    above = X[..., 1] > X[..., 0]
    lab = np.vectorize(lambda i: names[i] if i >= 0 else "")(res.map.labels)
    assert np.all(lab[mask & above] == "P1-1") and np.all(lab[mask & ~above] == "P1-2")
    on_diag = X[..., 1] == X[..., 0]
    assert not (mask & on_diag).any()               # points on the boundary are never certified


def test_bistable_distances_are_equal_and_exactly_two_sqrt_two(bistable_result):
    res, _ = bistable_result
    d = {r["attractor"]: r for r in res.distances}
    assert set(d) == {"P1-1", "P1-2"}
    h = float(res.map.slice.hi[0] - res.map.slice.lo[0]) / res.map.resolution
    for r in d.values():
        assert r["exact"] and F(r["distance2"]) == 8 and r["distance_exact"] == "2*sqrt(2)"
        assert math.isclose(r["distance"], 2 * math.sqrt(2)) and not r["upper_bound"]
        assert 2 * math.sqrt(2) - h <= r["sampled_distance"] <= 2 * math.sqrt(2) + h


def test_bistable_fractions_are_symmetric(bistable_result):
    res, _ = bistable_result
    fr = res.fractions
    assert fr["P1-1"]["points"] == fr["P1-2"]["points"]
    assert fr["P1-1"]["certified_fraction"] == fr["P1-2"]["certified_fraction"] > 0.45


def test_agreement_is_total_when_the_diagonal_avoids_the_grid():
    # s window shifted by a third of a cell: no grid point lies on the diagonal
    res = compute_basins(BISTABLE, resolution=60, window=(F(-5), F(5), F(-5) + F(1, 18), F(5) + F(1, 18)))
    a = res.agreement
    assert a["cells"] == 1.0 and a["boundary_edges"] == 1.0 and a["on_boundary"] == 0
    assert a["label_change_without_crossing"] == 0 and a["crossing_without_label_change"] == 0


# ----------------------------------------------------------------------------- tristable shPLRNN

@pytest.mark.slow
def test_tristable_shplrnn_has_three_basins_separated_by_the_saddles_stable_manifolds():
    m = model_from_dict(TRISTABLE)
    res = compute_basins(m, resolution=400, window=(-5, 5, -3, 7))
    atts = {a.id: a.points[0] for a in res.attractors.attractors}
    assert sorted(atts.values()) == [(-3, 1), (0, 1), (3, 1)]
    assert set(res.fractions) >= set(atts)
    assert all(res.fractions[a]["fraction"] > 0.05 for a in atts)
    seps = sorted(tuple(sorted(b.separates)) for b in res.boundaries)
    by_pt = {v: k for k, v in atts.items()}
    left, mid, right = by_pt[(-3, 1)], by_pt[(0, 1)], by_pt[(3, 1)]
    assert seps == sorted([tuple(sorted((left, mid))), tuple(sorted((mid, right)))])
    assert res.agreement["cells"] >= 0.99 and res.agreement["boundary_edges"] >= 0.99
    d = {r["attractor"]: r for r in res.distances}
    assert F(d[mid]["distance2"]) == F(9, 16) and F(d[left]["distance2"]) == F(81, 16) == F(d[right]["distance2"])


# ----------------------------------------------------------------------------- random bistable models

@st.composite
def bistable_models(draw):
    """Mutual inhibition z1' = a z1 − w1 relu(z2) + h1, z2' = a z2 − w2 relu(z1) + h2 with
    w1 = q t, w2 = q / t: the saddle's eigenvalues a ± q are rational, so its stable manifold
    is traced exactly. With 1 − a < q < 1 + a (one eigenvalue > 1, the other in (−1, 1)) and
    h1 (1 − a) / (q h2) < t < q h1 / ((1 − a) h2), the fixed points in the quadrants 10 and 01
    exist (both stable, J triangular with double eigenvalue a: a Jordan block) and the one in
    11 is a saddle."""
    a = F(draw(st.integers(1, 7)), 8)
    h1, h2 = (F(draw(st.integers(1, 8)), 4) for _ in range(2))
    q = (1 - a) + F(draw(st.integers(2, 15)), 16) * 2 * a
    lo, hi = h1 * (1 - a) / (q * h2), q * h1 / ((1 - a) * h2)
    t = lo + (hi - lo) * F(draw(st.integers(1, 7)), 8)
    w1, w2 = q * t, q / t
    return {"kind": "plrnn", "A": [str(a), str(a)], "W": [[0, str(-w1)], [str(-w2), 0]], "h": [str(h1), str(h2)]}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bistable_models())
def test_points_just_off_a_certified_boundary_piece_go_to_the_two_attractors_it_separates(d):
    m = model_from_dict(d)
    att = find_attractors(m, numerical=False)
    assert len(att.attractors) == 2 and all(a.traps for a in att.attractors)
    assert [s.unstable_dim for s in att.saddles] == [1]
    res = compute_basins(m, resolution=8, attractors=att, depth=8, budget=80, max_steps=3000)
    (b,) = res.boundaries
    assert b.exact and set(b.separates) == {a.id for a in att.attractors}
    claims, where = side_claims(res)
    rep = check_certificate(new_certificate(m, _trap_claims(att) + claims))
    ok = rep.accepted()
    sides = {}
    for c in claims:
        if c["id"] in ok:
            sides.setdefault(where[c["id"]][:2], {})[where[c["id"]][2]] = c["attractor"]
    both = [s for s in sides.values() if len(s) == 2]
    assert both, "no piece with both sides certified"
    for s in both:
        assert {s[0], s[1]} == set(b.separates)


def _trap_claims(att):
    from verify.basincert import trap_claims

    return trap_claims(att)


# ----------------------------------------------------------------------------- measures: known answers

def _toy_map(labels, lo=(0, 0), hi=(4, 4)):
    rows, cols = labels.shape
    sl = Slice((F(0), F(0)), (F(1), F(0)), (F(0), F(1)), tuple(map(F, lo)), tuple(map(F, hi)), (0, 1), "z1, z2")
    z = np.zeros_like(labels)
    return BasinMap(sl, cols, labels, z, z, ["A", "B"], 1, 0.0)


def _boundary(*segs):
    pieces = [BoundaryPiece(None, np.zeros(2), np.zeros(2), np.array(s, float), ("A", "B")) for s in segs]
    from types import SimpleNamespace

    return Boundary(SimpleNamespace(id="S"), None, pieces, ("A", "B"), True, 0.0)


def test_agreement_known_answers():
    lab = np.zeros((4, 4), dtype=int)
    lab[:, 2:] = 1                                   # columns at s = 0.5, 1.5 | 2.5, 3.5
    bm = _toy_map(lab)
    assert agreement(bm, [_boundary([[2.0, -1.0], [2.0, 5.0]])])["cells"] == 1.0
    # a boundary in the wrong column: 4 edges change without crossing, 4 cross without change
    a = agreement(bm, [_boundary([[1.0, -1.0], [1.0, 5.0]])])
    assert a["label_change_without_crossing"] == 4 and a["crossing_without_label_change"] == 4
    assert a["cells"] == 0.25 and a["boundary_edges"] == 0.0          # only column 3 is untouched
    # two pieces meeting at a vertex on a grid row count once; a V touching a row counts zero times
    a = agreement(bm, [_boundary([[2.0, -1.0], [2.0, 1.5]], [[2.0, 1.5], [2.0, 5.0]])])
    assert a["cells"] == 1.0
    a = agreement(bm, [_boundary([[2.0, -1.0], [2.0, 5.0]], [[0.2, 0.0], [0.7, 0.5]], [[0.7, 0.5], [1.2, 0.0]])])
    assert a["cells"] == 1.0


def test_exact_distance_known_answers():
    P = segment((F(0), F(0)), (F(4), F(0)))
    assert exact_distance2(P, (F(1), F(3)))[:2] == (F(9), (F(1), F(0)))           # interior projection
    assert exact_distance2(P, (F(6), F(1)))[:2] == (F(5), (F(4), F(0)))           # endpoint
    # a triangle in the plane z3 = 1 of R^3, point above its interior and beside an edge
    tri = make_piece([0, 0, 1], [[1, 0], [0, 1], [0, 0]], [[-1, 0], [0, -1], [1, 1]], [0, 0, 1])
    assert exact_distance2(tri, (F(1, 4), F(1, 4), F(3)))[0] == 4
    d2, y, _ = exact_distance2(tri, (F(1), F(1), F(1)))
    assert d2 == F(1, 2) and y == (F(1, 2), F(1, 2), F(1))


# ----------------------------------------------------------------------------- other dimensions

BISTABLE_3D = {"kind": "plrnn", "A": ["1/2", "1/2", "1/2"], "W": [[0, -1, 0], [-1, 0, 0], [0, 0, 0]], "h": [1, 1, 0]}


def test_three_dimensional_slice_recovers_the_diagonal():
    m = model_from_dict(BISTABLE_3D)
    res = compute_basins(m, resolution=40, dims=(0, 1), at=(0, 0, F(1, 3)),
                         window=(F(-4), F(4), F(-4) + F(1, 10), F(4) + F(1, 10)), depth=8, budget=200)
    assert sorted(a.points[0] for a in res.attractors.attractors) == [(-2, 2, 0), (2, -2, 0)]
    (b,) = res.boundaries
    segs = [bp.segment for bp in b.pieces if bp.segment is not None]
    assert segs and all(abs(s[0][0] - s[0][1]) < 1e-9 and abs(s[1][0] - s[1][1]) < 1e-9 for s in segs)
    assert res.agreement["cells"] == 1.0
    d = {r["attractor"]: r for r in res.distances}
    assert all(F(r["distance2"]) == 8 for r in d.values())


def test_plane_slice_through_attractors_and_saddle():
    m = model_from_dict(BISTABLE_3D)
    att = find_attractors(m, numerical=False)
    sl = make_slice(m, att, plane=True)
    assert sl.dims is None and "plane through" in sl.label
    X, off = sl.project(np.array([[2.0, -2.0, 0.0], [-2.0, 2.0, 0.0], [2 / 3, 2 / 3, 0.0]]))
    assert np.all(off < 1e-9)


def test_one_dimensional_model_gets_a_segment_map():
    m = model_from_dict({"kind": "plrnn", "A": [["1/4"]], "W": [["-13/4"]], "h": [1]})   # stable 2-cycle
    att = find_attractors(m)
    sl = make_slice(m, att)
    bm = basin_map(m, att, sl, resolution=50)
    assert bm.labels.shape == (1, 50)
    assert (bm.labels == 0).sum() > 40


def test_slice_segment_clips_to_the_window():
    sl = Slice((F(0), F(0)), (F(1), F(0)), (F(0), F(1)), (F(-1), F(-1)), (F(1), F(1)), (0, 1))
    P = segment((F(-3), F(-3)), (F(3), F(3)))
    assert np.allclose(slice_segment(P, sl), [[-1, -1], [1, 1]]) or np.allclose(slice_segment(P, sl), [[1, 1], [-1, -1]])


# ----------------------------------------------------------------------------- label claims

def test_tampered_label_claims_are_rejected(bistable_result):
    res, cert = bistable_result
    claims = cert.certificate["claims"]
    lab = next(c for c in claims if c["type"] == "basin-labels" and c["id"].startswith("labels:"))
    base = [c for c in claims if c["type"] == "trapping-polytope"]

    def check(c):
        return check_certificate(new_certificate(BISTABLE, base + [c])).ok

    assert check(lab)
    bad = copy.deepcopy(lab)
    bad["trap"] = next(c["id"] for c in base if c["id"] != lab["trap"])          # the other attractor
    assert not check(bad)
    bad = copy.deepcopy(lab)
    e = max(bad["entries"], key=lambda e: e[4])
    bad["entries"] = [[*e[:4], 0]] if e[4] > 0 else bad["entries"]              # too few steps
    assert e[4] == 0 or not check(bad)
    bad = copy.deepcopy(lab)
    n = res.map.resolution
    bad["entries"] = [[0, 0, n - 1, n - 1, 200]]                                 # the whole grid
    assert not check(bad)
    bad = copy.deepcopy(lab)
    bad["trap"] = "no-such-trap"
    assert not check(bad)


def test_checker_modules_import_nothing_from_the_search_code():
    import verify.checkbasins as cb

    src = open(cb.__file__, encoding="utf-8").read()
    assert "symbolic" not in src.split('"""', 2)[2].split("import")[0] or True
    for line in src.splitlines():
        if line.startswith(("import ", "from ")):
            assert "symbolic" not in line and "graph" not in line and "numpy" not in line


# ----------------------------------------------------------------------------- CLI

def test_cli_basins_json_plot_and_certificate(tmp_path, capsys):
    png, cj = tmp_path / "b.png", tmp_path / "c.json"
    assert main(["basins", "bistable", "--resolution", "24", "--json", "--quiet", "--plot", str(png),
                 "--certificate", str(cj)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"attractors", "boundaries", "basin_map", "fractions", "agreement", "distances",
            "certificate_summary"} <= set(doc)
    assert doc["certificate_summary"]["ok"] and doc["certificate_summary"]["certified_attractors"] == ["P1-1", "P1-2"]
    assert [a["certified"] for a in doc["attractors"]] == [True, True]
    assert doc["boundaries"][0]["separates"] == ["P1-1", "P1-2"] or doc["boundaries"][0]["separates"] == ["P1-2", "P1-1"]
    assert os.path.getsize(png) > 1000
    assert main(["check", str(cj)]) == 0


def test_cli_basins_text(capsys):
    assert main(["basins", "bistable", "--resolution", "16", "--quiet", "--no-certify"]) == 0
    out = capsys.readouterr().out
    assert "2*sqrt(2)" in out and "W^s(P1-3)" in out


@pytest.mark.parametrize("argv", [
    ["basins", "bistable", "--resolution", "0"],
    ["basins", "bistable", "--slice", "0,1"],
    ["basins", "bistable", "--window", "1,0,0,1"],
    ["basins", "bistable", "--window", "a,b,c,d"],
    ["basins", "no-such-model"],
    ["basins", "bistable", "--no-certify", "--certificate", "x.json"],
])
def test_cli_basins_bad_input_exits_2(argv, capsys):
    assert main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_target_entries_must_point_to_earlier_full_blocks(bistable_result):
    res, cert = bistable_result
    claims = cert.certificate["claims"]
    base = [c for c in claims if c["type"] == "trapping-polytope"]
    lab = next(c for c in claims if c["id"].startswith("labels:") and any(len(e) == 6 for e in c["entries"]))

    def check(c):
        return check_certificate(new_certificate(BISTABLE, base + [c])).ok

    idx = next(i for i, e in enumerate(lab["entries"]) if len(e) == 6)
    bad = copy.deepcopy(lab)
    bad["entries"][idx][5] = idx                                  # not an earlier entry
    assert not check(bad)
    single = next((k for k, e in enumerate(lab["entries"][:idx]) if e[0] == e[2] and e[1] == e[3]), None)
    if single is not None:
        bad = copy.deepcopy(lab)
        bad["entries"][idx][5] = single                           # a point is no target
        assert not check(bad)
    bad = copy.deepcopy(lab)
    del bad["entries"][: lab["entries"][idx][5] + 1]              # the target is gone
    assert not check(bad) or all(len(e) == 5 for e in bad["entries"])


def test_cycle_basins_are_certified_through_traps_at_both_points():
    m = model_from_dict({"kind": "plrnn", "A": [["1/4", 0], [0, "1/2"]], "W": [["-13/4", 0], [0, 0]], "h": [1, 0]})
    res = compute_basins(m, resolution=24, window=(-3, 3, -2, 2))
    cert = certify_basins(res)
    assert cert.report.ok and cert.certified_attractors == {"P2-t1"}
    assert cert.certified_mask.mean() > 0.9
    used = {c["trap"] for c in cert.certificate["claims"] if c["id"].startswith("labels:")}
    assert len(used) == 2                                         # points caught near either cycle point


def test_one_dimensional_basins_are_certified_with_interval_targets():
    # the odd tristable map g of TRISTABLE alone: attractors -3, 0, 3, repellers ±3/4
    m = model_from_dict({"kind": "shplrnn", "A": ["1/2"], "W1": [["3/2", "-3/2", "3/2", "-3/2"]],
                         "W2": [[1], [1], [1], [1]], "h1": ["-3/2"], "h2": ["3/2", "1/2", "-1/2", "-3/2"]})
    res = compute_basins(m, resolution=64, window=(F(-5), F(5)))
    assert sorted(a.points[0][0] for a in res.attractors.attractors) == [-3, 0, 3]
    assert res.map.labels.shape == (1, 64) and not res.boundaries
    cert = certify_basins(res)
    assert cert.report.ok and cert.certified_mask.all()
    s, _ = res.map.slice.coords(64)
    names = {a.id: a.points[0][0] for a in res.attractors.attractors}
    lab = [names[res.map.names[i]] for i in res.map.labels[0]]
    expect = [-3 if x < -F(3, 4) else (0 if x < F(3, 4) else 3) for x in s]
    assert lab == expect


def test_one_dimensional_target_entries_known_answer():
    # z' = z/2 + 1 (z* = 2): [-8, 8] enters the trap [1, 3] after 6 steps; 12 -> 7 lies in [-8, 8]
    model = {"kind": "plrnn", "A": ["1/2"], "W": [[0]], "h": [1]}
    trap = {"id": "trap", "type": "trapping-polytope", "period": 1, "points": [["2"]], "W": [["1"]],
            "blocks": [{"size": 1}], "radius": "1", "theta": "1/2"}

    def ok(entries):
        lab = {"id": "lab", "type": "basin-labels", "trap": "trap", "attractor": "P1-1",
               "grid": {"origin": ["-8"], "u": ["1"], "v": ["0"]}, "entries": entries}
        return check_certificate({"format": "plrnn-manifolds-certificate", "version": 1, "model": model,
                                  "claims": [trap, lab]}).ok

    assert ok([[0, 0, 16, 0, 6], [20, 0, 20, 0, 1, 0]])
    assert not ok([[0, 0, 16, 0, 6], [20, 0, 20, 0, 0, 0]])      # 12 itself is not in [-8, 8]
    assert not ok([[0, 0, 16, 0, 3], [20, 0, 20, 0, 1, 0]])      # the target entry fails first (|z − 2| <= 5/4)
    assert not ok([[20, 0, 20, 0, 1, 1], [0, 0, 16, 0, 6]])      # target after the entry
    assert not ok([[0, 0, 16, 0, 6], [40, 0, 40, 0, 2, 0]])      # 32 -> 17 -> 19/2: not yet
    assert ok([[0, 0, 16, 0, 6], [40, 0, 40, 0, 3, 0]])          # -> 23/4


def test_lozi_basin_of_the_chaotic_attractor_is_bounded_by_the_outer_saddles_stable_manifold():
    res = compute_basins(load_model(example_path("lozi")), resolution=60)
    (a,) = res.attractors.attractors
    assert a.kind == "numerical" and not a.certified
    by = {b.saddle.points[0]: b for b in res.boundaries}
    outer = by[(F(-5, 6), F(-5, 12))]
    inner = by[(F(5, 11), F(5, 22))]
    assert set(outer.separates) == {"diverged", a.id} and outer.separating and outer.pieces
    assert not inner.separating and inner.manifold is None          # both branches stay on the attractor
    assert res.agreement["boundaries_used"] == [outer.saddle.id]
    assert res.agreement["cells"] >= 0.99
    assert res.distances == []                                       # no exact attractor
