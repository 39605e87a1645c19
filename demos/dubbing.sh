#!/usr/bin/env bash
# Dub the sample driving clip with a sample sentence, from a fresh checkout:
#   pip install -e ".[demo]" && bash demos/dubbing.sh [OUTPUT.mp4]
# The sentence (4.5 s) is longer than the clip (4 s): the default --length-policy pingpong plays the
# clip back and forth to cover it; only the lower face changes, the rest keeps its original pixels.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
output="${1:-dubbing.mp4}"
shift || true
[ -f "$root/samples/driving.mp4" ] || python3 "$root/samples/make_samples.py" "$root/samples"
reenact dub --video "$root/samples/driving.mp4" --audio "$root/audio/fr.wav" -o "$output" "$@"
