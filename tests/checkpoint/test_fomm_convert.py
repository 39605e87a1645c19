"""The reference-checkpoint converter: full vox-256 layout, and refusal of bad checkpoints."""

import json
import logging

import pytest
import torch

from conftest import FOMM, TINY_FOMM_YAML, require, write_reference_checkpoint
from reenact.api import load_model
from reenact.checkpoint import CheckpointError, load_checkpoint, load_fomm_checkpoint
from reenact.checkpoint.fomm import remap_fomm_state
from reenact.cli import main
from reenact.presets import get_preset


def random_vox_checkpoint(path):
    """A checkpoint with exactly the released vox-256 keys and shapes, random weights."""
    layout = json.loads(require(FOMM / "vox-256.state-keys.json").read_text())
    generator = torch.Generator().manual_seed(0)

    def tensor(key, shape):
        if key.endswith("num_batches_tracked"):
            return torch.tensor(100)
        if key.endswith("running_var"):
            return torch.rand(shape, generator=generator) + 0.5
        return torch.randn(shape, generator=generator) * 0.02

    data = {entry: {k: tensor(k, shape) for k, shape in keys.items()} for entry, keys in layout.items()}
    data.update({"discriminator": {"x.weight": torch.zeros(2)}, "optimizer_generator": {"state": {}},
                 "optimizer_kp_detector": {"state": {}}, "optimizer_discriminator": {"state": {}},
                 "epoch": 99})
    torch.save(data, path)
    return layout


def test_vox_256_layout_converts_into_the_preset(tmp_path, caplog):
    layout = random_vox_checkpoint(tmp_path / "vox-cpk.pth.tar")
    caplog.set_level(logging.INFO)
    code = main(["convert", str(tmp_path / "vox-cpk.pth.tar"), "--config", str(FOMM / "vox-256.yaml"),
                 "-o", str(tmp_path / "vox")])
    assert code == 0
    assert "dropping entries not needed for inference: discriminator, epoch" in caplog.text
    model = load_checkpoint(tmp_path / "vox")
    assert model.config == get_preset("vox-256")
    total = sum(len(module.state_dict()) for module in
                (model.keypoint_detector, model.dense_motion, model.generator))
    assert total == len(layout["kp_detector"]) + len(layout["generator"]) == 75 + 196
    original = torch.load(tmp_path / "vox-cpk.pth.tar", weights_only=True)
    assert torch.equal(model.dense_motion.state_dict()["mask_head.weight"],
                       original["generator"]["dense_motion_network.mask.weight"])
    assert torch.equal(model.generator.state_dict()["bottleneck.5.conv2.weight"],
                       original["generator"]["bottleneck.r5.conv2.weight"])


def test_remap_is_total_on_vox_layout():
    layout = json.loads(require(FOMM / "vox-256.state-keys.json").read_text())
    fake = {entry: {k: torch.zeros(0) for k in keys} for entry, keys in layout.items()}
    ours = remap_fomm_state(fake)
    assert sum(len(v) for v in ours.values()) == 271


@pytest.fixture
def tiny_official():
    return torch.load(require(FOMM / "tiny-a.pth.tar"), weights_only=True)


def convert(tmp_path, data):
    torch.save(data, tmp_path / "broken.pth.tar")
    return load_fomm_checkpoint(tmp_path / "broken.pth.tar", FOMM / "tiny-a.yaml")


def test_missing_key_is_refused(tmp_path, tiny_official):
    del tiny_official["generator"]["final.bias"]
    with pytest.raises(CheckpointError, match=r"generator does not fit the model config; "
                                              r"missing keys: final\.bias"):
        convert(tmp_path, tiny_official)


def test_unmappable_key_is_refused(tmp_path, tiny_official):
    tiny_official["kp_detector"]["extra.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected keys \(no mapping to reenact\): "
                                              r"kp_detector\.extra\.weight"):
        convert(tmp_path, tiny_official)


def test_extra_layer_is_refused(tmp_path, tiny_official):
    tiny_official["generator"]["bottleneck.r7.conv1.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected keys: bottleneck\.7\.conv1\.weight"):
        convert(tmp_path, tiny_official)


def test_wrong_shape_is_refused(tmp_path, tiny_official):
    tiny_official["kp_detector"]["kp.weight"] = torch.zeros(12, 11, 7, 7)
    with pytest.raises(CheckpointError, match=r"wrong shapes: heatmap_head\.weight "
                                              r"\(checkpoint \[12, 11, 7, 7\], model \[10, 11, 7, 7\]\)"):
        convert(tmp_path, tiny_official)


class _Payload:
    """Unpickling this would create a file: the kind of code a malicious checkpoint carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_code_is_refused(tmp_path, tiny_official):
    marker = tmp_path / "pwned"
    tiny_official["epoch"] = _Payload(marker)
    with pytest.raises(CheckpointError, match=r"refused to load: the pickle holds code"):
        convert(tmp_path, tiny_official)
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    config = require(FOMM / "tiny-a.yaml")
    (tmp_path / "notes.pth.tar").write_text("hello")
    with pytest.raises(CheckpointError, match=r"not a readable PyTorch checkpoint"):
        load_fomm_checkpoint(tmp_path / "notes.pth.tar", config)
    torch.save({"state_dict": {}}, tmp_path / "other.pth.tar")
    with pytest.raises(CheckpointError, match=r"not a first-order-motion checkpoint \(expected entries "
                                              r"kp_detector and generator, found state_dict\)"):
        load_fomm_checkpoint(tmp_path / "other.pth.tar", config)


def test_unknown_yaml_key_is_named(tmp_path):
    checkpoint, _ = write_reference_checkpoint(tmp_path)
    text = TINY_FOMM_YAML.replace("temperature: 0.1", "temperature: 0.1\n    sigma: 2")
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(CheckpointError, match=r"kp_detector_params: unknown key\(s\) sigma"):
        load_fomm_checkpoint(checkpoint, tmp_path / "bad.yaml")


def test_load_model_reads_official_files_directly(tmp_path):
    checkpoint, config = write_reference_checkpoint(tmp_path)
    model = load_model(checkpoint, config=config)
    assert model.config.align_corners is True
    with pytest.raises(CheckpointError, match=r"needs its yaml config"):
        load_model(checkpoint)


def test_garbage_is_not_called_code(tmp_path):
    """Bytes that are no pickle at all were reported as 'the pickle holds code' (issue 17)."""
    _, config = write_reference_checkpoint(tmp_path)
    (tmp_path / "garbage.pth.tar").write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CheckpointError, match=r"garbage.pth.tar: not a readable PyTorch checkpoint "
                                              r"\(Unsupported operand"):
        load_fomm_checkpoint(tmp_path / "garbage.pth.tar", config)
