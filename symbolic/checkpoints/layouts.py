"""From the arrays of a checkpoint to a model dictionary (DESIGN §3).

What the authors' code computes (DurstewitzLab repositories), and what each layout becomes:

Python dendPLRNN (``BPTT_TF/bptt/PLRNN_model.py``), state dict keys
``latent_model.latent_step.AW`` (A = diagonal, W = the rest), ``...h``, for the basis models
``...alphas`` (K) and ``...thetas`` (M x K), ``output_layer.weight`` (N x M, observation).
Hyperparameters are in ``hypers.pkl`` / ``hypers.txt`` beside the checkpoint:

* ``latent_model='PLRNN'``:        z' = clip(A z + W relu(n(z)) + h)
* ``latent_model='dendr-PLRNN'``:  z' = clip(A z + W sum_b alpha_b relu(n(z) + theta_b) + h)
* ``latent_model='clipped-PLRNN'``: z' = A z + W sum_b alpha_b (relu(n(z) + theta_b) - relu(n(z))) + h
  (no state clipping in this step)

  where n(z) = z - mean(z) if ``mean_centering`` (``layer_norm`` in older versions) else z,
  and clip(.) = clamp to [-clip_range, clip_range] unless ``clip_range`` is None.
  The key sets of dendr-PLRNN and clipped-PLRNN are identical, so the hyperparameters (or an
  explicit kind) are needed to tell them apart.

  - theta -> H = -theta (the project's relu(z - H[:, k]) convention, exact negation);
  - clipped-PLRNN -> ``dendplrnn`` with one more basis at H = 0 carrying -sum_b alpha_b
    (or one such basis per alpha_b when that float64 sum would round);
  - mean-centring is linear inside the ReLU: relu(n(z) + theta) = relu(C z + theta) with
    C = I - 11^T / M, so such a model *is* ReLU-affine and becomes kind ``relu-affine`` whose
    C entries are exact rationals written as "p/q" strings (1/M is no binary64 number);
  - state clipping (``clip_range`` not None, PLRNN and dendr-PLRNN steps) composes a second
    ReLU layer after the first: its kinks lie on the bent surfaces g_i(z) = +-clip_range, not on
    hyperplanes, so the map is not of the canonical form and is refused.

Python ALRNN (``ALRNN-DSR/alrnn_python``): keys ``A`` (M), ``W`` (M x M), ``h`` (M), ``B``
(N x M). z' = A z + W [z_1..z_{M-P}, relu(z_{M-P+1..M})] + h, W's diagonal kept. ``B`` is the
*encoder* of the initial state (z0 = x B); the readout is the first N units, so the
observation returned is [I_N 0]. P is not stored in the file: it comes from the caller, from
hyperparameters beside the file (``P``/``pwl_units``), or from an ``m<M>_p<P>`` file name whose
M matches the checkpoint.

Shallow PLRNN state dicts: ``A``, ``W1``, ``W2``, ``h1``, ``h2`` (also ``W₁``...); the inner
layer is the weight of shape H x M (names may be swapped in some files); plain vs clipped
comes from the kind argument or the hyperparameters.

Julia BSON checkpoints (GTF-shPLRNN, ALRNN-DSR): ``model = [latent_model, observation_model]``
with positional struct fields: PLRNN {A, W, h, C}, mcPLRNN (mean-centred, as above),
dendPLRNN / clippedDendPLRNN {A, W, h, α, H, C} (relu(z - H)), FCDendPLRNN {A, W (B x M x M), h,
H, C} (-> ``relu-affine``), shallowPLRNN / clippedShallowPLRNN {A, W₁, W₂, h₁, h₂, C}, ALRNN
{A, W, h, P}; observation Affine {B, b, use_bias} or Identity {B, b, use_bias, L}. A non-empty
external-input matrix C makes the dynamics input-driven: refused (only autonomous maps are
analysed).
"""
from __future__ import annotations

import ast
import json
import os
import re
from fractions import Fraction

import numpy as np

from ._common import CheckpointProblem, exact_float64, exact_sum
from .bson import JuliaStruct

