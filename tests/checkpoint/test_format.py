import json
import stat

import pytest

from reenact.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


@pytest.fixture
def saved(tiny_model, tmp_path):
    return save_checkpoint(tiny_model, tmp_path / "ckpt")


def test_layout(saved):
    names = sorted(p.name for p in saved.iterdir())
    assert names == ["config.json", "dense_motion.safetensors", "generator.safetensors", "index.json",
                     "keypoint_detector.safetensors"]
    config = json.loads((saved / "config.json").read_text())
    assert config["format"] == "reenact-motion-model" and config["model"]["image_size"] == 64
    assert config["preprocessing"]["value_range"] == [0.0, 1.0]
    assert stat.S_IMODE((saved / "generator.safetensors").stat().st_mode) == 0o644
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_existing_target_is_not_overwritten(tiny_model, saved):
    with pytest.raises(CheckpointError, match=r"already exists"):
        save_checkpoint(tiny_model, saved)
    save_checkpoint(tiny_model, saved, overwrite=True)
    load_checkpoint(saved)


def test_refuses_to_replace_a_foreign_directory(tiny_model, tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(CheckpointError, match=r"is not a reenact checkpoint; refusing to replace it"):
        save_checkpoint(tiny_model, tmp_path / "photos", overwrite=True)


def test_corrupt_weights_are_detected(saved):
    path = saved / "generator.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"generator.safetensors: sha256 does not match"):
        load_checkpoint(saved)


def test_missing_weights_file(saved):
    (saved / "dense_motion.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"dense_motion weights file dense_motion.safetensors is missing"):
        load_checkpoint(saved)


def test_unknown_config_key_is_named(saved):
    config = json.loads((saved / "config.json").read_text())
    config["model"]["dense_motion"]["kp_varience"] = 0.01
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"DenseMotionConfig: unknown key\(s\) kp_varience"):
        load_checkpoint(saved)


def test_config_that_does_not_fit_the_weights(saved):
    config = json.loads((saved / "config.json").read_text())
    config["model"]["num_kp"] = 5
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"keypoint_detector does not fit the model config; "
                                              r"wrong shapes: heatmap_head"):
        load_checkpoint(saved)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint directory not found"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match=r"not a reenact checkpoint \(no config.json\)"):
        load_checkpoint(tmp_path)


# -- issue 17, item 8: malformed files are one-line errors, checked before anything is allocated --


def _edit_config(saved, edit):
    config = json.loads((saved / "config.json").read_text())
    edit(config["model"])
    (saved / "config.json").write_text(json.dumps(config))


def test_index_entry_that_is_not_an_object(saved):
    index = json.loads((saved / "index.json").read_text())
    index["components"]["generator"] = "generator.safetensors"
    (saved / "index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"index.json: components.generator must be an object "
                                              r"with 'file' and 'sha256', got str"):
        load_checkpoint(saved)


def test_subnormal_scale_factor(saved):
    _edit_config(saved, lambda model: model["dense_motion"].update(scale_factor=1e-320))
    with pytest.raises(CheckpointError, match=r"config.json: a number in the model config is out of "
                                              r"range \(scale factors are 1 or 1/n"):
        load_checkpoint(saved)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["generator"].update(block_expansion=100_000, max_features=1_000_000),
     r"config.json: the model config describes [\d,]+ M parameters; at most 500 M are supported"),
    (lambda m: m.update(image_size=2**20), r"config.json: model image_size is 1048576; at most 2048"),
    (lambda m: m.update(num_kp=100_000), r"config.json: model num_kp is 100000; at most 256"),
    (lambda m: m["keypoint_detector"].update(head_padding=10**9),
     r"config.json: model keypoint_detector.head_padding is 1000000000; at most 3"),
])
def test_absurd_sizes_are_refused_before_allocating(saved, monkeypatch, edit, message):
    import reenact.checkpoint.format as checkpoint_format

    def allocating(*args, **kwargs):
        pytest.fail("a model was built before its size was checked")

    monkeypatch.setattr(checkpoint_format, "build_model", allocating)
    _edit_config(saved, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved)


def test_json_nested_too_deeply(saved):
    (saved / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=r"config.json: not a checkpoint file \(JSON nested too "
                                              r"deeply\)"):
        load_checkpoint(saved)


def test_output_under_a_file(tiny_model, tmp_path):
    (tmp_path / "notes").write_text("x")
    with pytest.raises(CheckpointError, match=r"notes/sub/ckpt: cannot be created, .*notes is a file, "
                                              r"not a directory"):
        save_checkpoint(tiny_model, tmp_path / "notes" / "sub" / "ckpt")
