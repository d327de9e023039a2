"""Rotation conversions (torch, batched over leading dims) and inverse kinematics from joint positions.

Conventions
- Matrices act on column vectors: v' = R @ v.
- Quaternions are (w, x, y, z), unit norm; q and -q are the same rotation.
- 6D (InterHuman's layout, reference/intergen-facts.md 1.2): the first two COLUMNS of R flattened row by
  row, [R00, R01, R10, R11, R20, R21]. Mirroring across the X = 0 plane (R -> M R M, M = diag(-1, 1, 1))
  flips the sign of R01, R10 and R20, i.e. 6D components 1, 2 and 4 (see MIRROR_6D_SIGN).
- Euler angles: `order` names the axes in the order they are written, e.g. "ZYX"; intrinsic means
  R = R_Z(a0) @ R_Y(a1) @ R_X(a2) (each rotation about the already-rotated axes, as BVH channels are),
  extrinsic means the same axes fixed in the world, R = R_X(a2) @ R_Y(a1) @ R_Z(a0).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from . import skeleton

_EPS = 1e-8
MIRROR_6D_SIGN = (1.0, -1.0, -1.0, 1.0, -1.0, 1.0)  # 6D components negated by an X mirror: 1, 2 and 4
_AXIS = {"X": 0, "Y": 1, "Z": 2}


# ------------------------------------------------------------------------------------------------ 6D
def matrix_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, row by row [R00, R01, R10, R11, R20, R21]."""
    return R[..., :, :2].reshape(*R.shape[:-2], 6)


def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two stored columns (Zhou et al. 2019)."""
    cols = d6.reshape(*d6.shape[:-1], 3, 2)
    b1 = F.normalize(cols[..., 0], dim=-1)
    a2 = cols[..., 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


# ---------------------------------------------------------------------------------------- quaternions
def qnormalize(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def qmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b (apply b, then a), broadcasting over leading dims."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], dim=-1)


def qinv(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion (its conjugate)."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4), broadcasting."""
    q, v = torch.broadcast_tensors(q, torch.cat([torch.zeros_like(v[..., :1]), v], dim=-1))
    w, u, v = q[..., :1], q[..., 1:], v[..., 1:]
    # v' = v + 2 w (u x v) + 2 u x (u x v)
    uv = torch.linalg.cross(u, v, dim=-1)
    uuv = torch.linalg.cross(u, uv, dim=-1)
    return v + 2.0 * (w * uv + uuv)


