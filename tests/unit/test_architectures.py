"""Recurrent LMs, the encoder-only masked LM and the encoder-decoder, at toy size."""

from __future__ import annotations

import pytest
import torch

from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.recurrent import (
    RecurrentConfig,
    RecurrentLM,
    hidden_for_params,
    recurrent_params,
)
from citegraph.models.scratch.seq2seq import (
    BOS,
    EOS,
    PAD,
    Attention,
    EncoderDecoder,
    MaskedLM,
    TransformerConfig,
    char_vocab,
    collate,
    cross_attention,
    exact_match,
    mask_tokens,
    reverse_line_pairs,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXT = "to be or not to be\nthat is the question\n" * 8
CHARS = sorted(set(TEXT))
STOI = {c: i for i, c in enumerate(CHARS)}


def _ids() -> torch.Tensor:
    """The toy text as a 1-D id tensor."""
    return torch.tensor([STOI[c] for c in TEXT])


def _windows(block: int, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (input, next-char target) windows of the toy text."""
    ids = _ids()
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - block - 1, (batch,), generator=g)
    x = torch.stack([ids[s : s + block] for s in starts])
    y = torch.stack([ids[s + 1 : s + block + 1] for s in starts])
    return x, y


def _train(model: torch.nn.Module, batch_fn, steps: int, lr: float = 1e-2) -> tuple[float, float]:
    """Loss of the first batch before and after ``steps`` AdamW steps on ``batch_fn`` batches."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    first = batch_fn(0)
    with torch.no_grad():
        before = model(*first)[1].item()
    for step in range(steps):
        loss = model(*batch_fn(step))[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = model(*first)[1].item()
    return before, after


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_forward_shape_loss_and_param_formula(kind: str) -> None:
    torch.manual_seed(0)
    cfg = RecurrentConfig(vocab_size=len(CHARS), kind=kind, n_embd=8, n_hidden=12, n_layer=2)
    model = RecurrentLM(cfg)
    x, y = _windows(block=10, batch=3, seed=0)
    logits, loss = model(x, y)
    assert logits.shape == (3, 10, len(CHARS))
    # An untrained model is close to uniform over the vocabulary.
    assert abs(loss.item() - torch.log(torch.tensor(float(len(CHARS)))).item()) < 0.5
    assert model.num_params() == recurrent_params(kind, len(CHARS), 8, 12, 2)
    assert model(x)[1] is None


def test_recurrent_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        RecurrentConfig(kind="transformer")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hidden_for_params_matches_a_gpt_within_10_percent(kind: str) -> None:
    gpt = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=32))
    target = gpt.num_params()
    hidden = hidden_for_params(kind, target, vocab_size=65, n_embd=16)
    model = RecurrentLM(RecurrentConfig(vocab_size=65, kind=kind, n_embd=16, n_hidden=hidden))
    assert abs(model.num_params() - target) / target < 0.10
    # A wider LSTM has more parameters than a tanh RNN of the same width, so it gets a narrower one.
    if kind == "lstm":
        assert hidden < hidden_for_params("rnn", target, vocab_size=65, n_embd=16)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_training_lowers_loss(kind: str) -> None:
    torch.manual_seed(0)
    model = RecurrentLM(RecurrentConfig(vocab_size=len(CHARS), kind=kind, n_embd=16, n_hidden=32))
    before, after = _train(model, lambda s: _windows(16, 8, s), steps=30)
    assert after < before - 0.5


def test_mask_tokens_follows_the_bert_recipe() -> None:
    ids = torch.randint(10, (64, 64), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_tokens(ids, mask_id=10, n_chars=10, generator=torch.Generator().manual_seed(1))
    chosen = targets != -1
    assert torch.equal(targets[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])  # unchosen positions are never corrupted
    assert 0.12 < chosen.float().mean().item() < 0.18
    masked = (inputs[chosen] == 10).float().mean().item()
    assert 0.7 < masked < 0.9
    assert chosen.any(dim=1).all()


def test_masked_lm_forward_and_training() -> None:
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=len(CHARS) + 1, block_size=16, n_layer=2, n_head=2, n_embd=32)
    model = MaskedLM(cfg)
    x, _ = _windows(16, 4, 0)
    logits, loss = model(x)
    assert logits.shape == (4, 16, len(CHARS) + 1) and loss is None

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked windows; the corruption is seeded by the step so the first batch is reproducible."""
        x, _ = _windows(16, 16, step)
        return mask_tokens(x, model.mask_id, len(CHARS), torch.Generator().manual_seed(step))

    before, after = _train(model, batch, steps=150, lr=3e-3)
    assert after < before - 0.5


def test_masked_lm_sees_the_future() -> None:
    # Bidirectional: changing the last character changes the logits at the first position.
    torch.manual_seed(0)
    model = MaskedLM(
        TransformerConfig(vocab_size=len(CHARS) + 1, block_size=8, n_layer=1, n_head=2, n_embd=16)
    )
    x = _windows(8, 1, 0)[0]
    y = x.clone()
    y[0, -1] = (y[0, -1] + 1) % len(CHARS)
    assert not torch.allclose(model(x)[0][0, 0], model(y)[0][0, 0])


def test_reverse_pairs_and_collate() -> None:
    pairs = reverse_line_pairs("ab c\n\n  xyz \n" + "q" * 40, max_len=32)
    assert pairs == [("ab c", "c ba"), ("xyz", "zyx")]
    stoi = char_vocab("abc xyz")
    src, tgt_in, tgt_out = collate(pairs, stoi)
    assert src.shape == (2, 4) and tgt_in.shape == (2, 5) and tgt_out.shape == (2, 5)
    assert tgt_in[1].tolist() == [BOS, stoi["z"], stoi["y"], stoi["x"], PAD]
    assert tgt_out[1].tolist() == [stoi["z"], stoi["y"], stoi["x"], EOS, PAD]
    assert src[1, -1].item() == PAD


def _toy_seq2seq() -> tuple[EncoderDecoder, dict[str, int], list[tuple[str, str]]]:
    """A small encoder-decoder and the reverse_line pairs of short random words."""
    g = torch.Generator().manual_seed(0)
    letters = "abcde"
    words = [
        "".join(letters[i] for i in torch.randint(5, (int(n),), generator=g))
        for n in torch.randint(2, 6, (64,), generator=g)
    ]
    pairs = reverse_line_pairs("\n".join(words))
    stoi = char_vocab(letters)
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=len(stoi) + 3, block_size=16, n_layer=1, n_head=2, n_embd=32)
    return EncoderDecoder(cfg), stoi, pairs


def test_encoder_decoder_shapes_training_and_decoding() -> None:
    model, stoi, pairs = _toy_seq2seq()
    src, tgt_in, tgt_out = collate(pairs[:4], stoi)
    logits, loss = model(src, tgt_in, tgt_out)
    assert logits.shape == (*tgt_in.shape, len(stoi) + 3)
    assert loss.item() > 1.5  # untrained

    def batch(step: int) -> tuple[torch.Tensor, ...]:
        """A fixed rotation through the pairs."""
        start = (step * 16) % len(pairs)
        return collate((pairs * 2)[start : start + 16], stoi)

    before, after = _train(model, batch, steps=150, lr=3e-3)
    assert after < before / 3
    assert exact_match(model, pairs, stoi) > 0.5


def test_padding_does_not_change_the_encoding() -> None:
    model, stoi, _ = _toy_seq2seq()
    model.eval()
    short, _, _ = collate([("abc", "cba")], stoi)
    padded, _, _ = collate([("abc", "cba"), ("abcde", "edcba")], stoi)
    memory_short, _ = model.encode(short)
    memory_padded, _ = model.encode(padded)
    assert torch.allclose(memory_short[0], memory_padded[0, :3], atol=1e-5)


def test_cross_attention_rows_sum_to_one() -> None:
    model, stoi, _ = _toy_seq2seq()
    weights, output = cross_attention(model, "abcde", stoi)
    assert weights.shape[1] == 5
    assert weights.shape[0] == len(output) + 1
    assert torch.allclose(weights.sum(dim=-1), torch.ones(weights.shape[0]), atol=1e-5)
    assert (weights >= 0).all()
    # The hook is switched off again, so ordinary calls keep no weights.
    assert model.decoder[-1].cross_attn.attention is None


def test_attention_masks_padding_and_the_future() -> None:
    torch.manual_seed(0)
    attn = Attention(n_embd=8, n_head=2)
    attn.keep_attention = True
    x, context = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    padding = torch.tensor([[False, False, False, True, True], [False] * 5])
    attn(x, context, key_padding=padding)
    assert attn.attention.shape == (2, 2, 3, 5)
    assert (attn.attention[0, :, :, 3:] == 0).all() and (attn.attention[1, :, :, 3:] > 0).all()
    attn(x, causal=True)
    assert torch.equal(attn.attention[0, 0].triu(diagonal=1), torch.zeros(3, 3))
