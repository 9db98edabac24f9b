"""The ECG example (issue 9): a small ALRNN trained on a real delay-embedded ECG, analysed exactly.

The recording (``ECG_delay_embedded.npy``, GPL-3.0, from DurstewitzLab/ALRNN-DSR) is read
from ``../shared/data`` beside the checkout and never copied into the project; tests that
need it are skipped with a reason when it is absent, and the training tests when torch (the
optional ``train`` extra) is not installed. Known answers come from mathematics: a 1-D
piecewise-linear map with a hand-solved stable 2-cycle, and an independent sympy solve of
the trained model's fixed points in each of its 2^P regions.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from proofs_examples.training import data as D
from symbolic.models import load_model, model_from_dict, model_to_dict
from symbolic.orbits import find_orbits
from verify.certificate import orbit_certificate
from verify.checker import check_certificate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ECG = DATA / "ECG_delay_embedded.npy"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


needs_torch = pytest.mark.skipif(not _installed("torch"), reason="torch (the optional 'train' extra) is not installed")
needs_ecg = pytest.mark.skipif(not ECG.exists(), reason=f"the ECG recording is not in {DATA} (GPL-3.0; never copied here)")

# a quick version of the example: the same model class (ALRNN M = 16, P = 4), fewer and larger steps
TINY = {"updates": 300, "seq_len": 50, "batch": 64, "lr": 0.01, "lyap_steps": 500, "cycle_max_period": 100}


@pytest.fixture(scope="module")
def tiny():
    """The trained tiny model's file dict (train_example: fit, metrics, orbits, cycles)."""
    from proofs_examples.training.train import train_example

    return train_example("ecg", seed=0, overrides=TINY, data_path=str(ECG))


# ----------------------------------------------------------------------------- bad input (no torch, no data needed)

def _bad(tmp_path, name, arr):
    p = tmp_path / name
    np.save(p, arr)
    return str(p)


@pytest.mark.parametrize("case", ["missing", "directory", "text", "1-D", "3-D", "few rows", "many columns",
                                  "nan", "strings", "npz", "no --data", "--data for a generated set"])
def test_bad_ecg_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, case):
    from proofs_examples.training.train import main

    out = str(tmp_path / "m.json")
    path = {
        "missing": str(tmp_path / "nope.npy"),
        "directory": str(tmp_path),
        "1-D": _bad(tmp_path, "a.npy", np.zeros(1000)),
        "3-D": _bad(tmp_path, "b.npy", np.zeros((1000, 5, 2))),
        "few rows": _bad(tmp_path, "c.npy", np.zeros((50, 5))),
        "many columns": _bad(tmp_path, "d.npy", np.zeros((1000, 500))),
        "nan": _bad(tmp_path, "e.npy", np.where(np.eye(1000, 5) > 0, np.nan, 0.0)),
        "strings": _bad(tmp_path, "f.npy", np.array([["a"] * 5] * 300)),
    }.get(case)
    if case == "npz":
        path = str(tmp_path / "h.npz")
        np.savez(path, x=np.zeros((1000, 5)))
    if case == "text":
        path = str(tmp_path / "g.npy")
        Path(path).write_text("1,2,3\n")
    argv = {"no --data": ["ecg", "--out", out],
            "--data for a generated set": ["duffing", "--data", str(ECG), "--out", out]}.get(
        case, ["ecg", "--data", path or "", "--out", out])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not Path(out).exists()


def test_heldout_split_needs_enough_rows(tmp_path):
    p = _bad(tmp_path, "short.npy", np.random.default_rng(0).normal(size=(300, 5)))
    with pytest.raises(D.DataError, match="too few"):
        D.ecg(p)
    with pytest.raises(D.DataError, match="heldout"):
        D.ecg(p, heldout=1.0)


# ----------------------------------------------------------------------------- the cycle finder: known answers

# f(x) = x/4 + 1 for x <= 0 and -3x + 1 for x > 0 (plrnn: A = 1/4, W = -13/4, h = 1).
# Solving p = -3q + 1, q = p/4 + 1 with p < 0 < q: the 2-cycle (-8/7, 5/7), multiplier
# (1/4)(-3) = -3/4 (stable); the only fixed point is x = 1/4 (slope -3: a repeller).
TWO_CYCLE = {"kind": "plrnn", "A": [0.25], "W": [[-3.25]], "h": [1]}


