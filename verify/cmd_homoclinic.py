"""``plrnn-manifolds homoclinic MODEL [--max-length N] [--json] [--certificate FILE]`` (DESIGN §8, §10).

Searches homoclinic / heteroclinic orbits of the saddle orbits up to ``--max-period`` and
snap-back orbits of repelling fixed points (:mod:`graph.homoclinic`), builds claims for them
(:mod:`verify.chaos`) and runs the independent checker: a record is ``certified`` only when
the checker accepted its claim. Non-transversal candidates (homoclinic corners, tangencies)
and orbits that cannot carry a proof (non-hyperbolic, on a boundary) are listed with the
reason. ``--json`` prints ``{"model", "search", "intersections": [...], "refused": [...],
"certificate_summary"}``; ``--certificate FILE`` writes the certificate (re-check it with
``plrnn-manifolds check FILE``).
"""
from __future__ import annotations

import sys

from .cli import Progress, UsageError, add_model_args, emit_json, model_summary, resolve_model


def register(sub) -> None:
    p = sub.add_parser("homoclinic", help="homoclinic/heteroclinic orbits and snap-back repellers, certified chaos")
    add_model_args(p)
    p.add_argument("--max-length", type=int, default=8, metavar="N",
                   help="longest connecting itinerary searched (default 8)")
    p.add_argument("--max-period", type=int, default=1, metavar="K",
                   help="saddle / repeller orbits up to this period (default 1)")
    p.add_argument("--max-claims", type=int, default=20, metavar="M",
                   help="certify at most M transversal candidates, shortest first (default 20)")
    p.add_argument("--max-nodes", type=int, default=20000, metavar="B",
                   help="budget of manifold pieces followed per local piece (default 20000)")
    p.add_argument("--snapback-seconds", type=float, default=30.0, metavar="S",
                   help="time budget of each repeller's snap-back (preimage) search (default 30)")
    p.add_argument("--cycles", action="store_true",
                   help="also search long saddle cycles seeded by a trajectory on the attractor and shoot for "
                        "their homoclinic orbits (maps discretising flows: no short connections exist)")
    p.add_argument("--cycle-steps", type=int, default=12000, metavar="T",
                   help="trajectory length for --cycles (the first third is discarded; default 12000)")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--certificate", metavar="FILE", help="write the certificate (JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _cycles(model, args, cc, progress) -> None:
    """--cycles: long saddle cycles and their homoclinic orbits (verify.longchaos)."""
    from .longchaos import attractor_trajectory, cycle_chaos_record, long_cycle_chaos

    if args.cycle_steps < 300:
        raise UsageError("--cycle-steps must be at least 300")
    Z = attractor_trajectory(model, args.cycle_steps)
    if Z is None:
        cc.refusals.append({"orbit": "cycles", "kind": "cycle-search",
                            "reason": "the trajectory from (0.1, ..., 0.1) diverges: no attractor to seed cycles"})
        return
    res = long_cycle_chaos(model, Z, progress=progress)
    if res.status != "certified":
        cc.refusals.append({"orbit": "cycles", "kind": "cycle-search", "reason": res.message})
        return
    cc.certificate["claims"].append(res.claims[0])
    cc.stats["claims"] += 1
    cc.stats["certified"] += 1
    cc.records.append(cycle_chaos_record(res))


def run(args) -> int:
    from graph.homoclinic import find_connections
    from symbolic.orbits import find_orbits

    from .certificate import write_json_atomic
    from .chaos import certify_search

    for name in ("max_length", "max_period", "max_claims", "max_nodes"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    model = resolve_model(args.model, args.kind, args.P)
    progress = Progress(args.quiet)
    progress(f"{model.summary()}; orbits up to period {args.max_period}", force=True)
    try:
        orbits = find_orbits(model, args.max_period)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    progress(f"{len(orbits.orbits)} orbits; following local unstable manifolds for {args.max_length} steps", force=True)
    search = find_connections(model, orbits, max_length=args.max_length, max_nodes=args.max_nodes,
                              progress=progress, snapback_seconds=args.snapback_seconds)
    progress(f"{len(search.connections)} candidates, {len(search.snapbacks)} snap-back orbits; certifying", force=True)
    cc = certify_search(model, search, max_claims=args.max_claims, progress=progress)
    if args.cycles:
        _cycles(model, args, cc, progress)
    if args.certificate:
        write_json_atomic(cc.certificate, args.certificate)
        progress(f"wrote {args.certificate}", force=True)
    if args.json:
        emit_json({
            "model": model_summary(model),
            "search": {"max_length": args.max_length, "max_period": args.max_period, "status": search.status,
                       "message": search.message, "stats": {**search.stats, **cc.stats}},
            "intersections": cc.records,
            "refused": cc.refusals,
            "certificate_summary": {"claims": cc.stats["claims"], "certified": cc.stats["certified"]},
        })
        return 0
    print(model.summary())
    print(f"search: itineraries up to length {args.max_length}, orbits up to period {args.max_period}: "
          f"{search.status} ({search.message})")
    cert = [r for r in cc.records if r["certified"]]
    refused = [r for r in cc.records if not r["certified"]]
    print(f"{len(cc.records)} connections / snap-back orbits, {len(cert)} certified")
    if not cc.records:
        saddles = [o.id for o in orbits.orbits if o.type == "saddle"]
        print(f"  no connecting orbit of length <= {args.max_length} between the saddles "
              f"({', '.join(saddles) or 'none'}) and no snap-back orbit: nothing proves chaos "
              "(this is not a proof that there is none)")
    for r in cert:
        where = f"{r['from']} -> {r['to']}" if "from" in r else ", ".join(r.get("connections", []))
        length = f"length {r['length']}" if "length" in r else ""
        print(f"  CERTIFIED {r['kind']:<13} {where:<16} {length:<10} theorem: {r['theorem']}")
    if cert and any(r.get("conclusion") for r in cert):
        print("conclusion:", next(r["conclusion"] for r in cert if r.get("conclusion")))
    shown = {}
    for r in refused:
        key = (r["kind"], r.get("status"), (r.get("reason") or "").split(":")[0])
        shown.setdefault(key, []).append(r)
    for (kind, status, _), rs in shown.items():
        r = rs[0]
        more = f" (and {len(rs) - 1} more like it)" if len(rs) > 1 else ""
        where = f"{r.get('from')} -> {r.get('to')}"
        print(f"  refused   {kind:<13} {where:<16} {status or '':<10} {r.get('reason')}{more}")
    for r in cc.refusals:
        print(f"  refused   {r['kind']:<13} {r['orbit']:<16} {'':<10} {r['reason']}")
    if args.certificate:
        print(f"certificate: {args.certificate} ({cc.stats['claims']} claims; re-check with "
              f"'plrnn-manifolds check {args.certificate}')", file=sys.stderr)
    return 0
