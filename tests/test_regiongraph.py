"""Region-adjacency graph: known answers from combinatorial geometry and exact invariants (DESIGN §4)."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction as F

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graph.regiongraph import RegionWalker, flip, region_graph
from symbolic.models import model_from_dict
from symbolic.regions import enumerate_regions, locate

from .strategies import model_dicts


def arrangement(C, d):
    """A relu-affine model whose kinks are exactly the hyperplanes C z + d = 0 (in this order)."""
    L, n = len(C), len(C[0])
    B = [[1] * L] + [[0] * L for _ in range(n - 1)]
    m = model_from_dict({"kind": "relu-affine", "A": [[0] * n for _ in range(n)], "B": B,
                         "C": [[str(v) for v in r] for r in C], "d": [str(v) for v in d], "e": [0] * n})
    assert m.L == L
    return m


def general_lines(k, seed):
    """k lines a x + b y + c = 0 with small integer coefficients, no two parallel, no three concurrent."""
    rng = np.random.default_rng(seed)
    while True:
        C = [[int(rng.integers(-9, 10)), int(rng.integers(-9, 10))] for _ in range(k)]
        d = [int(rng.integers(-9, 10)) for _ in range(k)]
        if any(a == 0 and b == 0 for a, b in C):
            continue
        if any(C[i][0] * C[j][1] == C[i][1] * C[j][0] for i, j in itertools.combinations(range(k), 2)):
            continue
        if k >= 3 and any(_concurrent(C, d, t) for t in itertools.combinations(range(k), 3)):
            continue
        return C, d


def _meet(C, d, i, j):
    (a1, b1), (a2, b2) = C[i], C[j]
    det = F(a1 * b2 - a2 * b1)
    return ((-d[i] * b2 + d[j] * b1) / det, (-a1 * d[j] + a2 * d[i]) / det)


def _concurrent(C, d, t):
    i, j, k = t
    x, y = _meet(C, d, i, j)
    return C[k][0] * x + C[k][1] * y + d[k] == 0


def expected_line_edges(C, d):
    """Independent: pairs of cells sharing a segment or ray of each line, from exact geometry."""
    k = len(C)
    edges = set()
    for i in range(k):
        a, b = C[i]
        p0 = (F(-d[i] * a, a * a + b * b), F(-d[i] * b, a * a + b * b))  # a point on line i
        direction = (F(-b), F(a))
        params = sorted(
            # parameter s of the crossing p0 + s * direction with line j
            (-(C[j][0] * p0[0] + C[j][1] * p0[1] + d[j]) / (C[j][0] * direction[0] + C[j][1] * direction[1]))
            for j in range(k) if j != i)
        reps = ([params[0] - 1] + [(u + v) / 2 for u, v in zip(params, params[1:])] + [params[-1] + 1]) if params else [F(0)]
        for s in reps:
            q = (p0[0] + s * direction[0], p0[1] + s * direction[1])
            bits = "".join("1" if C[j][0] * q[0] + C[j][1] * q[1] + d[j] > 0 else "0" for j in range(k))
            edges.add(frozenset({bits[:i] + "0" + bits[i + 1:], bits[:i] + "1" + bits[i + 1:]}))
    return edges


# ----------------------------------------------------------------------------- known answers

@pytest.mark.parametrize("k", range(1, 8))
def test_k_lines_in_general_position_have_1_plus_k_plus_k_choose_2_cells_and_k_squared_facets(k):
    C, d = general_lines(k, seed=k)
    rg = region_graph(arrangement(C, d))
    assert rg.status == "complete"
    assert rg.graph.number_of_nodes() == 1 + k + math.comb(k, 2)
    # each line is cut into k pieces (segments and rays) by the other k - 1 lines
    assert rg.graph.number_of_edges() == k * k
    assert {frozenset(e) for e in rg.graph.edges} == expected_line_edges(C, d)


@pytest.mark.parametrize("n", range(1, 6))
def test_coordinate_hyperplanes_give_the_hypercube_graph(n):
    m = model_from_dict({"kind": "plrnn", "A": [0] * n, "W": [[1] * n for _ in range(n)], "h": [0] * n})
    rg = region_graph(m)
    Q = nx.hypercube_graph(n)
    relabel = {v: "".join(map(str, v if isinstance(v, tuple) else (v,))) for v in Q.nodes}
    assert set(rg.graph.nodes) == set(relabel.values())
    assert {frozenset(e) for e in rg.graph.edges} == {frozenset((relabel[a], relabel[b])) for a, b in Q.edges}


def test_lines_in_a_box_that_contains_every_crossing_give_the_same_cells():
    C, d = general_lines(6, seed=11)
    crossings = [_meet(C, d, i, j) for i, j in itertools.combinations(range(6), 2)]
    lo = min(min(p) for p in crossings) - 1
    hi = max(max(p) for p in crossings) + 1
    free, boxed = region_graph(arrangement(C, d)), region_graph(arrangement(C, d), box=(lo, hi))
    assert set(free.graph.nodes) == set(boxed.graph.nodes)
    assert set(map(frozenset, free.graph.edges)) == set(map(frozenset, boxed.graph.edges))


def test_box_cuts_the_arrangement_and_touching_cells_are_proven_empty():
    # in the unit square: x = 1/3, x = 2/3, y = 1/2 make 6 cells; x = 5 misses the box; x + y = 0
    # touches it only at the corner (its negative side meets the closed box in one point)
    C = [[1, 0], [1, 0], [0, 1], [1, 0], [1, 1]]
    d = [F(-1, 3), F(-2, 3), F(-1, 2), -5, 0]
    rg = region_graph(arrangement(C, d), box=(0, 1))
    assert rg.status == "complete" and rg.stats["thin"] == 0
    assert rg.graph.number_of_nodes() == 6
    assert all(s[3] == "0" and s[4] == "1" for s in rg.graph.nodes)
    assert rg.graph.number_of_edges() == 7


@pytest.mark.parametrize("k", [3, 4, 5])
def test_k_concurrent_lines_have_2k_cells_and_margin_zero_patterns_are_certified_empty(k):
    # lines through the origin: the patterns whose "cell" is the origin alone have LP margin 0
    C = [[int(round(100 * math.cos(math.pi * j / k))), int(round(100 * math.sin(math.pi * j / k)))] for j in range(k)]
    rg = region_graph(arrangement(C, [0] * k))
    assert rg.graph.number_of_nodes() == 2 * k
    assert rg.stats["thin"] == 0
    assert nx.is_isomorphic(rg.graph, nx.cycle_graph(2 * k))


def test_node_budget_stops_the_walk_and_says_so():
    C, d = general_lines(8, seed=3)
    rg = region_graph(arrangement(C, d), max_nodes=5)
    assert rg.status == "budget" and "budget" in rg.message
    assert 5 <= rg.graph.number_of_nodes() < 1 + 8 + 28


def test_walk_from_a_trajectory_without_seeding_reaches_every_cell():
    C, d = general_lines(5, seed=5)
    m = arrangement(C, d)
    rg = region_graph(m, points=[[0.1, 0.2], [3.3, -1.7]], samples=0, trajectories=0)
    assert rg.status == "complete" and rg.graph.number_of_nodes() == 16
    assert rg.stats["seeded"] <= 2


def test_lazy_neighbours_match_the_full_graph():
    C, d = general_lines(6, seed=8)
    m = arrangement(C, d)
    rg = region_graph(m)
    w = RegionWalker(m)
    for s in rg.graph.nodes:
        assert sorted(w.neighbours(s)) == sorted(rg.graph.neighbors(s))


# ----------------------------------------------------------------------------- properties

def check_graph_exactly(m, rg, box=None):
    G = rg.graph
    for s, data in G.nodes(data=True):
        assert not data["thin"]
        w = data["witness"]
        loc = locate(m, w)
        assert loc.strict and loc.bits == s
        if box is not None:
            assert all(F(lo) < v < F(hi) for v, lo, hi in zip(w, box[0], box[1]))
    for s, t, data in G.edges(data=True):
        k = data["hyperplane"]
        assert sum(a != b for a, b in zip(s, t)) == 1 and s[k] != t[k]
        q = rg.facet_point(s, t)
        assert locate(m, q).boundary == (k,)  # on H_k and on no other hyperplane: relative interior
        if box is not None:
            assert all(F(lo) < v < F(hi) for v, lo, hi in zip(q, box[0], box[1]))
    # edges are exactly the realisable pairs at Hamming distance 1
    nodes = set(G.nodes)
    for s in nodes:
        for k in range(m.L):
            assert G.has_edge(s, flip(s, k)) == (flip(s, k) in nodes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=3, max_L=5, kinds=("relu-affine", "shplrnn", "plrnn")))
def test_walk_finds_the_cells_of_the_pattern_by_pattern_enumeration_with_exact_witnesses_and_facets(d):
    m = model_from_dict(d)
    rg = region_graph(m)
    assert rg.status == "complete"
    check_graph_exactly(m, rg)
    cs = enumerate_regions(m)
    # enumerate_regions keeps margin-0 patterns without a witness; the walk proves those empty
    proven = set(cs.witnesses) if cs.method == "walk" else set(cs.regions)
    assert proven <= set(rg.graph.nodes) <= set(cs.regions)
    # clear-margin random points lie in known cells
    Z = np.random.default_rng(0).normal(size=(500, m.n)) * 5
    pre = m.preact(Z)
    clear = np.all(np.abs(pre) > 1e-6, axis=1)
    assert {"".join("1" if v > 0 else "0" for v in row) for row in pre[clear]} <= set(rg.graph.nodes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_dicts(max_n=3, max_L=5, kinds=("relu-affine", "shplrnn")),
       st.lists(st.integers(-4, 4), min_size=2, max_size=2).filter(lambda v: v[0] < v[1]))
def test_walk_in_a_box_equals_exhaustive_patterns_and_certified_mode(d, lohi):
    m = model_from_dict(d)
    box = ([lohi[0]] * m.n, [lohi[1]] * m.n)
    walk = region_graph(m, box=box)
    check_graph_exactly(m, walk, box)
    if m.L <= 5:
        ex = region_graph(m, box=box, exhaustive=True)
        assert ex.status == "exhaustive"
        assert set(ex.graph.nodes) == set(walk.graph.nodes)
    cert = region_graph(m, box=box, certify=True, samples=0, trajectories=0)
    assert set(cert.graph.nodes) == set(walk.graph.nodes)
    assert set(map(frozenset, cert.graph.edges)) == set(map(frozenset, walk.graph.edges))
