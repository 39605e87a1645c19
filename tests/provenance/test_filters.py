"""The tiled detector's numpy filters against scipy.ndimage's (which `verify` no longer imports)."""

import numpy as np
import pytest
from scipy.ndimage import map_coordinates, uniform_filter

from reenact.provenance.watermark.filters import bilinear_sample, box_mean


@pytest.mark.parametrize("shape", [(37, 53), (5, 9), (64, 64)])
@pytest.mark.parametrize("mode", ["reflect", "wrap"])
@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_box_mean_is_scipys_uniform_filter(shape, mode, size):
    values = np.random.default_rng(0).normal(size=shape)
    np.testing.assert_allclose(box_mean(values, size, mode),
                               uniform_filter(values, size=size, mode=mode), atol=1e-12)


@pytest.mark.parametrize("shape", [(37, 53), (5, 9)])
def test_bilinear_sample_is_scipys_map_coordinates_with_zero_outside(shape):
    rng = np.random.default_rng(1)
    image = rng.normal(size=shape)
    rows = rng.uniform(-3, shape[0] + 2, (40, 30))
    cols = rng.uniform(-3, shape[1] + 2, (40, 30))
    rows[0, :4], cols[0, :4] = [0, shape[0] - 1, -1e-9, shape[0] - 1 + 1e-9], [0, shape[1] - 1, 1, 1]
    expected = map_coordinates(image, (rows, cols), order=1, mode="constant", cval=0.0)
    np.testing.assert_allclose(bilinear_sample(image, rows, cols), expected, atol=1e-12)


def test_an_even_box_is_refused():
    with pytest.raises(ValueError, match="size: expected an odd number"):
        box_mean(np.zeros((4, 4)), 4)
