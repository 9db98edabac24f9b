"""``plrnn-manifolds report [MODEL] --out DIR``: the whole analysis as a verified report folder."""
from __future__ import annotations

import sys

from .cli import Progress, UsageError, resolve_model

DEFAULT_EXAMPLE = "lozi"


def register(sub) -> None:
    p = sub.add_parser("report", help="run everything and write a verified report folder (certificate, HTML, figures)")
    p.add_argument("model", metavar="MODEL", nargs="?", default=DEFAULT_EXAMPLE,
                   help=f"model file, checkpoint or bundled example name (default: the bundled '{DEFAULT_EXAMPLE}')")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (written atomically)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--kind", help="model kind, overriding checkpoint layout detection")
    p.add_argument("--P", type=int, default=None, help="number of ReLU units of an ALRNN checkpoint")
    p.add_argument("--max-period", type=int, default=None, metavar="K", help="orbit period bound (default: from the model size)")
    p.add_argument("--mode", choices=["auto", "exhaustive", "scyfi"], default="auto")
    p.add_argument("--max-length", type=int, default=None, metavar="N", help="homoclinic search length (default 8)")
    p.add_argument("--steps", type=int, default=3000, help="trajectory length for figures and the box")
    p.add_argument("--no-chaos", action="store_true", help="skip the homoclinic/heteroclinic search")
    cyc = p.add_mutually_exclusive_group()
    cyc.add_argument("--cycles", dest="cycles", action="store_const", const=True, default=None,
                     help="search homoclinic orbits of long saddle cycles seeded from the attractor "
                          "(default: when n >= 3 and no shorter connection proves chaos)")
    cyc.add_argument("--no-cycles", dest="cycles", action="store_const", const=False)
    p.add_argument("--cycle-seconds", type=float, default=60.0, metavar="S",
                   help="time budget for seeding saddle cycles (default 60)")
    p.add_argument("--no-manifolds", action="store_true", help="skip tracing stable/unstable manifolds")
    p.add_argument("--depth", type=int, default=None, help="manifold tracing depth (default 30)")
    p.add_argument("--budget", type=int, default=None, help="manifold piece budget per manifold (default 1000)")
    p.add_argument("--data", metavar="FILE.npy", default=None,
                   help="held-out data (T x N array): adds a numerical reconstruction section (D_stsp, D_H, "
                        "Lyapunov exponents against a Gaussian baseline) and a figure")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from .report import ReportOptions, build_report, load_series, observation_map, write_report

    if args.cycle_seconds <= 0:
        raise UsageError("--cycle-seconds must be positive")
    if args.max_period is not None and args.max_period < 1:
        raise UsageError("--max-period must be at least 1")
    if os.path.exists(args.out) and not args.force:
        raise UsageError(f"{args.out} exists (use --force to replace it)")
    model = resolve_model(args.model, args.kind, args.P)
    data = None
    if args.data is not None:       # checked before anything runs, so bad data leaves no folder behind
        try:
            data = load_series(args.data)
            observation_map(model, data.shape[1])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    progress = Progress(args.quiet)
    progress(f"{model.summary()}", force=True)
    opts = ReportOptions(max_period=args.max_period, mode=args.mode, seed=args.seed, steps=args.steps,
                         chaos=not args.no_chaos, cycles=args.cycles, cycle_seconds=args.cycle_seconds,
                         max_length=args.max_length, manifolds=not args.no_manifolds,
                         depth=args.depth, budget=args.budget, data=data,
                         data_name=os.path.basename(args.data) if args.data else "")
    rep = build_report(model, opts, progress=progress)
    out = write_report(rep, args.out, force=args.force)
    n_cert = sum(r.status == "certified" for r in rep.claims)
    progress(f"wrote {out}: {n_cert} of {len(rep.claims)} claims certified", force=True)
    print(f"{out}/report.html  ({n_cert} of {len(rep.claims)} claims certified; "
          f"re-check: plrnn-manifolds check {os.path.join(args.out, 'certificate.json')})")
    return 0
