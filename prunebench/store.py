"""A content-keyed store of finished proxy runs, shared across runs, configs and working directories.

Proxy training is the expensive node every method hangs off. Its outputs depend only
on the data, the split, the proxy settings, the seed, the device type and the code, so
those are hashed into a key; when a run with the same key finished before (in any
config, in any working directory pointing at the same store), its files are linked
into place instead of training again. Files are hard links where the store is on the
same filesystem (no extra space; every write in prunebench is a rename, so a stored
inode never changes), copies otherwise.

The store is `$PRUNEBENCH_CACHE` (a shared folder on a cluster), `results/store` when
that is unset, and off when it is `none`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from .io import sha256_file
from .paths import RESULTS

log = logging.getLogger(__name__)

ENV = "PRUNEBENCH_CACHE"
DEFAULT = Path(RESULTS) / "store"
VERSION = 2  # bump when the key's meaning changes


def store_root() -> Path | None:
    value = os.environ.get(ENV, "")
    if value.lower() in ("none", "off", "0"):
        return None
    return Path(value) if value else DEFAULT


def data_digest(data_dir: str | os.PathLike) -> str:
    """The dataset cache: its meta, the labels' contents and every array's size."""
    folder = Path(data_dir)
    digest = hashlib.sha256((folder / "meta.json").read_bytes())
    for path in sorted(folder.glob("*.npy")):
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
        if "label" in path.name:
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def proxy_key(data_dir, split_path, settings: dict, seed: int, repeat: int, device_type: str, code: str) -> dict:
    """Everything a proxy run's outputs depend on; `key_of` turns it into the store's key. `code`: the digest
    of the code the proxy step runs (`pipeline.step_code`, as its rule's param)."""
    import torch

    return {"version": VERSION, "kind": "proxy", "data": data_digest(data_dir), "split": sha256_file(split_path),
            "settings": settings, "seed": int(seed), "repeat": int(repeat), "device": device_type,
            "torch": torch.__version__, "code": code}


def key_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _place(source: Path, target: Path) -> None:
    """Link (or copy) `source` to `target` atomically, with a fresh modification time."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(source, tmp)
        except OSError:  # another filesystem, or links not allowed
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    os.utime(target)  # restored outputs are newer than this run's inputs, like freshly written ones


def restore(parts: dict, out_dir: str | os.PathLike) -> Path | None:
    """Put a stored run's files into `out_dir`; returns the entry, or None when there is none."""
    root = store_root()
    if root is None:
        return None
    entry = root / "proxy" / key_of(parts)
    manifest = entry / "manifest.json"
    if not manifest.exists():
        return None
    files = json.loads(manifest.read_text())["files"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        _place(entry / name, out_dir / name)
    log.info("reused the proxy outputs stored in %s (same data, split, settings, seed, device type and code); "
             "not training", entry)
    return entry


def save(parts: dict, out_dir: str | os.PathLike, files: list[str]) -> Path | None:
    """Store `files` (paths relative to `out_dir`, as the run wrote them) under the run's key."""
    root = store_root()
    if root is None:
        return None
    out_dir = Path(out_dir)
    entry = root / "proxy" / key_of(parts)
    if (entry / "manifest.json").exists():
        return entry
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        for name in files:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            _place(out_dir / name, tmp / name)
        (tmp / "manifest.json").write_text(json.dumps({"files": files, "key": parts,
                                                       "stored": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
        try:
            os.rename(tmp, entry)
        except OSError:  # stored meanwhile by a concurrent run with the same key
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:  # a full or read-only store must not fail a finished training
        log.warning("could not store the proxy outputs in %s: %s", entry, err)
        return None
    log.info("stored the proxy outputs in %s for reuse", entry)
    return entry
