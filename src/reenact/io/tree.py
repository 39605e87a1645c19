"""Files under a directory, found through symbolic links to other directories too (`Path.rglob`
before Python 3.13 does not follow them, so a folder of linked folders looked empty), each real
directory visited once so that a link cycle ends."""

from __future__ import annotations

import os
from pathlib import Path


def files_under(root: str | os.PathLike, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file under `root` (recursively, through directory links) whose suffix, lower-cased,
    is one of `suffixes`; sorted, as paths under `root`."""
    found: list[Path] = []
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree, or a second link to the same folder
            subfolders[:] = []
            continue
        seen.add(real)
        found.extend(Path(folder) / name for name in names
                     if Path(name).suffix.lower() in suffixes and os.path.isfile(os.path.join(folder, name)))
    return sorted(found)