def test_attracting_cycles_finds_the_hand_solved_stable_2_cycle():
    from proofs_examples.training.train import attracting_cycles

    m = model_from_dict(TWO_CYCLE)
    r = attracting_cycles(m, np.array([[-5.0], [0.3], [3.0], [0.2500001]]), steps=300, max_period=10)
    assert [(c["period"], c["type"], c["points"], c["certified"]) for c in r["cycles"]] == \
        [(2, "attractor", [["-8/7"], ["5/7"]], True)]
    assert r["periods_seen"] == {2: 4}
    # |multiplier|^(1/2) per step: the rate is an upper bound on log(3/4)/2 from the exact enclosure
    assert r["cycles"][0]["rate_per_step_upper"] >= math.log(0.75) / 2
    assert r["cycles"][0]["rate_per_step_upper"] == pytest.approx(math.log(0.75) / 2, abs=1e-6)


def test_attracting_cycles_agrees_with_the_numerical_lyapunov_exponent_on_the_2_cycle():
    from graph.metrics import max_lyapunov

    lam = max_lyapunov(model_from_dict(TWO_CYCLE), np.array([0.3]), steps=2000, transient=100)
    assert lam == pytest.approx(math.log(0.75) / 2, abs=1e-9)


def test_attracting_cycles_labels_a_run_sitting_on_the_repelling_fixed_point_a_repeller():
    """From exactly the repelling fixed point 1/4 a float run stays there (1/4 is a dyadic): the
    finder confirms the fixed point exactly and reports it as a repeller, not as an attractor."""
    from proofs_examples.training.train import attracting_cycles

    r = attracting_cycles(model_from_dict(TWO_CYCLE), np.array([[0.25]]), steps=50, max_period=4)
    assert [(c["period"], c["type"], c["points"]) for c in r["cycles"]] == [(1, "repeller", [["1/4"]])]


# ----------------------------------------------------------------------------- the recording

