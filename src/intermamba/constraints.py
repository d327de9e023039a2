"""User constraints as known feature values: what the sampler holds fixed while it generates the rest.

The sampler (diffusion.Constraint) knows only values and a mask; this module turns motion inputs into them,
in InterGen's canonical 262-d features (motion.py), and maps results back to the input's world frame:

    person = read_bvh_joints("18_01.bvh")                   # (T, 22, 3) metres, Y up (data/bvh.py)
    c = reaction(person, slot=0)                            # FeatureConstraint: values, mask (T-1, 2, 262)
    samples = pipe.generate(text, frames=c.frames, constraint=c)   # joints come back in the input's world

Reaction: the given person's positions, velocities and local rotations are known (rotations recomputed from
the joints by inverse kinematics, as the BVH dataset does); their foot contacts and the whole other person are free. The canonical
frame is the GIVEN person's own (floor at y = 0, frame-0 pelvis at the origin, facing +Z), whichever slot they
take: training swaps the persons after canonicalising (data/dataset.py), so either person at the origin is a
layout the model has seen, and the given person's features are exactly those the training data would hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from . import skeleton as sk
from .gait import clean_path
from .motion import UP, facing_yaw, pair_to_features
from .rotations import matrix_to_rot6d, positions_to_local_rotations, quat_to_matrix, yaw_quat

# A person's standing height spans roughly this many metres; outside it the file is in other units.
HEIGHT_RANGE_M = (0.8, 2.6)


class ConstraintError(ValueError):
    """A constraint input that cannot be used (wrong shape, units, length, NaN)."""


@dataclass
class WorldFrame:
    """Where the canonical frame lies in the input's world: the reference person's frame-0 pelvis and heading,
    and each person's floor (pair_to_features floors each person on their own)."""

    floors: tuple[float, float]   # per person, the height (m) that became y = 0
    origin: np.ndarray            # (3,) the reference's frame-0 pelvis on the floor, (x, 0, z)
    yaw: float                    # the reference's heading at frame 0 (radians about +Y, 0 = +Z)

    @classmethod
    def of(cls, reference: np.ndarray, floors: Optional[tuple[float, float]] = None) -> "WorldFrame":
        """The frame pair_to_features puts `reference` (T, 22, 3) in as person 1 (floors: its own for both)."""
        p = torch.as_tensor(reference, dtype=torch.float64)
        floor = float(p[..., 1].min())
        origin = p[0, sk.ROOT].numpy() * np.array([1.0, 0.0, 1.0])
        return cls(floors or (floor, floor), origin, float(facing_yaw(p[0])))

    def _turn(self) -> np.ndarray:
        return quat_to_matrix(yaw_quat(torch.tensor(-self.yaw, dtype=torch.float64))).numpy()   # world -> canonical

    def _lift(self, pair: np.ndarray) -> np.ndarray:
        """Each person's floor as a (P, 1, ..., 3) offset for positions (P, ..., 3) of P = 2 persons (or 1:
        person 1)."""
        floors = np.asarray(self.floors)[:pair.shape[0]]
        return floors.reshape(-1, *([1] * (pair.ndim - 1))) * np.asarray(UP)

    def to_world(self, pair: np.ndarray) -> np.ndarray:
        """Canonical positions of both persons (2, ..., 3) -> the input's world frame."""
        return (pair @ self._turn() + self.origin + self._lift(pair)).astype(np.float32)

    def to_canonical(self, pair: np.ndarray) -> np.ndarray:
        """World positions of both persons (2, ..., 3) -> canonical."""
        return ((pair - self.origin - self._lift(pair)) @ self._turn().T).astype(np.float32)


