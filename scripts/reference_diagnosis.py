"""Which person stands at the origin? The frame-0 pelvises of raw samples, against the data's, per model.

    python scripts/reference_diagnosis.py --checkpoint runs/demo/export --checkpoint other/export
    python scripts/reference_diagnosis.py --anchor        # also sampled with constraints.reference_anchor

InterGen's processing puts one person of each pair at the canonical origin at frame 0 (facing +Z) and the
partner where they stand, then swaps the two at random. A denoiser that cannot tell which slot is the
reference predicts, for both, the average of the two places: both frame-0 pelvises half-way between the origin
and the partner, i.e. one merged skeleton. For each model this prints, over the world's kinds and a few seeds,
how far each slot's frame-0 pelvis is from the origin (the nearer and the farther one), the closest the two
pelvises come, and how many samples merge (evaluation.physical), beside the same numbers for the test split.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from intermamba import InterMambaPipeline, load_config
from intermamba.data import build_dataset
from intermamba.evaluation import physical
from intermamba.motion import features_to_joints

PROMPTS = ["two friends meet and shake hands", "two people give each other a warm hug",
           "two people stroll next to each other", "someone shoves the other person, who stumbles backwards",
           "two people bow politely to each other", "someone chases their friend across the room"]


def row(name: str, features: list[np.ndarray]) -> str:
    """features: (T, 2, 262) per sample -> a markdown row."""
    start = np.array([np.linalg.norm(f[0, :, [0, 2]], axis=0) for f in features])     # (N, 2) from the origin
    near, far = start.min(1), start.max(1)
    joints = [features_to_joints(f).transpose(1, 0, 2, 3) for f in features]
    quality = [physical.per_sample(j) for j in joints]
    gap = np.array([q["min_pelvis_gap"] for q in quality])
    merged = sum(q["merged"] > 0 for q in quality)
    return (f"| {name} | {np.median(near):.2f} | {np.median(far):.2f} | {np.median(gap):.2f} | {gap.min():.2f} | "
            f"{merged} of {len(features)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", help="exported model folder (repeatable; default: demo)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    parser.add_argument("--anchor", action="store_true", help="also sample with the reference anchor")
    parser.add_argument("--placement-guidance", type=float, help="default: the model's")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print("| samples | frame-0 pelvis nearer the origin, median m | farther, median m | closest pelvis gap, "
          "median m | least m | merged |\n|---|---|---|---|---|---|")
    test = build_dataset(load_config("demo").data, "test")
    torch.manual_seed(0)
    real = [(item := test[i])["motion"][:item["length"]].numpy() for i in range(0, len(test), 3)]
    print(row(f"test split ({len(real)} items)", real))
    for checkpoint in args.checkpoint or [None]:
        pipe = InterMambaPipeline.from_pretrained(checkpoint)
        for anchored in ([False, True] if args.anchor else [None]):
            features = [s.features for p in PROMPTS
                        for s in pipe.generate(p, frames=args.frames, seed=seeds[0], num_samples=len(seeds),
                                               steps=args.steps, cleanup=False, reference_anchor=anchored,
                                               placement_guidance=args.placement_guidance)]
            label = {None: "", False: ", no anchor", True: ", anchored"}[anchored]
            print(row(f"{pipe.source}{label}", features))


if __name__ == "__main__":
    main()
