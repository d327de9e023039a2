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
from .rig import (ARM_REACH, REST, REST_HAND, SHOULDER_WIDTH, SIDE_SIGN, SIDES, SPINE, STAND_HEIGHT, Cues, HandCue, J,
                  body_to_world, pose, yaw_dir)
from .timeline import Path, blend_yaw, facing, ramp, sec, smoothstep, travel_heading, walk_curve, window

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
RUN_ACCEL = 1.0                   # seconds a runner takes to reach full speed
RUN_PACE = 0.75                   # runners take quicker steps than walkers at the same speed
RUN_HANDS = np.array([[0.20, -0.17, 0.12], [-0.20, -0.17, 0.12]])  # bent arms of a runner, chest frame


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


# ------------------------------------------------------------------------------------------- kinds
def handshake(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    height = rng.uniform(1.08, 1.15)
    lateral = 0.05
    d = meeting_distance(rng, SHOULDER_WIDTH - lateral, height, 0.9, 0.96)
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
    a = actor(rng, xa, ya, dict(hands={s: HandCue(meet, w, pole)}, look=head_guess(xb), bend=0.08 * w))
    b = actor(rng, xb, yb, dict(hands={s: HandCue(meet, w, pole)}, look=head_guess(xa), bend=0.08 * w))
    texts = fill(rng, [
        "two people walk up to each other and shake {side} hands.",
        "one person approaches the other and they shake hands with their {side} hands.",
        "two people greet each other with a handshake, using their {side} hands.",
        "the two people meet, reach out their {side} hands and shake hands.",
        "one person and the other shake hands with their {side} hands, pumping a few times.",
        "two people meet and shake hands.",
    ] if mode != "near" else [
        "two people stand facing each other and shake {side} hands.",
        "two people shake hands with their {side} hands.",
        "facing each other, two people reach out their {side} hands and shake.",
        "the two people greet each other with a handshake, using their {side} hands.",
        "two people shake hands.",
    ], side=SIDES[s])
    if back:
        texts = [t[:-1] + ", then step back." for t in texts]
    mid = (t_grip + t_release) // 2
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0, [(mid, 0, WRIST[s], 1, WRIST[s])])



def _prepass(*actors: Actor) -> list:
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


def hug(rng) -> Scene:
    d = rng.uniform(0.30, 0.36)
    mode = rng.choice(["near", "one", "both"], p=[0.2, 0.45, 0.35])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.2), mode)
    t_wrap = arrive + sec(0.2)
    t_open = t_wrap - sec(0.9)
    t_release = t_wrap + sec(rng.uniform(1.2, 2.5))
    back = rng.random() < 0.5
    if back:
        pa.t = pb.t = t_release + sec(0.4)
        pa.go((0.0, -rng.uniform(0.4, 0.7)), 0.6)
        end = pb.go((0.0, d + rng.uniform(0.4, 0.7)), 0.6)[1]
    else:
        end = t_release + sec(0.8)
    T = finish(end, rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    w = window(T, t_open, t_wrap, t_release, t_release + sec(0.7))
    bend = 0.15 * w
    a, b = actor(rng, xa, ya, dict(look=head_guess(xb), bend=bend)), actor(rng, xb, yb, dict(look=head_guess(xa), bend=bend))
    pre = _prepass(a, b)
    high = rng.random() < 0.5  # one person's arms go over the other's shoulders, the other's round the waist
    wrap_in = ramp(T, t_open + sec(0.45), t_wrap)
    for me, you, up in ((a, pre[1], 0.10 if high else -0.18), (b, pre[0], -0.18 if high else 0.10)):
        hands = {}
        for k in (0, 1):
            side_dir = SIDE_SIGN[k] * lateral(me.yaw)
            back_pt = you.joints[:, CHEST] - 0.11 * yaw_dir(you.yaw) + 0.10 * side_dir + [0.0, up, 0.0]
            open_pt = point(me.xz, me.yaw, [SIDE_SIGN[k] * 0.55, 0.0, 0.30], SHOULDER_HEIGHT)
            target = (1.0 - wrap_in[:, None]) * open_pt + wrap_in[:, None] * back_pt
            hands[k] = HandCue(target, w, np.tile([SIDE_SIGN[k] * 1.0, 0.3, -0.3], (T, 1)))
        me.cues["hands"] = hands
    texts = fill(rng, [
        "two people walk toward each other and hug.",
        "one person walks up to the other and they embrace.",
        "two people open their arms and hug each other warmly.",
        "the two people meet and give each other a big hug.",
    ] if mode != "near" else [
        "two people standing face to face hug each other.",
        "two people embrace, wrapping their arms around each other.",
        "the two people hug warmly.",
        "two people give each other a hug.",
    ])
    if back:
        texts = [t[:-1] + ", then let go and step back." for t in texts]
    return Scene((a.perform(), b.perform()), texts)


def high_five(rng) -> Scene:
    s = pick_side(rng)
    double = rng.random() < 0.25
    height = rng.uniform(1.65, 1.78)
    lat = 0.12 if not double else 0.25
    d = meeting_distance(rng, SHOULDER_WIDTH - lat, height, 0.85, 0.95)
    mode = rng.choice(["near", "one", "both"], p=[0.3, 0.4, 0.3])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(1.0, 1.4), mode)
    t_c = arrive + sec(rng.uniform(0.2, 0.5))
    end = t_c + sec(rng.uniform(0.8, 1.5))
    T = finish(end, rng, (0.2, 0.6))
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    w = window(T, t_c - sec(0.7), t_c - sec(0.1), t_c + sec(0.15), t_c + sec(0.7))
    swing = 1.0 - ramp(T, t_c - sec(0.3), t_c)  # hands wait cocked, then swing into the slap
    a, b = actor(rng, xa, ya, dict(look=head_guess(xb))), actor(rng, xb, yb, dict(look=head_guess(xa)))
    sides_a = (0, 1) if double else (s,)
    contacts = []
    mid = np.repeat([[0.0, 0.0, 0.5 * d]], T, 0)
    for k in sides_a:
        meet = mid + [SIDE_SIGN[k] * lat, height, 0.0]
        # B uses the hand on the same side of the world: their other-named hand.
        for me, hand, fwd in ((a, k, [0, 0, 1.0]), (b, 1 - k, [0, 0, -1.0])):
            target = meet - 0.15 * swing[:, None] * np.asarray(fwd) + 0.08 * swing[:, None] * [0, 1, 0]
            pole = np.tile([SIDE_SIGN[hand] * 1.0, -0.3, -0.4], (T, 1))
            me.cues.setdefault("hands", {})[hand] = HandCue(target, w, pole)
        contacts.append((t_c, 0, WRIST[k], 1, WRIST[1 - k]))
    texts, side, mover = sided_captions(
        rng, double, s,
        both_hands=["two people give each other a double high five with both hands.",
                    "two people raise both hands and high five each other.",
                    "the two people meet and slap both hands together in a high five.",
                    "one person and the other high five with both hands."],
        one_hand=["one person raises their {side} hand and gives the other a high five.",
                  "one person high fives the other with their {side} hand.",
                  "two people high five, one person using their {side} hand.",
                  "one person lifts their {side} hand up high and the other slaps it in a high five.",
                  "two people give each other a high five."])
    return Scene((a.perform(), b.perform()), texts, side, mover, contacts)


