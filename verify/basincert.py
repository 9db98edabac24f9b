"""Certificates for attractors and basin labels (search side; DESIGN §7, §9).

Claims made here (checked by :mod:`verify.checkbasins`, which knows nothing of this code):

* one ``trapping-polytope`` claim per trap of every exact attractor (an attractor is
  *certified* when the checker accepts all of its traps), plus the ``periodic-orbit`` claims
  of the attractors and of the boundary saddles (:func:`verify.certificate.orbit_claim`);
* ``basin-labels`` claims for the grid of a :class:`graph.basins.BasinMap`: blocks of grid
  points with one float label are proposed largest first (a quadtree over the grid, blocks of
  ``2^b × 2^b`` points, level by level, nearest to the attractor first); a block is kept when
  the checker's own set iteration (:class:`verify.checkbasins.SetIterator`) takes the whole
  parallelogram into the trap — or, for n <= 2, into an earlier kept block of the same trap,
  which shortens the iterations a lot for slowly converging attractors — else it is split in
  four, down to single points. Only kept blocks go into claims, and the grid points they
  cover are certified only after :func:`verify.checker.check_certificate` accepted them;
* optional ``basin-labels`` claims for points just off both sides of every boundary piece
  (:func:`side_claims`): the two attractors a piece separates, certified.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> from graph.basins import compute_basins
>>> res = compute_basins(load_model(example_path("bistable")), resolution=16)
>>> cert = certify_basins(res)
>>> sorted(cert.certified_attractors), cert.report.ok, int(cert.certified_mask.sum()) > 200
(['P1-1', 'P1-2'], True, True)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from symbolic.models import model_to_dict
from symbolic.rationals import fraction_str

from .certificate import new_certificate, orbit_claim
from .checkbasins import DEFAULT_PRECISION, SetIterator, _grid_set, _int_rows, _lcm, block_rows, trap_polytope
from .checker import check_certificate
from .checkmodel import CheckedMap

__all__ = ["BasinCertification", "trap_claims", "label_entries", "side_claims", "basin_claims",
           "record_accepted", "certify_basins"]

def trap_claims(attractors) -> list[dict]:
    """``trapping-polytope`` claims of every trap of every exact attractor."""
    out = []
    for a in attractors.attractors:
        for t in a.traps:
            out.append({"id": t.id, "type": "trapping-polytope", "attractor": a.id, **t.claim_data()})
    return out


def _qstr(v):
    return [fraction_str(x) for x in v]


class _Verifier:
    """The checker's set iteration (:class:`verify.checkbasins.SetIterator`), prepared once per
    (model, grid), with a search-side shortcut: while iterating, a set may stop as soon as it
    lies inside an already verified full-dimensional block of the same trap (the checker then
    checks exactly that: entry ``[..., steps, k]``)."""

    def __init__(self, model, traps_by_id: dict, grid, precision: int, shape):
        self.cm = CheckedMap(model_to_dict(model))
        o, u, v = grid
        D = 2
        for x in list(o) + list(u) + list(v):
            D = _lcm(D, Fraction(x).denominator)
        self.it = SetIterator(self.cm, precision, D)
        self.grid = tuple(tuple(Fraction(x) for x in w) for w in grid)
        self.rows = {}
        self.float_traps = {}
        for tid, claim in traps_by_id.items():
            tp, why = trap_polytope(self.cm, claim)
            if tp is not None:
                self.rows[tid] = _int_rows(tp.G, [-x for x in tp.g])
                Gf = np.array([[float(x) for x in row] for row in tp.G])
                gf = np.array([float(x) for x in tp.g])
                self.float_traps[tid] = (Gf, gf - 1e-9 * (1 + np.abs(gf)))
        n = len(o)
        self.rows_shape = shape
        self.of = np.array([float(x) for x in o])
        E = np.array([[float(x) for x in u], [float(x) for x in v]]).T          # n × 2
        self.flat = not any(Fraction(x) != 0 for x in v)
        self.targets_ok = (n == 1 and self.flat) or (n == 2 and not self.flat and abs(np.linalg.det(E)) > 0)
        self.Einv = np.linalg.pinv(E) if self.targets_ok else None
        self.cover = {}            # tid -> (rows-1, cols-1) array of entry indices (-1: none)
        self.block_rows = {}       # (tid, k) -> half-space rows of entry k

    def add_target(self, tid, k, block):
        if not self.targets_ok:
            return
        i0, j0, i1, j1 = block
        if i1 <= i0 or (not self.flat and j1 <= j0):
            return
        rows, cols = self.rows_shape
        cov = self.cover.setdefault(tid, np.full((max(rows - 1, 1), max(cols - 1, 1)), -1, dtype=np.int64))
        if self.flat:
            cov[0, i0:i1] = k
        else:
            cov[j0:j1, i0:i1] = k
        self.block_rows[(tid, k)] = block_rows(self.grid, block)

    def _lookup(self, tid, x):
        cov = self.cover.get(tid)
        if cov is None:
            return -1
        st = self.Einv @ (x - self.of)
        a = int(np.floor(st[0]))
        b = 0 if self.flat else int(np.floor(st[1]))
        if 0 <= b < cov.shape[0] and 0 <= a < cov.shape[1]:
            return int(cov[b, a])
        return -1

    def run(self, tid, box, steps):
        """(steps, target) with target -1 (the trap) or an entry index, or None.

        Exact containment is tested only where the float centre of the set is inside the
        trap (or a target block) by a margin; the checker re-does exactly the recorded test.
        """
        trap = self.rows.get(tid)
        if trap is None:
            return None
        Gf, gf = self.float_traps[tid]
        it = self.it
        S = it.scale
        c, gens, rho = _grid_set(self.grid, box, S)
        for t in range(steps + 1):
            x = np.array([ci / S for ci in c])
            if np.all(Gf @ x <= gf) and it.inside(c, gens, rho, trap):
                return t, -1
            if self.targets_ok and t:
                k = self._lookup(tid, x)
                if k >= 0:
                    rows = self.block_rows.get((tid, k))
                    if rows is not None and it.inside(c, gens, rho, rows):
                        return t, k
            if t == steps:
                return None
            active, bad = it.activity(c, gens, rho)
            if active is None:
                return None
            c, gens, rho = it.step(c, gens, rho, active)
        return None


def label_entries(bmap, trap_ids: list, verifier: _Verifier, max_block: int = 32,
                  max_entries: int | None = 50_000, extra_steps: int = 8, progress=None):
    """Verified blocks of grid points: ({trap id: [[i0, j0, i1, j1, steps(, target)], ...]}, mask, stats).

    Level by level (blocks of 2^b × 2^b points down to single points); within a level the
    blocks closest to their attractor (fewest float steps) go first, so that they can serve as
    targets of the later ones (n <= 2). A block with one float label is verified by the
    checker's set iteration; a failing one is split in four. ``trap_ids[k]`` is the claim id
    of trap k of ``attractors.traps`` (the float capture's index in :attr:`BasinMap.trap`).
    """
    L, T, S = bmap.labels, bmap.trap, bmap.steps
    rows, cols = L.shape
    covered = np.zeros(L.shape, dtype=bool)
    entries: dict = {}
    tried = 0
    b = 1
    while b * 2 <= max_block and b * 2 <= max(rows, cols):
        b *= 2
    level = [(i0, j0, min(i0 + b, cols) - 1, min(j0 + b, rows) - 1)
             for j0 in range(0, rows, b) for i0 in range(0, cols, b)]
    exhausted = False
    while level and not exhausted:
        cand, nxt = [], []
        for blk in level:
            i0, j0, i1, j1 = blk
            labs = L[j0:j1 + 1, i0:i1 + 1]
            if labs.max() < 0:
                continue                              # nothing to certify here
            traps = T[j0:j1 + 1, i0:i1 + 1]
            if labs.min() >= 0 and (traps == traps.flat[0]).all() and traps.flat[0] >= 0:
                cand.append((int(S[j0:j1 + 1, i0:i1 + 1].min()), blk))
            else:
                nxt.extend(_split(blk))
        cand.sort()
        for _, blk in cand:
            i0, j0, i1, j1 = blk
            if max_entries is not None and tried >= max_entries:
                exhausted = True
                break
            tried += 1
            tid = trap_ids[int(T[j0, i0])]
            steps = int(S[j0:j1 + 1, i0:i1 + 1].max()) + extra_steps
            res = verifier.run(tid, blk, steps)
            if res is not None:
                used, target = res
                ents = entries.setdefault(tid, [])
                ents.append([i0, j0, i1, j1, used] + ([target] if target >= 0 else []))
                verifier.add_target(tid, len(ents) - 1, blk)
                covered[j0:j1 + 1, i0:i1 + 1] = True
            else:
                nxt.extend(_split(blk))
            if progress is not None and tried % 2000 == 0:
                progress(f"basin labels: {tried} sets tried, {int(covered.sum())} points verified")
        level = nxt
    stats = {"sets_tried": tried, "entries": sum(len(v) for v in entries.values()),
             "entries_with_target": sum(len(e) == 6 for v in entries.values() for e in v),
             "budget_exhausted": exhausted}
    return entries, covered, stats


def _split(blk):
    i0, j0, i1, j1 = blk
    if i0 == i1 and j0 == j1:
        return []
    im, jm = (i0 + i1) // 2, (j0 + j1) // 2
    subs = [(i0, j0, im, jm), (im + 1, j0, i1, jm), (i0, jm + 1, im, j1), (im + 1, jm + 1, i1, j1)]
    return [q for q in subs if q[0] <= q[2] and q[1] <= q[3]]


def _label_claims(entries: dict, grid, attractor_of: dict, precision: int, prefix: str) -> list[dict]:
    """One claim per trap (entries may refer to earlier entries of the same claim)."""
    o, u, v = grid
    return [{"id": f"{prefix}:{tid}", "type": "basin-labels", "trap": tid, "attractor": attractor_of[tid],
             "grid": {"origin": _qstr(o), "u": _qstr(u), "v": _qstr(v)}, "entries": ents,
             "precision_bits": precision} for tid, ents in entries.items()]


def side_claims(result, verifier_precision: int = DEFAULT_PRECISION, delta_bits: int = 20) -> tuple[list, dict]:
    """Claims that the points ``x ± δ ν`` off the centre x of every exact boundary piece go to
    its two side attractors. Returns (claims, {claim id: (boundary index, piece index, side)})."""
    from graph.attractors import capture
    from graph.basins import label_points
    from symbolic.pieces import _dyadic

    model = result.model
    att = result.attractors
    traps = att.traps
    tids = [t.id for t in traps]
    owner = {t.id: a.id for a in att.attractors for t in a.traps}
    claims, where = [], {}
    for bi, b in enumerate(result.boundaries):
        for pi, bp in enumerate(b.pieces):
            if not bp.piece.exact:
                continue
            x = tuple(_dyadic(float(v), 40) for v in bp.centre)
            scale = 1 + max(abs(float(v)) for v in x)
            nu = tuple(_dyadic(float(v), 24) * _dyadic(1e-6 * scale, 8) for v in bp.normal)
            for side, sgn in ((0, 1), (1, -1)):
                p = tuple(a + sgn * d for a, d in zip(x, nu))
                labs, steps, tr = label_points(model, att, np.array([[float(v) for v in p]]))
                if tr[0] < 0:
                    continue
                tid = tids[tr[0]]
                cid = f"side:{b.saddle.id}:{pi}:{'+-'[side]}"
                claims.append({"id": cid, "type": "basin-labels", "trap": tid, "attractor": owner[tid],
                               "grid": {"origin": _qstr(p), "u": _qstr([0] * len(p)), "v": _qstr([0] * len(p))},
                               "entries": [[0, 0, 0, 0, int(steps[0]) + 4]], "precision_bits": verifier_precision})
                where[cid] = (bi, pi, side)
    return claims, where


@dataclass
class BasinCertification:
    """Result of :func:`certify_basins`.

    ``certificate``: the certificate dict; ``report``: the checker's report;
    ``certified_attractors``: ids whose traps were all accepted; ``certified_mask``: grid
    points covered by accepted label claims; ``side_certified``: {(boundary, piece): (a+, a−)}
    for pieces whose two side points were certified.
    """

    certificate: dict
    report: object
    certified_attractors: set
    certified_mask: np.ndarray
    side_certified: dict
    stats: dict = field(default_factory=dict)


def basin_claims(result, labels: bool = True, sides: bool = True, orbit_claims: bool = True,
                 precision: int = DEFAULT_PRECISION, max_block: int = 32, max_entries: int | None = 50_000,
                 progress=None) -> tuple[list, dict]:
    """The claims for a :class:`graph.basins.BasinResult` (nothing is checked yet).

    Returns (claims, info); ``info`` is what :func:`record_accepted` needs. Use
    ``orbit_claims=False`` when merging into a certificate that already has the orbits'
    ``orbit:<id>`` claims (ids must be unique).
    """
    model = result.model
    att = result.attractors
    claims = []
    if orbit_claims:
        for o in [a.orbit for a in att.attractors if a.orbit is not None] + [b.saddle for b in result.boundaries]:
            c = orbit_claim(o)
            if c is not None:
                claims.append({**c, "id": f"orbit:{o.id}"})
    tclaims = trap_claims(att)
    claims.extend(tclaims)
    stats = {"trap_claims": len(tclaims)}
    grid = result.map.slice.grid_vectors(result.map.resolution)
    attractor_of = {t.id: a.id for a in att.attractors for t in a.traps}
    t1 = time.perf_counter()
    if labels and tclaims:
        ver = _Verifier(model, {c["id"]: c for c in tclaims}, grid, precision, result.map.labels.shape)
        entries, _, lstats = label_entries(result.map, [t.id for t in att.traps], ver, max_block,
                                           max_entries, progress=progress)
        stats.update(lstats)
        claims.extend(_label_claims(entries, grid, attractor_of, precision, "labels"))
    stats["label_search_s"] = time.perf_counter() - t1
    where = {}
    if sides and tclaims:
        sc, where = side_claims(result, precision)
        claims.extend(sc)
    return claims, {"where": where, "stats": stats}


def record_accepted(result, claims: list, accepted: set, info: dict) -> tuple[set, np.ndarray, dict]:
    """Mark what the checker accepted: ``a.certified`` on the attractors (all traps accepted),
    ``result.map.certified`` (grid points of accepted label claims), ``result.fractions``.

    Returns (certified attractor ids, certified mask, {(boundary, piece): (side +, side −)}).
    """
    att = result.attractors
    certified_att = set()
    for a in att.attractors:
        a.certified = bool(a.traps) and all(t.id in accepted for t in a.traps)
        if a.certified:
            certified_att.add(a.id)
    mask = np.zeros(result.map.labels.shape, dtype=bool)
    for cl in claims:
        if cl["type"] == "basin-labels" and cl["id"].startswith("labels:") and cl["id"] in accepted:
            for e in cl["entries"]:
                i0, j0, i1, j1 = e[:4]
                mask[j0:j1 + 1, i0:i1 + 1] = True
    result.map.certified = mask
    from graph.basins import volume_fractions

    result.fractions = volume_fractions(result.map)
    by_id = {c["id"]: c for c in claims}
    side_ok: dict = {}
    for cid, (bi, pi, side) in info.get("where", {}).items():
        if cid in accepted:
            side_ok.setdefault((bi, pi), [None, None])[side] = by_id[cid]["attractor"]
    return certified_att, mask, {k: tuple(v) for k, v in side_ok.items() if None not in v}


def certify_basins(result, labels: bool = True, sides: bool = True, precision: int = DEFAULT_PRECISION,
                   max_block: int = 32, max_entries: int | None = 50_000, progress=None) -> BasinCertification:
    """Build the claims for a :class:`graph.basins.BasinResult`, run the checker, record what it accepted.

    Sets ``a.certified`` on the attractors, ``result.map.certified`` and ``result.fractions``.
    """
    t0 = time.perf_counter()
    claims, info = basin_claims(result, labels, sides, True, precision, max_block, max_entries, progress)
    stats = dict(info["stats"])
    cert = new_certificate(result.model, claims)
    t2 = time.perf_counter()
    report = check_certificate(cert)
    stats["check_s"] = time.perf_counter() - t2
    ok = report.accepted()
    certified_att, mask, side_certified = record_accepted(result, claims, ok, info)
    stats.update(claims=len(claims), accepted=len(ok), certified_points=int(mask.sum()),
                 total_s=time.perf_counter() - t0)
    return BasinCertification(cert, report, certified_att, mask, side_certified, stats)
