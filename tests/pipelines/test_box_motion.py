"""The face's zoom and shift split between the model and the compositor: within the limit all of
it goes to the model; beyond it, the two shares compose to the whole motion."""

import math

import numpy as np
import pytest
import torch

from reenact.containers import Keypoints
from reenact.pipelines.box_motion import (
    BoxMotionLimit,
    drop_common_zoom,
    rigid_indices,
    split_keypoint_motion,
    zoom_and_shift,
)
from reenact.preprocess.anchors import DEFAULT_ANCHORS

RNG = np.random.default_rng(3)
SOURCE = Keypoints(torch.from_numpy(RNG.uniform(-0.5, 0.5, (1, 10, 2))),
                   torch.eye(2, dtype=torch.float64).repeat(1, 10, 1, 1) * 1.3)


def driven(scale, shift, wobble=0.0):
    """SOURCE zoomed by `scale` about the crop centre and shifted by `shift` (normalized), with
    small non-rigid motion; jacobians zoomed alike."""
    value = scale * SOURCE.value + torch.tensor(shift, dtype=torch.float64)
    value = value + wobble * torch.from_numpy(RNG.normal(size=value.shape))
    return Keypoints(value, SOURCE.jacobian * scale)


def test_zoom_and_shift_recovers_a_similarity():
    points = SOURCE.value[0].numpy()
    scale, shift = zoom_and_shift(points, np.stack([1.4 * points + [0.2, -0.1], points]))
    np.testing.assert_allclose(scale, [1.4, 1.0], atol=1e-12)
    np.testing.assert_allclose(shift, [[0.2, -0.1], [0.0, 0.0]], atol=1e-12)


def test_motion_within_the_limit_is_all_the_model_s():
    kp = driven(1.04, [0.05, -0.08], wobble=0.01)
    out, excess = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(10)),
                                        limit=BoxMotionLimit(0.06, 0.06))
    assert out is kp and all(motion.is_identity for motion in excess)


@pytest.mark.parametrize("scale, shift", [(1.6, [0.0, 0.3]), (0.7, [-0.4, 0.0]), (1.02, [0.5, 0.5])])
def test_the_two_shares_compose_to_the_whole_motion(scale, shift):
    limit = BoxMotionLimit(0.06, 0.05)
    kp = driven(scale, shift, wobble=0.02)
    out, [motion] = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(10)), limit=limit)
    assert not motion.is_identity
    # self-reenactment (the portrait is the initial frame): the model's share of the face's zoom
    # and shift stays within the limit
    model_scale, model_shift = zoom_and_shift(SOURCE.value[0].numpy(), out.value.numpy())
    assert 1 / 1.06 - 1e-9 <= model_scale[0] <= 1.06 + 1e-9
    assert np.all(np.abs(model_shift) <= 0.1 + 1e-9)
    # the excess (zoom about the crop centre, shift by box sides: 2 normalized units each) puts
    # every keypoint, rigid or not, back where the whole motion has it; jacobians alike
    back = motion.scale * out.value + 2 * torch.tensor([motion.shift_x, motion.shift_y],
                                                       dtype=torch.float64)
    torch.testing.assert_close(back, kp.value)
    torch.testing.assert_close(out.jacobian * motion.scale, kp.jacobian)


def test_no_limit_leaves_everything_to_the_model():
    kp = driven(1.8, [0.6, -0.5])
    out, excess = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(10)),
                                        limit=BoxMotionLimit(math.inf, math.inf))
    assert out is kp and excess[0].is_identity


def test_the_face_s_rigid_keypoints_leave_out_mouth_and_chin():
    rigid = [DEFAULT_ANCHORS[i] for i in rigid_indices(20, DEFAULT_ANCHORS)]
    assert "nose" in rigid and "brow_left" in rigid and "upper_lid_right" in rigid
    assert not {"upper_lip", "lower_lip", "mouth_corner_left", "chin"} & set(rigid)
    assert rigid_indices(5, ()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("value", [-0.1, float("nan"), True, "0.1"])
def test_bad_limits_are_named(value):
    with pytest.raises(ValueError, match=r"BoxMotionLimit\.scale: expected a number >= 0"):
        BoxMotionLimit(scale=value)


def test_free_keypoints_are_held_near_the_face_s_similarity():
    """Anchored keypoints 0-5 turn and zoom the face; free keypoint 6 flies off and keypoint 7's
    jacobian halves: both are brought back within the bounds, with the face's rotation kept;
    free keypoints within the bounds are left alone."""
    angle, zoom = 0.2, 1.03
    rotation = zoom * torch.tensor([[math.cos(angle), -math.sin(angle)],
                                    [math.sin(angle), math.cos(angle)]], dtype=torch.float64)
    value = SOURCE.value @ rotation.T
    jacobian = rotation @ SOURCE.jacobian
    value[0, 6] += torch.tensor([0.5, 0.0], dtype=torch.float64)
    jacobian[0, 7] = jacobian[0, 7] * 0.5
    value[0, 8] += torch.tensor([0.0, 0.05], dtype=torch.float64)
    kp = Keypoints(value, jacobian)
    limit = BoxMotionLimit(math.inf, math.inf, free=0.1, stretch=0.3, common_zoom=1)
    out, [motion] = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(6)), limit=limit,
                                          free_from=6)
    assert motion.is_identity
    expected = SOURCE.value[0] @ rotation.T
    torch.testing.assert_close(out.value[0, :6], kp.value[0, :6])  # anchored: untouched
    assert torch.linalg.norm(out.value[0, 6] - expected[6]) == pytest.approx(0.1)
    torch.testing.assert_close(out.value[0, 8], kp.value[0, 8])  # within the bound: untouched
    change = out.jacobian[0, 7] @ torch.linalg.inv(SOURCE.jacobian[0, 7]) @ torch.linalg.inv(rotation)
    torch.testing.assert_close(torch.linalg.svdvals(change),
                               torch.full((2,), 1 / 1.3, dtype=torch.float64))
    torch.testing.assert_close(out.jacobian[0, 9], kp.jacobian[0, 9])


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True])
def test_a_bad_common_zoom_is_named(value):
    with pytest.raises(ValueError, match=r"BoxMotionLimit\.common_zoom: expected a fraction"):
        BoxMotionLimit(common_zoom=value)


