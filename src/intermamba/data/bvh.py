"""BVH motion files: read any humanoid BVH onto our 22 joints, and write our skeleton back out.

Reading
- `parse_bvh` / `read_bvh`: a general parser. HIERARCHY (ROOT, JOINT, End Site, OFFSET, CHANNELS in any
  order and number), MOTION (Frames, Frame Time), any mix of CRLF / LF / CR line endings. The frame block
  is parsed in one numpy call, so a 300-frame file loads in milliseconds.
- `bvh_positions`: forward kinematics with each joint's own channel order. Rotation channels compose
  intrinsically in the order written ("Zrotation Yrotation Xrotation" -> R = Rz @ Ry @ Rx); position
  channels replace the OFFSET components they name (how Blender and most tools read the root).
- `read_bvh_joints` / `read_bvh_pair`: joints (T, 22, 3) / (2, T, 22, 3) in metres, Y up, resampled to
  `fps`. A pair is two files captured together (one per person, one world frame, one clock): each is read
  on its own, then both are cut to the shorter length.
  - Mapping onto our skeleton (`_humanoid_map`) goes by the hierarchy, not by names, because names lie:
    "LeftShoulder" is the clavicle in one CMU convention and the shoulder in the other. Files that name all
    of our 22 joints (our own exports) map by name.
  - Units: `units="auto"` picks, among common BVH units, the one that makes the rest skeleton about as tall
    as an adult (`_STATURE_M`); CMU's cgspeed files come out in their ASF unit (x 0.056444 m).
  - CMU's cgspeed conversions start with a synthetic T-pose frame (root rotation zero, every rotation a whole
    number of degrees, unlike the capture that follows); it is detected and dropped.
  - Resampling interpolates joint positions linearly in time (120 -> 30 fps picks every 4th frame exactly).

Writing
- `write_bvh`: our 22-joint skeleton, joint names from `skeleton.JOINT_NAMES`, an End Site after each leaf,
  root channels "Xposition Yposition Zposition Zrotation Yrotation Xrotation" and "Zrotation Yrotation
  Xrotation" elsewhere, lengths in METRES (Blender imports it at true size with its default scale 1.0),
  degrees. Written atomically.
- `write_pair_bvh`: two persons' joints (+ the 6D rotations of generated features, or given ones) ->
  `<stem>_p1.bvh`, `<stem>_p2.bvh` in one shared world frame. The 262-d features store no root
  orientation, so it is recovered from the hips and spine positions (a Kabsch fit of the pelvis's three
  child bones); the 6D rotations keep their twist but are swung onto the joint positions, and each file's
  offsets are its person's mean bones, so reading the files back gives the joints (within millimetres on
  real captures, exactly on rigid ones).

Dataset (`read_items`, `data.dataset: bvh`, `data.root: DIR`)
    DIR/pairs.tsv          one interaction per line: name<TAB>person1.bvh<TAB>person2.bvh<TAB>caption|caption...
                           (paths relative to DIR; '#' starts a comment line; at least one caption)
    DIR/split/train.txt    optional: the names in each split, one per line (also val.txt, test.txt);
                           without a split folder every pair belongs to every split.
Rotations for our skeleton are recomputed from the imported positions (`joints_to_rot6d`, inverse kinematics).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .. import rotations, skeleton
from ..fileio import atomic_write_text

log = logging.getLogger("intermamba.data")

PathLike = Union[str, os.PathLike]

# Length units met in BVH files, metres per file unit. CMU's ASF unit: 1 / 0.45 inch = 0.056444 m.
UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "asf": 0.056444}
_STATURE_M = 1.7           # `units="auto"` picks the unit that makes the rest skeleton closest to this height
_FPS_SNAP = 0.01           # a Frame Time within this many fps of a whole rate is that rate (.0083333 -> 120)
_COINCIDENT = 1e-6         # offsets shorter than this fraction of the skeleton's height are zero-length bones
_END_SITE_FRACTION = 0.5   # written End Sites continue the leaf's incoming bone by this fraction of it
_WRITE_FMT = "%.6f"

_POS_CHANNELS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}
_ROT_CHANNELS = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
_ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
_JOINT_CHANNELS = ("Zrotation", "Yrotation", "Xrotation")
_WRITE_ORDER = "ZYX"


_END_SITE = -2  # marks an open End Site on the parser's stack


class BVHError(ValueError):
    """A BVH file that cannot be read (malformed, truncated) or mapped onto our skeleton."""


# ------------------------------------------------------------------------------------------- parsing
@dataclass
class BVH:
    """A parsed BVH file. Joints are in file order, so every parent precedes its children."""

    names: list[str]
    parents: np.ndarray                 # (J,) int, -1 for the root
    offsets: np.ndarray                 # (J, 3) float64, file units
    channels: list[tuple[str, ...]]     # per joint, in the order written
    end_sites: dict[int, np.ndarray]    # joint index -> its End Site offset (3,)
    frame_time: float                   # seconds
    motion: np.ndarray                  # (F, C) float64, C = total channel count
    source: str = "<string>"
    channel_start: np.ndarray = field(init=False)  # (J,) first motion column of each joint

    def __post_init__(self):
        counts = np.array([len(c) for c in self.channels], dtype=np.int64)
        self.channel_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)

    @property
    def num_frames(self) -> int:
        return self.motion.shape[0]

    @property
    def fps(self) -> float:
        rate = 1.0 / self.frame_time
        return float(round(rate)) if abs(rate - round(rate)) < _FPS_SNAP else rate


def read_bvh(path: PathLike) -> BVH:
    """Parse a BVH file; raise BVHError naming the file and the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BVHError(f"cannot read BVH file {path}: {err.strerror or err}") from None
    return parse_bvh(data.decode("utf-8", errors="replace"), source=str(path))


