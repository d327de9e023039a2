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
    a = pipe.generate(["two people shake hands", "two people hug"], frames=FRAMES, seed=3, num_samples=2,
                      cleanup=False)
    assert [s.text for s in a] == ["two people shake hands"] * 2 + ["two people hug"] * 2
    assert [s.seed for s in a] == [3, 4, 3, 4]
    assert a[0].joints.shape == (2, FRAMES, 22, 3) and a[0].features.shape == (FRAMES, 2, FEATURE_DIM)
    np.testing.assert_allclose(a[0].joints, a[0].features[..., :66].reshape(FRAMES, 2, 22, 3).transpose(1, 0, 2, 3))
    assert not np.allclose(a[0].joints, a[1].joints)                         # different seeds differ
    # The same (text, seed) alone gives the same sample: noise is drawn per sample, not per batch.
    alone = pipe.generate("two people shake hands", frames=FRAMES, seed=4, cleanup=False)[0]
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
    np.testing.assert_allclose(np.load(again / f"{stem}_joints.npy"), joints, atol=1e-4)   # clean-up of float noise
    assert not np.allclose(np.load(out / "two_people_shake_hands_seed6_joints.npy"), joints)


def test_generate_writes_bodies_and_smpl_parameters(tiny_export, tmp_path):
    from test_gltf import glb_joints, read_glb

    out = tmp_path / "out"
    assert run_cli("generate", "two people hug", "--frames", FRAMES, "--seed", 0, "--checkpoint", tiny_export,
                   "--out", out, "--formats", "npy,glb,smpl") == 0
    stem = "two_people_hug_seed0"
    assert sorted(p.name for p in out.iterdir()) == sorted(output_files(stem, ["npy", "glb", "smpl"]))
    joints = np.load(out / f"{stem}_joints.npy")
    # the glb's skeletons, posed by glTF's rules, stand on the generated joints (stretching bones included)
    back = glb_joints(*read_glb((out / f"{stem}.glb").read_bytes()))
    assert np.linalg.norm(back - joints, axis=-1).max() < 0.01
    for k in (1, 2):
        params = np.load(out / f"{stem}_p{k}_smpl.npz")
        assert params["poses"].shape == (FRAMES, 72) and params["trans"].shape == (FRAMES, 3)


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
    (["two people hug", "--guidance", "nan"], "--guidance must be a finite number, got nan"),
    (["two people hug", "--guidance", "inf"], "--guidance must be a finite number, got inf"),
    (["two people hug", "--batch-size", "-1"], "--batch-size must be a positive integer, got -1"),
    (["two people hug", "--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
    (["two people hug", "--num-samples", "0"], "--num-samples must be a positive integer, got 0"),
    (["two people hug", "--seconds", "nan"], "--seconds must be a finite positive number, got nan"),
    (["two people hug", "--seconds", "inf"], "--seconds must be a finite positive number, got inf"),
    (["two people hug", "--seconds", "0.01"], "--seconds 0.01 is 0 frames at 30 fps"),
    (["two people hug", "--seed", str(2 ** 70)], "--seed must be in 0..18446744073709551615"),
    (["two people hug", "--seed", "-1"], "--seed must be in 0.."),
    (["two people hug", "--seed", str(2 ** 64 - 1), "--num-samples", "2"], "for 2 samples"),
    (["two people hug", "--steps", "0"], "--steps must be a positive integer, got 0"),
    (["two people hug", "--frames", "8", "--steps", "5000"], "--steps 5000 is more than this model's 1000 diffusion"),
    (["two people hug", "--threads", "0"], "--threads must be a positive integer, got 0"),
])
def test_generate_bad_input(tiny_export, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert run_cli("generate", *args, "--checkpoint", tiny_export, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())                      # nothing half-written


def test_checks_that_need_no_model_come_before_loading_it(tmp_path, capsys):
    """A missing model folder would be reported if the model were loaded first: these are found before."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    missing = tmp_path / "missing_model"
    cases = [(["--out", afile], "afile is a file, not a folder"),
             (["--out", afile / "sub"], "afile is a file, not a folder"),
             (["--num-samples", 100_000_000], "100000000 samples requested; at most 10000"),
             (["--guidance", "nan"], "--guidance must be a finite number")]
    for args, message in cases:
        assert run_cli("generate", "two people hug", "--checkpoint", missing, *args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("content, message", [
    (b"two people hug#0\n", "prompts.txt:1: the length must be a positive number of frames, got #0"),
    (b"two people hug\ntwo people bow#-3\n", "prompts.txt:2: the length must be a positive number of frames"),
    (bytes(range(256)) * 4, "is not a UTF-8 text file"),
    (b"two people\x00 hug\n", "is not a UTF-8 text file"),
])
def test_bad_prompt_files(tiny_export, tmp_path, capsys, content, message):
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(content)
    out = tmp_path / "out"
    assert run_cli("generate", "--prompts", prompts, "--checkpoint", tiny_export, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def _corrupt_copy(folder, tmp_path, value):
    """The model folder with its output layer's weights set to `value` (NaN, or finite but overflowing)."""
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "bad_model"
    shutil.copytree(folder, bad)
    state = load_file(bad / "model.safetensors")
    state["output_proj.weight"][...] = value
    save_file(state, str(bad / "model.safetensors"))
    return bad


@pytest.mark.parametrize("fmt", ["npy", "bvh"])
def test_non_finite_models_write_nothing(tiny_export, tmp_path, capsys, fmt):
    for value, message in ((float("nan"), "model.safetensors holds NaN or infinite values in 1 tensor(s)"),
                           (1e38, "produced NaN or infinite values")):
        bad = _corrupt_copy(tiny_export, tmp_path, value)
        out = tmp_path / "out"
        assert run_cli("generate", "two people hug", "--frames", FRAMES, "--checkpoint", bad, "--out", out,
                       "--formats", fmt) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and err[-1].startswith("intermamba generate: error:"), err
        assert not out.exists() or not any(out.iterdir())
        import shutil
        shutil.rmtree(bad)


def test_a_file_given_as_checkpoint_is_not_a_model_folder(tmp_path, capsys):
    afile = tmp_path / "weights.bin"
    afile.write_bytes(b"\x00" * 64)
    assert run_cli("generate", "two people hug", "--checkpoint", afile, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a model folder" in err and "not found" not in err and len(err.splitlines()) == 1


def test_sample_does_not_depend_on_its_batch_neighbours(tiny_export):
    """Noise is drawn at each item's own length: alone or next to a longer item, the same features."""
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    alone = pipe.sample_features(["two people hug"], [13], [7], steps=3)
    mixed = pipe.sample_features(["two people bow", "two people hug", "a wave"], [29, 13, 5], [8, 7, 9], steps=3)
    assert float((alone[0] - mixed[1, :13]).abs().max()) <= 1e-5
    assert float(mixed[1, 13:].abs().max()) == 0.0                           # zero beyond its length
    # The evaluation protocol's generator goes through the same code.
    from intermamba.evaluation import pipeline_generator

    generated = pipeline_generator(pipe, steps=3)(["two people bow", "two people hug"], np.array([29, 13]), 5)
    seeds = np.random.SeedSequence(5).generate_state(2).tolist()
    again = pipe.sample_features(["two people hug"], [13], seeds[1:], steps=3)
    assert float((generated[1, :13] - again[0]).abs().max()) <= 1e-5


def test_batches_are_sized_to_the_free_memory(tiny_export, monkeypatch):
    import intermamba.pipeline as pipeline

    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    jobs = [("two people hug", FRAMES, seed) for seed in range(3)]
    together = [s for _, samples, _ in pipe.iter_batches(jobs, batch_size=16) for s in samples]
    monkeypatch.setattr(pipeline, "available_bytes", lambda device: int(2.5 * pipe.sample_bytes(FRAMES)))
    assert pipe.max_batch(FRAMES) == 1
    batches = list(pipe.iter_batches(jobs, batch_size=16))
    assert [len(chunk) for chunk, _, _ in batches] == [1, 1, 1]
    for a, (_, samples, _) in zip(together, batches):
        np.testing.assert_allclose(a.features, samples[0].features, atol=1e-5)
    # sample_features splits what does not fit the same way.
    feats = pipe.sample_features(["two people hug"] * 3, [FRAMES] * 3, [0, 1, 2])
    np.testing.assert_allclose(feats.numpy(), np.stack([s.features for s in together]), atol=1e-5)
    # Not even one sample fits: refused before anything is allocated.
    monkeypatch.setattr(pipeline, "available_bytes", lambda device: pipe.sample_bytes(FRAMES) // 2)
    with pytest.raises(pipeline.GenerationError, match=f"a {FRAMES}-frame sample needs about"):
        pipe.generate("two people hug", frames=FRAMES)


def test_out_of_memory_is_one_line_with_advice(tiny_export, tmp_path, capsys, monkeypatch):
    from intermamba.diffusion import DDIMSampler

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 9663676416 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(DDIMSampler, "sample", no_memory)
    out = tmp_path / "out"
    assert run_cli("generate", "two people hug", "--frames", FRAMES, "--num-samples", 4, "--checkpoint",
                   tiny_export, "--out", out, "--formats", "npy") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"intermamba generate: error: out of memory denoising 4 sample(s) of up to {FRAMES} frames "
                       "together on cpu; ask for fewer samples at a time or shorter motions (e.g. --batch-size 2)")
    assert not out.exists() or not any(out.iterdir())
    monkeypatch.setattr(DDIMSampler, "sample", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    with pytest.raises(intermamba.pipeline.OutOfMemory, match="out of memory denoising 1 sample"):
        pipe.generate("two people hug", frames=FRAMES)


def test_progress_shows_denoising_steps_for_several_prompts(tiny_export, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("two people hug\ntwo people bow#9\n")
    assert run_cli("generate", "--prompts", prompts, "--frames", FRAMES, "--steps", 3, "--checkpoint", tiny_export,
                   "--out", tmp_path / "out", "--formats", "npy") == 0
    err = capsys.readouterr().err.replace("\r", "\n")
    assert f"batch 1/2 (1 x {FRAMES} frames)" in err and "batch 2/2 (1 x 9 frames)" in err
    assert "6/6" in err                                                       # every step of both batches


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


def test_export_names_and_folders(tiny_export, tmp_path, capsys):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    sample = pipe.generate("two people wave", frames=FRAMES, cleanup=False)[0]      # features = joints
    np.save(tmp_path / "wave_seed0_features.npy", sample.features)
    np.save(tmp_path / "wave_seed0_joints.npy", sample.joints)
    # Named like generate names its BVH files: the _features / _joints suffix is the file's, not the sample's.
    assert run_cli("export", tmp_path / "wave_seed0_features.npy") == 0
    assert (tmp_path / "wave_seed0_p1.bvh").is_file() and (tmp_path / "wave_seed0_p2.bvh").is_file()
    # A folder (an existing one, or a name ending in /) receives the files inside it.
    for folder in (tmp_path / "new_folder", tmp_path / "existing"):
        if folder.name == "existing":
            folder.mkdir()
            target = str(folder)
        else:
            target = str(folder) + "/"
        assert run_cli("export", tmp_path / "wave_seed0_joints.npy", "--out", target) == 0
        assert sorted(p.name for p in folder.iterdir()) == ["wave_seed0_p1.bvh", "wave_seed0_p2.bvh"]
    assert not (tmp_path / "new_folder_p1.bvh").exists() and not (tmp_path / "existing_p1.bvh").exists()
    capsys.readouterr()
    assert run_cli("export", tmp_path / "wave_seed0_joints.npy", "--fps", 0, "--out", tmp_path / "z") == 2
    err = capsys.readouterr().err.strip()
    assert "--fps must be positive, got 0" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("z*"))


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"intermamba {version('intermamba')}"


def test_render_and_export_commands(tiny_export, tmp_path, capsys):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    sample = pipe.generate("two people wave", frames=FRAMES, cleanup=False)[0]      # features = joints
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


def test_placement_guidance_scales_where_people_stand_apart_from_their_pose(tiny_export):
    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    assert pipe.guide(3.5) == 3.5 and pipe.guide(3.5, 3.5) == 3.5            # null placement = plain guidance
    guide = pipe.guide(3.5, 1.0)
    # cond differs from null by person 2 stepping 0.3 m along x (every joint) and raising the right wrist 0.1 m
    raw = torch.zeros(1, FRAMES, 2, FEATURE_DIM)
    raw[:, :, 1, 0:66:3] = 0.3
    wrist = 3 * 21 + 1                                                          # y of the right wrist
    raw[:, :, 1, wrist] += 0.1
    null = torch.randn(1, FRAMES, 2, FEATURE_DIM, generator=torch.Generator().manual_seed(0))
    cond = null + raw / pipe.normalizer.std
    moved = (guide(cond, null) - null) * pipe.normalizer.std                   # raw guided difference
    torch.testing.assert_close(moved[:, :, 1, 0:66:3], torch.full((1, FRAMES, 22), 0.3))     # placement at 1
    torch.testing.assert_close(moved[:, :, 1, wrist], torch.full((1, FRAMES), 3.5 * 0.1))    # pose at 3.5
    assert moved[:, :, 0].abs().max() < 1e-6
    with pytest.raises(ValueError, match="placement guidance must be a finite number"):
        pipe.guide(3.5, float("nan"))


def test_generate_cli_placement_guidance_is_recorded(tiny_export, tmp_path):
    run_cli("generate", "two people hug", "--checkpoint", tiny_export, "--frames", FRAMES, "--formats", "json",
            "--placement-guidance", 1, "--out", tmp_path)
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert record["guidance"] == 3.5 and record["placement_guidance"] == 1.0


def test_generate_cleans_up_by_default_and_no_cleanup_writes_the_raw_joints(tiny_export, tmp_path):
    from intermamba.evaluation import physical
    from intermamba.motion import features_to_joints

    pipe = intermamba.InterMambaPipeline.from_pretrained(tiny_export)
    clean, = pipe.generate("two people hug", frames=30, seed=0)
    raw, = pipe.generate("two people hug", frames=30, seed=0, cleanup=False)
    np.testing.assert_array_equal(clean.features, raw.features)               # the model's output is the same
    np.testing.assert_allclose(raw.joints, features_to_joints(raw.features).transpose(1, 0, 2, 3))
    assert clean.cleaned and not raw.cleaned
    assert physical.bone_drift(clean.joints)["bone_drift"] < 1e-4 < physical.bone_drift(raw.joints)["bone_drift"]
    run_cli("generate", "two people hug", "--checkpoint", tiny_export, "--frames", 30, "--formats", "npy,json",
            "--no-cleanup", "--out", tmp_path)
    np.testing.assert_allclose(np.load(next(tmp_path.glob("*_joints.npy"))), raw.joints, atol=1e-6)
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["cleaned_up"] is False