def push(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    both = rng.random() < 0.5
    d = rng.uniform(0.72, 0.85)
    mode = rng.choice(["near", "one"], p=[0.5, 0.5])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.3), mode)
    t_c = arrive + sec(rng.uniform(0.3, 0.8))
    dist = rng.uniform(0.6, 1.2)
    pb.t = t_c
    pb.go((rng.uniform(-0.2, 0.2), d + dist), rng.uniform(0.9, 1.3), accel=0.25)
    pa.t = t_c - sec(0.35)
    pa.go((0.0, rng.uniform(0.1, 0.25)), 0.8, accel=0.2)
    end = max(pb.t, t_c + sec(1.3))
    T = finish(end, rng, (0.6, 1.2))
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = facing(xa, xb), facing(xb, xa)  # B staggers backwards, still facing A
    hit = window(T, t_c, t_c + sec(0.15), t_c + sec(0.45), t_c + sec(1.3))
    flail = rest_hands(T) + hit[None, :, None] * np.array([[0.18, 0.30, 0.10], [-0.18, 0.30, 0.10]])[:, None]
    b = actor(rng, xb, yb, dict(look=head_guess(xa), bend=-0.3 * hit, rest_hand=flail, arm_swing=0.1), pace=0.75)
    w = window(T, t_c - sec(0.4), t_c, t_c + sec(0.2), t_c + sec(0.6))
    a = actor(rng, xa, ya, dict(look=head_guess(xb), bend=0.22 * w))
    pre_b = _prepass(b)[0]
    hands = {}
    for k in ((0, 1) if both else (s,)):
        off = SIDE_SIGN[k] * 0.11 if both else sigma * 0.14
        target = pre_b.joints[:, CHEST] + 0.13 * yaw_dir(pre_b.yaw) + off * lateral(a.yaw) + [0, 0.02, 0]
        hands[k] = HandCue(target, w, np.tile([SIDE_SIGN[k] * 0.6, -1.0, -0.3], (T, 1)))
    a.cues["hands"] = hands
    texts, side, mover = sided_captions(
        rng, both, s,
        both_hands=["one person shoves the other with both hands, and the other staggers backward.",
                    "one person pushes the other hard in the chest with both hands, sending them stumbling back.",
                    "one person pushes the other away with both hands and the other stumbles backward.",
                    "using both hands, one person pushes the other, who staggers back a few steps."],
        one_hand=["one person pushes the other with their {side} hand, and the other staggers back.",
                  "using their {side} hand, one person shoves the other, who stumbles backward.",
                  "one person shoves the other's shoulder with their {side} hand, pushing them back.",
                  "one person pushes the other away with their {side} hand and the other stumbles back.",
                  "one person pushes the other, who stumbles backward."])
    return Scene((a.perform(), b.perform()), texts, side, mover)


def _bow_curve(T: int, t0: int, depth: float, hold: int) -> np.ndarray:
    """(T,) forward tilt of a bow starting at frame t0: down in 0.55 s, held, up in 0.6 s."""
    down, up = sec(0.55), sec(0.6)
    return depth * window(T, t0, t0 + down, t0 + down + hold, t0 + down + hold + up)


def bow(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    d = rng.uniform(1.2, 2.2)
    mode = rng.choice(["near", "one"], p=[0.7, 0.3])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.2), mode)
    together = rng.random() < 0.35
    hand = rng.random() < 0.4
    t_a = arrive + sec(rng.uniform(0.3, 0.8))
    t_b = t_a + (sec(rng.uniform(0.0, 0.15)) if together else sec(rng.uniform(0.5, 1.2)))
    hold_a, hold_b = sec(rng.uniform(0.3, 0.9)), sec(rng.uniform(0.3, 0.9))
    T = finish(max(t_a + hold_a, t_b + hold_b) + sec(1.2), rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    cues = []
    for t0, hold in ((t_a, hold_a), (t_b, hold_b)):
        depth = _bow_curve(T, t0, rng.uniform(0.5, 0.95), hold)  # total forward tilt (radians)
        cues.append(dict(pitch=0.35 * depth, bend=0.65 * depth, nod=0.4 * depth / 0.95))
    a = actor(rng, xa, ya, dict(cues[0], look=head_guess(xb)))
    b = actor(rng, xb, yb, dict(cues[1], look=head_guess(xa)))
    if hand:
        pre = _prepass(a)[0]
        w = window(T, t_a - sec(0.5), t_a, t_a + hold_a + sec(0.5), t_a + hold_a + sec(1.1))
        target = pre.joints[:, CHEST] + 0.14 * _chest_forward(pre) - sigma * 0.05 * lateral(ya) + [0, -0.02, 0]
        a.cues["hands"] = {s: HandCue(target, w, np.tile([sigma * 0.8, -1.0, 0.0], (T, 1)))}
        texts = fill(rng, ["one person puts their {side} hand on their chest and bows to the other, who bows back.",
                           "with their {side} hand over their heart, one person bows to the other, and the other returns the bow.",
                           "one person places their {side} hand on their chest and bows; the other bows in return."],
                     side=SIDES[s])
        return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)
    texts = fill(rng, ["two people face each other and bow at the same time.",
                       "both people bow politely to each other.",
                       "two people bow to each other together."] if together else
                 ["one person bows to the other, and the other bows back.",
                  "one person bows deeply, then the other returns the bow.",
                  "one person bows politely and the other bows in return.",
                  "facing each other, one person bows first and the other follows."])
    return Scene((a.perform(), b.perform()), texts)


