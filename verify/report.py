"""The verified report: one run from a model to a checked, illustrated folder (DESIGN §9).

Stages: model summary → trajectories → orbits → manifolds → basins → homoclinic /
heteroclinic search → one certificate → the independent checker → figures, ``report.md``,
``report.html`` (self-contained: figures embedded as data URIs and also beside it) and
``certificate.json``. Every claim in the table carries its status: *certified* (the checker
accepted it), *numerical* (computed in floats, not proved) or *refused* (with the reason).

Stages whose code is not available are listed as skipped, never silently dropped.
The folder is written atomically (a temporary folder renamed into place).

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> rep = build_report(load_model(example_path("tent")), ReportOptions(max_period=3, chaos=False))
>>> [r.status for r in rep.claims][:2]
['certified', 'certified']
"""
from __future__ import annotations

import base64
import html
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from symbolic.orbits import find_orbits

from . import figures
from .certificate import new_certificate, orbit_claim
from .checker import check_certificate


@dataclass
class ReportOptions:
    """Defaults are derived from the model where ``None``."""

    max_period: int | None = None
    mode: str = "auto"
    seed: int = 0
    trajectories: int = 8
    steps: int = 3000
    manifolds: bool = True
    depth: int | None = None
    budget: int | None = None
    basins: bool = True
    basin_boundaries: bool | None = None
    resolution: int | None = None
    chaos: bool = True
    chaos_period: int = 1
    max_length: int | None = None
    max_claims: int = 20


@dataclass
class ClaimRow:
    """One row of the claims table."""

    subject: str
    statement: str
    status: str          # certified | numerical | refused
    theorem: str = ""
    reason: str = ""
    claim_id: str = ""


@dataclass
class ReportResult:
    model: object
    options: ReportOptions
    certificate: dict
    claims: list
    figures: list
    sections: list       # (title, markdown text)
    summary: dict
    stages: list         # (stage, seconds, status)
    json_results: dict = field(default_factory=dict)


def _default_max_period(model) -> int:
    if model.L <= 2:
        return 6
    if model.L <= model.n and model.L <= 6:
        return 4
    return 2 if model.L <= 12 else 1


