"""Benchmark: exact basin boundaries (traced stable manifolds) vs brute-force basin grids.

For the bundled ``bistable`` example and the trained ``duffing`` model (skipped with a message
when it is not there), measured in one run:

* **boundary**: attractors (orbit search + trapping polytopes) and the stable manifolds of
  the saddles traced as polyhedral pieces (exact over Q when the saddle's stable subspace is
  rational, else float pieces around a proven local piece). Its accuracy is taken as
  ``eps = 1e-9 × window width`` (the pieces are exact or float-rounded; this is generous to
  the baselines);
* **grid**: the brute-force basin map (every grid point iterated until caught by a trap) at
  a few resolutions; the boundary is located to within one cell h = width / N, so reaching
  ``eps`` needs N = width / eps points per side: the time is extrapolated from the measured
  cost per grid point;
* **grid + bisection**: a 100 × 100 grid, then every edge whose end labels differ is bisected
  (all edges at once, vectorised) until its length is below ``eps``: a brute-force boundary at
  accuracy ``eps`` along the grid lines, measured directly; the distance of the bisection
  points to the traced pieces checks that both describe the same boundary.

Run: python bench/basins.py [--quick]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from graph.attractors import find_attractors  # noqa: E402
from graph.basins import _trace_box, basin_map, label_points, make_slice, trace_boundaries  # noqa: E402
from proofs_examples import example_names, example_path  # noqa: E402
from symbolic.models import load_model  # noqa: E402


def _segments(boundaries):
    return np.array([bp.segment for b in boundaries for bp in b.pieces if bp.segment is not None]).reshape(-1, 2, 2)


def _dist_to_segments(P, segs):
    """Distance of points P (m, 2) to the nearest segment (k, 2, 2), vectorised."""
    if len(segs) == 0:
        return np.full(len(P), np.inf)
    a, b = segs[:, 0], segs[:, 1]
    d = b - a
    dd = np.maximum((d * d).sum(axis=1), 1e-300)
    t = np.clip(((P[:, None, :] - a[None]) * d[None]).sum(axis=2) / dd[None], 0, 1)
    q = a[None] + t[..., None] * d[None]
    return np.sqrt(((P[:, None, :] - q) ** 2).sum(axis=2)).min(axis=1)


def bisect_boundary(model, att, sl, N, eps, max_steps):
    """Grid N × N, then bisection of every label-changing edge down to length < eps."""
    bm = basin_map(model, att, sl, N, max_steps)
    L = bm.labels
    s, t = sl.coords(N)
    pairs = []
    for j, i in np.argwhere((L[:, 1:] != L[:, :-1]) & (L[:, 1:] >= 0) & (L[:, :-1] >= 0)):
        pairs.append(((s[i], t[j]), (s[i + 1], t[j]), L[j, i]))
    for j, i in np.argwhere((L[1:, :] != L[:-1, :]) & (L[1:, :] >= 0) & (L[:-1, :] >= 0)):
        pairs.append(((s[i], t[j]), (s[i], t[j + 1]), L[j, i]))
    if not pairs:
        return bm, np.zeros((0, 2)), 0
    A = np.array([p[0] for p in pairs], float)
    B = np.array([p[1] for p in pairs], float)
    la = np.array([p[2] for p in pairs])
    O, e1, e2 = sl.floats()
    rounds = 0
    while np.max(np.linalg.norm(B - A, axis=1)) >= eps:
        M = (A + B) / 2
        X = O + M[:, :1] * e1 + M[:, 1:] * e2
        lab, _, _ = label_points(model, att, X, max_steps)
        same = lab == la
        A = np.where(same[:, None], M, A)
        B = np.where(same[:, None], B, M)
        rounds += 1
    return bm, (A + B) / 2, rounds


def bench(name, model, resolutions, max_steps=2000):
    print(f"\n== {name}: {model.summary()}")
    find_attractors(model, numerical=False)          # warm-up (imports, caches)
    t0 = time.perf_counter()
    att = find_attractors(model)
    t_att = time.perf_counter() - t0
    sl = make_slice(model, att)
    # shift the window by a third of a coarse cell in t, so that no grid line of the 100 x 100
    # grid runs along a rational boundary through grid points (their basin is undefined)
    shift = (sl.hi[1] - sl.lo[1]) / 300
    sl = replace(sl, lo=(sl.lo[0], sl.lo[1] + shift), hi=(sl.hi[0], sl.hi[1] + shift))
    width = float(max(sl.hi[0] - sl.lo[0], sl.hi[1] - sl.lo[1]))
    eps = 1e-9 * width
    # tracing box from a coarse grid's trajectories (as compute_basins does)
    vis_map = basin_map(model, att, sl, 40, max_steps)
    box = _trace_box(model, sl, att, visited=vis_map.visited)
    t1 = time.perf_counter()
    bds = trace_boundaries(model, att, box, sl, depth=100, budget=5000, max_steps=max_steps)
    t_trace = time.perf_counter() - t1
    t_boundary = t_att + t_trace
    npieces = sum(len(b.pieces) for b in bds)
    exact = all(b.exact for b in bds)
    print(f"attractors: {len(att.attractors)} ({t_att:.3f} s); boundary: {len(bds)} saddle(s), {npieces} pieces, "
          f"{'exact over Q' if exact else 'float pieces'} ({t_trace:.3f} s); boundary computation total {t_boundary:.3f} s")
    print(f"window width {width:.3g}; accuracy eps = {eps:.3g}")
    per_point = []
    for N in resolutions:
        t2 = time.perf_counter()
        basin_map(model, att, sl, N, max_steps)
        dt = time.perf_counter() - t2
        per_point.append(dt / N ** 2)
        print(f"grid {N:>4} x {N:<4}: {dt:8.3f} s  (cell {width / N:.3g}; {dt / t_boundary:8.1f} x boundary time)")
    c = float(np.median(per_point))
    N_eps = width / eps
    t_eps = c * N_eps ** 2
    print(f"grid resolving eps: N = {N_eps:.3g} per side, extrapolated {t_eps:.3g} s "
          f"= {t_eps / t_boundary:.3g} x boundary time")
    t3 = time.perf_counter()
    bm, pts, rounds = bisect_boundary(model, att, sl, 100, eps, max_steps)
    t_bis = time.perf_counter() - t3
    segs = _segments(bds)
    d = _dist_to_segments(pts, segs) if len(pts) else np.zeros(0)
    far = int((d > 10 * eps + 1e-12).sum()) if len(d) else 0
    print(f"grid 100 x 100 + bisection of {len(pts)} boundary edges ({rounds} rounds) to eps: {t_bis:.3f} s "
          f"= {t_bis / t_boundary:.2f} x boundary time")
    if len(d):
        print(f"  distance of the bisected boundary points to the traced pieces: median {np.median(d):.2g}, "
              f"max {d.max():.2g} ({far} farther than 10 eps)")
    return {"boundary_s": t_boundary, "grid_eps_s": t_eps, "bisection_s": t_bis}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids")
    args = ap.parse_args(argv)
    res = [50, 100] if args.quick else [100, 200, 400]
    bench("bistable", load_model(example_path("bistable")), res)
    if "duffing" in example_names():
        bench("duffing", load_model(example_path("duffing")), res[:2] if not args.quick else res[:1])
    else:
        print("\n== duffing: proofs_examples/duffing.json not found; skipped")


if __name__ == "__main__":
    main()
