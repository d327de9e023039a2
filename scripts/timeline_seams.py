"""Timeline seams against the motion's own pace: the measurement behind the README's `--timeline` numbers.

For each timeline and seed, the largest joint speed from BRIDGE_FRAMES before a seam to SEAM_AFTER frames past
its bridge, divided by the whole motion's 99th-percentile joint speed (issue 15's rule: at most 1), as
`generate_timeline` returns it (cleaned, seams eased) and, with --plain, with the seam easing switched off.
Also the physical gates of issue 14 on the same motions and how far the easing moved any joint.

    python scripts/timeline_seams.py --set dev --seeds 0-4 --steps 20 --plain
    python scripts/timeline_seams.py --set held-out --seeds 20-24 --out docs/results/timeline-seams/held-out.json

The `dev` timelines are the ones the easing was written against; `held-out` ones were first run after it was
fixed (other kinds, other phrasings, other seeds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from intermamba import InterMambaPipeline
from intermamba import cleanup
from intermamba.constraints import BRIDGE_FRAMES
from intermamba.evaluation import physical
from intermamba.pipeline import SEAM_AFTER

TIMELINES = {
    "dev": {
        "issue": [("two people shake hands", 120), ("they walk side by side", 240)],
        "shake-walk-hug": [("two people shake hands", 60), ("they walk side by side", 90), ("two people hug", 60)],
        "bow-push": [("two people bow to each other", 60), ("one person pushes the other", 60)],
        "walk-hug-bow": [("two people walk towards each other", 90), ("two people hug", 60), ("they bow", 45)],
        "push-walk": [("one person pushes the other away", 75), ("they walk side by side", 90)],
    },
    "held-out": {
        "greet-dance": [("two people wave at each other", 60), ("they dance together", 120)],
        "chase-hug": [("one person chases the other", 90), ("they hug", 60), ("they part", 45)],
        "box-point": [("two people box", 90), ("one points at something far away", 60)],
        "pat-walk-high5": [("one pats the other's shoulder", 60), ("they walk in a circle", 90),
                           ("they high five", 45)],
        "handover-pull": [("one hands the other a box", 75), ("one pulls the other by the arm", 75)],
    },
}
GATES = ("min_pelvis_gap", "foot_skating", "jitter", "bone_drift", "floor_depth_max")


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def seam_ratio(joints: np.ndarray, seams) -> float:
    speeds = cleanup.frame_speeds(joints)
    worst = max(speeds[max(f - BRIDGE_FRAMES - 1, 0):f + BRIDGE_FRAMES + SEAM_AFTER].max() for f in seams)
    return float(worst / np.percentile(speeds, cleanup.SEAM_PERCENTILE))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*TIMELINES, "all"], default="all")
    parser.add_argument("--seeds", default="0-4", help="'0-4' or '0,3,7'")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--plain", action="store_true", help="also measure with the seam easing switched off")
    parser.add_argument("--out", type=Path, help="write the rows and the summary as JSON here")
    args = parser.parse_args()
    pipe = InterMambaPipeline.from_pretrained()
    timelines = {k: v for name, group in TIMELINES.items() if args.set in (name, "all") for k, v in group.items()}
    modes = ["eased", "plain"] if args.plain else ["eased"]
    rows = []
    for name, segments in timelines.items():
        seams = np.cumsum([frames for _, frames in segments])[:-1]
        for seed in seeds_of(args.seeds):
            row = {"timeline": name, "seed": seed}
            joints = {}
            for mode in modes:
                tic = time.perf_counter()
                joints[mode] = pipe.generate_timeline(segments, seed=seed, steps=args.steps,
                                                       ease=mode == "eased").joints
                row[f"{mode}_seconds"] = round(time.perf_counter() - tic, 2)
                row[f"{mode}_ratio"] = round(seam_ratio(joints[mode], seams), 4)
                m = physical.per_sample(joints[mode])
                row.update({f"{mode}_{k}": round(float(m[k]), 4) for k in GATES})
            if "plain" in joints:
                row["moved_max_m"] = round(float(np.linalg.norm(joints["eased"] - joints["plain"], axis=-1).max()), 3)
            rows.append(row)
            print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    summary = {}
    for mode in modes:
        ratios = np.array([r[f"{mode}_ratio"] for r in rows])
        summary[mode] = {"over": int((ratios > 1).sum()), "of": len(rows), "worst": float(ratios.max()),
                         **{k: round(float(np.mean([r[f"{mode}_{k}"] for r in rows])), 4) for k in GATES}}
        print(f"{mode}: {summary[mode]['over']} of {len(rows)} timelines have a seam over the motion's 99th "
              f"percentile (worst {summary[mode]['worst']:.3f}x); means: "
              + ", ".join(f"{k} {summary[mode][k]}" for k in GATES))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
                                        "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
