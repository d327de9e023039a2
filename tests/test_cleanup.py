"""intermamba.cleanup: each step on hand-made motions whose answer is known, and the whole on the world."""

import numpy as np
import pytest

from intermamba import cleanup
from intermamba import skeleton as sk
from intermamba.evaluation import physical

T = 60


def standing_pair(gap: float = 1.0, frames: int = T) -> np.ndarray:
    """Two people in the rest pose, `gap` metres apart along x, standing still: (2, T, 22, 3)."""
    rest = sk.rest_pose().numpy().astype(np.float64)
    pair = np.stack([rest - [gap / 2, 0, 0], rest + [gap / 2, 0, 0]])
    return np.repeat(pair[:, None], frames, axis=1)


def test_smoothing_removes_shake_and_keeps_steady_motion():
    walk = standing_pair()
    walk += np.linspace(0, 1.2, T)[None, :, None, None] * [0, 0, 1]            # both walk 1.2 m along z
    shaky = walk + np.random.default_rng(0).normal(0, 0.01, walk.shape)
    assert physical.jitter(cleanup.smooth(shaky))["jitter"] < 0.35 * physical.jitter(shaky)["jitter"]
    np.testing.assert_allclose(cleanup.smooth(walk)[:, 5:-5], walk[:, 5:-5], atol=1e-9)   # linear: unchanged


