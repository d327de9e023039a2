"""BVH import/export: the real CMU two-person capture, the parser's corners, our skeleton's round trip, and
the folder-of-pairs dataset."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from intermamba import rotations, skeleton
from intermamba.config import DataConfig
from intermamba.data import bvh
from intermamba.data.dataset import build_dataset
from intermamba.motion import pair_to_features

CMU = Path(__file__).parent / "data" / "cmu"
P18, P19 = CMU / "18_01.bvh", CMU / "19_01.bvh"
J = skeleton.JOINT_INDEX


@pytest.fixture(scope="module")
def cmu120():
    return bvh.read_bvh_pair(P18, P19, fps=120)


# --------------------------------------------------------------------------------------- the CMU capture
def test_cmu_files_are_byte_exact_with_their_line_endings():
    # the parser must meet CRLF (18_01) and mixed endings (19_01) as they come in the wild
    raw18, raw19 = P18.read_bytes(), P19.read_bytes()
    assert raw18.count(b"\r\n") > 400
    assert 0 < raw19.count(b"\r\n") < raw19.count(b"\n")


def test_cmu_pair_matches_the_measured_facts(cmu120):
    j = cmu120
    assert j.shape == (2, 303, skeleton.NUM_JOINTS, 3) and j.dtype == np.float32
    # pelvis heights (CMU README: about 1.01 m and 1.03 m)
    np.testing.assert_allclose(j[:, 0, J["pelvis"], 1], [1.01, 1.03], atol=0.015)
    roots = j[:, :, J["pelvis"]][..., [0, 2]]
    gap = np.linalg.norm(roots[0] - roots[1], axis=-1)
    assert gap[0] == pytest.approx(1.98, abs=0.01) and gap[-1] == pytest.approx(1.80, abs=0.01)
    assert gap.min() == pytest.approx(0.74, abs=0.01) and 123 <= gap.argmin() <= 130
    wrists = np.linalg.norm(j[0, :, J["r_wrist"]] - j[1, :, J["r_wrist"]], axis=-1)
    assert wrists.argmin() == 123 and wrists.min() == pytest.approx(0.38, abs=0.01)  # the handshake
    np.testing.assert_allclose(j[:, :, J["head"], 1].mean(axis=1), 1.45, atol=0.03)
    assert j[..., 1].min() > -0.02  # feet on (not under) the floor: Y up, metres


def test_cmu_anatomy_is_plausible(cmu120):
    j = cmu120
    bone = lambda a, b: np.linalg.norm(j[:, :, J[a]] - j[:, :, J[b]], axis=-1)  # noqa: E731
    for a, b, lo, hi in [("l_hip", "l_knee", 0.35, 0.5), ("l_knee", "l_ankle", 0.35, 0.5),
                         ("l_shoulder", "l_elbow", 0.22, 0.36), ("r_elbow", "r_wrist", 0.15, 0.3),
                         ("l_shoulder", "r_shoulder", 0.25, 0.45), ("l_hip", "r_hip", 0.12, 0.3)]:
        length = bone(a, b)
        assert lo < length.mean() < hi, (a, b, length.mean())
        assert length.std(axis=1).max() < 1e-4  # rigid bones: the FK is consistent over time
    # left really is left: up x forward (forward = ankles -> toes) points from the right hip to the left one
    forward = j[:, :, [J["l_foot"], J["r_foot"]]].mean(2) - j[:, :, [J["l_ankle"], J["r_ankle"]]].mean(2)
    left = np.cross([0.0, 1.0, 0.0], forward)
    assert (np.sum(left * (j[:, :, J["l_hip"]] - j[:, :, J["r_hip"]]), axis=-1) > 0).all()


def test_both_cmu_naming_conventions_map_by_hierarchy():
    m18, m19 = bvh.joint_map(bvh.read_bvh(P18)), bvh.joint_map(bvh.read_bvh(P19))
    # the trap: "LeftShoulder" is the clavicle in 18_01 and the shoulder joint in 19_01
    assert m18["l_shoulder"] == {"LeftArm": 1.0} and m19["l_shoulder"] == {"LeftShoulder": 1.0}
    assert m18["r_elbow"] == {"RightForeArm": 1.0} and m19["r_elbow"] == {"RightElbow": 1.0}
    assert m18["l_wrist"] == {"LeftHand": 1.0} and m19["l_wrist"] == {"LeftWrist": 1.0}
    assert m18["l_hip"] == {"LeftUpLeg": 1.0} and m19["l_hip"] == {"LeftHip": 1.0}
    assert m18["l_foot"] == {"LeftToeBase": 1.0} and m19["r_foot"] == {"RightToe": 1.0}
    assert (m18["spine1"], m18["spine2"], m18["neck"], m18["head"]) == (
        {"Spine": 1.0}, {"Spine1": 1.0}, {"Neck1": 1.0}, {"Head": 1.0})
    assert (m19["spine1"], m19["spine2"], m19["neck"]) == ({"Chest": 1.0}, {"Chest2": 1.0}, {"Neck": 1.0})
    # spine3 and the collars (CMU's clavicles sit on the thorax) are placed between their neighbours
    for m in (m18, m19):
        for name in ("spine3", "l_collar", "r_collar"):
            assert len(m[name]) > 1 and sum(m[name].values()) == pytest.approx(1.0)
            assert all(0 < w < 1 for w in m[name].values())


def test_synthetic_tpose_frame_is_dropped_and_30fps_subsamples():
    b18, b19 = bvh.read_bvh(P18), bvh.read_bvh(P19)
    assert (b18.num_frames, b19.num_frames) == (304, 303) and b18.fps == 120
    assert len(bvh.bvh_to_joints(b18, fps=120)) == 303  # the synthetic T-pose frame 0 is gone
    assert len(bvh.bvh_to_joints(b19, fps=120)) == 303  # nothing to drop here
    j120 = bvh.read_bvh_pair(P18, P19, fps=120)
    j30 = bvh.read_bvh_pair(P18, P19)  # default: our 30 fps
    assert j30.shape[1] == 76
    np.testing.assert_array_equal(j30, j120[:, ::4])
    j48 = bvh.read_bvh_pair(P18, P19, fps=48)  # 2.5 source frames per frame: interpolated in time
    np.testing.assert_allclose(j48[:, 1], (j120[:, 2] + j120[:, 3]) / 2, atol=1e-6)
    assert j48.shape[1] == 302 * 48 // 120 + 1


def test_units_are_detected_or_forced():
    b = bvh.read_bvh(P19)
    auto = bvh.bvh_to_joints(b, fps=120)
    forced = bvh.bvh_to_joints(b, fps=120, units="asf")
    np.testing.assert_array_equal(auto, forced)
    np.testing.assert_allclose(bvh.bvh_to_joints(b, fps=120, units=1.0) * bvh.UNITS_M["asf"], auto, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown units"):
        bvh.bvh_to_joints(b, units="furlong")


def test_import_bvh_command(tmp_path, capsys):
    from intermamba.cli import main

    out = tmp_path / "pair.npy"
    assert main(["import-bvh", str(P18), str(P19), "--out", str(out)]) == 0
    assert "l_shoulder<-LeftArm" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(out), bvh.read_bvh_pair(P18, P19))
    assert main(["import-bvh", str(P18), str(P19), "--out", str(out)]) == 2  # never overwrites silently
    assert "already exists" in capsys.readouterr().err
    assert main(["import-bvh", str(P18), str(CMU / "README.md"), "--out", str(tmp_path / "x.npy")]) == 2
    assert "no MOTION section" in capsys.readouterr().err and not (tmp_path / "x.npy").exists()


# ------------------------------------------------------------------------------------------ the parser
def _chain_bvh(channels="Zrotation Yrotation Xrotation", values="0 0 0 30 -20 45", root_offset="0 0 0",
               root_channels="Xposition Yposition Zposition", nl="\n") -> str:
    n_root = len(root_channels.split())
    n_joint = len(channels.split())
    text = f"""HIERARCHY
