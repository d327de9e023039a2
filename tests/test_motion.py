"""The 262-d representation: canonicalisation, contacts, mirroring, person swap, normaliser."""

import math

import numpy as np
import pytest
import torch

from intermamba import motion
from intermamba import rotations as rot
from intermamba import skeleton as sk


def random_pair(frames: int = 40, seed: int = 0):
    """A smooth random pair made with our forward kinematics: positions (2, T, 22, 3) Y-up, rotations
    (2, T, 21, 6); each person walks from a random place with a random heading."""
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, frames)[:, None, None]
    amp, freq, phase = (torch.rand(2, 1, 22, 3, generator=g) * 0.5, 1 + 3 * torch.rand(2, 1, 22, 3, generator=g),
                        torch.rand(2, 1, 22, 3, generator=g) * 6.3)
    aa = amp * torch.sin(2 * math.pi * freq * t + phase)          # (2, T, 22, 3)
    time = torch.linspace(0, 1, frames)
    yaw = torch.rand(2, 1, generator=g) * 6.3 + 0.5 * time  # (2, T) slowly turning
    local = rot.axis_angle_to_matrix(aa)
    local[:, :, 0] = rot.quat_to_matrix(rot.yaw_quat(yaw)) @ local[:, :, 0]
    start = torch.randn(2, 1, 3, generator=g) * torch.tensor([1.5, 0.0, 1.5]) + torch.tensor([0.0, 0.95, 0.0])
    root = start + time[:, None] * torch.randn(2, 1, 3, generator=g) * torch.tensor([1.0, 0.05, 1.0])  # (2, T, 3)
    positions = sk.forward_kinematics(local, root)
    return positions, rot.matrix_to_rot6d(local[:, :, 1:])


def test_feature_shape_and_person1_canonical():
    positions, rotations = random_pair()
    feats = motion.pair_to_features(positions, rotations)
    assert feats.shape == (39, 2, sk.FEATURE_DIM)
    joints = motion.features_to_joints(feats)  # (T-1, 2, 22, 3)
    torch.testing.assert_close(joints[0, 0, sk.ROOT, [0, 2]], torch.zeros(2), atol=1e-6, rtol=0)
    assert abs(float(motion.facing_yaw(joints[0, 0]))) < 1e-5  # person 1 faces +Z at frame 0
    for person in range(2):  # each person stands on their own floor
        lowest = torch.cat([joints[:, person, :, 1].flatten(), (joints[-1, person] + feats[-1, person, sk.VEL].reshape(22, 3))[:, 1]])
        assert abs(float(lowest.min())) < 1e-5
    torch.testing.assert_close(feats[..., sk.ROT], rotations[:, :-1].transpose(0, 1).reshape(39, 2, -1))


def test_features_joints_features_round_trip():
    """Positions and velocities in the features agree with the joints they encode."""
    positions, rotations = random_pair()
    feats = motion.pair_to_features(positions, rotations)
    joints = motion.features_to_joints(feats)
    torch.testing.assert_close(feats[:-1, :, sk.VEL], (joints[1:] - joints[:-1]).reshape(38, 2, -1), atol=1e-5, rtol=0)
    # the dropped last frame is the last position plus the last velocity; with it, the canonical joints are
    # themselves a canonical pair: features -> joints -> features changes nothing
    last = joints[-1:] + feats[-1:, :, sk.VEL].reshape(1, 2, 22, 3)
    full = torch.cat([joints, last]).transpose(0, 1)  # (2, T, 22, 3)
    torch.testing.assert_close(motion.pair_to_features(full, rotations), feats, atol=1e-5, rtol=0)
    np.testing.assert_allclose(motion.features_to_joints(feats.numpy()), joints.numpy())


def test_canonicalisation_invariance():
    """Moving and turning both people together (and lifting the floor) leaves the features unchanged."""
    positions, rotations = random_pair(seed=1)
    turn = rot.yaw_quat(torch.tensor(2.1))
    moved = rot.qrot(turn, positions) + torch.tensor([3.0, 0.4, -7.0])
    torch.testing.assert_close(motion.pair_to_features(moved, rotations), motion.pair_to_features(positions, rotations),
                               atol=1e-4, rtol=0)  # float32 rounding of coordinates ~10 m from the origin


