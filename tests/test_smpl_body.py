"""SMPL mesh videos from the user's own model file: loading without pickle, clear one-line refusals, linear
blend skinning that puts the mesh on our joints, and the rendered video. No real SMPL file exists here: the
tests build a small model in SMPL's format, an octahedron around each joint of our rest skeleton."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from intermamba import skeleton, smpl
from intermamba.cli import main
from intermamba.data.bvh import fit_poses
from intermamba.smpl_body import SMPLModelError, load_smpl_body

sys.path.insert(0, str(Path(__file__).parent))
from test_generate import tiny_export  # noqa: E402,F401  (a fixture: the tiny model, exported)
from test_gltf import _motion  # noqa: E402  (the same two moving people)

CM = 0.01
SMPL_PARENTS = skeleton.PARENTS + (20, 21)      # SMPL's 24 joints: ours, then the left and right hands
RADIUS = 0.05


def _octahedra(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Six vertices around each centre (+-x, +-y, +-z) and eight outward, counter-clockwise faces each."""
    unit = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float64)
    vertices = (centres[:, None] + RADIUS * unit[None]).reshape(-1, 3)
    faces = []
    for j in range(len(centres)):
        for sx in (0, 1):
            for sy in (2, 3):
                for sz in (4, 5):
                    tri = [sx, sy, sz] if (sx + sy + sz) % 2 == 0 else [sx, sz, sy]   # odd sign count flips
                    faces.append([6 * j + k for k in tri])
    return vertices, np.array(faces, dtype=np.int32)


def synthetic_model_arrays(num_joints: int = 24) -> dict:
    """SMPL's arrays for a body whose rest joints are our rest skeleton's (plus hands, and for SMPL-X more)."""
    rest = skeleton.rest_pose().double().numpy()
    parents = list(SMPL_PARENTS) + [20 + k % 2 for k in range(num_joints - 24)]
    joints = np.concatenate([rest, np.zeros((num_joints - 22, 3))])
    for j in range(22, num_joints):
        joints[j] = joints[parents[j]] + [0.09 if parents[j] == 20 else -0.09, 0.0, 0.0]
    v, f = _octahedra(joints)
    V, J = len(v), num_joints
    owner = np.repeat(np.arange(J), 6)
    regressor = np.zeros((J, V))
    regressor[owner, np.arange(V)] = 1.0 / 6
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 1.0
    kintree = np.stack([np.array(parents, dtype=np.int64), np.arange(J)]).astype(np.uint32)   # root: 2**32 - 1
    return {"v_template": v, "shapedirs": np.zeros((V, 3, 10)), "posedirs": np.zeros((V, 3, 9 * (J - 1))),
            "J_regressor": regressor, "weights": weights, "kintree_table": kintree, "f": f}


def write_model(path: Path, **changes) -> Path:
    arrays = {**synthetic_model_arrays(), **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _group_means(vertices: np.ndarray, joints: int = 22) -> np.ndarray:
    """(T, J, 3): each joint's octahedron centre."""
    return vertices[:, :6 * joints].reshape(vertices.shape[0], joints, 6, 3).mean(2)


@pytest.mark.parametrize("num_joints", [24, 55])       # SMPL, and SMPL-X's joint count (its body first)
def test_posed_mesh_follows_our_joints(tmp_path, num_joints):
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **synthetic_model_arrays(num_joints))
    body = load_smpl_body(tmp_path)
    assert body.num_joints == num_joints and body.path.name == "SMPL_NEUTRAL.npz"
    joints, features = _motion(30, stretch=0.0)          # two moving people on our rest skeleton
    for k, pose in enumerate(fit_poses(joints, features=features)):
        verts = body.mesh(pose.local, pose.root)
        assert verts.shape == (30, 6 * num_joints, 3)
        centres = _group_means(verts)
        # the exported SMPL pose's forward kinematics on our skeleton, and the generated joints themselves
        local, root = smpl.smpl_to_pose(smpl.pose_to_smpl(pose.local, pose.root))
        fk = skeleton.forward_kinematics(torch.from_numpy(local), torch.from_numpy(root)).numpy()
        assert np.linalg.norm(centres - fk, axis=-1).max() < CM
        assert np.linalg.norm(centres - joints[k], axis=-1).max() < CM
        # rigid per joint: the octahedra keep their size
        assert np.allclose(np.linalg.norm(verts[:, :6] - centres[:, :1], axis=-1), RADIUS, atol=1e-6)


