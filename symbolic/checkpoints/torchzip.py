"""PyTorch zip checkpoints (``torch.save``, torch >= 1.6) read without torch.

A checkpoint is a zip archive ``<root>/data.pkl`` + ``<root>/data/<key>`` (+ ``version``,
``byteorder``, ...). ``data.pkl`` is a pickle of the saved object (usually a state dict);
tensors appear as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
and storages as persistent ids ``('storage', torch.FloatStorage, key, location, numel)``
whose bytes are the raw file ``<root>/data/<key>``.

The pickle is read by :class:`_TorchUnpickler`, whose ``find_class`` admits only the
handful of globals a state dict needs (tensor/parameter rebuild functions, storage and
dtype names, ``OrderedDict``, ``torch.Size``, ``torch.device``, ``_codecs.encode``) and maps
each to a stand-in defined here. Nothing from torch, os, builtins or anywhere else is ever
imported or called, so a malicious pickle (``os.system``, ``builtins.eval``, ...) is
refused before anything runs. Tensors are rebuilt with numpy: offset, size and stride are
honoured (``as_strided`` on the flat storage after a bounds check, then copied), so a
tensor saved as a strided view (e.g. a diagonal) gets its true values.
"""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

from ._common import CheckpointProblem

__all__ = ["is_torch_zip", "is_legacy_torch", "read_torch_zip", "restricted_pickle_load"]

# largest data.pkl / hypers pickle we agree to parse (a state dict's pickle is tiny)
_MAX_PICKLE_BYTES = 64 * 2**20
_MAX_STORAGE_BYTES = 2**31
_MAX_TENSOR_ELEMENTS = 2**28

# storage class name -> numpy type code ("bf16" is handled separately)
_STORAGE_TYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "b1", "UntypedStorage": "u1",
    "ComplexFloatStorage": None, "ComplexDoubleStorage": None, "QInt8Storage": None,
    "QUInt8Storage": None, "QInt32Storage": None, "QUInt4x2Storage": None,
    "QUInt2x4Storage": None,
}
# torch dtype names (as pickled: GLOBAL 'torch float32') -> numpy type code
_TORCH_DTYPES = {
    "float32": "f4", "float": "f4", "float64": "f8", "double": "f8", "float16": "f2",
    "half": "f2", "bfloat16": "bf16", "int64": "i8", "long": "i8", "int32": "i4", "int": "i4",
    "int16": "i2", "short": "i2", "int8": "i1", "uint8": "u1", "bool": "b1",
}
_ITEMSIZE = {"f4": 4, "f8": 8, "f2": 2, "bf16": 2, "i8": 8, "i4": 4, "i2": 2, "i1": 1, "u1": 1, "b1": 1}

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# ----------------------------------------------------------------------------- stand-ins

class _Refused(Exception):
    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class _Bad(Exception):
    """A structurally wrong pickle (message is shown inside a CheckpointProblem)."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only carries the element type."""

    def __init__(self, name: str, code):
        self.name, self.code = name, code

    def __call__(self, *args, **kwargs):
        raise _Bad(f"the pickle calls torch.{self.name}(...), which a checkpoint never does")

    def __repr__(self):
        return f"torch.{self.name}"


class _DType:
    """Stand-in for a ``torch.float32``-like dtype object."""

    def __init__(self, name: str, code: str):
        self.name, self.code = name, code

    def __call__(self, *args, **kwargs):
        raise _Bad(f"the pickle calls torch.{self.name}(...), which a checkpoint never does")

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """A loaded storage: the flat numpy array of its elements."""

    def __init__(self, key: str, code: str, flat: np.ndarray, order: str = "<"):
        self.key, self.code, self.flat, self.order = key, code, flat, order


class StateDict(dict):
    """Stand-in for ``collections.OrderedDict`` (a dict with a ``__dict__``, so that the
    ``_metadata`` attribute torch attaches to state dicts can be set by BUILD)."""


class Namespace:
    """Stand-in for ``argparse.Namespace`` (hyperparameter pickles)."""


