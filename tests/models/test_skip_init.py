import threading

import torch
from torch import nn

from reenact.checkpoint import load_checkpoint, save_checkpoint
from reenact.checkpoint.format import build_model
from reenact.models import COMPONENTS
from reenact.models.skip_init import random_init_skipped


def test_random_init_is_skipped_and_deterministic_init_runs():
    generator_state = torch.get_rng_state()
    with random_init_skipped():
        conv = nn.Conv2d(3, 8, 3)
        norm = nn.BatchNorm2d(8)
        gru = nn.GRU(4, 4)
    assert torch.equal(torch.get_rng_state(), generator_state), "no random number was drawn"
    assert torch.equal(norm.weight, torch.ones(8)) and torch.equal(norm.running_var, torch.ones(8))
    assert torch.equal(norm.running_mean, torch.zeros(8))
    assert conv.weight.shape == (8, 3, 3, 3) and gru.weight_hh_l0.shape == (12, 4)
    nn.Conv2d(3, 8, 3)  # outside the mode: draws again
    assert not torch.equal(torch.get_rng_state(), generator_state)


def test_mode_is_local_to_its_thread():
    drawn = []

    def build():
        state = torch.get_rng_state()
        nn.Linear(4, 4)
        drawn.append(not torch.equal(torch.get_rng_state(), state))

    with random_init_skipped():
        thread = threading.Thread(target=build)
        thread.start()
        thread.join()
    assert drawn == [True]


def test_loaded_model_is_the_saved_one_bit_for_bit(tiny_model, tmp_path):
    loaded = load_checkpoint(save_checkpoint(tiny_model, tmp_path / "ckpt"))
    saved_state, loaded_state = tiny_model.state_dict(), loaded.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    for key, value in saved_state.items():
        assert loaded_state[key].dtype == value.dtype and torch.equal(loaded_state[key], value), key
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in loaded.parameters())
    assert not loaded.training
    image = torch.rand(2, 3, tiny_model.config.image_size, tiny_model.config.image_size,
                       generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.keypoint_detector(image).value,
                           tiny_model.eval().keypoint_detector(image).value)


def test_taken_tensors_get_the_model_dtype(tiny_model):
    states = {name: {key: value.double() for key, value in getattr(tiny_model, name).state_dict().items()
                     if value.is_floating_point()} | {key: value for key, value in
                                                      getattr(tiny_model, name).state_dict().items()
                                                      if not value.is_floating_point()}
              for name in COMPONENTS}
    model = build_model(tiny_model.config, states, source="test", take_tensors=True)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