def test_pose_blend_shapes_and_the_smplx_posedirs_layout(tmp_path):
    """posedirs as SMPL stores it (V, 3, 207) and as the smplx package keeps it (207, 3 V) pose alike."""
    arrays = synthetic_model_arrays()
    rng = np.random.default_rng(0)
    arrays["posedirs"] = 0.01 * rng.standard_normal(arrays["posedirs"].shape)
    np.savez(tmp_path / "a.npz", **arrays)
    V = arrays["v_template"].shape[0]
    np.savez(tmp_path / "b.npz", **{**arrays, "posedirs": arrays["posedirs"].reshape(3 * V, -1).T})
    poses = 0.3 * rng.standard_normal((4, 72))
    a, b = (load_smpl_body(tmp_path / n).pose(poses, np.zeros((4, 3))) for n in ("a.npz", "b.npz"))
    np.testing.assert_allclose(a, b, atol=1e-12)
    flat = load_smpl_body(write_model(tmp_path / "c.npz")).pose(poses, np.zeros((4, 3)))
    assert np.abs(a - flat).max() > 1e-3                 # the blend shapes do move the vertices
    # at rest, the body is its template, the pelvis at trans + the model's rest pelvis
    rest = load_smpl_body(tmp_path / "a.npz").pose(np.zeros((1, 72)), np.ones((1, 3)))
    np.testing.assert_allclose(rest[0], arrays["v_template"] + 1.0, atol=1e-12)


