"""InterGen's two-person motion representation: canonical 262-d features, mirroring, the normaliser.

Per person and frame (skeleton.POS / VEL / ROT / CONTACT):
    [joint positions 66 | next-frame displacement 66 | local 6D rotations of joints 1..21 126 | foot contacts 4]
built exactly as InterGen's `process_motion_np` + relative transform (reference/intergen-facts.md 1.3):
each person is dropped onto their own floor, then both are moved so that person 1's frame-0 root is at the
origin (x, z) and person 1 faces +Z at frame 0; contacts, velocities, and the last frame is dropped.

Functions take torch tensors; the mirroring helpers and `features_to_joints` also take numpy arrays.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Union

import numpy as np
import torch

from . import skeleton as sk
from .fileio import atomic_path
from .rotations import MIRROR_6D_SIGN, quat_to_matrix, yaw_quat

Array = Union[torch.Tensor, np.ndarray]

# InterHuman stores Z-up positions; (x, y, z) -> (x, z, -y) makes them Y-up (intergen-facts 1.2).
ZUP_TO_YUP = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
UP = (0.0, 1.0, 0.0)
# Normalised features divide by std; a dimension that never varies in the data would divide by ~0.
# InterGen's smallest std is 0.0074, so this floor only ever touches degenerate (e.g. tiny synthetic) data.
STD_FLOOR = 1e-3


def zup_to_yup(positions: torch.Tensor) -> torch.Tensor:
    return positions @ ZUP_TO_YUP.to(positions).T


def yup_to_zup(positions: torch.Tensor) -> torch.Tensor:
    return positions @ ZUP_TO_YUP.to(positions)  # the inverse of a rotation is its transpose


# ------------------------------------------------------------------------------ canonical features
def facing_yaw(joints: torch.Tensor) -> torch.Tensor:
    """Heading (radians about +Y, 0 = facing +Z) of poses (..., 22, 3), from the hips as InterGen does."""
    across = joints[..., sk.FACE_HIP_RIGHT, :] - joints[..., sk.FACE_HIP_LEFT, :]  # (..., 3) right-to-left hip
    # forward = up x across = (across_z, 0, -across_x); its heading is atan2(forward_x, forward_z)
    return torch.atan2(across[..., 2], -across[..., 0])


def foot_contacts(positions: torch.Tensor) -> torch.Tensor:
    """InterGen's contact rule on floored Y-up positions (..., T, 22, 3) -> (..., T-1, 4) float in {0, 1}.

    A foot joint touches at frame t when its squared displacement to frame t+1 is below
    CONTACT_VEL_THRESHOLD and its height at frame t is below its CONTACT_HEIGHTS entry.
    """
    feet = positions[..., list(sk.FOOT_JOINTS), :]  # (..., T, 4, 3)
    still = (feet[..., 1:, :, :] - feet[..., :-1, :, :]).square().sum(-1) < sk.CONTACT_VEL_THRESHOLD
    low = feet[..., :-1, :, 1] < torch.tensor(sk.CONTACT_HEIGHTS, dtype=feet.dtype, device=feet.device)
    return (still & low).to(positions.dtype)


def pair_to_features(positions: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Canonical features of a pair: positions (2, T, 22, 3) Y-up world, rotations (2, T, 21, 6) local 6D
    -> features (T-1, 2, 262), person 2 expressed in person 1's canonical frame.

    InterGen canonicalises each person on their own and then re-expresses person 2 through the relative
    transform r_rel = q2 * conj(q1) whose angle it reads as atan2(r_rel.y, r_rel.w): that is HALF the yaw
    difference, and rebuilding the quaternion (cos a, 0, sin a, 0) from it gives back r_rel exactly, so the
    result is correct (a quaternion stores half angles). Composing the two transforms is the same as applying
    person 1's horizontal transform (frame-0 root x/z to the origin, turn to face +Z) to person 2 after
    person 2's own floor shift, which is what we do: the floors stay per person (InterGen does not restore
    the y offset), everything horizontal follows person 1.
    """
    if positions.ndim != 4 or positions.shape[0] != 2 or positions.shape[-2:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"positions must be (2, T, {sk.NUM_JOINTS}, 3), got {tuple(positions.shape)}")
    if rotations.shape != (*positions.shape[:2], sk.NUM_ROT_JOINTS, sk.ROT6D_DIM):
        raise ValueError(f"rotations must be (2, T, {sk.NUM_ROT_JOINTS}, {sk.ROT6D_DIM}) matching positions, "
                         f"got {tuple(rotations.shape)}")
    if positions.shape[1] < 2:
        raise ValueError("a motion needs at least 2 frames (velocities use the next frame)")
    # intergen-facts 1.3 step 4b: each person's lowest joint over the whole clip touches y = 0
    floor = positions[..., 1].amin(dim=(1, 2))  # (2,)
    pos = positions - positions.new_tensor(UP) * floor[:, None, None, None]
    # step 4c: person 1's frame-0 root to the origin in x and z
    origin = pos[0, 0, sk.ROOT] * pos.new_tensor([1.0, 0.0, 1.0])
    pos = pos - origin
    # step 4d: turn about +Y so that person 1 faces +Z at frame 0
    turn = quat_to_matrix(yaw_quat(-facing_yaw(pos[0, 0])))  # (3, 3)
    pos = pos @ turn.T
    contacts = foot_contacts(pos)                                      # (2, T-1, 4)      step 4e
    vel = pos[:, 1:] - pos[:, :-1]                                     # (2, T-1, 22, 3)  step 4f
    T1 = vel.shape[1]
    feats = torch.cat([pos[:, :-1].reshape(2, T1, -1), vel.reshape(2, T1, -1),  # step 4g: drop the last frame
                       rotations[:, :-1].reshape(2, T1, -1).to(pos), contacts], dim=-1)
    return feats.transpose(0, 1).contiguous()  # (T-1, 2, 262)