def test_relative_placement_matches_intergen_transform():
    """Person 2 in person 1's frame equals InterGen's two-step route (own frame, then the half-angle quaternion)."""
    positions, rotations = random_pair(seed=2)
    floored = positions - torch.tensor([0.0, 1.0, 0.0]) * positions[..., 1].amin(dim=(1, 2))[:, None, None, None]
    quats, roots = [], []
    for p in range(2):
        root = floored[p, 0, 0] * torch.tensor([1.0, 0.0, 1.0])
        quats.append(rot.yaw_quat(-motion.facing_yaw(floored[p, 0])))
        roots.append(root)
    own2 = rot.qrot(quats[1], floored[1] - roots[1])
    r_rel = rot.qmul(quats[1], rot.qinv(quats[0]))
    half = torch.atan2(r_rel[2], r_rel[0])
    rebuilt = torch.stack([torch.cos(half), torch.tensor(0.0), torch.sin(half), torch.tensor(0.0)])
    xz = rot.qrot(quats[0], roots[1] - roots[0]) * torch.tensor([1.0, 0.0, 1.0])
    intergen2 = rot.qrot(rot.qinv(rebuilt), own2) + xz
    feats = motion.pair_to_features(positions, rotations)
    torch.testing.assert_close(motion.features_to_joints(feats[:, 1]), intergen2[:-1], atol=1e-5, rtol=0)


def test_contact_rule_on_constructed_case():
    """Ankle still and low: contact; toe still but 6 cm high: none; moving fast: none."""
    T = 5
    pos = torch.zeros(T, 22, 3)
    pos[..., 1] = 1.0                              # everything high by default
    l_ankle, l_toe, r_ankle, r_toe = sk.FOOT_JOINTS
    pos[:, l_ankle, 1] = 0.10                      # below 0.12: low, still -> contact
    pos[:, l_toe, 1] = 0.06                        # toe threshold is 0.05 -> no contact
    pos[:, r_ankle, 1] = 0.02
    pos[:, r_ankle, 2] = torch.arange(T) * 0.05    # 0.05^2 = 0.0025 > 0.001 -> moving, no contact
    pos[:, r_toe, 1] = 0.01
    pos[:, r_toe, 0] = torch.arange(T) * 0.03      # 0.0009 < 0.001 -> slow enough, contact
    contacts = motion.foot_contacts(pos)
    assert contacts.shape == (T - 1, 4)
    assert contacts.tolist() == [[1.0, 0.0, 0.0, 1.0]] * (T - 1)


def test_mirror_twice_and_swap_twice_are_identities():
    positions, rotations = random_pair(seed=3)
    feats = motion.pair_to_features(positions, rotations)
    torch.testing.assert_close(motion.mirror_features(motion.mirror_features(feats)), feats)
    torch.testing.assert_close(motion.swap_persons(motion.swap_persons(feats)), feats)
    torch.testing.assert_close(motion.swap_persons(feats)[:, 0], feats[:, 1])
    np_feats = feats.numpy()
    np.testing.assert_allclose(motion.mirror_features(motion.mirror_features(np_feats)), np_feats)
    np.testing.assert_allclose(motion.mirror_features(np_feats), motion.mirror_features(feats).numpy())


def test_mirrored_features_equal_features_of_mirrored_motion():
    positions, rotations = random_pair(seed=4)
    mirrored = motion.pair_to_features(motion.mirror_joints(positions), motion.mirror_rot6d(rotations))
    torch.testing.assert_close(mirrored, motion.mirror_features(motion.pair_to_features(positions, rotations)),
                               atol=1e-5, rtol=0)


