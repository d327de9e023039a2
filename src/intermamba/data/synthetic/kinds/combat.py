"""Kinds in which one person strikes the other: push, boxing, kick."""

from __future__ import annotations

import numpy as np

from ....skeleton import MAX_FRAMES
from ..rig import SIDE_SIGN, SIDES, STAND_HEIGHT, HandCue, yaw_dir
from ..timeline import Path, facing, sec, window
from .scene import (CHEST, GUARD, HEAD, PELVIS, Scene, actor, approach, fill, finish, head_guess, lateral, pick_side,
                    point, prepass, rest_hands, sided_captions)

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
    pre_b = prepass(b)[0]
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
    pre_b = prepass(b)[0]
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
    pre_b = prepass(b)[0]
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
