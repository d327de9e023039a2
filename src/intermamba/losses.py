"""InterGen's loss suite for two-person x0 prediction (paper Sec. 4.5; reference/intergen-facts.md sec. 3).

    loss_fn = InteractionLoss(cfg.loss)
    terms = loss_fn(pred, target, lengths=lengths, t=t, denormalize=normalizer.denormalize)
    terms["total"].backward()         # the other keys are the unweighted terms, for logging

pred and target are normalised features (B, T, 2, 262); `denormalize` maps them back to metres. The terms:

    simple          masked MSE over all 262 normalised dims (L_diff, Eq. 2; never gated)
    vel             joint velocity (finite differences of positions), per person        (L_vel)
    foot            foot velocity where the PREDICTED foot is in contact, per person     (L_foot)
    bone            the 21 bone lengths of the kinematic chains, per person              (L_BL)
    dist_map        22x22 cross-person joint distances where the predicted one is < 1 m (L_DM)
    joint_affinity  predicted distance pulled to 0 where the target one is < 0.1 m       (InterGen's JA; the
                    paper says it uses InterGen's losses, though its Eq. 14 does not list this term)
    rel_orient      the relative facing rotation of the two persons                      (L_RO)

Every term but `simple` is computed only for samples with t <= t_bar (InterGen's damping, a hard cutoff), and
averaged over the samples that pass. Per-person terms are summed over the two persons, as InterGen adds
its A and B losses. total = sum of weight * term with LossConfig's weights (Eq. 14).
"""

from __future__ import annotations

from typing import Callable

import torch

from .skeleton import (CONTACT_HEIGHTS, CONTACT_VEL_THRESHOLD, FOOT_JOINTS, JOINT_INDEX, KINEMATIC_CHAINS,
                       NUM_JOINTS, POS)

TERMS = ("simple", "vel", "foot", "bone", "dist_map", "joint_affinity", "rel_orient")
EPS = 1e-8

# parent -> child pairs along InterGen's chains: the 21 bones of the body
BONES = tuple((chain[i], chain[i + 1]) for chain in KINEMATIC_CHAINS for i in range(len(chain) - 1))
HIP_L, HIP_R = JOINT_INDEX["l_hip"], JOINT_INDEX["r_hip"]


def frame_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, T) float: 1 on each sample's first lengths[b] frames."""
    return (torch.arange(num_frames, device=lengths.device)[None] < lengths[:, None]).float()


def _masked_mean(err: torch.Tensor, mask: torch.Tensor, sample_mask: torch.Tensor) -> torch.Tensor:
    """err (B, T) or (B, T, P): mean over masked frames, summed over persons P, then mean over passing samples."""
    if err.dim() == 3:
        per_sample = ((err * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)).sum(-1)
    else:
        per_sample = (err * mask).sum(1) / mask.sum(1).clamp_min(1)
    return (per_sample * sample_mask).sum() / sample_mask.sum().clamp_min(1)


def facing(joints: torch.Tensor) -> torch.Tensor:
    """Unit horizontal facing direction normalize(cross(y, hip_r - hip_l)), (..., 22, 3) -> (..., 3)."""
    across = joints[..., HIP_R, :] - joints[..., HIP_L, :]
    # cross((0, 1, 0), a) = (a_z, 0, -a_x): horizontal by construction
    fwd = torch.stack([across[..., 2], torch.zeros_like(across[..., 0]), -across[..., 0]], dim=-1)
    return fwd / fwd.norm(dim=-1, keepdim=True).clamp_min(EPS)