@dataclass
class FeatureConstraint:
    """Known denormalised features: `values` where `mask` is True, (T, 2, 262) each; `frame` maps results back.
    `guide`, optional, corrects each step's denormalised x0 estimate (T', 2, 262) torch, T' <= T, before the
    known values are put in (diffusion.Constraint.guide). `cleanup`, optional: the clean-up `generate` may run
    under this constraint, one that keeps every known value (joints (2, T', 22, 3) in the canonical frame, in
    and out); without one the joints come back raw."""

    values: np.ndarray        # (T, 2, 262) float32
    mask: np.ndarray          # (T, 2, 262) bool
    frame: WorldFrame
    guide: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    cleanup: Optional[Callable[[np.ndarray], np.ndarray]] = None
    reference: int = 0        # the person whose frame-0 pelvis and heading the canonical frame is

    @property
    def frames(self) -> int:
        return self.values.shape[0]

    def crop(self, frames: int) -> "FeatureConstraint":
        """The first `frames` frames (a shorter request); longer than the constraint is an error."""
        if frames > self.frames:
            raise ConstraintError(f"the constraint covers {self.frames} frames; ask for at most that many "
                                  f"(got {frames})")
        return FeatureConstraint(self.values[:frames], self.mask[:frames], self.frame, self.guide, self.cleanup,
                                 self.reference)

    def swapped(self) -> "FeatureConstraint":
        """The same constraint with the two persons exchanged (for a model that always has its reference in slot
        0: the caller swaps the samples back before `frame` maps them to the world)."""
        guide = None if self.guide is None else (lambda f, g=self.guide: g(f.flip(1)).flip(1))
        cleanup = None if self.cleanup is None else (lambda j, c=self.cleanup: c(j[::-1])[::-1])
        return FeatureConstraint(self.values[:, ::-1].copy(), self.mask[:, ::-1].copy(), self.frame, guide, cleanup,
                                 1 - self.reference)


# ------------------------------------------------------------------------------------------------ inputs
def check_person(joints, name: str, min_frames: int = 2) -> np.ndarray:
    """One person's joints (T, 22, 3) in metres, finite, at least `min_frames` frames."""
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[1:] != (sk.NUM_JOINTS, 3):
        raise ConstraintError(f"{name}: expected one person's joints (T, {sk.NUM_JOINTS}, 3), got shape "
                              f"{joints.shape}")
    if joints.shape[0] < min_frames:
        raise ConstraintError(f"{name}: a motion needs at least {min_frames} frames, got {joints.shape[0]}")
    if not np.isfinite(joints).all():
        raise ConstraintError(f"{name}: holds NaN or infinite values; give finite joint positions")
    height = float(np.median(joints[..., 1].max(-1) - joints[..., 1].min(-1)))
    if not HEIGHT_RANGE_M[0] <= height <= HEIGHT_RANGE_M[1]:
        raise ConstraintError(f"{name}: the person is {height:.3g} units tall; joints must be in metres with Y up "
                              f"(a person stands {HEIGHT_RANGE_M[0]}-{HEIGHT_RANGE_M[1]} m)")
    return joints


# ------------------------------------------------------------------------------------------- constraints
KNOWN_MOTION = np.zeros(sk.FEATURE_DIM, bool)
KNOWN_MOTION[sk.POS] = KNOWN_MOTION[sk.VEL] = KNOWN_MOTION[sk.ROT] = True      # all but the foot contacts


def _features(pair: np.ndarray) -> np.ndarray:
    """Canonical features (T-1, 2, 262) of world joints (2, T, 22, 3), rotations by inverse kinematics."""
    pos = torch.from_numpy(np.ascontiguousarray(pair, dtype=np.float32))
    rot = matrix_to_rot6d(positions_to_local_rotations(pos)[..., 1:, :, :])           # (2, T, 21, 6)
    return pair_to_features(pos, rot).numpy()


def reaction(person: np.ndarray, slot: int = 0, frames: Optional[int] = None) -> FeatureConstraint:
    """Hold `person` (T, 22, 3) world joints as person `slot` (0 or 1); the other person is free.

    The result covers T - 1 feature frames (the representation drops the last frame), or the first `frames`.
    """
    if slot not in (0, 1):
        raise ConstraintError(f"the given person's slot must be 0 or 1, got {slot}")
    person = check_person(person, "the given person")
    if frames is not None and frames > person.shape[0] - 1:
        raise ConstraintError(f"the given motion has {person.shape[0]} frames, enough for {person.shape[0] - 1}; "
                              f"ask for at most {person.shape[0] - 1} frames (got {frames})")
    own = _features(np.stack([person, person]))[:, 0]                                  # (T-1, 262) canonical
    values = np.zeros((own.shape[0], 2, sk.FEATURE_DIM), np.float32)
    mask = np.zeros(values.shape, bool)
    values[:, slot] = own
    mask[:, slot] = KNOWN_MOTION
    c = FeatureConstraint(values, mask, WorldFrame.of(person), reference=slot)
    return c if frames is None else c.crop(frames)