def _torch_size(*args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _torch_device(*args):
    return ":".join(str(a) for a in args)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol-2 pickles of ``bytes`` call _codecs.encode(str, 'latin1'); nothing else is allowed
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise _Bad("the pickle calls _codecs.encode with unexpected arguments")
    return obj.encode(encoding, errors)


def _check_ints(seq, what: str) -> tuple:
    if not isinstance(seq, (tuple, list)):
        raise _Bad(f"tensor {what} is a {type(seq).__name__}, expected a tuple of integers")
    out = []
    for v in seq:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _Bad(f"tensor {what} {tuple(seq)!r} is not a tuple of non-negative integers")
        out.append(v)
    return tuple(out)


def _view(storage, offset, size, stride) -> np.ndarray:
    """The tensor (offset, size, stride) of *storage* as a fresh numpy array."""
    if not isinstance(storage, _Storage):
        raise _Bad(f"tensor rebuilt from a {type(storage).__name__} instead of a storage")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _Bad(f"tensor storage offset {offset!r} is not a non-negative integer")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride")
    if len(size) != len(stride):
        raise _Bad(f"tensor size {size} and stride {stride} have different lengths")
    flat = storage.flat
    count = 1
    for s in size:
        count *= s
    if count > _MAX_TENSOR_ELEMENTS:
        raise _Bad(f"tensor of size {size} has more elements than any model checkpoint")
    if any(s == 0 for s in size):
        return np.empty(size, dtype=flat.dtype)
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= flat.size:
        raise _Bad(
            f"tensor (offset {offset}, size {size}, stride {stride}) reaches element {last} "
            f"of storage '{storage.key}', which holds only {flat.size}"
        )
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=size, strides=tuple(st * item for st in stride), writeable=False
    )
    return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _view(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, dtype=None, metadata=None):
    if isinstance(dtype, _DType) and isinstance(storage, _Storage) and storage.code != dtype.code:
        if storage.code != "u1":
            raise _Bad(f"tensor of dtype {dtype!r} rebuilt from a storage of another type")
        storage = _Storage(storage.key, dtype.code,
                           _decode(storage.flat.tobytes(), dtype.code, storage.order), storage.order)
    return _view(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, np.ndarray):
        raise _Bad("a parameter is rebuilt from something that is not a tensor")
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return _rebuild_parameter(data)


_TENSOR_GLOBALS = {
    ("collections", "OrderedDict"): StateDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
    ("_codecs", "encode"): _codecs_encode,
}
_PLAIN_GLOBALS = {
    ("collections", "OrderedDict"): StateDict,
    ("argparse", "Namespace"): Namespace,
    ("_codecs", "encode"): _codecs_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in *allowed* (and, with *tensors*, the
    torch storage/dtype names); everything else raises :class:`_Refused`."""

    def __init__(self, fh, allowed: dict, storage_loader=None):
        super().__init__(fh)
        self._allowed = allowed
        self._storage_loader = storage_loader

    def find_class(self, module, name):
        key = (module, name)
        if key in self._allowed:
            return self._allowed[key]
        if self._storage_loader is not None and module == "torch":
            if name in _STORAGE_TYPES:
                return _StorageType(name, _STORAGE_TYPES[name])
            if name in _TORCH_DTYPES:
                return _DType(name, _TORCH_DTYPES[name])
        if self._storage_loader is not None and (module, name) == ("torch.storage", "UntypedStorage"):
            return _StorageType("UntypedStorage", "u1")
        raise _Refused(str(module), str(name))

    def persistent_load(self, pid):
        if self._storage_loader is None:
            raise _Bad("the pickle refers to external data (a persistent id)")
        return self._storage_loader(pid)


def _decode(raw: bytes, code: str, order: str) -> np.ndarray:
    if code == "bf16":
        u = np.frombuffer(raw, dtype=order + "u2").astype(np.uint32)
        return (u << np.uint32(16)).view(np.float32)
    if code == "b1":
        b = np.frombuffer(raw, dtype=np.uint8)
        if b.size and b.max() > 1:
            raise _Bad("a bool storage holds bytes other than 0 and 1")
        return b.astype(bool)
    if code in ("i1", "u1"):
        return np.frombuffer(raw, dtype=code)
    return np.frombuffer(raw, dtype=order + code)


_DANGEROUS_MODULES = ("os", "posix", "nt", "builtins", "__builtin__", "subprocess", "sys",
                      "shutil", "importlib", "runpy", "code", "pty", "socket", "webbrowser")


def _describe_refusal(r: _Refused) -> str:
    qual = f"{r.module}.{r.name}"
    hint = ""
    if r.module.split(".")[0] not in _DANGEROUS_MODULES:
        hint = (" (if the file was written by torch.save(model) it pickles a whole Python object;"
                " save model.state_dict() instead)")
    return (
        f"asks for the Python global '{qual}', which is not one of the tensor-rebuild, "
        f"storage or container globals a state dict needs, so it was refused without running anything{hint}"
    )


def restricted_pickle_load(data: bytes, allowed: dict, storage_loader=None, what: str = "pickle"):
    """Unpickle *data* with only *allowed* globals; problems raise CheckpointProblem."""
    if len(data) > _MAX_PICKLE_BYTES:
        raise CheckpointProblem(f"{what} is {len(data)} bytes, larger than any state dict pickle")
    try:
        return _RestrictedUnpickler(io.BytesIO(data), allowed, storage_loader).load()
    except _Refused as r:
        raise CheckpointProblem(f"{what} {_describe_refusal(r)}") from None
    except _Bad as exc:
        raise CheckpointProblem(f"{what} is not a plain state dict: {exc}") from None
    except CheckpointProblem:
        raise
    except RecursionError:
        raise CheckpointProblem(f"{what} is nested too deeply to be a state dict") from None
    except MemoryError:
        raise CheckpointProblem(f"{what} asks for more memory than a state dict needs") from None
    except Exception as exc:  # pickle.UnpicklingError, EOFError, TypeError, ... from bad bytes
        raise CheckpointProblem(
            f"{what} is corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from None


# ----------------------------------------------------------------------------- archives

def _pickle_roots(names) -> list[str]:
    return [n[: -len("/data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]


def is_torch_zip(path) -> bool:
    """True iff *path* is a zip archive with a ``<root>/data.pkl`` member."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            return bool(_pickle_roots(zf.namelist()))
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def is_legacy_torch(head: bytes) -> bool:
    """The pre-1.6 ``torch.save`` format starts with a pickled magic number."""
    magic = b"\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")
    return head.startswith(b"\x80\x02" + magic) or head.startswith(b"\x80\x04" + magic)


