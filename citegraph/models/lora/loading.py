"""Loading a causal LM base for LoRA: full precision on CPU, 4-bit NF4 (QLoRA) on CUDA, offline.

The base comes from a local directory, a ``.gguf`` file or the bundled ``smollm2`` alias
(``citegraph.models.paths`` resolves those; ``citegraph.models.hf`` converts a GGUF once). Adapters
remember which base they were trained on (``citegraph_base.json`` beside PEFT's files) so loading one onto
another base fails with a clear error instead of producing fluent nonsense.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citegraph.errors import ModelNotFoundError
from citegraph.models.paths import resolve_model_path
from citegraph.settings import force_offline

BASE_FINGERPRINT_FILE = "citegraph_base.json"
# Config fields that must agree between the base an adapter was trained on and the one it is loaded onto.
_SHAPE_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
)
_SAMPLE_SIZE = 32  # embedding values stored as the weight fingerprint


class CudaRequiredError(RuntimeError):
    """4-bit NF4 loading was asked for on a machine without CUDA."""


class AdapterMismatchError(ValueError):
    """An adapter was trained on a different base model than the one it is being loaded onto."""


@dataclass(frozen=True)
class BaseModel:
    """A loaded base: the model, its tokenizer, where it came from and how it was loaded."""

    model: Any
    tokenizer: Any
    location: str  # resolved path (a directory, or the cached safetensors copy of a GGUF)
    quantized_4bit: bool


def base_directory(location: str) -> Path:
    """The local model directory for ``location`` (a GGUF is converted once to a safetensors copy)."""
    from citegraph.models.hf import _convert_gguf

    path = resolve_model_path(location, "causal_lm")  # raises ModelNotFoundError for a missing path
    return _convert_gguf(path) if path.suffix == ".gguf" else path


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def nf4_config(compute_dtype: str = "bfloat16") -> Any:
    """The QLoRA quantization: 4-bit NormalFloat with double quantization, matmuls in ``compute_dtype``."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, compute_dtype),
    )


def load_base(
    location: str,
    dtype: str = "float32",
    load_in_4bit: bool = False,
    for_training: bool = False,
    gradient_checkpointing: bool = False,
) -> BaseModel:
    """Load the base named by ``location`` for LoRA.

    ``load_in_4bit`` needs CUDA (QLoRA); with ``for_training`` the 4-bit base goes through
    ``prepare_model_for_kbit_training`` (norms and head in fp32, input grads on). The tokenizer always
    has a pad token. Not cached: training mutates the model, and inference callers cache themselves.
    """
    force_offline()
    if load_in_4bit and not cuda_available():
        raise CudaRequiredError(
            "4-bit NF4 loading (QLoRA) needs a CUDA GPU and bitsandbytes; this machine has no CUDA. "
            "Load in float32/bfloat16 instead (drop --4bit)."
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = base_directory(location)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if load_in_4bit:
        kwargs["quantization_config"] = nf4_config("bfloat16" if dtype == "float32" else dtype)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(str(directory), **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if load_in_4bit and for_training:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks still need grads in
    if not for_training:
        model.eval()
    return BaseModel(model, tokenizer, str(directory), load_in_4bit)


# -- which base an adapter belongs to --------------------------------------------------------------------


def base_fingerprint(model: Any) -> dict[str, Any]:
    """What identifies a base: its shape fields and a sample of its input embedding weights.

    Embeddings are never quantized by bitsandbytes, so the same base loaded in 4-bit still matches.
    """
    config = model.config
    fields = {name: getattr(config, name, None) for name in _SHAPE_FIELDS}
    weights = model.get_input_embeddings().weight
    flat = weights.detach().reshape(-1)
    step = max(flat.numel() // _SAMPLE_SIZE, 1)
    sample = flat[::step][:_SAMPLE_SIZE].float().cpu().tolist()
    return {"config": fields, "embedding_sample": [round(v, 6) for v in sample]}


def write_base_fingerprint(adapter_dir: Path, model: Any, base_location: str) -> None:
    """Record in ``adapter_dir`` which base the adapter was trained on."""
    record = {"base": base_location, **base_fingerprint(model)}
    (adapter_dir / BASE_FINGERPRINT_FILE).write_text(json.dumps(record, indent=1) + "\n")


def check_adapter_matches(adapter_dir: Path, model: Any) -> None:
    """Raise AdapterMismatchError when ``adapter_dir`` was trained on another base than ``model``.

    Compares the recorded shape fields exactly and the embedding sample to bf16 precision (so a base
    loaded in another dtype still matches). Adapters without a record are checked by PEFT's shapes only.
    """
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"not a LoRA adapter directory (no adapter_config.json): {adapter_dir}")
    record_path = adapter_dir / BASE_FINGERPRINT_FILE
    if not record_path.is_file():
        return
    record = json.loads(record_path.read_text())
    current = base_fingerprint(model)
    differing = [
        f"{name}: adapter {record['config'].get(name)!r}, base {value!r}"
        for name, value in current["config"].items()
        if record["config"].get(name) != value
    ]
    if differing:
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was trained on a different base ({record.get('base')}): "
            + "; ".join(differing)
        )
    stored, now = record["embedding_sample"], current["embedding_sample"]
    if len(stored) != len(now) or any(
        abs(a - b) > 1e-2 * max(abs(a), 1e-3) + 1e-3 for a, b in zip(stored, now, strict=True)
    ):
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was trained on a base with the same shape but different weights "
            f"({record.get('base')}); load it onto that base"
        )
