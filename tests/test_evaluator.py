"""The InterCLIP evaluator: embeddings, masking, InterGen checkpoint loading, save/load, contrastive training."""

import dataclasses
import io
import pickle

import numpy as np
import pytest
import torch

from evaluation_toys import CAPTIONS, HashTextEncoder, ToyDataset
from intermamba.checkpoint import load_torch_file
from intermamba.evaluation.evaluator import (EVALUATOR_PRESETS, Evaluator, EvaluatorConfig, InterCLIP,
                                             map_interclip_keys, sinusoidal_table)
from intermamba.evaluation.contrastive import fit, retrieval_accuracy
from intermamba.skeleton import CONTACT, FEATURE_DIM


@pytest.fixture()
def evaluator():
    torch.manual_seed(0)
    return Evaluator.from_config("tiny", HashTextEncoder(), text_config={"encoder": "hash"})


def _motion(b=3, t=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, 2, FEATURE_DIM, generator=g)


def test_embeddings_are_normalised_times_latent_scale(evaluator):
    scale = float(evaluator.net.latent_scale.detach())
    m = evaluator.embed_motion(_motion(), [20, 7, 13])
    t = evaluator.embed_text(list(CAPTIONS[:3]))
    assert m.shape == t.shape == (3, evaluator.config.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), scale, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), scale, rtol=1e-5)


@pytest.mark.parametrize("stride", [1, 3])
def test_motion_embedding_ignores_padding_contacts_and_batch_mates(stride):
    torch.manual_seed(0)
    cfg = dataclasses.replace(EVALUATOR_PRESETS["tiny"], frame_stride=stride)
    evaluator = Evaluator.from_config(cfg, HashTextEncoder())
    motion, lengths = _motion(), torch.tensor([20, 7, 13])
    ref = evaluator.embed_motion(motion, lengths)
    noisy = motion.clone()
    noisy[1, 7:] = 1e3                                   # garbage beyond the length
    noisy[..., CONTACT] = torch.rand_like(noisy[..., CONTACT])   # the contacts are not an input
    padded = torch.cat([noisy, torch.zeros(3, 30, 2, FEATURE_DIM)], dim=1)
    np.testing.assert_allclose(evaluator.embed_motion(padded, lengths), ref, atol=1e-5)
    alone = evaluator.embed_motion(motion[1:2, :7], lengths[1:2])
    np.testing.assert_allclose(alone, ref[1:2], atol=1e-5)


def test_text_embedding_does_not_depend_on_batch_padding(evaluator):
    long_and_short = evaluator.embed_text(["a b c d e f g h i j", "a b"])
    short = evaluator.embed_text(["a b"])
    np.testing.assert_allclose(long_and_short[1:], short, atol=1e-5)


def test_persons_are_not_interchangeable_inputs(evaluator):
    # InterCLIP concatenates person 1 | person 2: swapping them is a different input (not an invariance).
    motion = _motion(1)
    swapped = motion.flip(2)
    assert not np.allclose(evaluator.embed_motion(motion, [20]), evaluator.embed_motion(swapped, [20]))


def test_interclip_sizes_match_intergen():
    with torch.device("meta"):                                          # sizes only: no memory, no init
        net = InterCLIP(EVALUATOR_PRESETS["interclip"])
    trainable = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert trainable(net.motion) == pytest.approx(68.3e6, rel=0.01)     # intergen-facts sec. 4
    assert trainable(net.text) == pytest.approx(44.5e6, rel=0.01)
    assert not net.text.token_embedding.weight.requires_grad           # CLIP's embedding stays frozen


def _intergen_names(state: dict, cfg: EvaluatorConfig) -> dict:
    """Our state dict renamed the way InterGen's Lightning checkpoint names it (the inverse map)."""
    inverse = {"motion.query_token": "motion_encoder.query_token", "motion.embed.": "motion_encoder.embed_motion.",
               "motion.transformer.": "motion_encoder.transformer.", "motion.ln.": "motion_encoder.out_ln.",
               "motion.proj.": "motion_encoder.out.", "text.token_embedding.": "token_embedding.",
               "text.positional_embedding": "positional_embedding", "text.transformer.": "textTransEncoder.",
               "text.ln.": "text_ln.", "text.proj.": "out.", "latent_scale": "latent_scale"}
    out = {}
    for key, value in state.items():
        prefix = next(p for p in inverse if key.startswith(p))
        out["model." + inverse[prefix] + key[len(prefix):]] = value
    out["model.motion_encoder.sequence_pos_encoder.pe"] = sinusoidal_table(cfg.max_frames, cfg.motion_latent)
    return out


def test_intergen_checkpoint_keys_map_and_load_strictly():
    cfg = dataclasses.replace(EVALUATOR_PRESETS["tiny"], text_tokens="clip", text_in_dim=32, text_latent=32)
    torch.manual_seed(1)
    source = InterCLIP(cfg)
    theirs = _intergen_names(source.state_dict(), cfg)
    target = InterCLIP(cfg)
    target.load_state_dict(map_interclip_keys(theirs), strict=True)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)
    ids = torch.tensor([[49406, 320, 1125, 49407, 0, 0]])             # SOT, two words, EOT, padding
    torch.testing.assert_close(target.eval().encode_text(ids), source.eval().encode_text(ids))
    with pytest.raises(ValueError, match="unexpected key 'generator.weight'"):
        map_interclip_keys({"model.generator.weight": torch.zeros(1)})


