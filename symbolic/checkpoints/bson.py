"""A small pure-Python BSON reader and the decoding of BSON.jl's tagged documents.

BSON (bsonspec.org): a document is ``int32 total_length, elements..., 0x00``; an element is
``type byte, key cstring, value``. All integers and doubles are little-endian.

BSON.jl (``BSON.@save path model``) lowers Julia values to tagged documents:

* arrays of bits types: ``{tag: "array", type: <datatype>, size: [d1, d2, ...], data: <binary>}``
  with the elements in column-major (Fortran) order;
* structs: ``{tag: "struct", type: <datatype>, data: [field values in declaration order]}``
  (a primitive-type value has ``data`` = its raw bytes);
* types: ``{tag: "datatype", name: [module path..., "TypeName"], params: [...]}``;
* ``nothing`` is BSON null, ``Int64`` an int64, ``Bool`` a bool, ``Vector{Any}`` a BSON array;
* symbols ``{tag: "symbol", name}``, tuples ``{tag: "tuple", data}``, module references
  ``{tag: "ref", path}``;
* an object met more than once is written once into the root's ``_backrefs`` list and each
  use becomes ``{tag: "backref", ref: i}`` (1-based).

Nothing is evaluated: structs and types stay plain records (:class:`JuliaStruct`,
:class:`JuliaType`) that the layout code inspects by name.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ._common import CheckpointProblem

__all__ = ["parse_bson", "looks_like_bson", "decode_bsonjl", "JuliaStruct", "JuliaType"]

_MAX_DEPTH = 200


class _Reader:
    def __init__(self, data: bytes):
        self.data = data

    def fail(self, msg: str, pos: int):
        raise CheckpointProblem(f"corrupt BSON at byte {pos}: {msg}")

    def int32(self, pos: int, end: int) -> int:
        if pos + 4 > end:
            self.fail("truncated 32-bit integer", pos)
        return struct.unpack_from("<i", self.data, pos)[0]

    def cstring(self, pos: int, end: int) -> tuple[str, int]:
        stop = self.data.find(b"\x00", pos, end)
        if stop < 0:
            self.fail("unterminated key or C string", pos)
        try:
            return self.data[pos:stop].decode("utf-8"), stop + 1
        except UnicodeDecodeError:
            self.fail("key is not valid UTF-8", pos)

    def string(self, pos: int, end: int) -> tuple[str, int]:
        n = self.int32(pos, end)
        if n < 1 or pos + 4 + n > end:
            self.fail(f"string length {n} does not fit", pos)
        raw = self.data[pos + 4: pos + 4 + n]
        if raw[-1:] != b"\x00":
            self.fail("string is not NUL-terminated", pos)
        try:
            return raw[:-1].decode("utf-8"), pos + 4 + n
        except UnicodeDecodeError:
            self.fail("string is not valid UTF-8", pos)

    def document(self, pos: int, end: int, depth: int, as_list: bool):
        if depth > _MAX_DEPTH:
            self.fail("documents nested too deeply", pos)
        n = self.int32(pos, end)
        if n < 5 or pos + n > end:
            self.fail(f"document length {n} does not fit in the {end - pos} bytes left", pos)
        dend = pos + n
        if self.data[dend - 1] != 0:
            self.fail("document does not end with a NUL byte", dend - 1)
        out: list | dict = [] if as_list else {}
        p = pos + 4
        while True:
            if p >= dend:
                self.fail("document runs past its length", p)
            t = self.data[p]
            if t == 0:
                if p != dend - 1:
                    self.fail("document ends before its stated length", p)
                break
            key, p = self.cstring(p + 1, dend - 1)
            value, p = self.value(t, p, dend - 1, depth)
            if as_list:
                out.append(value)
            else:
                out[key] = value
        return out, dend

    def value(self, t: int, p: int, end: int, depth: int):
        d = self.data
        if t == 0x01:  # double
            if p + 8 > end:
                self.fail("truncated double", p)
            return struct.unpack_from("<d", d, p)[0], p + 8
        if t in (0x02, 0x0D, 0x0E):  # string, JavaScript code, symbol
            return self.string(p, end)
        if t == 0x03:
            return self.document(p, end, depth + 1, as_list=False)
        if t == 0x04:
            return self.document(p, end, depth + 1, as_list=True)
        if t == 0x05:  # binary: int32 length, subtype, bytes
            n = self.int32(p, end)
            if n < 0 or p + 5 + n > end:
                self.fail(f"binary length {n} does not fit", p)
            sub = d[p + 4]
            raw = bytes(d[p + 5: p + 5 + n])
            if sub == 0x02:  # old binary subtype: inner int32 length
                if n < 4 or struct.unpack_from("<i", raw, 0)[0] != n - 4:
                    self.fail("malformed old-style binary", p)
                raw = raw[4:]
            return raw, p + 5 + n
        if t in (0x06, 0x0A, 0x7F, 0xFF):  # undefined, null, max key, min key
            return None, p
        if t == 0x07:  # ObjectId
            if p + 12 > end:
                self.fail("truncated ObjectId", p)
            return bytes(d[p: p + 12]), p + 12
        if t == 0x08:
            if p + 1 > end or d[p] not in (0, 1):
                self.fail("bad boolean", p)
            return bool(d[p]), p + 1
        if t in (0x09, 0x12):  # UTC datetime, int64
            if p + 8 > end:
                self.fail("truncated 64-bit integer", p)
            return struct.unpack_from("<q", d, p)[0], p + 8
        if t == 0x11:  # timestamp
            if p + 8 > end:
                self.fail("truncated timestamp", p)
            return struct.unpack_from("<Q", d, p)[0], p + 8
        if t == 0x10:
            return self.int32(p, end), p + 4
        if t == 0x0B:  # regex: two cstrings
            a, p = self.cstring(p, end)
            b, p = self.cstring(p, end)
            return (a, b), p
        if t == 0x0C:  # DBPointer
            s, p = self.string(p, end)
            if p + 12 > end:
                self.fail("truncated DBPointer", p)
            return (s, bytes(d[p: p + 12])), p + 12
        if t == 0x0F:  # code with scope
            n = self.int32(p, end)
            if n < 14 or p + n > end:
                self.fail("bad code-with-scope length", p)
            code, q = self.string(p + 4, p + n)
            scope, q = self.document(q, p + n, depth + 1, as_list=False)
            return (code, scope), p + n
        if t == 0x13:  # decimal128
            if p + 16 > end:
                self.fail("truncated decimal128", p)
            return bytes(d[p: p + 16]), p + 16
        self.fail(f"unknown element type 0x{t:02x}", p - 1)


def looks_like_bson(head: bytes, size: int) -> bool:
    """Cheap signature test: int32 length equal to the file size, then a valid first element."""
    if size < 5 or len(head) < 5:
        return False
    n = struct.unpack_from("<i", head, 0)[0]
    if n != size:
        return False
    t = head[4]
    if t == 0:
        return size == 5
    return t in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D,
                 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x7F, 0xFF)


def parse_bson(data: bytes) -> dict:
    """The root document of *data* as nested dicts/lists (raises CheckpointProblem)."""
    r = _Reader(data)
    if len(data) < 5:
        raise CheckpointProblem(f"BSON file of {len(data)} bytes is truncated")
    n = struct.unpack_from("<i", data, 0)[0]
    if n != len(data):
        raise CheckpointProblem(
            f"BSON document says it is {n} bytes but the file has {len(data)}, so it is truncated or corrupt"
        )
    doc, _ = r.document(0, len(data), 0, as_list=False)
    return doc


# ----------------------------------------------------------------------------- BSON.jl

@dataclass
class JuliaType:
    path: list
    params: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.path[-1]) if self.path else "?"


@dataclass
class JuliaStruct:
    type: JuliaType
    fields: list

    @property
    def name(self) -> str:
        return self.type.name if isinstance(self.type, JuliaType) else "?"


@dataclass
class JuliaSymbol:
    name: str


_JL_BITS = {
    "Float64": "<f8", "Float32": "<f4", "Float16": "<f2", "Int64": "<i8", "Int32": "<i4",
    "Int16": "<i2", "Int8": "i1", "UInt64": "<u8", "UInt32": "<u4", "UInt16": "<u2",
    "UInt8": "u1", "Bool": "?",
}


class _Decoder:
    def __init__(self, backrefs: list):
        self.backrefs = backrefs
        self.done: dict[int, object] = {}
        self.busy: set[int] = set()

    def fail(self, msg: str):
        raise CheckpointProblem(f"BSON.jl data: {msg}")

    def decode(self, x, depth: int = 0):
        if depth > _MAX_DEPTH:
            self.fail("values nested too deeply")
        if isinstance(x, list):
            return [self.decode(v, depth + 1) for v in x]
        if not isinstance(x, dict):
            return x
        tag = x.get("tag")
        if not isinstance(tag, str):
            return {k: self.decode(v, depth + 1) for k, v in x.items()}
        if tag == "backref":
            ref = x.get("ref")
            if isinstance(ref, bool) or not isinstance(ref, int) or not 1 <= ref <= len(self.backrefs):
                self.fail(f"backref {ref!r} outside the {len(self.backrefs)} stored references")
            if ref in self.done:
                return self.done[ref]
            if ref in self.busy:
                self.fail(f"backref {ref} refers to itself (a cyclic structure, which no model has)")
            self.busy.add(ref)
            val = self.decode(self.backrefs[ref - 1], depth + 1)
            self.busy.discard(ref)
            self.done[ref] = val
            return val
        if tag == "datatype":
            name = x.get("name")
            if isinstance(name, str):
                name = [name]
            if not isinstance(name, list) or not all(isinstance(s, str) for s in name):
                self.fail("a datatype without a name path")
            params = x.get("params") or []
            return JuliaType(list(name), self.decode(params, depth + 1) if isinstance(params, list) else [])
        if tag == "array":
            return self.array(x, depth)
        if tag == "struct":
            t = self.decode(x.get("type"), depth + 1)
            if not isinstance(t, JuliaType):
                self.fail("a struct whose type is not a datatype")
            data = x.get("data")
            if isinstance(data, (bytes, bytearray)):  # primitive type: raw bytes
                code = _JL_BITS.get(t.name)
                if code is None or len(data) != np.dtype(code).itemsize:
                    return JuliaStruct(t, [bytes(data)])
                return np.frombuffer(bytes(data), dtype=code)[0].item()
            if data is None:
                data = []
            if not isinstance(data, list):
                self.fail(f"struct {t.name} has fields of type {type(data).__name__}")
            return JuliaStruct(t, [self.decode(v, depth + 1) for v in data])
        if tag == "symbol":
            return JuliaSymbol(str(x.get("name")))
        if tag in ("tuple", "svec"):
            data = x.get("data") or []
            return tuple(self.decode(data, depth + 1)) if isinstance(data, list) else ()
        if tag == "ref":
            return JuliaType([str(s) for s in (x.get("path") or [])])
        return {k: self.decode(v, depth + 1) for k, v in x.items()}

    def array(self, x: dict, depth: int):
        t = self.decode(x.get("type"), depth + 1)
        size = x.get("size")
        if not isinstance(size, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in size):
            self.fail(f"array with size {size!r}")
        tname = t.name if isinstance(t, JuliaType) else "?"
        data = x.get("data")
        count = int(np.prod(size, dtype=object)) if size else 1
        if isinstance(data, (bytes, bytearray)):
            code = _JL_BITS.get(tname)
            if code is None:
                self.fail(f"array of element type {tname} is not supported (expected Float32 or Float64 numbers)")
            item = np.dtype(code).itemsize
            if len(data) != count * item:
                self.fail(f"array of {tname} with size {tuple(size)} needs {count * item} bytes, found {len(data)}")
            flat = np.frombuffer(bytes(data), dtype=code)
            return flat.reshape(tuple(size), order="F").copy()
        if isinstance(data, list):
            vals = [self.decode(v, depth + 1) for v in data]
            if len(vals) != count:
                self.fail(f"array with size {tuple(size)} has {len(vals)} elements")
            out = np.empty(count, dtype=object)
            out[:] = vals
            return out.reshape(tuple(size), order="F")
        if count == 0:
            return np.zeros(tuple(size), dtype=_JL_BITS.get(tname, "<f8"))
        self.fail(f"array data of type {type(data).__name__}")


def decode_bsonjl(root: dict) -> dict:
    """Resolve BSON.jl tags and backrefs of a parsed root document."""
    if not isinstance(root, dict):
        raise CheckpointProblem("BSON root is not a document")
    backrefs = root.get("_backrefs", [])
    if not isinstance(backrefs, list):
        raise CheckpointProblem("BSON.jl data: '_backrefs' is not a list")
    dec = _Decoder(backrefs)
    return {k: dec.decode(v) for k, v in root.items() if k != "_backrefs"}