def features_to_joints(features: Array) -> Array:
    """(..., 262) -> joint positions (..., 22, 3); works on torch tensors and numpy arrays."""
    if features.shape[-1] != sk.FEATURE_DIM:
        raise ValueError(f"features must end in {sk.FEATURE_DIM}, got {tuple(features.shape)}")
    return features[..., sk.POS].reshape(*features.shape[:-1], sk.NUM_JOINTS, 3)


# --------------------------------------------------------------------------------------- mirroring
_MIRROR_XYZ = (-1.0, 1.0, 1.0)  # the mirror plane is X = 0 (left is +X when facing +Z)
_ROT_MIRROR_PERM = [sk.MIRROR_PERM[j + 1] - 1 for j in range(sk.NUM_ROT_JOINTS)]  # rotations skip the root
_CONTACT_MIRROR_PERM = [2, 3, 0, 1]  # (l_ankle, l_toe, r_ankle, r_toe) -> (r_ankle, r_toe, l_ankle, l_toe)


def _const(values, like: Array) -> Array:
    if isinstance(like, torch.Tensor):
        return torch.tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def mirror_joints(joints: Array) -> Array:
    """Reflect (..., 22, 3) positions (or displacements) across X = 0 and swap left/right joints."""
    return joints[..., list(sk.MIRROR_PERM), :] * _const(_MIRROR_XYZ, joints)


def mirror_rot6d(rot6d: Array) -> Array:
    """Mirror local 6D rotations (..., 21, 6): R -> M R M (negates 6D components 1, 2, 4), swap sides."""
    return rot6d[..., _ROT_MIRROR_PERM, :] * _const(MIRROR_6D_SIGN, rot6d)


def mirror_features(features: Array) -> Array:
    """Mirror 262-d features (..., 262); equal to the features of the mirrored motion."""
    lead = features.shape[:-1]
    parts = [
        mirror_joints(features[..., sk.POS].reshape(*lead, sk.NUM_JOINTS, 3)).reshape(*lead, -1),
        mirror_joints(features[..., sk.VEL].reshape(*lead, sk.NUM_JOINTS, 3)).reshape(*lead, -1),
        mirror_rot6d(features[..., sk.ROT].reshape(*lead, sk.NUM_ROT_JOINTS, sk.ROT6D_DIM)).reshape(*lead, -1),
        features[..., sk.CONTACT][..., _CONTACT_MIRROR_PERM],
    ]
    return torch.cat(parts, -1) if isinstance(features, torch.Tensor) else np.concatenate(parts, -1)


