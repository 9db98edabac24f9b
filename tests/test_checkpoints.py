"""Checkpoint readers (issue 8): PyTorch zip without torch, Julia BSON.jl, key layouts."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbolic.checkpoints import is_checkpoint, read_checkpoint
from symbolic.checkpoints.torchzip import read_torch_zip
from symbolic.errors import ModelError

from .checkpoint_writers import (
    NEWFALSE, PROTO2, STOP, TorchZipWriter, View, bson_doc, jl_array,
    jl_model_file, jl_struct, latent_struct, obs_struct, op_call, op_global, op_int, op_str,
    op_tuple, write_state_dict, zip_with_pickle,
)

try:  # the canonical-map comparison, once symbolic.models provides it
    from symbolic.models import model_from_dict
except ImportError:  # pragma: no cover
    model_from_dict = None

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
M20 = os.path.join(DATA, "alrnn_lorenz_m20_p2.pt")
M30 = os.path.join(DATA, "alrnn_lorenz_m30_p10.pt")
needs_data = pytest.mark.skipif(
    not (os.path.exists(M20) and os.path.exists(M30)),
    reason="the authors' published checkpoints are not in ../shared/data beside the checkout",
)

rng = np.random.default_rng(8)
f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731


# ----------------------------------------------------------------------------- helpers

def same_model(got: dict, want: dict) -> None:
    """Exact equality of two model dictionaries (and of their canonical maps)."""
    assert got["kind"] == want["kind"]
    for k, v in want.items():
        if k in ("kind", "name"):
            continue
        if k == "observation":
            for kk in ("B", "b"):
                assert np.array_equal(got["observation"][kk], np.asarray(v[kk], dtype=float)), kk
            continue
        if k == "P":
            assert got["P"] == v
            continue
        g = got[k]
        assert g.dtype == np.float64 or g.dtype == object, (k, g.dtype)
        assert np.array_equal(np.asarray(g), np.asarray(v, dtype=np.float64)), k
    assert set(got) - {"name", "observation"} == set(want) - {"name", "observation"}
    if model_from_dict is not None:
        assert model_from_dict(got).same_map(model_from_dict({**want}))


def Fr(x) -> Fraction:
    """Exact value of a float (any width), int, Fraction or "p/q" string."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, str):
        return Fraction(x)
    if isinstance(x, (np.integer, int)):
        return Fraction(int(x))
    return Fraction(float(x))


def relu(x: Fraction) -> Fraction:
    return x if x > 0 else Fraction(0)


def exact_eval(d: dict, z: list) -> list:
    """The map of a model dictionary (DESIGN §3), in exact rationals, written independently."""
    n = len(z)
    z = [Fr(v) for v in z]
    kind = d["kind"]

    def Az(A):
        A = np.asarray(A)
        if A.ndim == 1:
            return [Fr(float(A[i])) * z[i] for i in range(n)]
        return [sum(Fr(A[i, j]) * z[j] for j in range(n)) for i in range(n)]

    def mat(W, v):
        W = np.asarray(W)
        return [sum(Fr(W[i, j]) * v[j] for j in range(W.shape[1])) for i in range(W.shape[0])]

    h = [Fr(float(v)) for v in d.get("h", d.get("h1", d.get("e", [])))]
    if kind == "plrnn":
        phi = [relu(v) for v in z]
        return [a + w + c for a, w, c in zip(Az(d["A"]), mat(d["W"], phi), h)]
    if kind == "alrnn":
        P = d["P"]
        phi = [v if i < n - P else relu(v) for i, v in enumerate(z)]
        return [a + w + c for a, w, c in zip(Az(d["A"]), mat(d["W"], phi), h)]
    if kind == "dendplrnn":
        al, H = np.asarray(d["alpha"]), np.asarray(d["H"])
        phi = [sum(Fr(float(al[k])) * relu(z[i] - Fr(float(H[i, k]))) for k in range(al.shape[0])) for i in range(n)]
        return [a + w + c for a, w, c in zip(Az(d["A"]), mat(d["W"], phi), h)]
    if kind in ("shplrnn", "clipped-shplrnn"):
        u = mat(d["W2"], z)
        h2 = [Fr(float(v)) for v in d["h2"]]
        if kind == "shplrnn":
            r = [relu(a + b) for a, b in zip(u, h2)]
        else:
            r = [relu(a + b) - relu(a) for a, b in zip(u, h2)]
        return [a + w + c for a, w, c in zip(Az(d["A"]), mat(d["W1"], r), h)]
    if kind == "relu-affine":
        pre = [a + Fr(float(b)) for a, b in zip(mat(d["C"], z), d["d"])]
        r = [relu(v) for v in pre]
        return [a + w + c for a, w, c in zip(Az(d["A"]), mat(d["B"], r), h)]
    raise AssertionError(kind)


def rational_points(n: int, count: int = 6, seed: int = 0) -> list:
    g = np.random.default_rng(seed)
    return [[Fraction(int(v), 8) for v in g.integers(-24, 25, n)] for _ in range(count)]


def assert_error(path, match: str | None = None, **kw) -> str:
    with pytest.raises(ModelError) as info:
        read_checkpoint(path, **kw)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert "\n" not in msg and "Traceback" not in msg
    if match is not None:
        assert match.lower() in msg.lower(), msg
    return msg


# ----------------------------------------------------------------------------- real files

