"""Pixels read between pixel centres."""

from __future__ import annotations

import numpy as np

from reenact.preprocess.pixels import bilinear_samples


def test_centres_give_the_pixels_between_them_the_mean_and_outside_the_border():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    ys, xs = np.mgrid[0:4, 0:5]
    # the clamp stops 0.001 of a pixel short of the last centre: 0.015 levels on rows 15 apart
    np.testing.assert_allclose(bilinear_samples(image, xs.astype(float), ys.astype(float)), image,
                               atol=0.02)
    halfway = bilinear_samples(image, np.array([1.5]), np.array([2.5]))
    np.testing.assert_allclose(halfway[0], image[2:4, 1:3].reshape(-1, 3).mean(axis=0))
    outside = bilinear_samples(image, np.array([-3.0, 9.0]), np.array([-1.0, 1.0]))
    np.testing.assert_allclose(outside, image[[0, 1], [0, 4]].astype(float), atol=0.02)
    assert bilinear_samples(image, np.zeros((2, 3)), np.zeros((2, 3))).shape == (2, 3, 3)
