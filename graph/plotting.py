"""Figures of manifold pieces over a trajectory of the model (matplotlib, Agg backend).

n = 2: the plane; n = 3: 3-D axes; n > 3: the observation space when the model has a
linear observation map with >= 2 outputs, else the leading principal components of the
trajectory. 1-D pieces are drawn as segments, 2-D pieces as filled polygons (faces of the
convex hull in 3-D), higher-dimensional pieces by sampled points.

>>> import os, tempfile
>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.manifolds import trace_manifold
>>> m = load_model(example_path("bistable"))
>>> res = trace_manifold(m, "P1-3", "stable")
>>> out = os.path.join(tempfile.mkdtemp(), "bistable.png")
>>> _ = plot_manifolds(m, [res], out)
>>> os.path.getsize(out) > 1000
True
"""
from __future__ import annotations

import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from symbolic.pieces import sample, vertices  # noqa: E402

__all__ = ["plot_manifolds", "projection_for", "model_trajectory"]

COLORS = {"stable": "tab:blue", "unstable": "tab:red"}


def model_trajectory(model, steps: int = 20000, seed: int = 0, box=None) -> np.ndarray:
    """Float points of a long trajectory (transient dropped) from a few random starts."""
    rng = np.random.default_rng(seed)
    n = model.n
    if box is not None:
        lo, hi = (np.array([float(v) for v in b]) for b in box)
    else:
        lo, hi = -np.ones(n), np.ones(n)
    Z = lo + (hi - lo) * rng.uniform(size=(8, n))
    out = []
    per = max(1, steps // 8)
    for t in range(per + 200):
        Z = model.f(Z)
        Z[~np.all(np.isfinite(Z), axis=1) | (np.abs(Z).max(axis=1) > 1e6)] = np.nan
        if t >= 200:
            out.append(Z.copy())
    X = np.concatenate(out) if out else np.zeros((0, n))
    return X[np.all(np.isfinite(X), axis=1)]


def projection_for(model, trajectory: np.ndarray):
    """(P, c, labels): a linear map x -> P (x − c) to <= 3 plotting coordinates."""
    n = model.n
    if n <= 3:
        return np.eye(n), np.zeros(n), [f"z{i + 1}" for i in range(n)]
    obs = getattr(model, "observation", None)
    if obs and obs.get("B") is not None:
        from symbolic.rationals import to_float

        B = obs["B"]
        if isinstance(B, np.ndarray):
            Bf = B
        elif isinstance(B, list):                  # rows of exact rationals
            Bf = np.array([[float(v) for v in row] for row in B])
        else:
            Bf = to_float(B)
        if Bf.shape[0] >= 2:
            k = min(3, Bf.shape[0])
            return Bf[:k], np.zeros(n), [f"x{i + 1}" for i in range(k)]
    X = trajectory if len(trajectory) else np.zeros((1, n))
    c = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - c, full_matrices=False)
    k = 3
    return Vt[:k], c, [f"PC{i + 1}" for i in range(k)]


