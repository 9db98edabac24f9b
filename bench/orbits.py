"""Benchmark: exhaustive vs SCYFI fixed-point search, and batched float+exact vs pure exact.

Prints, for a standard PLRNN with n = 10 and n = 14 and a shPLRNN with n = 3, H = 20, the
time of exhaustive and SCYFI fixed-point search, and the speed-up of the batched float screen
+ exact confirmation over a pure exact path (exact solve in every region), measured in the
same run. Run: python bench/orbits.py [--quick]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from symbolic.models import model_from_dict
from symbolic.orbits import confirm_itinerary, find_orbits
from symbolic.regions import enumerate_regions


def plrnn(n, seed):
    """A standard random PLRNN; the first seed from *seed* on whose model has >= 2 fixed points."""
    for s in range(seed, seed + 100):
        rng = np.random.default_rng(s)
        m = model_from_dict({"kind": "plrnn", "A": rng.uniform(0.3, 0.9, n).tolist(),
                             "W": (rng.normal(size=(n, n)) * 2 / np.sqrt(n)).tolist(), "h": rng.normal(size=n).tolist()})
        if len(find_orbits(m, 1, mode="exhaustive", classify=False).orbits) >= 2:
            return m
    raise RuntimeError("no random PLRNN with two fixed points")


def shplrnn(n, H, seed):
    rng = np.random.default_rng(seed)
    return model_from_dict({"kind": "shplrnn", "A": rng.uniform(0.5, 0.95, n).tolist(),
                            "W1": (rng.normal(size=(n, H)) * 0.3).tolist(), "W2": rng.normal(size=(H, n)).tolist(),
                            "h1": (rng.normal(size=n) * 0.3).tolist(), "h2": rng.normal(size=H).tolist()})


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def pure_exact(model, regions):
    found = set()
    for s in regions:
        r = confirm_itinerary(model, (s,), classify=False)
        if r is not None:
            found.add(r[0].key())
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="n = 8 and 10 instead of 10 and 14")
    args = ap.parse_args()
    cases = [("plrnn n=8" if args.quick else "plrnn n=10", plrnn(8 if args.quick else 10, 1)),
             ("plrnn n=10" if args.quick else "plrnn n=14", plrnn(10 if args.quick else 14, 2)),
             ("shplrnn n=3 H=20", shplrnn(3, 20, 3))]
    print(f"{'model':<18} {'regions':>8} {'fp':>4} {'exhaustive s':>12} {'scyfi s':>9} {'scyfi found':>11} "
          f"{'pure exact s':>12} {'batched speed-up':>16}")
    for name, m in cases:
        if m.L <= 14:
            regions = [format(i, f"0{m.L}b") for i in range(2**m.L)]
            exact = lambda: pure_exact(m, regions)
        else:  # 2^20 exact solves take minutes: the pure exact path gets the realisable cells (walk timed)
            regions = enumerate_regions(m).regions
            exact = lambda: pure_exact(m, enumerate_regions(m).regions)
        ex, t_ex = timed(lambda: find_orbits(m, 1, mode="exhaustive"))
        sc, t_sc = timed(lambda: find_orbits(m, 1, mode="scyfi", seed=0))
        ex_keys = {o.key() for o in ex.orbits}
        pe, t_pe = timed(lambda: exact())
        assert pe == ex_keys, "the batched and the pure exact path disagree"
        found = len({o.key() for o in sc.orbits} & ex_keys)
        print(f"{name:<18} {len(regions):>8} {len(ex.orbits):>4} {t_ex:>12.3f} {t_sc:>9.3f} "
              f"{found:>5}/{len(ex_keys):<5} {t_pe:>12.3f} {t_pe / t_ex:>15.1f}x")
    print("exhaustive = batched numpy float screen over all regions + exact confirmation of candidates;")
    print("pure exact = exact rational solve and region check in every one of the 2^L patterns (for L > 14: in every\n"
          "realisable cell, LP walk included); ratio = pure exact / exhaustive.")


if __name__ == "__main__":
    main()
