"""The digest cache: a remembered sha256 is returned only while the file is unchanged."""

from __future__ import annotations

import hashlib
import os

import pytest

from reenact.io import digest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Every file cached (no size floor, no racy window), in a cache directory of the test's own;
    counts the files actually hashed."""
    monkeypatch.setenv(digest.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(digest, "CACHE_MIN_BYTES", 0)
    monkeypatch.setattr(digest, "RACY_SECONDS", 0.0)
    hashed = []
    real = digest.file_sha256

    def counting(path):
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(digest, "file_sha256", counting)
    return hashed


def _write(path, data: bytes, mtime_ns: int | None = None) -> None:
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_second_call_is_served_from_the_cache(tmp_path, cache):
    path = tmp_path / "weights.bin"
    _write(path, b"a" * 1000)
    expected = hashlib.sha256(b"a" * 1000).hexdigest()
    assert digest.cached_file_sha256(path) == expected
    assert digest.cached_file_sha256(path) == expected
    assert len(cache) == 1
    assert len(list((tmp_path / "cache" / "digests").iterdir())) == 1


def test_changed_content_same_size_and_mtime_is_hashed_again(tmp_path, cache):
    """A rewrite that keeps the size and sets the mtime back still changes the ctime."""
    path = tmp_path / "weights.bin"
    _write(path, b"a" * 1000, mtime_ns=1_600_000_000_000_000_000)
    digest.cached_file_sha256(path)
    before = os.stat(path).st_ctime_ns
    while os.stat(path).st_ctime_ns == before:  # wait for the clock to move on, in case it is coarse
        _write(path, b"b" * 1000, mtime_ns=1_600_000_000_000_000_000)
    assert digest.cached_file_sha256(path) == hashlib.sha256(b"b" * 1000).hexdigest()
    assert len(cache) == 2


def test_a_replaced_file_is_hashed_again(tmp_path, cache):
    path, other = tmp_path / "weights.bin", tmp_path / "other.bin"
    _write(path, b"a" * 1000)
    digest.cached_file_sha256(path)
    _write(other, b"c" * 1000, mtime_ns=os.stat(path).st_mtime_ns)
    os.replace(other, path)  # another inode at the same path
    assert digest.cached_file_sha256(path) == hashlib.sha256(b"c" * 1000).hexdigest()


def test_recently_changed_files_are_not_remembered(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(digest, "RACY_SECONDS", 3600.0)
    path = tmp_path / "weights.bin"
    _write(path, b"a" * 1000)
    digest.cached_file_sha256(path)
    digest.cached_file_sha256(path)
    assert len(cache) == 2
    assert not (tmp_path / "cache" / "digests").exists()


def test_small_files_are_always_hashed(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(digest, "CACHE_MIN_BYTES", 1 << 20)
    path = tmp_path / "config.json"
    _write(path, b"{}")
    digest.cached_file_sha256(path)
    digest.cached_file_sha256(path)
    assert len(cache) == 2


def test_an_unwritable_cache_still_gives_the_digest(tmp_path, cache, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(digest.CACHE_ENV, str(blocker))
    path = tmp_path / "weights.bin"
    _write(path, b"a" * 1000)
    assert digest.cached_file_sha256(path) == hashlib.sha256(b"a" * 1000).hexdigest()


def test_a_corrupt_entry_is_ignored(tmp_path, cache):
    path = tmp_path / "weights.bin"
    _write(path, b"a" * 1000)
    digest.cached_file_sha256(path)
    (entry,) = (tmp_path / "cache" / "digests").iterdir()
    entry.write_text("{not json")
    assert digest.cached_file_sha256(path) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert len(cache) == 2


def test_checkpoint_loading_still_refuses_a_changed_weights_file(tmp_path, cache):
    """The integrity check of a checkpoint goes through the cache and still sees a change."""
    import torch

    from reenact.checkpoint.format import CheckpointError, load_checkpoint, save_checkpoint
    from reenact.models import MotionModel
    from reenact.presets import get_preset

    torch.manual_seed(0)
    save_checkpoint(MotionModel(get_preset("tiny-64")), tmp_path / "ckpt")
    load_checkpoint(tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    mtime = os.stat(weights).st_mtime_ns
    _write(weights, bytes(data), mtime_ns=mtime)
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_checkpoint(tmp_path / "ckpt")
