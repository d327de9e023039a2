"""InterHuman (Liang et al., InterGen) read from and written to its on-disk layout.

    <root>/split/{train,val,test}.txt      one motion id per line (InterGen's own code reads <root>/<split>.txt:
    <root>/split/ignore_list.txt           both places are accepted, split/ first); ids in the ignore list are skipped
    <root>/annots/<id>.txt                 captions, one per line (3 per motion)
    <root>/motions_processed/person1/<id>.npy   (T, 492) float32, Z up: 62 joint positions (186) + 51 local 6D (306)
    <root>/motions_processed/person2/<id>.npy

Only the 22 body joints (columns 0:66) and the 6D of body joints 1..21 (columns 186:312) are used
(reference/intergen-facts.md 1.1-1.2). Indexing reads only the npy headers (memory-mapped), so opening the
full dataset is quick; arrays load on first use and the dataset caches them. Missing or malformed files are
reported by name and skipped.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .. import skeleton as sk
from ..fileio import atomic_path, atomic_write_text
from ..motion import ZUP_TO_YUP
from .dataset import RawItem, check_arrays, report_skipped

PathLike = Union[str, os.PathLike]

STORED_JOINTS = 62                        # SMPL-H joints in the stored positions
STORED_ROTATIONS = 51                     # SMPL-H joints 1..51 in the stored 6D rotations
STORED_DIM = STORED_JOINTS * 3 + STORED_ROTATIONS * sk.ROT6D_DIM   # 492
POS_COLS = slice(0, sk.NUM_JOINTS * 3)                             # 0:66, body joints 0..21
ROT_COLS = slice(STORED_JOINTS * 3, STORED_JOINTS * 3 + sk.NUM_ROT_JOINTS * sk.ROT6D_DIM)   # 186:312
PERSON_DIRS = ("person1", "person2")
MOTION_DIR, CAPTION_DIR, SPLIT_DIR = "motions_processed", "annots", "split"
IGNORE_LIST = "ignore_list.txt"
_IDENTITY_6D = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_ZUP_TO_YUP = ZUP_TO_YUP.numpy()
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.()-]+$")


def _list_file(root: Path, name: str) -> Optional[Path]:
    for path in (root / SPLIT_DIR / name, root / name):
        if path.is_file():
            return path
    return None


def _read_ids(path: Path) -> list[str]:
    ids = (line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return list(dict.fromkeys(i for i in ids if i))  # drop blanks and repeats, keep order


def _npy_frames(path: Path) -> int:
    """Frame count of a stored array, validating shape and dtype from the header without reading the data."""
    if not path.is_file():
        raise FileNotFoundError(f"missing {path.parent.name}/{path.name}")
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if array.ndim != 2 or array.shape[1] != STORED_DIM:
        raise ValueError(f"{path.parent.name}/{path.name} has shape {array.shape}, expected (T, {STORED_DIM})")
    if array.dtype.kind != "f":
        raise ValueError(f"{path.parent.name}/{path.name} has dtype {array.dtype}, expected float")
    return int(array.shape[0])


def read_captions(root: PathLike, motion_id: str) -> list[str]:
    path = Path(root) / CAPTION_DIR / f"{motion_id}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"missing {CAPTION_DIR}/{motion_id}.txt")
    captions = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    captions = [c for c in captions if c]
    if not captions:
        raise ValueError(f"{CAPTION_DIR}/{motion_id}.txt holds no caption")
    return captions


def load_pair(root: PathLike, motion_id: str, frames: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (2, T, 22, 3) Y-up and local 6D rotations (2, T, 21, 6), float32, of one stored pair."""
    root = Path(root)
    people = [np.load(root / MOTION_DIR / person / f"{motion_id}.npy", allow_pickle=False) for person in PERSON_DIRS]
    frames = frames or min(p.shape[0] for p in people)
    stacked = np.stack([p[:frames] for p in people]).astype(np.float32)          # (2, T, 492)
    positions = stacked[..., POS_COLS].reshape(2, frames, sk.NUM_JOINTS, 3) @ _ZUP_TO_YUP.T
    rotations = stacked[..., ROT_COLS].reshape(2, frames, sk.NUM_ROT_JOINTS, sk.ROT6D_DIM)
    return np.ascontiguousarray(positions, dtype=np.float32), np.ascontiguousarray(rotations)


