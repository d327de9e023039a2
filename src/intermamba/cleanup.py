"""Motion clean-up: what `generate` returns by default on top of the model's raw joints (`cleanup=False` skips it).

A small diffusion model's joints drift in ways a body cannot: bones that stretch, feet that slide while they
stand or sink under the floor, frame-to-frame shake, and two torsos in one place. Each step below fixes one of
these with the least change to the motion, in this order (each later step keeps what the earlier ones fixed):

    smooth          a Gaussian over time (sigma SMOOTH_SIGMA frames): removes shake, keeps motion slower than
                    ~1/5 s intact
    rigid_bones     every bone gets its median length over the sample, the direction of each bone kept
                    (root outward), so the skeleton is rigid
    separate        where the two torsos' capsules overlap, or the pelvises come closer than MIN_PELVIS_GAP,
                    both people step apart horizontally by half the overlap each (smoothed in time); arms and
                    hands move with their body, so a reach keeps its shape
    lock_feet       a foot in contact (the model's predicted contact, or low and slow) stays at its mean place
                    over the contact, reached by two-bone leg IK that keeps the thigh and shin lengths; the
                    correction eases in and out over FADE frames outside the contact (across a shorter gap,
                    from one contact's to the next one's), so a lock never switches on or off in one frame
    lift_to_floor   a person whose lowest foot joint is under the floor in a frame is raised by that much
                    (smoothed, then exact; vertical only, so a locked foot stays locked)

A timeline (segments generated one after another) also has its seams eased (`ease_seams`, after the steps above
or on the raw joints): where a seam's joints move faster than the motion's own 99th percentile, the frames
around it are re-solved for least acceleration, each bone's length kept.

All functions take and return joints (2, T, 22, 3): metres, Y up, floor at y = 0, 30 fps, SMPL joint order.
The evaluation protocol always scores the raw model output, as the field does; the model card reports both.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from . import skeleton as sk
from .capsules import BONE_CHILD, BONE_PARENT, BONE_RADII, segment_distance

SMOOTH_SIGMA = 1.0          # frames
MIN_PELVIS_GAP = 0.30       # m: the procedural world's closest pair (a hug) keeps its pelvises 0.33 m apart
TORSO = ("l_hip", "r_hip", "spine1", "spine2", "spine3", "neck", "head")   # bones, by child joint
SEPARATE_SIGMA = 3.0        # frames: how smoothly people step apart
SIDE_GAP = 0.1              # m: pelvises closer than this keep the side they had (the line between them turns freely)
LOCK_HEIGHTS = np.array(sk.CONTACT_HEIGHTS) + 0.02     # m, per foot joint: "low" (a little above the contact rule)
LOCK_SPEED = 0.8            # m/s: a low foot slower than this is standing on the floor
# Frames over which a lock's correction eases in before its contact and out after it. A foot that slid while
# standing is put back on its mean place, so the correction at either end is up to half the slide; eased over
# 8 frames (smoothstep, peak slope 1.5 / 8 per frame), a 0.2 m correction adds at most 1.1 m/s to the foot.
FADE = 8
EASE_SPEED = 1.5            # m/s: the most a pin-to-pin ease over a short lift adds, where the contacts allow
LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))                  # (hip, knee, ankle, toe) left and right
UP = np.array([0.0, 1.0, 0.0])
FACING_SIGMA = 3.0          # frames: smoothing of the facing direction a first knee bend is nudged towards
KNEE_NUDGE = 0.2            # x thigh length: the pull of the last bend direction on a knee's (_two_bone_ik)
_TORSO_BONES = np.array([b for b, j in enumerate(BONE_CHILD) if sk.JOINT_NAMES[j] in TORSO])


def _check(joints) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"joints must be (2, T, {sk.NUM_JOINTS}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or infinite values; nothing to clean up")
    return joints


def smooth(joints: np.ndarray, sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    """Gaussian smoothing of every joint over time (the ends held, not mirrored)."""
    joints = _check(joints)
    if sigma <= 0 or joints.shape[1] < 3:
        return joints
    return gaussian_filter1d(joints, sigma, axis=1, mode="nearest")


def rigid_bones(joints: np.ndarray) -> np.ndarray:
    """Each person's bones at their median length over the sample, directions kept, rebuilt from the root."""
    joints = _check(joints)
    bones = joints[:, :, BONE_CHILD] - joints[:, :, BONE_PARENT]                      # (2, T, 21, 3)
    length = np.linalg.norm(bones, axis=-1, keepdims=True)                             # (2, T, 21, 1)
    target = np.median(length, axis=1, keepdims=True)                                  # (2, 1, 21, 1)
    return _from_bones(joints[:, :, sk.ROOT], bones / np.maximum(length, 1e-9), target)


