"""Attention you can see: every layer and head of a model on one text, and their average.

Self-attention of two models: the bundled MiniLM encoder (transformers' eager attention, which returns the
softmax weights) and the from-scratch GPT (its attention layers keep the weights when ``keep_attention`` is
set; the default SDPA path never materialises them). Cross-attention of the encoder-decoder
(``citegraph/models/scratch/seq2seq.py``): the decoder's steps (its output characters) over the source.
Rows of a map are query tokens, columns the keys they read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from citegraph.models.scratch.model import GPT


@dataclass
class AttentionMaps:
    """The attention weights of one forward pass: ``weights[layer, head, query, key]``."""

    model: str
    tokens: list[str]  # the keys (columns); also the queries of self-attention
    weights: np.ndarray  # (layers, heads, queries, keys), each row sums to 1
    query_tokens: list[str] | None = None  # cross-attention: the queries (rows) when they are not ``tokens``
    output: str | None = None  # cross-attention: what the decoder generated

    @property
    def queries(self) -> list[str]:
        """The row labels: ``query_tokens`` for cross-attention, else the tokens themselves."""
        return self.tokens if self.query_tokens is None else self.query_tokens

    @property
    def kind(self) -> str:
        """ "cross-attention" or "self-attention", for titles."""
        return "self-attention" if self.query_tokens is None else "cross-attention"

    @property
    def layers(self) -> int:
        """Number of layers."""
        return self.weights.shape[0]

    @property
    def heads(self) -> int:
        """Number of heads per layer."""
        return self.weights.shape[1]

    def mean(self) -> np.ndarray:
        """The average over every layer and head: a (tokens, tokens) map."""
        return self.weights.mean(axis=(0, 1))


def minilm_attention(text: str, model_path: Path | str | None = None, max_tokens: int = 48) -> AttentionMaps:
    """Attention of the (bundled by default) MiniLM encoder on ``text``, cut to ``max_tokens`` word pieces."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from citegraph.models.paths import resolve_model_path
    from citegraph.settings import force_offline

    force_offline()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar in a one-shot command is noise
    path = resolve_model_path(model_path, "embedding")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    # Eager attention: the fused kernels (SDPA, flash) do not return the weights.
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()
    inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
    with torch.no_grad():
        output = model(**inputs, output_attentions=True)
    weights = torch.stack(output.attentions)[:, 0].float().numpy()  # (layers, heads, T, T)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    name = "all-MiniLM-L6-v2 (bundled)" if model_path is None else path.name
    return AttentionMaps(name, tokens, weights)


def scratch_attention(
    model: GPT, token_ids: list[int], tokens: list[str], name: str = "scratch"
) -> AttentionMaps:
    """Attention of a scratch GPT on ``token_ids`` (one sequence, no cache); the model is left as it was."""
    import torch

    if not token_ids:
        raise ValueError("no tokens to attend over")
    token_ids = token_ids[: model.config.block_size]
    layers = [block.attn for block in model.blocks]
    was_training = model.training
    model.eval()
    try:
        for layer in layers:
            layer.keep_attention = True
        device = model.tok_emb.weight.device
        with torch.no_grad():
            model(torch.tensor([token_ids], device=device))
        weights = torch.stack([layer.attention[0] for layer in layers]).float().cpu().numpy()
    finally:
        for layer in layers:
            layer.keep_attention, layer.attention = False, None
        model.train(was_training)
    return AttentionMaps(name, tokens[: len(token_ids)], weights)


def scratch_attention_from_run(run_dir: Path | str, text: str, max_tokens: int = 48) -> AttentionMaps:
    """Load a scratch run (``citegraph train scratch --out``) and map its attention on ``text``."""
    from citegraph.models.scratch.generate import load_model

    model, tokenizer = load_model(run_dir)
    ids = tokenizer.encode(text)[:max_tokens]
    tokens = [tokenizer.decode([i]) for i in ids]
    return scratch_attention(model, ids, tokens, name=f"scratch GPT ({Path(run_dir).name})")


