"""Pass 1b of animate: FaceMesh on every driving frame, for what dlib's 68 points do not see.

    pass 1's track + the driving frames -> FaceMesh -> the track, its brows mended where dlib
                                                       misreads them, and each eye's opening

dlib reads a raised brow low (`reenact.preprocess.brows`) and keeps much of an eye's opening
through a blink, sometimes all of it (dev clip tpsmm_driving: a blink that FaceMesh reads down to
0.35 of the eye's opening, dlib at 0.88, so no blink was drawn). FaceMesh sees both. Pass 1 runs
without torch, in its own process while the model loads; this pass runs after it, in the model's
process: the driving frames decoded again in the order pass 2 crops them (a held pose's frame
again), FaceMesh placed by dlib's points where a run of frames with a face starts and by its own
points of the frame before after that (`reenact.preprocess.face_mesh.FaceMeshReader`), 8.5 ms a
frame with 2 threads. What uses it: the brow keypoints (`carried_brows`) and the drawn lids
(`reenact.pipelines.eye_reference`, where FaceMesh sees an eye closing that dlib does not).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable

import numpy as np

from reenact.checkpoint.face_mesh import load_face_mesh
from reenact.engine.backend import Backend
from reenact.io import VideoReader
from reenact.io.frame_order import ordered_frames
from reenact.pipelines.animate_options import DRAWN_EYES, AnimateOptions
from reenact.pipelines.driving_track import DrivingTrack, renders_full
from reenact.preprocess.anchors import ANCHOR_GROUPS, BROW_ANCHORS
from reenact.preprocess.brows import mesh_brows
from reenact.preprocess.face_mesh import FaceMeshReader, MeshReading, eye_openings

# where dlib's brow (its five points' centre) and FaceMesh's change carried onto dlib's brows in
# the frame motion starts from lie further apart than AGREE_WITHIN interocular distances, FaceMesh's
# brow takes over, wholly beyond MISREAD_FROM. On 11 dev clips (60 frames) the two lie 0.006-0.018
# apart (median) and under 0.04 in 90% of frames, but 0.12 on lp_d10, whose driver raises her
# brows (dlib reads them low), and 0.07 on lp_d12 (a shaking camera's blur). Within dlib's own
# noise dlib's brows stay: there FaceMesh's, read throughout, matched the driving frames' pixels
# less well (dev lp_d18, a still face: PSNR 34.13 -> 33.76 dB; the GRID clips -0.1 dB)
AGREE_WITHIN = 0.04
MISREAD_FROM = 0.08


def mesh_track(frames: Iterable[np.ndarray], track: DrivingTrack, reader: FaceMeshReader, *,
               brows: bool, eyes: bool,
               on_frame: Callable[[], None] | None = None) -> DrivingTrack:
    """`track` with FaceMesh's reading of `frames` (one per track frame, (H, W, 3) uint8 RGB, in
    the track's order: `DrivingTrack.frame_indices`): with `brows`, each frame's brows where dlib
    misreads them (`carried_brows`; FaceMesh read in the frame motion starts from,
    `track.best_index` or the first); with `eyes`, `eye_openings` holds each eye's (T, 2)
    `face_mesh.eye_openings`, NaN where FaceMesh finds no face. Frames without landmarks stay
    without; the track is returned as it is without landmarks or with nothing asked for."""
    if track.landmarks is None or not (brows or eyes):
        return track
    landmarks = list(track.landmarks)
    openings = np.full((len(landmarks), 2), np.nan)
    read: list[np.ndarray | None] = [None] * len(landmarks)  # with FaceMesh's brows, (68, 2)
    previous: MeshReading | None = None
    count = 0
    for index, frame in enumerate(frames):
        if index >= len(landmarks):
            break
        count += 1
        points = landmarks[index]
        previous = None if points is None else reader.read(frame, points, previous)
        if previous is not None:
            read[index] = mesh_brows(points, previous.points)
            openings[index] = eye_openings(previous.points)
        if on_frame is not None:
            on_frame()
    if count != len(landmarks):
        raise ValueError(f"frames: expected one per track frame ({len(landmarks)}), got {count}")
    start = track.best_index or 0
    if brows and start < len(landmarks) and read[start] is not None:
        start_points, start_mesh = landmarks[start], read[start]
        for index, points in enumerate(landmarks):
            if points is not None and read[index] is not None:
                landmarks[index] = carried_brows(points, start_points, read[index], start_mesh)
    return dataclasses.replace(track, landmarks=landmarks if brows else track.landmarks,
                               eye_openings=openings if eyes else track.eye_openings)


def carried_brows(points: np.ndarray, start_points: np.ndarray, mesh: np.ndarray,
                  start_mesh: np.ndarray) -> np.ndarray:
    """(68, 2) `points` (dlib's, one frame) with each brow (a brow anchor's group) moved toward
    FaceMesh's reading where the two disagree (`AGREE_WITHIN`, `MISREAD_FROM`): FaceMesh's brows
    (`mesh`, (68, 2) with them as `mesh_brows` places them) changed since the frame motion starts
    from (`start_mesh`, the same), carried onto dlib's brows there (`start_points`, (68, 2)), so
    the photo's brow keypoints stay on dlib's points as the model learned them."""
    out = np.array(points, dtype=np.float64)
    scale = max(float(np.linalg.norm(out[45] - out[36])), 1e-9)  # outer eye corners
    for group in BROW_ANCHORS:
        brow = list(ANCHOR_GROUPS[group])
        own, carried = out[brow], start_points[brow] + mesh[brow] - start_mesh[brow]  # (5, 2)
        gap = float(np.linalg.norm(carried.mean(axis=0) - own.mean(axis=0))) / scale
        weight = float(np.clip((gap - AGREE_WITHIN) / (MISREAD_FROM - AGREE_WITHIN), 0.0, 1.0))
        out[brow] = own + weight * (carried - own)
    return out


@functools.lru_cache(maxsize=1)
def face_mesh_reader() -> FaceMeshReader:
    """The bundled FaceMesh, loaded once per process."""
    return FaceMeshReader(load_face_mesh())


def mesh_reading(backend: Backend, options: AnimateOptions) -> tuple[bool, bool]:
    """(brows, eyes): what FaceMesh reads in pass 1b (options.expressions "facemesh", faces
    followed): the brows for a model anchored on them, the lids where the compositor draws them
    from relative motion."""
    if options.expressions != "facemesh" or options.crop != "face":
        return False, False
    brows = any(name in BROW_ANCHORS for name in getattr(backend, "anchor_groups", ()))
    eyes = options.eyes in DRAWN_EYES and options.relative and renders_full(options)
    return brows, eyes


def read_expressions(driving_path: str | os.PathLike, track: DrivingTrack, backend: Backend,
                     options: AnimateOptions, progress: bool = False) -> DrivingTrack:
    """Pass 1b (`reenact.pipelines.driving_mesh`): `track` with FaceMesh's brows and lids read in
    the driving video's frames, as `mesh_reading` asks."""
    from tqdm import tqdm

    brows, eyes = mesh_reading(backend, options)
    if not (brows or eyes) or track.landmarks is None:
        return track
    with VideoReader(driving_path) as reader, tqdm(
            total=len(track.boxes), unit="frame", desc="reading expressions",
            disable=not progress, leave=False) as bar:
        frames = ordered_frames(lambda: iter(reader), track.frame_indices())
        return mesh_track(frames, track, face_mesh_reader(), brows=brows, eyes=eyes,
                          on_frame=bar.update)
