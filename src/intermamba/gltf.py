"""Animated glTF 2.0 binaries (.glb): people as skinned bodies on our skeleton, written with numpy alone.

One file holds every person of a sample. Per person: a node `person1` holding the tree of the 22 joints
(named `p1_pelvis`, ..., SMPL order; Blender makes it one armature), a skinned mesh at the scene's root
(`body.body_mesh`, one material and colour per person), and in the one animation a rotation and a
translation channel per joint, sampled at the motion's frame rate (LINEAR: glTF slerps rotations between
samples). The translations carry each frame's own bone vectors, so the joints land exactly on the motion's
positions even where a generated motion's bones stretch a little (a rigid skeleton would be off by that
much); the nodes' rest translations are the mean bones, which also shape the body mesh. Units are metres, +Y
is up and people face +Z in the rest pose, as in glTF itself, so no axis is converted. The nodes' static
transforms are the first frame, so a viewer that ignores the animation still shows a posed body.

Layout of the binary (glTF 2.0 spec, "GLB File Format Specification"): a 12-byte header, a JSON chunk padded
with spaces and a BIN chunk padded with zeros, each to 4 bytes; every buffer view starts on a 4-byte boundary.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from . import __version__, rotations
from .body import body_mesh
from .fileio import atomic_write_bytes
from .skeleton import CHILDREN, JOINT_NAMES, NUM_JOINTS, PARENTS, ROOT, forward_kinematics

GLB_MAGIC, GLB_VERSION = 0x46546C67, 2          # b"glTF", container version 2
CHUNK_JSON, CHUNK_BIN = 0x4E4F534A, 0x004E4942  # b"JSON", b"BIN\0"
_COMPONENT = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125, np.dtype(np.uint16): 5123,
              np.dtype(np.uint8): 5121}
_TYPE = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
TRIANGLES = 4


class _Buffer:
    """The BIN chunk under construction, with its buffer views and accessors."""

    def __init__(self):
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, *, target: Optional[int] = None, bounds: bool = False) -> int:
        """Append `array` (N,) or (N, k) as its own buffer view; returns its accessor's index."""
        a = np.ascontiguousarray(array)
        self.data += b"\0" * (-len(self.data) % 4)
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": a.nbytes}
        if target is not None:
            view["target"] = target
        self.data += a.tobytes()
        self.views.append(view)
        flat = a.reshape(len(a), -1)
        accessor = {"bufferView": len(self.views) - 1, "componentType": _COMPONENT[a.dtype], "count": len(a),
                    "type": _TYPE[flat.shape[1]]}
        if bounds:       # required for POSITION and animation inputs
            accessor["min"], accessor["max"] = flat.min(axis=0).tolist(), flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _quaternions(R: torch.Tensor) -> np.ndarray:
    """(T, 3, 3) -> (T, 4) float32 in glTF's x, y, z, w order, each the sign nearest the previous one so that
    interpolation between samples takes the short way round."""
    q = rotations.matrix_to_quat(R).numpy()[:, [1, 2, 3, 0]]
    flip = np.cumprod(np.where(np.sum(q[1:] * q[:-1], axis=1) < 0, -1.0, 1.0))
    q[1:] *= flip[:, None]
    q = q.astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _local_translations(pose) -> np.ndarray:
    """Each joint's translation in its parent's frame per frame (T, 22, 3): the root's is its world position,
    the others' their bone vectors G_parent^T (x_j - x_parent), with G the fitted world rotations."""
    x = pose.joints
    _, G = forward_kinematics(pose.local, pose.root, return_global=True)        # (T, 22, 3, 3)
    parents = [ROOT] + list(PARENTS[1:])
    bones = x - x[:, parents]
    local = (G[:, parents].transpose(-1, -2) @ bones[..., None])[..., 0]
    local[:, ROOT] = x[:, ROOT]
    return local.numpy()


def _column_major(M: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(M, -1, -2)).reshape(*M.shape[:-2], 16)


