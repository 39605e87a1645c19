"""Outputs that appear whole or not at all.

A writer fills a temporary file in the target's own directory (`.NAME.partial-XXXXXXXX.EXT`, same
file system, so the final `os.replace` is atomic) and the file takes the target's name only when
the writer finishes cleanly. On any exception, KeyboardInterrupt included, or when the object is
garbage collected without being committed, the temporary file is deleted. Outputs that belong
together (a video and its manifest) are renamed into place together by `commit_together`.

Output directories (checkpoints, exports) are filled as a sibling temporary directory and swapped
in by `replace_directory`; an existing directory is replaced only if it holds nothing but the
files of that kind of output, and only those files are ever deleted.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import tempfile
import weakref
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from reenact.io.errors import media_error

logger = logging.getLogger(__name__)

_PARTIAL_TAG = ".partial-"


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def check_output_directory(path: str | os.PathLike[str]) -> Path:
    """`path` as a Path, after checking that it is not a directory and its directory is writable."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise media_error(path, "is a directory; give a file name for the output")
    directory = path.absolute().parent
    if not directory.is_dir():
        raise media_error(path, f"output directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise media_error(path, f"output directory {directory} is not writable")
    return path


def _temp_name(path: Path) -> str:
    """The name of a temporary file of `path` (random: a new one on each call)."""
    stem = path.stem if path.suffix else path.name
    return f".{stem}{_PARTIAL_TAG}{secrets.token_hex(4)}{path.suffix}"


def check_atomic_output(path: str | os.PathLike[str]) -> Path:
    """`check_output_directory`, and that the temporary file of `path` can have its name: what
    `AtomicOutput(path)` checks, without creating anything (for checks before long work)."""
    path = check_output_directory(path)
    directory = path.absolute().parent
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):  # not known on this system: the write will tell
        return path
    longest = max(len(os.fsencode(path.name)), len(os.fsencode(_temp_name(path))))
    if longest > limit:
        raise media_error(path, f"cannot create a file in {directory} (File name too long: "
                                f"{longest} bytes with its temporary name, at most {limit}); "
                                f"choose a shorter name")
    return path


class AtomicOutput:
    """A reserved temporary file next to `path`; `commit()` renames it into place.

    `temp_path` exists (empty) from construction on, keeps the target's suffix so that writers
    which pick a format from the extension still work, and is removed by `discard()`, by a failed
    `commit()`, or when this object is garbage collected uncommitted.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_output_directory(path)
        directory = self.path.absolute().parent
        while True:
            candidate = directory / _temp_name(self.path)
            try:
                # O_EXCL reserves the name; mode 0o666 lets the umask decide the final permissions
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except OSError as error:
                reason = "permission denied" if error.errno in (errno.EACCES, errno.EPERM) \
                    else error.strerror
                raise media_error(self.path, f"cannot create a file in {directory} ({reason})") \
                    from None
            os.close(fd)
            break
        self.temp_path = candidate
        self._cleanup = weakref.finalize(self, _remove_quietly, str(candidate))
        self.committed = False

    @property
    def finished(self) -> bool:
        """True once the output was committed or discarded."""
        return not self._cleanup.alive

    def commit(self) -> Path:
        """Rename the temporary file to `path` (replacing any file there) and return `path`."""
        if self.finished:
            raise RuntimeError(f"{self.path}: output was already committed or discarded")
        try:
            os.replace(self.temp_path, self.path)
        except BaseException:
            self._cleanup()
            raise
        self._cleanup.detach()
        self.committed = True
        logger.debug("wrote %s", self.path)
        return self.path

    def discard(self) -> None:
        """Delete the temporary file; `path` is left untouched. Safe to call more than once."""
        self._cleanup()


def _keep_previous(path: Path) -> Path | None:
    """A hard link to the regular file at `path` (to put back if a joint commit fails), or None."""
    if path.is_symlink() or not path.is_file():
        return None
    backup = path.with_name(f".{path.name}.previous-{secrets.token_hex(4)}")
    try:
        os.link(path, backup)
    except OSError as error:  # a file system without hard links: no way back, but no loss either
        logger.debug("%s: cannot keep the previous file (%s)", path, error)
        return None
    return backup


def commit_together(outputs: Sequence[AtomicOutput]) -> list[Path]:
    """Rename every output into place, or none of them: the outputs of one run (a video and its
    manifest) appear together. Files they replace are kept until all are in place and put back
    if one rename fails; on failure every temporary file is deleted and the error raised."""
    previous = [_keep_previous(output.path) for output in outputs]
    committed: list[int] = []
    try:
        for index, output in enumerate(outputs):
            output.commit()
            committed.append(index)
    except BaseException:
        for index in committed:
            with contextlib.suppress(OSError):
                if previous[index] is not None:
                    os.replace(previous[index], outputs[index].path)  # type: ignore[arg-type]
                else:
                    os.remove(outputs[index].path)
        for output in outputs:
            output.discard()
        raise
    finally:
        for backup in previous:
            if backup is not None:
                _remove_quietly(str(backup))
    return [output.path for output in outputs]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; it becomes `path` only if the block succeeds.

    ```
    with atomic_output("out.png") as temp:
        image.save(temp)
    ```
    """
    output = AtomicOutput(path)
    try:
        yield output.temp_path
    except BaseException:
        output.discard()
        raise
    output.commit()


def foreign_entries(directory: str | os.PathLike[str], owned: Collection[str]) -> list[str]:
    """Names of the entries of `directory` other than the files named in `owned` (sorted)."""
    root = Path(directory)
    return sorted(entry.name for entry in root.iterdir()
                  if entry.name not in owned or entry.is_symlink() or not entry.is_file())


def check_replaceable_directory(target: str | os.PathLike[str], owned: Collection[str], *,
                                marker: str, what: str) -> None:
    """Raise ValueError unless `target` is absent, or a directory that holds the file `marker` and
    nothing but `owned` files.

    what: the kind of output, for the message ("reenact checkpoint", "ONNX export").
    """
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        return
    article = "an" if what[:1].lower() in "aeiou" else "a"
    if target.is_symlink() or not target.is_dir() or not (target / marker).is_file():
        raise ValueError(f"{target}: exists and is not {article} {what}; refusing to replace it")
    foreign = foreign_entries(target, owned)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ValueError(f"{target}: holds files that are not part of {article} {what} ({shown}); refusing "
                         f"to replace it, since that would delete them: move them away or choose "
                         f"another output")


def replace_directory(staging: str | os.PathLike[str], target: str | os.PathLike[str],
                      owned: Collection[str], *, marker: str, what: str) -> None:
    """Move the finished directory `staging` to `target` (same file system).

    An existing `target` is checked with `check_replaceable_directory`, renamed aside, replaced by
    `staging` in one rename, and then emptied of the `owned` files only; anything else that
    appeared there in the meantime is kept (with a warning) rather than deleted.
    """
    staging, target = Path(staging), Path(target)
    check_replaceable_directory(target, owned, marker=marker, what=what)
    if not target.exists():
        os.replace(staging, target)
        return
    aside_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.absolute().parent))
    aside = aside_root / target.name
    os.replace(target, aside)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(aside, target)
        os.rmdir(aside_root)
        raise
    for name in owned:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (aside / name).unlink()
    try:
        os.rmdir(aside)
        os.rmdir(aside_root)
    except OSError:
        logger.warning("%s: files that appeared there while it was replaced were kept in %s",
                       target, aside)
