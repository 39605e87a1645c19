import sys
import types
import urllib.error

import numpy as np
import pytest
from conftest import MEDIA, require

from reenact.config import ConfigError
from reenact.preprocess.face import (
    DlibFaceAnalyzer,
    DlibFaceConfig,
    Face,
    FaceAlignmentAnalyzer,
    FaceAnalyzer,
    FaceBackendError,
    NoFaceError,
    create_face_analyzer,
    find_face,
)

PORTRAITS = MEDIA / "portraits"


def load_rgb(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def dlib_analyzer():
    try:
        return create_face_analyzer("dlib")
    except FaceBackendError as error:
        pytest.skip(f"dlib backend unavailable: {error}")


def assert_landmarks_near_box(face, tolerance=0.15):
    """dlib's box spans brows to chin; its landmarks stick out by up to ~10% of the box."""
    assert face.landmarks is not None and face.landmarks.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    pad_x, pad_y = tolerance * face.width, tolerance * face.height
    inside = ((face.landmarks[:, 0] >= x0 - pad_x) & (face.landmarks[:, 0] <= x1 + pad_x)
              & (face.landmarks[:, 1] >= y0 - pad_y) & (face.landmarks[:, 1] <= y1 + pad_y))
    assert inside.all(), f"landmarks {np.flatnonzero(~inside).tolist()} outside {face.box}"


def test_portraits_have_a_face_with_landmarks(dlib_analyzer):
    paths = sorted([*require(PORTRAITS).glob("*.jpg"), *PORTRAITS.glob("*.png")])
    assert paths
    missed = []
    for path in paths:
        faces = dlib_analyzer.detect(load_rgb(path))
        if not faces:
            missed.append(path.name)
            continue
        assert_landmarks_near_box(faces[0])
        areas = [face.area for face in faces]
        assert areas == sorted(areas, reverse=True)
    assert len(missed) <= len(paths) // 4, f"no face found in {missed}"


def test_no_face_in_noise_or_gradient(dlib_analyzer):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    gradient = np.zeros((300, 400, 3), dtype=np.uint8)
    gradient[..., 0] = np.linspace(0, 255, 400)[None, :]
    gradient[..., 2] = np.linspace(255, 0, 300)[:, None]
    assert dlib_analyzer.detect(noise) == []
    assert dlib_analyzer.detect(gradient) == []


def test_face_in_a_large_uncropped_video_frame(dlib_analyzer):
    av = pytest.importorskip("av")
    with av.open(str(require(MEDIA / "driving" / "lp_d13.mp4"))) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert max(frame.shape[:2]) >= 1280
    face = find_face(dlib_analyzer, frame, name="lp_d13 frame 0")
    assert face.width > 100
    assert_landmarks_near_box(face)


def test_small_face_in_a_large_frame_is_found_by_the_second_pass(dlib_analyzer):
    """A ~70-pixel face in 1280x720 is too small for the fast pass on the 640-pixel copy."""
    from PIL import Image

    portrait = Image.fromarray(load_rgb(require(PORTRAITS / "woman_smiling.png")))
    canvas = np.full((720, 1280, 3), 128, dtype=np.uint8)
    canvas[300:428, 900:1028] = np.asarray(portrait.resize((128, 128), Image.Resampling.BILINEAR))
    face = find_face(dlib_analyzer, canvas)
    x0, y0, x1, y1 = face.box
    assert 900 <= x0 < x1 <= 1028 and 300 <= y0 < y1 <= 428


def test_dlib_backend_without_dlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` fail
    with pytest.raises(FaceBackendError, match="pip install dlib-bin"):
        DlibFaceAnalyzer()


def test_coordinates_scale_with_the_image(dlib_analyzer):
    """Pixel-area coordinates: a 2x upscaled image gives 2x the landmarks (up to detector noise)."""
    from PIL import Image

    image = load_rgb(require(PORTRAITS / "woman_smiling.png"))
    double = np.asarray(Image.fromarray(image).resize((image.shape[1] * 2, image.shape[0] * 2),
                                                      Image.Resampling.BICUBIC))
    small, large = find_face(dlib_analyzer, image), find_face(dlib_analyzer, double)
    error = np.abs(large.landmarks - 2 * small.landmarks).mean()
    assert error < 0.03 * large.width


def test_detection_scales_downscale_large_frames_and_retry_small_faces():
    pytest.importorskip("dlib")
    analyzer = DlibFaceAnalyzer(DlibFaceConfig(landmarks=False))
    assert analyzer.detection_scales(1280, 720) == [0.5, 80 / 64]
    assert analyzer.detection_scales(256, 256) == [1.0, 80 / 64]
    assert analyzer.detection_scales(4000, 3000) == [0.16, 2048 / 4000]


def test_detect_rejects_non_rgb_uint8(dlib_analyzer):
    with pytest.raises(ValueError, match=r"image: expected an \(H, W, 3\) uint8 RGB array, got shape "
                                         r"\(8, 8\) dtype uint8"):
        dlib_analyzer.detect(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="dtype float32"):
        dlib_analyzer.detect(np.zeros((8, 8, 3), dtype=np.float32))


def test_dlib_config_is_validated():
    with pytest.raises(ConfigError, match="DlibFaceConfig.detect_size: expected an integer >= 16"):
        DlibFaceConfig(detect_size=8)
    with pytest.raises(ConfigError, match="DlibFaceConfig.threshold"):
        DlibFaceConfig(threshold=float("nan"))


def test_find_face_raises_no_face_error():
    class Blind:
        def detect(self, image):
            return []

    assert isinstance(Blind(), FaceAnalyzer)
    with pytest.raises(NoFaceError, match="source: no face found in the 5x4 image"):
        find_face(Blind(), np.zeros((4, 5, 3), dtype=np.uint8), name="source")


def test_face_validates_its_fields():
    face = Face((1, 2, 11, 22), 0.5, np.zeros((68, 2)))
    assert face.box == (1.0, 2.0, 11.0, 22.0) and face.center == (6.0, 12.0) and face.area == 200.0
    assert not face.landmarks.flags.writeable
    with pytest.raises(ValueError, match="Face.box: expected x0 < x1 and y0 < y1"):
        Face((10, 0, 5, 5), 1.0)
    with pytest.raises(ValueError, match=r"Face.landmarks: expected a finite float \(68, 2\) array, "
                                         r"got \(5, 2\)"):
        Face((0, 0, 5, 5), 1.0, np.zeros((5, 2)))


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown face backend 'mtcnn'; valid backends: dlib, "
                                         "face-alignment"):
        create_face_analyzer("mtcnn")


def test_face_alignment_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "face_alignment", None)  # makes `import face_alignment` fail
    with pytest.raises(FaceBackendError, match="pip install face-alignment"):
        create_face_analyzer("face-alignment")


def test_face_alignment_without_network(monkeypatch):
    """The package is there but cannot fetch its weights: a stand-in fails like torch.hub offline."""
    fake = types.ModuleType("face_alignment")

    class FaceAlignment:
        def __init__(self, *args, **kwargs):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    fake.LandmarksType = types.SimpleNamespace(TWO_D=1)
    fake.FaceAlignment = FaceAlignment
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    with pytest.raises(FaceBackendError, match=r"face-alignment could not load its model weights "
                                               r"\(no network\?\); use --face-backend dlib"):
        FaceAlignmentAnalyzer()


def test_face_alignment_results_become_faces(monkeypatch):
    fake = types.ModuleType("face_alignment")

    class FaceAlignment:
        def __init__(self, landmarks_type, device, flip_input, face_detector):
            assert (landmarks_type, device, face_detector) == ("2d", "cpu", "sfd")

        def get_landmarks_from_image(self, image, return_bboxes):
            small = np.full((68, 2), 10.0)
            large = np.full((68, 2), 50.0)
            return [small, large], None, [np.array([5, 5, 20, 20, 0.9]), np.array([0, 0, 90, 90, 0.99])]

    fake.LandmarksType = types.SimpleNamespace(_2D="2d")
    fake.FaceAlignment = FaceAlignment
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    faces = FaceAlignmentAnalyzer().detect(np.zeros((100, 100, 3), dtype=np.uint8))
    assert [face.box for face in faces] == [(0, 0, 90, 90), (5, 5, 20, 20)]
    assert faces[0].score == pytest.approx(0.99) and faces[0].landmarks[0, 0] == 50.5
