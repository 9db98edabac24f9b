"""``plrnn-manifolds manifold MODEL --orbit ID --side stable|unstable`` (DESIGN §6, §10).

Traces the stable or unstable manifold of a saddle orbit (ids as printed by
``plrnn-manifolds orbits``) as analytic polyhedral pieces (:func:`graph.manifolds.trace_manifold`).
``--json`` prints ``{"orbit", "side", "dimension", "pieces": [{"region", "itinerary",
"vertices" (dimension <= 3), ...}], "stopped_by", ...}``; ``--plot FILE.png`` draws the pieces
over a trajectory of the model; ``--quality`` adds the reference paper's Δσ.
Unknown orbit ids and orbits without the requested directions are one error line, exit 2.
"""
from __future__ import annotations

from symbolic.errors import ModelError

from .cli import Progress, UsageError as _CliUsageError, add_model_args, emit_json, model_summary, resolve_model


class UsageError(_CliUsageError, ModelError):
    """Bad input (exit 2). Also a ModelError, so that ``python -m verify.cli`` (where the CLI
    module runs as ``__main__`` with its own UsageError class) still reports one line."""


def register(sub) -> None:
    p = sub.add_parser("manifold", help="stable/unstable manifold of a saddle orbit as exact polyhedral pieces")
    add_model_args(p)
    p.add_argument("--orbit", required=True, metavar="ID", help="orbit id as printed by 'orbits' (e.g. P1-2)")
    p.add_argument("--side", required=True, choices=["stable", "unstable"])
    p.add_argument("--depth", type=int, default=30, metavar="N", help="maximal number of map steps (default 30)")
    p.add_argument("--budget", type=int, default=2000, metavar="N", help="maximal number of pieces (default 2000)")
    p.add_argument("--max-period", type=int, default=None, metavar="K",
                   help="search orbits up to period K (default: the period in the id)")
    p.add_argument("--box", nargs="+", default=None, metavar="V",
                   help="bounding box lo_1 .. lo_n hi_1 .. hi_n (default: margin around long trajectories)")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--plot", metavar="FILE.png", help="draw the pieces over a trajectory")
    p.add_argument("--quality", action="store_true", help="also compute the reference metric Δσ")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _parse_box(values, n):
    from symbolic.rationals import to_fraction

    if values is None:
        return None
    if len(values) != 2 * n:
        raise UsageError(f"--box needs {2 * n} numbers (lo_1..lo_{n} hi_1..hi_{n}), got {len(values)}")
    try:
        vals = [to_fraction(v, "--box") for v in values]
    except Exception as exc:
        raise UsageError(str(exc)) from None
    lo, hi = tuple(vals[:n]), tuple(vals[n:])
    if any(a >= b for a, b in zip(lo, hi)):
        raise UsageError("--box: every lower bound must be below its upper bound")
    return lo, hi


def _period_of(oid: str) -> int:
    try:
        if not oid.startswith("P"):
            raise ValueError
        return int(oid[1:].split("-")[0])
    except ValueError:
        raise UsageError(f"orbit id {oid!r} is not of the form P<period>-<index> (see 'plrnn-manifolds orbits')") from None


def run(args) -> int:
    from graph.manifolds import trace_manifold
    from symbolic.orbits import find_orbits

    if args.depth < 0:
        raise UsageError("--depth must be >= 0")
    if args.budget < 1:
        raise UsageError("--budget must be at least 1")
    model = resolve_model(args.model, args.kind, args.P)
    box = _parse_box(args.box, model.n)
    K = args.max_period if args.max_period is not None else _period_of(args.orbit)
    if K < 1:
        raise UsageError("--max-period must be at least 1")
    progress = Progress(args.quiet)
    progress(f"{model.summary()}; orbits up to period {K}", force=True)
    try:
        res = find_orbits(model, K)
        orbit = res.by_id(args.orbit)
    except KeyError as exc:
        raise UsageError(str(exc).strip('"')) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    need = orbit.stable_dim if args.side == "stable" else orbit.unstable_dim
    if orbit.type in ("boundary", "continuum") or orbit.stability is None:
        raise UsageError(f"orbit {orbit.id} is a {orbit.type} orbit: no hyperbolic {args.side} manifold to trace")
    if not need:
        raise UsageError(f"orbit {orbit.id} ({orbit.type}) has no {args.side} directions "
                         f"(stable/unstable dimensions {orbit.stable_dim}/{orbit.unstable_dim})")
    progress(f"tracing W^{args.side[0]} of {orbit.id} ({orbit.type}, dimension {need})", force=True)
    try:
        result = trace_manifold(model, orbit, args.side, depth=args.depth, box=box, budget=args.budget,
                                progress=progress)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    quality = None
    if args.quality:
        from graph.quality import delta_sigma

        progress("computing Δσ", force=True)
        quality = delta_sigma(model, result)
    if args.plot:
        from graph.plotting import plot_manifolds

        plot_manifolds(model, [result], args.plot)
        progress(f"wrote {args.plot}", force=True)
    if args.json:
        doc = {"model": model_summary(model), **result.to_json()}
        if quality is not None:
            doc["quality"] = quality.to_json()
        emit_json(doc)
        return 0
    print(model.summary())
    print(result.message)
    print(f"box: [{', '.join(str(v) for v in result.box[0])}] .. [{', '.join(str(v) for v in result.box[1])}]")
    if result.box_fraction is not None:
        print(f"regions entered: {len(result.regions)} of {result.stats.get('cells_in_box', '?')} cells meeting the box "
              f"({100 * result.box_fraction:.1f}%)")
    if quality is not None:
        print(f"Δσ = {quality.delta_sigma:.4f} (⟨I_U⟩ = {quality.I_mean:.4f}, median δσ on manifold = {quality.median:.3g})")
    by_depth = {}
    for p in result.pieces:
        by_depth[p.depth] = by_depth.get(p.depth, 0) + 1
    print("pieces per depth: " + ", ".join(f"{d}:{c}" for d, c in sorted(by_depth.items())))
    return 0
