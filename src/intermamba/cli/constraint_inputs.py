"""Constraint inputs of `intermamba generate` (files and flags) -> constraints.FeatureConstraint."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..constraints import ConstraintError, check_person, reaction
from .errors import CLIError


def read_constraint(args):
    """--partner (and --partner-index) as a FeatureConstraint, or None; bad input is a one-line CLIError."""
    if args.partner is None:
        if args.partner_index is not None:
            raise CLIError("--partner-index needs --partner FILE")
        return None
    try:
        return reaction(load_person(args.partner, args.partner_index), slot=args.partner_index or 0)
    except ConstraintError as err:
        raise CLIError(str(err)) from None


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
