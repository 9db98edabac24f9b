"""Read the PLRNN authors' checkpoints without torch or Julia.

API::

    is_checkpoint(path) -> bool
    read_checkpoint(path, kind=None, P=None) -> dict   # a model dictionary (DESIGN §3)

Formats: PyTorch zip checkpoints (``torch.save`` of a state dict; read with a restricted
unpickler that admits only tensor-rebuild/storage globals and numpy, see ``torchzip``) and
Julia BSON.jl checkpoints (``model_<epoch>.bson``; a pure-Python BSON reader, see ``bson``).
Key layouts and what each becomes are described in ``layouts``. Parameters come back as
float64 numpy arrays converted exactly from the stored floats; the one exception is the
``relu-affine`` form of a mean-centred model, whose entries 1 - 1/M and -1/M (and products
that float64 cannot hold) are exact ``"p/q"`` strings in an object array.

Every problem with a file raises :class:`symbolic.errors.ModelError` whose message is one
sentence naming the file and the problem.
"""
from __future__ import annotations

import os
import struct

from ..errors import ModelError
from ._common import CheckpointProblem
from .bson import decode_bsonjl, looks_like_bson, parse_bson
from .layouts import julia_model, normalize_kind, state_dict_model
from .torchzip import is_legacy_torch, is_torch_zip, read_torch_zip

__all__ = ["is_checkpoint", "read_checkpoint"]

_MAX_BSON_BYTES = 2**31 - 1


def _first_member_is_pickle(head: bytes) -> bool:
    """A zip whose first local file header names ``<root>/data.pkl`` (even if truncated)."""
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        return False
    n = struct.unpack_from("<H", head, 26)[0]
    name = head[30: 30 + n]
    return len(name) == n and name.endswith(b"/data.pkl") and name.count(b"/") == 1


def is_checkpoint(path) -> bool:
    """True for a PyTorch zip checkpoint (a zip with ``<name>/data.pkl``; NPZ files are zips
    too and give False), a pre-1.6 PyTorch file, or a BSON file."""
    try:
        p = os.fspath(path)
        if not os.path.isfile(p):
            return False
        size = os.path.getsize(p)
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except (OSError, TypeError, ValueError):
        return False
    if head[:2] == b"PK":
        return is_torch_zip(p) or _first_member_is_pickle(head)
    if is_legacy_torch(head):
        return True
    return looks_like_bson(head, size)


def _read(p: str, kind: str | None, P: int | None) -> dict:
    if not os.path.exists(p):
        raise CheckpointProblem("no such file")
    if os.path.isdir(p):
        raise CheckpointProblem("is a directory, not a checkpoint file")
    size = os.path.getsize(p)
    if size == 0:
        raise CheckpointProblem("the file is empty")
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if head[:2] == b"PK":
        obj = read_torch_zip(p)
        return state_dict_model(obj, p, kind, P)
    if is_legacy_torch(head):
        raise CheckpointProblem(
            "this is the legacy (torch < 1.6) checkpoint format, which is not supported; "
            "re-save it with a current torch.save"
        )
    plausible_bson = len(head) >= 5 and head[4] in (0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0A, 0x10, 0x12)
    if looks_like_bson(head, size) or p.lower().endswith(".bson") or plausible_bson:
        if size > _MAX_BSON_BYTES:
            raise CheckpointProblem(f"BSON file of {size} bytes is too large")
        with open(p, "rb") as fh:
            data = fh.read()
        root = decode_bsonjl(parse_bson(data))
        return julia_model(root, p, kind, P)
    raise CheckpointProblem(
        "not a checkpoint: neither a PyTorch zip archive (<name>/data.pkl) nor a BSON file"
    )


def read_checkpoint(path, kind: str | None = None, P: int | None = None) -> dict:
    """The model dictionary stored in a PyTorch zip or Julia BSON checkpoint.

    *kind* overrides layout detection (``plrnn``, ``dendplrnn``, ``clipped-dendplrnn``,
    ``shplrnn``, ``clipped-shplrnn``, ``alrnn``; the authors' names such as ``dendr-PLRNN`` or
    ``clippedShallowPLRNN`` also work); *P* is the ALRNN's number of ReLU units when the file
    does not store it. Raises ModelError (one sentence naming the file) for any bad input.
    """
    try:
        p = os.fspath(path)
    except TypeError:
        raise ModelError(f"{path!r} is not a file path") from None
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    try:
        if kind is not None:
            if not isinstance(kind, str):
                raise CheckpointProblem(f"kind must be a string, got {kind!r}")
            kind = normalize_kind(kind)
        if P is not None:
            if isinstance(P, bool) or not isinstance(P, int) and not hasattr(P, "__index__"):
                raise CheckpointProblem(f"P must be a non-negative integer, got {P!r}")
            P = int(P.__index__())
            if P < 0:
                raise CheckpointProblem(f"P must be a non-negative integer, got {P}")
        out = _read(p, kind, P)
    except CheckpointProblem as exc:
        raise ModelError(f"{p}: {exc}") from None
    except ModelError:
        raise
    except MemoryError:
        raise ModelError(f"{p}: the checkpoint needs more memory than is available") from None
    except Exception as exc:  # never let a raw exception escape for a bad file
        raise ModelError(f"{p}: could not be read as a checkpoint ({type(exc).__name__}: {exc})") from None
    out["name"] = os.path.basename(p)
    return out
