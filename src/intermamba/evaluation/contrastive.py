"""Contrastive training of the evaluator on any dataset (`intermamba train-evaluator`).

InterGen never released InterCLIP's training code; what is known (reference/intergen-facts.md sec. 4) is the
loss: symmetric InfoNCE between the L2-normalised text and motion embeddings with logit scale
latent_scale^2. Everything else here (AdamW, the schedule, treating identical captions in a batch as
positives) is our choice. The motions are the dataset's unnormalised canonical features with its usual
augmentations (random crops, person swaps, mirrored copies), exactly what the protocol later embeds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..fileio import atomic_write_text
from .evaluator import Evaluator
from .metrics import r_precision
from .protocol import resolve_settings


def _same_text(texts: list[str], device) -> torch.Tensor:
    ids = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    codes = torch.tensor([ids[t] for t in texts], device=device)
    return codes[:, None] == codes[None, :]                                        # (B, B)


def _cycle(loader: DataLoader):
    while True:
        yield from loader


def fit(evaluator: Evaluator, dataset: Dataset, *, steps: int, batch_size: int, lr: float,
        weight_decay: float = 1e-4, grad_clip: float = 1.0, seed: int = 0, collate_fn: Optional[Callable] = None,
        log_every: int = 50, progress: bool = True) -> list[dict]:
    """Train `evaluator.net` in place for `steps` optimiser steps; returns the log (step, loss, scale).

    The learning rate warms up linearly over the first 5% of steps, then follows a cosine to 0.
    """
    if len(dataset) < 2:
        raise ValueError(f"contrastive training needs at least 2 items, the dataset has {len(dataset)}")
    torch.manual_seed(seed)
    np.random.seed(seed)
    net, device = evaluator.net, evaluator.device
    batch_size = min(batch_size, len(dataset))
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_fn,
                        generator=generator)
    params = [p for p in net.parameters() if p.requires_grad]
    # No weight decay on the scale, norms and biases (1-d tensors).
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    optim = torch.optim.AdamW(groups, lr=lr)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="train-evaluator", unit="step", dynamic_ncols=True)
    log, running, started = [], [], time.time()
    net.train()
    batches = _cycle(loader)
    for step in range(1, steps + 1):
        batch = next(batches)
        motion = batch["motion"].to(device)
        lengths = batch["lengths"].to(device)
        tokens, mask = evaluator.text_inputs(batch["text"])
        text_emb = net.encode_text(tokens, mask)                                     # (B, E)
        motion_emb = net.encode_motion(motion, lengths)                              # (B, E)
        loss = net.contrastive_loss(text_emb, motion_emb, _same_text(batch["text"], device))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optim.step()
        schedule.step()
        running.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running[-1]:.3f}", scale=f"{float(net.latent_scale.detach()):.2f}")
        if step % log_every == 0 or step == steps:
            log.append({"step": step, "loss": float(np.mean(running)), "latent_scale": float(net.latent_scale.detach()),
                        "lr": schedule.get_last_lr()[0], "seconds": round(time.time() - started, 1)})
            running = []
    if bar is not None:
        bar.close()
    net.eval()
    return log


@torch.no_grad()
def retrieval_accuracy(evaluator: Evaluator, dataset: Dataset, *, batch_size: int, seed: int = 0,
                       collate_fn: Optional[Callable] = None, top_k: int = 3) -> dict:
    """R-Precision (top 1..k) of matched pairs, and of the same pairs with the texts shuffled (chance level),
    in shuffled batches of `batch_size` (drop_last), as the protocol computes it."""
    batch_size = min(batch_size, len(dataset))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate_fn,
                        generator=torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    hits, shuffled, n = np.zeros(top_k), np.zeros(top_k), 0
    for batch in loader:
        text_emb = evaluator.embed_text(batch["text"])
        motion_emb = evaluator.embed_motion(batch["motion"], batch["lengths"])
        hits += r_precision(text_emb, motion_emb, top_k)
        shuffled += r_precision(text_emb[rng.permutation(len(text_emb))], motion_emb, top_k)
        n += len(text_emb)
    if n == 0:
        raise ValueError(f"the split has {len(dataset)} items, fewer than one batch of {batch_size}")
    return {"r_precision": (hits / n).tolist(), "r_precision_shuffled": (shuffled / n).tolist(), "items": n}


def train_evaluator(cfg, out_dir, *, progress: bool = True, device: str = "cpu") -> Path:
    """Build the `cfg.eval.evaluator` preset over `cfg.text`'s encoder, train it on `cfg.data`'s train split
    and write `out_dir/evaluator.safetensors` + `out_dir/evaluator.json` (training log, validation R-Precision)."""
    from ..data import build_dataset, collate
    from ..text import build_text_encoder

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ev = cfg.eval
    encoder = build_text_encoder(cfg.text)
    evaluator = Evaluator.from_config(ev.evaluator, encoder, text_config=dataclasses.asdict(cfg.text), device=device)
    train_set = build_dataset(cfg.data, "train")
    started = time.time()
    log = fit(evaluator, train_set, steps=ev.evaluator_steps, batch_size=ev.evaluator_batch_size,
              lr=ev.evaluator_lr, weight_decay=ev.evaluator_weight_decay, grad_clip=ev.evaluator_grad_clip,
              seed=cfg.data.seed, collate_fn=collate, log_every=ev.evaluator_log_every, progress=progress)
    seconds = time.time() - started
    report = {"config": cfg.name, "preset": ev.evaluator, "dataset": cfg.data.dataset, "steps": ev.evaluator_steps,
              "train_seconds": round(seconds, 1), "log": log,
              "parameters": sum(p.numel() for p in evaluator.net.parameters() if p.requires_grad)}
    # Validation R-Precision in the protocol's batch size (or the whole split when it is smaller).
    val_set = build_dataset(cfg.data, "val")
    if len(val_set) > 1:
        batch = resolve_settings(ev).batch_size
        report["val"] = retrieval_accuracy(evaluator, val_set, batch_size=batch, seed=cfg.data.seed, collate_fn=collate)
    path = evaluator.save(out_dir / "evaluator.safetensors",
                          extra_metadata={"dataset": cfg.data.dataset, "config": cfg.name, "steps": ev.evaluator_steps})
    atomic_write_text(out_dir / "evaluator.json", json.dumps(report, indent=2) + "\n")
    return path
