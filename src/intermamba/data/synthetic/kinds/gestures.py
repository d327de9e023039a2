"""Kinds of gestures seen by the partner: bow, wave, point in a direction, greet and part."""

from __future__ import annotations

import numpy as np

from ....skeleton import FPS, MAX_FRAMES
from ..rig import SIDE_SIGN, SIDES, SPINE, HandCue, body_to_world
from ..timeline import Path, blend_yaw, facing, ramp, sec, travel_heading, window
from .scene import (CHEST, HEAD_HEIGHT, SHOULDER, Person, Scene, actor, approach, face_each_other, fill, finish,
                    head_guess, lateral, pick_side, prepass)

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
        pre = prepass(a)[0]
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
    pre = prepass(a, b)
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
    pre_a = prepass(a)[0]
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
    pre_a = prepass(a)[0]
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
