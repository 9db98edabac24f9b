"""Model files and the canonical ReLU-affine form (DESIGN §3).

Every supported network is turned into

    f(z) = A z + B relu(C z + d) + e,      z in R^n,  C in R^{L x n}

with exact rational entries (flint ``fmpq_mat``). The hyperplanes {C_k z + d_k = 0} are
reduced so that the region logic never sees degenerate rows:

* a zero row (C_k = 0) is a constant: B_k relu(d_k) moves into e;
* parallel rows with the same hyperplane are merged: for C_j z + d_j = lam (C_k z + d_k),
  relu(lam y) = lam relu(y) if lam > 0 and |lam| (relu(y) - y) if lam < 0, so the unit
  becomes a multiple of unit k plus an affine term (this covers duplicate, opposite and
  clipped units, |x| = relu(x) + relu(-x));
* a hyperplane whose merged outgoing column is zero is no kink at all and is dropped.

``model.units`` records which original units make up each canonical hyperplane.

>>> m = model_from_dict({"kind": "plrnn", "A": [[-1.7, 1], [0.5, 0]],
...                      "W": [[3.4, 0], [0, 0]], "h": [1, 0]})
>>> m.n, m.L          # the second unit has no outgoing weight: no kink
(2, 1)
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import flint
import numpy as np

from .errors import ModelError
from .rationals import column, fraction_str, matrix, rows_of, to_float, to_fraction, vector_of

__all__ = ["KINDS", "ReluAffineMap", "model_from_dict", "model_to_dict", "load_model", "save_model"]

KINDS = ("plrnn", "shplrnn", "clipped-shplrnn", "alrnn", "dendplrnn", "relu-affine")

_PARAMS = {
    "plrnn": ("A", "W", "h"),
    "shplrnn": ("A", "W1", "W2", "h1", "h2"),
    "clipped-shplrnn": ("A", "W1", "W2", "h1", "h2"),
    "alrnn": ("A", "W", "h", "P"),
    "dendplrnn": ("A", "W", "h", "alpha", "H"),
    "relu-affine": ("A", "B", "C", "d", "e"),
}


# ----------------------------------------------------------------------------- parsing

def _shape_of(x) -> tuple[int, ...] | None:
    """Shape of a nested list / array of scalars, None if ragged."""
    if isinstance(x, np.ndarray):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        if not x:
            return (0,)
        subs = [_shape_of(v) for v in x]
        if any(s is None for s in subs) or len(set(subs)) != 1:
            return None
        return (len(x),) + subs[0]
    return ()


def _exact_array(value, key: str, shape: tuple[int, ...], expect: str) -> list:
    """Nested lists of Fractions of the given shape, or ModelError naming the key."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        value = value.tolist()
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
        raise ModelError(f"key '{key}': expected numbers, got an array of dtype {value.dtype}")
    got = _shape_of(value)
    if got == (0,) and len(shape) == 2 and shape[0] == 0:
        return []
    if got is None:
        raise ModelError(f"key '{key}': ragged array; expected shape {shape} ({expect})")
    if got != shape:
        raise ModelError(f"key '{key}': expected shape {shape} ({expect}), got {got}")
    if not shape:
        flat = [value]
    elif isinstance(value, np.ndarray):
        flat = value.reshape(-1).tolist()
    else:
        flat = np.asarray(value, dtype=object).reshape(-1).tolist()
    vals = []
    for i, v in enumerate(flat):
        idx = np.unravel_index(i, shape) if shape else ()
        where = f"key '{key}'" + (f" entry {list(map(int, idx))}" if shape else "")
        vals.append(to_fraction(v, where))
    if not shape:
        return vals[0]
    arr = np.array(vals, dtype=object).reshape(shape)
    return arr.tolist()


def _vector_len(value, key: str) -> int:
    s = _shape_of(value)
    if s is None or len(s) != 1:
        raise ModelError(f"key '{key}': expected a vector (1-D list of numbers), got shape {s}")
    return s[0]


