"""Turning search results into certificate claims, and running the checker on them.

This module sits on the search side (it reads :mod:`symbolic` results); the checker it calls
(:mod:`verify.checker`) does not. A result is labelled certified only when the checker
accepted the claim made for it.

>>> from symbolic.models import load_model
>>> from symbolic.orbits import find_orbits
>>> from proofs_examples import example_path
>>> m = load_model(example_path("lozi"))
>>> cert = orbit_certificate(m, find_orbits(m, max_period=1))
>>> sorted(certified_orbit_ids(cert))
['P1-1', 'P1-2']
"""
from __future__ import annotations

import json
import os
import tempfile

from symbolic.models import model_to_dict
from symbolic.rationals import fraction_str

from .checker import FORMAT, check_certificate


def _pts(points):
    return [[fraction_str(v) for v in p] for p in points]


def orbit_claim(orbit) -> dict | None:
    """The claim that certifies *orbit*, or None when nothing about it can be proved."""
    base = {"id": f"orbit:{orbit.id}", "period": orbit.period, "points": _pts(orbit.points),
            "regions": list(orbit.regions)}
    if orbit.type == "boundary":
        return {**base, "type": "boundary-orbit"}
    if orbit.type == "continuum":
        if any(orbit.boundary):
            return None
        return {**base, "type": "periodic-continuum", "dimension": orbit.dimension,
                "basis": _pts(orbit.basis)}
    if orbit.stability is None:
        return None
    if orbit.type == "non-hyperbolic":
        return {**base, "type": "periodic-orbit-existence"}
    return {**base, "type": "periodic-orbit", "orbit_type": orbit.type,
            "stable_dim": orbit.stable_dim, "unstable_dim": orbit.unstable_dim}


def new_certificate(model, claims) -> dict:
    return {"format": FORMAT, "version": 1, "model": model_to_dict(model), "claims": list(claims)}


def orbit_certificate(model, search) -> dict:
    claims = [c for c in (orbit_claim(o) for o in search.orbits) if c is not None]
    return new_certificate(model, claims)


def certified_orbit_ids(cert: dict) -> set:
    """Ids of the orbits whose claims the independent checker accepted."""
    report = check_certificate(cert)
    return {cid.split(":", 1)[1] for cid in report.accepted() if cid.startswith("orbit:")}


def write_json_atomic(obj, path) -> None:
    """Write JSON to *path* through a temporary file and a rename (never a partial file)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