def _trajectories(model, opts: ReportOptions, orbits=()):
    """Float trajectories from random states near the orbits (and at their scale); the
    diverging ones are dropped and counted."""
    rng = np.random.default_rng(opts.seed)
    n = model.n
    pts = np.array([[float(v) for v in p] for o in orbits for p in o.points]) if orbits else np.zeros((0, n))
    scale = max(1.0, float(np.abs(pts).max())) if len(pts) else 1.0
    k = opts.trajectories
    Z0 = rng.normal(scale=scale / 2, size=(k, n))
    if len(pts):
        pick = pts[rng.integers(len(pts), size=k // 2)]
        Z0[: k // 2] = pick + rng.normal(scale=0.05 * scale, size=pick.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        T = model.trajectory(Z0, opts.steps)  # (steps+1, k, n)
    T = np.transpose(T, (1, 0, 2))
    keep = [t[min(100, len(t) // 10):] for t in T if np.all(np.isfinite(t)) and np.abs(t).max() < 1e12]
    diverged = len(T) - len(keep)
    return (np.array(keep) if keep else np.zeros((0, opts.steps + 1, n))), diverged


def _visited_graph(model, trajs):
    import networkx as nx

    G = nx.DiGraph()
    for t in trajs:
        pats = [("".join("1" if b else "0" for b in row)) for row in (model.preact(t) > 0)]
        for a, b in zip(pats, pats[1:]):
            for v in (a, b):
                if v not in G:
                    G.add_node(v, visits=0)
            G.nodes[a]["visits"] += 1
            G.add_edge(a, b)
    return G


def _norm(M) -> float:
    A = np.asarray(M, dtype=float)
    return float(np.linalg.norm(A, 2)) if A.size else 0.0


def build_report(model, opts: ReportOptions | None = None, progress=None) -> ReportResult:
    """Run every stage and check the certificate; nothing is written (see :func:`write_report`)."""
    opts = opts or ReportOptions()
    say = progress or (lambda msg, force=False: None)
    stages, sections, figs, rows, claims = [], [], [], [], []
    json_results: dict = {}

    def stage(name):
        t = time.perf_counter()
        say(f"stage {name}", True)
        return lambda status="done": stages.append((name, time.perf_counter() - t, status))

    # -- orbits
    done = stage("orbits")
    K = opts.max_period or _default_max_period(model)
    try:
        from .cli import realisable_cells

        search = find_orbits(model, K, mode=opts.mode, seed=opts.seed, progress=lambda m: say(f"orbits: {m}"),
                             regions=realisable_cells(model, K, opts.mode, say))
    except ValueError:
        search = find_orbits(model, K, mode="scyfi", seed=opts.seed)
    for o in search.orbits:
        c = orbit_claim(o)
        if c is not None:
            claims.append(c)
    done(f"{len(search.orbits)} orbits ({search.status})")
    json_results["orbits"] = {"mode": search.mode, "max_period": K, "status": search.status,
                              "message": search.message}

    # -- trajectories and summary
    done = stage("trajectories")
    trajs, diverged = _trajectories(model, opts, search.orbits)
    G = _visited_graph(model, trajs)
    done()
    summary = {
        "name": model.name, "kind": model.kind, "n": model.n, "hyperplanes": model.L,
        "regions_visited": G.number_of_nodes(), "trajectories": len(trajs), "diverged": diverged,
        "norm_A": _norm(model.Af), "norm_B": _norm(model.Bf), "norm_C": _norm(model.Cf),
    }

    # -- chaos
    chaos_records = []
    chaos_message = "not run"
    if opts.chaos:
        done = stage("homoclinic")
        try:
            from graph.homoclinic import find_connections

            from .chaos import certify_search

            from symbolic.orbits import OrbitSearch

            sub = OrbitSearch([o for o in search.orbits if o.period <= opts.chaos_period], search.mode,
                              opts.chaos_period, search.status, search.message)
            conn = find_connections(model, orbits=sub, max_length=opts.max_length or 8,
                                    max_period=opts.chaos_period, progress=lambda m: say(f"homoclinic: {m}"))
            cert_chaos = certify_search(model, conn, max_claims=opts.max_claims,
                                        progress=lambda m: say(f"certify: {m}"))
            chaos_records = [r for r in cert_chaos.records if "not attempted" not in r.get("reason", "")]
            chaos_message = f"{conn.status}: {conn.message}"
            skipped = len(cert_chaos.records) - len(chaos_records)
            if skipped:
                rows.append(ClaimRow("connections", f"{skipped} further candidate connections found in floats",
                                     "numerical", reason=f"not certified: at most {opts.max_claims} are attempted"))
            claims.extend(cert_chaos.certificate["claims"])
            for r in conn.refusals:
                rows.append(ClaimRow(r.orbit, "has hyperbolic stable/unstable manifolds", "refused", reason=r.reason))
            done(f"{len(chaos_records)} connections")
        except ImportError as exc:  # pragma: no cover - stage not installed
            done(f"skipped ({exc})")

    # -- manifolds
    manifold_sets = []
    if opts.manifolds:
        done = stage("manifolds")
        try:
            manifold_sets = _manifolds(model, search, opts, rows, sections, say)
            done(f"{len(manifold_sets)} manifolds")
        except ImportError as exc:  # pragma: no cover - stage not installed
            done(f"skipped ({exc})")

    # -- basins
    basin = None
    basin_info = None
    if opts.basins and any(o.type == "attractor" for o in search.orbits):
        done = stage("basins")
        try:
            from graph.basins import compute_basins

            from .basincert import basin_claims

            trace = opts.basin_boundaries if opts.basin_boundaries is not None else model.n <= 3
            basin = compute_basins(model, resolution=opts.resolution or 160, orbits=search, seed=opts.seed,
                                   boundaries=trace, progress=lambda m: say(f"basins: {m}"))
            if not trace:
                sections.append(("Basin boundaries", f"Not traced: the boundaries are {model.n - 1}-dimensional "
                                 "stable manifolds here; tracing them is slow, so the report leaves them out by "
                                 "default (ReportOptions.basin_boundaries=True traces them)."))
            # in higher dimension grid points are verified one by one: cap the label claims
            bclaims, basin_info = basin_claims(basin, orbit_claims=False, max_entries=None if model.n <= 2 else 1500,
                                               progress=lambda m: say(f"basins: {m}"))
            have = {c["id"] for c in claims}
            for c in bclaims:
                if c["id"] not in have:
                    claims.append(c)
                    have.add(c["id"])
            basin_info["claims"] = bclaims
            done(f"{len(basin.attractors.attractors)} attractors, {len(basin.boundaries)} boundaries")
        except ImportError as exc:  # pragma: no cover - stage not installed
            done(f"skipped ({exc})")

    # -- certificate and check
    done = stage("check")
    cert = new_certificate(model, claims)
    report = check_certificate(cert)
    ok = {r.id: r for r in report.results}
    done(report.message())
    certified_orbits = {c["id"].split(":", 1)[1] for c in claims if c["id"].startswith("orbit:") and ok[c["id"]].ok}

    for o in search.orbits:
        cid = f"orbit:{o.id}"
        r = ok.get(cid)
        if o.type == "continuum":
            stmt = f"{o.dimension}-dimensional continuum of period-{o.period} points"
        elif o.type == "boundary":
            stmt = f"period-{o.period} orbit on a region boundary"
        elif o.type == "non-hyperbolic":
            stmt = f"period-{o.period} orbit (non-hyperbolic: eigenvalue on the unit circle); existence"
        else:
            stmt = f"period-{o.period} {o.type}, {o.stable_dim} stable / {o.unstable_dim} unstable eigenvalues"
        if r is None:
            rows.append(ClaimRow(o.id, stmt, "numerical", reason="no certifiable claim (witness on a boundary)"))
        else:
            rows.append(ClaimRow(o.id, stmt, "certified" if r.ok else "refused", theorem="exact replay",
                                 reason=r.reason, claim_id=cid))
    conclusions: dict = {}
    for rec in chaos_records:
        subj = f"{rec.get('from')} → {rec.get('to')}" if rec["kind"] != "heteroclinic-cycle" else "cycle"
        stmt = {"homoclinic": "transversal homoclinic orbit", "heteroclinic": "transversal heteroclinic orbit",
                "snap-back": "snap-back repeller orbit", "heteroclinic-cycle": "heteroclinic cycle"}.get(rec["kind"], rec["kind"])
        if rec.get("length"):
            stmt += f" (length {rec['length']}, itinerary {' '.join(rec.get('itinerary', []))})"
        cid = rec.get("claim", "")
        if rec.get("conclusion") and rec.get("certified"):
            conclusions.setdefault(rec["conclusion"], []).append(subj)
        certified = bool(rec.get("certified")) and cid in ok and ok[cid].ok
        rows.append(ClaimRow(subj, stmt, "certified" if certified else "refused",
                             theorem=rec.get("theorem") or "", reason=rec.get("reason", ""), claim_id=cid))

    if basin is not None:
        _basin_rows(basin, basin_info, set(r.id for r in report.results if r.ok), rows, sections, figs)

    # -- numerical facts
    if len(trajs):
        try:
            from graph.metrics import max_lyapunov

            lam = max_lyapunov(model, trajs[0][-1], steps=min(5000, 4 * opts.steps))
            lam = float(getattr(lam, "value", lam))
            rows.append(ClaimRow("trajectory", f"maximal Lyapunov exponent ≈ {lam:.4g} per step", "numerical",
                                 theorem="QR method"))
            summary["max_lyapunov"] = lam
        except (ImportError, TypeError, ValueError):
            pass

    rows.sort(key=_row_order)

    # -- figures
    done = stage("figures")
    proj = figures.Projection(model, trajs if len(trajs) else np.zeros((1, 1, model.n)))
    hom = [np.array([[float(Fraction(a)) / 2 + float(Fraction(b)) / 2 for a, b in r["point"]]])
           for r in chaos_records if r.get("certified") and r.get("point") and r["kind"] != "snap-back"]
    figs.append(figures.state_space(model, proj, trajs, search.orbits, certified_orbits,
                                    title=f"{model.name or 'model'}: orbits", extra_points=hom,
                                    manifolds=manifold_sets))
    if any(o.stability is not None for o in search.orbits):
        figs.append(figures.eigenvalues(search.orbits, certified_orbits))
    figs.append(figures.region_graph(G, search.orbits))
    done()

    json_results["connections"] = chaos_records
    if conclusions:
        sections.append(("Theorems", "\n\n".join(f"{c}" for c in conclusions)))
    elif opts.chaos:
        sections.append(("Theorems", "No transversal homoclinic or heteroclinic orbit and no snap-back repeller "
                         f"was certified (search: connections of period-≤{opts.chaos_period} orbits up to length "
                         f"{opts.max_length or 8}; {chaos_message}). This is not a proof that none exists."))
    sections.append(("Orbit search", f"{search.mode} search for periods 1..{K}: **{search.status}** — {search.message}."))
    return ReportResult(model, opts, cert, rows, figs, sections, summary, stages, json_results)


def _row_order(r: ClaimRow) -> int:
    st = r.statement
    for i, keys in enumerate([("period-", "continuum"), ("trapping polytope", "attractor"), ("grid points",),
                              ("separates",), ("W^",), ("homoclinic", "heteroclinic", "snap-back", "cycle", "connections")]):
        if any(k in st for k in keys):
            return i
    return 9


def _basin_rows(basin, info, accepted: set, rows, sections, figs):
    """Rows, text and the basin figure once the checker has spoken."""
    import tempfile as _tf

    from graph.basinplot import plot_basins

    from .basincert import record_accepted

    cert_att, mask, sides = record_accepted(basin, info["claims"], accepted, info)
    for a in basin.attractors.attractors:
        desc = f"{a.kind} attractor" + (f" {a.orbit.id}" if a.orbit is not None else "")
        rows.append(ClaimRow(a.id, f"{desc}: trapping polytope (f maps it into itself)" if a.traps else
                             f"{desc} (from long trajectories)",
                             "certified" if a.id in cert_att else ("numerical" if not a.traps else "refused"),
                             theorem="exact vertex images" if a.traps else "long trajectories",
                             claim_id=", ".join(t.id for t in a.traps)))
    total = int(mask.size)
    ncert = int(mask.sum())
    label_ids = [c["id"] for c in info["claims"] if c["type"] == "basin-labels" and c["id"] in accepted
                 and c["id"].startswith("labels:")]
    rows.append(ClaimRow("basin map", f"{ncert} of {total} grid points' basin labels (exact iteration into a "
                         "certified trap)", "certified" if ncert else "numerical", theorem="exact set iteration",
                         claim_id=", ".join(label_ids)))
    for b in basin.boundaries:
        rows.append(ClaimRow(getattr(b.saddle, "id", "saddle"), "stable manifold separates basins "
                             f"{' | '.join(map(str, getattr(b, 'separates', ()) or ()))}", "numerical",
                             theorem="traced W^s pieces", reason="boundary pieces are not re-checked"))
    text = [basin.message]
    if basin.agreement:
        text.append("Agreement of the sampled basin map with the traced boundary: "
                    + ", ".join(f"{k} = {v}" for k, v in basin.agreement.items() if not isinstance(v, (list, dict))))
    for d in basin.distances:
        text.append("Distance to the basin boundary: " + ", ".join(f"{k} = {v}" for k, v in d.items()
                                                                   if not isinstance(v, (list, dict))))
    if basin.fractions:
        text.append("Basin volume fractions (slice): " + ", ".join(f"{k}: {v}" for k, v in basin.fractions.items()))
    sections.append(("Basins", "\n\n".join(text)))
    with _tf.TemporaryDirectory() as td:
        path = os.path.join(td, "basins.png")
        plot_basins(basin, path)
        with open(path, "rb") as fh:
            png = fh.read()
    figs.append(figures.Figure("basins.png", png,
                               "Basin map on a grid of a 2-D slice (colours: attractor reached by iteration), traced "
                               "boundary pieces (stable manifolds of saddles) on top, attractors and saddles marked. "
                               f"{ncert} of {total} grid labels are certified (exact iteration into a trap the checker "
                               "accepted); the rest are numerical."))


def _piece_outline(piece) -> np.ndarray | None:
    """Vertices of a 1-D or 2-D piece in drawing order (closed polygon for 2-D)."""
    from symbolic.pieces import vertices

    V = vertices(piece)
    if V is None or len(V) == 0:
        return None
    V = np.asarray(V, dtype=float)
    if getattr(piece, "dim", None) == 2 or (V.shape[0] > 2 and len(V) >= 3):
        c = V.mean(axis=0)
        # order the polygon's vertices by angle inside its own plane
        U, _, _ = np.linalg.svd((V - c).T, full_matrices=False)
        P2 = (V - c) @ U[:, :2]
        V = V[np.argsort(np.arctan2(P2[:, 1], P2[:, 0]))]
        V = np.vstack([V, V[:1]])
    return V


def _manifolds(model, search, opts, rows, sections, say):
    """Trace W^u and W^s of the period-1 saddles (the low-dimensional ones) and measure Δσ."""
    from graph.manifolds import trace_manifold
    from graph.quality import delta_sigma

    out = []
    text = []
    saddles = [o for o in search.orbits if o.type == "saddle" and o.period == 1][:4]
    for o in saddles:
        sides = []
        if o.unstable_dim <= 2:
            sides.append("unstable")
        if o.stable_dim <= 2 or (model.n <= 3 and o.stable_dim <= 2):
            sides.append("stable")
        for side in sides:
            say(f"manifolds: W^{side[0]} of {o.id}", True)
            try:
                res = trace_manifold(model, o, side, depth=opts.depth or 30, budget=opts.budget or 1000)
            except ValueError as exc:
                rows.append(ClaimRow(o.id, f"{side} manifold", "refused", reason=str(exc)))
                continue
            try:
                q = delta_sigma(model, res).delta_sigma
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                q = float("nan")
            segs = [V for V in (_piece_outline(p) for p in res.pieces) if V is not None]
            out.append({"side": side, "orbit": o.id, "segments": segs})
            kind = "exact rational pieces" if res.exact else "pieces with float data (irrational eigenvectors)"
            stmt = (f"W^{side[0]}: {res.dimension}-dimensional {side} manifold traced as {len(res.pieces)} polyhedral "
                    f"pieces ({kind}); stopped by {res.stopped_by}; Δσ = {q:.3f}")
            rows.append(ClaimRow(o.id, stmt, "numerical", theorem="piecewise-affine images/preimages",
                                 reason="pieces are not re-checked by the checker"))
            text.append(f"- {o.id} {side}: {res.message}; Δσ = {q:.3f}")
    if saddles and not out:
        text.append("No saddle has a stable or unstable manifold of dimension at most 2 to draw.")
    if text:
        sections.append(("Manifolds", "\n".join(text)))
    return out


# ----------------------------------------------------------------------------- writing

def _md_table(rows: list[ClaimRow]) -> str:
    out = ["| subject | claim | status | theorem / method | reason |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [r.subject, r.statement, f"**{r.status}**", r.theorem, r.reason]
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(out)


def render_markdown(rep: ReportResult) -> str:
    s = rep.summary
    n_cert = sum(r.status == "certified" for r in rep.claims)
    lines = [
        f"# Verified report: {s['name'] or 'model'}",
        "",
        f"Model: kind `{s['kind']}`, state dimension n = {s['n']}, {s['hyperplanes']} distinct ReLU hyperplanes, "
        f"{s['regions_visited']} linear regions visited by {s['trajectories']} trajectories"
        + (f" ({s['diverged']} diverged)" if s["diverged"] else "") + ". "
        f"Spectral norms: ‖A‖ = {s['norm_A']:.4g}, ‖B‖ = {s['norm_B']:.4g}, ‖C‖ = {s['norm_C']:.4g}.",
        "",
        f"**{n_cert} of {len(rep.claims)} claims certified.** Re-check them with "
        "`plrnn-manifolds check certificate.json` (the independent checker re-derives every claim from the "
        "model with exact rationals and rigorous interval arithmetic).",
        "",
        "## Claims",
        "",
        _md_table(rep.claims),
        "",
    ]
    for title, text in rep.sections:
        lines += [f"## {title}", "", text, ""]
    lines += ["## Figures", ""]
    for f in rep.figures:
        lines += [f"![{f.name}]({f.name})", "", f"*{f.caption}*", ""]
    lines += ["## Stages", "", "| stage | seconds | result |", "|---|---|---|"]
    lines += [f"| {name} | {sec:.2f} | {status} |" for name, sec, status in rep.stages]
    return "\n".join(lines) + "\n"


def render_html(rep: ReportResult) -> str:
    s = rep.summary
    esc = html.escape
    n_cert = sum(r.status == "certified" for r in rep.claims)
    rows = "".join(
        f"<tr class='{esc(r.status)}'><td>{esc(r.subject)}</td><td>{esc(r.statement)}</td>"
        f"<td><b>{esc(r.status)}</b></td><td>{esc(r.theorem)}</td><td>{esc(r.reason)}</td></tr>"
        for r in rep.claims)
    figs = "".join(
        f"<figure><img alt='{esc(f.name)}' src='data:image/png;base64,{base64.b64encode(f.png).decode()}'>"
        f"<figcaption>{esc(f.caption)}</figcaption></figure>" for f in rep.figures)
    secs = "".join(f"<h2>{esc(t)}</h2><p>{esc(x).replace('**', '')}</p>" for t, x in rep.sections)
    stages = "".join(f"<tr><td>{esc(n)}</td><td>{sec:.2f}</td><td>{esc(st)}</td></tr>" for n, sec, st in rep.stages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Verified report: {esc(s['name'] or 'model')}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; }}
tr.certified td:nth-child(3) {{ color: #0a6b0a; }} tr.refused td:nth-child(3) {{ color: #a33; }}
tr.numerical td:nth-child(3) {{ color: #a67c00; }}
figure {{ display: inline-block; width: 48%; margin: 0.5%; vertical-align: top; }}
figure img {{ width: 100%; }} figcaption {{ font-size: 0.85em; color: #444; }}
code {{ background: #f4f4f4; padding: 1px 3px; }}
</style></head><body>
<h1>Verified report: {esc(s['name'] or 'model')}</h1>
<p>Model: kind <code>{esc(s['kind'])}</code>, n = {s['n']}, {s['hyperplanes']} distinct ReLU hyperplanes,
{s['regions_visited']} regions visited by {s['trajectories']} trajectories.
Spectral norms ‖A‖ = {s['norm_A']:.4g}, ‖B‖ = {s['norm_B']:.4g}, ‖C‖ = {s['norm_C']:.4g}.</p>
<p><b>{n_cert} of {len(rep.claims)} claims certified.</b> Re-check with
<code>plrnn-manifolds check certificate.json</code>.</p>
<h2>Claims</h2>
<table><tr><th>subject</th><th>claim</th><th>status</th><th>theorem / method</th><th>reason</th></tr>{rows}</table>
{secs}
<h2>Figures</h2>{figs}
<h2>Stages</h2><table><tr><th>stage</th><th>seconds</th><th>result</th></tr>{stages}</table>
</body></html>
"""


def certificate_bytes(cert: dict) -> bytes:
    """Canonical bytes of a certificate (deterministic for the same inputs)."""
    return (json.dumps(cert, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_report(rep: ReportResult, out_dir, force: bool = False) -> str:
    """Write the report folder atomically; refuses to replace an existing folder unless *force*."""
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not force:
        raise FileExistsError(f"{out_dir} exists (use --force to replace it)")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-report-", dir=parent)
    try:
        with open(os.path.join(tmp, "certificate.json"), "wb") as fh:
            fh.write(certificate_bytes(rep.certificate))
        for f in rep.figures:
            with open(os.path.join(tmp, f.name), "wb") as fh:
                fh.write(f.png)
        with open(os.path.join(tmp, "report.md"), "w", encoding="utf-8") as fh:
            fh.write(render_markdown(rep))
        with open(os.path.join(tmp, "report.html"), "w", encoding="utf-8") as fh:
            fh.write(render_html(rep))
        with open(os.path.join(tmp, "results.json"), "w", encoding="utf-8") as fh:
            json.dump({"summary": rep.summary, "claims": [r.__dict__ for r in rep.claims], **rep.json_results},
                      fh, indent=1, default=str)
        if os.path.exists(out_dir):
            trash = tempfile.mkdtemp(prefix=".old-report-", dir=parent)
            os.rename(out_dir, os.path.join(trash, "old"))
            os.rename(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