def parse_bvh(text: str, *, source: str = "<string>") -> BVH:
    """Parse BVH text (any line endings). See the module docstring for the conventions."""
    split = re.search(r"(?:^|\s)MOTION(?=\s|$)", text)  # the MOTION token, whatever ends the lines
    if split is None:
        raise BVHError(f"{source}: no MOTION section; is this a BVH file?")
    header, body = text[:split.start()].split(), text[split.end():]
    names, parents, offsets, channels, end_sites = _parse_hierarchy(header, source)

    m = re.match(r"\s*Frames:\s*(\d+)\s*Frame\s+Time:\s*(\S+)", body)
    if m is None:
        raise BVHError(f"{source}: expected 'Frames: N' and 'Frame Time: SECONDS' after MOTION")
    num_frames, frame_time = int(m.group(1)), _number(m.group(2), source, "Frame Time")
    if not 0 < frame_time < np.inf:
        raise BVHError(f"{source}: Frame Time must be a positive number, got {frame_time}")
    num_channels = sum(len(c) for c in channels)
    try:
        values = np.array(body[m.end():].split(), dtype=np.float64)
    except ValueError:
        raise BVHError(f"{source}: the frame block holds something that is not a number") from None
    if num_channels == 0 or values.size % num_channels:
        raise BVHError(f"{source}: {values.size} numbers in the frame block do not fill whole frames of "
                       f"{num_channels} channels; the file is truncated or malformed")
    motion = values.reshape(-1, num_channels)
    if motion.shape[0] != num_frames:
        log.warning("%s: header says %d frames, the file holds %d; using %d", source, num_frames,
                    motion.shape[0], motion.shape[0])
    if motion.shape[0] == 0:
        raise BVHError(f"{source}: no frames")
    bad = np.argwhere(~np.isfinite(motion))                    # NaN joints must never reach a dataset or a file
    if len(bad):
        frame, column = (int(i) for i in bad[0])
        joint, channel = [(names[j], c) for j, chans in enumerate(channels) for c in chans][column]
        raise BVHError(f"{source}: {len(bad)} NaN or infinite value(s) in the frame block, the first at frame "
                       f"{frame} ({joint} {channel})")
    if not all(np.isfinite(o).all() for o in [np.asarray(offsets, dtype=np.float64), *end_sites.values()]):
        raise BVHError(f"{source}: an OFFSET in the HIERARCHY is NaN or infinite")
    return BVH(names, np.array(parents, dtype=np.int64), np.array(offsets, dtype=np.float64).reshape(-1, 3),
               channels, end_sites, frame_time, motion, source)


