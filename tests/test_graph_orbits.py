"""Transition graph and orbit search mode 'graph': agreement with the exhaustive mode (DESIGN §4, §5)."""
from __future__ import annotations

import itertools
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from graph.orbits_graph import closed_walks, find_orbits_graph
from graph.regiongraph import as_box
from graph.transitions import pair_lps, transition_graph
from proofs_examples import example_path
from symbolic.linalg import canonical_affine
from symbolic.models import load_model, model_from_dict
from symbolic.orbits import find_orbits
from symbolic.rationals import column
from symbolic.regions import locate

from .strategies import model_dicts


def ex(name):
    return load_model(example_path(name))


def orbit_keys(res):
    """Exact identity of each orbit: its point set up to rotation, or the affine family it spans."""
    out = set()
    for o in res.orbits:
        if o.type == "continuum":
            key = canonical_affine(column(o.points[0]), [column(b) for b in o.basis])
            out.add(("continuum", o.period, o.dimension, key))
        else:
            out.add((o.type, o.period, o.key()))
    return out


def box_around(res, n, margin=1):
    pts = [p for o in res.orbits for p in o.points]
    if not pts:
        return ([-1] * n, [1] * n)
    lo = [min(p[i] for p in pts) - margin for i in range(n)]
    hi = [max(p[i] for p in pts) + margin for i in range(n)]
    return (lo, hi)


# ----------------------------------------------------------------------------- known answers

def test_bistable_transition_graph_has_the_self_loops_of_the_attractors_and_the_saddle():
    m = ex("bistable")
    tg = transition_graph(m, box=(-4, 4))
    assert tg.status == "complete"
    for s, point in [("10", (2, -2)), ("01", (-2, 2)), ("11", (F(2, 3), F(2, 3)))]:
        assert locate(m, point).bits == s
        assert tg.graph.has_edge(s, s) and tg.graph.edges[s, s]["open"]
        w = tg.edge_witness(s, s)
        assert w.strict and locate(m, w.x).bits == s and locate(m, w.image).bits == s


@pytest.mark.parametrize("k", range(1, 9))
def test_tent_map_graph_mode_finds_2_to_the_k_points_including_the_box_corner(k):
    # u in [-1/2, 1/2] is invariant; the fixed point u = -1/2 lies on the box boundary
    res = find_orbits_graph(ex("tent"), k, box=("-1/2", "1/2"))
    pts = {p for o in res.orbits if k % o.period == 0 for p in o.points}
    assert len(pts) == 2 ** k and (F(-1, 2),) in pts
    assert res.status == "complete" and "[-1/2, 1/2]" in res.message


@pytest.mark.parametrize("name,k,box", [("lozi", 8, (-2, 2)), ("lozi", 6, None), ("bistable", 4, (-5, 5)),
                                        ("border_collision", 6, None), ("gingerbreadman", 6, (-12, 12))])
def test_examples_graph_mode_equals_exhaustive(name, k, box):
    m = ex(name)
    e, g = find_orbits(m, k, mode="exhaustive"), find_orbits_graph(m, k, box=box)
    if box is not None:
        b = as_box(box, m.n)
        assert all(b.contains(p) for o in e.orbits for p in o.points)
    assert orbit_keys(g) == orbit_keys(e)
    assert g.mode == "graph" and g.status == "complete"


def test_boundary_fixed_point_whose_cells_swap_is_found_through_a_zero_margin_self_loop():
    # f(z) = -z for z < 0 and -2z for z > 0: the cells swap; 0 is a fixed point on the boundary
    m = model_from_dict({"kind": "plrnn", "A": [-1], "W": [[-1]], "h": [0]})
    tg = transition_graph(m, box=(-1, 1))
    for s in ("0", "1"):
        assert tg.graph.has_edge(s, s) and not tg.graph.edges[s, s]["open"]
        w = tg.edge_witness(s, s)
        assert w is not None and w.x == (0,) and not w.strict
    assert tg.graph.edges["0", "1"]["open"] and tg.graph.edges["1", "0"]["open"]
    res = find_orbits_graph(m, 2, box=(-1, 1))
    assert [(o.type, o.points) for o in res.orbits if o.period == 1] == [("boundary", ((0,),))]
    assert orbit_keys(res) == orbit_keys(find_orbits(m, 2, mode="exhaustive"))


