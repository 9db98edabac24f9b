"""Model files, the canonical ReLU-affine form and exact evaluation (DESIGN §3)."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from symbolic.errors import ModelError
from symbolic.models import load_model, model_from_dict, model_to_dict, save_model
from verify.checkmodel import CheckedMap

from .strategies import model_dicts, rationals


def relu(x):
    return np.maximum(x, 0)


def direct_float(d, z):
    """The map of DESIGN §3 written out per kind, in floats (independent of the canonical form)."""
    k = d["kind"]
    f = lambda x: np.array(x, dtype=object).astype(float) if not isinstance(x, (int, float)) else float(x)
    q = lambda x: np.vectorize(lambda v: float(Fraction(v)) if isinstance(v, str) else float(v), otypes=[float])(np.array(x, dtype=object))
    if k == "plrnn":
        A = q(d["A"])
        A = np.diag(A) if A.ndim == 1 else A
        return A @ z + q(d["W"]) @ relu(z) + q(d["h"])
    if k == "alrnn":
        n, P = len(d["h"]), d["P"]
        phi = np.concatenate([z[: n - P], relu(z[n - P:])])
        return np.diag(q(d["A"])) @ z + q(d["W"]) @ phi + q(d["h"])
    if k == "shplrnn":
        return np.diag(q(d["A"])) @ z + q(d["W1"]).reshape(len(z), -1) @ relu(q(d["W2"]).reshape(-1, len(z)) @ z + q(d["h2"])) + q(d["h1"])
    if k == "clipped-shplrnn":
        W2 = q(d["W2"])
        return np.diag(q(d["A"])) @ z + q(d["W1"]) @ (relu(W2 @ z + q(d["h2"])) - relu(W2 @ z)) + q(d["h1"])
    if k == "dendplrnn":
        H, al = q(d["H"]), q(d["alpha"])
        phi = sum(al[j] * relu(z - H[:, j]) for j in range(len(al)))
        return np.diag(q(d["A"])) @ z + q(d["W"]) @ phi + q(d["h"])
    A, B, C = q(d["A"]), q(d["B"]).reshape(len(z), -1), q(d["C"]).reshape(-1, len(z))
    return A @ z + B @ relu(C @ z + q(d["d"])) + q(d["e"])


ALL_KINDS = {
    "plrnn": {"kind": "plrnn", "A": [0.5, "-1/3"], "W": [[1, -2], ["1/7", 0.25]], "h": [1, -1]},
    "plrnn-full": {"kind": "plrnn", "A": [[0.5, 1], [0, "-1/3"]], "W": [[1, -2], ["1/7", 0.25]], "h": [1, -1]},
    "shplrnn": {"kind": "shplrnn", "A": [0.9, 0.8], "W1": [[1, -1, 2], [0.5, 0, -1]],
                "W2": [[1, 0], [0, 1], [1, -1]], "h1": [0.1, -0.2], "h2": [0, 0.5, -0.5]},
    "clipped-shplrnn": {"kind": "clipped-shplrnn", "A": [0.9, 0.8], "W1": [[1, -1, 2], [0.5, 0, -1]],
                        "W2": [[1, 0], [0, 1], [1, -1]], "h1": [0.1, -0.2], "h2": [0, 0.5, -0.5]},
    "alrnn": {"kind": "alrnn", "A": [0.9, 0.8, 0.7], "W": [[0, 1, -1], [0.5, 0.2, 0], [1, 1, 1]],
              "h": [0, 1, -1], "P": 2},
    "dendplrnn": {"kind": "dendplrnn", "A": [0.9, 0.5], "W": [[0, 1], [-1, 0]], "h": [0.1, 0.2],
                  "alpha": [1, -0.5], "H": [[0, 1], [0.5, -1]]},
    "relu-affine": {"kind": "relu-affine", "A": [[0.5, 0], [0, 0.5]], "B": [[1, 0], [0, 1]],
                    "C": [[1, 1], [1, -1]], "d": [0, 1], "e": [0, 0]},
}


@pytest.mark.parametrize("name", sorted(ALL_KINDS))
def test_every_kind_evaluates_as_its_formula(name):
    d = ALL_KINDS[name]
    m = model_from_dict(d)
    rng = np.random.default_rng(1)
    Z = rng.normal(scale=2, size=(50, m.n))
    for z in Z:
        np.testing.assert_allclose(m.f(z), direct_float(d, z), atol=1e-12)
    np.testing.assert_allclose(m.f(Z), np.array([direct_float(d, z) for z in Z]), atol=1e-12)


def test_json_numbers_are_exact_binary64_and_strings_exact_rationals():
    m1 = model_from_dict({"kind": "plrnn", "A": [0.1], "W": [[1]], "h": [0]})
    m2 = model_from_dict({"kind": "plrnn", "A": ["0.1"], "W": [[1]], "h": [0]})
    m3 = model_from_dict({"kind": "plrnn", "A": ["1/10"], "W": [[1]], "h": [0]})
    assert m1.params["A"][0][0] == Fraction(0.1) != Fraction(1, 10)
    assert m2.params["A"][0][0] == m3.params["A"][0][0] == Fraction(1, 10)
    assert m2.same_map(m3) and not m1.same_map(m2)


def test_plrnn_diagonal_vector_equals_full_matrix():
    a = model_from_dict({"kind": "plrnn", "A": [2, 3], "W": [[1, 1], [1, 1]], "h": [0, 1]})
    b = model_from_dict({"kind": "plrnn", "A": [[2, 0], [0, 3]], "W": [[1, 1], [1, 1]], "h": [0, 1]})
    assert a.same_map(b)


def test_zero_duplicate_opposite_and_kinkfree_hyperplanes_are_reduced():
    # rows: x, 2x (duplicate), -x (opposite), 0 (zero row, d = 3), y with zero column
    d = {"kind": "relu-affine", "A": [[0, 0], [0, 0]],
         "B": [[1, 1, 1, 1, 0], [0, 2, -1, 1, 0]],
         "C": [[1, 0], [2, 0], [-1, 0], [0, 0], [0, 1]], "d": [0, 0, 0, 3, 5], "e": [0, 0]}
    m = model_from_dict(d)
    assert m.L == 1  # one kink: the hyperplane x = 0
    cm = CheckedMap(d)  # independent evaluation keeping every unit
    for x in [Fraction(-3, 2), Fraction(0), Fraction(5, 7), Fraction(2)]:
        for y in [Fraction(-1), Fraction(1, 3)]:
            assert list(m.f_exact([x, y])) == cm.f([x, y])


def test_clipped_shplrnn_with_zero_bias_has_no_kink_for_that_unit():
    # relu(w z + 0) - relu(w z) == 0: the unit disappears (duplicate hyperplanes, cancelling)
    m = model_from_dict({"kind": "clipped-shplrnn", "A": [0.5], "W1": [[1, 1]], "W2": [[1], [1]],
                         "h1": [0], "h2": [0, 1]})
    assert m.L == 2  # z = -1 and z = 0 from the second unit only
    assert sorted(tuple(m.C.entries())) == [1, 1]


@settings(max_examples=60, deadline=None)
@given(model_dicts(kinds=("plrnn", "relu-affine", "shplrnn", "alrnn")), st.data())
def test_canonical_form_equals_the_original_map_exactly(d, data):
    m = model_from_dict(d)
    cm = CheckedMap(d)
    for _ in range(5):
        z = [data.draw(rationals) for _ in range(m.n)]
        assert list(m.f_exact(z)) == cm.f(z)


@settings(max_examples=60, deadline=None)
@given(model_dicts())
def test_saving_and_loading_round_trips_exactly(tmp_path_factory, d):
    m = model_from_dict(d)
    path = tmp_path_factory.mktemp("rt") / "m.json"
    save_model(m, path)
    m2 = load_model(path)
    assert m2.same_map(m)
    assert model_to_dict(m2) == model_to_dict(m)
    assert json.loads(path.read_text())["kind"] == d["kind"]


def test_npz_model_file(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, kind="plrnn", A=np.array([0.5, 0.25]), W=np.array([[0.0, 1.0], [1.0, 0.0]]), h=np.array([1.0, -1.0]))
    m = load_model(p)
    assert m.same_map(model_from_dict({"kind": "plrnn", "A": [0.5, 0.25], "W": [[0, 1], [1, 0]], "h": [1, -1]}))


BAD = [
    ({"kind": "lstm"}, "unknown model kind"),
    ({"A": [1]}, "missing key 'kind'"),
    ({"kind": "plrnn", "A": [1, 2], "W": [[1]], "h": [0, 0]}, "key 'W': expected shape (2, 2)"),
    ({"kind": "plrnn", "A": [1, 2], "W": [[1, 0], [0, 1]]}, "missing key 'h'"),
    ({"kind": "plrnn", "A": [1, "x"], "W": [[1, 0], [0, 1]], "h": [0, 0]}, "key 'A' entry [1]"),
    ({"kind": "plrnn", "A": [1, 2], "W": [[1, 0], [0, True]], "h": [0, 0]}, "boolean"),
    ({"kind": "plrnn", "A": [1, 2], "W": [[1, 0], [0, 1]], "h": [0, [1]]}, "key 'h'"),
    ({"kind": "shplrnn", "A": [1], "W1": [[1, 2]], "W2": [[1], [2], [3]], "h1": [0], "h2": [0, 0]},
     "key 'W2': expected shape (2, 1)"),
    ({"kind": "alrnn", "A": [1], "W": [[1]], "h": [0], "P": 3}, "key 'P'"),
    ({"kind": "relu-affine", "A": [[1]], "B": [[1]], "C": [[1]], "d": [0], "e": [float("nan")]}, "not a finite"),
    ({"kind": "plrnn", "A": [float("inf")], "W": [[1]], "h": [0]}, "not a finite"),
]


@pytest.mark.parametrize("d,fragment", BAD)
def test_bad_models_give_one_clear_error(d, fragment):
    with pytest.raises(ModelError) as exc:
        model_from_dict(d)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("text,fragment", [
    ('{"kind": "plrnn", "A": [NaN], "W": [[1]], "h": [0]}', "non-finite"),
    ('{"kind": "plrnn", "A": [1], ', "invalid JSON"),
    ("[1, 2, 3]", "must be a JSON object"),
])
def test_bad_files_give_one_clear_error(tmp_path, text, fragment):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(ModelError) as exc:
        load_model(p)
    assert fragment in str(exc.value)


def test_missing_file_and_binary_garbage(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        load_model(tmp_path / "nope.json")
    p = tmp_path / "garbage.bin"
    p.write_bytes(bytes(range(256)))
    with pytest.raises(ModelError):
        load_model(p)