def _chest_forward(p: Person) -> np.ndarray:
    """(T, 3) the direction a person's chest faces (the spine3 frame's +Z)."""
    G = p.local[:, 0]  # world rotation of spine3 = root @ spine1 @ spine2 @ spine3
    for j in SPINE:
        G = G @ p.local[:, j]
    return G[:, :, 2]


def wave(rng) -> Scene:
    s = pick_side(rng)
    d = rng.uniform(3.0, 6.0)
    T = MAX_FRAMES
    pa, pb = Path(T, (0.0, 0.0)), Path(T, (rng.uniform(-1, 1), d))
    t_a = sec(rng.uniform(0.4, 1.2))
    dur_a = sec(rng.uniform(1.5, 3.0))
    back = rng.random() < 0.65
    t_b = t_a + sec(rng.uniform(0.4, 1.0))
    dur_b = sec(rng.uniform(1.2, 2.5))
    walk = rng.random() < 0.35
    end = max(t_a + dur_a, t_b + dur_b if back else 0) + sec(0.6)
    if walk:
        pa.t = t_a + dur_a + sec(0.2)
        pa.go(pb.xz[0] + (pa.xz[0] - pb.xz[0]) * 1.2 / d, rng.uniform(1.0, 1.3))
        end = max(end, pa.t)
    T = finish(end, rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    a, b = actor(rng, xa, ya, dict(look=head_guess(xb))), actor(rng, xb, yb, dict(look=head_guess(xa)))
    pre = _prepass(a, b)
    sb = pick_side(rng)
    for me, p, side, t0, dur in ((a, pre[0], s, t_a, dur_a), (b, pre[1], sb, t_b, dur_b)):
        if me is b and not back:
            continue
        sg = SIDE_SIGN[side]
        t = np.arange(T)
        freq = rng.uniform(1.6, 2.4)
        wave_x = 0.13 * np.sin(2 * np.pi * freq * (t - t0) / FPS) * window(T, t0 + sec(0.3), t0 + sec(0.5), t0 + dur, t0 + dur + sec(0.2))
        local = np.stack([sg * (0.35 + wave_x * sg), np.full(T, 0.42), np.full(T, 0.12)], -1)
        target = p.joints[:, CHEST] + body_to_world(me.yaw, local)
        w = window(T, t0, t0 + sec(0.45), t0 + dur, t0 + dur + sec(0.5))
        me.cues["hands"] = {side: HandCue(target, w, np.tile([sg * 1.0, -0.6, -0.2], (T, 1)))}
    first = ["one person waves at the other with their {side} hand from a distance.",
             "from far away, one person raises their {side} hand and waves to the other.",
             "one person waves their {side} hand at the other across the room.",
             "one person greets the other from afar by waving their {side} hand.",
             "one person waves to the other from far away."]
    texts = fill(rng, first, side=SIDES[s])
    if back:
        texts = [t[:-1] + ", and the other waves back." for t in texts]
    if walk:
        texts = [t[:-1] + ", then walks over to them." if not back else t[:-1] + "; then the first one walks over."
                 for t in texts]
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)


def side_by_side(rng) -> Scene:
    gap = rng.uniform(0.6, 1.0)
    speed = rng.uniform(1.0, 1.35)
    T = MAX_FRAMES
    t_start, dur = sec(rng.uniform(0.2, 0.8)), sec(rng.uniform(4.0, 8.0))
    t_stop = min(t_start + dur, MAX_FRAMES - sec(0.5))
    turn = rng.choice(["none", "left", "right"], p=[0.4, 0.3, 0.3])
    turns = ()
    if turn != "none":
        t0 = rng.integers(t_start + sec(1.0), max(t_start + sec(1.1), t_stop - sec(3.0)))
        angle = rng.uniform(0.9, 1.7) * (1.0 if turn == "left" else -1.0)
        turns = ((t0, t0 + sec(2.5), angle),)  # slow enough that the outer walker need not run
    centre, heading = walk_curve(T, (0.0, 0.0), 0.0, t_start, t_stop, speed, turns=turns)
    T = finish(t_stop, rng, (0.3, 0.8))
    centre, heading = centre[:T], heading[:T]
    a_left = rng.random() < 0.5  # A walks on the left of B
    side_a = 0 if a_left else 1
    lat = lateral(heading)[:, [0, 2]]
    xa = centre + SIDE_SIGN[side_a] * 0.5 * gap * lat
    xb = centre - SIDE_SIGN[side_a] * 0.5 * gap * lat
    holding = rng.random() < 0.3
    a, b = actor(rng, xa, heading.copy()), actor(rng, xb, heading.copy())
    if rng.random() < 0.5:  # they turn their heads to each other for a moment, chatting
        t_chat = t_start + sec(rng.uniform(0.8, 2.0))
        chat = window(T, t_chat, t_chat + sec(0.4), t_chat + sec(1.5), t_chat + sec(2.0))[:, None]
        ahead = 5.0 * yaw_dir(heading)
        a.cues["look"] = chat * head_guess(xb) + (1 - chat) * (head_guess(xa) + ahead)
        b.cues["look"] = chat * head_guess(xa) + (1 - chat) * (head_guess(xb) + ahead)
    if holding:
        inner_a, inner_b = 1 - side_a, side_a  # the hands between them
        meet = np.c_[centre[:, 0], np.full(T, 0.85), centre[:, 1]] + 0.05 * yaw_dir(heading)
        w = ramp(T, 0, sec(0.3))
        a.cues["hands"] = {inner_a: HandCue(meet, w, np.tile([SIDE_SIGN[inner_a] * 0.3, -0.2, -1.0], (T, 1)))}
        b.cues["hands"] = {inner_b: HandCue(meet, w, np.tile([SIDE_SIGN[inner_b] * 0.3, -0.2, -1.0], (T, 1)))}
        a.cues["arm_swing"] = b.cues["arm_swing"] = 0.15
    base = ["two people walk side by side", "two people walk forward next to each other",
            "two people stroll along side by side"]
    if holding:
        base = ["two people walk side by side holding hands", "holding hands, two people walk forward together",
                "two people walk hand in hand"]
    if turn != "none":
        texts = fill(rng, [b_ + ", then turn {turn} together." for b_ in base] +
                     ["walking next to each other, two people make a {turn} turn."], turn=turn)
    else:
        texts = fill(rng, [b_ + "." for b_ in base] + ["two people walk together in a straight line."])
    return Scene((a.perform(), b.perform()), texts, None if turn == "none" else str(turn))


