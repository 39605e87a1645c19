from __future__ import annotations

import numpy as np
import pytest

from reenact.config import ConfigError
from reenact.preprocess.anchors import TEMPLATE
from reenact.preprocess.face import Face
from reenact.preprocess.face_follow import FaceFollower, FollowConfig, follower_for


class MovingFace:
    """A fake analyzer over frames whose first pixel holds the face's x offset: the detector
    reports a box and landmarks there; landmarks_in finds the face if the box overlaps it."""

    def __init__(self) -> None:
        self.detect_calls = 0
        self.refine_calls = 0

    @staticmethod
    def landmarks_at(offset: float) -> np.ndarray:
        return (TEMPLATE + 1) * 50 + (offset + 20, 30)  # a 100-px face

    def detect(self, image: np.ndarray) -> list[Face]:
        self.detect_calls += 1
        offset = float(image[0, 0, 0])
        points = self.landmarks_at(offset)
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        return [Face((x0 - 5, y0 + 10, x1 + 5, y1 + 2), 1.5, points)]

    def landmarks_in(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        self.refine_calls += 1
        points = self.landmarks_at(float(image[0, 0, 0]))
        if box[2] < points[:, 0].min() or box[0] > points[:, 0].max():
            return points + (0, 1000)  # lost: the predictor lands somewhere far away
        return points


def frame(offset: int) -> np.ndarray:
    image = np.zeros((240, 320, 3), np.uint8)
    image[0, 0, 0] = offset
    return image


def test_follower_detects_every_n_frames_and_follows_in_between() -> None:
    fake = MovingFace()
    follower = FaceFollower(fake, FollowConfig(redetect_every=4))
    faces = [follower.detect(frame(2 * i))[0] for i in range(9)]
    assert fake.detect_calls == 3 and follower.detections == 3  # frames 0, 4 and 8
    for index, face in enumerate(faces):
        np.testing.assert_allclose(face.landmarks, fake.landmarks_at(2 * index))
        reference = fake.detect(frame(2 * index))[0]  # followed boxes sit like the detector's
        np.testing.assert_allclose(face.box, reference.box, atol=1e-9)
        assert face.score == 1.5


def test_follower_detects_again_when_the_face_jumps() -> None:
    fake = MovingFace()
    follower = FaceFollower(fake, FollowConfig(redetect_every=100))
    follower.detect(frame(0))
    follower.detect(frame(2))
    assert fake.detect_calls == 1
    face = follower.detect(frame(90))[0]  # the face is lost: the follower runs the detector
    assert fake.detect_calls == 2
    np.testing.assert_allclose(face.landmarks, fake.landmarks_at(90))


def test_follower_for_needs_landmarks_in_a_box_and_config_is_checked() -> None:
    class DetectOnly:
        def detect(self, image: np.ndarray) -> list[Face]:
            return []

    plain = DetectOnly()
    assert follower_for(plain) is plain
    fake = MovingFace()
    assert isinstance(follower_for(fake), FaceFollower)
    assert follower_for(fake, FollowConfig(redetect_every=1)) is fake
    with pytest.raises(ConfigError, match="redetect_every"):
        FollowConfig(redetect_every=0)
    with pytest.raises(ConfigError, match="max_change"):
        FollowConfig(max_change=-0.1)


def test_follower_without_faces_keeps_detecting() -> None:
    class Nobody:
        calls = 0

        def detect(self, image: np.ndarray) -> list[Face]:
            Nobody.calls += 1
            return []

        def landmarks_in(self, image, box):  # pragma: no cover - never reached without a face
            raise AssertionError

    follower = FaceFollower(Nobody())
    assert all(follower.detect(frame(0)) == [] for _ in range(3))
    assert Nobody.calls == 3


def test_follower_detects_again_when_the_eyes_spread() -> None:
    """The predictor's worst failure keeps the landmark box but puts the eyes 1.4x apart (on a
    pair of glasses): the eyes' distance gives it away, and the detector runs again."""
    class SpreadEyes(MovingFace):
        spread = False

        def landmarks_in(self, image, box):
            points = super().landmarks_in(image, box)
            if self.spread:
                points = points.copy()
                centre = points[36:48].mean(axis=0)
                points[36:48] = centre + (points[36:48] - centre) * (1.4, 1.0)
            return points

    fake = SpreadEyes()
    follower = FaceFollower(fake, FollowConfig(redetect_every=100))
    follower.detect(frame(0))
    follower.detect(frame(1))
    assert fake.detect_calls == 1
    fake.spread = True
    face = follower.detect(frame(2))[0]
    assert fake.detect_calls == 2
    np.testing.assert_allclose(face.landmarks, fake.landmarks_at(2))
    with pytest.raises(ConfigError, match="max_eye_change"):
        FollowConfig(max_eye_change=0)


def test_follower_places_its_box_on_the_still_points_not_on_an_expression() -> None:
    """Raised brows and an open jaw stretch the landmark box; the box handed to the predictor
    still sits on the face as the detector's would (it is placed on the eye corners and nose), so
    the predictor is not asked to find a face in a box grown by the expression."""
    class Expressive(MovingFace):
        boxes: list[tuple[float, float, float, float]] = []

        def landmarks_in(self, image, box):
            self.boxes.append(box)
            points = super().landmarks_in(image, box).copy()
            if image[0, 0, 1]:  # this frame raises the brows and drops the jaw by 4 px (17% of its height)
                points[17:27, 1] -= 4
                points[5:12, 1] += 4
            return points

    fake = Expressive()
    follower = FaceFollower(fake, FollowConfig(redetect_every=100, landmark_boxes=1))
    follower.detect(frame(0))
    expressive = frame(2)
    expressive[0, 0, 1] = 1
    follower.detect(expressive)
    follower.detect(frame(4))
    assert fake.detect_calls == 1  # the expression was followed, not detected again
    neutral_box = fake.detect(frame(2))[0].box  # the detector's box on the face of frame 2
    # the box frame 4 was read in ([-1] is the check in the box its reading placed)
    np.testing.assert_allclose(fake.boxes[-2], neutral_box, atol=1e-9)


def test_follower_reads_the_mean_of_nudged_boxes() -> None:
    """dlib's points are whole pixels and move with the box: the mean over the nudged boxes lands
    nearer the face's true points than one box's reading, on detection and followed frames."""
    class WholePixels(MovingFace):
        def landmarks_in(self, image, box):
            self.refine_calls += 1
            points = self.landmarks_at(float(image[0, 0, 0]))
            # the reading moves with the box, by its offset from where the detector puts it
            # (`MovingFace.detect`: 5 px wider each side, 10 and 2 px lower), then is rounded
            low, high = points.min(axis=0), points.max(axis=0)
            shift = ((box[0] + box[2]) / 2 - (low[0] + high[0]) / 2,
                     (box[1] + box[3]) / 2 - (low[1] + high[1]) / 2 - 6)
            return np.round(points + shift)

        def detect(self, image):
            face = super().detect(image)[0]
            return [Face(face.box, face.score, self.landmarks_in(image, face.box))]

    errors = {}
    for count in (1, 9):
        fake = WholePixels()
        follower = FaceFollower(fake, FollowConfig(redetect_every=3, landmark_boxes=count))
        faces = [follower.detect(frame(7))[0] for _ in range(6)]
        truth = [fake.landmarks_at(7)] * 6
        errors[count] = np.mean([np.abs(face.landmarks - t).mean() for face, t in zip(faces, truth)])
        # count readings a frame, a detection's among them, and a check on the 4 followed frames
        assert fake.refine_calls == 6 * count + 4
    assert errors[9] < 0.7 * errors[1]
    with pytest.raises(ConfigError, match="landmark_boxes"):
        FollowConfig(landmark_boxes=0)


class PartialReader(MovingFace):
    """A predictor that reads a face in a box offset from it only part of the way toward it:
    `pull` 0 reads a face wherever the box is (stuck), 1 finds the face."""

    def __init__(self, pull: float) -> None:
        super().__init__()
        self.pull = pull
        self.zero_centre = self._centre(super().detect(frame(0))[0].box)
        self.detect_calls = 0

    @staticmethod
    def _centre(box: tuple[float, float, float, float]) -> float:
        return (box[0] + box[2]) / 2

    def landmarks_in(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        self.refine_calls += 1
        in_box = self._centre(box) - self.zero_centre  # the face offset this box sits on
        return self.landmarks_at(in_box + self.pull * (float(image[0, 0, 0]) - in_box))


def test_follower_detects_after_a_fast_move() -> None:
    """A head that swings back through where the box is: the predictor, placed where the face
    was, reads a face there (here it is stuck), so a face that moved fast into a frame is
    detected in the next one."""
    results = {}
    for speed in (0.05, 10.0):
        fake = PartialReader(pull=0.0)
        follower = FaceFollower(fake, FollowConfig(redetect_every=2, landmark_boxes=1,
                                                   max_speed=speed))
        follower.detect(frame(0))
        follower.detect(frame(0))  # followed
        follower.detect(frame(30))  # detected (every 2nd frame): 30% of the face's size away
        results[speed] = (follower.detect(frame(0))[0].landmarks, fake.detect_calls)
    np.testing.assert_allclose(results[0.05][0], MovingFace.landmarks_at(0))
    assert results[0.05][1] == 3
    # without the check the frame is followed and read where the face was a frame before
    np.testing.assert_allclose(results[10.0][0], MovingFace.landmarks_at(30))
    assert results[10.0][1] == 2
    with pytest.raises(ConfigError, match="max_speed"):
        FollowConfig(max_speed=0)


def test_follower_detects_when_a_second_reading_moves_the_face() -> None:
    """A reading that went only part of the way to a moved face moves again when read in the box
    its own points place: that drift sends the frame to the detector; a slow face, read the same
    way, stays followed."""
    fake = PartialReader(pull=0.5)
    follower = FaceFollower(fake, FollowConfig(redetect_every=100, landmark_boxes=1,
                                               max_speed=10.0))
    follower.detect(frame(0))
    for offset in (1, 2, 3):  # 1% of the face a frame: read within 1 px
        np.testing.assert_allclose(follower.detect(frame(offset))[0].landmarks,
                                   MovingFace.landmarks_at(offset), atol=1.0)
    assert fake.detect_calls == 1
    face = follower.detect(frame(20))[0]  # 17 px on: the first reading lands 8.5 px short
    assert fake.detect_calls == 2
    np.testing.assert_allclose(face.landmarks, MovingFace.landmarks_at(20))
    with pytest.raises(ConfigError, match="max_drift"):
        FollowConfig(max_drift=float("nan"))
