"""`intermamba generate` / `render` / `export` and InterMambaPipeline end to end on the tiny config."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import intermamba
from intermamba.checkpoint import save_pretrained
from intermamba.cli import main, read_prompts
from intermamba.data.bvh import read_bvh_pair
from intermamba.export import output_files, parse_formats, safe_stem
from intermamba.motion import Normalizer
from intermamba.skeleton import FEATURE_DIM, PARENTS, REST_PELVIS_HEIGHT, rest_pose

FRAMES = 12


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A tiny model with random (non-zero) output weights, exported the way training exports it."""
    torch.manual_seed(0)
    cfg = intermamba.load_config("tiny", ["diffusion.sample_steps=3"])
    model = intermamba.build_model(cfg)
    with torch.no_grad():
        model.output_proj.weight.normal_(0.0, 0.05)
    # Statistics centred on a standing rest pose, so denormalised samples look like (noisy) people.
    mean = torch.zeros(FEATURE_DIM)
    mean[:66] = rest_pose().reshape(-1)
    std = torch.full((FEATURE_DIM,), 0.05)
    folder = tmp_path_factory.mktemp("tiny_export")
    return save_pretrained(folder, model, cfg, Normalizer(mean, std))


def run_cli(*args):
    return main([str(a) for a in args])


def test_pipeline_generate_shapes_seeds_and_batch_independence(tiny_export):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    a = pipe.generate(["two people shake hands", "two people hug"], frames=FRAMES, seed=3, num_samples=2)
    assert [s.text for s in a] == ["two people shake hands"] * 2 + ["two people hug"] * 2
    assert [s.seed for s in a] == [3, 4, 3, 4]
    assert a[0].joints.shape == (2, FRAMES, 22, 3) and a[0].features.shape == (FRAMES, 2, FEATURE_DIM)
    np.testing.assert_allclose(a[0].joints, a[0].features[..., :66].reshape(FRAMES, 2, 22, 3).transpose(1, 0, 2, 3))
    assert not np.allclose(a[0].joints, a[1].joints)                         # different seeds differ
    # The same (text, seed) alone gives the same sample: noise is drawn per sample, not per batch.
    alone = pipe.generate("two people shake hands", frames=FRAMES, seed=4)[0]
    np.testing.assert_allclose(alone.joints, a[1].joints, atol=1e-5)
    # Denormalised: the rest-pose statistics put the pelvis near standing height.
    assert abs(float(np.median(a[0].joints[:, :, 0, 1])) - REST_PELVIS_HEIGHT) < 0.5


def test_pipeline_rejects_bad_requests(tiny_export):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    with pytest.raises(ValueError, match="empty"):
        pipe.generate(["  "], frames=FRAMES)
    with pytest.raises(ValueError, match="positive"):
        pipe.generate(["two people hug"], frames=0)
    with pytest.raises(ValueError, match="longer than this model supports"):
        pipe.generate(["two people hug"], frames=pipe.max_frames + 1)


def test_generate_cli_writes_every_format(tiny_export, tmp_path):
    out = tmp_path / "out"
    assert run_cli("generate", "Two people shake hands!", "--frames", FRAMES, "--seed", 5, "--num-samples", 2,
                   "--checkpoint", tiny_export, "--out", out, "--formats", "mp4,gif,npy,bvh,json",
                   "--device", "cpu") == 0
    stem = "two_people_shake_hands_seed5"
    for name in output_files(stem, parse_formats("mp4,gif,npy,bvh,json")):
        assert (out / name).is_file(), name
    joints = np.load(out / f"{stem}_joints.npy")
    features = np.load(out / f"{stem}_features.npy")
    assert joints.shape == (2, FRAMES, 22, 3) and features.shape == (FRAMES, 2, FEATURE_DIM)
    # The video decodes with one frame per motion frame.
    assert _mp4_frames(out / f"{stem}.mp4") == FRAMES
    # BVH reads back to the same joints (metres, shared world frame). A generated skeleton is not rigid (bone
    # lengths wobble a little from frame to frame) while a BVH's is: the roots match exactly, the rest closely.
    back = read_bvh_pair(out / f"{stem}_p1.bvh", out / f"{stem}_p2.bvh", fps=30)
    assert back.shape == joints.shape
    np.testing.assert_allclose(back[:, :, 0], joints[:, :, 0], atol=1e-4)
    assert np.linalg.norm(back - joints, axis=-1).mean() < 0.02
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["text"] == "Two people shake hands!" and record["seed"] == 5 and record["frames"] == FRAMES
    assert record["model"] == str(tiny_export) and "seconds_per_sample" in record["timings"]
    # Same seed, same output; a second seed differs.
    again = tmp_path / "again"
    assert run_cli("generate", "Two people shake hands!", "--frames", FRAMES, "--seed", 5, "--checkpoint",
                   tiny_export, "--out", again, "--formats", "npy") == 0
    np.testing.assert_allclose(np.load(again / f"{stem}_joints.npy"), joints, atol=1e-5)
    assert not np.allclose(np.load(out / "two_people_shake_hands_seed6_joints.npy"), joints)


