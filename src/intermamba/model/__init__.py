"""The networks: the InterMamba denoiser (and, beside it, baselines called the same way).

    model = build_model(cfg)                     # cfg: a Config (or its ModelConfig)
    x0_hat = model(x_t, t, text_features, text_mask, lengths, drop_text=...)
    print(parameter_table(model, cfg))           # `intermamba info CONFIG`
"""

from __future__ import annotations

from typing import Union

import torch.nn as nn

from ..config import Config, ConfigError, ModelConfig
from ..schedules import alphas_cumprod
from .denoiser import InterMamba

__all__ = ["InterMamba", "build_model", "parameter_table", "count_parameters"]


def _validate(cfg: ModelConfig) -> None:
    d_inner = cfg.expand * cfg.latent_dim
    if cfg.latent_dim <= 0 or cfg.expand <= 0 or cfg.num_layers <= 0 or cfg.d_state <= 0 or cfg.d_conv <= 0:
        raise ConfigError("model: latent_dim, expand, num_layers, d_state and d_conv must be positive")
    if cfg.spatial_mode == "joints" and d_inner % cfg.num_joint_tokens:
        raise ConfigError(f"model.num_joint_tokens={cfg.num_joint_tokens} must divide the inner width "
                          f"expand * latent_dim = {d_inner} for spatial_mode 'joints'")
    if cfg.bidirectional and d_inner % 2:
        raise ConfigError(f"model.bidirectional needs an even inner width, got expand * latent_dim = {d_inner}")
    if cfg.text_dim % cfg.text_heads:
        raise ConfigError(f"model.text_heads={cfg.text_heads} must divide model.text_dim={cfg.text_dim}")


def _model_config(cfg: Union[Config, ModelConfig]) -> ModelConfig:
    return cfg.model if isinstance(cfg, Config) else cfg


def build_model(cfg: Union[Config, ModelConfig]) -> nn.Module:
    """The denoiser described by `cfg.model`: InterMamba (paper Fig. 4), or InterGen's when arch is "intergen"."""
    model_cfg = _model_config(cfg)
    if model_cfg.arch == "intergen":
        from .intergen import InterGen

        if model_cfg.predict != "x0":
            raise ConfigError("model.predict=v is for the InterMamba denoiser; InterGen's predicts x0")
        if model_cfg.person_embedding or model_cfg.block_condition:
            raise ConfigError("model.person_embedding and model.block_condition are for the InterMamba denoiser "
                              "(InterGen's blocks read the condition already)")
        if not model_cfg.frame_position:
            raise ConfigError("model.frame_position=false is for the InterMamba denoiser; InterGen's attention needs "
                              "its frame positions")
        if model_cfg.latent_dim % model_cfg.num_heads:
            raise ConfigError(f"model.num_heads={model_cfg.num_heads} must divide model.latent_dim={model_cfg.latent_dim}")
        return InterGen(model_cfg)
    if model_cfg.intergen_exact:
        raise ConfigError("model.intergen_exact applies to model.arch=intergen only (InterGen's released weights)")
    _validate(model_cfg)
    ab = None
    if model_cfg.predict == "v":                      # the v -> x0 conversion needs the noise schedule
        if not isinstance(cfg, Config):
            raise ConfigError("model.predict=v needs the whole config (its diffusion schedule): "
                              "pass build_model a Config, not its ModelConfig")
        ab = alphas_cumprod(cfg.diffusion.num_timesteps, cfg.diffusion.schedule)
    return InterMamba(model_cfg, alphas_cumprod=ab)


def count_parameters(module: nn.Module, *, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: nn.Module, cfg: Union[Config, ModelConfig, None] = None) -> str:
    """Trainable parameters by module (top-level children; each stacked layer split into its blocks)."""
    rows = []
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList):
            for i, layer in enumerate(child):
                for sub_name, sub in layer.named_children():
                    rows.append((f"{name}.{i}.{sub_name}", count_parameters(sub)))
        else:
            rows.append((name, count_parameters(child)))
    rows = [(name, n) for name, n in rows if n]
    own = count_parameters(model) - sum(n for _, n in rows)   # parameters held directly by the model, if any
    if own:
        rows.append(("(own)", own))
    total = count_parameters(model)
    title = "parameters"
    if cfg is not None:
        title = f"{getattr(cfg, 'name', type(model).__name__)}: {type(model).__name__} parameters"
    width = max(len(name) for name, _ in rows + [("total (trainable)", 0)])
    lines = [title, "-" * (width + 16)]
    lines += [f"{name:<{width}}  {n:>12,}  {100 * n / total:5.1f}%" for name, n in rows]
    lines += ["-" * (width + 16), f"{'total (trainable)':<{width}}  {total:>12,}  ({total / 1e6:.1f}M)",
              "(the frozen text encoder is not part of the model and not counted)"]
    return "\n".join(lines)
