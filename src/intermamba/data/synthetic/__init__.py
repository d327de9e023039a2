"""The procedural two-person interaction world: the project's default dataset, made on the fly.

Every item is one interaction of a kind from `kinds.KINDS` (handshake, hug, high five, push, ...), drawn with
randomised timing, distance, speed, handedness and initiator, and animated on our own skeleton: local joint
rotations (two-bone IK for arms and legs, `rig.py`) and root paths with planted footsteps (`gait.py`), so
positions, rotations and foot contacts agree exactly. Captions (three per item) say who acts and with which
hand in words that `motion.mirror_text` swaps correctly.

    from intermamba.data.synthetic import generate, read_items, KIND_NAMES
    sample = generate(7, seed=0)          # Sample: positions (2, T, 22, 3), rotations (2, T, 21, 6), texts ...
    items = read_items(cfg.data, "train")  # RawItems for intermamba.data.build_dataset (cached on disk)
    write_interhuman("out/world", num_items=2000)  # the same world in InterHuman's on-disk layout

Item i is fully determined by (seed, i): its kind is KIND_NAMES[i % len(KIND_NAMES)], so every kind is
equally common, and its split follows from i as well (80 / 10 / 10 per kind for train / val / test; a world of
at least 4 x 18 items has all three).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ...fileio import cache_dir
from ...skeleton import MAX_FRAMES, NUM_JOINTS, NUM_ROT_JOINTS, ROT6D_DIM
from .kinds import HAND_CONTACT_KINDS, KINDS
from .kinds.scene import Scene

KIND_NAMES = tuple(KINDS)
VERSION = 11                 # bump whenever the choreography changes: it names the on-disk cache
# Block b = i // len(KIND_NAMES) (one item of each kind) goes to SPLIT_OF_BLOCK[b % 10]: 80 / 10 / 10, with
# val and test early in the cycle so that even a small world has both.
SPLIT_OF_BLOCK = ("train", "val", "train", "test", "train", "train", "train", "train", "train", "train")


@dataclass
class Sample:
    name: str
    kind: str
    texts: list
    positions: np.ndarray      # (2, T, 22, 3) float32, metres, Y up, one world frame
    rotations: np.ndarray      # (2, T, 21, 6) float32, local 6D (InterHuman layout) of joints 1..21
    stance: np.ndarray         # (2, 2, T) bool: person, foot (left, right), planted
    initiator: int             # which person (0 or 1) is "one person" in the captions
    side: Optional[str] = None           # the hand / direction the captions name
    hand_actor: Optional[int] = None     # the person moving the named hand
    contacts: list = field(default_factory=list)  # (frame, person, joint, person, joint) that touch


def split_of(index: int) -> str:
    return SPLIT_OF_BLOCK[(index // len(KIND_NAMES)) % len(SPLIT_OF_BLOCK)]


def kind_of(index: int) -> str:
    return KIND_NAMES[index % len(KIND_NAMES)]


def _rot6d(local: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns row by row, [R00, R01, R10, R11, R20, R21]."""
    return local[..., :, :2].reshape(*local.shape[:-2], ROT6D_DIM)


def generate(index: int, seed: int = 0, *, kind: Optional[str] = None) -> Sample:
    """Item `index` of the world with this `seed` (its kind from the index unless `kind` is given)."""
    kind = kind_of(index) if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; known kinds: {', '.join(KIND_NAMES)}")
    rng = np.random.default_rng([seed, index, KIND_NAMES.index(kind)])
    scene: Scene = KINDS[kind](rng)
    # Place the scene anywhere on the floor with any heading: joints turn and move, local rotations of joints
    # 1..21 are parent-relative and do not change.
    turn = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(turn), np.sin(turn)
    R = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    shift = np.array([rng.uniform(-2, 2), 0.0, rng.uniform(-2, 2)])
    positions = np.stack([p.joints for p in scene.people]) @ R.T + shift  # (2, T, 22, 3)
    rotations = _rot6d(np.stack([p.local[:, 1:] for p in scene.people]))  # (2, T, 21, 6)
    stance = np.stack([p.stance for p in scene.people])
    initiator = int(rng.integers(2))  # who is stored as person 1
    order = [0, 1] if initiator == 0 else [1, 0]

    def who(i):
        return None if i is None else order.index(i)

    contacts = [(f, who(a), ja, who(b), jb) for f, a, ja, b, jb in scene.contacts]
    return Sample(name=f"synthetic_{seed}_{index:05d}", kind=kind, texts=list(scene.texts),
                  positions=positions[order].astype(np.float32), rotations=rotations[order].astype(np.float32),
                  stance=stance[order], initiator=who(0), side=scene.side, hand_actor=who(scene.hand_actor),
                  contacts=contacts)


# ------------------------------------------------------------------------------------------ dataset
def _cache_dir() -> Path:
    return cache_dir("synthetic")


