"""InterGen's released files: the checkpoint loader and the normaliser, on files this test writes in InterGen's
exact layout (Lightning's {"state_dict": {"model.<InterGen key>": ...}} and global_mean/std.npy).

`RefInterGen` below is InterGen's module tree rebuilt from the facts (reference/intergen-facts.md sec. 2) with
InterGen's attribute names and torch's nn.MultiheadAttention(add_zero_attn=True), so its state_dict is named as
InterGen's is; its forward is InterGen's computation, independent of our model code.
"""

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn

from intermamba.checkpoint import CheckpointError
from intermamba.cli import main
from intermamba.config import ConfigError, load_config
from intermamba.intergen_compat import intergen_config, load_intergen
from intermamba.model import build_model, count_parameters
from intermamba.model.intergen import map_intergen_state_dict
from intermamba.motion import Normalizer, load_normalizer
from intermamba.pipeline import InterMambaPipeline
from intermamba.text import CLIPTextTower

FEAT = 262
VOCAB, CONTEXT = 50, 77
SOT, EOT = VOCAB - 2, VOCAB - 1     # CLIP's start/end-of-text tokens are the two largest ids
# small InterGen-shaped sizes: latent, blocks, heads, ff; text width (CLIP's), text head layers/heads/ff, CLIP layers
D, LAYERS, HEADS, FF = 32, 2, 8, 64
TEXT, TEXT_LAYERS, TEXT_HEADS, TEXT_FF, CLIP_LAYERS = 64, 2, 8, 32, 1


# ------------------------------------------------------------------------------ InterGen, rebuilt for the test
class RefPositionalEncoding(nn.Module):
    def __init__(self, dim, max_len=5000):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        rate = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * rate), torch.cos(position * rate)
        self.register_buffer("pe", pe)


class RefTimestepEmbedder(nn.Module):
    def __init__(self, dim, sequence_pos_encoder):
        super().__init__()
        self.sequence_pos_encoder = sequence_pos_encoder          # the same module: its table is saved twice
        self.time_embed = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.time_embed(self.sequence_pos_encoder.pe[t])


class RefAdaLN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, h, emb):
        scale, shift = self.emb_layers(emb).chunk(2, dim=-1)
        return self.norm(h) * (1 + scale[:, None]) + shift[:, None]


def ref_attention():
    return nn.MultiheadAttention(D, HEADS, batch_first=True, add_zero_attn=True)


class RefSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.attention = RefAdaLN(D), ref_attention()

    def forward(self, x, emb):
        h = self.norm(x, emb)
        return self.attention(h, h, h, need_weights=False)[0]


class RefCrossAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.xf_norm, self.attention = RefAdaLN(D), RefAdaLN(D), ref_attention()

    def forward(self, x, xf, emb):
        kv = self.xf_norm(xf, emb)
        return self.attention(self.norm(x, emb), kv, kv, need_weights=False)[0]


class RefFFN(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.linear1, self.linear2 = RefAdaLN(D), nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x, emb):
        return self.linear2(nn.functional.gelu(self.linear1(self.norm(x, emb))))


class RefBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.sa_block, self.ca_block, self.ffn = RefSelfAttention(), RefCrossAttention(), RefFFN()

    def forward(self, x, y, emb):
        h1 = x + self.sa_block(x, emb)
        h2 = h1 + self.ca_block(h1, y, emb)
        return h2 + self.ffn(h2, emb)


class RefFinalLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(D, FEAT)


class RefDenoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.sequence_pos_encoder = RefPositionalEncoding(D)
        self.embed_timestep = RefTimestepEmbedder(D, self.sequence_pos_encoder)
        self.motion_embed, self.text_embed = nn.Linear(FEAT, D), nn.Linear(TEXT, D)
        self.blocks = nn.ModuleList(RefBlock() for _ in range(LAYERS))
        self.out = RefFinalLayer()

    def forward(self, x, t, cond):
        """x (B, T, 524) -> (B, T, 524), no padding (InterGen samples without a mask)."""
        pe = self.sequence_pos_encoder.pe[: x.shape[1]]
        emb = self.embed_timestep(t) + self.text_embed(cond)
        a, b = self.motion_embed(x[..., :FEAT]) + pe, self.motion_embed(x[..., FEAT:]) + pe
        for block in self.blocks:
            a, b = block(a, b, emb), block(b, a, emb)
        return torch.cat([self.out.linear(a), self.out.linear(b)], dim=-1)


class RefDiffusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = RefDenoiser()


class RefCLIPBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(TEXT), nn.LayerNorm(TEXT)
        self.attn = nn.MultiheadAttention(TEXT, 1)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(TEXT, 4 * TEXT), c_proj=nn.Linear(4 * TEXT, TEXT)))

    def forward(self, x, mask):                                   # x (L, B, W), CLIP's sequence-first layout
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(h * torch.sigmoid(1.702 * h))


class RefCLIPTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.resblocks = nn.Sequential(*[RefCLIPBlock() for _ in range(CLIP_LAYERS)])


class RefInterGen(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = RefDiffusion()
        self.token_embedding = nn.Embedding(VOCAB, TEXT)
        self.clip_transformer = RefCLIPTransformer()
        self.positional_embedding = nn.Parameter(torch.zeros(CONTEXT, TEXT))
        self.ln_final = nn.LayerNorm(TEXT)
        layer = nn.TransformerEncoderLayer(TEXT, TEXT_HEADS, TEXT_FF, 0.1, activation="gelu", batch_first=True)
        self.clipTransEncoder = nn.TransformerEncoder(layer, TEXT_LAYERS, enable_nested_tensor=False)
        self.clip_ln = nn.LayerNorm(TEXT)

    def cond(self, ids):
        """ids (B, 77) -> cond (B, TEXT): CLIP (causal) -> 2-layer head over all 77 tokens -> the EOT token."""
        x = (self.token_embedding(ids) + self.positional_embedding).permute(1, 0, 2)
        causal = torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1)
        for block in self.clip_transformer.resblocks:
            x = block(x, causal)
        out = self.clip_ln(self.clipTransEncoder(self.ln_final(x.permute(1, 0, 2))))
        return out[torch.arange(ids.shape[0]), ids.argmax(dim=-1)]


def toy_tokenize(texts):
    """CLIP-like ids: SOT, one id per word, EOT, zeros after; truncated to 77 with EOT kept."""
    rows = []
    for text in texts:
        words = [1 + sum(map(ord, w)) % (VOCAB - 3) for w in text.lower().split()]
        ids = ([SOT] + words)[: CONTEXT - 1] + [EOT]
        rows.append(ids + [0] * (CONTEXT - len(ids)))
    return torch.tensor(rows)


def randomised(module, seed=0):
    """Every parameter drawn at random (InterGen zero-initialises several layers: a zero output proves nothing)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if "norm" in name or "ln" in name else 0.15)
                    + (1.0 if name.endswith(("ln_1.weight", "ln_2.weight", "ln_final.weight", "clip_ln.weight",
                                              "norm1.weight", "norm2.weight")) else 0.0))
    return module.eval()


def lightning_checkpoint(path, state):
    """What InterGen's Lightning run writes: the module under .model, plus run bookkeeping (plain data)."""
    torch.save({"epoch": 1999, "global_step": 352000, "pytorch-lightning_version": "2.0.0",
                "state_dict": OrderedDict((f"model.{k}", v) for k, v in state.items()),
                "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 1999}}}},
                "optimizer_states": [], "lr_schedulers": []}, path)
    return path


def write_stats(folder, seed=3):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=FEAT).astype(np.float32)
    std = rng.uniform(0.01, 2.0, size=FEAT).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "global_mean.npy", mean)
    np.save(folder / "global_std.npy", std)
    return mean, std


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return randomised(RefInterGen())


@pytest.fixture
def clone(tmp_path, reference):
    """An InterGen clone's layout: checkpoints/intergen.ckpt and data/global_*.npy."""
    (tmp_path / "checkpoints").mkdir()
    lightning_checkpoint(tmp_path / "checkpoints" / "intergen.ckpt", reference.state_dict())
    write_stats(tmp_path / "data")
    return tmp_path


PROMPTS = ["two people embrace each other", "one person pushes the other away, who stumbles back"]