def circle(rng) -> Scene:
    ccw = rng.random() < 0.5
    r = rng.uniform(0.75, 1.15)
    omega = rng.uniform(0.5, 0.9)
    angle = rng.uniform(0.8, 2.0) * np.pi
    t0 = sec(rng.uniform(0.3, 0.8))
    t1 = t0 + sec(angle / omega)
    T = finish(t1, rng, (0.4, 1.0))
    theta = rng.uniform(0, 2 * np.pi) + (1.0 if ccw else -1.0) * angle * ramp(T, t0, t1)
    u = np.stack([np.sin(theta), np.cos(theta)], -1)
    xa, xb = -r * u, r * u
    guard = rng.random() < 0.5
    extra = dict(height=np.full(T, -0.05) + STAND_HEIGHT, bend=np.full(T, 0.15))
    if guard:
        extra["rest_hand"] = rest_hands(T, GUARD)
    a = actor(rng, xa, facing(xa, xb), dict(extra, look=head_guess(xb)))
    b = actor(rng, xb, facing(xb, xa), dict(extra, look=head_guess(xa)))
    word = "counterclockwise" if ccw else "clockwise"
    texts = fill(rng, ["two people circle each other {dir}, facing each other.",
                       "keeping their eyes on each other, two people move around in a {dir} circle.",
                       "two people side-step around each other {dir}, sizing each other up.",
                       "facing each other, the two people slowly circle {dir}."], dir=word)
    return Scene((a.perform(), b.perform()), texts, word)


def boxing(rng) -> Scene:
    s = pick_side(rng)
    alternate = rng.random() < 0.3
    d = rng.uniform(0.8, 0.95)
    n = int(rng.integers(2, 6))
    T = MAX_FRAMES
    t = sec(rng.uniform(0.5, 1.0))
    punches = []
    for k in range(n):
        hand = (s if k % 2 == 0 else 1 - s) if alternate else s
        punches.append((t, hand))
        t += sec(rng.uniform(0.45, 0.8))
    T = finish(t + sec(0.3), rng)
    lead = pick_side(rng)  # which foot is forward in the fighting stance
    stance = np.array([[0.05 * SIDE_SIGN[k], 0.13 if k == lead else -0.13] for k in (0, 1)])
    xa = np.zeros((T, 2))
    xb = np.tile([0.0, d], (T, 1))
    common = dict(height=np.full(T, STAND_HEIGHT - 0.05), rest_hand=rest_hands(T, GUARD), arm_swing=0.05)
    twist = np.zeros(T)
    lean_a = np.full(T, 0.1)
    lean_b = np.full(T, 0.1)
    block = np.zeros(T)
    hands = {0: [], 1: []}
    for t0, hand in punches:
        wk = window(T, t0, t0 + sec(0.13), t0 + sec(0.17), t0 + sec(0.4))
        twist -= SIDE_SIGN[hand] * 0.35 * wk
        lean_a += 0.08 * wk
        block = np.maximum(block, window(T, t0 - sec(0.15), t0 + sec(0.05), t0 + sec(0.25), t0 + sec(0.5)))
        hands[hand].append(wk)
    lean_b -= 0.15 * block
    b_rest = rest_hands(T, GUARD) + block[None, :, None] * np.array([[0.0, 0.07, 0.05], [0.0, 0.07, 0.05]])[:, None]
    b = actor(rng, xb, np.full(T, np.pi), dict(common, rest_hand=b_rest, bend=lean_b, look=head_guess(xa)), stance=stance)
    a = actor(rng, xa, np.zeros(T), dict(common, bend=lean_a, twist=twist, look=head_guess(xb)), stance=stance)
    pre_b = _prepass(b)[0]
    cues = {}
    for hand, ws in hands.items():
        if ws:
            w = np.clip(np.sum(ws, 0), 0, 1)
            target = pre_b.joints[:, HEAD] + 0.2 * yaw_dir(pre_b.yaw) + SIDE_SIGN[hand] * 0.03 * lateral(a.yaw)
            cues[hand] = HandCue(target, w, np.tile([SIDE_SIGN[hand] * 1.0, -0.5, -0.2], (T, 1)))
    a.cues["hands"] = cues
    texts, side, mover = sided_captions(
        rng, alternate, s,
        both_hands=["one person throws a flurry of punches at the other, who blocks with raised arms.",
                    "in a boxing stance, one person throws several punches with both fists while the other blocks.",
                    "one person punches at the other again and again, and the other covers up and blocks."],
        one_hand=["one person throws punches at the other with their {side} fist, and the other blocks.",
                  "in a boxing stance, one person jabs at the other's face with their {side} hand while the other covers up.",
                  "one person punches at the other with their {side} hand; the other raises their guard and blocks.",
                  "two people spar: one person throws {side} jabs and the other blocks them.",
                  "two people box; one throws punches and the other blocks."])
    return Scene((a.perform(), b.perform()), texts, side, mover)


