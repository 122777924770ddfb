"""A PEFT LoRA adapter as a llama.cpp LoRA GGUF, so that ``gguf:<base>+<adapter>`` runs it in llama.cpp.

llama.cpp applies a LoRA GGUF to a quantized base at run time (``W x + scale * B (A x)``, scale = alpha / r),
so an adapter trained with ``citegraph train lora-*`` on the dequantized GGUF base runs at llama.cpp's speed
without merging or re-quantizing the base. llama.cpp's own converter (``convert_lora_to_gguf.py``) is a
script of its source tree that no wheel ships and that needs the base's Hugging Face folder; this module
writes the same format with the ``gguf`` package (llama.cpp's writer, on PyPI) from the adapter alone and
the base GGUF's metadata.

The format (llama.cpp's ``llama-adapter.cpp``): ``general.type = adapter``, ``adapter.type = lora``,
``adapter.lora.alpha``, and for each adapted base tensor ``<name>.lora_a`` (r x in) and ``<name>.lora_b``
(out x r), in the base's tensor names and row order. Only the ``llama`` architecture (Llama, Mistral,
SmolLM2 in GGUF) is supported: its q and k rows are stored permuted for llama.cpp's rotary layout, and B's
rows are permuted the same way here. Other architectures are refused with a clear error rather than
converted on a guess.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from citegraph.errors import ModelNotFoundError
from citegraph.resources import shared

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
SUPPORTED_ARCHITECTURES = {"llama"}
# Hugging Face module names -> llama.cpp tensor names (the llama architecture's ``blk.N.*``).
GGUF_MODULE = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
PEFT_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


def rope_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """The rows of a q or k projection (or of a LoRA B feeding one) in llama.cpp's order: within each head,
    Hugging Face keeps the two rotary halves apart and GGUF interleaves them."""
    split = weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:])
    return split.swapaxes(1, 2).reshape(weight.shape)


def _base_metadata(base_gguf: Path) -> tuple[str, int, int]:
    """(architecture, attention heads, key/value heads) of a base GGUF."""
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    arch = str(reader.fields["general.architecture"].contents())
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelNotFoundError(
            f"{base_gguf.name} is a {arch!r} GGUF: LoRA adapters run in llama.cpp only on "
            f"{sorted(SUPPORTED_ARCHITECTURES)} bases here (use lora:<base>+<adapter> instead)"
        )
    heads = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_field = reader.fields.get(f"{arch}.attention.head_count_kv")
    return arch, heads, int(kv_field.contents()) if kv_field is not None else heads


def _adapter_config(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's PEFT config, refused when llama.cpp could not apply it as trained."""
    path = adapter_dir / ADAPTER_CONFIG
    if not path.is_file() or not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise ModelNotFoundError(
            f"not a PEFT adapter folder ({ADAPTER_CONFIG} + {ADAPTER_WEIGHTS}): {adapter_dir}"
        )
    config = json.loads(path.read_text(encoding="utf-8"))
    unsupported = [
        what
        for what, present in (
            ("a non-LoRA adapter", config.get("peft_type") != "LORA"),
            ("DoRA", config.get("use_dora")),
            ("trained biases", config.get("bias", "none") != "none"),
            ("fully trained modules", config.get("modules_to_save")),
            ("per-module ranks", config.get("rank_pattern")),
            ("per-module alphas", config.get("alpha_pattern")),
        )
        if present
    ]
    if unsupported:
        raise ModelNotFoundError(
            f"{adapter_dir} uses {', '.join(unsupported)}, which llama.cpp's LoRA cannot apply"
        )
    return config


def lora_alpha(config: dict[str, Any]) -> float:
    """The alpha llama.cpp needs for PEFT's scale: alpha / r, or alpha / sqrt(r) with rsLoRA."""
    alpha, rank = float(config["lora_alpha"]), int(config["r"])
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha


def write_gguf_lora(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``adapter_dir`` (a PEFT LoRA trained on ``base_gguf``'s weights) as a llama.cpp LoRA GGUF at
    ``out`` (atomically: a half-written file is never left under that name)."""
    import gguf
    from safetensors import safe_open

    config = _adapter_config(adapter_dir)
    arch, heads, kv_heads = _base_metadata(base_gguf)
    partial = out.with_name(out.name + f".tmp{os.getpid()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(partial, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, lora_alpha(config))
    with safe_open(str(adapter_dir / ADAPTER_WEIGHTS), framework="pt") as weights:
        for key in sorted(weights.keys()):
            match = PEFT_KEY.search(key)
            if match is None or match.group(2) not in GGUF_MODULE:
                raise ModelNotFoundError(f"{adapter_dir}: llama.cpp has no tensor for adapter weight {key}")
            layer, module, side = match.groups()
            value = weights.get_tensor(key).float().numpy()
            if side == "B" and module in ("q_proj", "k_proj"):
                value = rope_rows(value, heads if module == "q_proj" else kv_heads)
            writer.add_tensor(f"blk.{layer}.{GGUF_MODULE[module]}.weight.lora_{side.lower()}", value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.rename(out)
    return out


def gguf_lora_for(adapter_dir: Path, base_gguf: Path) -> Path:
    """The LoRA GGUF of ``adapter_dir`` for ``base_gguf``, converted once into
    ``~/.cache/citegraph/gguf-lora`` and reused while the adapter's files and the base are unchanged. A
    ``.gguf`` file is taken as is."""
    if adapter_dir.is_file() and adapter_dir.suffix == ".gguf":
        return adapter_dir
    if not adapter_dir.is_dir():
        raise ModelNotFoundError(f"adapter path does not exist or is not a folder: {adapter_dir}")
    _adapter_config(adapter_dir)
    digest = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        digest.update((adapter_dir / name).read_bytes())
    digest.update(f"{base_gguf.resolve()}:{base_gguf.stat().st_size}".encode())
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citegraph" / "gguf-lora"
    out = root / f"{adapter_dir.resolve().name}-{digest.hexdigest()[:16]}.gguf"
    if out.is_file():
        return out
    # One conversion per file and process: two threads asking at once must not write one partial file.
    return shared(("gguf_lora", str(out)), lambda: write_gguf_lora(adapter_dir, base_gguf, out))
