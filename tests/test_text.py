import json

import pytest
import torch

from intermamba.config import TextConfig
from intermamba.text import (CLIPEncoder, MiniLMEncoder, TextEncoderError, build_text_encoder, check_text_width)


@pytest.fixture(scope="module")
def minilm():
    return build_text_encoder(TextConfig(encoder="minilm"))


def test_minilm_token_features_and_mask(minilm):
    feats, mask = minilm.encode(["two people shake hands", "a hug"])
    assert minilm.dim == 384 and feats.shape[-1] == 384 and feats.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == feats.shape[:2]
    assert mask[0].sum() > mask[1].sum() and mask[:, 0].all()
    assert (feats[1, mask[1].sum():] == 0).all()  # zero beyond the caption
    assert all(not p.requires_grad for p in minilm.model.parameters()) and not minilm.model.training


def test_minilm_is_deterministic_cached_and_batch_independent(minilm):
    minilm.clear_cache()
    a, ma = minilm.encode(["one person pushes the other"])
    assert "one person pushes the other" in minilm._cache
    b, mb = minilm.encode(["a much longer caption about two people dancing together slowly", "one person pushes the other"])
    n = ma[0].sum()
    torch.testing.assert_close(b[1, :n], a[0, :n], rtol=1e-4, atol=1e-5)
    assert not mb[1, n:].any()
    # captions with different meanings give different features
    c, _ = minilm.encode(["they hug"])
    assert not torch.allclose(c[0, 1], a[0, 1])


CAPTIONS = ["one person pushes the other", "a much longer caption about two people dancing together slowly",
            "they hug", "two people shake hands and then walk away together"]


def test_features_are_bit_identical_whatever_the_batch_and_the_cache(minilm):
    # A restarted training run meets its captions in other batches and with an empty cache; the features must
    # not change in the last bit (padding a caption to its batch's longest one used to change them by ~1e-6).
    alone = {}
    for text in CAPTIONS:
        fresh = MiniLMEncoder(cache=False)
        features, mask = fresh.encode([text])
        alone[text] = features[0, :int(mask[0].sum())]
    uncached = MiniLMEncoder(cache=False)
    for batch in (CAPTIONS, CAPTIONS[::-1], CAPTIONS[1:3] + CAPTIONS[:1]):
        for encoder in (uncached, minilm):           # an empty cache and a warm one
            features, mask = encoder.encode(batch)
            for i, text in enumerate(batch):
                assert torch.equal(features[i, :int(mask[i].sum())], alone[text]), text
                assert not features[i, int(mask[i].sum()):].any()


def test_minilm_truncates_to_max_tokens():
    enc = MiniLMEncoder(max_tokens=8, cache=False)
    feats, mask = enc.encode(["word " * 50])
    assert feats.shape[1] == 8 and mask.all() and not enc._cache


def test_bad_inputs(minilm):
    with pytest.raises(ValueError, match="at least one"):
        minilm.encode([])
    with pytest.raises(TypeError, match="strings"):
        minilm.encode([3])


def test_text_width_check(minilm):
    check_text_width(384, minilm)
    with pytest.raises(TextEncoderError, match="model.text_dim=384"):
        check_text_width(768, minilm)


def test_clip_needs_local_weights(tmp_path):
    with pytest.raises(TextEncoderError, match="clip_weights"):
        build_text_encoder(TextConfig(encoder="clip"))
    with pytest.raises(TextEncoderError, match="not found"):
        build_text_encoder(TextConfig(encoder="clip", clip_weights=str(tmp_path / "nope")))
    with pytest.raises(TextEncoderError, match="config.json"):
        build_text_encoder(TextConfig(encoder="clip", clip_weights=str(tmp_path)))


def _bytes_to_unicode():
    """CLIP's byte -> printable character table (GPT-2 BPE convention)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def test_clip_from_a_local_transformers_folder(tmp_path):
    """A tiny random CLIP text tower saved in Hugging Face layout stands in for ViT-L/14's."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")).save_pretrained(tmp_path)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77,
                         bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"])
    CLIPTextModel(cfg).save_pretrained(tmp_path)

    enc = CLIPEncoder(str(tmp_path))
    assert enc.dim == 32
    feats, mask = enc.encode(["hi", "hello there"])
    assert feats.shape == (2, mask.sum(1).max(), 32)
    assert mask[0].sum() == 4 and mask[1].sum() == 12  # start + letters (spaces split words) + end-of-text
