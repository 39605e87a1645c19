"""Numeric parity with the reference implementation's outputs on ../shared/fomm/tiny-a.

The model is loaded the way a user does it: `reenact convert` to our format, then `load_model`.
"""

import numpy as np
import pytest
import torch

from conftest import FOMM, require
from reenact.api import load_model
from reenact.cli import main
from reenact.geometry import normalize_keypoints

TOLERANCE = 2e-4
RENDER_ARRAYS = ("prediction", "occlusion_map", "mask", "deformation", "deformed", "sparse_deformed")


@pytest.fixture(scope="module", params=["false", "true"])
def parity_case(request, tmp_path_factory):
    align = request.param
    reference = dict(np.load(require(FOMM / f"tiny-a.reference.align-corners-{align}.npz")))
    output = tmp_path_factory.mktemp(f"convert-{align}") / "tiny-a"
    code = main(["-q", "convert", str(require(FOMM / "tiny-a.pth.tar")), "--config",
                 str(FOMM / "tiny-a.yaml"), "-o", str(output), "--align-corners", align])
    assert code == 0
    model = load_model(output)
    assert model.config.align_corners is (align == "true")
    return model, reference


def compute(model, reference):
    def tensor(name):
        return torch.from_numpy(reference[name])

    ours = {}
    with torch.no_grad():
        kp_source = model.detect(tensor("in_source"))
        kp_driving = model.detect(tensor("in_driving"), return_heatmaps=True)
        kp_initial = model.detect(tensor("in_driving_initial"))
        for prefix, kp in (("kp_source", kp_source), ("kp_driving", kp_driving),
                           ("kp_driving_initial", kp_initial)):
            ours[f"{prefix}_value"], ours[f"{prefix}_jacobian"] = kp.value, kp.jacobian
        ours["kp_heatmap_logits_driving"] = kp_driving.heatmap_logits
        relative = normalize_keypoints(kp_source, kp_driving, kp_initial, relative_movement=True,
                                       relative_jacobian=True, adapt_movement_scale=True)
        ours["rel_kp_norm_value"], ours["rel_kp_norm_jacobian"] = relative.value, relative.jacobian
        source = model.encode_source(tensor("in_source"))
        for prefix, kp in (("abs", kp_driving), ("rel", relative)):
            rendered = model.render(source, kp_source, kp, return_deformed=True)
            values = {"prediction": rendered.prediction, "deformed": rendered.deformed,
                      "occlusion_map": rendered.motion.occlusion_map, "mask": rendered.motion.mask,
                      "deformation": rendered.motion.deformation,
                      "sparse_deformed": rendered.motion.sparse_deformed}
            ours.update({f"{prefix}_{name}": values[name] for name in RENDER_ARRAYS})
    return ours


def test_every_reference_array_matches(parity_case):
    model, reference = parity_case
    ours = compute(model, reference)
    expected = {k for k in reference if not k.startswith(("in_", "meta"))}
    assert expected == set(ours), "every stored reference array is compared"
    errors = {name: float((ours[name] - torch.from_numpy(reference[name])).abs().max())
              for name in sorted(expected)}
    too_far = {name: err for name, err in errors.items() if not err <= TOLERANCE}
    assert not too_far, f"beyond {TOLERANCE}: {too_far}"


def test_conventions_differ(parity_case):
    """The two fixtures differ visibly: a loader that ignores align_corners cannot pass both."""
    model, reference = parity_case
    other = "true" if not model.config.align_corners else "false"
    other_reference = np.load(FOMM / f"tiny-a.reference.align-corners-{other}.npz")
    assert np.abs(other_reference["abs_prediction"] - reference["abs_prediction"]).max() > 10 * TOLERANCE
