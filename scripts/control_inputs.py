"""Write the control files that README's control examples read: keys.npz (--keyframes) and paths.npy (--trajectory).

    python scripts/control_inputs.py outputs/      # -> outputs/keys.npz, outputs/paths.npy

keys.npz: both persons of the real CMU capture in tests/data/cmu (18_01 and 19_01, "walk, shake hands") at its
frames 0 (1.9 m apart), 30 (shaking hands) and 75 (apart again), held at the same frames of the output, so the
keyframes keep the capture's own timing; lifted so that the capture's lowest joint is on the floor (y = 0).
paths.npy: (150, 2, 2) pelvis (x, z) paths of two people walking side by side 1 m apart (their middle at
1.2 m/s), 2.5 m straight ahead and then on a left-hand quarter circle (the middle's radius 3 m).
"""

import argparse
from pathlib import Path

import numpy as np

from intermamba.data.bvh import read_bvh_pair
from intermamba.fileio import atomic_path
from intermamba.skeleton import FPS

CMU = Path(__file__).resolve().parents[1] / "tests" / "data" / "cmu"
KEY_FRAMES = (0, 30, 75)
SPEED, GAP, STRAIGHT, RADIUS, PATH_FRAMES = 1.2, 1.0, 2.5, 3.0, 150   # m/s, metres, metres, metres, frames


def keyframes() -> dict:
    pair = read_bvh_pair(CMU / "18_01.bvh", CMU / "19_01.bvh")                        # (2, 76, 22, 3)
    pair = pair - np.array([0.0, pair[..., 1].min(), 0.0], dtype=pair.dtype)          # floor at y = 0
    frames = np.array(KEY_FRAMES)
    return {"frames": frames, "joints": pair[:, frames].transpose(1, 0, 2, 3)}     # (K,), (K, 2, 22, 3)


def paths() -> np.ndarray:
    s = SPEED * np.arange(PATH_FRAMES) / FPS                                          # (T,) metres walked
    out = np.empty((PATH_FRAMES, 2, 2))
    for person, side in enumerate((0.5 * GAP, -0.5 * GAP)):                           # x: +left of the walk
        # along +z, then turning left around the centre (RADIUS, STRAIGHT); the outer person walks a
        # longer arc in the same time, as people side by side do
        radius = RADIUS - side
        arc = np.maximum(s - STRAIGHT, 0.0) / RADIUS                                  # (T,) radians turned
        out[:, person, 0] = np.where(s < STRAIGHT, side, RADIUS - radius * np.cos(arc))
        out[:, person, 1] = np.where(s < STRAIGHT, s, STRAIGHT + radius * np.sin(arc))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="outputs", help="folder (default: outputs)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "keys.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **keyframes())
    with atomic_path(out / "paths.npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, paths())
    print(f"wrote {out / 'keys.npz'} and {out / 'paths.npy'}")


if __name__ == "__main__":
    main()
