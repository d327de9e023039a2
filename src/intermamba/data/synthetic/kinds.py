"""The interaction kinds: choreography for two people, and the captions that describe it.

Each kind is a function `(rng) -> Scene`. It lays out the two people (the initiator "one person" and "the
other"), their pelvis paths and headings, and the cues (hand targets, bows, leans, looks) that `rig.pose`
turns into joint rotations; footsteps come from `gait.plan_steps`. Targets on a partner's body are read from
a first pass of the partner's motion (hands never move the torso, so that pass is exact).

Captions name hands and turns with the words "left" / "right" / "clockwise" / "counterclockwise" only, always
as seen by the person they belong to, so `motion.mirror_text` keeps them true for a mirrored motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ...skeleton import FPS, MAX_FRAMES
from . import gait
from .rig import (ARM_REACH, REST, SHOULDER_WIDTH, SIDE_SIGN, SIDES, STAND_HEIGHT, Cues, HandCue, J, body_to_world,
                  pose, yaw_dir)
from .timeline import Path, blend_yaw, facing, ramp, sec, smoothstep, travel_heading, window

HEAD, CHEST, PELVIS = J["head"], J["spine3"], J["pelvis"]
WRIST = (J["l_wrist"], J["r_wrist"])
SHOULDER = (J["l_shoulder"], J["r_shoulder"])
MIN_FRAMES = 2 * FPS  # kinds last 2-10 s
SHOULDER_HEIGHT = STAND_HEIGHT + REST[J["l_shoulder"], 1]
CHEST_HEIGHT = STAND_HEIGHT + REST[CHEST, 1]
HEAD_HEIGHT = STAND_HEIGHT + REST[HEAD, 1]
COMFORT_REACH = 0.93 * ARM_REACH  # how far a hand is sent from its shoulder for a touch


# ---------------------------------------------------------------------------------------------- people
@dataclass
class Person:
    """One performed motion."""
    local: np.ndarray     # (T, 22, 3, 3) local rotations, joint 0 in world
    joints: np.ndarray    # (T, 22, 3) positions
    stance: np.ndarray    # (2, T) bool, each foot planted
    yaw: np.ndarray       # (T,) heading


@dataclass
class Actor:
    """What a person does, before footsteps and IK: a path, a heading and rig cues (see rig.Cues)."""
    xz: np.ndarray
    yaw: np.ndarray
    cues: dict = field(default_factory=dict)
    stance: Optional[np.ndarray] = None  # (2, 2) foot offsets, e.g. a fighting stance
    pace: float = 1.0

    def perform(self) -> Person:
        steps = gait.plan_steps(self.xz, self.yaw, stance=self.stance, pace=self.pace)
        local, _, joints = pose(Cues(root_xz=self.xz, yaw=self.yaw, feet=steps.feet, feet_yaw=steps.yaw, **self.cues))
        return Person(local=local, joints=joints, stance=steps.stance, yaw=self.yaw)


@dataclass
class Scene:
    """A generated interaction: people[0] is the initiator ("one person"), people[1] "the other"."""
    people: tuple
    texts: list
    side: Optional[str] = None         # the initiator's acting hand / direction named by the captions
    hand_actor: Optional[int] = None   # who moves the named hand (0 or 1), if a hand is named
    contacts: list = field(default_factory=list)  # (frame, person, joint, person, joint) meant to touch


def point(xz: np.ndarray, yaw: np.ndarray, local, height: float = 0.0) -> np.ndarray:
    """World points (T, 3) at body-frame offsets `local` (x left, y up, z forward) from the pelvis on the floor."""
    local = np.broadcast_to(np.asarray(local, dtype=np.float64), (len(yaw), 3))
    out = body_to_world(yaw, local)
    out[:, 0] += xz[:, 0]
    out[:, 2] += xz[:, 1]
    out[:, 1] += height
    return out


def chest_point(p: Person, local) -> np.ndarray:
    """World points (T, 3) at offsets (x left, y up, z forward) from a performed person's chest (spine3)."""
    return p.joints[:, CHEST] + body_to_world(p.yaw, np.broadcast_to(np.asarray(local, float), (len(p.yaw), 3)))


def head_guess(xz: np.ndarray) -> np.ndarray:
    """Where a standing person's head is, for look-at targets before that person is performed."""
    return np.stack([xz[:, 0], np.full(len(xz), HEAD_HEIGHT), xz[:, 1]], -1)


def pick_side(rng) -> int:
    return int(rng.integers(2))


def fill(rng, templates: list, k: int = 3, **words) -> list:
    """k distinct captions drawn from the templates, with {side}-style words filled in."""
    idx = rng.choice(len(templates), size=min(k, len(templates)), replace=False)
    return [templates[i].format(**words) for i in idx]


