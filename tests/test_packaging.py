"""The release checkpoints ship inside the package: a wheel built from this tree offline, installed
into a bare directory, loads `default`, `default-audio` and `face-mesh` from there, not from the source tree's
top-level `checkpoints/`."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# what a build reads: the metadata (pyproject.toml names README.md), setup.py's package mapping,
# the code and the release checkpoints
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "src", "checkpoints")
RELEASES = ("default", "default-audio", "face-mesh")

LOAD_BUNDLED = """
import json, reenact
from reenact.api import DEFAULT_CHECKPOINT, load_default_model
from reenact.checkpoint import audio_format, face_mesh
model = load_default_model()
face_mesh.load_face_mesh()
audio = audio_format.resolve_audio_checkpoint(
    "default", num_kp=model.config.num_kp, keypoint_space=audio_format.keypoint_space_id(model))
print(json.dumps({"package": reenact.__file__, "default": str(DEFAULT_CHECKPOINT),
                  "default-audio": str(audio_format.DEFAULT_AUDIO_CHECKPOINT),
                  "face-mesh": str(face_mesh.DEFAULT_FACE_MESH),
                  "audio_trained": audio.trained, "num_kp": model.config.num_kp}))
"""


def _installed_version(distribution: str) -> tuple[int, ...] | None:
    """A distribution's version (major, minor) read from its metadata, without importing it
    (importing setuptools into a test process that already imported distutils fails)."""
    try:
        release = importlib.metadata.version(distribution).split(".")[:2]
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int("".join(ch for ch in part if ch.isdigit()) or 0) for part in release)


def _wheel_backend_missing() -> str | None:
    """Why this interpreter cannot build a wheel offline (no build isolation), or None."""
    if importlib.util.find_spec("pip") is None:
        return "pip is not installed"
    setuptools = _installed_version("setuptools")
    if setuptools is None or setuptools < (64,):
        return "setuptools >= 64 is not installed (--no-build-isolation cannot fetch it offline)"
    # setuptools >= 70.1 builds wheels itself; older ones need the `wheel` package
    if setuptools < (70, 1) and _installed_version("wheel") is None:
        return "setuptools < 70.1 without the `wheel` package cannot build a wheel"
    return None


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


@pytest.mark.skipif(_wheel_backend_missing() is not None, reason=str(_wheel_backend_missing()))
def test_wheel_installs_and_loads_bundled_checkpoints_offline(tmp_path):
    source = tmp_path / "source"  # a copy, so the build writes no build/ or egg-info into the repo
    for name in BUILD_INPUTS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    wheels, target = tmp_path / "wheels", tmp_path / "installed"

    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
          "-w", str(wheels), "-q"], env=offline)
    (wheel,) = wheels.glob("reenact-*.whl")
    _run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--target", str(target),
          str(wheel), "-q"], env=offline)
    for release in RELEASES:
        assert (target / "reenact" / "checkpoints" / release / "MODEL_CARD.md").is_file()

    only_installed = {**offline, "PYTHONPATH": str(target)}
    loaded = json.loads(_run([sys.executable, "-c", LOAD_BUNDLED], env=only_installed,
                             cwd=tmp_path).stdout.splitlines()[-1])
    assert Path(loaded["package"]).is_relative_to(target), loaded
    for release in RELEASES:
        assert Path(loaded[release]) == target / "reenact" / "checkpoints" / release, loaded
    assert loaded["audio_trained"] is True
