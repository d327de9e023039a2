"""The InterMamba network: module shapes, causality and masking, person-swap symmetry, the null condition,
parameter counts of the paper sizes, the ablation flags, and that a few optimiser steps learn."""

import math

import pytest
import torch

from intermamba import ConfigError, load_config
from intermamba.model import build_model, count_parameters, parameter_table
from intermamba.model.astm import ASTM, FramesLayout, JointsLayout, ScanBranch, TemporalLayout
from intermamba.model.blocks import LIIA, ASTMBlock, InterMambaLayer, TimeConv, swap_persons
from intermamba.model.ssm import DT_MAX, DT_MIN, SelectiveSSM

FEAT = 262
TEXT_DIM = 384
ASTM_ARGS = dict(spatial_mode="frames", max_frames=16, num_joint_tokens=4, d_state=4, d_conv=4, dt_rank="auto",
                 expand=2)


def tiny(*overrides, double=True):
    torch.manual_seed(0)
    model = build_model(load_config("tiny", list(overrides))).eval()
    return model.double() if double else model


def inputs(batch=2, frames=12, text_len=5, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, 2, FEAT, generator=g, dtype=dtype)
    t = torch.randint(0, 1000, (batch,), generator=g)
    text = torch.randn(batch, text_len, TEXT_DIM, generator=g, dtype=dtype)
    mask = torch.ones(batch, text_len, dtype=torch.bool)
    mask[0, 3:] = False
    return x, t, text, mask


def randomise_output(model):
    """The output layer is zero-initialised (x0-hat = 0); give it weights so tests see the network."""
    with torch.no_grad():
        model.output_proj.weight.normal_(0, 0.1)
        for layer in model.layers:
            for block in (layer.self_block, layer.cross_block):
                if block is not None:
                    block.out_proj.weight.normal_(0, 0.1)
    return model


# ------------------------------------------------------------------------------------------------ SSM
def test_ssm_initialisation_is_mambas():
    ssm = SelectiveSSM(8, d_state=4, dt_rank=2)
    assert torch.allclose(ssm.A_log.exp(), torch.arange(1.0, 5.0).repeat(8, 1))           # S4D-real
    assert torch.equal(ssm.D, torch.ones(8))
    dt = torch.nn.functional.softplus(ssm.dt_bias)
    assert dt.min() >= DT_MIN * (1 - 1e-5) and dt.max() <= DT_MAX * (1 + 1e-5)
    assert ssm.A_log._no_weight_decay and ssm.D._no_weight_decay


