"""Small stand-ins for the evaluation tests: a separable toy dataset and a hashing text encoder.

The dataset follows the batch contract (items {"motion": (T_max, 2, 262), "lengths", "text", "name"}) and
draws its augmentation (the crop length) from numpy's global generator, like the real datasets.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from torch.utils.data import Dataset

from intermamba.skeleton import FEATURE_DIM, POS

CAPTIONS = ("two people shake hands", "one person pushes the other", "they hug each other",
            "both wave from a distance", "one chases the other", "they bow to each other")


class ToyDataset(Dataset):
    """`kinds` kinds of two-person motion, each a distinct oscillation of the position channels."""

    def __init__(self, n: int = 48, *, kinds: int = 6, max_frames: int = 40, min_frames: int = 12, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.max_frames, self.min_frames = max_frames, min_frames
        self.kind = np.arange(n) % kinds
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = rng.uniform(0.5, 1.0, n)
        channel = np.random.default_rng(1234).normal(size=(kinds, 2, POS.stop))   # per kind, shared by all splits
        self.pattern = channel / np.linalg.norm(channel, axis=-1, keepdims=True) * 4.0
        self.freq = np.linspace(0.15, 0.6, kinds)

    def __len__(self):
        return len(self.kind)

    def motion(self, i: int, length: int) -> np.ndarray:
        k = self.kind[i]
        t = np.arange(length)[:, None, None]
        out = np.zeros((self.max_frames, 2, FEATURE_DIM), np.float32)
        out[:length, :, POS] = self.amp[i] * np.sin(self.freq[k] * t + self.phase[i]) * self.pattern[k]
        return out

    def __getitem__(self, i):
        length = int(np.random.randint(self.min_frames, self.max_frames + 1))   # the "random crop"
        return {"motion": torch.from_numpy(self.motion(i, length)), "lengths": length,
                "text": CAPTIONS[self.kind[i]], "name": f"toy_{i:03d}"}


class HashTextEncoder:
    """A frozen stand-in for intermamba.text encoders: one fixed random vector per word, plus an end token."""

    name = "hash"

    def __init__(self, dim: int = 24, max_tokens: int = 16):
        self.dim, self.max_tokens = dim, max_tokens

    def _vec(self, word: str) -> torch.Tensor:
        g = torch.Generator().manual_seed(zlib.crc32(word.encode()))
        return torch.randn(self.dim, generator=g)

    def encode(self, texts):
        rows = [[self._vec(w) for w in t.split()][: self.max_tokens - 1] + [self._vec("[SEP]")] for t in texts]
        L = max(len(r) for r in rows)
        features, mask = torch.zeros(len(rows), L, self.dim), torch.zeros(len(rows), L, dtype=torch.bool)
        for i, r in enumerate(rows):
            features[i, : len(r)] = torch.stack(r)
            mask[i, : len(r)] = True
        return features, mask
