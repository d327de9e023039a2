"""The user's own SMPL / SMPL-X body model (.npz, never shipped), posed by linear blend skinning.

    body = load_smpl_body("models/")                          # a folder with SMPL_NEUTRAL.npz, or the file itself
    verts = body.mesh(local, root)                            # our pose (T, 22, 3, 3), (T, 3) -> (T, V, 3), Y up
    body.faces                                                # (F, 3) int

Files are read with `np.load(allow_pickle=False)`: the official .pkl files are pickles, which can run code
when loaded, so they are refused with a line saying how to convert them once, in a trusted environment. The
arrays used are those of SMPL's own files (Loper et al. 2015):

    v_template    (V, 3)         the mean shape in the rest pose (Y up, facing +Z, as our skeleton)
    shapedirs     (V, 3, B)      shape blend shapes (our betas are zero: only checked)
    posedirs      (V, 3, 9(J-1)) or (9(J-1), 3V): pose blend shapes, driven by (R - I) of joints 1..J-1
    J_regressor   (J, V)         dense: joint locations from the vertices
    weights       (V, J)         skinning weights
    kintree_table (2, J)         row 0: each joint's parent
    f             (F, 3)         triangles

SMPL has J = 24 joints, SMPL-X 55; both start with our 22 body joints in our order (checked against the
kintree), so a pose is ours on those and the rest (hands, jaw, eyes) stay at rest. Expression blend shapes
of SMPL-X are not used (a neutral face).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from .skeleton import NUM_JOINTS, PARENTS
from .smpl import Y_UP_TO_Z_UP, pose_to_smpl

_CHUNK = 16                     # frames skinned at once: bounds the memory of the blended rotations
GENDERS = ("neutral", "female", "male")
# file names looked for in a folder, in this order (as the SMPL / SMPL-X downloads and the smplx package name them)
_FILE_PATTERNS = ("SMPL_{G}.npz", "smpl/SMPL_{G}.npz", "SMPLX_{G}.npz", "smplx/SMPLX_{G}.npz")
_CONVERT = ("convert it once to .npz in an environment you trust: load it there (first stripping chumpy with the "
            "smplx package's tools/clean_ch.py if it needs chumpy) and save its arrays with np.savez, J_regressor "
            "as a dense array")


class SMPLModelError(ValueError):
    """A model file or folder that cannot be used; the message is one line saying what to do."""


@dataclass
class SMPLBody:
    """A body model's arrays, float64, ready to pose (shapes in the module docstring)."""

    v_template: np.ndarray    # (V, 3)
    posedirs: np.ndarray      # (9 (J - 1), 3 V)
    J_regressor: np.ndarray   # (J, V)
    weights: np.ndarray       # (V, J)
    parents: np.ndarray       # (J,) int, parents[0] = -1
    faces: np.ndarray         # (F, 3) int32
    path: Path

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def rest_joints(self) -> np.ndarray:
        """(J, 3) the model's joints in its rest pose (betas zero)."""
        return self.J_regressor @ self.v_template

    def pose(self, poses, trans) -> np.ndarray:
        """Vertices (T, V, 3) of SMPL parameters as any SMPL tool poses them: poses (T, 3 K) axis-angle of the
        first K joints (the rest at rest), trans (T, 3); the pelvis lands at trans + rest_joints[0]."""
        poses = np.asarray(poses, dtype=np.float64)
        T = poses.shape[0]
        aa = np.zeros((T, self.num_joints, 3))
        k = min(poses.shape[1] // 3, self.num_joints)
        aa[:, :k] = poses[:, :3 * k].reshape(T, k, 3)
        R = _axis_angle_to_matrix(aa)                                                  # (T, J, 3, 3)
        J = self.rest_joints                                                           # (J, 3)
        # pose blend shapes: the rest shape corrected by (R - I) of every joint but the root
        blend = (R[:, 1:] - np.eye(3)).reshape(T, -1) @ self.posedirs                  # (T, 3 V)
        v = self.v_template + blend.reshape(T, -1, 3)                                  # (T, V, 3)
        # forward kinematics of rigid transforms G_j = G_parent [R_j | J_j - J_parent]
        G_rot, G_pos = np.empty_like(R), np.empty((T, self.num_joints, 3))
        G_rot[:, 0], G_pos[:, 0] = R[:, 0], J[0]
        for j in range(1, self.num_joints):
            p = self.parents[j]
            G_rot[:, j] = G_rot[:, p] @ R[:, j]
            G_pos[:, j] = G_pos[:, p] + G_rot[:, p] @ (J[j] - J[p])
        # skinning: each vertex moves by its weighted joints' transforms, relative to their rest places
        b = self.weights @ (G_pos - np.einsum("tjab,jb->tja", G_rot, J))                # (T, V, 3)
        b += np.asarray(trans, dtype=np.float64)[:, None]
        for t in range(0, T, _CHUNK):                    # (chunk, V, 3, 3) blended rotations at a time
            A = np.einsum("vj,tjab->tvab", self.weights, G_rot[t:t + _CHUNK])
            b[t:t + _CHUNK] += np.einsum("tvab,tvb->tva", A, v[t:t + _CHUNK])
        return b

    def mesh(self, local, root) -> np.ndarray:
        """Vertices (T, V, 3) in our Y-up world of one person's pose (local (T, 22, 3, 3) parent-relative
        rotations, root (T, 3) the pelvis), through the SMPL parameters `smpl.pose_to_smpl` writes, with the
        model's pelvis placed on our pelvis (its rest offset rest_joints[0] taken off)."""
        params = pose_to_smpl(local, root)
        # the root's transform is [R_0 | J_0] with J_0 not turned: the pelvis is at trans + J_0 in the Z-up world
        z_up = self.pose(params["poses"], params["trans"]) - self.rest_joints[0]
        return z_up @ Y_UP_TO_Z_UP                                                     # Z up -> Y up


def _axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) axis-angle -> (..., 3, 3)."""
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)[..., None]                      # (..., 1, 1)
    k = aa / np.maximum(angle[..., 0], 1e-12)
    K = np.zeros(aa.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(angle) * K + (1.0 - np.cos(angle)) * (K @ K)


def find_model_file(path: Union[str, Path], gender: str = "neutral") -> Path:
    """The model file of `path`: the file itself, or in a folder the first of _FILE_PATTERNS for `gender`."""
    path = Path(path)
    if gender not in GENDERS:
        raise SMPLModelError(f"unknown SMPL gender {gender!r}; choose from {', '.join(GENDERS)}")
    if path.is_dir():
        names = [p.format(G=gender.upper()) for p in _FILE_PATTERNS]
        for name in names:
            if (path / name).is_file():
                return path / name
        pickles = [name[:-4] + ".pkl" for name in names if (path / (name[:-4] + ".pkl")).is_file()]
        if pickles:
            raise SMPLModelError(f"{path / pickles[0]} is a pickle, which is never loaded here; {_CONVERT}")
        raise SMPLModelError(f"no {gender} SMPL model in {path}: expected one of {', '.join(names)}")
    if not path.exists():
        raise SMPLModelError(f"SMPL model {str(path)!r} not found; give the folder holding SMPL_NEUTRAL.npz "
                             "or the .npz file")
    if path.suffix.lower() == ".pkl":
        raise SMPLModelError(f"{path} is a pickle, which is never loaded here; {_CONVERT}")
    if path.suffix.lower() != ".npz":
        raise SMPLModelError(f"{path} is not an SMPL / SMPL-X .npz model file")
    return path


def load_smpl_body(path: Union[str, Path], gender: str = "neutral") -> SMPLBody:
    """Read and check an SMPL or SMPL-X .npz model (a file or a folder, see find_model_file); never unpickles.
    Raises SMPLModelError (a ValueError) with one line naming the problem."""
    path = find_model_file(path, gender)
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:        # not a zip, truncated, ...
        raise SMPLModelError(f"{path} is not a readable .npz file ({err.__class__.__name__})") from None
    with archive:
        arrays = {key: _read(archive, path, key)
                  for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    return _checked(arrays, path)


def _read(archive, path: Path, key: str) -> np.ndarray:
    if key not in archive.files:
        raise SMPLModelError(f"{path} has no {key!r} array; it is not an SMPL / SMPL-X model file")
    try:
        arr = archive[key]
    except ValueError:              # numpy refuses object arrays without pickle
        hint = " (a scipy sparse matrix: save J_regressor.toarray())" if key == "J_regressor" else ""
        raise SMPLModelError(f"{path}: {key!r} is stored as a pickled object{hint}, which is never loaded here; "
                             f"{_CONVERT}") from None
    if arr.dtype.kind not in "fiu":
        raise SMPLModelError(f"{path}: {key!r} holds {arr.dtype} values, not numbers")
    return arr


def _checked(a: dict, path: Path) -> SMPLBody:
    def bad(what: str) -> SMPLModelError:
        return SMPLModelError(f"{path}: {what}; it is not a usable SMPL / SMPL-X model file")

    v = a["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 1:
        raise bad(f"v_template must be (V, 3), got {v.shape}")
    V = v.shape[0]
    kintree = a["kintree_table"]
    if kintree.ndim != 2 or kintree.shape[0] != 2 or kintree.shape[1] < NUM_JOINTS:
        raise bad(f"kintree_table must be (2, J) with J >= {NUM_JOINTS}, got {kintree.shape}")
    J = kintree.shape[1]
    parents = kintree[0].astype(np.int64)
    parents[0] = -1                                      # the root's entry is -1 or 2**32 - 1
    if tuple(parents[:NUM_JOINTS].tolist()) != PARENTS:
        raise bad(f"the first {NUM_JOINTS} joints' parents are not SMPL's body joints")
    if (parents[1:] < 0).any() or (parents[1:] >= np.arange(1, J)).any():
        raise bad("kintree_table has a joint whose parent does not come before it")
    shapes = {"shapedirs": a["shapedirs"].shape[:2] == (V, 3) and a["shapedirs"].ndim == 3,
              "J_regressor": a["J_regressor"].shape == (J, V), "weights": a["weights"].shape == (V, J),
              "f": a["f"].ndim == 2 and a["f"].shape[1] == 3 and a["f"].shape[0] >= 1}
    wrong = [k for k, ok in shapes.items() if not ok]
    if wrong:
        expected = {"shapedirs": "(V, 3, B)", "J_regressor": "(J, V)", "weights": "(V, J)", "f": "(F, 3)"}
        k = wrong[0]
        raise bad(f"{k} must be {expected[k]} with V = {V}, J = {J}, got {a[k].shape}")
    P = 9 * (J - 1)
    posedirs = a["posedirs"]
    if posedirs.shape == (V, 3, P):                      # as SMPL stores it
        posedirs = posedirs.reshape(3 * V, P).T
    elif posedirs.shape != (P, 3 * V):                   # as the smplx package keeps it
        raise bad(f"posedirs must be (V, 3, {P}) or ({P}, 3 V) with V = {V}, got {posedirs.shape}")
    faces = a["f"].astype(np.int64)
    if faces.min() < 0 or faces.max() >= V:
        raise bad(f"f refers to vertices outside 0..{V - 1}")
    arrays = [np.asarray(x, dtype=np.float64) for x in (v, posedirs, a["J_regressor"], a["weights"])]
    if not all(np.isfinite(x).all() for x in arrays):
        raise bad("it holds NaN or infinite values")
    return SMPLBody(*arrays, parents=parents, faces=faces.astype(np.int32), path=path)
