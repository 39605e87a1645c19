"""Where the release checkpoints shipped with reenact are.

In a source checkout they live in the repository's top-level `checkpoints/` (the design's layout);
the build maps that folder into the package, so an installed wheel has them at
`reenact/checkpoints/`. The first of those that exists wins.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../reenact
INSTALLED_DIR = PACKAGE_DIR / "checkpoints"  # a wheel or `pip install .`
SOURCE_DIR = PACKAGE_DIR.parents[1] / "checkpoints"  # src/reenact -> the repository root


def bundled_checkpoint(name: str) -> Path:
    """The directory of the bundled checkpoint `name` (e.g. "default", "default-audio").

    The path is returned even where it does not exist (a build without checkpoints): callers check
    for its config file and fall back with a warning.
    """
    for root in (INSTALLED_DIR, SOURCE_DIR):
        if (root / name).is_dir():
            return root / name
    return INSTALLED_DIR / name
