"""InterHuman layout reader/writer and the MotionDataset pipeline, on fixtures written in the exact format."""

import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from intermamba import motion
from intermamba import skeleton as sk
from intermamba.config import load_config
from intermamba.data import MotionDataset, RawItem, build_dataset, collate, compute_normalizer
from intermamba.data import interhuman as ih
from test_motion import random_pair

CAPTIONS = ["the left person waves his right hand", "one waves, the other turns clockwise", "two people greet"]


def _pair(frames, seed):
    positions, rotations = random_pair(frames=frames, seed=seed)
    return positions.numpy(), rotations.numpy()


@pytest.fixture
def root(tmp_path):
    """A small InterHuman folder: train 1-3 (2 is ignored), val 4, test 5 (too short for min_frames 15)."""
    for motion_id, frames, split in [("1", 40, "train"), ("2", 30, "train"), ("3", 350, "train"),
                                     ("4", 25, "val"), ("5", 10, "test")]:
        ih.write_interhuman_item(tmp_path, motion_id, *_pair(frames, int(motion_id)), CAPTIONS, split=split)
    (tmp_path / "split" / "ignore_list.txt").write_text("2\n")
    return tmp_path


def _cfg(root, **data):
    overrides = [f"data.dataset=interhuman", f"data.root={root}"] + [f"data.{k}={v}" for k, v in data.items()]
    return load_config("tiny", overrides)


def test_written_files_have_the_real_layout(root):
    stored = np.load(root / "motions_processed" / "person1" / "1.npy")
    assert stored.shape == (40, 492) and stored.dtype == np.float32
    positions, rotations = _pair(40, 1)
    # stored positions are Z up: (x, y, z)_Yup = (x, z, -y)_Zup
    zup = stored[:, :66].reshape(40, 22, 3)
    np.testing.assert_allclose(np.stack([zup[..., 0], zup[..., 2], -zup[..., 1]], -1), positions[0], atol=1e-6)
    np.testing.assert_allclose(stored[:, 186:312].reshape(40, 21, 6), rotations[0])
    assert (root / "annots" / "1.txt").read_text() == "\n".join(CAPTIONS) + "\n"
    assert (root / "split" / "train.txt").read_text() == "1\n2\n3\n"


def test_reader_round_trip_and_ignore_list(root):
    items = ih.read_interhuman(root, "train")
    assert [it.name for it in items] == ["1", "3"]
    assert items[0].texts == CAPTIONS and items[1].frames == 350
    positions, rotations = items[0].arrays()
    expected = _pair(40, 1)
    np.testing.assert_allclose(positions, expected[0], atol=1e-6)
    np.testing.assert_allclose(rotations, expected[1], atol=1e-7)


def test_split_files_at_the_root_are_accepted(root):
    for name in ("train.txt", "ignore_list.txt"):
        (root / "split" / name).rename(root / name)
    assert [it.name for it in ih.read_interhuman(root, "train")] == ["1", "3"]


def test_missing_split_and_root_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split file not found"):
        ih.read_interhuman(tmp_path, "train")
    with pytest.raises(ValueError, match="not a folder"):
        ih.read_interhuman(tmp_path / "nowhere", "train")
    with pytest.raises(ValueError, match="data.root"):
        build_dataset(load_config("tiny", ["data.dataset=interhuman"]).data, "train")


def test_bad_files_are_reported_by_name_and_skipped(root, caplog):
    (root / "split" / "train.txt").write_text("1\n3\n6\n7\n8\n9\n")
    ih.write_interhuman_item(root, "6", *_pair(20, 6), CAPTIONS)
    (root / "motions_processed" / "person2" / "6.npy").write_bytes(b"\x93NUMPY garbage")        # corrupted
    ih.write_interhuman_item(root, "7", *_pair(20, 7), CAPTIONS)
    np.save(root / "motions_processed" / "person1" / "7.npy", np.zeros((20, 100), np.float32))  # wrong shape
    ih.write_interhuman_item(root, "8", *_pair(20, 8), CAPTIONS)
    (root / "annots" / "8.txt").unlink()                                                       # no captions
    # "9" has no files at all
    with caplog.at_level(logging.WARNING, logger="intermamba.data"), pytest.warns(UserWarning, match="skipped 4") as rec:
        items = ih.read_interhuman(root, "train")
    assert [it.name for it in items] == ["1", "3"]
    message = str(rec[0].message)
    for motion_id in ("6", "7", "8", "9"):
        assert motion_id in message
    assert "7.npy has shape (20, 100)" in caplog.text and "annots/8.txt" in caplog.text


def test_bad_contents_found_at_load_time_fall_back_to_another_item(root):
    items = ih.read_interhuman(root, "train")
    stored = np.load(root / "motions_processed" / "person1" / "1.npy")
    stored[3, 5] = np.nan
    np.save(root / "motions_processed" / "person1" / "1.npy", stored)
    dataset = MotionDataset(items, max_frames=64, min_frames=15)
    with pytest.warns(UserWarning, match="1.*NaN"):
        sample = dataset[0]
    assert sample["name"] == "3"


