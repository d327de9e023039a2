"""Footsteps for a pelvis path: feet stay planted until the body has moved away from them, then step.

Each foot has an ideal spot under its hip (body frame: a little to its side, `stance` shifts it forward or
back). A planted foot stays exactly where it landed (so it cannot slide) until it falls behind its ideal
spot, looked at slightly in the future, by more than a threshold in position or heading; then it swings
along a low arc and lands on the ideal spot of the moment it lands plus a look-ahead of half a stance. One
foot swings at a time, with a short double support between steps, so walking, turning on the spot,
side-stepping, staggering backwards and standing still all come from the same rule. Cadence follows the
speed: faster travel shortens the swing down to a jog's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...skeleton import FPS
from .rig import ANKLE_HEIGHT, FOOT_BACK, FOOT_SPREAD, SIDE_SIGN, body_to_world

STEP_THRESHOLD = 0.10      # metres a foot may lag its ideal spot before it steps
TURN_WEIGHT = 0.25         # metres of lag per radian of heading difference
GOOD_STEP = 0.55          # step length the cadence aims for (metres)
SWING_RANGE = (0.22, 0.45)  # seconds a swing lasts (jogging .. strolling)
DOUBLE_SUPPORT = 0.06      # seconds both feet are down between steps
LIFT = (0.05, 0.11)        # swing arc height range (metres), higher for longer steps


@dataclass
class Steps:
    feet: np.ndarray       # (2, T, 3) ankle positions (left, right)
    yaw: np.ndarray        # (2, T) foot headings
    stance: np.ndarray     # (2, T) bool, True while the foot is planted
    swings: list           # (side, start frame, end frame) of every step


def ideal_feet(root_xz: np.ndarray, yaw: np.ndarray, stance: np.ndarray) -> np.ndarray:
    """(2, T, 2) the spot under each hip; stance (2, 2) extra (x left, z forward) per foot."""
    out = []
    for side in (0, 1):
        local = np.array([SIDE_SIGN[side] * FOOT_SPREAD + stance[side, 0], 0.0, FOOT_BACK + stance[side, 1]])
        world = body_to_world(yaw, np.broadcast_to(local, (len(yaw), 3)))
        out.append(root_xz + world[:, [0, 2]])
    return np.stack(out)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def plan_steps(root_xz: np.ndarray, yaw: np.ndarray, *, stance=None, pace: float = 1.0,
               start_side: int | None = None) -> Steps:
    """Plan the footsteps of a pelvis path root_xz (T, 2) with headings yaw (T,).

    stance: (2, 2) per-foot (x, z) offsets in the body frame (e.g. a boxer's staggered stance);
    pace: scales the swing duration (< 1 quicker steps); start_side: the foot to move first, if both lag.
    """
    T = len(yaw)
    stance = np.zeros((2, 2)) if stance is None else np.asarray(stance, dtype=np.float64)
    ideal = ideal_feet(root_xz, yaw, stance)  # (2, T, 2)
    speed = np.linalg.norm(np.gradient(root_xz, axis=0), axis=-1) * FPS  # (T,) m/s
    plant = ideal[:, 0].copy()
    plant_yaw = np.array([yaw[0], yaw[0]])
    feet = np.zeros((2, T, 3))
    feet[..., 0], feet[..., 2] = plant[:, None, 0], plant[:, None, 1]
    feet_yaw = np.repeat(plant_yaw[:, None], T, axis=1)
    stance_mask = np.ones((2, T), dtype=bool)
    swings = []
    last = None if start_side is None else 1 - start_side
    gap = max(1, round(DOUBLE_SUPPORT * FPS))
    t = 1
    while t < T - 1:
        # Swing duration from the coming speed; look ahead half a stance for where the body will be.
        v = float(speed[t:t + FPS // 2].mean())
        swing = np.clip(GOOD_STEP / max(v, 1e-3) - DOUBLE_SUPPORT, *SWING_RANGE) * pace
        n = max(4, round(swing * FPS))
        lead = n // 3 + gap
        frames = np.arange(t, T)
        look = np.minimum(frames + lead, T - 1)
        lag = np.linalg.norm(ideal[:, look] - plant[:, None], axis=-1) \
            + TURN_WEIGHT * np.abs(_wrap(yaw[look] - plant_yaw[:, None]))  # (2, n_frames)
        over = np.flatnonzero((lag > STEP_THRESHOLD).any(0))
        if len(over) == 0:
            break
        k = over[0]
        t0 = t + k
        side = int(np.argmax(lag[:, k]))
        if side == last and lag[1 - side, k] > 0.5 * STEP_THRESHOLD:
            side = 1 - side  # alternate feet while walking
        t1 = t0 + n
        land = min(t1 + lead, T - 1)
        p0, p1 = plant[side].copy(), ideal[side, land]
        y0, y1 = plant_yaw[side], plant_yaw[side] + _wrap(yaw[land] - plant_yaw[side])
        # The swing: smoothstep along the floor, a sine arc up (higher for longer steps).
        u = np.clip((np.arange(t0, min(t1, T - 1) + 1) - t0) / n, 0.0, 1.0)
        s = u * u * (3.0 - 2.0 * u)
        lift = np.clip(LIFT[0] + 0.1 * np.linalg.norm(p1 - p0), *LIFT)
        seg = slice(t0, t0 + len(u))
        feet[side, seg, 0] = p0[0] + s * (p1[0] - p0[0])
        feet[side, seg, 2] = p0[1] + s * (p1[1] - p0[1])
        feet[side, seg, 1] = lift * np.sin(np.pi * u)
        feet_yaw[side, seg] = y0 + s * (y1 - y0)
        stance_mask[side, t0 + 1:min(t1, T)] = False  # lift-off and touch-down frames count as planted
        after = slice(t0 + len(u), T)
        feet[side, after, 0], feet[side, after, 2], feet[side, after, 1] = p1[0], p1[1], 0.0
        feet_yaw[side, after] = y1
        plant[side], plant_yaw[side] = p1, y1
        swings.append((side, t0, t1))
        last = side
        t = t1 + gap
    feet[..., 1] += ANKLE_HEIGHT
    return Steps(feet=feet, yaw=feet_yaw, stance=stance_mask, swings=swings)


WEIGHT_SHIFT = 0.3  # fraction of the way the pelvis leans sideways towards the supporting foot


def weight_shift(root_xz: np.ndarray, yaw: np.ndarray, steps: Steps) -> np.ndarray:
    """(T, 2) sideways pelvis offset towards the foot (or feet) on the ground, smoothed: the side-to-side
    sway of a walk. Standing on both feet it is zero, so it changes nothing for people who stand."""
    planted = steps.stance.astype(np.float64)  # (2, T)
    weight = planted / np.maximum(planted.sum(0, keepdims=True), 1.0)
    support = np.einsum("st,stk->tk", weight, steps.feet[..., [0, 2]])
    support = np.where(planted.sum(0)[:, None] > 0, support, root_xz)  # both feet up: no pull
    side = body_to_world(yaw, np.broadcast_to([1.0, 0.0, 0.0], (len(yaw), 3)))[:, [0, 2]]
    offset = np.sum((support - root_xz) * side, -1) - np.sum((np.mean(steps.feet[:, :1, [0, 2]], 0) - root_xz[:1])
                                                              * side[:1], -1)
    width = 4
    padded = np.pad(offset, width, mode="edge")
    smooth = np.convolve(padded, np.ones(2 * width + 1) / (2 * width + 1), "valid")
    return WEIGHT_SHIFT * smooth[:, None] * side
