"""LoRA adapters on a local Mistral/Llama-family base: loading (QLoRA on CUDA), SFT data in the answer
prompt's format, training, several named adapters on one base switched per agent, merge-and-export.

Importing this package is light; torch, transformers and PEFT load when a function is called.
"""

from __future__ import annotations

from typing import Any


def load_lora_chat_model(spec: str, **generate: Any) -> Any:
    """The chat model for ``lora:<base>+<adapter>[,<adapter>...]`` (see ``adapters.load_lora_chat_model``)."""
    from citegraph.models.lora.adapters import load_lora_chat_model as load

    return load(spec, **generate)


__all__ = ["load_lora_chat_model"]
