"""The glTF export: a glb read back by our own reader and posed by glTF's rules reproduces the joints and the
body; the Khronos glTF-Validator finds no errors; Blender's own importer puts the joints where they were."""

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from intermamba import body, rotations, skeleton
from intermamba.data.bvh import fit_poses
from intermamba.export import write_glb_file
from intermamba.fileio import cache_dir
from intermamba.gltf import glb_bytes

CM = 0.01
TOOLS = cache_dir("test-tools")   # npm and pip installs of the checking tools, kept between runs


def _motion(T=40, seed=0, stretch=0.02):
    """Two people moving smoothly on our skeleton, their bones stretching by about `stretch` like a generated
    motion's (0: rigid), and features whose 6D channels carry the rotations, twists included."""
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, T, dtype=torch.float64)[:, None, None]
    amp, phase = torch.randn(2, 1, 22, 3, generator=g, dtype=torch.float64) * 0.6, torch.rand(2, 1, 22, 3, generator=g)
    local = rotations.axis_angle_to_matrix(amp * torch.sin(2 * np.pi * (t + phase)))       # (2, T, 22, 3, 3)
    s = t[:, 0, 0]                                                                          # (T,)
    root = torch.stack([torch.stack([0.8 * s - 0.5, 0.95 + 0.05 * s, 0.3 * s], -1),          # (2, T, 3)
                        torch.stack([0.6 - 0.4 * s, 0.9 + 0 * s, 0.7 + 0 * s], -1)])
    scale = 1 + stretch * torch.randn(2, T, 22, 1, generator=g, dtype=torch.float64)
    joints = skeleton.forward_kinematics(local, root, skeleton.REST_OFFSETS.double() * scale)
    features = np.zeros((T, 2, skeleton.FEATURE_DIM))
    features[..., skeleton.ROT] = rotations.matrix_to_rot6d(local[:, :, 1:]).numpy().transpose(1, 0, 2, 3).reshape(T, 2, -1)
    return joints.numpy(), features


# ------------------------------------------------------------------------------ a reader, by the spec
def read_glb(data: bytes):
    """(document, accessor(i) -> array (count, components)) of a glb, checking the container as it goes."""
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == 0x004E4942 and 28 + json_len + bin_len == len(data)
    binary = data[28 + json_len:]
    dtypes = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    sizes = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}

    def accessor(i):
        a = doc["accessors"][i]
        view = doc["bufferViews"][a["bufferView"]]
        n = sizes[a["type"]]
        return np.frombuffer(binary, dtypes[a["componentType"]], count=a["count"] * n,
                             offset=view["byteOffset"] + a.get("byteOffset", 0)).reshape(a["count"], n)

    return doc, accessor


def _quat_matrix(q):
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def world_matrices(doc, accessor, frame):
    """Every node's world matrix (N, 4, 4) at animation sample `frame` (TRS, animated values first)."""
    trs = [{k: np.array(node[k], dtype=np.float64) for k in ("translation", "rotation", "scale") if k in node}
           for node in doc["nodes"]]
    anim = doc["animations"][0]
    for ch in anim["channels"]:
        trs[ch["target"]["node"]][ch["target"]["path"]] = accessor(anim["samplers"][ch["sampler"]]["output"])[frame]
    world = [None] * len(doc["nodes"])

    def visit(i, parent):
        local = np.eye(4)
        local[:3, :3] = _quat_matrix(trs[i].get("rotation", [0, 0, 0, 1])) * trs[i].get("scale", np.ones(3))
        local[:3, 3] = trs[i].get("translation", np.zeros(3))
        world[i] = parent @ local
        for c in doc["nodes"][i].get("children", []):
            visit(c, world[i])

    for root in doc["scenes"][doc["scene"]]["nodes"]:
        visit(root, np.eye(4))
    return np.stack(world)


def glb_joints(doc, accessor):
    """Joint positions (P, T, 22, 3) of every skin at every animation sample."""
    T = doc["accessors"][doc["animations"][0]["samplers"][0]["input"]]["count"]
    out = np.stack([world_matrices(doc, accessor, t) for t in range(T)])         # (T, N, 4, 4)
    return np.stack([out[:, skin["joints"]][..., :3, 3] for skin in doc["skins"]])


