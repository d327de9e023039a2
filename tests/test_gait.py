"""intermamba.gait: feet that walk a carried body's path, on hand-made motions whose answer is known."""

import numpy as np

from intermamba import gait
from intermamba import skeleton as sk
from intermamba.capsules import BONE_CHILD, BONE_PARENT
from intermamba.cleanup import LEGS
from intermamba.evaluation import physical

LEG_JOINTS = sorted({j for leg in LEGS for j in leg[1:]})                              # knees, ankles, toes


def carried_pair(speed: float = 1.2, frames: int = 150) -> np.ndarray:
    """Two people in the rest pose carried along +Z at `speed` m/s (turning left over the last second), legs
    still: a trajectory-following body whose feet slide. (2, T, 22, 3)."""
    rest = sk.rest_pose().numpy().astype(np.float64)
    pair = np.repeat(np.stack([rest - [0.5, 0, 0], rest + [0.5, 0, 0]])[:, None], frames, axis=1)
    heading = np.concatenate([np.zeros(frames - 30), np.linspace(0, np.pi / 4, 30)])     # (T,) the left turn
    step = speed / sk.FPS * np.stack([np.sin(heading), np.zeros(frames), np.cos(heading)], -1)
    travel = np.concatenate([np.zeros((1, 3)), np.cumsum(step[:-1], axis=0)])           # (T, 3)
    return pair + travel[None, :, None]


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(joints[:, :, BONE_CHILD] - joints[:, :, BONE_PARENT], axis=-1)    # (2, T, 21)


def test_a_carried_body_walks_its_path_with_planted_feet():
    pair = carried_pair()
    out = gait.clean_path(pair)
    before, after = physical.foot_skating(pair), physical.foot_skating(out)
    assert before["foot_skating"] > 1.0 and after["foot_skating"] < 0.05                 # issue 14's gate: 0.12
    assert 0.3 < after["contact_fraction"] < 0.8                                         # feet leave the floor
    # the pelvis ground path and everything above the legs are as they were; the legs keep their bones
    np.testing.assert_allclose(out[:, :, sk.ROOT][..., [0, 2]], pair[:, :, sk.ROOT][..., [0, 2]], atol=1e-12)
    upper = [j for j in range(sk.NUM_JOINTS) if j not in LEG_JOINTS]
    np.testing.assert_allclose(out[:, :, upper] - out[:, :, :1], pair[:, :, upper] - pair[:, :, :1], atol=1e-12)
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(pair), atol=1e-9)
    assert out[..., 1].min() >= -1e-9                                                    # on or above the floor
    # the feet take turns: each ankle is planted (still) in runs, left and right runs alternating, about one
    # step per 0.65 m at 1.2 m/s (5 s, 6 m: about 9 steps)
    ankles = out[0][:, [LEGS[0][2], LEGS[1][2]]]                                         # (T, 2, 3)
    still = np.linalg.norm(np.diff(ankles, axis=0), axis=-1) * sk.FPS < 0.05             # (T-1, 2)
    starts = sorted((t, side) for side in (0, 1) for t in np.flatnonzero(np.diff(still[:, side].astype(int)) == 1))
    assert 7 <= len(starts) <= 11
    assert all(a[1] != b[1] for a, b in zip(starts, starts[1:]))                        # L, R, L, R, ...


def test_standing_people_and_walking_legs_are_left_alone():
    standing = carried_pair(speed=0.0)
    np.testing.assert_array_equal(gait.walk_path(standing), standing)
    walked = gait.walk_path(carried_pair())
    assert max(gait.sliding(walked, 0), gait.sliding(walked, 1)) < gait.SLIDING
    np.testing.assert_array_equal(gait.walk_path(walked), walked)                        # legs that walk: kept