def chase(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    v_b = rng.uniform(1.6, 2.0)  # a jog: the gait has no flight phase, so no sprints
    v_a = v_b + rng.uniform(0.3, 0.5)
    gap0 = rng.uniform(2.0, 3.0)
    tag = rng.random() < 0.7
    T = MAX_FRAMES
    t_b = sec(rng.uniform(0.2, 0.5))
    dur = sec(rng.uniform(4.0, 7.0))
    t_stop = min(t_b + dur, MAX_FRAMES - sec(0.6))
    turn = rng.random() < 0.5
    turns = ((t_b + sec(1.2), t_b + sec(3.0), rng.uniform(0.8, 1.6) * rng.choice([-1, 1])),) if turn else ()
    # B's route, sampled finely by arc length so that A can follow it at any distance behind.
    xb, yb = walk_curve(T, (0.0, gap0), 0.0, t_b, t_stop, v_b, turns=turns, accel=RUN_ACCEL)
    step = np.linalg.norm(np.diff(xb, axis=0), axis=-1)
    s_b = np.concatenate([[0.0], np.cumsum(step)])
    t_a = t_b + sec(rng.uniform(0.2, 0.6))
    xa_dummy, _ = walk_curve(T, (0.0, 0.0), 0.0, t_a, t_stop, v_a, accel=RUN_ACCEL)
    s_a = np.linalg.norm(xa_dummy - xa_dummy[0], axis=-1) - gap0
    keep = 0.55 if tag else 1.4
    s_a = np.minimum(s_a, s_b - keep)
    s_a = np.maximum.accumulate(s_a)
    route_s = np.concatenate([[-10.0], s_b])
    route = np.concatenate([xb[:1] - [np.sin(yb[0]) * 10, np.cos(yb[0]) * 10], xb])
    route_s, idx = np.unique(route_s, return_index=True)
    route = route[idx]
    xa = np.stack([np.interp(s_a, route_s, route[:, 0]), np.interp(s_a, route_s, route[:, 1])], -1)
    T = finish(t_stop, rng, (0.4, 0.8))
    xa, xb, yb = xa[:T], xb[:T], yb[:T]
    ya = travel_heading(xa, facing(xa, xb))
    yb = travel_heading(xb, yb)
    run = lambda x: np.clip(np.linalg.norm(np.gradient(x, axis=0), axis=-1) * FPS / 2.0, 0, 1)
    cues = lambda x: dict(pitch=0.12 * run(x), rest_hand=rest_hands(T) * (1 - run(x))[None, :, None]
                          + rest_hands(T, RUN_HANDS) * run(x)[None, :, None], arm_swing=0.5)
    a = actor(rng, xa, ya, dict(cues(xa), look=head_guess(xb)), pace=RUN_PACE)
    b = actor(rng, xb, yb, cues(xb), pace=RUN_PACE)
    if tag:
        close = np.flatnonzero(s_b[:T] - s_a[:T] < keep + 0.05)
        t_tag = int(close[0]) + sec(0.3) if len(close) else T - sec(0.5)
        t_tag = min(t_tag, T - sec(0.4))
        pre_b = _prepass(b)[0]
        target = pre_b.joints[:, CHEST] - 0.12 * yaw_dir(pre_b.yaw) + sigma * 0.12 * lateral(pre_b.yaw)
        w = window(T, t_tag - sec(0.3), t_tag, t_tag + sec(0.1), t_tag + sec(0.4))
        a.cues["hands"] = {s: HandCue(target, w, np.tile([sigma * 0.6, -1.0, -0.2], (T, 1)))}
        texts = fill(rng, ["one person chases the other and tags them on the back with their {side} hand.",
                           "one person runs after the other, catches up and touches their back with their {side} hand.",
                           "one person runs after the other and taps their back with the {side} hand.",
                           "playing tag, one person chases the other and touches them with their {side} hand.",
                           "one person chases the other and tags them."],
                     side=SIDES[s])
        return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)
    texts = fill(rng, ["one person chases after the other, who runs away.",
                       "one person runs away and the other runs after them.",
                       "one person runs after the other but cannot catch them.",
                       "two people run, one chasing the other."])
    return Scene((a.perform(), b.perform()), texts)


def pass_by(rng) -> Scene:
    k = pick_side(rng)  # each keeps to this side of their own path
    gap = rng.uniform(0.6, 1.0)
    length = rng.uniform(4.0, 6.0)
    va, vb = rng.uniform(1.0, 1.4), rng.uniform(1.0, 1.4)
    T = MAX_FRAMES
    x_lane = SIDE_SIGN[k] * 0.5 * gap
    pa, pb = Path(T, (x_lane, -0.5 * length)), Path(T, (-x_lane, 0.5 * length))
    pa.wait(sec(rng.uniform(0.2, 0.6)))
    pb.wait(sec(rng.uniform(0.2, 0.6)))
    beyond = rng.uniform(1.0, 2.0)
    pa.go((x_lane, 0.5 * length + beyond), va)
    pb.go((-x_lane, -0.5 * length - beyond), vb)
    T = finish(max(pa.t, pb.t), rng, (0.2, 0.6))
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya = travel_heading(xa, np.zeros(T))
    yb = travel_heading(xb, np.full(T, np.pi))
    a, b = actor(rng, xa, ya), actor(rng, xb, yb)
    if rng.random() < 0.6:  # they glance at each other while close
        dz = np.abs(xa[:, 1] - xb[:, 1])
        near = smoothstep((2.5 - dz) / 1.0)
        ahead_a = np.c_[xa[:, 0], np.full(T, HEAD_HEIGHT), xa[:, 1] + 5.0]
        ahead_b = np.c_[xb[:, 0], np.full(T, HEAD_HEIGHT), xb[:, 1] - 5.0]
        a.cues["look"] = (1 - near[:, None]) * ahead_a + near[:, None] * head_guess(xb)
        b.cues["look"] = (1 - near[:, None]) * ahead_b + near[:, None] * head_guess(xa)
    texts = fill(rng, ["two people walk toward each other and pass by, each keeping to their {side}.",
                       "two people walking in opposite directions pass each other, staying on their {side} side.",
                       "two people cross paths, each walking on their {side} side.",
                       "walking toward each other, two people keep to the {side} and pass by."], side=SIDES[k])
    return Scene((a.perform(), b.perform()), texts, SIDES[k])


