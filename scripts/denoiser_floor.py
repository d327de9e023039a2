"""How well does a denoiser reconstruct x0 at each noise level? Its x0-hat error against x_t's own.

    python scripts/denoiser_floor.py --checkpoint demo --checkpoint runs/v/export [--split test]

For 32 items of the split (every k-th), x_t = q_sample(x0, t, noise) at fixed noise, and the denoiser's x0-hat
(text-conditioned, one call) is compared with x0 in normalised units, per feature group (the root's position, all
positions, velocities, rotations): the RMS over the valid frames of both persons. Beside it, the error of x_t
itself rescaled (x_t / sqrt(ab_t)), which is what passing the input through would give. A denoiser that has
learned the data should be at least as good as that at low noise: an error that stops falling as t falls (a
floor) is motion detail that the last sampling steps cannot put back.
"""

from __future__ import annotations

import argparse

import torch

from intermamba import InterMambaPipeline, load_config
from intermamba import skeleton as sk
from intermamba.data import build_dataset, collate

STEPS = (900, 500, 100, 20)
GROUPS = {"root position": slice(0, 3), "positions": sk.POS, "velocities": sk.VEL, "rotations": sk.ROT}


def spread_items(data, count: int) -> list:
    """`count` of the dataset's items, every k-th one, so that they span the whole split."""
    return [data[i] for i in range(0, len(data), max(1, len(data) // count))][:count]


def valid_rms(err: torch.Tensor, valid: torch.Tensor) -> float:
    """err (N, T, 2, F), valid (N, T) -> the RMS over the valid frames of both persons and all F."""
    return float((err ** 2).mean((-1, -2))[valid].mean().sqrt())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", help="exported model folder or 'demo' (repeatable)")
    parser.add_argument("--split", default="train", choices=["train", "test"])
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--show", type=int, default=0, help="also print N items' pelvis paths at t = 20")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = build_dataset(load_config("demo").data, args.split)
    torch.manual_seed(0)                                              # the dataset's crops and swaps
    batch = collate(spread_items(data, args.items))
    valid = torch.arange(batch["motion"].shape[1])[None] < batch["lengths"][:, None]      # (N, T)
    print(f"normalised RMS error of x0-hat (of x_t / sqrt(ab_t)), {len(valid)} {args.split} items\n")
    print("| model | t | " + " | ".join(GROUPS) + " |\n|---|---|" + "---|" * len(GROUPS))
    shown = []
    for checkpoint in args.checkpoint or ["demo"]:
        pipe = InterMambaPipeline.from_pretrained(None if checkpoint == "demo" else checkpoint)
        x0 = pipe.normalizer.normalize(batch["motion"])
        text, text_mask = pipe.text_encoder.encode(list(batch["text"]))
        for t in STEPS:
            noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
            steps = torch.full((len(x0),), t, dtype=torch.long)
            x_t = pipe.diffusion.q_sample(x0, steps, noise)
            with torch.no_grad():
                x0_hat = pipe.model(x_t, steps, text, text_mask=text_mask, lengths=batch["lengths"])
            passed = x_t / pipe.diffusion.alphas_cumprod[t].float().sqrt()
            cells = [f"{valid_rms((x0_hat - x0)[..., part], valid):.3f} "
                     f"({valid_rms((passed - x0)[..., part], valid):.3f})" for part in GROUPS.values()]
            print(f"| {pipe.source} | {t} | " + " | ".join(cells) + " |", flush=True)
            if args.show and t == STEPS[-1]:
                shown.append((pipe.source, pipe.normalizer.denormalize(x0_hat)))
    for source, x0_hat in shown:
        print(f"\n{source}, t = {STEPS[-1]}: pelvis (x, z) m of person 1 / person 2, data -> x0-hat")
        for i in range(min(args.show, len(x0_hat))):
            n = int(batch["lengths"][i])
            cells = []
            for f in (0, n // 2, n - 1):
                true, est = batch["motion"][i, f, :, [0, 2]], x0_hat[i, f, :, [0, 2]]
                cells.append(f"frame {f}: " + " / ".join(f"({a[0]:.2f}, {a[1]:.2f}) -> ({b[0]:.2f}, {b[1]:.2f})"
                                                         for a, b in zip(true.tolist(), est.tolist())))
            print(f"  {batch['text'][i][:50]!r}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
