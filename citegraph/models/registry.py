"""Model specs -> LangChain chat models. Every agent that can use an LLM names it with one spec string.

- ``extractive`` / ``none`` / empty: no LLM (the agents' rule-based strategies).
- ``gguf:<file.gguf | smollm2>``: a GGUF served by llama.cpp in this process (``citegraph.models.llamacpp``);
  ``smollm2`` is the bundled SmolLM2-135M-Instruct.
- ``hf:<dir | file.gguf | smollm2>``: a local Hugging Face causal LM through transformers.
- ``scratch:<checkpoint dir>``: the from-scratch transformer.
- ``lora:<base>+<adapter>[,<adapter>...]``: a local base with PEFT adapters (``citegraph.models.lora``).
- ``<provider>:<model>``: any provider LangChain's ``init_chat_model`` knows (``openai:gpt-4o-mini``,
  ``anthropic:...``, ``ollama:llama3.2``; OpenAI-compatible servers through ``CITEGRAPH_OPENAI_BASE_URL``),
  see ``citegraph.models.providers``.

Models are built once per spec and process, on first use (nothing is loaded or contacted at import). A spec
that does not resolve raises ``ModelNotFoundError`` (``ModelUnavailableError`` for a missing package, key
or server; ``ValueError`` for a malformed spec) with the forms above; no weights are ever fetched from a hub.
"""

from __future__ import annotations

from typing import Any

from citegraph.models.providers import PROVIDER_FORM
from citegraph.resources import put_shared, shared
from citegraph.settings import force_offline

NO_MODEL = {"", "none", "extractive"}
SPEC_FORMS = (
    "'extractive', 'gguf:<file.gguf|smollm2>', 'hf:<dir|file.gguf|smollm2>', 'scratch:<dir>', "
    f"'lora:<base>+<adapter>' or {PROVIDER_FORM}"
)


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
    model = shared(("chat_model", spec), lambda: _build(spec))
    kind, _, rest = spec.partition(":")
    if kind == "gguf":
        from citegraph.models.llamacpp import server_for

        server_for(rest.strip())  # a stopped server (a test's teardown) serves again, on the same port
    return model


def _build(spec: str) -> Any:
    """Build the model of a spec that is not registered: a local kind, else a provider's model."""
    kind, _, rest = spec.partition(":")
    if not rest.strip():
        raise ValueError(f"model spec {spec!r} does not resolve: expected {SPEC_FORMS}")
    if kind == "gguf":
        from citegraph.models.llamacpp import load_gguf_chat_model

        return load_gguf_chat_model(rest.strip())
    if kind == "hf":
        from citegraph.models.hf import load_hf_chat_model

        return load_hf_chat_model(rest.strip())
    if kind == "scratch":
        from citegraph.models.scratch.chat_model import load_chat_model as load_scratch

        return load_scratch(spec)
    if kind == "lora":
        from citegraph.models.lora import load_lora_chat_model  # type: ignore[attr-defined]

        return load_lora_chat_model(rest.strip())
    from citegraph.models.providers import load_provider_chat_model

    return load_provider_chat_model(spec)