@needs_data
def test_published_alrnn_m20_p2_shapes_and_strided_diagonal():
    d = read_checkpoint(M20)
    assert d["kind"] == "alrnn" and d["P"] == 2 and d["name"] == "alrnn_lorenz_m20_p2.pt"
    assert d["A"].shape == (20,) and d["W"].shape == (20, 20) and d["h"].shape == (20,)
    assert all(d[k].dtype == np.float64 for k in "AWh")
    # A is stored as a stride-21 view into a 20 x 20 storage: it is that storage's diagonal
    with zipfile.ZipFile(M20) as zf:
        root = [n for n in zf.namelist() if n.endswith("/data.pkl")][0].split("/")[0]
        storage = np.frombuffer(zf.read(f"{root}/data/0"), dtype="<f4")
    assert storage.size == 400
    diag = np.diag(storage.reshape(20, 20)).astype(np.float64)
    assert np.array_equal(d["A"], diag)
    assert not np.array_equal(d["A"], storage[:20].astype(np.float64))
    # the readout is the first N = 3 units (B is the initial-state encoder, N x M)
    assert np.array_equal(d["observation"]["B"], np.hstack([np.eye(3), np.zeros((3, 17))]))
    assert np.array_equal(d["observation"]["b"], np.zeros(3))


@needs_data
def test_published_alrnn_m30_p10_shapes():
    d = read_checkpoint(M30)
    assert d["kind"] == "alrnn" and d["P"] == 10
    assert d["A"].shape == (30,) and d["W"].shape == (30, 30) and d["h"].shape == (30,)
    assert d["observation"]["B"].shape == (3, 30)
    assert is_checkpoint(M30)


@needs_data
def test_published_alrnn_explicit_P_and_kind(tmp_path):
    d = read_checkpoint(M20, P=2)
    assert d["P"] == 2
    d5 = read_checkpoint(M20, P=5)  # the caller's P wins over the file name
    assert d5["P"] == 5
    dp = read_checkpoint(M20, kind="plrnn")
    assert dp["kind"] == "plrnn" and "P" not in dp
    # copied under a name that does not say P: P must be given
    plain = tmp_path / "checkpoint.pt"
    plain.write_bytes(open(M20, "rb").read())
    msg = assert_error(plain, "pass P")
    assert "M = 20" in msg
    assert read_checkpoint(plain, P=2)["P"] == 2
    # ... or come from hyperparameters stored beside it
    (tmp_path / "args.json").write_text(json.dumps({"model": "ALRNN", "latent_dim": 20, "pwl_units": 2}))
    assert read_checkpoint(plain)["P"] == 2


@needs_data
def test_published_alrnn_canonical_map():
    if model_from_dict is None:
        pytest.skip("symbolic.models.model_from_dict is not available yet")
    m = model_from_dict(read_checkpoint(M20))
    assert m.n == 20 and m.L == 2


# ----------------------------------------------------------------------------- torch zip, byte level

def test_byte_level_alrnn_with_strided_views(tmp_path):
    M, N, P = 6, 2, 3
    AW = f32(M, M)
    Wt = f32(M, M)
    hbig = f32(11)
    B = f32(N, M)
    A_view = View(AW.reshape(-1), 0, (M,), (M + 1,))          # diagonal, stride M + 1
    W_view = View(Wt.reshape(-1), 0, (M, M), (1, M))          # a transpose
    h_view = View(hbig, 5, (M,), (1,))                        # non-zero storage offset
    path = tmp_path / "alrnn_model"
    write_state_dict(path, {"A": A_view, "W": W_view, "h": h_view, "B": B})
    assert is_checkpoint(path)
    d = read_checkpoint(path, P=P)
    want = {"kind": "alrnn", "A": np.diag(AW).astype(float), "W": Wt.T.astype(float),
            "h": hbig[5:11].astype(float), "P": P,
            "observation": {"B": np.hstack([np.eye(N), np.zeros((N, M - N))]), "b": np.zeros(N)}}
    same_model(d, want)
    assert d["name"] == "alrnn_model"
    for z in rational_points(M):
        assert exact_eval(d, z) == exact_eval(want, z)


def test_byte_level_views_share_one_storage(tmp_path):
    flat = f32(40)
    d = {"A": View(flat, 3, (4,), (5,)), "W": View(flat, 1, (4, 4), (4, 1)), "h": View(flat, 30, (4,), (2,))}
    path = tmp_path / "shared.pt"
    w = write_state_dict(path, d)
    assert len(w.storages) == 1
    obj = read_torch_zip(str(path))
    for k, v in d.items():
        assert np.array_equal(obj[k], v.values())
    got = read_checkpoint(path, kind="plrnn")
    assert np.array_equal(got["W"], d["W"].values().astype(float))


def test_byte_level_dtypes_exact(tmp_path):
    M = 3
    A64 = rng.standard_normal(M)                 # float64
    W16 = f32(M, M).astype(np.float16)           # float16
    h32 = f32(M)
    path = tmp_path / "dt.pt"
    write_state_dict(path, {"A": A64, "W": W16, "h": h32})
    d = read_checkpoint(path, kind="plrnn")
    assert np.array_equal(d["A"], A64)
    assert np.array_equal(d["W"], W16.astype(np.float64))
    assert np.array_equal(d["h"], h32.astype(np.float64))


def test_byte_level_bfloat16(tmp_path):
    vals = np.array([1.5, -2.25, 0.0078125, 3.0], dtype=np.float32)
    bits = (vals.view(np.uint32) >> 16).astype(np.uint16)  # exact in bfloat16
    w = TorchZipWriter()
    t = w.tensor(View(bits, 0, (2, 2), (2, 1)), storage_name="BFloat16Storage")
    pk = PROTO2 + op_call(op_global("collections", "OrderedDict")) + b"(" + op_str("x") + t + b"u" + STOP
    path = tmp_path / "bf.pt"
    w.write(path, pickle_bytes=pk)
    obj = read_torch_zip(str(path))
    assert np.array_equal(obj["x"], vals.reshape(2, 2))


