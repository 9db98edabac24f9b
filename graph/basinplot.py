"""Basin pictures: coloured basins, boundary pieces on top, attractors and saddles marked (Agg).

Colours: one per attractor (certified grid points fully saturated, sampled-only points
lighter), light grey for diverging points, white for unresolved ones, dark grey for points
that converge to a saddle (numerically on a boundary). Boundary pieces (intersections of the
saddles' stable manifolds with the slice) are drawn as black segments; exact attractors
as circles with their trapping polytopes dashed (n = 2), numerical attractors as dots of
their samples, saddles as crosses. For n > 2
orbits are projected onto the slice (their distance off the plane is in the legend).
The file is written atomically (temporary file in the same folder, then a rename).

>>> import os, tempfile
>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.basins import compute_basins
>>> res = compute_basins(load_model(example_path("bistable")), resolution=30)
>>> out = os.path.join(tempfile.mkdtemp(), "basins.png")
>>> plot_basins(res, out) == out and os.path.getsize(out) > 1000
True
"""
from __future__ import annotations

import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import ListedColormap, to_rgb  # noqa: E402

from .attractors import LABEL_DIVERGED, LABEL_SADDLE, LABEL_UNRESOLVED  # noqa: E402

__all__ = ["plot_basins", "basin_colors"]

_PALETTE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan", "gold", "navy", "lime"]


def basin_colors(k: int) -> list:
    """RGB colours for attractor labels 0..k−1."""
    return [to_rgb(_PALETTE[i % len(_PALETTE)]) for i in range(k)]


def _save_atomic(fig, path: str, dpi: int) -> None:
    d = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1] or ".png", dir=d, prefix=".tmp-")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=os.path.splitext(path)[1][1:] or "png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plot_basins(result, path: str, title: str | None = None, dpi: int = 130, show_uncertified: bool = True) -> str:
    """Draw a :class:`graph.basins.BasinResult` to ``path`` (PNG/SVG/PDF by extension)."""
    bmap = result.map
    sl = bmap.slice
    atts = result.attractors.attractors
    k = len(atts)
    cols = basin_colors(k)
    L = bmap.labels
    rgb = np.ones(L.shape + (3,))
    for i in range(k):
        m = L == i
        c = np.array(cols[i])
        rgb[m & bmap.certified] = c
        light = 0.55 * c + 0.45 if bmap.certified.any() else c
        rgb[m & ~bmap.certified] = light
    rgb[L == LABEL_DIVERGED] = 0.72
    rgb[L == LABEL_UNRESOLVED] = 1.0
    rgb[L == LABEL_SADDLE] = 0.4
    lo = [float(v) for v in sl.lo]
    hi = [float(v) for v in sl.hi]
    flat = sl.flat
    fig, ax = plt.subplots(figsize=(7.0, 2.2 if flat else 6.2))
    extent = [lo[0], hi[0], -0.5, 0.5] if flat else [lo[0], hi[0], lo[1], hi[1]]
    ax.imshow(rgb, origin="lower", extent=extent, interpolation="nearest", aspect="auto" if flat else "equal")
    # boundary pieces
    segs = [bp.segment for b in result.boundaries for bp in b.pieces if bp.segment is not None]
    if segs:
        ax.add_collection(LineCollection(segs, colors="black", linewidths=1.4, zorder=3))
    handles = []
    fr = result.fractions
    for i, a in enumerate(atts):
        X = a.float_points()
        P, off = sl.project(X)
        y = np.zeros(len(P)) if flat else P[:, 1]
        f = fr.get(a.id, {}).get("fraction", 0.0)
        cert = "certified" if a.certified else ("exact, not certified" if a.exact else "numerical")
        lab = f"{a.id} ({cert}), basin {100 * f:.1f}%"
        if len(off) and off.max() > 1e-9 * (1 + np.abs(X).max()):
            lab += f", {off.max():.2g} off plane"
        if a.exact:
            h = ax.scatter(P[:, 0], y, s=70, c=[cols[i]], edgecolors="black", linewidths=1.5, zorder=5, label=lab)
        else:
            dark = tuple(0.45 * np.array(cols[i]))
            h = ax.scatter(P[:, 0], y, s=2, c=[dark], edgecolors="none", zorder=4, label=lab)
        handles.append(h)
    if sl.n == 2 and not flat:          # trapping polytopes (their vertices, in order)
        for i, a in enumerate(atts):
            for t in a.traps:
                V = t.vertices()
                if len(V) >= 3:
                    P, _ = sl.project(V)
                    c = P.mean(axis=0)
                    P = P[np.argsort(np.arctan2(P[:, 1] - c[1], P[:, 0] - c[0]))]
                    ax.fill(P[:, 0], P[:, 1], fill=False, ls="--", lw=0.9, ec="black", zorder=4)
    sad = result.attractors.saddles
    if sad:
        S = np.array([[float(v) for v in p] for o in sad for p in o.points])
        P, off = sl.project(S)
        h = ax.scatter(P[:, 0], np.zeros(len(P)) if flat else P[:, 1], marker="x", s=60, c="black",
                       linewidths=2, zorder=6, label="saddles" if not flat else "unstable orbits")
        handles.append(h)
    if segs:
        from matplotlib.lines import Line2D

        handles.append(Line2D([0], [0], color="black", lw=1.4, label="stable manifolds (traced)"))
    from matplotlib.patches import Patch

    for lab, grey, text in ((LABEL_DIVERGED, 0.72, "diverged"), (LABEL_UNRESOLVED, 1.0, "unresolved"),
                            (LABEL_SADDLE, 0.4, "to a saddle")):
        m = L == lab
        if m.any():
            handles.append(Patch(facecolor=(grey,) * 3, edgecolor="black", lw=0.5,
                                 label=f"{text} {100 * m.mean():.1f}%"))
    ax.set_xlim(lo[0], hi[0])
    if not flat:
        ax.set_ylim(lo[1], hi[1])
    if sl.dims is not None and sl.label.startswith("z"):
        ax.set_xlabel(f"z{sl.dims[0] + 1}")
        if not flat:
            ax.set_ylabel(f"z{sl.dims[1] + 1}")
    else:
        ax.set_xlabel("s (along e1)")
        ax.set_ylabel("t (along e2)")
    if flat:
        ax.set_yticks([])
    name = result.model.name or "model"
    ncert = int(bmap.certified.sum())
    ax.set_title(title or f"basins of {name}: {bmap.labels.shape[1]}×{bmap.labels.shape[0]} grid"
                 + (f", {100 * ncert / bmap.labels.size:.1f}% certified" if ncert else ""), fontsize=10)
    ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85)
    _save_atomic(fig, path, dpi)
    plt.close(fig)
    return path
