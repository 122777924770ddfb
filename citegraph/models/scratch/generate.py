"""Decoding for the scratch model: greedy, temperature, top-k, top-p, repetition penalty, stop sequences.

Generation runs the prompt once through the model to fill the KV cache, then feeds one token at a time.
The context window is the model's ``block_size``; when a sequence fills it, the oldest half is dropped
and the kept half is re-encoded (one prefill every ``block_size/2`` tokens). The uncached path uses the
very same windows, so both paths compute the same logits and greedy decoding gives identical output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from citegraph.errors import ModelNotFoundError
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.tokenizer import ScratchTokenizer, load_tokenizer
from citegraph.settings import force_offline

CHECKPOINTS = {"best": "model.pt", "last": "ckpt.pt"}


def load_model(
    directory: str | Path, checkpoint: str = "best", device: str = "cpu"
) -> tuple[GPT, ScratchTokenizer]:
    """Load a trained model and its tokenizer from a run directory (``model.pt``, else ``ckpt.pt``).

    ``checkpoint="best"`` prefers the best-validation weights; ``"last"`` takes the latest training state.
    """
    force_offline()  # nothing here needs the hub; make sure nothing tries
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ModelNotFoundError(f"scratch model directory not found: {directory}")
    order = [CHECKPOINTS[checkpoint]] + [f for f in CHECKPOINTS.values() if f != CHECKPOINTS[checkpoint]]
    path = next((directory / f for f in order if (directory / f).is_file()), None)
    if path is None:
        raise ModelNotFoundError(
            f"no scratch checkpoint (model.pt or ckpt.pt) in {directory}; "
            "train one with `citegraph train scratch`"
        )
    try:
        tokenizer = load_tokenizer(directory)
    except FileNotFoundError as error:
        raise ModelNotFoundError(str(error)) from None
    state = torch.load(path, map_location=device, weights_only=False)
    model = GPT(GPTConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, tokenizer


@dataclass
class SamplingConfig:
    """How to pick each next token. ``temperature=0`` is greedy (and ignores top-k/top-p)."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0  # >1 discourages tokens already in the context (CTRL-style)
    stop: list[str] = field(default_factory=list)  # cut the text at the first of these (not included)
    stop_at_eot: bool = True  # stop at the tokenizer's end-of-text token
    use_cache: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")


def process_logits(logits: torch.Tensor, context: torch.Tensor, sc: SamplingConfig) -> torch.Tensor:
    """Apply repetition penalty, temperature, top-k and top-p to a (vocab,) row; returns new logits."""
    logits = logits.float().clone()
    if sc.repetition_penalty != 1.0 and context.numel():
        seen = torch.unique(context)
        picked = logits[seen]
        # Divide positive logits and multiply negative ones, so the penalty always lowers probability.
        logits[seen] = torch.where(picked > 0, picked / sc.repetition_penalty, picked * sc.repetition_penalty)
    if sc.temperature == 0:
        return logits
    logits = logits / sc.temperature
    if sc.top_k is not None and sc.top_k < logits.numel():
        kth = torch.topk(logits, sc.top_k).values[-1]
        logits[logits < kth] = -float("inf")
    if sc.top_p is not None and sc.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the tokens ranked above it already hold top_p of the mass (the top one stays).
        drop = probs.cumsum(-1) - probs >= sc.top_p
        logits[order[drop]] = -float("inf")
    return logits


def generate_ids(
    model: GPT,
    prompt: list[int],
    sc: SamplingConfig,
    should_stop: Callable[[list[int]], bool] | None = None,
) -> Iterator[int]:
    """Yield new token ids one by one. ``should_stop(generated_ids)`` is checked after each token."""
    if not prompt:
        raise ValueError("the prompt encodes to no tokens")
    device = next(model.parameters()).device
    block = model.config.block_size
    keep = max(1, block // 2)  # context kept when the window is full
    gen = torch.Generator(device=device)
    if sc.seed is not None:
        gen.manual_seed(sc.seed)
    else:
        gen.seed()
    seq = torch.tensor(prompt, dtype=torch.long, device=device)
    if seq.numel() > block:  # a long prompt: keep its end
        seq = seq[-block:]
    start = 0  # first position of the current window within seq
    cache = model.new_cache(1) if sc.use_cache else None
    fed = 0  # tokens of seq already in the cache
    generated: list[int] = []
    for _ in range(sc.max_new_tokens):
        # inference_mode (cheaper than no_grad: no version counters on the cache tensors) is entered per
        # token and never held across the yield: it is thread-local, and a consumer such as LangChain's
        # async streaming resumes this generator on another thread each time.
        with torch.inference_mode():
            if seq.numel() - start >= block:  # window full: slide by half, re-encode the kept part
                start = seq.numel() - keep
                if cache is not None:
                    cache.reset()
                    fed = start
            if cache is not None:
                logits, _ = model(seq[fed:][None], cache=cache)
                fed = seq.numel()
            else:
                logits, _ = model(seq[start:][None])
            logits = process_logits(logits[0, -1], seq[start:], sc)
            if sc.temperature == 0:
                token = int(torch.argmax(logits))
            else:
                token = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))
            seq = torch.cat([seq, seq.new_tensor([token])])
        generated.append(token)
        yield token
        if should_stop is not None and should_stop(generated):
            return


def stream_text(model: GPT, tokenizer: ScratchTokenizer, prompt: str, sc: SamplingConfig) -> Iterator[str]:
    """Yield the continuation of ``prompt`` as text pieces, cut before the first stop sequence.

    Text that could still turn into a stop sequence (or is half of a multi-byte character) is held back
    until it is certain, so a stop string is never streamed out and then retracted.
    """
    eot = tokenizer.eot_id if sc.stop_at_eot else None
    ids: list[int] = []
    emitted = 0
    text = ""
    for token in generate_ids(model, tokenizer.encode(prompt), sc):
        if eot is not None and token == eot:
            break
        ids.append(token)
        text = tokenizer.decode(ids)
        cut = min((i for i in (text.find(s) for s in sc.stop if s) if i >= 0), default=-1)
        if cut >= 0:
            if cut > emitted:
                yield text[emitted:cut]
            return
        safe = len(text)
        if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence from byte-level BPE: wait for the rest
            safe -= 1
        for s in sc.stop:  # hold back a tail that is a prefix of a stop sequence
            for n in range(min(len(s) - 1, safe), 0, -1):
                if text[safe - n : safe] == s[:n]:
                    safe -= n
                    break
        if safe > emitted:
            yield text[emitted:safe]
            emitted = safe
    if len(text) > emitted:
        yield text[emitted:]


def generate_text(model: GPT, tokenizer: ScratchTokenizer, prompt: str, sc: SamplingConfig) -> str:
    """The continuation of ``prompt`` (without the prompt), cut before the first stop sequence."""
    return "".join(stream_text(model, tokenizer, prompt, sc))
