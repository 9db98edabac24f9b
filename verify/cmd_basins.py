"""``plrnn-manifolds basins MODEL [--slice ...] [--resolution N] [--json] [--plot FILE]`` (DESIGN §7, §10).

Attractors (stable cycles with trapping polytopes, numerical attractors from trajectories),
a basin map on a grid of a 2-D slice (the whole plane for n = 2), the saddles' stable
manifolds as traced boundaries with the attractors they separate, and the measures
(agreement, attractor-to-boundary distances, basin fractions). Trapping polytopes and grid
labels are turned into claims and run through the independent checker: an attractor or a
grid label is ``certified`` only when the checker accepted its claim.

Slices (n > 2): ``--slice I,J`` varies coordinates I and J (0-based), the others fixed at
``--at v1,...,vn`` (default: the first saddle); ``--slice plane`` is the plane through the
first two exact attractors and the first saddle. ``--window s_lo,s_hi,t_lo,t_hi`` sets the
ranges (numbers or p/q). ``--json`` prints ``{"model", "attractors", "saddles", "boundaries",
"basin_map", "fractions", "agreement", "distances", "certificate_summary", ...}``;
``--plot FILE`` writes the picture; ``--certificate FILE`` the certificate (re-check it with
``plrnn-manifolds check FILE``).
"""
from __future__ import annotations

import sys
from fractions import Fraction

from .cli import Progress, UsageError, add_model_args, emit_json, resolve_model


def register(sub) -> None:
    p = sub.add_parser("basins", help="attractors, basin map and basin boundaries (stable manifolds), certified labels")
    add_model_args(p)
    p.add_argument("--slice", metavar="I,J|plane", default=None,
                   help="n > 2: the coordinates varied (0-based, default 0,1) or 'plane'")
    p.add_argument("--at", metavar="V1,...,VN", default=None, help="fixed values of the other coordinates")
    p.add_argument("--window", metavar="SLO,SHI,TLO,THI", default=None, help="ranges of the slice coordinates")
    p.add_argument("--resolution", type=int, default=200, metavar="N", help="grid points per side (default 200)")
    p.add_argument("--max-period", type=int, default=1, metavar="K", help="orbit search up to period K (default 1)")
    p.add_argument("--max-steps", type=int, default=2000, metavar="M", help="iterations per grid point (default 2000)")
    p.add_argument("--depth", type=int, default=None,
                   help="stable-manifold tracing depth (default 100 for n <= 3, 10 for n <= 6, else 2)")
    p.add_argument("--budget", type=int, default=5000, help="stable-manifold piece budget per saddle (default 5000)")
    p.add_argument("--no-boundaries", action="store_true", help="skip tracing the stable manifolds")
    p.add_argument("--no-certify", action="store_true", help="skip the certificate (labels stay sampled)")
    p.add_argument("--certify-budget", type=int, default=20000, metavar="E",
                   help="at most E grid sets (blocks or points) tried for certified labels (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random trajectories")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--labels", action="store_true", help="include the label grid in the JSON output")
    p.add_argument("--plot", metavar="FILE", help="write the basin picture (PNG, SVG or PDF)")
    p.add_argument("--certificate", metavar="FILE", help="write the certificate (JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _numbers(text: str, what: str, count: int | None = None) -> list[Fraction]:
    try:
        vals = [Fraction(v.strip()) for v in text.split(",")]
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{what}: expected comma-separated numbers (e.g. 1/2,-3,0.25), got {text!r}") from None
    if count is not None and len(vals) != count:
        raise UsageError(f"{what}: expected {count} numbers, got {len(vals)}")
    return vals


def _slice_kw(args, n: int) -> dict:
    kw = {}
    if args.slice is not None:
        if n <= 2:
            raise UsageError("--slice is for models with n > 2 (n <= 2 uses the whole state space)")
        if args.slice.strip() == "plane":
            kw["plane"] = True
        else:
            try:
                dims = tuple(int(v) for v in args.slice.split(","))
            except ValueError:
                raise UsageError(f"--slice: expected I,J (0-based coordinates) or 'plane', got {args.slice!r}") from None
            if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < n for d in dims):
                raise UsageError(f"--slice: need two different coordinates in 0..{n - 1}, got {args.slice!r}")
            kw["dims"] = dims
    if args.at is not None:
        kw["at"] = tuple(_numbers(args.at, "--at", n))
    if args.window is not None:
        w = _numbers(args.window, "--window", 2 if n == 1 else 4)
        if n == 1:
            w = w + [Fraction(0), Fraction(0)]
        if not (w[0] < w[1] and (n == 1 or w[2] < w[3])):
            raise UsageError("--window: need s_lo < s_hi and t_lo < t_hi")
        kw["window"] = tuple(w) if n > 1 else (w[0], w[1])
    return kw