def qbetween(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The smallest rotation (unit quaternion) taking direction a (..., 3) onto direction b (..., 3).

    Opposite directions have no unique answer; we then turn by 180 degrees about an axis perpendicular to a.
    """
    a, b = torch.broadcast_tensors(F.normalize(a, dim=-1), F.normalize(b, dim=-1))
    dot = (a * b).sum(-1, keepdim=True)
    axis = torch.linalg.cross(a, b, dim=-1)
    q = torch.cat([1.0 + dot, axis], dim=-1)  # (1 + cos, sin * n) = 2 cos(t/2) (cos(t/2), sin(t/2) n)
    opposite = (1.0 + dot[..., 0]) < 1e-6
    if opposite.any():
        # any vector perpendicular to a: cross with the coordinate axis least aligned with a
        helper = torch.zeros_like(a)
        helper.scatter_(-1, a.abs().argmin(-1, keepdim=True), 1.0)
        perp = F.normalize(torch.linalg.cross(a, helper, dim=-1), dim=-1)
        q = torch.where(opposite[..., None], torch.cat([torch.zeros_like(dot), perp], dim=-1), q)
    return qnormalize(q)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = qnormalize(q).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quat(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) with w >= 0, using the numerically best-conditioned of the four formulas."""
    m = R.reshape(*R.shape[:-2], 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    # 4 * (w^2, x^2, y^2, z^2) from the trace and diagonal
    sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    # each row: the quaternion times 4 * (its largest component), from the off-diagonal sums/differences
    cand = torch.stack([
        torch.stack([sq[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, sq[..., 1], m10 + m01, m02 + m20], -1),
        torch.stack([m02 - m20, m10 + m01, sq[..., 2], m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, sq[..., 3]], -1),
    ], dim=-2)
    best = sq.argmax(-1)
    q = torch.gather(cand, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = qnormalize(q)
    return torch.where(q[..., :1] < 0, -q, q)


# --------------------------------------------------------------------------------------- axis-angle
def axis_angle_to_quat(aa: torch.Tensor) -> torch.Tensor:
    angle = aa.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(angle/2)/angle -> 1/2 as angle -> 0 (Taylor), avoiding 0/0
    small = angle < 1e-6
    scale = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / angle.clamp_min(1e-6))
    return torch.cat([torch.cos(half), aa * scale], dim=-1)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    q = qnormalize(q)
    q = torch.where(q[..., :1] < 0, -q, q)  # the short way round: angle in [0, pi]
    sin_half = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    scale = torch.where(small, 2.0 + angle * angle / 12.0, angle / sin_half.clamp_min(1e-6))
    return q[..., 1:] * scale


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    return quat_to_axis_angle(matrix_to_quat(R))


# -------------------------------------------------------------------------------------------- Euler
def _check_order(order: str) -> tuple[int, int, int]:
    order = order.upper()
    if len(order) != 3 or set(order) - set(_AXIS) or len(set(order)) != 3:
        raise ValueError(f"Euler order must be a permutation of 'XYZ' (e.g. 'ZYX'), got {order!r}")
    return tuple(_AXIS[c] for c in order)


def _axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = (one, zero, zero, zero, c, -s, zero, s, c)
    elif axis == 1:
        rows = (c, zero, s, zero, one, zero, -s, zero, c)
    else:
        rows = (c, -s, zero, s, c, zero, zero, zero, one)
    return torch.stack(rows, dim=-1).reshape(*angle.shape, 3, 3)


def euler_to_matrix(angles: torch.Tensor, order: str = "ZYX", *, degrees: bool = False,
                    intrinsic: bool = True) -> torch.Tensor:
    """angles (..., 3) listed in `order` -> (..., 3, 3). See the module docstring for intrinsic/extrinsic."""
    axes = _check_order(order)
    if degrees:
        angles = torch.deg2rad(angles)
    mats = [_axis_rotation(ax, angles[..., k]) for k, ax in enumerate(axes)]
    return mats[0] @ mats[1] @ mats[2] if intrinsic else mats[2] @ mats[1] @ mats[0]


def matrix_to_euler(R: torch.Tensor, order: str = "ZYX", *, degrees: bool = False,
                    intrinsic: bool = True) -> torch.Tensor:
    """Inverse of euler_to_matrix; the middle angle lies in [-pi/2, pi/2]."""
    if not intrinsic:  # extrinsic ABC is intrinsic CBA with the angles listed backwards
        return matrix_to_euler(R, order[::-1], degrees=degrees, intrinsic=True).flip(-1)
    i, j, k = _check_order(order)
    # For R = R_i(a) R_j(b) R_k(c): R[i, k] = eps sin(b), eps = +1 for a cyclic order (XYZ, YZX, ZXY), else -1.
    eps = 1.0 if (j - i) % 3 == 1 else -1.0
    b = torch.asin((eps * R[..., i, k]).clamp(-1.0, 1.0))
    a = torch.atan2(-eps * R[..., j, k], R[..., k, k])
    c = torch.atan2(-eps * R[..., i, j], R[..., i, i])
    out = torch.stack([a, b, c], dim=-1)
    return torch.rad2deg(out) if degrees else out


# ------------------------------------------------------------------------------------ yaw about +Y
def yaw_quat(angle: torch.Tensor) -> torch.Tensor:
    """Rotation by `angle` (radians) about +Y as a quaternion (..., 4)."""
    half = 0.5 * angle
    zero = torch.zeros_like(angle)
    return torch.stack([torch.cos(half), zero, torch.sin(half), zero], dim=-1)


# ------------------------------------------------------------------------------- inverse kinematics
def _kabsch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The rotation R minimising sum_k |R src_k - dst_k|^2; src, dst (..., K, 3) -> (..., 3, 3)."""
    H = src.transpose(-1, -2) @ dst  # (..., 3, 3)
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    d = torch.sign(torch.det(V @ U.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    S = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1))
    return V @ S @ U.transpose(-1, -2)


def positions_to_local_rotations(joints: torch.Tensor, offsets: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Local rotations (..., 22, 3, 3) whose forward kinematics points every bone where `joints` has it.

    joints (..., 22, 3) world positions; offsets (22, 3) rest offsets (default skeleton.REST_OFFSETS), only
    their directions matter. Per joint, in parent-before-child order:
    - joints with several children (pelvis: hips + spine; spine3: neck + collars) take the rotation that best
      aligns all their rest child bones with the current ones (Kabsch), which fixes twist as well;
    - joints with one child take the smallest rotation (no twist) turning the rest bone, as carried by the
      parent's world rotation, onto the current bone;
    - leaves (feet, head, wrists) keep their parent's orientation (local identity).
    With the same bone lengths, forward_kinematics(result, joints[..., 0, :], offsets) reproduces `joints`.
    """
    if joints.shape[-2:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"joints must end in ({skeleton.NUM_JOINTS}, 3), got {tuple(joints.shape)}")
    offsets = (skeleton.REST_OFFSETS if offsets is None else offsets).to(joints)
    rest_dir = F.normalize(offsets, dim=-1)  # (22, 3); row 0 unused
    batch = joints.shape[:-2]
    eye = torch.eye(3, dtype=joints.dtype, device=joints.device).expand(*batch, 3, 3)
    global_rots: list[torch.Tensor] = [eye] * skeleton.NUM_JOINTS
    for j in range(skeleton.NUM_JOINTS):
        children = skeleton.CHILDREN[j]
        parent_rot = eye if j == skeleton.ROOT else global_rots[skeleton.PARENTS[j]]
        if not children:
            global_rots[j] = parent_rot
            continue
        bones = F.normalize(joints[..., list(children), :] - joints[..., j:j + 1, :], dim=-1)  # (..., K, 3)
        if len(children) > 1:
            global_rots[j] = _kabsch(rest_dir[list(children)].expand(*batch, -1, 3), bones)
        else:
            carried = (parent_rot @ rest_dir[children[0], :, None])[..., 0]  # rest bone under the parent
            global_rots[j] = quat_to_matrix(qbetween(carried, bones[..., 0, :])) @ parent_rot
    G = torch.stack(global_rots, dim=-3)  # (..., 22, 3, 3)
    parents = [0] + list(skeleton.PARENTS[1:])
    parent_G = G[..., parents, :, :]
    local = parent_G.transpose(-1, -2) @ G  # L_j = G_parent^T G_j
    return torch.cat([G[..., :1, :, :], local[..., 1:, :, :]], dim=-3)
