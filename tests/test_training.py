"""Training extra (torch) smoke and reproducibility tests; shipped trained models' files.

The torch tests are skipped when the optional ``train`` extra is not installed (CI).
"""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from proofs_examples import example_names, example_path
from proofs_examples.training import data as D
from symbolic.models import load_model

def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


HAS_TORCH = _installed("torch")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch (the optional 'train' extra) is not installed")

TRAINED = ("duffing", "lorenz63", "decision", "santafe_laser")


# ----------------------------------------------------------------------------- data

def test_duffing_data_is_zscored_and_deterministic():
    a, b = D.duffing(grid=3, t_end=5.0), D.duffing(grid=3, t_end=5.0)
    X = a.stacked()
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    assert all(np.array_equal(x, y) for x, y in zip(a.trajectories, b.trajectories))
    np.testing.assert_allclose(a.to_raw(X)[0], [-4.0, -2.5], atol=1e-12)


def test_duffing_trajectories_settle_on_the_two_foci():
    ds = D.duffing(grid=4, t_end=60.0)
    ends = np.array([ds.to_raw(t[-1]) for t in ds.trajectories])
    assert np.all(np.abs(np.abs(ends[:, 0]) - np.sqrt(10)) < 1e-2)
    assert {np.sign(e) for e in ends[:, 0]} == {-1.0, 1.0}


def test_decision_network_has_a_symmetric_saddle_and_two_choice_attractors():
    fp = D.decision_fixed_points()
    for p in fp.values():
        np.testing.assert_allclose(D.decision_rhs(0, p), 0, atol=1e-10)
    s = fp["saddle"]
    assert s[0] == s[1]
    eps, J = 1e-7, np.zeros((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = eps
        J[:, j] = (np.array(D.decision_rhs(0, s + e)) - np.array(D.decision_rhs(0, s - e))) / (2 * eps)
    assert (np.linalg.eigvals(J).real > 0).sum() == 1  # one unstable direction: a saddle


def test_decision_trials_end_in_both_choices():
    ds = D.decision(n_trials=12, t_free=150.0)
    ends = np.array([ds.to_raw(t[-1]) for t in ds.trajectories])
    assert 0 < int((ends[:, 0] > ends[:, 1]).sum()) < 12


@pytest.mark.skipif(not _installed("reservoirpy"), reason="reservoirpy (the 'train' extra) is not installed")
def test_santafe_laser_recording_is_the_known_series():
    x = D.santafe_laser_raw()
    assert x.shape == (10093,)
    assert x[:5].tolist() == [86.0, 141.0, 95.0, 41.0, 22.0]
    ds = D.santafe_laser(embed=3, lag=2)
    assert ds.trajectories[0].shape == (10093 - 4, 3)
    np.testing.assert_allclose(ds.to_raw(ds.trajectories[0][0]), [x[4], x[2], x[0]])


# ----------------------------------------------------------------------------- shipped models

@pytest.mark.parametrize("name", TRAINED)
def test_shipped_trained_model_loads_and_documents_its_provenance(name):
    if name not in example_names():
        pytest.skip(f"{name}.json is not shipped")
    with open(example_path(name), encoding="utf-8") as fh:
        d = json.load(fh)
    m = load_model(str(example_path(name)))
    assert d["name"] == name and d["description"]
    prov = d["provenance"]
    for key in ("data", "seed", "hyperparameters", "metrics", "orbits", "command"):
        assert key in prov
    assert prov["command"].startswith("python -m proofs_examples.training.train ")
    assert f"--seed {prov['seed']}" in prov["command"]
    assert m.observation is not None
    # the latent model stays bounded from the data's initial states
    Z = m.trajectory(np.zeros(m.n), 2000)
    assert np.all(np.isfinite(Z)) and np.abs(Z).max() < 1e3


# ----------------------------------------------------------------------------- training (torch)

@needs_torch
def test_training_is_reproducible_with_the_same_seed():
    from proofs_examples.training.train import EXAMPLES, fit

    ds = D.duffing(grid=3, t_end=20.0)
    cfg = {**EXAMPLES["duffing"], "updates": 15, "batch": 4, "seq_len": 30}
    a, b = fit(ds, cfg, seed=3), fit(ds, cfg, seed=3)
    c = fit(ds, cfg, seed=4)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


@needs_torch
def test_training_lowers_the_teacher_forced_loss():
    import torch

    from proofs_examples.training.train import EXAMPLES, _Model, fit

    ds = D.duffing(grid=3, t_end=20.0)
    cfg = {**EXAMPLES["duffing"], "updates": 300, "batch": 8, "seq_len": 30, "tau": 10, "lr": 5e-3}

    def loss(model):
        X = torch.from_numpy(np.stack([t[:31] for t in ds.trajectories]).astype(np.float32))
        z, err = X[:, 0], 0.0
        with torch.no_grad():
            for t in range(1, 31):
                z = model.step(z)
                err += float(torch.mean((z - X[:, t]) ** 2))
                if t % cfg["tau"] == 0:
                    z = X[:, t]
        return err

    torch.manual_seed(0)
    untrained = _Model("shplrnn", 2, 2, 10, gen=torch.Generator().manual_seed(0))
    assert loss(fit(ds, cfg, seed=0)) < 0.6 * loss(untrained)


@needs_torch
def test_exported_alrnn_matches_the_torch_step():
    import torch

    from proofs_examples.training.train import _Model
    from symbolic.models import model_from_dict

    torch.manual_seed(1)
    m = _Model("alrnn", 3, 7, P=3, gen=torch.Generator().manual_seed(1))
    with torch.no_grad():
        m.W.normal_(0, 0.5)
    pm = model_from_dict(m.to_dict())
    Z = np.random.default_rng(0).normal(size=(20, 7)).astype(np.float32)
    with torch.no_grad():
        ref = m.step(torch.from_numpy(Z)).double().numpy()
    np.testing.assert_allclose(pm.f(Z.astype(float)), ref, rtol=1e-5, atol=1e-5)


@needs_torch
def test_train_command_writes_a_loadable_model_file(tmp_path):
    from proofs_examples.training.train import main

    out = tmp_path / "duffing.json"
    rc = main(["duffing", "--seed", "0", "--out", str(out), "--quiet",
               "--set", "updates=5", "--set", "batch=4", "--set", "lyap_steps=50", "--set", "basin_grid=0"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert "--set updates=5" in d["provenance"]["command"]
    m = load_model(str(out))
    assert (m.n, d["kind"]) == (2, "shplrnn")
    assert d["provenance"]["orbits"]["status"] == "complete"
