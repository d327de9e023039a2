"""One dataset over "raw items" from any reader, with InterGen's per-sample pipeline.

The reader interface (see also /work/notes/data_interface.md): a module `intermamba.data.<name>`, where
<name> is `data.dataset` in the config, exposes

    read_items(data_cfg: DataConfig, split: str) -> list[RawItem]          # split: "train", "val", "test"

Each RawItem is one interaction in world coordinates: positions (2, T, 22, 3) float32, metres, Y up, both
persons in one frame (any heading, any floor height), and rotations (2, T, 21, 6) float32, the local 6D of
joints 1..21 in InterHuman's layout -- given directly or through a lazy `loader`. Readers do not crop,
mirror, swap or canonicalise; they skip unreadable files and report them by name (`report_skipped`).

`MotionDataset` then does, per fetch (reference/intergen-facts.md 1.3 and 1.5):
    pick a caption -> (mirrored entry: mirror joints, rotations and caption) -> random crop of at most
    max_frames -> swap persons with p = 0.5 -> canonical features (motion.pair_to_features, T-1 frames)
    -> swap again with p = 0.5 (not with data.reswap off, in the train split) -> zero-pad to max_frames
and yields {"motion": (max_frames, 2, 262) float32 unnormalised, "length": T-1, "text": str, "name": str};
`collate` stacks these into the batch contract (motion (B, T, 2, 262), lengths (B,) int64, text, name).
Randomness comes from torch's global generator, which DataLoader seeds per worker.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import skeleton as sk
from ..motion import Normalizer, mirror_features, mirror_joints, mirror_rot6d, mirror_text, pair_to_features, swap_persons

log = logging.getLogger("intermamba.data")

SPLITS = ("train", "val", "test")
DATASETS = ("synthetic", "interhuman", "interx", "bvh")  # modules intermamba.data.<name> with read_items()
MIRROR_SUFFIX = "_mirror"  # name of a mirrored entry (InterGen: "<id>_swap")
_FALLBACK_TRIES = 10       # a fetch whose files turn out unreadable falls back to the next entries


@dataclass
class RawItem:
    """One two-person interaction as a reader delivers it (see the module docstring for the arrays)."""
    name: str
    texts: list[str]
    positions: Optional[np.ndarray] = None   # (2, T, 22, 3) float32, metres, Y up, one world frame
    rotations: Optional[np.ndarray] = None   # (2, T, 21, 6) float32, local 6D of joints 1..21
    loader: Optional[Callable[[], tuple[np.ndarray, np.ndarray]]] = None  # lazy (positions, rotations)
    frames: Optional[int] = None             # T; required with a loader (length filtering must not load)
    kind: Optional[str] = None               # optional label, e.g. a synthetic interaction kind

    def __post_init__(self):
        if not self.texts:
            raise ValueError(f"item {self.name!r} has no caption")
        if self.loader is None:
            if self.positions is None or self.rotations is None:
                raise ValueError(f"item {self.name!r} needs positions and rotations, or a loader")
            check_arrays(self.name, self.positions, self.rotations)
            self.frames = int(self.positions.shape[1])
        elif self.frames is None:
            raise ValueError(f"item {self.name!r} has a loader but no frame count")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.loader is None:
            return self.positions, self.rotations
        positions, rotations = self.loader()
        check_arrays(self.name, positions, rotations)
        return positions, rotations


def check_arrays(name: str, positions: np.ndarray, rotations: np.ndarray) -> None:
    """Raise ValueError naming the item when arrays break the RawItem contract."""
    T = positions.shape[1] if positions.ndim == 4 else -1
    if positions.shape != (2, T, sk.NUM_JOINTS, 3):
        raise ValueError(f"item {name!r}: positions must be (2, T, {sk.NUM_JOINTS}, 3), got {positions.shape}")
    if rotations.shape != (2, T, sk.NUM_ROT_JOINTS, sk.ROT6D_DIM):
        raise ValueError(f"item {name!r}: rotations must be (2, {T}, {sk.NUM_ROT_JOINTS}, {sk.ROT6D_DIM}), "
                         f"got {rotations.shape}")
    if not (np.isfinite(positions).all() and np.isfinite(rotations).all()):
        raise ValueError(f"item {name!r}: arrays contain NaN or infinite values")


def report_skipped(source: str, skipped: Sequence[tuple[str, str]]) -> None:
    """Log every skipped (name, reason) and raise one summary warning, so a bad file never goes unnoticed."""
    if not skipped:
        return
    for name, reason in skipped:
        log.warning("%s: skipped %s: %s", source, name, reason)
    shown = "; ".join(f"{name} ({reason})" for name, reason in skipped[:5])
    more = f" and {len(skipped) - 5} more (see the 'intermamba.data' log)" if len(skipped) > 5 else ""
    warnings.warn(f"{source}: skipped {len(skipped)} item(s): {shown}{more}", stacklevel=3)


class MotionDataset(Dataset):
    """InterGen's per-sample pipeline over a list of RawItems; mirrored entries double the train split."""

    def __init__(self, items: Sequence[RawItem], *, max_frames: int = sk.MAX_FRAMES, min_frames: int = 15,
                 mirror: bool = False, swap: bool = True, reswap: bool = True, cache: bool = True,
                 source: str = "dataset"):
        if max_frames < 2 or min_frames < 2:
            raise ValueError(f"max_frames and min_frames must be at least 2, got {max_frames} and {min_frames}")
        short = [(it.name, f"{it.frames} frames < min_frames {min_frames}") for it in items if it.frames < min_frames]
        if short:
            log.info("%s: dropped %d item(s) shorter than %d frames", source, len(short), min_frames)
        self.items = [it for it in items if it.frames >= min_frames]
        self.max_frames, self.mirror, self.swap, self.source = max_frames, mirror, swap, source
        self.reswap = reswap
        self.entries = [(i, m) for i in range(len(self.items)) for m in ((False, True) if mirror else (False,))]
        self._cache: Optional[dict[int, tuple[torch.Tensor, torch.Tensor]]] = {} if cache else None
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def _arrays(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        positions, rotations = self.items[i].arrays()
        out = (torch.as_tensor(np.asarray(positions, dtype=np.float32)),
               torch.as_tensor(np.asarray(rotations, dtype=np.float32)))
        if self._cache is not None:
            self._cache[i] = out
        return out

    def __getitem__(self, idx: int) -> dict:
        for attempt in range(_FALLBACK_TRIES):
            i, mirrored = self.entries[(idx + attempt) % len(self.entries)]
            if i in self._bad:
                continue
            try:
                return self._sample(i, mirrored)
            except (OSError, ValueError) as err:  # a file that broke after indexing: report, use the next one
                self._bad.add(i)
                report_skipped(self.source, [(self.items[i].name, str(err))])
        raise RuntimeError(f"{self.source}: {_FALLBACK_TRIES} consecutive items could not be read; "
                           "check the data folder (see the warnings above)")

    def _sample(self, i: int, mirrored: bool) -> dict:
        item = self.items[i]
        positions, rotations = self._arrays(i)
        text = item.texts[int(torch.randint(len(item.texts), ()))]
        name = item.name
        T = positions.shape[1]
        if T > self.max_frames:  # random window; InterGen draws starts 0..T-max-1, we allow every window
            start = int(torch.randint(T - self.max_frames + 1, ()))
            positions, rotations = positions[:, start:start + self.max_frames], rotations[:, start:start + self.max_frames]
        if mirrored:  # after the crop: mirroring commutes with it and is cheaper on fewer frames
            positions, rotations = mirror_joints(positions), mirror_rot6d(rotations)
            text, name = mirror_text(text), name + MIRROR_SUFFIX
        if self.swap and torch.rand(()) < 0.5:   # decides whose frame is the reference
            positions, rotations = positions.flip(0), rotations.flip(0)
        feats = pair_to_features(positions, rotations)  # (T-1, 2, 262)
        if self.swap and torch.rand(()) < 0.5 and self.reswap:   # InterGen swaps the outputs again: either
            feats = swap_persons(feats)                              # person may sit at the origin
        length = feats.shape[0]
        motion = feats.new_zeros(self.max_frames, 2, sk.FEATURE_DIM)
        motion[:length] = feats
        return {"motion": motion, "length": length, "text": text, "name": name}

    def canonical_features(self) -> Iterator[torch.Tensor]:
        """Deterministic features (T-1, 2, 262) for statistics: windows of max_frames that tile each item (what
        the random crops see; an item of at most max_frames frames is one window), with each person as the
        reference when swapping is on, and their mirror images when mirroring is on."""
        for i, item in enumerate(self.items):
            try:
                positions, rotations = self._arrays(i)
            except (OSError, ValueError) as err:
                report_skipped(self.source, [(item.name, str(err))])
                continue
            for start in window_starts(positions.shape[1], self.max_frames):
                pos, rot = positions[:, start:start + self.max_frames], rotations[:, start:start + self.max_frames]
                for p, r in [(pos, rot)] + ([(pos.flip(0), rot.flip(0))] if self.swap else []):
                    feats = pair_to_features(p, r)
                    yield feats
                    if self.mirror:
                        yield mirror_features(feats)


def window_starts(frames: int, window: int) -> list[int]:
    """First frames of the windows that cover `frames` frames: every `window` frames, the last one flush with
    the end (so it may overlap its predecessor); [0] when the whole item fits in one window."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window + 1, window))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def collate(samples: Iterable[dict]) -> dict:
    """Stack dataset samples into the batch contract: motion (B, T, 2, 262), lengths (B,) int64, text, name."""
    samples = list(samples)
    return {
        "motion": torch.stack([s["motion"] for s in samples]),
        "lengths": torch.tensor([s["length"] for s in samples], dtype=torch.int64),
        "text": [s["text"] for s in samples],
        "name": [s["name"] for s in samples],
    }


def compute_normalizer(dataset: MotionDataset) -> Normalizer:
    """Mean/std (262,) over every valid frame of both persons, mirrored copies included (as InterGen's)."""
    return Normalizer.fit(dataset.canonical_features())


def build_dataset(data_cfg, split: str) -> MotionDataset:
    """The dataset named by `data_cfg.dataset` for `split`; mirrored entries only in "train"."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if data_cfg.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {data_cfg.dataset!r}; use one of {', '.join(DATASETS)}")
    reader = importlib.import_module(f"{__package__}.{data_cfg.dataset}")  # readers load lazily
    items = reader.read_items(data_cfg, split)
    source = f"{data_cfg.dataset}:{split}"
    dataset = MotionDataset(items, max_frames=data_cfg.max_frames, min_frames=data_cfg.min_frames,
                            mirror=data_cfg.mirror and split == "train", swap=data_cfg.swap,
                            reswap=data_cfg.reswap or split != "train", source=source)
    if len(dataset) == 0:
        where = f" under {data_cfg.root!r}" if data_cfg.root else ""
        raise ValueError(f"{source}: no usable items{where} (need at least {data_cfg.min_frames} frames each); "
                         "check data.root and the split files")
    return dataset