def _build_split(indices: list, seed: int, progress: bool):
    """Generate the items of a split into one (2, sum T, ...) array per quantity.

    The buffers are allocated for the longest possible items and filled in place: untouched pages of np.empty
    cost no memory, and nothing is concatenated, so the peak stays at the size of the split itself.
    """
    iterator = indices
    if progress:
        from tqdm import tqdm
        iterator = tqdm(indices, desc="synthetic world", unit="item", leave=False)
    capacity = len(indices) * MAX_FRAMES
    positions = np.empty((2, capacity, NUM_JOINTS, 3), dtype=np.float32)
    rotations = np.empty((2, capacity, NUM_ROT_JOINTS, ROT6D_DIM), dtype=np.float32)
    lengths, texts, kinds, used = [], [], [], 0
    for i in iterator:
        s = generate(i, seed)
        T = s.positions.shape[1]
        positions[:, used:used + T] = s.positions
        rotations[:, used:used + T] = s.rotations
        used += T
        lengths.append(T)
        texts.append("\t".join(t.replace("\t", " ") for t in s.texts))
        kinds.append(s.kind)
    return np.array(lengths, dtype=np.int64), positions[:, :used], rotations[:, :used], texts, kinds


def _save_atomic(folder: Path, lengths, positions, rotations, texts, kinds) -> None:
    """Write the split as .npy files (memory-mapped when read back) into a temp folder, then rename it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        np.save(tmp / "lengths.npy", lengths)
        np.save(tmp / "positions.npy", positions)
        np.save(tmp / "rotations.npy", rotations)
        (tmp / "captions.json").write_text(json.dumps({"texts": texts, "kinds": kinds}))
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # e.g. another process wrote the same cache first


def load_split(num_items: int, seed: int, split: str, *, cache: bool = True, progress: bool = True):
    """(names, lengths, positions (2, sum T, 22, 3), rotations (2, sum T, 21, 6), texts, kinds) of a split.

    Generated once and cached under ~/.cache/intermamba/synthetic (or $INTERMAMBA_CACHE) by version, seed,
    item count and split, and memory-mapped from there; a cache that cannot be written is simply skipped.
    """
    indices = [i for i in range(num_items) if split_of(i) == split]
    names = [f"synthetic_{seed}_{i:05d}" for i in indices]
    key = hashlib.sha1(f"v{VERSION}-{','.join(KIND_NAMES)}".encode()).hexdigest()[:10]
    folder = _cache_dir() / f"{key}-seed{seed}-n{num_items}-{split}"
    if cache and folder.is_dir():
        try:
            meta = json.loads((folder / "captions.json").read_text())
            lengths = np.load(folder / "lengths.npy", allow_pickle=False)
            positions = np.load(folder / "positions.npy", mmap_mode="r", allow_pickle=False)
            rotations = np.load(folder / "rotations.npy", mmap_mode="r", allow_pickle=False)
            if len(lengths) == len(indices) == len(meta["texts"]) and positions.shape[1] == lengths.sum():
                return names, lengths, positions, rotations, meta["texts"], meta["kinds"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
        shutil.rmtree(folder, ignore_errors=True)
    lengths, positions, rotations, texts, kinds = _build_split(indices, seed, progress)
    if cache:
        _save_atomic(folder, lengths, positions, rotations, texts, kinds)
    return names, lengths, positions, rotations, texts, kinds


def write_interhuman(root, *, num_items: int, seed: int = 0, progress: bool = True) -> int:
    """Write the world of `num_items` items in InterHuman's on-disk layout under `root` (motions_processed/,
    annots/, split/{train,val,test}.txt), so that the InterHuman reader serves it too. Returns the count."""
    from ..interhuman import SPLIT_DIR, write_interhuman_item

    if num_items < 1:
        raise ValueError(f"the number of items must be at least 1, got {num_items}")
    indices = range(num_items)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc="write InterHuman layout", unit="item", leave=False)
    for i in indices:
        s = generate(i, seed)
        write_interhuman_item(root, s.name, s.positions, s.rotations, s.texts, split=split_of(i))
    for split in set(SPLIT_OF_BLOCK):  # a small world may leave a split empty: its file must still exist
        (Path(root) / SPLIT_DIR / f"{split}.txt").touch()
    return num_items


def read_items(data_cfg, split: str) -> list:
    """The reader interface of intermamba.data: RawItems of one split of the world `data_cfg` describes."""
    from ..dataset import RawItem

    if data_cfg.synthetic_items < 1:
        raise ValueError(f"data.synthetic_items must be at least 1, got {data_cfg.synthetic_items}")
    names, lengths, positions, rotations, texts, kinds = load_split(data_cfg.synthetic_items, data_cfg.seed, split)
    starts = np.concatenate([[0], np.cumsum(lengths)])

    def loader(a: int, b: int):  # a private copy of one item out of the (memory-mapped) split
        return np.array(positions[:, a:b]), np.array(rotations[:, a:b])

    return [RawItem(name=n, texts=t.split("\t"), loader=functools.partial(loader, int(a), int(b)), frames=int(b - a),
                    kind=k)
            for n, a, b, t, k in zip(names, starts[:-1], starts[1:], texts, kinds)]
