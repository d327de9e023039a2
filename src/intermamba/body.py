"""A body for the 22-joint skeleton: a capsule per bone, a head and two hands, rigidly skinned to the joints.

Built in the rest pose (every local rotation the identity, pelvis at the origin) from one person's bones, so
it fits whoever it is given; each vertex follows the one joint whose rotation turns its bone. The glTF export
carries it as a skinned mesh; a renderer poses it with `pose_vertices`, or (render.py, which has joints only)
draws the same capsules between the posed joints.

    mesh = body_mesh(offsets)                                   # offsets (22, 3), default the rest skeleton
    verts = pose_vertices(mesh, world_rotations, joints)        # (T, 22, 3, 3), (T, 22, 3) -> (T, V, 3)
    bone_radii()                                                # (22,) capsule radius of the bone ending at each joint
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, REST_OFFSETS

# Capsule radius (metres) of the bone that ends at each joint, by the joint's name without its side: the
# proportions of an adult of about 1.72 m, slim enough that limbs stay apart in a hug.
_BONE_RADII = {
    "hip": 0.075, "knee": 0.065, "ankle": 0.05, "foot": 0.04,
    "spine1": 0.10, "spine2": 0.11, "spine3": 0.11, "neck": 0.06, "head": 0.05,
    "collar": 0.055, "shoulder": 0.055, "elbow": 0.048, "wrist": 0.04,
}
HEAD_RADIUS = 0.10
HEAD_CENTRE = (0.0, 0.06, 0.02)    # from the head joint, in the head's rest frame (above, a little forward)
HAND_LENGTH = 0.09                 # a hand continues its forearm this far beyond the wrist
HAND_RADIUS = 0.038


@dataclass
class BodyMesh:
    """A triangle mesh in the bind pose, each vertex bound to one joint (rigid skinning)."""

    vertices: np.ndarray      # (V, 3) float32, bind pose
    normals: np.ndarray       # (V, 3) float32, unit, pointing out
    faces: np.ndarray         # (F, 3) int32, counter-clockwise seen from outside
    joint: np.ndarray         # (V,) int32: the joint each vertex follows
    rest_joints: np.ndarray   # (22, 3) float32 joint positions of the bind pose


def capsule(a, b, radius: float, *, segments: int = 12, rings: int = 4):
    """A closed capsule around the segment a -> b: vertices (V, 3), normals (V, 3), faces (F, 3).

    Two poles and 2 * rings circles of `segments` vertices (one fewer for a sphere, a == b).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    axis = b - a
    length = float(np.linalg.norm(axis))
    u = axis / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)                                       # (e1, e2, u) right-handed
    # latitudes from the bottom pole (-pi/2, at a) to the top pole (+pi/2, at b), poles excluded; the equator
    # is a circle at a and another at b, one circle when they coincide (a sphere)
    step = np.pi / 2 / rings
    top_lats = step * np.arange(0 if length > 1e-9 else 1, rings)
    lats = np.concatenate([-np.pi / 2 + step * np.arange(1, rings + 1), top_lats])
    centres = np.concatenate([np.zeros(rings), np.full(len(top_lats), length)])
    circles = len(lats)
    theta = 2 * np.pi * np.arange(segments) / segments
    cl, sl = np.cos(lats)[:, None, None], np.sin(lats)[:, None, None]
    ring_normals = cl * (np.cos(theta)[None, :, None] * e1 + np.sin(theta)[None, :, None] * e2) + sl * u
    normals = np.concatenate([-u[None], ring_normals.reshape(-1, 3), u[None]])          # (2 + 2RS, 3)
    along = np.concatenate([[0.0], np.repeat(centres, segments), [length]])
    vertices = a + along[:, None] * u + radius * normals

    def ring(k: int) -> np.ndarray:                            # vertex indices of circle k
        return 1 + k * segments + np.arange(segments)

    nxt = np.roll(np.arange(segments), -1)
    top = 1 + circles * segments
    first, last = ring(0), ring(circles - 1)
    faces = [np.stack([np.zeros(segments, dtype=int), first[nxt], first], axis=1)]       # bottom fan
    for k in range(circles - 1):
        lo, hi = ring(k), ring(k + 1)
        faces += [np.stack([lo, lo[nxt], hi[nxt]], axis=1), np.stack([lo, hi[nxt], hi], axis=1)]
    faces.append(np.stack([np.full(segments, top), last, last[nxt]], axis=1))            # top fan
    return vertices, normals, np.concatenate(faces)