# ----------------------------------------------------------------------------------------------- the tests
def test_loaded_checkpoint_computes_intergens_function(clone, reference):
    model, cfg, _, encoder = load_intergen(clone / "checkpoints", tokenizer=toy_tokenize)
    assert (cfg.model.latent_dim, cfg.model.num_layers, cfg.model.ff_size, cfg.model.text_dim) == (D, LAYERS, FF, TEXT)
    assert cfg.model.intergen_exact and cfg.name == "intergen"
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 11, 2, FEAT, generator=gen)
    t = torch.tensor([980, 37])
    features, mask = encoder.encode(PROMPTS)
    assert features.shape == (2, CONTEXT, TEXT) and mask.sum(1).tolist() == [7, 11]   # SOT + words + EOT
    ids = toy_tokenize(PROMPTS)
    with torch.no_grad():
        ours = model(x, t, features, mask).reshape(2, 11, 2 * FEAT)
        theirs = reference.decoder.net(x.reshape(2, 11, 2 * FEAT), t, reference.cond(ids))
        assert theirs.abs().mean() > 0.1
        torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-5)
        # the null condition of guidance: InterGen multiplies the pooled text by 0
        null = model(x, t, features, mask, drop_text=torch.tensor([True, True])).reshape(2, 11, 2 * FEAT)
        cond0 = torch.zeros(2, TEXT)
        torch.testing.assert_close(null, reference.decoder.net(x.reshape(2, 11, 2 * FEAT), t, cond0),
                                   atol=2e-5, rtol=1e-5)


def inverse_map(ours: dict) -> dict:
    """Our InterGen's state_dict -> InterGen's names (the test's own inverse of the loader's mapping)."""
    blocks = {"self_norm.modulation.": "sa_block.norm.emb_layers.", "self_attn.": "sa_block.attention.",
              "cross_norm_q.modulation.": "ca_block.norm.emb_layers.",
              "cross_norm_kv.modulation.": "ca_block.xf_norm.emb_layers.", "cross_attn.": "ca_block.attention.",
              "ff_norm.modulation.": "ffn.norm.emb_layers.", "ff.0.": "ffn.linear1.", "ff.3.": "ffn.linear2."}
    top = {"time_embed.mlp.": "decoder.net.embed_timestep.time_embed.", "input_proj.": "decoder.net.motion_embed.",
           "text_proj.": "decoder.net.text_embed.", "output_proj.": "decoder.net.out.linear.",
           "text_head.encoder.": "clipTransEncoder.", "text_head.norm.": "clip_ln."}
    out = {}
    for key, value in ours.items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            for attn in ("self_attn", "cross_attn"):
                for kind in ("weight", "bias"):
                    if rest == f"{attn}.q_proj.{kind}":
                        packed = torch.cat([value, ours[f"blocks.{index}.{attn}.kv_proj.{kind}"]])
                        rest = f"{attn}.in_proj_{kind}"
                        value = packed
            if ".kv_proj." in rest:
                continue
            new = next(v + rest[len(k):] for k, v in blocks.items() if rest.startswith(k))
            out[f"decoder.net.blocks.{index}.{new}"] = value
        else:
            out[next(v + key[len(k):] for k, v in top.items() if key.startswith(k))] = value
    return out


def tiny_exact_config():
    return load_config("intergen", [f"model.latent_dim={D}", f"model.num_layers={LAYERS}", f"model.num_heads={HEADS}",
                                    f"model.ff_size={FF}", f"model.text_dim={TEXT}", f"model.text_heads={TEXT_HEADS}",
                                    f"model.text_ff={TEXT_FF}", f"model.text_layers={TEXT_LAYERS}",
                                    "model.intergen_exact=true"])


def test_our_weights_through_intergens_layout_come_back_bit_for_bit(tmp_path, reference):
    ours = randomised(build_model(tiny_exact_config()), seed=5)
    state = inverse_map(ours.state_dict())
    state.update({k: v for k, v in reference.state_dict().items()
                  if not k.startswith(("decoder.", "clipTransEncoder.", "clip_ln."))})   # CLIP tower + tables
    write_stats(tmp_path)
    model, _, _, encoder = load_intergen(lightning_checkpoint(tmp_path / "intergen.ckpt", state),
                                         tokenizer=toy_tokenize)
    gen = torch.Generator().manual_seed(2)
    x, t = torch.randn(2, 9, 2, FEAT, generator=gen), torch.tensor([3, 500])
    features, mask = encoder.encode(PROMPTS)
    lengths = torch.tensor([9, 6])
    with torch.no_grad():
        expected = ours(x, t, features, mask, lengths)
        assert expected.abs().mean() > 0.1
        assert torch.equal(model(x, t, features, mask, lengths), expected)


