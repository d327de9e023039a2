"""`InterMambaPipeline`: a trained denoiser + its text encoder + normaliser + DDIM sampler, text in, motion out.

    pipe = InterMambaPipeline.from_pretrained()           # the demo model shipped inside the package
    samples = pipe.generate(["two people shake hands"], frames=150, seed=0, num_samples=2)
    samples[0].joints                                     # (2, T, 22, 3) metres, Y up, 30 fps

Constraints (`constraints.py`: a given partner, keyframes, ...) are known feature values the sampler holds
fixed: `generate(text, constraint=reaction(person))`; the samples' joints then come back in the constraint's
world frame. `sampler="dpmpp"` swaps DDIM for DPM-Solver++(2M), which needs fewer steps.

This is the one entry point that the CLI (`intermamba generate`), the evaluation protocol and users' scripts
share. Noise is drawn per sample from `seed + k` (k = the sample's index for its prompt), at the sample's own
length, so a sample does not depend on what else is in the batch. Requests are checked before anything is
allocated (finite guidance, seeds torch accepts, step counts the schedule has, batches sized to the free memory),
and a sample that comes out NaN or infinite is an error, never a result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch

from .diffusion import Constraint, DDIMSampler, GaussianDiffusion, SplitGuidance, build_sampler, conditioned
from .memory import available_bytes, is_out_of_memory
from .ops import native_available
from .skeleton import FEATURE_DIM, FPS
from .text import build_text_encoder, check_text_width

DEMO_DIR = Path(__file__).parent / "assets" / "demo"
# The joint-token spatial scan has no frame window; cap requests at a size that still fits in memory.
MAX_FRAMES_ANY_LENGTH = 3000
MAX_SAMPLES = 10_000       # per request: the job list and the outputs stay small; more is several runs' work
MAX_SEED = 2 ** 64 - 1     # torch.Generator.manual_seed takes 64-bit seeds
# Working memory of a guided sample, per frame: about 16 floats per inner channel plus 3 per feature for each of
# the 4 sequences it denoises (2 persons x cond/null). Measured with bench.peak_memory on 2-step samples at
# batch 1 and 2: tiny 26 KB, demo 74 KB, ultralight 268 KB per frame (formula: 29, 78, 275 KB); InterGen's
# transformer 193 KB (formula 531 KB, on the safe side). The margin covers allocator slack and what else runs.
SAMPLE_FLOATS_PER_CHANNEL = 16
SAMPLE_FLOATS_PER_FEATURE = 3
MEMORY_MARGIN = 1.5
MEMORY_SHARE = 0.75        # of the free memory one batch may plan to use
TIMELINE_OVERLAP = 10      # frames of a timeline's previous segment that the next one continues (1/3 s)
# Frames each timeline window runs past its segment, then dropped: a window's last frames are the model's least
# reliable (demo model, 30 samples: the last 4 frame steps run 1.8-3.8x the median joint speed, up to 10x), and
# held as the next segment's start they would put that jitter at the seam.
TIMELINE_MARGIN = 6
# Frames past a seam's bridge that its easing still covers: the model's own motion resumes there, moved onto the
# bridge's path, and its first frames catch up with it (the fastest frames of a timeline were often these).
SEAM_AFTER = 4


class GenerationError(ValueError):
    """A request that cannot be served (out of memory, or a model whose output is not finite)."""


class OutOfMemory(GenerationError):
    """A batch did not fit; `batch` samples were denoised together."""

    def __init__(self, message: str, batch: int):
        super().__init__(message)
        self.batch = batch


def check_count(value, name: str) -> int:
    """A positive integer argument (batch size, sample count, steps)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_request_size(count: int) -> int:
    if count > MAX_SAMPLES:
        raise ValueError(f"{count} samples requested; at most {MAX_SAMPLES} per request: split it into several")
    return count


def check_seed(seed, name: str = "seed", count: int = 1) -> int:
    """A seed torch accepts for itself and the `count - 1` seeds after it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {seed!r}")
    if not 0 <= seed <= MAX_SEED - (count - 1):
        raise ValueError(f"{name} must be in 0..{MAX_SEED - (count - 1)}"
                         f"{f' for {count} samples' if count > 1 else ''} (64-bit seeds), got {seed}")
    return int(seed)


def check_guidance(value, name: str = "guidance") -> float:
    """A finite classifier-free guidance scale (NaN or inf would turn every sample into NaN)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value} (1 = no guidance; the shipped models use "
                         "3.5)")
    return value