def glb_bytes(poses: Sequence, fps: float, *, colors: Optional[Sequence[str]] = None,
              names: Optional[Sequence[str]] = None) -> bytes:
    """The .glb of `poses` (data.bvh.Pose per person: local rotations, root path, bones) at `fps`."""
    from .render import PERSON_COLORS

    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not poses:
        raise ValueError("no person to write")
    colors = colors or [PERSON_COLORS[k % len(PERSON_COLORS)] for k in range(len(poses))]
    names = names or [f"person{k + 1}" for k in range(len(poses))]
    buf = _Buffer()
    T = poses[0].local.shape[0]
    times = buf.add((np.arange(T) / fps).astype(np.float32), bounds=True)
    nodes, scene, meshes, skins, materials, samplers, channels = [], [], [], [], [], [], []
    for k, (pose, color, name) in enumerate(zip(poses, colors, names)):
        if pose.local.shape[0] != T:
            raise ValueError(f"every person needs the same number of frames; {name} has {pose.local.shape[0]}, "
                             f"the first has {T}")
        offsets = pose.offsets.numpy()
        quats = [_quaternions(pose.local[:, j]) for j in range(NUM_JOINTS)]       # 22 x (T, 4)
        moves = _local_translations(pose).astype(np.float32)                      # (T, 22, 3)
        nodes.append({"name": name, "children": [len(nodes) + 1]})                # holds the skeleton
        first = len(nodes)                                                         # node of joint 0
        for j in range(NUM_JOINTS):
            node = {"name": f"p{k + 1}_{JOINT_NAMES[j]}", "rotation": quats[j][0].tolist(),
                    "translation": moves[0, j].tolist()}
            if CHILDREN[j]:
                node["children"] = [first + c for c in CHILDREN[j]]
            nodes.append(node)
        mesh = body_mesh(offsets)
        V = len(mesh.vertices)
        index_type = np.uint16 if V <= np.iinfo(np.uint16).max else np.uint32
        attributes = {
            "POSITION": buf.add(mesh.vertices, target=ARRAY_BUFFER, bounds=True),
            "NORMAL": buf.add(mesh.normals, target=ARRAY_BUFFER),
            # rigid skinning: one joint per vertex at weight 1, the other three slots unused (joint 0, weight 0)
            "JOINTS_0": buf.add(np.stack([mesh.joint, *[np.zeros(V, int)] * 3], 1).astype(np.uint8),
                                target=ARRAY_BUFFER),
            "WEIGHTS_0": buf.add(np.eye(4, dtype=np.float32)[np.zeros(V, int)], target=ARRAY_BUFFER),
        }
        indices = buf.add(mesh.faces.reshape(-1).astype(index_type), target=ELEMENT_ARRAY_BUFFER)
        materials.append({"name": name, "pbrMetallicRoughness": {"baseColorFactor": [*_rgb(color), 1.0],
                                                                "metallicFactor": 0.0, "roughnessFactor": 0.7}})
        meshes.append({"name": f"{name}_body", "primitives": [{"attributes": attributes, "indices": indices,
                                                              "material": k, "mode": TRIANGLES}]})
        # the bind pose has every rotation the identity, so each inverse bind matrix undoes a translation
        ibm = np.tile(np.eye(4, dtype=np.float32), (NUM_JOINTS, 1, 1))
        ibm[:, :3, 3] = -mesh.rest_joints
        skins.append({"name": f"{name}_skin", "joints": list(range(first, first + NUM_JOINTS)), "skeleton": first,
                      "inverseBindMatrices": buf.add(_column_major(ibm))})
        # a skinned mesh's node stays at the scene's root: glTF ignores its parents' transforms anyway
        nodes.append({"name": f"{name}_body", "mesh": k, "skin": k})
        scene += [first - 1, len(nodes) - 1]
        tracks = [(first + j, path, values) for j in range(NUM_JOINTS)
                  for path, values in (("translation", moves[:, j]), ("rotation", quats[j]))]
        for node, path, values in tracks:
            samplers.append({"input": times, "output": buf.add(values), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})
    doc = {
        "asset": {"version": "2.0", "generator": f"intermamba {__version__}"},
        "scene": 0, "scenes": [{"name": "motion", "nodes": scene}], "nodes": nodes, "meshes": meshes,
        "materials": materials, "skins": skins,
        "animations": [{"name": "motion", "samplers": samplers, "channels": channels}],
        "buffers": [{"byteLength": len(buf.data) + (-len(buf.data) % 4)}],
        "bufferViews": buf.views, "accessors": buf.accessors,
    }
    return _pack(doc, bytes(buf.data))


def _rgb(color: str) -> list[float]:
    """'#1f6fd1' -> linear RGB (glTF's baseColorFactor is linear; the hex colours are sRGB)."""
    srgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return [round(float(c), 4) for c in linear]


def _pack(doc: dict, binary: bytes) -> bytes:
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
                     struct.pack("<II", len(text), CHUNK_JSON), text,
                     struct.pack("<II", len(binary), CHUNK_BIN), binary])


def write_glb(path: Union[str, Path], poses: Sequence, fps: float, **kwargs) -> Path:
    """Write `glb_bytes(poses, fps, ...)` to `path` atomically."""
    data = glb_bytes(poses, fps, **kwargs)
    atomic_write_bytes(path, data)
    return Path(path)
