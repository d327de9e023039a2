import math

import pytest
import torch

from intermamba.config import LossConfig
from intermamba.losses import TERMS, InteractionLoss, bone_lengths, foot_contact, relative_yaw_quat
from intermamba.skeleton import FEATURE_DIM, JOINT_INDEX, NUM_JOINTS, POS, rest_pose

B, T = 2, 8
L_WRIST, R_WRIST = JOINT_INDEX["l_wrist"], JOINT_INDEX["r_wrist"]


def _yaw(joints, angle):
    c, s = math.cos(angle), math.sin(angle)
    R = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return joints @ R.T


def _scene():
    """Two persons face to face 0.7 m apart, feet planted, hands swaying; person 2's right wrist on person 1's
    left wrist (a touch at distance exactly 0). Returns joints (B, T, 2, 22, 3)."""
    base = rest_pose()
    p1 = base.expand(B, T, NUM_JOINTS, 3).clone()
    p2 = (_yaw(base, math.pi) + torch.tensor([0.0, 0.0, 0.7])).expand(B, T, NUM_JOINTS, 3).clone()
    sway = 0.02 * torch.sin(torch.arange(T) / 2.0)[None, :, None]
    upper = [JOINT_INDEX[n] for n in ("l_elbow", "r_elbow", "l_wrist", "r_wrist")]
    p1[:, :, upper, 1] += sway
    p2[:, :, upper, 1] += sway
    p2[:, :, R_WRIST] = p1[:, :, L_WRIST]
    return torch.stack([p1, p2], dim=2)


def _features(joints, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*joints.shape[:3], FEATURE_DIM, generator=g)
    x[..., POS] = joints.flatten(-2)
    return x


MEAN = torch.randn(FEATURE_DIM)
STD = torch.rand(FEATURE_DIM) + 0.5
normalize = lambda x: (x - MEAN) / STD
denormalize = lambda x: x * STD + MEAN


def _losses(pred_joints, target_joints, t=None, lengths=None, cfg=None):
    loss = InteractionLoss(cfg or LossConfig())
    t = torch.zeros(B, dtype=torch.long) if t is None else t
    lengths = torch.full((B,), T) if lengths is None else lengths
    return loss(normalize(_features(pred_joints)), normalize(_features(target_joints)), lengths=lengths, t=t,
                denormalize=denormalize)


def test_scene_exercises_every_term():
    joints = _scene()
    assert foot_contact(joints).all()               # planted feet
    d = torch.cdist(joints[:, :, 0].flatten(0, 1), joints[:, :, 1].flatten(0, 1))
    assert (d < 0.1).any() and (d < 1.0).sum() > 10  # a touch, and joints within the DM radius


def test_every_term_is_zero_on_ground_truth():
    joints = _scene()
    out = _losses(joints, joints)
    assert set(out) == set(TERMS) | {"total"}
    for name, value in out.items():
        assert value.item() == pytest.approx(0.0, abs=1e-9), name


def test_every_term_is_positive_on_a_perturbation():
    joints = _scene()
    g = torch.Generator().manual_seed(1)
    pred = joints + 0.004 * torch.randn(joints.shape, generator=g)
    pred[:, :, 1] = _yaw(pred[:, :, 1] - pred[:, :1, 1, :1], 0.3) + pred[:, :1, 1, :1]   # turn person 2 a little
    pred = pred.requires_grad_()
    out = _losses(pred, joints)
    for name in TERMS:
        assert out[name].item() > 0, name
    expected = sum(getattr(LossConfig(), name) * out[name] for name in TERMS)
    torch.testing.assert_close(out["total"], expected)
    out["total"].backward()
    assert torch.isfinite(pred.grad).all()


def test_timestep_gate_leaves_only_the_simple_loss():
    joints = _scene()
    pred = joints + 0.01 * torch.randn(joints.shape)
    gated = _losses(pred, joints, t=torch.tensor([701, 999]))
    assert gated["simple"] > 0
    for name in TERMS[1:]:
        assert gated[name].item() == 0.0, name
    # one passing sample: the average is over passing samples only, so it equals that sample alone
    half = _losses(pred, joints, t=torch.tensor([700, 999]))
    alone = InteractionLoss(LossConfig())(normalize(_features(pred[:1])), normalize(_features(joints[:1])),
                                          lengths=torch.tensor([T]), t=torch.tensor([0]), denormalize=denormalize)
    for name in TERMS[1:]:
        torch.testing.assert_close(half[name], alone[name])


def test_padding_frames_do_not_matter():
    joints = _scene()
    pred = joints + 0.01 * torch.randn(joints.shape)
    lengths = torch.tensor([5, 8])
    a = _losses(pred, joints, lengths=lengths)
    pred2 = pred.clone()
    pred2[0, 5:] += 10.0    # garbage in sample 0's padding: includes the step from its last valid frame
    b = _losses(pred2, joints, lengths=lengths)
    for name in TERMS:
        torch.testing.assert_close(a[name], b[name])


def test_relative_orientation_is_defined_face_to_face():
    f1 = torch.tensor([[0.0, 0.0, 1.0]], requires_grad=True)
    f2 = torch.tensor([[0.0, 0.0, -1.0]])
    q = relative_yaw_quat(f1, f2)
    assert torch.isfinite(q).all() and q[0, 0].abs() < 1e-6 and q[0, 1].abs().item() == pytest.approx(1.0)
    q.sum().backward()
    assert torch.isfinite(f1.grad).all()
    # a quarter turn to the left about +y
    q = relative_yaw_quat(torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(q, torch.tensor([math.cos(math.pi / 4), math.sin(math.pi / 4)]))


def test_bone_lengths_follow_the_chains():
    lengths = bone_lengths(rest_pose())
    assert lengths.shape == (NUM_JOINTS - 1,) and (lengths > 0.03).all()
