"""The verified report (issue 6): completes on every bundled example, the checker accepts
every certificate, the certificate is byte-identical across runs, the HTML is self-contained."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from proofs_examples import example_names, example_path
from symbolic.models import load_model
from verify.checker import check_certificate
from verify.cli import main
from verify.report import ReportOptions, build_report, certificate_bytes, write_report

SMALL = ["lozi", "tent", "bistable", "border_collision", "gingerbreadman"]


@pytest.mark.parametrize("name", SMALL)
def test_report_on_bundled_example_is_accepted_by_the_checker(tmp_path, name):
    rep = build_report(load_model(example_path(name)), ReportOptions(steps=500, budget=300))
    out = write_report(rep, tmp_path / "r")
    cert = json.loads((tmp_path / "r" / "certificate.json").read_text())
    report = check_certificate(cert)
    assert report.ok, report.message()
    certified_ids = {cid for r in rep.claims if r.status == "certified" for cid in r.claim_id.split(", ")}
    assert "" not in certified_ids and certified_ids <= report.accepted()
    for f in ("report.md", "report.html", "state_space.png"):
        assert (tmp_path / "r" / f).stat().st_size > 0


def test_lozi_report_certifies_a_homoclinic_orbit_and_both_saddles(tmp_path):
    rep = build_report(load_model(example_path("lozi")), ReportOptions(steps=500, budget=300))
    status = {(r.subject, r.status) for r in rep.claims}
    assert ("P1-1", "certified") in status and ("P1-2", "certified") in status
    assert any("homoclinic" in r.statement and r.status == "certified" for r in rep.claims)
    assert any(t == "Theorems" and "Smale-Birkhoff" in x for t, x in rep.sections)


def test_gingerbreadman_report_certifies_no_hyperbolicity_of_the_elliptic_point():
    rep = build_report(load_model(example_path("gingerbreadman")), ReportOptions(steps=300))
    row = next(r for r in rep.claims if r.subject == "P1-1" and "non-hyperbolic" in r.statement)
    assert "existence" in row.statement
    assert not any("Smale" in x for _, x in rep.sections)


def test_certificate_is_byte_identical_across_runs():
    m = load_model(example_path("border_collision"))
    a = certificate_bytes(build_report(m, ReportOptions(steps=300, seed=3, manifolds=False)).certificate)
    b = certificate_bytes(build_report(m, ReportOptions(steps=300, seed=3, manifolds=False)).certificate)
    assert a == b


def test_html_is_self_contained(tmp_path):
    rep = build_report(load_model(example_path("bistable")), ReportOptions(steps=300))
    write_report(rep, tmp_path / "r")
    html = (tmp_path / "r" / "report.html").read_text()
    srcs = re.findall(r"src=['\"]([^'\"]+)", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in html and "https://" not in html


def test_existing_folder_is_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["report", "tent", "--out", str(out), "--quiet", "--steps", "200"])
    assert code == 2 and "--force" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["report", "tent", "--out", str(out), "--quiet", "--steps", "200", "--force"]) == 0
    assert not (out / "keep.txt").exists() and (out / "certificate.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary folders left behind


def test_report_without_model_uses_the_default_example(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "r"), "--quiet", "--steps", "200", "--no-manifolds"]) == 0
    assert "lozi" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian package 'chromium' not installed")
def test_html_renders_in_headless_chromium_with_all_images(tmp_path):
    rep = build_report(load_model(example_path("lozi")), ReportOptions(steps=300, budget=200))
    write_report(rep, tmp_path / "r")
    page = tmp_path / "r" / "report.html"
    shot = tmp_path / "shot.png"
    # the DOM after load: every <img> must have decoded (naturalWidth > 0)
    js = tmp_path / "r" / "probe.html"
    js.write_text(page.read_text().replace("</body>", "<script>window.onload=()=>{document.title="
                  "[...document.images].every(i=>i.naturalWidth>0)?'IMAGES-OK':'IMAGES-BROKEN'}</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", js.as_uri()], capture_output=True, text=True, timeout=120)
    assert "<title>IMAGES-OK</title>" in dom.stdout
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_bistable_report_draws_the_diagonal_as_the_saddles_exact_stable_manifold():
    rep = build_report(load_model(example_path("bistable")), ReportOptions(steps=300))
    row = next(r for r in rep.claims if r.subject == "P1-3" and r.statement.startswith("W^s"))
    assert "exact rational pieces" in row.statement and row.status == "numerical"
    assert any(f.name == "state_space.png" and "stable manifold" in f.caption for f in rep.figures)


# ----------------------------------------------------------------------------- reconstruction (--data)

import math  # noqa: E402

import numpy as np  # noqa: E402

from graph.metrics import delay_embed, rosenstein_lyapunov  # noqa: E402


def _logistic(n, x0=0.3):
    x = np.empty(n)
    x[0] = x0
    for t in range(1, n):
        x[t] = 4 * x[t - 1] * (1 - x[t - 1])
    return x


def _lozi(n, a=1.7, b=0.5):
    X = np.empty((n, 2))
    X[0] = (0.1, 0.1)
    for t in range(1, n):
        x, y = X[t - 1]
        X[t] = (1 + y - a * abs(x), b * x)
    return X


def test_rosenstein_recovers_log2_for_the_logistic_map_r4():
    # r = 4: conjugate to the tent map, lambda = ln 2 exactly (Ulam & von Neumann)
    est = rosenstein_lyapunov(_logistic(20000), horizon=20)
    assert est.status == "ok" and abs(est.value - math.log(2)) < 0.05


def test_rosenstein_recovers_log_slope_for_a_tent_map():
    # tent map of slope s (s < 2 so floats do not collapse to 0): |T'| = s everywhere, lambda = ln s
    s = 1.99
    x = np.empty(20000)
    x[0] = 0.3123
    for t in range(1, len(x)):
        x[t] = s * min(x[t - 1], 1 - x[t - 1])
    est = rosenstein_lyapunov(x, horizon=20)
    assert abs(est.value - math.log(s)) < 0.05


def test_rosenstein_of_a_fully_observed_rotation_is_zero():
    # a circle rotation: neighbour distances stay constant, lambda = 0
    t = np.arange(20000)
    est = rosenstein_lyapunov(np.c_[np.sin(0.05 * t), np.cos(0.05 * t)])
    assert abs(est.value) < 1e-6


def test_delay_embedding_shape_and_rows():
    X = delay_embed(np.arange(10.0), dim=3, tau=2)
    assert X.shape == (6, 3) and X[0].tolist() == [0, 2, 4] and X[-1].tolist() == [5, 7, 9]


def test_lozi_report_with_data_reconstructs_the_known_lyapunov_exponent(tmp_path):
    # the Lozi map (a = 1.7, b = 0.5) has lambda_1 ~ 0.470 per step (Lozi 1978; Sprott 2003 tables)
    np.save(tmp_path / "lozi.npy", _lozi(30000)[1000:])
    out = tmp_path / "r"
    assert main(["report", "lozi", "--out", str(out), "--quiet", "--steps", "300", "--no-manifolds",
                 "--data", str(tmp_path / "lozi.npy")]) == 0
    res = json.loads((out / "results.json").read_text())
    rec = res["reconstruction"]
    assert abs(rec["lyapunov"]["model_qr"] - 0.470) < 0.03
    assert abs(rec["lyapunov"]["data_rosenstein"] - 0.470) < 0.06
    # data generated by the model's own map: as close as the data's second window, far below the Gaussian
    assert rec["model"]["D_H"] < 0.5 * rec["Gaussian"]["D_H"]
    assert rec["model"]["D_stsp"] < rec["Gaussian"]["D_stsp"]
    rows = [c for c in res["claims"] if c["subject"] == "reconstruction"]
    assert len(rows) == 3 and all(c["status"] == "numerical" for c in rows)
    assert (out / "reconstruction.png").stat().st_size > 0
    md = (out / "report.md").read_text()
    assert "## Reconstruction" in md and "| Gaussian |" in md and "reconstruction / " in md


def _bad_arrays():
    return {
        "one_dim": np.zeros(500),
        "three_dim": np.zeros((500, 2, 1)),
        "nan": np.full((500, 2), np.nan),
        "too_short": np.zeros((20, 2)),
        "three_columns": np.zeros((500, 3)),          # lozi has n = 2 and no observation
        "strings": np.array([["a", "b"]] * 500),
    }


@pytest.mark.parametrize("case", ["missing", "not_npy", *_bad_arrays()])
def test_bad_data_is_one_line_exit_2_and_no_folder(tmp_path, capsys, case):
    path = tmp_path / f"{case}.npy"
    if case == "not_npy":
        path.write_text("hello")
    elif case != "missing":
        np.save(path, _bad_arrays()[case])
    out = tmp_path / "r"
    code = main(["report", "lozi", "--out", str(out), "--quiet", "--data", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--data" in err and "Traceback" not in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_data_dimension_must_match_the_observation():
    from symbolic.models import model_from_dict
    from verify.report import observation_map

    m = model_from_dict({"kind": "plrnn", "A": [0.5, 0.5, 0.5], "W": [[0, 0, 0]] * 3, "h": [0, 0, 0],
                         "observation": {"B": [[1, 0, 0], [0, 1, 1]]}})
    M, b, _ = observation_map(m, 2)
    assert M.tolist() == [[1, 0, 0], [0, 1, 1]] and b.tolist() == [0, 0]
    with pytest.raises(ValueError, match="observation maps to 2"):
        observation_map(m, 3)


def test_manifold_stage_lists_sub_stage_times():
    rep = build_report(load_model(example_path("bistable")), ReportOptions(steps=300))
    names = [s[0] for s in rep.stages]
    i = names.index("manifolds")
    subs = [n for n in names if n.startswith("manifolds / ")]
    assert subs and all(names.index(n) > i for n in subs)
    assert any(n.endswith(" trace") for n in subs) and any(n.endswith("Δσ") for n in subs)
    assert any(t == "Manifolds" and "| W^s P1-3 |" in x for t, x in rep.sections)
