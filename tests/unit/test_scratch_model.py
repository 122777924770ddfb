"""The scratch transformer: shapes, causality, KV cache equivalence, parameter parity, optimizer groups."""

from __future__ import annotations

import itertools

import pytest
import torch

from citegraph.models.scratch.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**overrides) -> GPTConfig:
    base = dict(vocab_size=37, block_size=16, n_layer=2, n_head=4, n_embd=32)
    return GPTConfig(**{**base, **overrides})


def make(cfg: GPTConfig) -> GPT:
    torch.manual_seed(0)
    return GPT(cfg).eval()


VARIANTS = list(
    itertools.product(["rope", "learned", "sinusoidal"], ["rmsnorm", "layernorm"], ["swiglu", "gelu"])
)


@pytest.mark.parametrize(("pos", "norm", "mlp"), VARIANTS)
def test_forward_shapes_and_loss(pos: str, norm: str, mlp: str) -> None:
    model = make(tiny(pos=pos, norm=norm, mlp=mlp))
    idx, targets = torch.randint(0, 37, (3, 16)), torch.randint(0, 37, (3, 16))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 37)
    # A fresh model predicts roughly uniformly: loss near ln(vocab) for unrelated targets.
    assert abs(loss.item() - torch.log(torch.tensor(37.0)).item()) < 0.2
    last, no_loss = model(idx)
    assert last.shape == (3, 1, 37) and no_loss is None
    torch.testing.assert_close(last[:, 0], logits[:, -1])


@pytest.mark.parametrize("pos", ["rope", "learned", "sinusoidal"])
def test_causal_future_tokens_do_not_change_the_past(pos: str) -> None:
    model = make(tiny(pos=pos))
    a = torch.randint(0, 37, (1, 12))
    b = a.clone()
    b[0, 8:] = (b[0, 8:] + 1) % 37
    la, _ = model(a, a)
    lb, _ = model(b, b)
    torch.testing.assert_close(la[0, :8], lb[0, :8])
    assert not torch.allclose(la[0, 8:], lb[0, 8:])


@pytest.mark.parametrize(
    ("pos", "n_kv_head"), [("rope", 4), ("rope", 2), ("rope", 1), ("learned", 2), ("sinusoidal", 4)]
)
def test_kv_cache_matches_full_forward(pos: str, n_kv_head: int) -> None:
    model = make(tiny(pos=pos, n_kv_head=n_kv_head))
    idx = torch.randint(0, 37, (2, 14))
    full, _ = model(idx, idx)
    cache = model.new_cache(2)
    # Prefill 5 tokens, then 3 at once (needs the offset causal mask), then one at a time.
    steps = [(0, 5), (5, 8), *[(i, i + 1) for i in range(8, 14)]]
    pieces = []
    for a, b in steps:
        logits, _ = model(idx[:, a:b], idx[:, a:b], cache=cache)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 14


def test_cache_overflow_and_long_input_are_refused() -> None:
    model = make(tiny())
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    cache = model.new_cache(1)
    model(torch.zeros(1, 16, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_swiglu_matches_gelu_parameter_count() -> None:
    cfg = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    swiglu, gelu = GPT(GPTConfig(**cfg, mlp="swiglu")), GPT(GPTConfig(**cfg, mlp="gelu"))
    assert GPTConfig(**cfg).mlp_hidden == 341
    assert abs(swiglu.num_params() - gelu.num_params()) / gelu.num_params() < 0.002
    # RMSNorm and LayerNorm without bias have the same parameters; learned positions add block*width.
    assert GPT(GPTConfig(**cfg, norm="layernorm")).num_params() == swiglu.num_params()
    assert GPT(GPTConfig(**cfg, pos="learned")).num_params() == swiglu.num_params() + 64 * 128


def test_weight_tying_and_optimizer_groups() -> None:
    model = make(tiny(bias=True, norm="layernorm"))
    assert model.lm_head.weight is model.tok_emb.weight
    decay, no_decay = model.optimizer_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    grouped = {id(p) for p in decay["params"] + no_decay["params"]}
    assert grouped == {id(p) for p in model.parameters()}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize(
    "bad",
    [
        dict(n_embd=30),
        dict(n_kv_head=3),
        dict(pos="alibi"),
        dict(norm="batchnorm"),
        dict(mlp="relu"),
        dict(n_embd=36, n_head=4),
    ],
)
def test_bad_configs_fail_clearly(bad: dict) -> None:
    with pytest.raises(ValueError):
        tiny(**bad)


def test_config_round_trips_through_a_dict() -> None:
    cfg = tiny(n_kv_head=2, pos="learned")
    assert GPTConfig.from_dict({**cfg.to_dict(), "unknown_future_field": 1}) == cfg


def test_rmsnorm_hand_written_backward_matches_the_library_op() -> None:
    """Training takes the closed-form backward; its outputs and gradients are F.rms_norm's."""
    from citegraph.models.scratch.model import RMSNorm

    torch.manual_seed(0)
    norm = RMSNorm(16, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(16))
    x = torch.randn(3, 5, 16, requires_grad=True)
    upstream = torch.randn(3, 5, 16)
    ours = norm(x)
    ours_grads = torch.autograd.grad(ours, [x, norm.weight], upstream)
    ref = torch.nn.functional.rms_norm(x, (16,), norm.weight, 1e-5)
    ref_grads = torch.autograd.grad(ref, [x, norm.weight], upstream)
    assert ours.grad_fn is not None and "RMSNormFunction" in type(ours.grad_fn).__name__
    assert torch.allclose(ours, ref, atol=1e-6)
    for mine, theirs in zip(ours_grads, ref_grads, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-5)
    with torch.no_grad():  # inference keeps the library op
        assert torch.allclose(norm(x), ref, atol=1e-6)


def test_a_state_dict_saved_before_the_speed_work_still_loads() -> None:
    """Parameter names are unchanged (no fused q/k/v or gate/up renames): an older state dict loads as is."""
    cfg = tiny()
    old = make(cfg).state_dict()
    expected = {
        "tok_emb.weight",
        "blocks.0.attn.qkv.weight",
        "blocks.0.mlp.gate.weight",
        "blocks.0.mlp.up.weight",
    }
    assert expected <= set(old)
    model = GPT(cfg).eval()
    model.load_state_dict(old)
    idx = torch.randint(0, 37, (2, 10), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(model(idx, idx)[0], make(cfg)(idx, idx)[0])
