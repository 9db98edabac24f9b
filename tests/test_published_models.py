"""The PLRNN authors' published ALRNNs trained on Lorenz-63 (../shared/data, issue 9).

Skipped with a reason when the shared data folder is absent. Known answers come from an
independent brute-force solve: sympy over Q in each of the 2^P regions of the M = 20 model.
"""
from __future__ import annotations

import itertools
import json
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symbolic.models import load_model, model_to_dict
from symbolic.orbits import find_orbits
from verify.certificate import orbit_certificate
from verify.checker import check_certificate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
M20 = DATA / "alrnn_lorenz_m20_p2.pt"
M30 = DATA / "alrnn_lorenz_m30_p10.pt"
pytestmark = pytest.mark.skipif(not M20.exists(), reason=f"published checkpoints not found in {DATA}")


def brute_force_fixed_points(model):
    """Independent of the search: the ALRNN formula z = A⊙z + W φ(z) + h solved with sympy in
    every pattern of the P ReLU units, kept iff the solution has exactly that pattern."""
    d = model_to_dict(model)
    n, P = len(d["h"]), d["P"]
    A = sp.diag(*[sp.Rational(v) for v in d["A"]]) if not isinstance(d["A"][0], list) else sp.Matrix(d["A"])
    A = sp.Matrix(n, n, lambda i, j: sp.Rational(d["A"][i][j]))
    W = sp.Matrix(n, n, lambda i, j: sp.Rational(d["W"][i][j]))
    h = sp.Matrix(n, 1, lambda i, _: sp.Rational(d["h"][i]))
    out = set()
    for bits in itertools.product([0, 1], repeat=P):
        D = sp.diag(*([1] * (n - P) + list(bits)))
        z = (sp.eye(n) - A - W * D).LUsolve(h)
        relu_units = z[n - P:, 0]
        if all((v > 0) if b else (v < 0) for v, b in zip(relu_units, bits)):
            out.add(tuple(F(int(sp.fraction(v)[0]), int(sp.fraction(v)[1])) for v in z))
    return out


def test_m20_reads_with_the_strided_A_and_has_four_regions():
    m = load_model(M20)
    assert (m.kind, m.n, m.L) == ("alrnn", 20, 2)


def test_m20_exact_fixed_point_set_equals_independent_brute_force():
    m = load_model(M20)
    res = find_orbits(m, max_period=1, mode="exhaustive")
    assert res.status == "complete"
    found = {o.points[0] for o in res.orbits}
    assert found == brute_force_fixed_points(m)
    assert len(found) == 4


def test_m20_cycles_up_to_period_6_complete_and_certified():
    m = load_model(M20)
    res = find_orbits(m, max_period=6, mode="exhaustive")
    assert res.status == "complete"
    cert = orbit_certificate(m, res)
    rep = check_certificate(cert)
    assert rep.ok, rep.message()
    assert {c["id"] for c in cert["claims"]} == {f"orbit:{o.id}" for o in res.orbits}
    # Lorenz-like skeleton: every fixed point is a saddle (no stable equilibrium in a chaotic attractor)
    assert all(o.type == "saddle" for o in res.orbits if o.period == 1)


def test_m20_attractor_is_chaotic_like_lorenz_numerically():
    from graph.metrics import max_lyapunov

    m = load_model(M20)
    X = np.load(DATA / "lorenz63_test.npy")
    z = np.zeros(20)
    z[:3] = X[1000]  # the model reads out its first N = 3 units
    traj = m.trajectory(z, 3000)
    assert np.abs(traj).max() < 10  # stays on a bounded attractor
    lam = max_lyapunov(m, traj[-1], steps=4000, transient=500)
    # Lorenz-63: lambda_max ~ 0.9 per time unit, i.e. ~ 0.009 per step of dt = 0.01
    assert 0.002 < lam < 0.03


@pytest.mark.skipif(not M30.exists(), reason="M = 30 checkpoint absent")
def test_m30_fixed_points_certified():
    m = load_model(M30)
    res = find_orbits(m, max_period=1, mode="exhaustive")
    rep = check_certificate(orbit_certificate(m, res))
    assert rep.ok and len(rep.results) == len(res.orbits) >= 1


def test_m20_reconstruction_beats_a_gaussian_with_the_data_moments():
    """D_stsp and D_H of the model's free run (read out through its first 3 units) against the
    held-out Lorenz-63 series, compared with a Gaussian of the same mean and covariance."""
    from graph.metrics import reconstruction_metrics

    m = load_model(M20)
    X = np.load(DATA / "lorenz63_test.npy")[500:20500]
    z = np.zeros(20)
    z[:3] = X[0]
    T = m.trajectory(z, 21000)[1000:, :3]
    G = np.random.default_rng(0).multivariate_normal(X.mean(0), np.cov(X.T), size=len(T))
    model = reconstruction_metrics([X], [T])
    gauss = reconstruction_metrics([X], [G])
    assert model["D_H"] < 0.5 * gauss["D_H"]
    assert model["D_stsp"] < gauss["D_stsp"]