def _number(token: str, source: str, what: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise BVHError(f"{source}: {what} must be a number, got {token!r}") from None


def _parse_hierarchy(tokens: list[str], source: str):
    """Token-level parse of the HIERARCHY block into flat joint tables (file order)."""
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []      # open joints (indices) and End Sites (_END_SITE)
    pending: Optional[int] = None
    i = 0

    def need(n: int) -> list[str]:
        if i + n > len(tokens):
            raise BVHError(f"{source}: the HIERARCHY ends in the middle of a joint")
        return tokens[i:i + n]

    while i < len(tokens):
        tok = tokens[i]
        if tok == "HIERARCHY":
            i += 1
        elif tok in ("ROOT", "JOINT"):
            (name,) = need(2)[1:]
            if (tok == "ROOT") != (not stack):
                raise BVHError(f"{source}: {tok} {name} at the wrong level (one ROOT, JOINTs inside it)")
            if stack and stack[-1] == _END_SITE:
                raise BVHError(f"{source}: JOINT {name} inside an End Site")
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append(())
            pending = len(names) - 1
            i += 2
        elif tok == "End":
            if need(2)[1] != "Site" or not stack or stack[-1] < 0:
                raise BVHError(f"{source}: misplaced 'End Site'")
            pending = _END_SITE
            i += 2
        elif tok == "{":
            if pending is None:
                raise BVHError(f"{source}: '{{' without a joint")
            stack.append(pending)
            if pending == _END_SITE:
                end_sites[stack[-2]] = None
            pending = None
            i += 1
        elif tok == "}":
            if not stack:
                raise BVHError(f"{source}: unbalanced '}}' in the HIERARCHY")
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            xyz = [_number(t, source, "OFFSET") for t in need(4)[1:]]
            if not stack:
                raise BVHError(f"{source}: OFFSET outside a joint")
            if stack[-1] == _END_SITE:
                end_sites[stack[-2]] = np.array(xyz)
            else:
                offsets[stack[-1]] = xyz
            i += 4
        elif tok == "CHANNELS":
            count = int(_number(need(2)[1], source, "CHANNELS count"))
            chans = tuple(need(2 + count)[2:])
            bad = [c for c in chans if c not in _POS_CHANNELS and c not in _ROT_CHANNELS]
            if bad or len(set(chans)) != len(chans):
                raise BVHError(f"{source}: bad CHANNELS line {' '.join(chans)} (unknown or repeated channels)")
            if not stack or stack[-1] < 0:
                raise BVHError(f"{source}: CHANNELS outside a joint")
            channels[stack[-1]] = chans
            i += 2 + count
        else:
            raise BVHError(f"{source}: unexpected {tok!r} in the HIERARCHY")
    if stack:
        raise BVHError(f"{source}: unbalanced '{{' in the HIERARCHY (a '}}' is missing)")
    if not names:
        raise BVHError(f"{source}: no ROOT joint in the HIERARCHY")
    missing = [n for n, o in zip(names, offsets) if o is None]
    missing += [names[j] + "/End Site" for j, o in end_sites.items() if o is None]
    if missing:
        raise BVHError(f"{source}: no OFFSET for {', '.join(missing)}")
    return names, parents, offsets, channels, end_sites


# ----------------------------------------------------------------------------- forward kinematics
def bvh_positions(bvh: BVH) -> np.ndarray:
    """World positions (F, N, 3) of every joint and End Site, in file units: nodes 0..J-1 are the joints,
    then one node per End Site, in the order of `bvh_node_names`."""
    F = bvh.num_frames
    J = len(bvh.names)
    motion = torch.from_numpy(bvh.motion)
    pos = [None] * J
    rot = [None] * J
    for j in range(J):
        start, chans = int(bvh.channel_start[j]), bvh.channels[j]
        local_t = torch.from_numpy(bvh.offsets[j]).expand(F, 3).clone()  # (F, 3)
        for k, c in enumerate(chans):
            if c in _POS_CHANNELS:
                local_t[:, _POS_CHANNELS[c]] = motion[:, start + k]
        rot_cols = [start + k for k, c in enumerate(chans) if c in _ROT_CHANNELS]
        order = "".join(_ROT_CHANNELS[chans[k - start]] for k in rot_cols)
        local_r = _euler_any(motion[:, rot_cols], order)  # (F, 3, 3)
        p = int(bvh.parents[j])
        if p < 0:
            pos[j], rot[j] = local_t, local_r
        else:
            pos[j] = pos[p] + (rot[p] @ local_t[..., None])[..., 0]
            rot[j] = rot[p] @ local_r
    for j in sorted(bvh.end_sites):
        pos.append(pos[j] + rot[j] @ torch.from_numpy(bvh.end_sites[j]))
    return torch.stack(pos, dim=1).numpy()


def _euler_any(degrees: torch.Tensor, order: str) -> torch.Tensor:
    """(F, k) angles for k in 0..3 rotation channels, composed intrinsically in `order` -> (F, 3, 3)."""
    F = degrees.shape[0]
    missing = [a for a in "XYZ" if a not in order]
    # pad with zero angles about the unused axes: identity factors, so the product is unchanged
    angles = torch.cat([degrees, degrees.new_zeros(F, len(missing))], dim=1)
    return rotations.euler_to_matrix(angles, order + "".join(missing), degrees=True)


def rest_positions(bvh: BVH) -> np.ndarray:
    """Rest-pose positions (N, 3) of joints and End Sites (all channels zero, root at its OFFSET)."""
    zero = BVH(bvh.names, bvh.parents, bvh.offsets, [() for _ in bvh.names], bvh.end_sites,
               bvh.frame_time, np.zeros((1, 0)), bvh.source)
    return bvh_positions(zero)[0]


# ------------------------------------------------------------------------- mapping onto our skeleton
class _Rig:
    """A file's skeleton in its rest pose, as a tree of nodes (joints, then End Sites) to reason about."""

    def __init__(self, names: Sequence[str], parents: np.ndarray, rest: np.ndarray, num_joints: int):
        self.names, self.parents, self.rest = list(names), parents, rest
        N = len(names)
        self.children = [[c for c in range(N) if parents[c] == j] for j in range(N)]
        self.joint_children = [[c for c in ch if c < num_joints] for ch in self.children]  # End Sites left out
        self.height = float(np.ptp(rest[:, 1])) or 1.0
        bone = np.linalg.norm(rest - rest[np.maximum(parents, 0)], axis=1)
        self.zero = (bone < _COINCIDENT * self.height) & (parents >= 0)  # coincides with its parent, always

    def subtree(self, j: int) -> list[int]:
        out, todo = [], [j]
        while todo:
            out.append(todo.pop())
            todo.extend(self.children[out[-1]])
        return out

    def line(self, j: int) -> list[int]:
        """Nodes from j down its first-child line, zero-length bones skipped."""
        out = []
        while True:
            if not self.zero[j]:
                out.append(j)
            if not self.children[j]:
                return out
            j = self.children[j][0]

    def single_line_end(self, j: int) -> int:
        """Follow single child joints down from j; the first joint that branches or ends."""
        while len(self.joint_children[j]) == 1:
            j = self.joint_children[j][0]
        return j

    def up(self, bottom: int, top: int) -> list[int]:
        """Non-zero-length nodes from bottom up to (excluding) its ancestor top."""
        out, j = [], bottom
        while j != top:
            if j < 0:
                raise BVHError("internal: top is not an ancestor of bottom")
            if not self.zero[j]:
                out.append(j)
            j = int(self.parents[j])
        return out


def _humanoid_map(names: Sequence[str], parents: np.ndarray, rest: np.ndarray, num_joints: int,
                  source: str) -> np.ndarray:
    """A (22, N) weight matrix W with our joints = W @ the file's nodes (joints then End Sites).

    Our own skeleton maps by name. Anything else goes by structure, in the rest pose (Y up):
    - the pelvis is the root (or the first joint below it with several children); of its subtrees, the two
      lowest are the legs and the highest is the spine; zero-length bones (CMU's LHipJoint, LowerBack,
      clavicles, ...) are skipped everywhere;
    - a leg's first four joints (End Sites count) are hip, knee, ankle, toe; left is the side the vector
      up x forward points to, forward being the toes' direction from the ankles;
    - up the spine, the first joint with 3 or more children is the chest; the joints up to it are the spine
      (spine1, spine2, spine3: both ends and the middle when there are more); its highest branch is the neck
      chain (neck, head), its two most lateral ones are the arms;
    - in an arm, the wrist is the first joint whose chain branches (fingers, thumb) or ends; the elbow and
      shoulder are its parent and grandparent. A joint between chest and shoulder is the clavicle (collar).
    Missing spine3 / collars (CMU's clavicles sit on the thorax) are placed between their neighbours at our
    rest skeleton's proportions.
    """
    W = np.zeros((skeleton.NUM_JOINTS, len(names)))

    def put(ours: str, node: int) -> None:
        W[skeleton.JOINT_INDEX[ours], node] = 1.0

    index = {n: i for i, n in enumerate(names[:num_joints])}
    if all(n in index for n in skeleton.JOINT_NAMES):
        for n in skeleton.JOINT_NAMES:
            put(n, index[n])
        return W

    def fail(what: str) -> BVHError:
        return BVHError(f"{source}: cannot map this skeleton onto the 22 SMPL body joints: {what}")

    rig = _Rig(names, parents, rest, num_joints)
    pelvis = 0
    while len(rig.joint_children[pelvis]) == 1:  # below a "Reference" root, if any
        pelvis = rig.joint_children[pelvis][0]
    branches = rig.joint_children[pelvis]
    if len(branches) < 3:
        raise fail(f"the pelvis {names[pelvis]!r} has {len(branches)} child joints, expected two legs and a spine")

    # legs, and which side is left
    spine_top = max(branches, key=lambda b: rest[rig.subtree(b), 1].max())
    legs = sorted((b for b in branches if b != spine_top), key=lambda b: rest[rig.subtree(b), 1].min())[:2]
    leg_chains = [rig.line(b) for b in legs]
    if any(len(c) < 4 for c in leg_chains):
        raise fail("a leg needs hip, knee, ankle and toe (or an End Site after the ankle)")
    forward = sum(rest[c[3]] - rest[c[2]] for c in leg_chains) * np.array([1.0, 0.0, 1.0])
    left = np.cross([0.0, 1.0, 0.0], forward)
    if np.linalg.norm(left) < _COINCIDENT * rig.height:
        raise fail("the toes do not point forward in the rest pose")
    leg_chains.sort(key=lambda c: -float((rest[c[0]] - rest[pelvis]) @ left))  # left leg first

    # spine, neck and arms
    chest = rig.single_line_end(spine_top)
    if len(rig.joint_children[chest]) < 3:
        raise fail("no chest joint with a neck and two arms above the pelvis")
    spine = rig.up(chest, pelvis)[::-1]
    neck_branch = max(rig.joint_children[chest], key=lambda b: rest[rig.subtree(b), 1].max())
    neck_chain = rig.line(neck_branch)
    if len(neck_chain) < 2:
        raise fail("the neck chain needs a neck and a head")
    others = [b for b in rig.joint_children[chest] if b != neck_branch]
    lateral = {b: float(np.mean(rest[rig.subtree(b)] - rest[chest], axis=0) @ left) for b in others}
    arm_chains = [rig.up(rig.single_line_end(b), chest) for b in (max(others, key=lateral.get),
                                                                  min(others, key=lateral.get))]
    if any(len(c) < 3 for c in arm_chains):
        raise fail("an arm needs shoulder, elbow and wrist")

    put("pelvis", pelvis)
    for prefix, chain, arm in zip(("l_", "r_"), leg_chains, arm_chains):
        for ours, node in zip(("hip", "knee", "ankle", "foot"), chain):
            put(prefix + ours, node)
        for ours, node in zip(("wrist", "elbow", "shoulder", "collar"), arm):  # arm chains run wrist-up
            put(prefix + ours, node)
    put("neck", neck_chain[0])
    put("head", neck_chain[1])
    if len(spine) > 3:  # keep both ends and the middle one
        spine = [spine[0], spine[(len(spine) - 1) // 2], spine[-1]]
    for ours, node in zip(("spine1", "spine2", "spine3"), spine):
        put(ours, node)
    if len(spine) < 3:  # the missing upper ones between the last found and the neck
        _place_between(W, ("pelvis", "spine1", "spine2", "spine3", "neck")[len(spine):])
    for prefix, arm in zip(("l_", "r_"), arm_chains):
        if len(arm) < 4:  # no clavicle of its own
            _place_between(W, ("spine3", prefix + "collar", prefix + "shoulder"))
    return W


def _place_between(W: np.ndarray, chain: Sequence[str]) -> None:
    """Rows of W for chain[1:-1] on the segment chain[0] -> chain[-1], at our rest bone-length fractions."""
    idx = [skeleton.JOINT_INDEX[n] for n in chain]
    lengths = skeleton.REST_OFFSETS[idx[1:]].norm(dim=-1).double().numpy()
    cum = np.cumsum(lengths) / lengths.sum()
    for k, j in enumerate(idx[1:-1]):
        W[j] = (1.0 - cum[k]) * W[idx[0]] + cum[k] * W[idx[-1]]


# ------------------------------------------------------------------------------------------- reading
def _synthetic_tpose(bvh: BVH) -> bool:
    """CMU cgspeed's frame 0: root rotation zero and every rotation a whole number of degrees, while the
    captured frame after it is not (real captures never land on whole degrees everywhere)."""
    if bvh.num_frames < 2:
        return False
    rot_cols = [int(bvh.channel_start[j]) + k for j, chans in enumerate(bvh.channels)
                for k, c in enumerate(chans) if c in _ROT_CHANNELS]
    root_rot = [int(bvh.channel_start[0]) + k for k, c in enumerate(bvh.channels[0]) if c in _ROT_CHANNELS]
    if not rot_cols:
        return False
    first, second = bvh.motion[0, rot_cols], bvh.motion[1, rot_cols]
    whole = lambda a: bool(np.all(a == np.round(a)))  # noqa: E731
    return bool(np.all(bvh.motion[0, root_rot] == 0)) and whole(first) and not whole(second)


def _unit_scale(rest: np.ndarray, units: Union[str, float], source: str) -> float:
    if not isinstance(units, str):
        if not units > 0:
            raise ValueError(f"units must be positive metres per file unit, got {units}")
        return float(units)
    if units == "auto":
        height = float(np.ptp(rest[:, 1]))
        if height <= 0:
            raise BVHError(f"{source}: the rest skeleton is flat; pass units= explicitly")
        return min(UNITS_M.values(), key=lambda s: abs(np.log(height * s / _STATURE_M)))
    if units not in UNITS_M:
        raise ValueError(f"unknown units {units!r}; use 'auto', one of {sorted(UNITS_M)} or metres per unit")
    return UNITS_M[units]


def _resample(x: np.ndarray, src_fps: float, fps: float) -> np.ndarray:
    """Linear interpolation in time of (F, ...) samples taken at src_fps onto a grid at fps from t = 0."""
    if src_fps == fps:
        return x
    duration = (x.shape[0] - 1) / src_fps
    t = np.arange(int(np.floor(duration * fps + 1e-6)) + 1) * (src_fps / fps)  # fractional source indices
    t = np.where(np.abs(t - np.round(t)) < 1e-6, np.round(t), t)
    i0 = np.minimum(np.floor(t).astype(np.int64), x.shape[0] - 1)
    i1 = np.minimum(i0 + 1, x.shape[0] - 1)
    w = (t - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return (1.0 - w) * x[i0] + w * x[i1]


def joint_map(bvh: BVH) -> dict[str, dict[str, float]]:
    """How our joints are made from the file's: our name -> {file joint (or "<joint>/End Site"): weight}.

    A single weight of 1 is a direct match; several are a placement between neighbours (e.g. CMU's collars).
    """
    rest = rest_positions(bvh)
    names = bvh_node_names(bvh)
    W = _humanoid_map(names, _node_parents(bvh), rest, len(bvh.names), bvh.source)
    return {ours: {names[n]: round(float(W[k, n]), 6) for n in np.flatnonzero(W[k])}
            for k, ours in enumerate(skeleton.JOINT_NAMES)}


def bvh_node_names(bvh: BVH) -> list[str]:
    """Joint names, then "<joint>/End Site" for each End Site: the node order of `bvh_positions`."""
    return list(bvh.names) + [bvh.names[j] + "/End Site" for j in sorted(bvh.end_sites)]


def _node_parents(bvh: BVH) -> np.ndarray:
    return np.concatenate([bvh.parents, np.array(sorted(bvh.end_sites), dtype=np.int64)])


def bvh_to_joints(bvh: BVH, fps: float = skeleton.FPS, *, units: Union[str, float] = "auto") -> np.ndarray:
    """Joints (T, 22, 3) float32 in metres, Y up, at `fps`, from a parsed BVH."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rest = rest_positions(bvh)
    nodes = bvh_positions(bvh)
    W = _humanoid_map(bvh_node_names(bvh), _node_parents(bvh), rest, len(bvh.names), bvh.source)
    if _synthetic_tpose(bvh):
        nodes = nodes[1:]
    joints = np.einsum("kn,fnc->fkc", W, nodes) * _unit_scale(rest, units, bvh.source)
    return _resample(joints, bvh.fps, fps).astype(np.float32)


def read_bvh_joints(path: PathLike, fps: float = skeleton.FPS, *, units: Union[str, float] = "auto") -> np.ndarray:
    """Joints (T, 22, 3) float32 in metres, Y up, at `fps`, from one BVH file."""
    return bvh_to_joints(read_bvh(path), fps, units=units)


def read_bvh_pair(path1: PathLike, path2: PathLike, fps: float = skeleton.FPS, *,
                  units: Union[str, float] = "auto") -> np.ndarray:
    """Joints (2, T, 22, 3) float32, metres, Y up, at `fps`, of two persons captured together.

    The files share one world frame and one clock (frame 0 of each, after a synthetic T-pose is dropped, is
    the same instant); the longer one is cut to the shorter.
    """
    a = read_bvh_joints(path1, fps, units=units)
    b = read_bvh_joints(path2, fps, units=units)
    T = min(len(a), len(b))
    if len(a) != len(b):
        log.info("BVH pair %s / %s: %d and %d frames at %g fps, cut to %d", path1, path2, len(a), len(b), fps, T)
    return np.stack([a[:T], b[:T]])


# ------------------------------------------------------------------------------------------- writing
def _as_matrices(rot: torch.Tensor) -> torch.Tensor:
    """(T, K, 6) or (T, K, 3, 3) -> (T, 22, 3, 3); K = 21 (joints 1..21) gets an identity root."""
    if rot.ndim == 3 and rot.shape[-1] == skeleton.ROT6D_DIM:
        rot = rotations.rot6d_to_matrix(rot)
    if rot.ndim != 4 or rot.shape[-2:] != (3, 3) or rot.shape[1] not in (skeleton.NUM_ROT_JOINTS, skeleton.NUM_JOINTS):
        raise ValueError(f"rotations must be (T, 21 or 22, 6) or (T, 21 or 22, 3, 3), got {tuple(rot.shape)}")
    if rot.shape[1] == skeleton.NUM_ROT_JOINTS:
        eye = torch.eye(3, dtype=rot.dtype).expand(rot.shape[0], 1, 3, 3)
        rot = torch.cat([eye, rot], dim=1)
    return rot


def write_bvh(path: PathLike, local_rotations, root_positions, offsets=None, *,
              fps: float = skeleton.FPS) -> Path:
    """Write one person on our 22-joint skeleton as BVH (metres, degrees, ZYX channels), atomically.

    local_rotations (T, 22 or 21, 6) local 6D (InterHuman layout) or (T, 22 or 21, 3, 3) matrices; with 21 the
    root orientation is the identity. root_positions (T, 3) metres, world frame. offsets (22, 3) metres,
    default skeleton.REST_OFFSETS.
    """
    R = _as_matrices(torch.as_tensor(np.asarray(local_rotations), dtype=torch.float64))
    root = np.asarray(root_positions, dtype=np.float64)
    T = R.shape[0]
    if root.shape != (T, 3):
        raise ValueError(f"root_positions must be ({T}, 3) to match the rotations, got {root.shape}")
    if T == 0:
        raise ValueError("cannot write a BVH with no frames")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    off = (skeleton.REST_OFFSETS if offsets is None else torch.as_tensor(np.asarray(offsets))).double().numpy()
    if off.shape != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"offsets must be ({skeleton.NUM_JOINTS}, 3), got {off.shape}")
    if not (np.isfinite(root).all() and torch.isfinite(R).all() and np.isfinite(off).all()):
        raise ValueError("rotations, root positions and offsets must be finite (no NaN or inf)")

    euler = rotations.matrix_to_euler(R, _WRITE_ORDER, degrees=True).numpy()  # (T, 22, 3)
    lines, order = ["HIERARCHY"], []
    _write_joint(lines, order, skeleton.ROOT, off, depth=0)
    frames = np.concatenate([root, euler[:, order].reshape(T, -1)], axis=1)   # columns in file order
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.8f}"]
    body = "\n".join(" ".join(_WRITE_FMT % v for v in row) for row in frames.tolist())
    atomic_write_text(path, "\n".join(lines) + "\n" + body + "\n")
    return Path(path)


def _write_joint(lines: list[str], order: list[int], j: int, off: np.ndarray, depth: int) -> None:
    """Depth-first (BVH nests children inside parents); `order` collects the joints in file order."""
    order.append(j)
    tab = "\t" * depth
    head = "ROOT" if j == skeleton.ROOT else "JOINT"
    chans = _ROOT_CHANNELS if j == skeleton.ROOT else _JOINT_CHANNELS
    lines += [f"{tab}{head} {skeleton.JOINT_NAMES[j]}", tab + "{",
              f"{tab}\tOFFSET " + " ".join(_WRITE_FMT % v for v in off[j]),
              f"{tab}\tCHANNELS {len(chans)} " + " ".join(chans)]
    for c in skeleton.CHILDREN[j]:
        _write_joint(lines, order, c, off, depth + 1)
    if not skeleton.CHILDREN[j]:
        end = off[j] * _END_SITE_FRACTION
        lines += [f"{tab}\tEnd Site", f"{tab}\t{{", f"{tab}\t\tOFFSET " + " ".join(_WRITE_FMT % v for v in end),
                  f"{tab}\t}}"]
    lines.append(tab + "}")


def _fit_rotations(joints: torch.Tensor, prior: Optional[torch.Tensor]) -> torch.Tensor:
    """Local rotations (T, 22, 3, 3) whose FK points every bone at `joints` (T, 22, 3).

    Without a prior this is plain inverse kinematics (no bone twist). With `prior` (T, 21, 3, 3), e.g. the
    6D channels of generated features, each joint keeps the prior's rotation (its twist about the bone
    included) and only swings it by the smallest rotation that points its bone at the child's position;
    the pelvis and spine3, whose several children fix their whole rotation, take the Kabsch fit; leaves keep
    the prior as is. So the file shows the motion's joints with the model's own twists.
    """
    ik = rotations.positions_to_local_rotations(joints)  # (T, 22, 3, 3), row 0 = root orientation (Kabsch)
    if prior is None:
        return ik
    _, G_ik = skeleton.forward_kinematics(ik, joints[:, skeleton.ROOT], return_global=True)
    rest_dir = torch.nn.functional.normalize(skeleton.REST_OFFSETS.to(joints), dim=-1)
    G = [G_ik[:, skeleton.ROOT]]
    for j in range(1, skeleton.NUM_JOINTS):
        kids = skeleton.CHILDREN[j]
        g = G[skeleton.PARENTS[j]] @ prior[:, j - 1]
        if len(kids) == 1:
            carried = g @ rest_dir[kids[0]]
            bone = joints[:, kids[0]] - joints[:, j]
            g = rotations.quat_to_matrix(rotations.qbetween(carried, bone)) @ g
        elif kids:
            g = G_ik[:, j]
        G.append(g)
    G = torch.stack(G, dim=1)                                      # (T, 22, 3, 3) world rotations
    parents = list((0,) + skeleton.PARENTS[1:])
    local = G[:, parents].transpose(-1, -2) @ G                    # L_j = G_parent^T G_j
    return torch.cat([G[:, :1], local[:, 1:]], dim=1)


def _measured_offsets(joints: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
    """Offsets (22, 3) that make forward kinematics of `local` (T, 22, 3, 3) reproduce `joints` (T, 22, 3)
    best: each bone's mean vector in its parent's frame. Along a single-child chain that is our rest
    direction at the measured length; below the pelvis and spine3 it also keeps the subject's own geometry
    (e.g. CMU's hips sit forward of the pelvis), which no rotation of our rest directions could match."""
    _, G = skeleton.forward_kinematics(local, joints[:, skeleton.ROOT], return_global=True)  # (T, 22, 3, 3)
    parents = list((0,) + skeleton.PARENTS[1:])
    bones = joints - joints[:, parents]                                    # (T, 22, 3) world bone vectors
    in_parent = (G[:, parents].transpose(-1, -2) @ bones[..., None])[..., 0]
    return in_parent.mean(dim=0)                                           # row 0 (the root) is zero


@dataclass
class Pose:
    """One person posed on our skeleton: what a rigged file (BVH, glTF, SMPL) needs to reproduce its joints."""

    local: torch.Tensor     # (T, 22, 3, 3) float64 parent-relative rotations, row 0 the root's world orientation
    root: torch.Tensor      # (T, 3) float64 pelvis position, world frame
    offsets: torch.Tensor   # (22, 3) float64 this person's mean bones in their parents' frames (row 0 zero)
    joints: torch.Tensor    # (T, 22, 3) float64 the positions fitted (a generated motion's bones may stretch)


def fit_poses(joints, *, features=None, local_rotations=None) -> list[Pose]:
    """Each person's rotations, root path and bones, such that forward kinematics gives back `joints`.

    joints (P, T, 22, 3) metres, Y up, for P persons (2 for a pair). The local rotations of joints 1..21
    start from `local_rotations` (P, T, 21, 6) or, failing that, the ROT channels of denormalised `features`
    (T, P, 262), as generated, and are swung to point every bone at the joints (`_fit_rotations`: the twists
    are the model's, the positions are the joints'); with neither, plain inverse kinematics. The root
    orientation, absent from the features, is recovered from the hips and spine (Kabsch), the root position
    is the pelvis, and the offsets are that person's mean bones measured from the joints (`_measured_offsets`).
    Raises ValueError for shapes that do not match or values that are not finite.
    """
    J = torch.as_tensor(np.asarray(joints), dtype=torch.float64)
    if J.ndim != 4 or J.shape[0] < 1 or J.shape[1] < 1 or J.shape[2:] != (skeleton.NUM_JOINTS, 3):
        raise ValueError(f"joints must be (2, T, {skeleton.NUM_JOINTS}, 3) with T >= 1 (or P persons instead "
                         f"of 2), got {tuple(J.shape)}")
    P, T = J.shape[:2]
    rot6d_shape = (P, T, skeleton.NUM_ROT_JOINTS, skeleton.ROT6D_DIM)
    if local_rotations is None and features is not None:
        x = np.asarray(features, dtype=np.float64)
        if x.shape != (T, P, skeleton.FEATURE_DIM):
            raise ValueError(f"features must be ({T}, {P}, {skeleton.FEATURE_DIM}) to match the joints, got {x.shape}")
        local_rotations = x[..., skeleton.ROT].reshape(T, P, *rot6d_shape[2:]).transpose(1, 0, 2, 3)
    R6 = None
    if local_rotations is not None:
        R6 = torch.as_tensor(np.asarray(local_rotations), dtype=torch.float64)
        if R6.shape != rot6d_shape:
            raise ValueError(f"local_rotations must be {rot6d_shape} to match the joints, got {tuple(R6.shape)}")
    if not (torch.isfinite(J).all() and (R6 is None or torch.isfinite(R6).all())):
        raise ValueError("joints and rotations must be finite (no NaN or inf); nothing was written")
    poses = []
    for k in range(P):
        local = _fit_rotations(J[k], None if R6 is None else rotations.rot6d_to_matrix(R6[k]))
        poses.append(Pose(local, J[k, :, skeleton.ROOT], _measured_offsets(J[k], local), J[k]))
    return poses


def write_pair_bvh(stem: PathLike, joints, *, features=None, local_rotations=None,
                   fps: float = skeleton.FPS) -> list[Path]:
    """Write `<stem>_p1.bvh`, `<stem>_p2.bvh`: each person on our skeleton, all in one shared world frame.

    joints (P, T, 22, 3), `features` and `local_rotations` as in `fit_poses`, which gives each file its
    rotations, root path and offsets. Everything is checked before the first file is written.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    poses = fit_poses(joints, features=features, local_rotations=local_rotations)
    stem = Path(stem)
    paths = [stem.parent / f"{stem.name}_p{k + 1}.bvh" for k in range(len(poses))]
    for pose, path in zip(poses, paths):
        write_bvh(path, pose.local, pose.root.numpy(), pose.offsets.numpy(), fps=fps)
    return paths


# ------------------------------------------------------------------------------------------- dataset
PAIRS_FILE = "pairs.tsv"
SPLIT_DIR = "split"
CAPTION_SEP = "|"


def joints_to_rot6d(joints: np.ndarray) -> np.ndarray:
    """Local 6D rotations (..., 21, 6) float32 of joints 1..21 recomputed from positions (..., 22, 3)."""
    local = rotations.positions_to_local_rotations(torch.from_numpy(np.asarray(joints, dtype=np.float32)))
    return rotations.matrix_to_rot6d(local[..., 1:, :, :]).numpy()


def read_items(data_cfg, split: str) -> list:
    """RawItems of a folder of BVH pairs (layout in the module docstring); unreadable pairs are reported
    by name and skipped."""
    from .dataset import RawItem, report_skipped

    root = Path(data_cfg.root) if data_cfg.root else None
    if root is None or not root.is_dir():
        raise ValueError(f"data.dataset=bvh needs data.root, a folder holding {PAIRS_FILE}; got {data_cfg.root!r}")
    index = root / PAIRS_FILE
    if not index.is_file():
        raise ValueError(f"{index} is missing: list one pair per line as name<TAB>p1.bvh<TAB>p2.bvh<TAB>captions")
    skipped: list[tuple[str, str]] = []
    entries = _read_pairs_file(index, skipped)
    names = list(entries)
    if (root / SPLIT_DIR).is_dir():
        split_file = root / SPLIT_DIR / f"{split}.txt"
        if not split_file.is_file():
            raise ValueError(f"{split_file} is missing (a {SPLIT_DIR}/ folder exists, so each split needs its file)")
        names = [n.strip() for n in split_file.read_text(encoding="utf-8").splitlines() if n.strip()]
        skipped += [(n, f"listed in {split_file.name} but not in {PAIRS_FILE}") for n in names if n not in entries]
        names = [n for n in names if n in entries]
    items = []
    for name in names:
        p1, p2, texts = entries[name]
        try:
            joints = read_bvh_pair(root / p1, root / p2)
            rotations6d = joints_to_rot6d(joints)
            items.append(RawItem(name=name, texts=texts, positions=joints, rotations=rotations6d))
        except (ValueError, RuntimeError) as err:  # BVHError, and a degenerate pose that IK cannot solve
            skipped.append((name, str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__))
    report_skipped(f"bvh:{split}", skipped)
    return items


def _read_pairs_file(index: Path, skipped: list) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (person1 path, person2 path, captions); malformed lines go to `skipped`."""
    entries: dict[str, tuple[str, str, list[str]]] = {}
    for lineno, line in enumerate(index.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        texts = [t.strip() for t in fields[3].split(CAPTION_SEP) if t.strip()] if len(fields) == 4 else []
        where = f"{index.name} line {lineno}"
        if len(fields) != 4 or not texts or not all(fields[:3]):
            skipped.append((where, "expected name<TAB>p1.bvh<TAB>p2.bvh<TAB>caption|caption..."))
        elif fields[0] in entries:
            skipped.append((where, f"duplicate name {fields[0]!r}"))
        else:
            for person in fields[1:3]:
                _check_inside(person, f"{index} line {lineno} ({fields[0]})")
            entries[fields[0]] = (fields[1], fields[2], texts)
    return entries


def _check_inside(name: str, where: str) -> None:
    """A file named in pairs.tsv must lie inside the dataset folder: a relative path that does not climb out
    ("../", absolute paths), so an index file cannot make the reader open files elsewhere."""
    parts = Path(os.path.normpath(name)).parts
    if Path(name).is_absolute() or (parts and parts[0] == os.pardir):
        raise ValueError(f"{where} names {name!r}, which is outside the dataset folder; list each file by its "
                         "path relative to the folder, inside it")