def test_mirrored_rotations_drive_mirrored_joints():
    """FK of mirrored 6D rotations (and mirrored root) gives the mirrored joints: the sign pattern is right."""
    positions, rotations = random_pair(frames=3, seed=5)
    root_rot = rot.positions_to_local_rotations(positions[0])[:, :1]
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    mirrored_local = torch.cat([M @ root_rot @ M, rot.rot6d_to_matrix(motion.mirror_rot6d(rotations[0]))], dim=1)
    root = positions[0, :, 0] * torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(sk.forward_kinematics(mirrored_local, root), motion.mirror_joints(positions[0]),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("text, expected", [
    ("The left person raises his right hand.", "The right person raises his left hand."),
    ("LEFT and Right", "RIGHT and Left"),
    ("they turn clockwise, then counterclockwise", "they turn counterclockwise, then clockwise"),
    ("spins anticlockwise and counter-clockwise", "spins clockwise and clockwise"),
    ("a bright, upright man stands to the left", "a bright, upright man stands to the right"),
    ("leftover food on the right-hand side", "leftover food on the left-hand side"),
    ("all right, he steps right away to the right", "all right, he steps right away to the left"),
    ("moves leftwards", "moves rightwards"),
])
def test_mirror_text(text, expected):
    assert motion.mirror_text(text) == expected


def test_normalizer_round_trip_and_save(tmp_path):
    positions, rotations = random_pair(seed=6)
    feats = motion.pair_to_features(positions, rotations)
    norm = motion.Normalizer.fit([feats])
    z = norm.normalize(feats)
    flat = z.reshape(-1, sk.FEATURE_DIM)
    varying = feats.reshape(-1, sk.FEATURE_DIM).std(0) > motion.STD_FLOOR
    torch.testing.assert_close(flat.mean(0), torch.zeros(sk.FEATURE_DIM), atol=1e-4, rtol=0)
    torch.testing.assert_close(flat.std(0)[varying], torch.ones(int(varying.sum())), atol=1e-3, rtol=0)
    torch.testing.assert_close(norm.denormalize(z), feats, atol=1e-5, rtol=0)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(feats.numpy())), feats.numpy(), atol=1e-5)
    path = tmp_path / "stats" / "norm.safetensors"
    norm.save(path)
    loaded = motion.Normalizer.load(path)
    torch.testing.assert_close(loaded.mean, norm.mean)
    torch.testing.assert_close(motion.Normalizer.from_state_dict(norm.state_dict()).std, norm.std)
    assert [p.name for p in path.parent.iterdir()] == ["norm.safetensors"]  # no temp file left behind


def test_normalizer_errors(tmp_path):
    with pytest.raises(ValueError, match="262"):
        motion.Normalizer(torch.zeros(10), torch.ones(10))
    with pytest.raises(ValueError, match="positive std"):
        motion.Normalizer(torch.zeros(262), torch.zeros(262))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors"):
        motion.Normalizer.load(bad)
    with pytest.raises(FileNotFoundError):
        motion.Normalizer.load(tmp_path / "missing.safetensors")


def test_bad_shapes_are_reported():
    positions, rotations = random_pair(frames=5)
    with pytest.raises(ValueError, match="positions must be"):
        motion.pair_to_features(positions[0], rotations[0])
    with pytest.raises(ValueError, match="rotations must be"):
        motion.pair_to_features(positions, rotations[:, :3])
    with pytest.raises(ValueError, match="at least 2 frames"):
        motion.pair_to_features(positions[:, :1], rotations[:, :1])


def test_zup_yup_round_trip():
    p = torch.randn(5, 3)
    torch.testing.assert_close(motion.yup_to_zup(motion.zup_to_yup(p)), p)
    torch.testing.assert_close(motion.zup_to_yup(torch.tensor([[1.0, 2.0, 3.0]])), torch.tensor([[1.0, 3.0, -2.0]]))


def test_root_relative_features_separate_placement_from_pose():
    positions, rotations = random_pair(seed=3)
    feats = motion.pair_to_features(positions, rotations)                      # (T, 2, 262)
    rel = motion.to_root_relative(feats)
    torch.testing.assert_close(motion.from_root_relative(rel), feats)
    # moving person 2 along the ground changes only their placement entries of the root-relative features
    moved_positions = positions.clone()
    moved_positions[1] += torch.tensor([0.7, 0.0, -0.4])
    moved = motion.to_root_relative(motion.pair_to_features(moved_positions, rotations))
    changed = (moved - rel).abs().amax(dim=0) > 1e-5                           # (2, 262)
    assert not changed[0].any()
    assert changed[1].nonzero().flatten().tolist() == motion.PLACEMENT.nonzero().flatten().tolist()[:2]
    # by the same ground-plane shift in every frame (turned into person 1's canonical frame)
    shift = moved[:, 1, [0, 2]] - rel[:, 1, [0, 2]]                            # (T, 2)
    torch.testing.assert_close(shift, shift[:1].expand_as(shift))
    assert float(shift[0].norm()) == pytest.approx(math.hypot(0.7, 0.4), abs=1e-5)