def test_line_of_fixed_points_is_found_as_the_same_continuum():
    m = model_from_dict({"kind": "plrnn", "A": ["1/2"], "W": [["1/2"]], "h": [0]})
    e = find_orbits(m, 2, mode="exhaustive")
    g = find_orbits_graph(m, 2, box=box_around(e, 1, margin=3))
    assert orbit_keys(g) == orbit_keys(e) and any(o.type == "continuum" for o in g.orbits)


def test_too_many_closed_walks_truncates_and_says_so():
    res = find_orbits_graph(ex("tent"), 6, box=(-1, 1), max_walks=10)
    assert res.status == "truncated" and "max_walks" in res.message


def test_orbits_outside_the_box_are_kept_and_counted():
    # bistable in a box holding only the attractor (2, -2): the closed walks through its cells
    # also carry the saddle (2/3, 2/3)? no -- but the attractor (-2, 2) lies outside
    res = find_orbits_graph(ex("bistable"), 1, box=([1, -3], [3, 3]))
    inside = [o for o in res.orbits if all(1 <= p[0] <= 3 and -3 <= p[1] <= 3 for p in o.points)]
    assert {o.points[0] for o in inside} == {(2, -2)}
    assert res.stats["orbits_outside_box"] == len(res.orbits) - len(inside)


# ----------------------------------------------------------------------------- properties

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=3, max_L=4), st.integers(1, 3))
def test_graph_mode_finds_exactly_the_exhaustive_set_in_a_box_holding_it(d, k):
    m = model_from_dict(d)
    e = find_orbits(m, k, mode="exhaustive")
    box = box_around(e, m.n)
    g = find_orbits_graph(m, k, box=box)
    assert g.status == "complete"
    assert orbit_keys(g) == orbit_keys(e)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=2, max_L=3), st.integers(1, 3))
def test_graph_mode_in_all_of_Rn_and_with_certificates_equals_exhaustive(d, k):
    m = model_from_dict(d)
    e = find_orbits(m, k, mode="exhaustive")
    assert orbit_keys(find_orbits_graph(m, k)) == orbit_keys(e)
    box = box_around(e, m.n, margin=2)
    assert orbit_keys(find_orbits_graph(m, k, box=box, certify=True)) == orbit_keys(e)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=3, max_L=4), st.integers(1, 4))
def test_every_transition_edge_has_an_exact_witness(d, r):
    m = model_from_dict(d)
    box = ([-r] * m.n, [r] * m.n)
    tg = transition_graph(m, box=box)
    for s, t, data in tg.graph.edges(data=True):
        w = tg.edge_witness(s, t)
        assert w is not None, (s, t, data["margin"])
        assert tuple(m.f_exact(w.x)) == w.image
        lx, ly = locate(m, w.x), locate(m, w.image)
        assert lx.matches(s) and ly.matches(t)
        assert all(-r <= v <= r for v in w.x + w.image)
        if data["open"]:
            assert w.strict and lx.strict and ly.strict and lx.bits == s and ly.bits == t


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=3, max_L=4), st.integers(0, 4))
def test_transition_walk_finds_every_edge_of_the_all_pairs_lp(d, r):
    m = model_from_dict(d)
    box = as_box(([-r] * m.n, [r] * m.n), m.n) if r else None  # r = 0: all of R^n
    tg = transition_graph(m, box=box)
    nodes = sorted(tg.graph.nodes)
    pairs = list(itertools.product(nodes, nodes))
    res = pair_lps(m, box, [p[0] for p in pairs], [p[1] for p in pairs])
    brute = {p for p, t in zip(pairs, res.t) if t >= -1e-9}
    assert brute == set(tg.graph.edges)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5).flatmap(lambda N: st.tuples(
    st.just(N), st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)), max_size=N * N))),
    st.integers(1, 5), st.sampled_from([1, 2, 3, 20_000]))
def test_closed_walks_are_the_necklaces_of_all_closed_walks(graph, p, chunk):
    N, edge_list = graph
    E = set(edge_list)
    succ = [np.array(sorted({v for u, v in E if u == a}), dtype=np.int64) for a in range(N)]
    got = [tuple(w) for part in closed_walks(succ, p, chunk=chunk) for w in part.tolist()]
    assert len(got) == len(set(got))
    brute = set()
    for w in itertools.product(range(N), repeat=p):
        if all((w[j], w[(j + 1) % p]) in E for j in range(p)) and w == min(w[i:] + w[:i] for i in range(p)):
            brute.add(w)
    assert set(got) == brute
