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
    cycles: bool | None = None        # long saddle cycles' homoclinic orbits (None: when n >= 3)
    cycle_seconds: float = 60.0
    max_length: int | None = None
    max_claims: int = 20
    data: object = None              # (T, N) float array: held-out data for the reconstruction section
    data_name: str = ""
    recon_steps: int = 20000         # length of the data window and of the model's free run


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
    if model.L <= model.n and model.L > 8:
        # all 2^L cells are realisable: period 2 means 2^L (2^L + 1) / 2 itineraries
        # (524800 for L = 10, about 2 minutes); --max-period 2 asks for them
        return 1
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
    late_figs: list = []     # figures listed after the state-space ones
    json_results: dict = {}

    def stage(name):
        # the row is reserved when the stage starts, so sub-stages (``stages.append`` from
        # inside a stage, names "stage / part") are listed under their stage
        t = time.perf_counter()
        say(f"stage {name}", True)
        slot = len(stages)
        stages.append((name, 0.0, "running"))

        def done(status="done"):
            stages[slot] = (name, time.perf_counter() - t, status)
        return done

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
    traj_cycles = _trajectory_cycles(model, trajs, K, stage, claims) if len(trajs) else []
    summary = {
        "name": model.name, "kind": model.kind, "n": model.n, "hyperplanes": model.L,
        "regions_visited": G.number_of_nodes(), "trajectories": len(trajs), "diverged": diverged,
        "norm_A": _norm(model.Af), "norm_B": _norm(model.Bf), "norm_C": _norm(model.Cf),
    }

    # -- chaos
    chaos_records = []
    chaos_message = "not run"
    late_cycle_figs = []
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
        proven = any(r.get("certified") and r.get("conclusion") for r in chaos_records)
        if not proven and (opts.cycles if opts.cycles is not None else model.n >= 3):
            chaos_message = _cycle_chaos(model, opts, stage, say, claims, chaos_records, late_cycle_figs,
                                         chaos_message)

    # -- manifolds
    manifold_sets = []
    if opts.manifolds:
        done = stage("manifolds")
        try:
            mproj = figures.Projection(model, trajs if len(trajs) else np.zeros((1, 1, model.n)))
            manifold_sets = _manifolds(model, search, opts, rows, sections, say, stages, trajs, mproj)
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
            # high dimension: every grid point costs a capture test against traps with many facets
            # (about 14 ms per point at n = 30), so the default grid is coarser there
            res_default = 160 if model.n <= 10 else 48
            t_sub = time.perf_counter()
            basin = compute_basins(model, resolution=opts.resolution or res_default, orbits=search, seed=opts.seed,
                                   boundaries=trace, progress=lambda m: say(f"basins: {m}"))
            stages.append(("basins / attractors, map" + (", boundaries" if trace else ""), time.perf_counter() - t_sub,
                           f"{opts.resolution or res_default}² grid"))
            if not trace:
                sections.append(("Basin boundaries", f"Not traced: the boundaries are {model.n - 1}-dimensional "
                                 "stable manifolds here; tracing them is slow, so the report leaves them out by "
                                 "default (ReportOptions.basin_boundaries=True traces them)."))
            # in higher dimension grid points are verified one by one: cap the label claims
            t_sub = time.perf_counter()
            bclaims, basin_info = basin_claims(basin, orbit_claims=False,
                                               max_entries=None if model.n <= 2 else (1500 if model.n <= 10 else 100),
                                               progress=lambda m: say(f"basins: {m}"))
            stages.append(("basins / trap and label claims", time.perf_counter() - t_sub, f"{len(bclaims)} claims"))
            have = {c["id"] for c in claims}
            for c in bclaims:
                if c["id"] not in have:
                    claims.append(c)
                    have.add(c["id"])
            basin_info["claims"] = bclaims
            done(f"{len(basin.attractors.attractors)} attractors, {len(basin.boundaries)} boundaries")
        except ImportError as exc:  # pragma: no cover - stage not installed
            done(f"skipped ({exc})")

    # -- reconstruction against data (numerical only)
    if opts.data is not None:
        done = stage("reconstruction")
        rec = _reconstruction(model, opts, rows, sections, late_figs, stages, say)
        json_results["reconstruction"] = rec
        summary["reconstruction"] = {k: v for k, v in rec.items() if not isinstance(v, (list, dict))}
        done(rec.get("status", "done"))

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
        if rec.get("length") and rec.get("itinerary"):
            stmt += f" (length {rec['length']}, itinerary {' '.join(rec['itinerary'])})"
        elif rec.get("length"):
            stmt += f" (length {rec['length']})"
        cid = rec.get("claim", "")
        if rec.get("conclusion") and rec.get("certified"):
            conclusions.setdefault(rec["conclusion"], []).append(subj)
        certified = bool(rec.get("certified")) and cid in ok and ok[cid].ok
        rows.append(ClaimRow(subj, stmt, "certified" if certified else "refused",
                             theorem=rec.get("theorem") or "", reason=rec.get("reason", ""), claim_id=cid))

    for cid, stmt, reason in traj_cycles:
        good = cid is not None and cid in ok and ok[cid].ok
        rows.append(ClaimRow(stmt.split(":")[0], stmt.split(": ", 1)[1], "certified" if good else "refused",
                             theorem="itinerary + Arb enclosure, exact charpoly" if good else "",
                             reason="" if good else (reason or (ok[cid].reason if cid in ok else "")),
                             claim_id=cid or ""))

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
    if manifold_sets and model.n > 3:
        figs.append(figures.manifold_panels(proj, trajs, search.orbits, manifold_sets,
                                            title=f"{model.name or 'model'}: traced manifolds"))
    figs.append(figures.region_graph(G, search.orbits))
    figs.extend(late_figs)
    for cyc_pts, orb_pts in late_cycle_figs:
        figs.append(figures.cycle_homoclinic(proj, cyc_pts, orb_pts,
                                             title=f"{model.name or 'model'}: certified homoclinic orbit"))
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


