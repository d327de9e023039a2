"""The interaction kinds: choreography for two people, and the captions that describe it.

Each kind is a function `(rng) -> Scene`. It lays out the two people (the initiator "one person" and "the
other"), their pelvis paths and headings, and the cues (hand targets, bows, leans, looks) that `rig.pose`
turns into joint rotations; footsteps come from `gait.plan_steps`. Targets on a partner's body are read from
a first pass of the partner's motion (hands never move the torso, so that pass is exact).

Captions name hands and turns with the words "left" / "right" / "clockwise" / "counterclockwise" only, always
as seen by the person they belong to, so `motion.mirror_text` keeps them true for a mirrored motion.

Layout: `scene.py` (people, Scene and the helpers every kind shares), then one module per family: `touch.py`,
`combat.py`, `locomotion.py`, `gestures.py`. This module holds the registry.
"""

from __future__ import annotations

from typing import Callable

from .combat import boxing, kick, push
from .gestures import bow, greet_part, point_direction, wave
from .locomotion import chase, circle, pass_by, side_by_side
from .touch import dance, hand_over, handshake, high_five, hug, pat_shoulder, pull_arm

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