# ----------------------------------------------------------------------------- λ from the data, full reports

LORENZ = DATA / "lorenz63_test.npy"


@pytest.mark.skipif(not LORENZ.exists(), reason="lorenz63_test.npy absent")
def test_rosenstein_on_the_lorenz_data_gives_the_known_exponent():
    """Lorenz-63 (sigma 10, rho 28, beta 8/3): lambda_max ~ 0.906 per time unit; the series is
    sampled at dt = 0.01, so ~ 0.0091 per sample."""
    from graph.metrics import rosenstein_lyapunov

    est = rosenstein_lyapunov(np.load(LORENZ))
    assert est.status == "ok"
    assert 0.75 < est.value / 0.01 < 1.05


def _certified_ids(rep):
    return {cid for r in rep.claims if r.status == "certified" for cid in r.claim_id.split(", ") if cid}


@pytest.fixture(scope="module")
def m20_report(tmp_path_factory):
    """The full default report of the M = 20 model (as `plrnn-manifolds report ... --data ...`)."""
    from verify.report import ReportOptions, build_report, write_report

    X = np.load(LORENZ) if LORENZ.exists() else None
    rep = build_report(load_model(M20), ReportOptions(data=X, data_name="lorenz63_test.npy"))
    out = write_report(rep, tmp_path_factory.mktemp("m20") / "r")
    return rep, Path(out)


@pytest.mark.slow
def test_m20_full_report_certificate_is_accepted_by_the_checker(m20_report):
    rep, out = m20_report
    cert = json.loads((out / "certificate.json").read_text())
    report = check_certificate(cert)
    assert report.ok, report.message()
    assert len(cert["claims"]) >= 4 and _certified_ids(rep) <= report.accepted()
    # the four saddles are certified rows
    assert {r.subject for r in rep.claims if r.status == "certified"} >= {"P1-1", "P1-2", "P1-3", "P1-4"}
    # the headline: a certified Smale-Birkhoff claim (homoclinic orbit of a long saddle cycle)
    chaos = [c for c in cert["claims"] if c["type"] == "transversal-homoclinic-orbit-to-cycle"]
    assert chaos and chaos[0]["id"] in report.accepted()
    assert any(r.status == "certified" and r.theorem == "smale-birkhoff" for r in rep.claims)
    assert (out / "cycle_homoclinic.png").stat().st_size > 0


@pytest.mark.slow
def test_m20_full_report_traces_the_published_models_manifolds(m20_report):
    rep, out = m20_report
    text = dict(rep.sections)["Manifolds"]
    for label in ("W^u P1-1", "W^u P1-2", "W^u P1-4", "W^s P1-2"):     # 2-D, 1-D, 2-D, 19-D
        assert f"| {label} |" in text
    row = next(r for r in rep.claims if r.subject == "P1-2" and r.statement.startswith("W^u"))
    assert row.status == "numerical" and "1-dimensional" in row.statement
    names = [s[0] for s in rep.stages]
    assert "manifolds / W^u P1-2 trace" in names and "manifolds / W^u P1-2 Δσ" in names
    assert (out / "manifolds.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.skipif(not LORENZ.exists(), reason="lorenz63_test.npy absent")
def test_m20_full_report_reconstruction_is_numerical_and_lorenz_like(m20_report):
    rep, out = m20_report
    rec = json.loads((out / "results.json").read_text())["reconstruction"]
    assert rec["model"]["D_H"] < 0.5 * rec["Gaussian"]["D_H"]
    lam = rec["lyapunov"]
    assert 0.75 < lam["data_rosenstein"] / 0.01 < 1.05
    assert 0.5 < lam["model_qr"] / lam["data_rosenstein"] < 2.0
    assert all(r.status == "numerical" for r in rep.claims if r.subject == "reconstruction")


@pytest.mark.slow
@pytest.mark.skipif(not M30.exists(), reason="M = 30 checkpoint absent")
def test_m30_report_certificate_is_accepted_by_the_checker(tmp_path):
    """The M = 30 report's claims (orbits, trap of the stable fixed point, basin labels) are all
    accepted. Manifold tracing adds no claims, so it is switched off here to keep the test short."""
    from verify.report import ReportOptions, build_report, write_report

    rep = build_report(load_model(M30), ReportOptions(manifolds=False, resolution=24, cycles=False))
    out = Path(write_report(rep, tmp_path / "r"))
    cert = json.loads((out / "certificate.json").read_text())
    report = check_certificate(cert)
    assert report.ok, report.message()
    assert _certified_ids(rep) <= report.accepted()
    types = {c["type"] for c in cert["claims"]}
    assert "periodic-orbit" in types or any(c["id"].startswith("orbit:") for c in cert["claims"])
