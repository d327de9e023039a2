"""Training: a Lightning module around the denoiser, and the `intermamba train` entry point.

    run_dir = train(load_config("demo"))          # or: intermamba train --config demo [key=value ...]

One step (paper Sec. 3.1 and 4.5; InterGen's recipe, reference/intergen-facts.md sec. 2-3):
    x0 = normalise(motion)                                     (B, T, 2, 262)
    t ~ U{0..999}, eps ~ N(0, I), x_t = q_sample(x0, t, eps)   Eq. (1)
    drop 10% of the text conditions (classifier-free guidance)
    x0_hat = model(x_t, t, text tokens, mask, lengths, drop_text)
    loss = simple + InterGen's geometric losses (losses.py)    Eq. (14)

The run folder (`train.out_dir/<config name>` unless --run-dir is given) holds:
    config.json                     the resolved Config the run started with
    normalizer.safetensors          dataset statistics (computed once, reused on resume)
    checkpoints/last.ckpt           written atomically every train.ckpt_every steps (+ the latest step=N.ckpt;
                                    older step files are removed)
    logs/version_N/                 CSV (metrics.csv) or TensorBoard, one folder per (re)start: every loss term
                                    and the fusion weights, every train.log_every steps
    export/                         model.safetensors + config.json for InterMambaPipeline.from_pretrained

A killed run continues where it stopped: starting the same command again (or `--resume`) restores the step,
optimiser, LR schedule, EMA and the data order from the newest intact checkpoint (a damaged last.ckpt falls
back to step=N.ckpt with one line saying so; temp files a kill left behind are removed). Randomness is a pure
function of (seed, step, rank): each step reseeds torch's generators (noise, timesteps, dropout, condition
dropout) and each dataset item is drawn under its own seed (crop, caption, swaps), and text features depend on
the caption alone (text.py), so a resumed run repeats exactly what the original would have done (with
data.num_workers = 0, or any worker count: item seeds do not depend on the worker).

Scale-out: `train.devices`, `train.num_nodes`, `train.strategy` go to Lightning. Two GPUs on one machine:
`intermamba train --config paper train.devices=2 train.strategy=ddp`. Under torchrun or SLURM, Lightning
reads the cluster environment (see README). train.batch_size is per process.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

from .checkpoint import CheckpointError, first_line, load_torch_file
from .config import Config, ConfigError, config_from_dict
from .diffusion import GaussianDiffusion
from .fileio import atomic_path, atomic_write_text, clean_stale_temps
from .losses import TERMS, InteractionLoss
from .text import build_text_encoder, check_text_width

CKPT_DIR, LOG_DIR, EXPORT_DIR = "checkpoints", "logs", "export"
LAST_CKPT = "last.ckpt"
STEP_CKPT = re.compile(r"^step=(\d+)\.ckpt$")        # ModelCheckpoint's files (filename="step={step:07d}")
CKPT_KEYS = ("global_step", "state_dict", "optimizer_states", "loops")   # what a resume needs from a checkpoint
CONFIG_FILE, NORMALIZER_FILE = "config.json", "normalizer.safetensors"
BUCKET_BATCHES = 32   # train.bucket_by_length sorts windows of this many batches by length
NO_DECAY_NAMES = ("A_log", "D", "bias")   # Mamba's convention: SSM parameters and biases are not decayed
QUIET_WARNINGS = (  # Lightning notices that are expected here, not problems
    r".*defined a `validation_step` but have no `val_dataloader`.*",   # validation is optional (train.val_every)
    r".*Checkpoint directory .* exists and is not empty.*",             # a resumed run
    r".*LeafSpec.*",                                                    # a Lightning/torch deprecation
)


class TrainingError(ValueError):
    """A training run that cannot start (bad run folder, mismatched config, unsupported precision)."""


def seed_for(*keys: int) -> int:
    """A well-mixed 63-bit seed from integers (numpy's SeedSequence), so nearby steps get unrelated streams."""
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]).generate_state(2, np.uint64)[0] >> 1)


