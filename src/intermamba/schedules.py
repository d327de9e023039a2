"""Noise schedules: the betas and alpha_bar of a diffusion process, as pure functions of the step count.

A leaf module: `diffusion` (the forward process and the samplers) and `model` (a v head turns its output into x0
with alpha_bar) both read it, so neither imports the other.

    betas = cosine_betas(1000)                            # (N,) float64
    ab = alphas_cumprod(1000, "cosine")                   # alpha_bar_t = prod_{s <= t} (1 - beta_s)
"""

from __future__ import annotations

import math

import torch

MAX_BETA = 0.999          # Nichol & Dhariwal clip betas to avoid a singularity at t -> T
COSINE_OFFSET = 0.008     # the "s" of Nichol & Dhariwal Eq. (17): keeps beta_0 from being too small


def cosine_alpha_bar(s: torch.Tensor) -> torch.Tensor:
    """alpha_bar(s) = cos^2(((s + 0.008) / 1.008) * pi / 2), s in [0, 1] (Nichol & Dhariwal 2021, Eq. 17)."""
    return torch.cos((s + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2


def cosine_betas(num_timesteps: int, max_beta: float = MAX_BETA) -> torch.Tensor:
    """beta_i = min(1 - alpha_bar((i+1)/N) / alpha_bar(i/N), max_beta), float64 (N,)  (paper ref. [32])."""
    i = torch.arange(num_timesteps, dtype=torch.float64)
    ratio = cosine_alpha_bar((i + 1) / num_timesteps) / cosine_alpha_bar(i / num_timesteps)
    return (1 - ratio).clamp(max=max_beta)


def linear_betas(num_timesteps: int) -> torch.Tensor:
    """Ho et al. 2020's linear schedule 1e-4 .. 0.02, rescaled so any step count spans the same noise levels."""
    scale = 1000 / num_timesteps
    return torch.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=torch.float64)


SCHEDULES = {"cosine": cosine_betas, "linear": linear_betas}


def alphas_cumprod(num_timesteps: int, schedule: str = "cosine") -> torch.Tensor:
    """alpha_bar_t for t = 0 .. N-1 of the named schedule, float64 (N,)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {schedule!r}; choose one of {sorted(SCHEDULES)}")
    return torch.cumprod(1 - SCHEDULES[schedule](num_timesteps), dim=0)
