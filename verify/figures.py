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


def _joined(segments, proj) -> np.ndarray | None:
    """All segments/polygons as one array with NaN rows between them (one plot call)."""
    parts = []
    for seg in segments:
        S = proj(np.asarray(seg, dtype=float))
        parts += [S, np.full((1, S.shape[1]), np.nan)]
    return np.vstack(parts) if parts else None


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
            pts = piece_set.get("points")
            if pts is not None and len(pts) and d >= 2:
                S = proj(np.asarray(pts, dtype=float))
                if d == 2:
                    ax.plot(S[:, 0], S[:, 1], ".", ms=1.2, color=color, alpha=alpha)
                else:
                    ax.plot(S[:, 0], S[:, 1], S[:, 2], ".", ms=1.0, color=color, alpha=alpha)
            S = _joined(piece_set.get("segments", []), proj)
            if S is not None:
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


def reconstruction(X: np.ndarray, Y: np.ndarray, labels=None, spectra=None, divergence=None,
                   title: str = "") -> Figure:
    """The model's free run (Y, red) over the data (X, grey) in data space, their power
    spectra (first dimension) and their nearest-neighbour divergence curves.

    ``spectra``: {name: (N, F) normalised spectra}; ``divergence``: {name: (curve, (i0, i1), slope)}.
    """
    N = X.shape[1]
    labels = labels or [f"x{i + 1}" for i in range(N)]
    panels = 1 + (spectra is not None) + (divergence is not None)
    fig = plt.figure(figsize=(5.0 * panels, 4.6))
    d = min(N, 3)
    ax = fig.add_subplot(1, panels, 1, projection="3d" if d == 3 else None)
    step = max(1, len(X) // 8000)
    Xs, Ys = X[::step], Y[::max(1, len(Y) // 8000)]
    if d == 3:
        ax.plot(Xs[:, 0], Xs[:, 1], Xs[:, 2], ".", ms=0.6, color="0.55", alpha=0.35, label="data")
        ax.plot(Ys[:, 0], Ys[:, 1], Ys[:, 2], "-", lw=0.25, color="tab:red", alpha=0.7, label="model (free run)")
        ax.set_zlabel(labels[2])
    elif d == 2:
        ax.plot(Xs[:, 0], Xs[:, 1], ".", ms=0.8, color="0.55", alpha=0.35, label="data")
        ax.plot(Ys[:, 0], Ys[:, 1], "-", lw=0.3, color="tab:red", alpha=0.7, label="model (free run)")
    else:
        ax.plot(Xs[:-1, 0], Xs[1:, 0], ".", ms=0.8, color="0.55", alpha=0.35, label="data")
        ax.plot(Ys[:-1, 0], Ys[1:, 0], ".", ms=0.8, color="tab:red", alpha=0.5, label="model (free run)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1] if d > 1 else f"{labels[0]}(t+1)")
    ax.legend(loc="upper left", fontsize=7, markerscale=8)
    ax.set_title(title or "Attractor in data space")
    k = 2
    colors = {"data": "0.35", "model": "tab:red", "Gaussian": "tab:blue"}
    if spectra is not None:
        ax2 = fig.add_subplot(1, panels, k)
        k += 1
        for name, P in spectra.items():
            f = np.arange(1, P.shape[1] + 1) / (2 * P.shape[1])
            ax2.semilogy(f, P[0], lw=0.9, color=colors.get(name.split()[0], None), label=name)
        ax2.set_xscale("log")
        ax2.set_xlabel("frequency (cycles per step)")
        ax2.set_ylabel(f"normalised power of {labels[0]}")
        ax2.set_title("Power spectra (D_H compares these)")
        ax2.legend(fontsize=7)
    if divergence is not None:
        ax3 = fig.add_subplot(1, panels, k)
        for name, (curve, fit, slope) in divergence.items():
            i = np.arange(len(curve))
            c = colors.get(name.split()[0], None)
            ax3.plot(i, curve, lw=1.0, color=c, label=f"{name}: slope {slope:.3g}/step")
            if fit[1] > fit[0]:
                j = np.arange(fit[0], fit[1] + 1)
                b = np.polyfit(j, curve[j], 1)
                ax3.plot(j, np.polyval(b, j), "--", lw=1.4, color="k")
        ax3.set_xlabel("steps after the pair's closest approach")
        ax3.set_ylabel("mean log distance of neighbour pairs")
        ax3.set_title("Nearest-neighbour divergence (Rosenstein)")
        ax3.legend(fontsize=7)
    fig.tight_layout()
    caption = ("Numerical reconstruction check (nothing here is certified). Left: the model's free run mapped "
               "to data space through its observation (red) over the held-out data (grey). "
               + ("Middle: normalised power spectra of the first data dimension (D_H is the Hellinger "
                  "distance between such spectra, averaged over dimensions). " if spectra is not None else "")
               + ("Right: mean log distance of nearest-neighbour pairs against time; the slope over the dashed "
                  "range estimates the maximal Lyapunov exponent per step (Rosenstein et al. 1993)."
                  if divergence is not None else ""))
    return Figure("reconstruction.png", _png(fig), caption)


def manifold_panels(proj: Projection, trajs: np.ndarray, orbits, manifolds, title: str = "") -> Figure:
    """One panel per traced manifold (red: unstable, green: stable) over the trajectories
    (grey), with its saddle marked, in the report's plotting coordinates."""
    sets = [m for m in manifolds if (m.get("segments") or (m.get("points") is not None and len(m["points"])))]
    k = max(1, len(sets))
    cols = min(k, 2)
    rows_ = (k + cols - 1) // cols
    d = proj.dim
    fig = plt.figure(figsize=(5.6 * cols, 4.8 * rows_))
    by_id = {o.id: o for o in orbits}
    T = [proj(t)[:: max(1, len(t) // 3000)] for t in trajs] if len(trajs) else []
    for i, m in enumerate(sets):
        ax = fig.add_subplot(rows_, cols, i + 1, projection="3d" if d == 3 else None)
        for P in T:
            P = P[np.all(np.isfinite(P), axis=1)]
            if d == 3:
                ax.plot(P[:, 0], P[:, 1], P[:, 2], ".", ms=0.5, color="0.6", alpha=0.25)
            elif d == 2:
                ax.plot(P[:, 0], P[:, 1], ".", ms=0.5, color="0.6", alpha=0.25)
        color = "tab:red" if m["side"] == "unstable" else "tab:green"
        S = _joined(m.get("segments", []), proj)
        if S is not None:
            if d == 3:
                ax.plot(S[:, 0], S[:, 1], S[:, 2], "-", color=color, lw=0.6, alpha=0.9)
            elif d == 2:
                ax.plot(S[:, 0], S[:, 1], "-", color=color, lw=0.8, alpha=0.9)
        pts = m.get("points")
        if pts is not None and len(pts):
            S = proj(np.asarray(pts, dtype=float))
            if d == 3:
                ax.plot(S[:, 0], S[:, 1], S[:, 2], ".", ms=1.0, color=color, alpha=0.6)
            elif d == 2:
                ax.plot(S[:, 0], S[:, 1], ".", ms=1.2, color=color, alpha=0.6)
        o = by_id.get(m["orbit"])
        if o is not None:
            Q = proj(np.array([[float(v) for v in p] for p in o.points]))
            if d == 3:
                ax.scatter(Q[:, 0], Q[:, 1], Q[:, 2], marker="X", color="k", s=40)
            elif d == 2:
                ax.scatter(Q[:, 0], Q[:, 1], marker="X", color="k", s=40, zorder=5)
        ax.set_xlabel(proj.labels[0])
        if d > 1:
            ax.set_ylabel(proj.labels[1])
        if d == 3:
            ax.set_zlabel(proj.labels[2])
        ax.set_title(f"W^{m['side'][0]} of {m['orbit']} ({m.get('dimension', '?')}-D)", fontsize=10)
    if not sets:
        ax = fig.add_subplot(111)
        ax.text(0.5, 0.5, "no manifold traced", ha="center")
        ax.set_axis_off()
    fig.suptitle(title or "Traced manifolds")
    fig.tight_layout()
    caption = (f"Each traced manifold on its own, in {proj.describe()}: red unstable, green stable pieces "
               "(edges of 1-D/2-D polyhedral pieces; points sampled inside higher-dimensional pieces), the "
               "trajectories in grey, the saddle as a black cross. Numerical pictures of pieces that are not "
               "re-checked by the checker.")
    return Figure("manifolds.png", _png(fig), caption)


def cycle_homoclinic(proj: Projection, cycle: np.ndarray, orbit: np.ndarray, title: str = "") -> Figure:
    """A certified homoclinic orbit of a saddle cycle: the cycle (black), the orbit from its
    local unstable piece (blue, start ○) to its local stable piece (red, end ×)."""
    d = proj.dim
    fig = plt.figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot(1, 1, 1, projection="3d" if d == 3 else None)
    C, O = proj(np.vstack([cycle, cycle[:1]])), proj(orbit)
    cut = max(1, len(O) // 2)
    parts = [(O[:cut + 1], "tab:blue", 0.5, "-", "orbit, first half"),
             (O[cut:], "tab:red", 0.5, "-", "orbit, second half"), (C, "k", 1.6, "--", "saddle cycle")]
    for P, col, lw, ls, lab in parts:
        if d == 3:
            ax.plot(P[:, 0], P[:, 1], P[:, 2], ls, color=col, lw=lw, label=lab)
        elif d == 2:
            ax.plot(P[:, 0], P[:, 1], ls, color=col, lw=lw, label=lab)
        else:
            ax.plot(P[:, 0], ls, color=col, lw=lw, label=lab)
    if d >= 2:
        ends = [(O[0], "o", "x_0 (on W^u)"), (O[-1], "X", "x_N (on W^s)")]
        for p, mk, lab in ends:
            if d == 3:
                ax.scatter([p[0]], [p[1]], [p[2]], marker=mk, s=50, color="k", label=lab)
            else:
                ax.scatter([p[0]], [p[1]], marker=mk, s=50, color="k", label=lab)
    ax.set_xlabel(proj.labels[0])
    if d >= 2:
        ax.set_ylabel(proj.labels[1])
    if d == 3:
        ax.set_zlabel(proj.labels[2])
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(title or "certified homoclinic orbit of a saddle cycle", fontsize=9)
    cap = (f"Certified transversal homoclinic orbit of a period-{len(cycle)} saddle cycle ({len(orbit) - 1} steps), "
           f"in {proj.describe()}.")
    return Figure("cycle_homoclinic.png", _png(fig), cap)
