"""Decoding-strategy metrics and the comparison runner, on tiny random scratch models."""

from __future__ import annotations

import math

import pytest
import torch

from citegraph.eval.decoding import (
    HUMAN,
    STRATEGIES,
    DecodingConfig,
    compare_decoding,
    continuation_nll,
    distinct_n,
    ngrams,
    perplexity,
    prompts_from_text,
    repetition_rate,
    text_words,
)
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.tokenizer import CharTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALPHABET = "abcdefghij :\n"
PLAY = "".join(
    f"\n\nSPEAKER {c.upper()}:\n{c * 5} said {c} to {c}, and then some more words.\n" for c in "abcdefgh"
)


def tiny_model(scale: float = 1.0) -> GPT:
    """A random 2-layer model over ALPHABET; ``scale`` sharpens its (otherwise near-uniform) predictions."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(ALPHABET), block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(scale)  # tied with the head: bigger embeddings, more peaked logits
    return model


def test_ngram_metrics_on_known_text() -> None:
    words = text_words("The cat, the CAT's hat!")
    assert words == ["the", "cat", "the", "cat's", "hat"]
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert distinct_n([["a", "b", "a"], ["a"]], 1) == pytest.approx(2 / 4)
    assert distinct_n([[]], 2) == 0.0
    assert repetition_rate("x y z x y z x y z".split(), 3) == pytest.approx(1 - 3 / 7)
    assert repetition_rate("one two three four".split(), 3) == 0.0


def test_continuation_nll_matches_one_full_forward_pass() -> None:
    model = tiny_model(5.0)
    ids = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    prompt, cont = ids[:3], ids[3:]
    x = torch.tensor(ids[:-1])[None]
    with torch.no_grad():
        logits, _ = model(x, targets=torch.full_like(x, -1))
    logp = logits[0].log_softmax(-1)
    expected = -sum(float(logp[i - 1, ids[i]]) for i in range(3, len(ids)))
    assert continuation_nll(model, prompt, cont) == pytest.approx(expected, rel=1e-5)


def test_uniform_model_has_vocabulary_sized_perplexity_beyond_one_block() -> None:
    model = tiny_model(0.0)  # zero embeddings and head: every next token has probability 1/vocab
    long = [i % len(ALPHABET) for i in range(50)]  # more than three 16-token blocks
    assert perplexity(model, [([0], long), ([1, 2], long[:5])]) == pytest.approx(len(ALPHABET), rel=1e-4)


def test_prompts_are_speaker_lines_followed_by_their_text() -> None:
    pairs = prompts_from_text(PLAY, 3, 20)
    assert len(pairs) == 3
    for prompt, continuation in pairs:
        assert prompt.startswith("SPEAKER ") and prompt.endswith(":\n")
        assert len(continuation) == 20 and (prompt + continuation) in PLAY
    with pytest.raises(ValueError):
        prompts_from_text(PLAY, 50, 20)


def test_compare_decoding_rows_and_what_they_show() -> None:
    model = tiny_model(6.0)
    tokenizer = CharTokenizer(ALPHABET)
    chosen = {k: STRATEGIES[k] for k in ("greedy", "temperature_1.0", "top_k_10", "greedy_rep_1.3")}
    prompts = [("a b:\n", "abc abc abc abc abc"), ("c d:\n", "ddd eee fff ggg hhh")]
    config = DecodingConfig(chosen, max_new_tokens=24, samples_per_prompt=2, seed=1)
    result = compare_decoding(model, tokenizer, prompts, config, reference=tiny_model(3.0))
    rows = result["strategies"]
    assert list(rows) == [HUMAN, *chosen]
    for row in rows.values():
        assert set(row["metrics"]) >= {"distinct_1", "distinct_2", "repetition", "self_ppl", "ref_ppl"}
        assert len(row["samples"]) == 2
    assert rows["human"]["samples"][0] == "abc abc abc abc abc"
    assert rows["greedy"]["metrics"]["unique_samples"] == 0.5  # one text per prompt, whatever the seed
    assert rows["temperature_1.0"]["metrics"]["unique_samples"] == 1.0
    # Greedy writes the model's likeliest text: lower perplexity, under its own model, than sampling.
    assert rows["greedy"]["metrics"]["self_ppl"] < rows["temperature_1.0"]["metrics"]["self_ppl"]
    assert all(len(tokenizer.encode(s)) == 24 for s in rows["top_k_10"]["samples"])
    # Same config, same seeds: the same samples.
    again = compare_decoding(model, tokenizer, prompts, config)
    assert again["strategies"]["temperature_1.0"]["samples"] == rows["temperature_1.0"]["samples"]
    assert math.isfinite(rows["greedy_rep_1.3"]["metrics"]["self_ppl"])
