"""Test helpers: write PyTorch zip checkpoints and BSON.jl files byte by byte, without torch
or Julia, laid out the way ``torch.save`` and ``BSON.@save`` lay them out."""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- pickle opcodes

PROTO2 = b"\x80\x02"
MARK, STOP, TUPLE, EMPTY_TUPLE, REDUCE, BINPERSID = b"(", b".", b"t", b")", b"R", b"Q"
EMPTY_DICT, SETITEMS, SETITEM, BUILD, NONE = b"}", b"u", b"s", b"b", b"N"
NEWTRUE, NEWFALSE = b"\x88", b"\x89"


def op_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_int(v: int) -> bytes:
    return b"J" + struct.pack("<i", v)


def op_str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def op_tuple(*items: bytes) -> bytes:
    return MARK + b"".join(items) + TUPLE


def op_call(func: bytes, *args: bytes) -> bytes:
    return func + op_tuple(*args) + REDUCE


_STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage", np.dtype("uint8"): "ByteStorage",
}


@dataclass
class View:
    """A tensor that is a strided view into a flat storage (``storage`` is 1-D)."""

    storage: np.ndarray
    offset: int
    size: tuple
    stride: tuple
    parameter: bool = False

    def values(self) -> np.ndarray:
        """The tensor's values, computed by index arithmetic (independent of as_strided)."""
        out = np.empty(self.size, dtype=self.storage.dtype)
        for idx in np.ndindex(*self.size):
            out[idx] = self.storage[self.offset + sum(i * s for i, s in zip(idx, self.stride))]
        return out


def _c_strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= s
    return tuple(reversed(st))


class TorchZipWriter:
    """Collects tensors and writes ``<root>/data.pkl`` + ``<root>/data/<key>`` like torch.save."""

    def __init__(self, root: str = "archive", byteorder: str = "little"):
        self.root = root
        self.byteorder = byteorder
        self.storages: list[tuple[str, np.ndarray, str]] = []
        self._ids: dict[int, str] = {}

    def storage_ref(self, flat: np.ndarray, storage_name: str | None = None) -> bytes:
        key = self._ids.get(id(flat))
        name = storage_name or _STORAGE_NAMES[flat.dtype]
        if key is None:
            key = str(len(self.storages))
            self._ids[id(flat)] = key
            self.storages.append((key, flat, name))
        pid = op_tuple(op_str("storage"), op_global("torch", name), op_str(key), op_str("cpu"),
                       op_int(flat.size))
        return pid + BINPERSID

    def tensor(self, x, storage_name: str | None = None) -> bytes:
        if isinstance(x, np.ndarray):
            x = View(np.ascontiguousarray(x).reshape(-1), 0, x.shape, _c_strides(x.shape))
        hooks = op_call(op_global("collections", "OrderedDict"))
        t = op_call(
            op_global("torch._utils", "_rebuild_tensor_v2"),
            self.storage_ref(x.storage, storage_name), op_int(x.offset),
            op_tuple(*(op_int(s) for s in x.size)), op_tuple(*(op_int(s) for s in x.stride)),
            NEWFALSE, hooks,
        )
        if x.parameter:
            t = op_call(op_global("torch._utils", "_rebuild_parameter"), t, NEWTRUE,
                        op_call(op_global("collections", "OrderedDict")))
        return t

    def value(self, v) -> bytes:
        if isinstance(v, (np.ndarray, View)):
            return self.tensor(v)
        if isinstance(v, dict):
            return self.state_dict(v, ordered=False)
        if isinstance(v, bool):
            return NEWTRUE if v else NEWFALSE
        if isinstance(v, int):
            return op_int(v)
        if isinstance(v, str):
            return op_str(v)
        if v is None:
            return NONE
        raise TypeError(type(v))

    def state_dict(self, d: dict, ordered: bool = True, metadata: bool = True) -> bytes:
        out = op_call(op_global("collections", "OrderedDict")) if ordered else EMPTY_DICT
        out += MARK
        for k, v in d.items():
            out += op_str(k) + self.value(v)
        out += SETITEMS
        if ordered and metadata:  # torch attaches _metadata to state dicts via BUILD
            meta = EMPTY_DICT + op_str("_metadata") + op_call(op_global("collections", "OrderedDict")) + SETITEM
            out += meta + BUILD
        return out

    def pickle(self, d: dict, ordered: bool = True) -> bytes:
        return PROTO2 + self.state_dict(d, ordered) + STOP

    def write(self, path, d: dict | None = None, pickle_bytes: bytes | None = None,
              ordered: bool = True, extra: dict | None = None, omit: tuple = ()) -> None:
        data = pickle_bytes if pickle_bytes is not None else self.pickle(d, ordered)
        order = "<" if self.byteorder == "little" else ">"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(f"{self.root}/data.pkl", data)
            zf.writestr(f"{self.root}/byteorder", self.byteorder)
            for key, flat, _ in self.storages:
                if key in omit:
                    continue
                zf.writestr(f"{self.root}/data/{key}", flat.astype(flat.dtype.newbyteorder(order)).tobytes())
            zf.writestr(f"{self.root}/version", "3\n")
            for name, content in (extra or {}).items():
                zf.writestr(f"{self.root}/{name}", content)