def test_strict_loading_names_the_missing_and_the_unexpected_key(tmp_path, reference):
    write_stats(tmp_path)
    state = dict(reference.state_dict())
    del state["decoder.net.blocks.1.ffn.linear2.bias"]
    path = lightning_checkpoint(tmp_path / "intergen.ckpt", state)
    with pytest.raises(CheckpointError, match=r"1 missing tensors \['blocks\.1\.ff\.3\.bias'\]") as err:
        load_intergen(path, tokenizer=toy_tokenize)
    assert "\n" not in str(err.value)
    state = dict(reference.state_dict(), **{"decoder.net.blocks.0.sa_block.gate.weight": torch.zeros(2)})
    path = lightning_checkpoint(tmp_path / "intergen.ckpt", state)
    with pytest.raises(CheckpointError, match=r"unexpected key 'decoder\.net\.blocks\.0\.sa_block\.gate\.weight'"):
        load_intergen(path, tokenizer=toy_tokenize)
    # a table laid out [sin | cos] (ours) is not InterGen's: its weights would meet scrambled positions
    table = state["decoder.net.sequence_pos_encoder.pe"]
    split = torch.cat([table[:, 0::2], table[:, 1::2]], dim=1)
    state = dict(reference.state_dict(), **{"decoder.net.sequence_pos_encoder.pe": split})
    path = lightning_checkpoint(tmp_path / "intergen.ckpt", state)
    with pytest.raises(CheckpointError, match="not InterGen's interleaved sin/cos table"):
        load_intergen(path, tokenizer=toy_tokenize)


def test_a_ckpt_that_is_not_intergens_says_so(tmp_path):
    path = lightning_checkpoint(tmp_path / "last.ckpt", {"input_proj.weight": torch.zeros(4, 262)})
    with pytest.raises(CheckpointError, match=r"not InterGen's checkpoint .*export folder"):
        InterMambaPipeline.from_pretrained(path)


def test_a_checkpoint_that_needs_unpickling_is_refused_and_runs_nothing(tmp_path, reference):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    write_stats(tmp_path)
    path = tmp_path / "intergen.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in reference.state_dict().items()},
                "hyper_parameters": Payload()}, path)
    with pytest.raises(CheckpointError, match="weights-only") as err:
        load_intergen(path, tokenizer=toy_tokenize)
    assert "\n" not in str(err.value) and not marker.exists()
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_intergen(path, tokenizer=toy_tokenize)