# ----------------------------------------------------------------------------------------- the tests
def test_glb_read_back_and_posed_by_gltf_rules_gives_the_joints(tmp_path):
    joints, features = _motion()
    path = write_glb_file(tmp_path / "x.glb", joints, features, fps=30)
    assert not list(tmp_path.glob(".*tmp*"))
    doc, accessor = read_glb(path.read_bytes())
    assert [n["name"] for n in doc["nodes"] if n["name"].startswith("p2_")][:3] == ["p2_pelvis", "p2_l_hip", "p2_r_hip"]
    times = accessor(doc["animations"][0]["samplers"][0]["input"])[:, 0]
    np.testing.assert_allclose(np.diff(times), 1 / 30, rtol=1e-5)                 # 30 fps, seconds
    back = glb_joints(doc, accessor)
    err = np.linalg.norm(back - joints, axis=-1)
    assert err.max() < CM and err.mean() < 1e-3, err.max()                      # stretching bones included
    # two people, two colours, each a skinned mesh; the rigid skin follows the renderer's posing exactly
    assert len(doc["meshes"]) == len(doc["materials"]) == len(doc["skins"]) == 2
    colours = [m["pbrMetallicRoughness"]["baseColorFactor"] for m in doc["materials"]]
    assert colours[0] != colours[1]
    for k, skin in enumerate(doc["skins"]):
        prim = doc["meshes"][k]["primitives"][0]
        verts = accessor(prim["attributes"]["POSITION"]).astype(np.float64)
        bound = accessor(prim["attributes"]["JOINTS_0"])[:, 0].astype(int)
        weights = accessor(prim["attributes"]["WEIGHTS_0"])
        np.testing.assert_allclose(weights.sum(1), 1.0)
        ibm = accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)   # column-major
        for frame in (0, 17):
            W = world_matrices(doc, accessor, frame)[skin["joints"]]              # (22, 4, 4)
            skinned = np.einsum("vij,vj->vi", (W @ ibm)[bound], np.c_[verts, np.ones(len(verts))])[:, :3]
            mesh = body.BodyMesh(verts, verts, accessor(prim["indices"]).reshape(-1, 3), bound,
                                 np.linalg.inv(ibm)[:, :3, 3])
            posed = body.pose_vertices(mesh, W[:, :3, :3], W[:, :3, 3])
            np.testing.assert_allclose(skinned, posed, atol=1e-5)
            # the body is around its own skeleton: every vertex within a limb's reach of its joint
            assert np.linalg.norm(skinned - back[k, frame][bound], axis=-1).max() < 0.5


def test_body_mesh_is_closed_and_faces_out():
    mesh = body.body_mesh()
    v, f = mesh.vertices.astype(np.float64), mesh.faces
    normal = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert (np.linalg.norm(normal, axis=1) > 0).all()                            # no degenerate triangles
    assert (np.einsum("fi,fi->f", normal, mesh.normals[f].mean(1)) > 0).all()    # counter-clockwise outside
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()          # watertight parts
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.9                                                     # an adult, soles to crown


def test_glb_input_errors_name_the_problem(tmp_path):
    joints, _ = _motion(T=4)
    with pytest.raises(ValueError, match="finite"):
        write_glb_file(tmp_path / "x.glb", np.where(joints > 1.2, np.nan, joints))
    with pytest.raises(ValueError, match="fps"):
        glb_bytes(fit_poses(joints), 0)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------- the validator
_VALIDATE_JS = """
const validator = require(process.argv[2]);
const bytes = new Uint8Array(require("fs").readFileSync(process.argv[3]));
validator.validateBytes(bytes, {maxIssues: 0})
  .then((report) => process.stdout.write(JSON.stringify(report)))
  .catch((err) => { process.stderr.write(String(err)); process.exit(1); });
"""