def _trajectory_cycles(model, trajs, K: int, stage, claims, qmax: int = 1000) -> list:
    """Cycles of period > K that the report's trajectories settle on (an attracting cycle too
    long for the complete orbit search, e.g. a heartbeat), certified by itinerary and Arb
    enclosure (``periodic-orbit-enclosure``): [(claim id or None, "subject: statement", reason)]."""
    from graph.attractors import _periodic_tail
    from symbolic.regions import array_to_bits

    from .longchaos import cycle_enclosure_claim

    T = trajs.shape[1]
    qmax = min(qmax, T - 4)
    if qmax <= K:
        return []
    q_of = _periodic_tail(np.transpose(trajs[:, -(qmax + 3):, :], (1, 0, 2)), qmax)
    found = {}
    for idx, q in enumerate(q_of):
        if q <= K:
            continue
        pts = trajs[idx, -q:, :]
        pat = (pts @ model.Cf.T + model.df) > 0
        bits = array_to_bits(pat)
        r = min(range(q), key=lambda i: bits[i:] + bits[:i])
        key = tuple(bits[r:] + bits[:r])
        found.setdefault(key, [np.roll(pts, -r, axis=0), 0])[1] += 1
    if not found:
        return []
    done = stage("cycles from trajectories")
    out = []
    for key, (pts, count) in sorted(found.items(), key=lambda kv: len(kv[0])):
        q = len(key)
        cid = f"cycle:P{q}-{len(out) + 1}"
        claim, why = cycle_enclosure_claim(model, key, pts, cid)
        kind = "attracting cycle" if claim is not None and claim["unstable_dim"] == 0 else "cycle"
        dims = f" ({claim['stable_dim']} stable / {claim['unstable_dim']} unstable eigenvalues)" if claim else ""
        stmt = (f"P{q} (from trajectories): period-{q} {kind}{dims}, reached by {count} of {len(trajs)} "
                "trajectories")
        if claim is not None:
            claims.append(claim)
            out.append((cid, stmt, None))
        else:
            out.append((None, stmt, why))
    done(f"{len(out)} cycle(s) of period > {K}")
    return out