def seed_everything_from(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # CPU and every CUDA device


# ------------------------------------------------------------------------------------------ data order
class _SeededItems(torch.utils.data.Dataset):
    """Dataset view indexed by (index, seed): each item is drawn under its own seed, so its random crop,
    caption and person swaps do not depend on which worker or which earlier item came first."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        index, seed = key
        seed_everything_from(seed)
        return self.dataset[index]


def _entry_lengths(dataset) -> list[int]:
    """Feature frames of each MotionDataset entry (an item cropped to max_frames loses its last frame)."""
    if not hasattr(dataset, "entries") or not hasattr(dataset, "items"):
        raise TrainingError("train.bucket_by_length needs a MotionDataset (with .entries and .items)")
    return [min(dataset.items[i].frames, dataset.max_frames) - 1 for i, _ in dataset.entries]


class StepLoader:
    """The training batches as a pure function of (seed, epoch, position): resumable at any step, sharded by rank.

    Epoch e is a permutation drawn from seed_for(seed, e); rank r of W takes every W-th index of it, cut to full
    batches (so every rank runs the same number of steps). Each __iter__ starts at the batch that optimizer step
    `step_fn()` consumes (one batch per step): Lightning calls iter() again when it restarts or begins an epoch,
    and the restored global step says where the run stands, whatever was prefetched before a kill.
    Lightning's state_dict protocol is implemented (empty) so that Lightning counts the loader as resumable.
    """

    def __init__(self, dataset, *, batch_size: int, seed: int, num_workers: int = 0, collate_fn=None,
                 step_fn=None, rank: Optional[int] = None, world_size: Optional[int] = None,
                 bucket_by_length: bool = False):
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.num_workers, self.collate_fn = num_workers, collate_fn
        # with buckets, each entry's feature length (a crop of at most max_frames, minus the dropped last frame)
        self.lengths = _entry_lengths(dataset) if bucket_by_length else None
        self._rank, self._world_size = rank, world_size
        self._own_step = 0
        self.step_fn = step_fn if step_fn is not None else (lambda: self._own_step)

    @property
    def rank(self) -> int:
        if self._rank is not None:
            return self._rank
        dist = torch.distributed
        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    @property
    def world_size(self) -> int:
        if self._world_size is not None:
            return self._world_size
        dist = torch.distributed
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    def __len__(self) -> int:
        n = len(self.dataset) // self.world_size // self.batch_size
        if n == 0:
            raise TrainingError(f"the training set has {len(self.dataset)} items, fewer than one batch of "
                                f"{self.batch_size} per process x {self.world_size} processes; lower train.batch_size")
        return n

    def batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        """The (index, item seed) batches of this rank in `epoch`."""
        g = torch.Generator().manual_seed(seed_for(self.seed, epoch))
        order = torch.randperm(len(self.dataset), generator=g).tolist()[self.rank::self.world_size]
        if self.lengths is not None:
            # sort windows of BUCKET_BATCHES batches by length, so a batch pads little; then shuffle the batches
            window = self.batch_size * BUCKET_BATCHES
            order = [i for w in range(0, len(order), window)
                     for i in sorted(order[w:w + window], key=lambda j: self.lengths[j])]
        batches = [order[b * self.batch_size:(b + 1) * self.batch_size] for b in range(len(self))]
        if self.lengths is not None:
            batches = [batches[k] for k in torch.randperm(len(batches), generator=g).tolist()]
        return [[(i, seed_for(self.seed, epoch, b * self.batch_size + k, self.rank)) for k, i in enumerate(idx)]
                for b, idx in enumerate(batches)]

    def __iter__(self) -> Iterator[dict]:
        epoch, offset = divmod(self.step_fn(), len(self))
        batches = self.batches(epoch)[offset:]
        self._own_step += len(batches)     # without a step_fn: the next iter() is the next epoch
        loader = torch.utils.data.DataLoader(_SeededItems(self.dataset), batch_sampler=batches,
                                             num_workers=self.num_workers, collate_fn=self.collate_fn)
        return iter(loader)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# --------------------------------------------------------------------------------------------- module
class DiffusionModule(L.LightningModule):
    """The denoiser (+ optional EMA copy) trained with x0 prediction; normaliser statistics are buffers."""

    def __init__(self, cfg: Config, normalizer, *, model: Optional[torch.nn.Module] = None, text_encoder=None):
        super().__init__()
        from .model import build_model

        self.cfg = cfg
        self.model = model if model is not None else build_model(cfg)
        self.register_buffer("norm_mean", normalizer.mean.clone())
        self.register_buffer("norm_std", normalizer.std.clone())
        self.ema_model = None
        if cfg.train.ema_decay is not None:
            # never run while training (so its train/eval mode is irrelevant); exported instead of the raw weights
            self.ema_model = copy.deepcopy(self.model).requires_grad_(False)
        self.diffusion = GaussianDiffusion.from_config(cfg.diffusion)
        self.loss_fn = InteractionLoss(cfg.loss)
        encoder = text_encoder if text_encoder is not None else build_text_encoder(cfg.text)
        check_text_width(cfg.model.text_dim, encoder)
        self._text = [encoder]         # a list hides the frozen encoder from state_dict and .to()
        self.train_seconds = 0.0       # wall time spent in training steps, over all resumes
        self.steps_per_epoch = 1       # batches per process and epoch: set by train() from its loader
        self._step_started = None

    @property
    def text_encoder(self):
        return self._text[0]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.norm_mean.to(x.dtype)) / self.norm_std.to(x.dtype)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.norm_std.to(x.dtype) + self.norm_mean.to(x.dtype)

    def normalizer(self):
        from .motion import Normalizer

        return Normalizer(self.norm_mean.cpu(), self.norm_std.cpu())

    def setup(self, stage: str) -> None:
        self.text_encoder.to(self.device)

    # -------------------------------------------------------------------------------------- the step
    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        seed_everything_from(seed_for(self.cfg.train.seed, self.global_step, self.global_rank, 1))
        self._step_started = time.perf_counter()

    def diffusion_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        lengths = batch["lengths"]
        T = int(lengths.max())                                              # crop the batch's common padding
        x0 = self.normalize(batch["motion"][:, :T].float())                  # (B, T, 2, 262)
        B = x0.shape[0]
        t = torch.randint(0, self.diffusion.num_timesteps, (B,), device=self.device)
        noise = torch.randn_like(x0)
        drop = torch.rand(B, device=self.device) < self.cfg.diffusion.cond_drop   # 10% null condition
        x_t = self.diffusion.q_sample(x0, t, noise)                          # Eq. (1)
        features, mask = self.text_encoder.encode(batch["text"])
        x0_hat = self.model(x_t, t, features.to(self.device), mask.to(self.device), lengths, drop_text=drop)
        return self.loss_fn(x0_hat.float(), x0, lengths=lengths, t=t, denormalize=self.denormalize)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        terms = self.diffusion_losses(batch)
        B = len(batch["text"])
        self.log("train/loss", terms["total"], prog_bar=True, batch_size=B)
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items() if k in TERMS}, batch_size=B)
        fusion = getattr(self.model, "fusion_weights", None)
        if fusion is not None:
            self.log_dict({f"fusion/{k}": float(v) for k, v in fusion().items()}, batch_size=B)
        return terms["total"]

    def optimizer_step(self, *args, **kwargs) -> None:
        # EMA and timing here rather than in on_train_batch_end: the checkpoint callback runs before that hook,
        # and a checkpoint must hold the EMA of the very step it records
        super().optimizer_step(*args, **kwargs)
        if self.ema_model is not None:
            self._update_ema()
        if self._step_started is not None:
            self.train_seconds += time.perf_counter() - self._step_started

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.cfg.train.ema_decay
        for e, p in zip(self.ema_model.parameters(), self.model.parameters()):
            e.lerp_(p.detach().to(e.dtype), 1 - decay)
        for e, b in zip(self.ema_model.buffers(), self.model.buffers()):
            e.copy_(b)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        seed_everything_from(seed_for(self.cfg.train.seed, batch_idx, 2))   # the same t and noise every time
        terms = self.diffusion_losses(batch)
        self.log_dict({f"val/{k}": v for k, v in terms.items()}, batch_size=len(batch["text"]), sync_dist=True)

    # --------------------------------------------------------------------------------- optimisation
    def configure_optimizers(self):
        # Param groups in a fixed order: decayed, not decayed, then the text head's two when train.text_lr is
        # set. Unset, they are the two a run has always saved, so its checkpoints resume.
        tc = self.cfg.train
        groups = {(text, decay): [] for text in (False, True) for decay in (True, False)}
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            skip = (p.ndim < 2 or getattr(p, "_no_weight_decay", False)
                    or name.rsplit(".", 1)[-1] in NO_DECAY_NAMES)
            text = tc.text_lr is not None and name.startswith("text_head.")
            groups[text, not skip].append(p)
        optimizer = torch.optim.AdamW(
            [{"params": params, "weight_decay": tc.weight_decay if decay else 0.0, "lr": tc.text_lr if text else tc.lr}
             for (text, decay), params in groups.items() if params or not text], lr=tc.lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=self._lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _lr_factor(self, step: int) -> float:
        """Linear warm-up, then constant or cosine decay to 0 at the run's end. A schedule stated in epochs
        (warmup_epochs, or max_epochs without max_steps) is stepped per epoch, as InterGen steps its own."""
        tc = self.cfg.train
        per_epoch = bool(tc.warmup_epochs) or tc.max_steps is None
        if per_epoch:
            now, warmup, total = step // self.steps_per_epoch, tc.warmup_epochs, self._total_epochs()
        else:
            now, warmup, total = step, tc.warmup_steps, tc.max_steps
        if warmup and now < warmup:
            return (now + 1) / warmup
        if tc.lr_schedule == "cosine":
            progress = min(1.0, (now - warmup) / max(1, total - warmup))
            return 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    def _total_epochs(self) -> int:
        tc = self.cfg.train
        if tc.max_steps is None:
            return tc.max_epochs
        epochs = -(-tc.max_steps // self.steps_per_epoch)
        return min(epochs, tc.max_epochs) if tc.max_epochs else epochs

    # ----------------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["intermamba"] = {"config": self.cfg.to_dict(), "train_seconds": self.train_seconds}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.train_seconds = float(checkpoint.get("intermamba", {}).get("train_seconds", 0.0))

    def inference_model(self) -> torch.nn.Module:
        """The weights to export: the EMA copy when there is one."""
        return self.ema_model if self.ema_model is not None else self.model


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written to a temp file in the same folder, then os.replace'd: a kill mid-write
    leaves the previous checkpoint intact. Read back with weights_only=True only (checkpoint.load_torch_file);
    the checkpoint `train` already read to choose where to resume is handed over instead of read twice."""

    def __init__(self, preloaded: Optional[tuple[Path, dict]] = None):
        super().__init__()
        self._preloaded = preloaded

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        if self._preloaded is not None and Path(path).resolve() == self._preloaded[0].resolve():
            checkpoint, self._preloaded = self._preloaded[1], None
            return checkpoint
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint {path} not found")
        return read_checkpoint(Path(path))


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, keeping one step=N.ckpt: after each is written every other step file goes,
    whichever start wrote it (Lightning itself spares the file a run resumed from, and knows nothing of files
    from before a fallback), so a run folder holds last.ckpt and the newest step file, never a pile."""

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        written = Path(filepath)
        if trainer.is_global_zero and STEP_CKPT.match(written.name):
            for old in written.parent.glob("step=*.ckpt"):
                if old != written and STEP_CKPT.match(old.name):
                    old.unlink(missing_ok=True)


class ExportCallback(L.Callback):
    """After every checkpoint (and at the end), write the inference export with the training facts."""

    def __init__(self, folder: Path, cfg: Config, *, fp16: bool = False):
        self.folder, self.cfg, self.fp16 = folder, cfg, fp16
        self._started = time.time()

    def _export(self, trainer: L.Trainer, module: DiffusionModule) -> None:
        if trainer.global_rank != 0:
            return
        from .checkpoint import save_pretrained

        facts = {"steps": int(trainer.global_step), "train_seconds": round(module.train_seconds, 1),
                 "devices": f"{trainer.num_nodes}x{trainer.num_devices} {_device_name(module.device)}",
                 "batch_size_per_device": self.cfg.train.batch_size, "ema": self.cfg.train.ema_decay is not None}
        save_pretrained(self.folder, module.inference_model(), self.cfg, module.normalizer(), fp16=self.fp16,
                        extra=facts)

    def on_save_checkpoint(self, trainer, module, checkpoint) -> None:
        self._export(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        self._export(trainer, module)


class StepProgressBar(L.Callback):
    """One bar over optimiser steps (Lightning's bars count epochs, meaningless for step-limited runs)."""

    def __init__(self):
        self.bar = None

    def on_train_start(self, trainer, module) -> None:
        if trainer.is_global_zero:
            from tqdm.auto import tqdm

            total = trainer.estimated_stepping_batches        # max_steps, or max_epochs x batches per epoch
            total = int(total) if math.isfinite(total) else None
            self.bar = tqdm(total=total, initial=trainer.global_step, desc="training", unit="step", dynamic_ncols=True)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.bar is not None:
            self.bar.update(trainer.global_step - self.bar.n)
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            self.bar.set_postfix(loss=f"{float(loss):.4f}", epoch=trainer.current_epoch, refresh=False)

    def on_train_end(self, trainer, module) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_exception(self, trainer, module, exception) -> None:
        self.on_train_end(trainer, module)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


# ------------------------------------------------------------------------------------------- the run
def _check_length(cfg: Config) -> None:
    """A run must end: in steps, in epochs or both; a warm-up is stated in one unit."""
    tc = cfg.train
    if tc.max_steps is None and not tc.max_epochs:
        raise TrainingError("train.max_steps is null and train.max_epochs is not set: the run would never end; "
                            "set one of them")
    if tc.warmup_steps and tc.warmup_epochs:
        raise TrainingError("set train.warmup_steps or train.warmup_epochs, not both")


def _check_precision(cfg: Config) -> None:
    tc = cfg.train
    gpu = tc.accelerator in ("gpu", "cuda") or (tc.accelerator == "auto" and torch.cuda.is_available())
    if not gpu and tc.precision.startswith("16"):
        raise TrainingError(f"train.precision={tc.precision} needs a GPU; on the CPU use 32-true or bf16-mixed")


def _prepare_run_dir(cfg: Config, run_dir: Path, resume: Optional[bool]) -> Optional[tuple[Path, dict]]:
    """Checks the run folder against `resume` (None = resume when a checkpoint exists); returns the checkpoint to
    resume from and its contents (the newest intact one), or None for a fresh start."""
    folder = run_dir / CKPT_DIR
    present = sorted(p.name for p in folder.glob("*.ckpt") if p.name == LAST_CKPT or STEP_CKPT.match(p.name))
    if resume is True and not present:
        raise TrainingError(f"--resume: no checkpoint in {folder}; start without --resume")
    if resume is False and present:
        raise TrainingError(f"{run_dir} already holds a run ({folder / present[0]}); resume it, or pass a new --run-dir")
    if not present:
        return None
    path, checkpoint = _newest_intact_checkpoint(folder)
    before = _recorded_config(run_dir, checkpoint)
    if before.model != cfg.model or before.text != cfg.text or before.data != cfg.data:
        raise TrainingError(f"{run_dir} was started with a different model/text/data config; resume with the "
                            f"same config (see {run_dir / CONFIG_FILE}) or pass a new --run-dir")
    return path, checkpoint


def _initialise_from(module: "DiffusionModule", source: Path) -> None:
    """train.init_from: the weights of a run folder's newest intact checkpoint (or of a .ckpt) into `module`."""
    if not source.exists():
        raise TrainingError(f"train.init_from: {source} does not exist; give a run folder or a .ckpt file")
    path = source if source.is_file() else _newest_intact_checkpoint(source / CKPT_DIR)[0]
    state = read_checkpoint(path)["state_dict"]
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise TrainingError(f"train.init_from: {path} holds another model ({str(err).splitlines()[0]}); start "
                            "from a run of the same model and text config") from None
    added = [k for k in missing if k.rsplit(".", 1)[-1] == "person_embed"]   # at zero: the source's function
    if unexpected or len(added) != len(missing):
        raise TrainingError(f"train.init_from: {path} holds another model (missing "
                            f"{[k for k in missing if k not in added][:3]}, unexpected {unexpected[:3]}); start "
                            "from a run of the same model and text config")
    rank_zero_info(f"intermamba: weights from {path} (a new run: fresh optimiser and schedule"
                   + (", the person embeddings it lacks as initialised)" if added else ")"))


def read_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint of ours, read with weights_only=True and checked for what a resume needs."""
    try:
        checkpoint = load_torch_file(path)
    except CheckpointError as err:
        raise TrainingError(str(err)) from err
    missing = [k for k in CKPT_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise TrainingError(f"{path} is not a complete training checkpoint (no {', '.join(missing)})")
    return checkpoint


def _newest_intact_checkpoint(folder: Path) -> tuple[Path, dict]:
    """last.ckpt, unless a newer step=N.ckpt exists (a kill between writing the two) or last.ckpt is damaged, in
    which case the newest step file that reads; each damaged file is reported in one line and passed over."""
    def step_of(path: Path) -> int:
        return int(STEP_CKPT.match(path.name).group(1))

    problems: list[str] = []

    def attempt(path: Path) -> Optional[tuple[Path, dict]]:
        try:
            return path, read_checkpoint(path)
        except TrainingError as err:
            problems.append(str(err))
            return None

    found = attempt(folder / LAST_CKPT) if (folder / LAST_CKPT).is_file() else None
    for path in sorted((p for p in folder.glob("step=*.ckpt") if STEP_CKPT.match(p.name)), key=step_of, reverse=True):
        if found is not None and step_of(path) <= found[1]["global_step"]:
            break                                 # newest first: nothing newer is left
        found = attempt(path) or found
        if found is not None and found[0] == path:
            break
    if found is None:
        raise TrainingError(f"no readable checkpoint in {folder} ({problems[0]}); move the run folder aside and start "
                            "again, or pass a new --run-dir")
    for problem in problems:
        rank_zero_info(f"intermamba: skipping a damaged checkpoint: {problem}")
    return found


def _recorded_config(run_dir: Path, checkpoint: dict) -> Config:
    """The config the run was trained with, as its checkpoint records it; config.json, if damaged, is rewritten
    from that record (one line says so)."""
    try:
        before = config_from_dict(checkpoint.get("intermamba", {})["config"])
    except (KeyError, TypeError, ConfigError) as err:
        raise TrainingError(f"the checkpoint in {run_dir / CKPT_DIR} records no usable config "
                            f"({first_line(err)}); pass a new --run-dir") from err
    saved = run_dir / CONFIG_FILE
    try:
        config_from_dict(json.loads(saved.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError, TypeError) as err:
        rank_zero_info(f"intermamba: {saved} is unreadable ({first_line(err)}); rewriting it from the checkpoint")
        if int(os.environ.get("RANK", "0")) == 0:
            atomic_write_text(saved, before.to_json())
    return before


def _dataset(cfg: Config, split: str):
    """build_dataset, with its ValueErrors (missing data.root, no usable items) as TrainingErrors."""
    from .data import build_dataset

    try:
        return build_dataset(cfg.data, split)
    except ValueError as err:
        raise TrainingError(str(err)) from err


def _normalizer_for(cfg: Config, run_dir: Path, dataset):
    """The run's normaliser: data.normalizer's files (e.g. InterGen's statistics) or computed from the training
    set on the first start, then read from the run folder."""
    from .data import compute_normalizer
    from .motion import Normalizer, load_normalizer

    path = run_dir / NORMALIZER_FILE
    if cfg.data.normalizer:   # given files win over a copy left by an earlier start (a resume has the same config)
        try:
            normalizer = load_normalizer(cfg.data.normalizer)
        except (ValueError, FileNotFoundError) as err:
            raise TrainingError(f"data.normalizer: {err}") from None
        normalizer.save(path)
        return normalizer
    if path.is_file():
        try:
            return Normalizer.load(path)
        except (ValueError, OSError) as err:   # a damaged file: the statistics are recomputed (and a resumed
            # run restores the ones it trained with from its checkpoint anyway)
            rank_zero_info(f"intermamba: {path} is unreadable ({first_line(err)}); recomputing it from the data")
    normalizer = compute_normalizer(dataset)
    normalizer.save(path)     # atomic; DDP processes compute identical statistics
    return normalizer


def _logger(cfg: Config, run_dir: Path):
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    if cfg.train.logger == "tensorboard":
        try:
            import tensorboard  # noqa: F401
        except ImportError as err:
            raise TrainingError("train.logger=tensorboard needs the tensorboard package: "
                                "pip install 'intermamba[tensorboard]', or use train.logger=csv") from err
        return TensorBoardLogger(run_dir, name=LOG_DIR)
    # one version_N folder per start: Lightning's CSV writer would delete a resumed run's earlier metrics.csv
    return CSVLogger(run_dir, name=LOG_DIR)


def build_trainer(cfg: Config, run_dir: Path, *, callbacks: Optional[list] = None,
                  checkpoint_io: Optional[AtomicCheckpointIO] = None, **overrides) -> L.Trainer:
    tc = cfg.train
    ckpt = RunCheckpoint(dirpath=run_dir / CKPT_DIR, filename="step={step:07d}", auto_insert_metric_name=False,
                           every_n_train_steps=tc.ckpt_every, save_last=True, save_top_k=1,  # the latest + last
                           enable_version_counter=False)   # a moved run folder overwrites its own last.ckpt
    overrides = dict(overrides)
    progress = overrides.pop("enable_progress_bar", True)
    extra = [StepProgressBar()] if progress else []
    kwargs: dict[str, Any] = dict(
        accelerator=tc.accelerator, devices=tc.devices, num_nodes=tc.num_nodes, strategy=tc.strategy,
        precision=tc.precision, max_steps=tc.max_steps if tc.max_steps is not None else -1,
        max_epochs=tc.max_epochs if tc.max_epochs else -1,
        gradient_clip_val=tc.grad_clip or None, log_every_n_steps=tc.log_every, logger=_logger(cfg, run_dir),
        callbacks=[ckpt, ExportCallback(run_dir / EXPORT_DIR, cfg, fp16=tc.export_fp16)] + extra + list(callbacks or []),
        enable_progress_bar=False,
        plugins=[checkpoint_io or AtomicCheckpointIO()], use_distributed_sampler=False, default_root_dir=run_dir,
        val_check_interval=tc.val_every, check_val_every_n_epoch=None if tc.val_every else 1,
        num_sanity_val_steps=0, enable_model_summary=False,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


def train(cfg: Config, *, run_dir: Union[str, Path, None] = None, resume: Optional[bool] = None,
          dataset=None, val_dataset=None, model: Optional[torch.nn.Module] = None, text_encoder=None,
          callbacks: Optional[list] = None, trainer_overrides: Optional[dict] = None) -> Path:
    """Train `cfg` in `run_dir` (default train.out_dir/<cfg.name>); returns the run folder.

    dataset: a MotionDataset to train on instead of build_dataset(cfg.data, "train") (e.g. one built from your
    own RawItems), val_dataset likewise for the "val" split (used when train.val_every is set); model: a
    denoiser to train instead of build_model(cfg); text_encoder: an already built encoder for cfg.text.

    resume: None continues from run_dir's last checkpoint when there is one; True requires one; False
    refuses to touch a folder that holds a run.
    """
    from .data import collate

    _check_precision(cfg)
    _check_length(cfg)
    run_dir = Path(run_dir) if run_dir is not None else Path(cfg.train.out_dir) / cfg.name
    for folder in (run_dir, run_dir / CKPT_DIR, run_dir / EXPORT_DIR):
        clean_stale_temps(folder)                  # what a killed start left half-written
    resume_from = _prepare_run_dir(cfg, run_dir, resume)
    ckpt_path = resume_from[0] if resume_from else None
    # the data first: a wrong data.root fails before anything is written
    dataset = dataset if dataset is not None else _dataset(cfg, "train")
    val = None
    if cfg.train.val_every:
        val = val_dataset if val_dataset is not None else _dataset(cfg, "val")
    normalizer = _normalizer_for(cfg, run_dir, dataset)   # before the config: a bad data.normalizer writes nothing
    run_dir.mkdir(parents=True, exist_ok=True)
    if ckpt_path is None:
        atomic_write_text(run_dir / CONFIG_FILE, cfg.to_json())   # (every DDP process writes the same bytes)
    torch.manual_seed(cfg.train.seed)  # model initialisation

    if resume_from is not None:
        rank_zero_info(f"intermamba: resuming {run_dir} from step {resume_from[1]['global_step']} ({ckpt_path.name})")
    else:
        rank_zero_info(f"intermamba: new run in {run_dir} ({len(dataset)} training items)")
    module = DiffusionModule(cfg, normalizer, model=model, text_encoder=text_encoder)
    if resume_from is None and cfg.train.init_from:
        _initialise_from(module, Path(cfg.train.init_from))
    trainer = build_trainer(cfg, run_dir, callbacks=callbacks, checkpoint_io=AtomicCheckpointIO(resume_from),
                            **(trainer_overrides or {}))
    train_loader = StepLoader(dataset, batch_size=cfg.train.batch_size, seed=cfg.train.seed, num_workers=
                              cfg.data.num_workers, collate_fn=collate, step_fn=lambda: trainer.global_step,
                              bucket_by_length=cfg.train.bucket_by_length)
    module.steps_per_epoch = len(train_loader)     # the LR schedule's epoch (batches per process)
    val_loader = None
    if val is not None:
        val_loader = torch.utils.data.DataLoader(_SeededItems(val), batch_size=cfg.train.batch_size,
                                                 sampler=[(i, seed_for(cfg.train.seed, i, 3)) for i in range(len(val))],
                                                 collate_fn=collate, num_workers=cfg.data.num_workers)
    with warnings.catch_warnings():
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                    ckpt_path=str(ckpt_path) if ckpt_path else None)
    return run_dir
