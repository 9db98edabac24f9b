"""Orbit search mode ``graph``: periodic orbits as closed walks of the transition graph (DESIGN §5).

A periodic orbit z_1 -> ... -> z_k -> z_1 whose points lie in the box B has an itinerary
(s_1, ..., s_k) of cells meeting the open box with z_j in cl R_{s_j}; every step
z_j -> z_{j+1} then lies in P_{s_j s_{j+1}}, so the itinerary is a closed walk of length k of
the transition graph built with the *closure* criterion (:mod:`graph.transitions`). Hence
enumerating the closed walks of length <= k -- one representative per cyclic class, the
lexicographically least rotation, exactly as the exhaustive mode enumerates necklaces over
all cells -- and confirming each one exactly finds every periodic orbit of period <= k in B.
Orbits touching region boundaries are not lost: their steps are zero-margin edges, which
the closure criterion keeps (an open-interior criterion would drop them).

The confirmation is the exhaustive mode's machinery (``symbolic.orbits``): a batched float
screen of the itineraries' affine fixed-point problems, then exact rational confirmation
of every candidate the screen cannot rule out, collected with the same deduplication
(minimal period, cyclic shifts, continua). Orbits found outside B (a closed walk through
cells that meet B can carry an orbit that leaves it) are exact and are kept; the
completeness claim is for orbits in B.

>>> from proofs_examples import example_path
>>> from symbolic.models import load_model
>>> res = find_orbits_graph(load_model(example_path("bistable")), 2, box=(-4, 4))
>>> res.status, sorted((o.type, o.points[0]) for o in res.orbits)[0]
('complete', ('attractor', (Fraction(-2, 1), Fraction(2, 1))))
"""
from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np

from symbolic.orbits import MAX_ITINERARIES, OrbitSearch, _BATCH, _Collector, _float_screen, _pieces_float, _sort_key

from .regiongraph import as_box
from .transitions import TransitionGraph, transition_graph

__all__ = ["find_orbits_graph", "closed_walks"]


def closed_walks(succ: list, p: int, chunk: int = _BATCH) -> Iterator[np.ndarray]:
    """Closed walks of length p of a digraph on nodes 0..N-1, one per cyclic class.

    succ[u]: int array of successors of u. Yields int arrays (M, p) of walks
    (w_0, ..., w_{p-1}) with edges w_j -> w_{j+1} and w_{p-1} -> w_0, each the
    lexicographically least of its rotations (so w_0 is its smallest node). Walks are grown
    from each start node s through nodes >= s only, pruned by the distance back to s.

    >>> succ = [np.array([0, 1]), np.array([0, 1])]      # complete graph with loops on 2 nodes
    >>> [w.tolist() for w in closed_walks(succ, 3)]
    [[[0, 0, 0], [0, 0, 1], [0, 1, 1]], [[1, 1, 1]]]
    """
    N = len(succ)
    deg = np.array([len(s) for s in succ], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(deg)]).astype(np.int64)
    indices = np.concatenate([np.asarray(s, dtype=np.int64) for s in succ]) if N and deg.sum() else np.zeros(0, np.int64)
    keys = np.sort(np.repeat(np.arange(N, dtype=np.int64), deg) * N + indices)
    # reverse graph (predecessors) for distances back to the start
    order = np.argsort(indices, kind="stable")
    pred_src = np.repeat(np.arange(N, dtype=np.int64), deg)[order]
    pdeg = np.bincount(indices, minlength=N) if len(indices) else np.zeros(N, np.int64)
    pptr = np.concatenate([[0], np.cumsum(pdeg)]).astype(np.int64)

    def has_edge(u, v):
        if not len(keys):
            return np.zeros(len(u), dtype=bool)
        k = u * N + v
        pos = np.searchsorted(keys, k)
        pos = np.minimum(pos, len(keys) - 1)
        return keys[pos] == k

    def gather(ptr, idx, nodes_):
        starts, counts = ptr[nodes_], ptr[nodes_ + 1] - ptr[nodes_]
        total = int(counts.sum())
        rep = np.repeat(np.arange(len(nodes_)), counts)
        offs = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        return rep, idx[offs]

    def necklace_reps(W):
        keep = np.ones(len(W), dtype=bool)
        rows = np.arange(len(W))
        for r in range(1, p):
            rot = np.roll(W, -r, axis=1)
            diff = rot != W
            first = np.argmax(diff, axis=1)
            less = rot[rows, first] < W[rows, first]
            keep &= ~(diff.any(axis=1) & less)
        return W[keep]

    def grow(W, pos, s, dist):
        """Extend the partial walks W (positions 0..pos-1) depth first, in pieces of at most
        ``chunk`` rows after each extension, so memory stays bounded and the consumer can stop."""
        if pos == p:
            W = necklace_reps(W)
            for a in range(0, len(W), chunk):
                yield W[a:a + chunk]
            return
        counts = deg[W[:, -1]]
        if counts.sum() > chunk and len(W) > 1:
            cuts = np.searchsorted(np.cumsum(counts), np.arange(chunk, counts.sum(), chunk), side="right")
            for part in np.split(W, np.unique(np.clip(cuts, 1, len(W) - 1))):
                yield from grow_one(part, pos, s, dist)
            return
        yield from grow_one(W, pos, s, dist)

    def grow_one(W, pos, s, dist):
        rep, nxt = gather(indptr, indices, W[:, -1])
        remaining = p - pos  # steps still to take after reaching position pos
        ok = (nxt >= s) & (dist[nxt] <= remaining)
        if pos == p - 1:
            ok &= has_edge(nxt, np.full(len(nxt), s))
        W = np.hstack([W[rep[ok]], nxt[ok][:, None]])
        if len(W):
            yield from grow(W, pos + 1, s, dist)

    for s in range(N):
        if deg[s] == 0:
            continue
        if p == 1:
            if has_edge(np.array([s]), np.array([s]))[0]:
                yield np.array([[s]], dtype=np.int64)
            continue
        # dist[u]: fewest steps from u back to s through nodes >= s (only up to p - 1)
        dist = np.full(N, np.iinfo(np.int64).max)
        dist[s] = 0
        front = np.array([s])
        for r in range(1, p):
            _, prev = gather(pptr, pred_src, front)
            prev = prev[(prev >= s) & (dist[prev] > r)]
            prev = np.unique(prev)
            dist[prev] = r
            front = prev
            if not len(front):
                break
        yield from grow(np.array([[s]], dtype=np.int64), 1, s, dist)


