"""The face evaluation as markdown tables: per clip and pooled, model and warp baseline on adjacent
rows, one table per kind (self-reenactment, cross-identity)."""

from __future__ import annotations

import math

# (key, header, format, kinds it applies to)
_COLUMNS = (
    ("l1", "L1", "{:.4f}", ("self",)),
    ("psnr", "PSNR", "{:.2f}", ("self",)),
    ("mouth_l1", "mouth L1", "{:.4f}", ("self",)),
    ("mouth_ssim", "mouth SSIM", "{:.3f}", ("self",)),
    ("akd", "AKD", "{:.2f}", ("self",)),
    ("akd_mesh", "AKD (mesh)", "{:.2f}", ("self",)),
    ("mouth_r", "mouth r", "{:.2f}", ("self", "cross")),
    ("mouth_amp", "mouth amp", "{:.2f}", ("self", "cross")),
    ("lips_r", "lips r", "{:.2f}", ("self", "cross")),
    ("lips_amp", "lips amp", "{:.2f}", ("self", "cross")),
    ("lips_mesh_r", "lips r (mesh)", "{:.2f}", ("self", "cross")),
    ("lips_mesh_amp", "lips amp (mesh)", "{:.2f}", ("self", "cross")),
    ("eye_r", "eye r", "{:.2f}", ("self", "cross")),
    ("eye_mesh_r", "eye r (mesh)", "{:.2f}", ("self", "cross")),
    ("gaze_r", "gaze r", "{:.2f}", ("self", "cross")),
    ("gaze_amp", "gaze amp", "{:.2f}", ("self", "cross")),
    ("yaw_r", "yaw r", "{:.2f}", ("self", "cross")),
    ("roll_r", "roll r", "{:.2f}", ("self", "cross")),
    ("sharpness", "sharp", "{:.2f}", ("self", "cross")),
    ("sharpness_face", "sharp -mouth", "{:.2f}", ("self", "cross")),
    ("identity", "ident", "{:.3f}", ("self", "cross")),
    ("identity_frame", "ident now", "{:.3f}", ("self",)),
    ("noface", "noface", "{:d}", ("self", "cross")),
)
TITLES = {"self": "Self-reenactment (frame 0 of each clip as the source)",
          "cross": "Cross-identity (portrait x driving clip)"}
LEGEND = (
    "mouth: visible mouth interior (pixels inside the outer lips that are not lip-coloured; "
    "primary, sees lip closure); lips: dlib's inner-lip landmark gap (the mouth is drawn from it); "
    "lips (mesh): FaceMesh's, which sees the lips meet (mediapipe's where installed, else "
    "reenact's bundled port of the same network). eye r: dlib's eye aspect ratio; eye r (mesh): "
    "FaceMesh's lid gap, which follows a closing lid. gaze: FaceMesh's iris position along the "
    "eyes (- without mediapipe: the port has no irises). r: Pearson r "
    "over time with the driver; amp: std output / std driver (1 = as much motion). AKD: landmark "
    "distance to the driver, px at a 256-px face; AKD (mesh): FaceMesh's 468 points, in the same "
    "units (the warp is warped onto dlib's points, so dlib's AKD favours it by construction). "
    "mouth L1: the driver's mouth box (lips, teeth, inside) against the output's, resampled to "
    "64 x 38 pixels, at the best shift within 2 of them (how the mouth looks, not where it is); "
    "mouth SSIM: the same boxes' luma by structural similarity (1 = the same; it weighs local "
    "contrast and structure, where a duller inside can lower an L1). "
    "sharp: face Laplacian variance / the driver's "
    "(cross: the portrait's); sharp -mouth: the same without the mouth (the outer lips grown 1.3x, "
    "the driver's or portrait's and the output's), where a drawn inside's teeth would count as "
    "the face's detail. ident: dlib descriptor distance to the source (same person < 0.6); "
    "ident now: to the driving frame of the same time (the driver's expression too: a face frozen "
    "nearer the source does not score better). "
    "drv mouth sd: how much the driver's mouth interior moves (where it is tiny, the clip's mouth r "
    "and amp are noise; pooled figures weigh clips by it); drv ident: the driving frames' own "
    "distance to the source. noface: frames without a detected face.")


def _format(value: object, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return spec.format(value)


def _table(kind: str, clips: list[dict], pooled: dict) -> list[str]:
    columns = [c for c in _COLUMNS if kind in c[3]]
    header = ["clip", "method", "frames", *[c[1] for c in columns], "drv mouth sd", "drv ident"]
    lines = [f"### {TITLES[kind]}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    rows = [(clip["clip"] if kind == "self" else f"{clip['source']} x {clip['clip']}", clip)
            for clip in clips]
    rows.append((f"**pooled** ({pooled['clips']} clips)", pooled))
    for name, entry in rows:
        for method in ("model", "warp"):
            cells = [name if method == "model" else "", method,
                     str(entry["frames"]) if method == "model" else ""]
            cells += [_format(entry[method].get(key), spec) for key, _, spec, _ in columns]
            driver = entry["driver"]
            cells += ([_format(driver["mouth_sd"], "{:.4f}"), _format(driver["identity"], "{:.3f}")]
                      if method == "model" else ["", ""])
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def format_face_report(summary: dict) -> str:
    """Markdown tables of `reenact.evaluation.scores.summarize_records`' summary, and a legend."""
    lines: list[str] = []
    for kind in ("self", "cross"):
        if kind in summary["pooled"]:
            clips = [clip for clip in summary["clips"] if clip["kind"] == kind]
            lines += _table(kind, clips, summary["pooled"][kind]) + [""]
    lines.append(LEGEND)
    return "\n".join(lines)
