"""The audio checkpoint directory: malformed files are one-line errors, before any allocation."""

from __future__ import annotations

import json

import pytest
from speech_fixtures import tiny_audio_checkpoint

from reenact.api import create_model
from reenact.checkpoint import CheckpointError
from reenact.checkpoint.audio_format import load_audio_checkpoint, save_audio_checkpoint


@pytest.fixture
def saved(tmp_path):
    return save_audio_checkpoint(tiny_audio_checkpoint(create_model("tiny-64", seed=0)),
                                 tmp_path / "audio")


@pytest.mark.parametrize("section, key, value, message", [
    ("model", "hidden_size", 10**7, r"AudioToMotionConfig.hidden_size is 10000000; at most 2048"),
    ("features", "n_fft", 2**30, r"AudioFeatureConfig.n_fft is 1073741824; at most 16384"),
])
def test_absurd_sizes_are_refused(saved, monkeypatch, section, key, value, message):
    import reenact.checkpoint.audio_format as audio_format

    monkeypatch.setattr(audio_format, "AudioToMotion",
                        lambda config: pytest.fail("built before the sizes were checked"))
    config = json.loads((saved / "config.json").read_text())
    config[section][key] = value
    if key == "n_fft":
        config[section]["win"] = 400
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        load_audio_checkpoint(saved)


def test_index_components_not_an_object(saved):
    (saved / "index.json").write_text(json.dumps({"components": ["audio_to_motion"]}))
    with pytest.raises(CheckpointError, match=r"index.json: components must be an object"):
        load_audio_checkpoint(saved)


def test_overwrite_keeps_foreign_files(saved):
    (saved / "notes.txt").write_text("mine")
    checkpoint = tiny_audio_checkpoint(create_model("tiny-64", seed=0))
    with pytest.raises(CheckpointError, match=r"holds files that are not part of a reenact audio "
                                              r"checkpoint \(notes.txt\)"):
        save_audio_checkpoint(checkpoint, saved, overwrite=True)
    assert (saved / "notes.txt").read_text() == "mine"