def joint_error(joints: np.ndarray, target: np.ndarray) -> float:
    """Largest per-joint distance (m) between (..., 22, 3) arrays."""
    return float(np.linalg.norm(np.asarray(joints) - np.asarray(target), axis=-1).max())


def pair_features(pair: np.ndarray) -> np.ndarray:
    """Canonical features (T, 2, 262) of world joints (2, T, 22, 3): the last frame repeated so that none is lost
    (its velocity is then zero)."""
    pair = np.asarray(pair, dtype=np.float32)
    return _features(np.concatenate([pair, pair[:, -1:]], axis=1))


def continuation(pair: np.ndarray, frames: int) -> FeatureConstraint:
    """Continue a motion: the first T - 1 of `frames` frames are `pair` (2, T, 22, 3) world joints (both persons'
    positions, velocities, rotations), the rest is generated. The canonical frame is the pair's own."""
    pair = np.asarray(pair, dtype=np.float32)
    if pair.ndim != 4 or pair.shape[0] != 2:
        raise ConstraintError(f"the motion to continue must be a pair's joints (2, T, {sk.NUM_JOINTS}, 3), got "
                              f"shape {pair.shape}")
    given = pair.shape[1] - 1
    if frames <= given:
        raise ConstraintError(f"the motion to continue covers {given} frames; ask for more than that (got {frames})")
    for k in (0, 1):
        check_person(pair[k], f"the motion to continue (person {k + 1})")
    values = np.zeros((frames, 2, sk.FEATURE_DIM), np.float32)
    values[:given] = _features(pair)
    mask = np.zeros(values.shape, bool)
    mask[:given] = KNOWN_MOTION
    floors = (float(pair[0, ..., 1].min()), float(pair[1, ..., 1].min()))
    return FeatureConstraint(values, mask, WorldFrame.of(pair[0], floors), guide=_blend_towards(values, mask[..., 0]))


def keyframes(frame_numbers, joints, frames: int, person: Optional[int] = None) -> FeatureConstraint:
    """Joint positions at given frames: `joints` (K, 2, 22, 3) for both persons, or (K, 22, 3) for person
    `person` (0 or 1), metres, Y up, the floor at y = 0; `frame_numbers` (K,) distinct, in [0, frames).

    Only positions are held (velocities and rotations come from the model). The canonical frame is that of the
    earliest keyframe's first given person (pelvis at the origin, facing +Z): the training layout exactly when
    that keyframe is frame 0 of person 1."""
    numbers = np.asarray(frame_numbers)
    joints = np.asarray(joints, dtype=np.float32)
    if numbers.ndim != 1 or not np.issubdtype(numbers.dtype, np.integer):
        raise ConstraintError(f"keyframes: 'frames' must be a 1-d list of integer frame numbers, got "
                              f"{numbers.dtype} {numbers.shape}")
    if len(numbers) == 0 or len(set(numbers.tolist())) != len(numbers):
        raise ConstraintError("keyframes: give at least one keyframe, each frame number once")
    if numbers.min() < 0 or numbers.max() >= frames:
        raise ConstraintError(f"keyframes: frame numbers must be in 0..{frames - 1} for a {frames}-frame motion, "
                              f"got {numbers.min()}..{numbers.max()}")
    if joints.ndim == 3:
        slots = [0 if person is None else person]
        joints = joints[:, None]
    else:
        slots = [0, 1]
        if joints.ndim != 4 or joints.shape[1] != 2:
            raise ConstraintError(f"keyframes: 'joints' must be (K, 2, {sk.NUM_JOINTS}, 3) or (K, "
                                  f"{sk.NUM_JOINTS}, 3), got {joints.shape}")
    if slots[0] not in (0, 1):
        raise ConstraintError(f"keyframes: 'person' must be 0 or 1, got {person}")
    if joints.shape[0] != len(numbers):
        raise ConstraintError(f"keyframes: {len(numbers)} frame numbers but {joints.shape[0]} poses")
    for k in range(joints.shape[1]):
        check_person(joints[:, k], "keyframes", min_frames=1)
    first = int(np.argmin(numbers))
    frame = WorldFrame((0.0, 0.0), *_place(joints[first, 0]))
    canonical = frame.to_canonical(joints.transpose(1, 0, 2, 3))                    # (persons given, K, 22, 3)
    values = np.zeros((frames, 2, sk.FEATURE_DIM), np.float32)
    mask = np.zeros(values.shape, bool)
    for k, slot in enumerate(slots):
        values[numbers, slot, sk.POS] = canonical[k].reshape(len(numbers), -1)
        mask[numbers, slot, sk.POS] = True
    return FeatureConstraint(values, mask, frame, guide=_blend_towards(values, mask[..., 0]), reference=slots[0])


