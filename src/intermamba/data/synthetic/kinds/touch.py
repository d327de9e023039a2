"""Kinds in which hands meet or reach the partner: handshake, hug, high five, pat on the shoulder, dance (both
hands held), pull by the arm, hand over."""

from __future__ import annotations

import numpy as np

from ....skeleton import FPS, MAX_FRAMES
from ..rig import SHOULDER_WIDTH, SIDE_SIGN, SIDES, STAND_HEIGHT, HandCue, yaw_dir
from ..timeline import Path, blend_yaw, facing, ramp, sec, travel_heading, window
from .scene import (CHEST, SHOULDER, SHOULDER_HEIGHT, WRIST, Scene, actor, approach, face_each_other, fill, finish,
                    head_guess, lateral, meeting_distance, pick_side, point, prepass, sided_captions)

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
    pre = prepass(a, b)
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
    pre_b = prepass(b)[0]
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
    pre_a, pre_b = prepass(a, b)
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
    pre_b = prepass(b)[0]
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
