"""File digests: the one sha256 helper for checkpoints, exports and provenance manifests.

`cached_file_sha256` remembers the digests of large files that are read again and again (a
checkpoint is hashed on every load to check it, and again for the provenance record): hashing a
700 MB checkpoint takes seconds. An entry is keyed by the file's identity and state as the file
system reports them (device, inode, size, modification and change time in nanoseconds); any write
to the file changes its change time, which no user can set back, so a changed file misses the
cache and is hashed again. As git does for its index, a file changed within the last few seconds
is not remembered: a second write within the same timestamp tick would not be seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# smaller files are hashed every time: cheaper than a cache entry
CACHE_MIN_BYTES = 16 << 20
# a file changed this recently is not remembered (a same-tick rewrite would keep its times)
RACY_SECONDS = 3.0
CACHE_ENV = "REENACT_CACHE_DIR"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where reenact keeps what it can recompute: $REENACT_CACHE_DIR, else
    $XDG_CACHE_HOME/reenact, else ~/.cache/reenact."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reenact"


def _state(stat: os.stat_result) -> dict[str, int]:
    return {"dev": stat.st_dev, "ino": stat.st_ino, "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}


def cached_file_sha256(path: str | os.PathLike[str]) -> str:
    """`file_sha256(path)`, remembered in the cache directory for files of CACHE_MIN_BYTES and
    more while the file's device, inode, size, mtime and ctime stay the same (see module)."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    if stat.st_size < CACHE_MIN_BYTES:
        return file_sha256(real)
    state = _state(stat)
    entry = cache_dir() / "digests" / (hashlib.sha256(real.encode()).hexdigest() + ".json")
    try:
        cached = json.loads(entry.read_text())
        if cached.get("path") == real and cached.get("state") == state \
                and isinstance(cached.get("sha256"), str):
            return cached["sha256"]
    except (OSError, ValueError):
        pass
    digest = file_sha256(real)
    after = os.stat(real)
    racy = time.time() - max(after.st_mtime, after.st_ctime) < RACY_SECONDS
    if _state(after) == state and not racy:
        _write_entry(entry, {"path": real, "state": state, "sha256": digest})
    return digest


def _write_entry(entry: Path, record: dict) -> None:
    """Atomically, and only as a convenience: a cache that cannot be written is skipped."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".digest-")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump(record, stream)
            os.replace(temporary, entry)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        logger.debug("digest cache not written (%s): %s", entry, error)
