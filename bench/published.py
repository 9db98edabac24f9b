"""Benchmark: where the time goes in the chaos search for the published Lorenz-63 ALRNN (M = 20).

Stages, each timed in this run (and the top functions of a cProfile of the whole run):

1. orbits: ``find_orbits(model, 1)`` (exact, complete: 4 regions);
2. homoclinic search: ``find_connections(model, max_length=N)`` for the fixed points
   (N = 8 and a longer N);
3. certification + check: ``certify_search`` (builds claims for the candidates and runs the
   independent checker; with no candidate it only checks the empty certificate) and
   ``check_certificate`` on its certificate;
4. long saddle cycles: ``recurrent_cycles`` on a 3000-step trajectory of the attractor
   (data-seeded SCYFI, float);
5. landing scan: ``landing_scan`` of the best cycle with a 1-D unstable manifold (float);
6. exact cost of a long orbit: the flint product of N exact Jacobians (what the checker does
   along a connection of length N) for N = 250, 500, 1000 — the quadratic growth that makes a
   2500-step certificate expensive.

Ratios are printed against stage 1 (the exact orbit search) measured in the same run.

With ``--report`` it instead times the whole verified report (``build_report`` with the
Lorenz data for the reconstruction section): the report's own stage and sub-stage table
(manifolds per manifold, basins, reconstruction parts, check), ratios against the orbit
stage, and the cProfile top functions, e.g. for the M = 30 model:

    python bench/published.py --report --model ../shared/data/alrnn_lorenz_m30_p10.pt

Run: python bench/published.py [--model PATH] [--long N] [--no-profile] [--report]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path

import numpy as np

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alrnn_lorenz_m20_p2.pt"


def stage(name, fn, rows):
    t = time.perf_counter()
    out = fn()
    rows.append((name, time.perf_counter() - t))
    return out


def run(model_path: Path, long_n: int) -> list:
    from graph.homoclinic import find_connections, landing_scan, recurrent_cycles
    from symbolic.models import load_model
    from symbolic.orbits import find_orbits
    from verify.chaos import certify_search
    from verify.checker import check_certificate

    rows = []
    model = stage("load model", lambda: load_model(model_path), rows)
    orbits = stage("orbits (exact, period 1)", lambda: find_orbits(model, 1), rows)
    print("fixed points:", ", ".join(f"{o.id} {o.type} {o.stable_dim}/{o.unstable_dim}" for o in orbits.orbits))
    s8 = stage("find_connections max_length=8", lambda: find_connections(model, orbits, max_length=8), rows)
    sl = stage(f"find_connections max_length={long_n}",
               lambda: find_connections(model, orbits, max_length=long_n, snapback=False), rows)
    print(f"candidates: N=8: {len(s8.connections)}, N={long_n}: {len(sl.connections)} ({sl.status}; "
          f"{sl.stats.get('nodes', 0)} pieces)")
    cc = stage("certify_search", lambda: certify_search(model, sl), rows)
    stage("check_certificate", lambda: check_certificate(cc.certificate), rows)
    data = np.load(model_path.parent / "lorenz63_test.npy")
    z = np.zeros(model.n)
    z[:3] = data[1000]
    Z = stage("trajectory 4000 steps", lambda: model.trajectory(z, 4000)[1000:], rows)
    cyc = stage("recurrent_cycles (12 seeds)", lambda: recurrent_cycles(model, Z, max_seeds=12), rows)
    for c in cyc:
        print(f"cycle period {c.period}: unstable dim {c.unstable_dim}, multipliers {np.round(c.multipliers[:3], 4)}, "
              f"margin {c.margin:.1e}")
    one = [c for c in cyc if c.unstable_dim == 1]
    if one:
        sc = stage("landing_scan (1000 samples/branch)", lambda: landing_scan(model, one[0], samples=1000,
                                                                              max_steps=3000), rows)
        print(f"landing scan of the period-{one[0].period} cycle: departure radius {sc.departure_radius:.2e}, "
              f"first crossing of W^s's tangent hyperplane within {2e-3} of the cycle at step {sc.step} "
              f"(distance {sc.distance})")
    J = [model.jacobian(b) for b in ("01", "10", "11")]

    def products(N):
        D = J[0]
        for s in range(1, N):
            D = J[s % 3] * D
        return D

    for N in (250, 500, 1000):
        stage(f"exact product of {N} Jacobians", lambda N=N: products(N), rows)
    return rows


def run_report(model_path: Path) -> list:
    from symbolic.models import load_model
    from verify.report import ReportOptions, build_report

    data_path = model_path.parent / "lorenz63_test.npy"
    X = np.load(data_path) if data_path.exists() else None
    t = time.perf_counter()
    rep = build_report(load_model(model_path), ReportOptions(data=X, data_name=data_path.name))
    total = time.perf_counter() - t
    rows = [(("  " if " / " in name else "") + name, sec) for name, sec, _ in rep.stages]
    rows.append(("(build_report total)", total))
    for title, text in rep.sections:
        if title in ("Manifolds", "Reconstruction"):
            print(f"--- {title}\n{text}\n")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=DEFAULT)
    ap.add_argument("--long", type=int, default=40, help="longer itinerary bound for the fixed points (default 40)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--report", action="store_true", help="time the whole report (stages and sub-stages) instead")
    args = ap.parse_args()
    if not args.model.exists():
        raise SystemExit(f"model not found: {args.model} (../shared/data is not shipped)")
    prof = None if args.no_profile else cProfile.Profile()
    if prof:
        prof.enable()
    rows = run_report(args.model) if args.report else run(args.model, args.long)
    if prof:
        prof.disable()
    base = next(t for name, t in rows if name.strip().startswith("orbits"))
    print(f"\n{'stage':<52}{'seconds':>10}{'x orbits':>10}")
    for name, t in rows:
        print(f"{name:<52}{t:>10.3f}{t / base:>10.1f}")
    if not args.report:
        print(f"{'total':<42}{sum(t for _, t in rows):>10.3f}")
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(18)
        print(s.getvalue())


if __name__ == "__main__":
    main()
