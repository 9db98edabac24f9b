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