def test_byte_level_big_endian_archive(tmp_path):
    A, W, h = f32(3), f32(3, 3), f32(3)
    path = tmp_path / "be.pt"
    write_state_dict(path, {"A": A, "W": W, "h": h}, byteorder="big")
    d = read_checkpoint(path, kind="plrnn")
    assert np.array_equal(d["W"], W.astype(float)) and np.array_equal(d["A"], A.astype(float))


def test_byte_level_parameter_and_plain_dict_and_nesting(tmp_path):
    A, W, h = f32(3), f32(3, 3), f32(3)
    Av = View(A.copy(), 0, (3,), (1,), parameter=True)
    path = tmp_path / "nested.pt"
    w = TorchZipWriter()
    body = w.state_dict({"epoch": 7, "model": {"A": Av, "W": W, "h": h}, "tag": "x", "none": None},
                        ordered=False)
    w.write(path, pickle_bytes=PROTO2 + body + STOP)
    d = read_checkpoint(path, kind="plrnn")
    same_model(d, {"kind": "plrnn", "A": A, "W": W, "h": h})


@st.composite
def strided_tensors(draw):
    ndim = draw(st.integers(0, 3))
    size = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    stride = tuple(draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim)))
    offset = draw(st.integers(0, 6))
    need = offset + (sum((s - 1) * t for s, t in zip(size, stride)) + 1 if all(size) else 0)
    extra = draw(st.integers(0, 5))
    n = max(need, 1) + extra
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, np.int64]))
    storage = np.arange(n).astype(dtype) * dtype(3) - dtype(n)
    return View(storage, offset, size, stride)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strided_tensors())
def test_strided_rebuild_matches_index_arithmetic(tmp_path, view):
    path = tmp_path / "h.pt"
    w = TorchZipWriter()
    w.write(path, {"x": view})
    obj = read_torch_zip(str(path))
    want = view.values()
    assert obj["x"].shape == want.shape and obj["x"].dtype == want.dtype
    assert np.array_equal(obj["x"], want)


def test_tensor_out_of_storage_bounds_is_refused(tmp_path):
    flat = f32(10)
    path = tmp_path / "oob.pt"
    write_state_dict(path, {"A": View(flat, 2, (3,), (4,)), "W": f32(3, 3), "h": f32(3)})
    assert_error(path, "reaches element", kind="plrnn")


# ----------------------------------------------------------------------------- malicious pickles

def _evil_open_pickle(target: str) -> bytes:
    return PROTO2 + op_call(op_global("builtins", "open"), op_str(target), op_str("w")) + STOP


def test_malicious_pickle_runs_nothing(tmp_path):
    target = tmp_path / "pwned"
    payload = _evil_open_pickle(str(target))
    # control: an ordinary unpickler would create the file
    ctl = tmp_path / "control"
    pickle.loads(_evil_open_pickle(str(ctl))).close()
    assert ctl.exists()
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, payload)
    assert is_checkpoint(path)
    msg = assert_error(path, "refused")
    assert "builtins.open" in msg
    assert not target.exists()