# Whole-word caption rewriting for mirrored copies. InterGen replaces substrings, which turns "bright" into
# "bleft" and "counterclockwise" into "countercounterclockwise"; we match whole words only.
_WORD_SWAPS = {
    "left": "right", "right": "left",
    "leftward": "rightward", "rightward": "leftward", "leftwards": "rightwards", "rightwards": "leftwards",
    "clockwise": "counterclockwise", "counterclockwise": "clockwise", "counter-clockwise": "clockwise",
    "anticlockwise": "clockwise", "anti-clockwise": "clockwise",
}
# "right" also means "correct" / "immediately"; these idioms keep their word.
_IDIOMS = ("all right", "right away", "right now")
_WORD_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, _WORD_SWAPS), key=len, reverse=True))
                      + r")(?!\w)", re.IGNORECASE)
_IDIOM_RE = re.compile(r"\b(" + "|".join(_IDIOMS) + r")\b", re.IGNORECASE)


def _match_case(word: str, template: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    return word


def mirror_text(text: str) -> str:
    """Swap left/right (and clockwise/counterclockwise) by whole words, keeping each word's case."""
    protected = [m.span() for m in _IDIOM_RE.finditer(text)]

    def swap(m: re.Match) -> str:
        if any(a <= m.start() < b for a, b in protected):
            return m.group(0)
        return _match_case(_WORD_SWAPS[m.group(0).lower()], m.group(0))

    return _WORD_RE.sub(swap, text)


def swap_persons(x: Array, *, person_dim: int = -2) -> Array:
    """Exchange person 1 and person 2 (the `person_dim` axis has size 2): features (..., 2, 262) by default."""
    return x.flip(person_dim) if isinstance(x, torch.Tensor) else np.flip(x, axis=person_dim).copy()


# ------------------------------------------------------------------------ root-relative coordinates
# Where a person stands, apart from their pose: in root-relative features these are the root's ground-plane
# position (x, z) and displacement; guidance treats them apart (pipeline.py, diffusion.SplitGuidance).
PLACEMENT = torch.zeros(sk.FEATURE_DIM, dtype=torch.bool)
PLACEMENT[[sk.POS.start + 3 * sk.ROOT, sk.POS.start + 3 * sk.ROOT + 2,
           sk.VEL.start + 3 * sk.ROOT, sk.VEL.start + 3 * sk.ROOT + 2]] = True


def _root_shift(x: torch.Tensor, sign: float) -> torch.Tensor:
    """Add sign * the root's position / displacement to those of every other joint, in a copy of (..., 262)."""
    y = x.clone()
    for part in (sk.POS, sk.VEL):
        joints = y[..., part].unflatten(-1, (sk.NUM_JOINTS, 3))                  # (..., 22, 3), a view into y
        others = [j for j in range(sk.NUM_JOINTS) if j != sk.ROOT]
        joints[..., others, :] += sign * joints[..., sk.ROOT:sk.ROOT + 1, :]
    return y


def to_root_relative(features: torch.Tensor) -> torch.Tensor:
    """(..., 262) -> (..., 262): positions and displacements of every joint but the root taken relative to the
    root's; rotations and contacts unchanged. Linear and invertible (from_root_relative)."""
    return _root_shift(features, -1.0)


def from_root_relative(features: torch.Tensor) -> torch.Tensor:
    """The inverse of to_root_relative."""
    return _root_shift(features, 1.0)


# ------------------------------------------------------------------------------------- normaliser
class Normalizer:
    """Per-dimension mean/std (262,) shared by both persons (InterGen's MotionNormalizer).

    The model works in normalised space; the statistics travel inside the checkpoint (`state_dict`) or a
    safetensors file (`save` / `load`) so that a model is never paired with the wrong statistics.
    """

    def __init__(self, mean: Array, std: Array):
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != (sk.FEATURE_DIM,) or std.shape != (sk.FEATURE_DIM,):
            raise ValueError(f"normaliser mean and std must be ({sk.FEATURE_DIM},), got {tuple(mean.shape)} "
                             f"and {tuple(std.shape)}")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()) or (std <= 0).any():
            raise ValueError("normaliser statistics must be finite with a positive std")
        self.mean, self.std = mean, std

    @classmethod
    def fit(cls, batches: Iterable[Array]) -> "Normalizer":
        """Statistics over every row of every (..., 262) array in `batches` (pass only valid frames)."""
        count, total, total_sq = 0, torch.zeros(sk.FEATURE_DIM, dtype=torch.float64), None
        for batch in batches:
            x = torch.as_tensor(batch).reshape(-1, sk.FEATURE_DIM).double()
            count += x.shape[0]
            total = total + x.sum(0)
            total_sq = x.square().sum(0) if total_sq is None else total_sq + x.square().sum(0)
        if count < 2:
            raise ValueError("need at least 2 feature frames to compute normaliser statistics")
        mean = total / count
        var = (total_sq / count - mean.square()).clamp_min(0.0) * count / (count - 1)
        return cls(mean.float(), var.sqrt().clamp_min(STD_FLOOR).float())

    def _stats(self, x: Array):
        if isinstance(x, torch.Tensor):
            return self.mean.to(x.device, x.dtype), self.std.to(x.device, x.dtype)
        return self.mean.numpy().astype(x.dtype), self.std.numpy().astype(x.dtype)

    def normalize(self, x: Array) -> Array:
        mean, std = self._stats(x)
        return (x - mean) / std

    def denormalize(self, x: Array) -> Array:
        mean, std = self._stats(x)
        return x * std + mean

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.clone(), "std": self.std.clone()}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Normalizer":
        missing = {"mean", "std"} - set(state)
        if missing:
            raise ValueError(f"normaliser state lacks {sorted(missing)}")
        return cls(state["mean"], state["std"])

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write mean/std to a safetensors file, atomically."""
        from safetensors.torch import save_file

        with atomic_path(path) as tmp:
            save_file(self.state_dict(), str(tmp))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Normalizer":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if not Path(path).is_file():
            raise FileNotFoundError(f"normaliser file {str(path)!r} not found")
        try:
            return cls.from_state_dict(load_file(str(path)))
        except SafetensorError as err:
            raise ValueError(f"normaliser file {str(path)!r} is not a valid safetensors file: {err}") from err

    @classmethod
    def from_intergen_files(cls, mean_path: Union[str, os.PathLike], std_path: Union[str, os.PathLike]) -> "Normalizer":
        """InterGen's released statistics: `global_mean.npy` and `global_std.npy`, one (262,) float32 array each,
        shared by both persons (the same files ship with in2IN, InterMask and InterMoE)."""
        return cls(_read_stats_npy(mean_path, "mean"), _read_stats_npy(std_path, "std"))

    def __repr__(self) -> str:
        return f"Normalizer(dim={sk.FEATURE_DIM}, mean|avg|={self.mean.abs().mean():.4f}, std avg={self.std.mean():.4f})"


INTERGEN_MEAN_FILE, INTERGEN_STD_FILE = "global_mean.npy", "global_std.npy"   # InterGen's data/ folder


def _read_stats_npy(path: Union[str, os.PathLike], what: str) -> np.ndarray:
    """One (262,) statistics vector from a .npy file: never unpickled, checked before use."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"normaliser {what} file {str(path)!r} not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:   # an object array (pickle), or not a .npy file
        raise ValueError(f"{path} is not a plain numeric .npy array ({str(err).splitlines()[0]})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{path} must hold floating-point numbers, got dtype {getattr(array, 'dtype', type(array))}")
    if array.shape != (sk.FEATURE_DIM,):
        raise ValueError(f"{path} must hold {sk.FEATURE_DIM} values (InterGen's per-person feature {what}), "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all() or (what == "std" and (array <= 0).any()):
        raise ValueError(f"{path} holds non-finite values" + (" or a std <= 0" if what == "std" else ""))
    return array.astype(np.float32)


def load_normalizer(path: Union[str, os.PathLike]) -> Normalizer:
    """A normaliser from disk: a folder with InterGen's global_mean.npy + global_std.npy, or our .safetensors."""
    path = Path(path)
    if path.is_dir():
        mean, std = path / INTERGEN_MEAN_FILE, path / INTERGEN_STD_FILE
        if not (mean.is_file() and std.is_file()):
            raise FileNotFoundError(f"{path} lacks {INTERGEN_MEAN_FILE} and {INTERGEN_STD_FILE} (InterGen's "
                                    "statistics, from its data/ folder)")
        return Normalizer.from_intergen_files(mean, std)
    if path.suffix != ".safetensors":
        raise ValueError(f"normaliser {str(path)!r}: give a folder holding {INTERGEN_MEAN_FILE} and "
                         f"{INTERGEN_STD_FILE}, or a normaliser .safetensors file")
    return Normalizer.load(path)
