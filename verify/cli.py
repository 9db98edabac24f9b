"""The ``plrnn-manifolds`` command line (DESIGN §10).

Each command lives in a small function here or in a ``verify/cmd_*.py`` module that exposes
``register(subparsers)``; bad input is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

from symbolic.errors import ModelError

from .checkmodel import CheckInputError

# modules that add sub-commands: each has register(subparsers) setting func=run(args) -> int
COMMAND_MODULES: list[str] = ["verify.cmd_homoclinic", "verify.cmd_report", "verify.cmd_manifold", "verify.cmd_basins"]


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class Progress:
    """Throttled progress lines on stderr: stage, message, elapsed seconds."""

    def __init__(self, quiet: bool = False, every: float = 0.5):
        self.quiet = quiet
        self.every = every
        self.t0 = time.perf_counter()
        self._last = -1e9

    def __call__(self, msg: str, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if force or now - self._last >= self.every:
            self._last = now
            print(f"[{now - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def resolve_model(spec: str, kind: str | None = None, P: int | None = None):
    """MODEL argument: a file path, else the name of a bundled example."""
    from symbolic.models import load_model

    if os.path.exists(spec):
        return load_model(spec, kind=kind, P=P)
    from proofs_examples import example_names, example_path

    if spec in example_names():
        return load_model(str(example_path(spec)), kind=kind, P=P)
    raise ModelError(f"{spec}: no such file, and no bundled example of that name "
                     f"(examples: {', '.join(example_names())})")


def realisable_cells(model, max_period: int, mode: str, progress=None):
    """The arrangement's cells from the fast region walk (graph/), when the exhaustive cycle
    search needs them (hyperplanes in non-general position: L > n); else None."""
    if mode == "scyfi" or model.L <= model.n:
        return None
    from graph.regiongraph import region_graph

    rg = region_graph(model, progress=progress)
    return rg.cells if rg.status == "complete" else None


def model_summary(model) -> dict:
    return {"name": model.name, "kind": model.kind, "n": model.n, "hyperplanes": model.L}


def emit_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=1)
    sys.stdout.write("\n")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="model file (JSON, NPZ, PyTorch or BSON checkpoint) or bundled example name")
    p.add_argument("--kind", help="model kind, overriding checkpoint layout detection")
    p.add_argument("--P", type=int, default=None, help="number of ReLU units of an ALRNN checkpoint")


# ----------------------------------------------------------------------------- commands

def cmd_examples(args) -> int:
    from proofs_examples import example_description, example_names

    names = example_names()
    if args.json:
        emit_json({"examples": [{"name": n, "description": example_description(n)} for n in names]})
        return 0
    width = max(map(len, names))
    for n in names:
        print(f"{n:<{width}}  {example_description(n)}")
    return 0


def _short(point, maxlen=44) -> str:
    s = "(" + ", ".join(str(v) for v in point) + ")"
    return s if len(s) <= maxlen else s[: maxlen - 3] + "..."


def cmd_orbits(args) -> int:
    from symbolic.orbits import find_orbits

    from .certificate import certified_orbit_ids, orbit_certificate, write_json_atomic

    if args.max_period < 1:
        raise UsageError("--max-period must be at least 1")
    model = resolve_model(args.model, args.kind, args.P)
    progress = Progress(args.quiet)
    progress(f"{model.summary()}; searching orbits up to period {args.max_period} ({args.mode})", force=True)
    try:
        if args.mode == "graph":
            from graph.orbits_graph import find_orbits_graph

            box = None
            if args.box is not None:
                lo, hi = args.box
                if not lo < hi:
                    raise UsageError("--box LO HI needs LO < HI")
                box = (lo, hi)
            res = find_orbits_graph(model, args.max_period, box=box, progress=progress, seed=args.seed)
        else:
            res = find_orbits(model, args.max_period, mode=args.mode, seed=args.seed, progress=progress,
                              regions=realisable_cells(model, args.max_period, args.mode, progress))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    progress(f"{len(res.orbits)} orbits; checking the certificate", force=True)
    cert = orbit_certificate(model, res)
    certified = certified_orbit_ids(cert)
    if args.certificate:
        write_json_atomic(cert, args.certificate)
    if args.json:
        emit_json({
            "model": model_summary(model),
            "search": {"mode": res.mode, "max_period": res.max_period, "status": res.status,
                       "message": res.message, "stats": res.stats},
            "orbits": [o.to_json(certified=o.id in certified) for o in res.orbits],
        })
        return 0
    print(model.summary())
    print(f"search: {res.mode}, periods 1..{res.max_period}: {res.status} ({res.message})")
    hdr = f"{'id':<8} {'period':>6}  {'type':<15} {'s/u':>5}  {'certified':<9}  first point"
    print(hdr)
    print("-" * len(hdr))
    for o in res.orbits:
        su = "-" if o.stable_dim is None else f"{o.stable_dim}/{o.unstable_dim}"
        typ = o.type if o.type != "continuum" else f"continuum d={o.dimension}"
        print(f"{o.id:<8} {o.period:>6}  {typ:<15} {su:>5}  {'yes' if o.id in certified else 'no':<9}  {_short(o.points[0])}")
    if not res.orbits:
        print("(no periodic orbits)")
    return 0


def cmd_check(args) -> int:
    from .checker import check_certificate, load_certificate

    cert = load_certificate(args.certificate)
    report = check_certificate(cert)
    if args.json:
        emit_json({"ok": report.ok, "message": report.message(),
                   "claims": [{"id": r.id, "type": r.type, "ok": r.ok, "reason": r.reason} for r in report.results]})
    else:
        for r in report.results:
            print(f"{'OK  ' if r.ok else 'FAIL'} {r.id} ({r.type}){'' if r.ok else ': ' + r.reason}")
        print(report.message())
    return 0 if report.ok else 1


def cmd_convert(args) -> int:
    from symbolic.models import save_model

    model = resolve_model(args.model, args.kind, args.P)
    save_model(model, args.out)
    print(f"wrote {args.out}: {model.summary()}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="plrnn-manifolds",
        description="Exact, certified state-space skeletons of ReLU RNNs (PLRNNs and variants).")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("examples", help="list bundled example models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("orbits", help="all fixed points and cycles up to a period, exact, with stability")
    add_model_args(p)
    p.add_argument("--max-period", type=int, default=1, metavar="K")
    p.add_argument("--mode", choices=["auto", "exhaustive", "graph", "scyfi"], default="auto",
                   help="exhaustive: every realisable itinerary (complete); graph: closed walks of the transition "
                        "graph (complete within --box); scyfi: heuristic, for large models")
    p.add_argument("--box", type=float, nargs=2, metavar=("LO", "HI"),
                   help="graph mode: only orbits with every coordinate in [LO, HI]")
    p.add_argument("--seed", type=int, default=0, help="random seed of the SCYFI search")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--certificate", metavar="FILE", help="also write the orbit certificate")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_orbits)

    p = sub.add_parser("check", help="re-verify a certificate with the independent checker")
    p.add_argument("certificate", metavar="CERTIFICATE.json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("convert", help="convert a checkpoint or model file to an exact JSON model file")
    add_model_args(p)
    p.add_argument("--out", required=True, metavar="FILE")
    p.set_defaults(func=cmd_convert)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (ModelError, CheckInputError, UsageError) as exc:
        print(f"plrnn-manifolds {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`: not an error
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as exc:
        print(f"plrnn-manifolds {args.command}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    # run the importable module's main: as __main__ this file's classes (UsageError) would be
    # different objects from those the cmd_* modules import
    from verify.cli import main as _main

    sys.exit(_main())