def _matrix_shape(value, key: str) -> tuple[int, int]:
    s = _shape_of(value)
    if s == (0,):
        raise ModelError(f"key '{key}': empty matrix")
    if s is None or len(s) != 2:
        raise ModelError(f"key '{key}': expected a matrix (list of rows), got shape {s}")
    return s


def _require(d: dict, kind: str) -> None:
    missing = [k for k in _PARAMS[kind] if k not in d]
    if missing:
        raise ModelError(
            f"model of kind '{kind}' is missing key '{missing[0]}' (needs {', '.join(_PARAMS[kind])})"
        )


def _diag_or_full(value, n: int, key: str = "A") -> list[list[Fraction]]:
    s = _shape_of(value)
    if s == (n,):
        v = _exact_array(value, key, (n,), "vector of length n = diagonal")
        return [[v[i] if i == j else Fraction(0) for j in range(n)] for i in range(n)]
    if s is not None and len(s) == 2:
        return _exact_array(value, key, (n, n), f"n x n with n = {n}, or a vector of length {n}")
    raise ModelError(f"key '{key}': expected shape ({n},) or ({n}, {n}), got {s}")


def _canonical_raw(kind: str, d: dict) -> tuple[dict, tuple]:
    """Exact parameters of the file (for round trips) and the raw (A, B, C, d, e) lists."""
    _require(d, kind)
    Z = Fraction(0)
    if kind == "relu-affine":
        n, n2 = _matrix_shape(d["A"], "A")
        L = _vector_len(d["d"], "d")
        A = _exact_array(d["A"], "A", (n, n), "n x n")
        B = _exact_array(d["B"], "B", (n, L), f"n x L with n = {n}, L = {L} from 'd'")
        C = _exact_array(d["C"], "C", (L, n), f"L x n with L = {L}, n = {n}")
        dd = _exact_array(d["d"], "d", (L,), "L")
        e = _exact_array(d["e"], "e", (n,), f"n = {n}")
        params = {"A": A, "B": B, "C": C, "d": dd, "e": e}
        return params, (A, B, C, dd, e)
    if kind in ("plrnn", "alrnn", "dendplrnn"):
        n = _vector_len(d["h"], "h")
        h = _exact_array(d["h"], "h", (n,), "vector of length n")
        A = _diag_or_full(d["A"], n)
        W = _exact_array(d["W"], "W", (n, n), f"n x n with n = {n} from 'h'")
        params = {"A": A, "W": W, "h": h}
        if kind == "plrnn":
            C = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
            return params, (A, W, C, [Z] * n, h)
        if kind == "alrnn":
            P = d["P"]
            if isinstance(P, np.ndarray) and P.shape == ():
                P = P.item()
            if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 0 <= int(P) <= n:
                raise ModelError(f"key 'P': expected an integer between 0 and n = {n}, got {P!r}")
            P = int(P)
            params["P"] = P
            lin = n - P
            A2 = [[A[i][j] + (W[i][j] if j < lin else Z) for j in range(n)] for i in range(n)]
            B = [[W[i][j] for j in range(lin, n)] for i in range(n)]
            C = [[Fraction(int(j == lin + k)) for j in range(n)] for k in range(P)]
            return params, (A2, B, C, [Z] * P, h)
        # dendplrnn: W sum_k alpha_k relu(z - H[:, k])
        K = _vector_len(d["alpha"], "alpha")
        alpha = _exact_array(d["alpha"], "alpha", (K,), "vector of K bases")
        H = _exact_array(d["H"], "H", (n, K), f"n x K with n = {n}, K = {K} from 'alpha'")
        params.update(alpha=alpha, H=H)
        B, C, dd = [[] for _ in range(n)], [], []
        for k in range(K):
            for i in range(n):
                for r in range(n):
                    B[r].append(W[r][i] * alpha[k])
                C.append([Fraction(int(j == i)) for j in range(n)])
                dd.append(-H[i][k])
        return params, (A, B, C, dd, h)
    # shplrnn / clipped-shplrnn
    n = _vector_len(d["h1"], "h1")
    Hh = _vector_len(d["h2"], "h2")
    h1 = _exact_array(d["h1"], "h1", (n,), "vector of length n")
    h2 = _exact_array(d["h2"], "h2", (Hh,), "vector of length H")
    A = _diag_or_full(d["A"], n)
    W1 = _exact_array(d["W1"], "W1", (n, Hh), f"n x H with n = {n} from 'h1', H = {Hh} from 'h2'")
    W2 = _exact_array(d["W2"], "W2", (Hh, n), f"H x n with H = {Hh} from 'h2', n = {n} from 'h1'")
    params = {"A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2}
    if kind == "shplrnn":
        return params, (A, W1, W2, h2, h1)
    B = [row + [-v for v in row] for row in W1]
    return params, (A, B, W2 + W2, h2 + [Z] * Hh, h1)


def _reduce_hyperplanes(A, B, C, dd, e):
    """Merge parallel, drop zero and kink-free hyperplanes (see module docstring)."""
    n = len(A)
    A = [row[:] for row in A]
    e = e[:]
    groups: list[tuple[list[Fraction], Fraction, list[Fraction], list]] = []  # (C_rep, d_rep, Bcol, units)
    for k, (ck, dk) in enumerate(zip(C, dd)):
        bk = [B[i][k] for i in range(n)]
        if all(c == 0 for c in ck):
            r = max(dk, Fraction(0))
            for i in range(n):
                e[i] += bk[i] * r
            continue
        piv = next(j for j, c in enumerate(ck) if c != 0)
        for g in groups:
            crep, drep, bcol, units = g
            if crep[piv] == 0:
                continue
            lam = ck[piv] / crep[piv]
            if all(ck[j] == lam * crep[j] for j in range(len(ck))) and dk == lam * drep:
                a = abs(lam)
                for i in range(n):
                    bcol[i] += a * bk[i]
                if lam < 0:  # relu(lam y) = |lam| relu(y) - |lam| y
                    for i in range(n):
                        coef = a * bk[i]
                        for j in range(len(ck)):
                            A[i][j] -= coef * crep[j]
                        e[i] -= coef * drep
                units.append((k, lam))
                break
        else:
            groups.append((list(ck), dk, bk, [(k, Fraction(1))]))
    kept = [g for g in groups if any(b != 0 for b in g[2])]
    Cr = [g[0] for g in kept]
    dr = [g[1] for g in kept]
    Br = [[g[2][i] for g in kept] for i in range(n)]
    units = tuple(tuple(g[3]) for g in kept)
    return A, Br, Cr, dr, e, units


# ----------------------------------------------------------------------------- the map

@dataclass(eq=False)
class ReluAffineMap:
    """The canonical form f(z) = A z + B relu(C z + d) + e of a model, exact and in floats.

    Exact attributes are flint ``fmpq_mat`` (``d`` and ``e`` are columns); ``Af, Bf, Cf,
    df, ef`` are their nearest floats, for the untrusted vectorised search only.
    """

    kind: str
    name: str
    params: dict
    A: flint.fmpq_mat
    B: flint.fmpq_mat
    C: flint.fmpq_mat
    d: flint.fmpq_mat
    e: flint.fmpq_mat
    units: tuple
    observation: dict | None = None
    Af: np.ndarray = field(init=False, repr=False)
    Bf: np.ndarray = field(init=False, repr=False)
    Cf: np.ndarray = field(init=False, repr=False)
    df: np.ndarray = field(init=False, repr=False)
    ef: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.Af, self.Bf, self.Cf = to_float(self.A), to_float(self.B), to_float(self.C)
        self.df, self.ef = to_float(self.d)[:, 0], to_float(self.e)[:, 0]
        self._jac_cache: dict = {}

    @property
    def n(self) -> int:
        return self.A.nrows()

    @property
    def L(self) -> int:
        return self.C.nrows()

    # -- float (untrusted, vectorised)
    def preact(self, Z: np.ndarray) -> np.ndarray:
        """C z + d for states Z of shape (..., n)."""
        return np.asarray(Z, dtype=float) @ self.Cf.T + self.df

    def f(self, Z: np.ndarray) -> np.ndarray:
        """Float image of states Z of shape (..., n), vectorised."""
        Z = np.asarray(Z, dtype=float)
        return Z @ self.Af.T + np.maximum(Z @ self.Cf.T + self.df, 0.0) @ self.Bf.T + self.ef

    def trajectory(self, z0, steps: int) -> np.ndarray:
        """Float orbit z0, f(z0), ..., shape (steps + 1, ..., n)."""
        out = [np.asarray(z0, dtype=float)]
        for _ in range(steps):
            out.append(self.f(out[-1]))
        return np.stack(out)

    # -- exact
    def f_exact(self, z: Sequence) -> tuple[Fraction, ...]:
        """Exact image of a rational point."""
        zc = column(Fraction(v) for v in z)
        pre = self.C * zc + self.d
        r = column(max(v, 0) for v in vector_of(pre))
        return vector_of(self.A * zc + self.B * r + self.e)

    def jacobian(self, bits: str) -> flint.fmpq_mat:
        """J_s = A + B D_s C for the region with bit string s (1 where C z + d > 0)."""
        J, _ = self.affine_piece(bits)
        return J

    def affine_piece(self, bits: str) -> tuple[flint.fmpq_mat, flint.fmpq_mat]:
        """(J_s, c_s) with f(z) = J_s z + c_s on the closure of region s."""
        hit = self._jac_cache.get(bits)
        if hit is not None:
            return hit
        if len(bits) != self.L or set(bits) - {"0", "1"}:
            raise ValueError(f"region {bits!r} is not a bit string of length L = {self.L}")
        D = flint.fmpq_mat(self.L, self.L)
        for k, b in enumerate(bits):
            if b == "1":
                D[k, k] = 1
        J = self.A + self.B * D * self.C
        c = self.e + self.B * D * self.d
        self._jac_cache[bits] = (J, c)
        return J, c

    def affine_pieces_float(self, bit_array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float (J_s, c_s) for a batch of regions, bit_array of shape (N, L) bool."""
        D = np.asarray(bit_array, dtype=float)
        J = self.Af[None] + np.einsum("il,nl,lj->nij", self.Bf, D, self.Cf)
        c = self.ef[None] + (D * self.df[None]) @ self.Bf.T
        return J, c

    def same_map(self, other: "ReluAffineMap") -> bool:
        """Exact equality of the canonical maps (hyperplane order and scale included)."""
        return all(getattr(self, k) == getattr(other, k) for k in "ABCde")

    def to_dict(self) -> dict:
        return model_to_dict(self)

    def summary(self) -> str:
        return f"{self.name or '(unnamed)'}: kind {self.kind}, n = {self.n}, L = {self.L} hyperplanes"


def model_from_dict(d: dict) -> ReluAffineMap:
    """Validate a model-file dictionary and build its canonical map (raises ModelError)."""
    if not isinstance(d, dict):
        raise ModelError(f"a model must be a JSON object with a 'kind' key, got {type(d).__name__}")
    if "kind" not in d:
        raise ModelError(f"model is missing key 'kind' (one of {', '.join(KINDS)})")
    kind = d["kind"]
    if isinstance(kind, np.ndarray):
        kind = kind.item() if kind.shape == () else kind
    if not isinstance(kind, str) or kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    params, raw = _canonical_raw(kind, d)
    A, B, C, dd, e, units = _reduce_hyperplanes(*raw)
    n = len(A)
    if n == 0:
        raise ModelError("model has dimension n = 0")
    name = d.get("name", "")
    if isinstance(name, np.ndarray):
        name = str(name.item())
    obs = None
    if d.get("observation") is not None:
        o = d["observation"]
        if not isinstance(o, dict) or "B" not in o:
            raise ModelError("key 'observation': expected an object with keys 'B' (m x n) and optional 'b' (m)")
        m, n2 = _matrix_shape(o["B"], "observation.B")
        OB = _exact_array(o["B"], "observation.B", (m, n), f"m x n with n = {n}")
        Ob = _exact_array(o.get("b", [0] * m), "observation.b", (m,), f"m = {m}")
        obs = {"B": OB, "b": Ob}
    return ReluAffineMap(
        kind=kind, name=str(name), params=params,
        A=matrix(A, n, n), B=matrix(B, n, len(C)), C=matrix(C, len(C), n),
        d=column(dd), e=column(e), units=units, observation=obs,
    )


def _exact_json(x):
    if isinstance(x, list):
        return [_exact_json(v) for v in x]
    if isinstance(x, Fraction):
        return fraction_str(x)
    return x


def model_to_dict(model: ReluAffineMap) -> dict:
    """Model-file dictionary with exact ``"p/q"`` strings; ``model_from_dict`` inverts it."""
    out: dict[str, Any] = {"kind": model.kind}
    if model.name:
        out["name"] = model.name
    for k, v in model.params.items():
        out[k] = _exact_json(v)
    if model.observation is not None:
        out["observation"] = {k: _exact_json(v) for k, v in model.observation.items()}
    return out


def canonical_dict(model: ReluAffineMap) -> dict:
    """The reduced canonical form as a ``relu-affine`` model dictionary."""
    return {
        "kind": "relu-affine", "name": model.name,
        "A": _exact_json(rows_of(model.A)), "B": _exact_json(rows_of(model.B)),
        "C": _exact_json(rows_of(model.C)), "d": _exact_json(list(vector_of(model.d))),
        "e": _exact_json(list(vector_of(model.e))),
    }


# ----------------------------------------------------------------------------- files

def _reject_constant(c):
    raise ModelError(f"non-finite number {c} in the model file")


def load_model(path, kind: str | None = None, P: int | None = None) -> ReluAffineMap:
    """Load a model from a JSON or NPZ model file, or a PyTorch/BSON checkpoint.

    *kind* and *P* override what a checkpoint's layout detection would choose.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a directory, not a model file")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if path.endswith(".npz") or head.startswith(b"PK"):
        try:
            from . import checkpoints
        except ImportError:  # pragma: no cover - checkpoint support not installed
            checkpoints = None
        if checkpoints is not None and checkpoints.is_checkpoint(path):
            return model_from_dict(checkpoints.read_checkpoint(path, kind=kind, P=P))
        return _load_npz(path)
    if path.endswith(".bson"):
        from . import checkpoints
        return model_from_dict(checkpoints.read_checkpoint(path, kind=kind, P=P))
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not a text JSON model file (and not a known checkpoint format)") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(d, dict) and kind is not None:
        d = {**d, "kind": kind}
    return model_from_dict(d)


def _load_npz(path: str) -> ReluAffineMap:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{path}: not a readable NPZ model file ({exc})") from None
    for k, v in list(d.items()):
        if v.dtype.kind in "US":
            d[k] = str(v.item()) if v.shape == () else v
    if "observation_B" in d:
        d["observation"] = {"B": d.pop("observation_B"), "b": d.pop("observation_b", None)}
        if d["observation"]["b"] is None:
            del d["observation"]["b"]
    return model_from_dict(d)


def save_model(model: ReluAffineMap, path) -> None:
    """Write the exact model file (JSON) atomically: temporary file, then rename."""
    path = os.fspath(path)
    text = json.dumps(model_to_dict(model), indent=1)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
