"""The CPU fast paths of the model compute the same function as the plain formulation: the per-pair h_inter
projected once for both persons, the channel-first x_proj of the SSM, the frames layout without padding."""

import torch
import torch.nn.functional as F

from intermamba.model.astm import ASTM
from intermamba.model.ssm import SelectiveSSM

ARGS = dict(spatial_mode="frames", max_frames=10, num_joint_tokens=4, d_state=4, d_conv=4, dt_rank="auto", expand=2)


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def test_shared_pair_inter_equals_inter_repeated_per_person():
    torch.manual_seed(0)
    astm = _randomise(ASTM(16, 32, cross=True, **ARGS)).double()
    g = torch.Generator().manual_seed(1)
    h = torch.randn(4, 10, 16, generator=g, dtype=torch.float64)           # rows [a; b], 2 pairs
    inter = torch.randn(2, 10, 16, generator=g, dtype=torch.float64)       # one h_inter per pair
    mask = torch.arange(10)[None] < torch.tensor([10, 6, 10, 6])[:, None]
    shared = astm(h, mask, inter)
    per_person = astm(h, mask, torch.cat([inter, inter]))
    torch.testing.assert_close(shared, per_person, rtol=0, atol=1e-12)


def _ssm_plain(ssm, u, source):
    """The SSM written the direct way: x_proj on the channel-last source (Eq. 6), scan on the channel-first u."""
    b, _, length = u.shape
    n = ssm.d_state
    dbc = ssm.x_proj(source.transpose(1, 2))
    dt, B, C = dbc.split([ssm.dt_rank, n, n], dim=-1)
    delta = ssm.dt_norm(ssm.dt_proj(dt)) + ssm.dt_bias                      # (b, L, C)
    delta = F.softplus(delta).transpose(1, 2)                               # (b, C, L)
    A = -torch.exp(ssm.A_log)                                               # (C, N)
    h = u.new_zeros(b, u.shape[1], n)
    ys = []
    for t in range(length):
        h = torch.exp(delta[:, :, t, None] * A) * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, t]
        ys.append((h * C[:, None, t]).sum(-1) + ssm.D * u[:, :, t])
    return torch.stack(ys, dim=-1)


def test_channel_first_x_proj_matches_the_direct_formulation():
    torch.manual_seed(0)
    ssm = _randomise(SelectiveSSM(12, d_state=4, dt_rank=3)).double()
    g = torch.Generator().manual_seed(2)
    u = torch.randn(3, 12, 9, generator=g, dtype=torch.float64)
    source = torch.randn(3, 12, 9, generator=g, dtype=torch.float64)
    torch.testing.assert_close(ssm(u, source), _ssm_plain(ssm, u, source), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ssm(u), _ssm_plain(ssm, u, u), rtol=1e-9, atol=1e-9)


def test_frames_layout_full_window_without_mask_equals_an_all_true_mask():
    torch.manual_seed(0)
    astm = _randomise(ASTM(16, 32, **ARGS)).double()
    h = torch.randn(2, 10, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(astm(h), astm(h, torch.ones(2, 10, dtype=torch.bool)), rtol=0, atol=1e-12)


def test_torch_compile_traces_the_whole_denoiser_through_the_scan():
    """fullgraph=True fails on any graph break: the compiled CPU scan is a torch custom op with a fake
    implementation, and the backend choice is a plain global, so dynamo traces the denoiser in one graph.
    Outputs and every parameter's gradient agree with eager."""
    from intermamba import build_model, load_config
    from intermamba.ops import native_available, resolve_backend

    cfg = load_config("tiny")
    torch.manual_seed(0)
    model = _randomise(build_model(cfg))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 12, 2, cfg.model.input_dim, generator=g)
    t = torch.tensor([10, 500])
    text = torch.randn(2, 5, cfg.model.text_dim, generator=g)

    def run(net):
        model.zero_grad()
        out = net(x, t, text)
        out.square().mean().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    out_eager, grads_eager = run(model)
    out_comp, grads_comp = run(torch.compile(model, fullgraph=True))
    assert resolve_backend(x) == ("native" if native_available() else "fused")
    torch.testing.assert_close(out_comp, out_eager, atol=1e-5, rtol=1e-4)
    for got, want in zip(grads_comp, grads_eager):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-3)
