"""Local Hugging Face causal LMs from a directory or a ``.gguf`` file, offline, as LangChain chat models.

A GGUF file is dequantized by transformers on every load (~30 s for SmolLM2-135M on 2 cores), so the first
load writes a plain safetensors copy under ``~/.cache/citegraph/models/`` keyed by the file's size and a
hash of its first and last MiB (not its mtime: reinstalling the package that ships the file would leave a
stale 0.5 GB copy behind each time); later loads read that copy in well under a second. Nothing here
reaches a model hub.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from citegraph.models.paths import resolve_model_path
from citegraph.resources import shared
from citegraph.settings import force_offline

# How much of each end of a GGUF file its cache key hashes: the header (names, shapes, quantization) and the
# last tensors' bytes, enough to tell two model files apart without reading hundreds of megabytes.
KEY_BYTES = 1 << 20


def _gguf_cache_dir(gguf: Path) -> Path:
    """Where the plain copy of ``gguf`` lives: named by its stem, size and a hash of both its ends."""
    size = gguf.stat().st_size
    digest = hashlib.sha256()
    with gguf.open("rb") as file:
        digest.update(file.read(KEY_BYTES))
        file.seek(max(size - KEY_BYTES, 0))
        digest.update(file.read(KEY_BYTES))
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citegraph" / "models"
    return root / f"{gguf.stem}-{size}-{digest.hexdigest()[:16]}"


def _convert_gguf(gguf: Path) -> Path:
    """Dequantize ``gguf`` once into a safetensors directory (reused while the file is unchanged).

    Shared per target directory, so two loads of the same file in this process (another dtype, a LoRA
    base) never write the same temporary directory at once.
    """
    target = _gguf_cache_dir(gguf)
    return shared(("gguf_copy", str(target)), lambda: _write_plain_copy(gguf, target))


def _write_plain_copy(gguf: Path, target: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (target / "config.json").is_file():
        _drop_gguf_marker(target / "config.json")  # a copy written before the marker was dropped
        return target
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The copy holds plain float weights: a "gguf" quantization_config left in its config would make
    # transformers' Trainer (trl's DPO) refuse to train it as a quantized model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # A GGUF-loaded model refuses save_pretrained; a fresh model with the same weights does not.
    plain = AutoModelForCausalLM.from_config(model.config)
    plain.load_state_dict(model.state_dict())
    partial = target.with_name(target.name + f".tmp{os.getpid()}")
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)  # atomic: a half-written copy is never mistaken for a finished one
    return target


def _drop_gguf_marker(config_path: Path) -> None:
    """Remove the "gguf" ``quantization_config`` from a plain copy's config (see ``_write_plain_copy``)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("quantization_config", None) is not None:
        partial = config_path.with_name(config_path.name + f".tmp{os.getpid()}")
        partial.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        partial.replace(config_path)


def load_causal_lm(location: str, dtype: str = "float32") -> tuple[Any, Any]:
    """(model, tokenizer) for a local directory, a ``.gguf`` file or a bundled alias; cached per process.

    The tokenizer always has a pad token (the EOS token when the model defines none), so batched
    generation and training work.
    """
    force_offline()
    path = resolve_model_path(location, "causal_lm")

    def build() -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = _convert_gguf(path) if path.suffix == ".gguf" else path
        model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=getattr(torch, dtype))
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.eval()
        return model, tokenizer

    return shared(("causal_lm", str(path.resolve()), dtype), build)


def cut_at_stops(text: str, stops: list[str]) -> str:
    """``text`` up to the first occurrence of any stop sequence (a pipeline generates past them)."""
    cuts = [i for i in (text.find(stop) for stop in stops if stop) if i >= 0]
    return text[: min(cuts)] if cuts else text


def chat_token_counts(tokenizer: Any, messages: list[Any], reply: str) -> dict[str, int]:
    """Usage metadata of one chat call: the prompt as the chat template renders ``messages`` (LangChain
    messages) and the reply, in the model's tokens."""
    roles = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
    turns = [{"role": roles.get(m.type, m.type), "content": m.text} for m in messages]
    prompt = tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
    prompt_tokens = len(tokenizer.encode(prompt, add_special_tokens=False))
    reply_tokens = len(tokenizer.encode(reply, add_special_tokens=False))
    return {
        "input_tokens": prompt_tokens,
        "output_tokens": reply_tokens,
        "total_tokens": prompt_tokens + reply_tokens,
    }


def chat_model_from(model: Any, tokenizer: Any, name: str, max_new_tokens: int = 200, **generate: Any) -> Any:
    """Wrap a loaded model and tokenizer as a LangChain chat model (langchain-huggingface's ChatHuggingFace
    over a HuggingFacePipeline; greedy decoding unless ``generate`` says otherwise)."""
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    from transformers import pipeline

    settings = {"do_sample": False, "repetition_penalty": 1.1, **generate}
    pipe = pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        max_new_tokens=max_new_tokens,
        return_full_text=False,
        **settings,
    )
    llm = HuggingFacePipeline(pipeline=pipe, model_id=name)
    # Giving the tokenizer keeps ChatHuggingFace from fetching one by model id.
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=name)


def load_hf_chat_model(location: str, max_new_tokens: int = 200, **generate: Any) -> Any:
    """``hf:LOCATION`` as a chat model: bundled SmolLM2 (``hf:smollm2``), a directory or a ``.gguf`` file."""
    model, tokenizer = load_causal_lm(location)
    name = resolve_model_path(location, "causal_lm").name
    return chat_model_from(model, tokenizer, name, max_new_tokens=max_new_tokens, **generate)
