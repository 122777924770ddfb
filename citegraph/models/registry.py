"""Model specs -> LangChain chat models. Every agent that can use an LLM names it with one spec string.

- ``extractive`` / ``none`` / empty: no LLM (the agents' rule-based strategies).
- ``hf:<dir | file.gguf | smollm2>``: a local Hugging Face causal LM (``smollm2`` is the bundled GGUF).
- ``scratch:<checkpoint dir>``: the from-scratch transformer.
- ``lora:<base>+<adapter>[,<adapter>...]``: a local base with PEFT adapters (``citegraph.models.lora``).

Models are built once per spec and process. A spec that does not resolve raises ``ModelNotFoundError``
(or ``ValueError`` for a malformed one) with the forms above; nothing is ever fetched from a hub.
"""

from __future__ import annotations

from typing import Any

from citegraph.errors import ModelNotFoundError
from citegraph.resources import put_shared, shared
from citegraph.settings import force_offline

NO_MODEL = {"", "none", "extractive"}
SPEC_FORMS = "'extractive', 'hf:<dir|file.gguf|smollm2>', 'scratch:<dir>' or 'lora:<base>+<adapter>'"


def register_chat_model(name: str, model: Any) -> None:
    """Make a ready chat model (any LangChain ``BaseChatModel``) available under the spec ``name``, so an
    app embedding CiteGraph can hand its own model to the graphs (``RagContext(model=name)``)."""
    if name.strip().lower() in NO_MODEL:
        raise ValueError(f"{name!r} means 'no model' and cannot name one")
    put_shared(("chat_model", name.strip()), model)


def load_chat_model(spec: str | None) -> Any | None:
    """The chat model for ``spec`` (``None`` when the spec means no LLM); cached per spec."""
    spec = (spec or "").strip()
    if spec.lower() in NO_MODEL:
        return None
    force_offline()
    return shared(("chat_model", spec), lambda: _build(spec))


def _build(spec: str) -> Any:
    kind, _, rest = spec.partition(":")
    if not rest.strip():
        raise ValueError(f"model spec {spec!r} does not resolve: expected {SPEC_FORMS}")
    if kind == "hf":
        from citegraph.models.hf import load_hf_chat_model

        return load_hf_chat_model(rest.strip())
    if kind == "scratch":
        from citegraph.models.scratch.chat_model import load_chat_model as load_scratch

        return load_scratch(spec)
    if kind == "lora":
        from citegraph.models.lora import load_lora_chat_model  # type: ignore[attr-defined]

        return load_lora_chat_model(rest.strip())
    raise ModelNotFoundError(f"model spec {spec!r} does not resolve: expected {SPEC_FORMS}")