def test_rigid_bones_take_their_median_length_and_keep_directions():
    pair = standing_pair()
    stretched = pair.copy()
    stretched[:, :, 1:] *= 1 + 0.05 * np.sin(np.arange(T))[None, :, None, None]  # bones breathe by 5%
    out = cleanup.rigid_bones(stretched)
    assert physical.bone_drift(stretched)["bone_drift"] > 0.005 > 1e-9 > physical.bone_drift(out)["bone_drift"]
    bones_in = stretched[:, :, physical.BONE_CHILD] - stretched[:, :, physical.BONE_PARENT]
    bones_out = out[:, :, physical.BONE_CHILD] - out[:, :, physical.BONE_PARENT]
    cos = (bones_in * bones_out).sum(-1) / np.linalg.norm(bones_in, axis=-1) / np.linalg.norm(bones_out, axis=-1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    np.testing.assert_allclose(out[:, :, sk.ROOT], stretched[:, :, sk.ROOT])


def test_separate_steps_merged_people_apart_and_leaves_distant_ones_alone():
    merged = standing_pair(gap=0.0)
    merged[1, :, :, 0] += 0.02                                                   # nearly one skeleton
    out = cleanup.separate(merged)
    gap = physical.person_gap(out)
    assert physical.person_gap(merged)["merged"] == 1.0 and gap["merged"] == 0.0
    assert gap["min_pelvis_gap"] >= cleanup.MIN_PELVIS_GAP - 0.01
    assert cleanup.torso_overlap(out).max() < 0.01
    np.testing.assert_allclose(out[..., 1], merged[..., 1])                      # horizontal moves only
    # each person moves rigidly: their own pose is unchanged
    np.testing.assert_allclose(out - out[:, :, :1], merged - merged[:, :, :1], atol=1e-12)
    apart = standing_pair(gap=1.0)
    np.testing.assert_array_equal(cleanup.separate(apart), apart)


def _speed(joints: np.ndarray) -> np.ndarray:
    """(2, T-1, 22) joint speeds, m/s."""
    return np.linalg.norm(np.diff(joints, axis=1), axis=-1) * sk.FPS


def test_separate_keeps_a_person_who_walks_through_the_other_on_their_own_side():
    """Person 2 walks straight through person 1 (1 m/s along z): pushed along the current pelvis line, they
    were thrown out of the far side as the line turned round (a 0.3 m jump in a frame, 10 m/s); held on their
    own side, they stop short of person 1 and the push grows smoothly."""
    pair = standing_pair(gap=0.0, frames=90)
    pair[1, :, :, 2] += np.linspace(-1.5, 1.5, 90)[:, None]
    out = cleanup.separate(pair)
    side = (out[1, :, 0, 2] - out[0, :, 0, 2])                                  # person 2 - person 1 along z
    assert (side < 0).all() and side.max() <= -cleanup.MIN_PELVIS_GAP + 0.01   # never crosses, never too close
    assert _speed(out).max() < 1.5                                              # the walk itself is 1 m/s


def test_separate_holds_its_push_direction_while_the_pelvises_nearly_coincide():
    """Two people one on top of the other (1 cm apart, the line between them turning at random from frame to
    frame, as a merged sample's does): the push keeps one direction, so no one is swung round. Following that
    line turned a real push round in two frames (4.7 m/s from a 1 m/s raw motion)."""
    pair = standing_pair(gap=0.0, frames=90)
    pair[1, :, :, 0] += 0.5 - np.linspace(0.0, 0.5, 90)[:, None]            # walks in from 0.5 m to 0 ...
    angle = np.random.default_rng(3).uniform(0, 2 * np.pi, 90)
    jitter = 0.01 * np.stack([np.cos(angle), np.zeros(90), np.sin(angle)], -1)   # ... and wanders by 1 cm
    pair[1, 60:] += jitter[60:, None]
    out = cleanup.separate(pair)
    assert _speed(out).max() < 1.2                                              # the walk-in is 0.5 m/s
    assert physical.person_gap(out)["min_pelvis_gap"] >= cleanup.MIN_PELVIS_GAP - 0.01


def _seam_pair(jump: float) -> np.ndarray:
    """Two people walking 1 m/s along z with a sway, person 2's whole body jumping `jump` m along x at frame 60
    (a seam): (2, 120, 22, 3)."""
    pair = standing_pair(gap=1.0, frames=120)
    t = np.arange(120) / sk.FPS
    pair[..., 2] += t[None, :, None]
    pair[..., 0] += 0.05 * np.sin(2 * np.pi * t)[None, :, None]
    pair[1, 60:, :, 0] += jump
    return pair


def test_ease_seams_brings_a_jump_under_the_motions_own_pace_and_keeps_the_rest():
    pair = _seam_pair(0.15)                                                     # 4.5 m/s in one frame
    before = cleanup.frame_speeds(pair)
    out = cleanup.ease_seams(pair, [60], before=10, after=14)
    speeds = cleanup.frame_speeds(out)
    assert before[49:74].max() > 3 * np.percentile(before, 99)
    assert speeds[49:74].max() <= np.percentile(speeds, cleanup.SEAM_PERCENTILE)
    lo, hi = 60 - 10 - cleanup.SEAM_ROOM, 60 + 14 + cleanup.SEAM_ROOM
    np.testing.assert_array_equal(out[:, :lo], pair[:, :lo])                    # outside the window: untouched
    np.testing.assert_array_equal(out[:, hi:], pair[:, hi:])
    assert physical.bone_drift(out)["bone_drift"] < 1e-9                          # bones keep their lengths
    assert out[..., 1].min() >= pair[..., 1].min() - 1e-9                      # no foot pushed under the floor


def test_ease_seams_leaves_a_smooth_seam_as_it_is():
    pair = _seam_pair(0.0)
    np.testing.assert_array_equal(cleanup.ease_seams(pair, [60], before=10, after=14), pair)


def test_lift_to_floor_raises_sinking_frames_only_as_needed():
    pair = standing_pair()
    sink = pair.copy()
    sink[0, 20:40, :, 1] -= 0.05                                                 # person 1 sinks 5 cm for 20 frames
    out = cleanup.lift_to_floor(sink)
    assert physical.floor_penetration(out)["floor_depth_max"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(out[1], sink[1])
    np.testing.assert_allclose(out[0, :5], sink[0, :5])                         # untouched far from the dip
    np.testing.assert_allclose(out[..., [0, 2]], sink[..., [0, 2]])


def test_lock_feet_plants_a_sliding_standing_foot_and_keeps_leg_lengths():
    pair = standing_pair()
    left = [4, 7, 10]                                                            # knee, ankle, toe of the left leg
    slide = pair.copy()
    slide[0, :, left, 2] += np.linspace(0, 0.1, T)[None, :]                    # the left foot slides 0.1 m in 2 s
    assert physical.foot_skating(slide)["foot_skating"] > 0.01
    out = cleanup.lock_feet(slide)
    ankle = out[0, :, 7]
    assert np.abs(np.diff(ankle[:, [0, 2]], axis=0)).max() < 1e-9             # planted from the first frame
    for a, b in ((1, 4), (4, 7), (7, 10)):                                       # thigh, shin, foot lengths
        np.testing.assert_allclose(np.linalg.norm(out[0, :, a] - out[0, :, b], axis=-1),
                                   np.linalg.norm(slide[0, :, a] - slide[0, :, b], axis=-1), atol=1e-9)
    np.testing.assert_allclose(out[1], slide[1], atol=1e-12)                     # a still person stays still


def test_a_released_foot_eases_back_without_a_jump():
    """A standing foot that the raw motion drags 0.3 m, then lifts: pinned at its mean over the contact, it is
    0.15 m from the raw foot when the contact ends. Released at once (the old 3-frame blend from the contact's
    first place) it was thrown 0.3 m in 3 frames; the correction eases out over FADE frames."""
    pair = standing_pair()
    drag = pair.copy()
    drag[0, :, :, 2] += (np.minimum(np.arange(T), 40) * 0.3 / 40)[:, None]        # dragged for 40 frames
    drag[0, :, 7:11:3, 1] += (np.clip((np.arange(T) - 40) / 10, 0, 1) * 0.2)[:, None]   # then the foot lifts
    out = cleanup.lock_feet(drag)
    ankle_speed = _speed(out)[0, :, 7]
    # held through the contact, as far as a straight standing leg reaches (the drag is 0.225 m/s)
    assert ankle_speed[:38].max() < 0.06 and ankle_speed[:38].mean() < 0.02
    assert ankle_speed.max() < 2 * _speed(drag)[0, :, 7].max()                  # no faster than the lift itself


def test_a_near_straight_knee_never_flips_even_when_the_hips_tilt():
    """A near-straight leg bent slightly BACKWARDS in the raw pose, hips tilted until they are nearly stacked
    (a raw model's pelvis), the foot locked: the knee's bend turns smoothly, never round in a frame (the old IK
    fell back to a fixed direction for a straight leg and threw the knee 0.15-0.5 m)."""
    pair = standing_pair()
    knee, hips = 4, (1, 2)
    bent = pair.copy()
    bent[0, :, knee, 2] -= 0.02                                                 # a backward bend
    tilt = np.linspace(0.0, 0.12, T)                                            # hips turn towards vertical
    bent[0, :, hips[0], 1] += tilt / 2
    bent[0, :, hips[1], 1] -= tilt / 2
    bent[0, :, 7:11:3, 2] += np.linspace(0, 0.1, T)[:, None]                    # the foot slides: locked
    out = cleanup.lock_feet(bent)
    assert _speed(out)[0, :, knee].max() < 0.5


def test_clean_up_barely_changes_real_motion_and_keeps_its_touches():
    from intermamba.data.synthetic import HAND_CONTACT_KINDS, generate

    for kind in ("hug", "handshake", "push", "side_by_side"):
        s = generate(0, seed=3, kind=kind)
        out = cleanup.clean_up(s.positions)
        moved = np.linalg.norm(out - s.positions, axis=-1)
        assert moved.mean() < 0.02 and np.percentile(moved, 95) < 0.06, (kind, moved.mean())
        if kind in HAND_CONTACT_KINDS:
            assert physical.hand_contact(out)["hand_contact"] == 1.0, kind


def test_bad_joints_are_refused():
    with pytest.raises(ValueError, match=r"joints must be \(2, T, 22, 3\)"):
        cleanup.clean_up(np.zeros((T, 22, 3)))
    bad = standing_pair()
    bad[0, 3, 5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        cleanup.clean_up(bad)


def test_a_collapsed_skeleton_stays_finite():
    """An untrained model's output can put every joint on one point: clean-up must not divide by zero."""
    out = cleanup.clean_up(np.zeros((2, T, 22, 3)))
    assert np.isfinite(out).all()
    assert physical.person_gap(out)["min_pelvis_gap"] >= cleanup.MIN_PELVIS_GAP - 0.01
