"""Skeleton tables, forward kinematics, rotation conversions and inverse kinematics."""

import math

import pytest
import torch

from intermamba import rotations as rot
from intermamba import skeleton as sk


@pytest.fixture
def rotmats():
    g = torch.Generator().manual_seed(0)
    return rot.axis_angle_to_matrix(torch.randn(200, 3, generator=g) * 1.5)


def test_tables_consistent():
    assert sk.NUM_JOINTS == 22 and len(sk.PARENTS) == 22 and sk.FEATURE_DIM == 262
    assert all(sk.PARENTS[j] < j for j in range(1, sk.NUM_JOINTS))
    for chain in sk.KINEMATIC_CHAINS:
        assert all(sk.PARENTS[c] == p for p, c in zip(chain, chain[1:]))
    for left, right in zip(sk.LEFT_JOINTS, sk.RIGHT_JOINTS):
        assert sk.JOINT_NAMES[left][2:] == sk.JOINT_NAMES[right][2:]
    assert (sk.POS.stop, sk.VEL.stop, sk.ROT.stop, sk.CONTACT.stop) == (66, 132, 258, 262)
    assert [sk.JOINT_NAMES[j] for j in sk.FOOT_JOINTS] == ["l_ankle", "l_foot", "r_ankle", "r_foot"]


def test_rest_pose_is_an_adult_facing_plus_z():
    pose = sk.rest_pose()
    assert pose[:, 1].min() >= 0 and 0.9 < pose[0, 1] < 1.0       # pelvis ~0.95 m, feet on the floor
    assert 1.5 < pose[sk.JOINT_INDEX["head"], 1] < 1.65             # head joint; the crown is ~0.15 m higher
    assert pose[sk.JOINT_INDEX["l_hip"], 0] > 0                     # left is +X when facing +Z
    assert pose[sk.JOINT_INDEX["l_foot"], 2] > pose[sk.JOINT_INDEX["l_ankle"], 2]  # toes point forward
    mirrored = pose[list(sk.MIRROR_PERM)] * torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(mirrored, pose)


def test_forward_kinematics_rigid_motion():
    """Turning the root turns the whole body; local rotations keep bone lengths."""
    g = torch.Generator().manual_seed(1)
    local = rot.axis_angle_to_matrix(torch.randn(4, 22, 3, generator=g) * 0.4)
    root = torch.randn(4, 3, generator=g)
    joints, world = sk.forward_kinematics(local, root, return_global=True)
    bones = joints[:, 1:] - joints[:, list(sk.PARENTS[1:])]
    torch.testing.assert_close(bones.norm(dim=-1), sk.REST_OFFSETS[1:].norm(dim=-1).expand(4, -1))
    torch.testing.assert_close(world[:, 0], local[:, 0])
    turn = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.7, 0.0]))
    turned_local = local.clone()
    turned_local[:, 0] = turn @ local[:, 0]
    turned = sk.forward_kinematics(turned_local, root)
    expected = (turn @ (joints - root[:, None])[..., None])[..., 0] + root[:, None]
    torch.testing.assert_close(turned, expected, atol=1e-5, rtol=0)


def test_forward_kinematics_bad_shape():
    with pytest.raises(ValueError, match="local_rotmats"):
        sk.forward_kinematics(torch.zeros(21, 3, 3), torch.zeros(3))


def test_6d_layout_and_round_trip(rotmats):
    d6 = rot.matrix_to_rot6d(rotmats)
    R = rotmats
    expected = torch.stack([R[:, 0, 0], R[:, 0, 1], R[:, 1, 0], R[:, 1, 1], R[:, 2, 0], R[:, 2, 1]], -1)
    torch.testing.assert_close(d6, expected)
    torch.testing.assert_close(rot.rot6d_to_matrix(d6), R, atol=1e-5, rtol=0)
    # an unnormalised, non-orthogonal 6D still maps to a proper rotation
    noisy = rot.rot6d_to_matrix(d6 * 3 + 0.1)
    torch.testing.assert_close(noisy @ noisy.transpose(-1, -2), torch.eye(3).expand(200, 3, 3), atol=1e-5, rtol=0)


