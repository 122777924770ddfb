"""Decoding strategies compared on one model: diversity, repetition and perplexity of their samples.

Every strategy continues the same prompts with the same number of new tokens, through the scratch model's
own sampler (``citegraph.models.scratch.generate``). Per strategy:

- ``distinct_1`` / ``distinct_2``: distinct word uni-/bigrams over all its samples pooled, divided by all
  of them (Li et al., 2016). A strategy that writes the same text for every seed (greedy) scores low.
- ``repetition``: seq-rep-3 (after Welleck et al., 2019): within one sample, the share of word trigrams
  that are a copy of an earlier trigram of the same sample, averaged over samples. Loops score high.
- ``self_ppl``: the generating model's perplexity of its own samples (untempered, unfiltered distribution,
  conditioned on the prompt). Greedy text is the model's most likely text, so it is far *below* the
  perplexity of real text; pure sampling lands near it.
- ``ref_ppl``: the same under a second, independently trained reference model, when one is given.

A ``human`` row scores the real continuations of the prompts the same way, as the target to be near.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citegraph.models.scratch.model import GPT
    from citegraph.models.scratch.tokenizer import ScratchTokenizer

# Settings of the scratch sampler per strategy. top-k is small because a char vocabulary is ~65 symbols.
STRATEGIES: dict[str, dict[str, Any]] = {
    "greedy": {"temperature": 0.0},
    "temperature_0.7": {"temperature": 0.7},
    "temperature_1.0": {"temperature": 1.0},
    "top_k_10": {"temperature": 1.0, "top_k": 10},
    "top_p_0.9": {"temperature": 1.0, "top_p": 0.9},
    "greedy_rep_1.3": {"temperature": 0.0, "repetition_penalty": 1.3},
    "top_p_0.9_rep_1.2": {"temperature": 1.0, "top_p": 0.9, "repetition_penalty": 1.2},
}
HUMAN = "human"  # the real continuation of each prompt
_WORD = re.compile(r"[a-z']+")


def text_words(text: str) -> list[str]:
    """Lower-cased words (letters and apostrophes) for the n-gram metrics."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of ``tokens`` in order."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams over all samples pooled / all n-grams (0 when there are none)."""
    grams = [g for s in samples for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(tokens: Sequence[str], n: int = 3) -> float:
    """Share of the n-grams of one sample that repeat an earlier n-gram of that sample (seq-rep-n)."""
    grams = ngrams(tokens, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def continuation_nll(model: GPT, prompt: Sequence[int], continuation: Sequence[int]) -> float:
    """Summed negative log-likelihood (nats) of ``continuation`` given ``prompt`` under ``model``.

    Windows of ``block_size`` tokens slide by half a block, so every scored token sees at least half a
    block of context (the sampler itself keeps half a block when its window fills up).
    """
    import torch

    ids = list(prompt) + list(continuation)
    block = model.config.block_size
    stride = max(1, block // 2)
    total = 0.0
    pos = len(prompt)  # next target index to score
    device = next(model.parameters()).device
    with torch.inference_mode():
        while pos < len(ids):
            end = min(pos + stride, len(ids))  # score targets ids[pos:end]
            start = max(0, end - 1 - block)
            x = torch.tensor(ids[start : end - 1], dtype=torch.long, device=device)[None]
            # Passing targets makes the model return logits at every position, not only the last.
            logits, _ = model(x, targets=torch.full_like(x, -1))
            logp = logits[0].float().log_softmax(-1)
            rows = torch.arange(pos - 1 - start, end - 1 - start, device=device)
            targets = torch.tensor(ids[pos:end], dtype=torch.long, device=device)
            total -= float(logp[rows, targets].sum())
            pos = end
    return total


def perplexity(model: GPT, pairs: Sequence[tuple[list[int], list[int]]]) -> float:
    """exp(mean NLL per continuation token) over (prompt ids, continuation ids) pairs."""
    nll = sum(continuation_nll(model, p, c) for p, c in pairs if c)
    count = sum(len(c) for _, c in pairs)
    return math.exp(nll / count) if count else float("nan")


def prompts_from_text(text: str, count: int, continuation_chars: int) -> list[tuple[str, str]]:
    """(prompt, real continuation) pairs from play text: each prompt is a speaker's name line ("ROMEO:\\n")
    at a turn boundary, evenly spaced through ``text``; the continuation is the text that follows."""
    starts = [m.end() for m in re.finditer(r"\n\n(?=[A-Z][A-Za-z ]*:\n)", text)]
    starts = [s for s in starts if s + continuation_chars + 80 <= len(text)]
    if len(starts) < count:
        raise ValueError(f"only {len(starts)} speaker turns in the text, {count} prompts asked")
    step = len(starts) / count
    pairs = []
    for i in range(count):
        s = starts[int(i * step)]
        header = text.index("\n", s) + 1
        pairs.append((text[s:header], text[header : header + continuation_chars]))
    return pairs


@dataclass
class DecodingConfig:
    """What to compare."""

    strategies: dict[str, dict[str, Any]]
    max_new_tokens: int = 300
    samples_per_prompt: int = 3
    seed: int = 0


def sample_ids(model: GPT, prompt: list[int], settings: dict[str, Any], max_new: int, seed: int) -> list[int]:
    """``max_new`` token ids from the scratch sampler (no stop sequences, so lengths are equal)."""
    from citegraph.models.scratch.generate import SamplingConfig, generate_ids

    sc = SamplingConfig(max_new_tokens=max_new, stop_at_eot=False, seed=seed, **settings)
    return list(generate_ids(model, prompt, sc))


Pairs = list[tuple[list[int], list[int]]]  # (prompt ids, continuation ids), one per prompt


def score_samples(
    model: GPT, tokenizer: ScratchTokenizer, draws: Sequence[Pairs], reference: GPT | None = None
) -> dict[str, float]:
    """The metrics of one strategy. ``draws[s]`` holds the s-th sample of every prompt: distinct-n is
    computed per draw and averaged, so rows with one draw (human) and several compare at equal size."""
    words = [[text_words(tokenizer.decode(c)) for _, c in draw] for draw in draws]
    flat = [w for draw in words for w in draw]
    pairs = [pair for draw in draws for pair in draw]
    # Per prompt: how many of its samples differ (1/samples for a deterministic strategy such as greedy).
    per_prompt = list(zip(*(tuple(tuple(c) for _, c in draw) for draw in draws), strict=True))
    out = {
        "distinct_1": sum(distinct_n(d, 1) for d in words) / len(words),
        "distinct_2": sum(distinct_n(d, 2) for d in words) / len(words),
        "repetition": sum(repetition_rate(w) for w in flat) / len(flat),
        "unique_samples": sum(len(set(p)) / len(p) for p in per_prompt) / len(per_prompt),
        "self_ppl": perplexity(model, pairs),
        "mean_words": sum(map(len, flat)) / len(flat),
    }
    if reference is not None:
        out["ref_ppl"] = perplexity(reference, pairs)
    return out


def compare_decoding(
    model: GPT,
    tokenizer: ScratchTokenizer,
    prompts: Sequence[tuple[str, str]],
    config: DecodingConfig,
    reference: GPT | None = None,
) -> dict[str, Any]:
    """Sample every strategy on every prompt and score it; the human continuations form a row too."""
    real = [(tokenizer.encode(p), tokenizer.encode(c)[: config.max_new_tokens]) for p, c in prompts]
    rows: dict[str, Any] = {
        HUMAN: {
            "settings": {},
            "metrics": score_samples(model, tokenizer, [real], reference),
            "samples": [tokenizer.decode(c) for _, c in real],
        }
    }
    for name, settings in config.strategies.items():
        draws = [
            # Seeds depend on prompt and draw only: every strategy gets the same random stream.
            [
                (p, sample_ids(model, p, settings, config.max_new_tokens, config.seed + 1000 * i + s))
                for i, (p, _) in enumerate(real)
            ]
            for s in range(config.samples_per_prompt)
        ]
        rows[name] = {
            "settings": settings,
            "metrics": score_samples(model, tokenizer, draws, reference),
            "samples": [tokenizer.decode(c) for _, c in draws[0]],  # first draw, to read side by side
        }
    return {
        "prompts": [p for p, _ in prompts],
        "max_new_tokens": config.max_new_tokens,
        "samples_per_prompt": config.samples_per_prompt,
        "seed": config.seed,
        "strategies": rows,
    }
