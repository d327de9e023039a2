"""What every kind is made of: the people (`Person`, `Actor`, `actor`), the `Scene` they form, and the staging
helpers the kinds share (body points, approaching, facing, timing, captions, `prepass`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ....skeleton import FPS, MAX_FRAMES
from .. import gait
from ..rig import ARM_REACH, REST, REST_HAND, SIDES, STAND_HEIGHT, Cues, J, body_to_world, pose
from ..timeline import Path, facing, sec, travel_heading

HEAD, CHEST, PELVIS = J["head"], J["spine3"], J["pelvis"]
WRIST = (J["l_wrist"], J["r_wrist"])
SHOULDER = (J["l_shoulder"], J["r_shoulder"])
MIN_FRAMES = 2 * FPS  # kinds last 2-10 s
SHOULDER_HEIGHT = STAND_HEIGHT + REST[J["l_shoulder"], 1]
CHEST_HEIGHT = STAND_HEIGHT + REST[CHEST, 1]
HEAD_HEIGHT = STAND_HEIGHT + REST[HEAD, 1]
COMFORT_REACH = 0.95 * ARM_REACH  # how far a hand is sent from its shoulder for a touch (arm nearly straight)
KICK_TOE_POINT = 0.6              # radians the toes point down in a kick
GUARD = np.array([[0.11, 0.17, 0.30], [-0.11, 0.17, 0.30]])    # fists before the face, chest frame
# Personal style ranges (see `actor`): arm swing gain, forward posture (radians), breathing and weight sway.
ARM_SWING = (0.22, 0.45)
POSTURE = (-0.03, 0.06)
BREATH_AMPLITUDE, BREATH_RATE = 0.02, (0.2, 0.35)   # radians of spine bend, Hz
SWAY_AMPLITUDE, SWAY_RATE = 0.015, (0.15, 0.3)      # metres of sideways pelvis shift, Hz


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

    feet: dict = field(default_factory=dict)  # side -> (target (T, 3), weight (T,)): a foot off its steps (kicks)

    def perform(self, *, legs: bool = True) -> Person:
        steps = gait.plan_steps(self.xz, self.yaw, stance=self.stance, pace=self.pace)
        feet, pitch, stance = steps.feet.copy(), np.zeros((2, len(self.yaw))), steps.stance.copy()
        for side, (target, w) in self.feet.items():
            feet[side] = (1.0 - w[:, None]) * feet[side] + w[:, None] * target
            pitch[side] = KICK_TOE_POINT * w
            stance[side] &= w < 1e-3
        xz = self.xz + gait.weight_shift(self.xz, self.yaw, steps)
        local, _, joints = pose(Cues(root_xz=xz, yaw=self.yaw, feet=feet, feet_yaw=steps.yaw, feet_pitch=pitch,
                                     **self.cues), legs=legs)
        return Person(local=local, joints=joints, stance=stance, yaw=self.yaw)


def actor(rng, xz: np.ndarray, yaw: np.ndarray, cues: Optional[dict] = None, **kwargs) -> Actor:
    """An Actor with a personal style drawn from `rng`, so that no two people move identically: how much the
    arms swing, a slight slouch or upright posture, breathing, and a slow sway of the weight. Cues the
    choreography sets itself (e.g. a boxer's small arm swing) win over the style."""
    cues = dict(cues or {})
    t = np.arange(len(yaw)) / FPS
    cues.setdefault("arm_swing", rng.uniform(*ARM_SWING))
    breathing = BREATH_AMPLITUDE * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(*BREATH_RATE) * t
                                                                  + rng.uniform(0, 2 * np.pi))
    cues["bend"] = cues.get("bend", 0.0) + rng.uniform(*POSTURE) + breathing
    sway = SWAY_AMPLITUDE * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(*SWAY_RATE) * t
                                                         + rng.uniform(0, 2 * np.pi))
    xz = xz + sway[:, None] * lateral(yaw)[:, [0, 2]]
    return Actor(xz, yaw, cues, **kwargs)


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


def head_guess(xz: np.ndarray) -> np.ndarray:
    """Where a standing person's head is, for look-at targets before that person is performed."""
    return np.stack([xz[:, 0], np.full(len(xz), HEAD_HEIGHT), xz[:, 1]], -1)


def pick_side(rng) -> int:
    return int(rng.integers(2))


def fill(rng, templates: list, k: int = 3, **words) -> list:
    """k distinct captions drawn from the templates, with {side}-style words filled in."""
    idx = rng.choice(len(templates), size=min(k, len(templates)), replace=False)
    return [templates[i].format(**words) for i in idx]


def sided_captions(rng, both: bool, s: int, both_hands: list, one_hand: list) -> tuple[list, Optional[str],
                                                                                         Optional[int]]:
    """(captions, side, hand actor) of a move person A makes with both hands (no side named) or with hand `s`."""
    if both:
        return fill(rng, both_hands), None, None
    return fill(rng, one_hand, side=SIDES[s]), SIDES[s], 0


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
    # Walkers start a little off the line between the two spots; whoever does not walk is already there.
    pa = Path(T, (rng.uniform(-0.3, 0.3) if gap_a else 0.0, -gap_a))
    pb = Path(T, (rng.uniform(-0.3, 0.3) if gap_b else 0.0, d + gap_b))
    pa.wait(sec(rng.uniform(0.2, 0.8)))
    pb.wait(sec(rng.uniform(0.2, 0.8)))
    end_a = pa.go((0.0, 0.0), speed)[1] if gap_a else pa.t
    end_b = pb.go((0.0, d), speed * rng.uniform(0.85, 1.1))[1] if gap_b else pb.t
    return pa, pb, max(end_a, end_b)


def face_each_other(a_xz: np.ndarray, b_xz: np.ndarray):
    """Headings that walk forward when approaching and face the partner otherwise (standing, stepping back)."""
    return (travel_heading(a_xz, facing(a_xz, b_xz), forward_only=True),
            travel_heading(b_xz, facing(b_xz, a_xz), forward_only=True))


def finish(T_end: int, rng, extra=(0.4, 1.0)) -> int:
    return int(np.clip(T_end + sec(rng.uniform(*extra)), MIN_FRAMES, MAX_FRAMES))


def prepass(*actors: Actor) -> list:
    """Perform actors without their hand cues or leg IK: the torso and head are already final."""
    out = []
    for a in actors:
        cues = {k: v for k, v in a.cues.items() if k != "hands"}
        out.append(Actor(a.xz, a.yaw, cues, a.stance, a.pace, a.feet).perform(legs=False))
    return out


def lateral(yaw: np.ndarray) -> np.ndarray:
    """(T, 3) the person's left direction on the floor."""
    return body_to_world(yaw, np.broadcast_to([1.0, 0.0, 0.0], (len(yaw), 3)))


def rest_hands(T: int, local=None) -> np.ndarray:
    """(2, T, 3) rest wrist targets in the chest frame (default: hanging arms), to edit per frame."""
    base = REST_HAND if local is None else np.asarray(local, dtype=np.float64)
    return np.repeat(base[:, None], T, axis=1).copy()