KIND_ALIASES = {
    "plrnn": "plrnn", "vanilla": "plrnn", "vanillaplrnn": "plrnn",
    "dendplrnn": "dendplrnn", "dendrplrnn": "dendplrnn", "dendriticplrnn": "dendplrnn",
    "clippeddendplrnn": "clipped-dendplrnn", "clippedplrnn": "clipped-dendplrnn",
    "clippeddendrplrnn": "clipped-dendplrnn",
    "shplrnn": "shplrnn", "shallowplrnn": "shplrnn",
    "clippedshplrnn": "clipped-shplrnn", "clippedshallowplrnn": "clipped-shplrnn",
    "alrnn": "alrnn",
}
KIND_CHOICES = ("plrnn", "dendplrnn", "clipped-dendplrnn", "shplrnn", "clipped-shplrnn", "alrnn")


def normalize_kind(kind: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", kind.lower())
    if key not in KIND_ALIASES:
        raise CheckpointProblem(
            f"unknown kind {kind!r} for a checkpoint (choose one of {', '.join(KIND_CHOICES)})"
        )
    return KIND_ALIASES[key]


# ----------------------------------------------------------------------------- hypers

_HYPER_FILES = ("hypers.pkl", "hypers.json", "hypers.txt", "args.json", "args.pkl",
                "hyperparameters.json")


def _parse_txt_hypers(text: str) -> dict:
    out = {}
    for line in text.splitlines()[:2000]:
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        key = parts[0]
        raw = parts[1].strip() if len(parts) > 1 else ""
        val: object = raw
        if len(raw) <= 200:
            try:
                val = ast.literal_eval(raw)
            except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
                val = raw
        out[key] = val
    return out


def find_hypers(path: str) -> tuple[dict | None, str | None]:
    """Hyperparameters stored beside *path* (same folder, then its parent)."""
    from .torchzip import read_plain_pickle

    here = os.path.dirname(os.path.abspath(path))
    for folder in (here, os.path.dirname(here)):
        for fname in _HYPER_FILES:
            f = os.path.join(folder, fname)
            if not os.path.isfile(f):
                continue
            try:
                with open(f, "rb") as fh:
                    data = fh.read(8 * 2**20 + 1)
            except OSError:
                continue
            if len(data) > 8 * 2**20:
                continue
            if fname.endswith(".pkl"):
                d = read_plain_pickle(data, what=f"hyperparameter file {f}")
            elif fname.endswith(".json"):
                try:
                    d = json.loads(data.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise CheckpointProblem(f"hyperparameter file {f} is not valid JSON") from None
            else:
                try:
                    d = _parse_txt_hypers(data.decode("utf-8"))
                except UnicodeDecodeError:
                    raise CheckpointProblem(f"hyperparameter file {f} is not UTF-8 text") from None
            if isinstance(d, dict):
                return d, f
    return None, None


def _hyper(h: dict | None, *names):
    if not h:
        return None
    for n in names:
        if n in h:
            return h[n]
    return None


def _as_int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


# ----------------------------------------------------------------------------- helpers

def _shape_err(key: str, arr, expect: str):
    raise CheckpointProblem(f"key '{key}' has shape {tuple(np.shape(arr))}, expected {expect}")


def _vec(arr, key, n=None) -> np.ndarray:
    a = exact_float64(arr, key)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        _shape_err(key, a, f"({n},)" if n is not None else "a vector")
    return a


def _mat(arr, key, rows=None, cols=None) -> np.ndarray:
    a = exact_float64(arr, key)
    if a.ndim != 2 or (rows is not None and a.shape[0] != rows) or (cols is not None and a.shape[1] != cols):
        _shape_err(key, a, f"({rows if rows is not None else 'rows'}, {cols if cols is not None else 'cols'})")
    return a


def _diag_A(arr, key, n=None) -> np.ndarray:
    """A as a vector (diagonal) or a full square matrix."""
    a = exact_float64(arr, key)
    if a.ndim == 1 and (n is None or a.shape[0] == n):
        return a
    if a.ndim == 2 and a.shape[0] == a.shape[1] and (n is None or a.shape[0] == n):
        return a
    _shape_err(key, a, f"({n},) or ({n}, {n})" if n else "a vector or square matrix")


def _clipped_to_dend(alpha: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_b alpha_b (relu(z - H_b) - relu(z)) as plain bases: add relu(z) with -sum alpha."""
    total, exact = exact_sum(alpha)
    n = H.shape[0]
    if exact:
        if total == 0.0:
            return alpha, H
        return np.append(alpha, -total), np.hstack([H, np.zeros((n, 1))])
    return np.concatenate([alpha, -alpha]), np.hstack([H, np.zeros((n, alpha.shape[0]))])


def _rational_array(values: list, shape: tuple) -> np.ndarray:
    """Fractions -> float64 array if every entry is a binary64 number, else "p/q" strings."""
    if all(Fraction(float(v)) == v for v in values):
        return np.array([float(v) for v in values], dtype=np.float64).reshape(shape)
    out = np.empty(len(values), dtype=object)
    out[:] = [f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator) for v in values]
    return out.reshape(shape)


def _mean_centred(A, W, h, alpha=None, H=None, clipped=False) -> dict:
    """relu-affine form of a mean-centred (d)PLRNN; H in the relu(u - H) convention."""
    n = h.shape[0]
    Afull = np.diag(A) if A.ndim == 1 else A
    Cc = [Fraction(int(i == j)) - Fraction(1, n) for i in range(n) for j in range(n)]
    if alpha is None:
        B = W.copy()
        C = _rational_array(Cc, (n, n))
        d = np.zeros(n)
    else:
        if clipped:
            alpha, H = _clipped_to_dend(alpha, H)
        K = alpha.shape[0]
        Bf = []
        for i in range(n):
            row = []
            for k in range(K):
                ak = Fraction(float(alpha[k]))
                row.extend(Fraction(float(w)) * ak for w in W[i])
            Bf.extend(row)
        B = _rational_array(Bf, (n, n * K))
        C = _rational_array(Cc * K, (n * K, n))
        d = np.concatenate([-H[:, k] for k in range(K)]) if K else np.zeros(0)
    return {"kind": "relu-affine", "A": Afull, "B": B, "C": C, "d": d, "e": h.copy()}


def _observation(B, b=None) -> dict:
    B = np.asarray(B, dtype=np.float64)
    return {"B": B, "b": np.zeros(B.shape[0]) if b is None else np.asarray(b, dtype=np.float64)}


_P_FROM_NAME = re.compile(r"(?<![a-z0-9])m(\d+)[_\-]?p(\d+)(?![0-9])")


def _p_from_name(path: str, M: int):
    here = os.path.abspath(path)
    for part in (os.path.basename(here), os.path.basename(os.path.dirname(here))):
        for m in _P_FROM_NAME.finditer(part.lower()):
            if int(m.group(1)) == M:
                return int(m.group(2)), part
    return None, None


# ----------------------------------------------------------------------------- state dicts

def _flatten(obj, prefix: str, out: dict, depth: int = 0):
    if depth > 8:
        return
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out, depth + 1)


_SUBSCRIPTS = str.maketrans({"₁": "1", "₂": "2"})


def _split(key: str) -> tuple[str, str]:
    i = key.rfind(".")
    return (key[: i + 1], key[i + 1:]) if i >= 0 else ("", key)


def _keys_summary(arrays: dict) -> str:
    items = [f"{k} {tuple(v.shape)}" for k, v in list(arrays.items())[:12]]
    more = f", ... ({len(arrays)} tensors)" if len(arrays) > 12 else ""
    return ", ".join(items) + more


def state_dict_model(obj, path: str, kind: str | None, P: int | None) -> dict:
    arrays: dict[str, np.ndarray] = {}
    _flatten(obj, "", arrays)
    if not arrays:
        what = f"keys {', '.join(map(str, list(obj)[:12]))}" if isinstance(obj, dict) and obj else type(obj).__name__
        raise CheckpointProblem(f"the checkpoint holds no tensors (found {what})")
    groups: dict[str, dict[str, str]] = {}
    for k in arrays:
        pre, last = _split(k)
        groups.setdefault(pre, {})[last.translate(_SUBSCRIPTS)] = k
    cands = []
    for pre, g in groups.items():
        if "AW" in g:
            cands.append(("dend", pre))
        elif {"A", "W1", "W2"} <= set(g):
            cands.append(("shallow", pre))
        elif {"A", "W", "h"} <= set(g):
            cands.append(("awh", pre))
    if kind is not None:
        fits = {"plrnn": ("dend", "awh"), "dendplrnn": ("dend",), "clipped-dendplrnn": ("dend",),
                "shplrnn": ("shallow",), "clipped-shplrnn": ("shallow",), "alrnn": ("awh",)}[kind]
        matching = [c for c in cands if c[0] in fits]
        if not matching and cands:
            raise CheckpointProblem(
                f"kind '{kind}' was requested but the keys ({_keys_summary(arrays)}) have another layout"
            )
        cands = matching
    if not cands:
        raise CheckpointProblem(
            f"unknown key layout: found {_keys_summary(arrays)}; expected a dendPLRNN "
            "(latent_model.latent_step.AW, h, alphas, thetas), an ALRNN/PLRNN (A, W, h) or a "
            "shallow PLRNN (A, W1, W2, h1, h2)"
        )
    if len(cands) > 1:
        raise CheckpointProblem(
            f"the checkpoint holds several models (under {', '.join(repr(p or '<top>') for _, p in cands)}); "
            "save just one state dict"
        )
    layout, pre = cands[0]
    g = {last: arrays[full] for last, full in groups[pre].items()}
    full = {last: fullkey for last, fullkey in groups[pre].items()}
    if layout == "dend":
        hypers, hfile = find_hypers(path)
        return _dend_repo(g, full, pre, arrays, path, kind, hypers, hfile)
    if layout == "shallow":
        return _shallow_sd(g, full, path, kind)
    return _awh(g, full, path, kind, P)


def _dend_repo(g, full, pre, arrays, path, kind, hypers, hfile) -> dict:
    AW = exact_float64(g["AW"], full["AW"])
    if AW.ndim != 2 or AW.shape[0] != AW.shape[1]:
        _shape_err(full["AW"], AW, "a square M x M matrix")
    M = AW.shape[0]
    if "h" not in g:
        raise CheckpointProblem(f"key '{pre}h' is missing (found {', '.join(full.values())})")
    h = _vec(g["h"], full["h"], M)
    A = np.diag(AW).copy()
    W = AW - np.diag(A)
    has_basis = "alphas" in g or "thetas" in g
    if has_basis and not ("alphas" in g and "thetas" in g):
        miss = "alphas" if "alphas" not in g else "thetas"
        raise CheckpointProblem(f"key '{pre}{miss}' is missing (found {', '.join(full.values())})")
    py_kind = {"plrnn": "PLRNN", "dendplrnn": "dendr-PLRNN", "clipped-dendplrnn": "clipped-PLRNN"}.get(kind or "")
    h_kind = _hyper(hypers, "latent_model")
    if isinstance(h_kind, str) and h_kind not in ("PLRNN", "dendr-PLRNN", "clipped-PLRNN"):
        raise CheckpointProblem(f"{hfile} names latent_model {h_kind!r}, which this reader does not know")
    if py_kind and h_kind and py_kind != h_kind:
        raise CheckpointProblem(f"kind '{kind}' was requested but {hfile} says latent_model = {h_kind!r}")
    py_kind = py_kind or h_kind
    if py_kind is None:
        raise CheckpointProblem(
            "a dendPLRNN-repository checkpoint without hypers.pkl/hypers.txt beside it does not say "
            "which latent model (PLRNN, dendr-PLRNN or clipped-PLRNN) nor whether mean_centering or "
            "clip_range were used; keep the hyperparameter file next to it, or pass kind='plrnn', "
            "'dendplrnn' or 'clipped-dendplrnn' (which asserts no mean-centring and no state clipping)"
        )
    if (py_kind == "PLRNN") == has_basis:
        raise CheckpointProblem(
            f"latent model {py_kind} does not match the keys ({', '.join(full.values())})"
        )
    mc = _hyper(hypers, "mean_centering", "layer_norm")
    clip = _hyper(hypers, "clip_range")
    if py_kind in ("PLRNN", "dendr-PLRNN") and clip is not None and clip is not False:
        raise CheckpointProblem(
            f"the model was trained with clip_range = {clip} ({hfile}): the authors' {py_kind} step "
            f"clamps every new state to [-{clip}, {clip}], i.e. f(z) = clip(g(z)) with g ReLU-affine, "
            "whose kinks lie on the bent surfaces g_i(z) = +-clip_range rather than on hyperplanes, so "
            "the map is not of the canonical form A z + B relu(C z + d) + e and cannot be analysed exactly"
        )
    obs = None
    root = pre[: -len("latent_model.latent_step.")] if pre.endswith("latent_model.latent_step.") else None
    okey = None
    if root is not None and f"{root}output_layer.weight" in arrays:
        okey = f"{root}output_layer.weight"
    else:
        hits = [k for k in arrays if k.endswith("output_layer.weight")]
        okey = hits[0] if len(hits) == 1 else None
    if okey is not None:
        OB = _mat(arrays[okey], okey, cols=M)
        bkey = okey[: -len("weight")] + "bias"
        ob = _vec(arrays[bkey], bkey, OB.shape[0]) if bkey in arrays else None
        obs = _observation(OB, ob)
    if py_kind != "PLRNN":
        alpha = _vec(g["alphas"], full["alphas"])
        K = alpha.shape[0]
        theta = _mat(g["thetas"], full["thetas"], M, K)
        H = -theta
    if mc:
        if py_kind == "PLRNN":
            out = _mean_centred(A, W, h)
        else:
            out = _mean_centred(A, W, h, alpha, H, clipped=(py_kind == "clipped-PLRNN"))
    elif py_kind == "PLRNN":
        out = {"kind": "plrnn", "A": A, "W": W, "h": h}
    else:
        if py_kind == "clipped-PLRNN":
            alpha, H = _clipped_to_dend(alpha, H)
        out = {"kind": "dendplrnn", "A": A, "W": W, "h": h, "alpha": alpha, "H": H}
    if obs is not None:
        out["observation"] = obs
    return out


def _shallow_parts(A, W1, W2, h1, h2, keys) -> dict:
    """Order (outer, inner) by shape: the inner weight is H x M, M = len(A)."""
    M = A.shape[0]
    k_W1, k_W2, k_h1, k_h2 = keys
    for a, k in ((W1, k_W1), (W2, k_W2)):
        if a.ndim != 2 or M not in a.shape:
            _shape_err(k, a, f"M x H or H x M with M = {M}")
    if W1.shape[0] == M and W2.shape[1] == M and W1.shape[1] == W2.shape[0]:
        outer, inner = W1, W2
    elif W2.shape[0] == M and W1.shape[1] == M and W2.shape[1] == W1.shape[0]:
        outer, inner = W2, W1  # swapped names
    else:
        raise CheckpointProblem(
            f"weights '{k_W1}' {W1.shape} and '{k_W2}' {W2.shape} do not form an M x H / H x M pair with M = {M}"
        )
    Hh = inner.shape[0]
    for a, k in ((h1, k_h1), (h2, k_h2)):
        if a.ndim != 1 or a.shape[0] not in (M, Hh):
            _shape_err(k, a, f"({M},) or ({Hh},)")
    if Hh == M:
        # shapes cannot tell: keep the pairing of the names (W2/h2 inner unless W1 was)
        hin, hout = (h2, h1) if inner is W2 else (h1, h2)
    elif h1.shape[0] == Hh and h2.shape[0] == M:
        hin, hout = h1, h2
    elif h2.shape[0] == Hh and h1.shape[0] == M:
        hin, hout = h2, h1
    else:
        raise CheckpointProblem(f"biases '{k_h1}' {h1.shape} and '{k_h2}' {h2.shape} do not match M = {M}, H = {Hh}")
    return {"A": A, "W1": outer, "W2": inner, "h1": hout, "h2": hin}


def _shallow_sd(g, full, path, kind) -> dict:
    for need in ("h1", "h2"):
        if need not in g:
            raise CheckpointProblem(f"key '{need}' is missing (found {', '.join(full.values())})")
    A = _diag_A(g["A"], full["A"])  # a vector (diagonal) or a full matrix, kept as is
    parts = _shallow_parts(
        A if A.ndim == 1 else np.diag(A),
        exact_float64(g["W1"], full["W1"]), exact_float64(g["W2"], full["W2"]),
        exact_float64(g["h1"], full["h1"]), exact_float64(g["h2"], full["h2"]),
        (full["W1"], full["W2"], full["h1"], full["h2"]),
    )
    parts["A"] = A
    if kind is None:
        hypers, _ = find_hypers(path)
        name = _hyper(hypers, "model", "latent_model", "model_type")
        if isinstance(name, str) and re.search(r"sh|shallow", name, re.I):
            kind = "clipped-shplrnn" if "clip" in name.lower() else "shplrnn"
        else:
            raise CheckpointProblem(
                "a shallow PLRNN state dict does not say whether it is the plain or the clipped "
                "variant (the keys are the same); pass kind='shplrnn' or kind='clipped-shplrnn'"
            )
    return {"kind": kind, **parts}


def _awh(g, full, path, kind, P) -> dict:
    h = _vec(g["h"], full["h"])
    M = h.shape[0]
    A = _diag_A(g["A"], full["A"], M)
    W = _mat(g["W"], full["W"], M, M)
    if kind == "plrnn":
        return {"kind": "plrnn", "A": A, "W": W, "h": h}
    source = "the P argument"
    if P is None:
        hypers, hfile = find_hypers(path)
        hp = _as_int(_hyper(hypers, "P", "pwl_units", "num_relus", "n_relus", "p"))
        if hp is not None:
            P, source = hp, hfile
    if P is None:
        P, part = _p_from_name(path, M)
        source = f"the name '{part}'"
    if P is None:
        raise CheckpointProblem(
            f"an A, W, h checkpoint (M = {M}) is an ALRNN whose number P of ReLU units is not stored "
            "in the file; pass P (or kind='plrnn' for a PLRNN with ReLU on every unit)"
        )
    if not 0 <= P <= M:
        raise CheckpointProblem(f"P = {P} from {source} is outside 0..M = {M}")
    out = {"kind": "alrnn", "A": A, "W": W, "h": h, "P": int(P)}
    if "B" in g:
        B = exact_float64(g["B"], full["B"])
        if B.ndim == 2 and B.shape[1] == M and B.shape[0] <= M:
            # B (N x M) encodes the initial state (z0 = x B); the readout is z[:N]
            N = B.shape[0]
            out["observation"] = _observation(np.hstack([np.eye(N), np.zeros((N, M - N))]))
    return out


# ----------------------------------------------------------------------------- Julia

_JULIA_KINDS = {
    "PLRNN": "plrnn", "mcPLRNN": "plrnn", "dendPLRNN": "dendplrnn",
    "clippedDendPLRNN": "clipped-dendplrnn", "FCDendPLRNN": None,
    "shallowPLRNN": "shplrnn", "clippedShallowPLRNN": "clipped-shplrnn", "ALRNN": "alrnn",
}
_JULIA_OBS = ("Affine", "Identity")


def _structs(x, depth=0) -> list:
    if depth > 3:
        return []
    if isinstance(x, JuliaStruct):
        return [x]
    if isinstance(x, (list, tuple)):
        return [s for v in x for s in _structs(v, depth + 1)]
    if isinstance(x, np.ndarray) and x.dtype == object:
        return [s for v in x.ravel().tolist() for s in _structs(v, depth + 1)]
    return []


def _field(s: JuliaStruct, i: int, label: str):
    if i >= len(s.fields):
        raise CheckpointProblem(f"Julia struct {s.name} has {len(s.fields)} fields; field {i + 1} ({label}) is missing")
    return s.fields[i]


def _jarr(s, i, label):
    v = _field(s, i, label)
    if not isinstance(v, np.ndarray) or v.dtype == object:
        raise CheckpointProblem(f"field {label} of the Julia {s.name} is {type(v).__name__}, not a numeric array")
    return exact_float64(v, f"{s.name}.{label}")


def _no_inputs(s, i):
    if i < len(s.fields) and s.fields[i] is not None:
        C = s.fields[i]
        shape = tuple(np.shape(C)) if isinstance(C, np.ndarray) else type(C).__name__
        raise CheckpointProblem(
            f"the Julia {s.name} has an external-input matrix C {shape}, so its dynamics depend on an "
            "input sequence; only autonomous maps (C = nothing) can be analysed"
        )


def julia_model(root: dict, path: str, kind: str | None, P: int | None) -> dict:
    found = _structs(root.get("model")) if "model" in root else []
    if not found:
        for k, v in root.items():
            found.extend(_structs(v))
    latent = [s for s in found if s.name in _JULIA_KINDS]
    if not latent:
        names = sorted({s.name for s in found}) or ["none"]
        raise CheckpointProblem(
            f"no supported latent model in the BSON file (structs found: {', '.join(names)}; keys: "
            f"{', '.join(map(str, root))}); supported: {', '.join(_JULIA_KINDS)}"
        )
    if len(latent) > 1:
        raise CheckpointProblem(f"the BSON file holds several latent models ({', '.join(s.name for s in latent)})")
    s = latent[0]
    natural = _JULIA_KINDS[s.name]
    if kind is not None and kind != natural:
        raise CheckpointProblem(f"kind '{kind}' was requested but the file holds a Julia {s.name}")
    A = _jarr(s, 0, "A")
    if A.ndim != 1:
        _shape_err(f"{s.name}.A", A, "a vector")
    M = A.shape[0]
    if s.name in ("shallowPLRNN", "clippedShallowPLRNN"):
        parts = _shallow_parts(
            A, _jarr(s, 1, "W₁"), _jarr(s, 2, "W₂"), _jarr(s, 3, "h₁"), _jarr(s, 4, "h₂"),
            tuple(f"{s.name}.{f}" for f in ("W₁", "W₂", "h₁", "h₂")),
        )
        _no_inputs(s, 5)
        out = {"kind": natural, **parts}
    elif s.name == "ALRNN":
        W = _jarr(s, 1, "W")
        h = _jarr(s, 2, "h")
        if W.shape != (M, M):
            _shape_err(f"{s.name}.W", W, f"({M}, {M})")
        if h.shape != (M,):
            _shape_err(f"{s.name}.h", h, f"({M},)")
        Pf = _as_int(_field(s, 3, "P"))
        if Pf is None or not 0 <= Pf <= M:
            raise CheckpointProblem(f"field P of the Julia ALRNN is {_field(s, 3, 'P')!r}, not an integer in 0..{M}")
        if P is not None and P != Pf:
            raise CheckpointProblem(f"P = {P} was given but the Julia ALRNN stores P = {Pf}")
        out = {"kind": "alrnn", "A": A, "W": W, "h": h, "P": Pf}
    elif s.name == "FCDendPLRNN":
        W = _jarr(s, 1, "W")
        h = _jarr(s, 2, "h")
        H = _jarr(s, 3, "H")
        if W.ndim != 3 or W.shape[1:] != (M, M):
            _shape_err(f"{s.name}.W", W, f"(B, {M}, {M})")
        K = W.shape[0]
        if H.shape != (M, K):
            _shape_err(f"{s.name}.H", H, f"({M}, {K})")
        if h.shape != (M,):
            _shape_err(f"{s.name}.h", h, f"({M},)")
        _no_inputs(s, 4)
        # z' = A z + sum_{b,k} W[b, :, k] relu(z_k - H[k, b]) + h
        B = np.hstack([W[b] for b in range(K)]) if K else np.zeros((M, 0))
        C = np.vstack([np.eye(M)] * K) if K else np.zeros((0, M))
        d = np.concatenate([-H[:, b] for b in range(K)]) if K else np.zeros(0)
        out = {"kind": "relu-affine", "A": np.diag(A), "B": B, "C": C, "d": d, "e": h}
    else:
        W = _jarr(s, 1, "W")
        h = _jarr(s, 2, "h")
        if W.shape != (M, M):
            _shape_err(f"{s.name}.W", W, f"({M}, {M})")
        if h.shape != (M,):
            _shape_err(f"{s.name}.h", h, f"({M},)")
        if s.name in ("PLRNN", "mcPLRNN"):
            _no_inputs(s, 3)
            out = _mean_centred(A, W, h) if s.name == "mcPLRNN" else {"kind": "plrnn", "A": A, "W": W, "h": h}
        else:
            alpha = _jarr(s, 3, "α")
            if alpha.ndim != 1:
                _shape_err(f"{s.name}.α", alpha, "a vector")
            H = _jarr(s, 4, "H")
            if H.shape != (M, alpha.shape[0]):
                _shape_err(f"{s.name}.H", H, f"({M}, {alpha.shape[0]})")
            _no_inputs(s, 5)
            if s.name == "clippedDendPLRNN":
                alpha, H = _clipped_to_dend(alpha, H)
            out = {"kind": "dendplrnn", "A": A, "W": W, "h": h, "alpha": alpha, "H": H}
    obs = [o for o in found if o.name in _JULIA_OBS]
    if obs:
        o = obs[0]
        OB = _jarr(o, 0, "B")
        if OB.ndim != 2 or OB.shape[1] != M:
            _shape_err(f"{o.name}.B", OB, f"(N, {M})")
        use_bias = len(o.fields) > 2 and o.fields[2] is True
        ob = None
        if use_bias:
            ob = _jarr(o, 1, "b")
            if ob.shape != (OB.shape[0],):
                _shape_err(f"{o.name}.b", ob, f"({OB.shape[0]},)")
        out["observation"] = _observation(OB, ob)
    return out