def pat_shoulder(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    behind = rng.random() < 0.5
    T = MAX_FRAMES
    if behind:
        d = rng.uniform(0.40, 0.48)
        pa, pb = Path(T, (rng.uniform(-0.3, 0.3), -rng.uniform(2.0, 3.5))), Path(T, (0.0, d))
        pa.wait(sec(rng.uniform(0.2, 0.6)))
        arrive = pa.go((0.0, 0.0), rng.uniform(0.9, 1.2))[1]
        yb0 = 0.0
    else:
        d = rng.uniform(0.55, 0.65)
        pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.2), rng.choice(["near", "one"]))
        yb0 = np.pi
    t_p = arrive + sec(rng.uniform(0.1, 0.4))
    n_pats = int(rng.integers(2, 4))
    t_e = t_p + sec(0.35 * n_pats)
    turns = behind and rng.random() < 0.75
    T = finish(t_e + sec(1.8 if turns else 0.6), rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya = travel_heading(xa, facing(xa, xb))
    yb = np.full(T, yb0)
    if turns:
        yb = blend_yaw(yb, facing(xb, xa), ramp(T, t_e + sec(0.2), t_e + sec(1.1)))
    look_b = (head_guess(xb) + 5 * yaw_dir(yb)) if behind else head_guess(xa)
    if turns:
        w_look = ramp(T, t_e, t_e + sec(0.6))[:, None]
        look_b = (1 - w_look) * look_b + w_look * head_guess(xa)
    a = actor(rng, xa, ya, dict(look=head_guess(xb)))
    b = actor(rng, xb, np.unwrap(yb), dict(look=look_b))
    pre_b = _prepass(b)[0]
    shoulder = SHOULDER[s] if behind else SHOULDER[1 - s]  # the shoulder on the acting hand's side
    tt = np.arange(T)
    pat = 0.05 * np.abs(np.sin(np.pi * n_pats * np.clip((tt - t_p) / max(t_e - t_p, 1), 0, 1)))
    target = pre_b.joints[:, shoulder] + [0.0, 0.06, 0.0] + pat[:, None] * [0, 1.0, 0]
    w = window(T, t_p - sec(0.5), t_p, t_e, t_e + sec(0.5))
    a.cues["hands"] = {s: HandCue(target, w, np.tile([sigma * 0.6, -1.0, -0.4], (T, 1)))}
    if behind:
        texts = fill(rng, ["one person walks up behind the other and pats them on the shoulder with their {side} hand.",
                           "one person comes up from behind and taps the other on the shoulder with their {side} hand.",
                           "approaching from behind, one person pats the other's shoulder using their {side} hand.",
                           "one person walks up behind the other and taps them on the shoulder."],
                     side=SIDES[s])
        if turns:
            texts = [t[:-1] + ", and the other turns around." for t in texts]
    else:
        texts = fill(rng, ["one person pats the other on the shoulder with their {side} hand.",
                           "one person gives the other a friendly pat on the shoulder using their {side} hand.",
                           "facing the other, one person pats their shoulder a few times with the {side} hand.",
                           "one person pats the other on the shoulder."],
                     side=SIDES[s])
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)


def dance(rng) -> Scene:
    ccw = rng.random() < 0.5
    d = rng.uniform(0.6, 0.7)
    r = 0.5 * d
    omega = rng.uniform(0.8, 1.4)
    angle = rng.uniform(1.0, 3.0) * np.pi
    t0 = sec(rng.uniform(0.5, 1.0))
    t1 = t0 + sec(angle / omega)
    T = finish(t1, rng, (0.5, 1.0))
    theta = rng.uniform(0, 2 * np.pi) + (1.0 if ccw else -1.0) * angle * ramp(T, t0, t1)
    u = np.stack([np.sin(theta), np.cos(theta)], -1)
    tt = np.arange(T) / FPS
    beat = rng.uniform(0.8, 1.2)
    sway = 0.05 * np.sin(2 * np.pi * beat * tt)[:, None] * np.stack([u[:, 1], -u[:, 0]], -1)  # across the pair
    xa, xb = -r * u + sway, r * u + sway
    bob = STAND_HEIGHT - 0.03 + 0.02 * np.cos(4 * np.pi * beat * tt)
    ya, yb = facing(xa, xb), facing(xb, xa)
    a = actor(rng, xa, ya, dict(look=head_guess(xb), height=bob, lean=0.08 * np.sin(2 * np.pi * beat * tt)))
    b = actor(rng, xb, yb, dict(look=head_guess(xa), height=bob, lean=-0.08 * np.sin(2 * np.pi * beat * tt)))
    # Both hands held: A's left with B's right (the same side of the world) and A's right with B's left.
    mid = 0.5 * (xa + xb)
    lat_a = lateral(ya)
    w = ramp(T, 0, sec(0.3))
    for k in (0, 1):
        meet = np.c_[mid[:, 0], np.full(T, 1.1), mid[:, 1]] + SIDE_SIGN[k] * 0.24 * lat_a
        a.cues.setdefault("hands", {})[k] = HandCue(meet, w, np.tile([SIDE_SIGN[k] * 0.7, -1.0, -0.3], (T, 1)))
        b.cues.setdefault("hands", {})[1 - k] = HandCue(meet, w, np.tile([SIDE_SIGN[1 - k] * 0.7, -1.0, -0.3], (T, 1)))
    word = "counterclockwise" if ccw else "clockwise"
    texts = fill(rng, ["two people hold both hands and dance, turning {dir} together.",
                       "facing each other and holding hands, two people sway and spin around {dir}.",
                       "two people dance hand in hand, circling {dir}.",
                       "holding each other's hands, the two people dance and turn {dir}."], dir=word)
    mid_f = (t0 + t1) // 2
    return Scene((a.perform(), b.perform()), texts, word, None,
                 [(mid_f, 0, WRIST[0], 1, WRIST[1]), (mid_f, 0, WRIST[1], 1, WRIST[0])])