@pytest.fixture(scope="session")
def gltf_validator():
    """validate(path) -> the Khronos glTF-Validator's report, installed with npm into the tools cache."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the Khronos glTF-Validator (npm package gltf-validator)")
    prefix = TOOLS / "gltf-validator"
    package = prefix / "node_modules" / "gltf-validator"
    if not (package / "package.json").is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run([npm, "install", "--prefix", str(prefix), "gltf-validator"], capture_output=True,
                                  text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install gltf-validator took over 10 minutes")
        if done.returncode != 0:
            pytest.skip(f"npm install gltf-validator failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    script = prefix / "validate.js"
    script.write_text(_VALIDATE_JS)

    def validate(path):
        done = subprocess.run([node, str(script), str(package), str(path)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return validate


def test_glb_passes_the_khronos_validator(tmp_path, gltf_validator):
    joints, features = _motion(T=12)
    report = gltf_validator(write_glb_file(tmp_path / "x.glb", joints, features))
    errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
    assert report["issues"]["numErrors"] == 0, errors
    assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"]
    assert report["info"]["animationCount"] == 1 and report["info"]["hasSkins"]
    # one person alone is a valid file as well
    report = gltf_validator(write_glb_file(tmp_path / "solo.glb", joints[:1], features[:, :1]))
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"]


# ------------------------------------------------------------------------------------------- Blender
_BLENDER_SCRIPT = """
import sys
import bpy
import numpy as np

glb, names, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = 30                     # keyframes land on whole frames: frame = seconds * 30
bpy.ops.import_scene.gltf(filepath=glb)
bones = {b.name: (arm, b) for arm in scene.objects if arm.type == "ARMATURE" for b in arm.pose.bones}
actions = [o.animation_data.action for o in scene.objects if o.animation_data and o.animation_data.action]
first, last = (round(f) for f in actions[0].frame_range)
frames = []
for f in range(first, last + 1):
    scene.frame_set(f)
    frames.append([list(bones[n][0].matrix_world @ bones[n][1].head) for n in names])
np.save(out, np.array(frames))            # (T, N, 3) in Blender's Z-up world
"""


@pytest.fixture(scope="session")
def bpy_path():
    """A PYTHONPATH under which `import bpy` (Blender as a module) works: pip-installed into the tools cache."""
    env_path = ""
    probe = [sys.executable, "-c", "import bpy"]
    if subprocess.run(probe, capture_output=True, timeout=300).returncode != 0:
        target = TOOLS / "bpy"
        if not (target / "bpy").is_dir():
            try:
                done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target),
                                       "bpy"], capture_output=True, text=True, timeout=1200)
            except subprocess.TimeoutExpired:
                pytest.skip("pip install bpy took over 20 minutes")
            if done.returncode != 0:
                pytest.skip(f"pip install bpy failed (no wheel for this Python?): "
                            f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
        env_path = str(target)
        if subprocess.run(probe, capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": env_path}).returncode != 0:
            pytest.skip(f"bpy is installed in {target} but does not import on this machine")
    return env_path


@pytest.mark.slow
def test_blender_imports_the_glb_with_the_joints_in_place(tmp_path, bpy_path):
    joints, features = _motion(T=30)
    np.save(tmp_path / "x_joints.npy", joints)
    glb = write_glb_file(tmp_path / "x.glb", joints, features)
    script = tmp_path / "blender_joints.py"
    script.write_text(textwrap.dedent(_BLENDER_SCRIPT))
    names = [f"p{k + 1}_{n}" for k in range(2) for n in skeleton.JOINT_NAMES]
    env = {**os.environ, "PYTHONPATH": bpy_path} if bpy_path else None
    done = subprocess.run([sys.executable, str(script), str(glb), ",".join(names), str(tmp_path / "out.npy")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    z_up = np.load(tmp_path / "out.npy")                                           # (T, 44, 3)
    y_up = np.stack([z_up[..., 0], z_up[..., 2], -z_up[..., 1]], axis=-1)          # Blender's import turned Y up into Z up
    back = y_up.reshape(-1, 2, 22, 3).transpose(1, 0, 2, 3)
    assert back.shape == joints.shape
    err = np.linalg.norm(back - np.load(tmp_path / "x_joints.npy"), axis=-1)
    assert err.max() < CM, err.max()