def _mp4_frames(path):
    import imageio.v2 as imageio

    with imageio.get_reader(path, format="FFMPEG") as reader:
        return sum(1 for _ in reader)


def test_prompt_file_and_lengths(tiny_export, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("two people hug#8\n\ntwo people bow\n")
    assert read_prompts(str(prompts)) == [("two people hug", 8), ("two people bow", None)]
    out = tmp_path / "out"
    assert run_cli("generate", "--prompts", prompts, "--seconds", 0.5, "--checkpoint", tiny_export, "--out", out,
                   "--formats", "npy") == 0
    assert np.load(out / "two_people_hug_seed0_joints.npy").shape[1] == 8
    assert np.load(out / "two_people_bow_seed0_joints.npy").shape[1] == 15


@pytest.mark.parametrize("args, message", [
    (["  "], "prompt is empty"),
    (["two people hug", "--frames", "0"], "--frames must be positive"),
    (["two people hug", "--frames", "-5"], "--frames must be positive"),
    (["two people hug", "--frames", "100000"], "longer than this model supports"),
    (["two people hug", "--formats", "mp4,avi"], "unknown output format(s) avi"),
    ([], "no prompt given"),
])
def test_generate_bad_input(tiny_export, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert run_cli("generate", *args, "--checkpoint", tiny_export, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())                      # nothing half-written


def test_generate_refuses_foreign_checkpoints_and_existing_files(tiny_export, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.safetensors").write_bytes(b"not a safetensors file")
    (foreign / "config.json").write_text("{}")
    assert run_cli("generate", "two people hug", "--checkpoint", foreign, "--out", tmp_path / "o") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert run_cli("generate", "two people hug", "--checkpoint", tmp_path / "missing", "--out", tmp_path / "o") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    out = tmp_path / "out"
    assert run_cli("generate", "two people hug", "--frames", FRAMES, "--checkpoint", tiny_export, "--out", out,
                   "--formats", "npy") == 0
    before = (out / "two_people_hug_seed0_joints.npy").read_bytes()
    assert run_cli("generate", "two people hug", "--frames", FRAMES + 2, "--checkpoint", tiny_export, "--out", out,
                   "--formats", "npy") == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "two_people_hug_seed0_joints.npy").read_bytes() == before
    assert run_cli("generate", "two people hug", "--frames", FRAMES + 2, "--checkpoint", tiny_export, "--out", out,
                   "--formats", "npy", "--overwrite") == 0
    assert np.load(out / "two_people_hug_seed0_joints.npy").shape[1] == FRAMES + 2


def test_render_and_export_commands(tiny_export, tmp_path, capsys):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    sample = pipe.generate("two people wave", frames=FRAMES)[0]
    np.save(tmp_path / "m_features.npy", sample.features)
    assert run_cli("render", tmp_path / "m_features.npy", "--out", tmp_path / "m.gif") == 0
    assert iio.imread(tmp_path / "m.gif", index=None).shape[-1] in (3, 4)
    assert run_cli("export", tmp_path / "m_features.npy", "--to", "bvh", "--out", tmp_path / "m") == 0
    back = read_bvh_pair(tmp_path / "m_p1.bvh", tmp_path / "m_p2.bvh")
    np.testing.assert_allclose(back[:, :, 0], sample.joints[:, :, 0], atol=1e-4)
    # a BVH holds one length per bone: the random model's bone-length wobble goes into the error, nothing else
    bones = np.linalg.norm(sample.joints[:, :, 1:] - sample.joints[:, :, list(PARENTS[1:])], axis=-1)
    assert np.linalg.norm(back - sample.joints, axis=-1).mean() < 0.01 + 2 * bones.std(axis=1).mean()
    # Bad files and formats: one line, exit 2.
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    assert run_cli("render", tmp_path / "bad.npy", "--out", tmp_path / "bad.mp4") == 2
    assert run_cli("render", tmp_path / "m_features.npy", "--out", tmp_path / "m.avi") == 2
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5)))
    assert run_cli("export", tmp_path / "wrong.npy", "--out", tmp_path / "w") == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("intermamba ") for e in errors)


def test_safe_stem():
    assert safe_stem("Two people: shake/hands?!") == "two_people_shake_hands"
    assert safe_stem("../../etc/passwd") == "etc_passwd"
    assert safe_stem("!!!") == "motion"
    assert len(safe_stem("word " * 40)) <= 48


def test_the_shipped_demo_model_loads_and_generates():
    pipe = intermamba.InterMambaPipeline.from_pretrained()            # None = the demo inside the package
    assert pipe.config.name == "demo" and pipe.text_encoder.dim == pipe.config.model.text_dim
    sample = pipe.generate("two people shake hands", frames=30, steps=2, seed=0)[0]
    assert sample.joints.shape == (2, 30, 22, 3) and np.isfinite(sample.joints).all()
    # A trained model draws people: heads above pelvises, pelvises at a plausible height.
    assert (sample.joints[:, :, 15, 1] > sample.joints[:, :, 0, 1]).all()
    assert 0.5 < float(np.median(sample.joints[:, :, 0, 1])) < 1.3
