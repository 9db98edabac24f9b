"""Benchmark: producing a chaos certificate vs checking it, against orbit length and dimension.

For the Lozi map (a = 17/10, b = 1/2) and the border-collision normal form, a transversal
homoclinic orbit of the saddle is found once (search time printed), then written with
itineraries of length N = 5, 10, 20, 40 (the same orbit, starting earlier on the local unstable
piece and ending later on the local stable piece: :func:`graph.homoclinic.extend_connection`).
For each N it prints

* construct: building the claim (Newton refinement of the eigenpairs in mpmath, intersection
  coordinates, boxes, sign patterns) at the precision that finally passes;
* produce: construct + the producer's own acceptance run (precision doubling until the
  checker's test passes), i.e. the time to obtain a certified claim;
* check: the independent checker on the finished certificate (``check_certificate``);

and the ratios check / produce and check / construct, all measured in this run (medians of 3). A second table
varies the dimension: the Lozi map driven into m extra contracting coordinates
(w_i' = mu_i w_i + x / 4, distinct mu_i), n = 2 + m, orbit length 10 and 20.

Run: python bench/certify.py [--quick]
"""
from __future__ import annotations

import argparse
import time
from fractions import Fraction

from graph.homoclinic import extend_connection, find_connections
from proofs_examples import example_path
from symbolic.models import load_model, model_from_dict, model_to_dict
from verify.certificate import new_certificate
from verify.chaos import certify_connection, connection_claim
from verify.checker import check_certificate
from verify.checkmodel import CheckedMap


def lozi_driven(m: int):
    """Lozi (x, y) plus m coordinates w_i' = mu_i w_i + x/4, mu_i = (i + 1) / (m + 2)."""
    n = 2 + m
    A = [[Fraction(0)] * n for _ in range(n)]
    A[0][0], A[0][1], A[1][0] = Fraction(17, 10), Fraction(1), Fraction(1, 2)
    for i in range(m):
        A[2 + i][2 + i] = Fraction(i + 1, m + 2)
        A[2 + i][0] = Fraction(1, 4)
    W = [[Fraction(0)] * n for _ in range(n)]
    W[0][0] = Fraction(-17, 5)
    if m:
        W[2][0] = Fraction(-1, 2)        # |x| enters w_1 too (a kink felt in the extra coordinates)
    s = lambda q: f"{q.numerator}/{q.denominator}"
    return model_from_dict({"kind": "plrnn", "name": f"lozi+{m}", "A": [[s(v) for v in r] for r in A],
                            "W": [[s(v) for v in r] for r in W], "h": ["1"] + ["0"] * (n - 1)})


def base_connection(model, max_length=6):
    t = time.perf_counter()
    res = find_connections(model, max_length=max_length, heteroclinic=False, snapback=False)
    dt = time.perf_counter() - t
    conn = min((c for c in res.connections if c.kind == "homoclinic" and c.status == "candidate"),
               key=lambda c: c.length)
    return res, conn, dt


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], out


def measure(model, res, base, N, repeats=3):
    """Median over *repeats* runs of (construct, produce, check) for the orbit written with length N."""
    extra = N - base.length
    conn = extend_connection(model, base, res.orbits, extra // 2, extra - extra // 2)
    cm = CheckedMap(model_to_dict(model))
    produce, (claim, why) = _median_time(lambda: certify_connection(model, conn, res.orbits, cm, f"h{N}"), repeats)
    if claim is None:
        return None, why
    bits = claim["precision_bits"]
    construct, _ = _median_time(lambda: connection_claim(model, conn, res.orbits, cm, bits, f"h{N}"), repeats)
    cert = new_certificate(model, [claim])
    check, rep = _median_time(lambda: check_certificate(cert), repeats)
    assert rep.ok, rep.message()
    return (construct, produce, check, bits), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer dimensions")
    args = ap.parse_args()
    lengths = (5, 10, 20, 40)
    hdr = (f"{'model':<18} {'n':>3} {'N':>4} {'bits':>5} {'construct s':>11} {'produce s':>10} {'check s':>9} "
           f"{'check/produce':>13} {'check/construct':>15}")
    rows = []
    for name in ("lozi", "border_collision"):
        model = load_model(example_path(name))
        res, base, dt = base_connection(model)
        print(f"{name}: search found a homoclinic orbit of length {base.length} in {dt:.3f} s")
        for N in lengths:
            out, why = measure(model, res, base, max(N, base.length))
            rows.append((name, model.n, N, out, why))
    dims = (2, 4) if args.quick else (2, 4, 8, 16)
    for n in dims:
        model = lozi_driven(n - 2)
        res, base, dt = base_connection(model)
        print(f"lozi driven, n = {n}: search {dt:.3f} s, base length {base.length}")
        for N in (10, 20):
            out, why = measure(model, res, base, N)
            rows.append((f"lozi+{n - 2}", n, N, out, why))
    print()
    print(hdr)
    print("-" * len(hdr))
    worst = 0.0
    for name, n, N, out, why in rows:
        if out is None:
            print(f"{name:<18} {n:>3} {N:>4}  not certified: {why}")
            continue
        construct, produce, check, bits = out
        worst = max(worst, check / produce)
        print(f"{name:<18} {n:>3} {N:>4} {bits:>5} {construct:>11.4f} {produce:>10.4f} {check:>9.4f} "
              f"{check / produce:>13.2f} {check / construct:>15.2f}")
    print(f"\nlargest check/produce ratio: {worst:.2f} (checking must not take longer than producing: "
          f"{'yes' if worst <= 1 else 'NO'})")


if __name__ == "__main__":
    main()
