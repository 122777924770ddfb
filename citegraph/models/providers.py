"""``<provider>:<model>``: any chat model LangChain's ``init_chat_model`` knows, by one spec string.

``openai:gpt-4o-mini``, ``anthropic:claude-sonnet-4-5``, ``ollama:llama3.2``, ``mistralai:...``; the
provider's integration package is an optional extra (``pip install 'citegraph[anthropic]'``) and its key
comes from the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...). ``openai:<model>`` talks to any
OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's ``/v1``) when ``CITEGRAPH_OPENAI_BASE_URL``
or ``OPENAI_BASE_URL`` is set; such a server needs no key.

Nothing is contacted when CiteGraph starts: a model is built on its first use, and only then is a missing
package, key or server reported, as one ``ModelUnavailableError`` line that names the fix.
"""

from __future__ import annotations

import os
from typing import Any

from citegraph.errors import ModelNotFoundError, ModelUnavailableError
from citegraph.settings import Settings

PROVIDER_FORM = (
    "'<provider>:<model>' (openai:, anthropic:, ollama:, ... as LangChain's init_chat_model names them)"
)
# The key each common hosted provider reads from the environment, checked before building so that a missing
# one is named up front (ChatAnthropic, for one, builds without it and fails only on the first call).
API_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# init_chat_model's huggingface provider downloads weights from the hub, which CiteGraph never does.
REFUSED = {"huggingface": "CiteGraph never downloads models: use hf:<local dir> or gguf:<file>"}
# Seconds to wait for an OpenAI-compatible server's /models on first use; a local one answers in ms.
PROBE_TIMEOUT_S = 5.0


def provider_and_model(spec: str) -> tuple[str, str]:
    """``('openai', 'gpt-4o-mini')`` for ``openai:gpt-4o-mini`` (provider names as init_chat_model spells
    them: lower case, ``_`` for ``-``)."""
    provider, _, model = spec.partition(":")
    return provider.strip().lower().replace("-", "_"), model.strip()


def openai_compatible_kwargs(settings: Settings) -> dict[str, Any]:
    """ChatOpenAI's base URL and key for the configured OpenAI-compatible server (none: api.openai.com).
    A local server ignores the key, so a placeholder stands in when ``OPENAI_API_KEY`` is not set."""
    if not settings.openai_base_url:
        return {}
    return {
        "base_url": settings.openai_base_url.rstrip("/"),
        "api_key": os.environ.get("OPENAI_API_KEY") or "not-needed",
    }


def require_api_key(spec: str, provider: str, kwargs: dict[str, Any]) -> None:
    """Raise the one line that names the missing key, if the provider needs one and none is set."""
    variable = API_KEY_ENV.get(provider)
    if variable and "api_key" not in kwargs and not os.environ.get(variable):
        hint = (
            " (or set CITEGRAPH_OPENAI_BASE_URL for an OpenAI-compatible server)"
            if provider == "openai"
            else ""
        )
        raise ModelUnavailableError(f"model spec {spec!r} needs an API key: set {variable}{hint}")


def require_server(spec: str, base_url: str) -> None:
    """Raise the one line that says the OpenAI-compatible server at ``base_url`` does not answer. Any HTTP
    answer counts as there (an auth error is the provider's to report on the first call)."""
    import httpx

    try:
        httpx.get(f"{base_url}/models", timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as error:
        raise ModelUnavailableError(
            f"model spec {spec!r}: no OpenAI-compatible server answers at {base_url} "
            f"({type(error).__name__}): start it or fix CITEGRAPH_OPENAI_BASE_URL / OPENAI_BASE_URL"
        ) from None


def provider_kwargs(provider: str, settings: Settings) -> dict[str, Any]:
    """What CiteGraph adds to init_chat_model's arguments for ``provider``: the base URL of an
    OpenAI-compatible server, and for Ollama a check on first use that the server runs and has the model."""
    if provider == "openai":
        return openai_compatible_kwargs(settings)
    if provider == "ollama":
        return {"validate_model_on_init": True}
    return {}


def load_provider_chat_model(spec: str, settings: Settings | None = None) -> Any:
    """The chat model ``init_chat_model`` builds for the spec ``<provider>:<model>``."""
    provider, model = provider_and_model(spec)
    if provider in REFUSED:
        raise ModelNotFoundError(f"model spec {spec!r} is not supported: {REFUSED[provider]}")
    kwargs = provider_kwargs(provider, settings or Settings())
    require_api_key(spec, provider, kwargs)
    from langchain.chat_models import init_chat_model

    try:
        chat = init_chat_model(model, model_provider=provider, **kwargs)
    except Exception as error:  # each integration raises its own kind (OpenAIError, ConnectionError, ...)
        raise setup_error(spec, provider, error) from None
    if "base_url" in kwargs:
        require_server(spec, kwargs["base_url"])
    return chat


def setup_error(spec: str, provider: str, error: Exception) -> ModelNotFoundError:
    """The one-line error for an ``init_chat_model`` failure: an unknown provider does not resolve; a
    missing package (init_chat_model names it and its pip command), a refused key or an unreachable server
    is unavailable."""
    if isinstance(error, ValueError) and str(error).startswith("Unsupported provider"):
        return ModelNotFoundError(
            f"model spec {spec!r} does not resolve: {provider!r} is neither a local model kind "
            "(gguf, hf, scratch, lora) nor a provider LangChain's init_chat_model knows"
        )
    if isinstance(error, ImportError):
        return ModelUnavailableError(f"model spec {spec!r}: {first_line(error)}")
    return ModelUnavailableError(f"model spec {spec!r} could not be set up: {first_line(error)}")


def first_line(error: BaseException) -> str:
    """An exception's message on one line (integrations write several, with links and lists)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