def _cycle_chaos(model, opts, stage, say, claims, chaos_records, late_figs, message) -> str:
    """Long saddle cycles seeded from the attractor and their homoclinic orbits
    (:mod:`verify.longchaos`); appends the claim, the record and the figure data."""
    from .longchaos import attractor_trajectory, cycle_chaos_record, long_cycle_chaos

    done = stage("homoclinic / long cycles")
    Z = attractor_trajectory(model, max(3 * opts.steps, 12000))
    if Z is None:
        done("skipped (the trajectory from (0.1, ..., 0.1) diverges)")
        return message
    res = long_cycle_chaos(model, Z, cid="chaos-cycle", max_seconds=opts.cycle_seconds,
                           progress=lambda m: say(f"long cycles: {m}"))
    if res.status != "certified":
        done(res.message)
        return f"{message}; long saddle cycles: {res.message}"
    claims.append(res.claims[0])
    chaos_records.append(cycle_chaos_record(res))
    hit = res.connection
    late_figs.append((hit.frame.points, hit.points(model)))
    done(res.message)
    return f"{message}; long saddle cycles: {res.message}"


# ----------------------------------------------------------------------------- reconstruction

def load_series(path) -> np.ndarray:
    """A (T, N) float64 array from a ``.npy`` file, or ValueError with a one-line reason.

    >>> import numpy as np, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     np.save(os.path.join(d, "x.npy"), np.zeros((500, 3)))
    ...     load_series(os.path.join(d, "x.npy")).shape
    (500, 3)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"--data: file not found: {path}")
    try:
        X = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"--data: {path} is not a readable .npy array ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"--data: expected a T x N array (time along the first axis), got shape "
                         f"{getattr(X, 'shape', '?')}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(f"--data: expected real numbers, got dtype {X.dtype}")
    X = X.astype(float)
    if not np.all(np.isfinite(X)):
        raise ValueError("--data: the array contains NaN or infinite values")
    if len(X) < 200:
        raise ValueError(f"--data: {len(X)} time steps are too few for the reconstruction measures (need >= 200)")
    return X


def observation_map(model, N: int):
    """(M, b, description) with x = M z + b mapping states to the data's N dimensions: the
    model's observation when it has one (it must have N rows), else the first N state units
    (the ALRNN/PLRNN identity read-out). ValueError when the dimensions do not fit."""
    if model.observation is not None:
        M = np.array([[float(v) for v in row] for row in model.observation["B"]])
        b = np.array([float(v) for v in model.observation["b"]])
        if M.shape[0] != N:
            raise ValueError(f"--data has {N} columns but the model's observation maps to {M.shape[0]} "
                             "dimensions")
        return M, b, f"the model's observation x = B z + b ({M.shape[0]}×{M.shape[1]})"
    if N > model.n:
        raise ValueError(f"--data has {N} columns but the model has only n = {model.n} state units and no "
                         "observation matrix")
    return np.eye(model.n)[:N], np.zeros(N), f"the first {N} state units (identity read-out)"


def _divergences(X, Y):
    """D_stsp (histogram KL, 30 bins per dimension for N <= 5, Gaussian mixtures above) and D_H."""
    from graph.metrics import hellinger_spectrum_distance, state_space_divergence, state_space_divergence_gmm

    N = X.shape[1]
    if not np.all(np.isfinite(Y)):
        return float("inf"), float("nan")
    ds = state_space_divergence(X, Y, bins=30) if N <= 5 else state_space_divergence_gmm(X, Y)
    return ds, hellinger_spectrum_distance(X, Y)


def _reconstruction(model, opts, rows, sections, figs, stages, say) -> dict:
    """The model's free run in data space vs the data: D_stsp, D_H (also for a moment-matched
    Gaussian and for a second window of the data), λ_max of the model (QR, per step) and of the
    data and the model's read-out (Rosenstein). Everything is numerical."""
    from graph.metrics import max_lyapunov, power_spectra, rosenstein_lyapunov

    def sub(name, t0, status="done"):
        stages.append((f"reconstruction / {name}", time.perf_counter() - t0, status))

    D = np.asarray(opts.data, float)
    T = min(len(D), opts.recon_steps)
    X = D[:T]
    N = X.shape[1]
    M, b, desc = observation_map(model, N)
    out = {"data": opts.data_name, "T": T, "observation": desc, "status": "done"}
    # free run from the state that reads out as the data's first point (least squares), as long
    # as the data used for the Lyapunov estimate (at most 100000 steps)
    t0 = time.perf_counter()
    z0 = np.linalg.lstsq(M, X[0] - b, rcond=None)[0]
    transient = 1000
    T_long = max(T, min(len(D), 100_000))
    with np.errstate(over="ignore", invalid="ignore"):
        Z = model.trajectory(z0, transient + T_long)[transient + 1:]
    diverged = not (np.all(np.isfinite(Z)) and np.abs(Z).max() < 1e8)
    Y = Z[:T] @ M.T + b
    sub("free run", t0, f"{T_long} steps after {transient}" + (" (diverged)" if diverged else ""))
    rng = np.random.default_rng(opts.seed)
    G = rng.multivariate_normal(X.mean(axis=0), np.atleast_2d(np.cov(X.T)), size=T)
    t0 = time.perf_counter()
    res = {"model": _divergences(X, Y) if not diverged else (float("inf"), float("nan")),
           "Gaussian": _divergences(X, G)}
    if len(D) >= 2 * T:
        res["data (second window)"] = _divergences(X, D[T:2 * T])
    sub("D_stsp, D_H", t0)
    for k, (ds, dh) in res.items():
        out[k] = {"D_stsp": ds, "D_H": dh}
    # how much of the data's range the model's attractor reaches (explains large D_stsp)
    outside = float("nan")
    if not diverged:
        ylo, yhi = Y.min(axis=0), Y.max(axis=0)
        outside = float(np.mean(np.any((X < ylo) | (X > yhi), axis=1)))
        out["data_outside_model_range"] = outside
    # Lyapunov exponents: QR along 10 stretches of the free run (vectorised), and the same
    # nearest-neighbour method on the data and on the model's full state (not its read-out:
    # a projection creates false neighbours)
    t0 = time.perf_counter()
    lam_qr, lam_spread = float("nan"), (float("nan"), float("nan"))
    if not diverged:
        starts = Z[:: max(1, len(Z) // 10)][:10]
        lams = np.asarray(max_lyapunov(model, starts, steps=5000, transient=0, return_all=True))
        lam_qr, lam_spread = float(lams.mean()), (float(lams.min()), float(lams.max()))
    sub("λ_max of the model (QR)", t0, "10 × 5000 steps")
    t0 = time.perf_counter()
    Nl = min(len(D), 100_000)
    rd = rosenstein_lyapunov(D[:Nl], seed=opts.seed)
    rm = rosenstein_lyapunov(Z[:Nl], theiler=rd.theiler, horizon=len(rd.curve) - 1 if len(rd.curve) else None,
                             seed=opts.seed) if not diverged else None
    sub("λ_max from the series (Rosenstein)", t0, f"{Nl} samples each")
    out["lyapunov"] = {"model_qr": lam_qr, "model_qr_range": list(lam_spread), "data_rosenstein": rd.value,
                       "data_fit": list(rd.fit), "model_rosenstein": None if rm is None else rm.value,
                       "theiler": rd.theiler}
    # rows
    name = opts.data_name or "data"

    def num(v):
        return f"{v:.3g}" if np.isfinite(v) else str(v)

    mds, mdh = res["model"]
    gds, gdh = res["Gaussian"]
    ref = res.get("data (second window)")
    tail = f"; held-out data against itself: {num(ref[0])}" if ref else ""
    rows.append(ClaimRow("reconstruction", f"D_stsp(data ‖ model) = {num(mds)} vs a Gaussian with the data's mean and "
                         f"covariance {num(gds)}{tail} ({name}, {T} steps)", "numerical",
                         theorem="state-space KL of histograms" if N <= 5 else "state-space KL of Gaussian mixtures"))
    tail = f"; held-out data against itself: {num(ref[1])}" if ref else ""
    rows.append(ClaimRow("reconstruction", f"D_H (power-spectrum Hellinger distance) = {num(mdh)} vs Gaussian "
                         f"{num(gdh)}{tail}", "numerical", theorem="smoothed power spectra"))
    lam_txt = (f"maximal Lyapunov exponent: model {num(lam_qr)} per step (QR along the free run)"
               + (f", {num(rm.value)} by nearest-neighbour divergence of its states" if rm is not None else "")
               + f"; data {num(rd.value)} per sample (nearest-neighbour divergence)")
    rows.append(ClaimRow("reconstruction", lam_txt, "numerical", theorem="QR method; Rosenstein et al. 1993"))
    # section
    lines = [f"The model's free run ({T} steps after a transient of {transient}, started from the state that "
             f"reads out as the data's first point) mapped to data space through {desc}, against "
             f"`{name}` ({len(D)} × {N}; the first {T} steps are compared). All numbers are **numerical** "
             "(floats, no proof). Lower is better for both divergences; the Gaussian baseline has exactly the "
             "data's mean and covariance, so a model below it captures more than the first two moments; the "
             "second data window shows the floor a perfect model would reach with this sample size.",
             "", "| compared with the data | D_stsp | D_H |", "|---|---|---|"]
    for k, (ds, dh) in res.items():
        lines.append(f"| {k} | {num(ds)} | {num(dh)} |")
    lines += ["", "| maximal Lyapunov exponent (per step) | value | method |", "|---|---|---|",
              f"| model | {num(lam_qr)} (10 stretches: {num(lam_spread[0])} … {num(lam_spread[1])}) | QR along "
              "10 × 5000 steps of the free run |"]
    if rm is not None:
        lines.append(f"| model states (n = {model.n}) | {num(rm.value)} | Rosenstein on {Nl} steps of the free run, "
                     f"fit over steps {rm.fit[0]}..{rm.fit[1]} |")
    lines.append(f"| data | {num(rd.value)} | Rosenstein on {min(len(D), 100_000)} samples, fit over steps "
                 f"{rd.fit[0]}..{rd.fit[1]}, Theiler window {rd.theiler} |")
    lines += ["", "Divide by the sampling interval Δt for exponents per time unit (Lorenz-63: λ_max ≈ 0.906, "
              "i.e. ≈ 0.0091 per step at Δt = 0.01)."]
    if np.isfinite(outside) and outside > 0:
        lines.append(f"\n{100 * outside:.1f}% of the compared data points lie outside the bounding box of the "
                     "model's free run: the histogram divergence D_stsp charges every such data bin heavily "
                     "(the model's attractor does not reach those parts of the data), while D_H only compares "
                     "the temporal structure.")
    if diverged:
        lines.append("\nThe free run diverged: the model's numbers are infinite / undefined.")
        out["status"] = "model free run diverged"
    sections.append(("Reconstruction", "\n".join(lines)))
    t0 = time.perf_counter()
    labels = [f"x{i + 1}" for i in range(N)]
    spectra = {"data": power_spectra(X), **({"model": power_spectra(Y)} if not diverged else {})}
    div = {"data": (rd.curve, rd.fit, rd.value)}
    if rm is not None and len(rm.curve):
        div["model states"] = (rm.curve, rm.fit, rm.value)
    figs.append(figures.reconstruction(X, Y if not diverged else X[:0], labels, spectra, div,
                                       title=f"{model.name or 'model'} vs {name}"))
    sub("figure", t0)
    return out


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


class _VisitedCells:
    """A light stand-in for :class:`graph.stable.CellIndex` when the arrangement has many cells:
    the regions actually visited (trajectories, orbits, manifold pieces) and, as image boxes,
    the interval image f_t(box) ⊇ f_t(R_t ∩ box). Used only by the numerical Δσ (its branch
    inverse); CellIndex's exact cell list costs 2n LPs per cell (1024 cells for L = 10)."""

    def __init__(self, model, regions, box):
        from symbolic.regions import bits_to_array

        self.cells = sorted(set(regions))
        lo, hi = (np.array([float(v) for v in x]) for x in box)
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        if self.cells:
            J, c = model.affine_pieces_float(bits_to_array(self.cells, model.L))
            centre = J @ mid + c
            spread = np.abs(J) @ rad
        else:
            centre = spread = np.zeros((0, model.n))
        pad = 1e-9 * max(1.0, float(np.abs(np.concatenate([lo, hi])).max()))
        self.image_lo, self.image_hi = centre - spread - pad, centre + spread + pad
        self.complete = False


def _manifold_plan(model, o, opts) -> list:
    """(side, depth, budget) for each manifold of the period-1 saddle *o* the report traces.

    n <= 3: every side of dimension <= 2 (depth 30, budget 1000). Larger n (published
    models in 20-30 dimensions): a 1-D W^u deep enough to trace the attractor (300 steps,
    3000 pieces), 2-D W^u (1500 pieces), and the codimension-1 W^s of a saddle with one
    unstable direction (10 preimage steps, 300 pieces) when the arrangement has few cells.
    ``opts.depth`` / ``opts.budget`` override all of these."""
    big = model.n > 3
    plan = []
    if o.unstable_dim == 1:
        plan.append(("unstable", opts.depth or (300 if big else 30), opts.budget or (3000 if big else 1000)))
    elif o.unstable_dim == 2:
        plan.append(("unstable", opts.depth or 30, opts.budget or (1500 if big else 1000)))
    if o.stable_dim <= 2:
        plan.append(("stable", opts.depth or 30, opts.budget or 1000))
    elif big and o.unstable_dim == 1 and model.L <= 6:
        plan.append(("stable", opts.depth or 10, opts.budget or 300))
    return plan


def _manifolds(model, search, opts, rows, sections, say, stages=None, trajs=None, proj=None):
    """Trace W^u and W^s of the period-1 saddles (see :func:`_manifold_plan`) and measure Δσ.

    Each manifold's tracing and Δσ are timed as sub-stages; the section gives piece counts,
    depth, what stopped the tracing, how far the manifold reaches (in the plotting
    coordinates, relative to the attractor's diameter there) and Δσ."""
    from graph.manifolds import default_box, trace_manifold
    from graph.quality import delta_sigma, sample_manifold

    stages = stages if stages is not None else []
    out = []
    text = []
    table = []
    saddles = [o for o in search.orbits if o.type == "saddle" and o.period == 1][:4]
    big = model.n > 3
    box = None
    cells = None
    scale = None
    if proj is not None and trajs is not None and len(trajs):
        P = proj(np.asarray(trajs).reshape(-1, model.n))
        P = P[np.all(np.isfinite(P), axis=1)]
        if len(P):
            scale = float(np.linalg.norm(P.max(axis=0) - P.min(axis=0)))
    skipped = []
    for o in saddles:
        plan = _manifold_plan(model, o, opts)
        if big and o.unstable_dim == 1 and o.stable_dim == model.n - 1 and not any(s == "stable" for s, _, _ in plan):
            skipped.append(f"{o.id} stable ({o.stable_dim}-D): not traced — the preimage search needs image bounds "
                           f"of all cells of the arrangement ({model.L} hyperplanes, up to 2^{model.L} cells, "
                           f"2n = {2 * model.n} LPs each)")
        for side, depth, budget in plan:
            say(f"manifolds: W^{side[0]} of {o.id}", True)
            label = f"W^{side[0]} {o.id}"
            t0 = time.perf_counter()
            if box is None:
                box = default_box(model, o)   # one box for every manifold of the report
            try:
                res = trace_manifold(model, o, side, depth=depth, budget=budget, box=box)
            except ValueError as exc:
                rows.append(ClaimRow(o.id, f"{side} manifold", "refused", reason=str(exc)))
                stages.append((f"manifolds / {label} trace", time.perf_counter() - t0, f"refused: {exc}"))
                continue
            t_trace = time.perf_counter() - t0
            stages.append((f"manifolds / {label} trace", t_trace,
                           f"{len(res.pieces)} pieces, depth {res.depth}, stopped by {res.stopped_by}"))
            t0 = time.perf_counter()
            if side == "unstable" and cells is None:
                cells = _delta_cells(model, box, search, trajs)
            nq = 500 if big else 2000
            try:
                qual = delta_sigma(model, res, n_manifold=nq, n_box=nq, cells=cells if side == "unstable" else None)
                q = qual.delta_sigma
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                qual, q = None, float("nan")
            t_q = time.perf_counter() - t0
            stages.append((f"manifolds / {label} Δσ", t_q, f"Δσ = {q:.3f}" + (f" (K = {qual.K} steps, "
                           f"{qual.n_manifold} + {qual.n_box} points)" if qual is not None else "")))
            segs = [V for V in (_piece_outline(p) for p in res.pieces if p.k <= 2) if V is not None]
            pts = None
            if any(p.k > 2 for p in res.pieces) or not segs:
                try:
                    pts = sample_manifold(res, 3000, seed=opts.seed)
                except (ValueError, np.linalg.LinAlgError):
                    pts = None
            reach = None
            parts = list(segs) + ([pts] if pts is not None and len(pts) else [])
            if proj is not None and scale and parts:
                p0 = proj(np.array([[float(v) for v in o.points[0]]]))[0]
                reach = float(np.max(np.linalg.norm(proj(np.vstack(parts)) - p0, axis=1))) / scale
            out.append({"side": side, "orbit": o.id, "segments": segs, "points": pts, "dimension": res.dimension})
            kind = "exact rational pieces" if res.exact else "pieces with float data (irrational eigenvectors)"
            stmt = (f"W^{side[0]}: {res.dimension}-dimensional {side} manifold traced as {len(res.pieces)} polyhedral "
                    f"pieces ({kind}); {res.depth} steps; stopped by {res.stopped_by}; Δσ = {q:.3f}")
            rows.append(ClaimRow(o.id, stmt, "numerical", theorem="piecewise-affine images/preimages",
                                 reason="pieces are not re-checked by the checker"))
            text.append(f"- {o.id} {side}: {res.message}; Δσ = {q:.3f}")
            if side == "stable" and len(res.pieces) <= 1 and res.dimension >= 3:
                sv = np.linalg.svd(res.local.piece.Uf, compute_uv=False)
                text.append(f"  - only the proven local piece: every preimage was dropped as a sliver. The local "
                            f"piece's basis has singular values from {sv.max():.2g} down to {sv.min():.2g} (the "
                            "adapted norm scales the Schur blocks of the contracting directions by powers of a "
                            "small ε), so its preimages are thinner than the tracer's tolerance in those "
                            "directions; tracing further needs a better-balanced local piece.")
            table.append(f"| {label} | {res.dimension} | {len(res.pieces)} | {res.depth} / {depth} | {budget} | "
                         f"{res.stopped_by} | {len(res.regions)} | "
                         + (f"{reach:.2f}" if reach is not None else "–") + f" | {q:.3f} | {t_trace:.1f} | {t_q:.1f} |")
    if saddles and not out:
        text.append("No saddle has a stable or unstable manifold of dimension at most 2 to draw.")
    text += [f"- {s}" for s in skipped]
    if table:
        hdr = ["", "| manifold | dim | pieces | depth reached / limit | piece budget | stopped by | regions | "
               "reach | Δσ | trace s | Δσ s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        foot = ["", "*reach*: largest distance of the traced pieces from their saddle in the figures' coordinates"
                + (f" ({proj.describe()})" if proj is not None else "") + ", divided by the diameter of the "
                "trajectories' bounding box there (1 ≈ across the whole attractor). Δσ (1 = best) is the reference "
                "paper's numerical quality score: points on the pieces are followed along the exact pieces, random "
                "box points with the float map" + (" (inverse branches restricted to the visited regions)"
                                                    if isinstance(cells, _VisitedCells) else "") + "."]
        text = hdr[1:] + table + foot + [""] + text
    if text:
        sections.append(("Manifolds", "\n".join(text)))
    return out


def _delta_cells(model, box, search, trajs):
    """Cells for Δσ's branch inverse: the exact CellIndex for small arrangements, else the
    regions visited by trajectories and orbits (see :class:`_VisitedCells`)."""
    if model.L <= 6:
        from graph.stable import CellIndex

        try:
            return CellIndex(model, box)
        except ValueError:
            pass
    regs = {r for o in search.orbits for r in o.regions}
    if trajs is not None and len(trajs):
        Z = np.asarray(trajs).reshape(-1, model.n)
        Z = Z[np.all(np.isfinite(Z), axis=1)]
        regs |= {"".join("1" if v else "0" for v in row) for row in np.unique(model.preact(Z) > 0, axis=0)}
    return _VisitedCells(model, regs, box)


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
