"""Kinds in which the two people travel together or around each other: side by side, circle, chase, pass by."""

from __future__ import annotations

import numpy as np

from ....skeleton import FPS, MAX_FRAMES
from ..rig import SIDE_SIGN, SIDES, STAND_HEIGHT, HandCue, yaw_dir
from ..timeline import Path, facing, ramp, sec, smoothstep, travel_heading, walk_curve, window
from .scene import (CHEST, GUARD, HEAD_HEIGHT, Scene, actor, fill, finish, head_guess, lateral, pick_side, prepass,
                    rest_hands)

RUN_ACCEL = 1.0                   # seconds a runner takes to reach full speed
RUN_PACE = 0.75                   # runners take quicker steps than walkers at the same speed
RUN_HANDS = np.array([[0.20, -0.17, 0.12], [-0.20, -0.17, 0.12]])  # bent arms of a runner, chest frame


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
        pre_b = prepass(b)[0]
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
