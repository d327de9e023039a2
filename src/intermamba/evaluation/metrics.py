"""The field's text-to-motion metrics as pure functions on embedding arrays.

Definitions follow InterGen's evaluation code (reference/intergen-facts.md sec. 4), quirks included, because
numbers are only comparable with the papers' tables if they are computed the same way:

- R-Precision and MM Dist are computed inside one evaluation batch (96 for InterHuman, 32 for Inter-X) on the
  evaluator's (already scaled) embeddings, without any further scaling;
- FID and Diversity multiply the motion embeddings by `emb_scale` (6 for InterHuman) first, and Diversity is
  also halved (`divide_by=2`); Inter-X uses the classic Guo et al. formulas (scale 1, no halving);
- MModality is unscaled and not halved.

Every random draw (Diversity's index pairs, MModality's index sets) is an argument, so a result is a function
of its inputs; `draw_pairs` makes the draws the way the reference does (two draws without replacement).
All arithmetic is float64.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

# InterGen, utils/metrics.py: motion embeddings are multiplied by 6 before FID and Diversity, and Diversity
# is divided by 2 (so it equals 3x the raw distance). Inter-X's protocol uses 1 and 1.
INTERHUMAN_EMB_SCALE = 6.0
INTERHUMAN_DIVERSITY_DIVIDE_BY = 2.0
FID_EPS = 1e-6                  # added to the covariance diagonals when sqrtm is singular (pytorch-fid's fix)
FID_IMAG_ATOL = 1e-3            # largest imaginary component of sqrtm's diagonal tolerated as round-off


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, dim) of embeddings, got shape {x.shape}")
    return x


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of a (N, d) and b (M, d): (N, M).

    Uses the expansion |a|^2 - 2 a.b + |b|^2 like the reference; the reference can take the sqrt of a tiny
    negative round-off (NaN), so it is clipped at 0 here.
    """
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    sq = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]   # (N, M)
    return np.sqrt(np.maximum(sq, 0.0))


def _paired(text_emb: np.ndarray, motion_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    text_emb, motion_emb = _as_2d(text_emb, "text_emb"), _as_2d(motion_emb, "motion_emb")
    if text_emb.shape != motion_emb.shape:
        raise ValueError(f"text_emb {text_emb.shape} and motion_emb {motion_emb.shape} must pair row by row")
    return text_emb, motion_emb


def r_precision(text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3) -> np.ndarray:
    """Hit counts (top_k,) int: how many texts of this batch find their own motion among the k nearest.

    Row i of each array belongs together. Counts are cumulative (a top-1 hit is also a top-2 hit); divide by
    the number of rows summed over batches to get R-Precision. Ties are broken by a stable sort, so a motion
    earlier in the batch ranks first.
    """
    text_emb, motion_emb = _paired(text_emb, motion_emb)
    dist = distance_matrix(text_emb, motion_emb)                       # (N, N)
    ranks = np.argsort(dist, axis=1, kind="stable")[:, :top_k]         # (N, k) nearest motions per text
    hits = ranks == np.arange(len(dist))[:, None]                      # (N, k)
    return np.cumsum(hits, axis=1).astype(bool).sum(0)                 # (k,)


def matching_score(text_emb: np.ndarray, motion_emb: np.ndarray) -> float:
    """Sum over rows of |text_i - motion_i| (MM Dist = this summed over batches / number of rows). Unscaled."""
    text_emb, motion_emb = _paired(text_emb, motion_emb)
    return float(np.linalg.norm(text_emb - motion_emb, axis=1).sum())


def activation_statistics(emb: np.ndarray, *, emb_scale: float = INTERHUMAN_EMB_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) (N-1 normalisation) of emb * emb_scale."""
    emb = _as_2d(emb, "emb") * emb_scale
    if len(emb) < 2:
        raise ValueError(f"FID needs at least 2 embeddings, got {len(emb)}")
    return emb.mean(0), np.cov(emb, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = FID_EPS) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):
    |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all() or _large_imaginary(covmean):
        # Singular product (e.g. fewer samples than dimensions): regularise both covariances and retry. (The
        # reference retries only on non-finite results and crashes on a large imaginary part instead.)
        offset = np.eye(len(sigma1)) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if _large_imaginary(covmean):
        raise ValueError(f"FID: sqrtm has a large imaginary part ({np.abs(covmean.imag).max():.3g}); "
                         "the covariances are badly conditioned, use more samples")
    covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def _large_imaginary(m: np.ndarray) -> bool:
    return np.iscomplexobj(m) and not np.allclose(np.diagonal(m).imag, 0.0, atol=FID_IMAG_ATOL)


def fid(gt_emb: np.ndarray, gen_emb: np.ndarray, *, emb_scale: float = INTERHUMAN_EMB_SCALE) -> float:
    """FID between two sets of motion embeddings (N, d), both multiplied by emb_scale first (InterGen: 6)."""
    mu1, sigma1 = activation_statistics(gt_emb, emb_scale=emb_scale)
    mu2, sigma2 = activation_statistics(gen_emb, emb_scale=emb_scale)
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def diversity(emb: np.ndarray, first: np.ndarray, second: np.ndarray, *,
              emb_scale: float = INTERHUMAN_EMB_SCALE, divide_by: float = INTERHUMAN_DIVERSITY_DIVIDE_BY) -> float:
    """Mean distance between the pairs (emb[first[i]], emb[second[i]]) of scaled embeddings, / divide_by."""
    emb = _as_2d(emb, "emb") * emb_scale
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"diversity: index arrays must be 1-D and equal in length, got {first.shape} and {second.shape}")
    return float(np.linalg.norm(emb[first] - emb[second], axis=1).mean() / divide_by)


def multimodality(emb: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """emb (num_texts, num_repeats, d): generations per text. Mean over texts and over the index pairs of
    |emb[:, first[i]] - emb[:, second[i]]|. Unscaled, not halved (as the reference)."""
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 3:
        raise ValueError(f"multimodality needs embeddings of shape (num_texts, num_repeats, dim), got {emb.shape}")
    return float(np.linalg.norm(emb[:, first] - emb[:, second], axis=2).mean())


def draw_pairs(rng: np.random.Generator, n: int, times: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent draws of `times` indices out of range(n) without replacement (the reference's way of
    choosing Diversity pairs and MModality sets). `times` must not exceed n."""
    if times > n:
        raise ValueError(f"cannot draw {times} distinct indices out of {n}; lower the number of draws or add samples")
    return rng.choice(n, times, replace=False), rng.choice(n, times, replace=False)


def mean_and_interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over replications (axis 0) and the 95% confidence half-width 1.96 * std / sqrt(n) (population
    std, as the reference)."""
    values = np.asarray(values, dtype=np.float64)
    return values.mean(0), 1.96 * values.std(0) / np.sqrt(len(values))
