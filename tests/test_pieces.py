"""Affine polyhedral pieces: exact images/preimages, splitting along the arrangement, vertices,
degenerate cases (singular Jacobians, pieces inside a hyperplane, boundary points)."""
from __future__ import annotations

from fractions import Fraction as F

import flint
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from symbolic.models import model_from_dict
from symbolic.pieces import (
    Piece, chebyshev, clip_to_box, contains, difference_same_hull, image, interval, make_piece,
    normalize, preimage, same_hull, sample, segment, split, vertices, vertices_exact,
)
from symbolic.regions import locate

BISTABLE = {"kind": "plrnn", "A": ["1/2", "1/2"], "W": [[0, -1], [-1, 0]], "h": [1, 1]}
# f(z) = (z1, relu(z2)): region 0 (z2 < 0) has the singular Jacobian diag(1, 0)
COLLAPSE = {"kind": "relu-affine", "A": [[1, 0], [0, 0]], "B": [[0], [1]], "C": [[0, 1]], "d": [0], "e": [0, 0]}


def in_closure(model, x, bits) -> bool:
    """Exact: is the rational point x in the closure of region `bits`?"""
    loc = locate(model, x)
    return all(s == 0 or (s > 0) == (b == "1") for s, b in zip(loc.signs, bits))


def square(lo, hi, exact=True):
    """The square [lo, hi]^2 as a 2-parameter piece in R^2."""
    if exact:
        return make_piece([F(0), F(0)], [[1, 0], [0, 1]], [[1, 0], [-1, 0], [0, 1], [0, -1]],
                          [F(hi), -F(lo), F(hi), -F(lo)], exact=True)
    return make_piece([0.0, 0.0], [[1.0, 0], [0, 1.0]], [[1, 0], [-1, 0], [0, 1], [0, -1]],
                      [hi, -lo, hi, -lo], exact=False)


