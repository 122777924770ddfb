"""Tiny randomly initialised Mistral-family models written to a directory, for tests and benchmarks.

A real base is hundreds of MB; these are a few hundred KB and load in milliseconds, yet go through the
same code paths (``MistralForCausalLM``, a fast tokenizer with a chat template, ``save_pretrained``).
``mistral_7b_shaped`` gives the Mistral-7B shape (random weights) for memory and speed measurements.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A ChatML-style template (what SmolLM2 uses) so prompts render like the real base's.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer(texts: list[str], vocab_size: int = 400) -> Any:
    """A byte-level BPE fast tokenizer trained on ``texts`` (offline, well under a second)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="</s>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_mistral(
    directory: Path,
    texts: list[str],
    seed: int = 0,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int = 400,
) -> Path:
    """Write a random ``MistralForCausalLM`` and a tokenizer trained on ``texts`` to ``directory``."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    tokenizer = tiny_tokenizer(texts, vocab_size)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def mistral_7b_shaped(**overrides: Any) -> Any:
    """The Mistral-7B-v0.1 configuration (4096 wide, 32 layers, GQA 32/8, 14336 MLP, 32k vocab)."""
    from transformers import MistralConfig

    shape: dict[str, Any] = dict(
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=32768,
        sliding_window=4096,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    return MistralConfig(**{**shape, **overrides})
