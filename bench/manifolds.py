"""Benchmark: exact manifold tracing against a sampling + PCA baseline (reference style), one run.

For the Lozi map (saddle (5/11, 5/22)) and a 3-D shPLRNN with H = 20 hidden units (a trained
Lorenz-63 model from ``proofs_examples`` when one is bundled, else a random one with a saddle
and bounded trajectories), for both sides of the saddle it prints

* ours (:func:`graph.manifolds.trace_manifold`): pieces, seconds, pieces per second, the box
  fraction covered (cells of the arrangement meeting the box that the manifold enters),
  what stopped it, and Δσ (REFERENCE.md) with the manifold points followed exactly along the
  pieces and, for comparison, with the float map;
* the baseline in the style of the reference method (their Algorithm 1/2): sample N_s points
  on the local eigenspace segment (the same local patch as ours, so that only the
  propagation is compared), map them forward (unstable) or backward with a
  region-guessing inverse (stable), group each segment's images by region, fit one PCA
  plane per (segment, region) and resample N_s points on it, repeat for the same number of
  steps; seconds, planes, Δσ of its points (float map), and how far its points are from
  our exact pieces (1-D manifolds);
* ratios baseline / ours for time and the Δσ difference.

    python bench/manifolds.py            # about 1-3 minutes
    python bench/manifolds.py --quick    # smaller depths
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from graph.manifolds import default_box, trace_manifold  # noqa: E402
from graph.stable import CellIndex  # noqa: E402
from graph.quality import BranchInverse, delta_sigma, delta_sigma_points  # noqa: E402
from graph.regiongraph import region_graph  # noqa: E402
from proofs_examples import example_names, example_path  # noqa: E402
from symbolic.eigenspaces import cycle_jacobians, invariant_subspace  # noqa: E402
from symbolic.models import load_model, model_from_dict  # noqa: E402
from symbolic.orbits import find_orbits  # noqa: E402
from symbolic.pieces import vertices  # noqa: E402
from symbolic.regions import bits_to_array  # noqa: E402


# ----------------------------------------------------------------------------- models

def random_shplrnn(seed: int = 195, n: int = 3, H: int = 20):
    """A random shPLRNN (n = 3, H = 20) with bounded trajectories and a saddle (seed 195: P1-3,
    stable dimension 2, unstable dimension 1)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.3, 0.9, n)
    scale = rng.choice([0.3, 0.5, 0.8, 1.2])
    W1 = rng.normal(size=(n, H)) * scale / np.sqrt(H)
    W2, h1, h2 = rng.normal(size=(H, n)), rng.normal(size=n) * 0.5, rng.normal(size=H)
    return model_from_dict({"kind": "shplrnn", "name": f"random shPLRNN n={n} H={H} seed={seed}", "A": a.tolist(),
                            "W1": W1.tolist(), "W2": W2.tolist(), "h1": h1.tolist(), "h2": h2.tolist()})


def lorenz_like_model():
    """A bundled trained Lorenz-63 shPLRNN if there is one, else the random shPLRNN."""
    for name in example_names():
        if "lorenz" in name.lower():
            m = load_model(str(example_path(name)))
            if m.n == 3:
                return m, name
    return random_shplrnn(), "random shPLRNN n=3 H=20 (seed 195; no trained Lorenz model bundled yet)"


# ----------------------------------------------------------------------------- baseline

def _regions_of(model, X):
    return ["".join("1" if v else "0" for v in row) for row in (model.preact(X) > 0)]


def _alg2_inverse(model, Y, cells, J, c, Jinv):
    """Preimages in the spirit of the reference's Algorithm 2: try the point's own region,
    then its single-bit flips, then every other cell; accept a candidate x = J_t^{-1}(y − c_t)
    whose region is t (verified by the forward step). Returns (X, found)."""
    Yr = model.preact(Y) > 0
    cell_bits = bits_to_array(cells, model.L)
    X = np.einsum("tij,ntj->nti", Jinv, Y[:, None, :] - c[None])
    ok = np.all((X @ model.Cf.T + model.df > 0) == cell_bits[None], axis=2) & np.all(np.isfinite(X), axis=2)
    ham = np.sum(cell_bits[None] != Yr[:, None, :], axis=2)
    prio = np.where(ok, np.minimum(ham, 2), 99)
    best = np.argmin(prio, axis=1)
    found = prio[np.arange(len(Y)), best] < 99
    return X[np.arange(len(Y)), best], found