def _from_bones(root: np.ndarray, unit: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Joints (2, T, 22, 3) rebuilt from the pelvis (2, T, 3) outward along bone directions (2, T, 21, 3) of
    lengths (2, T or 1, 21, 1), in BONE_CHILD / BONE_PARENT order."""
    out = np.empty((*root.shape[:2], sk.NUM_JOINTS, 3), dtype=root.dtype)
    out[:, :, sk.ROOT] = root
    for b, (parent, child) in enumerate(zip(BONE_PARENT, BONE_CHILD)):                # parents come first
        out[:, :, child] = out[:, :, parent] + unit[:, :, b] * length[:, :, b]
    return out


def torso_overlap(joints: np.ndarray) -> np.ndarray:
    """(T,) largest overlap of the two people's torso capsules per frame (m, 0 where none)."""
    ends = [(joints[i][:, BONE_PARENT[_TORSO_BONES]], joints[i][:, BONE_CHILD[_TORSO_BONES]]) for i in (0, 1)]
    (p1, q1), (p2, q2) = ends                                                          # (T, 7, 3) each
    dist = segment_distance(p1[:, :, None], q1[:, :, None], p2[:, None], q2[:, None])  # (T, 7, 7)
    radii = BONE_RADII[_TORSO_BONES]
    return np.maximum((radii[:, None] + radii[None, :] - dist).max(axis=(1, 2)), 0.0)


def _sides(apart: np.ndarray, overlap: np.ndarray, min_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the horizontal unit direction from person 1 to person 2 to push along, and how far (m) they
    must move apart along it: (T, 3), (T,). `apart` (T, 3) = pelvis 2 - pelvis 1 on the ground.

    Once the two come too close, their sides are kept until they are apart again: the direction is followed
    frame to frame without flipping, and the gap is measured along it, so a person who walks through the other
    in the raw motion (the direction turns round) is held back on their own side, the push growing smoothly,
    instead of being pushed out of the far side (a 0.3 m jump in one frame). While the pelvises are within
    SIDE_GAP of each other the direction is not followed at all: at a few centimetres the line between them can
    turn 90 degrees in a frame, and following it turned a push round in two frames (4.7 m/s from 1 m/s)."""
    gap = np.linalg.norm(apart, axis=-1)
    free_direction = np.where(gap[:, None] > 1e-6, apart / np.maximum(gap, 1e-6)[:, None], [1.0, 0.0, 0.0])
    direction, need = free_direction.copy(), np.maximum(overlap, min_gap - gap)
    held = None                                                   # the direction of an ongoing close episode
    for t in range(len(gap)):
        if held is None:
            if need[t] <= 0:
                continue
            held = free_direction[t - 1] if t > 0 else free_direction[t]   # the side they came from
        if gap[t] > SIDE_GAP:                 # nearer, the pelvis line is the model's jitter, not a side
            held = free_direction[t] if free_direction[t] @ held >= 0 else -free_direction[t]
        direction[t] = held
        need[t] = max(overlap[t], min_gap - apart[t] @ held)
        if need[t] <= 0 and free_direction[t] @ held > 0:           # apart again, on their own sides
            held = None
    return direction, need


def separate(joints: np.ndarray, min_gap: float = MIN_PELVIS_GAP, iterations: int = 4) -> np.ndarray:
    """Step the two people apart (horizontally, half each, along the line between their pelvises) wherever
    their torsos overlap or their pelvises are closer than `min_gap`, each kept on their own side (`_sides`)."""
    out = _check(joints).copy()
    for _ in range(iterations):
        pelvis = out[:, :, sk.ROOT] * np.array([1.0, 0.0, 1.0])                        # (2, T, 3) on the ground
        direction, need = _sides(pelvis[1] - pelvis[0], torso_overlap(out), min_gap)   # (T, 3), (T,) m to add
        if need.max() <= 1e-4:
            break
        # Widen each push over its neighbours before smoothing, so the smoothed push still covers the frame.
        push = gaussian_filter1d(maximum_filter1d(np.maximum(need, 0.0) + 0.005, int(4 * SEPARATE_SIGMA) + 1),
                                 SEPARATE_SIGMA, mode="nearest")
        push = np.where(gaussian_filter1d((need > 0).astype(float), SEPARATE_SIGMA) > 1e-3, push, 0.0)
        direction = gaussian_filter1d(direction, SEPARATE_SIGMA, axis=0, mode="nearest")
        direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
        step = 0.5 * push[:, None] * direction                                         # (T, 3)
        out[0] -= step[:, None]
        out[1] += step[:, None]
    return out


def lift_to_floor(joints: np.ndarray) -> np.ndarray:
    """Raise a person in the frames where a foot joint is under the floor (y < 0)."""
    out = _check(joints).copy()
    feet = list(sk.FOOT_JOINTS)
    for i in (0, 1):
        depth = np.maximum(-out[i, :, feet, 1].min(0), 0.0)                            # (T,)
        if depth.max() == 0:
            continue
        lift = gaussian_filter1d(maximum_filter1d(depth, 5), 1.5, mode="nearest")
        out[i, :, :, 1] += lift[:, None]
        out[i, :, :, 1] += np.maximum(-out[i, :, feet, 1].min(0), 0.0)[:, None]         # what smoothing missed
    return out


def contact_mask(joints: np.ndarray, contacts: Optional[np.ndarray] = None) -> np.ndarray:
    """(2, T, 4) bool: foot joints (FOOT_JOINTS order) standing on the floor: the model's predicted contact
    (contacts (2, T, 4) in [0, 1]) or low (LOCK_HEIGHTS) and slower than LOCK_SPEED horizontally."""
    feet = joints[:, :, list(sk.FOOT_JOINTS)]                                          # (2, T, 4, 3)
    speed = np.linalg.norm(np.gradient(feet[..., [0, 2]], axis=1), axis=-1) * sk.FPS  # (2, T, 4)
    mask = (feet[..., 1] < LOCK_HEIGHTS) & (speed < LOCK_SPEED)
    if contacts is not None:
        mask |= (np.asarray(contacts) > 0.5) & (feet[..., 1] < 2 * LOCK_HEIGHTS)
    return mask


def _spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _two_bone_ik(hip, knee, ankle, target, ahead):
    """Knee and ankle (T, 3) that reach `target` from `hip` with the thigh and shin lengths of (hip, knee,
    ankle), bending in the plane the knee already bends in, nudged towards the plane of the frame before (the
    first frame: towards `ahead` (3,), the way the person faces at the start). A near-straight leg's own bend direction
    is noise that can turn round from one frame to the next, and shortening such a leg by a few cm swings its
    knee 0.1 m out along that direction (a knee thrown 0.15-0.5 m in a frame)."""
    thigh = np.linalg.norm(knee - hip, axis=-1, keepdims=True)
    shin = np.linalg.norm(ankle - knee, axis=-1, keepdims=True)
    reach = target - hip
    d = np.clip(np.linalg.norm(reach, axis=-1, keepdims=True), 1e-6, (thigh + shin) * 0.9999)
    u = reach / np.maximum(np.linalg.norm(reach, axis=-1, keepdims=True), 1e-9)

    def across(v):                                                                      # v's part normal to u
        return v - u * np.sum(v * u, axis=-1, keepdims=True)
    # The knee's own bend, nudged towards the last frame's bend direction (the first frame's: ahead), so that a
    # near-straight leg, whose own bend is noise, keeps bending the way it did.
    bend = across(knee - hip)                                                          # (T, 3)
    pole = np.empty_like(bend)
    last = ahead - u[0] * (ahead @ u[0])
    for t in range(len(bend)):
        p = bend[t] + KNEE_NUDGE * thigh[t] * last
        p -= u[t] * (p @ u[t])
        norm = np.linalg.norm(p)
        last = p / norm if norm > 1e-9 else last
        pole[t] = last
    cos_a = np.clip((thigh ** 2 + d ** 2 - shin ** 2) / np.maximum(2 * thigh * d, 1e-12), -1.0, 1.0)
    new_knee = hip + thigh * (cos_a * u + np.sqrt(1 - cos_a ** 2) * pole)
    return new_knee, hip + u * d


def _smoothstep(s: np.ndarray) -> np.ndarray:
    return s * s * (3 - 2 * s)


def _pinned(flags: np.ndarray, values: np.ndarray, fade: int = FADE) -> np.ndarray:
    """`values` (T, C) held at their mean over each run of `flags` (runs of 2+ frames), the correction that
    holds them eased in and out over up to `fade` frames outside the run (smoothstep), or, across a gap of at
    most 2 * fade frames between two runs, eased from one run's correction to the next one's. Continuous
    everywhere, so a lock never jumps on or off."""
    T = len(values)
    runs = [(a, b) for a, b in _spans(flags) if b - a >= 2]
    correction = np.zeros_like(values)
    for a, b in runs:
        correction[a:b] = values[a:b].mean(0) - values[a:b]
    # the free frames between runs (and before the first, after the last), with the runs around them
    gaps, previous = [], None
    for run in runs:
        gaps.append((0 if previous is None else previous[1], run[0], previous, run))
        previous = run
    gaps.append((previous[1] if previous else T, T, previous, None))
    for g0, g1, before, after in gaps:
        n = g1 - g0
        if before is not None and after is not None and n <= 2 * fade:     # a short lift: from pin to pin
            # as many frames as the change needs at EASE_SPEED (smoothstep's peak slope is 1.5), borrowed from
            # the two contacts' inner halves where the lift is too short
            change = float(np.linalg.norm(correction[g1] - correction[g0 - 1]))
            extra = max(int(np.ceil(1.5 * change * sk.FPS / EASE_SPEED)) - n, 0)
            w0 = g0 - min((extra + 1) // 2, (before[1] - before[0]) // 2)
            w1 = g1 + min(extra // 2, (after[1] - after[0]) // 2)
            s = _smoothstep(np.arange(1, w1 - w0 + 1) / (w1 - w0 + 1))[:, None]
            correction[w0:w1] = (1 - s) * correction[w0 - 1] + s * correction[w1]
            continue
        if before is not None and n > 0:                       # ease out after a run
            k = min(fade, n)
            correction[g0:g0 + k] = _smoothstep(1 - np.arange(1, k + 1) / (k + 1))[:, None] * correction[g0 - 1]
        if after is not None and n > 0:                        # ease in before a run
            k = min(fade, n)
            correction[g1 - k:g1] = _smoothstep(np.arange(1, k + 1) / (k + 1))[:, None] * correction[g1]
    return values + correction


def lock_feet(joints: np.ndarray, contacts: Optional[np.ndarray] = None) -> np.ndarray:
    """Hold each standing foot (ankle and toe) at its mean place over the contact, by leg IK; see the module
    notes."""
    out = _check(joints).copy()
    stand = contact_mask(out, contacts)                                                # (2, T, 4)
    # Where each person faces at the start (the first knee bend leans that way): from hips AND shoulders,
    # smoothed over the first frames, as a raw pelvis can tilt until its hips are nearly stacked.
    name = sk.JOINT_NAMES.index
    left = (out[:, :, name("l_hip")] - out[:, :, name("r_hip")]
            + out[:, :, name("l_shoulder")] - out[:, :, name("r_shoulder")])
    ahead = gaussian_filter1d(np.cross(left, UP), FACING_SIGMA, axis=1, mode="nearest")[:, 0]   # (2, 3) left x up
    ahead /= np.maximum(np.linalg.norm(ahead, axis=-1, keepdims=True), 1e-9)
    for i in (0, 1):
        for side, (hip, knee, ankle, toe) in enumerate(LEGS):
            # a leg is locked while its ankle or its toe stands
            flags = stand[i, :, 2 * side] | stand[i, :, 2 * side + 1]
            leg = np.linalg.norm(out[i, :, knee] - out[i, :, hip], axis=-1).min()
            if flags.sum() < 2 or leg < 1e-6:              # nothing to hold, or a collapsed leg (no bend to use)
                continue
            goal = _pinned(flags, out[i, :, ankle])
            if np.abs(goal - out[i, :, ankle]).max() < 1e-9:  # a still foot: the leg stays exactly as it is
                continue
            toe_offset = out[i, :, toe] - out[i, :, ankle]                             # (T, 3), a rigid bone
            offset = _pinned(flags, toe_offset)                                        # the foot keeps its heading
            offset *= np.linalg.norm(toe_offset, axis=-1, keepdims=True) / np.maximum(
                np.linalg.norm(offset, axis=-1, keepdims=True), 1e-9)                  # the same length
            new_knee, new_ankle = _two_bone_ik(out[i, :, hip], out[i, :, knee], out[i, :, ankle], goal,
                                               ahead[i])
            out[i, :, knee], out[i, :, ankle] = new_knee, new_ankle
            out[i, :, toe] = new_ankle + offset
    return out


def _least_acceleration(values: np.ndarray, free: np.ndarray, weight: float) -> np.ndarray:
    """values (n, C) with the frames where `free` (n,) is True re-solved for min |x - values|^2 + weight |D2 x|^2
    (D2 the second difference over all n frames; the other frames held): a curve that keeps to the motion, as
    smooth as `weight` asks, joining the held frames in place and speed."""
    n = len(values)
    second = np.zeros((n - 2, n))
    second[np.arange(n - 2), np.arange(n - 2)] = 1.0
    second[np.arange(n - 2), np.arange(1, n - 1)] = -2.0
    second[np.arange(n - 2), np.arange(2, n)] = 1.0
    on, off = second[:, free], second[:, ~free]
    system = np.eye(int(free.sum())) + weight * on.T @ on
    out = values.copy()
    out[free] = np.linalg.solve(system, values[free] - weight * on.T @ (off @ values[~free]))
    return out


def _ease_window(joints: np.ndarray, start: int, stop: int, weight: float) -> np.ndarray:
    """Frames [start, stop) of both people re-solved for least acceleration (two frames held on each side): the
    pelvis path and each bone's direction and length, rebuilt from the pelvis out, so no bone stretches."""
    lo, hi = max(start - 2, 0), min(stop + 2, joints.shape[1])
    free = np.zeros(hi - lo, dtype=bool)
    free[start - lo:stop - lo] = True
    part = joints[:, lo:hi]                                                            # (2, n, 22, 3)
    bones = part[:, :, BONE_CHILD] - part[:, :, BONE_PARENT]                           # (2, n, 21, 3)
    length = np.linalg.norm(bones, axis=-1, keepdims=True)
    unit = bones / np.maximum(length, 1e-9)
    n = hi - lo
    flat = np.concatenate([part[:, :, sk.ROOT], unit.reshape(2, n, -1), length.reshape(2, n, -1)], axis=-1)
    flat = _least_acceleration(flat.transpose(1, 0, 2).reshape(n, -1), free, weight)
    flat = flat.reshape(n, 2, -1).transpose(1, 0, 2)                                   # (2, n, 3 + 63 + 21)
    root, unit = flat[..., :3], flat[..., 3:66].reshape(unit.shape)
    unit /= np.maximum(np.linalg.norm(unit, axis=-1, keepdims=True), 1e-9)
    rebuilt = _from_bones(root, unit, flat[..., 66:, None])
    out = joints.copy()
    out[:, start:stop] = rebuilt[:, free]                                              # the held frames as they were
    return out


def frame_speeds(joints: np.ndarray) -> np.ndarray:
    """(T - 1,) the fastest joint of either person between consecutive frames, m/s."""
    return np.linalg.norm(np.diff(joints, axis=1), axis=-1).max(axis=(0, 2)) * sk.FPS


SEAM_PERCENTILE = 99          # a seam is no faster than this percentile of the rest of the motion's joint speeds
SEAM_MARGIN = 0.97            # eased to this fraction of it: slower seams lower the whole motion's percentile
SEAM_WEIGHTS = 2.0 ** np.arange(-2, 13)   # least-acceleration weights tried, gentlest first
SEAM_ROOM = 4                 # frames re-solved on each side of a seam's window, so its ends can slow down too
SEAM_ROUNDS = 6


def ease_seams(joints, seams, before: int, after: int) -> np.ndarray:
    """Ease each seam (a frame where one generated part hands over to the next) so that no joint moves faster
    within [seam - before, seam + after) than the motion's SEAM_PERCENTILE-th percentile joint speed.

    The target is the percentile of the speeds away from the seams (the motion's own pace: where a segment's
    action starts right after a seam, the whole motion's percentile would be set by the seam itself). A seam
    already under it is left as it is; otherwise the window and SEAM_ROOM frames on each side are re-solved for
    least acceleration (`_ease_window`) with the gentlest weight of SEAM_WEIGHTS that brings the window under
    SEAM_MARGIN of it (the strongest if none does), and a foot the new curve takes under the floor is lifted
    back to where it was. Slower seams pull the whole motion's percentile down a little, so the rounds repeat
    against it (never above the first target) until every seam is under it, up to SEAM_ROUNDS."""
    out = _check(joints)
    T = out.shape[1]
    windows = [(max(seam - before, 1), min(seam + after, T - 1)) for seam in seams]
    windows = [(start, stop) for start, stop in windows if stop > start]
    away = np.ones(T - 1, dtype=bool)
    for start, stop in windows:
        away[start - 1:stop] = False
    if not away.any():                                   # all seams: no pace of its own to hold them to
        return out
    pace = np.percentile(frame_speeds(out)[away], SEAM_PERCENTILE)
    feet = list(sk.FOOT_JOINTS)
    for _ in range(SEAM_ROUNDS):
        speeds = frame_speeds(out)                                                     # (T - 1,)
        limit = min(pace, np.percentile(speeds, SEAM_PERCENTILE))
        fast = [(start, stop) for start, stop in windows if speeds[start - 1:stop].max() > limit]
        if not fast:
            break
        for start, stop in fast:
            lo, hi = max(start - SEAM_ROOM, 1), min(stop + SEAM_ROOM, T - 1)
            for weight in SEAM_WEIGHTS:
                eased = _ease_window(out, lo, hi, weight)
                if frame_speeds(eased)[start - 1:stop].max() <= SEAM_MARGIN * limit:
                    break
            dip = np.maximum(-eased[:, lo:hi, feet, 1].min(axis=2), 0.0)                      # (2, n)
            was = np.maximum(-out[:, lo:hi, feet, 1].min(axis=2), 0.0)
            eased[:, lo:hi, :, 1] += np.maximum(dip - was, 0.0)[..., None]        # no deeper than it was
            out = eased
    return out


def clean_up(joints, contacts: Optional[np.ndarray] = None) -> np.ndarray:
    """All steps in order: smooth, rigid_bones, separate, lock_feet, lift_to_floor (see the module notes).
    contacts: the model's predicted foot contacts (2, T, 4) in FOOT_JOINTS order, or None."""
    out = smooth(joints)
    out = rigid_bones(out)
    out = separate(out)
    out = lock_feet(out, contacts)
    return lift_to_floor(out)