def _one_line_exit_2(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.fixture
def result(tmp_path):
    joints, features = _motion(12, stretch=0.0)
    path = tmp_path / "walk_seed0_features.npy"
    np.save(path, features.astype(np.float32))
    return path


def test_bad_model_files_are_one_line_and_never_unpickled(tmp_path, capsys, result, monkeypatch):
    import pickle

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle must never be used")
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    render = ["render", str(result), "--smpl-model"]
    err = _one_line_exit_2(capsys, render + [str(tmp_path / "SMPL_NEUTRAL.pkl")])
    assert "pickle" in err and "npz" in err and "clean_ch.py" in err
    err = _one_line_exit_2(capsys, render + [str(tmp_path)])           # a folder with only the .pkl
    assert "SMPL_NEUTRAL.pkl is a pickle" in err
    # an object array (a pickle inside the npz) is refused, not loaded
    np.savez(tmp_path / "obj.npz", **{**synthetic_model_arrays(),
                                      "J_regressor": np.array([{"sparse": 1}], dtype=object)})
    err = _one_line_exit_2(capsys, render + [str(tmp_path / "obj.npz")])
    assert "'J_regressor' is stored as a pickled object" in err and "toarray" in err
    # malformed: a wrong shape, a missing array, not a zip, a kintree that is not SMPL's body
    V = synthetic_model_arrays()["v_template"].shape[0]
    cases = {"shape.npz": ({"weights": np.zeros((V, 5))}, "weights must be (V, J)"),
             "missing.npz": ({"f": None}, "has no 'f' array"),
             "tree.npz": ({"kintree_table": np.zeros((2, 24), np.int64)}, "parents are not SMPL's body joints"),
             "posedirs.npz": ({"posedirs": np.zeros((V, 3, 10))}, "posedirs must be")}
    for name, (change, message) in cases.items():
        err = _one_line_exit_2(capsys, render + [str(write_model(tmp_path / name, **change))])
        assert message in err, err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "not a readable .npz" in _one_line_exit_2(capsys, render + [str(tmp_path / "junk.npz")])
    assert "not found" in _one_line_exit_2(capsys, render + [str(tmp_path / "nowhere")])
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*tmp*"))


def test_a_folder_picks_the_gender_and_smpl_before_smplx(tmp_path):
    write_model(tmp_path / "SMPL_FEMALE.npz")
    (tmp_path / "smplx").mkdir()
    np.savez(tmp_path / "smplx" / "SMPLX_NEUTRAL.npz", **synthetic_model_arrays(55))
    assert load_smpl_body(tmp_path).path.name == "SMPLX_NEUTRAL.npz"
    assert load_smpl_body(tmp_path, "female").path.name == "SMPL_FEMALE.npz"
    with pytest.raises(SMPLModelError, match="no male SMPL model"):
        load_smpl_body(tmp_path, "male")


def _hues(frame: np.ndarray) -> set:
    """The person colours (blue, red) that more than 30 pixels of `frame` show."""
    r, g, b = frame.reshape(-1, 3).astype(int).T
    found = {"blue": ((b > r + 60) & (b > g + 20)).sum(), "red": ((r > g + 80) & (r > b + 80)).sum()}
    return {name for name, count in found.items() if count > 30}


def test_render_cli_writes_the_mesh_video(tmp_path, capsys, result):
    import imageio.v2 as imageio

    write_model(tmp_path / "SMPL_NEUTRAL.npz")
    assert main(["render", str(result), "--smpl-model", str(tmp_path), "--title", "two people walk"]) == 0
    out = tmp_path / "walk_seed0_smpl.mp4"
    assert out.is_file() and str(out) in capsys.readouterr().out
    with imageio.get_reader(out, format="FFMPEG") as reader:
        frames = [f for f in reader]
    assert len(frames) == 12 and frames[0].shape == (480, 640, 3)
    assert _hues(frames[6]) == {"blue", "red"}
    assert main(["render", str(result), "--smpl-model", str(tmp_path), "--overwrite"]) == 0
    assert main(["render", str(result), "--smpl-model", str(tmp_path)]) == 2          # exists: one line
    assert "already exists" in capsys.readouterr().err


def test_the_nearer_mesh_hides_the_farther_whatever_the_order():
    from intermamba import render

    joints, _ = _motion(2, stretch=0.0)
    probe = render._Scene(joints, title=None, size=render.VIDEO_SIZE, trajectory=False)
    cam = probe.camera
    centre = cam.position[0] + 3.0 * cam.forward                   # on the view axis: the frame's centre
    v, f = _octahedra(np.stack([centre - 0.5 * cam.forward, centre]))   # a near and a far octahedron
    near, far = v[:6], v[6:]
    for order in ((near, far), (far, near)):
        meshes = np.stack([np.broadcast_to(m, (2, 6, 3)) for m in order]).astype(np.float32)
        scene = render._Scene(joints, title=None, size=render.VIDEO_SIZE, trajectory=False,
                              meshes=(meshes, f[:8].astype(np.int64)))
        pixel = scene.frame(0)[240, 320]
        colour = "blue" if order[0] is near else "red"               # person 1 blue, person 2 red
        assert _hues(np.broadcast_to(pixel, (40, 3))) == {colour}, pixel


def test_generate_writes_a_mesh_video_per_sample(tmp_path, capsys, tiny_export):
    import json

    import imageio.v2 as imageio

    from intermamba.export import output_files

    write_model(tmp_path / "SMPL_NEUTRAL.npz")
    out = tmp_path / "out"
    args = ["generate", "two people hug", "--frames", "12", "--checkpoint", str(tiny_export), "--out", str(out),
            "--formats", "npy,json", "--smpl-model", str(tmp_path)]
    assert main(args) == 0
    stem = "two_people_hug_seed0"
    assert sorted(p.name for p in out.iterdir()) == sorted(output_files(stem, ["npy", "json"], smpl_video=True))
    assert f"{stem}_smpl.mp4" in json.loads((out / f"{stem}.json").read_text())["files"]
    with imageio.get_reader(out / f"{stem}_smpl.mp4", format="FFMPEG") as reader:
        assert sum(1 for _ in reader) == 12
    for path in out.iterdir():
        if path.suffix != ".mp4":
            path.unlink()
    assert main(args) == 2 and "_smpl.mp4 already exists" in capsys.readouterr().err   # the mesh video counts too
    (tmp_path / "x.pkl").write_bytes(b"\x80\x04N.")                                   # pickle.dumps(None)
    # a bad model file is found before the model is loaded (the checkpoint here does not exist)
    err = _one_line_exit_2(capsys, ["generate", "two people hug", "--checkpoint", str(tmp_path / "missing"),
                                    "--out", str(tmp_path / "o2"), "--smpl-model", str(tmp_path / "x.pkl")])
    assert "--smpl-model:" in err
    assert "pickle" in err and not (tmp_path / "o2").exists()