def bone_radii() -> np.ndarray:
    """(22,) capsule radius of the bone that ends at each joint, metres (0 for the pelvis, which ends none)."""
    return np.array([0.0] + [_BONE_RADII[_side_free(JOINT_NAMES[j])] for j in range(1, NUM_JOINTS)])


def body_mesh(offsets=None, *, segments: int = 12, rings: int = 4) -> BodyMesh:
    """The body of a person whose bones are `offsets` (22, 3) metres in their parents' rest frames
    (default skeleton.REST_OFFSETS), in the bind pose."""
    off = np.asarray(REST_OFFSETS if offsets is None else offsets, dtype=np.float64)
    if off.shape != (NUM_JOINTS, 3) or not np.isfinite(off).all():
        raise ValueError(f"offsets must be ({NUM_JOINTS}, 3) finite numbers, got shape {off.shape}")
    rest = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        rest[j] = rest[PARENTS[j]] + off[j]
    # (start, end, radius, joint that moves it)
    radii = bone_radii()
    parts = [(rest[PARENTS[j]], rest[j], radii[j], PARENTS[j]) for j in range(1, NUM_JOINTS)]
    head = JOINT_INDEX["head"]
    centre = rest[head] + np.asarray(HEAD_CENTRE)
    parts.append((centre, centre, HEAD_RADIUS, head))
    for side in ("l", "r"):
        wrist, elbow = JOINT_INDEX[f"{side}_wrist"], JOINT_INDEX[f"{side}_elbow"]
        forearm = rest[wrist] - rest[elbow]
        tip = rest[wrist] + HAND_LENGTH * forearm / max(np.linalg.norm(forearm), 1e-9)
        parts.append((rest[wrist], tip, HAND_RADIUS, wrist))
    verts, norms, faces, joint, start = [], [], [], [], 0
    for a, b, radius, j in parts:
        v, n, f = capsule(a, b, radius, segments=segments, rings=rings)
        verts.append(v), norms.append(n), faces.append(f + start), joint.append(np.full(len(v), j))
        start += len(v)
    return BodyMesh(np.concatenate(verts).astype(np.float32), np.concatenate(norms).astype(np.float32),
                    np.concatenate(faces).astype(np.int32), np.concatenate(joint).astype(np.int32),
                    rest.astype(np.float32))


def _side_free(name: str) -> str:
    return name[2:] if name[:2] in ("l_", "r_") else name


def pose_vertices(mesh: BodyMesh, world_rotations, joints, normals: bool = False):
    """The mesh posed: world_rotations (..., 22, 3, 3) and joints (..., 22, 3) as from
    skeleton.forward_kinematics(..., return_global=True) -> vertices (..., V, 3) (and normals when asked).

    v = G_j (v_bind - rest_j) + x_j for the vertex's joint j: the bind pose has every rotation the identity.
    """
    G = np.asarray(world_rotations, dtype=np.float64)[..., mesh.joint, :, :]      # (..., V, 3, 3)
    x = np.asarray(joints, dtype=np.float64)[..., mesh.joint, :]                  # (..., V, 3)
    local = (mesh.vertices - mesh.rest_joints[mesh.joint]).astype(np.float64)   # (V, 3)
    verts = np.einsum("...vij,vj->...vi", G, local) + x
    if normals:
        return verts, np.einsum("...vij,vj->...vi", G, mesh.normals.astype(np.float64))
    return verts
