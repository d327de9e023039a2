"""Inter-X (Xu et al., CVPR 2024) read from its processed release, the layout InterMask and InterMoE use.

    <root>/motions/{train,val,test}.h5     key = sequence name (GgggTtttAaaaRrrr), value float32 (T, 56, 6) at 30 fps
    <root>/texts_processed/<name>.txt      captions, one per line as "caption#word/POS tokens#0.0#0.0"
    <root>/splits/{train,val,test}.txt     optional: the names of a split, one per line (else every h5 key)

The 56 rows of a frame are SMPL-X axis-angle rotations [global_orient, 21 body joints, jaw, left eye,
right eye, 15 left-hand, 15 right-hand] and, last, the translation; columns 0:3 hold person 1 and 3:6
person 2 (reference/intergen-facts.md 6).

From these we keep the pelvis and 21 body joints -- SMPL-X's body joints are SMPL's 22 in the same order --
and run our own forward kinematics (skeleton.REST_OFFSETS, a T-pose like SMPL-X's rest pose), so no SMPL-X
model file is needed. Choices, stated:
- Axes: Inter-X is Y-up already (its preprocessing puts each person's lowest joint at y = 0), so no axis
  change is applied; metres.
- Root: our pelvis is placed at the stored translation. SMPL-X puts it at translation + J0 (the template's
  rest pelvis), a constant offset shared by both persons: it moves the pair as a whole, which the dataset's
  canonicalisation removes anyway.
- Floor: Inter-X shifted each person so their lowest SMPL-X joint is at y = 0 (then subtracted person 1's
  first translation from both); we apply the same rule with our skeleton, per person, min joint y = 0.
- Rotations: the stored local rotations of joints 1..21 become 6D as they are (the hands, jaw and eyes are
  dropped).
Indexing reads only the h5 metadata; arrays load (and go through FK) on first use.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Union

import numpy as np
import torch

from .. import rotations, skeleton as sk
from .dataset import RawItem, report_skipped

PathLike = Union[str, os.PathLike]

MOTION_DIR, TEXT_DIR, SPLIT_DIR = "motions", "texts_processed", "splits"
STORED_ROWS = 56                 # global_orient + 21 body + jaw + 2 eyes + 2 x 15 hand joints + translation
TRANSL_ROW = STORED_ROWS - 1
PERSON_COLS = (slice(0, 3), slice(3, 6))
BODY_ROWS = slice(0, sk.NUM_JOINTS)  # global_orient (the root) and the 21 body joints, in SMPL order
CAPTION_SEP = "#"                # HumanML3D text lines: caption#tokens#start#end


class InterXError(ValueError):
    """An Inter-X file that is missing, unreadable or not in the processed layout."""


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise InterXError("reading Inter-X needs h5py: pip install h5py") from None
    return h5py


def read_captions(root: PathLike, name: str) -> list[str]:
    """The captions of one sequence (the text before the first '#' of each non-empty line)."""
    path = Path(root) / TEXT_DIR / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"missing {TEXT_DIR}/{name}.txt")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    captions = [line.split(CAPTION_SEP, 1)[0].strip() for line in lines]
    captions = [c for c in captions if c]
    if not captions:
        raise ValueError(f"{TEXT_DIR}/{name}.txt holds no caption")
    return captions


def smplx_to_pair(stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One stored sequence (T, 56, 6) -> positions (2, T, 22, 3) and local 6D rotations (2, T, 21, 6), float32.

    Our forward kinematics of the SMPL-X body rotations, each person on their floor (see the module docstring).
    """
    x = torch.from_numpy(np.asarray(stored, dtype=np.float32))
    people = torch.stack([x[..., cols] for cols in PERSON_COLS])         # (2, T, 56, 3)
    local = rotations.axis_angle_to_matrix(people[:, :, BODY_ROWS])     # (2, T, 22, 3, 3)
    joints = sk.forward_kinematics(local, people[:, :, TRANSL_ROW])     # (2, T, 22, 3)
    floor = joints[..., 1].amin(dim=(1, 2))                              # (2,) each person's lowest joint
    joints[..., 1] -= floor[:, None, None]
    rot6d = rotations.matrix_to_rot6d(local[:, :, 1:])                  # (2, T, 21, 6)
    return joints.numpy(), rot6d.numpy()


def load_sequence(h5_path: PathLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions and rotations (see `smplx_to_pair`) of the sequence `name` in an Inter-X h5 file."""
    with _open_h5(h5_path) as f:
        if name not in f:
            raise InterXError(f"{name} is not in {h5_path}")
        stored = f[name][()]
    _check_stored(stored.shape, stored.dtype, name)
    return smplx_to_pair(stored)


def _check_stored(shape, dtype, name: str) -> None:
    if len(shape) != 3 or tuple(shape[1:]) != (STORED_ROWS, 2 * 3):
        raise ValueError(f"{name} has shape {tuple(shape)}, expected (T, {STORED_ROWS}, 6)")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"{name} has dtype {dtype}, expected float")


def _open_h5(path: PathLike):
    path = Path(path)
    if not path.is_file():
        raise InterXError(f"Inter-X motion file {path} not found; expected <root>/{MOTION_DIR}/<split>.h5")
    try:
        return _h5py().File(path, "r")
    except OSError as err:
        raise InterXError(f"{path} is not a readable HDF5 file ({err}); re-download or re-create it") from None


def read_interx(root: PathLike, split: str) -> list[RawItem]:
    """Index one split: every sequence (listed in splits/<split>.txt when that file exists) whose array and
    captions are sound; the others are reported by name and skipped."""
    root = Path(root)
    if not root.is_dir():
        raise InterXError(f"Inter-X root {str(root)!r} is not a folder; set data.root to the dataset folder")
    h5_path = root / MOTION_DIR / f"{split}.h5"
    split_file = root / SPLIT_DIR / f"{split}.txt"
    items, skipped = [], []
    with _open_h5(h5_path) as f:
        if split_file.is_file():
            names = [n.strip() for n in split_file.read_text(encoding="utf-8").splitlines() if n.strip()]
            names = list(dict.fromkeys(names))
        else:
            names = sorted(f.keys())
        for name in names:
            try:
                if name not in f:
                    raise ValueError(f"listed in {SPLIT_DIR}/{split}.txt but not in {MOTION_DIR}/{split}.h5")
                node = f[name]
                if not hasattr(node, "shape"):
                    raise ValueError(f"{name} is an h5 group, not an array")
                _check_stored(node.shape, node.dtype, name)
                captions = read_captions(root, name)
            except (OSError, ValueError) as err:
                skipped.append((name, str(err)))
                continue
            items.append(RawItem(name=name, texts=captions, frames=int(node.shape[0]),
                                 loader=functools.partial(load_sequence, h5_path, name)))
    report_skipped(f"interx:{split}", skipped)
    return items


def read_items(data_cfg, split: str) -> list[RawItem]:
    """Reader interface for `build_dataset` (data.dataset: interx, data.root: the processed Inter-X folder)."""
    if not data_cfg.root:
        raise InterXError(f"data.root must point to the Inter-X folder (with {MOTION_DIR}/, {TEXT_DIR}/, {SPLIT_DIR}/)")
    return read_interx(data_cfg.root, split)