def pca_baseline(model, orbit, side, box, n_iter, n_per=None, max_segments=4000, seed=0, local=None):
    """Sampling + PCA propagation in the style of the reference's Algorithm 1.

    Each current segment (a sampled flat patch) is sampled with ``n_per`` points, mapped
    forward (unstable) or backward with the region-guessing inverse (stable), the images are
    grouped by region, and one PCA plane per (segment, region) is fitted and resampled
    uniformly over the images' extent: the next segments. Returns (points, planes, seconds).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    P0 = cycle_jacobians(model, orbit.regions)[0]
    E = invariant_subspace(P0, side)
    k = E.dim
    Q = E.orthonormal()
    p = np.array([float(v) for v in orbit.points[0]])
    lo, hi = (np.array([float(v) for v in b]) for b in box)
    n_per = n_per or 25 * k
    if local is not None:                     # the same starting patch as ours (fair comparison)
        from symbolic.pieces import sample

        segs = [sample(local, n_per, rng)]
    else:                                     # half the distance to the nearest hyperplane
        dist = np.abs(model.preact(p)) / np.linalg.norm(model.Cf, axis=1)
        eps = 0.5 * float(dist.min())
        segs = [p + rng.uniform(-eps, eps, size=(n_per, k)) @ Q.T]
    allp = list(segs)
    planes = 0
    cells = J = c = Jinv = None
    if side == "stable":
        cells = region_graph(model, box=box).cells
        J, c = model.affine_pieces_float(bits_to_array(cells, model.L))
        okJ = np.abs(np.linalg.det(J)) > 1e-12
        cells = [s for s, o in zip(cells, okJ) if o]
        J, c = J[okJ], c[okJ]
        Jinv = np.linalg.inv(J)
    for _ in range(n_iter):
        nxt = []
        for pts in segs:
            if side == "unstable":
                new, found = model.f(pts), np.ones(len(pts), bool)
            else:
                new, found = _alg2_inverse(model, pts, cells, J, c, Jinv)
            new = new[found & np.all((new >= lo) & (new <= hi), axis=1)]
            if len(new) <= k:
                continue
            regs = np.array(_regions_of(model, new))
            for r in np.unique(regs):
                Xr = new[regs == r]
                if len(Xr) <= k:
                    continue
                ctr = Xr.mean(axis=0)
                _, _, Vt = np.linalg.svd(Xr - ctr, full_matrices=False)
                V = Vt[:k]
                coords = (Xr - ctr) @ V.T
                nxt.append(ctr + rng.uniform(coords.min(axis=0), coords.max(axis=0), size=(n_per, k)) @ V)
                planes += 1
        if not nxt:
            break
        segs = nxt[:max_segments]
        allp.extend(segs)
        if len(nxt) > max_segments:
            break
    return np.concatenate(allp), planes, time.perf_counter() - t0


def distance_to_segments(X, segs, chunk=2000):
    """Distance of each point of X to the union of segments (a, b)."""
    A, B = segs[:, 0], segs[:, 1]
    D = B - A
    L2 = np.maximum(np.einsum("ij,ij->i", D, D), 1e-300)
    out = []
    for s in range(0, len(X), chunk):
        P = X[s:s + chunk]
        t = np.clip(np.einsum("nsj,sj->ns", P[:, None, :] - A[None], D) / L2[None], 0, 1)
        Y = A[None] + t[..., None] * D[None]
        out.append(np.min(np.linalg.norm(P[:, None, :] - Y, axis=2), axis=1))
    return np.concatenate(out)


# ----------------------------------------------------------------------------- one comparison

def compare(model, orbit, side, depth, budget, label):
    box = default_box(model, orbit)
    t0 = time.perf_counter()
    res = trace_manifold(model, orbit, side, depth=depth, budget=budget, box=box, box_fraction=False)
    t_ours = time.perf_counter() - t0
    t1 = time.perf_counter()
    index = CellIndex(model, box)
    cells = index.cells
    frac = len({p.region for p in res.pieces} & set(cells)) / max(1, len(cells))
    t_frac = time.perf_counter() - t1
    q = delta_sigma(model, res, n_manifold=2000, n_box=2000, cells=index)
    qm = delta_sigma(model, res, n_manifold=2000, n_box=2000, along="map", cells=index)
    pts, planes, t_base = pca_baseline(model, orbit, side, box, n_iter=res.depth, max_segments=max(len(res.pieces), 50),
                                       local=res.local.piece)
    P = np.array([[float(v) for v in x] for x in orbit.points])
    qb = delta_sigma_points(model, P, side, pts[np.random.default_rng(0).permutation(len(pts))[:2000]], box,
                            cells=index, n_box=2000, K=q.K)
    # recall: which part of the exact manifold the baseline's points come near (1% of the box)
    from scipy.spatial import cKDTree

    from symbolic.pieces import sample

    lo, hi = (np.array([float(v) for v in b]) for b in box)
    delta = 0.01 * float(np.linalg.norm(hi - lo))
    ours_pts = np.concatenate([sample(p, 5, np.random.default_rng(2)) for p in res.pieces if p.k > 0])
    recall = float(np.mean(cKDTree(pts).query(ours_pts)[0] <= delta))
    base_regions = set(_regions_of(model, pts))
    err = None
    if res.dimension == 1:
        segs = np.array([vertices(p)[[0, -1]] for p in res.pieces if p.dim == 1])
        sel = np.random.default_rng(1).permutation(len(pts))[:3000]
        err = distance_to_segments(pts[sel], segs)
    return {"label": label, "side": side, "dim": res.dimension, "ours": res, "t_ours": t_ours, "t_frac": t_frac,
            "frac": frac, "cells": len(cells), "q": q, "qm": qm, "t_base": t_base, "planes": planes,
            "n_base": len(pts), "qb": qb, "err": err, "recall": recall, "delta": delta,
            "base_regions": len(base_regions & set(cells))}


def report(r):
    res = r["ours"]
    n = len(res.pieces)
    print(f"\n== {r['label']}: W^{r['side'][0]} (dimension {r['dim']}), box "
          f"[{', '.join(f'{float(v):.3g}' for v in res.box[0])}] .. [{', '.join(f'{float(v):.3g}' for v in res.box[1])}]")
    print(f"  ours     : {n:6d} pieces in {r['t_ours']:7.2f} s = {n / r['t_ours']:8.1f} pieces/s, depth {res.depth}, "
          f"stopped by {res.stopped_by}, {'exact' if res.exact else 'float'} pieces")
    print(f"             box fraction {r['frac']:.3f} ({len(res.regions)} of {r['cells']} cells; "
          f"cell walk + image boxes {r['t_frac']:.2f} s)")
    print(f"             Δσ = {r['q'].delta_sigma:.4f} (median δσ {r['q'].median:.2e}, ⟨I_U⟩ {r['q'].I_mean:.3f}; "
          f"{r['q'].seconds:.2f} s); with the float map: Δσ = {r['qm'].delta_sigma:.4f} (median {r['qm'].median:.2e})")
    print(f"  baseline : {r['n_base']:6d} points, {r['planes']} PCA planes in {r['t_base']:7.2f} s; "
          f"Δσ = {r['qb'].delta_sigma:.4f} (median δσ {r['qb'].median:.2e}, ⟨I_U⟩ {r['qb'].I_mean:.3f})")
    print(f"             regions entered {r['base_regions']} (ours {len(res.regions)}); exact manifold within "
          f"{r['delta']:.2g} of a baseline point: {100 * r['recall']:.1f}% of our pieces' sample points")
    if r["err"] is not None:
        e = r["err"]
        print(f"             distance of baseline points to the exact pieces: median {np.median(e):.2e}, "
              f"90% {np.percentile(e, 90):.2e}, max {e.max():.2e}")
    print(f"  ratio    : time baseline/ours = {r['t_base'] / r['t_ours']:.2f}; "
          f"Δσ ours − baseline = {r['q'].delta_sigma - r['qb'].delta_sigma:+.4f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    runs = []
    lozi = load_model(str(example_path("lozi")))
    saddle = next(o for o in find_orbits(lozi, 1).orbits if o.points[0] == (Fraction(5, 11), Fraction(5, 22)))
    d_u, d_s = (10, 4) if args.quick else (16, 6)
    runs.append(compare(lozi, saddle, "unstable", d_u, 4000, "Lozi (17/10, 1/2), saddle (5/11, 5/22)"))
    runs.append(compare(lozi, saddle, "stable", d_s, 4000, "Lozi (17/10, 1/2), saddle (5/11, 5/22)"))
    report(runs[0])
    report(runs[1])
    m, label = lorenz_like_model()
    t0 = time.perf_counter()
    orbs = find_orbits(m, 1)
    sad = [o for o in orbs.orbits if o.type == "saddle"]
    print(f"\n{label}: {len(orbs.orbits)} fixed points found in {time.perf_counter() - t0:.1f} s; saddles: "
          + ", ".join(f"{o.id} (s/u {o.stable_dim}/{o.unstable_dim})" for o in sad))
    if not sad:
        print("no saddle: nothing to trace")
        return 0
    # the saddle with a 1-D unstable manifold (Lorenz: the origin) if any, else the first one
    o = next((o for o in sad if o.unstable_dim == 1), sad[0])
    # a trained model takes small steps (Δt of the data), so W^u needs many steps to reach the attractor
    du, bu = (500, 1000) if args.quick else (3000, 4000)
    for side, depth, budget in (("unstable", du, bu), ("stable", 5 if args.quick else 200, 400 if args.quick else 1500)):
        r = compare(m, o, side, depth, budget, f"{label}, saddle {o.id}")
        report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