@needs_ecg
def test_ecg_split_is_the_files_rows_zscored_with_training_statistics():
    X = np.load(ECG).astype(float)
    ds = D.ecg(str(ECG))
    (tr,), te = ds.trajectories, ds.heldout
    assert tr.shape == (8000, 5) and te.shape == (2000, 5)
    np.testing.assert_allclose(ds.to_raw(tr), X[:8000], atol=1e-12)
    np.testing.assert_allclose(ds.to_raw(te), X[8000:], atol=1e-12)
    np.testing.assert_allclose(tr.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(tr.std(axis=0), 1, rtol=1e-12)


@needs_ecg
def test_ecg_is_a_stationary_rhythm_that_a_gaussian_does_not_explain():
    """The data facts behind the yardsticks: the last 2000 training samples are far closer to the
    held-out part than a Gaussian with the held-out moments (state space and spectrum), and the
    dominant beat period is about 69 samples (≈ 145 beats in 10000 samples)."""
    from graph.metrics import hellinger_spectrum_distance, state_space_divergence

    ds = D.ecg(str(ECG))
    X, T = ds.heldout, ds.trajectories[0][-2000:]
    G = np.random.default_rng(0).multivariate_normal(X.mean(0), np.cov(X.T), size=len(X))
    assert 5 * state_space_divergence(X, T) < state_space_divergence(X, G)
    assert 3 * hellinger_spectrum_distance(X, T) < hellinger_spectrum_distance(X, G)
    x = np.load(ECG)[:, 0].astype(float)
    P = np.abs(np.fft.rfft(x - x.mean())) ** 2
    k = int(np.argmax(P[50:200])) + 50  # the beat's fundamental (higher harmonics are stronger in an ECG)
    assert 60 <= len(x) / k <= 80


# ----------------------------------------------------------------------------- training (torch + data)

@needs_torch
@needs_ecg
def test_ecg_training_is_deterministic():
    from proofs_examples.training.train import EXAMPLES, fit

    ds = D.ecg(str(ECG))
    cfg = {**EXAMPLES["ecg"], "updates": 8, "batch": 4, "seq_len": 20}
    a, b, c = fit(ds, cfg, seed=5), fit(ds, cfg, seed=5), fit(ds, cfg, seed=6)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


@needs_torch
@needs_ecg
def test_trained_ecg_model_beats_the_gaussian_baseline_on_heldout_dstsp(tiny):
    h = tiny["provenance"]["heldout_metrics"]
    assert h["samples"] == 2000
    assert h["model"]["D_stsp"] < h["gaussian_baseline"]["D_stsp"]
    # the data's own variability is the floor no model is expected to reach here
    assert h["training_tail"]["D_stsp"] < h["model"]["D_stsp"]


@needs_torch
@needs_ecg
def test_trained_ecg_model_orbit_list_is_complete_and_certified(tiny):
    m = model_from_dict(tiny)
    assert (m.n, m.L, tiny["kind"], tiny["P"]) == (16, 4, "alrnn", 4)
    res = find_orbits(m, max_period=3, mode="exhaustive")
    assert res.status == "complete"
    rep = check_certificate(orbit_certificate(m, res))
    assert rep.ok and len(rep.results) == len(res.orbits) >= 1
    assert tiny["provenance"]["orbits"]["status"] == "complete"


@needs_torch
@needs_ecg
def test_trained_ecg_fixed_points_equal_an_independent_solve_in_every_region(tiny):
    """z = A⊙z + W φ(z) + h solved with sympy over Q in each of the 2^4 patterns of the ReLU
    units, kept iff the solution has exactly that (strict) pattern."""
    d = model_to_dict(model_from_dict(tiny))
    n, P = len(d["h"]), d["P"]
    A = sp.Matrix(n, n, lambda i, j: sp.Rational(d["A"][i][j])) if isinstance(d["A"][0], list) \
        else sp.diag(*[sp.Rational(v) for v in d["A"]])
    W = sp.Matrix(n, n, lambda i, j: sp.Rational(d["W"][i][j]))
    h = sp.Matrix(n, 1, lambda i, _: sp.Rational(d["h"][i]))
    brute = set()
    for bits in itertools.product([0, 1], repeat=P):
        z = (sp.eye(n) - A - W * sp.diag(*([1] * (n - P) + list(bits)))).LUsolve(h)
        if all((z[n - P + k] > 0) == bool(b) and z[n - P + k] != 0 for k, b in enumerate(bits)):
            brute.add(tuple(Fraction(int(v.p), int(v.q)) for v in z))
    found = {o.points[0] for o in find_orbits(model_from_dict(tiny), max_period=1, mode="exhaustive").orbits}
    assert found == brute


@needs_torch
@needs_ecg
def test_cycles_the_free_runs_settle_on_are_certified_and_in_the_complete_list(tiny):
    """Every cycle the trajectories find is certified by the checker; those within the complete
    search's period bound must be in its exact orbit list (completeness), with the same type."""
    cyc = tiny["provenance"]["attracting_cycles"]
    assert cyc["diverged"] == 0 and cyc["cycles"]
    orbits = tiny["provenance"]["orbits"]
    exact = {(o["period"], o["type"], tuple(o["point"])) for o in orbits["orbits"]}
    m = model_from_dict(tiny)
    for c in cyc["cycles"]:
        assert c["certified"] and c["check"].startswith("all")
        if c["period"] <= orbits["max_period"]:
            res = find_orbits(m, max_period=c["period"], mode="exhaustive")
            pts = {tuple(Fraction(v) for v in p) for o in res.orbits if o.period == c["period"] for p in o.points}
            assert tuple(Fraction(v) for v in c["points"][0]) in pts
            assert any(t == c["type"] and p == c["period"] for p, t, _ in exact)


@needs_torch
@needs_ecg
def test_ecg_train_command_writes_a_model_the_report_can_load(tmp_path):
    from proofs_examples.training.train import main

    out = tmp_path / "ecg.json"
    rc = main(["ecg", "--data", str(ECG), "--out", str(out), "--quiet", "--set", "updates=5", "--set", "batch=4",
               "--set", "lyap_steps=50", "--set", "cycle_max_period=20"])
    assert rc == 0
    d = json.loads(out.read_text())
    prov = d["provenance"]
    assert f"--data {ECG}" in prov["command"] and prov["command"].endswith("--out ecg.json")
    assert prov["data"]["params"]["heldout_rows"] == [8000, 10000]
    m = load_model(str(out))
    assert (m.n, m.L) == (16, 4) and m.observation is not None
    assert prov["orbits"]["status"] == "complete"