def pull_arm(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    sb = 1 - s  # A's hand takes the other's hand on the same side of the world: their other-named one
    d = rng.uniform(0.68, 0.75)
    T = MAX_FRAMES
    pa = Path(T, (0.0, 0.0))
    t_g = sec(rng.uniform(0.6, 1.2))
    pull = rng.uniform(1.2, 2.2)
    pa.t = t_g + sec(0.3)
    speed = rng.uniform(0.7, 1.0)
    pa.go((rng.uniform(-0.3, 0.3), -pull), speed)
    lag = sec(0.15)
    T = finish(pa.t + lag, rng, (0.6, 1.0))
    xa = pa.xz[:T]
    # B is dragged after A with a short delay, their arm stretched out in front; the delay opens the gap
    # by up to speed * lag, so B starts that much closer.
    shifted = np.concatenate([np.repeat(xa[:1], lag, 0), xa[:-lag]])[:T]
    xb = shifted + [0.0, d - speed * lag / FPS]
    ya, yb = facing(xa, xb), facing(xb, xa)
    drag = window(T, t_g + sec(0.3), t_g + sec(0.7), T - sec(0.6), T)
    a = actor(rng, xa, ya, dict(look=head_guess(xb), bend=-0.1 * drag))
    b = actor(rng, xb, yb, dict(look=head_guess(xa), bend=0.25 * drag), pace=0.85)
    pre_a, pre_b = _prepass(a, b)
    # The grip: first B's resting hand, then a point in front of A's side that A walks away with.
    b_rest_wrist = pre_b.joints[:, WRIST[sb]]
    grip_at_a = point(xa, ya, [sigma * 0.2, 0.0, 0.30], 1.05)
    follow = ramp(T, t_g + sec(0.1), t_g + sec(0.5))[:, None]
    grip = (1 - follow) * b_rest_wrist[np.minimum(np.arange(T), t_g)] + follow * grip_at_a
    w_a = window(T, t_g - sec(0.5), t_g, T - sec(0.5), T + 1)
    w_b = ramp(T, t_g, t_g + sec(0.2))
    a.cues["hands"] = {s: HandCue(grip, w_a, np.tile([sigma * 0.6, -1.0, -0.4], (T, 1)))}
    b.cues["hands"] = {sb: HandCue(grip, w_b, np.tile([SIDE_SIGN[sb] * 0.4, -1.0, -0.2], (T, 1)))}
    texts = fill(rng, ["one person grabs the other's {bside} arm with their {side} hand and pulls them along.",
                       "one person takes the other by the {bside} hand and drags them forward.",
                       "using their {side} hand, one person pulls the other by the arm, and the other stumbles after them.",
                       "one person grabs the other's {bside} wrist and walks backward, pulling them along.",
                       "one person pulls the other along by the arm."],
                 side=SIDES[s], bside=SIDES[sb])
    t_c = t_g + sec(0.6)
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0, [(t_c, 0, WRIST[s], 1, WRIST[sb])])


def kick(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    d = rng.uniform(0.85, 1.0)
    T = MAX_FRAMES
    t_k = sec(rng.uniform(0.8, 1.5))
    hit_back = rng.random() < 0.65
    pb = Path(T, (0.0, d))
    if hit_back:
        pb.t = t_k + sec(0.05)
        pb.go((rng.uniform(-0.2, 0.2), d + rng.uniform(0.4, 0.8)), 0.9, accel=0.25)
    T = finish(max(pb.t, t_k + sec(1.2)), rng, (0.5, 1.0))
    xa, xb = np.zeros((T, 2)), pb.xz[:T]
    ya, yb = np.zeros(T), facing(xb, xa)
    extend = window(T, t_k - sec(0.15), t_k, t_k + sec(0.08), t_k + sec(0.3))
    lift = window(T, t_k - sec(0.4), t_k - sec(0.2), t_k + sec(0.3), t_k + sec(0.55))
    react = window(T, t_k, t_k + sec(0.15), t_k + sec(0.4), t_k + sec(1.0))
    b = actor(rng, xb, yb, dict(look=head_guess(xa), bend=0.35 * react), pace=0.8)
    pre_b = _prepass(b)[0]
    # The foot: chambered knee-high in front of the hip, then shot out at the other's belly, then back down.
    knee_up = point(xa, ya, [sigma * 0.08, 0.0, 0.30], 0.50)
    belly = pre_b.joints[:, PELVIS] + [0.0, 0.05, 0.0] + 0.14 * yaw_dir(pre_b.yaw)
    belly[:] = belly[min(t_k, T - 1)]  # aimed where the belly is at impact
    target = knee_up + extend[:, None] * (belly - knee_up)
    arms = rest_hands(T, GUARD) * lift[None, :, None] + rest_hands(T) * (1 - lift)[None, :, None]
    a = actor(rng, xa, ya, dict(look=head_guess(xb), bend=-0.2 * lift, rest_hand=arms))
    a.feet = {s: (target, lift)}
    texts = fill(rng, ["one person kicks the other in the stomach with their {side} leg" +
                       (", and the other stumbles back." if hit_back else ", and the other doubles over."),
                       "one person lifts their {side} leg and kicks the other.",
                       "one person delivers a front kick with their {side} foot to the other's belly.",
                       "with their {side} foot, one person kicks the other, who bends over from the blow.",
                       "one person kicks the other."],
                 side=SIDES[s])
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)


def point_direction(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    d = rng.uniform(1.0, 1.8)
    T = MAX_FRAMES
    t_p = sec(rng.uniform(0.6, 1.2))
    hold = sec(rng.uniform(1.5, 2.5))
    T = finish(t_p + hold + sec(0.8), rng)
    xa, xb = np.zeros((T, 2)), np.tile([0.0, d], (T, 1))
    ya = np.zeros(T)
    # The pointed direction: towards A's acting side, a little forward.
    aim = rng.uniform(0.25, 0.7)
    direction = np.array([sigma * np.cos(aim), 0.0, np.sin(aim)])
    far = np.array([0.0, 1.3, 0.5 * d]) + 6.0 * direction
    look_turn = ramp(T, t_p + sec(0.4), t_p + sec(1.0))
    yb = blend_yaw(np.full(T, np.pi), np.arctan2(far[0] - xb[0, 0], far[2] - xb[0, 1]), 0.6 * look_turn)
    a = actor(rng, xa, ya, dict(look=np.repeat(far[None], T, 0) * ramp(T, t_p - sec(0.4), t_p)[:, None]
                           + head_guess(xb) * (1 - ramp(T, t_p - sec(0.4), t_p))[:, None]))
    look_b = head_guess(xa) * (1 - look_turn)[:, None] + np.repeat(far[None], T, 0) * look_turn[:, None]
    b = actor(rng, xb, np.unwrap(yb), dict(look=look_b))
    pre_a = _prepass(a)[0]
    target = pre_a.joints[:, SHOULDER[s]] + 0.8 * direction + [0, 0.12, 0]
    w = window(T, t_p - sec(0.5), t_p, t_p + hold, t_p + hold + sec(0.5))
    a.cues["hands"] = {s: HandCue(target, w, np.tile([sigma * 0.3, -1.0, -0.3], (T, 1)))}
    texts = fill(rng, ["one person points to their {side} with their {side} hand, and the other turns to look.",
                       "one person raises their {side} arm and points at something on their {side}; the other looks over.",
                       "one person points off to the {side}, and the other turns to see what they are pointing at.",
                       "with the {side} arm stretched out, one person shows the other something, and the other looks.",
                       "one person points at something and the other turns to look."],
                 side=SIDES[s])
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)