def run(args) -> int:
    from graph.basins import compute_basins

    from .certificate import write_json_atomic

    for name in ("resolution", "max_period", "max_steps", "depth", "budget", "certify_budget"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.resolution > 4000:
        raise UsageError("--resolution is limited to 4000")
    model = resolve_model(args.model, args.kind, args.P)
    kw = _slice_kw(args, model.n)
    progress = Progress(args.quiet)
    progress(f"{model.summary()}; orbits up to period {args.max_period}, attractors, basin map {args.resolution}^2",
             force=True)
    try:
        res = compute_basins(model, resolution=args.resolution, max_period=args.max_period,
                             boundaries=not args.no_boundaries, depth=args.depth, budget=args.budget,
                             max_steps=args.max_steps, seed=args.seed, progress=progress, **kw)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cert = None
    if not args.no_certify:
        from .basincert import certify_basins

        progress("certifying traps and grid labels (independent checker)", force=True)
        cert = certify_basins(res, max_entries=args.certify_budget, progress=progress)
        progress(f"checker: {cert.report.message()}", force=True)
        if args.certificate:
            write_json_atomic(cert.certificate, args.certificate)
            progress(f"wrote {args.certificate}", force=True)
    elif args.certificate:
        raise UsageError("--certificate needs certification (drop --no-certify)")
    fractions = res.fractions
    if args.plot:
        from graph.basinplot import plot_basins

        plot_basins(res, args.plot)
        progress(f"wrote {args.plot}", force=True)
    if args.json:
        doc = res.to_json(with_pieces=True, with_labels=args.labels)
        if cert is not None:
            doc["certificate_summary"] = {
                "claims": cert.stats["claims"], "accepted": cert.stats["accepted"], "ok": cert.report.ok,
                "message": cert.report.message(), "certified_attractors": sorted(cert.certified_attractors),
                "certified_points": cert.stats["certified_points"],
                "certified_sides": [{"saddle": res.boundaries[bi].saddle.id, "piece": pi, "sides": list(s)}
                                    for (bi, pi), s in sorted(cert.side_certified.items())],
                "seconds": round(cert.stats["total_s"], 3)}
        emit_json(doc)
        return 0
    _print_text(res, cert, fractions)
    return 0


def _print_text(res, cert, fractions) -> None:
    m = res.model
    print(m.summary())
    sl = res.map.slice
    rows, cols = res.map.labels.shape
    print(f"slice: {sl.label}; grid {cols} x {rows}; {res.message}")
    dist = {d["attractor"]: d for d in res.distances}
    hdr = f"{'attractor':<10} {'kind':<12} {'period':>6}  {'certified':<9} {'basin':>7} {'certified':>9}  distance to boundary"
    print(hdr)
    print("-" * len(hdr))
    for a in res.attractors.attractors:
        fr = fractions.get(a.id, {})
        d = dist.get(a.id)
        ds = "-" if d is None else (f"{d['distance_exact']} = {d['distance']:.6g}" if d["exact"] else f"{d['distance']:.6g} (float)")
        if d is not None and d.get("upper_bound"):
            ds = "<= " + ds + " (tracing stopped early)"
        print(f"{a.id:<10} {a.kind:<12} {a.period if a.period else '-':>6}  {'yes' if a.certified else 'no':<9} "
              f"{100 * fr.get('fraction', 0):6.2f}% {100 * fr.get('certified_fraction', 0):8.2f}%  {ds}")
    for lab in ("diverged", "unresolved", "boundary"):
        if lab in fractions:
            print(f"{lab:<10} {'':<12} {'':>6}  {'':<9} {100 * fractions[lab]['fraction']:6.2f}%")
    if not res.attractors.attractors:
        print("(no attractors found)")
    for b in res.boundaries:
        sep = " | ".join(str(x) for x in b.separates)
        if b.manifold is None:
            print(f"saddle {b.saddle.id}: {b.message}")
            continue
        stop = b.manifold.stopped_by
        print(f"boundary: W^s({b.saddle.id}) separates {sep}; {len(b.pieces)} pieces "
              f"({sum(p.separating for p in b.pieces)} with different attractors on their sides), "
              f"{'exact' if b.exact else 'float'}, stopped by {stop}")
    if res.agreement:
        a = res.agreement
        be = "-" if a["boundary_edges"] is None else f"{100 * a['boundary_edges']:.2f}%"
        print(f"agreement of sampled map and traced boundary: cells {100 * a['cells']:.2f}%, "
              f"boundary edges {be} ({a['label_change_without_crossing']} label changes without crossing, "
              f"{a['crossing_without_label_change']} crossings without label change)")
    if cert is not None:
        print(f"certificate: {cert.report.message()}; {cert.stats['certified_points']} of {rows * cols} grid labels certified")
    t = res.timings
    print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in t.items())
          + (f", certification {cert.stats['total_s']:.2f}s" if cert is not None else ""), file=sys.stderr)