def read_interhuman(root: PathLike, split: str) -> list[RawItem]:
    """Index one split: every listed id (minus the ignore list) whose captions and two arrays are sound."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"InterHuman root {str(root)!r} is not a folder; set data.root to the dataset folder")
    split_file = _list_file(root, f"{split}.txt")
    if split_file is None:
        raise ValueError(f"InterHuman split file not found: looked for {root / SPLIT_DIR / (split + '.txt')} "
                         f"and {root / (split + '.txt')}")
    ignore_file = _list_file(root, IGNORE_LIST)
    ignored = set(_read_ids(ignore_file)) if ignore_file else set()
    items, skipped = [], []
    for motion_id in _read_ids(split_file):
        if motion_id in ignored:
            continue
        try:
            captions = read_captions(root, motion_id)
            lengths = [_npy_frames(root / MOTION_DIR / person / f"{motion_id}.npy") for person in PERSON_DIRS]
        except (OSError, ValueError, EOFError) as err:  # missing, truncated, or not an npy at all
            skipped.append((motion_id, str(err)))
            continue
        frames = min(lengths)  # the two persons of a clip share one clock; tolerate a stray extra frame
        items.append(RawItem(name=motion_id, texts=captions, frames=frames,
                             loader=functools.partial(load_pair, root, motion_id, frames)))
    report_skipped(f"interhuman:{split}", skipped)
    return items


def read_items(data_cfg, split: str) -> list[RawItem]:
    """Reader interface for `build_dataset` (data.dataset: interhuman, data.root: the dataset folder)."""
    if not data_cfg.root:
        raise ValueError("data.root must point to the InterHuman folder (with annots/, motions_processed/, split/)")
    return read_interhuman(data_cfg.root, split)


def write_interhuman_item(root: PathLike, motion_id: str, positions: np.ndarray, rotations: np.ndarray,
                          captions: Sequence[str], *, split: Optional[str] = None) -> None:
    """Write one pair in InterHuman's exact layout (float32 (T, 492), Z up), atomically.

    positions (2, T, 22, 3) Y-up metres and rotations (2, T, 21, 6) local 6D, as a RawItem holds them. The
    stored hand joints, which no reader uses, repeat the wrist positions with identity rotations. With
    `split`, the id is appended to <root>/split/<split>.txt (once).
    """
    if not _SAFE_ID.match(motion_id):
        raise ValueError(f"motion id {motion_id!r} must be letters, digits, '_', '-', '.', '(' or ')'")
    positions, rotations = np.asarray(positions, dtype=np.float32), np.asarray(rotations, dtype=np.float32)
    check_arrays(motion_id, positions, rotations)
    captions = [c.strip() for c in captions]
    if not captions or any(not c or "\n" in c for c in captions):
        raise ValueError(f"item {motion_id!r}: captions must be non-empty single lines")
    root = Path(root)
    T = positions.shape[1]
    zup = positions @ _ZUP_TO_YUP                                         # inverse of a rotation = transpose
    hands = STORED_JOINTS - sk.NUM_JOINTS                                 # left-hand half follows the left wrist
    wrists = np.repeat(zup[:, :, [sk.JOINT_INDEX["l_wrist"], sk.JOINT_INDEX["r_wrist"]]], hands // 2, axis=2)
    hand_rot = np.broadcast_to(np.asarray(_IDENTITY_6D, np.float32),
                               (2, T, STORED_ROTATIONS - sk.NUM_ROT_JOINTS, sk.ROT6D_DIM))
    stored = np.concatenate([zup.reshape(2, T, -1), wrists.reshape(2, T, -1),
                             rotations.reshape(2, T, -1), hand_rot.reshape(2, T, -1)], axis=-1)
    assert stored.shape[-1] == STORED_DIM
    for person, array in zip(PERSON_DIRS, stored):
        with atomic_path(root / MOTION_DIR / person / f"{motion_id}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    atomic_write_text(root / CAPTION_DIR / f"{motion_id}.txt", "\n".join(captions) + "\n")
    if split is not None:
        split_file = root / SPLIT_DIR / f"{split}.txt"
        ids = _read_ids(split_file) if split_file.is_file() else []
        if motion_id not in ids:
            atomic_write_text(split_file, "".join(i + "\n" for i in ids + [motion_id]))


# ------------------------------------------------------------------------- checking the 6D layout
# The 6D layout is inferred from InterGen's mirror code (intergen-facts 1.2), not documented. Candidate
# layouts as (reorder into ours, whether the two stored vectors are rows of R rather than columns).
ROT6D_LAYOUTS = {
    "columns, row by row": ((0, 1, 2, 3, 4, 5), False),         # ours: [R00, R01, R10, R11, R20, R21]
    "columns, one after the other": ((0, 3, 1, 4, 2, 5), False),  # [R00, R10, R20, R01, R11, R21]
    "rows": ((0, 3, 1, 4, 2, 5), True),                          # [R00, R01, R02, R10, R11, R12] (pytorch3d)
}


def bone_direction_error(positions: np.ndarray, rot6d: np.ndarray, layout: str = "columns, row by row") -> float:
    """How well stored rotations explain stored positions under a 6D `layout` (a ROT6D_LAYOUTS key).

    positions (T, 22, 3), rot6d (T, 21, 6) of one person. Returns the mean angle in degrees between each
    bone of `positions` and the same bone placed by forward kinematics of the rotations (root orientation
    from the hips and spine). A few degrees (SMPL's per-subject rest pose differs from ours) means the
    layout fits; tens of degrees means it does not.
    """
    import torch

    from ..rotations import positions_to_local_rotations, rot6d_to_matrix

    reorder, stored_rows = ROT6D_LAYOUTS[layout]
    pos = torch.as_tensor(positions, dtype=torch.float32)
    local = rot6d_to_matrix(torch.as_tensor(rot6d, dtype=torch.float32)[..., list(reorder)])  # (T, 21, 3, 3)
    if stored_rows:  # Gram-Schmidt on rows builds R transposed
        local = local.transpose(-1, -2)
    root = positions_to_local_rotations(pos)[..., :1, :, :]
    fk = sk.forward_kinematics(torch.cat([root, local], dim=-3), pos[..., 0, :])
    parents = list(sk.PARENTS[1:])
    want = torch.nn.functional.normalize(pos[..., 1:, :] - pos[..., parents, :], dim=-1)
    got = torch.nn.functional.normalize(fk[..., 1:, :] - fk[..., parents, :], dim=-1)
    return float(torch.rad2deg(torch.acos((want * got).sum(-1).clamp(-1.0, 1.0))).mean())


def layout_report(root: PathLike, split: str = "train", max_items: int = 20) -> dict[str, float]:
    """Mean bone_direction_error of each candidate 6D layout over the first `max_items` pairs of a split;
    on the real InterHuman data the smallest should be "columns, row by row" (the layout we read)."""
    items = read_interhuman(root, split)[:max_items]
    if not items:
        raise ValueError(f"no readable InterHuman items in split {split!r} under {str(root)!r}")
    pairs = [item.arrays() for item in items]
    return {layout: float(np.mean([bone_direction_error(pos[p], rot[p], layout)
                                   for pos, rot in pairs for p in range(2)]))
            for layout in ROT6D_LAYOUTS}
