"""A still PNG of a generated pair: chosen frames side by side (intermamba.render.render_frames_png).

    python scripts/still.py outputs/two_people_hug_seed0_joints.npy --out hug.png --frames 0,60,120 --title "..."

Without --frames, five evenly spaced frames. Each panel is labelled with its time; person 1 is blue, person 2 red.
"""

import argparse

import numpy as np

from intermamba.render import render_frames_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("joints", help="joints .npy (2, T, 22, 3), e.g. a generated _joints.npy")
    parser.add_argument("--out", required=True, help="PNG path")
    parser.add_argument("--frames", help="comma list of frame indices (30 fps)")
    parser.add_argument("--title", help="caption above the panels")
    args = parser.parse_args()
    frames = [int(f) for f in args.frames.split(",")] if args.frames else None
    try:
        path = render_frames_png(np.load(args.joints), args.out, args.title, frames=frames)
    except ValueError as err:                       # a frame out of range, a wrong shape: one line
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
