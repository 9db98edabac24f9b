"""Benchmark: exact confirmation of long cycles, fast path vs the straightforward method.

``symbolic.orbits.confirm_itinerary`` composes the cycle map by a balanced product tree,
solves the one n x n system exactly and propagates the orbit in integers over a common
denominator, reducing to lowest terms once with a batch coprimality test. The
straightforward method (``_confirm_reference``: left-to-right composition, fmpq
propagation, a big gcd per entry per step and again per Fraction) is timed in the same run
on the same itineraries; the script prints both times, their ratio, and the size of the
exact points (bits of the largest numerator / denominator).

Cases: phase-locked saddle cycles of the published 20-D Lorenz ALRNN
(/work/shared/data/alrnn_lorenz_m20_p2.pt, skipped when absent; period 211 takes minutes
the old way) and long Lozi cycles (bundled). Run: python bench/long_cycles.py [--quick]
(--quick: Lozi only) [--model PATH]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from graph.homoclinic import recurrent_cycles
from proofs_examples import example_path
from symbolic.models import load_model
from symbolic.orbits import _compose_chain, _confirm_reference, compose_itinerary, confirm_itinerary

PUBLISHED = "/work/shared/data/alrnn_lorenz_m20_p2.pt"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bits(orbit) -> tuple[int, int]:
    vals = [v for p in orbit.points for v in p]
    return max(v.numerator.bit_length() for v in vals), max(v.denominator.bit_length() for v in vals)


def run_case(name, model, itinerary):
    fast, t_fast = timed(lambda: confirm_itinerary(model, itinerary))
    ref, t_ref = timed(lambda: _confirm_reference(model, itinerary))
    (Jt, ct), t_tree = timed(lambda: compose_itinerary(model, itinerary))
    (Jc, cc), t_chain = timed(lambda: _compose_chain(model, itinerary))
    # (fields compared directly: Orbit.to_json needs str() of the ~40k-digit integers, beyond
    # Python's default int-to-str limit of 4300 digits)
    same = (fast is None and ref is None) or (
        fast is not None and ref is not None and fast[1] == ref[1] and
        all(getattr(fast[0], k) == getattr(ref[0], k) for k in ("period", "points", "regions", "type", "boundary"))
        and (fast[0].stability is None) == (ref[0].stability is None)
        and (fast[0].stability is None or fast[0].stability.charpoly == ref[0].stability.charpoly))
    assert same and Jt == Jc and ct == cc, f"{name}: fast and reference answers differ"
    orbit = fast[0] if fast else None
    nb, db = bits(orbit) if orbit else (0, 0)
    typ = orbit.type if orbit else "none"
    print(f"{name:<26} {len(itinerary):>6} {typ:>9} {nb:>9} {db:>9} {t_ref:>9.2f} {t_fast:>8.2f} "
          f"{t_ref / t_fast:>7.1f}x {t_chain / max(t_tree, 1e-9):>7.1f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="Lozi cycles only (seconds)")
    ap.add_argument("--model", default=PUBLISHED, help="the published 20-D Lorenz ALRNN checkpoint")
    args = ap.parse_args()
    print(f"{'case':<26} {'period':>6} {'type':>9} {'num bits':>9} {'den bits':>9} {'old s':>9} {'new s':>8} "
          f"{'ratio':>8} {'tree/chain':>8}")
    lozi = load_model(example_path("lozi"))
    cyc = recurrent_cycles(lozi, lozi.trajectory([0.1, 0.1], 20000)[1000:], min_period=60, max_period=300,
                           tol=0.02, max_seeds=40)
    for c in sorted(cyc, key=lambda c: -c.period)[:3]:
        run_case(f"lozi (n=2)", lozi, c.itinerary)
    if args.quick:
        return
    if not os.path.exists(args.model):
        print(f"(skipped the published model: {args.model} not found)")
        return
    m = load_model(args.model)
    Z = m.trajectory(np.full(m.n, 0.1), 30000)[5000:]
    cyc, t_find = timed(lambda: recurrent_cycles(m, Z, min_period=50, max_period=700, max_seeds=60))
    print(f"(published model: {len(cyc)} float cycles found in {t_find:.1f} s, periods "
          f"{sorted(c.period for c in cyc)})")
    for c in sorted(cyc, key=lambda c: c.period)[:1]:
        run_case(f"published ALRNN (n={m.n})", m, c.itinerary)
    print("old = left-to-right composition + fmpq propagation with a gcd per entry and step; new = product "
          "tree + one exact solve + integer propagation over a common denominator + batch reduction; "
          "ratio = old / new (same itinerary, same exact answer, asserted)")


if __name__ == "__main__":
    main()