def test_6d_mirror_sign_is_conjugation_by_the_x_mirror(rotmats):
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    mirrored = rot.matrix_to_rot6d(M @ rotmats @ M)
    torch.testing.assert_close(mirrored, rot.matrix_to_rot6d(rotmats) * torch.tensor(rot.MIRROR_6D_SIGN))


def test_quaternion_and_axis_angle_round_trips(rotmats):
    q = rot.matrix_to_quat(rotmats)
    torch.testing.assert_close(rot.quat_to_matrix(q), rotmats, atol=1e-5, rtol=0)
    torch.testing.assert_close(rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(rotmats)), rotmats, atol=1e-5, rtol=0)
    small = torch.tensor([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(rot.quat_to_axis_angle(rot.axis_angle_to_quat(small)), small)
    v = torch.randn(200, 3)
    torch.testing.assert_close(rot.qrot(q, v), (rotmats @ v[..., None])[..., 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(rot.qrot(rot.qinv(q), rot.qrot(q, v)), v, atol=1e-5, rtol=0)
    q2 = q.flip(0)
    torch.testing.assert_close(rot.quat_to_matrix(rot.qmul(q, q2)), rotmats @ rotmats.flip(0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
@pytest.mark.parametrize("intrinsic", [True, False])
def test_euler_round_trip(rotmats, order, intrinsic):
    angles = rot.matrix_to_euler(rotmats, order, degrees=True, intrinsic=intrinsic)
    back = rot.euler_to_matrix(angles, order, degrees=True, intrinsic=intrinsic)
    torch.testing.assert_close(back, rotmats, atol=1e-4, rtol=0)


def test_euler_intrinsic_zyx_is_bvh_product():
    a = torch.tensor([30.0, -20.0, 45.0])
    expected = (rot.euler_to_matrix(torch.tensor([30.0, 0.0, 0.0]), "ZYX", degrees=True)
                @ rot.euler_to_matrix(torch.tensor([0.0, -20.0, 0.0]), "ZYX", degrees=True)
                @ rot.euler_to_matrix(torch.tensor([0.0, 0.0, 45.0]), "ZYX", degrees=True))
    torch.testing.assert_close(rot.euler_to_matrix(a, "ZYX", degrees=True), expected)
    with pytest.raises(ValueError, match="permutation"):
        rot.euler_to_matrix(a, "ZZX")


def test_qbetween_including_opposite():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(100, 3, generator=g), torch.randn(100, 3, generator=g)
    for target in (b, -a):
        q = rot.qbetween(a, target)
        got = torch.nn.functional.normalize(rot.qrot(q, a), dim=-1)
        torch.testing.assert_close(got, torch.nn.functional.normalize(target, dim=-1), atol=1e-5, rtol=0)


def test_yaw_quat_turns_plus_z_towards_plus_x():
    q = rot.yaw_quat(torch.tensor(math.pi / 2))
    torch.testing.assert_close(rot.qrot(q, torch.tensor([0.0, 0.0, 1.0])), torch.tensor([1.0, 0.0, 0.0]),
                               atol=1e-6, rtol=0)


def test_inverse_kinematics_reproduces_positions():
    g = torch.Generator().manual_seed(3)
    local = rot.axis_angle_to_matrix(torch.randn(30, 22, 3, generator=g) * 0.6)
    joints = sk.forward_kinematics(local, torch.randn(30, 3, generator=g))
    recovered = rot.positions_to_local_rotations(joints)
    torch.testing.assert_close(sk.forward_kinematics(recovered, joints[:, 0]), joints, atol=1e-5, rtol=0)
    # the root orientation (hips + spine) is recovered exactly
    torch.testing.assert_close(recovered[:, 0], local[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(rot.positions_to_local_rotations(sk.rest_pose()), torch.eye(3).expand(22, 3, 3),
                               atol=1e-5, rtol=0)
