"""Attention maps: the scratch GPT's explicit path matches SDPA, weights are causal rows that sum to one,
MiniLM's come from transformers, and the CLI draws a PNG from a run directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from citegraph.cli import app
from citegraph.eval.attention import (
    AttentionMaps,
    minilm_attention,
    save_attention_png,
    scratch_attention,
    scratch_attention_from_run,
)
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.tokenizer import CharTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_gpt(**overrides: object) -> GPT:
    """A random 2-layer GPT with grouped-query attention (4 query heads over 2 k/v heads)."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=24, block_size=16, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)
    for name, value in overrides.items():
        setattr(config, name, value)
    return GPT(GPTConfig.from_dict(config.to_dict())).eval()


def keep(model: GPT, on: bool) -> None:
    """Switch every layer's explicit attention path on or off."""
    for block in model.blocks:
        block.attn.keep_attention = on


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_explicit_path_gives_the_sdpa_logits(pos: str) -> None:
    model = tiny_gpt(pos=pos)
    idx = torch.randint(0, 24, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fast, _ = model(idx, targets=idx)
        keep(model, True)
        slow, _ = model(idx, targets=idx)
    assert torch.allclose(fast, slow, atol=1e-5)
    assert model.blocks[0].attn.attention.shape == (2, 4, 12, 12)


def test_explicit_path_matches_with_a_kv_cache() -> None:
    """Prefill, then several new tokens after the cached prefix: the mask case SDPA needs help with."""
    model = tiny_gpt()
    idx = torch.randint(0, 24, (1, 10), generator=torch.Generator().manual_seed(2))
    outputs = []
    for on in (False, True):
        keep(model, on)
        cache = model.new_cache()
        with torch.no_grad():
            model(idx[:, :6], cache=cache)
            logits, _ = model(idx[:, 6:], cache=cache)
        outputs.append(logits)
    assert torch.allclose(outputs[0], outputs[1], atol=1e-5)
    weights = model.blocks[1].attn.attention[0, 0]  # (4 new queries, 10 keys)
    assert weights.shape == (4, 10)
    assert weights[0, 7:].abs().max() == 0  # query at position 6 sees keys 0..6 only


def test_scratch_attention_is_causal_and_leaves_the_model_as_it_was() -> None:
    model = tiny_gpt()
    model.train()
    ids = [1, 5, 7, 3, 9, 2, 4]
    maps = scratch_attention(model, ids, [str(i) for i in ids])
    assert maps.weights.shape == (2, 4, 7, 7)
    np.testing.assert_allclose(maps.weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.triu(maps.weights, k=1).max() == 0.0  # no query reads a later key
    assert maps.weights[:, :, 0, 0].min() == pytest.approx(1.0)  # the first token can only read itself
    assert model.training
    assert all(not b.attn.keep_attention and b.attn.attention is None for b in model.blocks)


def test_scratch_attention_refuses_an_empty_text() -> None:
    with pytest.raises(ValueError, match="no tokens"):
        scratch_attention(tiny_gpt(), [], [])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch run directory with random weights and a character tokenizer."""
    directory = tmp_path_factory.mktemp("scratch_attention")
    tokenizer = CharTokenizer.train(["abcdefghijklmnopqrstuvwxyz .,\n"])
    tokenizer.save(directory)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16)
    torch.save({"model_config": config.to_dict(), "model": GPT(config).state_dict()}, directory / "model.pt")
    return directory


def test_run_directory_maps_and_png(run_dir: Path, tmp_path: Path) -> None:
    maps = scratch_attention_from_run(run_dir, "to be or not", max_tokens=8)
    assert maps.tokens == list("to be or")
    assert maps.weights.shape == (2, 2, 8, 8)
    out = tmp_path / "a.png"
    save_attention_png(maps, out, "to be or not")
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_png_shows_odd_tokens(tmp_path: Path) -> None:
    """Spaces, newlines, "$" (matplotlib math) and empty tokens must not break the drawing."""
    weights = np.full((1, 1, 4, 4), 0.25)
    maps = AttentionMaps("toy", [" ", "\n", "$x$", ""], weights)
    save_attention_png(maps, tmp_path / "odd.png")
    assert (tmp_path / "odd.png").stat().st_size > 1000


def test_cli_draws_scratch_attention(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "att.png"
    result = CliRunner().invoke(
        app, ["lab", "attention", "the cat", "--scratch", str(run_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "2 layers x 2 heads over 7 tokens" in result.output
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["lab", "attention", "x", "--scratch", str(tmp_path / "nothing"), "--out", str(tmp_path / "a.png")],
    )
    assert result.exit_code == 2
    assert "not found" in result.output


def test_minilm_attention() -> None:
    maps = minilm_attention("Irene Adler outwitted Sherlock Holmes.", max_tokens=8)
    assert maps.tokens[0] == "[CLS]" and maps.tokens[-1] == "[SEP]" and len(maps.tokens) == 8
    assert maps.weights.shape == (6, 12, 8, 8)  # all-MiniLM-L6-v2: 6 layers of 12 heads
    np.testing.assert_allclose(maps.weights.sum(axis=-1), 1.0, atol=1e-4)
    assert np.triu(maps.weights, k=1).max() > 0.01  # an encoder reads both ways


# ----------------------------------------------------------------------------------------------------
# Cross-attention of the encoder-decoder

REVERSE_TEXT = "to be or not\nthat is it\nbe not so\nor to it\n" * 6


@pytest.fixture(scope="module")
def seq2seq_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An encoder-decoder trained for three steps through the CLI (tiny: 1 layer a side, 16 wide)."""
    directory = tmp_path_factory.mktemp("seq2seq")
    text = directory / "lines.txt"
    text.write_text(REVERSE_TEXT, encoding="utf-8")
    args = ["lab", "train-seq2seq", "--data", str(text), "--out", str(directory / "model")]
    args += ["--steps", "3", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--batch-size", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "exact match" in result.output
    return directory / "model"


def test_saved_encoder_decoder_reloads_with_the_same_logits(seq2seq_dir: Path) -> None:
    from citegraph.models.scratch.seq2seq import collate, load_encoder_decoder

    first, stoi, info = load_encoder_decoder(seq2seq_dir)
    second, _, _ = load_encoder_decoder(seq2seq_dir)
    assert info["task"] == "reverse_line" and info["steps"] == 3
    batch = collate([("to be", "eb ot")], stoi)
    with torch.no_grad():
        assert torch.equal(first(*batch)[0], second(*batch)[0])


def test_cross_attention_maps_every_decoder_layer_and_head(seq2seq_dir: Path) -> None:
    from citegraph.eval.attention import seq2seq_attention_from_dir

    maps = seq2seq_attention_from_dir(seq2seq_dir, "not so")
    assert maps.tokens == list("not so") and maps.kind == "cross-attention"
    assert maps.weights.shape == (1, 2, len(maps.queries), 6)  # (layers, heads, output steps, source)
    assert maps.queries[-1] == "<eos>" or len(maps.queries) == len(maps.output)
    np.testing.assert_allclose(maps.weights.sum(axis=-1), 1.0, atol=1e-5)


def test_mirrored_share_reads_an_anti_diagonal() -> None:
    from citegraph.eval.attention import mirrored_share

    anti = np.eye(4)[::-1][None, None]  # step t reads source position 3 - t
    maps = AttentionMaps("toy", list("abcd"), anti, query_tokens=list("dcba"), output="dcba")
    assert mirrored_share(maps) == 1.0
    maps.weights = np.eye(4)[None, None]
    assert mirrored_share(maps) == 0.0


def test_cli_draws_cross_attention(seq2seq_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cross.png"
    result = CliRunner().invoke(
        app, ["lab", "attention", "to be", "--seq2seq", str(seq2seq_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert "1 layers x 2 heads of cross-attention" in said
    assert "mirrored source character" in said
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_cli_cross_attention_errors_are_clear(seq2seq_dir: Path, tmp_path: Path) -> None:
    runner, out = CliRunner(), str(tmp_path / "x.png")
    unknown = runner.invoke(app, ["lab", "attention", "XYZ", "--seq2seq", str(seq2seq_dir), "--out", out])
    assert unknown.exit_code == 2 and "unknown" in unknown.output
    missing = runner.invoke(app, ["lab", "attention", "to", "--seq2seq", str(tmp_path), "--out", out])
    assert missing.exit_code == 2 and "train-seq2seq" in missing.output
    both = runner.invoke(
        app,
        ["lab", "attention", "to", "--seq2seq", str(seq2seq_dir), "--scratch", str(tmp_path), "--out", out],
    )
    assert both.exit_code == 2 and "one of" in both.output
