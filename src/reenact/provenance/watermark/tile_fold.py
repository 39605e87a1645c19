"""The tiled layer's geometric hypotheses (`tiles.TileConfig`: flips x angles x scales): the
detector's working image resampled under each and folded (all tiles summed into one), and the
neighbourhood of a hypothesis for `tile_detect.TileDetector`'s climb."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from reenact.provenance.watermark.filters import bilinear_sample
from reenact.provenance.watermark.tiles import TileConfig

DENSITY = 2  # detector samples per chip and axis: shifts are found to 1 / DENSITY chip


def fold(image: np.ndarray, config: TileConfig) -> np.ndarray:
    """(h, w) samples -> (Nh, D*T, D*T): the image under every hypothesis (flip, angle, scale),
    tiles summed (D = DENSITY samples per chip), in `hypothesis_name`'s order."""
    folded = dict(folds(image, config))
    return np.stack([folded[index] for index in range(config.hypotheses)])


def folds(image: np.ndarray, config: TileConfig) -> Iterator[tuple[int, np.ndarray]]:
    """(hypothesis index, folded tile) for every hypothesis, the configuration's first angle and
    scale first (no rotation, no scaling: the likeliest), each unflipped one with its flipped
    counterpart.

    A flipped hypothesis costs no resampling: flipping the frame about its centre after rotating
    by `angle` is rotating by -angle after flipping, and flipping the columns of an image permutes
    the columns of its folded tile (`_flipped_fold`)."""
    per_flip = len(config.angles) * len(config.scales)
    for angle_index, angle in enumerate(config.angles):
        for scale_index, scale in enumerate(config.scales):
            folded = _resampled_fold(image, angle, scale, config)
            for flip_index, flip in enumerate(config.flips):
                if not flip:
                    yield (flip_index * per_flip + angle_index * len(config.scales)
                           + scale_index, folded)
                elif -angle in config.angles:
                    mirrored = config.angles.index(-angle)
                    yield (flip_index * per_flip + mirrored * len(config.scales) + scale_index,
                           _flipped_fold(folded, image.shape[1]))
    # flipped hypotheses whose opposite angle is not searched unflipped: resampled mirrored
    for flip_index, flip in enumerate(config.flips):
        if not flip:
            continue
        for angle_index, angle in enumerate(config.angles):
            if -angle not in config.angles:
                for scale_index, scale in enumerate(config.scales):
                    folded = _resampled_fold(image[:, ::-1], angle, scale, config)
                    yield (flip_index * per_flip + angle_index * len(config.scales)
                           + scale_index, folded)


def hypothesis_fold(image: np.ndarray, index: int, config: TileConfig) -> np.ndarray:
    """The folded tile of one hypothesis (as `folds` makes it; a flip resampled mirrored)."""
    flip, angle, scale = hypothesis_name(index, config)
    return _resampled_fold(image[:, ::-1] if flip else image, angle, scale, config)


def neighbours(index: int, config: TileConfig) -> list[int]:
    """The hypotheses one angle and / or one scale step (in value order) from `index`, same
    flip."""
    per_flip = len(config.angles) * len(config.scales)
    flip_index, rest = divmod(index, per_flip)
    angle_index, scale_index = divmod(rest, len(config.scales))
    angle_order = sorted(range(len(config.angles)), key=lambda i: config.angles[i])
    scale_order = sorted(range(len(config.scales)), key=lambda i: config.scales[i])
    angle_rank, scale_rank = angle_order.index(angle_index), scale_order.index(scale_index)
    found = []
    for angle_step in (-1, 0, 1):
        for scale_step in (-1, 0, 1):
            a, b = angle_rank + angle_step, scale_rank + scale_step
            if (angle_step or scale_step) and 0 <= a < len(angle_order) \
                    and 0 <= b < len(scale_order):
                found.append(flip_index * per_flip + angle_order[a] * len(config.scales)
                             + scale_order[b])
    return found


def _resampled_fold(image: np.ndarray, angle: float, scale: float,
                    config: TileConfig) -> np.ndarray:
    """(h, w) -> (D*T, D*T): the image sampled at its centre + scale * R(angle) (p - centre) for
    every sample p (zero outside), then tiles summed."""
    height, width = image.shape
    tile = config.tile * DENSITY
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    y, x = y - centre_y, x - centre_x
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    source_x = centre_x + scale * (cos * x - sin * y)
    source_y = centre_y + scale * (sin * x + cos * y)
    sampled = bilinear_sample(image, source_y, source_x)
    padded_h, padded_w = -(-height // tile) * tile, -(-width // tile) * tile
    full = np.zeros((padded_h, padded_w))
    full[:height, :width] = sampled
    return full.reshape(padded_h // tile, tile, padded_w // tile, tile).sum(axis=(0, 2))


def _flipped_fold(folded: np.ndarray, width: int) -> np.ndarray:
    """The folded tile of an image's left-right mirror from the image's own folded tile: column
    x of the mirror is column width - 1 - x of the image, so its tile column v sums the image's
    tile column (width - 1 - v) mod D*T."""
    tile = folded.shape[1]
    return folded[:, (width - 1 - np.arange(tile)) % tile]


def hypothesis_name(index: int, config: TileConfig) -> tuple[bool, float, float]:
    per_flip = len(config.angles) * len(config.scales)
    flip = config.flips[index // per_flip]
    angle = config.angles[(index % per_flip) // len(config.scales)]
    scale = config.scales[index % len(config.scales)]
    return flip, angle, scale