def hand_over(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    sb = 1 - s
    height = rng.uniform(1.05, 1.15)
    d = meeting_distance(rng, SHOULDER_WIDTH - 0.05, height, 0.9, 0.96)
    mode = rng.choice(["near", "one", "both"], p=[0.4, 0.4, 0.2])
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(0.9, 1.2), mode)
    t_offer = arrive + sec(rng.uniform(0.2, 0.5))
    t_take = t_offer + sec(rng.uniform(0.4, 0.8))
    t_away = t_take + sec(0.35)
    T = finish(t_away + sec(1.2), rng)
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya, yb = face_each_other(xa, xb)
    a, b = actor(rng, xa, ya, dict(look=head_guess(xb))), actor(rng, xb, yb, dict(look=head_guess(xa)))
    pre_b = _prepass(b)[0]
    meet = np.repeat([[sigma * 0.05, height, 0.5 * d]], T, 0)
    w_a = window(T, t_offer - sec(0.6), t_offer, t_away, t_away + sec(0.5))
    # B takes the object at the meeting point and brings it to their chest.
    chest = pre_b.joints[:, CHEST] + 0.22 * yaw_dir(yb) + [0, -0.1, 0]
    bring = ramp(T, t_away, t_away + sec(0.5))[:, None]
    target_b = (1 - bring) * meet + bring * chest
    w_b = window(T, t_take - sec(0.5), t_take, T - sec(0.3), T + 1)
    a.cues["hands"] = {s: HandCue(meet, w_a, np.tile([sigma * 0.5, -1.0, -0.3], (T, 1)))}
    b.cues["hands"] = {sb: HandCue(target_b, w_b, np.tile([SIDE_SIGN[sb] * 0.5, -1.0, -0.3], (T, 1)))}
    texts = fill(rng, ["one person hands something to the other with their {side} hand.",
                       "one person holds out an object in their {side} hand and the other takes it.",
                       "one person passes the other something with the {side} hand, and the other brings it to their chest.",
                       "reaching out with their {side} hand, one person gives the other an item.",
                       "one person hands the other something."], side=SIDES[s])
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0, [(t_take + sec(0.15), 0, WRIST[s], 1, WRIST[sb])])


def greet_part(rng) -> Scene:
    s = pick_side(rng)
    sigma = SIDE_SIGN[s]
    d = rng.uniform(1.0, 1.4)
    T = MAX_FRAMES
    pa, pb, arrive = approach(rng, T, d, rng.uniform(1.0, 1.3), "both")
    t_w = arrive - sec(0.5)
    dur = sec(rng.uniform(1.0, 1.6))
    t_talk = t_w + dur + sec(rng.uniform(0.3, 1.0))
    away = rng.uniform(1.5, 2.5)
    turn = pick_side(rng)  # A leaves towards their own left or right
    da = SIDE_SIGN[turn]
    pa.t = pb.t = t_talk
    pa.go((da * away, -0.3), rng.uniform(1.0, 1.3))
    pb.go((-da * away, d + 0.3), rng.uniform(1.0, 1.3))
    T = finish(max(pa.t, pb.t), rng, (0.2, 0.5))
    xa, xb = pa.xz[:T], pb.xz[:T]
    ya = travel_heading(xa, facing(xa, xb))  # they turn away and walk off
    yb = travel_heading(xb, facing(xb, xa))
    leaving = ramp(T, t_talk, t_talk + sec(0.4))[:, None]
    ahead_a = np.c_[xa[:, 0] + 5 * da, np.full(T, HEAD_HEIGHT), xa[:, 1]]
    ahead_b = np.c_[xb[:, 0] - 5 * da, np.full(T, HEAD_HEIGHT), xb[:, 1]]
    a = actor(rng, xa, ya, dict(look=(1 - leaving) * head_guess(xb) + leaving * ahead_a))
    b = actor(rng, xb, yb, dict(look=(1 - leaving) * head_guess(xa) + leaving * ahead_b))
    pre_a = _prepass(a)[0]
    tt = np.arange(T)
    wave_x = 0.12 * np.sin(2 * np.pi * 2.0 * (tt - t_w) / FPS)
    local = np.stack([sigma * 0.35 + wave_x, np.full(T, 0.40), np.full(T, 0.12)], -1)
    target = pre_a.joints[:, CHEST] + body_to_world(ya, local)
    w = window(T, t_w - sec(0.4), t_w, t_w + dur, t_w + dur + sec(0.4))
    a.cues["hands"] = {s: HandCue(target, w, np.tile([sigma * 1.0, -0.6, -0.2], (T, 1)))}
    texts = fill(rng, ["two people meet, one waves with their {side} hand, and then they walk away in opposite directions.",
                       "two people walk up to each other; one person waves hello with their {side} hand, then both walk off.",
                       "one person greets the other with a wave of the {side} hand, they chat briefly and part ways.",
                       "two people meet and greet, one raising their {side} hand, then they go separate ways.",
                       "two people meet, say hello and walk away in different directions."],
                 side=SIDES[s])
    return Scene((a.perform(), b.perform()), texts, SIDES[s], 0)


KINDS: dict[str, Callable] = {
    "handshake": handshake,
    "hug": hug,
    "high_five": high_five,
    "push": push,
    "bow": bow,
    "wave": wave,
    "side_by_side": side_by_side,
    "circle": circle,
    "boxing": boxing,
    "chase": chase,
    "pass_by": pass_by,
    "pat_shoulder": pat_shoulder,
    "dance": dance,
    "pull_arm": pull_arm,
    "kick": kick,
    "point": point_direction,
    "hand_over": hand_over,
    "greet_part": greet_part,
}
# Kinds in which a hand of one person always reaches the other's body (what evaluation's contact accuracy asks
# of a model). Some items of chase (a tag) and side_by_side (holding hands) touch too, and kick touches with a
# foot; boxing's punches are blocked: none of these is listed.
HAND_CONTACT_KINDS = frozenset({"handshake", "hug", "high_five", "push", "pat_shoulder", "dance", "pull_arm",
                                "hand_over"})