def seq2seq_attention_from_dir(model_dir: Path | str, source: str) -> AttentionMaps:
    """Cross-attention of a saved encoder-decoder (``citegraph lab train-seq2seq``) on ``source``: rows are
    the decoder's steps (each output character, then end-of-text), columns the source characters."""
    from citegraph.models.scratch.seq2seq import cross_attention_weights, load_encoder_decoder

    model, stoi, info = load_encoder_decoder(model_dir)
    weights, output = cross_attention_weights(model, source, stoi)
    rows = [*output, "<eos>"][: weights.size(2)]
    name = f"encoder-decoder ({Path(model_dir).name}, task {info.get('task', '?')})"
    return AttentionMaps(name, list(source), weights.float().numpy(), query_tokens=rows, output=output)


def mirrored_share(maps: AttentionMaps) -> float:
    """Share of output steps whose most-read source position (mean map) is the mirrored one, S-1-t.

    For the reverse_line task that is the right place to look: near 1 for a trained model, near 1/S at chance.
    """
    mean = maps.mean()
    steps = min(mean.shape[0], mean.shape[1])  # the rows after the last source character have no mirror
    source_len = mean.shape[1]
    hits = sum(int(mean[t].argmax()) == source_len - 1 - t for t in range(steps))
    return hits / steps if steps else 0.0


def _show_token(token: str) -> str:
    # Spaces and newlines would vanish as tick labels; matplotlib would read "$" as the start of math.
    return token.replace("\n", "⏎").replace(" ", "·").replace("$", r"\$") or "∅"


def save_attention_png(maps: AttentionMaps, path: Path, text_label: str = "") -> None:
    """A grid of every layer x head (last column: the layer's mean) beside the mean of all, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the CLI and tests only write files
    import matplotlib.pyplot as plt
    from matplotlib.colors import PowerNorm

    layers, heads = maps.layers, maps.heads
    cell = max(1.15, min(2.0, 8.0 / max(layers, heads + 1)))  # small models get bigger cells
    fig = plt.figure(figsize=(cell * (heads + 1) + 8.5, max(cell * layers + 1.2, 8.0)))
    outer = fig.add_gridspec(1, 2, width_ratios=[cell * (heads + 1), 8.0], wspace=0.2)
    grid = outer[0].subgridspec(layers, heads + 1, wspace=0.08, hspace=0.12)
    for layer in range(layers):
        for head in range(heads + 1):
            ax = fig.add_subplot(grid[layer, head])
            mean_column = head == heads
            data = maps.weights[layer].mean(axis=0) if mean_column else maps.weights[layer, head]
            ax.imshow(data, cmap="magma" if mean_column else "viridis", vmin=0.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if layer == 0:
                ax.set_title("mean" if mean_column else f"h{head}", fontsize=8)
            if head == 0:
                ax.set_ylabel(f"L{layer}", fontsize=8)
    ax = fig.add_subplot(outer[1])
    # Square-root colours: a few sink tokens ([CLS], the first token) take most of the weight, and on a
    # linear scale everything else would be black.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=float(maps.mean().max()))
    image = ax.imshow(maps.mean(), cmap="magma", norm=norm, interpolation="nearest")
    columns = [_show_token(t) for t in maps.tokens]
    rows = [_show_token(t) for t in maps.queries]
    ax.set_xticks(np.arange(len(columns)), columns, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(rows)), rows, fontsize=7)
    cross = maps.query_tokens is not None
    ax.set_xlabel("source character (encoder)" if cross else "key (attended to)")
    ax.set_ylabel("output step (decoder)" if cross else "query")
    ax.set_title(f"mean over {layers} layers x {heads} heads (square-root colour scale)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(
        f"{maps.model}: {maps.kind} on {len(maps.tokens)} tokens"
        + (f" — {text_label}" if text_label else "")
        + (f" -> {maps.output!r}" if maps.output is not None else "")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
