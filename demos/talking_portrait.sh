#!/usr/bin/env bash
# A talking head from the sample portrait and a sample sentence, from a fresh checkout:
#   pip install -e ".[demo]" && bash demos/talking_portrait.sh [OUTPUT.mp4]
# Pass --checkpoint DIR / --audio-checkpoint DIR (after the output) to use trained weights.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
output="${1:-talking_portrait.mp4}"
shift || true
[ -f "$root/samples/astronaut.png" ] || python3 "$root/samples/make_samples.py" "$root/samples"
reenact talk --source "$root/samples/astronaut.png" --audio "$root/audio/en.wav" -o "$output" --seed 1 "$@"
