"""The Inter-X reader on fixtures written here in the processed release's exact layout (h5py, float32
(T, 56, 6), texts_processed/, splits/)."""

import math

import h5py
import numpy as np
import pytest
import torch

from intermamba import rotations, skeleton
from intermamba.config import DataConfig
from intermamba.data import interx
from intermamba.data.dataset import build_dataset

J = skeleton.JOINT_INDEX
JAW, LHAND = 22, 25  # rows of the stored (T, 56, 6) array that our body skeleton must ignore


def stored_sequence(T=20, seed=0, transl=((0.0, 0.4, 0.0), (1.0, 0.3, 2.0)), scale=0.4):
    """A (T, 56, 6) float32 array: random axis-angles for every row of both persons, given translations."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((T, interx.STORED_ROWS, 6))).astype(np.float32)
    x[:, interx.TRANSL_ROW, :3] = transl[0]
    x[:, interx.TRANSL_ROW, 3:] = transl[1]
    return x


def write_fixture(root, split, sequences, captions, *, split_names=None):
    """Write the processed Inter-X layout: motions/<split>.h5, texts_processed/<name>.txt, splits/<split>.txt."""
    (root / "motions").mkdir(parents=True, exist_ok=True)
    (root / "texts_processed").mkdir(exist_ok=True)
    with h5py.File(root / "motions" / f"{split}.h5", "w") as f:
        for name, array in sequences.items():
            f.create_dataset(name, data=array, dtype="f4")
    for name, lines in captions.items():
        (root / "texts_processed" / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
    if split_names is not None:
        (root / "splits").mkdir(exist_ok=True)
        (root / "splits" / f"{split}.txt").write_text("".join(n + "\n" for n in split_names))


def caption_lines(text):
    tokens = " ".join(f"{w}/NOUN" for w in text.split())
    return [f"{text}#{tokens}#0.0#0.0"]


def test_rest_pose_stands_on_the_floor_at_its_translation():
    x = stored_sequence(T=3, scale=0.0)
    positions, rot6d = interx.smplx_to_pair(x)
    assert positions.shape == (2, 3, 22, 3) and rot6d.shape == (2, 3, 21, 6)
    assert positions.dtype == np.float32 and rot6d.dtype == np.float32
    rest = skeleton.rest_pose().numpy()
    for p, (tx, _, tz) in enumerate(((0.0, 0.4, 0.0), (1.0, 0.3, 2.0))):
        np.testing.assert_allclose(positions[p, :, J["pelvis"], [0, 2]].T, [[tx, tz]] * 3, atol=1e-6)
        assert positions[p, ..., 1].min() == pytest.approx(0.0, abs=1e-6)  # each person on the floor
        np.testing.assert_allclose(positions[p, 0] - positions[p, 0, 0], rest - rest[0], atol=1e-6)
    np.testing.assert_allclose(rot6d, np.broadcast_to([1, 0, 0, 1, 0, 0], rot6d.shape), atol=1e-7)


def test_layout_rows_and_columns():
    x = stored_sequence(T=5, seed=1)
    positions, rot6d = interx.smplx_to_pair(x)
    # the body rows go through our FK unchanged: pelvis orientation, 21 local rotations, translation row
    for p, cols in enumerate((slice(0, 3), slice(3, 6))):
        local = rotations.axis_angle_to_matrix(torch.from_numpy(x[:, :22, cols]))
        ref = skeleton.forward_kinematics(local, torch.from_numpy(x[:, interx.TRANSL_ROW, cols])).numpy()
        ref[..., 1] -= ref[..., 1].min()
        np.testing.assert_allclose(positions[p], ref, atol=1e-5)
        np.testing.assert_allclose(rotations.rot6d_to_matrix(torch.from_numpy(rot6d[p])), local[:, 1:], atol=1e-5)
    # jaw, eyes and hands do not move the body; person 2's columns do not move person 1
    y = x.copy()
    y[:, JAW:interx.TRANSL_ROW] = 0.0
    y[:, :, 3:] += 0.3
    np.testing.assert_array_equal(interx.smplx_to_pair(y)[0][0], positions[0])
    assert not np.allclose(interx.smplx_to_pair(y)[0][1], positions[1])


def test_global_orient_turns_the_whole_body():
    x = stored_sequence(T=1, scale=0.0)
    x[0, 0, 3:6] = [0.0, math.pi / 2, 0.0]  # person 2 turned +90 degrees about +Y (Y is up, no axis change)
    positions, _ = interx.smplx_to_pair(x)
    hips = positions[1, 0, J["l_hip"]] - positions[1, 0, J["pelvis"]]
    off = skeleton.REST_OFFSETS[J["l_hip"]].numpy()
    np.testing.assert_allclose(hips, [off[2], off[1], -off[0]], atol=1e-6)  # +X (left) turns to -Z


def test_reader_indexes_lazily_and_parses_captions(tmp_path):
    seqs = {"G001T000A000R000": stored_sequence(T=30, seed=2), "G001T000A001R003": stored_sequence(T=25, seed=3)}
    caps = {"G001T000A000R000": caption_lines("two people shake hands") + ["", "they greet#they/PRON#0.0#0.0"],
            "G001T000A001R003": caption_lines("one pushes the other")}
    write_fixture(tmp_path, "train", seqs, caps)
    items = interx.read_items(DataConfig(dataset="interx", root=str(tmp_path)), "train")
    assert [i.name for i in items] == sorted(seqs)
    assert items[0].texts == ["two people shake hands", "they greet"]
    assert items[0].positions is None and items[0].frames == 30  # nothing loaded yet
    positions, rot6d = items[0].arrays()
    ref = interx.smplx_to_pair(seqs["G001T000A000R000"])
    np.testing.assert_array_equal(positions, ref[0])
    np.testing.assert_array_equal(rot6d, ref[1])


def test_split_file_and_bad_entries_are_reported_and_skipped(tmp_path):
    good = stored_sequence(T=30, seed=4)
    seqs = {"good": good, "no_text": good, "bad_shape": good[:, :55]}
    caps = {"good": caption_lines("they hug"), "bad_shape": caption_lines("x"), "empty_text": [""]}
    write_fixture(tmp_path, "test", seqs, caps, split_names=["good", "missing", "no_text", "bad_shape"])
    with h5py.File(tmp_path / "motions" / "test.h5", "a") as f:
        f.create_group("a_group")
    with pytest.warns(UserWarning, match="skipped 3 item") as record:
        items = interx.read_interx(tmp_path, "test")
    assert [i.name for i in items] == ["good"]
    message = str(record[0].message)
    assert "missing (listed in splits/test.txt but not in motions/test.h5)" in message
    assert "no_text (missing texts_processed/no_text.txt)" in message
    assert "bad_shape (bad_shape has shape (30, 55, 6), expected (T, 56, 6))" in message


def test_missing_or_corrupted_files_are_clear_errors(tmp_path):
    with pytest.raises(interx.InterXError, match="not a folder"):
        interx.read_interx(tmp_path / "nope", "train")
    with pytest.raises(interx.InterXError, match=r"motions/val.h5 not found"):
        interx.read_interx(tmp_path, "val")
    (tmp_path / "motions").mkdir()
    (tmp_path / "motions" / "train.h5").write_bytes(b"this is not hdf5" * 10)
    with pytest.raises(interx.InterXError, match="train.h5 is not a readable HDF5 file"):
        interx.read_interx(tmp_path, "train")
    with pytest.raises(interx.InterXError, match="data.root must point to the Inter-X folder"):
        interx.read_items(DataConfig(dataset="interx", root=None), "train")


def test_build_dataset_serves_interx(tmp_path):
    write_fixture(tmp_path, "train", {"s1": stored_sequence(T=40, seed=5, scale=0.2)},
                  {"s1": caption_lines("they wave")})
    cfg = DataConfig(dataset="interx", root=str(tmp_path), min_frames=10)
    ds = build_dataset(cfg, "train")
    assert len(ds) == 2  # the item and its mirror image (train split)
    sample = ds[0]
    assert sample["motion"].shape == (cfg.max_frames, 2, skeleton.FEATURE_DIM) and sample["length"] == 39
    assert torch.isfinite(sample["motion"]).all()
