"""Writing results: npy arrays, videos, BVH and SMPL parameters (one file per person), an animated glTF
binary with both people as bodies, and a JSON record per sample.

Every file is written atomically and every target is checked before anything is generated, so a run that
fails leaves no half-written output behind. File names derive from the prompt (`safe_stem`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .fileio import atomic_path, atomic_write_text
from .skeleton import FEATURE_DIM, FPS, NUM_JOINTS

FORMATS = ("mp4", "gif", "npy", "bvh", "glb", "smpl", "json")
DEFAULT_FORMATS = ("mp4", "npy", "json")
RIG_FORMATS = ("bvh", "glb", "smpl")   # motion on a rigged skeleton: what `intermamba export --to` converts to
STEM_CHARS = 48  # InterGen names results after the first 48 characters of the prompt


def parse_formats(text: Union[str, Sequence[str]]) -> list[str]:
    names = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    unknown = [f for f in names if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if not names:
        raise ValueError(f"no output format given; choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def safe_stem(text: str, max_chars: int = STEM_CHARS) -> str:
    """A file-name stem from a prompt: lower-case words joined by '_', only [a-z0-9_-], never empty."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    stem = "_".join(words)[:max_chars].strip("_")
    return stem or "motion"


def output_files(stem: str, formats: Sequence[str], *, smpl_video: bool = False) -> list[str]:
    """The file names one sample produces for `formats` (and its SMPL mesh video `<stem>_smpl.mp4`)."""
    names = {"mp4": [f"{stem}.mp4"], "gif": [f"{stem}.gif"], "json": [f"{stem}.json"],
             "npy": [f"{stem}_joints.npy", f"{stem}_features.npy"], "bvh": [f"{stem}_p1.bvh", f"{stem}_p2.bvh"],
             "glb": [f"{stem}.glb"], "smpl": [f"{stem}_p1_smpl.npz", f"{stem}_p2_smpl.npz"]}
    return [n for f in formats for n in names[f]] + ([smpl_video_name(stem)] if smpl_video else [])


def smpl_video_name(stem: str) -> str:
    return f"{stem}_smpl.mp4"


