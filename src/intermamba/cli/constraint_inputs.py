"""Constraint inputs of `intermamba generate` (files and flags) -> constraints.FeatureConstraint."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..constraints import ConstraintError, check_person, continuation, keyframes, reaction, trajectory
from ..skeleton import FPS
from .errors import CLIError


def read_timeline(args, *, files: bool = True) -> Optional[list[tuple[str, int]]]:
    """--timeline 'text@a-b; text@b-c' (seconds) or a file of such lines (files=False: text only, as for a web
    request, which must not name files on the server) as [(text, frames)], or None."""
    if args.timeline is None:
        return None
    if args.texts or args.prompts:
        raise CLIError("--timeline holds the prompts; give no TEXT or --prompts with it")
    if args.frames is not None or args.seconds is not None:
        raise CLIError("--timeline sets the length (its last segment's end); drop --frames/--seconds")
    if args.num_samples != 1:
        raise CLIError("--timeline makes one motion per run; drop --num-samples (use another --seed for another)")
    spec = args.timeline
    if files and Path(spec).is_file():
        try:
            spec = ";".join(Path(spec).read_text(encoding="utf-8").splitlines())
        except UnicodeDecodeError:
            raise CLIError(f"--timeline {args.timeline}: not a UTF-8 text file") from None
    segments, end = [], 0.0
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        text, at, span = part.rpartition("@")
        start, dash, stop = span.partition("-")
        try:
            start, stop = float(start), float(stop)
        except ValueError:
            start = stop = math.nan
        if not (at and dash and text.strip()) or not (math.isfinite(start) and math.isfinite(stop)):
            raise CLIError(f"--timeline segment {part!r}: write 'text@START-END' in seconds, e.g. 'two people hug@0-4'")
        if abs(start - end) > 1e-6 or stop <= start:
            raise CLIError(f"--timeline segment {part!r}: segments must follow each other from 0 s without gaps "
                           f"(this one should start at {end:g} s and end after it)")
        frames = round(stop * FPS) - round(start * FPS)
        if frames < 1:
            raise CLIError(f"--timeline segment {part!r} is shorter than one frame at {FPS} fps")
        segments.append((text.strip(), frames))
        end = stop
    if not segments:
        raise CLIError("--timeline holds no segment; write 'text@0-4; text@4-12'")
    return segments


def read_constraint(args, frames: Optional[int], default_frames: int):
    """The control flag of `generate` as (FeatureConstraint, flag name), or (None, None); `frames` is the asked
    length (None: the control's own, or `default_frames`). Bad input is a one-line CLIError."""
    if args.partner_index is not None and args.partner is None:
        raise CLIError("--partner-index needs --partner FILE")
    try:
        if args.partner is not None:
            return reaction(load_person(args.partner, args.partner_index), slot=args.partner_index or 0), "--partner"
        if args.keyframes is not None:
            data = _load(args.keyframes, ".npz", "--keyframes")
            missing = {"frames", "joints"} - set(data)
            if missing:
                raise ConstraintError(f"--keyframes {args.keyframes}: lacks {', '.join(sorted(missing))}; give "
                                      "'frames' (K,) and 'joints' (K, 2, 22, 3) or (K, 22, 3)")
            person = data.get("person")
            if person is not None and person.size != 1:
                raise ConstraintError(f"--keyframes {args.keyframes}: 'person' must be one number, 0 or 1")
            person = None if person is None else int(person.reshape(()))
            return keyframes(data["frames"], data["joints"], frames or default_frames, person), "--keyframes"
        if args.start_from is not None:
            return continuation(_load(args.start_from, ".npy", "--start-from"), frames or default_frames), \
                "--start-from"
        if args.trajectory is not None:
            path = _load(args.trajectory, ".npy", "--trajectory")
            return trajectory(path, frames or (path.shape[0] if path.ndim else 0)), "--trajectory"
    except ConstraintError as err:
        raise CLIError(str(err)) from None
    return None, None


def _load(path: str, suffix: str, flag: str):
    """A plain (never unpickled) numeric .npy array, or the arrays of an .npz archive as a dict."""
    if not Path(path).is_file():
        raise ConstraintError(f"{flag} {path}: file not found")
    if Path(path).suffix.lower() != suffix:
        raise ConstraintError(f"{flag} {path}: expected a {suffix} file")
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {key: data[key] for key in data.files} if suffix == ".npz" else {"": data}
    except (ValueError, OSError, EOFError, KeyError):
        raise ConstraintError(f"{flag} {path}: not a plain numeric {suffix} file") from None
    for key, array in arrays.items():
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
            raise ConstraintError(f"{flag} {path}{f' {key!r}' if key else ''}: must hold numbers")
    return arrays if suffix == ".npz" else data


def load_person(path: Union[str, Path], index: Optional[int] = None) -> np.ndarray:
    """One person's joints (T, 22, 3) from a .bvh, a joints .npy (T, 22, 3), or a pair .npy (2, T, 22, 3) whose
    person `index` (0 or 1; required for a pair, unused otherwise) is taken."""
    path = Path(path)
    if not path.is_file():
        raise ConstraintError(f"{path}: file not found")
    if path.suffix.lower() == ".bvh":
        from ..data.bvh import read_bvh_joints

        try:
            return check_person(read_bvh_joints(path), str(path))
        except ConstraintError:
            raise
        except ValueError as err:                                    # BVHError
            raise ConstraintError(str(err)) from None
    if path.suffix.lower() != ".npy":
        raise ConstraintError(f"{path}: give a .bvh or a joints .npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise ConstraintError(f"{path}: not a plain numeric .npy array") from None
    if array.ndim == 4 and array.shape[0] == 2:
        if index is None:
            raise ConstraintError(f"{path} holds two persons; choose one with --partner-index 0 or 1")
        if index not in (0, 1):
            raise ConstraintError(f"--partner-index must be 0 or 1, got {index}")
        array = array[index]
    if not np.issubdtype(array.dtype, np.number):
        raise ConstraintError(f"{path}: must hold numbers, got dtype {array.dtype}")
    return check_person(array, str(path))
