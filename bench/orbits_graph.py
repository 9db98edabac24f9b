"""Benchmark: orbit search mode 'graph' against the exhaustive mode, measured in one run.

For the tent map (k <= 10), the Lozi map (k <= 10) and a random shPLRNN with n = 3, H = 20
(k <= 3) it prints, per maximal period k, the wall time of ``find_orbits(mode='exhaustive')``
and of ``find_orbits_graph`` (end to end: region walk + transition graph + closed walks +
exact confirmation), their ratio, the number of itineraries each one solves (float screen)
and confirms exactly, and whether the two orbit sets agree.

    python bench/orbits_graph.py            # everything (about 2-3 minutes on one core)
    python bench/orbits_graph.py --quick    # tent and Lozi up to k = 6, shPLRNN up to k = 2

The exhaustive mode screens every necklace over all N realisable cells (N^k / k per period);
the graph mode only the closed walks of the transition graph. On the 2-cell maps every
itinerary is a closed walk (both cells map onto both), so the graph mode can only add its
graph-building overhead there; the shPLRNN has N = 1351 cells, where the exhaustive mode
needs 1351^2 / 2 itineraries at k = 2 and refuses k = 3 (1351^3 / 3 exceeds its limit; the
bench does not run it then).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from graph.orbits_graph import find_orbits_graph  # noqa: E402
from graph.regiongraph import as_box  # noqa: E402
from proofs_examples import example_path  # noqa: E402
from symbolic.linalg import canonical_affine  # noqa: E402
from symbolic.models import load_model, model_from_dict  # noqa: E402
from symbolic.orbits import MAX_ITINERARIES, find_orbits  # noqa: E402
from symbolic.rationals import column  # noqa: E402


def random_shplrnn(seed: int = 189, n: int = 3, H: int = 20):
    """A random shPLRNN (n = 3, H = 20) whose trajectories stay bounded (|z| < 8; an attracting
    fixed point and two saddles)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.3, 0.9, n)
    scale = rng.choice([0.3, 0.5, 0.8])
    W1 = rng.normal(size=(n, H)) * scale / np.sqrt(H)
    W2, h1, h2 = rng.normal(size=(H, n)), rng.normal(size=n) * 0.5, rng.normal(size=H)
    return model_from_dict({"kind": "shplrnn", "name": f"random shPLRNN n={n} H={H} seed={seed}", "A": a.tolist(),
                            "W1": W1.tolist(), "W2": W2.tolist(), "h1": h1.tolist(), "h2": h2.tolist()})


def keys(res, box=None):
    out = set()
    for o in res.orbits:
        if box is not None and not all(box.contains(p) for p in o.points):
            continue
        if o.type == "continuum":
            out.add(("c", o.period, canonical_affine(column(o.points[0]), [column(b) for b in o.basis])))
        else:
            out.add((o.type, o.period, o.key()))
    return out


def timed(fn):
    t0 = time.perf_counter()
    try:
        return fn(), time.perf_counter() - t0, None
    except ValueError as exc:  # the exhaustive mode's itinerary limit
        return None, time.perf_counter() - t0, str(exc)


def run(name, model, ks, box=None, exhaustive_up_to=None):
    print(f"\n== {name}: n = {model.n}, L = {model.L} hyperplanes; graph box: "
          f"{'all of R^%d' % model.n if box is None else box}")
    print(f"{'k':>3} {'exhaustive s':>13} {'graph s':>9} {'ratio':>7} {'exh. itins':>11} {'graph walks':>11} "
          f"{'exh. exact':>10} {'graph exact':>11} {'orbits':>7}  agree")
    for k in ks:
        g, tg, _ = timed(lambda: find_orbits_graph(model, k, box=box))
        N = g.stats["regions"]  # in all of R^n: the realisable cells the exhaustive mode enumerates
        if exhaustive_up_to is not None and k > exhaustive_up_to:
            e, te, err = None, float("nan"), "not run"
        elif box is None and N ** k // k > MAX_ITINERARIES:
            e, te, err = None, float("nan"), f"{N}^{k}/{k} itineraries exceed its limit {MAX_ITINERARIES}"
        else:
            e, te, err = timed(lambda: find_orbits(model, k, mode="exhaustive"))
        if e is not None:
            gb = None if box is None else as_box(box, model.n)
            agree = "yes" if keys(e, gb) == keys(g, gb) else "NO"
            ex_it, ex_exact, ratio = e.stats["float_solves"], e.stats["exact_checks"], f"{te / tg:7.2f}"
        else:
            agree, ex_it, ex_exact, ratio = f"(exhaustive: {err.split(';')[0][:70]})", "-", "-", "      -"
        print(f"{k:>3} {te:>13.3f} {tg:>9.3f} {ratio} {ex_it:>11} {g.stats['float_solves']:>11} {ex_exact:>10} "
              f"{g.stats['exact_checks']:>11} {len(g.orbits):>7}  {agree}")
    print(f"    graph: {g.stats['regions']} cells, {g.stats['transitions']} transitions "
          f"({g.stats['open_transitions']} open), built in {g.stats['graph_seconds']:.2f} s; {g.message[:120]}...")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller periods (a quick smoke run)")
    args = ap.parse_args(argv)
    kmax = 6 if args.quick else 10
    run("tent map", load_model(example_path("tent")), range(1, kmax + 1))
    run("Lozi map (a = 1.7, b = 0.5)", load_model(example_path("lozi")), range(1, kmax + 1))
    sh = random_shplrnn()
    kmax_sh = 2 if args.quick else 3
    run("random shPLRNN", sh, range(1, kmax_sh + 1))
    # a box around the attractor: bounding box of long trajectories plus a margin of 1/2
    T = sh.trajectory(np.random.default_rng(0).uniform(-5, 5, size=(20, sh.n)), 2000)[500:].reshape(-1, sh.n)
    box = ([float(np.floor(v * 8) / 8) for v in T.min(axis=0) - 0.5], [float(np.ceil(v * 8) / 8) for v in T.max(axis=0) + 0.5])
    run("random shPLRNN, graph in a box around the attractor (orbits compared inside the box)", sh,
        range(1, kmax_sh + 1), box=box, exhaustive_up_to=1)


if __name__ == "__main__":
    main()