def _batched(chunks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup a stream of (m, p) arrays into arrays of about *size* rows."""
    buf, rows = [], 0
    for c in chunks:
        buf.append(c)
        rows += len(c)
        if rows >= size:
            yield np.concatenate(buf)
            buf, rows = [], 0
    if buf:
        yield np.concatenate(buf)


def find_orbits_graph(model, max_period: int, box=None, progress: Callable[[str], None] | None = None,
                      classify: bool = True, transitions: TransitionGraph | None = None,
                      certify: bool = False, max_walks: int = MAX_ITINERARIES, seed: int = 0) -> OrbitSearch:
    """All periodic orbits of period <= max_period with every point in *box* (mode 'graph').

    box: ``(lo, hi)`` (numbers or length-n sequences) or None for all of R^n (no pruning by a
    box; slower on large arrangements). transitions: a prebuilt :class:`TransitionGraph`
    (its box is used when *box* is None). certify: exact Farkas certificates for every
    dropped transition and cell (the completeness claim then rests on no float decision).
    max_walks: limit on the closed walks screened (status 'truncated' beyond it).

    Returns a :class:`symbolic.orbits.OrbitSearch` with ``mode='graph'``, status 'complete'
    (or 'truncated'), a message naming the box, and stats (cells, transitions, closed walks
    per period, float solves, exact checks, graph and search seconds).
    """
    if max_period < 1:
        raise ValueError("max_period must be >= 1")
    t0 = time.perf_counter()
    if transitions is not None and box is None:
        box = transitions.box
    box = as_box(box, model.n)
    tg = transitions if transitions is not None else transition_graph(model, box, certify=certify, seed=seed,
                                                                     progress=progress)
    if tg.box != box:
        raise ValueError("the transition graph was built for another box")
    t_graph = time.perf_counter() - t0
    regions = sorted(tg.graph.nodes)  # same order as the exhaustive mode: necklaces coincide
    idx = {s: i for i, s in enumerate(regions)}
    succ = [np.array(sorted(idx[t] for t in tg.graph.successors(s)), dtype=np.int64) for s in regions]
    Js, cs, bits = _pieces_float(model, regions)
    collector = _Collector(classify)
    stats: dict = {"regions": len(regions), "transitions": tg.graph.number_of_edges(),
                   "open_transitions": tg.stats.get("open_edges"), "graph_seconds": t_graph,
                   "closed_walks": {}, "float_solves": 0}
    truncated = None
    total = 0
    for p in range(1, max_period + 1):
        count = 0
        for chunk in _batched(closed_walks(succ, p), _BATCH):
            if total + len(chunk) > max_walks:
                truncated = f"more than max_walks = {max_walks} closed walks at period {p}"
                break
            count += len(chunk)
            total += len(chunk)
            stats["float_solves"] += len(chunk)
            for i in _float_screen(model, Js, cs, chunk, bits):
                collector.add_itinerary(model, tuple(regions[r] for r in chunk[i]), p, "graph")
            if progress:
                progress(f"period {p}: {count} closed walks, {len(collector.orbits)} orbits")
        stats["closed_walks"][p] = count
        if truncated:
            break
    stats["exact_checks"] = collector.exact_checks
    orbits = sorted(collector.orbits.values(), key=_sort_key)
    counters: dict = {}
    outside = 0
    for o in orbits:
        counters[o.period] = counters.get(o.period, 0) + 1
        o.id = f"P{o.period}-{counters[o.period]}"
        if box is not None and not all(box.contains(z) for z in o.points):
            outside += 1
    stats["orbits_outside_box"] = outside
    stats["seconds"] = time.perf_counter() - t0
    where = f"in the box {box.describe()}" if box is not None else f"in R^{model.n}"
    ok = tg.status == "complete" and truncated is None
    msg = (f"graph search: every periodic orbit of period <= {max_period} with all its points {where} "
           f"(closed walks of the transition graph: {len(regions)} cells, {stats['transitions']} transitions, "
           f"{total} closed walks)")
    if outside:
        msg += f"; {outside} further orbit(s) found outside the box are listed too"
    if not ok:
        msg = (f"TRUNCATED ({truncated or tg.message}): " + msg.replace("every periodic orbit", "periodic orbits"))
    return OrbitSearch(orbits, "graph", max_period, "complete" if ok else "truncated", msg, stats)