class _Evil:
    """An object whose pickle calls open(target, 'w') when loaded by an ordinary unpickler."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_malicious_pickle_from_the_standard_pickler(tmp_path, protocol):
    # protocol >= 4 names globals with STACK_GLOBAL; the state dict wraps the payload
    target = tmp_path / "pwned"
    payload = pickle.dumps({"A": _Evil(target), "W": [1.0], "h": (0,)}, protocol=protocol)
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, payload)
    msg = assert_error(path, "refused without running anything")
    assert f"{open.__module__}.open" in msg
    assert not target.exists()


@pytest.mark.parametrize("module", ["os", "posix", "nt", "subprocess", "builtins", "__builtin__"])
def test_malicious_system_call_is_refused(tmp_path, module):
    target = tmp_path / "side_effect"
    name = {"builtins": "eval", "__builtin__": "eval", "subprocess": "call"}.get(module, "system")
    arg = (f"open({str(target)!r}, 'w')" if name == "eval" else f"touch {target}")
    payload = PROTO2 + op_call(op_global(module, name), op_str(arg)) + STOP
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, payload)
    msg = assert_error(path, "refused without running anything")
    assert f"{module}.{name}" in msg
    assert not target.exists()


def test_malicious_global_hidden_inside_a_tensor_is_refused(tmp_path):
    target = tmp_path / "side_effect"
    w = TorchZipWriter()
    flat = f32(4)
    evil_offset = op_call(op_global("os", "system"), op_str(f"touch {target}"))
    t = op_call(op_global("torch._utils", "_rebuild_tensor_v2"), w.storage_ref(flat), evil_offset,
                op_tuple(op_int(4)), op_tuple(op_int(1)), NEWFALSE,
                op_call(op_global("collections", "OrderedDict")))
    pk = PROTO2 + b"}(" + op_str("A") + t + b"u" + STOP
    path = tmp_path / "evil2.pt"
    w.write(path, pickle_bytes=pk)
    assert_error(path, "os.system")
    assert not target.exists()


def test_whole_module_pickle_is_refused_with_advice(tmp_path):
    payload = PROTO2 + op_global("__main__", "AL_RNN") + b")\x81" + STOP  # NEWOBJ of a user class
    path = tmp_path / "module.pt"
    zip_with_pickle(path, payload)
    assert_error(path, "state_dict()")


def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "script.pt"
    w = TorchZipWriter()
    w.write(path, {"A": f32(2)}, extra={"constants.pkl": PROTO2 + b")" + STOP, "code/__torch__.py": "x"})
    assert_error(path, "TorchScript")


def test_malicious_hypers_pickle_beside_checkpoint_is_refused(tmp_path):
    target = tmp_path / "pwned"
    write_state_dict(tmp_path / "model_10.pt", {"latent_model.latent_step.AW": f32(3, 3),
                                                "latent_model.latent_step.h": f32(3)})
    (tmp_path / "hypers.pkl").write_bytes(_evil_open_pickle(str(target)))
    assert_error(tmp_path / "model_10.pt", "refused")
    assert not target.exists()


# ----------------------------------------------------------------------------- corrupt files

def _good_checkpoint(path):
    write_state_dict(path, {"A": f32(4), "W": f32(4, 4), "h": f32(4), "B": f32(2, 4)})
    return path.read_bytes()


def test_truncated_zip_every_cut_gives_model_error(tmp_path):
    data = _good_checkpoint(tmp_path / "good.pt")
    bad = tmp_path / "cut.pt"
    for cut in list(range(0, 64, 7)) + list(range(64, len(data), 53)) + [len(data) - 1]:
        bad.write_bytes(data[:cut])
        assert_error(bad, P=1)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_bytes_never_escape_as_raw_exceptions(tmp_path, data):
    raw = bytearray(_good_checkpoint(tmp_path / "good.pt"))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(raw))
    try:
        d = read_checkpoint(bad, P=1)
    except ModelError as exc:
        assert str(bad) in str(exc)
    else:
        assert d["kind"] == "alrnn"


def test_missing_storage_member(tmp_path):
    path = tmp_path / "missing.pt"
    w = TorchZipWriter()
    w.write(path, {"A": f32(3), "W": f32(3, 3), "h": f32(3)}, omit=("1",))
    assert_error(path, "no member", kind="plrnn")


def test_storage_of_wrong_size(tmp_path):
    path = tmp_path / "size.pt"
    w = TorchZipWriter()
    pk = w.pickle({"A": f32(3), "W": f32(3, 3), "h": f32(3)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pk)
        for key, flat, _ in w.storages:
            zf.writestr(f"archive/data/{key}", flat.tobytes()[:-4])
    assert_error(path, "bytes", kind="plrnn")


def test_unsupported_storage_dtype(tmp_path):
    path = tmp_path / "complex.pt"
    w = TorchZipWriter()
    t = w.tensor(View(f32(4), 0, (2,), (1,)), storage_name="ComplexFloatStorage")
    w.write(path, pickle_bytes=PROTO2 + b"}(" + op_str("A") + t + b"u" + STOP)
    assert_error(path, "unsupported element type")


def test_not_checkpoints(tmp_path):
    npz = tmp_path / "model.npz"
    np.savez(npz, A=np.ones(2))
    assert not is_checkpoint(npz)
    assert_error(npz, "data.pkl")
    js = tmp_path / "m.json"
    js.write_text('{"kind": "plrnn"}')
    assert not is_checkpoint(js)
    assert_error(js, "not a checkpoint")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert not is_checkpoint(empty)
    assert_error(empty, "empty")
    assert not is_checkpoint(tmp_path / "nope.pt")
    assert_error(tmp_path / "nope.pt", "no such file")
    assert not is_checkpoint(tmp_path)
    assert_error(tmp_path, "directory")
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b".")
    assert is_checkpoint(legacy)
    assert_error(legacy, "legacy")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert not is_checkpoint(garbage)
    assert_error(garbage)


def test_truncated_zip_is_still_recognised(tmp_path):
    data = _good_checkpoint(tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    assert is_checkpoint(cut)
    assert_error(cut, "truncated")


def test_bad_arguments(tmp_path):
    path = tmp_path / "x.pt"
    _good_checkpoint(path)
    assert_error(path, "unknown kind", kind="lstm")
    assert_error(path, "P must be", P=-1)
    assert_error(path, "P must be", P=True)
    assert_error(path, "outside", P=9)
    assert_error(path, "another layout", kind="shplrnn")


def test_no_tensors_and_unknown_layout(tmp_path):
    p1 = tmp_path / "empty_sd.pt"
    write_state_dict(p1, {})
    assert_error(p1, "no tensors")
    p2 = tmp_path / "other.pt"
    write_state_dict(p2, {"encoder.weight": f32(3, 2), "decoder.bias": f32(2)})
    msg = assert_error(p2, "unknown key layout")
    assert "encoder.weight (3, 2)" in msg


def test_nan_parameters_refused(tmp_path):
    W = f32(3, 3)
    W[1, 2] = np.nan
    path = tmp_path / "nan.pt"
    write_state_dict(path, {"A": f32(3), "W": W, "h": f32(3)})
    assert_error(path, "NaN", kind="plrnn")


# ----------------------------------------------------------------------------- dendPLRNN layouts

def _dend_repo_checkpoint(folder, M=4, K=3, N=2, basis=True, hypers=None, hypers_txt=False):
    folder.mkdir(parents=True, exist_ok=True)
    p = {"AW": f32(M, M), "h": f32(M), "alphas": f32(K), "thetas": f32(M, K), "out": f32(N, M)}
    sd = {"latent_model.latent_step.AW": p["AW"], "latent_model.latent_step.h": p["h"]}
    if basis:
        sd["latent_model.latent_step.alphas"] = p["alphas"]
        sd["latent_model.latent_step.thetas"] = p["thetas"]
    sd["output_layer.weight"] = p["out"]
    sd["z0_model.MLP.weight"] = f32(M - N, N)
    path = folder / "model_100.pt"
    write_state_dict(path, sd)
    if hypers is not None:
        if hypers_txt:
            (folder / "hypers.txt").write_text("".join(f"{k} {v}\n" for k, v in hypers.items()))
        else:
            (folder / "hypers.pkl").write_bytes(pickle.dumps(hypers, protocol=2))
    return path, p


def _hyp(latent_model, mc=0, clip=None):
    return {"latent_model": latent_model, "mean_centering": mc, "clip_range": clip, "dim_z": 4,
            "n_bases": 3, "data_path": "x.npy", "reg_ratios": [0.5]}


def _authors_step(p, z, kind, mc=False):
    """The authors' PyTorch step (PLRNN_model.py), in exact rationals, unclipped."""
    AW = p["AW"]
    M = AW.shape[0]
    z = [Fr(v) for v in z]
    nz = [v - sum(z) / M for v in z] if mc else z
    if kind == "PLRNN":
        be = [relu(v) for v in nz]
    else:
        al, th = p["alphas"], p["thetas"]
        be = []
        for i in range(M):
            s = Fraction(0)
            for b in range(al.shape[0]):
                t = relu(nz[i] + Fr(float(th[i, b])))
                if kind == "clipped-PLRNN":
                    t -= relu(nz[i])
                s += Fr(float(al[b])) * t
            be.append(s)
    A = [Fr(float(AW[i, i])) for i in range(M)]
    W = [[Fr(float(AW[i, j])) if i != j else Fraction(0) for j in range(M)] for i in range(M)]
    h = [Fr(float(v)) for v in p["h"]]
    return [A[i] * z[i] + sum(W[i][j] * be[j] for j in range(M)) + h[i] for i in range(M)]