def relative_yaw_quat(f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """The (w, y) components of the rotation taking facing f1 to f2 (horizontal unit vectors), (..., 2).

    InterGen takes qbetween(f1, f2), which is NaN when the two persons face exactly opposite ways (w = 0 and
    a zero cross product: two people face to face, the commonest pose of this task). For horizontal
    vectors that rotation is a yaw by theta = atan2(cross_y, dot), i.e. (cos theta/2, sin theta/2), which
    is defined everywhere.
    """
    dot = (f1 * f2).sum(-1)
    cross_y = f1[..., 2] * f2[..., 0] - f1[..., 0] * f2[..., 2]
    half = torch.atan2(cross_y, dot) / 2
    return torch.stack([torch.cos(half), torch.sin(half)], dim=-1)


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """(..., 22, 3) -> (..., 21) lengths of BONES."""
    parents, children = zip(*BONES)
    return (joints[..., list(parents), :] - joints[..., list(children), :]).norm(dim=-1)


def foot_contact(joints: torch.Tensor) -> torch.Tensor:
    """InterGen's contact rule on the motion itself: (B, T, ..., 22, 3) -> (B, T-1, ..., 4) bool."""
    feet = joints[..., list(FOOT_JOINTS), :]                              # (B, T, ..., 4, 3)
    speed2 = ((feet[:, 1:] - feet[:, :-1]) ** 2).sum(-1)                  # squared displacement per frame
    heights = torch.tensor(CONTACT_HEIGHTS, device=joints.device, dtype=joints.dtype)
    return (speed2 < CONTACT_VEL_THRESHOLD) & (feet[:, :-1, ..., 1] < heights)


class InteractionLoss:
    """simple + InterGen's geometric losses on denormalised joints, weighted by a LossConfig."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.weights = {name: float(getattr(cfg, name)) for name in TERMS}

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, *, lengths: torch.Tensor, t: torch.Tensor,
                 denormalize: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
        B, T = pred.shape[:2]
        mask = frame_mask(lengths, T)                                        # (B, T)
        # InterGen masks a difference with frames[:-1], which counts the step from the last valid frame into
        # the zero padding. A difference is valid only when both of its frames are: mask[:, 1:].
        step_mask = mask[:, 1:]                                              # (B, T-1)
        gate = (t <= self.cfg.t_bar).float()                                 # (B,) InterGen's damping

        # L_diff: mean over every valid (frame, person) of the whole batch, as InterGen's seq_masked_mse
        sq = ((pred - target) ** 2).mean(-1)                                 # (B, T, 2)
        out = {"simple": (sq * mask[..., None]).sum() / (2 * mask.sum()).clamp_min(1)}

        joints_p = denormalize(pred)[..., POS].reshape(B, T, 2, NUM_JOINTS, 3)    # (B, T, 2, 22, 3) metres
        joints_t = denormalize(target)[..., POS].reshape(B, T, 2, NUM_JOINTS, 3)

        # L_vel: per person, MSE of frame-to-frame displacement of all joints
        vel_p = joints_p[:, 1:] - joints_p[:, :-1]                           # (B, T-1, 2, 22, 3)
        vel_t = joints_t[:, 1:] - joints_t[:, :-1]
        out["vel"] = _masked_mean(((vel_p - vel_t) ** 2).mean((-1, -2)), step_mask, gate)

        # L_foot: drive the predicted foot velocity to 0 where the prediction itself is in contact
        contact = foot_contact(joints_p).float()                             # (B, T-1, 2, 4)
        foot_err = (vel_p[..., list(FOOT_JOINTS), :] ** 2).mean(-1)          # (B, T-1, 2, 4)
        foot_err = (foot_err * contact).sum(-1) / contact.sum(-1).clamp_min(1)
        out["foot"] = _masked_mean(foot_err, step_mask, gate)

        # L_BL: bone lengths
        out["bone"] = _masked_mean(((bone_lengths(joints_p) - bone_lengths(joints_t)) ** 2).mean(-1), mask, gate)

        # L_DM and joint affinity on the 22 x 22 cross-person distance matrix of each frame
        dist_p = _cross_distances(joints_p)                                  # (B, T, 22, 22)
        dist_t = _cross_distances(joints_t)
        near_p = (dist_p < self.cfg.dist_map_threshold).float().detach()
        out["dist_map"] = _masked_mean(_mean_where((dist_p - dist_t) ** 2, near_p), mask, gate)
        touch_t = (dist_t < self.cfg.affinity_threshold).float()
        out["joint_affinity"] = _masked_mean(_mean_where(dist_p ** 2, touch_t), mask, gate)

        # L_RO: the relative facing rotation of person 2 with respect to person 1
        q_p = relative_yaw_quat(facing(joints_p[:, :, 0]), facing(joints_p[:, :, 1]))   # (B, T, 2)
        q_t = relative_yaw_quat(facing(joints_t[:, :, 0]), facing(joints_t[:, :, 1]))
        # q and -q are the same rotation: compare with the nearer sign, so 179 deg vs -179 deg costs little
        ro_err = torch.minimum(((q_p - q_t) ** 2).mean(-1), ((q_p + q_t) ** 2).mean(-1))
        out["rel_orient"] = _masked_mean(ro_err, mask, gate)

        out["total"] = sum(self.weights[name] * out[name] for name in TERMS)
        return out


def _cross_distances(joints: torch.Tensor) -> torch.Tensor:
    """(B, T, 2, 22, 3) -> (B, T, 22, 22) distances between person 1's and person 2's joints."""
    B, T = joints.shape[:2]
    a = joints[:, :, 0].reshape(B * T, NUM_JOINTS, 3)
    b = joints[:, :, 1].reshape(B * T, NUM_JOINTS, 3)
    # the direct (not matrix-product) form is exact for coincident joints, whose distance must be 0
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").reshape(B, T, NUM_JOINTS, NUM_JOINTS)


def _mean_where(err: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """(B, T, J, J) -> (B, T): mean of err over the entries where `where` is 1 (0 when there are none)."""
    return (err * where).sum((-1, -2)) / where.sum((-1, -2)).clamp_min(1)