def test_interclip_pooling_uses_the_eot_token():
    cfg = dataclasses.replace(EVALUATOR_PRESETS["tiny"], text_tokens="clip", text_in_dim=32, text_latent=32)
    net = InterCLIP(cfg).eval()
    ids = torch.tensor([[49406, 320, 49407, 0, 0], [49406, 320, 49407, 5, 5]])
    # No padding mask in InterCLIP: tokens after EOT still attend, so the two differ -- but each is read at EOT.
    h = net.text.transformer(net.text.token_embedding(ids) + net.text.positional_embedding[:5])
    expected = net.text.proj(net.text.ln(h)[:, 2])
    torch.testing.assert_close(net.text(ids), expected)


class _RunConfig(dict):
    """Like the config objects a Lightning checkpoint pickles along with the weights."""


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))       # would create a file if the loader ever called it


def _clip_tiny():
    cfg = dataclasses.replace(EVALUATOR_PRESETS["tiny"], text_tokens="clip", text_in_dim=32, text_latent=32)
    return cfg, _intergen_names(InterCLIP(cfg).state_dict(), cfg)


def test_a_plain_zip_checkpoint_loads_with_weights_only(tmp_path):
    cfg, theirs = _clip_tiny()
    torch.save({"state_dict": theirs, "epoch": 3, "callbacks": {"ModelCheckpoint": {"kth_value": torch.tensor(1.0)}}},
               tmp_path / "lightning.ckpt")
    ckpt = load_torch_file(tmp_path / "lightning.ckpt")
    InterCLIP(cfg).load_state_dict(map_interclip_keys(ckpt["state_dict"]), strict=True)


def _legacy_file_with_a_payload(path, state, marker):
    """A legacy (non-zip) torch.save file holding a valid state_dict, preceded by a record that runs code when
    unpickled: torch's legacy reader unpickles the first records with whatever pickle module it is given."""
    buffer = io.BytesIO()
    torch.save({"state_dict": state}, buffer, _use_new_zipfile_serialization=False)
    path.write_bytes(pickle.dumps(_Payload(str(marker))) + buffer.getvalue())


