"""Atomic writes and checked reads for every file the pipeline produces.

Every writer goes through a temporary name in the destination folder and an
atomic rename, so a killed job never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DiskFullError, InputError


class DataError(InputError):
    """A file on disk is missing, damaged or does not hold what it should."""


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


NEARLY_FULL = 64 << 20  # bytes: less free space than this after a failed write means the disk filled up


def _disk_full(folder: Path, err: BaseException) -> str | None:
    """Why a failed write in `folder` was the disk filling up, or None. Writers that lose the errno
    (torch.save: 'basic_ios::clear: iostream error') are judged by the space left."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return os.strerror(err.errno).lower()
        err = err.__cause__ or err.__context__
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    free = stat.f_bavail * stat.f_frsize
    return f"{free / 2 ** 20:.1f} MiB left" if free < NEARLY_FULL else None


# torch.save's failed writes, which lose the errno: its stream and its zip writer (inline_container.cc)
TORCH_WRITE_FAILED = ("iostream", "basic_ios", "inline_container.cc", "PytorchStreamWriter")


@contextlib.contextmanager
def reporting_full_disk(path: str | os.PathLike) -> Iterator[None]:
    """Turn a write into `path` that failed because the disk is full into one DiskFullError line."""
    try:
        yield
    except (OSError, RuntimeError) as err:  # anything else (a bug, bad data) keeps its own message
        if isinstance(err, RuntimeError) and not any(w in str(err) for w in TORCH_WRITE_FAILED):
            raise
        why = _disk_full(Path(path).parent, err)
        if why is None:
            raise
        raise DiskFullError(f"{path}: the disk is full ({why}); nothing was written: free some space and "
                            "rerun") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success. A full disk is one line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with reporting_full_disk(path):  # checked before the partial file is removed: it holds the space
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results are shared like any other file
            yield Path(tmp)
            os.replace(tmp, path)
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


CHECKSUM = b"prunebench.checksum"  # metadata key: digest of the other metadata, the column names and row count


def _footer_digest(schema: pa.Schema, metadata: dict[bytes, bytes], rows: int) -> bytes:
    """What page checksums do not cover: the column names, the row count and the metadata the steps read."""
    digest = hashlib.sha256("\0".join([*schema.names, str(rows)]).encode())
    for key in sorted(k for k in metadata if k != CHECKSUM):
        digest.update(b"\0" + key + b"\0" + metadata[key])
    return digest.hexdigest().encode()


def write_table(table: pa.Table, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Write `table` as Parquet; `metadata` values are stored as JSON under their keys.

    Every page carries a CRC and the footer a digest, both verified by `read_table`.
    """
    encoded = {k.encode(): json.dumps(v, sort_keys=True).encode() for k, v in (metadata or {}).items()}
    merged = {**(table.schema.metadata or {}), **encoded}
    merged[CHECKSUM] = _footer_digest(table.schema, merged, table.num_rows)
    table = table.replace_schema_metadata(merged)
    # dictionary pages only pay for labels and names: on float signals they cost 4x the read time
    dictionary = [f.name for f in table.schema if not pa.types.is_floating(
        f.type.value_type if pa.types.is_fixed_size_list(f.type) else f.type)]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=dictionary, write_page_checksum=True)


def read_table(path: str | os.PathLike, columns: list[str] | None = None, required: tuple[str, ...] = ()) -> pa.Table:
    """Read a Parquet file written by `write_table` (or only `columns`), verifying its page checksums and
    footer digest; a missing, damaged or foreign file is one line naming it.

    `columns` and `required` must all be present; `required` ones are checked without narrowing the read.
    """
    try:
        with pq.ParquetFile(path, page_checksum_verification=True) as file:
            schema, rows = file.schema_arrow, file.metadata.num_rows
            stored = (schema.metadata or {}).get(CHECKSUM)
            if stored is None:
                raise DataError(f"{path}: has no prunebench checksum (written by another tool or an older version);"
                                " delete it and rerun")
            if stored != _footer_digest(schema, schema.metadata, rows):
                raise DataError(f"{path}: damaged (its columns or metadata do not match its checksum)")
            missing = [c for c in [*(columns or []), *required] if c not in schema.names]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            return file.read(columns=columns)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (pa.ArrowException, OSError) as err:
        message = str(err).splitlines()[0]
        raise DataError(f"{path}: damaged or not a Parquet file ({message})") from None


def table_metadata(table: pa.Table, path: str | os.PathLike = "table",
                   required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON metadata written by `write_table` (pandas' key and the checksum are skipped); `required` keys
    must be there."""
    raw = table.schema.metadata or {}
    meta = {k.decode(): json.loads(v) for k, v in raw.items() if not k.startswith(b"pandas") and k != CHECKSUM}
    missing = [key for key in required if key not in meta]
    if missing:
        raise DataError(f"{path}: missing metadata key(s) {', '.join(missing)}")
    return meta


def matrix_column(values: np.ndarray) -> pa.FixedSizeListArray:
    """An (N, T) array as a fixed-size list column, one row per sample."""
    values = np.ascontiguousarray(values)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def column_matrix(table: pa.Table, name: str) -> np.ndarray:
    """A fixed-size list column as an (N, T) numpy array, without copying when possible."""
    column = table.column(name).combine_chunks()
    if not pa.types.is_fixed_size_list(column.type):
        raise DataError(f"column {name!r} is {column.type}, expected a fixed-size list")
    flat = column.flatten().to_numpy(zero_copy_only=False)  # a view when the column has no nulls
    return flat.reshape(len(column), column.type.list_size)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file read in blocks (stores may exceed the memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(data: dict[str, Any], path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