@pytest.mark.parametrize("latent", ["PLRNN", "dendr-PLRNN", "clipped-PLRNN"])
@pytest.mark.parametrize("mc", [0, 1])
def test_dendplrnn_repo_layouts_match_authors_step(tmp_path, latent, mc):
    path, p = _dend_repo_checkpoint(tmp_path / "run", basis=latent != "PLRNN", hypers=_hyp(latent, mc))
    d = read_checkpoint(path)
    if mc:
        assert d["kind"] == "relu-affine"
    else:
        assert d["kind"] == {"PLRNN": "plrnn", "dendr-PLRNN": "dendplrnn", "clipped-PLRNN": "dendplrnn"}[latent]
    assert np.array_equal(d["observation"]["B"], p["out"].astype(float))
    for z in rational_points(4, seed=3):
        assert exact_eval(d, z) == _authors_step(p, z, latent, mc=bool(mc))
    if model_from_dict is not None:
        m = model_from_dict(d)
        for z in rational_points(4, seed=4):
            assert list(m.f_exact(z)) == _authors_step(p, z, latent, mc=bool(mc))


def test_dendplrnn_repo_parameters_exact(tmp_path):
    path, p = _dend_repo_checkpoint(tmp_path / "run", hypers=_hyp("dendr-PLRNN"))
    d = read_checkpoint(path)
    A = np.diag(p["AW"]).astype(float)
    same_model(d, {"kind": "dendplrnn", "A": A, "W": p["AW"].astype(float) - np.diag(A), "h": p["h"],
                   "alpha": p["alphas"], "H": -p["thetas"].astype(float),
                   "observation": {"B": p["out"], "b": np.zeros(2)}})


def test_dendplrnn_repo_clip_range_refused(tmp_path):
    path, _ = _dend_repo_checkpoint(tmp_path / "run", hypers=_hyp("dendr-PLRNN", 0, 10.0))
    msg = assert_error(path, "clip_range")
    assert "hyperplanes" in msg
    path2, _ = _dend_repo_checkpoint(tmp_path / "run2", basis=False, hypers=_hyp("PLRNN", 0, 10.0))
    assert_error(path2, "clip_range")
    # the clipped-PLRNN step never clips states: clip_range is irrelevant there
    path3, _ = _dend_repo_checkpoint(tmp_path / "run3", hypers=_hyp("clipped-PLRNN", 0, 10.0))
    assert read_checkpoint(path3)["kind"] == "dendplrnn"


def test_dendplrnn_repo_hypers_txt(tmp_path):
    path, p = _dend_repo_checkpoint(tmp_path / "run", hypers=_hyp("clipped-PLRNN"), hypers_txt=True)
    d = read_checkpoint(path)
    for z in rational_points(4):
        assert exact_eval(d, z) == _authors_step(p, z, "clipped-PLRNN")


def test_dendplrnn_repo_without_hypers_needs_kind(tmp_path):
    path, p = _dend_repo_checkpoint(tmp_path / "run")
    assert_error(path, "kind=")
    d = read_checkpoint(path, kind="clipped-PLRNN")
    for z in rational_points(4):
        assert exact_eval(d, z) == _authors_step(p, z, "clipped-PLRNN")
    d2 = read_checkpoint(path, kind="dendplrnn")
    for z in rational_points(4):
        assert exact_eval(d2, z) == _authors_step(p, z, "dendr-PLRNN")
    assert_error(path, "does not match", kind="plrnn")
    path2, _ = _dend_repo_checkpoint(tmp_path / "run2", hypers=_hyp("dendr-PLRNN"))
    assert_error(path2, "latent_model", kind="clipped-dendplrnn")


def test_clipped_basis_sum_that_would_round(tmp_path):
    # alphas whose float64 sum is inexact: one relu(z) basis per alpha instead of a merged one
    path, p = _dend_repo_checkpoint(tmp_path / "run", K=2, hypers=_hyp("clipped-PLRNN"))
    w = TorchZipWriter()
    sd = {"latent_model.latent_step.AW": p["AW"], "latent_model.latent_step.h": p["h"],
          "latent_model.latent_step.alphas": np.array([2.0**60, 1.0], dtype=np.float64),
          "latent_model.latent_step.thetas": p["thetas"][:, :2]}
    w.write(path, sd)
    d = read_checkpoint(path)
    assert d["alpha"].shape == (4,)
    p2 = {**p, "alphas": sd["latent_model.latent_step.alphas"], "thetas": p["thetas"][:, :2]}
    for z in rational_points(4):
        assert exact_eval(d, z) == _authors_step(p2, z, "clipped-PLRNN")


