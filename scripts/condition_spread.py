"""How much of a denoiser's condition vector tells captions apart? Text against time, per exported model.

    python scripts/condition_spread.py --checkpoint runs/x0/export --checkpoint runs/lr1e3/export

The condition added to every token is cond = TimeMLP(t) + Linear(text head(caption)). For 48 test captions it
prints the text part's mean norm, its between-caption spread (the mean distance from the captions' mean), the mean
cosine between two captions' text parts, the time part's norm at t = 500, and the ratio spread / |time|: how much
of the condition changes with the caption. A model whose ratio is small can hardly follow its text.
"""

from __future__ import annotations

import argparse

import torch

from denoiser_floor import spread_items    # this folder's: the same spread of items
from intermamba import InterMambaPipeline, load_config
from intermamba.data import build_dataset

CAPTIONS = 48


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", help="exported model folder or 'demo' (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = build_dataset(load_config("demo").data, "test")
    torch.manual_seed(0)                     # the dataset's augmentations draw from it, and the captions vary with them
    captions = [item["text"] for item in spread_items(data, CAPTIONS)]
    print(f"{len(captions)} test captions, t = 500\n")
    print("| model | text norm | between-caption spread | cosine between captions | time norm | spread / time |")
    print("|---|---|---|---|---|---|")
    for checkpoint in args.checkpoint or ["demo"]:
        pipe = InterMambaPipeline.from_pretrained(None if checkpoint == "demo" else checkpoint)
        features, mask = pipe.text_encoder.encode(captions)
        with torch.no_grad():
            text = pipe.model.text_proj(pipe.model.text_head(features, mask))                # (N, D)
            time = pipe.model.time_embed(torch.full((len(captions),), 500))                  # (N, D)
        spread = float((text - text.mean(0)).norm(dim=-1).mean())
        unit = torch.nn.functional.normalize(text, dim=-1)
        cosine = float((unit @ unit.T)[~torch.eye(len(captions), dtype=torch.bool)].mean())
        time_norm = float(time.norm(dim=-1).mean())
        print(f"| {pipe.source} | {float(text.norm(dim=-1).mean()):.2f} | {spread:.2f} | {cosine:.3f} | "
              f"{time_norm:.2f} | {spread / time_norm:.3f} |")


if __name__ == "__main__":
    main()
