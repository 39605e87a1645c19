"""Write checkpoints/face-mesh/ from FaceMesh's PyTorch state-dict pickle (run once; the result is
committed, the pickle is not).

Usage: python tools/convert_face_mesh.py ../shared/weights/facemesh.pth [checkpoints/face-mesh]
"""

from __future__ import annotations

import sys
from pathlib import Path

from reenact.checkpoint.face_mesh import convert_face_mesh, save_face_mesh

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    target = Path(argv[1]) if len(argv) == 2 else REPO / "checkpoints" / "face-mesh"
    save_face_mesh(convert_face_mesh(argv[0]), target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