def write_state_dict(path, d: dict, **kw) -> TorchZipWriter:
    w = TorchZipWriter(**kw)
    w.write(path, d)
    return w


def zip_with_pickle(path, pickle_bytes: bytes, root: str = "archive") -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{root}/data.pkl", pickle_bytes)
        zf.writestr(f"{root}/byteorder", "little")
        zf.writestr(f"{root}/version", "3\n")


# ----------------------------------------------------------------------------- BSON

class Int32(int):
    """Marks an integer to be written as BSON int32 (plain ints are int64, as Julia writes)."""


def _cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\x00"


def bson_element(key: str, v) -> bytes:
    k = _cstr(key)
    if isinstance(v, bool):
        return b"\x08" + k + (b"\x01" if v else b"\x00")
    if isinstance(v, Int32):
        return b"\x10" + k + struct.pack("<i", v)
    if isinstance(v, int):
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        raw = v.encode("utf-8") + b"\x00"
        return b"\x02" + k + struct.pack("<i", len(raw)) + raw
    if v is None:
        return b"\x0A" + k
    if isinstance(v, (bytes, bytearray)):
        return b"\x05" + k + struct.pack("<i", len(v)) + b"\x00" + bytes(v)
    if isinstance(v, dict):
        return b"\x03" + k + bson_doc(v)
    if isinstance(v, (list, tuple)):
        return b"\x04" + k + bson_doc({str(i): x for i, x in enumerate(v)})
    raise TypeError(type(v))


def bson_doc(d: dict) -> bytes:
    body = b"".join(bson_element(k, v) for k, v in d.items()) + b"\x00"
    return struct.pack("<i", len(body) + 4) + body


# ----------------------------------------------------------------------------- BSON.jl lowering

_JL_NAMES = {np.dtype("float32"): "Float32", np.dtype("float64"): "Float64", np.dtype("float16"): "Float16",
             np.dtype("int64"): "Int64"}


def jl_datatype(path, params=()) -> dict:
    return {"tag": "datatype", "name": list(path), "params": list(params)}


def jl_eltype(dtype) -> dict:
    return jl_datatype(["Core", _JL_NAMES[np.dtype(dtype)]])


def jl_array_type(dtype, ndim: int) -> dict:
    return jl_datatype(["Core", "Array"], [jl_eltype(dtype), ndim])


def jl_array(a: np.ndarray, key_order=("tag", "type", "size", "data")) -> dict:
    """BSON.jl lowering of a Julia Array: element bytes in column-major order."""
    a = np.asarray(a)
    parts = {
        "tag": "array",
        "type": jl_eltype(a.dtype),
        "size": [int(s) for s in a.shape],
        "data": np.asfortranarray(a).astype(a.dtype.newbyteorder("<")).tobytes(order="F"),
    }
    return {k: parts[k] for k in key_order}


def jl_struct(path, fields, params=()) -> dict:
    lowered = [jl_array(f) if isinstance(f, np.ndarray) else f for f in fields]
    return {"tag": "struct", "type": jl_datatype(path, params), "data": lowered}


def jl_model_file(latent: dict, obs: dict | None = None, backrefs: list | None = None) -> bytes:
    root = {"model": [latent] + ([obs] if obs is not None else [])}
    if backrefs:
        root["_backrefs"] = backrefs
    return bson_doc(root)


def latent_struct(name: str, fields, module=("Main", "GTF", "PLRNNs"), dtype=np.float32) -> dict:
    params = [jl_array_type(dtype, 1), jl_array_type(dtype, 2)]
    return jl_struct(list(module) + [name], fields, params)


def obs_struct(name: str, B: np.ndarray, b: np.ndarray, use_bias: bool, L=None) -> dict:
    fields = [B, b, use_bias] + ([L] if name == "Identity" else [])
    return jl_struct(["Main", "GTF", "ObservationModels", name], fields)
