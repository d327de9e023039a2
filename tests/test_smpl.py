"""SMPL / AMASS-style parameter files: the keys and shapes SMPL tools read, the Z-up world, and the round trip
(forward kinematics of the written pose on our skeleton gives back the joints) without any SMPL model file."""

import sys
from pathlib import Path

import numpy as np
import torch

from intermamba import rotations, skeleton, smpl
from intermamba.cli import main
from intermamba.export import write_smpl_files

sys.path.insert(0, str(Path(__file__).parent))
from test_gltf import _motion  # noqa: E402  (the same two moving people)

CM = 0.01


def _rigid_motion(T=40):
    """Two people on our rest skeleton (rigid bones), the model's 6D rotations in the features."""
    return _motion(T, stretch=0.0)


def test_smpl_npz_round_trip_on_our_skeleton(tmp_path):
    joints, features = _rigid_motion()
    paths = write_smpl_files(tmp_path / "x", joints, features, fps=30)
    assert [p.name for p in paths] == ["x_p1_smpl.npz", "x_p2_smpl.npz"]
    assert not list(tmp_path.glob(".*tmp*"))
    for k, path in enumerate(paths):
        with np.load(path, allow_pickle=False) as f:              # no pickles: plain arrays and a string
            params = {key: f[key] for key in f.files}
        T = joints.shape[1]
        assert params["poses"].shape == (T, 72) and params["trans"].shape == (T, 3)
        assert params["betas"].shape == (10,) and not params["betas"].any()
        assert str(params["gender"]) == "neutral" and float(params["mocap_framerate"]) == 30.0
        assert not params["poses"][:, 66:].any()                  # SMPL's hand joints stay at rest
        # FK of the SMPL pose in its own (Z-up) world with our rest bones, the way an SMPL tool poses it
        aa = torch.from_numpy(params["poses"].reshape(T, 24, 3)[:, :22].astype(np.float64))
        z_up = skeleton.forward_kinematics(rotations.axis_angle_to_matrix(aa),
                                           torch.from_numpy(params["trans"].astype(np.float64))).numpy()
        expected = joints[k] @ smpl.Y_UP_TO_Z_UP.T                # (x, y, z) -> (x, -z, y)
        err = np.linalg.norm(z_up - expected, axis=-1)
        assert err.max() < CM, err.max()
        np.testing.assert_allclose(params["trans"][:, 2], joints[k, :, 0, 1], atol=1e-6)   # Z is the height
        # and back into our world
        local, root = smpl.smpl_to_pose(params)
        back = skeleton.forward_kinematics(torch.from_numpy(local), torch.from_numpy(root)).numpy()
        assert np.linalg.norm(back - joints[k], axis=-1).max() < CM


def test_smpl_keeps_the_model_rotations(tmp_path):
    joints, features = _rigid_motion(T=8)
    (p1, _) = write_smpl_files(tmp_path / "x", joints, features)
    poses = np.load(p1)["poses"].reshape(8, 24, 3)
    written = rotations.axis_angle_to_matrix(torch.from_numpy(poses[:, 1:22].astype(np.float64)))
    truth = rotations.rot6d_to_matrix(torch.from_numpy(features[:, 0, skeleton.ROT].reshape(8, 21, 6)))
    torch.testing.assert_close(written, truth, atol=1e-4, rtol=0)  # twists included, leaves included


def test_export_cli_writes_glb_and_smpl(tmp_path, capsys):
    joints, _ = _motion(T=10)
    np.save(tmp_path / "walk_seed0_joints.npy", joints.astype(np.float32))
    assert main(["export", str(tmp_path / "walk_seed0_joints.npy"), "--to", "smpl"]) == 0
    assert (tmp_path / "walk_seed0_p1_smpl.npz").is_file() and (tmp_path / "walk_seed0_p2_smpl.npz").is_file()
    assert main(["export", str(tmp_path / "walk_seed0_joints.npy"), "--to", "glb", "--out",
                 str(tmp_path / "walk.glb")]) == 0
    assert (tmp_path / "walk.glb").read_bytes()[:4] == b"glTF"
    assert main(["export", str(tmp_path / "walk_seed0_joints.npy"), "--to", "glb", "--out",
                 str(tmp_path / "walk")]) == 2                    # exists: refused, one line
    err = capsys.readouterr().err.strip()
    assert "walk.glb already exists" in err and len(err.splitlines()) == 1
    np.save(tmp_path / "nan_joints.npy", np.full_like(joints, np.nan))
    assert main(["export", str(tmp_path / "nan_joints.npy"), "--to", "smpl"]) == 2
    assert "finite" in capsys.readouterr().err and not list(tmp_path.glob("nan*.npz"))
