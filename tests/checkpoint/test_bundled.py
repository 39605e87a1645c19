"""Finding the release checkpoints: inside an installed package first, else a source checkout's
top-level checkpoints/."""

from pathlib import Path

from reenact.checkpoint import bundled

REPO = Path(__file__).resolve().parents[2]


def test_source_checkout_uses_top_level_checkpoints():
    for name in ("default", "default-audio"):
        assert bundled.bundled_checkpoint(name) == REPO / "checkpoints" / name
        assert (bundled.bundled_checkpoint(name) / "MODEL_CARD.md").is_file()


def test_installed_copy_wins_and_a_missing_one_names_the_installed_place(tmp_path, monkeypatch):
    installed, source = tmp_path / "site" / "checkpoints", tmp_path / "repo" / "checkpoints"
    (installed / "default").mkdir(parents=True)
    (source / "default").mkdir(parents=True)
    (source / "default-audio").mkdir(parents=True)
    monkeypatch.setattr(bundled, "INSTALLED_DIR", installed)
    monkeypatch.setattr(bundled, "SOURCE_DIR", source)
    assert bundled.bundled_checkpoint("default") == installed / "default"
    assert bundled.bundled_checkpoint("default-audio") == source / "default-audio"
    assert bundled.bundled_checkpoint("other") == installed / "other"


def test_the_bundled_audio_model_moves_the_bundled_motion_models_keypoints():
    """Retrained whenever the motion model changes: else talk and dub warn on every run and move
    keypoints the audio model never learned."""
    import json

    from reenact.checkpoint import load_checkpoint
    from reenact.checkpoint.audio_format import keypoint_space_id

    audio = json.loads((REPO / "checkpoints" / "default-audio" / "config.json").read_text())
    motion = load_checkpoint(REPO / "checkpoints" / "default")
    assert audio["motion_model"]["keypoint_space_id"] == keypoint_space_id(motion)