def test_dataset_batches_follow_the_contract(root):
    torch.manual_seed(0)
    train = build_dataset(_cfg(root).data, "train")
    assert len(train) == 4  # "1" and "3", each also mirrored
    assert {train[i]["name"] for i in range(4)} == {"1", "1_mirror", "3", "3_mirror"}
    batch = next(iter(DataLoader(train, batch_size=4, collate_fn=collate)))
    assert batch["motion"].shape == (4, 64, 2, sk.FEATURE_DIM) and batch["motion"].dtype == torch.float32
    assert batch["lengths"].dtype == torch.int64
    assert batch["lengths"].tolist() == [39, 39, 63, 63]  # 40 frames -> 39; 350 frames cropped to 64 -> 63
    for motion_b, length in zip(batch["motion"], batch["lengths"]):
        assert motion_b[length:].abs().sum() == 0 and motion_b[:length].abs().sum() > 0
    assert all(text in CAPTIONS for text in batch["text"][::2])
    assert batch["text"][1] in [motion.mirror_text(c) for c in CAPTIONS]
    # one of the two persons is canonical: root at the origin in x, z and facing +Z at frame 0
    joints = motion.features_to_joints(batch["motion"][:, 0])  # (B, 2, 22, 3)
    at_origin = joints[:, :, sk.ROOT, [0, 2]].norm(dim=-1) < 1e-5
    assert at_origin.any(dim=1).all()
    assert len(build_dataset(_cfg(root).data, "val")) == 1   # no mirrored copies outside train
    with pytest.raises(ValueError, match="no usable items"):
        build_dataset(_cfg(root, min_frames=15).data, "test")  # its only clip is too short


def test_mirrored_entry_is_the_mirror_image():
    positions, rotations = _pair(30, 11)
    item = RawItem(name="a", texts=["turns left"], positions=positions, rotations=rotations)
    dataset = MotionDataset([item], max_frames=32, min_frames=2, mirror=True, swap=False)
    plain, mirrored = dataset[0], dataset[1]
    assert mirrored["text"] == "turns right" and mirrored["name"] == "a_mirror"
    torch.testing.assert_close(mirrored["motion"], motion.mirror_features(plain["motion"]), atol=1e-5, rtol=0)


def test_swap_only_exchanges_or_rereferences():
    """With swapping, every sample is one of the 4 arrangements InterGen's two swaps can produce."""
    positions, rotations = _pair(20, 12)
    item = RawItem(name="a", texts=["x"], positions=positions, rotations=rotations)
    plain = motion.pair_to_features(torch.from_numpy(positions), torch.from_numpy(rotations))
    other = motion.pair_to_features(torch.from_numpy(positions).flip(0), torch.from_numpy(rotations).flip(0))
    options = [plain, plain.flip(1), other, other.flip(1)]
    dataset = MotionDataset([item], max_frames=20, min_frames=2)
    torch.manual_seed(1)
    seen = set()
    for _ in range(40):
        sample = dataset[0]["motion"][:19]
        matches = [k for k, opt in enumerate(options) if torch.allclose(sample, opt, atol=1e-5)]
        assert matches
        seen.add(matches[0])
    assert seen == {0, 1, 2, 3}


def test_without_the_second_swap_person_1_is_always_the_reference():
    """data.reswap off (In2IN's pipeline): only the arrangements with person 1 at the origin (the first swap
    still picks whose frame it is); build_dataset keeps InterGen's two swaps outside the train split."""
    positions, rotations = _pair(20, 12)
    item = RawItem(name="a", texts=["x"], positions=positions, rotations=rotations)
    plain = motion.pair_to_features(torch.from_numpy(positions), torch.from_numpy(rotations))
    other = motion.pair_to_features(torch.from_numpy(positions).flip(0), torch.from_numpy(rotations).flip(0))
    dataset = MotionDataset([item], max_frames=20, min_frames=2, reswap=False)
    torch.manual_seed(1)
    seen = set()
    for _ in range(40):
        sample = dataset[0]["motion"][:19]
        torch.testing.assert_close(sample[0, 0, [0, 2]], torch.zeros(2), atol=1e-6, rtol=0)   # person 1 at origin
        seen.add(next(k for k, opt in enumerate([plain, other]) if torch.allclose(sample, opt, atol=1e-5)))
    assert seen == {0, 1}


def test_reswap_is_a_train_split_choice(root):
    cfg = _cfg(root, reswap="false")
    assert not build_dataset(cfg.data, "train").reswap and build_dataset(cfg.data, "test").reswap


def test_normalizer_includes_mirrored_data(root):
    train = build_dataset(_cfg(root).data, "train")
    norm = compute_normalizer(train)
    assert norm.mean.shape == (sk.FEATURE_DIM,)
    # with mirrored copies the statistics are left/right symmetric: the mean pose is its own mirror image
    # (centre joints at x = 0, a left joint at minus its right twin's x) and mirror pairs share their std
    mean_joints = motion.features_to_joints(norm.mean)
    torch.testing.assert_close(motion.mirror_joints(mean_joints), mean_joints, atol=1e-5, rtol=0)
    std_joints = motion.features_to_joints(norm.std)
    torch.testing.assert_close(std_joints, std_joints[list(sk.MIRROR_PERM)], atol=1e-5, rtol=0)


def test_raw_item_contract_errors():
    positions, rotations = _pair(10, 13)
    with pytest.raises(ValueError, match="no caption"):
        RawItem(name="a", texts=[], positions=positions, rotations=rotations)
    with pytest.raises(ValueError, match="rotations must be"):
        RawItem(name="a", texts=["x"], positions=positions, rotations=rotations[:, :5])
    with pytest.raises(ValueError, match="frame count"):
        RawItem(name="a", texts=["x"], loader=lambda: (positions, rotations))
    with pytest.raises(ValueError, match="motion id"):
        ih.write_interhuman_item("/tmp", "../evil", positions, rotations, ["x"])


def test_layout_report_prefers_the_layout_we_write(root):
    report = ih.layout_report(root, "train")
    assert set(report) == set(ih.ROT6D_LAYOUTS)
    assert report["columns, row by row"] < 0.1 < 10 < min(v for k, v in report.items() if k != "columns, row by row")
