"""FLOPs per denoiser call against Table 3 (a measurement, not a test): batch 1, no guidance pair, by length.

    python scripts/paper_flops.py --frames 60,100,150,168,210,300

Prints a markdown table (docs/paper-layout.md): GFLOPs of paper, ultralight and the InterGen baseline from
`intermamba.bench.count_flops` (torch's FlopCounterMode: matmuls and convolutions, 2 FLOPs per multiply-add), and
the ratios to InterGen. Lengths beyond the 300-frame spatial window widen it (model.max_frames) for the count.
"""

from __future__ import annotations

import argparse

import torch

from intermamba import build_model, load_config
from intermamba.bench import count_flops

CONFIGS = ("paper", "ultralight", "intergen")
CLIP_TOKENS = 77


def flops(name: str, frames: int) -> float:
    overrides = [f"model.max_frames={max(300, frames)}"] if name != "intergen" else []
    cfg = load_config(name, overrides)
    model = build_model(cfg).eval()
    x = torch.randn(1, frames, 2, cfg.model.input_dim)
    t = torch.tensor([500])
    text = torch.randn(1, CLIP_TOKENS, cfg.model.text_dim)
    with torch.no_grad():
        return count_flops(lambda: model(x, t, text)) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="60,100,150,168,210,300")
    args = parser.parse_args()
    print("| T | " + " | ".join(CONFIGS) + " | paper / intergen | ultralight / intergen |")
    print("|---:|" + "---:|" * (len(CONFIGS) + 2))
    for frames in (int(f) for f in args.frames.split(",")):
        g = {name: flops(name, frames) for name in CONFIGS}
        cells = [f"{g[n]:.1f}" for n in CONFIGS] + [f"{g['paper'] / g['intergen']:.2f}",
                                                    f"{g['ultralight'] / g['intergen']:.2f}"]
        print(f"| {frames} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
