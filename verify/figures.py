"""Report figures (matplotlib, Agg): state space, eigenvalues, region graph.

Every function returns a :class:`Figure` (PNG bytes + caption saying what is certified in
it); nothing is written here.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

TYPE_STYLE = {
    "attractor": dict(marker="o", color="tab:blue"),
    "saddle": dict(marker="X", color="tab:red"),
    "repeller": dict(marker="s", color="tab:purple"),
    "non-hyperbolic": dict(marker="D", color="tab:olive"),
    "boundary": dict(marker="^", color="tab:gray"),
    "continuum": dict(marker="*", color="tab:brown"),
}


@dataclass
class Figure:
    name: str
    png: bytes
    caption: str


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


class Projection:
    """Plot coordinates of states: identity (n ≤ 3), the model's observation space, or the
    leading principal components of a trajectory."""

    def __init__(self, model, traj: np.ndarray):
        n = model.n
        self.labels = [f"z{i + 1}" for i in range(min(n, 3))]
        self.kind = "state"
        if n <= 3:
            self.M, self.b = np.eye(n), np.zeros(n)
        elif model.observation is not None:
            B = np.array([[float(v) for v in row] for row in model.observation["B"]])
            b = np.array([float(v) for v in model.observation["b"]])
            k = min(3, B.shape[0])
            self.M, self.b = B[:k], b[:k]
            self.kind = "observation"
            self.labels = [f"x{i + 1}" for i in range(k)]
        else:
            X = traj.reshape(-1, n)
            X = X[np.all(np.isfinite(X), axis=1)]
            mu = X.mean(axis=0) if len(X) else np.zeros(n)
            _, _, Vt = np.linalg.svd(X - mu, full_matrices=False) if len(X) > 3 else (None, None, np.eye(n))
            self.M = Vt[:3]
            self.b = -self.M @ mu
            self.kind = "pca"
            self.labels = [f"PC{i + 1}" for i in range(3)]

    @property
    def dim(self) -> int:
        return self.M.shape[0]

    def __call__(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=float) @ self.M.T + self.b

    def describe(self) -> str:
        return {"state": "state space", "observation": "the model's observation space (x = B z + b)",
                "pca": "projection on the leading principal components of the trajectories"}[self.kind]


def state_space(model, proj: Projection, trajs: np.ndarray, orbits, certified: set, manifolds=(),
                title: str = "", extra_points=()) -> Figure:
    """Trajectories (grey), orbits (markers by type; filled = certified), manifold pieces."""
    d = proj.dim
    fig = plt.figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot(111, projection="3d" if d == 3 else None)
    def draw_manifolds(which):
        for piece_set in manifolds:
            if piece_set.get("side") != which:
                continue
            color, lw, alpha = (("tab:red", 0.9, 0.9) if which == "unstable" else ("tab:green", 0.5, 0.45))
            for seg in piece_set.get("segments", []):
                S = proj(np.asarray(seg, dtype=float))
                if d == 2:
                    ax.plot(S[:, 0], S[:, 1], "-", color=color, lw=lw, alpha=alpha)
                elif d == 3:
                    ax.plot(S[:, 0], S[:, 1], S[:, 2], "-", color=color, lw=lw * 0.8, alpha=alpha)

    draw_manifolds("stable")
    for tr in trajs:
        P = proj(tr)
        P = P[np.all(np.isfinite(P), axis=1)]
        if d == 1:
            ax.plot(P[:-1, 0], P[1:, 0], ".", ms=1, color="0.45", alpha=0.5)
        elif d == 2:
            ax.plot(P[:, 0], P[:, 1], ".", ms=1, color="0.45", alpha=0.5)
        else:
            ax.plot(P[:, 0], P[:, 1], P[:, 2], ".", ms=0.8, color="0.45", alpha=0.4)
    draw_manifolds("unstable")
    if d == 1:
        lim = np.nanpercentile(np.concatenate([proj(t)[:, 0] for t in trajs]), [0.5, 99.5])
        xs = np.linspace(lim[0] - 0.1, lim[1] + 0.1, 400)
        ax.plot(xs, model.f(xs[:, None])[:, 0], "k-", lw=1)
        ax.plot(xs, xs, "k:", lw=0.8)
    seen = set()
    for o in orbits:
        st = TYPE_STYLE.get(o.type, dict(marker="o", color="k"))
        P = proj(np.array([[float(v) for v in p] for p in o.points]))
        lab = o.type if o.type not in seen else None
        seen.add(o.type)
        face = st["color"] if o.id in certified else "none"
        if d == 1:
            ax.scatter(P[:, 0], P[:, 0], marker=st["marker"], edgecolors=st["color"], facecolors=face, s=50, label=lab, zorder=5)
        elif d == 2:
            ax.scatter(P[:, 0], P[:, 1], marker=st["marker"], edgecolors=st["color"], facecolors=face, s=60, label=lab, zorder=5)
        else:
            ax.scatter(P[:, 0], P[:, 1], P[:, 2], marker=st["marker"], color=st["color"], s=40, label=lab)
    if len(extra_points) and d >= 2:
        E = proj(np.vstack(extra_points))
        if d == 2:
            ax.scatter(E[:, 0], E[:, 1], marker="+", color="k", s=40, label="certified homoclinic point", zorder=6)
        else:
            ax.scatter(E[:, 0], E[:, 1], E[:, 2], marker="+", color="k", s=30, label="certified homoclinic point")
        seen.add("homoclinic")
    ax.set_xlabel(proj.labels[0] if d > 1 else "z")
    ax.set_ylabel(proj.labels[1] if d > 1 else "f(z)")
    if d == 3:
        ax.set_zlabel(proj.labels[2])
    if seen:
        ax.legend(loc="best", fontsize=8)
    ax.set_title(title or model.name)
    caption = (f"Trajectories (grey) and periodic orbits in {proj.describe()}. Filled markers: orbit "
               "certified by the independent checker (exact coordinates, strict region membership, "
               "stability split); hollow: computed exactly but not certified.")
    if len(extra_points):
        caption += " Black crosses: points of certified transversal homoclinic/heteroclinic orbits."
    if manifolds:
        caption += (" Red: unstable, green: stable manifold pieces (exact polyhedral pieces traced by "
                    "the manifold tracer; numerical where their eigen-data are irrational).")
    return Figure("state_space.png", _png(fig), caption)


def _compress(x: float, y: float) -> tuple[float, float]:
    r = float(np.hypot(x, y))
    if r <= 1 or not np.isfinite(r):
        return x, y
    k = (1 + np.log(r)) / r
    return x * k, y * k


def eigenvalues(orbits, certified: set) -> Figure:
    """Eigenvalue enclosures of every classified orbit against the unit circle."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), "k-", lw=0.8)
    for o in orbits:
        if o.stability is None:
            continue
        st = TYPE_STYLE.get(o.type, dict(marker="o", color="k"))
        for e in o.stability.eigenvalues:
            x, y = _compress(float((e.re[0] + e.re[1]) / 2), float((e.im[0] + e.im[1]) / 2))
            ax.plot(x, y, st["marker"], color=st["color"], ms=6, mfc=st["color"] if o.id in certified else "none")
            ax.annotate(o.id, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    lim = max([1.2] + [abs(v) * 1.1 for ln in ax.lines[1:] for v in (*ln.get_xdata(), *ln.get_ydata())])
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.axhline(0, color="0.8", lw=0.5)
    ax.axvline(0, color="0.8", lw=0.5)
    ax.set_xlabel("Re λ (radius 1 + log|λ| outside the unit circle)")
    ax.set_ylabel("Im λ")
    ax.set_title("Eigenvalues of the (product) Jacobians")
    caption = ("Eigenvalues of each orbit's product Jacobian (centres of rigorous enclosures) and the unit "
               "circle; outside the circle the radius is drawn as 1 + log|λ| so large eigenvalues stay visible. Inside/outside counts are decided exactly from the rational characteristic "
               "polynomial; filled markers belong to orbits whose stability split the checker re-derived.")
    return Figure("eigenvalues.png", _png(fig), caption)


def region_graph(G, orbits, title: str = "") -> Figure:
    """Transition graph between regions (nodes: region bit strings)."""
    import networkx as nx

    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    if G.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no regions visited", ha="center")
    else:
        pos = nx.spring_layout(G, seed=0) if G.number_of_nodes() > 2 else nx.circular_layout(G)
        orbit_regions = {r for o in orbits for r in o.regions}
        colors = ["tab:orange" if v in orbit_regions else "tab:blue" for v in G.nodes]
        sizes = [80 + 400 * G.nodes[v].get("visits", 0) / max(1, max(G.nodes[u].get("visits", 1) for u in G)) for v in G]
        nx.draw_networkx(G, pos=pos, ax=ax, node_color=colors, node_size=sizes, with_labels=G.number_of_nodes() <= 24,
                         font_size=7, arrows=True, edge_color="0.6", width=0.6)
    ax.set_axis_off()
    ax.set_title(title or "Region transition graph")
    caption = ("Regions (linear pieces) visited by the trajectories and the transitions observed between "
               "them (numerical: sampled, not a complete graph). Orange: regions that contain an orbit point.")
    return Figure("region_graph.png", _png(fig), caption)