def _save_atomic(fig, path: str) -> None:
    d = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=d)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def plot_manifolds(model, results, path: str | None = None, trajectory: np.ndarray | None = None,
                   title: str | None = None, max_pieces: int = 20000, ax=None):
    """Draw the pieces of one or several :class:`graph.manifolds.ManifoldResult` (PNG at ``path``)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    if not isinstance(results, (list, tuple)):
        results = [results]
    box = results[0].box if results else None
    if trajectory is None:
        trajectory = model_trajectory(model, box=box)
    trajectory = np.asarray(trajectory, float)
    if len(trajectory):                  # a diverging background orbit would swamp the axes
        keep = np.all(np.isfinite(trajectory), axis=1)
        if box is not None:
            lo, hi = (np.array([float(v) for v in b]) for b in box)
            pad = hi - lo
            keep &= np.all((trajectory >= lo - pad) & (trajectory <= hi + pad), axis=1)
        trajectory = trajectory[keep]
    P, c, labels = projection_for(model, trajectory)
    d = P.shape[0]
    proj = lambda X: (np.atleast_2d(X) - c) @ P.T
    three = d == 3
    fig = None
    if ax is None:
        fig = plt.figure(figsize=(7, 6))
        ax = fig.add_subplot(111, projection="3d" if three else None)
    if len(trajectory):
        T = proj(trajectory)
        if three:
            ax.scatter(T[:, 0], T[:, 1], T[:, 2], s=0.3, c="0.6", alpha=0.4, linewidths=0)
        else:
            ax.scatter(T[:, 0], T[:, 1] if d > 1 else np.zeros(len(T)), s=0.5, c="k", alpha=0.6,
                       linewidths=0, label="trajectory", zorder=1)
    total = sum(len(r.pieces) for r in results)
    lw = 1.0 if total < 300 else 0.6 if total < 3000 else 0.35
    for res in sorted(results, key=lambda r: r.side != "stable"):       # unstable drawn on top
        col = COLORS.get(res.side, "k")
        segs, polys, clouds = [], [], []
        for p in res.pieces[:max_pieces]:
            if p.dim <= 2 and p.k <= 3:
                V = vertices(p)
                if V is None:
                    continue
                W = proj(V)
                if p.dim <= 1:
                    order = np.argsort(W[:, 0] + 1e-3 * (W[:, 1] if d > 1 else 0))
                    segs.append(W[[order[0], order[-1]]])
                else:
                    polys.append(W)
            else:
                clouds.append(proj(sample(p, 30)))
        label = f"W^{res.side[0]} of {getattr(res.orbit, 'id', '')}"
        if three:
            from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

            if segs:
                ax.add_collection3d(Line3DCollection(segs, colors=col, linewidths=1.0))
            if polys:
                ax.add_collection3d(Poly3DCollection([_hull3(W) for W in polys], facecolors=col, alpha=0.35,
                                                     edgecolors=col, linewidths=0.2))
        else:
            if d == 1:
                segs = [np.column_stack([s[:, 0], np.zeros(len(s))]) for s in segs]
            if segs:
                ax.add_collection(LineCollection([s[:, :2] for s in segs], colors=col, linewidths=lw, label=label))
            if polys:
                ax.add_collection(PolyCollection([W[:, :2] for W in polys], facecolors=col, alpha=0.35,
                                                 edgecolors=col, linewidths=0.3))
        if clouds:
            C = np.concatenate(clouds)
            if three:
                ax.scatter(C[:, 0], C[:, 1], C[:, 2], s=1, c=col)
            else:
                ax.scatter(C[:, 0], C[:, 1] if d > 1 else np.zeros(len(C)), s=1, c=col)
        pts = proj(np.array([[float(v) for v in q] for q in res.orbit.points]))
        if three:
            ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], marker="x", c="k", s=40)
        else:
            ax.scatter(pts[:, 0], pts[:, 1] if d > 1 else np.zeros(len(pts)), marker="x", c="k", s=40, zorder=5)
    if box is not None and d == model.n:
        lo, hi = (np.array([float(v) for v in b]) for b in box)
        ax.set_xlim(lo[0], hi[0])
        if d > 1:
            ax.set_ylim(lo[1], hi[1])
        if three:
            ax.set_zlim(lo[2], hi[2])
    if not three:
        handles, labs = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper right", fontsize=8, markerscale=8, framealpha=0.8)
    ax.set_xlabel(labels[0])
    if d > 1:
        ax.set_ylabel(labels[1])
    if three:
        ax.set_zlabel(labels[2])
    ax.set_title(title or f"{model.name or 'model'}: " + ", ".join(
        f"W^{r.side[0]}({getattr(r.orbit, 'id', '')}) {len(r.pieces)} pieces" for r in results), fontsize=9)
    if fig is not None and path is not None:
        _save_atomic(fig, path)
        plt.close(fig)
    return fig


def _hull3(W: np.ndarray) -> np.ndarray:
    """Vertices of a planar convex polygon in 3-D, in cyclic order."""
    c = W.mean(axis=0)
    X = W - c
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    Y = X @ Vt[:2].T
    return W[np.argsort(np.arctan2(Y[:, 1], Y[:, 0]))]