def sample_stem(path: Union[str, Path]) -> str:
    """The sample's stem of a result file: `x_features.npy` and `x_joints.npy` -> `x` (see output_files)."""
    stem = Path(path).stem
    for suffix in ("_features", "_joints"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def save_npy(path: Union[str, Path], array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, np.asarray(array, dtype=np.float32))


def load_motion_npy(path: Union[str, Path]) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Read a result or dataset item: returns (joints (2, T, 22, 3), features (T, 2, 262) or None).

    Accepts joints (2, T, 22, 3), joints (T, 2, 22, 3), features (T, 2, 262), features (T, 524) or a single
    person's (T, 262) / (T, 22, 3) (then the pair holds that person only).
    """
    from .motion import features_to_joints

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"file {str(path)!r} not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises several types for foreign files
        raise ValueError(f"{str(path)!r} is not a readable .npy array ({err.__class__.__name__})") from err
    arr = np.asarray(arr, dtype=np.float32)
    shape = arr.shape
    if arr.ndim == 4 and shape[0] == 2 and shape[2:] == (NUM_JOINTS, 3):
        return arr, None
    if arr.ndim == 4 and shape[1] == 2 and shape[2:] == (NUM_JOINTS, 3):
        return arr.transpose(1, 0, 2, 3).copy(), None
    if arr.ndim == 2 and shape[1] == 2 * FEATURE_DIM:
        arr = arr.reshape(shape[0], 2, FEATURE_DIM)
    if arr.ndim == 3 and shape[1:] == (2, FEATURE_DIM):
        return features_to_joints(arr).transpose(1, 0, 2, 3).copy(), arr
    if arr.ndim == 2 and shape[1] == FEATURE_DIM:
        return features_to_joints(arr)[None], arr[:, None]
    if arr.ndim == 3 and shape[1:] == (NUM_JOINTS, 3):
        return arr[None], None
    raise ValueError(f"{str(path)!r} has shape {shape}; expected joints (2, T, 22, 3) or features (T, 2, 262)")


def write_bvh_files(stem_path: Union[str, Path], joints: np.ndarray, features: Optional[np.ndarray] = None,
                    fps: int = FPS) -> list[Path]:
    """One BVH per person in the shared world frame: `<stem>_p1.bvh`, `<stem>_p2.bvh`."""
    from .data.bvh import write_pair_bvh

    return write_pair_bvh(stem_path, joints, features=features, fps=fps)


def write_glb_file(path: Union[str, Path], joints: np.ndarray, features: Optional[np.ndarray] = None,
                   fps: int = FPS) -> Path:
    """Both people as animated bodies in one glTF binary (`gltf.write_glb`), posed like the BVH export."""
    from .data.bvh import fit_poses
    from .gltf import write_glb

    return write_glb(path, fit_poses(joints, features=features), fps)


def write_smpl_files(stem_path: Union[str, Path], joints: np.ndarray, features: Optional[np.ndarray] = None,
                     fps: int = FPS) -> list[Path]:
    """One AMASS-style SMPL parameter file per person (`smpl.write_smpl_npz`): `<stem>_p1_smpl.npz`, ..."""
    from .data.bvh import fit_poses
    from .smpl import write_smpl_npz

    stem_path = Path(stem_path)
    poses = fit_poses(joints, features=features)
    return [write_smpl_npz(stem_path.parent / f"{stem_path.name}_p{k + 1}_smpl.npz", pose.local, pose.root, fps)
            for k, pose in enumerate(poses)]


def write_smpl_video(path: Union[str, Path], body, joints: np.ndarray, features: Optional[np.ndarray] = None,
                     title: Optional[str] = None, fps: int = FPS, progress: bool = False) -> Path:
    """A video of both people as the user's SMPL / SMPL-X body (`smpl_body.SMPLBody`), posed with the
    rotations of the SMPL export, each pelvis on the sample's pelvis."""
    from .data.bvh import fit_poses
    from .render import render_video

    vertices = np.stack([body.mesh(pose.local, pose.root) for pose in fit_poses(joints, features=features)])
    return render_video(joints, path, title=title, fps=fps, progress=progress,
                        meshes=(vertices.astype(np.float32), body.faces))


def write_rig_files(stem_path: Union[str, Path], fmt: str, joints: np.ndarray,
                    features: Optional[np.ndarray] = None, fps: int = FPS) -> list[Path]:
    """Write one of RIG_FORMATS for a sample whose files are named `<stem_path>...` (see output_files)."""
    stem_path = Path(stem_path)
    if fmt == "bvh":
        return write_bvh_files(stem_path, joints, features, fps=fps)
    if fmt == "glb":
        return [write_glb_file(stem_path.parent / f"{stem_path.name}.glb", joints, features, fps=fps)]
    if fmt == "smpl":
        return write_smpl_files(stem_path, joints, features, fps=fps)
    raise ValueError(f"unknown rig format {fmt!r}; choose from {', '.join(RIG_FORMATS)}")


def write_sample(sample, out_dir: Union[str, Path], stem: str, formats: Sequence[str], *,
                 record: Optional[dict] = None, smpl_body=None) -> list[Path]:
    """Write one pipeline `Sample` in each format, and with an `smpl_body` (smpl_body.SMPLBody) its SMPL mesh
    video `<stem>_smpl.mp4`; returns the written paths."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for fmt in formats:
        if fmt == "npy":
            save_npy(out_dir / f"{stem}_joints.npy", sample.joints)
            save_npy(out_dir / f"{stem}_features.npy", sample.features)
            written += [out_dir / f"{stem}_joints.npy", out_dir / f"{stem}_features.npy"]
        elif fmt in ("mp4", "gif"):
            from .render import render_video

            render_video(sample.joints, out_dir / f"{stem}.{fmt}", title=sample.text, fps=sample.fps)
            written.append(out_dir / f"{stem}.{fmt}")
        elif fmt in RIG_FORMATS:
            written += write_rig_files(out_dir / stem, fmt, sample.joints, sample.features, fps=sample.fps)
        elif fmt == "json":
            info = {"text": sample.text, "seed": sample.seed, "frames": sample.frames, "fps": sample.fps,
                    "seconds": sample.frames / sample.fps,
                    "files": output_files(stem, formats, smpl_video=smpl_body is not None)}
            info.update(record or {})
            atomic_write_text(out_dir / f"{stem}.json", json.dumps(info, indent=2) + "\n")
            written.append(out_dir / f"{stem}.json")
    if smpl_body is not None:
        written.append(write_smpl_video(out_dir / smpl_video_name(stem), smpl_body, sample.joints, sample.features,
                                        title=sample.text, fps=sample.fps))
    return written
