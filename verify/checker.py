"""The independent checker: re-derives every claim of a certificate (DESIGN §9).

Trusted base: this module, :mod:`verify.checkmodel` and :mod:`verify.checkroots`, which use
only :class:`fractions.Fraction`, flint's exact rational matrices (characteristic
polynomials) and Arb balls (rigorous root enclosures). It imports nothing from
the search code (``graph``, ``symbolic``); it rebuilds the map from the certificate's model
dictionary and replays every witness exactly, with no tolerance anywhere.

A certificate is JSON::

    {"format": "plrnn-manifolds-certificate", "version": 1,
     "model": {...model file, exact...},
     "claims": [{"id": "...", "type": "periodic-orbit", ...}, ...]}

Claim types are dispatched through :data:`CHECKS` (``type`` → function(model, claim) that
returns None when the claim holds, or a one-line reason why it does not). Other modules
register further claim types with :func:`register`.

>>> cert = {"format": FORMAT, "version": 1,
...         "model": {"kind": "plrnn", "A": [2], "W": [[-4]], "h": ["1/2"]},
...         "claims": [{"id": "fp", "type": "periodic-orbit", "period": 1,
...                     "points": [["1/6"]], "stable_dim": 0, "unstable_dim": 1}]}
>>> check_certificate(cert).ok
True
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from .checkmodel import CheckedMap, CheckInputError, eye, matmul, qvec
from .checkroots import charpoly, locate_roots

FORMAT = "plrnn-manifolds-certificate"

CHECKS: dict[str, Callable] = {}


def register(claim_type: str):
    def deco(fn):
        CHECKS[claim_type] = fn
        return fn
    return deco


@dataclass
class ClaimResult:
    id: str
    type: str
    ok: bool
    reason: str = ""


@dataclass
class CheckReport:
    """Outcome of :func:`check_certificate`: ``ok`` iff every claim verified."""

    results: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def first_failure(self) -> ClaimResult | None:
        return next((r for r in self.results if not r.ok), None)

    def accepted(self) -> set:
        return {r.id for r in self.results if r.ok}

    def message(self) -> str:
        f = self.first_failure
        if f is None:
            return f"all {len(self.results)} claims verified"
        bad = sum(not r.ok for r in self.results)
        return f"{bad} of {len(self.results)} claims failed; first: {f.id} ({f.type}): {f.reason}"


def check_certificate(cert: dict) -> CheckReport:
    """Check every claim; raises CheckInputError for a malformed certificate."""
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise CheckInputError(f"not a plrnn-manifolds certificate (expected \"format\": \"{FORMAT}\")")
    if cert.get("version") != 1:
        raise CheckInputError(f"unsupported certificate version {cert.get('version')!r}")
    model = CheckedMap(cert.get("model"))
    claims = cert.get("claims")
    if not isinstance(claims, list):
        raise CheckInputError("certificate 'claims' must be a list")
    report = CheckReport()
    seen = set()
    for i, claim in enumerate(claims):
        if not isinstance(claim, dict) or "type" not in claim or "id" not in claim:
            report.results.append(ClaimResult(f"#{i}", "?", False, "claim lacks 'id' or 'type'"))
            continue
        cid, ctype = str(claim["id"]), claim["type"]
        if cid in seen:
            report.results.append(ClaimResult(cid, ctype, False, "duplicate claim id"))
            continue
        seen.add(cid)
        fn = CHECKS.get(ctype)
        if fn is None:
            report.results.append(ClaimResult(cid, ctype, False, f"unknown claim type {ctype!r}"))
            continue
        try:
            reason = fn(model, claim, cert)
        except CheckInputError as exc:
            reason = f"malformed claim: {exc}"
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as exc:
            reason = f"malformed claim: {type(exc).__name__}: {exc}"
        report.results.append(ClaimResult(cid, ctype, reason is None, reason or ""))
    return report


def load_certificate(path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise CheckInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckInputError(f"{path}: not a JSON certificate ({exc})") from None


# ----------------------------------------------------------------------------- orbit claims

def _orbit_points(model: CheckedMap, claim) -> list:
    pts = claim["points"]
    period = claim["period"]
    if not isinstance(period, int) or isinstance(period, bool) or period < 1 or len(pts) != period:
        raise CheckInputError("'period' must equal the number of points")
    return [qvec(p, model.n, f"points[{j}]") for j, p in enumerate(pts)]


def _check_cycle(model: CheckedMap, pts) -> str | None:
    k = len(pts)
    for j, z in enumerate(pts):
        if model.f(z) != pts[(j + 1) % k]:
            return f"f(point {j}) != point {(j + 1) % k}"
    for q in range(1, k):
        if k % q == 0 and pts[0] == pts[q]:
            return f"minimal period is {q}, not {k}"
    return None


def _product_jacobian(model: CheckedMap, pts):
    J = eye(model.n)
    for z in pts:
        J = matmul(model.jacobian(z), J)
    return J


@register("periodic-orbit")
def check_periodic_orbit(model: CheckedMap, claim, cert=None) -> str | None:
    """An isolated periodic orbit strictly inside regions with the claimed stability split.

    Verifies f(z_j) = z_{j+1} exactly, minimal period, no point on a kink, and the numbers of
    eigenvalues of the product Jacobian inside/outside the unit circle (none on it).
    """
    bad = check_periodic_orbit_existence(model, claim)
    if bad:
        return bad
    pts = _orbit_points(model, claim)
    counts = locate_roots(charpoly(_product_jacobian(model, pts)))
    if counts is None:
        return "an eigenvalue could not be separated from the unit circle: hyperbolicity not proven"
    want = (claim.get("stable_dim"), claim.get("unstable_dim"))
    if want != (counts["inside"], counts["outside"]):
        return f"eigenvalues inside/outside the unit circle are {counts['inside']}/{counts['outside']}, claimed {want[0]}/{want[1]}"
    return None


@register("boundary-orbit")
def check_boundary_orbit(model: CheckedMap, claim, cert=None) -> str | None:
    """A periodic orbit with at least one point exactly on a kink (no stability claim)."""
    pts = _orbit_points(model, claim)
    bad = _check_cycle(model, pts)
    if bad:
        return bad
    if not any(model.kinks_at(z) for z in pts):
        return "no orbit point lies on a kink"
    return None


@register("periodic-continuum")
def check_periodic_continuum(model: CheckedMap, claim, cert=None) -> str | None:
    """An affine family z_0 + span(basis) of period-k points around a witness orbit that lies
    strictly inside regions (so f^k is affine near it and fixes the whole family there)."""
    pts = _orbit_points(model, claim)
    k = len(pts)
    for j, z in enumerate(pts):
        if model.f(z) != pts[(j + 1) % k]:
            return f"f(point {j}) != point {(j + 1) % k}"
        if model.kinks_at(z):
            return f"witness point {j} lies on a kink"
    basis = [qvec(b, model.n, f"basis[{i}]") for i, b in enumerate(claim["basis"])]
    if not basis:
        return "empty basis"
    J = _product_jacobian(model, pts)
    for i, b in enumerate(basis):
        Jb = [sum((J[r][c] * b[c] for c in range(model.n)), Fraction(0)) for r in range(model.n)]
        if Jb != b:
            return f"basis vector {i} is not fixed by the product Jacobian"
    # linear independence: rank of the basis (fraction-free elimination)
    rows = [list(b) for b in basis]
    rank = 0
    for col in range(model.n):
        piv = next((r for r in range(rank, len(rows)) if rows[r][col] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][col] != 0:
                fct = rows[r][col] / rows[rank][col]
                rows[r] = [a - fct * b for a, b in zip(rows[r], rows[rank])]
        rank += 1
    if rank != len(basis) or claim.get("dimension") != rank:
        return f"basis has rank {rank}, claimed dimension {claim.get('dimension')}"
    return None


@register("periodic-orbit-existence")
def check_periodic_orbit_existence(model: CheckedMap, claim, cert=None) -> str | None:
    """A periodic orbit strictly inside regions (existence only; no stability claim)."""
    pts = _orbit_points(model, claim)
    bad = _check_cycle(model, pts)
    if bad:
        return bad
    for j, z in enumerate(pts):
        kinks = model.kinks_at(z)
        if kinks:
            return f"point {j} lies on the kink of unit(s) {kinks}: not strictly inside a region"
    return None


from . import checkchaos  # noqa: E402,F401  (registers the connecting-orbit and chaos claim types)
from . import checkbasins  # noqa: E402,F401  (registers the trapping-polytope and basin-label claim types)
from . import checkcycles  # noqa: E402,F401  (registers the homoclinic-orbit-to-cycle claim type)
