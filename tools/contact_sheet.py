"""The README's picture: a few frames of a reenact video beside its driving video and portrait.

    python tools/contact_sheet.py samples/astronaut.png samples/interview.mp4 astronaut.mp4 \
        -o docs/first-video.png

Left, the portrait; top row, driving frames; bottom row, the output's frames at the same times,
cut to a square around the face (`--face X Y SIDE`, in the output's pixels; the default fits the
sample portrait). The sheet is written marked as synthetic (`write_marked_image`), like every
image reenact writes.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
from PIL import Image, ImageDraw

from reenact.io.image import read_image
from reenact.io.video_reader import VideoReader
from reenact.provenance.writers import write_marked_image

logger = logging.getLogger("contact_sheet")

LABEL_HEIGHT = 14  # px of the strip above each row, for its caption
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


def frames_at(path: str, indices: list[int]) -> list[np.ndarray]:
    """The frames of the video at `indices` (sorted), (H, W, 3) uint8 RGB."""
    wanted, found = set(indices), {}
    with VideoReader(path) as video:
        for index, frame in enumerate(video):
            if index in wanted:
                found[index] = frame
            if len(found) == len(wanted):
                break
    return [found[index] for index in indices]


def tile(image: np.ndarray, side: int) -> Image.Image:
    return Image.fromarray(image).resize((side, side), Image.Resampling.LANCZOS)


def contact_sheet(portrait: np.ndarray, driving: list[np.ndarray], output: list[np.ndarray],
                  captions: tuple[str, str], side: int) -> np.ndarray:
    """(H, W, 3) uint8: the portrait (2 rows high), then driving frames above output frames."""
    columns = len(driving)
    row = LABEL_HEIGHT + side
    sheet = Image.new("RGB", (2 * side + columns * side, 2 * row), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    sheet.paste(tile(portrait, 2 * side), (0, 2 * row - 2 * side))
    draw.text((2, 1), "portrait", fill=INK)
    for number, (top, bottom) in enumerate(zip(driving, output)):
        x = 2 * side + number * side
        sheet.paste(tile(top, side), (x, LABEL_HEIGHT))
        sheet.paste(tile(bottom, side), (x, row + LABEL_HEIGHT))
    draw.text((2 * side + 2, 1), captions[0], fill=INK)
    draw.text((2 * side + 2, row + 1), captions[1], fill=INK)
    return np.asarray(sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portrait")
    parser.add_argument("driving")
    parser.add_argument("output_video")
    parser.add_argument("-o", "--output", required=True, help="the sheet (.png)")
    parser.add_argument("--frames", type=int, default=4, help="frames per row")
    parser.add_argument("--side", type=int, default=112, help="a frame's side on the sheet, px")
    parser.add_argument("--face", type=int, nargs=3, default=(110, 10, 210), metavar=("X", "Y", "SIDE"),
                        help="the square of the output shown: its top-left corner and side")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with VideoReader(args.output_video) as video:
        count = video.info.num_frames or sum(1 for _ in video)
    # evenly spread, away from the first frame (which is the portrait's own pose)
    indices = [round((number + 1) * (count - 1) / args.frames) for number in range(args.frames)]
    x, y, side = args.face
    output = [frame[y:y + side, x:x + side] for frame in frames_at(args.output_video, indices)]
    sheet = contact_sheet(read_image(args.portrait), frames_at(args.driving, indices), output,
                          ("driving video (another person)", "reenact's output, face region"),
                          args.side)
    write_marked_image(args.output, sheet)
    logger.info("%s: frames %s, %dx%d px", args.output, indices, sheet.shape[1], sheet.shape[0])


if __name__ == "__main__":
    main()
