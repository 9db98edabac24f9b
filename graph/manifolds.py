"""Stable and unstable manifolds of saddle orbits as analytic polyhedral pieces (DESIGN §6).

:func:`trace_manifold` is the front: local piece (:mod:`graph.local`, proven invariant),
then images (:mod:`graph.unstable`) or preimages (:mod:`graph.stable`), inside a box.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> m = load_model(example_path("bistable"))
>>> res = trace_manifold(m, "P1-3", "stable")
>>> res.dimension, res.exact, res.stopped_by, sorted({p.region for p in res.pieces})
(1, True, 'box', ['00', '11'])
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from symbolic.pieces import _dyadic, vertices, vertices_exact
from symbolic.rationals import fraction_str

from .local import LocalPiece, local_piece
from .stable import CellIndex, trace_stable
from .unstable import trace_unstable

__all__ = ["ManifoldResult", "trace_manifold", "default_box", "resolve_orbit", "piece_record"]


@dataclass
class ManifoldResult:
    """Result of :func:`trace_manifold`.

    ``pieces``: :class:`symbolic.pieces.Piece` list (depth 0 = the local piece);
    ``stopped_by``: 'box' | 'depth' | 'budget' | 'complete'; ``box``: (lo, hi) Fractions;
    ``box_fraction``: fraction of the arrangement's cells meeting the box that the manifold
    enters (None when the cells were not enumerated); ``exact``: pieces exact over Q;
    ``local``: the proven local piece; ``elapsed``: seconds.
    """

    orbit: object
    side: str
    dimension: int
    pieces: list
    local: LocalPiece
    stopped_by: str
    depth: int
    box: tuple
    box_fraction: float | None
    exact: bool
    elapsed: float
    message: str
    stats: dict = field(default_factory=dict)

    @property
    def regions(self) -> set:
        return {p.region for p in self.pieces}

    def to_json(self, with_pieces: bool = True) -> dict:
        """The manifold record of DESIGN §10 plus provenance."""
        rec = {
            "orbit": getattr(self.orbit, "id", str(self.orbit)),
            "side": self.side,
            "dimension": self.dimension,
            "stopped_by": self.stopped_by,
            "n_pieces": len(self.pieces),
            "depth": self.depth,
            "exact": self.exact,
            "box": [[fraction_str(v) for v in self.box[0]], [fraction_str(v) for v in self.box[1]]],
            "box_fraction": self.box_fraction,
            "regions_entered": len(self.regions),
            "local": self.local.to_json(),
            "elapsed_s": round(self.elapsed, 4),
            "message": self.message,
            "stats": self.stats,
        }
        if with_pieces:
            rec["pieces"] = [piece_record(p) for p in self.pieces]
        return rec


def _num(v, exact: bool):
    return fraction_str(v) if exact else float(v)


def piece_record(P) -> dict:
    """JSON record of one piece: region, itinerary, depth, dimension, affine data, vertices."""
    rec = {"region": P.region, "itinerary": list(P.itinerary), "depth": P.depth,
           "dimension": P.dim, "exact": P.exact}
    if P.exact:
        from symbolic.rationals import rows_of, vector_of

        rec["origin"] = [fraction_str(v) for v in vector_of(P.origin)]
        rec["basis"] = [[fraction_str(v) for v in row] for row in rows_of(P.basis)]
        rec["G"] = [[fraction_str(v) for v in row] for row in rows_of(P.G)]
        rec["g"] = [fraction_str(v) for v in vector_of(P.g)]
    else:
        rec["origin"] = P.of.tolist()
        rec["basis"] = P.Uf.tolist()
        rec["G"] = P.Gf.tolist()
        rec["g"] = P.gf.tolist()
    if P.on_hyperplanes:
        rec["on_hyperplanes"] = list(P.on_hyperplanes)
    if P.dim <= 3:
        V = vertices_exact(P) if P.exact else None
        if V is not None:
            rec["vertices"] = [[fraction_str(v) for v in x] for x in V]
        else:
            Vf = vertices(P)
            rec["vertices"] = [] if Vf is None else Vf.tolist()
    return rec


def resolve_orbit(model, orbit, max_period: int | None = None):
    """An Orbit object from an Orbit or an id like 'P2-1' (searching up to its period)."""
    if not isinstance(orbit, str):
        return orbit
    from symbolic.orbits import find_orbits

    if max_period is None:
        try:
            max_period = int(orbit[1:].split("-")[0])
        except ValueError:
            raise KeyError(f"orbit id {orbit!r} is not of the form P<period>-<index>") from None
    return find_orbits(model, max_period).by_id(orbit)


def default_box(model, orbit=None, n_init: int = 8, steps: int = 2000, margin: float = 0.25,
                seed: int = 0) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """A margin around the range of long trajectories from several random initial states.

    Initial states: near the orbit's points and at random in a box around them; diverging
    trajectories (|z| > 1e6) are ignored; the second half of each trajectory counts. The
    orbit's points are always included. Bounds are short dyadic rationals.
    """
    rng = np.random.default_rng(seed)
    n = model.n
    pts = [np.array([float(v) for v in p]) for p in (orbit.points if orbit is not None else [])]
    centre = np.mean(pts, axis=0) if pts else np.zeros(n)
    spread = max(1.0, float(np.max(np.abs(np.array(pts) - centre))) if pts else 1.0)
    Z0 = [centre + spread * rng.uniform(-1, 1, n) for _ in range(n_init)]
    Z0 += [p + 1e-3 * spread * rng.standard_normal(n) for p in pts[:n_init]]
    Z = np.array(Z0)
    keep = []
    for t in range(steps):
        Z = model.f(Z)
        bad = ~np.all(np.isfinite(Z), axis=1) | (np.abs(Z).max(axis=1) > 1e6)
        Z[bad] = np.nan
        if t >= steps // 2:
            keep.append(Z.copy())
    X = np.concatenate(keep + [np.array(pts).reshape(-1, n)]) if keep else np.array(pts).reshape(-1, n)
    X = X[np.all(np.isfinite(X), axis=1)]
    if len(X) == 0:
        X = centre[None]
    lo, hi = X.min(axis=0), X.max(axis=0)
    width = np.maximum(hi - lo, 0.5 * spread)
    lo, hi = lo - margin * width, hi + margin * width
    return (tuple(_dyadic(float(v), 12) for v in lo), tuple(_dyadic(float(v), 12) for v in hi))


def trace_manifold(model, orbit, side: str, depth: int = 30, box=None, budget: int = 2000,
                   prec_bits: int = 128, tol: float = 1e-10, progress=None,
                   box_fraction: bool = True, max_cells: int = 20000) -> ManifoldResult:
    """W^s (``side='stable'``) or W^u (``'unstable'``) of a saddle orbit as polyhedral pieces.

    ``orbit``: an :class:`symbolic.orbits.Orbit` or its id; ``box``: (lo, hi) (default
    :func:`default_box`); ``depth``: maximal number of map steps; ``budget``: maximal number
    of pieces. Raises ValueError for orbits without ``side`` directions.
    """
    t0 = time.perf_counter()
    orbit = resolve_orbit(model, orbit)
    if side not in ("stable", "unstable"):
        raise ValueError("side must be 'stable' or 'unstable'")
    if box is None:
        box = default_box(model, orbit)
    box = (tuple(Fraction(v) for v in box[0]), tuple(Fraction(v) for v in box[1]))
    loc = local_piece(model, orbit, side, prec_bits=prec_bits, box=box)
    cells = None
    if side == "unstable":
        pieces, stopped, stats = trace_unstable(model, orbit, loc, box, depth, budget, tol, progress)
    else:
        cells = CellIndex(model, box, max_cells=max_cells)
        pieces, stopped, stats = trace_stable(model, orbit, loc, box, depth, budget, tol, progress, cells)
    frac = None
    if box_fraction:
        cell_list = cells.cells if cells is not None else None
        if cell_list is None:
            from .regiongraph import region_graph

            rg = region_graph(model, box=box, max_nodes=max_cells)
            cell_list = rg.cells if rg.status != "budget" else None
        if cell_list is not None:
            entered = {p.region for p in pieces}
            frac = len(entered & set(cell_list)) / max(1, len(cell_list))
            stats["cells_in_box"] = len(cell_list)
    exact = loc.exact and all(p.exact for p in pieces)
    elapsed = time.perf_counter() - t0
    msg = (f"{len(pieces)} pieces of W^{side[0]} (dimension {loc.dim}) of orbit {orbit.id}, "
           f"{stats.get('max_depth', 0)} steps; stopped by {stopped}; "
           + ("exact over Q" if exact else "float pieces (irrational subspace)") + f"; {loc.message}")
    return ManifoldResult(orbit, side, loc.dim, pieces, loc, stopped, stats.get("max_depth", 0), box, frac,
                          exact, elapsed, msg, stats)