def polygon_area(V):
    x, y = V[:, 0], V[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


# ----------------------------------------------------------------------------- known answers

def test_split_of_the_diagonal_is_exact_at_the_origin():
    m = model_from_dict(BISTABLE)
    P = segment((F(-1), F(-1)), (F(3), F(3)))
    parts = split(P, m)
    assert [p.region for p in parts] == ["00", "11"]
    assert [vertices_exact(p) for p in parts] == [[(F(-1), F(-1)), (F(0), F(0))], [(F(0), F(0)), (F(3), F(3))]]
    assert all(p.exact for p in parts)


def test_image_is_the_exact_affine_image_of_the_vertices():
    m = model_from_dict(BISTABLE)
    P = split(segment((F(1, 3), F(1, 3)), (F(3), F(3))), m)[0]
    Q = image(P, m)
    assert Q.itinerary == ("11",) and Q.depth == 1
    img = {m.f_exact(v) for v in vertices_exact(P)}
    assert set(vertices_exact(Q)) == img == {(F(5, 6), F(5, 6)), (F(-1, 2), F(-1, 2))}


def test_preimage_inverts_an_invertible_branch_exactly():
    m = model_from_dict(BISTABLE)
    P = split(segment((F(1, 5), F(1, 5)), (F(2), F(2))), m)[0]          # inside region 11
    R = preimage(image(P, m), m, "11", box=((-5, -5), (5, 5)))
    assert R is not None and R.exact and R.region == "11"
    assert sorted(vertices_exact(R)) == sorted(vertices_exact(P))


def test_preimage_under_a_singular_jacobian_gains_dimension():
    m = model_from_dict(COLLAPSE)
    P = segment((F(0), F(0)), (F(1), F(0)))            # on the hyperplane z2 = 0
    box = ((F(-2), F(-2)), (F(2), F(2)))
    R0 = preimage(P, m, "0", box=box)                   # z2 <= 0, J = diag(1, 0): a strip
    R1 = preimage(P, m, "1", box=box)                   # z2 >= 0, J = I: the segment itself
    assert R0.dim == 2 and R1.dim == 1
    assert sorted(vertices_exact(R0)) == [(F(0), F(-2)), (F(0), F(0)), (F(1), F(-2)), (F(1), F(0))]
    assert sorted(vertices_exact(R1)) == [(F(0), F(0)), (F(1), F(0))]
    with pytest.raises(ValueError):
        preimage(P, m, "0")                             # unbounded without a box


def test_piece_inside_a_hyperplane_is_recorded_and_not_split():
    m = model_from_dict(COLLAPSE)
    parts = split(segment((F(-1), F(0)), (F(1), F(0))), m)
    assert len(parts) == 1 and parts[0].on_hyperplanes == (0,) and parts[0].region == "0"
    sq = make_piece([F(0), F(0)], [[1], [0]], [[1], [-1]], [1, 1], exact=True)   # 1-D as well
    assert split(sq, m)[0].on_hyperplanes == (0,)


def test_two_dimensional_split_in_the_plane_is_exact():
    m = model_from_dict(BISTABLE)                       # hyperplanes z1 = 0 and z2 = 0
    parts = split(square(-1, 2), m)
    assert sorted(p.region for p in parts) == ["00", "01", "10", "11"]
    areas = {p.region: polygon_area(vertices(p)) for p in parts}
    assert areas == pytest.approx({"00": 1, "01": 2, "10": 2, "11": 4})
    for p in parts:
        V = vertices_exact(p)
        assert all(in_closure(m, v, p.region) for v in V)
        assert F(0) in {c for v in V for c in v}          # the cut vertices are exact zeros


def test_clip_to_box_and_disjoint_box():
    P = segment((F(-3), F(0)), (F(3), F(0)))
    Q = clip_to_box(P, ((F(-1), F(-1)), (F(2), F(1))))
    assert sorted(vertices_exact(Q)) == [(F(-1), F(0)), (F(2), F(0))]
    assert clip_to_box(P, ((F(5), F(5)), (F(6), F(6)))) is None


def test_difference_of_nested_squares():
    outer, inner = square(-2, 2), square(-1, 1)
    assert same_hull(outer, inner)
    parts = difference_same_hull(outer, inner)
    assert sum(polygon_area(vertices(p)) for p in parts) == pytest.approx(16 - 4)
    rng = np.random.default_rng(1)
    for x in rng.uniform(-2, 2, size=(200, 2)):
        if np.abs(x).max() > 1.01:
            assert any(contains(p, x) for p in parts)
        elif np.abs(x).max() < 0.99:
            assert not any(contains(p, x) for p in parts)


def test_empty_piece_and_interval():
    P = make_piece([F(0)], [[1]], [[1], [-1]], [F(-1), F(-1)], exact=True)   # t <= -1 and t >= 1
    r, c = chebyshev(P)
    assert r == -np.inf and c is None
    assert interval(P)[0] > interval(P)[1]


def test_normalize_keeps_the_set_exactly():
    P = make_piece([F(1), F(2)], [[F(3), F(1)], [F(1), F(5)]], [[1, 0], [-1, 0], [0, 1], [0, -1]],
                   [1, 1, 1, 1], exact=True)
    Q = normalize(P)
    assert sorted(vertices_exact(Q)) == sorted(vertices_exact(P))
    Uq = Q.Uf
    assert np.allclose(Uq.T @ Uq, np.eye(2), atol=1e-6)          # (nearly) orthonormal basis


def test_float_and_exact_pieces_agree():
    m = model_from_dict(BISTABLE)
    Pe = segment((F(-1), F(-1, 2)), (F(3), F(2)))
    Pf = segment((-1.0, -0.5), (3.0, 2.0))
    pe, pf = split(Pe, m), split(Pf, m)
    assert [p.region for p in pe] == [p.region for p in pf]
    for a, b in zip(pe, pf):
        assert np.allclose(np.array(vertices_exact(a), float), vertices(b), atol=1e-12)


def test_point_on_a_boundary_is_split_consistently():
    m = model_from_dict(BISTABLE)
    P = segment((F(0), F(-1)), (F(0), F(1)))            # inside the hyperplane z1 = 0
    parts = split(P, m)
    assert [p.region for p in parts] == ["00", "01"]
    assert all(p.on_hyperplanes == (0,) for p in parts)


# ----------------------------------------------------------------------------- properties

coef = st.builds(F, st.integers(-4, 4), st.sampled_from([1, 2, 3]))


@st.composite
def models_and_pieces(draw):
    """A random 3-D relu-affine model with up to 4 hyperplanes and a random 2-D exact piece."""
    L = draw(st.integers(1, 4))
    C = [[draw(coef) for _ in range(3)] for _ in range(L)]
    for row in C:
        if all(v == 0 for v in row):
            row[draw(st.integers(0, 2))] = F(1)
    d = [draw(coef) for _ in range(L)]
    mdl = {"kind": "relu-affine", "A": [[str(draw(coef)) for _ in range(3)] for _ in range(3)],
           "B": [[str(draw(coef)) for _ in range(L)] for _ in range(3)],
           "C": [[str(v) for v in row] for row in C], "d": [str(v) for v in d],
           "e": [str(draw(coef)) for _ in range(3)]}
    o = [draw(coef) for _ in range(3)]
    U = [[draw(coef) for _ in range(2)] for _ in range(3)]
    return mdl, o, U


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models_and_pieces())
def test_split_pieces_tile_the_piece_and_lie_in_their_regions(data):
    mdl, o, U = data
    m = model_from_dict(mdl)
    P = make_piece(o, U, [[1, 0], [-1, 0], [0, 1], [0, -1]], [2, 2, 2, 2], exact=True)
    if P.dim < 2:
        return
    parts = split(P, m)
    assert parts
    VP = vertices(P)
    # tiling: areas (in the plane of P) add up, sampled points lie in some part
    basis = np.linalg.qr(P.Uf)[0]
    area = lambda V: polygon_area((V - P.of) @ basis)
    assert sum(area(vertices(p)) for p in parts) == pytest.approx(area(VP), rel=1e-7)
    rng = np.random.default_rng(0)
    for x in sample(P, 20, rng):
        assert any(contains(p, x, tol=1e-7) for p in parts)
    for p in parts:
        assert len(p.region) == m.L
        V = vertices_exact(p)
        assert V is not None and all(in_closure(m, v, p.region) for v in V)   # exact closure check


@settings(max_examples=60, deadline=None)
@given(st.lists(coef, min_size=4, max_size=4), st.lists(coef, min_size=4, max_size=4))
def test_one_dimensional_split_is_an_exact_partition(a, b):
    m = model_from_dict({"kind": "relu-affine", "A": [[1, 0], [0, 1]], "B": [[1, 1], [1, -1]],
                         "C": [[1, 1], [1, -2]], "d": [0, "1/3"], "e": [0, 0]})
    p0, p1 = (a[0], a[1]), (a[0] + b[0] + F(1, 7), a[1] + b[1])
    P = segment(p0, p1)
    parts = split(P, m)
    ends = [vertices_exact(p) for p in parts]
    # consecutive pieces share endpoints exactly and start/end at the segment's ends
    assert ends[0][0] == p0 and ends[-1][-1] == p1
    for e0, e1 in zip(ends, ends[1:]):
        assert e0[-1] == e1[0]
    for p, e in zip(parts, ends):
        assert all(in_closure(m, v, p.region) for v in e)
        mid = tuple((u + v) / 2 for u, v in zip(*e))
        assert locate(m, mid).bits == p.region or not locate(m, mid).strict