@dataclass
class Sample:
    """One generated interaction."""

    text: str
    seed: int                 # the seed its starting noise was drawn from
    features: np.ndarray      # (T, 2, 262) denormalised InterGen features: the model's raw output
    joints: np.ndarray        # (2, T, 22, 3) metres, Y up (cleaned up when `cleaned`)
    fps: int = FPS
    cleaned: bool = False     # joints went through cleanup.clean_up (the raw ones: features_to_joints(features))

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
        self.sampler_name = "ddim"

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

    def check_steps(self, steps: Optional[int], name: str = "steps") -> int:
        """A DDIM step count the diffusion schedule has (None: the model's default)."""
        if steps is None:
            return self.config.diffusion.sample_steps
        steps = check_count(steps, name)
        if steps > self.diffusion.num_timesteps:
            raise ValueError(f"{name} {steps} is more than this model's {self.diffusion.num_timesteps} diffusion "
                             f"timesteps; ask for at most {self.diffusion.num_timesteps} (the default is "
                             f"{self.config.diffusion.sample_steps})")
        return steps

    def sample_bytes(self, frames: int) -> int:
        """Estimated working memory of one guided sample of `frames` frames (see SAMPLE_FLOATS_PER_CHANNEL)."""
        m = self.config.model
        channels = max(m.expand * m.latent_dim, m.latent_dim)
        per_frame = 4 * (SAMPLE_FLOATS_PER_CHANNEL * channels + SAMPLE_FLOATS_PER_FEATURE * FEATURE_DIM) * 4
        return int(MEMORY_MARGIN * per_frame * frames)

    def max_batch(self, frames: int) -> int:
        """How many `frames`-long samples may be denoised together in the memory free now (at least 1).

        Raises GenerationError when even one sample would not fit."""
        free = available_bytes(self.device)
        if free is None:
            return MAX_SAMPLES
        need = self.sample_bytes(frames)
        if need > free:
            raise GenerationError(f"a {frames}-frame sample needs about {need / 2**30:.1f} GB and only "
                                  f"{free / 2**30:.1f} GB is free on {self.device}; ask for a shorter motion")
        return max(1, int(MEMORY_SHARE * free) // need)

    # -------------------------------------------------------------------------------------- generation
    @torch.inference_mode()
    def sample_features(self, texts: Sequence[str], lengths: Sequence[int], seeds: Sequence[int], *,
                        steps: Optional[int] = None, guidance: Optional[float] = None,
                        progress: Union[bool, Callable] = False, constraints: Optional[Sequence] = None,
                        sampler: str = "ddim", placement_guidance: Optional[float] = None,
                        reference_anchor: Optional[bool] = None) -> torch.Tensor:
        """Features (B, T_max, 2, 262), denormalised, zero beyond each item's length.

        Items of different lengths share the call; each one's starting noise is drawn at its own length from
        its own seed and the denoiser masks each one's padding, so an item comes out as it would alone (the
        evaluation protocol generates at each item's ground-truth length this way). Items are denoised in
        batches that fit in the free memory (`max_batch`). progress: True for a bar per batch, or a callable
        wrapping each batch's step iterable (as DDIMSampler.sample takes it). constraints: one FeatureConstraint
        (constraints.py) or None per item, covering at least the item's length. reference_anchor: see
        `layouts` (None: the model's `diffusion.reference_anchor`).
        """
        constraints = [None] * len(texts) if constraints is None else list(constraints)
        if not (len(texts) == len(lengths) == len(seeds) == len(constraints)):
            raise ValueError("texts, lengths, seeds and constraints must have the same length")
        if not len(texts):
            raise ValueError("no prompt given")
        lengths = [self.check_frames(n) for n in lengths]
        seeds = [check_seed(s) for s in seeds]
        constraints = [c if c is None else c.crop(n) for c, n in zip(constraints, lengths)]
        guidance = self._set_sampling(steps, guidance, sampler, placement_guidance)
        t_max = max(lengths)
        out = torch.zeros(len(texts), t_max, 2, FEATURE_DIM)                             # (B, T, 2, 262)
        size = self.max_batch(t_max)
        for start in range(0, len(texts), size):
            part = slice(start, start + size)
            x0 = self._denoise(list(texts[part]), lengths[part], seeds[part], guidance, progress, constraints[part],
                               reference_anchor)
            out[part, :x0.shape[1]] = x0
        return out

    def anchoring(self, reference_anchor: Optional[bool] = None) -> bool:
        """Whether unconstrained samples are anchored (`layouts`): `reference_anchor`, or the model's
        `diffusion.reference_anchor` when it is None."""
        return self.config.diffusion.reference_anchor if reference_anchor is None else bool(reference_anchor)

    def layouts(self, constraints: list, lengths: Sequence[int], seeds: Sequence[int],
                reference_anchor: Optional[bool] = None) -> tuple[list, list[bool]]:
        """Which person each item's sampler holds as the reference (at the canonical origin at frame 0), as
        (constraints for the sampler, whether each item's output must have its persons exchanged).

        A model trained with InterGen's second swap (`data.reswap`) knows either person there: an unconstrained
        item keeps its layout, anchored to person seed % 2 when `reference_anchor` is on (None: the model's
        `diffusion.reference_anchor`; constraints.reference_anchor). A model trained without it only knows person
        1 there: every item is sampled that way (a control whose reference is person 2 is swapped in) and
        exchanged back; unconstrained odd seeds are exchanged too, so samples hold either layout as often as the
        data does. A control otherwise fixes its own frame and is kept."""
        from .constraints import reference_anchor as anchor

        on = self.anchoring(reference_anchor)
        reswap = self.config.data.reswap
        held, flips = [], []
        for c, n, seed in zip(constraints, lengths, seeds):
            if c is None:
                flips.append(not reswap and seed % 2 == 1)
                held.append(anchor(n, seed % 2 if reswap else 0) if on else None)
            else:
                flips.append(not reswap and c.reference == 1)
                held.append(c.swapped() if flips[-1] else c)
        return held, flips

    def _set_sampling(self, steps: Optional[int], guidance: Optional[float], sampler: str = "ddim",
                      placement: Optional[float] = None) -> Union[float, SplitGuidance]:
        """Respace the sampler to `steps` (checked; None: the model's), switching to `sampler` ('ddim' or
        'dpmpp') if asked; returns what the sampler's `guidance` takes (see `guide`)."""
        steps = self.check_steps(steps)
        if sampler != self.sampler_name or self.sampler.spacing != self.config.diffusion.timestep_spacing:
            self.sampler = build_sampler(sampler, self.diffusion, steps, self.config.diffusion.eta,
                                         self.config.diffusion.timestep_spacing)
            self.sampler_name = sampler
        if steps != self.sampler.steps:
            self.sampler.set_timesteps(steps)
        return self.guide(guidance, placement)

    def guide(self, guidance: Optional[float] = None, placement: Optional[float] = None) -> Union[float, SplitGuidance]:
        """The sampler's guidance: the scale `guidance` (None: the model's) for each person's pose, and
        `placement` (None: the model's `placement_guidance`, whose null means the same as `guidance`) for where
        the two people stand, i.e. each root's ground-plane position and displacement.

        Guidance at 3.5 extrapolates the conditional placement away from the unconditional one: for a hug it
        pushes each person through the other and merges the pair (docs/results/procedural-study.md). Guided in
        root-relative coordinates (motion.to_root_relative), the pose keeps its full guidance while the
        placement gets its own scale. Both scales equal: plain guidance, a float.
        """
        cfg = self.config.diffusion
        guidance = check_guidance(cfg.guidance if guidance is None else guidance)
        placement = cfg.placement_guidance if placement is None else placement
        placement = guidance if placement is None else check_guidance(placement, "placement guidance")
        if placement == guidance:
            return guidance
        from .motion import PLACEMENT, from_root_relative, to_root_relative

        std = self.normalizer.std.to(self.device)                                       # (262,)
        scales = torch.where(PLACEMENT, placement, guidance).to(self.device)               # (262,)
        # The normalised difference cond - null is (raw difference) / std: the mean cancels, so the map is linear.
        return SplitGuidance(scales, lambda d: to_root_relative(d * std), lambda y: from_root_relative(y) / std)

    @torch.inference_mode()
    def _denoise(self, texts: list[str], lengths: list[int], seeds: list[int], guidance: Union[float, SplitGuidance],
                 progress: Union[bool, Callable], constraints: Optional[list] = None,
                 reference_anchor: Optional[bool] = None) -> torch.Tensor:
        """One batch through the sampler: denormalised features (B, T_max, 2, 262), zero beyond each length; each
        item's persons as `layouts` says."""
        t_max = max(lengths)
        constraints, flips = self.layouts([None] * len(texts) if constraints is None else list(constraints),
                                          lengths, seeds, reference_anchor)
        # Each item's noise is drawn at its own length and padded with zeros (the denoiser masks the padding).
        # Drawn at the batch's length and cropped, it would depend on the neighbours: torch's CPU normal sampler
        # fills the tail of a tensor whose size is not a multiple of 16 differently.
        x_T = torch.zeros(len(texts), t_max, 2, FEATURE_DIM)                             # (B, T, 2, 262)
        for i, (n, seed) in enumerate(zip(lengths, seeds)):
            x_T[i, :n] = torch.randn(n, 2, FEATURE_DIM, generator=torch.Generator().manual_seed(seed))
        valid = torch.arange(t_max)[None, :] < torch.tensor(lengths)[:, None]             # (B, T)
        try:
            features, mask = self.text_encoder.encode(texts)
            denoise = conditioned(self.model, text_features=features.to(self.device),
                                  text_mask=mask.to(self.device),
                                  lengths=torch.tensor(lengths, dtype=torch.long, device=self.device))
            x0 = self.sampler.sample(denoise, x_T.shape, guidance=guidance, device=self.device, x_T=x_T,
                                     progress=progress, constraint=self._constraint(constraints, x_T.shape))
            x0 = torch.where(valid[:, :, None, None], self.normalizer.denormalize(x0.float()).cpu(), 0.0)
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            raise OutOfMemory(f"out of memory denoising {len(texts)} sample(s) of up to {t_max} frames together on "
                              f"{self.device}; ask for fewer samples at a time or shorter motions",
                              len(texts)) from None
        flips = torch.tensor(flips)
        x0[flips] = x0[flips].flip(2)                                                    # persons exchanged back
        if not torch.isfinite(x0).all():
            raise GenerationError(f"the model {self.source} produced NaN or infinite values; its weights or "
                                  "normaliser statistics are not finite (a corrupt or diverged model folder?)")
        return x0

    def _constraint(self, constraints: Optional[list], shape) -> Optional[Constraint]:
        """Per-item FeatureConstraints (or None) as one normalised sampler Constraint over the batch `shape`."""
        if constraints is None or all(c is None for c in constraints):
            return None
        values, mask = torch.zeros(shape), torch.zeros(shape, dtype=torch.bool)           # (B, T, 2, 262)
        for i, c in enumerate(constraints):
            if c is not None:
                values[i, :c.frames] = self.normalizer.normalize(torch.from_numpy(c.values).float())
                mask[i, :c.frames] = torch.from_numpy(c.mask)
        guided = [(i, c) for i, c in enumerate(constraints) if c is not None and c.guide is not None]

        def guide(x0: torch.Tensor) -> torch.Tensor:
            """Each item's own guide, in denormalised features; the other items' rows stay as they are."""
            x0 = x0.clone()
            for i, c in guided:
                n = c.frames
                x0[i, :n] = self.normalizer.normalize(c.guide(self.normalizer.denormalize(x0[i, :n])))
            return x0
        return Constraint(values.to(self.device), mask.to(self.device), guide if guided else None)

    @staticmethod
    def to_samples(texts: Sequence[str], seeds: Sequence[int], features: torch.Tensor,
                   lengths: Optional[Sequence[int]] = None, frame=None,
                   cleanup: Union[bool, Callable] = False) -> list[Sample]:
        """Wrap a batch of denormalised features (B, T, 2, 262) as Samples (cropped to `lengths` if given);
        `frame` (a constraints.WorldFrame) maps the joints to a constraint's world frame; `cleanup` True passes
        the joints through cleanup.clean_up with the model's predicted foot contacts, a callable through that
        (a constraint's own clean-up, before the joints go to its world frame)."""
        from .cleanup import clean_up
        from .motion import features_to_joints
        from .skeleton import CONTACT

        out = []
        for i, (text, seed) in enumerate(zip(texts, seeds)):
            f = features[i, : lengths[i] if lengths is not None else None].numpy()       # (T, 2, 262)
            joints = features_to_joints(f).transpose(1, 0, 2, 3)                      # (2, T, 22, 3)
            if cleanup and joints.shape[1] >= 3:
                joints = (cleanup(joints) if callable(cleanup)
                          else clean_up(joints, f[:, :, CONTACT].transpose(1, 0, 2))).astype(np.float32)
            if frame is not None:
                joints = frame.to_world(joints)
            out.append(Sample(text=text, seed=int(seed), features=f, joints=np.ascontiguousarray(joints),
                              cleaned=bool(cleanup and joints.shape[1] >= 3)))
        return out

    def generate(self, texts: Union[str, Sequence[str]], *, frames: int = 210, seed: int = 0, num_samples: int = 1,
                 steps: Optional[int] = None, guidance: Optional[float] = None, batch_size: int = 16,
                 progress: Union[bool, Callable] = False, constraint=None, sampler: str = "ddim",
                 placement_guidance: Optional[float] = None, cleanup: bool = True,
                 reference_anchor: Optional[bool] = None) -> list[Sample]:
        """Generate `num_samples` interactions per text, each `frames` long (30 fps).

        Returns the samples grouped by text: [text0 sample0, text0 sample1, ..., text1 sample0, ...].
        constraint: a constraints.FeatureConstraint every sample keeps (joints then in its world frame).
        placement_guidance: the guidance scale of where the people stand (see `guide`; None: the model's).
        cleanup: pass the joints through cleanup.clean_up (smoothing, rigid bones, people apart, planted feet,
        floor); with a constraint, through its own clean-up if it has one (a trajectory's: feet that walk the
        path, gait.clean_path), since its given values must come back exactly; otherwise none.
        reference_anchor: hold one person at the canonical origin at frame 0 when there is no constraint
        (`layouts`; None: the model's `diffusion.reference_anchor`).
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("no prompt given")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("a prompt is empty; describe the interaction, e.g. 'two people shake hands'")
        frames = self.check_frames(frames)
        num_samples = check_count(num_samples, "num_samples")
        check_request_size(len(texts) * num_samples)
        check_seed(seed, "seed", num_samples)
        jobs = [(text.strip(), frames, seed + k) for text in texts for k in range(num_samples)]
        out: list[Sample] = []
        for _, samples, _ in self.iter_batches(jobs, steps=steps, guidance=guidance, batch_size=batch_size,
                                               progress=progress, constraint=constraint, sampler=sampler,
                                               placement_guidance=placement_guidance, cleanup=cleanup,
                                               reference_anchor=reference_anchor):
            out += samples
        return out

    def generate_timeline(self, segments: Sequence[tuple[str, int]], *, seed: int = 0, steps: Optional[int] = None,
                          guidance: Optional[float] = None, sampler: str = "ddim",
                          overlap: int = TIMELINE_OVERLAP, progress: Union[bool, Callable] = False,
                          cleanup: bool = True, ease: bool = True) -> Sample:
        """One continuous motion from (text, frames) segments played one after another.

        Each segment after the first is generated as a continuation (constraints.continuation) of the last
        `overlap` frames of the previous one, under its own text, and its new frames are appended; all in the
        first segment's world frame. Every window runs TIMELINE_MARGIN frames past its segment and those are
        dropped, so the frames held at a seam are never a window's jittery end; the continuation's guide bridges
        from them into the new motion (constraints.BRIDGE_FRAMES). Segment k draws its noise from seed + k.
        progress: as iter_batches's, per segment for a bar, over all segments' steps for a callable.
        cleanup: the whole motion goes through cleanup.clean_up at the end (as `generate`'s samples do).
        ease: then, cleaned or not, each seam is eased (cleanup.ease_seams): from the held run's end
        (BRIDGE_FRAMES before it) to SEAM_AFTER frames past the bridge, no joint is faster than the motion's own
        99th percentile. False leaves the seams as the continuations made them (for measuring the easing).
        """
        from .constraints import BRIDGE_FRAMES, continuation, pair_features

        if not segments:
            raise ValueError("a timeline needs at least one segment")
        overlap = check_count(overlap, "overlap")
        check_seed(seed, "seed", len(segments))
        joints, length = None, 0                      # (2, length + TIMELINE_MARGIN, 22, 3) so far; its length
        for k, (text, frames) in enumerate(segments):
            step = progress
            if callable(progress):       # segment k's steps as the k-th share of the whole
                step = (lambda done, total, k=k: progress(k * total + done, len(segments) * total))
            if joints is None:
                joints = self.generate(text, frames=frames + TIMELINE_MARGIN, seed=seed, steps=steps,
                                       guidance=guidance, sampler=sampler, cleanup=False, progress=step)[0].joints
                length = frames
                continue
            # The `overlap` frames before the segment's last are held (the representation drops a motion's last
            # frame, so that one is generated again): the window is overlap held + 1 regenerated + frames new.
            held = continuation(joints[:, length - overlap - 1:length], overlap + 1 + frames + TIMELINE_MARGIN)
            new = self.generate(text, frames=held.frames, seed=seed + k, steps=steps, guidance=guidance,
                                sampler=sampler, constraint=held, progress=step)[0].joints
            joints = np.concatenate([joints[:, :length - 1], new[:, overlap:]], axis=1)
            length += frames
        joints = joints[:, :length]                                                       # (2, T, 22, 3)
        text = "; ".join(t for t, _ in segments)
        features = pair_features(joints)
        from .cleanup import clean_up, ease_seams

        if cleanup:
            joints = clean_up(joints)
        if ease:
            seams = np.cumsum([frames for _, frames in segments])[:-1]
            joints = ease_seams(joints, seams, before=BRIDGE_FRAMES, after=BRIDGE_FRAMES + SEAM_AFTER)
        joints = joints.astype(np.float32)
        return Sample(text=text, seed=seed, features=features, joints=np.ascontiguousarray(joints), cleaned=cleanup)

    def iter_batches(self, jobs: Sequence[tuple[str, int, int]], *, steps: Optional[int] = None,
                     guidance: Optional[float] = None, batch_size: int = 16, progress: Union[bool, Callable] = False,
                     constraint=None, sampler: str = "ddim", placement_guidance: Optional[float] = None,
                     cleanup: bool = True, reference_anchor: Optional[bool] = None):
        """Denoise (text, frames, seed) jobs in batches of equal length; yields (job indices, samples, seconds).

        Jobs of one length keep their order, so a single-length request comes back in job order. A batch holds
        at most `batch_size` jobs, fewer when the free memory asks for it. progress: True for one bar (stderr)
        over the denoising steps of all batches, the batch shown in its description, or a callable(done, total)
        called after each step (a server's job status). constraint: one
        constraints.FeatureConstraint that every job keeps (joints come back in its world frame). cleanup: as
        in `generate` (with a constraint, the constraint's own clean-up or none). reference_anchor: as in
        `layouts`.
        """
        batch_size = check_count(batch_size, "batch_size")
        steps = self.check_steps(steps)
        guide = self._set_sampling(steps, guidance, sampler, placement_guidance)
        by_length: dict[int, list[int]] = {}
        for index, (_, frames, seed) in enumerate(jobs):
            check_seed(seed)
            by_length.setdefault(self.check_frames(frames), []).append(index)
            if constraint is not None:
                constraint.crop(frames)                   # a job longer than the constraint: refused up front
        plan = []                                                                        # [(frames, indices)]
        for frames, indices in by_length.items():
            size = min(batch_size, self.max_batch(frames))
            plan += [(frames, indices[start:start + size]) for start in range(0, len(indices), size)]
        from tqdm.auto import tqdm

        total, done = len(plan) * steps, 0
        with tqdm(total=total, unit="step", desc="denoising", disable=progress is not True) as bar:
            def ticking(iterable):
                nonlocal done
                for step in iterable:
                    yield step
                    bar.update(1)
                    done += 1
                    if callable(progress):
                        progress(done, total)
            for number, (frames, chunk) in enumerate(plan, 1):
                bar.set_description(f"batch {number}/{len(plan)} ({len(chunk)} x {frames} frames)")
                texts, seeds = [jobs[i][0] for i in chunk], [jobs[i][2] for i in chunk]
                tic = time.perf_counter()
                self._set_sampling(steps, guidance, sampler)     # the sampler is shared: respace it per batch
                held = None if constraint is None else [constraint.crop(frames)] * len(chunk)
                feats = self._denoise(texts, [frames] * len(chunk), seeds, guide, ticking, held, reference_anchor)
                frame = None if constraint is None else constraint.frame
                clean = cleanup if constraint is None else bool(cleanup) and constraint.cleanup
                yield (chunk, self.to_samples(texts, seeds, feats, frame=frame, cleanup=clean),
                       time.perf_counter() - tic)
