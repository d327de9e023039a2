"""Is the demo's x0 floor a width limit or a learning-speed one? Two measurements.

    python scripts/copy_speed.py --pca
    python scripts/copy_speed.py --steps 350 [--lr 4e-4] [model.latent_dim=264] [model.frame_position=false]

--pca: how well a rank-k linear map can carry one person-frame's 262 normalised features (the best one, from
the SVD of 200 training items): if rank 128 leaves almost nothing, a 128-wide latent is no information bottleneck.

Otherwise: train a fresh denoiser (config `demo` plus the overrides) on low noise only, t < --t-max, with the plain
x0 MSE, batch 16, AdamW at a constant --lr, and print every --every steps its x0-hat error (normalised RMS, as
`denoiser_floor.py`) at t = 20 and t = 500 on 16 fixed training items. x_t at t = 20 errs 0.043: a network that
can pass its input through gets there. The curve says how many steps that takes when it is the only task.
"""

from __future__ import annotations

import argparse
import time

import torch

from denoiser_floor import spread_items, valid_rms    # this folder's: the same items and error measure
from intermamba import InterMambaPipeline, build_model, load_config
from intermamba.data import build_dataset, collate

BATCH = 16
PROBE_T = (20, 500)


def normalised(pipe, batch):
    """-> x0 (N, T, 2, 262) normalised with padding set to 0, valid (N, T)."""
    valid = torch.arange(batch["motion"].shape[1])[None] < batch["lengths"][:, None]
    return pipe.normalizer.normalize(batch["motion"]) * valid[..., None, None], valid


def pca_table(pipe, data):
    x0, valid = normalised(pipe, collate(spread_items(data, 200)))
    rows = x0[valid].reshape(-1, x0.shape[-1]).double()                       # (person-frames, 262)
    centred = rows - rows.mean(0)
    singular = torch.linalg.svdvals(centred)
    total = float((centred ** 2).sum())
    print(f"best rank-k linear reconstruction of {len(rows)} person-frames (normalised RMS residual)\n")
    print("| k | residual |\n|---|---|")
    for k in (32, 64, 96, 128, 192):
        print(f"| {k} | {((total - float((singular[:k] ** 2).sum())) / centred.numel()) ** 0.5:.4f} |")


def train_low_noise(pipe, data, args):
    cfg = load_config("demo", args.overrides)
    torch.manual_seed(args.seed)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=cfg.train.weight_decay)
    probe = collate(spread_items(data, 16))
    probe_x0, probe_valid = normalised(pipe, probe)
    probe_text, probe_mask = pipe.text_encoder.encode(list(probe["text"]))
    fixed_noise = torch.randn(probe_x0.shape, generator=torch.Generator().manual_seed(1))

    def probe_errors():
        model.eval()
        errors = []
        for t in PROBE_T:
            steps = torch.full((len(probe_x0),), t, dtype=torch.long)
            x_t = pipe.diffusion.q_sample(probe_x0, steps, fixed_noise)
            with torch.no_grad():
                x0_hat = model(x_t, steps, probe_text, text_mask=probe_mask, lengths=probe["lengths"])
            errors.append(valid_rms(x0_hat - probe_x0, probe_valid))
        model.train()
        return errors

    print(f"config demo {' '.join(args.overrides)}; t < {args.t_max}, lr {args.lr}\n")
    print("| step | t = 20 | t = 500 | seconds |\n|---|---|---|---|")
    generator = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.every == 0:
            err20, err500 = probe_errors()
            print(f"| {step} | {err20:.3f} | {err500:.3f} | {time.perf_counter() - started:.0f} |", flush=True)
        if step == args.steps:
            break
        batch = collate([data[int(i)] for i in torch.randint(0, len(data), (BATCH,), generator=generator)])
        x0, valid = normalised(pipe, batch)
        t = torch.randint(0, args.t_max, (BATCH,), generator=generator)
        x_t = pipe.diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=generator))
        text, mask = pipe.text_encoder.encode(list(batch["text"]))
        err = model(x_t, t, text, text_mask=mask, lengths=batch["lengths"]) - x0
        loss = (err ** 2).mean((-1, -2))[valid].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="config overrides for the trained network (key=value)")
    parser.add_argument("--pca", action="store_true", help="print the rank-k reconstruction table and stop")
    parser.add_argument("--steps", type=int, default=350)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--t-max", type=int, default=50)
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = build_dataset(load_config("demo").data, "train")
    pipe = InterMambaPipeline.from_pretrained(None)      # its normaliser, text encoder and schedule
    torch.manual_seed(0)                                 # the dataset's crops and swaps
    if args.pca:
        pca_table(pipe, data)
    else:
        train_low_noise(pipe, data, args)


if __name__ == "__main__":
    main()
