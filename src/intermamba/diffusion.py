"""Gaussian diffusion with x0 prediction; DDIM and DPM-Solver++ samplers with guidance and constraints.

Nothing here knows about motion or networks: tensors are (B, ...) with any trailing shape, and the network
is a callable `denoise(x_t, t, drop_text) -> x0_hat`. The pieces:

    diffusion = GaussianDiffusion.from_config(cfg.diffusion)   # its betas from `intermamba.schedules`
    x_t = diffusion.q_sample(x0, t, noise)        # forward process, paper Eq. (1)
    sampler = DDIMSampler(diffusion, steps=50)    # built once; set_timesteps() changes the step count
    x0 = sampler.sample(denoise, shape, guidance=3.5, generator=g)

The sampler follows InterGen (reference/intergen-facts.md sec. 3): respaced timesteps {0, 20, ..., 980} for 50
steps, eta = 0, no clipping, and the value returned is the network's x0 prediction at the last step.
Classifier-free guidance (Ho & Salimans 2022) runs the conditional and the null condition in ONE batched
call: the callable receives the doubled batch [cond; null] and a `drop_text` mask that is True on the null
half.

Guidance may also be a callable `guide(cond, null) -> x0` instead of a scale: `SplitGuidance` gives each
component of a caller-supplied linear change of variables its own scale (the pipeline uses it to guide each
person's pose at full strength and the two people's placement gently); the sampler only sees the maps.

Constraints (inpainting): `sample(..., constraint=Constraint(values, mask))` holds the masked entries of the
sample at known values. They are imposed on the guided x0 estimate at every step (replacement), not on x_t:
both samplers build x_{t-1} from the x0 estimate and the noise it implies, so a replaced entry re-enters the
chain as sqrt(alpha_bar) * value + sqrt(1 - alpha_bar) * eps with the SAME eps at every step (the entry's
starting noise): the known values follow the forward process exactly, at each step's level, without noise of
their own to draw, and the last step returns them exactly. The network meanwhile sees them at every step and
fits the free entries to them. The mask is per item (and per entry), so items without constraints in the same
batch come out bit-identical to an unconstrained run (torch.where keeps their estimate untouched).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import torch

from .schedules import alphas_cumprod

DenoiseFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
GuideFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]       # (cond x0, null x0) -> guided x0

SPACINGS = ("intergen", "linspace", "trailing")


def space_timesteps(num_timesteps: int, count: int, spacing: str = "intergen") -> list[int]:
    """The kept timesteps (ascending) for a `count`-step sampler.

    "intergen" (InterGen's "ddimN"): the smallest integer stride whose range(0, N, stride) has exactly `count`
    entries (1000 steps, 50 -> {0, 20, ..., 980}); when no integer stride fits (e.g. 300 of 1000), `count`
    steps spread evenly over [0, N-1]. Its noisiest step is N - stride: at 10 steps t = 900, where the cosine
    schedule still keeps sqrt(alpha_bar) = 0.15 of the signal that pure noise x_T lacks.
    "linspace": round(linspace(0, N-1, count)): the first step at t = N-1 (as pure noise is), the last at 0.
    "trailing": {N-1, N-1-N/count, ...} down to N/count - 1 (Lin et al. 2024, "Common Diffusion Noise
    Schedules and Sample Steps are Flawed", Table 2): starts at N-1 but never calls the net below N/count - 1.
    """
    if not 1 <= count <= num_timesteps:
        raise ValueError(f"sampling steps must be in [1, {num_timesteps}], got {count}")
    if spacing not in SPACINGS:
        raise ValueError(f"unknown timestep spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    if spacing == "linspace":
        frac = (num_timesteps - 1) / max(count - 1, 1)
        return sorted({round(i * frac) for i in range(count)}) if count > 1 else [num_timesteps - 1]
    if spacing == "trailing":
        stride = num_timesteps / count
        return sorted({round(num_timesteps - i * stride) - 1 for i in range(count)})
    for stride in range(1, num_timesteps + 1):
        if len(range(0, num_timesteps, stride)) == count:
            return list(range(0, num_timesteps, stride))
    frac = (num_timesteps - 1) / max(count - 1, 1)
    return sorted({round(i * frac) for i in range(count)})


# --------------------------------------------------------------------------------------- forward process
class GaussianDiffusion:
    """The forward process q(x_t | x_0) of a `num_timesteps`-step schedule (DDPM, Ho et al. 2020)."""

    def __init__(self, num_timesteps: int = 1000, schedule: str = "cosine"):
        self.num_timesteps = num_timesteps
        self.schedule = schedule
        self.alphas_cumprod = alphas_cumprod(num_timesteps, schedule)    # alpha_bar_t, (N,) float64; checks the name

    @classmethod
    def from_config(cls, cfg) -> "GaussianDiffusion":
        return cls(cfg.num_timesteps, cfg.schedule)

    def _gather(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[t] as like's dtype/device, shaped (B, 1, 1, ...) to broadcast over like."""
        out = values.to(t.device)[t].to(like.dtype)
        return out.reshape(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps   (paper Eq. 1; DDPM Eq. 4)."""
        if noise is None:
            noise = torch.randn_like(x0)
        return (self._gather(self.alphas_cumprod.sqrt(), t, x0) * x0
                + self._gather((1 - self.alphas_cumprod).sqrt(), t, x0) * noise)

    def sample_timesteps(self, batch: int, *, generator: Optional[torch.Generator] = None,
                         device: Union[str, torch.device, None] = None) -> torch.Tensor:
        """t ~ Uniform{0, ..., N-1}, (B,) int64, as InterGen's uniform sampler."""
        t = torch.randint(0, self.num_timesteps, (batch,), generator=generator,
                          device=generator.device if generator is not None else "cpu")
        return t.to(device) if device is not None else t


# ------------------------------------------------------------------------------------------- guidance
def guided_x0(cond: torch.Tensor, null: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance on the x0 prediction: s * cond + (1 - s) * null (Ho & Salimans 2022)."""
    return null + scale * (cond - null)


@dataclass
class SplitGuidance:
    """Classifier-free guidance with a scale per component of a linear change of variables.

    Guidance is linear in the difference d = cond - null, so for any invertible linear map y = to_basis(x)
    (from_basis its inverse) each component of y can have its own scale:
        x0 = null + from_basis(scales * to_basis(cond - null)).
    With scales = s everywhere this is plain guidance at s. What the components mean is the caller's business.
    """

    scales: torch.Tensor                                 # broadcastable to to_basis(x)
    to_basis: Callable[[torch.Tensor], torch.Tensor]
    from_basis: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, cond: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        return null + self.from_basis(self.scales.to(cond) * self.to_basis(cond - null))


def conditioned(model: Callable, **cond) -> DenoiseFn:
    """Wrap `model(x, t, **cond, drop_text=...)` as a DenoiseFn.

    Tensors in `cond` have the batch of one guidance half; they are tiled along dim 0 to the batch the sampler
    passes (twice as large when guidance runs cond and null together). Non-tensors pass through.
    """
    def denoise(x: torch.Tensor, t: torch.Tensor, drop_text: torch.Tensor) -> torch.Tensor:
        def tile(v):
            if not torch.is_tensor(v) or v.shape[0] == x.shape[0]:
                return v
            return v.repeat(x.shape[0] // v.shape[0], *([1] * (v.dim() - 1)))
        return model(x, t, **{k: tile(v) for k, v in cond.items()}, drop_text=drop_text)
    return denoise


# ----------------------------------------------------------------------------------------- constraints
@dataclass
class Constraint:
    """Known entries of the sample: `values` where `mask` is True (both broadcastable to the sample's shape,
    in the space the sampler works in). `guide`, optional, maps an x0 estimate to a corrected one (e.g. a
    projection onto a constraint set) before the known values are put in."""

    values: torch.Tensor      # (B, ...) values of the known entries (anything elsewhere)
    mask: torch.Tensor        # (B, ...) bool, True = known
    guide: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    def apply(self, x0_hat: torch.Tensor) -> torch.Tensor:
        if self.guide is not None:
            x0_hat = self.guide(x0_hat)
        return torch.where(self.mask.to(x0_hat.device, torch.bool), self.values.to(x0_hat), x0_hat)


# -------------------------------------------------------------------------------------------- samplers
class DDIMSampler:
    """DDIM (Song et al. 2021) over a respaced subset of the diffusion's timesteps, for x0-predicting nets."""

    def __init__(self, diffusion: GaussianDiffusion, steps: int = 50, eta: float = 0.0, spacing: str = "intergen"):
        if eta < 0:
            raise ValueError(f"DDIM eta must be >= 0, got {eta}")
        self.diffusion = diffusion
        self.eta = eta
        self.spacing = spacing
        self.set_timesteps(steps)

    @classmethod
    def from_config(cls, cfg, diffusion: Optional[GaussianDiffusion] = None) -> "DDIMSampler":
        return cls(diffusion or GaussianDiffusion.from_config(cfg), cfg.sample_steps, cfg.eta, cfg.timestep_spacing)

    def set_timesteps(self, steps: int) -> None:
        """Respace to `steps` kept timesteps tau_1 < ... < tau_S (the net is called with these original t)."""
        kept = space_timesteps(self.diffusion.num_timesteps, steps, self.spacing)
        self.timesteps = torch.tensor(kept[::-1], dtype=torch.long)            # descending, as sampled
        ab = self.diffusion.alphas_cumprod[self.timesteps]                    # alpha_bar at tau_i
        self.alpha_bar = ab
        self.alpha_bar_prev = torch.cat([ab[1:], ab.new_ones(1)])             # alpha_bar at tau_{i-1}; 1 at the end

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def step(self, x0_hat: torch.Tensor, i: int, x_t: torch.Tensor, *, previous: Optional[torch.Tensor] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One DDIM update x_{tau_i} -> x_{tau_{i-1}} given the net's x0 estimate (Song et al., Eq. 12).

        i indexes self.timesteps (0 = the noisiest step). `previous` (the last step's x0 estimate) is for
        multistep solvers; DDIM is first order and ignores it.
        """
        ab_t = float(self.alpha_bar[i])
        ab_prev = float(self.alpha_bar_prev[i])
        # 1. The noise the x0 estimate implies: eps = (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t)
        eps = (x_t - math.sqrt(ab_t) * x0_hat) / math.sqrt(1 - ab_t)
        # 2. sigma_t(eta) (Eq. 16); eta = 0 is the deterministic DDIM, eta = 1 DDPM's posterior variance
        sigma = self.eta * math.sqrt((1 - ab_prev) / (1 - ab_t)) * math.sqrt(1 - ab_t / ab_prev)
        # 3. x_{t-1} = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps + sigma z
        x_prev = math.sqrt(ab_prev) * x0_hat + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps
        if sigma > 0:
            x_prev = x_prev + sigma * _randn(x_t.shape, generator, x_t)
        return x_prev

    def denoise_guided(self, denoise: DenoiseFn, x_t: torch.Tensor, t: torch.Tensor,
                       guidance: Union[float, GuideFn]) -> torch.Tensor:
        """x0 estimate at x_t; with guidance != 1 the cond and null halves go through the net in one call.
        `guidance` is a scale or a GuideFn combining the two halves (e.g. a SplitGuidance)."""
        batch = x_t.shape[0]
        if not callable(guidance) and guidance == 1.0:  # s = 1 is the conditional output itself: skip the null half
            return denoise(x_t, t, torch.zeros(batch, dtype=torch.bool, device=x_t.device))
        drop = torch.cat([torch.zeros(batch, dtype=torch.bool), torch.ones(batch, dtype=torch.bool)]).to(x_t.device)
        out = denoise(torch.cat([x_t, x_t]), torch.cat([t, t]), drop)
        cond, null = out.chunk(2)
        return guidance(cond, null) if callable(guidance) else guided_x0(cond, null, guidance)

    @torch.no_grad()
    def sample(self, denoise: DenoiseFn, shape: Sequence[int], *, guidance: Union[float, GuideFn] = 1.0,
               generator: Optional[torch.Generator] = None, device: Union[str, torch.device] = "cpu",
               dtype: torch.dtype = torch.float32, x_T: Optional[torch.Tensor] = None,
               progress: Union[bool, Callable] = False, constraint: Optional[Constraint] = None) -> torch.Tensor:
        """Draw x_0 from noise: S steps, returning the final step's x0 prediction (as InterGen).

        progress: True for a tqdm bar, or a callable wrapping the step iterable (e.g. a custom tqdm).
        constraint: known entries imposed on every step's (guided) x0 estimate (see the module notes).
        Noise comes from `generator` (on its own device, then moved), so a seed gives the same sample on any
        device.
        """
        x = x_T.to(device, dtype) if x_T is not None else _randn(shape, generator, None).to(device, dtype)
        steps = range(self.steps)
        if progress is True:
            from tqdm.auto import tqdm
            steps = tqdm(steps, desc="denoising", unit="step", leave=False)
        elif callable(progress):
            steps = progress(steps)
        x0_hat, previous = x, None
        for i in steps:
            t = self.timesteps[i].expand(x.shape[0]).to(device)
            x0_hat = self.denoise_guided(denoise, x, t, guidance)
            if constraint is not None:
                x0_hat = constraint.apply(x0_hat)
            if i < self.steps - 1:
                x = self.step(x0_hat, i, x, previous=previous, generator=generator)
            previous = x0_hat
        return x0_hat


class DPMSolverSampler(DDIMSampler):
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2) for x0-predicting nets: deterministic,
    second order in the log-SNR lambda = log(alpha / sigma) by reusing the previous step's x0 estimate; the
    same timesteps, guidance, constraints and final x0 return as DDIM (its first step IS a DDIM step)."""

    def __init__(self, diffusion: GaussianDiffusion, steps: int = 50, eta: float = 0.0, spacing: str = "intergen"):
        super().__init__(diffusion, steps, 0.0, spacing)

    def _lambda(self, alpha_bar: float) -> float:
        return 0.5 * math.log(alpha_bar / (1 - alpha_bar))              # log(alpha_t / sigma_t)

    def step(self, x0_hat: torch.Tensor, i: int, x_t: torch.Tensor, *, previous: Optional[torch.Tensor] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        ab_t, ab_prev = float(self.alpha_bar[i]), float(self.alpha_bar_prev[i])
        # 1. h = lambda_{t-1} - lambda_t, the step in log-SNR
        h = self._lambda(ab_prev) - self._lambda(ab_t)
        # 2. D: the x0 estimate, extrapolated linearly in lambda through the previous one (2M); r = h_prev / h
        # The last update (to the least noisy timestep) stays first order, as diffusers' lower_order_final: its
        # h is the largest of all and extrapolating over it overshoots at few steps.
        D = x0_hat
        if previous is not None and i < self.steps - 2:
            h_prev = self._lambda(ab_t) - self._lambda(float(self.alpha_bar[i - 1]))
            r = h_prev / h
            D = (1 + 1 / (2 * r)) * x0_hat - (1 / (2 * r)) * previous
        # 3. x_{t-1} = (sigma_{t-1} / sigma_t) x_t - alpha_{t-1} (e^{-h} - 1) D   (Eq. 9 of the paper, x0 form)
        return (math.sqrt((1 - ab_prev) / (1 - ab_t)) * x_t
                - math.sqrt(ab_prev) * math.expm1(-h) * D)


SAMPLERS = {"ddim": DDIMSampler, "dpmpp": DPMSolverSampler}


def build_sampler(name: str, diffusion: GaussianDiffusion, steps: int, eta: float = 0.0,
                  spacing: str = "intergen") -> DDIMSampler:
    """A sampler by name: 'ddim' (Song et al. 2021) or 'dpmpp' (DPM-Solver++ 2M)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name](diffusion, steps, eta, spacing)


def _randn(shape, generator: Optional[torch.Generator], like: Optional[torch.Tensor]) -> torch.Tensor:
    """Standard normal noise from `generator` (drawn on the generator's device), moved next to `like`."""
    device = generator.device if generator is not None else "cpu"
    z = torch.randn(tuple(shape), generator=generator, device=device)
    return z.to(like.device, like.dtype) if like is not None else z
