"""The one thing pyproject.toml cannot say: the release checkpoints live in the repository's
top-level `checkpoints/` and install as the data-only package `reenact.checkpoints`.

`[tool.setuptools.packages.find]` only discovers packages under `src/`, and a `packages` list
cannot be combined with it, so the package list is computed here: everything under `src/`, plus
`reenact.checkpoints` mapped onto `checkpoints/`. Its files are package data (pyproject.toml).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "reenact.checkpoints"],
    package_dir={"": "src", "reenact.checkpoints": "checkpoints"},
)
