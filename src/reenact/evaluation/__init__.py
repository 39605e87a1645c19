"""Measures for judging reenacted faces, used by `reenact evaluate` (`reenact.pipelines.evaluate`).

- `measures`: per-image face measures from 68 dlib landmarks and pixels (mouth interior, head pose,
  face sharpness, AKD) and the series statistics (Pearson r, amplitude ratio);
- `warp`: the training-free baseline, a piecewise-affine warp of the source onto landmarks;
- `identity`: dlib face descriptors and their distance;
- `scores`: per-frame records of an evaluated clip, per-clip and pooled scores;
- `report`: the markdown tables; `sheet`: the contact sheet (driving | model | warp);
- lip sync: `facemesh` (mediapipe's FaceMesh, an optional dependency: the inner-lip gap),
  `mouth_track` (per-frame gap, interior and teeth of a video), `word_timing` (GRID `.align` files,
  p/b/m onsets) and `lipsync` (the scores against speech and the real video of it).

Nothing here is imported by `import reenact`; scipy (the warp's triangulation) and mediapipe load on
first use.
"""
