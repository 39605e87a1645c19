"""An invisible, weight-free watermark that survives re-encoding and rescaling of a video.

Every frame is reduced to a canonical 64x64 luma image; 56 code bits (the 32-bit `Payload`, its
CRC-24, whitened by a keyed word) live in its low DCT frequencies, each written by moving its
projection onto a lattice (dither modulation) and read back as a soft value, averaged over the
frames of a clip and decoded with repair of a few weak bits.

    layout.py       WatermarkConfig; where the bits live (the keyed layout of DCT coefficients)
    canonical.py    a frame's canonical image, the projections, and the resampling to and from it
    sync.py         MarkingState: what the frames of one video share while being marked
    embed.py        Embedder: writing the mark into a frame or a Y' plane
    decode.py       Detection; soft bits, repair and the check
    watermarker.py  Watermarker, WatermarkDetector, detect: the public face of the above
    tiles.py        the tiled layer (TileMarker; tile_detect.py: TileDetector, tile_fold.py: its
                    geometric hypotheses and folding): a keyed tile repeated over the
                    frame, written before the DCT layer by `provenance.marking`, read by `verify`
                    after a flip / rotation / scale / border search (crops, pads, flips, small
                    rotations, tone changes, overlays)

Limits: designed against accidental processing (re-encoding, rescaling, mild filtering), not a
determined adversary who knows the scheme. The DCT layer does not survive cropping, rotation,
mirroring or contrast changes; the tiled layer covers crops up to ~2.5%, rotations up to ~1 deg,
flips, borders and canvases, gain/gamma/range changes and overlays (its code bits go through a
convolutional code, `convolutional.py`, decoded by a soft list Viterbi search whose best words are
checked against the CRC), with less margin than the DCT layer has against codecs and small frames
(at 256 px a crop + contrast change + CRF 28 removes it from ~40% of the clips and the 80%
screen-recording canvas from ~20%; a 50% downscale + CRF 28 removes it, where the DCT layer reads
down to ~110-120 px). Video frames of 112-223 px carry the tiled layer alone, with the energy of
both (`TileConfig.alone_from`, `alone_below`, `alone_rms`; `provenance.marking`).
"""

from reenact.provenance.watermark.decode import Detection
from reenact.provenance.watermark.embed import MIN_MARKED_SIDE
from reenact.provenance.watermark.layout import LUMA_709, WatermarkConfig
from reenact.provenance.watermark.sync import HYSTERESIS, OVERLAY_HYSTERESIS, MarkingState
from reenact.provenance.watermark.watermarker import WatermarkDetector, Watermarker, detect

__all__ = ["HYSTERESIS", "LUMA_709", "MIN_MARKED_SIDE", "OVERLAY_HYSTERESIS", "Detection",
           "MarkingState", "WatermarkConfig", "WatermarkDetector", "Watermarker", "detect"]
