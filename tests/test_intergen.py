"""The InterGen baseline: called like InterMamba, InterGen's parameter count, symmetry and masking."""

import pytest
import torch

import intermamba
from intermamba.config import ConfigError, load_config
from intermamba.model import build_model, count_parameters
from intermamba.model.intergen import InterGen

TINY = ["model.latent_dim=32", "model.num_layers=2", "model.num_heads=4", "model.ff_size=64", "model.text_dim=16",
        "model.text_heads=2", "model.text_ff=32", "model.dropout=0.0"]
FEAT = 262


def tiny_model(seed=0):
    torch.manual_seed(seed)
    model = build_model(load_config("intergen", TINY)).eval()
    with torch.no_grad():  # leave the zero-initialised layers: a zero output would make every check vacuous
        for p in model.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1)
    return model


def inputs(batch=2, frames=9, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return dict(x_t=torch.randn(batch, frames, 2, FEAT, generator=gen), t=torch.randint(0, 1000, (batch,), generator=gen),
                text_features=torch.randn(batch, 5, 16, generator=gen),
                text_mask=torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:batch])


def test_builds_from_config_and_keeps_the_call_signature():
    model = tiny_model()
    assert isinstance(model, InterGen)
    x = inputs()
    out = model(**x)
    assert out.shape == x["x_t"].shape and torch.isfinite(out).all()
    assert model.fusion_weights() == {}


def test_untrained_output_is_zero():
    torch.manual_seed(0)
    model = build_model(load_config("intergen", TINY))
    assert model(**inputs()).abs().max() == 0


def test_parameter_count_matches_intergen():
    """InterGen: 171,352,326 in the denoiser + 11,029,504 in the text head = 182,381,830 trainable."""
    with torch.device("meta"):
        model = intermamba.build_model("intergen")
    assert count_parameters(model) == 182_381_830
    assert count_parameters(model.text_head) == 11_029_504


def test_swapping_persons_swaps_the_output():
    model = tiny_model()
    x = inputs()
    out = model(**x)
    swapped = dict(x, x_t=x["x_t"].flip(2))
    torch.testing.assert_close(model(**swapped), out.flip(2), atol=1e-5, rtol=1e-5)


def test_padding_frames_do_not_change_valid_frames():
    model = tiny_model()
    x = inputs(frames=12)
    lengths = torch.tensor([7, 12])
    out = model(**x, lengths=lengths)
    noisy = x["x_t"].clone()
    noisy[0, 7:] = torch.randn_like(noisy[0, 7:]) * 10                  # change only sample 0's padding
    out2 = model(**dict(x, x_t=noisy), lengths=lengths)
    torch.testing.assert_close(out2[0, :7], out[0, :7], atol=1e-5, rtol=1e-5)
    assert out2[0, 7:].abs().max() == 0                                 # padded frames are exactly zero
    torch.testing.assert_close(out2[1], out[1])
    # a sample padded to a longer batch gives what it gives alone
    alone = model(**dict({k: v[:1] for k, v in x.items()}, x_t=x["x_t"][:1, :7]))
    torch.testing.assert_close(out[0, :7], alone[0], atol=1e-5, rtol=1e-5)


def test_drop_text_is_the_null_condition():
    model = tiny_model()
    x = inputs()
    dropped = model(**x, drop_text=torch.tensor([True, False]))
    other_text = dict(x, text_features=torch.randn_like(x["text_features"]))
    dropped_other = model(**other_text, drop_text=torch.tensor([True, False]))
    torch.testing.assert_close(dropped[0], dropped_other[0])             # text ignored where dropped
    torch.testing.assert_close(dropped[1], model(**x)[1])


def test_heads_must_divide_width():
    with pytest.raises(ConfigError, match="num_heads"):
        build_model(load_config("intergen", TINY + ["model.num_heads=5"]))