@pytest.mark.parametrize("singular, expected", [
    ((0.9, 0.9), (1.0, 1.0)),  # a zoom: dropped
    ((1.1, 1.1), (1.0, 1.0)),
    ((1.0, 0.85), (1.0, 0.85)),  # a turn narrows one axis: kept
    ((1.12, 1.0), (1.12, 1.0)),  # a turn back widens one axis: kept
    ((0.9, 0.9 * 0.85), (1.0, 0.85)),  # a turn in a zooming head: the turn is kept
    ((1.1, 0.9), (1.1, 0.9)),  # one axis grows, the other shrinks: no common zoom
])
def test_the_common_zoom_of_a_jacobian_change_is_dropped(singular, expected):
    out = drop_common_zoom(torch.tensor([singular], dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([expected], dtype=torch.float64))


def test_part_of_the_common_zoom_can_be_kept():
    singular = torch.tensor([[0.81, 0.81 * 0.9], [1.0, 0.9]], dtype=torch.float64)
    torch.testing.assert_close(drop_common_zoom(singular, keep=1.0), singular)
    torch.testing.assert_close(drop_common_zoom(singular, keep=0.5),
                               torch.tensor([[0.9, 0.81], [1.0, 0.9]], dtype=torch.float64))


def test_a_free_keypoint_turns_with_the_head_but_does_not_zoom_with_the_mouth():
    """Free keypoint 7's jacobian shrinks by 0.9 all round (what the trained model did as the
    mouth opened) and narrows along x by 0.8 (a turn): the face's rotation and the turn stay,
    the shrinking goes (half of it by default), with no other bound."""
    angle = 0.1
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)],
                             [math.sin(angle), math.cos(angle)]], dtype=torch.float64)
    turn = torch.diag(torch.tensor([0.8, 1.0], dtype=torch.float64))
    value = SOURCE.value @ rotation.T
    jacobian = rotation @ SOURCE.jacobian
    jacobian[0, 7] = rotation @ (0.9 * turn) @ SOURCE.jacobian[0, 7]
    kp = Keypoints(value, jacobian)
    limit = BoxMotionLimit(math.inf, math.inf, free=math.inf, stretch=math.inf, common_zoom=0)
    out, _ = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(6)), limit=limit,
                                   free_from=6)
    torch.testing.assert_close(out.jacobian[0, 7], rotation @ turn @ SOURCE.jacobian[0, 7])
    torch.testing.assert_close(out.jacobian[0, 8], kp.jacobian[0, 8])
    halved, _ = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(6)),
                                      limit=BoxMotionLimit(math.inf, math.inf, free=math.inf,
                                                           stretch=math.inf),
                                      free_from=6)
    torch.testing.assert_close(halved.jacobian[0, 7],
                               rotation @ (0.9 ** 0.5 * turn) @ SOURCE.jacobian[0, 7])
    kept, _ = split_keypoint_motion(SOURCE, kp, kp, SOURCE, list(range(6)),
                                    limit=BoxMotionLimit(math.inf, math.inf, free=math.inf,
                                                         stretch=math.inf, common_zoom=1),
                                    free_from=6)
    assert kept is kp or torch.equal(kept.jacobian, kp.jacobian)


def test_a_meaningless_fit_moves_nothing():
    """Keypoints with no face behind them can fit a negative or vanishing zoom: no excess."""
    flipped = Keypoints(-0.3 * SOURCE.value, SOURCE.jacobian)
    out, [motion] = split_keypoint_motion(SOURCE, flipped, flipped, SOURCE, list(range(10)))
    assert out is flipped and motion.is_identity
    collapsed = Keypoints(torch.zeros_like(SOURCE.value), SOURCE.jacobian)
    out, [motion] = split_keypoint_motion(collapsed, collapsed, collapsed, collapsed, list(range(10)))
    assert motion.is_identity