@pytest.mark.parametrize("payload", ["plain_pickle", "legacy_format", "zip_with_objects"])
def test_files_that_could_run_code_are_refused_in_one_line(tmp_path, payload):
    cfg, theirs = _clip_tiny()
    path, marker = tmp_path / "interclip.ckpt", tmp_path / "pwned"
    if payload == "plain_pickle":
        path.write_bytes(pickle.dumps({"state_dict": theirs, "x": _Payload(str(marker))}))
    elif payload == "legacy_format":
        _legacy_file_with_a_payload(path, theirs, marker)
    else:
        torch.save({"state_dict": theirs, "hyper_parameters": _RunConfig(lr=1e-4), "x": _Payload(str(marker))}, path)
    with pytest.raises(ValueError) as err:
        Evaluator.load(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "weights_only=False" in message   # how to convert
    assert ("pickles Python objects besides tensors" if payload == "zip_with_objects"
            else "legacy (pre-1.6, non-zip) format or is a plain pickle") in message
    assert not marker.exists()


def test_eval_refuses_a_code_running_evaluator_with_exit_2(tmp_path, capsys):
    from intermamba.cli import main

    cfg, theirs = _clip_tiny()
    path, marker = tmp_path / "interclip.pt", tmp_path / "pwned"
    _legacy_file_with_a_payload(path, theirs, marker)
    assert main(["eval", "--real-only", "--evaluator", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("intermamba eval: error:") and "\n" not in err and "legacy" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_full_size_interclip_checkpoint_loads(tmp_path):
    pytest.importorskip("open_clip")
    cfg = EVALUATOR_PRESETS["interclip"]
    torch.save({"state_dict": _intergen_names(InterCLIP(cfg).state_dict(), cfg), "epoch": 1}, tmp_path / "interclip.ckpt")
    ev = Evaluator.load(tmp_path / "interclip.ckpt")
    assert ev.embed_text(["two people shake hands"]).shape == (1, 512)


def test_save_load_round_trip(evaluator, tmp_path):
    path = evaluator.save(tmp_path / "ev" / "evaluator.safetensors")
    again = Evaluator.load(path, text_encoder=HashTextEncoder())
    assert again.config == evaluator.config
    np.testing.assert_allclose(again.embed_motion(_motion(), [20, 5, 9]), evaluator.embed_motion(_motion(), [20, 5, 9]),
                               rtol=1e-6)
    np.testing.assert_allclose(again.embed_text(list(CAPTIONS)), evaluator.embed_text(list(CAPTIONS)), rtol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["evaluator.safetensors"]     # no temp file left
    half = Evaluator.load(evaluator.save(tmp_path / "half.safetensors", half=True), text_encoder=HashTextEncoder())
    np.testing.assert_allclose(half.embed_motion(_motion(), [20, 5, 9]), evaluator.embed_motion(_motion(), [20, 5, 9]),
                               atol=2e-2)


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="not found; train one with `intermamba train-evaluator`"):
        Evaluator.load(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, tmp_path / "foreign.safetensors")
    with pytest.raises(ValueError, match="is not an intermamba evaluator"):
        Evaluator.load(tmp_path / "foreign.safetensors")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.ckpt is not a PyTorch checkpoint"):
        Evaluator.load(tmp_path / "junk.ckpt")
    torch.save({"state_dict": {"w": torch.zeros(100)}}, tmp_path / "cut.ckpt")
    (tmp_path / "cut.ckpt").write_bytes((tmp_path / "cut.ckpt").read_bytes()[:-300])
    with pytest.raises(ValueError, match="cut.ckpt is not a loadable PyTorch checkpoint"):
        Evaluator.load(tmp_path / "cut.ckpt")


def _damaged(evaluator, path, *, state=None, meta=None):
    """Save `evaluator`, then rewrite its file with some tensors or metadata changed."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    evaluator.save(path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(path)
    tensors = state(tensors) if state else tensors
    save_file(tensors, path, metadata=meta(metadata) if meta else metadata)
    return path


def _shape_changed(t):
    key = next(k for k in t if t[k].ndim == 2)
    return {**t, key: t[key][:, :-1].contiguous()}


@pytest.mark.parametrize("state, meta, message", [
    (_shape_changed, None, r"does not match its evaluator_config: shape of \S+ is"),
    (lambda t: {k: v for k, v in t.items() if k != "latent_scale"}, None, r"1 missing tensors \['latent_scale'\]"),
    (lambda t: {**t, "extra": torch.zeros(1)}, None, r"1 unexpected \['extra'\]"),
    (None, lambda m: {k: v for k, v in m.items() if k != "evaluator_config"}, "lacks the evaluator_config metadata"),
    (None, lambda m: {**m, "evaluator_config": "{not json"}, "bad metadata: evaluator_config is not valid JSON"),
    (None, lambda m: {**m, "text_config": "[1, 2"}, "bad metadata: text_config is not valid JSON"),
    (None, lambda m: {**m, "evaluator_config": m["evaluator_config"].replace('"motion_latent": 32',
                                                                             '"motion_latent": -32')},
     r"evaluator_config.motion_latent must be in \[1, 8192\], got -32"),
    (None, lambda m: {**m, "evaluator_config": m["evaluator_config"].replace('"motion_heads": 2',
                                                                             '"motion_heads": 3')},
     "its evaluator_config does not build a network"),
    (None, lambda m: {**m, "evaluator_config": m["evaluator_config"].replace('"dropout"', '"drop_out"')},
     r"evaluator_config: unknown key\(s\) \['drop_out'\]"),
])
def test_damaged_evaluator_files_are_one_line_errors_naming_the_file(evaluator, tmp_path, state, meta, message):
    path = _damaged(evaluator, tmp_path / "ev.safetensors", state=state, meta=meta)
    with pytest.raises(ValueError, match=message) as err:
        Evaluator.load(path, text_encoder=HashTextEncoder())
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_contrastive_loss_is_intergens_without_duplicates(evaluator):
    g = torch.Generator().manual_seed(0)
    text, motion = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    logits = motion @ text.T
    labels = torch.arange(5)
    expected = (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(evaluator.net.contrastive_loss(text, motion), expected)
    same = torch.eye(5, dtype=torch.bool)
    torch.testing.assert_close(evaluator.net.contrastive_loss(text, motion, same), expected)


def test_training_separates_matched_from_mismatched_pairs(evaluator):
    train, test = ToyDataset(60, seed=0), ToyDataset(48, seed=1)
    before = retrieval_accuracy(evaluator, test, batch_size=12, seed=0)
    log = fit(evaluator, train, steps=120, batch_size=12, lr=3e-3, log_every=40, progress=False)
    after = retrieval_accuracy(evaluator, test, batch_size=12, seed=0)
    assert log[-1]["loss"] < log[0]["loss"]
    # 6 kinds in batches of 12: a perfect evaluator finds the right kind, so top-3 covers its 2 members.
    assert after["r_precision"][2] > 0.9 > before["r_precision"][2] + 0.2
    assert after["r_precision_shuffled"][2] < 0.6


def test_from_config_needs_a_text_encoder():
    with pytest.raises(ValueError, match="needs a text encoder"):
        Evaluator.from_config("tiny")


def test_the_shipped_evaluator_loads():
    from intermamba.evaluation import DEFAULT_EVALUATOR

    if not DEFAULT_EVALUATOR.is_file():
        pytest.skip("no evaluator shipped in this checkout")
    ev = Evaluator.load(DEFAULT_EVALUATOR)
    assert ev.config.text_tokens == "features" and ev.config.embed_dim == 64
    text = ev.embed_text(["two people shake hands.", "one person pushes the other."])
    assert np.isfinite(text).all() and not np.allclose(text[0], text[1])