@pytest.mark.parametrize("directions", [1, 2])
def test_ssm_shapes_and_direction_causality(directions):
    torch.manual_seed(0)
    ssm = SelectiveSSM(6, d_state=3, dt_rank=2, directions=directions).double()
    u = torch.randn(2, 6, 10, dtype=torch.float64)
    y = ssm(u)
    assert y.shape == u.shape
    v = u.clone()
    v[..., 6:] += 1.0                       # change the future only
    z = ssm(v)
    # The forward channels (all of them with one direction) cannot see the change before t = 6 ...
    forward = slice(0, 6 // directions)
    assert torch.allclose(y[:, forward, :6], z[:, forward, :6], atol=1e-12)
    if directions == 2:                     # ... the backward ones can, and cannot see changes of the past.
        assert not torch.allclose(y[:, 3:, :6], z[:, 3:, :6])
        w = u.clone()
        w[..., :4] += 1.0
        assert torch.allclose(ssm(w)[:, 3:, 4:], y[:, 3:, 4:], atol=1e-12)


def test_mssm_parameters_come_from_the_source():
    torch.manual_seed(0)
    ssm = SelectiveSSM(6, d_state=3, dt_rank=2).double()
    u = torch.randn(2, 6, 10, dtype=torch.float64)
    source = torch.randn(2, 6, 10, dtype=torch.float64)
    assert torch.allclose(ssm(u, u), ssm(u))
    assert not torch.allclose(ssm(u, source), ssm(u))
    assert ssm(torch.zeros_like(u), source).abs().max() == 0     # the source selects; it is not scanned


# ------------------------------------------------------------------------------------------------ layouts
@pytest.mark.parametrize("layout", [TemporalLayout(), FramesLayout(16), JointsLayout(4)])
def test_layouts_round_trip(layout):
    x = torch.randn(3, 11, 8)
    scanned, _ = layout.to_scan(x, torch.ones(3, 11, dtype=torch.bool))
    assert scanned.shape[1] == layout.scan_channels(8)
    assert torch.equal(layout.from_scan(scanned, 3, 11), x)


def test_frames_layout_rejects_too_long_sequences():
    with pytest.raises(ValueError, match="max_frames=16"):
        FramesLayout(16).to_scan(torch.zeros(1, 17, 8), None)


# ------------------------------------------------------------------------------------------------ modules
@pytest.mark.parametrize("mode", ["frames", "joints"])
def test_branch_astm_block_and_liia_shapes(mode):
    args = dict(ASTM_ARGS, spatial_mode=mode)
    h = torch.randn(4, 12, 8)
    mask = torch.ones(4, 12, dtype=torch.bool)
    branch = ScanBranch(FramesLayout(16) if mode == "frames" else JointsLayout(4), 16, d_state=4, d_conv=4,
                        dt_rank="auto", expand=2)
    assert branch(torch.randn(4, 12, 16), mask).shape == (4, 12, 16)
    assert ASTM(8, 16, **args)(h, mask).shape == (4, 12, 16)
    assert ASTM(8, 16, cross=True, **args)(h, mask, torch.randn_like(h)).shape == (4, 12, 16)
    assert ASTMBlock(8, 16, **args)(h, mask).shape == h.shape
    assert ASTMBlock(8, 16, cross=True, **args)(h, mask, torch.randn_like(h)).shape == h.shape
    for conv in ("2d", "1d"):
        assert LIIA(8, 5, conv=conv, hidden=24)(h, swap_persons(h), torch.randn(4, 5), mask).shape == h.shape
        layer = InterMambaLayer(8, 16, liia_conv=conv, liia_hidden=24, cond_dim=5, dropout=0.0, **args)
        assert layer(h, torch.randn(4, 5), mask).shape == h.shape
    assert set(layer.fusion_weights()) == {"w_alpha", "w_beta", "alpha_c", "beta_c"}


def test_cross_astm_needs_the_interaction_features():
    with pytest.raises(ValueError, match="h_inter"):
        ASTM(8, 16, cross=True, **ASTM_ARGS)(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="h_inter"):
        ASTM(8, 16, **ASTM_ARGS)(torch.randn(2, 5, 8), None, torch.randn(2, 5, 8))


@pytest.mark.parametrize("frames", [1, 2, 9])
def test_time_conv_equals_a_centred_conv1d(frames):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(5, 3, 3, padding=1).double()
    ours = TimeConv(5, 3, 3).double()
    with torch.no_grad():
        ours.taps.weight.copy_(conv.weight.permute(2, 0, 1).reshape(9, 5))
        ours.bias.copy_(conv.bias)
    x = torch.randn(2, frames, 5, dtype=torch.float64)
    assert torch.allclose(ours(x), conv(x.transpose(1, 2)).transpose(1, 2), atol=1e-12)


def test_swap_persons():
    x = torch.arange(6.0).view(6, 1)
    assert swap_persons(x).flatten().tolist() == [3, 4, 5, 0, 1, 2]


# ------------------------------------------------------------------------------------------------ denoiser
def test_denoiser_shape_and_zero_initial_output():
    model = tiny()
    x, t, text, mask = inputs()
    out = model(x, t, text, mask)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.abs().max() == 0                      # zero-initialised output layer (InterGen)


MASK_VARIANTS = [[], ["model.bidirectional=true"], ["model.spatial_mode=joints"],
                 ["model.spatial_mode=joints", "model.bidirectional=true"]]


@pytest.mark.parametrize("overrides", MASK_VARIANTS, ids=lambda o: "+".join(o) or "frames")
def test_padding_frames_do_not_change_valid_outputs(overrides):
    model = randomise_output(tiny(*overrides))
    x, t, text, mask = inputs(frames=20)
    lengths = torch.tensor([20, 9])
    out = model(x, t, text, mask, lengths)
    garbage = x.clone()
    garbage[1, 9:] = 100 * torch.randn_like(garbage[1, 9:])          # different content in the padding
    out_garbage = model(garbage, t, text, mask, lengths)
    assert torch.allclose(out[:, :, :, :][1, :9], out_garbage[1, :9], atol=1e-10)
    assert torch.allclose(out[0], out_garbage[0], atol=1e-10)
    assert out_garbage[1, 9:].abs().max() == 0                         # padded outputs are exactly zero
    # A shorter batch of the same valid frames gives the same valid outputs.
    short = model(x[1:, :9], t[1:], text[1:], mask[1:])
    assert torch.allclose(out[1, :9], short[0], atol=1e-10)
    assert out[1, :9].abs().max() > 1e-3                               # a real signal was compared


@pytest.mark.parametrize("overrides", [[], ["model.spatial_mode=joints", "model.bidirectional=true"]])
def test_swapping_persons_swaps_the_output(overrides):
    model = randomise_output(tiny(*overrides))
    x, t, text, mask = inputs()
    lengths = torch.tensor([12, 7])
    out = model(x, t, text, mask, lengths)
    swapped = model(x.flip(2), t, text, mask, lengths)
    assert torch.allclose(swapped, out.flip(2), atol=1e-10)
    assert not torch.allclose(out[:, :, 0], out[:, :, 1])


def test_person_embedding_starts_as_the_papers_model_and_tells_the_slots_apart():
    """model.person_embedding (ours): zero at first, the function is the equivariant one exactly; once it has
    learned anything, swapping the persons no longer just swaps the output."""
    plain = randomise_output(tiny())
    torch.manual_seed(0)
    embedded = tiny("model.person_embedding=true")
    missing, unexpected = embedded.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["person_embed"] and not unexpected
    x, t, text, mask = inputs()
    torch.testing.assert_close(embedded(x, t, text, mask), plain(x, t, text, mask), atol=0, rtol=0)
    with torch.no_grad():
        embedded.person_embed.normal_()
    out, swapped = embedded(x, t, text, mask), embedded(x.flip(2), t, text, mask)
    assert not torch.allclose(swapped, out.flip(2), atol=1e-3)


def randomise_modulations(model, std=0.1):
    """AdaLN modulations are zero-initialised (scale = shift = 0); give them weights so the condition shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "modulation" in name:
                p.normal_(0, std)
    return model


def test_block_condition_starts_as_the_papers_blocks_and_modulates_them():
    """model.block_condition (ours): the paper's weights load (only the zero-init modulations are new) and give
    the paper's function exactly; modulated, the output changes and stays person-swap equivariant."""
    plain = randomise_output(tiny())
    modulated = tiny("model.block_condition=true")
    missing, unexpected = modulated.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["layers.0.cross_block.modulation.1.bias", "layers.0.cross_block.modulation.1.weight",
                               "layers.0.self_block.modulation.1.bias", "layers.0.self_block.modulation.1.weight"]
    assert not unexpected
    x, t, text, mask = inputs()
    torch.testing.assert_close(modulated(x, t, text, mask), plain(x, t, text, mask), atol=0, rtol=0)
    randomise_modulations(modulated)
    out = modulated(x, t, text, mask)
    assert (out - plain(x, t, text, mask)).abs().max() > 1e-2
    torch.testing.assert_close(modulated(x.flip(2), t, text, mask), out.flip(2), atol=1e-10, rtol=0)
    with pytest.raises(ConfigError, match="block_condition are for the InterMamba denoiser"):
        build_model(load_config("tiny", ["model.arch=intergen", "model.block_condition=true"]))


def test_frame_position_off_keeps_the_weights_and_drops_the_sinusoid():
    """model.frame_position=false (ours): the same weights load, the output changes (the sinusoid no longer enters),
    the denoiser stays person-swap equivariant, and InterGen's transformer refuses it (attention needs positions)."""
    plain = randomise_output(tiny())
    torch.manual_seed(0)
    bare = tiny("model.frame_position=false")
    bare.load_state_dict(plain.state_dict())                       # strict: no weight added or dropped
    x, t, text, mask = inputs()
    out = bare(x, t, text, mask)
    assert (out - plain(x, t, text, mask)).abs().max() > 1e-3
    torch.testing.assert_close(bare(x.flip(2), t, text, mask), out.flip(2), atol=1e-10, rtol=0)
    with pytest.raises(ConfigError, match="frame_position=false is for the InterMamba denoiser"):
        build_model(load_config("study_intergen", ["model.frame_position=false"]))


def test_v_prediction_returns_x0_hat_from_the_heads_v():
    """model.predict=v (ours): the head's output is v and the denoiser returns x0-hat = sqrt(ab_t) x_t -
    sqrt(1 - ab_t) v with ab_t the config's schedule; the same network as predict=x0, whose output is that v."""
    from intermamba.diffusion import GaussianDiffusion

    plain = randomise_output(tiny())
    torch.manual_seed(0)
    v_model = tiny("model.predict=v")
    v_model.load_state_dict(plain.state_dict())                  # the schedule is no weight: same keys
    x, t, text, mask = inputs()
    t = torch.tensor([0, 999])
    lengths = torch.tensor([12, 7])
    v = plain(x, t, text, mask, lengths)                           # the head's output
    ab = GaussianDiffusion.from_config(load_config("tiny").diffusion).alphas_cumprod[t].double()[:, None, None, None]
    expected = (ab.sqrt() * x - (1 - ab).sqrt() * v)
    expected[1, 7:] = 0                                            # padding exactly 0, as x0-hat's always is
    out = v_model(x, t, text, mask, lengths)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    assert (out[0] - x[0]).abs().max() < 0.05                      # t = 0: x_t all but passes through
    swapped = v_model(x.flip(2), t, text, mask, lengths)           # still person-swap equivariant
    torch.testing.assert_close(swapped, out.flip(2), atol=1e-10, rtol=0)


def test_v_prediction_needs_the_schedule_and_the_intermamba_denoiser():
    from intermamba.model.denoiser import InterMamba

    cfg = load_config("tiny", ["model.predict=v"])
    with pytest.raises(ConfigError, match="needs the whole config"):
        build_model(cfg.model)
    with pytest.raises(ValueError, match="alphas_cumprod"):
        InterMamba(cfg.model)
    with pytest.raises(ConfigError, match="InterGen's predicts x0"):
        build_model(load_config("study_intergen", ["model.predict=v"]))
    with pytest.raises(ConfigError, match="model.predict"):
        load_config("tiny", ["model.predict=eps"])


def test_drop_text_gives_the_null_condition():
    model = randomise_output(tiny())
    x, t, text, mask = inputs()
    other_text = torch.randn_like(text)
    drop = torch.tensor([True, False])
    out = model(x, t, text, mask, drop_text=drop)
    out_other = model(x, t, other_text, mask, drop_text=drop)
    assert torch.allclose(out[0], out_other[0], atol=1e-12)            # dropped: the text does not matter
    assert not torch.allclose(out[1], out_other[1])                    # kept: it does
    assert torch.allclose(model(x, t, text, mask, drop_text=torch.tensor([False, False])), model(x, t, text, mask))
    # Conditional and null rows in one batch equal separate calls (batched classifier-free guidance).
    both = model(x[:1].repeat(2, 1, 1, 1), t[:1].repeat(2), text[:1].repeat(2, 1, 1), mask[:1].repeat(2, 1),
                 drop_text=torch.tensor([False, True]))
    null = model(x[:1], t[:1], text[:1], mask[:1], drop_text=torch.tensor([True]))
    assert torch.allclose(both[1:], null, atol=1e-12)


def test_text_head_pools_the_last_valid_token():
    model = tiny()
    _, _, text, mask = inputs()
    pooled = model.text_head(text, mask)
    changed = text.clone()
    changed[0, 3:] = 5.0                                              # padding tokens of sample 0
    assert torch.allclose(model.text_head(changed, mask)[0], pooled[0], atol=1e-12)
    assert pooled.shape == (2, TEXT_DIM)


def test_bad_inputs_name_the_problem():
    model = tiny()
    x, t, text, mask = inputs()
    with pytest.raises(ValueError, match="x_t must have shape"):
        model(x[:, :, 0], t, text)
    with pytest.raises(ValueError, match="text_dim"):
        model(x, t, text[..., :10])
    with pytest.raises(ValueError, match="t must have shape"):
        model(x, t[:1], text)
    with pytest.raises(ValueError, match="max_frames"):
        model(torch.zeros(1, 65, 2, FEAT, dtype=torch.float64), t[:1], text[:1])
    with pytest.raises(ConfigError, match="num_joint_tokens"):
        build_model(load_config("tiny", ["model.spatial_mode=joints", "model.num_joint_tokens=5"]))


def test_joints_mode_handles_any_length():
    model = tiny("model.spatial_mode=joints", "model.bidirectional=true")
    x, t, text, mask = inputs(batch=1, frames=100)
    assert model(x, t, text[:1], mask[:1]).shape == x.shape           # beyond the tiny max_frames of 64


# ------------------------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("name, target", [("paper", 117e6), ("ultralight", 66e6)])
def test_paper_parameter_counts_match_table_3(name, target):
    """Table 3's 117M / 66M (+-2%), LIIA < 1M in all (Table 5: 117M with and without it), and one ASTM module
    holding the difference between the two (Sec. 5.1: two stacked modules vs one)."""
    with torch.device("meta"):
        model = build_model(load_config(name))
    assert abs(count_parameters(model) - target) / target < 0.02
    liia = sum(count_parameters(layer.liia) for layer in model.layers)
    assert liia < 1e6
    assert abs(count_parameters(model.layers[0]) - 51e6) / 51e6 < 0.05
    assert model.config.d_state == 16 and model.config.text_dim == 768        # Sec. 5.1: N = 16, CLIP-L tokens
    table = parameter_table(model, load_config(name))
    assert "layers.0.liia" in table and "text_head" in table and "total (trainable)" in table


def test_liia_is_eq_11_a_concat_of_both_persons_into_the_1x1_conv():
    """The paper's LIIA: AdaLN over concat(h_self, h_other) (two channels), conv 1x1, conv 3x3, residual.
    Checked by recomputing Eq. 11 by hand from the module's weights, and by the partner's influence."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    liia = LIIA(6, 4, channels=3).double().eval()
    for p in liia.parameters():
        p.data.normal_(0.0, 0.5)               # the zero-initialised AdaLN would hide the conditioning
    assert isinstance(liia.conv1, torch.nn.Conv2d) and liia.conv1.in_channels == 2 and liia.conv1.kernel_size == (1, 1)
    assert isinstance(liia.conv3, torch.nn.Conv2d) and liia.conv3.kernel_size == (3, 3)
    h_a, h_b = torch.randn(2, 5, 6, dtype=torch.float64), torch.randn(2, 5, 6, dtype=torch.float64)
    cond = torch.randn(2, 4, dtype=torch.float64)
    h_ab = torch.stack([h_a, h_b], dim=1)                                          # concat(h_a, h_b): (b, 2, T, D)
    scale, shift = liia.norm.modulation(cond).view(2, 2, 2).unbind(1)              # AdaLN per person channel
    h_ab = F.layer_norm(h_ab, (6,), eps=1e-6) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
    expected = h_a + liia.conv3(F.silu(liia.conv1(h_ab)))[:, 0]                    # conv3x3(conv1x1(.)) + residual
    torch.testing.assert_close(liia(h_a, h_b, cond), expected)
    # the partner reaches h_inter, only through the convs, and only locally in time (3x3 window)
    h_b2 = h_b.clone()
    h_b2[:, 4] += torch.randn(2, 6, dtype=torch.float64)     # (a constant shift would vanish in the norm)
    changed = (liia(h_a, h_b2, cond) - liia(h_a, h_b, cond)).abs().amax(dim=(0, 2))
    assert (changed[3:] > 1e-6).all() and (changed[:3] == 0).all()


@pytest.mark.parametrize("name", ["paper_no_temporal", "paper_fixed_fusion", "paper_self_only", "paper_no_liia"])
def test_ablation_configs_build(name):
    with torch.device("meta"):
        ablated = build_model(load_config(name))
        full = build_model(load_config("paper"))
    assert count_parameters(ablated) <= count_parameters(full)


@pytest.mark.parametrize("flag, absent", [
    ("model.use_temporal=false", {"w_alpha", "alpha_c"}),
    ("model.adaptive_fusion=false", set()),
    ("model.use_cross=false", {"alpha_c", "beta_c"}),
    ("model.use_liia=false", set()),
])
def test_each_ablation_flag_runs(flag, absent):
    model = randomise_output(tiny(flag))
    x, t, text, mask = inputs()
    out = model(x, t, text, mask, torch.tensor([12, 5]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    names = {key.split(".")[1] for key in model.fusion_weights()}
    assert names == {"w_alpha", "w_beta", "alpha_c", "beta_c"} - absent
    if flag == "model.adaptive_fusion=false":
        assert not any("w_alpha" in n or "w_beta" in n for n, _ in model.named_parameters())
        assert set(model.fusion_weights().values()) == {0.5}
    if flag == "model.use_liia=false":
        assert model.layers[0].liia is None


def test_a_few_optimiser_steps_lower_the_loss():
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).train()
    x, t, text, mask = inputs(batch=4, frames=16, dtype=torch.float32)
    x0 = x[..., :4] @ torch.randn(4, FEAT) / 2                 # a target the 32-wide tiny model can represent
    x = x0 + 0.5 * x                                           # the noisy input x_t
    lengths = torch.tensor([16, 12, 9, 16])
    valid = (torch.arange(16)[None] < lengths[:, None])[:, :, None, None]   # padded outputs are 0 by design
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = ((model(x, t, text, mask, lengths) - x0).pow(2) * valid).sum() / (valid.sum() * x.shape[-1] * 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(math.isfinite(v) for v in losses)
    weights = model.fusion_weights()
    assert any(abs(v - 0.5) > 1e-6 for v in weights.values())        # the fusion weights are learnt


def test_info_command_prints_parameters_by_module(capsys):
    from intermamba.cli import main

    assert main(["info", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "layers.0.self_block" in out and "layers.0.cross_block" in out and "total (trainable)" in out
    assert main(["info", "tiny", "model.spatial_mode=joints", "model.num_joint_tokens=5"]) == 2
    assert "num_joint_tokens" in capsys.readouterr().err


def test_pair_liia_is_shared_and_person_swap_symmetric():
    """liia_mode=pair: one h_inter per pair (the same for both persons), and the model stays swap-symmetric."""
    import intermamba

    cfg = intermamba.load_config("tiny", ["model.liia_mode=pair", "model.dropout=0.0"])
    model = intermamba.build_model(cfg).double().eval()
    torch.manual_seed(0)
    for p in model.parameters():          # leave the zero init: a zero output would make the swap test vacuous
        p.data.normal_(0.0, 0.2)
    layer = model.layers[0]
    assert layer.liia.pair
    h = torch.randn(2, 2, 10, cfg.model.latent_dim, dtype=torch.float64)             # (persons, B, T, D)
    cond = torch.randn(2, cfg.model.latent_dim, dtype=torch.float64)
    inter_ab = layer.liia(h[0], h[1], cond)
    inter_ba = layer.liia(h[1], h[0], cond)
    torch.testing.assert_close(inter_ab, inter_ba)                                   # swap-invariant
    x = torch.randn(2, 12, 2, 262, dtype=torch.float64)
    t = torch.tensor([5, 700])
    text = torch.randn(2, 4, cfg.model.text_dim, dtype=torch.float64)
    out = model(x, t, text)
    swapped = model(x.flip(2), t, text)
    assert out.abs().mean() > 1e-3
    torch.testing.assert_close(swapped, out.flip(2))
    # Same parameters as the person-centric LIIA: only the computation changes.
    person = intermamba.build_model(intermamba.load_config("tiny", ["model.liia_mode=person"]))
    assert sum(p.numel() for p in person.parameters()) == sum(p.numel() for p in model.parameters())


def test_readme_design_choices_match_the_paper_config():
    """The README's table of choices where the paper is silent names config values: they must be the paper's."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("**Choices where the paper is silent**"):]
    table = table[:table.index("\n\n", table.index("| choice |"))]
    named = re.findall(r"`((?:model|train|text|diffusion)\.[a-z_]+)=([^`]+)`", table)
    assert len(named) >= 15
    cfg = load_config("paper")
    for key, text in named:
        section, field = key.split(".")
        value = getattr(getattr(cfg, section), field)
        assert str(value).lower() == text.lower(), f"README says {key}={text}, the paper config has {value}"


def test_a_v_prediction_model_folder_round_trips(tmp_path):
    """save_pretrained / load_pretrained keep model.predict: the loaded denoiser gives the same x0-hat."""
    from intermamba.checkpoint import load_pretrained, save_pretrained
    from intermamba.motion import Normalizer
    from intermamba.skeleton import FEATURE_DIM

    cfg = load_config("tiny", ["model.predict=v"])
    torch.manual_seed(0)
    model = randomise_output(build_model(cfg).eval())
    folder = save_pretrained(tmp_path / "m", model, cfg, Normalizer(torch.zeros(FEATURE_DIM), torch.ones(FEATURE_DIM)))
    loaded, loaded_cfg, _ = load_pretrained(folder)
    assert loaded_cfg.model.predict == "v"
    x, t, text, mask = inputs(dtype=torch.float32)
    torch.testing.assert_close(loaded(x, t, text, mask), model(x, t, text, mask))
