"""tools/fit_mouth_colours.py: it reads a painted inside's cavity and teeth against the face's own
lips and skin, and its deepening power finds the power a colour was raised to."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from face_images import LIPS, MOUTH, SKIN, drawn_face

from reenact.postprocess.mouth_interior import paint_interior

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fit_mouth_colours.py"
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("fit_mouth_colours", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deepening_finds_the_power_a_colour_was_raised_to(tool):
    lips = np.array(LIPS, float)
    for power in (1.0, 2.0, 3.5):
        raised = 255.0 * (lips / 255.0) ** power
        assert tool.deepening(lips, raised * 0.4) == pytest.approx(power, abs=0.05)


def test_a_dark_inside_reads_as_a_dark_cavity_and_no_teeth(tool):
    image, landmarks = drawn_face(200, mouth_open=0.4, interior=True)
    measured = tool.frame_colours(image, landmarks)
    assert measured["teeth_share"][0] < 0.05
    lips_luma = float(np.array(LIPS) @ LUMA)
    assert measured["rest_luma"][0] == pytest.approx(float(np.array(MOUTH) @ LUMA) / lips_luma,
                                                     abs=0.06)
    assert "teeth_luma" not in measured


def test_a_painted_inside_shows_its_teeth_in_the_skins_hue(tool):
    """The painter's cavity is the lips' colour dimmed (deepening 1, which dev drivers' insides
    match better than the deeper reds of the train-extra clips: docs/talk-and-dub.md)."""
    image, landmarks = drawn_face(200, mouth_open=0.6, interior=False)
    painted = paint_interior(image, landmarks, np.array(SKIN, float), np.array(LIPS, float))
    measured = tool.frame_colours(painted, landmarks)
    assert 0.1 < measured["teeth_share"][0] < 0.25
    assert 0.7 < measured["teeth_luma"][0] < 1.2  # about the skin's brightness
    assert 0.3 < measured["teeth_gamma"][0] < 1.0  # paler than the skin, its hue
    assert 0.3 < measured["rest_luma"][0] < 0.7  # a cavity darker than the lips
    assert measured["rest_gamma"][0] == pytest.approx(1.0, abs=0.15)


def test_closed_lips_are_not_read(tool):
    image, landmarks = drawn_face(200, mouth_open=0.0, interior=False)
    assert tool.frame_colours(image, landmarks) is None