# ----------------------------------------------------------------------------- shallow PLRNN

@pytest.mark.parametrize("swapped", [False, True])
@pytest.mark.parametrize("kind", ["shplrnn", "clipped-shplrnn"])
def test_shallow_state_dict_either_naming_order(tmp_path, swapped, kind):
    M, H = 3, 5
    A, W1, W2, h1, h2 = f32(M), f32(M, H), f32(H, M), f32(M), f32(H)
    if swapped:  # some files name the inner layer W1/h1
        sd = {"latent.A": A, "latent.W1": W2, "latent.W2": W1, "latent.h1": h2, "latent.h2": h1}
    else:
        sd = {"latent.A": A, "latent.W₁": W1, "latent.W₂": W2, "latent.h₁": h1, "latent.h₂": h2}
    path = tmp_path / "sh.pt"
    write_state_dict(path, sd)
    d = read_checkpoint(path, kind=kind)
    same_model(d, {"kind": kind, "A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2})
    assert_error(path, "kind='shplrnn'")  # plain vs clipped cannot be told from the keys


def test_shallow_kind_from_hypers(tmp_path):
    M, H = 2, 4
    sd = {"A": f32(M), "W1": f32(M, H), "W2": f32(H, M), "h1": f32(M), "h2": f32(H)}
    write_state_dict(tmp_path / "m.pt", sd)
    (tmp_path / "args.json").write_text(json.dumps({"model": "clippedShallowPLRNN"}))
    assert read_checkpoint(tmp_path / "m.pt")["kind"] == "clipped-shplrnn"


def test_shallow_square_hidden_layer_keeps_names(tmp_path):
    M = 3
    sd = {"A": f32(M), "W1": f32(M, M), "W2": f32(M, M), "h1": f32(M), "h2": f32(M)}
    write_state_dict(tmp_path / "sq.pt", sd)
    d = read_checkpoint(tmp_path / "sq.pt", kind="shplrnn")
    same_model(d, {"kind": "shplrnn", **sd})


def test_shallow_bad_shapes(tmp_path):
    sd = {"A": f32(3), "W1": f32(3, 4), "W2": f32(5, 3), "h1": f32(3), "h2": f32(4)}
    write_state_dict(tmp_path / "bad.pt", sd)
    assert_error(tmp_path / "bad.pt", "do not form", kind="shplrnn")


# ----------------------------------------------------------------------------- ALRNN state dicts

def test_alrnn_state_dict_P_from_hypers_and_name(tmp_path):
    M = 5
    sd = {"A": f32(M), "W": f32(M, M), "h": f32(M), "B": f32(2, M)}
    run = tmp_path / "run"
    run.mkdir()
    write_state_dict(run / "final", sd)
    assert_error(run / "final", "pass P")
    (tmp_path / "hypers.json").write_text(json.dumps({"P": 3}))  # parent folder
    d = read_checkpoint(run / "final")
    assert d["P"] == 3
    for z in rational_points(M):
        assert exact_eval(d, z) == exact_eval({"kind": "alrnn", "A": sd["A"], "W": sd["W"], "h": sd["h"], "P": 3}, z)
    other = tmp_path / "elsewhere" / "named"  # no hyperparameter file here or in the parent
    other.mkdir(parents=True)
    write_state_dict(other / "lorenz_m5_p4", sd)
    assert read_checkpoint(other / "lorenz_m5_p4")["P"] == 4
    write_state_dict(other / "lorenz_m7_p4", sd)  # M in the name does not match: not used
    assert_error(other / "lorenz_m7_p4", "pass P")


# ----------------------------------------------------------------------------- Julia BSON

def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _obs(M, N=2, kind="Identity", bias=False):
    B = np.hstack([np.eye(N), np.zeros((N, M - N))]).astype(np.float32) if kind == "Identity" else f32(N, M)
    b = f32(N) if bias else np.zeros(N, dtype=np.float32)
    L = f32(M - N, N) if kind == "Identity" else None
    return obs_struct(kind, B, b, bias, L), B, b


@pytest.mark.parametrize("obs_kind,bias", [("Identity", False), ("Affine", False), ("Affine", True)])
def test_bson_shallow_plrnn(tmp_path, obs_kind, bias):
    M, H = 3, 6
    A, W1, W2, h1, h2 = f32(M), f32(M, H), f32(H, M), f32(M), f32(H)
    obs, B, b = _obs(M, kind=obs_kind, bias=bias)
    path = _write(tmp_path / "model_500.bson",
                  jl_model_file(latent_struct("shallowPLRNN", [A, W1, W2, h1, h2, None]), obs))
    assert is_checkpoint(path)
    d = read_checkpoint(path)
    want_b = b if bias else np.zeros(2)
    same_model(d, {"kind": "shplrnn", "A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2,
                   "observation": {"B": B, "b": want_b}})
    assert d["name"] == "model_500.bson"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bson_clipped_shallow_plrnn_column_major(tmp_path, dtype):
    M, H = 2, 3
    A = np.array([0.5, -0.25], dtype=dtype)
    W1 = np.arange(6, dtype=dtype).reshape(M, H) / 8      # non-symmetric: order matters
    W2 = np.arange(6, dtype=dtype).reshape(H, M) / 4 - 1
    h1, h2 = np.array([1, 2], dtype=dtype), np.array([-1, 0.5, 3], dtype=dtype)
    path = _write(tmp_path / "model_1.bson",
                  jl_model_file(latent_struct("clippedShallowPLRNN", [A, W1, W2, h1, h2, None], dtype=dtype)))
    d = read_checkpoint(path)
    same_model(d, {"kind": "clipped-shplrnn", "A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2})
    assert d["W1"][0, 2] == 2 / 8 and d["W2"][2, 1] == 5 / 4 - 1
    assert "observation" not in d


def test_bson_plrnn_and_alrnn(tmp_path):
    M = 4
    A, W, h = f32(M), f32(M, M), f32(M)
    p1 = _write(tmp_path / "plrnn.bson", jl_model_file(latent_struct("PLRNN", [A, W, h, None])))
    same_model(read_checkpoint(p1), {"kind": "plrnn", "A": A, "W": W, "h": h})
    alrnn = jl_struct(["Main", "ALRNN_DSR", "ALRNNs", "ALRNN"], [jl_array(A), jl_array(W), jl_array(h), 2])
    p2 = _write(tmp_path / "alrnn.bson", jl_model_file(alrnn, _obs(M)[0]))
    d = read_checkpoint(p2)
    same_model(d, {"kind": "alrnn", "A": A, "W": W, "h": h, "P": 2,
                   "observation": {"B": _obs(M)[1], "b": np.zeros(2)}})
    assert read_checkpoint(p2, P=2)["P"] == 2
    assert_error(p2, "stores P = 2", P=3)
    assert_error(p2, "holds a Julia ALRNN", kind="plrnn")


@pytest.mark.parametrize("clipped", [False, True])
def test_bson_dendplrnn(tmp_path, clipped):
    M, K = 3, 4
    A, W, h, al, H = f32(M), f32(M, M), f32(M), f32(K), f32(M, K)
    name = "clippedDendPLRNN" if clipped else "dendPLRNN"
    path = _write(tmp_path / "d.bson", jl_model_file(latent_struct(name, [A, W, h, al, H, None])))
    d = read_checkpoint(path)
    assert d["kind"] == "dendplrnn"
    for z in rational_points(M):
        phi = []
        for i in range(M):
            s = Fraction(0)
            for k in range(K):
                t = relu(z[i] - Fr(float(H[i, k])))
                if clipped:
                    t -= relu(z[i])
                s += Fr(float(al[k])) * t
            phi.append(s)
        want = [Fr(float(A[i])) * z[i] + sum(Fr(float(W[i, j])) * phi[j] for j in range(M)) + Fr(float(h[i]))
                for i in range(M)]
        assert exact_eval(d, z) == want
    if not clipped:
        same_model(d, {"kind": "dendplrnn", "A": A, "W": W, "h": h, "alpha": al, "H": H})


def test_bson_mean_centred_and_fully_connected_dend(tmp_path):
    M, K = 3, 2
    A, W, h = f32(M), f32(M, M), f32(M)
    p = _write(tmp_path / "mc.bson", jl_model_file(latent_struct("mcPLRNN", [A, W, h, None])))
    d = read_checkpoint(p)
    assert d["kind"] == "relu-affine"
    for z in rational_points(M):
        zc = [v - sum(z) / M for v in z]
        want = [Fr(float(A[i])) * z[i] + sum(Fr(float(W[i, j])) * relu(zc[j]) for j in range(M)) + Fr(float(h[i]))
                for i in range(M)]
        assert exact_eval(d, z) == want
    Wfc, H = f32(K, M, M), f32(M, K)
    p2 = _write(tmp_path / "fc.bson", jl_model_file(latent_struct("FCDendPLRNN", [A, Wfc, h, H, None])))
    d2 = read_checkpoint(p2)
    for z in rational_points(M):
        want = [Fr(float(A[m])) * z[m] + Fr(float(h[m])) +
                sum(Fr(float(Wfc[b, m, k])) * relu(z[k] - Fr(float(H[k, b]))) for b in range(K) for k in range(M))
                for m in range(M)]
        assert exact_eval(d2, z) == want


def test_bson_backrefs_and_key_order(tmp_path):
    M, H = 2, 3
    A, W1, W2, h1, h2 = f32(M), f32(M, H), f32(H, M), f32(M), f32(H)
    shuffled = lambda a: jl_array(a, key_order=("data", "size", "tag", "type"))  # noqa: E731
    latent = {"data": [shuffled(A), {"tag": "backref", "ref": 1}, shuffled(W2), shuffled(h1), shuffled(h2), None],
              "type": latent_struct("shallowPLRNN", [])["type"], "tag": "struct"}
    root = {"model": [{"tag": "backref", "ref": 2}], "_backrefs": [shuffled(W1), latent]}
    path = _write(tmp_path / "br.bson", bson_doc(root))
    d = read_checkpoint(path)
    same_model(d, {"kind": "shplrnn", "A": A, "W1": W1, "W2": W2, "h1": h1, "h2": h2})
    bad = _write(tmp_path / "br_bad.bson", bson_doc({"model": [{"tag": "backref", "ref": 5}], "_backrefs": []}))
    assert_error(bad, "backref")
    cyc = _write(tmp_path / "cyc.bson", bson_doc({"model": [{"tag": "backref", "ref": 1}],
                                                  "_backrefs": [{"tag": "backref", "ref": 1}]}))
    assert_error(cyc, "itself")


def test_bson_refusals(tmp_path):
    M = 2
    A, W, h = f32(M), f32(M, M), f32(M)
    p = _write(tmp_path / "inputs.bson", jl_model_file(latent_struct("PLRNN", [A, W, h, f32(M, 3)])))
    assert_error(p, "external-input")
    p2 = _write(tmp_path / "lstm.bson", jl_model_file(jl_struct(["Main", "LSTMCell"], [A])))
    assert_error(p2, "no supported latent model")
    p3 = _write(tmp_path / "empty.bson", bson_doc({}))
    assert is_checkpoint(p3)
    assert_error(p3, "no supported latent model")
    p4 = _write(tmp_path / "ints.bson", jl_model_file(latent_struct("PLRNN", [
        {"tag": "array", "type": {"tag": "datatype", "name": ["Core", "String"], "params": []},
         "size": [2], "data": ["a", "b"]}, W, h, None])))
    assert_error(p4, "not a numeric array")
    p5 = _write(tmp_path / "shape.bson", jl_model_file(latent_struct("PLRNN", [A, f32(3, 3), h, None])))
    assert_error(p5, "shape")
    p6 = _write(tmp_path / "bytes.bson", jl_model_file(latent_struct("PLRNN", [
        {"tag": "array", "type": {"tag": "datatype", "name": ["Core", "Float32"], "params": []},
         "size": [2], "data": b"\x00" * 7}, W, h, None])))
    assert_error(p6, "needs 8 bytes")


def test_bson_truncated_at_every_cut(tmp_path):
    M, H = 2, 3
    data = jl_model_file(latent_struct("shallowPLRNN", [f32(M), f32(M, H), f32(H, M), f32(M), f32(H), None]))
    bad = tmp_path / "model_9.bson"
    for cut in range(0, len(data) - 1):
        bad.write_bytes(data[:cut])
        assert_error(bad)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_bson_corruption_never_escapes(tmp_path, data):
    raw = bytearray(jl_model_file(latent_struct("PLRNN", [f32(2), f32(2, 2), f32(2), None])))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    bad = tmp_path / "c.bson"
    bad.write_bytes(bytes(raw))
    try:
        d = read_checkpoint(bad)
    except ModelError as exc:
        assert str(bad) in str(exc)
    else:
        assert d["kind"] == "plrnn"


# ----------------------------------------------------------------------------- real torch

def test_core_never_imports_torch():
    code = ("import sys; import symbolic.checkpoints as c; "
            "c.is_checkpoint('x'); assert 'torch' not in sys.modules, 'torch imported'")
    root = os.path.join(os.path.dirname(__file__), "..")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_torch_save_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    M, N, P = 5, 2, 2
    g = torch.Generator().manual_seed(0)
    AW = torch.randn(M, M, generator=g)
    sd = {"A": AW.diagonal(), "W": torch.randn(M, M, generator=g).t(), "h": torch.randn(M + 3, generator=g)[3:],
          "B": torch.randn(N, M, generator=g)}
    path = tmp_path / "alrnn_torch"
    torch.save(sd, path)
    d = read_checkpoint(path, P=P)
    same_model(d, {"kind": "alrnn", "A": sd["A"].double().numpy(), "W": sd["W"].double().numpy(),
                   "h": sd["h"].double().numpy(), "P": P,
                   "observation": {"B": np.hstack([np.eye(N), np.zeros((N, M - N))]), "b": np.zeros(N)}})
    # bfloat16 / float64 / parameters
    sd2 = {"A": torch.nn.Parameter(torch.randn(3, generator=g).to(torch.bfloat16)),
           "W": torch.randn(3, 3, dtype=torch.float64, generator=g), "h": torch.randn(3, generator=g).half()}
    torch.save(sd2, tmp_path / "mixed.pt")
    d2 = read_checkpoint(tmp_path / "mixed.pt", kind="plrnn")
    for k in "AWh":
        assert np.array_equal(d2[k], sd2[k].detach().double().numpy())


def test_torch_module_state_dict_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.AW = nn.Parameter(torch.randn(4, 4))
            self.h = nn.Parameter(torch.randn(4))
            self.alphas = nn.Parameter(torch.randn(3))
            self.thetas = nn.Parameter(torch.randn(4, 3))

    class Latent(nn.Module):
        def __init__(self):
            super().__init__()
            self.latent_step = Step()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.latent_model = Latent()
            self.output_layer = nn.Linear(4, 2, bias=False)

    torch.manual_seed(1)
    model = Model()
    (tmp_path / "run").mkdir()
    torch.save(model.state_dict(), tmp_path / "run" / "model_50.pt")
    (tmp_path / "run" / "hypers.pkl").write_bytes(pickle.dumps(_hyp("dendr-PLRNN")))
    d = read_checkpoint(tmp_path / "run" / "model_50.pt")
    AW = model.latent_model.latent_step.AW.detach().double().numpy()
    same_model(d, {"kind": "dendplrnn", "A": np.diag(AW), "W": AW - np.diag(np.diag(AW)),
                   "h": model.latent_model.latent_step.h.detach().double().numpy(),
                   "alpha": model.latent_model.latent_step.alphas.detach().double().numpy(),
                   "H": -model.latent_model.latent_step.thetas.detach().double().numpy(),
                   "observation": {"B": model.output_layer.weight.detach().double().numpy(), "b": np.zeros(2)}})
    # the authors' forward step (torch, float) agrees with the exact map up to rounding
    z = torch.randn(1, 4, dtype=torch.float64)
    st_ = model.latent_model.latent_step
    A = torch.diag(st_.AW).double()
    W = (st_.AW - torch.diag(torch.diag(st_.AW))).double()
    be = torch.sum(st_.alphas.double() * torch.relu(z.unsqueeze(-1) + st_.thetas.double()), dim=-1)
    ref = (A * z + be @ W.t() + st_.h.double()).detach().numpy()[0]
    got = [float(v) for v in exact_eval(d, [Fraction(float(v)) for v in z[0]])]
    assert np.allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_torch_save_whole_module_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    assert_error(tmp_path / "module.pt", "state_dict()")
