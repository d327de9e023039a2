"""Interaction-quality metrics on hand-made motions whose answers are known, and on the procedural world."""

import numpy as np
import pytest

from intermamba import skeleton as sk
from intermamba.evaluation import physical

T = 30
REST = sk.rest_pose().numpy().astype(np.float64)        # (22, 3), standing on the floor, facing +Z


def pair(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two people (T, 22, 3) each -> (2, T, 22, 3)."""
    return np.stack([first, second])


def still(pose: np.ndarray = REST, offset=(0.0, 0.0, 0.0), frames: int = T) -> np.ndarray:
    return np.repeat((pose + np.asarray(offset))[None], frames, 0)


def stick(x: float = 0.0, z: float = 0.0) -> np.ndarray:
    """A person whose every joint lies on one vertical line at (x, z), at its rest height: all capsules are
    coaxial, so the distance between two sticks' bones is the distance between the lines (where heights meet)."""
    pose = np.zeros_like(REST)
    pose[:, 1] = REST[:, 1]
    return still(pose, (x, 0.0, z))


# ------------------------------------------------------------------------------------------ geometry
def test_segment_distance_matches_dense_sampling():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = (rng.normal(size=(100, 3)) for _ in range(4))
    q1[:20] = p1[:20]                                   # points
    q2[20:40] = p2[20:40]
    q2[40:60] = p2[40:60] + (q1[40:60] - p1[40:60]) * rng.uniform(-2, 2, (20, 1))   # parallel
    got = physical.segment_distance(p1, q1, p2, q2)
    u = np.linspace(0, 1, 301)[:, None]
    dense = np.array([np.linalg.norm((a + (b - a) * u)[:, None] - (c + (d - c) * u)[None], axis=-1).min()
                      for a, b, c, d in zip(p1, q1, p2, q2)])
    assert (got <= dense + 1e-12).all() and np.abs(got - dense).max() < 5e-3   # sampling misses by < 5 mm


def test_segment_distance_known_cases():
    o, x, y = np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    d = physical.segment_distance
    assert d(o, x, o + [0.5, -1, 0.3], o + [0.5, 1, 0.3]) == pytest.approx(0.3)   # crossing at a right angle
    assert d(o, x, o + [2, 0, 0], o + [3, 0, 0]) == pytest.approx(1.0)           # collinear, end to end
    assert d(o, x, y, y + x) == pytest.approx(1.0)                                # parallel, side by side
    assert d(o, x, o + [0.5, 0.2, 0], o + [0.5, 0.2, 0]) == pytest.approx(0.2)   # a point beside a segment


# ------------------------------------------------------------------------------------------ metrics
@pytest.mark.parametrize("gap", [0.0, 0.05, 0.15, 0.21])
def test_overlap_depth_of_two_capsule_bodies_at_a_known_distance(gap):
    # The thickest body capsules (the spine, radius 0.11) meet at 0.22 between the axes.
    out = physical.interpenetration(pair(stick(), stick(x=gap)))
    assert out["penetration_depth"] == pytest.approx(0.22 - gap)
    assert out["penetration_max"] == pytest.approx(0.22 - gap) and out["penetration_rate"] == 1.0


def test_interpenetration_counts_frames_and_ignores_touching_hands():
    apart = stick(x=1.0)
    apart[: T // 3] = stick(x=0.12)[: T // 3]            # overlapping by 0.10 in the first third
    out = physical.interpenetration(pair(stick(), apart))
    assert out["penetration_rate"] == pytest.approx(1 / 3)
    assert out["penetration_depth"] == pytest.approx(0.10 / 3)   # mean over all frames
    # Two people facing each other 0.9 m apart, wrists held together: a handshake is no interpenetration.
    me, you = still(), still(REST * [-1, 1, -1], (0.0, 0.0, 0.9))
    wrist = sk.JOINT_INDEX["r_wrist"]
    me[:, wrist] = you[:, sk.JOINT_INDEX["l_wrist"]] = [0.0, 1.1, 0.45]
    assert physical.interpenetration(pair(me, you))["penetration_rate"] == 0.0
    assert physical.hand_contact(pair(me, you))["hand_contact"] == 1.0


def test_merge_and_pelvis_gap():
    same = physical.person_gap(pair(still(), still()))
    assert same["merged"] == 1.0 and same["mean_joint_distance"] == 0.0 and same["min_pelvis_gap"] == 0.0
    near = physical.person_gap(pair(still(), still(offset=(0.05, 0.0, 0.0))))
    assert near["merged"] == 1.0 and near["mean_joint_distance"] == pytest.approx(0.05)
    # Merged in 40% of the frames is not merged; in 60% it is. The pelvis gap is horizontal only.
    for share, merged in ((0.4, 0.0), (0.6, 1.0)):
        other = still(offset=(0.6, 0.3, 0.8))
        other[: int(share * T)] = still()[: int(share * T)] + [0.0, 0.0, 0.02]
        out = physical.person_gap(pair(still(), other))
        assert out["merged"] == merged
    far = physical.person_gap(pair(still(), still(offset=(0.6, 0.3, 0.8))))
    assert far["merged"] == 0.0 and far["min_pelvis_gap"] == pytest.approx(1.0)


@pytest.mark.parametrize("reach, touches", [(0.20, True), (0.30, False)])
def test_hand_contact_measures_the_wrist_to_the_partners_surface(reach, touches):
    # The partner is a stick at the origin; at chest height its surface is 0.11 from the axis.
    me = stick(x=1.0)
    me[:, sk.JOINT_INDEX["l_wrist"]] = [reach, 1.2, 0.0]
    out = physical.hand_contact(pair(me, stick()))
    assert out["hand_gap"] == pytest.approx(reach - 0.11)
    assert out["hand_contact"] == float(touches)
    assert physical.hand_contact(pair(stick(), me)) == out          # either person's hand counts


def test_foot_skating_is_the_speed_of_feet_on_the_floor():
    t = np.arange(T)[:, None, None] / sk.FPS
    sliding = still() + t * [0.6, 0.0, 0.8]                          # 1 m/s across the floor, feet down
    out = physical.foot_skating(pair(sliding, still()))
    assert out["foot_skating"] == pytest.approx(0.5)                 # half the contact feet slide at 1 m/s
    assert physical.foot_skating(pair(sliding, sliding))["foot_skating"] == pytest.approx(1.0)
    assert physical.foot_skating(pair(still(), still()))["foot_skating"] == 0.0
    flying = physical.foot_skating(pair(sliding + [0, 0.5, 0], sliding + [0, 0.5, 0]))
    assert np.isnan(flying["foot_skating"]) and flying["contact_fraction"] == 0.0


def test_floor_penetration():
    toe = REST[sk.JOINT_INDEX["l_foot"], 1]                          # the lowest rest joint, 0.03 up
    sunk = still(offset=(0.0, -toe - 0.05, 0.0))                     # toes 5 cm under the floor
    out = physical.floor_penetration(pair(sunk, still()))
    assert out["floor_depth"] == pytest.approx(0.025) and out["floor_depth_max"] == pytest.approx(0.05)
    assert out["floor_rate"] == 0.5
    shallow = physical.floor_penetration(pair(still(offset=(0.0, -toe - 0.005, 0.0)), still()))
    assert shallow["floor_rate"] == 0.0 and shallow["floor_depth"] == pytest.approx(0.0025)   # within tolerance


def test_jitter_is_the_acceleration():
    t = np.arange(T)[:, None, None] / sk.FPS
    accelerating = still() + 0.5 * t ** 2 * np.array([3.0, 4.0, 0.0])   # 5 m/s^2
    assert physical.jitter(pair(accelerating, accelerating))["jitter"] == pytest.approx(5.0)
    assert physical.jitter(pair(still() + t * [1.0, 0, 0], still()))["jitter"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(physical.jitter(pair(still(frames=2), still(frames=2)))["jitter"])


def test_bone_drift_is_the_std_of_bone_lengths():
    stretched = still()
    wrist, elbow = sk.JOINT_INDEX["l_wrist"], sk.JOINT_INDEX["l_elbow"]
    along = (REST[wrist] - REST[elbow]) / np.linalg.norm(REST[wrist] - REST[elbow])
    stretched[::2, wrist] += 0.02 * along                            # the forearm alternates L and L + 2 cm
    out = physical.bone_drift(pair(stretched, still()))
    assert out["bone_drift"] == pytest.approx(0.01 / (2 * 21))       # std 1 cm on one of 42 bones
    assert physical.bone_drift(pair(still(), still()))["bone_drift"] == pytest.approx(0.0, abs=1e-12)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r"joints must be \(2, T, 22, 3\)"):
        physical.per_sample(np.zeros((T, 22, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        physical.foot_skating(np.zeros((2, 1, 22, 3)))


# ------------------------------------------------------------------------------------------ captions, summary
def test_touch_expected_from_kind_or_caption():
    assert physical.touch_expected("anything", "hug") and not physical.touch_expected("they hug", "wave")
    for text in ("Two people shake hands.", "they shake right hands",
                 "one person pushes the other", "the two embrace", "one person hands a cup to the other",
                 "holding each other's hands, they dance", "one person pats the other on the back"):
        assert physical.touch_expected(text), text
    for text in ("two people wave at each other", "one person kicks the other", "two people pass each other",
                 "they raise their hands to greet", "a huge jump", "one person bows"):
        assert not physical.touch_expected(text), text


def test_summarise_averages_samples_and_scores_contact_on_touching_ones():
    samples = [{"hand_contact": 1.0, "touch_expected": 1.0, "foot_skating": 0.2, "jitter": 1.0},
               {"hand_contact": 0.0, "touch_expected": 1.0, "foot_skating": float("nan"), "jitter": 3.0},
               {"hand_contact": 0.0, "touch_expected": 0.0, "foot_skating": 0.4, "jitter": 2.0}]
    out = physical.summarise(samples)
    assert out == pytest.approx({"contact_accuracy": 0.5, "foot_skating": 0.3, "jitter": 2.0})


def test_the_procedural_world_is_clean_by_these_measures():
    """Real motion of every kind: nobody merged, barely any body overlap, no floor penetration or bone drift,
    and the hands of every kind that touches reach the partner (calibrates CONTACT_DISTANCE and the kinds)."""
    from intermamba.data.synthetic import HAND_CONTACT_KINDS, KIND_NAMES, generate

    for kind in KIND_NAMES:
        for i in range(2):
            s = generate(i, seed=5, kind=kind)
            out = physical.per_sample(s.positions, touch=physical.touch_expected(s.texts[0], kind))
            assert out["merged"] == 0.0 and out["penetration_depth"] < 0.005, (kind, out)
            assert out["floor_depth"] == 0.0 and out["bone_drift"] < 1e-4 and out["jitter"] < 15, (kind, out)
            if kind in HAND_CONTACT_KINDS:
                assert out["hand_contact"] == 1.0, (kind, out)
            if kind in ("wave", "bow", "circle", "point", "greet_part"):
                assert out["hand_contact"] == 0.0, (kind, out)