def _place(pose: np.ndarray) -> tuple[np.ndarray, float]:
    """(origin, yaw) of a pose (22, 3): its pelvis on the floor and its heading."""
    return pose[sk.ROOT].astype(np.float64) * np.array([1.0, 0.0, 1.0]), float(facing_yaw(torch.from_numpy(pose)))


def _between(frames: torch.Tensor, values: torch.Tensor, T: int) -> torch.Tensor:
    """values (K, ...) given at ascending `frames` (K,) -> (T, ...): linear between them, held beyond them."""
    if len(frames) == 1:
        return values.expand(T, *values.shape[1:])
    t = torch.arange(T, device=frames.device)
    right = torch.searchsorted(frames, t).clamp(1, len(frames) - 1)
    left = right - 1
    a = ((t - frames[left]) / (frames[right] - frames[left])).clamp(0, 1).to(values.dtype)
    a = a.reshape(T, *([1] * (values.dim() - 1)))
    return (1 - a) * values[left] + a * values[right]


# Frames over which a known pose's difference from the model's estimate fades out around it (2/3 s at 30 fps).
BLEND_FRAMES = 20
# Free frames after a held run that are bridged from the run's last pose to the model's own motion (1/3 s).
# The model's estimate next to held frames is a compromise between them and where the model would put the
# person (measured on the demo model: a 0.3-1 m step in its offset between the last held and the first free
# frame, even at the last denoising step), so it is not trusted there: any anchor taken inside that compromise
# lets the step through (a timeline seam reached 21.6 m/s). Ten frames keep the bridge's speed near the
# motion's own: a pose change of 1 m over them is at most 4.5 m/s.
BRIDGE_FRAMES = 10