def read_torch_zip(path: str):
    """The unpickled object of a PyTorch zip checkpoint, tensors as numpy arrays (native
    dtype; bfloat16 widened exactly to float32). Raises CheckpointProblem."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CheckpointProblem(
            "the zip archive is truncated or corrupt (its central directory cannot be read)"
        ) from None
    except (OSError, ValueError, EOFError) as exc:
        raise CheckpointProblem(f"could not open the zip archive ({exc})") from None
    with zf:
        names = zf.namelist()
        roots = _pickle_roots(names)
        if not roots:
            raise CheckpointProblem("zip archive without a '<name>/data.pkl' member, so not a PyTorch checkpoint")
        if len(set(roots)) > 1:
            raise CheckpointProblem(f"zip archive holds several pickles ({', '.join(sorted(set(roots)))}/data.pkl)")
        root = roots[0]
        nameset = set(names)
        if f"{root}/constants.pkl" in nameset or any(n.startswith(f"{root}/code/") for n in names):
            raise CheckpointProblem(
                "this is a TorchScript archive (torch.jit.save), which holds code, not a state dict; "
                "save model.state_dict() with torch.save instead"
            )

        def member(name: str, limit: int | None = None) -> bytes:
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise CheckpointProblem(f"the archive has no member '{name}'") from None
            if limit is not None and info.file_size > limit:
                raise CheckpointProblem(f"member '{name}' is {info.file_size} bytes, larger than expected")
            try:
                return zf.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                    NotImplementedError, RuntimeError, struct.error) as exc:
                raise CheckpointProblem(
                    f"member '{name}' cannot be read, the archive is truncated or corrupt ({exc})"
                ) from None

        order = "<"
        if f"{root}/byteorder" in nameset:
            bo = member(f"{root}/byteorder", 64).strip()
            if bo == b"big":
                order = ">"
            elif bo != b"little":
                raise CheckpointProblem(f"unknown byte order {bo[:20]!r} in '{root}/byteorder'")

        storages: dict[str, _Storage] = {}

        def load_storage(pid):
            if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
                raise _Bad(f"unexpected persistent id {str(pid)[:80]}")
            _, stype, key, _location, numel = pid
            if isinstance(stype, _DType):
                code, tname = stype.code, stype.name
            elif isinstance(stype, _StorageType):
                code, tname = stype.code, stype.name
            else:
                raise _Bad(f"storage type {stype!r} is not a torch storage class")
            if code is None:
                raise CheckpointProblem(
                    f"storage '{key}' has the unsupported element type torch.{tname} "
                    "(only real floating-point, integer and bool tensors can be read)"
                )
            if not isinstance(key, str) or not key or "/" in key or key in (".", ".."):
                raise _Bad(f"storage key {key!r} is not a plain name")
            if isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
                raise _Bad(f"storage '{key}' has element count {numel!r}")
            if key in storages:
                return storages[key]
            name = f"{root}/data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise CheckpointProblem(f"the pickle refers to storage '{key}' but the archive has no member '{name}'") from None
            nbytes = numel * _ITEMSIZE[code]
            if nbytes > _MAX_STORAGE_BYTES:
                raise CheckpointProblem(f"storage '{name}' claims {nbytes} bytes, more than any model checkpoint")
            if info.file_size != nbytes:
                raise CheckpointProblem(
                    f"storage '{name}' holds {info.file_size} bytes, but {numel} elements of "
                    f"torch.{tname} need {nbytes}"
                )
            raw = member(name)
            if len(raw) != nbytes:
                raise CheckpointProblem(f"storage '{name}' is truncated ({len(raw)} of {nbytes} bytes)")
            st = _Storage(key, code, _decode(raw, code, order), order)
            storages[key] = st
            return st

        data = member(f"{root}/data.pkl", _MAX_PICKLE_BYTES)
        return restricted_pickle_load(data, _TENSOR_GLOBALS, load_storage, what=f"the pickle '{root}/data.pkl'")


def read_plain_pickle(data: bytes, what: str):
    """Unpickle a hyperparameter file (plain containers, OrderedDict, argparse.Namespace)."""
    obj = restricted_pickle_load(data, _PLAIN_GLOBALS, None, what=what)
    return _plain(obj)


def _plain(obj, depth=0):
    if depth > 20:
        return None
    if isinstance(obj, Namespace):
        return {str(k): _plain(v, depth + 1) for k, v in vars(obj).items()}
    if isinstance(obj, dict):
        return {k: _plain(v, depth + 1) for k, v in obj.items()}
    return obj