def test_one_command_generates_from_an_intergen_clone(clone, tmp_path, monkeypatch, capsys):
    import intermamba.text

    monkeypatch.setattr(intermamba.text, "clip_tokenizer", lambda: toy_tokenize)
    pipe = InterMambaPipeline.from_pretrained(clone / "checkpoints")
    assert pipe.config.model.intergen_exact and pipe.text_encoder.full_context
    mean, std = np.load(clone / "data" / "global_mean.npy"), np.load(clone / "data" / "global_std.npy")
    assert np.array_equal(pipe.normalizer.mean.numpy(), mean) and np.array_equal(pipe.normalizer.std.numpy(), std)
    out = tmp_path / "out"
    argv = ["generate", PROMPTS[0], "--checkpoint", str(clone / "checkpoints"), "--frames", "12", "--steps", "2",
            "--formats", "npy", "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    joints = np.load(out / "two_people_embrace_each_other_seed0_joints.npy")
    assert joints.shape == (2, 12, 22, 3) and np.isfinite(joints).all()
    # without the statistics: one line, exit 2
    (clone / "data" / "global_std.npy").unlink()
    capsys.readouterr()
    assert main(argv + ["--overwrite"]) == 2
    message = capsys.readouterr().err.strip()
    assert "global_std.npy" in message and "\n" not in message


def test_intergen_statistics_round_trip(tmp_path):
    mean, std = write_stats(tmp_path)
    normalizer = Normalizer.from_intergen_files(tmp_path / "global_mean.npy", tmp_path / "global_std.npy")
    assert np.array_equal(normalizer.mean.numpy(), mean) and np.array_equal(normalizer.std.numpy(), std)
    x = torch.randn(3, 7, 2, FEAT)
    torch.testing.assert_close(normalizer.denormalize(normalizer.normalize(x)), x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(normalizer.normalize(x)[:, :, 1], (x[:, :, 1] - torch.from_numpy(mean)) /
                               torch.from_numpy(std))                                      # both persons alike
    assert np.array_equal(load_normalizer(tmp_path).mean.numpy(), mean)                    # the folder form
    normalizer.save(tmp_path / "stats.safetensors")
    assert np.array_equal(load_normalizer(tmp_path / "stats.safetensors").std.numpy(), std)


@pytest.mark.parametrize("bad, match", [
    (np.zeros(261, np.float32), r"must hold 262 values"),
    (np.full(FEAT, np.nan, np.float32), r"non-finite"),
    (np.array([{"mean": 0}] * FEAT, dtype=object), r"not a plain numeric \.npy"),     # a pickle: never loaded
    (np.arange(FEAT), r"floating-point"),
])
def test_bad_statistics_files_get_one_line(tmp_path, bad, match):
    write_stats(tmp_path)
    np.save(tmp_path / "global_mean.npy", bad, allow_pickle=True)
    with pytest.raises(ValueError, match=match) as err:
        load_normalizer(tmp_path)
    assert "global_mean.npy" in str(err.value) and "\n" not in str(err.value)
    np.save(tmp_path / "global_mean.npy", np.zeros(FEAT, np.float32))
    np.save(tmp_path / "global_std.npy", np.zeros(FEAT, np.float32))
    with pytest.raises(ValueError, match=r"std <= 0"):
        load_normalizer(tmp_path)


def test_training_can_use_intergens_statistics(tmp_path):
    from intermamba.training import TrainingError, _normalizer_for

    mean, _ = write_stats(tmp_path / "InterGen" / "data")
    cfg = load_config("tiny", [f"data.normalizer={tmp_path / 'InterGen' / 'data'}"])
    normalizer = _normalizer_for(cfg, tmp_path / "run", dataset=None)
    assert np.array_equal(normalizer.mean.numpy(), mean)
    assert np.array_equal(Normalizer.load(tmp_path / "run" / "normalizer.safetensors").mean.numpy(), mean)
    cfg = load_config("tiny", [f"data.normalizer={tmp_path / 'nowhere'}"])
    with pytest.raises(TrainingError, match="data.normalizer: .*nowhere"):
        _normalizer_for(cfg, tmp_path / "run2", dataset=None)
    assert not (tmp_path / "run2").exists()


# ----------------------------------------------------------------------- the full-size layout, as data
# InterGen's state_dict at its released sizes (LATENT 1024, 8 blocks, FF 2048, text 768, CLIP ViT-L/14@336px),
# derived from InterGen's module definitions; per block "decoder.net.blocks.<i>." + the names below.
INTERGEN_GLOBALS = {
    "decoder.net.sequence_pos_encoder.pe": (5000, 1024),
    "decoder.net.embed_timestep.sequence_pos_encoder.pe": (5000, 1024),
    "decoder.net.embed_timestep.time_embed.0.weight": (1024, 1024),
    "decoder.net.embed_timestep.time_embed.0.bias": (1024,),
    "decoder.net.embed_timestep.time_embed.2.weight": (1024, 1024),
    "decoder.net.embed_timestep.time_embed.2.bias": (1024,),
    "decoder.net.motion_embed.weight": (1024, 262), "decoder.net.motion_embed.bias": (1024,),
    "decoder.net.text_embed.weight": (1024, 768), "decoder.net.text_embed.bias": (1024,),
    "decoder.net.out.linear.weight": (262, 1024), "decoder.net.out.linear.bias": (262,),
    "clip_ln.weight": (768,), "clip_ln.bias": (768,),
    "token_embedding.weight": (49408, 768), "positional_embedding": (77, 768),
    "ln_final.weight": (768,), "ln_final.bias": (768,),
}
INTERGEN_BLOCK = {
    **{f"{norm}.emb_layers.1.{p}": (2048, 1024) if p == "weight" else (2048,)
       for norm in ("sa_block.norm", "ca_block.norm", "ca_block.xf_norm", "ffn.norm") for p in ("weight", "bias")},
    **{f"{blk}.attention.{name}": shape for blk in ("sa_block", "ca_block") for name, shape in [
        ("in_proj_weight", (3072, 1024)), ("in_proj_bias", (3072,)),
        ("out_proj.weight", (1024, 1024)), ("out_proj.bias", (1024,))]},
    "ffn.linear1.weight": (2048, 1024), "ffn.linear1.bias": (2048,),
    "ffn.linear2.weight": (1024, 2048), "ffn.linear2.bias": (1024,),
}
TEXT_HEAD_LAYER = {                                       # "clipTransEncoder.layers.<i>." (2 layers)
    "self_attn.in_proj_weight": (2304, 768), "self_attn.in_proj_bias": (2304,),
    "self_attn.out_proj.weight": (768, 768), "self_attn.out_proj.bias": (768,),
    "linear1.weight": (2048, 768), "linear1.bias": (2048,), "linear2.weight": (768, 2048), "linear2.bias": (768,),
    "norm1.weight": (768,), "norm1.bias": (768,), "norm2.weight": (768,), "norm2.bias": (768,),
}
CLIP_LAYER = {                                            # "clip_transformer.resblocks.<i>." (12 layers)
    "attn.in_proj_weight": (2304, 768), "attn.in_proj_bias": (2304,),
    "attn.out_proj.weight": (768, 768), "attn.out_proj.bias": (768,),
    "ln_1.weight": (768,), "ln_1.bias": (768,), "ln_2.weight": (768,), "ln_2.bias": (768,),
    "mlp.c_fc.weight": (3072, 768), "mlp.c_fc.bias": (3072,), "mlp.c_proj.weight": (768, 3072),
    "mlp.c_proj.bias": (768,),
}


def released_layout() -> dict:
    keys = dict(INTERGEN_GLOBALS)
    keys.update({f"decoder.net.blocks.{i}.{k}": s for i in range(8) for k, s in INTERGEN_BLOCK.items()})
    keys.update({f"clipTransEncoder.layers.{i}.{k}": s for i in range(2) for k, s in TEXT_HEAD_LAYER.items()})
    keys.update({f"clip_transformer.resblocks.{i}.{k}": s for i in range(12) for k, s in CLIP_LAYER.items()})
    return keys


def test_released_sizes_map_onto_the_intergen_config_exactly():
    layout = released_layout()
    state = {k: torch.empty(s, device="meta") for k, s in layout.items()}
    cfg = intergen_config(state)
    shipped = load_config("intergen", ["model.intergen_exact=true"])
    assert cfg.model == shipped.model
    denoiser, clip = map_intergen_state_dict(state)
    with torch.device("meta"):
        model = build_model(cfg)
        tower = CLIPTextTower.sized_like(clip)
    def shapes(state):
        return {k: tuple(v.shape) for k, v in state.items()}

    assert shapes(denoiser) == shapes(model.state_dict())
    assert shapes(clip) == shapes(tower.state_dict())
    assert count_parameters(model) == 182_381_830                           # InterGen's trainable parameters
    assert sum(p.numel() for p in tower.parameters()) == 123_060_480        # its frozen CLIP text tower
    trainable = sum(math.prod(s) for k, s in layout.items()
                    if k.startswith(("decoder.net.", "clipTransEncoder.", "clip_ln.")) and not k.endswith(".pe"))
    assert trainable == 182_381_830


def test_intergen_exact_is_for_the_intergen_arch_only():
    with pytest.raises(ConfigError, match="intergen_exact"):
        build_model(load_config("tiny", ["model.intergen_exact=true"]))


def test_clip_tokenizer_comes_from_open_clip_or_openai_clip(monkeypatch):
    import sys
    import types

    from intermamba.text import TextEncoderError, clip_tokenizer

    calls = []
    fake = types.SimpleNamespace(tokenize=lambda texts, **kw: calls.append((texts, kw)) or toy_tokenize(texts))
    monkeypatch.setitem(sys.modules, "open_clip", fake)
    assert clip_tokenizer()(["Two People Hug"]).shape == (1, CONTEXT)
    assert calls == [(["two people hug"], {"context_length": CONTEXT})]      # lowercased, as OpenAI's tokenizer
    monkeypatch.setitem(sys.modules, "open_clip", None)                       # not installed
    monkeypatch.setitem(sys.modules, "clip", types.SimpleNamespace(tokenize=lambda texts, **kw: calls.append(kw)))
    clip_tokenizer()(["a"])
    assert calls[-1] == {"context_length": CONTEXT, "truncate": True}         # InterGen's call
    monkeypatch.setitem(sys.modules, "clip", None)
    with pytest.raises(TextEncoderError, match=r"pip install 'intermamba\[clip\]'"):
        clip_tokenizer()