def meeting_distance(rng, lateral: float, height: float, lo: float = 0.82, hi: float = 0.95) -> float:
    """Pelvis distance at which two facing people's hands meet halfway at (lateral, height) comfortably."""
    dy = SHOULDER_HEIGHT - height
    half = np.sqrt(max(COMFORT_REACH ** 2 - lateral ** 2 - dy ** 2, 0.04))
    return 2.0 * half * rng.uniform(lo, hi)


def approach(rng, T: int, d: float, speed: float, mode: str):
    """Two people who end up facing each other `d` apart: A ends at the origin facing +Z, B at (0, d).

    mode: "near" (already there), "one" (A walks up to a waiting B), "both" (both walk in).
    Returns paths and the frame at which both have arrived.
    """
    gap_a = rng.uniform(1.5, 3.5) if mode in ("one", "both") else 0.0
    gap_b = rng.uniform(1.0, 2.5) if mode == "both" else 0.0
    pa, pb = Path(T, (rng.uniform(-0.3, 0.3), -gap_a)), Path(T, (rng.uniform(-0.3, 0.3), d + gap_b))
    pa.wait(sec(rng.uniform(0.2, 0.8)))
    pb.wait(sec(rng.uniform(0.2, 0.8)))
    end_a = pa.go((0.0, 0.0), speed)[1] if gap_a else pa.t
    end_b = pb.go((0.0, d), speed * rng.uniform(0.85, 1.1))[1] if gap_b else pb.t
    return pa, pb, max(end_a, end_b)


def face_each_other(a_xz: np.ndarray, b_xz: np.ndarray):
    """Headings that walk forward when moving and face the partner when still."""
    return travel_heading(a_xz, facing(a_xz, b_xz)), travel_heading(b_xz, facing(b_xz, a_xz))


def finish(T_end: int, rng, extra=(0.4, 1.0)) -> int:
    return int(np.clip(T_end + sec(rng.uniform(*extra)), MIN_FRAMES, MAX_FRAMES))


# ------------------------------------------------------------------------------------------- kinds
def handshake(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    height = rng.uniform(1.0, 1.1)
    lateral = 0.05
    d = meeting_distance(rng, SHOULDER_WIDTH - lateral, height)
    mode = rng.choice(["near", "one", "both"], p=[0.25, 0.45, 0.3])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.3), mode)
    t_grip = arrive + sec(rng.uniform(0.1, 0.4))
    hold = sec(rng.uniform(1.0, 2.0))
    t_release = t_grip + hold
    back = rng.random() < 0.4
    if back:
        pa.t = pb.t = t_release + sec(0.3)
        pa.go((0.0, -rng.uniform(0.3, 0.6)), 0.6)
        end = pb.go((0.0, d + rng.uniform(0.3, 0.6)), 0.6)[1]
    else:
        end = t_release + sec(0.5)
    T = finish(end, rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    # The hands meet halfway, a little to the initiator's acting side, and pump up and down.
    pumps = rng.integers(2, 5)
    meet = point(np.zeros((T, 2)) + [0.0, 0.5 * d], np.zeros(T), [sigma * lateral, 0.0, 0.0], height)
    t = np.arange(T)
    pump = 0.035 * np.sin(2 * np.pi * pumps * np.clip((t - t_grip) / hold, 0, 1)) * window(T, t_grip, t_grip + 3,
                                                                                         t_release - 3, t_release)
    meet[:, 1] += pump
    w = window(T, t_grip - sec(0.6), t_grip, t_release, t_release + sec(0.5))
    pole = np.tile([sigma * 0.5, -1.0, -0.3], (T, 1))
    a = Actor(xa, ya, dict(hands={s: HandCue(meet, w, pole)}, look=head_guess(xb), bend=0.08 * w))
    b = Actor(xb, yb, dict(hands={s: HandCue(meet, w, pole)}, look=head_guess(xa), bend=0.08 * w))
    texts = fill(rng, [
        "two people walk up to each other and shake {side} hands.",
        "one person approaches the other and they shake hands with their {side} hands.",
        "two people greet each other with a handshake, using their {side} hands.",
        "the two people meet, reach out their {side} hands and shake hands.",
        "one person and the other shake hands with their {side} hands, pumping a few times.",
    ] if mode != "near" else [
        "two people stand facing each other and shake {side} hands.",
        "two people shake hands with their {side} hands.",
        "facing each other, two people reach out their {side} hands and shake.",
        "the two people greet each other with a handshake, using their {side} hands.",
    ], side=SIDES[s])
    if back:
        texts = [t[:-1] + ", then step back." for t in texts]
    mid = (t_grip + t_release) // 2
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0, [(mid, 0, WRIST[s], 1, WRIST[s])])


KINDS: dict[str, Callable] = {
    "handshake": handshake,
}
