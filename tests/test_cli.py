"""The command line contract (DESIGN §10): JSON fields, exit codes, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction as F

import pytest

from verify.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_examples_lists_bundled_models(capsys):
    code, out, _ = run(capsys, "examples", "--json")
    names = {e["name"] for e in json.loads(out)["examples"]}
    assert code == 0 and {"lozi", "tent", "bistable", "border_collision"} <= names


def test_orbits_json_has_the_design_fields(capsys):
    code, out, _ = run(capsys, "orbits", "lozi", "--max-period", "2", "--json", "--quiet")
    doc = json.loads(out)
    assert code == 0 and doc["model"]["n"] == 2
    assert doc["search"]["status"] == "complete"
    for rec in doc["orbits"]:
        assert {"id", "period", "points", "regions", "type", "stable_dim", "unstable_dim", "eigenvalues",
                "certified"} <= set(rec)
    fps = {tuple(F(v) for v in r["points"][0]) for r in doc["orbits"] if r["period"] == 1}
    assert fps == {(F(5, 11), F(5, 22)), (F(-5, 6), F(-5, 12))}
    assert all(r["certified"] for r in doc["orbits"])


def test_orbits_table_and_certificate_then_check(tmp_path, capsys):
    cert = tmp_path / "c.json"
    code, out, err = run(capsys, "orbits", "bistable", "--certificate", str(cert))
    assert code == 0 and "attractor" in out and "saddle" in out
    assert "[" in err  # progress lines on stderr
    code, out, _ = run(capsys, "check", str(cert))
    assert code == 0 and "all 3 claims verified" in out


def test_check_fails_with_exit_1_on_a_false_claim(tmp_path, capsys):
    cert = tmp_path / "c.json"
    run(capsys, "orbits", "lozi", "--certificate", str(cert), "--quiet")
    doc = json.loads(cert.read_text())
    doc["claims"][0]["points"][0][0] = "5/12"
    cert.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "check", str(cert))
    assert code == 1 and "FAIL" in out and doc["claims"][0]["id"] in out.splitlines()[-1]


def test_check_fails_when_stability_is_misstated(tmp_path, capsys):
    cert = tmp_path / "c.json"
    run(capsys, "orbits", "bistable", "--certificate", str(cert), "--quiet")
    doc = json.loads(cert.read_text())
    claim = next(c for c in doc["claims"] if c["orbit_type"] == "saddle")
    claim["stable_dim"], claim["unstable_dim"] = 2, 0
    cert.write_text(json.dumps(doc))
    assert run(capsys, "check", str(cert))[0] == 1


def test_certificate_for_one_model_fails_for_another(tmp_path, capsys):
    cert = tmp_path / "c.json"
    run(capsys, "orbits", "lozi", "--certificate", str(cert), "--quiet")
    doc = json.loads(cert.read_text())
    doc["model"]["A"][0][0] = "8/5"  # a = 8/5 instead of 17/10
    cert.write_text(json.dumps(doc))
    assert run(capsys, "check", str(cert))[0] == 1


@pytest.mark.parametrize("content,fragment", [
    ('{"kind": "plrnn", "A": [1, 2], "W": [[1]], "h": [0, 0]}', "key 'W'"),
    ('{"kind": "gru"}', "unknown model kind"),
    ('{"kind": "plrnn", "A": [NaN], "W": [[1]], "h": [0]}', "non-finite"),
    ('{"kind": "plrnn"', "invalid JSON"),
    ('{"kind": "plrnn", "A": ["a"], "W": [[1]], "h": [0]}', "key 'A'"),
    ('{"kind": "plrnn", "A": [1], "W": [[1]]}', "missing key 'h'"),
])
def test_bad_model_files_exit_2_with_one_line(tmp_path, capsys, content, fragment):
    p = tmp_path / "bad.json"
    p.write_text(content)
    code, out, err = run(capsys, "orbits", str(p), "--quiet")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err


def test_unknown_model_name_and_bad_certificate_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "orbits", "no-such-model")
    assert code == 2 and "no such file" in err
    p = tmp_path / "x.json"
    p.write_text('{"format": "something else"}')
    code, _, err = run(capsys, "check", str(p))
    assert code == 2 and "not a plrnn-manifolds certificate" in err


def test_too_many_itineraries_is_a_usage_error(capsys):
    code, _, err = run(capsys, "orbits", "lozi", "--max-period", "40", "--mode", "exhaustive", "--quiet")
    assert code == 2 and "scyfi" in err


def test_convert_writes_an_exact_model_atomically(tmp_path, capsys):
    out = tmp_path / "m.json"
    code, _, _ = run(capsys, "convert", "lozi", "--out", str(out))
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["A"] == [["17/10", "1"], ["1/2", "0"]]
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left behind


def test_console_script_reports_errors_without_traceback(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"kind": "plrnn", "A": [1, 2], "W": [[1]], "h": [0, 0]}')
    r = subprocess.run([sys.executable, "-m", "verify.cli", "orbits", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_graph_mode_matches_exhaustive_on_the_cli(capsys):
    _, out_g, _ = run(capsys, "orbits", "border_collision", "--mode", "graph", "--box", "-20", "20",
                      "--max-period", "4", "--json", "--quiet")
    _, out_e, _ = run(capsys, "orbits", "border_collision", "--mode", "exhaustive", "--max-period", "4",
                      "--json", "--quiet")
    pts = lambda doc: sorted(tuple(map(tuple, r["points"])) for r in json.loads(doc)["orbits"])
    assert pts(out_g) == pts(out_e)
    code, _, err = run(capsys, "orbits", "lozi", "--mode", "graph", "--box", "3", "-3")
    assert code == 2 and "LO < HI" in err
