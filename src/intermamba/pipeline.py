"""`InterMambaPipeline`: a trained denoiser + its text encoder + normaliser + DDIM sampler, text in, motion out.

    pipe = InterMambaPipeline.from_pretrained()           # the demo model shipped inside the package
    samples = pipe.generate(["two people shake hands"], frames=150, seed=0, num_samples=2)
    samples[0].joints                                     # (2, T, 22, 3) metres, Y up, 30 fps

This is the one entry point that the CLI (`intermamba generate`), the evaluation protocol and users' scripts
share. Noise is drawn per sample from `seed + k` (k = the sample's index for its prompt), so a sample does not
depend on what else is in the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .diffusion import DDIMSampler, GaussianDiffusion, conditioned
from .ops import native_available
from .skeleton import FEATURE_DIM, FPS
from .text import build_text_encoder, check_text_width

DEMO_DIR = Path(__file__).parent / "assets" / "demo"
# The joint-token spatial scan has no frame window; cap requests at a size that still fits in memory.
MAX_FRAMES_ANY_LENGTH = 3000


@dataclass
class Sample:
    """One generated interaction."""

    text: str
    seed: int                 # the seed its starting noise was drawn from
    features: np.ndarray      # (T, 2, 262) denormalised InterGen features
    joints: np.ndarray        # (2, T, 22, 3) metres, Y up
    fps: int = FPS

    @property
    def frames(self) -> int:
        return self.features.shape[0]


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use --device cpu")
    return device


class InterMambaPipeline:
    def __init__(self, model: torch.nn.Module, config, normalizer, *, text_encoder=None,
                 device: Union[str, torch.device, None] = "cpu", source: str = ""):
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            native_available()   # looked up now, so that a "compiled scan not built" note precedes any progress bar
        self.config = config
        self.model = model.to(self.device).eval()
        self.normalizer = normalizer
        self.text_encoder = text_encoder if text_encoder is not None else build_text_encoder(config.text)
        check_text_width(config.model.text_dim, self.text_encoder)
        self.text_encoder.to(self.device)
        self.source = source or config.name
        self.diffusion = GaussianDiffusion.from_config(config.diffusion)
        self.sampler = DDIMSampler.from_config(config.diffusion, self.diffusion)

    # ----------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, path: Union[str, Path, None] = None, *, device: Union[str, torch.device, None] = "cpu",
                        text_encoder=None) -> "InterMambaPipeline":
        """Load an exported model folder (model.safetensors + config.json); None loads the shipped demo.
        InterGen's released checkpoint (intergen.ckpt, or a folder holding it) loads too: see from_intergen."""
        from .checkpoint import load_pretrained
        from .intergen_compat import find_intergen_checkpoint

        if path is not None and find_intergen_checkpoint(path) is not None:
            return cls.from_intergen(path, device=device, text_encoder=text_encoder)
        folder = Path(path) if path is not None else DEMO_DIR
        model, config, normalizer = load_pretrained(folder)
        return cls(model, config, normalizer, text_encoder=text_encoder, device=device, source=str(folder))

    @classmethod
    def from_intergen(cls, path: Union[str, Path], *, normalizer=None, device: Union[str, torch.device, None] = "cpu",
                      text_encoder=None, tokenizer=None) -> "InterMambaPipeline":
        """InterGen's released checkpoint (intergen.ckpt or its folder) as our `intergen` model, its CLIP text tower
        as the text encoder; normalizer: None (global_mean/std.npy beside it or in ../data), (mean.npy, std.npy),
        a folder or a Normalizer. See intergen_compat.py."""
        from .intergen_compat import load_intergen

        model, config, stats, encoder = load_intergen(path, normalizer=normalizer, tokenizer=tokenizer,
                                                      text_encoder=text_encoder)
        return cls(model, config, stats, text_encoder=encoder, device=device, source=str(path))

    # ------------------------------------------------------------------------------------------ limits
    @property
    def max_frames(self) -> int:
        """The longest sequence the denoiser accepts (the frame window of the paper's spatial scan)."""
        m = self.config.model
        return m.max_frames if m.spatial_mode == "frames" else MAX_FRAMES_ANY_LENGTH

    def check_frames(self, frames: int) -> int:
        if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)):
            raise ValueError(f"frames must be an integer, got {frames!r}")
        if frames <= 0:
            raise ValueError(f"the motion length must be positive, got {frames} frames")
        if frames > self.max_frames:
            raise ValueError(f"{frames} frames is longer than this model supports ({self.max_frames} frames = "
                             f"{self.max_frames / FPS:g} s at {FPS} fps); ask for fewer")
        return int(frames)

    # -------------------------------------------------------------------------------------- generation
    @torch.inference_mode()
    def sample_features(self, texts: Sequence[str], lengths: Sequence[int], seeds: Sequence[int], *,
                        steps: Optional[int] = None, guidance: Optional[float] = None,
                        progress: bool = False) -> torch.Tensor:
        """One batch: features (B, T_max, 2, 262), denormalised, zero beyond each item's length.

        Items of different lengths share the batch; the denoiser masks each one's padding, so an item comes out
        as it would alone (the evaluation protocol generates at each item's ground-truth length this way).
        """
        if not (len(texts) == len(lengths) == len(seeds)):
            raise ValueError("texts, lengths and seeds must have the same length")
        lengths = [self.check_frames(n) for n in lengths]
        steps = steps or self.config.diffusion.sample_steps
        guidance = self.config.diffusion.guidance if guidance is None else float(guidance)
        if steps != self.sampler.steps:
            self.sampler.set_timesteps(steps)
        t_max = max(lengths)
        x_T = torch.stack([torch.randn(t_max, 2, FEATURE_DIM, generator=torch.Generator().manual_seed(int(s)))
                           for s in seeds])                                           # (B, T, 2, 262)
        features, mask = self.text_encoder.encode(list(texts))
        lengths_t = torch.tensor(lengths, dtype=torch.long, device=self.device)
        denoise = conditioned(self.model, text_features=features.to(self.device),
                              text_mask=mask.to(self.device), lengths=lengths_t)
        x0 = self.sampler.sample(denoise, x_T.shape, guidance=guidance, device=self.device, x_T=x_T,
                                 progress=progress)
        x0 = self.normalizer.denormalize(x0.float()).cpu()
        valid = torch.arange(t_max)[None, :] < torch.tensor(lengths)[:, None]          # (B, T)
        return x0 * valid[:, :, None, None]

    @staticmethod
    def to_samples(texts: Sequence[str], seeds: Sequence[int], features: torch.Tensor,
                   lengths: Optional[Sequence[int]] = None) -> list[Sample]:
        """Wrap a batch of denormalised features (B, T, 2, 262) as Samples (cropped to `lengths` if given)."""
        from .motion import features_to_joints

        out = []
        for i, (text, seed) in enumerate(zip(texts, seeds)):
            f = features[i, : lengths[i] if lengths is not None else None].numpy()       # (T, 2, 262)
            joints = features_to_joints(f).transpose(1, 0, 2, 3)                      # (2, T, 22, 3)
            out.append(Sample(text=text, seed=int(seed), features=f, joints=np.ascontiguousarray(joints)))
        return out

    def generate(self, texts: Union[str, Sequence[str]], *, frames: int = 210, seed: int = 0, num_samples: int = 1,
                 steps: Optional[int] = None, guidance: Optional[float] = None, batch_size: int = 16,
                 progress: bool = False) -> list[Sample]:
        """Generate `num_samples` interactions per text, each `frames` long (30 fps).

        Returns the samples grouped by text: [text0 sample0, text0 sample1, ..., text1 sample0, ...].
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("no prompt given")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("a prompt is empty; describe the interaction, e.g. 'two people shake hands'")
        frames = self.check_frames(frames)
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        jobs = [(text.strip(), frames, seed + k) for text in texts for k in range(num_samples)]
        out: list[Sample] = []
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(jobs), desc="samples", unit="sample")
        for _, samples, _ in self.iter_batches(jobs, steps=steps, guidance=guidance, batch_size=batch_size,
                                               progress=progress):
            out += samples
            if bar is not None:
                bar.update(len(samples))
        if bar is not None:
            bar.close()
        return out

    def iter_batches(self, jobs: Sequence[tuple[str, int, int]], *, steps: Optional[int] = None,
                     guidance: Optional[float] = None, batch_size: int = 16, progress: bool = False):
        """Denoise (text, frames, seed) jobs in batches of equal length; yields (job indices, samples, seconds).

        Jobs of one length keep their order, so a single-length request comes back in job order.
        """
        by_length: dict[int, list[int]] = {}
        for index, (_, frames, _) in enumerate(jobs):
            by_length.setdefault(frames, []).append(index)
        for frames, indices in by_length.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                texts, seeds = [jobs[i][0] for i in chunk], [jobs[i][2] for i in chunk]
                tic = time.perf_counter()
                feats = self.sample_features(texts, [frames] * len(chunk), seeds, steps=steps, guidance=guidance,
                                             progress=progress)
                yield chunk, self.to_samples(texts, seeds, feats), time.perf_counter() - tic
