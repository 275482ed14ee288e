"""Reading and writing `.npz` files that may be hostile: every array is checked before it is inflated.

`np.load` trusts a file: a 3 MB archive whose members inflate to gigabytes costs that much memory
and time before any check can run. Here each member's declared size, then each array's header
(dtype and shape, read from the first bytes of the member) are checked against the caller's
expectations and a total cap before a single array is read, and object arrays are never loaded.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

MAX_TOTAL_BYTES = 256 << 20  # all arrays of one file, inflated
MAX_MEMBERS = 256


class BadNpz(Exception):
    """An npz file that is not what its reader expects; the text names the member and the problem."""


@dataclass(frozen=True)
class Expect:
    """What one array must be: its kinds of dtype ("f" float, "u" unsigned, "i" signed, "U" text, "b" bool),
    its number of dimensions, and optional fixed sizes per dimension (None: any)."""

    kinds: str
    ndim: int
    shape: tuple[int | None, ...] | None = None

    def problem(self, dtype: np.dtype, shape: tuple[int, ...]) -> str | None:
        if dtype.kind not in self.kinds or dtype.hasobject:
            return f"has dtype {dtype}, expected {'/'.join(_KIND_WORDS[k] for k in self.kinds)}"
        if len(shape) != self.ndim:
            return f"has shape {shape}, expected {self.ndim} dimensions"
        if self.shape is not None and any(want is not None and got != want for got, want in zip(shape, self.shape)):
            return f"has shape {shape}, expected {tuple('N' if s is None else s for s in self.shape)}"
        return None


_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
_KIND_WORDS = {"f": "float", "u": "unsigned int", "i": "int", "U": "text", "b": "bool"}


def to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed npz of `arrays`, byte-identical for identical arrays (zip entries carry a fixed date)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            npy_format.write_array(member, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def read(raw: bytes, expected: dict[str, Expect], optional: tuple[str, ...] = (),
         max_total: int = MAX_TOTAL_BYTES) -> dict[str, np.ndarray]:
    """The arrays named in `expected` (all required but those in `optional`), each checked before reading.

    Members the reader does not know are ignored unread. Raises BadNpz with one sentence."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadNpz(f"is not an npz archive ({str(exc)[:80]})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BadNpz(f"has {len(infos)} members, over the limit of {MAX_MEMBERS}")
        members = {info.filename[:-4]: info for info in infos if info.filename.endswith(".npy")}
        missing = [name for name in expected if name not in members and name not in optional]
        if missing:
            raise BadNpz(f"lacks {', '.join(missing)}")
        wanted = [name for name in expected if name in members]
        declared = sum(members[name].file_size for name in wanted)
        if declared > max_total:
            raise BadNpz(f"declares {declared:,} bytes of arrays, over the {max_total:,}-byte limit")
        return {name: _read_member(archive, members[name], name, expected[name]) for name in wanted}


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, expect: Expect) -> np.ndarray:
    try:
        with archive.open(info) as member:
            version = npy_format.read_magic(member)
            if version not in _HEADER_READERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = _HEADER_READERS[version](member, max_header_size=10_000)
            problem = expect.problem(dtype, shape)
            if problem:
                raise BadNpz(f"{name} {problem}")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if size + 10_000 < info.file_size or size > info.file_size:
                raise BadNpz(f"{name} declares {size:,} bytes but its member holds {info.file_size:,}")
            data = member.read(size + 1)
    except BadNpz:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, TypeError) as exc:
        raise BadNpz(f"{name} is unreadable ({str(exc)[:80]})") from None
    if len(data) != size:
        raise BadNpz(f"{name} is truncated")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()