def _blend_towards(values: np.ndarray, known: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    """A guide that bends each step's x0 estimate towards poses known at some frames (`known` (T, 2) bool, the
    positions in `values`), so that the free frames join the held ones instead of jumping to them.

    Anchors: an isolated held frame asks the estimate to be its pose there; a run of held frames that starts
    after free ones asks the free neighbour to lead into it (the first held pose minus its first step). A run
    that ends before free frames is continued through a bridge of BRIDGE_FRAMES: the free frame after the bridge
    is asked to be where the run's last pelvis velocity carries its last pose, and the frames in between are
    rebuilt (`_bridge`), the estimate there dropped. The pelvis part of the anchors' offsets is interpolated
    linearly between anchors and held beyond them (moving the whole body); the rest of the pose offset fades out
    over BLEND_FRAMES from the nearest anchor."""
    target = torch.from_numpy(values[..., sk.POS]).reshape(*values.shape[:2], sk.NUM_JOINTS, 3)  # (T, 2, 22, 3)
    known = torch.from_numpy(known)

    def anchors(held: torch.Tensor, K: torch.Tensor, E: torch.Tensor):
        """(frames (A,), offsets (A, 22, 3), bridges [(last held, anchor)]) for one person: held (T,), K, E
        (T, 22, 3)."""
        T, frames, offsets, bridges = len(held), [], [], []
        for k in torch.nonzero(held).flatten().tolist():
            left_free = k == 0 or not held[k - 1]
            right_free = k == T - 1 or not held[k + 1]
            if left_free and right_free:                        # an isolated pose: be it
                frames.append(k)
                offsets.append(K[k] - E[k])
            elif right_free and k + 1 < T:                      # a run ends: continue its motion
                a = min(k + 1 + BRIDGE_FRAMES, T - 1)
                step = K[k, sk.ROOT] - K[k - 1, sk.ROOT]        # (3,) the run's last pelvis step
                frames.append(a)
                offsets.append(K[k] + (a - k) * step - E[a])
                bridges.append((k, a))
            elif left_free and k > 0:                           # a run starts: lead into it
                frames.append(k - 1)
                offsets.append(2 * K[k] - K[k + 1] - E[k - 1])
        if not frames:
            return None, None, bridges
        order = torch.tensor(frames).argsort()
        return torch.tensor(frames, device=E.device)[order], torch.stack(offsets)[order], bridges

    def guide(f: torch.Tensor) -> torch.Tensor:                                        # (T', 2, 262)
        T = f.shape[0]
        pos = f[..., sk.POS].reshape(T, 2, sk.NUM_JOINTS, 3).clone()
        t = torch.arange(T, dtype=f.dtype, device=f.device)
        for p in (0, 1):
            K = target[:T, p].to(f)
            frames, d, bridges = anchors(known[:T, p], K, pos[:, p])
            if frames is None:
                continue
            root, rest = d[:, sk.ROOT], d - d[:, sk.ROOT:sk.ROOT + 1]
            offset = _between(frames, root, T)                                         # (T', 3)
            gap = (t[:, None] - frames[None].to(f.dtype)).abs()                            # (T', A)
            fade = (1 - gap.min(1).values / BLEND_FRAMES).clamp(min=0)[:, None, None]
            pos[:, p] += offset[:, None] + fade * rest[gap.argmin(1)]
            for k, a in bridges:
                pos[k + 1:a, p] = _bridge(K[k - 1:k + 1], pos[a:a + 2, p], a - k)
        return torch.cat([pos.reshape(T, 2, -1), f[..., sk.POS.stop:]], -1)
    return guide


def _bridge(before: torch.Tensor, after: torch.Tensor, n: int) -> torch.Tensor:
    """The n - 1 poses (n - 1, 22, 3) between the last of `before` (2, 22, 3) and the first of `after` (1 or 2,
    22, 3), n frames apart: the pelvis on a cubic Hermite curve that leaves and arrives at the two sides' pelvis
    velocities (the `after` one is zero when it has a single pose), the pose around it (joints minus pelvis)
    blended with smoothstep weights. Only the pelvis path is curved: the pose blend keeps the bones' lengths
    close to both ends' (a blend of two poses of one skeleton), where blending every joint on its own curve
    would stretch limbs that move fast at either end."""
    s = torch.arange(1, n, dtype=before.dtype, device=before.device)[:, None] / n          # (n-1, 1)
    p0, p1 = before[-1, sk.ROOT], after[0, sk.ROOT]
    v0 = (before[-1, sk.ROOT] - before[-2, sk.ROOT]) * n                                  # per bridge, not frame
    v1 = (after[-1, sk.ROOT] - after[0, sk.ROOT]) * n
    pelvis = ((2 * s**3 - 3 * s**2 + 1) * p0 + (s**3 - 2 * s**2 + s) * v0
              + (3 * s**2 - 2 * s**3) * p1 + (s**3 - s**2) * v1)                           # (n-1, 3)
    w = (3 * s**2 - 2 * s**3)[:, :, None]                                                   # (n-1, 1, 1)
    pose = (1 - w) * (before[-1] - p0) + w * (after[0] - p1)                                # (n-1, 22, 3)
    return pelvis[:, None] + pose


# The heading of a trajectory is its first displacement of at least this much (m) from the start.
HEADING_DISTANCE = 0.1


def trajectory(path, frames: int) -> FeatureConstraint:
    """Pelvis ground-plane paths: `path` (T, 2, 2) = per frame, per person, (x, z) in metres, NaN = free; T >= frames
    (the first `frames` are used). Person 1's pelvis at frame 0 must be given: it is the canonical origin, and their
    first move of HEADING_DISTANCE the heading (+Z if they never move)."""
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 3 or path.shape[1:] != (2, 2):
        raise ConstraintError(f"trajectory: expected (T, 2, 2) = frames x persons x (x, z) metres, got {path.shape}")
    if path.shape[0] < frames:
        raise ConstraintError(f"trajectory: {path.shape[0]} frames given for a {frames}-frame motion; give at "
                              f"least {frames} (NaN where the path is free) or ask for fewer frames")
    path = path[:frames]
    if np.isinf(path).any():
        raise ConstraintError("trajectory: holds infinite values; use NaN for free frames")
    if np.isnan(path[0, 0]).any():
        raise ConstraintError("trajectory: person 1's pelvis at frame 0 must be given (it fixes the frame)")
    if (np.isnan(path[..., 0]) != np.isnan(path[..., 1])).any():
        raise ConstraintError("trajectory: x and z must be both given or both NaN at each frame")
    if np.nanmax(np.abs(path)) > 100:
        raise ConstraintError(f"trajectory: a pelvis {np.nanmax(np.abs(path)):.0f} units from the origin; paths are "
                              "in metres")
    start = path[0, 0]
    moved = np.nonzero(np.linalg.norm(np.nan_to_num(path[:, 0] - start), axis=-1) >= HEADING_DISTANCE)[0]
    step = path[moved[0], 0] - start if len(moved) else np.array([0.0, 1.0])
    frame = WorldFrame((0.0, 0.0), np.array([start[0], 0.0, start[1]]), float(np.arctan2(step[0], step[1])))
    ground = np.stack([path[..., 0], np.zeros(path.shape[:2]), path[..., 1]], -1).transpose(1, 0, 2)  # (2, T, 3)
    canonical = frame.to_canonical(np.nan_to_num(ground))                                          # (2, T, 3)
    values = np.zeros((frames, 2, sk.FEATURE_DIM), np.float32)
    mask = np.zeros(values.shape, bool)
    given = ~np.isnan(path[..., 0])                                                                # (T, 2)
    for axis in (0, 2):                                                                 # pelvis x and z
        values[:, :, sk.ROOT * 3 + axis] = canonical[..., axis].T
        mask[:, :, sk.ROOT * 3 + axis] = given
    # the feet walk the path (gait.clean_path keeps the pelvis ground path exactly)
    return FeatureConstraint(values, mask, frame, guide=_carry_body(values, given), cleanup=clean_path)


def reference_anchor(frames: int, person: int) -> FeatureConstraint:
    """The representation's own fact made a constraint: `person` (0 or 1) is the reference, their frame-0 pelvis
    at the canonical origin (x = z = 0), the whole body carried there (`_carry_body`); nothing else is held.

    InterGen's processing puts one person of every pair there, and swaps the two afterwards at random (either
    person may be the one at the origin), so a denoiser that predicts x0 must guess for each slot which of the
    two places it stands in; where it cannot tell, it predicts the average of both, and as training fits that
    average better the two people collapse onto one skeleton half-way between (the demo's longer run: 13 of 18
    samples merged, both frame-0 pelvises at z = 0.7-0.9 m where the data has 0 and the partner's distance).
    Telling the sampler which slot is the reference breaks that symmetry. In the canonical frame: the samples
    come back where they were generated."""
    if person not in (0, 1):
        raise ConstraintError(f"reference_anchor: person must be 0 or 1, got {person}")
    values = np.zeros((frames, 2, sk.FEATURE_DIM), np.float32)
    mask = np.zeros(values.shape, bool)
    mask[0, person, [sk.ROOT * 3, sk.ROOT * 3 + 2]] = True                            # frame-0 pelvis x and z
    given = np.zeros((frames, 2), bool)
    given[0, person] = True
    frame = WorldFrame((0.0, 0.0), np.zeros(3), 0.0)
    return FeatureConstraint(values, mask, frame, guide=_carry_body(values, given), reference=person)


def _carry_body(values: np.ndarray, given: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    """A guide that moves each person's whole body with their pelvis: the (x, z) offset between the path and the
    estimate where the path is given, linear across free frames. Held alone, the pelvis would leave the other 21
    joints behind."""
    xz = [sk.ROOT * 3, sk.ROOT * 3 + 2]
    target = torch.from_numpy(values[..., xz])                                          # (T, 2, 2)
    given = torch.from_numpy(given)

    def guide(f: torch.Tensor) -> torch.Tensor:                                        # (T', 2, 262)
        T = f.shape[0]
        pos = f[..., sk.POS].reshape(T, 2, sk.NUM_JOINTS, 3).clone()
        for p in (0, 1):
            frames = torch.nonzero(given[:T, p]).flatten().to(f.device)
            if len(frames):
                shift = _between(frames, target[frames, p].to(f) - f[frames, p][:, xz], T)      # (T', 2)
                pos[:, p, :, 0] += shift[:, None, 0]
                pos[:, p, :, 2] += shift[:, None, 1]
        return torch.cat([pos.reshape(T, 2, -1), f[..., sk.POS.stop:]], -1)
    return guide


def pelvis_error(joints: np.ndarray, path: np.ndarray) -> float:
    """Largest ground-plane distance (m) between pelvis paths of joints (2, T, 22, 3) and `path` (T, 2, 2),
    over the given (non-NaN) entries."""
    pelvis = joints[:, :, sk.ROOT][..., [0, 2]].transpose(1, 0, 2)                    # (T, 2, 2)
    d = np.linalg.norm(pelvis - path[:pelvis.shape[0]], axis=-1)
    return float(np.nanmax(d))