ROOT hips
{{
  OFFSET {root_offset}
  CHANNELS {n_root} {root_channels}
  JOINT bone
  {{
    OFFSET 0 1 0
    CHANNELS {n_joint} {channels}
    End Site
    {{
      OFFSET 0 0 2
    }}
  }}
}}
MOTION
Frames: 1
Frame Time: 0.0333333
{values}
"""
    return text.replace("\n", nl)


def test_channel_order_is_honoured_as_written():
    for order in ("ZYX", "XYZ", "YXZ"):
        chans = " ".join(f"{a}rotation" for a in order)
        b = bvh.parse_bvh(_chain_bvh(channels=chans, values="1 2 3 30 -20 45"))
        nodes = bvh.bvh_positions(b)[0]  # (N, 3): hips, bone, bone's End Site
        R = rotations.euler_to_matrix(torch.tensor([30.0, -20.0, 45.0], dtype=torch.float64), order,
                                      degrees=True).numpy()
        np.testing.assert_allclose(nodes[0], [1, 2, 3])              # position channels replace OFFSET
        np.testing.assert_allclose(nodes[1], [1, 3, 3])
        np.testing.assert_allclose(nodes[2], nodes[1] + R @ [0, 0, 2], atol=1e-12)
    # position channels in any order
    b = bvh.parse_bvh(_chain_bvh(root_channels="Zposition Xposition Yposition", values="1 2 3 0 0 0"))
    np.testing.assert_allclose(bvh.bvh_positions(b)[0, 0], [2, 3, 1])


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_line_endings_do_not_matter(nl):
    ref = bvh.bvh_positions(bvh.parse_bvh(_chain_bvh()))
    got = bvh.bvh_positions(bvh.parse_bvh(_chain_bvh(nl=nl)))
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("text, message", [
    ("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\n}\n", "no MOTION"),
    (_chain_bvh(values="0 0 0 30 -20"), "do not fill whole frames"),
    (_chain_bvh(values="0 0 0 30 -20 abc"), "not a number"),
    (_chain_bvh().replace("  }\n}", "  }\n"), "unbalanced"),
    (_chain_bvh().replace("Zrotation", "Wrotation"), "unknown"),
    (_chain_bvh().replace("Frame Time: 0.0333333", "Frame Time: 0"), "positive"),
    (_chain_bvh().replace("OFFSET 0 1 0", ""), "no OFFSET"),
])
def test_malformed_bvh_is_a_clear_error(text, message):
    with pytest.raises(bvh.BVHError, match=message):
        bvh.parse_bvh(text, source="bad.bvh")


def test_missing_or_foreign_skeleton_errors_name_the_file(tmp_path):
    with pytest.raises(bvh.BVHError, match="cannot read BVH file .*nope.bvh"):
        bvh.read_bvh(tmp_path / "nope.bvh")
    path = tmp_path / "chain.bvh"
    path.write_text(_chain_bvh())
    with pytest.raises(bvh.BVHError, match="chain.bvh: cannot map this skeleton"):
        bvh.read_bvh_joints(path)


# A Mixamo-like rig unlike CMU in every way the mapper must not depend on: a "Reference" root on the floor,
# facing -Z (so left is -X), centimetres, four spine joints, real (non-zero) clavicles called "Shoulder",
# arms hanging down in the rest pose and five-fingered hands.
def _rig_text(frames=2):
    def side(s, sign):  # sign: -1 puts the left side at -X, as it is when facing -Z
        arm = (f"{s}Shoulder", (sign * 7, 10, 0), [(f"{s}Arm", (sign * 12, 2, 0), [
            (f"{s}ForeArm", (0, -26, 0), [(f"{s}Hand", (0, -25, 0), [
                (f"{s}Hand{f}1", (sign * 1.5 * k, -8, 0), []) for k, f in enumerate(
                    ("Thumb", "Index", "Middle", "Ring", "Pinky"))])])])])
        leg = (f"{s}UpLeg", (sign * 9, -8, 0), [(f"{s}Leg", (0, -40, 0), [
            (f"{s}Foot", (0, -42, 0), [(f"{s}ToeBase", (0, -5, -12), [])])])])
        return arm, leg
    (l_arm, l_leg), (r_arm, r_leg) = side("Left", -1), side("Right", 1)
    neck = ("Neck", (0, 15, 0), [("Head", (0, 10, -2), [])])
    spine = ("Spine", (0, 10, 0), [("Spine1", (0, 10, 0), [("Spine2", (0, 10, 0), [
        ("Chest", (0, 10, 0), [neck, l_arm, r_arm])])])])
    rig = ("Reference", (0, 0, 0), [("Hips", (0, 95, 0), [l_leg, r_leg, spine])])
    lines, count = ["HIERARCHY"], [0]

    def emit(node, depth):
        name, off, kids = node
        lines.append(("ROOT " if depth == 0 else "JOINT ") + name + " {")
        lines.append("OFFSET %g %g %g" % off)
        lines.append("CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation" if depth == 0
                     else "CHANNELS 3 Xrotation Yrotation Zrotation")
        count[0] += 6 if depth == 0 else 3
        for kid in kids:
            emit(kid, depth + 1)
        if not kids:
            lines.append("End Site { OFFSET 0 0 -3 }")
        lines.append("}")
    emit(rig, 0)
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.04"]
    lines += [" ".join(["50 0 20"] + ["0"] * (count[0] - 3))] * frames
    return "\n".join(lines) + "\n"


def test_a_foreign_rig_maps_by_structure(tmp_path):
    b = bvh.parse_bvh(_rig_text(), source="rig.bvh")
    m = bvh.joint_map(b)
    assert m["pelvis"] == {"Hips": 1.0}  # below the Reference root
    assert m["l_hip"] == {"LeftUpLeg": 1.0} and m["r_foot"] == {"RightToeBase": 1.0}  # left found at -X
    assert (m["l_collar"], m["l_shoulder"], m["l_wrist"]) == ({"LeftShoulder": 1.0}, {"LeftArm": 1.0},
                                                              {"LeftHand": 1.0})
    assert (m["spine1"], m["spine2"], m["spine3"]) == ({"Spine": 1.0}, {"Spine1": 1.0}, {"Chest": 1.0})
    assert (m["neck"], m["head"]) == ({"Neck": 1.0}, {"Head": 1.0})
    path = tmp_path / "rig.bvh"
    path.write_text(_rig_text())
    j = bvh.read_bvh_joints(path, fps=25)
    assert j.shape == (2, 22, 3)
    np.testing.assert_allclose(j[0, J["pelvis"]], [0.5, 0.95, 0.2], atol=1e-6)  # centimetres detected
    np.testing.assert_allclose(j[0, J["l_hip"]] - j[0, J["pelvis"]], [-0.09, -0.08, 0.0], atol=1e-6)


# ----------------------------------------------------------------------------------------- export
def _random_pair(T=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    local = rotations.axis_angle_to_matrix(0.5 * torch.randn(2, T, skeleton.NUM_JOINTS, 3, generator=g,
                                                             dtype=torch.float64))
    root = torch.randn(2, T, 3, generator=g, dtype=torch.float64) * 0.5 + torch.tensor([0.0, 1.0, 0.0])
    joints = skeleton.forward_kinematics(local, root)
    return joints.numpy(), rotations.matrix_to_rot6d(local[:, :, 1:]).numpy()


def test_write_then_read_gives_the_same_joints(tmp_path):
    joints, rot6d = _random_pair()
    features = np.zeros((joints.shape[1], 2, skeleton.FEATURE_DIM))
    features[..., skeleton.ROT] = rot6d.transpose(1, 0, 2, 3).reshape(joints.shape[1], 2, -1)
    for how, kwargs in [("features", {"features": features}), ("rot", {"local_rotations": rot6d}), ("ik", {})]:
        paths = bvh.write_pair_bvh(tmp_path / how, joints, **kwargs)
        assert [p.name for p in paths] == [f"{how}_p1.bvh", f"{how}_p2.bvh"]
        back = bvh.read_bvh_pair(*paths)
        np.testing.assert_allclose(back, joints, atol=1e-5, err_msg=how)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporaries
    # one person alone (e.g. a single-person result) writes one file
    (solo,) = bvh.write_pair_bvh(tmp_path / "solo", joints[1:], local_rotations=rot6d[1:])
    np.testing.assert_allclose(bvh.read_bvh_joints(solo), joints[1], atol=1e-5)


def test_export_keeps_the_model_rotations_and_the_joint_positions(tmp_path):
    joints, rot6d = _random_pair(T=6, seed=3)
    p1, _ = bvh.write_pair_bvh(tmp_path / "a", joints, local_rotations=rot6d)
    b = bvh.read_bvh(p1)
    euler = torch.from_numpy(b.motion[:, 3:].reshape(6, skeleton.NUM_JOINTS, 3))
    in_file = rotations.euler_to_matrix(euler, "ZYX", degrees=True)      # (T, 22, 3, 3) in file order
    written = in_file[:, [b.names.index(n) for n in skeleton.JOINT_NAMES[1:]]]
    truth = rotations.rot6d_to_matrix(torch.from_numpy(rot6d[0]))
    torch.testing.assert_close(written, truth, atol=1e-5, rtol=0)  # twists included, leaves included
    # rotations that disagree with the joints (an undertrained model) are swung onto them: joints still match
    noise = np.random.default_rng(0).standard_normal(rot6d.shape)
    back = bvh.read_bvh_pair(*bvh.write_pair_bvh(tmp_path / "b", joints, local_rotations=noise))
    np.testing.assert_allclose(back, joints, atol=1e-5)


def test_real_capture_survives_features_then_bvh(tmp_path, cmu120):
    # the CMU pair as a dataset item would carry it: joints + IK rotations -> InterGen features -> BVH -> joints
    joints = cmu120[:, ::4]
    features = pair_to_features(torch.from_numpy(joints), torch.from_numpy(bvh.joints_to_rot6d(joints))).numpy()
    canonical = features[..., skeleton.POS].reshape(-1, 2, 22, 3).transpose(1, 0, 2, 3)
    back = bvh.read_bvh_pair(*bvh.write_pair_bvh(tmp_path / "cmu", canonical, features=features))
    err = np.linalg.norm(back - canonical, axis=-1)
    # not exact: BVH bones are rigid, CMU's lower back and clavicles move our pelvis/spine3 children a little
    assert err.mean() < 0.01 and err.max() < 0.03


def test_written_file_is_standard_bvh(tmp_path):
    joints, rot6d = _random_pair(T=5)
    p1, _ = bvh.write_pair_bvh(tmp_path / "x", joints, local_rotations=rot6d, fps=30)
    text = p1.read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis\n")
    assert text.count("End Site") == 5  # feet, head, wrists
    b = bvh.read_bvh(p1)
    assert b.names[0] == "pelvis" and sorted(b.names) == sorted(skeleton.JOINT_NAMES)
    assert b.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
    assert all(c == ("Zrotation", "Yrotation", "Xrotation") for c in b.channels[1:])
    assert b.num_frames == 5 and b.fps == 30
    assert bvh.joint_map(b)["l_collar"] == {"l_collar": 1.0}  # our own names map one to one


def test_write_rejects_bad_input_and_writes_nothing(tmp_path):
    joints, rot6d = _random_pair(T=4)
    with pytest.raises(ValueError, match=r"joints must be \(2, T, 22, 3\)"):
        bvh.write_pair_bvh(tmp_path / "a", joints[0])
    with pytest.raises(ValueError, match=r"T >= 1"):
        bvh.write_pair_bvh(tmp_path / "a", joints[:, :0])
    with pytest.raises(ValueError, match=r"features must be \(4, 2, 262\)"):
        bvh.write_pair_bvh(tmp_path / "a", joints, features=np.zeros((4, 262)))
    with pytest.raises(ValueError, match="local_rotations must be"):
        bvh.write_pair_bvh(tmp_path / "a", joints, local_rotations=rot6d[:, :2])
    bad = joints.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        bvh.write_pair_bvh(tmp_path / "a", bad)
    with pytest.raises(ValueError, match="root_positions"):
        bvh.write_bvh(tmp_path / "b.bvh", rot6d[0], np.zeros((3, 3)))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------- dataset
def _pairs_folder(root, *, with_split=True):
    for k in range(2):
        joints, _ = _random_pair(T=40, seed=k)
        bvh.write_pair_bvh(root / "takes" / f"take{k}", joints)
    (root / "takes" / "broken_p1.bvh").write_text("HIERARCHY\nROOT hips\n{\n")
    lines = ["# name\tperson 1\tperson 2\tcaptions",
             "take0\ttakes/take0_p1.bvh\ttakes/take0_p2.bvh\tTwo people wave.|They greet each other.",
             "take1\ttakes/take1_p1.bvh\ttakes/take1_p2.bvh\tOne pushes the other.",
             "broken\ttakes/broken_p1.bvh\ttakes/take0_p2.bvh\tA broken file.",
             "no caption line\ttakes/take0_p1.bvh"]
    (root / bvh.PAIRS_FILE).write_text("\n".join(lines) + "\n")
    if with_split:
        (root / "split").mkdir()
        (root / "split" / "train.txt").write_text("take0\nbroken\ntake1\n")
        (root / "split" / "test.txt").write_text("take1\n")


def test_folder_of_pairs_becomes_a_dataset(tmp_path, caplog):
    _pairs_folder(tmp_path)
    cfg = DataConfig(dataset="bvh", root=str(tmp_path), min_frames=10)
    with caplog.at_level(logging.WARNING, logger="intermamba.data"), pytest.warns(UserWarning, match="broken"):
        items = bvh.read_items(cfg, "train")
    assert [i.name for i in items] == ["take0", "take1"]
    assert items[0].texts == ["Two people wave.", "They greet each other."]
    assert items[0].positions.shape == (2, 40, 22, 3) and items[0].rotations.shape == (2, 40, 21, 6)
    # rotations recomputed from the positions point every bone where the joints have it
    local = rotations.rot6d_to_matrix(torch.from_numpy(items[0].rotations))
    assert torch.allclose(local.transpose(-1, -2) @ local, torch.eye(3).expand_as(local), atol=1e-5)
    assert "pairs.tsv line 5: expected name<TAB>" in caplog.text and "broken_p1.bvh: no MOTION" in caplog.text
    with pytest.warns(UserWarning, match="line 5"):
        assert [i.name for i in bvh.read_items(cfg, "test")] == ["take1"]
    with pytest.warns(UserWarning):
        ds = build_dataset(cfg, "train")
    sample = ds[0]
    assert sample["motion"].shape == (cfg.max_frames, 2, skeleton.FEATURE_DIM) and sample["length"] == 39


def test_the_cmu_folder_is_a_dataset():
    ds = build_dataset(DataConfig(dataset="bvh", root=str(CMU)), "train")
    assert [it.name for it in ds.items] == ["cmu_18_19_01"] and len(ds) == 2  # + its mirror image
    torch.manual_seed(0)
    samples = [ds[i] for i in range(2)]
    assert all(s["length"] == 75 for s in samples)  # 76 frames at 30 fps, the last one dropped
    assert "left hands" in samples[1]["text"] and "right hands" in samples[0]["text"]  # mirrored caption


def test_dataset_without_split_folder_and_bad_roots(tmp_path):
    _pairs_folder(tmp_path, with_split=False)
    cfg = DataConfig(dataset="bvh", root=str(tmp_path))
    with pytest.warns(UserWarning):
        assert [i.name for i in bvh.read_items(cfg, "val")] == ["take0", "take1"]
    with pytest.raises(ValueError, match="needs data.root"):
        bvh.read_items(DataConfig(dataset="bvh", root=None), "train")
    with pytest.raises(ValueError, match="pairs.tsv is missing"):
        bvh.read_items(DataConfig(dataset="bvh", root=str(tmp_path / "takes")), "train")


def _with_nan(path: Path, frame: int = 3) -> Path:
    """`path` rewritten with one rotation channel of `frame` set to nan."""
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Frame Time")) + 1
    values = lines[first + frame].split()
    values[4] = "nan"                                      # the root's Yrotation
    lines[first + frame] = " ".join(values)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_nan_channel_is_refused_by_import_and_skipped_by_name_in_a_dataset(tmp_path, capsys):
    from intermamba.cli import main
    from intermamba.data.stats import dataset_stats

    _pairs_folder(tmp_path, with_split=False)
    _with_nan(tmp_path / "takes" / "take1_p2.bvh")
    with pytest.raises(bvh.BVHError, match=r"take1_p2.bvh: 1 NaN or infinite value\(s\) in the frame block, the "
                                           r"first at frame 3 \(pelvis Yrotation\)"):
        bvh.read_bvh(tmp_path / "takes" / "take1_p2.bvh")
    out = tmp_path / "pair.npy"
    assert main(["import-bvh", str(tmp_path / "takes" / "take1_p1.bvh"), str(tmp_path / "takes" / "take1_p2.bvh"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "NaN or infinite" in err and "\n" not in err and not out.exists()
    cfg = DataConfig(dataset="bvh", root=str(tmp_path), min_frames=10)
    with pytest.warns(UserWarning, match=r"take1 \(.*NaN or infinite"):
        assert [i.name for i in bvh.read_items(cfg, "train")] == ["take0"]
    with pytest.warns(UserWarning, match="take1"):
        assert dataset_stats(cfg, ("train",))["splits"]["train"]["items"] == 1   # data stats no longer aborts


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "takes/../../outside.bvh"])
def test_pairs_file_cannot_name_files_outside_the_dataset_folder(tmp_path, path, capsys):
    from intermamba.cli import main

    root = tmp_path / "data"
    _pairs_folder(root, with_split=False)
    (tmp_path / "outside.bvh").write_text((root / "takes" / "take0_p1.bvh").read_text())
    with open(root / bvh.PAIRS_FILE, "a") as f:
        f.write(f"evil\t{path}\ttakes/take0_p2.bvh\tA caption.\n")
    with pytest.raises(ValueError, match=rf"pairs.tsv line 6 \(evil\) names '{path}', which is outside the "
                                         "dataset folder"):
        bvh.read_items(DataConfig(dataset="bvh", root=str(root)), "train")
    assert main(["data", "stats", f"bvh:{root}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "outside the dataset folder" in err and "\n" not in err


def test_paths_that_stay_inside_the_folder_are_fine(tmp_path):
    _pairs_folder(tmp_path, with_split=False)
    (tmp_path / bvh.PAIRS_FILE).write_text("take0\t./takes/../takes/take0_p1.bvh\ttakes/take0_p2.bvh\tA caption.\n")
    assert [i.name for i in bvh.read_items(DataConfig(dataset="bvh", root=str(tmp_path)), "train")] == ["take0"]
