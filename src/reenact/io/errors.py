"""The one error type of `reenact.io`: a media file that cannot be used, and why.

Every message is a single line that starts with the file and says what is wrong with it, e.g.
`clip.mp4: the video has no frames`, so that a CLI can print it as is.
"""

from __future__ import annotations

import os
from pathlib import Path


class MediaError(ValueError):
    """A media file is missing, unreadable, of the wrong kind, or unusable; the message names it."""


def media_error(path: str | os.PathLike[str], problem: str) -> MediaError:
    """A MediaError `"PATH: problem"`, with any line breaks of `problem` folded into one line."""
    return MediaError(f"{Path(path)}: {' '.join(str(problem).split())}")


def check_input_file(path: str | os.PathLike[str], *, what: str = "file") -> Path:
    """`path` as a Path, after checking that it names an existing regular file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise media_error(path, f"{what} not found")
    if path.is_dir():
        raise media_error(path, "is a directory, not a file")
    if not path.is_file():
        raise media_error(path, f"is not a regular file (a pipe or a device?): reenact reads its "
                                f"inputs more than once; save the {what} to a file first")
    if not os.access(path, os.R_OK):
        raise media_error(path, f"{what} is not readable (permission denied)")
    return path
