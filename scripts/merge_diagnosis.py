"""Where do two people merge? The pelvis gap of the x0 prediction along the DDIM trajectory, per guidance scale.

    python scripts/merge_diagnosis.py --prompt "two people hug each other" --guidance 1,2,3.5
    python scripts/merge_diagnosis.py --checkpoint runs/study/study_intergen/export --guidance 1,3.5
    python scripts/merge_diagnosis.py --guidance 3.5 --interval 500,1000    # guidance only for 500 <= t < 1000
    python scripts/merge_diagnosis.py --guidance 3.5 --placement 1           # placement guided at 1 (pipeline.guide)

For each guidance scale it runs the default sampler (DDIM, 50 steps) from the same seeds and prints, at a few
steps, the mean horizontal distance between the two pelvises of the current x0 estimate (metres, averaged over
frames), one column per seed, as a markdown table. A gap that starts apart and shrinks step by step points at the
sampler (guidance extrapolating positions) rather than at a model that cannot tell the two roles apart (which
would give a small gap from the first step on).
"""

from __future__ import annotations

import argparse
from typing import Optional

import numpy as np
import torch

from intermamba import InterMambaPipeline
from intermamba.diffusion import conditioned
from intermamba.motion import features_to_joints
from intermamba.skeleton import ROOT as PELVIS

SHOWN = 8   # about this many steps of the trajectory are printed


def pelvis_gaps(pipe: InterMambaPipeline, x0_normalised: torch.Tensor) -> np.ndarray:
    """(B, T, 2, 262) normalised features -> (B,) mean horizontal pelvis distance in metres."""
    features = pipe.normalizer.denormalize(x0_normalised.float()).numpy()
    gaps = []
    for f in features:
        joints = features_to_joints(f)                                       # (T, 2, 22, 3)
        gaps.append(np.linalg.norm(joints[:, 0, PELVIS, [0, 2]] - joints[:, 1, PELVIS, [0, 2]], axis=-1).mean())
    return np.array(gaps)


def trajectory(pipe: InterMambaPipeline, prompt: str, frames: int, seeds: list[int], guidance: float, steps: int,
               interval: tuple[int, int] = (0, 1000), placement: Optional[float] = None):
    """[(step index, t, gaps (B,))] along one guided DDIM run; guidance only for interval[0] <= t < interval[1],
    the people's placement guided at `placement` (None: as the model says)."""
    guide = pipe.guide(guidance, placement)
    x = torch.stack([torch.randn(frames, 2, 262, generator=torch.Generator().manual_seed(s)) for s in seeds])
    features, mask = pipe.text_encoder.encode([prompt] * len(seeds))
    denoise = conditioned(pipe.model, text_features=features.to(pipe.device), text_mask=mask.to(pipe.device),
                          lengths=torch.full((len(seeds),), frames, device=pipe.device))
    sampler = pipe.sampler
    sampler.set_timesteps(steps)
    every = max(1, sampler.steps // SHOWN)
    rows = []
    x = x.to(pipe.device)
    with torch.inference_mode():
        for i in range(sampler.steps):
            t = torch.full((len(seeds),), int(sampler.timesteps[i]), dtype=torch.long, device=pipe.device)
            inside = interval[0] <= int(sampler.timesteps[i]) < interval[1]
            x0 = sampler.denoise_guided(denoise, x, t, guide if inside else 1.0)
            if i % every == 0 or i == sampler.steps - 1:
                rows.append((i, int(sampler.timesteps[i]), pelvis_gaps(pipe, x0.cpu())))
            x = sampler.step(x0, i, x)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="exported model folder (default: the shipped demo)")
    parser.add_argument("--prompt", default="two people hug each other")
    parser.add_argument("--guidance", default="1,2,3.5", help="comma-separated guidance scales")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--interval", default="0,1000", help="guide only for LOW <= t < HIGH (default: every step)")
    parser.add_argument("--placement", type=float, help="guidance scale of the people's placement (default: the model's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = InterMambaPipeline.from_pretrained(args.checkpoint)
    seeds = [int(s) for s in args.seeds.split(",")]
    interval = tuple(int(v) for v in args.interval.split(","))
    print(f"{pipe.source}: {args.prompt!r}, {args.frames} frames, DDIM {args.steps}, seeds {seeds}, "
          f"placement guidance {args.placement if args.placement is not None else 'as the model'}")
    for guidance in (float(g) for g in args.guidance.split(",")):
        print(f"\nguidance {guidance}\n\n| step | t | pelvis gap of the x0 estimate per seed (m) |\n|---:|---:|---|")
        for i, t, gaps in trajectory(pipe, args.prompt, args.frames, seeds, guidance, args.steps, interval,
                                     args.placement):
            print(f"| {i} | {t} | " + " ".join(f"{g:.3f}" for g in gaps) + " |")


if __name__ == "__main__":
    main()
